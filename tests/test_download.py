"""Corpus download against a local HTTP server: resume, checksums, retries, errors."""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chromesift.data.download import (
    DownloadError,
    Source,
    download,
    download_corpora,
    fetch,
    source_from_entry,
)
from chromesift.errors import ChromesiftError


class FileServer:
    """Serves ``files`` (path -> bytes) on 127.0.0.1 with switchable misbehaviour."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.ranges = True  # honour Range requests
        self.fail_first: dict[str, int] = {}  # path -> how many 503 answers first
        self.cut_first: dict[str, int] = {}  # path -> bytes sent before dropping the first transfer
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if server.fail_first.get(self.path, 0) > 0:
                    server.fail_first[self.path] -= 1
                    self.send_error(503, "busy")
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if server.ranges and match:
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes" if server.ranges else "none")
                self.end_headers()
                cut = server.cut_first.pop(self.path, None)
                if cut is not None:
                    self.wfile.write(body[start : start + cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def payload(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry(name: str, data: bytes, **extra) -> dict:
    return {"name": name, "file": f"{name}.jsonl.xz", "sha256": sha(data), "bytes": len(data), **extra}


@pytest.fixture
def served():
    files = {"/c/a.jsonl.xz": payload(300_000, 1), "/c/b.jsonl.xz": payload(70_000, 2)}
    with FileServer(files) as server:
        yield server


NO_WAIT = {"sleep": lambda s: None, "progress": False}


def test_download_corpora_fetches_and_verifies(served, tmp_path):
    a, b = served.files["/c/a.jsonl.xz"], served.files["/c/b.jsonl.xz"]
    entries = [entry("a", a), entry("b", b, url=served.url + "/c/b.jsonl.xz")]
    paths = download_corpora(entries, tmp_path / "out", served.url + "/c/", progress=False)
    assert paths == [tmp_path / "out" / "a.jsonl.xz", tmp_path / "out" / "b.jsonl.xz"]
    assert paths[0].read_bytes() == a and paths[1].read_bytes() == b
    assert not list((tmp_path / "out").glob("*.part"))
    # a second run finds verified files and sends no request
    before = len(served.requests)
    assert download_corpora(entries, tmp_path / "out", served.url + "/c", progress=False) == paths
    assert len(served.requests) == before


def test_resume_from_a_partial_file_uses_a_range_request(served, tmp_path):
    data = served.files["/c/a.jsonl.xz"]
    (tmp_path / "a.jsonl.xz.part").write_bytes(data[:123_456])
    source = source_from_entry(entry("a", data), served.url + "/c")
    path = fetch(source, tmp_path, **NO_WAIT)
    assert path.read_bytes() == data
    assert served.requests == [("/c/a.jsonl.xz", "bytes=123456-")]
    assert not (tmp_path / "a.jsonl.xz.part").exists()


def test_a_dropped_connection_is_resumed_not_restarted(served, tmp_path):
    data = served.files["/c/a.jsonl.xz"]
    served.cut_first["/c/a.jsonl.xz"] = 100_000
    waits: list[float] = []
    path = fetch(source_from_entry(entry("a", data), served.url + "/c"), tmp_path,
                 sleep=waits.append, progress=False, backoff=0.5)
    assert path.read_bytes() == data
    assert [r for _, r in served.requests] == [None, "bytes=100000-"]
    assert waits == [0.5]


def test_server_without_range_support_restarts_from_the_first_byte(served, tmp_path):
    served.ranges = False
    data = served.files["/c/a.jsonl.xz"]
    # a stale partial file whose bytes are not even a prefix of the real file
    (tmp_path / "a.jsonl.xz.part").write_bytes(b"\0" * 50_000)
    path = fetch(source_from_entry(entry("a", data), served.url + "/c"), tmp_path, **NO_WAIT)
    assert path.read_bytes() == data
    assert len(served.requests) == 1 and served.requests[0][1] == "bytes=50000-"


def test_checksum_mismatch_is_a_clear_error_and_leaves_no_file(served, tmp_path):
    data = served.files["/c/b.jsonl.xz"]
    bad = dict(entry("b", data), sha256="ab" * 32)
    with pytest.raises(DownloadError, match=r"b\.jsonl\.xz: sha256 [0-9a-f]{64} differs from the expected (ab){32}"):
        download_corpora([bad], tmp_path, served.url + "/c", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_partial_file_gets_one_clean_retry(served, tmp_path):
    data = served.files["/c/b.jsonl.xz"]
    (tmp_path / "b.jsonl.xz.part").write_bytes(b"x" * 1000)  # wrong bytes, right length prefix
    path = fetch(source_from_entry(entry("b", data), served.url + "/c"), tmp_path, **NO_WAIT)
    assert path.read_bytes() == data
    assert [r for _, r in served.requests] == ["bytes=1000-", None]


def test_size_mismatch_is_reported_before_the_checksum(served, tmp_path):
    data = served.files["/c/b.jsonl.xz"]
    wrong = dict(entry("b", data), bytes=len(data) + 1)
    with pytest.raises(DownloadError, match=r"server reports 70000 bytes, the manifest 70001"):
        download_corpora([wrong], tmp_path, served.url + "/c", progress=False)
    assert not (tmp_path / "b.jsonl.xz").exists()


def test_not_found_is_a_clear_error_without_retries(served, tmp_path):
    missing = entry("gone", b"whatever")
    with pytest.raises(DownloadError) as info:
        download_corpora([missing], tmp_path, served.url + "/c", progress=False)
    assert "/c/gone.jsonl.xz: HTTP 404 Not Found" in str(info.value)
    assert len(served.requests) == 1
    assert not (tmp_path / "gone.jsonl.xz").exists()
    assert isinstance(info.value, ChromesiftError)  # the CLI dispatcher prints it, exit 2


def test_one_failure_does_not_stop_the_others(served, tmp_path):
    entries = [entry("gone", b"x"), entry("b", served.files["/c/b.jsonl.xz"])]
    with pytest.raises(DownloadError, match=r"1 of 2 download\(s\) failed"):
        download(entries, tmp_path, base_url=served.url + "/c", **NO_WAIT)
    assert (tmp_path / "b.jsonl.xz").read_bytes() == served.files["/c/b.jsonl.xz"]


def test_transient_errors_are_retried_with_growing_backoff(served, tmp_path):
    served.fail_first["/c/b.jsonl.xz"] = 3
    waits: list[float] = []
    path = fetch(source_from_entry(entry("b", served.files["/c/b.jsonl.xz"]), served.url + "/c"),
                 tmp_path, sleep=waits.append, backoff=1.0, progress=False)
    assert path.exists()
    assert waits == [1.0, 2.0, 4.0]


def test_retries_run_out_with_a_message_that_says_so(served, tmp_path):
    served.fail_first["/c/b.jsonl.xz"] = 10
    source = source_from_entry(entry("b", served.files["/c/b.jsonl.xz"]), served.url + "/c")
    with pytest.raises(DownloadError, match=r"HTTP 503 .*gave up after 3 tries"):
        fetch(source, tmp_path, retries=2, **NO_WAIT)
    assert not (tmp_path / "b.jsonl.xz").exists()


def test_connection_refused_is_retried_then_reported(tmp_path):
    with FileServer({}) as server:
        url = server.url
    source = Source(url=url + "/x.bin", file="x.bin", sha256=None)
    with pytest.raises(DownloadError, match=r"cannot connect .*gave up after 2 tries"):
        fetch(source, tmp_path, retries=1, timeout=2, **NO_WAIT)


def test_plain_urls_and_a_manifest_path(served, tmp_path):
    b = served.files["/c/b.jsonl.xz"]
    assert download(served.url + "/c/b.jsonl.xz", tmp_path / "u", **NO_WAIT)[0].read_bytes() == b
    manifest = tmp_path / "MANIFEST.json"
    manifest.write_text(json.dumps([entry("b", b)]))
    got = download(manifest, tmp_path / "m", base_url=served.url + "/c", **NO_WAIT)
    assert got[0].read_bytes() == b


def test_file_urls_work_for_local_mirrors(tmp_path):
    data = payload(5000)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.jsonl.xz").write_bytes(data)
    base = (tmp_path / "src").as_uri()
    assert download_corpora([entry("a", data)], tmp_path / "dst", base, progress=False)[0].read_bytes() == data


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"name": "x", "sha256": "0" * 64}, "x: manifest entry lacks file"),
        ({"name": "x", "file": "x.xz"}, "x: manifest entry lacks sha256"),
        ({"name": "x", "file": "x.xz", "sha256": "nothex"}, "not 64 hex digits"),
        ({"name": "x", "file": "../evil", "sha256": "0" * 64}, "must be a bare file name"),
        ({"name": "x", "file": "x.xz", "sha256": "0" * 64, "bytes": -1}, "non-negative integer"),
        ({"name": "x", "file": "x.xz", "sha256": "0" * 64, "url": "ftp://h/x"}, "only http, https"),
    ],
)
def test_malformed_entries_fail_before_any_request(served, tmp_path, bad, message):
    good = entry("b", served.files["/c/b.jsonl.xz"])
    with pytest.raises(DownloadError, match=re.escape(message)):
        download_corpora([good, bad], tmp_path, served.url + "/c", progress=False)
    assert served.requests == []


def test_no_url_and_no_base_url(tmp_path):
    with pytest.raises(DownloadError, match="no url in the manifest and no base URL"):
        download_corpora([entry("a", b"x")], tmp_path, None, progress=False)


def test_complete_partial_file_needs_no_transfer(served, tmp_path):
    data = served.files["/c/b.jsonl.xz"]
    (tmp_path / "b.jsonl.xz.part").write_bytes(data)
    path = fetch(source_from_entry(entry("b", data), served.url + "/c"), tmp_path, **NO_WAIT)
    assert path.read_bytes() == data
    assert served.requests == []


def test_a_wrong_file_at_the_destination_is_replaced(served, tmp_path):
    data = served.files["/c/b.jsonl.xz"]
    (tmp_path / "b.jsonl.xz").write_bytes(b"old and wrong")
    fetch(source_from_entry(entry("b", data), served.url + "/c"), tmp_path, **NO_WAIT)
    assert (tmp_path / "b.jsonl.xz").read_bytes() == data


def test_destination_folder_is_created(served, tmp_path):
    # a URL's last segment names the file; the destination folder holds it
    out = download(served.url + "/c/a.jsonl.xz", tmp_path / "deep" / "er", **NO_WAIT)
    assert out == [tmp_path / "deep" / "er" / "a.jsonl.xz"]
    assert Path(out[0]).stat().st_size == 300_000
