"""Plain-text transcripts with speaker labels (also used for the text of .docx files).

Recognised line shapes:

* ``Name: text`` (``Dr. Lee:``, ``Speaker 2:``, ``INT:``, ``P03:``)
* ``[00:01:02] Name: text`` or ``00:01:02 Name: text`` (timestamp first)
* ``Name  0:03`` alone on a line, the text on the following lines (Otter.ai export)
* lines with no label continue the current turn; blank lines separate its paragraphs
* ``#`` lines and title lines before the first labelled turn are a preamble (``# key: value``
  becomes document metadata); they stay in the document text but are not turns.

A file with no speaker labels at all is read as field notes: one turn per paragraph, no speaker.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ..records import Turn

_TS = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_NAME = r"[A-Z0-9][\w.'’\-]*(?: [\w.'’\-()]+){0,3}"
TS_LABEL = re.compile(rf"^\s*[\[(]?(?P<ts>{_TS})[\])]?\s*[-–]?\s*(?P<speaker>{_NAME})\s*:\s*(?P<rest>.*)$")
LABEL = re.compile(rf"^\s*(?P<speaker>{_NAME})\s*(?:\((?P<ts>{_TS})\))?\s*:(?:\s+|$)(?P<rest>.*)$")
OTTER = re.compile(rf"^\s*(?P<speaker>{_NAME})\s{{1,4}}(?P<ts>{_TS})\s*$")
META = re.compile(r"^#\s*(?P<key>[^:]{1,60}):\s*(?P<value>.+)$")
# Words that often start a line followed by a colon but are not speakers.
NOT_SPEAKERS = {"note", "notes", "http", "https", "re", "subject", "date", "time", "location", "site"}
# Single words that start a sentence followed by a colon ("Anyway: ...") more often than a speaker.
DISCOURSE_WORDS = {
    "so", "well", "anyway", "okay", "ok", "yes", "no", "and", "but", "also", "example", "answer",
    "question", "result", "because", "then", "now", "first", "second", "finally", "basically", "like",
}


def parse_timestamp(ts: str | None) -> float | None:
    if not ts:
        return None
    parts = ts.replace(",", ".").split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    seconds = 0.0
    for v in values:
        seconds = seconds * 60 + v
    return seconds


@dataclass
class _Line:
    start: int  # offset of the line in the text
    raw: str
    speaker: str | None = None
    ts: str | None = None
    content_start: int | None = None  # offset where the spoken text starts (after the label)
    header_only: bool = False  # Otter: label line without text


def _scan(text: str) -> list[_Line]:
    lines, pos = [], 0
    for raw in text.split("\n"):
        line = _Line(pos, raw)
        for pattern, header_only in ((TS_LABEL, False), (OTTER, True), (LABEL, False)):
            m = pattern.match(raw)
            if m and m.group("speaker").strip().lower().rstrip(".") not in NOT_SPEAKERS:
                line.speaker = m.group("speaker").strip()
                line.ts = m.groupdict().get("ts")
                line.header_only = header_only
                line.content_start = pos + (m.start("rest") if not header_only else len(raw))
                break
        lines.append(line)
        pos += len(raw) + 1
    return lines


def _plausible(speaker: str, counts: Counter, known: set[str]) -> bool:
    """Keep a label as a speaker if it recurs, is short, or is known from the role map."""
    words = speaker.split()
    return (
        counts[speaker] >= 2
        or speaker.lower() in known
        or (len(words) == 1 and speaker.lower() not in DISCOURSE_WORDS)
        or bool(re.fullmatch(r"(speaker|participant|respondent|p|r)\s*\d+", speaker, re.I))
    )


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paragraphs(text: str, start: int, end: int, lines_are_paragraphs: bool) -> tuple[tuple[int, int], ...]:
    sep = re.compile(r"\n" if lines_are_paragraphs else r"\n[ \t]*\n")
    spans, pos = [], start
    for m in sep.finditer(text, start, end):
        spans.append(_trim(text, pos, m.start()))
        pos = m.end()
    spans.append(_trim(text, pos, end))
    return tuple(s for s in spans if s[1] > s[0])


def parse_transcript(
    text: str, known_speakers: set[str] | None = None, lines_are_paragraphs: bool = False
) -> tuple[list[Turn], dict[str, str]]:
    """Split ``text`` into turns. Returns (turns, preamble metadata)."""
    known = {k.lower() for k in (known_speakers or set())}
    lines = _scan(text)
    counts = Counter(ln.speaker for ln in lines if ln.speaker)
    for ln in lines:
        if ln.speaker and not ln.ts and not _plausible(ln.speaker, counts, known):
            ln.speaker = ln.ts = ln.content_start = None
    metadata: dict[str, str] = {}
    if not any(ln.speaker for ln in lines):
        return _unlabelled(text, lines, metadata), metadata

    turns: list[Turn] = []
    current: dict | None = None
    in_preamble = True

    def close(end: int) -> None:
        if current is None:
            return
        s, e = _trim(text, current["start"], end)
        if e > s:
            turns.append(
                Turn(
                    index=len(turns),
                    speaker=current["speaker"],
                    start=s,
                    end=e,
                    text=text[s:e],
                    start_time=parse_timestamp(current["ts"]),
                    paragraphs=_paragraphs(text, s, e, lines_are_paragraphs),
                )
            )

    for ln in lines:
        if ln.speaker:
            close(ln.start)
            in_preamble = False
            current = {"speaker": ln.speaker, "ts": ln.ts, "start": ln.content_start}
            continue
        if in_preamble:
            m = META.match(ln.raw.strip())
            if m:
                metadata[m.group("key").strip().lower()] = m.group("value").strip()
            continue
    close(len(text))
    # end times: the next turn's start time, where both are known
    for i, t in enumerate(turns[:-1]):
        nxt = turns[i + 1].start_time
        if t.start_time is not None and nxt is not None and nxt >= t.start_time:
            turns[i] = _replace(t, end_time=nxt)
    return turns, metadata


def _replace(turn: Turn, **changes) -> Turn:
    from dataclasses import replace

    return replace(turn, **changes)


def _unlabelled(text: str, lines: list[_Line], metadata: dict[str, str]) -> list[Turn]:
    """Field notes or prose without speaker labels: one turn per paragraph, '#' lines skipped."""
    turns: list[Turn] = []
    block_start: int | None = None
    block_end = 0
    for ln in lines + [_Line(len(text) + 1, "")]:
        stripped = ln.raw.strip()
        if stripped.startswith("#"):
            m = META.match(stripped)
            if m:
                metadata[m.group("key").strip().lower()] = m.group("value").strip()
        if not stripped or stripped.startswith("#"):
            if block_start is not None:
                s, e = _trim(text, block_start, block_end)
                turns.append(Turn(index=len(turns), speaker=None, start=s, end=e, text=text[s:e], paragraphs=((s, e),)))
                block_start = None
            continue
        if block_start is None:
            block_start = ln.start
        block_end = ln.start + len(ln.raw)
    return turns
