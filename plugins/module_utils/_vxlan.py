# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the ``vxlab.emulation.vxlan`` module (private to the collection).

observe (the VXLAN link, its underlay, its master, its FDB) -> :func:`check_underlay` and
:func:`plan` (pure) -> :func:`apply`. Unicast mode is head-end replication: one all-zero-MAC FDB
entry per remote VTEP, managed as an exact set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern, missing

#: attributes the kernel cannot change on an existing VXLAN interface: delete and re-create
RECREATE_KEYS = ("vni", "port", "local", "group", "dev", "proxy")

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    platform=dict(type="str", required=True),
    netns=dict(type="str"),
    vni=dict(type="int"),
    port=dict(type="int", default=4789),
    underlay_interface=dict(type="str", default="ib0"),
    local=dict(type="str"),
    mode=dict(type="str", default="unicast", choices=["unicast", "multicast"]),
    group=dict(type="str"),
    remote_vteps=dict(type="list", elements="str", default=[]),
    mtu=dict(type="int"),
    learning=dict(type="bool", default=True),
    proxy=dict(type="bool", default=False),
    master=dict(type="str"),
)


def validate(params):
    """Normalised desired state and warnings, or ValueError naming the bad parameter."""
    warnings = []
    d = {
        "name": naming.check_ifname("name", params["name"]),
        "state": params.get("state") or "present",
        "platform": naming.check_platform(params["platform"]),
        "mode": params.get("mode") or "unicast",
        "port": params.get("port") if params.get("port") is not None else 4789,
        "underlay_interface": naming.check_ifname("underlay_interface",
                                                  params.get("underlay_interface") or "ib0"),
        "mtu": params.get("mtu"),
        "learning": bool(params.get("learning", True)),
        "proxy": bool(params.get("proxy", False)),
        "master": params.get("master"),
        "vni": params.get("vni"),
        "local": None,
        "group": None,
        "remote_vteps": [],
    }
    if d["state"] == "absent":
        return d, warnings
    if d["vni"] is None or not 1 <= d["vni"] <= 16777215:
        raise ValueError("vni=%r: must be 1-16777215" % (d["vni"],))
    if not 1 <= d["port"] <= 65535:
        raise ValueError("port=%r: must be 1-65535" % (d["port"],))
    if d["mtu"] is not None and not 68 <= d["mtu"] <= 65535:
        raise ValueError("mtu=%r: must be 68-65535" % (d["mtu"],))
    if d["master"] is not None:
        naming.check_ifname("master", d["master"])
    if params.get("local"):
        d["local"] = naming.parse_ipv4("local", params["local"])
    vteps = []
    for v in params.get("remote_vteps") or []:
        a = naming.parse_ipv4("remote_vteps", v)
        if a in vteps:
            raise ValueError("remote_vteps: %s is listed twice" % a)
        if a == d["local"]:
            raise ValueError("remote_vteps: %s is the local VTEP address" % a)
        vteps.append(a)
    if d["mode"] == "unicast":
        if d["local"] is None:
            raise ValueError("local: the VTEP address is required in unicast mode")
        if params.get("group"):
            raise ValueError("group=%r: only meaningful in multicast mode" % params["group"])
        d["remote_vteps"] = sorted(vteps, key=naming.ipv4_int)
    else:
        if not params.get("group"):
            raise ValueError("group: a multicast group is required in multicast mode")
        d["group"] = naming.parse_ipv4("group", params["group"])
        if not 224 <= naming.ipv4_int(d["group"]) >> 24 <= 239:
            raise ValueError("group=%r: not an IPv4 multicast address (224.0.0.0/4)" % d["group"])
        if vteps:
            warnings.append("remote_vteps is ignored in multicast mode (the group floods)")
    return d, warnings


def observe(sock, d):
    links = sock.links()
    by_index = dict((lk["index"], lk) for lk in links.values())
    link = links.get(d["name"])
    under = links.get(d["underlay_interface"])
    addrs = sock.addresses()
    fdb = sock.fdb(link["index"]) if link is not None and link["kind"] == "vxlan" else []
    return {
        "link": link,
        "link_master_name": by_index[link["master"]]["ifname"]
        if link is not None and link["master"] in by_index else None,
        "underlay": under,
        "underlay_addresses": [a.split("/")[0] for a in addrs.get(under["index"], [])] if under else [],
        "master": links.get(d["master"]) if d.get("master") else None,
        "fdb": fdb,
    }


def check_underlay(d, obs):
    """A refusal message when the underlay cannot carry this VXLAN, else None (pure)."""
    u = obs["underlay"]
    name = d["underlay_interface"]
    if u is None:
        return "underlay_interface %s does not exist" % name
    if not obs["underlay_addresses"]:
        return "underlay_interface %s has no IPv4 address" % name
    if d["local"] is not None and d["local"] not in obs["underlay_addresses"]:
        return ("local=%s is not an address of underlay_interface %s (it has %s)"
                % (d["local"], name, ", ".join(obs["underlay_addresses"])))
    if d["mtu"] is not None and d["mtu"] > naming.max_vnode_mtu(u["mtu"]):
        return ("underlay_interface %s has MTU %d, less than mtu %d + %d bytes of VXLAN "
                "encapsulation; lower mtu to %d or raise the underlay MTU"
                % (name, u["mtu"], d["mtu"], naming.VXLAN_OVERHEAD, naming.max_vnode_mtu(u["mtu"])))
    return None


def _flood_entries(d, obs):
    """Destinations of the all-zero-MAC (flood) FDB entries this module manages."""
    out = []
    for e in obs["fdb"]:
        if e["mac"] == nl.ZERO_MAC and e["dst"] and e["dst"] != d["group"] \
                and e["dst"] != (obs["link"] or {}).get("group"):
            out.append(e["dst"])
    return sorted(set(out), key=naming.ipv4_int)


def diff(d, obs, check_mode=False):
    """Pure: ``(tracker, actions, error, warnings)``."""
    t = DifferenceTracker()
    actions = []
    warnings = []
    link = obs["link"]
    alias = naming.owner_alias(d["platform"])
    ours = link is not None and link["kind"] == "vxlan" and link["alias"] == alias
    if link is not None and not ours:
        if d["state"] == "present":
            return t, [], ("interface %s exists but is not a VXLAN interface owned by platform %s "
                           "(kind %s, alias %r); refusing to touch it"
                           % (d["name"], d["platform"], link["kind"], link["alias"])), warnings
        warnings.append("interface %s is not owned by platform %s: left alone"
                        % (d["name"], d["platform"]))
        t.add("present", True, True)
        return t, [], None, warnings
    if d["state"] == "absent":
        if t.add("present", link is not None, False):
            actions.append(("delete", link["index"]))
        return t, actions, None, warnings

    error = check_underlay(d, obs)
    if error:
        return t, [], error, warnings
    if d["master"] is not None:
        m = obs["master"]
        if m is None:
            errors = []
            if not missing(check_mode, "master bridge %s does not exist" % d["master"], errors, warnings):
                return t, [], errors[0], warnings
        elif m["kind"] != "bridge":
            return t, [], "master %s is not a bridge (kind %s)" % (d["master"], m["kind"]), warnings

    want = {"vni": d["vni"], "port": d["port"], "local": d["local"], "group": d["group"],
            "dev": d["underlay_interface"]}
    t.add("present", link is not None, True)
    recreate = False
    if link is not None:
        have = {"vni": link["vni"], "port": link["port"], "local": link["local"],
                "group": link["group"], "dev": None, "proxy": link["proxy"]}
        if obs["underlay"] is not None and link["dev"] == obs["underlay"]["index"]:
            have["dev"] = d["underlay_interface"]
        elif link["dev"]:
            have["dev"] = "ifindex %s" % link["dev"]
        want["proxy"] = d["proxy"]
        changed_keys = [k for k in RECREATE_KEYS if have[k] != want[k]]
        if changed_keys:
            recreate = True
            t.add("recreate", None, "%s changed" % ", ".join(changed_keys))
        for k in RECREATE_KEYS:
            t.add(k, have[k], want[k])
    if link is None or recreate:
        if recreate:
            actions.append(("delete", link["index"]))
        actions.append(("create", None))
        current_vteps = []
        t.add("remote_vteps", _flood_entries(d, obs), d["remote_vteps"])
        if link is None:
            for k in ("vni", "port", "local", "group", "dev"):
                t.add(k, None, want[k], active=False)
    else:
        current_vteps = _flood_entries(d, obs)
        if t.add("learning", link["learning"], d["learning"]):
            actions.append(("learning", d["learning"]))
        if d["mtu"] is not None and t.add("mtu", link["mtu"], d["mtu"]):
            actions.append(("mtu", d["mtu"]))
        if d["master"] is not None and t.add("master", obs["link_master_name"], d["master"]):
            actions.append(("master", d["master"]))
        if t.add("up", link["up"], True):
            actions.append(("up", None))
    if link is None or recreate:
        if d["master"] is not None:
            actions.append(("master", d["master"]))
        actions.append(("up", None))
    if link is not None and not recreate:
        t.add("remote_vteps", current_vteps, d["remote_vteps"])
    for v in current_vteps:
        if v not in d["remote_vteps"]:
            actions.append(("fdb_del", v))
    for v in d["remote_vteps"]:
        if v not in current_vteps:
            actions.append(("fdb_add", v))
    return t, actions, None, warnings


def apply(sock, d, obs, actions):
    alias = naming.owner_alias(d["platform"])
    index = obs["link"]["index"] if obs["link"] else None
    for kind, arg in actions:
        if kind == "delete":
            sock.link_del(arg)
            index = None
        elif kind == "create":
            index = sock.add_vxlan(d["name"], alias, d["vni"], d["port"], obs["underlay"]["index"],
                                   local=d["local"], group=d["group"], learning=d["learning"],
                                   proxy=d["proxy"], mtu=d["mtu"])
        elif kind == "learning":
            sock.set_vxlan_learning(index, arg)
        elif kind == "mtu":
            sock.link_set(index, mtu=arg)
        elif kind == "master":
            sock.link_set(index, master=sock.link_index(arg))
        elif kind == "up":
            sock.link_set(index, state="up")
        elif kind == "fdb_add":
            sock.fdb_append(index, nl.ZERO_MAC, arg)
        elif kind == "fdb_del":
            sock.fdb_del(index, nl.ZERO_MAC, arg)


def summary(sock, d):
    links = sock.links()
    link = links.get(d["name"])
    if link is None or link["kind"] != "vxlan":
        return {"name": d["name"], "exists": link is not None}
    by_index = dict((lk["index"], lk["ifname"]) for lk in links.values())
    obs = {"fdb": sock.fdb(link["index"]), "link": link}
    return {"name": d["name"], "exists": True, "ifindex": link["index"], "vni": link["vni"],
            "port": link["port"], "local": link["local"], "group": link["group"],
            "underlay_interface": by_index.get(link["dev"]), "mtu": link["mtu"],
            "learning": link["learning"], "proxy": link["proxy"], "alias": link["alias"],
            "master": by_index.get(link["master"]), "up": link["up"],
            "remote_vteps": _flood_entries({"group": link["group"]}, obs)}


class Vxlan(Concern):
    """The ``vxlab.emulation.vxlan`` module's concern."""

    NAME = "vxlan"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    REQUIRED_IF = (("state", "present", ("vni",)),)

    def validate(self, params):
        desired, warnings = validate(params)
        desired["warnings"] = warnings
        return desired

    def observe(self, ctx, desired):
        return observe(ctx.sock, desired)

    def diff(self, ctx, desired, observed):
        tracker, actions, error, warnings = diff(desired, observed, ctx.check_mode)
        return Change(tracker, actions, errors=[error] if error else [],
                      warnings=desired["warnings"] + warnings)

    def apply(self, ctx, desired, observed, change):
        apply(ctx.sock, desired, observed, change.actions)

    def result(self, ctx, desired, observed, change):
        return {"vxlan": summary(ctx.sock, desired)}

    def prefix(self, desired):
        return "vxlan %s: " % desired["name"]
