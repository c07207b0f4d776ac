# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan's error and value checkers (private, pure): each checker returns the normalised value
or raises :class:`PlanError` naming the variable, the value and, when per pnode, the pnode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import json
import re
import socket

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - netaddr is pinned in requirements.txt
    netaddr = None  # the plan refuses to run without it (spec.py names the missing library)
    HAS_NETADDR = False

from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming

HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$")


class PlanError(ValueError):
    """A bad platform variable: names the variable, the value and (when per-pnode) the pnode."""

    def __init__(self, variable, value, reason, host=None):
        self.variable = variable
        self.value = value
        self.reason = reason
        self.host = host
        where = " on pnode %s" % host if host else ""
        super(PlanError, self).__init__("%s=%s%s: %s" % (variable, _show(value), where, reason))


def _show(value):
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


# --------------------------------------------------------------------------------------------
# value checkers: each returns the normalised value or raises PlanError naming the variable


def _int(variable, value, lo, hi, host=None):
    if isinstance(value, bool):
        raise PlanError(variable, value, "must be an integer, not a boolean", host)
    if isinstance(value, str) and re.match(r"^\s*-?[0-9]+\s*$", value):
        value = int(value)
    if not isinstance(value, int):
        raise PlanError(variable, value, "must be an integer", host)
    if value < lo or (hi is not None and value > hi):
        bound = "between %d and %d" % (lo, hi) if hi is not None else "at least %d" % lo
        raise PlanError(variable, value, "must be %s" % bound, host)
    return value


def _choice(variable, value, choices):
    if value not in choices:
        raise PlanError(variable, value, "must be one of %s" % ", ".join(choices))
    return value


def _ipv4(variable, value, host=None):
    if not isinstance(value, str):
        raise PlanError(variable, value, "must be an IPv4 address string", host)
    try:
        packed = socket.inet_aton(value)
    except (OSError, ValueError):
        raise PlanError(variable, value, "is not an IPv4 address", host)
    if socket.inet_ntoa(packed) != value.strip() or value.count(".") != 3:
        raise PlanError(variable, value, "is not a dotted-quad IPv4 address", host)
    return value.strip()


def _ipv4_network(variable, value, max_prefix=30):
    if not isinstance(value, str) or "/" not in value:
        raise PlanError(variable, value, "must be an IPv4 network in CIDR form, e.g. 10.144.0.0/16")
    addr, plen = value.split("/", 1)
    _ipv4(variable, addr)
    try:
        net = netaddr.IPNetwork(value, version=4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise PlanError(variable, value, "is not an IPv4 network in CIDR form")
    if not plen.isdigit() or net.prefixlen > max_prefix:
        raise PlanError(variable, value, "prefix must be between /0 and /%d" % max_prefix)
    if net.ip != net.network:
        raise PlanError(variable, value, "has host bits set; did you mean %s?" % net.cidr)
    return net


def _ifname(variable, value, host=None):
    if not naming.is_ifname(value):
        raise PlanError(variable, value, "must be an interface name of " + naming.IFNAME_RULE, host)
    return value


def _hint(name, candidates):
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return "; did you mean %s?" % close[0] if close else ""


def expand_names(variable, value):
    """Names of a ClusterShell-like set: ``"vx-[1-3,7],gw"`` -> vx-1 vx-2 vx-3 vx-7 gw; or a list."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise PlanError(variable, value, "must be a name, a range such as vxlab-[1-10,15], or a "
                            "list of them")
        for part in re.findall(r"[^,\[]*(?:\[[^\]]*\][^,\[]*)*", item.strip()):
            if not part:
                continue
            m = re.match(r"^([^\[\]]*)(?:\[([0-9,\s-]+)\]([^\[\]]*))?$", part)
            if not m or not HOSTNAME_RE.match(m.group(1) + "0" + (m.group(3) or "")):
                raise PlanError(variable, value, "%r is not a name or a range such as vxlab-[1-10,15]"
                                % part)
            if m.group(2) is None:
                names.append(part)
                continue
            for r in m.group(2).split(","):
                bounds = [b.strip() for b in r.split("-")]
                if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
                    raise PlanError(variable, value, "bad range %r in %r" % (r, part))
                lo, hi = int(bounds[0]), int(bounds[-1])
                if lo > hi or hi - lo > 1000000:
                    raise PlanError(variable, value, "bad range %r in %r" % (r, part))
                width = len(bounds[0]) if bounds[0].startswith("0") else 0
                names.extend("%s%0*d%s" % (m.group(1), width, i, m.group(3)) for i in range(lo, hi + 1))
    return names
