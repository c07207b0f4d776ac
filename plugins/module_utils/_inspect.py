# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is running on a pnode (private to the collection): the ``vxlab.emulation.inspect`` module.

Read only, one call per pnode, for every vnode the plan puts there (``vxlab_pnode.vnodes``):

* its state: ``running``; ``stopped`` / ``frozen`` (LXC); ``down`` (a netns vnode whose veth a
  fault set down); ``missing`` (no namespace, no container);
* its interfaces inside (``eth0``, the data interfaces): name, addresses, up;
* the shaping in force on both ends of its management veth (the qdisc trees' owners: link shaping
  ``7a1:``, a fault's ``degrade`` ``fa17:``, someone else's), as settings;
* the faults in force: ``vnode_down``, ``freeze``, ``link_cut`` (veth out of the bridge),
  ``degrade``; and the pnode's own ``pnode_off`` (its VXLAN interface down).

One link and one qdisc dump of the pnode; each running vnode's namespace entered once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vxlab.emulation.plugins.module_utils import _link_shaping as ls
from ansible_collections.vxlab.emulation.plugins.module_utils import _vnode_state as vs
from ansible_collections.vxlab.emulation.plugins.module_utils._base import naming
from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import netns as ns
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern

ARGUMENT_SPEC = dict(
    pnode=dict(type="dict", required=True),
)

LXC_STATES = {"RUNNING": "running", "STOPPED": "stopped", "FROZEN": "frozen"}


def validate(params):
    p = params["pnode"]
    missing = [k for k in ("platform", "pnode", "vnode_kind", "pnode_state_dir", "vnodes", "bridge", "vxlan")
               if k not in p]
    if missing:
        raise ValueError("pnode: the plan's part lacks %s (pass vxlab_pnode as computed by vxlab.emulation.plan)"
                         % ", ".join(missing))
    return {"platform": naming.check_platform(p["platform"]), "pnode": p["pnode"], "kind": p["vnode_kind"],
            "state_dir": p["pnode_state_dir"], "bridge": p["bridge"], "vxlan": p["vxlan"],
            "vnodes": [{"name": v["name"], "host_if": v["host_if"], "address": v["address"],
                        "interfaces": [x["ifname"] for x in v.get("interfaces") or []]} for v in p["vnodes"]]}


def _settings(tree):
    out = ls.settings_of_tree(tree)
    if "rate" in out:
        out["rate"] = ls.show_rate(out["rate"])
    return out


def read_inside(s):
    links = s.links()
    addrs = s.addresses()
    return [{"ifname": name, "up": lk["up"], "mac": lk["mac"], "addresses": addrs.get(lk["index"], [])}
            for name, lk in sorted(links.items(), key=lambda kv: kv[1]["index"]) if name != "lo"]


def observe(d, sock, switcher):
    links = sock.links()
    by_index = dict((lk["index"], lk) for lk in links.values())
    qdiscs = sock.qdiscs_by_index()
    namespaces = set(ns.netns_list())
    lxc = {}
    if d["kind"] == "lxc":
        dummy, lxc = vs.observe(d["state_dir"])
    bridge = links.get(d["bridge"])
    vxlan = links.get(d["vxlan"])
    out = []
    for v in d["vnodes"]:
        host = links.get(v["host_if"])
        o = {"name": v["name"], "pnode": d["pnode"], "kind": d["kind"], "address": v["address"], "faults": [],
             "interfaces": [], "shaping": {}}
        if d["kind"] == "lxc":
            st = (lxc.get(v["name"]) or {}).get("state")
            o["state"] = LXC_STATES.get(st, "missing" if st is None else st.lower())
        else:
            o["state"] = "running" if v["name"] in namespaces else "missing"
            if o["state"] == "running" and host is not None and not host["up"]:
                o["state"] = "down"
        if o["state"] == "stopped":
            o["faults"].append("vnode_down")
        elif o["state"] == "frozen":
            o["faults"].append("freeze")
        elif o["state"] == "down":
            o["faults"].append("vnode_down")
        if host is not None:
            master = by_index.get(host["master"])
            if o["state"] in ("running", "frozen", "down") and (master is None or master["ifname"] != d["bridge"]):
                o["faults"].append("link_cut")
            trees = {"host": ls.root_tree(qdiscs.get(host["index"], []))}
            if o["state"] in ("running", "down") and v["name"] in namespaces:
                s = switcher.open(v["name"])
                try:
                    o["interfaces"] = read_inside(s)
                    inner = s.link_index(naming.VNODE_IFNAME)
                    if inner is not None:
                        trees["vnode"] = ls.root_tree(s.qdiscs(inner))
                finally:
                    s.close()
            for side, tree in sorted(trees.items()):
                owner = ls.owner_of(tree)
                if owner is None:
                    continue
                # the host side shapes traffic into the vnode, the vnode side traffic out of it
                direction = "in" if side == "host" else "out"
                o["shaping"][direction] = dict(_settings(tree), owner=owner)
                if owner == "fault" and "degrade" not in o["faults"]:
                    o["faults"].append("degrade")
        out.append(o)
    pnode = {"name": d["pnode"], "bridge": bridge is not None, "vxlan": vxlan is not None,
             "faults": ["pnode_off"] if vxlan is not None and not vxlan["up"] else []}
    return {"vnodes": out, "pnode": pnode}


class Inspect(Concern):
    """The ``vxlab.emulation.inspect`` module's concern (read only: never a change)."""

    NAME = "inspect"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    NEEDS = ("pyroute2", "netlink", "switcher")

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        return observe(desired, ctx.sock, ctx.switcher)

    def diff(self, ctx, desired, observed):
        return Change()

    def result(self, ctx, desired, observed, change):
        return observed
