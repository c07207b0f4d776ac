# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH access to lightweight "netns" vnodes without one idle sshd per vnode (private to vxlab).

One daemon per (pnode, platform), :mod:`_vnodes.sshmux_daemon`, listens on every vnode's address
inside its namespace and runs OpenSSH ``sshd -i`` per connection (idle vnodes cost one socket each,
not one sshd each). This file is the library the ``vnodes`` concern calls: :func:`ensure`,
:func:`remove`, :func:`status` (validate -> observe -> pure diff -> apply); :func:`ensure` installs
the daemon's source as ``<dir>/sshmux.py`` and starts it with ``sys.executable -I -S``.

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
import signal
import sys
import time

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_atomic
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import sshmux_daemon as daemon
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes.sshmux_daemon import (
    NETNS_DIR,
    SCRIPT_NAME,
    SSHD,
    START_TIMEOUT,
)

SSH_KEYGEN = "/usr/bin/ssh-keygen"
PRIVSEP_DIR = "/run/sshd"
HOST_KEY = "ssh_host_ed25519_key"
STOP_TIMEOUT = 10.0

_KEYTYPE_RE = re.compile(r"^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|"
                         r"sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$")


class SshmuxError(Exception):
    """A bad argument or a failed operation; the message names the value or the file."""


# --------------------------------------------------------------------------------------------
# validation and normalisation (pure)


def _ipv4(value):
    try:
        address = naming.parse_ipv4("address", value)
    except ValueError as exc:
        raise SshmuxError(str(exc))
    if address != value:
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
        if not naming.is_node_name(name):
            raise SshmuxError("entry netns %r must be %s" % (name, naming.NODE_NAME_RULE))
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
    if not naming.is_platform(platform):
        raise SshmuxError("platform %r %s" % (platform, naming.PLATFORM_RULE))


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
    """The daemon's source text: the script that ensure() installs."""
    mod = daemon
    loader = getattr(mod, "__loader__", None)
    if loader is not None and hasattr(loader, "get_source"):
        try:
            src = loader.get_source(mod.__name__)
        except (ImportError, OSError):
            src = None
        if src:
            return src
    with open(os.path.abspath(daemon.__file__), "r") as f:
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


def ensure(state_dir, platform, entries, authorized_keys, check_mode=False, host_key=None, pending=()):
    """Make the platform's daemon listen on exactly ``entries``; return (changed, before, after).

    ``entries``: ``[{"netns": name, "address": ipv4}, ...]`` (a namespace ``/run/netns/<name>``
    that does not exist yet is logged and retried at the next call). ``authorized_keys``: the
    public keys allowed to log in as root on the vnodes (string of lines or list). ``host_key``:
    the vnodes' host key (an unencrypted OpenSSH private key, text), or None to generate one once.
    ``pending``: namespaces the vnodes step makes before the daemon is told (check mode: counted
    as present in the prediction).
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
    existing = set(e["netns"] for e in wanted if e["netns"] in pending or _netns_ident(e["netns"]) is not None)
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
        write_atomic(key, host_key, 0o600)
        write_atomic(key + ".pub", "%s vxlab-%s\n" % (host_pub, platform), 0o644)
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
            write_atomic(os.path.join(directory, fname), desired[name], mode)
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
