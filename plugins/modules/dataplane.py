#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dataplane
short_description: Apply a pnode's whole vxlab data plane in one call
version_added: 0.1.0
description:
  - For LXC vnodes without O(image), first the V(lxc_image) step - M(vxlab.emulation.lxc_image)
    with the plan's C(vxlab_lxc_image) (a root filesystem directory or a tarball) or the default
    base image built and cached by recipe - whose root filesystem the vnodes start from.
  - Runs, in one process on the pnode, the vnodes' SSH client files, then the steps of the
    single-concern modules in this order - M(vxlab.emulation.bridge), M(vxlab.emulation.vxlan), M(vxlab.emulation.neigh_limits),
    M(vxlab.emulation.vnodes), M(vxlab.emulation.arp_tables), M(vxlab.emulation.link_shaping) -
    with their parameters derived from the plan's part for this pnode (O(pnode), the fact
    C(vxlab_pnode)).
  - With data networks (C(vxlab_networks)), steps of their own - V(networks), after the
    management VXLAN interface, a bridge C(<platform>-<network>) and a VXLAN device
    C(<platform>.<network>) per data network with members on this pnode (unicast towards the
    pnodes hosting its members only); V(vnode_networks), after the vnodes, their data interfaces
    C(eth1), C(eth2), ... (host side C(<host_if>.<k>) on the network's bridge), the routes to the
    other data networks through the planned routers (an unreachable route where no router reaches),
    and forwarding in router vnodes; V(network_arp), after the management ARP tables, each data
    network's ARP mode (static tables in its members, or ARP answered by its VXLAN device).
    V(link_matrix), last, the shaping between groups (C(vxlab_link_matrix)) - an HTB tree on the
    egress of each data interface of a source vnode, a class per matrix entry and u32 filters on the
    destination's prefixes. Data networks, interfaces, routes and matrix trees that are no longer
    planned are removed; the management network is never touched by them.
  - One module execution per pnode instead of one per concern, which is what the controller's
    cost per pnode is made of (an SSH round trip, a Python start and the imports per task).
  - Every step's parameters are validated against that module's own argument spec before the
    first step runs; each step then computes the difference between the desired and the observed
    state and applies only it, as the single-concern module does.
options:
  authorized_keys:
    description: Public key(s) allowed to log in to the vnodes as root (see M(vxlab.emulation.vnodes)).
    type: str
    default: ""
  image:
    description:
      - Root filesystem of LXC vnodes (the RV(vxlab.emulation.lxc_image#module:rootfs) returned by
        M(vxlab.emulation.lxc_image)); when given, the V(lxc_image) step is not run.
    type: path
  shared_kernel:
    description:
      - The pnodes share one kernel (the one-machine testbed) - the global C(gc_thresh1/2/3) are
        then left to the control host and only the per-interface neighbour settings are applied.
    type: bool
    default: false
  gateway_mac:
    description:
      - C(vxlab_arp_mode=suppress) - the MAC of the gateway pnode's bridge, answered for the
        gateway address (see O(vxlab.emulation.arp_tables#module:gateway_mac)).
      - Default - the plan's C(gateway_mac), which step V(bridge) gives the gateway pnode's
        bridge, so that every pnode fills its suppression table in the same call.
    type: str
  client_ssh_config:
    description:
      - Step V(client_files) - the text of the vnodes' client C(ssh_config) (the plan directory's
        C(client_ssh_config)), written to C(vxlab_pnode.client_ssh_config) (mode 0644) in the
        platform's client directory (mode 0700), which LXC vnodes bind-mount read-only.
    type: str
  client_key:
    description:
      - Step V(client_files) - the platform's private key, written to C(vxlab_pnode.client_key)
        (mode 0600), so that vnodes log in to one another (TakTuk's tree).
    type: str
  host_key:
    description:
      - The vnodes' SSH host key (an unencrypted OpenSSH private key, the content of
        C(vxlab_ssh_host_key)); step C(vnodes) makes every vnode present it, and step
        C(client_files) writes C(vxlab_pnode.client_known_hosts), one line that trusts it for every
        vnode address, so the client C(ssh_config) checks host keys strictly.
      - Without it, netns vnodes present a key generated once per pnode and LXC vnodes their
        image's keys.
    type: str
  state:
    description:
      - V(present) builds the data plane; V(absent) removes it, in this order - the vnodes (their
        veths go with their qdiscs and neighbour tables), the client files, the VXLAN interface
        (its FDB and neighbour entries go with it), the bridge, then the neighbour settings back
        to the values saved when they were set.
    type: str
    choices: [present, absent]
    default: present
  steps:
    description:
      - The steps to run, always in their order; all of them when not given. O(state=present) -
        V(lxc_image) (LXC vnodes without O(image) only), V(client_files), V(bridge), V(vxlan), V(networks), V(neigh_limits), V(vnodes), V(vnode_networks),
        V(arp_tables), V(network_arp), V(link_shaping), V(link_matrix). O(state=absent) - V(vnodes), V(vnode_networks),
        V(network_arp), V(link_matrix), V(client_files),
        V(vxlan), V(networks), V(bridge), V(neigh_limits).
    type: list
    elements: str
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common.pyroute2
  - vxlab.emulation.common.pnode
notes:
  - The result holds every step's own result under RV(steps); the module reports a change when a
    step changed something.
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The data plane of this pnode
  vxlab.emulation.dataplane:
    pnode: "{{ vxlab_pnode }}"
    authorized_keys: "{{ lookup('file', vxlab_ssh_key ~ '.pub') }}"
    client_ssh_config: "{{ lookup('file', vxlab_platform_summary.plan_dir ~ '/client_ssh_config') }}"
    client_key: "{{ lookup('file', vxlab_ssh_key) }}"

- name: Remove the data plane of this pnode
  vxlab.emulation.dataplane:
    pnode: "{{ vxlab_pnode }}"
    state: absent

- name: Only the network part (no vnodes yet)
  vxlab.emulation.dataplane:
    pnode: "{{ vxlab_pnode }}"
    steps: [bridge, vxlan, neigh_limits]
"""

RETURN = r"""
steps:
  description: Each step's result, as the single-concern module returns it, by step name.
  returned: always
  type: dict
  sample: {"bridge": {"changed": false, "bridge": {"name": "vxlab-br"}}, "vnodes": {"changed": true}}
step:
  description: The step that failed.
  returned: failure
  type: str
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._dataplane import Dataplane
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(Dataplane())


if __name__ == "__main__":
    main()
