"""Classify pages from files: many pages (JSONL or WARC in, JSONL out, resumable, in parallel) or one.

Each output line is one page's record (:mod:`chromesift.runtime.core`): ``id``, ``text``
(the main text, one paragraph a line), ``paragraphs`` (``text``, ``is_content``,
``probability`` of every paragraph) and, when the page failed, ``error``. WARC input adds
``url``.

The output file is appended to and flushed after every page, so a killed run loses
at most the pages in flight; running again skips every id already in the output
(a truncated last line is dropped and its page redone). Ids are written so that they
read back exactly (:func:`~chromesift.runtime.core.record_json`), so resuming matches
them whatever characters they hold.

Nothing is lost without a word. An input line that is no page record becomes a failed
record with the id ``<file name>:<line>``, so it is reported once and not reread; WARC
framing faults fail their records (:func:`iter_warc`); a ``.gz`` or ``.xz`` input is read
to its end before any page (:func:`check_compressed`), so a damaged one is refused
before the output is touched.

Worker processes (:mod:`chromesift.runtime.pool`) load the model once each and hold a
few pages at a time (the one they are on and :data:`AHEAD` more), so memory stays flat
however large the input. A page over the size budget becomes an error
record without being classified; a page over the time budget becomes an error record too.
With a time budget pages always run in worker processes, ``--jobs 1`` included (the one
worker gets the model loaded here): an alarm stops a page in Python code, and a worker
still busy :data:`KILL_GRACE` seconds past the budget (a page stuck in lxml's C parser) is
killed and replaced. Without a budget ``--jobs 1`` classifies in this process.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import functools
import gzip
import io
import json
import logging
import lzma
import math
import os
import pickle
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from chromesift.data.page import FORMATS
from chromesift.errors import UserError
from chromesift.runtime.core import (
    MAX_PAGE_BYTES,
    PAGE_TIMEOUT,
    Loader,
    Page,
    PageModel,
    check_scope,
    check_timeout,
    default_loader,
    failed_record,
    format_of,
    load_with,
    one_thread,
    page_record,
    page_size,
    record_json,
    size_error,
    warm_up,
)
from chromesift.runtime.pool import Failure, WorkerStartError, run_pool

log = logging.getLogger(__name__)

#: Seconds a worker gets past the time budget before it is killed. Inside the worker an
#: alarm ends a page over its budget in Python code (the worker lives on); the kill ends
#: one stuck in C code (lxml's parser), which no alarm interrupts.
KILL_GRACE = 1.0
#: Pages handed to a worker beyond the one it is on: it goes on to the next page at once
#: while this process writes the last one's record and reads the next (one page a message
#: and an answer before the next page halved the pages/s of ``--jobs 1``).
AHEAD = 2
#: HTTP content types of WARC response records that are classified.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

#: the ``--input`` that reads JSONL records from standard input
STDIN = "-"
_WARC_SUFFIXES = (".warc", ".warc.gz", ".warc.zst", ".warc.lz4")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.xz", ".ndjson", ".json")


# --- pages in --------------------------------------------------------------------------


@dataclass(frozen=True)
class Skip:
    """An input record that is not a page to classify (``reason``: ``"not_html"``)."""

    reason: str



def _read_error(exc: OSError, name, folder: str) -> UserError:
    """The user's error for a file ``name`` that could not be opened or read (``folder``: what
    to say when it is a folder)."""
    if isinstance(exc, FileNotFoundError):
        return UserError(f"{name}: no such file")
    if isinstance(exc, IsADirectoryError):
        return UserError(f"{name}: {folder}")
    return UserError(f"{name}: cannot read ({exc.strerror or exc})")

def _over_budget(size: int, max_bytes: int | None) -> str | None:
    if max_bytes is not None and size > max_bytes:
        return f"{size_error(size, max_bytes)} (--max-bytes)"
    return None


def read_page(page: str, *, format: str | None = None) -> Page:
    """One page file (or standard input for ``-``) as a :class:`Page` with that path as its id.

    Parameters
    ----------
    page
        File path, ``-``, or an http(s) URL (fetched: :func:`chromesift.runtime.fetch.fetch_page`).
    format
        ``"html"`` or ``"text"``; None decides by the file's suffix, else its first bytes
        (:func:`chromesift.runtime.core.format_of`).

    Raises
    ------
    UserError
        When the file is missing, a folder or unreadable.
    """
    if page == "-":
        document = sys.stdin.buffer.read()
        return Page("-", document, format or format_of(document))
    from chromesift.runtime.fetch import fetch_page, is_url

    if is_url(page):  # fetched; a failure is the page's error
        return fetch_page(page, format=format)
    path = Path(page)
    try:
        document = path.read_bytes()
    except OSError as exc:
        raise _read_error(exc, page, "is a folder; give a file, or use --input for many pages") from None
    return Page(page, document, format or format_of(document, page))


def classify_file(
    source: str,
    *,
    model: Path | None = None,
    format: str | None = None,
    trusted: bool | str = False,
    loader: Loader | None = None,
    threshold: float | None = None,
    favor: str | None = None,
    detail: bool = False,
    scope: str | None = None,
) -> dict:
    """The record of one page file (or standard input for ``-``), classified in this process.

    Parameters
    ----------
    source
        File path, or ``-``; it is the record's ``id``.
    model
        Bundle folder; None for the shipped default.
    format
        ``"html"`` or ``"text"``; None decides by the file's suffix, else its first bytes.
    trusted
        True, or the bundle's sha256, to load a bundle this machine did not write.
    loader
        Turns ``model`` into a model (default :func:`~chromesift.runtime.core.default_loader`).
    threshold, favor, detail, scope
        As for :func:`chromesift.runtime.core.page_records`; with ``detail`` the record also
        has ``language``, the one the page declares (None for text, or when it declares none).

    Returns
    -------
    dict
        The page's record (:mod:`chromesift.runtime.core`); no size or time budget.

    Raises
    ------
    UserError
        For a missing or unreadable file, or a model bundle that cannot be loaded.
    """
    if model is not None and not Path(model).exists():
        raise UserError(f"model bundle {model}: no such folder")
    page = read_page(source, format=format)
    classifier = load_with(loader or default_loader(trusted), model)
    with one_thread():
        record = page_record(classifier, page, max_bytes=None, timeout=None, threshold=threshold,
                             favor=favor, detail=detail, scope=scope)
    if detail:
        from chromesift.runtime.formats import page_language

        record["language"] = page_language(page.document, page.format)
    return record


def input_kind(path: Path) -> str:
    """``"warc"`` or ``"jsonl"`` from the file name, else a UserError."""
    name = Path(path).name.lower()
    if name.endswith(_WARC_SUFFIXES):
        return "warc"
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    raise UserError(
        f"{path}: cannot tell the input format from the name (expected "
        f"{', '.join(_JSONL_SUFFIXES[:3])} or {', '.join(_WARC_SUFFIXES[:2])})"
    )


def open_input(path: Path) -> IO[bytes]:
    """The bytes of an input file, decompressed by its suffix (``.gz``, ``.xz``).

    Raises
    ------
    UserError
        When the file is missing, a folder, or cannot be opened (no permission, ...).
    """
    path = Path(path)
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(path.suffix.lower(), open)
    try:
        return opener(path, "rb")
    except OSError as exc:
        raise _read_error(exc, path, "not a file") from None


#: What decompressing a damaged or cut input raises (gzip: BadGzipFile, an OSError, or
#: zlib.error; cut short: EOFError; xz: LZMAError).
_STREAM_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)


def iter_jsonl(
    path: Path, *, format: str | None = None, max_bytes: int | None = MAX_PAGE_BYTES, checked: bool = False
) -> Iterator[Page]:
    """Pages of a JSONL file: records with ``id`` and ``html`` or ``text``.

    Every line but a blank one gives one page. A line that is no page record (not UTF-8,
    not JSON, nested too deeply, not an object, no usable ``id``) gives a failed page with
    the id ``<file name>:<line number>`` and the reason, so the run goes on, the output
    says what was wrong where, and a rerun does not read the line again.

    Parameters
    ----------
    path
        ``.jsonl``, ``.jsonl.gz`` or ``.jsonl.xz``, or ``-`` (:data:`STDIN`) for JSONL on
        standard input (bad lines get the ids ``stdin:<line>``).
    format
        Force ``"html"`` or ``"text"``; by default ``html`` records are HTML and
        ``text`` records plain text (``html`` wins when a record has both).
    max_bytes
        Size budget; a bigger page is yielded as a failed page.
    checked
        The file passed :func:`check_compressed` already (else it is checked first).

    Raises
    ------
    UserError
        For a file that is missing or unreadable, or whose compressed stream is damaged.
    """
    path = Path(path)
    stdin = str(path) == STDIN
    if not checked and not stdin:
        check_compressed(path)
    where = "stdin" if stdin else path.name
    with contextlib.nullcontext(sys.stdin.buffer) if stdin else open_input(path) as lines:
        try:
            for lineno, raw in enumerate(lines, 1):
                if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                if raw.strip():
                    yield _jsonl_page(raw, f"{where}:{lineno}", format, max_bytes)
        except _STREAM_ERRORS as exc:
            raise UserError(f"{path}: cannot read ({exc})") from None


def _jsonl_page(raw: bytes, where: str, format: str | None, max_bytes: int | None) -> Page:
    """The page of one JSONL line; ``where`` (file:line) is the id of a line that is none."""
    try:
        rec = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Page(where, None, error=f"not UTF-8 (byte {exc.start + 1} of the line)")
    except RecursionError:
        return Page(where, None, error="not valid JSON (nested too deeply)")
    except ValueError as exc:  # JSONDecodeError, or an integer too long to read
        return Page(where, None, error=f"not valid JSON ({getattr(exc, 'msg', exc)})")
    if not isinstance(rec, dict):
        return Page(where, None, error=f"not a JSON object (a JSON {_JSON_KINDS.get(type(rec), 'value')})")
    page_id = rec.get("id")
    if page_id is None or isinstance(page_id, (dict, list)) or page_id == "":
        return Page(where, None, error="record needs an 'id' (a string or number)")
    url = rec.get("url") if isinstance(rec.get("url"), str) else None
    field_name = "html" if isinstance(rec.get("html"), str) else "text"
    document = rec.get(field_name)
    if not isinstance(document, str):
        return Page(page_id, None, url=url, error="record has neither an 'html' nor a 'text' string")
    problem = _over_budget(page_size(document), max_bytes)
    if problem:
        return Page(page_id, None, url=url, error=problem)
    return Page(page_id, document, format or field_name, url=url)


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def iter_warc(
    path: Path, *, format: str | None = None, max_bytes: int | None = MAX_PAGE_BYTES, checked: bool = False
) -> Iterator[Page | Skip]:
    """HTML pages of a WARC file (``.warc``, ``.warc.gz``): response records, HTML content type.

    Every other record (requests, metadata, images, ...) is yielded as a :class:`Skip`.
    The id of a page is its ``WARC-Record-ID``; its URL is kept. Bytes are decoded with
    the HTTP charset when they agree with it, else left to the parser's detection.

    Framing is checked record by record, so no page is lost without a word:

    - a record whose Content-Length runs over the records after it (their WARC headers
      are inside its block) is a failed record saying so; the records it swallowed are
      read from inside it when they are whole, so they still get their own records;
    - a record cut short (the file ends inside it) is a failed record;
    - an HTTP response that cannot be read (broken headers, ``Transfer-Encoding`` or
      ``Content-Encoding``) fails its page alone: it is parsed from a copy of its block,
      so the file's reading goes on;
    - an HTTP charset that is no ASCII-compatible text encoding (a NUL in it, UTF-16,
      EBCDIC, ``rot13``) is ignored.

    A damaged compressed file is refused before any page by :func:`check_compressed`
    (unless ``checked`` says that was done).

    Raises
    ------
    UserError
        When the file is missing or cannot be read as WARC (the message says after which
        record, when some were read).
    """
    from fastwarc.warc import ArchiveIterator

    path = Path(path)
    if not checked:
        check_compressed(path)
    try:
        stream = open(path, "rb")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    at: list[int] = []  # where the last record read starts
    with stream:
        try:
            records = ArchiveIterator(stream, parse_http=False, auto_decode="none")
            yield from _warc_items(records, path.name, format, max_bytes, at)
        except OSError as exc:
            after = f" after the record at byte {at[-1]}" if at else ""
            raise UserError(f"{path}: cannot read as WARC ({exc}){after}") from None


#: The start of a WARC record inside another one's block: the blank line that ends a
#: block, the version line, a header field (bounded, so a chunk overlap can hold it)
_WARC_HEAD = re.compile(rb"\r\n\r\nWARC/\d{1,3}\.\d{1,3}\r\n[A-Za-z][A-Za-z0-9-]{0,40}:")
_HEAD_OVERLAP = 64
#: Bytes of HTTP headers a record may hold beyond the size budget of its page.
_HEADER_ROOM = 1 << 16
#: Records read from inside a record that claimed them are read once more this deep.
_MAX_NESTING = 2
#: WARC headers every record has (WARC 1.1, section 5)
_MANDATORY = ("WARC-Record-ID", "WARC-Type", "WARC-Date", "Content-Length")


class _NotWhole(Exception):
    """What a record holds after its own block is not a run of whole WARC records."""


def _warc_items(records: Any, where: str, format: str | None, max_bytes: int | None,
                at: list[int], depth: int = 0) -> Iterator[Page | Skip]:
    """Pages and skips of the WARC records of ``records``; ``where`` names the file in ids.

    Each record's block is read raw; its HTTP response is parsed from that copy
    (:func:`_http_page`), never on the file's own iterator, which a broken response would
    leave unable to go on.
    """
    from fastwarc.warc import WarcRecordType

    # records up to the size budget (and room for HTTP headers) are read into memory whole,
    # so a swallowed record can be read again from them; a larger one is streamed and only
    # checked. Without a budget every record is held, one at a time: a page of any size is
    # to be read anyway
    hold = max_bytes + _HEADER_ROOM if max_bytes is not None else math.inf
    for rec in records:
        at.append(rec.stream_pos)
        del at[:-1]
        if depth and any(rec.headers.get(h) is None for h in _MANDATORY):
            raise _NotWhole  # a piece of a record, not one swallowed whole
        page_id = rec.record_id or f"{where}@{rec.stream_pos}"
        url = rec.headers.get("WARC-Target-URI")
        length = rec.content_length
        response = rec.record_type == WarcRecordType.response and rec.is_http
        if length > hold:
            yield _big_record(rec.reader, length, page_id, url, response, format, max_bytes)
            continue
        raw = rec.reader.read()
        heads = [m.start() for m in _WARC_HEAD.finditer(raw)]
        if heads:
            yield from _overrun(raw, heads, length, page_id, url, where, rec.stream_pos, format,
                                max_bytes, at, depth)
        elif len(raw) < length:
            yield Page(page_id, None, url=url,
                       error=f"the WARC record is cut short: {len(raw)} of its {length} bytes "
                       "(the file ends inside it)")
        elif response:
            yield _http_page(raw, page_id, url, format, max_bytes)
        else:
            yield Skip("not_html")


def _http_response(block: bytes, decode: str = "all") -> Any:
    """An iterator over one record: ``block``, an HTTP response, with its headers parsed and
    its body decoded (``decode``: "all" or "none"), apart from the file's own iterator."""
    from fastwarc.warc import ArchiveIterator

    head = (b"WARC/1.0\r\nWARC-Type: response\r\nContent-Type: application/http; msgtype=response\r\n"
            b"Content-Length: %d\r\n\r\n" % len(block))
    return ArchiveIterator(io.BytesIO(head + block + b"\r\n\r\n"), parse_http=True, auto_decode=decode)


def _http_page(block: bytes, page_id: Any, url: str | None, format: str | None,
               max_bytes: int | None) -> Page | Skip:
    """The page of a response record's block (Skip when it is not HTML)."""
    try:
        for rec in _http_response(block):
            if not _is_html(rec, format):
                return Skip("not_html")
            if max_bytes is not None and rec.content_length > max_bytes:
                return Page(page_id, None, url=url, error=_over_budget(rec.content_length, max_bytes))
            body = _read_at_most(rec.reader, max_bytes)
            if body is None:
                return Page(page_id, None, url=url, error=f"page decompresses to more than {max_bytes} "
                            "bytes, over the budget (--max-bytes)")
            return Page(page_id, _decode_http(body, rec.http_charset), format or "html", url=url)
    except OSError as exc:  # broken headers, Transfer-Encoding or Content-Encoding
        return Page(page_id, None, url=url, error=f"cannot read the HTTP response ({exc})")
    return Page(page_id, None, url=url, error="cannot read the HTTP response (no response)")


def _is_html(rec: Any, format: str | None) -> bool:
    return (rec.http_content_type or "").lower() in HTML_TYPES or format == "html"


def _big_record(reader: Any, length: int, page_id: Any, url: str | None, response: bool,
                format: str | None, max_bytes: int) -> Page | Skip:
    """A record over the size budget, streamed: a failed page when HTML, else a skip; checked."""
    first = reader.read(_HEADER_ROOM)
    page = None
    if response:
        try:  # the headers are in the first bytes; the body is not needed
            for rec in _http_response(first, decode="none"):
                if _is_html(rec, format):
                    size = length - (len(first) - rec.content_length)  # the block less its headers
                    page = Page(page_id, None, url=url, error=_over_budget(size, max_bytes))
                break
        except OSError as exc:
            page = Page(page_id, None, url=url, error=f"cannot read the HTTP response ({exc})")
    heads, tail, block = 0, b"", first
    while block:  # looking for swallowed records
        chunk = tail + block
        heads += sum(1 for m in _WARC_HEAD.finditer(chunk) if m.end() > len(tail))
        tail = chunk[-_HEAD_OVERLAP:]
        block = reader.read(1 << 20)
    if heads:
        page = _runs_into(page_id, url, heads)
    return page if page is not None else Skip("not_html")


def _runs_into(page_id: Any, url: str | None, heads: int) -> Page:
    return Page(page_id, None, url=url,
                error=f"its Content-Length runs into the next WARC record ({heads} WARC header(s) "
                "inside its block); the records from there on were not read: fix the file")


def _overrun(raw: bytes, heads: list[int], length: int, page_id: Any, url: str | None, where: str,
             pos: int, format: str | None, max_bytes: int | None, at: list[int],
             depth: int) -> Iterator[Page | Skip]:
    """A held record with WARC records inside its block: report it, and read them when whole."""
    from fastwarc.warc import ArchiveIterator

    inside: list[Page | Skip] = []
    if depth < _MAX_NESTING:
        # the claimed records, with the trailer of the last one (which ended this record)
        swallowed = raw[heads[0] + 4:] + b"\r\n\r\n"
        try:
            records = ArchiveIterator(io.BytesIO(swallowed), parse_http=False, auto_decode="none")
            inside = list(_warc_items(records, f"{where}@{pos}>", format, max_bytes, [], depth + 1))
        except (OSError, _NotWhole):  # not whole records: only the report below
            inside = []
        if any(isinstance(i, Page) and (i.error or "").startswith("the WARC record is cut short")
               for i in inside):
            inside = []
    if not inside:
        yield _runs_into(page_id, url, len(heads))
        return
    yield Page(page_id, None, url=url,
               error=f"its Content-Length ({length} bytes) runs over the next {len(inside)} WARC "
               f"record{'s' if len(inside) != 1 else ''}, read from inside it; where this record "
               "ends is unknown, so it is not classified: fix the file")
    yield from inside


def _decode_http(body: bytes, charset: str | None) -> str | bytes:
    """Text by the HTTP charset when the bytes agree; else bytes, for the parser's own rules."""
    codec = _text_codec(charset) if charset else None
    if codec is None:
        return body
    if codec != "utf-8" and not body.isascii():
        with contextlib.suppress(UnicodeDecodeError):
            body.decode("utf-8")
            # valid multi-byte UTF-8 under a legacy label: a stale header, as with <meta>
            return body
    try:
        return body.decode(codec)
    except ValueError:  # UnicodeDecodeError, or a codec's own UnicodeError
        return body


#: printable ASCII and the whitespace of markup: what a charset named in ASCII must read as itself
_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"


@functools.lru_cache(maxsize=64)
def _text_codec(charset: str) -> str | None:
    """The codec an HTTP charset names when it reads ASCII as ASCII, else None.

    A header is ASCII, so it cannot name UTF-16 or EBCDIC truthfully, nor Python's
    transforming codecs (rot13, base64, punycode, ...); a NUL in the name is no name.
    """
    try:
        name = codecs.lookup(charset).name
        return name if _ASCII.decode(name) == _ASCII.decode("ascii") else None
    except (LookupError, ValueError, TypeError):  # ValueError: a NUL, or UnicodeError of a codec
        return None


def _read_at_most(reader: Any, limit: int | None) -> bytes | None:
    """All of ``reader``, or None when it holds more than ``limit`` bytes."""
    if limit is None:
        return reader.read()
    chunks, total = [], 0
    while block := reader.read(min(1 << 20, limit + 1 - total)):
        chunks.append(block)
        total += len(block)
        if total > limit:
            return None
    return b"".join(chunks)


#: Compressions an input is checked for before a run (:func:`check_compressed`).
_CHECKED = {".gz": "Gzip", ".xz": "XZ"}


def count_lines(path: Path) -> int | None:
    """Lines of a plain JSONL input (the progress bar's total), None where they cannot be had cheaply
    (standard input, WARC, compressed files: :func:`check_compressed` counts those)."""
    path = Path(path)
    name = path.name.lower()
    if str(path) == "-" or name.endswith(_WARC_SUFFIXES) or path.suffix.lower() in _CHECKED:
        return None
    try:
        with open(path, "rb") as f:
            n, last = 0, b"\n"
            while chunk := f.read(1 << 22):
                n += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return None  # open_input says why
    return n + (last != b"\n")


def check_compressed(path: Path, *, progress: bool = False) -> int | None:
    """Read a ``.gz`` or ``.xz`` input to its end once, so a damaged one is refused before any page.

    A compressed stream proves itself only at its end (gzip: a CRC and the length after
    each member; xz: the check of each block), after its pages were read. Classified and
    written before that, a garbled page would stay in the output and count as done on
    every rerun; so the whole file is decompressed first (about a second per 300 MB of
    pages, small beside classifying them), and a file that is damaged or cut short
    (a crawl still being written) gives one error and no output. WARC files compressed
    with zstd or lz4 are not checked ahead.

    Raises
    ------
    UserError
        Naming the file and the decompressor's finding.
    """
    path = Path(path)
    kind = _CHECKED.get(path.suffix.lower())
    if kind is None:
        return None
    from tqdm.auto import tqdm

    warc = " as WARC" if path.name.lower().endswith(_WARC_SUFFIXES) else ""
    size = 0
    with contextlib.suppress(OSError):  # a missing file: open_input below says so
        size = path.stat().st_size
    with open_input(path) as f, tqdm(total=size, unit="B", unit_scale=True, desc=f"checking {path.name}",
                                     disable=not progress or size < (64 << 20), file=sys.stderr) as bar:
        raw = getattr(f, "fileobj", None) or getattr(f, "_fp", None)  # the compressed file, for the bar
        lines, last = 0, b"\n"
        try:
            while chunk := f.read(1 << 20):
                if isinstance(chunk, str):  # (a text-mode reader)
                    chunk = chunk.encode("utf-8", "surrogatepass")
                lines += chunk.count(b"\n")
                last = chunk[-1:]
                if raw is not None:
                    bar.update(raw.tell() - bar.n)
        except _STREAM_ERRORS as exc:
            raise UserError(
                f"{path}: cannot read{warc} ({kind} decompression error: {exc}); the file is damaged "
                "or cut short, so none of its pages was classified"
            ) from None
    return None if warc else lines + (last != b"\n")


def iter_input(
    path: Path, *, format: str | None = None, max_bytes: int | None = MAX_PAGE_BYTES, checked: bool = False
) -> Iterator[Page | Skip]:
    """Pages of a JSONL or WARC file, chosen by its name (``checked``: as for :func:`iter_jsonl`);
    ``-`` reads JSONL from standard input."""
    path = Path(path)
    if str(path) == STDIN:
        return iter_jsonl(path, format=format, max_bytes=max_bytes, checked=True)
    kind = input_kind(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    if kind == "warc":
        return iter_warc(path, format=format, max_bytes=max_bytes, checked=checked)
    return iter_jsonl(path, format=format, max_bytes=max_bytes, checked=checked)


# --- output ----------------------------------------------------------------------------


def read_done(path: Path) -> set[str]:
    """Ids already in an output file; drops a truncated last line from a killed run.

    Raises
    ------
    UserError
        When a line other than the last is not JSON, a record has no ``id``, or the file
        cannot be read and written.
    """
    path = Path(path)
    done: set[str] = set()
    if not path.exists():
        return done
    try:
        f = open(path, "rb+")
    except OSError as exc:
        raise UserError(f"{path}: cannot read and append to it ({exc.strerror or exc})") from None
    with f:
        data_end = f.seek(0, os.SEEK_END)
        f.seek(0)
        lineno, offset = 0, 0
        for raw in f:
            lineno += 1
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (ValueError, RecursionError):
                if offset == data_end and not raw.endswith(b"\n"):
                    log.info("%s: dropping a truncated last line (its page is redone)", path)
                    f.truncate(start)
                    break
                raise UserError(
                    f"{path}:{lineno}: not valid JSON, and not a truncated last line either; "
                    "fix or remove the output file"
                ) from None
            if not isinstance(rec, dict) or "id" not in rec:
                raise UserError(f"{path}:{lineno}: not a chromesift output record (no 'id')")
            done.add(str(rec["id"]))
        else:
            if data_end and not raw.endswith(b"\n"):
                f.write(b"\n")  # a complete record cut before its newline
    return done


class _Sink:
    """Appends records, one JSON line each (:func:`~chromesift.runtime.core.record_json`), flushed at once.

    Lines are written as UTF-8 bytes whatever the locale, to a file or to the byte stream
    under standard output, so no id or text can fail to encode.
    """

    def __init__(self, stream: IO[str] | IO[bytes]):
        self.stream = stream
        # a text stream (standard output) gets bytes through the binary stream under it;
        # one without (io.StringIO) takes the text, which record_json keeps encodable
        binary = isinstance(stream, (io.RawIOBase, io.BufferedIOBase))
        self.raw = stream if binary else getattr(stream, "buffer", None)

    def write(self, record: dict) -> None:
        line = record_json(record) + "\n"
        if self.raw is None:
            self.stream.write(line)
            self.stream.flush()
            return
        if self.raw is not self.stream:
            self.stream.flush()  # what the text layer holds goes first
        self.raw.write(line.encode("utf-8"))
        self.raw.flush()


# --- the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchConfig:
    """What a batch run does.

    Attributes
    ----------
    input
        JSONL (``id`` and ``html`` or ``text``) or WARC file.
    output
        JSONL output, appended to and resumed; None writes to standard output.
    model
        Model bundle folder; None for the shipped default.
    format
        ``"html"`` or ``"text"`` for every page; None decides per record.
    jobs
        Worker processes (1 with no time budget: classify in this process).
    max_bytes
        Per-page size budget (None: no limit).
    timeout
        Per-page time budget in seconds (None, 0 or ``inf``: no limit; at most
        :data:`~chromesift.runtime.core.MAX_TIMEOUT`).
    progress
        Show a progress bar on standard error.
    trusted
        True, or the bundle's sha256, to load a bundle this machine did not write.
    threshold
        Decision threshold instead of the model's (None: the model's own).
    favor
        ``"precision"`` or ``"recall"``: the model's threshold moved by a preset step.
    scope
        ``"auto"`` (None: the default), ``"article"`` or ``"all"``: what counts as content
        (:meth:`chromesift.Model.classify`).
    urls
        ``input`` is a list of URLs, one a line (:func:`chromesift.runtime.fetch.read_urls`),
        fetched politely (:func:`chromesift.runtime.fetch.fetch_pages`); the id of a page
        is its URL, and URLs already in the output are not fetched again.
    delay
        With ``urls``: seconds between two requests to the same host.
    """

    input: Path
    output: Path | None = None
    model: Path | None = None
    format: str | None = None
    jobs: int = 1
    max_bytes: int | None = MAX_PAGE_BYTES
    timeout: float | None = PAGE_TIMEOUT
    progress: bool = True
    trusted: bool | str = False
    threshold: float | None = None
    favor: str | None = None
    scope: str | None = None
    urls: bool = False
    delay: float = 1.0


@dataclass
class BatchSummary:
    """Counts of a run."""

    done: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def pages_per_second(self) -> float:
        """Pages classified (done or failed) per second of wall time."""
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def skip(self, reason: str) -> None:
        """Count one skipped record."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def line(self) -> str:
        """One human line: done, skipped (by reason), failed, pages/s."""
        total = sum(self.skipped.values())
        reasons = ", ".join(f"{_SKIP_NAMES.get(k, k)} {v}" for k, v in sorted(self.skipped.items()))
        return (
            f"{self.done} done, {total} skipped" + (f" ({reasons})" if reasons else "")
            + f", {self.failed} failed, {self.pages_per_second:.1f} pages/s"
        )


_SKIP_NAMES = {"done": "already in output", "not_html": "not HTML", "duplicate": "duplicate id"}


def run_batch(config: BatchConfig, *, loader: Loader | None = None) -> BatchSummary:
    """Classify every page of ``config.input`` and write one JSON line per page.

    Parameters
    ----------
    config
        The run.
    loader
        Turns ``config.model`` into a model (default :func:`~chromesift.runtime.core.default_loader`). With
        ``jobs > 1`` it runs in each worker process, so it must be picklable
        (a module-level function).

    Returns
    -------
    BatchSummary
        Pages done, failed and skipped, and the wall time.

    Raises
    ------
    UserError
        For a missing or unreadable input, an unreadable model bundle, a bad option, or an
        output file that is not a previous run's output. (An input line that is no page
        record is a failed record, id ``<file name>:<line>``, and the run goes on.)
    """
    from tqdm.auto import tqdm

    loader = loader or default_loader(config.trusted)
    config = dataclasses.replace(config, timeout=check_timeout(config.timeout))
    if config.jobs < 1:
        raise UserError("--jobs must be at least 1")
    if config.format not in (None, *FORMATS):
        raise UserError(f"--format must be one of {', '.join(FORMATS)}")
    if config.model is not None and not Path(config.model).exists():
        raise UserError(f"model bundle {config.model}: no such folder")
    if config.urls:
        items = _url_items(config)
        total = count_lines(config.input) if config.progress else None  # (one URL a line)
    else:
        items = iter_input(config.input, format=config.format, max_bytes=config.max_bytes, checked=True)
        # before the output is touched; the lines of a JSONL input are the progress bar's total
        total = check_compressed(config.input, progress=config.progress)
        if total is None and config.progress:  # (a pass over the file only for a bar to show)
            total = count_lines(config.input)
    if config.output is not None and Path(config.output).name.endswith((".gz", ".xz", ".bz2", ".zst")):
        raise UserError(
            f"{config.output}: output is written as plain JSONL (appended to, so runs can "
            "resume); compress it when the run is over"
        )
    # in this process the model loads before anything is written, so a bad bundle
    # leaves no empty output behind; with --jobs 1 and a budget, the one worker gets this
    # model; more workers load their own copy
    model = load_with(loader, config.model) if config.jobs == 1 else None
    if config.scope is not None:  # (workers load their own model: this one only checks the scope)
        check_scope(model if model is not None else load_with(loader, config.model), config.scope)
    summary = BatchSummary()
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if config.output is None:
            done_before: set[str] = set()
            sink = _Sink(sys.stdout)
        else:
            out = Path(config.output)
            if out.parent != Path("") and not out.parent.is_dir():
                raise UserError(f"{out}: folder {out.parent} does not exist")
            done_before = read_done(out)
            try:
                stream = stack.enter_context(open(out, "ab"))
            except OSError as exc:
                raise UserError(f"cannot write {out}: {exc.strerror}") from None
            sink = _Sink(stream)
        bar = stack.enter_context(
            tqdm(desc="pages", unit="page", total=total, disable=not config.progress, file=sys.stderr,
                 dynamic_ncols=True)
        )
        feed = _Feed(items, done_before, summary, sink, bar)
        try:
            if model is not None and config.timeout is None:
                _run_here(feed, model, config)
            elif model is not None:  # a budget needs a process that can be killed at it
                _run_workers(feed, _model_loader(model), config)
            else:
                _run_workers(feed, loader, config)
        except KeyboardInterrupt:
            summary.seconds = time.perf_counter() - started
            log.warning("interrupted after %s; run again to resume", summary.line())
            raise
        finally:
            summary.seconds = time.perf_counter() - started
    return summary


def _url_items(config: BatchConfig) -> Iterator[Page | Skip]:
    """The pages of a URL list, fetched lazily; URLs already in the output are skips, not fetched."""
    from chromesift.runtime.fetch import fetch_pages, read_urls

    urls = read_urls(config.input)
    done = read_done(config.output) if config.output is not None and Path(config.output).is_file() else set()
    todo = [u for u in dict.fromkeys(urls) if u not in done]  # each URL fetched once

    def items() -> Iterator[Page | Skip]:
        fetched = fetch_pages(todo, delay=config.delay, max_bytes=config.max_bytes, format=config.format)
        seen: set[str] = set()
        for url in urls:
            if url in done:
                yield Skip("done")
            elif url in seen:
                yield Skip("duplicate")
            else:
                seen.add(url)
                yield next(fetched)

    return items()


class _Feed:
    """Pulls pages from the input, counting skips and writing failures found while reading."""

    def __init__(self, items: Iterator[Page | Skip], done_before: set[str], summary: BatchSummary,
                 sink: _Sink, bar: Any):
        self.items = items
        self.done_before = done_before
        self.seen: set[str] = set()
        self.summary = summary
        self.sink = sink
        self.bar = bar

    def pages(self, failed: bool = False) -> Iterator[Page]:
        """The pages to classify, lazily; the others are counted or written on the way.

        ``failed``: pages read with an ``error`` come too, for their failed record to be made
        where the others' are (worker processes that run ahead of what is written, so that
        the records keep the input's order), instead of being written here at once.
        """
        for item in self.items:
            if isinstance(item, Skip):
                self._skip(item.reason)
                continue
            key = str(item.id)
            if key in self.done_before:
                self._skip("done")
                continue
            if key in self.seen:
                log.warning("id %s appears again in the input; only its first page is kept", key)
                self._skip("duplicate")
                continue
            self.seen.add(key)
            if item.error is not None and not failed:
                self.record(failed_record(item, item.error))
                continue
            yield item

    def record(self, record: dict) -> None:
        """Write one finished page."""
        self.sink.write(record)
        if "error" in record:
            self.summary.failed += 1
        else:
            self.summary.done += 1
        self.bar.update(1)
        self._postfix()

    def _skip(self, reason: str) -> None:
        self.summary.skip(reason)
        self.bar.update(1)
        self._postfix()

    def _postfix(self) -> None:
        self.bar.set_postfix(
            failed=self.summary.failed, skipped=sum(self.summary.skipped.values()), refresh=False
        )


def _run_here(feed: _Feed, model: PageModel, config: BatchConfig) -> None:
    """Classify in this process (no time budget: nothing here could stop a page at one)."""
    with one_thread():
        for page in feed.pages():
            feed.record(page_record(model, page, max_bytes=config.max_bytes, timeout=None,
                                    threshold=config.threshold, favor=config.favor, scope=config.scope))


def _loaded(model: PageModel, path: Path | None) -> PageModel:
    """A loader of a model already loaded (picklable with it: a worker gets this very model)."""
    return model


def _model_loader(model: PageModel) -> Loader:
    """The loader that hands a worker the model loaded here, or a UserError when it cannot travel."""
    try:
        pickle.dumps(model)
    except Exception as exc:  # a stand-in model holding a lock, a lambda, ...
        raise UserError(
            f"the model cannot be sent to a worker process ({type(exc).__name__}: {exc}); "
            "a time budget needs one: run without it (timeout None, --timeout 0)"
        ) from None
    return functools.partial(_loaded, model)


# --- worker processes ------------------------------------------------------------------


def _worker_setup(
    loader: Loader, model_path: Path | None, max_bytes: int | None, timeout: float | None,
    threshold: float | None = None, favor: str | None = None, scope: str | None = None,
) -> Callable[[Page], dict]:
    """In a worker process: load the model once; the handler classifies one page."""
    model = load_with(loader, model_path)
    # held for the worker's life: it classifies one page at a time, other workers run beside it
    contextlib.ExitStack().enter_context(one_thread())
    warm_up(model)  # first-call costs before the worker is ready, not out of a page's budget
    return functools.partial(page_record, model, max_bytes=max_bytes, timeout=timeout, threshold=threshold,
                             favor=favor, scope=scope)


def _failure_error(failure: Failure, config: BatchConfig) -> str:
    if failure.kind == "timeout":
        return f"took longer than the {config.timeout:g} s budget (--timeout); its worker was killed"
    if failure.kind == "died":
        return f"the worker process died on this page (exit code {failure.exitcode})"
    return failure.detail


def _run_workers(feed: _Feed, loader: Loader, config: BatchConfig) -> None:
    hard_limit = config.timeout + KILL_GRACE if config.timeout else None
    results = run_pool(
        feed.pages(failed=True), _worker_setup, (loader, config.model, config.max_bytes, config.timeout, config.threshold,
                                          config.favor, config.scope),
        workers=config.jobs, job_timeout=hard_limit, ahead=AHEAD,
    )
    try:
        with contextlib.closing(results):
            for page, outcome in results:
                if isinstance(outcome, Failure):
                    outcome = failed_record(page, _failure_error(outcome, config))
                feed.record(outcome)
    except WorkerStartError as exc:
        if exc.kind == "failed":
            raise UserError(exc.reason) from None
        raise UserError(
            f"a worker process could not start (exit code {exc.exitcode}; its error is above). Run "
            "from a script, a batch must start under `if __name__ == \"__main__\":`, since each "
            "worker process imports the main module"
        ) from None


# --- a folder of pages -------------------------------------------------------------------

#: the page files ``--input-dir`` reads
PAGE_GLOBS = ("*.html", "*.htm")


@dataclass(frozen=True)
class DirConfig:
    """What a run over a folder of page files does (``chromesift extract --input-dir``).

    Attributes
    ----------
    input
        Folder read for ``*.html`` and ``*.htm`` files, its subfolders included.
    output
        Folder written: one file per page, at the page's path below ``input`` with the
        suffix of ``output_format`` (``page.html`` -> ``page.md``); made when missing.
    output_format
        ``txt``, ``markdown``, ``json`` or ``csv`` (:mod:`chromesift.runtime.formats`).
    model, format, max_bytes, timeout, progress, trusted, threshold, favor, scope
        As for :class:`BatchConfig`; the time budget is an alarm in this process (it stops
        a page in Python code, not one stuck in lxml's parser).
    """

    input: Path
    output: Path
    output_format: str = "txt"
    model: Path | None = None
    format: str | None = None
    max_bytes: int | None = MAX_PAGE_BYTES
    timeout: float | None = PAGE_TIMEOUT
    progress: bool = True
    trusted: bool | str = False
    threshold: float | None = None
    favor: str | None = None
    scope: str | None = None


def page_files(folder: Path) -> list[Path]:
    """The page files of a folder and its subfolders (:data:`PAGE_GLOBS`), sorted."""
    found = {p for pattern in PAGE_GLOBS for p in Path(folder).rglob(pattern) if p.is_file()}
    return sorted(found)


def run_dir(config: DirConfig, *, loader: Loader | None = None) -> BatchSummary:
    """Classify every page file of ``config.input`` into a file of its own in ``config.output``.

    Resumable: a page whose output file exists is skipped (counted as already done). Each
    output is written to a temporary name and renamed, so a killed run leaves no half file
    that a rerun would take as done. A page that fails gets no output file (so a rerun
    tries it again); its reason is logged and counted.

    Raises
    ------
    UserError
        For a missing input folder, an output that is not a folder, or a model that cannot be loaded.
    """
    from tqdm.auto import tqdm

    from chromesift.runtime.formats import SUFFIXES, page_language, render

    source, target = Path(config.input), Path(config.output)
    if not source.is_dir():
        raise UserError(f"{source}: no such folder")
    if target.exists() and not target.is_dir():
        raise UserError(f"{target}: not a folder (--input-dir writes one file per page into a folder)")
    if config.output_format not in SUFFIXES:
        raise UserError(f"unknown output format {config.output_format!r}")
    if config.model is not None and not Path(config.model).exists():
        raise UserError(f"model bundle {config.model}: no such folder")
    timeout = check_timeout(config.timeout)
    model = load_with(loader or default_loader(config.trusted), config.model)
    check_scope(model, config.scope)
    files = page_files(source)
    summary = BatchSummary()
    started = time.perf_counter()
    detail = config.output_format != "txt"
    with one_thread(), tqdm(files, desc="pages", unit="page", disable=not config.progress,
                            file=sys.stderr, dynamic_ncols=True) as bar:
        for path in bar:
            rel = path.relative_to(source)
            out = target / rel.with_suffix(SUFFIXES[config.output_format])
            if out.exists():
                summary.skip("done")
                continue
            try:
                document = path.read_bytes()
            except OSError as exc:
                page = Page(str(rel), None, error=f"cannot read ({exc.strerror or exc})")
            else:
                page = Page(str(rel), document, config.format or format_of(document, path.name))
                problem = _over_budget(page_size(document), config.max_bytes)
                if problem:
                    page = Page(page.id, None, error=problem)
            record = page_record(model, page, max_bytes=None, timeout=timeout, threshold=config.threshold,
                                 favor=config.favor, detail=detail, scope=config.scope)
            if "error" in record:
                log.warning("%s: %s", rel, record["error"])
                summary.failed += 1
                continue
            language = page_language(page.document, page.format) if config.output_format == "json" else None
            text = render(record, config.output_format, language)
            out.parent.mkdir(parents=True, exist_ok=True)
            part = out.with_name(out.name + ".part")
            part.write_text(text + ("\n" if text else ""), encoding="utf-8")
            os.replace(part, out)
            summary.done += 1
    summary.seconds = time.perf_counter() - started
    return summary
