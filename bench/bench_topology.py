"""Benchmark: 1,000 netns vnodes in 10 data networks against the same 1,000 in one (root).

    .venv/bin/python bench/bench_topology.py [--pnodes 4] [--vnodes 1000] [--networks 10]
                                             [--out bench/out/topology.json] [--results bench/RESULTS.md]

One testbed (``vxlab testbed up``) of ``--pnodes`` pnodes; in the same run, three platforms of the
same vnodes: the flat platform (management network only); every vnode on one data network ``n0``;
``--networks`` data networks, vnode ``k`` in group ``gK`` (``k mod networks``) on network ``nK``, and
the first vnode of every pnode a router on all the networks (``vxlab_routes: auto``: every vnode
gets a route to each other network). For each: ``vxlab deploy`` (wall time), the same again
(idempotent re-run: nothing may change), ``vxlab check --sample 2 --ssh-sample 5`` (with data
networks: pings between every pair of networks, through the routers; every pair must pass),
``vxlab destroy``. The figure is the ratio of the deploys of ``--networks`` data networks and of
one (target <= 1.3x); the ratio to the flat platform (a second veth per vnode) is recorded too. Results: ``--out`` (JSON), ``bench/out/topology.md`` and
the section "Topology" of ``--results`` (rewritten between its markers; ``bench/report.py`` keeps it).
Everything is removed in ``finally`` blocks (``vxlab destroy``, ``vxlab testbed down``).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_deploy as bd  # noqa: E402
import bench_scale as bs  # noqa: E402

REPO = bd.REPO
VXLAB = bd.VXLAB
BEGIN, END = "<!-- topology: begin -->", "<!-- topology: end -->"


def say(line):
    print("[bench_topology %s] %s" % (time.strftime("%H:%M:%S"), line), file=sys.stderr, flush=True)


def topology_vars(platform, pnodes, per, networks):
    """The -e variables of the topology platform (JSON values); with one network, every vnode is
    on it and there is no router."""
    total = pnodes * per
    nets = [{"name": "n%d" % k, "cidr": "172.30.%d.0/22" % (4 * k)} for k in range(networks)]
    if networks == 1:
        groups = [{"name": "g0", "vnodes": "%s-[1-%d]" % (platform, total), "networks": ["n0"]}]
        return ["-e", "vxlab_networks=" + json.dumps(nets), "-e", "vxlab_vnode_groups=" + json.dumps(groups)]
    groups = []
    for k in range(networks):
        members = [i for i in range(1, total + 1) if i % networks == k]
        groups.append({"name": "g%d" % k, "vnodes": "%s-[%s]" % (platform, ",".join(map(str, members))),
                       "networks": ["n%d" % k]})
    routers = ["%s-%d" % (platform, p * per + 1) for p in range(pnodes)]
    groups.append({"name": "gw", "vnodes": routers, "networks": [n["name"] for n in nets], "router": True})
    return ["-e", "vxlab_networks=" + json.dumps(nets), "-e", "vxlab_vnode_groups=" + json.dumps(groups)]


def one(inv, ev, label, pnode_names):
    res = {}
    res["deploy"], doc, dummy = bs.vxlab(["deploy", "-i", inv] + ev, "deploy " + label)
    res["tasks_per_pnode"] = bs.tasks_per_pnode(doc, pnode_names)
    res["rerun"], doc, dummy = bs.vxlab(["deploy", "-i", inv] + ev, "re-run " + label)
    res["rerun_changed"] = sum(c for h, c in bs.changed_on(doc).items() if h in pnode_names)
    t0 = time.perf_counter()
    dummy, chk, dummy2 = bs.vxlab(["check", "-i", inv, "--sample", "2", "--ssh-sample", "5"] + ev, "check " + label)
    res["check"] = time.perf_counter() - t0
    res["check_ok"] = bool(chk and chk.get("ok"))
    nets = (chk or {}).get("networks") or []
    res["network_pairs"] = len(nets)
    res["network_pings"] = sum(p["ok"] + p["failed"] for p in nets)
    res["destroy"], doc, dummy = bs.vxlab(["destroy", "-i", inv] + ev, "destroy " + label)
    say("%s: deploy %.1f s, re-run %.1f s (changed %d), check %s (%d network pairs), destroy %.1f s"
        % (label, res["deploy"], res["rerun"], res["rerun_changed"], "ok" if res["check_ok"] else "FAILED",
           res["network_pairs"], res["destroy"]))
    if res["rerun_changed"]:
        raise bd.BenchError("%s: the re-run changed %d things" % (label, res["rerun_changed"]))
    if not res["check_ok"]:
        raise bd.BenchError("%s: vxlab check failed" % label)
    return res


def markdown(result):
    flat, one_net, topo = result.get("flat"), result.get("one"), result.get("topology")
    lines = [BEGIN, "## Topology: %d vnodes in %d data networks vs one" % (result["vnodes"], result["networks"]), "",
             "Command: `.venv/bin/python %s` (took %.0f s)  " % (result["command"], result.get("seconds", 0)),
             "Machine: %s; `nproc` %s; kernel %s; load average at start %s" % (
                 result["date"], result["machine"]["cpus"], result["machine"]["kernel"],
                 " ".join(result["machine"]["load_before"])), ""]
    if result.get("errors"):
        lines += ["Errors: " + "; ".join(result["errors"]), ""]
    rows = [("management network only", flat), ("one data network + management", one_net),
            ("%d data networks + management, %d routers" % (result["networks"], result["pnodes"]), topo)]
    if any(r for _l, r in rows):
        lines += ["| platform | deploy | idempotent re-run (changed) | destroy | tasks per pnode | check |",
                  "|---|---:|---:|---:|---:|---|"]
        for label, r in rows:
            if not r:
                continue
            lines.append("| %s | %.1f s | %.1f s (%d) | %.1f s | %s | %s |"
                         % (label, r["deploy"], r["rerun"], r["rerun_changed"], r["destroy"], r["tasks_per_pnode"],
                            "ok, %d network pairs, %d pings" % (r["network_pairs"], r["network_pings"])
                            if r["network_pairs"] else ("ok" if r["check_ok"] else "FAILED")))
    if one_net and topo:
        ratio = topo["deploy"] / one_net["deploy"]
        lines += ["", "Deploy ratio, %d data networks / one: **%.2fx** (target <= 1.3x: %s)."
                  % (result["networks"], ratio, "met" if ratio <= 1.3 else "**not met**")]
    if flat and topo:
        lines += ["Deploy ratio, %d data networks / management network only: %.2fx (every vnode has a second "
                  "veth)." % (result["networks"], topo["deploy"] / flat["deploy"])]
    lines.append("")
    lines += ["How measured: one testbed of %d pnodes, %d netns vnodes each; the same run deploys the "
              "flat platform, then every vnode on one data network, then the topology (vnode k on network "
              "n(k mod %d), the first vnode of every pnode a router on all networks, auto routes), each deployed, re-deployed, checked "
              "(`vxlab check --sample 2 --ssh-sample 5`) and destroyed. With the topology every vnode has a "
              "second veth, each pnode %d more bridges and VXLAN devices, and every vnode %d routes. "
              "Wall-clock times of the `vxlab` commands." % (result["pnodes"], result["vnodes"] // result["pnodes"],
                                                             result["networks"], result["networks"],
                                                             result["networks"] - 1), END]
    return "\n".join(lines) + "\n"


def write_section(path, text, begin=BEGIN, end=END):
    """Replace the section between ``begin`` and ``end`` of ``path`` by ``text`` (or append it)."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        old = ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text.rstrip("\n") + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pnodes", type=int, default=4)
    ap.add_argument("--vnodes", type=int, default=1000)
    ap.add_argument("--networks", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "topology.json"))
    ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_topology.py needs root (namespaces, the testbed)")
    per = args.vnodes // args.pnodes
    name = "zt%s" % bd.TAG
    result = {"command": "bench/bench_topology.py --pnodes %d --vnodes %d --networks %d"
                         % (args.pnodes, args.vnodes, args.networks),
              "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                          "load_before": open("/proc/loadavg").read().split()[:3]},
              "pnodes": args.pnodes, "vnodes": per * args.pnodes, "networks": args.networks, "errors": []}
    started = time.perf_counter()
    up = bd.run([VXLAB, "testbed", "up", "--name", name, "--pnodes", str(args.pnodes), "-e", "vxlab_vnode_kind=netns",
                 "-e", "vxlab_vnodes_per_pnode=%d" % per, "--json", "-q"], timeout=600)
    info = json.loads(up.stdout)
    inv = info["inventory"]
    pnode_names = [p["name"] for p in info["pnodes"]]
    platform = info.get("platform") or name
    try:
        ev = ["-e", "vxlab_vnodes_per_pnode=%d" % per]
        for label, extra in (("flat", []), ("one", topology_vars(platform, args.pnodes, per, 1)),
                             ("topology", topology_vars(platform, args.pnodes, per, args.networks))):
            try:
                result[label] = one(inv, ev + extra, label, pnode_names)
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
    with open(os.path.join(os.path.dirname(os.path.abspath(args.out)), "topology.md"), "w") as f:
        f.write(text)
    if args.results:
        write_section(args.results, text)
    say("done in %.0f s" % result["seconds"])
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
