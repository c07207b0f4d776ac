# -*- coding: utf-8 -*-
"""The data plane of a topology as data: the networks step and the vnodes' data interfaces (pure parts)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _dataplane as dp
from ansible_collections.vxlab.emulation.plugins.module_utils import _networks as nw
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import plan_from_hostvars
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import data

NETWORKS = [{"name": "front", "cidr": "10.150.0.0/22"}, {"name": "back", "cidr": "10.150.8.0/22"},
            {"name": "wan", "cidr": "10.150.16.0/24"}]
GROUPS = [{"name": "web", "vnodes": "vx-[1-4]", "networks": ["front"]},
          {"name": "db", "pnodes": ["p3"], "networks": ["back"]},
          {"name": "gw", "vnodes": ["vx-5"], "networks": ["front", "wan"], "router": True},
          {"name": "gw2", "vnodes": ["vx-11"], "networks": ["wan", "back"], "router": True}]


def facts(pnode="p1", **more):
    hosts = {}
    for i in range(3):
        hv = {"ansible_host": "192.0.2.%d" % (i + 1), "vxlab_vnodes_per_pnode": 5, "vxlab_platform": "vx",
              "vxlab_networks": NETWORKS, "vxlab_vnode_groups": GROUPS}
        hv.update(more)
        hosts["p%d" % (i + 1)] = hv
    plan = plan_from_hostvars(list(hosts), lambda n: hosts[n], None)
    return plan.pnode_facts(pnode)


def test_dataplane_passes_each_hosted_network_and_every_vnodes_data_interfaces():
    p = facts("p1")
    out = dp.step_params(p)
    nets = out["networks"]
    assert [n["name"] for n in nets["networks"]] == ["front", "wan"]  # back has no member on p1
    assert nets["local"] == p["vtep"] and nets["mode"] == "unicast"
    front = nets["networks"][0]
    # unicast towards the pnodes hosting members of front only (p1 holds vx-1..5; nobody else)
    assert front["remote_vteps"] == []
    wan = nets["networks"][1]
    assert wan["remote_vteps"] == ["192.0.2.3"]  # vx-11 (p3) is the other wan member
    assert out["neigh_limits"]["interfaces"] == ["ib0", "vx-br", "vx-front", "vx-wan"]
    # the vnodes step gets the management part only
    assert all(set(v) == {"name", "address", "mac", "host_if"} for v in out["vnodes"]["vnodes"])
    vn = dict((v["name"], v) for v in out["vnode_networks"]["vnodes"])
    assert [x["ifname"] for x in vn["vx-5"]["interfaces"]] == ["eth1", "eth2"] and vn["vx-5"]["router"]
    assert vn["vx-1"]["routes"] == [{"to": "10.150.8.0/22", "via": "10.150.0.5"},
                                    {"to": "10.150.16.0/24", "via": "10.150.0.5"}]
    assert out["vnode_networks"]["networks"] == ["10.150.0.0/22", "10.150.8.0/22", "10.150.16.0/24"]
    for step in ("networks", "vnode_networks", "vnodes", "neigh_limits"):
        dp.validated(step, out[step])


def test_a_platform_without_topology_gives_the_new_steps_nothing_to_do():
    hosts = {"p1": {"ansible_host": "192.0.2.1", "vxlab_vnodes_per_pnode": 3, "vxlab_platform": "vx"}}
    p = plan_from_hostvars(["p1"], lambda n: hosts[n], None).pnode_facts("p1")
    out = dp.step_params(p)
    assert out["networks"]["networks"] == []
    assert out["neigh_limits"]["interfaces"] == ["ib0", "vx-br"]
    assert all(not v["interfaces"] and not v["routes"] and not v["router"] for v in out["vnode_networks"]["vnodes"])


def test_multicast_gives_every_data_network_its_own_group():
    p = facts("p1", vxlab_vxlan_mode="multicast", vxlab_vxlan_group="239.1.1.1")
    nets = dp.step_params(p)["networks"]
    assert [n["group"] for n in nets["networks"]] == ["239.1.1.2", "239.1.1.4"]  # front (1st), wan (3rd)
    bridge, vx = nw.step_params(nw.validate(dict(nets, state="present")), nw.validate(dict(nets))["networks"][0])
    assert vx["mode"] == "multicast" and vx["group"] == "239.1.1.2" and vx["remote_vteps"] == []


def test_networks_step_parameters_and_suppress_mode():
    d = nw.validate({"platform": "vx", "networks": [{"name": "front", "vni": 7, "mtu": 1400,
                                                     "arp_mode": "suppress", "remote_vteps": ["192.0.2.2"]}],
                     "local": "192.0.2.1"})
    bridge, vx = nw.step_params(d, d["networks"][0])
    assert bridge == {"name": "vx-front", "platform": "vx", "mtu": 1400, "addresses": [], "forwarding": False}
    assert vx["name"] == "vx.front" and vx["master"] == "vx-front" and vx["vni"] == 7
    assert vx["proxy"] and not vx["learning"] and vx["remote_vteps"] == ["192.0.2.2"]


@pytest.mark.parametrize("network, word", [
    ({"name": "br"}, "name='br'"),
    ({"name": "Front"}, "name='Front'"),
    ({"name": "front", "bridge": "other"}, "bridge='other'"),
    ({"name": "front", "arp_mode": "loud"}, "arp_mode='loud'"),
    ({"name": "front", "colour": 1}, "unknown key"),
])
def test_networks_step_refuses_bad_values(network, word):
    with pytest.raises(ValueError, match=word):
        nw.validate({"platform": "vx", "networks": [network]})


def test_sweep_matches_data_networks_of_the_platform_only():
    bridge_re, vxlan_re = nw.ours_pattern("vx")
    assert bridge_re.match("vx-front") and vxlan_re.match("vx.front")
    assert not bridge_re.match("vx-br") and not vxlan_re.match("vx-vx") and not vxlan_re.match("vx.vx")
    assert not bridge_re.match("vxa-front") and not bridge_re.match("vx-3")
    d = nw.validate({"platform": "vx", "networks": [{"name": "front"}]})
    observed = [{"ifname": "vx.back", "index": 9, "kind": "vxlan"}, {"ifname": "vx.front", "index": 8, "kind": "vxlan"},
                {"ifname": "vx-back", "index": 7, "kind": "bridge"}, {"ifname": "vx-front", "index": 6, "kind": "bridge"}]
    assert [lk["ifname"] for lk in nw.stale(d, {"ours": observed})] == ["vx.back", "vx-back"]  # VXLAN first


# ----------------------------------------------------------------------------------------------
# the vnodes' data interfaces


def vnode_desired(**more):
    p = facts("p1", **more)
    return data.validate(dp.step_params(p)["vnode_networks"])


def test_routes_inside_a_vnode_and_unreachable_networks():
    d = vnode_desired()
    v = dict((x["name"], x) for x in d["vnodes"])
    assert data.wanted_routes(v["vx-1"], d["networks"]) == {"10.150.8.0/22": "10.150.0.5", "10.150.16.0/24": "10.150.0.5"}
    # a vnode without data interfaces: nothing (its traffic is the management network's)
    assert data.wanted_routes({"interfaces": [], "routes": {}}, d["networks"]) == {}
    # without routes, every other data network is unreachable (never via the management default)
    lone = dict(v["vx-1"], routes={})
    assert data.wanted_routes(lone, d["networks"]) == {"10.150.8.0/22": None, "10.150.16.0/24": None}


def observed_fresh(d):
    """What a pnode holds after the vnodes step and before this one: no data interface at all."""
    vnodes = {}
    for v in d["vnodes"]:
        relevant = bool(v["interfaces"] or v["routes"] or v["router"])
        vnodes[v["name"]] = {"open": relevant, "ns": True,
                             "inside": {"data": {}, "routes": {}, "forwarding": "0"} if relevant else None}
    bridges = dict((x["bridge"], {"index": 50 + i, "kind": "bridge"})
                   for i, x in enumerate(x for v in d["vnodes"] for x in v["interfaces"]))
    return {"host": {}, "vnodes": vnodes, "bridges": bridges, "routers": []}


def as_built(d, obs):
    """The observation once every planned interface, route and forwarding is in place."""
    host, index = {}, 100
    for v in d["vnodes"]:
        o = obs["vnodes"][v["name"]]
        if o["inside"] is None:
            continue
        for x in v["interfaces"]:
            host[x["host_if"]] = {"index": index, "link": index + 1, "master": x["bridge"],
                                  "mtu": x["mtu"], "up": True}
            o["inside"]["data"][x["ifname"]] = {"index": index + 1, "kind": "veth", "link": index, "mtu": x["mtu"],
                                                "up": True, "mac": x["mac"],
                                                "addresses": ["%s/%d" % (x["address"], x["prefixlen"])]}
            index += 2
        o["inside"]["routes"] = data.wanted_routes(v, d["networks"])
        o["inside"]["forwarding"] = "1" if v["router"] else "0"
    obs["host"] = host
    obs["routers"] = sorted(v["name"] for v in d["vnodes"] if v["router"])
    return obs


def test_diff_creates_every_interface_then_nothing():
    d = vnode_desired()
    p = data.diff(d, observed_fresh(d))
    assert not p["errors"] and p["tracker"].changed
    assert sorted(p["vnodes"]) == ["vx-1", "vx-2", "vx-3", "vx-4", "vx-5"]
    assert [x["ifname"] for x in p["vnodes"]["vx-5"]["create"]] == ["eth1", "eth2"]
    assert p["vnodes"]["vx-5"]["forwarding"] == "1" and p["routers"] == ["vx-5"]
    again = data.diff(d, as_built(d, observed_fresh(d)))
    assert not again["tracker"].changed and again["vnodes"] == {} and again["remove_host"] == []


def test_diff_repairs_drift_and_removes_what_is_no_longer_planned():
    d = vnode_desired()
    obs = as_built(d, observed_fresh(d))
    obs["vnodes"]["vx-1"]["inside"]["data"]["eth1"]["addresses"] = []  # drifted address
    obs["vnodes"]["vx-2"]["inside"]["data"]["eth7"] = {"index": 999, "kind": "veth", "link": 998, "mtu": 1450,
                                                       "up": True, "mac": "02:00:00:00:00:01", "addresses": []}
    obs["host"]["vx-99.1"] = {"index": 998, "link": 999, "master": None, "mtu": 1450, "up": True}
    obs["vnodes"]["vx-3"]["inside"]["routes"]["10.9.9.0/24"] = "10.150.0.5"  # a route of ours not planned
    p = data.diff(d, obs)
    assert p["vnodes"]["vx-1"]["repair"] == {"eth1": {"addresses": ([], ["10.150.0.1/22"])}}
    # a re-addressed interface loses its routes: all of them are set again
    assert sorted(p["vnodes"]["vx-1"]["routes_set"]) == ["10.150.16.0/24", "10.150.8.0/22"]
    assert p["vnodes"]["vx-2"]["remove"] == [999]
    assert p["vnodes"]["vx-3"]["routes_del"] == ["10.9.9.0/24"] and p["vnodes"]["vx-3"]["routes_set"] == {}
    assert p["remove_host"] == ["vx-99.1"]


def test_diff_recreates_a_pair_that_is_not_paired_and_unsets_forwarding_of_a_former_router():
    d = vnode_desired()
    obs = as_built(d, observed_fresh(d))
    obs["vnodes"]["vx-1"]["inside"]["data"]["eth1"]["link"] = 12345  # peer is another veth now
    d["vnodes"][4]["router"] = False  # vx-5 was a router, is not any more
    p = data.diff(d, obs)
    assert [x["ifname"] for x in p["vnodes"]["vx-1"]["create"]] == ["eth1"]
    assert p["vnodes"]["vx-5"]["forwarding"] == "0" and p["routers"] == []


def test_diff_refuses_a_missing_bridge_but_only_warns_in_check_mode():
    d = vnode_desired()
    obs = observed_fresh(d)
    obs["bridges"]["vx-front"] = None
    assert any("bridge vx-front does not exist" in e for e in data.diff(d, obs)["errors"])
    p = data.diff(d, obs, check_mode=True)
    assert not p["errors"] and any("vx-front" in w for w in p["warnings"])


@pytest.mark.parametrize("change, word", [
    (lambda v: v["interfaces"][0].update(ifname="eth0"), "ifname='eth0'"),
    (lambda v: v["interfaces"][0].update(prefixlen=40), "prefixlen=40"),
    (lambda v: v["interfaces"][0].update(mac="zz"), "mac"),
    (lambda v: v["routes"].append({"to": "10.150.8.0/22", "via": "10.150.0.9"}), "listed twice"),
    (lambda v: v.update(router=True), "router"),
])
def test_vnode_networks_refuse_bad_values(change, word):
    params = dp.step_params(facts("p1"))["vnode_networks"]
    v = [x for x in params["vnodes"] if x["name"] == "vx-1"][0]
    change(v)
    with pytest.raises(ValueError, match=word):
        data.validate(params)


# ----------------------------------------------------------------------------------------------
# ARP on the data networks


def test_network_arp_tables_per_mode_and_visits_only_what_was_or_is_filled():
    from ansible_collections.vxlab.emulation.plugins.module_utils import _network_arp as na
    static = facts("p3", vxlab_arp_mode="static")
    d = na.validate(dp.step_params(static)["network_arp"])
    back = [n for n in d["networks"] if n["name"] == "back"][0]
    table, neigh, fdb = na.tables(back, static["vtep"])
    assert len(table) == len(back["members"]) and neigh == {} and fdb == {}
    targets, vxlans = na.to_visit(d, {"static": [], "suppress": []})
    assert targets and all(t["network"] in ("back", "wan") for t in targets) and vxlans == set()
    sup = facts("p3", vxlab_arp_mode="suppress")
    d = na.validate(dp.step_params(sup)["network_arp"])
    back = [n for n in d["networks"] if n["name"] == "back"][0]
    table, neigh, fdb = na.tables(back, sup["vtep"])
    # the VXLAN device answers for the members on other pnodes only
    remote = [m for m in back["members"] if m[2] != sup["vtep"]]
    assert table == {} and sorted(neigh) == sorted(a for a, _m, _v in remote) and set(fdb.values()) <= {"192.0.2.1", "192.0.2.2"}
    dyn = na.validate(dp.step_params(facts("p3"))["network_arp"])
    assert na.to_visit(dyn, {"static": [], "suppress": []}) == ([], set())  # a dynamic platform costs no visit
    targets, vxlans = na.to_visit(dyn, {"static": ["back"], "suppress": ["wan"]})  # what was filled is emptied
    assert {t["network"] for t in targets} == {"back"} and vxlans == {"wan"}
    with pytest.raises(ValueError, match="members: required in static mode"):
        na.validate({"platform": "vx", "state_dir": "/tmp/x",
                     "networks": [{"name": "a", "cidr": "10.1.0.0/24", "arp_mode": "static"}]})
