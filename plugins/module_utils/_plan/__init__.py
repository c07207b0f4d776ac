# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform model and address plan of vxlab (private: not a public API of the collection).

Pure code: no root, no I/O. Everything that needs to know a vnode's name, address, MAC, pnode or
interface name asks this package, so the plan exists once (``spec``: the variables validated;
``model``: the plan computed from them; this file: the names the rest of the collection uses):

* :func:`spec_from_hostvars` reads the ``vxlab_*`` variables of the pnodes (as Ansible sees them)
  and validates all of them before anything touches a system;
* :func:`build_plan` turns the validated :class:`PlatformSpec` into a deterministic :class:`Plan`.

Allocation is stable: pnode ``k`` (its ``vxlab_pnode_index``, else its position in the ``pnodes``
group) owns the block of vnode indexes ``[k * stride, k * stride + count)``, so appending a pnode,
or changing one pnode's count within the stride, leaves every other vnode where it was.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vxlab.emulation.plugins.module_utils._plan.model import (  # noqa: F401
    Plan,
    build_plan,
    iter_layout,
    network_globs,
    plan_from_hostvars,
    vnode_at,
)
from ansible_collections.vxlab.emulation.plugins.module_utils._plan.spec import (  # noqa: F401
    ARP_MODES,
    CLIENT_KEY,
    CLIENT_KNOWN_HOSTS,
    CLIENT_SSH_CONFIG,
    CLIENT_SUBDIR,
    CONTROL_ACCESS,
    KNOWN_VARS,
    MAX_VNODES_PER_PNODE,
    PLATFORM_DEFAULTS,
    RESERVED_PNODE_NAMES,
    VNODE_KINDS,
    VXLAN_MODES,
    PlanError,
    PlatformSpec,
    PnodeSpec,
    default_gc_thresh,
    default_netdev_max_backlog,
    expand_names,
    spec_from_hostvars,
)
