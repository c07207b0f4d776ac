# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the ``vxlab.emulation.route`` module (private to the collection).

An IPv4 route of the main table, installed with the routing protocol number
:data:`_kernel.iproute.RTPROT_VXLAB` (251) that marks it as vxlab's: ``state: absent`` removes only a
route carrying that mark, and a route to the same destination installed by someone else is never
replaced.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern

ARGUMENT_SPEC = dict(
    dest=dict(type="str", required=True),
    gateway=dict(type="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    platform=dict(type="str", required=True),
    netns=dict(type="str"),
)


def validate(params):
    d = {
        "dest": naming.parse_cidr("dest", params["dest"], host=False),
        "state": params.get("state") or "present",
        "platform": naming.check_platform(params["platform"]),
        "gateway": None,
    }
    if d["state"] == "present":
        if not params.get("gateway"):
            raise ValueError("gateway: required with state=present")
        d["gateway"] = naming.parse_ipv4("gateway", params["gateway"])
    return d


def observe(sock, d):
    """Routes of the main table to exactly ``dest`` (any protocol)."""
    return {"routes": [r for r in sock.routes() if r["dest"] == d["dest"] and r["type"] == 1]}


def diff(d, obs):
    """Pure: ``(tracker, actions, error)``; the diff names the route by its destination
    (``route 10.144.0.0/16: absent -> 10.250.0.1``)."""
    t = DifferenceTracker()
    key = "route %s" % d["dest"]
    ours = [r for r in obs["routes"] if r["proto"] == nl.RTPROT_VXLAB]
    foreign = [r for r in obs["routes"] if r["proto"] != nl.RTPROT_VXLAB]
    current = ours[0]["gateway"] if ours else None
    if d["state"] == "absent":
        t.add(key, current, None)
        return t, [("delete", r["gateway"]) for r in ours], None
    if foreign and not ours:
        r = foreign[0]
        return t, [], ("a route to %s already exists (via %s, protocol %d) and was not installed by "
                       "vxlab; refusing to replace it" % (d["dest"], r["gateway"] or "a link",
                                                          r["proto"]))
    actions = []
    if t.add(key, current, d["gateway"]):
        actions.append(("replace", d["gateway"]))
    return t, actions, None


def apply(sock, d, actions):
    for kind, gw in actions:
        if kind == "replace":
            sock.route_replace(d["dest"], gw)
        elif kind == "delete":
            sock.route_del(d["dest"], proto=nl.RTPROT_VXLAB, gateway=gw)


class Route(Concern):
    """The ``vxlab.emulation.route`` module's concern."""

    NAME = "route"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    REQUIRED_IF = (("state", "present", ("gateway",)),)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        return observe(ctx.sock, desired)

    def diff(self, ctx, desired, observed):
        tracker, actions, error = diff(desired, observed)
        return Change(tracker, actions, errors=[error] if error else [])

    def apply(self, ctx, desired, observed, change):
        apply(ctx.sock, desired, change.actions)

    def result(self, ctx, desired, observed, change):
        if not ctx.check_mode:
            observed = observe(ctx.sock, desired)
        ours = [r for r in observed["routes"] if r["proto"] == nl.RTPROT_VXLAB]
        return {"route": {"dest": desired["dest"], "gateway": ours[0]["gateway"] if ours else None,
                          "present": bool(ours), "proto": nl.RTPROT_VXLAB, "table": "main"}}

    def prefix(self, desired):
        return "route %s via %s: " % (desired["dest"], desired.get("gateway"))
