"""Editing a project's codebook: create a code (in vivo, from a segment's text), rename, merge and
retire codes. Each edit is an append-only event with coder and time, a new codebook version and its
code links (so decisions follow a rename or merge exactly as after a re-run with an edited file),
written in one transaction. :func:`write_codebook` writes the edited codebook out as YAML or .qdc.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .codebook import codebook_from_dict, codebook_to_dict, diff_codebooks
from .errors import CodebookError, PrecodeError
from .private import write_private
from .records import Code, Codebook, utc_now
from .store import Store


def _book(store: Store, codebook: str | None) -> tuple[Codebook, dict]:
    rows = {r.name: r for r in store.codebook_rows()}
    if codebook is None:
        if len(rows) != 1:
            raise PrecodeError(f"{store.path}: name the codebook (one of {', '.join(sorted(rows)) or 'none'})")
        codebook = next(iter(rows))
    if codebook not in rows:
        raise PrecodeError(f"{store.path}: no codebook '{codebook}' (known: {', '.join(sorted(rows)) or 'none'})")
    import json

    content = json.loads(rows[codebook].content)
    return codebook_from_dict(content, rows[codebook].path, rows[codebook].sha256), content


def _find(cb: Codebook, ref: str) -> Code:
    ref_n = " ".join(ref.split()).casefold()
    hits = [c for c in cb.codes if ref_n in (c.path.casefold(), c.name.casefold())]
    if len(hits) != 1:
        what = "no code" if not hits else f"{len(hits)} codes"
        raise PrecodeError(f"codebook '{cb.name}': {what} named '{ref}' (give Category/Name)")
    return hits[0]


def _entries(content: dict):
    """Every code entry (dict) of a stored codebook, with the list holding it and its category."""
    for cat in content.get("categories", []):
        for entry in cat.get("codes", []):
            yield entry, cat.get("codes"), cat.get("name")
    for entry in content.get("codes", []):
        yield entry, content.get("codes"), None


def _entry(content: dict, code: Code) -> dict:
    return next(e for e, _l, cat in _entries(content) if e["name"] == code.name and cat == code.category
                and not e.get("retired") and not e.get("merged_into"))


def _commit(store: Store, old: Codebook, content: dict, kind: str, subject: Code | None, detail: dict,
            coder: str, decision: tuple[str, str, str, str, str] | None = None) -> Codebook:
    """Validate the edited content, then in one transaction: the codebook, its version and links,
    the event (and the in-vivo decision)."""
    if not coder or not coder.strip():
        raise PrecodeError("a codebook edit needs a coder name")
    try:
        new = codebook_from_dict(content, old.path, old.sha256)
    except CodebookError as err:
        raise PrecodeError(f"codebook '{old.name}': {'; '.join(err.problems)}") from None
    changes = diff_codebooks(old, new)
    time = utc_now()
    with store.transaction():
        store.save_codebook(new, content)
        store.record_codebook_version(None, new, content, changes, time)
        guid = subject.guid(old.name) if subject is not None else ""
        store.append_code_event(old.name, kind, guid, {**detail, "changes": [c.line() for c in changes]},
                                coder.strip(), time)
        if decision is not None:
            from .decisions import record

            record(store, *decision, time=time)
    return new


def create_code(store: Store, name: str, coder: str, *, codebook: str | None = None, category: str | None = None,
                description: str = "", segment_id: str | None = None, example: str | None = None,
                memo: str = "in vivo") -> Code:
    """A new code; in vivo when ``segment_id`` is given: the segment's text (or ``example``, the part
    selected) is its first example and the coder's ``add`` decision applies it to the segment."""
    cb, content = _book(store, codebook)
    name = " ".join(name.split())
    if not name:
        raise PrecodeError("the new code needs a name")
    content = copy.deepcopy(content)
    if segment_id is not None and example is None:
        example = next((r.text for r in store.segment_rows() if r.id == segment_id), None)
        if example is None:
            raise PrecodeError(f"{store.path}: no segment '{segment_id}'")
    entry = {"name": name, **({"description": description} if description else {}),
             **({"examples": [" ".join(example.split())]} if example else {})}
    if category:
        cats = content.setdefault("categories", [])
        cat = next((c for c in cats if c["name"].casefold() == category.casefold()), None)
        if cat is None:
            cat = {"name": category, "codes": []}
            cats.append(cat)
        cat.setdefault("codes", []).append(entry)
    else:
        content.setdefault("codes", []).append(entry)
    if _duplicate(cb, name, category):
        raise PrecodeError(f"codebook '{cb.name}' already has a code '{name}'" + (f" in '{category}'" if category else ""))
    probe = codebook_from_dict(content, cb.path, cb.sha256)
    code = next(c for c in probe.codes
                if c.name == name and (c.category or "").casefold() == (category or "").casefold())
    decision = (segment_id, code.guid(cb.name), "add", coder.strip(), memo) if segment_id else None
    _commit(store, cb, content, "create", code, {"name": name, "category": code.category, "example": example or "",
                                                 "segment": segment_id or ""}, coder, decision)
    return code


def _duplicate(cb: Codebook, name: str, category: str | None) -> bool:
    return any(c.name.casefold() == name.casefold() and (c.category or "").casefold() == (category or "").casefold()
               for c in cb.codes)


def rename_code(store: Store, code: str, new_name: str, coder: str, *, codebook: str | None = None) -> Code:
    """Rename a code (its earlier name is kept in ``renamed_from``); decisions follow."""
    cb, content = _book(store, codebook)
    old = _find(cb, code)
    new_name = " ".join(new_name.split())
    if not new_name or _duplicate(cb, new_name, old.category):
        raise PrecodeError(f"codebook '{cb.name}': cannot rename '{old.path}' to '{new_name}'")
    content = copy.deepcopy(content)
    e = _entry(content, old)
    e["renamed_from"] = [*e.get("renamed_from", []), old.name]
    e["name"] = new_name
    new = _commit(store, cb, content, "rename", old, {"from": old.path, "to": new_name}, coder)
    return next(c for c in new.codes if c.name == new_name and c.category == old.category)


def merge_codes(store: Store, source: str, target: str, coder: str, *, codebook: str | None = None) -> Code:
    """Merge ``source`` into ``target``: the source stays in the codebook as ``merged_into``; its
    decisions now belong to the target."""
    cb, content = _book(store, codebook)
    src, dst = _find(cb, source), _find(cb, target)
    if src == dst:
        raise PrecodeError("a code cannot be merged into itself")
    content = copy.deepcopy(content)
    e = _entry(content, src)
    e.clear()
    e.update({"name": src.name, "merged_into": dst.path})
    _commit(store, cb, content, "merge", src, {"from": src.path, "into": dst.path}, coder)
    return dst


def retire_code(store: Store, code: str, coder: str, *, codebook: str | None = None) -> Code:
    """Retire a code: no longer proposed; its decisions are kept and listed as orphaned."""
    cb, content = _book(store, codebook)
    old = _find(cb, code)
    content = copy.deepcopy(content)
    _entry(content, old)["retired"] = True
    _commit(store, cb, content, "retire", old, {"code": old.path}, coder)
    return old


def write_codebook(store: Store, out: str | Path, codebook: str | None = None) -> Path:
    """The project's codebook (with its edits) as YAML (.yaml/.yml) or REFI-QDA (.qdc)."""
    cb, content = _book(store, codebook)
    out = Path(out)
    ext = out.suffix.lower()
    if ext in (".yaml", ".yml"):
        write_private(out, yaml.safe_dump(codebook_to_dict(cb), sort_keys=False, allow_unicode=True, width=100))
    elif ext == ".qdc":
        from .refi import write_qdc

        write_qdc(cb, out)
    else:
        raise PrecodeError(f"{out}: write a codebook as .yaml or .qdc")
    return out
