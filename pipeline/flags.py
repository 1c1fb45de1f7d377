"""What each flag on a proposal means: one legend for both review screens, the exports and the README."""

from __future__ import annotations

FLAG_LEGEND: dict[str, str] = {
    "uncoded": "no code clears the bar (the precision target, and propose.threshold): nothing is proposed; the "
               "nearest codes are named in the evidence only",
    "category_only": "the category is clear, the code is not: the category is proposed, no code",
    "low_confidence": "proposed, but the score (the chance a person accepts it) is below propose.confident (0.6)",
    "ambiguous": "the best two codes score within propose.ambiguity_margin of each other",
    "truncated": "the segment is longer than the encoder reads: only its start was scored",
    "excel_truncated": "a cell of this row was longer than Excel's 32,767 characters and was cut in the XLSX",
}


def legend_lines() -> list[tuple[str, str]]:
    """(flag, meaning) pairs in a fixed order, for the screens."""
    return list(FLAG_LEGEND.items())
