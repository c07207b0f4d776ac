"""The layers of the code, read from its import statements (``ast``, nothing is imported).

Lowest first: ``_base`` (imports nothing of the collection, no third-party library) < ``_plan`` and
``_kernel`` (the base only) < ``_runner`` < the concerns, ``_vnodes``, ``_dataplane`` < the
modules, the action and inventory plugins, ``plugin_utils`` < ``vxlab/`` (the CLI). A lower layer
never imports a higher one, and there is no import cycle among ``module_utils`` or ``vxlab``.
"""
import ast
import os

import pytest

import vxlab

REPO = vxlab.REPO
PKG = "ansible_collections.vxlab.emulation.plugins."
MU = PKG + "module_utils."


def _python_files(top):
    for root, dirs, files in os.walk(os.path.join(REPO, top)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                yield os.path.join(root, f)


def _module_name(path):
    rel = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
    if rel.endswith(".__init__"):
        rel = rel[:-len(".__init__")]
    return PKG + rel[len("plugins."):] if rel.startswith("plugins.") else rel


def _imports(path):
    """Every module an import statement of ``path`` names (``from P import m`` names ``P.m`` too)."""
    tree = ast.parse(open(path).read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out.update("%s.%s" % (node.module, a.name) for a in node.names)
    return out


GRAPH = {}
for top in ("plugins", "vxlab"):
    for path in _python_files(top):
        GRAPH[_module_name(path)] = _imports(path)
OURS = set(GRAPH)


def _ours(names):
    return {n for n in names if n in OURS}


def _layer_of(name):
    for prefix, layer in ((MU + "_base", "base"), (MU + "_kernel", "kernel"), (MU + "_plan", "plan"),
                          (MU + "_diff", "diff"), (MU + "_runner", "runner"), (MU, "concerns"),
                          (PKG + "plugin_utils", "plugin_utils"), (PKG, "plugins"), ("vxlab", "cli")):
        if name == prefix or name.startswith(prefix + ".") or (prefix.endswith(".") and name.startswith(prefix)):
            return layer
    raise AssertionError(name)


#: what each layer may import of the project
ALLOWED = {
    "base": {"base"},
    "kernel": {"base", "kernel"},
    "plan": {"base", "plan"},
    "diff": set(),
    "runner": {"base", "kernel", "diff", "runner"},
    "concerns": {"base", "kernel", "plan", "diff", "runner", "concerns"},
    "plugin_utils": {"base", "plan", "plugin_utils"},
    "plugins": {"base", "kernel", "plan", "diff", "runner", "concerns", "plugin_utils", "plugins"},
    "cli": {"base", "kernel", "plan", "diff", "runner", "concerns", "plugin_utils", "plugins", "cli"},
}


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_no_file_imports_a_higher_layer(name):
    layer = _layer_of(name)
    wrong = sorted(n for n in _ours(GRAPH[name]) if _layer_of(n) not in ALLOWED[layer])
    assert wrong == [], "%s (layer %s) imports %s" % (name, layer, wrong)


def test_the_base_layer_uses_the_standard_library_only():
    third_party = ("ansible", "pyroute2", "netaddr", "yaml", "jinja2")
    for name in GRAPH:
        if _layer_of(name) == "base":
            bad = sorted(n for n in GRAPH[name] if n.split(".")[0] in third_party or
                         n.startswith("ansible_collections"))
            assert bad == [], "%s imports %s" % (name, bad)


def test_the_sshmux_daemon_runs_alone():
    """It is copied and run as a script (``python -I -S``): the standard library only."""
    name = MU + "_vnodes.sshmux_daemon"
    assert [n for n in GRAPH[name] if n.startswith(("ansible", "vxlab", "pyroute2"))] == []


def test_no_import_cycle():
    edges = {name: _ours(deps) - {name} for name, deps in GRAPH.items()}
    # a package's __init__ that imports its own submodules is the package, not a cycle through it
    for name in edges:
        edges[name] = {d for d in edges[name] if not name.startswith(d + ".")}
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_the_graph_sees_the_layers():
    """The test reads what it should: the plan, the runner, a concern and the CLI are there."""
    for name in (MU + "_plan", MU + "_runner", MU + "_vnodes", MU + "_base.naming", "vxlab.cli",
                 "vxlab.testbed.lifecycle"):
        assert name in GRAPH
    assert MU + "_base.naming" in GRAPH[MU + "_plan.spec"]
