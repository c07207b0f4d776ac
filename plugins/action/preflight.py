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
from ansible.executor.interpreter_discovery import discover_interpreter
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
        try:
            python = self._interpreter(task_vars, facts)
        except AnsibleConnectionFailure as exc:
            facts["vxlab_preflight"] = {"mtu": None, "pyroute2": True, "ready": True, "unreachable": to_text(exc)}
            result["ansible_facts"] = facts
            return result
        cmd = "%s -c %s" % (shlex.quote(python), shlex.quote(preflight.SCRIPT))
        try:
            res = self._low_level_execute_command(cmd, in_data=preflight.script_input(part))
        except AnsibleConnectionFailure as exc:
            # left to the data plane play, where this pnode fails alone (as unreachable)
            facts["vxlab_preflight"] = {"mtu": None, "pyroute2": True, "ready": True, "unreachable": to_text(exc)}
            result["ansible_facts"] = facts
            return result
        observed, why = preflight.parse(res.get("rc"), to_text(res.get("stdout", "")),
                                        to_text(res.get("stderr", "")), python, host)
        if observed is not None:
            why = preflight.refusal(part, observed, host)
            facts["vxlab_preflight"] = dict(observed, python=python, ready=preflight.ready(observed))
        result["ansible_facts"] = facts
        if why:
            result.update(failed=True, msg=why)
        return result

    def _interpreter(self, task_vars, facts):
        """The modules' interpreter on this pnode: ``python`` when given (the inventory's
        ``ansible_python_interpreter``), else the one Ansible discovers, as its modules would: the
        first of ``ansible_interpreter_python_fallback`` that exists (``playbooks/group_vars``
        puts pnode_prepare's venv first, so a prepared pnode keeps using it on every run). A
        discovery made here is kept as the fact Ansible keeps, so the later tasks reuse it."""
        python = self._task.args.get("python")
        if python and not python.startswith("auto"):
            return python
        known = (task_vars.get("ansible_facts") or {}).get("discovered_interpreter_python")
        if known:
            return known
        python = discover_interpreter(action=self, interpreter_name="python", discovery_mode="auto_silent",
                                      task_vars=task_vars)
        facts["discovered_interpreter_python"] = python
        return python
