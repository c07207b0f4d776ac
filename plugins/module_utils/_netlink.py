# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink access for the vxlab modules (private to the vxlab.emulation collection).

The only file of the collection that imports pyroute2. It offers:

* plain-data readers (:meth:`Netlink.links`, :meth:`Netlink.addresses`, :meth:`Netlink.routes`,
  :meth:`Netlink.fdb`) that turn netlink messages into small dicts the pure diff code compares;
* the writers the apply phases call (``replace`` verbs where the kernel has them);
* named network namespaces (create/delete/list) done inside this process: a namespace is created
  by ``unshare(CLONE_NEWNET)`` + a bind mount, and a netlink socket of a namespace is opened by
  ``setns`` into it, creating the socket, and ``setns`` back. A socket keeps the namespace it was
  created in, so no helper process is started per namespace (pyroute2 0.9.7 forks one child per
  ``IPRoute(netns=...)``: ~9 ms each against ~0.2 ms here).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import ctypes
import errno
import os
import socket
import struct

try:
    from pyroute2 import IPRoute, NetlinkError

    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - pinned in requirements.txt
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = str(exc)

    class NetlinkError(Exception):
        def __init__(self, code, msg=None):
            super(NetlinkError, self).__init__(code, msg)
            self.code = code

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
MNT_DETACH = 2
IFF_UP = 0x1
NTF_SELF = 0x02
NTF_MASTER = 0x04
NUD_PERMANENT = 0x80
NUD_NOARP = 0x40
#: routing protocol number that marks routes installed by vxlab: free in /etc/iproute2/rt_protos
#: (186-198 are taken by bgp/isis/ospf/... routing daemons)
RTPROT_VXLAB = 251
RT_TABLE_MAIN = 254
USER_HZ = 100
ZERO_MAC = "00:00:00:00:00:00"

_libc = None


def _get_libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class NetnsError(OSError):
    """A namespace operation failed; ``str()`` names the namespace."""


def _check(ret, what, name):
    if ret != 0:
        err = ctypes.get_errno()
        raise NetnsError(err, "%s %s: %s" % (what, name, os.strerror(err)))


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
# named network namespaces


def netns_path(name):
    return os.path.join(NETNS_RUN_DIR, name)


def netns_list():
    """Names of the named network namespaces (``ip netns list``), sorted."""
    try:
        return sorted(n for n in os.listdir(NETNS_RUN_DIR) if not n.startswith("."))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise


def netns_exists(name):
    return os.path.exists(netns_path(name))


def _prepare_run_dir():
    """Make /run/netns a shared mount point, as iproute2 does, so bind mounts propagate."""
    libc = _get_libc()
    try:
        os.makedirs(NETNS_RUN_DIR, 0o755)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    d = NETNS_RUN_DIR.encode()
    if libc.mount(b"none", d, b"none", MS_SHARED | MS_REC, None) != 0:
        _check(libc.mount(d, d, b"none", MS_BIND | MS_REC, None), "bind-mount", NETNS_RUN_DIR)
        _check(libc.mount(b"none", d, b"none", MS_SHARED | MS_REC, None), "share", NETNS_RUN_DIR)


class _NsSwitch:
    """Move this thread into another network namespace and back (``setns``)."""

    def __init__(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)

    def enter_fd(self, fd, name):
        _check(_get_libc().setns(fd, CLONE_NEWNET), "setns into", name)

    def back(self):
        _check(_get_libc().setns(self.home, CLONE_NEWNET), "setns back from", "namespace")

    def close(self):
        os.close(self.home)


#: IFLA_AF_SPEC of an IPv6 address generation mode "none" (IN6_ADDR_GEN_MODE_NONE = 1)
_AF_SPEC_NO_IPV6_ADDRESSES = {"attrs": [["AF_INET6", {"attrs": [["IFLA_INET6_ADDR_GEN_MODE", 1]]}]]}


def netns_create(name, sysctls=None):
    """Create the named network namespace ``name`` (like ``ip netns add``), in this process.

    ``sysctls`` (``{"net.ipv6.conf.default.disable_ipv6": "1"}``) are written inside the new
    namespace before anything else is created in it.
    """
    _prepare_run_dir()
    path = netns_path(name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    sw = _NsSwitch()
    libc = _get_libc()
    try:
        try:
            _check(libc.unshare(CLONE_NEWNET), "unshare for", name)
            _check(libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
                   "bind-mount namespace", name)
            for key, value in sorted((sysctls or {}).items()):
                sysctl_set(key, value)
        finally:
            sw.back()
    except Exception:
        libc.umount2(path.encode(), MNT_DETACH)
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    finally:
        sw.close()


def netns_delete(name):
    """Delete the named namespace (``ip netns del``); the kernel frees it when unused."""
    path = netns_path(name)
    _get_libc().umount2(path.encode(), MNT_DETACH)
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def netns_pids(name):
    """PIDs of processes whose network namespace is the named namespace ``name``."""
    try:
        ino = os.stat(netns_path(name)).st_ino
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat("/proc/%s/ns/net" % entry).st_ino == ino:
                pids.append(int(entry))
        except OSError:
            continue
    return sorted(pids)


def current_netns_id():
    """Inode number of this thread's network namespace (identifies it in state files)."""
    return os.stat("/proc/thread-self/ns/net").st_ino


@contextlib.contextmanager
def in_netns(name):
    """Run the block with this thread inside the named namespace (None: stay where we are).

    Everything opened inside (netlink sockets, /proc/sys/net files) belongs to that namespace.
    """
    if not name:
        yield
        return
    if not netns_exists(name):
        raise NetnsError(errno.ENOENT, "network namespace %s does not exist" % name)
    fd = os.open(netns_path(name), os.O_RDONLY)
    sw = _NsSwitch()
    try:
        sw.enter_fd(fd, name)
        try:
            yield
        finally:
            sw.back()
    finally:
        os.close(fd)
        sw.close()


# ----------------------------------------------------------------------------------------------
# sysctl of the current namespace


def sysctl_get(key):
    """Read ``net.ipv4.ip_forward``-style keys from /proc/sys of this thread's namespace."""
    with open("/proc/sys/" + key.replace(".", "/")) as f:
        return f.read().strip()


def sysctl_set(key, value):
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write("%s\n" % value)


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


class Netlink:
    """A route-netlink socket of one namespace, with plain-data readers and the writers.

    ``Netlink()`` opens a socket in this thread's current namespace; ``Netlink.of_netns(name)`` in
    the named namespace ``name`` without a helper process. Use as a context manager.
    """

    def __init__(self, _ipr=None):
        require_pyroute2()
        self.ipr = _ipr if _ipr is not None else IPRoute(groups=0)

    @classmethod
    def of_netns(cls, name, switch=None):
        """Socket inside the named namespace; ``switch`` (a :class:`NetnsSwitcher`) is reused."""
        if switch is not None:
            return switch.open(name)
        with in_netns(name):
            return cls()

    def close(self):
        self.ipr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # readers -----------------------------------------------------------------------------
    def links(self):
        """``{ifname: link dict}`` of every interface of the namespace (one dump)."""
        return dict((lk["ifname"], lk) for lk in (decode_link(m) for m in self.ipr.get_links()))

    def link(self, ifname):
        try:
            msgs = self.ipr.get_links(ifname=ifname)
        except NetlinkError as exc:
            if exc.code in (errno.ENODEV, errno.ENOENT):
                return None
            raise
        return decode_link(msgs[0]) if msgs else None

    def addresses(self, family=2):
        """``{ifindex: sorted ["a.b.c.d/len", ...]}`` (IPv4 by default, one dump)."""
        out = {}
        for m in self.ipr.get_addr(family=family):
            out.setdefault(m["index"], []).append("%s/%d" % (m.get_attr("IFA_ADDRESS"), m["prefixlen"]))
        for v in out.values():
            v.sort()
        return out

    def routes(self, table=RT_TABLE_MAIN, family=2):
        """IPv4 routes of ``table`` as dicts ``{dest, gateway, oif, proto, priority}``."""
        out = []
        for m in self.ipr.get_routes(family=family):
            t = m.get_attr("RTA_TABLE") or m["table"]
            if t != table:
                continue
            dst = m.get_attr("RTA_DST")
            out.append({
                "dest": "%s/%d" % (dst, m["dst_len"]) if dst else "0.0.0.0/0",
                "gateway": m.get_attr("RTA_GATEWAY"),
                "oif": m.get_attr("RTA_OIF"),
                "proto": m["proto"],
                "priority": m.get_attr("RTA_PRIORITY") or 0,
                "type": m["type"],
            })
        return out

    def fdb(self, ifindex):
        """Forwarding-database entries of a (VXLAN) port: ``[{mac, dst, state, flags}]``."""
        out = []
        for m in self.ipr.fdb("dump", ifindex=ifindex):
            if m["ifindex"] != ifindex:
                continue
            out.append({"mac": (m.get_attr("NDA_LLADDR") or "").lower(), "dst": m.get_attr("NDA_DST"),
                        "state": m["state"], "flags": m["flags"]})
        return out

    # writers -----------------------------------------------------------------------------
    def link_add(self, **kwargs):
        self.ipr.link("add", **kwargs)

    def link_set(self, index, **kwargs):
        self.ipr.link("set", index=index, **kwargs)

    def link_no_ipv6_addresses(self, index):
        """No IPv6 address generation on a (down) link (``addrgenmode none``): without a
        link-local address it sends no DAD, router solicitation or MLD report when it comes up,
        which a bridge would flood to every port. Netlink, not the ``disable_ipv6`` sysctl: a
        /proc/sys write in a new namespace costs ~50-100 ms once thousands of namespaces exist."""
        self.ipr.link("set", index=index, IFLA_AF_SPEC=_AF_SPEC_NO_IPV6_ADDRESSES)

    def link_del(self, index):
        try:
            self.ipr.link("del", index=index)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise

    def link_index(self, ifname):
        found = self.ipr.link_lookup(ifname=ifname)
        return found[0] if found else None

    def add_bridge(self, ifname, alias, mtu=None, ageing_time=300, forward_delay=0):
        # a fixed (locally administered) MAC: otherwise the bridge takes the lowest MAC of its
        # ports and changes it whenever ports come and go, which makes neighbours' ARP stale
        mac = "02:%02x:%02x:%02x:%02x:%02x" % tuple(bytearray(os.urandom(5)))
        kw = dict(ifname=ifname, kind="bridge", br_ageing_time=ageing_time * USER_HZ,
                  br_forward_delay=forward_delay * USER_HZ, br_stp_state=0, address=mac)
        if mtu:
            kw["mtu"] = mtu
        self.link_add(**kw)
        index = self.link_index(ifname)
        self.link_set(index, ifalias=alias)
        return index

    def set_bridge(self, index, ageing_time=None, forward_delay=None, stp=None):
        kw = {"kind": "bridge"}
        if ageing_time is not None:
            kw["br_ageing_time"] = ageing_time * USER_HZ
        if forward_delay is not None:
            kw["br_forward_delay"] = forward_delay * USER_HZ
        if stp is not None:
            kw["br_stp_state"] = 1 if stp else 0
        self.ipr.link("set", index=index, **kw)

    def add_vxlan(self, ifname, alias, vni, port, dev_index, local=None, group=None,
                  learning=True, proxy=False, mtu=None):
        kw = dict(ifname=ifname, kind="vxlan", vxlan_id=vni, vxlan_port=port,
                  vxlan_link=dev_index, vxlan_learning=1 if learning else 0,
                  vxlan_proxy=1 if proxy else 0)
        if local:
            kw["vxlan_local"] = local
        if group:
            kw["vxlan_group"] = group
        if mtu:
            kw["mtu"] = mtu
        self.link_add(**kw)
        index = self.link_index(ifname)
        self.link_set(index, ifalias=alias)
        return index

    def set_vxlan_learning(self, index, learning):
        self.ipr.link("set", index=index, kind="vxlan", vxlan_learning=1 if learning else 0)

    def add_veth_into(self, host_if, alias, peer_netns_fd, peer_ifname="eth0", peer_mac=None,
                      mtu=None, master=None):
        """A veth whose peer is created directly inside another namespace (given by an open fd)."""
        # (the kernel ignores IFLA_IFALIAS on creation: callers set ``alias`` afterwards)
        peer = {"ifname": peer_ifname, "net_ns_fd": peer_netns_fd}
        if peer_mac:
            peer["address"] = peer_mac
        if mtu:
            peer["mtu"] = mtu
        kw = dict(ifname=host_if, kind="veth", peer=peer)
        if mtu:
            kw["mtu"] = mtu
        if master:
            kw["master"] = master
        self.link_add(**kw)

    def addr_add(self, index, cidr):
        address, prefixlen = cidr.split("/")
        try:
            self.ipr.addr("add", index=index, address=address, prefixlen=int(prefixlen))
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise

    def addr_del(self, index, cidr):
        address, prefixlen = cidr.split("/")
        try:
            self.ipr.addr("del", index=index, address=address, prefixlen=int(prefixlen))
        except NetlinkError as exc:
            if exc.code not in (errno.EADDRNOTAVAIL, errno.ENOENT):
                raise

    def route_replace(self, dest, gateway, proto=RTPROT_VXLAB, table=RT_TABLE_MAIN):
        self.ipr.route("replace", dst=dest, gateway=gateway, proto=proto, table=table)

    def route_del(self, dest, proto=None, gateway=None, table=RT_TABLE_MAIN):
        kw = dict(dst=dest, table=table)
        if proto is not None:
            kw["proto"] = proto
        if gateway:
            kw["gateway"] = gateway
        try:
            self.ipr.route("del", **kw)
        except NetlinkError as exc:
            if exc.code != errno.ESRCH:
                raise

    def fdb_append(self, ifindex, mac, dst):
        try:
            self.ipr.fdb("append", ifindex=ifindex, lladdr=mac, dst=dst)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise

    def fdb_del(self, ifindex, mac, dst):
        try:
            self.ipr.fdb("del", ifindex=ifindex, lladdr=mac, dst=dst)
        except NetlinkError as exc:
            if exc.code not in (errno.ENOENT, errno.ESRCH):
                raise

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
        """Add one qdisc of a plan (``{kind, handle, parent, ...}`` as _shaping builds it)."""
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


def netns_fd(target):
    """An open fd (caller closes) of a network namespace given as a name of /run/netns, a PID
    (int or digits: the namespace of that process, e.g. an LXC container's init) or a path."""
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        path = "/proc/%d/ns/net" % int(target)
    elif isinstance(target, str) and target.startswith("/"):
        path = target
    else:
        path = netns_path(target)
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise NetnsError(exc.errno, "network namespace %s: %s" % (target, os.strerror(exc.errno)))


def _psched_ticks_per_us():
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
        ticks = _psched_ticks_per_us()
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


class NetnsSwitcher:
    """Open sockets in many named namespaces from one thread, one ``setns`` pair per namespace.

    The vnodes module reads and configures hundreds of namespaces this way in one process.
    """

    def __init__(self):
        require_pyroute2()
        self._sw = _NsSwitch()

    def fd(self, name):
        """An open fd of the named namespace (caller closes it)."""
        return os.open(netns_path(name), os.O_RDONLY)

    def open(self, name):
        fd = self.fd(name)
        try:
            self._sw.enter_fd(fd, name)
            try:
                return Netlink()
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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----------------------------------------------------------------------------------------------
# neighbour and FDB tables in bulk: a plain rtnetlink socket, messages packed with struct
#
# pyroute2 encodes and decodes one message in tens of microseconds; a pnode of a static-ARP
# platform holds millions of entries, so these tables are read and written with hand-packed
# messages: a dump parsed with struct, and writes sent ~1,300 messages per sendmsg without
# per-message acknowledgements (the kernel reports failures only; the last message of each
# batch asks for an ACK, so every error of the batch has arrived when it does).

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
NLM_F_CREATE = 0x400
RTM_NEWNEIGH = 28
RTM_DELNEIGH = 29
RTM_GETNEIGH = 30
NDA_DST = 1
NDA_LLADDR = 2
AF_BRIDGE = 7
_NLH = struct.Struct("=IHHII")
_NDM = struct.Struct("=BBHiHBB")
_RTA = struct.Struct("=HH")
_TCM = struct.Struct("=BxxxiIII")  # struct tcmsg: family, ifindex, handle, parent, info
RTM_NEWQDISC = 36
RTM_GETQDISC = 38
TCA_KIND = 1
_BATCH_BYTES = 64 * 1024


def _mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def _mac_text(raw):
    return ":".join("%02x" % b for b in bytearray(raw))


def neigh_message(op, family, ifindex, ip, mac=None, state=NUD_PERMANENT, flags=0):
    """One packed RTM_NEWNEIGH (``op="replace"``) or RTM_DELNEIGH (``"del"``) message (bytes)."""
    attrs = _RTA.pack(8, NDA_DST) + socket.inet_aton(ip)
    if mac is not None:
        attrs += _RTA.pack(10, NDA_LLADDR) + _mac_bytes(mac) + b"\0\0"
    body = _NDM.pack(family, 0, 0, ifindex, state, flags, 0) + attrs
    if op == "replace":
        kind, nflags = RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE
    elif op == "del":
        kind, nflags = RTM_DELNEIGH, NLM_F_REQUEST
    else:
        raise ValueError("op=%r: replace or del" % (op,))
    return _NLH.pack(_NLH.size + len(body), kind, nflags, 0, 0) + body


def fdb_message(op, ifindex, mac, dst):
    """A VXLAN FDB entry of the device itself (``bridge fdb replace MAC dev VX dst IP self``)."""
    attrs = _RTA.pack(10, NDA_LLADDR) + _mac_bytes(mac) + b"\0\0" + _RTA.pack(8, NDA_DST) + socket.inet_aton(dst)
    body = _NDM.pack(AF_BRIDGE, 0, 0, ifindex, NUD_PERMANENT, NTF_SELF, 0) + attrs
    kind, nflags = (RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE) if op == "replace" \
        else (RTM_DELNEIGH, NLM_F_REQUEST)
    return _NLH.pack(_NLH.size + len(body), kind, nflags, 0, 0) + body


class RawNeigh:
    """A plain rtnetlink socket of the current namespace for neighbour/FDB tables in bulk.

    Create it inside the namespace to work on (``with switcher.inside(target): RawNeigh()``).
    """

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        try:
            self.sock.bind((0, 0))
            self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

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
                            raise NetlinkError(code, os.strerror(code))
                        errors.append((mseq, code))
                    if mseq == seq:
                        return errors
                elif kind == NLMSG_DONE and mseq == seq:
                    return errors
                elif collect is not None:
                    collect(data, off, length, kind)
                off += (length + 3) & ~3

    def dump(self, family, ifindex=0):
        """``[(ifindex, ip, mac, state, flags)]`` of the neighbour table (``family`` AF_INET) or of
        the FDB (AF_BRIDGE; ``ip`` is the VXLAN destination or None), only ``ifindex`` if given."""
        self.seq += 1
        body = _NDM.pack(family, 0, 0, 0, 0, 0, 0)
        self.sock.send(_NLH.pack(_NLH.size + len(body), RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP,
                                 self.seq, 0) + body)
        out = []

        def collect(data, off, length, kind):
            if kind != RTM_NEWNEIGH:
                return
            fam, dummy, dummy2, idx, state, flags, dummy3 = _NDM.unpack_from(data, off + _NLH.size)
            if ifindex and idx != ifindex:
                return
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
            out.append((idx, ip, mac, state, flags))

        self._recv_until(self.seq, collect)
        return out

    def qdisc_heads(self):
        """``[{"index", "kind", "handle", "parent"}]`` of every qdisc of the namespace, options not
        decoded: a cheap look (no pyroute2 socket) that tells whether a device has anything but
        its default qdisc before a full read with :meth:`Netlink.qdiscs`."""
        self.seq += 1
        body = _TCM.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        self.sock.send(_NLH.pack(_NLH.size + len(body), RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP,
                                 self.seq, 0) + body)
        out = []

        def collect(data, off, length, kind):
            if kind != RTM_NEWQDISC:
                return
            dummy, idx, handle, parent, dummy2 = _TCM.unpack_from(data, off + _NLH.size)
            a = off + _NLH.size + _TCM.size
            end = off + length
            qkind = None
            while a + 4 <= end:
                alen, atype = _RTA.unpack_from(data, a)
                if alen < 4:
                    break
                if atype == TCA_KIND:
                    qkind = data[a + 4:a + alen].split(b"\0", 1)[0].decode("ascii", "replace")
                    break
                a += (alen + 3) & ~3
            out.append({"index": idx, "kind": qkind, "handle": handle, "parent": parent})

        self._recv_until(self.seq, collect)
        return out

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


def error_text(exc):
    """A short text for a NetlinkError/OSError: ``"17 File exists"``."""
    code = getattr(exc, "code", None)
    if code is None:
        code = getattr(exc, "errno", None)
    if code:
        return "%s (%s)" % (os.strerror(code), errno.errorcode.get(code, code))
    return str(exc)


# ----------------------------------------------------------------------------------------------
# small pure helpers shared by the modules (no netlink involved)

_IFNAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def owner_alias(platform):
    """The interface alias that marks an interface as created by vxlab for ``platform``."""
    return "vxlab:%s" % platform


def check_platform(platform):
    if not isinstance(platform, str) or not platform or not all(
            c.isalnum() and c.isascii() and not c.isupper() for c in platform) \
            or not platform[0].isalpha():
        raise ValueError("platform=%r: must start with a lowercase letter and contain only a-z "
                         "and 0-9" % (platform,))
    return platform


def check_ifname(param, name):
    if not isinstance(name, str) or not 1 <= len(name) <= 15 or not set(name) <= _IFNAME_CHARS \
            or name in (".", ".."):
        raise ValueError("%s=%r: an interface name is 1-15 characters among A-Z a-z 0-9 _ . -"
                         % (param, name))
    return name


def parse_ipv4(param, value):
    """Normalise a dotted-quad IPv4 address or raise ValueError naming ``param``."""
    import socket
    try:
        if not isinstance(value, str) or value.count(".") != 3:
            raise OSError()
        return socket.inet_ntoa(socket.inet_aton(value))
    except OSError:
        raise ValueError("%s=%r: not an IPv4 address" % (param, value))


def ipv4_int(address):
    import socket
    import struct
    return struct.unpack("!I", socket.inet_aton(address))[0]


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
