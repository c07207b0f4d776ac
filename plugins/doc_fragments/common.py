# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Options that mean the same in every pnode module that has them."""

    # vxlab.emulation.common: the platform a module works for, and the namespace it works in
    DOCUMENTATION = r"""
options:
  platform:
    description:
      - Name of the vxlab platform the managed objects belong to (C(vxlab_pnode.platform) of the
        plan).
    type: str
    required: true
  netns:
    description:
      - Operate inside this named network namespace (the pnode's own namespace, for example a
        pnode of the one-machine testbed) instead of the namespace the module runs in.
    type: str
"""

    # vxlab.emulation.common.state_dir: the pnode's state directory of the platform
    STATE_DIR = r"""
options:
  state_dir:
    description:
      - The pnode's state directory of the platform (C(vxlab_pnode.pnode_state_dir) of the plan,
        for example C(/var/lib/vxlab/<platform>/<pnode>)), the one M(vxlab.emulation.vnodes) keeps
        its state files in; LXC vnodes' containers are in C(<state_dir>/lxc).
    type: str
"""

    # vxlab.emulation.common.pnode: the plan's part of a pnode, for the modules that take it whole
    PNODE = r"""
options:
  pnode:
    description:
      - The plan's part for this pnode, as M(vxlab.emulation.plan) computes it (C(vxlab_pnode)).
    type: dict
    required: true
"""

    # vxlab.emulation.common.pyroute2: what a netlink module needs on the pnode
    PYROUTE2 = r"""
options: {}
requirements:
  - pyroute2 on the managed node
"""
