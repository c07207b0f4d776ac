"""Generated artifacts of a platform: inventories, ssh_config, ClusterShell/TakTuk files, playbooks.

``render(plan, out_dir)`` writes them all; the same plan gives byte-identical files (sorted, no
timestamps). Files are mode 0644; SSH keys are referenced by path, never copied (``known_hosts``
holds the public half of the vnodes' host key).
"""
import configparser
import json
import os
import shlex

import jinja2

import vxlab
import vxlab.inventory  # noqa: F401  (sets up Ansible's collection loader first)
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming  # noqa: E402
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_if_changed  # noqa: E402
from ansible_collections.vxlab.emulation.plugins.plugin_utils._inventory import (  # noqa: E402
    PNODE_GROUP,
    check_sources,
    pnode_group,
    pnode_group_name,
    known_hosts_text,
    sanitize,
    ssh_config_text,
    topology_groups,
    vnode_inventory,
)

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
FILE_MODE = 0o644
DIR_MODE = 0o755

#: every file render() writes, relative to out_dir, in the order it writes them
FILES = (
    "platform.json",
    "vnodes.yml",
    "ssh_config",
    "known_hosts",
    "hosts",
    "taktuk.machines",
    "clush_groups.yaml",
    "clustershell/groups.conf",
    "clustershell/clush.conf",
    "ansible.cfg",
    "deploy.yml",
    "destroy.yml",
    "README.txt",
)


def _env():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["to_json"] = lambda v: json.dumps(v, sort_keys=True)
    return env


def json_lines(obj, indent=0):
    """JSON (hence YAML) with one line per leaf mapping: one line per vnode in ``vnodes.yml``.

    Ansible reads an inventory file that is JSON with a JSON parser, several times faster than
    YAML (20,000 vnodes: ~8 s instead of ~22 s), so ``vnodes.yml`` is written as JSON.
    """
    if isinstance(obj, dict) and any(isinstance(v, dict) and v for v in obj.values()):
        pad = " " * (indent + 1)
        items = ["%s%s: %s" % (pad, json.dumps(k), json_lines(v, indent + 1))
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return json.dumps(obj, separators=(", ", ": "))


def fold(names):
    """A compact ClusterShell node set (``vxlab-[1-60]``) of ``names``."""
    names = list(names)
    if not names:
        return ""
    try:
        from ClusterShell.NodeSet import NodeSet

        return str(NodeSet.fromlist(names))
    except Exception:  # a name ClusterShell cannot parse: list them as they are
        return ",".join(sorted(names))


def _clush_groups(plan):
    groups = [("all", fold(v["name"] for v in plan.iter_vnodes())),
              (PNODE_GROUP, fold(p.name for p in plan.pnodes))]
    for p in plan.pnodes:
        nodes = fold(v["name"] for v in plan.vnodes_of(p.name))
        if nodes:
            groups.append(("on_%s" % sanitize(p.name), nodes))
    platform = plan.spec.platform
    for label, members in topology_groups(plan):  # @web, @net_front
        groups.append((label, fold(naming.vnode_name(platform, g + 1) for g in members)))
    return groups


def data_hosts(plan):
    """``[(address, name)]`` of the vnodes' data addresses: ``vx-3.back`` is vx-3 on network back."""
    layout = plan.topology
    if layout is None:
        return []
    out = []
    for net in plan.spec.topology.networks:
        for g in layout.members(net.name):
            out.append((naming.ipv4_text(layout.address[(g, net.name)]),
                        "%s.%s" % (naming.vnode_name(plan.spec.platform, g + 1), net.name)))
    return out


def host_public_key(spec):
    """The public line of the platform's vnode host key (``<vxlab_ssh_host_key>.pub``), or None
    while it does not exist."""
    try:
        with open(os.path.expanduser(spec.ssh_host_key) + ".pub") as f:
            line = f.read().strip()
    except OSError:
        return None
    return line if len(line.split()) >= 2 else None


def _ansible_cfg(inventory):
    """The repository's ansible.cfg with absolute paths and this platform's pnode inventory."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    repo_cfg = os.path.join(vxlab.REPO, "ansible.cfg")
    parser.read(repo_cfg)
    if not parser.has_section("defaults"):
        parser.add_section("defaults")
    for key in ("collections_path", "collections_paths", "roles_path"):
        if parser.has_option("defaults", key):
            parser.remove_option("defaults", key)
    parser.set("defaults", "collections_path", vxlab.COLLECTIONS)
    parser.set("defaults", "roles_path", os.path.join(vxlab.REPO, "roles"))
    if inventory:
        parser.set("defaults", "inventory", ",".join(inventory))
    elif parser.has_option("defaults", "inventory"):
        parser.remove_option("defaults", "inventory")
    return [(section, list(parser.items(section, raw=True))) for section in parser.sections()]


def render(plan, out_dir, inventory_path=None, extra_vars=None, pnode_hostvars=None):
    """Write the artifacts of ``plan`` into ``out_dir``; return the list of absolute paths.

    ``inventory_path`` (a path or a list): the pnode inventory that ``ansible.cfg`` in ``out_dir``
    selects for ``deploy.yml``/``destroy.yml``. ``extra_vars``: the ``-e`` variables the plan was
    built with, pinned in those playbooks. ``pnode_hostvars``: pnode connection variables, for
    the pnodes' ``Host`` entries in ``ssh_config``.
    """
    out_dir = os.path.abspath(out_dir)
    os.makedirs(os.path.join(out_dir, "clustershell"), mode=DIR_MODE, exist_ok=True)
    inventory = check_sources(inventory_path) if inventory_path else []
    s = plan.spec
    ssh_config = os.path.join(out_dir, "ssh_config")
    vnodes = plan.vnodes
    first = vnodes[0]["name"] if vnodes else s.platform + "-1"
    first_pnode = plan.pnodes[0].name
    env = _env()
    ctx = {
        "platform": s.platform,
        "out_dir": out_dir,
        "vnodes": vnodes,
        "vnode_count": len(vnodes),
        "pnode_count": len(plan.pnodes),
        "network": s.vnode_network,
        "access": "through gateway pnode %s" % s.gateway_pnode
        if s.control_access == "proxyjump" else "routed directly",
        "first": first,
        "first_group": pnode_group(s.platform, first_pnode),
        "inventory": ",".join(inventory),
        "extra_vars": dict(extra_vars or {}),
        "pnode_group": pnode_group_name(extra_vars),
        "groups": _clush_groups(plan),
        "data_hosts": data_hosts(plan),
        "ssh_options": "-F %s" % shlex.quote(ssh_config),
        "sections": _ansible_cfg(inventory),
    }
    contents = {
        "platform.json": json.dumps(plan.to_dict(), indent=1, sort_keys=True) + "\n",
        "vnodes.yml": json_lines(vnode_inventory(plan, ssh_config)) + "\n",
        "ssh_config": ssh_config_text(plan, out_dir, pnode_hostvars),
        "known_hosts": known_hosts_text(plan, host_public_key(plan.spec)),
        "hosts": env.get_template("hosts.j2").render(ctx),
        "taktuk.machines": env.get_template("taktuk.machines.j2").render(ctx),
        "clush_groups.yaml": env.get_template("clush_groups.yaml.j2").render(ctx),
        "clustershell/groups.conf": env.get_template("groups.conf.j2").render(ctx),
        "clustershell/clush.conf": env.get_template("clush.conf.j2").render(ctx),
        "ansible.cfg": env.get_template("ansible.cfg.j2").render(ctx),
        "deploy.yml": env.get_template("playbook.yml.j2").render(dict(ctx, action="deploy")),
        "destroy.yml": env.get_template("playbook.yml.j2").render(dict(ctx, action="destroy")),
        "README.txt": env.get_template("README.txt.j2").render(ctx),
    }
    written = []
    for rel in FILES:
        path = os.path.join(out_dir, rel)
        write_if_changed(path, contents[rel], FILE_MODE)
        written.append(path)
    return written
