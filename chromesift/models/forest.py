"""Prediction of a fitted binary HistGradientBoostingClassifier in one compiled call.

scikit-learn predicts tree by tree, with a fixed cost of a few microseconds per tree
and call: for a booster of 120 trees that is about 0.7 ms even for one row, most of
the time of a page. :class:`FlatForest` lays all trees of a booster end to end in flat
node arrays and sums their leaf values in one call (:mod:`chromesift.models.forest_kernels`:
in C where the extension :mod:`chromesift.models._forest` is built, else in numpy), with the
same splits (``x <= threshold`` goes left, NaN follows ``missing_go_to_left``) and the same
order of summation, so the probabilities are scikit-learn's. The kernel checks and packs
the node arrays once (:class:`~chromesift.models.forest_kernels.Forest`), when the flat
forest is built, so a prediction only checks the shape of its matrix.

:func:`flat_forest` returns None where the booster is not one the flat forest covers
(multiclass, categorical splits), and callers use scikit-learn then. Flat forests are
cached beside their booster, not on it, so pickled models (bundles) do not change and
load where the extension is missing.
"""

from __future__ import annotations

import sys
import weakref
from typing import TYPE_CHECKING

import numpy as np

from chromesift.models import forest_kernels

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

#: booster -> (its ``_predictors`` list, their number, FlatForest or None); a refit
#: makes a new list and a warm start lengthens it, so either invalidates the entry
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class FlatForest:
    """All trees of a binary booster in flat node arrays, evaluated by :mod:`chromesift.models.forest_kernels`.

    Build it with :meth:`from_booster` (or, cached, :func:`flat_forest`).

    Parameters
    ----------
    nodes : dict of str to ndarray
        Node arrays of all trees end to end, by :class:`chromesift.models.forest_kernels.Forest`
        argument name: ``feature``, ``threshold``, ``left``, ``right`` (absolute node
        indices), ``is_leaf``, ``missing_go_to_left``, ``value``. Each tree in
        pre-order (the left child of a split is the next node), as scikit-learn's.
    roots : ndarray of int32
        Index of the first node of each tree.
    baseline : float
        The booster's raw prediction before any tree (``_baseline_prediction``).
    n_features : int
        Columns of the matrices it predicts.

    Raises
    ------
    ValueError
        If the kernel rejects the nodes (children out of range or out of pre-order,
        arrays of different lengths).
    """

    _NODE_ARGS = ("feature", "threshold", "left", "right", "is_leaf", "missing_go_to_left", "value")

    def __init__(
        self, nodes: dict[str, np.ndarray], roots: np.ndarray, baseline: float, n_features: int
    ):
        self._nodes = tuple(nodes[name] for name in self._NODE_ARGS)
        self.roots = roots
        self.baseline = float(baseline)
        self.n_features = int(n_features)
        for a in (*self._nodes, roots):
            a.setflags(write=False)  # the arrays describe the packed forest: keep them so
        # checked and copied once here; predictions walk this copy without the GIL
        self._packed = forest_kernels.Forest(*self._nodes, roots)

    @classmethod
    def from_booster(cls, booster: HistGradientBoostingClassifier) -> FlatForest:
        """Flatten a fitted binary booster with numerical splits only.

        Raises
        ------
        ValueError
            If the booster is multiclass or has categorical features, or its trees are
            not in pre-order.
        """
        if booster.n_trees_per_iteration_ != 1 or len(booster.classes_) != 2:
            raise ValueError("only binary boosters can be flattened")
        trees = [predictor.nodes for (predictor,) in booster._predictors]
        if getattr(booster, "_preprocessor", None) is not None or any(
            t["is_categorical"].any() for t in trees
        ):
            raise ValueError("boosters with categorical features cannot be flattened")
        sizes = np.array([len(t) for t in trees], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int32)
        flat = np.concatenate(trees)
        # children are indices within their tree: shift them by the tree's offset
        shift = np.repeat(offsets, sizes)
        nodes = {
            "feature": flat["feature_idx"].astype(np.int32),
            "threshold": flat["num_threshold"].astype(np.float64),
            "left": (flat["left"].astype(np.int64) + shift).astype(np.int32),
            "right": (flat["right"].astype(np.int64) + shift).astype(np.int32),
            "is_leaf": flat["is_leaf"].astype(np.uint8),
            "missing_go_to_left": flat["missing_go_to_left"].astype(np.uint8),
            "value": flat["value"].astype(np.float64),
        }
        baseline = np.asarray(booster._baseline_prediction, dtype=np.float64).reshape(-1)[0]
        return cls(nodes, offsets, baseline, booster.n_features_in_)

    def arrays(self) -> dict[str, np.ndarray]:
        """The forest as named arrays (node arrays, ``roots``, ``baseline``, ``n_features``):
        what :meth:`from_arrays` takes, and a bundle's ``model.npz`` holds per stage."""
        return {
            **dict(zip(self._NODE_ARGS, self._nodes, strict=True)),
            "roots": self.roots,
            "baseline": np.array(self.baseline, dtype=np.float64),
            "n_features": np.array(self.n_features, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FlatForest:
        """The forest of :meth:`arrays` (KeyError for a missing array, ValueError for wrong ones)."""
        nodes = {name: np.ascontiguousarray(arrays[name], dtype=dtype) for name, dtype in _NODE_DTYPES.items()}
        roots = np.ascontiguousarray(arrays["roots"], dtype=np.int32)
        return cls(nodes, roots, float(arrays["baseline"]), int(arrays["n_features"]))

    def __reduce__(self):
        # the packed kernel object does not pickle: rebuild it from the arrays
        return (_from_arrays, (self.arrays(),))

    def decision_function(self, X) -> np.ndarray:
        """Raw predictions (log-odds of class 1): the baseline plus every tree's leaf value."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected a matrix of {self.n_features} columns, got shape {X.shape}")
        if not X.flags.aligned:
            X = X.copy()
        # start from the baseline and add the trees in order, as scikit-learn does
        out = np.full(len(X), self.baseline)
        if len(X):
            self._packed.add(X, out)
        return out

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of class 0 and class 1, shape ``(n, 2)``, as the booster's ``predict_proba``."""
        return two_class(expit(self.decision_function(X)))


def expit(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` with the C library's ``exp``, as ``scipy.special.expit`` computes it.

    Not ``np.exp``: numpy's own SIMD ``exp`` (AVX-512 machines) may differ from the C
    library's in the last bit, and the probabilities are to be scikit-learn's exactly.
    Where scipy is loaded already (training, evaluation) its ``expit`` is used; else the
    kernel :func:`chromesift.models.forest_kernels.expit` (a loop over the C library's
    ``exp``: in C where the extension is built, else over ``math.exp``).
    """
    special = sys.modules.get("scipy.special")
    if special is not None:
        return special.expit(np.asarray(x, dtype=np.float64))
    out = np.array(x, dtype=np.float64).reshape(-1)  # a copy: the kernel works in place
    forest_kernels.expit(out)
    return out


#: the type of each node array (as :meth:`FlatForest.from_booster` makes them)
_NODE_DTYPES = {
    "feature": np.int32, "threshold": np.float64, "left": np.int32, "right": np.int32, "is_leaf": np.uint8,
    "missing_go_to_left": np.uint8, "value": np.float64,
}


def _from_arrays(arrays: dict[str, np.ndarray]) -> FlatForest:
    return FlatForest.from_arrays(arrays)


def two_class(p: np.ndarray) -> np.ndarray:
    """``np.column_stack([1 - p, p])`` (the same values), without its list and intermediate array."""
    proba = np.empty((len(p), 2))
    proba[:, 1] = p
    np.subtract(1.0, p, out=proba[:, 0])
    return proba


def flat_forest(booster) -> FlatForest | None:
    """The booster's :class:`FlatForest`, built once and cached; None where it does not apply.

    None when the booster is not a fitted binary
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier` with numerical splits
    only: use the booster's own ``predict_proba`` then.
    """
    # (loaded already wherever a booster exists)
    from sklearn.ensemble import HistGradientBoostingClassifier

    if not isinstance(booster, HistGradientBoostingClassifier):
        return None
    predictors = getattr(booster, "_predictors", None)
    if predictors is None:
        return None
    entry = _CACHE.get(booster)
    if entry is None or entry[0] is not predictors or entry[1] != len(predictors):
        try:
            forest = FlatForest.from_booster(booster)
        except ValueError:
            forest = None
        entry = (predictors, len(predictors), forest)
        _CACHE[booster] = entry
    return entry[2]
