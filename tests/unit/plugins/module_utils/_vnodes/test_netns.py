"""The netns kind of vnodes as data: the plan of each vnode (create, relink, repairs, refusals) and of the pnode."""
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import common
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import netns as m


def vn(i):
    return {"name": "demo-%d" % i, "address": "10.144.0.%d" % (i + 1),
            "mac": "02:d7:0a:90:00:%02x" % (i + 1), "host_if": "demo-%d" % i}


def want(vnodes=None, **kw):
    params = {"platform": "demo", "state": "present", "kind": "netns", "bridge": "demo-br",
              "vnodes": [vn(1), vn(2)] if vnodes is None else vnodes, "prefixlen": 16,
              "mtu": 1450, "gateway": "10.144.0.1", "ssh": False, "authorized_keys": "",
              "state_dir": "/var/lib/vxlab/demo/p1"}
    params.update(kw)
    return common.validate(params)


def healthy(v, **drift):
    """Observation of one healthy vnode; ``drift`` overrides host_*/eth0 fields."""
    host = {"index": 100, "kind": "veth", "mtu": 1450, "up": True, "master": "demo-br", "link": 2,
            "ours": True, "alias": "vxlab:demo"}
    eth0 = {"index": 2, "kind": "veth", "mtu": 1450, "up": True, "mac": v["mac"], "link": 100}
    inside = {"eth0": eth0, "lo_up": True, "addresses": ["%s/16" % v["address"]],
              "defaults": ["10.144.0.1"]}
    for k, val in drift.items():
        if k.startswith("host_"):
            host[k[5:]] = val
        elif k in eth0:
            eth0[k] = val
        else:
            inside[k] = val
    return {"ns": True, "recorded": True, "host": host, "inside": inside}


def observation(d, vnodes_obs, recorded=None, namespaces=None, orphans=(), orphan_ns=None):
    names = [v["name"] for v in d["vnodes"]]
    return {
        "bridge": {"index": 4, "kind": "bridge"},
        "namespaces": sorted(namespaces if namespaces is not None else names),
        "recorded": sorted(recorded if recorded is not None else names),
        "vnodes": vnodes_obs,
        "orphans": list(orphans),
        "orphan_ns": orphan_ns or {},
    }


def test_plan_vnode_create_and_healthy():
    d = want()
    v = d["vnodes"][0]
    assert m.plan_vnode(v, d, {"ns": False, "recorded": False, "host": None, "inside": None}) == \
        ("create", {}, None)
    assert m.plan_vnode(v, d, healthy(v)) == (None, {}, None)


def test_plan_vnode_repairs_each_drift():
    d = want()
    v = d["vnodes"][0]
    o = healthy(v, host_mtu=1500, host_master=None, host_up=False, mac="02:00:00:00:00:99",
                mtu=1500, up=False, lo_up=False, addresses=[], defaults=[])
    action, repairs, err = m.plan_vnode(v, d, o)
    assert action == "repair" and err is None
    assert repairs == {"host_mtu": (1500, 1450), "mtu": (1500, 1450), "master": (None, "demo-br"),
                       "host_up": (False, True), "mac": ("02:00:00:00:00:99", v["mac"]),
                       "addresses": ([], ["10.144.0.2/16"]), "up": (False, True),
                       "lo_up": (False, True), "default_route": ([], ["10.144.0.1"])}


def test_plan_vnode_no_gateway_means_no_default_route():
    d = want(gateway=None)
    v = d["vnodes"][0]
    dummy, repairs, dummy = m.plan_vnode(v, d, healthy(v))
    assert repairs == {"default_route": (["10.144.0.1"], [])}


def test_plan_vnode_broken_veth_is_relinked():
    d = want()
    v = d["vnodes"][0]
    assert m.plan_vnode(v, d, healthy(v, link=555))[0] == "relink"
    o = healthy(v)
    o["inside"]["eth0"] = None
    assert m.plan_vnode(v, d, o)[0] == "relink"
    o = healthy(v)
    o["host"] = None
    assert m.plan_vnode(v, d, o)[0] == "relink"


def test_plan_vnode_refuses_what_is_not_ours():
    d = want()
    v = d["vnodes"][0]
    o = healthy(v, host_ours=False, host_alias="someone")
    assert "interface demo-1 exists and is not owned by platform demo" in m.plan_vnode(v, d, o)[2]
    o = {"ns": True, "recorded": False, "host": None, "inside": None}
    assert "network namespace demo-1 exists but is not a vnode of platform demo" in \
        m.plan_vnode(v, d, o)[2]


def test_plan_in_sync_is_unchanged():
    d = want()
    p = m.diff(d, observation(d, dict((v["name"], healthy(v)) for v in d["vnodes"])))
    assert not p["tracker"].changed and p["errors"] == []
    assert (p["create"], p["relink"], p["repair"], p["remove"]) == ([], [], {}, [])


def test_plan_create_all():
    d = want()
    absent = {"ns": False, "recorded": False, "host": None, "inside": None}
    p = m.diff(d, observation(d, {"demo-1": absent, "demo-2": absent}, recorded=[], namespaces=[]))
    assert p["create"] == ["demo-1", "demo-2"] and p["tracker"].changed
    assert p["tracker"].diff() == {"before": {"vnodes": []}, "after": {"vnodes": ["demo-1", "demo-2"]}}


def test_plan_shrink_removes_only_dropped_vnodes_of_ours():
    d = want(vnodes=[vn(1)])
    obs = observation(d, {"demo-1": healthy(vn(1))}, recorded=["demo-1", "demo-2"],
                      namespaces=["demo-1", "demo-2", "someone-else"])
    p = m.diff(d, obs)
    assert p["remove"] == ["demo-2"] and p["create"] == [] and p["record_after"] == ["demo-1"]
    assert p["tracker"].diff() == {"before": {"vnodes": ["demo-1", "demo-2"]},
                                   "after": {"vnodes": ["demo-1"]}}


def test_plan_absent_removes_recorded_and_orphaned_ours():
    d = want(state="absent")
    obs = observation(d, {}, recorded=["demo-1"], namespaces=["demo-1", "demo-7", "other"],
                      orphans=[{"host_if": "demo-1", "index": 10, "netnsid": 1, "netns": "demo-1"},
                               {"host_if": "demo-7", "index": 11, "netnsid": 2, "netns": "demo-7"},
                               {"host_if": "demo-9", "index": 12, "netnsid": None}],
                      orphan_ns={"demo-1": "demo-1", "demo-7": "demo-7"})
    p = m.diff(d, obs)
    assert p["remove"] == ["demo-1", "demo-7"]
    assert p["remove_links"] == ["demo-1", "demo-7", "demo-9"]
    assert p["record_after"] == []
    assert p["tracker"].diff() == {"before": {"vnodes": ["demo-1", "demo-7"],
                                              "stray_links": ["demo-9"]},
                                   "after": {"vnodes": [], "stray_links": []}}


def test_plan_missing_bridge_fails_except_in_check_mode():
    d = want()
    absent = {"ns": False, "recorded": False, "host": None, "inside": None}
    obs = observation(d, {"demo-1": absent, "demo-2": absent}, recorded=[], namespaces=[])
    obs["bridge"] = None
    assert m.diff(d, obs)["errors"] == ["bridge demo-br does not exist"]
    p = m.diff(d, obs, check_mode=True)
    assert p["errors"] == [] and p["warnings"] == ["bridge demo-br does not exist (yet)"]


def test_plan_veths_off_a_deleted_bridge_are_reported_in_check_mode():
    """A bridge deleted by hand takes its ports off: check mode reports every veth to enslave
    (masters compare by name, so the bridge that does not exist yet is named)."""
    d = want()
    obs = observation(d, dict((v["name"], healthy(v, host_master=None)) for v in d["vnodes"]))
    obs["bridge"] = None
    p = m.diff(d, obs, check_mode=True)
    assert p["errors"] == [] and sorted(p["repair"]) == ["demo-1", "demo-2"]
    assert p["tracker"].diff()["after"]["vnode:demo-1"] == {"master": "demo-br"}


def test_plan_repairs_are_in_the_diff():
    d = want()
    obs = observation(d, {"demo-1": healthy(vn(1), mac="02:00:00:00:00:99"),
                          "demo-2": healthy(vn(2))})
    p = m.diff(d, obs)
    assert list(p["repair"]) == ["demo-1"]
    assert p["tracker"].diff() == {"before": {"vnode:demo-1": {"mac": "02:00:00:00:00:99"}},
                                   "after": {"vnode:demo-1": {"mac": vn(1)["mac"]}}}
