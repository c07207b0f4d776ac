# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``/proc`` says about mounts, processes and namespaces, read once (private to the collection).

The parsers are pure (text in, plain data out); the readers return None where the process or
file has gone, which is normal for processes that end while they are looked at.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

_NS_LINK_RE = re.compile(r"^\w+:\[(\d+)\]$")


def mountinfo(text):
    """The mounts of a ``/proc/PID/mountinfo`` text: ``[{mountpoint, fstype, source, options}]``
    (``options``: the super-block options, a list)."""
    out = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 2:
            continue
        out.append({"mountpoint": fields[4], "fstype": tail[0], "source": tail[1],
                    "options": tail[2].split(",") if len(tail) > 2 else []})
    return out


def stat_fields(pid):
    """``(state, ppid, starttime)`` of process ``pid``, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data.rpartition(")")[2].split()
    return rest[0], int(rest[1]), int(rest[19])


def cmdline(pid):
    """The argv of process ``pid`` (text), or None."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def inode(path):
    """The inode of a namespace file (``/run/netns/X``, ``/proc/PID/ns/net``), or None."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def ns_inode(pid, kind="net"):
    """The inode of namespace ``kind`` (``net``, ``mnt``) of process ``pid``, or None."""
    try:
        target = os.readlink("/proc/%d/ns/%s" % (pid, kind))
    except OSError:
        return None
    m = _NS_LINK_RE.match(target)
    return int(m.group(1)) if m else None
