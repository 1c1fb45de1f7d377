"""Writing and reading a discovery: candidates.json and candidates.csv, byte-identical for the same inputs."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Sequence

from ..errors import PrecodeError
from .model import CandidateCode, DiscoveryResult, N_QUOTES, discovery_dir


# -- outputs ----------------------------------------------------------------------------------------

def dumps(res: DiscoveryResult) -> str:
    return json.dumps(res.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


CSV_COLUMNS = ["id", "status", "name", "size", "n_documents", "n_speakers", "roles", "keywords", "cohesion"] + \
              [f"quote_{i}" for i in range(1, N_QUOTES + 1)]


def candidates_csv(cands: Sequence[CandidateCode]) -> str:
    from ..export.table import SafeDictWriter, csv_safe

    buf = io.StringIO()
    w = SafeDictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n", restval="")
    w.writeheader()
    for c in cands:
        row = {"id": c.id, "status": c.status, "name": c.name, "size": c.size, "n_documents": c.n_documents,
               "n_speakers": c.n_speakers, "roles": "; ".join(f"{r}: {k}" for r, k in c.roles.items()),
               "keywords": ", ".join(c.keywords), "cohesion": f"{c.cohesion:.4f}"}
        for i, q in enumerate(c.quotes, 1):
            who = ", ".join(x for x in (q.speaker, q.role) if x)
            row[f"quote_{i}"] = f"{q.text} [{q.document}{' | ' + who if who else ''} | {q.segment_id}]"
        w.writerow(csv_safe(row))  # cells are data, never formulas
    return buf.getvalue()


def load_candidates(store_path: str | Path, path: str | Path | None = None) -> list[CandidateCode]:
    p = Path(path) if path else discovery_dir(store_path) / "candidates.json"
    if not p.exists():
        raise PrecodeError(f"{p}: no discovery results (run `precode discover PROJECT` first)")
    return [CandidateCode.from_json(c) for c in json.loads(p.read_text(encoding="utf-8"))["candidates"]]


