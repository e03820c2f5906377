"""The context stage of the classifier: stage-1 probabilities -> stage 2's context columns.

:func:`context_features` computes, per paragraph and within its document, the neighbours'
probabilities, container means (block element and ancestors), document aggregates, and
how much likely-content text lies before and after it.

Its two kernels, :func:`context_sorted` and :func:`in_doc_order`, run compiled where the
optional extension :mod:`chromesift.models._context` is built (and its column layout is
this module's), else as the Python references defined here; the same numbers either way.
The choice is made once, at import: :data:`BACKEND` tells which ("compiled" or "python"),
and the environment variable ``CHROMESIFT_PURE_PYTHON=1`` (read at import) forces the
references. :func:`use` switches the backend (for the tests that compare the two).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from chromesift.data.util import bind_kernels, load_compiled

CONTEXT_NAMES = (
    ["c_p"]
    + [f"c_prev{k}" for k in (1, 2, 3)]
    + [f"c_next{k}" for k in (1, 2, 3)]
    + ["c_doc_mean", "c_doc_wmean", "c_doc_max", "c_block_mean", "c_cont1_mean",
       "c_cont2_mean", "c_window_mean", "c_rank", "c_mass_before", "c_mass_after"]
)
#: Bookkeeping columns the context stage reads, in the order :func:`context_features` takes them.
CONTEXT_BOOKS = ("_doc", "_pos", "_block", "_anc1", "_anc2")
_COL = {name: i for i, name in enumerate(CONTEXT_NAMES)}
#: the kernels: compiled or Python, chosen once (:func:`use`)
KERNELS = ("context_sorted", "in_doc_order")


def context_features(
    p: np.ndarray,
    doc: np.ndarray,
    pos: np.ndarray,
    block: np.ndarray,
    anc1: np.ndarray,
    anc2: np.ndarray,
    chars: np.ndarray,
) -> np.ndarray:
    """Context built from first-stage probabilities ``p``, computed in document order.

    All arguments are arrays of one value per row: the probability, the document
    and the position in it, the ids of the block element and of the first two
    ancestor containers (-1 where unknown, as in text input), and the text length.
    The rows may come in any order: they are sorted by document and position
    here, and the result is returned in the input's order. Returns a float
    array of shape ``(n, len(CONTEXT_NAMES))``, columns in :data:`CONTEXT_NAMES` order.
    """
    p, doc, pos, block, anc1, anc2, chars = (
        np.asarray(a, dtype=float).reshape(-1) for a in (p, doc, pos, block, anc1, anc2, chars)
    )
    n = len(p)
    out = np.empty((n, len(CONTEXT_NAMES)))
    if n == 0:
        return out
    # already in (doc, pos) order -- the usual case -- needs no sort (lexsort is stable,
    # so it would return the identity there)
    if in_doc_order(doc, pos):
        context_sorted(p, doc, block, anc1, anc2, chars, out)
        return out
    order = np.lexsort((pos, doc))
    part = np.empty((n, len(CONTEXT_NAMES)))
    context_sorted(p[order], doc[order], block[order], anc1[order], anc2[order], chars[order], part)
    out[order] = part
    return out


# --- the Python references of the kernels ---------------------------------------------------


def in_doc_order(doc: np.ndarray, pos: np.ndarray) -> bool:
    """Whether the rows are in document and position order: each row's document greater than
    the row before's, or the same and its position not smaller."""
    d_next, d_prev = doc[1:], doc[:-1]
    return bool(np.all((d_next > d_prev) | ((d_next == d_prev) & (pos[1:] >= pos[:-1]))))


def _segments(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs that start where ``flags`` is set: (start of each run, run length, run of each row)."""
    starts = np.flatnonzero(flags)
    sizes = np.diff(starts, append=len(flags))
    return starts, sizes, np.cumsum(flags) - 1


def _breaks(*keys: np.ndarray) -> np.ndarray:
    """True where any of the (sorted) ``keys`` differs from the row before; True on row 0."""
    flags = np.zeros(len(keys[0]), dtype=bool)
    flags[0] = True
    for k in keys:
        flags[1:] |= k[1:] != k[:-1]
    return flags


def context_sorted(
    p: np.ndarray, doc: np.ndarray, block: np.ndarray, anc1: np.ndarray, anc2: np.ndarray, chars: np.ndarray,
    out: np.ndarray,
) -> None:
    """:func:`context_features` into ``out`` (``(n, len(CONTEXT_NAMES))``, any strides) on rows
    sorted by document and position (documents contiguous)."""
    n = len(p)
    starts, sizes, g = _segments(_breaks(doc))
    idx = np.arange(n)
    before = idx - starts[g]  # rows of the same document before this one
    after = (starts + sizes - 1)[g] - idx  # and after it
    out[:, _COL["c_p"]] = p
    for k in (1, 2, 3):
        prev = np.full(n, np.nan)
        nxt = np.full(n, np.nan)
        if k < n:
            prev[k:] = p[: n - k]
            prev[before < k] = np.nan
            nxt[: n - k] = p[k:]
            nxt[after < k] = np.nan
        out[:, _COL[f"c_prev{k}"]] = prev
        out[:, _COL[f"c_next{k}"]] = nxt
    # centred window of 7 clipped to the document = p and its 3+3 neighbours, where they exist
    win = out[:, [_COL[c] for c in ("c_p", "c_prev1", "c_prev2", "c_prev3", "c_next1", "c_next2", "c_next3")]]
    present = ~np.isnan(win)
    count = present.sum(axis=1)
    out[:, _COL["c_window_mean"]] = np.divide(
        np.where(present, win, 0.0).sum(axis=1), count, out=np.full(n, np.nan), where=count > 0
    )

    out[:, _COL["c_doc_mean"]] = (np.add.reduceat(p, starts) / sizes)[g]
    out[:, _COL["c_doc_max"]] = np.maximum.reduceat(p, starts)[g]
    mass = p * chars
    # running sum of the mass within each document: one cumsum, less what came before the document
    cum = np.cumsum(mass)
    if len(starts) > 1:
        cum -= np.concatenate(([0.0], cum[starts[1:] - 1]))[g]
    total = cum[starts + sizes - 1]
    csum = np.add.reduceat(chars, starts)
    out[:, _COL["c_doc_wmean"]] = np.divide(total, csum, out=np.zeros(len(starts)), where=csum > 0)[g]
    total = total[g]
    out[:, _COL["c_mass_before"]] = np.divide(cum - mass, total, out=np.zeros(n), where=total > 0)
    out[:, _COL["c_mass_after"]] = np.divide(total - cum, total, out=np.zeros(n), where=total > 0)

    for name, ids in (("block", block), ("cont1", anc1), ("cont2", anc2)):
        o = np.lexsort((ids, g))
        c_starts, c_sizes, c_of = _segments(_breaks(g[o], ids[o]))
        mean = np.empty(n)
        mean[o] = (np.add.reduceat(p[o], c_starts) / c_sizes)[c_of]
        # text input has no containers (-1): leave it unknown
        out[:, _COL[f"c_{name}_mean"]] = np.where(ids >= 0, mean, np.nan)

    # rank of p within its document, highest first, ties sharing their average rank, over its size
    # (g is sorted, so sorting by (g, -p) keeps every document on its rows: g[o] == g)
    o = np.lexsort((-p, g))
    rank = before + 1.0
    t_starts, t_sizes, t_of = _segments(_breaks(g, p[o]))
    avg = (rank[t_starts] + rank[t_starts + t_sizes - 1]) / 2
    out[o, _COL["c_rank"]] = avg[t_of] / sizes[g]


#: the Python references of the kernels
python = SimpleNamespace(**{name: globals()[name] for name in KERNELS})
#: the extension, where it is built and fills the columns of :data:`CONTEXT_NAMES` (else None)
compiled = load_compiled(
    "chromesift.models._context", lambda m: tuple(getattr(m, "CONTEXT_COLUMNS", ())) == tuple(CONTEXT_NAMES)
)


def use(backend: str) -> None:
    """Run the kernels of ``backend``: "compiled" (the extension) or "python" (the references)."""
    bind_kernels(globals(), KERNELS, compiled, python, backend)


BACKEND = "compiled" if compiled is not None else "python"
use(BACKEND)
