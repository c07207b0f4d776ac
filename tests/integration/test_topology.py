"""Emulated topologies on the testbed (root): three data networks over two routed sites, two routers.

4 pnodes on 2 sites (``vxlab testbed up --sites 2``), 3 vnodes each (``T-1`` .. ``T-12``):

* ``front``: T-1, T-2, T-4 (group web) and the router T-3 (p1, site 1) on front + wan;
* ``back``: T-8, T-9, T-11 (group db) and the router T-10 (p4, site 2) on wan + back;
* ``wan``: the two routers; so front -> back crosses two routers.

Asserted from inside the vnodes (SSH over the management network): every pair of networks pings
(``vxlab check``'s per-pair report), the hops front -> back are T-3 then T-10 (ping with TTL 1 and
2: the routers answer "time to live exceeded"), a second deploy changes nothing, removing the
router group of T-3 cuts front from back (and the plan says so) and putting it back restores it,
and destroy leaves no interface, namespace or LXC container of the platform on any pnode.
Both vnode kinds: netns (the whole scenario) and LXC (deploy, pings through both routers,
re-run, per-group CPU and memory limits read and a CPU cap measured, a fault stopping and
starting a router, destroy).
"""
import json
import os
import re
import subprocess
import time

import pytest
from cli_testbed import ROOT_MARKS, json_of, unique_bed_name, unique_bed_network, vxlab_run

from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups as cg

pytestmark = ROOT_MARKS
NAME = unique_bed_name("t")
NETWORK = unique_bed_network(41)
NETWORKS = [{"name": "front", "cidr": "172.29.0.0/24"}, {"name": "back", "cidr": "172.29.1.0/24"},
            {"name": "wan", "cidr": "172.29.2.0/24"}]


def groups(with_r1=True):
    out = [{"name": "web", "vnodes": "%s-[1,2,4]" % NAME, "networks": ["front"]},
           {"name": "db", "vnodes": "%s-[8,9,11]" % NAME, "networks": ["back"]},
           {"name": "r2", "vnodes": "%s-10" % NAME, "networks": ["wan", "back"], "router": True}]
    if with_r1:
        out.append({"name": "r1", "vnodes": "%s-3" % NAME, "networks": ["front", "wan"], "router": True})
    return out


def topo_vars(kind, with_r1=True, slow=False):
    extra = [{"name": "slow", "vnodes": "%s-[5,6]" % NAME, "cpu": 0.25, "memory": "256M"}] if slow else []
    return ["-e", "vxlab_vnode_kind=" + kind, "-e", "vxlab_networks=" + json.dumps(NETWORKS),
            "-e", "vxlab_vnode_groups=" + json.dumps(groups(with_r1) + extra)]


def run(*args, timeout=900):
    return vxlab_run(*args, timeout=timeout)


@pytest.fixture(scope="module")
def bed():
    info = None
    try:
        info = json_of(run("testbed", "up", "--name", NAME, "--pnodes", "4", "--sites", "2",
                           "-e", "vxlab_vnodes_per_pnode=3", "-e", "vxlab_vnode_network=" + NETWORK, "--json", "-q"))
        yield info
    finally:
        if info is not None:
            for kind in ("netns", "lxc"):
                run("destroy", "-i", info["inventory"], "-q", *topo_vars(kind))
        proc = run("testbed", "down", "--name", NAME, "-q")
        assert proc.returncode == 0, proc.stderr


def plan_of(bed, *extra):
    return json_of(run("plan", "-i", bed["inventory"], "--json", *extra))


def address(plan, vnode, network):
    v = [x for x in plan["vnodes"] if x["name"] == "%s-%d" % (NAME, vnode)][0]
    return [i["address"] for i in v["interfaces"] if i["network"] == network][0]


def in_vnode(state, vnode, argv, timeout=60):
    ssh = ["ssh", "-F", os.path.join(state, "ssh_config"), "-o", "BatchMode=yes", "-T", "%s-%d" % (NAME, vnode), "--"]
    return subprocess.run(ssh + argv, text=True, capture_output=True, timeout=timeout, check=False)


def pings(state, vnode, target):
    return in_vnode(state, vnode, ["ping", "-c", "1", "-W", "2", target]).returncode == 0


def hop(state, vnode, target, ttl):
    """The address that answers a ping with this TTL (traceroute's method; no traceroute needed)."""
    proc = in_vnode(state, vnode, ["ping", "-c", "1", "-W", "2", "-t", str(ttl), target])
    m = re.search(r"From (\d+\.\d+\.\d+\.\d+).*Time to live exceeded", proc.stdout)
    if m:
        return m.group(1)
    return target if proc.returncode == 0 else None


def pnode_leftovers(bed):
    """Interfaces and namespaces of the platform left on the pnodes (over SSH)."""
    left = []
    for p in bed["pnodes"]:
        proc = subprocess.run(["ssh", "-F", bed["ssh_config"], p["name"], "--", "ip -o link; ip netns list"],
                              text=True, capture_output=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        left += ["%s: %s" % (p["name"], ln) for ln in proc.stdout.splitlines()
                 if re.search(r"\b%s[-.]" % re.escape(NAME), ln)]
    lxc = subprocess.run(["lxc-ls", "-1"], text=True, capture_output=True, check=False).stdout.split() \
        if os.path.exists("/usr/bin/lxc-ls") else []
    return left + [c for c in lxc if c.startswith(NAME + "-")]


def vnode_pid(bed, vnode):
    """The init PID of LXC vnode T-<vnode> (lxc-info in its pnode: LXC's command socket lives in
    the pnode's network namespace); one PID namespace for the whole testbed."""
    name = "%s-%d" % (NAME, vnode)
    p = [x for x in bed["pnodes"] if x["name"] == "%s-p%d" % (NAME, (vnode - 1) // 3 + 1)][0]
    lxcpath = os.path.join(bed_state_dir(bed), NAME, p["name"], "lxc")
    proc = subprocess.run(["ssh", "-F", bed["ssh_config"], p["name"], "--", "lxc-info -P %s -n %s -p -H" % (lxcpath, name)],
                          text=True, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip())


def bed_state_dir(bed):
    import yaml
    with open(os.path.join(os.path.dirname(bed["inventory"]), "group_vars", "pnodes.yml")) as f:
        return yaml.safe_load(f)["vxlab_state_dir"]


def read_limit(host, dirs, what):
    """The vnode's cgroup limit: CPU as a fraction of a core, memory in bytes; None when unlimited."""
    if what == "cpu":
        if host.versions["cpu"] == 1:
            quota = int(open(os.path.join(dirs["cpu"], "cpu.cfs_quota_us")).read())
            period = int(open(os.path.join(dirs["cpu"], "cpu.cfs_period_us")).read())
        else:
            q, period = open(os.path.join(dirs["cpu"], "cpu.max")).read().split()
            quota, period = (-1 if q == "max" else int(q)), int(period)
        return None if quota < 0 else quota / period
    name = "memory.limit_in_bytes" if host.versions["memory"] == 1 else "memory.max"
    value = open(os.path.join(dirs["memory"], name)).read().strip()
    return None if value == "max" or int(value) >= 2 ** 62 else int(value)


def busy_share(state, vnode, host, dirs):
    """A busy loop in the vnode (over SSH), its CPU share (%) from its cgroup's CPU time: the best of
    three 2 s windows (other load can only lower a window; the cap is an upper bound)."""
    loop = subprocess.Popen(["ssh", "-F", os.path.join(state, "ssh_config"), "-o", "BatchMode=yes", "-T",
                             "%s-%d" % (NAME, vnode), "--", "timeout 10 sh -c 'while :; do :; done'"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shares = []
    try:
        time.sleep(2)
        for dummy in range(3):
            u0, t0 = host.cpu_usage_ns(dirs), time.monotonic()
            time.sleep(2)
            u1, t1 = host.cpu_usage_ns(dirs), time.monotonic()
            shares.append(100.0 * (u1 - u0) / ((t1 - t0) * 1e9))
    finally:
        loop.kill()
        loop.wait()
    print("CPU share of %s-%d under a 25%% cap: %s" % (NAME, vnode, ", ".join("%.1f" % x for x in shares)))
    return max(shares)


def changed_on_pnodes(doc):
    return {h: v["changed"] for h, v in doc["hosts"].items() if h != "localhost"}


def test_netns_three_networks_two_sites_two_routers(bed):
    inv = bed["inventory"]
    ev = topo_vars("netns")
    plan = plan_of(bed, *ev)
    assert [n["name"] for n in plan["networks"]] == ["front", "back", "wan"] and plan["warnings"] == []
    assert sorted({p["site"] for p in plan["pnodes"]}) == [0, 1]
    first = json_of(run("deploy", "-i", inv, "--json", "-q", *ev))
    assert first["ok"] and first["changed"] > 0
    state = first["artifacts"]
    again = json_of(run("deploy", "-i", inv, "--json", "-q", *ev))
    assert set(changed_on_pnodes(again).values()) == {0}, again["hosts"]

    check = json_of(run("check", "-i", inv, "--json", "-q", *ev))
    assert check["ok"], check
    pairs = {(p["from"], p["to"]): p for p in check["networks"]}
    assert len(pairs) == 9
    for (a, b), p in pairs.items():
        assert p["failed"] == 0 and p["ok"] > 0, (a, b, p)
        assert p["route"] == ("direct" if a == b else "routers")

    back9 = address(plan, 9, "back")
    assert pings(state, 1, back9)
    # traceroute: T-1 (front, p1) -> T-3 (router, front address) -> T-10 (router, wan address) -> T-9
    assert [hop(state, 1, back9, ttl) for ttl in (1, 2, 3)] == [
        address(plan, 3, "front"), address(plan, 10, "wan"), back9]
    # and the way back, from site 2 to site 1
    assert pings(state, 11, address(plan, 2, "front"))

    # without the router r1, front reaches back no more; the plan says so
    cut = topo_vars("netns", with_r1=False)
    warned = plan_of(bed, *cut)
    assert any(w.startswith("network back is unreachable from network(s) front") for w in warned["warnings"])
    json_of(run("deploy", "-i", inv, "--json", "-q", *cut))
    assert not pings(state, 1, back9)
    assert pings(state, 8, back9)  # back itself is untouched
    back = json_of(run("deploy", "-i", inv, "--json", "-q", *ev))
    assert back["ok"]
    assert pings(state, 1, back9)

    gone = json_of(run("destroy", "-i", inv, "--json", "-q", *ev))
    assert gone["ok"]
    assert pnode_leftovers(bed) == []


def test_lxc_routers_between_sites(bed):
    if not os.path.exists("/usr/bin/lxc-start"):
        pytest.skip("LXC is not installed on this machine (lxc-start missing)")
    inv = bed["inventory"]
    ev = topo_vars("lxc", slow=True)
    plan = plan_of(bed, *ev)
    first = json_of(run("deploy", "-i", inv, "--json", "-q", *ev))
    assert first["ok"]
    state = first["artifacts"]
    again = json_of(run("deploy", "-i", inv, "--json", "-q", *ev))
    assert set(changed_on_pnodes(again).values()) == {0}, again["hosts"]
    back9 = address(plan, 9, "back")
    assert pings(state, 1, back9)
    assert hop(state, 1, back9, 1) == address(plan, 3, "front")
    assert pings(state, 11, address(plan, 4, "front"))

    # the group "slow" (T-5, T-6 on p2): a quarter of a core and 256 MiB each, the others unlimited
    host = cg.Host()
    dirs = {n: host.dirs_of_pid(vnode_pid(bed, n)) for n in (4, 5)}
    assert read_limit(host, dirs[5], "memory") == 256 * 2 ** 20
    assert read_limit(host, dirs[4], "memory") is None and read_limit(host, dirs[4], "cpu") is None
    assert read_limit(host, dirs[5], "cpu") == 0.25
    share = busy_share(state, 5, host, dirs[5])
    assert 20.0 <= share <= 30.0, share
    # and `vxlab check --fidelity` measures the group's cap from inside a vnode of it
    fid = run("check", "-i", inv, "--fidelity", "--ssh-sample", "1", "--json", "-q", *ev)
    assert fid.returncode == 0, fid.stdout[-2000:] + fid.stderr[-2000:]
    (cpu,) = json.loads(fid.stdout)["fidelity"]["cpu"]
    assert cpu["group"] == "slow" and cpu["asked"] == 0.25 and cpu["ok"], cpu
    # a fault stops the router T-3 (front -> back is cut) and starts it again: it comes back with
    # its data interfaces, routes and forwarding
    down = run("fault", "-i", inv, *ev, "now", "down", "%s-3" % NAME)
    assert down.returncode == 0, down.stderr
    assert not pings(state, 1, back9)
    up = run("fault", "-i", inv, *ev, "now", "up", "%s-3" % NAME)
    assert up.returncode == 0, up.stderr
    assert pings(state, 1, back9)
    assert hop(state, 1, back9, 1) == address(plan, 3, "front")
    gone = json_of(run("destroy", "-i", inv, "--json", "-q", *ev))
    assert gone["ok"]
    assert pnode_leftovers(bed) == []


@pytest.mark.parametrize("mode", ["static", "suppress"])
def test_arp_modes_cover_the_data_networks(bed, mode):
    """static: every member of a data network holds a PERMANENT entry for every other member on
    its interface on that network; suppress: the network's VXLAN device answers. Pings through
    both routers pass either way."""
    inv = bed["inventory"]
    ev = topo_vars("netns") + ["-e", "vxlab_arp_mode=" + mode]
    plan = plan_of(bed, *ev)
    first = json_of(run("deploy", "-i", inv, "--json", "-q", *ev))
    assert first["ok"]
    state = first["artifacts"]
    again = json_of(run("deploy", "-i", inv, "--json", "-q", *ev))
    assert set(changed_on_pnodes(again).values()) == {0}, again["hosts"]
    check = json_of(run("check", "-i", inv, "--json", "-q", "--ssh-sample", "1", *ev))
    assert check["ok"] and all(p["failed"] == 0 for p in check["networks"]), check["networks"]
    neigh = in_vnode(state, 1, ["ip", "-4", "neigh", "show", "dev", "eth1", "nud", "permanent"]).stdout
    others = [address(plan, n, "front") for n in (2, 3, 4)]
    if mode == "static":
        assert all(a in neigh for a in others), neigh
    else:
        assert not neigh.strip(), neigh
        p1 = [p for p in bed["pnodes"] if p["name"] == "%s-p1" % NAME][0]
        proc = subprocess.run(["ssh", "-F", bed["ssh_config"], p1["name"], "--",
                               "ip -4 neigh show dev %s.back nud permanent" % NAME],
                              text=True, capture_output=True, timeout=60, check=False)
        # p1 holds no member of back, so it hosts no back network: nothing to answer for
        assert proc.returncode != 0 or not proc.stdout.strip()
        proc = subprocess.run(["ssh", "-F", bed["ssh_config"], p1["name"], "--",
                               "ip -4 neigh show dev %s.wan nud permanent" % NAME],
                              text=True, capture_output=True, timeout=60, check=False)
        assert address(plan, 10, "wan") in proc.stdout, proc.stdout + proc.stderr  # the router on p4
    assert json_of(run("destroy", "-i", inv, "--json", "-q", *ev))["ok"]
    assert pnode_leftovers(bed) == []
