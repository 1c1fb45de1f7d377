from __future__ import annotations

import csv
import math

import pytest
from rich.console import Console

from pipeline.errors import InputError
from pipeline.evaluate import (
    AgreementReport,
    EvaluationReport,
    agreement,
    cohen_kappa,
    evaluate,
    evaluate_files,
    fleiss_kappa,
    krippendorff_alpha,
    report_table,
    write_report_csv,
)

# --------------------------------------------------------------------------------------------------
# agreement
# --------------------------------------------------------------------------------------------------


def _codings(coder, present_units, code="Barriers/Space"):
    return [(coder, f"u{i}", code) for i in present_units]


UNITS10 = [f"u{i}" for i in range(10)]


def test_evaluate_cohen_kappa_hand_computed_2x2():
    # 10 units, one code, coders A and B:
    #                 B present  B absent
    #   A present         4          1       -> A applied it to 5 units
    #   A absent          2          3       -> B applied it to 6 units
    # p_o = (4 + 3) / 10 = 0.7
    # p_e = P(A+)P(B+) + P(A-)P(B-) = 0.5 * 0.6 + 0.5 * 0.4 = 0.5
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    codings = _codings("A", [0, 1, 2, 3, 4]) + _codings("B", [0, 1, 2, 3, 5, 6])
    rep = agreement(codings, UNITS10)
    row = rep.row("code", "Barriers/Space")
    assert abs(row.cohen_kappa - 0.4) < 1e-9
    assert abs(row.percent_agreement - 0.7) < 1e-9
    assert row.applied == {"A": 5, "B": 6} and row.n_units == 10 and row.reason == ""
    # Fleiss' kappa with two coders is Scott's pi (pooled marginals): p+ = 11/20,
    # p_e = 0.55^2 + 0.45^2 = 0.505, pi = (0.7 - 0.505) / 0.495 = 13/33
    assert abs(row.fleiss_kappa - 13 / 33) < 1e-9
    # Krippendorff's alpha (nominal), coincidence matrix: o11 = 8, o00 = 6, o10 = o01 = 3, n = 20,
    # n1 = 11, n0 = 9: alpha = 1 - (n - 1) * (o10 + o01) / (2 * n1 * n0) = 1 - 19 * 6 / 198 = 14/33
    assert abs(row.krippendorff_alpha - 14 / 33) < 1e-9


def test_evaluate_cohen_kappa_matches_sklearn_on_multiclass():
    sklearn = pytest.importorskip("sklearn.metrics")
    a = ["x", "y", "y", "z", "x", "none", "z", "z", "y", "x", "none", "x"]
    b = ["x", "y", "z", "z", "x", "x", "none", "z", "y", "y", "none", "x"]
    assert abs(cohen_kappa(a, b) - sklearn.cohen_kappa_score(a, b)) < 1e-12
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None
    with pytest.raises(ValueError, match="rated 2 and 1 units"):
        cohen_kappa(["a", "b"], ["a"])


def test_evaluate_fleiss_kappa_wikipedia_example():
    # Worked example of https://en.wikipedia.org/wiki/Fleiss%27_kappa (10 subjects, 14 raters,
    # 5 categories): P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert round(fleiss_kappa(table), 3) == 0.210
    assert fleiss_kappa([[3, 0], [3, 0]]) is None  # every rating in one category
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa([[1, 1], [2, 1]])


def test_evaluate_krippendorff_alpha_hand_and_literature():
    # two coders, five units, binary: A = 1 1 0 0 0, B = 1 0 0 0 0
    # coincidences: o11 = 2, o10 = o01 = 1, o00 = 6; n = 10, n1 = 3, n0 = 7
    # alpha = 1 - (n - 1) * (o10 + o01) / (2 * n1 * n0) = 1 - 9 * 2 / 42 = 4/7
    assert abs(krippendorff_alpha([[1, 1, 0, 0, 0], [1, 0, 0, 0, 0]]) - 4 / 7) < 1e-9
    # labels need not be numbers
    assert abs(krippendorff_alpha([["p", "p", "a", "a", "a"], ["p", "a", "a", "a", "a"]]) - 4 / 7) < 1e-9
    # Krippendorff (2011) "Computing Krippendorff's alpha-reliability", 4 observers x 12 units with
    # missing values: nominal alpha = 0.743
    n = None
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
            [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    assert round(krippendorff_alpha(data), 3) == 0.743
    assert krippendorff_alpha([[0, 0, 0], [0, 0, 0]]) is None


def test_evaluate_agreement_three_coders_fleiss_and_alpha():
    # one code, 3 coders, 4 units: u0 = (1,1,1), u1 = (1,1,0), u2 = (0,0,0), u3 = (0,1,0)
    # Fleiss: P_i = 1, 1/3, 1, 1/3 -> P-bar = 2/3; p+ = 6/12 -> P_e = 1/2; kappa = (2/3 - 1/2) / (1/2) = 1/3
    # alpha: each unit adds 6 ordered pairs of weight 1/2: o11 = 3+1 = 4, o00 = 3+1 = 4, o10 = o01 = 2,
    # n = 12, n1 = n0 = 6: alpha = 1 - 11 * 4 / 72 = 7/18
    codings = _codings("A", [0, 1]) + _codings("B", [0, 1, 3]) + _codings("C", [0])
    rep = agreement(codings, ["u0", "u1", "u2", "u3"])
    row = rep.row("code", "Barriers/Space")
    assert rep.coders == ["A", "B", "C"]
    assert row.cohen_kappa is None  # Cohen's kappa is for exactly two coders
    assert abs(row.fleiss_kappa - 1 / 3) < 1e-9
    assert abs(row.krippendorff_alpha - 7 / 18) < 1e-9
    assert abs(row.percent_agreement - 2 / 3) < 1e-9
    assert row.applied == {"A": 2, "B": 3, "C": 1}


def _category_codings():
    # A: u1 Space, u2 Role, u3 Training     B: u1 Role, u2 Role, u4 Training
    return [("A", "u1", "Barriers/Space"), ("A", "u2", "Barriers/Role"), ("A", "u3", "Facilitators/Training"),
            ("B", "u1", "Barriers/Role"), ("B", "u2", "Barriers/Role"), ("B", "u4", "Facilitators/Training"),
            ("B", "u2", "Barriers/Role")]  # a duplicate coding counts once


def test_evaluate_agreement_per_category_and_overall():
    rep = agreement(_category_codings(), ["u1", "u2", "u3", "u4"])
    # Barriers present: A on u1, u2; B on u1, u2 -> perfect agreement with variance: kappa 1
    bar = rep.row("category", "Barriers")
    assert bar.cohen_kappa == pytest.approx(1.0, abs=1e-12) and bar.applied == {"A": 2, "B": 2}
    # Space: A = 1000, B = 0000: p_o = 3/4, p_e = 1/4 * 0 + 3/4 * 1 = 3/4 -> kappa 0
    space = rep.row("code", "Barriers/Space")
    assert abs(space.cohen_kappa) < 1e-12 and space.category == "Barriers"
    # Facilitators: A = 0010, B = 0001: p_o = 1/2, p_e = 1/16 + 9/16 -> kappa = (1/2 - 5/8) / (3/8) = -1/3
    assert abs(rep.row("category", "Facilitators").cohen_kappa + 1 / 3) < 1e-9
    # overall pools 3 codes x 4 units = 12 items: agreeing 3 + 3 + 2 = 8 -> p_o = 2/3; each coder 3/12
    # present -> p_e = 1/16 + 9/16 = 5/8; kappa = (2/3 - 5/8) / (3/8) = 1/9
    ov = rep.overall
    assert ov.n_items == 12 and ov.n_units == 4
    assert abs(ov.percent_agreement - 2 / 3) < 1e-9 and abs(ov.cohen_kappa - 1 / 9) < 1e-9
    assert "absent" in rep.note and "uncoded" in rep.note

    only_cats = agreement(_category_codings(), ["u1", "u2", "u3", "u4"], by="category")
    assert {r.level for r in only_cats.rows} == {"category", "overall"}
    assert abs(only_cats.overall.cohen_kappa - 1 / 9) < 1e-9


def test_evaluate_agreement_category_map_overrides_paths():
    codings = [("A", "u1", "Space"), ("B", "u1", "Space"), ("A", "u2", "Role"), ("B", "u3", "Role")]
    rep = agreement(codings, ["u1", "u2", "u3"], categories={"Space": "Barriers", "Role": "Barriers"})
    assert [r.name for r in rep.rows if r.level == "category"] == ["Barriers"]
    assert rep.row("category", "Barriers").applied == {"A": 2, "B": 2}
    # without the map, bare codes have no category
    assert [r for r in agreement(codings, ["u1", "u2", "u3"]).rows if r.level == "category"] == []


def test_evaluate_agreement_undefined_kappa_is_none_with_reason():
    codings = _codings("A", range(4), "X/All") + _codings("B", range(4), "X/All") + [("A", "u1", "X/Some")]
    rep = agreement(codings, ["u0", "u1", "u2", "u3"], categories={"X/All": "X", "X/Some": "X", "X/Never": "X"})
    never = rep.row("code", "X/Never")  # in the codebook, applied by nobody
    assert never.cohen_kappa is None and never.fleiss_kappa is None and never.krippendorff_alpha is None
    assert never.percent_agreement == 1.0 and "no coder applied it" in never.reason
    full = rep.row("code", "X/All")  # perfect agreement without variance
    assert full.cohen_kappa is None and full.krippendorff_alpha is None
    assert full.percent_agreement == 1.0 and "every coder applied it to every unit" in full.reason
    assert not any(isinstance(v, float) and math.isnan(v) for r in rep.rows
                   for v in (r.cohen_kappa, r.fleiss_kappa, r.krippendorff_alpha))
    # the overall pool leaves out codes nobody applied: 2 codes x 4 units
    assert rep.overall.n_items == 8


def test_evaluate_agreement_needs_two_coders_and_units():
    codings = _codings("A", [0, 1]) + _codings("B", [1])
    with pytest.raises(ValueError, match=r"at least two coders; got 1 \(A\)"):
        agreement(codings, UNITS10, coders=["A"])
    with pytest.raises(ValueError, match="at least two coders; got 1"):
        agreement(_codings("A", [0]), UNITS10)
    with pytest.raises(ValueError, match="at least one unit"):
        agreement(codings, [])
    with pytest.raises(ValueError, match="by must be"):
        agreement(codings, UNITS10, by="coder")


def test_evaluate_agreement_selects_coders_and_warns_about_left_out_codings():
    codings = _codings("A", [0, 1]) + _codings("B", [0, 1]) + _codings("C", [5]) + [("A", "elsewhere", "Barriers/Space")]
    rep = agreement(codings, ["u0", "u1", "u2"], coders=["A", "B"])
    assert rep.coders == ["A", "B"] and rep.row("code", "Barriers/Space").cohen_kappa == pytest.approx(1.0)
    assert any("1 coding(s) on segments not among the 3 units" in w for w in rep.warnings)
    rep3 = agreement(codings, ["u0", "u1", "u2"], coders=["A", "B", "C"])
    assert any("'C' applied no code" in w for w in rep3.warnings)


# --------------------------------------------------------------------------------------------------
# machine against human
# --------------------------------------------------------------------------------------------------

PRED_HEADER = ["segment_id", "study", "document", "text", "category", "code", "score", "rank", "flags", "status", "coder"]


def _pred(*rows):
    return [dict(zip(["segment_id", "text", "category", "code", "score", "rank", "flags"], r)) for r in rows]


PRED = _pred(
    ("s1", "The role is vague.", "Barriers", "Role", "0.8500", "1", ""),
    ("s1", "The role is vague.", "Barriers", "Space", "0.4200", "2", ""),
    ("s2", "No room at all.", "Barriers", "Space", "0.9100", "1", ""),
    ("s3", "Training helped.", "Facilitators", "Training", "0.7700", "1", ""),
    ("s3", "Training helped.", "Barriers", "Role", "0.3500", "2", "low_confidence"),
    ("s4", "Okay.", "Barriers", "Role", "0.0500", "1", "uncoded;ambiguous"),  # not a proposal
    ("s5", "Not in gold.", "Facilitators", "Training", "0.6600", "1", ""),
)


def _gold(*rows, cols=("segment_id", "category", "code")):
    return [dict(zip(cols, r)) for r in rows]


GOLD = _gold(
    ("s1", "Barriers", "Role"), ("s1", "Facilitators", "Training"),
    ("s2", "Barriers", "Space"),
    ("s3", "Facilitators", "Peers"), ("s3", "Facilitators", "Training"),  # Peers listed first
    ("s4", "", ""),  # reviewed, left uncoded
    ("s9", "Barriers", "Role"),  # no such segment
)


def test_evaluate_precision_recall_f1_by_hand():
    rep = evaluate(GOLD, PRED)
    # units s1..s4 (s5 has no gold, s9 no prediction); proposals: s1 Role, s1 Space, s2 Space,
    # s3 Training, s3 Role (s4's row is flagged uncoded)
    assert rep.n_units == 4 and rep.n_proposals == 5
    role, space, train, peers = (rep.code(c) for c in ("Barriers/Role", "Barriers/Space",
                                                       "Facilitators/Training", "Facilitators/Peers"))
    # Role: gold {s1}, proposed {s1, s3}: tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 = 2/(2+1) = 2/3
    assert (role.tp, role.fp, role.fn) == (1, 1, 0) and role.precision == 0.5 and role.recall == 1.0
    assert abs(role.f1 - 2 / 3) < 1e-12
    # Space: gold {s2}, proposed {s1, s2}
    assert (space.tp, space.fp, space.fn, space.support, space.proposed) == (1, 1, 0, 1, 2)
    # Training: gold {s1, s3}, proposed {s3}: P 1, R 1/2
    assert (train.precision, train.recall) == (1.0, 0.5)
    # Peers: never proposed: precision undefined, recall 0, F1 0
    assert peers.precision is None and peers.recall == 0.0 and peers.f1 == 0.0
    # micro: tp 3, fp 2, fn 2 -> P = R = F1 = 3/5
    assert abs(rep.micro.precision - 0.6) < 1e-12 and abs(rep.micro.recall - 0.6) < 1e-12
    assert abs(rep.micro.f1 - 0.6) < 1e-12
    # macro over 4 codes (undefined counts as 0): P (1/2 + 1/2 + 1 + 0)/4 = 1/2,
    # R (1 + 1 + 1/2 + 0)/4 = 5/8, F1 (2/3 * 3 + 0)/4 = 1/2
    assert abs(rep.macro.precision - 0.5) < 1e-12 and abs(rep.macro.recall - 0.625) < 1e-12
    assert abs(rep.macro.f1 - 0.5) < 1e-12


def test_evaluate_macro_micro_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    from sklearn.preprocessing import MultiLabelBinarizer

    rep = evaluate(GOLD, PRED)
    gold = {"s1": ["B/Role", "F/Training"], "s2": ["B/Space"], "s3": ["F/Training", "F/Peers"], "s4": []}
    pred = {"s1": ["B/Role", "B/Space"], "s2": ["B/Space"], "s3": ["F/Training", "B/Role"], "s4": []}
    mlb = MultiLabelBinarizer().fit(list(gold.values()) + list(pred.values()))
    y, p = mlb.transform(gold.values()), mlb.transform(pred.values())
    for avg, got in (("micro", rep.micro), ("macro", rep.macro)):
        assert abs(metrics.precision_score(y, p, average=avg, zero_division=0) - got.precision) < 1e-12
        assert abs(metrics.recall_score(y, p, average=avg, zero_division=0) - got.recall) < 1e-12
        assert abs(metrics.f1_score(y, p, average=avg, zero_division=0) - got.f1) < 1e-12


def test_evaluate_category_kappa_uses_top_proposal_per_category():
    rep = evaluate(GOLD, PRED)
    # Barriers, per unit (gold, top proposal): s1 (Role, Role), s2 (Space, Space), s3 (none, Role), s4 (none, none)
    # p_o = 3/4; gold: Role 1/4, Space 1/4, none 1/2; proposals: Role 1/2, Space 1/4, none 1/4
    # p_e = 1/8 + 1/16 + 1/8 = 5/16; kappa = (12/16 - 5/16) / (11/16) = 7/11
    bar = rep.category("Barriers")
    assert abs(bar.kappa - 7 / 11) < 1e-9 and abs(bar.agreement - 0.75) < 1e-12 and bar.n_units == 4
    # Facilitators: s1 (Training, none), s2 (none, none), s3 ({Peers, Training}, Training) counts as agreement
    # (the proposal is one of the gold codes, though Peers is listed first),
    # s4 (none, none): p_o = 3/4; gold T 1/2, proposals T 1/4: p_e = 1/8 + 3/8 = 1/2; kappa = 1/2
    fac = rep.category("Facilitators")
    assert abs(fac.kappa - 0.5) < 1e-9 and fac.multi_gold == 1


def test_evaluate_counts_unmatched_rows_and_calibration_bins():
    rep = evaluate(GOLD, PRED)
    m = rep.matching
    assert (m.mode, m.gold_rows, m.matched_rows, m.unmatched_rows) == ("id", 7, 6, 1)
    assert m.unmatched_examples == ["row 8: s9"]
    assert (m.pred_segments, m.pred_segments_without_gold) == (5, 1)
    assert any("1 of 7 gold rows matched no segment" in w for w in rep.warnings)
    # proposals on units: 0.85 ok, 0.42 no, 0.91 ok, 0.77 ok, 0.35 no (s5's 0.66 has no gold)
    got = [(b.low, b.proposals, b.confirmed) for b in rep.calibration if b.proposals]
    assert got == [(0.3, 1, 0), (0.4, 1, 0), (0.7, 1, 1), (0.8, 1, 1), (0.9, 1, 1)]
    assert len(rep.calibration) == 10 and rep.calibration[0].share is None
    assert rep.calibration[8].share == 1.0 and rep.calibration[8].mean_score == pytest.approx(0.85)


def test_evaluate_calibration_bin_edges():
    pred = _pred(("a", "a", "C", "X", "0.1000", "1", ""), ("b", "b", "C", "X", "0.3000", "1", ""),
                 ("c", "c", "C", "X", "1.0000", "1", ""), ("d", "d", "C", "X", "0.0999", "1", ""),
                 ("e", "e", "C", "X", "0.7000", "1", ""))
    gold = _gold(*[(s, "C", "X") for s in "abcde"])
    counts = [b.proposals for b in evaluate(gold, pred).calibration]
    assert counts == [1, 1, 0, 1, 0, 0, 0, 1, 0, 1]


def test_evaluate_top_k_and_threshold_filter_proposals():
    rep = evaluate(GOLD, PRED, top_k=1)
    assert rep.n_proposals == 3 and rep.code("Barriers/Role").precision == 1.0
    rep = evaluate(GOLD, PRED, threshold=0.8)
    assert rep.n_proposals == 2 and rep.code("Facilitators/Training").proposed == 0
    with pytest.raises(ValueError, match="top_k"):
        evaluate(GOLD, PRED, top_k=0)


def test_evaluate_matches_by_normalised_text_and_counts_ambiguous():
    pred = PRED + _pred(("s6", "Okay.", "Barriers", "Space", "0.9", "1", ""))  # 'Okay.' twice now
    gold = _gold(("  The role   is\nvague. ", "barriers", "role"),  # whitespace and case differ
                 ("No room at all.", "Barriers", "Space"),
                 ("Okay.", "Barriers", "Space"),  # two segments have this text
                 ("Never said.", "Barriers", "Space"), cols=("text", "category", "code"))
    rep = evaluate(gold, pred)
    m = rep.matching
    assert (m.mode, m.matched_rows, m.unmatched_rows, m.ambiguous_rows) == ("text", 2, 2, 1)
    assert rep.n_units == 2 and rep.code("Barriers/Role").tp == 1 and rep.code("Barriers/Space").fp == 1


def test_evaluate_falls_back_to_text_when_no_id_matches():
    gold = _gold(("x1", "No room at all.", "Barriers", "Space"), cols=("id", "text", "category", "code"))
    rep = evaluate(gold, PRED)
    assert rep.matching.mode == "text" and rep.n_units == 1 and rep.code("Barriers/Space").tp == 1
    assert any("matched by text instead" in w for w in rep.warnings)


def test_evaluate_gold_without_categories_matches_by_code_name():
    gold = _gold(("s1", "Role"), ("s2", "space"), cols=("segment_id", "code"))
    rep = evaluate(gold, PRED)
    assert rep.code("Barriers/Role").tp == 1 and rep.code("Barriers/Space").tp == 1
    assert any("matched by name alone" in w for w in rep.warnings)


def test_evaluate_category_on_one_side_only_is_matched_by_name_per_code():
    pred = PRED + _pred(("s2", "No room at all.", "", "Challenges", "0.6", "2", ""))  # a code without category
    gold = _gold(("s1", "Barriers", "Role"), ("s2", "", "Challenges"), ("s2", "", "Space"))
    rep = evaluate(gold, pred)
    # Challenges has no category anywhere: matched as is; Space lacks one in gold only: matched by name;
    # Role keeps its category
    # (units s1, s2): Space proposed on both, gold on s2
    assert rep.code("Challenges").tp == 1 and (rep.code("Barriers/Space").tp, rep.code("Barriers/Space").fp) == (1, 1)
    assert rep.code("Barriers/Role").tp == 1 and [c.code for c in rep.codes].count("Space") == 0
    assert rep.warnings[0].startswith("1 code(s) have a category in only one of the files") and "Space" in rep.warnings[0]
    # gold with categories, predictions without
    bare = [{**r, "category": ""} for r in PRED]
    rep2 = evaluate(GOLD, bare)
    assert rep2.code("Barriers/Role").tp == 1 and rep2.micro == evaluate(GOLD, PRED).micro


def test_evaluate_reads_precode_review_status_in_gold():
    gold = _gold(("s1", "Barriers", "Role", "accepted"), ("s1", "Barriers", "Space", "rejected"),
                 ("s2", "Barriers", "Space", "proposed"),  # nobody reviewed s2
                 cols=("segment_id", "category", "code", "status"))
    rep = evaluate(gold, PRED)
    assert rep.n_units == 1 and rep.matching.skipped_rows == 1
    assert rep.code("Barriers/Space").fp == 1 and rep.code("Barriers/Role").tp == 1


def test_evaluate_rejects_bad_rows():
    with pytest.raises(InputError, match="^gold: no 'code' column"):
        evaluate([{"segment_id": "s1", "label": "x"}], PRED)
    with pytest.raises(InputError, match="needs a 'segment_id'"):
        evaluate([{"code": "x"}], PRED)
    with pytest.raises(InputError, match=r"missing column\(s\) 'score'"):
        evaluate(GOLD, [{k: v for k, v in r.items() if k != "score"} for r in PRED])
    with pytest.raises(InputError, match="row 2: score 'high' is not a number"):
        evaluate(GOLD, _pred(("s1", "t", "C", "X", "high", "1", "")))
    with pytest.raises(InputError, match="none of the 1 gold rows matched"):
        evaluate(_gold(("zz", "C", "X")), PRED)
    with pytest.raises(InputError, match="no gold rows"):
        evaluate([], PRED)


# ---- files


def _csv(rows, header):
    lines = [",".join(header)]
    for r in rows:
        lines.append(",".join('"' + str(r.get(h, "")).replace('"', '""') + '"' for h in header))
    return "\n".join(lines) + "\n"


def test_evaluate_files_csv_and_xlsx(write, tmp_path):
    from openpyxl import Workbook

    pred = write("out/coded_segments.csv", _csv(PRED, PRED_HEADER))
    gold_csv = write("gold.csv", _csv(GOLD, ["segment_id", "category", "code"]))
    rep = evaluate_files(gold_csv, pred)
    assert rep.n_units == 4 and abs(rep.micro.f1 - 0.6) < 1e-12

    wb = Workbook()
    ws = wb.active
    ws.append(["ID", "Category", "Code", "Text"])  # header case does not matter
    for r in GOLD:
        ws.append([r["segment_id"], r["category"], r["code"], ""])
    wb.save(tmp_path / "gold.xlsx")
    rep2 = evaluate_files(tmp_path / "gold.xlsx", pred)
    assert rep2.micro == rep.micro and rep2.matching.mode == "id"


def test_evaluate_files_semicolon_csv(write):
    pred = write("p.csv", _csv(PRED, PRED_HEADER))
    gold = write("g.csv", "segment_id;category;code\ns2;Barriers;Space\n")
    assert evaluate_files(gold, pred).code("Barriers/Space").tp == 1


@pytest.mark.parametrize("name,content,message", [
    ("missing.csv", None, "file not found"),
    ("empty.csv", "", "file is empty"),
    ("header.csv", "segment_id,category,code\n", "header but no rows"),
    ("nocode.csv", "segment_id,label\ns1,x\n", "no 'code' column"),
    ("gold.pdf", "%PDF", "unsupported file type '.pdf'"),
])
def test_evaluate_files_bad_gold_is_one_line_error(write, tmp_path, name, content, message):
    pred = write("p.csv", _csv(PRED, PRED_HEADER))
    gold = tmp_path / name if content is None else write(name, content)
    with pytest.raises(InputError) as e:
        evaluate_files(gold, pred)
    line = str(e.value)
    assert "\n" not in line and line.startswith(str(gold)) and message in line


def test_evaluate_files_bad_predictions_name_the_file(write):
    gold = write("g.csv", _csv(GOLD, ["segment_id", "category", "code"]))
    pred = write("p.csv", "segment_id,text,code\ns1,hi,X\n")
    with pytest.raises(InputError) as e:
        evaluate_files(gold, pred)
    assert str(e.value).startswith(str(pred)) and "'score', 'rank'" in str(e.value)


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------


def _render(tables) -> str:
    console = Console(width=250, record=True)
    for t in tables:
        console.print(t)
    return console.export_text()


def test_evaluate_report_table_and_csv_for_agreement(tmp_path):
    rep = agreement(_codings("A", [0, 1, 2, 3, 4]) + _codings("B", [0, 1, 2, 3, 5, 6]), UNITS10,
                    categories={"Barriers/Space": "Barriers", "Barriers/Never": "Barriers"})
    assert isinstance(rep, AgreementReport)
    tables = report_table(rep)
    text = _render(tables)
    assert "0.400" in text and "0.424" in text and "Cohen" in text and "no coder applied it" in text
    assert "0.4000" not in text  # 3 decimals
    path = write_report_csv(rep, tmp_path / "agreement.csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    space = next(r for r in rows if r["name"] == "Barriers/Space")
    assert space["cohen_kappa"] == "0.400" and space["krippendorff_alpha"] == "0.424"
    assert space["applied:A"] == "5" and space["applied:B"] == "6"
    never = next(r for r in rows if r["name"] == "Barriers/Never")
    assert never["cohen_kappa"] == "" and never["agreement"] == "1.000"
    assert [r["level"] for r in rows][-1] == "overall"
    assert rep.row("code", "Barriers/Space").krippendorff_alpha != 0.424  # full precision kept


def test_evaluate_report_table_and_csv_for_evaluation(tmp_path):
    rep = evaluate(GOLD, PRED)
    assert isinstance(rep, EvaluationReport)
    tables = report_table(rep)
    assert len(tables) == 3
    text = _render(tables)
    assert "Facilitators/Peers" in text and "0.667" in text and "0.636" in text  # F1 2/3, kappa 7/11
    assert "unmatched 1" in text
    path = write_report_csv(rep, tmp_path / "eval.csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert {r["section"] for r in rows} == {"code", "micro", "macro", "category", "calibration"}
    peers = next(r for r in rows if r["name"] == "Facilitators/Peers")
    assert peers["precision"] == "" and peers["recall"] == "0.000"
    bar = next(r for r in rows if r["section"] == "category" and r["name"] == "Barriers")
    assert bar["kappa"] == "0.636"
    cal = [r for r in rows if r["section"] == "calibration"]
    assert len(cal) == 10 and cal[8]["proposals"] == "1" and cal[8]["share_confirmed"] == "1.000"
    with pytest.raises(TypeError):
        report_table(object())
