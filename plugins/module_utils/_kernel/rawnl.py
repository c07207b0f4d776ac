# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Neighbour and FDB tables in bulk through a plain rtnetlink socket (private to the collection).

pyroute2 encodes and decodes one message in tens of microseconds; a pnode of a static-ARP platform
holds millions of entries, so these tables are read and written with messages packed with
``struct``: a dump parsed in place, and writes sent ~1,300 messages per ``sendmsg`` without
per-message acknowledgements (the kernel reports failures only; the last message of each batch
asks for an ACK, so every error of the batch has arrived when it does). The socket, its request
helper and its attribute walk are :mod:`_kernel.rawsock`'s. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import socket
import struct

from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.iproute import (
    NetlinkError,
    psched_ticks_per_us,
)
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.rawsock import (  # pylint: disable=unused-import
    _NDM,
    _NLH,
    _RTA,
    AF_BRIDGE,  # (the family of an FDB dump, for this module's callers)
    NDA_DST,
    NDA_LLADDR,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    NLM_F_REQUEST,
    NUD_PERMANENT,
    RTM_DELNEIGH,
    RTM_GETNEIGH,
    RTM_NEWNEIGH,
    RawSocket,
    _attr,
    _attrs,
    _mac_bytes,
    _mac_text,
    _text,
    fdb_body,
)

_TCM = struct.Struct("=BxxxiIII")  # struct tcmsg: family, ifindex, handle, parent, info
RTM_NEWQDISC = 36
RTM_GETQDISC = 38
RTM_NEWTFILTER = 44
RTM_GETTFILTER = 46
TCA_KIND = 1
TCA_OPTIONS = 2
TCA_U32_CLASSID = 1
TCA_U32_SEL = 5
_U32_SEL = struct.Struct("=BBBxHHhhI")  # struct tc_u32_sel, without its keys
_U32_KEY = struct.Struct("!II")  # struct tc_u32_key: mask, val (network order), then off, offmask
_U32_KEY_OFF = struct.Struct("=ii")
RTM_DELTFILTER = 45
RTM_DELTCLASS = 41
ETH_P_IP = 0x0800
_BATCH_BYTES = 64 * 1024


def neigh_message(op, family, ifindex, ip, mac=None, state=NUD_PERMANENT, flags=0):
    """One packed RTM_NEWNEIGH (``op="replace"``) or RTM_DELNEIGH (``"del"``) message (bytes)."""
    attrs = _attr(NDA_DST, socket.inet_aton(ip))
    if mac is not None:
        attrs += _attr(NDA_LLADDR, _mac_bytes(mac))
    body = _NDM.pack(family, 0, 0, ifindex, state, flags, 0) + attrs
    if op == "replace":
        kind, nflags = RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE
    elif op == "del":
        kind, nflags = RTM_DELNEIGH, NLM_F_REQUEST
    else:
        raise ValueError("op=%r: replace or del" % (op,))
    return _NLH.pack(_NLH.size + len(body), kind, nflags, 0, 0) + body


TC_U32_TERMINAL = 1
NLA_F_NESTED = 0x8000


def u32_message(ifindex, parent, prio, classid, value, mask, off=16, protocol=ETH_P_IP):
    """One packed RTM_NEWTFILTER of a u32 filter: the 32 bits at ``off`` of the IPv4 header (16:
    the destination address) masked by ``mask`` equal ``value`` -> class ``classid``. The kernel
    files it in the hash table it makes for ``prio`` (``800:``), as ``tc filter add ... u32 match
    ip dst PREFIX flowid CLASSID`` does."""
    sel = _U32_SEL.pack(TC_U32_TERMINAL, 0, 1, 0, 0, 0, 0, 0) + _U32_KEY.pack(mask, value) + _U32_KEY_OFF.pack(off, 0)
    options = _attr(TCA_U32_CLASSID, struct.pack("=I", classid)) + _attr(TCA_U32_SEL, sel)
    attrs = _attr(TCA_KIND, b"u32\0") + _attr(TCA_OPTIONS | NLA_F_NESTED, options)
    body = _TCM.pack(socket.AF_UNSPEC, ifindex, 0, parent, (prio << 16) | socket.htons(protocol)) + attrs
    return _NLH.pack(_NLH.size + len(body), RTM_NEWTFILTER, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, 0, 0) + body


RTM_NEWTCLASS = 40
TCA_HTB_PARMS = 1
TCA_HTB_RATE64 = 6
TCA_HTB_CEIL64 = 7
TC_LINKLAYER_ETHERNET = 1
_RATESPEC = struct.Struct("=BBHhHI")  # struct tc_ratespec
_HTB_OPT_TAIL = struct.Struct("=IIIII")  # buffer, cbuffer, quantum, level, prio


def htb_class_message(op, ifindex, classid, parent, rate, ceil, burst, cburst, quantum):
    """One packed RTM_NEWTCLASS of an HTB class (``op``: ``add`` or ``change``); ``rate``/``ceil``
    and bursts in bytes (per second). The rates carry their link layer, so the kernel needs no
    rate table (pyroute2 encodes two tables of 256 words per class: ~2 ms a class)."""
    ticks = psched_ticks_per_us()

    def spec(r):
        return _RATESPEC.pack(0, TC_LINKLAYER_ETHERNET, 0, -1, 0, min(r, 0xFFFFFFFF))

    def xmit(size, r):
        return int(1e6 * size / r * ticks) if r else 0

    opt = spec(rate) + spec(ceil) + _HTB_OPT_TAIL.pack(xmit(burst, rate), xmit(cburst, ceil), quantum, 0, 0)
    options = _attr(TCA_HTB_PARMS, opt)
    if rate > 0xFFFFFFFF:
        options += _attr(TCA_HTB_RATE64, struct.pack("=Q", rate))
    if ceil > 0xFFFFFFFF:
        options += _attr(TCA_HTB_CEIL64, struct.pack("=Q", ceil))
    attrs = _attr(TCA_KIND, b"htb\0") + _attr(TCA_OPTIONS | NLA_F_NESTED, options)
    body = _TCM.pack(socket.AF_UNSPEC, ifindex, classid, parent, 0) + attrs
    flags = NLM_F_REQUEST | (NLM_F_CREATE | NLM_F_EXCL if op == "add" else 0)
    return _NLH.pack(_NLH.size + len(body), RTM_NEWTCLASS, flags, 0, 0) + body


def fdb_message(op, ifindex, mac, dst):
    """A VXLAN FDB entry of the device itself (``bridge fdb replace MAC dev VX dst IP self``)."""
    body = fdb_body(ifindex, mac, dst)
    kind, nflags = (RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE) if op == "replace" \
        else (RTM_DELNEIGH, NLM_F_REQUEST)
    return _NLH.pack(_NLH.size + len(body), kind, nflags, 0, 0) + body


def _neigh_entry(data, off, length):
    """``(ifindex, ip, mac, state, flags)`` of one RTM_NEWNEIGH message at ``off``."""
    dummy, dummy1, dummy2, idx, state, flags, dummy3 = _NDM.unpack_from(data, off + _NLH.size)
    ip = mac = None
    a = off + _NLH.size + _NDM.size
    end = off + length
    while a + 4 <= end:
        alen, atype = _RTA.unpack_from(data, a)
        if alen < 4:
            break
        if atype == NDA_DST and alen == 8:
            ip = socket.inet_ntoa(data[a + 4:a + 8])
        elif atype == NDA_LLADDR and alen == 10:
            mac = _mac_text(data[a + 4:a + 10])
        a += (alen + 3) & ~3
    return (idx, ip, mac, state, flags)


class RawNeigh(RawSocket):
    """A plain rtnetlink socket of the current namespace for neighbour/FDB tables in bulk.

    Create it inside the namespace to work on (``with switcher.inside(target): RawNeigh()``).
    Its socket buffers are large (bulk writes, their errors); a refused request raises
    pyroute2's NetlinkError. The request helper and the attribute walk are
    :class:`_kernel.rawsock.RawSocket`'s.
    """

    ERROR = NetlinkError
    BULK = True

    def dump(self, family, ifindex=0):
        """``[(ifindex, ip, mac, state, flags)]`` of the neighbour table (``family`` AF_INET) or of
        the FDB (AF_BRIDGE; ``ip`` is the VXLAN destination or None), only ``ifindex`` if given.

        The kernel walks its whole table for a dump, every namespace's entries and every bucket
        of a hash that never shrinks: its cost is the largest table this kernel has held, not this
        namespace's (see :meth:`get` for one entry)."""
        self.seq += 1
        body = _NDM.pack(family, 0, 0, 0, 0, 0, 0)
        self.sock.send(_NLH.pack(_NLH.size + len(body), RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP,
                                 self.seq, 0) + body)
        out = []

        def collect(data, off, length, kind):
            if kind == RTM_NEWNEIGH:
                entry = _neigh_entry(data, off, length)
                if not ifindex or entry[0] == ifindex:
                    out.append(entry)

        self._recv_until(self.seq, collect)
        return out

    def get(self, ifindex, ip):
        """The IPv4 neighbour entry of ``ip`` on ``ifindex`` as :meth:`dump` gives it, or None: one
        hash lookup in the kernel (``ip neigh get``), whatever the size of its table."""
        body = _NDM.pack(socket.AF_INET, 0, 0, ifindex, 0, 0, 0) + _attr(NDA_DST, socket.inet_aton(ip))
        out = []

        def collect(data, off, length, kind):
            if kind == RTM_NEWNEIGH:
                out.append(_neigh_entry(data, off, length))

        try:
            self._request(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_ACK, body, collect)
        except NetlinkError as exc:
            if exc.code == errno.ENOENT:
                return None
            raise
        return out[0] if out else None

    def qdisc_heads(self):
        """``[{"index", "kind", "handle", "parent"}]`` of every qdisc of the namespace, options not
        decoded: a cheap look (no pyroute2 socket) that tells whether a device has anything but
        its default qdisc before a full read with :meth:`Netlink.qdiscs`."""
        out = []

        def collect(data, off, length, kind):
            if kind != RTM_NEWQDISC:
                return
            dummy, idx, handle, parent, dummy2 = _TCM.unpack_from(data, off + _NLH.size)
            qkind = None
            for atype, at, alen in _attrs(data, off + _NLH.size + _TCM.size, off + length):
                if atype == TCA_KIND:
                    qkind = _text(data, at, alen)
                    break
            out.append({"index": idx, "kind": qkind, "handle": handle, "parent": parent})

        self._request(RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP, _TCM.pack(socket.AF_UNSPEC, 0, 0, 0, 0), collect)
        return out

    def u32_filters(self, ifindex, parent):
        """``[{"prio", "protocol", "handle", "classid", "keys": [(value, mask, off), ...]}]`` of the
        u32 filters of ``parent`` on ``ifindex`` (the hash-table entries left out): decoded here
        because pyroute2 0.9.7 reads the keys of ``tc_u32_sel`` 4 bytes off."""
        out = []

        def collect(data, off, length, kind):
            if kind != RTM_NEWTFILTER:
                return
            dummy, idx, handle, par, info = _TCM.unpack_from(data, off + _NLH.size)
            if idx != ifindex or par != parent:
                return
            fkind, classid, keys = None, None, None
            for atype, at, alen in _attrs(data, off + _NLH.size + _TCM.size, off + length):
                if atype == TCA_KIND:
                    fkind = _text(data, at, alen)
                elif atype == TCA_OPTIONS:
                    for btype, bt, blen in _attrs(data, at, at + alen):
                        if btype == TCA_U32_CLASSID and blen >= 4:
                            classid = struct.unpack_from("=I", data, bt)[0]
                        elif btype == TCA_U32_SEL and blen >= _U32_SEL.size:
                            keys = []
                            for k in range(_U32_SEL.unpack_from(data, bt)[2]):
                                key = bt + _U32_SEL.size + k * 16
                                mask, val = _U32_KEY.unpack_from(data, key)
                                keys.append((val, mask, _U32_KEY_OFF.unpack_from(data, key + 8)[0]))
            if fkind == "u32" and keys is not None:
                out.append({"prio": info >> 16, "protocol": socket.ntohs(info & 0xFFFF), "handle": handle,
                            "classid": classid, "keys": keys})

        self._request(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, _TCM.pack(socket.AF_UNSPEC, ifindex, 0, parent, 0),
                      collect)
        return out

    def delete_filters(self, ifindex, parent, prio, protocol=ETH_P_IP):
        """Delete every filter of priority ``prio`` (and ``protocol``) under ``parent``."""
        self._request(RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK,
                      _TCM.pack(socket.AF_UNSPEC, ifindex, 0, parent, (prio << 16) | socket.htons(protocol)),
                      lambda *a: None)

    def delete_class(self, ifindex, classid, parent):
        """Delete one traffic class (pyroute2 0.9.7 cannot encode an HTB class deletion)."""
        self._request(RTM_DELTCLASS, NLM_F_REQUEST | NLM_F_ACK, _TCM.pack(socket.AF_UNSPEC, ifindex, classid, parent, 0),
                      lambda *a: None)

    def send_bulk(self, messages):
        """Send packed messages in batches; return ``[(message position, errno)]`` of failures."""
        errors = []
        batch = []
        size = 0
        first = 0
        for pos, msg in enumerate(messages):
            batch.append(msg)
            size += len(msg)
            if size >= _BATCH_BYTES:
                errors.extend(self._send_batch(batch, first))
                first = pos + 1
                batch, size = [], 0
        if batch:
            errors.extend(self._send_batch(batch, first))
        return errors

    def _send_batch(self, batch, first):
        base = self.seq + 1
        parts = []
        for i, msg in enumerate(batch):
            flags = struct.unpack_from("=H", msg, 6)[0]
            if i == len(batch) - 1:
                flags |= NLM_F_ACK
            parts.append(msg[:6] + struct.pack("=HI", flags, base + i) + msg[12:])
        self.seq = base + len(batch) - 1
        self.sock.send(b"".join(parts))
        return [(first + mseq - base, code) for mseq, code in self._recv_until(self.seq)]
