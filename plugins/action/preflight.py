# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of ``vxlab.emulation.preflight``: this pnode's part of the plan (read on the controller)
and one read of the pnode, in one task per pnode (what a set_fact, a command and a refusal task
did before: the controller pays a worker per pnode for every task, skipped or not)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shlex

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.vxlab.emulation.plugins.module_utils._plan import preflight


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("plan_dir", "python"))
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname")
        plan_dir = self._task.args.get("plan_dir")
        python = self._task.args.get("python") or "/usr/bin/python3"
        if not plan_dir:
            result.update(failed=True, msg="plan_dir is required (vxlab_platform_summary.plan_dir)")
            return result
        try:
            with open(os.path.join(plan_dir, "%s.json" % host)) as f:
                part = json.load(f)
        except (IOError, OSError, ValueError) as exc:
            result.update(failed=True, msg="pnode %s: no part of the plan in %s: %s" % (host, plan_dir, exc))
            return result
        result["changed"] = False
        facts = {"vxlab_pnode": part}
        cmd = "%s -c %s" % (shlex.quote(python), shlex.quote(preflight.SCRIPT))
        try:
            res = self._low_level_execute_command(cmd, in_data=preflight.script_input(part))
        except AnsibleConnectionFailure as exc:
            # left to the data plane play, where this pnode fails alone (as unreachable)
            facts["vxlab_preflight"] = {"mtu": None, "pyroute2": True, "unreachable": to_text(exc)}
            result["ansible_facts"] = facts
            return result
        observed, why = preflight.parse(res.get("rc"), to_text(res.get("stdout", "")),
                                        to_text(res.get("stderr", "")), python, host)
        if observed is not None:
            why = preflight.refusal(part, observed, host)
            facts["vxlab_preflight"] = observed
        result["ansible_facts"] = facts
        if why:
            result.update(failed=True, msg=why)
        return result
