"""What both vnode kinds share, as data: validation of the vnodes module's parameters, the netns record."""
import json
import os
import pytest
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import common


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


def test_validate_normalises():
    d = want(vnodes=[dict(vn(1), mac="02:D7:0A:90:00:02", pnode="p1", index=1)])
    assert d["vnodes"] == [vn(1)] and d["gateway"] == "10.144.0.1"


@pytest.mark.parametrize("vnodes,message", [
    ([vn(1), dict(vn(2), name="demo-1")], r"vnodes\[1\].name='demo-1' \(demo-1\): already used by vnode demo-1"),
    ([vn(1), dict(vn(2), address=vn(1)["address"])], "address='10.144.0.2' .* already used"),
    ([vn(1), dict(vn(2), mac=vn(1)["mac"])], "mac=.* already used by vnode demo-1"),
    ([vn(1), dict(vn(2), host_if="demo-1")], "host_if='demo-1' .* already used"),
    ([dict(vn(1), host_if="a-very-long-name")], r"host_if \(demo-1\)='a-very-long-name'"),
    ([dict(vn(1), name="bad name")], "name='bad name'"),
    ([dict(vn(1), name="../x")], "name='../x'"),
    ([dict(vn(1), address="10.144.0.1")], "is the gateway address"),
    ([dict(vn(1), host_if="demo-br")], "same name as the bridge"),
    ([{"name": "x"}], "missing address, mac, host_if"),
    ([dict(vn(1), colour="red")], "unknown key"),
    ([dict(vn(1), mac="01:00:5e:00:00:01")], "multicast MAC"),
])
def test_validate_refuses_bad_vnodes(vnodes, message):
    with pytest.raises(ValueError, match=message):
        want(vnodes=vnodes)


def test_validate_other_refusals():
    with pytest.raises(ValueError, match="^image=None: kind=lxc needs the base root filesystem"):
        want(kind="lxc")
    with pytest.raises(ValueError, match="^cpu: CPU and memory limits need kind=lxc"):
        want(cpu=0.5)
    with pytest.raises(ValueError, match=r"^vnodes\.cpu='x': must be a fraction"):
        want(kind="lxc", image="/img", cpu="x")
    with pytest.raises(ValueError, match="bridge: required"):
        want(bridge=None)
    with pytest.raises(ValueError, match="prefixlen=None"):
        want(prefixlen=None)
    with pytest.raises(ValueError, match="state_dir="):
        want(state_dir="relative/dir")
    with pytest.raises(ValueError, match="state_dir="):
        want(state_dir="/var/../etc")
    with pytest.raises(ValueError, match="at most 1022"):
        want(vnodes=[vn(i) for i in range(1, 1024)])
    # absent needs no vnode details
    assert want(state="absent", bridge=None, prefixlen=None)["vnodes"] == []


def test_record_roundtrip_and_platform_guard(tmp_path):
    sd = str(tmp_path / "p1")
    assert common.read_record(sd, "demo") == []
    assert common.write_record(sd, "demo", ["demo-2", "demo-1", "demo-1"]) is True
    with open(common.record_path(sd)) as f:
        assert json.load(f) == {"platform": "demo", "kind": "netns", "netns": ["demo-1", "demo-2"]}
    assert common.read_record(sd, "demo") == ["demo-1", "demo-2"]
    # the same names again: nothing is written (an idempotent run writes no file)
    before = os.stat(common.record_path(sd))
    assert common.write_record(sd, "demo", ["demo-1", "demo-2"]) is False
    after = os.stat(common.record_path(sd))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert common.write_record(sd, "demo", ["demo-1"]) is True
    assert common.read_record(sd, "demo") == ["demo-1"]
    with pytest.raises(ValueError, match="belongs to platform 'demo', not 'other'"):
        common.read_record(sd, "other")
    common.remove_record(sd)
    common.remove_record(sd)
    assert common.read_record(sd, "demo") == []
