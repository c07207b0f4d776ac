# -*- coding: utf-8 -*-
"""The platform model and address plan: uniqueness, determinism, stability, every validation error."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._plan import (
    MAX_VNODES_PER_PNODE,
    PlanError,
    default_gc_thresh,
    default_netdev_max_backlog,
    plan_from_hostvars,
    spec_from_hostvars,
)


def inventory(n=3, per=4, **platform):
    """pnode name -> vars, as Ansible would give them (group vars repeated on every host)."""
    hosts = {}
    for i in range(n):
        hv = {"ansible_host": "192.0.2.%d" % (i + 1), "vxlab_vnodes_per_pnode": per}
        hv.update(platform)
        hosts["pn%d" % (i + 1)] = hv
    return hosts


def plan_of(hosts, extra=None):
    return plan_from_hostvars(list(hosts), lambda n: hosts[n], extra)


def error_of(hosts, extra=None):
    with pytest.raises(PlanError) as info:
        plan_of(hosts, extra)
    return info.value


def test_every_vnode_is_unique_and_inside_the_network():
    plan = plan_of(inventory(n=5, per=7, vxlab_vnode_network="10.20.0.0/24"))
    vnodes = plan.vnodes
    assert len(vnodes) == 35
    for key in ("name", "address", "mac", "host_if"):
        assert len({v[key] for v in vnodes}) == 35, key
    net = ipaddress.ip_network("10.20.0.0/24")
    reserved = {net.network_address, net.broadcast_address, ipaddress.ip_address(plan.gateway)}
    for v in vnodes:
        ip = ipaddress.ip_address(v["address"])
        assert ip in net and ip not in reserved
        assert len(v["host_if"]) <= 15
        first = int(v["mac"].split(":")[0], 16)
        assert first & 0x02 and not first & 0x01  # locally administered, unicast
    assert plan.gateway == "10.20.0.1"


def test_same_input_gives_byte_identical_plan():
    a = plan_of(inventory(n=4, per=5)).to_json()
    b = plan_of(inventory(n=4, per=5)).to_json()
    assert a == b
    first = json.loads(a)["vnodes"][0]
    mac = first["mac"]
    # the plan of a platform without vxlab_networks: today's fields plus the interfaces list
    assert first == {
        "name": "vxlab-1", "address": "10.144.0.2", "mac": mac, "pnode": "pn1", "host_if": "vxlab-1",
        "interfaces": [{"network": "management", "ifname": "eth0", "address": "10.144.0.2", "mac": mac,
                        "host_if": "vxlab-1"}]}
    assert not {"networks", "groups", "routes", "warnings"} & set(json.loads(a))


def test_appending_a_pnode_keeps_every_existing_vnode():
    three = plan_of(inventory(n=3, per=4)).vnodes
    four = plan_of(inventory(n=4, per=4)).vnodes
    assert four[:len(three)] == three
    assert {v["pnode"] for v in four[len(three):]} == {"pn4"}


def test_changing_one_pnode_count_within_the_stride_moves_nobody_else():
    hosts = inventory(n=3, per=4, vxlab_pnode_stride=10)
    before = {v["name"]: v for v in plan_of(hosts).vnodes}
    hosts["pn2"]["vxlab_vnodes"] = 9
    after = {v["name"]: v for v in plan_of(hosts).vnodes}
    for name, v in before.items():
        assert after[name] == v
    assert len(after) == len(before) + 5


def test_explicit_pnode_index_fixes_the_block_regardless_of_order():
    hosts = inventory(n=2, per=2)
    hosts["pn1"]["vxlab_pnode_index"] = 1
    hosts["pn2"]["vxlab_pnode_index"] = 0
    plan = plan_of(hosts)
    assert [v["pnode"] for v in plan.vnodes] == ["pn2", "pn2", "pn1", "pn1"]
    assert plan.vnodes_of("pn1")[0]["name"] == "vxlab-3"


def test_per_pnode_override_and_facts():
    hosts = inventory(n=3, per=2)
    hosts["pn3"]["vxlab_vnodes"] = 0
    plan = plan_of(hosts)
    facts = plan.pnode_facts("pn1")
    assert facts["remote_vteps"] == ["192.0.2.2", "192.0.2.3"]
    assert facts["is_gateway"] is True and plan.pnode_facts("pn2")["is_gateway"] is False
    assert facts["bridge"] == "vxlab-br" and facts["vxlan"] == "vxlab-vx"
    assert [v["name"] for v in facts["vnodes"]] == ["vxlab-1", "vxlab-2"]
    assert plan.pnode_facts("pn3")["vnodes"] == []
    assert facts["pnode_state_dir"] == "/var/lib/vxlab/vxlab/pn1"


def test_extra_vars_win_over_inventory():
    plan = plan_of(inventory(vxlab_vni=7), extra={"vxlab_vni": "99"})
    assert plan.spec.vni == 99


def test_strings_from_ini_inventories_are_accepted_for_integers():
    plan = plan_of(inventory(per="3", vxlab_mtu="1400"))
    assert plan.spec.mtu == 1400 and len(plan.vnodes) == 9


def test_gc_thresh_sizing_and_explicit_values():
    assert default_gc_thresh(10) == (128, 512, 1024)
    t1, t2, t3 = default_gc_thresh(39852)
    assert t3 >= 2 * 39852 and t3 & (t3 - 1) == 0 and t1 < t2 < t3
    plan = plan_of(inventory(vxlab_gc_thresh1=1, vxlab_gc_thresh2=2, vxlab_gc_thresh3=3))
    assert plan.spec.gc_thresh == (1, 2, 3)


def test_input_backlog_sized_per_kernel_unless_given():
    assert default_netdev_max_backlog(10) == 1000  # never below the kernel default
    assert default_netdev_max_backlog(246) == 1968  # the paper's density: 8 per vnode port
    plan = plan_of(inventory(n=3, per=400))
    assert plan.pnode_facts("pn1")["netdev_max_backlog"] == 3200  # a pnode's own ports
    assert plan.netdev_max_backlog(plan.spec.total_vnodes) == 9600  # one kernel, every port
    given = plan_of(inventory(per=400, vxlab_netdev_max_backlog="50000"))
    assert given.pnode_facts("pn1")["netdev_max_backlog"] == 50000
    assert given.netdev_max_backlog(1200) == 50000


def test_multicast_mode_needs_no_underlay_addresses():
    hosts = {"a": {"ansible_host": "node-a.example"}, "b": {"ansible_host": "node-b.example"}}
    for hv in hosts.values():
        hv.update(vxlab_vxlan_mode="multicast", vxlab_vxlan_group="239.5.5.5")
    plan = plan_of(hosts)
    assert plan.pnode_facts("a")["vxlan_group"] == "239.5.5.5"
    assert plan.pnode_facts("a")["remote_vteps"] == []


def test_planning_paper_scale_is_exact():
    plan = plan_of(inventory(n=162, per=246, vxlab_vnode_network="10.128.0.0/15"))
    assert plan.spec.total_vnodes == 39852
    last = plan.vnodes_of("pn162")[-1]
    assert last["name"] == "vxlab-39852"
    assert ipaddress.ip_address(last["address"]) == ipaddress.ip_address("10.128.0.1") + 39852


BAD = [
    # (id, platform vars, per-pnode overrides {pnode: vars}, variable named, words in message)
    ("vni-zero", {"vxlab_vni": 0}, {}, "vxlab_vni", "between 1 and 16777215"),
    ("vni-too-big", {"vxlab_vni": 16777216}, {}, "vxlab_vni", "between"),
    ("vni-bool", {"vxlab_vni": True}, {}, "vxlab_vni", "boolean"),
    ("vni-text", {"vxlab_vni": "many"}, {}, "vxlab_vni", "integer"),
    ("net-too-small", {"vxlab_vnode_network": "10.0.0.0/29"}, {}, "vxlab_vnode_network", "larger network"),
    ("net-host-bits", {"vxlab_vnode_network": "10.0.0.1/16"}, {}, "vxlab_vnode_network", "did you mean 10.0.0.0/16"),
    ("net-garbage", {"vxlab_vnode_network": "ten/8"}, {}, "vxlab_vnode_network", "IPv4"),
    ("net-no-prefix", {"vxlab_vnode_network": "10.0.0.0"}, {}, "vxlab_vnode_network", "CIDR"),
    ("net-slash-31", {"vxlab_vnode_network": "10.0.0.0/31"}, {}, "vxlab_vnode_network", "prefix"),
    ("too-many-per-pnode", {"vxlab_vnodes_per_pnode": MAX_VNODES_PER_PNODE + 1}, {}, "vxlab_vnodes_per_pnode", "between 0 and 1022"),
    ("too-many-override", {}, {"pn2": {"vxlab_vnodes": 5000}}, "vxlab_vnodes", "pn2"),
    ("negative-count", {"vxlab_vnodes_per_pnode": -1}, {}, "vxlab_vnodes_per_pnode", "between"),
    ("mode", {"vxlab_vxlan_mode": "broadcast"}, {}, "vxlab_vxlan_mode", "unicast, multicast"),
    ("kind", {"vxlab_vnode_kind": "vm"}, {}, "vxlab_vnode_kind", "netns, lxc"),
    ("group-not-multicast", {"vxlab_vxlan_mode": "multicast", "vxlab_vxlan_group": "10.1.1.1"}, {}, "vxlab_vxlan_group", "multicast"),
    ("mtu-low", {"vxlab_mtu": 100}, {}, "vxlab_mtu", "between"),
    ("mtu-high", {"vxlab_mtu": 9001}, {}, "vxlab_mtu", "between"),
    ("port", {"vxlab_vxlan_port": 70000}, {}, "vxlab_vxlan_port", "between"),
    ("platform-upper", {"vxlab_platform": "Demo"}, {}, "vxlab_platform", "lowercase"),
    ("platform-shell", {"vxlab_platform": "a;rm -rf /"}, {}, "vxlab_platform", "lowercase"),
    ("platform-long", {"vxlab_platform": "averyverylongname"}, {}, "vxlab_platform", "15 characters"),
    ("ifname-slash", {"vxlab_underlay_interface": "ib0/1"}, {}, "vxlab_underlay_interface", "interface name"),
    ("ifname-space", {}, {"pn1": {"vxlab_underlay_interface": "ib 0"}}, "vxlab_underlay_interface", "pn1"),
    ("ifname-long", {"vxlab_underlay_interface": "x" * 16}, {}, "vxlab_underlay_interface", "1 to 15"),
    ("dup-vtep", {}, {"pn2": {"vxlab_underlay_address": "192.0.2.1"}}, "vxlab_underlay_address", "already the underlay address of pnode pn1"),
    ("bad-vtep", {}, {"pn2": {"vxlab_underlay_address": "192.0.2.300"}}, "vxlab_underlay_address", "not an IPv4"),
    ("vtep-in-overlay", {"vxlab_vnode_network": "192.0.2.0/24"}, {}, "vxlab_underlay_address", "overlap"),
    ("underlay-overlap", {"vxlab_underlay_network": "10.144.0.0/12"}, {}, "vxlab_vnode_network", "overlaps"),
    ("vtep-outside-underlay", {"vxlab_underlay_network": "198.51.100.0/24"}, {}, "vxlab_underlay_address", "outside"),
    ("dup-index", {}, {"pn1": {"vxlab_pnode_index": 1}}, "vxlab_pnode_index", "already used"),
    ("stride-small", {"vxlab_pnode_stride": 2}, {}, "vxlab_pnode_stride", "smaller"),
    ("gateway-unknown", {"vxlab_gateway_pnode": "pn9"}, {}, "vxlab_gateway_pnode", "not in the pnodes group"),
    ("thresh-order", {"vxlab_gc_thresh1": 10, "vxlab_gc_thresh2": 5}, {}, "vxlab_gc_thresh3", "gc_thresh1 <= gc_thresh2"),
    ("unknown-key", {"vxlab_vnode_per_pnode": 3}, {}, "vxlab_vnode_per_pnode", "did you mean vxlab_vnodes_per_pnode"),
    ("differs", {}, {"pn3": {"vxlab_vni": 5}}, "vxlab_vni", "differs between pnodes"),
    ("state-dir-relative", {"vxlab_state_dir": "var/lib"}, {}, "vxlab_state_dir", "absolute"),
    ("ssh-key-shell", {"vxlab_ssh_key": "$(reboot)"}, {}, "vxlab_ssh_key", "path"),
    ("control-access", {"vxlab_control_access": "telnet"}, {}, "vxlab_control_access", "proxyjump, route"),
    ("backlog-zero", {"vxlab_netdev_max_backlog": 0}, {}, "vxlab_netdev_max_backlog", "between 1 and"),
    ("backlog-text", {"vxlab_netdev_max_backlog": "lots"}, {}, "vxlab_netdev_max_backlog", "integer"),
]


@pytest.mark.parametrize("platform,per_pnode,variable,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_fails_with_one_message_naming_variable_and_value(platform, per_pnode, variable, words):
    hosts = inventory(**platform)
    for name, hv in per_pnode.items():
        hosts[name].update(hv)
    err = error_of(hosts)
    assert err.variable == variable
    text = str(err)
    assert text.startswith(variable + "=")
    assert words in text, text
    assert "\n" not in text


def test_missing_underlay_address_in_unicast_mode():
    err = error_of({"a": {"ansible_host": "a.example"}})
    assert err.variable == "vxlab_underlay_address" and err.host == "a"


def test_empty_and_unsafe_pnode_lists():
    with pytest.raises(PlanError, match="empty"):
        spec_from_hostvars([], dict)
    with pytest.raises(PlanError, match="pnode names"):
        spec_from_hostvars(["bad name"], lambda n: {"ansible_host": "192.0.2.1"})
    with pytest.raises(PlanError, match="duplicate"):
        spec_from_hostvars(["a", "a"], lambda n: {"ansible_host": "192.0.2.1"})


def _spec(**extra):
    from ansible_collections.vxlab.emulation.plugins.module_utils import _plan
    hv = {"p1": {"vxlab_underlay_address": "10.250.0.1"}}
    return _plan.spec_from_hostvars(["p1"], lambda n: hv[n], extra)


def test_plan_lxc_variables():
    from ansible_collections.vxlab.emulation.plugins.module_utils import _plan
    s = _spec(vxlab_vnode_kind="lxc", vxlab_vnode_cpu="0.25", vxlab_vnode_memory="256M",
              vxlab_vnode_cpuset="0-1", vxlab_lxc_image="/srv/rootfs")
    facts = _plan.build_plan(s).pnode_facts("p1")
    assert (facts["vnode_cpu"], facts["vnode_memory"], facts["vnode_cpuset"], facts["lxc_image"]) == \
        (0.25, 256 << 20, "0-1", "/srv/rootfs")
    for extra, match in (({"vxlab_vnode_kind": "netns", "vxlab_vnode_cpu": 0.5}, "need vxlab_vnode_kind: lxc"),
                         ({"vxlab_vnode_kind": "lxc", "vxlab_vnode_cpu": 0}, "between 0.01"),
                         ({"vxlab_vnode_kind": "lxc", "vxlab_vnode_memory": "x"}, "size"),
                         ({"vxlab_lxc_image": "rel/path"}, "absolute path")):
        with pytest.raises(_plan.PlanError, match=match):
            _spec(**extra)


def test_gc_thresh_counts_the_underlay_pairs_of_the_pnodes():
    """162 pnodes on one kernel: 26,082 underlay entries beside 2 x 4,050 vnodes."""
    from ansible_collections.vxlab.emulation.plugins.module_utils._plan.spec import default_gc_thresh

    assert default_gc_thresh(4050, 162) == (8192, 32768, 65536)
    assert default_gc_thresh(150, 50)[2] == 4096  # 2 x 150 + 2,450 > 2,048
    assert default_gc_thresh(10, 1) == (128, 512, 1024)


@pytest.mark.parametrize("var, value", [
    ("vxlab_pnode_apt_source", "deb [trusted=yes] file:/srv/source/debs ./"),
    ("vxlab_pnode_apt_source", "deb http://mirror.example/debian bookworm main contrib"),
    ("vxlab_pnode_pip_find_links", "/srv/source/wheels"),
    ("vxlab_pnode_pip_find_links", "https://mirror.example/wheels/"),
    ("vxlab_pnode_pip_index", "http://mirror.example/simple"),
])
def test_a_package_source_is_accepted(var, value):
    assert plan_of(inventory(n=2, **{var: value})).vnodes


@pytest.mark.parametrize("var, value", [
    ("vxlab_pnode_apt_source", "file:/srv/source/debs ./"),
    ("vxlab_pnode_apt_source", "deb file:/srv/debs ./\ndeb http://x/ y main"),
    ("vxlab_pnode_apt_source", "deb /srv/debs"),
    ("vxlab_pnode_pip_find_links", "wheels"),
    ("vxlab_pnode_pip_find_links", "/srv/my wheels"),
    ("vxlab_pnode_pip_index", "/srv/simple"),
    ("vxlab_pnode_pip_index", 3),
])
def test_a_bad_package_source_names_the_variable_value_and_pnode(var, value):
    hosts = inventory(n=2)
    hosts["pn2"][var] = value
    err = error_of(hosts)
    assert err.variable == var and err.value == value and err.host == "pn2"
