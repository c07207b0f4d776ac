# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a deploy reads on each pnode before anything changes, and the refusal it derives (pure).

:data:`SCRIPT` runs on the pnode with the modules' interpreter (a constant program; what it reads
arrives as JSON on its standard input, never in the command line): the underlay interface's MTU
(``None``: no such interface), whether that interpreter has pyroute2 and which of the programs
the platform runs on the pnode (:func:`programs`) are missing. A pnode lacking either is
prepared (``pnode_prepare``); :func:`ready` says whether one needs nothing. :func:`refusal` turns
what it printed and this pnode's part of the plan into the first problem found, or ``""``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

SCRIPT = (
    "import importlib.util, json, shutil, sys\n"
    "want = json.load(sys.stdin)\n"
    "try:\n"
    "    with open('/sys/class/net/%s/mtu' % want['underlay_interface']) as f:\n"
    "        mtu = int(f.read())\n"
    "except (IOError, OSError, ValueError):\n"
    "    mtu = None\n"
    "path = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'\n"
    "missing = [p for p in want.get('programs', []) if shutil.which(p, path=path) is None]\n"
    "print(json.dumps({'mtu': mtu, 'pyroute2': importlib.util.find_spec('pyroute2') is not None,\n"
    "                  'missing': missing}))\n"
)

#: programs every pnode runs for the platform (iproute2's ip; sshd of netns vnodes and ping, which
#: `vxlab check` runs in them, come from the pnode's own file system)
PROGRAMS = ("ip", "sshd", "ping")
#: and those of LXC vnodes
LXC_PROGRAMS = ("lxc-start", "lxc-info")


def programs(part):
    """The programs this pnode's part of the plan runs on it (what pnode_prepare installs)."""
    return list(PROGRAMS) + (list(LXC_PROGRAMS) if part.get("vnode_kind") == "lxc" else [])


def script_input(part):
    """The standard input of :data:`SCRIPT` for this pnode's part of the plan."""
    return json.dumps({"underlay_interface": part["underlay_interface"], "programs": programs(part)})


def ready(observed):
    """Whether a pnode needs nothing installed: pyroute2 and every program are there."""
    return bool(observed.get("pyroute2")) and not observed.get("missing")


def parse(rc, stdout, stderr, python, host):
    """``(observed, refusal)``: what :data:`SCRIPT` printed, or why the pnode could not run it."""
    if rc == 0:
        try:
            observed = json.loads(stdout)
            if isinstance(observed, dict) and "mtu" in observed and "pyroute2" in observed:
                return observed, ""
        except ValueError:
            pass
    why = (stderr or stdout or "exit %s" % rc).strip()
    return None, "pnode %s: %s failed: %s" % (host, python, why)


def refusal(part, observed, host):
    """The first reason this pnode cannot take the platform (``""``: none), each naming the
    variable, its value, the pnode and the bound."""
    ifname = part["underlay_interface"]
    mtu = observed.get("mtu")
    if mtu is None:
        return "vxlab_underlay_interface=%s on pnode %s: no such interface" % (ifname, host)
    most = int(mtu) - int(part["vxlan_overhead"])
    if int(part["mtu"]) > most:
        return ("vxlab_mtu=%s: too large for the underlay of pnode %s (%s has MTU %s; VXLAN over IPv4 "
                "adds %s bytes, so vxlab_mtu can be at most %d)"
                % (part["mtu"], host, ifname, mtu, part["vxlan_overhead"], most))
    for net in part.get("networks") or []:
        if int(net["mtu"]) > most:
            return ("vxlab_networks[%s].mtu=%s: too large for the underlay of pnode %s (%s has MTU %s; "
                    "at most %d)" % (net["name"], net["mtu"], host, ifname, mtu, most))
    return ""
