"""The deploy's read of a pnode before any change: the constant program run for real with this
interpreter (interface names arrive on its standard input), and the refusal derived from it."""
from __future__ import absolute_import, division, print_function

import json
import subprocess
import sys

from ansible_collections.vxlab.emulation.plugins.module_utils._plan import preflight


def run_script(ifname, python=sys.executable):
    part = {"underlay_interface": ifname}
    proc = subprocess.run([python, "-c", preflight.SCRIPT], input=preflight.script_input(part),
                          capture_output=True, text=True, check=False)
    return preflight.parse(proc.returncode, proc.stdout, proc.stderr, python, "pn1")


def part(mtu=1450, networks=()):
    return {"underlay_interface": "ib0", "mtu": mtu, "vxlan_overhead": 50,
            "networks": [{"name": n, "mtu": m} for n, m in networks]}


def test_script_reads_the_interface_and_pyroute2():
    observed, why = run_script("lo")
    assert why == "" and observed["mtu"] == int(open("/sys/class/net/lo/mtu").read())
    assert observed["pyroute2"] is True  # the project's interpreter has it
    observed, why = run_script("nope0")
    assert why == "" and observed == {"mtu": None, "pyroute2": True, "missing": []}


def run_programs(programs, python=sys.executable):
    proc = subprocess.run([python, "-c", preflight.SCRIPT], capture_output=True, text=True, check=False,
                          input=json.dumps({"underlay_interface": "lo", "programs": programs}))
    return preflight.parse(proc.returncode, proc.stdout, proc.stderr, python, "pn1")[0]


def test_script_names_the_missing_programs():
    observed = run_programs(["sh", "vxlab-no-such-program", "ip"])
    assert observed["missing"] == ["vxlab-no-such-program"]
    assert not preflight.ready(observed)
    assert preflight.ready(run_programs(["sh", "ip"]))
    assert not preflight.ready({"mtu": 1500, "pyroute2": False, "missing": []})


def test_the_programs_follow_the_vnode_kind():
    assert preflight.programs({"vnode_kind": "netns"}) == ["ip", "sshd", "ping"]
    assert preflight.programs({"vnode_kind": "lxc"}) == ["ip", "sshd", "ping", "lxc-start", "lxc-info"]
    assert json.loads(preflight.script_input({"underlay_interface": "ib0", "vnode_kind": "netns"})) == {
        "underlay_interface": "ib0", "programs": ["ip", "sshd", "ping"]}


def test_a_name_with_shell_characters_is_only_data():
    observed, why = run_script("x; touch /tmp/vxlab-preflight-pwned #")
    assert why == "" and observed["mtu"] is None


def test_a_missing_interpreter_is_named():
    # as the remote shell runs it: the interpreter's path is quoted, the program is a constant
    proc = subprocess.run(["sh", "-c", '"$0" -c "$1"', "/nonexistent/python3", preflight.SCRIPT],
                          input="{}", capture_output=True, text=True, check=False)
    observed, why = preflight.parse(proc.returncode, proc.stdout, proc.stderr, "/nonexistent/python3", "pn1")
    assert observed is None and why.startswith("pnode pn1: /nonexistent/python3 failed: ")
    assert "not found" in why


def test_refusals_name_the_variable_value_and_bound():
    assert preflight.refusal(part(), {"mtu": 1500, "pyroute2": True}, "pn1") == ""
    assert preflight.refusal(part(), {"mtu": None, "pyroute2": True}, "pn1") == (
        "vxlab_underlay_interface=ib0 on pnode pn1: no such interface")
    assert preflight.refusal(part(mtu=1480), {"mtu": 1500}, "pn1") == (
        "vxlab_mtu=1480: too large for the underlay of pnode pn1 (ib0 has MTU 1500; VXLAN over IPv4 "
        "adds 50 bytes, so vxlab_mtu can be at most 1450)")
    assert preflight.refusal(part(networks=[("front", 1400), ("back", 1460)]), {"mtu": 1500}, "pn1") == (
        "vxlab_networks[back].mtu=1460: too large for the underlay of pnode pn1 (ib0 has MTU 1500; at most 1450)")


def test_unparsable_output_is_a_refusal():
    assert preflight.parse(0, "not json", "", "/usr/bin/python3", "pn2") == (
        None, "pnode pn2: /usr/bin/python3 failed: not json")
    assert preflight.parse(1, "", "Traceback ...\n", "/usr/bin/python3", "pn2")[1].endswith("failed: Traceback ...")
