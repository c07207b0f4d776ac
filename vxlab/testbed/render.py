"""What a testbed writes and runs, as data (pure): its Ansible inventory (validated as the plan
will read it), the pnodes' sshd configuration and start-up script, the ssh_config of the control
host, the login used to prove every pnode takes Ansible's connection, and the diagnosis of a
refused login.
"""
import re
import shlex

import yaml

from ansible_collections.vxlab.emulation.plugins.module_utils._base.naming import VXLAN_OVERHEAD, max_vnode_mtu
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import spec_from_hostvars
from vxlab.testbed import names


# Runs as `sh -c SCRIPT sh TMPDIR MARKER CONFIG` inside the pnode's network namespace, in a fresh
# private mount namespace. Every value is a positional parameter; the script itself is constant.
#  1. /sys is remounted so that it describes the pnode's network namespace (/sys/class/net shows
#     ib0 and lo); the cgroup hierarchies are carried over through TMPDIR so that LXC works;
#  2. /run/netns is detached (it holds other namespaces' bind mounts, which must not stay pinned
#     by this pnode) and replaced by a tmpfs whose source is MARKER: the pnode's private set of
#     named namespaces, and the tag by which down() recognises every process of this pnode;
#  3. the control host user's own shell start-up files (~/.bashrc, ~/.profile, ...) read as
#     empty: bash runs ~/.bashrc for every command sshd gives it, and a developer machine's may
#     start tools (this machine's runs `pyenv init`: ~0.25 s of CPU per SSH command, which every
#     Ansible task and every SSH session into a netns vnode, which shares this file system, would
#     pay); a real pnode has its own;
#  4. sshd replaces the shell: the process keeps the PID that started it.
SSHD_SCRIPT = (
    'set -e\n'
    'mount --rbind /sys/fs/cgroup "$1"\n'
    'umount -l /sys\n'
    'mount -t sysfs sysfs /sys\n'
    'mount --rbind "$1" /sys/fs/cgroup\n'
    'umount -l "$1"\n'
    'umount -l /run/netns 2>/dev/null || true\n'
    'mkdir -p /run/netns\n'
    'mount -t tmpfs -o mode=0755,size=1m "$2" /run/netns\n'
    'for f in .bashrc .bash_profile .bash_login .profile; do\n'
    '  if [ -f "${HOME:-/root}/$f" ]; then mount --bind /dev/null "${HOME:-/root}/$f"; fi\n'
    'done\n'
    'exec ' + names.SSHD + ' -D -e -f "$3"\n'
)


def ssh_common_args(paths):
    return ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=%s -o IdentitiesOnly=yes "
            "-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=%s/%%C"
            % (paths["known_hosts"], paths["cp"]))


def subnets_of(subnet):
    """The underlay subnets, one per site: ``subnet`` is one CIDR (one site) or a list of them."""
    return [subnet] if isinstance(subnet, str) else list(subnet)


def pnode_address(subnet, p):
    """The underlay (VTEP) address of pnode ``p``: host ``.INDEX`` of its site's subnet (site 1
    when ``p`` names none)."""
    return names.host_address(subnets_of(subnet)[p.get("site", 1) - 1], p["index"])


def render_inventory(name, pnodes, subnet, paths, extra_vars=None, vnode_network=None, bare=False):
    """The documents of ``hosts.yml`` and ``group_vars/pnodes.yml`` (plain data).

    ``pnodes``: :func:`pnode_names` entries (with ``site`` when ``subnet`` is a list of several
    site subnets: then ``vxlab_underlay_network`` is that list). Extra variables win over the
    testbed's group variables (``vxlab_platform`` defaults to the testbed name); per-pnode
    variables are set by the testbed and cannot be given.

    ``bare``: the pnodes have their own root (:mod:`vxlab.testbed.bare`): no
    ``ansible_python_interpreter`` (Ansible discovers it, as on a fresh real pnode), and
    ``pnode_prepare`` reads the local package source (``vxlab_pnode_apt_source``,
    ``vxlab_pnode_pip_find_links``), which extra variables may still override.
    """
    extra = check_extra_vars(name, extra_vars)
    common = ssh_common_args(paths)
    subnets = subnets_of(subnet)
    hosts = {}
    for p in pnodes:
        address = pnode_address(subnets, p)
        hosts[p["name"]] = {
            "ansible_host": address,
            "vxlab_underlay_address": address,
            "vxlab_pnode_index": p["index"] - 1,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": paths["pnode_key"],
            "ansible_ssh_common_args": common,
        }
        if not bare:
            hosts[p["name"]]["ansible_python_interpreter"] = paths["python"]
    hosts_doc = {"all": {"children": {"pnodes": {"hosts": hosts}}}}
    group_vars = {
        "vxlab_testbed": name,
        "vxlab_platform": name,
        "vxlab_underlay_network": subnets[0] if len(subnets) == 1 else subnets,
        "vxlab_state_dir": paths["state_dir"],
        "vxlab_ssh_key": paths["vnode_key"],
        "vxlab_control_access": "route",
    }
    if vnode_network:
        group_vars["vxlab_vnode_network"] = vnode_network
    if bare:
        group_vars.update(names.BARE_SOURCE_VARS)
    group_vars.update(extra)
    return hosts_doc, group_vars


def check_extra_vars(name, extra_vars):
    if extra_vars is None:
        return {}
    if not isinstance(extra_vars, dict):
        raise ValueError("extra_vars must be a mapping of variable names to values, not %r"
                         % (extra_vars,))
    for key, value in extra_vars.items():
        if not isinstance(key, str) or not names._VAR_RE.match(key):
            raise ValueError("extra variable name %r is invalid" % (key,))
        if key in names.HOST_ONLY_VARS:
            raise ValueError("%s=%r: the testbed sets this variable per pnode; it cannot be "
                             "given" % (key, value))
        if key == "vxlab_testbed" and value != name:
            raise ValueError("vxlab_testbed=%r: must be the testbed name %r" % (value, name))
    try:
        return yaml.safe_load(yaml.safe_dump(dict(extra_vars)))
    except yaml.YAMLError as exc:
        raise ValueError("extra variables cannot be written as YAML: %s" % exc)


def validate_inventory(hosts_doc, group_vars):
    """Validate the would-be inventory as Ansible will read it; raise the PlanError if any.

    Both documents go through a YAML round trip first, so what is validated is what is written.
    """
    hosts_doc = yaml.safe_load(yaml.safe_dump(hosts_doc))
    group_vars = yaml.safe_load(yaml.safe_dump(group_vars))
    hosts = hosts_doc["all"]["children"]["pnodes"]["hosts"]

    def hostvars_of(host):
        merged = dict(group_vars)
        merged.update(hosts[host])
        return merged

    spec = spec_from_hostvars(list(hosts), hostvars_of)
    # valid platforms the testbed's pnodes still cannot carry
    for p in spec.pnodes:
        if p.underlay_interface != "ib0":
            raise ValueError("vxlab_underlay_interface=%r: a testbed pnode's underlay interface "
                             "is 'ib0'" % p.underlay_interface)
    if spec.mtu > max_vnode_mtu(names.MTU):
        raise ValueError("vxlab_mtu=%d: the testbed underlay has MTU %d, so vnodes can have at "
                         "most %d (VXLAN adds %d bytes)" % (spec.mtu, names.MTU, max_vnode_mtu(names.MTU),
                                                            VXLAN_OVERHEAD))
    return spec


def render_sshd_config(address, paths, pidfile):
    return "\n".join([
        "# sshd of a vxlab testbed pnode (written by vxlab/testbed.py)",
        "ListenAddress %s" % address,
        "Port %d" % names.SSH_PORT,
        "HostKey %s" % paths["host_key"],
        "PidFile %s" % pidfile,
        "AuthorizedKeysFile %s" % paths["authorized_keys"],
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "UseDNS no",
        "PrintMotd no",
        "MaxStartups 100:30:200",
        "MaxSessions 100",
        # VERBOSE names a refused key and why (StrictModes, a key not authorised): what up()
        # quotes when a login fails
        "LogLevel VERBOSE",
        "Subsystem sftp internal-sftp",
        "",
    ])


def render_ssh_config(pnodes, subnet, paths):
    """An ``ssh -F`` configuration that reaches pnode ``NAME-pI`` (or its address) as root.

    ``subnet``: the underlay subnet, or the list of the sites' subnets (pnodes then name their
    ``site``)."""
    subnets = subnets_of(subnet)
    lines = ["# ssh -F %s NAME-pI   (vxlab testbed pnodes)" % paths["ssh_config"]]
    for p in pnodes:
        address = pnode_address(subnets, p)
        lines += ["Host %s %s" % (p["name"], address), "    HostName %s" % address]
    name = pnodes[0]["name"].rpartition("-p")[0]
    lines += [
        "Host %s-p* %s" % (name, " ".join("%s.*" % names.host_address(s, 0).rpartition(".")[0]
                                          for s in subnets)),
        "    User root",
        "    IdentityFile %s" % paths["pnode_key"],
        "    IdentitiesOnly yes",
        "    StrictHostKeyChecking no",
        "    UserKnownHostsFile %s" % paths["known_hosts"],
        "    ControlMaster auto",
        "    ControlPersist 60s",
        "    ControlPath %s/%%C" % paths["cp"],
        "    LogLevel ERROR",
        "",
    ]
    return "\n".join(lines)


def authorized_keys_text(pnode_pub):
    """The pnodes' ``authorized_keys``: the testbed's pnode key."""
    return pnode_pub + "\n"


def login_argv(paths, address):
    """``ssh ... root@ADDRESS true`` with the options Ansible uses for a testbed pnode (user, key,
    the inventory's ``ansible_ssh_common_args``), batch mode, and no connection sharing (the
    options ssh reads first win, so they come before the inventory's)."""
    return (["ssh", "-F", "/dev/null", "-o", "ControlMaster=no", "-o", "ControlPath=none",
             "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=10"]
            + shlex.split(ssh_common_args(paths))
            + ["-i", paths["pnode_key"], "-p", str(names.SSH_PORT), "-l", "root", address, "true"])


_REFUSED_RE = re.compile(r"Authentication refused: (.*)")

_FAILED_KEY_RE = re.compile(r"Failed publickey for (\S+) from .*? (SHA256:\S+)")


def diagnose_login(client_error, sshd_log, paths):
    """Pure: ``(sshd_says, likely_cause)`` of a failed login to a pnode, from the client's error
    and the pnode sshd's log (LogLevel VERBOSE)."""
    lines = [ln.strip() for ln in (sshd_log or "").splitlines() if ln.strip()]
    refused = [m.group(1) for m in map(_REFUSED_RE.search, lines) if m]
    failed = [m.group(2) for m in map(_FAILED_KEY_RE.search, lines) if m]
    says = "; ".join(sorted(set(ln for ln in lines if _REFUSED_RE.search(ln) or
                                _FAILED_KEY_RE.search(ln)))) or "(nothing logged)"
    if refused:
        cause = ("sshd's StrictModes refuses %s: a directory on its path is group- or "
                 "world-writable or not owned by root (%s)" % (paths["authorized_keys"], refused[-1]))
    elif failed:
        cause = ("the key offered (%s, fingerprint %s) is not in the pnode's authorized keys %s"
                 % (paths["pnode_key"], failed[-1], paths["authorized_keys"]))
    elif re.search(r"Connection (refused|timed out)|No route to host", client_error or ""):
        cause = "the pnode's sshd does not accept connections on port %d" % names.SSH_PORT
    elif re.search(r"Permission denied", client_error or ""):
        cause = "sshd refused every key offered (%s)" % paths["pnode_key"]
    else:
        cause = "see the pnode's sshd log"
    return says, cause


def sshd_argv(netns, mnt_dir, marker, config):
    """The argv that starts a pnode's sshd (see :data:`SSHD_SCRIPT`)."""
    return ["nsenter", "--net=/run/netns/" + netns, "unshare", "-m", "--propagation", "private",
            "sh", "-c", SSHD_SCRIPT, "sh", mnt_dir, marker, config]


def underlay_batch(name, subnet, pnodes):
    """``ip -batch`` lines for the initial namespace: a bridge per site (the control host's
    address ``.254`` on each), pnode namespaces, veth pairs into their site's bridge and, with
    several sites, the router namespace with a veth leg into every site bridge.

    ``subnet``: the underlay subnet, or the list of the sites' subnets (pnodes name their
    ``site``)."""
    sites = names.site_layout(name, subnets_of(subnet))
    alias = names.ALIAS_PREFIX + name
    lines = []
    for s in sites:
        br = s["bridge"]
        lines += [
            "link add %s type bridge mcast_snooping 0" % br,
            "link set dev %s mtu %d alias %s" % (br, names.MTU, alias),
            "addr add %s/%d dev %s" % (s["control_address"], names._net(s["subnet"]).prefixlen, br),
            "link set dev %s up" % br,
        ]
    for p in pnodes:
        lines += [
            "netns add %s" % p["netns"],
            "link add %s mtu %d type veth peer name ib0 mtu %d netns %s"
            % (p["root_if"], names.MTU, names.MTU, p["netns"]),
            "link set dev %s master %s alias %s up" % (p["root_if"], sites[p.get("site", 1) - 1]["bridge"], alias),
        ]
    if len(sites) > 1:
        router = names.router_netns(name)
        lines.append("netns add %s" % router)
        for s in sites:
            lines += [
                "link add %s mtu %d type veth peer name %s mtu %d netns %s"
                % (s["router_if"], names.MTU, s["router_peer"], names.MTU, router),
                "link set dev %s master %s alias %s up" % (s["router_if"], s["bridge"], alias),
            ]
    return "\n".join(lines) + "\n"


def router_batch(name, subnets):
    """``ip -n ROUTER -batch`` lines: the router's address ``.253`` on its leg into every site,
    legs and lo up (forwarding is a sysctl, set apart)."""
    lines = []
    for s in names.site_layout(name, subnets):
        lines += ["addr add %s/%d dev %s" % (s["router_address"], names._net(s["subnet"]).prefixlen,
                                             s["router_peer"]),
                  "link set dev %s mtu %d up" % (s["router_peer"], names.MTU)]
    return "\n".join(lines + ["link set dev lo up"]) + "\n"


def pnode_routes(name, subnets, site):
    """``[(subnet, via)]``: a pnode of site ``site`` reaches every other site's subnet through the
    router's address in its own site (nothing with one site)."""
    sites = names.site_layout(name, subnets)
    if len(sites) < 2:
        return []
    via = sites[site - 1]["router_address"]
    return [(s["subnet"], via) for s in sites if s["site"] != site]


def pnode_batch(subnet, index, routes=()):
    """``ip -n PNODE -batch`` lines: the underlay address on ib0, ib0 and lo up, then a route per
    ``(subnet, via)`` of ``routes`` (the other sites, through the router)."""
    return ("addr add %s/%d dev ib0\nlink set dev ib0 mtu %d up\nlink set dev lo up\n"
            % (names.host_address(subnet, index), names._net(subnet).prefixlen, names.MTU)
            + "".join("route add %s via %s dev ib0\n" % (dst, via) for dst, via in routes))
