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


def test_a_soft_hyphen_on_either_side_changes_no_score():
    plain = "Im Mittelalter war der Wein berühmt"
    shy = "Im Mit\u00adtel\u00adal\u00adter war der Wein be\u00adrühmt"
    assert metrics.tokenize(shy) == metrics.tokenize(plain) == ["Im", "Mittelalter", "war", "der", "Wein", "berühmt"]
    for pred, truth in ((shy, plain), (plain, shy), (shy, shy)):
        assert metrics.shingle_counts(pred, truth) == (1.0, 0.0, 0.0)
        assert metrics.token_prf(pred, truth)[2] == 1.0
        assert metrics.snippet_counts(pred, [truth], ["nav menu"]) == metrics.SnippetCounts(tp=1, tn=1)
    # a real hyphen still splits a word, and another word is still another word
    assert metrics.tokenize("Mit-tel") == ["Mit", "tel"]
    assert metrics.shingle_counts("Im Mittelalter war der Wine", shy)[0] < 1.0


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


def _pages(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.5, 1.0, (n, 2)), rng.uniform(0.3, 1.0, (n, 2))
    a[2, 0] = np.nan  # (a page whose precision is undefined: the means skip it)
    return a, b


def test_site_lead_is_the_difference_of_the_two_scores():
    a, b = _pages(0, 60)
    sites = [f"site{i % 11}" for i in range(60)]
    lead = metrics.site_lead("full", metrics.page_parts("full", a), metrics.page_parts("full", b), sites, n_boot=200)
    want = metrics.mean_score(a[:, 0], a[:, 1], n_boot=0).f1 - metrics.mean_score(b[:, 0], b[:, 1], n_boot=0).f1
    assert lead.lead == pytest.approx(want, abs=1e-12)
    assert lead.sites == 11 and lead.pages == 60 and len(lead.replicates) == 200
    assert lead.interval[0] < lead.lead < lead.interval[1]
    # snippets: pooled counts, as snippet_score pools them
    ca = [metrics.SnippetCounts(tp=3, fn=1, fp=0), metrics.SnippetCounts(tp=1, fn=0, fp=2)]
    cb = [metrics.SnippetCounts(tp=2, fn=2, fp=1), metrics.SnippetCounts(tp=0, fn=1, fp=0)]
    snip = metrics.site_lead("snippets", metrics.page_parts("snippets", ca), metrics.page_parts("snippets", cb),
                             ["x", "y"], n_boot=0)
    want = metrics.f1_from(4 / 6, 4 / 5) - metrics.f1_from(2 / 3, 2 / 5)
    assert snip.lead == pytest.approx(want) and math.isnan(snip.interval[0]) and snip.as_dict()["sites"] == 2


def test_site_lead_interval_does_not_shrink_when_a_site_repeats_its_pages():
    # pages of one site succeed and fail together: four copies of each site's pages are no
    # more evidence than one, so the interval over sites stays the same; counted as pages of
    # sites of their own, the same copies would narrow it by half
    a, b = _pages(1, 40)
    once = metrics.site_lead("full", metrics.page_parts("full", a), metrics.page_parts("full", b),
                             list(range(40)), n_boot=400, random_state=3)
    a4, b4 = np.repeat(a, 4, axis=0), np.repeat(b, 4, axis=0)
    sites4 = list(np.repeat(np.arange(40), 4))
    four = metrics.site_lead("full", metrics.page_parts("full", a4), metrics.page_parts("full", b4), sites4,
                             n_boot=400, random_state=3)
    assert four.lead == pytest.approx(once.lead)
    assert four.interval == pytest.approx(once.interval)
    apart = metrics.site_lead("full", metrics.page_parts("full", a4), metrics.page_parts("full", b4),
                              list(range(160)), n_boot=400, random_state=3)
    width = once.interval[1] - once.interval[0]
    assert apart.interval[1] - apart.interval[0] < 0.7 * width


def test_mean_lead_averages_the_resamples():
    a, b = _pages(2, 30)
    x = metrics.site_lead("full", metrics.page_parts("full", a), metrics.page_parts("full", b), list(range(30)),
                          n_boot=100)
    y = metrics.site_lead("full", metrics.page_parts("full", b), metrics.page_parts("full", a), list(range(30)),
                          n_boot=100, random_state=1)
    both = metrics.mean_lead([x, y])
    assert both["lead"] == pytest.approx((x.lead + y.lead) / 2) and both["datasets"] == 2
    lo, hi = np.percentile((x.replicates + y.replicates) / 2, [2.5, 97.5])
    assert (both["low"], both["high"]) == pytest.approx((lo, hi))
    assert metrics.mean_lead([]) is None
    # without resamples the mean has no interval
    plain = metrics.site_lead("full", metrics.page_parts("full", a), metrics.page_parts("full", b), [0] * 30, n_boot=0)
    assert math.isnan(metrics.mean_lead([plain, x])["low"])


def test_site_lead_refuses_mismatched_pages():
    a, b = _pages(3, 5)
    with pytest.raises(ValueError, match="5 and 4 pages"):
        metrics.site_lead("full", metrics.page_parts("full", a), metrics.page_parts("full", b[:4]), list(range(5)))
    with pytest.raises(ValueError, match="kind"):
        metrics.page_parts("pooled", a)


def test_site_lead_resamples_in_chunks_the_same(monkeypatch):
    a, b = _pages(4, 50)
    pa, pb = metrics.page_parts("full", a), metrics.page_parts("full", b)
    whole = metrics.site_lead("full", pa, pb, list(range(50)), n_boot=300, random_state=7)
    monkeypatch.setattr(metrics, "_BOOT_CELLS", 50 * 7)  # seven resamples at a time
    chunked = metrics.site_lead("full", pa, pb, list(range(50)), n_boot=300, random_state=7)
    # the same draws (the matrix products may round in another order)
    np.testing.assert_allclose(chunked.replicates, whole.replicates, rtol=0, atol=1e-12)
