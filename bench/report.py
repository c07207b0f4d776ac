"""Write bench/RESULTS.md and the plots from the JSON results of bench_plan.py / bench_deploy.py.

    .venv/bin/python bench/report.py [--plan bench/out/plan.json] [--deploy bench/out/deploy.json]

Every sentence with a number is computed here from the measured results, so the file is
regenerated as a whole by each run (``bash bench/run.sh``). A missing results file gives a
section that says so.
"""
import argparse
import re
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
MIB = 2.0 ** 20
KIB = 1024.0


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def s(x, digits=2):
    return "%.*f s" % (digits, x)


def ms(x):
    return "%.0f ms" % (x * 1000) if x < 10 else "%.1f s" % x


# --------------------------------------------------------------------------------------------
# plots


def plot_plan(plan, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = plan["curve"]
    x = [p["vnodes"] for p in curve]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    series = (("plan", "plan + validate (all vnode records and pnode facts)", "o-"),
              ("to_json", "Plan.to_json()", "s-"),
              ("floor", "raw floor: bare loop, same records, no validation", "^--"),
              ("validate", "validate only (spec_from_hostvars)", "x:"))
    for key, label, style in series:
        ax.plot(x, [p[key]["best"] for p in curve], style, label=label)
    top = max([p["plan"]["best"] for p in curve]
              + [p["plan"]["best"] for p in plan["platforms"].values()])
    for label, marker, where in (("paper", "*", (0.30, 0.72)), ("100k", "D", (0.55, 0.90))):
        p = plan["platforms"].get(label)
        if p:
            ax.plot([p["vnodes"]], [p["plan"]["best"]], marker, markersize=12, color="crimson")
            ax.annotate("%s: %d pnodes x %s = %d vnodes: %.3f s\n(plan + validate, best of %d)" % (
                label, p["pnodes"], "/".join(str(c) for c in p["per_pnode"]), p["vnodes"],
                p["plan"]["best"], len(p["plan"]["runs"])), (p["vnodes"], p["plan"]["best"]),
                xytext=where, textcoords="axes fraction", fontsize=8,
                arrowprops={"arrowstyle": "->", "color": "crimson"})
    ax.set_xlabel("vnodes (250 per pnode)")
    ax.set_ylabel("seconds (best of %d)" % len(curve[0]["plan"]["runs"]))
    m = plan["machine"]
    ax.set_title("vxlab address plan: time vs vnode count\n(%s, %d CPUs, kernel %s, load %s)"
                 % (m["date"], m["nproc"], m["kernel"], " ".join(m["loadavg"])), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.set_xlim(0, max(x) * 1.05)
    ax.set_ylim(0, top * 1.45)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def best(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return min(vals) if vals else None


def every(runs, key):
    return ", ".join("%.2f" % r[key] for r in runs if r.get(key) is not None)


def pb_runs(pb, n):
    return [r for r in pb.get("runs", []) if r["vnodes"] == n]


def deploy_rows(dep):
    """(label, runs, create key, rerun key or None, teardown key) per way of making the vnodes."""
    rows = []
    for v in ("ip-n", "nsenter"):
        runs = (dep.get("raw") or {}).get(v)
        if runs:
            rows.append(("raw iproute2 (%s)" % v, runs, "create", None, "teardown"))
    for key, label in (("nossh", "module alone, ssh=false"), ("ssh", "module alone, ssh=true")):
        runs = (dep.get("module") or {}).get(key)
        if runs:
            rows.append((label, runs, "create", "rerun", "absent"))
    pb = dep.get("playbook") or {}
    runs = pb_runs(pb, dep["vnodes"])
    if runs and best(runs, "deploy") is not None:
        rows.append(("playbook (vxlab deploy/destroy)", runs, "deploy", "rerun", "destroy"))
    return rows


def plot_deploy(dep, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(r[0], best(r[1], r[2]), best(r[1], r[3]) if r[3] else None, best(r[1], r[4]))
            for r in deploy_rows(dep)]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    h = 0.26
    ys = range(len(rows))
    for k, (idx, label, color) in enumerate(((1, "create", "tab:blue"), (2, "re-run", "tab:green"),
                                             (3, "teardown", "tab:orange"))):
        vals = [r[idx] if r[idx] is not None else 0 for r in rows]
        bars = ax.barh([y + (k - 1) * h for y in ys], vals, height=h, label=label, color=color)
        for b, v, r in zip(bars, vals, rows):
            if r[idx] is not None:
                ax.text(b.get_width() * 1.08, b.get_y() + h / 2, "%.2f s" % v, va="center",
                        fontsize=7)
    ax.set_yticks(list(ys))
    ax.set_yticklabels([r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    known = [r[i] for r in rows for i in (1, 2, 3) if r[i]]
    ax.set_xlim(min(known) / 2.0, max(known) * 4.0)
    ax.set_xlabel("seconds (log scale)")
    m = dep["machine"]
    ax.set_title("%d netns vnodes on one pnode, best of %d runs each, same run\n(%s, %d CPUs, "
                 "load %s)"
                 % (dep["vnodes"], dep.get("repeat", 1), m["date"], m["nproc"],
                    " ".join(m["loadavg"])), fontsize=9)
    ax.grid(True, axis="x", alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------------------------
# markdown


def machine_line(m):
    return ("%s; `nproc` %d; kernel %s; Python %s%s; load average at start %s"
            % (m["date"], m["nproc"], m["kernel"], m["python"],
               ("; " + m["iproute2"]) if m.get("iproute2") else "", " ".join(m["loadavg"])))


def plan_section(plan):
    out = ["## 1. Address plan: plan + validate at 40,000 and 100,000 vnodes", ""]
    if not plan:
        return out + ["Not measured in this run (no `bench/out/plan.json`).", ""]
    out += ["Command: `%s` (took %.0f s)  " % (plan["command"], plan["duration"]),
            "Machine: %s" % machine_line(plan["machine"]), ""]
    out += ["| platform | vnodes | pnodes | validate (best) | **plan + validate** best / median "
            "| plan action work (best) | to_json best, size | raw floor (best) | plan / floor "
            "| peak memory: tracemalloc / VmHWM growth | per vnode (tracemalloc) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"paper": "paper: 162 x 246, /15", "40k": "40,000 exactly: 148 x 247 + 14 x 246, /15",
             "100k": "400 x 250, /15"}
    for label in ("paper", "40k", "100k"):
        p = plan["platforms"].get(label)
        if not p:
            continue
        mem = p["memory"]
        out.append("| %s | %d | %d | %s | **%s** / %s | %s | %s, %.1f MB | %s | %.1fx | %.1f / %.1f MiB "
                   "| %.0f B |" % (
                       names[label], p["vnodes"], p["pnodes"], ms(p["validate"]["best"]),
                       ms(p["plan"]["best"]), ms(p["plan"]["median"]), ms(p["action"]["best"]),
                       ms(p["to_json"]["best"]), p["json_bytes"] / 1e6, ms(p["floor"]["best"]),
                       p["plan_over_floor"], mem["tracemalloc_peak"] / MIB, mem["hwm_growth"] / MIB,
                       mem["bytes_per_vnode_peak"]))
    out.append("")
    forty = plan["platforms"].get("40k")
    paper = plan["platforms"].get("paper")
    if forty and paper:
        worst = max(forty["plan"]["median"], paper["plan"]["median"])
        out.append("Requirement \"40,000 vnodes / 162 pnodes in well under 2 seconds\": %s "
                   "(slowest median of the two 162-pnode platforms: %s, i.e. %.0fx under 2 s)."
                   % ("**met**" if worst < 2.0 else "**NOT met**", s(worst, 3), 2.0 / worst))
        out.append("")
    out += ["![plan time vs vnode count](plan_scaling.png)", "",
            "Curve (250 vnodes per pnode, best of %d):" % len(plan["curve"][0]["plan"]["runs"]), "",
            "| vnodes | pnodes | validate | plan + validate | to_json | raw floor | vnodes/s (plan) |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for p in plan["curve"]:
        out.append("| %d | %d | %s | %s | %s | %s | %.0f |" % (
            p["vnodes"], p["pnodes"], ms(p["validate"]["best"]), ms(p["plan"]["best"]),
            ms(p["to_json"]["best"]), ms(p["floor"]["best"]), p["vnodes"] / p["plan"]["best"]))
    first, last = plan["curve"][0], plan["curve"][-1]
    per_small = first["plan"]["best"] / first["vnodes"] * 1e6
    per_big = last["plan"]["best"] / last["vnodes"] * 1e6
    out += ["", "Cost per vnode: %.1f us at %d vnodes, %.1f us at %d (linear if these are close)."
            % (per_small, first["vnodes"], per_big, last["vnodes"]), ""]
    out += ["How measured: `bench/bench_plan.py` builds the pnodes' variables as the plan action "
            "receives them (per pnode `ansible_host`, `vxlab_underlay_address`, "
            "`vxlab_pnode_index`, plus the group's platform variables) and times, with "
            "`time.perf_counter()` after `gc.collect()` (collector left on): *validate* = "
            "`spec_from_hostvars`; *plan + validate* = `plan_from_hostvars` + `Plan.vnodes` + "
            "`Plan.pnode_facts()` of every pnode; *plan action work* = what the "
            "`vxlab.emulation.plan` action does once per deploy (plan, `to_json()` for the "
            "digest, sha256, one JSON document per pnode, serialised in memory instead of "
            "written); *to_json* on a built plan; *raw floor* = a bare loop making the same "
            "vnode records (name, address, MAC) with integer arithmetic, the lower bound any "
            "plan must pay. Best and median of %d runs. Peak memory of one *plan + validate* in a "
            "fresh interpreter per platform: `tracemalloc` peak (Python objects, all vnode "
            "records and facts held) and growth of `VmHWM` (/proc/self/status) over the "
            "interpreter after its imports." % len(plan["platforms"]["paper"]["plan"]["runs"]),
            ""]
    return out


def _ratio(a, b):
    return "%.1fx" % (a / b) if a and b else "-"


def deploy_section(dep):
    out = ["## 2. One pnode, %s netns vnodes: playbook vs module vs raw iproute2"
           % (dep["vnodes"] if dep else 246), ""]
    if not dep:
        return out + ["Not measured in this run (no `bench/out/deploy.json`: not root, or the "
                      "run failed; see the output of `bash bench/run.sh`).", ""]
    n = dep["vnodes"]
    m = dep["machine"]
    rep = dep.get("repeat", 1)
    if dep.get("error"):
        out += ["**This run failed**: `%s`. The figures below are what was measured before the "
                "failure." % dep["error"], ""]
    after = dep.get("machine_after", {})
    out += ["Command: `%s` (took %.0f s)  " % (dep["command"], dep["duration"]),
            "Machine: %s  " % machine_line(m),
            "Other jobs on the machine: %s network namespaces existed at the start and %s at "
            "the end (none of them this run's); load average at the end %s."
            % (m.get("netns_on_machine", "?"), after.get("netns_on_machine", "?"),
               " ".join(after.get("loadavg", ["?"]))), ""]
    pb = dep.get("playbook") or {}
    if pb.get("commands"):
        out.append("Playbook commands (testbed `%s`, one pnode):" % pb["testbed"])
        out.append("")
        for key in ("up", "deploy", "destroy", "small_deploy", "small_destroy"):
            if key in pb["commands"]:
                out.append("    %s" % pb["commands"][key])
        out.append("")
    rows = deploy_rows(dep)
    raw_rows = [r for r in rows if r[0].startswith("raw")]
    raw_c = min(best(r[1], "create") for r in raw_rows) if raw_rows else None
    raw_t = min(best(r[1], "teardown") for r in raw_rows) if raw_rows else None
    out += ["Best of %d runs of each way (all runs in brackets, seconds):" % rep, "",
            "| way (same run, %d vnodes) | create | vnodes/s | create / raw | idempotent re-run "
            "| teardown | teardown / raw |" % n, "|---|---:|---:|---:|---:|---:|---:|"]
    for label, runs, ck, rk, tk in rows:
        c, t = best(runs, ck), best(runs, tk)
        out.append("| %s | **%s** [%s] | %.0f | %s | %s | %s [%s] | %s |" % (
            label, s(c), every(runs, ck), n / c, _ratio(c, raw_c),
            ("%s [%s]" % (s(best(runs, rk)), every(runs, rk))) if rk else "n/a",
            s(t) if t is not None else "-", every(runs, tk), _ratio(t, raw_t)))
    out.append("")
    if raw_rows:
        out.append("*raw* = the faster raw variant of this run (create %s, teardown %s)."
                   % (s(raw_c), s(raw_t)))
        for v, runs in sorted(dep["raw"].items()):
            r = min(runs, key=lambda x: x["create"])
            out.append("Raw %s, best run: `netns add` batch %s, veth batch %s, per-vnode "
                       "configuration %s (%.1f ms per vnode); teardown: the batch returned after "
                       "%s, the kernel had removed every veth after %s."
                       % (v, s(r["netns_add"]), s(r["veths"]), s(r["inside"]),
                          r["inside"] / n * 1000, s(r["teardown_returns"], 3), s(r["teardown"])))
        out.append("")
    mod = dep.get("module") or {}
    big = pb_runs(pb, n)
    small_runs = pb_runs(pb, pb.get("small"))
    if big and mod.get("ssh"):
        ms_ = mod["ssh"]
        c, e = best(ms_, "create"), best(ms_, "empty")
        d = best(big, "deploy")
        out += ["### Where the playbook's time goes", ""]
        out.append("- Module alone (`python -m ...vnodes`, ssh=true, the playbook's call): "
                   "create %s, of which %s is the interpreter start and imports (the same call "
                   "with an empty vnode list); so about %s for the %d vnodes themselves "
                   "(%.1f ms per vnode). Idempotent re-run %s." % (
                       s(c), s(e), s(c - e), n, (c - e) / n * 1000, s(best(ms_, "rerun"))))
        if mod.get("nossh"):
            mn = mod["nossh"]
            cn, en = best(mn, "create"), best(mn, "empty")
            out.append("- Without the SSH multiplexer (ssh=false, exactly the raw baseline's "
                       "objects): create %s, %.1f ms per vnode after start-up; module / raw = %s; "
                       "the SSH multiplexer adds %s."
                       % (s(cn), (cn - en) / n * 1000, _ratio(cn, raw_c), s(c - cn)))
        tasks = big[0].get("deploy_tasks") or {}
        pn_tasks = [v for h, v in tasks.items() if h != "localhost"]
        out.append("- Playbook `vxlab deploy` (plan, control host, pnode preparation, bridge, "
                   "VXLAN, neighbour tables, vnodes with SSH): %s, i.e. %s more than the module "
                   "alone: Ansible (controller start, plan action, %s tasks on the pnode and %d "
                   "on localhost) is %.0f%% of the deploy."
                   % (s(d), s(d - c), "/".join(str(x) for x in pn_tasks),
                      tasks.get("localhost", 0), 100.0 * (d - c) / d))
        if small_runs:
            k = pb["small"]
            ds = best(small_runs, "deploy")
            slope = (d - ds) / float(n - k)
            if slope > 0:
                fit = ("the playbook costs about %s fixed + %.1f ms per vnode"
                       % (s(d - slope * n), slope * 1000))
            else:
                fit = ("no measurable per-vnode cost: the %d-vnode deploy was not slower than the "
                       "%d-vnode one (difference below the run-to-run noise)" % (n, k))
            out.append("- Deploy of %d vnodes on the same testbed: best %s [%s]; from the best "
                       "deploys of both sizes: %s."
                       % (k, s(ds), every(small_runs, "deploy"), fit))
        out.append("")
    first = big[0] if big else {}
    if first.get("deploy_task_times"):
        out += ["### Wall time per task, first %d-vnode cycle (arrival of one TASK progress line "
                "to the next, as `vxlab` printed them)" % n, "",
                "| task | deploy | re-run | destroy |", "|---|---:|---:|---:|"]
        runs = [first.get(k) or [] for k in ("deploy_task_times", "rerun_task_times",
                                             "destroy_task_times")]
        names = []
        for run_ in runs:
            for t in run_:
                if t["task"] not in names:
                    names.append(t["task"])
        for name in names:
            cells = []
            for run_ in runs:
                secs = [t["seconds"] for t in run_ if t["task"] == name]
                cells.append("+".join("%.2f" % x for x in secs) if secs else "")
            out.append("| %s | %s |" % (name.replace("|", "/"), " | ".join(cells)))
        totals = [sum(t["seconds"] for t in run_) for run_ in runs]
        out.append("| **total** | %s |" % " | ".join("%.2f" % t for t in totals))
        out += ["", "A task name that occurs twice in a run (the dataplane role's present and "
                "absent blocks both hold *Vnodes*, *Bridge*...) shows both times; skipped tasks "
                "cost time too. The last task of each run also holds the recap and the CLI's end "
                "(artifact rendering after deploy).", ""]
    if pb.get("runs"):
        out += ["### Ansible tasks per host and idempotence (recap counters of `vxlab deploy "
                "--json`: ok + skipped + failed + unreachable)", "",
                "| cycle | vnodes | deploy: tasks per pnode / localhost, changed | re-run: tasks, "
                "changed | destroy: tasks |", "|---|---:|---|---|---|"]

        def taskcount(t):
            t = t or {}
            return "%s / %s" % ("/".join(str(v) for h, v in t.items() if h != "localhost"),
                                t.get("localhost", 0))

        for r in pb["runs"]:
            if "deploy" not in r:
                continue
            out.append("| %d | %d | %s, %s changed | %s, %s changed%s | %s |" % (
                r["repetition"], r["vnodes"], taskcount(r.get("deploy_tasks")), r.get("deploy_changed"),
                taskcount(r.get("rerun_tasks")), r.get("rerun_changed", "-"),
                (" (" + "; ".join(r["rerun_changed_tasks"]) + ")")
                if r.get("rerun_changed_tasks") else "", taskcount(r.get("destroy_tasks"))))
        counts = {json.dumps(r.get("deploy_tasks"), sort_keys=True) for r in pb["runs"]
                  if r.get("deploy_tasks")}
        out += ["", "The number of tasks %s with the vnode count (%d vs %s vnodes)."
                % ("does **not** change" if len(counts) == 1 else "**changes**", n, pb.get("small"))]
        bad = [r for r in pb["runs"] if r.get("rerun_changed")]
        out.append("Re-runs that reported a change: %s." % (
            "none (every re-run idempotent)" if not bad else
            "; ".join("cycle %d (%d vnodes): %s" % (r["repetition"], r["vnodes"],
                                                    ", ".join(r.get("rerun_changed_tasks") or ["?"]))
                      for r in bad)))
        out.append("")
    mems = []
    for v, runs in sorted((dep.get("raw") or {}).items()):
        mems.append(("raw iproute2 (%s)" % v, [r["memory"] for r in runs]))
    for key, label in (("nossh", "module, ssh=false"), ("ssh", "module, ssh=true")):
        if mod.get(key):
            mems.append((label, [r["memory"] for r in mod[key]]))
    if big:
        mems.append(("playbook (%d vnodes)" % n, [r["memory"] for r in big if "memory" in r]))
    if mems:
        out += ["### Memory per vnode (machine-wide /proc/meminfo deltas / %d; one value per run)"
                % n, "", "| way | MemAvailable drop per vnode | Slab growth per vnode | of which "
                "unreclaimable |", "|---|---:|---:|---:|"]
        for label, mlist in mems:
            def col(key):
                return ", ".join("%.0f" % (x[key]["per_vnode"] / KIB) for x in mlist) + " KiB"
            out.append("| %s | %s | %s | %s |" % (label, col("MemAvailable"), col("Slab"),
                                                  col("SUnreclaim")))
        out += ["", "These are machine-wide counters on a shared machine (other jobs create and "
                "delete namespaces at the same time): orders of magnitude only; a negative value "
                "means something else freed memory meanwhile. Slab is the steadier of the two. "
                "The playbook figure also holds the SSH multiplexer, the ControlPersist SSH "
                "master and the control host's caches.", ""]
    if os.path.exists(os.path.join(BENCH, "deploy_phases.png")):
        out += ["![create / re-run / teardown per way](deploy_phases.png)", ""]
    out += ["How measured: `bench/bench_deploy.py` (root), every way in the same run, one after "
            "the other, %d time(s). *Raw*: inside a fresh scratch namespace standing for the "
            "pnode (its bridge made first, not timed): `ip -batch` of `netns add`; `ip -n PNODE "
            "-batch` of `link add H mtu 1450 type veth peer name eth0 mtu 1450 address MAC netns "
            "VNODE` + `link set H master br0 up`; then one process per vnode (iproute2 6.1's "
            "`-batch` cannot change namespace per line) running `link set lo up`, `addr add`, "
            "`link set eth0 up`, `route add default`, either `ip -n VNODE -batch -` or `nsenter "
            "--net=/run/netns/VNODE ip -batch -`; teardown = `ip -batch` of `netns del`, timed "
            "until the kernel removed every host-side veth. *Module alone*: `python -m "
            "ansible_collections.vxlab.emulation.plugins.modules.vnodes ARGS.json` (the module's "
            "own entry point: no controller, no SSH) with `netns:` a scratch pnode namespace "
            "holding a bridge; create, re-run (asserted unchanged), `state: absent`. "
            "*Playbook*: a one-pnode testbed, wall time of the `vxlab` commands shown above "
            "(each includes the CLI's own start and inventory loading); the vnode namespaces "
            "are counted in the pnode's private `/run/netns` after each deploy (must be N) and "
            "destroy (must be 0). Wall-clock times (`time.perf_counter()`)." % rep, ""]
    return out


#: sections of other benchmarks, in RESULTS.md order: bench/out/<name>.md
PARTS = ("lxc", "neigh", "scale", "topology", "matrix", "experiment")
#: sections their own commands rewrite between their markers (make bench-controller, bench-max,
#: bench_slowdown.py): kept as they stand in RESULTS.md
OWN_SECTIONS = ("controller", "slowdown", "max", "targets")
SOAK_BEGIN, SOAK_END = "<!-- soak: begin (bench/soak.py) -->", "<!-- soak: end -->"


def _block(text, begin, end):
    """``begin`` ... ``end`` (markers included) of ``text``, or None."""
    a = text.find(begin)
    b = text.find(end, a + len(begin)) if a >= 0 else -1
    return text[a:b + len(end)] if a >= 0 and b >= 0 else None


#: how far a figure may move between two runs on this kind of machine and still be noise: the
#: spread of the best-of-2 runs of one suite run (section 2) and of the scale counts between
#: sessions (a loaded 2-core VM); a task count must not move at all
NOISE = {"time": 0.20, "memory": 0.15, "tasks": 0.0}


def key_figures(text):
    """The figures two runs are compared on, read back from a RESULTS.md text: ``{label: (value,
    kind)}`` (seconds, KiB or tasks)."""
    out = {}

    def num(cell):
        m = re.search(r"([0-9][0-9,]*(?:\.[0-9]+)?)", cell)
        return float(m.group(1).replace(",", "")) if m else None

    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| playbook (vxlab deploy/destroy) |") and len(cells) >= 7:
            out["246 vnodes, one pnode: vxlab deploy"] = (num(cells[1]), "time")
            out["246 vnodes, one pnode: idempotent re-run"] = (num(cells[4]), "time")
            out["246 vnodes, one pnode: vxlab destroy"] = (num(cells[5]), "time")
        elif line.startswith("| module alone, ssh=true |") and len(cells) >= 5:
            out["246 vnodes, module alone: create"] = (num(cells[1]), "time")
            out["246 vnodes, module alone: re-run"] = (num(cells[4]), "time")
        elif re.match(r"^\| 1 \| 246 \| [0-9]+ / [0-9]+,", line):
            out["Ansible tasks per pnode (deploy)"] = (num(cells[2]), "tasks")
        elif re.match(r"^\| [0-9,]+ \| [0-9]+ \| [0-9.]+ s \| \*\*[0-9.]+ s\*\*", line) and len(cells) >= 12:
            n = cells[0]
            out["scale %s vnodes: vxlab deploy" % n] = (num(cells[3]), "time")
            out["scale %s vnodes: re-run" % n] = (num(cells[6]), "time")
            out["scale %s vnodes: destroy" % n] = (num(cells[8]), "time")
            out["scale %s vnodes: KiB per vnode" % n] = (num(cells[10]), "memory")
            out["scale %s vnodes: tasks per pnode" % n] = (num(cells[11]), "tasks")
    return dict((k, v) for k, v in out.items() if v[0] is not None)


def compare_section(previous, current, noise=None):
    """The key figures of this run against those of the RESULTS.md it replaces (markdown lines)."""
    noise = noise or NOISE
    old, new = key_figures(previous), key_figures(current)
    common = [k for k in new if k in old]
    if not common:
        return []
    lines = ["## Changes since the previous recorded run", "",
             "The key figures of sections 2 and scale, this run against the `bench/RESULTS.md` "
             "it replaced (same machine kind; a figure is *within noise* when it moved by at most "
             "%d%% for times, %d%% for memory, not at all for task counts)." % (
                 noise["time"] * 100, noise["memory"] * 100), "",
             "| figure | previous | this run | change | |", "|---|---:|---:|---:|---|"]
    outside = []
    for k in common:
        (a, kind), (b, dummy) = old[k], new[k]
        change = (b - a) / a if a else 0.0
        ok = abs(change) <= noise[kind] + 1e-9 or (kind != "tasks" and b < a)
        unit = {"time": " s", "memory": " KiB", "tasks": ""}[kind]
        if not ok:
            outside.append(k)
        lines.append("| %s | %g%s | %g%s | %+.0f%% | %s |" % (
            k, a, unit, b, unit, change * 100, "within noise" if ok else "**outside**"))
    lines += ["", "Outside noise: %s." % (", ".join(outside) if outside else
                                          "none (faster figures count as within)"), ""]
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--plan", default=os.path.join(BENCH, "out", "plan.json"))
    ap.add_argument("--deploy", default=os.path.join(BENCH, "out", "deploy.json"))
    ap.add_argument("--out", default=os.path.join(BENCH, "RESULTS.md"))
    ap.add_argument("--command", default="make bench  (= bash bench/run.sh)")
    ap.add_argument("--suite-seconds", type=float, help="how long the suite took before this report")
    args = ap.parse_args(argv)
    plan, dep = load(args.plan), load(args.deploy)
    if plan:
        plot_plan(plan, os.path.join(BENCH, "plan_scaling.png"))
    if dep:
        plot_deploy(dep, os.path.join(BENCH, "deploy_phases.png"))
    lines = ["# vxlab benchmark results", "",
             "Generated by `%s`%s; do not edit by hand. Every number comes from `bench/out/` of "
             "the run named in its section: sections 1-2, LXC, ARP modes and scale from one run of "
             "the suite; the experiment (`make bench-experiment`) and the soak (`make soak`) from "
             "their own commands." % (args.command, " (the whole suite took %.1f min)" % (args.suite_seconds / 60.0)
                                      if args.suite_seconds else ""), ""]
    lines += plan_section(plan)
    lines += deploy_section(dep)
    # sections written by the other benchmarks (bench/out/<part>.md); a part this run did not
    # make (bench/out is not in git) keeps its block from the current RESULTS.md, and so does
    # the soak section (bench/soak.py rewrites it between its own markers)
    previous = ""
    if os.path.exists(args.out):
        with open(args.out) as f:
            previous = f.read()
    for part in PARTS:
        path = os.path.join(BENCH, "out", part + ".md")
        begin, end = "<!-- %s: begin -->" % part, "<!-- %s: end -->" % part
        if os.path.exists(path):
            with open(path) as f:
                lines += ["", begin, f.read().rstrip(), end]
        else:
            kept = _block(previous, begin, end)
            if kept:
                lines += ["", kept]
    for part in OWN_SECTIONS:
        kept = _block(previous, "<!-- %s: begin -->" % part, "<!-- %s: end -->" % part)
        if kept:
            lines += ["", kept]
    kept = _block(previous, SOAK_BEGIN, SOAK_END)
    if kept:
        lines += ["", kept]
    compared = compare_section(previous, "\n".join(lines))
    if compared:
        lines[len(lines):] = [""] + compared
    with open(args.out, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print("[report] wrote %s" % os.path.relpath(args.out, REPO), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
