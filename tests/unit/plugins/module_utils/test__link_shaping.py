"""link shaping as data: qdisc plans (netem included), diff and refusals (its units: _base/test_units.py)."""
import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _link_shaping as s
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.iproute import decode_qdisc_options


def test_device_plans():
    assert s.device_plan({}) == []
    tbf = s.device_plan({"rate": 10 ** 7})
    assert tbf == [{"kind": "tbf", "handle": 0x7A10000, "parent": s.TC_H_ROOT, "rate": 1250000,
                    "burst": 12500, "limit": 12500 + 62500}]
    netem = s.device_plan({"delay": 5000, "jitter": 1000, "loss": 0.5})
    assert netem == [{"kind": "netem", "handle": 0x7A10000, "parent": s.TC_H_ROOT, "limit": 1000,
                      "delay": 5000, "jitter": 1000, "loss": 0.5}]
    both = s.device_plan({"rate": 10 ** 6, "delay": 20000})
    assert [(q["kind"], q["handle"], q["parent"]) for q in both] == [
        ("tbf", 0x7A10000, s.TC_H_ROOT), ("netem", 0x7A20000, 0x7A10001)]
    assert both[0]["burst"] == 2 * s.MTU_BYTES  # small rates still pass full frames
    assert s.describe(both) == "tbf 1mbit / netem delay 20000us"


def test_directions():
    settings = {"rate": 1, "delay": 2, "ingress_rate": 3, "ingress_loss": 4}
    assert s.direction(settings, False) == {"rate": 1, "delay": 2}
    assert s.direction(settings, True) == {"rate": 3, "loss": 4}


def observed_tbf(rate_bytes, limit):
    return [{"kind": "tbf", "handle": 0x7A10000, "parent": s.TC_H_ROOT, "rate": rate_bytes, "limit": limit}]


def test_diff_device():
    want = s.device_plan({"rate": 10 ** 7})
    assert s.diff_device(want, observed_tbf(1250000, 75000)) == (None, None)
    assert s.diff_device(want, observed_tbf(2500000, 75000)) == ("replace", None)
    assert s.diff_device([], observed_tbf(1250000, 75000)) == ("clear", None)
    assert s.diff_device([], []) == (None, None)
    foreign = [{"kind": "tbf", "handle": 0x50000, "parent": s.TC_H_ROOT, "rate": 1, "limit": 1}]
    action, error = s.diff_device(want, foreign)
    assert action is None and "refusing to replace it" in error
    netem_want = s.device_plan({"rate": 10 ** 7, "delay": 5000})
    assert s.diff_device(netem_want, observed_tbf(1250000, 75000)) == ("replace", None)


def test_plan_of_a_pnode_and_netem_first():
    vnodes = [{"name": "v1", "host_if": "v1"}, {"name": "v2", "host_if": "v2"}]
    settings = {"v1": {"rate": 10 ** 7}, "v2": {"delay": 5000, "ingress_rate": 10 ** 6}}
    observed = {("v1", "vnode"): observed_tbf(1250000, 75000), ("v1", "host"): [],
                ("v2", "vnode"): [], ("v2", "host"): []}
    tracker, actions, errors = s.diff(vnodes, lambda n: settings[n], observed)
    assert errors == []
    assert [(a[0], a[1], a[2]) for a in actions] == [("v2", "vnode", "replace"), ("v2", "host", "replace")]
    assert tracker.diff() == {"before": {"v2:out": "none", "v2:in": "none"},
                              "after": {"v2:out": "netem delay 5000us", "v2:in": "tbf 1mbit"}}
    assert s.needs_netem(actions) and not s.needs_netem(actions[1:])
    # everything removed
    tracker, actions, errors = s.diff(vnodes, lambda n: {}, observed)
    assert [(a[0], a[1], a[2]) for a in actions] == [("v1", "vnode", "clear")]


def test_root_tree_ignores_default_and_other_qdiscs():
    assert s.root_tree([{"kind": "noqueue", "handle": 0, "parent": s.TC_H_ROOT}]) == []
    tree = [{"kind": "tbf", "handle": 0x7A10000, "parent": s.TC_H_ROOT},
            {"kind": "netem", "handle": 0x7A20000, "parent": 0x7A10001},
            {"kind": "ingress", "handle": 0xFFFF0000, "parent": 0xFFFFFFF1}]
    assert s.root_tree(tree) == tree[:2]


def test_decode_netem_options_as_pyroute2_gives_them():
    opts = {"delay": 5000 * 64, "jitter": 1000 * 64, "loss": 0xFFFFFFFF // 200, "limit": 1000,
            "attrs": [("TCA_NETEM_LATENCY64", 5000000), ("TCA_NETEM_JITTER64", 1000000)]}
    assert decode_qdisc_options("netem", opts) == {"delay": 5000, "jitter": 1000, "loss": 0.5, "limit": 1000}
    tbf = {"attrs": [("TCA_TBF_PARMS", {"rate": 1250000, "limit": 75000})]}
    assert decode_qdisc_options("tbf", tbf) == {"rate": 1250000, "limit": 75000}


def test_validate_module_params():
    d = s.validate({"platform": "demo", "vnodes": [{"name": "demo-1", "host_if": "demo-1"},
                                                   {"name": "demo-2", "host_if": "demo-2", "pid": 42}],
                    "default": {"rate": "10mbit"}, "shaping": {"demo-2": {"delay": "5ms", "rate": None}}})
    assert d["settings"] == {"demo-1": {"rate": 10 ** 7}, "demo-2": {"rate": 10 ** 7, "delay": 5000}}
    assert d["vnodes"][1]["ns"] == 42
    with pytest.raises(ValueError, match="demo-9 is not in vnodes"):
        s.validate({"platform": "demo", "vnodes": [], "shaping": {"demo-9": {"rate": "1mbit"}}})
    with pytest.raises(ValueError, match="shaping.demo-1.rate='1 furlong'"):
        s.validate({"platform": "demo", "vnodes": [{"name": "demo-1", "host_if": "demo-1"}],
                    "shaping": {"demo-1": {"rate": "1 furlong"}}})


def test_owners_never_replace_each_others_trees():
    fault_tree = s.device_plan({"rate": 10 ** 6}, owner="fault")
    assert fault_tree[0]["handle"] == 0xFA170000 and s.owner_of(fault_tree) == "fault"
    assert s.owner_of(s.device_plan({"rate": 10 ** 6})) == "link_shaping"
    action, error = s.diff_device(s.device_plan({"rate": 10 ** 7}), fault_tree)
    assert action is None and "vxlab fault injection" in error and "undegrade" in error
    action, error = s.diff_device([], s.device_plan({"rate": 10 ** 6}), owner="fault")
    assert action is None and "vxlab link shaping" in error
    assert s.diff_device([], fault_tree, owner="fault") == ("clear", None)


def test_settings_read_back_and_canonical():
    both = s.device_plan({"rate": 10 ** 6, "delay": 20000, "jitter": 100, "loss": 0.5})
    assert s.settings_of_tree(both) == {"rate": 10 ** 6, "delay": 20000, "jitter": 100, "loss": 0.5}
    assert s.settings_of_tree([]) == {}
    assert s.canonical({"rate": 1000007}) == {"rate": 1000000}
