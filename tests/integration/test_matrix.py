"""Shaping between groups on the testbed (root): vxlab_link_matrix measured with iperf3.

3 pnodes x 2 netns vnodes on one data network; groups ga, gb, gc = the vnodes of p1, p2, p3.
ga -> gc at 20 mbit and gb -> gc at 5 mbit (symmetric): iperf3 measures each within 10 %, the
reverse of the symmetric entry too, and the unshaped pair ga -> gb much faster; a changed entry
is measured again; a re-run changes nothing; without the matrix the trees are gone; `vxlab check
--fidelity` passes, and fails once its qdisc is removed by hand behind vxlab's back; destroy
leaves nothing of the platform.
"""
import json
import os
import subprocess

import pytest
from cli_testbed import ROOT_MARKS, json_of, unique_bed_name, unique_bed_network, up_testbed, vxlab_run

pytestmark = ROOT_MARKS
NAME = unique_bed_name("m")
NETWORK = unique_bed_network(45)
DATA = "172.27.%d.0/24" % (os.getpid() % 200)


def matrix_vars(a_to_c="20mbit", matrix=True):
    groups = [{"name": g, "pnodes": ["%s-p%d" % (NAME, i)], "networks": ["d"]} for i, g in enumerate(("ga", "gb", "gc"), 1)]
    out = {"vxlab_vnode_kind": "netns", "vxlab_networks": [{"name": "d", "cidr": DATA}], "vxlab_vnode_groups": groups}
    if matrix:
        out["vxlab_link_matrix"] = [{"from": "ga", "to": "gc", "rate": a_to_c},
                                    {"from": "gb", "to": "gc", "rate": "5mbit", "symmetric": True}]
    args = []
    for k, v in out.items():
        args += ["-e", "%s=%s" % (k, json.dumps(v) if not isinstance(v, str) else v)]
    return args


@pytest.fixture(scope="module")
def bed():
    def destroy(info):
        vxlab_run("destroy", "-i", info["inventory"], "-q", *matrix_vars())

    with up_testbed(NAME, 3, NETWORK, "-e", "vxlab_vnodes_per_pnode=2", before_down=destroy) as info:
        yield info


def data_address(plan, n):
    v = [x for x in plan["vnodes"] if x["name"] == "%s-%d" % (NAME, n)][0]
    return [i["address"] for i in v["interfaces"] if i["network"] == "d"][0]


def ssh(state, n, command, timeout=60):
    return subprocess.run(["ssh", "-F", os.path.join(state, "ssh_config"), "-o", "BatchMode=yes", "-T",
                           "%s-%d" % (NAME, n), "--", command], text=True, capture_output=True, timeout=timeout,
                          check=False)


def throughput(state, plan, src, dst, port=5201):
    """iperf3 from vnode src to vnode dst's data address (Mbit/s, received)."""
    server = ssh(state, dst, "iperf3 -s -1 -D -p %d" % port)
    assert server.returncode == 0, server.stderr
    proc = ssh(state, src, "iperf3 -c %s -p %d -t 4 -J" % (data_address(plan, dst), port), timeout=120)
    assert proc.returncode == 0, proc.stdout[-1000:] + proc.stderr
    return json.loads(proc.stdout)["end"]["sum_received"]["bits_per_second"] / 1e6


def pnode_changes(doc):
    return {h: v["changed"] for h, v in doc["hosts"].items() if h != "localhost"}


def test_matrix_rates_measured_changed_and_removed(bed):
    inv = bed["inventory"]
    ev = matrix_vars()
    plan = json_of(vxlab_run("plan", "-i", inv, "--json", *ev))
    assert [(e["from"], e["to"], e["settings"]) for e in plan["link_matrix"]] == [
        ("ga", "gc", {"rate": 20000000}), ("gb", "gc", {"rate": 5000000}), ("gc", "gb", {"rate": 5000000})]
    first = json_of(vxlab_run("deploy", "-i", inv, "--json", "-q", *ev))
    assert first["ok"]
    state = first["artifacts"]
    assert set(pnode_changes(json_of(vxlab_run("deploy", "-i", inv, "--json", "-q", *ev))).values()) == {0}

    a_c = throughput(state, plan, 1, 5)
    b_c = throughput(state, plan, 3, 6)
    c_b = throughput(state, plan, 6, 4)  # the symmetric entry's reverse
    a_b = throughput(state, plan, 2, 3)  # no entry: unshaped
    print("ga->gc %.1f, gb->gc %.1f, gc->gb %.1f, ga->gb %.1f Mbit/s" % (a_c, b_c, c_b, a_b))
    assert 18.0 <= a_c <= 22.0 and 4.5 <= b_c <= 5.5 and 4.5 <= c_b <= 5.5
    assert a_b > 10 * 22.0

    fidelity = vxlab_run("check", "-i", inv, "--fidelity", "--json", "-q", *ev, timeout=600)
    assert fidelity.returncode == 0, fidelity.stdout[-2000:] + fidelity.stderr[-2000:]
    report = json.loads(fidelity.stdout)["fidelity"]
    assert report["ok"] and {(e["from"], e["to"]) for e in report["entries"]} == {("ga", "gc"), ("gb", "gc"), ("gc", "gb")}
    assert os.path.exists(report["json"]) and os.path.exists(report["markdown"])

    # one entry changed: re-measured at its new rate; only its class is rewritten
    ten = matrix_vars(a_to_c="10mbit")
    changed = json_of(vxlab_run("deploy", "-i", inv, "--json", "-q", *ten))
    assert pnode_changes(changed)["%s-p1" % NAME] == 1 and pnode_changes(changed)["%s-p3" % NAME] == 0
    assert 9.0 <= throughput(state, plan, 1, 5) <= 11.0

    # behind vxlab's back: the qdisc of gb -> gc removed by hand; the fidelity check sees it
    gone = ssh(state, 3, "tc qdisc del dev eth1 root")
    assert gone.returncode == 0, gone.stderr
    bad = vxlab_run("check", "-i", inv, "--fidelity", "--json", "-q", *ten, timeout=600)
    assert bad.returncode == 1, bad.stdout[-2000:] + bad.stderr[-2000:]
    failed = [e for e in json.loads(bad.stdout)["fidelity"]["entries"] if not e["ok"]]
    assert [(e["from"], e["to"]) for e in failed] == [("gb", "gc")]
    # and the next deploy repairs it
    assert json_of(vxlab_run("deploy", "-i", inv, "--json", "-q", *ten))["ok"]
    assert 4.5 <= throughput(state, plan, 3, 6) <= 5.5

    # without the matrix: no tree of ours is left, the pair is unshaped
    plain = matrix_vars(matrix=False)
    assert json_of(vxlab_run("deploy", "-i", inv, "--json", "-q", *plain))["ok"]
    assert "7a3:" not in ssh(state, 1, "tc qdisc show dev eth1").stdout
    assert throughput(state, plan, 1, 5) > 10 * 22.0
    assert json_of(vxlab_run("destroy", "-i", inv, "--json", "-q", *plain))["ok"]
