"""Soak test: deploy and destroy the same platform N times on a testbed; count what leaks.

After every destroy it records, on every pnode (over SSH) and on the control host: named network
namespaces, interfaces, processes of the platform (sshmux daemons and vnode sshd), the pnode
state directories' files; and the machine's MemAvailable and Slab (after the kernel has had
time to free deleted namespaces). The run passes when the last cycle leaves exactly what the
first found before any deploy, and memory does not grow from the first destroy to the last by
more than a tolerance (noise of a shared machine).

    .venv/bin/python bench/soak.py --cycles 20 --pnodes 3 --vnodes 10 --out bench/out/soak.json
    .venv/bin/python bench/soak.py --report bench/out/soak.json --results bench/RESULTS.md

``--results`` (re)writes the section "Soak" of RESULTS.md between its markers.
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VXLAB = os.path.join(REPO, ".venv", "bin", "vxlab")
BEGIN = "<!-- soak: begin (bench/soak.py) -->"
END = "<!-- soak: end -->"
#: MiB of MemAvailable the last cycle may lose against the first (shared, noisy machine)
MEM_TOLERANCE_MIB = 64


def sh(argv, timeout=600):
    return subprocess.run(argv, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, check=False)


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0]) // 1024
    return {"mem_available_mib": out["MemAvailable"], "slab_mib": out["Slab"]}


def snapshot(name, ssh_config, pnodes, network=None):
    """What exists of the testbed's platform, per pnode and on the control host."""
    snap = {"pnodes": {}}
    for p in pnodes:
        proc = sh(["ssh", "-F", ssh_config, p, "--",
                   "ip netns list | wc -l; ip -o link | wc -l; "
                   "ps -eo args | grep -c '[s]shmux.*inventories/%s/state'; "
                   "find %s/inventories/%s/state -type f 2>/dev/null | wc -l" % (name, REPO, name)])
        fields = proc.stdout.split()
        snap["pnodes"][p] = {"netns": int(fields[0]), "links": int(fields[1]),
                             "sshmux": int(fields[2]), "state_files": int(fields[3])} \
            if proc.returncode == 0 and len(fields) == 4 else {"error": proc.stderr.strip()}
    links = sh(["ip", "-o", "link"]).stdout.splitlines()
    routes = sh(["ip", "route"]).stdout.splitlines()
    snap["control"] = {"links": sum(1 for ln in links if name in ln),
                       "routes": sum(1 for ln in routes if network and ln.startswith(network + " "))}
    return snap


def settle(seconds=3.0):
    time.sleep(seconds)  # namespace teardown is asynchronous in the kernel


def run(args):
    name = args.name
    started = time.time()
    up = sh([VXLAB, "testbed", "up", "--name", name, "--pnodes", str(args.pnodes), "-e",
             "vxlab_vnodes_per_pnode=%d" % args.vnodes, "-e", "vxlab_vnode_kind=netns", "--json", "-q"])
    if up.returncode != 0:
        raise SystemExit("testbed up failed: %s" % up.stderr)
    info = json.loads(up.stdout)
    inv, ssh_config = info["inventory"], info["ssh_config"]
    pnodes = [p["name"] for p in info["pnodes"]]
    with open(os.path.join(info["dir"], "testbed.json")) as f:
        network = json.load(f).get("vnode_network")
    cycles = []
    try:
        settle()
        baseline = {"snapshot": snapshot(name, ssh_config, pnodes, network), "memory": meminfo()}
        for i in range(1, args.cycles + 1):
            t0 = time.monotonic()
            dep = sh([VXLAB, "deploy", "-i", inv, "-q", "--json"])
            t1 = time.monotonic()
            des = sh([VXLAB, "destroy", "-i", inv, "-q", "--json"])
            t2 = time.monotonic()
            settle()
            c = {"cycle": i, "deploy_ok": dep.returncode == 0, "destroy_ok": des.returncode == 0,
                 "deploy_s": round(t1 - t0, 2), "destroy_s": round(t2 - t1, 2),
                 "snapshot": snapshot(name, ssh_config, pnodes, network), "memory": meminfo()}
            if dep.returncode != 0 or des.returncode != 0:
                c["error"] = (dep.stderr if dep.returncode else des.stderr)[-1000:]
            cycles.append(c)
            print("[soak] cycle %d: deploy %s %.1fs, destroy %s %.1fs, MemAvailable %d MiB, Slab %d MiB"
                  % (i, "ok" if c["deploy_ok"] else "FAILED", c["deploy_s"],
                     "ok" if c["destroy_ok"] else "FAILED", c["destroy_s"],
                     c["memory"]["mem_available_mib"], c["memory"]["slab_mib"]), file=sys.stderr, flush=True)
    finally:
        sh([VXLAB, "destroy", "-i", inv, "-q"])
        sh([VXLAB, "testbed", "down", "--name", name, "-q"])
    leaked = [c["cycle"] for c in cycles if c["snapshot"] != baseline["snapshot"]]
    first, last = cycles[0]["memory"], cycles[-1]["memory"]
    growth = first["mem_available_mib"] - last["mem_available_mib"]
    result = {
        "name": name, "cycles": args.cycles, "pnodes": args.pnodes, "vnodes_per_pnode": args.vnodes,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1), "nproc": os.cpu_count(),
        "kernel": os.uname().release, "baseline": baseline, "per_cycle": cycles,
        "all_ok": all(c["deploy_ok"] and c["destroy_ok"] for c in cycles),
        "cycles_with_leftovers": leaked,
        "mem_available_loss_mib": growth,
        "slab_growth_mib": last["slab_mib"] - first["slab_mib"],
        "mem_tolerance_mib": MEM_TOLERANCE_MIB,
    }
    result["leftovers_at_end"] = bool(cycles) and cycles[-1]["snapshot"] != baseline["snapshot"]
    result["passed"] = result["all_ok"] and not leaked and growth <= MEM_TOLERANCE_MIB
    return result


def report(result):
    c = result["per_cycle"]
    leftovers = result.get("leftovers_at_end",
                           result["per_cycle"][-1]["snapshot"] != result["baseline"]["snapshot"])
    leftover_word = "LEFTOVERS" if leftovers else "none"
    lines = [
        BEGIN,
        "## Soak: deploy + destroy the same platform %d times" % result["cycles"],
        "",
        "Command: `make soak` (= `.venv/bin/python bench/soak.py --cycles %d --pnodes %d --vnodes %d`), "
        "started %s, took %.0f s; `nproc` %s; kernel %s."
        % (result["cycles"], result["pnodes"], result["vnodes_per_pnode"], result["started"],
           result["duration_s"], result["nproc"], result["kernel"]),
        "",
        "**Result: %s** — every deploy and destroy succeeded: %s; cycles that left anything behind "
        "(namespaces, interfaces, sshmux daemons, state files on a pnode; interfaces or vxlab routes "
        "on the control host, compared with the state before the first deploy): %s; MemAvailable "
        "lost from the first destroy to the last: %d MiB (tolerance %d MiB), Slab growth %d MiB."
        % ("PASSED" if result["passed"] else "FAILED", "yes" if result["all_ok"] else "NO",
           ", ".join(map(str, result["cycles_with_leftovers"])) or "none",
           result["mem_available_loss_mib"], result["mem_tolerance_mib"], result["slab_growth_mib"]),
        "",
        "Objects at the end (after cycle %d, compared with before the first deploy): %s. "
        "Memory: judge the trend of the table; MemAvailable and Slab are the whole machine's and "
        "move with every other job running on it." % (result["cycles"], leftover_word),
        "",
        "| cycle | deploy (s) | destroy (s) | netns left (all pnodes) | links per pnode | sshmux "
        "| control routes to the vnode network | MemAvailable (MiB) | Slab (MiB) |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    base = result["baseline"]
    rows = [("before", "", "", base)] + [(x["cycle"], x["deploy_s"], x["destroy_s"], x) for x in c]
    for label, d, s, x in rows:
        snap = x["snapshot"]["pnodes"]
        lines.append("| %s | %s | %s | %d | %s | %d | %d | %d | %d |" % (
            label, d, s, sum(v.get("netns", 0) for v in snap.values()),
            "/".join(str(v.get("links", "?")) for v in snap.values()),
            sum(v.get("sshmux", 0) for v in snap.values()), x["snapshot"]["control"]["routes"],
            x["memory"]["mem_available_mib"], x["memory"]["slab_mib"]))
    lines += ["", "MemAvailable is the whole machine's, which other jobs share: read the trend, "
              "not single values.", END]
    return "\n".join(lines) + "\n"


def write_section(path, text):
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        old = ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        new = head + text + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--pnodes", type=int, default=3)
    ap.add_argument("--vnodes", type=int, default=10)
    ap.add_argument("--name", default="sk%d" % (os.getpid() % 10000))
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "soak.json"))
    ap.add_argument("--results", help="RESULTS.md whose soak section is (re)written")
    ap.add_argument("--report", metavar="JSON", help="only write the section from a previous run")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            result = json.load(f)
    else:
        if os.geteuid() != 0:
            raise SystemExit("soak needs root (testbed)")
        result = run(args)
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
    if args.results:
        write_section(args.results, report(result))
    print("soak: %s (%d cycles, leftovers after cycles %s, MemAvailable loss %d MiB)" % (
        "PASSED" if result["passed"] else "FAILED", result["cycles"],
        result["cycles_with_leftovers"] or "none", result["mem_available_loss_mib"]))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
