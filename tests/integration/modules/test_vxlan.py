"""vxlab.emulation.vxlan for real (root), on one of two pnode namespaces joined by ``ib0``.

changed -> unchanged -> check mode on drift -> repair; adding/removing a remote VTEP touches only
its FDB entry; an attribute the kernel cannot change re-creates the interface; refusals (underlay
missing, no IPv4, wrong local, MTU too small) change nothing; absent removes.
(The ping through the VXLAN is in test_vnodes.py.)
"""
import os
import subprocess

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, netlink)"),
]


def fdb(ns, dev):
    out = subprocess.run(["bridge", "-n", ns, "fdb", "show", "dev", dev], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return sorted(line.split(" dst ")[1].split()[0] for line in out.splitlines()
                  if line.startswith("00:00:00:00:00:00 dst "))


def test_vxlan_lifecycle(vx, pnode_pair):
    ns = pnode_pair["a"]
    platform = "t%dx" % (os.getpid() % 10000)
    vx.run_module("bridge", {"name": "vxbr", "platform": platform, "netns": ns, "mtu": 1450})
    extra = pnode_pair["net"] + ".3"
    args = {"name": "vxvx", "platform": platform, "netns": ns, "vni": 4242, "port": 4789,
            "underlay_interface": "ib0", "local": pnode_pair["vtep_a"], "mode": "unicast",
            "remote_vteps": [pnode_pair["vtep_b"]], "mtu": 1450, "learning": False,
            "master": "vxbr"}

    r = vx.run_module("vxlan", args)
    assert r["changed"] is True
    v = r["vxlan"]
    assert (v["vni"], v["port"], v["local"], v["group"], v["underlay_interface"], v["mtu"],
            v["learning"], v["proxy"], v["master"], v["up"], v["remote_vteps"]) == (
        4242, 4789, pnode_pair["vtep_a"], None, "ib0", 1450, False, False, "vxbr", True,
        [pnode_pair["vtep_b"]])
    out = vx.ip("-n", ns, "-d", "link", "show", "vxvx").stdout
    assert "vxlan id 4242" in out and "nolearning" in out and "master vxbr" in out
    assert fdb(ns, "vxvx") == [pnode_pair["vtep_b"]]
    assert vx.run_module("vxlan", args)["changed"] is False

    # add a VTEP: only its entry appears, the other one is kept as it was
    r = vx.run_module("vxlan", dict(args, remote_vteps=[pnode_pair["vtep_b"], extra]))
    assert r["changed"] is True
    assert r["diff"] == {"before": {"remote_vteps": [pnode_pair["vtep_b"]]},
                         "after": {"remote_vteps": [pnode_pair["vtep_b"], extra]}}
    assert fdb(ns, "vxvx") == sorted([pnode_pair["vtep_b"], extra])
    # remove it again: only its entry goes
    r = vx.run_module("vxlan", args)
    assert r["changed"] is True and fdb(ns, "vxvx") == [pnode_pair["vtep_b"]]
    assert r["diff"] == {"before": {"remote_vteps": [pnode_pair["vtep_b"], extra]},
                         "after": {"remote_vteps": [pnode_pair["vtep_b"]]}}

    # drift: a stranger flood entry, learning on, link down, out of the bridge
    subprocess.run(["bridge", "-n", ns, "fdb", "append", "00:00:00:00:00:00", "dev", "vxvx",
                    "dst", extra], check=True)
    vx.ip("-n", ns, "link", "set", "vxvx", "type", "vxlan", "learning")
    vx.ip("-n", ns, "link", "set", "vxvx", "down", "nomaster")
    r = vx.run_module("vxlan", args, check=True)
    assert r["changed"] is True
    assert r["diff"]["before"] == {"learning": True, "master": None, "up": False,
                                   "remote_vteps": sorted([pnode_pair["vtep_b"], extra])}
    assert fdb(ns, "vxvx") == sorted([pnode_pair["vtep_b"], extra])
    assert "master" not in vx.ip("-n", ns, "link", "show", "vxvx").stdout
    r = vx.run_module("vxlan", args)
    assert r["changed"] is True and r["vxlan"]["master"] == "vxbr" and r["vxlan"]["up"] is True
    assert fdb(ns, "vxvx") == [pnode_pair["vtep_b"]] and r["vxlan"]["learning"] is False
    assert vx.run_module("vxlan", args)["changed"] is False

    # the VNI cannot change in place: delete and re-create, reported in the diff
    index = r["vxlan"]["ifindex"]
    r = vx.run_module("vxlan", dict(args, vni=4243))
    assert r["changed"] is True and r["diff"]["after"]["recreate"] == "vni changed"
    assert r["vxlan"]["vni"] == 4243 and r["vxlan"]["ifindex"] != index
    assert r["vxlan"]["master"] == "vxbr" and fdb(ns, "vxvx") == [pnode_pair["vtep_b"]]

    absent = {"name": "vxvx", "platform": platform, "netns": ns, "state": "absent"}
    r = vx.run_module("vxlan", absent, check=True)
    assert r["changed"] is True and "vxvx" in vx.links(ns)
    assert vx.run_module("vxlan", absent)["changed"] is True and "vxvx" not in vx.links(ns)
    assert vx.run_module("vxlan", absent)["changed"] is False


def test_vxlan_refusals_change_nothing(vx, pnode_pair, netns_factory):
    ns = pnode_pair["a"]
    platform = "t%dx" % (os.getpid() % 10000)
    base = {"name": "vxvx", "platform": platform, "netns": ns, "vni": 42,
            "underlay_interface": "ib0", "local": pnode_pair["vtep_a"], "mtu": 1450}
    cases = [
        (dict(base, underlay_interface="nosuchif"), "underlay_interface nosuchif does not exist"),
        (dict(base, local="10.250.250.250"), "local=10.250.250.250 is not an address of "
                                             "underlay_interface ib0"),
        (dict(base, mtu=1460), "underlay_interface ib0 has MTU 1500, less than mtu 1460 + 50"),
        (dict(base, master="nosuchbr"), "master bridge nosuchbr does not exist"),
        (dict(base, local=None), "local: the VTEP address is required in unicast mode"),
        (dict(base, vni=0), "vni=0"),
    ]
    for args, message in cases:
        r = vx.run_module("vxlan", args, expect_fail=True)
        assert message in r["msg"], (args, r["msg"])
        assert "vxvx" not in vx.links(ns)
    bare = netns_factory("x")
    vx.ip("-n", bare, "link", "add", "ib0", "type", "bridge")
    r = vx.run_module("vxlan", dict(base, netns=bare), expect_fail=True)
    assert "underlay_interface ib0 has no IPv4 address" in r["msg"]
    assert "vxvx" not in vx.links(bare)
