#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vnodes
short_description: Create or remove all the vnodes of a vxlab pnode in one call
version_added: 0.1.0
description:
  - Makes the vnodes of one pnode exactly the given list, in one process and without a process
    per vnode (namespaces and veths are made through netlink, C(setns) and bind mounts).
  - With O(kind=netns), each vnode is a named network namespace called exactly like the vnode, with
    a veth whose host side O(vnodes[].host_if) is enslaved to O(bridge) and whose peer C(eth0)
    inside the vnode has the planned MAC and address; C(lo) is up; the default route goes via
    O(gateway).
  - With O(state=present) it creates what is missing, repairs drift (MAC, address, MTU, master,
    link down, missing default route, broken veth) and removes the vnodes of this platform that are
    no longer listed (pnode shrink).
  - Owned objects only. Namespaces it created are listed in C(<state_dir>/vnodes-netns.json)
    (written before any namespace is created); host-side veths carry the alias
    C(vxlab:<platform>). Anything else is never modified; a name clash fails before any change.
  - Vnodes are IPv4-only. Netns vnodes get no IPv6 address on C(eth0) nor on the host side
    (address generation mode none, set by netlink; C(lo) keeps C(::1)); otherwise every new
    port's IPv6 start-up traffic is flooded to all bridge ports.
  - With O(ssh), one SSH multiplexer daemon per pnode and platform listens on C(<address>:22) in
    every vnode namespace and starts C(sshd -i) per connection (no idle sshd per vnode).
options:
  state:
    description:
      - V(present) makes the vnodes exactly O(vnodes); V(absent) removes every vnode of this
        platform known from the state file or from veths carrying the owner alias, and stops the
        platform's SSH daemon.
    type: str
    choices: [present, absent]
    default: present
  kind:
    description:
      - Vnode kind. V(netns) is a bare network namespace (dense, no processes of its own); V(lxc) is
        an LXC container (Distem's kind) with its own filesystem view and sshd, see the notes.
      - Changing the kind of a deployed pnode fails with a clear message; remove the vnodes first
        (O(state=absent) removes both kinds).
    type: str
    choices: [netns, lxc]
    default: netns
  bridge:
    description: The pnode bridge the host sides are enslaved to. Required when O(vnodes) is not empty.
    type: str
  vnodes:
    description:
      - The pnode's vnodes, as the address plan gives them (C(vxlab_pnode.vnodes)).
      - Names, addresses, MACs and host interface names must be unique. Keys C(pnode) and
        C(index) are accepted and ignored.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Vnode name, also its namespace name (1-64 of A-Z a-z 0-9 . _ -).
        type: str
        required: true
      address:
        description: IPv4 address of C(eth0).
        type: str
        required: true
      mac:
        description: MAC address of C(eth0).
        type: str
        required: true
      host_if:
        description: Name of the host side of the veth (at most 15 characters).
        type: str
        required: true
      cpu:
        description: This vnode's CPU limit (O(kind=lxc)), overriding O(cpu).
        type: raw
      cpuset:
        description: This vnode's CPU pinning (O(kind=lxc)), overriding O(cpuset).
        type: str
      memory:
        description: This vnode's memory limit (O(kind=lxc)), overriding O(memory).
        type: raw
  prefixlen:
    description: Prefix length of the vnode addresses. Required when O(vnodes) is not empty.
    type: int
  mtu:
    description: MTU of both veth ends. Not managed when omitted.
    type: int
  gateway:
    description: Default gateway inside every vnode; no default route when V(null).
    type: str
  ssh:
    description: Run the SSH multiplexer for the vnodes (stopped when V(false)).
    type: bool
    default: true
  authorized_keys:
    description: Public key lines allowed to log in as root on the vnodes.
    type: str
    default: ""
  host_key:
    description:
      - The host key every vnode presents (an unencrypted OpenSSH private key, text), so that one
        C(known_hosts) line trusts the whole platform, also once it is rebuilt. netns vnodes - the
        SSH multiplexer's C(sshd -i) uses it; LXC vnodes - bind-mounted read-only and given to
        their sshd.
      - Not given - netns vnodes present a key generated once per pnode and platform, LXC vnodes
        the keys of their image.
    type: str
  state_dir:
    required: true
  image:
    description:
      - O(kind=lxc) only, required with vnodes. The base root filesystem directory every container
        mounts as the lower layer of its overlay (the RV(vxlab.emulation.lxc_image#module:rootfs)
        returned by M(vxlab.emulation.lxc_image)); each vnode writes to its own delta.
    type: str
  cpu:
    description:
      - O(kind=lxc) only. CPU limit of every vnode as a fraction of one core (V(0.25) is 25 ms of CPU
        time per 100 ms, Distem's vcore/pcore frequency ratio); V(null) is no limit. Applied through
        cgroup v1 C(cpu.cfs_quota_us)/C(cpu.cfs_period_us) or v2 C(cpu.max), whichever the host
        has, at start (LXC configuration) and live on running vnodes.
    type: raw
  cpuset:
    description: O(kind=lxc) only. CPUs the vnodes may run on (C(cpuset.cpus), e.g. V(0) or V(0-1)).
    type: str
  memory:
    description:
      - O(kind=lxc) only. Memory limit of every vnode (V(512M), V(1G) or bytes; at least V(4M));
        v1 C(memory.limit_in_bytes) or v2 C(memory.max).
    type: raw
  window:
    description: O(kind=lxc) only. At most this many C(lxc-start)/C(lxc-stop) commands at once.
    type: int
    default: 16
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common
  - vxlab.emulation.common.state_dir
notes:
  - O(state_dir) must be owned by root and not group/world-writable when O(ssh) is V(true) (sshd
    StrictModes).
  - With O(kind=lxc) the containers live in C(<state_dir>/lxc) (everything there belongs to this
    platform), each on C(overlay:IMAGE:<state_dir>/lxc/<vnode>/delta), with a veth into O(bridge)
    whose host side is O(vnodes[].host_if) (alias C(vxlab:<platform>)), the planned MAC, address, MTU and
    default route, and C(sshd -D) as init listening on the vnode address only (root, keys only, the
    platform keys from C(<state_dir>/lxc-authorized_keys) bind-mounted read-only).
  - LXC vnodes have no tty and no console (C(lxc.tty.max = 0), C(lxc.console.path = none)) and run
    with C(lxc.apparmor.profile = unconfined).
  - A running LXC vnode's network namespace is published as C(/run/netns/<vnode>), so tools that
    work on netns vnodes by name work on LXC vnodes too.
  - Stopped LXC vnodes are started; frozen ones are left frozen (see M(vxlab.emulation.vnode_state)).
    A drift of the LXC configuration restarts the vnode; a drift of links, addresses, routes and
    cgroup limits is repaired in place. The diff lists vnode names and, per repaired vnode,
    the drifted properties.
  - A Linux bridge takes at most 1,023 ports, so at most 1,022 vnodes per call.
requirements:
  - pyroute2 on the managed node
  - LXC 4 or later (C(lxc-start), C(lxc-stop), C(lxc-ls)) for O(kind=lxc)
  - OpenSSH server (C(/usr/sbin/sshd)) when O(ssh) is V(true)
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: All the vnodes of this pnode
  vxlab.emulation.vnodes:
    platform: "{{ vxlab_pnode.platform }}"
    kind: "{{ vxlab_pnode.vnode_kind }}"
    bridge: "{{ vxlab_pnode.bridge }}"
    vnodes: "{{ vxlab_pnode.vnodes }}"
    prefixlen: "{{ vxlab_pnode.prefixlen }}"
    mtu: "{{ vxlab_pnode.mtu }}"
    gateway: "{{ vxlab_pnode.gateway }}"
    authorized_keys: "{{ lookup('file', vxlab_ssh_key ~ '.pub') }}"
    state_dir: "{{ vxlab_pnode.pnode_state_dir }}"

- name: LXC vnodes capped at a quarter of a core
  vxlab.emulation.vnodes:
    platform: "{{ vxlab_pnode.platform }}"
    kind: lxc
    image: "{{ image.rootfs }}"
    cpu: 0.25
    bridge: "{{ vxlab_pnode.bridge }}"
    vnodes: "{{ vxlab_pnode.vnodes }}"
    prefixlen: "{{ vxlab_pnode.prefixlen }}"
    mtu: "{{ vxlab_pnode.mtu }}"
    gateway: "{{ vxlab_pnode.gateway }}"
    authorized_keys: "{{ lookup('file', vxlab_ssh_key ~ '.pub') }}"
    state_dir: "{{ vxlab_pnode.pnode_state_dir }}"

- name: Remove them
  vxlab.emulation.vnodes:
    platform: vxlab
    state: absent
    state_dir: /var/lib/vxlab/vxlab/pnode-1
"""

RETURN = r"""
vnodes:
  description: What the run did (would do, in check mode).
  returned: always
  type: dict
  contains:
    created: {description: Names of the vnodes created., type: list, elements: str, returned: always}
    repaired: {description: Names of the vnodes whose drift was repaired (or whose veth was re-made)., type: list, elements: str, returned: always}
    removed: {description: Names of the vnodes removed., type: list, elements: str, returned: always}
    total: {description: Number of vnodes wanted (present after the run)., type: int, returned: always}
    started: {description: "O(kind=lxc): names of the vnodes (re)started.", type: list, elements: str, returned: when O(kind=lxc)}
  sample: {created: [vxlab-1, vxlab-2], repaired: [], removed: [], total: 2}
ssh:
  description: Summary of the SSH multiplexer after the run (null when it was not consulted).
  returned: always
  type: dict
diff:
  description: "C(vnodes): names before/after; C(vnode:<name>): drifted properties; C(ssh)."
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import Vnodes


def main():
    run_module(Vnodes())


if __name__ == "__main__":
    main()
