"""Pages read with lexbor (chromesift.data._lexbor) against the same pages read with lxml."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from chromesift.data import html, lexbor

# CI and `make test` install selectolax and build the extension: there lexbor must be in use
# (the speed of issue 25 depends on it). CHROMESIFT_PURE_PYTHON and CHROMESIFT_PARSER=lxml
# turn it off on purpose.
forced_off = os.environ.get("CHROMESIFT_PURE_PYTHON") == "1" or os.environ.get("CHROMESIFT_PARSER") == "lxml"
needs_lexbor = pytest.mark.skipif(
    lexbor.PARSER != "lexbor", reason=f"lexbor is not in use here: {lexbor.unavailable or 'turned off'}"
)


def both(page: str | bytes) -> tuple[dict, dict]:
    """The paragraph columns of ``page`` read with lxml, then with lexbor."""
    with lexbor.using("lxml"):
        a = html.parse_html_columns(page)[0]
    with lexbor.using("lexbor"):
        b = html.parse_html_columns(page)[0]
    return a, b


@pytest.mark.skipif(forced_off, reason="lexbor turned off by the environment")
def test_lexbor_is_in_use_where_the_project_installs_it():
    assert lexbor.unavailable is None, lexbor.unavailable
    assert lexbor.PARSER == "lexbor"
    assert lexbor.parser_for(500) == "lexbor"


def body(inner: str) -> str:
    return f"<html><head><title>The  title</title></head><body>{inner}</body></html>"


WELL_FORMED = {
    "blocks and inline": body("<div>outer <div>inner <p>para <b>bold</b> <i>it</i></p> tail</div> end</div>"),
    "lists and links": body('<nav><ul><li><a href="/a">Home</a></li><li><a href="/b">News</a></li></ul></nav>'
                            "<article><h1>Head line</h1><p>First <a href='/x'>linked</a> words.</p></article>"),
    "br runs": body("<div>one<br>two<br><br>three</div>"),
    "hidden": body('<div style="display: none">gone</div><div hidden>gone too</div>'
                   '<div style="color:red">kept</div><p style="VISIBILITY:hidden">gone</p>'),
    "roles and classes": body('<div role="navigation" class="menu-main topNav">Menu</div>'
                              '<div id="comments" class="comment-list"><p>A comment.</p></div>'),
    "skipped": body("<script>var x = '<p>no</p>';</script><style>p{}</style><p>yes</p>"
                    "<svg><text>no</text></svg><template><p>no</p></template>"),
    "comments in text": body("<p>before<!-- a comment -->after</p>"),
    "tables with tbody": body("<table><tbody><tr><td>cell one</td><td>cell two</td></tr></tbody></table>"),
    "non-ascii": body("<p>Über die Brücke — 中文段落，和 ελληνικά.</p><p class='Prüfung'>x</p>"),
    "entities": body("<p>a &amp; b &lt; c &nbsp; d &eacute;</p>"),
    "soft hyphens and ruby": body("<p>Mit&shy;tel\u00adal&#173;ter</p><p>&shy;</p>"
                                  "<p><ruby>漢<rp>(</rp><rt>かん</rt><rp>)</rp>字</ruby></p>"
                                  "<p><ruby>災害<rt>さいがい</rt></ruby>の本</p>"),
}


@needs_lexbor
@pytest.mark.parametrize("name", sorted(WELL_FORMED))
def test_well_formed_pages_give_the_same_columns(name):
    a, b = both(WELL_FORMED[name])
    assert b["text"], "the page has paragraphs"
    for column in a:
        assert b[column] == a[column], column


@needs_lexbor
def test_soft_hyphens_and_readings_without_brackets_are_left_out_by_both_parsers():
    for cols in both(WELL_FORMED["soft hyphens and ruby"]):
        assert cols["text"] == ["Mittelalter", "漢(かん)字", "災害の本"]


@needs_lexbor
def test_the_seed_article_is_read_alike(seed_html):
    a, b = both(seed_html)
    assert len(a["text"]) > 15
    assert b["text"] == a["text"]
    assert b["path"] == a["path"]
    assert b["page_title"] == a["page_title"]


@needs_lexbor
def test_misnested_markup_is_read_as_browsers_do():
    # HTML5 closes an open <p> at a block and repairs misnested inline elements; libxml2
    # does otherwise. The text is the same, the tree (so the paths) may not be.
    page = body("<p>one <b>two <i>three</b> four</i><div>block</div>")
    a, b = both(page)
    assert " ".join(b["text"]).split() == " ".join(a["text"]).split()
    assert b["path"][-1] == "html/body/div"


@needs_lexbor
def test_corpus_pages_have_the_same_text(shared_data):
    from chromesift.data.corpus import dataset_names, sample_pages

    pages = sample_pages(shared_data, dataset_names(shared_data), 80, seed=11)
    same = 0
    for page in pages:
        a, b = both(page.html)
        same += a["text"] == b["text"]
        chars_a, chars_b = sum(map(len, a["text"])), sum(map(len, b["text"]))
        assert abs(chars_a - chars_b) <= 0.05 * max(chars_a, 200), page.id
    # 196 of 200 pages of another sample had the very same paragraphs
    assert same >= 0.9 * len(pages)


@needs_lexbor
@pytest.mark.parametrize("copy_tag", ["noscript", "template"])
def test_the_copy_of_a_script_rendered_page_is_read(copy_tag):
    # lexbor keeps a <template>'s content out of the tree: such a page is read with lxml
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 6
    page = body(f"<div id='app'></div><{copy_tag}><p>{text}</p><p>Second one.</p></{copy_tag}>")
    a, b = both(page)
    assert [t[:11] for t in b["text"]] == ["Lorem ipsum", "Second one."]
    assert b == a


def test_pages_of_many_start_tags_are_read_with_lxml():
    assert lexbor.parser_for(lexbor.MAX_TAGS + 1) == "lxml"
    with lexbor.using("lxml"):
        assert lexbor.parser_for(10) == "lxml"


@needs_lexbor
def test_deep_nesting_stays_fast():
    # lexbor's time grows with the square of the depth (100,000 levels took 14 s): such a
    # page has as many start tags, so it is read with lxml, which flattens the deepest levels
    page = "<html><body>" + "<div>" * 100_000 + "deep" + "</div>" * 100_000 + "</body></html>"
    start = time.perf_counter()
    cols = html.parse_html_columns(page)[0]
    assert time.perf_counter() - start < 5
    assert cols["text"] == ["deep"]
    # under the bound lexbor reads it, in well under a second
    page = "<html><body>" + "<div>" * 9_000 + "deep" + "</div>" * 9_000 + "</body></html>"
    start = time.perf_counter()
    assert html.parse_html_columns(page)[0]["text"] == ["deep"]
    assert time.perf_counter() - start < 2


@needs_lexbor
def test_many_attributes_are_bounded_before_lexbor():
    page = body("<p " + " ".join(f"a{i}=x" for i in range(40_000)) + ">text</p>")
    start = time.perf_counter()
    assert html.parse_html_columns(page)[0]["text"] == ["text"]
    assert time.perf_counter() - start < 2  # 2.6 s unbounded


def test_use_refuses_what_it_cannot_do(monkeypatch):
    with pytest.raises(ValueError, match="one of lexbor, lxml"):
        lexbor.use("html5lib")
    monkeypatch.setattr(lexbor, "_module", None)
    monkeypatch.setattr(lexbor, "unavailable", "selectolax is not installed")
    with pytest.raises(ValueError, match="selectolax is not installed"):
        lexbor.use("lexbor")


def _parser_in_subprocess(env: dict[str, str], prelude: str = "") -> list[str]:
    code = (
        prelude
        + "import chromesift\nfrom chromesift.data import lexbor\n"
        + "print(lexbor.PARSER)\nprint(lexbor.unavailable)\n"
        + "print(chromesift.extract('<html><body><p>' + 'Some words of text. ' * 20 + '</p></body></html>')[:10])\n"
    )
    full = {k: v for k, v in os.environ.items() if k not in ("CHROMESIFT_PARSER", "CHROMESIFT_PURE_PYTHON")}
    out = subprocess.run([sys.executable, "-c", code], env={**full, **env}, capture_output=True, text=True,
                         timeout=120, check=True)
    return out.stdout.splitlines() + [out.stderr]


def test_the_environment_chooses_lxml():
    lines = _parser_in_subprocess({"CHROMESIFT_PARSER": "lxml"})
    assert lines[0] == "lxml"
    assert lines[2] == "Some words"


@needs_lexbor
def test_an_unknown_parser_name_is_ignored_with_a_warning():
    lines = _parser_in_subprocess({"CHROMESIFT_PARSER": "fastest"})
    assert lines[0] == "lexbor"
    assert "CHROMESIFT_PARSER=fastest is not one of lexbor, lxml" in lines[-1]


def test_without_selectolax_pages_are_read_with_lxml():
    # selectolax absent (None in sys.modules makes its import fail): lxml, and extraction works
    lines = _parser_in_subprocess({}, prelude="import sys\nsys.modules['selectolax'] = None\n")
    assert lines[:2] == ["lxml", "selectolax is not installed"]
    assert lines[2] == "Some words"


@needs_lexbor
def test_bind_refuses_a_module_that_is_not_loaded(tmp_path):
    from chromesift.data import _lexbor

    code = (
        "from chromesift.data import _lexbor\n"
        f"try:\n    _lexbor.bind({str(tmp_path / 'nothing.so')!r})\n"
        "except ImportError as e:\n    print('refused:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "refused:" in out.stdout and "is not loaded" in out.stdout
    assert len(_lexbor.FUNCTIONS) == 14


@needs_lexbor
def test_threads_parse_alike(seed_html):
    # the parse runs without the GIL: pages parsed side by side in threads read as one by one
    from concurrent.futures import ThreadPoolExecutor

    pages = [seed_html, *WELL_FORMED.values()] * 4
    expected = [html.parse_html_columns(p)[0] for p in pages]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda p: html.parse_html_columns(p)[0], pages))
    assert got == expected


@needs_lexbor
def test_a_declared_charset_does_not_change_the_reading():
    # the parsers get the page as UTF-8, whatever its <meta> says (decode() chose already)
    page = ('<html><head><meta charset="iso-8859-1"></head>'
            "<body><p>Über die Straße, 東京 und ελληνικά.</p></body></html>")
    a, b = both(page)
    assert b["text"] == a["text"] == ["Über die Straße, 東京 und ελληνικά."]


def test_training_tables_are_read_with_lxml():
    # the shipped model learned from libxml2's paragraphs, and `make train` reproduces it
    from chromesift.data import build, corpus

    assert build.TABLE_PARSER == "lxml"
    page = corpus.Page(id="t/1", dataset="t", url="https://t.example/1", lang="en",
                       html=body("<table><tr><td>" + "A cell of text. " * 8 + "</td></tr></table>"),
                       text="A cell of text. " * 8)
    frame, _ = build.label_one(page)
    assert frame["path"].tolist() == ["html/body/table/tr/td"]  # libxml2's tree: no <tbody>
    with pytest.raises(ValueError, match="parser must be None or 'lxml'"):
        html.parse_html(page.html, parser="html5lib")
