"""Fault injection observed on deployed testbed platforms (root): every kind of event takes
effect (unreachable -> reachable again; a degraded link measured slower; LXC vnodes stopped and
started again with the same address, frozen -> SSH does not answer -> thawed -> it does), delay/
loss are refused clearly where the kernel has no netem, and a seeded churn replays identically.
Two small testbeds (netns vnodes; LXC vnodes, the default kind); removed even on failure."""
import json
import os
import subprocess

import pytest
from cli_testbed import ROOT_MARKS, unique_bed_name, unique_bed_network, vxlab_run

pytestmark = ROOT_MARKS
NAME = unique_bed_name("f")
NETWORK = unique_bed_network(7)
LXC_NAME = unique_bed_name("fl")
LXC_NETWORK = unique_bed_network(11)
run = vxlab_run


def ok(proc):
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout) if proc.stdout.lstrip().startswith("{") else proc.stdout


@pytest.fixture(scope="module")
def bed():
    info = None
    try:
        info = ok(run("testbed", "up", "--name", NAME, "--pnodes", "2", "-e",
                      "vxlab_vnodes_per_pnode=2", "-e", "vxlab_vnode_network=" + NETWORK, "-e", "vxlab_vnode_kind=netns", "--json", "-q"))
        ok(run("deploy", "-i", info["inventory"], "-q"))
        plan = ok(run("plan", "-i", info["inventory"], "--json"))
        info["vnodes"] = {v["name"]: v for v in plan["vnodes"]}
        yield info
    finally:
        if info is not None:
            run("destroy", "-i", info["inventory"], "-q")
        proc = run("testbed", "down", "--name", NAME, "-q")
        assert proc.returncode == 0, proc.stderr


def fault(bed, *args, log=None):
    extra = ["--log", log] if log else []
    return run("fault", "-i", bed["inventory"], "--json", "-q", *extra, *args)


def reachable(address, count=1):
    return subprocess.run(["ping", "-c", str(count), "-W", "1", "-q", address],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode == 0


def addr(bed, name):
    return bed["vnodes"][name]["address"]


@pytest.mark.parametrize("fail, repair, target", [
    ("vnode_down", "vnode_up", "%s-1"),
    ("link_cut", "link_restore", "%s-4"),
    ("pnode_off", "pnode_on", "%s-p2"),
])
def test_unreachable_then_reachable_again(bed, fail, repair, target):
    target = target % NAME
    probe = addr(bed, "%s-3" % NAME) if fail == "pnode_off" else addr(bed, target)
    assert reachable(probe, 2)
    res = ok(fault(bed, "now", fail, target))
    assert res["ok"] and [e["changed"] for e in res["events"]] == [True]
    assert not reachable(probe, 1)
    if fail == "vnode_down":  # idempotent: nothing changes a second time
        again = ok(fault(bed, "now", fail, target))
        assert [e["changed"] for e in again["events"]] == [False]
    ok(fault(bed, "now", repair, target))
    assert reachable(probe, 3)


def _fetch_seconds(bed, name, size=150000):
    """Seconds to pull ``size`` bytes out of vnode ``name`` over SSH (through its shaped veth)."""
    import time

    cfg = os.path.join(os.path.dirname(bed["inventory"]), ".vxlab", NAME, "ssh_config")
    t0 = time.monotonic()
    proc = subprocess.run(["ssh", "-F", cfg, "-o", "BatchMode=yes", name, "head", "-c", str(size), "/dev/zero"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0 and len(proc.stdout) == size, proc.stderr
    return elapsed


def test_degraded_link_is_measured_slower(bed):
    target = "%s-2" % NAME
    before = _fetch_seconds(bed, target)
    res = ok(fault(bed, "now", "degrade", target, "--rate", "1mbit"))
    assert res["events"][0]["params"] == {"rate": 1000000}
    try:
        during = _fetch_seconds(bed, target)
    finally:
        ok(fault(bed, "now", "undegrade", target))
    after = _fetch_seconds(bed, target)
    # 150 kB at 1 Mbit/s take at least 1.2 s
    assert during >= 1.1 and during > before + 0.8, (before, during)
    assert after < during - 0.6, (after, during)


def test_delay_without_netem_is_refused_clearly(bed):
    probe = subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                           capture_output=True, text=True, check=False)
    if probe.returncode == 0:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)
        pytest.skip("this kernel has netem: delay is applied, not refused")
    proc = fault(bed, "now", "degrade", "%s-3" % NAME, "--delay", "20ms")
    assert proc.returncode == 1
    res = json.loads(proc.stdout)
    assert "netem" in res["events"][0]["error"] and "delay" in res["events"][0]["error"]


def test_seeded_churn_replays_identically(bed, tmp_path):
    keys = []
    for i in range(2):
        log = str(tmp_path / ("run%d.jsonl" % i))
        res = ok(fault(bed, "churn", "--seed", "11", "--rate", "1.5", "--duration", "3", "--mttr", "1",
                       "--kinds", "vnode_down,link_cut", log=log))
        with open(log) as f:
            entries = [json.loads(line) for line in f]
        assert len(entries) == len(res["events"]) >= 2
        assert all(e["ok"] and e["ts"] for e in entries)
        keys.append([(e["at"], e["action"], e["target"], e["pnode"], e["changed"]) for e in entries])
    assert keys[0] == keys[1]
    for v in bed["vnodes"].values():  # every failure was repaired
        assert reachable(v["address"], 2), v


def test_trace_file_and_bad_trace(bed, tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("at,target,action\n0,%s-1,down\n1,%s-1,up\n" % (NAME, NAME))
    res = ok(fault(bed, "trace", str(trace)))
    assert [(e["action"], e["changed"]) for e in res["events"]] == [("vnode_down", True), ("vnode_up", True)]
    assert res["events"][1]["t"] >= 1.0
    bad = tmp_path / "bad.yml"
    bad.write_text("- {at: 0, target: %s-99, action: down}\n" % NAME)
    proc = fault(bed, "trace", str(bad))
    assert proc.returncode == 2 and "target='%s-99' is not a vnode" % NAME in proc.stderr


# --------------------------------------------------------------------------------------------
# LXC vnodes (the default kind): down/up and freeze/unfreeze through vnode_state


@pytest.fixture(scope="module")
def lxc_bed():
    info = None
    try:
        info = ok(run("testbed", "up", "--name", LXC_NAME, "--pnodes", "1", "-e", "vxlab_vnodes_per_pnode=2",
                      "-e", "vxlab_vnode_network=" + LXC_NETWORK, "-e", "vxlab_vnode_kind=lxc", "--json", "-q"))
        ok(run("deploy", "-i", info["inventory"], "-q", timeout=900))
        plan = ok(run("plan", "-i", info["inventory"], "--json"))
        info["vnodes"] = {v["name"]: v for v in plan["vnodes"]}
        info["vnode_ssh"] = os.path.join(os.path.dirname(info["inventory"]), ".vxlab", LXC_NAME, "ssh_config")
        yield info
    finally:
        if info is not None:
            run("destroy", "-i", info["inventory"], "-q", timeout=600)
        proc = run("testbed", "down", "--name", LXC_NAME, "-q")
        assert proc.returncode == 0, proc.stderr


def ssh_vnode(bed, name, *argv, timeout=8):
    """(rc, stdout) of a command on a vnode over its SSH; rc None when it did not complete."""
    try:
        proc = subprocess.run(["ssh", "-F", bed["vnode_ssh"], "-o", "BatchMode=yes", "-o", "ConnectTimeout=4",
                               name] + list(argv), text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, ""
    return proc.returncode, proc.stdout


def test_lxc_vnode_down_then_up_same_address(lxc_bed):
    name = "%s-1" % LXC_NAME
    address = lxc_bed["vnodes"][name]["address"]
    rc, out = ssh_vnode(lxc_bed, name, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
    assert rc == 0 and " %s/" % address in out, out
    res = ok(fault(lxc_bed, "now", "down", name))
    assert [e["changed"] for e in res["events"]] == [True]
    assert not reachable(address, 1)
    assert ssh_vnode(lxc_bed, name, "true")[0] != 0
    again = ok(fault(lxc_bed, "now", "down", name))  # already stopped: nothing changes
    assert [e["changed"] for e in again["events"]] == [False]
    ok(fault(lxc_bed, "now", "up", name))
    assert reachable(address, 3)
    rc, out = ssh_vnode(lxc_bed, name, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
    assert rc == 0 and " %s/" % address in out, out


def test_lxc_vnode_freeze_then_unfreeze(lxc_bed):
    name = "%s-2" % LXC_NAME
    address = lxc_bed["vnodes"][name]["address"]
    assert ssh_vnode(lxc_bed, name, "true")[0] == 0
    res = ok(fault(lxc_bed, "now", "freeze", name))
    try:
        assert [e["changed"] for e in res["events"]] == [True]
        # its processes are suspended: sshd does not answer; its kernel still answers ping
        assert ssh_vnode(lxc_bed, name, "true", timeout=6)[0] != 0
        assert reachable(address, 2)
    finally:
        thawed = ok(fault(lxc_bed, "now", "unfreeze", name))
    assert [e["changed"] for e in thawed["events"]] == [True]
    assert ssh_vnode(lxc_bed, name, "true", timeout=20)[0] == 0
