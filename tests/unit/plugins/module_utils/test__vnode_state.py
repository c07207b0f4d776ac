"""vnode_state as data: state transitions and the plan of a set of LXC vnodes."""
import pytest
from ansible_collections.vxlab.emulation.plugins.module_utils import _vnode_state as vs


@pytest.mark.parametrize("current,wanted,actions", [
    ("RUNNING", "started", []), ("STOPPED", "started", ["start"]), ("FROZEN", "started", ["unfreeze"]),
    ("RUNNING", "stopped", ["stop"]), ("FROZEN", "stopped", ["unfreeze", "stop"]), ("STOPPED", "stopped", []),
    ("RUNNING", "frozen", ["freeze"]), ("FROZEN", "frozen", []), ("FROZEN", "unfrozen", ["unfreeze"]),
    ("RUNNING", "unfrozen", []),
])
def test_transitions(current, wanted, actions):
    assert vs.transitions(current, wanted) == actions


def test_state_plan_as_data():
    d = vs.validate({"platform": "demo", "state_dir": "/s", "state": "frozen",
                     "vnodes": ["demo-1", {"name": "demo-2"}, "demo-3", "demo-9"]})
    containers = {"demo-1": "", "demo-2": "", "demo-3": ""}
    st = {"demo-1": {"state": "RUNNING"}, "demo-2": {"state": "FROZEN"}, "demo-3": {"state": "STOPPED"}}
    p = vs.diff(d, containers, st)
    assert p["actions"]["freeze"] == ["demo-1"]
    assert [e.split(":")[0] for e in p["errors"]] == ["vnode demo-3 is STOPPED", "vnode demo-9"]
    assert p["tracker"].differences() == [("vnode:demo-1", "RUNNING", "FROZEN")]
    assert vs.veth_of("a = b\nlxc.net.0.veth.pair = demo-7\n") == "demo-7"
