# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of ``vxlab.emulation.control``: on a local connection the module's concern runs in the
controller's own process (the control host is the controller); elsewhere, the module runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.vxlab.emulation.plugins.module_utils._control import Control
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Failure, check_params, execute


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        if self._connection.transport != "local" or self._play_context.become:
            result.update(self._execute_module(module_name="vxlab.emulation.control",
                                               module_args=self._task.args, task_vars=task_vars))
            return result
        warnings = []
        concern = Control()
        try:
            params = check_params(concern, self._task.args)
            result.update(execute(concern, params, bool(self._task.check_mode), bool(self._task.diff),
                                  warnings.append))
        except Failure as failure:
            result.update(failure.extra)
            result.update(failed=True, msg=failure.msg)
        if warnings:
            result["warnings"] = warnings
        return result
