"""Deploy with one of three pnodes unreachable (its sshd stopped by the PID the testbed records):
the two others complete, `vxlab deploy` exits non-zero naming the failed pnode; once its sshd is
back, a re-run converges and `vxlab check` passes; `destroy` of a half-deployed platform removes
everything. Root; the testbed is removed even on failure."""
import json
import os
import subprocess

import pytest
from cli_testbed import ROOT_MARKS, unique_bed_name, unique_bed_network, vxlab_run

pytestmark = ROOT_MARKS
NAME = unique_bed_name("r")
NETWORK = unique_bed_network(13)
run = vxlab_run


@pytest.fixture(scope="module")
def bed():
    info = None
    try:
        proc = run("testbed", "up", "--name", NAME, "--pnodes", "3", "-e", "vxlab_vnodes_per_pnode=1",
                   "-e", "vxlab_vnode_network=" + NETWORK, "-e", "vxlab_vnode_kind=netns", "--json", "-q")
        assert proc.returncode == 0, proc.stderr
        info = json.loads(proc.stdout)
        yield info
    finally:
        if info is not None:
            run("testbed", "restart-sshd", "--name", NAME, "-q")
            run("destroy", "-i", info["inventory"], "-q")
        proc = run("testbed", "down", "--name", NAME, "-q")
        assert proc.returncode == 0, proc.stderr


def on_pnode(bed, pnode, *argv):
    proc = subprocess.run(["ssh", "-F", bed["ssh_config"], pnode, "--"] + list(argv), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def platform_objects(bed, pnode):
    """The platform's namespaces and interfaces on a pnode."""
    ns = on_pnode(bed, pnode, "ip", "netns", "list").split()
    links = [ln.split(":")[1].strip().split("@")[0]
             for ln in on_pnode(bed, pnode, "ip", "-o", "link").splitlines()]
    return sorted(n for n in ns if n.startswith(NAME + "-")) + sorted(
        n for n in links if n.startswith(NAME + "-"))


def stop_sshd(bed, pnode):
    with open(os.path.join(bed["private"], "testbed.json")) as f:
        state = json.load(f)
    pid = [p["sshd_pid"] for p in state["pnodes"] if p["name"] == pnode][0]
    proc = run("testbed", "stop-sshd", "--name", NAME, "--pnode", pnode, "--json", "-q")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["stopped"] and res["pid"] == pid
    assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] in "ZX"


def test_unreachable_pnode_then_back(bed):
    p1, p2, p3 = [p["name"] for p in bed["pnodes"]]
    inv = bed["inventory"]
    stop_sshd(bed, p3)
    proc = run("deploy", "-i", inv)
    assert proc.returncode == 1
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("failed: %s unreachable" % p3) and p1 not in last and p2 not in last
    assert "Connection refused" in last  # and why
    for p in (p1, p2):  # the healthy pnodes completed
        assert platform_objects(bed, p) == sorted(["%s-%d" % (NAME, 1 + [p1, p2].index(p))] * 2 +
                                                  ["%s-br" % NAME, "%s-vx" % NAME])

    proc = run("testbed", "restart-sshd", "--name", NAME, "-q")
    assert proc.returncode == 0, proc.stderr
    proc = run("deploy", "-i", inv, "-q")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert platform_objects(bed, p3) == sorted(["%s-3" % NAME] * 2 + ["%s-br" % NAME, "%s-vx" % NAME])
    proc = run("check", "-i", inv, "-q")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert proc.stdout.strip().endswith("ok")


def test_destroy_half_deployed(bed):
    p1, p2, p3 = [p["name"] for p in bed["pnodes"]]
    inv = bed["inventory"]
    assert run("destroy", "-i", inv, "-q").returncode == 0
    stop_sshd(bed, p2)
    assert run("deploy", "-i", inv, "-q").returncode == 1  # p1 and p3 deployed, p2 not
    assert platform_objects(bed, p1) and platform_objects(bed, p3)
    assert run("testbed", "restart-sshd", "--name", NAME, "-q").returncode == 0
    assert platform_objects(bed, p2) == []
    proc = run("destroy", "-i", inv, "-q")
    assert proc.returncode == 0, proc.stdout[-2000:]
    for p in (p1, p2, p3):
        assert platform_objects(bed, p) == []
    routes = subprocess.run(["ip", "route", "show", NETWORK], capture_output=True, text=True, check=False).stdout
    assert routes.strip() == ""
