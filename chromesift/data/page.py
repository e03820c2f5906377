"""A document in, its paragraph table out: the format (HTML or plain text) detected or given.

This is the data stage's entry for a single page, as the library call, the batch runtime and
evaluation use it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chromesift.data.html import parse_html, parse_html_columns
from chromesift.data.sniff import wide_encoding
from chromesift.data.text import parse_text, parse_text_columns

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("html", "text")
_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|head|body|div|p|span|a\s|table|br|article|section|meta|title|ul|li|h[1-6])\b",
    re.I,
)


def detect_format(document: str | bytes) -> str:
    """"html" when the start of the document holds markup, else "text"."""
    head = document[:8192]
    if isinstance(head, str):
        head = head.encode("utf-8", errors="ignore")
    else:
        enc = wide_encoding(bytes(head))  # UTF-16 or UTF-32 markup has NULs between its letters
        if enc is not None:
            head = bytes(head).decode(enc, errors="ignore").encode("utf-8", errors="ignore")
    return "html" if _MARKUP.search(head) else "text"


def _format_of(document: object, format: str | None) -> str:
    """The format a document is parsed as; TypeError/ValueError for a bad document or format."""
    if not isinstance(document, (str, bytes, bytearray)):
        raise TypeError(f"document must be str or bytes (HTML or plain text), not {type(document).__name__}")
    fmt = format or detect_format(document)
    if fmt not in FORMATS:
        raise ValueError(f"format must be 'html', 'text' or None, not {format!r}")
    return fmt


def to_table(document: str | bytes, *, format: str | None = None, doc_id: str = "page") -> pd.DataFrame:
    """Parse a document into the paragraph table (``format`` None detects it)."""
    fmt = _format_of(document, format)
    return parse_html(document, doc_id=doc_id) if fmt == "html" else parse_text(document, doc_id=doc_id)


def to_columns(document: str | bytes, *, format: str | None = None) -> dict[str, list]:
    """Parse a document into the paragraph table's columns as lists (no ``doc_id``)."""
    fmt = _format_of(document, format)
    return parse_html_columns(document)[0] if fmt == "html" else parse_text_columns(document)
