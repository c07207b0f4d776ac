"""The pure parts of _netlink: validators, owner alias, message decoding (no root)."""
import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _netlink as nl


def test_owner_alias_and_platform_names():
    assert nl.owner_alias("demo") == "vxlab:demo"
    assert nl.check_platform("demo2") == "demo2"
    for bad in ("", "Demo", "2demo", "de-mo", None):
        with pytest.raises(ValueError, match="platform="):
            nl.check_platform(bad)


@pytest.mark.parametrize("name", ["eth0", "vxlab-br", "a" * 15, "x.y_z-1"])
def test_ifname_ok(name):
    assert nl.check_ifname("name", name) == name


@pytest.mark.parametrize("name", ["", "a" * 16, "a b", "a/b", "..", None])
def test_ifname_refused_names_the_parameter(name):
    with pytest.raises(ValueError, match="^host_if="):
        nl.check_ifname("host_if", name)


def test_ipv4_and_cidr_normalisation():
    assert nl.parse_ipv4("gateway", "10.144.0.1") == "10.144.0.1"
    assert nl.parse_cidr("addresses", "10.144.0.1/16") == "10.144.0.1/16"
    assert nl.parse_cidr("dest", "10.144.0.0/16", host=False) == "10.144.0.0/16"
    assert nl.ipv4_int("10.0.0.1") == 0x0A000001
    for bad in ("10.144.0", "10.144.0.256", "x", "1.2.3.4.5", 5):
        with pytest.raises(ValueError, match="^gateway="):
            nl.parse_ipv4("gateway", bad)
    with pytest.raises(ValueError, match="host bits"):
        nl.parse_cidr("dest", "10.144.0.1/16", host=False)
    with pytest.raises(ValueError, match="'10.144.0.300/16'"):
        nl.parse_cidr("addresses", "10.144.0.300/16")
    with pytest.raises(ValueError, match="prefix length"):
        nl.parse_cidr("addresses", "10.144.0.1/33")
    with pytest.raises(ValueError, match="address/prefix"):
        nl.parse_cidr("addresses", "10.144.0.1")


def test_mac_normalisation():
    assert nl.parse_mac("mac", "02:D7:0A:90:00:02") == "02:d7:0a:90:00:02"
    with pytest.raises(ValueError, match="multicast"):
        nl.parse_mac("mac", "01:00:5e:00:00:01")
    for bad in ("02:d7:0a:90:00", "02-d7-0a-90-00-02", "zz:d7:0a:90:00:02"):
        with pytest.raises(ValueError, match="^mac="):
            nl.parse_mac("mac", bad)


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
