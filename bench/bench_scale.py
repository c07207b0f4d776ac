"""Benchmark: the whole platform at growing vnode counts on one testbed, against the raw floor (root).

    .venv/bin/python bench/bench_scale.py [--counts 250,1000,2500,5000,10000] [--pnodes 10]
                                          [--out bench/out/scale.json]

One testbed of ``--pnodes`` emulated pnodes (``vxlab testbed up``) serves every count ``n``
(``n / pnodes`` netns vnodes per pnode, so Ansible's fixed cost stays the same and the curve
shows the per-vnode cost). For each count, in this order:

1. the raw floor (``bench/floor.py``: one process per CPU, ``ip -batch netns add``, then setns and
   pyroute2, IPv6 address generation off on both veth ends, no sshd); before it this script used
   the older raw baseline described next, kept here for the record:
   one scratch namespace per pnode holding a
   bridge, and for each pnode in parallel (one thread per pnode, like Ansible's forks):
   ``ip -batch`` of ``netns add`` for its vnodes, ``ip -n PNODE -batch`` of the veths (peer
   created in the vnode namespace with its MAC, host side on the bridge and up), then per vnode
   ``nsenter --net=... ip -batch -`` for lo, the address, eth0 up and the default route;
   teardown: ``ip -batch`` of ``netns del`` until the host sides are gone;
2. ``vxlab deploy -e vxlab_vnodes_per_pnode=N/P`` (first deploy: wall time, MemAvailable drop,
   Ansible tasks per pnode from the recap), the same again (idempotent re-run: nothing may
   change), ``vxlab check --sample 2 --ssh-sample 10`` (SSH into 10 vnodes of every pnode, pings
   from 2 vnodes of every pnode to 2 vnodes of every other pnode: every pair must pass), ``vxlab destroy`` (wall time,
   then no namespace of the platform may be left).

A first tiny deploy (1 vnode per pnode) gives the fixed cost of the playbook at this pnode count.
The summary fits, on this machine, ``T(n) = T0 + t_v * n`` for raw and vxlab (least squares),
the memory per vnode, and the cost model of ``bench/report.py`` uses them. Raw results go to
``--out``; ``bench/report.py --scale`` writes the RESULTS.md section and the plot.

Every name carries this process's id; everything made is removed in ``finally`` blocks (``vxlab
destroy``, ``vxlab testbed down``, scratch namespaces deleted). Only processes this script
started are ever stopped.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_deploy as bd  # noqa: E402  (shared helpers: run, meminfo, scratch_pnode, ...)
import floor  # noqa: E402  (the raw floor)

REPO = bd.REPO
VXLAB = bd.VXLAB
TAG = bd.TAG


def say(line):
    print("[bench_scale %s] %s" % (time.strftime("%H:%M:%S"), line), file=sys.stderr, flush=True)


def parse_counts(text, pnodes):
    counts = []
    for word in text.split(","):
        n = int(word)
        if n < pnodes or n % pnodes:
            raise SystemExit("--counts: %d is not a multiple of --pnodes %d" % (n, pnodes))
        counts.append(n)
    return counts


# --------------------------------------------------------------------------------------------
# 1. the raw floor (bench/floor.py): the same objects, the fastest plain userspace way


def raw_baseline(n, pnodes):
    per = n // pnodes
    prefix = "zs%s" % TAG
    try:
        m0 = bd.settled_meminfo()
        res = floor.make(prefix, pnodes, per)
        time.sleep(bd.SETTLE)
        res["memory"] = bd.mem_delta(m0, bd.meminfo(), n)
        ports = floor.count_ports(prefix, pnodes)
        if ports != n:
            raise bd.BenchError("raw floor made %d ports of %d" % (ports, n))
        res.update(floor.teardown(prefix, pnodes, per))
        res.pop("per_pnode_seconds", None)
        say("floor: %d vnodes on %d pnodes in %.1f s (%.0f vnodes/s, %d workers), %.0f KiB/vnode; teardown %.1f s"
            % (n, pnodes, res["create"], n / res["create"], res["workers"],
               res["memory"]["MemAvailable"]["per_vnode"] / 1024.0, res["teardown"]))
        return res
    finally:
        floor.cleanup(prefix, pnodes, per)


# --------------------------------------------------------------------------------------------
# 2. vxlab on the testbed


_RECAP_RE = re.compile(r"^(\S+)\s+ok=(\d+) changed=(\d+) failed=(\d+) unreachable=(\d+) skipped=(\d+)")


def _progress(line):
    return "TASK" in line or "still running" in line or "ok (rc" in line or "FAILED" in line


def vxlab(args, label, timeout=1800):
    """``vxlab ARGS --json``: (seconds, JSON result or None, stderr lines); progress echoed."""
    elapsed, rc, out, err, dummy = bd.run_vxlab(args, label, timeout=timeout, echo=_progress)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    if rc != 0:
        raise bd.BenchError("vxlab %s failed (exit %d): %s" % (args[0], rc, "\n".join(err[-15:])))
    return elapsed, doc, err


def recap_of(doc):
    """``{host: {ok, changed, ...}}`` from ``vxlab deploy --json``."""
    hosts = (doc or {}).get("hosts") or (doc or {}).get("recap") or {}
    out = {}
    for host, counters in hosts.items():
        if isinstance(counters, dict):
            out[host] = counters
    return out


def tasks_per_pnode(doc, pnode_names):
    recap = recap_of(doc)
    counts = []
    for name in pnode_names:
        c = recap.get(name) or {}
        counts.append(sum(int(c.get(k, 0) or 0) for k in ("ok", "skipped", "failed", "unreachable")))
    return max(counts) if counts else None


def changed_on(doc):
    return dict((h, int(c.get("changed", 0) or 0)) for h, c in recap_of(doc).items())


def vxlab_count(inv, n, pnodes, pnode_names):
    per = n // pnodes
    ev = ["-e", "vxlab_vnodes_per_pnode=%d" % per]
    res = {"vnodes": n, "pnodes": pnodes, "per_pnode": per}
    m0 = bd.settled_meminfo()
    res["deploy"], doc, dummy = vxlab(["deploy", "-i", inv] + ev, "deploy %d" % n)
    time.sleep(bd.SETTLE)
    res["memory"] = bd.mem_delta(m0, bd.meminfo(), n)
    res["tasks_per_pnode"] = tasks_per_pnode(doc, pnode_names)
    res["deploy_ok"] = bool(doc and doc.get("ok"))
    res["rerun"], doc, dummy = vxlab(["deploy", "-i", inv] + ev, "re-run %d" % n)
    res["rerun_changed"] = sum(c for h, c in changed_on(doc).items() if h in pnode_names)
    t0 = time.perf_counter()
    dummy, chk, dummy2 = vxlab(["check", "-i", inv, "--sample", "2", "--ssh-sample", "10"] + ev, "check %d" % n)
    res["check"] = time.perf_counter() - t0
    pairs = (chk or {}).get("pairs") or []
    res["check_ok"] = bool(chk and chk.get("ok"))
    res["check_pairs"] = len(pairs)
    res["destroy"], doc, dummy = vxlab(["destroy", "-i", inv] + ev, "destroy %d" % n)
    say("vxlab: %d vnodes: deploy %.1f s (%.0f vnodes/s, %s tasks/pnode), re-run %.1f s "
        "(changed %d), check %s (%d pnode pairs), destroy %.1f s, %.0f KiB/vnode"
        % (n, res["deploy"], n / res["deploy"], res["tasks_per_pnode"], res["rerun"],
           res["rerun_changed"], "ok" if res["check_ok"] else "FAILED", res["check_pairs"],
           res["destroy"], res["memory"]["MemAvailable"]["per_vnode"] / 1024.0))
    if res["rerun_changed"]:
        raise bd.BenchError("re-run at %d vnodes changed %d things" % (n, res["rerun_changed"]))
    if not res["check_ok"]:
        raise bd.BenchError("vxlab check failed at %d vnodes" % n)
    return res


# --------------------------------------------------------------------------------------------


def fit_line(xs, ys):
    """Least squares ``y = a + b x``: ``(a, b)``."""
    n = float(len(xs))
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return my, 0.0
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


# --------------------------------------------------------------------------------------------
# the RESULTS.md section, the plot and the cost model (from the JSON alone)


def _kib(row):
    return row["memory"]["MemAvailable"]["per_vnode"] / 1024.0


def cost_model(result):
    """Parameters measured in this run and what they predict; ``None`` without enough rows."""
    rows = result.get("vxlab") or []
    raw = dict((r["vnodes"], r) for r in result.get("raw") or [])
    if len(rows) < 2 or "tiny1" not in result or "tiny" not in result:
        return None
    P = result["pnodes"]
    xs = [r["vnodes"] for r in rows]
    T0, t_v = fit_line(xs, [r["deploy"] for r in rows])
    m0, m_v = fit_line(xs, [r["vnodes"] * _kib(r) for r in rows])
    d0, d_v = fit_line(xs, [r["destroy"] for r in rows])
    # the Ansible cost of one more pnode: the fixed cost (1 vnode per pnode) at P pnodes minus
    # the one at 1 pnode, per extra pnode
    c_h = (result["tiny"]["deploy"] - result["tiny1"]["deploy"]) / float(P - 1) if P > 1 else 0.0
    model = {"T0": T0, "t_v": t_v, "m_v_kib": m_v, "destroy_t_v": d_v, "c_h": c_h,
             "T1": result["tiny1"]["deploy"], "P": P}
    # check: fitted on every count but the largest, predict the largest measured here
    if len(rows) >= 3:
        a, b = fit_line(xs[:-1], [r["deploy"] for r in rows[:-1]])
        model["check"] = {"vnodes": xs[-1], "predicted": a + b * xs[-1], "measured": rows[-1]["deploy"]}
    # a real cluster: each pnode has its own cores and kernel, so a pnode's vnodes cost
    # t_v * n / P on it (this machine's t_v: all pnodes share 2 cores and one kernel, so the
    # slope here is the whole platform's serialised per-vnode cost), and the controller pays
    # c_h per pnode
    preds = []
    for n, p in ((39852, 162), (40000, 162), (100000, 400)):
        t = model["T1"] + c_h * (p - 1) + t_v * n / float(p)
        preds.append({"vnodes": n, "pnodes": p, "deploy": t, "per_pnode_vnodes": n / float(p),
                      "per_pnode_mib": m_v * n / float(p) / 1024.0,
                      "fdb_per_pnode": p - 1, "neigh_gc_thresh3_hint": n})
    model["predictions"] = preds
    model["raw_ratio"] = [(r["vnodes"], r["deploy"] / raw[r["vnodes"]]["create"])
                          for r in rows if r["vnodes"] in raw]
    return model


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = result.get("vxlab") or []
    raw = result.get("raw") or []
    if not rows:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.plot([r["vnodes"] for r in raw], [r["create"] for r in raw], "s--", label="raw floor (same objects)")
    ax1.plot([r["vnodes"] for r in rows], [r["deploy"] for r in rows], "o-", label="vxlab deploy (first)")
    ax1.plot([r["vnodes"] for r in rows], [r["rerun"] for r in rows], "^-", label="vxlab deploy (re-run)")
    ax1.plot([r["vnodes"] for r in rows], [r["destroy"] for r in rows], "v-", label="vxlab destroy")
    ax1.set_xlabel("netns vnodes (on %d pnodes)" % result["pnodes"])
    ax1.set_ylabel("wall time (s)")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax1.set_title("Deploy time")
    ax2.plot([r["vnodes"] for r in rows], [r["vnodes"] / r["deploy"] for r in rows], "o-", label="vxlab vnodes/s")
    ax2.plot([r["vnodes"] for r in raw], [r["vnodes"] / r["create"] for r in raw], "s--", label="floor vnodes/s")
    ax2.set_xlabel("netns vnodes")
    ax2.set_ylabel("vnodes per second")
    ax2b = ax2.twinx()
    ax2b.plot([r["vnodes"] for r in rows], [_kib(r) for r in rows], "d:", color="gray", label="KiB per vnode (vxlab)")
    ax2b.set_ylabel("KiB per vnode (MemAvailable drop / n)")
    ax2.grid(alpha=0.3)
    ax2.legend(loc="upper left", fontsize=8)
    ax2b.legend(loc="lower right", fontsize=8)
    ax2.set_title("Rate and memory")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(result, png_name="scale.png"):
    rows = result.get("vxlab") or []
    raw = dict((r["vnodes"], r) for r in result.get("raw") or [])
    P = result["pnodes"]
    m = result.get("machine", {})
    out = ["## Scale: up to %s netns vnodes on %d emulated pnodes (`bench/bench_scale.py`)"
           % ("{:,}".format(max([r["vnodes"] for r in rows] or [0])), P), "",
           "Command: `.venv/bin/python %s` (took %.0f s; part of `make bench`)  " % (result["command"], result.get("seconds", 0)),
           "Machine: %s CPUs, kernel %s, load average at start %s. One testbed of %d pnodes "
           "(network namespaces with sshd) serves every count; each count is made first by the raw "
           "floor (`bench/floor.py`: the same namespaces, veths on a bridge per pnode with IPv6 "
           "address generation off, addresses and default routes; one process per CPU, setns and "
           "netlink, no sshd) and then by `vxlab deploy`, re-run, `vxlab check --sample 2 "
           "--ssh-sample 10` (SSH into 10 vnodes of every pnode; pings from 2 vnodes of every pnode "
           "to 2 vnodes of every other pnode) and "
           "`vxlab destroy`. Memory: MemAvailable drop / n right after the creation."
           % (m.get("cpus"), m.get("kernel"), " ".join(m.get("load_before") or []), P), ""]
    if result.get("errors"):
        out += ["**Errors in this run:** %s" % "; ".join(result["errors"]), ""]
    out += ["| vnodes | per pnode | floor | **vxlab deploy** | deploy / floor | vnodes/s | re-run (changed, % of deploy) "
            "| check (pnode pairs) | destroy | floor teardown | KiB/vnode vxlab / floor | tasks per pnode |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        rw = raw.get(r["vnodes"])
        out.append("| %s | %d | %s | **%.1f s** | %s | %.0f | %.1f s (%d, %.0f%%) | %s (%d) | %.1f s | %s | %.0f / %s | %s |" % (
            "{:,}".format(r["vnodes"]), r["per_pnode"], "%.1f s" % rw["create"] if rw else "-",
            r["deploy"], "%.2fx" % (r["deploy"] / rw["create"]) if rw else "-", r["vnodes"] / r["deploy"],
            r["rerun"], r["rerun_changed"], 100.0 * r["rerun"] / r["deploy"], "ok" if r["check_ok"] else "FAILED", r["check_pairs"],
            r["destroy"], "%.1f s" % rw["teardown"] if rw else "-", _kib(r),
            "%.0f" % _kib(rw) if rw else "-", r["tasks_per_pnode"]))
    out += ["", "Fixed cost of the playbook (1 vnode per pnode): %.1f s with 1 pnode, %.1f s with %d "
            "pnodes; Ansible tasks per pnode: %s (1 vnode per pnode) and %s at every count above: "
            "the task count does not grow with the vnode count."
            % (result["tiny1"]["deploy"], result["tiny"]["deploy"], P, result["tiny"]["tasks_per_pnode"],
               sorted(set(r["tasks_per_pnode"] for r in rows))) if "tiny1" in result else "", ""]
    if os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), png_name)):
        out += ["![deploy time, rate and memory vs vnode count](%s)" % png_name, ""]
    big = rows[-1] if rows else None
    if big:
        rw = raw.get(big["vnodes"])
        ratio = big["deploy"] / rw["create"] if rw else None
        verdict = []
        verdict.append("deploy < 60 s: **%s** (%.1f s)" % ("met" if big["deploy"] < 60 else "not met", big["deploy"]))
        if ratio:
            verdict.append("<= 1.3x the floor: **%s** (%.2fx)" % ("met" if ratio <= 1.3 else "not met", ratio))
        verdict.append("idempotent re-run <= 20%% of the deploy: **%s** (%.0f%%)" % (
            "met" if big["rerun"] <= 0.2 * big["deploy"] else "not met", 100.0 * big["rerun"] / big["deploy"]))
        verdict.append("< 400 KiB per vnode: **%s** (%.0f KiB)" % ("met" if _kib(big) < 400 else "not met", _kib(big)))
        verdict.append("reachable (check): **%s**" % ("yes" if big["check_ok"] else "no"))
        out += ["Targets at %s vnodes on %d pnodes: %s." % ("{:,}".format(big["vnodes"]), P, "; ".join(verdict)), ""]
        passing = [r["vnodes"] for r in rows if r["deploy"] < 60 and _kib(r) < 400 and r["check_ok"]
                   and raw.get(r["vnodes"]) and r["deploy"] <= 1.3 * raw[r["vnodes"]]["create"]]
        out += ["Largest count meeting the time, floor-ratio, memory and reachability targets in this run: %s." % (
            "{:,}".format(max(passing)) if passing else "none")]
        misses = []
        for r in rows:
            rr = raw.get(r["vnodes"])
            why = []
            if r["deploy"] >= 60:
                why.append("deploy %.1f s" % r["deploy"])
            if rr and r["deploy"] > 1.3 * rr["create"]:
                why.append("%.2fx the floor" % (r["deploy"] / rr["create"]))
            if _kib(r) >= 400:
                why.append("%.0f KiB per vnode" % _kib(r))
            if not r["check_ok"]:
                why.append("check failed")
            if why:
                misses.append("%s (%s)" % ("{:,}".format(r["vnodes"]), ", ".join(why)))
        if misses:
            tiny = result.get("tiny") or {}
            out += ["", "Counts missing a target: %s.%s" % (
                "; ".join(misses),
                " At small counts the ratio is the playbook's fixed cost (%.1f s for %d pnodes x 1 "
                "vnode, against a floor of well under a second), not per-vnode work."
                % (tiny["deploy"], P) if tiny.get("deploy") else "")]
        if rw and rw["create"] >= 60:
            out += ["", "Measured bottleneck: the raw floor alone needs %.1f s for the same %s "
                    "namespaces, veths, addresses and routes (%.0f vnodes/s at %s, %.0f at %s: the "
                    "kernel's cost per namespace grows with the namespaces that exist, and all %d "
                    "pnodes share these %s cores and one kernel), so no deploy can meet 60 s here; "
                    "vxlab's deploy is %.2fx the floor at this size. What remains is "
                    "kernel work: namespace and veth creation serialised in one kernel, which real "
                    "pnodes do in parallel (see the cost model)."
                    % (rw["create"], "{:,}".format(big["vnodes"]), rows[0]["vnodes"] / raw[rows[0]["vnodes"]]["create"]
                       if rows[0]["vnodes"] in raw else 0, "{:,}".format(rows[0]["vnodes"]),
                       big["vnodes"] / rw["create"], "{:,}".format(big["vnodes"]), P, m.get("cpus"),
                       ratio or 0)]
        out += [""]
    model = cost_model(result)
    if model:
        out += ["### Cost model (parameters from this run)", "",
                "| parameter | value | measured as |", "|---|---:|---|",
                "| t_v, time per vnode | %.1f ms | slope of the least-squares line of deploy time vs n (all pnodes share "
                "this machine's 2 cores and one kernel: the platform's serialised per-vnode cost) |" % (model["t_v"] * 1000),
                "| T0, fixed cost at %d pnodes | %.1f s | intercept of the same line |" % (P, model["T0"]),
                "| T1, fixed cost at 1 pnode | %.1f s | deploy of 1 pnode x 1 vnode |" % model["T1"],
                "| c_h, controller cost per extra pnode | %.2f s | (fixed cost at %d pnodes - at 1) / %d |" % (model["c_h"], P, P - 1),
                "| m_v, memory per vnode | %.0f KiB | slope of MemAvailable drop vs n |" % model["m_v_kib"],
                "| destroy time per vnode | %.1f ms | slope of destroy time vs n |" % (model["destroy_t_v"] * 1000),
                "| FDB entries per pnode | P - 1 | unicast head-end replication: one flood entry per remote VTEP |",
                "| SSH | one `sshmux` daemon per pnode | an `sshd -i` per open session only, none per idle vnode |",
                ""]
        if "check" in model:
            c = model["check"]
            out += ["Check against the largest run here: fitted on the smaller counts only, the line "
                    "predicts %.1f s at %s vnodes; measured %.1f s (%+.0f%%)." % (
                        c["predicted"], "{:,}".format(c["vnodes"]), c["measured"],
                        100.0 * (c["measured"] - c["predicted"]) / c["predicted"]), ""]
        out += ["Prediction for real clusters, where each pnode has its own cores and kernel "
                "(assumptions: a pnode creates its vnodes at this machine's t_v, pnodes work in "
                "parallel, the controller adds c_h per pnode with enough forks, gc_thresh sized by the "
                "plan, memory per pnode = m_v x vnodes per pnode):", "",
                "| vnodes | pnodes | vnodes per pnode | predicted deploy | memory per pnode | FDB entries per pnode |",
                "|---:|---:|---:|---:|---:|---:|"]
        for pr in model["predictions"]:
            out.append("| %s | %d | %.0f | %.0f s | %.0f MiB | %d |" % (
                "{:,}".format(pr["vnodes"]), pr["pnodes"], pr["per_pnode_vnodes"], pr["deploy"],
                pr["per_pnode_mib"], pr["fdb_per_pnode"]))
        out += ["", "At 162 and 400 pnodes the controller term c_h x P dominates: Ansible's per-host "
                "work for the %s tasks of a pnode (the data plane itself is one module call per "
                "pnode, `vxlab.emulation.dataplane`); more forks and controller cores shorten it, "
                "the per-pnode kernel work t_v x n/P stays near %.1f s. On one machine the kernel's "
                "serialised namespace creation (t_v) is the limit." % (
                    rows[-1]["tasks_per_pnode"], model["t_v"] * 250), ""]
    return "\n".join(out)


def write_report(result, md_path, png_path):
    plot(result, png_path)
    with open(md_path, "w") as f:
        f.write(markdown(result, os.path.basename(png_path)) + "\n")


def _interrupted(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, _interrupted)  # clean up (finally blocks) on kill too
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="250,1000,2500,5000,10000")
    ap.add_argument("--pnodes", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "scale.json"))
    ap.add_argument("--md", default=os.path.join(REPO, "bench", "out", "scale.md"),
                    help="the RESULTS.md section (bench/report.py appends it)")
    ap.add_argument("--png", default=os.path.join(REPO, "bench", "scale.png"))
    ap.add_argument("--report-only", action="store_true", help="only write --md/--png from --out")
    args = ap.parse_args()
    if args.report_only:
        with open(args.out) as f:
            write_report(json.load(f), args.md, args.png)
        return 0
    if os.geteuid() != 0:
        raise SystemExit("bench_scale.py needs root (namespaces, the testbed)")
    counts = parse_counts(args.counts, args.pnodes)
    name = "zs%s" % TAG
    result = {"command": "bench/bench_scale.py --counts %s --pnodes %d"
                         % (args.counts, args.pnodes),
              "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                          "load_before": open("/proc/loadavg").read().split()[:3]},
              "pnodes": args.pnodes, "raw": [], "vxlab": [], "errors": []}
    started = time.perf_counter()
    up = bd.run([VXLAB, "testbed", "up", "--name", name, "--pnodes", str(args.pnodes),
                 "-e", "vxlab_vnode_kind=netns", "-e", "vxlab_vnodes_per_pnode=1", "--json", "-q"],
                timeout=600)
    info = json.loads(up.stdout)
    inv = info["inventory"]
    pnode_names = [p["name"] for p in info["pnodes"]]
    try:
        # the playbook's fixed cost (1 vnode per pnode) with one pnode and with all of them
        # (the one-pnode platform: an inventory of the first pnode beside hosts.yml, so that the
        # testbed's group_vars apply; removed right after)
        say("testbed %s: %d pnodes; fixed cost: 1 vnode per pnode, 1 pnode then %d"
            % (name, args.pnodes, args.pnodes))
        one = os.path.join(os.path.dirname(inv), "one-pnode.yml")
        with open(inv) as f:
            hosts_doc = yaml.safe_load(f)
        pn = hosts_doc["all"]["children"]["pnodes"]["hosts"]
        hosts_doc["all"]["children"]["pnodes"]["hosts"] = {pnode_names[0]: pn[pnode_names[0]]}
        with open(one, "w") as f:
            yaml.safe_dump(hosts_doc, f)
        try:
            t, doc, dummy = vxlab(["deploy", "-i", one], "deploy tiny 1")
            result["tiny1"] = {"pnodes": 1, "deploy": t,
                               "tasks_per_pnode": tasks_per_pnode(doc, pnode_names[:1])}
            result["tiny1"]["destroy"], doc, dummy = vxlab(["destroy", "-i", one], "destroy tiny 1")
        finally:
            os.remove(one)
        t, doc, dummy = vxlab(["deploy", "-i", inv], "deploy tiny")
        result["tiny"] = {"pnodes": args.pnodes, "deploy": t,
                          "tasks_per_pnode": tasks_per_pnode(doc, pnode_names)}
        result["tiny"]["destroy"], doc, dummy = vxlab(["destroy", "-i", inv], "destroy tiny")
        for n in counts:
            say("=== %d vnodes (%d per pnode) ===" % (n, n // args.pnodes))
            try:
                result["raw"].append(raw_baseline(n, args.pnodes))
            except (bd.BenchError, subprocess.SubprocessError) as exc:
                result["errors"].append("raw %d: %s" % (n, exc))
                say("raw %d FAILED: %s" % (n, exc))
            try:
                result["vxlab"].append(vxlab_count(inv, n, args.pnodes, pnode_names))
            except (bd.BenchError, subprocess.SubprocessError) as exc:
                result["errors"].append("vxlab %d: %s" % (n, exc))
                say("vxlab %d FAILED: %s" % (n, exc))
                try:
                    vxlab(["destroy", "-i", inv, "-e", "vxlab_vnodes_per_pnode=%d" % (n // args.pnodes)],
                          "destroy after failure")
                except (bd.BenchError, subprocess.SubprocessError) as exc2:
                    result["errors"].append("destroy after failure %d: %s" % (n, exc2))
                break
            with open(args.out, "w") as f:  # what is measured so far survives an interruption
                json.dump(result, f, indent=1, sort_keys=True)
    finally:
        down = bd.run([VXLAB, "testbed", "down", "--name", name, "--json", "-q"], check=False,
                      timeout=900)
        try:
            result["testbed_down_ok"] = json.loads(down.stdout).get("ok")
        except ValueError:
            result["testbed_down_ok"] = False
    for key in ("raw", "vxlab"):
        rows = result[key]
        if len(rows) >= 2:
            a, b = fit_line([r["vnodes"] for r in rows], [r.get("create", r.get("deploy")) for r in rows])
            result["fit_%s" % key] = {"T0": a, "t_vnode": b}
    result["seconds"] = time.perf_counter() - started
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    write_report(result, args.md, args.png)
    say("done in %.0f s: %s%s" % (result["seconds"], args.out,
                                  "" if not result["errors"] else " (errors: %s)" % result["errors"]))
    return 1 if result["errors"] or not result.get("testbed_down_ok") else 0


if __name__ == "__main__":
    sys.exit(main())
