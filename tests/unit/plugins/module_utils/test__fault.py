# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fault module's pure parts as data: parameters, events, the replay plan, the qdisc trees
(planned by _link_shaping with the fault owner's handles) and the LXC lifecycle (through _vnode_state)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _fault as f


@pytest.mark.parametrize("value, bps", [
    ("10mbit", 10 ** 7), ("1.5gbit", 15 * 10 ** 8), ("100kbps", 800000), ("8000", 8000),
    (8000, 8000), ("1Mbit", 10 ** 6), (" 2 mbit ", 2 * 10 ** 6),
])
def test_parse_rate(value, bps):
    assert f.parse_rate(value) == bps


@pytest.mark.parametrize("value", ["fast", "10 furlongs", "-1mbit", "0", "", None, True, "1e9bit",
                                   "200gbit", float("nan")])
def test_parse_rate_refuses(value):
    with pytest.raises(f.FaultError, match="rate="):
        f.parse_rate(value)


@pytest.mark.parametrize("value, us", [("10ms", 10000), ("250us", 250), ("1.5s", 1500000),
                                       (20, 20), ("0", 0)])
def test_parse_delay(value, us):
    assert f.parse_delay(value) == us


@pytest.mark.parametrize("value", ["soon", "10 minutes", "-5ms", "2148s", None, False])
def test_parse_delay_refuses(value):
    with pytest.raises(f.FaultError, match="delay="):
        f.parse_delay(value)


@pytest.mark.parametrize("value, pct", [("1%", 1.0), ("0.5", 0.5), (2, 2.0), ("100%", 100.0)])
def test_parse_loss(value, pct):
    assert f.parse_loss(value) == pct


@pytest.mark.parametrize("value", ["101%", "-1%", "lots", None])
def test_parse_loss_refuses(value):
    with pytest.raises(f.FaultError, match="loss="):
        f.parse_loss(value)


def test_normalize_event_aliases_and_params():
    assert f.normalize_event({"action": "down", "target": "tb-3"}) == {"action": "vnode_down", "target": "tb-3"}
    assert f.normalize_event({"action": "pnode-off", "target": "p1"})["action"] == "pnode_off"
    ev = f.normalize_event({"action": "degrade", "target": "tb-3", "rate": "1mbit", "loss": "1%"})
    assert ev == {"action": "degrade", "target": "tb-3", "rate": 10 ** 6, "loss": 1.0}


@pytest.mark.parametrize("event, message", [
    ({"action": "explode", "target": "tb-1"}, "unknown action"),
    ({"action": "vnode_dwn", "target": "tb-1"}, "did you mean vnode_down"),
    ({"action": "down"}, "target is missing"),
    ({"action": "down", "target": "tb 1"}, "target='tb 1'"),
    ({"action": "down", "target": "tb-1;touch /tmp/x"}, "target="),
    ({"action": "down", "target": "../etc"}, "target="),
    ({"action": "down", "target": "x" * 65}, "target="),
    ({"action": "down", "target": "tb-1", "rate": "1mbit"}, "only applies to action degrade"),
    ({"action": "degrade", "target": "tb-1"}, "at least one of rate, delay, loss"),
    ({"action": "degrade", "target": "tb-1", "rat": "1mbit"}, "did you mean rate"),
    ({"action": "down", "target": "tb-1", "id": -1}, "id=-1"),
    ("down tb-1", "must be a mapping"),
])
def test_normalize_event_refuses(event, message):
    with pytest.raises(f.FaultError, match=message.replace("(", r"\(")):
        f.normalize_event(event, "events[0]")


def test_units_are_link_shapings():
    from ansible_collections.vxlab.emulation.plugins.module_utils._base import units

    for text in ("10mbit", "125kbps", "1gibit"):
        assert f.parse_rate(text) == units.parse_rate("rate", text)
    assert f.parse_delay("1.5s") == units.parse_time("delay", "1.5s")
    # rounded to whole bytes per second, as the kernel's tbf keeps it: a re-run compares equal
    assert f.parse_rate("1000001bit") == 1000000


def _tree(kind, major, **kw):
    return [dict({"kind": kind, "handle": major << 16, "parent": 0xFFFFFFFF}, **kw)]


def test_device_actions_tbf_with_the_fault_handle_on_both_ends():
    acts = f.device_actions({"rate": 10 ** 6, "delay": None, "loss": None}, {"host": [], "vnode": []})
    assert [(side, action) for side, action, want in acts] == [("host", "replace"), ("vnode", "replace")]
    want = acts[0][2]
    assert want == [{"kind": "tbf", "handle": 0xFA170000, "parent": 0xFFFFFFFF,
                     "rate": 125000, "burst": 3028, "limit": 3028 + 6250}]
    # a vnode whose namespace cannot be entered: the host end only
    assert [a[0] for a in f.device_actions({"rate": 10 ** 6}, {"host": []})] == ["host"]


def test_device_actions_netem_tree_and_removal():
    acts = f.device_actions({"rate": 10 ** 6, "delay": 20000, "loss": 1.0}, {"host": []})
    assert [(q["kind"], q["handle"], q["parent"]) for q in acts[0][2]] == [
        ("tbf", 0xFA170000, 0xFFFFFFFF), ("netem", 0xFA180000, 0xFA170001)]
    assert acts[0][2][1]["delay"] == 20000 and acts[0][2][1]["loss"] == 1.0
    ours = _tree("tbf", 0xFA17, rate=125000, limit=3028 + 6250)
    assert f.device_actions(None, {"host": ours, "vnode": []}) == [("host", "clear", [])]
    assert f.device_actions({"rate": 10 ** 6}, {"host": ours}) == []  # already there


def test_device_actions_refuse_link_shapings_and_foreign_qdiscs():
    with pytest.raises(f.FaultError, match="made by vxlab link shaping.*refusing to replace it"):
        f.device_actions({"rate": 10 ** 6}, {"host": _tree("tbf", 0x7A1, rate=1, limit=1)})
    with pytest.raises(f.FaultError, match="that vxlab did not make"):
        f.device_actions(None, {"host": _tree("htb", 0x1)})


def test_shaping_read_back_from_a_tree():
    assert f.shaping_of_tree([]) is None
    assert f.shaping_of_tree(_tree("tbf", 0xFA17, rate=125000, limit=9)) == {"rate": 10 ** 6, "delay": None, "loss": None}


# --------------------------------------------------------------------------------------------
# the replay plan


PARAMS = {"platform": "tb", "pnode": "p1", "bridge": "tb-br", "vxlan": "tb-vx",
          "vnodes": [{"name": "tb-1", "host_if": "tb-1", "address": "10.1.0.2"},
                     {"name": "tb-2", "host_if": "tb-2"}],
          "vteps": {"p1": "10.250.0.1", "p2": "10.250.0.2", "p3": "10.250.0.3"}}


def _obs(up=True, attached=True, shaping=None, overlay=True, flood=("10.250.0.2", "10.250.0.3")):
    v = {"exists": True, "ours": True, "up": up, "attached": attached, "shaping": shaping,
         "peer_shaping": shaping, "netns": True, "index": 7, "foreign_qdisc": []}
    return {"bridge": {"index": 3}, "vxlan": {"index": 4, "up": overlay, "kind": "vxlan", "ours": True},
            "flood": list(flood), "vnodes": {"tb-1": dict(v), "tb-2": dict(v)}}


def _plan(events, obs=None, **params):
    d = f.validate(dict(PARAMS, events=events, **params))
    return f.diff(d, obs or _obs())


def test_down_then_up_in_one_batch_changes_each_event_but_nothing_net():
    p = _plan([{"action": "down", "target": "tb-1"}, {"action": "up", "target": "tb-1"}])
    assert [e["changed"] for e in p["events"]] == [True, True]
    assert p["events"][0]["after"]["up"] is False and p["events"][1]["after"]["up"] is True
    assert p["actions"] == [] and not p["errors"]


def test_idempotent_event_is_unchanged():
    p = _plan([{"action": "down", "target": "tb-1"}], _obs(up=False))
    assert p["events"][0]["changed"] is False and p["actions"] == []


def test_cut_and_degrade_actions():
    p = _plan([{"action": "cut", "target": "tb-2"},
               {"action": "degrade", "target": "tb-1", "rate": "1mbit"}])
    assert ("link", "tb-2", "attached", False) in p["actions"]
    assert ("shape", "tb-1", {"rate": 10 ** 6, "delay": None, "loss": None}) in p["actions"]
    assert p["diff"]["after"]["vnode:tb-2"]["attached"] is False


def test_same_degrade_again_is_unchanged_and_undegrade_removes():
    shaped = {"rate": 10 ** 6, "delay": None, "loss": None}
    assert _plan([{"action": "degrade", "target": "tb-1", "rate": "1000kbit"}], _obs(shaping=shaped))["actions"] == []
    p = _plan([{"action": "undegrade", "target": "tb-1"}], _obs(shaping=shaped))
    assert p["actions"] == [("shape", "tb-1", None)]


def test_events_of_other_pnodes_are_ignored():
    p = _plan([{"action": "down", "target": "tb-9"}, {"action": "off", "target": "elsewhere"}])
    assert p["events"] == [] and p["actions"] == []


def test_pnode_off_self_and_remote():
    me = _plan([{"action": "off", "target": "p1"}])
    assert me["actions"] == [("vxlan_up", False)] and me["events"][0]["scope"] == "self"
    other = _plan([{"action": "off", "target": "p3"}, {"action": "on", "target": "p2"}])
    assert other["actions"] == [("fdb", "10.250.0.3", False)]
    assert [e["changed"] for e in other["events"]] == [True, False]
    back = _plan([{"action": "on", "target": "p3"}], _obs(flood=("10.250.0.2",)))
    assert back["actions"] == [("fdb", "10.250.0.3", True)]


def test_multicast_remote_pnode_off_changes_nothing_here():
    p = _plan([{"action": "off", "target": "p3"}], vxlan_mode="multicast")
    assert p["actions"] == [] and p["events"] == []


@pytest.mark.parametrize("events, obs_change, message", [
    ([{"action": "freeze", "target": "tb-1"}], {}, "freezing needs LXC"),
    ([{"action": "down", "target": "tb-1"}], {"exists": False}, "has no host interface"),
    ([{"action": "down", "target": "tb-1"}], {"ours": False}, "not owned by platform tb"),
    ([{"action": "degrade", "target": "tb-1", "rate": "1mbit"}], {"foreign_qdisc": ["tbf 7a1:"]},
     "refusing to replace it"),
])
def test_plan_refusals(events, obs_change, message):
    obs = _obs()
    obs["vnodes"]["tb-1"].update(obs_change)
    p = _plan(events, obs)
    assert p["errors"] and message in p["errors"][0] and p["actions"] == []


def test_validate_refuses_bad_module_parameters():
    with pytest.raises(f.FaultError, match="id=0 is used twice"):
        f.validate(dict(PARAMS, events=[{"action": "down", "target": "tb-1", "id": 0},
                                        {"action": "up", "target": "tb-1", "id": 0}]))
    with pytest.raises(ValueError, match="vteps"):
        f.validate(dict(PARAMS, vteps={"p1": "10.0.0.1;x"}, events=[]))
    with pytest.raises(f.FaultError, match="pnode='p9'"):
        f.validate(dict(PARAMS, pnode="p9", events=[]))


# --------------------------------------------------------------------------------------------
# LXC vnodes: the lifecycle goes through _vnode_state, the rest through the veth


def _lxc_obs(states):
    obs = _obs()
    for name, state in states.items():
        o = obs["vnodes"][name]
        o.update(container=True, lxc=state)
        if state == "STOPPED":
            o.update(exists=False, up=None, attached=None, shaping=None, peer_shaping=None, netns=False)
    return obs


def _lxc_plan(events, states):
    return _plan(events, _lxc_obs(states), vnode_kind="lxc", state_dir="/var/lib/vxlab/tb/p1")


def test_lxc_down_up_freeze_unfreeze_actions():
    p = _lxc_plan([{"action": "down", "target": "tb-1"}, {"action": "freeze", "target": "tb-2"}],
                  {"tb-1": "RUNNING", "tb-2": "RUNNING"})
    assert p["actions"] == [("lxc", "tb-1", "stopped"), ("lxc", "tb-2", "frozen")] and not p["errors"]
    assert p["events"][0]["after"]["lxc"] == "STOPPED" and p["events"][1]["after"]["lxc"] == "FROZEN"
    p = _lxc_plan([{"action": "up", "target": "tb-1"}, {"action": "unfreeze", "target": "tb-2"}],
                  {"tb-1": "STOPPED", "tb-2": "FROZEN"})
    assert p["actions"] == [("lxc", "tb-1", "started"), ("lxc", "tb-2", "started")]
    assert p["events"][0]["after"] == {"lxc": "RUNNING", "up": True, "attached": True, "shaping": None}


def test_lxc_same_state_again_is_unchanged():
    p = _lxc_plan([{"action": "down", "target": "tb-1"}, {"action": "unfreeze", "target": "tb-2"}],
                  {"tb-1": "STOPPED", "tb-2": "RUNNING"})
    assert [e["changed"] for e in p["events"]] == [False, False] and p["actions"] == []


def test_lxc_start_then_cut_in_one_batch_acts_on_the_new_veth():
    p = _lxc_plan([{"action": "up", "target": "tb-1"}, {"action": "cut", "target": "tb-1"}],
                  {"tb-1": "STOPPED", "tb-2": "RUNNING"})
    assert p["actions"] == [("lxc", "tb-1", "started"), ("link", "tb-1", "attached", False)]
    assert not p["errors"]


def test_lxc_stopped_then_started_in_one_batch_is_net_nothing_but_heals_the_link():
    # down + up = a fresh veth: a cut link comes back, as after a real restart
    obs = _lxc_obs({"tb-1": "RUNNING"})
    obs["vnodes"]["tb-1"]["attached"] = False
    p = _plan([{"action": "down", "target": "tb-1"}, {"action": "up", "target": "tb-1"}], obs,
              vnode_kind="lxc", state_dir="/s")
    assert p["actions"] == [("link", "tb-1", "attached", True)]


@pytest.mark.parametrize("events, states, message", [
    ([{"action": "freeze", "target": "tb-1"}], {"tb-1": "STOPPED"}, "only a running vnode can be frozen"),
    ([{"action": "unfreeze", "target": "tb-1"}], {"tb-1": "STOPPED"}, "only a frozen vnode can be unfrozen"),
    ([{"action": "cut", "target": "tb-1"}], {"tb-1": "STOPPED"}, "is stopped (vnode_up first)"),
    ([{"action": "down", "target": "tb-1"}, {"action": "degrade", "target": "tb-1", "rate": "1mbit"}],
     {"tb-1": "RUNNING"}, "is stopped"),
])
def test_lxc_refusals(events, states, message):
    p = _lxc_plan(events, states)
    assert len(p["errors"]) == 1 and message in p["errors"][0]  # the module fails: nothing applied


def test_lxc_vnode_without_container_is_refused():
    obs = _obs()
    obs["vnodes"]["tb-1"].update(container=False, lxc=None)
    p = _plan([{"action": "down", "target": "tb-1"}], obs, vnode_kind="lxc", state_dir="/s")
    assert "no container in /s/lxc" in p["errors"][0]


def test_lxc_lifecycle_needs_the_state_dir():
    with pytest.raises(f.FaultError, match="state_dir: needed for vnode_down"):
        f.validate(dict(PARAMS, vnode_kind="lxc", events=[{"action": "down", "target": "tb-1"}]))
    with pytest.raises(f.FaultError, match="state_dir='rel'"):
        f.validate(dict(PARAMS, state_dir="rel", events=[]))


def test_seeded_lxc_churn_replays_identically_as_data():
    """Same seed, same events (freeze and vnode_down of LXC vnodes among them); replayed on the
    same observed state they give the same per-event effects, and every failure is repaired."""
    from vxlab import fault as cli_fault

    runs = []
    for dummy in range(2):
        events = cli_fault.churn(["tb-1", "tb-2"], seed=11, rate=1.5, duration=20, mttr=2,
                                 kinds=("vnode_down", "freeze"))
        batch = [dict((k, v) for k, v in e.items() if k != "at") for e in events]
        p = _lxc_plan(batch, {"tb-1": "RUNNING", "tb-2": "RUNNING"})
        assert not p["errors"] and p["actions"] == []  # all repaired by the end
        runs.append(([(e["at"], e["action"], e["target"]) for e in events],
                     [(e["action"], e["target"], e["before"], e["after"], e["changed"]) for e in p["events"]]))
    assert runs[0] == runs[1]
    actions = set(a for a, dummy in set((e[1], e[2]) for e in runs[0][0]))
    assert actions == {"vnode_down", "vnode_up", "freeze", "unfreeze"}
    assert all(e[4] for e in runs[0][1])  # every failure and repair changed something
