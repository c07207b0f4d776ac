# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH access to lightweight "netns" vnodes without one idle sshd per vnode (private to vxlab).

One daemon per (pnode, platform) holds a listening TCP socket on ``<vnode address>:22`` *inside*
each vnode's named network namespace (``/run/netns/<name>``; a socket bound inside a namespace
stays in it) and multiplexes all of them with :mod:`selectors`. For every accepted connection it
forks a child that enters the vnode's network namespace (``setns``), puts the connection on
stdin/stdout and executes OpenSSH ``sshd -i`` (inetd mode) with the platform's own configuration.
Idle vnodes therefore cost one socket each, not one sshd each.

This file is both:

* the library the ``vnodes`` module calls: :func:`ensure`, :func:`remove`, :func:`status`
  (validate -> observe -> pure diff -> apply); and
* the daemon itself: :func:`ensure` copies this very source to ``<dir>/sshmux.py`` (a stable path
  that outlives AnsiballZ's temporary directory) and runs it with ``sys.executable -I -S``.
  It therefore imports nothing but the Python standard library (no Ansible, no pyroute2).

Files, all in ``<state_dir>/sshmux-<platform>/`` (mode 0700): ``entries.json`` (what to listen
on), ``sshd_config``, ``ssh_host_ed25519_key`` (the platform's host key when given, else
generated once), ``authorized_keys``, ``pidfile``, ``status.json`` (rewritten by the daemon after
each reconcile), ``log`` and ``sshmux.py``.

Signals understood by the daemon: ``SIGHUP`` re-reads ``entries.json`` and reconciles the
listeners; ``SIGTERM`` closes every listener, ends the SSH sessions it started and exits.

Things callers must know:

* a listening socket holds a reference on its namespace: a namespace deleted with
  ``ip netns del`` stays alive (with its interfaces) until :func:`ensure` is called without it
  (or :func:`remove`), so call one of them right after deleting vnode namespaces;
* sshd checks the ownership of ``authorized_keys`` and its directories (``StrictModes yes``), so
  ``state_dir`` and its ancestors must be root-owned and not group/world-writable (``/tmp`` is
  not): :func:`ensure` refuses such a ``state_dir`` before changing anything;
* a login gets the vnode's network namespace and a private mount namespace whose ``/sys`` shows
  that network namespace (as ``ip netns exec`` does); ``/etc/netns/<name>`` is not bind-mounted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import re
import selectors
import signal
import socket
import sys
import time

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
NETNS_DIR = "/run/netns"
PRIVSEP_DIR = "/run/sshd"
SSH_PORT = 22
HOST_KEY = "ssh_host_ed25519_key"
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
IP_FREEBIND = 15
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
STOP_TIMEOUT = 10.0

_NETNS_RE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_PLATFORM_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_KEYTYPE_RE = re.compile(r"^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|"
                         r"sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$")


class SshmuxError(Exception):
    """A bad argument or a failed operation; the message names the value or the file."""


# --------------------------------------------------------------------------------------------
# validation and normalisation (pure)


def _ipv4(value):
    if not isinstance(value, str) or value.count(".") != 3:
        raise SshmuxError("address %r is not a dotted-quad IPv4 address" % (value,))
    try:
        packed = socket.inet_aton(value)
    except (OSError, ValueError):
        raise SshmuxError("address %r is not an IPv4 address" % (value,))
    if socket.inet_ntoa(packed) != value:
        raise SshmuxError("address %r is not a canonical dotted-quad IPv4 address" % (value,))
    return value


def normalize_entries(entries):
    """Validate ``[{"netns": name, "address": ip}, ...]``; return it sorted by namespace name."""
    if not isinstance(entries, (list, tuple)):
        raise SshmuxError("entries must be a list of {netns, address} dicts, got %r" % (entries,))
    seen = {}
    out = []
    for e in entries:
        if not isinstance(e, dict) or set(e) - {"netns", "address"} or "netns" not in e \
                or "address" not in e:
            raise SshmuxError("entry %r must be a dict with exactly the keys netns and address" % (e,))
        name = e["netns"]
        if not isinstance(name, str) or not _NETNS_RE.match(name) or name in (".", ".."):
            raise SshmuxError("entry netns %r must be a name of A-Z a-z 0-9 . _ -" % (name,))
        if name in seen:
            raise SshmuxError("entry netns %r is listed twice" % (name,))
        seen[name] = True
        out.append({"netns": name, "address": _ipv4(e["address"])})
    out.sort(key=lambda x: x["netns"])
    return out


def _b64decode(text):
    import base64
    import binascii
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def key_fingerprint(line):
    """``SHA256:...`` of one public key line (as ``ssh-keygen -l`` prints it), or None."""
    import base64
    import hashlib
    tokens = line.split()
    for i, tok in enumerate(tokens[:-1]):
        if _KEYTYPE_RE.match(tok):
            blob = _b64decode(tokens[i + 1])
            if blob is None or len(blob) < 4:
                return None
            n = int.from_bytes(blob[:4], "big")
            if blob[4:4 + n] != tok.encode("ascii"):
                return None
            digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
            return "SHA256:" + digest
    return None


def normalize_keys(authorized_keys):
    """A string (lines) or a list of public key lines -> the canonical authorized_keys text."""
    if isinstance(authorized_keys, str):
        lines = authorized_keys.splitlines()
    elif isinstance(authorized_keys, (list, tuple)):
        lines = []
        for item in authorized_keys:
            if not isinstance(item, str):
                raise SshmuxError("authorized_keys item %r is not a string" % (item,))
            lines.extend(item.splitlines())
    else:
        raise SshmuxError("authorized_keys must be a string or a list of strings")
    keys = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if key_fingerprint(line) is None:
            raise SshmuxError("authorized_keys line %r is not a valid OpenSSH public key" % (line[:60],))
        if line not in keys:
            keys.append(line)
    if not keys:
        raise SshmuxError("authorized_keys holds no public key: nobody could log in to the vnodes")
    return "".join(k + "\n" for k in keys)


def public_key_of(private_key):
    """The ``TYPE BASE64`` public key line of an unencrypted OpenSSH private key (text), or None.

    The key file (``-----BEGIN OPENSSH PRIVATE KEY-----``) carries its public key in clear:
    ``"openssh-key-v1\\0"``, cipher, kdf, kdf options (strings), a key count, then the public key
    blob, whose first string is the key type.
    """
    import base64
    body = "".join(ln.strip() for ln in (private_key or "").splitlines()
                   if ln.strip() and not ln.startswith("-----"))
    data = _b64decode(body)
    magic = b"openssh-key-v1\0"
    if not data or not data.startswith(magic):
        return None
    pos = len(magic)
    try:
        for _skip in range(3):  # cipher name, kdf name, kdf options
            n = int.from_bytes(data[pos:pos + 4], "big")
            pos += 4 + n
        pos += 4  # number of keys
        n = int.from_bytes(data[pos:pos + 4], "big")
        blob = data[pos + 4:pos + 4 + n]
        t = int.from_bytes(blob[:4], "big")
        keytype = blob[4:4 + t].decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    if len(blob) != n or not _KEYTYPE_RE.match(keytype):
        return None
    return "%s %s" % (keytype, base64.b64encode(blob).decode("ascii"))


def _check_args(state_dir, platform):
    if not isinstance(state_dir, str) or not state_dir.startswith("/") or "\n" in state_dir \
            or "/../" in state_dir + "/" or " " in state_dir:
        raise SshmuxError("state_dir %r must be an absolute path without spaces or '..'" % (state_dir,))
    if not isinstance(platform, str) or not _PLATFORM_RE.match(platform) or platform in (".", ".."):
        raise SshmuxError("platform %r must be a name of A-Z a-z 0-9 . _ -" % (platform,))


def mux_dir(state_dir, platform):
    _check_args(state_dir, platform)
    return os.path.join(os.path.normpath(state_dir), "sshmux-%s" % platform)


def render_sshd_config(directory, platform):
    """The sshd configuration every ``sshd -i`` of this platform reads (pure)."""
    return "\n".join([
        "# vxlab sshmux for platform %s: generated, do not edit" % platform,
        "HostKey %s/%s" % (directory, HOST_KEY),
        "AuthorizedKeysFile %s/authorized_keys" % directory,
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "HostbasedAuthentication no",
        "PermitEmptyPasswords no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "PidFile none",
        # every path is root-owned and 0600/0700 and ensure() refuses group/world-writable
        # ancestors, so sshd's own ownership checks stay on
        "StrictModes yes",
        "LogLevel ERROR",
        "UseDNS no",
        "LoginGraceTime 30",
        "X11Forwarding no",
        "PrintMotd no",
        "PrintLastLog no",
        "Subsystem sftp internal-sftp",
        "",
    ])


def diff_state(current, desired):
    """Pure: what to do to go from the observed ``current`` to ``desired``.

    Both are dicts with the file contents (``entries``, ``sshd_config``, ``authorized_keys``,
    ``script``: str or None) and ``host_key``: in ``current`` whether the key exists and its text
    (``host_key_text``), in ``desired`` True (any key: one is generated if missing) or the key's
    text (the platform's own host key, written when it differs); ``current`` also has ``running``
    (bool) and, from the daemon's status file, ``failed`` (namespaces that could not be opened)
    and ``stale`` (listeners whose namespace was deleted or re-created since). Returns the sorted
    list of actions among ``write:<file>``, ``keygen``, ``start``, ``restart``, ``hup``
    (``write:host_key`` installs the given host key; sshd -i reads it at every connection).
    """
    actions = []
    for name in ("entries", "sshd_config", "authorized_keys", "script"):
        if current.get(name) != desired[name]:
            actions.append("write:" + name)
    if isinstance(desired["host_key"], str):
        if current.get("host_key_text") != desired["host_key"]:
            actions.append("write:host_key")
    elif not current.get("host_key"):
        actions.append("keygen")
    if not current.get("running"):
        actions.append("start")
    elif current.get("script") != desired["script"]:
        actions.append("restart")
    elif current.get("entries") != desired["entries"] or current.get("failed") \
            or current.get("stale"):
        # new entries, a retry of namespaces missing at the last reconcile, or re-created ones
        actions.append("hup")
    return sorted(actions)


def predict_listeners(entries, existing):
    """Pure: ``(listening, failed)`` counts the daemon will reach, ``existing`` being the set of
    namespace names present in /run/netns."""
    failed = sum(1 for e in entries if e["netns"] not in existing)
    return len(entries) - failed, failed


def summary(state):
    """The small, PID-independent dict ``ensure`` reports as before/after (pure)."""
    entries = json.loads(state["entries"])["entries"] if state.get("entries") else []
    keys = (state.get("authorized_keys") or "").splitlines()
    return {
        "running": bool(state.get("running")),
        "entries": len(entries),
        "entries_digest": _digest(state["entries"]) if state.get("entries") else None,
        "key_fingerprints": [key_fingerprint(k) for k in keys if k.strip()],
        "config_digest": _digest(state["sshd_config"]) if state.get("sshd_config") else None,
        "script_digest": _digest(state["script"]) if state.get("script") else None,
        "host_key": state.get("host_key_fingerprint"),
        "listening": state.get("listening", 0),
        "failed": len(state.get("failed") or ()),
        "stale": state.get("stale", 0),
    }


def _digest(text):
    import hashlib
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def render_entries(platform, entries):
    return json.dumps({"platform": platform, "entries": entries}, sort_keys=True, indent=0) + "\n"


# --------------------------------------------------------------------------------------------
# observe


def _read(path):
    try:
        with open(path, "r") as f:
            return f.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def _proc_state(pid):
    """'' when the process does not exist, else its state letter (``Z`` for a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return data.rsplit(")", 1)[1].split()[0]
    except (IOError, OSError, IndexError):
        return ""


def daemon_pid(directory):
    """The PID in the pidfile if that process is alive and really runs this directory's script."""
    text = _read(os.path.join(directory, "pidfile"))
    if not text or not text.strip().isdigit():
        return None
    pid = int(text.strip())
    if _proc_state(pid) in ("", "Z", "X"):
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except (IOError, OSError):
        return None
    script = os.path.join(directory, SCRIPT_NAME).encode()
    return pid if script in argv else None


def _own_source():
    """This module's source text: the daemon script that ensure() installs."""
    mod = sys.modules[__name__]
    loader = getattr(mod, "__loader__", None)
    if loader is not None and hasattr(loader, "get_source"):
        try:
            src = loader.get_source(mod.__name__)
        except (ImportError, OSError):
            src = None
        if src:
            return src
    with open(os.path.abspath(__file__), "r") as f:
        return f.read()


def _host_key_fingerprint(directory):
    pub = _read(os.path.join(directory, HOST_KEY + ".pub"))
    return key_fingerprint(pub) if pub else None


def observe(directory):
    state = {"exists": os.path.isdir(directory)}
    for name, fname in (("entries", "entries.json"), ("sshd_config", "sshd_config"),
                        ("authorized_keys", "authorized_keys"), ("script", SCRIPT_NAME)):
        state[name] = _read(os.path.join(directory, fname)) if state["exists"] else None
    state["host_key_text"] = _read(os.path.join(directory, HOST_KEY)) if state["exists"] else None
    state["host_key"] = state["host_key_text"] is not None
    state["host_key_fingerprint"] = _host_key_fingerprint(directory) if state["host_key"] else None
    pid = daemon_pid(directory) if state["exists"] else None
    state["running"] = pid is not None
    state["pid"] = pid
    st = _read_status(directory) if pid else None
    if st and st.get("pid") == pid:
        state["listening"] = st.get("listening", 0)
        state["failed"] = st.get("failed", {})
        state["generation"] = st.get("generation")
        state["reload"] = st.get("reload", 0)
        state["stale"] = sum(1 for name, ident in (st.get("idents") or {}).items()
                             if _netns_ident(name) != tuple(ident))
    return state


def _netns_ident(name):
    try:
        st = os.stat(os.path.join(NETNS_DIR, name))
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _read_status(directory):
    text = _read(os.path.join(directory, "status.json"))
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def status(state_dir, platform):
    """What runs now: ``{running, pid, entries, listening, failed, directory}``."""
    directory = mux_dir(state_dir, platform)
    state = observe(directory)
    entries = json.loads(state["entries"])["entries"] if state.get("entries") else []
    return {
        "directory": directory,
        "running": state["running"],
        "pid": state["pid"],
        "entries": len(entries),
        "listening": state.get("listening", 0),
        "failed": state.get("failed", {}),
        "stale": state.get("stale", 0),
    }


# --------------------------------------------------------------------------------------------
# apply


def unsafe_ancestor(path):
    """The first existing ancestor of ``path`` that sshd's StrictModes would refuse (not owned by
    root, or group- or world-writable, as ``/tmp`` is), or None."""
    probe = os.path.dirname(path)
    while True:
        if os.path.exists(probe):
            st = os.stat(probe)
            if st.st_uid != 0 or st.st_mode & 0o022:
                return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent


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


def _run(argv):
    import subprocess
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise SshmuxError("%s failed (rc=%d): %s" % (" ".join(argv), proc.returncode,
                                                     (proc.stderr or proc.stdout).strip()))
    return proc.stdout


def _signal_and_wait(pid, directory, sig, timeout=STOP_TIMEOUT):
    """Send ``sig`` to the verified daemon ``pid``; wait until it is gone. True when gone."""
    if daemon_pid(directory) != pid:
        return True
    try:
        os.kill(pid, sig)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return True
        raise
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _proc_state(pid) in ("", "Z", "X"):
            return True
        time.sleep(0.02)
    return False


def _start(directory):
    """Start the daemon (it detaches itself); return its PID once its first reconcile is done."""
    import subprocess
    script = os.path.join(directory, SCRIPT_NAME)
    proc = subprocess.run([sys.executable, "-I", "-S", script, "start", directory],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=START_TIMEOUT + 5, check=False)
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise SshmuxError("starting the sshmux daemon in %s failed (rc=%d): %s; see %s/log"
                          % (directory, proc.returncode, (proc.stderr or proc.stdout).strip(),
                             directory))
    return int(proc.stdout.strip())


def _wait_generation(directory, pid, generation, after_reload=-1, timeout=START_TIMEOUT):
    """Wait for the status of a reconcile of ``generation`` numbered above ``after_reload``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = _read_status(directory)
        if st and st.get("pid") == pid and st.get("generation") == generation \
                and st.get("reload", 0) > after_reload:
            return st
        if daemon_pid(directory) != pid:
            raise SshmuxError("the sshmux daemon %d exited while reloading; see %s/log"
                              % (pid, directory))
        time.sleep(0.02)
    raise SshmuxError("the sshmux daemon %d did not reload %s/entries.json within %.0f s"
                      % (pid, directory, timeout))


def ensure(state_dir, platform, entries, authorized_keys, check_mode=False, host_key=None):
    """Make the platform's daemon listen on exactly ``entries``; return (changed, before, after).

    ``entries``: ``[{"netns": name, "address": ipv4}, ...]`` (a namespace ``/run/netns/<name>``
    that does not exist yet is logged and retried at the next call). ``authorized_keys``: the
    public keys allowed to log in as root on the vnodes (string of lines or list). ``host_key``:
    the vnodes' host key (an unencrypted OpenSSH private key, text), or None to generate one once.
    """
    directory = mux_dir(state_dir, platform)
    wanted = normalize_entries(entries)
    keys = normalize_keys(authorized_keys)
    host_pub = None
    if host_key is not None:
        host_key = host_key.strip() + "\n"
        host_pub = public_key_of(host_key)
        if host_pub is None:
            raise SshmuxError("host_key is not an unencrypted OpenSSH private key")
    bad = unsafe_ancestor(os.path.join(directory, "x"))
    if bad:
        raise SshmuxError("%s is group/world-writable or not owned by root: sshd (StrictModes) "
                          "would refuse %s/authorized_keys; choose another state_dir"
                          % (bad, directory))
    for prog in (SSHD, SSH_KEYGEN):
        if not os.access(prog, os.X_OK):
            raise SshmuxError("%s is missing: install openssh-server" % prog)

    current = observe(directory)
    desired = {
        "entries": render_entries(platform, wanted),
        "sshd_config": render_sshd_config(directory, platform),
        "authorized_keys": keys,
        "script": _own_source(),
        "host_key": host_key if host_key is not None else True,
    }
    actions = diff_state(current, desired)
    before = summary(current)
    existing = set(e["netns"] for e in wanted if _netns_ident(e["netns"]) is not None)
    listening, failed = predict_listeners(wanted, existing)
    after_state = dict(desired, running=True, listening=listening, failed=[None] * failed,
                       host_key_fingerprint=key_fingerprint(host_pub) if host_pub else
                       current.get("host_key_fingerprint") or "(generated)")
    after = summary(after_state)
    if check_mode or not actions:
        return before != after, before, after

    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    os.chmod(directory, 0o700)
    if not os.path.isdir(PRIVSEP_DIR):
        os.makedirs(PRIVSEP_DIR, 0o755)  # sshd refuses to run without its privsep directory
    if "write:host_key" in actions:
        key = os.path.join(directory, HOST_KEY)
        _write_atomic(key, host_key, 0o600)
        _write_atomic(key + ".pub", "%s vxlab-%s\n" % (host_pub, platform), 0o644)
    if "keygen" in actions:
        key = os.path.join(directory, HOST_KEY)
        for leftover in (key, key + ".pub"):
            if os.path.exists(leftover):
                os.unlink(leftover)
        _run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "vxlab-%s" % platform, "-f", key])
        os.chmod(key, 0o600)
    for name, fname, mode in (("authorized_keys", "authorized_keys", 0o600),
                              ("sshd_config", "sshd_config", 0o600),
                              ("script", SCRIPT_NAME, 0o600),
                              ("entries", "entries.json", 0o600)):
        if "write:" + name in actions:
            _write_atomic(os.path.join(directory, fname), desired[name], mode)
    _run([SSHD, "-t", "-f", os.path.join(directory, "sshd_config")])

    generation = _digest(desired["entries"])
    pid = current["pid"]
    seen = current.get("reload", -1) if pid else -1
    if "restart" in actions:
        if not _signal_and_wait(pid, directory, signal.SIGTERM):
            raise SshmuxError("the sshmux daemon %d did not stop on SIGTERM" % pid)
        pid = None
    if pid is None:
        pid = _start(directory)
    elif "hup" in actions:
        os.kill(pid, signal.SIGHUP)
    if pid != current["pid"]:
        seen = -1
    st = _wait_generation(directory, pid, generation, seen)
    after_state.update(listening=st.get("listening", 0), failed=st.get("failed", {}),
                       host_key_fingerprint=_host_key_fingerprint(directory))
    after = summary(after_state)
    return before != after, before, after


def remove(state_dir, platform, check_mode=False):
    """Stop the platform's daemon (verified PID) and delete its directory; (changed, before, after)."""
    import shutil
    directory = mux_dir(state_dir, platform)
    current = observe(directory)
    before = summary(current)
    after = summary({})
    changed = current["exists"]
    if check_mode or not changed:
        return changed, before, after
    if current["pid"] is not None and not _signal_and_wait(current["pid"], directory, signal.SIGTERM):
        raise SshmuxError("the sshmux daemon %d did not stop on SIGTERM" % current["pid"])
    shutil.rmtree(directory)
    return changed, before, after


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
