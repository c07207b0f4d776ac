# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the two vnode kinds share (private to the collection): the ``vnodes`` module's argument
spec and validation, the record of the netns kind's namespaces (the LXC kind reads it to refuse a
change of kind), and the vnode's network seen from inside its namespace: one read, the repairs of
drifted properties, the writes. Imports the base and kernel layers only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_json
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups as _cg
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import sshmux as _sshmux

STATE_FILE = "vnodes-netns.json"
PEER_IFNAME = naming.VNODE_IFNAME
MAX_VNODES = naming.MAX_VNODES_PER_BRIDGE
KINDS = ("netns", "lxc")

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
        if _sshmux.public_key_of(params["host_key"]) is None:
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
    """Record the platform's namespaces; True when the file was (re)written, False when it
    already held exactly that (an idempotent run writes nothing)."""
    data = {"platform": platform, "kind": "netns", "netns": sorted(set(names))}
    path = record_path(state_dir)
    try:
        with open(path) as f:
            if json.load(f) == data:
                return False
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno != errno.ENOENT:
            raise
    os.makedirs(state_dir, 0o755, exist_ok=True)
    write_json(path, data)
    return True


def remove_record(state_dir):
    try:
        os.unlink(record_path(state_dir))
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def read_inside(s):
    """What one vnode namespace holds (``s``: a socket in it, or only a reader: see
    :meth:`_kernel.iproute.NetnsSwitcher.reader`): three small dumps, links, addresses and the
    main table's routes."""
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


def index_names(links):
    """``{ifindex: name}`` of a links dump (a master is named, not numbered, in diffs)."""
    return dict((lk["index"], name) for name, lk in links.items())


def host_view(link, alias, names):
    """The host side of a vnode's veth as plans compare it; ``master``: its bridge's *name*
    (``names``: :func:`index_names`), so a bridge made again (another index) or still to be made
    (check mode) compares as what it is."""
    if link is None:
        return None
    master = link["master"] or None
    return {"index": link["index"], "kind": link["kind"], "mtu": link["mtu"], "up": link["up"],
            "master": names.get(master, master) if master else None, "link": link["link"],
            "ours": link["alias"] == alias, "alias": link["alias"]}


def vnode_repairs(v, d, o):
    """Pure: ``{field: (before, after)}`` for one healthy vnode (host veth and eth0 peered); the
    master is compared by bridge name (:func:`host_view`)."""
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
    if d.get("bridge"):
        cmp("master", host["master"], d["bridge"])
    cmp("host_up", host["up"], True)
    cmp("mac", eth0["mac"], v["mac"])
    cmp("addresses", sorted(ins["addresses"]), want_addr)
    cmp("up", eth0["up"], True)
    cmp("lo_up", ins["lo_up"], True)
    cmp("default_route", ins["defaults"], [d["gateway"]] if d["gateway"] else [])
    return r


def configure_inside(s, v, d, fields):
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


def repair_one(sock, switcher, v, d, o, repairs, bridge_index):
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
            configure_inside(s, v, d, inside)
        finally:
            s.close()


class VnodeError(Exception):
    """A netlink/namespace failure while changing one vnode; the message names it."""


class context:
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
