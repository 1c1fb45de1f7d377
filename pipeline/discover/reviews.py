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
                     "overlap": _round(best_j, 3), **({"code": r["code"]} if r.get("code") else {}),
                     **({"merged_with": r["merged_with"]} if r.get("merged_with") else {})}
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

    Description: its keywords; exemplars: its quotes. ``name`` renames it (default: its proposed name;
    the review keeps both). ``codebook`` defaults to the codebook of the study most of its segments belong
    to. The new code is a codebook edit (a ``create`` event and a new codebook version, as
    :mod:`pipeline.code_edit` writes them) and the acceptance an append-only row of the store, in one
    transaction. Returns the new :class:`Code` (its guid: ``code.guid(codebook)``).
    """
    return _accept(store_path, [candidate], coder, name, codebook, memo)


def merge_candidates(store_path: str | Path, candidates, coder: str, name: str | None = None,
                     codebook: str | None = None, memo: str = "") -> Code:
    """Accept two or more candidates as one code: their keywords (first topic's first) as its description,
    their quotes as its examples, the first one's name unless ``name`` is given. Each candidate gets its own
    acceptance row naming the others (``merged_with``); returns the new code."""
    if len(candidates) < 2:
        raise PrecodeError("merging needs at least two candidates")
    return _accept(store_path, list(candidates), coder, name, codebook, memo)


def _accept(store_path, candidates: list, coder: str, name: str | None, codebook: str | None, memo: str) -> Code:
    from ..codebook import codebook_from_dict
    from ..code_edit import _book, _commit
    from ..errors import CodebookError
    from ..project import load_codebooks

    if not coder or not coder.strip():
        raise PrecodeError("accepting a candidate needs a coder name")
    store_path = Path(store_path)
    cands = [_resolve_candidate(store_path, c) for c in candidates]
    if len({c.id for c in cands}) != len(cands):
        raise PrecodeError("the same candidate is named twice")
    reviews = load_reviews(store_path)
    for cand in cands:
        _check_unreviewed(reviews, cand)
    first = cands[0]
    code_name = " ".join((name or first.name).split())
    if not code_name:
        raise PrecodeError("the new code needs a name")
    members = sorted({m for c in cands for m in c.members})
    keywords = list(dict.fromkeys(k for c in cands for k in c.keywords))
    examples = list(dict.fromkeys(q.text for c in cands for q in c.quotes))
    merged = [c.id for c in cands]
    with Store(store_path) as st:
        books = load_codebooks(st)
        if codebook is None:
            codebook = _codebook_of_members(st, books, members)
        if codebook not in books:
            raise PrecodeError(f"no codebook '{codebook}' in this project (known: {', '.join(sorted(books))})")
        old, content = _book(st, codebook)
        if any(c.name.casefold() == code_name.casefold() for c in old.codes):
            raise PrecodeError(f"codebook '{codebook}' already has a code named '{code_name}'; give another name")
        what = (f"emergent topic {first.id} ({first.size} segments, {first.n_documents} documents)" if len(cands) == 1
                else f"emergent topics {', '.join(merged)} merged ({len(members)} segments)")
        entry = {"name": code_name, "description": ", ".join(keywords), "examples": examples,
                 "note": f"{what}, accepted by {coder.strip()}"}
        cats = content.setdefault("categories", [])
        cat = next((c for c in cats if c.get("name") == EMERGENT_CATEGORY), None)
        if cat is None:
            cat = {"name": EMERGENT_CATEGORY, "description": "Codes that emerged from discovery, accepted by a coder.",
                   "codes": []}
            cats.append(cat)
        cat.setdefault("codes", []).append(entry)
        try:
            probe = codebook_from_dict(content, old.path, old.sha256)
        except (CodebookError, ValueError) as err:
            why = "; ".join(err.problems) if isinstance(err, CodebookError) else str(err)
            raise PrecodeError(f"cannot add '{code_name}' to codebook '{codebook}': {why}") from None
        new = next(c for c in probe.codes if c.category == EMERGENT_CATEGORY and c.name == code_name)
        with st.transaction():  # the code, its codebook version and event, and the acceptances: all or nothing
            _commit(st, old, content, "create", new,
                    {"name": code_name, "category": EMERGENT_CATEGORY, "discovered": merged}, coder)
            time = utc_now()
            for cand in cands:
                _append_review(st, cand.id, {
                    "verdict": "accept", "coder": coder.strip(), "time": time, "memo": memo,
                    "code": {"codebook": codebook, "name": new.name, "guid": new.guid(codebook)},
                    "name": cand.name, "keywords": cand.keywords, "members": cand.members,
                    **({"renamed_to": new.name} if new.name != cand.name else {}),
                    **({"merged_with": [m for m in merged if m != cand.id]} if len(cands) > 1 else {})})
    return new


def status_text(review: dict | None) -> str:
    """How a candidate stands, in words: proposed, rejected, accepted as 'Code', merged into 'Code'."""
    if not review:
        return "proposed"
    if review["verdict"] == "reject":
        return "rejected"
    code = (review.get("code") or {}).get("name", "")
    if review.get("merged_with"):
        return f"merged into '{code}'"
    return f"accepted as '{code}'" if code else "accepted"


def review_status(candidate_id: str, members: list[str], reviews: dict[str, dict]) -> str:
    """:func:`status_text` of the review that matches a candidate (by id or by members), from ``load_reviews``."""
    if candidate_id in reviews:
        return status_text(reviews[candidate_id])
    match = _match_review(members, reviews)
    return status_text(match[1] if match else None)


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
