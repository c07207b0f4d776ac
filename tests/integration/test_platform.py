"""A whole platform on the one-machine testbed (root): 3 pnodes x 20 vnodes in unicast mode (LXC
vnodes) and in multicast mode (netns vnodes), deployed with `vxlab deploy`, proved with
`vxlab check` (SSH to every vnode, pings across every pnode pair through the VXLAN), re-deployed with no change, check mode on a drift,
a 4th pnode added and removed, and destroy leaving nothing. Observations are made inside the
pnodes over their real SSH. The testbed is removed even on failure."""
import json
import os
import shlex
import subprocess

import pytest
import yaml

import vxlab

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (testbed namespaces, sshd)"),
]

BIN = os.path.join(vxlab.REPO, ".venv", "bin")
VXLAB = os.path.join(BIN, "vxlab")
PER_PNODE = 20


def vx(*args, timeout=900):
    proc = subprocess.run([VXLAB] + list(args) + ["--json", "-q"], text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          check=False)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        data = None
    return proc.returncode, data, proc.stderr


def ok(*args):
    rc, data, err = vx(*args)
    assert rc == 0 and data is not None, err[-3000:]
    return data


class Bed:
    """A testbed of 4 pnodes whose inventory `three.yml` holds only the first 3."""

    def __init__(self, name, mode):
        self.name = name
        self.mode = mode
        self.info = ok("testbed", "up", "--name", name, "--pnodes", "4",
                       "-e", "vxlab_vnodes_per_pnode=%d" % PER_PNODE,
                       "-e", "vxlab_vxlan_mode=%s" % mode,
                       # both vnode kinds are covered: LXC (the default) in unicast, netns in multicast
                       "-e", "vxlab_vnode_kind=%s" % ("lxc" if mode == "unicast" else "netns"))
        self.four = self.info["inventory"]
        with open(self.four) as f:
            doc = yaml.safe_load(f)
        hosts = doc["all"]["children"]["pnodes"]["hosts"]
        self.pnodes = sorted(hosts)
        del hosts[self.pnodes[3]]
        self.three = os.path.join(os.path.dirname(self.four), "three.yml")
        with open(self.three, "w") as f:
            yaml.safe_dump(doc, f)
        self.vtep = {p["name"]: p["address"] for p in self.info["pnodes"]}

    def on(self, pnode, *argv):
        """Run argv on a pnode over its real SSH (ssh hands a string to the remote shell: quote)."""
        proc = subprocess.run(["ssh", "-F", self.info["ssh_config"], pnode, shlex.join(argv)],
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60, check=False)
        return proc.returncode, proc.stdout

    def netns(self, pnode):
        rc, out = self.on(pnode, "ip", "-j", "netns", "list")
        assert rc == 0
        return sorted(n["name"] for n in json.loads(out or "[]"))

    def inodes(self, pnode):
        paths = ["/run/netns/%s" % n for n in self.netns(pnode)]
        rc, out = self.on(pnode, "stat", "-L", "-c", "%n %i", *paths)
        assert rc == 0, out
        return dict(line.split() for line in out.splitlines())

    def fdb_dsts(self, pnode):
        rc, out = self.on(pnode, "bridge", "-j", "fdb", "show", "dev", "%s-vx" % self.name)
        assert rc == 0, out
        return sorted(e["dst"] for e in json.loads(out or "[]")
                      if e.get("mac") == "00:00:00:00:00:00" and "dst" in e)

    def owned_links(self, pnode):
        rc, out = self.on(pnode, "ip", "-j", "link", "show")
        assert rc == 0
        mark = "vxlab:%s" % self.name
        return sorted(link["ifname"] for link in json.loads(out) if link.get("ifalias") == mark)

    def down(self):
        for inv in (self.four, self.three):
            vx("destroy", "-i", inv)
        rc, dummy, err = vx("testbed", "down", "--name", self.name)
        assert rc == 0, err


@pytest.fixture
def bed(request):
    mode = request.param
    made = Bed("%s%d" % (mode[0], os.getpid() % 10000), mode)
    try:
        yield made
    finally:
        made.down()


def changed(result):
    return {h: v["changed"] for h, v in result["hosts"].items()}


def assert_reachable(bed, inventory, vnodes, pnodes):
    result = ok("check", "-i", inventory)
    assert result["ok"], result
    assert result["ssh"]["ok"] == vnodes and not result["ssh"]["failed"]
    pairs = {(p["src_pnode"], p["dst_pnode"]) for p in result["pairs"]
             if p["ok"] and not p["failed"]}
    assert pairs == {(a, b) for a in pnodes for b in pnodes if a != b}


@pytest.mark.parametrize("bed", ["unicast", "multicast"], indirect=True)
def test_platform_lifecycle(bed):
    p1, p2, p3, p4 = bed.pnodes
    first = ok("deploy", "-i", bed.three)
    assert first["ok"] and all(first["hosts"][p]["changed"] > 0 for p in (p1, p2, p3))
    assert bed.netns(p1) == sorted("%s-%d" % (bed.name, i) for i in range(1, PER_PNODE + 1))
    assert_reachable(bed, bed.three, 3 * PER_PNODE, [p1, p2, p3])
    # the control host reaches a vnode of a non-gateway pnode through the gateway pnode + VXLAN
    plan = ok("plan", "-i", bed.three)
    far = [v for v in plan["vnodes"] if v["pnode"] == p3][0]
    assert subprocess.run(["ping", "-c1", "-W2", far["address"]], stdout=subprocess.DEVNULL,
                          check=False).returncode == 0
    if bed.mode == "unicast":
        assert bed.fdb_dsts(p1) == sorted([bed.vtep[p2], bed.vtep[p3]])

    again = ok("deploy", "-i", bed.three)
    assert again["ok"] and set(changed(again).values()) == {0}, changed(again)

    # drift: a vnode's host-side port down. Check mode sees it and changes nothing; deploy repairs.
    port = "%s-1" % bed.name
    assert bed.on(p1, "ip", "link", "set", port, "down")[0] == 0
    dry = ok("deploy", "-i", bed.three, "--check")
    assert dry["hosts"][p1]["changed"] > 0 and dry["hosts"][p2]["changed"] == 0
    assert "state DOWN" in bed.on(p1, "ip", "link", "show", port)[1]
    fixed = ok("deploy", "-i", bed.three)
    assert fixed["hosts"][p1]["changed"] > 0
    assert "state DOWN" not in bed.on(p1, "ip", "link", "show", port)[1]

    if bed.mode == "unicast":
        # a 4th pnode: only what is new is made; existing vnodes are untouched
        before = {p: bed.inodes(p) for p in (p1, p2, p3)}
        grown = ok("deploy", "-i", bed.four)
        assert grown["ok"] and grown["hosts"][p4]["changed"] > 0
        assert {p: bed.inodes(p) for p in (p1, p2, p3)} == before
        assert bed.fdb_dsts(p1) == sorted([bed.vtep[p2], bed.vtep[p3], bed.vtep[p4]])
        assert_reachable(bed, bed.four, 4 * PER_PNODE, [p1, p2, p3, p4])
        # and removed again: its objects go, the others' FDB entry for it goes, nothing else
        gone = ok("destroy", "-i", bed.four, "--limit", p4)
        assert gone["ok"] and bed.netns(p4) == [] and bed.owned_links(p4) == []
        shrunk = ok("deploy", "-i", bed.three)
        assert shrunk["ok"]
        assert bed.fdb_dsts(p1) == sorted([bed.vtep[p2], bed.vtep[p3]])
        assert {p: bed.inodes(p) for p in (p1, p2, p3)} == before

    # destroy leaves nothing of the platform: namespaces, links, FDB, processes, files, route
    state_dir = os.path.join(bed.info["private"], "state", bed.name)
    done = ok("destroy", "-i", bed.three)
    assert done["ok"]
    for p in (p1, p2, p3):
        assert bed.netns(p) == []
        assert bed.owned_links(p) == []
        rc, out = bed.on(p, "ip", "-o", "link", "show", "dev", "%s-vx" % bed.name)
        assert rc != 0
    for p in (p1, p2, p3):
        leftover = []
        for root, dirs, files in os.walk(os.path.join(state_dir, p)):
            leftover += [os.path.join(root, f) for f in files]
        assert leftover == [], leftover
    ps = subprocess.run(["ps", "-eo", "args"], text=True, stdout=subprocess.PIPE, check=True).stdout
    assert "sshmux-%s" % bed.name not in ps
    routes = subprocess.run(["ip", "-4", "route", "show", "proto", "251"], text=True,
                            stdout=subprocess.PIPE, check=True).stdout
    assert plan["platform"]["network"] not in routes
