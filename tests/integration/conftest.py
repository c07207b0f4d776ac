"""Shared fixtures of the root integration tests.

* :data:`PREFIX` / :func:`unique` -- names unique to this test run (``t<pid%10000>...``), short
  enough for interface names (<= 15 characters);
* :func:`netns_factory` -- named network namespaces that are deleted at teardown, even when the
  test fails;
* :func:`pnode_pair` -- two namespaces standing for two pnodes, joined by a veth named ``ib0`` on
  both sides (10.251.<n>.1/24 and .2/24, inside those namespaces only);
* :func:`run_module` -- run one ``vxlab.emulation.*`` module through ``ansible-playbook`` (``-c
  local``, from the repository root so ansible.cfg applies) and return its result, diff included;
* :func:`state_dir` -- a root-owned, non world-writable temporary directory (sshd StrictModes);
* :func:`vx` -- the helpers above as one object (``vx.run_module``, ``vx.ip``, ``vx.links``,
  ``vx.netns_list``, ``vx.unique``, ``vx.PREFIX``): test modules take them from this fixture
  rather than importing ``conftest`` (several conftest.py files share that module name).
"""
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import types

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python")
PREFIX = "t%d" % (os.getpid() % 10000)
_counter = itertools.count()


def unique(tag=""):
    """A name unique to this run: ``t<pid%10000><tag><n>`` (keep ``tag`` short)."""
    return "%s%s%d" % (PREFIX, tag, next(_counter))


def ip(*args, check=True):
    return subprocess.run(("ip",) + tuple(args), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


def netns_list():
    try:
        return sorted(os.listdir("/run/netns"))
    except OSError:
        return []


def links(netns=None):
    """Interface names of a namespace (the initial one by default)."""
    argv = (["-n", netns] if netns else []) + ["-o", "link", "show"]
    out = ip(*argv).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


_PLAYBOOK = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: the module under test
      %s: %s
      register: vx_result
      ignore_errors: true
    - name: show the whole result (diff included)
      ansible.builtin.debug:
        var: vx_result
"""


def run_module(module, args, check=False, diff=True, expect_fail=False, timeout=300):
    """Run ``vxlab.emulation.<module>`` with ``args`` (a dict) on localhost; return the result.

    Runs a two-task playbook through ``ansible-playbook -c local`` (the registered result keeps
    ``diff``, which ad-hoc output drops). The result has ``changed``, ``diff`` (diff mode),
    ``failed``, ``msg`` and the module's return values. ``expect_fail`` says which outcome to
    assert.
    """
    fd, path = tempfile.mkstemp(prefix="vxlab-test-", suffix=".yml")
    with os.fdopen(fd, "w") as f:
        f.write(_PLAYBOOK % ("vxlab.emulation." + module, json.dumps(args)))
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-c", "local", "-i", "localhost,",
            "-e", "ansible_python_interpreter=%s" % PYTHON, path]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="minimal", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    try:
        proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout,
                              check=False)  # the result is judged below
    finally:
        os.unlink(path)
    # the minimal callback prints "localhost | STATUS => {json}" per task: the last is debug's
    blocks = re.findall(r"^localhost \| [A-Z!]+ => (\{.*?^\})", proc.stdout, re.M | re.S)
    try:
        res = json.loads(blocks[-1])["vx_result"]
    except (IndexError, KeyError, ValueError):
        raise AssertionError("no result from ansible-playbook (rc %d)\nstdout: %s\nstderr: %s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    failed = bool(res.get("failed"))
    if failed != expect_fail:
        raise AssertionError("%s %s: expected %s, got %s" % (
            module, "(check)" if check else "", "failure" if expect_fail else "success",
            json.dumps(res, indent=1, sort_keys=True)[-4000:]))
    return res


def _delete_netns(name):
    ip("netns", "del", name, check=False)


@pytest.fixture
def netns_factory():
    """``make(tag="")`` -> a new named namespace (lo up); all are deleted at teardown."""
    made = []

    def make(tag="n"):
        name = unique(tag)
        ip("netns", "add", name)
        made.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    yield make
    for name in reversed(made):
        _delete_netns(name)


@pytest.fixture
def state_dir():
    path = tempfile.mkdtemp(prefix="vxlab-test-", dir="/run")  # root-owned, mode 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pnode_pair(netns_factory):
    """Two pnode namespaces joined by a veth ``ib0`` <-> ``ib0`` (MTU 1500)."""
    a = netns_factory("a")
    b = netns_factory("b")
    net = "10.251.%d" % (os.getpid() % 250)
    tmp_a, tmp_b = unique("u"), unique("u")
    ip("link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
    ip("link", "set", tmp_a, "netns", a, "name", "ib0")
    ip("link", "set", tmp_b, "netns", b, "name", "ib0")
    for ns, host in ((a, 1), (b, 2)):
        ip("-n", ns, "addr", "add", "%s.%d/24" % (net, host), "dev", "ib0")
        ip("-n", ns, "link", "set", "ib0", "up")
    return {"a": a, "b": b, "vtep_a": net + ".1", "vtep_b": net + ".2", "net": net}


@pytest.fixture
def vnode_names():
    """Namespaces of vnodes a test lets a module create: deleted at teardown if still there."""
    names = []
    yield names
    for name in names:
        if name in netns_list():
            _delete_netns(name)


@pytest.fixture
def vx():
    return types.SimpleNamespace(run_module=run_module, ip=ip, links=links, netns_list=netns_list,
                                 unique=unique, PREFIX=PREFIX, REPO=REPO)
