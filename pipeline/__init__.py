"""precode: first-pass coding of qualitative transcripts, confirmed by people."""

__version__ = "0.1.0"
