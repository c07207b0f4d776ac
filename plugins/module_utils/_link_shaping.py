# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Link shaping of vnodes with tc (private to the vxlab.emulation collection).

Settings are those of :mod:`_base.units` (the plan validates ``vxlab_link_defaults`` /
``vxlab_links`` with the same code): rates in bit/s, times in microseconds, loss in percent.

Where the shaping goes (both directions are seen from the vnode):

* traffic INTO the vnode (``ingress_*``) leaves the pnode by the host-side veth (``host_if``): an
  egress qdisc there;
* traffic OUT OF the vnode (``rate``, ``delay``, ``jitter``, ``loss``) is shaped at the other end of
  the same veth, by an egress qdisc on the vnode's own interface (``eth0``) inside its network
  namespace (entered by name or by a PID, so LXC vnodes work the same). This avoids one IFB
  device + ingress filter + mirred redirect per vnode: the same qdisc code serves both
  directions, and a packet is shaped where it is queued.

The qdisc tree of one device (pure data, :func:`device_plan`):

* rate only: ``tbf`` at the root (handle ``7a1:``);
* delay/jitter/loss only: ``netem`` at the root (handle ``7a1:``);
* both: ``tbf`` at the root and ``netem`` as its inner qdisc (parent ``7a1:1``, handle ``7a2:``),
  as Distem 1.x did (TBF + netem);
* nothing: no qdisc of ours (the veth keeps its default ``noqueue``).

The root handle major marks who made a qdisc tree: ``0x7a1`` link shaping (this module),
``0xfa17`` fault injection (``degrade`` of the ``vxlab.emulation.fault`` module, which plans and
applies its trees with this file's code, ``owner="fault"``). A root qdisc with another handle is
someone else's and is never replaced (one clear error), so link shaping and a fault never
replace each other's qdiscs. observe (:func:`observe_vnode`) -> diff (:func:`diff_device`, pure)
-> apply (:func:`apply_device`): a device whose tree differs is rebuilt (its root replaced),
others are not touched. This file writes the qdiscs of the management veth; the HTB trees of
shaping between groups on the data interfaces (root ``7a3:``) are :mod:`_link_matrix`'s, which
uses this file's units, netem plan and probe.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket

from ansible_collections.vxlab.emulation.plugins.module_utils._base.units import (
    UnitError as ShapingError,
    normalise,
    show_rate,
)
from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import rawnl as raw
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern, missing

ROOT_MAJOR = 0x7A1
CHILD_MAJOR = 0x7A2
ROOT_HANDLE = ROOT_MAJOR << 16
CHILD_HANDLE = CHILD_MAJOR << 16
#: handle majors (root, inner) of the trees of each owner, and how messages name the owner
OWNERS = {"link_shaping": (ROOT_MAJOR, CHILD_MAJOR), "fault": (0xFA17, 0xFA18)}
OWNER_NAMES = {"link_shaping": "vxlab link shaping", "fault": "vxlab fault injection (degrade)"}
TC_H_ROOT = 0xFFFFFFFF
MTU_BYTES = 1514
#: tbf burst: 10 ms of traffic at the rate, at least 2 full frames; queue: 50 ms of traffic
BURST_MS = 10
LATENCY_MS = 50
NETEM_LIMIT = 1000

# --------------------------------------------------------------------------------------------
# the qdisc tree of one device (pure)


def direction(settings, ingress):
    """The (rate, delay, jitter, loss) of one direction of a normalised settings dict."""
    p = "ingress_" if ingress else ""
    return dict((k, settings[p + k]) for k in ("rate", "delay", "jitter", "loss") if settings.get(p + k))


def tbf_params(rate_bits):
    rate = rate_bits // 8
    burst = max(2 * MTU_BYTES, rate * BURST_MS // 1000)
    limit = burst + rate * LATENCY_MS // 1000
    return {"rate": rate, "burst": burst, "limit": limit}


def device_plan(settings, owner="link_shaping"):
    """Pure: the list of qdiscs (dicts) one device needs for one direction's settings."""
    root_handle, child_handle = [m << 16 for m in OWNERS[owner]]
    qdiscs = []
    netem = {}
    for key in ("delay", "jitter", "loss"):
        if settings.get(key):
            netem[key] = settings[key]
    if settings.get("rate"):
        qdiscs.append(dict({"kind": "tbf", "handle": root_handle, "parent": TC_H_ROOT},
                           **tbf_params(settings["rate"])))
        if netem:
            qdiscs.append(dict({"kind": "netem", "handle": child_handle, "parent": root_handle | 1,
                                "limit": NETEM_LIMIT}, **netem))
    elif netem:
        qdiscs.append(dict({"kind": "netem", "handle": root_handle, "parent": TC_H_ROOT,
                            "limit": NETEM_LIMIT}, **netem))
    return qdiscs


def owner_of(tree):
    """Which vxlab owner made an observed root tree: an OWNERS key, None (no tree) or "foreign"."""
    if not tree:
        return None
    major = tree[0]["handle"] >> 16
    for owner, (root, dummy) in OWNERS.items():
        if major == root:
            return owner
    return "foreign"


def settings_of_tree(tree):
    """Pure inverse of :func:`device_plan`: the one-direction settings an observed tree applies
    (``{}`` for none). Rates come back as the kernel holds them (whole bytes per second)."""
    out = {}
    for q in tree:
        if q["kind"] == "tbf" and q.get("rate"):
            out["rate"] = q["rate"] * 8
        elif q["kind"] == "netem":
            for key in ("delay", "jitter", "loss"):
                if q.get(key):
                    out[key] = q[key]
    return out


def canonical(settings):
    """Settings as the kernel will hold them (a plan read back), so a re-run compares equal."""
    return settings_of_tree(device_plan(settings))


def comparable(q):
    """The fields of a qdisc dict that decide equality (burst is derived from rate)."""
    keys = {"tbf": ("rate", "limit"), "netem": ("delay", "jitter", "loss", "limit")}.get(q["kind"], ())
    out = {"kind": q["kind"], "handle": q["handle"], "parent": q["parent"]}
    for k in keys:
        out[k] = q.get(k) or 0
    return out


def describe(qdiscs):
    """Short text of a tree, for diffs: ``tbf 10mbit / netem delay 5000us``."""
    parts = []
    for q in qdiscs:
        if q["kind"] == "tbf":
            parts.append("tbf %s" % show_rate(q["rate"] * 8))
        elif q["kind"] == "netem":
            bits = ["netem"]
            for k in ("delay", "jitter"):
                if q.get(k):
                    bits.append("%s %dus" % (k, q[k]))
            if q.get("loss"):
                bits.append("loss %s%%" % q["loss"])
            parts.append(" ".join(bits))
        else:
            parts.append("%s %x:" % (q["kind"], q["handle"] >> 16))
    return " / ".join(parts) if parts else "none"


def diff_device(want, have, owner="link_shaping"):
    """Pure: ``(action, error)`` for one device. action: None, "replace" or "clear".

    ``have`` is the observed root tree (list of qdisc dicts, root first; empty for the default
    qdisc). A root qdisc of another owner is an error, never replaced.
    """
    root = have[0] if have else None
    other = owner_of(have)
    if root is not None and other != owner:
        if other == "foreign":
            return None, ("a %s qdisc with handle %x: that vxlab did not make is the root qdisc; "
                          "refusing to replace it" % (root["kind"], root["handle"] >> 16))
        return None, ("a %s qdisc with handle %x: made by %s is the root qdisc; refusing to replace "
                      "it (remove it with %s first)" % (
                          root["kind"], root["handle"] >> 16, OWNER_NAMES[other],
                          "undegrade" if other == "fault" else "link shaping"))
    if [comparable(q) for q in have] == [comparable(q) for q in want]:
        return None, None
    return ("replace" if want else "clear"), None


def diff(vnodes, settings_of, observed):
    """Pure plan of every device of a pnode.

    ``vnodes``: ``[{"name", "host_if"}]``; ``settings_of(name)``: normalised settings;
    ``observed``: ``{(vnode, side): [qdisc dicts]}`` with side ``host`` (host-side veth, traffic
    into the vnode) or ``vnode`` (the vnode's interface, traffic out of it). Returns ``(tracker,
    actions, errors)``; actions are ``(vnode, side, "replace"|"clear", wanted qdiscs)``.
    """
    tracker = DifferenceTracker()
    actions = []
    errors = []
    for v in vnodes:
        s = settings_of(v["name"])
        for side, ingress in (("vnode", False), ("host", True)):
            want = device_plan(direction(s, ingress))
            have = observed.get((v["name"], side), [])
            action, error = diff_device(want, have)
            where = "%s:%s" % (v["name"], "in" if ingress else "out")
            if error:
                errors.append("%s (%s): %s" % (v["name"], v["host_if"] if ingress else "its interface", error))
                continue
            tracker.add(where, describe(have), describe(want), active=action is not None)
            if action:
                actions.append((v["name"], side, action, want))
    return tracker, actions, errors


def needs_netem(actions):
    return any(q["kind"] == "netem" for a in actions for q in a[3])


# --------------------------------------------------------------------------------------------
# the module: validate -> observe -> diff (above) -> apply

NETEM_MISSING = "qdisc netem is not available in this kernel (delay, jitter and loss need it)"

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    netns=dict(type="str"),
    vnodes=dict(type="list", elements="dict", required=True),
    shaping=dict(type="dict", default={}),
    default=dict(type="dict"),
    interface=dict(type="str", default=naming.VNODE_IFNAME),
)


def validate(params):
    """Normalised desired state, or ValueError naming the bad value (pure)."""
    d = {"platform": naming.check_platform(params["platform"]),
         "state": params.get("state") or "present",
         "interface": naming.check_ifname("interface", params.get("interface") or naming.VNODE_IFNAME),
         "vnodes": [], "settings": {}}
    default = normalise("default", params.get("default")) if d["state"] == "present" else {}
    shaping = params.get("shaping") or {}
    if not isinstance(shaping, dict):
        raise ShapingError("shaping", shaping, "must be a dict {vnode name: settings}")
    names = set()
    for i, v in enumerate(params.get("vnodes") or []):
        if not isinstance(v, dict) or not v.get("name") or not v.get("host_if"):
            raise ValueError("vnodes[%d]=%r: must be a dict {name, host_if, netns or pid}" % (i, v))
        if v["name"] in names:
            raise ValueError("vnodes[%d]: %s is listed twice" % (i, v["name"]))
        names.add(v["name"])
        target = v.get("pid") or v.get("netns") or v["name"]
        d["vnodes"].append({"name": v["name"], "host_if": naming.check_ifname("vnodes[%d].host_if" % i, v["host_if"]),
                            "ns": target})
        if d["state"] == "present":
            own = normalise("shaping.%s" % v["name"], shaping.get(v["name"]), complete=False)
            merged = dict(default, **own)
            d["settings"][v["name"]] = normalise("shaping.%s" % v["name"], merged)
    unknown = sorted(set(shaping) - names)
    if unknown:
        raise ValueError("shaping: %s is not in vnodes" % ", ".join(unknown[:5]))
    return d


def root_tree(qdiscs):
    """The root qdisc and its descendants (root first); the default noqueue/pfifo counts as none."""
    root = [q for q in qdiscs if q["parent"] == TC_H_ROOT]
    if not root or root[0]["handle"] == 0 or root[0]["kind"] in ("noqueue", "pfifo_fast", "mq"):
        return []
    tree = [root[0]]
    major = root[0]["handle"] >> 16
    tree += [q for q in qdiscs if q["parent"] >> 16 == major and q["parent"] != TC_H_ROOT]
    return tree


def observe_vnode(sock, switcher, host_index, target, interface=naming.VNODE_IFNAME, need_inside=True):
    """The root trees of both ends of one vnode's veth: ``(trees, where, error)``.

    ``trees``: ``{"host": tree, "vnode": tree}``, ``where``: ``{side: (socket, ifindex)}`` for
    :func:`apply_device` (the caller closes the vnode-side socket). The vnode side is entered by
    namespace name or PID; when it cannot be entered and ``need_inside`` is false it is left out.
    """
    trees = {"host": root_tree(sock.qdiscs(host_index))}
    where = {"host": (sock, host_index)}
    try:
        with switcher.inside(target):
            inner = nl.Netlink()
    except (OSError, ns.NetnsError) as exc:
        return trees, where, ("%s" % exc) if need_inside else None
    index = inner.link_index(interface)
    if index is None:
        inner.close()
        return trees, where, "no interface %s" % interface
    trees["vnode"] = root_tree(inner.qdiscs(index))
    where["vnode"] = (inner, index)
    return trees, where, None


def observe(d, sock, switcher, check_mode=False):
    """Observed qdisc trees of both ends of every vnode's veth, and where to change them:
    ``(observed, where, errors, warnings)``.

    The host side comes from one qdisc dump of the pnode namespace; each vnode namespace is
    entered once for its own (small) dump and its socket closed again: :func:`open_side` reopens
    one only for a device that must change, so thousands of vnodes cost no open sockets.

    In check mode a missing host-side veth or a vnode namespace that cannot be entered is one
    the vnodes step would make (the runner's check-mode rule): a warning, both ends observed with
    the default qdisc, so the diff shows the trees a deploy would build.
    """
    observed, where, errors, warnings = {}, {}, [], []
    links = sock.links()
    # the plain socket's look first: the (pyroute2) read of the options only if a host device
    # has anything but its default qdisc
    with raw.RawNeigh() as rsock:
        heads = rsock.qdisc_heads()
    by_index = {}
    for q in heads:
        by_index.setdefault(q["index"], []).append(q)
    shaped = [i for i, qs in by_index.items() if root_tree(qs)]
    host_qdiscs = sock.qdiscs_by_index() if shaped else {}
    for v in d["vnodes"]:
        host = links.get(v["host_if"])
        if host is None and d["state"] == "absent":
            continue  # the vnode is gone, and its qdiscs with its veth
        if host is None:
            text = "vnode %s: host-side interface %s does not exist" % (v["name"], v["host_if"])
            if missing(check_mode, text, errors, warnings):
                observed[(v["name"], "host")] = observed[(v["name"], "vnode")] = []
            continue
        observed[(v["name"], "host")] = root_tree(host_qdiscs.get(host["index"], []))
        where[v["name"]] = {"host": (None, host["index"])}
        try:
            with switcher.inside(v["ns"]):
                index = socket.if_nametoindex(d["interface"])
                with raw.RawNeigh() as rsock:  # a plain socket: most vnodes have only the default
                    heads = [q for q in rsock.qdisc_heads() if q["index"] == index]
                inner = nl.Netlink() if root_tree(heads) else None
        except (OSError, ns.NetnsError) as exc:
            if not direction(d["settings"].get(v["name"], {}), False):
                # nothing to shape out of it: a vnode whose namespace is not a named one (e.g.
                # an LXC container not given by PID) is left alone on its side
                continue
            text = "vnode %s: %s" % (v["name"], "no interface %s" % d["interface"]
                                     if not isinstance(exc, ns.NetnsError) else exc)
            if missing(check_mode, text, errors, warnings):
                observed[(v["name"], "vnode")] = []
            continue
        try:
            observed[(v["name"], "vnode")] = root_tree(inner.qdiscs(index)) if inner else []
            where[v["name"]]["vnode"] = (v["ns"], index)
        finally:
            if inner:
                inner.close()
    return observed, where, errors, warnings


def open_side(sock, switcher, place):
    """The netlink socket of one observed device (``where[name][side]``): the pnode's ``sock``,
    or a new one in the vnode's namespace (the caller closes it)."""
    target, index = place
    if target is None:
        return sock, index, False
    with switcher.inside(target):
        return nl.Netlink(), index, True


def probe_netem():
    """None if this kernel has the netem qdisc, else the reason (tried in a throw-away namespace,
    so that a caller can refuse before it changes anything)."""
    name = "vxlab-netem-probe-%d" % os.getpid()
    try:
        ns.netns_create(name)
    except OSError as exc:
        return "cannot probe for netem: %s" % exc
    try:
        with nl.NetnsSwitcher() as switcher:
            with switcher.inside(name):
                s = nl.Netlink()
            try:
                s.qdisc_add(s.link_index("lo"), device_plan({"delay": 1000})[0])
            except nl.NetlinkError as exc:
                return NETEM_MISSING if exc.code == 2 else nl.error_text(exc)
            finally:
                s.close()
        return None
    finally:
        ns.netns_delete(name)


def apply_device(s, index, action, want):
    """Rebuild one device's tree. A missing qdisc kind (ENOENT) rolls the device back and raises."""
    s.qdisc_del_root(index)
    if action == "clear":
        return
    for q in want:
        try:
            s.qdisc_add(index, q)
        except nl.NetlinkError as exc:
            if exc.code == 2:
                s.qdisc_del_root(index)
                raise ShapingError(NETEM_MISSING if q["kind"] == "netem"
                                   else "qdisc %s is not available in this kernel" % q["kind"])
            raise


class LinkShaping(Concern):
    """The ``vxlab.emulation.link_shaping`` module's concern."""

    NAME = "link_shaping"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ("pyroute2", "netlink", "switcher")
    ERRORS = (ShapingError, OSError)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        return observe(desired, ctx.sock, ctx.switcher, ctx.check_mode)

    def diff(self, ctx, desired, observed):
        observed, where, errors, warnings = observed
        if errors:
            return Change(errors=errors)
        tracker, actions, errors = diff(desired["vnodes"], lambda n: desired["settings"].get(n, {}), observed)
        return Change(tracker, actions, errors=errors, warnings=warnings)

    def apply(self, ctx, desired, observed, change):
        where = observed[1]
        # devices needing netem first: a kernel without it fails before anything changed
        change.actions.sort(key=lambda a: not any(q["kind"] == "netem" for q in a[3]))
        for name, side, action, desired in change.actions:
            s, index, own = open_side(ctx.sock, ctx.switcher, where[name][side])
            try:
                apply_device(s, index, action, desired)
            finally:
                if own:
                    s.close()

    def result(self, ctx, desired, observed, change):
        shaped = sorted(n for n, s in desired["settings"].items() if s)
        return {"shaped": shaped, "settings": dict((n, desired["settings"][n]) for n in shaped)}

    def errors_prefix(self, desired):
        return "link_shaping: "
