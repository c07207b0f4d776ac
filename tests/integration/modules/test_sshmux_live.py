"""sshmux against real namespaces, a real daemon and the real OpenSSH client and server (root).

Layout per test session: a hub namespace holding a bridge and the client side, and vnode
namespaces each with one veth end on that bridge. Every object carries a unique prefix and is
removed even when a test fails; the only process ever signalled is the daemon started here, by
the PID its own state directory records.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import sshmux as m

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, sshd)"),
    pytest.mark.skipif(not os.access(m.SSHD, os.X_OK), reason="openssh-server is not installed"),
]

PREFIX = "t%dm" % (os.getpid() % 10000)
SUBNET = "10.252.%d" % (os.getpid() % 250)
HUB = PREFIX + "hub"
PLATFORM = PREFIX + "p"
N = 3


def ip(*args, check=True):
    return subprocess.run(("ip",) + args, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


def vnode(i):
    return {"netns": "%sv%d" % (PREFIX, i), "address": "%s.%d" % (SUBNET, 10 + i)}


def _kill_our_daemon(state_dir):
    """SIGTERM only the daemon whose pidfile and command line point into ``state_dir``."""
    directory = m.mux_dir(state_dir, PLATFORM)
    pid = m.daemon_pid(directory) if os.path.isdir(directory) else None
    if pid:
        os.kill(pid, signal.SIGTERM)
        for dummy in range(200):
            if m._proc_state(pid) in ("", "Z"):
                break
            time.sleep(0.02)


@pytest.fixture(scope="module")
def lab():
    """Hub namespace with a bridge, N vnode namespaces on it, a key pair, a state directory."""
    state_dir = tempfile.mkdtemp(prefix="vxlab-sshmux-", dir="/run")  # root-owned, not 1777
    keydir = tempfile.mkdtemp(prefix="vxlab-sshmux-key-")
    created = []
    try:
        ip("netns", "add", HUB)
        created.append(HUB)
        ip("-n", HUB, "link", "add", "br0", "type", "bridge")
        ip("-n", HUB, "addr", "add", SUBNET + ".1/24", "dev", "br0")
        ip("-n", HUB, "link", "set", "br0", "up")
        ip("-n", HUB, "link", "set", "lo", "up")
        for i in range(1, N + 1):
            v = vnode(i)
            ip("netns", "add", v["netns"])
            created.append(v["netns"])
            _wire(v, i)
        key = os.path.join(keydir, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        with open(key + ".pub") as f:
            pub = f.read()
        yield {"state_dir": state_dir, "key": key, "pub": pub}
    finally:
        _kill_our_daemon(state_dir)
        for name in created:
            ip("netns", "del", name, check=False)
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(keydir, ignore_errors=True)


def _wire(v, i):
    """veth ``<prefix>a<i>`` in the vnode (with the address), ``<prefix>b<i>`` on the hub bridge."""
    a, b = "%sa%d" % (PREFIX, i), "%sb%d" % (PREFIX, i)
    ip("link", "add", a, "netns", v["netns"], "type", "veth", "peer", "name", b, "netns", HUB)
    ip("-n", v["netns"], "addr", "add", v["address"] + "/24", "dev", a)
    ip("-n", v["netns"], "link", "set", a, "up")
    ip("-n", v["netns"], "link", "set", "lo", "up")
    ip("-n", HUB, "link", "set", b, "master", "br0", "up")


def ssh(lab, address, *command, extra=()):
    argv = ["ip", "netns", "exec", HUB, "ssh", "-i", lab["key"], "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "-o", "LogLevel=ERROR"] + list(extra) + ["root@" + address] + list(command)
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=False)


def listening_on_22(netns):
    out = ip("-n", netns, "-o", "addr").stdout  # namespace exists
    assert out is not None
    ss = subprocess.run(["ip", "netns", "exec", netns, "ss", "-Hltn", "sport", "= :22"],
                        stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return ss.strip() != ""


def test_ensure_login_lands_in_each_vnode(lab):
    entries = [vnode(i) for i in range(1, N + 1)]
    changed, before, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"])
    assert changed and before["running"] is False
    assert after["running"] and after["entries"] == N and after["listening"] == N
    st = m.status(lab["state_dir"], PLATFORM)
    assert st["running"] and st["listening"] == N and st["failed"] == {}

    for v in entries:
        res = ssh(lab, v["address"], "ip", "-o", "-4", "addr")
        assert res.returncode == 0, res.stderr
        shown = [line.split()[3].split("/")[0] for line in res.stdout.splitlines()]
        # the login sees its own vnode's address and no other vnode's
        assert set(shown) == {"127.0.0.1", v["address"]}, res.stdout

    # every finished session was reaped by the daemon
    for dummy in range(100):
        if not _children(st["pid"], states="Z"):
            break
        time.sleep(0.05)
    assert _children(st["pid"], states="Z") == []

    directory = m.mux_dir(lab["state_dir"], PLATFORM)
    assert os.stat(directory).st_mode & 0o777 == 0o700
    for name in ("ssh_host_ed25519_key", "authorized_keys"):
        assert os.stat(os.path.join(directory, name)).st_mode & 0o777 == 0o600


def _children(pid, states="RSDZT"):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] in states:
                found.append(int(entry))
    return found


def test_password_login_refused(lab):
    res = ssh(lab, vnode(1)["address"], "true",
              extra=["-o", "PreferredAuthentications=password,keyboard-interactive",
                     "-o", "PubkeyAuthentication=no"])
    assert res.returncode == 255
    assert "Permission denied" in res.stderr


def test_second_ensure_is_unchanged_and_keeps_the_daemon(lab):
    pid = m.status(lab["state_dir"], PLATFORM)["pid"]
    entries = [vnode(i) for i in range(N, 0, -1)]  # order does not matter
    changed, before, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"])
    assert not changed and before == after
    assert m.status(lab["state_dir"], PLATFORM)["pid"] == pid
    changed, _b, _a = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"], check_mode=True)
    assert not changed


def test_removed_entry_closes_its_port_without_restart(lab):
    pid = m.status(lab["state_dir"], PLATFORM)["pid"]
    entries = [vnode(i) for i in range(1, N)]
    changed, _b, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"], check_mode=True)
    assert changed and after["listening"] == N - 1
    assert listening_on_22(vnode(N)["netns"])  # check mode changed nothing
    changed, _b, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"])
    assert changed and after["listening"] == N - 1
    assert m.status(lab["state_dir"], PLATFORM)["pid"] == pid
    assert not listening_on_22(vnode(N)["netns"])
    assert listening_on_22(vnode(1)["netns"])
    res = ssh(lab, vnode(N)["address"], "true")
    assert res.returncode == 255


def test_missing_namespace_is_retried_then_recreated_namespace_reopened(lab):
    pid = m.status(lab["state_dir"], PLATFORM)["pid"]
    late = {"netns": PREFIX + "late", "address": SUBNET + ".99"}
    entries = [vnode(1), vnode(2), late]
    changed, _b, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"])
    assert changed and after["listening"] == 2 and after["failed"] == 1
    assert m.status(lab["state_dir"], PLATFORM)["failed"] == {late["netns"]: "No such file or directory"}
    # still missing: nothing to report
    changed, _b, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"])
    assert not changed and after["failed"] == 1
    try:
        ip("netns", "add", late["netns"])
        changed, _b, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"])
        assert changed and after["listening"] == 3 and after["failed"] == 0
        assert listening_on_22(late["netns"])
        # delete and re-create the namespace: the old socket lives in the old namespace
        ip("netns", "del", late["netns"])
        ip("netns", "add", late["netns"])
        assert not listening_on_22(late["netns"])
        _c, before, _a = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"], check_mode=True)
        assert before["stale"] == 1
        changed, _b, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"])
        assert changed and after["stale"] == 0 and after["listening"] == 3
        assert listening_on_22(late["netns"])
        assert m.status(lab["state_dir"], PLATFORM)["pid"] == pid
    finally:
        m.ensure(lab["state_dir"], PLATFORM, [vnode(1), vnode(2)], lab["pub"])
        ip("netns", "del", late["netns"], check=False)


def test_parallel_logins(lab):
    """10 logins at once, 5 on each of two vnodes: every one lands in its own vnode."""
    argv_of = {}
    procs = []
    for i in (1, 2):
        for dummy in range(5):
            v = vnode(i)
            argv = ["ip", "netns", "exec", HUB, "ssh", "-i", lab["key"],
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "root@" + v["address"],
                    "ip", "-o", "-4", "addr", "show", "scope", "global"]
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, universal_newlines=True)
            argv_of[proc.pid] = v["address"]
            procs.append(proc)
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert argv_of[proc.pid] + "/24" in out


BURST_CLIENT = r"""
import socket, sys, threading
addr, n = sys.argv[1], int(sys.argv[2])
res, go = [], threading.Event()
def one():
    go.wait()
    try:
        s = socket.create_connection((addr, 22), timeout=60)
        s.settimeout(60)
        res.append(s.recv(64).startswith(b"SSH-"))
        s.close()
    except OSError as exc:
        res.append(str(exc))
ts = [threading.Thread(target=one) for dummy in range(n)]
for t in ts:
    t.start()
go.set()
for t in ts:
    t.join()
print(sum(1 for r in res if r is True), sorted(set(str(r) for r in res if r is not True))[:3])
"""


def _listen_overflows(netns):
    out = subprocess.run(["ip", "netns", "exec", netns, "nstat", "-az", "TcpExtListenOverflows"],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return int([ln.split()[1] for ln in out.splitlines() if ln.startswith("TcpExtListenOverflows")][0])


def test_burst_of_connections_to_one_vnode_all_get_a_banner(lab):
    """300 connections at once to one vnode: the accept queue (1024) holds them while the daemon
    forks their sessions; with OpenSSH's 128 it overflowed and some clients waited forever."""
    m.ensure(lab["state_dir"], PLATFORM, [vnode(1), vnode(2)], lab["pub"])
    v = vnode(2)
    before = _listen_overflows(v["netns"])
    proc = subprocess.run(["ip", "netns", "exec", HUB, sys.executable, "-c", BURST_CLIENT,
                           v["address"], "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=150, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "300", proc.stdout
    assert _listen_overflows(v["netns"]) == before


def test_dead_daemon_is_started_and_new_script_restarts_it(lab):
    directory = m.mux_dir(lab["state_dir"], PLATFORM)
    entries = [vnode(1), vnode(2)]
    pid = m.status(lab["state_dir"], PLATFORM)["pid"]
    os.kill(pid, signal.SIGTERM)  # the daemon this module started, by its verified PID
    for dummy in range(200):
        if m._proc_state(pid) in ("", "Z"):
            break
        time.sleep(0.02)
    assert not m.status(lab["state_dir"], PLATFORM)["running"]
    changed, before, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"])
    assert changed and not before["running"] and after["running"] and after["listening"] == 2
    pid2 = m.status(lab["state_dir"], PLATFORM)["pid"]
    assert pid2 != pid
    # an installed daemon script that differs from this collection's: replaced and restarted
    with open(os.path.join(directory, m.SCRIPT_NAME), "a") as f:
        f.write("# older version\n")
    changed, before, after = m.ensure(lab["state_dir"], PLATFORM, entries, lab["pub"])
    assert changed and before["script_digest"] != after["script_digest"]
    pid3 = m.status(lab["state_dir"], PLATFORM)["pid"]
    assert pid3 != pid2 and m._proc_state(pid2) in ("", "Z")
    assert ssh(lab, vnode(2)["address"], "true").returncode == 0


def test_remove_stops_the_daemon_and_leaves_nothing(lab):
    pid = m.status(lab["state_dir"], PLATFORM)["pid"]
    assert pid
    changed, _b, _a = m.remove(lab["state_dir"], PLATFORM, check_mode=True)
    assert changed and m.daemon_pid(m.mux_dir(lab["state_dir"], PLATFORM)) == pid
    changed, before, after = m.remove(lab["state_dir"], PLATFORM)
    assert changed and before["running"] and not after["running"]
    # gone, or a zombie when the machine's PID 1 does not reap orphans
    assert m._proc_state(pid) in ("", "Z")
    assert not os.path.exists(m.mux_dir(lab["state_dir"], PLATFORM))
    assert os.listdir(lab["state_dir"]) == []
    assert not listening_on_22(vnode(1)["netns"])
    changed, _b, _a = m.remove(lab["state_dir"], PLATFORM)
    assert not changed


def test_state_dir_under_world_writable_tmp_is_refused(lab):
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o1777)
        with pytest.raises(m.SshmuxError) as exc:
            m.ensure(tmp, PLATFORM, [vnode(1)], lab["pub"])
        assert tmp in str(exc.value) or "/tmp" in str(exc.value)
        assert os.listdir(tmp) == []


def test_scale_200_entries_memory_and_time(lab):
    """200 namespaces: time of a cold ensure() (keygen, start, 200 listeners) and daemon RSS."""
    count = 200
    names = ["%ss%d" % (PREFIX, i) for i in range(count)]
    state_dir = tempfile.mkdtemp(prefix="vxlab-sshmux-scale-", dir="/run")
    batch = "".join("netns add %s\n" % n for n in names)
    try:
        subprocess.run(["ip", "-batch", "-"], input=batch, universal_newlines=True, check=True)
        entries = [{"netns": n, "address": "10.253.%d.%d" % (i // 200, 2 + i % 200)}
                   for i, n in enumerate(names)]
        t0 = time.monotonic()
        changed, _b, after = m.ensure(state_dir, PLATFORM, entries, lab["pub"])
        cold = time.monotonic() - t0
        assert changed and after["listening"] == count
        t0 = time.monotonic()
        changed, _b, _a = m.ensure(state_dir, PLATFORM, entries, lab["pub"])
        warm = time.monotonic() - t0
        assert not changed
        t0 = time.monotonic()
        changed, _b, after = m.ensure(state_dir, PLATFORM, entries[:100], lab["pub"])
        reload_ = time.monotonic() - t0
        assert changed and after["listening"] == 100
        pid = m.status(state_dir, PLATFORM)["pid"]
        with open("/proc/%d/status" % pid) as f:
            fields = dict(line.split(":", 1) for line in f)
        rss = fields["VmRSS"].strip()
        print("\nsshmux %d entries: cold ensure %.3f s, unchanged ensure %.3f s, "
              "reload to 100 %.3f s, daemon VmRSS %s (RssAnon %s)"
              % (count, cold, warm, reload_, rss, fields["RssAnon"].strip()))
        assert int(rss.split()[0]) < 64 * 1024
        m.remove(state_dir, PLATFORM)
    finally:
        directory = m.mux_dir(state_dir, PLATFORM)
        pid = m.daemon_pid(directory) if os.path.isdir(directory) else None
        if pid:
            os.kill(pid, signal.SIGTERM)
        batch = "".join("netns del %s\n" % n for n in names)
        subprocess.run(["ip", "-force", "-batch", "-"], input=batch, universal_newlines=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(state_dir, ignore_errors=True)
