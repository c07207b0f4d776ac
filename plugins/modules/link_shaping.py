#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: link_shaping
short_description: Bandwidth, latency, jitter and loss of the vnodes of a vxlab pnode (tc)
version_added: 0.1.0
description:
  - Shapes the link of every vnode of a pnode in one call, per vnode, with C(tc) qdiscs set through
    netlink.
  - Traffic out of a vnode (settings C(rate), C(delay), C(jitter), C(loss)) is shaped by an egress
    qdisc on the vnode's own interface (O(interface)), inside its network namespace (the other end
    of its veth); traffic into the vnode (C(ingress_rate), C(ingress_delay), C(ingress_jitter),
    C(ingress_loss)) by an egress qdisc on the host-side veth. No IFB device or redirect is needed.
  - A rate is a C(tbf) at the root; delay, jitter and loss a C(netem) (inside the C(tbf) when both are
    set). Values accept tc units (V(10mbit), V(1gbit), V(125kbps) for bytes/s, V(5ms), V(250us),
    V(0.1%)) and are normalised before comparing, so a re-run changes nothing.
  - A device whose qdiscs differ from the wanted ones is rebuilt; a device with no settings gets its
    default qdisc back. A root qdisc that vxlab did not make (handle other than C(7a1:)) is never
    replaced.
  - A kernel without a needed qdisc kind (for example no C(netem)) gives one error before anything
    is changed.
options:
  state:
    description: V(absent) removes the shaping of every listed vnode.
    type: str
    choices: [present, absent]
    default: present
  vnodes:
    description:
      - The pnode's vnodes, C({name, host_if}) plus C(netns) (named namespace or path, default the
        vnode's name) or C(pid) (the namespace of that process, e.g. an LXC container's init).
    type: list
    elements: dict
    required: true
  shaping:
    description:
      - Settings per vnode name (C(vxlab_pnode.shaping) of the plan), each a dict among C(rate),
        C(delay), C(jitter), C(loss), C(ingress_rate), C(ingress_delay), C(ingress_jitter),
        C(ingress_loss). A vnode without an entry is not shaped (unless O(default) says so).
    type: dict
    default: {}
  default:
    description: Settings for every vnode of O(vnodes), overridden key by key by O(shaping).
    type: dict
  interface:
    description: The vnodes' own interface.
    type: str
    default: eth0
extends_documentation_fragment:
  - vxlab.emulation.attributes
  - vxlab.emulation.common.pyroute2
  - vxlab.emulation.common
attributes:
  check_mode:
    details: Reads every device and reports what would change; changes nothing.
  diff_mode:
    details: Per vnode direction (C(<vnode>:out), C(<vnode>:in)), the qdiscs before and after.
notes:
  - Needs root and pyroute2 on the pnode.
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Links of the vnodes as the plan says
  vxlab.emulation.link_shaping:
    platform: "{{ vxlab_pnode.platform }}"
    vnodes: "{{ vxlab_pnode.vnodes }}"
    shaping: "{{ vxlab_pnode.shaping }}"

- name: 10 Mbit/s each way and 5 ms of latency out of every vnode
  vxlab.emulation.link_shaping:
    platform: demo
    vnodes: [{name: demo-1, host_if: demo-1}, {name: demo-2, host_if: demo-2}]
    default: {rate: 10mbit, ingress_rate: 10mbit, delay: 5ms}
"""

RETURN = r"""
shaped:
  description: Names of the vnodes that have settings.
  returned: always
  type: list
  elements: str
settings:
  description: Normalised settings of the shaped vnodes (rates in bit/s, times in microseconds, loss in percent).
  returned: always
  type: dict
  sample: {"demo-1": {"rate": 10000000, "delay": 5000}}
diff:
  description: Per changed vnode direction, the qdisc tree before and after.
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._link_shaping import LinkShaping
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(LinkShaping())


if __name__ == "__main__":
    main()
