# -*- coding: utf-8 -*-
"""Shaping between groups as data: the matrix plan (prefixes, egress, symmetric, first match) and
the HTB tree of one device (classes, filters, the difference an entry change makes)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _dataplane as dp
from ansible_collections.vxlab.emulation.plugins.module_utils import _link_matrix as lm
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import PlanError, plan_from_hostvars

NETWORKS = [{"name": "front", "cidr": "10.150.0.0/22"}, {"name": "back", "cidr": "10.150.8.0/22"},
            {"name": "wan", "cidr": "10.150.16.0/24"}]
GROUPS = [{"name": "web", "vnodes": "vx-[1-10]", "networks": ["front"]},
          {"name": "db", "pnodes": ["p3"], "networks": ["back"]},
          {"name": "r1", "vnodes": "vx-11", "networks": ["front", "wan"], "router": True},
          {"name": "r2", "vnodes": "vx-12", "networks": ["wan", "back"], "router": True}]


def plan(matrix, **more):
    hosts = {}
    for i in range(3):
        hv = {"ansible_host": "192.0.2.%d" % (i + 1), "vxlab_vnodes_per_pnode": 10, "vxlab_platform": "vx",
              "vxlab_networks": NETWORKS, "vxlab_vnode_groups": GROUPS, "vxlab_link_matrix": matrix}
        hv.update(more)
        hosts["p%d" % (i + 1)] = hv
    return plan_from_hostvars(list(hosts), lambda n: hosts[n], None)


def addresses(p, names, network):
    import json
    doc = json.loads(p.to_json())
    return set(i["address"] for v in doc["vnodes"] if v["name"] in names for i in v["interfaces"]
               if i["network"] == network)


def covered(prefixes):
    import ipaddress
    return set(str(a) for c in prefixes for a in ipaddress.ip_network(c))


def test_entries_expand_symmetric_ones_and_decompose_destinations_into_fewest_prefixes():
    p = plan([{"from": "web", "to": "db", "rate": "20mbit", "symmetric": True}, {"from": "web", "to": "back", "rate": "5mbit"}])
    table = p.matrix.table()
    assert [(e["from"], e["to"], e["settings"], e["reverse"]) for e in table] == [
        ("web", "db", {"rate": 20000000}, False), ("db", "web", {"rate": 20000000}, True),
        ("web", "back", {"rate": 5000000}, False)]
    # db = the 10 vnodes of p3: exactly their back addresses, in fewer prefixes than addresses
    db_back = addresses(p, ["vx-%d" % i for i in range(21, 31)], "back")
    assert set(table[0]["prefixes"]) == {"back"} and covered(table[0]["prefixes"]["back"]) == db_back
    assert len(table[0]["prefixes"]["back"]) < len(db_back)
    # a network means all its members: db and the router vx-12 on back
    assert covered(table[2]["prefixes"]["back"]) == db_back | addresses(p, ["vx-12"], "back")


def test_each_source_shapes_on_the_interface_its_traffic_leaves_by():
    p = plan([{"from": "web", "to": "db", "rate": "20mbit"}])
    facts = p.pnode_facts("p1")
    by = dict((v["name"], v) for v in facts["vnodes"])
    # web is on front only: db (on back) is reached through the router r1 on front -> eth1
    assert by["vx-1"]["matrix"] == {"eth1": [[0, "back"]]}
    assert all(set(v.get("matrix", {})) <= {"eth1"} for v in facts["vnodes"])
    assert "matrix" not in dict((v["name"], v) for v in p.pnode_facts("p2")["vnodes"])["vx-11"]  # routers: no source
    prefixes = facts["link_matrix"][0]["prefixes"]["back"]
    params = dp.step_params(facts)["link_matrix"]
    d = lm.validate(dp.validated("link_matrix", params))
    dev = [v for v in d["vnodes"] if v["name"] == "vx-1"][0]["devices"]["eth1"]
    assert dev["classes"][2] == (2500000, 2500000, lm.ROOT | lm.TOTAL_MINOR)  # 20 mbit in bytes/s
    assert dev["filters"][1] == (lm.ROOT | 2, prefixes)
    assert dev["classes"][lm.TOTAL_MINOR][0] * 8 == lm.UNLIMITED and dev["leaves"] == {}


def test_the_vnodes_own_rate_is_the_total_and_caps_every_class():
    p = plan([{"from": "web", "to": "db", "rate": "50mbit"}], vxlab_links=[{"vnodes": "vx-1", "rate": "30mbit"}])
    params = dp.step_params(p.pnode_facts("p1"))["link_matrix"]
    assert params["totals"] == {"vx-1": 30000000}
    d = lm.validate(dp.validated("link_matrix", params))
    dev = [v for v in d["vnodes"] if v["name"] == "vx-1"][0]["devices"]["eth1"]
    assert dev["classes"][lm.TOTAL_MINOR][0] == dev["classes"][2][0] == 30000000 // 8


def test_first_entry_wins_by_filter_priority_and_delay_makes_a_netem_leaf():
    tree = lm.device_plan({0: {"settings": {"rate": 8000000}, "prefixes": {"10.0.0.0/24"}},
                           3: {"settings": {"delay": 20000}, "prefixes": {"10.0.0.0/16"}}})
    assert tree["filters"] == {1: (lm.ROOT | 2, ["10.0.0.0/24"]), 4: (lm.ROOT | 5, ["10.0.0.0/16"])}
    assert tree["leaves"] == {5: {"delay": 20000}} and tree["classes"][5][0] * 8 == lm.UNLIMITED


def observed(tree):
    return {"classes": dict(tree["classes"]), "leaves": dict(tree["leaves"]), "filters": dict(tree["filters"])}


def test_diff_of_one_device_rewrites_only_what_differs():
    old = lm.device_plan({0: {"settings": {"rate": 20000000}, "prefixes": {"10.0.1.0/24"}},
                          1: {"settings": {"rate": 5000000}, "prefixes": {"10.0.2.0/24"}}})
    assert lm.diff_device(old, observed(old)) == ([], None)  # a re-run: nothing
    assert lm.diff_device(old, None) == ([("build",)], None)
    new = lm.device_plan({0: {"settings": {"rate": 10000000}, "prefixes": {"10.0.1.0/24"}},
                          1: {"settings": {"rate": 5000000}, "prefixes": {"10.0.2.0/24", "10.0.3.0/24"}}})
    actions, error = lm.diff_device(new, observed(old))
    assert error is None and actions == [("class_change", 2), ("filters_del", 2), ("filters_add", 2)]
    fewer = lm.device_plan({1: {"settings": {"rate": 5000000}, "prefixes": {"10.0.2.0/24"}}})
    assert lm.diff_device(fewer, observed(old))[0] == [("filters_del", 1), ("class_del", 2)]
    assert lm.diff_device(None, observed(old)) == ([("clear",)], None)
    assert lm.diff_device(None, None) == ([], None)
    actions, error = lm.diff_device(new, {"foreign": "tbf 7a1: rate 1mbit"})
    assert actions == [] and "not the matrix's" in error
    assert lm.diff_device(None, {"foreign": "x"}) == ([], None)  # someone else's, left alone


@pytest.mark.parametrize("matrix, message", [
    ([{"from": "web", "to": "mars", "rate": "1mbit"}], "vxlab_link_matrix[0].to='mars': is neither a group nor a data network"),
    ([{"from": "web", "to": "db"}], "sets nothing"),
    ([{"from": "web", "to": "db", "rate": "fast"}], "vxlab_link_matrix[0].rate='fast'"),
    ([{"from": "web", "to": "db", "rate": "1mbit", "symmetric": "yes"}], "vxlab_link_matrix[0].symmetric='yes'"),
    ([{"from": "web", "to": "db", "rate": "1mbit", "colour": 1}], "vxlab_link_matrix[0].colour"),
    ([{"to": "db", "rate": "1mbit"}], "vxlab_link_matrix[0].from=null: is required"),
])
def test_bad_matrix_entries_are_refused(matrix, message):
    with pytest.raises(PlanError) as info:
        plan(matrix)
    assert message in str(info.value)


def test_a_matrix_without_groups_is_refused():
    hosts = {"p1": {"ansible_host": "192.0.2.1", "vxlab_link_matrix": [{"from": "a", "to": "b", "rate": "1mbit"}]}}
    with pytest.raises(PlanError) as info:
        plan_from_hostvars(["p1"], lambda n: hosts[n], None)
    assert "vxlab_vnode_groups and vxlab_networks are empty" in str(info.value)


def test_fidelity_pairs_and_judgements():
    from vxlab import fidelity
    p = plan([{"from": "web", "to": "db", "rate": "20mbit", "symmetric": True}])
    pairs = fidelity.pairs(p)
    assert [(x["from"], x["to"], x["src"], x["dst"], x["network"]) for x in pairs] == [
        ("web", "db", "vx-1", "vx-21", "back"), ("db", "web", "vx-21", "vx-1", "front")]
    assert pairs[0]["address"] == sorted(addresses(p, ["vx-21"], "back"))[0] and pairs[0]["asked"] == {"rate": 20.0}
    assert fidelity.pairs(p, sample=1) == pairs[:1]
    assert fidelity.judge_rate(20.0, 19.1) == (19.1 / 20.0, True)
    assert fidelity.judge_rate(5.0, 6573.0)[1] is False
    assert fidelity.judge_delay(40.0, 44.0)[1] and not fidelity.judge_delay(40.0, 1.0)[1]
    assert fidelity.judge_cpu(0.25, 0.249)[1] and not fidelity.judge_cpu(0.25, 1.0)[1]
    report = {"platform": "vx", "ok": False, "date": "now", "tolerance": {"rate": 0.1, "rtt": 0.2, "cpu": 0.2},
              "entries": [dict(pairs[0], measured={"rate": 40.0}, ratio={"rate": 2.0}, errors=[], ok=False)], "cpu": []}
    text = fidelity.markdown(report)
    assert "| web -> db | vx-1 -> vx-21 (%s) | rate 20.00 Mbit/s | rate 40.00 Mbit/s | 2.00 | **no** |" % (
        pairs[0]["address"]) in text
