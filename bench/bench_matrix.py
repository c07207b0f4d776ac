"""Benchmark: 1,000 netns vnodes with a 10 x 10 group matrix against the same without (root).

    .venv/bin/python bench/bench_matrix.py [--pnodes 4] [--vnodes 1000] [--groups 10]
                                           [--out bench/out/matrix.json] [--results bench/RESULTS.md]

One testbed of ``--pnodes`` pnodes; every vnode on one data network ``d`` and in one of
``--groups`` groups of consecutive vnodes; in the same run, first without a matrix, then with
``vxlab_link_matrix`` holding every (group, group) pair of distinct groups, rates 10 to 100 Mbit/s
(``groups x (groups - 1)`` entries: every vnode the source of ``groups - 1`` classes). For each:
``vxlab deploy`` (wall time, MemAvailable drop), the same again (nothing may change), and, with
the matrix, the HTB classes and u32 filters of a sample of vnodes counted from inside them and
``vxlab check --fidelity --sample 3`` (three entries measured with iperf3), then ``vxlab destroy``.
The figure is the ratio of the two deploys (target <= 1.5x), with the filters per vnode (they grow
with the destination groups' prefixes, never with the number of vnodes). Results: ``--out``
(JSON), ``bench/out/matrix.md`` and the section "Matrix" of ``--results`` (between its markers).
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_deploy as bd  # noqa: E402
import bench_scale as bs  # noqa: E402
import bench_topology as bt  # noqa: E402

REPO = bd.REPO
VXLAB = bd.VXLAB
BEGIN, END = "<!-- matrix: begin -->", "<!-- matrix: end -->"


def say(line):
    print("[bench_matrix %s] %s" % (time.strftime("%H:%M:%S"), line), file=sys.stderr, flush=True)


def platform_vars(platform, total, groups, matrix):
    size = total // groups
    nets = [{"name": "d", "cidr": "172.30.0.0/20"}]
    grp = [{"name": "g%d" % k, "vnodes": "%s-[%d-%d]" % (platform, k * size + 1, (k + 1) * size), "networks": ["d"]}
           for k in range(groups)]
    out = ["-e", "vxlab_networks=" + json.dumps(nets), "-e", "vxlab_vnode_groups=" + json.dumps(grp)]
    if matrix:
        entries = [{"from": "g%d" % a, "to": "g%d" % b, "rate": "%dmbit" % (10 + 10 * ((a + b) % 10))}
                   for a in range(groups) for b in range(groups) if a != b]
        out += ["-e", "vxlab_link_matrix=" + json.dumps(entries)]
    return out


def count_tc(ssh_config, vnode):
    """``(classes, filters)`` of the vnode's eth1, counted from inside it."""
    def lines(cmd):
        proc = subprocess.run(["ssh", "-F", ssh_config, "-o", "BatchMode=yes", "-T", vnode, "--", cmd],
                              capture_output=True, text=True, timeout=60, check=False)
        return proc.stdout.splitlines()
    classes = [ln for ln in lines("tc class show dev eth1") if ln.startswith("class htb")]
    filters = [ln for ln in lines("tc filter show dev eth1") if "flowid" in ln]
    return len(classes), len(filters)


def one(inv, ev, label, pnode_names, sample_vnodes=None):
    res = {}
    before = bd.settled_meminfo()
    res["deploy"], doc, dummy = bs.vxlab(["deploy", "-i", inv] + ev, "deploy " + label)
    after = bd.settled_meminfo()
    res["mem_available_drop_mib"] = (before["MemAvailable"] - after["MemAvailable"]) / 2.0 ** 20
    res["rerun"], doc, dummy = bs.vxlab(["deploy", "-i", inv] + ev, "re-run " + label)
    res["rerun_changed"] = sum(c for h, c in bs.changed_on(doc).items() if h in pnode_names)
    if sample_vnodes:
        state = os.path.join(os.path.dirname(inv), ".vxlab", os.path.basename(os.path.dirname(inv)))
        counts = [count_tc(os.path.join(state, "ssh_config"), v) for v in sample_vnodes]
        res["classes_per_vnode"] = [c for c, f in counts]
        res["filters_per_vnode"] = [f for c, f in counts]
        t0 = time.perf_counter()
        dummy, chk, dummy2 = bs.vxlab(["check", "-i", inv, "--fidelity", "--sample", "3", "--ssh-sample", "2"] + ev,
                                      "fidelity " + label)
        res["fidelity_seconds"] = time.perf_counter() - t0
        fid = (chk or {}).get("fidelity") or {}
        res["fidelity"] = [{"from": e["from"], "to": e["to"], "asked": e["asked"], "measured": e["measured"],
                            "ok": e["ok"]} for e in fid.get("entries", [])]
        res["fidelity_ok"] = bool(fid.get("ok"))
    res["destroy"], doc, dummy = bs.vxlab(["destroy", "-i", inv] + ev, "destroy " + label)
    say("%s: deploy %.1f s (MemAvailable -%.0f MiB), re-run %.1f s (changed %d)%s, destroy %.1f s"
        % (label, res["deploy"], res["mem_available_drop_mib"], res["rerun"], res["rerun_changed"],
           (", filters per vnode %s, fidelity %s" % (res["filters_per_vnode"], "ok" if res["fidelity_ok"] else "FAILED"))
           if sample_vnodes else "", res["destroy"]))
    if res["rerun_changed"]:
        raise bd.BenchError("%s: the re-run changed %d things" % (label, res["rerun_changed"]))
    return res


def markdown(result):
    plain, mx = result.get("plain"), result.get("matrix")
    lines = [BEGIN, "## Matrix: %d vnodes, %d groups, a %d x %d group matrix vs none" % (
        result["vnodes"], result["groups"], result["groups"], result["groups"]), "",
        "Command: `.venv/bin/python %s` (took %.0f s)  " % (result["command"], result.get("seconds", 0)),
        "Machine: %s; `nproc` %s; kernel %s; load average at start %s" % (
            result["date"], result["machine"]["cpus"], result["machine"]["kernel"],
            " ".join(result["machine"]["load_before"])), ""]
    if result.get("errors"):
        lines += ["Errors: " + "; ".join(result["errors"]), ""]
    if plain and mx:
        lines += ["| platform | deploy | MemAvailable drop | idempotent re-run (changed) | destroy |",
                  "|---|---:|---:|---:|---:|"]
        for label, r in (("one data network, %d groups, no matrix" % result["groups"], plain),
                         ("the same + %d matrix entries" % result["entries"], mx)):
            lines.append("| %s | %.1f s | %.0f MiB | %.1f s (%d) | %.1f s |" % (
                label, r["deploy"], r["mem_available_drop_mib"], r["rerun"], r["rerun_changed"], r["destroy"]))
        ratio = mx["deploy"] / plain["deploy"]
        lines += ["", "Deploy ratio, matrix / none: **%.2fx** (target <= 1.5x: %s)." % (
            ratio, "met" if ratio <= 1.5 else "**not met**"),
            "HTB classes per vnode (sampled, counted with `tc` inside): %s; u32 filters per vnode: %s." % (
                ", ".join(map(str, mx["classes_per_vnode"])), ", ".join(map(str, mx["filters_per_vnode"]))),
            "Fidelity (`vxlab check --fidelity --sample 3`, iperf3, %.0f s): %s." % (
                mx["fidelity_seconds"], "; ".join("%s -> %s asked %s Mbit/s, measured %s%s" % (
                    e["from"], e["to"], e["asked"].get("rate"), e["measured"].get("rate"), "" if e["ok"] else " (OUT)")
                    for e in mx["fidelity"])), ""]
    lines += ["How measured: one testbed of %d pnodes, %d netns vnodes each, every vnode on one data network "
              "and in one of %d groups of consecutive vnodes; the same run deploys without and then with a "
              "matrix of every pair of distinct groups (rates 10-100 Mbit/s), each deployed, re-deployed and "
              "destroyed; MemAvailable drop across the deploy, after the kernel settled (the host's view: "
              "page-cache movements make it move by tens of MiB between runs). iperf3 reports TCP goodput "
              "while HTB counts whole frames (66 bytes of headers in 1,514), so a class's goodput reads about "
              "4.4 %% below its rate." % (
                  result["pnodes"], result["vnodes"] // result["pnodes"], result["groups"]), END]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pnodes", type=int, default=4)
    ap.add_argument("--vnodes", type=int, default=1000)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "matrix.json"))
    ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_matrix.py needs root (namespaces, the testbed)")
    per = args.vnodes // args.pnodes
    name = "zm%s" % bd.TAG
    result = {"command": "bench/bench_matrix.py --pnodes %d --vnodes %d --groups %d" % (args.pnodes, args.vnodes, args.groups),
              "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                          "load_before": open("/proc/loadavg").read().split()[:3]},
              "pnodes": args.pnodes, "vnodes": per * args.pnodes, "groups": args.groups,
              "entries": args.groups * (args.groups - 1), "errors": []}
    started = time.perf_counter()
    up = bd.run([VXLAB, "testbed", "up", "--name", name, "--pnodes", str(args.pnodes), "-e", "vxlab_vnode_kind=netns",
                 "-e", "vxlab_vnodes_per_pnode=%d" % per, "--json", "-q"], timeout=600)
    info = json.loads(up.stdout)
    inv = info["inventory"]
    pnode_names = [p["name"] for p in info["pnodes"]]
    platform = info.get("platform") or name
    total = per * args.pnodes
    sample = ["%s-%d" % (platform, i) for i in (1, total // 2, total)]
    try:
        ev = ["-e", "vxlab_vnodes_per_pnode=%d" % per]
        for label, extra, vnodes in (("plain", platform_vars(platform, total, args.groups, False), None),
                                     ("matrix", platform_vars(platform, total, args.groups, True), sample)):
            try:
                result[label] = one(inv, ev + extra, label, pnode_names, vnodes)
            except (bd.BenchError, OSError) as exc:
                result["errors"].append("%s: %s" % (label, exc))
                say("%s FAILED: %s" % (label, exc))
                bd.run([VXLAB, "destroy", "-i", inv] + ev + extra, check=False, timeout=900)
                break
    finally:
        bd.run([VXLAB, "testbed", "down", "--name", name, "-q"], check=False, timeout=900)
    result["seconds"] = time.perf_counter() - started
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    text = markdown(result)
    with open(os.path.join(os.path.dirname(os.path.abspath(args.out)), "matrix.md"), "w") as f:
        f.write(text)
    if args.results:
        bt.write_section(args.results, text, BEGIN, END)
    say("done in %.0f s" % result["seconds"])
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
