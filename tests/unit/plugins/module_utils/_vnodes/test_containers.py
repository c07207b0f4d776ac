"""LXC containers as data: a vnode's configuration (host key, client directory, limits kept apart), lxc-ls output, argv lists."""
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import containers as lx
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import lxc as vl


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
    assert lx.argv_for("start", "/p", "n") == ["lxc-start", "-d", "-p", "/p/n/monitor.pid", "-P", "/p", "-n", "n"]
    assert lx.argv_for("stop", "/p", "n") == ["lxc-stop", "-k", "-P", "/p", "-n", "n"]


def test_render_config_presents_the_platforms_host_key_when_given():
    lines = lx.render_config(conf(host_key="/s/lxc-host_key")).splitlines()
    assert "lxc.mount.entry = /s/lxc-host_key etc/vxlab/ssh_host_ed25519_key none " \
        "bind,ro,create=file 0 0" in lines
    init = [ln for ln in lines if ln.startswith("lxc.init.cmd = ")][0]
    assert "-o HostKey=/etc/vxlab/ssh_host_ed25519_key" in init
    assert "HostKey" not in lx.render_config(conf())  # not given: the image's keys
