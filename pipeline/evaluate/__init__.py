"""Agreement statistics: between human coders, and between precode and a human gold standard.

Two reports, both plain dataclasses holding full-precision numbers (rendering rounds to 3 decimals):

* :func:`agreement` -> :class:`AgreementReport`: inter-coder agreement (Cohen's kappa for exactly two
  coders, Fleiss' kappa and Krippendorff's alpha for two or more, percent agreement) per code, per
  category and overall.
* :func:`evaluate` / :func:`evaluate_files` -> :class:`EvaluationReport`: precode's proposals against
  human codes: precision / recall / F1 per code with micro and macro averages, Cohen's kappa per
  category (top proposal vs gold code) and a calibration table of scores.

:func:`report_table` renders either report as rich tables, :func:`write_report_csv` as one CSV.

Undefined statistics (a code nobody applied, no variance at all) are ``None``, never NaN, and the row
says why.

Modules: :mod:`.stats` (kappas, alpha, precision / recall / F1, calibration error on plain data),
:mod:`.agreement` (coders against each other), :mod:`.matching` (reading a gold table and the
proposals, matching gold rows to segments), :mod:`.scores` (proposals against gold), :mod:`.render`
(tables, CSV, reliability plot).
"""

from .agreement import AGREEMENT_NOTE, AgreementReport, AgreementRow, Coding, PairAgreement, agreement
from .matching import NO_CATEGORY, PRED_REQUIRED, Matching
from .render import EVALUATION_CSV_COLUMNS, reliability_plot, report_table, write_report_csv
from .scores import (
    EVALUATION_NOTE, NONE_LABEL, Average, CalibrationBin, CategoryKappa, CodeScore, EvaluationReport, evaluate,
    evaluate_files, read_table,
)
from .stats import cohen_kappa, expected_calibration_error, fleiss_kappa, krippendorff_alpha, precision_recall_f1

__all__ = [
    "AGREEMENT_NOTE", "AgreementReport", "AgreementRow", "Coding", "PairAgreement", "agreement",
    "NO_CATEGORY", "PRED_REQUIRED", "Matching",
    "EVALUATION_CSV_COLUMNS", "reliability_plot", "report_table", "write_report_csv",
    "EVALUATION_NOTE", "NONE_LABEL", "Average", "CalibrationBin", "CategoryKappa", "CodeScore", "EvaluationReport",
    "evaluate", "evaluate_files", "read_table",
    "cohen_kappa", "expected_calibration_error", "fleiss_kappa", "krippendorff_alpha", "precision_recall_f1",
]
