#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: preflight
short_description: Give a pnode its part of the plan and check it can take the platform
description:
  - Action plugin; runs after M(vxlab.emulation.plan) with C(run_once=true), before anything changes.
  - Reads this pnode's part of the plan from O(plan_dir) on the controller and sets it as the fact
    C(vxlab_pnode).
  - Runs one small constant program on the pnode with O(python) (what it reads arrives on its
    standard input) - the MTU of the underlay interface and whether O(python) has pyroute2, set as
    the fact C(vxlab_preflight) (C(pnode_prepare) installs pyroute2 where it lacks).
  - Fails, naming the variable, its value and the bound, when the underlay interface does not
    exist or its MTU is too small for C(vxlab_mtu) or a data network's MTU plus the VXLAN
    encapsulation.
  - A pnode that does not answer is not failed here (its C(vxlab_preflight.unreachable) says why);
    the data plane task that follows fails it alone, as unreachable.
version_added: 0.1.0
author:
  - vxlab developers (!UNKNOWN)
options:
  plan_dir:
    description: The directory the plan action wrote the pnodes' parts to (C(vxlab_platform_summary.plan_dir)).
    type: path
    required: true
  python:
    description:
      - The interpreter the modules run with on the pnode (C(ansible_python_interpreter)).
      - When not given (or C(auto...)), the one Ansible discovers, as for a module, from
        C(ansible_interpreter_python_fallback) (the collection's playbooks put
        C(/opt/vxlab/venv/bin/python), where P(vxlab.emulation.pnode_prepare#role) installs, first);
        the discovery is kept as the fact C(discovered_interpreter_python).
    type: str
extends_documentation_fragment:
  - vxlab.emulation.attributes
attributes:
  check_mode:
    details: Runs the same in check mode; it only reads.
  diff_mode:
    support: none
    details: Returns no diff; the module never reports a change.
  platform:
    platforms: linux
notes:
  - Use it with C(any_errors_fatal) so that a pnode that cannot take the platform stops the deploy
    before anything changes.
"""

EXAMPLES = r"""
- name: Plan once for all pnodes
  vxlab.emulation.plan:
  run_once: true

- name: Keep this pnode's part of the plan and check the pnode
  vxlab.emulation.preflight:
    plan_dir: "{{ vxlab_platform_summary.plan_dir }}"
    python: "{{ ansible_python_interpreter | default(omit) }}"
  any_errors_fatal: true
"""

RETURN = r"""
ansible_facts:
  description: The facts C(vxlab_pnode) and C(vxlab_preflight).
  returned: success
  type: dict
  contains:
    vxlab_pnode:
      description: This pnode's part of the plan.
      type: dict
      returned: always
    vxlab_preflight:
      description: What the pnode said - C(mtu) of the underlay interface (null when it does not
        exist), C(pyroute2) (bool), C(python) (the interpreter asked), and C(unreachable) (why)
        when the pnode did not answer.
      type: dict
      returned: always
    discovered_interpreter_python:
      description: The interpreter discovered on the pnode, when O(python) was not given and
        Ansible had not discovered it yet in this run.
      type: str
      returned: when discovered
"""
