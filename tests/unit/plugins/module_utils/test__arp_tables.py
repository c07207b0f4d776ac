"""arp_tables as data: validation, the tables each mode wants (from the compact layout, with the
plan's own formula), the diff of entries, the record of filled tables and the packed netlink
messages; as root, one neighbour entry looked up in a namespace of its own (``zra<pid>``)."""
import os
import socket
import subprocess
import struct

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _arp_tables as n
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import rawnl as raw
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import plan_from_hostvars

LAYOUT = {"platform": "demo", "network": "10.144.0.0/16", "stride": 3,
          "pnodes": [["pa", 0, "192.0.2.1", 3], ["pb", 1, "192.0.2.2", 2]]}


def params(**kw):
    p = {"platform": "demo", "mode": "static", "state": "present", "pnode": "pa", "layout": LAYOUT,
         "vnodes": None, "interface": "eth0", "vxlan": None, "gateway_pnode": None, "gateway_mac": None}
    p.update(kw)
    return p


def test_layout_rebuilds_exactly_the_plan():
    hv = {"pa": {"ansible_host": "192.0.2.1", "vxlab_platform": "demo", "vxlab_vnodes_per_pnode": 3,
                 "vxlab_arp_mode": "static"},
          "pb": {"ansible_host": "192.0.2.2", "vxlab_platform": "demo", "vxlab_vnodes_per_pnode": 3,
                 "vxlab_arp_mode": "static", "vxlab_vnodes": 2}}
    plan = plan_from_hostvars(["pa", "pb"], lambda h: hv[h])
    layout = plan.pnode_facts("pb")["neigh_layout"]
    assert layout == LAYOUT
    d = n.validate(params(layout=layout))
    rebuilt = [(v["name"], v["address"], v["mac"], v["pnode"]) for v in n.platform_vnodes(d)]
    assert rebuilt == [(v["name"], v["address"], v["mac"], v["pnode"]) for v in plan.vnodes]
    assert [t["name"] for t in d["targets"]] == ["demo-1", "demo-2", "demo-3"]
    assert d["targets"][0]["ns"] == "demo-1"


def test_static_and_suppress_tables():
    d = n.validate(params(mode="suppress", gateway_pnode="pb", gateway_mac="02:00:00:00:aa:01"))
    vnodes = n.platform_vnodes(d)
    assert len(n.static_table(vnodes)) == 5
    neigh, fdb = n.suppress_tables(d, vnodes)
    # the other pnode's vnodes and its gateway, each MAC pointing at that pnode's VTEP
    assert sorted(neigh) == ["10.144.0.1", "10.144.0.5", "10.144.0.6"]
    assert set(fdb.values()) == {"192.0.2.2"} and len(fdb) == 3
    # on the gateway's own pnode, the gateway is local: no entry
    d = n.validate(params(mode="suppress", pnode="pb", gateway_pnode="pb", gateway_mac="02:00:00:00:aa:01"))
    neigh, fdb = n.suppress_tables(d, n.platform_vnodes(d))
    assert sorted(neigh) == ["10.144.0.2", "10.144.0.3", "10.144.0.4"] and set(fdb.values()) == {"192.0.2.1"}


def test_diff_entries():
    want = {"10.0.0.1": "m1", "10.0.0.2": "m2", "10.0.0.3": "m3"}
    assert n.diff_entries(want, dict(want), exclude=None) == ([], [])
    replace, remove = n.diff_entries(want, {"10.0.0.1": "m1", "10.0.0.2": "mX", "10.0.0.9": "m9"})
    assert sorted(replace) == ["10.0.0.2", "10.0.0.3"] and remove == ["10.0.0.9"]
    # a vnode's own address is never in its table, and is removed if there
    replace, remove = n.diff_entries(want, {"10.0.0.1": "m1"}, exclude="10.0.0.1")
    assert sorted(replace) == ["10.0.0.2", "10.0.0.3"] and remove == ["10.0.0.1"]
    assert n.target_record(3, ["a"], [], 4) == ({"entries": 3, "to_replace": 1}, {"entries": 4}, True)
    assert n.target_record(4, [], [], 4) == ({"entries": 4}, {"entries": 4}, False)
    # check mode, a table still to be made: all of it to be written, its owner's address left out
    assert n.pending_record(want, exclude="10.0.0.1") == ({"entries": None}, {"entries": 2}, True)
    assert n.pending_record({}) == ({"entries": None}, {"entries": 0}, False)


def test_managed_entries_only():
    owned = n.in_network("10.144.0.0/16")
    entries = [(2, "10.144.0.5", "02:00:00:00:00:05", nl.NUD_PERMANENT, 0),
               (2, "10.144.0.6", "02:00:00:00:00:06", 0x02, 0),           # REACHABLE: kernel's
               (2, "192.0.2.77", "02:00:00:00:00:77", nl.NUD_PERMANENT, 0),  # outside the network
               (3, "10.144.0.7", "02:00:00:00:00:07", nl.NUD_PERMANENT, 0)]  # another interface
    perm, other = n.managed_neigh(entries, 2, owned)
    assert perm == {"10.144.0.5": "02:00:00:00:00:05"}
    assert sorted(other) == ["10.144.0.6", "192.0.2.77"]
    fdb = [(9, "192.0.2.2", "00:00:00:00:00:00", nl.NUD_PERMANENT, nl.NTF_SELF),   # flood entry
           (9, "192.0.2.2", "02:00:00:00:00:05", nl.NUD_PERMANENT, nl.NTF_SELF),
           (9, "192.0.2.3", "02:00:00:00:00:06", 0x02, nl.NTF_SELF),               # learned
           (9, None, "02:00:00:00:00:07", nl.NUD_PERMANENT, nl.NTF_MASTER)]         # bridge's
    assert n.managed_fdb(fdb, 9) == {"02:00:00:00:00:05": "192.0.2.2"}


@pytest.mark.parametrize("kw,message", [
    ({"layout": None}, "layout: required in static mode"),
    ({"pnode": "pz"}, "pnode='pz': not a pnode of the layout"),
    ({"layout": dict(LAYOUT, platform="other")}, "layout.platform='other'"),
    ({"layout": dict(LAYOUT, network="10.144.0.1/16")}, "host bits"),
    ({"layout": dict(LAYOUT, pnodes=[["pa", 0, "192.0.2.1", 4]])}, "exceed the stride"),
    ({"layout": dict(LAYOUT, pnodes=[["pa", 0, "1.2.3", 3]])}, "vtep"),
    ({"vnodes": [{"name": "demo-1", "pid": "abc"}]}, "must be a process id"),
    ({"vnodes": [{"name": "demo-1"}, {"name": "demo-1"}]}, "listed twice"),
    ({"gateway_mac": "02:00:00:00:aa:01", "gateway_pnode": "nope"}, "gateway_pnode='nope'"),
    ({"gateway_mac": "zz", "gateway_pnode": "pb"}, "gateway_mac='zz'"),
    ({"interface": "x" * 16}, "interface="),
])
def test_validate_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        n.validate(params(**kw))


def test_absent_is_dynamic_and_pid_targets():
    d = n.validate(params(state="absent", mode="static"))
    assert d["mode"] == "dynamic"
    d = n.validate(params(vnodes=[{"name": "demo-1", "pid": 1234}, {"name": "demo-2", "netns": "/proc/7/ns/net"}]))
    assert [t["ns"] for t in d["targets"]] == [1234, "/proc/7/ns/net"]


def test_packed_messages():
    msg = raw.neigh_message("replace", 2, 7, "10.144.0.5", "02:d7:0a:90:00:05")
    length, kind, flags, seq, pid = struct.unpack_from("=IHHII", msg)
    assert (length, kind) == (len(msg), raw.RTM_NEWNEIGH) == (48, 28)
    assert flags == raw.NLM_F_REQUEST | raw.NLM_F_CREATE | raw.NLM_F_REPLACE
    family, dummy, dummy2, ifindex, state, nflags, dummy3 = struct.unpack_from("=BBHiHBB", msg, 16)
    assert (family, ifindex, state) == (2, 7, nl.NUD_PERMANENT)
    assert msg[28:32] == struct.pack("=HH", 8, raw.NDA_DST) and msg[32:36] == socket.inet_aton("10.144.0.5")
    assert msg[40:46] == bytes([2, 0xd7, 0x0a, 0x90, 0, 5])
    gone = raw.neigh_message("del", 2, 7, "10.144.0.5")
    assert struct.unpack_from("=IH", gone) == (36, raw.RTM_DELNEIGH)
    fdb = raw.fdb_message("replace", 9, "02:d7:0a:90:00:05", "192.0.2.2")
    assert struct.unpack_from("=BBHiHBB", fdb, 16)[:6] == (raw.AF_BRIDGE, 0, 0, 9, nl.NUD_PERMANENT, nl.NTF_SELF)
    assert fdb.endswith(socket.inet_aton("192.0.2.2"))


def test_the_record_and_new_vnodes_say_how_tables_are_read(tmp_path):
    d = n.validate(params(mode="dynamic", state_dir=str(tmp_path)))
    assert n.read_record(d["state_dir"]) is None  # no record: every table is read
    assert n.how_to_read(d, None, "demo-1") == "dump"
    n.write_record(d, ["demo-2", "demo-1"])
    assert n.read_record(d["state_dir"]) == {"demo-1", "demo-2"}
    assert n.how_to_read(d, {"demo-1"}, "demo-1") == "dump"
    assert n.how_to_read(d, {"demo-1"}, "demo-3") == "gateway"  # never filled: the gateway's entry only
    n.write_record(d, [])  # "none filled" is a record too, not the absence of one
    assert n.read_record(d["state_dir"]) == set() and n.how_to_read(d, set(), "demo-1") == "gateway"
    static = n.validate(params(mode="static", state_dir=str(tmp_path)))
    assert n.how_to_read(static, set(), "demo-1") == "dump"  # static mode compares every table
    # a vnode made just now has an empty table, in every mode and whatever the record says
    for mode in ("static", "dynamic"):
        fresh = n.validate(params(mode=mode, new_vnodes=["demo-1"]))
        assert n.how_to_read(fresh, None, "demo-1") == "none" and n.how_to_read(fresh, None, "demo-2") == "dump"
    assert n.validate(params())["state_dir"] is None and n.read_record(None) is None
    with pytest.raises(ValueError, match="state_dir="):
        n.validate(params(state_dir="relative/dir"))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, netlink)")
def test_one_neighbour_entry_is_looked_up_as_a_dump_gives_it():
    from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
    name = "zra%d" % (os.getpid() % 10000)
    ns.netns_create(name)
    try:
        with ns.in_netns(name):
            subprocess.run(["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"], check=True)
            subprocess.run(["ip", "link", "set", "d0", "up"], check=True)
            subprocess.run(["ip", "neigh", "replace", "10.9.0.5", "lladdr", "02:00:00:00:00:05", "dev", "d0",
                            "nud", "permanent"], check=True)
            subprocess.run(["ip", "neigh", "replace", "10.9.0.6", "lladdr", "02:00:00:00:00:06", "dev", "d0",
                            "nud", "reachable"], check=True)
            index = socket.if_nametoindex("d0")
            with raw.RawNeigh() as r:
                dumped = dict((e[1], e) for e in r.dump(n.AF_INET, index))
                assert r.get(index, "10.9.0.5") == dumped["10.9.0.5"]
                assert r.get(index, "10.9.0.6") == dumped["10.9.0.6"]
                assert r.get(index, "10.9.0.7") is None
                with pytest.raises(nl.NetlinkError) as info:
                    r.get(index + 100, "10.9.0.5")
                assert info.value.code == 19
    finally:
        ns.netns_delete(name)
