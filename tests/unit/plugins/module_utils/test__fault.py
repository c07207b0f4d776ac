# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fault module's pure parts as data: parameters, events, the replay plan, tc argv."""

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


@pytest.mark.parametrize("value", ["soon", "10 minutes", "-5ms", "61s", None, False])
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


def test_tc_argv_tbf_netem_and_removal():
    argv = f.tc_qdisc_argv("tb-1", {"rate": 10 ** 6, "delay": None, "loss": None})
    assert argv[:8] == ["tc", "qdisc", "replace", "dev", "tb-1", "root", "handle", "fa17:"]
    assert argv[8:11] == ["tbf", "rate", "1000000bit"]
    argv = f.tc_qdisc_argv("eth0", {"rate": None, "delay": 20000, "loss": 1.0}, netns="tb-1")
    assert argv[:3] == ["tc", "-n", "tb-1"] and "netem" in argv and argv[-4:] == ["delay", "20000us", "loss", "1%"]
    assert f.tc_qdisc_argv("tb-1", None)[1:3] == ["qdisc", "del"]


def test_decode_qdisc():
    assert f.decode_qdisc({"kind": "tbf", "handle": "fa17:", "root": True, "options": {"rate": 125000}}) \
        == {"rate": 1000000, "delay": None, "loss": None}
    assert f.decode_qdisc({"kind": "noqueue", "handle": "0:", "root": True}) is None
    assert f.foreign_qdisc({"kind": "tbf", "handle": "7a1:", "root": True}) == "tbf 7a1:"
    assert f.foreign_qdisc({"kind": "noqueue", "handle": "0:", "root": True}) is None


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
    return f.plan(d, obs or _obs())


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
