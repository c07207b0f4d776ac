# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named network namespaces, switched into within this process (private to the collection).

A namespace is created by ``unshare(CLONE_NEWNET)`` and a bind mount on ``/run/netns/<name>``, like
``ip netns add``; work inside one is done by ``setns`` into it and back (:func:`in_netns`,
:class:`NsSwitch`), so no helper process is started per namespace. Also the sysctls of the
current namespace. Standard library only (``ctypes`` for ``setns``, ``unshare``, ``mount``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import ctypes
import errno
import os

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
MNT_DETACH = 2

_libc = None


def get_libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class Closing:
    """A handle usable in a ``with`` block: ``close()`` at its end."""

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class NetnsError(OSError):
    """A namespace operation failed; ``str()`` names the namespace."""


def _check(ret, what, name):
    if ret != 0:
        err = ctypes.get_errno()
        raise NetnsError(err, "%s %s: %s" % (what, name, os.strerror(err)))


# ----------------------------------------------------------------------------------------------
# named network namespaces


def netns_path(name):
    return os.path.join(NETNS_RUN_DIR, name)


def netns_list():
    """Names of the named network namespaces (``ip netns list``), sorted."""
    try:
        return sorted(n for n in os.listdir(NETNS_RUN_DIR) if not n.startswith("."))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise


def netns_exists(name):
    return os.path.exists(netns_path(name))


#: set once this process has made /run/netns a shared mount point: the recursive call walks every
#: namespace mounted below it (its cost grows with them), and iproute2 makes it before every
#: ``netns add``
_RUN_DIR_SHARED = []


def prepare_run_dir():
    """Make /run/netns a shared mount point, as iproute2 does, so bind mounts propagate (once per
    process: the bind mounts made below it afterwards are shared with it)."""
    if _RUN_DIR_SHARED:
        return
    libc = get_libc()
    try:
        os.makedirs(NETNS_RUN_DIR, 0o755)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    d = NETNS_RUN_DIR.encode()
    if libc.mount(b"none", d, b"none", MS_SHARED | MS_REC, None) != 0:
        _check(libc.mount(d, d, b"none", MS_BIND | MS_REC, None), "bind-mount", NETNS_RUN_DIR)
        _check(libc.mount(b"none", d, b"none", MS_SHARED | MS_REC, None), "share", NETNS_RUN_DIR)
    _RUN_DIR_SHARED.append(True)


class NsSwitch(Closing):
    """Move this thread into another network namespace and back (``setns``)."""

    def __init__(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)

    def enter_fd(self, fd, name):
        _check(get_libc().setns(fd, CLONE_NEWNET), "setns into", name)

    def back(self):
        _check(get_libc().setns(self.home, CLONE_NEWNET), "setns back from", "namespace")

    def close(self):
        os.close(self.home)


def netns_create(name, sysctls=None):
    """Create the named network namespace ``name`` (like ``ip netns add``), in this process.

    ``sysctls`` (``{"net.ipv6.conf.default.disable_ipv6": "1"}``) are written inside the new
    namespace before anything else is created in it.
    """
    prepare_run_dir()
    path = netns_path(name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    sw = NsSwitch()
    libc = get_libc()
    try:
        try:
            _check(libc.unshare(CLONE_NEWNET), "unshare for", name)
            _check(libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
                   "bind-mount namespace", name)
            for key, value in sorted((sysctls or {}).items()):
                sysctl_set(key, value)
        finally:
            sw.back()
    except Exception:
        libc.umount2(path.encode(), MNT_DETACH)
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    finally:
        sw.close()


def netns_delete(name):
    """Delete the named namespace (``ip netns del``); the kernel frees it when unused."""
    path = netns_path(name)
    get_libc().umount2(path.encode(), MNT_DETACH)
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def netns_pids(name):
    """PIDs of processes whose network namespace is the named namespace ``name``."""
    try:
        ino = os.stat(netns_path(name)).st_ino
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat("/proc/%s/ns/net" % entry).st_ino == ino:
                pids.append(int(entry))
        except OSError:
            continue
    return sorted(pids)


def current_netns_id():
    """Inode number of this thread's network namespace (identifies it in state files)."""
    return os.stat("/proc/thread-self/ns/net").st_ino


@contextlib.contextmanager
def in_netns(name):
    """Run the block with this thread inside the named namespace (None: stay where we are).

    Everything opened inside (netlink sockets, /proc/sys/net files) belongs to that namespace.
    """
    if not name:
        yield
        return
    if not netns_exists(name):
        raise NetnsError(errno.ENOENT, "network namespace %s does not exist" % name)
    fd = os.open(netns_path(name), os.O_RDONLY)
    sw = NsSwitch()
    try:
        sw.enter_fd(fd, name)
        try:
            yield
        finally:
            sw.back()
    finally:
        os.close(fd)
        sw.close()


# ----------------------------------------------------------------------------------------------
# sysctl of the current namespace


def sysctl_get(key):
    """Read ``net.ipv4.ip_forward``-style keys from /proc/sys of this thread's namespace."""
    with open("/proc/sys/" + key.replace(".", "/")) as f:
        return f.read().strip()


def sysctl_set(key, value):
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write("%s\n" % value)


def netns_fd(target):
    """An open fd (caller closes) of a network namespace given as a name of /run/netns, a PID
    (int or digits: the namespace of that process, e.g. an LXC container's init) or a path."""
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        path = "/proc/%d/ns/net" % int(target)
    elif isinstance(target, str) and target.startswith("/"):
        path = target
    else:
        path = netns_path(target)
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise NetnsError(exc.errno, "network namespace %s: %s" % (target, os.strerror(exc.errno)))
