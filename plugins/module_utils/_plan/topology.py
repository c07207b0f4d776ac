# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Emulated network topologies (private, pure): data networks, vnode groups, routers and routes.

:func:`validate` reads ``vxlab_networks``, ``vxlab_vnode_groups`` and ``vxlab_routes`` into a
frozen :class:`Topology` (every bad value one :class:`PlanError`); :class:`Layout` computes, from
a validated platform, each vnode's data interfaces (network, ifname, address, MAC, host side),
the routes of every vnode and what no router reaches.

Addresses of a data network (no gateway: data networks are routed by router vnodes): every pnode
hosting members gets a block of ``vxlab_pnode_stride`` addresses, in pnode-index order, and a
member keeps in it its position in its pnode: address ``1 + block * stride + position`` from the
network's first address. Appending a pnode or a member moves nobody, as on the management network.
A network too small for that packs its members (blocks of the most members one pnode holds), with
a plan warning: a change of that maximum renumbers it.

Routes (``auto``, Distem's ``vroute_complete``): every vnode on a data network gets a route to
each data network it is not on, through the router on one of its own networks that reaches the
target crossing the fewest routers; ties go to the vnode's earlier interface, then the router
with the lower vnode number. Explicit routes replace ``auto`` for the (from, to) pairs they name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import deque
from dataclasses import dataclass

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base import units
from ansible_collections.vxlab.emulation.plugins.module_utils._base.naming import (
    IFNAMSIZ,
    MAX_VNODES_PER_BRIDGE,
    VXLAN_OVERHEAD,
)
from ansible_collections.vxlab.emulation.plugins.module_utils._plan.checks import (
    PlanError,
    _choice,
    _hint,
    _int,
    _ipv4_network,
    expand_names,
    netaddr,
)

NETWORK_KEYS = ("name", "cidr", "vni", "mtu", "arp_mode")
GROUP_KEYS = ("name", "vnodes", "pnodes", "networks", "router", "cpu", "cpuset", "memory")
#: per-group vnode properties (LXC vnodes): override the platform's vxlab_vnode_<key>
LIMIT_KEYS = ("cpu", "cpuset", "memory")
ROUTE_KEYS = ("from", "to", "via")
ROUTE_MODES = ("auto", "none")
GROUP_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
#: clush and inventory groups vxlab renders itself: all vnodes, the pnodes, on_<pnode>, net_<network>
RESERVED_GROUPS = ("all", "pnodes", "vnodes")
RESERVED_GROUP_PREFIXES = ("on_", "net_")
GROUP_RULE = "must start with a letter and hold 1 to 32 characters among A-Z a-z 0-9 _ -"


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    cidr: str
    vni: int
    mtu: int
    arp_mode: str
    position: int  # in vxlab_networks


@dataclass(frozen=True)
class GroupSpec:
    name: str
    #: global vnode indexes (0-based) of the members, sorted
    members: tuple
    networks: tuple  # network names, in the group's order
    router: bool
    #: ((key, value), ...) of LIMIT_KEYS the group sets (parsed: fraction, cpus, bytes)
    limits: tuple = ()


@dataclass(frozen=True)
class RouteSpec:
    src: str  # network name (``from``)
    dst: str  # network name (``to``)
    via: str  # vnode name


@dataclass(frozen=True)
class Topology:
    networks: tuple
    groups: tuple
    #: "auto", "none" or a tuple of RouteSpec (auto for the pairs they do not name)
    routes: object = "auto"
    explicit: tuple = ()

    def network(self, name):
        for n in self.networks:
            if n.name == name:
                return n
        raise KeyError(name)


def _keys(var, item, allowed):
    if not isinstance(item, dict):
        raise PlanError(var, item, "must be a dict with keys among %s" % ", ".join(allowed))
    for k in item:
        if k not in allowed:
            raise PlanError("%s.%s" % (var, k), item[k], "unknown key" + _hint(str(k), allowed)
                            + " (known: %s)" % ", ".join(allowed))


def _overlap(a, b):
    return a.first <= b.last and b.first <= a.last


def validate(raw_networks, raw_groups, raw_routes, ctx):
    """A :class:`Topology`, or None when the platform has no data network and no group.

    ``ctx``: dict with platform, stride, pnodes (PnodeSpec list), vnode_network (IPNetwork),
    underlay_networks (IPNetwork list), vni, mtu, arp_mode.
    """
    if raw_networks in (None, []) and raw_groups in (None, []):
        if raw_routes not in (None, "auto", "none", []):
            raise PlanError("vxlab_routes", raw_routes, "names routes but vxlab_networks is empty")
        return None
    platform = ctx["platform"]
    networks = _networks(raw_networks, ctx)
    by_name = {n.name: n for n in networks}
    groups = _groups(raw_groups, by_name, ctx)
    routes, explicit = _routes(raw_routes, by_name, groups, ctx)
    topo = Topology(networks=tuple(networks), groups=tuple(groups), routes=routes, explicit=explicit)
    # interface names of the data plane must fit IFNAMSIZ
    member_of = memberships(topo)
    if member_of:
        host_if = naming.data_host_if(naming.vnode_name(platform, max(member_of) + 1),
                                      max(len(v) for v in member_of.values()))
        if len(host_if) > IFNAMSIZ:
            raise PlanError("vxlab_platform", platform, "is too long for data networks: the host side "
                            "%r of a vnode's data interface would exceed %d characters" % (host_if, IFNAMSIZ))
    Layout(topo, ctx)  # refuses networks too small for their members
    return topo


def _networks(raw, ctx):
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PlanError("vxlab_networks", raw, "must be a list of {name: ..., cidr: ...}")
    out = []
    seen_vni = {ctx["vni"]: "the management network (vxlab_vni)"}
    nets = []
    for pos, item in enumerate(raw):
        var = "vxlab_networks[%d]" % pos
        _keys(var, item, NETWORK_KEYS)
        name = item.get("name")
        if not isinstance(name, str) or not naming.NETWORK_RE.match(name):
            raise PlanError(var + ".name", name, naming.NETWORK_RULE)
        if name in naming.RESERVED_NETWORKS:
            raise PlanError(var + ".name", name, "is reserved (%s)" % ", ".join(naming.RESERVED_NETWORKS))
        if any(n.name == name for n in out):
            raise PlanError(var + ".name", name, "network defined twice")
        var = "vxlab_networks[%s]" % name
        if "cidr" not in item:
            raise PlanError(var + ".cidr", None, "is required (an IPv4 network such as 10.150.0.0/22)")
        net = _ipv4_network(var + ".cidr", item["cidr"])
        if _overlap(net, ctx["vnode_network"]):
            raise PlanError(var + ".cidr", item["cidr"], "overlaps the management network "
                            "vxlab_vnode_network %s" % ctx["vnode_network"].cidr)
        for u in ctx["underlay_networks"]:
            if _overlap(net, u):
                raise PlanError(var + ".cidr", item["cidr"], "overlaps vxlab_underlay_network %s" % u.cidr)
        for other_name, other in nets:
            if _overlap(net, other):
                raise PlanError(var + ".cidr", item["cidr"], "overlaps network %s (%s)" % (other_name, other.cidr))
        for p in ctx["pnodes"]:
            if p.vtep and netaddr.IPAddress(p.vtep) in net:
                raise PlanError(var + ".cidr", item["cidr"], "holds the underlay address %s of pnode %s"
                                % (p.vtep, p.name))
        vni = _int(var + ".vni", item["vni"], 1, 16777215) if item.get("vni") is not None \
            else ctx["vni"] + 1 + pos
        if vni in seen_vni:
            raise PlanError(var + ".vni", vni, "already the VNI of %s; give each network its own vni"
                            % seen_vni[vni])
        seen_vni[vni] = "network %s" % name
        mtu = _int(var + ".mtu", item["mtu"], 576, 9000 - VXLAN_OVERHEAD) if item.get("mtu") is not None \
            else ctx["mtu"]
        arp = _choice(var + ".arp_mode", item["arp_mode"], ("dynamic", "static", "suppress")) \
            if item.get("arp_mode") is not None else ctx["arp_mode"]
        for ifname in (naming.network_bridge(ctx["platform"], name), naming.network_vxlan(ctx["platform"], name)):
            if len(ifname) > IFNAMSIZ:
                raise PlanError(var + ".name", name, "with vxlab_platform %r gives the interface name %r, "
                                "longer than %d characters" % (ctx["platform"], ifname, IFNAMSIZ))
        nets.append((name, net))
        out.append(NetworkSpec(name=name, cidr=str(net.cidr), vni=vni, mtu=mtu, arp_mode=arp, position=pos))
    return out


def vnode_index(ctx, name):
    """The global 0-based index of vnode ``name``, or None if the platform has no such vnode."""
    prefix = ctx["platform"] + "-"
    if not name.startswith(prefix) or not name[len(prefix):].isdigit():
        return None
    g = int(name[len(prefix):]) - 1
    stride = ctx["stride"]
    if g < 0 or not stride:
        return None
    p = ctx["pnode_by_index"].get(g // stride)
    if p is None or g % stride >= p.vnodes:
        return None
    return g


def _groups(raw, networks, ctx):
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PlanError("vxlab_vnode_groups", raw, "must be a list of {name: ..., vnodes: ... or pnodes: ..., "
                        "networks: [...]}")
    out = []
    pnode_names = {p.name: p for p in ctx["pnodes"]}
    stride = ctx["stride"]
    for pos, item in enumerate(raw):
        var = "vxlab_vnode_groups[%d]" % pos
        _keys(var, item, GROUP_KEYS)
        name = item.get("name")
        if not isinstance(name, str) or not GROUP_RE.match(name):
            raise PlanError(var + ".name", name, GROUP_RULE)
        if name in networks:
            raise PlanError(var + ".name", name, "is the name of a network: groups and networks need "
                            "distinct names")
        if name in RESERVED_GROUPS or name.startswith(RESERVED_GROUP_PREFIXES):
            raise PlanError(var + ".name", name, "is reserved for the groups vxlab renders (%s, and names "
                            "starting with %s)" % (", ".join(RESERVED_GROUPS), ", ".join(RESERVED_GROUP_PREFIXES)))
        if any(g.name == name for g in out):
            raise PlanError(var + ".name", name, "group defined twice")
        var = "vxlab_vnode_groups[%s]" % name
        if "vnodes" not in item and "pnodes" not in item:
            raise PlanError(var, item, "selects nobody: give vnodes (names or ranges such as vx-[1-20]) "
                            "and/or pnodes")
        members = set()
        if "vnodes" in item:
            for n in expand_names(var + ".vnodes", item["vnodes"]):
                g = vnode_index(ctx, n)
                if g is None:
                    raise PlanError(var + ".vnodes", item["vnodes"], "%s is not a vnode of the platform "
                                    "(vnodes are named %s-1 ... in pnode blocks of %d)"
                                    % (n, ctx["platform"], stride))
                members.add(g)
        if "pnodes" in item:
            for n in expand_names(var + ".pnodes", item["pnodes"]):
                p = pnode_names.get(n)
                if p is None:
                    raise PlanError(var + ".pnodes", item["pnodes"], "%s is not a pnode%s"
                                    % (n, _hint(n, pnode_names)))
                members.update(range(p.index * stride, p.index * stride + p.vnodes))
        if not members:
            raise PlanError(var, item, "selects no vnode (its pnodes hold none)")
        nets = item.get("networks", [])
        if isinstance(nets, str):
            nets = [nets]
        if not isinstance(nets, list):
            raise PlanError(var + ".networks", nets, "must be a list of network names")
        for n in nets:
            if n not in networks:
                raise PlanError(var + ".networks", nets, "%r is not in vxlab_networks%s"
                                % (n, _hint(str(n), networks)))
        if len(set(nets)) != len(nets):
            raise PlanError(var + ".networks", nets, "lists a network twice")
        router = item.get("router", False)
        if not isinstance(router, bool):
            raise PlanError(var + ".router", router, "must be true or false")
        if router and len(nets) < 2:
            raise PlanError(var + ".router", router, "a router group needs at least two networks (has %d)"
                            % len(nets))
        limits = []
        for key in LIMIT_KEYS:
            if item.get(key) is None:
                continue
            parse = {"cpu": units.parse_cpu, "cpuset": units.parse_cpuset, "memory": units.parse_size}[key]
            try:
                value = parse(var + "." + key, item[key])
            except ValueError as exc:
                raise PlanError(var + "." + key, item[key], str(exc).split(": ", 1)[-1])
            if ctx.get("kind", "lxc") != "lxc":
                raise PlanError(var + "." + key, item[key], "CPU and memory limits need vxlab_vnode_kind: lxc "
                                "(netns vnodes have no processes of their own to limit)")
            limits.append((key, value))
        out.append(GroupSpec(name=name, members=tuple(sorted(members)), networks=tuple(nets), router=router,
                             limits=tuple(limits)))
    _check_limit_conflicts(out, ctx["platform"])
    return out


def _check_limit_conflicts(groups, platform):
    """A vnode in two groups that set one property to different values: refused, both named."""
    seen = {}
    for grp in groups:
        for key, value in grp.limits:
            for g in grp.members:
                had = seen.setdefault((g, key), (grp.name, value))
                if had[1] != value:
                    raise PlanError("vxlab_vnode_groups[%s].%s" % (grp.name, key), value,
                                    "vnode %s is also in group %s, which sets %s to %r: a vnode's %s comes "
                                    "from one group" % (naming.vnode_name(platform, g + 1), had[0], key,
                                                        had[1], key))


def limits_of(topo):
    """``{global vnode index: {key: value}}`` of the per-group properties (groups setting them)."""
    out = {}
    for grp in topo.groups:
        for key, value in grp.limits:
            for g in grp.members:
                out.setdefault(g, {})[key] = value
    return out


def _routes(raw, networks, groups, ctx):
    if raw is None or raw == "auto":
        return "auto", ()
    if raw == "none":
        return "none", ()
    if not isinstance(raw, list):
        raise PlanError("vxlab_routes", raw, "must be auto, none, or a list of {from: NETWORK, to: NETWORK, "
                        "via: VNODE}")
    topo = Topology(networks=tuple(networks.values()), groups=tuple(groups))
    member = memberships(topo)
    routers = routers_of(topo)
    out = []
    seen = set()
    for pos, item in enumerate(raw):
        var = "vxlab_routes[%d]" % pos
        _keys(var, item, ROUTE_KEYS)
        for k in ROUTE_KEYS:
            if k not in item:
                raise PlanError(var + "." + k, None, "is required")
        for k in ("from", "to"):
            if item[k] not in networks:
                raise PlanError(var + "." + k, item[k], "is not in vxlab_networks" + _hint(str(item[k]), networks))
        if item["from"] == item["to"]:
            raise PlanError(var, item, "from and to are the same network")
        if (item["from"], item["to"]) in seen:
            raise PlanError(var, item, "a second route for the same pair of networks")
        seen.add((item["from"], item["to"]))
        g = vnode_index(ctx, item["via"]) if isinstance(item["via"], str) else None
        if g is None:
            raise PlanError(var + ".via", item["via"], "is not a vnode of the platform")
        on = member.get(g, ())
        if item["from"] not in on or item["to"] not in on:
            raise PlanError(var + ".via", item["via"], "must be on both networks %s and %s (it is on %s)"
                            % (item["from"], item["to"], ", ".join(on) or "no data network"))
        if g not in routers:
            raise PlanError(var + ".via", item["via"], "is not a router: put it in a group with router: true")
        out.append(RouteSpec(src=item["from"], dst=item["to"], via=item["via"]))
    return "auto", tuple(out)


def memberships(topo):
    """``{global vnode index: (network names in interface order)}`` of the vnodes on data networks:
    a vnode's networks follow its groups' order, then each group's network order."""
    out = {}
    for grp in topo.groups:
        if not grp.networks:
            continue
        for g in grp.members:
            have = out.get(g)
            if have is None:
                out[g] = tuple(grp.networks)
            else:
                out[g] = have + tuple(n for n in grp.networks if n not in have)
    return out


def routers_of(topo):
    out = set()
    for grp in topo.groups:
        if grp.router:
            out.update(grp.members)
    return out


class Layout:
    """Interfaces, addresses and routes of a validated topology (pure, deterministic)."""

    def __init__(self, topo, ctx):
        self.topo = topo
        self.platform = ctx["platform"]
        self.mac_byte = ctx.get("mac_byte", 0)
        stride = ctx["stride"]
        self.member_of = memberships(topo)  # g -> networks
        self.routers = routers_of(topo) & set(self.member_of)
        by_net = {n.name: [] for n in topo.networks}
        for g in sorted(self.member_of):
            for n in self.member_of[g]:
                by_net[n].append(g)
        pnode_by_index = ctx["pnode_by_index"]
        self.address = {}  # (g, network) -> int
        self.hosting = {}  # network -> [pnode names], by pnode index
        self.compact = []  # networks too small for stride blocks
        for net in topo.networks:
            members = by_net[net.name]
            per_pnode = {}
            for g in members:
                per_pnode.setdefault(g // stride, []).append(g)
            self.hosting[net.name] = [pnode_by_index[k].name for k in sorted(per_pnode)]
            if not members:
                continue
            size = max(len(v) for v in per_pnode.values())
            if size > MAX_VNODES_PER_BRIDGE:
                k = max(per_pnode, key=lambda x: len(per_pnode[x]))
                raise PlanError("vxlab_networks[%s]" % net.name, net.cidr, "has %d members on pnode %s, "
                                "more than one bridge holds (%d)" % (size, pnode_by_index[k].name,
                                                                     MAX_VNODES_PER_BRIDGE))
            cidr = netaddr.IPNetwork(net.cidr)
            first = int(cidr.first)
            if len(per_pnode) * stride + 2 <= cidr.size:
                # stable blocks: a member keeps its position in its pnode, as on the management network
                for block, k in enumerate(sorted(per_pnode)):
                    for g in per_pnode[k]:
                        self.address[(g, net.name)] = first + 1 + block * stride + g % stride
                continue
            needed = len(per_pnode) * size
            if needed + 2 > cidr.size:
                raise PlanError("vxlab_networks[%s].cidr" % net.name, net.cidr,
                                "holds %d addresses but its members need %d (%d pnodes hosting members x "
                                "up to %d per pnode); use a larger network"
                                % (max(cidr.size - 2, 0), needed, len(per_pnode), size))
            # compact blocks: the network is too small for a block of vxlab_pnode_stride per pnode
            self.compact.append(net.name)
            for block, k in enumerate(sorted(per_pnode)):
                for j, g in enumerate(per_pnode[k]):
                    self.address[(g, net.name)] = first + 1 + block * size + j
        self.prefixlen = {n.name: int(n.cidr.split("/")[1]) for n in topo.networks}
        self._routes = None
        self._unreachable = None

    # -- interfaces --------------------------------------------------------------------------

    def interfaces(self, g, host_if):
        """The data interfaces of vnode ``g`` (0-based global index) whose eth0 host side is
        ``host_if``: network, ifname, address, prefixlen, mac, host_if, bridge, mtu."""
        out = []
        for k, name in enumerate(self.member_of.get(g, ()), 1):
            net = self.topo.network(name)
            ip = self.address[(g, name)]
            out.append({"network": name, "ifname": naming.data_ifname(k), "address": naming.ipv4_text(ip),
                        "prefixlen": self.prefixlen[name], "mac": mac_of(self.mac_byte, ip),
                        "host_if": naming.data_host_if(host_if, k),
                        "bridge": naming.network_bridge(self.platform, name), "mtu": net.mtu})
        return out

    def is_router(self, g):
        return g in self.routers

    def members(self, network):
        """Global indexes of a network's members, in address order."""
        return sorted((g for (g, n) in self.address if n == network), key=lambda g: self.address[(g, network)])

    # -- routes ------------------------------------------------------------------------------

    def _distances(self):
        """``{target: {network: routers to cross}}`` over the network graph joined by routers."""
        joined = {}  # network -> set of networks one router away
        for r in self.routers:
            nets = self.member_of[r]
            for a in nets:
                joined.setdefault(a, set()).update(x for x in nets if x != a)
        out = {}
        for net in self.topo.networks:
            dist = {net.name: 0}
            queue = deque([net.name])
            while queue:
                a = queue.popleft()
                for b in sorted(joined.get(a, ())):
                    if b not in dist:
                        dist[b] = dist[a] + 1
                        queue.append(b)
            out[net.name] = dist
        return out

    def _compute(self):
        dist = self._distances()
        order = {n.name: n.position for n in self.topo.networks}
        routers_on = {}
        for r in sorted(self.routers):
            for n in self.member_of[r]:
                routers_on.setdefault(n, []).append(r)
        explicit = {}
        for rs in self.topo.explicit:
            explicit[(rs.src, rs.dst)] = int(rs.via.rsplit("-", 1)[1]) - 1
        targets = [n.name for n in self.topo.networks]
        cache = {}
        routes = {}
        unreachable = {}
        for g in sorted(self.member_of):
            own = self.member_of[g]
            key = (own, g if g in self.routers else None)
            if key not in cache:
                cache[key] = self._routes_for(g, own, targets, dist, routers_on, explicit, unreachable)
            routes[g] = cache[key]
        self._routes = routes
        self._unreachable = {t: sorted(v, key=order.get) for t, v in unreachable.items()}

    def _routes_for(self, g, own, targets, dist, routers_on, explicit, unreachable):
        out = []
        for t in targets:
            if t in own:
                continue
            best = None
            for pos, n in enumerate(own):
                if (n, t) in explicit:
                    best = (-1, pos, explicit[(n, t)], n)
                    break
            if best is None and self.topo.routes == "auto":
                for pos, n in enumerate(own):
                    for r in routers_on.get(n, ()):
                        if r == g:
                            continue
                        hops = min(dist[t].get(m, 1 << 30) for m in self.member_of[r])
                        if hops >= 1 << 30:
                            continue
                        cand = (hops + 1, pos, r, n)
                        if best is None or cand < best:
                            best = cand
            if best is None:
                if self.topo.routes == "auto":
                    for n in own:
                        unreachable.setdefault(t, set()).add(n)
                continue
            via = self.address[(best[2], best[3])]
            out.append({"to": self.topo.network(t).cidr, "via": naming.ipv4_text(via)})
        return tuple(out)

    def routes(self, g):
        """Routes of vnode ``g``: ``[{to: CIDR, via: address}]`` (data networks only)."""
        if self._routes is None:
            self._compute()
        return [dict(r) for r in self._routes.get(g, ())]

    def reaches(self, src, dst):
        """Whether members of network ``src`` have a route (or are) on network ``dst``."""
        if src == dst:
            return True
        if self._routes is None:
            self._compute()
        return src not in self._unreachable.get(dst, ())

    def warnings(self):
        """What the plan reports without refusing it: networks no router reaches, from where."""
        if self._routes is None:
            self._compute()
        out = []
        for net in self.topo.networks:
            if net.name in self._unreachable:
                out.append("network %s is unreachable from network(s) %s: no router joins them (routes: %s)"
                           % (net.name, ", ".join(self._unreachable[net.name]), self.topo.routes))
            if net.name in self.compact:
                out.append("network %s (%s) is too small for a block of vxlab_pnode_stride addresses per "
                           "hosting pnode: its addresses are packed, and a change in the most members one "
                           "pnode holds renumbers them (a larger cidr keeps them stable)" % (net.name, net.cidr))
            if not any(n == net.name for (dummy, n) in self.address):
                out.append("network %s has no member vnode (no group puts a vnode on it)" % net.name)
        return out


def mac_of(mac_byte, ip):
    """The MAC of a vnode interface with IPv4 address ``ip`` (an int): locally administered,
    the platform's byte, then the address (unique because networks do not overlap)."""
    return "02:%02x:%02x:%02x:%02x:%02x" % (mac_byte, (ip >> 24) & 0xFF, (ip >> 16) & 0xFF, (ip >> 8) & 0xFF,
                                            ip & 0xFF)
