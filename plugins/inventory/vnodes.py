# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: vnodes
short_description: The vnodes of a vxlab platform, computed from its pnode inventory
version_added: 0.1.0
author:
  - vxlab developers (!UNKNOWN)
description:
  - Reads the pnode inventory (the C(pnodes) group and its C(vxlab_*) variables, as playbooks see
    them), computes the platform's address plan with the same code as the modules and playbooks,
    and adds every vnode as a host.
  - Groups are C(vnodes), C(<platform>) and C(<platform>_on_<pnode>) (the pnode name with
    characters other than letters, digits and underscore replaced by C(_)).
  - Host variables are C(ansible_host) (the vnode address), C(vxlab_pnode) and C(vxlab_mac); the
    C(<platform>) group sets C(ansible_user=root), C(ansible_ssh_private_key_file) (the
    platform's C(vxlab_ssh_key)), C(ansible_python_interpreter=/usr/bin/python3) and
    C(ansible_ssh_common_args=-F <ssh_config>). The same as the C(vnodes.yml) file that
    C(vxlab render) writes.
  - The configuration file name must end with C(.vnodes.yml) or C(.vnodes.yaml).
options:
  plugin:
    description: The name of this plugin; it should always be set to V(vxlab.emulation.vnodes).
    required: true
    type: str
    choices: [vxlab.emulation.vnodes]
  pnode_inventory:
    description:
      - The pnode inventory (files or directories, as given to C(-i)), relative to the directory of
        this configuration file unless absolute.
    required: true
    type: list
    elements: str
  extra_vars:
    description:
      - Variables that win over the pnode inventory, as C(-e) does for C(vxlab deploy); use the same
        values as the deployment, or the plan will differ.
    type: dict
    default: {}
  ssh_config:
    description:
      - The ssh_config file vnode connections use (C(ansible_ssh_common_args=-F ...)).
      - Defaults to C(.vxlab/<platform>/ssh_config) beside the first pnode inventory source, the
        file C(vxlab check) and C(vxlab deploy) write.
    type: str
  write_ssh_config:
    description:
      - Write the ssh_config file (only when its content changes) so the vnodes are reachable without
        running C(vxlab render) first.
    type: bool
    default: true
extends_documentation_fragment:
  - constructed
notes:
  - The plan is the same as the playbooks' only when the pnode inventory and extra variables are.
"""

EXAMPLES = r"""
# demo.vnodes.yml, beside the pnode inventory hosts.yml
plugin: vxlab.emulation.vnodes
pnode_inventory: hosts.yml

# ansible-inventory -i demo.vnodes.yml --graph
# ansible -i demo.vnodes.yml demo_on_p1 -m ping
---
# with constructed groups: every tenth vnode in group "probes"
plugin: vxlab.emulation.vnodes
pnode_inventory: [hosts.yml]
extra_vars:
  vxlab_vnodes_per_pnode: 50
groups:
  probes: (ansible_host.split('.')[-1] | int) % 10 == 0
keyed_groups:
  - key: vxlab_pnode
    prefix: pnode
"""

import os

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_if_changed
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import PlanError
from ansible_collections.vxlab.emulation.plugins.plugin_utils._inventory import (
    iter_inventory,
    plan_from_sources,
    ssh_config_text,
    state_dir,
    vnode_inventory,
)


# configuration files being parsed: a pnode inventory directory that holds this very file would
# otherwise load it again, without end
_ACTIVE = set()


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "vxlab.emulation.vnodes"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and \
            path.endswith((".vnodes.yml", ".vnodes.yaml"))

    def _sources(self, path):
        base = os.path.dirname(os.path.abspath(path))
        sources = []
        for src in self.get_option("pnode_inventory") or []:
            src = os.path.expanduser(str(src))
            full = src if os.path.isabs(src) else os.path.join(base, src)
            if os.path.abspath(full) == os.path.abspath(path) or \
                    full.endswith((".vnodes.yml", ".vnodes.yaml")):
                raise AnsibleParserError("pnode_inventory %s: a vnodes inventory cannot be the pnode "
                                         "inventory" % src)
            sources.append(os.path.normpath(full))
        if not sources:
            raise AnsibleParserError("pnode_inventory is required")
        return sources

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        key = os.path.realpath(path)
        if key in _ACTIVE:
            raise AnsibleParserError("%s is part of its own pnode_inventory; skipped there" % path)
        _ACTIVE.add(key)
        try:
            self._parse(path, loader)
        finally:
            _ACTIVE.discard(key)

    def _parse(self, path, loader):
        self._read_config_data(path)
        sources = self._sources(path)
        extra = dict(self.get_option("extra_vars") or {})
        try:
            plan, dummy, hostvars = plan_from_sources(sources, loader=loader, extra_vars=extra)
        except PlanError as exc:
            raise AnsibleParserError("%s: invalid platform: %s" % (path, exc))
        ssh_config = self.get_option("ssh_config")
        if ssh_config:
            ssh_config = os.path.expanduser(ssh_config)
            if not os.path.isabs(ssh_config):
                ssh_config = os.path.join(os.path.dirname(os.path.abspath(path)), ssh_config)
        else:
            ssh_config = os.path.join(state_dir(sources, plan.spec.platform), "ssh_config")
        if self.get_option("write_ssh_config"):
            out_dir = os.path.dirname(ssh_config)
            try:
                os.makedirs(out_dir, mode=0o755, exist_ok=True)
                write_if_changed(ssh_config, ssh_config_text(plan, out_dir, hostvars))
            except (OSError, PlanError) as exc:
                raise AnsibleParserError("%s: cannot write %s: %s" % (path, ssh_config, exc))
        self._populate(plan, ssh_config)

    def _populate(self, plan, ssh_config):
        strict = self.get_option("strict")
        tree = vnode_inventory(plan, ssh_config)["all"]["children"]
        inherited = {None: {}}  # group -> variables its hosts get from it and its parents
        for kind, name, parent, variables in iter_inventory(tree):
            if kind == "group":
                self.inventory.add_group(name)
                if parent:
                    self.inventory.add_child(parent, name)
                for key, value in variables.items():
                    self.inventory.set_variable(name, key, value)
                inherited[name] = dict(inherited.get(parent, {}), **variables)
                continue
            self.inventory.add_host(name, group=parent)
            for key, value in variables.items():
                self.inventory.set_variable(name, key, value)
            # compose/groups/keyed_groups see the host's variables with its groups' ones
            hostvars = dict(inherited[parent])
            hostvars.update(self.inventory.get_host(name).get_vars())  # + inventory_hostname...
            self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name,
                                              strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name,
                                           strict=strict)
