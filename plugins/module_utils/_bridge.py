# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the ``vxlab.emulation.bridge`` module (private to the collection).

observe (read the bridge, its IPv4 addresses, ip_forward) -> :func:`diff` (pure: desired vs
observed -> tracker + actions) -> :func:`apply` (the only code that changes the system), run by
the runner as :class:`Bridge`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_atomic
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    platform=dict(type="str", required=True),
    netns=dict(type="str"),
    mtu=dict(type="int"),
    ageing_time=dict(type="int", default=3600),
    forward_delay=dict(type="int", default=0),
    addresses=dict(type="list", elements="str", default=[]),
    forwarding=dict(type="bool", default=False),
    mac=dict(type="str"),
)

#: where the bridge module notes that it turned ip_forward on (and the value it found)
FORWARDING_RECORD_DIR = "/run/vxlab/forwarding"


def validate(params):
    """Normalised desired state, or ValueError naming the bad parameter."""
    d = {
        "name": naming.check_ifname("name", params["name"]),
        "state": params.get("state", "present"),
        "platform": naming.check_platform(params["platform"]),
        "mtu": params.get("mtu"),
        "ageing_time": params.get("ageing_time", 3600),
        "forward_delay": params.get("forward_delay", 0),
        "forwarding": bool(params.get("forwarding", False)),
        "mac": naming.parse_mac("mac", params["mac"]) if params.get("mac") else None,
    }
    if d["mtu"] is not None and not 68 <= d["mtu"] <= 65535:
        raise ValueError("mtu=%r: must be 68-65535" % d["mtu"])
    if not 0 <= d["ageing_time"] <= 1000000:
        raise ValueError("ageing_time=%r: must be 0-1000000 seconds" % d["ageing_time"])
    if not 0 <= d["forward_delay"] <= 30:
        raise ValueError("forward_delay=%r: must be 0-30 seconds" % d["forward_delay"])
    addrs = []
    for a in params.get("addresses") or []:
        c = naming.parse_cidr("addresses", a)
        if c in addrs:
            raise ValueError("addresses: %s is listed twice" % c)
        addrs.append(c)
    d["addresses"] = sorted(addrs, key=lambda c: (naming.ipv4_int(c.split("/")[0]), c))
    return d


def observe(sock, name, record_path):
    """What exists now: ``{"link": dict|None, "addresses": [...], "ip_forward": "0"|"1",
    "record": dict|None}``."""
    link = sock.link(name)
    addrs = sock.addresses().get(link["index"], []) if link else []
    record = None
    try:
        with open(record_path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        record = None
    return {"link": link, "addresses": addrs, "ip_forward": ns.sysctl_get("net.ipv4.ip_forward"),
            "record": record}


def _addr_key(c):
    return (naming.ipv4_int(c.split("/")[0]), c)


def diff(d, obs):
    """Pure: ``(tracker, actions, error)``. ``error`` is a refusal message (nothing to do then)."""
    t = DifferenceTracker()
    actions = []
    link = obs["link"]
    alias = naming.owner_alias(d["platform"])
    ours = link is not None and link["kind"] == "bridge" and link["alias"] == alias
    if link is not None and not ours:
        if d["state"] == "present":
            return t, [], ("interface %s exists but is not a bridge owned by platform %s (kind %s, "
                           "alias %r); refusing to touch it"
                           % (d["name"], d["platform"], link["kind"], link["alias"]))
        # absent: not ours, leave it alone
        t.add("present", True, True)
        return t, [], None

    record = obs["record"]
    if d["state"] == "absent":
        t.add("present", link is not None, False)
        if link is not None:
            actions.append(("delete", link["index"]))
        if record is not None:
            t.add("ip_forward", obs["ip_forward"], record.get("previous", "0"))
            actions.append(("forwarding_restore", record.get("previous", "0")))
        return t, actions, None

    t.add("present", link is not None, True)
    if link is None:
        actions.append(("create", {"mtu": d["mtu"], "ageing_time": d["ageing_time"],
                                   "forward_delay": d["forward_delay"], "mac": d["mac"]}))
        t.add("ageing_time", None, d["ageing_time"], active=False)
        t.add("forward_delay", None, d["forward_delay"], active=False)
        t.add("up", False, True, active=False)
        if d["mtu"] is not None:
            t.add("mtu", None, d["mtu"], active=False)
        if d["mac"] is not None:
            t.add("mac", None, d["mac"], active=False)
        current = []
    else:
        if d["mtu"] is not None and t.add("mtu", link["mtu"], d["mtu"]):
            actions.append(("mtu", d["mtu"]))
        if d["mac"] is not None and t.add("mac", link["mac"], d["mac"]):
            actions.append(("mac", d["mac"]))
        bridge_set = {}
        if t.add("ageing_time", link["ageing_time"], d["ageing_time"]):
            bridge_set["ageing_time"] = d["ageing_time"]
        if t.add("forward_delay", link["forward_delay"], d["forward_delay"]):
            bridge_set["forward_delay"] = d["forward_delay"]
        if t.add("stp", link["stp"], False):
            bridge_set["stp"] = False
        if bridge_set:
            actions.append(("bridge", bridge_set))
        current = list(obs["addresses"])
    t.add("addresses", sorted(current, key=_addr_key), d["addresses"])
    for c in current:
        if c not in d["addresses"]:
            actions.append(("addr_del", c))
    for c in d["addresses"]:
        if c not in current:
            actions.append(("addr_add", c))
    if link is not None and t.add("up", link["up"], True):
        actions.append(("up", None))
    elif link is None:
        actions.append(("up", None))

    if d["forwarding"]:
        if t.add("ip_forward", obs["ip_forward"], "1"):
            actions.append(("forwarding_on", obs["ip_forward"]))
    elif record is not None:
        # we turned it on earlier and it is no longer wanted: put back what we found
        if t.add("ip_forward", obs["ip_forward"], record.get("previous", "0")):
            actions.append(("forwarding_restore", record.get("previous", "0")))
        else:
            actions.append(("forget_record", None))
    return t, actions, None


def apply(sock, d, actions, record_path):
    alias = naming.owner_alias(d["platform"])
    index = sock.link_index(d["name"])
    for kind, arg in actions:
        if kind == "create":
            index = sock.add_bridge(d["name"], alias, mtu=arg["mtu"], ageing_time=arg["ageing_time"],
                                    forward_delay=arg["forward_delay"], mac=arg.get("mac"))
        elif kind == "delete":
            sock.link_del(arg)
        elif kind == "mtu":
            sock.link_set(index, mtu=arg)
        elif kind == "mac":
            if "." not in d["name"]:  # (sysctl keys write an interface's dots as slashes)
                # neighbours that cached the old MAC (vnodes, for the gateway) learn the new one:
                # the kernel sends a gratuitous ARP for each address when the MAC changes
                ns.sysctl_set("net.ipv4.conf.%s.arp_notify" % d["name"], "1")
            sock.link_set(index, address=arg)
        elif kind == "bridge":
            sock.set_bridge(index, **arg)
        elif kind == "addr_add":
            sock.addr_add(index, arg)
        elif kind == "addr_del":
            sock.addr_del(index, arg)
        elif kind == "up":
            sock.link_set(index, state="up")
        elif kind == "forwarding_on":
            _write_record(record_path, {"previous": arg, "bridge": d["name"],
                                        "platform": d["platform"]})
            ns.sysctl_set("net.ipv4.ip_forward", "1")
        elif kind == "forwarding_restore":
            ns.sysctl_set("net.ipv4.ip_forward", arg)
            _remove_record(record_path)
        elif kind == "forget_record":
            _remove_record(record_path)


def _write_record(path, data):
    write_atomic(path, json.dumps(data), makedirs=True)


def _remove_record(path):
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def record_path(platform, bridge):
    # ip_forward is per network namespace: key the record by the namespace's inode
    name = "%s.%s.%d.json" % (platform, bridge, ns.current_netns_id())
    return os.path.join(FORWARDING_RECORD_DIR, name)


def summary(sock, d):
    link = sock.link(d["name"]) if sock is not None else None
    if link is None:
        return {"name": d["name"], "exists": False}
    return {"name": d["name"], "exists": True, "ifindex": link["index"], "mtu": link["mtu"],
            "up": link["up"], "ageing_time": link["ageing_time"],
            "forward_delay": link["forward_delay"], "alias": link["alias"],
            "addresses": sock.addresses().get(link["index"], []),
            "ip_forward": ns.sysctl_get("net.ipv4.ip_forward") == "1"}


class Bridge(Concern):
    """The ``vxlab.emulation.bridge`` module's concern."""

    NAME = "bridge"
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        return observe(ctx.sock, desired["name"], record_path(desired["platform"], desired["name"]))

    def diff(self, ctx, desired, observed):
        tracker, actions, error = diff(desired, observed)
        return Change(tracker, actions, errors=[error] if error else [])

    def apply(self, ctx, desired, observed, change):
        apply(ctx.sock, desired, change.actions, record_path(desired["platform"], desired["name"]))

    def result(self, ctx, desired, observed, change):
        if ctx.check_mode and not (desired["state"] == "present" and observed["link"]):
            return {"bridge": {"name": desired["name"], "exists": observed["link"] is not None}}
        return {"bridge": summary(ctx.sock, desired)}

    def prefix(self, desired):
        return "bridge %s: " % desired["name"]
