"""Evaluation metrics against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chromesift import metrics


def test_tokens_keep_case_and_split_on_non_word():
    assert metrics.tokenize("Hello, wörld! it's 2024") == ["Hello", "wörld", "it", "s", "2024"]
    assert metrics.tokenize(None) == []


def test_shingles_short_and_empty_texts():
    assert metrics.shingles("") == {}
    # fewer than four tokens: a single shingle of all of them
    assert metrics.shingles("just two") == {("just", "two"): 1}
    assert metrics.shingles("a b c d a b c d") == {
        ("a", "b", "c", "d"): 2,
        ("b", "c", "d", "a"): 1,
        ("c", "d", "a", "b"): 1,
        ("d", "a", "b", "c"): 1,
    }


def test_shingle_counts_two_short_texts_by_hand():
    # pred shingles: the-cat-sat-on, cat-sat-on-the, sat-on-the-mat, on-the-mat-today (4)
    # truth shingles: the first three (3) -> TP 3, FP 1, FN 0, normalised by 4
    tp, fp, fn = metrics.shingle_counts("the cat sat on the mat today", "the cat sat on the mat")
    assert (tp, fp, fn) == pytest.approx((0.75, 0.25, 0.0))
    # multisets: "a b c d" twice holds its first shingle twice, the truth once
    assert metrics.shingle_counts("a b c d a b c d", "a b c d") == pytest.approx((0.2, 0.8, 0.0))
    # case is kept: no shared shingle
    assert metrics.shingle_counts("The cat", "the cat") == pytest.approx((0.0, 0.5, 0.5))
    assert metrics.shingle_counts("", None) == (0.0, 0.0, 0.0)


def test_page_precision_recall_edge_cases():
    assert metrics.page_precision_recall(0.0, 0.0, 0.0) == (1.0, 1.0)  # both empty
    p, r = metrics.page_precision_recall(0.0, 0.0, 1.0)  # nothing extracted
    assert math.isnan(p) and r == 0.0
    p, r = metrics.page_precision_recall(0.0, 1.0, 0.0)  # text where truth is empty
    assert p == 0.0 and math.isnan(r)


def test_shingle_score_three_pages_by_hand():
    preds = ["the cat sat on the mat today", "", "alpha beta gamma delta epsilon"]
    truths = ["the cat sat on the mat", "one two three four five", "alpha beta gamma delta"]
    # page 1: P 3/4, R 1; page 2: P undefined (skipped), R 0; page 3: TP 1, FP 1 -> P 1/2, R 1
    score = metrics.shingle_score(preds, truths, n_boot=200, random_state=3)
    assert score.precision == pytest.approx((0.75 + 0.5) / 2)
    assert score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(20 / 31)  # 2 * 5/8 * 2/3 / (5/8 + 2/3)
    assert score.n_pages == 3
    lo, hi = score.f1_ci
    assert lo <= score.f1 <= hi
    # seeded: the same intervals again
    again = metrics.shingle_score(preds, truths, n_boot=200, random_state=3)
    assert again.f1_ci == score.f1_ci


def test_bootstrap_interval_collapses_on_identical_pages():
    score = metrics.shingle_score(["a b c d e"] * 5, ["a b c d"] * 5, n_boot=100)
    assert score.precision == pytest.approx(0.5)
    assert score.precision_ci == pytest.approx((0.5, 0.5))
    assert score.as_dict()["f1_ci"] == pytest.approx([2 / 3, 2 / 3])


def test_f1_is_zero_when_nothing_was_extracted():
    assert metrics.f1_from(float("nan"), 0.0) == 0.0
    assert math.isnan(metrics.f1_from(float("nan"), 0.5))
    # an extractor that failed on every page: precision undefined, recall 0, F1 0
    score = metrics.shingle_score(["", ""], ["one two three four", "five six"], n_boot=20)
    assert math.isnan(score.precision) and score.recall == 0.0 and score.f1 == 0.0
    assert score.f1_ci == (0.0, 0.0)
    assert metrics.snippet_score([None], [["a b"]], [["c"]])["f1"] == 0.0


def test_shingle_score_empty_input():
    score = metrics.shingle_score([], [])
    assert score.n_pages == 0 and math.isnan(score.f1)


def test_token_f1_by_hand():
    # pred {a:1, b:2, c:1}, truth {a:1, b:1, c:2, d:1}: overlap 3, P 3/4, R 3/5, F1 2/3
    p, r, f = metrics.token_prf("a b b c", "a b c c d")
    assert (p, r, f) == pytest.approx((0.75, 0.6, 2 / 3))
    out = metrics.token_f1(["a b b c", "", "x"], ["a b c c d", "", "y"])
    assert out["f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert out["n_pages"] == 3


def test_snippet_score_pooled_by_hand():
    texts = ["Hello   world.\nFoo bar", None]
    withs = [["Hello world", "missing"], ["x"]]
    withouts = [["Foo  bar", "nav menu"], ["y"]]
    out = metrics.snippet_score(texts, withs, withouts)
    # pooled: TP 1, FN 2, FP 1, TN 2
    assert (out["tp"], out["fn"], out["fp"], out["tn"]) == (1, 2, 1, 2)
    assert out["precision"] == pytest.approx(0.5)
    assert out["recall"] == pytest.approx(1 / 3)
    assert out["f1"] == pytest.approx(0.4)
    assert out["accuracy"] == pytest.approx(0.5)


def test_paragraph_scores_by_hand():
    y_true = [1, 1, 0, 0, 1]
    y_pred = [1, 0, 1, 0, 1]
    out = metrics.paragraph_scores(
        y_true, y_pred, lengths=[10, 20, 30, 40, 50], proba=[0.9, 0.4, 0.6, 0.1, 0.8]
    )
    assert (out["precision"], out["recall"], out["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # characters: TP 60, FP 30, FN 20
    assert out["char_precision"] == pytest.approx(2 / 3)
    assert out["char_recall"] == pytest.approx(0.75)
    assert out["char_f1"] == pytest.approx(12 / 17)
    # ranking T T F T F: (1/1 + 2/2 + 3/4) / 3
    assert out["average_precision"] == pytest.approx(2.75 / 3)
    assert math.isnan(metrics.average_precision(np.array([1, 1]), np.array([0.2, 0.3])))


def test_reliability_curve_and_brier_by_hand():
    proba = [0.05, 0.15, 0.12, 0.95, 1.0]
    y = [0, 1, 0, 1, 1]
    curve = metrics.reliability_curve(y, proba)
    assert curve["count"] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert curve["mean_predicted"][1] == pytest.approx(0.135)
    assert curve["observed"][1] == pytest.approx(0.5)
    assert curve["observed"][9] == pytest.approx(1.0)  # probability 1.0 falls in the last bin
    assert curve["mean_predicted"][5] is None
    assert metrics.brier_score(y, proba) == pytest.approx(0.7419 / 5)
    # ECE: (1 * 0.05 + 2 * 0.365 + 2 * 0.025) / 5
    assert metrics.expected_calibration_error(curve) == pytest.approx(0.83 / 5)
    # the worst bin: 0.135 predicted against 0.5 observed; empty bins do not count
    assert metrics.worst_calibration_gap(curve) == pytest.approx(0.365)
    empty = metrics.reliability_curve([], [])
    assert np.isnan(metrics.worst_calibration_gap(empty))
