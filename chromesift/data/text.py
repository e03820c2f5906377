"""Plain text (a page's text dump) -> paragraph table."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chromesift.data import limits, schema
from chromesift.data.vocab import SOFT_HYPHEN

if TYPE_CHECKING:
    import pandas as pd

_WS = re.compile(r"[^\S\n]+")
_LINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029")


def fix_surrogates(text: str) -> str:
    """Join surrogate pairs into their characters and replace lone surrogates with U+FFFD.

    A Python str may hold surrogate code points (``json.loads('"\\ud800"')``,
    ``surrogateescape``-decoded file names) that no UTF-8 encoder accepts; pandas'
    Arrow-backed strings and lxml both need valid text.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def parse_text(page: str | bytes, *, doc_id: str = "page") -> pd.DataFrame:
    """Split a text dump into paragraphs, one per non-blank line.

    Parameters
    ----------
    page
        Plain text; bytes are decoded by their byte-order mark, as UTF-16 when they are
        that, else as UTF-8 (invalid bytes replaced); binary data raises
        :class:`~chromesift.data.sniff.DecodeError`.
    doc_id
        Identifier written into the ``doc_id`` column.

    Returns
    -------
    pandas.DataFrame
        The paragraph table with the structural columns at their text-mode
        defaults (:data:`chromesift.data.schema.TEXT_DEFAULTS`).
    """
    frame = schema.from_columns(parse_text_columns(page), doc_id)
    frame.attrs["encoding"] = "unicode"
    frame.attrs["encoding_source"] = "str"
    return frame


def parse_text_columns(page: str | bytes) -> dict[str, list]:
    """The paragraph table of a text dump as plain column lists (no ``doc_id``)."""
    if isinstance(page, (bytes, bytearray, memoryview)):
        from chromesift.data.sniff import decode_text_bytes  # (sniff imports vocab, not text)

        page = decode_text_bytes(bytes(page))
    if not isinstance(page, str):
        raise TypeError(f"a page must be str or bytes, not {type(page).__name__}")
    page = fix_surrogates(page)
    lines = _LINES.split(page)
    if len(lines) > limits.max_paragraphs():  # (blank lines are no paragraphs: count those kept)
        limits.check_paragraphs(sum(1 for line in lines if line and not line.isspace()))
    # soft hyphens left out, as the HTML walk leaves them
    texts = [t for t in (_WS.sub(" ", line.replace(SOFT_HYPHEN, "")).strip() for line in lines) if t]
    n = len(texts)
    cols: dict[str, list] = {c: [v] * n for c, v in schema.TEXT_DEFAULTS.items()}
    cols["text"] = texts
    cols["position"] = list(range(n))
    cols["page_chars"] = [sum(map(len, texts))] * n
    cols["_thread"] = [False] * n  # (plain text says nothing of itself: chromesift.models.rules.page_scope)
    return cols
