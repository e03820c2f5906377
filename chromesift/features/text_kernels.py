"""The kernels of the feature computation: compiled, or the Python references here.

The per-word and per-row loops of :mod:`chromesift.features.transformer`: character and
word counts (:func:`text_counts`) and the text features made of them (:func:`text_rows`),
phrase and date matches (:class:`Phrases`, :func:`date_flags`), row flags and comment
lines (:func:`row_flags`, :func:`comment_rows`), the structure, container, position and
neighbour features (:func:`structure_rows`, :func:`container_rows`, :func:`position_rows`,
:func:`neighbour_rows`), the class/id word rows and their cache (:func:`lookup`,
:func:`split_lookup`, :func:`token_rows`, :func:`sum_rows`, :func:`take_rows`), the
numeric columns as one matrix (:func:`float_rows`) and the lexicon's tokens and scores
(:func:`lex_tokens`, :func:`lex_scores`). The transformer passes its
vocabularies as arguments.

Where the optional extension :mod:`chromesift.features._text` is built (and its column
layouts are this module's), they are its, in C; else the Python references below (numpy).
The same numbers either way: counts are integers, and the float operations and sums are
the same, in the same order. The choice is made once, at import: :data:`BACKEND` tells
which ("compiled" or "python"), and the environment variable ``CHROMESIFT_PURE_PYTHON=1``
(read at import) forces the references. :func:`use` switches the backend (for the tests
that compare the two); objects a backend made (:class:`Phrases`, :class:`WordSet`) are
its own.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from chromesift.data.util import bind_kernels, load_compiled

#: the kernels: compiled or Python, chosen once (:func:`use`)
KERNELS = (
    "Phrases", "WordSet", "text_counts", "text_rows", "date_flags", "row_flags", "comment_rows",
    "neighbour_rows", "structure_rows", "lookup", "split_lookup", "token_rows", "sum_rows", "take_rows",
    "float_rows", "position_rows", "container_rows", "lex_tokens", "lex_scores", "char_classes",
)
#: columns of :func:`text_counts` after the nine class bits
SENTENCES, WORDS, STOPWORDS, TITLE_WORDS = 9, 10, 11, 12
#: the features :func:`text_rows` gives, in order
TEXT_COLUMNS = (
    "t_chars", "t_words", "t_cjk", "t_cjk_ratio", "t_mean_word_len", "t_sentences", "t_mean_sentence_len",
    "t_digit_ratio", "t_upper_ratio", "t_punct_ratio", "t_separators", "t_text_density", "t_stop_density",
    "t_zh_stop_ratio", "t_title_overlap",
)
#: the features :func:`position_rows` gives, in order
POSITION_COLUMNS = (
    "p_paragraphs", "p_page_chars", "p_rel_pos", "p_from_end", "p_from_start", "p_rank", "p_zscore",
    "p_before_share", "p_dist_longest", "p_dist_h1", "p_window_share", "p_long_share_after",
    "p_comment_head_at", "p_stamp_window",
)
#: what :func:`date_flags` finds (the compiled one matches it by hand)
DATE_RE = re.compile(r"\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b|\b(?:19|20)\d\d\b", re.ASCII)
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))


def trie_regex(words) -> str:
    """One regex matching any of ``words``, longest first, with common prefixes shared.

    An alternation of many literals makes Python's ``re`` try every branch at every
    position; a trie tries one branch per character.
    """
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:  # the shorter word ends here: try the longer ones first
            body = (body if len(branches) == 1 and len(branches[0]) == 1 else f"(?:{body})") + "?"
        return body

    return emit(trie)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` where ``b > 0``, else 0."""
    return np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0)


def _segment_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per segment ``starts[r]:ends[r]``, the sum of ``values`` (integers)."""
    cs = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=cs[1:])
    return cs[ends] - cs[starts]


def regex_counts(rx: re.Pattern, s: str, starts: np.ndarray, n: int) -> np.ndarray:
    """Non-overlapping matches of ``rx`` per paragraph (``starts``: paragraph offsets in ``s``;
    matches never cross the separators), as floats."""
    pos = [m.start() for m in rx.finditer(s)]
    if not pos:
        return np.zeros(n)
    para = np.searchsorted(starts, np.asarray(pos), side="right") - 1
    return np.bincount(para, minlength=n).astype(float)


# --- the Python references of the kernels ---------------------------------------------------


class Phrases:
    """Non-overlapping occurrences of a set of literal words, leftmost and longest first: the
    matches of their :func:`trie_regex` (none for no words)."""

    def __init__(self, words) -> None:
        uniq = sorted({w for w in words if w})
        self._rx = re.compile(trie_regex(uniq)) if uniq else None

    def count(self, s: str, starts: np.ndarray, n: int) -> np.ndarray:
        """Matches per paragraph (``starts``: paragraph offsets in ``s``), as floats."""
        if self._rx is None:
            return np.zeros(n)
        return regex_counts(self._rx, s, np.asarray(starts), n)


class WordSet(frozenset):
    """A set of words (the compiled one looks words up in place, without making strings)."""


def text_counts(bits: np.ndarray, starts: np.ndarray, ends: np.ndarray, alnum: int, sent_end: int, space: int,
                src: str, lower_each: bool, para_doc: np.ndarray, stops: frozenset, doc_titles: dict,
                maxlen: int, stop_set: WordSet | None = None) -> np.ndarray:
    """Per paragraph (row), counts of its characters and words (columns, integers).

    Columns 0-8: characters with class bit 0-8 set (``bits``: class bits of the joined
    texts, paragraph ``r`` at ``starts[r]:ends[r]``, paragraphs apart by a character
    that is not ``alnum``); :data:`SENTENCES`: sentence ends (a run of ``sent_end``
    characters followed by a ``space`` one, or by the end); :data:`WORDS`: runs of
    ``alnum`` characters; :data:`STOPWORDS` and :data:`TITLE_WORDS`: words in ``stops``
    and in the document's title words (``doc_titles[para_doc[r]]``). A word is
    ``src[i:j]``, lowercased where ``lower_each`` is set (else ``src`` is the lowercased
    text already); words longer than ``maxlen`` (>= 0) are in neither set. ``stop_set``
    (``stops`` as a :class:`WordSet`) is the compiled kernel's shortcut.
    """
    bits = np.asarray(bits)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    n = len(starts)
    out = np.zeros((n, 13), dtype=np.int64)
    for k in range(9):
        out[:, k] = _segment_sums((bits & (1 << k)) != 0, starts, ends)
    is_alnum = (bits & alnum) != 0
    prev = np.r_[False, is_alnum[:-1]]
    nxt = np.r_[is_alnum[1:], False]
    w_starts = np.flatnonzero(is_alnum & ~prev)
    w_ends = np.flatnonzero(is_alnum & ~nxt) + 1
    w_para = np.searchsorted(starts, w_starts, side="right") - 1
    out[:, WORDS] = np.bincount(w_para, minlength=n)
    words = [src[a:b] for a, b in zip(w_starts.tolist(), w_ends.tolist(), strict=True)]
    if lower_each:
        words = [w.lower() for w in words]
    if maxlen >= 0:
        fits = [len(w) <= maxlen for w in words]
    else:
        fits = [True] * len(words)
    is_stop = np.fromiter((ok and w in stops for w, ok in zip(words, fits, strict=True)), dtype=bool, count=len(words))
    out[:, STOPWORDS] = np.bincount(w_para[is_stop], minlength=n)
    if any(doc_titles.values()) and words:
        w_doc = np.asarray(para_doc)[w_para].tolist()
        in_title = np.fromiter(
            (ok and w in doc_titles[d] for w, d, ok in zip(words, w_doc, fits, strict=True)),
            dtype=bool, count=len(words),
        )
        out[:, TITLE_WORDS] = np.bincount(w_para[in_title], minlength=n)
    end_mark = (bits & sent_end) != 0
    follow = np.r_[bits[1:], np.array([space], dtype=bits.dtype)]
    sent = end_mark & ((follow & sent_end) == 0) & ((follow & space) != 0)
    out[:, SENTENCES] = _segment_sums(sent, starts, ends)
    return out


def text_rows(counts: np.ndarray, cls: np.ndarray, length: np.ndarray, out: np.ndarray, dest: np.ndarray) -> None:
    """The :data:`TEXT_COLUMNS` of each paragraph (row of :func:`text_counts`' ``counts``) into
    the rows ``dest`` of ``out``: a ratio is ``a / b`` where ``b > 0``, else 0. ``length``:
    the characters of each paragraph; ``cls``: the columns of the letters, numbers, upper
    case, punctuation, CJK, Chinese function characters and separators."""
    c = np.asarray(counts).astype(float)
    letters, numbers, upper, punct, cjk, zh_stop, seps = (c[:, j] for j in cls)
    chars = np.asarray(length, dtype=float)
    sentences, words, stops, in_title = c[:, SENTENCES], c[:, WORDS], c[:, STOPWORDS], c[:, TITLE_WORDS]
    tokens = words + cjk
    values = (
        chars, tokens, cjk, _div(cjk, chars), _div(letters - cjk, words), sentences,
        tokens / np.maximum(sentences, 1), _div(numbers, chars), _div(upper, letters),
        _div(punct, chars), seps, tokens / np.maximum(np.ceil(chars / 80.0), 1),
        _div(stops, words), _div(zh_stop, cjk), _div(in_title, words),
    )
    for row, v in zip(np.asarray(dest).tolist(), values, strict=True):
        out[row] = v


def date_flags(s: str, starts: np.ndarray, n: int) -> np.ndarray:
    """1.0 where a paragraph holds a match of :data:`DATE_RE`, else 0.0."""
    return np.minimum(regex_counts(DATE_RE, s, np.asarray(starts), n), 1)


def row_flags(texts: list[str], lower_texts: list[str], title: list[str], h1: list[str], bullets: str,
              end_punct: str, url_search: Callable) -> np.ndarray:
    """Per paragraph: starts with a bullet, ends with punctuation, ends with a colon, has a
    URL (``url_search`` of the lowercased text), is the title, is the h1 (columns of a float matrix)."""
    n = len(texts)
    return np.column_stack([
        np.fromiter((bool(t) and t[0] in bullets for t in texts), dtype=float, count=n),
        np.fromiter((bool(t) and t[-1] in end_punct for t in texts), dtype=float, count=n),
        np.fromiter((t[-1:] in (":", "：") for t in texts), dtype=float, count=n),
        np.fromiter(
            (("http" in t or "www." in t or "@" in t) and url_search(t) is not None for t in lower_texts),
            dtype=float, count=n,
        ),
        np.fromiter(
            (bool(t) and (t == ti or (len(t) > 15 and t in ti)) for t, ti in zip(texts, title, strict=True)),
            dtype=float, count=n,
        ),
        np.fromiter((bool(t) and t == hh for t, hh in zip(texts, h1, strict=True)), dtype=float, count=n),
    ]).reshape(n, 6)


def comment_rows(lower_texts: list[str], head_max: int, head_fullmatch: Callable, head_first: str, head_last: str,
                 stamp_max: int, time_search: Callable, actions_match: Callable, action_first: str,
                 action_last: str, out: np.ndarray, head_row: int, stamp_row: int) -> None:
    """Into the rows ``head_row`` and ``stamp_row`` of ``out``: 1.0 where a (lowercased) text no
    longer than ``head_max`` is a comment heading (``head_fullmatch``), and where one no
    longer than ``stamp_max`` has a time of day (``time_search``, which needs a ":" or ".")
    or is action words (``actions_match``), else 0.0. The edge characters (``head_first``
    ...) are the compiled kernel's prefilters."""
    n = len(lower_texts)
    out[head_row] = np.fromiter(
        (len(t) <= head_max and head_fullmatch(t) is not None for t in lower_texts), dtype=float, count=n
    )
    out[stamp_row] = np.fromiter(
        (
            len(t) <= stamp_max
            and ((("." in t or ":" in t) and time_search(t) is not None) or actions_match(t) is not None)
            for t in lower_texts
        ),
        dtype=float, count=n,
    )


def neighbour_rows(doc: np.ndarray, out: np.ndarray, base: np.ndarray, shifts: np.ndarray, dest: int) -> None:
    """For shift ``s`` and base feature ``j`` (row ``base[j]`` of ``out``), row
    ``dest + s * len(base) + j`` of ``out`` holds the base feature of the row ``shifts[s]``
    before (negative: after) in the same document, NaN where there is none."""
    n, nb, ns = len(doc), len(base), len(shifts)
    values = np.array(out[np.asarray(base)], dtype=float).T
    # all shifts at once: row i, shift s reads row src[i, s] of its own document
    src = np.arange(n)[:, None] - np.asarray(shifts, dtype=np.int64)
    ok = (src >= 0) & (src < n)
    src_c = np.clip(src, 0, n - 1)
    ok &= doc[src_c] == doc[:, None]
    vals = np.where(ok[:, :, None], values[src_c], np.nan)
    out[dest:dest + ns * nb] = vals.reshape(n, -1).T


def structure_rows(source: list[str], tags: list[str], paths: list[str], doc: np.ndarray, codes: dict, other: int,
                   chars: np.ndarray, num: np.ndarray, num_rows: np.ndarray, out: np.ndarray, first: int,
                   path_row: int) -> np.ndarray:
    """The structure features besides the class/id words and the containers, into the rows of
    ``out``; returns ``nan_text`` (1.0 for a paragraph from HTML, else NaN).

    Rows ``first`` on: tag code (``codes``, else ``other``), tag is p, li, a heading
    (h1-h6), depth, links, link density (link characters over ``chars``, 0 where there
    are none), whether from HTML, then the flags; rows ``path_row`` and ``path_row + 1``:
    the share of the document's paragraphs with the same path, and the number of ``/`` in
    the path. All but the HTML one times ``nan_text``. Depth, links, link characters and
    the flags are the rows ``num_rows`` of ``num``, in that order.
    """
    n = len(tags)
    is_html = np.fromiter((s == "html" for s in source), dtype=bool, count=n)
    rows = np.column_stack([
        np.fromiter((codes.get(t, other) for t in tags), dtype=float, count=n),
        np.fromiter((t == "p" for t in tags), dtype=float, count=n),
        np.fromiter((t == "li" for t in tags), dtype=float, count=n),
        np.fromiter((t in _HEADINGS for t in tags), dtype=float, count=n),
        np.fromiter((p.count("/") for p in paths), dtype=float, count=n),
    ]).reshape(n, 5)
    seen: dict = {}
    path_codes = np.fromiter(
        (seen.setdefault((d, p), len(seen)) for d, p in zip(np.asarray(doc).tolist(), paths, strict=True)),
        dtype=np.int64, count=n,
    )
    nan_text = np.where(is_html, 1.0, np.nan)
    if n == 0:
        return nan_text
    num_rows = np.asarray(num_rows)
    depth, links, link_chars = (num[j] for j in num_rows[:3])
    # (rows of consecutive features are written at once; the products are those of a
    # matrix times nan_text[:, None])
    np.multiply(rows[:, :4].T, nan_text, out=out[first:first + 4])  # tag code, p, li, heading
    np.multiply(depth, nan_text, out=out[first + 4])
    np.multiply(links, nan_text, out=out[first + 5])
    np.multiply(_div(link_chars, chars), nan_text, out=out[first + 6])
    out[first + 7] = is_html
    flags = num[num_rows[3:]]
    np.multiply(flags, nan_text, out=out[first + 8:first + 8 + len(flags)])
    doc = np.asarray(doc)
    n_doc = np.bincount(doc - doc.min())[doc - doc.min()].astype(float)
    np.multiply(_div(np.bincount(path_codes)[path_codes].astype(float), n_doc), nan_text, out=out[path_row])
    np.multiply(rows[:, 4], nan_text, out=out[path_row + 1])
    return nan_text


def lookup(values: list, index: dict, new: list) -> np.ndarray:
    """Row of each value in ``index``; unseen values get the next rows and are appended to ``new``."""
    ids = np.empty(len(values), dtype=np.int64)
    for r, v in enumerate(values):
        i = index.get(v)
        if i is None:
            i = index[v] = len(index)
            new.append(v)
        ids[r] = i
    return ids


def split_lookup(values: list[str], index: dict, new: list) -> tuple[np.ndarray, np.ndarray]:
    """The tokens of each value (``value.split()``, ``[""]`` for none) looked up as :func:`lookup`
    does: (row of each token, the offset of each value's first token and the count at the end)."""
    tokens: list[str] = []
    starts = np.empty(len(values) + 1, dtype=np.int64)
    for r, v in enumerate(values):
        starts[r] = len(tokens)
        tokens.extend(v.split() or [""])
    starts[len(values)] = len(tokens)
    return lookup(tokens, index, new), starts


def token_rows(tokens: list[str], rows: np.ndarray, lo: int, families: list, short_families: dict,
               buckets: int) -> None:
    """Rows ``lo:lo + len(tokens)`` of ``rows`` for ``tokens``: column ``j`` the token's words of
    family ``j`` (1 if it is one of the family's short words, plus the matches of its long
    words, ``families[j]``: a :class:`Phrases`), then a 1 in the column of its hash bucket
    (``zlib.crc32`` of its UTF-8 bytes, mod ``buckets``; none where ``buckets`` is 0)."""
    nf = len(families)
    at = np.zeros(1, dtype=np.int64)
    for r, t in enumerate(tokens):
        v = rows[lo + r]
        v[:] = 0.0
        for j in short_families.get(t, ()):
            v[j] = 1.0
        if buckets:  # (no hash columns where there are no buckets)
            v[nf + zlib.crc32(t.encode("utf-8")) % buckets] = 1.0
        for j, phrases in enumerate(families):
            v[j] += phrases.count(t, at, 1)[0]


def sum_rows(table: np.ndarray, ids: np.ndarray, starts: np.ndarray, out: np.ndarray, lo: int) -> None:
    """Row ``lo + r`` of ``out``: the sum of the rows ``ids[starts[r]:starts[r + 1]]`` (at least
    one) of ``table`` (sums of small integers: exact in any order)."""
    n = len(starts) - 1
    if n > 0:
        out[lo:lo + n] = np.add.reduceat(table[np.asarray(ids)], np.asarray(starts[:-1]), axis=0)


def take_rows(rows: np.ndarray, ids: np.ndarray, scale: np.ndarray, out: np.ndarray, first: int, split: int,
              second: int) -> None:
    """``rows[ids] * scale[:, None]``, transposed, into ``out``: column ``j`` of ``rows`` to row
    ``first + j`` of ``out`` for ``j < split``, to row ``second + j - split`` after."""
    m = rows[np.asarray(ids)] * np.asarray(scale)[:, None]
    out[first:first + split] = m[:, :split].T
    out[second:second + m.shape[1] - split] = m[:, split:].T


def char_classes(s: str, table: np.ndarray, astral: Callable[[int], int]) -> np.ndarray:
    """The class bits of each character of ``s`` (uint16): ``table[code point]`` in the Basic
    Multilingual Plane (``table`` has an entry for each of its code points), ``astral(code
    point)`` beyond it."""
    cp = np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    bits = table[np.minimum(cp, 0xFFFF)]
    for i in np.flatnonzero(cp > 0xFFFF).tolist():
        bits[i] = astral(int(cp[i]))
    return bits


def float_rows(columns: list) -> np.ndarray:
    """The columns (lists or arrays of numbers, equally long) as the rows of a float matrix."""
    out = np.empty((len(columns), len(columns[0]) if columns else 0))
    for j, col in enumerate(columns):
        out[j] = np.asarray(col, dtype=float)
    return out


def position_rows(doc: np.ndarray, chars: np.ndarray, log_chars: np.ndarray, is_h1: np.ndarray,
                  comment_head: np.ndarray, stamp: np.ndarray, stamp_window: int,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Per paragraph, the :data:`POSITION_COLUMNS` (rows of the result); ``log_chars`` is
    ``np.log1p(chars)``. ``out``: where to write them (any strides), else a new matrix.

    Relative position, distance to the longest paragraph and to the h1, length rank and
    z-score within the page, share of page text before the paragraph, local text mass in
    a window around it, share of the long paragraphs' text after it, where the latest
    comment heading above it stands, and the byline lines within ``stamp_window``.
    """
    n = len(doc)
    if out is None:
        out = np.empty((len(POSITION_COLUMNS), n))
    if n == 0:
        return out
    chars = np.asarray(chars, dtype=float)
    r: dict[str, np.ndarray] = {}
    idx = np.arange(n)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(doc)) + 1))
    sizes = np.diff(np.concatenate((starts, [n])))
    local = np.repeat(np.arange(len(starts)), sizes)  # document number within this block
    start_of = np.repeat(starts, sizes)
    size_of = np.repeat(sizes, sizes).astype(float)
    pos = idx - start_of
    page_chars = np.repeat(np.add.reduceat(chars, starts), sizes)
    r["p_paragraphs"] = size_of
    r["p_page_chars"] = page_chars
    r["p_rel_pos"] = pos / np.maximum(size_of - 1, 1)
    r["p_from_end"] = np.minimum(size_of - 1 - pos, 50)
    r["p_from_start"] = np.minimum(pos, 50)
    # rank by length within the page, longest first, ties share the best rank
    order = np.lexsort((-chars, local))
    sc, sl = chars[order], local[order]
    new = np.concatenate(([True], (sl[1:] != sl[:-1]) | (sc[1:] != sc[:-1])))
    first = np.maximum.accumulate(np.where(new, idx, 0))
    rank = np.empty(n)
    rank[order] = first - start_of[order]
    r["p_rank"] = rank / size_of
    logc = np.asarray(log_chars, dtype=float)
    mu = (np.bincount(local, weights=logc) / sizes)[local]
    ss = np.bincount(local, weights=(logc - mu) ** 2)
    sd = np.sqrt(np.divide(ss, sizes - 1, out=np.zeros(len(sizes)), where=sizes > 1))[local]
    r["p_zscore"] = _div(logc - mu, sd)
    cum = np.cumsum(chars)
    before = cum - chars - (cum - chars)[start_of]
    before_share = _div(before, page_chars)
    r["p_before_share"] = before_share
    longest = np.lexsort((idx, -chars, local))[starts] - starts  # first longest paragraph
    r["p_dist_longest"] = (pos - np.repeat(longest, sizes)) / size_of
    h1_at = np.minimum.reduceat(np.where(np.asarray(is_h1) > 0, pos, np.inf), starts)
    r["p_dist_h1"] = (pos - np.repeat(np.where(np.isfinite(h1_at), h1_at, np.nan), sizes)) / size_of
    # text mass within +-3 paragraphs, as a share of the page
    padded = np.concatenate(([0.0], cum))
    lo = np.maximum(idx - 3, start_of)
    hi = np.minimum(idx + 3, start_of + size_of.astype(int) - 1)
    r["p_window_share"] = _div(padded[hi + 1] - padded[lo], page_chars)
    # share of the page's long-paragraph text (>= 200 chars) that comes after
    long_c = np.where(chars >= 200, chars, 0.0)
    lcum = np.cumsum(long_c)
    long_total = np.repeat(np.add.reduceat(long_c, starts), sizes)
    long_before = lcum - (lcum - long_c)[start_of]
    r["p_long_share_after"] = _div(long_total - long_before, long_total)
    # where the latest comment-section heading above this paragraph stands: the share of
    # the page's text before it (-1: none above). A "Comments" link in the menu stands
    # near 0 and says little; a heading after the article stands far down the page
    heads = np.where(np.asarray(comment_head) > 0, idx, -1)
    last = np.maximum.accumulate(heads)  # latest heading at or above each row
    above = np.concatenate(([-1], last[:-1]))  # strictly above
    found = above >= start_of
    r["p_comment_head_at"] = np.where(found, before_share[np.maximum(above, 0)], -1.0)
    # share of the other paragraphs within +-stamp_window that are byline or action lines
    stamp = np.asarray(stamp, dtype=float)  # 0 or 1: exact sums in any order
    scum = np.r_[0.0, np.cumsum(stamp)]
    lo = np.maximum(idx - stamp_window, start_of)
    hi = np.minimum(idx + stamp_window, start_of + size_of.astype(int) - 1)
    r["p_stamp_window"] = _div(scum[hi + 1] - scum[lo] - stamp, (hi - lo).astype(float))
    for k, name in enumerate(POSITION_COLUMNS):
        out[k] = r[name]
    return out


def container_rows(doc: np.ndarray, chars: np.ndarray, link_chars: np.ndarray, ids: np.ndarray,
                   nan_text: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """For each level ``k`` (row of ``ids``: block, ancestor 1, 2, ...) the rows ``3k``,
    ``3k + 1``, ``3k + 2`` of the result: share of the page's characters, paragraphs and
    link density of the (document, id) group of each paragraph, times ``nan_text``.
    ``out``: where to write them (any strides), else a new matrix."""
    ids = np.asarray(ids)
    n, levels = len(doc), ids.shape[0]
    if out is None:
        out = np.empty((3 * levels, n))
    if n == 0:
        return out
    doc = np.asarray(doc)
    page_chars = np.maximum(np.bincount(_codes(doc), weights=chars)[_codes(doc)], 1)
    ones = np.ones(n)
    for k in range(levels):
        inv = _codes(doc.astype(np.int64) * (1 << 32) + ids[k].astype(np.int64))
        csum = np.bincount(inv, weights=chars)[inv]
        out[3 * k] = csum / page_chars * nan_text
        out[3 * k + 1] = np.bincount(inv, weights=ones)[inv] * nan_text
        out[3 * k + 2] = _div(np.bincount(inv, weights=link_chars)[inv], csum) * nan_text
    return out


def _codes(keys: np.ndarray) -> np.ndarray:
    """The group of each row: rows with equal keys share one code (0, 1, ... in key order)."""
    return np.unique(keys, return_inverse=True)[1].reshape(-1)


_FNV_BASIS, _FNV_PRIME, _MASK64 = 14695981039346656037, 1099511628211, (1 << 64) - 1
#: the golden-ratio multiplier that spreads a token's FNV-1a hash over the lexicon's bits
LEX_MIX = 0x9E3779B97F4A7C15
#: the code points that mark a class/id token of the block element (own) and of its ancestors,
#: and the tag name of the block element and of an ancestor
LEX_OWN, LEX_ANC, LEX_TAG, LEX_ANC_TAG = 1, 2, 3, 4
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}


def _lex_single(c: str) -> bool:
    """True for a code point that is a word on its own (kana, CJK ideographs, hangul syllables)."""
    o = ord(c)
    return 0x3040 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7A3 or 0xF900 <= o <= 0xFAFF


def _fnv_points(h: int, s: str) -> int:
    for c in s:
        h = ((h ^ ord(c)) * _FNV_PRIME) & _MASK64
    return h


def _lex_words(text: str) -> list[str]:
    """The words of ``text``: runs of alphanumeric code points, each CJK character a word of its own."""
    words, run = [], []
    for c in text:
        if c.isalnum() and not _lex_single(c):
            run.append(c)
            continue
        if run:
            words.append("".join(run))
            run = []
        if c.isalnum():
            words.append(c)
    if run:
        words.append("".join(run))
    return words


def lex_tokens(lower_texts: list, own_attrs: list, anc_attrs: list, bits: int, max_words: int,
               max_attrs: int, paths: list | None = None, max_tags: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The hashed tokens of each row, as CSR ``(indptr, ids)``: ids in ``[0, 2 ** bits)``.

    A row's tokens: its first ``max_words`` words (:func:`_lex_words` of the lowercased
    text) and each pair of consecutive ones among them (the two words joined by a space),
    then its first ``max_attrs`` class/id tokens of the block element and of its ancestors
    (whitespace-separated, ASCII capitals lowercased, behind the code point :data:`LEX_OWN`
    or :data:`LEX_ANC`), then, with ``max_tags`` > 0, the last ``max_tags`` tag names of its
    DOM path (``paths``: "html/body/.../p", ``/``-separated, the block element's own tag
    last): the block element's behind :data:`LEX_TAG`, its ancestors' behind
    :data:`LEX_ANC_TAG` (empty names skipped). The caller lowercases the texts.
    A token's id: the top ``bits`` bits of its FNV-1a hash (64 bits, over its code points)
    times :data:`LEX_MIX`.
    """
    shift = 64 - bits
    indptr = np.zeros(len(lower_texts) + 1, dtype=np.int64)
    ids: list[int] = []
    for r, text in enumerate(lower_texts):
        hashes = []
        prev = None
        for w in _lex_words(text)[:max_words]:
            hashes.append(_fnv_points(_FNV_BASIS, w))
            if prev is not None:
                hashes.append(_fnv_points(_FNV_BASIS, prev + " " + w))
            prev = w
        for mark, attrs in ((LEX_OWN, own_attrs[r]), (LEX_ANC, anc_attrs[r])):
            for t in attrs.split()[:max_attrs]:
                hashes.append(_fnv_points(_FNV_BASIS, chr(mark) + t.translate(_ASCII_LOWER)))
        if max_tags > 0 and paths is not None:
            tags = paths[r].split("/")[-max_tags:]
            for k, t in enumerate(reversed(tags)):
                if t:
                    hashes.append(_fnv_points(_FNV_BASIS, chr(LEX_TAG if k == 0 else LEX_ANC_TAG) + t))
        ids.extend(((h * LEX_MIX) & _MASK64) >> shift for h in hashes)
        indptr[r + 1] = len(ids)
    return indptr, np.array(ids, dtype=np.int64)


def lex_row_scale(indptr: np.ndarray) -> np.ndarray:
    """The value of each of a CSR row's tokens: one over the square root of its token count
    (at least 1)."""
    counts = np.diff(indptr).astype(float)
    return 1.0 / np.sqrt(np.maximum(counts, 1.0))


def lex_scores(lower_texts: list, own_attrs: list, anc_attrs: list, weights: np.ndarray, intercept: float,
               bits: int, max_words: int, max_attrs: int, paths: list | None = None, max_tags: int = 0) -> np.ndarray:
    """Each row's lexicon score: ``intercept`` plus the sum of the ``weights`` (float32) of its
    tokens (:func:`lex_tokens`) over the square root of their count (at least 1)."""
    indptr, ids = lex_tokens(lower_texts, own_attrs, anc_attrs, bits, max_words, max_attrs, paths, max_tags)
    w = np.asarray(weights)[ids].astype(np.float64)
    sums = np.zeros(len(indptr) - 1)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if len(nonempty):
        sums[nonempty] = np.add.reduceat(w, indptr[nonempty])
    return float(intercept) + sums * lex_row_scale(indptr)


#: the Python references of the kernels
python = SimpleNamespace(**{name: globals()[name] for name in KERNELS})
#: the extension, where it is built with this module's column layouts (else None)
compiled = load_compiled(
    "chromesift.features._text",
    lambda m: (
        tuple(getattr(m, "TEXT_COLUMNS", ())) == TEXT_COLUMNS
        and tuple(getattr(m, "POSITION_COLUMNS", ())) == POSITION_COLUMNS
        and (getattr(m, "SENTENCES", None), getattr(m, "WORDS", None), getattr(m, "STOPWORDS", None),
             getattr(m, "TITLE_WORDS", None)) == (SENTENCES, WORDS, STOPWORDS, TITLE_WORDS)
        and all(hasattr(m, name) for name in KERNELS)
    ),
)


def use(backend: str) -> None:
    """Run the kernels of ``backend``: "compiled" (the extension) or "python" (the references)."""
    bind_kernels(globals(), KERNELS, compiled, python, backend)


BACKEND = "compiled" if compiled is not None else "python"
use(BACKEND)
