"""The drift table (root): changes made by hand behind vxlab's back, each seen by check mode and
repaired by a deploy.

One testbed of 2 pnodes x 3 vnodes, three phases (netns vnodes with static ARP tables and one
shaped vnode; netns vnodes with ARP suppression; LXC vnodes with a CPU limit). For every row of
:data:`ROWS`, on a converged platform:

1. the change is made by hand on a pnode (or on the control host);
2. ``vxlab deploy --check --diff --json`` exits 0, counts a change, its diffs name the object
   (the row's ``expect``), and a snapshot of both pnodes (links, addresses, routes, permanent
   neighbour and FDB entries, qdiscs, each vnode namespace's own, LXC states and CPU limits, the
   state files) and of the control host's route is the same before and after it;
3. ``vxlab deploy`` repairs it (changed);
4. ``vxlab check`` passes;
5. a re-run reports changed=0.

The README states the table's size ("N drifts, each seen by ``--check`` and repaired by
``deploy``"); a test checks that number against :data:`ROWS`.
"""
import collections
import json
import os
import re
import subprocess

import pytest
from cli_testbed import REPO, ROOT_MARKS, json_of, unique_bed_name, unique_bed_network, up_testbed, vxlab_run

from vxlab import diffview

pytestmark = ROOT_MARKS
NAME = unique_bed_name("d")
NETWORK = unique_bed_network(47)
P1, P2 = "%s-p1" % NAME, "%s-p2" % NAME
V1, V2 = "%s-1" % NAME, "%s-2" % NAME  # the first two vnodes, on p1 (p1 is the gateway pnode)

#: extra variables of each phase
PHASES = {
    "static": {"vxlab_vnode_kind": "netns", "vxlab_arp_mode": "static",
               "vxlab_links": [{"vnodes": V2, "rate": "10mbit"}]},
    "suppress": {"vxlab_vnode_kind": "netns", "vxlab_arp_mode": "suppress"},
    "lxc": {"vxlab_vnode_kind": "lxc", "vxlab_vnode_cpu": 0.5},
}

Row = collections.namedtuple("Row", "phase name where command expect")

#: the drifts: ``command`` runs on ``where`` (a pnode, through SSH, or ``control``); ``{...}``
#: fields are filled from the testbed (:func:`fields`); ``expect``: a regular expression one line
#: of the check-mode diff matches
ROWS = [
    Row("static", "a vnode's host-side veth deleted", P1, "ip link del {v1}", r"vnode:{v1}: broken veth"),
    Row("static", "a veth taken off the bridge", P1, "ip link set {v1} nomaster", r"vnode:{v1}\.master: absent -> {br}"),
    Row("static", "a vnode's namespace deleted", P1, "ip netns del {v1}", r"~ vnodes: .* -> \[\"{v1}\""),
    Row("static", "a vnode's address flushed", P1, "ip -n {v1} addr flush dev eth0", r"vnode:{v1}\.addresses"),
    Row("static", "a vnode's default route deleted", P1, "ip -n {v1} route del default",
        r"vnode:{v1}\.default_route: \[\] -> "),
    Row("static", "the VXLAN device deleted", P1, "ip link del {vx}", r"present: false -> true"),
    Row("static", "an FDB flood entry deleted", P1, "bridge fdb del 00:00:00:00:00:00 dev {vx} dst {vtep2}",
        r"remote_vteps: \[\] -> \[\"{vtep2}\"\]"),
    Row("static", "the bridge deleted", P1, "ip link del {br}", r"vnode:{v1}\.master: absent -> {br}"),
    Row("static", "the pnode's SSH multiplexer killed", P1, "kill {sshmux_pid}", r"ssh"),
    Row("static", "a static ARP entry deleted", P1, "ip -n {v1} neigh del {a2} dev eth0", r"{v1}"),
    Row("static", "a link shaping qdisc removed", P1, "tc -n {v2} qdisc del dev eth0 root", r"{v2}:out: none -> tbf"),
    Row("static", "the control host's route removed", "control", "ip route del {network}",
        r"route {network}: absent -> "),
    Row("static", "a pnode's state file removed", P1, "rm {state1}/vnodes-netns.json",
        r"recorded_vnodes: \[\] -> "),
    Row("suppress", "a suppression entry deleted", P1, "ip neigh del {a4} dev {vx}", r"vxlan_neigh\.entries: \d+ -> "),
    Row("lxc", "an LXC container stopped", P1, "lxc-stop -P {state1}/lxc -n {v1} -k", r"vnode:{v1}\.state: STOPPED -> RUNNING"),
    Row("lxc", "an LXC vnode's delta directory removed", P1, "rm -rf {state1}/lxc/{v1}/delta",
        r"vnode:{v1}\.delta"),
    Row("lxc", "an LXC vnode's CPU limit changed", P1, "lxc-cgroup -P {state1}/lxc -n {v1} {cpu_file} {cpu_value}",
        r"vnode:{v1}\.limits\.cpu/{cpu_file}: {cpu_shown} -> "),
]

#: what a snapshot of a pnode reads (a constant script; $1: the platform's state directory)
SNAPSHOT = r"""
set -u
ip -br link | sed 's/@[^ ]*//' | sort
ip -br addr | sed 's/@[^ ]*//' | sort
ip route | sort
ip neigh show nud permanent | sort
bridge fdb show | grep -E 'permanent|static' | sort
tc qdisc show | sed 's/ refcnt [0-9]*//' | sort
for n in $(ip netns list | cut -d' ' -f1 | sort); do
  echo "== netns $n"
  ip -n "$n" -br link | sed 's/@[^ ]*//' | sort
  ip -n "$n" -br addr | sed 's/@[^ ]*//' | sort
  ip -n "$n" route | sort
  ip -n "$n" neigh show nud permanent | sort
  tc -n "$n" qdisc show | sed 's/ refcnt [0-9]*//' | sort
done
if [ -d "$1/lxc" ]; then
  for c in $(lxc-ls -P "$1/lxc" -1 | sort); do
    echo "== lxc $c $(lxc-info -P "$1/lxc" -n "$c" -s -H)"
    lxc-cgroup -P "$1/lxc" -n "$c" cpu.cfs_quota_us 2>/dev/null || lxc-cgroup -P "$1/lxc" -n "$c" cpu.max
    ls "$1/lxc/$c" | sort
  done
fi
find "$1" -path "$1/lxc" -prune -o -type f ! -name log -print | sort | xargs -r md5sum
"""


def run(*args, timeout=600):
    return vxlab_run(*args, timeout=timeout)


def phase_args(phase):
    return [x for k, v in sorted(PHASES[phase].items())
            for x in ("-e", "%s=%s" % (k, v if isinstance(v, str) else json.dumps(v)))]


class Bed:
    """The testbed and the phase its platform is deployed in."""

    def __init__(self, info):
        self.info = info
        self.inventory = info["inventory"]
        self.phase = None

    def ssh(self, pnode, *argv, stdin=None):
        return subprocess.run(["ssh", "-F", self.info["ssh_config"], "-o", "BatchMode=yes", pnode, "--"] + list(argv),
                              text=True, input=stdin, capture_output=True, timeout=120, check=False)

    def converge(self, phase):
        """Deploy ``phase`` (the LXC phase after a destroy: a pnode holds one kind of vnodes)."""
        if phase == self.phase:
            return
        if phase == "lxc" and self.phase is not None:
            json_of(run("destroy", "-i", self.inventory, "--json", "-q", *phase_args(self.phase)))
        doc = json_of(run("deploy", "-i", self.inventory, "--json", "-q", *phase_args(phase), timeout=900))
        assert doc["ok"], doc
        self.phase = phase

    def state_dir(self, pnode):
        return os.path.join(self.info["private"], "state", NAME, pnode)


@pytest.fixture(scope="module")
def bed():
    made = []

    def destroy(info):
        if made and made[0].phase is not None:
            run("destroy", "-i", info["inventory"], "-q", *phase_args(made[0].phase))

    with up_testbed(NAME, 2, NETWORK, "-e", "vxlab_vnodes_per_pnode=3", before_down=destroy) as info:
        made.append(Bed(info))
        yield made[0]


def fields(bed):
    """The values a row's command and expectation name."""
    plan = json_of(run("plan", "-i", bed.inventory, "--json", *phase_args(bed.phase)))
    address = dict((v["name"], v["address"]) for v in plan["vnodes"])
    vtep = dict((p["name"], p.get("vtep") or p.get("underlay_address")) for p in plan["pnodes"])
    state1 = bed.state_dir(P1)
    pid = ""
    for root, _dirs, names in os.walk(state1):
        for n in names:
            if os.path.basename(root).startswith("sshmux") and n == "pidfile":
                with open(os.path.join(root, n)) as f:
                    pid = f.read().strip()
    if os.path.exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"):  # cgroup v1's CPU controller
        cpu = {"cpu_file": "cpu.cfs_quota_us", "cpu_value": "90000", "cpu_shown": "90000"}
    else:
        cpu = {"cpu_file": "cpu.max", "cpu_value": "'90000 100000'", "cpu_shown": "90000 100000"}
    out = {"v1": V1, "v2": V2, "a2": address[V2], "a4": address["%s-4" % NAME], "br": "%s-br" % NAME,
           "vx": "%s-vx" % NAME, "vtep2": vtep[P2], "network": NETWORK, "state1": state1, "sshmux_pid": pid}
    out.update(cpu)
    return out


def snapshot(bed):
    out = {}
    for pnode in (P1, P2):
        proc = bed.ssh(pnode, "sh", "-s", bed.state_dir(pnode), stdin=SNAPSHOT)
        assert proc.returncode == 0, proc.stderr
        out[pnode] = proc.stdout
    out["control"] = subprocess.run(["ip", "route", "show", NETWORK], text=True, capture_output=True,
                                    check=True).stdout
    return out


def changed(doc):
    return sum(h["changed"] for h in doc["hosts"].values())


def test_check_mode_on_a_platform_never_deployed(bed):
    """Before the first deploy (no key of the platform made yet, no bridge, no vnode): check mode
    exits 0, reports what a deploy would make, and makes nothing, not even the keys."""
    assert bed.phase is None
    host_key = os.path.join(bed.info["private"], "keys", "vxlab_%s_host_ed25519" % NAME)
    before = snapshot(bed)
    doc = json_of(run("deploy", "-i", bed.inventory, "--check", "--diff", "--json", "-q", *phase_args("static")))
    assert doc["ok"] and changed(doc) >= 3, doc["hosts"]
    shown = "\n".join(diffview.lines(doc["diffs"], limit=1000))
    assert "keygen %s" % host_key in shown and "~ vnodes: [] -> [\"%s\"" % V1 in shown, shown
    assert snapshot(bed) == before and not os.path.exists(host_key)


@pytest.mark.parametrize("row", ROWS, ids=[re.sub(r"\W+", "-", r.name).strip("-") for r in ROWS])
def test_drift_seen_by_check_and_repaired(bed, row):
    bed.converge(row.phase)
    f = fields(bed)
    command = row.command.format(**f)
    if row.where == "control":
        made = subprocess.run(command.split(), text=True, capture_output=True, check=False)
    else:
        made = bed.ssh(row.where, *command.split())
    assert made.returncode == 0, "%s: %s" % (command, made.stderr)

    before = snapshot(bed)
    doc = json_of(run("deploy", "-i", bed.inventory, "--check", "--diff", "--json", "-q", *phase_args(row.phase)))
    shown = diffview.lines(doc["diffs"], limit=1000)
    assert doc["ok"] and changed(doc) >= 1, doc
    expect = re.compile(row.expect.format(**dict((k, re.escape(v)) for k, v in f.items())))
    assert any(expect.search(line) for line in shown), "%s not in the diff:\n%s" % (expect.pattern, "\n".join(shown))
    after = snapshot(bed)
    assert after == before, "check mode changed something"

    doc = json_of(run("deploy", "-i", bed.inventory, "--json", "-q", *phase_args(row.phase)))
    assert doc["ok"] and changed(doc) >= 1, doc
    proc = run("check", "-i", bed.inventory, "--json", "-q", *phase_args(row.phase))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    doc = json_of(run("deploy", "-i", bed.inventory, "--json", "-q", *phase_args(row.phase)))
    assert changed(doc) == 0, doc["hosts"]


def test_readme_states_the_table_size():
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    assert "%d drifts, each seen by `--check` and repaired by `deploy`" % len(ROWS) in text
