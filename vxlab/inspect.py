"""What runs of a platform (``vxlab inspect``): read from every pnode in one module call each.

:func:`inspect` runs ``playbooks/inspect.yml`` (the ``vxlab.emulation.inspect`` module on every
pnode) and joins the pnodes' answers with the plan: per vnode its pnode, kind, state, interfaces
and addresses, shaping and faults in force, and the groups it is in. :func:`table` is the
readable form (filtered by group or pnode), the JSON is the same data.
"""
from vxlab import api
from vxlab.inventory import load_plan

TASK = "Inspect the vnodes"


def groups_of(plan):
    """``{vnode name: [group, ...]}`` of the plan's vnode groups."""
    out = {}
    topo = plan.spec.topology
    if topo is None:
        return out
    for g in topo.groups:
        for idx in g.members:
            out.setdefault("%s-%d" % (plan.spec.platform, idx + 1), []).append(g.name)
    return out


def inspect(inventory, extra_vars=None, progress=None):
    """``{"ok", "platform", "vnodes": [...], "pnodes": [...], "errors": {pnode: msg}}``."""
    plan = load_plan(inventory, extra_vars)
    result = api.run_playbook("inspect", inventory, extra_vars=extra_vars, progress=progress, quiet=True,
                              capture=(TASK,))
    member = groups_of(plan)
    vnodes, pnodes, errors = [], [], {}
    for p in plan.pnodes:
        answers = [r for r in result.captured.get(p.name, []) if not r.get("failed")]
        h = result.hosts.get(p.name) or {}
        if not answers:
            fails = h.get("failures") or []
            errors[p.name] = fails[-1]["msg"] if fails else ("unreachable" if h.get("unreachable") else "no answer")
            for v in plan.vnodes_of(p.name):
                vnodes.append({"name": v["name"], "pnode": p.name, "kind": plan.spec.vnode_kind,
                               "address": v["address"], "state": "unknown", "interfaces": [], "shaping": {},
                               "faults": [], "groups": member.get(v["name"], [])})
            pnodes.append({"name": p.name, "reachable": False, "faults": []})
            continue
        res = answers[-1]
        for v in res.get("vnodes") or []:
            vnodes.append(dict(v, groups=member.get(v["name"], [])))
        pnodes.append(dict(res.get("pnode") or {"name": p.name}, reachable=True))
    counts = {}
    for v in vnodes:
        counts[v["state"]] = counts.get(v["state"], 0) + 1
    return {"ok": not errors, "platform": plan.spec.platform, "vnodes": vnodes, "pnodes": pnodes,
            "states": counts, "errors": errors}


def select(data, group=None, pnode=None):
    """The vnodes of ``data`` in group ``group`` and/or on pnode ``pnode``."""
    return [v for v in data["vnodes"] if (group is None or group in v["groups"])
            and (pnode is None or v["pnode"] == pnode)]


def _shaping_text(shaping):
    parts = []
    for direction in ("out", "in"):
        s = shaping.get(direction)
        if s:
            parts.append("%s %s%s" % (direction, " ".join("%s=%s" % (k, s[k]) for k in sorted(s) if k != "owner"),
                                      "" if s.get("owner") == "link_shaping" else " (%s)" % s.get("owner")))
    return "; ".join(parts) or "-"


def table(data, vnodes):
    """Readable lines: one per vnode (name, pnode, state, addresses, groups, shaping, faults)."""
    rows = [("VNODE", "PNODE", "KIND", "STATE", "ADDRESSES", "GROUPS", "SHAPING", "FAULTS")]
    for v in vnodes:
        addrs = ",".join(a for i in v["interfaces"] for a in i["addresses"]) or v["address"]
        rows.append((v["name"], v["pnode"], v["kind"], v["state"], addrs, ",".join(v["groups"]) or "-",
                     _shaping_text(v["shaping"]), ",".join(v["faults"]) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    lines.append("%s: %d vnodes shown of %d (%s)" % (data["platform"], len(vnodes), len(data["vnodes"]),
                                                     ", ".join("%d %s" % (n, s) for s, n in sorted(data["states"].items()))))
    for p in data["pnodes"]:
        if p.get("faults"):
            lines.append("pnode %s: %s" % (p["name"], ",".join(p["faults"])))
    for name, msg in sorted(data["errors"].items()):
        lines.append("pnode %s: NOT READ: %s" % (name, msg))
    return lines
