"""Codebooks: YAML files or spreadsheets (.csv/.xlsx), validated into a :class:`Codebook`.

YAML shape::

    name: shepardson2019
    title: ...
    categories:
      - name: Barriers
        description: ...
        questions: [interview questions that elicit this category]
        codes:
          - {name: Role confusion, description: ..., inclusion: ..., exclusion: ..., examples: [...]}
    codes: [codes without a category]

Spreadsheet shape: columns ``category, code, description, inclusion, exclusion, examples``
(examples separated by `` | ``); only ``code`` is required.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import format_validation_error
from .errors import CodebookError, InputError
from .records import Category, Code, Codebook


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeModel(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    inclusion: str = ""
    exclusion: str = ""
    examples: list[str] = Field(default_factory=list)
    note: str = ""
    guid: str | None = None  # an explicit, stable identity (e.g. from a REFI-QDA codebook)


class CategoryModel(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    questions: list[str] = Field(default_factory=list)
    codes: list[CodeModel] = Field(default_factory=list)


class CodebookModel(_Strict):
    name: str = Field(min_length=1)
    title: str = ""
    source: str = ""
    description: str = ""
    categories: list[CategoryModel] = Field(default_factory=list)
    codes: list[CodeModel] = Field(default_factory=list)


def _clean(s: str) -> str:
    return " ".join(s.split())


def _build(model: CodebookModel, path: Path, sha: str) -> Codebook:
    problems: list[str] = []
    codes: list[Code] = []
    categories: list[Category] = []
    seen_cats: set[str] = set()

    def add_codes(items: list[CodeModel], category: str | None) -> None:
        seen: set[str] = set()
        for c in items:
            key = _clean(c.name).casefold()
            where = f"category '{category}'" if category else "the top-level codes"
            if key in seen:
                problems.append(f"duplicate code name '{_clean(c.name)}' in {where}")
                continue
            seen.add(key)
            codes.append(
                Code(
                    name=_clean(c.name),
                    category=category,
                    description=_clean(c.description),
                    inclusion=_clean(c.inclusion),
                    exclusion=_clean(c.exclusion),
                    examples=tuple(_clean(e) for e in c.examples if e.strip()),
                    note=_clean(c.note),
                    source_guid=(c.guid or "").strip() or None,
                )
            )

    for cat in model.categories:
        name = _clean(cat.name)
        if name.casefold() in seen_cats:
            problems.append(f"duplicate category name '{name}'")
            continue
        seen_cats.add(name.casefold())
        categories.append(Category(name, _clean(cat.description), tuple(_clean(q) for q in cat.questions)))
        add_codes(cat.codes, name)
    add_codes(model.codes, None)
    if not codes and not problems:
        problems.append("the codebook has no codes")
    if problems:
        raise CodebookError(path, problems)
    return Codebook(
        name=_clean(model.name),
        codes=tuple(codes),
        categories=tuple(categories),
        title=_clean(model.title),
        source=_clean(model.source),
        description=_clean(model.description),
        path=str(path),
        sha256=sha,
    )


def _from_rows(rows: list[dict[str, str]], path: Path) -> CodebookModel:
    if not rows:
        raise CodebookError(path, "the codebook table has no rows")
    if "code" not in rows[0]:
        raise CodebookError(path, f"no 'code' column (columns are: {', '.join(k for k in rows[0] if k)})")
    cats: dict[str, CategoryModel] = {}
    top: list[CodeModel] = []
    for row in rows:
        name = (row.get("code") or "").strip()
        if not name:
            continue
        examples = [e.strip() for e in re.split(r"\s\|\s", row.get("examples") or "") if e.strip()]
        code = CodeModel(
            name=name,
            description=row.get("description") or "",
            inclusion=row.get("inclusion") or "",
            exclusion=row.get("exclusion") or "",
            examples=examples,
        )
        cat = (row.get("category") or "").strip()
        if cat:
            cats.setdefault(cat.casefold(), CategoryModel(name=cat)).codes.append(code)
        else:
            top.append(code)
    return CodebookModel(name=path.stem, categories=list(cats.values()), codes=top)


def load_codebook(path: str | Path) -> Codebook:
    """Read and validate a codebook. Raises :class:`CodebookError` with every problem found."""
    from .ingest.decode import decode_text, read_bytes
    from .ingest.table import rows_from_csv, rows_from_xlsx

    path = Path(path)
    ext = path.suffix.lower()
    try:
        data = read_bytes(path)
        sha = hashlib.sha256(data).hexdigest()
        if ext in (".yaml", ".yml"):
            text, _ = decode_text(data, path)
            try:
                raw = yaml.safe_load(text)
            except yaml.YAMLError as err:
                mark = getattr(err, "problem_mark", None)
                where = f" at line {mark.line + 1}" if mark else ""
                raise CodebookError(path, f"not valid YAML{where}: {getattr(err, 'problem', err)}") from None
            if not isinstance(raw, dict):
                raise CodebookError(path, "a YAML codebook must be a mapping with 'name' and 'categories' or 'codes'")
            try:
                model = CodebookModel.model_validate(raw)
            except ValidationError as err:
                raise CodebookError(path, format_validation_error(err, CodebookModel)) from None
        elif ext in (".csv", ".tsv"):
            text, _ = decode_text(data, path)
            model = _from_rows(rows_from_csv(text, path), path)
        elif ext == ".xlsx":
            model = _from_rows(rows_from_xlsx(data, path), path)
        elif ext == ".qdc":
            from .refi import read_qdc

            return read_qdc(path)
        else:
            raise CodebookError(path, f"unsupported codebook type '{ext}' (use .yaml, .csv, .xlsx or .qdc)")
    except InputError as err:
        raise CodebookError(path, err.problem) from None
    return _build(model, path, sha)


def codebook_to_dict(cb: Codebook) -> dict:
    """A plain, YAML-ready view (used by ``codebook show --format yaml`` and the run manifest)."""
    def code(c: Code) -> dict:
        d = {"name": c.name}
        for k in ("description", "inclusion", "exclusion", "note"):
            if getattr(c, k):
                d[k] = getattr(c, k)
        if c.examples:
            d["examples"] = list(c.examples)
        if c.source_guid:
            d["guid"] = c.source_guid
        return d

    out: dict = {"name": cb.name}
    for k in ("title", "source", "description"):
        if getattr(cb, k):
            out[k] = getattr(cb, k)
    if cb.categories:
        out["categories"] = [
            {
                "name": cat.name,
                **({"description": cat.description} if cat.description else {}),
                **({"questions": list(cat.questions)} if cat.questions else {}),
                "codes": [code(c) for c in cb.codes if c.category == cat.name],
            }
            for cat in cb.categories
        ]
    top = [code(c) for c in cb.codes if c.category is None]
    if top:
        out["codes"] = top
    return out


NEAR_DUPLICATE = 0.8  # TF-IDF cosine of two codes' definitions above which they are reported as near-duplicates


def codebook_warnings(cb: Codebook) -> list[str]:
    """What makes a codebook hard to propose from, one line each: codes with a bare name (no
    description: a zero-shot score has only the name's words to go on), codes without examples,
    and pairs of codes whose definitions are near-duplicates (TF-IDF cosine >= ``NEAR_DUPLICATE``;
    neither a person nor precode can tell them apart from the codebook alone)."""
    out = []
    bare = [c.path for c in cb.codes if not c.description.strip()]
    if bare:
        shown = ", ".join(bare[:5]) + (f" and {len(bare) - 5} more" if len(bare) > 5 else "")
        out.append(f"{len(bare)} of {len(cb.codes)} codes have no description ({shown}): their zero-shot "
                   "scores rest on the name alone, and stay low until coded examples teach them")
    no_ex = [c.path for c in cb.codes if not c.examples]
    if no_ex:
        out.append(f"{len(no_ex)} of {len(cb.codes)} codes have no examples (e.g. {no_ex[0]}); 3-5 example "
                   "utterances per code, in the speaker's own words, help zero-shot proposals most")
    described = [c for c in cb.codes if c.description.strip()]
    if len(described) > 1:
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [f"{c.description} {c.inclusion}" for c in described]
        m = TfidfVectorizer(stop_words="english").fit_transform(texts)
        sims = (m @ m.T).toarray()
        for i in range(len(described)):
            for j in range(i + 1, len(described)):
                if sims[i, j] >= NEAR_DUPLICATE:
                    out.append(f"'{described[i].path}' and '{described[j].path}' have near-duplicate definitions "
                               f"(similarity {sims[i, j]:.2f}): say what tells them apart")
    return out
