"""Paragraph table -> numeric feature frame (one row per paragraph).

Feature families (column prefixes):

``t_`` shallow text
    characters, words, CJK characters, mean word and sentence length, sentence
    count, digit / uppercase / punctuation ratios, bullet start, sentence-final
    punctuation, text density (words per 80-character wrapped line), stopword
    density (union of en, de, fr, es, it, pt, nl, pl, ru lists; for Chinese the
    share of function characters), chrome phrases, similarity to the title.
``s_`` structure (HTML only; NaN for plain text)
    tag (integer code; one-hot for p, li and headings), depth, links and link density, inside nav/header/footer/aside/
    form/li/a/table/article/heading, class/id words of the element and its
    ancestors by family (:data:`chromesift.features.vocab.ATTR_WORDS`) and hashed
    into fixed buckets, how often the DOM path repeats on the page, and
    container aggregates (text share, paragraph count and link density of the
    block element and its three nearest ancestors).
``p_`` position and page context
    relative position, distance to the longest paragraph and to the h1, length
    rank and z-score within the page, share of page text before the paragraph,
    local text mass in a window around it.
``n_``: neighbours
    a subset of the above for the previous and next ``neighbours`` paragraphs of
    the same document.

Columns starting with ``_`` are bookkeeping for the classifier (document and
group codes, container ids), not model inputs. Everything is computed per
document in position order, so row order of the input does not matter.

The per-word and per-row loops are the kernels of :mod:`chromesift.features.text_kernels`
(compiled where the optional extension is built, else numpy: the same numbers).
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import numpy as np

from chromesift.data import schema
from chromesift.features import lexicon, text_kernels, vocab
from chromesift.features.text_kernels import trie_regex

#: the features made of the counts of :func:`_counts` (``text_kernels.text_rows`` gives them
#: in this order)
_TEXT_FEATURES = text_kernels.TEXT_COLUMNS

_FLAGS = [c for c, t in schema.STRUCT_COLUMNS.items() if t == "bool"]
#: base features repeated for each neighbour
NEIGHBOUR_BASE = (
    "t_log_chars", "t_stop_density", "t_ends_punct", "t_chrome_phrases",
    "s_link_density", "s_tag_p", "s_tag_li", "s_cont1_share", "s_path_repeat",
)
#: columns the classifier treats as categorical: none. ``s_tag`` is an integer code
#: used as an ordinal (p, li and headings also have one-hot columns); the boosters'
#: categorical encoding cost 0.7 ms per stage on every page predicted
CATEGORICAL: tuple[str, ...] = ()
BOOKKEEPING = ("_doc", "_pos", "_group", "_anc1", "_anc2", "_block")
#: the feature computation works on this many paragraphs (whole pages) at a time
CHUNK_ROWS = 50_000


# -- column access -----------------------------------------------------------------
#: columns the features read, besides the flags
_STR_COLUMNS = ("text", "page_title", "page_h1", "source", "tag", "path", "own_attrs", "anc_attrs")
_INT_COLUMNS = ("position", "depth", "n_links", "link_chars", "block_id", "anc1", "anc2", "anc3")


# -- character classes ---------------------------------------------------------------
_B_LETTER, _B_NUMBER, _B_UPPER, _B_PUNCT, _B_CJK, _B_ZH_STOP, _B_SENT_END, _B_SEP, _B_SPACE = (
    1 << i for i in range(9)
)
_CJK_RANGES = (
    (0x1100, 0x11FF), (0x2E80, 0x2FDF), (0x3005, 0x3007), (0x3021, 0x3029), (0x3038, 0x303B),
    (0x3041, 0x309F), (0x30A0, 0x30FF), (0x3130, 0x318F), (0x31F0, 0x31FF), (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F),
    (0xFFA0, 0xFFDC), (0x20000, 0x3134F),
)
#: the class counts :func:`_counts` gives
_BIT_NAMES = {
    "letters": _B_LETTER, "numbers": _B_NUMBER, "upper": _B_UPPER, "punct": _B_PUNCT, "cjk": _B_CJK,
    "zh_stop": _B_ZH_STOP, "separators": _B_SEP,
}
_TABLE: list[np.ndarray] = []
_ASTRAL: dict[int, int] = {}


def _char_bits(cp: int) -> int:
    import unicodedata

    ch = chr(cp)
    cat = unicodedata.category(ch)
    bits = 0
    if cat[0] == "L":
        bits |= _B_LETTER
        if cat == "Lu":
            bits |= _B_UPPER
    elif cat[0] == "N":
        bits |= _B_NUMBER
    elif cat[0] == "P":
        bits |= _B_PUNCT
    if any(lo <= cp <= hi for lo, hi in _CJK_RANGES):
        bits |= _B_CJK
    if ch in vocab.ZH_STOPCHARS:
        bits |= _B_ZH_STOP
    if ch in ".!?。！？":
        bits |= _B_SENT_END
    if ch in "|·•»/":
        bits |= _B_SEP
    if ch.isspace():
        bits |= _B_SPACE
    return bits


def _char_table() -> np.ndarray:
    """Class bits of every code point of the Basic Multilingual Plane (built once).

    :func:`_char_bits` of each, computed by category and by range rather than code point by
    code point (a tenth of the time: it was most of a one-page ``chromesift extract``).
    """
    if not _TABLE:
        import unicodedata

        chars = [chr(cp) for cp in range(0x10000)]
        by_category: dict[str, int] = {}
        for cat in set(map(unicodedata.category, chars)):
            bits = 0
            if cat[0] == "L":
                bits |= _B_LETTER | (_B_UPPER if cat == "Lu" else 0)
            elif cat[0] == "N":
                bits |= _B_NUMBER
            elif cat[0] == "P":
                bits |= _B_PUNCT
            by_category[cat] = bits
        table = np.array([by_category[c] for c in map(unicodedata.category, chars)], dtype=np.uint16)
        for lo, hi in _CJK_RANGES:
            table[lo:min(hi, 0xFFFF) + 1] |= _B_CJK
        for members, bit in ((vocab.ZH_STOPCHARS, _B_ZH_STOP), (".!?。！？", _B_SENT_END), ("|·•»/", _B_SEP)):
            for ch in members:
                if len(ch) == 1 and ord(ch) < 0x10000:
                    table[ord(ch)] |= bit
        table[np.fromiter((c.isspace() for c in chars), dtype=bool, count=len(chars))] |= _B_SPACE
        _TABLE.append(table)
    return _TABLE[0]


def _astral_bits(cp: int) -> int:
    """:func:`_char_bits` of a code point beyond the Basic Multilingual Plane (memoised)."""
    bits = _ASTRAL.get(cp)
    if bits is None:
        bits = _ASTRAL[cp] = _char_bits(cp)
    return bits


def _classes(joined: str) -> np.ndarray:
    """Class bits of each character of ``joined``."""
    return text_kernels.char_classes(joined, _char_table(), _astral_bits)


def _joined(texts: list[str]) -> tuple[str, np.ndarray, np.ndarray]:
    """Texts joined by newlines, with each text's start and end offset."""
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(lens[:-1] + 1, out=starts[1:])
    return "\n".join(texts), starts, starts + lens


_URL_RE = re.compile(r"https?://|www\.|\S@\S+\.\w")


_TITLE_SPLIT = re.compile(r"[^\w]+")
_COUNT = r"(?:[\(\[]?\d+[\)\]]?\s*)?"
#: a comment-section heading: the whole (short) paragraph, with an optional count
_COMMENT_HEAD_RE = re.compile(
    rf"{_COUNT}(?:{trie_regex(vocab.COMMENT_HEADS)})\s*:?\s*{_COUNT}[:»›>.!]?"
)
#: a comment's byline or action line: a time of day (10:30, 5:46 pm, 14.30 uhr), or only action words
_STAMP_TIME = r"\b\d{1,2}[:.]\d{2}\s*(?:[ap]\.?\s?m\b|uhr\b)|\b\d{1,2}:\d{2}\b"
_STAMP_ACTIONS = r"^\W*(?:(?:" + trie_regex(vocab.COMMENT_ACTIONS) + r")(?:\W+|$))+$"
_STAMP_RE = re.compile(f"{_STAMP_TIME}|{_STAMP_ACTIONS}")
#: :data:`_STAMP_RE`'s two parts: it finds a match exactly where the time part does (which
#: needs a ":" or "."), or the action-word part matches at the start (its "^" allows no other
#: place); testing the parts apart skips most of the search
_STAMP_TIME_RE = re.compile(_STAMP_TIME)
_STAMP_ACTIONS_RE = re.compile(_STAMP_ACTIONS)
#: paragraphs longer than this are neither comment headings nor byline lines
COMMENT_HEAD_MAX = 60
STAMP_MAX = 120
#: paragraphs on each side whose byline lines count in ``p_stamp_window``
STAMP_WINDOW = 4
_BULLETS = frozenset("-–—•·*►▶»›>|+~")
_END_PUNCT = frozenset(".!?。！？\"”'’)")
_STOPS = vocab.ALL_STOPWORDS
_TAG_CODES = {t: i for i, t in enumerate(vocab.TAG_ONEHOT)}
_STOP_MAXLEN = max(map(len, _STOPS), default=0)


# -- class/id words ----------------------------------------------------------------
_FAMILIES = tuple(vocab.ATTR_WORDS)
#: a family's long words (at least this long) are counted wherever they occur in a token, its
#: short words only as the whole token
_LONG_WORD = 4
_SHORT = {fam: frozenset(w for w in ws if len(w) < _LONG_WORD) for fam, ws in vocab.ATTR_WORDS.items()}
#: short word -> the families (their index in :data:`_FAMILIES`) whose short words hold it
_SHORT_FAMILIES = {
    w: tuple(j for j, fam in enumerate(_FAMILIES) if w in _SHORT[fam]) for w in set().union(*_SHORT.values())
}


class _Matchers(NamedTuple):
    """The vocabularies as the kernels look them up (objects of one backend)."""

    phrases: object  #: the chrome phrases (``text_kernels.Phrases``)
    stop_set: object  #: the stopwords (``text_kernels.WordSet``)
    families: list  #: each family's long words, in :data:`_FAMILIES` order (``text_kernels.Phrases``)


@functools.cache
def _matchers_of(backend: str) -> _Matchers:
    return _Matchers(
        text_kernels.Phrases(vocab.CHROME_PHRASES),
        text_kernels.WordSet(_STOPS),
        [text_kernels.Phrases([w for w in vocab.ATTR_WORDS[fam] if len(w) >= _LONG_WORD]) for fam in _FAMILIES],
    )


def _matchers() -> _Matchers:
    """The matchers of the kernels in use, made once per backend."""
    return _matchers_of(text_kernels.BACKEND)


def _grown(rows: np.ndarray, size: int) -> np.ndarray:
    """``rows``, doubled (zeros appended) until it holds at least ``size`` rows."""
    while size > len(rows):
        rows = np.vstack([rows, np.zeros_like(rows)])
    return rows


class _TokenTable:
    """Family counts and hash bucket of every class/id token seen, as rows of one matrix.

    Tokens repeat across paragraphs and pages, so each is matched against the
    vocabulary once per process; a paragraph's attribute features are then a
    sum of rows. Started afresh (between pages) once it holds :data:`_CACHE_LIMIT` tokens.
    """

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        self.index: dict[str, int] = {"": 0}
        self.rows = np.zeros((1024, len(_FAMILIES) + buckets))

    def ids(self, tokens: list[str]) -> np.ndarray:
        """The row of each token, new tokens matched and added first."""
        new: list[str] = []
        ids = text_kernels.lookup(tokens, self.index, new)
        if new:
            self._fill(len(self.index) - len(new), new)
        return ids

    def _fill(self, lo: int, new: list[str]) -> None:
        """Rows ``lo:lo + len(new)`` for the tokens ``new`` (already in :attr:`index`): each
        family's words in the token (the short ones as the whole token, the long ones
        anywhere), then a 1 in the column of its hash bucket."""
        self.rows = _grown(self.rows, lo + len(new))
        text_kernels.token_rows(new, self.rows, lo, _matchers().families, _SHORT_FAMILIES, self.buckets)


_TOKEN_TABLES: dict[int, _TokenTable] = {}
_CACHE_LIMIT = 200_000


def _cache_for(caches: dict, buckets: int, limit: int, make):
    """The per-process cache of ``caches`` for ``buckets``, made afresh by ``make(buckets)``
    when there is none yet or it has grown to ``limit`` entries."""
    cache = caches.get(buckets)
    if cache is None or len(cache.index) >= limit:
        cache = caches[buckets] = make(buckets)
    return cache


def _attr_matrix(values: list[str], buckets: int) -> np.ndarray:
    """Per attribute string (space-separated tokens), the summed token rows."""
    table = _cache_for(_TOKEN_TABLES, buckets, _CACHE_LIMIT, _TokenTable)
    uniq: dict[str, int] = {}
    which = np.fromiter((uniq.setdefault(v, len(uniq)) for v in values), dtype=np.int64, count=len(values))
    tokens: list[str] = []
    starts: list[int] = []
    for v in uniq:
        starts.append(len(tokens))
        tokens.extend(v.split() or [""])  # "" is row 0, all zeros
    ids = table.ids(tokens)  # before reading table.rows: new tokens may grow it
    sums = np.add.reduceat(table.rows[ids], starts, axis=0)
    return sums[which]


class _AttrRows:
    """Summed token rows (:func:`_attr_matrix`) of every attribute string seen, as rows of one matrix.

    A page's attribute features are then one dictionary lookup per paragraph and a copy of
    its row into the features (both kernels). The sums are of small integers, so they are
    the same numbers in any order (those of :func:`_attr_matrix`). Started afresh (between
    pages) once it holds :data:`_ATTR_CACHE_LIMIT` strings.
    """

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        self.index: dict[str, int] = {}
        self.rows = np.zeros((1024, len(_FAMILIES) + buckets))

    def ids(self, values: list[str]) -> np.ndarray:
        """The row of each attribute string, the rows of new ones summed first."""
        new: list[str] = []
        ids = text_kernels.lookup(values, self.index, new)
        if new:
            self._fill(len(self.index) - len(new), new)
        return ids

    def _fill(self, lo: int, new: list[str]) -> None:
        """Rows ``lo:lo + len(new)`` for the strings ``new`` (already in :attr:`index`): the
        sums of :func:`_attr_matrix`."""
        self.rows = _grown(self.rows, lo + len(new))
        table = _cache_for(_TOKEN_TABLES, self.buckets, _CACHE_LIMIT, _TokenTable)
        tokens: list[str] = []
        ids, starts = text_kernels.split_lookup(new, table.index, tokens)
        if tokens:
            table._fill(len(table.index) - len(tokens), tokens)
        text_kernels.sum_rows(table.rows, ids, starts, self.rows, lo)


_ATTR_ROWS: dict[int, _AttrRows] = {}
_ATTR_CACHE_LIMIT = 100_000


def _counts(joined: str, lower: str, bits: np.ndarray, starts: np.ndarray, ends: np.ndarray,
            doc: np.ndarray, doc_titles: dict[int, frozenset]) -> np.ndarray:
    """Per paragraph, its characters of each class, sentences, words, stopwords and title words
    (``text_kernels.text_counts``: a matrix of integers).

    ``lower`` is ``joined`` with each text lowercased. Where no character changed length
    and there is no capital sigma (the one letter whose lowercase depends on what
    follows), a word of ``lower`` is the lowercased word of ``joined``.
    """
    aligned = len(lower) == len(joined) and "\u03a3" not in joined
    maxlen = max([_STOP_MAXLEN, *(len(w) for t in doc_titles.values() for w in t)]) if aligned else -1
    return text_kernels.text_counts(
        bits, starts, ends, _B_LETTER | _B_NUMBER, _B_SENT_END, _B_SPACE,
        lower if aligned else joined, not aligned, doc, _STOPS, doc_titles, maxlen, _matchers().stop_set,
    )


#: the class counts text_rows reads, as columns of the counts
_TEXT_CLASSES = np.array(
    [_BIT_NAMES[c].bit_length() - 1 for c in ("letters", "numbers", "upper", "punct", "cjk", "zh_stop", "separators")],
    dtype=np.int64,
)


def _text_rows(joined: str, lower: str, bits: np.ndarray, starts: np.ndarray, ends: np.ndarray, doc: np.ndarray,
               doc_titles: dict[int, frozenset], chars: np.ndarray, f: _Rows) -> None:
    """The :data:`_TEXT_FEATURES` of each paragraph (``chars`` long) into ``f``."""
    m = _counts(joined, lower, bits, starts, ends, doc, doc_titles)
    text_kernels.text_rows(m, _TEXT_CLASSES, chars, f.out, f.rows(_TEXT_FEATURES))


#: the characters a comment heading (:data:`_COMMENT_HEAD_RE`) can start with besides a digit
#: (the count's), and end with besides a digit or a space: the count's brackets, the closing
#: punctuation, the first and last characters of the heading words
_HEAD_EDGES = (
    "".join(sorted({w[0] for w in vocab.COMMENT_HEADS if w} | set("(["))),
    "".join(sorted({w[-1] for w in vocab.COMMENT_HEADS if w} | set(":»›>.!)]"))),
)
#: the first and last characters of the comment action words (:data:`_STAMP_ACTIONS`)
_ACTION_EDGES = (
    "".join(sorted({w[0] for w in vocab.COMMENT_ACTIONS if w})),
    "".join(sorted({w[-1] for w in vocab.COMMENT_ACTIONS if w})),
)


def _comment_rows(lower_texts: list[str], f: _Rows) -> None:
    """``t_comment_head`` (a comment-section heading) and ``t_stamp`` (a byline or action line)
    of each (lowercased) text into ``f``."""
    text_kernels.comment_rows(
        lower_texts, COMMENT_HEAD_MAX, _COMMENT_HEAD_RE.fullmatch, *_HEAD_EDGES, STAMP_MAX, _STAMP_TIME_RE.search,
        _STAMP_ACTIONS_RE.match, *_ACTION_EDGES, f.out, f.at["t_comment_head"], f.at["t_stamp"],
    )


#: the features of :func:`_row_flags`, in its order
_FLAG_FEATURES = ("t_starts_bullet", "t_ends_punct", "t_ends_colon", "t_has_url", "t_is_title", "t_is_h1")
#: outputs of at most this many paragraphs are row-major, bigger ones column-major
DIRECT_ROWS = 4096
#: (feature names, row of each) per (neighbours, hash_buckets): :meth:`FeatureComputer._layout`
_LAYOUTS: dict[tuple[int, int], tuple[list[str], dict[str, int]]] = {}


class _Rows:
    """The feature matrix being filled, one row per feature (``at``: name -> row).

    ``f[name]`` is the feature's row (a view), ``f[name] = values`` writes it, and
    :meth:`block` is the rows of consecutive features, for the code that fills several at once.
    """

    __slots__ = ("out", "at")

    def __init__(self, out: np.ndarray, at: dict[str, int]) -> None:
        self.out = out
        self.at = at

    def __getitem__(self, name: str) -> np.ndarray:
        return self.out[self.at[name]]

    def __setitem__(self, name: str, values) -> None:
        self.out[self.at[name]] = values

    def block(self, first: str, k: int) -> np.ndarray:
        """The rows of ``first`` and the ``k - 1`` features after it."""
        j = self.at[first]
        return self.out[j:j + k]

    def rows(self, names) -> np.ndarray:
        """The row of each of ``names``."""
        return np.fromiter(map(self.at.__getitem__, names), dtype=np.int64, count=len(names))


#: the numeric columns the features read, as floats (:func:`_float_columns`)
_NUM_COLUMNS = ("position", "depth", "n_links", "link_chars", "block_id", "anc1", "anc2", "anc3", *_FLAGS)


#: the rows of :func:`_float_columns`' matrix that ``text_kernels.structure_rows`` reads
_STRUCT_NUM_ROWS = np.array(
    [_NUM_COLUMNS.index(c) for c in ("depth", "n_links", "link_chars", *_FLAGS)], dtype=np.int64
)


def _float_columns(cols: dict) -> dict[str, np.ndarray]:
    """The columns of :data:`_NUM_COLUMNS` (lists or arrays) as float arrays: the rows of one
    matrix, ``"_matrix"``."""
    m = text_kernels.float_rows([cols[c] for c in _NUM_COLUMNS])
    out = dict(zip(_NUM_COLUMNS, m, strict=True))
    out["_matrix"] = m
    return out


def _row_flags(texts: list[str], lower_texts: list[str], title: list[str], h1: list[str]) -> np.ndarray:
    """Per paragraph: starts with a bullet, ends with punctuation, ends with a colon, has a
    URL, is the title, is the h1 (the columns of a matrix)."""
    return text_kernels.row_flags(
        texts, lower_texts, title, h1, "".join(_BULLETS), "".join(_END_PUNCT), _URL_RE.search
    )


#: (id of fitted names, id of layout) -> (the fitted names array, as a list, its order in the
#: layout): :meth:`FeatureComputer._order`; the array is held, so its id is not reused
_ORDERS: dict[tuple[int, int], tuple] = {}


def _doc_bounds(doc: np.ndarray) -> np.ndarray:
    """Where each document's rows start, then the number of rows (``doc`` grouped by document)."""
    n = len(doc)
    if not n or not (doc != doc[0]).any():  # one document (or none)
        return np.array([0, n])
    return np.concatenate(([0], np.flatnonzero(np.diff(doc)) + 1, [n]))


class FeatureComputer:
    """The feature computation of :class:`~chromesift.features.transformer.ParagraphFeatures`,
    without scikit-learn: paragraph columns -> the feature matrix.

    The estimator is this class with scikit-learn's estimator API around it (it keeps
    its pickled attributes, so bundles load as before); a packed model
    (:mod:`chromesift.models.packed`) makes one straight from the parameters a bundle's
    ``model.npz`` holds, so predicting needs neither scikit-learn nor pandas.

    Parameters
    ----------
    neighbours, hash_buckets, conventions, convention, lexicon, text_convention
        As :class:`~chromesift.features.transformer.ParagraphFeatures` takes them.
    feature_names : sequence of str or None, default=None
        The fitted order of the output columns; None: this version's own order.
    """

    def __init__(self, neighbours: int = 2, hash_buckets: int = 8, conventions: dict | None = None,
                 convention: float = 0.0, feature_names=None, lexicon: dict | None = None,
                 text_convention: float | None = None):
        self.neighbours = neighbours
        self.hash_buckets = hash_buckets
        self.conventions = conventions
        self.convention = convention
        self.lexicon = lexicon
        self.text_convention = text_convention
        self.feature_names_out_ = np.asarray(self._names() if feature_names is None else list(feature_names),
                                             dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)

    def _check_fitted(self) -> None:
        if "feature_names_out_" not in self.__dict__:
            raise ValueError(f"this {type(self).__name__} has no feature names yet (not fitted)")



    def transform_columns(self, cols: dict, doc: np.ndarray | None = None) -> np.ndarray:
        """The feature matrix (columns in :meth:`get_feature_names_out` order) of paragraph columns.

        ``cols`` maps column names of the paragraph table to lists (strings) or arrays,
        rows grouped by document and in position order within each; ``_group`` may
        hold integer site codes. ``doc`` holds integer document codes (None: one page).
        This is the prediction fast path: no DataFrame is built.
        """
        self._check_fitted()
        n = len(cols["text"])
        if n == 0:
            return np.zeros((0, self.n_features_out_))
        doc = np.zeros(n, dtype=np.int64) if doc is None else np.asarray(doc, dtype=np.int64)
        layout, at = self._layout()
        # the features are computed in _names() order: the fitted order, unless another
        # version of this class fitted it (then they are put in its order)
        names, perm = self._order(layout, at)
        # up to DIRECT_ROWS rows (a few pages) row-major, the features written down its columns
        # (one page's matrix stays in cache either way); beyond, column-major: each feature's
        # values consecutive, no transposing copy here, and none where the classifier (whose
        # trees read column by column) takes the matrix
        out = np.empty((n, len(names)), order="C" if n <= DIRECT_ROWS else "F")
        bounds = _doc_bounds(doc)
        lo = 0
        while lo < n:
            # whole documents, about CHUNK_ROWS paragraphs (more when one page is bigger)
            hi = int(bounds[np.searchsorted(bounds, lo + CHUNK_ROWS, side="right") - 1])
            if hi <= lo:
                hi = int(bounds[np.searchsorted(bounds, lo, side="right")])
            # each feature is a row of ``rows``: the columns of ``out`` itself, or, where the
            # fitted order is another, a matrix of its own put in that order
            rows = out[lo:hi].T if perm is None else np.empty((len(layout), hi - lo))
            part = cols if lo == 0 and hi == n else {c: v[lo:hi] for c, v in cols.items()}
            self._compute(part, doc[lo:hi], _Rows(rows, at))
            if perm is not None:
                out[lo:hi] = rows[perm].T
            lo = hi
        return out

    def _order(self, layout: list[str], at: dict[str, int]) -> tuple[list[str], list[int] | None]:
        """The fitted names and the position in ``layout`` of each (None where they are the
        layout), worked out once per fitted names and layout."""
        fitted = self.feature_names_out_
        key = (id(fitted), id(layout))
        known = _ORDERS.get(key)
        if known is None or known[0] is not fitted:
            names = list(fitted)
            known = _ORDERS[key] = (fitted, names, None if names == layout else [at[c] for c in names])
            if len(_ORDERS) > 64:  # (feature stages made and dropped over and over)
                _ORDERS.clear()
                _ORDERS[key] = known
        return known[1], known[2]

    # -- names -----------------------------------------------------------------
    def _layout(self) -> tuple[list[str], dict[str, int]]:
        """:meth:`_names` and the position of each name in it (made once per parameters)."""
        key = (self.neighbours, self.hash_buckets, self._with_convention(), self._with_lexicon())
        layout = _LAYOUTS.get(key)
        if layout is None:
            names = self._names()
            layout = _LAYOUTS[key] = (names, {c: j for j, c in enumerate(names)})
        return layout

    def _names(self) -> list[str]:
        names = [
            "t_chars", "t_log_chars", "t_words", "t_cjk", "t_cjk_ratio", "t_mean_word_len",
            "t_sentences", "t_mean_sentence_len", "t_digit_ratio", "t_upper_ratio",
            "t_punct_ratio", "t_starts_bullet", "t_ends_punct", "t_ends_colon", "t_separators",
            "t_has_date", "t_has_url", "t_text_density", "t_stop_density", "t_zh_stop_ratio",
            "t_chrome_phrases", "t_title_overlap", "t_is_title", "t_is_h1",
            "t_comment_head", "t_stamp",
        ]
        names += ["s_tag", "s_tag_p", "s_tag_li", "s_tag_heading"]
        names += ["s_depth", "s_links", "s_link_density", "s_is_html"]
        names += [f"s_{f}" for f in _FLAGS]
        names += [f"s_own_{f}" for f in vocab.ATTR_WORDS] + [f"s_anc_{f}" for f in vocab.ATTR_WORDS]
        names += [f"s_own_hash{i}" for i in range(self.hash_buckets)]
        names += [f"s_anc_hash{i}" for i in range(self.hash_buckets)]
        names += ["s_path_repeat", "s_path_len"]
        for lvl in ("block", "cont1", "cont2", "cont3"):
            names += [f"s_{lvl}_share", f"s_{lvl}_paras", f"s_{lvl}_link_density"]
        names += [
            "p_paragraphs", "p_page_chars", "p_rel_pos", "p_from_end", "p_from_start",
            "p_rank", "p_zscore", "p_before_share", "p_dist_longest", "p_dist_h1",
            "p_window_share", "p_long_share_after", "p_comment_head_at", "p_stamp_window",
        ]
        for k in range(1, self.neighbours + 1):
            for side in ("prev", "next"):
                names += [f"n_{side}{k}_{b}" for b in NEIGHBOUR_BASE]
        if self._with_lexicon():
            names.append("x_lex")
        if self._with_convention():
            names.append("k_convention")
        names += list(BOOKKEEPING)
        return names

    def _with_lexicon(self) -> bool:
        # (pickles of chromesift before the lexicon have no such attribute)
        return getattr(self, "lexicon", None) is not None

    def _with_convention(self) -> bool:
        # (pickles of chromesift before conventions have neither attribute)
        return bool(getattr(self, "conventions", None))

    def _convention_values(self, cols: dict, n: int) -> np.ndarray:
        """``k_convention`` of each row: its corpus's number where known, else ``cols["_convention"]``
        (a call's own reading, one value a row: see ``Model.predict_columns``) where given, else
        :attr:`convention`; a row of plain text has :attr:`text_convention` instead, where that is set."""
        default = float(getattr(self, "convention", 0.0))
        names = cols.get("dataset")
        if names is not None:
            table = self.conventions
            out = np.array([float(table.get(d, default)) for d in names])
        elif cols.get("_convention") is not None:
            out = np.array(cols["_convention"], dtype=float)
        else:
            out = np.full(n, default)
        text = getattr(self, "text_convention", None)
        if text is not None and "text" in cols["source"]:
            out[np.array([s == "text" for s in cols["source"]], dtype=bool)] = float(text)
        return out


    # -- computation -------------------------------------------------------------
    def _compute(self, cols: dict, doc: np.ndarray, f: _Rows) -> None:
        texts: list[str] = cols["text"]
        n = len(texts)
        joined, starts, ends = _joined(texts)
        bits = _classes(joined)
        chars = (ends - starts).astype(float)
        lower_texts = [t.lower() for t in texts]
        lower, lstarts, _ = _joined(lower_texts)
        # similarity to the page title: share of the words that occur in the title
        title: list[str] = cols["page_title"]
        h1: list[str] = cols["page_h1"]
        first_rows = _doc_bounds(doc)[:-1]
        doc_titles = {
            int(doc[r]): frozenset(t for t in _TITLE_SPLIT.split(title[r].lower()) if t)
            for r in first_rows.tolist()
        }
        _text_rows(joined, lower, bits, starts, ends, doc, doc_titles, chars, f)
        # computed on its own (contiguous) array: numpy may take another loop, maybe another
        # rounding, for a strided one
        log_chars = np.log1p(chars)
        f["t_log_chars"] = log_chars
        f.out[f.rows(_FLAG_FEATURES)] = _row_flags(texts, lower_texts, title, h1).T
        f["t_has_date"] = text_kernels.date_flags(joined, starts, n)
        f["t_chrome_phrases"] = _matchers().phrases.count(lower, lstarts, n)
        _comment_rows(lower_texts, f)

        num = _float_columns(cols)
        self._structure(cols, num, doc, chars, f)
        self._position(doc, chars, f)
        self._neighbours(doc, f)
        if self._with_lexicon():
            f["x_lex"] = lexicon.scores(self.lexicon, lower_texts, cols["own_attrs"], cols["anc_attrs"],
                                        cols["path"])
        if self._with_convention():
            f["k_convention"] = self._convention_values(cols, n)
        f["_doc"] = doc
        f["_pos"] = num["position"]
        group = cols.get("_group")
        f["_group"] = doc if group is None else np.asarray(group, dtype=float)
        f["_anc1"] = num["anc1"]
        f["_anc2"] = num["anc2"]
        f["_block"] = num["block_id"]

    def _structure(self, cols: dict, num: dict, doc: np.ndarray, chars: np.ndarray, f: _Rows) -> None:
        nan_text = text_kernels.structure_rows(
            cols["source"], cols["tag"], cols["path"], doc, _TAG_CODES, len(_TAG_CODES), chars, num["_matrix"],
            _STRUCT_NUM_ROWS, f.out, f.at["s_tag"], f.at["s_path_repeat"],
        )
        nf = len(_FAMILIES)
        cache = _cache_for(_ATTR_ROWS, self.hash_buckets, _ATTR_CACHE_LIMIT, _AttrRows)
        for name in ("own", "anc"):
            ids = cache.ids(cols[f"{name}_attrs"])  # before reading rows: new strings may grow it
            hash0 = f.at[f"s_{name}_hash0"] if self.hash_buckets else 0
            text_kernels.take_rows(cache.rows, ids, nan_text, f.out, f.at[f"s_{name}_{_FAMILIES[0]}"], nf, hash0)
        self._containers(num, doc, chars, num["link_chars"], nan_text, f)

    @staticmethod
    def _containers(num: dict, doc: np.ndarray, chars: np.ndarray, link_chars: np.ndarray, nan_text: np.ndarray,
                    f: _Rows | dict) -> None:
        """Share of the page's text, paragraphs and link density of each paragraph's block and
        ancestor containers (the paragraphs of its document with the same id)."""
        levels = (("block", "block_id"), ("cont1", "anc1"), ("cont2", "anc2"), ("cont3", "anc3"))
        ids = np.array([num[col] for _, col in levels]).astype(np.int64)
        if isinstance(f, _Rows):  # straight into the rows of the features (consecutive in _names)
            text_kernels.container_rows(doc, chars, link_chars, ids, nan_text, out=f.block("s_block_share", 3 * len(levels)))
            return
        m = text_kernels.container_rows(doc, chars, link_chars, ids, nan_text)
        for k, (lvl, _) in enumerate(levels):
            f[f"s_{lvl}_share"], f[f"s_{lvl}_paras"], f[f"s_{lvl}_link_density"] = m[3 * k:3 * k + 3]

    def _position(self, doc: np.ndarray, chars: np.ndarray, f: _Rows | dict) -> None:
        args = (doc, chars, f["t_log_chars"], f["t_is_h1"], f["t_comment_head"], f["t_stamp"], STAMP_WINDOW)
        columns = text_kernels.POSITION_COLUMNS
        if isinstance(f, _Rows):  # straight into the rows of the features (consecutive in _names)
            text_kernels.position_rows(*args, out=f.block(columns[0], len(columns)))
        else:
            f.update(zip(columns, text_kernels.position_rows(*args), strict=True))

    def _neighbours(self, doc: np.ndarray, f: _Rows) -> None:
        shifts = [(side, k, shift) for k in range(1, self.neighbours + 1) for side, shift in (("prev", k), ("next", -k))]
        if not shifts:
            return
        # the neighbour features are consecutive in _names: shift by shift, base by base
        side, k, _ = shifts[0]
        first = f"n_{side}{k}_{NEIGHBOUR_BASE[0]}"
        shift_of = np.array([shift for _, _, shift in shifts], dtype=np.int64)
        text_kernels.neighbour_rows(doc, f.out, f.rows(NEIGHBOUR_BASE), shift_of, f.at[first])
