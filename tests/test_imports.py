"""The package's import graph: library code never reaches up into the command-line layer."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "pipeline"


def _imports(path: Path) -> set[str]:
    """Absolute names of the pipeline modules a file imports (at any depth, function-level imports too)."""
    pkg = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = pkg.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {n for n in out if n.startswith("pipeline")}


def test_library_modules_never_import_the_command_line_layer():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "commands" or rel.name in ("cli.py", "__main__.py"):
            continue
        bad = sorted(n for n in _imports(path) if n == "pipeline.cli" or n.startswith("pipeline.commands"))
        if bad:
            offenders.append(f"{rel}: {', '.join(bad)}")
    assert offenders == []


def test_importing_the_report_loads_no_command_module():
    code = ("import sys, pipeline.export.report; "
            "print([m for m in sys.modules if m.startswith('pipeline.commands') or m == 'pipeline.cli'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
