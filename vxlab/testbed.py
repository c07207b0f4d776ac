"""The one-machine testbed: K emulated pnodes on this machine, reachable over SSH like real ones.

A testbed ``NAME`` is

* an underlay: a Linux bridge ``vtNAME`` in the initial network namespace holding the control
  host's address ``.254`` of a free /24 of ``10.250.0.0/16``;
* per pnode ``i`` (from 1): a network namespace ``vt-NAME-pI`` with a veth ``ib0`` (address
  ``.i``) whose peer ``vtNAMEpI`` is a port of the underlay bridge, ``lo`` up and IPv4 forwarding
  on;
* per pnode an sshd in that network namespace AND in a private mount namespace of its own, where
  ``/sys`` is a fresh sysfs (it shows the pnode's interfaces; cgroups stay mounted) and
  ``/run/netns`` a fresh tmpfs, so the namespaces a pnode names (its vnodes) are its own, as on a
  real machine. Everything Ansible runs on a pnode inherits that mount namespace;
* files in two places:

  - ``<checkout>/inventories/NAME/``: only what Ansible reads (``hosts.yml``,
    ``group_vars/pnodes.yml``);
  - ``/var/lib/vxlab-testbeds/NAME/`` (:data:`RUNTIME_ROOT`): everything sshd and ssh check or
    that must not reach the checkout: the keys, the sshd configurations and logs, the pnodes'
    ``vxlab_state_dir`` (where the platform's own sshd files and LXC containers live), the
    ControlPersist sockets, ``ssh_config``, ``known_hosts`` and ``testbed.json``, the record that
    :func:`down` reads. OpenSSH's ``StrictModes`` refuses keys below a group- or world-writable
    directory, so these live where the whole path is root-owned and writable by root only,
    whatever directory the checkout is in (below ``/tmp`` too).

:func:`up` says "up" only after one SSH login as root to every pnode, made as Ansible makes it.

The pnodes share this machine's filesystem, so the project's own virtualenv is their Python.

Pure parts (names, subnet choice, rendering, validation, login diagnosis) are plain functions
tested as data in ``tests/unit/test_testbed_unit.py``; the functions that change the system call
iproute2, ssh-keygen, nsenter/unshare, ssh and sshd with argument lists, never through a shell
string built from input.
"""
import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

import yaml

import vxlab
from ansible_collections.vxlab.emulation.plugins.module_utils import _lxc_image as _image
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes.sshmux import unsafe_ancestor
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import (
    VXLAN_OVERHEAD,
    spec_from_hostvars,
)

NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
POOL = "10.250.0.0/16"
#: where a testbed's vnode network is taken from when -e vxlab_vnode_network is not given: a /16
#: no other testbed, address or route of the machine uses, so testbeds never share a route
VNODE_POOL = "10.144.0.0/12"
MAX_PNODES = 64
CONTROL_HOST = 254
MTU = 1500
SSH_PORT = 22
SSHD = "/usr/sbin/sshd"
ALIAS_PREFIX = "vxlab-testbed:"
#: where every testbed keeps its private files (see the module documentation)
RUNTIME_ROOT = "/var/lib/vxlab-testbeds"
STATE_FILE = "testbed.json"
STATE_VERSION = 1
# a unix socket path holds 107 bytes; ssh appends ".XXXXXXXXXXXXXXXX" (17) to %C (40) while it
# creates the socket
_SUN_PATH_MAX = 107
_CP_TOKEN_LEN = 40 + 17 + 1
# variables the testbed sets per pnode: a -e value for them would be silently overridden
HOST_ONLY_VARS = ("vxlab_underlay_address", "vxlab_pnode_index")
_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Runs as `sh -c SCRIPT sh TMPDIR MARKER CONFIG` inside the pnode's network namespace, in a fresh
# private mount namespace. Every value is a positional parameter; the script itself is constant.
#  1. /sys is remounted so that it describes the pnode's network namespace (/sys/class/net shows
#     ib0 and lo); the cgroup hierarchies are carried over through TMPDIR so that LXC works;
#  2. /run/netns is detached (it holds other namespaces' bind mounts, which must not stay pinned
#     by this pnode) and replaced by a tmpfs whose source is MARKER: the pnode's private set of
#     named namespaces, and the tag by which down() recognises every process of this pnode;
#  3. sshd replaces the shell: the process keeps the PID that started it.
SSHD_SCRIPT = (
    'set -e\n'
    'mount --rbind /sys/fs/cgroup "$1"\n'
    'umount -l /sys\n'
    'mount -t sysfs sysfs /sys\n'
    'mount --rbind "$1" /sys/fs/cgroup\n'
    'umount -l "$1"\n'
    'umount -l /run/netns 2>/dev/null || true\n'
    'mkdir -p /run/netns\n'
    'mount -t tmpfs -o mode=0755,size=1m "$2" /run/netns\n'
    'exec ' + SSHD + ' -D -e -f "$3"\n'
)

# sshd processes this Python process started (reaped by down() run from the same process)
_CHILDREN = {}


class TestbedError(RuntimeError):
    """A testbed operation failed; the message says what and, when it matters, how to recover."""


# --------------------------------------------------------------------------------------------
# pure: names, addresses, rendering, validation


def check_name(name):
    """Return ``name`` if it is a valid testbed name, else raise ValueError naming it."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError("testbed name %r is invalid: it must match %s (a lowercase letter, then "
                         "at most 7 lowercase letters or digits)" % (name, NAME_RE.pattern))
    return name


def check_pnodes(pnodes):
    if isinstance(pnodes, bool) or not isinstance(pnodes, int) or not 1 <= pnodes <= MAX_PNODES:
        raise ValueError("pnodes=%r is invalid: it must be an integer between 1 and %d"
                         % (pnodes, MAX_PNODES))
    return pnodes


def bridge_name(name):
    return "vt" + name


def pnode_names(name, count):
    """Names of pnode ``i`` (1-based) of testbed ``name``: host, netns, root-side link, marker."""
    return [{
        "index": i,
        "name": "%s-p%d" % (name, i),
        "netns": "vt-%s-p%d" % (name, i),
        "root_if": "vt%sp%d" % (name, i),
        "marker": "vxlab-vt-%s-p%d" % (name, i),
    } for i in range(1, count + 1)]


def _net(text):
    return ipaddress.ip_network(text, strict=False)


def choose_subnet(used, pool=POOL, new_prefix=24):
    """The first /``new_prefix`` of ``pool`` that overlaps none of the networks in ``used``.

    ``used`` holds networks (``"a.b.c.d/len"``; a bare address counts as /32). Networks broader
    than the pool itself (the default route, a /8) are no conflict: the testbed's /24 route is
    more specific than they are.
    """
    pool_net = _net(pool)
    taken = []
    for text in used:
        try:
            n = _net(text)
        except ValueError:
            continue
        if n.version == 4 and n.prefixlen >= pool_net.prefixlen and n.overlaps(pool_net):
            taken.append(n)
    for candidate in pool_net.subnets(new_prefix=new_prefix):
        if not any(candidate.overlaps(n) for n in taken):
            return str(candidate)
    raise TestbedError("no free /%d left in %s (every one is used by an address, a route or "
                       "another testbed)" % (new_prefix, pool))


def host_address(subnet, i):
    return str(_net(subnet).network_address + i)


def layout(name, repo, root=None):
    """Every path of testbed ``name`` of checkout ``repo`` (absolute).

    The inventory directory in the checkout holds only what Ansible should read (``hosts.yml``,
    ``group_vars/``); everything else is in the testbed's private directory ``root/NAME``
    (default :data:`RUNTIME_ROOT`), root-owned and out of the checkout: sshd refuses keys below a
    writable directory, a collection build must not read sockets, Ansible must not try keys or
    JSON state as inventory sources.
    """
    tb_dir = os.path.join(os.path.abspath(repo), "inventories", name)
    private = os.path.join(root or RUNTIME_ROOT, name)
    keys = os.path.join(private, "keys")
    return {
        "dir": tb_dir,
        "private": private,
        "inventory": os.path.join(tb_dir, "hosts.yml"),
        "group_vars": os.path.join(tb_dir, "group_vars", "pnodes.yml"),
        "ssh_config": os.path.join(private, "ssh_config"),
        "state": os.path.join(private, STATE_FILE),
        "state_dir": os.path.join(private, "state"),
        "keys": keys,
        "pnode_key": os.path.join(keys, "pnodes_ed25519"),
        "vnode_key": os.path.join(keys, "vnodes_ed25519"),
        "host_key": os.path.join(keys, "ssh_host_ed25519_key"),
        "authorized_keys": os.path.join(keys, "authorized_keys"),
        "known_hosts": os.path.join(private, "known_hosts"),
        "sshd_dir": os.path.join(private, "sshd"),
        "mnt_dir": os.path.join(private, "mnt"),
        # ControlPersist sockets: short enough for a unix socket path with ssh's %C token
        "cp": os.path.join(private, "cp"),
        "python": _python(repo),
    }


def _python(repo):
    """The pnodes' Python: the checkout's virtualenv (pnodes share this filesystem), else the
    interpreter running vxlab."""
    venv = os.path.join(os.path.abspath(repo), ".venv", "bin", "python")
    return venv if os.path.exists(venv) or not os.path.exists(sys.executable) else sys.executable


def ssh_common_args(paths):
    return ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=%s -o IdentitiesOnly=yes "
            "-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=%s/%%C"
            % (paths["known_hosts"], paths["cp"]))


def render_inventory(name, pnodes, subnet, paths, extra_vars=None, vnode_network=None):
    """The documents of ``hosts.yml`` and ``group_vars/pnodes.yml`` (plain data).

    ``pnodes``: :func:`pnode_names` entries. Extra variables win over the testbed's group
    variables (``vxlab_platform`` defaults to the testbed name); per-pnode variables are set by
    the testbed and cannot be given.
    """
    extra = check_extra_vars(name, extra_vars)
    common = ssh_common_args(paths)
    hosts = {}
    for p in pnodes:
        address = host_address(subnet, p["index"])
        hosts[p["name"]] = {
            "ansible_host": address,
            "vxlab_underlay_address": address,
            "vxlab_pnode_index": p["index"] - 1,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": paths["pnode_key"],
            "ansible_ssh_common_args": common,
            "ansible_python_interpreter": paths["python"],
        }
    hosts_doc = {"all": {"children": {"pnodes": {"hosts": hosts}}}}
    group_vars = {
        "vxlab_testbed": name,
        "vxlab_platform": name,
        "vxlab_underlay_network": subnet,
        "vxlab_state_dir": paths["state_dir"],
        "vxlab_ssh_key": paths["vnode_key"],
        "vxlab_control_access": "route",
    }
    if vnode_network:
        group_vars["vxlab_vnode_network"] = vnode_network
    group_vars.update(extra)
    return hosts_doc, group_vars


def check_extra_vars(name, extra_vars):
    if extra_vars is None:
        return {}
    if not isinstance(extra_vars, dict):
        raise ValueError("extra_vars must be a mapping of variable names to values, not %r"
                         % (extra_vars,))
    for key, value in extra_vars.items():
        if not isinstance(key, str) or not _VAR_RE.match(key):
            raise ValueError("extra variable name %r is invalid" % (key,))
        if key in HOST_ONLY_VARS:
            raise ValueError("%s=%r: the testbed sets this variable per pnode; it cannot be "
                             "given" % (key, value))
        if key == "vxlab_testbed" and value != name:
            raise ValueError("vxlab_testbed=%r: must be the testbed name %r" % (value, name))
    try:
        return yaml.safe_load(yaml.safe_dump(dict(extra_vars)))
    except yaml.YAMLError as exc:
        raise ValueError("extra variables cannot be written as YAML: %s" % exc)


def validate_inventory(hosts_doc, group_vars):
    """Validate the would-be inventory as Ansible will read it; raise the PlanError if any.

    Both documents go through a YAML round trip first, so what is validated is what is written.
    """
    hosts_doc = yaml.safe_load(yaml.safe_dump(hosts_doc))
    group_vars = yaml.safe_load(yaml.safe_dump(group_vars))
    hosts = hosts_doc["all"]["children"]["pnodes"]["hosts"]

    def hostvars_of(host):
        merged = dict(group_vars)
        merged.update(hosts[host])
        return merged

    spec = spec_from_hostvars(list(hosts), hostvars_of)
    # valid platforms the testbed's pnodes still cannot carry
    for p in spec.pnodes:
        if p.underlay_interface != "ib0":
            raise ValueError("vxlab_underlay_interface=%r: a testbed pnode's underlay interface "
                             "is 'ib0'" % p.underlay_interface)
    if spec.mtu > MTU - VXLAN_OVERHEAD:
        raise ValueError("vxlab_mtu=%d: the testbed underlay has MTU %d, so vnodes can have at "
                         "most %d (VXLAN adds %d bytes)" % (spec.mtu, MTU, MTU - VXLAN_OVERHEAD,
                                                            VXLAN_OVERHEAD))
    return spec


def render_sshd_config(address, paths, pidfile):
    return "\n".join([
        "# sshd of a vxlab testbed pnode (written by vxlab/testbed.py)",
        "ListenAddress %s" % address,
        "Port %d" % SSH_PORT,
        "HostKey %s" % paths["host_key"],
        "PidFile %s" % pidfile,
        "AuthorizedKeysFile %s" % paths["authorized_keys"],
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "UseDNS no",
        "PrintMotd no",
        "MaxStartups 100:30:200",
        "MaxSessions 100",
        # VERBOSE names a refused key and why (StrictModes, a key not authorised): what up()
        # quotes when a login fails
        "LogLevel VERBOSE",
        "Subsystem sftp internal-sftp",
        "",
    ])


def render_ssh_config(pnodes, subnet, paths):
    """An ``ssh -F`` configuration that reaches pnode ``NAME-pI`` (or its address) as root."""
    lines = ["# ssh -F %s NAME-pI   (vxlab testbed pnodes)" % paths["ssh_config"]]
    for p in pnodes:
        address = host_address(subnet, p["index"])
        lines += ["Host %s %s" % (p["name"], address), "    HostName %s" % address]
    name = pnodes[0]["name"].rpartition("-p")[0]
    lines += [
        "Host %s-p* %s.*" % (name, host_address(subnet, 0).rpartition(".")[0]),
        "    User root",
        "    IdentityFile %s" % paths["pnode_key"],
        "    IdentitiesOnly yes",
        "    StrictHostKeyChecking no",
        "    UserKnownHostsFile %s" % paths["known_hosts"],
        "    ControlMaster auto",
        "    ControlPersist 60s",
        "    ControlPath %s/%%C" % paths["cp"],
        "    LogLevel ERROR",
        "",
    ]
    return "\n".join(lines)


def authorized_keys_text(pnode_pub):
    """The pnodes' ``authorized_keys``: the testbed's pnode key."""
    return pnode_pub + "\n"


def login_argv(paths, address):
    """``ssh ... root@ADDRESS true`` with the options Ansible uses for a testbed pnode (user, key,
    the inventory's ``ansible_ssh_common_args``), batch mode, and no connection sharing (the
    options ssh reads first win, so they come before the inventory's)."""
    return (["ssh", "-F", "/dev/null", "-o", "ControlMaster=no", "-o", "ControlPath=none",
             "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=10"]
            + shlex.split(ssh_common_args(paths))
            + ["-i", paths["pnode_key"], "-p", str(SSH_PORT), "-l", "root", address, "true"])


_REFUSED_RE = re.compile(r"Authentication refused: (.*)")
_FAILED_KEY_RE = re.compile(r"Failed publickey for (\S+) from .*? (SHA256:\S+)")


def diagnose_login(client_error, sshd_log, paths):
    """Pure: ``(sshd_says, likely_cause)`` of a failed login to a pnode, from the client's error
    and the pnode sshd's log (LogLevel VERBOSE)."""
    lines = [ln.strip() for ln in (sshd_log or "").splitlines() if ln.strip()]
    refused = [m.group(1) for m in map(_REFUSED_RE.search, lines) if m]
    failed = [m.group(2) for m in map(_FAILED_KEY_RE.search, lines) if m]
    says = "; ".join(sorted(set(ln for ln in lines if _REFUSED_RE.search(ln) or
                                _FAILED_KEY_RE.search(ln)))) or "(nothing logged)"
    if refused:
        cause = ("sshd's StrictModes refuses %s: a directory on its path is group- or "
                 "world-writable or not owned by root (%s)" % (paths["authorized_keys"], refused[-1]))
    elif failed:
        cause = ("the key offered (%s, fingerprint %s) is not in the pnode's authorized keys %s"
                 % (paths["pnode_key"], failed[-1], paths["authorized_keys"]))
    elif re.search(r"Connection (refused|timed out)|No route to host", client_error or ""):
        cause = "the pnode's sshd does not accept connections on port %d" % SSH_PORT
    elif re.search(r"Permission denied", client_error or ""):
        cause = "sshd refused every key offered (%s)" % paths["pnode_key"]
    else:
        cause = "see the pnode's sshd log"
    return says, cause


def sshd_argv(netns, mnt_dir, marker, config):
    """The argv that starts a pnode's sshd (see :data:`SSHD_SCRIPT`)."""
    return ["nsenter", "--net=/run/netns/" + netns, "unshare", "-m", "--propagation", "private",
            "sh", "-c", SSHD_SCRIPT, "sh", mnt_dir, marker, config]


def underlay_batch(name, subnet, pnodes):
    """``ip -batch`` lines for the initial namespace: bridge, pnode namespaces, veth pairs."""
    br = bridge_name(name)
    alias = ALIAS_PREFIX + name
    prefix = _net(subnet).prefixlen
    lines = [
        "link add %s type bridge mcast_snooping 0" % br,
        "link set dev %s mtu %d alias %s" % (br, MTU, alias),
        "addr add %s/%d dev %s" % (host_address(subnet, CONTROL_HOST), prefix, br),
        "link set dev %s up" % br,
    ]
    for p in pnodes:
        lines += [
            "netns add %s" % p["netns"],
            "link add %s mtu %d type veth peer name ib0 mtu %d netns %s"
            % (p["root_if"], MTU, MTU, p["netns"]),
            "link set dev %s master %s alias %s up" % (p["root_if"], br, alias),
        ]
    return "\n".join(lines) + "\n"


def pnode_batch(subnet, index):
    """``ip -n PNODE -batch`` lines: the underlay address on ib0, ib0 and lo up."""
    return ("addr add %s/%d dev ib0\nlink set dev ib0 mtu %d up\nlink set dev lo up\n"
            % (host_address(subnet, index), _net(subnet).prefixlen, MTU))


def mountinfo_markers(text, markers):
    """The markers (tmpfs sources on /run/netns) present in a /proc/PID/mountinfo text."""
    found = set()
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        tail = right.split()
        if len(fields) >= 5 and len(tail) >= 2 and fields[4] == "/run/netns" \
                and tail[0] == "tmpfs" and tail[1] in markers:
            found.add(tail[1])
    return found


# --------------------------------------------------------------------------------------------
# observe


def _run(argv, stdin=None, check=True, timeout=60):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        raise TestbedError("%s failed (exit %d): %s" % (
            " ".join(argv[:4]), proc.returncode, (proc.stderr or proc.stdout).strip()))
    return proc


def _ip_json(*args):
    out = _run(["ip", "-j"] + list(args)).stdout.strip()
    return json.loads(out) if out else []


def _links():
    """{ifname: ifalias or ''} of the initial network namespace."""
    return {link["ifname"]: link.get("ifalias", "") for link in _ip_json("link", "show")}


def _netns_names():
    out = _run(["ip", "netns", "list"]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _used_networks():
    """Networks of the initial namespace's IPv4 addresses and routes (all tables)."""
    used = []
    for link in _ip_json("-4", "addr", "show"):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet":
                used.append("%s/%s" % (a["local"], a["prefixlen"]))
    for r in _ip_json("-4", "route", "show", "table", "all"):
        dst = r.get("dst")
        if dst and dst != "default":
            used.append(dst)
    return used


def _load_state(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TestbedError("cannot read testbed state %s: %s" % (path, exc))


def _write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def _write_text(path, text, mode=0o644):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _other_testbed_networks(name, root=None):
    """The underlay and vnode networks recorded by every other testbed of this machine (any
    checkout): a testbed still being made has no address or route to see yet."""
    root = root or RUNTIME_ROOT
    nets = []
    if not os.path.isdir(root):
        return nets
    for entry in sorted(os.listdir(root)):
        if entry == name:
            continue
        try:
            state = _load_state(os.path.join(root, entry, STATE_FILE))
        except TestbedError:
            continue
        for key in ("underlay_network", "vnode_network"):
            if state and state.get(key):
                nets.append(state[key])
    return nets


@contextlib.contextmanager
def _lock():
    """Serialise subnet choice and state creation of every testbed of this machine (they share
    the 10.250.0.0/16 pool and the link names, whatever checkout they belong to)."""
    lock_dir = "/run/lock" if os.path.isdir("/run/lock") else "/tmp"
    fd = os.open(os.path.join(lock_dir, "vxlab-testbed.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _ns_inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _link_inode(pid, ns):
    try:
        target = os.readlink("/proc/%d/ns/%s" % (pid, ns))
    except OSError:
        return None
    m = re.match(r"^\w+:\[(\d+)\]$", target)
    return int(m.group(1)) if m else None


def _stat_fields(pid):
    """(state, ppid, starttime) of ``pid`` or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data.rpartition(")")[2].split()
    return rest[0], int(rest[1]), int(rest[19])


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def _scan_processes():
    """{pid: (net inode, mnt inode, ppid)} of every live process (zombies left out)."""
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        st = _stat_fields(pid)
        if st is None or st[0] in ("Z", "X"):
            continue
        procs[pid] = (_link_inode(pid, "net"), _link_inode(pid, "mnt"), st[1])
    return procs


def _sshd_alive(p):
    """True if the recorded sshd of pnode ``p`` (a state entry) is still that sshd."""
    pid = p.get("sshd_pid")
    if not pid:
        return False
    st = _stat_fields(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    if p.get("sshd_starttime") is not None and st[2] != p["sshd_starttime"]:
        return False
    # sshd retitles itself ("sshd: /usr/sbin/sshd -D -f CONFIG [listener] ..."): compare words
    words = " ".join(_cmdline(pid) or []).split()
    return bool(p.get("sshd_config")) and p["sshd_config"] in words


def _testbed_processes(markers, netns_paths):
    """PIDs of every process that belongs to the testbed's pnodes.

    A process belongs if its mount namespace carries one of ``markers`` (the pnodes' sshd
    namespaces and the copies ``ip netns exec`` makes of them), if its network namespace is a
    pnode's (``netns_paths``) or one the pnodes named in their private /run/netns, or if it
    descends from such a process. This process, its ancestors and PID 1 are never included, nor
    is the initial network or mount namespace matched.
    """
    procs = _scan_processes()
    me = os.getpid()
    protected = {1, me}
    pid = me
    while pid > 1:
        st = _stat_fields(pid)
        if st is None:
            break
        pid = st[1]
        protected.add(pid)
    own_net, own_mnt = _link_inode(me, "net"), _link_inode(me, "mnt")
    init_net, init_mnt = _link_inode(1, "net"), _link_inode(1, "mnt")
    excluded_net = {own_net, init_net, None}
    excluded_mnt = {own_mnt, init_mnt, None}

    by_mnt = {}
    for pid, (net, mnt, ppid) in procs.items():
        if mnt not in excluded_mnt:
            by_mnt.setdefault(mnt, []).append(pid)
    marked = {}
    for mnt, pids in by_mnt.items():
        for pid in pids:
            try:
                with open("/proc/%d/mountinfo" % pid) as f:
                    text = f.read()
            except OSError:
                continue
            if mountinfo_markers(text, markers):
                marked[mnt] = pid
            break

    nets = {_ns_inode(path) for path in netns_paths}
    for mnt, pid in marked.items():
        root = "/proc/%d/root/run/netns" % pid
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for n in names:
            nets.add(_ns_inode(os.path.join(root, n)))
    nets -= excluded_net

    selected = {pid for pid, (net, mnt, ppid) in procs.items()
                if mnt in marked or net in nets}
    children = {}
    for pid, (net, mnt, ppid) in procs.items():
        children.setdefault(ppid, []).append(pid)
    stack = list(selected)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in selected:
                selected.add(child)
                stack.append(child)
    return sorted(selected - protected)


def _alive(pid):
    st = _stat_fields(pid)
    return st is not None and st[0] not in ("Z", "X")


def _reap(pid):
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(Exception):
            child.wait(timeout=0.5)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _kill(pids, grace=3.0):
    """SIGTERM, wait up to ``grace`` seconds, SIGKILL; return the PIDs still alive after that."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while True:
            for pid in pids:
                _reap(pid)
            pids = [pid for pid in pids if _alive(pid)]
            if not pids or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if not pids:
            break
    return pids


# --------------------------------------------------------------------------------------------
# up


def _say(progress, text):
    if progress is not None:
        progress(text)


def _keygen(path, comment):
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
    os.chmod(path, 0o600)
    with open(path + ".pub") as f:
        return f.read().strip()


def _wait_banner(address, pid, deadline, log):
    last = None
    while True:
        if not _alive(pid):
            _reap(pid)
            raise TestbedError("sshd for %s (pid %d) exited: %s" % (address, pid, _tail(log)))
        try:
            with socket.create_connection((address, SSH_PORT), timeout=1.0) as s:
                s.settimeout(2.0)
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise TestbedError("sshd for %s (pid %d) does not accept connections on port %d "
                               "(last error: %s); log: %s" % (address, pid, SSH_PORT, last,
                                                              _tail(log)))
        time.sleep(0.05)


def _tail(path, size=800):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode(errors="replace").strip() or "(empty)"
    except OSError:
        return "(no log)"


def _run_parallel(jobs, width=16):
    """Run argv lists (with stdin text) concurrently, ``width`` at a time; raise on a failure."""
    errors = []
    for start in range(0, len(jobs), width):
        running = []
        for argv, stdin in jobs[start:start + width]:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            running.append((argv, proc, stdin))
        for argv, proc, stdin in running:
            out, err = proc.communicate(stdin, timeout=60)
            if proc.returncode != 0:
                errors.append("%s: %s" % (" ".join(argv[:4]), (err or out).strip()))
    if errors:
        raise TestbedError("; ".join(errors))


def prove_logins(nodes, paths, timeout=30):
    """Log in to every pnode at once as Ansible will (:func:`login_argv`); raise a TestbedError
    naming each pnode that refused, what its sshd logged and the likely cause."""
    procs = [(p, subprocess.Popen(login_argv(paths, p["address"]), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
             for p in nodes]
    failures = []
    for p, proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err = (err or "") + " (no answer in %d s)" % timeout
        if proc.returncode == 0:
            continue
        client = " ".join((err or out or "exit %d" % proc.returncode).split())
        log = ""
        with contextlib.suppress(OSError):
            with open(p["sshd_log"], errors="replace") as f:
                log = f.read()[-20000:]
        says, cause = diagnose_login(client, log, paths)
        failures.append("%s (root@%s): ssh says %r; its sshd (log %s) says %r; likely cause: %s"
                        % (p["name"], p["address"], client[-300:], p["sshd_log"], says[-500:], cause))
    if failures:
        raise TestbedError("cannot log in to %d of %d pnodes: %s"
                           % (len(failures), len(nodes), " | ".join(failures)))


def up(name, pnodes=3, extra_vars=None, repo=None, progress=None):
    """Create testbed ``name`` with ``pnodes`` pnodes; return its description (see module doc).

    Everything is validated before anything is created. If creation fails half-way, what was
    made is removed again (by :func:`down`) before the error is raised.
    """
    check_name(name)
    check_pnodes(pnodes)
    repo = os.path.abspath(repo or vxlab.REPO)
    paths = layout(name, repo)
    nodes = pnode_names(name, pnodes)
    started = time.monotonic()

    with _lock():
        for where in (paths["dir"], paths["private"]):
            if os.path.lexists(where):
                raise TestbedError("testbed %r exists (%s%s); remove it with `vxlab testbed down "
                                   "--name %s` first" % (name, where, _made_from(paths, repo), name))
        used = _used_networks() + _other_testbed_networks(name)
        subnet = choose_subnet(used)
        vnode_net = None
        if "vxlab_vnode_network" not in (extra_vars or {}):
            vnode_net = choose_subnet(used + [subnet], pool=VNODE_POOL, new_prefix=16)
        hosts_doc, group_vars = render_inventory(name, nodes, subnet, paths, extra_vars, vnode_net)
        spec = validate_inventory(hosts_doc, group_vars)  # raises the PlanError; nothing made yet
        links = _links()
        namespaces = _netns_names()
        wanted = {bridge_name(name)} | {p["root_if"] for p in nodes}
        clash = sorted(wanted & set(links)) + sorted({p["netns"] for p in nodes} & namespaces)
        if clash:
            raise TestbedError("testbed %r cannot be made: %s already exist(s) on this machine"
                               % (name, ", ".join(clash)))
        state = {
            "version": STATE_VERSION,
            "name": name,
            "repo": repo,
            "status": "creating",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "dir": paths["dir"],
            "inventory": paths["inventory"],
            "ssh_config": paths["ssh_config"],
            "cp_dir": paths["cp"],
            "underlay_network": subnet,
            "vnode_network": group_vars.get("vxlab_vnode_network"),
            "control_address": host_address(subnet, CONTROL_HOST),
            "bridge": bridge_name(name),
            "links": [bridge_name(name)] + [p["root_if"] for p in nodes],
            "netns": [p["netns"] for p in nodes],
            "pnodes": [dict(p, address=host_address(subnet, p["index"]),
                            sshd_config=os.path.join(paths["sshd_dir"], "p%d.conf" % p["index"]),
                            sshd_pid=None, sshd_starttime=None) for p in nodes],
        }
        _make_private_dir(paths)
        os.makedirs(os.path.dirname(paths["group_vars"]), mode=0o755)  # and inventories/<name>/
        _write_json(paths["state"], state)

    try:
        _make(state, paths, hosts_doc, group_vars, progress)
        if spec.vnode_kind == "lxc" and not spec.lxc_image:
            base_image(name, progress)
    except BaseException as exc:
        _say(progress, "testbed %s: creation failed (%s); removing what was made" % (name, exc))
        try:
            result = down(name, repo=repo)
        except Exception as cleanup_exc:  # report both, the creation error first
            raise TestbedError("testbed %r: %s; cleaning up also failed: %s"
                               % (name, exc, cleanup_exc)) from exc
        if not result["ok"]:
            raise TestbedError("testbed %r: %s; cleaning up left: %s"
                               % (name, exc, "; ".join(result["remaining"]))) from exc
        raise
    _say(progress, "testbed %s: %d pnodes up in %.1f s; inventory %s"
         % (name, pnodes, time.monotonic() - started, paths["inventory"]))
    return _describe(state)


def _made_from(paths, repo):
    """``", made from checkout X"`` when the testbed's record names another checkout."""
    try:
        other = (_load_state(paths["state"]) or {}).get("repo")
    except TestbedError:
        other = None
    return ", made from the checkout %s" % other if other and other != repo else ""


def _make_private_dir(paths):
    """The testbed's private directory, below a root-owned path that only root can write (sshd's
    StrictModes checks every directory above the keys it reads)."""
    root = os.path.dirname(paths["private"])
    os.makedirs(root, mode=0o755, exist_ok=True)
    bad = unsafe_ancestor(paths["private"])
    if bad:
        raise TestbedError("%s is writable by others than root or not owned by root: sshd "
                           "(StrictModes) would refuse the testbed's keys below it; fix its "
                           "owner and mode (root, 0755)" % bad)
    os.mkdir(paths["private"], 0o755)


def _make(state, paths, hosts_doc, group_vars, progress):
    name, subnet, nodes = state["name"], state["underlay_network"], state["pnodes"]
    for d in ("keys", "sshd_dir", "state_dir", "cp"):
        os.makedirs(paths[d], mode=0o700, exist_ok=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory

    _say(progress, "testbed %s: underlay %s on bridge %s, %d pnode namespaces"
         % (name, subnet, state["bridge"], len(nodes)))
    _run(["ip", "-batch", "-"], stdin=underlay_batch(name, subnet, nodes))
    jobs = []
    for p in nodes:
        jobs.append((["ip", "-n", p["netns"], "-batch", "-"], pnode_batch(subnet, p["index"])))
        jobs.append((["nsenter", "--net=/run/netns/" + p["netns"], "sysctl", "-qw",
                      "net.ipv4.ip_forward=1"], ""))
    _run_parallel(jobs)

    _say(progress, "testbed %s: keys and sshd configuration" % name)
    pnode_pub = _keygen(paths["pnode_key"], "vxlab-testbed-%s-pnodes" % name)
    _keygen(paths["vnode_key"], "vxlab-testbed-%s-vnodes" % name)
    host_pub = _keygen(paths["host_key"], "vxlab-testbed-%s-host" % name)
    _write_text(paths["authorized_keys"], authorized_keys_text(pnode_pub), 0o600)
    host_key = " ".join(host_pub.split()[:2])
    _write_text(paths["known_hosts"], "".join(
        "%s,%s %s\n" % (p["name"], p["address"], host_key) for p in nodes))
    _write_text(paths["ssh_config"], render_ssh_config(nodes, subnet, paths))
    for p in nodes:
        pidfile = os.path.join(paths["sshd_dir"], "p%d.pid" % p["index"])
        _write_text(p["sshd_config"], render_sshd_config(p["address"], paths, pidfile), 0o600)
        os.makedirs(os.path.join(paths["mnt_dir"], "p%d" % p["index"]), mode=0o700, exist_ok=True)

    _say(progress, "testbed %s: starting %d sshd" % (name, len(nodes)))
    for p in nodes:
        log = os.path.join(paths["sshd_dir"], "p%d.log" % p["index"])
        with open(log, "ab") as logf:
            proc = subprocess.Popen(
                sshd_argv(p["netns"], os.path.join(paths["mnt_dir"], "p%d" % p["index"]),
                          p["marker"], p["sshd_config"]),
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, close_fds=True,
                start_new_session=True)
        _CHILDREN[proc.pid] = proc
        p["sshd_pid"] = proc.pid
        p["sshd_log"] = log
    _write_json(paths["state"], state)
    deadline = time.monotonic() + 15 + 0.25 * len(nodes)
    for p in nodes:
        _wait_banner(p["address"], p["sshd_pid"], deadline, p["sshd_log"])
        st = _stat_fields(p["sshd_pid"])
        p["sshd_starttime"] = st[2] if st else None
        p["netns_inode"] = _link_inode(p["sshd_pid"], "net")
        p["mnt_inode"] = _link_inode(p["sshd_pid"], "mnt")
    _write_json(paths["state"], state)
    _say(progress, "testbed %s: logging in to %d pnodes as Ansible will" % (name, len(nodes)))
    prove_logins(nodes, paths)

    _write_text(paths["inventory"], "# vxlab testbed %s (written by vxlab/testbed.py)\n" % name
                + yaml.safe_dump(hosts_doc, default_flow_style=False, sort_keys=False))
    _write_text(paths["group_vars"], "# vxlab testbed %s: platform variables\n" % name
                + yaml.safe_dump(group_vars, default_flow_style=False, sort_keys=False))
    state["status"] = "up"
    _write_json(paths["state"], state)


def base_image(name, progress=None):
    """Build the LXC vnodes' default base image in this (the initial) network namespace.

    A real pnode builds it itself (``vxlab.emulation.lxc_image``, debootstrap from its Debian
    mirror), but the testbed's pnodes are namespaces with no route beyond the testbed, so the
    image their deploy will ask for (same recipe, so same cache directory: the pnodes share this
    machine's filesystem) is built here, once per machine; the deploy then finds it cached.
    """
    if not shutil.which("lxc-start") or not shutil.which("debootstrap"):
        return  # no LXC here: the deploy says so if the platform asks for LXC vnodes
    d = _image.validate({})
    started = time.monotonic()
    try:
        changed, info = _image.ensure(d, check_mode=True)
        if not changed:
            return
        _say(progress, "testbed %s: LXC base image %s (debootstrap, once per machine, about a "
             "minute; the pnodes have no route to a mirror)" % (name, os.path.dirname(info["rootfs"])))
        _image.ensure(d)
    except _image.ImageError as exc:
        raise TestbedError("the LXC base image could not be built on this machine (%s); give "
                           "vxlab_lxc_image (a root filesystem or tarball) or -e "
                           "vxlab_vnode_kind=netns" % exc) from exc
    _say(progress, "testbed %s: LXC base image built in %.0f s" % (name, time.monotonic() - started))


def _describe(state):
    return {
        "name": state["name"],
        "inventory": state["inventory"],
        "dir": state["dir"],
        "private": os.path.dirname(state["ssh_config"]) if state.get("ssh_config") else None,
        "ssh_config": state.get("ssh_config"),
        "pnodes": [{"name": p["name"], "netns": p["netns"], "address": p["address"],
                    "sshd_pid": p.get("sshd_pid")} for p in state.get("pnodes", [])],
        "underlay_network": state.get("underlay_network"),
        "control_address": state.get("control_address"),
    }


# --------------------------------------------------------------------------------------------
# down


def down(name, repo=None, progress=None):
    """Remove testbed ``name``: processes, namespaces, links, files. Idempotent.

    Works from ``testbed.json`` and, where that is missing or incomplete, from the names the
    testbed's objects must have (namespaces ``vt-NAME-pI``, links aliased ``vxlab-testbed:NAME``).
    Returns ``{name, dir, removed: {control_masters, processes, netns, links, dir, private},
    remaining, ok}``; ``remaining`` lists what could not be removed (then the state file is kept,
    so that down can be run again).
    """
    check_name(name)
    repo = os.path.abspath(repo or vxlab.REPO)
    paths = layout(name, repo)
    try:
        state = _load_state(paths["state"]) or {}
    except TestbedError as exc:  # unreadable record: fall back to the names alone
        _say(progress, "testbed %s: %s; looking for its objects by name" % (name, exc))
        state = {}
    removed = {"control_masters": [], "processes": [], "netns": [], "links": [], "dir": None,
               "private": None}
    remaining = []

    # what belongs to the testbed: recorded, plus found by name/alias
    ns_re = re.compile(r"^vt-%s-p([0-9]+)$" % re.escape(name))
    namespaces = _netns_names()
    netns = set(state.get("netns", [])) | {n for n in namespaces if ns_re.match(n)}
    links_now = _links()
    links = set(state.get("links", [])) | {
        n for n, alias in links_now.items() if alias == ALIAS_PREFIX + name}
    markers = {"vxlab-" + n for n in netns}
    # (and the sockets of a testbed made by a vxlab that kept them in the checkout)
    cp_dirs = {d for d in (state.get("cp_dir"), paths["cp"],
                           os.path.join(state.get("dir") or paths["dir"], ".testbed", "cp")) if d}

    # 1. ControlPersist masters of the testbed's sockets
    removed["control_masters"] = _close_masters(cp_dirs)

    # 2. every process of the pnodes
    pids = _testbed_processes(markers, ["/run/netns/" + n for n in netns if n in namespaces])
    for p in state.get("pnodes", []):
        if p.get("sshd_pid") and _sshd_alive(p) and p["sshd_pid"] not in pids:
            pids.append(p["sshd_pid"])
    if pids:
        _say(progress, "testbed %s: stopping %d processes" % (name, len(pids)))
        left = _kill(pids)
        removed["processes"] = sorted(set(pids) - set(left))
        remaining += ["process %d" % pid for pid in left]
    for p in state.get("pnodes", []):  # reap sshd children of this process, if any
        if p.get("sshd_pid"):
            _reap(p["sshd_pid"])

    # 3. namespaces, links, bridge
    gone = sorted(netns & namespaces)
    if gone:
        _say(progress, "testbed %s: deleting %d namespaces" % (name, len(gone)))
        _run(["ip", "-force", "-batch", "-"], stdin="".join("netns del %s\n" % n for n in gone),
             check=False)
        removed["netns"] = gone
    bridge = bridge_name(name)
    ports = sorted(n for n in links if n != bridge and n in links_now)
    order = ports + ([bridge] if bridge in links and bridge in links_now else [])
    if order:
        _run(["ip", "-force", "-batch", "-"], stdin="".join("link del dev %s\n" % n for n in order),
             check=False)

    # 4. verify (namespace teardown in the kernel is asynchronous: give it a moment)
    deadline = time.monotonic() + 5.0
    while True:
        left_ns = sorted(netns & _netns_names())
        now = _links()
        left_links = sorted(n for n in links if n in now)
        left_procs = _testbed_processes(markers, ["/run/netns/" + n for n in left_ns])
        if not (left_ns or left_links or left_procs) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    removed["links"] = sorted(n for n in order if n not in left_links)
    remaining += ["netns %s" % n for n in left_ns]
    remaining += ["link %s" % n for n in left_links]
    remaining += ["process %d" % pid for pid in left_procs if "process %d" % pid not in remaining]

    # 5. files: the inventory directory in the checkout (the one recorded, if the testbed was made
    # from another checkout), then the private directory with the record (both kept when
    # something could not be removed: the record says what is left)
    for d in sorted({state.get("dir") or paths["dir"], paths["dir"]}):
        if not os.path.lexists(d):
            continue
        if not state and not _is_testbed_dir(d):
            remaining.append("directory %s is not a testbed's (no %s, hosts.yml not written by "
                             "vxlab): left alone" % (d, STATE_FILE))
        elif remaining:
            remaining.append("directory %s (kept: the testbed is not fully removed)" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
            if os.path.lexists(d):
                remaining.append("directory %s" % d)
            else:
                removed["dir"] = d
    if os.path.lexists(paths["private"]):
        if remaining:
            remaining.append("directory %s (kept: it records what is left)" % paths["private"])
        else:
            shutil.rmtree(paths["private"], ignore_errors=True)
            if os.path.lexists(paths["private"]):
                remaining.append("directory %s" % paths["private"])
            else:
                removed["private"] = paths["private"]
    for d in cp_dirs:
        if d != paths["cp"] and os.path.isdir(d) and not remaining:
            shutil.rmtree(d, ignore_errors=True)
    _say(progress, "testbed %s: %s" % (name, "removed" if not remaining else
                                       "NOT fully removed: " + "; ".join(remaining)))
    return {"name": name, "dir": paths["dir"], "removed": removed, "remaining": remaining,
            "ok": not remaining}


def _is_testbed_dir(tb_dir):
    """True if ``tb_dir`` (``inventories/NAME``) was written by a testbed."""
    try:
        with open(os.path.join(tb_dir, "hosts.yml")) as f:
            if f.readline().startswith("# vxlab testbed "):
                return True
    except OSError:
        pass
    # a testbed made by a vxlab that kept its files in the checkout
    return os.path.isfile(os.path.join(tb_dir, ".testbed", STATE_FILE))


def _close_masters(cp_dirs):
    """Ask every ControlPersist master listening in ``cp_dirs`` to exit; kill those that stay."""
    sockets = []
    for d in cp_dirs:
        try:
            sockets += [os.path.join(d, f) for f in sorted(os.listdir(d))]
        except OSError:
            pass
    procs = [subprocess.Popen(["ssh", "-O", "exit", "-o", "ControlPath=" + s, "vxlab-testbed"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for s in sockets]
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # a master renames itself "ssh: <socket> [mux]"
    masters = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            cmd = _cmdline(int(entry)) or []
            if cmd and cmd[0].startswith("ssh: ") and any(
                    cmd[0][5:].startswith(d.rstrip("/") + "/") for d in cp_dirs):
                masters.append(int(entry))
    if masters:
        _kill(masters, grace=1.0)
    return sockets


# --------------------------------------------------------------------------------------------
# list


def list_testbeds(repo=None):
    """Every testbed of this checkout (a directory of ``inventories/`` whose record names this
    checkout), with the health of its pnodes.

    Each entry: the :func:`up` description plus ``status`` (``up``: every pnode's namespace and
    sshd are there; ``degraded``: some are missing; ``creating``: up has not finished or
    crashed), ``created`` and per pnode ``netns_present`` and ``sshd_running``.
    """
    repo = os.path.abspath(repo or vxlab.REPO)
    inventories = os.path.join(repo, "inventories")
    result = []
    if not os.path.isdir(inventories):
        return result
    namespaces = _netns_names()
    for entry in sorted(os.listdir(inventories)):
        if not NAME_RE.match(entry):
            continue
        try:
            state = _load_state(layout(entry, repo)["state"])
        except TestbedError:
            state = None
        if not state or state.get("repo") != repo:
            continue
        desc = _describe(state)
        healthy = True
        for p, d in zip(state.get("pnodes", []), desc["pnodes"]):
            d["netns_present"] = p["netns"] in namespaces
            d["sshd_running"] = _sshd_alive(p)
            healthy = healthy and d["netns_present"] and d["sshd_running"]
        status = state.get("status", "creating")
        desc["status"] = "degraded" if status == "up" and not healthy else status
        desc["created"] = state.get("created")
        result.append(desc)
    return result


# --------------------------------------------------------------------------------------------
# one pnode's sshd (fault tests: a pnode that cannot be reached, then comes back)


def _pnode_entry(state, pnode):
    for p in state.get("pnodes", []):
        if pnode in (p["name"], p["netns"], str(p["index"])):
            return p
    raise ValueError("pnode %r is not a pnode of testbed %s (pnodes: %s)" % (
        pnode, state.get("name"), ", ".join(p["name"] for p in state.get("pnodes", []))))


def _state_of(name, repo):
    check_name(name)
    paths = layout(name, os.path.abspath(repo or vxlab.REPO))
    state = _load_state(paths["state"])
    if not state:
        raise TestbedError("testbed %r does not exist (no %s)" % (name, paths["state"]))
    return paths, state


def stop_sshd(name, pnode, repo=None, progress=None):
    """Make pnode ``pnode`` unreachable: stop its sshd (the PID recorded in ``testbed.json``) and
    close the control host's SSH connections to it. What runs on the pnode keeps running.
    Returns ``{name, pnode, pid, stopped}``."""
    paths, state = _state_of(name, repo)
    p = _pnode_entry(state, pnode)
    subprocess.run(["ssh", "-F", paths["ssh_config"], "-O", "exit", p["name"]], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False)
    pid = p.get("sshd_pid")
    stopped = False
    if pid and _sshd_alive(p):
        left = _kill([pid])
        stopped = not left
        if left:
            raise TestbedError("sshd %d of pnode %s does not stop" % (pid, p["name"]))
    _say(progress, "testbed %s: sshd of %s %s" % (name, p["name"], "stopped" if stopped else "was not running"))
    return {"name": name, "pnode": p["name"], "pid": pid, "stopped": stopped}


def restart_sshd(name, pnode=None, repo=None, progress=None):
    """Start the sshd of ``pnode`` (every pnode when None) if it is not running; record its PID.

    The new sshd joins the pnode's existing mount namespace when a process still holds it (the
    pnode then keeps seeing its vnodes' namespaces); otherwise it gets a fresh one as at
    :func:`up`. Returns ``{name, restarted: [pnode, ...], running: [pnode, ...]}``.
    """
    paths, state = _state_of(name, repo)
    nodes = [_pnode_entry(state, pnode)] if pnode else state.get("pnodes", [])
    restarted, running = [], []
    with _lock():
        for p in nodes:
            if _sshd_alive(p):
                running.append(p["name"])
                continue
            if p["netns"] not in _netns_names():
                raise TestbedError("pnode %s has lost its network namespace %s: recreate the testbed"
                                   % (p["name"], p["netns"]))
            holders = _testbed_processes({p["marker"]}, [])
            mnt = None
            for pid in holders:
                text = ""
                with contextlib.suppress(OSError):
                    with open("/proc/%d/mountinfo" % pid) as f:
                        text = f.read()
                if mountinfo_markers(text, {p["marker"]}):
                    mnt = "/proc/%d/ns/mnt" % pid
                    break
            if mnt:
                argv = ["nsenter", "--net=/run/netns/" + p["netns"], "--mount=" + mnt,
                        SSHD, "-D", "-e", "-f", p["sshd_config"]]
            else:
                argv = sshd_argv(p["netns"], os.path.join(paths["mnt_dir"], "p%d" % p["index"]),
                                 p["marker"], p["sshd_config"])
            log = p.get("sshd_log") or os.path.join(paths["sshd_dir"], "p%d.log" % p["index"])
            with open(log, "ab") as logf:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                        close_fds=True, start_new_session=True)
            _CHILDREN[proc.pid] = proc
            _wait_banner(p["address"], proc.pid, time.monotonic() + 15, log)
            st = _stat_fields(proc.pid)
            p.update(sshd_pid=proc.pid, sshd_starttime=st[2] if st else None, sshd_log=log)
            restarted.append(p["name"])
            _say(progress, "testbed %s: sshd of %s started (pid %d%s)" % (
                name, p["name"], proc.pid, ", existing mount namespace" if mnt else ""))
        if restarted:
            _write_json(paths["state"], state)
    return {"name": name, "restarted": restarted, "running": running}
