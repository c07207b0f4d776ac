"""vxlab.emulation.neigh_limits run by real ansible-playbook against this machine (root).

(a) in the initial network namespace: values applied, unchanged second run, check mode on a
drift changes nothing, absent restores the originals exactly; the test also saves and restores
the machine's neighbour defaults itself. (b) inside a test network namespace: per-interface aging
set, gc_thresh reported as not settable, no failure.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (sysctls, namespaces)"),
]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PYTHON = os.path.join(REPO, ".venv", "bin", "python")
PLAYBOOK = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
NEIGH = "/proc/sys/net/ipv4/neigh"
PREFIX = "t%dr" % (os.getpid() % 10000)
KEYS = ("gc_thresh1", "gc_thresh2", "gc_thresh3", "base_reachable_time_ms", "gc_stale_time")


def read(dev, key, netns=None):
    if netns is None:
        with open(os.path.join(NEIGH, dev, key)) as f:
            return int(f.read())
    out = subprocess.run(["ip", "netns", "exec", netns, "cat", os.path.join(NEIGH, dev, key)],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return int(out)


def write(dev, key, value):
    with open(os.path.join(NEIGH, dev, key), "w") as f:
        f.write("%d\n" % value)


def run_module(tmp, args, check=False, diff=True, netns=None):
    """One task of the real module through ansible-playbook; returns its result dict."""
    result = os.path.join(tmp, "result.json")
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "arp", "vxlab.emulation.neigh_limits": args, "register": "r", "ignore_errors": True},
        {"name": "keep the result", "check_mode": False, "diff": False,
         "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": result}}]}]
    path = os.path.join(tmp, "play.yml")
    with open(path, "w") as f:
        json.dump(play, f)  # JSON is YAML
    argv = [PLAYBOOK, "-i", "localhost,", "-c", "local", path,
            "-e", "ansible_python_interpreter=" + PYTHON]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    if os.path.exists(result):
        os.unlink(result)
    proc = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)
    if proc.returncode != 0 or not os.path.exists(result):
        raise AssertionError("ansible-playbook rc=%d: %s %s" % (proc.returncode, proc.stdout,
                                                                proc.stderr))
    with open(result) as f:
        return json.load(f)


@pytest.fixture
def tmp():
    path = tempfile.mkdtemp(prefix="vxlab-arp-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def saved_defaults():
    """The machine's neighbour defaults, written back whatever happens."""
    original = dict((k, read("default", k)) for k in KEYS)
    try:
        yield original
    finally:
        for key in KEYS:
            if read("default", key) != original[key]:
                write("default", key, original[key])


@pytest.fixture
def veth():
    """A veth pair in the initial namespace (per-interface values are set on one end)."""
    a, b = PREFIX + "a", PREFIX + "b"
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    try:
        yield a
    finally:
        subprocess.run(["ip", "link", "del", a], check=False)


def test_initial_namespace_apply_idempotent_check_and_restore(tmp, saved_defaults, veth):
    orig = saved_defaults
    orig_if = dict((k, read(veth, k)) for k in ("base_reachable_time_ms", "gc_stale_time"))
    conf = os.path.join(tmp, "sysctl.d", "60-vxlab-t.conf")
    state = os.path.join(tmp, "state")
    # harmless for the rest of the machine: limits a little higher, aging a little longer
    args = {"gc_thresh1": orig["gc_thresh1"] + 8, "gc_thresh2": orig["gc_thresh2"] + 8,
            "gc_thresh3": orig["gc_thresh3"] + 8,
            "base_reachable_time_ms": orig["base_reachable_time_ms"] + 1000,
            "gc_stale_time": orig["gc_stale_time"] + 1, "interfaces": [veth], "persist": "yes",
            "platform": "t", "sysctl_file": conf, "state_dir": state}

    res = run_module(tmp, args)
    assert res.get("failed") is not True, res
    assert res["changed"] is True and res["gc_thresh_settable"] is True
    for key in KEYS:
        assert read("default", key) == args[key]
    assert read(veth, "base_reachable_time_ms") == args["base_reachable_time_ms"]
    assert read(veth, "gc_stale_time") == args["gc_stale_time"]
    assert res["sysctls"]["net.ipv4.neigh.default.gc_thresh3"] == args["gc_thresh3"]
    assert res["sysctls"]["net.ipv4.neigh.%s.gc_stale_time" % veth] == args["gc_stale_time"]
    with open(conf) as f:
        text = f.read()
    assert "net.ipv4.neigh.default.gc_thresh3 = %d\n" % args["gc_thresh3"] in text
    assert veth not in text  # interfaces do not exist at boot: never persisted
    assert res["diff"]["before"]["net.ipv4.neigh.default.gc_thresh3"] == orig["gc_thresh3"]
    assert os.path.exists(os.path.join(state, "arp_tuning.json"))

    res = run_module(tmp, args)
    assert res["changed"] is False, res

    # drift, then check mode: reported, nothing changed
    write("default", "gc_thresh3", args["gc_thresh3"] + 16)
    res = run_module(tmp, args, check=True)
    assert res["changed"] is True
    # (only gc_thresh3 drifted unless a concurrent run on this shared machine moved others)
    assert res["diff"]["before"]["net.ipv4.neigh.default.gc_thresh3"] == args["gc_thresh3"] + 16
    assert res["diff"]["after"]["net.ipv4.neigh.default.gc_thresh3"] == args["gc_thresh3"]
    assert read("default", "gc_thresh3") == args["gc_thresh3"] + 16
    res = run_module(tmp, args)
    assert res["changed"] is True and read("default", "gc_thresh3") == args["gc_thresh3"]

    # bad ordering: clear failure, nothing touched
    bad = dict(args, gc_thresh1=args["gc_thresh3"] + 1)
    res = run_module(tmp, bad)
    assert res.get("failed") is True and "gc_thresh1" in res["msg"]
    assert read("default", "gc_thresh1") == args["gc_thresh1"]

    res = run_module(tmp, {"platform": "t", "sysctl_file": conf, "state_dir": state,
                           "state": "absent"})
    assert res["changed"] is True
    for key in KEYS:
        assert read("default", key) == orig[key], key
    for key, value in orig_if.items():
        assert read(veth, key) == value
    assert not os.path.exists(conf)
    assert not os.path.exists(os.path.join(state, "arp_tuning.json"))
    res = run_module(tmp, {"platform": "t", "sysctl_file": conf, "state_dir": state,
                           "state": "absent"})
    assert res["changed"] is False


@pytest.fixture
def child_netns():
    name = PREFIX + "ns"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", PREFIX + "c", "type", "veth", "peer",
                        "name", PREFIX + "d"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_child_namespace_sets_interfaces_and_reports_gc_thresh_not_settable(tmp, child_netns):
    conf = os.path.join(tmp, "60-vxlab-t.conf")
    ifs = [PREFIX + "c", PREFIX + "d"]
    # interfaces of a new namespace start from the initial namespace's defaults
    orig_stale = read(ifs[0], "gc_stale_time", child_netns)
    # values nobody else uses, to see that the machine's limits were not touched
    args = {"gc_thresh1": 1031, "gc_thresh2": 4099, "gc_thresh3": 8209,
            "base_reachable_time_ms": 612000, "gc_stale_time": 3607, "interfaces": ifs,
            "platform": "t", "sysctl_file": conf, "state_dir": os.path.join(tmp, "state")}
    res = run_module(tmp, args, netns=child_netns)
    assert res.get("failed") is not True, res
    assert res["changed"] is True and res["gc_thresh_settable"] is False
    assert any("global to the machine" in w for w in res.get("warnings", [])), res
    for dev in ifs:
        assert read(dev, "base_reachable_time_ms", child_netns) == 612000
        assert read(dev, "gc_stale_time", child_netns) == 3607
    assert sorted(res["sysctls"]) == sorted("net.ipv4.neigh.%s.%s" % (d, k) for d in ifs
                                            for k in ("base_reachable_time_ms", "gc_stale_time"))
    assert not os.path.exists(conf)
    for key in ("gc_thresh1", "gc_thresh2", "gc_thresh3"):
        assert read("default", key) != args[key]

    res = run_module(tmp, args, netns=child_netns)
    assert res["changed"] is False and res["gc_thresh_settable"] is False

    res = run_module(tmp, dict(args, state="absent"), netns=child_netns)
    assert res["changed"] is True
    for dev in ifs:
        assert read(dev, "gc_stale_time", child_netns) == orig_stale
