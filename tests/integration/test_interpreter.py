"""The modules' interpreter on a pnode without ``ansible_python_interpreter`` (root).

A pnode prepared by ``pnode_prepare`` has pyroute2 in a venv, not in its system Python. Where the
inventory names no interpreter, every playbook must find that venv on every run (a ``set_fact``
lasts one run): Ansible's discovery takes the first existing entry of
``ansible_interpreter_python_fallback``, which ``playbooks/group_vars/all.yml`` starts with
pnode_prepare's venv. Here the testbed's inventory is stripped of its interpreter and the list
given starts with a path that does not exist, then the checkout's venv (it has pyroute2; the
system Python of this machine has not): the deploy's preflight reports that interpreter and finds
pyroute2 (so nothing is installed), the data plane runs with it, a re-run changes nothing and
destroy runs with it too.
"""
import json
import os

import pytest
from cli_testbed import BIN, ROOT_MARKS, json_of, unique_bed_name, unique_bed_network, up_testbed, vxlab_run

from vxlab import api

pytestmark = ROOT_MARKS
NAME = unique_bed_name("i")
NETWORK = unique_bed_network(53)
PYTHON = os.path.join(BIN, "python")
PREFLIGHT = "Keep this pnode's part of the plan, read its underlay MTU and look for pyroute2"


@pytest.fixture(scope="module")
def stripped():
    """The testbed's inventory without ``ansible_python_interpreter``; its path."""
    def destroy(info):
        vxlab_run("destroy", "-i", info["inventory"], "-q", "-e", "vxlab_vnode_kind=netns")

    with up_testbed(NAME, 1, NETWORK, "-e", "vxlab_vnodes_per_pnode=2", before_down=destroy) as info:
        path = os.path.join(os.path.dirname(info["inventory"]), "no-interpreter.yml")
        with open(info["inventory"]) as f, open(path, "w") as out:
            out.writelines(line for line in f if "ansible_python_interpreter" not in line)
        yield path


def test_a_pnode_without_an_interpreter_uses_the_venv_found_first_on_every_run(stripped):
    assert "ansible_python_interpreter" not in open(stripped).read()
    extra = {"vxlab_vnode_kind": "netns", "ansible_interpreter_python_fallback": ["/nonexistent/bin/python", PYTHON]}
    pnode = "%s-p1" % NAME
    for run, want_changed in ((1, True), (2, False)):
        result = api.run_playbook("deploy", stripped, extra_vars=extra, quiet=True, capture=(PREFLIGHT,))
        assert result.ok, (result.hosts, result.messages)
        facts = result.captured[pnode][0]["ansible_facts"]
        assert facts["vxlab_preflight"]["python"] == PYTHON, (run, facts["vxlab_preflight"])
        assert facts["vxlab_preflight"]["pyroute2"] is True
        assert facts["discovered_interpreter_python"] == PYTHON
        assert bool(result.hosts[pnode]["changed"]) is want_changed, (run, result.hosts[pnode])
    proc = vxlab_run("destroy", "-i", stripped, "--json", "-q", "-e", "vxlab_vnode_kind=netns",
                     "-e", "ansible_interpreter_python_fallback=" + json.dumps(extra["ansible_interpreter_python_fallback"]))
    doc = json_of(proc)
    assert doc["ok"] and doc["hosts"][pnode]["changed"] >= 1
