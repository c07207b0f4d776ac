# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pnode's data networks (private to the collection): the ``networks`` step of ``dataplane``.

Every data network (``vxlab_networks``) with members on this pnode gets what the management
network has: a bridge ``<platform>-<network>`` and a VXLAN device ``<platform>.<network>`` (its
own VNI, unicast head-end replication towards the pnodes hosting members of that network only,
or its own multicast group) as a port of it. Each network is the bridge and VXLAN concerns run by
the runner exactly as their modules run (:func:`_runner.execute`), so a network is repaired,
checked and diffed as the management network is.

What this step owns besides: the data-network bridges and VXLAN devices of the platform that are
no longer wanted (found by name, ``<platform>-<network>`` / ``<platform>.<network>``, and by the
owner alias ``vxlab:<platform>``), which it removes (the VXLAN device first). The management
bridge and VXLAN device (``<platform>-br`` / ``<platform>-vx``) never match. ``state: absent``
removes every data network of the platform from this pnode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._bridge import Bridge
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern, Failure, execute
from ansible_collections.vxlab.emulation.plugins.module_utils._vxlan import Vxlan

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

BRIDGE = Bridge()
VXLAN = Vxlan()


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
    """The platform's data-network links on this pnode: ``[{ifname, index, kind}]``."""
    alias = naming.owner_alias(d["platform"])
    bridge_re, vxlan_re = ours_pattern(d["platform"])
    out = []
    for lk in sock.links().values():
        if lk["alias"] != alias:
            continue
        if (lk["kind"] == "bridge" and bridge_re.match(lk["ifname"])) or \
                (lk["kind"] == "vxlan" and vxlan_re.match(lk["ifname"])):
            out.append({"ifname": lk["ifname"], "index": lk["index"], "kind": lk["kind"]})
    return sorted(out, key=lambda x: (x["kind"] != "vxlan", x["ifname"]))


def stale(d, observed):
    """The observed links no wanted network uses, VXLAN devices first (pure)."""
    wanted = set()
    for n in d["networks"]:
        wanted |= {n["bridge"], n["vxlan"]}
    return [lk for lk in observed if lk["ifname"] not in wanted]


class DataNetworks(Concern):
    """The ``networks`` step: a bridge and a VXLAN device per data network hosted here."""

    NAME = "networks"
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        return observe(ctx.sock, desired)

    def diff(self, ctx, desired, observed):
        gone = stale(desired, observed)
        results, diffs = {}, []
        changed = bool(gone)
        if gone:
            diffs.append({"before": "".join("%s %s\n" % (lk["kind"], lk["ifname"]) for lk in gone),
                          "after": "", "before_header": "networks: removed", "after_header": "networks: removed"})
            if not ctx.check_mode:
                for lk in gone:
                    ctx.sock.link_del(lk["index"])
        for n in desired["networks"]:
            bridge, vx = step_params(desired, n)
            out = {}
            for what, concern, params in (("bridge", BRIDGE, bridge), ("vxlan", VXLAN, vx)):
                try:
                    r = execute(concern, params, ctx.check_mode, ctx.diff_mode,
                                lambda text, w=n["name"]: ctx.warn("network %s: %s" % (w, text)))
                except Failure as failure:
                    raise Failure("network %s: %s" % (n["name"], failure.msg))
                changed = changed or bool(r.get("changed"))
                diff = r.pop("diff", None)
                if r.get("changed") and isinstance(diff, dict):
                    header = "networks: %s %s" % (what, params["name"])
                    diffs.append(dict(diff, before_header=header, after_header=header))
                out[what] = r
            results[n["name"]] = out
        return Change(actions={"networks": results, "removed": [lk["ifname"] for lk in gone]},
                      changed=changed, diff=diffs, applied=True)

    def result(self, ctx, desired, observed, change):
        return {"networks": sorted(change.actions["networks"]), "removed": change.actions["removed"]}
