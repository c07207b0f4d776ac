# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Neighbour (ARP) table tuning of a pnode (private to the vxlab.emulation collection).

``validate`` (pure) -> ``observe`` (reads /proc/sys and two files) -> ``compute`` (pure: what to
write, what to save, what to persist) -> ``apply`` (the only code that changes the system).

Facts this follows (see the project's platform notes):

* ``net.ipv4.neigh.default.*`` exists only in the machine's initial network namespace; the
  ``gc_thresh1/2/3`` limits and the neighbour entry counter are global to the whole machine, so
  from a child namespace they cannot be set at all (reported as ``gc_thresh_settable: false``);
* every interface has its own aging values (``net.ipv4.neigh.<if>.base_reachable_time_ms`` and
  ``.gc_stale_time``), and new interfaces copy the initial namespace's defaults;
* ``base_reachable_time_ms`` is kept in jiffies, so the kernel may read back a value rounded up
  to the next tick (e.g. 30001 -> 30004 at HZ=250); values within one tick are equal.

``netdev_max_backlog`` (``net.core.netdev_max_backlog``, also global and initial-namespace only)
is the per-CPU queue every packet a veth or the VXLAN device hands to the stack passes through.
A bridge copies each broadcast (an ARP request) to every vnode port, so a burst of requests on a
pnode with hundreds of vnodes puts (requests x ports) packets in that queue at once; past its
default of 1,000 the kernel drops them and vnodes stop answering each other. It is sized, saved,
restored, raised (``policy: raise``) and persisted like the limits.

Originals are saved once per sysctl, before it is first changed, in ``<state_dir>/
neigh_limits.json``; ``state: absent`` writes them back and removes the persisted sysctl.d file.

``policy: raise`` is for a kernel several platforms share (the one-machine testbed: every
testbed's control host is this machine's initial namespace): the initial namespace's defaults
(``net.ipv4.neigh.default.*``, the limits and the aging values every new interface copies) are
only ever raised, to ``max(current, wanted)``, and are never lowered again, not even by
``state: absent``. Restoring "our" original would lower the limits under another platform still
running on the same kernel (it may have found our raised value, needed no write of its own, and
so saved nothing to restore). Per-interface values belong to one platform and stay exact.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_atomic, write_json
from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern, Failure, missing

SYSCTL_ROOT = "/proc/sys"
NEIGH_SUBDIR = "net/ipv4/neigh"
THRESH_KEYS = ("gc_thresh1", "gc_thresh2", "gc_thresh3")
AGING_KEYS = ("base_reachable_time_ms", "gc_stale_time")
#: global sysctls outside net.ipv4.neigh, settable from the initial namespace only
BACKLOG = "net.core.netdev_max_backlog"
#: the saved originals and the marker of our sysctl.d files keep the module's former name
#: (arp_tuning): files written by an earlier vxlab on deployed pnodes are still found and restored
STATE_FILE = "arp_tuning.json"
FILE_MARKER = "# vxlab.emulation.arp_tuning"
#: the longest kernel tick (HZ=100) in milliseconds: base_reachable_time_ms rounds up to a tick
TICK_MS = 10


LIMITS = {
    "gc_thresh1": (0, 2 ** 31 - 1),
    "gc_thresh2": (0, 2 ** 31 - 1),
    "gc_thresh3": (0, 2 ** 31 - 1),
    "base_reachable_time_ms": (1, 2 ** 31 - 1),
    # seconds kept in jiffies: INT_MAX / 1000 is safe for every HZ
    "gc_stale_time": (1, (2 ** 31 - 1) // 1000),
    "netdev_max_backlog": (1, 2 ** 31 - 1),
}

ARGUMENT_SPEC = dict(
    gc_thresh1=dict(type="int"),
    gc_thresh2=dict(type="int"),
    gc_thresh3=dict(type="int"),
    base_reachable_time_ms=dict(type="int"),
    gc_stale_time=dict(type="int"),
    netdev_max_backlog=dict(type="int"),
    interfaces=dict(type="list", elements="str", default=[]),
    persist=dict(type="str", choices=["auto", "yes", "no"], default="auto"),
    sysctl_file=dict(type="path"),
    platform=dict(type="str", default="vxlab"),
    state_dir=dict(type="path"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    policy=dict(type="str", choices=["exact", "raise"], default="exact"),
)
POLICIES = ("exact", "raise")


class NeighLimitsError(ValueError):
    """A bad parameter or a system that cannot take the requested values."""


# --------------------------------------------------------------------------------------------
# names


def sysctl_name(dev, key):
    """``net.ipv4.neigh.<dev>.<key>``; a dot inside an interface name is written ``/``."""
    return "net.ipv4.neigh.%s.%s" % (dev.replace(".", "/"), key)


def parse_sysctl_name(name):
    """Inverse of :func:`sysctl_name`: ``(dev, key)``; ``(None, key)`` for the input backlog."""
    if name == BACKLOG:
        return None, "netdev_max_backlog"
    prefix = "net.ipv4.neigh."
    if not name.startswith(prefix) or name.count(".") < 4:
        raise NeighLimitsError("%r is not a net.ipv4.neigh sysctl name" % (name,))
    dev, key = name[len(prefix):].rsplit(".", 1)
    return dev.replace("/", "."), key


def proc_path(name, root=SYSCTL_ROOT):
    """The file of a sysctl under ``root`` (``/proc/sys``, or a tree shaped like it in tests)."""
    dev, key = parse_sysctl_name(name)
    if dev is None:
        return os.path.join(root, "net", "core", key)
    return os.path.join(root, NEIGH_SUBDIR, dev, key)


# --------------------------------------------------------------------------------------------
# validate (pure)


def validate(params):
    """Normalise the module parameters; raise :class:`NeighLimitsError` naming the bad value."""
    out = {}
    for key in THRESH_KEYS + AGING_KEYS + ("netdev_max_backlog",):
        value = params.get(key)
        if value is None:
            out[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise NeighLimitsError("%s=%r must be an integer" % (key, value))
        lo, hi = LIMITS[key]
        if not lo <= value <= hi:
            raise NeighLimitsError("%s=%d must be between %d and %d" % (key, value, lo, hi))
        out[key] = value
    given = [(k, out[k]) for k in THRESH_KEYS if out[k] is not None]
    for (k1, v1), (k2, v2) in zip(given, given[1:]):
        if v1 > v2:
            raise NeighLimitsError("%s=%d is larger than %s=%d: gc_thresh1 <= gc_thresh2 <= "
                                   "gc_thresh3 must hold" % (k1, v1, k2, v2))
    interfaces = []
    for name in params.get("interfaces") or []:
        if not naming.is_ifname(name) or name in ("default", "all"):
            raise NeighLimitsError("interfaces: %r is not an interface name (1 to 15 characters "
                                   "among A-Z a-z 0-9 _ . -)" % (name,))
        if name not in interfaces:
            interfaces.append(name)
    out["interfaces"] = interfaces
    platform = params.get("platform") or "vxlab"
    if not naming.is_platform(platform):
        raise NeighLimitsError("platform=%r %s" % (platform, naming.PLATFORM_RULE))
    out["platform"] = platform
    out["persist"] = params.get("persist") or "auto"
    if out["persist"] not in ("auto", "yes", "no"):
        raise NeighLimitsError("persist=%r must be auto, yes or no" % (out["persist"],))
    out["policy"] = params.get("policy") or "exact"
    if out["policy"] not in POLICIES:
        raise NeighLimitsError("policy=%r must be exact or raise" % (out["policy"],))
    out["state"] = params.get("state") or "present"
    if out["state"] not in ("present", "absent"):
        raise NeighLimitsError("state=%r must be present or absent" % (out["state"],))
    for key, default in (("sysctl_file", "/etc/sysctl.d/60-vxlab-%s.conf" % platform),
                         ("state_dir", "/var/lib/vxlab/%s" % platform)):
        value = params.get(key) or default
        if not naming.is_safe_path(value):
            raise NeighLimitsError("%s=%r must be an absolute path of A-Z a-z 0-9 _ . - /" % (key, value))
        out[key] = os.path.normpath(value)
    if os.path.dirname(out["sysctl_file"]) == out["sysctl_file"]:
        raise NeighLimitsError("sysctl_file=%r must name a file" % (out["sysctl_file"],))
    return out


# --------------------------------------------------------------------------------------------
# observe


def _read(path):
    try:
        with open(path, "r") as f:
            return f.read()
    except (IOError, OSError) as exc:
        if exc.errno == 2:
            return None
        raise


def observe(want, root=SYSCTL_ROOT):
    """Everything :func:`compute` needs from the system, as plain data."""
    neigh = os.path.join(root, NEIGH_SUBDIR)
    has_default = os.path.isdir(os.path.join(neigh, "default"))
    saved_text = _read(os.path.join(want["state_dir"], STATE_FILE))
    try:
        saved = json.loads(saved_text) if saved_text else None
    except ValueError:
        raise NeighLimitsError("%s is not valid JSON: remove it or restore it by hand"
                               % os.path.join(want["state_dir"], STATE_FILE))
    names = []
    if has_default:
        names += [sysctl_name("default", k) for k in THRESH_KEYS + AGING_KEYS]
        if want["netdev_max_backlog"] is not None:
            names.append(BACKLOG)
    names += [sysctl_name(dev, k) for dev in want["interfaces"] for k in AGING_KEYS]
    names += sorted((saved or {}).get("sysctls", {}))
    values = {}
    for name in names:
        text = _read(proc_path(name, root))
        values[name] = text.strip() if text is not None else None
    return {
        "has_default": has_default,
        "interfaces": dict((dev, os.path.isdir(os.path.join(neigh, dev)))
                           for dev in want["interfaces"]),
        "values": values,
        "sysctl_file": _read(want["sysctl_file"]) if has_default else None,
        "saved": saved,
    }


# --------------------------------------------------------------------------------------------
# compute (pure)


def same_value(name, current, target):
    """Normalised comparison of a /proc value (text) with a target (int or text)."""
    if current is None or target is None:
        return current == target
    try:
        cur, tgt = int(str(current).strip()), int(str(target).strip())
    except ValueError:
        return " ".join(str(current).split()) == " ".join(str(target).split())
    if name.endswith(".base_reachable_time_ms"):
        return abs(cur - tgt) < TICK_MS
    return cur == tgt


def render_file(platform, targets):
    """The sysctl.d file: only the initial namespace's defaults (interfaces do not exist at boot)."""
    lines = ["%s for platform %s: generated, do not edit" % (FILE_MARKER, platform),
             "# neighbour-table limits and aging defaults (new interfaces copy the defaults)"]
    for key in THRESH_KEYS + AGING_KEYS:
        name = sysctl_name("default", key)
        if name in targets:
            lines.append("%s = %d" % (name, targets[name]))
    if BACKLOG in targets:
        lines += ["# input backlog: every broadcast is queued once per vnode port", "%s = %d" % (BACKLOG, targets[BACKLOG])]
    return "\n".join(lines) + "\n"


def compute(want, seen, check_mode=False):
    """Pure plan: ``{"writes", "save", "file", "targets", "tracker", "warnings", ...}``.

    A missing interface fails, except in check mode, where it is one an earlier step would make
    (the runner's check-mode rule): a warning, and its settings reported as to be written.

    ``writes``: ``[(name, value)]`` to write to /proc/sys, in order; ``save``: originals to add to
    the state file (``None``: leave it, ``False``: delete it); ``file``: the sysctl.d content to
    write (str), ``False`` to delete it, ``None`` to leave it alone.
    """
    warnings = []
    tracker = DifferenceTracker()
    values = seen["values"]
    has_default = seen["has_default"]
    saved = (seen["saved"] or {}).get("sysctls", {})
    result = {"gc_thresh_settable": has_default, "warnings": warnings, "tracker": tracker}

    if want["state"] == "absent":
        writes = []
        restored = {}
        kept = {}
        for name in sorted(saved):
            original, current = saved[name], values.get(name)
            if current is None:
                continue  # that interface is gone
            if want["policy"] == "raise" and is_shared(name):
                kept[name] = _num(current)  # never lowered: another platform may rely on it
                continue
            restored[name] = int(original)
            tracker.add(name, _num(current), int(original),
                        active=not same_value(name, current, original))
            if not same_value(name, current, original):
                writes.append((name, int(original)))
        file_action = None
        if has_default and seen["sysctl_file"] is not None:
            if seen["sysctl_file"].startswith(FILE_MARKER):
                file_action = False
                tracker.add("sysctl_file", seen["sysctl_file"], None)
            else:
                warnings.append("%s was not written by vxlab: left in place" % want["sysctl_file"])
        if seen["saved"] is not None:
            tracker.add("saved_originals", os.path.join(want["state_dir"], STATE_FILE), None)
        result.update(writes=writes, save=False if seen["saved"] is not None else None,
                      file=file_action, targets=restored, kept=kept)
        return result

    absent = [dev for dev, present in sorted(seen["interfaces"].items()) if not present]
    errors = []
    if absent:
        missing(check_mode, "interfaces: %s does not exist" % ", ".join(absent), errors, warnings,
                " in this network namespace")
    if errors:
        raise NeighLimitsError(errors[0])
    targets = {}
    if has_default:
        for key in THRESH_KEYS + AGING_KEYS:
            if want[key] is not None:
                targets[sysctl_name("default", key)] = want[key]
        if want["netdev_max_backlog"] is not None:
            targets[BACKLOG] = want["netdev_max_backlog"]
        if want["policy"] == "raise":
            for name in list(targets):
                targets[name] = raised(values.get(name), targets[name])
        merged = [targets.get(sysctl_name("default", k), _num(values[sysctl_name("default", k)]))
                  for k in THRESH_KEYS]
        if not merged[0] <= merged[1] <= merged[2]:
            raise NeighLimitsError(
                "gc_thresh1 <= gc_thresh2 <= gc_thresh3 would not hold: the result would be %d, "
                "%d, %d (given values mixed with the current ones); give all three" % tuple(merged))
    elif any(want[k] is not None for k in THRESH_KEYS + ("netdev_max_backlog",)):
        warnings.append(
            "gc_thresh1/2/3 and netdev_max_backlog not set: net.ipv4.neigh.default does not exist "
            "in this network namespace; the neighbour-table limits and the input backlog are "
            "global to the machine and can only be set from its initial network namespace (run "
            "this module there, e.g. on the host)")
    for dev in want["interfaces"]:
        for key in AGING_KEYS:
            if want[key] is not None:
                targets[sysctl_name(dev, key)] = want[key]
    if not has_default and not want["interfaces"] \
            and any(want[k] is not None for k in AGING_KEYS):
        warnings.append("base_reachable_time_ms/gc_stale_time not set: this network namespace has "
                        "no default neighbour parameters; list its interfaces in 'interfaces'")

    writes = []
    save = {}
    for name in sorted(targets):
        current = values.get(name)
        differs = not same_value(name, current, targets[name])
        tracker.add(name, _num(current), targets[name], active=differs)
        if differs:
            writes.append((name, targets[name]))
            if name not in saved and current is not None:
                save[name] = _num(current)

    file_action = None
    if has_default:
        content = render_file(want["platform"], targets) if want["persist"] != "no" else False
        current_file = seen["sysctl_file"]
        if current_file is not None and not current_file.startswith(FILE_MARKER):
            raise NeighLimitsError("%s exists and was not written by vxlab: refusing to replace it; "
                                   "choose another sysctl_file" % want["sysctl_file"])
        if content is False:
            if current_file is not None:
                file_action = False
                tracker.add("sysctl_file", current_file, None)
        elif content != current_file:
            file_action = content
            tracker.add("sysctl_file", current_file, content)
    elif want["persist"] == "yes":
        warnings.append("persist=yes ignored: a sysctl.d file is applied to the initial network "
                        "namespace at boot, and this is a child namespace")
    result.update(writes=writes, save=save or None, file=file_action, targets=targets)
    return result


def is_shared(name):
    """Whether a sysctl is one of the initial namespace's defaults (global to the kernel)."""
    return parse_sysctl_name(name)[0] in ("default", None)


def raised(current, wanted):
    """``policy: raise``: the value to hold, never below the current one (pure)."""
    cur = _num(current)
    if isinstance(cur, int) and cur > wanted:
        return cur
    return wanted


def _num(text):
    if text is None:
        return None
    try:
        return int(str(text).strip())
    except ValueError:
        return str(text).strip()


# --------------------------------------------------------------------------------------------
# apply


def apply(want, seen, plan, root=SYSCTL_ROOT):
    """Change the system as ``plan`` says: save originals first, then /proc/sys, then files."""
    state_file = os.path.join(want["state_dir"], STATE_FILE)
    if plan["save"]:
        data = dict(seen["saved"] or {"version": 1, "sysctls": {}})
        data["sysctls"] = dict(data.get("sysctls", {}), **plan["save"])
        write_json(state_file, data, 0o600, makedirs=True)
    for name, value in plan["writes"]:
        path = proc_path(name, root)
        try:
            with open(path, "w") as f:
                f.write("%d\n" % value)
        except (IOError, OSError) as exc:
            raise NeighLimitsError("writing %s = %d failed: %s" % (name, value, exc))
    if isinstance(plan["file"], str):
        write_atomic(want["sysctl_file"], plan["file"], 0o644, makedirs=True)
    elif plan["file"] is False and os.path.exists(want["sysctl_file"]):
        os.unlink(want["sysctl_file"])
    if plan["save"] is False and os.path.exists(state_file):
        os.unlink(state_file)


# --------------------------------------------------------------------------------------------
# module runner


class NeighLimits(Concern):
    """The ``vxlab.emulation.neigh_limits`` module's concern (sysctl files: no netlink)."""

    NAME = "neigh_limits"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ()
    ERRORS = (NeighLimitsError,)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        return observe(desired)

    def diff(self, ctx, desired, observed):
        plan = compute(desired, observed, ctx.check_mode)
        return Change(plan["tracker"], plan, warnings=plan["warnings"])

    def apply(self, ctx, desired, observed, change):
        plan = change.actions
        if not change.changed:
            return
        try:
            apply(desired, observed, plan)
        except (NeighLimitsError, IOError, OSError) as exc:
            raise Failure(str(exc), gc_thresh_settable=plan["gc_thresh_settable"])

    def result(self, ctx, desired, observed, change):
        plan = change.actions
        result = {
            "sysctls": dict(sorted(plan["targets"].items())),
            "gc_thresh_settable": plan["gc_thresh_settable"],
            "sysctl_file": desired["sysctl_file"] if observed["has_default"] and desired["persist"] != "no"
            and desired["state"] == "present" else None,
            "state_file": os.path.join(desired["state_dir"], STATE_FILE),
            "policy": desired["policy"],
        }
        if plan.get("kept"):
            result["kept"] = plan["kept"]
        return result

    def describe(self, exc, desired):
        return str(exc)
