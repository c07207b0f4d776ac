# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing files so that a reader never sees half of one (private to the collection).

* :func:`write_atomic`: a temporary file in the same directory, written, flushed to disk, given
  its mode and renamed over the target. Several writers of the same file at once (pnodes sharing a
  filesystem) each rename a complete file; the last one wins.
* :func:`write_if_changed`: the same, unless the file already holds that content.
* :func:`write_in_place`: truncate and rewrite the same inode, for a file that a running container
  bind-mounts (a rename would leave the container with the old inode).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os


def _bytes(data):
    return data.encode("utf-8") if not isinstance(data, bytes) else data


def write_atomic(path, data, mode=0o644, makedirs=False, fsync=True):
    """Replace ``path`` by ``data`` (text or bytes) atomically; ``mode`` is the file's mode."""
    directory = os.path.dirname(path) or "."
    if makedirs and not os.path.isdir(directory):
        try:
            os.makedirs(directory, 0o755)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
    tmp = os.path.join(directory, ".%s.tmp.%d" % (os.path.basename(path), os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            view = memoryview(_bytes(data))
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, data, mode=0o644, makedirs=False):
    """:func:`write_atomic` of ``data`` as indented, key-sorted JSON (same data, same bytes)."""
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n", mode, makedirs)


def write_if_changed(path, data, mode=0o644):
    """:func:`write_atomic` unless ``path`` already holds ``data`` (its mode is set anyway);
    True when it wrote."""
    want = _bytes(data)
    try:
        with open(path, "rb") as f:
            if f.read() == want:
                os.chmod(path, mode)
                return False
    except (IOError, OSError):
        pass
    write_atomic(path, want, mode)
    return True


def write_in_place(path, data, mode=0o644):
    """Rewrite ``path`` keeping its inode (created if missing), mode set before the content."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, mode)
    try:
        os.fchmod(fd, mode)
        os.ftruncate(fd, 0)
        view = memoryview(_bytes(data))
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def remove_if_exists(path):
    """Unlink ``path``; True if it was there (a file another process removed first is fine)."""
    try:
        os.unlink(path)
        return True
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
        return False


def read_names(path, key):
    """The sorted names a state file of a step lists under ``key`` (``[]`` when there is no file
    or it is unreadable JSON: the step then treats nothing as its own)."""
    try:
        with open(path) as f:
            return sorted(set(json.load(f).get(key, [])))
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno != errno.ENOENT:
            raise
        return []


def write_names(path, platform, key, names, **more):
    """Record ``names`` under ``key`` (with the platform) in ``path``; no names: no file."""
    if not names and not any(more.values()):
        remove_if_exists(path)
        return
    data = dict(more, platform=platform)
    data[key] = sorted(set(names))
    write_json(path, data, makedirs=True)
