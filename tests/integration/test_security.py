"""Security properties on a deployed testbed platform (root): shell metacharacters in inventory
values are refused or inert, per-platform SSH key mode 0600, vnodes refuse passwords and have no
default credentials, each vnode's SSH listens only on its own address, generated files are not
world-writable, and module arguments carrying secrets are no_log."""
import glob
import importlib
import json
import os
import re
import stat
import subprocess

import pytest
from cli_testbed import BIN, REPO, ROOT_MARKS, VXLAB, run_argv, unique_bed_name, unique_bed_network

NAME = unique_bed_name("s")
NETWORK = unique_bed_network(41)
PWNED = "/tmp/pwned-%d" % os.getpid()
root = ROOT_MARKS


def run(argv, timeout=300):
    return run_argv(argv, timeout=timeout, nocolor=False)


@pytest.fixture(scope="module")
def bed():
    info = None
    try:
        proc = run([VXLAB, "testbed", "up", "--name", NAME, "--pnodes", "2", "-e", "vxlab_vnodes_per_pnode=1",
                    "-e", "vxlab_vnode_network=" + NETWORK, "-e", "vxlab_vnode_kind=netns", "--json", "-q"])
        assert proc.returncode == 0, proc.stderr
        info = json.loads(proc.stdout)
        proc = run([VXLAB, "deploy", "-i", info["inventory"], "-q"])
        assert proc.returncode == 0, proc.stdout[-2000:]
        info["plan"] = json.loads(run([VXLAB, "plan", "-i", info["inventory"], "--json"]).stdout)
        yield info
    finally:
        if info is not None:
            run([VXLAB, "destroy", "-i", info["inventory"], "-q"])
        proc = run([VXLAB, "testbed", "down", "--name", NAME, "-q"])
        assert proc.returncode == 0, proc.stderr
        if os.path.exists(PWNED):
            os.unlink(PWNED)


INJECTIONS = ["x$(touch %s)" % PWNED, "x;touch %s" % PWNED, "x`touch %s`" % PWNED,
              "x|touch %s" % PWNED, "x' && touch %s '" % PWNED, "x\ntouch %s" % PWNED]


@pytest.mark.parametrize("variable", ["vxlab_platform", "vxlab_state_dir", "vxlab_ssh_key",
                                      "vxlab_underlay_interface", "vxlab_gateway_pnode"])
@pytest.mark.root
@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_shell_metacharacters_refused(bed, variable):
    for value in INJECTIONS:
        proc = run([VXLAB, "deploy", "-i", bed["inventory"], "-e", json.dumps({variable: value})])
        assert proc.returncode == 2, (variable, value, proc.stdout[-500:])
        assert variable in proc.stderr
    assert not os.path.exists(PWNED)


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_fault_events_with_metacharacters_refused_by_the_module(bed):
    """Straight through ansible-playbook (no CLI validation): the module itself refuses."""
    events = [{"action": "down", "target": v} for v in INJECTIONS[:3]] + [
        {"action": "degrade", "target": "%s-1" % NAME, "rate": "1mbit; touch %s" % PWNED}]
    for ev in events:
        proc = run([os.path.join(BIN, "ansible-playbook"), "-i", bed["inventory"], "playbooks/fault.yml",
                    "-e", json.dumps({"vxlab_fault_events": [ev]})])
        assert proc.returncode != 0 and "events[0]" in proc.stdout, proc.stdout[-1500:]
    assert not os.path.exists(PWNED)


def test_no_shell_built_from_input():
    """No shell module in roles/playbooks, no shell=True / os.system in the Python code."""
    for path in glob.glob(os.path.join(REPO, "roles", "*", "tasks", "*.yml")) + glob.glob(
            os.path.join(REPO, "playbooks", "*.yml")):
        with open(path) as f:
            text = f.read()
        assert not re.search(r"^\s*(ansible\.builtin\.)?(shell|raw):", text, re.M), path
    for path in glob.glob(os.path.join(REPO, "plugins", "**", "*.py"), recursive=True) + glob.glob(
            os.path.join(REPO, "vxlab", "*.py")):
        with open(path) as f:
            text = f.read()
        assert "shell=True" not in text and "os.system(" not in text and "os.popen(" not in text, path


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_keys_and_generated_files(bed):
    key = bed["plan"]["platform"]["ssh_key"]
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    bad = []
    for top in (bed["dir"],):  # inventory dir: .vxlab artifacts, keys, state dir of the pnodes
        for dirpath, dirs, files in os.walk(top):
            for n in dirs + files:
                path = os.path.join(dirpath, n)
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
                    continue
                if st.st_mode & stat.S_IWOTH:
                    bad.append(path)
                if n.endswith(("_key", "_ed25519")) and stat.S_IMODE(st.st_mode) & 0o077:
                    bad.append(path + " (private key readable by others)")
    assert not bad
    assert os.path.isdir(os.path.join(bed["dir"], ".vxlab"))


def _ssh_vnode(bed, vnode, *options):
    cfg = os.path.join(bed["dir"], ".vxlab", NAME, "ssh_config")
    return subprocess.run(["ssh", "-F", cfg, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"] + list(options)
                          + [vnode, "true"], text=True, capture_output=True, timeout=60, check=False)


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_vnode_ssh_refuses_passwords_and_listens_on_its_address_only(bed):
    vnode = bed["plan"]["vnodes"][0]
    assert _ssh_vnode(bed, vnode["name"]).returncode == 0  # the platform key works
    proc = _ssh_vnode(bed, vnode["name"], "-o", "PubkeyAuthentication=no",
                      "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert proc.returncode == 255 and "Permission denied (publickey)" in proc.stderr, proc.stderr
    # no default credentials: without the platform key (no identity at all) nothing gets in
    proc = subprocess.run(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "IdentityFile=none",
                           "-o", "ConnectTimeout=10", "root@" + vnode["address"], "true"],
                          text=True, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 255 and "Permission denied" in proc.stderr, proc.stderr
    for v in bed["plan"]["vnodes"]:
        out = subprocess.run(["ssh", "-F", bed["ssh_config"], v["pnode"], "--", "ip", "netns", "exec", v["name"],
                              "ss", "-Hltn"], text=True, capture_output=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        local = sorted(line.split()[3] for line in out.stdout.splitlines() if line.strip())
        assert local == ["%s:22" % v["address"]], (v["name"], out.stdout)
    # the configuration every vnode sshd -i reads comes from this one pure function
    from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import sshmux as _sshmux

    text = _sshmux.render_sshd_config("/nonexistent", NAME)
    assert re.search(r"^PasswordAuthentication no$", text, re.M)
    assert re.search(r"^PermitEmptyPasswords no$", text, re.M)


SECRET = re.compile(r"(password|passwd|secret|token|private_key|passphrase|privkey)", re.I)


def test_secrets_are_no_log():
    """Every module argument whose name says it carries a secret is no_log; public keys are
    marked no_log=False explicitly (ansible-test requires a decision)."""
    checked = 0
    for path in sorted(glob.glob(os.path.join(REPO, "plugins", "module_utils", "_*.py"))):
        name = os.path.basename(path)[:-3]
        mod = importlib.import_module("ansible_collections.vxlab.emulation.plugins.module_utils." + name)
        spec = getattr(mod, "ARGUMENT_SPEC", None)
        if not isinstance(spec, dict):
            continue
        for arg, opts in spec.items():
            checked += 1
            if SECRET.search(arg):
                assert opts.get("no_log") is True, "%s: %s must be no_log" % (name, arg)
            if "key" in arg and "authorized" in arg:
                assert "no_log" in opts, "%s: %s needs an explicit no_log decision" % (name, arg)
    assert checked > 20
