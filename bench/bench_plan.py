"""Benchmark of the pure address plan (plugins/module_utils/_plan.py): no root, no system change.

    .venv/bin/python bench/bench_plan.py [--out bench/out/plan.json] [--repeat 5]

Platforms (the variables are given as Ansible would hand them to the plan action: one hostvars
mapping per pnode with ansible_host, vxlab_underlay_address, vxlab_pnode_index and the group's
platform variables):

* ``paper``: 162 pnodes x 246 vnodes = 39,852 vnodes in a /15 (the Distem paper's platform);
* ``40k``: exactly 40,000 vnodes on 162 pnodes (148 x 247 + 14 x 246, per-pnode vxlab_vnodes);
* ``100k``: 400 pnodes x 250 vnodes = 100,000 vnodes in a /15;
* a curve of 1,000 .. 100,000 vnodes at 250 per pnode, for the plot (``--curve-repeat`` rounds
  over all the points, best per point).

Per platform, each phase is timed ``--repeat`` times (gc.collect() before each run, the garbage
collector left on as in Ansible) and the best and the median are kept:

* ``validate``: :func:`spec_from_hostvars` alone (every variable checked, nothing expanded);
* ``plan``: validate + build + every vnode record (``Plan.vnodes``) + every pnode's facts
  (``Plan.pnode_facts``, what a pnode's tasks receive) -- the headline "plan + validate" figure;
* ``action``: what the ``vxlab.emulation.plan`` action does on the controller for one deploy:
  plan, ``to_json()`` for the digest, sha256, and one JSON document per pnode (serialised in
  memory, not written to disk);
* ``to_json``: ``Plan.to_json()`` of an already built plan (time and size in bytes);
* ``floor``: the raw baseline, a bare loop producing the same vnode records (name, address, MAC)
  with integer arithmetic and no validation, measured in the same run; ``plan / floor`` is the
  price of the model.

Peak memory of ``plan`` is measured in a fresh subprocess per platform: tracemalloc's peak (Python
allocations) and the growth of VmHWM (peak resident set) over the same process after its
imports.

Progress lines go to stderr; the results (JSON) to ``--out``.
"""
import argparse
import gc
import hashlib
import json
import os
import platform as _platform
import statistics
import socket
import struct
import subprocess
import sys
import time
import tracemalloc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.vxlab.emulation.plugins.module_utils._plan import (  # noqa: E402
    plan_from_hostvars,
    spec_from_hostvars,
)

NETWORK = "10.144.0.0/15"
UNDERLAY = "192.168.0.0/16"
CURVE = (1000, 2000, 5000, 10000, 20000, 40000, 60000, 80000, 100000)
PER_PNODE = 250


def say(line):
    print("[bench_plan %s] %s" % (time.strftime("%H:%M:%S"), line), file=sys.stderr, flush=True)


def platform_vars(counts, network=NETWORK, name="bench"):
    """(pnode names, hostvars_of) for pnodes carrying ``counts[i]`` vnodes each."""
    per = max(counts)
    group = {
        "vxlab_platform": name,
        "vxlab_vnodes_per_pnode": per,
        "vxlab_vnode_network": network,
        "vxlab_underlay_network": UNDERLAY,
        "vxlab_pnode_stride": per,
    }
    names, hostvars = [], {}
    for i, count in enumerate(counts):
        n = "pnode-%d" % (i + 1)
        address = "192.168.%d.%d" % (i // 250, i % 250 + 1)
        hv = dict(group, ansible_host=address, vxlab_underlay_address=address,
                  vxlab_pnode_index=i)
        if count != per:
            hv["vxlab_vnodes"] = count
        names.append(n)
        hostvars[n] = hv
    return names, hostvars.__getitem__


PLATFORMS = {
    "paper": [246] * 162,
    "40k": [247] * 148 + [246] * 14,
    "100k": [250] * 400,
}


def curve_counts(total):
    pnodes = total // PER_PNODE
    return [PER_PNODE] * pnodes


# --------------------------------------------------------------------------------------------
# the measured phases


def phase_validate(names, hv):
    return spec_from_hostvars(names, hv)


def phase_plan(names, hv):
    plan = plan_from_hostvars(names, hv)
    vnodes = plan.vnodes
    facts = [plan.pnode_facts(n) for n in names]
    return plan, vnodes, facts


def phase_action(names, hv):
    plan = plan_from_hostvars(names, hv)
    digest = hashlib.sha256(("%s|%s" % (plan.to_json(), True)).encode()).hexdigest()
    size = 0
    for p in plan.pnodes:
        size += len(json.dumps(plan.pnode_facts(p.name, with_vnodes=True), sort_keys=True))
    return digest, size


def phase_floor(counts, network=NETWORK, name="bench"):
    """Raw baseline: the same vnode records from a bare loop, nothing validated."""
    first = struct.unpack("!I", socket.inet_aton(network.split("/")[0]))[0]
    stride = max(counts)
    out = []
    for k, count in enumerate(counts):
        for i in range(count):
            g = k * stride + i
            ip = first + 2 + g
            packed = struct.pack("!I", ip)
            out.append({"name": "%s-%d" % (name, g + 1), "address": socket.inet_ntoa(packed),
                        "mac": "02:00:%02x:%02x:%02x:%02x" % struct.unpack("!4B", packed)})
    return out


def timed(fn, repeat):
    times = []
    result = None
    for dummy in range(repeat):
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return {"best": min(times), "median": statistics.median(times), "runs": times}, result


def measure(label, counts, repeat):
    names, hv = platform_vars(counts)
    total = sum(counts)
    say("%s: %d vnodes on %d pnodes, %d runs per phase" % (label, total, len(counts), repeat))
    res = {"label": label, "vnodes": total, "pnodes": len(counts), "network": NETWORK,
           "per_pnode": sorted(set(counts))}
    res["validate"], dummy = timed(lambda: phase_validate(names, hv), repeat)
    res["plan"], (plan, vnodes, facts) = timed(lambda: phase_plan(names, hv), repeat)
    assert len(vnodes) == total and len({v["address"] for v in vnodes}) == total
    say("  plan + validate: best %.3f s, median %.3f s" % (res["plan"]["best"],
                                                           res["plan"]["median"]))
    res["to_json"], text = timed(plan.to_json, repeat)
    res["json_bytes"] = len(text)
    res["json_bytes_per_vnode"] = len(text) / float(total)
    say("  to_json: best %.3f s, %.1f MB" % (res["to_json"]["best"], len(text) / 1e6))
    del plan, vnodes, facts, text
    res["action"], (dummy, facts_bytes) = timed(lambda: phase_action(names, hv), repeat)
    res["facts_bytes"] = facts_bytes
    say("  plan action work: best %.3f s" % res["action"]["best"])
    res["floor"], floor = timed(lambda: phase_floor(counts), repeat)
    assert len(floor) == total
    del floor
    res["plan_over_floor"] = res["plan"]["best"] / res["floor"]["best"]
    say("  raw floor (bare loop): best %.3f s; plan/floor %.1fx"
        % (res["floor"]["best"], res["plan_over_floor"]))
    res["memory"] = memory_in_subprocess(label, counts)
    say("  peak memory: tracemalloc %.1f MiB, VmHWM +%.1f MiB (RSS +%.1f MiB held)"
        % (res["memory"]["tracemalloc_peak"] / 2.0 ** 20, res["memory"]["hwm_growth"] / 2.0 ** 20,
           res["memory"]["rss_growth"] / 2.0 ** 20))
    return res


def memory_in_subprocess(label, counts):
    argv = [sys.executable, os.path.abspath(__file__), "--memory-child", json.dumps(counts)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=600).stdout
    return json.loads(out)


def vm_status():
    """VmHWM (peak RSS) and VmRSS of this process, in bytes.

    ru_maxrss is not used: a child started by vfork+exec inherits its parent's high-water mark
    in ru_maxrss, while VmHWM belongs to the new address space.
    """
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, dummy, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) * 1024
    return out


def memory_child(counts):
    """Runs alone in a fresh interpreter: peak memory of one ``plan`` phase."""
    names, hv = platform_vars(counts)
    gc.collect()
    before = vm_status()
    kept = phase_plan(names, hv)
    after = vm_status()
    del kept
    gc.collect()
    tracemalloc.start()
    kept = phase_plan(names, hv)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    total = sum(counts)
    print(json.dumps({
        "hwm_after_imports": before["VmHWM"], "hwm_after_plan": after["VmHWM"],
        "hwm_growth": after["VmHWM"] - before["VmHWM"],
        "rss_growth": after["VmRSS"] - before["VmRSS"], "tracemalloc_peak": peak,
        "tracemalloc_held": current, "bytes_per_vnode_peak": peak / float(total),
        "vnodes": total, "records": len(kept[1]),
    }))


def machine():
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"nproc": os.cpu_count(), "kernel": _platform.release(),
            "python": _platform.python_version(), "loadavg": load,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "plan.json"))
    ap.add_argument("--repeat", type=int, default=5, help="runs per phase (5)")
    ap.add_argument("--curve-repeat", type=int, default=5, help="runs per curve point (5)")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(json.loads(args.memory_child))
        return 0

    started = time.monotonic()
    result = {"command": " ".join([os.path.relpath(sys.executable, REPO)] + [
        os.path.relpath(os.path.abspath(__file__), REPO)] + (argv if argv is not None else sys.argv[1:])),
        "machine": machine(), "platforms": {}, "curve": []}
    for label in ("paper", "40k", "100k"):
        result["platforms"][label] = measure(label, PLATFORMS[label], args.repeat)
    say("curve: %s vnodes at %d per pnode, %d rounds over all points (a load burst on the shared "
        "machine then hits one round, not every run of a point)"
        % ("/".join(str(n) for n in CURVE), PER_PNODE, args.curve_repeat))
    points = [{"vnodes": total, "pnodes": total // PER_PNODE,
               "times": {"validate": [], "plan": [], "to_json": [], "floor": []}} for total in CURVE]
    for rnd in range(args.curve_repeat):
        for point in points:
            counts = curve_counts(point["vnodes"])
            names, hv = platform_vars(counts)
            t = point["times"]
            t["validate"] += timed(lambda: phase_validate(names, hv), 1)[0]["runs"]
            m, (plan, dummy, dummy) = timed(lambda: phase_plan(names, hv), 1)
            t["plan"] += m["runs"]
            t["to_json"] += timed(plan.to_json, 1)[0]["runs"]
            t["floor"] += timed(lambda: phase_floor(counts), 1)[0]["runs"]
            del plan
        say("  round %d/%d done" % (rnd + 1, args.curve_repeat))
    for point in points:
        times = point.pop("times")
        for key, runs in times.items():
            point[key] = {"best": min(runs), "median": statistics.median(runs), "runs": runs}
        result["curve"].append(point)
        say("  %6d vnodes: plan %.3f s, to_json %.3f s, floor %.3f s (best of %d)"
            % (point["vnodes"], point["plan"]["best"], point["to_json"]["best"],
               point["floor"]["best"], args.curve_repeat))
    result["duration"] = time.monotonic() - started
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    say("done in %.0f s: %s" % (result["duration"], args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
