"""route: validation and the pure plan, no root."""
import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils import _route as r


def want(**kw):
    params = {"dest": "10.144.0.0/16", "gateway": "10.251.0.1", "platform": "demo",
              "state": "present"}
    params.update(kw)
    return r.validate(params)


def route(gateway, proto=nl.RTPROT_VXLAB):
    return {"dest": "10.144.0.0/16", "gateway": gateway, "oif": 3, "proto": proto, "priority": 0,
            "type": 1}


def test_validate():
    assert want()["gateway"] == "10.251.0.1"
    assert want(state="absent", gateway=None)["gateway"] is None
    with pytest.raises(ValueError, match="host bits"):
        want(dest="10.144.0.1/16")
    with pytest.raises(ValueError, match="gateway: required"):
        want(gateway=None)
    with pytest.raises(ValueError, match="gateway="):
        want(gateway="10.251.0")


def test_plan_add_keep_replace_remove():
    t, actions, err = r.diff(want(), {"routes": []})
    assert actions == [("replace", "10.251.0.1")] and t.changed and err is None
    t, actions, err = r.diff(want(), {"routes": [route("10.251.0.1")]})
    assert actions == [] and not t.changed
    t, actions, err = r.diff(want(), {"routes": [route("10.251.0.9")]})
    assert actions == [("replace", "10.251.0.1")]
    assert t.diff() == {"before": {"route 10.144.0.0/16": "10.251.0.9"}, "after": {"route 10.144.0.0/16": "10.251.0.1"}}
    t, actions, err = r.diff(want(state="absent", gateway=None), {"routes": [route("10.251.0.9")]})
    assert actions == [("delete", "10.251.0.9")] and t.changed


def test_foreign_route_is_refused_and_never_removed():
    foreign = {"routes": [route("10.251.0.9", proto=4)]}
    t, actions, err = r.diff(want(), foreign)
    assert "not installed by vxlab" in err and actions == []
    t, actions, err = r.diff(want(state="absent", gateway=None), foreign)
    assert actions == [] and not t.changed
