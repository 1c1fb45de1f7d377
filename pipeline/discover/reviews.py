"""People decide on candidates: accept (a code of category Emergent) or reject; append-only rows of the store."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import PrecodeError
from ..records import Code, Codebook, utc_now
from ..store import Store
from .model import CandidateCode, EMERGENT_CATEGORY, REVIEW_MATCH, _round, candidate_id, discovery_dir
from .outputs import load_candidates


# -- reviews: append-only rows of the store --------------------------------------------------------

def _legacy_reviews_path(store_path: str | Path) -> Path:
    return discovery_dir(store_path) / "reviews.json"


def _import_legacy_reviews(st: Store, store_path: str | Path) -> None:
    """Projects made before the store kept discovery reviews wrote them to discovery/reviews.json:
    copy them into the table once (the file is left as it is)."""
    p = _legacy_reviews_path(store_path)
    if not p.exists() or st.discovery_reviews():
        return
    old = json.loads(p.read_text(encoding="utf-8"))
    for cid in sorted(old, key=lambda k: (old[k].get("time", ""), k)):
        _append_review(st, cid, old[cid])


def _append_review(st: Store, candidate_id: str, review: dict) -> None:
    record = {k: v for k, v in review.items() if k not in ("verdict", "coder", "time", "memo")}
    st.append_discovery_review(candidate_id, review["verdict"], review["coder"], review["time"],
                               review.get("memo", ""), record)


def load_reviews(store_path: str | Path) -> dict[str, dict]:
    """Candidate id -> its review (verdict, coder, time, memo, name, keywords, members, code)."""
    out: dict[str, dict] = {}
    with Store(store_path) as st:
        _import_legacy_reviews(st, store_path)
        for r in st.discovery_reviews():
            out.setdefault(r.candidate_id, {"verdict": r.verdict, "coder": r.coder, "time": r.time, "memo": r.memo,
                                            **r.record})
    return out


def _match_review(members: list[str], reviews: dict[str, dict]) -> tuple[str, dict] | None:
    best, best_j = None, 0.0
    m, own = set(members), candidate_id(members)
    for rid in sorted(reviews):
        r = reviews[rid]
        other = set(r.get("members", []))
        j = 1.0 if rid == own else (len(m & other) / len(m | other) if m | other else 0.0)
        if j > best_j:
            best, best_j = (rid, r), j
    if best is not None and best_j >= REVIEW_MATCH:
        rid, r = best
        return rid, {"id": rid, "verdict": r["verdict"], "coder": r["coder"], "time": r["time"],
                     "overlap": _round(best_j, 3), **({"code": r["code"]} if r.get("code") else {})}
    return None


# -- review: accept / reject ------------------------------------------------------------------------

def _resolve_candidate(store_path, candidate) -> CandidateCode:
    if isinstance(candidate, CandidateCode):
        return candidate
    found = load_candidates(store_path)
    for c in found:
        if c.id == candidate:
            return c
    if isinstance(candidate, str) and candidate.isdigit() and 1 <= int(candidate) <= len(found):
        return found[int(candidate) - 1]  # its number in the list `precode discover` printed
    raise PrecodeError(f"no candidate '{candidate}' in the latest discovery of {store_path} "
                       f"(give its number, 1-{len(found)}, or its id)")


def _check_unreviewed(reviews: dict, cand: CandidateCode) -> None:
    if cand.id in reviews:
        r = reviews[cand.id]
        raise PrecodeError(f"candidate {cand.id} was already {r['verdict']}ed by {r['coder']} on {r['time']}")


def accept_candidate(store_path: str | Path, candidate, coder: str, name: str | None = None,
                     codebook: str | None = None, memo: str = "") -> Code:
    """Add the candidate to the project codebook as a code of category ``Emergent``.

    Description: its keywords; exemplars: its quotes. ``codebook`` defaults to the codebook of the
    study most of its segments belong to. The acceptance is an append-only row of the store.
    Returns the new :class:`Code` (its guid: ``code.guid(codebook)``).
    """
    from ..codebook import CodebookModel, _build
    from ..project import load_codebooks

    if not coder or not coder.strip():
        raise PrecodeError("accepting a candidate needs a coder name")
    store_path = Path(store_path)
    cand = _resolve_candidate(store_path, candidate)
    reviews = load_reviews(store_path)
    _check_unreviewed(reviews, cand)
    code_name = " ".join((name or cand.name).split())
    if not code_name:
        raise PrecodeError("the new code needs a name")
    with Store(store_path) as st:
        books = load_codebooks(st)
        if codebook is None:
            codebook = _codebook_of_members(st, books, cand.members)
        if codebook not in books:
            raise PrecodeError(f"no codebook '{codebook}' in this project (known: {', '.join(sorted(books))})")
        row = st.codebook_row(codebook)
        path, content = row.path, json.loads(row.content)
        if any(c.name.casefold() == code_name.casefold() for c in books[codebook].codes):
            raise PrecodeError(f"codebook '{codebook}' already has a code named '{code_name}'; give another name")
        code = {
            "name": code_name,
            "description": ", ".join(cand.keywords),
            "examples": [q.text for q in cand.quotes],
            "note": f"emergent topic {cand.id} ({cand.size} segments, {cand.n_documents} documents), "
                    f"accepted by {coder.strip()}",
        }
        cats = content.setdefault("categories", [])
        cat = next((c for c in cats if c.get("name") == EMERGENT_CATEGORY), None)
        if cat is None:
            cat = {"name": EMERGENT_CATEGORY, "description": "Codes that emerged from discovery, accepted by a coder.",
                   "codes": []}
            cats.append(cat)
        cat.setdefault("codes", []).append(code)
        try:
            cb = _build(CodebookModel.model_validate(content), Path(path), books[codebook].sha256)
        except Exception as err:
            raise PrecodeError(f"cannot add '{code_name}' to codebook '{codebook}': {err}") from None
        new = next(c for c in cb.codes if c.category == EMERGENT_CATEGORY and c.name == code_name)
        with st.transaction():  # the code and its acceptance together
            st.save_codebook(cb, content)
            _append_review(st, cand.id, {"verdict": "accept", "coder": coder.strip(), "time": utc_now(), "memo": memo,
                                     "code": {"codebook": codebook, "name": new.name, "guid": new.guid(codebook)},
                                     "name": cand.name, "keywords": cand.keywords, "members": cand.members})
    return new


def reject_candidate(store_path: str | Path, candidate, coder: str, memo: str = "") -> dict:
    """Remember that ``coder`` rejected the candidate (an append-only row of the store); returns the record."""
    if not coder or not coder.strip():
        raise PrecodeError("rejecting a candidate needs a coder name")
    cand = _resolve_candidate(store_path, candidate)
    reviews = load_reviews(store_path)
    _check_unreviewed(reviews, cand)
    review = {"verdict": "reject", "coder": coder.strip(), "time": utc_now(), "memo": memo,
              "name": cand.name, "keywords": cand.keywords, "members": cand.members}
    with Store(store_path) as st:
        _append_review(st, cand.id, review)
    return review


def _codebook_of_members(st: Store, books: dict[str, Codebook], members: list[str]) -> str:
    """The codebook used by the study most members belong to (the latest run's suggestions tell)."""
    if len(books) == 1:
        return next(iter(books))
    counts = st.codebooks_of_segments(members)
    if not counts:
        raise PrecodeError("cannot tell which codebook the candidate belongs to; name one")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
