# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the ``vxlab.emulation.arp_tables`` module (private to the collection).

How ARP is resolved on a platform (``vxlab_arp_mode``):

* ``dynamic``: plain ARP; this module only removes what the other modes left;
* ``static``: every vnode of this pnode gets a PERMANENT neighbour entry for every other vnode of
  the platform (Distem's global ARP table), so no vnode ever sends an ARP request to another;
* ``suppress``: the pnode's VXLAN interface (``nolearning proxy``, set by the vxlan module) holds a
  PERMANENT neighbour entry and a static FDB entry (MAC -> VTEP of its pnode) for every vnode of
  the other pnodes: an ARP request from a local vnode is answered by the VXLAN device itself and
  never crosses the underlay; each pnode keeps one table instead of one per vnode.

The whole platform is rebuilt here from its compact layout (``vxlab_pnode.neigh_layout``, made by
``Plan.layout()``) with the plan's own formula (:func:`_plan.iter_layout`): a pnode does not
receive 40,000 vnode records from the controller.

Flow: validate (pure) -> locate every target (each local vnode's namespace, given by name or by a
PID, and the VXLAN device) before any change -> per target: dump its table (one netlink dump),
:func:`diff_entries` (pure), and send the changes in bulk (hand-packed netlink messages, ~1,300 per
sendmsg; see ``_kernel.rawnl.RawNeigh``). Replace first, then remove the entries that should not be
there. Entries this module manages: PERMANENT neighbour entries of the platform's network on the
vnode's interface; PERMANENT neighbour entries and permanent non-flood FDB entries of the
platform's VXLAN device (an interface marked ``vxlab:<platform>``).

A neighbour dump costs the kernel a walk of its whole table (every namespace's entries, every
bucket of a hash that grows and never shrinks), not of the vnode's own entries: on a pnode that
once held a static platform's millions of entries, ~1 ms per vnode whatever it holds now. So the
tables of vnodes made just now (``new_vnodes``: the dataplane module passes those its vnodes step
created) are not read at all, and with a ``state_dir`` the step notes the vnodes whose tables it
filled (``<state_dir>/arp-tables.json``, written before it fills them) and, outside static mode,
dumps only those: the other vnodes' tables never held an entry of this step, and only the
gateway's entry is looked up there (one hash lookup, see :func:`sync_vnode`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import struct

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import read_names, remove_if_exists, write_names
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import rawnl as raw
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern, missing
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import iter_layout

MODES = ("dynamic", "static", "suppress")
AF_INET = 2

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    mode=dict(type="str", default="dynamic", choices=list(MODES)),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    netns=dict(type="str"),
    pnode=dict(type="str"),
    layout=dict(type="dict"),
    vnodes=dict(type="list", elements="dict"),
    interface=dict(type="str", default="eth0"),
    vxlan=dict(type="str"),
    gateway_pnode=dict(type="str"),
    gateway_mac=dict(type="str"),
    state_dir=dict(type="path"),
    new_vnodes=dict(type="list", elements="str"),
)

#: the vnodes whose tables the step filled, in ``state_dir``
RECORD_FILE = "arp-tables.json"


# ----------------------------------------------------------------------------------------------
# validation (pure)


def _ip_int(address):
    return struct.unpack("!I", socket.inet_aton(address))[0]


def check_layout(layout, platform):
    """Validate a compact platform layout; return it normalised (pnodes as tuples)."""
    if not isinstance(layout, dict):
        raise ValueError("layout=%r: must be the plan's layout dict {platform, network, stride, pnodes}"
                         % (layout,))
    missing = [k for k in ("platform", "network", "stride", "pnodes") if k not in layout]
    if missing:
        raise ValueError("layout: missing %s" % ", ".join(missing))
    if layout["platform"] != platform:
        raise ValueError("layout.platform=%r: not the platform %r" % (layout["platform"], platform))
    network = naming.parse_cidr("layout.network", layout["network"], host=False)
    stride = layout["stride"]
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 0:
        raise ValueError("layout.stride=%r: must be a non-negative integer" % (stride,))
    pnodes = []
    names = set()
    for i, p in enumerate(layout["pnodes"] or []):
        if not isinstance(p, (list, tuple)) or len(p) != 4:
            raise ValueError("layout.pnodes[%d]=%r: must be [name, index, vtep, vnodes]" % (i, p))
        name, index, vtep, count = p
        if not isinstance(name, str) or not name or name in names:
            raise ValueError("layout.pnodes[%d]: bad or duplicate name %r" % (i, name))
        names.add(name)
        for what, value in (("index", index), ("vnodes", count)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("layout.pnodes[%d].%s=%r: must be a non-negative integer" % (i, what, value))
        if count > stride:
            raise ValueError("layout.pnodes[%d]: %d vnodes exceed the stride %d" % (i, count, stride))
        if vtep is not None:
            vtep = naming.parse_ipv4("layout.pnodes[%d].vtep" % i, vtep)
        pnodes.append((name, index, vtep, count))
    return {"platform": platform, "network": network, "stride": stride, "pnodes": pnodes}


def validate(params):
    """Normalised desired state, or ValueError naming the bad value."""
    platform = naming.check_platform(params["platform"])
    d = {
        "platform": platform,
        "state": params.get("state") or "present",
        "mode": params.get("mode") or "dynamic",
        "pnode": params.get("pnode"),
        "interface": naming.check_ifname("interface", params.get("interface") or "eth0"),
        "vxlan": naming.check_ifname("vxlan", params.get("vxlan") or platform + "-vx"),
        "layout": None,
        "targets": [],
        "gateway": None,
        "state_dir": None if params.get("state_dir") is None else naming.check_path("state_dir", params["state_dir"]),
        "new": frozenset(params.get("new_vnodes") or ()),
    }
    if d["mode"] not in MODES:
        raise ValueError("mode=%r: must be one of %s" % (d["mode"], ", ".join(MODES)))
    if d["state"] == "absent":
        d["mode"] = "dynamic"
    if params.get("layout") is not None:
        d["layout"] = check_layout(params["layout"], platform)
    elif d["mode"] != "dynamic":
        raise ValueError("layout: required in %s mode (the plan's vxlab_pnode.neigh_layout)" % d["mode"])
    if d["layout"] is not None and d["pnode"] is None:
        raise ValueError("pnode: required with a layout (which pnode of the layout this is)")
    if d["layout"] is not None and d["pnode"] not in [p[0] for p in d["layout"]["pnodes"]]:
        raise ValueError("pnode=%r: not a pnode of the layout" % (d["pnode"],))
    if d["mode"] == "suppress" \
            and any(p[2] is None for p in d["layout"]["pnodes"] if p[0] != d["pnode"] and p[3]):
        raise ValueError("layout: suppress mode needs the VTEP address of every pnode")
    gw_mac = params.get("gateway_mac")
    if gw_mac:
        gw_pnode = params.get("gateway_pnode")
        if d["layout"] is None or gw_pnode not in [p[0] for p in d["layout"]["pnodes"]]:
            raise ValueError("gateway_pnode=%r: must be a pnode of the layout when gateway_mac is "
                             "given" % (gw_pnode,))
        vtep = [p[2] for p in d["layout"]["pnodes"] if p[0] == gw_pnode][0]
        net = d["layout"]["network"].split("/")[0]
        d["gateway"] = {"address": socket.inet_ntoa(struct.pack("!I", _ip_int(net) + 1)),
                        "mac": naming.parse_mac("gateway_mac", gw_mac), "pnode": gw_pnode, "vtep": vtep}
    d["targets"] = _targets(d, params.get("vnodes"))
    return d


def _targets(d, vnodes):
    """The local vnodes to visit: ``[{"name", "ns"}]``; ``ns`` is a namespace name, a PID or a path."""
    if vnodes is None:
        if d["layout"] is None:
            return []
        return [{"name": v["name"], "ns": v["name"]} for v in iter_layout(_raw_layout(d["layout"]), d["pnode"])]
    if d["layout"] is None and vnodes:
        raise ValueError("layout: required with vnodes (it says which entries are the platform's)")
    out = []
    seen = set()
    for i, v in enumerate(vnodes):
        if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not v["name"]:
            raise ValueError("vnodes[%d]=%r: must be a dict {name, netns or pid}" % (i, v))
        extra = sorted(set(v) - {"name", "netns", "pid", "address", "mac", "host_if"})
        if extra:
            raise ValueError("vnodes[%d] (%s): unknown key(s) %s" % (i, v["name"], ", ".join(extra)))
        if v["name"] in seen:
            raise ValueError("vnodes[%d]: %s is listed twice" % (i, v["name"]))
        seen.add(v["name"])
        pid = v.get("pid")
        if pid is not None:
            if isinstance(pid, bool) or not str(pid).isdigit() or int(pid) < 1:
                raise ValueError("vnodes[%d].pid=%r (%s): must be a process id" % (i, pid, v["name"]))
            target = int(pid)
        else:
            target = v.get("netns") or v["name"]
            if not isinstance(target, str) or "/" in target.strip("/") and not target.startswith("/"):
                raise ValueError("vnodes[%d].netns=%r (%s): a namespace name or a path" % (i, target, v["name"]))
        out.append({"name": v["name"], "ns": target})
    return out


def _raw_layout(layout):
    return {"platform": layout["platform"], "network": layout["network"], "stride": layout["stride"],
            "pnodes": [list(p) for p in layout["pnodes"]]}


# ----------------------------------------------------------------------------------------------
# what each table should hold (pure)


def platform_vnodes(d, local=False):
    """Every vnode of the layout (dicts with name, address, mac, pnode, vtep); only this pnode's
    with ``local``."""
    if d["layout"] is None:
        return []
    return list(iter_layout(_raw_layout(d["layout"]), d["pnode"] if local else None))


# ----------------------------------------------------------------------------------------------
# the record of the tables this step filled


def read_record(state_dir):
    """The vnodes whose tables the step filled (a set), or None when it does not know (no
    ``state_dir``, or no record there: every table is then read)."""
    if state_dir is None or not os.path.exists(os.path.join(state_dir, RECORD_FILE)):
        return None
    return set(read_names(os.path.join(state_dir, RECORD_FILE), "static"))


def how_to_read(d, record, name):
    """How the table of vnode ``name`` is read (pure): ``"none"`` for a vnode made just now (its
    table is empty), else ``"dump"`` (the whole table) in static mode, without a record, or where
    the step filled the table; ``"gateway"`` (only the gateway's entry) elsewhere."""
    if name in d["new"]:
        return "none"
    if d["mode"] == "static" or record is None or name in record:
        return "dump"
    return "gateway"


def write_record(d, names):
    """Note ``names`` as the vnodes whose tables the step filled (an empty record says "none")."""
    write_names(os.path.join(d["state_dir"], RECORD_FILE), d["platform"], "static", names, known=True)


def static_table(vnodes):
    """``{address: mac}`` of every vnode; a vnode's own table is this without its own address."""
    return dict((v["address"], v["mac"]) for v in vnodes)


def suppress_tables(d, vnodes):
    """``(neigh {address: mac}, fdb {mac: vtep})`` of the VXLAN device: the other pnodes' vnodes,
    and the gateway when it lives on another pnode."""
    neigh, fdb = {}, {}
    for v in vnodes:
        if v["pnode"] != d["pnode"]:
            neigh[v["address"]] = v["mac"]
            fdb[v["mac"]] = v["vtep"]
    gw = d["gateway"]
    if gw and gw["pnode"] != d["pnode"]:
        neigh[gw["address"]] = gw["mac"]
        fdb[gw["mac"]] = gw["vtep"]
    return neigh, fdb


def in_network(network):
    base, plen = network.split("/")
    mask = (0xFFFFFFFF << (32 - int(plen))) & 0xFFFFFFFF
    first = _ip_int(base) & mask

    def test(address):
        return address is not None and (_ip_int(address) & mask) == first
    return test


def managed_neigh(entries, ifindex, owned=None):
    """``{address: mac}`` of the PERMANENT entries of ``ifindex`` this module manages, and
    ``{address: mac}`` of other entries on it (``entries``: RawNeigh.dump tuples)."""
    perm, other = {}, {}
    for idx, ip, mac, state, dummy in entries:
        if idx != ifindex or ip is None:
            continue
        if state & nl.NUD_PERMANENT and (owned is None or owned(ip)):
            perm[ip] = mac
        else:
            other[ip] = mac
    return perm, other


def managed_fdb(entries, ifindex):
    """``{mac: dst}`` of the permanent non-flood FDB entries of the VXLAN device itself."""
    out = {}
    for idx, dst, mac, state, flags in entries:
        if idx == ifindex and mac and mac != nl.ZERO_MAC and flags & nl.NTF_SELF \
                and state & nl.NUD_PERMANENT and dst:
            out.setdefault(mac, dst)
    return out


def diff_entries(want, have, exclude=None):
    """Pure: ``(replace, remove)`` key lists turning ``have`` into ``want`` (dicts key -> value).

    ``exclude``: a key of ``want`` to leave out (a vnode's own address).
    """
    replace = [k for k, v in want.items() if k != exclude and have.get(k) != v]
    remove = [k for k in have if k not in want or k == exclude]
    return replace, remove


def pending_record(table, exclude=None):
    """``(before, after, active)`` of a table another step has still to make (check mode: a vnode
    or VXLAN device missing): all of ``table`` (but ``exclude``) to be written."""
    want_count = len(table) - (1 if exclude is not None and exclude in table else 0)
    return {"entries": None}, {"entries": want_count}, want_count > 0


def target_record(have_count, replace, remove, want_count):
    """``(before, after, active)`` of one table for the diff (counts: tables can be huge)."""
    before = {"entries": have_count}
    if replace:
        before["to_replace"] = len(replace)
    if remove:
        before["to_remove"] = len(remove)
    return before, {"entries": want_count}, bool(replace or remove)


# ----------------------------------------------------------------------------------------------
# observe / apply


class ArpTablesError(Exception):
    """A target that cannot be handled, or entries the kernel refused; the message names them."""


def locate(d, sock, switcher, check_mode=False):
    """Before any change: every target namespace exists and has the interface; the VXLAN device.

    Returns ``(targets, vxlan link or None, warnings, pending_vxlan)``; targets gain ``ifindex``
    (None when the namespace is missing: only allowed outside static mode, where vnode tables are
    only emptied). In check mode a missing target (static mode) or VXLAN device (suppress mode)
    is one the vnodes or vxlan step would make (the runner's check-mode rule): a warning, the
    target marked ``pending`` (``pending_vxlan`` for the device), whose whole table the diff
    reports as to be written.
    """
    errors, warnings = [], []
    pending_vxlan = False
    located = []
    for t in d["targets"]:
        try:
            with switcher.inside(t["ns"]):
                ifindex = socket.if_nametoindex(d["interface"])
        except (OSError, ns.NetnsError) as exc:
            if d["mode"] != "static":
                # nothing to put there: a vnode not reachable as a named namespace (e.g. an LXC
                # container not given by PID) can only hold entries this module never made
                located.append(dict(t, ifindex=None))
                continue
            text = "vnode %s: %s" % (t["name"], "no interface %s" % d["interface"]
                                     if not isinstance(exc, ns.NetnsError) else exc)
            if missing(check_mode, text, errors, warnings):
                located.append(dict(t, ifindex=None, pending=True))
            continue
        located.append(dict(t, ifindex=ifindex))
    if errors:
        raise ArpTablesError("; ".join(errors[:5]) + (" (and %d more)" % (len(errors) - 5)
                                                      if len(errors) > 5 else ""))
    link = sock.link(d["vxlan"])
    if link is not None and (link["kind"] != "vxlan" or link["alias"] != naming.owner_alias(d["platform"])):
        if d["mode"] == "suppress":
            raise ArpTablesError("interface %s is not a VXLAN interface of platform %s" % (d["vxlan"], d["platform"]))
        link = None
    if d["mode"] == "suppress" and link is None:
        pending_vxlan = missing(check_mode, "VXLAN interface %s does not exist" % d["vxlan"], errors, warnings)
        if errors:
            raise ArpTablesError(errors[0])
    elif d["mode"] == "suppress":
        if not link["proxy"]:
            warnings.append("VXLAN interface %s has proxy off: ARP requests still cross the underlay "
                            "(set proxy: true on the vxlan module)" % d["vxlan"])
        if link["learning"]:
            warnings.append("VXLAN interface %s learns MAC addresses: set learning: false so the "
                            "static FDB entries stay authoritative" % d["vxlan"])
    return located, link, warnings, pending_vxlan


class Builder:
    """Packed messages, built once per (table, ifindex) and reused for every vnode."""

    def __init__(self):
        self._cache = {}

    def neigh(self, ifindex, table):
        key = ("neigh", ifindex, id(table))
        if key not in self._cache:
            self._cache[key] = dict((ip, raw.neigh_message("replace", AF_INET, ifindex, ip, mac))
                                    for ip, mac in table.items())
        return self._cache[key]


def _send(rsock, messages, labels, what):
    errors = rsock.send_bulk(messages)
    if errors:
        shown = ", ".join("%s (%s)" % (labels[pos], nl.error_text(nl.NetlinkError(code)))
                          for pos, code in errors[:3])
        raise ArpTablesError("%s: %d of %d changes refused: %s" % (what, len(errors), len(messages), shown))


def sync_vnode(d, t, table, builder, switcher, check_mode, owned, read="dump"):
    """One vnode: dump, diff, replace, remove. Returns ``(before, after, active, counts)``.

    ``read`` (see :func:`how_to_read`): ``"dump"`` the whole table; ``"gateway"`` (a table this
    step never filled, outside static mode: ``table`` is empty) only the gateway's entry, looked
    up; ``"none"`` (a vnode made just now) nothing, its table is empty."""
    gw = d.get("gateway")  # data networks (network_arp) have none
    if not table and (read == "none" or read == "gateway" and not gw):
        return target_record(0, [], [], 0) + ((0, 0),)
    with switcher.inside(t["ns"]):
        rsock = raw.RawNeigh()
    try:
        if read == "dump":
            entries = rsock.dump(AF_INET)
        elif read == "gateway":
            entry = rsock.get(t["ifindex"], gw["address"])
            entries = [entry] if entry else []
        else:
            entries = []
        have, learnt = managed_neigh(entries, t["ifindex"], owned)
        replace, remove = diff_entries(table, have, exclude=t.get("address"))
        want_count = len(table) - (1 if t.get("address") in table else 0)
        before, after, active = target_record(len(have), replace, remove, want_count)
        if gw and learnt.get(gw["address"]) and learnt[gw["address"]] != gw["mac"]:
            # learnt before the gateway's MAC changed (a gratuitous ARP does not cross a VXLAN
            # device that answers ARP itself): forgotten, the next ARP request gets the new one
            remove = remove + [gw["address"]]
            before, after, active = dict(before, gateway=learnt[gw["address"]]), dict(after, gateway=gw["mac"]), True
        if active and not check_mode:
            msgs = builder.neigh(t["ifindex"], table)
            _send(rsock, [msgs[ip] for ip in replace], replace, "vnode %s" % t["name"])
            _send(rsock, [raw.neigh_message("del", AF_INET, t["ifindex"], ip) for ip in remove], remove,
                  "vnode %s" % t["name"])
        return before, after, active, (len(replace), len(remove))
    finally:
        rsock.close()


def sync_vxlan(d, link, neigh, fdb, check_mode):
    """The VXLAN device's neighbour and FDB entries. Returns tracker records and counts."""
    rsock = raw.RawNeigh()
    try:
        idx = link["index"]
        have_n, dummy = managed_neigh(rsock.dump(AF_INET), idx)
        have_f = managed_fdb(rsock.dump(raw.AF_BRIDGE), idx)
        rep_n, rem_n = diff_entries(neigh, have_n)
        rep_f, rem_f = diff_entries(fdb, have_f)
        records = [("vxlan_neigh",) + target_record(len(have_n), rep_n, rem_n, len(neigh)),
                   ("vxlan_fdb",) + target_record(len(have_f), rep_f, rem_f, len(fdb))]
        if not check_mode:
            what = "VXLAN interface %s" % d["vxlan"]
            # FDB first: an answered ARP is then followed by frames that know where to go
            _send(rsock, [raw.fdb_message("replace", idx, mac, fdb[mac]) for mac in rep_f], rep_f, what)
            _send(rsock, [raw.neigh_message("replace", AF_INET, idx, ip, neigh[ip]) for ip in rep_n], rep_n, what)
            _send(rsock, [raw.neigh_message("del", AF_INET, idx, ip) for ip in rem_n], rem_n, what)
            _send(rsock, [raw.fdb_message("del", idx, mac, have_f[mac]) for mac in rem_f], rem_f, what)
        return records, {"neigh": (len(rep_n), len(rem_n)), "fdb": (len(rep_f), len(rem_f))}
    finally:
        rsock.close()


class ArpTables(Concern):
    """The ``vxlab.emulation.arp_tables`` module's concern.

    The difference is compared and applied vnode by vnode (a static-ARP pnode holds millions of
    entries: the whole difference is never held), so :meth:`diff` also applies outside check mode.
    """

    NAME = "arp_tables"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ("pyroute2", "netlink", "switcher")
    ERRORS = (ArpTablesError, OSError)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        targets, link, warnings, pending = locate(desired, ctx.sock, ctx.switcher, ctx.check_mode)
        return {"targets": targets, "link": link, "warnings": warnings, "pending_vxlan": pending,
                "record": read_record(desired["state_dir"])}

    def diff(self, ctx, desired, observed):
        tracker = DifferenceTracker()
        counts = {"vnodes": 0, "replaced": 0, "removed": 0, "vxlan_neigh": 0, "vxlan_fdb": 0}
        # the whole platform only where a table holds it (dynamic mode: this pnode's own vnodes)
        vnodes = platform_vnodes(desired, local=desired["mode"] == "dynamic")
        address_of = dict((v["name"], v["address"]) for v in vnodes)
        owned = in_network(desired["layout"]["network"]) if desired["layout"] else None
        table = static_table(vnodes) if desired["mode"] == "static" else {}
        builder = Builder()
        record = observed["record"]
        if desired["state_dir"] is not None:
            # the record is written before the tables are filled, emptied after they are emptied
            filled = set(t["name"] for t in observed["targets"]) if desired["mode"] == "static" else set()
            if desired["mode"] == "static" and record != filled | (record or set()) and not ctx.check_mode:
                write_record(desired, filled | (record or set()))
        for t in observed["targets"]:
            if t.get("pending"):
                tracker.add("vnode:%s" % t["name"], *pending_record(table, address_of.get(t["name"])))
                continue
            if t["ifindex"] is None:
                continue
            t["address"] = address_of.get(t["name"])
            before, after, active, (rep, rem) = sync_vnode(desired, t, table, builder, ctx.switcher,
                                                           ctx.check_mode, owned, how_to_read(desired, record, t["name"]))
            tracker.add("vnode:%s" % t["name"], before, after, active=active)
            counts["replaced"] += rep
            counts["removed"] += rem
            counts["vnodes"] += 1
        if observed["link"] is not None:
            neigh, fdb = suppress_tables(desired, vnodes) if desired["mode"] == "suppress" else ({}, {})
            records, c = sync_vxlan(desired, observed["link"], neigh, fdb, ctx.check_mode)
            for key, before, after, active in records:
                tracker.add(key, before, after, active=active)
            counts["replaced"] += c["neigh"][0] + c["fdb"][0]
            counts["removed"] += c["neigh"][1] + c["fdb"][1]
            counts["vxlan_neigh"] = len(neigh)
            counts["vxlan_fdb"] = len(fdb)
        elif observed["pending_vxlan"]:
            neigh, fdb = suppress_tables(desired, vnodes)
            tracker.add("vxlan_neigh", *pending_record(neigh))
            tracker.add("vxlan_fdb", *pending_record(fdb))
        counts["per_vnode"] = max(len(table) - 1, 0) if desired["mode"] == "static" else 0
        if desired["state_dir"] is not None and not ctx.check_mode:
            if desired["state"] == "absent":
                remove_if_exists(os.path.join(desired["state_dir"], RECORD_FILE))
            elif desired["mode"] != "static" and record != set():
                write_record(desired, [])
        return Change(tracker, counts, warnings=observed["warnings"], applied=True)

    def result(self, ctx, desired, observed, change):
        return {"mode": desired["mode"], "entries": change.actions}
