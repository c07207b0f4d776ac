# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control host's side of a platform in one call (private to the collection).

The ``control`` role used to run five tasks on the control host (the key directories, two
``ssh-keygen`` runs, the shared kernel's neighbour limits, the route to the vnode network): five
module executions, each a Python start and Ansible's imports (~0.3-0.5 s each), paid by every
deploy and destroy however small the platform. :class:`Control` composes the same steps:

* ``keys``: the platform's SSH key pairs (:class:`Keys`: directories mode 0700, ``ssh-keygen``
  only for a missing private key; a key that exists is never rewritten);
* ``neigh_limits``: the :class:`~_neigh_limits.NeighLimits` concern, with the parameters of its
  module (the one-machine testbed only);
* ``route``: the :class:`~_route.Route` concern (``vxlab_control_access=route``).

Each step is checked against its own argument spec before the first one runs, then run by the
runner exactly as its module would. The ``vxlab.emulation.control`` action runs this in the
controller's process when the connection is local (no module execution at all).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

from ansible_collections.vxlab.emulation.plugins.module_utils._neigh_limits import NeighLimits
from ansible_collections.vxlab.emulation.plugins.module_utils._route import Route
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import (
    Change,
    Concern,
    Failure,
    check_params,
    execute,
)

ARGUMENT_SPEC = dict(
    platform=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    keys=dict(type="list", elements="dict", default=[], no_log=False),  # key file paths, not keys
    neigh_limits=dict(type="dict"),
    route=dict(type="dict"),
    netns=dict(type="str"),
)

#: the steps in the order they run, for each state (a key exists before anything uses it; the
#: route goes first on the way out)
ORDER = {"present": ("keys", "neigh_limits", "route"), "absent": ("route", "neigh_limits")}

KEY_SPEC = dict(
    path=dict(type="path", required=True),
    comment=dict(type="str", default=""),
)


class Keys(Concern):
    """The ``keys`` step: an ed25519 key pair without passphrase at every ``path`` (mode 0600,
    ``path.pub`` beside it), in a directory of mode 0700."""

    NAME = "keys"
    ARGUMENT_SPEC = dict(keys=dict(type="list", elements="dict", options=KEY_SPEC, required=True, no_log=False))
    NEEDS = ()

    def validate(self, params):
        keys = []
        for k in params["keys"]:
            path = os.path.expanduser(k["path"])
            if not os.path.isabs(path):
                raise ValueError("keys: path %r is not absolute" % k["path"])
            keys.append({"path": path, "comment": k.get("comment") or ""})
        return keys

    def observe(self, ctx, desired):
        return {"dirs": dict((os.path.dirname(k["path"]), os.path.isdir(os.path.dirname(k["path"])))
                             for k in desired),
                "keys": dict((k["path"], os.path.exists(k["path"])) for k in desired)}

    def diff(self, ctx, desired, observed):
        actions = [("mkdir", d) for d, there in sorted(observed["dirs"].items()) if not there]
        actions += [("keygen", k["path"], k["comment"]) for k in desired if not observed["keys"][k["path"]]]
        done = "".join("%s %s\n" % (a[0], a[1]) for a in actions)
        return Change(actions=actions, changed=bool(actions),
                      diff={"before": "", "after": done, "before_header": "keys", "after_header": "keys"})

    def apply(self, ctx, desired, observed, change):
        for action in change.actions:
            if action[0] == "mkdir":
                os.makedirs(action[1], 0o700, exist_ok=True)
                os.chmod(action[1], 0o700)
            else:
                proc = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", action[2],
                                       "-f", action[1]], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
                if proc.returncode != 0:
                    raise Failure("keys: ssh-keygen -f %s failed (exit %d): %s"
                                  % (action[1], proc.returncode, proc.stdout.decode(errors="replace").strip()))

    def result(self, ctx, desired, observed, change):
        return {"made": [a[1] for a in change.actions if a[0] == "keygen"],
                "directories": [a[1] for a in change.actions if a[0] == "mkdir"]}

    def describe(self, exc, desired):
        return "keys: %s" % exc


CONCERNS = {"keys": Keys(), "neigh_limits": NeighLimits(), "route": Route()}


class Control(Concern):
    """The ``vxlab.emulation.control`` concern: the steps given (a step without parameters is
    not run), each by the runner in turn."""

    NAME = "control"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ()

    def validate(self, params):
        state = params["state"]
        steps = {}
        if state == "present" and params.get("keys"):
            steps["keys"] = {"keys": params["keys"]}
        for step in ("neigh_limits", "route"):
            if params.get(step) is not None:
                steps[step] = dict(params[step], platform=params["platform"], state=state)
        checked = []
        for step in ORDER[state]:
            if step in steps:
                try:
                    params = check_params(CONCERNS[step], steps[step])
                    CONCERNS[step].validate(params)  # pure: every value checked before any step runs
                except Failure as failure:
                    raise ValueError("control: %s: %s" % (step, failure.msg))
                except ValueError as exc:
                    raise ValueError("control: %s: %s" % (step, exc))
                checked.append((step, params))
        return checked

    def diff(self, ctx, desired, observed):
        results, diffs, changed = {}, [], False
        for step, params in desired:
            try:
                result = execute(CONCERNS[step], params, ctx.check_mode, ctx.diff_mode,
                                 lambda text, s=step: ctx.warn("%s: %s" % (s, text)))
            except Failure as failure:
                raise Failure("control: %s: %s" % (step, failure.msg), step=step, changed=changed,
                              steps=results)
            changed = changed or bool(result.get("changed"))
            diff = result.pop("diff", None)
            if isinstance(diff, dict) and (result.get("changed") or step != "keys"):
                diffs.append(dict(diff, before_header=step, after_header=step))
            results[step] = result
        return Change(actions=results, changed=changed, diff=diffs, applied=True)

    def result(self, ctx, desired, observed, change):
        return {"steps": change.actions}
