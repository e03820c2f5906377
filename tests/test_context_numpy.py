"""The numpy context stage and classifier against the pandas implementation they replaced."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from chromesift.features.transformer import CATEGORICAL
from chromesift.models.classifier import (
    CONTEXT_BOOKS,
    CONTEXT_NAMES,
    TwoStageClassifier,
    context_features,
)

# --- reference: the pandas implementation as it was before the numpy rewrite --------------


def _ref_context_features(p: np.ndarray, books: pd.DataFrame, chars: np.ndarray) -> pd.DataFrame:
    order = np.lexsort((books["_pos"].to_numpy(), books["_doc"].to_numpy()))
    if np.array_equal(order, np.arange(len(order))):
        return _ref_context_sorted(p, books, chars)
    out = _ref_context_sorted(p[order], books.iloc[order], chars[order])
    return out.loc[books.index]


def _ref_context_sorted(p: np.ndarray, books: pd.DataFrame, chars: np.ndarray) -> pd.DataFrame:
    n = len(p)
    doc = books["_doc"].to_numpy()
    out: dict[str, np.ndarray] = {"c_p": p}
    idx = np.arange(n)
    for k in (1, 2, 3):
        for side, shift in (("prev", k), ("next", -k)):
            src = np.clip(idx - shift, 0, n - 1)
            ok = (idx - shift >= 0) & (idx - shift < n) & (doc[src] == doc)
            out[f"c_{side}{k}"] = np.where(ok, p[src], np.nan)
    frame = pd.DataFrame({"doc": doc, "p": p, "pc": p * chars, "c": chars}, index=np.arange(n))
    g = frame.groupby("doc", sort=False)
    out["c_doc_mean"] = g["p"].transform("mean").to_numpy()
    csum = g["c"].transform("sum").to_numpy()
    out["c_doc_wmean"] = np.divide(
        g["pc"].transform("sum").to_numpy(), csum, out=np.zeros(n), where=csum > 0
    )
    out["c_doc_max"] = g["p"].transform("max").to_numpy()
    for name, col in (("block", "_block"), ("cont1", "_anc1"), ("cont2", "_anc2")):
        key = pd.Series(doc).astype(np.int64) * (1 << 32) + books[col].to_numpy().astype(np.int64)
        mean = frame["p"].groupby(key.to_numpy()).transform("mean").to_numpy()
        out[f"c_{name}_mean"] = np.where(books[col].to_numpy() >= 0, mean, np.nan)
    out["c_window_mean"] = (
        g["p"].rolling(7, center=True, min_periods=1).mean().reset_index(level=0, drop=True)
        .sort_index().to_numpy()
    )
    out["c_rank"] = g["p"].rank(ascending=False, pct=True).to_numpy()
    mass = p * chars
    cum = g["pc"].cumsum().to_numpy()
    total = g["pc"].transform("sum").to_numpy()
    out["c_mass_before"] = np.divide(cum - mass, total, out=np.zeros(n), where=total > 0)
    out["c_mass_after"] = np.divide(total - cum, total, out=np.zeros(n), where=total > 0)
    return pd.DataFrame(out, index=books.index)[CONTEXT_NAMES]


# --- random inputs -----------------------------------------------------------------------


def _books(rng: np.random.Generator, sizes, *, text_docs=()) -> pd.DataFrame:
    parts = []
    for d, m in enumerate(sizes):
        ids = {c: rng.integers(0, max(1, m // 3) + 1, m).astype(float) for c in ("_block", "_anc1", "_anc2")}
        if d in text_docs:
            ids = {c: np.full(m, -1.0) for c in ids}
        # doc ids need not be 0..k-1 nor in order of appearance
        parts.append(pd.DataFrame({"_doc": float(7 * d + 3), "_pos": np.arange(m, dtype=float), **ids}))
    return pd.concat(parts, ignore_index=True)


def _probs(rng: np.random.Generator, n: int) -> np.ndarray:
    # rounded to a few levels, so that ties within a document are common
    p = np.round(rng.random(n), rng.choice([1, 2, 8]))
    p[rng.random(n) < 0.1] = 0.0
    return p


def _check(p: np.ndarray, books: pd.DataFrame, chars: np.ndarray) -> np.ndarray:
    ref = _ref_context_features(p, books, chars)
    got = context_features(p, *(books[c].to_numpy() for c in CONTEXT_BOOKS), chars)
    assert isinstance(got, np.ndarray) and got.dtype == float and got.shape == (len(p), len(CONTEXT_NAMES))
    # atol: the running text mass differs from pandas' compensated sums by rounding only
    np.testing.assert_allclose(got, ref.to_numpy(dtype=float), rtol=1e-9, atol=1e-12, equal_nan=True)
    return got


@pytest.mark.parametrize("seed", range(8))
def test_context_matches_pandas_on_random_documents(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 40, rng.integers(1, 12))
    sizes[rng.random(len(sizes)) < 0.25] = 1  # single-row documents
    books = _books(rng, sizes, text_docs=set(rng.choice(len(sizes), 2)))
    n = len(books)
    p = _probs(rng, n)
    chars = np.round(np.exp(rng.normal(4, 1.5, n)))
    chars[rng.random(n) < 0.1] = 0.0
    _check(p, books, chars)
    # any row order: sorted internally, returned in the input's order
    perm = rng.permutation(n)
    got = _check(p[perm], books.iloc[perm].reset_index(drop=True), chars[perm])
    sorted_got = context_features(p, *(books[c].to_numpy() for c in CONTEXT_BOOKS), chars)
    np.testing.assert_array_equal(got, sorted_got[perm])


def test_context_edge_cases():
    rng = np.random.default_rng(1)
    # fewer rows in all than the 3 neighbours on each side
    for sizes in ([1], [2], [3], [1, 1], [2, 1], [1, 2, 1]):
        books = _books(rng, sizes)
        _check(_probs(rng, len(books)), books, np.full(len(books), 10.0))
    # text input: no containers, the *_mean columns are unknown
    books = _books(rng, [5], text_docs={0})
    got = _check(_probs(rng, 5), books, np.full(5, 20.0))
    for c in ("c_block_mean", "c_cont1_mean", "c_cont2_mean"):
        assert np.isnan(got[:, CONTEXT_NAMES.index(c)]).all()
    # all probabilities tied, a document without text, no rows at all
    books = _books(rng, [6, 4])
    got = _check(np.full(10, 0.5), books, np.r_[np.zeros(6), np.ones(4)])
    np.testing.assert_array_equal(got[:, CONTEXT_NAMES.index("c_rank")], np.r_[np.full(6, 3.5 / 6), np.full(4, 2.5 / 4)])
    assert context_features(*(np.zeros(0) for _ in range(7))).shape == (0, len(CONTEXT_NAMES))
    # ties in position within a document keep their input order, as a stable sort does
    books = pd.DataFrame({"_doc": [1.0, 0, 1, 0, 1], "_pos": [2.0, 0, 2, 1, 0], "_block": 0.0, "_anc1": 0.0, "_anc2": -1.0})
    _check(np.array([0.1, 0.9, 0.4, 0.2, 0.7]), books, np.full(5, 3.0))


# --- the classifier ----------------------------------------------------------------------

FEATURES = ["t_chars", "t_log_chars", "s_tag", "s_depth", "s_link_density", "p_rel_pos"]


def _frame(seed: int, n_docs: int, *, bookkeeping_first: bool = False):
    rng = np.random.default_rng(seed)
    parts, ys = [], []
    for d in range(n_docs):
        m = int(rng.integers(5, 60))
        chars = np.round(np.exp(rng.normal(4, 1.2, m)))
        f = pd.DataFrame({
            "t_chars": chars,
            "t_log_chars": np.log2(1 + chars),
            "s_tag": rng.integers(0, 6, m).astype(float),
            "s_depth": rng.integers(2, 12, m).astype(float),
            "s_link_density": rng.random(m),
            "p_rel_pos": np.arange(m) / m,
            "_doc": float(d), "_pos": np.arange(m, dtype=float), "_group": float(d // 2),
            "_anc1": rng.integers(0, 4, m).astype(float), "_anc2": rng.integers(0, 2, m).astype(float),
            "_block": rng.integers(0, 8, m).astype(float),
        })
        z = f["t_log_chars"] / 3 - 2 * f["s_link_density"] + (f["s_tag"] == 1) + rng.normal(0, 0.7, m)
        ys.append((z > 1).astype(float).to_numpy())
        parts.append(f)
    X = pd.concat(parts, ignore_index=True)
    if bookkeeping_first:
        X = X[["_doc", "_pos", "_group"] + FEATURES[:3] + ["_anc1", "_anc2", "_block"] + FEATURES[3:]]
    return X, np.concatenate(ys)


@pytest.mark.filterwarnings("error::UserWarning")
def test_classifier_fits_and_predicts_on_matrices():
    X, y = _frame(0, 30, bookkeeping_first=True)
    y[::17] = np.nan  # unlabeled rows only give context
    clf = TwoStageClassifier(max_iter=15, stack_folds=2, max_fit_rows=800).fit(X, y)
    assert list(clf.feature_names_in_) == list(X.columns)
    assert [clf.feature_names_in_[i] for i in clf.model_idx_] == FEATURES
    assert [clf.feature_names_in_[i] for i in clf.context_idx_] == list(CONTEXT_BOOKS)
    assert FEATURES[clf.chars_idx_] == "t_chars"
    for booster in (clf.stage1_, clf.stage2_):
        assert not hasattr(booster, "feature_names_in_")
    cats = [c in CATEGORICAL for c in FEATURES]
    got = clf.stage1_.is_categorical_
    assert (got.tolist() if got is not None else [False] * len(FEATURES)) == cats
    assert clf.stage2_.n_features_in_ == len(FEATURES) + len(CONTEXT_NAMES)
    page, _ = _frame(5, 1, bookkeeping_first=True)
    M = page.to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = clf.predict_proba_matrix(M)
        b = clf.predict_proba(page)
        c = clf.predict_proba(page[list(reversed(page.columns))])  # columns by name
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert a.shape == (len(page), 2) and np.allclose(a.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.predict(page), (a[:, 1] >= 0.5).astype(int))
    # rows in any order give the same probabilities, row for row
    perm = np.random.default_rng(0).permutation(len(M))
    np.testing.assert_allclose(clf.predict_proba_matrix(M[perm]), a[perm], rtol=0, atol=1e-12)
    assert clf.predict_proba_matrix(M[:0]).shape == (0, 2)
    with pytest.raises(ValueError, match="columns"):
        clf.predict_proba_matrix(M[:, 1:])
    one = TwoStageClassifier(max_iter=10, second_stage=False).fit(X, y)
    assert one.predict_proba(page).shape == (len(page), 2)


@pytest.mark.filterwarnings("error::UserWarning")
def test_stage1_equals_a_booster_fitted_on_the_dataframe():
    """Fitting on a float matrix instead of the named frame changes nothing in the booster."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = _frame(3, 20)
    clf = TwoStageClassifier(max_iter=20, stack_folds=2).fit(X, y)
    old = HistGradientBoostingClassifier(
        categorical_features=list(CATEGORICAL) or None, max_iter=clf.max_iter, learning_rate=clf.learning_rate,
        max_leaf_nodes=clf.max_leaf_nodes, min_samples_leaf=clf.min_samples_leaf,
        l2_regularization=clf.l2_regularization, early_stopping=False, random_state=clf.random_state,
    ).fit(X[FEATURES], y.astype(int))
    page, _ = _frame(9, 1)
    np.testing.assert_array_equal(
        clf.stage1_.predict_proba(page[FEATURES].to_numpy(dtype=float)), old.predict_proba(page[FEATURES])
    )


def test_calibration_keeps_the_ranking_and_matches_observed_frequencies():
    X, y = _frame(5, 160)
    test, y_test = _frame(6, 80)
    kw = dict(max_iter=60, learning_rate=0.3, min_samples_leaf=5, stack_folds=3)
    raw = TwoStageClassifier(calibrate=False, **kw).fit(X, y)
    cal = TwoStageClassifier(calibrate=True, **kw).fit(X, y)
    assert raw.calibration_ is None
    a, b = cal.calibration_
    assert np.isfinite(a) and np.isfinite(b) and a > 0
    # the same boosters: calibrating changes neither the scores nor the decisions
    np.testing.assert_array_equal(cal.predict_proba(test), raw.predict_proba(test))
    np.testing.assert_array_equal(cal.predict(test), raw.predict(test))
    np.testing.assert_array_equal(raw.calibrated_proba(raw.predict_proba(test)[:, 1]), raw.predict_proba(test)[:, 1])
    p_raw = raw.predict_proba(test)[:, 1]
    p_cal = cal.calibrated_proba(p_raw)
    np.testing.assert_allclose(p_cal, 1 / (1 + np.exp(-(a * np.log(p_raw / (1 - p_raw)) + b))))
    # rescaled monotonically: the order of the paragraphs is kept
    np.testing.assert_array_equal(np.argsort(p_raw, kind="stable"), np.argsort(p_cal, kind="stable"))

    def calibration_error(p):
        bins = np.minimum((p * 10).astype(int), 9)
        return sum(abs(p[bins == k].mean() - y_test[bins == k].mean()) * (bins == k).mean()
                   for k in range(10) if (bins == k).any())

    # an over-fitted booster (noisy labels, many small leaves) is overconfident; Platt scaling helps
    assert calibration_error(p_cal) < calibration_error(p_raw)


def test_calibration_weight_moves_the_map_only():
    X, y = _frame(5, 160)
    test, _ = _frame(6, 40)
    kw = dict(max_iter=40, learning_rate=0.3, min_samples_leaf=5, stack_folds=3, calibrate=True)
    plain = TwoStageClassifier(**kw).fit(X, y)
    ones = TwoStageClassifier(**kw).fit(X, y, calibration_weight=np.ones(len(y)))
    assert ones.calibration_ == pytest.approx(plain.calibration_)  # uniform weights are no weights
    # content rows counted three times: the map must say "content" more often at every score
    heavy = TwoStageClassifier(**kw).fit(X, y, calibration_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_array_equal(heavy.predict_proba(test), plain.predict_proba(test))
    p = plain.predict_proba(test)[:, 1]
    assert (heavy.calibrated_proba(p) > plain.calibrated_proba(p)).all()
    assert heavy.calibration_[1] > plain.calibration_[1]


def test_calibration_refit_both_predicts_held_out_corpora_as_unseen():
    """With a corpus whose labels follow another rule, refitting stage 1 per calibration fold
    shows the map how much weaker the model is on a corpus it never saw: a flatter map."""
    X, y = _frame(5, 160)
    other = (X["_doc"] >= 80).to_numpy()
    # the second corpus (deeper pages, so a model that saw it can tell) calls content what
    # the first calls chrome, for one feature's half
    X.loc[other, "s_depth"] += 20
    flip = other & (X["s_link_density"] > 0.5).to_numpy()
    y = np.where(flip, 1 - y, y)
    corpus = other.astype(int)
    test, _ = _frame(6, 30)
    kw = dict(max_iter=40, learning_rate=0.3, min_samples_leaf=5, stack_folds=2, calibrate=True,
              calibration_folds=2)
    old = TwoStageClassifier(calibration_refit="stage2", **kw).fit(X, y, calibration_groups=corpus)
    new = TwoStageClassifier(calibration_refit="both", **kw).fit(X, y, calibration_groups=corpus)
    # the same boosters, so the same decisions: only the map differs
    np.testing.assert_array_equal(new.predict_proba(test), old.predict_proba(test))
    assert new.calibration_ != pytest.approx(old.calibration_)
    # a model that never saw the other rule is right on half of its rows and wrong on the
    # other half: next to no better than chance there, and the map says so
    assert abs(new.calibration_[0]) < 0.5 * old.calibration_[0]
    # both kinds of prediction, half each: a map between the two
    mid = TwoStageClassifier(calibration_refit="mixed", **kw).fit(X, y, calibration_groups=corpus)
    np.testing.assert_array_equal(mid.predict_proba(test), old.predict_proba(test))
    assert new.calibration_[0] < mid.calibration_[0] < old.calibration_[0]
    with pytest.raises(ValueError, match="calibration_refit"):
        TwoStageClassifier(calibration_refit="all", **kw).fit(X, y, calibration_groups=corpus)


def test_unseen_context_comes_from_a_stage_1_without_the_rows_group():
    X, y = _frame(7, 60)
    clf = TwoStageClassifier(max_iter=20, stack_folds=2, calibrate=True, calibration_folds=3)
    clf.fit(X, y)
    groups = (X["_doc"].to_numpy() % 3).astype(int)
    labeled = np.isfinite(y)
    fold_l = clf._calibration_folds(groups[labeled])
    assert len(np.unique(fold_l)) == 3
    F = X.iloc[:, clf.model_idx_].to_numpy(dtype=float)
    books = X.iloc[:, clf.context_idx_].to_numpy(dtype=float)
    S = clf._unseen_context(F, books, y, None, labeled, groups, fold_l)
    assert np.isfinite(S[:, 0]).all()  # every row has its probability (c_p)
    # the held-out group's context is what a stage 1 fitted on the other two groups gives
    held = groups == groups[labeled][fold_l == 0][0]
    m = clf._booster(clf.categorical_).fit(F[~held], y[~held].astype(int))
    want = context_features(m.predict_proba(F[held])[:, 1], *books[held].T, F[held, clf.chars_idx_])
    np.testing.assert_allclose(S[held], want)
    # and not what the full model's stage 1 (which saw that group) gives
    seen = context_features(clf.stage1_.predict_proba(F[held])[:, 1], *books[held].T, F[held, clf.chars_idx_])
    assert not np.allclose(S[held], seen)
    # the held-out rows' own context in its place gives the map without refitting: no row is
    # lost (the neighbours' columns are NaN at the ends of every page)
    assert np.isnan(S).any()
    cats = np.concatenate([clf.categorical_, np.zeros(len(CONTEXT_NAMES), dtype=bool)])
    Z = np.hstack([F, S])[labeled]
    g_l = groups[labeled]
    plain = clf._fit_calibration(Z, y[labeled].astype(int), None, g_l, cats)
    same = clf._fit_calibration(Z, y[labeled].astype(int), None, g_l, cats, unseen=S[labeled])
    assert same == pytest.approx(plain, rel=1e-12)
