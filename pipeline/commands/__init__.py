"""The command line: one module per group of commands, each registering itself on :data:`app` when imported.

:mod:`._app` holds the typer ``app`` and what the commands share (consoles, :func:`~._app.fail`, progress
bars); this package imports every command module, so ``from pipeline.commands import app`` is the whole CLI.
Library code (everything outside this package and :mod:`pipeline.cli`) never imports from here.
"""

from __future__ import annotations

# in the order `precode --help` lists them
from . import run, codebook, review, export, agreement, compare, discover, report, redact, tune  # noqa: I001
from ._app import app

__all__ = ["app", "agreement", "codebook", "compare", "discover", "export", "redact", "report", "review", "run", "tune"]
