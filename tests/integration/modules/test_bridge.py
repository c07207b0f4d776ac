"""vxlab.emulation.bridge for real (root): a bridge inside a test namespace.

changed -> unchanged -> check mode on drift reports changed and changes nothing -> the real run
repairs -> absent removes (and puts ip_forward back). The namespace is deleted even on failure.
"""
import os

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, netlink)"),
]


def forwarding(vx, ns):
    return vx.ip("netns", "exec", ns, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip()


def test_bridge_lifecycle(vx, netns_factory):
    ns = netns_factory("br")
    platform = "t%db" % (os.getpid() % 10000)
    args = {"name": "vxbr", "platform": platform, "netns": ns, "mtu": 1450, "ageing_time": 600,
            "addresses": ["10.144.0.1/16"], "forwarding": True}
    assert forwarding(vx, ns) == "0"

    r = vx.run_module("bridge", args)
    assert r["changed"] is True
    assert r["diff"]["after"]["present"] is True and r["diff"]["after"]["ip_forward"] == "1"
    b = r["bridge"]
    got = (b["exists"], b["mtu"], b["ageing_time"], b["forward_delay"], b["addresses"], b["up"],
           b["ip_forward"], b["alias"])
    assert got == (True, 1450, 600, 0, ["10.144.0.1/16"], True, True, "vxlab:" + platform)
    out = vx.ip("-n", ns, "-d", "link", "show", "vxbr").stdout
    assert "stp_state 0" in out and "ageing_time 60000" in out and "alias vxlab:" + platform in out
    assert forwarding(vx, ns) == "1"

    assert vx.run_module("bridge", args)["changed"] is False

    # drift: an extra address, the wanted one gone, MTU changed, link down
    vx.ip("-n", ns, "addr", "del", "10.144.0.1/16", "dev", "vxbr")
    vx.ip("-n", ns, "addr", "add", "10.99.0.1/24", "dev", "vxbr")
    vx.ip("-n", ns, "link", "set", "vxbr", "mtu", "1400", "down")
    r = vx.run_module("bridge", args, check=True)
    assert r["changed"] is True
    assert r["diff"]["before"]["addresses"] == ["10.99.0.1/24"]
    assert r["diff"]["after"]["addresses"] == ["10.144.0.1/16"]
    assert r["diff"]["before"]["mtu"] == 1400 and r["diff"]["before"]["up"] is False
    out = vx.ip("-n", ns, "-o", "addr", "show", "dev", "vxbr").stdout
    assert "10.99.0.1/24" in out and "10.144.0.1/16" not in out
    assert "mtu 1400" in vx.ip("-n", ns, "link", "show", "vxbr").stdout
    r = vx.run_module("bridge", args)
    assert r["changed"] is True and r["bridge"]["addresses"] == ["10.144.0.1/16"]
    assert r["bridge"]["mtu"] == 1450 and r["bridge"]["up"] is True
    assert vx.run_module("bridge", args)["changed"] is False

    # forwarding no longer wanted: the value found before is put back
    r = vx.run_module("bridge", dict(args, forwarding=False))
    assert r["changed"] is True and forwarding(vx, ns) == "0"
    r = vx.run_module("bridge", args)
    assert forwarding(vx, ns) == "1"

    absent = {"name": "vxbr", "platform": platform, "netns": ns, "state": "absent"}
    r = vx.run_module("bridge", absent, check=True)
    assert r["changed"] is True and "vxbr" in vx.links(ns)
    r = vx.run_module("bridge", absent)
    assert r["changed"] is True and "vxbr" not in vx.links(ns)
    assert forwarding(vx, ns) == "0"
    assert vx.run_module("bridge", absent)["changed"] is False


def test_bridge_not_ours_is_refused_and_left_alone(vx, netns_factory):
    ns = netns_factory("br")
    platform = "t%db" % (os.getpid() % 10000)
    vx.ip("-n", ns, "link", "add", "otherbr", "type", "bridge")
    r = vx.run_module("bridge", {"name": "otherbr", "platform": platform, "netns": ns,
                                 "addresses": ["10.144.0.1/16"]}, expect_fail=True)
    assert "otherbr exists but is not a bridge owned by platform %s" % platform in r["msg"]
    r = vx.run_module("bridge", {"name": "otherbr", "platform": platform, "netns": ns,
                                 "state": "absent"})
    assert r["changed"] is False and "otherbr" in vx.links(ns)
    assert "inet " not in vx.ip("-n", ns, "addr", "show", "dev", "otherbr").stdout
    r = vx.run_module("bridge", {"name": "vxbr", "platform": platform, "netns": ns,
                                 "addresses": ["10.144.0.300/16"]}, expect_fail=True)
    assert "10.144.0.300/16" in r["msg"] and "vxbr" not in vx.links(ns)
