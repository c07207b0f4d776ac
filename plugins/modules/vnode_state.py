#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vnode_state
short_description: Start, stop, freeze or unfreeze LXC vnodes of a vxlab pnode in one call
version_added: 0.1.0
description:
  - Takes the chosen LXC vnodes of one pnode (made by M(vxlab.emulation.vnodes) with O(vxlab.emulation.vnodes#module:kind=lxc))
    to the wanted state in one call; the LXC commands run in parallel with a bounded window.
  - A started vnode keeps its configuration (address, MAC, limits) and gets its network namespace
    published again as C(/run/netns/<vnode>); a stopped vnode's namespace is unpublished first so
    the kernel frees it and its veth.
  - A frozen vnode's processes are suspended (freezer cgroup), so its services (sshd) do not answer;
    its kernel still answers ping. V(unfrozen) resumes it.
  - Vnodes already in the wanted state are left alone; whether the module reports a change is
    derived from the states.
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common
  - vxlab.emulation.common.state_dir
options:
  state_dir:
    required: true
  state:
    description:
      - V(started) runs stopped vnodes and thaws frozen ones; V(stopped) stops them (thawing first);
        V(frozen) suspends running vnodes (a stopped vnode is an error); V(unfrozen) resumes frozen
        vnodes (a stopped vnode is an error).
    type: str
    required: true
    choices: [started, stopped, frozen, unfrozen]
  vnodes:
    description: The vnodes, by name or as the dicts of the address plan (their C(name) is used).
    type: list
    elements: raw
    required: true
  window:
    description: At most this many LXC commands at once.
    type: int
    default: 16
notes:
  - Only LXC vnodes have a lifecycle; netns vnodes are always up.
requirements:
  - LXC (C(lxc-start), C(lxc-stop), C(lxc-freeze), C(lxc-unfreeze), C(lxc-ls)) and pyroute2 on the managed node
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Freeze two vnodes of this pnode
  vxlab.emulation.vnode_state:
    platform: "{{ vxlab_pnode.platform }}"
    state_dir: "{{ vxlab_pnode.pnode_state_dir }}"
    vnodes: [vxlab-1, vxlab-2]
    state: frozen

- name: Start every vnode of this pnode again
  vxlab.emulation.vnode_state:
    platform: "{{ vxlab_pnode.platform }}"
    state_dir: "{{ vxlab_pnode.pnode_state_dir }}"
    vnodes: "{{ vxlab_pnode.vnodes }}"
    state: started
"""

RETURN = r"""
actions:
  description: The vnodes per LXC action run (would be run, in check mode); empty actions are left out.
  returned: always
  type: dict
  sample: {stop: [vxlab-1], freeze: [vxlab-2]}
vnodes:
  description: The vnode names asked for.
  returned: always
  type: list
  elements: str
diff:
  description: C(vnode:<name>) LXC state before and after.
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module
from ansible_collections.vxlab.emulation.plugins.module_utils._vnode_state import VnodeState


def main():
    run_module(VnodeState())


if __name__ == "__main__":
    main()
