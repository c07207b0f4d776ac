"""vxlab.emulation.route for real (root), inside a test namespace standing for the control host.

changed -> unchanged -> check mode on drift -> repair -> absent removes only the vxlab route.
"""
import os

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, netlink)"),
]


def routes(vx, ns):
    return vx.ip("-n", ns, "route", "show").stdout


def test_route_lifecycle(vx, pnode_pair):
    ns = pnode_pair["a"]
    gw, other = pnode_pair["vtep_b"], pnode_pair["net"] + ".7"
    platform = "t%dr" % (os.getpid() % 10000)
    args = {"dest": "10.144.0.0/16", "gateway": gw, "platform": platform, "netns": ns}

    r = vx.run_module("route", args)
    assert r["changed"] is True
    assert r["diff"] == {"before": {"route 10.144.0.0/16": None}, "after": {"route 10.144.0.0/16": gw}}
    assert r["route"] == {"dest": "10.144.0.0/16", "gateway": gw, "present": True, "proto": 251,
                          "table": "main"}
    assert "10.144.0.0/16 via %s dev ib0 proto 251" % gw in routes(vx, ns)
    assert vx.run_module("route", args)["changed"] is False

    # drift: someone pointed our route elsewhere
    vx.ip("-n", ns, "route", "replace", "10.144.0.0/16", "via", other, "proto", "251")
    r = vx.run_module("route", args, check=True)
    assert r["changed"] is True and r["diff"]["before"]["route 10.144.0.0/16"] == other
    assert "via %s" % other in routes(vx, ns)
    assert vx.run_module("route", args)["changed"] is True
    assert "10.144.0.0/16 via %s" % gw in routes(vx, ns)

    # a route of someone else (another protocol) is never replaced nor removed
    vx.ip("-n", ns, "route", "add", "10.145.0.0/16", "via", other)
    r = vx.run_module("route", dict(args, dest="10.145.0.0/16"), expect_fail=True)
    assert "not installed by vxlab" in r["msg"]
    r = vx.run_module("route", dict(args, dest="10.145.0.0/16", state="absent"))
    assert r["changed"] is False and "10.145.0.0/16 via %s" % other in routes(vx, ns)

    absent = dict(args, state="absent")
    del absent["gateway"]
    r = vx.run_module("route", absent, check=True)
    assert r["changed"] is True and "10.144.0.0/16" in routes(vx, ns)
    r = vx.run_module("route", absent)
    assert r["changed"] is True and "10.144.0.0/16" not in routes(vx, ns)
    assert vx.run_module("route", absent)["changed"] is False


def test_route_bad_input_is_refused(vx, pnode_pair):
    ns = pnode_pair["a"]
    platform = "t%dr" % (os.getpid() % 10000)
    r = vx.run_module("route", {"dest": "10.144.0.1/16", "gateway": pnode_pair["vtep_b"],
                                "platform": platform, "netns": ns}, expect_fail=True)
    assert "10.144.0.1/16" in r["msg"] and "host bits" in r["msg"]
    r = vx.run_module("route", {"dest": "10.144.0.0/16", "gateway": "10.77.0.1",
                                "platform": platform, "netns": ns}, expect_fail=True)
    assert "unreachable" in r["msg"].lower()
    assert "10.144.0.0/16" not in routes(vx, ns)
