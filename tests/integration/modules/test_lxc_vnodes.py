"""LXC vnodes for real (root): vxlab.emulation.lxc_image, vnodes (kind lxc) and vnode_state.

A test bridge ``t<pid>lb`` in this machine's namespace holds the gateway address of a /24 that
only the test's containers use; 4 containers on it: created, unchanged on a second run, a drift
seen in check mode and repaired, SSH into them, stop/start (same address), freeze/unfreeze, a
busy loop under a 25% CPU cap measured from the cgroup's CPU time, and ``state: absent`` leaving
no container, delta, cgroup, link, named namespace or process. The base image is built once per
machine (cached in /var/cache/vxlab/images) and shared by every test session.
Everything is removed even on failure.
"""
import glob
import os
import shutil
import subprocess
import tempfile
import time

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (LXC, cgroups, netlink)"),
    pytest.mark.skipif(shutil.which("lxc-start") is None, reason="LXC is not installed"),
]

NET = "10.254.%d" % (os.getpid() % 250)
COUNT = 4


@pytest.fixture(scope="session")
def lxc_rootfs():
    """The cached base image (built at the first use on this machine, ~1 min)."""
    from ansible_collections.vxlab.emulation.plugins.module_utils import _lxc_image as im
    changed, info = im.ensure(im.validate({}))
    assert os.path.exists(os.path.join(info["rootfs"], "usr/sbin/sshd"))
    return info["rootfs"]


@pytest.fixture
def lxc_bed(vx, lxc_rootfs):
    platform = vx.unique("l")
    bridge = platform + "b"
    sd = tempfile.mkdtemp(prefix="vxlab-lxc-", dir="/var/tmp")
    os.chmod(sd, 0o755)
    key = os.path.join(sd, "key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    vx.ip("link", "add", bridge, "type", "bridge")
    try:
        vx.ip("addr", "add", NET + ".1/24", "dev", bridge)
        vx.ip("link", "set", bridge, "up")
        vnodes = [{"name": "%s-%d" % (platform, i), "address": "%s.%d" % (NET, i + 1),
                   "mac": "02:5b:0a:fe:%02x:%02x" % (os.getpid() % 250, i + 1),
                   "host_if": "%s-%d" % (platform, i)} for i in range(1, COUNT + 1)]
        vnodes[0]["cpu"] = 0.25
        with open(key + ".pub") as f:
            pub = f.read()
        args = {"platform": platform, "kind": "lxc", "bridge": bridge, "vnodes": vnodes,
                "prefixlen": 24, "mtu": 1450, "gateway": NET + ".1", "image": lxc_rootfs,
                "authorized_keys": pub, "state_dir": os.path.join(sd, "pnode")}
        yield {"platform": platform, "bridge": bridge, "sd": args["state_dir"], "key": key,
               "args": args, "vnodes": vnodes, "lxcpath": os.path.join(args["state_dir"], "lxc")}
    finally:
        vx.run_module("vnodes", {"platform": platform, "kind": "lxc", "state": "absent",
                                 "state_dir": os.path.join(sd, "pnode")})
        vx.ip("link", "del", bridge, check=False)
        shutil.rmtree(sd, ignore_errors=True)


def ssh(bed, address, *cmd, timeout=15):
    argv = ["ssh", "-i", bed["key"], "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=4", "-o", "LogLevel=ERROR",
            "root@" + address] + list(cmd)
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 255, "timed out", "")


def state(bed, name):
    out = subprocess.run(["lxc-info", "-P", bed["lxcpath"], "-n", name, "-s", "-H"],
                         stdout=subprocess.PIPE, text=True, check=False).stdout
    return out.strip()


def cgroup_dirs(name):
    return glob.glob("/sys/fs/cgroup/*/lxc.payload.%s" % name) + \
        glob.glob("/sys/fs/cgroup/lxc.payload.%s" % name)


def test_lxc_vnodes_lifecycle_and_cpu(vx, lxc_bed):
    bed = lxc_bed
    first = vx.run_module("vnodes", bed["args"])
    assert first["changed"] and first["vnodes"]["created"] == sorted(v["name"] for v in bed["vnodes"])
    again = vx.run_module("vnodes", bed["args"])
    assert not again["changed"], again.get("diff")
    for v in bed["vnodes"]:
        assert state(bed, v["name"]) == "RUNNING"
        assert v["name"] in vx.netns_list()
        r = ssh(bed, v["address"], "hostname")
        assert r.returncode == 0 and r.stdout.strip() == v["name"], r.stdout
    # python3 and perl are in the image (Ansible, TakTuk)
    assert ssh(bed, bed["vnodes"][1]["address"], "python3 -c 'print(1)' && perl -e 'print 2'").stdout.split() == ["1", "2"]

    # drift: a host-side port down; check mode sees it and changes nothing; a run repairs it
    port = bed["vnodes"][2]["host_if"]
    vx.ip("link", "set", port, "down")
    dry = vx.run_module("vnodes", bed["args"], check=True)
    assert dry["changed"] and "state DOWN" in vx.ip("link", "show", port).stdout
    assert vx.run_module("vnodes", bed["args"])["changed"]
    assert "state DOWN" not in vx.ip("link", "show", port).stdout

    # stop then start: reachable again, same address
    two = bed["vnodes"][1]
    base = {"platform": bed["platform"], "state_dir": bed["sd"], "vnodes": [two["name"]]}
    assert vx.run_module("vnode_state", dict(base, state="stopped"))["changed"]
    assert state(bed, two["name"]) == "STOPPED" and two["name"] not in vx.netns_list()
    assert ssh(bed, two["address"], "true").returncode != 0
    assert not vx.run_module("vnode_state", dict(base, state="stopped"))["changed"]
    assert vx.run_module("vnode_state", dict(base, state="started"))["changed"]
    r = ssh(bed, two["address"], "ip -4 -o addr show eth0")
    assert r.returncode == 0 and " %s/24 " % two["address"] in r.stdout, r.stdout
    # frozen: no answer until unfrozen
    assert vx.run_module("vnode_state", dict(base, state="frozen"))["changed"]
    assert state(bed, two["name"]) == "FROZEN"
    assert ssh(bed, two["address"], "true", timeout=8).returncode != 0
    assert vx.run_module("vnode_state", dict(base, state="unfrozen"))["changed"]
    assert ssh(bed, two["address"], "true").returncode == 0
    # freezing a stopped vnode is refused
    vx.run_module("vnode_state", dict(base, state="stopped"))
    bad = vx.run_module("vnode_state", dict(base, state="frozen"), expect_fail=True)
    assert "only a running vnode can be frozen" in bad["msg"]
    # the platform run starts it again, and is then idempotent
    assert vx.run_module("vnodes", bed["args"])["changed"]
    assert not vx.run_module("vnodes", bed["args"])["changed"]

    # CPU cap: a busy loop in the vnode capped at 0.25 core, measured from its cgroup's CPU time
    one = bed["vnodes"][0]
    from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups as cg
    host = cg.Host()
    pid = int(subprocess.run(["lxc-info", "-P", bed["lxcpath"], "-n", one["name"], "-p", "-H"],
                             stdout=subprocess.PIPE, text=True, check=True).stdout)
    dirs = host.dirs_of_pid(pid)
    loop = subprocess.Popen(["lxc-attach", "-P", bed["lxcpath"], "-n", one["name"], "--",
                             "timeout", "14", "sh", "-c", "while :; do :; done"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shares = []
    try:
        time.sleep(1.5)
        # three 3 s windows: other load on the machine can only lower a window's share (the cap
        # is an upper bound), so the best window is the one that tells the cap
        for dummy in range(3):
            u0, t0 = host.cpu_usage_ns(dirs), time.monotonic()
            time.sleep(3)
            u1, t1 = host.cpu_usage_ns(dirs), time.monotonic()
            shares.append(100.0 * (u1 - u0) / ((t1 - t0) * 1e9))
    finally:
        loop.kill()
        loop.wait()
    share = max(shares)
    print("measured CPU share under a 25%% cap: %s%%" % ", ".join("%.1f" % x for x in shares))
    assert 20.0 <= share <= 30.0, share
    # the cap changes live, without a restart
    args = dict(bed["args"], vnodes=[dict(bed["vnodes"][0], cpu=0.5)] + bed["vnodes"][1:])
    res = vx.run_module("vnodes", args)
    assert res["changed"] and res["vnodes"]["started"] == []
    with open(os.path.join(dirs["cpu"], "cpu.cfs_quota_us" if host.versions["cpu"] == 1 else "cpu.max")) as f:
        assert f.read().split()[0] == "50000"

    # absent: nothing of the platform is left
    gone = vx.run_module("vnodes", {"platform": bed["platform"], "kind": "lxc", "state": "absent",
                                    "state_dir": bed["sd"]})
    assert gone["changed"] and sorted(gone["vnodes"]["removed"]) == sorted(v["name"] for v in bed["vnodes"])
    assert not os.path.exists(bed["lxcpath"])
    for v in bed["vnodes"]:
        assert v["name"] not in vx.netns_list()
        assert v["host_if"] not in vx.links()
        assert cgroup_dirs(v["name"]) == []
    ps = subprocess.run(["ps", "-eo", "args"], stdout=subprocess.PIPE, text=True, check=True).stdout
    assert bed["lxcpath"] not in ps and "ListenAddress=%s." % NET not in ps
