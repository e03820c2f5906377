"""Fitting the lexicon (:mod:`chromesift.features.lexicon`): a linear model of hashed tokens.

The feature ``x_lex`` the classifier learns from is the lexicon's score. On the training
rows it must be the score of a lexicon that did not see the row's site, else the boosters
would learn to trust it as much as it fits its own training data; :func:`fit_lexicon` gives
those out-of-fold scores (folds grouped by site) beside the lexicon fitted on every row,
which is the one the pipeline keeps for prediction.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GroupKFold

from chromesift.features import lexicon as lex

log = logging.getLogger(__name__)


def _inputs(rows: pd.DataFrame) -> tuple[list, list, list, list]:
    """What the lexicon reads of paragraph-table rows: lowercased texts, own and ancestors'
    attributes, DOM paths."""
    texts = [t.lower() if isinstance(t, str) else "" for t in rows["text"].tolist()]
    own, anc, paths = (rows[c].fillna("").tolist() if c in rows else [""] * len(rows)
                       for c in ("own_attrs", "anc_attrs", "path"))
    return texts, own, anc, paths


def score_rows(lexicon: dict, rows: pd.DataFrame) -> np.ndarray:
    """``x_lex`` of paragraph-table rows, as the feature stage computes it."""
    return lex.scores(lexicon, *_inputs(rows))


def design(rows: pd.DataFrame, bits: int, max_words: int = lex.MAX_WORDS,
           max_attrs: int = lex.MAX_ATTRS, max_tags: int = lex.MAX_TAGS) -> sparse.csr_matrix:
    """The rows' hashed tokens as a sparse matrix: each token ``1 / sqrt(token count)``."""
    texts, own, anc, paths = _inputs(rows)
    indptr, ids = lex.tokens(texts, own, anc, bits, max_words, max_attrs, paths, max_tags)
    data = np.repeat(lex.row_scale(indptr), np.diff(indptr))
    m = sparse.csr_matrix((data, ids, indptr), shape=(len(rows), 1 << bits))
    m.sum_duplicates()
    return m


def _fit(X: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, alpha: float, seed: int) -> SGDClassifier:
    model = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=12, tol=None, random_state=seed)
    return model.fit(X, y.astype(int), sample_weight=w)


def _as_lexicon(model: SGDClassifier, bits: int, max_words: int, max_attrs: int, max_tags: int) -> dict:
    return {"weights": model.coef_.reshape(-1).astype(np.float32), "intercept": float(model.intercept_[0]),
            "bits": int(bits), "max_words": int(max_words), "max_attrs": int(max_attrs), "max_tags": int(max_tags)}


def fit_lexicon(rows: pd.DataFrame, y: np.ndarray, w: np.ndarray, *, bits: int = lex.BITS, alpha: float = 2e-6,
                max_tags: int = lex.MAX_TAGS, folds: int = 2, random_state: int = 0) -> tuple[dict, np.ndarray]:
    """The lexicon fitted on the rows with a label and weight, and every row's out-of-fold score.

    ``folds`` folds grouped by ``rows["site"]`` (else by page): each row's score comes from a
    lexicon fitted without its fold. Rows whose fold's training part lacks a class get the
    full lexicon's score.
    """
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    learn = np.isfinite(y) & (w > 0)
    if len(np.unique(y[learn])) < 2:
        raise ValueError("the lexicon needs labeled paragraphs of both classes")
    X = design(rows, bits, max_tags=max_tags)
    model = _fit(X[learn], y[learn], w[learn], alpha, random_state)
    full = _as_lexicon(model, bits, lex.MAX_WORDS, lex.MAX_ATTRS, max_tags)
    groups = rows["site"].to_numpy() if "site" in rows else rows["doc_id"].to_numpy()
    oof = np.full(len(rows), np.nan)
    n_groups = len(np.unique(groups))
    if n_groups >= 2:
        for tr, te in GroupKFold(n_splits=min(folds, n_groups)).split(X, groups=groups):
            tr = tr[learn[tr]]
            if len(np.unique(y[tr])) < 2:
                continue
            m = _fit(X[tr], y[tr], w[tr], alpha, random_state)
            oof[te] = m.decision_function(X[te])
    missing = np.isnan(oof)
    if missing.any():
        oof[missing] = model.decision_function(X[missing])
    log.info("lexicon: %d rows learned from, %d tokens with a weight", int(learn.sum()),
             int(np.count_nonzero(full["weights"])))
    return full, oof
