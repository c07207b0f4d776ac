"""The processes of a testbed's pnodes: found by the marker of their mount namespace or by
their network namespace (and their descendants), stopped by PID, and the control host's SSH
ControlPersist masters of the testbed closed.
"""
import contextlib
import os
import signal
import subprocess
import time

from ansible_collections.vxlab.emulation.plugins.module_utils._base import procfs


# sshd processes this Python process started (reaped by down() run from the same process)
CHILDREN = {}


def mountinfo_markers(text, markers):
    """The markers (tmpfs sources on /run/netns) present in a /proc/PID/mountinfo text."""
    found = set()
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        tail = right.split()
        if len(fields) >= 5 and len(tail) >= 2 and fields[4] == "/run/netns"\
                and tail[0] == "tmpfs" and tail[1] in markers:
            found.add(tail[1])
    return found


def scan_processes():
    """{pid: (net inode, mnt inode, ppid)} of every live process (zombies left out)."""
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        st = procfs.stat_fields(pid)
        if st is None or st[0] in ("Z", "X"):
            continue
        procs[pid] = (procfs.ns_inode(pid, "net"), procfs.ns_inode(pid, "mnt"), st[1])
    return procs


def sshd_alive(p):
    """True if the recorded sshd of pnode ``p`` (a state entry) is still that sshd."""
    pid = p.get("sshd_pid")
    if not pid:
        return False
    st = procfs.stat_fields(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    if p.get("sshd_starttime") is not None and st[2] != p["sshd_starttime"]:
        return False
    # sshd retitles itself ("sshd: /usr/sbin/sshd -D -f CONFIG [listener] ..."): compare words
    words = " ".join(procfs.cmdline(pid) or []).split()
    return bool(p.get("sshd_config")) and p["sshd_config"] in words


def testbed_processes(markers, netns_paths):
    """PIDs of every process that belongs to the testbed's pnodes.

    A process belongs if its mount namespace carries one of ``markers`` (the pnodes' sshd
    namespaces and the copies ``ip netns exec`` makes of them), if its network namespace is a
    pnode's (``netns_paths``) or one the pnodes named in their private /run/netns, or if it
    descends from such a process. This process, its ancestors and PID 1 are never included, nor
    is the initial network or mount namespace matched.
    """
    procs = scan_processes()
    me = os.getpid()
    protected = {1, me}
    pid = me
    while pid > 1:
        st = procfs.stat_fields(pid)
        if st is None:
            break
        pid = st[1]
        protected.add(pid)
    own_net, own_mnt = procfs.ns_inode(me, "net"), procfs.ns_inode(me, "mnt")
    init_net, init_mnt = procfs.ns_inode(1, "net"), procfs.ns_inode(1, "mnt")
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

    nets = {procfs.inode(path) for path in netns_paths}
    for mnt, pid in marked.items():
        root = "/proc/%d/root/run/netns" % pid
        try:
            entries = os.listdir(root)
        except OSError:
            continue
        for n in entries:
            nets.add(procfs.inode(os.path.join(root, n)))
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


def alive(pid):
    st = procfs.stat_fields(pid)
    return st is not None and st[0] not in ("Z", "X")


def reap(pid):
    child = CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(Exception):
            child.wait(timeout=0.5)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def kill(pids, grace=3.0):
    """SIGTERM, wait up to ``grace`` seconds, SIGKILL; return the PIDs still alive after that."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while True:
            for pid in pids:
                reap(pid)
            pids = [pid for pid in pids if alive(pid)]
            if not pids or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if not pids:
            break
    return pids


def close_masters(cp_dirs):
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
            cmd = procfs.cmdline(int(entry)) or []
            if cmd and cmd[0].startswith("ssh: ") and any(
                    cmd[0][5:].startswith(d.rstrip("/") + "/") for d in cp_dirs):
                masters.append(int(entry))
    if masters:
        kill(masters, grace=1.0)
    return sockets
