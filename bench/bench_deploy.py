"""Benchmark: one pnode with N netns vnodes (default 246), playbook vs module vs raw iproute2 (root).

    .venv/bin/python bench/bench_deploy.py [--vnodes 246] [--small 12] [--repeat 2]
                                           [--out bench/out/deploy.json]

Three ways to make the same objects, all in this one run:

1. raw baseline (iproute2, no Ansible, no Python): inside a fresh scratch network namespace that
   stands for the pnode (its bridge made beforehand, not timed), ``ip -batch`` of ``netns add``
   for every vnode, ``ip -n PNODE -batch`` of ``link add H mtu M type veth peer name eth0 mtu M
   address MAC netns VNODE`` + ``link set H master br0 up``, then one process per vnode
   (``ip -batch`` cannot switch namespace per line in iproute2 6.1) that sets ``lo`` up, the
   address, ``eth0`` up and the default route. Two variants of that last step: ``ip -n VNODE
   -batch -`` and ``nsenter --net=/run/netns/VNODE ip -batch -``. Teardown: ``ip -batch`` of
   ``netns del``, timed until the kernel has removed every host-side veth (deletion is
   asynchronous).
2. the ``vxlab.emulation.vnodes`` module alone, run directly with ``python -m`` (no Ansible
   controller, no SSH) against a scratch pnode namespace (``netns`` option), with ``ssh: false``
   (the same objects as the raw baseline) and ``ssh: true`` (plus the SSH multiplexer the
   playbook starts): empty call (interpreter and import cost), create, idempotent re-run, absent.
3. the playbook: ``vxlab testbed up --name NAME --pnodes 1 -e vxlab_vnodes_per_pnode=N -e
   vxlab_vnode_network=10.148.0.0/16``, then ``vxlab deploy -i INV --json`` (create), again
   (idempotent re-run, must change nothing), ``vxlab destroy``; then the same with ``--small``
   vnodes (``-e vxlab_vnodes_per_pnode=SMALL``) to show that the task count does not depend on
   the vnode count and to split fixed from per-vnode cost.

Each way runs ``--repeat`` times (the playbook's two sizes interleaved, on one testbed); the
report keeps every run and takes the best.

Memory per vnode: MemAvailable and Slab (/proc/meminfo) just before the creation (once Slab has
stopped moving: deleted namespaces are freed asynchronously) and after it,
divided by N (sampled 0.3 s after the creation). The machine is shared with other jobs that make
and delete namespaces too, so these are noisy; the number of namespaces on the machine before
and after the run is recorded to show it.

Every name carries this process's id; everything made is removed in ``finally`` blocks (module
``state: absent``, namespaces deleted, ``vxlab destroy`` if a deploy was started, ``vxlab
testbed down``). Only processes this script started are ever stopped.
"""
import argparse
import json
import os
import platform as _platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python")
VXLAB = os.path.join(VENV_BIN, "vxlab")
NETNS_DIR = "/run/netns"
NETWORK = "10.148.0.0/16"
PREFIXLEN = 16
GATEWAY = "10.148.0.1"
MTU = 1450
BRIDGE = "br0"
TAG = "%d" % (os.getpid() % 10000)
#: pause between the end of a creation and the "after" memory sample (seconds)
SETTLE = 0.3
_TASK_START_RE = re.compile(r"TASK (.*?) \(#\d+, \d+s\)")
_TASK_RE = re.compile(r"TASK (.*?) \(#\d+, \d+s\)|\]   (\S+) changed")


def say(line):
    print("[bench_deploy %s] %s" % (time.strftime("%H:%M:%S"), line), file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    pass


def run(argv, stdin=None, check=True, timeout=600, env=None):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)
    if check and proc.returncode != 0:
        raise BenchError("%s failed (exit %d): %s" % (" ".join(argv[:6]), proc.returncode,
                                                      (proc.stderr or proc.stdout).strip()[-2000:]))
    return proc


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, dummy, value = line.partition(":")
            if key in ("MemAvailable", "Slab", "SUnreclaim", "SReclaimable", "MemFree"):
                out[key] = int(value.split()[0]) * 1024
    return out


def settled_meminfo(timeout=10.0, step=0.5, tolerance=256 * 1024):
    """/proc/meminfo once Slab has stopped moving (namespaces deleted just before are freed by
    the kernel asynchronously: without this, their memory coming back would be subtracted from
    the next measurement). Gives up after ``timeout`` seconds and returns the last sample."""
    deadline = time.monotonic() + timeout
    prev = meminfo()
    while time.monotonic() < deadline:
        time.sleep(step)
        cur = meminfo()
        if abs(cur["Slab"] - prev["Slab"]) < tolerance:
            return cur
        prev = cur
    return prev


def mem_delta(before, after, count):
    return {k: {"delta": before[k] - after[k] if k in ("MemAvailable", "MemFree")
                else after[k] - before[k],
                "per_vnode": (before[k] - after[k] if k in ("MemAvailable", "MemFree")
                              else after[k] - before[k]) / float(count)}
            for k in before}


def vnode_list(prefix, count):
    """Vnode records as the plan gives them, for addresses 10.148.0.2.. (platform ``prefix``)."""
    out = []
    for i in range(count):
        ip = (10 << 24) | (148 << 16) | (2 + i)
        b = [(ip >> s) & 0xFF for s in (24, 16, 8, 0)]
        out.append({"name": "%s-%d" % (prefix, i + 1), "address": "%d.%d.%d.%d" % tuple(b),
                    "mac": "02:bb:%02x:%02x:%02x:%02x" % tuple(b),
                    "host_if": "%s-%d" % (prefix, i + 1)})
    return out


def netns_names():
    try:
        return set(os.listdir(NETNS_DIR))
    except OSError:
        return set()


def delete_netns(names):
    """Delete the named namespaces that exist (safety net); return those deleted."""
    names = sorted(set(names) & netns_names())
    if names:
        run(["ip", "-force", "-batch", "-"], stdin="".join("netns del %s\n" % n for n in names),
            check=False)
    return names


def links_in(netns):
    out = run(["ip", "-n", netns, "-o", "link", "show"]).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def wait_links_gone(netns, prefix, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [n for n in links_in(netns) if n.startswith(prefix)]
        if not left:
            return 0
        time.sleep(0.02)
    return len(left)


def scratch_pnode(name):
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "-batch", "-"], stdin=(
        "link set lo up\nlink add %s type bridge mcast_snooping 0\nlink set %s mtu %d up\n"
        % (BRIDGE, BRIDGE, MTU)))


# --------------------------------------------------------------------------------------------
# 1. raw iproute2 baseline


def raw_baseline(count, variant):
    pnode = "zb%sr%s" % (TAG, variant[0])
    prefix = "zb%sr%s" % (TAG, variant[0])  # vnode namespaces: <prefix>-<i>
    vnodes = vnode_list(prefix, count)
    made = [v["name"] for v in vnodes]
    res = {"variant": variant, "vnodes": count}
    say("raw (%s): scratch pnode %s, %d vnodes" % (variant, pnode, count))
    try:
        scratch_pnode(pnode)
        m0 = settled_meminfo()
        t0 = time.perf_counter()
        run(["ip", "-batch", "-"], stdin="".join("netns add %s\n" % v["name"] for v in vnodes))
        t1 = time.perf_counter()
        lines = []
        for i, v in enumerate(vnodes):
            host = "h%d" % (i + 1)
            lines.append("link add %s mtu %d type veth peer name eth0 mtu %d address %s netns %s\n"
                         % (host, MTU, MTU, v["mac"], v["name"]))
            lines.append("link set %s master %s up\n" % (host, BRIDGE))
        run(["ip", "-n", pnode, "-batch", "-"], stdin="".join(lines))
        t2 = time.perf_counter()
        for v in vnodes:
            script = ("link set lo up\naddr add %s/%d dev eth0\nlink set eth0 up\n"
                      "route add default via %s\n" % (v["address"], PREFIXLEN, GATEWAY))
            if variant == "ip-n":
                argv = ["ip", "-n", v["name"], "-batch", "-"]
            else:
                argv = ["nsenter", "--net=%s/%s" % (NETNS_DIR, v["name"]), "ip", "-batch", "-"]
            run(argv, stdin=script)
        t3 = time.perf_counter()
        time.sleep(SETTLE)
        m1 = meminfo()
        res.update(netns_add=t1 - t0, veths=t2 - t1, inside=t3 - t2, create=t3 - t0,
                   memory=mem_delta(m0, m1, count))
        # what was made (not timed): every host side on the bridge, the last vnode configured
        ports = run(["ip", "-n", pnode, "-o", "link", "show", "master", BRIDGE]).stdout
        last = vnodes[-1]
        addr = run(["ip", "-n", last["name"], "-o", "addr", "show", "dev", "eth0"]).stdout
        route = run(["ip", "-n", last["name"], "route", "show", "default"]).stdout
        res["verified"] = (len(ports.splitlines()) == count and last["address"] in addr
                           and GATEWAY in route)
        if not res["verified"]:
            raise BenchError("raw baseline did not make what it should (%d ports)"
                             % len(ports.splitlines()))
        t4 = time.perf_counter()
        run(["ip", "-batch", "-"], stdin="".join("netns del %s\n" % v["name"] for v in vnodes))
        t5 = time.perf_counter()
        left = wait_links_gone(pnode, "h")
        t6 = time.perf_counter()
        res.update(teardown_returns=t5 - t4, teardown=t6 - t4, teardown_left=left)
        say("raw (%s): create %.2f s (netns add %.2f, veths %.2f, inside %.2f); teardown %.2f s "
            "(batch returned after %.2f s)" % (variant, res["create"], res["netns_add"],
                                               res["veths"], res["inside"], res["teardown"],
                                               res["teardown_returns"]))
        return res
    finally:
        delete_netns(made + [pnode])


# --------------------------------------------------------------------------------------------
# 2. the module alone


def module_call(args, tmpdir):
    path = os.path.join(tmpdir, "args.json")
    with open(path, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "collections"))
    t0 = time.perf_counter()
    proc = run([PYTHON, "-m", "ansible_collections.vxlab.emulation.plugins.modules.vnodes", path],
               check=False, env=env)
    elapsed = time.perf_counter() - t0
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise BenchError("vnodes module: no JSON (exit %d): %s %s"
                         % (proc.returncode, proc.stdout[-1000:], proc.stderr[-1000:]))
    if out.get("failed"):
        raise BenchError("vnodes module failed: %s" % out.get("msg"))
    return elapsed, out


def module_alone(count, ssh, tmpdir, pubkey):
    platform = "zb%sm%s" % (TAG, "s" if ssh else "n")
    pnode = platform + "p"
    state_dir = os.path.join(tmpdir, platform)
    vnodes = vnode_list(platform, count)
    base = {"platform": platform, "netns": pnode, "bridge": BRIDGE, "prefixlen": PREFIXLEN,
            "mtu": MTU, "gateway": GATEWAY, "ssh": ssh, "authorized_keys": pubkey,
            "state_dir": state_dir}
    absent = {"platform": platform, "netns": pnode, "state": "absent", "state_dir": state_dir}
    res = {"ssh": ssh, "vnodes": count}
    say("module alone (ssh=%s): scratch pnode %s, %d vnodes" % (ssh, pnode, count))
    made_pnode = False
    try:
        scratch_pnode(pnode)
        made_pnode = True
        os.makedirs(state_dir, 0o755, exist_ok=True)
        res["empty"], dummy = module_call(dict(base, vnodes=[]), tmpdir)
        m0 = settled_meminfo()
        res["create"], out = module_call(dict(base, vnodes=vnodes), tmpdir)
        time.sleep(SETTLE)
        m1 = meminfo()
        res["memory"] = mem_delta(m0, m1, count)
        if len(out["vnodes"]["created"]) != count or not out["changed"]:
            raise BenchError("module create: %s" % json.dumps(out["vnodes"])[:500])
        res["rerun"], out = module_call(dict(base, vnodes=vnodes), tmpdir)
        res["rerun_changed"] = out["changed"]
        if out["changed"]:
            raise BenchError("module re-run changed something: %s" % json.dumps(out)[:1000])
        res["absent"], out = module_call(absent, tmpdir)
        res["absent_removed"] = len(out["vnodes"]["removed"])
        say("module alone (ssh=%s): empty call %.2f s, create %.2f s, re-run %.2f s, absent %.2f s"
            % (ssh, res["empty"], res["create"], res["rerun"], res["absent"]))
        return res
    finally:
        if made_pnode and os.path.isdir(state_dir):
            try:
                module_call(absent, tmpdir)
            except (BenchError, subprocess.SubprocessError) as exc:
                say("cleanup: module absent failed: %s" % exc)
        delete_netns([v["name"] for v in vnodes] + [pnode])
        shutil.rmtree(state_dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# 3. the playbook on a one-pnode testbed


def _end_group(proc, sig):
    """Signal the process group of ``proc`` (which it leads: ``start_new_session``)."""
    try:
        os.killpg(proc.pid, sig)
    except OSError:
        pass


def run_vxlab(args, label, timeout=900, echo=None, cgroup=None):
    """``vxlab ARGS --json`` as a child of this script: (wall seconds, exit status, stdout, stderr
    lines, task stamps). Its stderr lines are echoed as they come (only those ``echo`` accepts,
    when given); it is killed past ``timeout`` and ended if this script is interrupted, with the
    processes it started (it runs in a process group of its own: ansible-playbook and its workers
    go with it).
    ``cgroup``: a directory of a cgroup v1 hierarchy the child is put in before it starts (so
    that every process it starts, daemonised SSH masters included, is accounted there)."""
    argv = [VXLAB] + args + ["--json"]
    say("$ %s" % " ".join(["vxlab"] + args + ["--json"]))

    def join_cgroup():
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=dict(os.environ, PATH=VENV_BIN + os.pathsep
                                               + os.environ.get("PATH", "")),
                            preexec_fn=join_cgroup if cgroup else None, start_new_session=True)
    err_lines = []
    stamps = []  # (seconds since start, task name) as each TASK line arrives

    def pump():
        for line in proc.stderr:
            now = time.perf_counter() - t0
            err_lines.append(line.rstrip())
            for m in _TASK_START_RE.finditer(line):
                stamps.append((now, m.group(1)))
            if echo is None or echo(line):
                print("    %s | %s" % (label, line.rstrip()), file=sys.stderr, flush=True)

    # stderr is read by the pump thread only (communicate() would read it too and steal lines)
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timer = threading.Timer(timeout, _end_group, (proc, signal.SIGKILL))
    timer.start()
    try:
        out = proc.stdout.read()
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:  # interrupted: end the vxlab run this script started
            _end_group(proc, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                _end_group(proc, signal.SIGKILL)
                proc.wait(10)
    reader.join(timeout=5)
    if proc.returncode == -9:
        raise BenchError("%s timed out (%d s) and was killed" % (label, timeout))
    return time.perf_counter() - t0, proc.returncode, out, err_lines, stamps


def vxlab_cli(args, label):
    """Run ``vxlab ARGS --json``; echo its progress lines; return (wall seconds, JSON result)."""
    elapsed, rc, out, err_lines, stamps = run_vxlab(args, label)
    try:
        data = json.loads(out)
    except ValueError:
        raise BenchError("%s: exit %d, no JSON: %s" % (label, rc, "\n".join(err_lines[-10:])))
    if rc != 0:
        raise BenchError("%s: exit %d: %s" % (label, rc, "\n".join(err_lines[-10:])))
    data["_changed_tasks"] = changed_tasks(err_lines)
    data["_task_times"] = task_times(stamps, elapsed)
    return elapsed, data


def task_times(stamps, elapsed):
    """Wall time per task, from the arrival of its TASK line to the next one (the last task ends
    when the command exits, so it also holds the recap and the CLI's own ending)."""
    out = []
    if stamps:
        out.append({"task": "(CLI start, inventory, playbook parsing)", "seconds": stamps[0][0]})
    for i, (t, name) in enumerate(stamps):
        end = stamps[i + 1][0] if i + 1 < len(stamps) else elapsed
        out.append({"task": name, "seconds": end - t})
    return out


def changed_tasks(lines):
    """``["host: task", ...]`` that reported changed, read from the CLI's progress lines."""
    out, task = [], None
    for m in _TASK_RE.finditer("\n".join(lines)):
        if m.group(1):
            task = m.group(1)
        else:
            out.append("%s: %s" % (m.group(2), task))
    return out


def tasks_of(result):
    """Tasks run per host, from the recap counters of ``vxlab deploy/destroy --json``."""
    return {name: h["ok"] + h["failed"] + h["skipped"] + h["unreachable"] + h.get("ignored", 0)
            for name, h in result["hosts"].items()}


def pnode_netns_count(sshd_pid, platform):
    """Vnode namespaces in the pnode's private /run/netns (seen through its sshd)."""
    root = "/proc/%d/root%s" % (sshd_pid, NETNS_DIR)
    try:
        return len([n for n in os.listdir(root) if n.startswith(platform + "-")])
    except OSError:
        return None


def playbook(count, small, repeat, res):
    """Deploy / re-run / destroy cycles of ``count`` and ``small`` vnodes, interleaved,
    ``repeat`` times each, on one one-pnode testbed. Fills ``res`` as it goes (partial results
    survive a failure)."""
    name = "zb%s" % TAG
    res.update(testbed=name, vnodes=count, small=small, runs=[])
    up_args = ["testbed", "up", "--name", name, "--pnodes", "1", "-e", "vxlab_vnode_kind=netns",
               "-e", "vxlab_vnodes_per_pnode=%d" % count, "-e", "vxlab_vnode_network=%s" % NETWORK]
    res["commands"] = {"up": "vxlab " + " ".join(up_args)}
    state = {"deployed": None}  # extra args of a deploy not destroyed yet
    inv = None
    try:
        res["testbed_up"], desc = vxlab_cli(up_args, "up")
        inv = desc["inventory"]
        sshd_pid = desc["pnodes"][0]["sshd_pid"]
        res["inventory"] = os.path.relpath(inv, REPO)
        for rep in range(repeat):
            for n in (count, small):
                extra = [] if n == count else ["-e", "vxlab_vnodes_per_pnode=%d" % n]
                key = "" if n == count else "small_"
                res["commands"][key + "deploy"] = "vxlab " + " ".join(["deploy", "-i", inv] + extra)
                res["commands"][key + "destroy"] = "vxlab " + " ".join(["destroy", "-i", inv]
                                                                       + extra)
                cycle = {"vnodes": n, "repetition": rep + 1}
                res["runs"].append(cycle)
                playbook_cycle(inv, extra, n, name, sshd_pid, cycle, state)
        return res
    finally:
        if state["deployed"] is not None and inv:
            try:
                vxlab_cli(["destroy", "-i", inv] + state["deployed"], "cleanup destroy")
            except (BenchError, OSError) as exc:
                say("cleanup: destroy failed: %s" % exc)
        t0 = time.perf_counter()
        proc = run([VXLAB, "testbed", "down", "--name", name], check=False)
        res["testbed_down"] = time.perf_counter() - t0
        if proc.returncode != 0:
            say("cleanup: testbed down failed: %s" % proc.stderr.strip())


def playbook_cycle(inv, extra, n, name, sshd_pid, res, state):
    deploy_args = ["deploy", "-i", inv] + extra
    destroy_args = ["destroy", "-i", inv] + extra
    m0 = settled_meminfo()
    state["deployed"] = extra
    t, r = vxlab_cli(deploy_args, "deploy %d" % n)
    time.sleep(SETTLE)
    m1 = meminfo()
    made = pnode_netns_count(sshd_pid, name)
    if made != n:
        raise BenchError("after deploy the pnode holds %s vnode namespaces, not %d" % (made, n))
    res.update(deploy=t, deploy_runner=r["duration"], deploy_changed=r["changed"],
               deploy_changed_tasks=r["_changed_tasks"], deploy_task_times=r["_task_times"],
               deploy_tasks=tasks_of(r), memory=mem_delta(m0, m1, n))
    say("deploy %d vnodes: %.2f s (runner %.2f s), %d changed, tasks per host %s"
        % (n, t, r["duration"], r["changed"], res["deploy_tasks"]))
    t, r = vxlab_cli(deploy_args, "re-run %d" % n)
    res.update(rerun=t, rerun_changed=r["changed"], rerun_changed_tasks=r["_changed_tasks"],
               rerun_task_times=r["_task_times"], rerun_tasks=tasks_of(r))
    say("re-run %d vnodes: %.2f s, %d changed %s" % (n, t, r["changed"], r["_changed_tasks"]))
    t, r = vxlab_cli(destroy_args, "destroy %d" % n)
    state["deployed"] = None
    res.update(destroy=t, destroy_tasks=tasks_of(r), destroy_task_times=r["_task_times"])
    left = pnode_netns_count(sshd_pid, name)
    if left:
        raise BenchError("after destroy the pnode still holds %d vnode namespaces" % left)
    say("destroy %d vnodes: %.2f s" % (n, t))


# --------------------------------------------------------------------------------------------


def machine():
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    ip_version = run(["ip", "-V"], check=False).stdout.strip()
    return {"nproc": os.cpu_count(), "kernel": _platform.release(),
            "python": _platform.python_version(), "loadavg": load, "iproute2": ip_version,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "mem": meminfo(),
            "netns_on_machine": len(netns_names())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--vnodes", type=int, default=246)
    ap.add_argument("--small", type=int, default=12, help="vnodes of the second deploy (12)")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "deploy.json"))
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs of each way (2); the playbook cycles are interleaved by size")
    ap.add_argument("--skip-playbook", action="store_true")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_deploy: needs root (namespaces, netlink)", file=sys.stderr)
        return 2
    started = time.monotonic()
    result = {"command": " ".join([os.path.relpath(PYTHON, REPO),
                                   os.path.relpath(os.path.abspath(__file__), REPO)]
                                  + (argv if argv is not None else sys.argv[1:])),
              "machine": machine(), "vnodes": args.vnodes, "repeat": args.repeat}
    tmpdir = "/run/vxlab-bench-%s" % TAG
    os.makedirs(tmpdir, 0o755, exist_ok=True)
    os.chmod(tmpdir, 0o755)
    rc = 0
    try:
        key = os.path.join(tmpdir, "key")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vxlab-bench", "-f", key])
        with open(key + ".pub") as f:
            pubkey = f.read().strip()
        result["raw"] = {"ip-n": [], "nsenter": []}
        result["module"] = {"nossh": [], "ssh": []}
        for rep in range(args.repeat):
            say("repetition %d/%d of the raw baseline and the module" % (rep + 1, args.repeat))
            for v in ("ip-n", "nsenter"):
                result["raw"][v].append(raw_baseline(args.vnodes, v))
            for key, ssh in (("nossh", False), ("ssh", True)):
                result["module"][key].append(module_alone(args.vnodes, ssh, tmpdir, pubkey))
        if not args.skip_playbook:
            result["playbook"] = {}
            playbook(args.vnodes, args.small, args.repeat, result["playbook"])
    except (BenchError, OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
        say("FAILED: %s" % result["error"])
        rc = 1
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        leftovers = sorted(n for n in netns_names() if n.startswith("zb%s" % TAG))
        if leftovers:
            say("LEFT BEHIND: namespaces %s" % " ".join(leftovers))
    result["duration"] = time.monotonic() - started
    result["machine_after"] = {"netns_on_machine": len(netns_names()),
                               "loadavg": open("/proc/loadavg").read().split()[:3]}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    say("%s in %.0f s: %s" % ("done" if rc == 0 else "FAILED", result["duration"], args.out))
    return rc


if __name__ == "__main__":
    sys.exit(main())
