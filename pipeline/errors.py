"""Errors that reach the user as one clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path


class PrecodeError(Exception):
    """Base class: ``str(err)`` is the one line shown to the user."""


class InputError(PrecodeError):
    """A transcript (or other input file) that cannot be read. A batch reports it and goes on."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


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
