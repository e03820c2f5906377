# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The context stage of the classifier in C: :func:`context_sorted` and :func:`in_doc_order`.

:mod:`chromesift.models.context` holds their Python references (same names, same
arguments) and chooses between the two at import. Each gives exactly the numbers of its
reference: the same floats, NaN in the same places, the same signs of zero.
"""

from libc.math cimport NAN, isnan
from libc.stdlib cimport free, malloc, qsort

# Bit for bit the numpy code: every sum adds in numpy's order. ``np.add.reduceat`` takes a
# segment's first value and adds the pairwise sum of the rest (_reduceat_sum), a row sum
# over the window adds left to right from 0.0, ``np.cumsum`` runs left to right, and the
# stable sorts of ``np.lexsort`` become sorts by (key, row). (chromesift/features/_text.pyx has
# the same helpers for its position features: each extension builds on its own.)

#: the columns :func:`context_sorted` fills, in order (context.CONTEXT_NAMES, checked there)
CONTEXT_COLUMNS = (
    "c_p", "c_prev1", "c_prev2", "c_prev3", "c_next1", "c_next2", "c_next3",
    "c_doc_mean", "c_doc_wmean", "c_doc_max", "c_block_mean", "c_cont1_mean",
    "c_cont2_mean", "c_window_mean", "c_rank", "c_mass_before", "c_mass_after",
)


cdef enum:
    X_P = 0
    X_PREV1 = 1  # .. X_PREV1 + 2
    X_NEXT1 = 4  # .. X_NEXT1 + 2
    X_DOC_MEAN = 7
    X_DOC_WMEAN = 8
    X_DOC_MAX = 9
    X_BLOCK_MEAN = 10  # then cont1, cont2
    X_WINDOW_MEAN = 13
    X_RANK = 14
    X_MASS_BEFORE = 15
    X_MASS_AFTER = 16


cdef double _pairwise_sum(const double *a, Py_ssize_t n) noexcept nogil:
    # numpy's pairwise summation (DOUBLE_pairwise_sum), as its add loop reduces a run
    cdef double r[8]
    cdef double res
    cdef Py_ssize_t i, j, n2
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[i]
        return res
    elif n <= 128:
        for j in range(8):
            r[j] = a[j]
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_sum(a, n2) + _pairwise_sum(a + n2, n - n2)


cdef inline double _reduceat_sum(const double *a, Py_ssize_t n) noexcept nogil:
    # np.add.reduceat over one segment of n >= 1 values
    return a[0] + _pairwise_sum(a + 1, n - 1)


cdef struct _Keyed:
    double key
    Py_ssize_t row


cdef int _by_key_then_row(const void *x, const void *y) noexcept nogil:
    # ascending key, NaN last (as numpy sorts), then ascending row: a stable sort's order
    cdef const _Keyed *a = <const _Keyed *>x
    cdef const _Keyed *b = <const _Keyed *>y
    cdef bint na = isnan(a.key), nb = isnan(b.key)
    if na != nb:
        return 1 if na else -1
    if not na:
        if a.key < b.key:
            return -1
        if a.key > b.key:
            return 1
    return (a.row > b.row) - (a.row < b.row)


def in_doc_order(const double[:] doc, const double[:] pos):
    """Whether the rows are in document and position order, as ``context.in_doc_order``
    tests it (each row's document greater, or the same and its position not smaller)."""
    cdef Py_ssize_t i
    for i in range(1, doc.shape[0]):
        if not (doc[i] > doc[i - 1] or (doc[i] == doc[i - 1] and pos[i] >= pos[i - 1])):
            return False
    return True


def context_sorted(const double[:] p, const double[:] doc, const double[:] block, const double[:] anc1,
                   const double[:] anc2, const double[:] chars, double[:, :] out):
    """``context.context_sorted`` into ``out`` (rows sorted by document and position, columns
    :data:`CONTEXT_COLUMNS`; any strides), the same floats."""
    cdef Py_ssize_t n = p.shape[0]
    if n == 0:
        return
    cdef double *buf = <double *>malloc(n * sizeof(double))
    cdef double *cum = <double *>malloc(n * sizeof(double))
    cdef _Keyed *keyed = <_Keyed *>malloc(n * sizeof(_Keyed))
    if buf == NULL or cum == NULL or keyed == NULL:
        free(buf); free(cum); free(keyed)
        raise MemoryError()
    cdef Py_ssize_t s = 0, e, i, j, k, size, cnt, a, b
    cdef double v, acc, mx, base, total, csum, mean, mass
    cdef const double[:] ids
    try:
        # running mass over all rows, as one np.cumsum
        cum[0] = p[0] * chars[0]
        for i in range(1, n):
            cum[i] = cum[i - 1] + p[i] * chars[i]
        while s < n:
            e = s + 1
            while e < n and doc[e] == doc[s]:
                e += 1
            size = e - s
            for i in range(s, e):
                out[i, X_P] = p[i]
                for k in range(1, 4):
                    out[i, X_PREV1 + k - 1] = p[i - k] if i - k >= s else NAN
                    out[i, X_NEXT1 + k - 1] = p[i + k] if i + k < e else NAN
                # window mean: a row sum from 0.0 over p, prev1-3, next1-3 (the columns 0-6),
                # absent values as 0.0
                acc = 0.0
                cnt = 0
                for k in range(X_P, X_NEXT1 + 3):
                    v = out[i, k]
                    if isnan(v):
                        acc += 0.0
                    else:
                        acc += v
                        cnt += 1
                out[i, X_WINDOW_MEAN] = acc / cnt if cnt > 0 else NAN

            for i in range(size):
                buf[i] = p[s + i]
            mean = _reduceat_sum(buf, size) / size
            mx = p[s]
            for i in range(s + 1, e):  # np.maximum: NaN wins
                v = p[i]
                if not (mx >= v or isnan(mx)):
                    mx = v
            for i in range(size):
                buf[i] = chars[s + i]
            csum = _reduceat_sum(buf, size)
            # the document's running mass: the global one less what came before the document
            base = cum[s - 1] if s > 0 else 0.0
            total = cum[e - 1] - base
            for i in range(s, e):
                out[i, X_DOC_MEAN] = mean
                out[i, X_DOC_MAX] = mx
                out[i, X_DOC_WMEAN] = total / csum if csum > 0 else 0.0
                acc = cum[i] - base
                mass = p[i] * chars[i]
                out[i, X_MASS_BEFORE] = (acc - mass) / total if total > 0 else 0.0
                out[i, X_MASS_AFTER] = (total - acc) / total if total > 0 else 0.0

            # mean p over the rows of each block / container (id) of the document
            for j in range(3):
                ids = block if j == 0 else anc1 if j == 1 else anc2
                for i in range(size):
                    keyed[i].key = ids[s + i]
                    keyed[i].row = s + i
                for i in range(1, size):
                    if _by_key_then_row(&keyed[i - 1], &keyed[i]) > 0:
                        qsort(keyed, size, sizeof(_Keyed), _by_key_then_row)
                        break
                a = 0
                while a < size:
                    b = a + 1
                    while b < size and keyed[b].key == keyed[a].key:
                        b += 1
                    for i in range(a, b):
                        buf[i - a] = p[keyed[i].row]
                    mean = _reduceat_sum(buf, b - a) / (b - a)
                    for i in range(a, b):
                        k = keyed[i].row
                        out[k, X_BLOCK_MEAN + j] = mean if ids[k] >= 0 else NAN
                    a = b

            # rank of p, highest first, ties (equal p; NaN ties nothing) at their average rank
            for i in range(size):
                keyed[i].key = -p[s + i]
                keyed[i].row = s + i
            qsort(keyed, size, sizeof(_Keyed), _by_key_then_row)
            a = 0
            while a < size:
                b = a + 1
                while b < size and p[keyed[b].row] == p[keyed[a].row]:
                    b += 1
                mean = ((a + 1.0) + <double>b) / 2 / size
                for i in range(a, b):
                    out[keyed[i].row, X_RANK] = mean
                a = b
            s = e
    finally:
        free(buf); free(cum); free(keyed)
