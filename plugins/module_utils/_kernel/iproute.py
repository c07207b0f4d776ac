# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pyroute2 wrapper of the collection (private): the only file that imports pyroute2, and
only when something is written through it that the plain socket does not write
(:attr:`Netlink.ipr`, made on first use in the socket's own namespace: single neighbour
entries, routes deleted or unreachable, traffic control): the import costs ~0.15 s of CPU per module run,
which an idempotent re-run, whose reads all go through the plain socket, no longer pays.
pyroute2's ``NetlinkError`` is translated at this boundary into :class:`NetlinkError`, the one the
plain sockets raise.

* plain-data readers (:meth:`Netlink.links`, :meth:`Netlink.addresses`, :meth:`Netlink.routes`,
  :meth:`Netlink.fdb`) that turn netlink messages into small dicts the pure diff code compares:
  the links, addresses, routes and FDB entries are read on a plain socket opened beside
  pyroute2's (:class:`Reader`, see :mod:`_kernel.rawsock`: pyroute2 took ~0.6 s to decode the
  link dump of a pnode with 1,000 vnode veths); :func:`decode_link` is the same dict made of a
  pyroute2 message;
* the writers the apply phases call (``replace`` verbs where the kernel has them); those a vnode
  and a pnode's data plane are made of (veth, bridge, VXLAN device and its flood entries, link
  changes, address, route) on the plain socket (:class:`_kernel.rawsock.RawSocket`'s writers);
* :class:`NetnsSwitcher`: sockets of many named namespaces opened from one thread (``setns`` in
  and back, see :mod:`_kernel.netns`): a socket keeps the namespace it was created in, so no
  helper process is started per namespace (pyroute2 0.9.7 forks one child per
  ``IPRoute(netns=...)``: ~9 ms each against ~0.2 ms here); :meth:`NetnsSwitcher.reader` opens
  only the plain socket, for a namespace that is read and not changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import importlib.util
import os
import types

from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.netns import (
    Closing,
    NsSwitch,
    in_netns,
    netns_fd,
    netns_path,
)
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.rawsock import (  # pylint: disable=unused-import
    IFF_UP,
    NTF_SELF,  # (the neighbour and FDB flags are this module's names too)
    NUD_PERMANENT,
    RT_TABLE_MAIN,
    USER_HZ,
    RawSocket,
)

HAS_PYROUTE2 = importlib.util.find_spec("pyroute2") is not None
PYROUTE2_IMPORT_ERROR = None if HAS_PYROUTE2 else "No module named 'pyroute2'"


class NetlinkError(Exception):
    """A request the kernel refused: ``code`` is its errno (raised by the plain sockets, and for
    pyroute2's own ``NetlinkError``, translated by :class:`_Translated`)."""

    def __init__(self, code, msg=None):
        super(NetlinkError, self).__init__(code, msg)
        self.code = code


NTF_MASTER = 0x04
NUD_NOARP = 0x40
#: routing protocol number that marks routes installed by vxlab: free in /etc/iproute2/rt_protos
#: (186-198 are taken by bgp/isis/ospf/... routing daemons)
RTPROT_VXLAB = 251
ZERO_MAC = "00:00:00:00:00:00"


@contextlib.contextmanager
def unless(*codes):
    """Run the block; a NetlinkError whose code is one of ``codes`` (the kernel saying the object
    is already there, or already gone) is not an error."""
    try:
        yield
    except NetlinkError as exc:
        if exc.code not in codes:
            raise


def _pyroute2():
    """The pyroute2 package, imported on first use (see the module's docstring)."""
    import pyroute2  # pylint: disable=import-outside-toplevel

    return pyroute2


class _Translated:
    """pyroute2's ``IPRoute`` whose ``NetlinkError`` becomes :class:`NetlinkError`; generators it
    returns are read here, so that an error while reading is translated too."""

    def __init__(self, ipr):
        self._ipr = ipr
        self._error = _pyroute2().NetlinkError

    def __getattr__(self, name):
        attr = getattr(self._ipr, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                out = attr(*args, **kwargs)
                return list(out) if isinstance(out, types.GeneratorType) else out
            except self._error as exc:
                raise NetlinkError(exc.code, os.strerror(exc.code) if exc.code else str(exc))
        return call


def require_pyroute2():
    if not HAS_PYROUTE2:
        raise ImportError("the Python library pyroute2 is required on the managed node: %s"
                          % PYROUTE2_IMPORT_ERROR)


def validated(module, validate):
    """A module's parameters through its ``validate``, with pyroute2 present; else ``fail_json``.

    Every netlink module starts here, before it touches anything: ``validate`` raises a
    ``ValueError`` naming the bad value, a missing pyroute2 an ``ImportError``; either becomes the
    module's one failure message.
    """
    try:
        out = validate(module.params)
        require_pyroute2()
    except (ValueError, ImportError) as exc:
        module.fail_json(msg=str(exc))
    return out


# ----------------------------------------------------------------------------------------------
# message decoding


def _info_data(msg):
    li = msg.get_attr("IFLA_LINKINFO")
    if li is None:
        return None, {}
    kind = li.get_attr("IFLA_INFO_KIND")
    data = li.get_attr("IFLA_INFO_DATA")
    attrs = {}
    if data is not None and not isinstance(data, (str, bytes)):
        for item in data.get("attrs", []):
            attrs[item[0]] = item[1]
    return kind, attrs


def decode_link(msg):
    kind, data = _info_data(msg)
    link = {
        "index": msg["index"],
        "ifname": msg.get_attr("IFLA_IFNAME"),
        "kind": kind,
        "alias": msg.get_attr("IFLA_IFALIAS"),
        "mtu": msg.get_attr("IFLA_MTU"),
        "up": bool(msg["flags"] & IFF_UP),
        "master": msg.get_attr("IFLA_MASTER"),
        "mac": (msg.get_attr("IFLA_ADDRESS") or "").lower() or None,
        "link": msg.get_attr("IFLA_LINK"),
        "link_netnsid": msg.get_attr("IFLA_LINK_NETNSID"),
    }
    if kind == "bridge":
        link["ageing_time"] = (data.get("IFLA_BR_AGEING_TIME") or 0) // USER_HZ
        link["forward_delay"] = (data.get("IFLA_BR_FORWARD_DELAY") or 0) // USER_HZ
        link["stp"] = bool(data.get("IFLA_BR_STP_STATE"))
    elif kind == "vxlan":
        link["vni"] = data.get("IFLA_VXLAN_ID")
        link["port"] = data.get("IFLA_VXLAN_PORT")
        link["local"] = data.get("IFLA_VXLAN_LOCAL")
        link["group"] = data.get("IFLA_VXLAN_GROUP")
        link["dev"] = data.get("IFLA_VXLAN_LINK")
        link["learning"] = bool(data.get("IFLA_VXLAN_LEARNING"))
        link["proxy"] = bool(data.get("IFLA_VXLAN_PROXY"))
    return link


class Reader(RawSocket):
    """The plain socket of the readers (:class:`_kernel.rawsock.RawSocket`): a refused request
    raises pyroute2's NetlinkError, as the writers do."""

    ERROR = NetlinkError


class LinkCache:
    """One dump of a namespace's links, shared by the readers of several steps while none of them
    changes anything (see :func:`_runner.execute`): a pnode's link dump decodes every veth of its
    vnodes (~70 ms per 1,000), and each step of a data plane observes the links. Each reader gets
    its own copy of the dicts."""

    def __init__(self):
        self._links = None

    def links(self, reader):
        if self._links is None:
            self._links = reader.links()
        return dict((name, dict(lk)) for name, lk in self._links.items())

    def clear(self):
        self._links = None


class Netlink(Closing):
    """A route-netlink socket of one namespace, with plain-data readers and the writers.

    ``Netlink()`` opens a socket in this thread's current namespace (pyroute2's, for the writers
    and the traffic-control readers, and a plain :class:`Reader` beside it, both in that
    namespace); ``Netlink.of_netns(name)`` in the named namespace ``name`` without a helper
    process. Use as a context manager.
    """

    def __init__(self, _ipr=None):
        require_pyroute2()
        #: a :class:`LinkCache` that :meth:`links` reads through, while the runner allows it
        self.cache = None
        self.raw = Reader()
        self._ipr = _Translated(_ipr) if _ipr is not None else None
        # the namespace the pyroute2 socket will be made in, when first needed
        try:
            self._ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY) if _ipr is None else None
        except OSError:
            self.raw.close()
            raise

    @property
    def ipr(self):
        """pyroute2's socket, made on first use in this socket's namespace (whichever namespace
        the thread is in now)."""
        if self._ipr is None:
            sw = NsSwitch()
            try:
                sw.enter_fd(self._ns, "the socket's namespace")
                try:
                    self._ipr = _Translated(_pyroute2().IPRoute(groups=0))
                finally:
                    sw.back()
            finally:
                sw.close()
        return self._ipr

    @classmethod
    def of_netns(cls, name, switch=None):
        """Socket inside the named namespace; ``switch`` (a :class:`NetnsSwitcher`) is reused."""
        if switch is not None:
            return switch.open(name)
        with in_netns(name):
            return cls()

    def close(self):
        try:
            if self._ipr is not None:
                self._ipr.close()
        finally:
            try:
                if self._ns is not None:
                    os.close(self._ns)
                    self._ns = None
            finally:
                self.raw.close()

    # readers (on the plain socket, see Reader) ---------------------------------------------
    def links(self):
        """``{ifname: link dict}`` of every interface of the namespace (one dump, or the copy of
        one :attr:`cache` holds)."""
        if self.cache is not None:
            return self.cache.links(self.raw)
        return self.raw.links()

    def link(self, ifname):
        """The link dict of the interface named ``ifname``, None when there is none."""
        return self.raw.link(ifname)

    def addresses(self, family=2):
        """``{ifindex: sorted ["a.b.c.d/len", ...]}`` (IPv4 by default, one dump)."""
        return self.raw.addresses(family)

    def routes(self, table=RT_TABLE_MAIN, family=2):
        """IPv4 routes of ``table`` as dicts ``{dest, gateway, oif, proto, priority, type}``."""
        return self.raw.routes(table, family)

    def fdb(self, ifindex):
        """Forwarding-database entries of a (VXLAN) port: ``[{mac, dst, state, flags}]``."""
        return self.raw.fdb_of([ifindex])[ifindex]

    def fdb_of(self, indexes):
        """:meth:`fdb` of several ports in one dump: ``{ifindex: [entries]}`` (every index given)."""
        return self.raw.fdb_of(indexes)

    # writers -----------------------------------------------------------------------------
    def link_add(self, **kwargs):
        self.ipr.link("add", **kwargs)

    def link_set(self, index, state=None, ifalias=None, mtu=None, address=None, master=None):
        """Change an interface in one request (plain socket): ``state`` "up"/"down", alias, MTU,
        MAC, bridge (``master``; 0 releases it)."""
        self.raw.link_set(index, state=state, ifalias=ifalias, mtu=mtu, address=address, master=master)

    def link_set_alias(self, index, alias):
        """Set an interface's alias (plain socket)."""
        self.raw.set_alias(index, alias)

    def link_no_ipv6_addresses(self, index):
        """No IPv6 address generation on a (down) link (``addrgenmode none``): without a
        link-local address it sends no DAD, router solicitation or MLD report when it comes up,
        which a bridge would flood to every port. Netlink, not the ``disable_ipv6`` sysctl: a
        /proc/sys write in a new namespace costs ~50-100 ms once thousands of namespaces exist."""
        self.raw.link_no_ipv6_addresses(index)

    def link_del(self, index):
        with unless(errno.ENODEV):
            self.raw.link_del(index)

    def link_index(self, ifname):
        """The index of the interface named ``ifname`` (None: none), one request on the plain
        socket (pyroute2's ``link_lookup`` dumps every link: 0.75 ms per call beside 246 veths)."""
        link = self.raw.link(ifname)
        return link["index"] if link else None

    def add_bridge(self, ifname, alias, mtu=None, ageing_time=300, forward_delay=0, mac=None):
        # a fixed MAC (the given one, else a random locally administered one): otherwise the bridge
        # takes the lowest MAC of its ports and changes it whenever ports come and go, which
        # makes neighbours' ARP stale
        mac = mac or "02:%02x:%02x:%02x:%02x:%02x" % tuple(bytearray(os.urandom(5)))
        self.raw.add_link(ifname, "bridge", {"ageing_time": ageing_time * USER_HZ,
                                             "forward_delay": forward_delay * USER_HZ, "stp": 0},
                          mtu=mtu, address=mac)
        index = self.link_index(ifname)
        self.link_set(index, ifalias=alias)
        return index

    def set_bridge(self, index, ageing_time=None, forward_delay=None, stp=None):
        self.raw.change_link(index, "bridge", {
            "ageing_time": None if ageing_time is None else ageing_time * USER_HZ,
            "forward_delay": None if forward_delay is None else forward_delay * USER_HZ,
            "stp": None if stp is None else int(bool(stp))})

    def add_vxlan(self, ifname, alias, vni, port, dev_index, local=None, group=None,
                  learning=True, proxy=False, mtu=None):
        self.raw.add_link(ifname, "vxlan", {"vni": vni, "port": port, "dev": dev_index, "local": local or None,
                                            "group": group or None, "learning": int(bool(learning)),
                                            "proxy": int(bool(proxy))}, mtu=mtu)
        index = self.link_index(ifname)
        self.link_set(index, ifalias=alias)
        return index

    def set_vxlan_learning(self, index, learning):
        self.raw.change_link(index, "vxlan", {"learning": int(bool(learning))})

    def add_veth_into(self, host_if, alias, peer_netns_fd, peer_ifname="eth0", peer_mac=None,
                      mtu=None, master=None):
        """A veth whose peer is created directly inside another namespace (given by an open fd)."""
        # (the kernel ignores IFLA_IFALIAS on creation: callers set ``alias`` afterwards)
        self.raw.add_veth_into(host_if, peer_netns_fd, peer_ifname, peer_mac=peer_mac, mtu=mtu, master=master)

    def addr_add(self, index, cidr):
        with unless(errno.EEXIST):
            self.raw.addr_add(index, cidr)

    def addr_del(self, index, cidr):
        address, prefixlen = cidr.split("/")
        with unless(errno.EADDRNOTAVAIL, errno.ENOENT):
            self.ipr.addr("del", index=index, address=address, prefixlen=int(prefixlen))

    def route_replace(self, dest, gateway, proto=RTPROT_VXLAB, table=RT_TABLE_MAIN):
        self.raw.route_replace(dest, gateway, proto, table)

    def route_unreachable(self, dest, proto=RTPROT_VXLAB, table=RT_TABLE_MAIN):
        """An ``unreachable`` route to ``dest`` (replacing any route to it)."""
        self.ipr.route("replace", dst=dest, type="unreachable", proto=proto, table=table)

    def route_del(self, dest, proto=None, gateway=None, table=RT_TABLE_MAIN):
        kw = dict(dst=dest, table=table)
        if proto is not None:
            kw["proto"] = proto
        if gateway:
            kw["gateway"] = gateway
        with unless(errno.ESRCH):
            self.ipr.route("del", **kw)

    def fdb_append(self, ifindex, mac, dst):
        with unless(errno.EEXIST):
            self.raw.fdb_append(ifindex, mac, dst)

    def fdb_del(self, ifindex, mac, dst):
        with unless(errno.ENOENT, errno.ESRCH):
            self.raw.fdb_del(ifindex, mac, dst)

    def neigh_replace(self, ifindex, ip, mac):
        self.ipr.neigh("replace", dst=ip, lladdr=mac, ifindex=ifindex, state="permanent")

    def netnsid_of(self, name):
        """The nsid this namespace gives the named namespace ``name`` (None when unassigned)."""
        fd = os.open(netns_path(name), os.O_RDONLY)
        try:
            r = self.ipr.get_netnsid(fd=fd)
        finally:
            os.close(fd)
        nsid = r.get("nsid") if r else None
        return None if nsid is None or nsid < 0 else nsid

    # traffic control ----------------------------------------------------------------------
    def qdiscs(self, index):
        """Qdiscs of one interface as dicts ``{kind, handle, parent, ...}``: tbf gives ``rate``
        (bytes/s) and ``limit`` (bytes), netem ``delay``/``jitter`` (us), ``loss`` (%), ``limit``."""
        return self.qdiscs_by_index().get(index, [])

    def qdiscs_by_index(self):
        """``{ifindex: [qdisc, ...]}`` of every interface of the namespace, from ONE dump (the
        kernel dumps every qdisc of the namespace whatever index is asked: a dump per interface
        would cost O(interfaces^2) with thousands of vnode veths)."""
        out = {}
        for m in self.ipr.get_qdiscs():
            q = {"kind": m.get_attr("TCA_KIND"), "handle": m["handle"], "parent": m["parent"]}
            q.update(decode_qdisc_options(q["kind"], m.get_attr("TCA_OPTIONS")))
            out.setdefault(m["index"], []).append(q)
        return out

    def qdisc_add(self, index, q):
        """Add one qdisc of a plan (``{kind, handle, parent, ...}`` as _link_shaping builds it)."""
        if q["kind"] == "tbf":
            self.ipr.tc("add", "tbf", index, handle=q["handle"], parent=q["parent"], rate=q["rate"],
                        burst=q["burst"], limit=q["limit"])
        elif q["kind"] == "netem":
            kw = dict(handle=q["handle"], parent=q["parent"], limit=q["limit"])
            for k in ("delay", "jitter", "loss"):
                if q.get(k):
                    kw[k] = q[k]
            self.ipr.tc("add", "netem", index, **kw)
        else:
            raise ValueError("qdisc kind %r is not supported" % (q["kind"],))

    def htb_root(self, index, handle, default):
        """An HTB root qdisc ``handle`` whose unclassified traffic goes to class minor ``default``."""
        self.ipr.tc("add", "htb", index, handle, default=default)

    def htb_classes(self, index):
        """HTB classes of one interface: ``[{handle, parent, rate, ceil}]`` (bytes/s)."""
        out = []
        for m in self.ipr.get_classes(index):
            if m.get_attr("TCA_KIND") != "htb":
                continue
            parms = (m.get_attr("TCA_OPTIONS") or {}).get_attr("TCA_HTB_PARMS") or {}
            out.append({"handle": m["handle"], "parent": m["parent"], "rate": parms.get("rate"),
                        "ceil": parms.get("ceil")})
        return out

    def qdisc_del_root(self, index):
        try:
            self.ipr.tc("del", index=index, handle=0, parent=0xFFFFFFFF)
        except NetlinkError as exc:
            # ENOENT/EINVAL: only the default qdisc is there
            if exc.code not in (errno.ENOENT, errno.EINVAL):
                raise

    def neighbours(self, ifindex=None):
        out = []
        for m in self.ipr.get_neighbours(family=2):
            if ifindex is not None and m["ifindex"] != ifindex:
                continue
            out.append({"ip": m.get_attr("NDA_DST"), "mac": (m.get_attr("NDA_LLADDR") or "").lower(),
                        "ifindex": m["ifindex"], "state": m["state"]})
        return out


def psched_ticks_per_us():
    try:
        with open("/proc/net/psched") as f:
            t2us, us2t = [int(x, 16) for x in f.read().split()[:2]]
        return float(t2us) / us2t
    except (OSError, ValueError, ZeroDivisionError):
        return 1.0


def decode_qdisc_options(kind, opts):
    """Plain values of a tbf/netem TCA_OPTIONS as pyroute2 decodes it (pure, unit-tested)."""
    if opts is None or isinstance(opts, (str, bytes)):
        return {}
    if kind == "tbf":
        attrs = dict(opts.get("attrs", []))
        parms = attrs.get("TCA_TBF_PARMS") or {}
        rate = attrs.get("TCA_TBF_RATE64") or parms.get("rate", 0)
        return {"rate": rate, "limit": parms.get("limit", 0)}
    if kind == "netem":
        ticks = psched_ticks_per_us()
        attrs = dict(opts.get("attrs", []))
        delay = opts.get("delay", 0) / ticks
        jitter = opts.get("jitter", 0) / ticks
        if attrs.get("TCA_NETEM_LATENCY64") is not None:
            delay = attrs["TCA_NETEM_LATENCY64"] / 1000.0
        if attrs.get("TCA_NETEM_JITTER64") is not None:
            jitter = attrs["TCA_NETEM_JITTER64"] / 1000.0
        loss = round(opts.get("loss", 0) * 100.0 / 0xFFFFFFFF, 4)
        return {"delay": int(round(delay)), "jitter": int(round(jitter)), "loss": loss,
                "limit": opts.get("limit", 0)}
    return {}


class NetnsSwitcher(Closing):
    """Open sockets in many named namespaces from one thread, one ``setns`` pair per namespace.

    The vnodes module reads and configures hundreds of namespaces this way in one process.
    """

    def __init__(self):
        require_pyroute2()
        self._sw = NsSwitch()

    def fd(self, name):
        """An open fd of the named namespace (caller closes it)."""
        return os.open(netns_path(name), os.O_RDONLY)

    def open(self, name):
        """A :class:`Netlink` (readers and writers) inside the named namespace."""
        return self._open(name, Netlink)

    def reader(self, name):
        """Only the plain :class:`Reader` inside the named namespace (no pyroute2 socket): its
        ``links()``, ``link()``, ``addresses()``, ``routes()`` are :class:`Netlink`'s."""
        return self._open(name, Reader)

    def _open(self, name, cls):
        fd = self.fd(name)
        try:
            self._sw.enter_fd(fd, name)
            try:
                return cls()
            finally:
                self._sw.back()
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def inside(self, target):
        """Run the block inside a namespace given by name, PID or path (see :func:`netns_fd`)."""
        fd = netns_fd(target)
        try:
            self._sw.enter_fd(fd, str(target))
            try:
                yield
            finally:
                self._sw.back()
        finally:
            os.close(fd)

    def close(self):
        self._sw.close()


def error_text(exc):
    """A short text for a NetlinkError/OSError: ``"17 File exists"``."""
    code = getattr(exc, "code", None)
    if code is None:
        code = getattr(exc, "errno", None)
    if code:
        return "%s (%s)" % (os.strerror(code), errno.errorcode.get(code, code))
    return str(exc)
