# -*- coding: utf-8 -*-
"""Emulated topologies in the plan: data networks, groups, addresses, routes, warnings, refusals."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._plan import PlanError, plan_from_hostvars

NETWORKS = [{"name": "front", "cidr": "10.150.0.0/22"},
            {"name": "back", "cidr": "10.150.8.0/22", "vni": 9002},
            {"name": "wan", "cidr": "10.150.16.0/24"}]


def inventory(n=4, per=10, **platform):
    hosts = {}
    for i in range(n):
        hv = {"ansible_host": "192.0.2.%d" % (i + 1), "vxlab_vnodes_per_pnode": per, "vxlab_platform": "vx"}
        hv.update(platform)
        hosts["p%d" % (i + 1)] = hv
    return hosts


def plan_of(hosts, extra=None):
    return plan_from_hostvars(list(hosts), lambda n: hosts[n], extra)


def error_of(hosts):
    with pytest.raises(PlanError) as info:
        plan_of(hosts)
    return str(info.value)


def issue_example(**more):
    """The issue's own example: web on front, db = every vnode of p3 on back, gw routers on all."""
    groups = [{"name": "web", "vnodes": "vx-[1-20]", "networks": ["front"]},
              {"name": "db", "pnodes": ["p3"], "networks": ["back"]},
              {"name": "gw", "vnodes": ["vx-41", "vx-31"], "networks": ["front", "back", "wan"], "router": True}]
    return inventory(n=5, vxlab_networks=NETWORKS, vxlab_vnode_groups=groups, **more)


def vnode(plan, name):
    return [v for v in json.loads(plan.to_json())["vnodes"] if v["name"] == name][0]


def test_plan_json_has_networks_groups_and_interfaces_management_first():
    plan = plan_of(issue_example())
    doc = json.loads(plan.to_json())
    assert [n["name"] for n in doc["networks"]] == ["front", "back", "wan"]
    front, back, wan = doc["networks"]
    assert (front["vni"], back["vni"], wan["vni"]) == (4243, 9002, 4245)
    assert front["gateway"] is None and front["bridge"] == "vx-front" and front["vxlan"] == "vx.front"
    assert [g["name"] for g in doc["groups"]] == ["web", "db", "gw"]
    v1 = vnode(plan, "vx-1")
    assert [i["network"] for i in v1["interfaces"]] == ["management", "front"]
    assert [i["ifname"] for i in v1["interfaces"]] == ["eth0", "eth1"]
    assert v1["interfaces"][1]["host_if"] == "vx-1.1"
    gw = vnode(plan, "vx-41")
    assert [i["network"] for i in gw["interfaces"]] == ["management", "front", "back", "wan"]
    assert gw["router"] is True
    assert "interfaces" in vnode(plan, "vx-50") and len(vnode(plan, "vx-50")["interfaces"]) == 1


def test_addresses_are_unique_inside_their_network_and_macs_unique():
    plan = plan_of(issue_example())
    doc = json.loads(plan.to_json())
    seen = set()
    macs = set()
    for v in doc["vnodes"]:
        for i in v["interfaces"]:
            if i["network"] == "management":
                continue
            net = ipaddress.ip_network([n["cidr"] for n in doc["networks"] if n["name"] == i["network"]][0])
            ip = ipaddress.ip_address(i["address"])
            assert ip in net and ip not in (net.network_address, net.broadcast_address)
            assert i["address"] not in seen
            seen.add(i["address"])
            macs.add(i["mac"])
    assert len(macs) == len(seen)


def test_blocks_per_hosting_pnode_keep_addresses_when_a_pnode_is_appended():
    groups = [{"name": "some", "vnodes": "vx-[1-4,11-13,21-22]", "networks": ["front"]}]
    a = plan_of(inventory(n=3, vxlab_networks=NETWORKS[:1], vxlab_vnode_groups=groups))
    groups2 = groups + [{"name": "late", "pnodes": ["p4"], "networks": ["front"]}]
    b = plan_of(inventory(n=4, vxlab_networks=NETWORKS[:1], vxlab_vnode_groups=groups2))
    # blocks of stride 10 per hosting pnode, each member at its position in its pnode
    assert vnode(a, "vx-1")["interfaces"][1]["address"] == "10.150.0.1"
    assert vnode(a, "vx-11")["interfaces"][1]["address"] == "10.150.0.11"
    assert vnode(a, "vx-22")["interfaces"][1]["address"] == "10.150.0.22"
    for name in ("vx-1", "vx-4", "vx-11", "vx-13", "vx-21", "vx-22"):
        assert vnode(a, name)["interfaces"] == vnode(b, name)["interfaces"]


def test_a_small_network_packs_its_members_with_a_warning():
    nets = [{"name": "tiny", "cidr": "10.150.0.0/28"}]
    groups = [{"name": "g", "vnodes": "vx-[5,6,15,25]", "networks": ["tiny"]}]
    plan = plan_of(inventory(n=3, vxlab_networks=nets, vxlab_vnode_groups=groups))
    assert [vnode(plan, n)["interfaces"][1]["address"] for n in ("vx-5", "vx-6", "vx-15", "vx-25")] == \
        ["10.150.0.1", "10.150.0.2", "10.150.0.3", "10.150.0.5"]
    assert any("network tiny (10.150.0.0/28) is too small" in w for w in plan.warnings())


def test_auto_routes_through_the_nearest_router_ties_to_the_lower_vnode():
    plan = plan_of(issue_example())
    doc = json.loads(plan.to_json())
    v1 = vnode(plan, "vx-1")
    gw31 = vnode(plan, "vx-31")
    front31 = [i["address"] for i in gw31["interfaces"] if i["network"] == "front"][0]
    # two routers on front both reach back and wan in one hop: the lower vnode number wins
    assert v1["routes"] == [{"to": "10.150.8.0/22", "via": front31}, {"to": "10.150.16.0/24", "via": front31}]
    assert gw31["routes"] == [] and doc["warnings"] == []


def test_two_hops_and_unreachable_networks_are_reported():
    nets = [{"name": "a", "cidr": "10.151.0.0/24"}, {"name": "b", "cidr": "10.151.1.0/24"},
            {"name": "c", "cidr": "10.151.2.0/24"}, {"name": "d", "cidr": "10.151.3.0/24"}]
    groups = [{"name": "ha", "vnodes": "vx-1", "networks": ["a"]},
              {"name": "hc", "vnodes": "vx-2", "networks": ["c"]},
              {"name": "r1", "vnodes": "vx-3", "networks": ["a", "b"], "router": True},
              {"name": "r2", "vnodes": "vx-4", "networks": ["b", "c"], "router": True},
              {"name": "hd", "vnodes": "vx-5", "networks": ["d"]}]
    plan = plan_of(inventory(n=1, vxlab_networks=nets, vxlab_vnode_groups=groups))
    r1_a = vnode(plan, "vx-3")["interfaces"][1]["address"]
    r2_b = [i["address"] for i in vnode(plan, "vx-4")["interfaces"] if i["network"] == "b"][0]
    r1_b = [i["address"] for i in vnode(plan, "vx-3")["interfaces"] if i["network"] == "b"][0]
    routes = {r["to"]: r["via"] for r in vnode(plan, "vx-1")["routes"]}
    assert routes == {"10.151.1.0/24": r1_a, "10.151.2.0/24": r1_a}  # c is two routers away
    assert {r["to"]: r["via"] for r in vnode(plan, "vx-3")["routes"]} == {"10.151.2.0/24": r2_b}
    assert {r["to"]: r["via"] for r in vnode(plan, "vx-2")["routes"]}["10.151.0.0/24"] == \
        [i["address"] for i in vnode(plan, "vx-4")["interfaces"] if i["network"] == "c"][0]
    assert r1_b != r2_b
    warnings = plan.warnings()
    assert any(w.startswith("network d is unreachable from network(s) a, b, c") for w in warnings)
    assert any(w.startswith("network a is unreachable from network(s) d") for w in warnings)


def test_explicit_routes_replace_auto_for_their_pair_only():
    routes = [{"from": "front", "to": "back", "via": "vx-41"}]
    plan = plan_of(issue_example(vxlab_routes=routes))
    v1 = vnode(plan, "vx-1")
    gw41 = vnode(plan, "vx-41")
    gw31 = vnode(plan, "vx-31")
    front = {g["name"]: [i["address"] for i in g["interfaces"] if i["network"] == "front"][0]
             for g in (gw41, gw31)}
    assert v1["routes"] == [{"to": "10.150.8.0/22", "via": front["vx-41"]},
                            {"to": "10.150.16.0/24", "via": front["vx-31"]}]


def test_routes_none_gives_no_route():
    plan = plan_of(issue_example(vxlab_routes="none"))
    assert vnode(plan, "vx-1")["routes"] == []


def test_pnode_facts_carry_hosted_networks_remote_vteps_and_members_in_static_mode():
    plan = plan_of(issue_example(vxlab_arp_mode="static"))
    p3 = plan.pnode_facts("p3")
    names = [n["name"] for n in p3["networks"]]
    assert names == ["back"]  # p3 holds db (back) only; the routers are on p4 and p5
    back = p3["networks"][0]
    assert back["remote_vteps"] == ["192.0.2.4", "192.0.2.5"]
    assert len(back["members"]) == 12 and all(len(m) == 3 for m in back["members"])
    p4 = plan.pnode_facts("p4")
    vx31 = [v for v in p4["vnodes"] if v["name"] == "vx-31"][0]
    assert vx31["router"] is True and [i["bridge"] for i in vx31["interfaces"]] == ["vx-front", "vx-back", "vx-wan"]
    assert "networks" not in plan_of(inventory(n=2)).pnode_facts("p1")
    assert plan.pnode_facts("p1")["networks"][0].get("members") is not None


def test_dynamic_mode_ships_no_member_list():
    plan = plan_of(issue_example())
    assert all("members" not in n for n in plan.pnode_facts("p1")["networks"])


@pytest.mark.parametrize("change, message", [
    ({"vxlab_vnode_groups": [{"name": "x", "vnodes": "vx-1", "networks": ["nope"]}]},
     "vxlab_vnode_groups[x].networks=[\"nope\"]: 'nope' is not in vxlab_networks"),
    ({"vxlab_networks": NETWORKS + [{"name": "dup", "cidr": "10.150.1.0/24"}]},
     "vxlab_networks[dup].cidr='10.150.1.0/24': overlaps network front (10.150.0.0/22)"),
    ({"vxlab_networks": [{"name": "m", "cidr": "10.144.5.0/24"}]},
     "overlaps the management network vxlab_vnode_network 10.144.0.0/16"),
    ({"vxlab_networks": [{"name": "u", "cidr": "192.0.2.0/24"}]}, "holds the underlay address 192.0.2.1 of pnode p1"),
    ({"vxlab_vnode_groups": [{"name": "r", "vnodes": "vx-1", "networks": ["front"], "router": True}]},
     "a router group needs at least two networks (has 1)"),
    ({"vxlab_vnode_groups": [{"name": "e", "networks": ["front"]}]}, "selects nobody"),
    ({"vxlab_vnode_groups": [{"name": "e", "vnodes": "vx-999", "networks": ["front"]}]},
     "vx-999 is not a vnode of the platform"),
    ({"vxlab_networks": NETWORKS + [{"name": "v", "cidr": "10.150.20.0/24", "vni": 9002}]},
     "vxlab_networks[v].vni=9002: already the VNI of network back"),
    ({"vxlab_networks": [{"name": "v", "cidr": "10.150.20.0/24", "vni": 4242}]},
     "already the VNI of the management network"),
    ({"vxlab_routes": [{"from": "front", "to": "back", "via": "vx-1"}]}, "must be on both networks front and back"),
    ({"vxlab_routes": [{"from": "front", "to": "mars", "via": "vx-41"}]}, "vxlab_routes[0].to='mars'"),
    ({"vxlab_networks": [{"name": "Front", "cidr": "10.150.0.0/22"}]}, "vxlab_networks[0].name='Front'"),
    ({"vxlab_networks": [{"name": "br", "cidr": "10.150.0.0/22"}]}, "is reserved"),
    ({"vxlab_networks": [{"name": "t", "cidr": "10.150.0.0/29"}],
      "vxlab_vnode_groups": [{"name": "both", "pnodes": ["p1", "p2"], "networks": ["t"]}]},
     "holds 6 addresses but its members need 20 (2 pnodes hosting members x up to 10 per pnode)"),
    ({"vxlab_networks": [{"name": "f", "cidr": "10.150.0.0/22", "colour": "red"}]}, "vxlab_networks[0].colour"),
    ({"vxlab_vnode_groups": [{"name": "front", "vnodes": "vx-1"}]}, "groups and networks need distinct names"),
    ({"vxlab_vnode_groups": [{"name": "net_x", "vnodes": "vx-1"}]}, "is reserved for the groups vxlab renders"),
    ({"vxlab_underlay_network": ["192.0.2.0/24", "192.0.2.128/25"]}, "sites 192.0.2.0/24 and 192.0.2.128/25 overlap"),
])
def test_bad_topologies_are_refused_naming_variable_and_value(change, message):
    hosts = issue_example()
    for hv in hosts.values():
        hv.update(change)
    assert message in error_of(hosts)


def test_multicast_across_sites_is_refused_and_sites_are_read():
    hosts = inventory(n=4, vxlab_underlay_network=["192.0.2.0/26", "192.0.2.64/26"])
    for i, hv in enumerate(hosts.values()):
        hv["ansible_host"] = "192.0.2.%d" % (1 + i if i < 2 else 65 + i)
    plan = plan_of(hosts)
    assert [p.site for p in plan.pnodes] == [0, 0, 1, 1]
    assert json.loads(plan.to_json())["platform"]["underlay_networks"] == ["192.0.2.0/26", "192.0.2.64/26"]
    for hv in hosts.values():
        hv["vxlab_vxlan_mode"] = "multicast"
    assert "multicast VXLAN cannot span the 2 routed underlay subnets" in error_of(hosts)


def test_platform_without_topology_has_the_same_pnode_facts_keys():
    facts = plan_of(inventory(n=2)).pnode_facts("p1")
    assert "networks" not in facts
    assert all(set(v) == {"name", "address", "mac", "host_if"} for v in facts["vnodes"])


def test_a_single_network_plan_json_only_gains_the_management_interface():
    doc = json.loads(plan_of(inventory(n=2)).to_json())
    assert set(doc) == {"platform", "pnodes", "vnodes"}  # no networks, groups, routes, warnings
    assert all("site" not in p for p in doc["pnodes"]) and "underlay_networks" not in doc["platform"]
    for v in doc["vnodes"]:
        assert "routes" not in v and "router" not in v
        (mgmt,) = v["interfaces"]
        assert mgmt["network"] == "management" and mgmt["ifname"] == "eth0"
        assert (mgmt["address"], mgmt["mac"], mgmt["host_if"]) == (v["address"], v["mac"], v["host_if"])


def test_group_cpu_and_memory_override_the_platform_defaults_per_vnode():
    groups = [{"name": "slow", "vnodes": "vx-[1-3]", "cpu": 0.25, "memory": "256M"},
              {"name": "pinned", "vnodes": "vx-[2,12]", "cpuset": "0", "cpu": 0.25}]
    plan = plan_of(inventory(n=2, per=10, vxlab_vnode_kind="lxc", vxlab_vnode_cpu=0.5, vxlab_vnode_groups=groups))
    facts = plan.pnode_facts("p1")
    assert facts["vnode_cpu"] == 0.5  # the platform default stays the vnodes step's default
    by = dict((v["name"], v) for v in facts["vnodes"])
    assert (by["vx-1"]["cpu"], by["vx-1"]["memory"]) == (0.25, 256 * 2 ** 20) and "cpuset" not in by["vx-1"]
    assert (by["vx-2"]["cpu"], by["vx-2"]["cpuset"]) == (0.25, "0")
    assert not set(by["vx-4"]) & {"cpu", "cpuset", "memory"}
    doc = json.loads(plan.to_json())
    assert doc["groups"][0] == {"name": "slow", "networks": [], "router": False, "vnodes": 3, "cpu": 0.25,
                                "memory": 256 * 2 ** 20}
    assert vnode(plan, "vx-12")["limits"] == {"cpu": 0.25, "cpuset": "0"} and "limits" not in vnode(plan, "vx-5")
    # the per-vnode values pass the vnodes step's own validation
    from ansible_collections.vxlab.emulation.plugins.module_utils import _dataplane as dp
    params = dp.step_params(facts, ["vnodes"], authorized_keys="", image="/srv/rootfs")["vnodes"]
    checked = dp.validated("vnodes", dict(params, ssh=False))
    from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import common
    lim = dict((v["name"], v["limits"]) for v in common.validate(checked)["vnodes"])
    assert lim["vx-1"] == {"cpu": 0.25, "cpuset": None, "memory": 256 * 2 ** 20}
    assert lim["vx-4"] == {"cpu": 0.5, "cpuset": None, "memory": None}


@pytest.mark.parametrize("groups, kind, message", [
    ([{"name": "slow", "vnodes": "vx-1", "cpu": 0.25}], "netns",
     "vxlab_vnode_groups[slow].cpu=0.25: CPU and memory limits need vxlab_vnode_kind: lxc"),
    ([{"name": "slow", "vnodes": "vx-1", "cpu": "fast"}], "lxc", "vxlab_vnode_groups[slow].cpu='fast'"),
    ([{"name": "big", "vnodes": "vx-1", "memory": "lots"}], "lxc", "vxlab_vnode_groups[big].memory='lots'"),
    ([{"name": "a", "vnodes": "vx-[1-2]", "cpu": 0.25}, {"name": "b", "vnodes": "vx-2", "cpu": 0.5}], "lxc",
     "vxlab_vnode_groups[b].cpu=0.5: vnode vx-2 is also in group a, which sets cpu to 0.25"),
])
def test_bad_group_limits_are_refused(groups, kind, message):
    assert message in error_of(inventory(n=2, vxlab_vnode_kind=kind, vxlab_vnode_groups=groups))
