"""The reference experiment on a one-machine testbed (root), kept lean (3 pnodes x 8 LXC vnodes,
small sizes; the full 3 x 30, sizes 10/30/60/90, four methods run is ``bench/bench_experiment.py
--done-when``): every row valid with all four methods, TakTuk's tree included (its inner vnodes
are containers that run the connector with the platform's client files, bind-mounted read-only),
and a report whose fit is in it; a vnode killed (its host-side veth set down on its pnode) and,
separately, a whole pnode killed (its ib0 down) during the run: the run completes, the dead
nodes are listed as discarded, no recorded row is lost; an interrupted run resumed without
repeating recorded rows. The client files: key 0600, read-only in a container, removed by
destroy. The testbed is removed even on failure.
"""
import os
import stat
import subprocess

import pytest
from cli_testbed import ROOT_MARKS, json_of, unique_bed_name, unique_bed_network, vxlab_run

pytestmark = ROOT_MARKS
NAME = unique_bed_name("e")
NETWORK = unique_bed_network(0, first=224, count=16)
PER = 8


def run(*args, timeout=900):
    return vxlab_run(*args, timeout=timeout)


_json = json_of


@pytest.fixture(scope="module")
def bed():
    info = None
    try:
        info = _json(run("testbed", "up", "--name", NAME, "--pnodes", "3", "-e",
                         "vxlab_vnodes_per_pnode=%d" % PER, "-e", "vxlab_vnode_network=" + NETWORK,
                         "-e", "vxlab_vnode_kind=lxc",
                         "--json"))
        _json(run("deploy", "-i", info["inventory"], "--json", "-q"))
        yield info
    finally:
        client = None
        if info is not None:
            client = _plan(info).client_dir
            run("destroy", "-i", info["inventory"], "-q")
        proc = run("testbed", "down", "--name", NAME, "-q")
        assert proc.returncode == 0, proc.stderr
        assert client is None or not os.path.exists(client)  # destroy removed the client files


def _plan(info):
    from vxlab.inventory import load

    return load([info["inventory"]]).plan


def _ssh(bed, host, command):
    from vxlab.inventory import load

    loaded = load([bed["inventory"]])
    return subprocess.run(["ssh", "-F", os.path.join(loaded.state_dir, "ssh_config"), host, command],
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                          check=False)


def _pnode_netns(pnode):
    return "vt-%s" % pnode  # the testbed's pnode namespace (vxlab/testbed.py)


def _ip(*args):
    subprocess.run(["ip"] + list(args), check=True, stdout=subprocess.DEVNULL)


def _rows(out):
    from vxlab.experiment import read_records

    return read_records(os.path.join(str(out), "results.jsonl"))


def _experiment(bed, out, **kw):
    from vxlab.experiment import Experiment

    kw.setdefault("progress", print)
    return Experiment([bed["inventory"]], str(out), **kw)


def test_experiment_report_and_a_dead_vnode(bed, tmp_path):
    from vxlab.experiment import choose

    killed = {}

    def kill_one(exp, n, rep):
        if (n, rep) == (8, 1) and not killed:
            victim = choose(exp.order, n, exp.discarded)[2]
            pnode = exp.vnode_pnode[victim]
            _ip("-n", _pnode_netns(pnode), "link", "set", victim, "down")  # host_if = name
            killed[victim] = pnode

    exp = _experiment(bed, tmp_path, sizes="4,8,12", repeat=2,
                      methods="clush,taktuk2,taktuk3,ansible", hooks={"before_iteration": kill_one})
    try:
        summary = exp.run()
    finally:
        for victim, pnode in killed.items():
            _ip("-n", _pnode_netns(pnode), "link", "set", victim, "up")
    assert summary["ok"], summary["missing"]
    assert summary["valid_rows"] == summary["expected_rows"] == 24
    victim = list(killed)[0]
    assert [d["node"] for d in summary["discarded"]] == [victim]
    assert summary["discarded"][0]["reason"].startswith("ssh probe failed")
    rows = [r for r in _rows(tmp_path) if r["type"] == "measurement"]
    assert all(victim not in r["failed_nodes"] for r in rows)
    assert {(r["n"], r["rep"], r["method"]) for r in rows if r["valid"]} == \
        {(n, rep, m) for n in (4, 8, 12) for rep in (1, 2)
         for m in ("clush", "taktuk2", "taktuk3", "ansible")}

    proc = run("report", str(tmp_path), "--json")
    rep = _json(proc)
    text = open(rep["report"]).read()
    for m in ("clush", "taktuk2", "taktuk3", "ansible"):
        f = rep["fits"][m]
        assert "%.6f" % f["A"] in text and "%.4f" % f["B"] in text and "%.4f" % f["C"] in text
    assert victim in text and "natural logarithm" in text
    png = os.path.join(str(tmp_path), "experiment.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.exists(os.path.join(str(tmp_path), "experiment.svg"))


def test_client_files_key_0600_and_read_only_in_a_container(bed):
    plan = _plan(bed)
    d = plan.client_dir
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(d, "id_platform")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(d, "ssh_config")).st_mode) == 0o644
    first, last = plan.vnodes_of(plan.pnodes[0].name)[0], plan.vnodes_of(plan.pnodes[-1].name)[-1]
    # in an LXC vnode: the same path, the key still 0600, nothing writable, ssh to another pnode's vnode
    cfg = os.path.join(d, "ssh_config")
    proc = _ssh(bed, first["name"], "stat -c %%a %s/id_platform; touch %s/x; ssh -F %s %s hostname"
                % (d, d, cfg, last["name"]))
    lines = proc.stdout.splitlines()
    assert lines[0] == "600" and "Read-only file system" in lines[1], proc.stdout
    assert lines[-1] == last["name"] and proc.returncode == 0, proc.stdout
    assert not os.path.exists(os.path.join(d, "x"))


def test_dead_pnode_then_interrupt_and_resume(bed, tmp_path):
    state = {"measures": 0, "down": None}

    def kill_pnode(exp, n, rep, method):
        state["measures"] += 1
        if (n, rep, method) == (8, 1, "taktuk2") and state["down"] is None:
            victim = [p for p in exp.plan.pnodes if p.name != exp.launcher][-1].name
            _ip("-n", _pnode_netns(victim), "link", "set", "ib0", "down")
            state["down"] = victim
        if state["measures"] == 9:
            raise KeyboardInterrupt  # an interruption in the middle of the run

    exp = _experiment(bed, tmp_path, sizes="4,8,12", repeat=2, methods="clush,taktuk2",
                      hooks={"before_measure": kill_pnode})
    try:
        with pytest.raises(KeyboardInterrupt):
            exp.run()
        before = open(os.path.join(str(tmp_path), "results.jsonl")).read()
        valid_before = [r for r in _rows(tmp_path) if r.get("valid")]
        assert len(valid_before) >= 4
        dead = state["down"]
        discarded = [r for r in _rows(tmp_path) if r["type"] == "discard"]
        assert {d["pnode"] for d in discarded} == {dead}
        assert len(discarded) == PER  # every vnode of the dead pnode
        assert all(d["reason"].startswith("pnode %s unreachable" % dead) for d in discarded)

        # resume: the recorded rows stay as they are and are not measured again
        summary = _experiment(bed, tmp_path, sizes="4,8,12", repeat=2, methods="clush,taktuk2",
                              resume=True).run()
    finally:
        if state["down"]:
            _ip("-n", _pnode_netns(state["down"]), "link", "set", "ib0", "up")
    after = open(os.path.join(str(tmp_path), "results.jsonl")).read()
    assert after.startswith(before)
    assert summary["ok"] and summary["valid_rows"] == 12
    keys = [(r["n"], r["rep"], r["method"]) for r in _rows(tmp_path) if r.get("valid")]
    assert len(keys) == len(set(keys)) == 12  # nothing measured twice
    assert summary["measurements_this_run"]["valid"] == 12 - len(valid_before)
    later = [r for r in _rows(tmp_path) if r["type"] == "measurement"][len(valid_before):]
    assert all(state["down"] not in r["per_pnode"] for r in later if r["valid"])
    # a second resume has nothing left to do
    again = _experiment(bed, tmp_path, sizes="4,8,12", repeat=2, methods="clush,taktuk2",
                        resume=True).run()
    assert again["measurements_this_run"]["measured"] == 0
    # without --resume the directory is refused
    proc = run("experiment", "-i", bed["inventory"], "--sizes", "4", "--repeat", "1",
               "--out", str(tmp_path))
    assert proc.returncode == 2 and "--resume" in proc.stderr
