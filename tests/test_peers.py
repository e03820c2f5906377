"""Peer adapters, their worker processes (time limit, failures) and their cache."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import pytest

from chromesift.errors import UserError
from chromesift.evaluate import peers
from chromesift.evaluate.peers import PEERS, PeerAdapter, fragment_text, run_peer

ARTICLE = (
    "The harbour commission met on Tuesday evening to settle the question of the new "
    "breakwater, which fishermen have asked for since the storms of the last two winters. "
    "The chairwoman opened the meeting by reading letters from the two largest cooperatives."
)
SECOND = (
    "After three hours of debate the members agreed to fund a survey of the seabed, and "
    "the engineer promised a first estimate of the cost before the end of the summer. "
    "A decision on the contract itself is expected at the meeting in the autumn."
)
THIRD = (
    "Several boat owners said they would keep their vessels in the inner basin until the "
    "work is finished, even if the mooring fees there are twice as high as outside. "
    "The harbour master said that the basin still has room for about forty boats."
)
PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><title>Harbour news</title>
<script>var tracking = "do not extract me";</script>
<style>body {{ color: black }}</style></head>
<body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/contact">Contact us</a></li></ul></nav></header>
<main><article>
<h1>Commission backs breakwater survey</h1>
<p>{ARTICLE}</p>
<p>{SECOND}</p>
<p>{THIRD}</p>
</article></main>
<aside><h3>Most read</h3><ul><li><a href="/a">Lottery winner found</a></li>
<li><a href="/b">Storm warning for the weekend</a></li></ul></aside>
<footer><p>Copyright 2024 Harbour Gazette. All rights reserved.</p></footer>
</body></html>"""


@dataclass(frozen=True)
class FakePage:
    id: str
    html: str
    lang: str | None = "en"


class ScriptedPeer(PeerAdapter):
    """A peer whose behaviour the page asks for: sleep, fail, crash or echo."""

    name = "scripted-test-peer"

    def extract(self, html: str, lang: str | None) -> str:
        if "SLEEP" in html:
            time.sleep(60)
        if "FAIL" in html:
            raise ValueError("asked to fail")
        if "CRASH" in html:
            os._exit(3)
        return html.lower()


def test_fragment_text_lines_per_block_without_code():
    text = fragment_text(PAGE)
    lines = text.split("\n")
    assert ARTICLE in lines and SECOND in lines
    assert "Home" in lines and "Harbour news" in lines  # the title is page text too
    assert "tracking" not in text and "color" not in text
    assert fragment_text("<p>a<br>b</p><div>c\x01d</div>") == "a\nb\nc\x01d"
    assert fragment_text('<?xml version="1.0" encoding="iso-8859-1"?><p>x</p>') == "x"
    assert fragment_text("") == ""


def test_node_text_one_line_per_text_node():
    page = ("<html><head><title>T</title><script>x()</script></head><body><p>a<b>b</b>c</p>"
            "<style>p {}</style>tail</body></html>")
    assert peers.node_text(page) == "T\na\nb\nc\ntail"
    assert peers.node_text("   ") == ""


@pytest.mark.parametrize("name", list(PEERS))
def test_each_peer_finds_the_article(name):
    cls = PEERS[name]
    if not cls.available():
        pytest.skip(f"{name} is not installed (pip install 'chromesift[peers]')")
    peer = peers.get_peer(name)
    assert isinstance(peer, peers.Extractor)
    text = peer.extract(PAGE, "en")
    assert isinstance(text, str)
    assert "tracking" not in text
    if name == "all-text":
        assert ARTICLE in text and "Contact us" in text
    elif name in ("trafilatura", "readability-lxml", "resiliparse", "justext"):
        # the extractors with a working main-content heuristic on a page this small
        assert ARTICLE in " ".join(text.split())
        assert "Lottery winner" not in text
    assert cls.version().endswith(f"+s{peers.SETTINGS_VERSION}.{cls.settings}")


def test_justext_falls_back_to_english_stoplist():
    if not PEERS["justext"].available():
        pytest.skip("justext is not installed")
    peer = peers.get_peer("justext")
    assert peer.extract(PAGE, None) == peer.extract(PAGE, "xx")


def test_parse_peer_names():
    assert peers.parse_peer_names("none") == []
    assert peers.parse_peer_names("all-text") == ["all-text"]
    everything = peers.parse_peer_names("all")
    assert "all-text" in everything and set(everything) <= set(PEERS)
    with pytest.raises(UserError, match="unknown peer 'nope'"):
        peers.parse_peer_names("all-text,nope")


def test_run_peer_timeout_failure_crash_and_cache(tmp_path):
    pages = [
        FakePage("ok", "<p>Hello</p>"),
        FakePage("slow", "SLEEP"),
        FakePage("bad", "FAIL"),
        FakePage("crash", "CRASH"),
        FakePage("ok2", "<p>World</p>"),
    ]
    start = time.monotonic()
    results = run_peer(ScriptedPeer, pages, cache_dir=tmp_path, timeout=2.0, n_jobs=2)
    assert time.monotonic() - start < 50  # the sleeping page was cut off
    by_id = {r.page_id: r for r in results}
    assert [r.page_id for r in results] == [p.id for p in pages]
    assert by_id["ok"].text == "<p>hello</p>" and by_id["ok"].status == "ok"
    assert by_id["ok"].seconds >= 0
    assert by_id["slow"].status == "timeout" and by_id["slow"].text == ""
    assert by_id["bad"].status == "error" and "asked to fail" in by_id["bad"].error
    assert by_id["crash"].status == "error" and "worker died" in by_id["crash"].error
    assert by_id["ok2"].text == "<p>world</p>"
    assert not any(r.cached for r in results)

    # second run: everything from the cache, failures included, no worker started
    again = run_peer(ScriptedPeer, pages, cache_dir=tmp_path, timeout=2.0)
    assert all(r.cached for r in again)
    assert [(r.text, r.status) for r in again] == [(r.text, r.status) for r in results]

    # a changed page is a new cache key
    changed = [FakePage("ok", "<p>Changed</p>")]
    fresh = run_peer(ScriptedPeer, changed, cache_dir=tmp_path, timeout=None)
    assert fresh[0].text == "<p>changed</p>" and not fresh[0].cached


def test_run_peer_rejects_unknown_name(tmp_path):
    with pytest.raises(UserError, match="unknown peer"):
        run_peer("no-such-peer", [], cache_dir=tmp_path)


def test_run_peer_on_corpus_pages_matches_in_process(tmp_path):
    """Worker-process and in-process runs of a real peer agree on real pages."""
    from chromesift.data.corpus import dataset_path, default_data_dir, iter_pages

    try:
        path = dataset_path(default_data_dir(), "cleanportaleval")
    except Exception as exc:  # corpora absent on this machine
        pytest.skip(f"shared corpora not found: {exc}")
    name = "resiliparse" if PEERS["resiliparse"].available() else "all-text"
    pages = list(iter_pages(path, limit=4))
    isolated = run_peer(name, pages, cache_dir=tmp_path, timeout=30.0)
    inline = run_peer(name, pages, cache_dir=None, timeout=None)
    assert [r.text for r in isolated] == [r.text for r in inline]
    assert all(r.status == "ok" and r.text for r in isolated)
