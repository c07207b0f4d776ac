#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fault
short_description: Inject or remove faults on one vxlab pnode (vnode down, link cut, degradation, pnode off the overlay)
version_added: 0.1.0
description:
  - Applies a list of fault events on one pnode in one call. Every pnode receives the whole list
    and acts on the events that concern it; the others are ignored.
  - V(vnode_down)/V(vnode_up) set a netns vnode's host-side veth down or up; an LXC vnode's
    container is stopped or started again (same configuration, address and MAC) by the code of
    M(vxlab.emulation.vnode_state).
  - V(link_cut)/V(link_restore) detach the vnode's host-side veth from the bridge or attach it again.
  - V(degrade) shapes both ends of the vnode's veth with C(rate) (tbf) and/or C(delay)/C(loss)
    (netem), with the units and qdisc trees of M(vxlab.emulation.link_shaping); on a kernel without
    netem, delay and loss are refused with a clear error before any change. V(undegrade) removes
    the shaping this module added (root qdisc handle C(fa17:)). A link shaped by
    M(vxlab.emulation.link_shaping) (handle C(7a1:)) is refused, and link shaping refuses a
    degraded link, so neither replaces the other's qdiscs.
  - V(pnode_off)/V(pnode_on) take a pnode off the overlay and back; on the target pnode its VXLAN
    interface goes down or up, on the other pnodes (unicast mode) the flood FDB entry of its VTEP
    is removed or added again.
  - V(freeze)/V(unfreeze) suspend and resume an LXC vnode's processes (its kernel still answers
    ping, its sshd does not answer); they are refused for netns vnodes.
  - Events are replayed in order on the observed state, so each event reports its own
    RV(events[].changed), RV(events[].before) and RV(events[].after); only the net difference is
    written to the system.
  - Only objects owned by the platform (alias C(vxlab:<platform>)) are touched.
options:
  pnode:
    description: Name of this pnode (the target of its own V(pnode_off)/V(pnode_on) events).
    type: str
    required: true
  vnode_kind:
    description:
      - Kind of the platform's vnodes.
      - V(lxc) vnodes need O(state_dir) for V(vnode_down), V(vnode_up), V(freeze) and V(unfreeze).
    type: str
    choices: [netns, lxc]
    default: netns
  bridge:
    description: The pnode's bridge.
    type: str
    required: true
  vxlan:
    description: The pnode's VXLAN interface.
    type: str
    required: true
  vxlan_mode:
    description: VXLAN mode of the platform (FDB entries exist in unicast mode only).
    type: str
    choices: [unicast, multicast]
    default: unicast
  vnodes:
    description: This pnode's vnodes, each C({name, host_if}) (extra keys are ignored).
    type: list
    elements: dict
    default: []
  vteps:
    description: "Every pnode of the platform and its VTEP address, C({pnode: address})."
    type: dict
    default: {}
  events:
    description:
      - Events in the order they happen, each C({action, target}) plus, for V(degrade), at least
        one of C(rate) (e.g. V(10mbit)), C(delay) (e.g. V(20ms)), C(loss) (e.g. V(1%)); an optional
        C(id) is returned with the event's result (RV(events[].id)).
      - Short action names are accepted too (V(down), V(up), V(cut), V(restore), V(off), V(on)).
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common
  - vxlab.emulation.common.state_dir
notes:
  - Qdiscs are written through netlink; LXC vnodes are driven with the C(lxc-*) commands
    (argument lists, never a shell).
requirements:
  - pyroute2 on the managed node; LXC for LXC vnodes
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Take vnode tb-3 down and cut the link of tb-4
  vxlab.emulation.fault:
    platform: "{{ vxlab_pnode.platform }}"
    pnode: "{{ inventory_hostname }}"
    bridge: "{{ vxlab_pnode.bridge }}"
    vxlan: "{{ vxlab_pnode.vxlan }}"
    vnodes: "{{ vxlab_pnode.vnodes }}"
    events:
      - {action: vnode_down, target: tb-3}
      - {action: link_cut, target: tb-4}

- name: Degrade the link of tb-5 to 1 Mbit/s
  vxlab.emulation.fault:
    platform: tb
    pnode: "{{ inventory_hostname }}"
    bridge: tb-br
    vxlan: tb-vx
    vnodes: "{{ vxlab_pnode.vnodes }}"
    events:
      - {action: degrade, target: tb-5, rate: 1mbit}
"""

RETURN = r"""
events:
  description: The events that concern this pnode, in order, each with its effect.
  returned: always
  type: list
  elements: dict
  contains:
    id: {description: The event's id (its position when none was given)., type: int, returned: always}
    action: {description: Normalised action name., type: str, returned: always}
    target: {description: The vnode or pnode., type: str, returned: always}
    scope: {description: "V(vnode), V(self) (this pnode is the target) or V(remote) (FDB of another pnode).", type: str, returned: always}
    pnode: {description: This pnode., type: str, returned: always}
    changed: {description: Whether this event changed the state it acts on., type: bool, returned: always}
    before: {description: The state before the event., type: dict, returned: always}
    after: {description: The state after the event., type: dict, returned: always}
actions:
  description: The net changes made (planned, in check mode).
  returned: always
  type: list
  elements: list
diff:
  description: State of every object that differs, before and after.
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._fault import Fault
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(Fault())


if __name__ == "__main__":
    main()
