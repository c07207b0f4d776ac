# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU and memory limits of LXC vnodes through cgroups (private to the collection).

A vnode's CPU is a fraction of one core (Distem's vcore frequency / pcore frequency): ``0.25``
gives it 25 ms of CPU time every 100 ms period, whatever the number of its processes. The host has
cgroup v1 (``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, ``cpuset.cpus``,
``memory.limit_in_bytes``), cgroup v2 (``cpu.max``, ``cpuset.cpus``, ``memory.max``) or a mix
(each controller where it is mounted): :func:`detect` reads ``/proc/self/mountinfo`` and the
functions below choose per controller.

Pure parts (parsing mountinfo and ``/proc/PID/cgroup``, computing the files and values, the
matching LXC configuration keys, normalising what is read back) are unit-tested as data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

from ansible_collections.vxlab.emulation.plugins.module_utils._base import procfs
from ansible_collections.vxlab.emulation.plugins.module_utils._base.units import (  # noqa: F401
    CPU_PERIOD_US,
    MIN_QUOTA_US,
    parse_cpu,
    parse_cpuset,
    parse_size,
)

#: v1 reads back "no limit" as the largest page-aligned value below 2^63
V1_MEMORY_UNLIMITED = 9223372036854771712


class CgroupError(Exception):
    """A limit cannot be applied on this host (controller missing, bad value)."""


# ----------------------------------------------------------------------------------------------
# pure: parsing


def parse_mountinfo(text):
    """``{"v1": {controller: mountpoint}, "v2": mountpoint or None}`` from mountinfo text."""
    v1, v2 = {}, None
    for m in procfs.mountinfo(text):
        if m["fstype"] == "cgroup2" and v2 is None:
            v2 = m["mountpoint"]
        elif m["fstype"] == "cgroup":
            for opt in m["options"]:
                if opt in ("cpu", "cpuacct", "cpuset", "memory", "freezer", "pids", "devices", "blkio"):
                    v1.setdefault(opt, m["mountpoint"])
    return {"v1": v1, "v2": v2}


def parse_proc_cgroup(text):
    """``{controller: path}`` of one process; the v2 path is under the key ``""``."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        dummy, controllers, path = parts
        if controllers == "":
            out[""] = path
        for c in controllers.split(","):
            if c:
                out[c] = path
    return out


def limits(cpu=None, cpuset=None, memory=None, where="limits"):
    """Validated ``{"cpu": fraction|None, "cpuset": str|None, "memory": bytes|None}``."""
    return {"cpu": parse_cpu(where + ".cpu", cpu),
            "cpuset": parse_cpuset(where + ".cpuset", cpuset),
            "memory": parse_size(where + ".memory", memory)}


# ----------------------------------------------------------------------------------------------
# pure: what to write


def controller_version(layout, controller, v2_controllers=()):
    """1 or 2: where ``controller`` lives on this host; None if nowhere."""
    if controller in layout["v1"]:
        return 1
    if layout["v2"] and controller in v2_controllers:
        return 2
    return None


def cpu_quota(fraction, period=CPU_PERIOD_US):
    return None if fraction is None else max(MIN_QUOTA_US, int(round(fraction * period)))


def wanted_files(lim, versions):
    """``{(controller, file): value}``: the cgroup files that express ``lim``.

    ``versions``: ``{"cpu": 1|2|None, "cpuset": ..., "memory": ...}``. A limit of None writes
    the "no limit" value, so removing a limit is a change like any other. Raises CgroupError if a
    limit is asked for a controller the host does not have.
    """
    out = {}
    for key in ("cpu", "cpuset", "memory"):
        if lim.get(key) is not None and not versions.get(key):
            raise CgroupError("no %s cgroup controller on this host: cannot apply %s=%r"
                              % (key, key, lim[key]))
    v = versions.get("cpu")
    quota = cpu_quota(lim.get("cpu"))
    if v == 1:
        out[("cpu", "cpu.cfs_period_us")] = str(CPU_PERIOD_US)
        out[("cpu", "cpu.cfs_quota_us")] = str(quota if quota is not None else -1)
    elif v == 2:
        out[("cpu", "cpu.max")] = "%s %d" % (quota if quota is not None else "max", CPU_PERIOD_US)
    if lim.get("cpuset") is not None and versions.get("cpuset"):
        out[("cpuset", "cpuset.cpus")] = lim["cpuset"]
    v = versions.get("memory")
    mem = lim.get("memory")
    if v == 1:
        out[("memory", "memory.limit_in_bytes")] = str(mem if mem is not None else -1)
    elif v == 2:
        out[("memory", "memory.max")] = str(mem) if mem is not None else "max"
    return out


def lxc_config_lines(lim, versions):
    """The ``lxc.cgroup.*`` / ``lxc.cgroup2.*`` lines that apply ``lim`` at start (only set limits)."""
    lines = []
    files = wanted_files(lim, versions)
    for (controller, fname), value in sorted(files.items()):
        unlimited = value in ("-1", "max %d" % CPU_PERIOD_US, "max")
        if unlimited or (fname == "cpu.cfs_period_us" and lim.get("cpu") is None):
            continue
        key = "lxc.cgroup2" if versions.get(controller) == 2 else "lxc.cgroup"
        lines.append("%s.%s = %s" % (key, fname, value))
    return lines


def normalise(fname, text):
    """A value read back from a cgroup file, in the form :func:`wanted_files` writes it."""
    text = text.strip()
    if fname == "memory.limit_in_bytes" and text.isdigit() and int(text) >= V1_MEMORY_UNLIMITED:
        return "-1"
    return text


# ----------------------------------------------------------------------------------------------
# observe / apply


class Host:
    """This host's cgroup layout (read once)."""

    def __init__(self, mountinfo_path="/proc/self/mountinfo"):
        with open(mountinfo_path) as f:
            self.layout = parse_mountinfo(f.read())
        self.v2_controllers = ()
        if self.layout["v2"]:
            try:
                with open(os.path.join(self.layout["v2"], "cgroup.controllers")) as f:
                    self.v2_controllers = tuple(f.read().split())
            except OSError:
                pass
        self.versions = {c: controller_version(self.layout, c, self.v2_controllers)
                         for c in ("cpu", "cpuset", "memory", "cpuacct", "freezer")}

    def dir_of(self, controller, proc_cgroup):
        """The cgroup directory of ``controller`` for a process (its parsed /proc/PID/cgroup)."""
        v = self.versions.get(controller)
        if v == 1:
            return self.layout["v1"][controller] + proc_cgroup.get(controller, "/")
        if v == 2:
            return self.layout["v2"] + proc_cgroup.get("", "/")
        return None

    def dirs_of_pid(self, pid):
        try:
            with open("/proc/%d/cgroup" % pid) as f:
                pc = parse_proc_cgroup(f.read())
        except OSError:
            return None
        return {c: self.dir_of(c, pc) for c in ("cpu", "cpuset", "memory", "cpuacct")}

    def read(self, dirs, files):
        """``{(controller, file): value}`` currently set, for the keys of ``files``."""
        out = {}
        for controller, fname in files:
            path = os.path.join(dirs[controller], fname)
            try:
                with open(path) as f:
                    out[(controller, fname)] = normalise(fname, f.read())
            except OSError:
                out[(controller, fname)] = None
        return out

    def write(self, dirs, files):
        # the period first: a quota is checked against the period in place
        for key in sorted(files, key=lambda k: (k[1] != "cpu.cfs_period_us", k)):
            controller, fname = key
            path = os.path.join(dirs[controller], fname)
            try:
                with open(path, "w") as f:
                    f.write(files[key])
            except OSError as exc:
                raise CgroupError("writing %r to %s: %s" % (files[key], path, os.strerror(exc.errno)))

    def cpu_usage_ns(self, dirs):
        """Total CPU time of a cgroup in ns (v1 ``cpuacct.usage``, v2 ``cpu.stat`` usage_usec)."""
        if self.versions.get("cpuacct") == 1 and dirs.get("cpuacct"):
            with open(os.path.join(dirs["cpuacct"], "cpuacct.usage")) as f:
                return int(f.read())
        with open(os.path.join(dirs["cpu"], "cpu.stat")) as f:
            for line in f:
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) * 1000
        raise CgroupError("no CPU usage counter for %s" % dirs.get("cpu"))


def remove_dirs(host, names):
    """Remove leftover (empty) cgroup directories ``names`` (relative to each hierarchy root);
    returns those removed."""
    roots = sorted(set(list(host.layout["v1"].values()) + ([host.layout["v2"]] if host.layout["v2"] else [])))
    removed = []
    for root in roots:
        for name in names:
            path = os.path.join(root, name)
            if not os.path.isdir(path):
                continue
            # children first (LXC may nest a namespace cgroup inside the payload cgroup)
            for sub, dirs, dummy in sorted(os.walk(path, topdown=False), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(sub)
                    removed.append(sub)
                except OSError as exc:
                    if exc.errno not in (errno.ENOENT, errno.EBUSY, errno.ENOTEMPTY):
                        raise
    return removed
