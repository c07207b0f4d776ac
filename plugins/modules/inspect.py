#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: inspect
short_description: Read what runs of a vxlab platform on a pnode, in one call
version_added: 0.1.0
description:
  - Reads, never changes, every vnode the plan puts on this pnode - its state (V(running),
    V(stopped), V(frozen), V(down), V(missing)), its interfaces inside with their addresses, the
    shaping in force on both ends of its management veth (and who made it), and the faults in
    force (C(vnode_down), C(freeze), C(link_cut), C(degrade)); and the pnode's own fault
    (C(pnode_off)).
  - One link dump and one qdisc dump of the pnode; each running vnode's namespace entered once.
  - Used by C(vxlab inspect), which shows the whole platform as a table or JSON.
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common.pyroute2
  - vxlab.emulation.common.pnode
options: {}
notes:
  - Never reports a change.
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: What runs on this pnode
  vxlab.emulation.inspect:
    pnode: "{{ vxlab_pnode }}"
  register: running
"""

RETURN = r"""
vnodes:
  description:
    - One entry per planned vnode - C(name), C(pnode), C(kind), C(address), C(state), C(interfaces)
      (C(ifname), C(up), C(mac), C(addresses)), C(shaping) (C(in) and C(out) - the settings with their
      C(owner)), C(faults).
  returned: always
  type: list
  elements: dict
pnode:
  description: C(name), whether the platform's C(bridge) and C(vxlan) exist, and the pnode's C(faults).
  returned: always
  type: dict
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._inspect import Inspect
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(Inspect())


if __name__ == "__main__":
    main()
