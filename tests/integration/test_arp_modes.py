"""ARP modes on the one-machine testbed (root): 2 pnodes x 4 netns vnodes deployed with
vxlab_arp_mode=static (every vnode's table holds exactly the other vnodes, PERMANENT; a second
deploy changes nothing; a vnode removed from the platform leaves every table), then switched to
suppress (the static entries go; cross-pnode pings work while a capture on a pnode's underlay
interface ib0 sees VXLAN traffic and zero ARP frames). The testbed is removed even on failure."""
import json
import os
import shlex
import signal
import subprocess
import tempfile
import time

import pytest

import vxlab

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (testbed namespaces, sshd)"),
]

VXLAB = os.path.join(vxlab.REPO, ".venv", "bin", "vxlab")


def vx(*args):
    proc = subprocess.run([VXLAB] + list(args) + ["--json", "-q"], text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture
def bed():
    name = "a%d" % (os.getpid() % 10000)
    info = vx("testbed", "up", "--name", name, "--pnodes", "2", "-e", "vxlab_vnodes_per_pnode=4",
              "-e", "vxlab_vnode_kind=netns", "-e", "vxlab_arp_mode=static")
    info["name"] = name
    try:
        yield info
    finally:
        subprocess.run([VXLAB, "destroy", "-i", info["inventory"], "-q"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=600, check=False)
        subprocess.run([VXLAB, "testbed", "down", "--name", name, "-q"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=600, check=False)


def on(bed, pnode, script):
    """A shell script on a pnode over its real SSH (the script is built from plan data only)."""
    proc = subprocess.run(["ssh", "-F", bed["ssh_config"], pnode, "sh -c %s" % shlex.quote(script)],
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    return proc.returncode, proc.stdout


def tables(bed, pnode, vnodes):
    """{vnode: {address: mac}} of the PERMANENT entries of each vnode's eth0, read in the pnode."""
    out = {}
    for v in vnodes:
        rc, text = on(bed, pnode, "ip -n %s -j neigh show dev eth0 nud permanent" % v["name"])
        assert rc == 0, text
        out[v["name"]] = dict((e["dst"], e["lladdr"]) for e in json.loads(text or "[]"))
    return out


def changed(result):
    return {h: v["changed"] for h, v in result["hosts"].items()}


def test_static_then_suppress(bed):
    inv = bed["inventory"]
    p1, p2 = sorted(p["name"] for p in bed["pnodes"])
    assert vx("deploy", "-i", inv)["ok"]
    plan = vx("plan", "-i", inv)
    by_pnode = {p: [v for v in plan["vnodes"] if v["pnode"] == p] for p in (p1, p2)}
    for p in (p1, p2):
        for name, table in tables(bed, p, by_pnode[p]).items():
            assert table == dict((v["address"], v["mac"]) for v in plan["vnodes"] if v["name"] != name)
    again = vx("deploy", "-i", inv)
    assert again["ok"] and set(changed(again).values()) == {0}, changed(again)

    # the last vnode of every pnode leaves the platform: it leaves every table
    three = ["-e", "vxlab_vnodes_per_pnode=3", "-e", "vxlab_pnode_stride=4"]  # numbers kept
    assert vx("deploy", "-i", inv, *three)["ok"]
    kept = [v for v in plan["vnodes"] if not v["name"].endswith(("-4", "-8"))]
    assert len(kept) == 6
    for p in (p1, p2):
        for name, table in tables(bed, p, [v for v in kept if v["pnode"] == p]).items():
            assert table == dict((v["address"], v["mac"]) for v in kept if v["name"] != name)

    # suppress: static entries go, the VXLAN interface answers ARP, nothing ARPs over ib0
    suppress = three + ["-e", "vxlab_arp_mode=suppress"]
    assert vx("deploy", "-i", inv, *suppress)["ok"]
    local = [v for v in kept if v["pnode"] == p1]
    remote = [v for v in kept if v["pnode"] == p2]
    assert all(t == {} for t in tables(bed, p1, local).values())
    rc, text = on(bed, p1, "ip -j -d link show dev %s-vx" % bed["name"])
    assert rc == 0 and '"proxy":true' in text.replace(" ", "") and '"learning":false' in text.replace(" ", "")
    for v in local:
        assert on(bed, p1, "ip -n %s neigh flush dev eth0" % v["name"])[0] == 0
    pnode_ns = [p.get("netns") or "vt-%s-p1" % bed["name"] for p in bed["pnodes"] if p["name"] == p1][0]
    fd, pcap = tempfile.mkstemp(suffix=".pcap")
    os.close(fd)
    dump = subprocess.Popen(["nsenter", "--net=/run/netns/" + pnode_ns, "timeout", "60", "tcpdump",
                             "-i", "ib0", "-U", "-w", pcap], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        sweep = " && ".join("ip netns exec %s ping -c1 -W2 %s >/dev/null" % (s["name"], d["address"])
                            for s in local for d in remote)
        rc, text = on(bed, p1, sweep)
        assert rc == 0, text
        # the gateway (on the first pnode) from a vnode of the other pnode: answered by the proxy too
        rc, text = on(bed, p2, "ip netns exec %s ping -c1 -W2 %s" % (remote[0]["name"], plan["platform"]["gateway"]))
        assert rc == 0, text
        time.sleep(0.5)
    finally:
        if dump.poll() is None:
            os.kill(dump.pid, signal.SIGINT)
        dump.wait(timeout=10)
    try:
        arp = subprocess.run(["tcpdump", "-r", pcap, "-n", "arp or (udp and port 4789 and udp[36:2] = 0x0806)"],
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False).stdout
        vxlan = subprocess.run(["tcpdump", "-r", pcap, "-n", "udp port 4789"], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False).stdout
    finally:
        os.unlink(pcap)
    assert len(vxlan.splitlines()) >= 2 * len(local) * len(remote), vxlan[-2000:]
    assert arp.splitlines() == [], arp[-2000:]
