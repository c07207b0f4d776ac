"""The reference experiment of the paper: the command ``true`` on n vnodes, several runners.

(Over 600 lines on purpose: the engine of one experiment, whose parts - the seeded vnode order,
the commands of the four tools, the parsing of their outputs into per-node successes, the probes
and discards, the journal and its resume - each read the others' records. The statistics and the
report are apart, in ``stats.py`` and ``report.py``.)

For every size ``n``, repetition and method, ``true`` runs on ``n`` vnodes from the *launcher*
(the gateway pnode by default, over SSH; or the control host) and the wall time is measured
there. Methods:

* ``clush``: ClusterShell's sliding window (``clush -f FANOUT``);
* ``taktuk2`` / ``taktuk3``: TakTuk's self-propagating tree, work-stealing arity 2 / 3
  (``taktuk -s -d 2|3 ... broadcast exec [ true ]``);
* ``ansible``: Ansible ad-hoc (``ansible -m raw -a true``, forks = FANOUT), the baseline.

Where the SSH settings come from: every pnode holds the platform's *client* files (the vnodes'
``ssh_config`` and the platform key) at the same path, ``<vxlab_state_dir>/<platform>/client``,
which netns vnodes see in their pnode's filesystem and LXC vnodes bind-mounted read-only. TakTuk's
connector is ``ssh -F <client>/ssh_config`` for every vnode kind: its tree's inner nodes are vnodes
running that connector themselves. On a pnode launcher, ClusterShell and Ansible use the same file
(their node list on the command line): the experiment needs nothing of the control host's state
directory there, only the tools (``clush``/``ansible`` at the control host's venv paths, ``taktuk``
on the PATH), which :meth:`Experiment.preflight` checks before the first measurement. With
``--launcher control`` they use the control host's ``ssh_config``; TakTuk then also needs the
client files on the control host (true on the one-machine testbed, whose pnodes share its
filesystem).

Successes are counted per node from each tool's own output: ClusterShell prints nothing for a
silent success, so its remote command is ``true && echo vxlab-ok`` and a node counts when its
``vxlab-ok`` line comes back; TakTuk's ``status > Exited with status 0`` line per node; Ansible's
``NAME | CHANGED | rc=0`` header line per host (the minimal callback). A row is *valid* only
with ``n`` successes; a partial row is recorded as such and the measurement is taken again after
a new health probe (``retries`` times at most).

Health between iterations (the role XPFlow had in the paper): before each ``(n, repetition)``,
the pnodes holding the chosen vnodes and the vnodes themselves are probed (``ssh true`` from the
control host); dead vnodes, and every vnode of a dead pnode, are discarded with the reason and
replaced by the next healthy vnodes of the seeded order.

Results: ``DIR/results.jsonl`` gets one JSON object per line, appended, flushed and fsync'ed as
it is taken: ``{"type": "measurement", ...}`` and ``{"type": "discard", ...}``;
``DIR/experiment.json`` holds the parameters. ``resume=True`` skips every ``(n, rep, method)``
that already has a valid row and keeps the recorded discards.

Vnode order: per pnode, the vnodes shuffled with ``random.Random(seed)``; then the pnodes are
taken in turn (pnode order shuffled with the same seed): the first ``n`` of that order are spread
as evenly as possible over the pnodes and the subsets are nested (the 30 vnodes of ``n=30`` are
among the 60 of ``n=60``).
"""
import datetime
import hashlib
import json
import os
import random
import re
import shlex
import time
from concurrent.futures import ThreadPoolExecutor

from vxlab import check as _check
from vxlab import inventory as _inventory
from vxlab import render as _render
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming  # noqa: E402
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_json  # noqa: E402
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import (  # noqa: E402
    CLIENT_KEY,
    CLIENT_SSH_CONFIG,
)

METHODS = ("clush", "taktuk2", "taktuk3", "ansible")
RESULTS = "results.jsonl"
CONFIG = "experiment.json"
OK_MARK = "vxlab-ok"
TIMING_MARK = "vxlab-timing"
#: the remote wrapper on the launcher: times the tool there (``date +%s.%N``), prints the mark on
#: stderr and exits with the tool's status. Constant; the tool's argv arrives as "$@". The mark
#: also carries the launcher kernel's count of packets dropped because a CPU's input backlog was
#: full (``/proc/net/softnet_stat``, 2nd column, summed) before and after: bursts of ARP floods
#: over many vnodes overflow ``net.core.netdev_max_backlog`` and lose SYNs and ARP replies.
TIMING_SCRIPT = ('d() { n=0; [ -r /proc/net/softnet_stat ] && while read -r a b r; do '
                 'case "$b" in [0-9a-f]*) n=$((n + 0x$b)) ;; esac; done < /proc/net/softnet_stat; '
                 'echo $n; }; d0=$(d); s=$(date +%s.%N); "$@"; rc=$?; e=$(date +%s.%N); '
                 'echo "' + TIMING_MARK + ' $s $e $rc $d0 $(d)" >&2; exit $rc')
PROBE_TIMEOUT = 20
_VNODE_PYTHON = "/usr/bin/python3"
#: the launcher's preflight (constant; what to look for arrives as "$@"): absolute paths must
#: exist, other words must be commands on the PATH; one ``vxlab-missing WORD`` line per miss
PREFLIGHT_SCRIPT = ('for f in "$@"; do case "$f" in /*) test -e "$f" ;; *) command -v "$f" >/dev/null ;; '
                    'esac || echo "vxlab-missing $f"; done')
_TAKTUK_STATUS = re.compile(r"^(?P<host>\S+)-(?P<rank>\d+): .* status > Exited with status (?P<rc>\d+)\s*$")
_TAKTUK_FAIL = re.compile(r"^(?:\S+: )?(?P<host>\S+) \(\d+\): (?:state|connector) > (?P<msg>.*)$")
_ANSIBLE_HOST = re.compile(r"^(?P<host>\S+) \| (?P<status>CHANGED|SUCCESS|FAILED!?|UNREACHABLE!)"
                           r"(?: \| rc=(?P<rc>-?\d+))?")
_CLUSH_RC = re.compile(r"^clush: (?P<nodes>.+?): exited with exit code (?P<rc>\d+)\s*$")
_CLUSH_TIMEOUT = re.compile(r"^clush: (?P<nodes>.+?): command timeout\s*$")


class ExperimentError(Exception):
    """A bad parameter or a situation the experiment cannot go on from; the message says which."""


# --------------------------------------------------------------------------------------------
# pure: parameters, plan, records


def parse_sizes(text):
    """``"10,30,60"`` (or a list) as a sorted list of distinct positive integers."""
    items = text.split(",") if isinstance(text, str) else list(text)
    sizes = []
    for item in items:
        try:
            n = int(str(item).strip())
        except ValueError:
            raise ExperimentError("--sizes: %r is not an integer" % (item,))
        if n < 1:
            raise ExperimentError("--sizes: %d is not a positive size" % n)
        sizes.append(n)
    if not sizes:
        raise ExperimentError("--sizes: give at least one size")
    return sorted(set(sizes))


def parse_methods(text):
    items = text.split(",") if isinstance(text, str) else list(text)
    methods = []
    for item in items:
        m = str(item).strip()
        if m not in METHODS:
            raise ExperimentError("--methods: unknown method %r (known: %s)" % (m, ", ".join(METHODS)))
        if m not in methods:
            methods.append(m)
    if not methods:
        raise ExperimentError("--methods: give at least one method")
    return methods


def check_name(name):
    """A host name as it may appear in an argv or remote command (validated plan data)."""
    if not naming.is_node_name(name):
        raise ExperimentError("host name %r is not usable in a command line" % (name,))
    return name


def spread_order(vnodes_by_pnode, seed):
    """All vnode names in the experiment's order (see the module doc): deterministic in ``seed``."""
    rng = random.Random(seed)
    pnodes = sorted(vnodes_by_pnode)
    rng.shuffle(pnodes)
    queues = []
    for p in pnodes:
        names = sorted(vnodes_by_pnode[p], key=_natural)
        rng.shuffle(names)
        queues.append(names)
    order = []
    depth = max((len(q) for q in queues), default=0)
    for i in range(depth):
        for q in queues:
            if i < len(q):
                order.append(q[i])
    return order


def _natural(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def choose(order, n, discarded):
    """The first ``n`` names of ``order`` not in ``discarded``; None if too few remain."""
    out = [v for v in order if v not in discarded][:n]
    return out if len(out) == n else None


def row_key(rec):
    return (int(rec["n"]), int(rec["rep"]), rec["method"])


def read_records(path):
    """Every complete JSON line of ``path`` (a torn last line, from a kill mid-write, is skipped)."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    except FileNotFoundError:
        pass
    return out


def done_keys(records):
    return {row_key(r) for r in records if r.get("type") == "measurement" and r.get("valid")}


def discards_of(records):
    return {r["node"]: r for r in records if r.get("type") == "discard"}


def schedule(sizes, repeat, methods, done):
    """``[(n, rep, [methods still to measure])]`` in run order, recorded rows left out."""
    out = []
    for n in sizes:
        for rep in range(1, repeat + 1):
            todo = [m for m in methods if (n, rep, m) not in done]
            if todo:
                out.append((n, rep, todo))
    return out


def digest(names):
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# pure: commands and output parsing


class Tools:
    """Where the tools and the platform files are, as seen from the launcher.

    ``ssh_config``: what ClusterShell and Ansible connect with (the client file on a pnode
    launcher, the control host's on the control host); ``client_ssh_config``: TakTuk's connector
    file, the same path on every pnode and vnode.
    """

    def __init__(self, ssh_config, client_ssh_config, venv_bin, fanout=64, connect_timeout=15,
                 ansible_module="raw"):
        self.ssh_config = ssh_config
        self.client_ssh_config = client_ssh_config
        self.clush = os.path.join(venv_bin, "clush")
        self.ansible = os.path.join(venv_bin, "ansible")
        self.taktuk = "taktuk"
        self.fanout = int(fanout)
        self.connect_timeout = int(connect_timeout)
        if self.connect_timeout < 1:
            raise ExperimentError("--connect-timeout: %d must be at least 1 second" % self.connect_timeout)
        if ansible_module not in ("raw", "command"):
            raise ExperimentError("ansible module %r: use raw or command" % (ansible_module,))
        self.ansible_module = ansible_module
        if self.fanout < 1:
            raise ExperimentError("--fanout: %d must be at least 1" % self.fanout)


def method_argv(method, nodes, tools):
    """``(env, argv)`` of one measurement of ``method`` on ``nodes`` (validated names)."""
    nodes = [check_name(v) for v in nodes]
    if method == "clush":
        # -o: the ssh options, in place of clush.conf's (no ClusterShell configuration needed)
        argv = [tools.clush, "-n", "-f", str(tools.fanout), "-t", str(tools.connect_timeout),
                "-o", "-F %s" % shlex.quote(tools.ssh_config),
                "-w", _render.fold(nodes), "true && echo " + OK_MARK]
        return {}, argv
    if method in ("taktuk2", "taktuk3"):
        # the same connection timeout as the other tools (on the command line, it wins over the
        # client file's): a loaded launcher or vnode can take seconds to finish an SSH handshake
        argv = [tools.taktuk, "-s", "-d", method[-1], "-c",
                "ssh -F %s -o ConnectTimeout=%d" % (shlex.quote(tools.client_ssh_config), tools.connect_timeout)]
        for v in nodes:
            argv += ["-m", v]
        return {}, argv + ["broadcast", "exec", "[", "true", "]"]
    if method == "ansible":
        env = {
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            # the hosts by name through the ssh_config (address, user, key); fresh connections
            # every run, like the other tools (no ControlPersist reuse)
            "ANSIBLE_SSH_ARGS": "-F %s -o ControlMaster=no -o ControlPath=none" % shlex.quote(tools.ssh_config),
            "ANSIBLE_PYTHON_INTERPRETER": _VNODE_PYTHON,
            "ANSIBLE_TIMEOUT": str(tools.connect_timeout),
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
        }
        # an inline host list (the trailing comma makes it one): no inventory file on the launcher
        argv = [tools.ansible, "all", "-i", ",".join(nodes) + ",", "-f", str(tools.fanout),
                "-m", tools.ansible_module, "-a", "true"]
        return env, argv
    raise ExperimentError("unknown method %r" % (method,))


def launch_argv(env, argv, launcher, ssh_config):
    """The argv the control host runs: locally (``launcher`` None) or over SSH on the launcher.

    Remotely, ssh hands one string to the launcher's shell: the constant timing script and every
    word (tool paths, validated node names, fixed options) quoted with :func:`shlex.quote`.
    """
    words = ["env"] + ["%s=%s" % kv for kv in sorted(env.items())] + list(argv)
    if launcher is None:
        return words
    remote = ["sh", "-c", TIMING_SCRIPT, "vxlab-timed"] + words
    return ["ssh", "-F", ssh_config, "-o", "BatchMode=yes", "-T", check_name(launcher), "--",
            " ".join(shlex.quote(w) for w in remote)]


def parse_timing(stderr):
    """``(seconds, rc)`` from the launcher's timing line, or ``(None, None)``."""
    for line in reversed(stderr.splitlines()):
        words = line.split()
        if len(words) in (4, 6) and words[0] == TIMING_MARK:
            try:
                return float(words[2]) - float(words[1]), int(words[3])
            except ValueError:
                return None, None
    return None, None


def parse_drops(stderr):
    """Packets the launcher's kernel dropped at full input backlogs during the run, or None."""
    for line in reversed(stderr.splitlines()):
        words = line.split()
        if len(words) == 6 and words[0] == TIMING_MARK:
            try:
                return max(0, int(words[5]) - int(words[4]))
            except ValueError:
                return None
    return None


def _expand(nodeset):
    try:
        from ClusterShell.NodeSet import NodeSet

        return list(NodeSet(nodeset))
    except Exception:
        return [x.strip() for x in nodeset.split(",") if x.strip()]


def count_clush(stdout, stderr, nodes):
    """``(ok, failed)``: nodes whose ``NODE: vxlab-ok`` line came back; reasons of the others."""
    wanted = set(nodes)
    ok = set()
    for line in stdout.splitlines():
        host, sep, text = line.partition(": ")
        if sep and text.strip() == OK_MARK and host in wanted:
            ok.add(host)
    reasons = {}
    for line in stderr.splitlines():
        m = _CLUSH_RC.match(line)
        if m:
            for host in _expand(m.group("nodes")):
                reasons[host] = "exit code %s" % m.group("rc")
            continue
        m = _CLUSH_TIMEOUT.match(line)
        if m:
            for host in _expand(m.group("nodes")):
                reasons[host] = "command timeout"
            continue
        host, sep, text = line.partition(": ")
        if sep and host in wanted and host not in ok:
            reasons.setdefault(host, text.strip()[:200])
    failed = {v: reasons.get(v, "no vxlab-ok line") for v in nodes if v not in ok}
    return ok, failed


def count_taktuk(stdout, stderr, nodes):
    """``(ok, failed)`` from TakTuk's per-node ``status > Exited with status N`` lines."""
    wanted = set(nodes)
    ok, reasons = set(), {}
    for line in (stdout + "\n" + stderr).splitlines():
        m = _TAKTUK_STATUS.match(line)
        if m and m.group("host") in wanted:
            if m.group("rc") == "0":
                ok.add(m.group("host"))
            else:
                reasons[m.group("host")] = "exit status %s" % m.group("rc")
            continue
        m = _TAKTUK_FAIL.match(line)
        if m and m.group("host") in wanted:
            reasons.setdefault(m.group("host"), m.group("msg").strip()[:200])
    failed = {v: reasons.get(v, "no status line") for v in nodes if v not in ok}
    return ok, failed


def count_ansible(stdout, stderr, nodes):
    """``(ok, failed)`` from the ad-hoc per-host header lines (``NAME | CHANGED | rc=0 >>``)."""
    wanted = set(nodes)
    ok, reasons = set(), {}
    lines = stdout.splitlines()
    for i, line in enumerate(lines):
        m = _ANSIBLE_HOST.match(line)
        if not m or m.group("host") not in wanted:
            continue
        host, status, rc = m.group("host"), m.group("status"), m.group("rc")
        if status in ("CHANGED", "SUCCESS") and (rc is None or rc == "0"):
            ok.add(host)
            reasons.pop(host, None)
        else:
            detail = lines[i + 1].strip() if i + 1 < len(lines) else ""
            reasons[host] = "%s%s %s" % (status, " rc=%s" % rc if rc else "", detail[:160])
    failed = {v: reasons.get(v, "no result line") for v in nodes if v not in ok}
    return ok, failed


COUNTERS = {"clush": count_clush, "taktuk2": count_taktuk, "taktuk3": count_taktuk,
            "ansible": count_ansible}


# --------------------------------------------------------------------------------------------
# the run (system side)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Journal:
    """``results.jsonl``: append one record, flush and fsync it before going on."""

    def __init__(self, path):
        self.path = path
        self._f = open(path, "a")

    def write(self, rec):
        self._f.write(json.dumps(rec, sort_keys=True) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self):
        self._f.close()


class Experiment:
    """One experiment over a deployed platform; :meth:`run` does it and returns a summary."""

    def __init__(self, inventory, out_dir, sizes, repeat=3, methods=None, seed=1, fanout=64,
                 launcher=None, resume=False, extra_vars=None, progress=None, retries=5,
                 ansible_module="raw", timeout=None, venv_bin=None, hooks=None, connect_timeout=15):
        self.out_dir = os.path.abspath(out_dir)
        self.say = progress or (lambda line: None)
        self.sizes = parse_sizes(sizes)
        self.methods = parse_methods(methods or METHODS)
        if int(repeat) < 1:
            raise ExperimentError("--repeat: %r must be at least 1" % (repeat,))
        self.repeat = int(repeat)
        self.seed = int(seed)
        self.retries = max(0, int(retries))
        self.resume = resume
        self.hooks = hooks or {}
        loaded = _inventory.load(inventory, extra_vars)
        self.plan = loaded.plan
        self.state_dir = loaded.state_dir
        _render.render(self.plan, self.state_dir, loaded.sources, loaded.extra_vars, loaded.hostvars)
        self.ssh_config = os.path.join(self.state_dir, "ssh_config")
        self.inventory = loaded.sources
        pnode_names = [p.name for p in self.plan.pnodes]
        if launcher in (None, "", "gateway"):
            launcher = self.plan.spec.gateway_pnode
        if launcher == "control":
            self.launcher = None
        elif launcher in pnode_names:
            self.launcher = launcher
        else:
            raise ExperimentError("--launcher %r: not a pnode of the platform (%s) nor 'control'"
                                  % (launcher, ", ".join(pnode_names)))
        self.vnode_pnode = {}
        by_pnode = {}
        for v in self.plan.iter_vnodes():
            check_name(v["name"])
            self.vnode_pnode[v["name"]] = v["pnode"]
            by_pnode.setdefault(v["pnode"], []).append(v["name"])
        self.order = spread_order(by_pnode, self.seed)
        if self.sizes[-1] > len(self.order):
            raise ExperimentError("--sizes: %d vnodes asked, the platform has %d"
                                  % (self.sizes[-1], len(self.order)))
        venv_bin = venv_bin or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
            _render.__file__))), ".venv", "bin")
        self.client_dir = self.plan.client_dir
        client_ssh_config = os.path.join(self.client_dir, CLIENT_SSH_CONFIG)
        self.tools = Tools(client_ssh_config if self.launcher else self.ssh_config,
                           client_ssh_config, venv_bin, fanout=fanout, ansible_module=ansible_module,
                           connect_timeout=connect_timeout)
        self.timeout = timeout
        self.results = os.path.join(self.out_dir, RESULTS)
        self.discarded = {}
        self.last_drops = None
        self.counts = {"measured": 0, "valid": 0, "partial": 0, "skipped": 0}

    # -- parameters and records

    def config(self):
        return {"platform": self.plan.spec.platform, "inventory": self.inventory,
                "pnodes": [p.name for p in self.plan.pnodes], "vnodes": len(self.order),
                "sizes": self.sizes, "repeat": self.repeat, "methods": self.methods,
                "seed": self.seed, "fanout": self.tools.fanout, "connect_timeout": self.tools.connect_timeout,
                "launcher": self.launcher or "control", "ansible_module": self.tools.ansible_module,
                "command": "true", "state_dir": self.state_dir,
                "ssh_config": self.tools.ssh_config, "taktuk_connector_config": self.tools.client_ssh_config}

    def _prepare_dir(self):
        os.makedirs(self.out_dir, exist_ok=True)
        records = read_records(self.results)
        cfg_path = os.path.join(self.out_dir, CONFIG)
        if records and not self.resume:
            raise ExperimentError("%s already holds results: use --resume to continue it, or "
                                  "another --out" % self.results)
        if self.resume and os.path.exists(cfg_path):
            with open(cfg_path) as f:
                old = json.load(f)
            for key in ("platform", "seed"):
                if old.get(key) != self.config()[key]:
                    raise ExperimentError("--resume: %s was %r in %s, now %r: the vnode subsets "
                                          "would differ" % (key, old.get(key), cfg_path,
                                                            self.config()[key]))
        cfg = self.config()
        cfg["updated"] = _now()
        write_json(cfg_path, cfg)
        return records

    def _discard(self, journal, node, reason, n, rep):
        if node in self.discarded:
            return
        rec = {"type": "discard", "node": node, "pnode": self.vnode_pnode.get(node, node),
               "reason": reason, "before": {"n": n, "rep": rep}, "time": _now()}
        self.discarded[node] = rec
        journal.write(rec)
        self.say("[experiment] discarded %s (pnode %s): %s" % (node, rec["pnode"], reason))

    # -- what the launcher needs

    def needs(self):
        """Paths (absolute) and commands the launcher must have for the chosen methods."""
        out = []
        taktuk = any(m.startswith("taktuk") for m in self.methods)
        if self.launcher or taktuk:
            out += [self.tools.client_ssh_config, os.path.join(self.client_dir, CLIENT_KEY)]
        if "clush" in self.methods:
            out.append(self.tools.clush)
        if "ansible" in self.methods:
            out.append(self.tools.ansible)
        if taktuk:
            out.append(self.tools.taktuk)
        return out

    def preflight(self):
        """Refuse to start when the launcher lacks a tool or the platform's client files."""
        need = self.needs()
        where = "the launcher pnode %s" % self.launcher if self.launcher else "the control host"
        if self.launcher is None:
            import shutil

            missing = [w for w in need if not (os.access(w, os.R_OK) if w.startswith("/")
                                               else shutil.which(w))]
        else:
            remote = ["sh", "-c", PREFLIGHT_SCRIPT, "vxlab-preflight"] + need
            argv = ["ssh", "-F", self.ssh_config, "-o", "BatchMode=yes", "-T",
                    check_name(self.launcher), "--", " ".join(shlex.quote(w) for w in remote)]
            rc, out, err = _run_capture(argv, PROBE_TIMEOUT * 3)
            if rc != 0:
                raise ExperimentError("%s does not answer (%s): use --launcher with another pnode "
                                      "or control" % (where, (err.strip().splitlines() or ["exit status %d" % rc])[-1]))
            missing = [line.split(" ", 1)[1] for line in out.splitlines()
                       if line.startswith("vxlab-missing ")]
        if missing:
            raise ExperimentError(
                "%s lacks %s: the tools run there (clush and ansible at the control host's venv "
                "paths, taktuk on the PATH), with the platform's client files in %s (written on "
                "every pnode by deploy, root only)%s" % (
                    where, ", ".join(missing), self.client_dir,
                    "" if self.launcher else "; on a control host that is no pnode, use the "
                    "gateway pnode as launcher"))

    # -- health

    def _ssh_ok(self, names):
        """``{name: "" if ssh true worked else the error}``, probed in parallel.

        A failed probe is taken again once, fewer at a time and with twice the time, before it
        counts: on a loaded machine a live vnode can miss one deadline (the discard is final).
        """
        def probe(timeout):
            def one(name):
                rc, dummy, err = _check._run(_check.ssh_argv(self.ssh_config, name, ["true"]), timeout)
                return name, "" if rc == 0 else (err.splitlines()[-1] if err else "exit status %d" % rc)
            return one

        with ThreadPoolExecutor(max_workers=32) as pool:
            out = dict(pool.map(probe(PROBE_TIMEOUT), names))
        again = [n for n in names if out[n]]
        if again:
            with ThreadPoolExecutor(max_workers=8) as pool:
                out.update(pool.map(probe(2 * PROBE_TIMEOUT), again))
        return out

    def healthy_subset(self, journal, n, rep):
        """Probe and replace until ``n`` vnodes answered; None when the healthy pool is too small."""
        probed_pnodes = {}
        verified = set()
        while True:
            nodes = choose(self.order, n, self.discarded)
            if nodes is None:
                return None
            pnodes = sorted({self.vnode_pnode[v] for v in nodes} - set(probed_pnodes))
            if self.launcher and self.launcher not in probed_pnodes:
                pnodes.append(self.launcher)
            for p, err in self._ssh_ok(pnodes).items():
                probed_pnodes[p] = err
                if err:
                    if p == self.launcher:
                        raise ExperimentError("the launcher pnode %s does not answer (%s): "
                                              "use --launcher with another pnode or control" % (p, err))
                    self.say("[experiment] pnode %s does not answer: %s" % (p, err))
                    for v in self.order:
                        if self.vnode_pnode[v] == p:
                            self._discard(journal, v, "pnode %s unreachable: %s" % (p, err), n, rep)
            nodes = [v for v in nodes if v not in self.discarded]
            todo = [v for v in nodes if v not in verified]
            if len(nodes) == n and not todo:
                return nodes
            for v, err in self._ssh_ok(todo).items():
                if err:
                    self._discard(journal, v, "ssh probe failed: %s" % err, n, rep)
                else:
                    verified.add(v)

    # -- one measurement

    def _timeout(self, n):
        return self.timeout or (120 + 2 * n)

    def measure(self, method, nodes):
        """Run ``method`` on ``nodes``; ``(seconds, ok set, failed dict, rc, timing_where)``."""
        env, argv = method_argv(method, nodes, self.tools)
        full = launch_argv(env, argv, self.launcher, self.ssh_config)
        t0 = time.monotonic()
        rc, stdout, stderr = _run_capture(full, self._timeout(len(nodes)))
        wall = time.monotonic() - t0
        seconds, where = wall, "control"
        if self.launcher:
            remote_s, remote_rc = parse_timing(stderr)
            if remote_s is not None:
                seconds, rc, where = remote_s, remote_rc, "launcher"
        ok, failed = COUNTERS[method](stdout, stderr, nodes)
        self.last_drops = parse_drops(stderr) if self.launcher else None
        return seconds, ok, failed, rc, where, wall

    # -- the loop

    def run(self):
        records = self._prepare_dir()
        self.discarded = discards_of(records)
        done = done_keys(records)
        plan = schedule(self.sizes, self.repeat, self.methods, done)
        total = len(self.sizes) * self.repeat * len(self.methods)
        left = sum(len(m) for dummy_n, dummy_r, m in plan)
        self.say("[experiment] %s: %d vnodes on %d pnodes, sizes %s, %d repetitions, methods %s, "
                 "launcher %s, seed %d; %d measurements, %d already recorded"
                 % (self.plan.spec.platform, len(self.order), len(self.plan.pnodes),
                    ",".join(map(str, self.sizes)), self.repeat, ",".join(self.methods),
                    self.launcher or "control", self.seed, total, total - left))
        if plan:
            self.preflight()
        journal = Journal(self.results)
        index = total - left
        t_start = time.monotonic()
        try:
            for n, rep, methods in plan:
                self._hook("before_iteration", n, rep)
                nodes = self.healthy_subset(journal, n, rep)
                for method in methods:
                    index += 1
                    for attempt in range(1, self.retries + 2):
                        if nodes is None:
                            healthy = len(self.order) - len(self.discarded)
                            self.say("[experiment] n=%d: only %d healthy vnodes left; skipped"
                                     % (n, healthy))
                            journal.write({"type": "skipped", "n": n, "rep": rep, "method": method,
                                           "reason": "only %d healthy vnodes" % healthy,
                                           "time": _now()})
                            self.counts["skipped"] += 1
                            break
                        self._hook("before_measure", n, rep, method)
                        rec = self._measure_record(method, nodes, n, rep, attempt)
                        journal.write(rec)
                        self.counts["measured"] += 1
                        self.say("[experiment %d/%d] n=%d rep %d/%d %-8s %s/%d ok  %.2f s%s%s"
                                 % (index, total, n, rep, self.repeat, method, rec["ok"], n,
                                    rec["seconds"], "" if rec["valid"] else
                                    "  PARTIAL (%s)" % _first_failures(rec["failed_nodes"]),
                                    "  [launcher kernel: %d packets dropped at full backlogs]"
                                    % rec["launcher_backlog_drops"]
                                    if rec["launcher_backlog_drops"] else ""))
                        if rec["valid"]:
                            self.counts["valid"] += 1
                            break
                        self.counts["partial"] += 1
                        # a node failed during the measurement: probe again, replace, measure again
                        nodes = self.healthy_subset(journal, n, rep)
        finally:
            journal.close()
        records = read_records(self.results)
        done = done_keys(records)
        missing = [k for n, rep, ms in schedule(self.sizes, self.repeat, self.methods, set())
                   for k in [(n, rep, m) for m in ms] if k not in done]
        summary = {
            "ok": not missing,
            "out": self.out_dir,
            "results": self.results,
            "platform": self.plan.spec.platform,
            "launcher": self.launcher or "control",
            "measurements_this_run": self.counts,
            "valid_rows": len(done),
            "expected_rows": total,
            "missing": [list(k) for k in missing],
            "discarded": sorted(self.discarded.values(), key=lambda r: _natural(r["node"])),
            "seconds": round(time.monotonic() - t_start, 1),
        }
        self.say("[experiment] done: %d/%d valid rows, %d discarded vnodes, %.0f s"
                 % (len(done), total, len(self.discarded), summary["seconds"]))
        return summary

    def _hook(self, name, *args):
        fn = self.hooks.get(name)
        if fn:
            fn(self, *args)

    def _measure_record(self, method, nodes, n, rep, attempt):
        started = _now()
        seconds, ok, failed, rc, where, wall = self.measure(method, nodes)
        per_pnode = {}
        for v in nodes:
            per_pnode[self.vnode_pnode[v]] = per_pnode.get(self.vnode_pnode[v], 0) + 1
        return {
            "type": "measurement", "n": n, "rep": rep, "method": method,
            "seconds": round(seconds, 4), "wall_seconds": round(wall, 4), "timed_on": where,
            "ok": len(ok), "failed": len(failed), "valid": len(ok) == n and not failed,
            "failed_nodes": dict(sorted(failed.items())[:50]), "rc": rc, "attempt": attempt,
            "nodes_digest": digest(nodes), "per_pnode": per_pnode, "seed": self.seed,
            "fanout": self.tools.fanout if method in ("clush", "ansible") else None,
            "connect_timeout": self.tools.connect_timeout,
            "launcher": self.launcher or "control", "started": started,
            # the launcher kernel's input-backlog drops during the run (machine-wide on the
            # one-machine testbed): lost SYNs and ARP replies show here first
            "launcher_backlog_drops": self.last_drops,
        }


def _first_failures(failed, k=3):
    items = list(failed.items())[:k]
    return ", ".join("%s: %s" % kv for kv in items) + (" ..." if len(failed) > k else "")


def _run_capture(argv, timeout):
    import subprocess

    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return 124, out, err + "\ntimed out after %ds" % timeout
    except OSError as exc:
        return 127, "", str(exc)


def run(inventory, out_dir, sizes, **kwargs):
    """Run the experiment (see :class:`Experiment`); return its summary dict."""
    return Experiment(inventory, out_dir, sizes, **kwargs).run()
