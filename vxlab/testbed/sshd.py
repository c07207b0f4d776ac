"""One pnode's sshd: waiting for its banner, and stopping / restarting it (fault tests: a pnode
that cannot be reached, then comes back).
"""
import contextlib
import os
import socket
import subprocess
import time

import vxlab
from ansible_collections.vxlab.emulation.plugins.module_utils._base import procfs
from ansible_collections.vxlab.emulation.plugins.module_utils._base import files
from vxlab.testbed import bare, names, processes, render, system


def wait_banner(address, pid, deadline, log):
    last = None
    while True:
        if not processes.alive(pid):
            processes.reap(pid)
            raise names.TestbedError("sshd for %s (pid %d) exited: %s" % (address, pid, tail(log)))
        try:
            with socket.create_connection((address, names.SSH_PORT), timeout=1.0) as s:
                s.settimeout(2.0)
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise names.TestbedError("sshd for %s (pid %d) does not accept connections on port %d "
                                     "(last error: %s); log: %s" % (address, pid, names.SSH_PORT, last,
                                                                    tail(log)))
        time.sleep(0.05)


def tail(path, size=800):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode(errors="replace").strip() or "(empty)"
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------
# one pnode's sshd (fault tests: a pnode that cannot be reached, then comes back)
def pnode_entry(state, pnode):
    for p in state.get("pnodes", []):
        if pnode in (p["name"], p["netns"], str(p["index"])):
            return p
    raise ValueError("pnode %r is not a pnode of testbed %s (pnodes: %s)" % (
        pnode, state.get("name"), ", ".join(p["name"] for p in state.get("pnodes", []))))


def state_of(name, repo):
    names.check_name(name)
    paths = names.layout(name, os.path.abspath(repo or vxlab.REPO))
    state = system.load_state(paths["state"])
    if not state:
        raise names.TestbedError("testbed %r does not exist (no %s)" % (name, paths["state"]))
    return paths, state


def start_argv(state, paths, p):
    """The argv that starts pnode ``p``'s sshd in a fresh private mount namespace: chrooted into
    its own root on a bare testbed (:mod:`vxlab.testbed.bare`), else on this machine's."""
    if state.get("bare"):
        return bare.sshd_argv(p, paths, state["bare"])
    return render.sshd_argv(p["netns"], os.path.join(paths["mnt_dir"], "p%d" % p["index"]),
                            p["marker"], p["sshd_config"])


def stop_sshd(name, pnode, repo=None, progress=None):
    """Make pnode ``pnode`` unreachable: stop its sshd (the PID recorded in ``testbed.json``) and
    close the control host's SSH connections to it. What runs on the pnode keeps running.
    Returns ``{name, pnode, pid, stopped}``."""
    paths, state = state_of(name, repo)
    p = pnode_entry(state, pnode)
    subprocess.run(["ssh", "-F", paths["ssh_config"], "-O", "exit", p["name"]], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False)
    pid = p.get("sshd_pid")
    stopped = False
    if pid and processes.sshd_alive(p):
        left = processes.kill([pid])
        stopped = not left
        if left:
            raise names.TestbedError("sshd %d of pnode %s does not stop" % (pid, p["name"]))
    system.say(progress, "testbed %s: sshd of %s %s" % (name, p["name"], "stopped" if stopped else "was not running"))
    return {"name": name, "pnode": p["name"], "pid": pid, "stopped": stopped}


def restart_sshd(name, pnode=None, repo=None, progress=None):
    """Start the sshd of ``pnode`` (every pnode when None) if it is not running; record its PID.

    The new sshd joins the pnode's existing mount namespace when a process still holds it (the
    pnode then keeps seeing its vnodes' namespaces); otherwise it gets a fresh one as at
    :func:`up`. Returns ``{name, restarted: [pnode, ...], running: [pnode, ...]}``.
    """
    paths, state = state_of(name, repo)
    nodes = [pnode_entry(state, pnode)] if pnode else state.get("pnodes", [])
    restarted, running = [], []
    with system.lock():
        for p in nodes:
            if processes.sshd_alive(p):
                running.append(p["name"])
                continue
            if p["netns"] not in system.netns_names():
                raise names.TestbedError("pnode %s has lost its network namespace %s: recreate the testbed"
                                         % (p["name"], p["netns"]))
            holders = processes.testbed_processes({p["marker"]}, [])
            mnt = None
            for pid in holders:
                text = ""
                with contextlib.suppress(OSError):
                    with open("/proc/%d/mountinfo" % pid) as f:
                        text = f.read()
                if processes.mountinfo_markers(text, {p["marker"]}):
                    mnt = "/proc/%d/ns/mnt" % pid
                    break
            if mnt and state.get("bare"):
                argv = bare.restart_argv(p, paths, mnt)
            elif mnt:
                argv = ["nsenter", "--net=/run/netns/" + p["netns"], "--mount=" + mnt,
                        names.SSHD, "-D", "-e", "-f", p["sshd_config"]]
            else:
                argv = start_argv(state, paths, p)
            log = p.get("sshd_log") or os.path.join(paths["sshd_dir"], "p%d.log" % p["index"])
            with open(log, "ab") as logf:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                        close_fds=True, start_new_session=True)
            processes.CHILDREN[proc.pid] = proc
            wait_banner(p["address"], proc.pid, time.monotonic() + 15, log)
            st = procfs.stat_fields(proc.pid)
            p.update(sshd_pid=proc.pid, sshd_starttime=st[2] if st else None, sshd_log=log)
            restarted.append(p["name"])
            system.say(progress, "testbed %s: sshd of %s started (pid %d%s)" % (
                name, p["name"], proc.pid, ", existing mount namespace" if mnt else ""))
        if restarted:
            files.write_json(paths["state"], state)
    return {"name": name, "restarted": restarted, "running": running}
