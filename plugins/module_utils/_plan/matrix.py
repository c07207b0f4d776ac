# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shaping between groups of vnodes (private): ``vxlab_link_matrix``, validated and planned.

An entry ``{from: A, to: B, rate, delay, jitter, loss, symmetric}`` shapes the traffic a vnode of
``A`` sends to an address of ``B`` on the data networks: ``A`` and ``B`` are vnode groups or data
networks (a network means all its members, with their addresses on that network). The
management network is never shaped by the matrix. ``symmetric: true`` adds the reverse entry with
the same settings. When several entries cover one (source, destination address) pair, the first
one in ``vxlab_link_matrix`` wins (its filters are matched first).

Planned per vnode of a ``from`` side as ``{ifname: [[entry, network], ...]}``: the entry's
destination addresses on ``network`` leave the vnode by ``ifname`` (its interface on that
network, or on the network of the router its route goes through); and per entry the
destination addresses of every network decomposed into the fewest prefixes (netaddr), so the
filters on a vnode grow with the destination groups' prefixes, never with the number of vnodes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.units import UnitError, normalise
from ansible_collections.vxlab.emulation.plugins.module_utils._plan.checks import PlanError, _hint, netaddr

MATRIX_KEYS = ("from", "to", "rate", "delay", "jitter", "loss", "symmetric")
SETTINGS = ("rate", "delay", "jitter", "loss")


@dataclass(frozen=True)
class MatrixEntry:
    src: str
    dst: str
    settings: tuple  # ((key, value), ...) normalised as vxlab_links' (bit/s, us, %)
    origin: int  # position in vxlab_link_matrix
    reverse: bool = False  # the reverse entry of a symmetric one


def validate(raw, topo):
    """The matrix entries (symmetric ones expanded, in matching order), or ``()``."""
    if raw in (None, []):
        return ()
    if not isinstance(raw, list):
        raise PlanError("vxlab_link_matrix", raw, "must be a list of {from: GROUP_OR_NETWORK, to: ..., rate: ...}")
    if topo is None:
        raise PlanError("vxlab_link_matrix", raw, "names groups or networks, but vxlab_vnode_groups and "
                        "vxlab_networks are empty")
    names = dict((g.name, "group") for g in topo.groups)
    names.update((n.name, "network") for n in topo.networks)
    out = []
    for pos, item in enumerate(raw):
        var = "vxlab_link_matrix[%d]" % pos
        if not isinstance(item, dict):
            raise PlanError(var, item, "must be a dict with keys among %s" % ", ".join(MATRIX_KEYS))
        for k in item:
            if k not in MATRIX_KEYS:
                raise PlanError("%s.%s" % (var, k), item[k], "unknown key" + _hint(str(k), MATRIX_KEYS)
                                + " (known: %s)" % ", ".join(MATRIX_KEYS))
        for k in ("from", "to"):
            if k not in item:
                raise PlanError(var + "." + k, None, "is required (a group of vxlab_vnode_groups or a network "
                                "of vxlab_networks)")
            if item[k] not in names:
                raise PlanError(var + "." + k, item[k], "is neither a group nor a data network"
                                + _hint(str(item[k]), names))
        try:
            settings = normalise(var, dict((k, item[k]) for k in SETTINGS if k in item))
        except UnitError as exc:
            raise PlanError(exc.what, exc.value, exc.reason)
        if not settings:
            raise PlanError(var, item, "sets nothing: give rate, delay, jitter and/or loss")
        symmetric = item.get("symmetric", False)
        if not isinstance(symmetric, bool):
            raise PlanError(var + ".symmetric", symmetric, "must be true or false")
        s = tuple(sorted(settings.items()))
        out.append(MatrixEntry(item["from"], item["to"], s, pos))
        if symmetric and item["from"] != item["to"]:
            out.append(MatrixEntry(item["to"], item["from"], s, pos, reverse=True))
    return tuple(out)


class MatrixPlan:
    """The matrix over a :class:`topology.Layout`: sources, prefixes, each vnode's classes."""

    def __init__(self, entries, layout):
        self.entries = entries
        self.layout = layout
        topo = layout.topo
        self._groups = dict((g.name, g) for g in topo.groups)
        self._networks = dict((n.name, n) for n in topo.networks)
        self._prefixes = [self._dest_prefixes(e.dst) for e in entries]
        self._sources = [self.members(e.src) for e in entries]
        self._egress = {}

    def members(self, name):
        """The global indexes of group or network ``name``'s members."""
        if name in self._groups:
            return frozenset(self._groups[name].members)
        return frozenset(self.layout.members(name))

    def _dest_prefixes(self, name):
        """``{network: [cidr, ...]}``: the destination addresses of ``name`` per data network."""
        out = {}
        if name in self._networks:
            nets = [name]
            members = self.layout.members(name)
        else:
            members = self._groups[name].members
            nets = [n.name for n in self.layout.topo.networks]
        for net in nets:
            addrs = [self.layout.address[(g, net)] for g in members if (g, net) in self.layout.address]
            if addrs:
                out[net] = [str(c) for c in netaddr.cidr_merge([netaddr.IPAddress(a) for a in addrs])]
        return out

    def prefixes(self, k):
        return self._prefixes[k]

    def sources(self, k):
        """The global indexes of the vnodes entry ``k`` shapes the traffic of."""
        return self._sources[k]

    def egress(self, g):
        """``{network: ifname}``: the interface of vnode ``g`` its traffic to each data network
        leaves by (its own interface on it, or the one towards the router of its route)."""
        if g not in self._egress:
            own = self.layout.member_of.get(g, ())
            out = dict((n, naming.data_ifname(k)) for k, n in enumerate(own, 1))
            cidr_net = dict((n.cidr, n.name) for n in self.layout.topo.networks)
            for r in self.layout.routes(g):
                via = netaddr.IPAddress(r["via"])
                for k, n in enumerate(own, 1):
                    if via in netaddr.IPNetwork(self._networks[n].cidr):
                        out[cidr_net[r["to"]]] = naming.data_ifname(k)
                        break
            self._egress[g] = out
        return self._egress[g]

    def classes_of(self, g):
        """``{ifname: [[entry, network], ...]}`` of vnode ``g`` (entries in matching order)."""
        out = {}
        egress = None
        for k, e in enumerate(self.entries):
            if g not in self._sources[k]:
                continue
            if egress is None:
                egress = self.egress(g)
            for net in sorted(self._prefixes[k], key=lambda n: self._networks[n].position):
                ifname = egress.get(net)
                if ifname is not None:
                    out.setdefault(ifname, []).append([k, net])
        return out

    def table(self):
        """Per entry, what a pnode needs: ``[{from, to, settings, prefixes: {network: [...]}}]``."""
        return [{"from": e.src, "to": e.dst, "settings": dict(e.settings), "prefixes": self._prefixes[k],
                 "origin": e.origin, "reverse": e.reverse} for k, e in enumerate(self.entries)]
