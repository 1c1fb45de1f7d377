"""Caption files (.vtt from Zoom/Teams/Otter, .srt): cues merged into speaker turns.

The document text is rebuilt as ``Speaker: text`` paragraphs, one per turn, and offsets refer to
that text. Consecutive cues of the same speaker become one turn (Zoom splits long utterances).
A malformed cue is skipped with a warning naming its line; a file without any valid cue is an error.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..records import Turn
from .text import parse_timestamp

TIMING = re.compile(
    r"^\s*(?P<a>(?:\d{1,2}:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<b>(?:\d{1,2}:)?\d{1,2}:\d{2}[.,]\d{1,3})(?:\s+.*)?$"
)
VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+(?P<name>[^>]+)>")
TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d{1,2}:\d{2}[^>]*>")
LABEL = re.compile(r"^(?P<speaker>[A-Z0-9][\w.'’\-]*(?: [\w.'’\-()]+){0,3})\s*:\s+(?P<rest>.+)$")


@dataclass
class Cue:
    start: float
    end: float
    speaker: str | None
    text: str


def _cue_payload(lines: list[str]) -> tuple[str | None, str]:
    joined = " ".join(ln.strip() for ln in lines if ln.strip())
    speaker = None
    m = VOICE.search(joined)
    if m:
        speaker = m.group("name").strip()
    text = html.unescape(TAG.sub("", joined)).strip()
    if speaker is None:
        m2 = LABEL.match(text)
        if m2:
            speaker, text = m2.group("speaker").strip(), m2.group("rest").strip()
    return speaker, re.sub(r"\s+", " ", text)


def parse_cues(text: str, path: Path, kind: str) -> tuple[list[Cue], list[str], list[str]]:
    """Return (cues, notes, warnings)."""
    lines = text.split("\n")
    if kind == "vtt":
        if not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
            raise InputError(path, "not a WebVTT file (the first line must start with 'WEBVTT')")
    cues: list[Cue] = []
    notes: list[str] = []
    warnings: list[str] = []
    i = 1 if kind == "vtt" else 0
    # skip the rest of the VTT header block
    if kind == "vtt":
        while i < len(lines) and lines[i].strip():
            i += 1
    while i < len(lines):
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines):
            break
        block_start = i
        block: list[str] = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i])
            i += 1
        head = block[0].strip()
        if kind == "vtt" and (head.startswith("NOTE") or head in ("STYLE", "REGION") or head.startswith(("STYLE ", "REGION "))):
            if head.startswith("NOTE"):
                notes.append(" ".join([head[4:].strip(), *[b.strip() for b in block[1:]]]).strip())
            continue
        t = next((k for k, ln in enumerate(block[:2]) if "-->" in ln), None)
        m = TIMING.match(block[t]) if t is not None else None
        if t is None or m is None:
            if t is None:  # the line that tries to be a timing line, else the first one
                t = next((k for k, ln in enumerate(block[:2]) if re.search(r"\d:\d\d", ln)), 0)
            line_no = block_start + 1 + t
            shown = block[t].strip()[:60]
            warnings.append(f"line {line_no}: malformed cue timing '{shown}' (cue skipped)")
            continue
        start, end = parse_timestamp(m.group("a")), parse_timestamp(m.group("b"))
        if start is None or end is None or end < start:
            warnings.append(f"line {block_start + 1 + t}: cue ends before it starts (cue skipped)")
            continue
        speaker, payload = _cue_payload(block[t + 1 :])
        if not payload:
            continue
        cues.append(Cue(start, end, speaker, payload))
    if not cues:
        raise InputError(path, "no valid caption cue found" + (f" ({warnings[0]})" if warnings else ""))
    return cues, notes, warnings


def cues_to_turns(cues: list[Cue]) -> tuple[str, list[Turn]]:
    merged: list[Cue] = []
    for cue in cues:
        prev = merged[-1] if merged else None
        if prev and cue.speaker is not None and cue.speaker == prev.speaker:
            merged[-1] = Cue(prev.start, cue.end, prev.speaker, f"{prev.text} {cue.text}")
        else:
            merged.append(cue)
    parts: list[str] = []
    turns: list[Turn] = []
    pos = 0
    for cue in merged:
        label = f"{cue.speaker}: " if cue.speaker else ""
        start = pos + len(label)
        parts.append(label + cue.text)
        end = start + len(cue.text)
        turns.append(
            Turn(
                index=len(turns),
                speaker=cue.speaker,
                start=start,
                end=end,
                text=cue.text,
                start_time=cue.start,
                end_time=cue.end,
                paragraphs=((start, end),),
            )
        )
        pos = end + 2
    return "\n\n".join(parts) + "\n", turns


def read_captions(text: str, path: Path, kind: str) -> tuple[str, list[Turn], dict, list[str]]:
    cues, notes, warnings = parse_cues(text, path, kind)
    doc_text, turns = cues_to_turns(cues)
    meta = {"notes": " | ".join(notes)} if notes else {}
    return doc_text, turns, meta, warnings
