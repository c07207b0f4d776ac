"""vxlab inspect on the testbed (root): what runs, read from the pnodes, against the plan and the
faults in force. LXC vnodes (the kind with a lifecycle): one frozen, one stopped, one degraded;
a group filter; removed even on failure."""
import json
import os

import pytest
from cli_testbed import ROOT_MARKS, json_of, unique_bed_name, unique_bed_network, vxlab_run

pytestmark = ROOT_MARKS
NAME = unique_bed_name("i")
NETWORK = unique_bed_network(43)
GROUPS = '[{"name": "slow", "vnodes": "%s-[1,3]", "cpu": 0.5}]' % NAME


@pytest.fixture(scope="module")
def bed():
    info = None
    try:
        info = json_of(vxlab_run("testbed", "up", "--name", NAME, "--pnodes", "2", "-e", "vxlab_vnodes_per_pnode=2",
                                 "-e", "vxlab_vnode_network=" + NETWORK, "-e", "vxlab_vnode_kind=lxc",
                                 "-e", "vxlab_vnode_groups=" + GROUPS, "--json", "-q"))
        yield info
    finally:
        if info is not None:
            vxlab_run("destroy", "-i", info["inventory"], "-q")
        proc = vxlab_run("testbed", "down", "--name", NAME, "-q")
        assert proc.returncode == 0, proc.stderr


def inspect(bed, *more):
    proc = vxlab_run("inspect", "-i", bed["inventory"], "--json", "-q", *more)
    return proc.returncode, json.loads(proc.stdout)


def test_inspect_matches_the_plan_and_shows_the_faults(bed):
    if not os.path.exists("/usr/bin/lxc-start"):
        pytest.skip("LXC is not installed on this machine (lxc-start missing)")
    inv = bed["inventory"]
    plan = json_of(vxlab_run("plan", "-i", inv, "--json"))
    assert json_of(vxlab_run("deploy", "-i", inv, "--json", "-q"))["ok"]
    rc, data = inspect(bed)
    assert rc == 0 and data["ok"] and data["states"] == {"running": 4}
    by = dict((v["name"], v) for v in data["vnodes"])
    for v in plan["vnodes"]:
        seen = by[v["name"]]
        assert (seen["pnode"], seen["kind"], seen["state"]) == (v["pnode"], "lxc", "running")
        eth0 = [i for i in seen["interfaces"] if i["ifname"] == "eth0"][0]
        assert eth0["addresses"] == ["%s/%d" % (v["address"], plan["platform"]["prefixlen"])] and eth0["up"]
        assert eth0["mac"] == v["mac"] and seen["faults"] == [] and seen["shaping"] == {}
    assert by["%s-1" % NAME]["groups"] == ["slow"] and by["%s-2" % NAME]["groups"] == []

    for action, target, more in (("freeze", 1, []), ("down", 4, []), ("degrade", 2, ["--rate", "5mbit"])):
        proc = vxlab_run("fault", "-i", inv, "-q", "now", action, "%s-%d" % (NAME, target), *more)
        assert proc.returncode == 0, proc.stderr
    rc, data = inspect(bed)
    by = dict((v["name"], v) for v in data["vnodes"])
    assert (by["%s-1" % NAME]["state"], by["%s-1" % NAME]["faults"]) == ("frozen", ["freeze"])
    assert (by["%s-4" % NAME]["state"], by["%s-4" % NAME]["faults"]) == ("stopped", ["vnode_down"])
    degraded = by["%s-2" % NAME]
    assert degraded["state"] == "running" and degraded["faults"] == ["degrade"]
    assert degraded["shaping"]["out"] == {"rate": "5mbit", "owner": "fault"} == degraded["shaping"]["in"]
    assert data["states"] == {"frozen": 1, "running": 2, "stopped": 1}
    # a group, and a pnode, as filters
    rc, slow = inspect(bed, "--group", "slow")
    assert sorted(v["name"] for v in slow["vnodes"]) == ["%s-1" % NAME, "%s-3" % NAME]
    rc, p2 = inspect(bed, "--pnode", "%s-p2" % NAME)
    assert sorted(v["name"] for v in p2["vnodes"]) == ["%s-3" % NAME, "%s-4" % NAME]
    table = vxlab_run("inspect", "-i", inv, "-q").stdout
    assert "frozen" in table and "rate=5mbit (fault)" in table and "4 vnodes shown of 4" in table
