# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side inventory code shared by the ``vnodes`` inventory plugin and the ``vxlab`` CLI.

Private: not a public API of the collection. The address plan itself lives in
``plugins/module_utils/_plan.py``; this file only

* loads the pnode inventory the way playbooks see it (:func:`load_pnodes`),
* turns a :class:`Plan` into the vnode inventory (groups and host variables) that both the
  generated ``vnodes.yml`` and the inventory plugin publish (:func:`vnode_inventory`),
* writes the ``ssh_config`` every vnode connection goes through (:func:`ssh_config_text`),
* and the vnodes' own client ``ssh_config`` that every pnode holds (:func:`client_ssh_config_text`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import re
import shlex

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import (  # noqa: F401
    CLIENT_KEY,
    CLIENT_KNOWN_HOSTS,
    PlanError,
    build_plan,
    network_globs,
    spec_from_hostvars,
)

#: beside a rendered ssh_config: the vnodes' host key (written by vxlab) and the pnodes' (learnt)
KNOWN_HOSTS = "known_hosts"
KNOWN_HOSTS_PNODES = "known_hosts.pnodes"
PNODE_GROUP = "pnodes"
VNODE_GROUP = "vnodes"
#: pnode variables read besides vxlab_*: the plan reads ansible_host, ssh_config the rest
CONNECTION_VARS = (
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "ansible_ssh_private_key_file",
    "ansible_private_key_file",
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
)
RESERVED_GROUPS = ("all", "ungrouped", PNODE_GROUP, VNODE_GROUP)
VNODE_USER = "root"
VNODE_PYTHON = "/usr/bin/python3"
STATE_SUBDIR = ".vxlab"

_SAFE_SSH_VALUE = re.compile(r"^[^\s\"'#\x00-\x1f]+$")


def plain(value):
    """Ansible's tagged/lazy containers and scalars as plain Python data (JSON-able)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return value


def check_sources(sources):
    """Every inventory source must exist (a comma-separated host list is accepted as is)."""
    sources = [sources] if isinstance(sources, str) else list(sources or [])
    if not sources:
        raise PlanError("inventory", sources, "no inventory given (use -i PATH)")
    out = []
    for src in sources:
        if not isinstance(src, str) or not src:
            raise PlanError("inventory", src, "must be a path")
        if "," in src and not os.path.exists(src):
            out.append(src)
            continue
        path = os.path.abspath(os.path.expanduser(src))
        if not os.path.exists(path):
            raise PlanError("inventory", src, "does not exist")
        out.append(path)
    return out


def load_pnodes(sources, loader=None, extra_vars=None):
    """The ``pnodes`` group of an Ansible inventory, in inventory order, and its variables.

    Variables are those a playbook sees (inventory, group_vars, host_vars, extra vars), templated,
    restricted to ``vxlab_*`` and :data:`CONNECTION_VARS`, and converted to plain Python data.
    Returns ``(names, {name: vars})``.
    """
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    sources = check_sources(sources)
    group = pnode_group_name(extra_vars)
    loader = loader or DataLoader()
    inventory = InventoryManager(loader=loader, sources=sources)
    if group not in inventory.groups:
        raise PlanError("vxlab_pnode_group", group,
                        "the inventory %s has no group '%s'" % (",".join(sources), group))
    names = [plain(h.name) for h in inventory.groups[group].get_hosts()]
    manager = VariableManager(loader=loader, inventory=inventory)
    # -e values win over everything, exactly as for ansible-playbook (no public setter exists)
    manager._extra_vars = dict(extra_vars or {})
    hostvars = {}
    for name in names:
        allvars = manager.get_vars(host=inventory.get_host(name), include_hostvars=False)
        templar = Templar(loader=loader, variables=allvars)
        wanted = {}
        for key in allvars:
            if key.startswith("vxlab_") or key in CONNECTION_VARS:
                try:
                    wanted[key] = plain(templar.template(allvars[key]))
                except AnsibleError as exc:
                    raise PlanError(key, plain(allvars[key]),
                                    "cannot be templated: %s" % str(exc).splitlines()[0], name)
        hostvars[name] = wanted
    return names, hostvars


def pnode_group_name(extra_vars=None):
    """The inventory group of the pnodes: ``pnodes``, or ``-e vxlab_pnode_group=NAME`` (as the
    playbooks do)."""
    group = (extra_vars or {}).get("vxlab_pnode_group", PNODE_GROUP)
    if not isinstance(group, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", group):
        raise PlanError("vxlab_pnode_group", group, "must be an inventory group name")
    return group


def plan_from_sources(sources, loader=None, extra_vars=None):
    """``(plan, names, hostvars)`` of the platform an inventory describes."""
    names, hostvars = load_pnodes(sources, loader=loader, extra_vars=extra_vars)
    plan = build_plan(spec_from_hostvars(names, hostvars.__getitem__, plain(extra_vars or {})))
    check_platform_name(plan)
    return plan, names, hostvars


def check_platform_name(plan):
    name = plan.spec.platform
    if name in RESERVED_GROUPS:
        raise PlanError("vxlab_platform", name, "is reserved as an inventory group name")
    check_pnode_names(plan)


def state_dir(sources, platform):
    """Where controller-side files of a platform live: ``<inventory dir>/.vxlab/<platform>``."""
    first = check_sources(sources)[0]
    if "," in first and not os.path.exists(first):
        base = os.getcwd()
    elif os.path.isdir(first):
        base = first
    else:
        base = os.path.dirname(first)
    return os.path.join(base, STATE_SUBDIR, platform)


def sanitize(name):
    """A name as an Ansible group name (letters, digits, underscore)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def pnode_group(platform, pnode):
    return "%s_on_%s" % (platform, sanitize(pnode))


def vnode_common_vars(plan, ssh_config):
    return {
        "ansible_user": VNODE_USER,
        "ansible_ssh_private_key_file": plan.spec.ssh_key,
        "ansible_python_interpreter": VNODE_PYTHON,
        "ansible_ssh_common_args": "-F %s" % shlex.quote(ssh_config),
    }


def topology_groups(plan):
    """``[(label, global vnode indexes)]``: each vnode group by its name, then each data network
    as ``net_<network>`` (its members); [] without a topology."""
    if plan.topology is None:
        return []
    out = [(g.name, list(g.members)) for g in plan.spec.topology.groups]
    out.extend(("net_" + n.name, plan.topology.members(n.name)) for n in plan.spec.topology.networks)
    return out


def vnode_inventory(plan, ssh_config):
    """The vnode inventory as a YAML-inventory mapping (the content of ``vnodes.yml``).

    Groups: ``vnodes`` > ``<platform>`` > ``<platform>_on_<pnode>``. Host variables: address,
    pnode and MAC; the connection settings every vnode shares (user, key, interpreter,
    ``-F ssh_config``) are variables of the ``<platform>`` group: the same host variables in
    the end, and an inventory of 20,000 vnodes loads several times faster than with them
    repeated on every host.
    """
    check_platform_name(plan)
    platform = plan.spec.platform
    children = {}
    for p in plan.pnodes:
        hosts = {}
        for v in plan.vnodes_of(p.name):
            hosts[v["name"]] = {"ansible_host": v["address"], "vxlab_pnode": v["pnode"],
                                "vxlab_mac": v["mac"]}
        group = pnode_group(platform, p.name)
        if group in children:
            raise PlanError("inventory_hostname", p.name,
                            "pnode group name %s is also the group of another pnode" % group)
        children[group] = {"hosts": hosts} if hosts else {}
    layout = plan.topology
    if layout is not None:
        # emulated topology: each vnode on data networks has their addresses as vxlab_networks
        # ({network: address}); a group <platform>_<group> per vnode group and
        # <platform>_net_<network> per data network
        networks = {}
        for g, nets in layout.member_of.items():
            networks[g] = {n: naming.ipv4_text(layout.address[(g, n)]) for n in nets}
        for group_hosts in list(children.values()):
            for name, hv in (group_hosts.get("hosts") or {}).items():
                g = int(name.rsplit("-", 1)[1]) - 1
                if g in networks:
                    hv["vxlab_networks"] = networks[g]
        for label, members in topology_groups(plan):
            group = "%s_%s" % (platform, sanitize(label))
            if group in children:
                raise PlanError("vxlab_vnode_groups", label, "its inventory group %s is also the group of "
                                "a pnode's vnodes" % group)
            children[group] = {"hosts": {naming.vnode_name(platform, g + 1): {} for g in members}}
    body = {"vars": vnode_common_vars(plan, ssh_config), "children": children}
    return {"all": {"children": {VNODE_GROUP: {"children": {platform: body}}}}}


def iter_inventory(tree, parent=None):
    """Walk a YAML-inventory mapping: yields ``("group", name, parent, vars)`` and
    ``("host", name, group, vars)`` in file order."""
    for name, body in tree.items():
        body = body or {}
        yield "group", name, parent, dict(body.get("vars") or {})
        for host, hv in (body.get("hosts") or {}).items():
            yield "host", host, name, dict(hv or {})
        yield from iter_inventory(body.get("children") or {}, name)


# --------------------------------------------------------------------------------------------
# ssh_config


def _ssh_value(option, value):
    value = str(value)
    if "\n" in value or "\x00" in value:
        raise PlanError(option, value, "must not contain newlines")
    if _SAFE_SSH_VALUE.match(value):
        return value
    if '"' in value:
        raise PlanError(option, value, "must not contain double quotes")
    return '"%s"' % value


def pnode_ssh_options(hostvars):
    """ssh_config options of a pnode from its inventory connection variables."""
    opts = []
    if hostvars.get("ansible_host"):
        opts.append(("HostName", hostvars["ansible_host"]))
    if hostvars.get("ansible_port"):
        opts.append(("Port", hostvars["ansible_port"]))
    if hostvars.get("ansible_user"):
        opts.append(("User", hostvars["ansible_user"]))
    key = hostvars.get("ansible_ssh_private_key_file") or hostvars.get("ansible_private_key_file")
    if key:
        opts.append(("IdentityFile", key))
    for var in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        args = hostvars.get(var)
        if not isinstance(args, str) or not args.strip():
            continue
        try:
            words = shlex.split(args)
        except ValueError as exc:
            raise PlanError(var, args, "cannot be split: %s" % exc)
        i = 0
        while i < len(words):
            word = words[i]
            if word == "-o" and i + 1 < len(words):
                opt = words[i + 1]
                i += 2
            elif word.startswith("-o") and len(word) > 2:
                opt = word[2:]
                i += 1
            elif word == "-J" and i + 1 < len(words):
                opt = "ProxyJump=" + words[i + 1]
                i += 2
            else:
                i += 1
                continue
            key_, sep, val = opt.partition("=")
            if not sep:
                key_, dummy, val = opt.partition(" ")
            if key_ and val:
                opts.append((key_.strip(), val.strip()))
    return opts


def check_pnode_names(plan):
    """A pnode named like a vnode (``<platform>-<N>``) would be two hosts in one inventory."""
    pattern = re.compile(r"^%s-[0-9]+$" % re.escape(plan.spec.platform))
    for p in plan.pnodes:
        if pattern.match(p.name):
            raise PlanError("inventory_hostname", p.name,
                            "pnode names of the form <platform>-<number> are vnode names")


def ssh_config_text(plan, out_dir, pnode_hostvars=None):
    """The ``ssh_config`` of a platform: a ``Host`` entry per pnode and per vnode.

    Each vnode entry matches the vnode's name and its address (Ansible connects to
    ``ansible_host``, the address); the options all vnodes share follow once, in a block that
    matches every vnode name and address and excludes the pnodes. ``control_access: proxyjump``
    reaches vnodes through the gateway pnode; ``route`` connects to them directly (the
    controller routes the vnode network). Same input, same bytes.
    """
    pnode_hostvars = pnode_hostvars or {}
    s = plan.spec
    check_pnode_names(plan)
    out_dir = os.path.abspath(out_dir)
    key = _ssh_value("vxlab_ssh_key", s.ssh_key)
    common = [
        ("LogLevel", "ERROR"),
        ("BatchMode", "yes"),
        ("ConnectTimeout", "10"),
    ]
    # pnodes: their own host keys, learnt on first contact; vnodes: the platform's one host key,
    # in known_hosts beside this file (see known_hosts_text), checked strictly
    pnode_known = [("UserKnownHostsFile", _ssh_value(
        "UserKnownHostsFile", os.path.join(out_dir, KNOWN_HOSTS_PNODES))),
        ("StrictHostKeyChecking", "accept-new")]
    vnode_known = [("UserKnownHostsFile", _ssh_value(
        "UserKnownHostsFile", os.path.join(out_dir, KNOWN_HOSTS))),
        ("StrictHostKeyChecking", "yes")]
    lines = [
        "# vxlab platform %s: %d pnodes, %d vnodes, control access %s."
        % (s.platform, len(plan.pnodes), s.total_vnodes, s.control_access),
        "# Generated from the inventory by vxlab; edits are overwritten. Use: ssh -F THIS_FILE NAME",
        "",
    ]
    positive = ["%s-*" % s.platform] + network_globs(s.vnode_network)
    excluded = []
    for p in plan.pnodes:
        hv = pnode_hostvars.get(p.name, {})
        lines.append("Host %s" % _ssh_value("inventory_hostname", p.name))
        seen = set()
        for opt, val in pnode_ssh_options(hv) + pnode_known + common:
            if opt.lower() in seen:
                continue  # ssh keeps the first value; say each option once
            seen.add(opt.lower())
            lines.append("    %s %s" % (opt, _ssh_value(opt, val)))
        lines.append("")
        for name in (p.name, hv.get("ansible_host")):
            if isinstance(name, str) and name not in excluded and \
                    any(fnmatch.fnmatchcase(name, pat) for pat in positive):
                excluded.append(name)
    chunks = ["\n".join(lines) + "\n"]
    chunks.extend(_vnode_entries(plan))
    via = []
    if s.control_access == "proxyjump":
        via = [("ProxyJump", _ssh_value("vxlab_gateway_pnode", s.gateway_pnode))]
    vnode_opts = [("User", VNODE_USER), ("IdentityFile", key)] + vnode_known + common + via
    chunks.append("# Every vnode of %s, by name or address (the pnodes excluded)\n" % s.platform)
    chunks.append("Host %s\n" % " ".join(positive + ["!" + _ssh_value("host", n) for n in excluded]))
    chunks.append("".join("    %s %s\n" % kv for kv in vnode_opts))
    return "".join(chunks)


def known_hosts_text(plan, host_public_key):
    """The vnodes' ``known_hosts``: one line, every vnode address, the platform's host key.

    ``host_public_key``: the ``TYPE BASE64`` line of the key every vnode presents (the
    controller's ``vxlab_ssh_host_key``), or None while it does not exist yet (a comment then
    says so: ``vxlab render`` and ``vxlab deploy`` make it)."""
    head = ("# vxlab platform %s: the host key every vnode presents (vxlab_ssh_host_key %s);\n"
            "# generated by vxlab, edits are overwritten\n" % (plan.spec.platform, plan.spec.ssh_host_key))
    if not host_public_key:
        return head + "# (no host key yet: vxlab render or vxlab deploy makes it)\n"
    keytype, b64 = host_public_key.split()[:2]
    return head + "%s %s %s\n" % (plan.host_patterns, keytype, b64)


def _vnode_entries(plan):
    """One ``Host NAME ADDRESS`` / ``HostName ADDRESS`` entry per vnode (strings, plan order)."""
    for v in plan.iter_vnodes():
        yield "Host %s %s\n    HostName %s\n\n" % (v["name"], v["address"], v["address"])


def client_ssh_config_text(plan):
    """The vnodes' own ``ssh_config``: ``<client_dir>/ssh_config`` on every pnode.

    Written on every pnode beside the platform's private key (``<client_dir>/id_platform``) at the
    same absolute path (``<vxlab_state_dir>/<platform>/client``), bind-mounted read-only into LXC
    vnodes and seen as is by netns vnodes: ``ssh -F <client_dir>/ssh_config NAME`` works from
    every pnode and every vnode alike (TakTuk's connector, users' tools). A ``Host`` entry per
    vnode (name and address) and one block of options; no ``ProxyJump``: vnodes and the gateway
    pnode reach the vnode network directly.

    Host keys: every vnode presents the platform's one host key (kept by the controller,
    installed at each deploy), whose single line is ``<client_dir>/known_hosts`` beside this file:
    checking is strict (``StrictHostKeyChecking yes``) and survives a rebuilt platform. It logs in
    with the platform's key only (``IdentitiesOnly``), never a password (``BatchMode``).
    """
    s = plan.spec
    key = _ssh_value("vxlab_state_dir", "%s/%s" % (plan.client_dir, CLIENT_KEY))
    opts = [
        ("User", VNODE_USER),
        ("IdentityFile", key),
        ("IdentitiesOnly", "yes"),
        ("StrictHostKeyChecking", "yes"),
        ("UserKnownHostsFile", _ssh_value("vxlab_state_dir", "%s/%s" % (plan.client_dir, CLIENT_KNOWN_HOSTS))),
        ("LogLevel", "ERROR"),
        ("BatchMode", "yes"),
        ("ConnectTimeout", "10"),
    ]
    chunks = [
        "# vxlab platform %s: SSH client configuration of the vnodes (%d vnodes on %d pnodes).\n"
        % (s.platform, s.total_vnodes, len(plan.pnodes)),
        "# Generated by vxlab, the same on every pnode and vnode; edits are overwritten.\n"
        "# Use: ssh -F %s/ssh_config NAME\n\n" % plan.client_dir,
    ]
    chunks.extend(_vnode_entries(plan))
    chunks.append("# Every vnode of %s, by name or address\n" % s.platform)
    chunks.append("Host %s\n" % " ".join(["%s-*" % s.platform] + network_globs(s.vnode_network)))
    chunks.append("".join("    %s %s\n" % kv for kv in opts))
    return "".join(chunks)
