# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The per-word and per-row loops of :mod:`chromesift.features.transformer`, in C.

:mod:`chromesift.features.text_kernels` holds their Python references (same names, same
arguments) and chooses between the two at import. Each function gives exactly what its
reference gives: counts are integers, so the float features built from them are the same
numbers, and the sums of floats add in numpy's order. Strings are read through CPython's code point access; Python objects
are made only where a word must be looked up in a set (stopwords, title words) or an
attribute string in the cache.
"""

cimport cython
from libc.math cimport NAN, ceil, isnan, sqrt
from libc.stdint cimport int64_t, uint16_t, uint64_t
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcpy

import zlib

import numpy as np

cdef extern from "Python.h":
    int PyUnicode_KIND(object o)
    void *PyUnicode_DATA(object o)
    Py_UCS4 PyUnicode_READ(int kind, void *data, Py_ssize_t index)
    object PyUnicode_Substring(object s, Py_ssize_t start, Py_ssize_t end)
    int PySet_Contains(object anyset, object key) except -1
    bint Py_UNICODE_ISDECIMAL(Py_UCS4 ch)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch)
    double PyLong_AsDouble(object o) except? -1.0
    Py_ssize_t PyUnicode_GET_LENGTH(PyObject *o)


cdef inline bint _ascii_word(Py_UCS4 c) noexcept:
    # a word character of re.ASCII's \b
    return (c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122) or c == 95


cdef inline bint _alnum(Py_UCS4 c) noexcept:
    # Py_UNICODE_ISALNUM (str.isalnum of one character), without its calls for ASCII
    cdef uint64_t folded
    if c < 128:
        folded = <uint64_t>c | 32
        return (c >= 48 and c <= 57) or (folded >= 97 and folded <= 122)
    return Py_UNICODE_ISALNUM(c)


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


cdef uint64_t FNV_BASIS = 14695981039346656037ULL
cdef uint64_t FNV_PRIME = 1099511628211ULL


cdef inline uint64_t _fnv_from(uint64_t h, int kind, void *data, Py_ssize_t a, Py_ssize_t b) noexcept:
    # FNV-1a over the code points of data[a:b], from the state h
    cdef Py_ssize_t i
    for i in range(a, b):
        h = (h ^ <uint64_t>PyUnicode_READ(kind, data, i)) * FNV_PRIME
    return h


cdef inline uint64_t _fnv(int kind, void *data, Py_ssize_t a, Py_ssize_t b) noexcept:
    # FNV-1a over the code points of data[a:b]
    return _fnv_from(FNV_BASIS, kind, data, a, b)


cdef class WordSet:
    """A set of strings that a substring is looked up in where it stands, code point by code
    point: the answer of ``in`` on a set of ``str``, without making the substring."""

    cdef Py_UCS4[::1] chars     # all words' code points, one after another
    cdef int64_t[::1] w_start   # word i: chars[w_start[i]:w_start[i] + w_len[i]]
    cdef int64_t[::1] w_len
    cdef int64_t[::1] slots     # open addressing by _fnv: a word's index, -1 for none
    cdef uint64_t mask

    def __init__(self, words):
        uniq = sorted({w for w in words})
        cdef uint64_t j
        self.chars = np.array([ord(c) for w in uniq for c in w] or [0], dtype=np.uint32)
        lens = [len(w) for w in uniq]
        self.w_len = np.array(lens or [0], dtype=np.int64)
        self.w_start = np.concatenate(([0], np.cumsum(lens, dtype=np.int64)))[:max(len(lens), 1)]
        size = 8
        while size < 4 * len(uniq):
            size *= 2
        self.mask = size - 1
        slots = np.full(size, -1, dtype=np.int64)
        for i, w in enumerate(uniq):
            j = _fnv(PyUnicode_KIND(w), PyUnicode_DATA(w), 0, len(w)) & self.mask
            while slots[j] >= 0:
                j = (j + 1) & self.mask
            slots[j] = i
        self.slots = slots

    cdef bint has(self, int kind, void *data, Py_ssize_t a, Py_ssize_t b) noexcept:
        # whether data[a:b] (a string's code points) is one of the words
        cdef uint64_t j = _fnv(kind, data, a, b) & self.mask
        cdef int64_t w, ws
        cdef Py_ssize_t k
        while True:
            w = self.slots[j]
            if w < 0:
                return False
            if self.w_len[w] == b - a:
                ws = self.w_start[w]
                k = 0
                while k < b - a and PyUnicode_READ(kind, data, a + k) == self.chars[ws + k]:
                    k += 1
                if k == b - a:
                    return True
            j = (j + 1) & self.mask

    def __contains__(self, str word):
        return self.has(PyUnicode_KIND(word), PyUnicode_DATA(word), 0, len(word))


def text_counts(const uint16_t[:] bits, const int64_t[:] starts, const int64_t[:] ends, int alnum, int sent_end,
                int space, str src, bint lower_each, const int64_t[:] para_doc, frozenset stops, dict doc_titles,
                Py_ssize_t maxlen, WordSet stop_set=None):
    """Per paragraph (row), counts of its characters and words (columns, integers).

    Columns 0-8: characters with class bit 0-8 set (``bits``: class bits of the joined
    texts, paragraph ``r`` at ``starts[r]:ends[r]``); :data:`SENTENCES`: sentence ends (a
    run of ``sent_end`` characters followed by a ``space`` one, or by the end);
    :data:`WORDS`: runs of ``alnum`` characters; :data:`STOPWORDS` and
    :data:`TITLE_WORDS`: words (lowercased) in ``stops`` and in the document's title words
    (``doc_titles[para_doc[r]]``). A word is ``src[i:j]``, lowercased with ``str.lower``
    where ``lower_each`` is set (else ``src`` is the lowercased text already, code point
    for code point); words longer than ``maxlen`` (>= 0) are in neither set.

    ``stop_set``: ``stops`` as a :class:`WordSet`, for looking the words up in place (where
    ``lower_each`` is not set); a word is then made a string only where a title word has its
    length and first character (mod 64).
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
    cdef bint in_place = stop_set is not None and not lower_each
    cdef int kind = PyUnicode_KIND(src)
    cdef void *data = PyUnicode_DATA(src)
    cdef uint64_t t_lens = 0, t_firsts = 0  # bits of the title words' lengths and first characters
    cdef Py_UCS4 c0
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
            if in_place:
                if stop_set.has(kind, data, ws, i):
                    ov[r, C_STOPWORDS] += 1
                if not any_title:
                    continue
                d = para_doc[r]
                if d != last:
                    title = doc_titles[d]
                    last = d
                    t_lens = 0
                    t_firsts = 0
                    for w in title:
                        if not w:  # no word is empty
                            continue
                        t_lens |= (<uint64_t>1) << (len(<str>w) & 63)
                        c0 = (<str>w)[0]
                        t_firsts |= (<uint64_t>1) << (<uint64_t>c0 & 63)
                c0 = PyUnicode_READ(kind, data, ws)
                if (t_lens >> ((i - ws) & 63)) & 1 and (t_firsts >> (<uint64_t>c0 & 63)) & 1 \
                        and PySet_Contains(title, PyUnicode_Substring(src, ws, i)):
                    ov[r, C_TITLE_WORDS] += 1
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


cdef enum:
    TRI_SHIFT = 12
    TRI_BITS = 1 << TRI_SHIFT


cdef uint64_t TRI_MIX = 11400714819323198485ULL


cdef inline uint64_t _tri_hash(uint64_t a, uint64_t b, uint64_t c) noexcept:
    # a place's first three code points -> a bit of Phrases.tri (one of TRI_BITS)
    cdef uint64_t h = (a * 1000003 + b) * 1000003 + c
    return (h * TRI_MIX) >> (64 - TRI_SHIFT)


@cython.final
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
    # per group: the ASCII second characters of its words (a 128-bit set), and whether a
    # word of it is one character long or has a second character beyond ASCII; most places
    # of a text start with a group's letter but not with any word's first two characters
    cdef uint64_t[:, ::1] second
    cdef unsigned char[::1] any_second
    # the same by ASCII first character (no group: no second character at all), read inline
    # by count and span_count before a call to match_at
    cdef uint64_t[:, ::1] ascii_second
    cdef unsigned char[::1] ascii_any
    # the first three characters of the words of an ASCII first character, hashed into a set of
    # TRI_BITS bits (a place whose three do not hash into it starts no word); ascii_short: an
    # ASCII first character with a word shorter than three characters (no such test then)
    cdef uint64_t[::1] tri
    cdef unsigned char[::1] ascii_short

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
        second = np.zeros((max(len(firsts), 1), 2), dtype=np.uint64)
        any_second = np.zeros(max(len(firsts), 1), dtype=np.uint8)
        for g, c in enumerate(firsts):
            for w in groups[c]:
                if len(w) < 2 or ord(w[1]) >= 128:
                    any_second[g] = 1
                else:
                    second[g, ord(w[1]) >> 6] |= np.uint64(1) << np.uint64(ord(w[1]) & 63)
        self.second = second
        self.any_second = any_second
        ascii_second = np.zeros((128, 2), dtype=np.uint64)
        ascii_any = np.zeros(128, dtype=np.uint8)
        for g, c in enumerate(firsts):
            if ord(c) < 128:
                ascii_second[ord(c)] = second[g]
                ascii_any[ord(c)] = any_second[g]
        self.ascii_second = ascii_second
        self.ascii_any = ascii_any
        tri = np.zeros(TRI_BITS // 64, dtype=np.uint64)
        ascii_short = np.zeros(128, dtype=np.uint8)
        for w in uniq:
            if ord(w[0]) < 128:
                if len(w) < 3:
                    ascii_short[ord(w[0])] = 1
                else:
                    h = _tri_hash(ord(w[0]), ord(w[1]), ord(w[2]))
                    tri[h >> 6] |= np.uint64(1) << np.uint64(h & 63)
        self.tri = tri
        self.ascii_short = ascii_short

    cdef inline bint no_word_at(self, int kind, void *data, Py_ssize_t i, Py_ssize_t L) noexcept:
        # True where no word can start at data[i] (its first two characters start none): most
        # places of a text, told apart here without a call to match_at (which says 0 there too)
        cdef uint64_t c = <uint64_t>PyUnicode_READ(kind, data, i), c1, h
        if c >= 128:
            return c < 0x10000 and self.bmp[c] < 0
        if self.ascii_any[c]:
            return False
        if i + 1 >= L:
            return True
        c1 = <uint64_t>PyUnicode_READ(kind, data, i + 1)
        if c1 >= 128:
            return False
        if not (self.ascii_second[c, c1 >> 6] >> (c1 & 63)) & 1:
            return True
        if self.ascii_short[c]:
            return False
        if i + 2 >= L:
            return True
        h = _tri_hash(c, c1, <uint64_t>PyUnicode_READ(kind, data, i + 2))
        return not (self.tri[h >> 6] >> (h & 63)) & 1

    cdef Py_ssize_t match_at(self, int kind, void *data, Py_ssize_t i, Py_ssize_t L) except -1:
        # length of the longest word that starts at data[i] and ends by L, 0 for none
        cdef Py_ssize_t m, w
        cdef long long ws, wl
        cdef int g
        cdef uint64_t c1
        cdef Py_UCS4 c = PyUnicode_READ(kind, data, i)
        if c < 0x10000:
            g = self.bmp[c]
        else:
            g = self.astral.get(<long>c, -1)
        if g < 0:
            return 0
        if not self.any_second[g]:  # every word of the group has an ASCII second character
            if i + 1 >= L:
                return 0
            c1 = <uint64_t>PyUnicode_READ(kind, data, i + 1)
            if c1 >= 128 or not (self.second[g, c1 >> 6] >> (c1 & 63)) & 1:
                return 0
        for w in range(self.g_start[g], self.g_start[g + 1]):  # longest first
            ws = self.w_start[w]
            wl = self.w_len[w]
            if i + wl > L:
                continue
            m = 1
            while m < wl and PyUnicode_READ(kind, data, i + m) == self.chars[ws + m]:
                m += 1
            if m == wl:
                return wl
        return 0

    def count(self, str s, const int64_t[:] starts, Py_ssize_t n):
        """Matches per paragraph (``starts``: paragraph offsets in ``s``), as floats."""
        out = np.zeros(n, dtype=float)
        cdef double[:] ov = out
        cdef int kind = PyUnicode_KIND(s)
        cdef void *data = PyUnicode_DATA(s)
        cdef Py_ssize_t L = len(s)
        cdef Py_ssize_t i = 0, wl, para = 0
        while i < L:
            if self.no_word_at(kind, data, i, L):
                i += 1
                continue
            wl = self.match_at(kind, data, i, L)
            if wl == 0:
                i += 1
                continue
            while para + 1 < n and starts[para + 1] <= i:
                para += 1
            ov[para] += 1.0
            i += wl
        return out

    cdef double span_count(self, int kind, void *data, Py_ssize_t i, Py_ssize_t L) except? -1:
        # the matches :meth:`count` finds in data[i:L] (a string's code points)
        cdef Py_ssize_t wl
        cdef double found = 0.0
        while i < L:
            if self.no_word_at(kind, data, i, L):
                i += 1
                continue
            wl = self.match_at(kind, data, i, L)
            if wl == 0:
                i += 1
                continue
            found += 1.0
            i += wl
        return found


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


cdef bint _url_hint(str s) noexcept:
    # "http", "www." or "@" in s: what a match of compute._URL_RE needs, in one pass
    cdef int kind = PyUnicode_KIND(s)
    cdef void *data = PyUnicode_DATA(s)
    cdef Py_ssize_t L = PyUnicode_GET_LENGTH(<PyObject *>s), i
    cdef Py_UCS4 c
    for i in range(L):
        c = PyUnicode_READ(kind, data, i)
        if c == 64:  # "@"
            return True
        if i + 3 < L:
            if c == 104:  # "http"
                if (PyUnicode_READ(kind, data, i + 1) == 116 and PyUnicode_READ(kind, data, i + 2) == 116
                        and PyUnicode_READ(kind, data, i + 3) == 112):
                    return True
            elif c == 119:  # "www."
                if (PyUnicode_READ(kind, data, i + 1) == 119 and PyUnicode_READ(kind, data, i + 2) == 119
                        and PyUnicode_READ(kind, data, i + 3) == 46):
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
        if _url_hint(lt) and url_search(lt) is not None:
            ov[r, 3] = 1.0
        ti = title[r]
        if t == ti or (L > 15 and t in ti):
            ov[r, 4] = 1.0
        if t == h1[r]:
            ov[r, 5] = 1.0
    return out


#: the features :func:`text_rows` gives, in order
TEXT_COLUMNS = (
    "t_chars", "t_words", "t_cjk", "t_cjk_ratio", "t_mean_word_len", "t_sentences", "t_mean_sentence_len",
    "t_digit_ratio", "t_upper_ratio", "t_punct_ratio", "t_separators", "t_text_density", "t_stop_density",
    "t_zh_stop_ratio", "t_title_overlap",
)


def text_rows(const int64_t[:, :] counts, const int64_t[:] cls, const double[:] length, double[:, :] out,
              const int64_t[:] dest):
    """The :data:`TEXT_COLUMNS` of each paragraph (row ``r`` of :func:`text_counts`' ``counts``)
    into the rows ``dest`` of ``out``, with the float operations of ``_compute`` on the
    counts as floats (exact integers): a ratio is ``a / b`` where ``b > 0``, else 0.
    ``length``: the characters of each paragraph. ``cls``: the columns of the letters, numbers, upper case, punctuation, CJK, Chinese
    function characters and separators."""
    cdef Py_ssize_t n = counts.shape[0], r
    cdef double chars, letters, numbers, upper, punct, cjk, zh_stop, seps, sentences, words, stops, in_title
    cdef double tokens, lines
    for r in range(n):
        letters = <double>counts[r, cls[0]]
        numbers = <double>counts[r, cls[1]]
        upper = <double>counts[r, cls[2]]
        punct = <double>counts[r, cls[3]]
        cjk = <double>counts[r, cls[4]]
        zh_stop = <double>counts[r, cls[5]]
        seps = <double>counts[r, cls[6]]
        chars = length[r]
        sentences = <double>counts[r, C_SENTENCES]
        words = <double>counts[r, C_WORDS]
        stops = <double>counts[r, C_STOPWORDS]
        in_title = <double>counts[r, C_TITLE_WORDS]
        tokens = words + cjk
        lines = ceil(chars / 80.0)
        out[dest[0], r] = chars
        out[dest[1], r] = tokens
        out[dest[2], r] = cjk
        out[dest[3], r] = _div0(cjk, chars)
        out[dest[4], r] = _div0(letters - cjk, words)
        out[dest[5], r] = sentences
        out[dest[6], r] = tokens / (sentences if sentences > 1.0 else 1.0)
        out[dest[7], r] = _div0(numbers, chars)
        out[dest[8], r] = _div0(upper, letters)
        out[dest[9], r] = _div0(punct, chars)
        out[dest[10], r] = seps
        out[dest[11], r] = tokens / (lines if lines > 1.0 else 1.0)
        out[dest[12], r] = _div0(stops, words)
        out[dest[13], r] = _div0(zh_stop, cjk)
        out[dest[14], r] = _div0(in_title, words)


cdef inline bint _word(Py_UCS4 c) noexcept:
    # a word character of re's \w (a str pattern without re.ASCII)
    return _alnum(c) or c == 95


cdef inline bint _clock(int kind, void *data, Py_ssize_t L) noexcept:
    # a digit, ":" or "." and a digit, in a row: what either part of transformer._STAMP_TIME needs
    cdef Py_ssize_t i
    cdef Py_UCS4 c
    for i in range(1, L - 1):
        c = PyUnicode_READ(kind, data, i)
        if (c == 58 or c == 46) and Py_UNICODE_ISDECIMAL(PyUnicode_READ(kind, data, i - 1)) \
                and Py_UNICODE_ISDECIMAL(PyUnicode_READ(kind, data, i + 1)):
            return True
    return False


def comment_rows(list lower_texts, Py_ssize_t head_max, head_fullmatch, str head_first, str head_last,
                 Py_ssize_t stamp_max, time_search, actions_match, str action_first, str action_last,
                 double[:, :] out, Py_ssize_t head_row, Py_ssize_t stamp_row):
    """``t_comment_head`` and ``t_stamp`` of ``_compute`` into the rows ``head_row`` and
    ``stamp_row`` of ``out``: 1.0 where a (lowercased) text no longer than ``head_max`` is a
    comment heading (``head_fullmatch``), and where one no longer than ``stamp_max`` has a
    time of day (``time_search``) or is action words (``actions_match``), else 0.0.

    Each regex runs only on texts that can match: a heading starts with a character of
    ``head_first`` or a digit and ends with one of ``head_last``, a digit or a space; a
    time has a digit, ":" or "." and a digit in a row; action words start and end the text
    unless it starts (ends) with a non-word character, so a word character there must be
    in ``action_first`` (``action_last``).
    """
    cdef Py_ssize_t n = len(lower_texts), r, L
    cdef str t
    cdef int kind
    cdef void *data
    cdef Py_UCS4 first, last
    cdef double head, stamp
    for r in range(n):
        t = lower_texts[r]
        L = len(t)
        head = 0.0
        stamp = 0.0
        if L > 0:
            kind = PyUnicode_KIND(t)
            data = PyUnicode_DATA(t)
            first = PyUnicode_READ(kind, data, 0)
            last = PyUnicode_READ(kind, data, L - 1)
            if L <= head_max and (Py_UNICODE_ISDECIMAL(first) or _in(first, head_first)) \
                    and (Py_UNICODE_ISDECIMAL(last) or Py_UNICODE_ISSPACE(last) or _in(last, head_last)) \
                    and head_fullmatch(t) is not None:
                head = 1.0
            if L <= stamp_max:
                if _clock(kind, data, L) and time_search(t) is not None:
                    stamp = 1.0
                elif (not _word(first) or _in(first, action_first)) and (not _word(last) or _in(last, action_last)) \
                        and actions_match(t) is not None:
                    stamp = 1.0
        out[head_row, r] = head
        out[stamp_row, r] = stamp


def neighbour_rows(const int64_t[:] doc, double[:, :] out, const int64_t[:] base, const int64_t[:] shifts,
                   Py_ssize_t dest):
    """``_neighbours``: for shift ``s`` and base feature ``j`` (row ``base[j]`` of ``out``),
    row ``dest + s * len(base) + j`` of ``out`` holds the base feature of the row
    ``shifts[s]`` before (negative: after) in the same document, NaN where there is none."""
    cdef Py_ssize_t n = doc.shape[0], nb = base.shape[0], s, j, i, src, row
    for s in range(shifts.shape[0]):
        for i in range(n):
            src = i - shifts[s]
            row = dest + s * nb
            if 0 <= src < n and doc[src] == doc[i]:
                for j in range(nb):
                    out[row + j, i] = out[base[j], src]
            else:
                for j in range(nb):
                    out[row + j, i] = NAN


def structure_rows(list source, list tags, list paths, const int64_t[:] doc, dict codes, Py_ssize_t other,
                   const double[:] chars, const double[:, :] num, const int64_t[:] num_rows, double[:, :] out,
                   Py_ssize_t first, Py_ssize_t path_row):
    """The structure features of ``_structure`` besides the class/id words and containers, into
    the rows of ``out``; returns ``nan_text`` (1.0 for a paragraph from HTML, else NaN).

    Rows ``first`` on: tag code, tag is p, li, a heading (h1-h6), depth, links, link density
    (link characters over ``chars``, 0 where there are none), whether from HTML, then the
    flags; rows ``path_row`` and ``path_row + 1``: the share of the document's paragraphs
    with the same path, and the number of ``/`` in the path. All but the HTML one times
    ``nan_text``. Depth, links, link characters and the flags are the rows
    ``num_rows`` of ``num``, in that order."""
    cdef Py_ssize_t n = len(tags), nflags = num_rows.shape[0] - 3, r, k, L, slashes
    nan_text = np.empty(n)
    cdef double[:] nv = nan_text
    if n == 0:
        return nan_text
    cdef int64_t *buf = <int64_t *>malloc(4 * n * sizeof(int64_t))
    if buf == NULL:
        raise MemoryError()
    # per row its path code and document code (the first row of each), and the rows of each code
    cdef int64_t *pcode = buf
    cdef int64_t *dcode = buf + n
    cdef int64_t *pcount = buf + 2 * n
    cdef int64_t *dcount = buf + 3 * n
    cdef str t, p
    cdef dict seen = {}
    cdef dict per_doc = None
    cdef tuple entry
    cdef long long d, last = 0
    cdef Py_ssize_t dfirst = 0
    cdef bint first_row = True
    cdef int kind
    cdef void *data
    cdef Py_UCS4 c0, c1
    cdef double tag, is_p, is_li, is_head, nt
    try:
        for r in range(n):
            pcount[r] = 0
            dcount[r] = 0
        for r in range(n):
            nt = 1.0 if source[r] == "html" else NAN
            nv[r] = nt
            t = tags[r]
            code = codes.get(t)
            tag = other if code is None else <double>code
            is_p = is_li = is_head = 0.0
            L = len(t)
            if L == 1 and PyUnicode_READ(PyUnicode_KIND(t), PyUnicode_DATA(t), 0) == 112:  # p
                is_p = 1.0
            elif L == 2:
                c0 = PyUnicode_READ(PyUnicode_KIND(t), PyUnicode_DATA(t), 0)
                c1 = PyUnicode_READ(PyUnicode_KIND(t), PyUnicode_DATA(t), 1)
                if c0 == 108 and c1 == 105:  # li
                    is_li = 1.0
                elif c0 == 104 and 49 <= c1 <= 54:  # h1-h6
                    is_head = 1.0
            out[first, r] = tag * nt
            out[first + 1, r] = is_p * nt
            out[first + 2, r] = is_li * nt
            out[first + 3, r] = is_head * nt
            out[first + 4, r] = num[num_rows[0], r] * nt
            out[first + 5, r] = num[num_rows[1], r] * nt
            out[first + 6, r] = _div0(num[num_rows[2], r], chars[r]) * nt
            out[first + 7, r] = 1.0 if nt == 1.0 else 0.0
            for k in range(nflags):
                out[first + 8 + k, r] = num[num_rows[3 + k], r] * nt
            d = doc[r]
            if first_row or d != last:
                entry = seen.get(d)
                if entry is None:
                    entry = seen[d] = ({}, r)
                per_doc = <dict>entry[0]
                dfirst = entry[1]
                last = d
                first_row = False
            p = paths[r]
            code = per_doc.get(p)
            if code is None:
                code = per_doc[p] = r  # any code unique to (document, path)
            pcode[r] = code
            pcount[pcode[r]] += 1
            dcode[r] = dfirst
            dcount[dfirst] += 1
            kind = PyUnicode_KIND(p)
            data = PyUnicode_DATA(p)
            slashes = 0
            for k in range(len(p)):
                if PyUnicode_READ(kind, data, k) == 47:
                    slashes += 1
            out[path_row + 1, r] = <double>slashes * nt
        for r in range(n):
            out[path_row, r] = <double>pcount[pcode[r]] / <double>dcount[dcode[r]] * nv[r]
    finally:
        free(buf)
    return nan_text


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


# --- the class/id words of transformer._structure (its _TokenTable and _AttrRows) -------------

cdef class _TokenIds:
    """The row of each token of an index dict (:func:`split_lookup`'s), by the FNV-1a hash of its
    code points: a token is found where it stands in its attribute string, without making it
    a string and hashing that (most tokens of a page's new attribute strings are known)."""

    cdef object index             # the dict these rows are of: another one starts afresh
    cdef uint64_t *keys
    cdef int64_t *rows            # -1: an empty slot
    cdef PyObject **tokens        # the token of each slot (owned), to compare code points with
    cdef Py_ssize_t cap, count

    def __cinit__(self):
        self.keys = NULL
        self.rows = NULL
        self.tokens = NULL
        self.cap = 0
        self.count = 0

    def __dealloc__(self):
        self._free()

    cdef void _free(self) noexcept:
        cdef Py_ssize_t j
        if self.tokens is not NULL:
            for j in range(self.cap):
                Py_XDECREF(self.tokens[j])
        free(self.keys)
        free(self.rows)
        free(self.tokens)
        self.keys = NULL
        self.rows = NULL
        self.tokens = NULL
        self.cap = 0
        self.count = 0

    cdef int reset(self, object index, Py_ssize_t cap) except -1:
        cdef Py_ssize_t j
        self._free()
        self.keys = <uint64_t *>malloc(cap * sizeof(uint64_t))
        self.rows = <int64_t *>malloc(cap * sizeof(int64_t))
        self.tokens = <PyObject **>malloc(cap * sizeof(PyObject *))
        if self.keys is NULL or self.rows is NULL or self.tokens is NULL:
            self._free()
            raise MemoryError()
        for j in range(cap):
            self.rows[j] = -1
            self.tokens[j] = NULL
        self.cap = cap
        self.index = index
        return 0

    cdef int64_t find(self, uint64_t h, int kind, void *data, Py_ssize_t a, Py_ssize_t b) noexcept:
        # the row of data[a:b], -1 where it is not here
        cdef Py_ssize_t j = <Py_ssize_t>(h & <uint64_t>(self.cap - 1)), k
        cdef PyObject *t
        cdef int tk
        cdef void *td
        while self.rows[j] >= 0:
            if self.keys[j] == h:
                t = self.tokens[j]
                if PyUnicode_GET_LENGTH(t) == b - a:
                    tk = PyUnicode_KIND(<object>t)
                    td = PyUnicode_DATA(<object>t)
                    k = 0
                    while k < b - a and PyUnicode_READ(tk, td, k) == PyUnicode_READ(kind, data, a + k):
                        k += 1
                    if k == b - a:
                        return self.rows[j]
            j = (j + 1) & (self.cap - 1)
        return -1

    cdef int add(self, uint64_t h, object token, int64_t row) except -1:
        cdef Py_ssize_t j
        if 2 * (self.count + 1) > self.cap:
            self._grow()
        j = <Py_ssize_t>(h & <uint64_t>(self.cap - 1))
        while self.rows[j] >= 0:
            j = (j + 1) & (self.cap - 1)
        self.keys[j] = h
        self.rows[j] = row
        Py_INCREF(token)
        self.tokens[j] = <PyObject *>token
        self.count += 1
        return 0

    cdef int _grow(self) except -1:
        cdef uint64_t *keys = self.keys
        cdef int64_t *rows = self.rows
        cdef PyObject **tokens = self.tokens
        cdef Py_ssize_t cap = self.cap, count = self.count, j, i
        self.keys = NULL
        self.rows = NULL
        self.tokens = NULL
        try:
            self.reset(self.index, 2 * cap)
        except MemoryError:
            for j in range(cap):
                Py_XDECREF(tokens[j])
            free(keys)
            free(rows)
            free(tokens)
            raise
        for j in range(cap):
            if rows[j] >= 0:
                i = <Py_ssize_t>(keys[j] & <uint64_t>(self.cap - 1))
                while self.rows[i] >= 0:
                    i = (i + 1) & (self.cap - 1)
                self.keys[i] = keys[j]
                self.rows[i] = rows[j]
                self.tokens[i] = tokens[j]  # (the reference moves)
        self.count = count
        free(keys)
        free(rows)
        free(tokens)
        return 0


cdef _TokenIds _TOKEN_IDS = _TokenIds()


def split_lookup(list values, dict index, list new):
    """The tokens of each value (``value.split()``, ``[""]`` for none) looked up as :func:`lookup`
    does: (row of each token, the offset of each value's first token and the count at the end).

    Tokens are found by where they stand in the value (:class:`_TokenIds`); only a token not
    seen before with this ``index`` is made a string and looked up in it.
    """
    cdef Py_ssize_t n = len(values), r, i, a, L, at = 0, cap = 0
    cdef int kind
    cdef void *data
    cdef str v
    cdef uint64_t h
    cdef int64_t row
    cdef _TokenIds cache = _TOKEN_IDS
    # (an index only grows, as _TokenTable's does: one that is smaller than the rows known of
    # it was emptied, and they are known no more)
    if cache.index is not index or cache.cap == 0 or len(index) < cache.count:
        cache.reset(index, 1024)
    for r in range(n):
        cap += len(<str>values[r]) // 2 + 1  # (no value has more tokens)
    ids = np.empty(cap, dtype=np.int64)
    starts = np.empty(n + 1, dtype=np.int64)
    cdef int64_t[:] iv = ids
    cdef int64_t[:] sv = starts
    for r in range(n):
        sv[r] = at
        v = values[r]
        kind = PyUnicode_KIND(v)
        data = PyUnicode_DATA(v)
        L = len(v)
        i = 0
        while True:
            while i < L and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)):
                i += 1
            if i >= L:
                if at == sv[r]:  # no token: the empty one
                    a = i
                else:
                    break
            else:
                a = i
                while i < L and not Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)):
                    i += 1
            h = _fnv(kind, data, a, i)
            row = cache.find(h, kind, data, a, i)
            if row < 0:
                t = PyUnicode_Substring(v, a, i)
                got = index.get(t)
                if got is None:
                    got = index[t] = len(index)
                    new.append(t)
                row = got
                cache.add(h, t, row)
            iv[at] = row
            at += 1
            if i >= L:
                break
    sv[n] = at
    return ids[:at], starts


def token_rows(list tokens, double[:, :] rows, Py_ssize_t lo, list families, dict short_families, buckets):
    """Rows ``lo:lo + len(tokens)`` of ``rows`` for ``tokens``, as ``_TokenTable._add`` makes them:
    column ``j`` the token's words of family ``j`` (1 if it is one of the family's short
    words, plus the matches of its long words, ``families[j]``: a :class:`Phrases`), then a 1
    in the column of its hash bucket (``zlib.crc32`` of its UTF-8 bytes, mod ``buckets``; none
    where ``buckets`` is 0)."""
    cdef Py_ssize_t nf = len(families), width = rows.shape[1], r, j, row
    cdef str t
    cdef int kind
    cdef void *data
    for r in range(len(tokens)):
        t = tokens[r]
        row = lo + r
        for j in range(width):
            rows[row, j] = 0.0
        for j in short_families.get(t, ()):
            rows[row, j] = 1.0
        if buckets:  # (no hash columns where there are no buckets)
            rows[row, nf + <Py_ssize_t>(zlib.crc32(t.encode("utf-8")) % buckets)] = 1.0
        kind = PyUnicode_KIND(t)
        data = PyUnicode_DATA(t)
        for j in range(nf):
            rows[row, j] += (<Phrases>families[j]).span_count(kind, data, 0, len(t))


def sum_rows(const double[:, :] table, const int64_t[:] ids, const int64_t[:] starts, double[:, :] out,
             Py_ssize_t lo):
    """Row ``lo + r`` of ``out``: the sum of the rows ``ids[starts[r]:starts[r + 1]]`` (at least
    one) of ``table``, as ``np.add.reduceat`` adds them (sums of small integers: exact)."""
    cdef Py_ssize_t n = starts.shape[0] - 1, width = table.shape[1], r, k, j
    cdef int64_t i
    for r in range(n):
        i = ids[starts[r]]
        for j in range(width):
            out[lo + r, j] = table[i, j]
        for k in range(starts[r] + 1, starts[r + 1]):
            i = ids[k]
            for j in range(width):
                out[lo + r, j] += table[i, j]


def take_rows(const double[:, :] rows, const int64_t[:] ids, const double[:] scale, double[:, :] out,
              Py_ssize_t first, Py_ssize_t split, Py_ssize_t second):
    """``rows[ids] * scale[:, None]``, transposed, into ``out``: column ``j`` of ``rows`` to row
    ``first + j`` of ``out`` for ``j < split``, to row ``second + j - split`` after."""
    cdef Py_ssize_t n = ids.shape[0], width = rows.shape[1], r, j
    cdef int64_t i
    cdef double s
    for r in range(n):
        i = ids[r]
        s = scale[r]
        for j in range(split):
            out[first + j, r] = rows[i, j] * s
        for j in range(split, width):
            out[second + j - split, r] = rows[i, j] * s


def char_classes(str s, const uint16_t[::1] table, astral):
    """The class bits of each character of ``s``, as ``text_kernels.char_classes`` gives them,
    read from the string in place (no UTF-32 copy, no index arrays)."""
    cdef Py_ssize_t n = len(s), i
    cdef int kind = PyUnicode_KIND(s)
    cdef void *data = PyUnicode_DATA(s)
    cdef Py_UCS4 c
    if table.shape[0] < 0x10000:
        raise ValueError("the table needs an entry for each code point of the Basic Multilingual Plane")
    out = np.empty(n, dtype=np.uint16)
    cdef uint16_t[::1] ov = out
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if c <= 0xFFFF:
            ov[i] = table[c]
        else:
            ov[i] = <uint16_t>astral(<long>c)
    return out


def float_rows(list columns):
    """The columns (lists or arrays of numbers, equally long) as the rows of a float matrix."""
    cdef Py_ssize_t k = len(columns), n = len(columns[0]) if columns else 0, j, r
    out = np.empty((k, n))
    cdef double[:, ::1] ov = out
    cdef list values
    cdef object v
    for j in range(k):
        col = columns[j]
        if type(col) is list:
            values = <list>col
            try:
                for r in range(n):
                    v = values[r]
                    # ints and bools without the float object float() makes of them (the same value:
                    # int.__float__ is PyLong_AsDouble)
                    if type(v) is int:
                        ov[j, r] = PyLong_AsDouble(v)
                    elif v is True:
                        ov[j, r] = 1.0
                    elif v is False:
                        ov[j, r] = 0.0
                    else:
                        ov[j, r] = <double>v
            except (TypeError, ValueError):  # what numpy converts otherwise (None -> NaN)
                out[j] = np.asarray(col, dtype=float)
        else:
            out[j] = col
    return out


# --- numpy's order of summation and sorting (for position_rows) -----------------------------
#
# ``np.add.reduceat`` takes a segment's first value and adds the pairwise sum of the rest
# (_reduceat_sum), and the stable sorts of ``np.lexsort`` become sorts by (key, row).
# chromesift/models/_context.pyx has the same helpers: each extension builds on its own.


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


# --- the position features (transformer._position) ---------------------------------------
#
# Bit for bit too: np.bincount sums left to right from 0.0, np.add.reduceat as above,
# np.cumsum runs over the whole block (a document's part is the difference of two of its
# values, as there), and x ** 2 is x * x.

#: the columns :func:`position_rows` gives, in order
POSITION_COLUMNS = (
    "p_paragraphs", "p_page_chars", "p_rel_pos", "p_from_end", "p_from_start", "p_rank", "p_zscore",
    "p_before_share", "p_dist_longest", "p_dist_h1", "p_window_share", "p_long_share_after",
    "p_comment_head_at", "p_stamp_window",
)

cdef inline double _div0(double a, double b) noexcept nogil:
    # transformer._div: a / b where b > 0, else 0
    return a / b if b > 0 else 0.0


def position_rows(const int64_t[:] doc, const double[:] chars, const double[:] log_chars, const double[:] is_h1,
                  const double[:] comment_head, const double[:] stamp, Py_ssize_t stamp_window, out=None):
    """Per paragraph, the :data:`POSITION_COLUMNS` (rows of the result) of ``_position``;
    ``log_chars`` is ``np.log1p(chars)`` (numpy's, so that it is the same number). ``out``:
    where to write them (rows of the feature matrix, any strides), else a new matrix."""
    cdef Py_ssize_t n = doc.shape[0]
    if out is None:
        out = np.empty((len(POSITION_COLUMNS), n))
    if n == 0:
        return out
    cdef double[:, :] o = out
    cdef double *cum = <double *>malloc(n * sizeof(double))  # np.cumsum(chars)
    cdef double *lcum = <double *>malloc(n * sizeof(double))  # of the long paragraphs' chars
    cdef double *scum = <double *>malloc(n * sizeof(double))  # of the stamp flags
    cdef double *buf = <double *>malloc(n * sizeof(double))
    cdef _Keyed *keyed = <_Keyed *>malloc(n * sizeof(_Keyed))
    if cum == NULL or lcum == NULL or scum == NULL or buf == NULL or keyed == NULL:
        free(cum); free(lcum); free(scum); free(buf); free(keyed)
        raise MemoryError()
    cdef Py_ssize_t s = 0, e, i, size, pos, a, b, lo, hi, head, above
    cdef double fsize, page_chars, long_total, mu, ss, sd, dev, base, lbase, h1_at, longest, c
    try:
        cum[0] = chars[0]
        lcum[0] = chars[0] if chars[0] >= 200 else 0.0
        scum[0] = stamp[0]
        for i in range(1, n):
            cum[i] = cum[i - 1] + chars[i]
            lcum[i] = lcum[i - 1] + (chars[i] if chars[i] >= 200 else 0.0)
            scum[i] = scum[i - 1] + stamp[i]
        while s < n:
            e = s + 1
            while e < n and doc[e] == doc[s]:
                e += 1
            size = e - s
            fsize = <double>size
            for i in range(size):
                buf[i] = chars[s + i]
            page_chars = _reduceat_sum(buf, size)
            for i in range(size):
                c = chars[s + i]
                buf[i] = c if c >= 200 else 0.0
            long_total = _reduceat_sum(buf, size)
            # log length: mean and (sample) standard deviation over the page
            mu = 0.0
            for i in range(s, e):
                mu += log_chars[i]
            mu = mu / size
            ss = 0.0
            for i in range(s, e):
                dev = log_chars[i] - mu
                ss += dev * dev
            sd = sqrt(ss / (size - 1)) if size > 1 else 0.0
            # by length, longest first, ties in row order
            for i in range(size):
                keyed[i].key = -chars[s + i]
                keyed[i].row = s + i
            qsort(keyed, size, sizeof(_Keyed), _by_key_then_row)
            longest = <double>(keyed[0].row - s)
            a = 0
            while a < size:  # ties share the best rank
                b = a + 1
                while b < size and chars[keyed[b].row] == chars[keyed[a].row]:
                    b += 1
                for i in range(a, b):
                    o[5, keyed[i].row] = a / fsize
                a = b
            h1_at = NAN
            for i in range(s, e):
                if is_h1[i] > 0:
                    h1_at = <double>(i - s)
                    break
            base = cum[s] - chars[s]
            lbase = lcum[s] - (chars[s] if chars[s] >= 200 else 0.0)
            head = -1  # latest comment heading strictly above the row
            for i in range(s, e):
                pos = i - s
                o[0, i] = fsize
                o[1, i] = page_chars
                o[2, i] = pos / (fsize - 1 if fsize - 1 > 1 else 1.0)
                o[3, i] = min(fsize - 1 - pos, 50.0)
                o[4, i] = min(pos, 50)
                o[6, i] = _div0(log_chars[i] - mu, sd)
                o[7, i] = _div0(cum[i] - chars[i] - base, page_chars)
                o[8, i] = (pos - longest) / fsize
                o[9, i] = (pos - h1_at) / fsize
                lo = max(i - 3, s)
                hi = min(i + 3, e - 1)
                o[10, i] = _div0(cum[hi] - (cum[lo - 1] if lo > 0 else 0.0), page_chars)
                o[11, i] = _div0(long_total - (lcum[i] - lbase), long_total)
                o[12, i] = o[7, head] if head >= 0 else -1.0
                if comment_head[i] > 0:
                    head = i
                lo = max(i - stamp_window, s)
                hi = min(i + stamp_window, e - 1)
                o[13, i] = _div0(scum[hi] - (scum[lo - 1] if lo > 0 else 0.0) - stamp[i], <double>(hi - lo))
            s = e
    finally:
        free(cum); free(lcum); free(scum); free(buf); free(keyed)
    return out


# --- the container sums of transformer._structure -------------------------------------------

cdef struct _IntKeyed:
    int64_t key
    Py_ssize_t row


cdef int _by_int_key_then_row(const void *x, const void *y) noexcept nogil:
    cdef const _IntKeyed *a = <const _IntKeyed *>x
    cdef const _IntKeyed *b = <const _IntKeyed *>y
    if a.key != b.key:
        return -1 if a.key < b.key else 1
    return (a.row > b.row) - (a.row < b.row)


def container_rows(const int64_t[:] doc, const double[:] chars, const double[:] link_chars,
                   const int64_t[:, :] ids, const double[:] nan_text, out=None):
    """For each level ``k`` (row of ``ids``: block, ancestor 1, 2, ...) the rows ``3k``,
    ``3k + 1``, ``3k + 2`` of the result: share of the page's characters, paragraphs and
    link density of the (document, id) group of each paragraph, times ``nan_text``, as
    ``_structure`` computes them (np.bincount: sums in row order from 0.0). ``out``: where
    to write them (rows of the feature matrix, any strides), else a new matrix."""
    cdef Py_ssize_t n = doc.shape[0], levels = ids.shape[0]
    if out is None:
        out = np.empty((3 * levels, n))
    if n == 0:
        return out
    cdef double[:, :] o = out
    cdef double *page = <double *>malloc(n * sizeof(double))
    cdef _IntKeyed *keyed = <_IntKeyed *>malloc(n * sizeof(_IntKeyed))
    if page == NULL or keyed == NULL:
        free(page); free(keyed)
        raise MemoryError()
    cdef Py_ssize_t s = 0, e, i, k, a, b, r
    cdef double acc, csum, cnt, lsum
    try:
        # characters of the page, at least 1 (np.maximum(_group_sum(doc, chars), 1))
        while s < n:
            e = s + 1
            while e < n and doc[e] == doc[s]:
                e += 1
            acc = 0.0
            for i in range(s, e):
                acc += chars[i]
            acc = acc if acc >= 1 or isnan(acc) else 1.0
            for i in range(s, e):
                page[i] = acc
            s = e
        for k in range(levels):
            # the groups: equal keys doc * 2**32 + id, as the numpy code keys them
            for i in range(n):
                keyed[i].key = doc[i] * (<int64_t>1 << 32) + ids[k, i]
                keyed[i].row = i
            for i in range(1, n):
                if _by_int_key_then_row(&keyed[i - 1], &keyed[i]) > 0:
                    qsort(keyed, n, sizeof(_IntKeyed), _by_int_key_then_row)
                    break
            a = 0
            while a < n:
                b = a + 1
                while b < n and keyed[b].key == keyed[a].key:
                    b += 1
                csum = 0.0
                cnt = 0.0
                lsum = 0.0
                for i in range(a, b):
                    r = keyed[i].row
                    csum += chars[r]
                    cnt += 1.0
                    lsum += link_chars[r]
                for i in range(a, b):
                    r = keyed[i].row
                    o[3 * k, r] = csum / page[r] * nan_text[r]
                    o[3 * k + 1, r] = cnt * nan_text[r]
                    o[3 * k + 2, r] = _div0(lsum, csum) * nan_text[r]
                a = b
    finally:
        free(page); free(keyed)
    return out


cdef enum:
    LEX_OWN_MARK = 1
    LEX_ANC_MARK = 2
    LEX_TAG_MARK = 3
    LEX_ANC_TAG_MARK = 4

cdef uint64_t LEX_MIX_C = 0x9E3779B97F4A7C15ULL


cdef inline bint _lex_single(Py_UCS4 c) noexcept:
    return (c >= 0x3040 and c <= 0x9FFF) or (c >= 0xAC00 and c <= 0xD7A3) or (c >= 0xF900 and c <= 0xFAFF)


cdef Py_ssize_t _lex_row(str s, str own, str anc, str path, int shift, Py_ssize_t max_words, Py_ssize_t max_attrs,
                         Py_ssize_t max_tags, int64_t *iv):
    # the hashed tokens of one row into iv (room for 2 * max_words + 2 * max_attrs + max_tags);
    # their count
    cdef Py_ssize_t at = _lex_words(s, shift, max_words, iv)
    return at + _lex_attrs(own, anc, path, shift, max_attrs, max_tags, iv + at)


cdef Py_ssize_t _lex_words(str s, int shift, Py_ssize_t max_words, int64_t *iv):
    # the hashed words and word pairs of a row's text into iv (room for 2 * max_words); their count
    cdef Py_ssize_t i, L, a, at = 0, nw
    cdef int kind
    cdef void *data
    cdef Py_UCS4 c
    cdef uint64_t h, hword, hprev = 0
    kind = PyUnicode_KIND(s)
    data = PyUnicode_DATA(s)
    L = len(s)
    nw = 0
    i = 0
    while i < L and nw < max_words:
        c = PyUnicode_READ(kind, data, i)
        if not _alnum(c):
            i += 1
            continue
        a = i
        if _lex_single(c):
            i += 1
        else:
            i += 1
            while i < L:
                c = PyUnicode_READ(kind, data, i)
                if not _alnum(c) or _lex_single(c):
                    break
                i += 1
        hword = _fnv(kind, data, a, i)
        iv[at] = <int64_t>((hword * LEX_MIX_C) >> shift)
        at += 1
        if nw > 0:  # the pair: the previous word, a space, this word
            h = (hprev ^ 32ULL) * FNV_PRIME
            iv[at] = <int64_t>((_fnv_from(h, kind, data, a, i) * LEX_MIX_C) >> shift)
            at += 1
        hprev = hword
        nw += 1
    return at


cdef Py_ssize_t _lex_attrs(str own, str anc, str path, int shift, Py_ssize_t max_attrs, Py_ssize_t max_tags,
                           int64_t *iv):
    # the hashed class/id tokens of a row's element and ancestors, then its path's tags, into iv
    # (room for 2 * max_attrs + max_tags); their count
    cdef Py_ssize_t i, k, L, a, at = 0, na
    cdef int kind, m
    cdef void *data
    cdef str s
    cdef uint64_t h, cc
    for m in range(2):
        s = own if m == 0 else anc
        kind = PyUnicode_KIND(s)
        data = PyUnicode_DATA(s)
        L = len(s)
        na = 0
        i = 0
        while i < L and na < max_attrs:
            c = PyUnicode_READ(kind, data, i)
            if Py_UNICODE_ISSPACE(c):
                i += 1
                continue
            a = i
            while i < L and not Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)):
                i += 1
            h = (FNV_BASIS ^ <uint64_t>(LEX_OWN_MARK if m == 0 else LEX_ANC_MARK)) * FNV_PRIME
            for k in range(a, i):  # (ASCII capitals lowercased)
                cc = <uint64_t>PyUnicode_READ(kind, data, k)
                if cc >= 65 and cc <= 90:
                    cc += 32
                h = (h ^ cc) * FNV_PRIME
            iv[at] = <int64_t>((h * LEX_MIX_C) >> shift)
            at += 1
            na += 1
    if max_tags > 0:
        # the path's tags from its end: the block element's own, then its ancestors'
        kind = PyUnicode_KIND(path)
        data = PyUnicode_DATA(path)
        i = len(path)
        na = 0
        while i >= 0 and na < max_tags:
            a = i - 1
            while a >= 0 and PyUnicode_READ(kind, data, a) != 47:  # '/'
                a -= 1
            if a + 1 < i:
                h = (FNV_BASIS ^ <uint64_t>(LEX_TAG_MARK if na == 0 else LEX_ANC_TAG_MARK)) * FNV_PRIME
                iv[at] = <int64_t>((_fnv_from(h, kind, data, a + 1, i) * LEX_MIX_C) >> shift)
                at += 1
            na += 1
            i = a
    return at


def lex_tokens(list lower_texts, list own_attrs, list anc_attrs, int bits, Py_ssize_t max_words,
               Py_ssize_t max_attrs, list paths=None, Py_ssize_t max_tags=0):
    """The hashed tokens of each row, as CSR ``(indptr, ids)``: the reference's words, word
    pairs, class/id tokens and path tags, hashed alike (see ``text_kernels.lex_tokens``)."""
    cdef Py_ssize_t n = len(lower_texts), r, at = 0
    if paths is None or max_tags < 0:
        max_tags = 0
    cdef Py_ssize_t cap = n * (2 * max_words + 2 * max_attrs + max_tags) + 1
    cdef int shift = 64 - bits
    indptr = np.zeros(n + 1, dtype=np.int64)
    ids = np.empty(cap, dtype=np.int64)
    cdef int64_t[:] pv = indptr
    cdef int64_t[::1] iv = ids
    for r in range(n):
        at += _lex_row(lower_texts[r], own_attrs[r], anc_attrs[r], paths[r] if max_tags else "", shift,
                       max_words, max_attrs, max_tags, &iv[at])
        pv[r + 1] = at
    return indptr, ids[:at].copy()


def lex_scores(list lower_texts, list own_attrs, list anc_attrs, const float[::1] weights, double intercept,
               int bits, Py_ssize_t max_words, Py_ssize_t max_attrs, list paths=None, Py_ssize_t max_tags=0):
    """Each row's lexicon score (``x_lex``): the intercept plus the sum of its tokens' weights
    (:func:`lex_tokens`) over the square root of their count, as ``text_kernels.lex_scores``
    computes it (the weights summed as ``np.add.reduceat`` sums them), without the token
    arrays."""
    cdef Py_ssize_t n = len(lower_texts), r, k, cnt
    if paths is None or max_tags < 0:
        max_tags = 0
    cdef Py_ssize_t cap = 2 * max_words + 2 * max_attrs + max_tags + 1
    cdef int shift = 64 - bits
    cdef Py_ssize_t n_weights = weights.shape[0]
    out = np.empty(n, dtype=np.float64)
    cdef double[::1] ov = out
    cdef double total
    cdef int64_t *iv = <int64_t *>malloc(cap * sizeof(int64_t))
    cdef double *wv = <double *>malloc(cap * sizeof(double))
    # a row's class/id and tag tokens are those of the row before where its element's, its
    # ancestors' class/id and its path are the same strings (a third of a page's rows): hashed
    # once per such run into av, the same ids in the same order, so the same sums
    cdef int64_t *av = <int64_t *>malloc((2 * max_attrs + max_tags + 1) * sizeof(int64_t))
    cdef Py_ssize_t n_attr = 0, wcnt
    cdef object own, anc, path, last_own = None, last_anc = None, last_path = None
    if iv is NULL or wv is NULL or av is NULL:
        free(iv)
        free(wv)
        free(av)
        raise MemoryError()
    try:
        for r in range(n):
            own, anc, path = own_attrs[r], anc_attrs[r], paths[r] if max_tags else ""
            if last_own is None or not (own == last_own and anc == last_anc and path == last_path):
                n_attr = _lex_attrs(own, anc, path, shift, max_attrs, max_tags, av)
                last_own, last_anc, last_path = own, anc, path
            wcnt = _lex_words(lower_texts[r], shift, max_words, iv)
            memcpy(iv + wcnt, av, n_attr * sizeof(int64_t))
            cnt = wcnt + n_attr
            for k in range(cnt):
                if iv[k] >= n_weights:
                    raise IndexError(f"a lexicon of {bits} bits needs {1 << bits} weights, not {n_weights}")
                wv[k] = <double>weights[iv[k]]
            total = _reduceat_sum(wv, cnt) if cnt else 0.0
            ov[r] = intercept + total * (1.0 / sqrt(<double>cnt if cnt > 1 else 1.0))
    finally:
        free(iv)
        free(wv)
        free(av)
    return out
