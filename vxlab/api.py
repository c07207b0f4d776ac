"""Python API: run the collection's playbooks through ansible-runner and report from its events.

>>> from vxlab import api
>>> result = api.deploy("inventories/demo/hosts.yml", progress=print)
>>> result.ok, result.hosts["p1"]["changed"]

Results are built from runner events (``runner_on_*``, ``playbook_on_stats``), never from the text
Ansible prints.
"""
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import vxlab
from vxlab import inventory as _inventory  # first: sets up Ansible's collection loader
from vxlab import diffview
from ansible_collections.vxlab.emulation.plugins.plugin_utils._inventory import (
    KNOWN_HOSTS,
    KNOWN_HOSTS_PNODES,
    check_sources,
)

PLAYBOOKS = os.path.join(vxlab.REPO, "playbooks")
ANSIBLE_CFG = os.path.join(vxlab.REPO, "ansible.cfg")
#: a "still running" line when a task has produced no event for this long (seconds)
HEARTBEAT = 30.0

_HOST_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


def _new_host():
    return {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0,
            "ignored": 0, "rescued": 0, "failures": []}


@dataclass
class RunResult:
    """What a playbook run did, per host. ``ok``: no host failed or unreachable and rc == 0."""

    playbook: str
    rc: int
    status: str
    hosts: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    duration: float = 0.0
    artifacts: str = None
    #: ``{host: [module result, ...]}`` of the tasks named in ``run_playbook(capture=...)``
    captured: dict = field(default_factory=dict)
    #: ``destroy(purge=True)``: the key and known_hosts files removed
    purged: list = field(default_factory=list)
    #: ``{host: [{task, header, before, after}]}``: the modules' diffs (diff mode, see diffview)
    diffs: dict = field(default_factory=dict)
    #: ``{host: [text]}``: the modules' warnings
    warnings: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.rc == 0 and self.status == "successful" and not any(
            h["failed"] or h["unreachable"] for h in self.hosts.values())

    @property
    def changed(self):
        return sum(h["changed"] for h in self.hosts.values())

    def to_dict(self):
        return {
            "playbook": self.playbook, "ok": self.ok, "rc": self.rc, "status": self.status,
            "changed": self.changed, "duration": round(self.duration, 3),
            "hosts": {name: dict(h, failures=list(h["failures"]))
                      for name, h in sorted(self.hosts.items())},
            "messages": list(self.messages),
            "artifacts": self.artifacts,
            "purged": list(self.purged),
            "diffs": {name: list(d) for name, d in sorted(self.diffs.items())},
            "warnings": {name: list(w) for name, w in sorted(self.warnings.items())},
        }

    def summary(self):
        """One line per host, as Ansible's recap."""
        lines = []
        for name, h in sorted(self.hosts.items()):
            lines.append("%-20s ok=%d changed=%d failed=%d unreachable=%d skipped=%d"
                         % (name, h["ok"], h["changed"], h["failed"], h["unreachable"],
                            h["skipped"]))
            for f in h["failures"]:
                lines.append("    %s: %s" % (f["task"], f["msg"]))
        return lines


def _failure_msg(res):
    res = res or {}
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    if items:
        first = items[0]
        msg = "%s (%d items failed; first: %s)" % (
            msg or "items failed", len(items), first.get("msg") or first.get("stderr") or "")
    if not msg:
        msg = "failed (rc=%s)" % res.get("rc") if "rc" in res else "failed"
    msg = str(msg).strip()
    return msg if len(msg) <= 2000 else msg[:2000] + "..."


class EventCollector:
    """Builds a :class:`RunResult` from ansible-runner events; reports progress as it goes."""

    def __init__(self, label, progress=None, capture=()):
        self.label = label
        self.progress = progress
        self.capture = frozenset(capture or ())
        self.captured = {}
        self.diffs = {}
        self.warnings = {}
        self.hosts = {}
        self.stats = None
        self.tasks = 0
        self.task = None
        self.messages = []
        self.last_event = time.monotonic()
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def _say(self, line):
        if self.progress is not None:
            self.progress("[%s] %s" % (self.label, line))

    def __call__(self, event):
        with self._lock:
            self.last_event = time.monotonic()
            self.handle(event)
        return True  # keep the event in the artifacts too

    def handle(self, event):
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self._say("PLAY %s" % (data.get("name") or data.get("play") or ""))
        elif kind == "playbook_on_task_start":
            self.tasks += 1
            self.task = data.get("task") or data.get("name") or "?"
            self._say("TASK %s (#%d, %.0fs)" % (self.task, self.tasks,
                                                time.monotonic() - self.started))
        elif kind in _HOST_EVENTS:
            host = data.get("host") or "?"
            h = self.hosts.setdefault(host, _new_host())
            res = data.get("res") or {}
            what = _HOST_EVENTS[kind]
            task = data.get("task") or self.task or "?"
            if task in self.capture and kind in ("runner_on_ok", "runner_on_failed"):
                self.captured.setdefault(host, []).append(res)
            if res.get("diff"):
                found = diffview.entries(task, res["diff"])
                if found:
                    self.diffs.setdefault(host, []).extend(found)
            for text in res.get("warnings") or ():
                self.warnings.setdefault(host, []).append(str(text))
            if kind == "runner_on_failed" and data.get("ignore_errors"):
                h["ignored"] += 1
                self._say("  %s failed (ignored)" % host)
                return
            if what == "ok":
                h["ok"] += 1
                if res.get("changed"):
                    h["changed"] += 1
                    what = "changed"
            else:
                h[what] += 1
            if what in ("failed", "unreachable"):
                msg = _failure_msg(res)
                h["failures"].append({"task": task, "msg": msg})
                self._say("  %s %s: %s" % (host, what.upper(), msg.splitlines()[0] if msg else ""))
            else:
                self._say("  %s %s" % (host, what))
        elif kind == "playbook_on_stats":
            self.stats = data
        elif kind in ("verbose", "error", "warning", "deprecated") and event.get("stdout"):
            text = event["stdout"].strip()
            if text and (kind != "verbose" or "ERROR" in text or "WARNING" in text
                         or self.tasks == 0):
                self.messages.append(text)
                self.messages = self.messages[-20:]

    def result(self, playbook, rc, status, duration=0.0, artifacts=None):
        hosts = {name: dict(h, failures=list(h["failures"])) for name, h in self.hosts.items()}
        if self.stats:
            # the recap is authoritative for the counters (it knows rescued and ignored tasks)
            keys = {"ok": "ok", "changed": "changed", "failed": "failures",
                    "unreachable": "dark", "skipped": "skipped", "ignored": "ignored",
                    "rescued": "rescued"}
            names = set()
            for stat in keys.values():
                names.update((self.stats.get(stat) or {}).keys())
            for name in names:
                h = hosts.setdefault(name, _new_host())
                for mine, stat in keys.items():
                    h[mine] = int((self.stats.get(stat) or {}).get(name, 0))
        return RunResult(playbook=playbook, rc=rc if rc is not None else -1, status=status or "",
                         hosts=hosts, messages=list(self.messages), duration=duration,
                         artifacts=artifacts, captured=dict(self.captured), diffs=dict(self.diffs),
                         warnings=dict(self.warnings))


def result_from_events(events, rc, status, playbook="playbook"):
    """A :class:`RunResult` from a list of recorded runner event dicts."""
    collector = EventCollector(os.path.basename(playbook))
    for event in events:
        collector.handle(event)
    return collector.result(playbook, rc, status)


def playbook_path(name_or_path):
    """``deploy`` -> ``<repo>/playbooks/deploy.yml``; a path stays a path (made absolute)."""
    if os.sep in name_or_path or name_or_path.endswith((".yml", ".yaml")):
        path = os.path.abspath(os.path.expanduser(name_or_path))
    else:
        path = os.path.join(PLAYBOOKS, name_or_path + ".yml")
    if not os.path.isfile(path):
        raise FileNotFoundError("playbook %s not found (%s)" % (name_or_path, path))
    return path


def _heartbeat(collector, stop, progress):
    while not stop.wait(5.0):
        idle = time.monotonic() - collector.last_event
        if idle >= HEARTBEAT:
            with collector._lock:
                collector.last_event = time.monotonic()
                task = collector.task
            progress("[%s] ... still running TASK %s (%.0fs)"
                     % (collector.label, task, time.monotonic() - collector.started))


def run_playbook(name_or_path, inventory, extra_vars=None, check=False, diff=False, limit=None,
                 progress=None, quiet=False, keep_artifacts=False, timeout=None, capture=()):
    """Run a playbook (``deploy``, ``destroy``, ``ping`` or a path) with ansible-runner.

    ``inventory``: a path or a list of paths (``-i``). ``progress``: called with one line per play,
    task start and host result (and a heartbeat when a task runs long). ``quiet``: do not echo
    Ansible's own output. ``capture``: names of tasks whose module results are kept in
    ``result.captured``. Returns a :class:`RunResult`.
    """
    import ansible_runner

    path = playbook_path(name_or_path)
    sources = check_sources(inventory)
    label = os.path.splitext(os.path.basename(path))[0]
    collector = EventCollector(label, progress, capture)
    private = tempfile.mkdtemp(prefix="vxlab-run-")
    venv_bin = os.path.dirname(sys.executable)
    env = {
        "ANSIBLE_CONFIG": ANSIBLE_CFG,
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }
    cmdline = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    stop = threading.Event()
    beat = None
    if progress is not None:
        beat = threading.Thread(target=_heartbeat, args=(collector, stop, progress), daemon=True)
        beat.start()
    started = time.monotonic()
    try:
        runner = ansible_runner.run(
            private_data_dir=private,
            project_dir=vxlab.REPO,
            playbook=path,
            inventory=sources,
            extravars=dict(extra_vars or {}),
            cmdline=" ".join(cmdline) if cmdline else None,
            limit=limit,
            envvars=env,
            quiet=quiet,
            event_handler=collector,
            timeout=timeout,
            suppress_env_files=True,
        )
        rc, status = runner.rc, runner.status
    finally:
        stop.set()
        if beat is not None:
            beat.join(timeout=1)
    result = collector.result(path, rc, status, time.monotonic() - started,
                              artifacts=private if keep_artifacts else None)
    if not keep_artifacts:
        shutil.rmtree(private, ignore_errors=True)
    return result


def render_state(inventory, extra_vars=None, loaded=None):
    """Render the platform's artifacts into ``<inventory dir>/.vxlab/<platform>``; return the dir.
    ``loaded``: the platform already loaded from the same inventory and extra variables."""
    from vxlab import render as _render

    if loaded is None:
        loaded = _inventory.load(inventory, extra_vars)
    out = loaded.state_dir
    _render.render(loaded.plan, out, loaded.sources, loaded.extra_vars, loaded.hostvars)
    return out


def deploy(inventory, extra_vars=None, check=False, diff=False, limit=None, progress=None,
           quiet=False, render=True, loaded=None):
    """Run ``playbooks/deploy.yml``; on success (not in check mode) render the artifacts into the
    inventory's state directory (``result.artifacts``). ``loaded``: the platform as
    :func:`vxlab.inventory.load` read it from the same inventory and extra variables (read again
    when not given)."""
    result = run_playbook("deploy", inventory, extra_vars=extra_vars, check=check, diff=diff,
                          limit=limit, progress=progress, quiet=quiet)
    if render and result.ok and not check:
        result.artifacts = render_state(inventory, extra_vars, loaded)
    return result


def platform_keys(spec):
    """Make the platform's SSH key pair and the vnodes' host key pair where they are missing, as
    the control role does at deploy (the same ``keys`` step); return the paths made."""
    from ansible_collections.vxlab.emulation.plugins.module_utils._control import Keys
    from ansible_collections.vxlab.emulation.plugins.module_utils._runner import check_params, execute

    keys = Keys()
    params = check_params(keys, {"keys": [{"path": spec.ssh_key, "comment": "vxlab-%s" % spec.platform},
                                          {"path": spec.ssh_host_key, "comment": "vxlab-%s-vnodes" % spec.platform}]})
    return execute(keys, params)["made"]


def forget_platform_keys(spec, state_dir):
    """``destroy --purge``: remove the platform's key pairs and the known_hosts files rendered
    for it; the next deploy makes new keys, which earlier renders no longer trust. Returns the
    paths removed."""
    removed = []
    paths = [os.path.expanduser(k) + ext for k in (spec.ssh_key, spec.ssh_host_key) for ext in ("", ".pub")]
    paths += [os.path.join(state_dir, f) for f in (KNOWN_HOSTS, KNOWN_HOSTS_PNODES)]
    for path in paths:
        if os.path.lexists(path):
            os.unlink(path)
            removed.append(path)
    return removed


def destroy(inventory, extra_vars=None, check=False, diff=False, limit=None, progress=None,
            quiet=False, purge=False):
    """Run ``playbooks/destroy.yml``. The platform's keys stay, so a platform deployed again is
    trusted by what was rendered before; with ``purge`` (after a successful, whole destroy) they
    are forgotten (:func:`forget_platform_keys`, listed in ``result.purged``)."""
    result = run_playbook("destroy", inventory, extra_vars=extra_vars, check=check, diff=diff,
                          limit=limit, progress=progress, quiet=quiet)
    if purge and result.ok and not check and not limit:
        plan = _inventory.load_plan(inventory, extra_vars)
        result.purged = forget_platform_keys(
            plan.spec, _inventory.state_dir(inventory, plan.spec.platform))
    return result
