# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The per-word and per-row loops of :mod:`chromesift.features.transformer`, in C.

Each function gives exactly what the Python code it replaces gives (that code stays in
the transformer as the reference and the fallback): counts are integers, so the
float features built from them are the same numbers. Strings are read through
CPython's code point access; Python objects are made only where a word must be
looked up in a set (stopwords, title words) or an attribute string in the cache.
"""

from libc.stdint cimport int64_t, uint16_t

import numpy as np

cdef extern from "Python.h":
    int PyUnicode_KIND(object o)
    void *PyUnicode_DATA(object o)
    Py_UCS4 PyUnicode_READ(int kind, void *data, Py_ssize_t index)
    object PyUnicode_Substring(object s, Py_ssize_t start, Py_ssize_t end)
    int PySet_Contains(object anyset, object key) except -1
    int PyUnicode_Contains(object container, object element) except -1


cdef inline bint _ascii_word(Py_UCS4 c) noexcept:
    # a word character of re.ASCII's \b
    return (c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122) or c == 95


cdef inline bint _digit(Py_UCS4 c) noexcept:
    return c >= 48 and c <= 57


cdef inline bint _sep(Py_UCS4 c) noexcept:
    return c == 46 or c == 47 or c == 45  # . / -


cdef enum:
    C_SENTENCES = 9
    C_WORDS = 10
    C_STOPWORDS = 11
    C_TITLE_WORDS = 12

#: columns of :func:`text_counts` after the nine class bits
SENTENCES, WORDS, STOPWORDS, TITLE_WORDS = C_SENTENCES, C_WORDS, C_STOPWORDS, C_TITLE_WORDS


def text_counts(const uint16_t[:] bits, const int64_t[:] starts, const int64_t[:] ends, int alnum, int sent_end,
                int space, str src, bint lower_each, const int64_t[:] para_doc, frozenset stops, dict doc_titles,
                Py_ssize_t maxlen):
    """Per paragraph (row), counts of its characters and words (columns, integers).

    Columns 0-8: characters with class bit 0-8 set (``bits``: class bits of the joined
    texts, paragraph ``r`` at ``starts[r]:ends[r]``); :data:`SENTENCES`: sentence ends (a
    run of ``sent_end`` characters followed by a ``space`` one, or by the end);
    :data:`WORDS`: runs of ``alnum`` characters; :data:`STOPWORDS` and
    :data:`TITLE_WORDS`: words (lowercased) in ``stops`` and in the document's title words
    (``doc_titles[para_doc[r]]``). A word is ``src[i:j]``, lowercased with ``str.lower``
    where ``lower_each`` is set (else ``src`` is the lowercased text already, code point
    for code point); words longer than ``maxlen`` (>= 0) are in neither set.
    """
    cdef Py_ssize_t n = starts.shape[0], total = bits.shape[0]
    out = np.zeros((n, 13), dtype=np.int64)
    cdef int64_t[:, :] ov = out
    cdef Py_ssize_t r, i, a, b, ws, k
    cdef uint16_t c, follow
    cdef int64_t cnt[9]
    cdef bint in_word
    cdef object word
    cdef object title = None
    cdef long long d, last = -1
    cdef bint any_title = False
    for t in doc_titles.values():
        if t:
            any_title = True
            break
    for r in range(n):
        a = starts[r]
        b = ends[r]
        in_word = False
        ws = a
        for k in range(9):
            cnt[k] = 0
        for i in range(a, b + 1):
            if i < b:
                c = bits[i]
                k = 0
                while c >> k:
                    cnt[k] += (c >> k) & 1
                    k += 1
                if c & sent_end:
                    follow = bits[i + 1] if i + 1 < total else space
                    if not (follow & sent_end) and (follow & space):
                        ov[r, C_SENTENCES] += 1
                if c & alnum:
                    if not in_word:
                        in_word = True
                        ws = i
                    continue
            if not in_word:
                continue
            in_word = False  # a word is src[ws:i]
            ov[r, C_WORDS] += 1
            if maxlen >= 0 and i - ws > maxlen:
                continue
            word = PyUnicode_Substring(src, ws, i)
            if lower_each:
                word = word.lower()
            if PySet_Contains(stops, word):
                ov[r, C_STOPWORDS] += 1
            if any_title:
                d = para_doc[r]
                if d != last:
                    title = doc_titles[d]
                    last = d
                if title and PySet_Contains(title, word):
                    ov[r, C_TITLE_WORDS] += 1
        for k in range(9):
            ov[r, k] = cnt[k]
    return out


cdef class Phrases:
    """Non-overlapping occurrences of a set of literal words, leftmost and longest first.

    That is what a trie regex of the words (``transformer.trie_regex``) finds with
    ``finditer``: at each position its greedy optional groups try the longest word first.
    """

    cdef Py_UCS4[::1] chars      # all words' code points, one after another
    cdef int64_t[::1] w_start  # word i: chars[w_start[i]:w_start[i] + w_len[i]]
    cdef int64_t[::1] w_len
    cdef int64_t[::1] g_start  # first-character group g: words g_start[g]..g_start[g+1]-1
    cdef int[::1] bmp            # group of a BMP first character, -1 for none
    cdef dict astral             # group of a first character beyond the BMP

    def __init__(self, words):
        uniq = sorted({w for w in words if w})
        firsts = sorted({w[0] for w in uniq})
        groups = {c: [w for w in uniq if w[0] == c] for c in firsts}
        order = []
        g_start = [0]
        for c in firsts:
            order += sorted(groups[c], key=len, reverse=True)
            g_start.append(len(order))
        self.chars = np.array([ord(c) for w in order for c in w], dtype=np.uint32)
        lens = [len(w) for w in order]
        self.w_len = np.array(lens, dtype=np.int64)
        self.w_start = np.array([sum(lens[:i]) for i in range(len(lens))], dtype=np.int64)
        self.g_start = np.array(g_start, dtype=np.int64)
        bmp = np.full(0x10000, -1, dtype=np.intc)
        self.astral = {}
        for g, c in enumerate(firsts):
            if ord(c) < 0x10000:
                bmp[ord(c)] = g
            else:
                self.astral[ord(c)] = g
        self.bmp = bmp

    def count(self, str s, const int64_t[:] starts, Py_ssize_t n):
        """Matches per paragraph (``starts``: paragraph offsets in ``s``), as floats."""
        out = np.zeros(n, dtype=float)
        cdef double[:] ov = out
        cdef int kind = PyUnicode_KIND(s)
        cdef void *data = PyUnicode_DATA(s)
        cdef Py_ssize_t L = len(s)
        cdef Py_ssize_t i = 0, j, m, w, para = 0
        cdef long long ws, wl
        cdef int g
        cdef Py_UCS4 c
        cdef bint hit
        while i < L:
            c = PyUnicode_READ(kind, data, i)
            if c < 0x10000:
                g = self.bmp[c]
            else:
                g = self.astral.get(<long>c, -1)
            if g < 0:
                i += 1
                continue
            hit = False
            for w in range(self.g_start[g], self.g_start[g + 1]):  # longest first
                ws = self.w_start[w]
                wl = self.w_len[w]
                if i + wl > L:
                    continue
                m = 1
                while m < wl and PyUnicode_READ(kind, data, i + m) == self.chars[ws + m]:
                    m += 1
                if m == wl:
                    hit = True
                    break
            if not hit:
                i += 1
                continue
            while para + 1 < n and starts[para + 1] <= i:
                para += 1
            ov[para] += 1.0
            i += wl
        return out


cdef inline Py_ssize_t _digits_end(int kind, void *data, Py_ssize_t j, Py_ssize_t L) noexcept:
    """End of the run of ASCII digits that starts at ``j`` (``j`` itself when there is none)."""
    while j < L and _digit(PyUnicode_READ(kind, data, j)):
        j += 1
    return j


def date_flags(str s, const int64_t[:] starts, Py_ssize_t n):
    """1.0 where a paragraph holds a match of ``transformer._DATE_RE``, else 0.0.

    ``\\b\\d{1,4}[./-]\\d{1,2}[./-]\\d{1,4}\\b|\\b(?:19|20)\\d\\d\\b`` (ASCII): a digit run can
    only end where a non-digit follows, so each ``\\d{a,b}`` is a whole run of digits.
    """
    out = np.zeros(n, dtype=float)
    cdef double[:] ov = out
    cdef int kind = PyUnicode_KIND(s)
    cdef void *data = PyUnicode_DATA(s)
    cdef Py_ssize_t L = len(s)
    cdef Py_ssize_t i, i2, j, para = 0
    cdef Py_UCS4 c, prev = 0
    cdef bint ok
    for i in range(L):
        c = PyUnicode_READ(kind, data, i)
        if i > 0:
            prev = PyUnicode_READ(kind, data, i - 1)
        if not _digit(c) or (i > 0 and _ascii_word(prev)):
            continue
        ok = False
        # (?:19|20)\d\d\b
        if i + 4 <= L and (
            (c == 49 and PyUnicode_READ(kind, data, i + 1) == 57)
            or (c == 50 and PyUnicode_READ(kind, data, i + 1) == 48)
        ) and _digit(PyUnicode_READ(kind, data, i + 2)) and _digit(PyUnicode_READ(kind, data, i + 3)) and (
            i + 4 == L or not _ascii_word(PyUnicode_READ(kind, data, i + 4))
        ):
            ok = True
        if not ok:
            # \d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b
            j = _digits_end(kind, data, i, L)
            if 1 <= j - i <= 4 and j < L and _sep(PyUnicode_READ(kind, data, j)):
                i2 = j + 1
                j = _digits_end(kind, data, i2, L)
                if 1 <= j - i2 <= 2 and j < L and _sep(PyUnicode_READ(kind, data, j)):
                    i2 = j + 1
                    j = _digits_end(kind, data, i2, L)
                    if 1 <= j - i2 <= 4 and (j == L or not _ascii_word(PyUnicode_READ(kind, data, j))):
                        ok = True
        if ok:
            while para + 1 < n and starts[para + 1] <= i:
                para += 1
            ov[para] = 1.0
    return out



cdef inline bint _in(Py_UCS4 c, str chars) noexcept:
    cdef Py_ssize_t k
    cdef int kind = PyUnicode_KIND(chars)
    cdef void *data = PyUnicode_DATA(chars)
    for k in range(len(chars)):
        if PyUnicode_READ(kind, data, k) == c:
            return True
    return False


def row_flags(list texts, list lower_texts, list title, list h1, str bullets, str end_punct, url_search):
    """Per paragraph: starts with a bullet, ends with punctuation, ends with a colon, has a
    URL, is the title, is the h1 (columns of a float matrix)."""
    cdef Py_ssize_t n = len(texts), r, L
    out = np.zeros((n, 6), dtype=float)
    cdef double[:, :] ov = out
    cdef str t, lt
    cdef object ti
    cdef Py_UCS4 c
    for r in range(n):
        t = texts[r]
        L = len(t)
        if L == 0:
            continue
        c = PyUnicode_READ(PyUnicode_KIND(t), PyUnicode_DATA(t), 0)
        if _in(c, bullets):
            ov[r, 0] = 1.0
        c = PyUnicode_READ(PyUnicode_KIND(t), PyUnicode_DATA(t), L - 1)
        if _in(c, end_punct):
            ov[r, 1] = 1.0
        if c == 58 or c == 0xFF1A:  # ":" "："
            ov[r, 2] = 1.0
        lt = lower_texts[r]
        if (PyUnicode_Contains(lt, "http") or PyUnicode_Contains(lt, "www.") or PyUnicode_Contains(lt, "@")) \
                and url_search(lt) is not None:
            ov[r, 3] = 1.0
        ti = title[r]
        if t == ti or (L > 15 and t in ti):
            ov[r, 4] = 1.0
        if t == h1[r]:
            ov[r, 5] = 1.0
    return out


def structure_rows(list source, list tags, list paths, const int64_t[:] doc, dict codes, Py_ssize_t other):
    """Per paragraph: from HTML, tag code, tag is p, li, a heading (h1-h6), path code
    (one per document and path) and the number of ``/`` in the path."""
    cdef Py_ssize_t n = len(tags), r, k, L
    out = np.zeros((n, 6), dtype=float)
    pcodes = np.empty(n, dtype=np.int64)
    cdef double[:, :] ov = out
    cdef int64_t[:] pv = pcodes
    cdef str t, p
    cdef dict seen = {}
    cdef dict per_doc = None
    cdef long long d, last = 0
    cdef bint first = True
    cdef int kind
    cdef void *data
    cdef Py_ssize_t slashes
    cdef Py_UCS4 c0, c1
    for r in range(n):
        if source[r] == "html":
            ov[r, 0] = 1.0
        t = tags[r]
        code = codes.get(t)
        ov[r, 1] = other if code is None else <double>code
        L = len(t)
        if L == 1 and PyUnicode_READ(PyUnicode_KIND(t), PyUnicode_DATA(t), 0) == 112:  # p
            ov[r, 2] = 1.0
        elif L == 2:
            c0 = PyUnicode_READ(PyUnicode_KIND(t), PyUnicode_DATA(t), 0)
            c1 = PyUnicode_READ(PyUnicode_KIND(t), PyUnicode_DATA(t), 1)
            if c0 == 108 and c1 == 105:  # li
                ov[r, 3] = 1.0
            elif c0 == 104 and 49 <= c1 <= 54:  # h1-h6
                ov[r, 4] = 1.0
        d = doc[r]
        if first or d != last:
            per_doc = seen.get(d)
            if per_doc is None:
                per_doc = seen[d] = {}
            last = d
            first = False
        p = paths[r]
        code = per_doc.get(p)
        if code is None:
            code = per_doc[p] = r  # any code unique to (document, path)
        pv[r] = code
        kind = PyUnicode_KIND(p)
        data = PyUnicode_DATA(p)
        slashes = 0
        for k in range(len(p)):
            if PyUnicode_READ(kind, data, k) == 47:
                slashes += 1
        ov[r, 5] = slashes
    return out, pcodes


def lookup(list values, dict index, list new):
    """Row of each value in ``index``; unseen values get the next rows and are appended to ``new``."""
    cdef Py_ssize_t n = len(values), r
    ids = np.empty(n, dtype=np.int64)
    cdef int64_t[:] iv = ids
    for r in range(n):
        v = values[r]
        i = index.get(v)
        if i is None:
            i = index[v] = len(index)
            new.append(v)
        iv[r] = i
    return ids


def factorize(const int64_t[:] keys):
    """An integer code per key, the same for equal keys (in order of first appearance)."""
    cdef Py_ssize_t n = keys.shape[0], r
    codes = np.empty(n, dtype=np.int64)
    cdef int64_t[:] cv = codes
    cdef dict seen = {}
    for r in range(n):
        k = keys[r]
        c = seen.get(k)
        if c is None:
            c = seen[k] = len(seen)
        cv[r] = c
    return codes


def float_rows(list columns):
    """The columns (lists or arrays of numbers, equally long) as the rows of a float matrix."""
    cdef Py_ssize_t k = len(columns), n = len(columns[0]) if columns else 0, j, r
    out = np.empty((k, n))
    cdef double[:, ::1] ov = out
    cdef list values
    for j in range(k):
        col = columns[j]
        if type(col) is list:
            values = <list>col
            try:
                for r in range(n):
                    ov[j, r] = <double>values[r]
            except (TypeError, ValueError):  # what numpy converts otherwise (None -> NaN)
                out[j] = np.asarray(col, dtype=float)
        else:
            out[j] = col
    return out
