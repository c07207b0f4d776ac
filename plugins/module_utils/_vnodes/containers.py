# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LXC containers as vnodes (private to the collection).

* :func:`render_config` (pure): the whole LXC configuration of one vnode, from plain data;
* :func:`list_containers` / :func:`states`: what exists under one ``lxcpath`` (one directory per
  container, read in-process) and the state and init PID of each (one ``lxc-ls`` call);
* :func:`run_parallel`: ``lxc-start`` / ``lxc-stop`` / ``lxc-freeze`` / ``lxc-unfreeze`` over many
  containers with a bounded window (argv lists only, never a shell);
* :func:`attach_netns` / :func:`detach_netns`: the container's network namespace published as the
  named namespace ``/run/netns/<vnode>``, so everything that works on netns vnodes by name (the
  vnodes module's repairs, ``ip netns exec``, neighbour tables) works on LXC vnodes too.

Every ``lxc-*`` command must run in the pnode's network namespace: LXC's command sockets are
abstract unix sockets, which belong to a network namespace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vxlab.emulation.plugins.module_utils._base import procfs
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_atomic
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns

COMMON_CONF = "/usr/share/lxc/config/common.conf"
SSHD = "/usr/sbin/sshd"
#: inside the container: the platform's public keys (bind-mounted read-only from the pnode)
AUTHORIZED_KEYS = "etc/vxlab/authorized_keys"
#: inside the container: the platform's vnode host key (bind-mounted read-only from the pnode)
HOST_KEY = "etc/vxlab/ssh_host_ed25519_key"
DEFAULT_WINDOW = 16
STOP_TIMEOUT = 30
MARK = "# vxlab:"


class LxcError(Exception):
    """An lxc-* command failed; the message names the container and quotes LXC's error."""


# ----------------------------------------------------------------------------------------------
# pure


def sshd_argv(address, host_key=False):
    """sshd as the container's init: listens on the vnode address only, keys only, root; with
    ``host_key``, it presents the platform's host key (:data:`HOST_KEY`) instead of the image's."""
    return [SSHD, "-D", "-e"] + (["-o", "HostKey=/%s" % HOST_KEY] if host_key else []) + [
        "-o", "ListenAddress=%s" % address,
        "-o", "PasswordAuthentication=no",
        "-o", "KbdInteractiveAuthentication=no",
        "-o", "PermitRootLogin=prohibit-password",
        "-o", "AuthorizedKeysFile=/%s" % AUTHORIZED_KEYS,
        "-o", "UsePAM=no",
        "-o", "UseDNS=no",
        "-o", "MaxStartups=100:30:200"]


def render_config(c):
    """The LXC configuration of one vnode (text).

    ``c``: ``{platform, name, lxcpath, image, bridge, host_if, mac, address, prefixlen, mtu,
    gateway, authorized_keys, host_key (optional: the pnode's copy of the vnodes' host key),
    client_dir, cgroup_lines}``. Every value was validated before
    (names, IPv4, MAC, absolute paths without spaces), so the text cannot carry an unexpected key.

    ``client_dir`` (optional): the platform's SSH client directory on the pnode (ssh_config and
    key of vnode-to-vnode SSH), bind-mounted read-only at the same absolute path, so ``ssh -F
    <client_dir>/ssh_config NAME`` means the same in an LXC vnode as on its pnode. The mount is
    ``optional``: a container still starts when the directory is missing (the module used alone).
    """
    lines = [
        "%s%s (managed by vxlab.emulation.vnodes; changes are overwritten)" % (MARK, c["platform"]),
        "lxc.include = %s" % COMMON_CONF,
        "lxc.arch = linux64",
        "lxc.apparmor.profile = unconfined",
        "lxc.uts.name = %s" % c["name"],
        "lxc.rootfs.path = overlay:%s:%s" % (c["image"], delta_dir(c["lxcpath"], c["name"])),
        "lxc.net.0.type = veth",
        "lxc.net.0.link = %s" % c["bridge"],
        "lxc.net.0.flags = up",
        "lxc.net.0.name = eth0",
        "lxc.net.0.veth.pair = %s" % c["host_if"],
        "lxc.net.0.hwaddr = %s" % c["mac"],
        "lxc.net.0.ipv4.address = %s/%d" % (c["address"], c["prefixlen"]),
    ]
    if c.get("gateway"):
        lines.append("lxc.net.0.ipv4.gateway = %s" % c["gateway"])
    if c.get("mtu"):
        lines.append("lxc.net.0.mtu = %d" % c["mtu"])
    lines += [
        # vnodes are IPv4-only (see the netns kind): no IPv6 start-up traffic flooded to the bridge
        "lxc.sysctl.net.ipv6.conf.all.disable_ipv6 = 1",
        "lxc.sysctl.net.ipv6.conf.default.disable_ipv6 = 1",
        # no getty/console: past ~600 containers the pty limit makes starts fail
        "lxc.tty.max = 0",
        "lxc.pty.max = 16",
        "lxc.console.path = none",
        "lxc.mount.entry = %s %s none bind,ro,create=file 0 0" % (c["authorized_keys"], AUTHORIZED_KEYS),
    ]
    if c.get("host_key"):
        lines.append("lxc.mount.entry = %s %s none bind,ro,create=file 0 0" % (c["host_key"], HOST_KEY))
    if c.get("client_dir"):
        lines.append("lxc.mount.entry = %s %s none bind,ro,create=dir,optional 0 0"
                     % (c["client_dir"], c["client_dir"].lstrip("/")))
    lines += [
        "lxc.init.cmd = %s" % " ".join(sshd_argv(c["address"], bool(c.get("host_key")))),
    ]
    lines += list(c.get("cgroup_lines") or [])
    return "\n".join(lines) + "\n"


def config_sections(text):
    """``(network_and_rest, cgroup)`` lines of a configuration: cgroup lines can change live."""
    rest, cg = [], []
    for line in (text or "").splitlines():
        (cg if line.startswith("lxc.cgroup") else rest).append(line)
    return rest, cg


def delta_dir(lxcpath, name):
    return os.path.join(lxcpath, name, "delta")


def parse_ls(text):
    """``{name: {"state": STATE, "pid": int|None}}`` from ``lxc-ls -f -F NAME,STATE,PID``."""
    out = {}
    lines = text.splitlines()
    for line in lines[1:]:
        words = line.split()
        if len(words) < 2:
            continue
        pid = words[2] if len(words) > 2 else "-"
        out[words[0]] = {"state": words[1], "pid": int(pid) if pid.isdigit() else None}
    return out


def monitor_pidfile(lxcpath, name):
    """Where ``lxc-start -p`` writes the PID of a container's monitor (the daemonized lxc-start,
    whose one child is the container's init)."""
    return os.path.join(lxcpath, name, "monitor.pid")


def argv_for(action, lxcpath, name):
    base = {"start": ["lxc-start", "-d", "-p", monitor_pidfile(lxcpath, name)],
            "stop": ["lxc-stop", "-k"],
            "freeze": ["lxc-freeze"],
            "unfreeze": ["lxc-unfreeze"]}[action]
    return base + ["-P", lxcpath, "-n", name]


# ----------------------------------------------------------------------------------------------
# observe


def list_containers(lxcpath):
    """``{name: config text}`` of the containers under ``lxcpath``."""
    out = {}
    try:
        names = sorted(os.listdir(lxcpath))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return out
        raise
    for name in names:
        path = os.path.join(lxcpath, name, "config")
        try:
            with open(path) as f:
                out[name] = f.read()
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
    return out


def states(lxcpath):
    """``{name: {"state", "pid"}}`` of the containers LXC knows under ``lxcpath``."""
    if not os.path.isdir(lxcpath):
        return {}
    proc = subprocess.run(["lxc-ls", "-P", lxcpath, "-f", "-F", "NAME,STATE,PID"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise LxcError("lxc-ls -P %s: %s" % (lxcpath, proc.stderr.strip()))
    return parse_ls(proc.stdout)


def started_pids(lxcpath, names):
    """``{name: init pid}`` of containers just started by :func:`run_parallel` ("start"), read
    from procfs (their monitor's pid file, the monitor's one child) rather than from ``lxc-ls``,
    which asks every container of the path (0.65 s for 246). A container whose init cannot be
    read so is left out: the caller asks ``lxc-ls`` about it."""
    out = {}
    for name in names:
        try:
            with open(monitor_pidfile(lxcpath, name)) as f:
                monitor = int(f.read().strip())
            with open("/proc/%d/task/%d/children" % (monitor, monitor)) as f:
                children = f.read().split()
            with open("/proc/%d/comm" % monitor) as f:
                comm = f.read().strip()
        except (OSError, ValueError):
            continue
        if len(children) == 1 and comm.startswith("lxc-start"):
            out[name] = int(children[0])
    return out


def netns_attached(name, pid):
    """True when ``/run/netns/<name>`` is the network namespace of process ``pid``."""
    if pid is None:
        return False
    mine = procfs.inode("/proc/%d/ns/net" % pid)
    return mine is not None and procfs.inode(ns.netns_path(name)) == mine \
        and os.path.ismount(ns.netns_path(name))


# ----------------------------------------------------------------------------------------------
# apply


def attach_netns(name, pid):
    """Publish the network namespace of ``pid`` as ``/run/netns/<name>`` (replacing a stale one)."""
    ns.netns_delete(name)
    ns.prepare_run_dir()  # pylint: disable=protected-access
    path = ns.netns_path(name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    libc = ns.get_libc()  # pylint: disable=protected-access
    src = ("/proc/%d/ns/net" % pid).encode()
    if libc.mount(src, path.encode(), b"none", ns.MS_BIND, None) != 0:
        err = ns.ctypes.get_errno()
        os.unlink(path)
        raise LxcError("vnode %s: bind-mount of its network namespace: %s" % (name, os.strerror(err)))


def detach_netns(name):
    ns.netns_delete(name)


def run_parallel(action, lxcpath, names, window=DEFAULT_WINDOW, timeout=STOP_TIMEOUT * 2,
                 before=None):
    """Run ``action`` on ``names`` with at most ``window`` commands at once.

    ``before(name)``: run in the worker just before the command (an ``OSError`` is that name's
    failure). Returns ``{name: error text}`` of the failures (empty when all succeeded).
    """
    def one(name):
        if before is not None:
            try:
                before(name)
            except OSError as exc:
                return name, "before lxc-%s: %s" % (action, exc)
        try:
            proc = subprocess.run(argv_for(action, lxcpath, name), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return name, "lxc-%s timed out after %ds" % (action, timeout)
        if proc.returncode != 0:
            return name, (proc.stdout.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        return name, None

    failures = {}
    if not names:
        return failures
    with ThreadPoolExecutor(max_workers=max(1, min(window, len(names)))) as pool:
        for name, err in pool.map(one, names):
            if err:
                failures[name] = err
    return failures


def write_config(lxcpath, name, text):
    d = os.path.join(lxcpath, name)
    os.makedirs(delta_dir(lxcpath, name), 0o755, exist_ok=True)
    write_atomic(os.path.join(d, "config"), text, fsync=False)


def destroy_dir(lxcpath, name):
    """Remove a stopped container: its configuration, its delta and overlay work directory."""
    shutil.rmtree(os.path.join(lxcpath, name), ignore_errors=True)
    if os.path.exists(os.path.join(lxcpath, name)):
        raise LxcError("vnode %s: could not remove %s" % (name, os.path.join(lxcpath, name)))


def wait_state(lxcpath, names, wanted, timeout=STOP_TIMEOUT):
    """Wait until every container of ``names`` is in state ``wanted``; returns the laggards."""
    deadline = time.time() + timeout
    pending = set(names)
    while pending:
        st = states(lxcpath)
        pending = set(n for n in pending if st.get(n, {}).get("state") != wanted)
        if not pending or time.time() > deadline:
            break
        time.sleep(0.2)
    return sorted(pending)
