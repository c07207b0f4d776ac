"""The example inventories shipped in inventories/: each one is a platform `vxlab plan` accepts."""
import os
import subprocess

import pytest

import vxlab
from vxlab.inventory import load_plan

from vxlab_test_helpers import VENV_BIN

#: the tracked examples (testbeds write git-ignored inventories beside them)
EXAMPLES = sorted(subprocess.run(["git", "ls-files", "inventories/*/hosts.yml"], cwd=vxlab.REPO,
                                 text=True, stdout=subprocess.PIPE, check=False).stdout.split())


def test_the_examples_are_there():
    assert {os.path.basename(os.path.dirname(p)) for p in EXAMPLES} >= {
        "paper-39852", "g5k-nancy", "g5k-shaped"}


@pytest.mark.parametrize("example", EXAMPLES)
def test_vxlab_plan_accepts_every_example(example):
    proc = subprocess.run([os.path.join(VENV_BIN, "vxlab"), "plan", "-i", example, "-q"],
                          cwd=vxlab.REPO, text=True, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "total:" in proc.stdout


def test_the_papers_platform():
    plan = load_plan([os.path.join(vxlab.REPO, "inventories", "paper-39852", "hosts.yml")])
    s = plan.spec
    assert (len(s.pnodes), s.total_vnodes, s.vnode_network) == (162, 39852, "10.128.0.0/15")
    assert {p.vnodes for p in s.pnodes} == {246}
    assert {p.underlay_interface for p in s.pnodes} == {"ib0"}


def test_the_small_cluster_keeps_its_overrides():
    plan = load_plan([os.path.join(vxlab.REPO, "inventories", "g5k-nancy", "hosts.yml")])
    by = {p.name: p for p in plan.spec.pnodes}
    assert by["graphene-2"].vnodes == 100 and by["graphene-1"].vnodes == 246
    assert by["graphene-3"].vtep == "172.18.64.3"
