"""The LXC kind of vnodes as data: validation of limits, the plan of drifts, the host key (never shown)."""
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import common as vn
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import lxc as vl


V1 = {"cpu": 1, "cpuset": 1, "memory": 1}


def lxc_want(**kw):
    p = {"platform": "demo", "kind": "lxc", "bridge": "demo-br", "prefixlen": 16, "mtu": 1450,
         "gateway": "10.144.0.1", "state_dir": "/s", "authorized_keys": "ssh-ed25519 AAAA k",
         "image": "/img/rootfs", "cpu": 0.25,
         "vnodes": [{"name": "demo-1", "address": "10.144.0.2", "mac": "02:aa:0a:90:00:02", "host_if": "demo-1"},
                    {"name": "demo-2", "address": "10.144.0.3", "mac": "02:aa:0a:90:00:03", "host_if": "demo-2",
                     "cpu": 0.5, "memory": "64M"}]}
    p.update(kw)
    return vn.validate(p)


def healthy(d, want, v, **over):
    host = {"index": 10, "kind": "veth", "mtu": 1450, "up": True, "master": "demo-br", "link": 2, "ours": True,
            "alias": "vxlab:demo"}
    inside = {"eth0": {"index": 2, "kind": "veth", "mtu": 1450, "up": True, "mac": v["mac"], "link": 10},
              "lo_up": True, "addresses": ["%s/16" % v["address"]], "defaults": ["10.144.0.1"]}
    o = {"config": want[v["name"]]["config"], "state": "RUNNING", "pid": 100, "host": host,
         "attached": True, "inside": inside, "limits": dict(want[v["name"]]["files"])}
    o.update(over)
    return o


def test_lxc_validate_limits_per_vnode():
    d = lxc_want()
    assert [v["limits"] for v in d["vnodes"]] == [
        {"cpu": 0.25, "cpuset": None, "memory": None},
        {"cpu": 0.5, "cpuset": None, "memory": 64 << 20}]


def test_lxc_plan_nothing_to_do_then_drifts():
    d = lxc_want()
    want = vl.desired(d, V1)
    assert "lxc.cgroup.cpu.cfs_quota_us = 50000" in want["demo-2"]["config"]
    v1, v2 = d["vnodes"]
    obs = {"bridge": {"index": 3, "kind": "bridge"}, "keys": vl.normalise_keys(d["authorized_keys"]),
           "containers": ["demo-1", "demo-2", "demo-old"], "others": {"demo-old": {"state": "RUNNING"}},
           "vnodes": {"demo-1": healthy(d, want, v1), "demo-2": healthy(d, want, v2)}}
    p = vl.plan(d, obs, want)
    assert p["actions"] == {} and p["remove"] == ["demo-old"] and not p["errors"]
    obs["containers"].remove("demo-old")
    assert not vl.plan(d, obs, want)["tracker"].changed
    # drifts: one stopped, one with its port down and a live quota changed by hand
    obs["vnodes"]["demo-1"] = healthy(d, want, v1, state="STOPPED", pid=None, attached=False)
    lim = dict(want["demo-2"]["files"])
    lim[("cpu", "cpu.cfs_quota_us")] = "-1"
    o2 = healthy(d, want, v2, limits=lim)
    o2["host"]["up"] = False
    obs["vnodes"]["demo-2"] = o2
    p = vl.plan(d, obs, want)
    assert p["actions"] == {"demo-1": ["start"], "demo-2": ["repair", "limits"]}
    assert p["repairs"]["demo-2"] == {"host_up": (False, True)}
    # a changed address rewrites the configuration and restarts
    obs["vnodes"]["demo-1"] = healthy(d, want, v1)
    d2 = lxc_want(gateway="10.144.0.254")
    p = vl.plan(d2, obs, vl.desired(d2, V1))
    assert p["actions"]["demo-1"] == ["reconfigure"]
    # its delta directory removed by hand: restarted on a new one
    obs["vnodes"]["demo-1"] = healthy(d, want, v1, delta=False)
    p = vl.plan(d, obs, want)
    assert p["actions"]["demo-1"] == ["reconfigure"]
    assert p["tracker"].diff()["after"]["vnode:demo-1"] == {"delta": "present"}
    obs["vnodes"]["demo-1"] = healthy(d, want, v1)
    # not created yet; a foreign interface with the host name
    obs["vnodes"]["demo-1"] = {"config": None, "state": None, "pid": None, "host": None,
                               "attached": False, "inside": None, "limits": None}
    assert vl.plan(d, obs, want)["actions"]["demo-1"] == ["create"]
    obs["vnodes"]["demo-1"]["host"] = dict(healthy(d, want, v1)["host"], ours=False, alias=None)
    assert "not owned by platform demo" in vl.plan(d, obs, want)["errors"][0]


def test_lxc_plan_writes_a_changed_host_key_and_never_shows_it(tmp_path):
    import subprocess
    key = str(tmp_path / "hk")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    private = open(key).read()
    d = dict(lxc_want(), host_key=private)
    want = vl.desired(d, V1)
    assert "HostKey=/etc/vxlab/ssh_host_ed25519_key" in want["demo-1"]["config"]
    obs = {"bridge": {"index": 3, "kind": "bridge"}, "keys": vl.normalise_keys(d["authorized_keys"]),
           "host_key": None, "containers": ["demo-1", "demo-2"], "others": {},
           "vnodes": {v["name"]: healthy(d, want, v) for v in d["vnodes"]}}
    p = vl.plan(d, obs, want)
    assert p["host_key"] == private and p["actions"] == {}
    diff = str(p["tracker"].diff())
    assert "PRIVATE KEY" not in diff and "SHA256:" in diff
    obs["host_key"] = private
    assert not vl.plan(d, obs, want)["tracker"].changed
