# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``lxc`` kind of the ``vxlab.emulation.vnodes`` module (private to the collection).

Each vnode is an LXC container under ``<state_dir>/lxc`` (the pnode's state directory of this
platform: everything in it is this platform's), on an overlay of the base image with a per-vnode
delta, a veth into the pnode bridge with the planned host-side name, and sshd as init. Its network
namespace is published as ``/run/netns/<vnode>`` while it runs (see :mod:`_lxc`).

* observe: the containers' configurations (files), their states and init PIDs (one ``lxc-ls``),
  one link dump of the pnode namespace, and per running vnode its namespace (links, addresses,
  routes) and cgroup limit files;
* plan (pure, :func:`plan`): per vnode ``create`` / ``reconfigure`` (restart) / ``config`` (limits
  only, no restart) / ``start`` / ``attach`` / ``alias`` / network repairs / ``limits``, and the
  containers to remove;
* apply: stops and starts in parallel with a bounded window, everything else in-process.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import missing
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute as nl
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import common
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import containers as lx
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups as cg
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import sshmux as _sshmux
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import CLIENT_SUBDIR

RUNNING = ("RUNNING", "FROZEN")


def lxcpath_of(state_dir):
    return os.path.join(state_dir, "lxc")


def keys_path(state_dir):
    return os.path.join(state_dir, "lxc-authorized_keys")


def host_key_path(state_dir):
    return os.path.join(state_dir, "lxc-host_key")


def client_dir_of(state_dir):
    """The platform's SSH client directory: ``<state_dir>/<platform>/client`` beside the pnode's
    own ``<state_dir>/<platform>/<pnode>`` (written by the dataplane role)."""
    return os.path.join(os.path.dirname(os.path.normpath(state_dir)), CLIENT_SUBDIR)


def normalise_keys(text):
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return "\n".join(lines) + ("\n" if lines else "")


# ----------------------------------------------------------------------------------------------
# pure: desired state


def desired(d, versions):
    """``{name: {"config": text, "files": {(controller, file): value}}}`` for every vnode."""
    lxcpath = lxcpath_of(d["state_dir"])
    out = {}
    for v in d["vnodes"]:
        lim = v["limits"]
        files = cg.wanted_files(lim, versions)
        c = {"platform": d["platform"], "name": v["name"], "lxcpath": lxcpath, "image": d["image"],
             "bridge": d["bridge"], "host_if": v["host_if"], "mac": v["mac"], "address": v["address"],
             "prefixlen": d["prefixlen"], "mtu": d["mtu"], "gateway": d["gateway"],
             "authorized_keys": keys_path(d["state_dir"]), "client_dir": client_dir_of(d["state_dir"]),
             "host_key": host_key_path(d["state_dir"]) if d.get("host_key") else None,
             "cgroup_lines": cg.lxc_config_lines(lim, versions)}
        out[v["name"]] = {"config": lx.render_config(c), "files": files}
    return out


# ----------------------------------------------------------------------------------------------
# observe


def _read_inside_pid(pid, name):
    """:func:`common.read_inside` of the network namespace of ``pid`` (None if it is gone)."""
    try:
        fd = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
    except OSError:
        return None
    sw = ns.NsSwitch()
    try:
        sw.enter_fd(fd, name)
        try:
            s = nl.Netlink()
        finally:
            sw.back()
        try:
            return common.read_inside(s)
        finally:
            s.close()
    finally:
        os.close(fd)
        sw.close()


def observe(d, sock, host, want):
    lxcpath = lxcpath_of(d["state_dir"])
    alias = naming.owner_alias(d["platform"])
    configs = lx.list_containers(lxcpath)
    st = lx.states(lxcpath) if configs else {}
    links = sock.links()
    names = common.index_names(links)
    bridge = links.get(d["bridge"]) if d.get("bridge") else None
    keys = _read_file(keys_path(d["state_dir"]))
    host_key = _read_file(host_key_path(d["state_dir"]))
    vnodes = {}
    for v in d["vnodes"]:
        name = v["name"]
        s = st.get(name, {})
        o = {"config": configs.get(name), "state": s.get("state", "STOPPED") if name in configs else None,
             "pid": s.get("pid"), "host": common.host_view(links.get(v["host_if"]), alias, names),
             "attached": False, "inside": None, "limits": None,
             "delta": name in configs and os.path.isdir(lx.delta_dir(lxcpath, name))}
        if o["state"] in RUNNING and o["pid"]:
            o["attached"] = lx.netns_attached(name, o["pid"])
            o["inside"] = _read_inside_pid(o["pid"], name)
            dirs = host.dirs_of_pid(o["pid"])
            if dirs:
                o["limits"] = host.read(dirs, want[name]["files"])
        vnodes[name] = o
    others = {n: {"state": st.get(n, {}).get("state", "STOPPED"), "pid": st.get(n, {}).get("pid")}
              for n in configs if n not in vnodes}
    return {"bridge": None if bridge is None else {"index": bridge["index"], "kind": bridge["kind"]},
            "vnodes": vnodes, "others": others, "keys": keys, "host_key": host_key,
            "containers": sorted(configs)}


def _read_file(path):
    """The text of ``path``, or None if it does not exist."""
    try:
        with open(path) as f:
            return f.read()
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
        return None


# ----------------------------------------------------------------------------------------------
# plan (pure)


def plan_vnode(v, d, o, w):
    """Pure: ``(actions, changes, error)`` for one vnode; ``changes``: ``{field: (before, after)}``."""
    host = o["host"]
    running = o["state"] in RUNNING
    if host is not None and not host["ours"] and not running:
        return [], {}, ("vnode %s: interface %s exists and is not owned by platform %s (alias %r); "
                        "refusing to touch it" % (v["name"], v["host_if"], d["platform"], host["alias"]))
    if o["config"] is None:
        return ["create"], {"container": (None, "running")}, None
    actions, changes = [], {}
    rest_now, cg_now = lx.config_sections(o["config"])
    rest_want, cg_want = lx.config_sections(w["config"])
    if rest_now != rest_want:
        changes["config"] = ("\n".join(rest_now), "\n".join(rest_want))
        return ["reconfigure"], changes, None
    if o.get("delta") is False:
        # its writable layer removed by hand: restarted on a new, empty one
        changes["delta"] = ("missing", "present")
        return ["reconfigure"], changes, None
    if cg_now != cg_want:
        changes["config_limits"] = (cg_now, cg_want)
        actions.append("config")
    if not running:
        changes["state"] = (o["state"], "RUNNING")
        return actions + ["start"], changes, None
    if not o["attached"]:
        changes["netns"] = (None, "/run/netns/%s" % v["name"])
        actions.append("attach")
    if host is None or o["inside"] is None or o["inside"]["eth0"] is None:
        changes["veth"] = ("missing", "present")
        return ["reconfigure"], changes, None
    if not host["ours"]:
        changes["alias"] = (host["alias"], naming.owner_alias(d["platform"]))
        actions.append("alias")
    repairs = common.vnode_repairs(v, d, o)
    # the MAC is set by LXC at start; a drift there or in MTU is repaired in place like the rest
    if repairs:
        changes.update(repairs)
        actions.append("repair")
    if o["limits"] is not None and o["limits"] != w["files"]:
        before = dict(("%s/%s" % k, val) for k, val in sorted(o["limits"].items()))
        after = dict(("%s/%s" % k, val) for k, val in sorted(w["files"].items()))
        changes["limits"] = (before, after)
        actions.append("limits")
    return actions, changes, None


def plan(d, obs, want, check_mode=False):
    """Pure: ``{"tracker", "actions": {name: [..]}, "repairs": {name: {..}}, "remove",
    "errors", "warnings", "keys"}``."""
    t = DifferenceTracker()
    out = {"actions": {}, "repairs": {}, "remove": [], "errors": [], "warnings": [], "keys": None,
           "host_key": None}
    if d["state"] == "present" and d["vnodes"]:
        b = obs["bridge"]
        if b is None:
            missing(check_mode, "bridge %s does not exist" % d["bridge"], out["errors"], out["warnings"])
        elif b["kind"] != "bridge":
            out["errors"].append("bridge=%s is a %s, not a bridge" % (d["bridge"], b["kind"]))
    wanted = [v["name"] for v in d["vnodes"]] if d["state"] == "present" else []
    existing = sorted(obs["containers"])
    out["remove"] = sorted(set(existing) - set(wanted))
    t.add("vnodes", existing, sorted(wanted))
    if d["state"] == "present":
        keys = normalise_keys(d["authorized_keys"])
        if obs["keys"] != keys:
            out["keys"] = keys
            t.add("authorized_keys", obs["keys"], keys)
        if d.get("host_key") and obs.get("host_key") != d["host_key"]:
            out["host_key"] = d["host_key"]
            # the private key never goes into a diff: its public half's fingerprint does
            t.add("host_key", _fingerprint(obs.get("host_key")), _fingerprint(d["host_key"]))
        for v in d["vnodes"]:
            o = obs["vnodes"][v["name"]]
            actions, changes, error = plan_vnode(v, d, o, want[v["name"]])
            if error:
                out["errors"].append(error)
                continue
            if actions:
                out["actions"][v["name"]] = actions
                out["repairs"][v["name"]] = dict((k, c) for k, c in changes.items()
                                                 if k not in ("config", "config_limits", "state", "netns",
                                                              "veth", "alias", "limits", "container"))
                if "create" not in actions:
                    t.add("vnode:" + v["name"], dict((k, b) for k, (b, a) in changes.items()),
                          dict((k, a) for k, (b, a) in changes.items()))
    elif obs["keys"] is not None:
        t.add("authorized_keys", obs["keys"], None)
    if d["state"] == "absent" and obs.get("host_key") is not None:
        t.add("host_key", _fingerprint(obs["host_key"]), None)
    out["tracker"] = t
    return out


def _fingerprint(private_key):
    if private_key is None:
        return None
    return _sshmux.key_fingerprint(_sshmux.public_key_of(private_key) or "") or "(unreadable key)"


def names_with(p, action):
    return sorted(n for n, acts in p["actions"].items() if action in acts)


# ----------------------------------------------------------------------------------------------
# apply


class LxcVnodeError(Exception):
    """Applying the plan failed; the message names the vnodes."""


def _fail_if(failures, what):
    if failures:
        names = sorted(failures)
        raise LxcVnodeError("%s failed for %d vnode(s): %s" % (
            what, len(names), "; ".join("%s: %s" % (n, failures[n]) for n in names[:5])))


def _write_keys(path, text, mode=0o644):
    # in place, not by rename: running containers bind-mount this very file (its inode)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, mode)
    try:
        os.fchmod(fd, mode)
        os.ftruncate(fd, 0)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def stop_and_remove(lxcpath, names, states, host, window, destroy=True):
    """Stop (thawing frozen ones first) and optionally destroy containers; clean their cgroups."""
    for n in names:
        lx.detach_netns(n)
    frozen = [n for n in names if states.get(n) == "FROZEN"]
    _fail_if(lx.run_parallel("unfreeze", lxcpath, frozen, window), "lxc-unfreeze")
    running = [n for n in names if states.get(n) in RUNNING]
    _fail_if(lx.run_parallel("stop", lxcpath, running, window), "lxc-stop")
    if destroy:
        for n in names:
            lx.destroy_dir(lxcpath, n)
    cg.remove_dirs(host, ["lxc.payload.%s" % n for n in names] + ["lxc.monitor.%s" % n for n in names])


def start_and_attach(sock, lxcpath, names, host_ifs, alias, window, configs=None):
    """Start containers ``names`` in parallel (writing ``configs[name]`` first, in the worker,
    where given), then publish their namespaces and mark their host veths ``host_ifs[name]``.

    The marking comes after every start, not as each container runs: the alias and the IPv6
    sysctl of a veth need the kernel's rtnl lock, which the starts hold most of the time; done
    between the starts each one waited for it, and the whole was no faster (tried with
    bench/bench_lxc.py's 246 vnodes)."""
    if not names:
        return
    configs = configs or {}
    for n in names:
        lx.detach_netns(n)
        idx = sock.link_index(host_ifs[n]) if host_ifs.get(n) else None
        if idx is not None:
            # a stale veth of ours (a container stopped while its namespace was pinned)
            sock.link_del(idx)

    def write(n):
        if n in configs:
            lx.write_config(lxcpath, n, configs[n])

    _fail_if(lx.run_parallel("start", lxcpath, names, window, before=write), "lxc-start")
    # lxc-start -d returns once its container runs: the init PIDs, from procfs
    pids = lx.started_pids(lxcpath, names)
    unknown = [n for n in names if n not in pids]
    if unknown:  # not readable from procfs: what lxc-ls says
        st = lx.states(lxcpath)
        bad = dict((n, "state %s after lxc-start" % st.get(n, {}).get("state")) for n in unknown
                   if st.get(n, {}).get("state") != "RUNNING" or not st.get(n, {}).get("pid"))
        _fail_if(bad, "start")
        pids.update((n, st[n]["pid"]) for n in unknown)
    for n in names:
        lx.attach_netns(n, pids[n])
        finish_host_side(sock, host_ifs[n], alias)


def finish_host_side(sock, host_if, alias):
    idx = sock.link_index(host_if)
    if idx is None:
        raise LxcVnodeError("host-side veth %s missing after start" % host_if)
    sock.link_set_alias(idx, alias)
    try:
        ns.sysctl_set("net.ipv6.conf.%s.disable_ipv6" % host_if, "1")
    except OSError:
        pass


def apply(d, obs, p, want, sock, switcher, host):
    lxcpath = lxcpath_of(d["state_dir"])
    alias = naming.owner_alias(d["platform"])
    window = d.get("window") or lx.DEFAULT_WINDOW
    by_name = dict((v["name"], v) for v in d["vnodes"])
    if p["remove"]:
        states = dict((n, obs["others"].get(n, {}).get("state")) for n in p["remove"])
        stop_and_remove(lxcpath, p["remove"], states, host, window)
    if d["state"] == "absent":
        for path in (keys_path(d["state_dir"]), host_key_path(d["state_dir"])):
            try:
                os.unlink(path)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
        try:
            os.rmdir(lxcpath)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY):
                raise
        return
    os.makedirs(lxcpath, 0o755, exist_ok=True)
    if p["keys"] is not None:
        _write_keys(keys_path(d["state_dir"]), p["keys"])
    if p["host_key"] is not None:
        _write_keys(host_key_path(d["state_dir"]), p["host_key"], 0o600)
    restart = names_with(p, "reconfigure")
    stop_and_remove(lxcpath, [n for n in restart if obs["vnodes"][n]["state"] in RUNNING],
                    dict((n, obs["vnodes"][n]["state"]) for n in restart), host, window, destroy=False)
    starting = names_with(p, "create") + restart + names_with(p, "start")
    configs = dict((n, want[n]["config"]) for n in names_with(p, "create") + restart + names_with(p, "config"))
    for n in set(configs) - set(starting):
        lx.write_config(lxcpath, n, configs[n])
    start_and_attach(sock, lxcpath, starting, dict((n, by_name[n]["host_if"]) for n in starting), alias,
                     window, configs)
    for n in names_with(p, "attach"):
        lx.attach_netns(n, obs["vnodes"][n]["pid"])
    for n in names_with(p, "alias"):
        finish_host_side(sock, by_name[n]["host_if"], alias)
    bridge_index = obs["bridge"]["index"] if obs["bridge"] else None
    for n in names_with(p, "repair"):
        with common.context(n, "repair"):
            common.repair_one(sock, switcher, by_name[n], d, obs["vnodes"][n], p["repairs"][n],
                              bridge_index)
    for n in names_with(p, "limits"):
        dirs = host.dirs_of_pid(obs["vnodes"][n]["pid"])
        if dirs is None:
            raise LxcVnodeError("vnode %s: its init process is gone" % n)
        host.write(dirs, want[n]["files"])


def observe_all(d):
    """``state=absent`` (or a change of kind): every container of this platform on this pnode."""
    lxcpath = lxcpath_of(d["state_dir"])
    configs = lx.list_containers(lxcpath)
    st = lx.states(lxcpath) if configs else {}
    return {"bridge": None, "vnodes": {}, "keys": _read_file(keys_path(d["state_dir"])),
            "host_key": _read_file(host_key_path(d["state_dir"])), "containers": sorted(configs),
            "others": dict((n, {"state": st.get(n, {}).get("state", "STOPPED")}) for n in configs)}


def diff_all(d, obs):
    """Pure: the plan that removes every container of ``observe_all``."""
    return plan(dict(d, state="absent", vnodes=[]), obs, {})


def apply_all(d, obs, p, sock, host):
    apply(dict(d, state="absent", vnodes=[]), obs, p, {}, sock, None, host)


def check_image(d):
    """The error of an image that is not a vnode root filesystem, or None."""
    if not os.path.isdir(d["image"]) or not os.path.exists(os.path.join(d["image"], lx.SSHD.lstrip("/"))):
        return ("image=%s is not a vnode root filesystem (no %s in it); build it with "
                "vxlab.emulation.lxc_image" % (d["image"], lx.SSHD))
    return None


def summary(p, d):
    """The module's ``vnodes`` return value of a plan."""
    return {
        "created": names_with(p, "create"),
        "started": sorted(set(names_with(p, "start")) | set(names_with(p, "reconfigure"))),
        "repaired": sorted(n for n, acts in p["actions"].items()
                           if set(acts) & {"reconfigure", "config", "attach", "alias", "repair", "limits"}),
        "removed": p["remove"],
        "total": len(d["vnodes"]),
    }
