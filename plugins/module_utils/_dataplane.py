# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pnode's whole data plane in one module call (private to the collection).

The ``dataplane`` role used to run one task per concern (bridge, VXLAN, neighbour-table tuning,
vnodes, ARP tables, link shaping). Each task is one module execution per pnode: an SSH round
trip, a Python start, Ansible's and pyroute2's imports (~1 s of CPU), which made the controller's
cost grow by seconds per pnode. This module runs the same steps in one process:

* :func:`step_params` (pure, unit-tested as data) turns the plan's part for the pnode
  (``vxlab_pnode``, see ``Plan.pnode_facts``) into each step's module parameters, exactly as the
  single-concern modules document them;
* :class:`Dataplane` (the module's concern) checks every step's parameters against that concern's
  own argument spec first (nothing is touched when one is wrong), then runs the steps in order,
  each through the runner exactly as its own module does (observe -> diff -> apply each, a step
  observing what the steps before it made), and returns every step's result, ``changed`` if any
  step changed something, and the steps' diffs. The SSH client files are a small concern of
  their own here (:class:`ClientFiles`).

The single-concern modules stay the public building blocks; this is their composition.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re

from ansible_collections.vxlab.emulation.plugins.module_utils._base.files import write_atomic
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.iproute import LinkCache
from ansible_collections.vxlab.emulation.plugins.module_utils._neigh_limits import NeighLimits
from ansible_collections.vxlab.emulation.plugins.module_utils._bridge import Bridge
from ansible_collections.vxlab.emulation.plugins.module_utils._link_matrix import LinkMatrix
from ansible_collections.vxlab.emulation.plugins.module_utils._link_shaping import LinkShaping
from ansible_collections.vxlab.emulation.plugins.module_utils._lxc_image import LxcImage
from ansible_collections.vxlab.emulation.plugins.module_utils._network_arp import NetworkArp
from ansible_collections.vxlab.emulation.plugins.module_utils._networks import DataNetworks
from ansible_collections.vxlab.emulation.plugins.module_utils._arp_tables import ArpTables
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import (
    Change,
    Concern,
    Failure,
    check_params,
    execute,
)
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import Vnodes
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import sshmux as _sshmux
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes.data import VnodeNetworks
from ansible_collections.vxlab.emulation.plugins.module_utils._vxlan import Vxlan

#: every step in the order it runs (the LXC vnodes' base image first, only for LXC vnodes and
#: only when no ``image`` is given: the vnodes step starts its containers from the root filesystem
#: it returns; the client files next: LXC vnodes bind-mount their directory; the VXLAN port joins the bridge; the data networks' bridges and VXLAN devices
#: before the neighbour tuning of their bridges; vnodes join the bridge; their data interfaces
#: join the data bridges; ARP tables (the management network's, then the data networks') and
#: qdiscs are set inside existing vnodes)
STEPS = ("lxc_image", "client_files", "bridge", "vxlan", "networks", "neigh_limits", "vnodes", "vnode_networks",
         "arp_tables", "network_arp", "link_shaping", "link_matrix")
#: the steps that are single-concern modules
MODULE_STEPS = tuple(s for s in STEPS if s != "client_files")
#: ``state: absent``, in this order: deleting the vnodes deletes their veths with their qdiscs and
#: neighbour tables and their data interfaces, deleting the VXLAN interface its FDB and neighbour
#: entries (no link_shaping pass first; the ARP steps only forget their records of filled tables);
#: the data networks go before the management bridge; the global neighbour settings are restored
#: last
ABSENT_STEPS = ("vnodes", "vnode_networks", "network_arp", "arp_tables", "link_matrix", "client_files", "vxlan",
                "networks", "bridge", "neigh_limits")

#: the concern of each step that is a module
CONCERNS = {
    "lxc_image": LxcImage(),
    "bridge": Bridge(),
    "vxlan": Vxlan(),
    "networks": DataNetworks(),
    "vnode_networks": VnodeNetworks(),
    "neigh_limits": NeighLimits(),
    "vnodes": Vnodes(),
    "arp_tables": ArpTables(),
    "network_arp": NetworkArp(),
    "link_shaping": LinkShaping(),
    "link_matrix": LinkMatrix(),
}

ARGUMENT_SPEC = dict(
    pnode=dict(type="dict", required=True),
    authorized_keys=dict(type="str", default="", no_log=False),  # public keys
    image=dict(type="path"),
    shared_kernel=dict(type="bool", default=False),
    gateway_mac=dict(type="str"),
    client_ssh_config=dict(type="str"),
    client_key=dict(type="str", no_log=True),
    host_key=dict(type="str", no_log=True),
    steps=dict(type="list", elements="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)

#: the keys of the plan's part this module reads (a missing one is named before anything runs)
PNODE_KEYS = ("platform", "pnode", "bridge", "vxlan", "mtu", "is_gateway", "gateway", "prefixlen",
              "vni", "vxlan_port", "underlay_interface", "vtep", "vxlan_mode", "remote_vteps",
              "base_reachable_time_ms", "gc_stale_time", "gc_thresh", "pnode_state_dir",
              "vnode_kind", "vnodes", "neigh_layout", "gateway_pnode")


#: the keys of a vnode of the plan's part that are its data networks' (the vnode_networks step's)
DATA_KEYS = ("interfaces", "routes", "router", "matrix")


#: a vxlab_lxc_image that names a tarball (anything else is a root filesystem directory)
TARBALL = re.compile(r"\.(tar|tgz|txz)(\.[a-z0-9]+)?$")


class DataplaneError(ValueError):
    pass


def check_steps(steps, state):
    """The steps to run, in their order for ``state`` (all of them when ``steps`` is None)."""
    order = STEPS if state == "present" else ABSENT_STEPS
    if steps is None:
        return list(order)
    unknown = [x for x in steps if x not in order]
    if unknown:
        raise DataplaneError("steps: unknown step(s) %s for state %s (known: %s)"
                             % (", ".join(unknown), state, ", ".join(order)))
    return [x for x in order if x in steps]


def absent_params(p):
    """``{step: module parameters}`` that remove the data plane of the pnode (pure)."""
    for k in ("platform", "bridge", "vxlan", "pnode_state_dir", "vnode_kind"):
        if k not in p:
            raise DataplaneError("pnode: the plan's part lacks %s" % k)
    return {
        "vnodes": {"platform": p["platform"], "kind": p["vnode_kind"], "bridge": p["bridge"],
                   "vnodes": [], "state_dir": p["pnode_state_dir"], "state": "absent"},
        "vxlan": {"name": p["vxlan"], "platform": p["platform"], "state": "absent"},
        "networks": {"platform": p["platform"], "state": "absent"},
        "vnode_networks": {"platform": p["platform"], "state_dir": p["pnode_state_dir"], "state": "absent"},
        "network_arp": {"platform": p["platform"], "state_dir": p["pnode_state_dir"], "state": "absent"},
        "arp_tables": {"platform": p["platform"], "vxlan": p["vxlan"], "state_dir": p["pnode_state_dir"],
                       "state": "absent"},
        "link_matrix": {"platform": p["platform"], "state_dir": p["pnode_state_dir"], "state": "absent"},
        "bridge": {"name": p["bridge"], "platform": p["platform"], "state": "absent"},
        "neigh_limits": {"platform": p["platform"], "state_dir": p["pnode_state_dir"], "state": "absent"},
    }


def step_params(p, steps=STEPS, authorized_keys="", image=None, shared_kernel=False, gateway_mac=None,
                host_key=None):
    """``{step: module parameters}`` for the plan part ``p`` of one pnode (pure)."""
    missing = [k for k in PNODE_KEYS if k not in p]
    if missing:
        raise DataplaneError("pnode: the plan's part lacks %s (pass vxlab_pnode as computed by "
                             "vxlab.emulation.plan)" % ", ".join(missing))
    steps = check_steps(steps, "present")
    arp_mode = p.get("arp_mode") or "dynamic"
    out = {}
    if p["vnode_kind"] == "lxc" and image is None:
        # the plan's vxlab_lxc_image: a root filesystem directory or a tarball; none: build one
        given = p.get("lxc_image")
        out["lxc_image"] = {"tarball": given} if given and TARBALL.search(given) else \
            ({"rootfs": given} if given else {})
    out["bridge"] = {
        "name": p["bridge"], "platform": p["platform"], "mtu": p["mtu"],
        "addresses": ["%s/%s" % (p["gateway"], p["prefixlen"])] if p["is_gateway"] else [],
        "forwarding": bool(p["is_gateway"]),
    }
    if p["is_gateway"] and p.get("gateway_mac"):
        out["bridge"]["mac"] = p["gateway_mac"]
    vx = {
        "name": p["vxlan"], "platform": p["platform"], "vni": p["vni"], "port": p["vxlan_port"],
        "underlay_interface": p["underlay_interface"], "local": p["vtep"], "mode": p["vxlan_mode"],
        "remote_vteps": p["remote_vteps"] if p["vxlan_mode"] == "unicast" else [],
        "mtu": p["mtu"], "master": p["bridge"],
        # suppress: the VXLAN device answers ARP from its own table (filled by arp_tables)
        "learning": arp_mode != "suppress", "proxy": arp_mode == "suppress",
    }
    if p.get("vxlan_group"):
        vx["group"] = p["vxlan_group"]
    out["vxlan"] = vx
    networks = p.get("networks") or []
    out["networks"] = {
        "platform": p["platform"], "networks": networks, "port": p["vxlan_port"],
        "underlay_interface": p["underlay_interface"], "local": p["vtep"], "mode": p["vxlan_mode"],
    }
    arp = {
        "platform": p["platform"], "base_reachable_time_ms": p["base_reachable_time_ms"],
        "gc_stale_time": p["gc_stale_time"],
        "interfaces": [p["underlay_interface"], p["bridge"]] + [n["bridge"] for n in networks],
        "state_dir": p["pnode_state_dir"],
    }
    if not shared_kernel:
        # gc_thresh and the input backlog are global to a machine's initial namespace: on a
        # testbed whose pnodes share one kernel the control host sets them once for all of them
        arp.update(gc_thresh1=p["gc_thresh"][0], gc_thresh2=p["gc_thresh"][1], gc_thresh3=p["gc_thresh"][2])
        if p.get("netdev_max_backlog") is not None:
            arp["netdev_max_backlog"] = p["netdev_max_backlog"]
    out["neigh_limits"] = arp
    vn = {
        "platform": p["platform"], "kind": p["vnode_kind"], "bridge": p["bridge"],
        "vnodes": [dict((k, v[k]) for k in v if k not in DATA_KEYS) for v in p["vnodes"]],
        "prefixlen": p["prefixlen"], "mtu": p["mtu"], "gateway": p["gateway"],
        "authorized_keys": authorized_keys, "state_dir": p["pnode_state_dir"], "host_key": host_key,
        "cpu": p.get("vnode_cpu"), "cpuset": p.get("vnode_cpuset"), "memory": p.get("vnode_memory"),
    }
    if p["vnode_kind"] == "lxc":
        vn["image"] = image
    out["vnodes"] = vn
    out["vnode_networks"] = {
        "platform": p["platform"], "state_dir": p["pnode_state_dir"],
        "networks": p.get("data_networks") or [],
        "vnodes": [{"name": v["name"], "host_if": v["host_if"], "interfaces": v.get("interfaces") or [],
                    "routes": v.get("routes") or [], "router": bool(v.get("router"))} for v in p["vnodes"]],
    }
    nt = {
        "platform": p["platform"], "mode": arp_mode, "pnode": p["pnode"], "layout": p["neigh_layout"],
        "vxlan": p["vxlan"], "gateway_pnode": p["gateway_pnode"], "state_dir": p["pnode_state_dir"],
    }
    # the planned MAC of the gateway pnode's bridge (a parameter overrides it)
    gateway_mac = gateway_mac or p.get("gateway_mac")
    if gateway_mac:
        nt["gateway_mac"] = gateway_mac
    out["arp_tables"] = nt
    out["network_arp"] = {
        "platform": p["platform"], "vtep": p["vtep"], "state_dir": p["pnode_state_dir"],
        "networks": [{"name": n["name"], "cidr": n["cidr"], "vxlan": n["vxlan"], "arp_mode": n["arp_mode"],
                      "members": n.get("members") or []} for n in networks],
        "vnodes": [{"name": v["name"], "interfaces": v["interfaces"]} for v in p["vnodes"] if v.get("interfaces")],
    }
    out["link_shaping"] = {"platform": p["platform"], "vnodes": p["vnodes"], "shaping": p.get("shaping") or {}}
    shaping = p.get("shaping") or {}
    out["link_matrix"] = {
        "platform": p["platform"], "state_dir": p["pnode_state_dir"], "entries": p.get("link_matrix") or [],
        "vnodes": [{"name": v["name"], "matrix": v["matrix"]} for v in p["vnodes"] if v.get("matrix")],
        "totals": dict((name, s["rate"]) for name, s in shaping.items() if s.get("rate")),
    }
    return dict((s, out[s]) for s in MODULE_STEPS if s in steps and s in out)


# --------------------------------------------------------------------------------------------
# the vnodes' SSH client files (vnode-to-vnode SSH: TakTuk's tree, users' tools)


def client_files(p, ssh_config, key, host_key=None):
    """``{path: (text, mode)}`` of the platform's client directory on this pnode (pure): the
    vnodes' ssh_config, the platform's key and, with the vnodes' ``host_key``, the known_hosts
    line that trusts it for every vnode address."""
    for k in ("client_dir", "client_ssh_config", "client_key"):
        if k not in p:
            raise DataplaneError("pnode: the plan's part lacks %s" % k)
    if ssh_config is None or key is None:
        raise DataplaneError("client_ssh_config and client_key: both are needed for the client_files step")
    files = {p["client_ssh_config"]: (ssh_config, 0o644),
             p["client_key"]: (key if key.endswith("\n") else key + "\n", 0o600)}
    if host_key:
        public = _sshmux.public_key_of(host_key)
        if public is None:
            raise DataplaneError("host_key: not an unencrypted OpenSSH private key")
        for k in ("client_known_hosts", "host_patterns"):
            if k not in p:
                raise DataplaneError("pnode: the plan's part lacks %s" % k)
        files[p["client_known_hosts"]] = ("%s %s\n" % (p["host_patterns"], public), 0o644)
    return files


def remove_client_files(directory, check_mode):
    """Remove the platform's client directory; ``(changed, actions)``. Pnodes sharing one
    filesystem remove it at the same time: what another one removed first is not an error."""
    if not os.path.lexists(directory):
        return False, []
    if not check_mode:
        for root, dirs, names in os.walk(directory, topdown=False):
            for name in names:
                _unless_gone(os.unlink, os.path.join(root, name))
            for name in dirs:
                _unless_gone(os.rmdir, os.path.join(root, name))
        _unless_gone(os.rmdir, directory)
    return True, ["remove " + directory]


def _unless_gone(remove, path):
    """``remove(path)``, where a path another pnode removed first is not an error."""
    try:
        remove(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def _read(path):
    try:
        with open(path) as f:
            return f.read(), os.stat(path).st_mode & 0o7777
    except (IOError, OSError):
        return None, None


def sync_client_files(directory, files, check_mode):
    """Make ``directory`` (0700) hold exactly ``files``' text and modes; return (changed, diff).

    Each file is written to a temporary name and renamed, so pnodes sharing one filesystem (the
    one-machine testbed) may write the same files at the same time."""
    changes = []
    try:
        st = os.stat(directory)
        if st.st_mode & 0o777 != 0o700:
            changes.append(("mode", directory))
    except OSError:
        changes.append(("mkdir", directory))
    for path, (text, mode) in sorted(files.items()):
        have, have_mode = _read(path)
        if have != text:
            changes.append(("write", path))
        elif have_mode != mode:
            changes.append(("chmod", path))
    if changes and not check_mode:
        for what, path in changes:
            if what == "mkdir":
                try:
                    os.makedirs(path, 0o700)
                except OSError as exc:
                    if exc.errno != errno.EEXIST:
                        raise
                os.chmod(path, 0o700)
            elif what == "mode":
                os.chmod(path, 0o700)
            elif what == "chmod":
                os.chmod(path, files[path][1])
            else:
                text, mode = files[path]
                write_atomic(path, text, mode)
    done = ["%s %s" % (w, path) for w, path in changes]
    # what was done, by path: the key's text never goes into a diff
    return bool(changes), done, {"before": "", "after": "".join(line + "\n" for line in done)}


class ClientFiles(Concern):
    """The ``client_files`` step: the platform's client directory holds exactly ``files``."""

    NAME = "client_files"
    NEEDS = ()

    def validate(self, params):
        return params

    def diff(self, ctx, desired, observed):
        if desired["state"] == "present":
            changed, done, diff = sync_client_files(desired["directory"], desired["files"], True)
        else:
            changed, done = remove_client_files(desired["directory"], True)
            diff = {"before": "".join(x + "\n" for x in done), "after": ""}
        return Change(actions=done, changed=changed, diff=dict(diff, before_header=self.NAME,
                                                               after_header=self.NAME))

    def apply(self, ctx, desired, observed, change):
        if desired["state"] == "present":
            sync_client_files(desired["directory"], desired["files"], False)
        else:
            remove_client_files(desired["directory"], False)

    def result(self, ctx, desired, observed, change):
        return {"actions": change.actions}

    def describe(self, exc, desired):
        return str(exc)


CLIENT_FILES = ClientFiles()


def validated(step, params):
    """The step's parameters checked and completed (defaults, types) by its own argument spec."""
    try:
        return check_params(CONCERNS[step], params)
    except Failure as failure:
        raise DataplaneError("%s: %s" % (step, failure.msg))


class Dataplane(Concern):
    """The ``vxlab.emulation.dataplane`` module's concern: the steps' concerns, each run by the
    runner in turn (each observes what the steps before it made, so the composition applies as
    it goes: :meth:`diff` returns an applied change)."""

    NAME = "dataplane"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ()
    ERRORS = (DataplaneError,)

    def invocation(self, params):
        """The parameters with the plan's part summed up (its vnode list is what makes a result
        large); the texts are left to Ansible's no_log filtering (keys) or shown by length."""
        shown = dict((k, v) for k, v in params.items() if k not in ("pnode", "client_ssh_config", "authorized_keys"))
        pnode = params.get("pnode") or {}
        shown["pnode"] = {"pnode": pnode.get("pnode"), "platform": pnode.get("platform"),
                          "vnodes": len(pnode.get("vnodes") or []),
                          "summary": "vxlab_pnode, the plan's part of this pnode (shortened in results)"}
        for k in ("client_ssh_config", "authorized_keys"):
            if params.get(k):
                shown[k] = "(%d characters)" % len(params[k])
        return shown

    def validate(self, params):
        try:
            return self._validate(params)
        except DataplaneError as exc:
            raise DataplaneError("dataplane: %s" % exc)

    def _validate(self, params):
        state = params["state"]
        pnode = params["pnode"]
        steps = check_steps(params["steps"], state)
        if state == "present":
            wanted = step_params(pnode, steps, params["authorized_keys"], params.get("image"),
                                 params["shared_kernel"], params.get("gateway_mac"), params.get("host_key"))
        else:
            wanted = dict((k, v) for k, v in absent_params(pnode).items() if k in steps)
        if "client_files" in steps:
            if "client_dir" not in pnode:
                raise DataplaneError("pnode: the plan's part lacks client_dir")
            files = client_files(pnode, params.get("client_ssh_config"), params.get("client_key"),
                                 params.get("host_key")) if state == "present" else None
            wanted["client_files"] = {"state": state, "directory": pnode["client_dir"], "files": files}
        # every step's parameters are checked before the first one touches anything
        checked = dict((step, wanted[step] if step == "client_files" else validated(step, wanted[step]))
                       for step in steps if step in wanted)
        return {"steps": steps, "params": checked}

    def diff(self, ctx, desired, observed):
        results, diffs = {}, []
        changed = False
        # the steps observe the pnode's links one after another: one dump serves them while none
        # of them changes anything (the runner empties it when one may have)
        links = LinkCache()
        for step in desired["steps"]:
            if step not in desired["params"]:
                continue  # lxc_image: not this pnode's kind of vnodes, or an image was given
            concern = CONCERNS.get(step, CLIENT_FILES)
            try:
                result = execute(concern, desired["params"][step], ctx.check_mode, ctx.diff_mode,
                                 lambda text, s=step: ctx.warn("%s: %s" % (s, text)), links)
            except Failure as failure:
                # a concern's own message may already start with its name
                msg = failure.msg if failure.msg.startswith(step + ": ") else "%s: %s" % (step, failure.msg)
                raise Failure(msg, step=step, changed=changed, steps=results)
            changed = changed or bool(result.get("changed"))
            diff = result.pop("diff", None)
            if result.get("changed") or step != "client_files":
                if isinstance(diff, dict):
                    diffs.append(dict(diff, before_header=step, after_header=step))
                elif isinstance(diff, list):
                    diffs.extend(dict(x, before_header=step, after_header=step) for x in diff)
                elif diff is not None:
                    diffs.append({"before_header": step, "after_header": step, "before": "", "after": str(diff)})
            results[step] = result
            if step == "vnodes" and "arp_tables" in desired["params"] and not ctx.check_mode:
                # made just now, their neighbour tables are empty: the ARP-table step does not read them
                desired["params"]["arp_tables"]["new_vnodes"] = (result.get("vnodes") or {}).get("created") or []
            if step == "lxc_image" and "vnodes" in desired["params"]:
                desired["params"]["vnodes"]["image"] = result.get("rootfs")
        return Change(actions=results, changed=changed, diff=diffs, applied=True)

    def result(self, ctx, desired, observed, change):
        return {"steps": change.actions}

    def prefix(self, desired):
        return "dataplane: "
