"""Names, addresses and paths of a testbed (pure): the testbed's name rule, its pnodes' names,
the subnets it takes, and every path of its files (:func:`layout`).
"""
import ipaddress
import os
import re
import sys


NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")

POOL = "10.250.0.0/16"
#: where a testbed's vnode network is taken from when -e vxlab_vnode_network is not given: a /16
#: no other testbed, address or route of the machine uses, so testbeds never share a route

VNODE_POOL = "10.144.0.0/12"

#: pnode addresses are .1 to .MAX_PNODES of a site subnet (.253: the router, .254: the control host)
MAX_PNODES = 250

#: at most this many routed sites (underlay subnets) per testbed
MAX_SITES = 8

CONTROL_HOST = 254

#: where a bare pnode sees the machine's local package source (read-only; vxlab.testbed.bare)
BARE_SOURCE_MOUNT = "/srv/vxlab-source"

#: the variables that point a bare pnode's pnode_prepare at that source
BARE_SOURCE_VARS = {
    "vxlab_pnode_apt_source": "deb [trusted=yes] file:%s/debs ./" % BARE_SOURCE_MOUNT,
    "vxlab_pnode_pip_find_links": "%s/wheels" % BARE_SOURCE_MOUNT,
}

#: the router namespace's address in every site subnet (sites > 1)
ROUTER_HOST = 253

MTU = 1500

SSH_PORT = 22

SSHD = "/usr/sbin/sshd"

ALIAS_PREFIX = "vxlab-testbed:"
#: where every testbed keeps its private files (see the module documentation)

RUNTIME_ROOT = "/var/lib/vxlab-testbeds"

STATE_FILE = "testbed.json"

STATE_VERSION = 1
# a unix socket path holds 107 bytes; ssh appends ".XXXXXXXXXXXXXXXX" (17) to %C (40) while it
# creates the socket

_SUN_PATH_MAX = 107

_CP_TOKEN_LEN = 40 + 17 + 1
# variables the testbed sets per pnode: a -e value for them would be silently overridden

HOST_ONLY_VARS = ("vxlab_underlay_address", "vxlab_pnode_index")

_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TestbedError(RuntimeError):
    """A testbed operation failed; the message says what and, when it matters, how to recover."""


# --------------------------------------------------------------------------------------------
# pure: names, addresses, rendering, validation
def check_name(name):
    """Return ``name`` if it is a valid testbed name, else raise ValueError naming it."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError("testbed name %r is invalid: it must match %s (a lowercase letter, then "
                         "at most 7 lowercase letters or digits)" % (name, NAME_RE.pattern))
    return name


def check_pnodes(pnodes):
    if isinstance(pnodes, bool) or not isinstance(pnodes, int) or not 1 <= pnodes <= MAX_PNODES:
        raise ValueError("pnodes=%r is invalid: it must be an integer between 1 and %d"
                         % (pnodes, MAX_PNODES))
    return pnodes


def check_sites(sites, pnodes):
    """Return ``sites`` if it is a valid number of sites for ``pnodes`` pnodes, else raise ValueError."""
    if isinstance(sites, bool) or not isinstance(sites, int) or not 1 <= sites <= MAX_SITES:
        raise ValueError("sites=%r is invalid: it must be an integer between 1 and %d"
                         % (sites, MAX_SITES))
    if sites > pnodes:
        raise ValueError("sites=%d is invalid: it must not exceed the number of pnodes (%d): every "
                         "site holds at least one pnode" % (sites, pnodes))
    return sites


def bridge_name(name, site=1):
    """The underlay bridge of site ``site`` (1-based): ``vtNAME`` for site 1 (the only one of a
    one-site testbed), ``vtNAMEsK`` for site K > 1."""
    return "vt" + name if site == 1 else "vt%ss%d" % (name, site)


def router_netns(name):
    """The network namespace of the router joining the sites of a testbed with sites > 1."""
    return "vt-%s-r" % name


def netns_re(name):
    """The names of every network namespace testbed ``name`` makes: its pnodes' and its router's
    (what :func:`down` looks for when the record is missing or incomplete)."""
    return re.compile(r"^vt-%s-(p[0-9]+|r)$" % re.escape(name))


def site_of_pnodes(count, sites):
    """The site (1-based) of pnodes 1..``count``, in order and evenly: with ``count % sites``
    left over, the first sites get one pnode more (5 pnodes on 2 sites: 1 1 1 2 2)."""
    per, extra = divmod(count, sites)
    out = []
    for k in range(1, sites + 1):
        out += [k] * (per + (1 if k <= extra else 0))
    return out


def site_layout(name, subnets):
    """Per site K (1-based) of testbed ``name`` on the underlay ``subnets`` (one per site): its
    subnet, bridge, the control host's address there (``.254``) and, with several sites, the
    router's address (``.253``), the router leg's root-side link and its name in the router."""
    several = len(subnets) > 1
    return [{
        "site": k,
        "subnet": subnet,
        "bridge": bridge_name(name, k),
        "control_address": host_address(subnet, CONTROL_HOST),
        "router_address": host_address(subnet, ROUTER_HOST) if several else None,
        "router_if": "vt%sr%d" % (name, k) if several else None,
        "router_peer": "site%d" % k if several else None,
    } for k, subnet in enumerate(subnets, 1)]


def pnode_names(name, count):
    """Names of pnode ``i`` (1-based) of testbed ``name``: host, netns, root-side link, marker."""
    return [{
        "index": i,
        "name": "%s-p%d" % (name, i),
        "netns": "vt-%s-p%d" % (name, i),
        "root_if": "vt%sp%d" % (name, i),
        "marker": "vxlab-vt-%s-p%d" % (name, i),
    } for i in range(1, count + 1)]


def _net(text):
    return ipaddress.ip_network(text, strict=False)


def choose_subnet(used, pool=POOL, new_prefix=24):
    """The first /``new_prefix`` of ``pool`` that overlaps none of the networks in ``used``.

    ``used`` holds networks (``"a.b.c.d/len"``; a bare address counts as /32). Networks broader
    than the pool itself (the default route, a /8) are no conflict: the testbed's /24 route is
    more specific than they are.
    """
    pool_net = _net(pool)
    taken = []
    for text in used:
        try:
            n = _net(text)
        except ValueError:
            continue
        if n.version == 4 and n.prefixlen >= pool_net.prefixlen and n.overlaps(pool_net):
            taken.append(n)
    for candidate in pool_net.subnets(new_prefix=new_prefix):
        if not any(candidate.overlaps(n) for n in taken):
            return str(candidate)
    raise TestbedError("no free /%d left in %s (every one is used by an address, a route or "
                       "another testbed)" % (new_prefix, pool))


def choose_subnets(used, count, pool=POOL, new_prefix=24):
    """``count`` subnets, each chosen as :func:`choose_subnet` does, none overlapping another."""
    chosen = []
    while len(chosen) < count:
        chosen.append(choose_subnet(list(used) + chosen, pool=pool, new_prefix=new_prefix))
    return chosen


def host_address(subnet, i):
    return str(_net(subnet).network_address + i)


def layout(name, repo, root=None):
    """Every path of testbed ``name`` of checkout ``repo`` (absolute).

    The inventory directory in the checkout holds only what Ansible should read (``hosts.yml``,
    ``group_vars/``); everything else is in the testbed's private directory ``root/NAME``
    (default :data:`RUNTIME_ROOT`), root-owned and out of the checkout: sshd refuses keys below a
    writable directory, a collection build must not read sockets, Ansible must not try keys or
    JSON state as inventory sources.
    """
    tb_dir = os.path.join(os.path.abspath(repo), "inventories", name)
    private = os.path.join(root or RUNTIME_ROOT, name)
    keys = os.path.join(private, "keys")
    return {
        "dir": tb_dir,
        "private": private,
        "inventory": os.path.join(tb_dir, "hosts.yml"),
        "group_vars": os.path.join(tb_dir, "group_vars", "pnodes.yml"),
        "ssh_config": os.path.join(private, "ssh_config"),
        "state": os.path.join(private, STATE_FILE),
        "state_dir": os.path.join(private, "state"),
        "keys": keys,
        "pnode_key": os.path.join(keys, "pnodes_ed25519"),
        "vnode_key": os.path.join(keys, "vnodes_ed25519"),
        "host_key": os.path.join(keys, "ssh_host_ed25519_key"),
        "authorized_keys": os.path.join(keys, "authorized_keys"),
        "known_hosts": os.path.join(private, "known_hosts"),
        "sshd_dir": os.path.join(private, "sshd"),
        "mnt_dir": os.path.join(private, "mnt"),
        # ControlPersist sockets: short enough for a unix socket path with ssh's %C token
        "cp": os.path.join(private, "cp"),
        "python": _python(repo),
    }


def _python(repo):
    """The pnodes' Python: the checkout's virtualenv (pnodes share this filesystem), else the
    interpreter running vxlab."""
    venv = os.path.join(os.path.abspath(repo), ".venv", "bin", "python")
    return venv if os.path.exists(venv) or not os.path.exists(sys.executable) else sys.executable
