"""Which parser reads HTML pages: lexbor where it can be had, else lxml (libxml2).

lexbor parses a modern page in about half the time libxml2 takes (docs/results.md). Its
functions come from selectolax's extension module (a dependency of chromesift), through the
optional extension :mod:`chromesift.data._lexbor`; where either is missing, or selectolax no
longer exports them, pages are read with lxml, as before there was a choice.

``CHROMESIFT_PARSER=lxml`` (read at import) makes every page read with lxml;
``CHROMESIFT_PURE_PYTHON=1`` does too (lexbor has no Python reference). :func:`use`
switches at run time (the tests compare the two).

lexbor has no limit of its own on nesting depth, and its time grows with the square of
it, so pages of more than :data:`MAX_TAGS` start tags (deep nesting needs as many) are
read with lxml, which stops at a fixed depth.
"""

from __future__ import annotations

import contextlib
import logging
import os

log = logging.getLogger(__name__)

#: the parsers, the first the default where it is available
PARSERS = ("lexbor", "lxml")
#: pages with more start tags than this are read with lxml: 10,000 nested elements cost
#: lexbor about 0.1 s (the largest of 300 modern news pages has 2,724 start tags)
MAX_TAGS = 10_000


def _load():
    """The bound extension module, and why not where there is none."""
    if os.environ.get("CHROMESIFT_PURE_PYTHON") == "1":
        return None, "CHROMESIFT_PURE_PYTHON=1"
    try:
        from chromesift.data import _lexbor
    except ImportError:
        return None, "the extension chromesift.data._lexbor is not built"
    try:
        import selectolax.lexbor as selectolax_lexbor
    except ImportError:
        return None, "selectolax is not installed"
    try:
        _lexbor.bind(selectolax_lexbor.__file__)
    except ImportError as e:
        return None, f"selectolax's module does not give lexbor's functions ({e})"
    return _lexbor, None


_module, unavailable = _load()


def _initial() -> str:
    asked = os.environ.get("CHROMESIFT_PARSER", "").strip().lower()
    if asked and asked not in PARSERS:
        log.warning("CHROMESIFT_PARSER=%s is not one of %s: ignored", asked, ", ".join(PARSERS))
        asked = ""
    if asked == "lxml" or _module is None:
        if asked == "lexbor":
            log.warning("CHROMESIFT_PARSER=lexbor, but lexbor cannot be used here: %s; reading with lxml",
                        unavailable)
        return "lxml"
    return "lexbor"


#: the parser pages are read with now: "lexbor" or "lxml"
PARSER = _initial()


def use(parser: str) -> None:
    """Read pages with ``parser`` from now on ("lexbor" or "lxml"); ValueError where it is
    not one of them, or lexbor cannot be used here."""
    global PARSER
    if parser not in PARSERS:
        raise ValueError(f"parser must be one of {', '.join(PARSERS)}, not {parser!r}")
    if parser == "lexbor" and _module is None:
        raise ValueError(f"lexbor cannot be used here: {unavailable}")
    PARSER = parser


def parser_for(tags: int) -> str:
    """The parser a page of ``tags`` start tags is read with."""
    return "lexbor" if PARSER == "lexbor" and tags <= MAX_TAGS else "lxml"


def lexbor_input(data: bytes) -> bytes:
    """The page's UTF-8 bytes as lexbor is given them: without a leading byte order mark, which
    is no text (libxml2 reads it as the encoding's mark; lexbor, given UTF-8, would keep it as
    a character)."""
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def document(data: bytes):
    """The page's UTF-8 bytes parsed by lexbor (a :class:`chromesift.data._lexbor.Document`),
    as :func:`lexbor_input` gives them."""
    return _module.Document(lexbor_input(data))


@contextlib.contextmanager
def using(parser: str):
    """Read pages with ``parser`` inside the ``with`` block (as :func:`use`), then as before."""
    before = PARSER
    use(parser)
    try:
        yield
    finally:
        use(before)
