# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARP on the data networks (private to the collection): the ``network_arp`` step of ``dataplane``.

Each data network has its own ``arp_mode`` (``vxlab_networks[].arp_mode``, by default the
platform's ``vxlab_arp_mode``), with the meaning the management network's has (see
:mod:`_arp_tables`, whose table code this reuses):

* ``static``: every local member of the network gets, on its interface on that network, a
  PERMANENT neighbour entry for every other member of the network;
* ``suppress``: the network's VXLAN device (``nolearning proxy``, set by the ``networks`` step)
  holds a PERMANENT neighbour entry and a static FDB entry (MAC -> VTEP) for every member on
  another pnode;
* ``dynamic``: plain ARP; only what the other modes left is removed: the step notes the
  networks it filled (``<state_dir>/network-arp.json``) and visits the members of a dynamic
  network only when that network was filled before (a dynamic platform costs no visit).

The members come from the plan (``vxlab_pnode.networks[].members``: address, MAC, VTEP), one list
per network; entries this step manages are those of the network's CIDR on the vnode's interface
on that network, and the VXLAN device's own (as :mod:`_arp_tables` defines them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket

from ansible_collections.vxlab.emulation.plugins.module_utils._arp_tables import (
    ArpTablesError,
    Builder,
    in_network,
    pending_record,
    sync_vnode,
    sync_vxlan,
)
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import read_names, write_names
from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern, missing

MODES = ("dynamic", "static", "suppress")
RECORD_FILE = "network-arp.json"

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    netns=dict(type="str"),
    state_dir=dict(type="str", required=True),
    vtep=dict(type="str"),
    networks=dict(type="list", elements="dict", default=[]),
    vnodes=dict(type="list", elements="dict", default=[]),
)


def validate(params):
    """Normalised desired state, or ValueError naming the bad value (pure)."""
    platform = naming.check_platform(params["platform"])
    d = {"platform": platform, "vtep": params.get("vtep"), "networks": [], "targets": [],
         "state_dir": naming.check_path("state_dir", params.get("state_dir")),
         "state": params.get("state") or "present"}
    if d["state"] == "absent":
        # the vnodes and VXLAN devices went with their tables: only the record is left
        return d
    names = set()
    for i, n in enumerate(params.get("networks") or []):
        where = "networks[%d] (%s)" % (i, n.get("name") if isinstance(n, dict) else n)
        if not isinstance(n, dict) or not n.get("name") or not n.get("cidr"):
            raise ValueError("%s: must be a dict {name, cidr, vxlan, arp_mode, members}" % where)
        mode = n.get("arp_mode") or "dynamic"
        if mode not in MODES:
            raise ValueError("%s.arp_mode=%r: must be one of %s" % (where, mode, ", ".join(MODES)))
        members = []
        for j, m in enumerate(n.get("members") or []):
            if not isinstance(m, (list, tuple)) or len(m) != 3:
                raise ValueError("%s.members[%d]=%r: must be [address, mac, vtep]" % (where, j, m))
            members.append((naming.parse_ipv4("%s.members[%d]" % (where, j), m[0]),
                            naming.parse_mac("%s.members[%d]" % (where, j), m[1]), m[2]))
        if mode != "dynamic" and not members:
            raise ValueError("%s.members: required in %s mode (the plan's vxlab_pnode.networks)" % (where, mode))
        d["networks"].append({"name": n["name"], "cidr": naming.parse_cidr(where + ".cidr", n["cidr"], host=False),
                              "vxlan": naming.check_ifname(where + ".vxlan",
                                                           n.get("vxlan") or naming.network_vxlan(platform, n["name"])),
                              "mode": mode, "members": members})
        names.add(n["name"])
    for i, v in enumerate(params.get("vnodes") or []):
        if not isinstance(v, dict) or not v.get("name"):
            raise ValueError("vnodes[%d]=%r: must be a dict {name, interfaces}" % (i, v))
        for x in v.get("interfaces") or []:
            if x.get("network") in names:
                d["targets"].append({"name": v["name"], "ns": v["name"], "network": x["network"],
                                     "ifname": naming.check_ifname("vnodes[%d].interfaces.ifname" % i, x["ifname"]),
                                     "address": x["address"]})
    return d


def record_path(state_dir):
    return os.path.join(state_dir, RECORD_FILE)


def read_record(state_dir):
    """``{"static": [network], "suppress": [network]}``: the networks this step filled."""
    path = record_path(state_dir)
    return {"static": read_names(path, "static"), "suppress": read_names(path, "suppress")}


def write_record(state_dir, platform, record):
    write_names(record_path(state_dir), platform, "static", record["static"], suppress=record["suppress"])


def to_visit(d, record):
    """The targets (vnode interfaces) and networks (VXLAN devices) to sync (pure): every one of a
    static / suppress network, and of a network that was static / suppress when last applied."""
    vnode_nets = set(n["name"] for n in d["networks"] if n["mode"] == "static") | set(record["static"])
    vxlan_nets = set(n["name"] for n in d["networks"] if n["mode"] == "suppress") | set(record["suppress"])
    return [t for t in d["targets"] if t["network"] in vnode_nets], vxlan_nets


def tables(n, vtep):
    """``(static {address: mac}, neigh {address: mac}, fdb {mac: vtep})`` of network ``n`` (pure):
    the vnodes' table in static mode; the VXLAN device's in suppress mode (the members on other
    pnodes)."""
    static = dict((a, m) for a, m, _v in n["members"]) if n["mode"] == "static" else {}
    neigh, fdb = {}, {}
    if n["mode"] == "suppress":
        for a, m, v in n["members"]:
            if v != vtep:
                neigh[a] = m
                fdb[m] = v
    return static, neigh, fdb


class NetworkArp(Concern):
    """The ``network_arp`` step: neighbour tables of the data networks, per network's mode."""

    NAME = "network_arp"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ("pyroute2", "netlink", "switcher")
    ERRORS = (ArpTablesError, OSError)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        record = read_record(desired["state_dir"])
        if desired["state"] == "absent":
            return {"record": record}
        wanted_targets, vxlan_nets = to_visit(desired, record)
        targets, errors, warnings = [], [], []
        for t in wanted_targets:
            try:
                with ctx.switcher.inside(t["ns"]):
                    ifindex = socket.if_nametoindex(t["ifname"])
            except (OSError, ns.NetnsError) as exc:
                # the vnode_networks step makes it
                if missing(ctx.check_mode, "vnode %s: %s" % (t["name"], exc), errors, warnings):
                    targets.append(dict(t, ifindex=None, pending=True))
                continue
            targets.append(dict(t, ifindex=ifindex))
        links, pending = {}, []
        for n in desired["networks"]:
            if n["name"] not in vxlan_nets:
                continue
            link = ctx.sock.link(n["vxlan"])
            if link is not None and link["kind"] == "vxlan" and link["alias"] == naming.owner_alias(desired["platform"]):
                links[n["name"]] = link
            elif link is None and ctx.check_mode and n["mode"] == "suppress":
                missing(True, "network %s: VXLAN interface %s does not exist" % (n["name"], n["vxlan"]), errors, warnings)
                pending.append(n["name"])
        for text in warnings:
            ctx.warn(text)
        return {"targets": targets, "links": links, "errors": errors, "record": record, "pending": pending}

    def diff(self, ctx, desired, observed):
        if desired["state"] == "absent":
            tracker = DifferenceTracker()
            empty = {"static": [], "suppress": []}
            if tracker.add("filled_networks", observed["record"], empty) and not ctx.check_mode:
                write_record(desired["state_dir"], desired["platform"], empty)
            return Change(tracker, {}, applied=True)
        if observed["errors"]:
            return Change(errors=observed["errors"])
        tracker = DifferenceTracker()
        counts = {"vnodes": 0, "vxlan_entries": 0}
        by_name = dict((n["name"], n) for n in desired["networks"])
        prepared = dict((name, tables(n, desired["vtep"])) for name, n in by_name.items())
        builder = Builder()
        for t in observed["targets"]:
            n = by_name[t["network"]]
            if t.get("pending"):
                tracker.add("vnode:%s:%s" % (t["name"], t["ifname"]), *pending_record(prepared[n["name"]][0], t.get("address")))
                continue
            before, after, active, dummy = sync_vnode(desired, t, prepared[n["name"]][0], builder, ctx.switcher,
                                                      ctx.check_mode, in_network(n["cidr"]))
            tracker.add("vnode:%s:%s" % (t["name"], t["ifname"]), before, after, active=active)
            counts["vnodes"] += 1
        for name, link in sorted(observed["links"].items()):
            dummy, neigh, fdb = prepared[name]
            if by_name[name]["mode"] == "suppress" and not link["proxy"]:
                ctx.warn("network %s: VXLAN interface %s has proxy off" % (name, link["ifname"]))
            records, dummy = sync_vxlan({"vxlan": link["ifname"]}, link, neigh, fdb, ctx.check_mode)
            for key, before, after, active in records:
                tracker.add("network:%s:%s" % (name, key), before, after, active=active)
            counts["vxlan_entries"] += len(neigh) + len(fdb)
        for name in observed["pending"]:
            dummy, neigh, fdb = prepared[name]
            tracker.add("network:%s:vxlan_neigh" % name, *pending_record(neigh))
            tracker.add("network:%s:vxlan_fdb" % name, *pending_record(fdb))
        after = dict((mode, sorted(n["name"] for n in desired["networks"] if n["mode"] == mode))
                     for mode in ("static", "suppress"))
        if after != observed["record"]:
            tracker.add("filled_networks", observed["record"], after, active=False)
            if not ctx.check_mode:
                write_record(desired["state_dir"], desired["platform"], after)
        return Change(tracker, counts, applied=True)

    def result(self, ctx, desired, observed, change):
        if desired["state"] == "absent":
            return {}
        return {"modes": dict((n["name"], n["mode"]) for n in desired["networks"]), "entries": change.actions}
