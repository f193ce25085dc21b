"""The package's import graph has no cycle: every import of every module, those inside functions
included (a function-level import only hides a cycle until the function runs), parsed with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from .conftest import ROOT

PACKAGE = ROOT / "recagent"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                # `from pkg import sub` imports the module pkg.sub when there is one, else a name of pkg
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                while target and target not in files and "." in target:
                    target = target.rpartition(".")[0]  # `import recagent.x.y` of a name: its module
                if target in files and target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_graph_is_read_correctly():
    graph = import_graph()
    assert graph.has_edge("recagent.cli", "recagent.console")
    assert graph.has_edge("recagent.simulation.model", "recagent.simulation.phases")
    assert graph.has_edge("recagent.simulation.phases.browse", "recagent.simulation.watching")
    assert graph.has_edge("recagent.simulation.watching", "recagent.memory")  # a function-level import
    assert graph.number_of_nodes() > 100 and graph.number_of_edges() > 300


def test_no_import_cycles():
    graph = import_graph()
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c + [c[0]]) for c in cycles[:5])


def test_sub_packages_never_import_the_cli():
    graph = import_graph()
    importers = sorted(graph.predecessors("recagent.cli"))
    assert importers == ["recagent.__main__"], importers
