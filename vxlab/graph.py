"""The platform as a picture (``vxlab graph``): networks, groups, routers, pnodes or sites.

Pure functions of the plan (:class:`Plan`), so a platform is drawn before it is deployed:

* :func:`model` - the picture as plain data: nodes (the management network, every data network,
  every vnode group with its vnode count, the vnodes in no group, the underlay sites or pnodes, and
  every ``vxlab_link_matrix`` entry as an edge labelled with its rate and delay)
  and edges (a group to each of its networks, a router group drawn as a router; the networks to
  the pnodes or sites hosting them), drawn left to right: groups, networks, pnodes. A group is one node whatever its size, so 40,000 vnodes draw as
  fast as 40: the picture grows with groups, networks and sites, never with vnodes.
* :func:`to_dot` (Graphviz) and :func:`to_mermaid` (Markdown-embeddable) - its text;
* :func:`render` - ``dot -T svg|png`` of the DOT text (Graphviz, installed by ``make setup``).
"""
import os
import shutil
import subprocess

FORMATS = ("dot", "svg", "png", "mermaid")
#: at most this many pnodes drawn one by one; above, one node per site (or one for all)
MAX_PNODE_NODES = 24


class GraphError(Exception):
    pass


def _esc(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def _node_id(kind, name):
    return "%s_%s" % (kind, "".join(c if c.isalnum() else "_" for c in str(name)))


def model(plan):
    """``{"title", "nodes": [{id, kind, label}], "edges": [{a, b, label, style}]}`` (pure)."""
    s = plan.spec
    nodes, edges = [], []
    mgmt = _node_id("net", "management")
    nodes.append({"id": mgmt, "kind": "management",
                  "label": "management %s\n%d vnodes (eth0), gateway %s on %s"
                           % (s.vnode_network, s.total_vnodes, plan.gateway, s.gateway_pnode)})
    topo = s.topology
    grouped = set()
    hosting = {}
    if topo is not None:
        for n in plan.networks():
            hosting[n["name"]] = n["pnodes"]
            nodes.append({"id": _node_id("net", n["name"]), "kind": "network",
                          "label": "%s %s\nVNI %d, %d members, arp %s"
                                   % (n["name"], n["cidr"], n["vni"], n["members"], n["arp_mode"])})
        for g in topo.groups:
            grouped.update(g.members)
            extra = ", ".join("%s %s" % (k, _show_limit(k, v)) for k, v in g.limits)
            nodes.append({"id": _node_id("grp", g.name), "kind": "router" if g.router else "group",
                          "label": "%s%s\n%d vnode%s%s" % (g.name, " (router)" if g.router else "", len(g.members),
                                                           "" if len(g.members) == 1 else "s",
                                                           ("\n" + extra) if extra else "")})
            for pos, net in enumerate(g.networks, 1):
                edges.append({"a": _node_id("grp", g.name), "b": _node_id("net", net), "label": "",
                              "style": "bold" if g.router else "solid"})
            if not g.networks:
                edges.append({"a": _node_id("grp", g.name), "b": mgmt, "label": "", "style": "dashed"})
    rest = s.total_vnodes - len(grouped)
    if topo is None or rest:
        nodes.append({"id": "grp__rest", "kind": "group",
                      "label": "%s vnodes\n%d" % ("all" if topo is None else "other", rest)})
        edges.append({"a": "grp__rest", "b": mgmt, "label": "", "style": "dashed"})
    # the underlay: pnodes one by one when few, else sites (or all pnodes) as one node each
    sites = list(s.underlay_networks) if len(s.underlay_networks) > 1 else []
    if len(plan.pnodes) <= MAX_PNODE_NODES:
        for p in plan.pnodes:
            where = (" (site %d)" % (p.site + 1)) if sites else ""
            nodes.append({"id": _node_id("pn", p.name), "kind": "pnode",
                          "label": "%s%s\n%s, %d vnodes" % (p.name, where, p.vtep or "-", p.vnodes)})
        holders = dict((p.name, _node_id("pn", p.name)) for p in plan.pnodes)
    else:
        holders = {}
        groups_of = {}
        for p in plan.pnodes:
            groups_of.setdefault(p.site if sites else 0, []).append(p)
        for k, members in sorted(groups_of.items()):
            nid = _node_id("site", k + 1)
            label = ("site %d %s" % (k + 1, sites[k])) if sites else "pnodes"
            nodes.append({"id": nid, "kind": "pnode",
                          "label": "%s\n%d pnodes, %d vnodes" % (label, len(members), sum(p.vnodes for p in members))})
            for p in members:
                holders[p.name] = nid
    for p in plan.pnodes:
        if p.vnodes:
            edges.append({"a": mgmt, "b": holders[p.name], "label": "", "style": "dotted"})
    for net, pnodes in sorted(hosting.items()):
        for h in sorted(set(holders[p] for p in pnodes)):
            edges.append({"a": _node_id("net", net), "b": h, "label": "", "style": "dotted"})
    # the matrix: one labelled edge per entry (a symmetric entry once, marked both ways)
    if plan.matrix is not None:
        table = plan.matrix.table()
        kind = dict((name, "net") for name in hosting)
        for e in table:
            if e["reverse"]:
                continue
            both = any(x["reverse"] and x["origin"] == e["origin"] for x in table)
            edges.append({"a": _node_id(kind.get(e["from"], "grp"), e["from"]),
                          "b": _node_id(kind.get(e["to"], "grp"), e["to"]),
                          "label": _settings_text(e["settings"]) + (" (both ways)" if both else ""),
                          "style": "matrix"})
    # one edge per (holder, network): pnodes of one site collapse into one
    seen, unique = set(), []
    for e in edges:
        key = (e["a"], e["b"], e["style"])
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return {"title": "platform %s: %d pnodes, %d vnodes, %d data networks"
                     % (s.platform, len(plan.pnodes), s.total_vnodes, len(hosting)),
            "nodes": nodes, "edges": unique}


def _settings_text(settings):
    parts = []
    if settings.get("rate"):
        r = settings["rate"]
        parts.append("%gGbit" % (r / 1e9) if r >= 1e9 else "%gMbit" % (r / 1e6) if r >= 1e6 else "%gkbit" % (r / 1e3))
    if settings.get("delay"):
        parts.append("%gms" % (settings["delay"] / 1000.0))
    if settings.get("jitter"):
        parts.append("+-%gms" % (settings["jitter"] / 1000.0))
    if settings.get("loss"):
        parts.append("%g%% loss" % settings["loss"])
    return " ".join(parts)


def _show_limit(key, value):
    if key == "memory":
        for unit, size in (("G", 2 ** 30), ("M", 2 ** 20), ("K", 2 ** 10)):
            if value % size == 0:
                return "%d%s" % (value // size, unit)
        return str(value)
    if key == "cpu":
        return "%g core" % value
    return str(value)


SHAPES = {"management": ("box", "#dddddd"), "network": ("box", "#cfe2f3"), "group": ("ellipse", "#d9ead3"),
          "router": ("diamond", "#fce5cd"), "pnode": ("component", "#eeeeee")}


def to_dot(m):
    lines = ["graph vxlab {", '  graph [label="%s", labelloc=t, fontname="Helvetica", rankdir=LR];' % _esc(m["title"]),
             '  node [fontname="Helvetica", fontsize=10, style=filled];', '  edge [color="#555555", fontname="Helvetica"];']
    for n in m["nodes"]:
        shape, colour = SHAPES[n["kind"]]
        label = _esc(n["label"]).replace("\n", "\\n")
        lines.append('  %s [label="%s", shape=%s, fillcolor="%s"];' % (n["id"], label, shape, colour))
    for e in m["edges"]:
        if e["style"] == "matrix":
            lines.append('  %s -- %s [label="%s", style=dashed, color="#cc0000", fontcolor="#cc0000", fontsize=9, '
                         'constraint=false];' % (e["a"], e["b"], _esc(e["label"])))
            continue
        attrs = ["style=%s" % e["style"]]
        if e["label"]:
            attrs.append('label="%s"' % _esc(e["label"]))
        lines.append("  %s -- %s [%s];" % (e["a"], e["b"], ", ".join(attrs)))
    return "\n".join(lines + ["}"]) + "\n"


def to_mermaid(m):
    brackets = {"management": ("[", "]"), "network": ("[", "]"), "group": ("([", "])"), "router": ("{", "}"),
                "pnode": ("[[", "]]")}
    lines = ["---", "title: %s" % m["title"], "---", "flowchart LR"]
    for n in m["nodes"]:
        a, b = brackets[n["kind"]]
        lines.append('  %s%s"%s"%s' % (n["id"], a, n["label"].replace('"', "'").replace("\n", "<br/>"), b))
    for e in m["edges"]:
        if e["style"] == "matrix":
            lines.append('  %s -. "%s" .- %s' % (e["a"], e["label"].replace('"', "'"), e["b"]))
            continue
        arrow = {"solid": "---", "bold": "===", "dashed": "-.-", "dotted": "-.-"}[e["style"]]
        lines.append("  %s %s %s" % (e["a"], arrow, e["b"]))
    return "\n".join(lines) + "\n"


def format_of(path, given=None):
    """The format: ``given``, else from the file's suffix, else dot."""
    if given:
        if given not in FORMATS:
            raise GraphError("--format %s: one of %s" % (given, ", ".join(FORMATS)))
        return given
    suffix = os.path.splitext(path or "")[1].lstrip(".").lower()
    return {"gv": "dot", "mmd": "mermaid", "md": "mermaid"}.get(suffix, suffix if suffix in FORMATS else "dot")


def render(dot_text, fmt):
    """``dot -T<fmt>`` of the DOT text: bytes (svg or png)."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphError("Graphviz's dot is not installed (make setup installs the Debian package graphviz); "
                         "--format dot or mermaid need nothing")
    proc = subprocess.run([exe, "-T" + fmt], input=dot_text.encode(), capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise GraphError("dot -T%s failed: %s" % (fmt, proc.stderr.decode(errors="replace").strip()[:500]))
    return proc.stdout


def picture(plan, fmt):
    """The picture of ``plan`` in ``fmt``: text (dot, mermaid) or bytes (svg, png)."""
    m = model(plan)
    if fmt == "mermaid":
        return to_mermaid(m)
    text = to_dot(m)
    return text if fmt == "dot" else render(text, fmt)
