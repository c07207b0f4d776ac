# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vnodes (private to the collection): the ``vxlab.emulation.vnodes`` concern and its kinds.

* ``common``: what both kinds share (validation, the in-namespace view and its repairs);
* ``netns``: bare network namespaces, SSH through ``sshmux`` (one daemon per pnode);
* ``lxc``: LXC containers (``containers``: LXC's commands and configuration; ``cgroups``: their
  CPU and memory limits), each with its own sshd;
* :class:`Vnodes`: the concern the runner drives; the kind is chosen once, from ``kind``. A pnode
  holds the vnodes of one kind per platform: changing the kind of a deployed platform is refused
  until it is removed (``state: absent`` removes both kinds).

Lower layers only: the base layer, the kernel layer, the runner. Nothing here imports a concern.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern, Failure
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import common
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import containers
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import lxc
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import netns
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import sshmux

ARGUMENT_SPEC = common.ARGUMENT_SPEC


class Vnodes(Concern):
    """The ``vxlab.emulation.vnodes`` module's concern: every vnode of a pnode in one call."""

    NAME = "vnodes"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ("pyroute2", "netlink", "switcher")
    ERRORS = (OSError, ValueError, common.VnodeError, containers.LxcError, lxc.LxcVnodeError,
              cgroups.CgroupError, sshmux.SshmuxError)

    def validate(self, params):
        return common.validate(params)

    # -- observe: what the chosen kind (and, to remove or to refuse, the other) holds

    def observe(self, ctx, desired):
        observed = {"refusal": None}
        if desired["state"] == "absent":
            observed["lxc"] = lxc.observe_all(desired)
            observed["netns"] = netns.observe(desired, ctx.sock, ctx.switcher)
        elif desired["kind"] == "netns":
            if containers.list_containers(lxc.lxcpath_of(desired["state_dir"])):
                observed["refusal"] = (
                    "vnodes: this pnode holds LXC vnodes of platform %s (%s); remove them first "
                    "(state=absent, e.g. vxlab destroy) before changing the vnode kind to netns"
                    % (desired["platform"], lxc.lxcpath_of(desired["state_dir"])))
            else:
                observed["netns"] = netns.observe(desired, ctx.sock, ctx.switcher)
        else:
            if common.read_record(desired["state_dir"], desired["platform"]):
                observed["refusal"] = (
                    "vnodes: this pnode holds netns vnodes of platform %s (%s); remove them first "
                    "(state=absent, e.g. vxlab destroy) before changing the vnode kind to lxc"
                    % (desired["platform"], common.record_path(desired["state_dir"])))
            else:
                host = cgroups.Host()
                want = lxc.desired(desired, host.versions)
                observed.update(host=host, want=want, lxc=lxc.observe(desired, ctx.sock, host, want))
        return observed

    # -- diff (pure but for the SSH multiplexer's own check, which reads its files)

    def diff(self, ctx, desired, observed):
        if observed["refusal"]:
            return Change(errors=[observed["refusal"]])
        plans = {}
        if desired["state"] == "absent":
            plans["lxc"] = lxc.diff_all(desired, observed["lxc"])
            plans["netns"] = netns.diff(desired, observed["netns"], ctx.check_mode)
            tracker = plans["netns"]["tracker"]
            tracker.merge(plans["lxc"]["tracker"], "lxc:")
            plans["netns"]["remove"] = sorted(set(plans["netns"]["remove"]) | set(plans["lxc"]["remove"]))
            errors, warnings = plans["netns"]["errors"], []
        elif desired["kind"] == "netns":
            plans["netns"] = netns.diff(desired, observed["netns"], ctx.check_mode)
            tracker, errors, warnings = plans["netns"]["tracker"], plans["netns"]["errors"], []
        else:
            plans["lxc"] = lxc.plan(desired, observed["lxc"], observed["want"], ctx.check_mode)
            tracker, errors, warnings = (plans["lxc"]["tracker"], plans["lxc"]["errors"],
                                         plans["lxc"]["warnings"])
        change = Change(tracker, plans, errors=errors, warnings=warnings)
        change.ssh = None
        if ctx.check_mode and not errors:
            self._ssh(ctx, desired, change, check_mode=True)
        return change

    # -- apply

    def apply(self, ctx, desired, observed, change):
        plans = change.actions
        gone = []
        if desired["state"] == "absent":
            lxc.apply_all(desired, observed["lxc"], plans["lxc"], ctx.sock, cgroups.Host())
            self._ssh(ctx, desired, change)  # stop SSH first: its sockets keep the namespaces alive
            gone = netns.apply(desired, observed["netns"], plans["netns"], ctx.sock, ctx.switcher)
        elif desired["kind"] == "netns":
            gone = netns.apply(desired, observed["netns"], plans["netns"], ctx.sock, ctx.switcher)
            self._ssh(ctx, desired, change)
        else:
            if desired["vnodes"]:
                error = lxc.check_image(desired)
                if error:
                    raise Failure(error)
            lxc.apply(desired, observed["lxc"], plans["lxc"], observed["want"], ctx.sock, ctx.switcher, observed["host"])
            self._ssh(ctx, desired, change)
        if desired["kind"] == "netns" or desired["state"] == "absent":
            stuck = netns.wait_links_gone(ctx.sock, gone)
            if stuck:
                ctx.warn("veths %s were still present %ds after their namespaces were deleted and "
                         "were deleted directly" % (", ".join(stuck), netns.VANISH_TIMEOUT))
            if desired["state"] == "present":
                common.write_record(desired["state_dir"], desired["platform"], plans["netns"]["record_after"])
            else:
                common.remove_record(desired["state_dir"])

    def _ssh(self, ctx, desired, change, check_mode=False):
        """The platform's SSH multiplexer: listening for netns vnodes, gone otherwise (LXC vnodes
        run their own sshd)."""
        if desired["state"] == "present" and desired["kind"] == "netns" and desired["ssh"] and desired["vnodes"]:
            plan = change.actions.get("netns") or {}
            ch, before, after = sshmux.ensure(desired["state_dir"], desired["platform"], netns.ssh_entries(desired),
                                              desired["authorized_keys"], check_mode=check_mode,
                                              host_key=desired["host_key"],
                                              pending=set(plan.get("create", ())) | set(plan.get("relink", ())))
        else:
            ch, before, after = sshmux.remove(desired["state_dir"], desired["platform"], check_mode)
        change.tracker.add("ssh", before, after, active=ch)
        change.ssh = after

    # -- result

    def result(self, ctx, desired, observed, change):
        plans = change.actions
        if desired["state"] == "present" and desired["kind"] == "lxc":
            info = lxc.summary(plans["lxc"], desired)
        else:
            pl = plans["netns"]
            info = {"created": sorted(pl["create"]), "repaired": sorted(set(pl["repair"]) | set(pl["relink"])),
                    "removed": pl["remove"],
                    "total": len(desired["vnodes"]) if desired["state"] == "present" else 0}
        return {"vnodes": info, "ssh": change.ssh}

    def describe(self, exc, desired):
        if isinstance(exc, sshmux.SshmuxError):
            return "vnodes: ssh: %s" % exc
        return "vnodes: %s" % common.describe(exc)
