"""The ``precode`` console script: the typer app of :mod:`pipeline.commands` with every command registered.

Commands live in ``pipeline/commands/`` (one module per group); the app and their shared helpers in
``pipeline/commands/_app.py``.
"""

from __future__ import annotations

from .commands import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
