#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: control
short_description: The control host's side of a vxlab platform in one call
version_added: 0.1.0
description:
  - Makes the platform's SSH key pairs, raises the neighbour-table limits and input backlog of the
    kernel shared by the one-machine testbed's pnodes, and installs the route to the vnode network
    through the gateway pnode; with O(state=absent), removes the route and forgets the saved
    neighbour values (shared limits are never lowered).
  - Each step is checked against its own module's parameters before the first one runs, then run
    exactly as that module runs (M(vxlab.emulation.neigh_limits), M(vxlab.emulation.route)); a step
    whose parameters are not given is not run.
  - On a local connection the action of the same name runs it inside the controller's own process
    (no module execution); otherwise it runs as a module on the target.
options:
  state:
    description: V(present) sets the control host up; V(absent) removes what V(present) made.
    type: str
    choices: [present, absent]
    default: present
  keys:
    description:
      - SSH key pairs (ed25519, no passphrase) to make where they are missing; an existing key is
        never rewritten. Ignored with O(state=absent).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the private key (mode 0600; the public key is C(path.pub)).
        type: path
        required: true
      comment:
        description: The key's comment.
        type: str
        default: ""
  neigh_limits:
    description:
      - Parameters of M(vxlab.emulation.neigh_limits) (without O(platform) and O(state), taken from
        this module's); omitted, the neighbour limits are not touched.
    type: dict
  route:
    description:
      - Parameters of M(vxlab.emulation.route) (without O(platform) and O(state)); omitted, no route
        is managed.
    type: dict
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common.pyroute2
  - vxlab.emulation.common
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The control host's side of platform demo
  vxlab.emulation.control:
    platform: demo
    keys:
      - path: ~/.ssh/vxlab/demo_ed25519
        comment: vxlab-demo
    route:
      dest: 10.144.0.0/16
      gateway: 10.251.0.1
"""

RETURN = r"""
steps:
  description: Each step's own result (as its module returns it), by step name.
  returned: always
  type: dict
  sample: {keys: {changed: false, made: []}, route: {changed: false}}
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._control import Control
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(Control())


if __name__ == "__main__":
    main()
