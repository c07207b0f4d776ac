#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: arp_tables
short_description: Static ARP tables in vnodes, or ARP answered by the pnode's VXLAN interface
version_added: 0.1.0
description:
  - Applies the ARP mode of a vxlab platform on one pnode, in one call for all its vnodes.
  - V(static) gives every vnode of the pnode a PERMANENT neighbour entry for every other vnode of the
    platform (a global static ARP table), so vnodes never send ARP requests to each other.
  - V(suppress) gives the pnode's VXLAN interface a PERMANENT neighbour entry and a static FDB entry
    (MAC to the VTEP of the vnode's pnode) for every vnode of the other pnodes. With the interface in
    C(nolearning proxy) mode (options O(vxlab.emulation.vxlan#module:learning) and
    O(vxlab.emulation.vxlan#module:proxy)), ARP requests are answered on the pnode and never cross
    the underlay. Give O(gateway_mac) so vnodes of other pnodes can resolve the gateway too.
  - V(dynamic) (and O(state=absent)) removes what the other modes set.
  - The platform is rebuilt from its compact O(layout) with the plan's own formula, so the
    controller does not ship one record per vnode of the platform to every pnode.
  - Entries are read with one netlink dump per table and written in bulk (many netlink messages per
    system call); existing entries are replaced, then entries that should not be there are removed.
    Only PERMANENT entries of the platform's network on the vnodes' interface, and the entries of the
    platform's VXLAN interface, are managed.
options:
  mode:
    description: The ARP mode.
    type: str
    choices: [dynamic, static, suppress]
    default: dynamic
  state:
    description: V(absent) is V(dynamic) mode whatever O(mode) says.
    type: str
    choices: [present, absent]
    default: present
  pnode:
    description: Which pnode of O(layout) this is. Required with O(layout).
    type: str
  layout:
    description:
      - "The platform's compact layout, C(vxlab_pnode.neigh_layout) of the plan
        (C({platform, network, stride, pnodes: [[name, index, vtep, vnodes], ...]}))."
      - Required in V(static) and V(suppress) modes.
    type: dict
  vnodes:
    description:
      - The local vnodes to visit, as C({name, netns}) (a named network namespace or a path) or
        C({name, pid}) (the network namespace of that process, e.g. an LXC container's init).
      - Defaults to this pnode's vnodes of O(layout), each in the named namespace of its name.
    type: list
    elements: dict
  interface:
    description: The vnodes' interface that holds the entries.
    type: str
    default: eth0
  vxlan:
    description: The pnode's VXLAN interface (default C(<platform>-vx)).
    type: str
  gateway_pnode:
    description: The pnode holding the gateway address (needed with O(gateway_mac)).
    type: str
  gateway_mac:
    description:
      - MAC address of the gateway (the bridge of O(gateway_pnode)). In V(suppress) mode the other
        pnodes then answer ARP for the gateway address too; without it, vnodes of other pnodes
        cannot resolve the gateway.
    type: str
  state_dir:
    description:
      - Where the module notes the vnodes whose tables it filled (C(<state_dir>/arp-tables.json),
        written before it fills them, emptied once V(dynamic) or V(suppress) mode has emptied them,
        removed with O(state=absent)).
      - With it, V(dynamic) and V(suppress) modes read only the tables of the vnodes noted there; in
        the others only the gateway's entry is looked up (one lookup instead of a dump, for which the
        kernel walks its whole neighbour table, whatever the vnode holds). Without it, or
        before the first run that writes it, every vnode's table is read.
    type: path
  new_vnodes:
    description:
      - Vnodes (names among the visited ones) made since their tables could hold anything, such as
        those the vnodes step of M(vxlab.emulation.dataplane) has just created. Their tables are
        empty and not read (in V(static) mode they are written without a dump).
    type: list
    elements: str
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common.pyroute2
  - vxlab.emulation.common
attributes:
  check_mode:
    details: Reads every table and reports what would change; changes nothing.
  diff_mode:
    details: Per table, the number of entries before and after, and how many would be replaced or removed.
notes:
  - Needs root and pyroute2 on the pnode.
  - PERMANENT neighbour entries are not counted against C(gc_thresh3) since Linux 4.19.
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: ARP tables of the platform
  vxlab.emulation.arp_tables:
    platform: "{{ vxlab_pnode.platform }}"
    mode: "{{ vxlab_pnode.arp_mode }}"
    pnode: "{{ vxlab_pnode.pnode }}"
    layout: "{{ vxlab_pnode.neigh_layout }}"
    vxlan: "{{ vxlab_pnode.vxlan }}"

- name: Remove static entries left in the vnodes
  vxlab.emulation.arp_tables:
    platform: "{{ vxlab_pnode.platform }}"
    pnode: "{{ vxlab_pnode.pnode }}"
    layout: "{{ vxlab_pnode.neigh_layout }}"
    state: absent
"""

RETURN = r"""
mode:
  description: The mode applied (V(dynamic) with O(state=absent)).
  returned: always
  type: str
  sample: static
entries:
  description: Counts of what the module found and did.
  returned: always
  type: dict
  contains:
    vnodes: {description: Vnode tables visited., type: int, returned: always}
    per_vnode: {description: Entries each vnode holds in static mode., type: int, returned: always}
    replaced: {description: "Entries added or replaced (would be, in check mode).", type: int, returned: always}
    removed: {description: "Entries removed (would be, in check mode).", type: int, returned: always}
    vxlan_neigh: {description: Neighbour entries the VXLAN interface holds in suppress mode., type: int, returned: always}
    vxlan_fdb: {description: Static FDB entries the VXLAN interface holds in suppress mode., type: int, returned: always}
diff:
  description: Per table that changes (C(vnode:<name>), C(vxlan_neigh), C(vxlan_fdb)), entry counts before and after.
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._arp_tables import ArpTables
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(ArpTables())


if __name__ == "__main__":
    main()
