# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pnode's whole data plane in one module call (private to the collection).

The ``dataplane`` role used to run one task per concern (bridge, VXLAN, neighbour-table tuning,
vnodes, ARP tables, link shaping). Each task is one module execution per pnode: an SSH round
trip, a Python start, Ansible's and pyroute2's imports (~1 s of CPU), which made the controller's
cost grow by seconds per pnode. This module runs the same steps in one process:

* :func:`step_params` (pure, unit-tested as data) turns the plan's part for the pnode
  (``vxlab_pnode``, see ``Plan.pnode_facts``) into each step's module parameters, exactly as the
  single-concern modules document them;
* :func:`run` validates every step's parameters against that module's own argument spec first
  (nothing is touched when one is wrong), then runs the steps in order through their own
  ``run(module)`` (observe -> plan -> apply each), and returns every step's result, ``changed``
  if any step changed something, and the steps' diffs.

The single-concern modules stay the public building blocks; this is their composition.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vxlab.emulation.plugins.module_utils import (
    _arp_tuning,
    _bridge,
    _neigh_table,
    _shaping,
    _vnodes,
    _vxlan,
)

#: every step in the order it runs (the VXLAN port joins the bridge; vnodes join the bridge;
#: ARP tables and qdiscs are set inside existing vnodes)
STEPS = ("bridge", "vxlan", "arp_tuning", "vnodes", "neigh_table", "link_shaping")

#: each step's argument spec and ``run(module)``
_MODULES = {
    "bridge": _bridge,
    "vxlan": _vxlan,
    "arp_tuning": _arp_tuning,
    "vnodes": _vnodes,
    "neigh_table": _neigh_table,
    "link_shaping": _shaping,
}

ARGUMENT_SPEC = dict(
    pnode=dict(type="dict", required=True),
    authorized_keys=dict(type="str", default="", no_log=False),  # public keys
    image=dict(type="path"),
    shared_kernel=dict(type="bool", default=False),
    gateway_mac=dict(type="str"),
    steps=dict(type="list", elements="str", default=list(STEPS)),
)

#: the keys of the plan's part this module reads (a missing one is named before anything runs)
PNODE_KEYS = ("platform", "pnode", "bridge", "vxlan", "mtu", "is_gateway", "gateway", "prefixlen",
              "vni", "vxlan_port", "underlay_interface", "vtep", "vxlan_mode", "remote_vteps",
              "base_reachable_time_ms", "gc_stale_time", "gc_thresh", "pnode_state_dir",
              "vnode_kind", "vnodes", "neigh_layout", "gateway_pnode")


class DataplaneError(ValueError):
    pass


def step_params(p, steps=STEPS, authorized_keys="", image=None, shared_kernel=False, gateway_mac=None):
    """``{step: module parameters}`` for the plan part ``p`` of one pnode (pure)."""
    missing = [k for k in PNODE_KEYS if k not in p]
    if missing:
        raise DataplaneError("pnode: the plan's part lacks %s (pass vxlab_pnode as computed by "
                             "vxlab.emulation.plan)" % ", ".join(missing))
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise DataplaneError("steps: unknown step(s) %s (known: %s)" % (", ".join(unknown), ", ".join(STEPS)))
    arp_mode = p.get("arp_mode") or "dynamic"
    out = {}
    out["bridge"] = {
        "name": p["bridge"], "platform": p["platform"], "mtu": p["mtu"],
        "addresses": ["%s/%s" % (p["gateway"], p["prefixlen"])] if p["is_gateway"] else [],
        "forwarding": bool(p["is_gateway"]),
    }
    vx = {
        "name": p["vxlan"], "platform": p["platform"], "vni": p["vni"], "port": p["vxlan_port"],
        "underlay_interface": p["underlay_interface"], "local": p["vtep"], "mode": p["vxlan_mode"],
        "remote_vteps": p["remote_vteps"] if p["vxlan_mode"] == "unicast" else [],
        "mtu": p["mtu"], "master": p["bridge"],
        # suppress: the VXLAN device answers ARP from its own table (filled by neigh_table)
        "learning": arp_mode != "suppress", "proxy": arp_mode == "suppress",
    }
    if p.get("vxlan_group"):
        vx["group"] = p["vxlan_group"]
    out["vxlan"] = vx
    arp = {
        "platform": p["platform"], "base_reachable_time_ms": p["base_reachable_time_ms"],
        "gc_stale_time": p["gc_stale_time"], "interfaces": [p["underlay_interface"], p["bridge"]],
        "state_dir": p["pnode_state_dir"],
    }
    if not shared_kernel:
        # gc_thresh is global to a machine's initial namespace: on a testbed whose pnodes share
        # one kernel the control host sets it once for all of them
        arp.update(gc_thresh1=p["gc_thresh"][0], gc_thresh2=p["gc_thresh"][1], gc_thresh3=p["gc_thresh"][2])
    out["arp_tuning"] = arp
    vn = {
        "platform": p["platform"], "kind": p["vnode_kind"], "bridge": p["bridge"], "vnodes": p["vnodes"],
        "prefixlen": p["prefixlen"], "mtu": p["mtu"], "gateway": p["gateway"],
        "authorized_keys": authorized_keys, "state_dir": p["pnode_state_dir"],
        "cpu": p.get("vnode_cpu"), "cpuset": p.get("vnode_cpuset"), "memory": p.get("vnode_memory"),
    }
    if p["vnode_kind"] == "lxc":
        vn["image"] = image
    out["vnodes"] = vn
    nt = {
        "platform": p["platform"], "mode": arp_mode, "pnode": p["pnode"], "layout": p["neigh_layout"],
        "vxlan": p["vxlan"], "gateway_pnode": p["gateway_pnode"],
    }
    if gateway_mac:
        nt["gateway_mac"] = gateway_mac
    out["neigh_table"] = nt
    out["link_shaping"] = {"platform": p["platform"], "vnodes": p["vnodes"], "shaping": p.get("shaping") or {}}
    return dict((s, out[s]) for s in STEPS if s in steps)


class _StepExit(Exception):
    def __init__(self, result, failed):
        Exception.__init__(self, result.get("msg", ""))
        self.result = result
        self.failed = failed


class StepModule:
    """What a single-concern ``run(module)`` needs of AnsibleModule, for one step in-process:
    validated parameters, check and diff mode, warnings; exit/fail end the step, not the run."""

    def __init__(self, params, check_mode, diff, warn):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self._warn = warn

    def warn(self, text):
        self._warn(text)

    def exit_json(self, **result):
        raise _StepExit(result, False)

    def fail_json(self, **result):
        raise _StepExit(result, True)


def validated(step, params):
    """The step's parameters checked and completed (defaults, types) by its own argument spec."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    spec = _MODULES[step].ARGUMENT_SPEC
    res = ArgumentSpecValidator(spec).validate(dict(params))
    if res.error_messages:
        raise DataplaneError("%s: %s" % (step, "; ".join(res.error_messages)))
    if step == "vxlan" and res.validated_parameters.get("state", "present") == "present" \
            and res.validated_parameters.get("vni") is None:
        raise DataplaneError("vxlan: vni is required")
    return res.validated_parameters


def run(module):
    p = module.params
    try:
        wanted = step_params(p["pnode"], p["steps"], p["authorized_keys"], p.get("image"),
                             p["shared_kernel"], p.get("gateway_mac"))
        # every step's parameters are checked before the first one touches anything
        checked = [(step, validated(step, params)) for step, params in wanted.items()]
    except DataplaneError as exc:
        module.fail_json(msg="dataplane: %s" % exc)
    results, diffs = {}, []
    changed = False
    for step, params in checked:
        sub = StepModule(params, module.check_mode, module._diff,
                         lambda text, s=step: module.warn("%s: %s" % (s, text)))
        try:
            _MODULES[step].run(sub)
            raise _StepExit({"msg": "step ended without a result"}, True)
        except _StepExit as end:
            result = end.result
            if end.failed:
                module.fail_json(msg="%s: %s" % (step, result.get("msg", "failed")), step=step,
                                 changed=changed, steps=results)
        changed = changed or bool(result.get("changed"))
        diff = result.pop("diff", None)
        if isinstance(diff, dict):
            diffs.append(dict(diff, before_header=step, after_header=step))
        elif diff is not None:
            diffs.append({"before_header": step, "after_header": step, "before": "", "after": str(diff)})
        results[step] = result
    out = {"changed": changed, "steps": results}
    if module._diff:
        out["diff"] = diffs
    module.exit_json(**out)
