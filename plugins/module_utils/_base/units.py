# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units of vxlab's settings, parsed and normalised once (private to the collection).

Rates as tc writes them (``10mbit``, ``1gbit``, ``500kbit``, ``125kbps`` = bytes/s, a bare number
is bit/s) normalise to bit/s; times (``5ms``, ``250us``, ``1s``, a bare number is microseconds) to
microseconds; loss (``0.1%`` or ``0.1``) to percent; sizes (``512M``, ``2G``, bytes) to bytes; a
CPU share is a fraction of one core; a CPU set a list such as ``0-1,3``. Equal settings written
differently therefore compare equal, and a re-run changes nothing. The plan validates
``vxlab_link_defaults`` / ``vxlab_links`` / vnode limits with these functions, and the modules
that apply them parse their parameters with the same ones.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

#: settings of one vnode link; the first four shape traffic out of the vnode, ingress_* into it
SHAPING_KEYS = ("rate", "delay", "jitter", "loss",
                "ingress_rate", "ingress_delay", "ingress_jitter", "ingress_loss")
#: largest rate a tbf takes without 64-bit attributes: 2^32-1 bytes/s
MAX_RATE = (2 ** 32 - 1) * 8
MAX_TIME_US = 2 ** 31 - 1
#: CPU limits: the CFS period, and the smallest quota the kernel takes (1 ms)
CPU_PERIOD_US = 100000
MIN_QUOTA_US = 1000
#: the smallest memory limit of a vnode (its sshd alone needs more)
MIN_MEMORY = 4 * 1024 * 1024
_SIZE_RE = re.compile(r"^\s*([0-9]+)\s*([kKmMgGtT]?)(i?[bB])?\s*$")
_CPUSET_RE = re.compile(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$")

_RATE_UNITS = {
    "": 1, "bit": 1, "kbit": 10 ** 3, "mbit": 10 ** 6, "gbit": 10 ** 9, "tbit": 10 ** 12,
    "kibit": 2 ** 10, "mibit": 2 ** 20, "gibit": 2 ** 30, "tibit": 2 ** 40,
    "bps": 8, "kbps": 8 * 10 ** 3, "mbps": 8 * 10 ** 6, "gbps": 8 * 10 ** 9, "tbps": 8 * 10 ** 12,
    "kibps": 8 * 2 ** 10, "mibps": 8 * 2 ** 20, "gibps": 8 * 2 ** 30,
}
_TIME_UNITS = {
    "": 1, "us": 1, "usec": 1, "usecs": 1, "ms": 1000, "msec": 1000, "msecs": 1000,
    "s": 10 ** 6, "sec": 10 ** 6, "secs": 10 ** 6,
}
_NUM_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z%/]*)\s*$")


class UnitError(ValueError):
    """A bad value (``what``, ``value``, ``reason``); link shaping also raises it when the kernel
    cannot shape (then only ``what``, the message)."""

    def __init__(self, what, value=None, reason=None):
        self.what, self.value, self.reason = what, value, reason
        text = what if reason is None else "%s=%r: %s" % (what, value, reason)
        super(UnitError, self).__init__(text)


def _split(what, value):
    if isinstance(value, bool):
        raise UnitError(what, value, "a boolean is not a value")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise UnitError(what, value, "not a finite number")
        return float(value), ""
    if not isinstance(value, str):
        raise UnitError(what, value, "must be a number or a string with a unit")
    m = _NUM_UNIT.match(value)
    if not m:
        raise UnitError(what, value, "not a number with a unit")
    return float(m.group(1)), m.group(2).lower()


def parse_rate(what, value):
    """``"10mbit"`` -> 10000000 (bit/s). tc units; a bare number is bit/s; ``bps`` is bytes/s."""
    number, unit = _split(what, value)
    unit = unit[:-2] if unit.endswith("/s") else unit
    if unit not in _RATE_UNITS:
        raise UnitError(what, value, "unknown rate unit %r (use bit, kbit, mbit, gbit, or bps, "
                        "kbps, mbps for bytes/s)" % unit)
    bits = int(round(number * _RATE_UNITS[unit]))
    if 0 < bits < 8:  # 0: no limit
        raise UnitError(what, value, "a rate must be at least 8bit")
    if bits > MAX_RATE:
        raise UnitError(what, value, "a rate must be at most %dbit (34gbit)" % MAX_RATE)
    return bits


def parse_time(what, value):
    """``"5ms"`` -> 5000 (microseconds). A bare number is microseconds, as in tc."""
    number, unit = _split(what, value)
    if unit not in _TIME_UNITS:
        raise UnitError(what, value, "unknown time unit %r (use us, ms or s)" % unit)
    us = int(round(number * _TIME_UNITS[unit]))
    if us > MAX_TIME_US:
        raise UnitError(what, value, "at most %ds" % (MAX_TIME_US // 10 ** 6))
    return us


def parse_loss(what, value):
    """``"0.1%"`` or ``0.1`` -> 0.1 (percent, 0-100, rounded to 1e-4)."""
    number, unit = _split(what, value)
    if unit not in ("", "%"):
        raise UnitError(what, value, "a loss is a percentage such as 0.1%")
    if not 0 <= number <= 100:
        raise UnitError(what, value, "a loss must be between 0% and 100%")
    return round(number, 4)


_PARSERS = {"rate": parse_rate, "delay": parse_time, "jitter": parse_time, "loss": parse_loss}


def normalise(what, settings, keep_null=False, complete=True):
    """Validate one vnode's settings dict; return it with canonical values.

    ``what`` names the origin in messages (``vxlab_link_defaults``, ``shaping.vxlab-3``...).
    Null entries are dropped (kept as None with ``keep_null``: a rule that removes a setting);
    zero values mean "none" and are dropped too. ``complete``: the settings are all a link gets,
    so a jitter needs a delay.
    """
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise UnitError(what, settings, "must be a dict of %s" % ", ".join(SHAPING_KEYS))
    out = {}
    for key in sorted(settings):
        if key not in SHAPING_KEYS:
            raise UnitError("%s.%s" % (what, key), settings[key],
                            "unknown setting (known: %s)" % ", ".join(SHAPING_KEYS))
        value = settings[key]
        if value is None:
            if keep_null:
                out[key] = None
            continue
        parsed = _PARSERS[key.replace("ingress_", "")]("%s.%s" % (what, key), value)
        if parsed:
            out[key] = parsed
        elif keep_null:
            out[key] = None
    for prefix in ("", "ingress_") if complete else ():
        if out.get(prefix + "jitter") and not out.get(prefix + "delay"):
            raise UnitError("%s.%sjitter" % (what, prefix), settings[prefix + "jitter"],
                            "a jitter needs a %sdelay" % prefix)
    return out


def show_rate(bits):
    for unit, factor in (("gbit", 10 ** 9), ("mbit", 10 ** 6), ("kbit", 10 ** 3)):
        if bits % factor == 0:
            return "%d%s" % (bits // factor, unit)
    return "%dbit" % bits


# ----------------------------------------------------------------------------------------------
# sizes and CPU (vnode limits)


def parse_size(param, value):
    """Bytes from ``536870912``, ``512M``, ``512MiB``, ``1g``; None stays None (no limit)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("%s=%r: must be a size such as 512M" % (param, value))
    if isinstance(value, int):
        n = value
    else:
        m = _SIZE_RE.match(str(value))
        if not m:
            raise ValueError("%s=%r: must be a size such as 512M, 2G or a number of bytes" % (param, value))
        n = int(m.group(1)) * 1024 ** " KMGT".index((m.group(2) or " ").upper())
    if n < MIN_MEMORY:
        raise ValueError("%s=%r: at least 4M (a vnode's sshd alone needs more)" % (param, value))
    return n


def parse_cpu(param, value):
    """A fraction of one core in (0, 1024]; None stays None (no limit)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("%s=%r: must be a fraction of a core such as 0.25" % (param, value))
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError("%s=%r: must be a fraction of a core such as 0.25" % (param, value))
    if not 0 < f <= 1024 or f * CPU_PERIOD_US < MIN_QUOTA_US:
        raise ValueError("%s=%r: must be between %.2f and 1024 (cores)" % (param, value,
                                                                           MIN_QUOTA_US / CPU_PERIOD_US))
    return f


def parse_cpuset(param, value):
    """A CPU list (``0``, ``0-1``, ``0,2``), spaces removed; None stays None (no limit)."""
    if value is None or value == "":
        return None
    value = str(value).replace(" ", "")
    if not _CPUSET_RE.match(value):
        raise ValueError("%s=%r: must be a CPU list such as 0, 0-1 or 0,2" % (param, value))
    return value
