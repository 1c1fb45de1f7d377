"""De-identification: find personal information in transcripts and replace it with pseudonyms.

Three detectors, tuned for recall (a missed name is worse than an over-redacted word):

* ``known``: the project's list of participants, staff, sites (and optional other people, places,
  organisations) with nicknames as aliases. Matched case-insensitively (first names, surnames and
  the distinctive words of site names too), and with a small edit distance for misspellings
  (``Riverbnd`` -> Riverbend). Common words that are also names (``hope``, ``will``, ``mark``) are
  matched in lower case only where the tagger calls them proper nouns.
* ``pattern``: regular expressions and token rules: e-mail, phone (digits and spoken digits),
  street addresses, ZIP codes, record/ID numbers, dates more specific than a year, ages over 89,
  names after ``my name is`` / ``call me`` / titles (``Dr.``, ``Ms.``) / kin words (``my son``),
  capitalised proper nouns that are not English words, speaker labels.
* ``ner``: spaCy's named entities (PERSON, GPE/LOC/FAC, ORG, DATE), filtered (durations,
  countries and US states, common health-system acronyms are kept).

Every name found once is also searched for in the rest of the document. Overlapping findings are
merged into one span (the union), typed by the most trusted detector.

Replacements come from a :class:`PseudonymKey`, one per project: the same person gets the same
``[PARTICIPANT_n]`` in every document. The key is a separate JSON file (mode 0600) and is never
written into the folder of redacted outputs.

Modules: :mod:`.lexicon` (word lists, patterns), :mod:`.names` (spans, known names), :mod:`.key`
(pseudonym key), :mod:`.analysis` (the spaCy analysis, word list and candidates every recognizer reads),
one recognizer per source — :mod:`.known`, :mod:`.patterns`, :mod:`.cues` (names from the words around
them), :mod:`.ner` —, :mod:`.merge` (candidates -> spans), :mod:`.replace` (the operator: pseudonyms
written into the text), :mod:`.detect` (the :class:`Redactor` putting them together), :mod:`.batch` (the two passes over a batch, shared
by ``redact`` and ``run``), :mod:`.filenames` (file names, ids and messages), :mod:`.tables` (tables
written back as tables), :mod:`.files` (folders of transcripts).
"""

from .batch import Deidentifier, Redacted, review_rows
from .detect import Redactor, load_ner
from .filenames import Scrubber, pseudonymise_name
from .files import as_plain_transcript, check_private_paths, originals_path_for, redact_files, write_review
from .key import PseudonymKey
from .lexicon import FIXED, KEY_FORMAT, NUMBERED, REVIEW_FILE, SOURCES, SUMMARY_FILE, TYPES
from .names import KnownNames, Redaction, Span, name_variants

__all__ = [
    "Redactor", "load_ner", "redact_files", "Deidentifier", "Redacted", "review_rows", "write_review",
    "Scrubber", "pseudonymise_name", "check_private_paths", "originals_path_for", "as_plain_transcript",
    "PseudonymKey", "KnownNames", "Redaction", "Span", "name_variants",
    "TYPES", "SOURCES", "FIXED", "NUMBERED", "KEY_FORMAT", "REVIEW_FILE", "SUMMARY_FILE",
]
