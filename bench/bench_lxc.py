"""LXC vnodes on one pnode: start time through the vnodes module vs a raw parallel lxc-start loop
(same run, same image, same configurations), and memory per vnode.

    sudo .venv/bin/python bench/bench_lxc.py [--vnodes 246] [--window 16] [--out bench/out/lxc.json]

Runs in this machine's network namespace on a bridge of its own (``bl<pid>-br``) whose /16 only
these containers use. Steps: (1) the base image (cached; built on first use); (2) the module:
``vxlab.emulation.vnodes`` kind lxc through ``ansible-playbook`` (wall time of the whole call),
then a second call (no change), then ``state: absent``; (3) raw: the same configurations written
by this script, ``xargs -P WINDOW lxc-start -d`` over the names, then ``xargs -P WINDOW lxc-stop
-k``; a warm-up start and stop of raw first (timed, not counted), then the module alone (its
program run with its arguments file, no ansible-playbook) and raw interleaved, best of 3 each. Memory per
vnode: MemAvailable before/after (all containers running, settled 3 s) and the sum of the
containers' memory cgroups. Writes JSON and a Markdown section (``bench/out/lxc.md``)
that bench/report.py appends to RESULTS.md. Everything it creates is removed, even on failure.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.vxlab.emulation.plugins.module_utils import _lxc_image as im  # noqa: E402
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import containers as lx  # noqa: E402
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups as cg  # noqa: E402

PYTHON = os.path.join(REPO, ".venv", "bin", "python")
#: the module alone and raw lxc-start, interleaved, this many times each (best of)
REPS = 3
PLAYBOOK = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: vnodes
      vxlab.emulation.vnodes: "{{ lookup('file', args_file) | from_json }}"
"""


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def cgroup_memory(names):
    host = cg.Host()
    total = 0
    for n in names:
        for path in glob.glob("/sys/fs/cgroup/memory/lxc.payload.%s/memory.usage_in_bytes" % n) + \
                glob.glob("/sys/fs/cgroup/lxc.payload.%s/memory.current" % n):
            with open(path) as f:
                total += int(f.read())
    return total if host.versions.get("memory") else None


def sh(argv, stdin=None):
    return subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)


def playbook(args, workdir, tag):
    path = os.path.join(workdir, "args-%s.json" % tag)
    with open(path, "w") as f:
        json.dump(args, f)
    pb = os.path.join(workdir, "pb.yml")
    with open(pb, "w") as f:
        f.write(PLAYBOOK)
    t = time.monotonic()
    p = sh([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-c", "local", "-i", "localhost,",
            "-e", "ansible_python_interpreter=%s" % PYTHON, "-e", "args_file=%s" % path, pb])
    wall = time.monotonic() - t
    if p.returncode != 0:
        raise RuntimeError("vnodes (%s) failed:\n%s" % (tag, p.stdout[-3000:]))
    return wall


def direct(args, workdir, tag):
    """The module alone: its program run with its arguments file, as Ansible's module runner does
    on a pnode, without ansible-playbook (its start-up, the module's transfer, the result's
    trip back). Wall time of the process."""
    path = os.path.join(workdir, "direct-%s.json" % tag)
    with open(path, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    t = time.monotonic()
    p = subprocess.run([PYTHON, "-P", os.path.join(REPO, "plugins", "modules", "vnodes.py"), path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                       env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "collections")))
    wall = time.monotonic() - t
    if p.returncode != 0 or '"failed": true' in p.stdout:
        raise RuntimeError("vnodes module (%s) failed:\n%s" % (tag, p.stdout[-3000:]))
    return wall


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--vnodes", type=int, default=246)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "lxc.json"))
    a = ap.parse_args(argv)
    n, w = a.vnodes, a.window
    tag = "bl%d" % (os.getpid() % 1000)
    bridge = tag + "-br"
    net = "10.%d" % (160 + os.getpid() % 8)
    work = tempfile.mkdtemp(prefix="vxlab-bench-lxc-", dir="/var/tmp")
    os.chmod(work, 0o755)
    res = {"vnodes": n, "window": w, "nproc": os.cpu_count(),
           "load_before": open("/proc/loadavg").read().split()[:3]}
    t = time.monotonic()
    changed, info = im.ensure(im.validate({}))
    res["image"] = {"rootfs": info["rootfs"], "digest": info["digest"], "built": changed,
                    "seconds": time.monotonic() - t}
    vnodes = [{"name": "%s-%d" % (tag, i), "address": "%s.%d.%d" % (net, i // 250, i % 250 + 2),
               "mac": "02:5c:%02x:%02x:%02x:%02x" % (os.getpid() % 256, 0, i // 256, i % 256),
               "host_if": "%s-%d" % (tag, i)} for i in range(1, n + 1)]
    sd = os.path.join(work, "pnode")
    args = {"platform": tag, "kind": "lxc", "bridge": bridge, "vnodes": vnodes, "prefixlen": 16,
            "mtu": 1450, "gateway": net + ".255.254", "image": info["rootfs"], "window": w,
            "authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchBenchBenchBenchBenchBenchBenchBench bench",
            "state_dir": sd}
    raw_path = os.path.join(work, "raw")
    names = [v["name"] for v in vnodes]
    sh(["ip", "link", "add", bridge, "type", "bridge"])
    sh(["ip", "link", "set", bridge, "up"])
    try:
        # raw's configurations: the same text, written by this script
        os.makedirs(raw_path)
        keys = os.path.join(work, "keys")
        with open(keys, "w") as f:
            f.write(args["authorized_keys"] + "\n")
        for v in vnodes:
            c = dict(v, platform=tag, lxcpath=raw_path, image=info["rootfs"], bridge=bridge,
                     prefixlen=16, mtu=1450, gateway=args["gateway"], authorized_keys=keys,
                     cgroup_lines=[])
            lx.write_config(raw_path, v["name"], lx.render_config(c))

        def raw_start():
            t = time.monotonic()
            p = sh(["xargs", "-P", str(w), "-n", "1", "lxc-start", "-d", "-P", raw_path, "-n"],
                   stdin="\n".join(names) + "\n")
            took = time.monotonic() - t
            if p.returncode != 0:
                res["raw_errors"] = p.stdout[-1000:]
            return took, sum(1 for s in lx.states(raw_path).values() if s["state"] == "RUNNING")

        def raw_stop():
            t = time.monotonic()
            sh(["xargs", "-P", str(w), "-n", "1", "lxc-stop", "-k", "-P", raw_path, "-n"],
               stdin="\n".join(names) + "\n")
            took = time.monotonic() - t
            cg.remove_dirs(cg.Host(), ["lxc.payload.%s" % x for x in names] + ["lxc.monitor.%s" % x for x in names])
            return took

        # warm-up, not counted: the first starts of a run are the slowest, whoever makes them (the
        # table shows this one), which would favour whatever runs second
        res["raw_warmup_start"] = raw_start()[0]
        raw_stop()
        m0 = mem_available()
        res["module_start"] = playbook(args, work, "start")
        running = sum(1 for s in lx.states(os.path.join(sd, "lxc")).values() if s["state"] == "RUNNING")
        res["module_running"] = running
        time.sleep(3)
        m1 = mem_available()
        res["mem_available_per_vnode"] = (m0 - m1) / n
        cgm = cgroup_memory(names)
        res["cgroup_memory_per_vnode"] = None if cgm is None else cgm / n
        res["module_again"] = playbook(args, work, "again")
        res["module_absent"] = playbook({"platform": tag, "kind": "lxc", "state": "absent",
                                         "state_dir": sd}, work, "absent")
        # the module alone and raw, interleaved, REPS times each (best of: this machine's load
        # comes and goes); the module's containers of the first call are gone
        for key in ("module_alone_starts", "module_alone_absents", "raw_starts", "raw_stops"):
            res[key] = []
        for _rep in range(REPS):
            res["module_alone_starts"].append(direct(args, work, "start"))
            res["module_alone_running"] = sum(1 for s in lx.states(os.path.join(sd, "lxc")).values()
                                              if s["state"] == "RUNNING")
            res["module_alone_absents"].append(direct({"platform": tag, "kind": "lxc", "state": "absent",
                                                       "state_dir": sd}, work, "absent"))
            took, res["raw_running"] = raw_start()
            res["raw_starts"].append(took)
            res["raw_stops"].append(raw_stop())
        res["module_alone_start"] = min(res["module_alone_starts"])
        res["raw_start"] = min(res["raw_starts"])
        res["raw_stop"] = min(res["raw_stops"])
    finally:
        sh([PYTHON, "-c", "pass"])
        if os.path.isdir(os.path.join(sd, "lxc")):
            playbook({"platform": tag, "kind": "lxc", "state": "absent", "state_dir": sd}, work, "cleanup")
        if os.path.isdir(raw_path):
            left = [s for s, st in lx.states(raw_path).items() if st["state"] != "STOPPED"]
            lx.run_parallel("stop", raw_path, left, w)
            cg.remove_dirs(cg.Host(), ["lxc.payload.%s" % x for x in names] + ["lxc.monitor.%s" % x for x in names])
        sh(["ip", "link", "del", bridge])
        shutil.rmtree(work, ignore_errors=True)
    res["load_after"] = open("/proc/loadavg").read().split()[:3]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    with open(os.path.join(os.path.dirname(a.out), "lxc.md"), "w") as f:
        f.write(markdown(res))
    print(json.dumps(res, indent=1, sort_keys=True))
    return 0


def markdown(r):
    mib = 2.0 ** 20
    cgm = r.get("cgroup_memory_per_vnode")
    return "\n".join([
        "## LXC vnodes on one pnode (`bench/bench_lxc.py`)", "",
        "%d LXC vnodes (Debian minbase image, overlay per vnode, sshd as init), parallel window %d, "
        "%s CPUs, load %s before / %s after." % (r["vnodes"], r["window"], r["nproc"],
                                                 " ".join(r["load_before"]), " ".join(r["load_after"])),
        "",
        "| what | time | running after |", "|---|---|---|",
        "| `vxlab.emulation.vnodes` kind lxc (whole ansible-playbook call: configs, starts, namespaces, aliases) | %.1f s | %d/%d |"
        % (r["module_start"], r["module_running"], r["vnodes"]),
        "| the module alone (its program run with its arguments, no ansible-playbook), best of %d interleaved with raw (%s) | %.1f s | %d/%d |"
        % (len(r["module_alone_starts"]), ", ".join("%.1f" % x for x in r["module_alone_starts"]),
           r["module_alone_start"], r["module_alone_running"], r["vnodes"]),
        "| raw `xargs -P %d lxc-start -d` (same configurations, written beforehand), best of %d (%s) | %.1f s | %d/%d |"
        % (r["window"], len(r["raw_starts"]), ", ".join("%.1f" % x for x in r["raw_starts"]),
           r["raw_start"], r["raw_running"], r["vnodes"]),
        "| (raw's warm-up start, the first of the run, not counted) | %.1f s | |" % r["raw_warmup_start"],
        "| ratio module alone / raw (best of each); whole call / raw | %.2fx; %.2fx | |"
        % (r["module_alone_start"] / r["raw_start"], r["module_start"] / r["raw_start"]),
        "| module again (no change) | %.1f s | |" % r["module_again"],
        "| module `state: absent` (stop, delta, cgroups) | %.1f s | |" % r["module_absent"],
        "| raw `xargs -P %d lxc-stop -k` | %.1f s | |" % (r["window"], r["raw_stop"]),
        "",
        "Memory per running vnode: %.2f MiB of MemAvailable; %s of its memory cgroup."
        % (r["mem_available_per_vnode"] / mib,
           "n/a" if cgm is None else "%.2f MiB" % (cgm / mib)),
        "Base image: %s (%s, %.1f s)." % (r["image"]["digest"], "built in this run" if r["image"]["built"]
                                          else "cached", r["image"]["seconds"]),
        ""])


if __name__ == "__main__":
    sys.exit(main())
