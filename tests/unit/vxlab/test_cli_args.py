"""The vxlab command: argument handling, --json on stdout, exit status (0 ok, 1 failed, 2 bad
input with a one-line message and no traceback). Runs the installed console script."""
import json
import os
import subprocess

import pytest

from vxlab_test_helpers import VENV_BIN, write

VXLAB = os.path.join(VENV_BIN, "vxlab")


def run(*args, **kw):
    return subprocess.run([VXLAB] + list(args), text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120, check=False, **kw)


def test_plan_human_and_json(ini_inventory):
    proc = run("plan", "-i", ini_inventory)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("platform demo: 2 pnodes, 9 vnodes, network 10.144.0.0/16")
    assert "p2" in lines[1] and "192.168.50.12" in lines[1] and "10.144.0.2-10.144.0.5" in lines[1]
    assert "demo-6..demo-10" in lines[2]
    assert lines[-1] == "total: 9 vnodes on 2 pnodes"
    proc = run("plan", "-i", ini_inventory, "--json", "-e", "vxlab_vnodes_per_pnode=2")
    data = json.loads(proc.stdout)
    assert data["platform"]["vnodes"] == 7 and [p["name"] for p in data["pnodes"]] == ["p2", "p1"]


def test_repeated_inventory_and_extra_vars_file(tmp_path, yaml_inventory):
    more = write(str(tmp_path / "m" / "more.yml"), "pnodes:\n  vars:\n    vxlab_mtu: 1300\n")
    ev = write(str(tmp_path / "ev.yml"), "vxlab_vni: 77\n")
    proc = run("plan", "-i", yaml_inventory, "-i", more, "-e", "@" + ev, "--json")
    data = json.loads(proc.stdout)
    assert (data["platform"]["mtu"], data["platform"]["vni"]) == (1300, 77)


@pytest.mark.parametrize("args,needle", [
    (["-e", "vxlab_vnodes_per_pnode=lots"], "vxlab_vnodes_per_pnode='lots': must be an integer"),
    (["-e", "vxlab_platfrom=x"], "did you mean vxlab_platform?"),
    (["-e", "novalue"], "must be KEY=VALUE"),
])
def test_bad_input_exits_2_with_one_line(ini_inventory, args, needle):
    proc = run("plan", "-i", ini_inventory, *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_bad_inventory_exits_2(tmp_path):
    proc = run("plan", "-i", str(tmp_path / "BAD"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "vxlab plan: invalid platform: inventory=%r: does not exist" % str(
        tmp_path / "BAD")
    empty = write(str(tmp_path / "e" / "hosts.ini"), "[web]\nw1\n")
    proc = run("deploy", "-i", empty, "--json")
    assert proc.returncode == 2 and "no group 'pnodes'" in proc.stderr and proc.stdout == ""


def test_usage_errors_exit_2():
    assert run().returncode == 2
    assert run("plan").returncode == 2  # -i is required
    assert run("testbed").returncode == 2
    assert run("nonsense").returncode == 2
    assert run("--version").stdout.startswith("vxlab ")


def test_render_json(tmp_path, ini_inventory):
    proc = run("render", "-i", ini_inventory, "-o", str(tmp_path / "out"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] and data["platform"] == "demo"
    assert str(tmp_path / "out" / "ssh_config") in data["files"]


def test_run_failure_exits_1_and_json_result(tmp_path):
    """`vxlab run` over a playbook that fails on one host: exit 1, result on stdout, progress on
    stderr."""
    python = os.path.join(VENV_BIN, "python")
    pb = write(str(tmp_path / "f.yml"), """
        - hosts: all
          gather_facts: false
          tasks:
            - name: fail on b
              ansible.builtin.fail: {msg: nope}
              when: inventory_hostname == 'b'
        """)
    inv = write(str(tmp_path / "l.ini"), "a ansible_connection=local ansible_python_interpreter=%s\n"
                "b ansible_connection=local ansible_python_interpreter=%s\n" % (python, python))
    proc = run("run", "-i", inv, pb, "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["hosts"]["b"]["failures"] == [{"task": "fail on b", "msg": "nope"}]
    assert "[f] TASK fail on b" in proc.stderr
    proc = run("run", "-i", inv, pb, "--limit", "a", "-q")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "f.yml: ok" in proc.stdout


def test_check_failure_exits_1(tmp_path):
    inv = write(str(tmp_path / "inv" / "hosts.yml"), """
        pnodes:
          vars: {vxlab_platform: lo, vxlab_vnodes_per_pnode: 1, vxlab_control_access: route,
                 vxlab_vnode_network: 127.78.0.0/24, vxlab_ssh_key: /nonexistent/key}
          hosts:
            q1: {ansible_host: 127.0.0.21}
        """)
    proc = run("check", "-i", inv, "--sample", "1", "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["ok"] is False and data["ssh"]["failed"] == ["lo-1"]
