"""The classifier behind the feature stage: two stacked gradient-boosting stages.

Stage 1 sees each paragraph's own features. Stage 2 sees the same features
plus context made of stage-1 probabilities: the neighbours' probabilities,
container means (block element and ancestors), document aggregates, and how
much likely-content text lies before and after the paragraph
(:mod:`chromesift.models.context`). Stage-2 training uses out-of-fold stage-1
probabilities (folds grouped by site), so it learns from the same kind of noisy
context it meets at prediction time.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold
from sklearn.utils.validation import check_is_fitted

from chromesift.features.transformer import BOOKKEEPING, CATEGORICAL
from chromesift.models.context import CONTEXT_BOOKS, CONTEXT_NAMES, context_features
from chromesift.models.forest import flat_forest
from chromesift.models.packed import calibrate, two_stage_proba
from chromesift.models.packed import logit as _logit

#: ``calibration_refit`` values: the share of the calibration map's weight on out-of-fold
#: predictions made with the context of a stage 1 that never saw the row's group
REFITS = {"stage2": 0.0, "both": 1.0, "mixed": 0.5}


def _take(w: np.ndarray | None, rows) -> np.ndarray | None:
    return None if w is None else w[rows]


def _columns(X: pd.DataFrame, idx: np.ndarray) -> np.ndarray:
    """The float columns ``idx`` of ``X``: without a copy where they are consecutive columns of
    one float block (the features' frame; a training table's are gigabytes)."""
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return X.iloc[:, int(idx[0]):int(idx[0]) + len(idx)].to_numpy(dtype=float)
    return X.iloc[:, idx].to_numpy(dtype=float)


#: rows a booster predicts at a time in training (:func:`_content_proba`)
PREDICT_ROWS = 131_072


def _content_proba(booster: HistGradientBoostingClassifier, F: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The content probability of the rows ``rows`` of ``F``, :data:`PREDICT_ROWS` at a time: each
    row's probability is its own, so the same numbers as one call, without a copy of all of them."""
    out = np.empty(len(rows))
    for lo in range(0, len(rows), PREDICT_ROWS):
        part = rows[lo:lo + PREDICT_ROWS]
        out[lo:lo + len(part)] = booster.predict_proba(F[part])[:, 1]
    return out


class TwoStageClassifier(ClassifierMixin, BaseEstimator):
    """Content (1) vs chrome (0) from the feature frame, with a stacked context stage.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to both :class:`~sklearn.ensemble.HistGradientBoostingClassifier` stages
        (``max_iter`` to the context stage only where ``stage2_max_iter`` is None).
    stage2_max_iter : int or None, default=None
        Trees of the context stage (None: ``max_iter``, as stage 1).
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
    calibrate : bool, default=False
        Learn a map of the probabilities to observed frequencies (Platt scaling on
        the logit), fitted on out-of-fold stage-2 probabilities (folds grouped by
        ``calibration_groups`` of :meth:`fit`, else by site); :meth:`calibrated_proba`
        applies it. The decisions (:meth:`predict`, :attr:`threshold`) stay on the
        uncalibrated probabilities, so calibrating changes no decision. Costs
        ``calibration_folds`` more stage-2 fits (and as many stage-1 fits with
        ``calibration_refit`` "both" or "mixed").
    calibration_folds : int, default=4
        Folds of that calibration.
    calibration_refit : {"stage2", "both", "mixed"}, default="stage2"
        Which stages each calibration fold learns again without its held-out
        groups. "stage2": only the context stage, whose held-out rows keep the
        context of the full model's stage 1 (which saw their groups). "both":
        stage 1 too, and the held-out rows' context is built from that fold's
        stage-1 probabilities, so they are predicted as a model that never saw
        their groups would predict them (as on a corpus unlike the training ones).
        "mixed": the map weighs the two kinds of held-out predictions half each.
    random_state : int, default=0
    """

    def __init__(
        self,
        *,
        max_iter: int = 120,
        stage2_max_iter: int | None = None,
        learning_rate: float = 0.15,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        stack_folds: int = 3,
        second_stage: bool = True,
        threshold: float = 0.5,
        max_fit_rows: int | None = None,
        calibrate: bool = False,
        calibration_folds: int = 4,
        calibration_refit: str = "stage2",
        random_state: int = 0,
    ):
        self.calibrate = calibrate
        self.calibration_folds = calibration_folds
        self.calibration_refit = calibration_refit
        self.max_fit_rows = max_fit_rows
        self.max_iter = max_iter
        self.stage2_max_iter = stage2_max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.stack_folds = stack_folds
        self.second_stage = second_stage
        self.threshold = threshold
        self.random_state = random_state

    def _booster(self, categorical: np.ndarray, stage: int = 1) -> HistGradientBoostingClassifier:
        max_iter = self.max_iter
        if stage == 2 and getattr(self, "stage2_max_iter", None) is not None:  # (pickles before it: none)
            max_iter = self.stage2_max_iter
        return HistGradientBoostingClassifier(
            categorical_features=categorical if categorical.any() else None,
            max_iter=max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )

    def _fit_booster(self, categorical: np.ndarray, X: np.ndarray, y: np.ndarray,
                     sample_weight: np.ndarray | None = None, stage: int = 1) -> HistGradientBoostingClassifier:
        """A booster fitted on ``X``; a column that is NaN in every row (no page with an h1,
        say) is fitted as zeros, which scikit-learn's binning cannot take as NaN and no tree
        can split on either way."""
        dead = np.isnan(X).all(axis=0)
        if dead.any():
            X = X.copy()
            X[:, dead] = 0.0
        return self._booster(categorical, stage).fit(X, y, sample_weight=sample_weight)

    def _subsample(self, mask: np.ndarray) -> np.ndarray:
        """Keep at most ``max_fit_rows`` of the rows where ``mask`` is set (seeded)."""
        idx = np.flatnonzero(mask)
        if self.max_fit_rows is None or len(idx) <= self.max_fit_rows:
            return mask
        rng = np.random.default_rng(self.random_state)
        keep = np.zeros_like(mask)
        keep[rng.choice(idx, size=self.max_fit_rows, replace=False)] = True
        return keep

    def _set_layout(self) -> None:
        """Where the boosters' columns, the context's bookkeeping and ``t_chars`` are in
        :attr:`feature_names_in_`."""
        names = list(self.feature_names_in_)
        self.model_idx_ = np.array([i for i, c in enumerate(names) if c not in BOOKKEEPING], dtype=np.intp)
        model_names = [names[i] for i in self.model_idx_]
        self.categorical_ = np.array([c in CATEGORICAL for c in model_names], dtype=bool)
        if self.second_stage:
            missing = [c for c in (*CONTEXT_BOOKS, "t_chars") if c not in names]
            if missing:
                raise ValueError(f"the context stage needs the columns {missing}")
            self.context_idx_ = np.array([names.index(c) for c in CONTEXT_BOOKS], dtype=np.intp)
            self.chars_idx_ = model_names.index("t_chars")

    def fit(self, X: pd.DataFrame, y, sample_weight=None, calibration_groups=None, calibration_weight=None):
        """Fit both stages; rows whose label is NaN give context but are not learned from.

        ``X`` is the feature frame: feature columns and the bookkeeping columns
        (:data:`~chromesift.features.transformer.BOOKKEEPING`). The boosters are
        fitted on float arrays of the feature columns, without names.
        ``calibration_groups`` (one code per row, e.g. the dataset) makes the
        folds of the calibration whole groups, so the probabilities are
        calibrated for data unlike the training data; None groups by site.
        ``calibration_weight`` (one per row) weighs the rows in the fit of the
        calibration map only; None uses ``sample_weight``.
        """
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
        self._set_layout()
        F = _columns(X, self.model_idx_)
        self.stage1_ = self._fit_booster(self.categorical_, F[labeled], y[labeled].astype(int),
                                         sample_weight=_take(w, labeled))
        if self.second_stage:
            oof = np.empty(len(y))
            groups = X["_group"].to_numpy()
            if len(np.unique(groups)) < 2:
                # one site (a small corpus of one's own, a fold of grouped CV): its pages are
                # the only groups out-of-fold predictions can be made over
                groups = X["_doc"].to_numpy()
            n_groups = len(np.unique(groups))
            if n_groups < 2:
                raise ValueError("the context stage needs at least two pages to learn from")
            folds = GroupKFold(n_splits=min(self.stack_folds, n_groups))
            for tr, te in folds.split(F, groups=groups):
                tr_l = tr[labeled[tr]]
                ys = y[tr_l].astype(int)
                if len(np.unique(ys)) < 2:
                    oof[te] = _content_proba(self.stage1_, F, te)
                    continue
                m = self._fit_booster(self.categorical_, F[tr_l], ys, sample_weight=_take(w, tr_l))
                oof[te] = _content_proba(m, F, te)
            books = X.iloc[:, self.context_idx_].to_numpy(dtype=float)
            S = context_features(oof, *books.T, F[:, self.chars_idx_])
            Z = np.hstack([F[labeled], S[labeled]])
            cats = np.concatenate([self.categorical_, np.zeros(len(CONTEXT_NAMES), dtype=bool)])
            y_l, w_l = y[labeled].astype(int), _take(w, labeled)
            self.stage2_ = self._fit_booster(cats, Z, y_l, sample_weight=w_l, stage=2)
            self.calibration_ = None
            if self.calibrate:
                if self.calibration_refit not in REFITS:
                    raise ValueError(f"calibration_refit must be one of {', '.join(REFITS)}, not {self.calibration_refit!r}")
                cal_groups = groups if calibration_groups is None else np.asarray(calibration_groups)
                if len(np.unique(cal_groups[labeled])) < 2:
                    cal_groups = groups
                cal_w = None if calibration_weight is None else np.asarray(calibration_weight, dtype=float)[labeled]
                unseen = fold_l = None
                if self.calibration_refit != "stage2" and len(np.unique(cal_groups[labeled])) >= 2:
                    fold_l = self._calibration_folds(cal_groups[labeled])
                    unseen = self._unseen_context(F, books, y, w, labeled, cal_groups, fold_l)[labeled]
                self.calibration_ = self._fit_calibration(Z, y_l, w_l, cal_groups[labeled], cats, cal_w, unseen,
                                                          unseen_share=REFITS[self.calibration_refit], fold=fold_l)
            del F, S
        self.classes_ = np.array([0, 1])
        return self

    def _calibration_folds(self, groups: np.ndarray) -> np.ndarray:
        """Calibration fold of each row of ``groups`` (whole groups held out together)."""
        fold = np.empty(len(groups), dtype=np.intp)
        n_splits = min(self.calibration_folds, len(np.unique(groups)))
        for i, (_, te) in enumerate(GroupKFold(n_splits=n_splits).split(groups, groups=groups)):
            fold[te] = i
        return fold

    def _unseen_context(self, F, books, y, w, labeled, groups, fold_l) -> np.ndarray:
        """Stage 2's context columns, for the rows of the labeled groups, as a stage 1
        that never saw the row's group gives them.

        ``fold_l`` is the calibration fold of each labeled row. Per fold, one stage-1
        booster learns from the labeled rows of the other folds; every row of the
        fold's groups (so whole pages) gets its probability, and their context is
        built from those. Rows of no fold, or of a fold whose training part lacks a
        class, keep NaN in every column.
        """
        S = np.full((len(y), len(CONTEXT_NAMES)), np.nan)
        g_l = groups[labeled]
        for i in np.unique(fold_l):
            held = np.isin(groups, np.unique(g_l[fold_l == i]))
            tr_l = np.flatnonzero(labeled & ~held)
            if len(np.unique(y[tr_l])) < 2:
                continue
            m = self._fit_booster(self.categorical_, F[tr_l], y[tr_l].astype(int), sample_weight=_take(w, tr_l))
            te = np.flatnonzero(held)
            S[te] = context_features(_content_proba(m, F, te), *books[te].T, F[te, self.chars_idx_])
        return S

    def _fit_calibration(self, Z, y, w, groups, cats, cal_w=None, unseen=None,
                         unseen_share: float = 1.0, fold=None) -> tuple[float, float] | None:
        """Platt scaling ``(a, b)`` of stage 2 from its out-of-fold probabilities (None if impossible).

        The fold boosters learn with ``w``; the map is fitted with ``cal_w`` (default ``w``).
        ``unseen`` (:meth:`_unseen_context` of the same rows) gives the held-out rows a
        second prediction, with that context instead of their own (rows without a
        probability there have none); the map weighs those predictions ``unseen_share``
        and the ones with their own context the rest. ``fold`` is each row's calibration
        fold, as :meth:`_calibration_folds` gives it (computed when None).
        """
        from sklearn.linear_model import LogisticRegression

        if len(np.unique(groups)) < 2:
            return None
        if fold is None:
            fold = self._calibration_folds(groups)
        if unseen is None:
            unseen_share = 0.0
        own, other = np.full(len(y), np.nan), np.full(len(y), np.nan)
        k = Z.shape[1] - len(CONTEXT_NAMES)
        for i in np.unique(fold):
            tr, te = np.flatnonzero(fold != i), np.flatnonzero(fold == i)
            if len(np.unique(y[tr])) < 2:
                continue
            m = self._fit_booster(cats, Z[tr], y[tr], sample_weight=_take(w, tr), stage=2)
            if unseen_share < 1:
                own[te] = m.predict_proba(Z[te])[:, 1]
            if unseen_share > 0:
                te = te[~np.isnan(unseen[te, CONTEXT_NAMES.index("c_p")])]  # (the neighbours' columns are NaN at page ends)
                other[te] = m.predict_proba(np.hstack([Z[te, :k], unseen[te]]))[:, 1]
        cal_w = w if cal_w is None else cal_w
        if cal_w is None:
            cal_w = np.ones(len(y))
        parts = [(q, np.isfinite(q), share) for q, share in ((own, 1 - unseen_share), (other, unseen_share))
                 if share > 0]
        p = np.concatenate([q[ok] for q, ok, _ in parts])
        if len(p) < 100:
            return None
        t = np.concatenate([y[ok] for _, ok, _ in parts])
        if len(np.unique(t)) < 2:
            return None
        sw = np.concatenate([share * cal_w[ok] for _, ok, share in parts])
        lr = LogisticRegression(C=1e4).fit(_logit(p)[:, None], t, sample_weight=sw)
        return float(lr.coef_[0, 0]), float(lr.intercept_[0])

    @staticmethod
    def _stage_proba(booster: HistGradientBoostingClassifier, X: np.ndarray) -> np.ndarray:
        """Content probability from one stage: the compiled flat forest where it applies
        (same probabilities, a fraction of scikit-learn's per-tree cost), else scikit-learn."""
        forest = flat_forest(booster)
        if forest is None:
            return booster.predict_proba(X)[:, 1]
        return forest.predict_proba(X)[:, 1]

    def predict_proba_matrix(self, M: np.ndarray) -> np.ndarray:
        """Probabilities of chrome and content from a float matrix, one row per paragraph.

        ``M`` holds the columns of :attr:`feature_names_in_` in that order,
        bookkeeping columns included. This is the prediction path without pandas.
        """
        if "stage1_" not in self.__dict__:
            check_is_fitted(self, "stage1_")  # raises NotFittedError
        if not hasattr(self, "model_idx_"):
            self._set_layout()  # pickled before the layout was recorded
        stage2 = functools.partial(self._stage_proba, self.stage2_) if self.second_stage else None
        return two_stage_proba(
            M, len(self.feature_names_in_), functools.partial(self._stage_proba, self.stage1_), stage2,
            self.model_idx_, getattr(self, "context_idx_", None), getattr(self, "chars_idx_", None),
        )

    def calibrated_proba(self, p: np.ndarray) -> np.ndarray:
        """Content probabilities ``p`` of :meth:`predict_proba` mapped to observed frequencies.

        The identity when the model was fitted without ``calibrate`` (or the
        calibration could not be fitted). The map is increasing, so it keeps
        the order of the paragraphs.
        """
        return calibrate(p, getattr(self, "calibration_", None))  # (bundles before calibration have none)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of chrome and content, one row per paragraph.

        ``X`` is the feature frame (its :attr:`feature_names_in_` columns are
        used, in any order) or a matrix as :meth:`predict_proba_matrix` takes.
        """
        check_is_fitted(self, "stage1_")
        if isinstance(X, pd.DataFrame):
            names = self.feature_names_in_
            if not (len(X.columns) == len(names) and (X.columns == names).all()):
                X = X[list(names)]
            X = X.to_numpy(dtype=float)
        return self.predict_proba_matrix(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 for content, 0 for chrome, at :attr:`threshold`."""
        return (self.predict_proba(X)[:, 1] >= self.threshold).astype(int)
