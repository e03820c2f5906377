"""``chromesift.metadata``: what a page declares about itself, by either reader, on hand-made pages."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import chromesift
from chromesift.errors import UserError
from chromesift.page_metadata import EXTRA_ENGINE, FALLBACK_ENGINE, KEYS

PAGES = Path(__file__).parent / "fixtures" / "metadata"


def _has_extra() -> bool:
    try:
        import extruct  # noqa: F401
        import htmldate  # noqa: F401
    except ImportError:
        return False
    return True


ENGINES = ["lxml", pytest.param("extruct", marks=pytest.mark.skipif(
    not _has_extra(), reason="the metadata extra (extruct, htmldate) is not installed"))]
NAME = {"lxml": FALLBACK_ENGINE, "extruct": EXTRA_ENGINE}


def read(name: str, engine: str, **kw) -> dict:
    result = chromesift.metadata((PAGES / name).read_bytes(), engine=engine, **kw)
    assert list(result) == [*KEYS, "engine"] and result.pop("engine") == NAME[engine]
    return result


@pytest.mark.parametrize("engine", ENGINES)
def test_json_ld_news_article(engine):
    # the JSON-LD headline wins over og:title and <title>; both authors, the published day
    assert read("jsonld_news.html", engine) == {
        "title": "Ferry returns to the island after the storm",
        "author": "Mara Quist; Tom Elling",
        "date": "2024-03-05",
        "site_name": "The Harbour Times",
        "language": "en-GB",
        "url": "https://www.harbour-times.example/news/ferry-returns",
        "description": "After the March storm the island ferry runs again.",
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_open_graph_only(engine):
    assert read("og_only.html", engine) == {
        "title": "Die Bergbahn f\u00e4hrt wieder",  # og:title before <title>, entities decoded
        "author": "Anna Berg",
        "date": "2023-09-14",
        "site_name": "Talbote",
        "language": "de-DE",  # og:locale de_DE
        "url": "https://talbote.example/lokal/bergbahn",
        "description": "Nach drei Monaten Pause f\u00e4hrt die Bergbahn wieder t\u00e4glich.",
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_time_element_only(engine):
    assert read("time_only.html", engine) == {
        "title": "Le march\u00e9 du samedi", "author": None, "date": "2022-11-20", "site_name": None,
        "language": "fr", "url": None, "description": None,
    }


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("page", [(PAGES / "nothing.html").read_text(encoding="utf-8"), "", "   \n", b"",
                                  "plain words, no markup", "<html></html>"])
def test_a_page_that_declares_nothing_gives_none_everywhere(engine, page):
    result = chromesift.metadata(page, engine=engine)
    assert {k: result[k] for k in KEYS} == dict.fromkeys(KEYS)


@pytest.mark.parametrize("engine", ENGINES)
def test_malformed_json_ld_is_skipped_not_fatal(engine):
    # a truncated script, a list of numbers, an empty script, a numeric author name and
    # 30 February: none of it is taken, and <meta name=author> fills the gap
    assert read("malformed_jsonld.html", engine) == {
        "title": "Library hours change", "author": "Jo Penn", "date": None, "site_name": None,
        "language": "en", "url": None, "description": None,
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_str_and_bytes_read_alike_and_a_charset_is_honoured(engine):
    text = (PAGES / "og_only.html").read_text(encoding="utf-8")
    assert chromesift.metadata(text, engine=engine) == chromesift.metadata(text.encode(), engine=engine)
    latin = ('<html><head><meta charset="iso-8859-1"><title>Caf\u00e9 cr\u00e8me</title></head></html>').encode("latin-1")
    assert chromesift.metadata(latin, engine=engine)["title"] == "Caf\u00e9 cr\u00e8me"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_relative_canonical_link_is_resolved_against_the_page_url(engine):
    page = '<html><head><link rel="canonical" href="/news/7"><title>t</title></head></html>'
    assert chromesift.metadata(page, engine=engine)["url"] == "/news/7"
    got = chromesift.metadata(page, url="https://paper.example/x?utm=1", engine=engine)
    assert got["url"] == "https://paper.example/news/7"


def test_microdata_and_lenient_json_ld_need_the_extra():
    pytest.importorskip("extruct")
    pytest.importorskip("htmldate")
    assert read("microdata.html", "extruct") == {
        "title": "Pruning the old apple trees", "author": "Rik Olm", "date": "2020-01-18",
        "site_name": None, "language": None, "url": None, "description": None,
    }
    # the small reader sees no microdata items: <title> and the itemprop'd <meta> only
    lx = read("microdata.html", "lxml")
    assert (lx["title"], lx["author"], lx["date"]) == ("Orchard notes", None, "2020-01-18")
    lenient = ('<html><head><script type="application/ld+json">\n// the CMS writes this\n'
               '{"@type": "Article", "headline": "Trailing comma", "author": "Ida Sol",}\n</script></head></html>')
    assert read_str(lenient, "extruct")[:2] == ("Trailing comma", "Ida Sol")
    assert read_str(lenient, "lxml")[:2] == (None, None)


def read_str(page: str, engine: str) -> tuple:
    result = chromesift.metadata(page, engine=engine)
    return result["title"], result["author"]


def test_auto_uses_the_extra_when_installed_and_the_small_reader_without(monkeypatch):
    page = (PAGES / "jsonld_news.html").read_text(encoding="utf-8")
    if _has_extra():
        assert chromesift.metadata(page)["engine"] == EXTRA_ENGINE
    for name in ("extruct", "extruct.jsonld", "htmldate"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: import raises
    without = chromesift.metadata(page)
    assert without["engine"] == FALLBACK_ENGINE
    assert without == chromesift.metadata(page, engine="lxml")
    with pytest.raises(UserError, match=r"pip install 'chromesift\[metadata\]'"):
        chromesift.metadata(page, engine="extruct")


def test_an_unknown_engine_is_a_user_error():
    with pytest.raises(UserError, match="unknown metadata engine 'bs4'"):
        chromesift.metadata("<title>x</title>", engine="bs4")


def test_the_library_call_stays_a_function_after_its_module_is_loaded():
    chromesift.metadata("<title>one</title>")
    importlib.import_module("chromesift.page_metadata")
    assert callable(chromesift.metadata)
    assert chromesift.metadata("<title>two</title>")["title"] == "two"


def test_neither_import_nor_extraction_loads_the_metadata_readers():
    code = (
        "import sys, chromesift\n"
        "chromesift.extract('<p>' + 'A sentence of the article. ' * 20 + '</p>')\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('extruct', 'htmldate', 'rdflib')"
        " or m == 'chromesift.page_metadata')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""
