"""The package's import graph: no cycles, and library code never reaches up into the command-line layer.

The graph is read from the source with ``ast``: every ``import`` and ``from ... import`` of a ``pipeline``
module, at any depth (function-level imports too), except those under ``if TYPE_CHECKING:`` (never run).
An edge goes to the module named (``from .x import y`` is an edge to ``x``, or to ``x.y`` when that is a
module); importing a submodule is not counted as importing its package's ``__init__``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "pipeline"
CLI_LAYER = ("pipeline.cli", "pipeline.commands")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(ROOT.rglob("*.py"))}


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def imports(name: str, source: str, modules=MODULES) -> set[str]:
    """The ``pipeline`` modules that module ``name`` (its ``source``) imports."""
    is_package = name not in modules or modules[name].name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    tree = ast.parse(source)
    skip = _type_checking_only(tree)
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                if f"{mod}.{alias.name}" in modules:
                    out.add(f"{mod}.{alias.name}")
                elif mod in modules:
                    out.add(mod)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
    out.discard(name)
    return out


def import_graph(modules=MODULES) -> dict[str, set[str]]:
    return {name: imports(name, path.read_text(encoding="utf-8"), modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``a -> b -> ... -> a``) for every strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    found = []
    for group in groups:  # a shortest way back to the group's first module, through the group only
        start = min(group)
        paths = {start: [start]}
        frontier = [start]
        while frontier and start not in {w for v in frontier for w in graph[v]}:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & group):
                    if w not in paths:
                        paths[w] = paths[v] + [w]
                        nxt.append(w)
            frontier = nxt
        last = next(v for v in frontier if start in graph[v])
        found.append(paths[last] + [start])
    return sorted(found)


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_check_finds_a_cycle_and_skips_typing_only_imports():
    """The check itself can fail: a two-module cycle through a function-level import is found; an import
    under ``if TYPE_CHECKING:`` is not an edge."""
    modules = {"pipeline.a": Path("a.py"), "pipeline.b": Path("b.py"), "pipeline.c": Path("c.py")}
    graph = {"pipeline.a": imports("pipeline.a", "from .b import f\n", modules),
             "pipeline.b": imports("pipeline.b", "def g():\n    from . import a\n", modules),
             "pipeline.c": imports("pipeline.c", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n",
                                   modules)}
    assert graph == {"pipeline.a": {"pipeline.b"}, "pipeline.b": {"pipeline.a"}, "pipeline.c": set()}
    assert cycles(graph) == [["pipeline.a", "pipeline.b", "pipeline.a"]]


def test_library_modules_never_import_the_command_line_layer():
    graph = import_graph()
    offenders = [f"{name}: {', '.join(sorted(bad))}" for name, deps in sorted(graph.items())
                 if not name.startswith(CLI_LAYER)
                 for bad in [{d for d in deps if d.startswith(CLI_LAYER)}] if bad]
    assert offenders == []


def test_commands_never_import_the_entry_point_and_the_app_module_imports_no_command():
    graph = import_graph()
    assert [n for n, deps in graph.items() if n.startswith("pipeline.commands") and "pipeline.cli" in deps] == []
    assert {d for d in graph["pipeline.commands._app"] if d.startswith(CLI_LAYER)} == set()


@pytest.mark.parametrize("module", ["pipeline.export.report", "pipeline.run", "pipeline.review.tui", "pipeline.review.web"])
def test_importing_a_library_module_loads_no_command_module(module):
    code = (f"import sys, {module}; "
            "print([m for m in sys.modules if m.startswith('pipeline.commands') or m == 'pipeline.cli'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_no_test_module_imports_another():
    """Shared fixtures and builders live in tests/conftest.py; a test module never imports another one."""
    tests = Path(__file__).resolve().parent
    offenders = []
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[-1].startswith("test_")]
    assert offenders == []
