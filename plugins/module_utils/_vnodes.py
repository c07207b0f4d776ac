# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the ``vxlab.emulation.vnodes`` module (private to the collection).

All the vnodes of one pnode in one call, in one process:

* observe: one link dump of the pnode namespace, the list of named namespaces, the module's state
  file, and for each existing vnode namespace one socket (opened by ``setns``, see
  :class:`_kernel.iproute.NetnsSwitcher`) dumping links, addresses and routes;
* plan (pure, :func:`plan`): per vnode ``create`` / ``relink`` / repairs of drifted properties,
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

import errno
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_json
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils import _cgroups as _cg
from ansible_collections.vxlab.emulation.plugins.module_utils import _lxc
from ansible_collections.vxlab.emulation.plugins.module_utils import _vnodes_lxc as _lxc_kind

try:
    from ansible_collections.vxlab.emulation.plugins.module_utils import _sshmux

    HAS_SSHMUX = True
except ImportError:  # pragma: no cover - the collection ships it
    _sshmux = None
    HAS_SSHMUX = False

STATE_FILE = "vnodes-netns.json"
PEER_IFNAME = naming.VNODE_IFNAME
MAX_VNODES = naming.MAX_VNODES_PER_BRIDGE
#: how long to wait for the kernel to remove the veths of deleted namespaces
VANISH_TIMEOUT = 10.0

ARGUMENT_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    platform=dict(type="str", required=True),
    netns=dict(type="str"),
    kind=dict(type="str", default="netns", choices=["netns", "lxc"]),
    bridge=dict(type="str"),
    vnodes=dict(type="list", elements="dict", default=[]),
    prefixlen=dict(type="int"),
    mtu=dict(type="int"),
    gateway=dict(type="str"),
    ssh=dict(type="bool", default=True),
    authorized_keys=dict(type="str", default="", no_log=False),
    host_key=dict(type="str", no_log=True),
    state_dir=dict(type="str", required=True),
    image=dict(type="str"),
    cpu=dict(type="raw"),
    cpuset=dict(type="str"),
    memory=dict(type="raw"),
    window=dict(type="int", default=16),
)
LIMIT_KEYS = ("cpu", "cpuset", "memory")


# ----------------------------------------------------------------------------------------------
# validation (pure)


def validate(params):
    """Normalised desired state, or ValueError naming the bad value."""
    d = {
        "state": params.get("state") or "present",
        "platform": naming.check_platform(params["platform"]),
        "kind": params.get("kind") or "netns",
        "bridge": params.get("bridge"),
        "prefixlen": params.get("prefixlen"),
        "mtu": params.get("mtu"),
        "gateway": None,
        "ssh": bool(params.get("ssh", True)),
        "authorized_keys": params.get("authorized_keys") or "",
        "host_key": None,
        "state_dir": params.get("state_dir"),
        "vnodes": [],
        "image": params.get("image"),
        "window": params.get("window") or 16,
    }
    d["state_dir"] = naming.check_path("state_dir", d["state_dir"])
    if d["kind"] not in ("netns", "lxc"):
        raise ValueError("kind=%r: must be netns or lxc" % (d["kind"],))
    if not 1 <= d["window"] <= 256:
        raise ValueError("window=%r: must be 1-256" % (d["window"],))
    if d["state"] == "absent":
        return d
    raw = params.get("vnodes") or []
    default_limits = dict((k, params.get(k)) for k in LIMIT_KEYS)
    d["limits"] = _cg.limits(where="vnodes", **default_limits) if d["kind"] == "lxc" else None
    if d["kind"] == "netns":
        given = [k for k in LIMIT_KEYS if params.get(k) not in (None, "")] + sorted(set(
            k for v in raw if isinstance(v, dict) for k in LIMIT_KEYS if v.get(k) not in (None, "")))
        if given:
            raise ValueError("%s: CPU and memory limits need kind=lxc (netns vnodes have no "
                             "processes of their own to limit)" % ", ".join(sorted(set(given))))
    if d["kind"] == "lxc" and raw:
        img = d["image"]
        if not naming.is_safe_path(img):
            raise ValueError("image=%r: kind=lxc needs the base root filesystem, an absolute path of "
                             "A-Z a-z 0-9 _ . - / (see vxlab.emulation.lxc_image)" % (img,))
        d["image"] = img.rstrip("/")
    if raw:
        if d["bridge"] is None:
            raise ValueError("bridge: required with state=present when vnodes are given")
        naming.check_ifname("bridge", d["bridge"])
        if d["prefixlen"] is None or not 1 <= d["prefixlen"] <= 32:
            raise ValueError("prefixlen=%r: must be 1-32" % (d["prefixlen"],))
    if d["mtu"] is not None and not 68 <= d["mtu"] <= 65535:
        raise ValueError("mtu=%r: must be 68-65535" % (d["mtu"],))
    if params.get("gateway"):
        d["gateway"] = naming.parse_ipv4("gateway", params["gateway"])
    if params.get("host_key"):
        if not HAS_SSHMUX or _sshmux.public_key_of(params["host_key"]) is None:
            raise ValueError("host_key: not an unencrypted OpenSSH private key (the vnodes' host "
                             "key, e.g. the content of vxlab_ssh_host_key)")
        d["host_key"] = params["host_key"].strip() + "\n"
    if d["ssh"] and raw and not d["authorized_keys"].strip():
        raise ValueError("authorized_keys: empty, but ssh=true needs at least one public key "
                         "(or set ssh=false)")
    if len(raw) > MAX_VNODES:
        raise ValueError("vnodes: %d vnodes on one bridge, a Linux bridge takes at most %d "
                         "(1,023 ports including the VXLAN port)" % (len(raw), MAX_VNODES))
    seen = {"name": {}, "address": {}, "mac": {}, "host_if": {}}
    for i, v in enumerate(raw):
        if not isinstance(v, dict):
            raise ValueError("vnodes[%d]=%r: must be a dict {name, address, mac, host_if}" % (i, v))
        missing = [k for k in ("name", "address", "mac", "host_if") if not v.get(k)]
        if missing:
            raise ValueError("vnodes[%d] (%s): missing %s" % (i, v.get("name"), ", ".join(missing)))
        extra = sorted(set(v) - {"name", "address", "mac", "host_if", "pnode", "index"} - set(LIMIT_KEYS))
        if extra:
            raise ValueError("vnodes[%d] (%s): unknown key(s) %s" % (i, v["name"], ", ".join(extra)))
        name = v["name"]
        naming.check_node_name("vnodes[%d].name" % i, name)
        n = {
            "name": name,
            "address": naming.parse_ipv4("vnodes[%d].address (%s)" % (i, name), v["address"]),
            "mac": naming.parse_mac("vnodes[%d].mac (%s)" % (i, name), v["mac"]),
            "host_if": naming.check_ifname("vnodes[%d].host_if (%s)" % (i, name), v["host_if"]),
        }
        if d["kind"] == "lxc":
            where = "vnodes[%d] (%s)" % (i, name)
            lim = _cg.limits(where=where, **dict((k, v.get(k)) for k in LIMIT_KEYS))
            n["limits"] = dict((k, lim[k] if v.get(k) not in (None, "") else d["limits"][k])
                               for k in LIMIT_KEYS)
        if n["host_if"] == d["bridge"]:
            raise ValueError("vnodes[%d].host_if=%r: same name as the bridge" % (i, n["host_if"]))
        if n["address"] == d["gateway"]:
            raise ValueError("vnodes[%d].address=%r (%s): is the gateway address"
                             % (i, n["address"], name))
        for key in ("name", "address", "mac", "host_if"):
            if n[key] in seen[key]:
                raise ValueError("vnodes[%d].%s=%r (%s): already used by vnode %s"
                                 % (i, key, n[key], name, seen[key][n[key]]))
            seen[key][n[key]] = name
        d["vnodes"].append(n)
    return d


# ----------------------------------------------------------------------------------------------
# the state file


def record_path(state_dir):
    return os.path.join(state_dir, STATE_FILE)


def read_record(state_dir, platform):
    try:
        with open(record_path(state_dir)) as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno != errno.ENOENT:
            raise
        return []
    if data.get("platform") != platform:
        raise ValueError("%s belongs to platform %r, not %r; use the state_dir of this platform"
                         % (record_path(state_dir), data.get("platform"), platform))
    return sorted(set(data.get("netns", [])))


def write_record(state_dir, platform, names):
    os.makedirs(state_dir, 0o755, exist_ok=True)
    write_json(record_path(state_dir), {"platform": platform, "kind": "netns", "netns": sorted(set(names))})


def remove_record(state_dir):
    try:
        os.unlink(record_path(state_dir))
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


# ----------------------------------------------------------------------------------------------
# observe


def read_inside(s):
    """What one vnode namespace holds (``s``: a socket in it)."""
    links = s.links()
    eth0 = links.get(PEER_IFNAME)
    lo = links.get("lo")
    addrs = s.addresses()
    defaults = sorted(r["gateway"] or "" for r in s.routes() if r["dest"] == "0.0.0.0/0")
    return {
        "eth0": None if eth0 is None else {k: eth0[k] for k in ("index", "kind", "mtu", "up", "mac", "link")},
        "lo_up": bool(lo and lo["up"]),
        "addresses": addrs.get(eth0["index"], []) if eth0 else [],
        "defaults": defaults,
    }


def _host_view(link, alias):
    if link is None:
        return None
    return {"index": link["index"], "kind": link["kind"], "mtu": link["mtu"], "up": link["up"],
            "master": link["master"], "link": link["link"], "ours": link["alias"] == alias,
            "alias": link["alias"]}


def observe(d, sock, switcher):
    """One batched read of everything the plan needs (plain data)."""
    alias = naming.owner_alias(d["platform"])
    links = sock.links()
    namespaces = set(ns.netns_list())
    recorded = read_record(d["state_dir"], d["platform"])
    bridge = links.get(d["bridge"]) if d.get("bridge") else None
    wanted = set(v["name"] for v in d["vnodes"])
    wanted_if = set(v["host_if"] for v in d["vnodes"])
    vnodes = {}
    for v in d["vnodes"]:
        host = _host_view(links.get(v["host_if"]), alias)
        o = {"ns": v["name"] in namespaces, "recorded": v["name"] in recorded, "host": host,
             "inside": None}
        if o["ns"] and (o["recorded"] or (host and host["ours"])):
            s = switcher.open(v["name"])
            try:
                o["inside"] = read_inside(s)
            finally:
                s.close()
        vnodes[v["name"]] = o
    # host-side veths of ours that no wanted vnode uses: their namespace is ours too
    orphans = [{"host_if": lk["ifname"], "index": lk["index"], "netnsid": lk["link_netnsid"]}
               for lk in links.values()
               if lk["alias"] == alias and lk["kind"] == "veth" and lk["ifname"] not in wanted_if]
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


def vnode_repairs(v, d, o, bridge_index):
    """Pure: ``{field: (before, after)}`` for one healthy vnode (host veth and eth0 peered)."""
    host, ins = o["host"], o["inside"]
    eth0 = ins["eth0"]
    want_addr = ["%s/%d" % (v["address"], d["prefixlen"])]
    r = {}

    def cmp(field, before, after):
        if before != after:
            r[field] = (before, after)

    if d["mtu"] is not None:
        cmp("host_mtu", host["mtu"], d["mtu"])
        cmp("mtu", eth0["mtu"], d["mtu"])
    if bridge_index is not None:
        cmp("master", host["master"], bridge_index)
    cmp("host_up", host["up"], True)
    cmp("mac", eth0["mac"], v["mac"])
    cmp("addresses", sorted(ins["addresses"]), want_addr)
    cmp("up", eth0["up"], True)
    cmp("lo_up", ins["lo_up"], True)
    cmp("default_route", ins["defaults"], [d["gateway"]] if d["gateway"] else [])
    return r


def plan_vnode(v, d, o, bridge_index):
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
    repairs = vnode_repairs(v, d, o, bridge_index)
    return ("repair" if repairs else None), repairs, None


def plan(d, obs, check_mode=False):
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

    bridge_index = None
    if d["state"] == "present" and d["vnodes"]:
        b = obs["bridge"]
        if b is None:
            if check_mode:
                out["warnings"].append("bridge %s does not exist (yet)" % d["bridge"])
            else:
                out["errors"].append("bridge %s does not exist" % d["bridge"])
        elif b["kind"] != "bridge":
            out["errors"].append("bridge=%s is a %s, not a bridge" % (d["bridge"], b["kind"]))
        else:
            bridge_index = b["index"]

    if d["state"] == "present":
        for v in d["vnodes"]:
            o = obs["vnodes"][v["name"]]
            action, repairs, error = plan_vnode(v, d, o, bridge_index)
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
    out["tracker"] = t
    out["record_before"] = obs["recorded"]
    out["record_after"] = sorted(wanted) if d["state"] == "present" else []
    return out


# ----------------------------------------------------------------------------------------------
# apply


def _configure_inside(s, v, d, fields):
    """Set the listed fields inside one vnode namespace (``fields``: iterable of field names)."""
    eth0 = s.link_index(PEER_IFNAME)
    fields = set(fields)
    if "lo_up" in fields:
        s.link_set(s.link_index("lo"), state="up")
    if "mac" in fields:
        s.link_set(eth0, address=v["mac"])
    if "mtu" in fields and d["mtu"] is not None:
        s.link_set(eth0, mtu=d["mtu"])
    if "addresses" in fields:
        want = "%s/%d" % (v["address"], d["prefixlen"])
        for a in s.addresses().get(eth0, []):
            if a != want:
                s.addr_del(eth0, a)
        s.addr_add(eth0, want)
    if "up" in fields:
        s.link_set(eth0, state="up")
    if "default_route" in fields:
        for r in s.routes():
            if r["dest"] == "0.0.0.0/0" and r["gateway"] != d["gateway"]:
                s.route_del("0.0.0.0/0", gateway=r["gateway"])
        if d["gateway"]:
            s.route_replace("0.0.0.0/0", d["gateway"], proto=nl.RTPROT_VXLAB)


ALL_INSIDE = ("lo_up", "addresses", "up", "default_route")
INSIDE_FIELDS = ("lo_up", "mac", "mtu", "addresses", "up", "default_route")


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
        with _context(name, "create"):
            _create_one(sock, switcher, by_name[name], d, obs["vnodes"][name], alias, bridge_index)

    for name, repairs in sorted(p["repair"].items()):
        with _context(name, "repair"):
            _repair_one(sock, switcher, by_name[name], d, obs["vnodes"][name], repairs, bridge_index)
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
            _configure_inside(s, v, d, ALL_INSIDE)
        else:
            # a namespace made just now holds only lo (index 1) and the new eth0: no reads needed
            s.link_set(1, state="up")
            s.link_set(eth0, state="up", ifalias=alias)
            s.addr_add(eth0, "%s/%d" % (v["address"], d["prefixlen"]))
            if d["gateway"]:
                s.route_replace("0.0.0.0/0", d["gateway"], proto=nl.RTPROT_VXLAB)
    finally:
        s.close()


def _repair_one(sock, switcher, v, d, o, repairs, bridge_index):
    name = v["name"]
    host = o["host"]
    if "host_mtu" in repairs:
        sock.link_set(host["index"], mtu=d["mtu"])
    if "master" in repairs:
        sock.link_set(host["index"], master=bridge_index)
    if "host_up" in repairs:
        sock.link_set(host["index"], state="up")
    inside = [f for f in repairs if f in INSIDE_FIELDS]
    if inside:
        s = switcher.open(name)
        try:
            _configure_inside(s, v, d, inside)
        finally:
            s.close()


class VnodeError(Exception):
    """A netlink/namespace failure while changing one vnode; the message names it."""


class _context:
    def __init__(self, name, what):
        self.name, self.what = name, what

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if exc is not None and isinstance(exc, (nl.NetlinkError, OSError)):
            raise VnodeError("vnode %s (%s): %s" % (self.name, self.what, describe(exc)))
        return False


def describe(exc):
    if isinstance(exc, nl.NetlinkError):
        return nl.error_text(exc)
    return str(exc)


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


def _ssh_entries(d):
    return [{"netns": v["name"], "address": v["address"]} for v in d["vnodes"]]


def run(module):
    p = module.params
    d = nl.validated(module, validate)
    if d["ssh"] and d["state"] == "present" and d["vnodes"] and not HAS_SSHMUX:
        module.fail_json(msg="ssh=true needs the vxlab module_utils _sshmux, which is missing")
    result = {"changed": False}
    ssh_info = None
    if d["kind"] == "lxc" and d["state"] == "present":
        run_lxc(module, d)
        return
    lxc_removal = None
    try:
        with ns.in_netns(p.get("netns")):
            with nl.Netlink() as sock, nl.NetnsSwitcher() as switcher:
                if d["state"] == "absent":
                    # whatever the kind: LXC containers first (their veths go with them)
                    lxc_removal = _lxc_kind.remove_all(d, sock, _cg.Host(), module.check_mode)
                elif _lxc.list_containers(_lxc_kind.lxcpath_of(d["state_dir"])):
                    module.fail_json(msg="vnodes: this pnode holds LXC vnodes of platform %s (%s); "
                                     "remove them first (state=absent, e.g. vxlab destroy) before "
                                     "changing the vnode kind to netns"
                                     % (d["platform"], _lxc_kind.lxcpath_of(d["state_dir"])))
                obs = observe(d, sock, switcher)
                pl = plan(d, obs, module.check_mode)
                if pl["errors"]:
                    module.fail_json(msg="; ".join(pl["errors"][:5]) + (
                        " (and %d more)" % (len(pl["errors"]) - 5) if len(pl["errors"]) > 5 else ""))
                tracker = pl["tracker"]
                if lxc_removal is not None:
                    tracker.merge(lxc_removal["tracker"], "lxc:")
                    pl["remove"] = sorted(set(pl["remove"]) | set(lxc_removal["remove"]))
                if d["state"] == "absent" and HAS_SSHMUX:
                    # stop SSH first: its sockets would keep the namespaces alive
                    ch, before, after = _sshmux.remove(d["state_dir"], d["platform"], module.check_mode)
                    tracker.add("ssh", before, after, active=ch)
                    ssh_info = after
                gone = []
                if not module.check_mode:
                    gone = apply(d, obs, pl, sock, switcher)
                if d["state"] == "present" and HAS_SSHMUX:
                    if d["ssh"] and d["vnodes"]:
                        ch, before, after = _sshmux.ensure(d["state_dir"], d["platform"],
                                                           _ssh_entries(d), d["authorized_keys"],
                                                           check_mode=module.check_mode,
                                                           host_key=d["host_key"])
                    else:
                        ch, before, after = _sshmux.remove(d["state_dir"], d["platform"],
                                                           module.check_mode)
                    tracker.add("ssh", before, after, active=ch)
                    ssh_info = after
                if not module.check_mode:
                    stuck = wait_links_gone(sock, gone)
                    if stuck:
                        module.warn("veths %s were still present %ds after their namespaces were "
                                    "deleted and were deleted directly" % (", ".join(stuck), VANISH_TIMEOUT))
                    if d["state"] == "present":
                        write_record(d["state_dir"], d["platform"], pl["record_after"])
                    else:
                        remove_record(d["state_dir"])
    except (nl.NetlinkError, OSError, VnodeError, ValueError, _lxc.LxcError,
            _lxc_kind.LxcVnodeError, _cg.CgroupError) as exc:
        module.fail_json(msg="vnodes: %s" % describe(exc))
    except Exception as exc:
        if HAS_SSHMUX and isinstance(exc, _sshmux.SshmuxError):
            module.fail_json(msg="vnodes: ssh: %s" % exc)
        raise
    present = [v["name"] for v in d["vnodes"]] if d["state"] == "present" else []
    result["changed"] = tracker.changed
    result["vnodes"] = {
        "created": sorted(pl["create"]),
        "repaired": sorted(set(pl["repair"]) | set(pl["relink"])),
        "removed": pl["remove"],
        "total": len(present),
    }
    result["ssh"] = ssh_info
    if module._diff:
        result["diff"] = tracker.diff()
    module.exit_json(**result)


def run_lxc(module, d):
    """``kind=lxc``, ``state=present`` (see :mod:`_vnodes_lxc`)."""
    ssh_info = None
    try:
        with ns.in_netns(module.params.get("netns")):
            with nl.Netlink() as sock, nl.NetnsSwitcher() as switcher:
                if read_record(d["state_dir"], d["platform"]):
                    module.fail_json(msg="vnodes: this pnode holds netns vnodes of platform %s (%s); "
                                     "remove them first (state=absent, e.g. vxlab destroy) before "
                                     "changing the vnode kind to lxc"
                                     % (d["platform"], record_path(d["state_dir"])))
                tracker, info = _lxc_kind.run_present(module, d, sock, switcher)
                if HAS_SSHMUX:
                    # LXC vnodes run their own sshd: no multiplexer for this platform here
                    ch, before, after = _sshmux.remove(d["state_dir"], d["platform"], module.check_mode)
                    tracker.add("ssh", before, after, active=ch)
                    ssh_info = after
    except (nl.NetlinkError, OSError, VnodeError, ValueError, _lxc.LxcError,
            _lxc_kind.LxcVnodeError, _cg.CgroupError) as exc:
        module.fail_json(msg="vnodes: %s" % describe(exc))
    result = {"changed": tracker.changed, "vnodes": info, "ssh": ssh_info}
    if module._diff:
        result["diff"] = tracker.diff()
    module.exit_json(**result)


def run_module():
    run(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))
