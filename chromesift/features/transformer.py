"""The feature stage's scikit-learn estimator: paragraph table -> numeric feature frame.

:class:`ParagraphFeatures` is :class:`chromesift.features.compute.FeatureComputer` (what the
features are, and how they are computed, without scikit-learn or pandas) with the estimator
API and the paragraph table (a DataFrame) around it. The module's other names are
:mod:`chromesift.features.compute`'s, here as well for the code that reads them from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from chromesift.data import schema
from chromesift.features import compute
from chromesift.features.compute import (  # noqa: F401 (their first home was here)
    _FLAGS,
    _INT_COLUMNS,
    _STR_COLUMNS,
    BOOKKEEPING,
    CATEGORICAL,
    FeatureComputer,
)


def table_columns(X: pd.DataFrame) -> dict:
    """The columns of a paragraph table as the feature computation reads them."""
    cols: dict = {}
    for c in _STR_COLUMNS:
        s = X[c]
        cols[c] = ["" if v is None or v != v else v for v in s.tolist()] if s.hasnans else s.tolist()
    for c in _INT_COLUMNS:
        cols[c] = X[c].to_numpy(dtype=np.int64)
    for c in _FLAGS:
        cols[c] = X[c].to_numpy(dtype=bool)
    group_src = X["site"] if "site" in X.columns else X["doc_id"]
    cols["_group"] = pd.factorize(group_src, sort=True)[0]
    if "dataset" in X.columns:  # a labeled table: its corpus names its label convention
        cols["dataset"] = X["dataset"].astype(str).tolist()
    return cols


def _take_columns(cols: dict, rows: np.ndarray) -> dict:
    out = {}
    for c, v in cols.items():
        out[c] = [v[i] for i in rows.tolist()] if isinstance(v, list) else v[rows]
    return out


def _unsort_rows(matrix: np.ndarray, order: np.ndarray) -> None:
    """Put the rows of ``matrix``, computed in the order ``order`` (row ``r`` is the input's row
    ``order[r]``), back in the input's order, in place: one column at a time, so that no second
    matrix is made."""
    where = np.empty_like(order)
    where[order] = np.arange(len(order))
    for j in range(matrix.shape[1]):
        matrix[:, j] = matrix[where, j]


class ParagraphFeatures(FeatureComputer, TransformerMixin, BaseEstimator):
    """Stateless transformer: paragraph table -> numeric features.

    Parameters
    ----------
    neighbours : int, default=2
        How many paragraphs before and after each one contribute features.
    hash_buckets : int, default=8
        Hash buckets for class/id tokens, each for the element and its ancestors.
    conventions : dict or None, default=None
        Corpus name -> the number of its label convention (how much beyond the article
        body its labels count as content). Given, the features end with ``k_convention``:
        that number for the rows of a labeled table (its ``dataset`` column), and
        ``convention`` for every other row, so a page to predict is read with that
        convention. None (or empty) leaves the feature out.
    convention : float, default=0.0
        ``k_convention`` of rows of no known corpus: the convention the model predicts with.
    text_convention : float or None, default=None
        Set, plain text is a convention of its own: ``k_convention`` of every row from plain
        text (``source`` "text"), of a labeled table as of a page to predict. None: such rows
        are as any other.
    lexicon : dict or None, default=None
        A learned lexicon (:mod:`chromesift.features.lexicon`, fitted by
        :func:`chromesift.train.lexicon.fit_lexicon`). Given, the features include ``x_lex``,
        its score of each paragraph's words and class/id tokens. None leaves it out.
    """

    def __init__(self, neighbours: int = 2, hash_buckets: int = 8, conventions: dict | None = None,
                 convention: float = 0.0, lexicon: dict | None = None, text_convention: float | None = None):
        self.neighbours = neighbours
        self.hash_buckets = hash_buckets
        self.conventions = conventions
        self.convention = convention
        self.lexicon = lexicon
        self.text_convention = text_convention

    def __setstate__(self, state: dict) -> None:
        # pickles from before the label conventions or the lexicon lack those parameters: give
        # them their defaults, so that get_params and repr work on an old bundle's pipeline
        super().__setstate__({"conventions": None, "convention": 0.0, "lexicon": None, "text_convention": None,
                              **state})

    def fit(self, X: pd.DataFrame, y=None):
        """Record the output feature names (nothing is learned)."""
        schema.validate(X, stage="features")
        self.feature_names_out_ = np.asarray(self._names(), dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns (bookkeeping columns last)."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Compute the feature frame; its index is the input's index."""
        check_is_fitted(self, "feature_names_out_")
        schema.validate(X, stage="features")
        if len(X) == 0:
            return pd.DataFrame(
                {c: pd.Series([], dtype=float) for c in self.feature_names_out_}, index=X.index
            )
        doc_codes, _ = pd.factorize(X["doc_id"], sort=True)
        order = np.lexsort((X["position"].to_numpy(), doc_codes))
        cols = table_columns(X)
        sorted_ = np.array_equal(order, np.arange(len(X)))
        if not sorted_:
            cols = _take_columns(cols, order)
        matrix = self.transform_columns(cols, doc_codes[order])
        if not sorted_:
            _unsort_rows(matrix, order)
        # (no copy of the matrix: a training table's features are gigabytes)
        return pd.DataFrame(matrix, index=X.index, columns=list(self.feature_names_out_), copy=False)

    def _check_fitted(self) -> None:
        check_is_fitted(self, "feature_names_out_")


def __getattr__(name: str):
    # the computation's other names (``transformer._joined``, ``transformer.CHUNK_ROWS``, ...),
    # read where they live: patch them there (chromesift.features.compute)
    try:
        return getattr(compute, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
