"""What the integration tests that drive the ``vxlab`` command share (imported by name: pytest puts
this directory on ``sys.path``): the root-only marks, the command's path, a runner, and a testbed
name and vnode network unique to this test run.

Every test module makes its own testbed; two of them, or another checkout's, may run on this
machine at once, so each takes a name from its letter and the process id, and a /24 of its own
(in route mode the control host's route to a vnode network would be shared).
"""
import contextlib
import json
import os
import subprocess

import pytest

import vxlab

REPO = vxlab.REPO
BIN = os.path.join(REPO, ".venv", "bin")
VXLAB = os.path.join(BIN, "vxlab")

#: ``pytestmark`` of a module that needs root (testbed namespaces, sshd)
ROOT_MARKS = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (testbed namespaces, sshd)"),
]


def unique_bed_name(letter):
    """``<letter><pid % 10000>``: short enough for the interface names made from it."""
    return "%s%d" % (letter, os.getpid() % 10000)


def unique_bed_network(offset, first=160, count=64):
    """A vnode /24 within 10.<first>.0.0 .. 10.<first + count - 1>.255.0, picked by pid + offset."""
    pid = os.getpid() + offset
    return "10.%d.%d.0/24" % (first + pid % count, pid % 256)


def vxlab_run(*args, timeout=300, **kw):
    """``vxlab ARGS`` (output captured as text; the exit status is the caller's to check)."""
    return subprocess.run([VXLAB] + list(args), text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, check=False, **kw)


def json_of(proc):
    """The JSON a successful ``vxlab ... --json`` printed."""
    assert proc.returncode == 0, "rc %d\nstdout: %s\nstderr: %s" % (
        proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return json.loads(proc.stdout)


def run_argv(argv, timeout=300, nocolor=True):
    """Any command of the checkout (``vxlab``, ``ansible-playbook``) from the repository root, with
    the venv first on PATH and the repository's ansible.cfg."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    if nocolor:
        env["ANSIBLE_NOCOLOR"] = "1"
    return subprocess.run(argv, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, check=False, cwd=REPO, env=env)


@contextlib.contextmanager
def up_testbed(name, pnodes, network, *args, before_down=None):
    """A testbed for one test module: ``vxlab testbed up --name NAME --pnodes N`` with the vnode
    network and ``args``; yields its ``--json`` description. On the way out, even after a failure:
    ``before_down(info)`` (a destroy of what the tests deployed), then ``testbed down``."""
    info = None
    try:
        info = json_of(vxlab_run("testbed", "up", "--name", name, "--pnodes", str(pnodes),
                                 "-e", "vxlab_vnode_network=" + network, "--json", "-q", *args))
        yield info
    finally:
        if info is not None and before_down is not None:
            before_down(info)
        proc = vxlab_run("testbed", "down", "--name", name, "-q")
        assert proc.returncode == 0, proc.stderr
