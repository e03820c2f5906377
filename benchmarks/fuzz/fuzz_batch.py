"""Coverage-guided fuzz target (atheris): the batch command's readers (JSONL and WARC input).

Each input is one input file. Its first byte picks the kind (``.jsonl``, ``.jsonl.gz``,
``.warc``, ``.warc.gz``) and, for the compressed kinds, whether the rest is compressed
first (three in four: so the fuzzer mostly reaches the reader) or written as given (a
damaged or cut gzip stream). The target reads the file as ``chromesift extract --input``
does (:func:`check_compressed`, then :func:`iter_input`) and writes each page's record as
the batch writes it. It fails (a crash libFuzzer saves as ``crash-<sha1>``) on:

- any exception but UserError, and any UserError from a plain ``.jsonl`` file (every
  line of one must become a page; only a file that cannot be read or a WARC that cannot be
  parsed is a UserError);
- a ``.jsonl`` file whose pages are not one per non-blank line;
- an item that is neither a Page nor a Skip; a failed page that holds a document; a page
  without an error whose document is not text (or, from WARC, bytes) or whose id is empty;
- records that do not read back: written with ``record_json``, every line must be UTF-8
  JSON and :func:`read_done` must give back exactly the pages' ids.

Run (see README.md beside this file)::

    .venv/bin/python benchmarks/fuzz/fuzz_batch.py -atheris_runs=20000 -dict=benchmarks/fuzz/batch.dict CORPUS_DIR

``--write-seeds DIR`` fills a corpus folder with hand-made JSONL and WARC files first.
"""

from __future__ import annotations

import gzip
import sys
import tempfile
import uuid
from pathlib import Path

_KINDS = ("in.jsonl", "in.jsonl.gz", "crawl.warc", "crawl.warc.gz")
#: A small size budget and room for HTTP headers, so that records of a few hundred bytes
#: take both WARC paths: held in memory, and streamed past the budget.
MAX_BYTES = 400
HEADER_ROOM = 256
_state: dict = {}


def test_one_input(data: bytes) -> None:
    """The fuzz target: read one input file as the batch command does, checking the contracts."""
    from chromesift.errors import UserError
    from chromesift.runtime import batch
    from chromesift.runtime.core import failed_record, record_json

    if not data:
        return
    name = _KINDS[data[0] % len(_KINDS)]
    body = data[1:]
    if name.endswith(".gz") and (data[0] >> 2) % 4:
        body = gzip.compress(body, compresslevel=1, mtime=0)
    folder: Path = _state["folder"]
    for old in folder.iterdir():
        old.unlink()
    path = folder / name
    path.write_bytes(body)
    try:
        batch.check_compressed(path)
        items = list(batch.iter_input(path, max_bytes=MAX_BYTES))
    except UserError as exc:
        assert name != "in.jsonl", f"a plain JSONL file raised {exc}"
        assert str(exc).startswith(str(path)), f"a UserError not naming the file: {exc}"
        return
    pages = [item for item in items if isinstance(item, batch.Page)]
    assert all(isinstance(item, (batch.Page, batch.Skip)) for item in items), items
    if name.startswith("in.jsonl"):
        raw = (gzip.decompress(body) if name.endswith(".gz") else body).split(b"\n")
        if raw[0].startswith(b"\xef\xbb\xbf"):
            raw[0] = raw[0][3:]
        assert len(pages) == len(items) == sum(1 for line in raw if line.strip()), "not a page per line"
    for page in pages:
        assert page.id not in (None, "") and not isinstance(page.id, (dict, list)), page
        if page.error is not None:
            assert page.document is None and isinstance(page.error, str) and page.error, page
        else:
            assert isinstance(page.document, (str, bytes) if name.startswith("crawl") else str), page
    out = folder / "out.jsonl"
    with open(out, "wb") as f:
        for page in pages:
            f.write(record_json(failed_record(page, page.error or "fuzz")).encode("utf-8") + b"\n")
    assert batch.read_done(out) == {str(page.id) for page in pages}, "ids do not read back"


def _warc(rtype: str, uri: str, block: bytes, ctype: str, length: int | None = None) -> bytes:
    head = (f"WARC/1.0\r\nWARC-Type: {rtype}\r\nWARC-Record-ID: <urn:uuid:{uuid.UUID(int=len(block))}>\r\n"
            f"WARC-Date: 2024-05-01T12:00:00Z\r\nWARC-Target-URI: {uri}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(block) if length is None else length}\r\n\r\n")
    return head.encode() + block + b"\r\n\r\n"


def _http(body: bytes, extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def write_seeds(folder: Path) -> int:
    """Hand-made inputs: JSONL records good and bad, WARC records with the framing faults found."""
    folder.mkdir(parents=True, exist_ok=True)
    resp = "application/http; msgtype=response"
    page = b"<html><body><nav>Home</nav><p>A paragraph long enough to be the page's content.</p></body></html>"
    good = _warc("response", "http://a.example/", _http(page), resp)
    chunked = _warc("response", "http://a.example/c", _http(b"10\r\n<p>0123456789ab</p>\r\n0\r\n\r\n",
                                                             "Transfer-Encoding: chunked\r\n"), resp)
    encoded = _warc("response", "http://a.example/g", _http(gzip.compress(page), "Content-Encoding: gzip\r\n"), resp)
    claims = _http(page) + b"\r\n\r\n" + good[:-4]
    seeds = {
        "jsonl": (0, b'{"id": "a", "html": "<p>x</p>", "url": "http://a"}\n{"id": 7, "text": "line\\nline"}\n'
                     b'{"html": "no id"}\n[1, 2]\n{"id": "sur\\ud800", "html": "caf\xc3\xa9"}\n\xef\xbb\xbf{"id": 1}\n'),
        "jsonl-gz": (1, b'{"id": "a", "html": "<p>x</p>"}\n{not json\n'),
        "warc": (2, good + chunked + encoded + _warc("request", "http://a.example/", b"GET / HTTP/1.1\r\n\r\n",
                                                     "application/http; msgtype=request")),
        "warc-gz": (3, good + encoded),
        "warc-claims": (2, _warc("response", "http://a.example/1", _http(page), resp, length=len(claims)) + good),
        "warc-cut": (2, (good + good)[:-30]),
    }
    for name, (kind, body) in seeds.items():
        (folder / name).write_bytes(bytes([kind | 4]) + body)  # compressed kinds: compress first
    return len(seeds)


def main(argv: list[str]) -> None:
    """Set up atheris with libFuzzer's arguments and fuzz until it stops."""
    if len(argv) > 2 and argv[1] == "--write-seeds":
        print(f"{write_seeds(Path(argv[2]))} seeds in {argv[2]}")
        return
    import atheris

    with atheris.instrument_imports(include=["chromesift"]):
        import chromesift.runtime.batch
        import chromesift.runtime.core  # noqa: F401

    chromesift.runtime.batch._HEADER_ROOM = HEADER_ROOM
    _state["folder"] = Path(tempfile.mkdtemp(prefix="chromesift-fuzz-batch-"))
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
