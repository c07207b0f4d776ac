"""vxlab.fault without a platform: trace files (YAML, CSV), their validation, churn determinism,
target resolution against a plan, and the schedule with a fake clock (nothing is applied)."""

import pytest

from vxlab import fault
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import plan_from_hostvars


def _plan():
    hv = {"p1": {"ansible_host": "10.250.0.1", "vxlab_platform": "tb", "vxlab_vnodes_per_pnode": 3, "vxlab_vnode_kind": "netns"},
          "p2": {"ansible_host": "10.250.0.2", "vxlab_platform": "tb", "vxlab_vnodes_per_pnode": 3, "vxlab_vnode_kind": "netns"}}
    return plan_from_hostvars(["p1", "p2"], lambda n: hv[n])


YAML_TRACE = """
# a dated trace
- {at: 5, target: tb-2, action: up}
- {at: 0, target: tb-2, action: down}
- {at: 500ms, target: tb-4, action: degrade, rate: 1mbit}
- {at: 0, target: p2, action: pnode_off}
"""
CSV_TRACE = """at,target,action,rate
0,tb-2,down,
0,p2,pnode_off,
0.5,tb-4,degrade,1mbit
5,tb-2,up,
"""


def test_yaml_and_csv_give_the_same_sorted_events():
    y = fault.parse_trace_text(YAML_TRACE, "t.yml")
    c = fault.parse_trace_text(CSV_TRACE, "t.csv")
    assert y == c
    assert [(e["at"], e["action"], e["target"]) for e in y] == [
        (0.0, "vnode_down", "tb-2"), (0.0, "pnode_off", "p2"), (0.5, "degrade", "tb-4"),
        (5.0, "vnode_up", "tb-2")]
    assert y[2]["rate"] == 10 ** 6


def test_events_mapping_form_and_file(tmp_path):
    path = tmp_path / "trace.yaml"
    path.write_text("events:\n  - {at: 1m, target: tb-1, action: cut}\n")
    assert fault.parse_trace(str(path)) == [{"at": 60.0, "action": "link_cut", "target": "tb-1"}]
    csv_path = tmp_path / "trace.csv"
    csv_path.write_text(CSV_TRACE)
    assert len(fault.parse_trace(str(csv_path))) == 4


@pytest.mark.parametrize("text, message", [
    ("- {at: -1, target: tb-1, action: down}", "at=-1"),
    ("- {at: soon, target: tb-1, action: down}", "at='soon'"),
    ("- {target: tb-1, action: down}", "at (the time offset) is missing"),
    ("- {at: 0, target: tb-1, action: explode}", "unknown action"),
    ("- {at: 0, target: tb-1, action: down, when: 3}", "unknown key 'when'"),
    ("- {at: 0, target: tb-1, acton: down}", "did you mean action"),
    ("- {at: 0, target: 'tb-1; rm -rf /', action: down}", "target="),
    ("- {at: 0, target: tb-1, action: degrade, rate: fast}", "rate='fast'"),
    ("- {at: 0, target: tb-1, action: degrade, delay: 10 parsecs}", "delay="),
    ("- {at: 0, target: tb-1, action: degrade, loss: 120%}", "loss="),
    ("{at: 0, target: tb-1}", "must be a list of events"),
    ("- [0, tb-1, down]", "must be a mapping"),
    ("- {at: 0, target: tb-1, action: down\n", "not valid YAML"),
    ("at,target,action\n0,tb-1,down,extra\n", "line 2: 4 fields"),
    ("at,tagret,action\n0,tb-1,down\n", "did you mean target"),
])
def test_bad_traces_name_the_line_and_value(text, message):
    with pytest.raises(fault.FaultError) as exc:
        fault.parse_trace_text(text, "bad")
    assert message in str(exc.value)
    assert str(exc.value).startswith("bad")


def test_churn_same_seed_same_events_other_seed_other_events():
    vnodes = ["tb-%d" % i for i in range(1, 21)]
    a = fault.churn(vnodes, seed=7, rate=2.0, duration=30, mttr=3)
    b = fault.churn(list(reversed(vnodes)), seed=7, rate=2.0, duration=30, mttr=3)
    c = fault.churn(vnodes, seed=8, rate=2.0, duration=30, mttr=3)
    assert a == b and a != c
    assert len(a) > 20
    # every failure is repaired, by the end at the latest, and a target is never failed twice
    down = {}
    for e in a:
        assert 0 <= e["at"] <= 30
        if e["action"] == "vnode_down":
            assert e["target"] not in down
            down[e["target"]] = e["at"]
        else:
            assert e["action"] == "vnode_up" and down.pop(e["target"]) <= e["at"]
    assert not down


def test_churn_kinds_and_refusals():
    ev = fault.churn(["tb-1", "tb-2"], seed=1, rate=1, duration=20, kinds=["cut", "pnode_off", "degrade"],
                     pnodes=["p1", "p2"], degrade={"rate": "1mbit"})
    kinds = {e["action"] for e in ev}
    assert kinds <= {"link_cut", "link_restore", "pnode_off", "pnode_on", "degrade", "undegrade"}
    assert all(e["rate"] == 10 ** 6 for e in ev if e["action"] == "degrade")
    with pytest.raises(fault.FaultError, match="seed="):
        fault.churn(["tb-1"], seed="x", rate=1, duration=1)
    with pytest.raises(fault.FaultError, match="rate=0"):
        fault.churn(["tb-1"], seed=1, rate=0, duration=1)
    with pytest.raises(fault.FaultError, match="not a failure"):
        fault.churn(["tb-1"], seed=1, rate=1, duration=1, kinds=["vnode_up"])
    with pytest.raises(fault.FaultError, match="degrade needs"):
        fault.churn(["tb-1"], seed=1, rate=1, duration=1, kinds=["degrade"])


def test_resolve_against_the_plan():
    plan = _plan()
    events = fault.parse_trace_text(YAML_TRACE)
    where = fault.resolve(plan, events)
    assert [where[i] for i in range(len(events))] == ["p1", "p2", "p2", "p1"]
    with pytest.raises(fault.FaultError, match="did you mean tb-"):
        fault.resolve(plan, [{"action": "vnode_down", "target": "tb-"}])
    with pytest.raises(fault.FaultError, match="it is a pnode"):
        fault.resolve(plan, [{"action": "vnode_down", "target": "p1"}])
    with pytest.raises(fault.FaultError, match="not a pnode of platform tb; did you mean p1"):
        fault.resolve(plan, [{"action": "pnode_off", "target": "p11"}])
    with pytest.raises(fault.FaultError, match="freeze/unfreeze need LXC"):
        fault.resolve(plan, [{"action": "freeze", "target": "tb-1"}])


def test_offsets():
    assert [fault.parse_offset(v) for v in (0, 1.5, "500ms", "2s", "3m", "1h")] == [0, 1.5, 0.5, 2, 180, 3600]
    for bad in (-1, "x", None, True, float("inf"), "1d"):
        with pytest.raises(fault.FaultError):
            fault.parse_offset(bad)


def test_schedule_batches_with_a_fake_clock(monkeypatch, tmp_path):
    """Events are applied at their time; those due while a batch runs join the next batch."""
    plan = _plan()
    monkeypatch.setattr(fault._inventory, "load", lambda inv, extra=None: type(
        "L", (), {"plan": plan, "state_dir": str(tmp_path)})())
    now = [0.0]
    batches = []

    def apply_batch(inventory, events, extra_vars=None, progress=None):
        batches.append([(e["at"], e["target"]) for e in events])
        now[0] += 2.0  # one application round takes 2 s
        return None, [{"pnode": e["pnode"], "changed": True, "ok": True, "error": None, "remote": []}
                      for e in events]

    monkeypatch.setattr(fault, "apply_batch", apply_batch)
    events = [{"at": t, "action": "vnode_down", "target": "tb-%d" % i}
              for i, t in enumerate((0, 0, 1, 1.5, 10), 1)]

    def sleep(s):
        now[0] += s

    log = tmp_path / "log.jsonl"
    result = fault.run("inv", events, log_path=str(log), sleep=sleep, clock=lambda: now[0])
    assert batches == [[(0, "tb-1"), (0, "tb-2")], [(1, "tb-3"), (1.5, "tb-4")], [(10, "tb-5")]]
    assert result["ok"] and result["batches"] == 3
    lines = log.read_text().splitlines()
    assert len(lines) == 5
    assert [fault.event_key(e) for e in result["events"]][0] == (0, "vnode_down", "tb-1", "p1", True, True)
    assert result["events"][-1]["t"] == 12.0 and result["events"][-1]["at"] == 10
