#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: neigh_limits
short_description: Size and age the neighbour (ARP) tables and the input backlog of a pnode for many vnodes
version_added: 0.1.0
description:
  - Sets the neighbour-table limits C(net.ipv4.neigh.default.gc_thresh1/2/3) (O(gc_thresh1),
    O(gc_thresh2), O(gc_thresh3)) and the aging values O(base_reachable_time_ms) and
    O(gc_stale_time), by default and per interface, so that a pnode can hold a neighbour entry
    for every vnode of the platform.
  - The limits and the neighbour entry counter are global to the whole machine and exist only in
    its initial network namespace. In a child network namespace (for example a pnode of the
    one-machine testbed) the limits cannot be set; the module then sets the per-interface aging
    values only, returns RV(gc_thresh_settable=false) and warns instead of failing.
  - Before it first changes a value, the module saves the original value in
    C(<state_dir>/neigh_limits.json) (O(state_dir)); O(state=absent) writes the originals back and
    removes the persisted sysctl.d file.
  - A second run with the same parameters changes nothing.
author:
  - vxlab developers (!UNKNOWN)
options:
  gc_thresh1:
    description:
      - Number of neighbour entries below which the garbage collector never runs.
      - O(gc_thresh1) <= O(gc_thresh2) <= O(gc_thresh3) must hold, also against the current
        values of those not given.
    type: int
  gc_thresh2:
    description: Soft limit of the number of neighbour entries.
    type: int
  gc_thresh3:
    description:
      - Hard limit of the number of neighbour entries of the whole machine (all namespaces).
      - Size it to the vnode traffic of the whole machine; beyond it sends fail with
        C(No buffer space available).
    type: int
  base_reachable_time_ms:
    description:
      - Base time in milliseconds a neighbour entry stays reachable after a confirmation.
      - The kernel keeps it in ticks and may read back a value rounded up by a few milliseconds.
      - Set on C(net.ipv4.neigh.default) (initial namespace only) and on every interface of
        O(interfaces).
    type: int
  gc_stale_time:
    description:
      - Seconds after which a stale neighbour entry may be garbage collected.
      - Set on C(net.ipv4.neigh.default) (initial namespace only) and on every interface of
        O(interfaces).
    type: int
  netdev_max_backlog:
    description:
      - C(net.core.netdev_max_backlog), the packets a CPU's input queue holds. A bridge copies
        every broadcast to each of its ports and every copy waits in that queue, so a burst of ARP
        requests on a pnode with hundreds of vnodes overflows the kernel default (1,000) and the
        requests and replies are dropped.
      - Global to the machine and settable from its initial network namespace only, like the
        limits (a child namespace warns instead); saved, restored, raised and persisted like them.
    type: int
  interfaces:
    description:
      - Interfaces of the current network namespace that get O(base_reachable_time_ms) and
        O(gc_stale_time) themselves (existing interfaces do not follow later changes of the
        defaults once they have their own value).
      - Every interface must exist when O(state=present).
    type: list
    elements: str
    default: []
  persist:
    description:
      - Whether to write the default values to O(sysctl_file) so that they survive a reboot.
      - V(auto) and V(yes) write it only where C(net.ipv4.neigh.default) exists, that is in the
        initial network namespace; V(yes) in a child namespace only warns.
      - V(no) removes a file this module wrote before.
      - Per-interface values are never persisted (the interfaces do not exist at boot).
    type: str
    choices: [auto, 'yes', 'no']
    default: auto
  sysctl_file:
    description:
      - The sysctl.d file written when persisting; it is replaced atomically.
      - A file of that name that this module did not write is never replaced nor removed.
      - Defaults to C(/etc/sysctl.d/60-vxlab-<platform>.conf).
    type: path
  platform:
    description: Name of the vxlab platform (used in the default file names).
    type: str
    default: vxlab
  state_dir:
    description:
      - Directory of C(neigh_limits.json), the original values saved before the first change.
      - Defaults to C(/var/lib/vxlab/<platform>).
    type: path
  state:
    description:
      - V(present) applies the values; V(absent) restores the saved originals and removes the
        persisted file and the saved originals.
    type: str
    choices: [present, absent]
    default: present
  policy:
    description:
      - V(exact) sets the values given and O(state=absent) restores the originals.
      - V(raise) is for a kernel several platforms share (for example the one-machine testbed);
        the initial namespace's defaults (C(net.ipv4.neigh.default.*)) are only ever raised, to
        the larger of the current and the wanted value, and are never lowered again, not even by
        O(state=absent) (another platform on the same kernel may rely on them). Per-interface
        values stay exact.
    type: str
    choices: [exact, raise]
    default: exact
extends_documentation_fragment:
  - vxlab.emulation.attributes
attributes:
  check_mode:
    details: Reports every change it would make, changes nothing.
  diff_mode:
    details: Returns the changed sysctls and the sysctl.d file before and after.
notes:
  - Needs root. Reads and writes C(/proc/sys/net/ipv4/neigh) of the network namespace the module
    runs in.
"""

EXAMPLES = r"""
- name: Room for 10,000 vnodes and ARP entries that stay for an hour
  vxlab.emulation.neigh_limits:
    gc_thresh1: 4096
    gc_thresh2: 16384
    gc_thresh3: 32768
    base_reachable_time_ms: 600000
    gc_stale_time: 3600
    interfaces: ["{{ vxlab_pnode.bridge }}"]
    platform: "{{ vxlab_pnode.platform }}"
    state_dir: "{{ vxlab_pnode.pnode_state_dir }}"

- name: Put the original values back
  vxlab.emulation.neigh_limits:
    platform: "{{ vxlab_pnode.platform }}"
    state_dir: "{{ vxlab_pnode.pnode_state_dir }}"
    state: absent
"""

RETURN = r"""
sysctls:
  description:
    - The values the module applied (O(state=present)) or restored (O(state=absent)), by sysctl
      name; a dot in an interface name is written C(/), as sysctl(8) does.
  returned: always
  type: dict
  sample: {"net.ipv4.neigh.default.gc_thresh3": 32768, "net.ipv4.neigh.vxlab-br.gc_stale_time": 3600}
gc_thresh_settable:
  description:
    - Whether the neighbour-table limits can be set here (false in a child network namespace).
  returned: always
  type: bool
  sample: true
sysctl_file:
  description: The persisted sysctl.d file, or null when nothing is persisted.
  returned: always
  type: str
  sample: /etc/sysctl.d/60-vxlab-vxlab.conf
state_file:
  description: Where the original values are saved.
  returned: always
  type: str
  sample: /var/lib/vxlab/vxlab/arp_tuning.json
policy:
  description: The policy applied (V(exact) or V(raise)).
  returned: always
  type: str
  sample: raise
kept:
  description:
    - With O(policy=raise) and O(state=absent), the shared values left as they are (not lowered
      back to the saved originals), by sysctl name.
  returned: when such values exist
  type: dict
  sample: {"net.ipv4.neigh.default.gc_thresh3": 8192}
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._neigh_limits import NeighLimits
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(NeighLimits())


if __name__ == "__main__":
    main()
