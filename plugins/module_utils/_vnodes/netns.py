# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``netns`` kind of vnodes (private to the collection): bare network namespaces.

All the vnodes of one pnode in one call, in one process:

* observe: one link dump of the pnode namespace, the list of named namespaces, the module's state
  file, and for each existing vnode namespace one plain socket (opened by ``setns``, see
  :meth:`_kernel.iproute.NetnsSwitcher.reader`) dumping links, addresses and routes;
* diff (pure, :func:`diff`): per vnode ``create`` / ``relink`` / repairs of drifted properties,
  and the vnodes of this platform to remove;
* apply (:func:`apply`): namespaces are created in-process (unshare + bind mount), each veth is
  created with its peer directly inside the vnode namespace, removed namespaces are deleted (the
  kernel then removes their veths in one batch).

Ownership: the namespaces this module created are listed in ``<state_dir>/vnodes-netns.json``
(written *before* any namespace is created), host-side veths carry the alias ``vxlab:<platform>``.
Only those are ever modified or removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import missing
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import common
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes.common import (
    PEER_IFNAME,
    context,
    read_record,
    record_path,
    write_record,
)

#: how long to wait for the kernel to remove the veths of deleted namespaces
VANISH_TIMEOUT = 10.0

# ----------------------------------------------------------------------------------------------
# observe


def observe(d, sock, switcher):
    """One batched read of everything the plan needs (plain data)."""
    alias = naming.owner_alias(d["platform"])
    links = sock.links()
    names = common.index_names(links)
    namespaces = set(ns.netns_list())
    recorded = read_record(d["state_dir"], d["platform"])
    bridge = links.get(d["bridge"]) if d.get("bridge") else None
    wanted = set(v["name"] for v in d["vnodes"])
    wanted_if = set(v["host_if"] for v in d["vnodes"])
    vnodes = {}
    for v in d["vnodes"]:
        host = common.host_view(links.get(v["host_if"]), alias, names)
        o = {"ns": v["name"] in namespaces, "recorded": v["name"] in recorded, "host": host,
             "inside": None}
        if o["ns"] and (o["recorded"] or (host and host["ours"])):
            s = switcher.reader(v["name"])
            try:
                o["inside"] = common.read_inside(s)
            finally:
                s.close()
        vnodes[v["name"]] = o
    # host-side veths of ours that no wanted vnode uses: their namespace is ours too (the data
    # interfaces' host sides, <host_if>.<k>, are the vnode_networks step's)
    data_if = naming.data_host_if_pattern(d["platform"])
    orphans = [{"host_if": lk["ifname"], "index": lk["index"], "netnsid": lk["link_netnsid"]}
               for lk in links.values()
               if lk["alias"] == alias and lk["kind"] == "veth" and lk["ifname"] not in wanted_if
               and not data_if.match(lk["ifname"])]
    orphan_ns = {}
    unexplained = [o for o in orphans if o["netnsid"] is not None]
    if unexplained:
        by_nsid = {}
        for name in sorted(namespaces - wanted):
            nsid = sock.netnsid_of(name)
            if nsid is not None:
                by_nsid[nsid] = name
        for o in unexplained:
            if o["netnsid"] in by_nsid:
                o["netns"] = by_nsid[o["netnsid"]]
                orphan_ns[o["netns"]] = o["host_if"]
    return {
        "bridge": None if bridge is None else {"index": bridge["index"], "kind": bridge["kind"]},
        "namespaces": sorted(namespaces),
        "recorded": recorded,
        "vnodes": vnodes,
        "orphans": orphans,
        "orphan_ns": orphan_ns,
    }


# ----------------------------------------------------------------------------------------------
# plan (pure)


def plan_vnode(v, d, o):
    """Pure: ``(action, repairs, error)``; action is None, "create", "relink" or "repair"."""
    host = o["host"]
    if host is not None and not host["ours"]:
        return None, {}, ("vnode %s: interface %s exists and is not owned by platform %s (alias %r); "
                          "refusing to touch it" % (v["name"], v["host_if"], d["platform"],
                                                    host["alias"]))
    if host is not None and host["kind"] != "veth":
        return None, {}, ("vnode %s: interface %s is a %s, not a veth"
                          % (v["name"], v["host_if"], host["kind"]))
    if not o["ns"]:
        return "create", {}, None
    if o["inside"] is None:
        return None, {}, ("vnode %s: network namespace %s exists but is not a vnode of platform %s "
                          "(not recorded in %s and no veth with alias vxlab:%s); refusing to touch it"
                          % (v["name"], v["name"], d["platform"],
                             record_path(d["state_dir"]), d["platform"]))
    eth0 = o["inside"]["eth0"]
    if host is None or eth0 is None or eth0["kind"] != "veth" \
            or host["link"] != eth0["index"] or eth0["link"] != host["index"]:
        return "relink", {}, None
    repairs = common.vnode_repairs(v, d, o)
    return ("repair" if repairs else None), repairs, None


def diff(d, obs, check_mode=False):
    """Pure: ``{"tracker", "create", "relink", "repair", "remove", "remove_links", "errors",
    "warnings", "record_before", "record_after"}``."""
    t = DifferenceTracker()
    out = {"create": [], "relink": [], "repair": {}, "remove": [], "remove_links": [],
           "errors": [], "warnings": []}
    alias_vnodes = dict((v["name"], o) for v, o in
                        ((v, obs["vnodes"][v["name"]]) for v in d["vnodes"]))
    wanted = [v["name"] for v in d["vnodes"]]
    namespaces = set(obs["namespaces"])
    # vnodes of this platform that exist now
    existing = set(n for n in obs["recorded"] if n in namespaces)
    existing |= set(obs["orphan_ns"])
    existing |= set(n for n, o in alias_vnodes.items() if o["ns"] and o["inside"] is not None)

    if d["state"] == "present" and d["vnodes"]:
        b = obs["bridge"]
        if b is None:
            missing(check_mode, "bridge %s does not exist" % d["bridge"], out["errors"], out["warnings"])
        elif b["kind"] != "bridge":
            out["errors"].append("bridge=%s is a %s, not a bridge" % (d["bridge"], b["kind"]))

    if d["state"] == "present":
        for v in d["vnodes"]:
            o = obs["vnodes"][v["name"]]
            action, repairs, error = plan_vnode(v, d, o)
            if error:
                out["errors"].append(error)
            elif action in ("create", "relink"):
                out[action].append(v["name"])
            elif action == "repair":
                out["repair"][v["name"]] = repairs
        remove = sorted(existing - set(wanted))
    else:
        remove = sorted(existing)
    out["remove"] = remove
    # host links of ours to delete explicitly: orphans (their namespace may be gone or foreign)
    out["remove_links"] = sorted(o["host_if"] for o in obs["orphans"])
    t.add("vnodes", sorted(existing), sorted(wanted) if d["state"] == "present" else [])
    for name in out["create"] + out["relink"]:
        if name in existing:
            t.add("vnode:" + name, "broken veth", "relinked")
    for name, repairs in sorted(out["repair"].items()):
        t.add("vnode:" + name, dict((k, b) for k, (b, a) in repairs.items()),
              dict((k, a) for k, (b, a) in repairs.items()))
    stray = [o["host_if"] for o in obs["orphans"] if not o.get("netns")]
    if stray:
        t.add("stray_links", stray, [])
    if d["state"] == "present" and (existing & set(wanted)) - set(obs["recorded"]):
        # vnodes that exist but are missing from the ownership record (the state file, removed
        # or changed by hand): it is written again
        t.add("recorded_vnodes", sorted(obs["recorded"]), sorted(wanted))
    out["tracker"] = t
    out["record_before"] = obs["recorded"]
    out["record_after"] = sorted(wanted) if d["state"] == "present" else []
    return out


# ----------------------------------------------------------------------------------------------
# apply


def apply(d, obs, p, sock, switcher):
    alias = naming.owner_alias(d["platform"])
    by_name = dict((v["name"], v) for v in d["vnodes"])
    bridge_index = obs["bridge"]["index"] if obs["bridge"] else None
    creating = p["create"] + p["relink"]
    write_record(d["state_dir"], d["platform"], set(obs["recorded"]) | set(creating))

    # removals: deleting a namespace makes the kernel delete its veth pair (in one batch)
    gone_links = []
    for name in p["remove"]:
        ns.netns_delete(name)
        o = obs["vnodes"].get(name)
        if name in obs["orphan_ns"]:
            gone_links.append(obs["orphan_ns"][name])
        elif o and o["host"]:
            gone_links.append(by_name[name]["host_if"])
    for ifname in p["remove_links"]:
        if ifname not in gone_links:
            idx = sock.link_index(ifname)
            if idx is not None:
                sock.link_del(idx)

    for name in creating:
        with context(name, "create"):
            _create_one(sock, switcher, by_name[name], d, obs["vnodes"][name], alias, bridge_index)

    for name, repairs in sorted(p["repair"].items()):
        with context(name, "repair"):
            common.repair_one(sock, switcher, by_name[name], d, obs["vnodes"][name], repairs, bridge_index)
    return gone_links


def _create_one(sock, switcher, v, d, o, alias, bridge_index):
    name = v["name"]
    if o["host"] is not None:
        sock.link_del(o["host"]["index"])
    if not o["ns"]:
        ns.netns_create(name)
    fd = switcher.fd(name)
    try:
        if o["ns"]:
            s = switcher.open(name)
            try:
                stray = s.link_index(PEER_IFNAME)
                if stray is not None:
                    s.link_del(stray)
            finally:
                s.close()
        sock.add_veth_into(v["host_if"], alias, fd, PEER_IFNAME, peer_mac=v["mac"],
                           mtu=d["mtu"], master=bridge_index)
    finally:
        os.close(fd)
    # vnodes are IPv4-only: no IPv6 address on either end of the veth (lo keeps ::1), set while
    # both ends are down. Otherwise every new port sends DAD / router solicitations / MLD that
    # the bridge floods to all ports (creating 1,000 vnodes took 10.6 s instead of 6.6 s).
    host_index = sock.link_index(v["host_if"])
    sock.link_no_ipv6_addresses(host_index)
    # the kernel ignores an alias given with RTM_NEWLINK: set it (and up) afterwards
    sock.link_set(host_index, state="up", ifalias=alias)
    s = switcher.open(name)
    try:
        eth0 = s.link_index(PEER_IFNAME)
        s.link_no_ipv6_addresses(eth0)
        if o["ns"]:
            s.link_set(eth0, ifalias=alias)
            common.configure_inside(s, v, d, common.ALL_INSIDE)
        else:
            # a namespace made just now holds only lo (index 1) and the new eth0: no reads needed
            s.link_set(1, state="up")
            s.link_set(eth0, state="up", ifalias=alias)
            s.addr_add(eth0, "%s/%d" % (v["address"], d["prefixlen"]))
            if d["gateway"]:
                s.route_replace("0.0.0.0/0", d["gateway"], proto=nl.RTPROT_VXLAB)
    finally:
        s.close()


def wait_links_gone(sock, names, timeout=VANISH_TIMEOUT):
    """Wait until the kernel removed the named links; delete the remaining ones at the end."""
    pending = set(names)
    deadline = time.time() + timeout
    while pending and time.time() < deadline:
        pending &= set(sock.links())
        if pending:
            time.sleep(0.05)
    for name in sorted(pending):
        idx = sock.link_index(name)
        if idx is not None:
            sock.link_del(idx)
    return sorted(pending)


# ----------------------------------------------------------------------------------------------
# the module


def ssh_entries(d):
    return [{"netns": v["name"], "address": v["address"]} for v in d["vnodes"]]
