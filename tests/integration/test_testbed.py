"""The one-machine testbed for real: namespaces, underlay bridge, sshd per pnode, Ansible over SSH.

Root only. Every testbed here has a unique name (t<pid%1000><letter>) and is removed by down() in
a finalizer, even when a test fails.
"""
import json
import os
import signal
import subprocess
import time

import pytest

import vxlab
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import PlanError
from vxlab import testbed as tb
from vxlab.testbed import names

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, bridges, sshd)"),
]

REPO = vxlab.REPO
TAG = "t%d" % (os.getpid() % 1000)


def _name(letter):
    return TAG + letter


@pytest.fixture
def testbed_factory():
    made = []

    def make(letter, **kwargs):
        name = _name(letter)
        made.append(name)
        return tb.up(name, repo=REPO, **kwargs)

    yield make
    for name in made:
        tb.down(name, repo=REPO)


@pytest.fixture(scope="module")
def bed():
    name = _name("a")
    try:
        info = tb.up(name, pnodes=3, repo=REPO)
        yield info
    finally:
        tb.down(name, repo=REPO)


def _ssh(info, index, command, check=True):
    p = info["pnodes"][index]
    key = os.path.join(info["private"], "keys", "pnodes_ed25519")
    proc = subprocess.run(
        ["ssh", "-F", info["ssh_config"], "-i", key, "-o", "BatchMode=yes",
         "-o", "ConnectTimeout=5", "-l", "root", p["address"], command],
        capture_output=True, text=True, timeout=30, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # PID 1 of this machine may be slow to reap zombies


def _netns():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _links():
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def _system_view(name):
    """What exists on the machine under testbed ``name``'s names."""
    inventories = os.path.join(REPO, "inventories")
    return {
        "netns": sorted(n for n in _netns() if name in n),
        "links": sorted(n for n in _links() if n.startswith("vt" + name)),
        "files": sorted(os.listdir(inventories)) if os.path.isdir(inventories) else [],
    }


def _assert_gone(info, state):
    name = info["name"]
    assert not [n for n in state["netns"] if n in _netns()]
    assert not [n for n in state["links"] if n in _links()]
    assert not [p["sshd_pid"] for p in state["pnodes"] if _alive(p["sshd_pid"])]
    assert not os.path.exists(info["dir"])
    assert name not in [t["name"] for t in tb.list_testbeds(repo=REPO)]


def test_up_makes_pnodes_reachable_over_ssh(bed):
    name = bed["name"]
    assert bed["inventory"] == os.path.join(REPO, "inventories", name, "hosts.yml")
    assert os.path.isfile(bed["inventory"])
    assert [p["name"] for p in bed["pnodes"]] == ["%s-p%d" % (name, i) for i in (1, 2, 3)]
    assert bed["control_address"].endswith(".254")
    init_mnt = os.readlink("/proc/self/ns/mnt")
    mnts = set()
    for i, p in enumerate(bed["pnodes"]):
        assert p["address"] == tb.host_address(bed["underlay_network"], i + 1)
        assert _alive(p["sshd_pid"])
        out = _ssh(bed, i, "ip -o link; echo ==; ls /sys/class/net; echo ==; "
                   "cat /proc/self/mountinfo; echo ==; readlink /proc/self/ns/mnt; "
                   "sysctl -n net.ipv4.ip_forward; ip -o -4 addr show dev ib0; ls /sys/fs/cgroup")
        links, sysnet, mountinfo, rest = out.split("==\n")
        assert "ib0@" in links and "mtu 1500" in links and "state UP" in links
        assert sysnet.split() == ["ib0", "lo"]  # sysfs of the pnode's namespace
        netns_mounts = [line for line in mountinfo.splitlines() if " /run/netns " in line]
        assert len(netns_mounts) == 1 and " - tmpfs vxlab-vt-%s-p%d " % (name, i + 1) \
            in netns_mounts[0]
        mnt, forward = rest.split()[:2]
        assert mnt != init_mnt
        mnts.add(mnt)
        assert forward == "1"
        assert "inet %s/24" % p["address"] in rest
        assert "memory" in rest.split()  # the cgroup hierarchies are still there
    assert len(mnts) == 3  # a private mount namespace per pnode


def test_ansible_ping_all_pnodes(bed):
    proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible"), "-i", bed["inventory"],
                           "pnodes", "-m", "ping", "-o"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for p in bed["pnodes"]:
        assert "%s | SUCCESS" % p["name"] in proc.stdout


def test_named_namespaces_are_private_to_each_pnode(bed):
    vnode = TAG + "x"
    _ssh(bed, 0, "ip netns add %s" % vnode)
    assert vnode in _ssh(bed, 0, "ip netns list").split()  # another session, same pnode
    assert vnode not in _netns()  # the initial namespace
    assert vnode not in _ssh(bed, 1, "ip netns list").split()  # another pnode
    # a veth end moves into it from the pnode
    _ssh(bed, 0, "ip link add %sv type veth peer name eth0 netns %s && ip -n %s -o link"
         % (vnode, vnode, vnode))


def test_list_and_refusals(bed):
    listed = {t["name"]: t for t in tb.list_testbeds(repo=REPO)}
    t = listed[bed["name"]]
    assert t["status"] == "up" and t["inventory"] == bed["inventory"]
    assert all(p["netns_present"] and p["sshd_running"] for p in t["pnodes"])
    with pytest.raises(tb.TestbedError, match="exists"):
        tb.up(bed["name"], repo=REPO)
    with pytest.raises(ValueError, match="'Bad-name'"):
        tb.up("Bad-name", repo=REPO)
    with pytest.raises(ValueError, match="pnodes"):
        tb.up(_name("q"), pnodes=names.MAX_PNODES + 1, repo=REPO)


def test_two_testbeds_coexist_and_down_removes_everything(bed, testbed_factory):
    other = testbed_factory("b", pnodes=2, extra_vars={"vxlab_vni": 77})
    assert other["underlay_network"] != bed["underlay_network"]
    with open(os.path.join(other["dir"], "group_vars", "pnodes.yml")) as f:
        assert "vxlab_vni: 77" in f.read()
    assert "ib0@" in _ssh(other, 1, "ip -o link")
    assert "ib0@" in _ssh(bed, 1, "ip -o link")
    # processes started through SSH, in the pnode and in a vnode of it, outlive their session
    pids = [int(_ssh(other, 0, "nohup sleep 1234 >/dev/null 2>&1 </dev/null & echo $!")),
            int(_ssh(other, 0, "ip netns add v1 && ip netns exec v1 sh -c "
                     "'nohup sleep 1235 >/dev/null 2>&1 </dev/null & echo $!'"))]
    assert all(_alive(pid) for pid in pids)
    with open(os.path.join(other["private"], "testbed.json")) as f:
        state = json.load(f)
    result = tb.down(other["name"], repo=REPO)
    assert result["ok"], result["remaining"]
    assert set(pids) <= set(result["removed"]["processes"])
    assert sorted(result["removed"]["netns"]) == sorted(state["netns"])
    assert not any(_alive(pid) for pid in pids)
    _assert_gone(other, state)
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and _alive(int(pid))
                and other["dir"] in (open("/proc/%s/cmdline" % pid, "rb").read()
                                     .decode(errors="replace"))]  # no ControlPersist master left
    # the first testbed is untouched
    assert "ib0@" in _ssh(bed, 2, "ip -o link")
    again = tb.down(other["name"], repo=REPO)  # idempotent
    assert again["ok"] and again["removed"]["processes"] == [] and again["removed"]["dir"] is None


def test_bad_extra_var_creates_nothing():
    name = _name("c")
    before = _system_view(name)
    with pytest.raises(PlanError, match="vxlab_vni=0"):
        tb.up(name, pnodes=2, extra_vars={"vxlab_vni": 0}, repo=REPO)
    with pytest.raises(ValueError, match="vxlab_underlay_address"):
        tb.up(name, pnodes=2, extra_vars={"vxlab_underlay_address": "1.2.3.4"}, repo=REPO)
    assert _system_view(name) == before
    assert not os.path.exists(os.path.join(REPO, "inventories", name))


def test_down_cleans_a_half_made_testbed(testbed_factory):
    info = testbed_factory("d", pnodes=3)
    with open(os.path.join(info["private"], "testbed.json")) as f:
        state = json.load(f)
    _ssh(info, 2, "true")  # leaves a ControlPersist master and a session behind
    p1, p2 = info["pnodes"][0], info["pnodes"][1]
    os.kill(p1["sshd_pid"], signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", p2["netns"]], check=True)
    os.remove(os.path.join(info["dir"], "hosts.yml"))
    deadline = time.monotonic() + 5
    while _alive(p1["sshd_pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    result = tb.down(info["name"], repo=REPO)
    assert result["ok"], result["remaining"]
    assert p2["sshd_pid"] in result["removed"]["processes"]  # found through its mount namespace
    _assert_gone(info, state)


def test_down_without_state_finds_objects_by_name(testbed_factory):
    info = testbed_factory("e", pnodes=1)
    with open(os.path.join(info["private"], "testbed.json")) as f:
        state = json.load(f)
    os.remove(os.path.join(info["private"], "testbed.json"))
    result = tb.down(info["name"], repo=REPO)
    assert result["ok"], result["remaining"]
    assert state["pnodes"][0]["sshd_pid"] in result["removed"]["processes"]
    _assert_gone(info, state)


def test_failed_up_removes_what_it_made(monkeypatch):
    name = _name("f")
    before = _system_view(name)
    # an sshd that cannot start: up must say so and leave nothing behind
    monkeypatch.setattr(tb.render, "sshd_argv",
                        lambda *args: ["sh", "-c", "echo no sshd here >&2; exit 3"])
    with pytest.raises(tb.TestbedError, match="no sshd here"):
        tb.up(name, pnodes=2, repo=REPO)
    assert _system_view(name) == before


def test_down_leaves_a_foreign_directory_alone():
    name = _name("g")
    path = os.path.join(REPO, "inventories", name)
    os.makedirs(path)
    try:
        with open(os.path.join(path, "hosts.yml"), "w") as f:
            f.write("all: {}\n")
        result = tb.down(name, repo=REPO)
        assert not result["ok"] and "left alone" in result["remaining"][0]
        assert os.path.isfile(os.path.join(path, "hosts.yml"))
    finally:
        subprocess.run(["rm", "-rf", path], check=True)


def test_down_with_a_corrupt_state_file(testbed_factory):
    info = testbed_factory("h", pnodes=1)
    with open(os.path.join(info["private"], "testbed.json")) as f:
        state = json.load(f)
    with open(os.path.join(info["private"], "testbed.json"), "w") as f:
        f.write("{not json")
    result = tb.down(info["name"], repo=REPO)
    assert result["ok"], result["remaining"]
    _assert_gone(info, state)
