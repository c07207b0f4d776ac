"""Benchmark: the controller at the paper's pnode count, and the fixed cost of small platforms (root).

    .venv/bin/python bench/bench_controller.py [--pnodes 162] [--per 25] [--forks 50,162]
                                               [--out bench/out/controller.json] [--results bench/RESULTS.md]

One testbed of ``--pnodes`` pnodes (network namespaces, each with its sshd) carrying ``--per``
netns vnodes each. Every ``vxlab`` command runs in its own cgroup (cpuacct, cgroup v1): the
controller's CPU time is that cgroup's usage over the command, i.e. the CLI, ansible-playbook, its
workers and the SSH clients and masters it starts; the pnodes' sshd and the modules' Python run
under the testbed's sshd daemons, outside it. Measured, in this order:

1. small platforms: 1 pnode x 1 vnode, first deploy and destroy, 3 times (best); 3 pnodes x 20
   vnodes, first deploy, re-run, destroy;
2. the whole testbed: first deploy, idempotent re-run (nothing may change) with each ``--forks``
   value (``ANSIBLE_FORKS``), ``vxlab check --sample 1 --ssh-sample 2`` (every pnode pair),
   destroy.

Controller CPU per pnode is given two ways: the whole run's CPU / pnodes, and the marginal cost
(CPU at P pnodes - CPU at 1 pnode) / (P - 1). Raw results go to ``--out``, the section "Controller"
of ``--results`` between its markers. Everything made is removed in ``finally`` blocks.
"""
import argparse
import collections
import ctypes
import json
import os
import signal
import struct
import subprocess
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_deploy as bd  # noqa: E402
import bench_topology as bt  # noqa: E402  (write_section)

REPO = bd.REPO
VXLAB = bd.VXLAB
TAG = bd.TAG
BEGIN, END = "<!-- controller: begin -->", "<!-- controller: end -->"
CPUACCT = "/sys/fs/cgroup/cpuacct"
#: seconds per vnode of one pnode's module (bench/RESULTS.md section 2: module alone, after start-up)
T_VNODE = 0.0022


def say(line):
    print("[bench_controller %s] %s" % (time.strftime("%H:%M:%S"), line), file=sys.stderr, flush=True)


class Meter:
    """A cpuacct cgroup for the vxlab commands: CPU seconds used between two reads."""

    def __init__(self):
        self.path = os.path.join(CPUACCT, "vxlab-bench-%s" % TAG)
        os.makedirs(self.path, exist_ok=True)

    def usage(self):
        with open(os.path.join(self.path, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def close(self):
        # processes still in it (SSH masters waiting for ControlPersist) go back to the root
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                pids = f.read().split()
            for pid in pids:
                try:
                    with open(os.path.join(CPUACCT, "cgroup.procs"), "w") as f:
                        f.write(pid)
                except OSError:
                    pass
            os.rmdir(self.path)
        except OSError as exc:
            say("cgroup %s not removed: %s" % (self.path, exc))


def machine_busy():
    """CPU seconds the whole machine has been busy (every core, /proc/stat), and its total."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = float(os.sysconf("SC_CLK_TCK"))
    return (sum(v) - v[3] - v[4]) / hz, sum(v) / hz


class Accounting:
    """BSD process accounting (``acct(2)``) while a command runs: CPU seconds by command name of
    the processes that ended meanwhile (the modules' Python on the pnodes, ansible-playbook's
    workers, ssh clients, sshd sessions...). Processes still running at the end (SSH masters, the
    pnodes' sshmux daemons) are not in it. ``usable`` is false where the kernel refuses."""

    FMT = struct.Struct("=BBHIIIIIIfHHHHHHHH16s")  # struct acct_v3

    def __init__(self, path):
        self.path = path
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.usable = True

    def __enter__(self):
        open(self.path, "wb").close()
        if self.libc.acct(self.path.encode()) != 0:
            self.usable = False
        return self

    def __exit__(self, *exc):
        if self.usable:
            time.sleep(1)  # the last records
            self.libc.acct(None)

    @staticmethod
    def _comp(v):
        return (v & 0x1FFF) << (3 * ((v >> 13) & 7))

    def by_command(self):
        """``{command: [processes, cpu seconds]}``, largest first (empty when not usable)."""
        out = collections.defaultdict(lambda: [0, 0.0])
        if not self.usable:
            return {}
        with open(self.path, "rb") as f:
            data = f.read()
        for off in range(0, len(data) - self.FMT.size + 1, self.FMT.size):
            r = self.FMT.unpack_from(data, off)
            if r[1] != 3:
                continue
            comm = r[18].split(b"\0")[0].decode("ascii", "replace")
            out[comm][0] += 1
            out[comm][1] += (self._comp(r[10]) + self._comp(r[11])) / 100.0  # AHZ
        return dict(sorted(out.items(), key=lambda kv: -kv[1][1]))


def vxlab(meter, args, label, env=None, timeout=1800, ok_codes=(0,), account=None):
    """``vxlab ARGS --json`` in the meter's cgroup: {wall, cpu, machine, doc} (``machine``: the
    whole machine's busy CPU seconds; with ``account``, a path, ``by_command``: the process
    accounting of the run); raises on an exit status not in ``ok_codes``."""
    saved = dict(os.environ)
    os.environ.update(env or {})
    acct = Accounting(account) if account else None
    try:
        c0, (m0, dummy) = meter.usage(), machine_busy()
        if acct:
            acct.__enter__()
        try:
            wall, rc, out, err, dummy = bd.run_vxlab(args, label, timeout=timeout, cgroup=meter.path,
                                                     echo=lambda line: "FAILED" in line or "still running" in line)
        finally:
            if acct:
                acct.__exit__()
        cpu = meter.usage() - c0
        machine = machine_busy()[0] - m0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    if rc not in ok_codes:
        raise bd.BenchError("vxlab %s failed (exit %d): %s" % (args[0], rc, "\n".join(err[-15:])))
    say("%s: %.1f s wall, %.1f s controller CPU, %.1f s machine CPU" % (label, wall, cpu, machine))
    res = {"wall": wall, "cpu": cpu, "machine": machine, "doc": doc}
    if acct:
        res["by_command"] = acct.by_command()
    return res


#: the smallest playbooks Ansible can run on every pnode: its own cost per pnode and task, to set
#: beside the deploy's (a local task: a worker and a callback per host; an SSH task: a module run
#: over the pnode's multiplexed connection, as the deploy's two pnode tasks are)
FLOOR_PLAYS = (
    ("1 local task (debug)", [{"ansible.builtin.debug": {"msg": "x"}}]),
    ("3 local tasks (debug)", [{"ansible.builtin.debug": {"msg": "x"}}] * 3),
    ("1 SSH task (command: /bin/true)", [{"ansible.builtin.command": "/bin/true"}]),
    ("2 SSH tasks (command: /bin/true)", [{"ansible.builtin.command": "/bin/true"}] * 2),
)


def ansible_floor(meter, inv, workdir, extra):
    """Controller CPU of :data:`FLOOR_PLAYS` (plain ansible-playbook, no ansible-runner), each run
    twice (the first opens the SSH masters); and of the same re-run of the deploy by plain
    ansible-playbook (what ansible-runner and the CLI add)."""
    rows = []
    env = dict(os.environ, PATH=bd.VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))

    def metered(argv, label):
        def join():
            with open(os.path.join(meter.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        c0, t0 = meter.usage(), time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, preexec_fn=join,
                              timeout=1800, check=False)
        wall, cpu = time.perf_counter() - t0, meter.usage() - c0
        if proc.returncode != 0:
            raise bd.BenchError("%s failed (exit %d): %s" % (label, proc.returncode, proc.stdout[-800:]))
        say("%s: %.1f s wall, %.1f s controller CPU" % (label, wall, cpu))
        return wall, cpu

    for label, tasks in FLOOR_PLAYS:
        path = os.path.join(workdir, "floor-%d.yml" % len(rows))
        with open(path, "w") as f:
            yaml.safe_dump([{"name": label, "hosts": "pnodes", "gather_facts": False, "tasks": tasks}], f)
        runs = [metered([os.path.join(bd.VENV_BIN, "ansible-playbook"), "-i", inv, path], "%s #%d" % (label, k + 1))
                for k in range(2)]
        rows.append({"what": label, "tasks": len(tasks), "runs": [{"wall": w, "cpu": c} for w, c in runs]})
        os.remove(path)
    wall, cpu = metered([os.path.join(bd.VENV_BIN, "ansible-playbook"), "-i", inv,
                         os.path.join(REPO, "playbooks", "deploy.yml")] + extra, "deploy re-run, plain ansible-playbook")
    rows.append({"what": "idempotent re-run of the deploy, plain ansible-playbook (no runner, no CLI)",
                 "tasks": None, "runs": [{"wall": wall, "cpu": cpu}]})
    return rows


def recap(doc, names):
    hosts = (doc or {}).get("hosts") or {}
    changed = sum(int((hosts.get(n) or {}).get("changed", 0) or 0) for n in names)
    counts = [sum(int((hosts.get(n) or {}).get(k, 0) or 0) for k in ("ok", "skipped", "failed", "unreachable"))
              for n in names] or [0]
    # the most common count: the first pnode also runs the run_once plan task
    return changed, max(sorted(set(counts)), key=counts.count)


def sub_inventory(inv, names, path):
    """An inventory of the first pnodes beside the testbed's (its group_vars apply)."""
    with open(inv) as f:
        doc = yaml.safe_load(f)
    hosts = doc["all"]["children"]["pnodes"]["hosts"]
    doc["all"]["children"]["pnodes"]["hosts"] = dict((n, hosts[n]) for n in names)
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)
    return path


def small(meter, inv, names, result):
    d = os.path.dirname(inv)
    one = sub_inventory(inv, names[:1], os.path.join(d, "one-pnode.yml"))
    three = sub_inventory(inv, names[:3], os.path.join(d, "three-pnodes.yml"))
    try:
        runs = []
        for k in range(3):
            dep = vxlab(meter, ["deploy", "-i", one, "-e", "vxlab_vnodes_per_pnode=1"], "1x1 deploy %d" % (k + 1))
            rer = vxlab(meter, ["deploy", "-i", one, "-e", "vxlab_vnodes_per_pnode=1"], "1x1 re-run %d" % (k + 1))
            des = vxlab(meter, ["destroy", "-i", one, "-e", "vxlab_vnodes_per_pnode=1"], "1x1 destroy %d" % (k + 1))
            runs.append({"deploy": dep["wall"], "deploy_cpu": dep["cpu"], "rerun": rer["wall"],
                         "rerun_cpu": rer["cpu"], "destroy": des["wall"], "destroy_cpu": des["cpu"],
                         "tasks": recap(dep["doc"], names[:1])[1]})
        result["one"] = runs
        ev = ["-e", "vxlab_vnodes_per_pnode=20"]
        dep = vxlab(meter, ["deploy", "-i", three] + ev, "3x20 deploy")
        rer = vxlab(meter, ["deploy", "-i", three] + ev, "3x20 re-run")
        des = vxlab(meter, ["destroy", "-i", three] + ev, "3x20 destroy")
        result["three"] = {"deploy": dep["wall"], "deploy_cpu": dep["cpu"], "rerun": rer["wall"],
                           "rerun_cpu": rer["cpu"], "rerun_changed": recap(rer["doc"], names[:3])[0],
                           "destroy": des["wall"], "destroy_cpu": des["cpu"]}
    finally:
        for p in (one, three):
            if os.path.exists(p):
                os.remove(p)


def whole(meter, inv, names, per, forks, result):
    ev = ["-e", "vxlab_vnodes_per_pnode=%d" % per]
    m0 = bd.settled_meminfo()
    acct = os.path.join(os.path.dirname(inv), "pacct")
    dep = vxlab(meter, ["deploy", "-i", inv] + ev, "%dx%d deploy" % (len(names), per), account=acct)
    res = {"pnodes": len(names), "per": per, "deploy": dep["wall"], "deploy_cpu": dep["cpu"],
           "deploy_machine": dep["machine"], "deploy_by_command": dep.get("by_command") or {},
           "tasks_per_pnode": recap(dep["doc"], names)[1],
           "memory_per_vnode": bd.mem_delta(m0, bd.meminfo(), len(names) * per)["MemAvailable"]["per_vnode"]}
    res["reruns"] = []
    result["whole"] = res  # kept as it fills: a later failure does not lose what was measured
    for f in forks:
        rer = vxlab(meter, ["deploy", "-i", inv] + ev, "re-run forks=%d" % f, env={"ANSIBLE_FORKS": str(f)},
                    account=acct)
        res["reruns"].append({"forks": f, "wall": rer["wall"], "cpu": rer["cpu"], "machine": rer["machine"],
                              "by_command": rer.get("by_command") or {},
                              "changed": recap(rer["doc"], names)[0]})
    t0 = time.perf_counter()
    chk = vxlab(meter, ["check", "-i", inv, "--sample", "1", "--ssh-sample", "2"] + ev, "check", ok_codes=(0, 1))
    doc = chk["doc"] or {}
    failed_pairs = [p for p in doc.get("pairs") or [] if p.get("failed")]
    res["check"] = {"wall": time.perf_counter() - t0, "ok": bool(doc.get("ok")),
                    "pairs": len(doc.get("pairs") or []), "failed_pairs": len(failed_pairs),
                    "ssh_failed": list((doc.get("ssh") or {}).get("failed") or []),
                    "failures": ([f for p in failed_pairs for f in p.get("failures") or []]
                                 + ["ssh %s: %s" % kv for kv in sorted(((doc.get("ssh") or {}).get("errors") or {}).items())])[:10]}
    res["floor"] = ansible_floor(meter, inv, os.path.dirname(inv), ev)
    des = vxlab(meter, ["destroy", "-i", inv] + ev, "destroy")
    res["destroy"], res["destroy_cpu"], res["destroy_machine"] = des["wall"], des["cpu"], des["machine"]
    if os.path.exists(acct):
        os.remove(acct)
    result["whole"] = res


def report(result):
    w = result.get("whole") or {}
    one = result.get("one") or []
    three = result.get("three") or {}
    P = w.get("pnodes") or result.get("pnodes")
    lines = [BEGIN, "## Controller: %s pnodes x %s netns vnodes (`bench/bench_controller.py`)" % (P, w.get("per")), "",
             "Command: `%s` (took %.0f s)  " % (result["command"], result.get("seconds", 0)),
             "Machine: %s CPUs, kernel %s, load average at start %s. Controller CPU = the cpuacct cgroup of each "
             "`vxlab` command (CLI, ansible-playbook, its workers, SSH clients and masters); the pnodes' sshd and "
             "the modules' Python are outside it (they share the same 2 cores)." % (
                 result["machine"]["cpus"], result["machine"]["kernel"], " ".join(result["machine"]["load_before"])), ""]
    if one:
        best = min(one, key=lambda r: r["deploy"])
        lines += ["### Small platforms", "",
                  "| platform | first deploy | controller CPU | re-run | destroy | tasks per pnode |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines.append("| 1 pnode x 1 vnode (best of %d; all: %s) | **%.2f s** | %.2f s | %.2f s | %.2f s | %d |" % (
            len(one), ", ".join("%.2f" % r["deploy"] for r in one), best["deploy"], best["deploy_cpu"],
            best["rerun"], best["destroy"], best["tasks"]))
        if three:
            lines.append("| 3 pnodes x 20 vnodes | **%.2f s** | %.2f s | %.2f s (changed %d) | %.2f s | |" % (
                three["deploy"], three["deploy_cpu"], three["rerun"], three["rerun_changed"], three["destroy"]))
        lines += ["", "Target: one pnode, one vnode <= 3.5 s: **%s** (%.2f s)." % (
            "met" if best["deploy"] <= 3.5 else "not met", best["deploy"]), ""]
    if w:
        n = w["pnodes"] * w["per"]
        lines += ["### %d pnodes x %d vnodes (%d vnodes)" % (w["pnodes"], w["per"], n), "",
                  "| run | wall | controller CPU | CPU per pnode | machine CPU (busy) | changed |",
                  "|---|---:|---:|---:|---:|---:|"]
        cores = result["machine"]["cpus"] or 1

        def busy(cpu, wall):
            return "%.1f s (%.0f%%)" % (cpu, 100.0 * cpu / (wall * cores)) if cpu is not None else ""
        lines.append("| first deploy | **%.1f s** | %.1f s | %.3f s | %s | |" % (
            w["deploy"], w["deploy_cpu"], w["deploy_cpu"] / w["pnodes"], busy(w.get("deploy_machine"), w["deploy"])))
        for r in w["reruns"]:
            lines.append("| idempotent re-run, forks=%d | %.1f s (%.0f%% of the deploy) | %.1f s | %.3f s | %s | %d |" % (
                r["forks"], r["wall"], 100.0 * r["wall"] / w["deploy"], r["cpu"], r["cpu"] / w["pnodes"],
                busy(r.get("machine"), r["wall"]), r["changed"]))
        if "destroy" in w:
            lines.append("| destroy | %.1f s | %.1f s | %.3f s | %s | |" % (
                w["destroy"], w["destroy_cpu"], w["destroy_cpu"] / w["pnodes"], busy(w.get("destroy_machine"), w["destroy"])))
        if w.get("check"):
            c = w["check"]
            lines.append("| check (%d pnode pairs) | %.1f s | | | | %s |" % (
                c["pairs"], c["wall"], "ok" if c["ok"] else "FAILED: %d pairs, %d SSH" % (
                    c.get("failed_pairs", 0), len(c.get("ssh_failed") or []))))
        lines += ["", "Machine CPU: the whole machine's busy time (/proc/stat) over the run, every process and the "
                  "kernel: %d cores x the wall time is all there is." % cores]
        for label, table in (("first deploy", w.get("deploy_by_command")),
                             ("last re-run", (w["reruns"][-1].get("by_command") if w["reruns"] else None))):
            if table:
                shown = ", ".join("%s %.1f s (%d processes)" % (c, v[1], v[0]) for c, v in list(table.items())[:5])
                lines += ["", "CPU by command of the processes that ended during the %s (BSD process accounting; "
                          "the SSH masters and the pnodes' sshmux daemons, still running, are not in it): %s. "
                          "`python` is the pnodes' side: each pnode's module and the preflight's probe." % (label, shown)]
        if w.get("check") and not w["check"]["ok"]:
            lines += ["", "Check failures (first ones): %s" % "; ".join(w["check"].get("failures") or ["(none listed)"])]
        if w.get("floor"):
            lines += ["", "Ansible's own cost on the same %d pnodes (plain `ansible-playbook`, same `ansible.cfg`; "
                      "each playbook run twice, the second on open SSH masters):" % w["pnodes"], "",
                      "| playbook | wall (1st, 2nd) | controller CPU (1st, 2nd) | CPU per pnode (2nd) |",
                      "|---|---:|---:|---:|"]
            for r in w["floor"]:
                runs = r["runs"]
                lines.append("| %s | %s | %s | %.3f s |" % (
                    r["what"], ", ".join("%.1f s" % x["wall"] for x in runs), ", ".join("%.1f s" % x["cpu"] for x in runs),
                    runs[-1]["cpu"] / w["pnodes"]))
            fl = dict((r["what"], r["runs"][-1]["cpu"]) for r in w["floor"])
            local = (fl.get("3 local tasks (debug)", 0) - fl.get("1 local task (debug)", 0)) / 2.0 / w["pnodes"]
            ssh = (fl.get("2 SSH tasks (command: /bin/true)", 0) - fl.get("1 SSH task (command: /bin/true)", 0)) / w["pnodes"]
            lines += ["", "Marginal controller CPU per pnode and task: a local task %.3f s, an SSH task %.3f s; "
                      "Ansible's floor for the deploy's %d tasks per pnode (2 on the pnode, %d local): %.3f s per pnode." % (
                          local, ssh, w["tasks_per_pnode"], w["tasks_per_pnode"] - 2,
                          2 * ssh + (w["tasks_per_pnode"] - 2) * local)]
        marginal = None
        if one:
            marginal = (w["deploy_cpu"] - min(r["deploy_cpu"] for r in one)) / max(1, w["pnodes"] - 1)
        best_rerun = min(w["reruns"], key=lambda r: r["wall"]) if w["reruns"] else None
        lines += ["", "Tasks per pnode (recap): %d. Memory: %.0f KiB per vnode (MemAvailable drop)." % (
            w["tasks_per_pnode"], w["memory_per_vnode"] / 1024.0), "",
            "Targets: deploy < 90 s: **%s** (%.1f s); controller CPU <= 0.15 s per pnode: **%s** (%.3f s per pnode over "
            "the whole deploy%s); idempotent re-run <= 20%% of the deploy: **%s** (%.0f%%)." % (
                "met" if w["deploy"] < 90 else "not met", w["deploy"],
                "met" if w["deploy_cpu"] / w["pnodes"] <= 0.15 else "not met", w["deploy_cpu"] / w["pnodes"],
                "; marginal %.3f s per extra pnode" % marginal if marginal is not None else "",
                "met" if best_rerun and best_rerun["wall"] <= 0.2 * w["deploy"] else "not met",
                100.0 * best_rerun["wall"] / w["deploy"] if best_rerun else 0)]
    if w and one:
        best = min(one, key=lambda r: r["deploy"])
        c_h = (w["deploy"] - best["deploy"]) / max(1, w["pnodes"] - 1)
        c_cpu = (w["deploy_cpu"] - best["deploy_cpu"]) / max(1, w["pnodes"] - 1)
        cores = result["machine"]["cpus"] or 1
        c_ctl = c_cpu / cores
        lines += ["", "### Cost model, refitted on this run", "",
                  "On real pnodes (each with its own cores and kernel, building its vnodes in parallel with the others) "
                  "T(P, n) = T1 + c x (P - 1) + t_v x n / P, with T1 = %.2f s (1 pnode x 1 vnode, measured) and t_v = "
                  "%.1f ms per vnode (one pnode's module, `bench_deploy.py` section 2). Two values of c, both measured "
                  "here at %d pnodes:" % (best["deploy"], T_VNODE * 1000, w["pnodes"]), "",
                  "- c_ctl = %.3f s per extra pnode: the controller's own CPU slope (%.3f s per pnode) spread over this "
                  "controller's %d cores by the forks; what a controller like this one costs when the pnodes' work is "
                  "done on the pnodes;" % (c_ctl, c_cpu, cores),
                  "- c_h = %.3f s per extra pnode: this machine's wall-time slope ((deploy at %d pnodes - T1) / %d), "
                  "which also holds the %d pnodes' own sshd and module Python on the same %d cores: an upper bound." % (
                      c_h, w["pnodes"], w["pnodes"] - 1, w["pnodes"], cores), "",
                  "| vnodes | pnodes | per pnode | predicted deploy (c_ctl) | of which controller | upper bound (c_h) |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for n, P in ((39852, 162), (40000, 162), (100000, 400)):
            lines.append("| %s | %d | %d | %.0f s | %.0f s | %.0f s |" % (
                "{:,}".format(n), P, -(-n // P), best["deploy"] + c_ctl * (P - 1) + T_VNODE * n / P, c_ctl * (P - 1),
                best["deploy"] + c_h * (P - 1) + T_VNODE * n / P))
        lines += ["", "The controller term dominates at these pnode counts (the per-pnode vnode work, t_v x n / P, "
                  "is about %.1f s); a controller with more cores spreads its %.0f s of CPU for 400 pnodes further." % (
                      T_VNODE * 250, c_cpu * 400)]
    if result.get("errors"):
        lines += ["", "Errors: %s" % "; ".join(result["errors"])]
    lines.append(END)
    return "\n".join(lines) + "\n"


def _interrupted(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, _interrupted)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pnodes", type=int, default=162)
    ap.add_argument("--per", type=int, default=25)
    ap.add_argument("--forks", default="50,162")
    ap.add_argument("--skip-small", action="store_true")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "controller.json"))
    ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    if args.report_only:
        with open(args.out) as f:
            result = json.load(f)
        if args.results:
            bt.write_section(args.results, report(result), BEGIN, END)
        return 0
    if os.geteuid() != 0:
        raise SystemExit("bench_controller.py needs root (namespaces, cgroups, the testbed)")
    forks = [int(x) for x in args.forks.split(",") if x]
    result = {"command": "bench/bench_controller.py --pnodes %d --per %d --forks %s" % (args.pnodes, args.per, args.forks),
              "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                          "load_before": open("/proc/loadavg").read().split()[:3]},
              "pnodes": args.pnodes, "errors": []}
    started = time.perf_counter()
    name = "zc%s" % TAG
    meter = Meter()
    try:
        t0 = time.perf_counter()
        up = bd.run([VXLAB, "testbed", "up", "--name", name, "--pnodes", str(args.pnodes),
                     "-e", "vxlab_vnode_kind=netns", "-e", "vxlab_vnodes_per_pnode=%d" % args.per,
                     "-e", "vxlab_vnode_network=10.148.0.0/16", "--json", "-q"], timeout=900)
        result["testbed_up"] = time.perf_counter() - t0
        info = json.loads(up.stdout)
        inv = info["inventory"]
        names = [p["name"] for p in info["pnodes"]]
        say("testbed %s: %d pnodes up in %.1f s" % (name, len(names), result["testbed_up"]))
        try:
            if not args.skip_small:
                small(meter, inv, names, result)
            whole(meter, inv, names, args.per, forks, result)
        except (bd.BenchError, OSError) as exc:
            result["errors"].append(str(exc)[-500:])
            say("FAILED: %s" % exc)
            bd.run([VXLAB, "destroy", "-i", inv, "-e", "vxlab_vnodes_per_pnode=%d" % args.per, "-q"],
                   check=False, timeout=900)
    finally:
        down = bd.run([VXLAB, "testbed", "down", "--name", name, "--json", "-q"], check=False, timeout=900)
        try:
            result["testbed_down_ok"] = json.loads(down.stdout).get("ok")
        except ValueError:
            result["testbed_down_ok"] = False
        meter.close()
    result["seconds"] = time.perf_counter() - started
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    text = report(result)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(text)
    if args.results:
        bt.write_section(args.results, text, BEGIN, END)
    say("done in %.0f s%s" % (result["seconds"], " (errors)" if result["errors"] else ""))
    return 1 if result["errors"] or not result.get("testbed_down_ok") else 0


if __name__ == "__main__":
    sys.exit(main())
