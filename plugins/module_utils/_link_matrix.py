# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shaping between groups of vnodes (private): the ``link_matrix`` step of ``dataplane``.

``vxlab_link_matrix`` (planned by :mod:`_plan.matrix`) becomes, on the egress of each data
interface of a source vnode (inside its namespace), an HTB tree - the tree's data is made here,
pure (:func:`device_plan`), then observed, diffed and applied like link shaping's:

* root qdisc ``htb`` handle ``7a3:`` (the owner mark of the matrix: link shaping's trees are
  ``7a1:``, faults' ``fa17:``, and none of them replaces another's), unclassified traffic to the
  default class ``7a3:ffff``;
* class ``7a3:1`` at the vnode's total: its ``vxlab_links`` rate, else 10 Gbit/s (the matrix
  classes sit under it), holding the default class and one class ``7a3:<k+2>`` per matrix entry
  ``k`` the vnode is a source of (rate = ceil = the entry's rate, capped by the total), with a
  ``netem`` leaf (handle ``<8000+minor>:``) when the entry has a delay, jitter or loss;
* u32 filters at priority ``k+1`` (the first entry matches first), one per destination prefix of
  the entry: IPv4 destination in the prefix -> the entry's class.

A device whose root is not ours and not the default is someone else's: refused. A re-run changes
nothing; a changed entry rewrites only its class and filters; an entry gone removes its class and
filters; a vnode left with no entry loses the tree. netem where the kernel lacks it is refused,
with the kernel's reason, before any change. The vnodes that hold a tree are listed in
``<state_dir>/link-matrix.json``, so a platform without a matrix visits no vnode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.vxlab.emulation.plugins.module_utils import _link_shaping as ls
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import read_names, write_names
from ansible_collections.vxlab.emulation.plugins.module_utils._base.units import show_rate
from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import rawnl as raw
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern

MAJOR = 0x7A3
ROOT = MAJOR << 16
TOTAL_MINOR = 1
DEFAULT_MINOR = 0xFFFF
LEAF_MAJOR_BASE = 0x8000
#: the total of a vnode without its own vxlab_links rate (bit/s)
UNLIMITED = 10 * 10 ** 9
MAX_ENTRIES = 0xFFF0
RECORD_FILE = "link-matrix.json"
NETEM_KEYS = ("delay", "jitter", "loss")

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    netns=dict(type="str"),
    state_dir=dict(type="str", required=True),
    entries=dict(type="list", elements="dict", default=[]),
    vnodes=dict(type="list", elements="dict", default=[]),
    totals=dict(type="dict", default={}),
)


class MatrixError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# validation and the desired trees (pure)


def validate(params):
    d = {"platform": naming.check_platform(params["platform"]), "state": params.get("state") or "present",
         "state_dir": naming.check_path("state_dir", params.get("state_dir")), "vnodes": []}
    if d["state"] == "absent":
        return d
    entries = params.get("entries") or []
    if len(entries) > MAX_ENTRIES:
        raise ValueError("entries: %d matrix entries, at most %d" % (len(entries), MAX_ENTRIES))
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("settings"), dict) or not isinstance(e.get("prefixes"), dict):
            raise ValueError("entries[%d]=%r: must be a dict {settings, prefixes: {network: [cidr]}}" % (i, e))
        for net, cidrs in e["prefixes"].items():
            for c in cidrs:
                naming.parse_cidr("entries[%d].prefixes.%s" % (i, net), c, host=False)
    totals = params.get("totals") or {}
    for i, v in enumerate(params.get("vnodes") or []):
        name = naming.check_node_name("vnodes[%d].name" % i, (v or {}).get("name"))
        devices = {}
        for ifname, pairs in sorted(((v or {}).get("matrix") or {}).items()):
            naming.check_ifname("vnodes[%d].matrix" % i, ifname)
            classes = {}
            for pair in pairs:
                if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not isinstance(pair[0], int) \
                        or not 0 <= pair[0] < len(entries) or pair[1] not in entries[pair[0]]["prefixes"]:
                    raise ValueError("vnodes[%d] (%s).matrix.%s: %r is not [entry, network] of the entries"
                                     % (i, name, ifname, pair))
                k, net = pair
                c = classes.setdefault(k, {"settings": dict(entries[k]["settings"]), "prefixes": set()})
                c["prefixes"].update(entries[k]["prefixes"][net])
            devices[ifname] = device_plan(classes, totals.get(name))
        d["vnodes"].append({"name": name, "devices": devices})
    return d


def _ip_key(cidr):
    a, plen = cidr.split("/")
    return (naming.ipv4_int(a), int(plen))


def device_plan(classes, total=None):
    """The desired tree of one device (pure): ``{"total", "classes": {minor: (rate, ceil, parent)}
    (bytes/s), "leaves": {minor: netem settings}, "filters": {prio: (classid, [prefixes])}}``.
    ``classes``: ``{entry: {"settings", "prefixes"}}``; ``total``: the vnode's rate (bit/s) or None."""
    total = total or UNLIMITED
    tb = total // 8
    out = {"total": total, "classes": {TOTAL_MINOR: (tb, tb, ls.TC_H_ROOT), DEFAULT_MINOR: (tb, tb, ROOT | TOTAL_MINOR)},
           "leaves": {}, "filters": {}}
    for k, c in sorted(classes.items()):
        minor = k + 2
        rate = min(c["settings"].get("rate") or total, total) // 8
        out["classes"][minor] = (rate, rate, ROOT | TOTAL_MINOR)
        netem = dict((key, c["settings"][key]) for key in NETEM_KEYS if c["settings"].get(key))
        if netem:
            out["leaves"][minor] = netem
        out["filters"][k + 1] = (ROOT | minor, sorted(c["prefixes"], key=_ip_key))
    return out


# ----------------------------------------------------------------------------------------------
# the record of the vnodes holding a tree


def record_path(state_dir):
    return os.path.join(state_dir, RECORD_FILE)


def read_record(state_dir):
    return read_names(record_path(state_dir), "vnodes")


def write_record(state_dir, platform, names):
    write_names(record_path(state_dir), platform, "vnodes", names)


# ----------------------------------------------------------------------------------------------
# observe


def _cidr(value, mask):
    plen = bin(mask).count("1")
    return "%s/%d" % (naming.ipv4_text(value & mask), plen)


def observe_device(s, rsock, index):
    """One device's tree as :func:`device_plan` writes it, ``None`` (default qdisc only) or
    ``{"foreign": description}``."""
    tree = ls.root_tree(s.qdiscs(index))
    if not tree:
        return None
    if tree[0]["handle"] != ROOT or tree[0]["kind"] != "htb":
        return {"foreign": ls.describe(tree)}
    classes = dict((c["handle"] & 0xFFFF, (c["rate"], c["ceil"], c["parent"])) for c in s.htb_classes(index))
    leaves = {}
    for q in tree[1:]:
        if q["kind"] == "netem" and q["parent"] >> 16 == MAJOR:
            leaves[q["parent"] & 0xFFFF] = dict((k, q[k]) for k in NETEM_KEYS if q.get(k))
    filters = {}
    for f in rsock.u32_filters(index, ROOT):
        classid, prefixes = filters.get(f["prio"], (f["classid"], []))
        for value, mask, off in f["keys"]:
            if off == 16:
                prefixes.append(_cidr(value, mask))
        filters[f["prio"]] = (classid if classid == f["classid"] else None, prefixes)
    return {"classes": classes, "leaves": leaves,
            "filters": dict((p, (c, sorted(x, key=_ip_key))) for p, (c, x) in filters.items())}


def observe(d, switcher):
    record = read_record(d["state_dir"])
    namespaces = set(ns.netns_list())
    out = {"record": record, "vnodes": {}}
    wanted = dict((v["name"], v) for v in d["vnodes"] if v["devices"])
    for name in sorted(set(wanted) | set(record)):
        if name not in namespaces:
            out["vnodes"][name] = None
            continue
        s = switcher.open(name)
        try:
            with switcher.inside(name):
                rsock = raw.RawNeigh()
            try:
                links = s.links()
                devices = {}
                names = set((wanted.get(name) or {}).get("devices", {})) | set(
                    n for n in links if n.startswith("eth") and n != naming.VNODE_IFNAME)
                for ifname in sorted(names):
                    lk = links.get(ifname)
                    devices[ifname] = {"index": lk["index"] if lk else None,
                                       "tree": observe_device(s, rsock, lk["index"]) if lk else None}
            finally:
                rsock.close()
        finally:
            s.close()
        out["vnodes"][name] = devices
    return out


# ----------------------------------------------------------------------------------------------
# diff (pure)


def diff_device(want, have):
    """``(actions, error)`` turning the observed tree ``have`` into ``want`` (None: no tree)."""
    if have is not None and "foreign" in have:
        if want is None:
            return [], None
        return [], "the root qdisc is not the matrix's (%s): refusing to replace it" % have["foreign"]
    if want is None:
        return ([("clear",)] if have is not None else []), None
    if have is None or have["classes"].get(TOTAL_MINOR) != want["classes"][TOTAL_MINOR] \
            or have["leaves"] != want["leaves"]:
        return [("build",)], None
    actions = []
    for minor, spec in sorted(want["classes"].items()):
        if minor not in have["classes"]:
            actions.append(("class_add", minor))
        elif have["classes"][minor] != spec:
            actions.append(("class_change", minor))
    for prio in sorted(have["filters"]):
        if have["filters"][prio] != want["filters"].get(prio):
            actions.append(("filters_del", prio))
    for minor in sorted(have["classes"]):
        if minor not in want["classes"]:
            actions.append(("class_del", minor))
    for prio, f in sorted(want["filters"].items()):
        if have["filters"].get(prio) != f:
            actions.append(("filters_add", prio))
    return actions, None


def _show(tree):
    if tree is None:
        return None
    if "foreign" in tree:
        return tree["foreign"]
    return dict(("class %x" % m, "%s%s" % (show_rate(r * 8), "" if m not in tree["leaves"] else " + netem"))
                for m, (r, c, p) in sorted(tree["classes"].items()))


def diff(d, obs, check_mode=False):
    """Pure: ``(tracker, {"devices": {(vnode, ifname): actions}, "record"}, errors, warnings)``; in
    check mode what earlier steps would make (a vnode, its data interface) is a warning."""
    t = DifferenceTracker()
    plans, errors, warnings = {}, [], []
    missing = warnings if check_mode else errors
    wanted = dict((v["name"], v["devices"]) for v in d["vnodes"])
    for name in sorted(set(n for n, dv in wanted.items() if dv) | set(obs["record"])):
        devices = obs["vnodes"].get(name)
        if devices is None:
            if wanted.get(name):
                missing.append("vnode %s: its network namespace does not exist (is it running?)" % name)
            continue
        for ifname, o in sorted(devices.items()):
            want = (wanted.get(name) or {}).get(ifname)
            if o["index"] is None:
                if want is not None:
                    missing.append("vnode %s: no interface %s (the vnode_networks step makes it)" % (name, ifname))
                continue
            actions, error = diff_device(want, o["tree"])
            if error:
                errors.append("vnode %s %s: %s" % (name, ifname, error))
            elif actions:
                plans[(name, ifname)] = actions
                t.add("vnode:%s:%s" % (name, ifname), _show(o["tree"]), _show(want))
    after = sorted(n for n, dv in wanted.items() if dv)
    t.add("vnodes_with_matrix", obs["record"], after, active=False)
    return t, {"devices": plans, "record": after}, errors, warnings


def needs_netem(d, plans):
    wanted = dict((v["name"], v["devices"]) for v in d["vnodes"])
    for (name, ifname), actions in plans.items():
        want = wanted.get(name, {}).get(ifname)
        if want and want["leaves"] and any(a[0] in ("build",) for a in actions):
            return True
    return False


# ----------------------------------------------------------------------------------------------
# apply


#: a class's burst: this many milliseconds at its rate, at least two full frames
BURST_MS = 10
MTU_BYTES = 1514


def class_message(op, index, minor, spec):
    """The packed HTB class message of one class (``spec``: rate, ceil in bytes/s, parent)."""
    rate, ceil, parent = spec
    burst = max(2 * MTU_BYTES, rate * BURST_MS // 1000)
    cburst = max(2 * MTU_BYTES, ceil * BURST_MS // 1000)
    quantum = max(MTU_BYTES, min(200000, rate // 10))
    return raw.htb_class_message(op, index, ROOT | minor, parent, rate, ceil, burst, cburst, quantum)


def _classes(rsock, index, op, items):
    """Classes sent in bulk (``items``: ``[(minor, spec)]``, parents first)."""
    messages = [class_message(op, index, minor, spec) for minor, spec in items]
    errors = rsock.send_bulk(messages)
    if errors:
        pos, code = errors[0]
        raise MatrixError("class %x:%x refused: %s" % (MAJOR, items[pos][0], ls.nl.error_text(ls.nl.NetlinkError(code))))


def _filters(rsock, index, prio, f):
    """The filters of one priority, packed and sent in bulk (a vnode holds tens of them: one
    pyroute2 call each made a 1,000-vnode matrix deploy 2.4 times slower than none)."""
    classid, prefixes = f
    messages = []
    for cidr in prefixes:
        address, plen = cidr.split("/")
        mask = (0xFFFFFFFF << (32 - int(plen))) & 0xFFFFFFFF if int(plen) else 0
        messages.append(raw.u32_message(index, ROOT, prio, classid, naming.ipv4_int(address) & mask, mask))
    errors = rsock.send_bulk(messages)
    if errors:
        pos, code = errors[0]
        raise MatrixError("filter %s -> %x:%x refused: %s (and %d more)"
                          % (prefixes[pos], classid >> 16, classid & 0xFFFF, ls.nl.error_text(ls.nl.NetlinkError(code)),
                             len(errors) - 1))


def apply_device(s, rsock, index, actions, want):
    for a in actions:
        if a[0] == "clear":
            s.qdisc_del_root(index)
        elif a[0] == "build":
            s.qdisc_del_root(index)
            s.htb_root(index, ROOT, DEFAULT_MINOR)
            _classes(rsock, index, "add", [(TOTAL_MINOR, want["classes"][TOTAL_MINOR])] + [
                (minor, spec) for minor, spec in sorted(want["classes"].items()) if minor != TOTAL_MINOR])
            for minor, netem in sorted(want["leaves"].items()):
                q = dict(ls.device_plan(netem)[0], handle=(LEAF_MAJOR_BASE + minor) << 16, parent=ROOT | minor)
                s.qdisc_add(index, q)
            for prio, f in sorted(want["filters"].items()):
                _filters(rsock, index, prio, f)
        elif a[0] == "class_add":
            _classes(rsock, index, "add", [(a[1], want["classes"][a[1]])])
        elif a[0] == "class_change":
            _classes(rsock, index, "change", [(a[1], want["classes"][a[1]])])
        elif a[0] == "class_del":
            rsock.delete_class(index, ROOT | a[1], ROOT | TOTAL_MINOR)
        elif a[0] == "filters_del":
            rsock.delete_filters(index, ROOT, a[1])
        elif a[0] == "filters_add":
            _filters(rsock, index, a[1], want["filters"][a[1]])


def apply(d, obs, p, switcher):
    wanted = dict((v["name"], v["devices"]) for v in d["vnodes"])
    by_vnode = {}
    for (name, ifname), actions in p["devices"].items():
        by_vnode.setdefault(name, []).append((ifname, actions))
    for name, todo in sorted(by_vnode.items()):
        s = switcher.open(name)
        try:
            with switcher.inside(name):
                rsock = raw.RawNeigh()
            try:
                for ifname, actions in sorted(todo):
                    index = obs["vnodes"][name][ifname]["index"]
                    try:
                        apply_device(s, rsock, index, actions, (wanted.get(name) or {}).get(ifname))
                    except Exception as exc:
                        raise MatrixError("vnode %s %s: %s" % (name, ifname, ls.nl.error_text(exc)))
            finally:
                rsock.close()
        finally:
            s.close()
    if p["record"] != obs["record"]:
        write_record(d["state_dir"], d["platform"], p["record"])


class LinkMatrix(Concern):
    """The ``link_matrix`` step: HTB classes and u32 filters per destination group."""

    NAME = "link_matrix"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ("pyroute2", "switcher")
    ERRORS = (OSError, MatrixError, ls.ShapingError)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        if desired["state"] == "absent":
            return {"record": read_record(desired["state_dir"])}
        return observe(desired, ctx.switcher)

    def diff(self, ctx, desired, observed):
        if desired["state"] == "absent":
            t = DifferenceTracker()
            t.add("vnodes_with_matrix", observed["record"], [])
            return Change(t, {"absent": True})
        tracker, plans, errors, warnings = diff(desired, observed, ctx.check_mode)
        if not errors and needs_netem(desired, plans["devices"]):
            reason = ls.probe_netem()
            if reason:
                errors.append("a matrix entry has a delay, jitter or loss: %s" % reason)
        return Change(tracker, plans, errors=errors, warnings=warnings)

    def apply(self, ctx, desired, observed, change):
        if desired["state"] == "absent":
            if observed["record"]:
                write_record(desired["state_dir"], desired["platform"], [])
            return
        apply(desired, observed, change.actions, ctx.switcher)

    def result(self, ctx, desired, observed, change):
        if desired["state"] == "absent":
            return {}
        return {"devices": sorted("%s:%s" % k for k in change.actions["devices"]),
                "vnodes": len(change.actions["record"])}
