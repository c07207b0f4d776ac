"""Pure parts of the LXC vnode kind: configuration rendering, cgroup values, image recipe and
mirror discovery, vnode_state transitions, and the vnodes plan for kind lxc, all as data."""
import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups as cg
from ansible_collections.vxlab.emulation.plugins.module_utils import _lxc_image as im
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import containers as lx
from ansible_collections.vxlab.emulation.plugins.module_utils import _vnode_state as vs
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import common as vn
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import lxc as vl

V1 = {"cpu": 1, "cpuset": 1, "memory": 1}
V2 = {"cpu": 2, "cpuset": 2, "memory": 2}


def conf(**kw):
    c = {"platform": "demo", "name": "demo-1", "lxcpath": "/s/lxc", "image": "/img/rootfs",
         "bridge": "demo-br", "host_if": "demo-1", "mac": "02:aa:0a:90:00:02",
         "address": "10.144.0.2", "prefixlen": 16, "mtu": 1450, "gateway": "10.144.0.1",
         "authorized_keys": "/s/lxc-authorized_keys", "cgroup_lines": []}
    c.update(kw)
    return c


def test_render_config_has_every_required_key():
    lines = lx.render_config(conf()).splitlines()
    for want in ("lxc.rootfs.path = overlay:/img/rootfs:/s/lxc/demo-1/delta",
                 "lxc.net.0.link = demo-br", "lxc.net.0.veth.pair = demo-1",
                 "lxc.net.0.hwaddr = 02:aa:0a:90:00:02", "lxc.net.0.ipv4.address = 10.144.0.2/16",
                 "lxc.net.0.ipv4.gateway = 10.144.0.1", "lxc.net.0.mtu = 1450", "lxc.tty.max = 0",
                 "lxc.console.path = none", "lxc.apparmor.profile = unconfined",
                 "lxc.uts.name = demo-1"):
        assert want in lines
    init = [ln for ln in lines if ln.startswith("lxc.init.cmd = ")][0]
    assert init.split(" = ", 1)[1].split() == lx.sshd_argv("10.144.0.2")
    assert "ListenAddress=10.144.0.2" in init and "PasswordAuthentication=no" in init
    assert lines[0] == "# vxlab:demo (managed by vxlab.emulation.vnodes; changes are overwritten)"


def test_render_config_deterministic_and_optional_parts():
    assert lx.render_config(conf()) == lx.render_config(conf())
    text = lx.render_config(conf(gateway=None, mtu=None, cgroup_lines=["lxc.cgroup.x = 1"]))
    assert "ipv4.gateway" not in text and "lxc.net.0.mtu" not in text
    rest, cgl = lx.config_sections(text)
    assert cgl == ["lxc.cgroup.x = 1"] and "lxc.cgroup.x = 1" not in rest


def test_render_config_bind_mounts_the_client_dir_read_only_at_the_same_path():
    lines = lx.render_config(conf(client_dir="/var/lib/vxlab/demo/client")).splitlines()
    assert "lxc.mount.entry = /var/lib/vxlab/demo/client var/lib/vxlab/demo/client none " \
        "bind,ro,create=dir,optional 0 0" in lines
    assert lines[-1].startswith("lxc.init.cmd = ")
    assert "/client" not in lx.render_config(conf())
    # the vnodes module derives it from the pnode's state directory, as the dataplane role lays out
    assert vl.client_dir_of("/var/lib/vxlab/demo/p1") == "/var/lib/vxlab/demo/client"
    assert vl.client_dir_of("/var/lib/vxlab/demo/p1/") == "/var/lib/vxlab/demo/client"


def test_parse_ls():
    text = ("NAME   STATE   PID\n"
            "demo-1 RUNNING 4242\n"
            "demo-2 STOPPED -\n"
            "demo-3 FROZEN  77\n")
    assert lx.parse_ls(text) == {"demo-1": {"state": "RUNNING", "pid": 4242},
                                 "demo-2": {"state": "STOPPED", "pid": None},
                                 "demo-3": {"state": "FROZEN", "pid": 77}}


def test_argv_for_are_lists():
    assert lx.argv_for("start", "/p", "n") == ["lxc-start", "-d", "-P", "/p", "-n", "n"]
    assert lx.argv_for("stop", "/p", "n") == ["lxc-stop", "-k", "-P", "/p", "-n", "n"]


# cgroups

MOUNTINFO_V1 = """\
25 20 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw
26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:24 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
28 25 0:25 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
29 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
30 25 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
MOUNTINFO_V2 = "30 20 0:27 / /sys/fs/cgroup rw,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


def test_parse_mountinfo_v1_and_v2():
    lay = cg.parse_mountinfo(MOUNTINFO_V1)
    assert lay["v1"]["cpu"] == "/sys/fs/cgroup/cpu" and lay["v1"]["memory"] == "/sys/fs/cgroup/memory"
    assert lay["v2"] == "/sys/fs/cgroup/unified"
    assert cg.controller_version(lay, "cpu", ("cpu",)) == 1
    lay2 = cg.parse_mountinfo(MOUNTINFO_V2)
    assert lay2 == {"v1": {}, "v2": "/sys/fs/cgroup"}
    assert cg.controller_version(lay2, "cpu", ("cpu", "memory")) == 2
    assert cg.controller_version(lay2, "cpuset", ("cpu",)) is None


def test_parse_proc_cgroup():
    text = "4:cpu:/lxc.payload.demo-1\n3:cpuacct:/lxc.payload.demo-1\n0::/lxc.payload.demo-1\n"
    pc = cg.parse_proc_cgroup(text)
    assert pc["cpu"] == "/lxc.payload.demo-1" and pc[""] == "/lxc.payload.demo-1"


def test_wanted_files_v1_v2():
    lim = cg.limits(cpu=0.25, cpuset="0", memory="256M")
    assert cg.wanted_files(lim, V1) == {
        ("cpu", "cpu.cfs_period_us"): "100000", ("cpu", "cpu.cfs_quota_us"): "25000",
        ("cpuset", "cpuset.cpus"): "0", ("memory", "memory.limit_in_bytes"): "268435456"}
    assert cg.wanted_files(lim, V2) == {
        ("cpu", "cpu.max"): "25000 100000", ("cpuset", "cpuset.cpus"): "0",
        ("memory", "memory.max"): "268435456"}
    none = cg.limits()
    assert cg.wanted_files(none, V1) == {("cpu", "cpu.cfs_period_us"): "100000",
                                         ("cpu", "cpu.cfs_quota_us"): "-1",
                                         ("memory", "memory.limit_in_bytes"): "-1"}
    assert cg.wanted_files(none, V2) == {("cpu", "cpu.max"): "max 100000", ("memory", "memory.max"): "max"}


def test_lxc_config_lines_only_set_limits():
    assert cg.lxc_config_lines(cg.limits(), V1) == []
    assert cg.lxc_config_lines(cg.limits(cpu=1.5), V1) == [
        "lxc.cgroup.cpu.cfs_period_us = 100000", "lxc.cgroup.cpu.cfs_quota_us = 150000"]
    assert cg.lxc_config_lines(cg.limits(cpu=0.5, memory="1G"), V2) == [
        "lxc.cgroup2.cpu.max = 50000 100000", "lxc.cgroup2.memory.max = 1073741824"]


def test_limits_validation_and_missing_controller():
    assert cg.parse_size("m", "512MiB") == 512 * 1024 ** 2 and cg.parse_size("m", 8 << 20) == 8 << 20
    for bad, match in ((("cpu", 0), "between"), (("cpu", "x"), "fraction"), (("cpu", True), "fraction"),
                       (("memory", "1M"), "at least 4M"), (("memory", "lots"), "size"),
                       (("cpuset", "0-"), "CPU list")):
        with pytest.raises(ValueError, match=match):
            cg.limits(**{bad[0]: bad[1]})
    with pytest.raises(cg.CgroupError, match="no memory cgroup controller"):
        cg.wanted_files(cg.limits(memory="64M"), {"cpu": 1})
    assert cg.normalise("memory.limit_in_bytes", "9223372036854771712\n") == "-1"


# image

def test_parse_sources_both_formats_and_choose_mirror():
    files = [("/etc/apt/sources.list", "# c\ndeb [arch=amd64 signed-by=/k] http://mirror.example/debian bookworm main\n"
              "deb-src http://src.example/debian bookworm main\n"),
             ("/etc/apt/sources.list.d/debian.sources",
              "Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
              "Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n\n"
              "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: trixie\n")]
    src = im.parse_sources(files)
    assert src == [("http://mirror.example/debian", ["bookworm"]),
                   ("http://deb.example/debian", ["bookworm", "bookworm-updates"]),
                   ("http://sec.example/debian-security", ["bookworm-security"])]
    assert im.choose_mirror(src, "bookworm") == "http://mirror.example/debian"
    assert im.choose_mirror(src[1:], "bookworm") == "http://deb.example/debian"
    with pytest.raises(im.ImageError, match="'trixie'"):
        im.choose_mirror(src, "trixie")


def test_recipe_digest_stable_and_sensitive():
    a = im.recipe("bookworm", "amd64", "http://m/debian", ["python3", "openssh-server"])
    b = im.recipe("bookworm", "amd64", "http://m/debian", ["openssh-server", "python3", "python3"])
    assert im.digest(a) == im.digest(b) and len(im.digest(a)) == 16
    assert im.digest(a) != im.digest(im.recipe("bookworm", "amd64", "http://m/debian", ["openssh-server"]))
    assert im.digest(a) != im.digest(im.recipe("trixie", "amd64", "http://m/debian", ["python3", "openssh-server"]))
    assert im.debootstrap_argv(a, "/t") == ["debootstrap", "--variant=minbase", "--arch=amd64",
                                            "--include=openssh-server,python3", "bookworm", "/t",
                                            "http://m/debian"]


def test_image_validate():
    d = im.validate({"name": "vxlab-base", "packages": None})
    assert d["packages"] == list(im.DEFAULT_PACKAGES) and d["cache_dir"] == im.DEFAULT_CACHE_DIR
    for params, match in (({"name": "Bad Name"}, "name="), ({"packages": ["iproute2"]}, "openssh-server"),
                          ({"packages": ["openssh-server", "a;b"]}, "package name"),
                          ({"mirror": "ftp://x"}, "mirror="), ({"rootfs": "/a", "tarball": "/b"}, "not both"),
                          ({"cache_dir": "rel"}, "cache_dir=")):
        with pytest.raises(ValueError, match=match):
            im.validate(params)


# vnode_state

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


# the vnodes plan for kind lxc

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
    host = {"index": 10, "kind": "veth", "mtu": 1450, "up": True, "master": 3, "link": 2, "ours": True,
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
    # not created yet; a foreign interface with the host name
    obs["vnodes"]["demo-1"] = {"config": None, "state": None, "pid": None, "host": None,
                               "attached": False, "inside": None, "limits": None}
    assert vl.plan(d, obs, want)["actions"]["demo-1"] == ["create"]
    obs["vnodes"]["demo-1"]["host"] = dict(healthy(d, want, v1)["host"], ours=False, alias=None)
    assert "not owned by platform demo" in vl.plan(d, obs, want)["errors"][0]


# platform variables

def _spec(**extra):
    from ansible_collections.vxlab.emulation.plugins.module_utils import _plan
    hv = {"p1": {"vxlab_underlay_address": "10.250.0.1"}}
    return _plan.spec_from_hostvars(["p1"], lambda n: hv[n], extra)


def test_plan_lxc_variables():
    from ansible_collections.vxlab.emulation.plugins.module_utils import _plan
    s = _spec(vxlab_vnode_kind="lxc", vxlab_vnode_cpu="0.25", vxlab_vnode_memory="256M",
              vxlab_vnode_cpuset="0-1", vxlab_lxc_image="/srv/rootfs")
    facts = _plan.build_plan(s).pnode_facts("p1")
    assert (facts["vnode_cpu"], facts["vnode_memory"], facts["vnode_cpuset"], facts["lxc_image"]) == \
        (0.25, 256 << 20, "0-1", "/srv/rootfs")
    for extra, match in (({"vxlab_vnode_kind": "netns", "vxlab_vnode_cpu": 0.5}, "need vxlab_vnode_kind: lxc"),
                         ({"vxlab_vnode_kind": "lxc", "vxlab_vnode_cpu": 0}, "between 0.01"),
                         ({"vxlab_vnode_kind": "lxc", "vxlab_vnode_memory": "x"}, "size"),
                         ({"vxlab_lxc_image": "rel/path"}, "absolute path")):
        with pytest.raises(_plan.PlanError, match=match):
            _spec(**extra)


def test_render_config_presents_the_platforms_host_key_when_given():
    lines = lx.render_config(conf(host_key="/s/lxc-host_key")).splitlines()
    assert "lxc.mount.entry = /s/lxc-host_key etc/vxlab/ssh_host_ed25519_key none " \
        "bind,ro,create=file 0 0" in lines
    init = [ln for ln in lines if ln.startswith("lxc.init.cmd = ")][0]
    assert "-o HostKey=/etc/vxlab/ssh_host_ed25519_key" in init
    assert "HostKey" not in lx.render_config(conf())  # not given: the image's keys


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
