"""vxlab.testbed with routed sites (``--sites S``): names, addresses, batches and inventory as data
(pure, no root)."""
import pytest
import yaml

from vxlab import testbed as tb
from vxlab.testbed import render

REPO = "/srv/vx"
SUBNETS = ["10.250.7.0/24", "10.250.8.0/24"]


def _nodes(name="ab", count=4, sites=2):
    nodes = tb.pnode_names(name, count)
    if sites > 1:
        for p, site in zip(nodes, tb.site_of_pnodes(count, sites)):
            p["site"] = site
    return nodes


@pytest.mark.parametrize("count, sites, want", [
    (4, 2, [1, 1, 2, 2]),
    (5, 2, [1, 1, 1, 2, 2]),
    (7, 3, [1, 1, 1, 2, 2, 3, 3]),
    (3, 3, [1, 2, 3]),
    (4, 1, [1, 1, 1, 1]),
    (10, 8, [1, 1, 2, 2, 3, 4, 5, 6, 7, 8]),
])
def test_pnodes_are_spread_in_order_and_evenly(count, sites, want):
    assert tb.site_of_pnodes(count, sites) == want


@pytest.mark.parametrize("sites, pnodes, word", [
    (0, 4, "between 1 and 8"), (9, 16, "between 1 and 8"), (-1, 4, "between 1 and 8"),
    (True, 4, "between 1 and 8"), ("2", 4, "between 1 and 8"), (2.0, 4, "between 1 and 8"),
    (3, 2, "must not exceed the number of pnodes"),
])
def test_bad_site_counts_are_refused(sites, pnodes, word):
    with pytest.raises(ValueError, match=word) as err:
        tb.check_sites(sites, pnodes)
    assert "sites=%r" % (sites,) in str(err.value)


def test_good_site_counts():
    assert tb.check_sites(1, 1) == 1 and tb.check_sites(8, 8) == 8 and tb.MAX_SITES == 8


def test_choose_subnets_takes_free_distinct_slots():
    assert tb.choose_subnets([], 2) == ["10.250.0.0/24", "10.250.1.0/24"]
    used = ["10.250.0.0/24", "10.250.2.0/24", "10.250.3.7/32"]
    assert tb.choose_subnets(used, 3) == ["10.250.1.0/24", "10.250.4.0/24", "10.250.5.0/24"]
    assert tb.choose_subnets(used, 1) == [tb.choose_subnet(used)]
    with pytest.raises(tb.TestbedError, match="no free /24"):
        tb.choose_subnets(["10.250.%d.0/24" % i for i in range(255)], 2)


def test_names_fit_interface_names():
    assert tb.bridge_name("ab") == tb.bridge_name("ab", 1) == "vtab"
    assert tb.bridge_name("abcdefgh", 8) == "vtabcdefghs8"
    assert tb.router_netns("ab") == "vt-ab-r"
    sites = tb.site_layout("abcdefgh", ["10.250.%d.0/24" % i for i in range(8)])
    for s in sites:
        assert len(s["bridge"]) <= 15 and len(s["router_if"]) <= 15 and len(s["router_peer"]) <= 15
    names = [s["bridge"] for s in sites] + [s["router_if"] for s in sites] + \
        [p["root_if"] for p in tb.pnode_names("abcdefgh", 64)]
    assert len(set(names)) == len(names)


def test_site_layout_addresses():
    assert tb.site_layout("ab", SUBNETS) == [
        {"site": 1, "subnet": SUBNETS[0], "bridge": "vtab", "control_address": "10.250.7.254",
         "router_address": "10.250.7.253", "router_if": "vtabr1", "router_peer": "site1"},
        {"site": 2, "subnet": SUBNETS[1], "bridge": "vtabs2", "control_address": "10.250.8.254",
         "router_address": "10.250.8.253", "router_if": "vtabr2", "router_peer": "site2"},
    ]
    one = tb.site_layout("ab", SUBNETS[:1])
    assert one[0]["router_address"] is None and one[0]["router_if"] is None


def test_router_address_is_above_every_pnode_and_below_the_control_host():
    assert tb.MAX_PNODES < 253 < tb.CONTROL_HOST


def test_pnode_addresses_keep_their_index_in_their_sites_subnet():
    nodes = _nodes(count=4)
    assert [tb.pnode_address(SUBNETS, p) for p in nodes] == [
        "10.250.7.1", "10.250.7.2", "10.250.8.3", "10.250.8.4"]
    assert tb.pnode_address("10.250.7.0/24", tb.pnode_names("ab", 1)[0]) == "10.250.7.1"


def test_underlay_batch_with_two_sites():
    lines = tb.underlay_batch("ab", SUBNETS, _nodes(count=3)).splitlines()
    alias = "vxlab-testbed:ab"
    assert lines == [
        "link add vtab type bridge mcast_snooping 0",
        "link set dev vtab mtu 1500 alias %s" % alias,
        "addr add 10.250.7.254/24 dev vtab",
        "link set dev vtab up",
        "link add vtabs2 type bridge mcast_snooping 0",
        "link set dev vtabs2 mtu 1500 alias %s" % alias,
        "addr add 10.250.8.254/24 dev vtabs2",
        "link set dev vtabs2 up",
        "netns add vt-ab-p1",
        "link add vtabp1 mtu 1500 type veth peer name ib0 mtu 1500 netns vt-ab-p1",
        "link set dev vtabp1 master vtab alias %s up" % alias,
        "netns add vt-ab-p2",
        "link add vtabp2 mtu 1500 type veth peer name ib0 mtu 1500 netns vt-ab-p2",
        "link set dev vtabp2 master vtab alias %s up" % alias,
        "netns add vt-ab-p3",
        "link add vtabp3 mtu 1500 type veth peer name ib0 mtu 1500 netns vt-ab-p3",
        "link set dev vtabp3 master vtabs2 alias %s up" % alias,
        "netns add vt-ab-r",
        "link add vtabr1 mtu 1500 type veth peer name site1 mtu 1500 netns vt-ab-r",
        "link set dev vtabr1 master vtab alias %s up" % alias,
        "link add vtabr2 mtu 1500 type veth peer name site2 mtu 1500 netns vt-ab-r",
        "link set dev vtabr2 master vtabs2 alias %s up" % alias,
    ]


def test_one_site_batches_are_todays():
    nodes = tb.pnode_names("ab", 2)
    assert tb.underlay_batch("ab", ["10.250.7.0/24"], nodes) == tb.underlay_batch("ab", "10.250.7.0/24", nodes)
    assert "vt-ab-r" not in tb.underlay_batch("ab", "10.250.7.0/24", nodes)
    assert tb.pnode_routes("ab", ["10.250.7.0/24"], 1) == []
    assert tb.pnode_batch("10.250.7.0/24", 3, []) == tb.pnode_batch("10.250.7.0/24", 3)


def test_router_batch():
    assert tb.router_batch("ab", SUBNETS).splitlines() == [
        "addr add 10.250.7.253/24 dev site1",
        "link set dev site1 mtu 1500 up",
        "addr add 10.250.8.253/24 dev site2",
        "link set dev site2 mtu 1500 up",
        "link set dev lo up",
    ]


def test_pnodes_route_other_sites_through_their_sites_router():
    three = SUBNETS + ["10.250.9.0/24"]
    assert tb.pnode_routes("ab", three, 1) == [("10.250.8.0/24", "10.250.7.253"),
                                               ("10.250.9.0/24", "10.250.7.253")]
    assert tb.pnode_routes("ab", three, 3) == [("10.250.7.0/24", "10.250.9.253"),
                                               ("10.250.8.0/24", "10.250.9.253")]
    routes = tb.pnode_routes("ab", SUBNETS, 2)
    assert tb.pnode_batch(SUBNETS[1], 4, routes).splitlines() == [
        "addr add 10.250.8.4/24 dev ib0",
        "link set dev ib0 mtu 1500 up",
        "link set dev lo up",
        "route add 10.250.7.0/24 via 10.250.8.253 dev ib0",
    ]


def test_inventory_lists_the_sites_and_keeps_vteps_as_ansible_host():
    paths = tb.layout("ab", REPO)
    hosts_doc, group_vars = tb.render_inventory("ab", _nodes(count=4), SUBNETS, paths)
    assert group_vars["vxlab_underlay_network"] == SUBNETS
    hosts = hosts_doc["all"]["children"]["pnodes"]["hosts"]
    assert {h: (v["ansible_host"], v["vxlab_underlay_address"]) for h, v in hosts.items()} == {
        "ab-p1": ("10.250.7.1",) * 2, "ab-p2": ("10.250.7.2",) * 2,
        "ab-p3": ("10.250.8.3",) * 2, "ab-p4": ("10.250.8.4",) * 2}
    assert "site" not in yaml.safe_dump(hosts_doc)  # a pnode's site follows from its address
    spec = tb.validate_inventory(hosts_doc, group_vars)
    assert list(spec.underlay_networks) == SUBNETS
    assert [p.site for p in spec.pnodes] == [0, 0, 1, 1]


def test_multicast_across_sites_is_refused_before_anything_is_made():
    paths = tb.layout("ab", REPO)
    hosts_doc, group_vars = tb.render_inventory("ab", _nodes(count=4), SUBNETS, paths,
                                                {"vxlab_vxlan_mode": "multicast"})
    with pytest.raises(ValueError, match="multicast"):
        tb.validate_inventory(hosts_doc, group_vars)


def test_one_site_inventory_and_ssh_config_are_byte_for_byte_todays():
    paths = tb.layout("ab", REPO)
    nodes = tb.pnode_names("ab", 3)
    today = tb.render_inventory("ab", nodes, "10.250.7.0/24", paths, None, "10.144.0.0/16")
    listed = tb.render_inventory("ab", nodes, ["10.250.7.0/24"], paths, None, "10.144.0.0/16")
    assert yaml.safe_dump(today, sort_keys=False) == yaml.safe_dump(listed, sort_keys=False)
    assert today[1]["vxlab_underlay_network"] == "10.250.7.0/24"
    assert tb.render_ssh_config(nodes, ["10.250.7.0/24"], paths) == \
        tb.render_ssh_config(nodes, "10.250.7.0/24", paths)


def test_ssh_config_covers_every_sites_addresses():
    paths = tb.layout("ab", REPO)
    text = tb.render_ssh_config(_nodes(count=4), SUBNETS, paths)
    assert "Host ab-p3 10.250.8.3\n    HostName 10.250.8.3" in text
    assert "Host ab-p* 10.250.7.* 10.250.8.*\n" in text


def test_render_helpers_accept_one_cidr_or_a_list():
    assert render.subnets_of("10.250.7.0/24") == ["10.250.7.0/24"]
    assert render.subnets_of(tuple(SUBNETS)) == SUBNETS


def test_down_finds_the_router_namespace_by_name():
    from vxlab.testbed import names
    pattern = names.netns_re("ab")
    assert all(pattern.match(n) for n in ("vt-ab-p1", "vt-ab-p64", "vt-ab-r", tb.router_netns("ab")))
    assert not any(pattern.match(n) for n in ("vt-abc-r", "vt-ab-r1", "vt-ab-p", "vt-a-r", "vt-ab-rp1"))
