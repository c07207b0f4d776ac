"""The machine a testbed lives on: its links, namespaces, addresses and routes (read with
iproute2's JSON output), testbed records, and the machine-wide lock of testbed creation.
"""
import contextlib
import fcntl
import json
import os
import subprocess

from vxlab.testbed import names


# --------------------------------------------------------------------------------------------
# observe
def run(argv, stdin=None, check=True, timeout=60):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        raise names.TestbedError("%s failed (exit %d): %s" % (
            " ".join(argv[:4]), proc.returncode, (proc.stderr or proc.stdout).strip()))
    return proc


def ip_json(*args):
    out = run(["ip", "-j"] + list(args)).stdout.strip()
    return json.loads(out) if out else []


def links():
    """{ifname: ifalias or ''} of the initial network namespace."""
    return {link["ifname"]: link.get("ifalias", "") for link in ip_json("link", "show")}


def netns_names():
    out = run(["ip", "netns", "list"]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def used_networks():
    """Networks of the initial namespace's IPv4 addresses and routes (all tables)."""
    used = []
    for link in ip_json("-4", "addr", "show"):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet":
                used.append("%s/%s" % (a["local"], a["prefixlen"]))
    for r in ip_json("-4", "route", "show", "table", "all"):
        dst = r.get("dst")
        if dst and dst != "default":
            used.append(dst)
    return used


def load_state(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise names.TestbedError("cannot read testbed state %s: %s" % (path, exc))


def other_testbed_networks(name, root=None):
    """The underlay and vnode networks recorded by every other testbed of this machine (any
    checkout): a testbed still being made has no address or route to see yet."""
    root = root or names.RUNTIME_ROOT
    nets = []
    if not os.path.isdir(root):
        return nets
    for entry in sorted(os.listdir(root)):
        if entry == name:
            continue
        try:
            state = load_state(os.path.join(root, entry, names.STATE_FILE))
        except names.TestbedError:
            continue
        for key in ("underlay_network", "vnode_network"):
            if state and state.get(key):
                nets.append(state[key])
        nets += [n for n in (state or {}).get("underlay_networks") or [] if n not in nets]
    return nets


@contextlib.contextmanager
def lock():
    """Serialise subnet choice and state creation of every testbed of this machine (they share
    the 10.250.0.0/16 pool and the link names, whatever checkout they belong to)."""
    lock_dir = "/run/lock" if os.path.isdir("/run/lock") else "/tmp"
    fd = os.open(os.path.join(lock_dir, "vxlab-testbed.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# up
def say(progress, text):
    if progress is not None:
        progress(text)
