#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: route
short_description: Manage a vxlab-owned IPv4 route
version_added: 0.1.0
description:
  - Installs (with C(replace) semantics) or removes an IPv4 route of the main table, e.g. on the
    control host, the route to the vnode network through the gateway pnode.
  - Routes are installed with routing protocol number 251, which marks them as vxlab's;
    O(state=absent) removes only a route carrying that mark, and a route to the same destination
    installed by anything else is never replaced (the module fails instead).
options:
  dest:
    description: Destination network, C(address/prefixlen) with no host bits set.
    type: str
    required: true
  gateway:
    description: IPv4 next hop. Required with O(state=present).
    type: str
  state:
    description: V(present) installs or updates the route; V(absent) removes ours.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common.pyroute2
  - vxlab.emulation.common
notes:
  - O(platform) is validated and reported; one platform per destination network, since the
    protocol mark does not tell platforms apart.
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Reach the vnode network through the gateway pnode
  vxlab.emulation.route:
    dest: 10.144.0.0/16
    gateway: 10.251.0.1
    platform: vxlab
  become: true
"""

RETURN = r"""
route:
  description: The vxlab route to O(dest) after the run (before it, in check mode).
  returned: always
  type: dict
  contains:
    dest: {description: Destination network., type: str, returned: always}
    gateway: {description: "Next hop, or null when there is no vxlab route.", type: str, returned: always}
    present: {description: Whether a vxlab route to dest exists., type: bool, returned: always}
    proto: {description: Routing protocol number used as the vxlab mark (251)., type: int, returned: always}
    table: {description: Routing table., type: str, returned: always}
diff:
  description: The gateway before and after.
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._route import Route
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(Route())


if __name__ == "__main__":
    main()
