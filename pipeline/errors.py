"""Errors that reach the user as one clear line, never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

# C0/C1 controls, line and paragraph separators, bidirectional overrides: a file name holding one could
# break a message into two lines (forging a "skipped:" line) or reorder what a terminal shows
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``, ``\\u202e``): safe on one line of a
    terminal, a log or a manifest."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


class PrecodeError(Exception):
    """Base class: ``str(err)`` is the one line shown to the user."""


class InputError(PrecodeError):
    """A transcript (or other input file) that cannot be read. A batch reports it and goes on."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{printable(self.path)}: {printable(problem)}")


class ConfigError(PrecodeError):
    """A batch config that is invalid. Nothing runs."""

    def __init__(self, path: str | Path, problems: list[str] | str):
        self.path = str(path)
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(f"{self.path}: " + "; ".join(self.problems))


class CodebookError(PrecodeError):
    """A codebook that is invalid. Nothing runs."""

    def __init__(self, path: str | Path, problems: list[str] | str):
        self.path = str(path)
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(f"{self.path}: " + "; ".join(self.problems))


class ModelError(PrecodeError):
    """A model (embedding or spaCy) that cannot be found or loaded."""
