# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names, addresses and limits: every rule defined once (private to the collection).

The plan, the controller-side plugins and the modules on the pnodes check the same values with
these functions: a platform name the plan accepts is one every module accepts, and the reverse.
Checkers return the normalised value or raise ``ValueError`` naming the parameter and the value;
``is_*`` predicates let callers raise their own error type (the plan's ``PlanError``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket
import struct

#: a Linux interface name holds at most 15 characters (IFNAMSIZ - 1)
IFNAMSIZ = 15
#: a Linux bridge takes at most 1,023 ports ("Exchange full" for the 1,024th)
BRIDGE_MAX_PORTS = 1023
#: one port of a pnode's bridge is the VXLAN interface: the rest can be vnodes
MAX_VNODES_PER_BRIDGE = BRIDGE_MAX_PORTS - 1
#: bytes VXLAN over IPv4 adds to a frame (outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8)
VXLAN_OVERHEAD = 50

#: a vnode's own end of its veth (its management interface), inside its namespace
VNODE_IFNAME = "eth0"

PLATFORM_RE = re.compile(r"^[a-z][a-z0-9]*$")
PLATFORM_RULE = "must start with a lowercase letter and contain only a-z and 0-9"
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,%d}$" % IFNAMSIZ)
IFNAME_RULE = "1 to 15 characters among A-Z a-z 0-9 _ . -"
#: a vnode (or named namespace, container) name: a letter or digit, then up to 63 of A-Z a-z 0-9 . _ -
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NODE_NAME_RULE = "a name of 1 to 64 characters among A-Z a-z 0-9 . _ -, starting with a letter or digit"
#: an absolute path of safe characters (no spaces, quotes or shell characters), without ``..``
PATH_RE = re.compile(r"^/[A-Za-z0-9_./+-]*$")
PATH_RULE = "must be an absolute path of A-Z a-z 0-9 _ . + - /"


def is_platform(name):
    return isinstance(name, str) and bool(PLATFORM_RE.match(name))


def check_platform(platform, param="platform"):
    if not is_platform(platform):
        raise ValueError("%s=%r: %s" % (param, platform, PLATFORM_RULE))
    return platform


def is_ifname(name):
    return isinstance(name, str) and bool(IFNAME_RE.match(name)) and name not in (".", "..")


def check_ifname(param, name):
    if not is_ifname(name):
        raise ValueError("%s=%r: an interface name is %s" % (param, name, IFNAME_RULE))
    return name


def is_node_name(name):
    return isinstance(name, str) and bool(NODE_NAME_RE.match(name))


def check_node_name(param, name):
    if not is_node_name(name):
        raise ValueError("%s=%r: not %s" % (param, name, NODE_NAME_RULE))
    return name


def vnode_name(platform, number):
    """The name of vnode ``number`` of a platform: ``<platform>-<number>``."""
    return "%s-%d" % (platform, number)


def vnode_name_pattern(platform):
    """A regex that matches exactly the vnode names of ``platform``."""
    return re.compile(r"^%s-[0-9]+$" % re.escape(platform))


#: a data network's name (``vxlab_networks``): part of interface names, so short
NETWORK_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
NETWORK_RULE = "must start with a lowercase letter and hold 1 to 10 characters among a-z 0-9"
#: the name of the management network (``vxlab_vnode_network``, every vnode's eth0) in the plan
MANAGEMENT = "management"
#: names a data network cannot take: the management bridge and VXLAN device are <platform>-br
#: and <platform>-vx
RESERVED_NETWORKS = (MANAGEMENT, "br", "vx")


def network_bridge(platform, network):
    """The bridge of a data network on every pnode hosting its members: ``<platform>-<network>``."""
    return "%s-%s" % (platform, network)


def network_vxlan(platform, network):
    """The VXLAN device of a data network: ``<platform>.<network>``."""
    return "%s.%s" % (platform, network)


def data_ifname(position):
    """A vnode's data interface inside it: eth1, eth2, ... (``position`` counts from 1)."""
    return "eth%d" % position


def data_host_if(host_if, position):
    """The host side of a vnode's data interface ``position``: ``<host_if>.<position>``."""
    return "%s.%d" % (host_if, position)


def data_host_if_pattern(platform):
    """A regex that matches exactly the data host sides of ``platform``'s vnodes."""
    return re.compile(r"^%s-[0-9]+\.[0-9]+$" % re.escape(platform))


def is_safe_path(path):
    return isinstance(path, str) and bool(PATH_RE.match(path)) and "/../" not in path + "/"


def check_path(param, path):
    """An absolute path of safe characters without ``..``, trailing slashes removed."""
    if not is_safe_path(path):
        raise ValueError("%s=%r: %s" % (param, path, PATH_RULE))
    return path.rstrip("/") or "/"


def owner_alias(platform):
    """The interface alias that marks an interface as created by vxlab for ``platform``."""
    return "vxlab:%s" % platform


def max_vnode_mtu(underlay_mtu):
    """The largest vnode MTU an underlay of MTU ``underlay_mtu`` carries through VXLAN."""
    return underlay_mtu - VXLAN_OVERHEAD


# ----------------------------------------------------------------------------------------------
# IPv4 and MAC addresses


def parse_ipv4(param, value):
    """Normalise a dotted-quad IPv4 address or raise ValueError naming ``param``."""
    try:
        if not isinstance(value, str) or value.count(".") != 3:
            raise OSError()
        return socket.inet_ntoa(socket.inet_aton(value))
    except OSError:
        raise ValueError("%s=%r: not an IPv4 address" % (param, value))


def ipv4_int(address):
    return struct.unpack("!I", socket.inet_aton(address))[0]


def ipv4_text(value):
    return socket.inet_ntoa(struct.pack("!I", value))


def parse_cidr(param, value, host=True):
    """``"a.b.c.d/len"`` normalised; ``host=False`` also requires a network address."""
    if not isinstance(value, str) or value.count("/") != 1:
        raise ValueError("%s=%r: not an IPv4 address/prefix (e.g. 10.144.0.1/16)" % (param, value))
    address, prefix = value.split("/")
    try:
        address = parse_ipv4(param, address)
    except ValueError:
        raise ValueError("%s=%r: not an IPv4 address/prefix (e.g. 10.144.0.1/16)" % (param, value))
    if not prefix.isdigit() or not 0 <= int(prefix) <= 32:
        raise ValueError("%s=%r: prefix length must be 0-32" % (param, value))
    plen = int(prefix)
    if not host:
        mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        if ipv4_int(address) & ~mask & 0xFFFFFFFF:
            raise ValueError("%s=%r: host bits are set (network address expected)" % (param, value))
    return "%s/%d" % (address, plen)


def parse_mac(param, value):
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p)
                                  for p in parts):
        raise ValueError("%s=%r: not a MAC address (xx:xx:xx:xx:xx:xx)" % (param, value))
    mac = value.lower()
    if int(parts[0], 16) & 1:
        raise ValueError("%s=%r: a multicast MAC cannot be an interface address" % (param, value))
    return mac
