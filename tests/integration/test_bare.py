"""Bare pnodes (root): `vxlab testbed up --bare` makes pnodes with their own minimal Debian root
(python3 and sshd; no iproute2 tools, no LXC, no ping, no venv, no pyroute2) and no route off the
machine; the first deploy prepares them from the machine's local package source, as on an
air-gapped cluster.

The sequence, on one 2-pnode testbed: the pnodes lack what vxlab needs; a bad package source is
named with the step and the pnode and installs nothing; the first deploy installs (apt from the
flat repository, the venv from the wheelhouse) and deploys netns vnodes, `vxlab check` passes;
the second deploy changes nothing and runs no install task; LXC vnodes on the same bare pnodes
(the control host's base image, mounted read-only), `vxlab check` passes; destroy leaves the
pnodes as prepared; `testbed down` removes every process, mount and file of the testbed.
"""
import os
import subprocess

import pytest
from cli_testbed import ROOT_MARKS, json_of, unique_bed_name, unique_bed_network, up_testbed, vxlab_run

from vxlab import api
from vxlab.testbed import processes, system

pytestmark = ROOT_MARKS
NAME = unique_bed_name("b")
NETWORK = unique_bed_network(71)
PER = 3
INSTALL_TASKS = ("Install system packages", "Install pinned Python packages in the pnode venv")
PNODES = ["%s-p1" % NAME, "%s-p2" % NAME]
LXC = ["-e", "vxlab_vnode_kind=lxc"]


def pnode_sh(info, pnode, script):
    """``sh -c SCRIPT`` on a pnode over SSH (a constant script of the test)."""
    return subprocess.run(["ssh", "-F", info["ssh_config"], pnode, script], text=True, capture_output=True,
                          timeout=60, check=False)


@pytest.fixture(scope="module")
def bed():
    def destroy(info):
        for extra in ([], LXC):
            vxlab_run("destroy", "-i", info["inventory"], "-q", *extra)

    with up_testbed(NAME, 2, NETWORK, "--bare", "-e", "vxlab_vnode_kind=netns",
                    "-e", "vxlab_vnodes_per_pnode=%d" % PER, before_down=destroy) as info:
        yield info


def deploy(info):
    return api.run_playbook("deploy", info["inventory"], quiet=True, capture=INSTALL_TASKS)


def test_a_bare_pnode_has_its_own_root_and_lacks_what_vxlab_needs(bed):
    assert bed["bare"] is True
    hosts = open(bed["inventory"]).read()
    assert "ansible_python_interpreter" not in hosts
    for pnode in PNODES:
        proc = pnode_sh(bed, pnode, "for p in ip lxc-start ping; do command -v $p || echo missing $p; done; "
                                    "python3 -c 'import pyroute2' 2>/dev/null || echo missing pyroute2; "
                                    "test -e /opt/vxlab/venv || echo missing venv; "
                                    "awk '$2 == \"00000000\"' /proc/net/route; "
                                    "awk '$2 == \"/\" {print $3}' /proc/mounts; ls /srv/vxlab-source")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        for what in ("ip", "lxc-start", "ping", "pyroute2", "venv"):
            assert "missing %s" % what in lines, proc.stdout
        assert "00000000" not in proc.stdout, "a bare pnode must have no default route: %s" % proc.stdout
        assert "overlay" in lines and "debs" in lines and "wheels" in lines, proc.stdout


def test_a_bad_package_source_is_named_with_the_step_and_the_pnode(bed):
    bad = "deb [trusted=yes] file:/srv/vxlab-source/nowhere ./"
    result = api.run_playbook("deploy", bed["inventory"], extra_vars={"vxlab_pnode_apt_source": bad}, quiet=True)
    assert not result.ok
    for pnode in PNODES:
        msgs = " ".join(f["msg"] for f in result.hosts[pnode]["failures"])
        assert ("pnode_prepare on pnode %s: Read the local package source's index failed" % pnode) in msgs, msgs
        assert bad in msgs, msgs
    proc = pnode_sh(bed, PNODES[0], "command -v ip || echo still-missing")
    assert "still-missing" in proc.stdout  # nothing installed


def test_the_first_deploy_installs_from_the_local_source_then_check_passes(bed):
    result = deploy(bed)
    assert result.ok, (result.hosts, result.messages)
    for pnode in PNODES:
        done = result.captured.get(pnode, [])
        assert len(done) == 2 and all(r.get("changed") for r in done), done
        assert result.hosts[pnode]["changed"] >= 3
    doc = json_of(vxlab_run("check", "-i", bed["inventory"], "--json", "-q"))
    assert doc["ok"] and doc["ssh"]["ok"] == 2 * PER, doc
    proc = pnode_sh(bed, PNODES[1], "/opt/vxlab/venv/bin/python -c 'import pyroute2; print(pyroute2.__version__)'; "
                                    "cat /etc/apt/sources.list.d/vxlab-source.list")
    assert proc.returncode == 0 and "0.9.7" in proc.stdout and "file:/srv/vxlab-source/debs" in proc.stdout, proc


def test_the_second_deploy_changes_nothing_and_installs_nothing(bed):
    result = deploy(bed)
    assert result.ok and result.changed == 0, (result.changed, result.hosts)
    assert not any(result.captured.get(p) for p in PNODES), result.captured


def test_lxc_vnodes_on_bare_pnodes(bed):
    assert vxlab_run("destroy", "-i", bed["inventory"], "-q").returncode == 0
    doc = json_of(vxlab_run("deploy", "-i", bed["inventory"], "--json", "-q", *LXC))
    assert doc["ok"] and doc["changed"] > 0, doc
    doc = json_of(vxlab_run("check", "-i", bed["inventory"], "--json", "-q", *LXC))
    assert doc["ok"] and doc["ssh"]["ok"] == 2 * PER, doc
    proc = pnode_sh(bed, PNODES[0], "lxc-ls --active -P /var/lib/vxlab-testbeds/%s/state/%s/%s-p1/lxc | wc -w"
                    % (NAME, NAME, NAME))
    assert proc.stdout.strip() == str(PER), proc


def test_destroy_leaves_the_pnodes_as_prepared(bed):
    doc = json_of(vxlab_run("destroy", "-i", bed["inventory"], "--json", "-q", *LXC))
    assert doc["ok"], doc
    for pnode in PNODES:
        proc = pnode_sh(bed, pnode, "command -v ip lxc-start ping >/dev/null && "
                                    "/opt/vxlab/venv/bin/python -c 'import pyroute2' && ls /run/netns | wc -l")
        assert proc.returncode == 0 and proc.stdout.strip() == "0", proc


def test_testbed_down_removes_everything(bed):
    private = os.path.dirname(bed["ssh_config"])
    markers = {"vxlab-vt-%s" % n for n in (NAME + "-p1", NAME + "-p2")}
    assert processes.testbed_processes(markers, [])
    proc = vxlab_run("testbed", "down", "--name", NAME, "-q")
    assert proc.returncode == 0, proc.stderr
    assert not os.path.exists(private) and not os.path.exists(bed["dir"])
    assert not processes.testbed_processes(markers, [])
    with open("/proc/self/mountinfo") as f:
        assert private not in f.read()
    assert not [n for n in system.netns_names() if n.startswith("vt-%s-" % NAME)]
