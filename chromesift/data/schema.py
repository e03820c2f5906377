"""The paragraph table: one row per paragraph of a page, in document order.

This module is the single definition of its columns. Every stage validates its
input with :func:`validate` so that a malformed table fails at the boundary
with one clear message instead of deep inside a transformer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chromesift.errors import ChromesiftError

if TYPE_CHECKING:
    import pandas as pd

#: Columns every paragraph table carries, with their dtypes.
CORE_COLUMNS: dict[str, str] = {
    "doc_id": "object",
    "position": "int64",
    "text": "object",
}

#: Structural columns from the HTML parser. Plain-text input gives the
#: neutral values in :data:`TEXT_DEFAULTS` (text has no DOM).
STRUCT_COLUMNS: dict[str, str] = {
    "source": "object",  # "html" or "text"
    "tag": "object",  # tag of the enclosing block element
    "path": "object",  # DOM path of tags from <body>, "/"-joined
    "depth": "int64",  # element depth below <html>
    "own_attrs": "object",  # class/id tokens of the block element, space-joined
    "anc_attrs": "object",  # class/id tokens of its ancestors, space-joined
    "block_id": "int64",  # serial number of the block element (per page)
    "anc1": "int64",  # serial numbers of the nearest three ancestor elements, -1 if none
    "anc2": "int64",
    "anc3": "int64",
    "n_links": "int64",  # number of <a href> inside the paragraph
    "link_chars": "int64",  # characters of text inside links
    "in_nav": "bool",
    "in_header": "bool",
    "in_footer": "bool",
    "in_aside": "bool",
    "in_form": "bool",
    "in_li": "bool",
    "in_a": "bool",
    "in_table": "bool",
    "in_article": "bool",  # inside <article> or <main>
    "in_heading": "bool",  # inside h1-h6
    "in_main": "bool",  # inside the main container found by text density (html.main_container)
    # page-level facts, repeated on every row of the page
    "page_title": "object",
    "page_h1": "object",
    "page_chars": "int64",
}

#: Training columns, added by :mod:`chromesift.data.labels`.
LABEL_COLUMNS: dict[str, str] = {"label": "float64", "weight": "float64"}

COLUMNS: dict[str, str] = {**CORE_COLUMNS, **STRUCT_COLUMNS}

#: Values of the structural columns for plain-text input.
TEXT_DEFAULTS: dict[str, object] = {
    "source": "text",
    "tag": "",
    "path": "",
    "depth": 0,
    "own_attrs": "",
    "anc_attrs": "",
    "block_id": -1,
    "anc1": -1,
    "anc2": -1,
    "anc3": -1,
    "n_links": 0,
    "link_chars": 0,
    **{c: False for c, t in STRUCT_COLUMNS.items() if t == "bool"},
    "page_title": "",
    "page_h1": "",
    "page_chars": 0,
}


class SchemaError(ChromesiftError, ValueError):
    """A paragraph table does not have the columns or types the contract asks for."""


def empty_table() -> pd.DataFrame:
    """Return a paragraph table with no rows and every column typed."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in COLUMNS.items()})


def from_columns(columns: dict[str, list], doc_id: str) -> pd.DataFrame:
    """Build a typed paragraph table of one page from column lists (without ``doc_id``)."""
    import pandas as pd

    n = len(columns["text"])
    if n == 0:
        return empty_table()
    data = {"doc_id": pd.Series([doc_id] * n, dtype=COLUMNS["doc_id"])}
    for c, t in COLUMNS.items():
        if c != "doc_id":
            data[c] = pd.Series(columns[c], dtype=t)
    return pd.DataFrame(data)


def validate(frame: object, *, require_labels: bool = False, stage: str = "input") -> pd.DataFrame:
    """Check that ``frame`` is a paragraph table and return it unchanged.

    Parameters
    ----------
    frame
        The object to check.
    require_labels
        Also require the ``label`` and ``weight`` columns.
    stage
        Name of the stage doing the check, for the error message.

    Raises
    ------
    SchemaError
        With every missing column named at once.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(
            f"{stage}: expected a paragraph table (pandas DataFrame), got {type(frame).__name__}"
        )
    needed = list(COLUMNS) + (list(LABEL_COLUMNS) if require_labels else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{stage}: paragraph table lacks column(s) {', '.join(missing)}; "
            "build it with chromesift.data.parse_html / parse_text"
        )
    return frame
