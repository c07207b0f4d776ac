"""vxlan: validation, underlay checks and the pure plan (FDB set, re-creation), no root."""
import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _vxlan as v


def want(**kw):
    params = {"name": "demo-vx", "platform": "demo", "state": "present", "vni": 42, "port": 4789,
              "underlay_interface": "ib0", "local": "10.251.0.1", "mode": "unicast",
              "group": None, "remote_vteps": ["10.251.0.3", "10.251.0.2"], "mtu": 1450,
              "learning": False, "proxy": False, "master": "demo-br"}
    params.update(kw)
    return v.validate(params)


def vx_link(**kw):
    lk = {"index": 9, "ifname": "demo-vx", "kind": "vxlan", "alias": "vxlab:demo", "mtu": 1450,
          "up": True, "master": 4, "vni": 42, "port": 4789, "local": "10.251.0.1", "group": None,
          "dev": 2, "learning": False, "proxy": False}
    lk.update(kw)
    return lk


def seen(link=None, fdb=("10.251.0.2", "10.251.0.3"), under_mtu=1500, addrs=("10.251.0.1",),
         master_name="demo-br"):
    return {
        "link": link,
        "link_master_name": master_name if link else None,
        "underlay": {"index": 2, "kind": "veth", "mtu": under_mtu},
        "underlay_addresses": list(addrs),
        "master": {"index": 4, "kind": "bridge"},
        "fdb": [{"mac": "00:00:00:00:00:00", "dst": d, "state": 128, "flags": 2} for d in fdb]
        + [{"mac": "02:aa:00:00:00:01", "dst": None, "state": 128, "flags": 4}],
    }


def test_validate_sorts_vteps_and_checks_modes():
    d, warnings = want()
    assert d["remote_vteps"] == ["10.251.0.2", "10.251.0.3"] and warnings == []
    d, warnings = want(mode="multicast", group="239.1.1.1")
    assert d["group"] == "239.1.1.1" and d["remote_vteps"] == [] and "ignored" in warnings[0]


@pytest.mark.parametrize("kw,message", [
    ({"vni": 0}, "vni=0"),
    ({"vni": 16777216}, "vni=16777216"),
    ({"port": 0}, "port=0"),
    ({"local": None}, "local: the VTEP address is required in unicast mode"),
    ({"local": "10.251.0.300"}, "local="),
    ({"remote_vteps": ["10.251.0.2", "10.251.0.2"]}, "listed twice"),
    ({"remote_vteps": ["10.251.0.1"]}, "is the local VTEP"),
    ({"mode": "multicast", "group": None}, "group: a multicast group is required"),
    ({"mode": "multicast", "group": "10.1.1.1"}, "not an IPv4 multicast address"),
    ({"group": "239.1.1.1"}, "only meaningful in multicast mode"),
    ({"underlay_interface": "x" * 16}, "underlay_interface="),
])
def test_validate_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        want(**kw)


def test_underlay_checks_name_interface_and_value():
    d, dummy = want()
    assert v.check_underlay(d, seen()) is None
    assert v.check_underlay(d, dict(seen(), underlay=None)) == "underlay_interface ib0 does not exist"
    assert v.check_underlay(d, seen(addrs=())) == "underlay_interface ib0 has no IPv4 address"
    assert "local=10.251.0.1 is not an address of underlay_interface ib0 (it has 10.251.0.7)" == \
        v.check_underlay(d, seen(addrs=("10.251.0.7",)))
    msg = v.check_underlay(d, seen(under_mtu=1499))
    assert msg.startswith("underlay_interface ib0 has MTU 1499, less than mtu 1450 + 50")


def test_create_when_missing():
    d, dummy = want()
    t, actions, err, dummy = v.diff(d, seen(link=None, fdb=()))
    assert err is None and t.changed
    assert actions == [("create", None), ("master", "demo-br"), ("up", None),
                       ("fdb_add", "10.251.0.2"), ("fdb_add", "10.251.0.3")]


def test_in_sync_is_unchanged():
    d, dummy = want()
    t, actions, err, dummy = v.diff(d, seen(link=vx_link()))
    assert (t.changed, actions, err) == (False, [], None)


def test_vtep_set_changes_touch_only_their_entries():
    d, dummy = want(remote_vteps=["10.251.0.2", "10.251.0.4"])
    t, actions, dummy, dummy = v.diff(d, seen(link=vx_link()))
    assert actions == [("fdb_del", "10.251.0.3"), ("fdb_add", "10.251.0.4")]
    assert t.diff() == {"before": {"remote_vteps": ["10.251.0.2", "10.251.0.3"]},
                        "after": {"remote_vteps": ["10.251.0.2", "10.251.0.4"]}}


def test_in_place_changes():
    d, dummy = want()
    t, actions, dummy, dummy = v.diff(d, seen(link=vx_link(learning=True, mtu=1400, up=False),
                                      master_name=None))
    assert actions == [("learning", False), ("mtu", 1450), ("master", "demo-br"), ("up", None)]


@pytest.mark.parametrize("field,value", [("vni", 43), ("port", 8472), ("local", "10.251.0.9"),
                                         ("dev", 5), ("proxy", True)])
def test_immutable_attribute_means_recreate(field, value):
    d, dummy = want()
    t, actions, dummy, dummy = v.diff(d, seen(link=vx_link(**{field: value})))
    assert actions[:2] == [("delete", 9), ("create", None)]
    assert ("fdb_add", "10.251.0.2") in actions and ("master", "demo-br") in actions
    assert t.diff()["after"]["recreate"] == "%s changed" % field


def test_multicast_keeps_the_group_entry_and_drops_unicast_ones():
    d, dummy = want(mode="multicast", group="239.1.1.1", local=None, remote_vteps=[])
    obs = seen(link=vx_link(local=None, group="239.1.1.1"), fdb=("239.1.1.1", "10.251.0.2"))
    t, actions, dummy, dummy = v.diff(d, obs)
    assert actions == [("fdb_del", "10.251.0.2")]


def test_foreign_or_missing_master_refused_before_any_change():
    d, dummy = want()
    dummy, actions, err, dummy = v.diff(d, seen(link=vx_link(alias="someone")))
    assert "not a VXLAN interface owned by platform demo" in err and actions == []
    obs = dict(seen(link=None), master=None)
    dummy, actions, err, dummy = v.diff(d, obs)
    assert err == "master bridge demo-br does not exist" and actions == []
    # in check mode the bridge task before may not have run: a warning only
    dummy, actions, err, warnings = v.diff(d, obs, check_mode=True)
    assert err is None and "does not exist (yet)" in warnings[0]


def test_absent():
    d, dummy = want(state="absent")
    t, actions, dummy, dummy = v.diff(d, seen(link=vx_link()))
    assert actions == [("delete", 9)] and t.changed
    t, actions, dummy, dummy = v.diff(d, seen(link=None))
    assert actions == [] and not t.changed
