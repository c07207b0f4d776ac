"""A newcomer's path (root): a checkout below a world-writable directory, the README's commands one
after the other in one checkout, and a testbed whose pnodes refuse the login.

* a copy of the checkout in a directory of mode 1777 (as ``/tmp`` is) makes a testbed, every
  pnode takes an SSH login, and the collection builds from that copy while the testbed is up and
  a demo's results lie in ``inventories/``: nothing of them reaches the tarball;
* ``testbed up`` with a pnode key sshd refuses exits non-zero, names every pnode and the cause
  from the pnode sshd's log, and leaves nothing behind.

Every testbed has a name unique to this run and is removed even when a test fails.
"""
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

import pytest
from cli_testbed import BIN, REPO, ROOT_MARKS, unique_bed_name

from vxlab import testbed as tb

pytestmark = ROOT_MARKS


def _netns():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                         check=False).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def _leftovers(name):
    """What of testbed ``name`` is still on the machine."""
    left = sorted(n for n in _netns() if n.startswith("vt-%s-" % name))
    left += sorted(n for n in _links() if n.startswith("vt%s" % name))
    private = os.path.join(tb.RUNTIME_ROOT, name)
    if os.path.lexists(private):
        left.append(private)
    return left


@pytest.fixture
def loose_checkout():
    """A copy of the checkout (tracked and new files, as scripts/sanity.sh takes them) in a
    directory below a world-writable parent (mode 1777, like /tmp)."""
    parent = tempfile.mkdtemp(prefix="vxlab-newcomer-", dir="/tmp")
    os.chmod(parent, 0o1777)
    copy = os.path.join(parent, "checkout")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           check=True, stdout=subprocess.PIPE).stdout
    files = b"\0".join(f for f in files.split(b"\0") if f and not f.startswith(b"collections/"))
    os.makedirs(copy)
    subprocess.run(["rsync", "-a", "--from0", "--files-from=-", "./", copy + "/"], cwd=REPO,
                   input=files, check=True)
    # the collection path (a symlink to the checkout, tracked in git, left out above)
    os.makedirs(os.path.join(copy, "collections", "ansible_collections", "vxlab"))
    os.symlink("../../..", os.path.join(copy, "collections", "ansible_collections", "vxlab",
                                        "emulation"))
    try:
        yield copy
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _vxlab_of(checkout, *args, timeout=300, prelude="pass"):
    """The ``vxlab`` command of ``checkout`` (its own code; this machine's venv for the rest),
    after the Python statement ``prelude``."""
    code = ("import sys; sys.path.insert(0, %r); %s; from vxlab.cli import main; sys.exit(main())"
            % (checkout, prelude))
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(checkout, "ansible.cfg"))
    return subprocess.run([os.path.join(BIN, "python"), "-c", code] + list(args), cwd=checkout,
                          env=env, text=True, capture_output=True, timeout=timeout, check=False)


def test_testbed_and_build_from_a_checkout_below_a_world_writable_directory(loose_checkout):
    name = unique_bed_name("n")
    try:
        up = _vxlab_of(loose_checkout, "testbed", "up", "--name", name, "--pnodes", "2",
                       "-e", "vxlab_vnode_kind=netns", "--json")
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout)
        assert info["inventory"] == os.path.join(loose_checkout, "inventories", name, "hosts.yml")
        # what sshd and ssh check is not below the checkout
        assert not info["private"].startswith(loose_checkout)
        assert tb.unsafe_ancestor(os.path.join(info["private"], "keys", "authorized_keys")) is None
        for p in info["pnodes"]:
            proc = subprocess.run(["ssh", "-F", info["ssh_config"], "-o", "BatchMode=yes", p["name"],
                                   "cat", "/sys/class/net/ib0/address"],
                                  capture_output=True, text=True, timeout=60, check=False)
            assert proc.returncode == 0, (p["name"], proc.stderr)

        # a demo's results beside the live testbed: the build keeps all of inventories/ out
        results = os.path.join(loose_checkout, "inventories", "demo-results", "experiment")
        os.makedirs(results)
        with open(os.path.join(results, "results.jsonl"), "w") as f:
            f.write('{"method": "clush", "n": 5}\n')
        env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
        build = subprocess.run(["bash", "scripts/build.sh"], cwd=loose_checkout, env=env,
                               capture_output=True, text=True, timeout=300, check=False)
        assert build.returncode == 0, build.stdout + build.stderr
        assert "build: vxlab-emulation-" in build.stdout and " ok (" in build.stdout

        down = _vxlab_of(loose_checkout, "testbed", "down", "--name", name, "--json")
        assert down.returncode == 0, down.stderr
        assert _leftovers(name) == []
        assert not os.path.exists(os.path.join(loose_checkout, "inventories", name))
    finally:
        _vxlab_of(loose_checkout, "testbed", "down", "--name", name, "-q")


def test_the_tarball_holds_nothing_of_inventories(tmp_path):
    """The build of this checkout (as make test runs it) leaves out the whole inventories/
    folder, the shipped examples included: they belong to the source tree."""
    out = str(tmp_path)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force",
                    "--output-path", out, REPO], env=env, check=True, capture_output=True,
                   timeout=300)
    tarball = [f for f in os.listdir(out) if f.endswith(".tar.gz")][0]
    with tarfile.open(os.path.join(out, tarball)) as tar:
        names = tar.getnames()
    assert "plugins/modules/vnodes.py" in names
    assert [n for n in names if n == "inventories" or n.startswith("inventories/")] == []


def test_up_refuses_to_say_up_when_no_pnode_takes_the_login():
    """The pnodes' sshd gets another key than the one the inventory gives Ansible (the fault is
    injected into the real command): ``vxlab testbed up`` logs in to every pnode, exits non-zero
    naming each one and the cause its sshd logged, and removes what it made."""
    name = unique_bed_name("w")
    wrong = tempfile.mkdtemp(prefix="vxlab-wrongkey-", dir="/run")
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(wrong, "k")], check=True)
        with open(os.path.join(wrong, "k.pub")) as f:
            other = f.read().strip()
        proc = _vxlab_of(REPO, "testbed", "up", "--name", name, "--pnodes", "2",
                         "-e", "vxlab_vnode_kind=netns",
                         prelude="import vxlab.testbed.render as r; r.authorized_keys_text = "
                                 "lambda pnode_pub: %r" % (other + "\n"))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert proc.stdout == ""  # no inventory path: nothing is up
        text = proc.stderr
        assert "vxlab testbed up: cannot log in to 2 of 2 pnodes" in text
        for i in (1, 2):
            assert "%s-p%d (root@" % (name, i) in text
        assert "Permission denied" in text          # what ssh said
        assert "Failed publickey for root" in text  # what the pnode's sshd logged
        assert "is not in the pnode's authorized keys" in text  # the likely cause
        assert "removing what was made" in text
        assert _leftovers(name) == []
        assert not os.path.exists(os.path.join(REPO, "inventories", name))
    finally:
        tb.down(name, repo=REPO)
        shutil.rmtree(wrong, ignore_errors=True)
