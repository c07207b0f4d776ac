# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A plain rtnetlink socket: the readers whose answers the collection compares and the writers
vnodes, bridges and VXLAN devices are made of (private).

pyroute2 decodes every attribute of every message into objects: a pnode's link dump with 1,000
vnode veths took ~0.6 s, the three reads inside one vnode's namespace ~3 ms, which made an
idempotent re-run of a pnode cost most of its first deploy. :class:`RawSocket` asks the kernel
for the same dumps on a socket of the standard library and decodes, with ``struct``, only the
attributes it returns, into exactly the plain dicts of :mod:`_kernel.iproute`'s readers
(:meth:`RawSocket.links`, :meth:`~RawSocket.link`, :meth:`~RawSocket.addresses`,
:meth:`~RawSocket.routes`, :meth:`~RawSocket.fdb_of`). The per-vnode writes (a veth with its
peer in the vnode's namespace, link changes, IPv6 address generation off, an address, a route)
and a pnode's bridge, VXLAN device and flood entries are packed here the same way: pyroute2
spent most of a netns vnode's creation encoding each request and running its event loop around
it. It is also the request helper, the attribute packing and the attribute walk that
:mod:`_kernel.rawnl` builds its bulk neighbour and traffic-control work on.

A socket belongs to the namespace of the thread that made it (see :class:`_kernel.netns.NsSwitch`).
A request the kernel refuses raises :attr:`RawSocket.ERROR` ``(code, text)``: ``OSError`` here,
pyroute2's ``NetlinkError`` in the subclasses of :mod:`_kernel.iproute` and :mod:`_kernel.rawnl`.
Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import socket
import struct

from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.netns import Closing

NETLINK_ROUTE = 0
NETLINK_CAP_ACK = 10
SOL_NETLINK = 270
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
#: the flags an attribute type may carry (NLA_F_NESTED, NLA_F_NET_BYTEORDER)
NLA_TYPE_MASK = 0x3FFF
IFNAMSIZ = 16

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_GETROUTE = 26
RTM_NEWNEIGH = 28
RTM_DELNEIGH = 29
RTM_GETNEIGH = 30
AF_BRIDGE = 7
IFF_UP = 0x1
RT_TABLE_MAIN = 254

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_IFALIAS = 20
IFLA_EXT_MASK = 29
IFLA_AF_SPEC = 26
IFLA_NET_NS_FD = 28
IFLA_LINK_NETNSID = 37
#: in IFLA_AF_SPEC's AF_INET6 part: the IPv6 address generation mode (1: none)
IFLA_INET6_ADDR_GEN_MODE = 8
#: in a veth's IFLA_INFO_DATA: its peer (a struct ifinfomsg and the peer's attributes)
VETH_INFO_PEER = 1
#: IFLA_EXT_MASK: no IFLA_STATS/IFLA_STATS64 (Linux 5.10; older kernels ignore the bit)
RTEXT_FILTER_SKIP_STATS = 1 << 3
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFA_ADDRESS = 1
IFA_LOCAL = 2
RT_SCOPE_UNIVERSE = 0
RTN_UNICAST = 1
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6
RTA_TABLE = 15
NDA_DST = 1
NDA_LLADDR = 2
NUD_PERMANENT = 0x80
#: an FDB entry of the device itself (a VXLAN device's), not of the bridge it is a port of
NTF_SELF = 0x02
USER_HZ = 100

_NLH = struct.Struct("=IHHII")
_RTA = struct.Struct("=HH")
_IFI = struct.Struct("=BxHiII")  # struct ifinfomsg: family, type, index, flags, change
_IFA = struct.Struct("=BBBBI")  # struct ifaddrmsg: family, prefixlen, flags, scope, index
_RTM = struct.Struct("=BBBBBBBBI")  # struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_NDM = struct.Struct("=BBHiHBB")  # struct ndmsg: family, pad, pad, ifindex, state, flags, type
_U8 = struct.Struct("=B")
_U32 = struct.Struct("=I")
_S32 = struct.Struct("=i")
_BE16 = struct.Struct("!H")

#: the IFLA_INFO_DATA values :func:`decode_link` returns, per kind: ``{type: (key, decoder)}``
#: (values as :func:`_kernel.iproute.decode_link` makes them of pyroute2's messages)
_BRIDGE_DATA = {1: "forward_delay", 4: "ageing_time", 5: "stp"}
_VXLAN_DATA = {1: "vni", 2: "group", 3: "dev", 4: "local", 7: "learning", 11: "proxy", 15: "port"}


def _attr(atype, value):
    """One netlink attribute: header, value, padding to 4 bytes."""
    return _RTA.pack(4 + len(value), atype) + value + b"\0" * ((4 - len(value) % 4) % 4)


def _c_string(text):
    """A name or alias as a NUL-terminated attribute value."""
    return (text.encode("utf-8") if isinstance(text, str) else bytes(text)) + b"\0"


def _mac_bytes(mac):
    """``"02:00:0a:00:00:02"`` as its 6 bytes."""
    return bytes(int(part, 16) for part in mac.split(":"))


def _ignore(*unused):
    """The collector of a request whose only answer is its acknowledgement."""


def _attrs(data, at, end):
    """``(type, offset of the value, length of the value)`` of each netlink attribute in
    ``data[at:end]`` (the walk every dump here does; the type without its nested/byte-order
    flags)."""
    while at + 4 <= end:
        alen, atype = _RTA.unpack_from(data, at)
        if alen < 4:
            return
        yield atype & NLA_TYPE_MASK, at + 4, alen - 4
        at += (alen + 3) & ~3


def _text(data, at, length):
    """A NUL-terminated attribute value as text (a qdisc's or filter's kind)."""
    return data[at:at + length].split(b"\0", 1)[0].decode("ascii", "replace")


def _string(data, at, length):
    """A NUL-terminated UTF-8 attribute value (a name, an alias) as pyroute2 decodes it: text,
    or the bytes when they are not UTF-8."""
    raw = bytes(data[at:at + length]).split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _mac_text(raw):
    return bytes(raw).hex(":")


def _ip_text(data, at, length):
    """An IPv4 (4 bytes) or IPv6 (16) address value as text."""
    return socket.inet_ntop(socket.AF_INET6 if length > 8 else socket.AF_INET, bytes(data[at:at + length]))


def _u32(data, at, length):
    return _U32.unpack_from(data, at)[0]


def _data_bytes(key, value):
    """The attribute value of one IFLA_INFO_DATA entry of :data:`_BRIDGE_DATA` or
    :data:`_VXLAN_DATA` (what :func:`_data_value` reads)."""
    if key in ("group", "local"):
        return socket.inet_aton(value)
    if key == "port":
        return _BE16.pack(value)
    if key in ("learning", "proxy"):
        return _U8.pack(value)
    return _U32.pack(value)


def _link_info(kind, values):
    """IFLA_LINKINFO of a bridge or VXLAN device: its kind and the IFLA_INFO_DATA ``values``
    (``{key of _BRIDGE_DATA / _VXLAN_DATA: value}``, None values left out)."""
    table = {"bridge": _BRIDGE_DATA, "vxlan": _VXLAN_DATA}[kind]
    data = b"".join(_attr(atype, _data_bytes(key, values[key]))
                    for atype, key in sorted(table.items()) if values.get(key) is not None)
    return _attr(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, _c_string(kind)) + _attr(IFLA_INFO_DATA, data))


def fdb_body(ifindex, mac, dst):
    """The body of a VXLAN device's own FDB entry ``mac`` -> ``dst`` (``bridge fdb ... self``)."""
    return _NDM.pack(AF_BRIDGE, 0, 0, ifindex, NUD_PERMANENT, NTF_SELF, 0) \
        + _attr(NDA_LLADDR, _mac_bytes(mac)) + _attr(NDA_DST, socket.inet_aton(dst))


def _data_value(key, data, at, length):
    if key in ("group", "local"):
        return _ip_text(data, at, length)
    if key == "port":
        return _BE16.unpack_from(data, at)[0]
    if key in ("learning", "proxy"):
        return _U8.unpack_from(data, at)[0]
    return _u32(data, at, length)


#: the attributes of a link that :func:`decode_link` reads (the others are stepped over)
_LINK_ATTRS = frozenset((IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS,
                         IFLA_LINK_NETNSID))


def decode_link(data, at, end):
    """One RTM_NEWLINK message's body (``data[at:end]``, after the netlink header) as the plain
    dict of :func:`_kernel.iproute.decode_link`."""
    dummy, dummy2, index, flags, dummy3 = _IFI.unpack_from(data, at)
    link = {"index": index, "ifname": None, "kind": None, "alias": None, "mtu": None,
            "up": bool(flags & IFF_UP), "master": None, "mac": None, "link": None, "link_netnsid": None}
    info = None
    # the walk of _attrs, inlined: a pnode's link dump holds ~50 attributes per link
    unpack = _RTA.unpack_from
    wanted = _LINK_ATTRS
    a = at + _IFI.size
    while a + 4 <= end:
        alen, atype = unpack(data, a)
        if alen < 4:
            break
        atype &= NLA_TYPE_MASK
        if atype in wanted:
            v, vlen = a + 4, alen - 4
            if atype == IFLA_IFNAME:
                link["ifname"] = _string(data, v, vlen)
            elif atype == IFLA_ADDRESS:
                link["mac"] = _mac_text(data[v:v + min(vlen, 6)]) or None
            elif atype == IFLA_MTU:
                link["mtu"] = _u32(data, v, vlen)
            elif atype == IFLA_LINK:
                link["link"] = _u32(data, v, vlen)
            elif atype == IFLA_MASTER:
                link["master"] = _u32(data, v, vlen)
            elif atype == IFLA_IFALIAS:
                link["alias"] = _string(data, v, vlen)
            elif atype == IFLA_LINK_NETNSID:
                link["link_netnsid"] = _S32.unpack_from(data, v)[0]
            else:
                for btype, b, blen in _attrs(data, v, v + vlen):
                    if btype == IFLA_INFO_KIND:
                        link["kind"] = _string(data, b, blen)
                    elif btype == IFLA_INFO_DATA:
                        info = (b, blen)
        a += (alen + 3) & ~3
    table = {"bridge": _BRIDGE_DATA, "vxlan": _VXLAN_DATA}.get(link["kind"])
    if table is not None:
        values = {}
        if info is not None:
            for ctype, c, clen in _attrs(data, info[0], info[0] + info[1]):
                if ctype in table:
                    values[table[ctype]] = _data_value(table[ctype], data, c, clen)
        if link["kind"] == "bridge":
            link["ageing_time"] = (values.get("ageing_time") or 0) // USER_HZ
            link["forward_delay"] = (values.get("forward_delay") or 0) // USER_HZ
            link["stp"] = bool(values.get("stp"))
        else:
            for key in ("vni", "port", "local", "group", "dev"):
                link[key] = values.get(key)
            link["learning"] = bool(values.get("learning"))
            link["proxy"] = bool(values.get("proxy"))
    return link


class RawSocket(Closing):
    """A plain rtnetlink socket of the thread's current namespace: requests and readers."""

    #: what a request the kernel refuses raises, as ``ERROR(code, text)``
    ERROR = OSError
    #: large socket buffers (``SO_RCVBUFFORCE``), for bulk writes and their acknowledgements
    BULK = False

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        try:
            self.sock.bind((0, 0))
            self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
            if self.BULK:
                # SO_RCVBUFFORCE / SO_SNDBUFFORCE need root; else the plain sizes, capped by the kernel
                for forced, plain in ((33, socket.SO_RCVBUF), (32, socket.SO_SNDBUF)):
                    try:
                        self.sock.setsockopt(socket.SOL_SOCKET, forced, 8 * 1024 * 1024)
                    except OSError:
                        self.sock.setsockopt(socket.SOL_SOCKET, plain, 1024 * 1024)
        except Exception:
            self.sock.close()
            raise
        self.seq = 0

    def close(self):
        self.sock.close()

    def _recv_until(self, seq, collect=None):
        """Read replies until the ACK/DONE of ``seq``; return ``[(seq, errno)]`` of failures."""
        errors = []
        while True:
            data = self.sock.recv(4 * 1024 * 1024)
            off = 0
            while off + _NLH.size <= len(data):
                length, kind, dummy, mseq, dummy2 = _NLH.unpack_from(data, off)
                if length < _NLH.size:
                    raise OSError(errno.EPROTO, "truncated netlink message")
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, off + _NLH.size)[0]
                    if code:
                        if mseq == seq and collect is not None:
                            raise self.ERROR(code, os.strerror(code))
                        errors.append((mseq, code))
                    if mseq == seq:
                        return errors
                elif kind == NLMSG_DONE and mseq == seq:
                    return errors
                elif collect is not None:
                    collect(data, off, length, kind)
                off += (length + 3) & ~3

    def _request(self, kind, flags, body, collect):
        """Send one request (a dump with ``NLM_F_DUMP``, else acknowledged) and read its replies:
        ``collect(data, off, length, kind)`` sees each message; a refusal raises :attr:`ERROR`."""
        self.seq += 1
        self.sock.send(_NLH.pack(_NLH.size + len(body), kind, flags, self.seq, 0) + body)
        self._recv_until(self.seq, collect)

    def _dump(self, kind, body, want, decode):
        """``[decode(data, body offset, end)]`` of the messages of type ``want`` of one dump."""
        out = []

        def collect(data, off, length, mkind):
            if mkind == want:
                item = decode(data, off + _NLH.size, off + length)
                if item is not None:
                    out.append(item)

        self._request(kind, NLM_F_REQUEST | NLM_F_DUMP, body, collect)
        return out

    # writers: what vnodes, bridges and VXLAN devices are made of ---------------------------

    def _ack(self, kind, flags, body):
        """One acknowledged request; a refusal raises :attr:`ERROR`."""
        self._request(kind, NLM_F_REQUEST | NLM_F_ACK | flags, body, _ignore)

    def set_alias(self, index, alias):
        """Set the alias of interface ``index`` (one acknowledged request)."""
        self.link_set(index, ifalias=alias)

    def link_set(self, index, state=None, ifalias=None, mtu=None, address=None, master=None):
        """Change interface ``index`` in one request: ``state`` "up"/"down", its alias, MTU, MAC,
        bridge (``master``; 0 releases it)."""
        flags = change = 0
        if state is not None:
            if state not in ("up", "down"):
                raise ValueError("link state %r is neither 'up' nor 'down'" % (state,))
            change = IFF_UP
            flags = IFF_UP if state == "up" else 0
        body = _IFI.pack(socket.AF_UNSPEC, 0, index, flags, change)
        if ifalias is not None:
            body += _attr(IFLA_IFALIAS, _c_string(ifalias))
        if mtu is not None:
            body += _attr(IFLA_MTU, _U32.pack(mtu))
        if address is not None:
            body += _attr(IFLA_ADDRESS, _mac_bytes(address))
        if master is not None:
            body += _attr(IFLA_MASTER, _U32.pack(master))
        self._ack(RTM_NEWLINK, 0, body)

    def link_no_ipv6_addresses(self, index):
        """IPv6 address generation "none" on interface ``index`` (``addrgenmode none``)."""
        mode = _attr(IFLA_AF_SPEC, _attr(socket.AF_INET6, _attr(IFLA_INET6_ADDR_GEN_MODE, _U8.pack(1))))
        self._ack(RTM_NEWLINK, 0, _IFI.pack(socket.AF_UNSPEC, 0, index, 0, 0) + mode)

    def add_veth_into(self, host_if, peer_netns_fd, peer_ifname, peer_mac=None, mtu=None, master=None):
        """A veth ``host_if`` here whose peer ``peer_ifname`` is created directly inside the
        namespace open as ``peer_netns_fd`` (with its MAC and MTU), enslaved to ``master``."""
        peer = _IFI.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _c_string(peer_ifname))
        if peer_mac:
            peer += _attr(IFLA_ADDRESS, _mac_bytes(peer_mac))
        if mtu:
            peer += _attr(IFLA_MTU, _U32.pack(mtu))
        peer += _attr(IFLA_NET_NS_FD, _U32.pack(peer_netns_fd))
        body = _IFI.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _c_string(host_if))
        if mtu:
            body += _attr(IFLA_MTU, _U32.pack(mtu))
        if master:
            body += _attr(IFLA_MASTER, _U32.pack(master))
        body += _attr(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, b"veth\0") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer)))
        self._ack(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_link(self, ifname, kind, values, mtu=None, address=None):
        """A bridge or VXLAN device ``ifname`` with its IFLA_INFO_DATA ``values`` (see
        :func:`_link_info`), MTU and MAC."""
        body = _IFI.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _c_string(ifname))
        if mtu:
            body += _attr(IFLA_MTU, _U32.pack(mtu))
        if address:
            body += _attr(IFLA_ADDRESS, _mac_bytes(address))
        self._ack(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body + _link_info(kind, values))

    def change_link(self, index, kind, values):
        """Change IFLA_INFO_DATA ``values`` of the bridge or VXLAN device ``index``."""
        self._ack(RTM_NEWLINK, 0, _IFI.pack(socket.AF_UNSPEC, 0, index, 0, 0) + _link_info(kind, values))

    def fdb_append(self, ifindex, mac, dst):
        """Append the FDB entry ``mac`` -> ``dst`` of device ``ifindex`` itself (``bridge fdb append``)."""
        self._ack(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, fdb_body(ifindex, mac, dst))

    def fdb_del(self, ifindex, mac, dst):
        """Delete the FDB entry ``mac`` -> ``dst`` of device ``ifindex`` itself."""
        self._ack(RTM_DELNEIGH, 0, fdb_body(ifindex, mac, dst))

    def link_del(self, index):
        """Delete interface ``index``."""
        self._ack(RTM_DELLINK, 0, _IFI.pack(socket.AF_UNSPEC, 0, index, 0, 0))

    def addr_add(self, index, cidr):
        """Add the IPv4 address ``a.b.c.d/len`` to interface ``index``."""
        address, prefixlen = cidr.split("/")
        packed = socket.inet_aton(address)
        body = _IFA.pack(socket.AF_INET, int(prefixlen), 0, 0, index) + _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
        self._ack(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def route_replace(self, dest, gateway, proto, table=RT_TABLE_MAIN):
        """Add or replace the IPv4 unicast route to ``dest`` (``a.b.c.d/len``) via ``gateway``."""
        address, dummy, length = dest.partition("/")
        dst_len = int(length) if length else 32
        body = _RTM.pack(socket.AF_INET, dst_len, 0, 0, table if table < 256 else 0, proto, RT_SCOPE_UNIVERSE,
                         RTN_UNICAST, 0)
        if dst_len:
            body += _attr(RTA_DST, socket.inet_aton(address))
        if gateway:
            body += _attr(RTA_GATEWAY, socket.inet_aton(gateway))
        body += _attr(RTA_TABLE, _U32.pack(table))
        self._ack(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body)

    # readers (the dicts of _kernel.iproute.Netlink's readers) -----------------------------

    def links(self):
        """``{ifname: link dict}`` of every interface of the namespace (one dump, without the
        interfaces' statistics: less for the kernel to gather and to send)."""
        body = _IFI.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))
        return dict((lk["ifname"], lk) for lk in self._dump(RTM_GETLINK, body, RTM_NEWLINK, decode_link))

    def link(self, ifname):
        """The link dict of one interface by name (one message, no dump), None when absent."""
        name = ifname.encode("utf-8") if isinstance(ifname, str) else bytes(ifname or b"")
        if not name or len(name) >= IFNAMSIZ or b"\0" in name:
            return None
        body = _IFI.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, name + b"\0")
        found = []

        def collect(data, off, length, kind):
            if kind == RTM_NEWLINK:
                found.append(decode_link(data, off + _NLH.size, off + length))

        try:
            self._request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, body, collect)
        except self.ERROR as exc:
            if error_code(exc) in (errno.ENODEV, errno.ENOENT):
                return None
            raise
        # the kernel also finds a link by one of its alternative names: only the name itself counts
        return found[0] if found and found[0]["ifname"] == ifname else None

    def addresses(self, family=socket.AF_INET):
        """``{ifindex: sorted ["a.b.c.d/len", ...]}`` (IPv4 by default, one dump)."""
        def decode(data, at, end):
            dummy, prefixlen, dummy2, dummy3, index = _IFA.unpack_from(data, at)
            address = None
            for atype, a, alen in _attrs(data, at + _IFA.size, end):
                if atype == IFA_ADDRESS:
                    address = _ip_text(data, a, alen)
            return index, "%s/%d" % (address, prefixlen)

        out = {}
        for index, cidr in self._dump(RTM_GETADDR, _IFA.pack(family, 0, 0, 0, 0), RTM_NEWADDR, decode):
            out.setdefault(index, []).append(cidr)
        for v in out.values():
            v.sort()
        return out

    def routes(self, table=RT_TABLE_MAIN, family=socket.AF_INET):
        """Routes of ``table`` as dicts ``{dest, gateway, oif, proto, priority, type}`` (one dump)."""
        def decode(data, at, end):
            dummy, dst_len, dummy2, dummy3, rtable, proto, dummy4, rtype, dummy5 = _RTM.unpack_from(data, at)
            r = {"dest": None, "gateway": None, "oif": None, "proto": proto, "priority": 0, "type": rtype}
            for atype, a, alen in _attrs(data, at + _RTM.size, end):
                if atype == RTA_TABLE:
                    rtable = _u32(data, a, alen) or rtable
                elif atype == RTA_DST:
                    r["dest"] = "%s/%d" % (_ip_text(data, a, alen), dst_len)
                elif atype == RTA_GATEWAY:
                    r["gateway"] = _ip_text(data, a, alen)
                elif atype == RTA_OIF:
                    r["oif"] = _u32(data, a, alen)
                elif atype == RTA_PRIORITY:
                    r["priority"] = _u32(data, a, alen)
            if rtable != table:
                return None
            r["dest"] = r["dest"] or "0.0.0.0/0"
            return r

        return self._dump(RTM_GETROUTE, _RTM.pack(family, 0, 0, 0, 0, 0, 0, 0, 0), RTM_NEWROUTE, decode)

    def fdb_of(self, indexes):
        """Forwarding-database entries of several (VXLAN) ports from one dump: ``{ifindex: [{mac,
        dst, state, flags}]}`` (every index given)."""
        out = dict((i, []) for i in indexes)
        if not out:
            return out

        def decode(data, at, end):
            dummy, dummy2, dummy3, index, state, flags, dummy4 = _NDM.unpack_from(data, at)
            if index not in out:
                return None
            entry = {"mac": "", "dst": None, "state": state, "flags": flags}
            for atype, a, alen in _attrs(data, at + _NDM.size, end):
                if atype == NDA_LLADDR:
                    entry["mac"] = _mac_text(data[a:a + alen])
                elif atype == NDA_DST:
                    entry["dst"] = _ip_text(data, a, alen)
            out[index].append(entry)
            return None

        self._dump(RTM_GETNEIGH, _NDM.pack(AF_BRIDGE, 0, 0, 0, 0, 0, 0), RTM_NEWNEIGH, decode)
        return out


def error_code(exc):
    """The errno of an :attr:`RawSocket.ERROR` (pyroute2's ``NetlinkError.code``, ``OSError.errno``)."""
    code = getattr(exc, "code", None)
    return code if code is not None else getattr(exc, "errno", None)
