"""The raw floor of a netns deploy: the same kernel objects as ``vxlab deploy`` makes for netns
vnodes, made the fastest plain userspace way found (root).

    .venv/bin/python bench/floor.py --pnodes 10 --vnodes 10000 [--workers 2] [--json]

Per pnode, a scratch namespace holding a bridge (made first, not timed). Then, timed, each worker
process (``--workers``, default: one per CPU; the pnodes are dealt to them in turn) does for each
of its pnodes:

1. ``ip -batch`` of ``netns add`` for the pnode's vnodes (iproute2 makes and bind-mounts them);
2. in the pnode namespace, one plain netlink socket: per vnode a veth whose peer ``eth0`` is
   created directly in the vnode namespace with its MAC and MTU and whose host side is enslaved
   to the bridge, the host side's IPv6 address generation off (``addrgenmode none``), up;
3. per vnode, ``setns`` into it and one plain netlink socket there: ``eth0``'s address generation
   off, ``lo`` up, the address, ``eth0`` up, the default route.

The netlink messages are packed with ``struct`` on a socket of the standard library (the
collection's :class:`RawSocket`, one request and its acknowledgement each): pyroute2's request
encoding and event loop cost more than the kernel's work per request.

No sshd, no state file, no ownership alias: only what a reachable vnode needs. Without IPv6
generation off, every port that comes up sends DAD, router solicitations and MLD reports that
the bridge floods to all its ports; the floor would then grow with the ports already there.
Teardown: ``ip -batch`` of ``netns del``, timed until the kernel removed every host-side veth.

``make(...)`` and ``teardown(...)`` are what ``bench_scale.py`` and ``bench_max.py`` call.
"""
import argparse
import ctypes
import json
import multiprocessing
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "collections"))
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.rawsock import RawSocket  # noqa: E402

BRIDGE = "br0"
#: the routing protocol of a route added by hand (``ip route add``)
RTPROT_BOOT = 3
MTU = 1450
NETNS_DIR = "/run/netns"


_LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def setns(fd):
    """Enter the network namespace open as ``fd`` (Python 3.11 has no os.setns)."""
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def enter(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        setns(fd)
    finally:
        os.close(fd)


def _run(argv, stdin=None):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(argv[:5]), proc.returncode,
                                                        (proc.stderr or proc.stdout).strip()[-500:]))
    return proc


def vnodes_of(prefix, pnode_i, per, network="10.149"):
    """The vnodes of scratch pnode ``pnode_i``: names ``<prefix>v<i>-<j>``, host sides ``h<j>``,
    addresses from ``network``.0.2 on (one /16 for the whole platform)."""
    out = []
    for j in range(per):
        k = pnode_i * per + j + 2
        out.append({"name": "%sv%d-%d" % (prefix, pnode_i, j + 1), "host_if": "h%d" % (j + 1),
                    "address": "%s.%d.%d" % (network, k >> 8, k & 0xFF),
                    "mac": "02:bd:%02x:%02x:%02x:%02x" % (pnode_i >> 8, pnode_i & 0xFF, k >> 8, k & 0xFF)})
    return out


def pnode_names(prefix, pnodes):
    return ["%sp%d" % (prefix, i) for i in range(pnodes)]


def scratch_pnodes(prefix, pnodes):
    for name in pnode_names(prefix, pnodes):
        _run(["ip", "netns", "add", name])
        _run(["ip", "-n", name, "-batch", "-"], stdin=(
            "link set lo up\nlink add %s type bridge mcast_snooping 0\nlink set %s mtu %d up\n"
            % (BRIDGE, BRIDGE, MTU)))


def _worker(job):
    """One worker: its pnodes one after the other; seconds per pnode."""
    prefix, network, per, indexes = job
    times = {}
    root = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        for i in indexes:
            t0 = time.perf_counter()
            pnode = "%sp%d" % (prefix, i)
            vnodes = vnodes_of(prefix, i, per, network)
            _run(["ip", "-batch", "-"], stdin="".join("netns add %s\n" % v["name"] for v in vnodes))
            enter(os.path.join(NETNS_DIR, pnode))
            with RawSocket() as sock:
                bridge = sock.link(BRIDGE)["index"]
                for v in vnodes:
                    fd = os.open(os.path.join(NETNS_DIR, v["name"]), os.O_RDONLY)
                    try:
                        sock.add_veth_into(v["host_if"], fd, "eth0", peer_mac=v["mac"], mtu=MTU, master=bridge)
                    finally:
                        os.close(fd)
                    idx = sock.link(v["host_if"])["index"]
                    sock.link_no_ipv6_addresses(idx)
                    sock.link_set(idx, state="up")
            gateway = "%s.0.1" % network
            for v in vnodes:
                enter(os.path.join(NETNS_DIR, v["name"]))
                with RawSocket() as sock:
                    eth0 = sock.link("eth0")["index"]
                    sock.link_no_ipv6_addresses(eth0)
                    sock.link_set(1, state="up")
                    sock.addr_add(eth0, "%s/16" % v["address"])
                    sock.link_set(eth0, state="up")
                    sock.route_replace("0.0.0.0/0", gateway, RTPROT_BOOT)
            setns(root)
            times[pnode] = time.perf_counter() - t0
    finally:
        setns(root)
        os.close(root)
    return times


def make(prefix, pnodes, per, workers=None, network="10.149"):
    """Make ``pnodes`` x ``per`` vnodes (scratch pnodes made first, not timed); the timings."""
    workers = max(1, min(workers or os.cpu_count() or 1, pnodes))
    scratch_pnodes(prefix, pnodes)
    jobs = [(prefix, network, per, list(range(w, pnodes, workers))) for w in range(workers)]
    t0 = time.perf_counter()
    if workers == 1:
        parts = [_worker(jobs[0])]
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers) as pool:
            parts = pool.map(_worker, jobs)
    seconds = time.perf_counter() - t0
    per_pnode = {}
    for part in parts:
        per_pnode.update(part)
    return {"vnodes": pnodes * per, "pnodes": pnodes, "workers": workers, "create": seconds,
            "per_pnode_seconds": per_pnode}


def count_ports(prefix, pnodes):
    return sum(len(_run(["ip", "-n", p, "-o", "link", "show", "master", BRIDGE]).stdout.splitlines())
               for p in pnode_names(prefix, pnodes))


def teardown(prefix, pnodes, per, timeout=120.0):
    """Delete the vnodes (timed until every host-side veth is gone), then the scratch pnodes."""
    names = [v["name"] for i in range(pnodes) for v in vnodes_of(prefix, i, per)]
    present = set(os.listdir(NETNS_DIR)) if os.path.isdir(NETNS_DIR) else set()
    t0 = time.perf_counter()
    _run(["ip", "-force", "-batch", "-"], stdin="".join("netns del %s\n" % n for n in names if n in present))
    deadline = time.monotonic() + timeout
    left = 0
    for p in pnode_names(prefix, pnodes):
        while time.monotonic() < deadline:
            out = _run(["ip", "-n", p, "-o", "link", "show", "master", BRIDGE]).stdout
            left = len(out.splitlines())
            if not left:
                break
            time.sleep(0.02)
    seconds = time.perf_counter() - t0
    cleanup(prefix, pnodes, per)
    return {"teardown": seconds, "teardown_left": left}


def cleanup(prefix, pnodes, per):
    """Safety net: every namespace of this prefix that still exists."""
    present = set(os.listdir(NETNS_DIR)) if os.path.isdir(NETNS_DIR) else set()
    names = [v["name"] for i in range(pnodes) for v in vnodes_of(prefix, i, per)] + pnode_names(prefix, pnodes)
    left = [n for n in names if n in present]
    if left:
        subprocess.run(["ip", "-force", "-batch", "-"], input="".join("netns del %s\n" % n for n in left),
                       text=True, capture_output=True, check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pnodes", type=int, default=10)
    ap.add_argument("--vnodes", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--prefix", default="zf%d" % (os.getpid() % 10000))
    args = ap.parse_args()
    per = args.vnodes // args.pnodes
    try:
        res = make(args.prefix, args.pnodes, per, args.workers)
        res["ports"] = count_ports(args.prefix, args.pnodes)
        res.update(teardown(args.prefix, args.pnodes, per))
    finally:
        cleanup(args.prefix, args.pnodes, per)
    res.pop("per_pnode_seconds", None)
    print(json.dumps(res, indent=1))
    return 0 if res["ports"] == args.pnodes * per else 1


if __name__ == "__main__":
    sys.exit(main())
