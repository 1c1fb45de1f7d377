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

A code may carry its history: ``guid`` (a stable identity), ``renamed_from`` / ``aliases`` (earlier
names or paths), ``split_from`` (the code it was split out of); an entry with ``retired: true`` or
``merged_into: OTHER`` stays in the file for its decisions but is no longer proposed.

Spreadsheet shape: columns ``category, code, description, inclusion, exclusion, examples``
(examples separated by `` | ``); only ``code`` is required.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
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
    renamed_from: str | list[str] | None = None
    aliases: list[str] = Field(default_factory=list)
    split_from: str | None = None
    merged_into: str | None = None
    retired: bool = False


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
    retired: list[Code] = []
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
            earlier = [c.renamed_from] if isinstance(c.renamed_from, str) else list(c.renamed_from or [])
            code = Code(
                name=_clean(c.name),
                category=category,
                description=_clean(c.description),
                inclusion=_clean(c.inclusion),
                exclusion=_clean(c.exclusion),
                examples=tuple(_clean(e) for e in c.examples if e.strip()),
                note=_clean(c.note),
                source_guid=(c.guid or "").strip() or None,
                renamed_from=tuple(_clean(x) for x in [*earlier, *c.aliases] if x.strip()),
                split_from=_clean(c.split_from) if c.split_from else None,
                merged_into=_clean(c.merged_into) if c.merged_into else None,
                retired="merged" if c.merged_into else ("retired" if c.retired else ""),
            )
            (retired if code.retired else codes).append(code)

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
        retired=tuple(retired),
    )


def codebook_from_dict(content: dict, path: str | Path = "", sha: str = "") -> Codebook:
    """A codebook back from :func:`codebook_to_dict` output (as stored in a project)."""
    return _build(CodebookModel.model_validate(content), Path(path), sha)


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
        d: dict = {"name": c.name}
        for k in ("description", "inclusion", "exclusion", "note"):
            if getattr(c, k):
                d[k] = getattr(c, k)
        if c.examples:
            d["examples"] = list(c.examples)
        if c.source_guid:
            d["guid"] = c.source_guid
        if c.renamed_from:
            d["renamed_from"] = list(c.renamed_from)
        for k in ("split_from", "merged_into"):
            if getattr(c, k):
                d[k] = getattr(c, k)
        if c.retired == "retired":
            d["retired"] = True
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
                "codes": [code(c) for c in (*cb.codes, *cb.retired) if c.category == cat.name],
            }
            for cat in cb.categories
        ]
    top = [code(c) for c in (*cb.codes, *cb.retired) if c.category is None]
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


# -- what changed between two versions of a codebook ------------------------------------------------
CHANGE_KINDS = ("renamed", "moved", "merged", "split", "retired", "added", "redefined")
FOLLOWED = ("renamed", "moved", "merged")  # decisions follow these to the new code
ORPHANING = ("split", "retired")  # decisions on these are kept, listed as orphaned, marked in exports


@dataclass(frozen=True)
class CodeChange:
    kind: str  # one of CHANGE_KINDS
    old: str | None  # old code path (None for added)
    new: str | None  # new code path (None for retired; for split: the new codes, comma separated)
    old_guid: str | None
    new_guid: str | None  # where decisions go (renamed / moved / merged); None otherwise
    how: str = ""  # what tells: "guid", "renamed_from", "same definition", "split_from", ...

    def line(self) -> str:
        how = f" ({self.how})" if self.how else ""
        if self.kind == "added":
            return f"added     {self.new}"
        if self.kind == "retired":
            return f"retired   {self.old}{how}: its decisions are kept as orphaned"
        if self.kind == "split":
            return f"split     {self.old} -> {self.new}: its decisions go back to review (kept as orphaned)"
        if self.kind == "redefined":
            return f"redefined {self.new} (definition changed; decisions stay)"
        return f"{self.kind:<9} {self.old} -> {self.new}{how}"


def _definition(c: Code) -> tuple[str, str, str]:
    return (c.description.casefold(), c.inclusion.casefold(), c.exclusion.casefold())


def diff_codebooks(old: Codebook, new: Codebook) -> list[CodeChange]:
    """What changed from ``old`` to ``new``, code by code.

    A new code is the same code as an old one when (in this order) their explicit GUIDs match, their
    paths match, the new one names the old one in ``renamed_from`` / ``aliases``, it has the same name
    in another category, or (for an old code left over) their definitions are identical and not empty. Same name in another category is
    *moved*, another name *renamed*. A retired entry with ``merged_into`` merges its old code into
    that one; codes named in ``split_from`` are *split*; old codes left over are *retired*.
    """
    left = {c.guid(old.name): c for c in old.codes}  # old codes not matched yet
    changes: list[CodeChange] = []

    def find(ref: str | None) -> str | None:
        if not ref:
            return None
        ref = ref.casefold()
        hits = [g for g, c in left.items() if ref in (c.path.casefold(), c.name.casefold())]
        return hits[0] if len(hits) == 1 else None

    def same(o_guid: str, n: Code, how: str) -> None:
        o = left.pop(o_guid)
        ng = n.guid(new.name)
        if o.path.casefold() != n.path.casefold() or o_guid != ng:
            kind = "moved" if o.name.casefold() == n.name.casefold() and o.path != n.path else "renamed"
            changes.append(CodeChange(kind, o.path, n.path, o_guid, ng, how))
        elif _definition(o) != _definition(n):
            changes.append(CodeChange("redefined", o.path, n.path, o_guid, ng))

    pending = []
    for n in new.codes:
        by_guid = n.source_guid if n.source_guid in left else None
        by_path = next((g for g, c in left.items() if c.path.casefold() == n.path.casefold()), None)
        if by_guid:
            same(by_guid, n, "guid")
        elif by_path and not (n.source_guid and left[by_path].source_guid):
            same(by_path, n, "")
        else:
            pending.append(n)
    rest = []
    for n in pending:
        g = next((g for g in map(find, n.renamed_from) if g), None)
        if g:
            same(g, n, "renamed_from")
        elif (g := find(n.name)) and not any(r.name.casefold() == n.name.casefold() for r in new.retired):
            same(g, n, "same name")
        else:
            rest.append(n)
    splits: dict[str, list[Code]] = {}
    for n in rest:
        g = find(n.split_from)
        if g:
            splits.setdefault(g, []).append(n)
    rest = [n for n in rest if not any(n in v for v in splits.values())]
    for g, parts in splits.items():
        o = left.pop(g)
        changes.append(CodeChange("split", o.path, ", ".join(p.path for p in parts), g, None, "split_from"))
    for n in new.retired:
        g = find(n.path) or find(n.name)
        if g is None:
            continue
        if n.retired == "merged" and n.merged_into:
            target = next((c for c in new.codes if n.merged_into.casefold() in (c.path.casefold(), c.name.casefold())), None)
            if target is not None:
                left.pop(g)
                changes.append(CodeChange("merged", n.path, target.path, g, target.guid(new.name), "merged_into"))
                continue
        left.pop(g)
        changes.append(CodeChange("retired", n.path, None, g, None, "retired: true" if n.retired == "retired"
                                  else f"merged_into '{n.merged_into}' names no code"))
    added = []
    for n in rest:
        match = [g for g, c in left.items() if c.description and _definition(c) == _definition(n)]
        if len(match) == 1:
            same(match[0], n, "same definition")
        else:
            added.append(n)
    for g, o in list(left.items()):
        changes.append(CodeChange("retired", o.path, None, g, None, "no longer in the codebook"))
    changes += [CodeChange("added", None, n.path, None, n.guid(new.name)) for n in added]
    order = {k: i for i, k in enumerate(CHANGE_KINDS)}
    return sorted(changes, key=lambda c: (order[c.kind], c.old or "", c.new or ""))
