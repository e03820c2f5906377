"""HTML page -> paragraph table (block-level segmentation).

A paragraph is the visible text of one block element with inline markup merged,
in the spirit of boilerpipe and jusText. Two ``<br>`` in a row also end a
paragraph, since old pages lay out whole articles in one cell that way. A run of
paragraphs that are all link text, of one parent element and path (a menu's items, a list
of links), is one paragraph, its texts joined by spaces.
The walk is iterative (lxml's ``iterwalk``), so nesting depth never
exhausts the Python stack. The walk and its helpers are the kernels of
:mod:`chromesift.data.walk_kernels`: in C over libxml2's tree where the optional
extension :mod:`chromesift.data._walk` is built, else in Python (the same results).

The page is parsed by lexbor where :mod:`chromesift.data.lexbor` can have it (the same walk,
in C over lexbor's tree: :mod:`chromesift.data._lexbor`), else by libxml2 through lxml.
"""

from __future__ import annotations

import codecs
import functools
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from chromesift.data import lexbor, limits, schema, threads, walk_kernels
from chromesift.data.sniff import DecodeError, bom_encoding, check_text_bytes, utf16_encoding  # noqa: F401 (DecodeError: its first home was here)
from chromesift.data.text import fix_surrogates
from chromesift.data.vocab import (
    BLOCK_TAGS,
    FLAG_TAGS,
    MAX_ANCESTOR_ATTRS,
    MAX_PATH_TAGS,
    ROLE_FLAGS,
    SKIP_TAGS,
)
from chromesift.data.walk_kernels import attr_tokens

if TYPE_CHECKING:
    import pandas as pd

_WS = re.compile(r"\s+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I
)
_FLAG_NAMES = sorted(set(FLAG_TAGS.values()))
#: how much more "chaos" (charset_normalizer's mess ratio) cp1252 may show than the
#: detector's first pick and still be preferred
_CP1252_SLACK = 0.2
#: nesting deeper than this is flattened when libxml2 hits its own depth limit
MAX_PARSE_DEPTH = 1000
_TAG = re.compile(rb"<(/?)([A-Za-z][^\s/>]*)[^>]*>")
_VOID = frozenset(
    b"area base br col embed hr img input keygen link meta param source track wbr".split()
)


@dataclass(frozen=True)
class Decoded:
    """Text of a page and how its bytes were decoded."""

    text: str
    encoding: str
    source: str  # "str", "bom", "utf-16", "declared", "utf-8", "detected"


def decode(page: str | bytes) -> Decoded:
    """Decode page bytes: BOM first (or UTF-16 sniffed), then the declared charset, then detection.

    Bytes that are no page (a PDF, an image, binary data) raise :class:`DecodeError`.

    Parameters
    ----------
    page
        The page as text (returned as is) or raw bytes.

    Returns
    -------
    Decoded
        The text and which rule chose the encoding.
    """
    return _decode(page)[0]


def _decode(page: str | bytes) -> tuple[Decoded, bytes | None]:
    """:func:`decode`, and the text as UTF-8 where that came for free (else None).

    The parser reads UTF-8: a str that encodes cleanly and bytes that were valid UTF-8
    already are it, so the page is not encoded a second time.
    """
    if isinstance(page, str):
        try:
            data = walk_kernels.utf8(page)
        except UnicodeEncodeError:  # surrogates: what fix_surrogates is for
            return Decoded(fix_surrogates(page), "unicode", "str"), None
        return Decoded(page, "unicode", "str"), data  # fix_surrogates keeps such a str as is
    if not isinstance(page, (bytes, bytearray, memoryview)):
        raise TypeError(f"a page must be str or bytes, not {type(page).__name__}")
    raw = bytes(page)
    check_text_bytes(raw)
    enc = bom_encoding(raw)
    if enc is not None:
        return Decoded(raw.decode(enc, errors="replace").lstrip("\ufeff"), enc, "bom"), None
    enc = utf16_encoding(raw)
    if enc is not None:  # UTF-16 without a mark: no declaration could have been read as ASCII
        return Decoded(raw.decode(enc, errors="replace").lstrip("\ufeff"), enc, "utf-16"), None
    declared = _META_CHARSET.search(raw[:4096])
    if declared:
        name = declared.group(1).decode("ascii", "ignore").lower()
        try:
            enc = codecs.lookup(name).name
        except LookupError:
            enc = None
        if enc is not None and not _ascii_compatible(enc):
            # the declaration was read as ASCII, so it cannot name UTF-16, EBCDIC or
            # Python's transforming codecs (rot13, base64, unicode-escape, punycode ...)
            enc = None
        if enc is not None:
            if enc != "utf-8" and not raw.isascii():
                # pages re-saved as UTF-8 often keep their old declaration, and a legacy
                # code page (latin-1 above all) decodes any bytes without complaint, while
                # multi-byte UTF-8 almost never arises from legacy text by chance
                try:
                    return Decoded(raw.decode("utf-8"), "utf-8", "utf-8"), raw
                except UnicodeDecodeError:
                    pass
            # a lying declaration is common: believe it only if the bytes agree
            try:
                # strictly decoded UTF-8 encodes back to the same bytes
                text = raw.decode(enc)
            except UnicodeDecodeError:
                pass
            else:
                wide = _multibyte_instead(raw, enc)
                if wide is not None:
                    return Decoded(raw.decode(wide, errors="replace"), wide, "detected"), None
                return Decoded(text, enc, "declared"), raw if enc == "utf-8" else None
    try:
        return Decoded(raw.decode("utf-8"), "utf-8", "utf-8"), raw
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # imported lazily: only odd pages need it

    matches = from_bytes(raw[:200_000])
    best = matches.best()
    enc = best.encoding if best is not None else "cp1252"
    if best is not None and any(
        "cp1252" in m.could_be_from_charset and m.chaos <= best.chaos + _CP1252_SLACK
        for m in matches
    ):
        # the detector often ranks a neighbouring code page (cp1257, cp1250, mac_turkish)
        # first for Western text; cp1252 is the web's legacy default, so it wins whenever
        # the detector finds it about as plausible
        enc = "cp1252"
    return Decoded(raw.decode(enc, errors="replace"), enc, "detected"), None


_HIGH_BYTES = bytes(range(0x80, 0x100))
#: a single-byte declaration is doubted when at least this share of the bytes is non-ASCII
_DOUBT_SHARE = 0.02
#: ... and the detector reads them as a multi-byte encoding with at most this "chaos"
_CLEAN_CHAOS = 0.05


def _multibyte_instead(raw: bytes, declared: str) -> str | None:
    """A multi-byte encoding (Shift-JIS, GBK, EUC-KR, Big5 ...) for bytes that declare a
    single-byte code page, when the detector reads them as such cleanly; else None.

    A single-byte code page (latin-1 above all) decodes any bytes, so a wrong declaration
    over CJK text gives no error, only mojibake (a page that says latin-1 over Shift-JIS).
    """
    if not _single_byte(declared):
        return None
    high = len(raw) - len(raw.translate(None, _HIGH_BYTES))
    if high < 32 or high < _DOUBT_SHARE * len(raw):
        return None
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    if best is None or best.chaos > _CLEAN_CHAOS or _single_byte(codecs.lookup(best.encoding).name):
        return None
    return best.encoding


@functools.lru_cache(maxsize=64)
def _single_byte(encoding: str) -> bool:
    """Whether every character of ``encoding`` is one byte (latin-1, cp1252, koi8-r ...)."""
    try:
        decoded = bytes(range(0x80, 0x100)).decode(encoding, errors="ignore")
    except LookupError:
        return False
    return 0 < len(decoded) and all(len(c.encode(encoding)) == 1 for c in decoded)


#: printable ASCII, the whitespace of markup and escape-like sequences: an encoding a
#: page may declare in a ``<meta>`` must decode these bytes to themselves
_ASCII_PROBE = b"xn--bcher-kva." + bytes(range(0x20, 0x7F)) + b"\t\n\r \\x41\\u00e9\\n +AGEA- ~{~}"


@functools.lru_cache(maxsize=64)
def _ascii_compatible(encoding: str) -> bool:
    try:
        return _ASCII_PROBE.decode(encoding) == _ASCII_PROBE.decode("ascii")
    except Exception:  # noqa: BLE001 - non-text codecs raise LookupError, TypeError, UnicodeError ...
        return False


#: one parser per thread (an lxml parser is not thread-safe): making one costs as much as
#: a small page's walk, and its settings never change
_PARSERS = threading.local()


def _parser() -> etree.HTMLParser:
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.HTMLParser(
            encoding="utf-8",
            remove_pis=True,
            remove_blank_text=False,
            no_network=True,
            huge_tree=True,
            default_doctype=False,
            collect_ids=False,  # no table of id attributes: the walk reads them as attributes
        )
    return parser


def _parse_tree(text: str, data: bytes | None = None):
    """The lxml tree of a page's text, None when there is none.

    ``data`` is ``text`` as UTF-8 when the caller has it already (:func:`_decode`).
    """
    data = _page_bytes(text, data)
    return None if data is None else _lxml_root(_bound_attributes(data)[0])


def _page_bytes(text: str, data: bytes | None) -> bytes | None:
    """The page as UTF-8 (``data`` where the caller has it), None when it is blank."""
    if data is None:
        data = text.encode("utf-8", errors="replace")
    return data if data.strip() else None


def _lxml_root(data: bytes):
    """libxml2's tree of the (attribute-bounded) bytes, None where it cannot make one."""
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
        # each parse starts a new error log, so this sees this page's errors only
        if any("Excessive depth" in e.message for e in parser.error_log):
            # libxml2 stops at 2048 levels even with huge_tree and silently drops the
            # rest of the page: parse again with the deepest nesting flattened
            root = etree.fromstring(_flatten_deep(data, MAX_PARSE_DEPTH), parser)
        return root
    except (etree.XMLSyntaxError, etree.ParserError, ValueError):
        return None


class _LxmlPage:
    """A page parsed by libxml2, read as :class:`chromesift.data._lexbor.Document` reads one."""

    __slots__ = ("root",)

    def __init__(self, root) -> None:
        self.root = root

    def text_of_first(self, name: str) -> str | None:
        el = walk_kernels.first_descendant(self.root, name)  # root.find(".//" + name)
        return None if el is None else "".join(el.itertext())

    def has(self, name: str) -> bool:
        return walk_kernels.first_descendant(self.root, name) is not None

    def walk(self, cols: dict[str, list], *args):
        return walk_kernels.walk(self.root, cols, *args)


def _lxml_page(data: bytes) -> _LxmlPage | None:
    root = _lxml_root(data)
    return None if root is None else _LxmlPage(root)


#: a page whose visible paragraphs hold fewer characters than this is read again with the
#: text of its :data:`COPY_TAGS` (a page rendered by a script often keeps a copy there)
COPY_MIN_CHARS = 200
COPY_TAGS = frozenset({"noscript", "template"})
#: attributes a start tag keeps: libxml2 checks each new attribute against all before it,
#: so one element with 40,000 attributes took 11 s to parse (real elements have dozens)
MAX_ATTRIBUTES = 256


def _bound_attributes(data: bytes) -> tuple[bytes, int]:
    """``data`` with every start tag cut to its first :data:`MAX_ATTRIBUTES` attributes, on
    the bytes before parsing, so that the parser never meets a quadratic element, and the
    number of its start tags; a page of more start tags than
    :func:`~chromesift.data.limits.max_tags` is refused here too."""
    tags, spans = walk_kernels.scan_tags(data, MAX_ATTRIBUTES)
    limits.check_tags(tags)
    if not spans:
        return data, tags
    out, pos = [], 0
    for _start, cut, end in spans:
        out.append(data[pos:cut])
        pos = end
    out.append(data[pos:])
    return b"".join(out), tags


def _flatten_deep(data: bytes, limit: int) -> bytes:
    """Drop start and end tags nested deeper than ``limit``, keeping all text.

    A dropped block tag becomes two ``<br>`` (void, so no deeper), which still
    ends the paragraph in the walk.
    """
    out: list[bytes] = []
    open_tags: list[bytes] = []
    dropped: dict[bytes, int] = {}
    pos = 0
    for m in _TAG.finditer(data):
        closing, name = m.group(1), m.group(2).lower()
        if name in _VOID or m.group(0).endswith(b"/>"):
            continue
        if not closing:
            if len(open_tags) < limit:
                open_tags.append(name)
                continue
            dropped[name] = dropped.get(name, 0) + 1
        elif dropped.get(name):
            dropped[name] -= 1
        else:
            if name in open_tags:
                while open_tags.pop() != name:
                    pass
            continue
        out.append(data[pos : m.start()])
        out.append(b"<br><br>" if name.decode("ascii", "replace") in BLOCK_TAGS else b"")
        pos = m.end()
    out.append(data[pos:])
    return b"".join(out)


#: a paragraph counts as article-like text for the main container when it is at least
#: this long and at most this much of it is link text
MAIN_MIN_CHARS = 80
MAIN_MAX_LINK_SHARE = 0.3
#: weight of the other text inside a candidate main container (it counts against it)
MAIN_OTHER_WEIGHT = 0.5


_TOKEN_CACHE: dict[str, tuple[str, ...]] = {}
#: :func:`_tokens` empties its cache when it holds more values than this
_TOKEN_CACHE_MAX = 100_000


def _tokens(value: str) -> tuple[str, ...]:
    """:func:`attr_tokens` of a class/id/role value, memoised (the values repeat a lot).

    The compiled walk adds ASCII values to the cache itself, as this does, while the cache
    holds at most :data:`_TOKEN_CACHE_MAX` (a call back into Python per new value costs more
    than tokenising it).
    """
    toks = _TOKEN_CACHE.get(value)
    if toks is None:
        if len(_TOKEN_CACHE) > _TOKEN_CACHE_MAX:
            _TOKEN_CACHE.clear()  # in place: the compiled walk reads this dict
        toks = walk_kernels.ascii_tokens(value)  # None: not ASCII
        if toks is None:
            toks = tuple(attr_tokens(value))
        _TOKEN_CACHE[value] = toks
    return toks


def parse_html(page: str | bytes, *, doc_id: str = "page", parser: str | None = None,
               lines: bool = False) -> pd.DataFrame:
    """Turn an HTML page into the paragraph table.

    Parameters
    ----------
    page
        The page, as text or bytes (bytes are decoded by :func:`decode`).
    doc_id
        Identifier written into the ``doc_id`` column.
    parser
        "lxml" to parse with libxml2 whatever :mod:`chromesift.data.lexbor` chooses (None).
    lines
        Also give a column ``lines``: a joined run of link-only paragraphs' texts one a line
        (None on every other row), the lines it has in the page's plain-text dump.

    Returns
    -------
    pandas.DataFrame
        One row per paragraph in document order (an empty table when the page
        has no visible text). ``frame.attrs`` holds ``encoding`` and
        ``encoding_source``.
    """
    cols, decoded = parse_html_columns(page, parser=parser, lines=lines)
    frame = schema.from_columns(cols, doc_id)
    if lines:
        frame["lines"] = cols["lines"] if len(frame) else []
        frame["lines"] = frame["lines"].astype(object)
    frame.attrs["encoding"] = decoded.encoding
    frame.attrs["encoding_source"] = decoded.source
    return frame


def parse_html_columns(page: str | bytes, parser: str | None = None, *,
                       lines: bool = False) -> tuple[dict[str, list], Decoded]:
    """The paragraph table of a page as plain column lists (no ``doc_id``), and its decoding.

    The columns are those of :data:`chromesift.data.schema.COLUMNS`; this is what
    :func:`parse_html` wraps in a DataFrame and what the prediction fast path reads.
    ``parser`` "lxml" parses with libxml2 whatever :mod:`chromesift.data.lexbor` chooses.
    ``lines``: also a column ``lines`` (see :func:`parse_html`).
    """
    if parser not in (None, "lxml"):
        raise ValueError(f"parser must be None or 'lxml', not {parser!r}")
    decoded, data = _decode(page)
    data = _page_bytes(decoded.text, data)
    tree = None
    thread = data is not None and threads.is_thread(data)
    if data is not None:
        data, which = parser_input(data, parser)
        tree = lexbor.document(data) if which == "lexbor" else _lxml_page(data)
    cols, ranges = _empty_columns(), []
    runs: list | None = [] if lines else None
    title = ""
    if tree is not None:
        cols, ranges, tree = _read_tree(tree, data)
        ranges = walk_kernels.merge_link_runs(cols, ranges, runs)
        if tree is not None:
            title = _WS.sub(" ", tree.text_of_first("title") or "").strip()
        # free the tree here, not in the caller's frame (where a profile would charge it)
        del tree
    del data  # the page's bytes
    texts = cols["text"]
    n = len(texts)
    limits.check_paragraphs(n)
    chars = [len(t) for t in texts]
    cols["in_main"] = main_container(ranges, chars, cols["link_chars"])
    h1 = ""
    if "h1" in cols["tag"]:
        h1 = texts[cols["tag"].index("h1")]
    cols["page_title"] = [title] * n
    cols["page_h1"] = [h1] * n
    cols["page_chars"] = [sum(chars)] * n
    cols["source"] = ["html"] * n
    cols["position"] = list(range(n))
    cols["_thread"] = [thread] * n  # (no table column: see chromesift.models.rules.page_scope)
    if runs is not None:
        cols["lines"] = runs if len(runs) == n else [None] * n
    return cols, decoded


def text_lines(page: str | bytes) -> list[str]:
    """The page as plain text, a line per paragraph as :func:`parse_html_columns` reads it,
    but a joined run of link-only paragraphs a line per link (as a browser's copy lays out a
    menu): what chromesift's plain-text mode is trained and measured on."""
    cols = parse_html_columns(page, lines=True)[0]
    out: list[str] = []
    for text, run in zip(cols["text"], cols["lines"], strict=True):
        if run is None:
            out.append(text)
        else:
            out.extend(run.split("\n"))
    return out


def parser_input(data: bytes, parser: str | None = None) -> tuple[bytes, str]:
    """The bytes of a page (UTF-8) a parser is given, every start tag cut to its first
    :data:`MAX_ATTRIBUTES` attributes, and the parser :mod:`chromesift.data.lexbor` chooses for
    them ("lexbor" or "lxml"; ``parser`` "lxml": libxml2 whatever it chooses). lexbor is given
    them through :func:`chromesift.data.lexbor.lexbor_input`."""
    data, tags = _bound_attributes(data)
    return data, "lexbor" if parser is None and lexbor.parser_for(tags) == "lexbor" else "lxml"


def _empty_columns() -> dict[str, list]:
    return {c: [] for c in schema.COLUMNS if c != "doc_id"}


def _read_tree(tree, data: bytes) -> tuple[dict[str, list], list, object]:
    """The columns and element ranges of a parsed page (``data``: the bytes it was parsed
    from), and the tree they were read from last (None where libxml2 could not parse it).

    Where next to nothing is visible, a page that renders its text from a script often keeps
    a copy in ``<noscript>`` or ``<template>``: those are read too and the fuller reading
    kept. lexbor keeps a template's content out of its tree, so such a page is parsed again
    with libxml2 first.
    """
    cols = _empty_columns()
    ranges = tree.walk(cols, *_walk_args(SKIP_TAGS))
    if sum(map(len, cols["text"])) >= COPY_MIN_CHARS or not (tree.has("noscript") or tree.has("template")):
        return cols, ranges, tree
    if not isinstance(tree, _LxmlPage) and tree.has("template"):
        tree = _lxml_page(data)
        if tree is None:
            return _empty_columns(), [], None
        cols = _empty_columns()
        ranges = tree.walk(cols, *_walk_args(SKIP_TAGS))
    again = _empty_columns()
    ranges_again = tree.walk(again, *_walk_args(SKIP_TAGS - COPY_TAGS))
    if sum(map(len, again["text"])) > sum(map(len, cols["text"])):
        return again, ranges_again, tree
    return cols, ranges, tree


def main_container(ranges: list[tuple[int, int]], chars: list[int], link_chars: list[int]) -> list[bool]:
    """Which paragraphs lie in the page's main container, found by text density.

    Each element is scored by its article-like text (paragraphs of at least
    :data:`MAIN_MIN_CHARS` characters, at most :data:`MAIN_MAX_LINK_SHARE` of
    them links) minus :data:`MAIN_OTHER_WEIGHT` times its other text; the best
    element (the innermost on ties) is the main container. All False when no
    element scores above zero.
    """
    n = len(chars)
    out = [False] * n
    best = walk_kernels.main_range(ranges, chars, link_chars, MAIN_MIN_CHARS, MAIN_MAX_LINK_SHARE, MAIN_OTHER_WEIGHT)
    if best is not None:
        first, end = best
        out[first:end] = [True] * (end - first)
    return out


def _walk(root, cols: dict[str, list], skip_tags: frozenset = SKIP_TAGS) -> list[tuple[int, int]]:
    """Fill ``cols`` with the paragraphs under ``root``; return each element's paragraph range.

    Elements span consecutive paragraphs: an element holding any text gives
    ``(first, end)``, its paragraphs being ``first <= i < end``, in the order the
    elements close (inner before outer). The walk of :mod:`chromesift.data.walk_kernels`,
    with this parser's vocabularies.
    """
    return walk_kernels.walk(root, cols, *_walk_args(skip_tags))


def _walk_args(skip_tags: frozenset) -> tuple:
    """The walk's vocabularies, after the root (lxml) and the columns: the same for either parser."""
    return (_FLAG_NAMES, skip_tags, BLOCK_TAGS, FLAG_TAGS, ROLE_FLAGS, _HIDDEN_STYLE.search, _tokens,
            _TOKEN_CACHE, MAX_ANCESTOR_ATTRS, MAX_PATH_TAGS, _TOKEN_CACHE_MAX)
