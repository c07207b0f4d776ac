"""vxlab.emulation.vnodes for real (root): two pnode namespaces joined by an ``ib0`` veth, a
bridge and a VXLAN interface in each (made by the bridge and vxlan modules), netns vnodes made by
the vnodes module, and pings between vnodes of different pnodes through the VXLAN.

Every name starts with ``t<pid%10000>``; the pnode namespaces, the vnode namespaces and the SSH
daemon (stopped by the module's own ``state: absent``) are removed even when a test fails.
"""
import os
import shutil
import subprocess
import time

import pytest


pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, netlink)"),
]

try:
    from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import sshmux as _sshmux
except ImportError:  # pragma: no cover - the collection ships it
    _sshmux = None

OVERLAY = "10.253.%d" % (os.getpid() % 250)

MTU = 1450


def plan_vnodes(platform, side, count, first):
    """Vnode dicts like the address plan gives them (names are namespace names)."""
    out = []
    for i in range(count):
        host = first + i
        name = "%s-%d" % (platform, host)
        out.append({"name": name, "address": "%s.%d" % (OVERLAY, host),
                    "mac": "02:5a:0a:fd:%02x:%02x" % (side, host), "host_if": name})
    return out


def ping(netns, address, count=1):
    return subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", str(count), "-W", "2",
                           "-q", address], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)


def vnode_args(platform, pnode, vnodes, state_dir, **kw):
    args = {"platform": platform, "netns": pnode, "bridge": platform + "-br", "vnodes": vnodes,
            "prefixlen": 24, "mtu": MTU, "gateway": OVERLAY + ".1", "ssh": False,
            "state_dir": state_dir}
    args.update(kw)
    return args


@pytest.fixture
def platform(vx, pnode_pair, vnode_names):
    """A two-pnode platform: bridge + VXLAN on both sides; vnodes removed at teardown."""
    name = "t%dp%d" % (os.getpid() % 10000, int(time.time() * 1000) % 100)
    dirs = {}
    for side in ("a", "b"):
        d = os.path.join("/run", "vxlab-test-%s-%s" % (name, side))
        os.makedirs(d, 0o700, exist_ok=True)
        dirs[side] = d
    info = dict(pnode_pair, platform=name, state_dirs=dirs)
    try:
        yield info
    finally:
        for side in ("a", "b"):
            # the module's own cleanup (also stops its SSH daemon), then a safety net
            try:
                vx.run_module("vnodes", {"platform": name, "netns": pnode_pair[side], "state": "absent",
                                         "state_dir": dirs[side]})
            except AssertionError:
                pass
            for ns in vx.netns_list():
                if ns.startswith(name + "-"):
                    vx.ip("netns", "del", ns, check=False)
            shutil.rmtree(dirs[side], ignore_errors=True)


def make_underlay(vx, p, mode="unicast", group="239.1.1.%d" % (os.getpid() % 250 + 1)):
    """bridge + vxlan on both pnodes through the modules (the gateway address on side a)."""
    for side, local, remote in (("a", p["vtep_a"], p["vtep_b"]), ("b", p["vtep_b"], p["vtep_a"])):
        vx.run_module("bridge", {"name": p["platform"] + "-br", "platform": p["platform"],
                                 "netns": p[side], "mtu": MTU,
                                 "addresses": [OVERLAY + ".1/24"] if side == "a" else []})
        args = {"name": p["platform"] + "-vx", "platform": p["platform"], "netns": p[side],
                "vni": 4000 + os.getpid() % 1000, "underlay_interface": "ib0", "local": local,
                "mode": mode, "mtu": MTU, "master": p["platform"] + "-br", "learning": True}
        if mode == "unicast":
            args["remote_vteps"] = [remote]
        else:
            args["group"] = group
        vx.run_module("vxlan", args)


def test_vnodes_ping_idempotence_check_mode_shrink_absent(vx, platform, vnode_names):
    p = platform
    make_underlay(vx, p)
    va = plan_vnodes(p["platform"], 1, 3, 10)
    vb = plan_vnodes(p["platform"], 2, 3, 20)
    vnode_names.extend(v["name"] for v in va + vb)
    args_a = vnode_args(p["platform"], p["a"], va, p["state_dirs"]["a"])
    args_b = vnode_args(p["platform"], p["b"], vb, p["state_dirs"]["b"])

    r = vx.run_module("vnodes", args_a)
    assert r["changed"] is True
    assert r["vnodes"] == {"created": sorted(v["name"] for v in va), "repaired": [], "removed": [],
                           "total": 3}
    assert r["diff"]["after"]["vnodes"] == sorted(v["name"] for v in va)
    assert vx.run_module("vnodes", args_b)["changed"] is True

    # what the kernel holds: namespace, eth0 with MAC/address/MTU, host side on the bridge
    out = vx.ip("-n", va[0]["name"], "-o", "addr", "show", "dev", "eth0").stdout
    assert "%s/24" % va[0]["address"] in out and "inet6" not in out  # vnodes are IPv4-only
    out = vx.ip("-n", va[0]["name"], "link", "show", "eth0").stdout
    assert va[0]["mac"] in out and "mtu %d" % MTU in out and "UP" in out
    out = vx.ip("-n", p["a"], "-d", "link", "show", va[0]["host_if"]).stdout
    assert "master %s-br" % p["platform"] in out and "alias vxlab:%s" % p["platform"] in out
    assert "default via %s.1" % OVERLAY in vx.ip("-n", va[0]["name"], "route").stdout

    # vnode on pnode a -> vnode on pnode b, through the VXLAN; and the gateway address on a
    res = ping(va[0]["name"], vb[2]["address"])
    assert res.returncode == 0, res.stdout
    assert ping(vb[1]["name"], OVERLAY + ".1").returncode == 0

    # second run: nothing to do
    r = vx.run_module("vnodes", args_a)
    assert r["changed"] is False
    assert r["vnodes"] == {"created": [], "repaired": [], "removed": [], "total": 3}

    # drift: wrong MAC, address removed, host side down, default route gone
    v0, v1, v2 = va
    vx.ip("-n", v0["name"], "link", "set", "eth0", "address", "02:00:00:00:00:99")
    vx.ip("-n", v1["name"], "addr", "flush", "dev", "eth0")
    vx.ip("-n", p["a"], "link", "set", v2["host_if"], "down")
    vx.ip("-n", v2["name"], "route", "del", "default")
    r = vx.run_module("vnodes", args_a, check=True)
    assert r["changed"] is True
    assert r["vnodes"]["repaired"] == sorted([v0["name"], v1["name"], v2["name"]])
    assert r["diff"]["before"]["vnode:" + v0["name"]] == {"mac": "02:00:00:00:00:99"}
    # check mode changed nothing
    assert "02:00:00:00:00:99" in vx.ip("-n", v0["name"], "link", "show", "eth0").stdout
    assert "inet " not in vx.ip("-n", v1["name"], "addr", "show", "dev", "eth0").stdout
    assert "default" not in vx.ip("-n", v2["name"], "route").stdout
    r = vx.run_module("vnodes", args_a)
    assert r["changed"] is True and r["vnodes"]["repaired"] == sorted(
        [v0["name"], v1["name"], v2["name"]])
    assert vx.run_module("vnodes", args_a)["changed"] is False
    assert ping(v1["name"], vb[0]["address"]).returncode == 0

    # pnode shrink: only the dropped vnode goes
    r = vx.run_module("vnodes", dict(args_a, vnodes=va[:2]))
    assert r["changed"] is True
    assert r["vnodes"]["removed"] == [v2["name"]] and r["vnodes"]["created"] == []
    assert v2["name"] not in vx.netns_list() and v0["name"] in vx.netns_list()
    assert v2["host_if"] not in vx.links(p["a"])
    assert ping(v0["name"], vb[0]["address"]).returncode == 0

    # absent: nothing of ours left on either pnode
    for side, vn in (("a", va), ("b", vb)):
        r = vx.run_module("vnodes", {"platform": p["platform"], "netns": p[side], "state": "absent",
                                     "state_dir": p["state_dirs"][side]})
        assert r["changed"] is True
        assert vx.run_module("vnodes", {"platform": p["platform"], "netns": p[side], "state": "absent",
                                        "state_dir": p["state_dirs"][side]})["changed"] is False
    names = vx.netns_list()
    assert not [n for n in names if n.startswith(p["platform"] + "-")]
    for side in ("a", "b"):
        assert sorted(vx.links(p[side])) == sorted(
            ["lo", "ib0", p["platform"] + "-br", p["platform"] + "-vx"])


def test_vnodes_multicast_ping(vx, platform, vnode_names):
    p = platform
    make_underlay(vx, p, mode="multicast")
    va = plan_vnodes(p["platform"], 1, 2, 30)
    vb = plan_vnodes(p["platform"], 2, 2, 40)
    vnode_names.extend(v["name"] for v in va + vb)
    vx.run_module("vnodes", vnode_args(p["platform"], p["a"], va, p["state_dirs"]["a"]))
    vx.run_module("vnodes", vnode_args(p["platform"], p["b"], vb, p["state_dirs"]["b"]))
    res = ping(va[1]["name"], vb[0]["address"])
    assert res.returncode == 0, res.stdout
    assert "239.1.1." in subprocess.run(["bridge", "-n", p["a"], "fdb", "show", "dev",
                                         p["platform"] + "-vx"], stdout=subprocess.PIPE,
                                        universal_newlines=True, check=True).stdout


@pytest.mark.skipif(_sshmux is None, reason="module_utils/_sshmux.py is missing: SSH not checked")
def test_vnodes_ssh_listeners_follow_the_vnodes(vx, platform, vnode_names):
    p = platform
    make_underlay(vx, p)
    va = plan_vnodes(p["platform"], 1, 3, 50)
    vnode_names.extend(v["name"] for v in va)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    os.path.join(p["state_dirs"]["a"], "k")], check=True)
    with open(os.path.join(p["state_dirs"]["a"], "k.pub")) as f:
        pub = f.read()
    sd = os.path.join(p["state_dirs"]["a"], "pnode")
    args = vnode_args(p["platform"], p["a"], va, sd, ssh=True, authorized_keys=pub)
    r = vx.run_module("vnodes", args)
    assert r["changed"] is True and r["ssh"]["listening"] == 3, r["ssh"]
    st = _sshmux.status(sd, p["platform"])
    assert st["running"] and st["listening"] == 3
    # a real login from the gateway address (pnode a's bridge) into a vnode
    res = subprocess.run(["ip", "netns", "exec", p["a"], "ssh", "-i",
                          os.path.join(p["state_dirs"]["a"], "k"), "-o", "BatchMode=yes",
                          "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                          "-o", "ConnectTimeout=5", "root@" + va[1]["address"], "ip -o -4 addr show eth0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         timeout=30, check=False)
    assert res.returncode == 0 and va[1]["address"] in res.stdout, res.stderr
    assert vx.run_module("vnodes", args)["changed"] is False
    r = vx.run_module("vnodes", dict(args, vnodes=va[:1]))
    assert r["ssh"]["listening"] == 1
    r = vx.run_module("vnodes", {"platform": p["platform"], "netns": p["a"], "state": "absent",
                                 "state_dir": sd})
    assert r["changed"] is True
    assert not _sshmux.status(sd, p["platform"])["running"]


def test_vnodes_refusals_change_nothing(vx, platform, vnode_names, netns_factory):
    p = platform
    make_underlay(vx, p)
    va = plan_vnodes(p["platform"], 1, 2, 60)
    vnode_names.extend(v["name"] for v in va)
    dup = [va[0], dict(va[1], address=va[0]["address"])]
    r = vx.run_module("vnodes", vnode_args(p["platform"], p["a"], dup, p["state_dirs"]["a"]),
                      expect_fail=True)
    assert "already used by vnode %s" % va[0]["name"] in r["msg"]
    r = vx.run_module("vnodes", vnode_args(p["platform"], p["a"], va, p["state_dirs"]["a"], kind="lxc"),
                      expect_fail=True)
    assert r["msg"].startswith("image=None: kind=lxc needs the base root filesystem")
    r = vx.run_module("vnodes", vnode_args(p["platform"], p["a"], va, p["state_dirs"]["a"], cpu=0.5),
                      expect_fail=True)
    assert r["msg"].startswith("cpu: CPU and memory limits need kind=lxc")
    long_if = [dict(va[0], host_if="x" * 16)]
    r = vx.run_module("vnodes", vnode_args(p["platform"], p["a"], long_if, p["state_dirs"]["a"]),
                      expect_fail=True)
    assert "host_if" in r["msg"]
    # a namespace of that name that is not ours: refused, left alone
    vx.ip("netns", "add", va[1]["name"])
    try:
        r = vx.run_module("vnodes", vnode_args(p["platform"], p["a"], va, p["state_dirs"]["a"]),
                          expect_fail=True)
        assert "network namespace %s exists but is not a vnode" % va[1]["name"] in r["msg"]
        assert va[0]["name"] not in vx.netns_list()
        assert [n for n in vx.netns_list() if n.startswith(p["platform"])] == [va[1]["name"]]
        # absent does not take it either
        vx.run_module("vnodes", {"platform": p["platform"], "netns": p["a"], "state": "absent",
                                 "state_dir": p["state_dirs"]["a"]})
        assert va[1]["name"] in vx.netns_list()
    finally:
        vx.ip("netns", "del", va[1]["name"], check=False)


def test_vnodes_246_timings(vx, platform, vnode_names, capsys):
    """246 vnodes on one pnode in one call: create, re-run and remove stay within seconds."""
    p = platform
    make_underlay(vx, p)
    count = 246
    va = [{"name": "%s-%d" % (p["platform"], i), "address": "10.254.%d.%d" % (i // 250, i % 250 + 2),
           "mac": "02:5b:00:00:%02x:%02x" % (i // 256, i % 256), "host_if": "%s-%d" % (p["platform"], i)}
          for i in range(count)]
    vnode_names.extend(v["name"] for v in va)
    args = vnode_args(p["platform"], p["a"], va, p["state_dirs"]["a"], prefixlen=16,
                      gateway="10.254.255.254")
    t0 = time.time()
    r = vx.run_module("vnodes", args)
    t1 = time.time()
    assert r["vnodes"]["total"] == count and len(r["vnodes"]["created"]) == count
    r = vx.run_module("vnodes", args)
    t2 = time.time()
    assert r["changed"] is False
    r = vx.run_module("vnodes", {"platform": p["platform"], "netns": p["a"], "state": "absent",
                                 "state_dir": p["state_dirs"]["a"]})
    t3 = time.time()
    assert len(r["vnodes"]["removed"]) == count
    assert not [n for n in vx.netns_list() if n.startswith(p["platform"] + "-")]
    with capsys.disabled():
        print("\n246 vnodes (ansible-playbook, incl. ~1.5 s of Ansible start-up each): create %.1f s, "
              "re-run %.1f s, remove %.1f s" % (t1 - t0, t2 - t1, t3 - t2))
    assert t1 - t0 < 60 and t2 - t1 < 30 and t3 - t2 < 60
