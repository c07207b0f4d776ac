# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a deploy reads on each pnode before anything changes, and the refusal it derives (pure).

:data:`SCRIPT` runs on the pnode with the modules' interpreter (a constant program; what it reads
arrives as JSON on its standard input, never in the command line): the underlay interface's MTU
(``None``: no such interface) and whether that interpreter has pyroute2. :func:`refusal` turns
what it printed and this pnode's part of the plan into the first problem found, or ``""``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

SCRIPT = (
    "import importlib.util, json, sys\n"
    "want = json.load(sys.stdin)\n"
    "try:\n"
    "    with open('/sys/class/net/%s/mtu' % want['underlay_interface']) as f:\n"
    "        mtu = int(f.read())\n"
    "except (IOError, OSError, ValueError):\n"
    "    mtu = None\n"
    "print(json.dumps({'mtu': mtu, 'pyroute2': importlib.util.find_spec('pyroute2') is not None}))\n"
)


def script_input(part):
    """The standard input of :data:`SCRIPT` for this pnode's part of the plan."""
    return json.dumps({"underlay_interface": part["underlay_interface"]})


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
