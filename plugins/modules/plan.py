#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: plan
short_description: Validate a vxlab platform and give each pnode its part of the address plan
description:
  - Runs on the controller only (action plugin); it touches no system.
  - Reads the C(vxlab_*) variables of every host of the pnode group, validates the whole platform
    (any bad variable fails every pnode with one message naming the variable and value), and
    derives the deterministic plan (vnode names, addresses, MACs, interface names, VTEPs).
  - Sets the facts C(vxlab_pnode) (this pnode's part, with its vnodes;
    RV(ansible_facts.vxlab_pnode)) and C(vxlab_platform_summary)
    (RV(ansible_facts.vxlab_platform_summary)).
  - With C(run_once=true) the plan is computed once, and every pnode's part is written as
    C(<pnode>.json) into a directory of the controller's cache named after the plan's digest,
    given as C(vxlab_platform_summary.plan_dir); this is what the collection's playbooks do, since
    per-host planning reads every pnode's variables once per pnode (quadratic in the pnode count)
    and a run_once result is copied to every host.
version_added: 0.1.0
author:
  - vxlab developers (!UNKNOWN)
options:
  group:
    description: The inventory group that lists the pnodes.
    type: str
    default: pnodes
  with_vnodes:
    description: Include the list of this pnode's vnodes in RV(ansible_facts.vxlab_pnode).
    type: bool
    default: true
extends_documentation_fragment:
  - vxlab.emulation.attributes
attributes:
  check_mode:
    details: Runs the same in check mode (validates, plans and sets the facts); it changes no
      managed system in either mode.
  diff_mode:
    support: none
    details: Returns no diff; the module never reports a change.
  platform:
    platforms: all
    details: Runs on the controller only (action plugin); the managed node is not contacted.
notes:
  - Use it with C(any_errors_fatal) so an invalid platform stops before anything is touched.
"""

EXAMPLES = r"""
- name: Validate the platform and compute this pnode's part of the plan
  vxlab.emulation.plan:

- name: Plan once for all pnodes (what the collection's playbooks do)
  vxlab.emulation.plan:
  run_once: true

- name: Keep this pnode's part
  ansible.builtin.set_fact:
    vxlab_pnode: "{{ lookup('ansible.builtin.file', vxlab_platform_summary.plan_dir ~ '/' ~ inventory_hostname ~ '.json') | from_json }}"

- name: Show this pnode's bridge and vnode count
  ansible.builtin.debug:
    msg: "{{ vxlab_pnode.bridge }} holds {{ vxlab_pnode.vnode_count }} vnodes"
"""

RETURN = r"""
ansible_facts:
  description: The facts C(vxlab_pnode) and C(vxlab_platform_summary).
  returned: success
  type: dict
  contains:
    vxlab_pnode:
      description: This pnode's part of the plan (VTEP, remote VTEPs, bridge and VXLAN names, vnodes).
      type: dict
      returned: when the host is in the pnode group
    vxlab_platform_summary:
      description: Platform-wide settings (name, counts, network, gateway, modes).
      type: dict
      returned: always
"""
