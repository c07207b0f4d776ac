# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pnode's data networks (private to the collection): the ``networks`` step of ``dataplane``.

Every data network (``vxlab_networks``) with members on this pnode gets what the management
network has: a bridge ``<platform>-<network>`` and a VXLAN device ``<platform>.<network>`` (its
own VNI, unicast head-end replication towards the pnodes hosting members of that network only,
or its own multicast group) as a port of it. Each network is compared and applied by the bridge
and VXLAN concerns' own pure diffs and writers, so it is repaired, checked and diffed as the
management network is; the pnode is read once for all the networks (one link, address and FDB
dump: ten networks on a pnode of 500 interfaces would otherwise cost seconds of dumps).

What this step owns besides: the data-network bridges and VXLAN devices of the platform that are
no longer wanted (found by name, ``<platform>-<network>`` / ``<platform>.<network>``, and by the
owner alias ``vxlab:<platform>``), which it removes (the VXLAN device first). The management
bridge and VXLAN device (``<platform>-br`` / ``<platform>-vx``) never match. ``state: absent``
removes every data network of the platform from this pnode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.vxlab.emulation.plugins.module_utils import _bridge
from ansible_collections.vxlab.emulation.plugins.module_utils import _vxlan
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern, Failure, check_params

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    netns=dict(type="str"),
    networks=dict(type="list", elements="dict", default=[]),
    port=dict(type="int", default=4789),
    underlay_interface=dict(type="str", default="ib0"),
    local=dict(type="str"),
    mode=dict(type="str", default="unicast", choices=["unicast", "multicast"]),
)

NETWORK_KEYS = ("name", "vni", "mtu", "arp_mode", "remote_vteps", "group", "bridge", "vxlan",
                "cidr", "prefixlen", "members")
ARP_MODES = ("dynamic", "static", "suppress")

BRIDGE = _bridge.Bridge()
VXLAN = _vxlan.Vxlan()


def validate(params):
    """Normalised desired state, or ValueError naming the bad value (pure)."""
    platform = naming.check_platform(params["platform"])
    d = {"platform": platform, "state": params.get("state") or "present", "networks": [],
         "port": params.get("port") or 4789,
         "underlay_interface": naming.check_ifname("underlay_interface", params.get("underlay_interface") or "ib0"),
         "local": params.get("local"), "mode": params.get("mode") or "unicast"}
    if d["state"] == "absent":
        return d
    seen = {}
    for i, n in enumerate(params.get("networks") or []):
        where = "networks[%d]" % i
        if not isinstance(n, dict):
            raise ValueError("%s=%r: must be a dict {name, vni, mtu, ...}" % (where, n))
        extra = sorted(set(n) - set(NETWORK_KEYS))
        if extra:
            raise ValueError("%s (%s): unknown key(s) %s" % (where, n.get("name"), ", ".join(extra)))
        name = n.get("name")
        if not isinstance(name, str) or not naming.NETWORK_RE.match(name) or name in naming.RESERVED_NETWORKS:
            raise ValueError("%s.name=%r: %s and not be one of %s"
                             % (where, name, naming.NETWORK_RULE, ", ".join(naming.RESERVED_NETWORKS)))
        if name in seen:
            raise ValueError("%s.name=%r: listed twice" % (where, name))
        seen[name] = True
        bridge, vxlan = naming.network_bridge(platform, name), naming.network_vxlan(platform, name)
        for key, want in (("bridge", bridge), ("vxlan", vxlan)):
            if n.get(key) not in (None, want):
                raise ValueError("%s.%s=%r: the %s of network %s is %s" % (where, key, n[key], key, name, want))
        naming.check_ifname(where + ".bridge", bridge)
        naming.check_ifname(where + ".vxlan", vxlan)
        arp_mode = n.get("arp_mode") or "dynamic"
        if arp_mode not in ARP_MODES:
            raise ValueError("%s.arp_mode=%r: must be one of %s" % (where, arp_mode, ", ".join(ARP_MODES)))
        d["networks"].append({"name": name, "bridge": bridge, "vxlan": vxlan, "vni": n.get("vni"),
                              "mtu": n.get("mtu"), "arp_mode": arp_mode,
                              "remote_vteps": list(n.get("remote_vteps") or []), "group": n.get("group")})
    return d


def step_params(d, n):
    """The bridge and VXLAN concerns' parameters of data network ``n`` (pure)."""
    bridge = {"name": n["bridge"], "platform": d["platform"], "mtu": n["mtu"], "addresses": [],
              "forwarding": False}
    vx = {"name": n["vxlan"], "platform": d["platform"], "vni": n["vni"], "port": d["port"],
          "underlay_interface": d["underlay_interface"], "local": d["local"], "mode": d["mode"],
          "remote_vteps": n["remote_vteps"] if d["mode"] == "unicast" else [], "mtu": n["mtu"],
          "master": n["bridge"],
          # suppress: the VXLAN device answers ARP from its own table (filled by network_arp)
          "learning": n["arp_mode"] != "suppress", "proxy": n["arp_mode"] == "suppress"}
    if d["mode"] == "multicast":
        vx["group"] = n["group"]
    return bridge, vx


def ours_pattern(platform):
    """``(bridge_re, vxlan_re)``: the names of the platform's data-network bridges and VXLAN
    devices (the management ones, ``<platform>-br`` / ``<platform>-vx``, excluded)."""
    net = r"(?!(?:%s)$)[a-z][a-z0-9]{0,9}" % "|".join(re.escape(x) for x in naming.RESERVED_NETWORKS)
    return (re.compile(r"^%s-%s$" % (re.escape(platform), net)),
            re.compile(r"^%s\.%s$" % (re.escape(platform), net)))


def observe(sock, d):
    """One read of the pnode for every network: ``{"links", "by_index", "addresses", "fdb",
    "ip_forward", "ours"}``; ``ours`` are the platform's data-network links (``{ifname, index,
    kind}``, VXLAN devices first)."""
    alias = naming.owner_alias(d["platform"])
    bridge_re, vxlan_re = ours_pattern(d["platform"])
    links = sock.links()
    ours = []
    for lk in links.values():
        if lk["alias"] != alias:
            continue
        if (lk["kind"] == "bridge" and bridge_re.match(lk["ifname"])) or \
                (lk["kind"] == "vxlan" and vxlan_re.match(lk["ifname"])):
            ours.append({"ifname": lk["ifname"], "index": lk["index"], "kind": lk["kind"]})
    wanted_vxlans = set(n["vxlan"] for n in d["networks"])
    fdb = sock.fdb_of([lk["index"] for lk in links.values() if lk["ifname"] in wanted_vxlans and lk["kind"] == "vxlan"])
    return {"links": links, "by_index": dict((lk["index"], lk) for lk in links.values()),
            "addresses": sock.addresses() if d["networks"] else {}, "fdb": fdb,
            "ip_forward": ns.sysctl_get("net.ipv4.ip_forward") if d["networks"] else None,
            "ours": sorted(ours, key=lambda x: (x["kind"] != "vxlan", x["ifname"]))}


def bridge_observed(obs, name):
    """What :func:`_bridge.observe` reads, from the one read (a data bridge has no forwarding
    record: it never turns forwarding on)."""
    link = obs["links"].get(name)
    return {"link": link, "addresses": obs["addresses"].get(link["index"], []) if link else [],
            "ip_forward": obs["ip_forward"], "record": None}


def vxlan_observed(obs, d, master):
    """What :func:`_vxlan.observe` reads, from the one read; ``master``: the bridge's link now."""
    link = obs["links"].get(d["name"])
    under = obs["links"].get(d["underlay_interface"])
    return {"link": link,
            "link_master_name": obs["by_index"][link["master"]]["ifname"]
            if link is not None and link["master"] in obs["by_index"] else None,
            "underlay": under,
            "underlay_addresses": [a.split("/")[0] for a in obs["addresses"].get(under["index"], [])] if under else [],
            "master": master,
            "fdb": obs["fdb"].get(link["index"], []) if link is not None else []}


def stale(d, observed):
    """The observed links no wanted network uses, VXLAN devices first (pure)."""
    wanted = set()
    for n in d["networks"]:
        wanted |= {n["bridge"], n["vxlan"]}
    return [lk for lk in observed["ours"] if lk["ifname"] not in wanted]


class DataNetworks(Concern):
    """The ``networks`` step: a bridge and a VXLAN device per data network hosted here."""

    NAME = "networks"
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        return observe(ctx.sock, desired)

    def diff(self, ctx, desired, observed):
        """Each network's bridge then VXLAN device, compared (the bridge and VXLAN concerns' own
        pure diffs) and applied in turn: the VXLAN device's master is the bridge made just before."""
        gone = stale(desired, observed)
        tracker = DifferenceTracker()
        tracker.add("removed", [lk["ifname"] for lk in gone], [])
        if gone and not ctx.check_mode:
            for lk in gone:
                ctx.sock.link_del(lk["index"])
        warnings, changed_networks = [], []
        for n in desired["networks"]:
            bparams, vparams = step_params(desired, n)
            try:
                bd = _bridge.validate(check_params(BRIDGE, bparams))
                vd, vwarn = _vxlan.validate(check_params(VXLAN, vparams))
            except (Failure, ValueError) as exc:
                raise Failure("network %s: %s" % (n["name"], getattr(exc, "msg", exc)))
            bt, bactions, error = _bridge.diff(bd, bridge_observed(observed, n["bridge"]))
            if error:
                raise Failure("network %s: bridge %s: %s" % (n["name"], n["bridge"], error))
            if bactions and not ctx.check_mode:
                _bridge.apply(ctx.sock, bd, bactions, None)
            master = ctx.sock.link(n["bridge"]) if bactions and not ctx.check_mode \
                else observed["links"].get(n["bridge"])
            vt, vactions, error, more = _vxlan.diff(vd, vxlan_observed(observed, vd, master), ctx.check_mode)
            if error:
                raise Failure("network %s: vxlan %s: %s" % (n["name"], n["vxlan"], error))
            if vactions and not ctx.check_mode:
                _vxlan.apply(ctx.sock, vd, vxlan_observed(observed, vd, master), vactions)
            warnings += ["network %s: %s" % (n["name"], w) for w in vwarn + more]
            tracker.merge(bt, "%s:bridge:" % n["name"])
            tracker.merge(vt, "%s:vxlan:" % n["name"])
            if bt.changed or vt.changed:
                changed_networks.append(n["name"])
        return Change(tracker, {"networks": [n["name"] for n in desired["networks"]], "changed": changed_networks,
                                "removed": [lk["ifname"] for lk in gone]}, warnings=warnings, applied=True)

    def result(self, ctx, desired, observed, change):
        return {"networks": change.actions["networks"], "changed_networks": change.actions["changed"],
                "removed": change.actions["removed"]}
