"""The vxlab command end to end on a one-machine testbed (root): testbed up, plan, ping, render,
deploy (twice: the second changes nothing), check, the generated artifacts and the vnodes inventory
plugin against live vnodes, destroy, a rebuilt platform still trusted by the first render, destroy
--purge, testbed down. The testbed is removed even on failure."""
import os
import subprocess
import textwrap

import pytest
from cli_testbed import BIN, REPO, ROOT_MARKS, json_of, unique_bed_name, unique_bed_network, vxlab_run

pytestmark = ROOT_MARKS
NAME = unique_bed_name("c")
NETWORK = unique_bed_network(0)


def _have(path):
    return os.path.exists(os.path.join(REPO, path))


def run(*args, timeout=600, **kw):
    return vxlab_run(*args, timeout=timeout, **kw)


_json = json_of


@pytest.fixture(scope="module")
def bed():
    try:
        import vxlab.testbed  # noqa: F401
    except ImportError as exc:
        pytest.skip("vxlab.testbed is not there yet: %s" % exc)
    if not _have("playbooks/ping.yml"):
        pytest.skip("playbooks/ping.yml is not there yet")
    info = None
    try:
        info = _json(run("testbed", "up", "--name", NAME, "--pnodes", "2", "-e",
                         "vxlab_vnodes_per_pnode=3", "-e", "vxlab_vnode_network=" + NETWORK,
                         "--json"))
        yield info
    finally:
        if info is not None and _have("playbooks/destroy.yml"):
            run("destroy", "-i", info["inventory"], "-q")
        proc = run("testbed", "down", "--name", NAME, "-q")
        assert proc.returncode == 0, proc.stderr


def test_up_plan_and_ping(bed):
    assert os.path.isfile(bed["inventory"])
    listed = _json(run("testbed", "list", "--json"))
    assert NAME in [b["name"] for b in listed]
    plan = _json(run("plan", "-i", bed["inventory"], "--json"))
    assert plan["platform"]["name"] == NAME and plan["platform"]["vnodes"] == 6
    ping = _json(run("run", "ping", "-i", bed["inventory"], "--json"))
    assert ping["ok"] and sorted(ping["hosts"]) == ["%s-p1" % NAME, "%s-p2" % NAME]


def test_deploy_check_artifacts_destroy(bed, tmp_path):
    if not (_have("playbooks/deploy.yml") and _have("playbooks/destroy.yml")):
        pytest.skip("playbooks/deploy.yml or destroy.yml is not there yet")
    inv = bed["inventory"]
    # rendered before the platform exists: it already trusts the vnodes' host key
    rendered = os.path.join(str(tmp_path), "first")
    assert _json(run("render", "-i", inv, "-o", rendered, "--json", "-q"))["ok"]
    proc = run("deploy", "-i", inv, "--json")
    first = _json(proc)
    assert first["ok"] and first["changed"] > 0
    assert "[deploy] TASK" in proc.stderr  # progress on stderr, JSON alone on stdout
    second = _json(run("deploy", "-i", inv, "--json", "-q"))
    assert second["ok"]
    # the pnodes are this test's alone: nothing changes there the second time (localhost tasks
    # set machine-wide neighbour limits that concurrent tests on this machine also change)
    assert {h: v["changed"] for h, v in second["hosts"].items() if h != "localhost"} == {
        "%s-p1" % NAME: 0, "%s-p2" % NAME: 0}

    result = _json(run("check", "-i", inv, "--json", "-q"))
    assert result["ok"], result
    assert result["ssh"]["ok"] == 6
    assert [(p["src_pnode"], p["dst_pnode"], p["ok"], p["failed"]) for p in result["pairs"]] == [
        ("%s-p1" % NAME, "%s-p2" % NAME, 9, 0), ("%s-p2" % NAME, "%s-p1" % NAME, 9, 0)]

    state = first["artifacts"]
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"],
               CLUSTERSHELL_CFGDIR=os.path.join(state, "clustershell"))
    clush = subprocess.run(["clush", "-w", "@%s:all" % NAME, "-b", "cat /proc/sys/kernel/ostype"],
                           env=env, cwd=state, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120, check=False)
    assert clush.returncode == 0, clush.stderr
    assert "%s-[1-6] (6)" % NAME in clush.stdout and "Linux" in clush.stdout

    cfg = os.path.join(str(tmp_path), "live.vnodes.yml")
    with open(cfg, "w") as f:
        f.write(textwrap.dedent("""
            plugin: vxlab.emulation.vnodes
            pnode_inventory: %s
            """ % inv))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = os.path.join(REPO, "ansible.cfg")
    ping = subprocess.run([os.path.join(BIN, "ansible"), "-i", cfg, "vnodes", "-m", "ping", "-o"],
                          env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=300, check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert ping.stdout.count("SUCCESS") == 6

    gone = _json(run("destroy", "-i", inv, "--json", "-q"))
    assert gone["ok"] and gone["changed"] > 0 and gone["purged"] == []
    known = open(os.path.join(rendered, "known_hosts")).read()

    # rebuilt (and of the other vnode kind: netns after LXC), the platform presents the same
    # host key: the first render's ssh_config and clush groups reach every vnode, strictly checked
    again = _json(run("deploy", "-i", inv, "-e", "vxlab_vnode_kind=netns", "--json", "-q"))
    assert again["ok"]
    assert open(os.path.join(state, "known_hosts")).read() == known
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"],
               CLUSTERSHELL_CFGDIR=os.path.join(rendered, "clustershell"))
    clush = subprocess.run(["clush", "-w", "@%s:all" % NAME, "-b", "cat /proc/sys/kernel/ostype"],
                           env=env, cwd=rendered, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120, check=False)
    assert clush.returncode == 0, clush.stderr
    assert "%s-[1-6] (6)" % NAME in clush.stdout and "Linux" in clush.stdout
    strict = subprocess.run(["ssh", "-F", os.path.join(rendered, "ssh_config"), "-o",
                             "StrictHostKeyChecking=yes", "%s-4" % NAME, "true"],
                            text=True, capture_output=True, timeout=60, check=False)
    assert strict.returncode == 0, strict.stderr

    # --purge forgets the keys and what was rendered for them
    plan = _json(run("plan", "-i", inv, "--json"))
    keys = [plan["platform"]["ssh_key"]]
    purged = _json(run("destroy", "-i", inv, "-e", "vxlab_vnode_kind=netns", "--purge",
                       "--json", "-q"))
    assert purged["ok"]
    assert os.path.join(state, "known_hosts") in purged["purged"]
    assert keys[0] in purged["purged"] and keys[0] + ".pub" in purged["purged"]
    assert len(purged["purged"]) == 5  # both key pairs and known_hosts
    assert not os.path.exists(keys[0])


def test_proxyjump_without_a_route(tmp_path):
    """control_access: proxyjump: the controller has no route to the vnodes; Ansible (which
    connects to the vnode address) and vxlab check go through the gateway pnode."""
    try:
        import vxlab.testbed  # noqa: F401
    except ImportError as exc:
        pytest.skip("vxlab.testbed is not there yet: %s" % exc)
    if not (_have("playbooks/deploy.yml") and _have("playbooks/destroy.yml")):
        pytest.skip("playbooks/deploy.yml or destroy.yml is not there yet")
    name = "j%d" % (os.getpid() % 10000)
    network = "10.%d.%d.0/24" % (160 + (os.getpid() + 1) % 64, os.getpid() % 256)
    info = None
    try:
        info = _json(run("testbed", "up", "--name", name, "--pnodes", "2", "-e",
                         "vxlab_vnodes_per_pnode=2", "-e", "vxlab_control_access=proxyjump",
                         "-e", "vxlab_vnode_network=" + network, "--json"))
        deployed = _json(run("deploy", "-i", info["inventory"], "--json", "-q"))
        assert deployed["ok"]
        routes = subprocess.run(["ip", "-4", "route", "show", network], text=True,
                                stdout=subprocess.PIPE, check=True).stdout
        assert routes.strip() == ""
        state = deployed["artifacts"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        ping = subprocess.run([os.path.join(BIN, "ansible"), "-i", "vnodes.yml", name, "-m",
                               "ping", "-o"], cwd=state, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300,
                              check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert ping.stdout.count("SUCCESS") == 4
        result = _json(run("check", "-i", info["inventory"], "--json", "-q"))
        assert result["ok"] and result["ssh"]["ok"] == 4, result
    finally:
        if info is not None:
            run("destroy", "-i", info["inventory"], "-q")
        proc = run("testbed", "down", "--name", name, "-q")
        assert proc.returncode == 0, proc.stderr
