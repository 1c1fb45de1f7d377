"""The pattern recognizer: regular expressions for e-mail, phone numbers, record/ID numbers, street
addresses and ZIP codes, ages over 89, dates more specific than a year, and organisation names
(``St. Brendan's``, ``... Community Clinic``)."""

from __future__ import annotations

import re

from .analysis import Analysis, Candidate, Words
from .lexicon import (
    ADDRESS_PATTERNS, AGE_PATTERNS, BORN_YEAR, DATE_PATTERNS, EMAIL_PATTERNS, FACILITY, GENERIC_WORDS, ID_CODE,
    ID_DIGITS, ID_KEYED, ID_PATTERNS, NUMERIC_FULL_DATES, ORG_TAIL, PHONE_PATTERNS, SAINT,
)

FRACTIONS = ("24/7", "9/11", "1/2", "1/3", "2/3", "1/4", "3/4")
_LEADING_WORDS = ("the", "a", "an", "our", "my", "this", "that", "at", "in", "to")


class PatternRecognizer:
    source = "pattern"

    def __init__(self, words: Words):
        self.words = words

    def _add(self, out: list[Candidate], s: int, e: int, typ: str, prio: int) -> None:
        out.append(Candidate(s, e, typ, self.source, prio))

    def find(self, an: Analysis) -> list[Candidate]:
        out: list[Candidate] = []
        for step in (self._contacts, self._ids, self._addresses, self._ages, self._dates, self._orgs):
            step(an.text, an, out)
        return out

    def _contacts(self, text: str, an: Analysis, out: list[Candidate]) -> None:
        for rx in EMAIL_PATTERNS:
            for m in rx.finditer(text):
                self._add(out, m.start(), m.end(), "EMAIL", 120)
        for rx in PHONE_PATTERNS:
            for m in rx.finditer(text):
                self._add(out, m.start(), m.end(), "PHONE", 115)

    def _ids(self, text: str, an: Analysis, out: list[Candidate]) -> None:
        for m in ID_KEYED.finditer(text):
            self._add(out, m.start("id"), m.end("id"), "ID", 112)
        for rx in ID_PATTERNS:
            for m in rx.finditer(text):
                s = m.group(0)
                digits = sum(ch.isdigit() for ch in s)
                if rx is ID_DIGITS:  # a long number, not a range of years or a date
                    if digits < 5 or re.fullmatch(r"(?:19|20)\d\d-(?:19|20)?\d\d", s) or any(
                            d.fullmatch(s) for d in NUMERIC_FULL_DATES):
                        continue
                if rx is ID_CODE and (digits < 3 or len(s) < 5 or self.words.on_keep_list(s)):
                    continue
                self._add(out, m.start(), m.end(), "ID", 110)

    def _addresses(self, text: str, an: Analysis, out: list[Candidate]) -> None:
        for rx in ADDRESS_PATTERNS:
            for m in rx.finditer(text):
                prio = 111 if re.search(r"\d{5}", m.group(0)) else 105  # a ZIP code is not an ID number
                if "a" in rx.groupindex:
                    self._add(out, m.start("a"), m.end("a"), "ADDRESS", prio)
                else:
                    self._add(out, m.start(), m.end(), "ADDRESS", prio)

    def _ages(self, text: str, an: Analysis, out: list[Candidate]) -> None:
        for rx in AGE_PATTERNS:
            for m in rx.finditer(text):
                self._add(out, m.start("n"), m.end("n"), "AGE", 88)
                # "he's 91 now? No, 92.": a second number over 89 right after an age
                for m2 in re.finditer(r"\b(?:9\d|1[01]\d)\b", text[m.end():m.end() + 25]):
                    self._add(out, m.end() + m2.start(), m.end() + m2.end(), "AGE", 88)

    def _dates(self, text: str, an: Analysis, out: list[Candidate]) -> None:
        for rx in DATE_PATTERNS:
            for m in rx.finditer(text):
                s = m.start()
                lead = re.match(r"(?i)(?:the|every|on|by|before|after|until)[ \t]+(?=\d)", m.group(0))
                if lead:
                    s += lead.end()
                if "d" in rx.groupindex:
                    self._add(out, m.start("d"), m.end("d"), "DATE", 101)
                    continue
                if m.group(0) in FRACTIONS or (re.fullmatch(r"\d+/\d+", m.group(0)) and _fraction_context(text, m)):
                    continue
                # a date with digits beats a listed name ("June 3rd" with a staff member called June);
                # a month on its own after "in"/"since" too
                prio = 102 if re.search(r"\d", m.group(0)) else 65
                if prio == 65 and re.search(r"(?i)\b(?:in|since|until|till|by|of|last|next|this|early|late|mid|"
                                            r"through|before|after|during|every|from)[ \t-]*$", text[max(0, s - 12):s]):
                    prio = 101
                self._add(out, s, m.end(), "DATE", prio)
        for m in BORN_YEAR.finditer(text):
            self._add(out, m.start(1), m.end(1), "DATE", 65)

    def _orgs(self, text: str, an: Analysis, out: list[Candidate]) -> None:
        for m in SAINT.finditer(text):
            self._add(out, m.start(), m.end(), "ORG", 48)
        for m in FACILITY.finditer(text):  # "Cedar Flats Community-Based Outpatient Clinic"
            words = re.findall(r"[\w'’.&-]+", m.group(0))
            s0 = m.start()
            while words and (words[0].lower() in _LEADING_WORDS or (tok := an.tok_at(s0)) is not None and tok.is_stop):
                s0 = text.index(words[0], s0) + len(words[0])
                s0 += len(text[s0:]) - len(text[s0:].lstrip(" \t"))
                words = words[1:]
            names = [w for w in words[:-1] if not all(p.lower() in GENERIC_WORDS or p.lower() in ORG_TAIL
                                                      or self.words.kept(p) or p.lower() in ("of", "for", "and", "&", "the", "on")
                                                      for p in w.split("-"))]
            if names:
                self._add(out, s0, m.end(), "ORG", 48)


def _fraction_context(text: str, m: re.Match) -> bool:
    after = text[m.end():m.end() + 12].lower()
    return bool(re.match(r"[ \t]*(?:of|times|days|hours|split|ratio)\b", after))
