"""Batch classification: JSONL and WARC input, resumable output, budgets, worker processes.

Most tests use a stand-in model (a paragraph is content when longer than 40
characters) so that they test the batch machinery itself; one test runs the real
``chromesift.load_model()``.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import chromesift
from chromesift.data.html import parse_html
from chromesift.data.text import parse_text
from chromesift.errors import BundleError, UserError
from chromesift.runtime import batch, core
from chromesift.runtime.batch import BatchConfig, run_batch

FIXTURES = Path(__file__).parent / "fixtures"
LONG = "This paragraph is long enough to count as the main content of its page."


class FakeModel:
    """Content = longer than 40 characters; marker words make a page misbehave."""

    def classify(self, document, *, format=None):
        frame = parse_text(document) if format == "text" else parse_html(document)
        joined = " ".join(frame["text"])
        if "EXPLODE" in joined:
            raise ValueError("the fake model refuses this page")
        if "SLOW" in joined:
            time.sleep(30)
        if "STUCK" in joined:  # ignores the in-worker alarm, as C code would
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            time.sleep(30)
        if "CRASH" in joined:
            os._exit(3)
        frame["is_content"] = frame["text"].str.len() > 40
        frame["probability"] = (frame["text"].str.len() / 80).clip(upper=1.0)
        return frame


def fake_loader(path):
    """Module-level, so worker processes can unpickle it."""
    return FakeModel()


class SlowModel(FakeModel):
    """20 ms a page (module-level: a worker process unpickles it)."""

    def classify(self, document, *, format=None):
        time.sleep(0.02)
        return super().classify(document, format=format)


def slow_loader(path):
    return SlowModel()


def failing_loader(path):
    raise BundleError("model.joblib sha256 differs from metadata.json")


def page_html(i: int) -> str:
    return f"<html><body><nav><a href='/'>Home</a></nav><p>Page {i}. {LONG}</p><footer>(c)</footer></body></html>"


def write_jsonl(path: Path, records: list[dict], broken_at: int | None = None) -> Path:
    lines = [json.dumps(r) for r in records]
    if broken_at is not None:
        lines.insert(broken_at, '{"id": "broken", "html": "<p>unterminated')
    text = "".join(line + "\n" for line in lines)
    if path.suffix == ".xz":
        with lzma.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    elif path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def read_out(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def config(inp: Path, out: Path | None, **kw) -> BatchConfig:
    return BatchConfig(input=inp, output=out, progress=False, **kw)


# --- format detection and input readers ------------------------------------------------


@pytest.mark.parametrize(
    ("document", "name", "expected"),
    [
        ("<!DOCTYPE html><html><p>x</p>", None, "html"),
        (b"  <div class=a>x</div>", None, "html"),
        ("Just words.\nAnd more words, 3 < 4 > 2.", None, "text"),
        ("<p>tagged</p>", "notes.txt", "text"),
        ("plain words", "page.htm", "html"),
        ("", None, "text"),
    ],
)
def test_detect_format(document, name, expected):
    assert core.format_of(document, name) == expected


def test_jsonl_records_pick_html_then_text(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl.gz", [
        {"id": "h", "html": "<p>x</p>", "text": "ground truth, not the page"},
        {"id": 7, "text": "line one\nline two"},
        {"id": "none", "url": "http://x"},
    ])
    jobs = list(batch.iter_jsonl(path))
    assert [(j.id, j.format, j.error is None) for j in jobs] == [
        ("h", "html", True), (7, "text", True), ("none", None, False)]
    assert jobs[0].document == "<p>x</p>"
    assert "neither an 'html' nor a 'text'" in jobs[2].error


def test_broken_jsonl_line_is_an_error_page_named_by_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl.xz", [{"id": 1, "html": "<p>a</p>"}] * 3, broken_at=2)
    pages = list(batch.iter_jsonl(path))
    assert [p.id for p in pages] == [1, 1, "in.jsonl.xz:3", 1]
    assert pages[2].document is None and pages[2].error.startswith("not valid JSON (")


def test_record_without_id_is_an_error_page_named_by_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "html": "x"}, {"html": "<p>b</p>"}, {"id": [1], "html": "y"}])
    pages = list(batch.iter_jsonl(path))
    assert [p.id for p in pages] == ["a", "in.jsonl:2", "in.jsonl:3"]
    assert pages[1].error == pages[2].error == "record needs an 'id' (a string or number)"


@pytest.mark.parametrize(("line", "error"), [
    (b"[1, 2]", "not a JSON object"),
    (b'{"id": "x", "html": "caf\xe9"}', "not UTF-8"),
    (b"[" * 100_000, "not valid JSON (nested too deeply)"),
    (b'{"id": "deep", "html": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not valid JSON (nested too deeply)"),
    (b'{"id": "nul", "html": "a\x00b"}', "not valid JSON ("),
])
def test_any_bad_line_is_an_error_page(tmp_path, line, error):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1, "html": "<p>a</p>"}\n' + line + b'\n{"id": 2, "text": "b"}\n')
    pages = list(batch.iter_jsonl(path))
    assert [p.id for p in pages] == [1, "in.jsonl:2", 2]
    assert pages[1].error.startswith(error)


def test_a_byte_order_mark_before_the_first_record_is_no_error(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": 1, "html": "<p>a</p>"}\n')
    (page,) = batch.iter_jsonl(path)
    assert (page.id, page.error) == (1, None)


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.jsonl", "no such file"), ("pages.csv", "cannot tell the input format")],
)
def test_bad_input_paths(tmp_path, name, message):
    with pytest.raises(UserError, match=message):
        run_batch(config(tmp_path / name, tmp_path / "out.jsonl"), loader=fake_loader)


# --- a WARC file written by hand ---------------------------------------------------------


def warc_raw(rtype: str, uri: str, block: bytes, content_type: str, length: int | None = None) -> bytes:
    """One uncompressed WARC record; ``length`` overrides its Content-Length."""
    head = (
        f"WARC/1.0\r\nWARC-Type: {rtype}\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
        f"WARC-Date: 2024-05-01T12:00:00Z\r\nWARC-Target-URI: {uri}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(block) if length is None else length}\r\n\r\n"
    ).encode()
    return head + block + b"\r\n\r\n"


def warc_record(rtype: str, uri: str, block: bytes, content_type: str) -> bytes:
    return gzip.compress(warc_raw(rtype, uri, block, content_type))  # one gzip member per record


def http_response(body: bytes, content_type: str, extra: str = "") -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def make_warc(path: Path) -> Path:
    resp = "application/http; msgtype=response"
    cafe = f"<html><body><p>Caf\u00e9 cr\u00e8me, na\u00efve. {LONG}</p></body></html>".encode("cp1252")
    records = [
        warc_record("warcinfo", "", b"software: hand-made\r\n", "application/warc-fields"),
        warc_record("request", "http://a.example/", b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
                    "application/http; msgtype=request"),
        warc_record("response", "http://a.example/", http_response(cafe, "text/html; charset=windows-1252"), resp),
        warc_record("response", "http://a.example/logo.png", http_response(b"\x89PNG\r\n\x1a\n", "image/png"), resp),
        warc_record("response", "http://a.example/gz",
                    http_response(gzip.compress(page_html(2).encode()), "text/html", "Content-Encoding: gzip\r\n"), resp),
        warc_record("response", "http://a.example/big",
                    http_response(b"<p>" + b"x" * 5000 + b"</p>", "text/html"), resp),
        warc_record("metadata", "http://a.example/", b"via: test\r\n", "application/warc-fields"),
        warc_record("response", "http://a.example/x", http_response(page_html(3).encode(), "application/xhtml+xml"), resp),
    ]
    path.write_bytes(b"".join(records))
    return path


def test_warc_html_responses_are_classified_and_the_rest_counted(tmp_path):
    warc = make_warc(tmp_path / "crawl.warc.gz")
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(warc, out, max_bytes=4000), loader=fake_loader)
    records = read_out(out)
    by_url = {r["url"]: r for r in records}
    assert set(by_url) == {"http://a.example/", "http://a.example/gz", "http://a.example/big",
                           "http://a.example/x"}
    assert by_url["http://a.example/"]["text"].startswith("Caf\u00e9 cr\u00e8me, na\u00efve.")
    assert by_url["http://a.example/gz"]["text"] == f"Page 2. {LONG}"
    assert "--max-bytes" in by_url["http://a.example/big"]["error"]
    assert all(r["id"].startswith("<urn:uuid:") for r in records)
    assert summary.done == 3 and summary.failed == 1
    assert summary.skipped == {"not_html": 4}  # warcinfo, request, image, metadata
    assert "4 skipped (not HTML 4)" in summary.line()


def test_unreadable_warc_is_a_user_error(tmp_path):
    warc = tmp_path / "bad.warc.gz"
    warc.write_bytes(gzip.compress(b"this is not a WARC record at all\r\n\r\n"))
    with pytest.raises(UserError, match=r"bad\.warc\.gz: cannot read as WARC \(Invalid WARC header\)"):
        run_batch(config(warc, tmp_path / "out.jsonl"), loader=fake_loader)
    warc.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(UserError, match=r"cannot read as WARC \(Gzip decompression error"):
        run_batch(config(warc, tmp_path / "out.jsonl"), loader=fake_loader)


RESPONSE = "application/http; msgtype=response"


def six_pages() -> tuple[list[bytes], list[bytes]]:
    """Six HTML responses: their HTTP blocks and their uncompressed WARC records."""
    blocks = [http_response(page_html(i).encode(), "text/html") for i in range(6)]
    return blocks, [warc_raw("response", f"http://a.example/{i}", b, RESPONSE) for i, b in enumerate(blocks)]


@pytest.mark.parametrize("name", ["crawl.warc", "crawl.warc.gz"])
def test_a_record_whose_content_length_runs_over_the_next_ones_is_reported(tmp_path, name):
    blocks, raws = six_pages()
    # record 1 claims itself and the three records after it (their last trailer ends it)
    claimed = blocks[1] + b"\r\n\r\n" + b"".join(raws[2:5])[:-4]
    raws[1] = warc_raw("response", "http://a.example/1", blocks[1], RESPONSE, length=len(claimed))
    warc = tmp_path / name
    warc.write_bytes(b"".join(raws if name.endswith(".warc") else map(gzip.compress, raws)))
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(warc, out), loader=fake_loader)
    by_url = {r["url"]: r for r in read_out(out)}
    assert sorted(by_url) == [f"http://a.example/{i}" for i in range(6)]
    assert by_url["http://a.example/1"]["error"].startswith(
        f"its Content-Length ({len(claimed)} bytes) runs over the next 3 WARC records")
    assert [by_url[f"http://a.example/{i}"]["text"] for i in (0, 2, 3, 4, 5)] == [
        f"Page {i}. {LONG}" for i in (0, 2, 3, 4, 5)]
    assert (summary.done, summary.failed) == (5, 1)
    again = run_batch(config(warc, out), loader=fake_loader)
    assert (again.done, again.failed, again.skipped) == (0, 0, {"done": 6})


@pytest.mark.parametrize("max_bytes", [None, 600])
def test_a_request_record_running_over_the_next_ones_is_reported(tmp_path, max_bytes):
    """Any record is checked (here a request), held in memory or (over the budget) streamed."""
    blocks, raws = six_pages()
    request = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n" + b"x" * 70_000  # over 600 bytes and header room
    claimed = request + b"\r\n\r\n" + b"".join(raws[1:3])[:-4]
    raws.insert(1, warc_raw("request", "http://a.example/", request, "application/http; msgtype=request",
                            length=len(claimed)))
    warc = tmp_path / "crawl.warc"
    warc.write_bytes(b"".join(raws))
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(warc, out, max_bytes=max_bytes), loader=fake_loader)
    by_url = {r["url"]: r for r in read_out(out)}
    error = by_url["http://a.example/"]["error"]
    if max_bytes is None:  # held: the two pages inside are read from it
        assert error.startswith(f"its Content-Length ({len(claimed)} bytes) runs over the next 2 WARC records")
        assert (summary.done, summary.failed) == (6, 1)
    else:  # streamed: reported, not read
        assert error.startswith("its Content-Length runs into the next WARC record (2 WARC header(s)")
        assert sorted(by_url) == ["http://a.example/", "http://a.example/0", "http://a.example/3",
                                  "http://a.example/4", "http://a.example/5"]
        assert summary.failed == 1


def test_the_size_budget_counts_the_page_not_its_http_headers(tmp_path):
    body = page_html(1).encode()
    block = http_response(body, "text/html", "X-Padding: " + "p" * 300 + "\r\n")
    warc = tmp_path / "crawl.warc"
    warc.write_bytes(warc_raw("response", "http://a.example/", block, RESPONSE))
    out = tmp_path / "out.jsonl"
    run_batch(config(warc, out, max_bytes=len(body) + 10), loader=fake_loader)
    assert read_out(out)[0]["text"] == f"Page 1. {LONG}"


@pytest.mark.parametrize("charset", ["x\x00y", "utf-8\x00", "rot13", "base64", "undefined", "punycode", "utf-16",
                                     "cp037"])
def test_an_http_charset_that_is_no_text_encoding_leaves_the_bytes_to_the_parser(tmp_path, charset):
    """Found by fuzzing (benchmarks/fuzz/fuzz_batch.py): a NUL in the charset raised ValueError and
    stopped the run; 'undefined' and 'punycode' raised UnicodeError; UTF-16 or EBCDIC made mojibake."""
    block = http_response(page_html(1).encode(), f"text/html; charset={charset}")
    warc = tmp_path / "crawl.warc"
    warc.write_bytes(warc_raw("response", "http://a.example/", block, RESPONSE))
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(warc, out), loader=fake_loader)
    assert read_out(out)[0]["text"] == f"Page 1. {LONG}" and summary.done == 1


@pytest.mark.parametrize(("size", "error"), [
    (5000, 'cannot read the HTTP response (Unsupported Transfer-Encoding: "html"0)'),
    (80_000, "page is 80007 bytes, over the 4000-byte budget (--max-bytes)"),  # streamed, not held
])
def test_a_page_with_a_broken_transfer_encoding_fails_alone(tmp_path, size, error):
    """Found by fuzzing: decoding the HTTP body failed and left the record without a reader
    (AttributeError), and the file's iterator unable to go on ('No reader set')."""
    big = http_response(b"<p>" + b"x" * size + b"</p>", "text/html", 'Transfer-Encoding: "html"0\r\n')
    _, raws = six_pages()
    warc = tmp_path / "crawl.warc"
    warc.write_bytes(warc_raw("response", "http://a.example/big", big, RESPONSE) + raws[0])
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(warc, out, max_bytes=4000), loader=fake_loader)
    by_url = {r["url"]: r for r in read_out(out)}
    assert by_url["http://a.example/big"]["error"] == error
    assert by_url["http://a.example/0"]["text"] == f"Page 0. {LONG}"
    assert (summary.done, summary.failed) == (1, 1)


def test_a_content_length_into_the_middle_of_the_next_record(tmp_path):
    blocks, raws = six_pages()
    raws[2] = warc_raw("response", "http://a.example/2", blocks[2], RESPONSE, length=len(blocks[2]) + 40)
    warc = tmp_path / "crawl.warc"
    warc.write_bytes(b"".join(raws))
    out = tmp_path / "out.jsonl"
    with pytest.raises(UserError, match=r"crawl\.warc: cannot read as WARC \(.*\) after the record at byte \d+"):
        run_batch(config(warc, out), loader=fake_loader)
    recs = read_out(out)
    assert [r["url"] for r in recs] == ["http://a.example/0", "http://a.example/1", "http://a.example/2"]
    assert recs[2]["error"].startswith("its Content-Length runs into the next WARC record")


def test_a_plain_warc_cut_inside_its_last_record(tmp_path):
    _, raws = six_pages()
    warc = tmp_path / "crawl.warc"
    warc.write_bytes(b"".join(raws[:3])[:-30])
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(warc, out), loader=fake_loader)
    recs = read_out(out)
    assert "error" not in recs[0] and "error" not in recs[1]
    assert recs[2]["error"].startswith("the WARC record is cut short") and recs[2]["text"] == ""
    assert (summary.done, summary.failed) == (2, 1)


def test_a_warc_gz_whose_last_member_is_cut_is_refused_before_any_page(tmp_path):
    warc = make_warc(tmp_path / "crawl.warc.gz")
    warc.write_bytes(warc.read_bytes()[:-20])
    out = tmp_path / "out.jsonl"
    for _ in range(2):  # and again: nothing of it counts as done
        with pytest.raises(UserError, match=r"crawl\.warc\.gz: cannot read as WARC \(Gzip decompression error: "
                           r"Compressed file ended before the end-of-stream marker was reached\)"):
            run_batch(config(warc, out), loader=fake_loader)
        assert not out.exists()


def test_the_readers_check_a_compressed_file_themselves(tmp_path):
    """Spark's executors read WARC with iter_warc alone: a cut .warc.gz is refused there too."""
    warc = make_warc(tmp_path / "crawl.warc.gz")
    warc.write_bytes(warc.read_bytes()[:-20])
    with pytest.raises(UserError, match="Compressed file ended before the end-of-stream marker"):
        next(batch.iter_warc(warc))
    assert len(list(batch.iter_warc(warc, checked=True))) == 8  # what the file holds, unchecked
    inp = damaged_jsonl(tmp_path / "in.jsonl.gz")
    with pytest.raises(UserError, match="CRC check failed"):
        next(batch.iter_input(inp))


def damaged_jsonl(path: Path, n: int = 2000) -> Path:
    """A compressed JSONL file with one byte flipped inside the page of record 1500."""
    text = "".join(json.dumps({"id": i, "html": page_html(i)}) + "\n" for i in range(n)).encode()
    data = bytearray(gzip.compress(text, compresslevel=0) if path.suffix == ".gz" else lzma.compress(text))
    at = data.find(b"Page 1500.") + 1 if path.suffix == ".gz" else len(data) * 9 // 10
    data[at] ^= 0x01  # stored deflate block: 'Page' becomes 'Qage', only the CRC tells
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("name", "message"), [
    ("in.jsonl.gz", r"Gzip decompression error: CRC check failed"),
    ("in.jsonl.xz", r"XZ decompression error: "),
])
def test_a_damaged_compressed_input_is_refused_before_any_page(tmp_path, name, message):
    inp = damaged_jsonl(tmp_path / name)
    out = tmp_path / "out.jsonl"
    for _ in range(2):
        with pytest.raises(UserError, match=re.escape(f"{inp}: cannot read (") + message):
            run_batch(config(inp, out), loader=fake_loader)
        assert not out.exists()


# --- JSONL end to end --------------------------------------------------------------------


def test_jsonl_batch_output_records(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "a", "html": page_html(1), "url": "http://a"},
        {"id": "t", "text": f"short\n{LONG}"},
        {"id": "boom", "html": "<p>EXPLODE</p>"},
        {"id": "big", "html": "<p>" + "y" * 2000 + "</p>"},
        {"id": "a", "html": page_html(9)},
    ])
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(inp, out, max_bytes=1000), loader=fake_loader)
    recs = {r["id"]: r for r in read_out(out)}
    assert len(read_out(out)) == 4
    assert recs["a"]["text"] == f"Page 1. {LONG}"
    assert recs["a"]["url"] == "http://a"
    assert [p["text"] for p in recs["a"]["paragraphs"]] == ["Home", f"Page 1. {LONG}", "(c)"]
    assert [p["is_content"] for p in recs["a"]["paragraphs"]] == [False, True, False]
    assert all(0 <= p["probability"] <= 1 for p in recs["a"]["paragraphs"])
    assert "error" not in recs["a"]
    assert recs["t"]["text"] == LONG and len(recs["t"]["paragraphs"]) == 2
    assert recs["boom"]["error"] == "ValueError: the fake model refuses this page"
    assert recs["boom"]["text"] == "" and recs["boom"]["paragraphs"] == []
    assert "2007 bytes, over the 1000-byte budget" in recs["big"]["error"]
    assert (summary.done, summary.failed, summary.skipped) == (2, 2, {"duplicate": 1})
    assert summary.pages_per_second > 0


def test_output_to_a_stream_when_no_file_is_given(tmp_path, capsys):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "html": page_html(1)}])
    run_batch(config(inp, None), loader=fake_loader)
    line = capsys.readouterr().out.strip()
    assert json.loads(line)["text"] == f"Page 1. {LONG}"


def test_forced_text_format_keeps_tags_as_text(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "html": "<p>visible markup here, long enough to count</p>"}])
    out = tmp_path / "out.jsonl"
    run_batch(config(inp, out, format="text"), loader=fake_loader)
    assert read_out(out)[0]["text"] == "<p>visible markup here, long enough to count</p>"


def test_an_id_with_a_lone_surrogate_round_trips_and_is_done_once(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": "sur\ud800", "html": page_html(1)},
                                              {"id": "caf\u00e9 \U0001F600", "html": page_html(2)}])
    assert b"\\ud800" in inp.read_bytes()  # json.dumps escapes it: the input is valid UTF-8
    out = tmp_path / "out.jsonl"
    runs = [run_batch(config(inp, out), loader=fake_loader) for _ in range(3)]
    assert [r["id"] for r in read_out(out)] == ["sur\ud800", "caf\u00e9 \U0001F600"]
    assert out.read_bytes().decode("utf-8").count("\\ud800") == 1  # escaped, never a '?'
    assert [(r.done, r.skipped) for r in runs] == [(2, {}), (0, {"done": 2}), (0, {"done": 2})]


def test_a_lone_surrogate_id_on_standard_output(tmp_path, capsys):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": "sur\udc80", "html": page_html(1)}, {"id": "b", "html": page_html(2)}])
    run_batch(config(inp, None), loader=fake_loader)
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == ["sur\udc80", "b"]


# --- resume ----------------------------------------------------------------------------


def test_resume_after_a_killed_run_has_no_duplicates_and_no_gaps(tmp_path):
    ids = [f"p{i:03d}" for i in range(40)]
    inp = write_jsonl(tmp_path / "in.jsonl.xz", [{"id": i, "html": page_html(n)} for n, i in enumerate(ids)])
    out = tmp_path / "out.jsonl"
    first = run_batch(config(inp, out), loader=fake_loader)
    assert first.done == 40
    full = {r["id"]: r for r in read_out(out)}
    # a run killed mid-write: keep 60% of the bytes, cutting a line in two
    data = out.read_bytes()
    cut = int(len(data) * 0.6)
    assert data[cut - 1 : cut] != b"\n"
    out.write_bytes(data[:cut])
    kept = data[:cut].count(b"\n")

    second = run_batch(config(inp, out), loader=fake_loader)
    records = read_out(out)  # every line parses: the torn line was dropped
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    assert len(records) == len({r["id"] for r in records}) == 40
    assert {r["id"]: r for r in records} == full
    assert second.skipped == {"done": kept}
    assert second.done == 40 - kept

    third = run_batch(config(inp, out), loader=fake_loader)
    assert (third.done, third.skipped) == (0, {"done": 40})
    assert len(read_out(out)) == 40


def test_resume_after_sigkill(tmp_path):
    """A real process killed mid-run: the next run completes the output exactly."""
    ids = [f"k{i:03d}" for i in range(150)]
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "html": page_html(n)} for n, i in enumerate(ids)])
    out = tmp_path / "out.jsonl"
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_batch\n"
        "from chromesift.runtime.batch import BatchConfig, run_batch\n"
        f"run_batch(BatchConfig(input={str(inp)!r}, output={str(out)!r}, progress=False),\n"
        "          loader=test_batch.slow_loader)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 20:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.kill()
    finally:
        proc.wait(30)
    written = out.read_bytes().count(b"\n")
    assert 20 <= written < 150
    second = run_batch(config(inp, out), loader=fake_loader)
    got = [r["id"] for r in read_out(out)]
    assert len(got) == len(set(got)) == 150 and set(got) == set(ids)
    assert second.skipped == {"done": written}


def test_a_last_record_without_its_newline_is_kept(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "html": page_html(i)} for i in range(3)])
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": 0, "text": "", "paragraphs": []}))  # no newline
    summary = run_batch(config(inp, out), loader=fake_loader)
    assert summary.skipped == {"done": 1} and summary.done == 2
    assert [r["id"] for r in read_out(out)] == [0, 1, 2]


def test_a_corrupt_line_inside_the_output_is_not_silently_dropped(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "html": page_html(1)}])
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": 0}\n{"id": oops\n{"id": 2}\n')
    with pytest.raises(UserError, match=r"out\.jsonl:2: not valid JSON, and not a truncated last line"):
        run_batch(config(inp, out), loader=fake_loader)
    assert out.read_text() == '{"id": 0}\n{"id": oops\n{"id": 2}\n'


def test_output_of_something_else_is_refused(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "html": page_html(1)}])
    out = tmp_path / "out.jsonl"
    out.write_text('{"name": "not ours"}\n')
    with pytest.raises(UserError, match="not a chromesift output record"):
        run_batch(config(inp, out), loader=fake_loader)


def test_compressed_output_is_refused_with_a_reason(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "html": page_html(1)}])
    with pytest.raises(UserError, match="plain JSONL"):
        run_batch(config(inp, tmp_path / "out.jsonl.gz"), loader=fake_loader)


def test_a_bad_line_costs_one_error_record_and_a_rerun_does_not_redo_it(tmp_path):
    records = [{"id": i, "html": page_html(i)} for i in range(5)]
    records.insert(1, {"html": "<p>no id</p>"})
    inp = write_jsonl(tmp_path / "in.jsonl", records, broken_at=4)
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(inp, out), loader=fake_loader)
    got = read_out(out)
    assert [r["id"] for r in got] == [0, "in.jsonl:2", 1, 2, "in.jsonl:5", 3, 4]
    assert got[1]["error"] == "record needs an 'id' (a string or number)"
    assert got[4]["error"].startswith("not valid JSON (") and got[4]["text"] == "" and got[4]["paragraphs"] == []
    assert (summary.done, summary.failed) == (5, 2)
    again = run_batch(config(inp, out), loader=fake_loader)
    assert (again.done, again.failed, again.skipped) == (0, 0, {"done": 7})
    assert len(read_out(out)) == 7


# --- model loading ---------------------------------------------------------------------


def test_unreadable_bundle_is_a_user_error(tmp_path, monkeypatch):
    def broken(path=None):
        raise BundleError("metadata.json missing")

    monkeypatch.setattr(chromesift, "load_model", broken, raising=False)
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "html": page_html(1)}])
    (tmp_path / "bundle").mkdir()
    with pytest.raises(UserError, match=r"cannot load model bundle .*bundle: metadata.json missing"):
        run_batch(config(inp, tmp_path / "out.jsonl", model=tmp_path / "bundle"))


def test_missing_bundle_folder_is_a_user_error(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "html": page_html(1)}])
    with pytest.raises(UserError, match="no such folder"):
        run_batch(config(inp, tmp_path / "out.jsonl", model=tmp_path / "nope"), loader=fake_loader)


# --- budgets ---------------------------------------------------------------------------


def test_time_budget_in_process(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "slow", "html": "<p>SLOW</p>"}, {"id": "ok", "html": page_html(1)}])
    out = tmp_path / "out.jsonl"
    t0 = time.monotonic()
    summary = run_batch(config(inp, out, timeout=0.5), loader=fake_loader)
    assert time.monotonic() - t0 < 10
    recs = {r["id"]: r for r in read_out(out)}
    assert recs["slow"]["error"] == "took longer than the 0.5 s budget (--timeout)"
    assert "error" not in recs["ok"]
    assert (summary.done, summary.failed) == (1, 1)


def test_one_job_with_a_budget_kills_a_page_stuck_in_c_code(tmp_path, monkeypatch):
    """--jobs 1 with a budget: pages run in a worker process, killed at the budget (an alarm
    cannot stop C code; STUCK ignores it as C code would)."""
    monkeypatch.setattr(batch, "KILL_GRACE", 0.5)
    inp = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "stuck", "html": "<p>STUCK</p>"}, {"id": "ok", "html": page_html(1)}])
    out = tmp_path / "out.jsonl"
    t0 = time.monotonic()
    summary = run_batch(config(inp, out, timeout=0.5), loader=fake_loader)
    assert time.monotonic() - t0 < 25  # STUCK sleeps 30 s
    recs = {r["id"]: r for r in read_out(out)}
    assert recs["stuck"]["error"] == "took longer than the 0.5 s budget (--timeout); its worker was killed"
    assert "error" not in recs["ok"]
    assert (summary.done, summary.failed) == (1, 1)


# --- worker processes ------------------------------------------------------------------


def test_two_workers_give_the_same_records_as_one(tmp_path):
    records = [{"id": f"p{i}", "html": page_html(i)} for i in range(24)]
    records[5] = {"id": "p5", "html": "<p>EXPLODE</p>"}
    inp = write_jsonl(tmp_path / "in.jsonl", records)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    s1 = run_batch(config(inp, one), loader=fake_loader)
    s2 = run_batch(config(inp, two, jobs=2), loader=fake_loader)
    by_id = lambda path: {r["id"]: r for r in read_out(path)}  # noqa: E731
    assert by_id(one) == by_id(two)
    assert len(read_out(two)) == 24
    assert (s2.done, s2.failed) == (s1.done, s1.failed) == (23, 1)


def test_workers_resume_too(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "html": page_html(i)} for i in range(12)])
    out = tmp_path / "out.jsonl"
    run_batch(config(inp, out, jobs=2), loader=fake_loader)
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    run_batch(config(inp, out, jobs=2), loader=fake_loader)
    ids = [r["id"] for r in read_out(out)]
    assert sorted(ids) == list(range(12))


def test_a_crashing_page_costs_one_record_not_the_run(tmp_path):
    records = [{"id": i, "html": page_html(i)} for i in range(6)]
    records[2] = {"id": 2, "html": "<p>CRASH</p>"}
    inp = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(inp, out, jobs=2), loader=fake_loader)
    recs = {r["id"]: r for r in read_out(out)}
    assert sorted(recs) == list(range(6))
    assert recs[2]["error"] == "the worker process died on this page (exit code 3)"
    assert (summary.done, summary.failed) == (5, 1)


def test_a_stuck_worker_is_killed_after_the_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "KILL_GRACE", 0.5)
    records = [{"id": "stuck", "html": "<p>STUCK</p>"}] + [
        {"id": i, "html": page_html(i)} for i in range(4)]
    inp = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    t0 = time.monotonic()
    summary = run_batch(config(inp, out, jobs=2, timeout=0.5), loader=fake_loader)
    assert time.monotonic() - t0 < 25
    recs = {r["id"]: r for r in read_out(out)}
    assert "its worker was killed" in recs["stuck"]["error"]
    assert (summary.done, summary.failed) == (4, 1)


def test_a_loader_failing_in_the_workers_is_a_user_error(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "html": page_html(1)}])
    with pytest.raises(UserError, match="model.joblib sha256 differs"):
        run_batch(config(inp, tmp_path / "out.jsonl", jobs=2), loader=failing_loader)


# --- the real model --------------------------------------------------------------------


def test_real_model_batch(tmp_path):
    if not hasattr(chromesift, "load_model"):
        pytest.skip("chromesift.load_model is not there yet")
    page = (FIXTURES / "segmentation.html").read_text(encoding="utf-8")
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": "seg", "html": page}, {"id": "empty", "html": ""}])
    out = tmp_path / "out.jsonl"
    summary = run_batch(config(inp, out))
    recs = {r["id"]: r for r in read_out(out)}
    assert summary.failed == 0, recs
    paragraphs = recs["seg"]["paragraphs"]
    assert [p["text"] for p in paragraphs] == parse_html(page)["text"].tolist()
    assert all(0.0 <= p["probability"] <= 1.0 for p in paragraphs)
    prob = {p["text"]: p["probability"] for p in paragraphs}
    article = [t for t in prob if t.startswith(("Before the first ferry", "Volunteers from"))]
    chrome = ["Local Weather Letters", "Contact | Jobs"]  # (the menu's three links: one paragraph)
    assert min(prob[t] for t in article) > max(prob[t] for t in chrome)
    assert recs["empty"]["paragraphs"] == [] and recs["empty"]["text"] == ""


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_the_progress_bar_knows_its_total(tmp_path, suffix, monkeypatch):
    """A batch over a JSONL file shows a total (and so an ETA): its lines, counted ahead."""
    import tqdm.auto

    seen = []
    real = tqdm.auto.tqdm

    def spy(*args, **kwargs):
        if kwargs.get("desc") == "pages":
            seen.append(kwargs.get("total"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tqdm.auto, "tqdm", spy)
    records = [{"id": i, "html": page_html(i)} for i in range(5)]
    inp = tmp_path / f"in{suffix}"
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    if suffix.endswith(".gz"):
        import gzip

        data = gzip.compress(data)
    inp.write_bytes(data)
    run_batch(BatchConfig(input=inp, output=tmp_path / "out.jsonl", jobs=1, progress=True), loader=fake_loader)
    assert seen == [5]
