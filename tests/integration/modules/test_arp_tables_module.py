"""vxlab.emulation.arp_tables for real (root): static tables inside vnode namespaces, the VXLAN
device's tables in suppress mode, idempotence, check mode on drift, removal of a vnode, dynamic
mode cleaning up, and entries that are not the platform's left alone."""
import json
import os
import subprocess

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, netlink)"),
]

NET = "10.%d.0.0/16" % (100 + os.getpid() % 50)


def platform():
    return "t%dn" % (os.getpid() % 10000)


def neigh(ns, dev, permanent=True):
    argv = ["ip", "-j"] + (["-n", ns] if ns else []) + ["neigh", "show", "dev", dev]
    if permanent:
        argv += ["nud", "permanent"]
    out = subprocess.run(argv, stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return dict((e["dst"], e.get("lladdr")) for e in json.loads(out or "[]"))


def fdb(ns, dev):
    out = subprocess.run(["bridge", "-j", "-n", ns, "fdb", "show", "dev", dev], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return dict((e["mac"], e.get("dst")) for e in json.loads(out or "[]")
                if e["mac"] != "00:00:00:00:00:00" and "dst" in e)


def expected(layout):
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "collections"))
    from ansible_collections.vxlab.emulation.plugins.module_utils._plan import iter_layout
    return list(iter_layout(layout))


@pytest.fixture
def vnode_ns(vx):
    """Namespaces named like the platform's vnodes, each with an eth0 (removed at teardown)."""
    made = []

    def make(names):
        for name in names:
            vx.ip("netns", "add", name)
            made.append(name)
            vx.ip("-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
            vx.ip("-n", name, "link", "set", "eth0", "up")
        return names
    yield make
    for name in made:
        vx.ip("netns", "del", name, check=False)


def test_static_tables(vx, vnode_ns, pnode_pair):
    p = platform()
    layout = {"platform": p, "network": NET, "stride": 3,
              "pnodes": [["pa", 0, pnode_pair["vtep_a"], 3], ["pb", 1, pnode_pair["vtep_b"], 2]]}
    everyone = expected(layout)
    local = vnode_ns([v["name"] for v in everyone if v["pnode"] == "pa"])
    args = {"platform": p, "mode": "static", "pnode": "pa", "layout": layout}

    r = vx.run_module("arp_tables", args)
    assert r["changed"] is True and r["entries"]["per_vnode"] == 4 and r["entries"]["replaced"] == 12
    for v in everyone[:3]:
        want = dict((o["address"], o["mac"]) for o in everyone if o["name"] != v["name"])
        assert neigh(v["name"], "eth0") == want
    assert vx.run_module("arp_tables", args)["changed"] is False

    # drift: a wrong MAC, a stranger of the platform network, an entry outside it (not ours)
    ns = local[0]
    other = everyone[1]["address"]
    vx.ip("-n", ns, "neigh", "replace", other, "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "permanent")
    stray = NET.replace("0.0/16", "200.1")
    vx.ip("-n", ns, "neigh", "add", stray, "lladdr", "02:00:00:00:00:98", "dev", "eth0", "nud", "permanent")
    vx.ip("-n", ns, "neigh", "add", "192.0.2.77", "lladdr", "02:00:00:00:00:97", "dev", "eth0", "nud", "permanent")
    r = vx.run_module("arp_tables", args, check=True)
    assert r["changed"] is True
    assert r["diff"]["before"] == {"vnode:%s" % ns: {"entries": 5, "to_replace": 1, "to_remove": 1}}
    assert neigh(ns, "eth0")[other] == "02:00:00:00:00:99"
    r = vx.run_module("arp_tables", args)
    assert r["changed"] is True and r["entries"] == dict(r["entries"], replaced=1, removed=1)
    table = neigh(ns, "eth0")
    assert table[other] == everyone[1]["mac"] and stray not in table and "192.0.2.77" in table

    # a vnode leaves the platform: it disappears from every table
    smaller = dict(layout, pnodes=[["pa", 0, pnode_pair["vtep_a"], 3], ["pb", 1, pnode_pair["vtep_b"], 1]])
    gone = everyone[-1]["address"]
    r = vx.run_module("arp_tables", dict(args, layout=smaller))
    assert r["changed"] is True and r["entries"]["removed"] == 3
    assert all(gone not in neigh(n, "eth0") for n in local)

    # dynamic: every platform entry goes, the foreign one stays
    r = vx.run_module("arp_tables", dict(args, mode="dynamic", layout=smaller))
    assert r["changed"] is True
    assert neigh(ns, "eth0") == {"192.0.2.77": "02:00:00:00:00:97"}
    assert all(neigh(n, "eth0") == {} for n in local[1:])
    assert vx.run_module("arp_tables", dict(args, mode="dynamic", layout=smaller))["changed"] is False


def test_static_refuses_a_missing_vnode_before_any_change(vx, vnode_ns, pnode_pair):
    p = platform()
    layout = {"platform": p, "network": NET, "stride": 2,
              "pnodes": [["pa", 0, pnode_pair["vtep_a"], 2], ["pb", 1, pnode_pair["vtep_b"], 1]]}
    first = vnode_ns(["%s-1" % p])[0]
    r = vx.run_module("arp_tables", {"platform": p, "mode": "static", "pnode": "pa", "layout": layout},
                      expect_fail=True)
    assert "vnode %s-2" % p in r["msg"] and neigh(first, "eth0") == {}
    r = vx.run_module("arp_tables", {"platform": p, "mode": "static", "pnode": "pz", "layout": layout},
                      expect_fail=True)
    assert "pnode='pz'" in r["msg"]


def test_suppress_tables_on_the_vxlan(vx, pnode_pair):
    p = platform()
    a = pnode_pair["a"]
    vx.ip("-n", a, "link", "add", "vxvx", "type", "vxlan", "id", "42", "dstport", "4789", "local",
          pnode_pair["vtep_a"], "dev", "ib0", "nolearning", "proxy")
    vx.ip("-n", a, "link", "set", "vxvx", "alias", "vxlab:%s" % p, "up")
    subprocess.run(["bridge", "-n", a, "fdb", "append", "00:00:00:00:00:00", "dev", "vxvx", "dst",
                    pnode_pair["vtep_b"]], check=True)
    layout = {"platform": p, "network": NET, "stride": 3,
              "pnodes": [["pa", 0, pnode_pair["vtep_a"], 3], ["pb", 1, pnode_pair["vtep_b"], 2]]}
    remote = [v for v in expected(layout) if v["pnode"] == "pb"]
    gw = NET.replace("0.0/16", "0.1")
    args = {"platform": p, "mode": "suppress", "pnode": "pa", "layout": layout, "netns": a,
            "vxlan": "vxvx", "vnodes": [], "gateway_pnode": "pb", "gateway_mac": "02:00:00:00:aa:01"}
    r = vx.run_module("arp_tables", args)
    assert r["changed"] is True and r["entries"]["vxlan_neigh"] == 3 and r["entries"]["vxlan_fdb"] == 3
    want = dict((v["address"], v["mac"]) for v in remote)
    want[gw] = "02:00:00:00:aa:01"
    assert neigh(a, "vxvx") == want
    assert fdb(a, "vxvx") == dict((mac, pnode_pair["vtep_b"]) for mac in want.values())
    assert vx.run_module("arp_tables", args)["changed"] is False
    # dynamic removes them; the flood entry of the vxlan module stays
    r = vx.run_module("arp_tables", dict(args, mode="dynamic"))
    assert r["changed"] is True and neigh(a, "vxvx") == {} and fdb(a, "vxvx") == {}
    out = subprocess.run(["bridge", "-n", a, "fdb", "show", "dev", "vxvx"], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    assert "00:00:00:00:00:00 dst %s" % pnode_pair["vtep_b"] in out


def test_a_vnode_forgets_a_gateway_mac_learnt_before_it_changed(vx, pnode_pair, vnode_ns):
    # a gratuitous ARP does not cross a VXLAN device that answers ARP itself: a vnode of another
    # pnode keeps the old gateway MAC until the module removes it (its next ARP gets the new one)
    p = platform()
    a = pnode_pair["a"]
    vx.ip("-n", a, "link", "add", "vxvx", "type", "vxlan", "id", "43", "dstport", "4789", "local",
          pnode_pair["vtep_a"], "dev", "ib0", "nolearning", "proxy")
    vx.ip("-n", a, "link", "set", "vxvx", "alias", "vxlab:%s" % p, "up")
    layout = {"platform": p, "network": NET, "stride": 3,
              "pnodes": [["pa", 0, pnode_pair["vtep_a"], 1], ["pb", 1, pnode_pair["vtep_b"], 1]]}
    mine = vnode_ns(["%s-1" % p])[0]
    gw = NET.replace("0.0/16", "0.1")
    other = NET.replace("0.0/16", "0.9")
    vx.ip("-n", mine, "neigh", "replace", gw, "lladdr", "02:00:00:00:bb:01", "dev", "eth0", "nud", "reachable")
    vx.ip("-n", mine, "neigh", "replace", other, "lladdr", "02:00:00:00:bb:09", "dev", "eth0", "nud", "reachable")
    args = {"platform": p, "mode": "suppress", "pnode": "pa", "layout": layout, "netns": a,
            "vxlan": "vxvx", "gateway_pnode": "pb", "gateway_mac": "02:00:00:00:aa:01",
            "vnodes": [{"name": mine}]}
    check = vx.run_module("arp_tables", args, check=True)
    assert check["changed"] is True and gw in neigh(mine, "eth0", permanent=False)
    r = vx.run_module("arp_tables", args)
    assert r["changed"] is True
    left = neigh(mine, "eth0", permanent=False)
    assert gw not in left and left[other] == "02:00:00:00:bb:09"  # only the gateway's entry
    assert vx.run_module("arp_tables", args)["changed"] is False
    # the right MAC learnt again is kept
    vx.ip("-n", mine, "neigh", "replace", gw, "lladdr", "02:00:00:00:aa:01", "dev", "eth0", "nud", "reachable")
    assert vx.run_module("arp_tables", args)["changed"] is False


def test_with_a_record_only_filled_tables_are_read(vx, vnode_ns, pnode_pair, tmp_path):
    # outside static mode a table the module never filled is not dumped (the kernel walks its
    # whole neighbour table for a dump): only the gateway's entry is looked up there
    p = platform()
    state_dir = str(tmp_path / "state")
    layout = {"platform": p, "network": NET, "stride": 3,
              "pnodes": [["pa", 0, pnode_pair["vtep_a"], 2], ["pb", 1, pnode_pair["vtep_b"], 1]]}
    first, second = vnode_ns(["%s-1" % p, "%s-2" % p])
    record = os.path.join(state_dir, "arp-tables.json")
    args = {"platform": p, "mode": "static", "pnode": "pa", "layout": layout, "state_dir": state_dir,
            "gateway_pnode": "pb", "gateway_mac": "02:00:00:00:aa:01"}
    assert vx.run_module("arp_tables", args, check=True)["changed"] is True and not os.path.exists(record)
    assert vx.run_module("arp_tables", args)["changed"] is True
    with open(record) as f:
        assert json.load(f)["static"] == [first, second]
    assert len(neigh(first, "eth0")) == 2  # the other two vnodes

    # dynamic: the filled tables are read and emptied, then the record says "none filled"
    dyn = dict(args, mode="dynamic")
    assert vx.run_module("arp_tables", dyn)["changed"] is True
    assert neigh(first, "eth0") == {} and neigh(second, "eth0") == {}
    with open(record) as f:
        assert json.load(f)["static"] == []
    assert vx.run_module("arp_tables", dyn)["changed"] is False

    # a permanent entry of the platform's network the module did not write, in a table it never
    # filled since, is not read; a gateway MAC learnt before it changed is still found and removed
    planted = NET.replace("0.0/16", "0.2")
    gw = NET.replace("0.0/16", "0.1")
    vx.ip("-n", first, "neigh", "replace", planted, "lladdr", "02:00:00:00:cc:02", "dev", "eth0", "nud", "permanent")
    vx.ip("-n", second, "neigh", "replace", gw, "lladdr", "02:00:00:00:bb:01", "dev", "eth0", "nud", "reachable")
    r = vx.run_module("arp_tables", dyn)
    assert r["changed"] is True and r["diff"]["before"] == {"vnode:%s" % second: {"entries": 0, "gateway": "02:00:00:00:bb:01"}}
    assert neigh(first, "eth0") == {planted: "02:00:00:00:cc:02"}
    assert gw not in neigh(second, "eth0", permanent=False)
    # without the record every table is read: the planted entry is the platform's and goes
    r = vx.run_module("arp_tables", dict(dyn, state_dir=None))
    assert r["changed"] is True and neigh(first, "eth0") == {}

    # vnodes made just now are not read: in static mode their tables are written whole, and an
    # entry they could not hold yet is not looked for
    stray = NET.replace("0.0/16", "200.1")
    vx.ip("-n", second, "neigh", "replace", stray, "lladdr", "02:00:00:00:cc:03", "dev", "eth0", "nud", "permanent")
    r = vx.run_module("arp_tables", dict(args, new_vnodes=[second]))
    assert r["changed"] is True and r["entries"]["replaced"] == 4 and r["entries"]["removed"] == 0
    assert stray in neigh(second, "eth0") and len(neigh(second, "eth0")) == 3
    r = vx.run_module("arp_tables", args)  # read whole again: the stray entry of the network goes
    assert r["changed"] is True and r["entries"]["removed"] == 1 and stray not in neigh(second, "eth0")

    # absent empties the tables and forgets the record
    assert vx.run_module("arp_tables", dict(args, state="absent"))["changed"] is True
    assert neigh(first, "eth0") == {} and neigh(second, "eth0") == {} and not os.path.exists(record)
