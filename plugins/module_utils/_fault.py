# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault events of a vxlab platform: their validation, and their application on one pnode.

(Over 600 lines on purpose: one concern, the ten fault actions of both vnode kinds, whose
observation, plan and application share one state table per vnode; split, each part would
need the others' table. Its qdiscs are link shaping's, its LXC lifecycle vnode_state's.)

Private to the collection. Two users:

* the controller (``vxlab/fault.py``: command line, trace files, churn generator) calls the pure
  :func:`normalize_event` / :func:`parse_rate` / :func:`parse_delay` / :func:`parse_loss`, so an
  event is validated by the same code on both sides;
* the ``vxlab.emulation.fault`` module applies a list of events on one pnode in one call:
  observe (links, the VXLAN FDB, the qdiscs of the concerned vnodes) -> :func:`diff` (pure: the
  events are replayed in order on the observed state, which gives each event its own before /
  after and ``changed``, whatever else is in the same batch) -> :func:`apply` (only the net
  difference between the observed and the final state is written).

Actions (``target`` is a vnode name, or a pnode name for ``pnode_off``/``pnode_on``):

=================  ==============================================================================
``vnode_down``     netns vnode: its host-side veth is set down; LXC vnode: the container is stopped
``vnode_up``       the reverse (an LXC vnode is started again, same address and MAC)
``freeze``         LXC vnodes only (cgroup freezer); refused for netns vnodes
``unfreeze``       the reverse
``link_cut``       the vnode's host-side veth leaves the bridge (the vnode stays up, unreachable)
``link_restore``   the veth is attached to the bridge again
``degrade``        ``rate`` (tbf) and/or ``delay``/``loss`` (netem) on both ends of the vnode's veth
``undegrade``      the qdiscs this module added are removed
``pnode_off``      on the target pnode its VXLAN interface goes down; on every other pnode the
                   flood FDB entry of its VTEP is removed (unicast mode)
``pnode_on``       the reverse
=================  ==============================================================================

Nothing here has a second implementation: LXC containers are started, stopped, frozen and thawed
by :mod:`_vnode_state` (:func:`_vnode_state.converge`), and qdiscs are planned, observed and
written by :mod:`_link_shaping` (its units, its tree planner with ``owner="fault"``, whose root handle
``fa17:`` tells a fault's qdiscs from link shaping's ``7a1:``; each refuses to replace the
other's). A kernel without netem is detected before any change (``_link_shaping.probe_netem``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming, units
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils import _link_shaping as sh
from ansible_collections.vxlab.emulation.plugins.module_utils import _vnode_state as vs
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import containers as lx
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import lxc as vl
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups as cg
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern

#: every action, and the state it acts on
VNODE_ACTIONS = ("vnode_down", "vnode_up", "freeze", "unfreeze", "link_cut", "link_restore",
                 "degrade", "undegrade")
PNODE_ACTIONS = ("pnode_off", "pnode_on")
ACTIONS = VNODE_ACTIONS + PNODE_ACTIONS
#: short names accepted from users (command line, trace files)
ALIASES = {
    "down": "vnode_down", "up": "vnode_up", "cut": "link_cut", "uncut": "link_restore",
    "restore": "link_restore", "off": "pnode_off", "on": "pnode_on", "heal": "undegrade",
}
SHAPING_KEYS = ("rate", "delay", "loss")
EVENT_KEYS = ("id", "action", "target") + SHAPING_KEYS
#: the owner of this module's qdisc trees in _link_shaping (root handle fa17:)
OWNER = "fault"
PEER_IFNAME = naming.VNODE_IFNAME
#: LXC vnodes: the vnode_state each action asks for, and the LXC state each state ends in
LXC_ACTIONS = {"vnode_down": "stopped", "vnode_up": "started", "freeze": "frozen", "unfreeze": "unfrozen"}
LXC_TARGET = {"stopped": "STOPPED", "started": "RUNNING", "frozen": "FROZEN", "unfrozen": "RUNNING"}
LXC_WANTED = {"STOPPED": "stopped", "RUNNING": "started", "FROZEN": "frozen"}

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    pnode=dict(type="str", required=True),
    netns=dict(type="str"),
    vnode_kind=dict(type="str", default="netns", choices=["netns", "lxc"]),
    state_dir=dict(type="str"),
    bridge=dict(type="str", required=True),
    vxlan=dict(type="str", required=True),
    vxlan_mode=dict(type="str", default="unicast", choices=["unicast", "multicast"]),
    vnodes=dict(type="list", elements="dict", default=[]),
    vteps=dict(type="dict", default={}),
    events=dict(type="list", elements="dict", default=[]),
)


class FaultError(ValueError):
    """A bad event or parameter; the message names it."""


# --------------------------------------------------------------------------------------------
# parameters (pure)


def _what(where, key, value):
    return "%s%s=%r" % (where + ": " if where else "", key, value)


def _shaping_value(parse, key, value, where):
    """One value through _link_shaping's units; its error becomes a FaultError naming the value."""
    if value is None or value == "":
        raise FaultError("%s: must be given" % _what(where, key, value))
    try:
        return parse("%s%s" % (where + ": " if where else "", key), value)
    except sh.ShapingError as exc:
        raise FaultError(str(exc))


def parse_rate(value, where=""):
    """A rate as bits per second (int) in link shaping's units: ``10mbit``, ``100kbps`` (bytes),
    a bare number is bit/s; rounded down to whole bytes per second, as the kernel keeps it."""
    bits = _shaping_value(units.parse_rate, "rate", value, where)
    if bits < 8:
        raise FaultError("%s: a degraded rate must be at least 8bit" % _what(where, "rate", value))
    return sh.canonical({"rate": bits})["rate"]


def parse_delay(value, where="", key="delay"):
    """A duration as microseconds (int): ``10ms``, ``250us``, ``1.5s``; a bare number is us."""
    return _shaping_value(units.parse_time, key, value, where)


def parse_loss(value, where=""):
    """A loss probability in percent (float, 0-100): ``1%``, ``0.5%``, ``2``."""
    return _shaping_value(units.parse_loss, "loss", value, where)


def check_name(key, value, where=""):
    if not naming.is_node_name(value):
        raise FaultError("%s: must be a vnode or pnode name: %s" % (_what(where, key, value),
                                                                    naming.NODE_NAME_RULE))
    return value


def normalize_action(value, where=""):
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_")
        key = ALIASES.get(key, key)
        if key in ACTIONS:
            return key
    import difflib

    close = difflib.get_close_matches(str(value), list(ACTIONS) + sorted(ALIASES), n=1, cutoff=0.6)
    raise FaultError("%s: unknown action (one of %s)%s" % (
        _what(where, "action", value), ", ".join(ACTIONS),
        "; did you mean %s?" % close[0] if close else ""))


def normalize_event(event, where=""):
    """Validate one event ``{action, target[, rate, delay, loss][, id]}``; return it normalised.

    ``rate`` becomes bits/s, ``delay`` microseconds, ``loss`` percent. Unknown keys are refused
    with a did-you-mean hint.
    """
    if not isinstance(event, dict):
        raise FaultError("%s: an event must be a mapping {action, target, ...}, not %r" % (where or "event", event))
    import difflib

    for key in event:
        if key not in EVENT_KEYS:
            close = difflib.get_close_matches(str(key), EVENT_KEYS, n=1, cutoff=0.6)
            raise FaultError("%s: unknown key %r (allowed: %s)%s" % (
                where or "event", key, ", ".join(EVENT_KEYS),
                "; did you mean %s?" % close[0] if close else ""))
    for key in ("action", "target"):
        if event.get(key) in (None, ""):
            raise FaultError("%s: %s is missing" % (where or "event", key))
    out = {"action": normalize_action(event["action"], where),
           "target": check_name("target", event["target"], where)}
    if event.get("id") is not None:
        if isinstance(event["id"], bool) or not isinstance(event["id"], int) or event["id"] < 0:
            raise FaultError("%s: must be a non-negative integer" % _what(where, "id", event["id"]))
        out["id"] = event["id"]
    given = [k for k in SHAPING_KEYS if event.get(k) not in (None, "")]
    if out["action"] != "degrade":
        if given:
            raise FaultError("%s: %s only applies to action degrade"
                             % (_what(where, given[0], event[given[0]]), given[0]))
        return out
    if not given:
        raise FaultError("%s: degrade needs at least one of rate, delay, loss"
                         % (where or "event %s" % out["target"]))
    if "rate" in given:
        out["rate"] = parse_rate(event["rate"], where)
    for key, parse in (("delay", parse_delay), ("loss", parse_loss)):
        if key in given:
            value = parse(event[key], where)
            if value:  # zero: none, as in link shaping
                out[key] = value
    if not any(k in out for k in SHAPING_KEYS):
        raise FaultError("%s: degrade needs a non-zero rate, delay or loss"
                         % (where or "event %s" % out["target"]))
    return out


def shaping_of(event):
    """The shaping an event asks for: ``{rate, delay, loss}`` with None for what is not given."""
    return {k: event.get(k) for k in SHAPING_KEYS}


def settings_of(shaping):
    """Our ``{rate, delay, loss}`` (None: no shaping) as _link_shaping settings of one direction."""
    return dict((k, v) for k, v in (shaping or {}).items() if v)


def shaping_of_tree(tree):
    """Our shaping read back from an observed tree of ours (None for no tree)."""
    if not tree:
        return None
    got = sh.settings_of_tree(tree)
    return {k: got.get(k) for k in SHAPING_KEYS}


def format_shaping(shaping):
    if not shaping:
        return None
    parts = []
    if shaping.get("rate") is not None:
        parts.append("rate %dbit" % shaping["rate"])
    if shaping.get("delay") is not None:
        parts.append("delay %dus" % shaping["delay"])
    if shaping.get("loss") is not None:
        parts.append("loss %g%%" % shaping["loss"])
    return " ".join(parts)


def needs_netem(shaping):
    return bool(shaping) and (shaping.get("delay") is not None or shaping.get("loss") is not None)


def device_actions(shaping, trees):
    """Pure: ``[(side, action, wanted qdiscs)]`` that put ``shaping`` (None: none) on both ends
    of a vnode's veth, given their observed root trees ``{side: tree}``; or raises FaultError
    when a side's root qdisc is not this module's (link shaping's, or someone else's)."""
    want = sh.device_plan(settings_of(shaping), owner=OWNER)
    out = []
    for side in ("host", "vnode"):
        if side not in trees:
            continue
        action, error = sh.diff_device(want, trees[side], owner=OWNER)
        if error:
            raise FaultError(error)
        if action:
            out.append((side, action, want))
    return out


# --------------------------------------------------------------------------------------------
# module parameters (pure)


def validate(params):
    """The module's normalised parameters, or FaultError naming the bad value."""
    d = {
        "platform": naming.check_platform(params["platform"]),
        "pnode": check_name("pnode", params["pnode"]),
        "vnode_kind": params.get("vnode_kind") or "netns",
        "bridge": naming.check_ifname("bridge", params["bridge"]),
        "vxlan": naming.check_ifname("vxlan", params["vxlan"]),
        "vxlan_mode": params.get("vxlan_mode") or "unicast",
        "state_dir": params.get("state_dir"),
        "vnodes": {},
        "vteps": {},
        "events": [],
    }
    for i, v in enumerate(params.get("vnodes") or []):
        if not isinstance(v, dict) or not v.get("name") or not v.get("host_if"):
            raise FaultError("vnodes[%d]=%r: needs name and host_if" % (i, v))
        d["vnodes"][check_name("vnodes[%d].name" % i, v["name"])] = {
            "name": v["name"], "host_if": naming.check_ifname("vnodes[%d].host_if" % i, v["host_if"])}
    for name, vtep in sorted((params.get("vteps") or {}).items()):
        check_name("vteps", name)
        d["vteps"][name] = naming.parse_ipv4("vteps[%s]" % name, vtep)
    if d["pnode"] not in d["vteps"] and d["vteps"]:
        raise FaultError("pnode=%r: not among the pnodes of vteps (%s)" % (d["pnode"], ", ".join(d["vteps"])))
    sd = d["state_dir"]
    if sd is not None and (not isinstance(sd, str) or not sd.startswith("/") or "/../" in sd + "/"):
        raise FaultError("state_dir=%r: must be an absolute path" % (sd,))
    if d["vnode_kind"] not in ("netns", "lxc"):
        raise FaultError("vnode_kind=%r: must be netns or lxc" % (d["vnode_kind"],))
    seen = set()
    for i, e in enumerate(params.get("events") or []):
        ev = normalize_event(e, "events[%d]" % i)
        ev.setdefault("id", i)
        if ev["id"] in seen:
            raise FaultError("events[%d]: id=%r is used twice" % (i, ev["id"]))
        seen.add(ev["id"])
        d["events"].append(ev)
    if d["vnode_kind"] == "lxc" and sd is None and any(
            e["action"] in LXC_ACTIONS and scope_of(d, e) == "vnode" for e in d["events"]):
        raise FaultError("state_dir: needed for %s of LXC vnodes (their containers are in "
                         "<state_dir>/lxc)" % ", ".join(sorted(set(
                             e["action"] for e in d["events"] if e["action"] in LXC_ACTIONS))))
    return d


def scope_of(d, event):
    """Where an event acts on this pnode: ``vnode``, ``self``, ``remote`` or None (not here)."""
    if event["action"] in VNODE_ACTIONS:
        return "vnode" if event["target"] in d["vnodes"] else None
    if event["target"] == d["pnode"]:
        return "self"
    if event["target"] in d["vteps"]:
        return "remote"
    return None


# --------------------------------------------------------------------------------------------
# observe


def observe(d, sock, switcher):
    """The state the events touch, as plain data (LXC: the containers' states too)."""
    links = sock.links()
    namespaces = set(ns.netns_list())
    bridge = links.get(d["bridge"])
    vxlan = links.get(d["vxlan"])
    relevant = set(e["target"] for e in d["events"] if scope_of(d, e) == "vnode")
    shaped = set(e["target"] for e in d["events"] if scope_of(d, e) == "vnode"
                 and e["action"] in ("degrade", "undegrade"))
    containers, lxc_states = {}, {}
    if d["vnode_kind"] == "lxc" and relevant and d["state_dir"]:
        containers, lxc_states = vs.observe(d["state_dir"])
    vnodes = {}
    for name in sorted(relevant):
        v = d["vnodes"][name]
        link = links.get(v["host_if"])
        o = {"exists": link is not None, "up": None, "attached": None, "shaping": None,
             "peer_shaping": None, "netns": name in namespaces, "foreign_qdisc": []}
        if d["vnode_kind"] == "lxc":
            o["container"] = name in containers
            o["lxc"] = lxc_states.get(name, {}).get("state", "STOPPED") if o["container"] else None
        if link is not None:
            o["up"] = bool(link["up"])
            o["attached"] = bridge is not None and link["master"] == bridge["index"]
            o["index"] = link["index"]
            o["ours"] = link["alias"] == naming.owner_alias(d["platform"])
        if name in shaped and link is not None:
            trees, where, dummy = sh.observe_vnode(sock, switcher, link["index"], name, PEER_IFNAME,
                                                   need_inside=False)
            if "vnode" in where:
                where["vnode"][0].close()
            o["trees"] = trees
            for side, key in (("host", "shaping"), ("vnode", "peer_shaping")):
                owner = sh.owner_of(trees.get(side))
                if owner == OWNER:
                    o[key] = shaping_of_tree(trees[side])
                elif owner is not None:
                    o["foreign_qdisc"].append("%s %x: (%s)" % (
                        trees[side][0]["kind"], trees[side][0]["handle"] >> 16,
                        sh.OWNER_NAMES.get(owner, "not vxlab's")))
        vnodes[name] = o
    flood = []
    if vxlan is not None and vxlan["kind"] == "vxlan":
        flood = sorted(set(e["dst"] for e in sock.fdb(vxlan["index"])
                           if e["mac"] == nl.ZERO_MAC and e["dst"]))
    return {
        "bridge": None if bridge is None else {"index": bridge["index"]},
        "vxlan": None if vxlan is None else {"index": vxlan["index"], "up": bool(vxlan["up"]),
                                             "kind": vxlan["kind"],
                                             "ours": vxlan["alias"] == naming.owner_alias(d["platform"])},
        "flood": flood,
        "vnodes": vnodes,
    }


# --------------------------------------------------------------------------------------------
# plan (pure)


def _vnode_state(o):
    st = {"up": o["up"], "attached": o["attached"],
          "shaping": o["shaping"] if o["shaping"] == o["peer_shaping"] or o.get("netns") is False else
          {"host": o["shaping"], "vnode": o["peer_shaping"]}}
    if "lxc" in o:
        st["lxc"] = o["lxc"]
    return st


#: what a freshly started LXC vnode has: its veth up, in the bridge, without qdiscs
FRESH = {"up": True, "attached": True, "shaping": None}


def _lxc_step(d, o, st, act, target):
    """Replay one LXC lifecycle event on ``st`` (in place); returns an error text or None."""
    if not o.get("container"):
        return ("%s %s: not an LXC vnode of platform %s on this pnode (no container in %s/lxc)"
                % (act, target, d["platform"], d["state_dir"]))
    wanted = LXC_ACTIONS[act]
    try:
        steps = vs.transitions(st["lxc"], wanted)
    except ValueError as exc:
        return "%s %s: vnode %s %s" % (act, target, target, exc)
    if not steps:
        return None
    before = st["lxc"]
    st["lxc"] = LXC_TARGET[wanted]
    if st["lxc"] == "STOPPED":
        st.update(up=None, attached=None, shaping=None)  # its veth is gone with it
    elif before == "STOPPED":
        st.update(FRESH)
    return None


def diff(d, obs):
    """Replay the events on the observed state. Returns ``{events, errors, actions, diff}``.

    ``events``: per event of this pnode ``{id, action, target, scope, changed, before, after}``;
    ``actions``: the net changes to make, in order (``("lxc", vnode, vnode_state state)``,
    ``("link", ifname, field, value)``, ``("shape", vnode, shaping)``, ``("vxlan_up", bool)``,
    ``("fdb", vtep, present)``).
    """
    errors = []
    results = []
    lxc = d["vnode_kind"] == "lxc"
    state = {"vnodes": {n: _vnode_state(o) for n, o in obs["vnodes"].items()},
             "overlay": obs["vxlan"]["up"] if obs["vxlan"] else None,
             "fdb": {p: vtep in obs["flood"] for p, vtep in d["vteps"].items() if p != d["pnode"]}}
    initial = copy.deepcopy(state)
    for ev in d["events"]:
        scope = scope_of(d, ev)
        if scope is None:
            continue
        act, target = ev["action"], ev["target"]
        res = {"id": ev["id"], "action": act, "target": target, "scope": scope, "pnode": d["pnode"]}
        if scope == "vnode":
            o = obs["vnodes"][target]
            st = state["vnodes"][target]
            before = dict(st)
            if act in ("freeze", "unfreeze") and not lxc:
                errors.append("%s %s: freezing needs LXC vnodes (vxlab_vnode_kind: lxc); netns vnodes "
                              "have no container to freeze" % (act, target))
                continue
            if lxc and act in LXC_ACTIONS:
                error = _lxc_step(d, o, st, act, target)
                if error:
                    errors.append(error)
                    continue
                res.update(before=before, after=dict(st), changed=before != st)
                results.append(res)
                continue
            if lxc and st.get("lxc") == "STOPPED":
                errors.append("%s %s: vnode %s is stopped (vnode_up first)" % (act, target, target))
                continue
            restarted = lxc and initial["vnodes"][target].get("lxc") == "STOPPED"
            if not restarted:  # a vnode started by this batch gets a new veth of ours
                if not o["exists"]:
                    errors.append("%s %s: vnode %s has no host interface %s on pnode %s (is the platform "
                                  "deployed?)" % (act, target, target, d["vnodes"][target]["host_if"], d["pnode"]))
                    continue
                if not o.get("ours"):
                    errors.append("%s %s: interface %s is not owned by platform %s; refusing to touch it"
                                  % (act, target, d["vnodes"][target]["host_if"], d["platform"]))
                    continue
                if act in ("degrade", "undegrade") and o.get("foreign_qdisc"):
                    errors.append("%s %s: its veth already has a qdisc vxlab's fault injection did not add "
                                  "(%s); refusing to replace it" % (act, target, ", ".join(o["foreign_qdisc"])))
                    continue
            if act in ("vnode_down", "vnode_up"):
                st["up"] = act == "vnode_up"
            elif act in ("link_cut", "link_restore"):
                if obs["bridge"] is None and act == "link_restore":
                    errors.append("%s %s: bridge %s does not exist" % (act, target, d["bridge"]))
                    continue
                st["attached"] = act == "link_restore"
            elif act == "degrade":
                st["shaping"] = shaping_of(ev)
            else:
                st["shaping"] = None
            after = dict(st)
        else:
            if obs["vxlan"] is None or obs["vxlan"]["kind"] != "vxlan":
                errors.append("%s %s: VXLAN interface %s does not exist on pnode %s"
                              % (act, target, d["vxlan"], d["pnode"]))
                continue
            if not obs["vxlan"]["ours"]:
                errors.append("%s %s: interface %s is not owned by platform %s; refusing to touch it"
                              % (act, target, d["vxlan"], d["platform"]))
                continue
            if scope == "self":
                before = {"overlay": state["overlay"]}
                state["overlay"] = act == "pnode_on"
                after = {"overlay": state["overlay"]}
            else:
                if d["vxlan_mode"] != "unicast":
                    continue  # multicast: the target's own VXLAN interface going down is enough
                before = {"fdb": state["fdb"][target]}
                state["fdb"][target] = act == "pnode_on"
                after = {"fdb": state["fdb"][target]}
        res.update(before=before, after=after, changed=before != after)
        results.append(res)

    actions = []
    for name, st in sorted(state["vnodes"].items()):
        was = initial["vnodes"][name]
        host_if = d["vnodes"][name]["host_if"]
        if lxc and st.get("lxc") != was.get("lxc"):
            actions.append(("lxc", name, LXC_WANTED[st["lxc"]]))
        if lxc and st.get("lxc") == "STOPPED":
            continue  # no veth to change
        if lxc and was.get("lxc") == "STOPPED":
            was = FRESH  # started by this batch: a new veth, up, in the bridge, not shaped
        if st["attached"] != was["attached"]:
            actions.append(("link", host_if, "attached", st["attached"]))
        if st["up"] != was["up"]:
            actions.append(("link", host_if, "up", st["up"]))
        if st["shaping"] != was["shaping"]:
            actions.append(("shape", name, st["shaping"]))
    if state["overlay"] != initial["overlay"]:
        actions.append(("vxlan_up", state["overlay"]))
    for p in sorted(state["fdb"]):
        if state["fdb"][p] != initial["fdb"][p]:
            actions.append(("fdb", d["vteps"][p], state["fdb"][p]))
    diff = {"before": {}, "after": {}}
    for name in sorted(state["vnodes"]):
        if state["vnodes"][name] != initial["vnodes"][name]:
            diff["before"]["vnode:" + name] = initial["vnodes"][name]
            diff["after"]["vnode:" + name] = state["vnodes"][name]
    if state["overlay"] != initial["overlay"]:
        diff["before"]["overlay"], diff["after"]["overlay"] = initial["overlay"], state["overlay"]
    for p in sorted(state["fdb"]):
        if state["fdb"][p] != initial["fdb"][p]:
            diff["before"]["fdb:" + p], diff["after"]["fdb:" + p] = initial["fdb"][p], state["fdb"][p]
    return {"events": results, "errors": errors, "actions": actions, "diff": diff}


# --------------------------------------------------------------------------------------------
# apply


def _shape(d, name, shaping, sock, switcher):
    """Put ``shaping`` on both ends of vnode ``name``'s veth with _link_shaping's code (its trees as
    they are now: an LXC vnode started by the same batch has a new veth)."""
    index = sock.link_index(d["vnodes"][name]["host_if"])
    if index is None:
        raise FaultError("%s %s: host interface %s is gone" % (
            "degrade" if shaping else "undegrade", name, d["vnodes"][name]["host_if"]))
    trees, where, dummy = sh.observe_vnode(sock, switcher, index, name, PEER_IFNAME, need_inside=False)
    try:
        try:
            todo = device_actions(shaping, trees)
        except FaultError as exc:
            raise FaultError("%s %s: %s" % ("degrade" if shaping else "undegrade", name, exc))
        for side, action, want in todo:
            s, idx = where[side]
            try:
                sh.apply_device(s, idx, action, want)
            except sh.ShapingError as exc:
                raise FaultError("degrade %s (%s): %s" % (name, format_shaping(shaping), exc))
    finally:
        if "vnode" in where:
            where["vnode"][0].close()


def apply(d, obs, actions, sock, switcher):
    """Make the net changes of :func:`plan`. Shaping is checked for netem before any change."""
    netem = [a for a in actions if a[0] == "shape" and needs_netem(a[2])]
    if netem:
        reason = sh.probe_netem()
        if reason is not None:
            raise FaultError("degrade %s (%s): delay and loss need the netem qdisc, which this kernel "
                             "does not have (%s); only rate (tbf) is available here"
                             % (netem[0][1], format_shaping(netem[0][2]), reason))
    lxc = dict((a[1], a[2]) for a in actions if a[0] == "lxc")
    if lxc:
        try:
            vs.converge(d["platform"], d["state_dir"], lxc, sock)
        except ValueError as exc:
            raise FaultError("LXC vnodes on pnode %s: %s" % (d["pnode"], exc))
    bridge = obs["bridge"]["index"] if obs["bridge"] else None
    for act in actions:
        if act[0] == "link":
            dummy, ifname, field, value = act
            index = sock.link_index(ifname)
            if field == "up":
                sock.link_set(index, state="up" if value else "down")
            else:
                sock.link_set(index, master=bridge if value else 0)
        elif act[0] == "shape":
            _shape(d, act[1], act[2], sock, switcher)
        elif act[0] == "vxlan_up":
            sock.link_set(obs["vxlan"]["index"], state="up" if act[1] else "down")
        elif act[0] == "fdb":
            if act[2]:
                sock.fdb_append(obs["vxlan"]["index"], nl.ZERO_MAC, act[1])
            else:
                sock.fdb_del(obs["vxlan"]["index"], nl.ZERO_MAC, act[1])


class Fault(Concern):
    """The ``vxlab.emulation.fault`` module's concern."""

    NAME = "fault"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ("pyroute2", "netlink", "switcher")
    ERRORS = (FaultError, OSError, lx.LxcError, vl.LxcVnodeError, cg.CgroupError)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        return observe(desired, ctx.sock, ctx.switcher)

    def diff(self, ctx, desired, observed):
        pl = diff(desired, observed)
        return Change(actions=pl, errors=pl["errors"], failure={"events": pl["events"]},
                      changed=bool(pl["actions"]), diff=pl["diff"])

    def apply(self, ctx, desired, observed, change):
        apply(desired, observed, change.actions["actions"], ctx.sock, ctx.switcher)

    def result(self, ctx, desired, observed, change):
        pl = change.actions
        return {"events": pl["events"], "actions": [list(a) for a in pl["actions"]]}

    def describe(self, exc, desired):
        if isinstance(exc, FaultError):
            return str(exc)
        if isinstance(exc, (lx.LxcError, vl.LxcVnodeError, cg.CgroupError)):
            return "fault on pnode %s: %s" % (desired["pnode"], exc)
        return "fault on pnode %s: %s" % (desired["pnode"], nl.error_text(exc))
