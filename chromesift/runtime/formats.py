"""What ``chromesift extract`` writes for a page: plain text, Markdown, a JSON document or CSV.

Each writer takes a *detailed* record (:func:`chromesift.runtime.core.page_records` with
``detail=True``: every paragraph has ``role``, ``tag``, ``path`` and ``row``) and returns
the text to write.

Markdown keeps the structure the paragraph table knows:

- the headline (the record's ``title``) as ``# title``; headings ``h1``-``h6`` as ``#`` to
  ``######``;
- list items (a paragraph that is an ``<li>`` or inside one) as ``- item``;
- paragraphs inside a ``<blockquote>`` as ``> quote``;
- table cells (``td``/``th``) of one row (:func:`~chromesift.runtime.core.page_records`'s
  ``row``: the ``<tr>`` that holds them) as ``| a | b |``, with a ``| --- |`` line under a
  first row of header cells. A table whose cells hold blocks of their own (a ``<p>`` in a
  ``<td>``) has those as plain lines: the paragraph table does not tie them to a row.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from chromesift.runtime.core import record_json

#: the values of ``--output-format``
FORMATS = ("txt", "markdown", "json", "csv")
#: file suffixes of the outputs of ``--input-dir``
SUFFIXES = {"txt": ".txt", "markdown": ".md", "json": ".json", "csv": ".csv"}
#: the keys of each paragraph in the JSON document and the columns of the CSV
PARAGRAPH_KEYS = ("text", "is_content", "probability", "role")
_HEADINGS = {f"h{n}": "#" * n for n in range(1, 7)}


def body(record: dict) -> list[dict]:
    """The paragraphs of the main text: content, headline left out (it is the ``title``)."""
    return [p for p in record["paragraphs"] if p["is_content"] and p.get("role") != "title"]


def _parts(path: str) -> list[str]:
    return [part.split("[")[0].lower() for part in path.split("/") if part]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def to_markdown(record: dict) -> str:
    """The main text of a detailed record as Markdown (see the module's documentation)."""
    blocks: list[list[str]] = []  # lines of consecutive list items or table rows stay together
    kind = None
    row_key, row_cells, row_heads = None, [], []

    def add(line: str, group: str | None) -> None:
        nonlocal kind
        if group is not None and group == kind:
            blocks[-1].append(line)
        else:
            blocks.append([line])
        kind = group

    def flush_row() -> None:
        nonlocal row_key, row_cells, row_heads
        if row_cells:
            first = kind != "table"
            add("| " + " | ".join(row_cells) + " |", "table")
            if first and all(row_heads):
                blocks[-1].append("|" + " --- |" * len(row_cells))
        row_key, row_cells, row_heads = None, [], []

    if record.get("title"):
        add(f"# {_cell(record['title'])}", None)
    for par in body(record):
        tag, text = par.get("tag") or "", par["text"]
        if par.get("row") is not None:
            if par["row"] != row_key:
                flush_row()
                row_key = par["row"]
            row_cells.append(_cell(text))
            row_heads.append(tag == "th")
            continue
        flush_row()
        parts = _parts(par.get("path") or "")
        quote = "> " if "blockquote" in parts else ""
        if tag in _HEADINGS:
            add(f"{quote}{_HEADINGS[tag]} {_cell(text)}", None)
        elif tag == "li" or "li" in parts:
            add(f"{quote}- {text}", "list" + quote)
        elif quote:
            add(f"> {text}", None)
        else:
            add(text, None)
    flush_row()
    return "\n\n".join("\n".join(lines) for lines in blocks)


def document(record: dict, language: str | None = None) -> dict:
    """The JSON document of a detailed record: ``id``, ``url`` (when given), ``title``,
    ``language``, ``text``, ``paragraphs`` (``text``, ``is_content``, ``probability``,
    ``role``) and ``error`` (when the page failed)."""
    out: dict[str, Any] = {"id": record.get("id")}
    if record.get("url") is not None:
        out["url"] = record["url"]
    language = language if language is not None else record.get("language")
    out.update(title=record.get("title", ""), language=language, text=record["text"])
    out["paragraphs"] = [{k: p.get(k) for k in PARAGRAPH_KEYS} for p in record["paragraphs"]]
    if "error" in record:
        out["error"] = record["error"]
    return out


def to_json(record: dict, language: str | None = None) -> str:
    """:func:`document` as indented JSON text."""
    text = record_json(document(record, language))
    return json.dumps(json.loads(text), ensure_ascii=False, indent=2)


def to_csv(record: dict) -> str:
    """Every paragraph as a CSV row: ``position`` and :data:`PARAGRAPH_KEYS`, with a header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("position", *PARAGRAPH_KEYS))
    for i, par in enumerate(record["paragraphs"]):
        writer.writerow((i, par["text"], par["is_content"], par["probability"], par.get("role", "")))
    return buf.getvalue().rstrip("\n")


def render(record: dict, output_format: str, language: str | None = None) -> str:
    """The text ``chromesift extract --output-format`` writes for one page."""
    if output_format == "txt":
        return record["text"]
    if output_format == "markdown":
        return to_markdown(record)
    if output_format == "json":
        return to_json(record, language)
    if output_format == "csv":
        return to_csv(record)
    raise ValueError(f"unknown output format {output_format!r} (known: {', '.join(FORMATS)})")


def page_language(document: str | bytes | None, format: str | None) -> str | None:
    """The language an HTML page declares (``<html lang>``, ``<meta>``, JSON-LD), or None."""
    if document is None or format == "text":
        return None
    from chromesift import metadata

    try:
        return metadata(document, engine="lxml").get("language")
    except Exception:  # a page the metadata reader cannot read still has its text
        return None
