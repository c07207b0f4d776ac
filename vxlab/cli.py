"""The ``vxlab`` command line: plan, render, testbed, deploy, destroy, check.

Every command accepts ``--json`` (the structured result on stdout; progress goes to stderr). Exit
status: 0 success, 1 something failed, 2 bad input (an invalid platform variable, a missing
inventory...), with a one-line message on stderr and no traceback.
"""
import argparse
import json
import os
import sys

import vxlab

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UserError(Exception):
    """Bad input: exit status 2 with the one-line message."""


def _err(line):
    print(line, file=sys.stderr, flush=True)


def _progress(args):
    if getattr(args, "quiet", False):
        return None
    return _err


def _emit(args, data, human):
    if args.json:
        print(json.dumps(data, indent=1, sort_keys=True, default=str))
    else:
        for line in human:
            print(line)


def _extra(args):
    from vxlab.inventory import parse_extra_vars

    return parse_extra_vars(args.extra_vars or [])


# --------------------------------------------------------------------------------------------
# commands


def _ranges(vnodes):
    """``10.144.0.2-10.144.0.11`` style ranges of consecutive addresses."""
    import ipaddress

    out, start, prev = [], None, None
    for v in vnodes:
        ip = int(ipaddress.IPv4Address(v["address"]))
        if start is None:
            start = prev = ip
        elif ip == prev + 1:
            prev = ip
        else:
            out.append((start, prev))
            start = prev = ip
    if start is not None:
        out.append((start, prev))
    return ",".join(str(ipaddress.IPv4Address(a)) if a == b else "%s-%s" % (
        ipaddress.IPv4Address(a), ipaddress.IPv4Address(b)) for a, b in out) or "-"


def cmd_plan(args):
    from vxlab.inventory import load_plan

    plan = load_plan(args.inventory, _extra(args))
    data = plan.to_dict()
    s = plan.spec
    human = [
        "platform %s: %d pnodes, %d vnodes, network %s (gateway %s on %s), VNI %d %s, "
        "%s vnodes, MTU %d, control %s"
        % (s.platform, len(plan.pnodes), s.total_vnodes, s.vnode_network, plan.gateway,
           s.gateway_pnode, s.vni, s.vxlan_mode, s.vnode_kind, s.mtu, s.control_access),
    ]
    width = max(len(p.name) for p in plan.pnodes)
    for p in plan.pnodes:
        vnodes = plan.vnodes_of(p.name)
        names = "%s..%s" % (vnodes[0]["name"], vnodes[-1]["name"]) if vnodes else "-"
        human.append("  %-*s  index %-3d VTEP %-15s %s  %4d vnodes  %s  %s"
                     % (width, p.name, p.index, p.vtep or "-", p.underlay_interface, p.vnodes,
                        _ranges(vnodes), names))
    human.append("total: %d vnodes on %d pnodes" % (s.total_vnodes, len(plan.pnodes)))
    for n in plan.networks():
        human.append("network %-10s %-18s VNI %-8d MTU %d  arp %-8s %5d members on %d pnodes"
                     % (n["name"], n["cidr"], n["vni"], n["mtu"], n["arp_mode"], n["members"], len(n["pnodes"])))
    for g in data.get("groups", []):
        human.append("group %-12s %5d vnodes  networks %s%s"
                     % (g["name"], g["vnodes"], ",".join(g["networks"]) or "-", "  (router)" if g["router"] else ""))
    for w in plan.warnings():
        human.append("warning: " + w)
    _emit(args, data, human)
    return EXIT_OK


def cmd_render(args):
    from vxlab.inventory import load
    from vxlab.render import render

    from vxlab.api import platform_keys

    loaded = load(args.inventory, _extra(args))
    platform_keys(loaded.plan.spec)  # known_hosts holds the vnodes' host key from the start
    files = render(loaded.plan, args.output, loaded.sources, loaded.extra_vars, loaded.hostvars)
    data = {"ok": True, "platform": loaded.plan.spec.platform,
            "dir": os.path.abspath(args.output), "files": files}
    _emit(args, data, files)
    return EXIT_OK


def cmd_inspect(args):
    from vxlab import inspect

    data = inspect.inspect(args.inventory, extra_vars=_extra(args), progress=_progress(args))
    shown = inspect.select(data, group=args.group, pnode=args.pnode)
    if args.json:
        print(json.dumps(dict(data, vnodes=shown), indent=1, sort_keys=True, default=str))
    else:
        for line in inspect.table(data, shown):
            print(line)
    return EXIT_OK if data["ok"] else EXIT_FAILED


def cmd_graph(args):
    from vxlab import graph
    from vxlab.inventory import load_plan

    plan = load_plan(args.inventory, _extra(args))
    try:
        fmt = graph.format_of(args.output, args.format)
        if args.output is None and fmt in ("svg", "png"):
            raise graph.GraphError("--format %s needs -o FILE" % fmt)
        out = graph.picture(plan, fmt)
    except graph.GraphError as exc:
        raise UserError(str(exc))
    if args.output is None:
        sys.stdout.write(out)
        return EXIT_OK
    parent = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(parent, exist_ok=True)
    with open(args.output, "wb" if isinstance(out, bytes) else "w") as f:
        f.write(out)
    m = graph.model(plan)
    _emit(args, {"ok": True, "file": os.path.abspath(args.output), "format": fmt, "nodes": len(m["nodes"]),
                 "edges": len(m["edges"])},
          ["graph: %s (%s, %d nodes, %d edges)" % (args.output, fmt, len(m["nodes"]), len(m["edges"]))])
    return EXIT_OK


def _run_result(args, result):
    from vxlab import diffview

    data = result.to_dict()
    human = diffview.lines(result.diffs) if getattr(args, "diff", False) else []
    human.extend("warning: %s: %s" % (host, text) for host, texts in sorted(result.warnings.items())
                 for text in texts)
    human.extend(result.summary())
    human.append("%s: %s (rc=%d, %d changed, %.1fs)" % (
        os.path.basename(result.playbook), "ok" if result.ok else "FAILED", result.rc,
        result.changed, result.duration))
    bad = [(n, h) for n, h in sorted(result.hosts.items()) if h["failed"] or h["unreachable"]]
    if bad:
        human.append("failed: " + "; ".join("%s %s%s" % (
            n, "unreachable" if h["unreachable"] else "failed",
            " (%s)" % h["failures"][-1]["msg"].splitlines()[0][:300] if h["failures"] else "")
            for n, h in bad))
    if not result.ok and not result.hosts:
        human.extend(result.messages[-10:])
    if result.artifacts:
        human.append("artifacts: %s" % result.artifacts)
    _emit(args, data, human)
    if not result.ok and args.json:
        for m in result.messages[-5:]:
            _err(m)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_deploy(args):
    from vxlab import api
    from vxlab.inventory import load

    extra = _extra(args)
    loaded = load(args.inventory, extra)  # refuse a bad platform before starting Ansible
    result = api.deploy(args.inventory, extra_vars=extra, check=args.check, diff=args.diff,
                        limit=args.limit, progress=_progress(args), quiet=True, loaded=loaded)
    return _run_result(args, result)


def cmd_destroy(args):
    from vxlab import api
    from vxlab.inventory import load_plan

    extra = _extra(args)
    load_plan(args.inventory, extra)
    result = api.destroy(args.inventory, extra_vars=extra, check=args.check, diff=args.diff,
                         limit=args.limit, progress=_progress(args), quiet=True, purge=args.purge)
    if args.purge and not args.json:
        for path in result.purged:
            _err("forgot %s" % path)
    return _run_result(args, result)


def cmd_run(args):
    from vxlab import api

    result = api.run_playbook(args.playbook, args.inventory, extra_vars=_extra(args),
                              check=args.check, diff=args.diff, limit=args.limit,
                              progress=_progress(args), quiet=True)
    return _run_result(args, result)


def cmd_check(args):
    from vxlab.check import check

    from vxlab.inventory import load

    loaded = load(args.inventory, _extra(args))
    result = check(args.inventory, sample=args.sample if args.sample is not None else 3, progress=_progress(args),
                   parallel=args.parallel, ssh_sample=args.ssh_sample, loaded=loaded)
    if args.fidelity:
        from vxlab import fidelity

        report = fidelity.fidelity(loaded.plan, os.path.join(result["state_dir"], "ssh_config"), result["state_dir"],
                                   sample=args.sample, say=_progress(args))
        result["fidelity"] = report
        result["ok"] = result["ok"] and report["ok"]
    human = ["ssh: %d ok, %d failed%s" % (result["ssh"]["ok"], len(result["ssh"]["failed"]),
                                          (" (" + ",".join(result["ssh"]["failed"][:10]) + ")")
                                          if result["ssh"]["failed"] else "")]
    for name in result["ssh"]["failed"][:10]:
        human.append("  %s: %s" % (name, result["ssh"]["errors"].get(name, "")))
    for pair in result["pairs"]:
        human.append("ping %s -> %s: %d ok, %d failed" % (pair["src_pnode"], pair["dst_pnode"],
                                                          pair["ok"], pair["failed"]))
        human.extend("  " + f for f in pair["failures"][:5])
    for pair in result.get("networks", []):
        if pair["route"] == "none by design":
            human.append("network %s -> %s: no route by design" % (pair["from"], pair["to"]))
            continue
        human.append("network %s -> %s (%s): %d ok, %d failed"
                     % (pair["from"], pair["to"], pair["route"], pair["ok"], pair["failed"]))
        human.extend("  " + f for f in pair["failures"][:5])
    if "fidelity" in result:
        rep = result["fidelity"]
        for e in rep["entries"]:
            human.append("fidelity %s -> %s (%s -> %s): asked %s, measured %s: %s"
                         % (e["from"], e["to"], e["src"], e["dst"], e["asked"], e["measured"] or e["errors"],
                            "ok" if e["ok"] else "OUTSIDE TOLERANCE"))
        for c in rep["cpu"]:
            human.append("fidelity group %s cpu (%s): asked %s, measured %s: %s"
                         % (c["group"], c["vnode"], c["asked"], c["measured"], "ok" if c["ok"] else "OUTSIDE TOLERANCE"))
        human.append("fidelity report: %s, %s" % (rep["markdown"], rep["json"]))
    human.append("check %s: %s" % (result["platform"], "ok" if result["ok"] else "FAILED"))
    _emit(args, result, human)
    return EXIT_OK if result["ok"] else EXIT_FAILED


def cmd_experiment(args):
    from vxlab.experiment import ExperimentError, run

    try:
        result = run(args.inventory, args.out, args.sizes, repeat=args.repeat,
                     methods=args.methods, seed=args.seed, fanout=args.fanout,
                     launcher=args.launcher, resume=args.resume, extra_vars=_extra(args),
                     progress=_progress(args), retries=args.retries,
                     ansible_module=args.ansible_module, connect_timeout=args.connect_timeout)
    except ExperimentError as exc:
        raise UserError(str(exc))
    human = ["experiment %s: %d/%d valid rows in %s (%.0f s this run)" % (
        result["platform"], result["valid_rows"], result["expected_rows"], result["results"],
        result["seconds"])]
    for d in result["discarded"]:
        human.append("  discarded %s (pnode %s): %s" % (d["node"], d["pnode"], d["reason"]))
    if result["missing"]:
        human.append("  missing rows (n, rep, method): %s" % result["missing"][:10])
    _emit(args, result, human)
    return EXIT_OK if result["ok"] else EXIT_FAILED


def cmd_report(args):
    from vxlab.report import report

    result = report(args.dir)
    human = ["report: %s" % result["report"]] + ["plot: %s" % p for p in result["plots"]]
    for m, f in sorted(result["fits"].items()):
        if "A" in f:
            human.append("  %-8s T(n) = %.6f*n %+.4f*ln(n) %+.4f  (RMSE %.3f s)"
                         % (m, f["A"], f["B"], f["C"], f["rmse"]))
    for c in result["crossovers"]:
        human.append("  crossover %s/%s at n = %.0f (%s faster after%s)" % (
            c["methods"][0], c["methods"][1], c["n"], c["faster_after"],
            "" if c["within_measured"] else "; extrapolated"))
    _emit(args, result, human)
    return EXIT_OK if result["ok"] else EXIT_FAILED


def cmd_fault(args):
    from vxlab import fault

    try:
        if args.mode == "now":
            events = [fault.normalize(dict({"at": 0, "action": args.action, "target": t},
                                           **{k: getattr(args, k) for k in ("rate", "delay", "loss")
                                              if getattr(args, k) is not None}),
                                      "target %s" % t) for t in args.targets]
            source = "now"
        elif args.mode == "trace":
            events = fault.parse_trace(args.file)
            source = "trace:%s" % os.path.abspath(args.file)
        else:
            from vxlab.inventory import load_plan

            plan = load_plan(args.inventory, _extra(args))
            degrade = {k: getattr(args, k) for k in ("rate", "delay", "loss") if getattr(args, k) is not None}
            events = fault.churn([v["name"] for v in plan.iter_vnodes()], args.seed, args.churn_rate,
                                 args.duration, mttr=args.mttr, kinds=args.kinds.split(","),
                                 pnodes=[p.name for p in plan.pnodes], degrade=degrade)
            source = "churn:seed=%d,rate=%g,duration=%g,mttr=%g,kinds=%s" % (
                args.seed, args.churn_rate, args.duration, args.mttr, args.kinds)
        result = fault.run(args.inventory, events, extra_vars=_extra(args), log_path=args.log,
                           progress=_progress(args), dry_run=args.dry_run, source=source)
    except fault.FaultError as exc:
        raise UserError("invalid fault: %s" % exc)
    human = []
    for e in result["events"]:
        human.append("%7.2fs  %-13s %-16s on %-12s %s" % (
            e.get("t", e["at"]), e["action"], e["target"], e["pnode"],
            "(planned)" if result.get("dry_run") else
            ("changed" if e["changed"] else "unchanged") if e["ok"] else "FAILED: %s" % e.get("error")))
    human.append("fault %s: %d events%s%s" % (
        result["platform"], len(result["events"]), ", log %s" % result["log"] if result["log"] else "",
        "" if result["ok"] else " -- FAILED"))
    _emit(args, result, human)
    return EXIT_OK if result["ok"] else EXIT_FAILED


def _testbed():
    try:
        from vxlab import testbed
    except ImportError as exc:
        raise UserError("the testbed is not available in this checkout (%s)" % exc)
    return testbed


def cmd_testbed_up(args):
    tb = _testbed()
    try:
        result = tb.up(args.name, pnodes=args.pnodes, extra_vars=_extra(args), repo=vxlab.REPO,
                       progress=_progress(args), sites=getattr(args, "sites", 1),
                       bare=getattr(args, "bare", False))
    except ValueError as exc:  # a bad name, count or variable: refused before anything is made
        raise UserError(str(exc))
    except tb.TestbedError as exc:  # up removed what it made before raising
        _err("vxlab testbed up: %s" % exc)
        return EXIT_FAILED
    # stdout: the inventory path, so `INV=$(vxlab testbed up ...)` works
    _emit(args, result, [result["inventory"]])
    return EXIT_OK


def cmd_testbed_down(args):
    tb = _testbed()
    try:
        result = tb.down(args.name, repo=vxlab.REPO, progress=_progress(args))
    except ValueError as exc:
        raise UserError(str(exc))
    _emit(args, result, ["testbed %s removed" % args.name])
    ok = result.get("ok", True) if isinstance(result, dict) else True
    return EXIT_OK if ok else EXIT_FAILED


def cmd_testbed_sshd(args):
    tb = _testbed()
    try:
        if args.testbed_command == "stop-sshd":
            result = tb.stop_sshd(args.name, args.pnode, repo=vxlab.REPO, progress=_progress(args))
            human = ["%s: sshd %s" % (result["pnode"], "stopped" if result["stopped"] else "was not running")]
        else:
            result = tb.restart_sshd(args.name, args.pnode, repo=vxlab.REPO, progress=_progress(args))
            human = ["%s: sshd started" % n for n in result["restarted"]] + [
                "%s: sshd already running" % n for n in result["running"]]
    except ValueError as exc:
        raise UserError(str(exc))
    _emit(args, result, human)
    return EXIT_OK


def cmd_testbed_list(args):
    tb = _testbed()
    beds = tb.list_testbeds(repo=vxlab.REPO)
    human = []
    for b in beds:
        if isinstance(b, dict):
            pnodes = b.get("pnodes", "?")
            if isinstance(pnodes, (list, tuple)):
                pnodes = len(pnodes)
            human.append("%s  %s pnodes  %s" % (b.get("name"), pnodes, b.get("inventory", "")))
        else:
            human.append(str(b))
    _emit(args, beds, human)
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# parser


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true",
                        help="print the structured result as JSON on stdout")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    inv = argparse.ArgumentParser(add_help=False)
    inv.add_argument("-i", "--inventory", action="append", required=True, metavar="INVENTORY",
                     help="pnode inventory (file or directory; repeatable, like ansible -i)")
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("-e", "--extra-vars", action="append", metavar="KEY=VALUE|@FILE",
                       help="variable overriding the inventory (value read as YAML; repeatable)")
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--check", action="store_true", help="Ansible check mode (change nothing)")
    run.add_argument("--diff", action="store_true",
                     help="Ansible diff mode: print what each module changed (or would, with --check)")
    run.add_argument("-l", "--limit", help="limit to these pnodes (Ansible pattern)")

    parser = argparse.ArgumentParser(
        prog="vxlab", description="Emulate a large platform (VXLAN overlay, vnodes) on pnodes.")
    parser.add_argument("--version", action="version", version="vxlab %s" % vxlab.__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("plan", parents=[common, inv, extra],
                       help="validate the inventory and print the platform plan")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("render", parents=[common, inv, extra],
                       help="write vnodes.yml, ssh_config, clush/taktuk files, playbooks")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.set_defaults(func=cmd_render)
    p = sub.add_parser("inspect", parents=[common, inv, extra],
                       help="what runs: per vnode its pnode, state, addresses, groups, shaping, faults")
    p.add_argument("--group", help="only the vnodes of this group (vxlab_vnode_groups)")
    p.add_argument("--pnode", help="only the vnodes of this pnode")
    p.set_defaults(func=cmd_inspect)
    p = sub.add_parser("graph", parents=[common, inv, extra],
                       help="draw the platform: networks, groups, routers, pnodes or sites (graphviz)")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: DOT text on stdout)")
    p.add_argument("--format", choices=["dot", "svg", "png", "mermaid"],
                   help="default: from the file's suffix (.svg, .png, .dot/.gv, .mmd/.md), else dot")
    p.set_defaults(func=cmd_graph)
    p = sub.add_parser("deploy", parents=[common, inv, extra, run], help="deploy the platform")
    p.set_defaults(func=cmd_deploy)
    p = sub.add_parser("destroy", parents=[common, inv, extra, run], help="remove the platform")
    p.add_argument("--purge", action="store_true",
                   help="also forget the platform's SSH keys and the vnodes' host key (a new "
                        "deploy makes new ones)")
    p.set_defaults(func=cmd_destroy)
    p = sub.add_parser("run", parents=[common, inv, extra, run],
                       help="run a collection playbook (ping, deploy, ...) or a playbook path")
    p.add_argument("playbook", help="playbook name in playbooks/ (e.g. ping) or path")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("check", parents=[common, inv, extra],
                       help="ssh to every vnode and ping across pnodes")
    p.add_argument("--sample", type=int, default=None, metavar="K",
                   help="ping from K vnodes per pnode to K vnodes of every other pnode (3); with "
                        "--fidelity, measure K matrix entries (default: all)")
    p.add_argument("--fidelity", action="store_true",
                   help="also measure what the platform does against what was asked (matrix rates with "
                        "iperf3, delays with ping, group CPU caps): fidelity.json and fidelity.md")
    p.add_argument("--parallel", type=int, default=32, metavar="N",
                   help="concurrent ssh sessions (32)")
    p.add_argument("--ssh-sample", type=int, default=None, metavar="K",
                   help="ssh into K vnodes per pnode instead of every vnode (thousands of vnodes)")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("experiment", parents=[common, inv, extra],
                       help="the paper's experiment: `true` on n vnodes with clush/TakTuk/Ansible")
    p.add_argument("--sizes", required=True, help="comma-separated vnode counts (10,30,60)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions per size and method (3)")
    p.add_argument("--methods", default=None,
                   help="among clush,taktuk2,taktuk3,ansible (default: all)")
    p.add_argument("--out", required=True, metavar="DIR", help="results directory")
    p.add_argument("--resume", action="store_true", help="continue DIR, skipping recorded rows")
    p.add_argument("--launcher", default=None, metavar="PNODE|control",
                   help="where the tools run (default: the gateway pnode)")
    p.add_argument("--seed", type=int, default=1, help="seed of the vnode subsets (1)")
    p.add_argument("--fanout", type=int, default=64, help="clush window and Ansible forks (64)")
    p.add_argument("--connect-timeout", type=int, default=15, metavar="SECONDS",
                   help="SSH connection timeout of every method, TakTuk's connector included (15)")
    p.add_argument("--retries", type=int, default=5,
                   help="re-measurements after a partial row, with new probes (5)")
    p.add_argument("--ansible-module", default="raw", choices=("raw", "command"),
                   help="module of the Ansible baseline (raw)")
    p.set_defaults(func=cmd_experiment)
    p = sub.add_parser("report", parents=[common],
                       help="analyse an experiment: t-intervals, T(n) fit, crossovers, plots")
    p.add_argument("dir", metavar="DIR", help="the experiment's --out directory")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("fault", parents=[common, inv, extra],
                       help="inject faults: now, from a dated trace file, or seeded random churn")
    p.add_argument("--log", metavar="FILE",
                   help="JSONL log of applied events (default <inventory dir>/.vxlab/<platform>/faults.jsonl)")
    p.add_argument("--dry-run", action="store_true", help="validate and print the events only")
    fsub = p.add_subparsers(dest="mode", metavar="MODE")
    fsub.required = True
    shaping = argparse.ArgumentParser(add_help=False)
    shaping.add_argument("--rate", help="degrade: rate, e.g. 1mbit (tbf)")
    shaping.add_argument("--delay", help="degrade: delay, e.g. 20ms (needs netem)")
    shaping.add_argument("--loss", help="degrade: loss, e.g. 1%% (needs netem)")
    q = fsub.add_parser("now", parents=[shaping], help="apply one action to targets now")
    q.add_argument("action", help="vnode_down|vnode_up|link_cut|link_restore|degrade|undegrade|"
                   "pnode_off|pnode_on|freeze|unfreeze (or down, up, cut, restore, off, on)")
    q.add_argument("targets", nargs="+", metavar="TARGET", help="vnode (or pnode) names")
    q = fsub.add_parser("trace", help="apply a dated trace file (YAML or CSV: at,target,action,...)")
    q.add_argument("file")
    q = fsub.add_parser("churn", help="seeded random failures and repairs")
    q.add_argument("--seed", type=int, required=True)
    q.add_argument("--rate", dest="churn_rate", type=float, required=True, metavar="PER_S",
                   help="failures per second")
    q.add_argument("--duration", type=float, required=True, metavar="S")
    q.add_argument("--mttr", type=float, default=5.0, metavar="S", help="mean time to repair (5)")
    q.add_argument("--kinds", default="vnode_down", help="comma-separated failure kinds (vnode_down)")
    q.add_argument("--degrade-rate", dest="rate", help="rate of degrade failures (e.g. 1mbit)")
    q.add_argument("--degrade-delay", dest="delay", help="delay of degrade failures (needs netem)")
    q.add_argument("--degrade-loss", dest="loss", help="loss of degrade failures (needs netem)")
    p.set_defaults(func=cmd_fault)

    tb = sub.add_parser("testbed", help="local testbed of pnodes in network namespaces")
    tbsub = tb.add_subparsers(dest="testbed_command", metavar="ACTION")
    tbsub.required = True
    p = tbsub.add_parser("up", parents=[common, extra], help="create a testbed; prints its inventory")
    p.add_argument("--name", required=True)
    p.add_argument("--pnodes", type=int, default=3)
    p.add_argument("--sites", type=int, default=1,
                   help="routed underlay subnets joined by a router, pnodes spread in order (1-8, default 1)")
    p.add_argument("--bare", action="store_true",
                   help="pnodes with their own minimal Debian root, prepared by the first deploy from "
                        "this machine's local package source (as on an air-gapped cluster)")
    p.set_defaults(func=cmd_testbed_up)
    p = tbsub.add_parser("down", parents=[common], help="remove a testbed")
    p.add_argument("--name", required=True)
    p.set_defaults(func=cmd_testbed_down)
    p = tbsub.add_parser("stop-sshd", parents=[common],
                         help="make a pnode unreachable: stop its sshd, close connections to it")
    p.add_argument("--name", required=True)
    p.add_argument("--pnode", required=True)
    p.set_defaults(func=cmd_testbed_sshd)
    p = tbsub.add_parser("restart-sshd", parents=[common],
                         help="start the sshd of a pnode (default: every pnode) that is not running")
    p.add_argument("--name", required=True)
    p.add_argument("--pnode")
    p.set_defaults(func=cmd_testbed_sshd)
    p = tbsub.add_parser("list", parents=[common], help="list testbeds")
    p.set_defaults(func=cmd_testbed_list)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from vxlab.inventory import PlanError

    try:
        return args.func(args)
    except PlanError as exc:
        _err("vxlab %s: invalid platform: %s" % (args.command, exc))
        return EXIT_USAGE
    except (UserError, FileNotFoundError) as exc:
        _err("vxlab %s: %s" % (args.command, exc))
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("vxlab %s: interrupted" % args.command)
        return 130
    except Exception as exc:  # one line, unless debugging
        if os.environ.get("VXLAB_DEBUG"):
            raise
        _err("vxlab %s: %s: %s (VXLAB_DEBUG=1 shows the traceback)"
             % (args.command, type(exc).__name__, exc))
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
