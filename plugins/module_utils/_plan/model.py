# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address plan of a validated platform (private, pure): names, addresses, MACs, interface
names, VTEPs, each pnode's part (:meth:`Plan.pnode_facts`) and the compact layout from which a
pnode rebuilds the whole platform with the same formula (:func:`vnode_at`).

Allocation is stable: pnode ``k`` (its ``vxlab_pnode_index``, else its position in the ``pnodes``
group) owns the block of vnode indexes ``[k * stride, k * stride + count)``, so appending a pnode,
or changing one pnode's count within the stride, leaves every other vnode where it was.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import struct
import zlib

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.naming import MANAGEMENT, VXLAN_OVERHEAD
from ansible_collections.vxlab.emulation.plugins.module_utils._plan.matrix import MatrixPlan
from ansible_collections.vxlab.emulation.plugins.module_utils._plan.topology import Layout, limits_of, mac_of
from ansible_collections.vxlab.emulation.plugins.module_utils._plan.spec import (
    CLIENT_KEY,
    CLIENT_KNOWN_HOSTS,
    CLIENT_SSH_CONFIG,
    CLIENT_SUBDIR,
    default_netdev_max_backlog,
    spec_from_hostvars,
)


def vnode_at(platform, first, stride, pnode_index, i, mac_byte=None):
    """The vnode ``i`` of the pnode with index ``pnode_index``: name, address, MAC, host_if.

    ``first``: the vnode network's address as an int. The one formula of the plan: the
    :class:`Plan` and the modules that rebuild the platform from :meth:`Plan.layout` use it.
    """
    if mac_byte is None:
        mac_byte = zlib.crc32(platform.encode()) & 0xFF
    g = pnode_index * stride + i  # global 0-based vnode index
    ip = first + 2 + g
    name = naming.vnode_name(platform, g + 1)
    mac = mac_of(mac_byte, ip)
    return {"name": name, "address": _ntoa(ip), "mac": mac, "host_if": name, "index": g + 1}


def iter_layout(layout, pnode=None):
    """Every vnode of a compact platform layout (:meth:`Plan.layout`), with its pnode and VTEP;
    only those of the pnode named ``pnode`` when it is given (the others are not computed)."""
    first = struct.unpack("!I", socket.inet_aton(layout["network"].split("/")[0]))[0]
    mac_byte = zlib.crc32(layout["platform"].encode()) & 0xFF
    for name, index, vtep, count in layout["pnodes"]:
        if pnode is not None and name != pnode:
            continue
        for i in range(count):
            v = vnode_at(layout["platform"], first, layout["stride"], index, i, mac_byte)
            v["pnode"] = name
            v["vtep"] = vtep
            yield v


def _ntoa(value):
    return socket.inet_ntoa(struct.pack("!I", value))


class Plan:
    """The deterministic plan of a validated platform. Vnode lists are built on demand."""

    def __init__(self, spec):
        self.spec = spec
        address, prefixlen = spec.vnode_network.split("/")
        self.prefixlen = int(prefixlen)
        self._first = naming.ipv4_int(address)
        self._mac_byte = zlib.crc32(spec.platform.encode()) & 0xFF
        self.bridge = spec.platform + "-br"
        self.vxlan = spec.platform + "-vx"
        self.gateway = _ntoa(self._first + 1)
        # the gateway pnode's bridge carries the gateway address with the MAC the vnode rule gives
        # that address: every pnode knows it from the plan (ARP suppression answers with it)
        self.gateway_mac = mac_of(self._mac_byte, self._first + 1)
        self.pnodes = spec.pnodes
        self._by_name = {p.name: p for p in spec.pnodes}
        #: the emulated topology's interfaces and routes (topology.Layout), or None
        self.topology = None
        #: {global vnode index: {cpu/cpuset/memory: value}} set by vxlab_vnode_groups
        self.group_limits = limits_of(spec.topology) if spec.topology is not None else {}
        if spec.topology is not None:
            self.topology = Layout(spec.topology, {
                "platform": spec.platform, "stride": spec.stride, "mac_byte": self._mac_byte,
                "pnode_by_index": {p.index: p for p in spec.pnodes}})
        #: shaping between groups (matrix.MatrixPlan), or None
        self.matrix = MatrixPlan(spec.link_matrix, self.topology) if spec.link_matrix else None

    def _vnode(self, pnode, i):
        v = vnode_at(self.spec.platform, self._first, self.spec.stride, pnode.index, i, self._mac_byte)
        v["pnode"] = pnode.name
        return v

    def layout(self):
        """The platform in a few hundred bytes: enough to rebuild every vnode with :func:`iter_layout`
        (a pnode in static ARP mode needs all of them; shipping 40,000 dicts to each pnode would not
        scale)."""
        return {"platform": self.spec.platform, "network": self.spec.vnode_network,
                "stride": self.spec.stride,
                "pnodes": [[p.name, p.index, p.vtep, p.vnodes] for p in self.pnodes]}

    def shaping_of(self, vnode_name, pnode_name):
        """Resolved link settings of one vnode: defaults < pnode rules < vnode rules, later wins."""
        out = dict(self.spec.link_defaults)
        for wanted_kind, key in (("pnodes", pnode_name), ("vnodes", vnode_name)):
            for kind, names, settings in self.spec.link_rules:
                if kind == wanted_kind and key in names:
                    for k, v in settings:
                        if v is None:
                            out.pop(k, None)
                        else:
                            out[k] = v
        return out

    def interfaces(self, v):
        """Every interface of vnode ``v`` (a vnode record), the management one first:
        ``{network, ifname, address, mac, host_if}`` (data ones add prefixlen, bridge, mtu)."""
        out = [{"network": MANAGEMENT, "ifname": naming.VNODE_IFNAME, "address": v["address"],
                "mac": v["mac"], "host_if": v["host_if"]}]
        if self.topology is not None:
            out.extend(self.topology.interfaces(v["index"] - 1, v["host_if"]))
        return out

    def warnings(self):
        """What the plan reports without refusing it (networks no router reaches, ...)."""
        return self.topology.warnings() if self.topology is not None else []

    def networks(self):
        """The data networks as plain data (``vxlab plan --json``'s ``networks``)."""
        if self.topology is None:
            return []
        return [{"name": n.name, "cidr": n.cidr, "vni": n.vni, "mtu": n.mtu, "arp_mode": n.arp_mode,
                 "gateway": None, "bridge": naming.network_bridge(self.spec.platform, n.name),
                 "vxlan": naming.network_vxlan(self.spec.platform, n.name),
                 "members": len(self.topology.members(n.name)),
                 "pnodes": list(self.topology.hosting[n.name])}
                for n in self.spec.topology.networks]

    def _data_of(self, v):
        """The per-vnode keys of the data plane (interfaces, routes, router), {} without any."""
        g = v["index"] - 1
        if self.topology is None or g not in self.topology.member_of:
            return {}
        out = {"interfaces": self.topology.interfaces(g, v["host_if"]), "routes": self.topology.routes(g)}
        if self.topology.is_router(g):
            out["router"] = True
        return out

    def _pnode_networks(self, name):
        layout = self.topology
        s = self.spec
        out = []
        for n in s.topology.networks:
            hosting = layout.hosting[n.name]
            if name not in hosting:
                continue
            entry = {"name": n.name, "cidr": n.cidr, "prefixlen": int(n.cidr.split("/")[1]), "vni": n.vni,
                     "mtu": n.mtu, "arp_mode": n.arp_mode,
                     "bridge": naming.network_bridge(s.platform, n.name),
                     "vxlan": naming.network_vxlan(s.platform, n.name),
                     "remote_vteps": sorted((self._by_name[q].vtep for q in hosting
                                             if q != name and self._by_name[q].vtep), key=socket.inet_aton)}
            if s.vxlan_mode == "multicast":
                entry["group"] = self.network_group(n.name)
            if n.arp_mode != "dynamic":
                vtep_of = {p.index: p.vtep for p in self.pnodes}
                members = []
                for g in layout.members(n.name):
                    ip = layout.address[(g, n.name)]
                    members.append([_ntoa(ip), mac_of(self._mac_byte, ip), vtep_of[g // s.stride]])
                entry["members"] = members
            out.append(entry)
        return out

    def network_group(self, network):
        """The multicast group of data network ``network`` (multicast mode): the management
        network's group plus the network's position (1, 2, ...) in ``vxlab_networks``."""
        names = [n.name for n in self.spec.topology.networks]
        base = struct.unpack("!I", socket.inet_aton(self.spec.vxlan_group))[0]
        return socket.inet_ntoa(struct.pack("!I", base + 1 + names.index(network)))

    def vnodes_of(self, pnode_name):
        p = self._by_name[pnode_name]
        return [self._vnode(p, i) for i in range(p.vnodes)]

    def iter_vnodes(self):
        for p in self.pnodes:
            for i in range(p.vnodes):
                yield self._vnode(p, i)

    @property
    def vnodes(self):
        return list(self.iter_vnodes())

    def pnode(self, name):
        return self._by_name[name]

    def netdev_max_backlog(self, vnodes_on_kernel):
        """The input backlog for a kernel holding that many vnode ports (the variable wins)."""
        if self.spec.netdev_max_backlog is not None:
            return self.spec.netdev_max_backlog
        return default_netdev_max_backlog(vnodes_on_kernel)

    @property
    def host_patterns(self):
        """known_hosts patterns of every vnode address: one line holds the platform's host key."""
        return ",".join(network_globs(self.spec.vnode_network))

    @property
    def client_dir(self):
        """The vnodes' SSH client directory, the same absolute path on every pnode."""
        return "%s/%s/%s" % (self.spec.state_dir.rstrip("/"), self.spec.platform, CLIENT_SUBDIR)

    def pnode_facts(self, name, with_vnodes=True):
        """Everything a pnode's tasks need, as plain data (the ``vxlab_pnode`` fact)."""
        p = self._by_name[name]
        s = self.spec
        facts = {
            "platform": s.platform,
            "pnode": p.name,
            "index": p.index,
            "vtep": p.vtep,
            "underlay_interface": p.underlay_interface,
            "vni": s.vni,
            "vxlan_port": s.vxlan_port,
            "vxlan_mode": s.vxlan_mode,
            "vxlan_group": s.vxlan_group if s.vxlan_mode == "multicast" else None,
            "remote_vteps": sorted((q.vtep for q in self.pnodes if q.name != name and q.vtep),
                                   key=socket.inet_aton),
            "bridge": self.bridge,
            "vxlan": self.vxlan,
            "mtu": s.mtu,
            # what VXLAN adds: the underlay MTU must be at least mtu + this (checked on the pnode)
            "vxlan_overhead": VXLAN_OVERHEAD,
            "network": s.vnode_network,
            "prefixlen": self.prefixlen,
            "gateway": self.gateway,
            "gateway_mac": self.gateway_mac,
            "is_gateway": name == s.gateway_pnode,
            "vnode_kind": s.vnode_kind,
            "gc_thresh": list(s.gc_thresh),
            "base_reachable_time_ms": s.base_reachable_time_ms,
            "gc_stale_time": s.gc_stale_time,
            # this pnode's kernel holds its own vnodes' ports
            "netdev_max_backlog": self.netdev_max_backlog(p.vnodes),
            "state_dir": s.state_dir,
            "pnode_state_dir": "%s/%s/%s" % (s.state_dir, s.platform, p.name),
            "client_dir": self.client_dir,
            "client_key": "%s/%s" % (self.client_dir, CLIENT_KEY),
            "client_ssh_config": "%s/%s" % (self.client_dir, CLIENT_SSH_CONFIG),
            "client_known_hosts": "%s/%s" % (self.client_dir, CLIENT_KNOWN_HOSTS),
            "host_patterns": self.host_patterns,
            "vnode_count": p.vnodes,
            "platform_vnodes": s.total_vnodes,
            "gateway_pnode": s.gateway_pnode,
            "arp_mode": s.arp_mode,
            # always: in dynamic mode arp_tables uses it to remove what another mode left
            "neigh_layout": self.layout(),
            "lxc_image": s.lxc_image,
            "vnode_cpu": s.vnode_cpu,
            "vnode_cpuset": s.vnode_cpuset,
            "vnode_memory": s.vnode_memory,
        }
        shaping = {}
        if s.link_defaults or s.link_rules:
            for v in self.vnodes_of(name):
                settings = self.shaping_of(v["name"], name)
                if settings:
                    shaping[v["name"]] = settings
        facts["shaping"] = shaping
        if self.topology is not None:
            facts["networks"] = self._pnode_networks(name)
            facts["data_networks"] = [n.cidr for n in s.topology.networks]
        if self.matrix is not None:
            facts["link_matrix"] = self.matrix.table()
        if with_vnodes:
            vnodes = []
            for v in self.vnodes_of(name):
                entry = {k: v[k] for k in ("name", "address", "mac", "host_if")}
                entry.update(self._data_of(v))
                entry.update(self.group_limits.get(v["index"] - 1, {}))
                if self.matrix is not None:
                    classes = self.matrix.classes_of(v["index"] - 1)
                    if classes:
                        entry["matrix"] = classes
                vnodes.append(entry)
            facts["vnodes"] = vnodes
        return facts

    def to_dict(self):
        s = self.spec
        out = {
            "platform": {
                "name": s.platform, "network": s.vnode_network, "prefixlen": self.prefixlen,
                "gateway": self.gateway, "gateway_pnode": s.gateway_pnode, "vni": s.vni,
                "vxlan_mode": s.vxlan_mode, "vxlan_group": s.vxlan_group,
                "vxlan_port": s.vxlan_port, "vnode_kind": s.vnode_kind, "mtu": s.mtu,
                "stride": s.stride, "bridge": self.bridge, "vxlan": self.vxlan,
                "gc_thresh": list(s.gc_thresh), "vnodes": s.total_vnodes,
                "control_access": s.control_access, "ssh_key": s.ssh_key,
                "arp_mode": s.arp_mode, "link_defaults": dict(s.link_defaults),
                "links": [[kind, sorted(names), dict(settings)] for kind, names, settings in s.link_rules],
            },
            "pnodes": [self._pnode_dict(p) for p in self.pnodes],
            "vnodes": [self._vnode_dict(v) for v in self.iter_vnodes()],
        }
        if s.topology is not None:
            out["networks"] = self.networks()
            out["groups"] = [dict({"name": g.name, "networks": list(g.networks), "router": g.router,
                                   "vnodes": len(g.members)}, **dict(g.limits)) for g in s.topology.groups]
            if self.matrix is not None:
                out["link_matrix"] = self.matrix.table()
            out["routes"] = s.topology.routes if not s.topology.explicit else \
                [{"from": r.src, "to": r.dst, "via": r.via} for r in s.topology.explicit]
            out["warnings"] = self.warnings()
        if len(s.underlay_networks) > 1:
            out["platform"]["underlay_networks"] = list(s.underlay_networks)
        return out

    def _pnode_dict(self, p):
        out = {"name": p.name, "index": p.index, "vtep": p.vtep, "vnodes": p.vnodes,
               "underlay_interface": p.underlay_interface}
        if len(self.spec.underlay_networks) > 1:
            out["site"] = p.site
        return out

    def _vnode_dict(self, v):
        out = {k: v[k] for k in ("name", "address", "mac", "pnode", "host_if")}
        out["interfaces"] = [{k: i[k] for k in ("network", "ifname", "address", "mac", "host_if")}
                             for i in self.interfaces(v)]
        data = self._data_of(v)
        if data:
            out["routes"] = data["routes"]
            out["router"] = bool(data.get("router"))
        limits = self.group_limits.get(v["index"] - 1)
        if limits:
            out["limits"] = dict(limits)
        return out

    def to_json(self):
        """Byte-identical for the same input."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def network_globs(cidr):
    """ssh_config (and known_hosts) patterns that cover exactly the addresses of an IPv4 network.

    Networks of /8, /16 or /24 are one pattern (``10.144.*``); others are split at the next octet
    boundary (a /20 gives sixteen ``a.b.c.*``); networks smaller than a /24 are listed address by
    address (at most 128).
    """
    addr, dummy, plen = cidr.partition("/")
    plen = int(plen)
    base = 0
    for octet in addr.split("."):
        base = (base << 8) | int(octet)
    if plen == 0:
        return ["*"]
    if plen > 24:
        return [_dotted(base + i) for i in range(1 << (32 - plen))]
    boundary = -(-plen // 8) * 8  # the next multiple of 8
    step = 1 << (32 - boundary)
    keep = boundary // 8
    out = []
    for i in range(1 << (boundary - plen)):
        octets = _dotted(base + i * step).split(".")[:keep]
        out.append(".".join(octets) + ".*")
    return out


def _dotted(value):
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def build_plan(spec):
    return Plan(spec)


def plan_from_hostvars(pnode_names, hostvars_of, extra_vars=None):
    return build_plan(spec_from_hostvars(pnode_names, hostvars_of, extra_vars))
