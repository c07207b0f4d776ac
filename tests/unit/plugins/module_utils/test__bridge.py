"""bridge: validation and the pure plan (desired vs observed -> diff + actions), no root."""
import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _bridge as b


def want(**kw):
    params = {"name": "demo-br", "platform": "demo", "state": "present", "mtu": None,
              "ageing_time": 3600, "forward_delay": 0, "addresses": [], "forwarding": False, "mac": None}
    params.update(kw)
    return b.validate(params)


def link(**kw):
    lk = {"index": 4, "ifname": "demo-br", "kind": "bridge", "alias": "vxlab:demo", "mtu": 1450,
          "up": True, "master": None, "ageing_time": 3600, "forward_delay": 0, "stp": False}
    lk.update(kw)
    return lk


def seen(lk=None, addresses=(), ip_forward="0", record=None):
    return {"link": lk, "addresses": list(addresses), "ip_forward": ip_forward, "record": record}


def test_validate_normalises_and_orders_addresses():
    d = want(addresses=["10.144.0.9/16", "10.2.0.1/24"])
    assert d["addresses"] == ["10.2.0.1/24", "10.144.0.9/16"]


@pytest.mark.parametrize("kw,message", [
    ({"name": "x" * 16}, "name="),
    ({"platform": "De mo"}, "platform="),
    ({"mtu": 20}, "mtu=20"),
    ({"forward_delay": 31}, "forward_delay=31"),
    ({"addresses": ["10.0.0.1/24", "10.0.0.1/24"]}, "listed twice"),
    ({"addresses": ["10.0.0.1"]}, "addresses='10.0.0.1'"),
])
def test_validate_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        want(**kw)


def test_create_when_missing():
    t, actions, err = b.diff(want(mtu=1450, addresses=["10.144.0.1/16"], forwarding=True), seen())
    assert err is None and t.changed
    assert [a[0] for a in actions] == ["create", "addr_add", "up", "forwarding_on"]
    assert actions[0][1] == {"mtu": 1450, "ageing_time": 3600, "forward_delay": 0, "mac": None}
    assert t.diff() == {"before": {"present": False, "addresses": [], "ip_forward": "0"},
                        "after": {"present": True, "addresses": ["10.144.0.1/16"], "ip_forward": "1"}}


def test_in_sync_is_unchanged():
    t, actions, err = b.diff(want(mtu=1450, addresses=["10.144.0.1/16"], forwarding=True),
                             seen(link(), ["10.144.0.1/16"], "1", {"previous": "0"}))
    assert (t.changed, actions, err) == (False, [], None)


def test_drift_is_repaired_property_by_property():
    obs = seen(link(mtu=1500, up=False, ageing_time=300, stp=True), ["10.9.0.1/24"])
    t, actions, err = b.diff(want(mtu=1450, addresses=["10.144.0.1/16"]), obs)
    assert actions == [("mtu", 1450), ("bridge", {"ageing_time": 3600, "stp": False}),
                       ("addr_del", "10.9.0.1/24"), ("addr_add", "10.144.0.1/16"), ("up", None)]
    assert t.diff()["before"] == {"mtu": 1500, "ageing_time": 300, "stp": True,
                                  "addresses": ["10.9.0.1/24"], "up": False}


def test_mtu_not_managed_when_omitted():
    t, actions, dummy = b.diff(want(), seen(link(mtu=9000)))
    assert not t.changed and actions == []


def test_foreign_interface_is_refused_or_left_alone():
    foreign = seen(link(alias=None))
    t, actions, err = b.diff(want(), foreign)
    assert "not a bridge owned by platform demo" in err and actions == []
    t, actions, err = b.diff(want(state="absent"), foreign)
    assert err is None and actions == [] and not t.changed
    t, actions, err = b.diff(want(), seen(link(kind="veth")))
    assert "kind veth" in err


def test_forwarding_put_back_only_when_we_changed_it():
    # we turned it on earlier: not wanted any more -> previous value back
    obs = seen(link(), ip_forward="1", record={"previous": "0"})
    t, actions, dummy = b.diff(want(forwarding=False), obs)
    assert actions == [("forwarding_restore", "0")] and t.changed
    # someone else turned it on: left alone
    t, actions, dummy = b.diff(want(forwarding=False), seen(link(), ip_forward="1"))
    assert actions == [] and not t.changed


def test_absent_deletes_ours_and_restores_forwarding():
    obs = seen(link(), ip_forward="1", record={"previous": "0"})
    t, actions, dummy = b.diff(want(state="absent"), obs)
    assert actions == [("delete", 4), ("forwarding_restore", "0")]
    assert t.diff() == {"before": {"present": True, "ip_forward": "1"},
                        "after": {"present": False, "ip_forward": "0"}}
    t, actions, dummy = b.diff(want(state="absent"), seen())
    assert actions == [] and not t.changed


def test_a_given_mac_is_set_at_creation_and_repaired():
    d = want(mac="02:AA:0a:90:00:01")
    assert d["mac"] == "02:aa:0a:90:00:01"
    t, actions, err = b.diff(d, seen())
    assert err is None and actions[0] == ("create", {"mtu": None, "ageing_time": 3600, "forward_delay": 0,
                                                     "mac": "02:aa:0a:90:00:01"})
    t, actions, err = b.diff(d, seen(link(mac="02:aa:0a:90:00:01")))
    assert actions == [] and not t.changed
    t, actions, err = b.diff(d, seen(link(mac="02:12:34:56:78:9a")))
    assert actions == [("mac", "02:aa:0a:90:00:01")] and t.changed
    # without one, whatever MAC the bridge has is kept
    t, actions, err = b.diff(want(), seen(link(mac="02:12:34:56:78:9a")))
    assert actions == []
    with pytest.raises(ValueError, match="mac='01:00:5e:00:00:01'"):
        want(mac="01:00:5e:00:00:01")
