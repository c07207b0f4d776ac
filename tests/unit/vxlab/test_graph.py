"""vxlab graph: the platform as a picture, from the plan (groups as nodes, never one node per vnode)."""
import json
import subprocess

import pytest

from vxlab import graph
from vxlab.cli import main
from vxlab.inventory import load_plan

from vxlab_test_helpers import write

TOPOLOGY = """
    all:
      children:
        pnodes:
          hosts:
            p1: {ansible_host: 192.0.2.1}
            p2: {ansible_host: 192.0.2.2}
            p3: {ansible_host: 192.0.2.3}
            p4: {ansible_host: 192.0.2.4}
          vars:
            vxlab_platform: vx
            vxlab_vnodes_per_pnode: 20
            vxlab_vnode_kind: lxc
            vxlab_networks:
              - {name: front, cidr: 10.150.0.0/22}
              - {name: back, cidr: 10.150.8.0/22, vni: 9002}
              - {name: wan, cidr: 10.150.16.0/24}
            vxlab_vnode_groups:
              - {name: web, vnodes: "vx-[1-20]", networks: [front]}
              - {name: db, pnodes: [p3], networks: [back]}
              - {name: gw, vnodes: [vx-41, vx-61], networks: [front, back, wan], router: true}
              - {name: slow, vnodes: "vx-[1-10]", cpu: 0.25, memory: 256M}
    """


def topology(tmp_path):
    return write(str(tmp_path / "inv" / "hosts.yml"), TOPOLOGY)


def test_model_draws_networks_groups_routers_and_pnodes(tmp_path):
    m = graph.model(load_plan([topology(tmp_path)], {}))
    kinds = dict((n["id"], n["kind"]) for n in m["nodes"])
    assert kinds["net_management"] == "management" and kinds["net_front"] == "network"
    assert kinds["grp_gw"] == "router" and kinds["grp_web"] == "group" and kinds["pn_p3"] == "pnode"
    labels = dict((n["id"], n["label"]) for n in m["nodes"])
    assert labels["grp_web"] == "web\n20 vnodes" and "cpu 0.25 core, memory 256M" in labels["grp_slow"]
    # 80 vnodes: web 20 + db 20 + the router vx-61 (vx-41 is in db) are grouped, 39 are not
    assert labels["grp__rest"] == "other vnodes\n39"
    edges = set((e["a"], e["b"]) for e in m["edges"])
    assert {("grp_gw", "net_front"), ("grp_gw", "net_back"), ("grp_gw", "net_wan"), ("grp_db", "net_back")} <= edges
    # back has members on p3 (db, router vx-41) only... and the router vx-61 on p4
    assert ("net_back", "pn_p3") in edges and ("net_back", "pn_p4") in edges and ("net_back", "pn_p1") not in edges


def test_picture_grows_with_groups_not_vnodes(tmp_path):
    """The paper's 162 pnodes x 246 vnodes: sites (or one pnode node) instead of 162 pnodes,
    one node per group: as many nodes as for 2 vnodes per pnode."""
    def inv(per, name):
        hosts = dict(("p%d" % i, {"ansible_host": "10.1.%d.%d" % (i // 200, i % 200 + 1)}) for i in range(1, 163))
        doc = {"all": {"children": {"pnodes": {"hosts": hosts, "vars": {
            "vxlab_platform": "vx", "vxlab_vnodes_per_pnode": per, "vxlab_vnode_kind": "netns",
            "vxlab_vnode_network": "10.128.0.0/15", "vxlab_networks": [{"name": "a", "cidr": "10.160.0.0/14"}],
            "vxlab_vnode_groups": [{"name": "g", "pnodes": "p[1-81]", "networks": ["a"]}]}}}}}
        path = tmp_path / name / "hosts.yml"
        path.parent.mkdir()
        path.write_text(json.dumps(doc))  # JSON is YAML
        return str(path)
    big = graph.model(load_plan([inv(246, "big")], {}))
    small = graph.model(load_plan([inv(2, "small")], {}))
    assert len(big["nodes"]) == len(small["nodes"]) <= 6
    assert "39852 vnodes" in big["title"]
    assert [n["label"] for n in big["nodes"] if n["kind"] == "pnode"] == ["pnodes\n162 pnodes, 39852 vnodes"]


def test_dot_renders_to_png_and_svg_with_graphviz(tmp_path):
    inv = topology(tmp_path)
    png = str(tmp_path / "platform.png")
    assert main(["graph", "-i", inv, "-o", png, "-q"]) == 0
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    svg = str(tmp_path / "platform.svg")
    assert main(["graph", "-i", inv, "-o", svg, "-q"]) == 0
    text = open(svg).read()
    assert "<svg" in text and "gw (router)" in text
    # the DOT text is what dot reads (a syntax error would fail here)
    dot = graph.to_dot(graph.model(load_plan([inv], {})))
    subprocess.run(["dot", "-Tcanon"], input=dot.encode(), check=True, capture_output=True)


def test_mermaid_and_formats(tmp_path, capsys):
    inv = topology(tmp_path)
    assert main(["graph", "-i", inv, "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("---\ntitle: platform vx") and "flowchart LR" in out and 'grp_gw{"gw (router)<br/>2 vnodes"}' in out
    assert graph.format_of("x.svg") == "svg" and graph.format_of("x.gv") == "dot" and graph.format_of(None) == "dot"
    assert graph.format_of("x.mmd") == "mermaid" and graph.format_of("x.txt") == "dot"
    assert main(["graph", "-i", inv, "--format", "png"]) == 2  # png needs -o FILE
    assert "needs -o FILE" in capsys.readouterr().err
    with pytest.raises(graph.GraphError):
        graph.format_of("x", "jpeg")


def test_matrix_entries_are_labelled_edges(tmp_path):
    matrix = ("            vxlab_link_matrix:\n"
              "              - {from: web, to: db, rate: 100mbit, symmetric: true}\n"
              "              - {from: web, to: back, rate: 20mbit, delay: 40ms}\n")
    inv = write(str(tmp_path / "m" / "hosts.yml"), TOPOLOGY.rstrip() + "\n" + matrix)
    m = graph.model(load_plan([inv], {}))
    edges = [(e["a"], e["b"], e["label"]) for e in m["edges"] if e["style"] == "matrix"]
    assert edges == [("grp_web", "grp_db", "100Mbit (both ways)"), ("grp_web", "net_back", "20Mbit 40ms")]
    assert 'label="100Mbit (both ways)"' in graph.to_dot(m) and '-. "20Mbit 40ms" .-' in graph.to_mermaid(m)
