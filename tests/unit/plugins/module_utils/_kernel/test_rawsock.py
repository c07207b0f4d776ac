"""The plain-socket readers (``_kernel.rawsock``): messages decoded as data (no root), then, as root,
in namespaces of their own (``zr<pid>...``, deleted at the end even on failure): the readers give
exactly the dicts pyroute2's messages give, and the netns vnodes observed through them still see
every drift as a repair while an idempotent pass changes and writes nothing.
"""
import os
import socket
import struct

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import rawsock as rs

root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, netlink)")
TAG = "zr%d" % (os.getpid() % 10000)


def attr(atype, value):
    """One packed netlink attribute (padded to 4 bytes)."""
    return struct.pack("=HH", 4 + len(value), atype) + value + b"\0" * ((4 - len(value) % 4) % 4)


def test_decode_vxlan_link_message():
    data = attr(1, struct.pack("=I", 42)) + attr(4, socket.inet_aton("10.251.0.1")) + attr(3, struct.pack("=I", 3)) \
        + attr(7, b"\0") + attr(11, b"\1") + attr(15, struct.pack("!H", 4789))
    info = attr(1, b"vxlan\0") + attr(2 | 0x8000, data)  # IFLA_INFO_DATA flagged nested: the flag is ignored
    body = struct.pack("=BxHiII", 0, 1, 7, 0x1043, 0) + attr(3, b"vx\0") + attr(20, b"vxlab:demo\0") \
        + attr(4, struct.pack("=I", 1450)) + attr(10, struct.pack("=I", 5)) + attr(1, b"\x02\xaa\0\0\0\x01") \
        + attr(7, b"\0" * 64) + attr(18, info)
    assert rs.decode_link(body, 0, len(body)) == {
        "index": 7, "ifname": "vx", "kind": "vxlan", "alias": "vxlab:demo", "mtu": 1450, "up": True,
        "master": 5, "mac": "02:aa:00:00:00:01", "link": None, "link_netnsid": None, "vni": 42, "port": 4789,
        "local": "10.251.0.1", "group": None, "dev": 3, "learning": False, "proxy": True}


def test_decode_bridge_and_plain_links():
    data = attr(4, struct.pack("=I", 360000)) + attr(1, struct.pack("=I", 1500)) + attr(5, struct.pack("=I", 0))
    body = struct.pack("=BxHiII", 0, 1, 2, 0, 0) + attr(3, b"br\0") + attr(18, attr(1, b"bridge\0") + attr(2, data))
    link = rs.decode_link(body, 0, len(body))
    assert (link["kind"], link["ageing_time"], link["forward_delay"], link["stp"], link["up"]) == \
        ("bridge", 3600, 15, False, False)
    body = struct.pack("=BxHiII", 0, 772, 1, 0x9, 0) + attr(3, b"lo\0") + attr(4, struct.pack("=I", 65536)) \
        + attr(37, struct.pack("=i", 3))
    link = rs.decode_link(body, 0, len(body))
    assert (link["kind"], link["up"], link["mac"], link["mtu"], link["link_netnsid"]) == (None, True, None, 65536, 3)


def test_a_name_no_link_can_have_is_not_asked():
    with rs.RawSocket() as r:
        assert r.link("x" * 16) is None
        assert r.link("") is None
        assert r.link("lo")["ifname"] == "lo"
        assert r.link("%snone" % TAG) is None


def test_the_readers_error_is_pyroute2s():
    assert issubclass(nl.Reader, rs.RawSocket) and nl.Reader.ERROR is nl.NetlinkError
    assert rs.error_code(nl.NetlinkError(19, "x")) == 19 and rs.error_code(OSError(2, "x")) == 2


# ----------------------------------------------------------------------------------------------
# as root, in namespaces made for the test


def pyroute2_view(ipr):
    """What the readers returned when they decoded pyroute2's messages (the reference)."""
    links = dict((lk["ifname"], lk) for lk in (nl.decode_link(m) for m in ipr.get_links()))
    addrs = {}
    for m in ipr.get_addr(family=2):
        addrs.setdefault(m["index"], []).append("%s/%d" % (m.get_attr("IFA_ADDRESS"), m["prefixlen"]))
    for v in addrs.values():
        v.sort()
    routes = {}
    for table in (nl.RT_TABLE_MAIN, 255):
        routes[table] = []
        for m in ipr.get_routes(family=2):
            if (m.get_attr("RTA_TABLE") or m["table"]) != table:
                continue
            dst = m.get_attr("RTA_DST")
            routes[table].append({"dest": "%s/%d" % (dst, m["dst_len"]) if dst else "0.0.0.0/0",
                                  "gateway": m.get_attr("RTA_GATEWAY"), "oif": m.get_attr("RTA_OIF"),
                                  "proto": m["proto"], "priority": m.get_attr("RTA_PRIORITY") or 0, "type": m["type"]})
    fdb = dict((lk["index"], []) for lk in links.values())
    for m in ipr.fdb("dump"):
        if m["ifindex"] in fdb:
            fdb[m["ifindex"]].append({"mac": (m.get_attr("NDA_LLADDR") or "").lower(), "dst": m.get_attr("NDA_DST"),
                                      "state": m["state"], "flags": m["flags"]})
    return {"links": links, "addresses": addrs, "routes": routes, "fdb": fdb}


def raw_view(r):
    links = r.links()
    return {"links": links, "addresses": r.addresses(), "routes": dict((t, r.routes(t)) for t in (nl.RT_TABLE_MAIN, 255)),
            "fdb": r.fdb_of([lk["index"] for lk in links.values()])}


@pytest.fixture
def namespaces():
    made = []

    def make(suffix):
        name = "%s%s" % (TAG, suffix)
        ns.netns_create(name)
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            ns.netns_delete(name)
        for name in ns.netns_list():  # the vnodes the netns kind made for a test
            if name.startswith(TAG + "v-"):
                ns.netns_delete(name)


@root
def test_readers_equal_pyroute2s_decoding(namespaces):
    pnode, peer = namespaces("rp"), namespaces("rq")
    with ns.in_netns(pnode):
        with nl.Netlink() as s, nl.NetnsSwitcher() as sw:
            s.link_set(s.link_index("lo"), state="up")
            s.link_add(ifname="ib0", kind="veth", peer={"ifname": "ib1"})
            ib0 = s.link_index("ib0")
            s.addr_add(ib0, "10.251.9.1/24")
            s.link_set(ib0, state="up", ifalias="underlay")
            br = s.add_bridge("zrbr", "vxlab:%s" % TAG, mtu=1450, ageing_time=3600, forward_delay=2)
            vx = s.add_vxlan("zrvx", "vxlab:%s" % TAG, 42, 4789, ib0, local="10.251.9.1", learning=False,
                             proxy=True, mtu=1450)
            mc = s.add_vxlan("zrmc", "other", 43, 4790, ib0, group="239.1.1.9")
            s.link_set(vx, master=br, state="up")
            s.link_set(br, state="up")
            s.fdb_append(vx, nl.ZERO_MAC, "10.251.9.2")
            s.fdb_append(vx, "02:00:00:00:00:07", "10.251.9.3")
            fd = sw.fd(peer)
            try:
                s.add_veth_into("zrv1", "vxlab:%s" % TAG, fd, "eth0", peer_mac="02:00:0a:00:00:02", mtu=1450,
                                master=br)
            finally:
                os.close(fd)
            s.link_set(s.link_index("zrv1"), state="up")
            s.route_replace("0.0.0.0/0", "10.251.9.2")
            s.route_unreachable("10.99.0.0/16")
            s.ipr.route("add", dst="10.98.0.0/16", gateway="10.251.9.3", priority=7, proto=nl.RTPROT_VXLAB)
            assert mc is not None
            assert raw_view(s.raw) == pyroute2_view(s.ipr)
            with sw.reader(peer) as r, sw.open(peer) as o:
                assert raw_view(r) == pyroute2_view(o.ipr)
                assert r.link("eth0")["link_netnsid"] is not None
            # the Netlink readers are the plain socket's
            assert s.links() == s.raw.links() and s.link("zrvx") == s.links()["zrvx"]
            assert s.fdb(vx) == pyroute2_view(s.ipr)["fdb"][vx] and len(s.fdb(vx)) >= 2
            assert s.links()["zrmc"]["group"] == "239.1.1.9" and s.links()["zrvx"]["proxy"] is True
            assert s.link("zrnone") is None


@root
def test_netns_vnodes_observed_by_readers_see_every_drift(namespaces, tmp_path):
    """The netns kind end to end (SSH aside) on a pnode namespace: made, an idempotent pass that
    plans nothing and writes nothing, then each drift seen as its repair, repaired, in sync again."""
    from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import common
    from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import netns as m

    pnode = namespaces("vp")
    state_dir = str(tmp_path / "state")
    vnodes = [{"name": "%sv-%d" % (TAG, i), "address": "10.77.0.%d" % (i + 10), "mac": "02:5a:0a:4d:00:%02x" % i,
               "host_if": "%sv%d" % (TAG, i)} for i in range(1, 6)]
    d = common.validate({"platform": TAG, "state": "present", "kind": "netns", "bridge": "zrbr", "vnodes": vnodes,
                         "prefixlen": 24, "mtu": 1450, "gateway": "10.77.0.1", "ssh": False, "authorized_keys": "",
                         "state_dir": state_dir})
    names = [v["name"] for v in vnodes]
    with ns.in_netns(pnode):
        with nl.Netlink() as sock, nl.NetnsSwitcher() as sw:
            br = sock.add_bridge("zrbr", "vxlab:%s" % TAG, mtu=1450)
            sock.link_set(br, state="up")

            def plan():
                obs = m.observe(d, sock, sw)
                return obs, m.diff(d, obs)

            obs, p = plan()
            assert p["create"] == names and not p["errors"]
            m.apply(d, obs, p, sock, sw)
            obs, p = plan()
            assert (p["create"], p["relink"], p["repair"], p["remove"], p["tracker"].changed) == ([], [], {}, [], False)
            record = os.stat(common.record_path(state_dir))
            m.apply(d, obs, p, sock, sw)  # what the runner does on a re-run: nothing is written
            assert os.stat(common.record_path(state_dir)).st_mtime_ns == record.st_mtime_ns

            def inside(i):
                return sw.open(names[i])

            with inside(0) as s:  # a deleted address (the kernel drops the default route with it)
                s.addr_del(s.link_index("eth0"), "10.77.0.11/24")
            with inside(1) as s:  # a deleted default route
                s.route_del("0.0.0.0/0", gateway="10.77.0.1")
            with inside(2) as s:  # eth0 down
                s.link_set(s.link_index("eth0"), state="down")
            with inside(3) as s:  # lo down
                s.link_set(s.link_index("lo"), state="down")
            sock.link_set(sock.link_index(vnodes[4]["host_if"]), master=0)  # a veth off the bridge
            obs, p = plan()
            r = p["repair"]
            assert sorted(r) == names
            assert r[names[0]]["addresses"] == ([], ["10.77.0.11/24"])
            assert r[names[1]] == {"default_route": ([], ["10.77.0.1"])}
            assert r[names[2]]["up"] == (False, True)
            assert r[names[3]] == {"lo_up": (False, True)}
            assert r[names[4]] == {"master": (None, "zrbr")}
            assert p["tracker"].changed and p["create"] == [] and p["relink"] == []
            m.apply(d, obs, p, sock, sw)
            obs, p = plan()
            assert (p["repair"], p["tracker"].changed) == ({}, False)
            with sw.reader(names[0]) as s:
                seen = common.read_inside(s)
            assert seen["addresses"] == ["10.77.0.11/24"] and seen["defaults"] == ["10.77.0.1"] and seen["lo_up"]
            assert seen["eth0"]["mac"] == vnodes[0]["mac"] and seen["eth0"]["mtu"] == 1450 and seen["eth0"]["up"]
