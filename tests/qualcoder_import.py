"""Run QualCoder's own REFI-QDA project import headless on a .qdpx and print, as JSON, what it stored.

Not a test: ``tests/test_refi_qualcoder.py`` runs it in a Python that has PyQt6 (``QUALCODER_PYTHON``) with a
QualCoder checkout on the path (``QUALCODER_SRC``). Nothing of QualCoder is copied here: its modules are
imported from the checkout, and the project database is made by running the ``CREATE TABLE`` statements of
QualCoder's own ``App.new_project`` read from that checkout. Usage: ``python qualcoder_import.py SRC FILE.qdpx WORKDIR``.
"""

from __future__ import annotations

import ast
import json
import os
import sqlite3
import sys
import types
from pathlib import Path


def main(src: Path, qdpx: Path, work: Path) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(src))
    from PyQt6 import QtWidgets

    app_qt = QtWidgets.QApplication([])  # noqa: F841 (QualCoder's dialogs need one)
    import qualcoder.refi as refi

    QtWidgets.QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (str(qdpx), "qdpx"))
    refi.Message = lambda *a, **k: types.SimpleNamespace(exec=lambda: None)  # no message boxes
    project = work / "project.qda"
    project.mkdir(parents=True)
    for sub in ("images", "audio", "video", "documents"):
        (project / sub).mkdir()
    conn = sqlite3.connect(project / "data.qda")
    tree = ast.parse((src / "qualcoder" / "__main__.py").read_text(encoding="utf-8"))
    new_project = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "new_project")
    for call in ast.walk(new_project):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "execute" and call.args:
            try:
                sql = ast.literal_eval(call.args[0])
            except ValueError:
                continue
            if isinstance(sql, str) and sql.startswith("CREATE TABLE"):
                conn.execute(sql)
    conn.execute("INSERT INTO project (databaseversion, date, memo, about, bookmarkfile, bookmarkpos, codername) "
                 "VALUES ('v17', '2026-01-01 00:00:00', '', '', 0, 0, 'default')")
    conn.commit()
    log: list[str] = []
    app = types.SimpleNamespace(
        conn=conn, project_path=str(project), project_name=project.name, version="precode test",
        settings={"directory": str(qdpx.parent), "codername": "default", "ai_enable": "False", "fontsize": 10,
                  "docfontsize": 10, "treefontsize": 10, "font": "Noto Sans"},
        project_events=None, write_config_ini=lambda *a, **k: None, get_annotations=lambda: [], ai=None, ai_models=[])
    error = ""
    try:
        refi.RefiImport(app, types.SimpleNamespace(append=lambda s: log.append(str(s))), "qdpx")
    except Exception as e:  # reported, not raised: the counts say what was stored before it
        error = f"{type(e).__name__}: {e}"
    rows = conn.execute("SELECT s.name, s.fulltext, t.pos0, t.pos1, c.name, t.owner, t.memo FROM code_text t "
                        "JOIN source s ON s.id = t.fid LEFT JOIN code_name c ON c.cid = t.cid").fetchall()
    return {
        "error": error,
        "sources": conn.execute("SELECT count(*) FROM source").fetchone()[0],
        "codes": sorted(r[0] for r in conn.execute("SELECT name FROM code_name")),
        "codings": [{"source": r[0], "start": r[2], "end": r[3], "text": r[1][r[2]:r[3]], "code": r[4], "coder": r[5],
                     "memo": r[6]} for r in rows],
        "annotations": [{"source": r[0], "start": r[1], "end": r[2], "memo": r[3], "coder": r[4]} for r in conn.execute(
            "SELECT s.name, a.pos0, a.pos1, a.memo, a.owner FROM annotation a JOIN source s ON s.id = a.fid")],
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]).resolve(), Path(sys.argv[3]))))
