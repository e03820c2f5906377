"""URL input: ``chromesift extract https://...`` and ``--urls FILE``, against a local server only."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import pytest

import chromesift
from chromesift.cli import main
from chromesift.runtime import fetch

STRUCTURE = (Path(__file__).parent / "fixtures" / "outputs" / "structure.html").read_bytes()
LATIN = "<html><body><p>Größere Häuser am Fluß, lang genug für den Hauptinhalt dieser Seite hier.</p></body></html>"


class Handler(http.server.BaseHTTPRequestHandler):
    hits: list[tuple[str, float]] = []

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        Handler.hits.append((self.path, time.monotonic()))
        routes = {
            "/page.html": (200, "text/html; charset=utf-8", STRUCTURE),
            "/latin.html": (200, "text/html; charset=iso-8859-1", LATIN.encode("latin-1")),
            "/big.html": (200, "text/html", b"<p>" + b"x" * 5000 + b"</p>"),
            "/image.png": (200, "image/png", b"\x89PNG"),
        }
        if self.path == "/slow.html":
            time.sleep(1.5)
        status, ctype, body = routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if self.path != "/big.html":  # the big page comes without a length: only reading stops it
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_page_and_its_failures(server):
    page = fetch.fetch_page(f"{server}/page.html")
    assert page.error is None and page.format == "html" and page.url == page.id == f"{server}/page.html"
    latin = fetch.fetch_page(f"{server}/latin.html")
    assert "Größere Häuser am Fluß" in latin.document  # decoded by the header's charset
    assert "404" in fetch.fetch_page(f"{server}/missing.html").error
    assert "content type image/png" in fetch.fetch_page(f"{server}/image.png").error
    assert "budget" in fetch.fetch_page(f"{server}/big.html", max_bytes=1000).error
    assert "budget" in fetch.fetch_page(f"{server}/page.html", max_bytes=100).error  # by Content-Length
    assert "timed out" in fetch.fetch_page(f"{server}/slow.html", timeout=0.3).error
    assert fetch.fetch_page("ftp://x/y").error == "not an http(s) URL"


def test_polite_per_host_delay_and_order(server):
    Handler.hits.clear()
    urls = [f"{server}/page.html", f"{server}/latin.html", f"{server}/missing.html"]
    pages = list(fetch.fetch_pages(urls, delay=0.3, workers=3))
    assert [p.id for p in pages] == urls
    times = sorted(t for _, t in Handler.hits)
    assert len(times) == 3 and all(b - a >= 0.25 for a, b in zip(times, times[1:], strict=False))


def test_extract_a_url(server, capsys):
    assert main(["extract", f"{server}/page.html", "--output-format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["id"] == f"{server}/page.html" and doc["language"] == "en"
    assert doc["text"] == chromesift.extract(STRUCTURE)
    assert main(["extract", f"{server}/missing.html"]) == 1
    assert "HTTP 404" in capsys.readouterr().err


def test_urls_file_batch_resumes(server, tmp_path, capsys):
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# a list\n{server}/page.html\n\n{server}/missing.html\n{server}/page.html\n")
    out = tmp_path / "out.jsonl"
    argv = ["extract", "--urls", str(urls), "--output", str(out), "--delay", "0", "--no-progress", "--timeout", "0"]
    assert main(argv) == 1
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [f"{server}/page.html", f"{server}/missing.html"]
    assert records[0]["title"] == "A headline long enough to count" and "HTTP 404" in records[1]["error"]
    assert "1 done" in capsys.readouterr().err
    Handler.hits.clear()
    assert main(argv) == 0
    assert Handler.hits == []  # nothing fetched again
    assert "already in output 3" in capsys.readouterr().err
