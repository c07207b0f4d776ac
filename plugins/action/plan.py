# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: validate the whole platform, return this pnode's part of the plan."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile

from ansible.plugins.action import ActionBase

from ansible_collections.vxlab.emulation.plugins.module_utils._plan import (
    PlanError,
    plan_from_hostvars,
)
from ansible_collections.vxlab.emulation.plugins.plugin_utils._inventory import client_ssh_config_text

#: in the plan directory beside the pnodes' parts: what every pnode copies to its client_dir
CLIENT_SSH_CONFIG = "client_ssh_config"


def _pnode_vars(hostvars, name):
    """Only the variables the plan reads: reading all hostvars would template everything."""
    hv = hostvars[name]
    wanted = {}
    for key in hv.keys():
        if key.startswith("vxlab_") or key == "ansible_host":
            wanted[key] = hv[key]
    return wanted


def _write_parts(plan, with_vnodes):
    """Write every pnode's part of the plan under a directory named after the plan's digest,
    and the vnodes' client ssh_config (:data:`CLIENT_SSH_CONFIG`)."""
    root = os.path.join(os.path.expanduser(os.environ.get("XDG_CACHE_HOME", "~/.cache")),
                        "vxlab", "plans")
    # the whole validated spec, not only the plan's JSON: the parts also carry state_dir, image,
    # limits and neighbour timers (sets as sorted lists: the same spec, the same digest)
    spec = json.dumps(dataclasses.asdict(plan.spec), sort_keys=True, default=sorted)
    digest = hashlib.sha256(("v3|%s|%s" % (spec, with_vnodes)).encode()).hexdigest()[:24]
    target = os.path.join(root, digest)
    if os.path.isdir(target):
        return target
    os.makedirs(root, mode=0o700, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".%s-" % digest, dir=root)
    for p in plan.pnodes:
        with open(os.path.join(tmp, p.name + ".json"), "w") as f:
            json.dump(plan.pnode_facts(p.name, with_vnodes=with_vnodes), f, sort_keys=True)
    with open(os.path.join(tmp, CLIENT_SSH_CONFIG), "w") as f:
        f.write(client_ssh_config_text(plan))
    try:
        os.rename(tmp, target)
    except OSError:  # another run wrote the same plan first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("group", "with_vnodes"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        group = self._task.args.get("group", "pnodes")
        with_vnodes = self._task.args.get("with_vnodes", True)
        names = list(task_vars.get("groups", {}).get(group, []))
        me = task_vars.get("inventory_hostname")
        hostvars = task_vars.get("hostvars", {})
        try:
            plan = plan_from_hostvars(names, lambda n: _pnode_vars(hostvars, n))
        except PlanError as exc:
            result.update(failed=True, msg="invalid platform: %s" % exc,
                          variable=exc.variable, host=exc.host)
            return result
        result["changed"] = False
        facts = {}
        plan_dir = None
        if self._task.run_once:
            # run_once results reach every host of the play, so they must stay small: each pnode's
            # part goes to a content-addressed file on the controller, read by that pnode's play.
            plan_dir = _write_parts(plan, bool(with_vnodes))
        elif me in names:
            facts["vxlab_pnode"] = plan.pnode_facts(me, with_vnodes=bool(with_vnodes))
        s = plan.spec
        facts["vxlab_platform_summary"] = {
            "platform": s.platform,
            "pnodes": len(s.pnodes),
            "vnodes": s.total_vnodes,
            "network": s.vnode_network,
            "gateway": plan.gateway,
            "gateway_pnode": s.gateway_pnode,
            "gateway_vtep": plan.pnode(s.gateway_pnode).vtep,
            "vxlan_mode": s.vxlan_mode,
            "vnode_kind": s.vnode_kind,
            "control_access": s.control_access,
            "ssh_key": s.ssh_key,
            "ssh_host_key": s.ssh_host_key,
            "state_dir": s.state_dir,
            "gc_thresh": list(s.gc_thresh),
            "base_reachable_time_ms": s.base_reachable_time_ms,
            "gc_stale_time": s.gc_stale_time,
            # a kernel holding every vnode's port: the one-machine testbed's control host
            "netdev_max_backlog": plan.netdev_max_backlog(s.total_vnodes),
            "plan_dir": plan_dir,
            # emulated topology: data networks (name, cidr, vni, mtu) and what no router reaches
            "networks": plan.networks(),
            "warnings": plan.warnings(),
        }
        warnings = plan.warnings()
        if warnings:
            result["warnings"] = warnings
        result["ansible_facts"] = facts
        return result
