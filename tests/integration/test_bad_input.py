"""Bad inventories and variables through the real entry points (root, one shared testbed).

Each row runs ``vxlab deploy -i`` (or ``vxlab fault``, or ``ansible-playbook playbooks/deploy.yml``)
on the testbed's inventory with one bad value (``-e``, or a second inventory file for per-pnode
values) and must fail with ONE clear message naming the variable and the value, and leave the
machine exactly as it was: namespaces and interfaces of the initial namespace (those of this
testbed), inside every pnode (over SSH), LXC containers, vxlab routes, and the testbed's file tree.
"""
import json
import os
import re
import subprocess

import pytest
from cli_testbed import BIN, ROOT_MARKS, VXLAB, run_argv, unique_bed_name, unique_bed_network

pytestmark = ROOT_MARKS
NAME = unique_bed_name("b")
NETWORK = unique_bed_network(29)
run = run_argv


@pytest.fixture(scope="module")
def bed():
    info = None
    try:
        proc = run([VXLAB, "testbed", "up", "--name", NAME, "--pnodes", "2", "-e",
                    "vxlab_vnodes_per_pnode=2", "-e", "vxlab_vnode_network=" + NETWORK, "-e", "vxlab_vnode_kind=netns", "--json", "-q"])
        assert proc.returncode == 0, proc.stderr
        info = json.loads(proc.stdout)
        yield info
    finally:
        proc = run([VXLAB, "testbed", "down", "--name", NAME, "-q"])
        assert proc.returncode == 0, proc.stderr


def _lines(argv):
    return subprocess.run(argv, text=True, capture_output=True, check=False).stdout.splitlines()


def _link(line):
    """An ``ip -o link`` line without what the kernel changes by itself (operational state)."""
    return re.sub(r" state \S+", "", line.split(" link/")[0])


def snapshot(bed):
    """Everything a deploy could create, restricted to this testbed where the machine is shared."""
    snap = {
        "netns": sorted(n for n in _lines(["ip", "netns", "list"]) if NAME in n),
        "links": sorted(_link(ln) for ln in _lines(["ip", "-o", "link"]) if NAME in ln),
        "routes": _lines(["ip", "route", "show", NETWORK]),
        "lxc": sorted(n for n in _lines(["lxc-ls", "-1"]) if NAME in n) if os.path.exists("/usr/bin/lxc-ls") else None,
        "files": [],
    }
    for p in bed["pnodes"]:
        proc = subprocess.run(["ssh", "-F", bed["ssh_config"], p["name"], "--", "ip netns list; echo --; ip -o link"],
                              text=True, capture_output=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        snap[p["name"]] = [_link(ln) for ln in proc.stdout.splitlines()]
    for root, dirs, files in os.walk(bed["dir"]):
        dirs[:] = [d for d in dirs if os.path.join(root, d) != os.path.join(bed["dir"], "cp")]
        for f in files:
            path = os.path.join(root, f)
            st = os.lstat(path)
            snap["files"].append((os.path.relpath(path, bed["dir"]), st.st_size, st.st_mtime_ns, st.st_mode))
        for d in dirs:
            snap["files"].append((os.path.relpath(os.path.join(root, d), bed["dir"]) + "/",))
    snap["files"].sort()
    return snap


def host_vars_file(tmp_path, pnode, variables):
    path = tmp_path / "override.yml"
    path.write_text(json.dumps({"all": {"children": {"pnodes": {"hosts": {pnode: variables}}}}}))
    return str(path)


def trace_file(tmp_path, text):
    path = tmp_path / "trace.yml"
    path.write_text(text)
    return str(path)


P1 = NAME + "-p1"
# (id, how, value(s), [expected substrings of the message]); how: "e" = -e KEY=VALUE list,
# "host" = per-pnode variables of P1, "trace" = vxlab fault trace text, "playbook" = -e through
# ansible-playbook playbooks/deploy.yml
#: two data networks for the topology rows
NETS = 'vxlab_networks=[{"name": "a", "cidr": "172.31.240.0/24"}, {"name": "b", "cidr": "172.31.241.0/24"}]'

CASES = [
    ("vni-zero", "e", ["vxlab_vni=0"], ["vxlab_vni=0", "between 1 and 16777215"]),
    ("vni-too-big", "e", ["vxlab_vni=16777216"], ["vxlab_vni=16777216"]),
    ("vni-string", "e", ["vxlab_vni=abc"], ["vxlab_vni='abc'", "integer"]),
    ("vni-bool", "e", ["vxlab_vni=true"], ["vxlab_vni=true", "not a boolean"]),
    ("vnodes-negative", "e", ["vxlab_vnodes_per_pnode=-1"], ["vxlab_vnodes_per_pnode=-1"]),
    ("too-many-vnodes-per-pnode", "e", ["vxlab_vnodes_per_pnode=1023"], ["vxlab_vnodes_per_pnode=1023", "1022"]),
    ("too-many-vnodes-for-network", "e", ["vxlab_vnodes_per_pnode=200"], ["vxlab_vnode_network='%s'" % NETWORK, "larger network"]),
    ("mtu-too-small", "e", ["vxlab_mtu=100"], ["vxlab_mtu=100"]),
    ("mtu-too-big", "e", ["vxlab_mtu=9001"], ["vxlab_mtu=9001"]),
    # valid for the plan, but the testbed underlay (ib0, MTU 1500) carries at most 1450 over VXLAN:
    # refused where ib0 is first observed, before the control host or any pnode is changed
    ("mtu-over-underlay", "e", ["vxlab_mtu=1451"], ["vxlab_mtu=1451", "ib0 has MTU 1500", "at most 1450"]),
    ("network-bad-prefix", "e", ["vxlab_vnode_network=10.99.0.0/33"], ["vxlab_vnode_network='10.99.0.0/33'"]),
    ("network-not-cidr", "e", ["vxlab_vnode_network=everything"], ["vxlab_vnode_network='everything'"]),
    ("network-host-bits", "e", ["vxlab_vnode_network=10.99.0.1/16"], ["vxlab_vnode_network='10.99.0.1/16'", "did you mean 10.99.0.0/16"]),
    ("networks-overlap", "e", ["vxlab_vnode_network=10.250.0.0/16"], ["vxlab_vnode_network='10.250.0.0/16'", "overlaps"]),
    ("platform-space", "e", ["vxlab_platform=my lab"], ["vxlab_platform='my lab'"]),
    ("platform-slash", "e", ["vxlab_platform=a/b"], ["vxlab_platform='a/b'"]),
    ("platform-shell", "e", ["vxlab_platform=x;touch /tmp/pwned"], ["vxlab_platform='x;touch /tmp/pwned'"]),
    ("platform-too-long", "e", ["vxlab_platform=abcdefghijklm"], ["vxlab_platform='abcdefghijklm'", "too long"]),
    ("unknown-key-hint", "e", ["vxlab_vnis=3"], ["vxlab_vnis=3", "did you mean vxlab_vni"]),
    ("vxlan-mode", "e", ["vxlab_vxlan_mode=broadcast"], ["vxlab_vxlan_mode='broadcast'"]),
    ("vxlan-port", "e", ["vxlab_vxlan_port=70000"], ["vxlab_vxlan_port=70000"]),
    ("state-dir-relative", "e", ["vxlab_state_dir=var/lib"], ["vxlab_state_dir='var/lib'"]),
    ("ssh-key-shell", "e", ["vxlab_ssh_key=/root/k;rm -rf /"], ["vxlab_ssh_key='/root/k;rm -rf /'"]),
    ("gateway-unknown", "e", ["vxlab_gateway_pnode=%s-p9" % NAME], ["vxlab_gateway_pnode='%s-p9'" % NAME, "did you mean"]),
    ("gc-thresh-order", "e", ["vxlab_gc_thresh1=5000", "vxlab_gc_thresh3=1024"], ["vxlab_gc_thresh3=1024"]),
    ("control-access", "e", ["vxlab_control_access=telnet"], ["vxlab_control_access='telnet'"]),
    ("rate-malformed", "e", ['vxlab_link_defaults={"rate": "fast"}'], ["vxlab_link_defaults.rate='fast'"]),
    ("delay-malformed", "e", ['vxlab_link_defaults={"delay": "10 parsecs"}'], ["vxlab_link_defaults.delay='10 parsecs'"]),
    ("loss-out-of-range", "e", ['vxlab_links=[{"vnodes": "%s-1", "loss": "200%%"}]' % NAME], ["vxlab_links[0].loss='200%'"]),
    # emulated topologies (vxlab_networks, vxlab_vnode_groups, vxlab_routes)
    ("group-unknown-network", "e", [NETS, 'vxlab_vnode_groups=[{"name": "g", "vnodes": "%s-1", "networks": ["mars"]}]'
                                    % NAME], ["vxlab_vnode_groups[g].networks=[\"mars\"]", "not in vxlab_networks"]),
    ("networks-overlap", "e", ['vxlab_networks=[{"name": "a", "cidr": "172.31.240.0/22"}, '
                               '{"name": "b", "cidr": "172.31.241.0/24"}]'],
     ["vxlab_networks[b].cidr='172.31.241.0/24'", "overlaps network a"]),
    ("network-overlaps-management", "e", ['vxlab_networks=[{"name": "a", "cidr": "%s"}]' % NETWORK],
     ["vxlab_networks[a].cidr='%s'" % NETWORK, "overlaps the management network"]),
    ("router-one-network", "e", [NETS, 'vxlab_vnode_groups=[{"name": "r", "vnodes": "%s-1", "networks": ["a"], '
                                 '"router": true}]' % NAME], ["vxlab_vnode_groups[r].router=true", "two networks"]),
    ("group-selects-nobody", "e", [NETS, 'vxlab_vnode_groups=[{"name": "g", "networks": ["a"]}]'],
     ["vxlab_vnode_groups[g]=", "selects nobody"]),
    ("group-unknown-vnode", "e", [NETS, 'vxlab_vnode_groups=[{"name": "g", "vnodes": "%s-99", "networks": ["a"]}]'
                                  % NAME], ["vxlab_vnode_groups[g].vnodes='%s-99'" % NAME, "not a vnode"]),
    ("network-vni-twice", "e", ['vxlab_networks=[{"name": "a", "cidr": "172.31.240.0/24", "vni": 7000}, '
                                '{"name": "b", "cidr": "172.31.241.0/24", "vni": 7000}]'],
     ["vxlab_networks[b].vni=7000", "already the VNI of network a"]),
    ("route-via-not-on-both", "e", [NETS, 'vxlab_vnode_groups=[{"name": "g", "vnodes": "%s-1", "networks": ["a"]}, '
                                    '{"name": "r", "vnodes": "%s-2", "networks": ["a", "b"], "router": true}]'
                                    % (NAME, NAME),
                                    'vxlab_routes=[{"from": "a", "to": "b", "via": "%s-1"}]' % NAME],
     ["vxlab_routes[0].via='%s-1'" % NAME, "must be on both networks a and b"]),
    ("multicast-across-sites", "e", ["vxlab_vxlan_mode=multicast",
                                     'vxlab_underlay_network=["198.51.100.0/25", "198.51.100.128/25"]'],
     ["vxlab_vxlan_mode='multicast'", "cannot span the 2 routed underlay subnets"]),
    # shaping between groups and per-group limits
    ("matrix-unknown-group", "e", [NETS, 'vxlab_vnode_groups=[{"name": "g", "vnodes": "%s-1", "networks": ["a"]}]' % NAME,
                                   'vxlab_link_matrix=[{"from": "g", "to": "mars", "rate": "1mbit"}]'],
     ["vxlab_link_matrix[0].to='mars'", "neither a group nor a data network"]),
    ("matrix-sets-nothing", "e", [NETS, 'vxlab_vnode_groups=[{"name": "g", "vnodes": "%s-1", "networks": ["a"]}]' % NAME,
                                  'vxlab_link_matrix=[{"from": "g", "to": "a"}]'], ["vxlab_link_matrix[0]=", "sets nothing"]),
    ("group-cpu-on-netns", "e", ['vxlab_vnode_groups=[{"name": "slow", "vnodes": "%s-1", "cpu": 0.25}]' % NAME],
     ["vxlab_vnode_groups[slow].cpu=0.25", "need vxlab_vnode_kind: lxc"]),
    ("pnode-vnodes-type", "host", {"vxlab_vnodes": "many"}, ["vxlab_vnodes='many' on pnode %s" % P1]),
    ("pnode-underlay-unsafe", "host", {"vxlab_underlay_interface": "ib0 x"}, ["vxlab_underlay_interface='ib0 x' on pnode %s" % P1]),
    ("pnode-underlay-missing", "host", {"vxlab_underlay_interface": "ib9"}, ["vxlab_underlay_interface=ib9 on pnode %s" % P1, "no such interface"]),
    ("duplicate-vtep", "host", {"vxlab_underlay_address": "@p2"}, ["vxlab_underlay_address='@p2'", "already the underlay address"]),
    ("pnode-vtep-not-ipv4", "host", {"vxlab_underlay_address": "10.250.0.300"}, ["vxlab_underlay_address='10.250.0.300' on pnode %s" % P1]),
    ("trace-unknown-action", "trace", "- {at: 0, target: %s-1, action: explode}\n" % NAME, ["action='explode'", "unknown action"]),
    ("trace-negative-time", "trace", "- {at: -3, target: %s-1, action: down}\n" % NAME, ["at=-3"]),
    ("trace-unknown-target", "trace", "- {at: 0, target: %s-77, action: down}\n" % NAME, ["target='%s-77'" % NAME, "not a vnode"]),
    ("trace-bad-rate", "trace", "- {at: 0, target: %s-1, action: degrade, rate: lots}\n" % NAME, ["rate='lots'"]),
    ("playbook-vni", "playbook", ["vxlab_vni=0"], ["vxlab_vni=0", "between 1 and 16777215"]),
    ("playbook-unknown-key", "playbook", ["vxlab_mtuu=1400"], ["vxlab_mtuu=", "1400", "did you mean vxlab_mtu"]),
]


#: refused by the deploy playbook's first look at the pnodes (what only a pnode can tell), not by
#: the CLI's validation of the plan
SEEN_BY_ANSIBLE = ("pnode-underlay-missing", "mtu-over-underlay")


@pytest.fixture(scope="module")
def before(bed):
    return snapshot(bed)


@pytest.mark.parametrize("case, how, value, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_refused_and_nothing_changed(bed, before, tmp_path, case, how, value, expected):
    inv = bed["inventory"]
    p2 = bed["pnodes"][1]["address"]
    if value == {"vxlab_underlay_address": "@p2"}:  # the other pnode's VTEP address
        value = {"vxlab_underlay_address": p2}
        expected = [e.replace("@p2", p2) for e in expected]
    if how == "e":
        argv = [VXLAB, "deploy", "-i", inv]
        for item in value:
            argv += ["-e", item]
    elif how == "host":
        argv = [VXLAB, "deploy", "-i", inv, "-i", host_vars_file(tmp_path, P1, value)]
    elif how == "trace":
        argv = [VXLAB, "fault", "-i", inv, "trace", trace_file(tmp_path, value)]
    else:
        argv = [os.path.join(BIN, "ansible-playbook"), "-i", inv, "playbooks/deploy.yml"]
        for item in value:
            argv += ["-e", item]
    proc = run(argv)
    assert proc.returncode != 0, proc.stdout[-2000:]
    if how in ("e", "trace", "host") and case not in SEEN_BY_ANSIBLE:
        # refused before Ansible starts: exit 2, one line on stderr, nothing on stdout
        assert proc.returncode == 2, (proc.stdout[-1000:], proc.stderr[-1000:])
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        message = lines[0]
    else:
        out = proc.stdout + proc.stderr
        errors = [ln for ln in out.splitlines() if any(e in ln for e in expected[:1])]
        assert errors, out[-3000:]
        message = out
    for e in expected:
        assert e in message, (e, message)
    assert snapshot(bed) == before
