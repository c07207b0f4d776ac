"""Benchmark: the largest platform this one machine holds (root; `make bench-max`).

    .venv/bin/python bench/bench_max.py [--counts 20000,30000,39852] [--pnodes 20]
                                        [--out bench/out/max.json] [--results bench/RESULTS.md]

One testbed of ``--pnodes`` pnodes; for each count in turn (netns vnodes, dynamic ARP: on one shared
kernel, static tables would hold vnodes x platform entries per pnode and suppression 2 x platform
per pnode, while dynamic ARP holds only the pairs that talk), until one fails:

1. ``vxlab deploy`` (wall time; MemAvailable and Slab growth per vnode);
2. ``vxlab check --sample 1 --ssh-sample 2``: every pnode pair pinged, SSH into 2 vnodes of each pnode;
3. ``true`` on every vnode with ClusterShell from the gateway pnode, in one run launched as
   ``vxlab experiment`` launches it (without its SSH probe of each vnode first, which would cost
   as much again; ``--no-true`` skips it: every SSH session costs ~0.1 s of the 2 cores, more
   under load: 15,188 of 20,000 vnodes had answered after 63 minutes in one run);
4. the kernel's state at that size: neighbour entries of the control host, FDB entries of the
   gateway pnode's bridge, namespaces;
5. ``vxlab destroy``, then no namespace of the platform may be left.

Before a count, the memory it would need (the previous count's KiB per vnode, or 400 KiB) is
compared with MemAvailable less ``--reserve`` MiB: a count that cannot fit is recorded as such,
not tried. What broke first and at which count goes to the section "Largest platform" of
``--results``. Everything made is removed in ``finally`` blocks.
"""
import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_deploy as bd  # noqa: E402
import bench_topology as bt  # noqa: E402  (write_section)

REPO = bd.REPO
VXLAB = bd.VXLAB
TAG = bd.TAG
BEGIN, END = "<!-- max: begin -->", "<!-- max: end -->"


def say(line):
    print("[bench_max %s] %s" % (time.strftime("%H:%M:%S"), line), file=sys.stderr, flush=True)


def vxlab(args, label, timeout=7200):
    wall, rc, out, err, dummy = bd.run_vxlab(args, label, timeout=timeout,
                                             echo=lambda line: "FAILED" in line or "still running" in line
                                             or "PLAY" in line)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    return wall, rc, doc, err


def count_lines(argv):
    proc = bd.run(argv, check=False)
    return len(proc.stdout.splitlines()) if proc.returncode == 0 else None


def true_everywhere(inv, n, per, workdir):
    """``true`` on all ``n`` vnodes in one ClusterShell run from the gateway pnode, as the
    experiment launches it (``vxlab.experiment``: same launcher, tools and counting), without its
    SSH probe of every vnode first: at this size the probe costs as much as the run, and a vnode
    that does not answer counts as a failure of the run here."""
    from vxlab import experiment as ex  # pylint: disable=import-outside-toplevel

    exp = ex.Experiment([inv], os.path.join(workdir, "true-%d" % n), str(n), repeat=1, methods="clush",
                        extra_vars={"vxlab_vnodes_per_pnode": per})
    exp.preflight()
    say("true on %d vnodes: clush from %s, fanout %d" % (n, exp.launcher or "control", exp.tools.fanout))
    seconds, ok, failed, rc, where, wall = exp.measure("clush", list(exp.order))
    say("true on %d vnodes: %.1f s (%s), %d ok, %d failed" % (n, seconds, where, len(ok), len(failed)))
    return {"seconds": seconds, "timed_at": where, "wall": wall, "rc": rc, "ok_nodes": len(ok),
            "failed": len(failed), "ok": rc == 0 and len(ok) == n and not failed,
            "first_failures": ["%s: %s" % (k, failed[k]) for k in sorted(failed)[:3]],
            "fanout": exp.tools.fanout, "launcher": exp.launcher or "control"}


def kernel_counters():
    """The machine's counters a lost ping can leave a trace in: packets the input backlog dropped
    (``/proc/net/softnet_stat``, every CPU) and, from the IPv4 neighbour statistics
    (``/proc/net/stat/arp_cache``, every CPU), resolutions that failed, packets discarded while
    unresolved, a full table refusing an entry, and the hash growing."""
    out = {"backlog_drops": 0}
    with open("/proc/net/softnet_stat") as f:
        for line in f:
            out["backlog_drops"] += int(line.split()[1], 16)
    with open("/proc/net/stat/arp_cache") as f:
        head = f.readline().split()
        for line in f:
            for key, value in zip(head, line.split()):
                if key in ("res_failed", "unresolved_discards", "table_fulls", "hash_grows"):
                    out[key] = out.get(key, 0) + int(value, 16)
    return out


def one_count(inv, n, pnodes, names, true_all, workdir):
    per = n // pnodes
    ev = ["-e", "vxlab_vnodes_per_pnode=%d" % per]
    res = {"vnodes": per * pnodes, "per_pnode": per}
    ns0 = len(bd.netns_names())
    m0 = bd.settled_meminfo()
    wall, rc, doc, err = vxlab(["deploy", "-i", inv] + ev, "deploy %d" % n)
    res["deploy"] = wall
    if rc != 0:
        res["broke"] = "deploy: %s" % " | ".join(err[-5:])
        return res
    time.sleep(bd.SETTLE)
    mem = bd.mem_delta(m0, bd.meminfo(), res["vnodes"])
    res["kib_per_vnode"] = mem["MemAvailable"]["per_vnode"] / 1024.0
    res["slab_kib_per_vnode"] = mem["Slab"]["per_vnode"] / 1024.0
    res["mem_available_after"] = bd.meminfo()["MemAvailable"]
    t0, k0 = time.perf_counter(), kernel_counters()
    wall, rc, chk, err = vxlab(["check", "-i", inv, "--sample", "1", "--ssh-sample", "2"] + ev, "check %d" % n)
    k1 = kernel_counters()
    pairs = (chk or {}).get("pairs") or []
    ssh = (chk or {}).get("ssh") or {}
    failures = [f for p in pairs for f in p.get("failures") or []]
    res["check"] = {"wall": time.perf_counter() - t0, "ok": rc == 0 and bool(chk and chk.get("ok")),
                    "pairs": len(pairs), "failed_pairs": sum(1 for p in pairs if p.get("failed")),
                    "ssh_failed": len(ssh.get("failed") or []),
                    "first_failures": (failures + ["ssh %s: %s" % kv for kv in sorted((ssh.get("errors") or {}).items())])[:5],
                    "kernel": dict((k, k1[k] - k0.get(k, 0)) for k in k1)}
    if not res["check"]["ok"]:
        res["broke"] = "check: %s of %d pnode pairs lost pings, SSH into %d vnodes failed; first: %s" % (
            res["check"]["failed_pairs"], len(pairs), len(ssh.get("failed") or []),
            "; ".join(res["check"]["first_failures"]) or " | ".join(err[-5:]))
    if true_all:  # also after a failed check: what the run reaches is worth recording
        res["true"] = true_everywhere(inv, res["vnodes"], per, workdir)
        if not res["true"]["ok"] and "broke" not in res:
            res["broke"] = "true on every vnode: %d of %d failed (%s)" % (
                res["true"]["failed"], res["vnodes"], "; ".join(res["true"]["first_failures"]))
    # the kernel's state at this size
    res["control_neigh"] = count_lines(["ip", "-4", "neigh", "show"])
    res["gateway_fdb"] = count_lines(["bridge", "-n", "vt-%s" % names[0], "fdb", "show"])
    res["netns_machine"] = len(bd.netns_names())
    wall, rc, doc, err = vxlab(["destroy", "-i", inv] + ev, "destroy %d" % n)
    res["destroy"] = wall
    if rc != 0:
        res["broke"] = res.get("broke") or "destroy: %s" % " | ".join(err[-5:])
    res["netns_left"] = len(bd.netns_names()) - ns0
    return res


def report(result):
    rows = result["rows"]
    lines = [BEGIN, "## Largest platform on this machine (`make bench-max`)", "",
             "Command: `%s` (took %.0f s)  " % (result["command"], result.get("seconds", 0)),
             "Machine: %s CPUs, %.1f GiB of memory, kernel %s; %d pnodes (network namespaces with sshd), netns "
             "vnodes, dynamic ARP (on one shared kernel static tables would hold vnodes x platform entries per "
             "pnode, suppression 2 x platform per pnode)." % (
                 result["machine"]["cpus"], result["machine"]["mem_total"] / 2.0 ** 30, result["machine"]["kernel"],
                 result["pnodes"]), "",
             "| vnodes | per pnode | deploy | vnodes/s | KiB/vnode (Slab) | check (pairs) | `true` on every vnode (clush) "
             "| control host neighbours | gateway FDB | destroy | namespaces left |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r.get("skipped"):
            lines.append("| %d | %d | not tried: %s | | | | | | | | |" % (r["vnodes"], r["per_pnode"], r["skipped"]))
            continue
        t = r.get("true")
        lines.append("| %d | %d | %.1f s | %.0f | %s | %s | %s | %s | %s | %s | %s |" % (
            r["vnodes"], r["per_pnode"], r["deploy"], r["vnodes"] / r["deploy"],
            "%.0f (%.0f)" % (r["kib_per_vnode"], r["slab_kib_per_vnode"]) if "kib_per_vnode" in r else "",
            "%s (%d)" % ("ok" if r["check"]["ok"] else "FAILED", r["check"]["pairs"]) if "check" in r else "",
            ("%.0f s (fanout %d), %s: %d of %d answered" % (t["seconds"], t["fanout"], "ok" if t["ok"] else "FAILED",
                                                            t["ok_nodes"], r["vnodes"])) if t else "not run",
            r.get("control_neigh", ""), r.get("gateway_fdb", ""), "%.1f s" % r["destroy"] if "destroy" in r else "",
            r.get("netns_left", "")))
    broke = [r for r in rows if r.get("broke") or r.get("skipped")]
    ok = [r for r in rows if not r.get("broke") and not r.get("skipped")]
    lines.append("")
    lines.append("Largest platform deployed, checked%s and destroyed with nothing left: **%s**." % (
        ", `true` run on every vnode" if result.get("true") else "",
        "%d vnodes" % max(r["vnodes"] for r in ok) if ok else "none"))
    for r in rows:
        k = (r.get("check") or {}).get("kernel")
        if k:
            lines.append("During the check at %d vnodes (whole machine): %d packets dropped by the input backlog, "
                         "%d failed ARP resolutions, %d packets discarded unresolved, %d refusals of a full "
                         "neighbour table, %d growths of its hash." % (
                             r["vnodes"], k.get("backlog_drops", 0), k.get("res_failed", 0),
                             k.get("unresolved_discards", 0), k.get("table_fulls", 0), k.get("hash_grows", 0)))
    if broke:
        first = broke[0]
        lines.append("What broke first: at %d vnodes, %s." % (first["vnodes"], first.get("broke") or first.get("skipped")))
    else:
        lines.append("Nothing broke up to the largest count asked.")
    if result.get("errors"):
        lines.append("Errors: %s" % "; ".join(result["errors"]))
    lines.append(END)
    return "\n".join(lines) + "\n"


def _interrupted(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, _interrupted)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="20000,30000,39852")
    ap.add_argument("--pnodes", type=int, default=20)
    ap.add_argument("--reserve", type=int, default=2048, help="MiB of MemAvailable kept free")
    ap.add_argument("--no-true", action="store_true", help="skip `true` on every vnode")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "max.json"))
    ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    if args.report_only:
        with open(args.out) as f:
            result = json.load(f)
        bt.write_section(args.results, report(result), BEGIN, END)
        return 0
    if os.geteuid() != 0:
        raise SystemExit("bench_max.py needs root")
    counts = [int(x) for x in args.counts.split(",") if x]
    command = "bench/bench_max.py --counts %s --pnodes %d%s" % (
        args.counts, args.pnodes, " --no-true" if args.no_true else "")
    result = {"command": command,
              "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                          "mem_total": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")},
              "pnodes": args.pnodes, "true": not args.no_true, "rows": [], "errors": []}
    started = time.perf_counter()
    name = "zx%s" % TAG
    workdir = os.path.join(REPO, "bench", "out", "max")
    os.makedirs(workdir, exist_ok=True)
    try:
        up = bd.run([VXLAB, "testbed", "up", "--name", name, "--pnodes", str(args.pnodes),
                     "-e", "vxlab_vnode_kind=netns", "-e", "vxlab_vnode_network=10.128.0.0/12",
                     "--json", "-q"], timeout=900)
        info = json.loads(up.stdout)
        inv = info["inventory"]
        names = [p["name"] for p in info["pnodes"]]
        per_vnode = 400 * 1024
        for n in counts:
            per = n // args.pnodes
            need = per * args.pnodes * per_vnode
            free = bd.meminfo()["MemAvailable"] - args.reserve * 2 ** 20
            if need > free:
                result["rows"].append({"vnodes": per * args.pnodes, "per_pnode": per,
                                       "skipped": "memory: would need %.1f GiB at %.0f KiB per vnode, %.1f GiB available "
                                                  "above the reserve" % (need / 2.0 ** 30, per_vnode / 1024.0, free / 2.0 ** 30)})
                break
            say("=== %d vnodes (%d per pnode) ===" % (per * args.pnodes, per))
            row = one_count(inv, n, args.pnodes, names, not args.no_true, workdir)
            result["rows"].append(row)
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1, sort_keys=True)
            if row.get("kib_per_vnode"):
                per_vnode = max(per_vnode, row["kib_per_vnode"] * 1024 * 1.1)
            if row.get("broke"):
                say("broke at %d: %s" % (n, row["broke"]))
                bd.run([VXLAB, "destroy", "-i", inv, "-e", "vxlab_vnodes_per_pnode=%d" % per, "-q"], check=False,
                       timeout=1800)
                break
    except (bd.BenchError, OSError, ValueError) as exc:
        result["errors"].append(str(exc)[-500:])
    finally:
        down = bd.run([VXLAB, "testbed", "down", "--name", name, "--json", "-q"], check=False, timeout=1800)
        try:
            result["testbed_down_ok"] = json.loads(down.stdout).get("ok")
        except ValueError:
            result["testbed_down_ok"] = False
    result["seconds"] = time.perf_counter() - started
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    if args.results:
        bt.write_section(args.results, report(result), BEGIN, END)
    say("done in %.0f s" % result["seconds"])
    return 1 if result["errors"] or not result.get("testbed_down_ok") else 0


if __name__ == "__main__":
    sys.exit(main())
