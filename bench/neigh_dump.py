"""Benchmark: what one neighbour-table dump costs in an empty namespace (root).

    .venv/bin/python bench/neigh_dump.py [--repeat 200] [--out bench/out/neigh_dump.json]

A scratch namespace (``zd<pid>``, deleted at the end) with one veth and one PERMANENT entry; in
it, timed ``--repeat`` times each: an IPv4 neighbour dump (RTM_GETNEIGH, AF_INET), an IPv6 one
(AF_INET6), and the lookup of the one entry (RTM_GETNEIGH without NLM_F_DUMP, ``ip neigh get``).
Also the number of IPv4 neighbour entries the whole kernel holds and how many times the hash of
its table has grown since boot (``/proc/net/stat/arp_cache``; it starts at 2^3 buckets and doubles
at each growth): the kernel walks every bucket of that hash for a dump, and the hash grows with the
largest table it has held and never shrinks, so what a dump costs depends on the kernel's history
(a static-ARP platform deployed since boot), not on the namespace.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns  # noqa: E402
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import rawnl as raw  # noqa: E402


def arp_stats():
    """IPv4 neighbour entries of the whole kernel (every namespace) and how many times its hash
    has grown since boot (summed over the CPUs' lines of ``/proc/net/stat/arp_cache``)."""
    with open("/proc/net/stat/arp_cache") as f:
        head = f.readline().split()
        rows = [dict(zip(head, (int(x, 16) for x in line.split()))) for line in f]
    return rows[0]["entries"], sum(r["hash_grows"] for r in rows)


def timed(fn, repeat):
    t0 = time.perf_counter()
    for dummy in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "neigh_dump.json"))
    args = ap.parse_args()
    name = "zd%d" % (os.getpid() % 100000)
    ns.netns_create(name)
    try:
        with ns.in_netns(name):
            subprocess.run(["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"], check=True)
            subprocess.run(["ip", "link", "set", "d0", "up"], check=True)
            subprocess.run(["ip", "neigh", "replace", "10.9.0.5", "lladdr", "02:00:00:00:00:05", "dev", "d0",
                            "nud", "permanent"], check=True)
            index = socket.if_nametoindex("d0")
            with raw.RawNeigh() as r:
                res = {
                    "dump_ipv4_us": 1e6 * timed(lambda: r.dump(socket.AF_INET), args.repeat),
                    "dump_ipv6_us": 1e6 * timed(lambda: r.dump(socket.AF_INET6), args.repeat),
                    "get_us": 1e6 * timed(lambda: r.get(index, "10.9.0.5"), args.repeat),
                    "entries_in_namespace": len(r.dump(socket.AF_INET)),
                }
    finally:
        ns.netns_delete(name)
    with open("/proc/uptime") as f:
        res["uptime_h"] = float(f.read().split()[0]) / 3600
    res["kernel_ipv4_entries"], res["hash_grows"] = arp_stats()
    res["hash_buckets"] = 2 ** (3 + res["hash_grows"])
    res["repeat"] = args.repeat
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    print("one IPv4 neighbour dump in a namespace holding %d entry: %.0f us; IPv6: %.0f us; one entry "
          "looked up: %.0f us (the kernel holds %d IPv4 entries in all, in a hash grown %d times since boot: "
          "%d buckets; up %.0f h)"
          % (res["entries_in_namespace"], res["dump_ipv4_us"], res["dump_ipv6_us"], res["get_us"],
             res["kernel_ipv4_entries"], res["hash_grows"], res["hash_buckets"], res["uptime_h"]))


if __name__ == "__main__":
    main()
