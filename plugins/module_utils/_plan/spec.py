# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform's variables, validated into a :class:`PlatformSpec` (private, pure).

:func:`spec_from_hostvars` reads the ``vxlab_*`` variables of the pnodes (as Ansible sees them)
and validates all of them before anything touches a system: every bad value is one
:class:`PlanError` naming the variable, the value and, when it is per pnode, the pnode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from dataclasses import dataclass, field

from ansible_collections.vxlab.emulation.plugins.module_utils._plan.checks import (  # noqa: F401
    HAS_NETADDR,
    HOSTNAME_RE as _HOSTNAME_RE,
    PlanError,
    _choice,
    _hint,
    _ifname,
    _int,
    _ipv4,
    _ipv4_network,
    _show,
    expand_names,
    netaddr,
)

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming, units
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import matrix as _matrix
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import topology as _topology
from ansible_collections.vxlab.emulation.plugins.module_utils._base.naming import (
    IFNAMSIZ,
    MAX_VNODES_PER_BRIDGE as MAX_VNODES_PER_PNODE,  # a pnode's vnodes share one bridge
    VXLAN_OVERHEAD,
)
from ansible_collections.vxlab.emulation.plugins.module_utils._base.units import (
    SHAPING_KEYS,
    UnitError,
    normalise as normalise_shaping,
)

VXLAN_MODES = ("unicast", "multicast")
VNODE_KINDS = ("netns", "lxc")
CONTROL_ACCESS = ("proxyjump", "route")
ARP_MODES = ("dynamic", "static", "suppress")
#: ``<state_dir>/<platform>/client``: the vnodes' SSH client files (ssh_config and the platform's
#: key), at the same path on every pnode and bind-mounted read-only into LXC vnodes
CLIENT_SUBDIR = "client"
CLIENT_KEY = "id_platform"
CLIENT_SSH_CONFIG = "ssh_config"
CLIENT_KNOWN_HOSTS = "known_hosts"
#: siblings of the pnodes' state directories under ``<state_dir>/<platform>``: not pnode names
RESERVED_PNODE_NAMES = (CLIENT_SUBDIR, "control")

# Platform-wide variables: name -> default. Per-pnode variables are listed apart. Every vxlab_*
# variable the project reads is declared here, so unknown ones can be refused with a hint.
PLATFORM_DEFAULTS = {
    "vxlab_platform": "vxlab",
    "vxlab_vnodes_per_pnode": 10,
    "vxlab_vnode_network": "10.144.0.0/16",
    "vxlab_vni": 4242,
    "vxlab_underlay_interface": "ib0",
    "vxlab_underlay_network": None,
    "vxlab_vxlan_mode": "unicast",
    "vxlab_vxlan_group": "239.1.1.1",
    "vxlab_vxlan_port": 4789,
    "vxlab_vnode_kind": "lxc",
    "vxlab_mtu": 1450,
    "vxlab_pnode_stride": None,
    "vxlab_gateway_pnode": None,
    "vxlab_gc_thresh1": None,
    "vxlab_gc_thresh2": None,
    "vxlab_gc_thresh3": None,
    "vxlab_base_reachable_time_ms": 600000,
    "vxlab_gc_stale_time": 3600,
    "vxlab_netdev_max_backlog": None,
    "vxlab_state_dir": "/var/lib/vxlab",
    "vxlab_control_access": "proxyjump",
    "vxlab_ssh_key": "~/.ssh/vxlab_{platform}_ed25519",
    # None: vxlab_<platform>_host_ed25519 beside vxlab_ssh_key
    "vxlab_ssh_host_key": None,
    "vxlab_arp_mode": "dynamic",
    "vxlab_link_defaults": None,
    "vxlab_links": None,
    "vxlab_lxc_image": None,
    "vxlab_vnode_cpu": None,
    "vxlab_vnode_cpuset": None,
    "vxlab_vnode_memory": None,
    # emulated topologies (_plan/topology.py): data networks, vnode groups, routes
    "vxlab_networks": None,
    "vxlab_vnode_groups": None,
    "vxlab_routes": "auto",
    # shaping between groups (_plan/matrix.py)
    "vxlab_link_matrix": None,
}
PNODE_VARS = (
    "vxlab_underlay_address",
    "vxlab_vnodes",
    "vxlab_pnode_index",
    "vxlab_underlay_interface",
)
# Variables other parts of the project read or set on hosts (testbed, roles, facts the plan
# action sets, artifacts); accepted here, not planned. Internal registered results use "_vxlab_".
OTHER_VARS = (
    "vxlab_testbed",
    "vxlab_testbed_dir",
    "vxlab_pnode_group",
    "vxlab_pnode_venv",
    "vxlab_pnode_pip_packages",
    "vxlab_pnode_system_packages",
    "vxlab_pnode_apt_source",
    "vxlab_pnode_pip_find_links",
    "vxlab_pnode_pip_index",
    "vxlab_state",
    "vxlab_authorized_keys",
    "vxlab_pnode",
    "vxlab_preflight",
    "vxlab_platform_summary",
    "vxlab_mac",
    "vxlab_address",
    "vxlab_fault_events",
)
KNOWN_VARS = frozenset(PLATFORM_DEFAULTS) | frozenset(PNODE_VARS) | frozenset(OTHER_VARS)


# --------------------------------------------------------------------------------------------
# the model


@dataclass(frozen=True)
class PnodeSpec:
    name: str
    index: int
    vtep: object  # str or None
    vnodes: int
    underlay_interface: str
    #: position of its underlay subnet in vxlab_underlay_network (a list of sites), else 0
    site: int = 0


@dataclass(frozen=True)
class PlatformSpec:
    platform: str
    vnode_network: str
    vni: int
    vxlan_mode: str
    vxlan_group: str
    vxlan_port: int
    vnode_kind: str
    mtu: int
    stride: int
    gateway_pnode: str
    gc_thresh: tuple  # (thresh1, thresh2, thresh3)
    base_reachable_time_ms: int
    gc_stale_time: int
    state_dir: str
    control_access: str
    ssh_key: str
    pnodes: tuple = field(default_factory=tuple)
    arp_mode: str = "dynamic"
    #: normalised vxlab_link_defaults, and vxlab_links as ((kind, frozenset(names)), settings) rules
    link_defaults: tuple = ()
    link_rules: tuple = ()
    lxc_image: object = None  # None (build the base image) or an absolute rootfs dir / tarball path
    vnode_cpu: object = None  # fraction of one core, or None
    vnode_cpuset: object = None
    vnode_memory: object = None  # bytes, or None
    netdev_max_backlog: object = None  # vxlab_netdev_max_backlog, or None (sized per kernel)
    #: the vnodes' SSH host key kept by the controller (every vnode presents it)
    ssh_host_key: str = ""
    #: emulated topology (_plan/topology.Topology) or None: one flat network as always
    topology: object = None
    #: vxlab_link_matrix entries (matrix.MatrixEntry), symmetric ones expanded
    link_matrix: tuple = ()
    #: vxlab_underlay_network as a tuple of CIDRs (several: pnodes on routed sites)
    underlay_networks: tuple = ()

    @property
    def total_vnodes(self):
        return sum(p.vnodes for p in self.pnodes)


def default_gc_thresh(total_vnodes, pnodes=1):
    """Neighbour-table limits for a machine that may hold an entry for every vnode of the platform.

    thresh3 (hard limit) is twice the platform's vnode count plus one underlay entry per ordered
    pair of pnodes, rounded up to a power of two, never below the kernel default 1024; thresh2
    (soft limit) is half of it and thresh1 (no GC below) an eighth, the kernel's own 1:4:8 ratio.
    The pairs matter where one kernel holds every pnode (the one-machine testbed: its neighbour
    table is shared by all namespaces, 50 pnodes alone fill 2,450 entries); on real pnodes they
    only raise a limit, which costs no memory until entries exist.
    """
    need = max(1024, 2 * total_vnodes + pnodes * (pnodes - 1))
    thresh3 = 1 << (need - 1).bit_length()
    return (thresh3 // 8, thresh3 // 2, thresh3)


#: input-backlog packets per vnode port: measured on the one-machine testbed (1,024 vnodes on one
#: kernel), 8 per port kept a burst of simultaneous ARP requests from being dropped
BACKLOG_PER_VNODE = 8
KERNEL_BACKLOG = 1000


def default_netdev_max_backlog(vnodes_on_kernel):
    """``net.core.netdev_max_backlog`` for a kernel whose bridge holds that many vnode ports.

    A bridge copies every broadcast to each of its ports and every copy waits in a CPU's input
    backlog; the kernel default (1,000) drops a burst of ARP requests past about that many ports.
    """
    return max(KERNEL_BACKLOG, BACKLOG_PER_VNODE * vnodes_on_kernel)


def spec_from_hostvars(pnode_names, hostvars_of, extra_vars=None):
    """Validate the platform described by the pnodes' variables; return a :class:`PlatformSpec`.

    ``pnode_names``: the ``pnodes`` group in inventory order. ``hostvars_of(name)``: a mapping of
    that pnode's variables. Platform variables must agree across pnodes (they normally come from
    group_vars); ``extra_vars`` (``-e``) win over them.
    """
    if not HAS_NETADDR:
        raise PlanError("netaddr", None, "the Python library netaddr is required on the controller")
    names = list(pnode_names or [])
    if not names:
        raise PlanError("pnodes", names, "the inventory group 'pnodes' is empty or missing")
    seen = set()
    for n in names:
        if not isinstance(n, str) or not _HOSTNAME_RE.match(n):
            raise PlanError("inventory_hostname", n,
                            "pnode names must be 1-63 characters among A-Z a-z 0-9 . _ - "
                            "starting with a letter or digit")
        if n in seen:
            raise PlanError("inventory_hostname", n, "duplicate pnode")
        if n in RESERVED_PNODE_NAMES:
            raise PlanError("inventory_hostname", n, "is reserved: <vxlab_state_dir>/<platform>/%s "
                            "holds the platform's own files, not a pnode's" % n)
        seen.add(n)
    hvs = {n: dict(hostvars_of(n)) for n in names}
    extra = dict(extra_vars or {})

    for n in names:
        for key in sorted(list(hvs[n]) + list(extra)):
            if key.startswith("vxlab_") and key not in KNOWN_VARS:
                raise PlanError(key, hvs[n].get(key, extra.get(key)),
                                "unknown vxlab variable" + _hint(key, KNOWN_VARS), n)

    def platform_var(key):
        if key in extra:
            return extra[key]
        values = {}
        for n in names:
            values.setdefault(_show(hvs[n].get(key, PLATFORM_DEFAULTS[key])), []).append(n)
        if len(values) > 1:
            shown = "; ".join("%s on %s" % (v, ",".join(h[:3]) + ("..." if len(h) > 3 else ""))
                              for v, h in sorted(values.items()))
            raise PlanError(key, None, "platform variable differs between pnodes (%s); set it once "
                            "for the group" % shown)
        return hvs[names[0]].get(key, PLATFORM_DEFAULTS[key])

    if not naming.is_platform(platform_var("vxlab_platform")):
        raise PlanError("vxlab_platform", platform_var("vxlab_platform"), naming.PLATFORM_RULE)
    platform = platform_var("vxlab_platform")
    per_pnode = _int("vxlab_vnodes_per_pnode", platform_var("vxlab_vnodes_per_pnode"),
                     0, MAX_VNODES_PER_PNODE)
    net = _ipv4_network("vxlab_vnode_network", platform_var("vxlab_vnode_network"))
    vni = _int("vxlab_vni", platform_var("vxlab_vni"), 1, 16777215)
    # per pnode by design (README): only an -e value is platform-wide
    default_if = _ifname("vxlab_underlay_interface",
                         extra.get("vxlab_underlay_interface", PLATFORM_DEFAULTS["vxlab_underlay_interface"]))
    mode = _choice("vxlab_vxlan_mode", platform_var("vxlab_vxlan_mode"), VXLAN_MODES)
    group = _ipv4("vxlab_vxlan_group", platform_var("vxlab_vxlan_group"))
    if mode == "multicast" and not netaddr.IPAddress(group).is_multicast():
        raise PlanError("vxlab_vxlan_group", group, "must be an IPv4 multicast address (224.0.0.0/4)")
    port = _int("vxlab_vxlan_port", platform_var("vxlab_vxlan_port"), 1, 65535)
    kind = _choice("vxlab_vnode_kind", platform_var("vxlab_vnode_kind"), VNODE_KINDS)
    mtu = _int("vxlab_mtu", platform_var("vxlab_mtu"), 576, 9000 - VXLAN_OVERHEAD)
    underlay_nets = _underlay_networks(platform_var("vxlab_underlay_network"), net, mode)
    brt = _int("vxlab_base_reachable_time_ms", platform_var("vxlab_base_reachable_time_ms"),
               1000, 2 ** 31 - 1)
    stale = _int("vxlab_gc_stale_time", platform_var("vxlab_gc_stale_time"), 1, 2 ** 31 - 1)
    access = _choice("vxlab_control_access", platform_var("vxlab_control_access"), CONTROL_ACCESS)
    ssh_key = platform_var("vxlab_ssh_key")
    if not isinstance(ssh_key, str) or not re.match(r"^[A-Za-z0-9_./~{}-]+$", ssh_key):
        raise PlanError("vxlab_ssh_key", ssh_key, "must be a path of A-Z a-z 0-9 _ . / ~ -")
    ssh_key = ssh_key.replace("{platform}", platform)
    host_key = platform_var("vxlab_ssh_host_key")
    if host_key is None:
        host_key = "%s/vxlab_%s_host_ed25519" % (ssh_key.rpartition("/")[0] or ".", platform)
    if not isinstance(host_key, str) or not re.match(r"^[A-Za-z0-9_./~{}-]+$", host_key):
        raise PlanError("vxlab_ssh_host_key", host_key, "must be a path of A-Z a-z 0-9 _ . / ~ -")
    host_key = host_key.replace("{platform}", platform)
    if host_key == ssh_key:
        raise PlanError("vxlab_ssh_host_key", host_key, "must differ from vxlab_ssh_key")
    state_dir = platform_var("vxlab_state_dir")
    if not naming.is_safe_path(state_dir):
        raise PlanError("vxlab_state_dir", state_dir, naming.PATH_RULE)
    for n in names:  # pnode_prepare's package source: may differ between pnodes (sites)
        check_package_source(n, hvs[n])

    pnodes = []
    indexes = {}
    vteps = {}
    for pos, n in enumerate(names):
        hv = hvs[n]
        count = _int("vxlab_vnodes", hv["vxlab_vnodes"], 0, MAX_VNODES_PER_PNODE, n) \
            if hv.get("vxlab_vnodes") is not None else per_pnode
        idx = _int("vxlab_pnode_index", hv["vxlab_pnode_index"], 0, 65535, n) \
            if hv.get("vxlab_pnode_index") is not None else pos
        if idx in indexes:
            raise PlanError("vxlab_pnode_index", idx, "already used by pnode %s" % indexes[idx], n)
        indexes[idx] = n
        ifname = _ifname("vxlab_underlay_interface",
                         extra.get("vxlab_underlay_interface", hv.get("vxlab_underlay_interface", default_if)), n)
        vtep = hv.get("vxlab_underlay_address")
        if vtep is not None:
            vtep = _ipv4("vxlab_underlay_address", vtep, n)
        else:
            ah = hv.get("ansible_host")
            if isinstance(ah, str):
                try:
                    vtep = _ipv4("ansible_host", ah, n)
                except PlanError:
                    vtep = None
        if vtep is None and mode == "unicast":
            raise PlanError("vxlab_underlay_address", None,
                            "is required in unicast mode when ansible_host is not an IPv4 address", n)
        if vtep is not None:
            if vtep in vteps:
                raise PlanError("vxlab_underlay_address", vtep,
                                "already the underlay address of pnode %s" % vteps[vtep], n)
            vteps[vtep] = n
            if netaddr.IPAddress(vtep) in net:
                raise PlanError("vxlab_underlay_address", vtep,
                                "lies inside vxlab_vnode_network %s (overlay and underlay must not "
                                "overlap)" % net.cidr, n)
        site = 0
        if vtep is not None and underlay_nets:
            sites = [i for i, u in enumerate(underlay_nets) if netaddr.IPAddress(vtep) in u]
            if not sites:
                raise PlanError("vxlab_underlay_address", vtep, "is outside vxlab_underlay_network %s"
                                % ", ".join(str(u.cidr) for u in underlay_nets), n)
            site = sites[0]
        pnodes.append(PnodeSpec(name=n, index=idx, vtep=vtep, vnodes=count,
                                underlay_interface=ifname, site=site))
    pnodes.sort(key=lambda p: p.index)

    biggest = max(p.vnodes for p in pnodes)
    stride = platform_var("vxlab_pnode_stride")
    if stride is None:
        stride = biggest
    else:
        stride = _int("vxlab_pnode_stride", stride, 1, MAX_VNODES_PER_PNODE)
        if stride < biggest:
            big = [p.name for p in pnodes if p.vnodes > stride][0]
            raise PlanError("vxlab_pnode_stride", stride,
                            "is smaller than the %d vnodes of pnode %s" % (biggest, big))
    max_index = max(p.index for p in pnodes)
    needed = (max_index * stride + pnodes[-1].vnodes) if stride else 0
    # network address, gateway and broadcast are reserved
    if needed + 3 > net.size:
        raise PlanError("vxlab_vnode_network", str(net.cidr),
                        "holds %d vnode addresses but the platform needs %d (%d pnodes, stride %d); "
                        "use a larger network" % (max(net.size - 3, 0), needed, len(pnodes), stride))
    # the longest interface names: bridge/vxlan "<platform>-br" and host side "<platform>-<N>"
    longest = naming.vnode_name(platform, max(needed, 1))
    for name in (longest, platform + "-br", platform + "-vx"):
        if len(name) > IFNAMSIZ:
            raise PlanError("vxlab_platform", platform,
                            "is too long: interface name %r would exceed %d characters"
                            % (name, IFNAMSIZ))

    gw = platform_var("vxlab_gateway_pnode")
    if gw is None:
        gw = pnodes[0].name
    elif gw not in indexes.values():
        raise PlanError("vxlab_gateway_pnode", gw, "is not in the pnodes group" + _hint(str(gw), names))

    explicit = [platform_var("vxlab_gc_thresh%d" % i) for i in (1, 2, 3)]
    auto = default_gc_thresh(sum(p.vnodes for p in pnodes), len(pnodes))
    thresh = tuple(_int("vxlab_gc_thresh%d" % (i + 1), v, 0, 2 ** 31 - 1) if v is not None
                   else auto[i] for i, v in enumerate(explicit))
    if not thresh[0] <= thresh[1] <= thresh[2]:
        raise PlanError("vxlab_gc_thresh3", thresh[2],
                        "gc_thresh1 <= gc_thresh2 <= gc_thresh3 must hold (got %d, %d, %d)" % thresh)

    backlog = platform_var("vxlab_netdev_max_backlog")
    if backlog is not None:
        backlog = _int("vxlab_netdev_max_backlog", backlog, 1, 2 ** 31 - 1)

    arp_mode = _choice("vxlab_arp_mode", platform_var("vxlab_arp_mode"), ARP_MODES)
    link_defaults, link_rules = _links(platform, stride, pnodes, platform_var("vxlab_link_defaults"),
                                       platform_var("vxlab_links"))

    topo = _topology.validate(
        platform_var("vxlab_networks"), platform_var("vxlab_vnode_groups"), platform_var("vxlab_routes"),
        {"platform": platform, "stride": stride, "pnodes": pnodes, "vnode_network": net,
         "underlay_networks": underlay_nets, "vni": vni, "mtu": mtu, "arp_mode": arp_mode,
         "pnode_by_index": {p.index: p for p in pnodes}, "kind": kind})

    return PlatformSpec(
        topology=topo, link_matrix=_matrix.validate(platform_var("vxlab_link_matrix"), topo),
        underlay_networks=tuple(str(u.cidr) for u in underlay_nets),
        platform=platform, vnode_network=str(net.cidr), vni=vni, vxlan_mode=mode,
        vxlan_group=group, vxlan_port=port, vnode_kind=kind, mtu=mtu, stride=stride,
        gateway_pnode=gw, gc_thresh=thresh, base_reachable_time_ms=brt, gc_stale_time=stale,
        state_dir=state_dir.rstrip("/") or "/", control_access=access, ssh_key=ssh_key,
        ssh_host_key=host_key,
        pnodes=tuple(pnodes), arp_mode=arp_mode, link_defaults=tuple(sorted(link_defaults.items())),
        link_rules=link_rules, netdev_max_backlog=backlog, **_lxc_vars(platform_var, kind))


def _underlay_networks(value, vnode_net, mode):
    """vxlab_underlay_network: one CIDR, or a list of them (pnodes on several routed sites)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PlanError("vxlab_underlay_network", value, "an empty list: give one CIDR per site, or null")
    out = []
    for item in items:
        u = _ipv4_network("vxlab_underlay_network", item, max_prefix=32)
        if u.first <= vnode_net.last and vnode_net.first <= u.last:
            raise PlanError("vxlab_vnode_network", str(vnode_net.cidr), "overlaps vxlab_underlay_network %s"
                            % u.cidr)
        for other in out:
            if u.first <= other.last and other.first <= u.last:
                raise PlanError("vxlab_underlay_network", value, "sites %s and %s overlap" % (other.cidr, u.cidr))
        out.append(u)
    if len(out) > 1 and mode == "multicast":
        raise PlanError("vxlab_vxlan_mode", mode, "multicast VXLAN cannot span the %d routed underlay subnets "
                        "of vxlab_underlay_network (a multicast group floods one L2 segment; routing it "
                        "needs multicast routing on the sites' routers): use unicast" % len(out))
    return out


def _lxc_vars(platform_var, kind):
    """The LXC image and per-vnode resource variables, validated (limits need kind lxc)."""
    image = platform_var("vxlab_lxc_image")
    if image is not None and not naming.is_safe_path(image):
        raise PlanError("vxlab_lxc_image", image, "must be an absolute path (a root filesystem "
                        "directory or a .tar/.tar.gz/.tar.xz tarball) of A-Z a-z 0-9 _ . + - /, or null "
                        "to build the base image")
    limits = {}
    for var, parse in (("vxlab_vnode_cpu", units.parse_cpu), ("vxlab_vnode_cpuset", units.parse_cpuset),
                       ("vxlab_vnode_memory", units.parse_size)):
        try:
            limits[var] = parse(var, platform_var(var))
        except ValueError as exc:
            raise PlanError(var, platform_var(var), str(exc).split(": ", 1)[-1])
    cpu, cpuset, memory = limits["vxlab_vnode_cpu"], limits["vxlab_vnode_cpuset"], limits["vxlab_vnode_memory"]
    if kind != "lxc":
        for name, value in (("vxlab_vnode_cpu", cpu), ("vxlab_vnode_cpuset", cpuset),
                            ("vxlab_vnode_memory", memory)):
            if value is not None:
                raise PlanError(name, value, "CPU and memory limits need vxlab_vnode_kind: lxc "
                                "(netns vnodes have no processes of their own to limit)")
    return {"lxc_image": image, "vnode_cpu": cpu, "vnode_cpuset": cpuset, "vnode_memory": memory}


def _links(platform, stride, pnodes, defaults, rules):
    """Validate vxlab_link_defaults / vxlab_links; ``(defaults dict, rules tuple)`` normalised."""
    try:
        norm_defaults = normalise_shaping("vxlab_link_defaults", defaults)
    except UnitError as exc:
        raise PlanError(exc.what, exc.value, exc.reason)
    if rules is None:
        return norm_defaults, ()
    if not isinstance(rules, list):
        raise PlanError("vxlab_links", rules, "must be a list of {vnodes: ..., rate: ..., ...} or "
                        "{pnodes: ..., ...}")
    pnode_names = set(p.name for p in pnodes)
    vnode_of = {}
    for p in pnodes:
        for i in range(p.vnodes):
            vnode_of["%s-%d" % (platform, p.index * stride + i + 1)] = p.name
    out = []
    for pos, rule in enumerate(rules):
        var = "vxlab_links[%d]" % pos
        if not isinstance(rule, dict):
            raise PlanError(var, rule, "must be a dict with vnodes or pnodes and settings among %s"
                            % ", ".join(SHAPING_KEYS))
        kinds = [k for k in ("vnodes", "pnodes") if k in rule]
        if len(kinds) != 1:
            raise PlanError(var, rule, "needs exactly one of vnodes, pnodes")
        kind = kinds[0]
        names = expand_names("%s.%s" % (var, kind), rule[kind])
        known = vnode_of if kind == "vnodes" else pnode_names
        bad = [n for n in names if n not in known]
        if bad:
            raise PlanError("%s.%s" % (var, kind), rule[kind], "%s is not a %s of the platform%s"
                            % (bad[0], kind[:-1], _hint(bad[0], known) if len(known) < 5000 else ""))
        settings = dict((k, v) for k, v in rule.items() if k != kind)
        if not settings:
            raise PlanError(var, rule, "sets nothing: give settings among %s" % ", ".join(SHAPING_KEYS))
        try:
            # null (or zero) values are kept as None: they remove what a less specific rule gave
            norm = normalise_shaping(var, settings, keep_null=True, complete=False)
        except UnitError as exc:
            raise PlanError(exc.what, exc.value, exc.reason)
        out.append((kind, frozenset(names), tuple(sorted(norm.items()))))
    return norm_defaults, tuple(out)


_APT_SOURCE_RE = re.compile(r"^deb (\[[^\]\n]*\] )?[a-z0-9+]+:[^\s]+( [^\s]+)+$")
_PIP_LOCATION_RE = re.compile(r"^(/|(https?|file)://)[^\s]*$")


def check_package_source(host, hv):
    """pnode_prepare's package source on ``host`` (its variables, validated before anything
    changes): one apt source line, a wheel location (path or URL), an index URL."""
    apt = hv.get("vxlab_pnode_apt_source", "")
    if apt and (not isinstance(apt, str) or not _APT_SOURCE_RE.match(apt)):
        raise PlanError("vxlab_pnode_apt_source", apt, "must be one apt source line such as "
                        "'deb [trusted=yes] file:/srv/source/debs ./'", host)
    for key, what in (("vxlab_pnode_pip_find_links", "an absolute path or an http(s)/file URL"),
                      ("vxlab_pnode_pip_index", "an http(s)/file URL")):
        value = hv.get(key, "")
        if not value:
            continue
        if not isinstance(value, str) or not _PIP_LOCATION_RE.match(value) or (
                key == "vxlab_pnode_pip_index" and value.startswith("/")):
            raise PlanError(key, value, "must be %s without spaces" % what, host)
