#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vxlan
short_description: Manage the VXLAN interface of a vxlab pnode
version_added: 0.1.0
description:
  - Creates, repairs or removes the VXLAN interface that carries a pnode's vnode traffic over the
    underlay interface, optionally enslaved into the pnode's bridge.
  - Unicast mode uses head-end replication, one all-zero-MAC FDB entry per remote VTEP, managed as
    an exact set (adding or removing a VTEP adds or removes only its entry).
  - Attributes the kernel cannot change in place (vni, port, local, group, underlay device, proxy)
    make the module delete and re-create the interface; the diff reports C(recreate).
  - Refuses before any change when the underlay interface is missing, has no IPv4 address, does
    not hold O(local), or has an MTU below O(mtu) + 50.
  - The interface is marked with the alias C(vxlab:<platform>); an existing interface of that name
    without this mark is never touched.
options:
  name:
    description: VXLAN interface name (at most 15 characters).
    type: str
    required: true
  state:
    description: V(present) creates or repairs the interface; V(absent) deletes it if it is ours.
    type: str
    choices: [present, absent]
    default: present
  vni:
    description: VXLAN network identifier (1-16777215). Required with O(state=present).
    type: int
  port:
    description: UDP destination port.
    type: int
    default: 4789
  underlay_interface:
    description: The interface the encapsulated packets leave by.
    type: str
    default: ib0
  local:
    description:
      - Local VTEP IPv4 address; must be an address of O(underlay_interface).
      - Required with O(mode=unicast); optional with O(mode=multicast).
    type: str
  mode:
    description: V(unicast) (head-end replication to O(remote_vteps)) or V(multicast) (O(group)).
    type: str
    choices: [unicast, multicast]
    default: unicast
  group:
    description: IPv4 multicast group (O(mode=multicast) only).
    type: str
  remote_vteps:
    description:
      - With O(mode=unicast), the exact list of remote VTEP addresses to flood to.
      - Ignored (with a warning) with O(mode=multicast).
    type: list
    elements: str
    default: []
  mtu:
    description:
      - MTU of the VXLAN interface; the underlay MTU must be at least this + 50.
      - Not managed when omitted (the kernel then uses the underlay MTU - 50).
    type: int
  learning:
    description: Learn remote MAC addresses from received packets.
    type: bool
    default: true
  proxy:
    description: ARP proxy (answer ARP from the neighbour table instead of flooding).
    type: bool
    default: false
  master:
    description:
      - Bridge to enslave the interface into (must exist). Not managed when omitted.
    type: str
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common.pyroute2
  - vxlab.emulation.common
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: VXLAN port of the pnode bridge, unicast head-end replication
  vxlab.emulation.vxlan:
    name: "{{ vxlab_pnode.vxlan }}"
    platform: "{{ vxlab_pnode.platform }}"
    vni: "{{ vxlab_pnode.vni }}"
    port: "{{ vxlab_pnode.vxlan_port }}"
    underlay_interface: "{{ vxlab_pnode.underlay_interface }}"
    local: "{{ vxlab_pnode.vtep }}"
    mode: "{{ vxlab_pnode.vxlan_mode }}"
    group: "{{ vxlab_pnode.vxlan_group }}"
    remote_vteps: "{{ vxlab_pnode.remote_vteps if vxlab_pnode.vxlan_mode == 'unicast' else [] }}"
    mtu: "{{ vxlab_pnode.mtu }}"
    master: "{{ vxlab_pnode.bridge }}"
"""

RETURN = r"""
vxlan:
  description: The VXLAN interface as found after the run (before it, in check mode).
  returned: always
  type: dict
  contains:
    name: {description: Interface name., type: str, returned: always}
    exists: {description: Whether the interface exists., type: bool, returned: always}
    ifindex: {description: Interface index., type: int, returned: when exists}
    vni: {description: VNI., type: int, returned: when exists}
    port: {description: UDP port., type: int, returned: when exists}
    local: {description: Local VTEP address or null., type: str, returned: when exists}
    group: {description: Multicast group or null., type: str, returned: when exists}
    underlay_interface: {description: Underlay device name., type: str, returned: when exists}
    mtu: {description: MTU., type: int, returned: when exists}
    learning: {description: MAC learning., type: bool, returned: when exists}
    proxy: {description: ARP proxy., type: bool, returned: when exists}
    master: {description: "Bridge it is enslaved to, or null.", type: str, returned: when exists}
    up: {description: Administratively up., type: bool, returned: when exists}
    alias: {description: Owner mark., type: str, returned: when exists}
    remote_vteps: {description: Destinations of the flood (all-zero MAC) FDB entries., type: list, elements: str, returned: when exists}
diff:
  description: Properties that differ, before and after (C(recreate) says why it was re-created).
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._vxlan import Vxlan
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(Vxlan())


if __name__ == "__main__":
    main()
