# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SSH multiplexer daemon of netns vnodes (private to vxlab): one process per pnode and
platform, started and steered by :mod:`_vnodes.sshmux`.

It holds a listening TCP socket on ``<vnode address>:22`` *inside* each vnode's named network
namespace (``/run/netns/<name>``; a socket bound inside a namespace stays in it) and multiplexes
all of them with :mod:`selectors`. For every accepted connection it forks a child that enters the
vnode's network namespace (``setns``), puts the connection on stdin/stdout and executes OpenSSH
``sshd -i`` (inetd mode) with the platform's own configuration. Idle vnodes therefore cost one
socket each, not one sshd each.

:mod:`_vnodes.sshmux` copies this file's source to ``<dir>/sshmux.py`` (a stable path that outlives
AnsiballZ's temporary directory) and runs it with ``sys.executable -I -S``: it imports nothing but
the Python standard library, not even the collection's base layer, which is why it has its own
small atomic write (:func:`_write_atomic`).

Signals: ``SIGHUP`` re-reads ``entries.json`` and reconciles the listeners; ``SIGTERM`` closes
every listener, ends the SSH sessions it started and exits. After each reconcile it rewrites
``status.json`` (listening, failed namespaces, the identity of each namespace it listens in).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import selectors
import signal
import socket
import sys
import time

SSHD = "/usr/sbin/sshd"
NETNS_DIR = "/run/netns"
SSH_PORT = 22
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
IP_FREEBIND = 15
#: the name of this file's copy in the daemon's directory
SCRIPT_NAME = "sshmux.py"
MAX_SESSIONS = 2048  # concurrent sshd -i children; more connections are closed at once
#: accept queue of each vnode's listener (the kernel caps it at the namespace's somaxconn, 4096 by
#: default). Connections wait there while the daemon forks one session after another; with
#: OpenSSH's own 128, a burst of a few hundred logins to one vnode overflowed it: the kernel
#: dropped SYNs and, worse, final ACKs of syncookie handshakes, leaving clients that believe they
#: are connected waiting for a banner that never comes
LISTEN_BACKLOG = 1024
#: connections taken from one ready listener before the others get their turn
ACCEPT_BATCH = 64
START_TIMEOUT = 15.0


def _write_atomic(path, text, mode=0o600):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------------------------
# the daemon (runs as ``python -I -S <dir>/sshmux.py start <dir>``)


class _Netns:
    """setns(2) through libc, loaded only in the daemon."""

    def __init__(self):
        import ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)  # the process's own libc
        self._ctypes = ctypes
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def _check(self, rc, what):
        if rc != 0:
            err = self._ctypes.get_errno()
            raise OSError(err, "%s: %s" % (what, os.strerror(err)))

    def setns(self, fd):
        self._check(self._libc.setns(fd, CLONE_NEWNET), "setns")

    def private_sysfs(self):
        """Like ``ip netns exec``: a private mount namespace whose /sys shows the new netns."""
        c = self._ctypes
        self._check(self._libc.unshare(CLONE_NEWNS), "unshare")
        ms_rec, ms_slave, mnt_detach = 0x4000, 0x80000, 2
        self._check(self._libc.mount(None, b"/", None, c.c_ulong(ms_rec | ms_slave), None),
                    "mount --make-rslave /")
        self._libc.umount2(b"/sys", mnt_detach)
        self._check(self._libc.mount(b"sysfs", b"/sys", b"sysfs", c.c_ulong(0), None), "mount /sys")


class _Daemon:
    def __init__(self, directory):
        self.dir = directory
        self.sel = selectors.DefaultSelector()
        self.listeners = {}  # netns -> (socket, address, (st_dev, st_ino))
        self.failed = {}
        self.children = {}  # pid -> netns
        self.flags = set()
        self.generation = None
        self.reloads = 0
        self.ns = _Netns()
        self.log_file = None

    def log(self, msg):
        sys.stderr.write("%s sshmux[%d]: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), os.getpid(), msg))
        sys.stderr.flush()

    # -- listeners
    def _open(self, name, address):
        path = os.path.join(NETNS_DIR, name)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            self.ns.setns(fd)
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    # the address may not be configured yet: bind anyway
                    sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
                    sock.bind((address, SSH_PORT))
                    sock.listen(LISTEN_BACKLOG)
                    sock.setblocking(False)
                except BaseException:
                    sock.close()
                    raise
            finally:
                self.ns.setns(self.ns.home)
        finally:
            os.close(fd)
        return sock, (st.st_dev, st.st_ino)

    def _close(self, name):
        sock = self.listeners.pop(name)[0]
        self.sel.unregister(sock)
        sock.close()

    def reconcile(self):
        path = os.path.join(self.dir, "entries.json")
        try:
            with open(path) as f:
                text = f.read()
            entries = json.loads(text)["entries"]
            wanted = dict((e["netns"], e["address"]) for e in entries)
        except (IOError, OSError, ValueError, KeyError, TypeError) as exc:
            self.log("cannot read %s (%s): keeping the current listeners" % (path, exc))
            return
        import hashlib
        self.generation = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        opened = closed = 0
        for name in sorted(self.listeners):
            sock, address, ident = self.listeners[name]
            if wanted.get(name) != address:
                self._close(name)
                closed += 1
                continue
            try:
                st = os.stat(os.path.join(NETNS_DIR, name))
                same = (st.st_dev, st.st_ino) == ident
            except OSError:
                same = False
            if not same:  # the namespace was deleted or re-created: the socket is in the old one
                self._close(name)
                closed += 1
        self.failed = {}
        for name in sorted(wanted):
            if name in self.listeners:
                continue
            try:
                sock, ident = self._open(name, wanted[name])
            except OSError as exc:
                self.failed[name] = exc.strerror or str(exc)
                self.log("netns %s address %s: %s (retried at the next reload)"
                         % (name, wanted[name], self.failed[name]))
                continue
            self.listeners[name] = (sock, wanted[name], ident)
            self.sel.register(sock, selectors.EVENT_READ, name)
            opened += 1
        self.log("reconciled: %d listening, %d opened, %d closed, %d failed"
                 % (len(self.listeners), opened, closed, len(self.failed)))
        self.write_status()

    def write_status(self):
        self.reloads += 1
        data = {"pid": os.getpid(), "generation": self.generation, "reload": self.reloads,
                "listening": len(self.listeners), "failed": self.failed,
                "idents": dict((name, list(lst[2])) for name, lst in self.listeners.items())}
        _write_atomic(os.path.join(self.dir, "status.json"), json.dumps(data, sort_keys=True) + "\n")

    # -- connections
    def accept(self, name):
        """Take up to :data:`ACCEPT_BATCH` pending connections of one ready listener."""
        for dummy in range(ACCEPT_BATCH):
            if not self._accept_one(name):
                return

    def _accept_one(self, name):
        """Accept and hand over one connection; False when none is pending (or on an error)."""
        sock, address, ident = self.listeners[name]
        try:
            conn, peer = sock.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EINTR):
                self.log("accept on %s: %s" % (name, exc))
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                time.sleep(0.1)  # the connection stays pending: do not spin on it
            return exc.errno == errno.ECONNABORTED  # an aborted one: others may follow
        if len(self.children) >= MAX_SESSIONS:
            self.log("%d sessions running: connection from %s to %s refused"
                     % (len(self.children), peer[0], name))
            conn.close()
            return True
        try:
            pid = os.fork()
        except OSError as exc:
            self.log("fork for %s from %s: %s" % (name, peer[0], exc))
            conn.close()
            return False
        if pid == 0:
            self._child(name, conn, ident)  # never returns
        conn.close()
        self.children[pid] = name
        return True

    def _child(self, name, conn, ident):
        code = 1
        try:
            os.setsid()
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != ident:
                raise OSError(errno.ESTALE, "namespace %s was re-created" % name)
            self.ns.setns(fd)
            try:
                self.ns.private_sysfs()
            except OSError as exc:  # the login still works; only /sys shows another namespace
                self.log("netns %s: private /sys: %s" % (name, exc))
            conn.setblocking(True)
            os.dup2(conn.fileno(), 0)
            os.dup2(conn.fileno(), 1)
            os.execv(SSHD, [SSHD, "-i", "-e", "-f", os.path.join(self.dir, "sshd_config")])
        except BaseException as exc:  # report, then leave without running the parent's cleanup
            try:
                self.log("session in %s: %s" % (name, exc))
            finally:
                os._exit(code)

    def reap(self):
        while self.children:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.pop(pid, None)

    # -- main loop
    def run(self, ready_fd):
        rsock, wsock = socket.socketpair()
        rsock.setblocking(False)
        wsock.setblocking(False)
        signal.set_wakeup_fd(wsock.fileno())
        for sig, flag in ((signal.SIGHUP, "hup"), (signal.SIGTERM, "term"),
                          (signal.SIGINT, "term"), (signal.SIGCHLD, "chld")):
            signal.signal(sig, lambda _s, _f, flag=flag: self.flags.add(flag))
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(rsock, selectors.EVENT_READ, None)
        _write_atomic(os.path.join(self.dir, "pidfile"), "%d\n" % os.getpid(), 0o644)
        self.reconcile()
        if ready_fd is not None:
            os.write(ready_fd, ("%d\n" % os.getpid()).encode())
            os.close(ready_fd)
        while True:
            for key, _mask in self.sel.select():
                if key.data is None:
                    try:
                        while rsock.recv(512):
                            pass
                    except (BlockingIOError, InterruptedError):
                        pass
                elif key.data in self.listeners:
                    self.accept(key.data)
            if "chld" in self.flags:
                self.flags.discard("chld")
                self.reap()
            if "term" in self.flags:
                break
            if "hup" in self.flags:
                self.flags.discard("hup")
                self.reconcile()
        for name in list(self.listeners):
            self._close(name)
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGTERM)
            except OSError:
                pass
        self.log("stopped (SIGTERM): %d sessions ended" % len(self.children))
        try:
            os.unlink(os.path.join(self.dir, "pidfile"))
        except OSError:
            pass


def _raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _daemonize_and_run(directory):
    """Double fork + setsid; the launcher prints the daemon's PID once it is ready."""
    directory = os.path.abspath(directory)
    rfd, wfd = os.pipe()
    if os.fork() > 0:  # launcher: wait for the grandchild's PID
        os.close(wfd)
        import select
        chunks = []
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if not select.select([rfd], [], [], max(0.0, deadline - time.time()))[0]:
                break
            data = os.read(rfd, 64)
            if not data:
                break
            chunks.append(data)
        text = b"".join(chunks).decode().strip()
        if not text.isdigit():
            sys.stderr.write("sshmux daemon did not start; see %s/log\n" % directory)
            return 1
        sys.stdout.write(text + "\n")
        return 0
    os.close(rfd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    os.umask(0o077)
    null = os.open(os.devnull, os.O_RDWR)
    logfd = os.open(os.path.join(directory, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(logfd, 1)
    os.dup2(logfd, 2)
    try:
        maxfd = os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        maxfd = 65536
    os.closerange(3, wfd)
    os.closerange(wfd + 1, maxfd)
    _raise_nofile()
    try:
        daemon = _Daemon(directory)
        daemon.log("starting, python %s" % sys.version.split()[0])
        daemon.run(wfd)
    except BaseException as exc:
        sys.stderr.write("sshmux: fatal: %r\n" % (exc,))
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "start":
        raise SystemExit(_daemonize_and_run(sys.argv[2]))
    sys.stderr.write("usage: %s start DIRECTORY\n" % sys.argv[0])
    raise SystemExit(2)
