"""pyproject.toml declares what the code imports, and the run manifest records what changes a result.

Fast and offline: the imports are read with ``ast`` (nothing is imported); module names are mapped to
distributions with ``importlib.metadata.packages_distributions()`` of the running environment. The slow
check that a fresh ``pip install .`` works is ``bench/fresh_install.py`` (results in bench/results/packaging.md).
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipeline"

# Third-party modules the code may import without pyproject's `dependencies` declaring them. Each is
# allowed only where every import of it sits in a `try` that catches ImportError (checked below).
OPTIONAL_IMPORTS = {
    "numba": "pipeline.discover.topics.enable_numba_cache switches on numba's disk cache for UMAP's kernels; "
             "numba comes with umap-learn, and without it (or if its internals move) UMAP compiles as before",
}

# Declared dependencies whose version can change a result (segments, vectors, scores, topics, statistics,
# what is read from an input file): pipeline.manifest.PACKAGES must record each.
CHANGES_RESULTS = {
    "torch", "sentence-transformers", "transformers", "tokenizers", "spacy", "numpy", "scipy", "scikit-learn",
    "bertopic", "umap-learn", "hdbscan", "krippendorff", "pydantic", "python-docx", "openpyxl", "lxml",
}
# The other declared dependencies, each with why its version does not change a result.
NO_RESULT_CHANGE = {
    "typer": "command-line parsing (recorded in the manifest all the same)",
    "pyyaml": "reads config and codebooks; what it read is in the manifest (config dump, codebook content_sha256)",
    "rich": "terminal output only",
    "defusedxml": "refuses hostile XML; a file it accepts is parsed by lxml/openpyxl",
    "matplotlib": "figures of the reports, not their numbers",
    "starlette": "the review web server",
    "uvicorn": "the review web server",
    "jinja2": "HTML templates of the report and the review pages",
    "threadpoolctl": "how many BLAS threads a fit uses",
}


def norm(name: str) -> str:
    """A distribution name in PEP 503 form (``PyYAML`` -> ``pyyaml``, ``en_core_web_sm`` -> ``en-core-web-sm``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(req: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    assert m, f"cannot read a name in requirement {req!r}"
    return norm(m.group(1))


def read_pyproject(path: Path = ROOT / "pyproject.toml") -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def declared(pyproject: dict) -> set[str]:
    return {requirement_name(r) for r in pyproject["project"]["dependencies"]}


def extra(pyproject: dict, name: str) -> set[str]:
    return {requirement_name(r) for r in pyproject["project"]["optional-dependencies"][name]}


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in ("ImportError", "ModuleNotFoundError", "Exception") for t in types)


def third_party_imports(root: Path = PIPELINE) -> dict[str, list[tuple[str, bool]]]:
    """Top-level module name -> [(where, guarded)] for every absolute import of a module outside the
    standard library and ``pipeline``, at any depth (module level, in functions, in ``try``)."""
    found: dict[str, list[tuple[str, bool]]] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        guarded_nodes: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
                for stmt in node.body:
                    guarded_nodes.update(id(n) for n in ast.walk(stmt))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "pipeline":
                    continue
                where = f"{path.relative_to(root.parent)}:{node.lineno}"
                found.setdefault(top, []).append((where, id(node) in guarded_nodes))
    return found


def undeclared(imports: dict[str, list[tuple[str, bool]]], deps: set[str],
               allowed: dict[str, str] = OPTIONAL_IMPORTS) -> list[str]:
    """What is wrong: modules imported but not declared (nor an allowed, guarded optional import)."""
    dists = metadata.packages_distributions()
    problems = []
    for module, places in sorted(imports.items()):
        owners = {norm(d) for d in dists.get(module, [])}
        if owners & deps:
            continue
        if module in allowed:
            bare = [w for w, guarded in places if not guarded]
            if bare:
                problems.append(f"{module}: allowed only as a guarded optional import, but imported bare at {', '.join(bare)}")
            continue
        what = f"distribution {', '.join(sorted(owners))}" if owners else "not installed here, so no distribution known"
        problems.append(f"{module} ({what}) imported at {places[0][0]} is not in pyproject's [project] dependencies")
    return problems


def test_every_import_of_the_code_is_declared():
    imports = third_party_imports()
    assert {"numpy", "torch", "spacy", "sentence_transformers"} <= set(imports)  # the walk found the code
    assert undeclared(imports, declared(read_pyproject())) == []


def test_an_undeclared_or_unguarded_import_is_caught(tmp_path):
    pkg = tmp_path / "pipeline"
    pkg.mkdir()
    (pkg / "a.py").write_text("import os\nfrom . import b\n\ndef f():\n    import numpy.linalg\n    from sklearn.cluster import KMeans\n")
    (pkg / "b.py").write_text("try:\n    import numba\nexcept ImportError:\n    numba = None\nimport yaml\n")
    imports = third_party_imports(pkg)
    assert set(imports) == {"numpy", "sklearn", "numba", "yaml"}
    assert imports["numba"] == [("pipeline/b.py:2", True)] and imports["yaml"] == [("pipeline/b.py:5", False)]
    deps = declared(read_pyproject())
    assert undeclared(imports, deps) == []
    problems = undeclared(imports, deps - {"scikit-learn"})
    assert len(problems) == 1 and problems[0].startswith("sklearn (distribution scikit-learn) imported at pipeline/a.py:6")
    (pkg / "c.py").write_text("import numba\n")
    assert undeclared(third_party_imports(pkg), deps) == [
        "numba: allowed only as a guarded optional import, but imported bare at pipeline/c.py:1"]


def test_every_allowed_optional_import_is_still_used():
    imports = third_party_imports()
    assert set(OPTIONAL_IMPORTS) <= set(imports), "drop entries of OPTIONAL_IMPORTS the code no longer imports"


def test_models_loaded_by_name_are_in_the_models_extra():
    from pipeline.embed import PACKAGED_MODELS
    from pipeline.form import _candidates

    modules = set(PACKAGED_MODELS.values()) | set(_candidates("en_core_web_sm")[1:])
    assert modules, "no packaged model names found"
    assert {norm(m) for m in modules} <= extra(read_pyproject(), "models")


def test_manifest_records_every_dependency_that_changes_a_result():
    from pipeline.manifest import PACKAGES

    pyproject = read_pyproject()
    deps = declared(pyproject)
    recorded = {norm(p) for p in PACKAGES}
    # every declared dependency is classified, so a new one needs a decision here
    assert deps <= CHANGES_RESULTS | set(NO_RESULT_CHANGE), f"classify {sorted(deps - CHANGES_RESULTS - set(NO_RESULT_CHANGE))}"
    assert CHANGES_RESULTS <= deps, f"declare {sorted(CHANGES_RESULTS - deps)} in pyproject"
    missing = (CHANGES_RESULTS | extra(pyproject, "models")) - recorded
    assert not missing, f"pipeline.manifest.PACKAGES does not record {sorted(missing)}"


def test_manifest_package_names_are_distribution_names():
    from pipeline.manifest import PACKAGES, package_versions

    assert len(PACKAGES) == len({norm(p) for p in PACKAGES})
    versions = package_versions()
    # in the test environment (models extra installed) every recorded name resolves to a version
    assert [p for p in PACKAGES if versions[p] == "not installed"] == []
