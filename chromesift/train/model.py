"""The classifier behind the feature stage: two stacked gradient-boosting stages.

Stage 1 sees each paragraph's own features. Stage 2 sees the same features
plus context made of stage-1 probabilities: the neighbours' probabilities,
container means (block element and ancestors), document aggregates, and how
much likely-content text lies before and after the paragraph. Stage-2
training uses out-of-fold stage-1 probabilities (folds grouped by site), so
it learns from the same kind of noisy context it meets at prediction time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold
from sklearn.utils.validation import check_is_fitted

from chromesift.features.transformer import BOOKKEEPING, CATEGORICAL

CONTEXT_NAMES = (
    ["c_p"]
    + [f"c_prev{k}" for k in (1, 2, 3)]
    + [f"c_next{k}" for k in (1, 2, 3)]
    + ["c_doc_mean", "c_doc_wmean", "c_doc_max", "c_block_mean", "c_cont1_mean",
       "c_cont2_mean", "c_window_mean", "c_rank", "c_mass_before", "c_mass_after"]
)


def _take(w: np.ndarray | None, rows) -> np.ndarray | None:
    return None if w is None else w[rows]


def _split(X: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    books = [c for c in BOOKKEEPING if c in X.columns]
    return X.drop(columns=books), X[books]


def context_features(p: np.ndarray, books: pd.DataFrame, chars: np.ndarray) -> pd.DataFrame:
    """Context built from first-stage probabilities ``p``, computed in document order.

    The rows may come in any order: they are sorted by document and position
    here, and the result is returned in the input's order.
    """
    order = np.lexsort((books["_pos"].to_numpy(), books["_doc"].to_numpy()))
    if np.array_equal(order, np.arange(len(order))):
        return _context_sorted(p, books, chars)
    out = _context_sorted(p[order], books.iloc[order], chars[order])
    return out.loc[books.index]


def _context_sorted(p: np.ndarray, books: pd.DataFrame, chars: np.ndarray) -> pd.DataFrame:
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
        # text input has no containers (-1): leave it unknown
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


class TwoStageClassifier(ClassifierMixin, BaseEstimator):
    """Content (1) vs chrome (0) from the feature frame, with a stacked context stage.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to both :class:`~sklearn.ensemble.HistGradientBoostingClassifier` stages.
    stack_folds : int, default=3
        Folds (grouped by site) for the out-of-fold stage-1 probabilities.
    second_stage : bool, default=True
        Fit the context stage; False gives a one-stage model.
    threshold : float, default=0.5
        Decision threshold on the content probability.
    max_fit_rows : int or None, default=None
        Each booster is fitted on at most this many labeled rows, drawn at
        random; every row still gets a stage-1 probability, so the context
        of stage 2 is always whole pages. None fits on all labeled rows.
    random_state : int, default=0
    """

    def __init__(
        self,
        *,
        max_iter: int = 120,
        learning_rate: float = 0.15,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        stack_folds: int = 3,
        second_stage: bool = True,
        threshold: float = 0.5,
        max_fit_rows: int | None = None,
        random_state: int = 0,
    ):
        self.max_fit_rows = max_fit_rows
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.stack_folds = stack_folds
        self.second_stage = second_stage
        self.threshold = threshold
        self.random_state = random_state

    def _booster(self, columns) -> HistGradientBoostingClassifier:
        cats = [c for c in CATEGORICAL if c in columns]
        return HistGradientBoostingClassifier(
            categorical_features=cats or None,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )

    def _subsample(self, mask: np.ndarray) -> np.ndarray:
        """Keep at most ``max_fit_rows`` of the rows where ``mask`` is set (seeded)."""
        idx = np.flatnonzero(mask)
        if self.max_fit_rows is None or len(idx) <= self.max_fit_rows:
            return mask
        rng = np.random.default_rng(self.random_state)
        keep = np.zeros_like(mask)
        keep[rng.choice(idx, size=self.max_fit_rows, replace=False)] = True
        return keep

    def fit(self, X: pd.DataFrame, y, sample_weight=None):
        """Fit both stages; rows whose label is NaN give context but are not learned from."""
        F, books = _split(X)
        y = np.asarray(y, dtype=float)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        labeled = np.isfinite(y) & (w > 0)
        if labeled.sum() == 0 or len(np.unique(y[labeled])) < 2:
            raise ValueError("training needs labeled paragraphs of both classes")
        labeled = self._subsample(labeled)
        if np.all(w[labeled] == w[labeled][0]):
            # uniform weights: leave them out, as weighted binning is several times slower
            w = None
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.stage1_ = self._booster(F.columns).fit(F[labeled], y[labeled].astype(int), sample_weight=_take(w, labeled))
        if self.second_stage:
            oof = np.empty(len(y))
            groups = books["_group"].to_numpy()
            n_groups = len(np.unique(groups))
            folds = GroupKFold(n_splits=min(self.stack_folds, n_groups))
            for tr, te in folds.split(F, groups=groups):
                tr_l = tr[labeled[tr]]
                ys = y[tr_l].astype(int)
                if len(np.unique(ys)) < 2:
                    oof[te] = self.stage1_.predict_proba(F.iloc[te])[:, 1]
                    continue
                m = self._booster(F.columns).fit(F.iloc[tr_l], ys, sample_weight=_take(w, tr_l))
                oof[te] = m.predict_proba(F.iloc[te])[:, 1]
            S = context_features(oof, books, F["t_chars"].to_numpy())
            Z = pd.concat([F, S], axis=1)
            self.stage2_ = self._booster(Z.columns).fit(Z[labeled], y[labeled].astype(int), sample_weight=_take(w, labeled))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of chrome and content, one row per paragraph."""
        check_is_fitted(self, "stage1_")
        F, books = _split(X)
        if len(F) == 0:
            return np.zeros((0, 2))
        p = self.stage1_.predict_proba(F)[:, 1]
        if self.second_stage:
            S = context_features(p, books, F["t_chars"].to_numpy())
            p = self.stage2_.predict_proba(pd.concat([F, S], axis=1))[:, 1]
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 for content, 0 for chrome, at :attr:`threshold`."""
        return (self.predict_proba(X)[:, 1] >= self.threshold).astype(int)
