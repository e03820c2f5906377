"""The trees of a flat forest, summed per row: compiled, or the Python reference here.

:class:`Forest` checks and packs the node arrays of all trees of a booster (laid end to end
by :class:`chromesift.models.forest.FlatForest`) once; its ``add(X, out)`` adds, to each
``out[i]``, the value of the leaf that row ``i`` of ``X`` reaches in each tree, the trees in
order (as scikit-learn adds them, so the sums are the same to the last bit).
:func:`add_trees` does both in one call. :func:`expit` turns sums into probabilities in place.

Where the optional extension :mod:`chromesift.models._forest` is built, they are its (C,
walking the trees row by row); else the Python references below (numpy, all trees of a
block of rows at once, one tree level per step). The choice is made once, at import:
:data:`BACKEND` tells which ("compiled" or "python"), and the environment variable
``CHROMESIFT_PURE_PYTHON=1`` (read at import) forces the references. :func:`use` switches
the backend (for the tests that compare the two).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from chromesift.data.util import bind_kernels, load_compiled

#: the kernels: compiled or Python, chosen once (:func:`use`)
KERNELS = ("Forest", "add_trees", "expit")
#: the node arguments of :class:`Forest`, in order, with their array formats
_NODE_ARGS = (
    ("feature", "i"), ("threshold", "d"), ("left", "i"), ("right", "i"), ("is_leaf", "B"),
    ("missing_go_to_left", "B"), ("value", "d"), ("roots", "i"),
)
#: rows per block of :meth:`Forest.add` (its arrays are rows x trees)
BLOCK_ROWS = 2048


def _vector(a, name: str, code: str, writable: bool = False) -> np.ndarray:
    """``a`` as the C-contiguous 1-d array of struct format ``code`` the extension takes: TypeError
    where it has no buffer, ValueError where it is another one."""
    memoryview(a)  # TypeError without the buffer protocol, as the extension
    arr = np.asarray(a)
    if arr.ndim != 1 or arr.dtype != np.dtype(code) or not arr.flags.c_contiguous or (
        writable and not arr.flags.writeable
    ):
        raise ValueError(f"{name} must be a contiguous 1-d array of format '{code}'")
    return arr


class Forest:
    """The Python reference of ``chromesift.models._forest.Forest``: the same checks, the same sums.

    Parameters
    ----------
    feature, threshold, left, right, is_leaf, missing_go_to_left, value, roots
        Node arrays of all trees end to end (children absolute indices, each tree in
        pre-order) and the first node of each tree, as int32, float64 and uint8 arrays.

    Raises
    ------
    ValueError
        For arrays of another format or length, roots or children out of range, a left
        child that is not the next node, or a split on a negative column.
    """

    def __init__(self, feature, threshold, left, right, is_leaf, missing_go_to_left, value, roots):
        args = (feature, threshold, left, right, is_leaf, missing_go_to_left, value, roots)
        a = {name: _vector(v, name, code) for (name, code), v in zip(_NODE_ARGS, args, strict=True)}
        n = len(a["feature"])
        for name, _ in _NODE_ARGS[1:-1]:
            if len(a[name]) != n:
                raise ValueError(f"{name} has {len(a[name])} nodes, feature has {n}")
        if n > np.iinfo(np.int32).max:
            raise ValueError("too many nodes for int32 indices")
        roots = a["roots"].astype(np.intp)
        bad = np.flatnonzero((roots < 0) | (roots >= n))
        if len(bad):
            raise ValueError(f"root {roots[bad[0]]} of tree {bad[0]} is out of range")
        k = np.arange(n)
        split = a["is_leaf"] == 0
        lft, rgt, feat = a["left"].astype(np.intp), a["right"].astype(np.intp), a["feature"]
        out_of_range = split & ((lft <= k) | (lft >= n) | (rgt <= k) | (rgt >= n))
        not_next = split & (lft != k + 1)
        negative = split & (feat < 0)
        bad = np.flatnonzero(out_of_range | not_next | negative)
        if len(bad):  # the first bad node, by the first check it fails (as the extension reports it)
            j = bad[0]
            if out_of_range[j]:
                raise ValueError(f"children of node {j} are out of range")
            if not_next[j]:
                raise ValueError(f"left child of node {j} is node {lft[j]}, not the next one (pre-order)")
            raise ValueError(f"node {j} splits on column {feat[j]}")
        self._feature = np.where(split, feat, -1).astype(np.intp)
        self._threshold = a["threshold"].copy()
        self._value = a["value"].copy()
        self._right = np.where(split, rgt, 0)
        self._missing_left = a["missing_go_to_left"] != 0
        self._roots = roots
        self._n_columns = int(feat[split].max()) + 1 if split.any() else 0

    @property
    def n_nodes(self) -> int:
        """Nodes of all trees."""
        return len(self._feature)

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self._roots)

    @property
    def n_columns(self) -> int:
        """Columns X needs at least: 1 + the largest split column (0 without splits)."""
        return self._n_columns

    def add(self, X, out) -> None:
        """Add to ``out[i]`` the sum over the trees of the value of the leaf that row ``i`` of ``X`` reaches.

        ``X``: a 2-d float64 array (any memory order) of at least :attr:`n_columns` columns;
        ``out``: a writable contiguous float64 array of ``len(X)``. ValueError otherwise.
        """
        memoryview(X)  # TypeError without the buffer protocol, as the extension
        X = np.asarray(X)
        if X.ndim != 2 or X.dtype != np.float64 or not X.flags.aligned:
            raise ValueError("X must be an aligned 2-d array of float64")
        out = _vector(out, "out", "d", writable=True)
        n_rows, n_cols = X.shape
        if len(out) != n_rows:
            raise ValueError(f"out has {len(out)} rows, X has {n_rows}")
        if n_cols < self.n_columns:
            raise ValueError(f"a tree splits on column {self.n_columns - 1}, but X has {n_cols} columns")
        feature, threshold, right, missing_left = self._feature, self._threshold, self._right, self._missing_left
        for lo in range(0, n_rows, BLOCK_ROWS):
            hi = min(lo + BLOCK_ROWS, n_rows)
            node = np.broadcast_to(self._roots, (hi - lo, self.n_trees)).copy()  # rows x trees
            row = np.broadcast_to(np.arange(lo, hi)[:, None], node.shape)
            while True:  # one level of every tree per step
                f = feature[node]
                walking = f >= 0
                if not walking.any():
                    break
                k = node[walking]
                v = X[row[walking], f[walking]]
                # x <= threshold goes left (the next node), NaN where missing_go_to_left says so
                left = (v <= threshold[k]) | (np.isnan(v) & missing_left[k])
                node[walking] = np.where(left, k + 1, right[k])
            leaves = self._value[node]
            part = out[lo:hi]
            for t in range(self.n_trees):  # the trees in order, as scikit-learn adds them
                part += leaves[:, t]


def add_trees(feature, threshold, left, right, is_leaf, missing_go_to_left, value, roots, X, out) -> None:
    """``Forest(feature, ..., roots).add(X, out)`` in one call."""
    Forest(feature, threshold, left, right, is_leaf, missing_go_to_left, value, roots).add(X, out)


def expit(x) -> None:
    """Replace each ``x[i]`` (a writable contiguous float64 array) by ``1 / (1 + exp(-x[i]))``,
    with ``math.exp`` (the C library's ``exp``, as the extension)."""
    x = _vector(x, "x", "d", writable=True)
    x[:] = [_expit(v) for v in x.tolist()]


def _expit(v: float) -> float:
    try:
        return 1.0 / (1.0 + math.exp(-v))
    except OverflowError:  # exp(-v) beyond the largest float: C's exp gives inf, so 0
        return 0.0


#: the Python references of the kernels
python = SimpleNamespace(**{name: globals()[name] for name in KERNELS})
#: the extension, where it is built (else None)
compiled = load_compiled("chromesift.models._forest", lambda m: all(hasattr(m, name) for name in KERNELS))


def use(backend: str) -> None:
    """Run the kernels of ``backend``: "compiled" (the extension) or "python" (the references)."""
    bind_kernels(globals(), KERNELS, compiled, python, backend)


BACKEND = "compiled" if compiled is not None else "python"
use(BACKEND)
