"""The naming rules of the base layer: platform and interface names, owner alias, addresses
(pure)."""
import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming


def test_owner_alias_and_platform_names():
    assert naming.owner_alias("demo") == "vxlab:demo"
    assert naming.check_platform("demo2") == "demo2"
    for bad in ("", "Demo", "2demo", "de-mo", None):
        with pytest.raises(ValueError, match="platform="):
            naming.check_platform(bad)


@pytest.mark.parametrize("name", ["eth0", "vxlab-br", "a" * 15, "x.y_z-1"])
def test_ifname_ok(name):
    assert naming.check_ifname("name", name) == name


@pytest.mark.parametrize("name", ["", "a" * 16, "a b", "a/b", "..", None])
def test_ifname_refused_names_the_parameter(name):
    with pytest.raises(ValueError, match="^host_if="):
        naming.check_ifname("host_if", name)


def test_ipv4_and_cidr_normalisation():
    assert naming.parse_ipv4("gateway", "10.144.0.1") == "10.144.0.1"
    assert naming.parse_cidr("addresses", "10.144.0.1/16") == "10.144.0.1/16"
    assert naming.parse_cidr("dest", "10.144.0.0/16", host=False) == "10.144.0.0/16"
    assert naming.ipv4_int("10.0.0.1") == 0x0A000001
    for bad in ("10.144.0", "10.144.0.256", "x", "1.2.3.4.5", 5):
        with pytest.raises(ValueError, match="^gateway="):
            naming.parse_ipv4("gateway", bad)
    with pytest.raises(ValueError, match="host bits"):
        naming.parse_cidr("dest", "10.144.0.1/16", host=False)
    with pytest.raises(ValueError, match="'10.144.0.300/16'"):
        naming.parse_cidr("addresses", "10.144.0.300/16")
    with pytest.raises(ValueError, match="prefix length"):
        naming.parse_cidr("addresses", "10.144.0.1/33")
    with pytest.raises(ValueError, match="address/prefix"):
        naming.parse_cidr("addresses", "10.144.0.1")


def test_mac_normalisation():
    assert naming.parse_mac("mac", "02:D7:0A:90:00:02") == "02:d7:0a:90:00:02"
    with pytest.raises(ValueError, match="multicast"):
        naming.parse_mac("mac", "01:00:5e:00:00:01")
    for bad in ("02:d7:0a:90:00", "02-d7-0a-90-00-02", "zz:d7:0a:90:00:02"):
        with pytest.raises(ValueError, match="^mac="):
            naming.parse_mac("mac", bad)


def test_node_names_paths_and_limits():
    assert naming.check_node_name("vnodes[0].name", "tb-12") == "tb-12"
    for bad in ("", ".x", "-a", "a b", "a" * 65, None):
        with pytest.raises(ValueError, match=r"^vnodes\[0\]\.name="):
            naming.check_node_name("vnodes[0].name", bad)
    assert naming.check_path("state_dir", "/var/lib/vxlab/") == "/var/lib/vxlab"
    for bad in ("var/lib", "/a/../b", "/a b", "/a;b", None):
        with pytest.raises(ValueError, match="^state_dir="):
            naming.check_path("state_dir", bad)
    assert naming.vnode_name("tb", 7) == "tb-7"
    assert naming.vnode_name_pattern("tb").match("tb-7") and not naming.vnode_name_pattern("tb").match("tb-p1")
    assert naming.MAX_VNODES_PER_BRIDGE == 1022 and naming.max_vnode_mtu(1500) == 1450
