# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the ``vxlab.emulation.vnode_state`` module (private to the collection).

Start, stop, freeze or unfreeze a chosen set of the LXC vnodes of one pnode in one call:

* observe: the containers under ``<state_dir>/lxc`` and their states (one ``lxc-ls``);
* plan (pure, :func:`plan`): per vnode the LXC commands that take it from its state to the wanted
  one, or an error (an unknown vnode, freezing a stopped vnode);
* apply: the commands of one kind run in parallel with a bounded window; a started vnode gets its
  namespace published in ``/run/netns`` and its host veth marked again, a stopped one loses both.

This file is the collection's one owner of starting, stopping, freezing and unfreezing LXC
vnodes: the ``vxlab.emulation.fault`` module's ``vnode_down``/``vnode_up``/``freeze``/
``unfreeze`` on LXC vnodes go through :func:`converge` (a wanted state per vnode).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import containers as lx
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups as cg
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import lxc as vl

STATES = ("started", "stopped", "frozen", "unfrozen")
#: LXC state each wanted state ends in
TARGET = {"started": "RUNNING", "stopped": "STOPPED", "frozen": "FROZEN", "unfrozen": "RUNNING"}

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    state_dir=dict(type="str", required=True),
    state=dict(type="str", required=True, choices=list(STATES)),
    vnodes=dict(type="list", elements="raw", required=True),
    netns=dict(type="str"),
    window=dict(type="int", default=16),
)


def validate(params):
    d = {"platform": naming.check_platform(params["platform"]), "state": params["state"],
         "window": params.get("window") or 16}
    if d["state"] not in STATES:
        raise ValueError("state=%r: must be one of %s" % (d["state"], ", ".join(STATES)))
    sd = params.get("state_dir")
    if not isinstance(sd, str) or not sd.startswith("/") or "/../" in sd + "/":
        raise ValueError("state_dir=%r: must be an absolute path" % (sd,))
    d["state_dir"] = sd.rstrip("/") or "/"
    if not 1 <= d["window"] <= 256:
        raise ValueError("window=%r: must be 1-256" % (d["window"],))
    names = []
    for i, v in enumerate(params.get("vnodes") or []):
        name = v.get("name") if isinstance(v, dict) else v
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            raise ValueError("vnodes[%d]=%r: a vnode name, or a dict with its name" % (i, v))
        names.append(name)
    d["vnodes"] = sorted(set(names))
    return d


def transitions(current, wanted):
    """Pure: the LXC actions from ``current`` (RUNNING, STOPPED, FROZEN) to ``wanted`` (a STATES
    value), or raises ValueError."""
    target = TARGET[wanted]
    if current == target:
        return []
    if wanted == "started":
        return ["unfreeze"] if current == "FROZEN" else ["start"]
    if wanted == "stopped":
        return ["unfreeze", "stop"] if current == "FROZEN" else ["stop"]
    if wanted == "frozen":
        if current == "RUNNING":
            return ["freeze"]
        raise ValueError("is %s: only a running vnode can be frozen (start it first)" % current)
    if current == "FROZEN":
        return ["unfreeze"]
    raise ValueError("is %s: only a frozen vnode can be unfrozen" % current)


def diff(d, containers, st):
    """Pure: ``{"actions": {action: [names]}, "errors": [...], "tracker"}``.

    Every vnode goes to ``d["state"]``, or to its own wanted state in ``d["states"]`` (a dict
    ``{name: state}``, as :func:`converge` gives it).
    """
    t = DifferenceTracker()
    out = {"actions": {"unfreeze": [], "stop": [], "start": [], "freeze": []}, "errors": []}
    states = d.get("states") or {}
    for name in d["vnodes"]:
        wanted = states.get(name, d.get("state"))
        if name not in containers:
            out["errors"].append("vnode %s: not an LXC vnode of platform %s on this pnode (no "
                                 "container in %s)" % (name, d["platform"], vl.lxcpath_of(d["state_dir"])))
            continue
        current = st.get(name, {}).get("state", "STOPPED")
        try:
            acts = transitions(current, wanted)
        except ValueError as exc:
            out["errors"].append("vnode %s %s" % (name, exc))
            continue
        for a in acts:
            out["actions"][a].append(name)
        t.add("vnode:" + name, current, TARGET[wanted] if acts else current)
    out["tracker"] = t
    return out


def observe(state_dir):
    """``(containers, states)``: the configurations under ``<state_dir>/lxc`` and their states."""
    lxcpath = vl.lxcpath_of(state_dir)
    containers = lx.list_containers(lxcpath)
    return containers, (lx.states(lxcpath) if containers else {})


def converge(platform, state_dir, wanted, sock, window=16):
    """Take each vnode of ``wanted`` (``{name: state}``, a STATES value) to its state: observe,
    plan, apply. A stopped vnode wanted frozen is started first, then frozen. Raises
    ValueError (the plan's errors) before any change; returns the actions made."""
    first = dict((n, "started" if w == "frozen" else w) for n, w in wanted.items())
    made = {}
    for phase in (first, wanted):
        d = {"platform": platform, "state_dir": state_dir, "window": window,
             "vnodes": sorted(phase), "state": None, "states": phase}
        containers, st = observe(state_dir)
        p = diff(d, containers, st)
        if p["errors"]:
            raise ValueError("; ".join(p["errors"][:5]))
        apply(d, p, containers, st, sock)
        for action, names in p["actions"].items():
            if names:
                made.setdefault(action, []).extend(names)
    return made


def veth_of(config):
    for line in (config or "").splitlines():
        if line.startswith("lxc.net.0.veth.pair"):
            return line.split("=", 1)[1].strip()
    return None


def apply(d, p, containers, st, sock):
    lxcpath = vl.lxcpath_of(d["state_dir"])
    w = d["window"]
    acts = p["actions"]
    fail = vl._fail_if  # pylint: disable=protected-access
    fail(lx.run_parallel("unfreeze", lxcpath, acts["unfreeze"], w), "lxc-unfreeze")
    if acts["stop"]:
        states = dict((n, "RUNNING") for n in acts["stop"])
        vl.stop_and_remove(lxcpath, acts["stop"], states, cg.Host(), w, destroy=False)
    if acts["start"]:
        vl.start_and_attach(sock, lxcpath, acts["start"], dict((n, veth_of(containers[n])) for n in acts["start"]),
                            naming.owner_alias(d["platform"]), w)
    fail(lx.run_parallel("freeze", lxcpath, acts["freeze"], w), "lxc-freeze")


class VnodeState(Concern):
    """The ``vxlab.emulation.vnode_state`` module's concern."""

    NAME = "vnode_state"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    ERRORS = (OSError, lx.LxcError, vl.LxcVnodeError, cg.CgroupError)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        return observe(desired["state_dir"])

    def diff(self, ctx, desired, observed):
        p = diff(desired, *observed)
        return Change(p["tracker"], p, errors=p["errors"])

    def apply(self, ctx, desired, observed, change):
        apply(desired, change.actions, observed[0], observed[1], ctx.sock)

    def result(self, ctx, desired, observed, change):
        return {"actions": dict((k, v) for k, v in change.actions["actions"].items() if v),
                "vnodes": desired["vnodes"]}

    def errors_prefix(self, desired):
        return "vnode_state: "

    def describe(self, exc, desired):
        return "vnode_state: %s" % exc
