#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: bridge
short_description: Manage the Linux bridge of a vxlab pnode
version_added: 0.1.0
description:
  - Creates, repairs or removes the Linux bridge that joins a pnode's vnodes and its VXLAN port.
  - STP is always off. The bridge is marked with the interface alias C(vxlab:<platform>); an
    existing interface of that name without this mark is never touched.
  - The IPv4 addresses of the bridge are managed as an exact set.
  - Talks netlink directly (pyroute2 on the managed node).
options:
  name:
    description: Bridge interface name (at most 15 characters).
    type: str
    required: true
  state:
    description: V(present) creates or repairs the bridge; V(absent) deletes it if it is ours.
    type: str
    choices: [present, absent]
    default: present
  mtu:
    description: MTU of the bridge. Not managed when omitted.
    type: int
  ageing_time:
    description: FDB ageing time in seconds.
    type: int
    default: 3600
  forward_delay:
    description: STP forward delay in seconds (STP is off; 0 makes ports forward at once).
    type: int
    default: 0
  addresses:
    description:
      - The exact set of IPv4 addresses (C(address/prefixlen)) of the bridge, e.g. the vnode
        network's gateway address on the gateway pnode. Others are removed.
    type: list
    elements: str
    default: []
  mac:
    description:
      - The bridge's MAC address (the plan gives the gateway pnode's bridge the gateway address's
        MAC, so that every pnode knows it without reading it). Without it, a random locally
        administered MAC is set at creation and kept.
    type: str
  forwarding:
    description:
      - When V(true), set C(net.ipv4.ip_forward=1) in the namespace, and note the previous value
        under C(/run/vxlab/forwarding/). When V(false) (or with O(state=absent)) a value this module
        changed earlier is put back; a value it did not change is left alone.
    type: bool
    default: false
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common.pyroute2
  - vxlab.emulation.common
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The pnode bridge (gateway pnode gets the vnode network's gateway address)
  vxlab.emulation.bridge:
    name: "{{ vxlab_pnode.bridge }}"
    platform: "{{ vxlab_pnode.platform }}"
    mtu: "{{ vxlab_pnode.mtu }}"
    addresses: "{{ [vxlab_pnode.gateway ~ '/' ~ vxlab_pnode.prefixlen] if vxlab_pnode.is_gateway else [] }}"
    forwarding: "{{ vxlab_pnode.is_gateway }}"

- name: Remove it
  vxlab.emulation.bridge:
    name: vxlab-br
    platform: vxlab
    state: absent
"""

RETURN = r"""
bridge:
  description: The bridge as found after the run (as found before it, in check mode).
  returned: always
  type: dict
  contains:
    name: {description: Interface name., type: str, returned: always}
    exists: {description: Whether the bridge exists., type: bool, returned: always}
    ifindex: {description: Interface index., type: int, returned: when exists}
    mtu: {description: MTU., type: int, returned: when exists}
    up: {description: Administratively up., type: bool, returned: when exists}
    ageing_time: {description: Ageing time in seconds., type: int, returned: when exists}
    forward_delay: {description: Forward delay in seconds., type: int, returned: when exists}
    alias: {description: Interface alias (owner mark)., type: str, returned: when exists}
    addresses: {description: IPv4 addresses (address/prefixlen)., type: list, elements: str, returned: when exists}
    ip_forward: {description: Value of net.ipv4.ip_forward in the namespace., type: bool, returned: when exists}
  sample: {name: vxlab-br, exists: true, ifindex: 7, mtu: 1450, up: true, ageing_time: 3600,
           forward_delay: 0, alias: "vxlab:vxlab", addresses: ["10.144.0.1/16"], ip_forward: true}
diff:
  description: Properties that differ, before and after.
  returned: when diff mode is on
  type: dict
  sample: {before: {present: false}, after: {present: true}}
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._bridge import Bridge
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(Bridge())


if __name__ == "__main__":
    main()
