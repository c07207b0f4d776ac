"""The pure parts of the pyroute2 wrapper: message decoding, error texts (no root); and, in a
scratch namespace (root), that pyroute2 is imported only for a write, and the link dump concerns
run in turn share."""
import os
import subprocess
import sys

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl


class FakeNla(dict):
    """Just enough of a pyroute2 message: attrs list + header fields."""

    def __init__(self, fields, attrs):
        super(FakeNla, self).__init__(fields)
        self["attrs"] = attrs

    def get_attr(self, name):
        for k, v in self["attrs"]:
            if k == name:
                return v
        return None


def test_decode_vxlan_link():
    data = {"attrs": [("IFLA_VXLAN_ID", 42), ("IFLA_VXLAN_PORT", 4789),
                      ("IFLA_VXLAN_LOCAL", "10.251.0.1"), ("IFLA_VXLAN_LINK", 3),
                      ("IFLA_VXLAN_LEARNING", 0), ("IFLA_VXLAN_PROXY", 1)]}
    info = FakeNla({}, [("IFLA_INFO_KIND", "vxlan"), ("IFLA_INFO_DATA", data)])
    msg = FakeNla({"index": 7, "flags": 0x1043}, [
        ("IFLA_IFNAME", "vx"), ("IFLA_IFALIAS", "vxlab:demo"), ("IFLA_MTU", 1450),
        ("IFLA_MASTER", 5), ("IFLA_ADDRESS", "02:AA:00:00:00:01"), ("IFLA_LINKINFO", info)])
    link = nl.decode_link(msg)
    assert link == {"index": 7, "ifname": "vx", "kind": "vxlan", "alias": "vxlab:demo", "mtu": 1450,
                    "up": True, "master": 5, "mac": "02:aa:00:00:00:01", "link": None,
                    "link_netnsid": None, "vni": 42, "port": 4789, "local": "10.251.0.1",
                    "group": None, "dev": 3, "learning": False, "proxy": True}


def test_decode_bridge_times_are_seconds():
    data = {"attrs": [("IFLA_BR_AGEING_TIME", 360000), ("IFLA_BR_FORWARD_DELAY", 1500),
                      ("IFLA_BR_STP_STATE", 0)]}
    info = FakeNla({}, [("IFLA_INFO_KIND", "bridge"), ("IFLA_INFO_DATA", data)])
    msg = FakeNla({"index": 2, "flags": 0}, [("IFLA_IFNAME", "br"), ("IFLA_LINKINFO", info)])
    link = nl.decode_link(msg)
    assert (link["kind"], link["ageing_time"], link["forward_delay"], link["stp"], link["up"]) == \
        ("bridge", 3600, 15, False, False)


def test_decode_link_without_linkinfo():
    msg = FakeNla({"index": 1, "flags": 0x9}, [("IFLA_IFNAME", "lo"), ("IFLA_MTU", 65536)])
    link = nl.decode_link(msg)
    assert link["kind"] is None and link["up"] is True and link["mac"] is None


def test_error_text_names_the_errno():
    assert nl.error_text(nl.NetlinkError(17, "File exists")) == "File exists (EEXIST)"
    assert nl.error_text(OSError(2, "x")) == "No such file or directory (ENOENT)"


LAZY_PROBE = r"""
import sys
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
s = nl.Netlink()
read = (sorted(s.links()), s.link_index("lo"))
s.link_set_alias(1, "vxlab:probe")
s.link_set(1, state="up", mtu=65000)
try:
    s.link_set(4242, mtu=1400)
    raw_code = None
except nl.NetlinkError as exc:
    raw_code = exc.code
before = "pyroute2" in sys.modules
try:
    s.neigh_replace(4242, "10.0.0.1", "02:00:00:00:00:01")
    code = None
except nl.NetlinkError as exc:
    code = exc.code
lo = s.link("lo")
print(read, lo["alias"], lo["up"], lo["mtu"], raw_code, before, "pyroute2" in sys.modules, code)
s.close()
"""


def test_pyroute2_is_imported_only_for_a_write_and_its_errors_are_ours():
    """In a scratch network namespace (root): reads, the alias and link changes go through the
    plain socket without importing pyroute2 (a refused one raises this module's NetlinkError with
    the kernel's errno); the first write through pyroute2 imports it, and its refusal is this
    module's NetlinkError too."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a scratch network namespace)")
    proc = subprocess.run(["unshare", "-n", sys.executable, "-c", LAZY_PROBE], capture_output=True, text=True,
                          check=False, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "(['lo'], 1) vxlab:probe True 65000 19 False True 19"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, netlink)")
def test_concerns_run_in_turn_share_a_link_dump_until_one_changes_something():
    """The runner's shared link dump (a data plane's steps): a concern that changes nothing leaves
    it for the next one; one that changes something empties it, so the next one reads the kernel
    again; each concern gets its own copy of the dicts."""
    from ansible_collections.vxlab.emulation.plugins.module_utils import _runner
    from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns

    class Observer(_runner.Concern):
        NEEDS = ("netlink",)

        def validate(self, params):
            return params

        def observe(self, ctx, desired):
            links = ctx.sock.links()
            seen = sorted(links)
            links["lo"]["mtu"] = -1  # a concern scribbling on what it read
            return seen

        def diff(self, ctx, desired, observed):
            return _runner.Change()

        def result(self, ctx, desired, observed, change):
            return {"links": observed, "lo_mtu": ctx.sock.links()["lo"]["mtu"]}

    class Maker(Observer):
        def diff(self, ctx, desired, observed):
            return _runner.Change(actions=["add"], changed=True)

        def apply(self, ctx, desired, observed, change):
            subprocess.run(["ip", "link", "add", "zc1", "type", "veth", "peer", "name", "zc2"], check=True)

    name = "zrc%d" % (os.getpid() % 10000)
    ns.netns_create(name)
    try:
        cache = nl.LinkCache()
        first = _runner.execute(Observer(), {"netns": name}, links=cache)
        assert first["links"] == ["lo"] and first["lo_mtu"] == 65536
        subprocess.run(["ip", "-n", name, "link", "add", "zc0", "type", "veth", "peer", "name", "zc9"], check=True)
        # nothing ran that changed anything: the next concern is served the same dump
        assert _runner.execute(Observer(), {"netns": name}, links=cache)["links"] == ["lo"]
        made = _runner.execute(Maker(), {"netns": name}, links=cache)
        assert made["changed"] is True and made["links"] == ["lo"]
        # the change emptied it: the kernel is read again, by the result already
        assert made["lo_mtu"] == 65536
        after = _runner.execute(Observer(), {"netns": name}, links=cache)
        assert after["links"] == ["lo", "zc0", "zc1", "zc2", "zc9"]
        # without a shared one, each run reads the kernel
        subprocess.run(["ip", "-n", name, "link", "del", "zc0"], check=True)
        assert _runner.execute(Observer(), {"netns": name})["links"] == ["lo", "zc1", "zc2"]
    finally:
        ns.netns_delete(name)
