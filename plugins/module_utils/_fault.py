# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault events of a vxlab platform: their validation, and their application on one pnode.

Private to the collection. Two users:

* the controller (``vxlab/fault.py``: command line, trace files, churn generator) calls the pure
  :func:`normalize_event` / :func:`parse_rate` / :func:`parse_delay` / :func:`parse_loss`, so an
  event is validated by the same code on both sides;
* the ``vxlab.emulation.fault`` module applies a list of events on one pnode in one call:
  observe (links, the VXLAN FDB, the qdiscs of the concerned vnodes) -> :func:`plan` (pure: the
  events are replayed in order on the observed state, which gives each event its own before /
  after and ``changed``, whatever else is in the same batch) -> :func:`apply` (only the net
  difference between the observed and the final state is written).

Actions (``target`` is a vnode name, or a pnode name for ``pnode_off``/``pnode_on``):

=================  ==============================================================================
``vnode_down``     netns vnode: its host-side veth is set down (LXC: container stopped)
``vnode_up``       the reverse
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

Traffic shaping uses the ``tc`` program with argument lists (one call per vnode end), because
the kernel's qdisc support varies (netem is missing on some kernels; the error then says so) and
the collection's netlink file has no qdisc writer. Qdiscs this module adds carry the handle
``fa17:``; ``undegrade`` removes only root qdiscs with that handle.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import math
import os
import re
import shutil
import subprocess

from ansible_collections.vxlab.emulation.plugins.module_utils import _netlink as nl

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
#: handle of the root qdiscs this module adds (0xfa17: "fault")
QDISC_HANDLE = "fa17:"
PEER_IFNAME = "eth0"
MAX_RATE_BPS = 100 * 10 ** 9
MAX_DELAY_US = 60 * 10 ** 6
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RATE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
_RATE_UNITS = {
    "": 1, "bit": 1, "kbit": 10 ** 3, "mbit": 10 ** 6, "gbit": 10 ** 9,
    "bps": 8, "kbps": 8 * 10 ** 3, "mbps": 8 * 10 ** 6, "gbps": 8 * 10 ** 9,
}
#: a bare number is microseconds, as in vxlab's link shaping variables
_DELAY_UNITS = {"us": 1, "ms": 1000, "s": 10 ** 6, "": 1}

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    pnode=dict(type="str", required=True),
    netns=dict(type="str"),
    vnode_kind=dict(type="str", default="netns", choices=["netns", "lxc"]),
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


def parse_rate(value, where=""):
    """A rate as bits per second (int). ``10mbit``, ``1.5gbit``, ``100kbps`` (bytes), ``8000``."""
    if isinstance(value, bool) or value is None:
        raise FaultError("%s: must be a rate such as 10mbit" % _what(where, "rate", value))
    if isinstance(value, (int, float)):
        bps = float(value)
    else:
        m = _RATE_RE.match(str(value))
        unit = m.group(2).lower() if m else None
        if not m or unit not in _RATE_UNITS:
            raise FaultError("%s: must be a number with a unit among %s (e.g. 10mbit)"
                             % (_what(where, "rate", value), ", ".join(u for u in _RATE_UNITS if u)))
        bps = float(m.group(1)) * _RATE_UNITS[unit]
    if not math.isfinite(bps) or not 8 <= bps <= MAX_RATE_BPS:
        raise FaultError("%s: must be between 8bit and 100gbit per second" % _what(where, "rate", value))
    # the kernel keeps rates in bytes per second
    return int(round(bps / 8)) * 8


def parse_delay(value, where="", key="delay", limit_us=MAX_DELAY_US):
    """A duration as microseconds (int). ``10ms``, ``250us``, ``1.5s``; a bare number is us."""
    if isinstance(value, bool) or value is None:
        raise FaultError("%s: must be a duration such as 10ms" % _what(where, key, value))
    if isinstance(value, (int, float)):
        us = float(value)
    else:
        m = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(us|ms|s|)\s*$", str(value))
        if not m:
            raise FaultError("%s: must be a duration with a unit among us, ms, s (e.g. 10ms)"
                             % _what(where, key, value))
        us = float(m.group(1)) * _DELAY_UNITS[m.group(2)]
    if not math.isfinite(us) or not 0 <= us <= limit_us:
        raise FaultError("%s: must be between 0 and %gs" % (_what(where, key, value), limit_us / 1e6))
    return int(round(us))


def parse_loss(value, where=""):
    """A loss probability in percent (float, 0-100). ``1%``, ``0.5%``, ``2``."""
    if isinstance(value, bool) or value is None:
        raise FaultError("%s: must be a percentage such as 1%%" % _what(where, "loss", value))
    if isinstance(value, (int, float)):
        pct = float(value)
    else:
        m = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%?\s*$", str(value))
        if not m:
            raise FaultError("%s: must be a percentage such as 1%%" % _what(where, "loss", value))
        pct = float(m.group(1))
    if not math.isfinite(pct) or not 0 <= pct <= 100:
        raise FaultError("%s: must be between 0%% and 100%%" % _what(where, "loss", value))
    return pct


def check_name(key, value, where=""):
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise FaultError("%s: must be a vnode or pnode name of 1-64 characters among A-Z a-z 0-9 "
                         ". _ - (starting with a letter or digit)" % _what(where, key, value))
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
    if "delay" in given:
        out["delay"] = parse_delay(event["delay"], where)
    if "loss" in given:
        out["loss"] = parse_loss(event["loss"], where)
    return out


def shaping_of(event):
    """The shaping an event asks for: ``{rate, delay, loss}`` with None for what is not given."""
    return {k: event.get(k) for k in SHAPING_KEYS}


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


def tc_qdisc_argv(dev, shaping, netns=None):
    """argv of the ``tc`` call that puts ``shaping`` (or nothing: None) on ``dev`` (pure)."""
    base = ["tc"] + (["-n", netns] if netns else [])
    if not shaping:
        return base + ["qdisc", "del", "dev", dev, "root", "handle", QDISC_HANDLE]
    argv = base + ["qdisc", "replace", "dev", dev, "root", "handle", QDISC_HANDLE]
    if needs_netem(shaping):
        argv.append("netem")
        if shaping.get("delay") is not None:
            argv += ["delay", "%dus" % shaping["delay"]]
        if shaping.get("loss") is not None:
            argv += ["loss", "%g%%" % shaping["loss"]]
        if shaping.get("rate") is not None:
            argv += ["rate", "%dbit" % shaping["rate"]]
        return argv
    rate = shaping["rate"]
    # burst: at least two full frames, and about 4 ms worth of the rate
    burst = max(2 * 1514, rate // 8 // 250)
    return argv + ["tbf", "rate", "%dbit" % rate, "burst", str(burst), "latency", "100ms"]


# --------------------------------------------------------------------------------------------
# module parameters (pure)


def validate(params):
    """The module's normalised parameters, or FaultError naming the bad value."""
    d = {
        "platform": nl.check_platform(params["platform"]),
        "pnode": check_name("pnode", params["pnode"]),
        "vnode_kind": params.get("vnode_kind") or "netns",
        "bridge": nl.check_ifname("bridge", params["bridge"]),
        "vxlan": nl.check_ifname("vxlan", params["vxlan"]),
        "vxlan_mode": params.get("vxlan_mode") or "unicast",
        "vnodes": {},
        "vteps": {},
        "events": [],
    }
    for i, v in enumerate(params.get("vnodes") or []):
        if not isinstance(v, dict) or not v.get("name") or not v.get("host_if"):
            raise FaultError("vnodes[%d]=%r: needs name and host_if" % (i, v))
        d["vnodes"][check_name("vnodes[%d].name" % i, v["name"])] = {
            "name": v["name"], "host_if": nl.check_ifname("vnodes[%d].host_if" % i, v["host_if"])}
    for name, vtep in sorted((params.get("vteps") or {}).items()):
        check_name("vteps", name)
        d["vteps"][name] = nl.parse_ipv4("vteps[%s]" % name, vtep)
    if d["pnode"] not in d["vteps"] and d["vteps"]:
        raise FaultError("pnode=%r: not among the pnodes of vteps (%s)" % (d["pnode"], ", ".join(d["vteps"])))
    seen = set()
    for i, e in enumerate(params.get("events") or []):
        ev = normalize_event(e, "events[%d]" % i)
        ev.setdefault("id", i)
        if ev["id"] in seen:
            raise FaultError("events[%d]: id=%r is used twice" % (i, ev["id"]))
        seen.add(ev["id"])
        d["events"].append(ev)
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


def _tc_binary():
    return shutil.which("tc") or "/usr/sbin/tc"


def _tc(argv):
    argv = [_tc_binary()] + list(argv[1:])
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr.strip()


def foreign_qdisc(entry):
    """A description of a root qdisc someone else configured (not the default, not ours), else None."""
    if not entry or entry.get("handle") in (None, "0:", QDISC_HANDLE):
        return None
    return "%s %s" % (entry.get("kind"), entry.get("handle"))


def decode_qdisc(entry):
    """Our shaping from one ``tc -j qdisc show`` root entry, else None (pure)."""
    if not entry or entry.get("handle") != QDISC_HANDLE or not entry.get("root"):
        return None
    opts = entry.get("options") or {}
    if entry.get("kind") == "tbf":
        return {"rate": int(opts.get("rate", 0)) * 8, "delay": None, "loss": None}
    if entry.get("kind") == "netem":
        delay = (opts.get("delay") or {}).get("delay")
        loss = (opts.get("loss-random") or {}).get("loss")
        rate = (opts.get("rate") or {}).get("rate")
        return {"rate": int(rate) * 8 if rate else None,
                "delay": int(round(float(delay) * 1e6)) if delay is not None else None,
                "loss": round(float(loss) * 100, 6) if loss is not None else None}
    return {"rate": None, "delay": None, "loss": None, "kind": entry.get("kind")}


def _root_qdiscs(netns=None, dev=None):
    argv = ["tc"] + (["-n", netns] if netns else []) + ["-j", "qdisc", "show"]
    if dev:
        argv += ["dev", dev]
    rc, out, err = _tc(argv)
    if rc != 0:
        raise FaultError("%s: %s" % (" ".join(argv), err))
    try:
        entries = json.loads(out or "[]")
    except ValueError:
        raise FaultError("%s: unreadable output" % " ".join(argv))
    return {e.get("dev", dev): e for e in entries if e.get("root")}


def observe(d, sock):
    """The state the events touch, as plain data."""
    links = sock.links()
    namespaces = set(nl.netns_list())
    bridge = links.get(d["bridge"])
    vxlan = links.get(d["vxlan"])
    relevant = set(e["target"] for e in d["events"] if scope_of(d, e) == "vnode")
    shaped = set(e["target"] for e in d["events"] if scope_of(d, e) == "vnode"
                 and e["action"] in ("degrade", "undegrade"))
    host_q = _root_qdiscs() if shaped else {}
    vnodes = {}
    for name in sorted(relevant):
        v = d["vnodes"][name]
        link = links.get(v["host_if"])
        o = {"exists": link is not None, "up": None, "attached": None, "shaping": None,
             "peer_shaping": None, "netns": name in namespaces}
        if link is not None:
            o["up"] = bool(link["up"])
            o["attached"] = bridge is not None and link["master"] == bridge["index"]
            o["index"] = link["index"]
            o["ours"] = link["alias"] == nl.owner_alias(d["platform"])
        if name in shaped and link is not None:
            entries = [host_q.get(v["host_if"])]
            if o["netns"]:
                entries.append(_root_qdiscs(name, PEER_IFNAME).get(PEER_IFNAME))
                o["peer_shaping"] = decode_qdisc(entries[1])
            o["shaping"] = decode_qdisc(entries[0])
            o["foreign_qdisc"] = [q for q in (foreign_qdisc(e) for e in entries) if q]
        vnodes[name] = o
    flood = []
    if vxlan is not None and vxlan["kind"] == "vxlan":
        flood = sorted(set(e["dst"] for e in sock.fdb(vxlan["index"])
                           if e["mac"] == nl.ZERO_MAC and e["dst"]))
    return {
        "bridge": None if bridge is None else {"index": bridge["index"]},
        "vxlan": None if vxlan is None else {"index": vxlan["index"], "up": bool(vxlan["up"]),
                                             "kind": vxlan["kind"],
                                             "ours": vxlan["alias"] == nl.owner_alias(d["platform"])},
        "flood": flood,
        "vnodes": vnodes,
    }


# --------------------------------------------------------------------------------------------
# plan (pure)


def _vnode_state(o):
    return {"up": o["up"], "attached": o["attached"],
            "shaping": o["shaping"] if o["shaping"] == o["peer_shaping"] else
            {"host": o["shaping"], "vnode": o["peer_shaping"]}}


def plan(d, obs):
    """Replay the events on the observed state. Returns ``{events, errors, actions, diff}``.

    ``events``: per event of this pnode ``{id, action, target, scope, changed, before, after}``;
    ``actions``: the net changes to make, in order (``("link", ifname, field, value)``,
    ``("shape", vnode, shaping)``, ``("vxlan_up", bool)``, ``("fdb", vtep, present)``).
    """
    errors = []
    results = []
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
            if not o["exists"]:
                errors.append("%s %s: vnode %s has no host interface %s on pnode %s (is the platform "
                              "deployed?)" % (act, target, target, d["vnodes"][target]["host_if"], d["pnode"]))
                continue
            if not o.get("ours"):
                errors.append("%s %s: interface %s is not owned by platform %s; refusing to touch it"
                              % (act, target, d["vnodes"][target]["host_if"], d["platform"]))
                continue
            if act in ("freeze", "unfreeze"):
                errors.append("%s %s: freezing needs LXC vnodes (vxlab_vnode_kind: lxc); netns vnodes "
                              "have no container to freeze" % (act, target))
                continue
            if d["vnode_kind"] == "lxc" and act in ("vnode_down", "vnode_up"):
                errors.append("%s %s: LXC vnodes are stopped and started by vxlab.emulation.vnode_state, "
                              "which this collection does not provide yet" % (act, target))
                continue
            if act in ("degrade", "undegrade") and o.get("foreign_qdisc"):
                errors.append("%s %s: its veth already has a qdisc vxlab's fault injection did not add "
                              "(%s, e.g. link shaping); refusing to replace it"
                              % (act, target, ", ".join(o["foreign_qdisc"])))
                continue
            st = state["vnodes"][target]
            before = dict(st)
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


def _netem_missing(err):
    return "unknown" in err.lower() or "no such file" in err.lower()


def probe_netem():
    """None if this kernel has the netem qdisc, else the reason (a throw-away namespace is used)."""
    name = "vxlab-fault-probe-%d" % os.getpid()
    try:
        nl.netns_create(name)
    except OSError as exc:
        return "cannot probe for netem: %s" % exc
    try:
        rc, dummy, err = _tc(["tc", "-n", name, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"])
        if rc == 0:
            return None
        return err or "tc exit %d" % rc
    finally:
        nl.netns_delete(name)


def apply(d, obs, actions, sock):
    """Make the net changes of :func:`plan`. Shaping is checked for netem before any change."""
    if any(a[0] == "shape" and needs_netem(a[2]) for a in actions):
        reason = probe_netem()
        if reason is not None:
            wanted = [a for a in actions if a[0] == "shape" and needs_netem(a[2])][0]
            raise FaultError("degrade %s (%s): delay and loss need the netem qdisc, which this kernel "
                             "does not have (%s); only rate (tbf) is available here"
                             % (wanted[1], format_shaping(wanted[2]), reason))
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
            dummy, name, shaping = act
            host_if = d["vnodes"][name]["host_if"]
            o = obs["vnodes"][name]
            for dev, netns, current in ((host_if, None, o["shaping"]), (PEER_IFNAME, name, o["peer_shaping"])):
                if netns and not o["netns"]:
                    continue
                if shaping is None and current is None:
                    continue
                rc, dummy, err = _tc(tc_qdisc_argv(dev, shaping, netns))
                if rc != 0:
                    raise FaultError("%s %s: tc on %s%s failed: %s" % (
                        "degrade" if shaping else "undegrade", name, dev,
                        " (in vnode %s)" % netns if netns else "", err))
        elif act[0] == "vxlan_up":
            sock.link_set(obs["vxlan"]["index"], state="up" if act[1] else "down")
        elif act[0] == "fdb":
            if act[2]:
                sock.fdb_append(obs["vxlan"]["index"], nl.ZERO_MAC, act[1])
            else:
                sock.fdb_del(obs["vxlan"]["index"], nl.ZERO_MAC, act[1])


def run(module):
    p = module.params
    try:
        d = validate(p)
        nl.require_pyroute2()
    except (ValueError, ImportError) as exc:
        module.fail_json(msg=str(exc))
    try:
        with nl.in_netns(p.get("netns")):
            with nl.Netlink() as sock:
                obs = observe(d, sock)
                pl = plan(d, obs)
                if pl["errors"]:
                    module.fail_json(msg="; ".join(pl["errors"][:5]) + (
                        " (and %d more)" % (len(pl["errors"]) - 5) if len(pl["errors"]) > 5 else ""),
                        events=pl["events"])
                if not module.check_mode:
                    apply(d, obs, pl["actions"], sock)
    except FaultError as exc:
        module.fail_json(msg=str(exc))
    except (nl.NetlinkError, OSError) as exc:
        module.fail_json(msg="fault on pnode %s: %s" % (d["pnode"], nl.error_text(exc)))
    result = {"changed": bool(pl["actions"]), "events": pl["events"],
              "actions": [list(a) for a in pl["actions"]]}
    if module._diff:
        result["diff"] = pl["diff"]
    module.exit_json(**result)


def run_module():
    from ansible.module_utils.basic import AnsibleModule

    run(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))
