"""Fault injection on a deployed platform: events now, from a dated trace file, or random churn.

An event is ``{"at": seconds from the start, "action": ..., "target": vnode or pnode[, rate,
delay, loss]}``; actions and their parameters are those of the ``vxlab.emulation.fault`` module
(validated by the same code, ``plugins/module_utils/_fault.py``): ``vnode_down``/``vnode_up``,
``link_cut``/``link_restore``, ``degrade``/``undegrade``, ``pnode_off``/``pnode_on``,
``freeze``/``unfreeze`` (LXC). Short names work too (``down``, ``up``, ``cut``, ``restore``,
``off``, ``on``).

* :func:`parse_trace` reads a trace file: YAML (a list of events, or ``{events: [...]}``) or CSV
  (header ``at,target,action[,rate,delay,loss]``); every line is validated before anything runs.
* :func:`churn` generates random failures, seeded: same seed and arguments, same events.
* :func:`resolve` checks every target against the platform's plan (did-you-mean on a typo).
* :func:`run` applies the events at their time through ``playbooks/fault.yml`` (one playbook run
  per batch: events that fall due while a batch is being applied go into the next one) and
  appends one JSON line per applied event to the log, with the time it was applied.
"""
import csv
import datetime
import difflib
import io
import json
import math
import os
import random
import re
import time

import yaml

from vxlab import inventory as _inventory  # first: sets up Ansible's collection loader
from ansible_collections.vxlab.emulation.plugins.module_utils import _fault

FaultError = _fault.FaultError
TASK = "Fault events"
TRACE_KEYS = ("at",) + _fault.EVENT_KEYS[1:]
#: how an injected failure is undone (for churn)
UNDO = {"vnode_down": "vnode_up", "link_cut": "link_restore", "pnode_off": "pnode_on",
        "degrade": "undegrade", "freeze": "unfreeze"}
CHURN_KINDS = ("vnode_down", "link_cut", "degrade", "pnode_off", "freeze")
MAX_EVENTS = 100000


# --------------------------------------------------------------------------------------------
# pure: offsets, trace files, churn


def parse_offset(value, where=""):
    """Seconds (float >= 0) from ``12``, ``1.5``, ``500ms``, ``2s``, ``3m``, ``1h``."""
    units = {"": 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}
    seconds = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        m = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$", value)
        if m and m.group(2) in units:
            seconds = float(m.group(1)) * units[m.group(2)]
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise FaultError("%sat=%r: must be a time offset >= 0 in seconds (e.g. 12, 1.5, 500ms, "
                         "3m)" % (where + ": " if where else "", value))
    return round(seconds, 6)


def normalize(raw, where):
    """One trace entry (with ``at``) validated; returns ``{"at", "action", "target", ...}``."""
    if not isinstance(raw, dict):
        raise FaultError("%s: an event must be a mapping {at, target, action, ...}, not %r" % (where, raw))
    for key in raw:
        if key not in TRACE_KEYS:
            close = difflib.get_close_matches(str(key), TRACE_KEYS, n=1, cutoff=0.6)
            raise FaultError("%s: unknown key %r (allowed: %s)%s" % (
                where, key, ", ".join(TRACE_KEYS), "; did you mean %s?" % close[0] if close else ""))
    if raw.get("at") in (None, ""):
        raise FaultError("%s: at (the time offset) is missing" % where)
    at = parse_offset(raw["at"], where)
    event = _fault.normalize_event({k: v for k, v in raw.items() if k != "at"}, where)
    event["at"] = at
    return event


def parse_trace_text(text, name="trace", fmt=None):
    """Events of a trace given as text (``fmt``: ``yaml``, ``csv`` or None to guess), sorted by
    time (file order among equal times)."""
    if fmt is None:
        first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
        fmt = "csv" if re.match(r"^\s*at\s*,", first) else "yaml"
    events = []
    if fmt == "csv":
        rows = text.splitlines()
        reader = csv.reader(io.StringIO("\n".join(rows)))
        header = None
        for lineno, row in enumerate(reader, 1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [h.strip() for h in row]
                for h in header:
                    if h not in TRACE_KEYS:
                        close = difflib.get_close_matches(h, TRACE_KEYS, n=1, cutoff=0.6)
                        raise FaultError("%s line %d: unknown column %r (allowed: %s)%s" % (
                            name, lineno, h, ", ".join(TRACE_KEYS),
                            "; did you mean %s?" % close[0] if close else ""))
                continue
            if len(row) > len(header):
                raise FaultError("%s line %d: %d fields, the header has %d" % (name, lineno, len(row), len(header)))
            raw = {h: v.strip() for h, v in zip(header, row) if v.strip() != ""}
            events.append(normalize(raw, "%s line %d" % (name, lineno)))
            if len(events) > MAX_EVENTS:
                raise FaultError("%s: more than %d events" % (name, MAX_EVENTS))
        if header is None:
            raise FaultError("%s: empty CSV trace (expected a header at,target,action,...)" % name)
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise FaultError("%s: not valid YAML: %s" % (name, str(exc).splitlines()[0]))
        if isinstance(data, dict) and set(data) == {"events"}:
            data = data["events"]
        if not isinstance(data, list):
            raise FaultError("%s: a YAML trace must be a list of events (or {events: [...]}), not %s"
                             % (name, type(data).__name__))
        if len(data) > MAX_EVENTS:
            raise FaultError("%s: more than %d events" % (name, MAX_EVENTS))
        for i, raw in enumerate(data):
            events.append(normalize(raw, "%s event %d" % (name, i + 1)))
    events.sort(key=lambda e: e["at"])  # stable: file order among equal times
    return events


def parse_trace(path):
    """Events of a trace file (``.csv`` is CSV, anything else YAML unless it starts with an
    ``at,`` header)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise FaultError("trace %s: cannot read: %s" % (path, exc.strerror))
    fmt = "csv" if path.endswith(".csv") else None
    return parse_trace_text(text, os.path.basename(path), fmt)


def churn(vnodes, seed, rate, duration, mttr=5.0, kinds=("vnode_down",), pnodes=(), degrade=None):
    """Random failures and their repairs; deterministic for the same arguments.

    Failures arrive as a Poisson process of ``rate`` per second during ``duration`` seconds; each
    picks a kind among ``kinds`` and a target not already failed (vnodes; ``pnode_off`` picks
    among ``pnodes``), and is undone after an exponential time of mean ``mttr`` (every failure is
    undone by ``duration`` at the latest). ``degrade``: the shaping of ``degrade`` failures.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise FaultError("seed=%r: must be an integer" % (seed,))
    for key, value, lo in (("rate", rate, 0.0), ("duration", duration, 0.0), ("mttr", mttr, 0.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value <= lo:
            raise FaultError("%s=%r: must be a number > 0" % (key, value))
    if rate * duration > MAX_EVENTS / 2:
        raise FaultError("rate=%r x duration=%r: more than %d events" % (rate, duration, MAX_EVENTS))
    kinds = [_fault.normalize_action(k, "kinds") for k in kinds]
    for k in kinds:
        if k not in CHURN_KINDS:
            raise FaultError("kinds: %s is not a failure (one of %s)" % (k, ", ".join(CHURN_KINDS)))
    if "degrade" in kinds:
        if not degrade:
            raise FaultError("kinds: degrade needs the shaping to apply (e.g. rate=1mbit)")
        shaping = _fault.normalize_event(dict(degrade, action="degrade", target="x"), "degrade")
        shaping = {k: shaping[k] for k in _fault.SHAPING_KEYS if k in shaping}
    vnode_pool = sorted(set(vnodes))
    pnode_pool = sorted(set(pnodes))
    if any(k != "pnode_off" for k in kinds) and not vnode_pool:
        raise FaultError("churn: no vnodes to fail")
    if "pnode_off" in kinds and not pnode_pool:
        raise FaultError("churn: kinds has pnode_off but no pnodes are given")
    rng = random.Random(seed)
    events = []
    busy = {}  # target -> time it is repaired
    t = 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= duration:
            break
        kind = kinds[rng.randrange(len(kinds))]
        pool = pnode_pool if kind == "pnode_off" else vnode_pool
        free = [x for x in pool if busy.get(x, -1.0) <= t]
        if not free:
            continue
        target = free[rng.randrange(len(free))]
        repair = min(t + rng.expovariate(1.0 / mttr), duration)
        busy[target] = repair
        fail = {"at": round(t, 3), "action": kind, "target": target}
        if kind == "degrade":
            fail.update(shaping)
        events.append(fail)
        events.append({"at": round(repair, 3), "action": UNDO[kind], "target": target})
    events.sort(key=lambda e: e["at"])
    return events


def resolve(plan, events):
    """Check every target against the plan; return ``{event index: pnode applying it}``."""
    vnode_pnode = {v["name"]: v["pnode"] for v in plan.iter_vnodes()}
    pnodes = [p.name for p in plan.pnodes]
    where = {}
    for i, e in enumerate(events):
        if e["action"] in _fault.PNODE_ACTIONS:
            if e["target"] not in pnodes:
                close = difflib.get_close_matches(e["target"], pnodes, n=1, cutoff=0.6)
                raise FaultError("event %d (%s): target=%r is not a pnode of platform %s%s" % (
                    i + 1, e["action"], e["target"], plan.spec.platform,
                    "; did you mean %s?" % close[0] if close else ""))
            where[i] = e["target"]
        else:
            if e["target"] not in vnode_pnode:
                hint = ""
                if e["target"] in pnodes:
                    hint = "; it is a pnode (use pnode_off/pnode_on)"
                else:
                    close = difflib.get_close_matches(e["target"], sorted(vnode_pnode), n=1, cutoff=0.6)
                    hint = "; did you mean %s?" % close[0] if close else ""
                raise FaultError("event %d (%s): target=%r is not a vnode of platform %s%s"
                                 % (i + 1, e["action"], e["target"], plan.spec.platform, hint))
            if e["action"] in ("freeze", "unfreeze") and plan.spec.vnode_kind != "lxc":
                raise FaultError("event %d (%s %s): freeze/unfreeze need LXC vnodes; platform %s has "
                                 "%s vnodes" % (i + 1, e["action"], e["target"], plan.spec.platform,
                                                plan.spec.vnode_kind))
            where[i] = vnode_pnode[e["target"]]
    return where


def event_key(entry):
    """What must be identical when a trace is replayed (times excluded)."""
    return (entry.get("at"), entry["action"], entry["target"], entry.get("pnode"),
            entry.get("changed"), entry.get("ok"))


def _params(e):
    return {k: e[k] for k in _fault.SHAPING_KEYS if e.get(k) is not None}


def _now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------------------------
# applying


def default_log(loaded):
    return os.path.join(loaded.state_dir, "faults.jsonl")


def apply_batch(inventory, events, extra_vars=None, progress=None):
    """Apply ``events`` (validated, resolved) in one playbook run.

    Returns ``(RunResult, outcomes)``; ``outcomes[i]``: ``{pnode, changed, ok, error, remote}``.
    """
    from vxlab import api

    payload = []
    for i, e in enumerate(events):
        item = {"id": i, "action": e["action"], "target": e["target"]}
        item.update(_params(e))
        payload.append(item)
    extra = dict(extra_vars or {})
    extra["vxlab_fault_events"] = payload
    result = api.run_playbook("fault", inventory, extra_vars=extra, progress=progress, quiet=True,
                              capture=(TASK,))
    outcomes = [{"pnode": e.get("pnode"), "changed": None, "ok": False, "error": None, "remote": []}
                for e in events]
    reported = {}
    for host, results in result.captured.items():
        for res in results:
            for r in res.get("events") or []:
                o = outcomes[r["id"]]
                if r["scope"] == "remote":
                    if r.get("changed"):
                        o["remote"].append(host)
                    continue
                reported[r["id"]] = host
                o["changed"] = bool(r.get("changed"))
                o["before"], o["after"] = r.get("before"), r.get("after")
                o["ok"] = not res.get("failed")
                if res.get("failed"):
                    o["error"] = res.get("msg")
    for i, o in enumerate(outcomes):
        host = events[i].get("pnode")
        h = result.hosts.get(host) or {}
        if i not in reported or h.get("failed") or h.get("unreachable"):
            o["ok"] = False
            fails = h.get("failures") or []
            o["error"] = o["error"] or (fails[-1]["msg"] if fails else None) or (
                "pnode %s did not apply the event%s" % (
                    host, ": " + "; ".join(result.messages[-2:]) if result.messages else ""))
        o["remote"].sort()
    return result, outcomes


class Log:
    """Appends one JSON line per applied event (``path`` None: keep them in memory only)."""

    def __init__(self, path):
        self.path = path
        self.entries = []
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o755, exist_ok=True)

    def write(self, entry):
        self.entries.append(entry)
        if self.path:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            with os.fdopen(fd, "a") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")


def run(inventory, events, extra_vars=None, log_path=None, progress=None, dry_run=False,
        source="cli", sleep=time.sleep, clock=time.monotonic):
    """Validate ``events`` against the platform and apply them at their time (``at``).

    Returns ``{ok, platform, source, log, events: [...], batches}``; with ``dry_run`` only the
    resolved schedule is returned. Raises :class:`FaultError` (or ``PlanError``) for bad input,
    before anything is applied.
    """
    loaded = _inventory.load(inventory, extra_vars)
    plan = loaded.plan
    events = [dict(e) for e in events]
    for i, e in enumerate(events):
        e.setdefault("at", 0.0)
    events.sort(key=lambda e: e["at"])
    where = resolve(plan, events)
    for i, e in enumerate(events):
        e["pnode"] = where[i]
        e["seq"] = i + 1
    say = progress or (lambda line: None)
    if dry_run:
        return {"ok": True, "dry_run": True, "platform": plan.spec.platform, "source": source,
                "events": events, "batches": 0, "log": None}
    log = Log(log_path if log_path is not None else default_log(loaded))
    start = clock()
    started_iso = _now_iso()
    say("[fault] %d events on platform %s (%s), log %s"
        % (len(events), plan.spec.platform, source, log.path))
    pending = list(events)
    batches = 0
    ok = True
    while pending:
        due = pending[0]["at"]
        wait = due - (clock() - start)
        if wait > 0:
            sleep(wait)
        now = clock() - start
        batch = [e for e in pending if e["at"] <= now + 1e-6]
        pending = pending[len(batch):]
        batches += 1
        say("[fault] t=%.1fs batch %d: %s" % (now, batches, ", ".join(
            "%s %s" % (e["action"], e["target"]) for e in batch[:8]) + (" ..." if len(batch) > 8 else "")))
        result, outcomes = apply_batch(inventory, batch, extra_vars=extra_vars, progress=None)
        applied = clock() - start
        ts = _now_iso()
        for e, o in zip(batch, outcomes):
            entry = {"ts": ts, "t": round(applied, 3), "at": e["at"], "seq": e["seq"],
                     "batch": batches, "action": e["action"], "target": e["target"],
                     "pnode": e["pnode"], "params": _params(e), "changed": o["changed"],
                     "ok": o["ok"], "source": source, "started": started_iso}
            if o.get("remote"):
                entry["remote"] = o["remote"]
            if o.get("error"):
                entry["error"] = o["error"]
            log.write(entry)
            ok = ok and o["ok"]
            if not o["ok"]:
                say("[fault]   %s %s on %s FAILED: %s" % (e["action"], e["target"], e["pnode"], o["error"]))
    return {"ok": ok, "platform": plan.spec.platform, "source": source, "log": log.path,
            "events": log.entries, "batches": batches}
