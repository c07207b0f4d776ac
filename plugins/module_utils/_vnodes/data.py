# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vnodes' data interfaces (private to the collection): the ``vnode_networks`` step.

A vnode on data networks (``vxlab_vnode_groups``) has, besides its management ``eth0``, one veth
per data network: ``eth1``, ``eth2``, ... inside it (in the order of its groups' networks), whose
host side ``<host_if>.<k>`` is a port of that network's bridge (``<platform>-<network>``, made by
the ``networks`` step). Inside the vnode: the interface's address, a route to every data network
it is not on through the router the plan chose (``routes``), an ``unreachable`` route to every
data network no router reaches from it (so such traffic never leaks onto the management
network's default route), and, in a router (``router: true``), IPv4 forwarding.

The same for both vnode kinds: the step runs after the ``vnodes`` step and reaches every vnode by
its named network namespace (an LXC vnode publishes its namespace as ``/run/netns/<vnode>``).

observe (one link dump of the pnode; per vnode that has or should have data interfaces one plain
socket in it: links, addresses, routes) -> :func:`diff` (pure) -> :func:`apply`. A pair whose ends no
longer match (missing, or not peers) is re-created; drifted properties (bridge, MTU, MAC, address,
up) are repaired in place. What this step manages: host-side veths named ``<host_if>.<k>`` that
carry ``vxlab:<platform>``, the ``eth<k>`` (k >= 1) inside the platform's vnodes, their routes of
protocol ``vxlab`` other than the default route (the ``vnodes`` step's), and forwarding in the
vnodes it made routers (listed in ``<state_dir>/vnode-routers.json``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import read_names, write_names
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern, missing
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes.common import VnodeError, context, describe, index_names

ROUTERS_FILE = "vnode-routers.json"
DATA_IFNAME_RE = re.compile(r"^eth([1-9][0-9]*)$")
#: the kernel's route types this step installs
RTN_UNICAST = 1
RTN_UNREACHABLE = 7
FORWARDING = "net.ipv4.ip_forward"

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    netns=dict(type="str"),
    state_dir=dict(type="str", required=True),
    vnodes=dict(type="list", elements="dict", default=[]),
    networks=dict(type="list", elements="str", default=[]),
)

IFACE_KEYS = ("network", "ifname", "address", "prefixlen", "mac", "host_if", "bridge", "mtu")


# ----------------------------------------------------------------------------------------------
# validation (pure)


def validate(params):
    """Normalised desired state, or ValueError naming the bad value."""
    d = {"platform": naming.check_platform(params["platform"]), "state": params.get("state") or "present",
         "state_dir": naming.check_path("state_dir", params.get("state_dir")), "vnodes": [], "networks": []}
    if d["state"] == "absent":
        return d
    for i, c in enumerate(params.get("networks") or []):
        d["networks"].append(naming.parse_cidr("networks[%d]" % i, c, host=False))
    seen_host_if = {}
    for i, v in enumerate(params.get("vnodes") or []):
        if not isinstance(v, dict) or not v.get("name") or not v.get("host_if"):
            raise ValueError("vnodes[%d]=%r: must be a dict {name, host_if, interfaces, routes, router}" % (i, v))
        name = naming.check_node_name("vnodes[%d].name" % i, v["name"])
        where = "vnodes[%d] (%s)" % (i, name)
        n = {"name": name, "host_if": naming.check_ifname(where + ".host_if", v["host_if"]),
             "interfaces": [], "routes": {}, "router": bool(v.get("router"))}
        ifnames = set()
        for j, x in enumerate(v.get("interfaces") or []):
            w = "%s.interfaces[%d]" % (where, j)
            missing = [k for k in IFACE_KEYS if x.get(k) in (None, "") and k != "mtu"]
            if missing:
                raise ValueError("%s: missing %s" % (w, ", ".join(missing)))
            m = DATA_IFNAME_RE.match(str(x["ifname"]))
            if not m:
                raise ValueError("%s.ifname=%r: a data interface is eth1, eth2, ..." % (w, x["ifname"]))
            if x["ifname"] in ifnames:
                raise ValueError("%s.ifname=%r: listed twice" % (w, x["ifname"]))
            ifnames.add(x["ifname"])
            host_if = naming.check_ifname(w + ".host_if", x["host_if"])
            if host_if in seen_host_if:
                raise ValueError("%s.host_if=%r: already used by vnode %s" % (w, host_if, seen_host_if[host_if]))
            seen_host_if[host_if] = name
            prefixlen = x["prefixlen"]
            if not isinstance(prefixlen, int) or not 1 <= prefixlen <= 32:
                raise ValueError("%s.prefixlen=%r: must be 1-32" % (w, prefixlen))
            if x.get("mtu") is not None and not 68 <= x["mtu"] <= 65535:
                raise ValueError("%s.mtu=%r: must be 68-65535" % (w, x["mtu"]))
            n["interfaces"].append({
                "network": x["network"], "ifname": x["ifname"],
                "address": naming.parse_ipv4(w + ".address", x["address"]), "prefixlen": prefixlen,
                "mac": naming.parse_mac(w + ".mac", x["mac"]), "host_if": host_if,
                "bridge": naming.check_ifname(w + ".bridge", x["bridge"]), "mtu": x.get("mtu")})
        for j, r in enumerate(v.get("routes") or []):
            w = "%s.routes[%d]" % (where, j)
            if not isinstance(r, dict) or not r.get("to") or not r.get("via"):
                raise ValueError("%s=%r: must be a dict {to: CIDR, via: ADDRESS}" % (w, r))
            to = naming.parse_cidr(w + ".to", r["to"], host=False)
            if to in n["routes"]:
                raise ValueError("%s.to=%r: listed twice" % (w, to))
            n["routes"][to] = naming.parse_ipv4(w + ".via", r["via"])
        if n["router"] and len(n["interfaces"]) < 2:
            raise ValueError("%s.router: a router needs at least two data interfaces (has %d)"
                             % (where, len(n["interfaces"])))
        d["vnodes"].append(n)
    return d


def wanted_routes(v, networks):
    """``{cidr: gateway or None}`` inside vnode ``v``: its routes, and None (unreachable) for every
    data network it is neither on nor routed to; nothing for a vnode without data interfaces."""
    if not v["interfaces"]:
        return dict(v["routes"])
    on = set()
    for x in v["interfaces"]:
        mask = (0xFFFFFFFF << (32 - x["prefixlen"])) & 0xFFFFFFFF
        on.add("%s/%d" % (naming.ipv4_text(naming.ipv4_int(x["address"]) & mask), x["prefixlen"]))
    out = dict(v["routes"])
    for cidr in networks:
        if cidr not in on and cidr not in out:
            out[cidr] = None
    return out


# ----------------------------------------------------------------------------------------------
# the routers' record


def routers_path(state_dir):
    return os.path.join(state_dir, ROUTERS_FILE)


def read_routers(state_dir):
    return read_names(routers_path(state_dir), "routers")


def write_routers(state_dir, platform, names):
    write_names(routers_path(state_dir), platform, "routers", names)


# ----------------------------------------------------------------------------------------------
# observe


def _owner_of(host_if):
    """The management host_if a data host-side name belongs to (``vx-3.2`` -> ``vx-3``)."""
    return host_if.rpartition(".")[0]


def read_vnode(s, with_forwarding, switcher, name):
    """What one vnode holds of this step's (``s``: a socket or a reader in it)."""
    links = s.links()
    addrs = s.addresses()
    data = {}
    for ifname, lk in links.items():
        if DATA_IFNAME_RE.match(ifname):
            data[ifname] = {"index": lk["index"], "kind": lk["kind"], "link": lk["link"], "mtu": lk["mtu"],
                            "up": lk["up"], "mac": lk["mac"], "addresses": addrs.get(lk["index"], [])}
    routes = {}
    for r in s.routes():
        if r["proto"] == nl.RTPROT_VXLAB and r["dest"] != "0.0.0.0/0":
            routes[r["dest"]] = None if r["type"] == RTN_UNREACHABLE else r["gateway"]
    forwarding = None
    if with_forwarding:
        with switcher.inside(name):
            forwarding = ns.sysctl_get(FORWARDING)
    return {"data": data, "routes": routes, "forwarding": forwarding}


def observe(d, sock, switcher):
    alias = naming.owner_alias(d["platform"])
    links = sock.links()
    names = index_names(links)
    pattern = naming.data_host_if_pattern(d["platform"])
    host_data = {}
    for lk in links.values():
        if lk["alias"] == alias and lk["kind"] == "veth" and pattern.match(lk["ifname"]):
            host_data[lk["ifname"]] = {"index": lk["index"], "link": lk["link"],
                                       "master": names.get(lk["master"]) if lk["master"] else None,
                                       "mtu": lk["mtu"], "up": lk["up"]}
    by_owner = {}
    for ifname in host_data:
        by_owner.setdefault(_owner_of(ifname), []).append(ifname)
    namespaces = set(ns.netns_list()) if d["vnodes"] else set()
    routers = read_routers(d["state_dir"])
    vnodes = {}
    for v in d["vnodes"]:
        relevant = v["interfaces"] or v["routes"] or v["router"] or v["name"] in routers \
            or v["host_if"] in by_owner
        o = {"open": bool(relevant), "ns": v["name"] in namespaces, "inside": None}
        if relevant and o["ns"]:
            s = switcher.reader(v["name"])
            try:
                o["inside"] = read_vnode(s, v["router"] or v["name"] in routers, switcher, v["name"])
            finally:
                s.close()
        vnodes[v["name"]] = o
    bridges = {}
    for v in d["vnodes"]:
        for x in v["interfaces"]:
            lk = links.get(x["bridge"])
            bridges[x["bridge"]] = None if lk is None else {"index": lk["index"], "kind": lk["kind"]}
    return {"host": host_data, "vnodes": vnodes, "bridges": bridges, "routers": routers}


# ----------------------------------------------------------------------------------------------
# diff (pure)


def plan_interface(x, host, inside):
    """``("create", {})``, ``("repair", {field: (before, after)})`` or ``(None, {})``; the
    master is compared by bridge name."""
    paired = (host is not None and inside is not None and inside["kind"] == "veth"
              and host["link"] == inside["index"] and inside["link"] == host["index"])
    if not paired:
        return "create", {}
    r = {}

    def cmp(field, before, after):
        if before != after:
            r[field] = (before, after)

    cmp("master", host["master"], x["bridge"])
    cmp("host_up", host["up"], True)
    if x["mtu"] is not None:
        cmp("host_mtu", host["mtu"], x["mtu"])
        cmp("mtu", inside["mtu"], x["mtu"])
    cmp("mac", inside["mac"], x["mac"])
    cmp("addresses", sorted(inside["addresses"]), ["%s/%d" % (x["address"], x["prefixlen"])])
    cmp("up", inside["up"], True)
    return ("repair" if r else None), r


def diff(d, obs, check_mode=False):
    """Pure: ``{"tracker", "vnodes": {name: actions}, "remove_host": [ifname], "routers",
    "errors", "warnings"}``; a vnode's actions: ``create`` [iface], ``repair`` {ifname: repairs},
    ``remove`` [inside index], ``routes_del`` [cidr], ``routes_set`` {cidr: gateway|None},
    ``forwarding`` "0"|"1"|None."""
    t = DifferenceTracker()
    out = {"vnodes": {}, "remove_host": [], "errors": [], "warnings": [], "routers": []}
    for name, b in sorted(obs["bridges"].items()):
        if b is None:
            missing(check_mode, "bridge %s does not exist" % name, out["errors"], out["warnings"],
                    " (the networks step makes it)")
        elif b["kind"] != "bridge":
            out["errors"].append("%s is a %s, not a bridge" % (name, b["kind"]))
    wanted_host = set()
    for v in d["vnodes"]:
        for x in v["interfaces"]:
            wanted_host.add(x["host_if"])
    for v in d["vnodes"]:
        o = obs["vnodes"][v["name"]]
        if not o["open"]:
            continue
        if o["inside"] is None and check_mode and not o["ns"]:
            # a vnode the vnodes step would make (the runner's check-mode rule): its interfaces too
            for x in v["interfaces"]:
                t.add("vnode:%s:%s" % (v["name"], x["ifname"]), "absent",
                      "%s/%d on %s" % (x["address"], x["prefixlen"], x["bridge"]))
            continue
        if o["inside"] is None:
            if v["interfaces"] or v["routes"] or v["router"]:
                # a stopped LXC vnode (a fault): its interfaces are made when it runs again
                out["warnings"].append("vnode %s is not running (no /run/netns/%s): its data interfaces "
                                       "are left for when it runs" % (v["name"], v["name"]))
            continue
        ins = o["inside"]
        a = {"create": [], "repair": {}, "remove": [], "routes_del": [], "routes_set": {}, "forwarding": None}
        wanted_if = set()
        for x in v["interfaces"]:
            wanted_if.add(x["ifname"])
            action, repairs = plan_interface(x, obs["host"].get(x["host_if"]), ins["data"].get(x["ifname"]))
            label = "vnode:%s:%s" % (v["name"], x["ifname"])
            if action == "create":
                a["create"].append(x)
                t.add(label, "absent" if x["ifname"] not in ins["data"] else "not paired with %s" % x["host_if"],
                      "%s/%d on %s" % (x["address"], x["prefixlen"], x["bridge"]))
            elif action == "repair":
                a["repair"][x["ifname"]] = repairs
                t.add(label, dict((k, b) for k, (b, _a) in repairs.items()),
                      dict((k, _a) for k, (_b, _a) in repairs.items()))
        for ifname, lk in sorted(ins["data"].items()):
            if ifname not in wanted_if:
                a["remove"].append(lk["index"])
                t.add("vnode:%s:%s" % (v["name"], ifname), "present", "absent")
        want_routes = wanted_routes(v, d["networks"])
        have_routes = ins["routes"]
        for cidr in sorted(have_routes):
            if cidr not in want_routes:
                a["routes_del"].append(cidr)
        # a re-created or re-addressed interface loses the routes through it: set them all again
        rebuilt = a["create"] or a["remove"] or any("addresses" in r for r in a["repair"].values())
        for cidr, gw in sorted(want_routes.items()):
            if rebuilt or have_routes.get(cidr, "missing") != gw:
                a["routes_set"][cidr] = gw
        t.add("vnode:%s:routes" % v["name"], _routes_text(have_routes), _routes_text(want_routes))
        if v["router"] and ins["forwarding"] != "1":
            a["forwarding"] = "1"
        elif not v["router"] and v["name"] in obs["routers"] and ins["forwarding"] == "1":
            a["forwarding"] = "0"
        if a["forwarding"] is not None:
            t.add("vnode:%s:forwarding" % v["name"], ins["forwarding"], a["forwarding"])
        if any(a[k] for k in ("create", "repair", "remove", "routes_del", "routes_set")) or a["forwarding"]:
            out["vnodes"][v["name"]] = a
    out["routers"] = sorted(v["name"] for v in d["vnodes"] if v["router"])
    # host-side data veths of ours that no wanted interface uses (a wanted one that is not
    # paired any more is re-created by its vnode's ``create``)
    out["remove_host"] = sorted(ifname for ifname in obs["host"] if ifname not in wanted_host)
    if out["remove_host"]:
        t.add("stray_data_links", out["remove_host"], [])
    if sorted(obs["routers"]) != out["routers"]:
        t.add("routers", obs["routers"], out["routers"], active=False)
    out["tracker"] = t
    return out


def _routes_text(routes):
    return ["%s %s" % (c, ("via " + g) if g else "unreachable") for c, g in sorted(routes.items())]


# ----------------------------------------------------------------------------------------------
# apply


def apply(d, obs, p, sock, switcher):
    alias = naming.owner_alias(d["platform"])
    by_name = dict((v["name"], v) for v in d["vnodes"])
    for ifname in p["remove_host"]:
        if ifname in obs["host"]:
            sock.link_del(obs["host"][ifname]["index"])
    bridges = dict((name, b["index"]) for name, b in obs["bridges"].items() if b)
    for name, a in sorted(p["vnodes"].items()):
        with context(name, "data interfaces"):
            _apply_vnode(sock, switcher, by_name[name], obs, a, alias, bridges)
    if p["routers"] != obs["routers"] or not p["routers"]:
        # (no routers: no file, removed if there is one; the same routers: already recorded)
        write_routers(d["state_dir"], d["platform"], p["routers"])


def _apply_vnode(sock, switcher, v, obs, a, alias, bridges):
    name = v["name"]
    s = switcher.open(name)
    try:
        for index in a["remove"]:
            s.link_del(index)
        for ifname, repairs in sorted(a["repair"].items()):
            x = [i for i in v["interfaces"] if i["ifname"] == ifname][0]
            host = obs["host"][x["host_if"]]
            if "master" in repairs:
                sock.link_set(host["index"], master=bridges[x["bridge"]])
            if "host_mtu" in repairs:
                sock.link_set(host["index"], mtu=x["mtu"])
            if "host_up" in repairs:
                sock.link_set(host["index"], state="up")
            idx = s.link_index(ifname)
            if "mac" in repairs:
                s.link_set(idx, address=x["mac"])
            if "mtu" in repairs:
                s.link_set(idx, mtu=x["mtu"])
            if "addresses" in repairs:
                want = "%s/%d" % (x["address"], x["prefixlen"])
                for addr in s.addresses().get(idx, []):
                    if addr != want:
                        s.addr_del(idx, addr)
                s.addr_add(idx, want)
            if "up" in repairs:
                s.link_set(idx, state="up")
        for x in a["create"]:
            host = sock.link_index(x["host_if"])
            if host is not None:
                sock.link_del(host)
            stray = s.link_index(x["ifname"])
            if stray is not None:
                s.link_del(stray)
            fd = switcher.fd(name)
            try:
                sock.add_veth_into(x["host_if"], alias, fd, x["ifname"], peer_mac=x["mac"], mtu=x["mtu"],
                                   master=bridges.get(x["bridge"]))
            finally:
                os.close(fd)
            host = sock.link_index(x["host_if"])
            sock.link_no_ipv6_addresses(host)
            sock.link_set(host, state="up", ifalias=alias)
            idx = s.link_index(x["ifname"])
            s.link_no_ipv6_addresses(idx)
            s.link_set(idx, state="up", ifalias=alias)
            s.addr_add(idx, "%s/%d" % (x["address"], x["prefixlen"]))
        for cidr in a["routes_del"]:
            s.route_del(cidr, proto=nl.RTPROT_VXLAB)
        for cidr, gw in sorted(a["routes_set"].items()):
            if gw is None:
                s.route_unreachable(cidr, proto=nl.RTPROT_VXLAB)
            else:
                s.route_replace(cidr, gw, proto=nl.RTPROT_VXLAB)
    finally:
        s.close()
    if a["forwarding"] is not None:
        with switcher.inside(name):
            ns.sysctl_set(FORWARDING, a["forwarding"])


def remove_all(d, sock):
    """``state: absent``: the platform's host-side data veths (the vnodes step deleted their
    namespaces, which takes the veths with them: this removes what is left) and the record."""
    alias = naming.owner_alias(d["platform"])
    pattern = naming.data_host_if_pattern(d["platform"])
    gone = []
    for lk in sock.links().values():
        if lk["alias"] == alias and lk["kind"] == "veth" and pattern.match(lk["ifname"]):
            gone.append(lk)
    return gone


class VnodeNetworks(Concern):
    """The ``vnode_networks`` step: the vnodes' data interfaces, routes and forwarding."""

    NAME = "vnode_networks"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ("pyroute2", "netlink", "switcher")
    ERRORS = (OSError, ValueError, VnodeError)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        if desired["state"] == "absent":
            return {"stray": remove_all(desired, ctx.sock), "routers": read_routers(desired["state_dir"])}
        return observe(desired, ctx.sock, ctx.switcher)

    def diff(self, ctx, desired, observed):
        if desired["state"] == "absent":
            t = DifferenceTracker()
            t.add("stray_data_links", sorted(lk["ifname"] for lk in observed["stray"]), [])
            t.add("routers", observed["routers"], [])
            return Change(t, {"absent": True})
        p = diff(desired, observed, ctx.check_mode)
        return Change(p["tracker"], p, errors=p["errors"], warnings=p["warnings"])

    def apply(self, ctx, desired, observed, change):
        if desired["state"] == "absent":
            for lk in observed["stray"]:
                ctx.sock.link_del(lk["index"])
            write_routers(desired["state_dir"], desired["platform"], [])
            return
        apply(desired, observed, change.actions, ctx.sock, ctx.switcher)

    def result(self, ctx, desired, observed, change):
        if desired["state"] == "absent":
            return {"removed": sorted(lk["ifname"] for lk in observed["stray"])}
        p = change.actions
        return {"changed_vnodes": sorted(p["vnodes"]), "routers": p["routers"],
                "interfaces": sum(len(v["interfaces"]) for v in desired["vnodes"])}

    def describe(self, exc, desired):
        return "vnode_networks: %s" % describe(exc)
