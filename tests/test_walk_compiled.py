"""The compiled paragraph walk (chromesift.data._walk) against its Python reference (walk_kernels)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from chromesift.data import html, lexbor, schema, walk_kernels
from chromesift.data.util import using
from chromesift.data.vocab import FLAG_TAGS, ROLE_FLAGS, SKIP_TAGS

needs_extension = pytest.mark.skipif(
    walk_kernels.compiled is None,
    reason="the extension chromesift.data._walk is not in use (not built: no Cython or C compiler at install; or CHROMESIFT_PURE_PYTHON)",
)


def _empty_columns() -> dict[str, list]:
    return {c: [] for c in schema.COLUMNS if c != "doc_id"}


def python_walk(root, cols: dict[str, list]) -> list:
    """``html._walk`` with the Python reference of the walk."""
    with using(walk_kernels, "python"):
        return html._walk(root, cols)


def under(backend: str, fn, *args):
    with using(walk_kernels, backend):
        return fn(*args)


def walk_both(root) -> tuple[dict[str, list], list]:
    """Run both walks on one tree; assert every column, value type and range is equal."""
    ref, fast = _empty_columns(), _empty_columns()
    ref_ranges = python_walk(root, ref)
    fast_ranges = under("compiled", html._walk, root, fast)
    for name in ref:
        assert fast[name] == ref[name], name
        assert [type(v) for v in fast[name]] == [type(v) for v in ref[name]], name
    assert fast_ranges == ref_ranges
    return ref, ref_ranges


def same(page: str) -> dict[str, list]:
    """Parse ``page`` as the parser does and compare the walks; return the columns."""
    root = html._parse_tree(html.decode(page).text)
    assert root is not None
    return walk_both(root)[0]


def body(inner: str) -> str:
    return f"<html><head><title>t</title></head><body>{inner}</body></html>"


CASES = {
    "nested blocks": body(
        "<div>outer <div>inner <p>para <section>deep</section> after</p> tail</div> end</div>"
    ),
    "inline markup": body("<p>one <b>bold <i>both</i></b> <span>and <em>more</em></span>.</p>"),
    "br": body("<div>line one<br>line two<br> <br>line three<br><br>new para<br></div>"),
    "br runs": body("<p>a<br><br><br><br>b<br>\n<br>c<br><!-- x --><br>d<br>e <b> </b><br>f</p>"),
    "br at the edges": body("<br><br>x<p><br>y</p><br>"),
    "skipped tags": body(
        "".join(f"<div>before {t}<{t}>hidden {t}</{t}>after {t}</div>" for t in sorted(SKIP_TAGS))
    ),
    "hidden attribute": body(
        "<div>shown <p hidden>not shown</p>tail <span hidden=''>no</span>more "
        "<div hidden='hidden'><p>deep no</p></div>last</div>"
    ),
    "hidden style": body(
        "<div>a<p style='display:none'>no</p>b<p style='DISPLAY : None'>no</p>c"
        "<span style='color:red; visibility:hidden'>no</span>d<p style='display:block'>yes</p>"
        "<p style=''>empty style</p><p style='visibility:visible'>visible</p></div>"
    ),
    "comments and pis": body(
        "<p>before<!-- a comment -->after<!--x-->more</p><!-- between --> loose text"
        "<p>x<?php echo 1 ?>y</p><div><!--first-->text after first comment</div>"
    ),
    "tails after skipped": body(
        "<div><script>var a;</script>tail one<style>p{}</style> tail two "
        "<p hidden>h</p>tail three</div>"
    ),
    "links": body(
        "<p>Read <a href='/a'>the first link</a> and <a href=''>an empty href</a> and "
        "<a name='x'>an anchor</a> then <a href='/b'><b>bold</b> link <i> </i></a>.</p>"
        "<p><a href='/c'></a></p><p>after an empty link</p><a href='/d'>loose link</a>"
        "<ul><li><a href='/e'>  spaced  </a></li></ul>"
    ),
    "tokens": body(
        "<div class='mainContent wrapper-x' id='postBody'><section class='a' role='main'>"
        "<div id='Inner_Box'><p class='leadPara'>text one</p></div></section>"
        "<nav class='top' role=' Navigation '><p>nav text</p></nav>"
        "<div role='banner'>banner</div><div role='contentinfo'>info</div>"
        "<div role='complementary'>side</div><div role='search'>search</div>"
        "<div role='article'>art</div><div role='unknown'>unk</div><div class=''>empty</div></div>"
    ),
    "ancestor tokens": body(
        "".join(f"<div class='c{i}' id='i{i}'>" for i in range(12))
        + "<p>deep text</p>"
        + "</div>" * 12
    ),
    "flag tags": body(
        "".join(f"<{t} class='{t}'>inside {t} <p>para in {t}</p> tail</{t}>" for t in sorted(FLAG_TAGS))
    ),
    "role flags": body("".join(f"<div role='{r}'>role {r}</div>" for r in sorted(ROLE_FLAGS))),
    "entities": body(
        "<p>caf&eacute; &amp; cr&egrave;me &lt;b&gt; &nbsp;&nbsp; &#x1F600; &#8212; &unknown; &copy</p>"
    ),
    "non-BMP": body("<p>\U0001d518\U0001d52b\U0001d526 \U0001f600 <b>\U00020000</b>\U0001f44d\U0001f3fd</p>"),
    "unicode whitespace": body(
        "<p>a\u00a0b\u2003c\u3000d\u200be\u2028f\u0085g\u1680h\u202fi\u205fj\x0bk\x1cl</p>"
        "<p>\u00a0\u2003\u3000</p><p> \t\n </p><p>\u200b</p>"
    ),
    "whitespace only": body("   <div>  \n\t </div>  <p> </p> <span>\u00a0</span> "),
    "soft hyphens": body(
        "<p>Mit\u00adtel\u00adal\u00adter <a href='/x'>Ver\u00adlinkt</a> \u00adfirst and last\u00ad</p>"
        "<p>\u00ad</p><p> \u00ad \u00ad </p><div>\u00ad<br><br>after\u00ad<br>\u00ad<br>end</div>"
    ),
    "ruby": body(
        "<p><ruby>漢<rp>(</rp><rt>かん</rt><rp>)</rp>字<rt>じ</rt></ruby>の本</p>"
        "<p><ruby>子<rt>こ</rt></ruby>ども<ruby><rb>災害</rb><rt>さいがい</rt><!-- c --></ruby>が<rt>orphan</rt></p>"
        "<p><ruby>X<RT>bare</RT><o:rp>(</o:rp><rt>ns</rt></ruby></p>"
    ),
    "tables": body(
        "<table><tr><td>cell one</td><td>cell <a href='#'>two</a></td></tr>"
        "<tr><th>head</th></tr></table><dl><dt>term</dt><dd>definition</dd></dl>"
    ),
    "odd tag names": body(
        "<o:p>office</o:p><svg:rect>x</svg:rect><FOO-Bar>custom</FOO-Bar><DIV>upper</DIV>"
        "<my}tag>brace</my}tag><h1>Heading</h1>"
    ),
    "text outside body": "leading text<html><body><p>x</p></body></html>trailing text",
    "no body": "<p>just a paragraph</p> and text",
}


@needs_extension
@pytest.mark.parametrize("name", sorted(CASES))
def test_hand_written_pages_match_the_python_walk(name):
    cols = same(CASES[name])
    if name != "whitespace only":
        assert cols["text"], "the page has visible text"
    else:
        assert cols["text"] == []


@needs_extension
def test_cases_exercise_what_they_claim():
    links = same(CASES["links"])
    assert sum(links["n_links"]) == 6 and sum(links["link_chars"]) > 0
    flags = same(CASES["flag tags"])
    for flag in set(FLAG_TAGS.values()):
        assert any(flags[flag]), flag
    roles = same(CASES["role flags"])
    for flag in set(ROLE_FLAGS.values()):
        assert any(roles[flag]), flag
    tokens = same(CASES["tokens"])
    assert "main content" in " ".join(tokens["anc_attrs"])
    assert "inner box" in " ".join(tokens["anc_attrs"] + tokens["own_attrs"])
    hidden = " ".join(same(CASES["hidden attribute"])["text"]) + " ".join(same(CASES["hidden style"])["text"])
    assert "no" not in hidden.split() and "yes" in hidden.split()
    br = same(CASES["br runs"])["text"]
    assert len(br) >= 3
    shy = same(CASES["soft hyphens"])
    assert shy["text"][0] == "Mittelalter Verlinkt first and last"
    assert "\u00ad" not in "".join(shy["text"]) and "after" in shy["text"][-1]
    # a reading is text where its ruby gives it brackets (rp), not where it floats over the line
    assert same(CASES["ruby"])["text"] == ["漢(かん)字じの本", "子ども災害が", "X("]


_FRAGMENTS = [
    "<div>", "</div>", "<p>", "</p>", "<span class='x'>", "</span>", "<a href='#'>", "</a>",
    "<a>", "<br>", "<br/>", "<li role='navigation'>", "</li>", "<nav>", "</nav>", "<table>",
    "<td>", "</td>", "<h2 id='topHead'>", "</h2>", "<script>", "</script>", "<style>",
    "</style>", "<b hidden>", "</b>", "<i style='display: none'>", "</i>", "<!-- c -->",
    "<?x y?>", "text", " more words ", "\u00a0", "\u2003", "\U0001f600", "&amp;", "&nbsp;",
    "\n", "  ", "<", ">", "&", "</html>", "<body>", "<o:p>", "</o:p>", "<![CDATA[x]]>",
]


@needs_extension
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=80))
@settings(max_examples=300, derandomize=True, database=None, deadline=None)
def test_tag_soup_matches_the_python_walk(fragments):
    root = html._parse_tree(html.decode("".join(fragments)).text)
    if root is not None:
        walk_both(root)


@needs_extension
def test_deep_nesting():
    for open_, close in (("<div>", "</div>"), ("<span>", "</span>"), ("<div><b>", "</b></div>")):
        page = body(open_ * 5000 + "deep text" + close * 5000 + "<p>after</p>")
        cols = same(page)
        assert "deep text" in cols["text"]


@needs_extension
def test_xml_trees_namespaces_cdata_and_pis():
    # trees lxml builds from XML: namespaced tags, CDATA kept, processing instructions
    parser = etree.XMLParser(strip_cdata=False)
    root = etree.fromstring(
        '<x:html xmlns:x="urn:x" xmlns="urn:d"><x:body><x:P class="A">one<![CDATA[ two ]]>three'
        "<?pi data?>after pi<!--c-->after comment</x:P><Div><x:BR/>four<br/><br/>five</Div>"
        '<a href="h">link</a><y:nav xmlns:y="urn:y">nav</y:nav></x:body></x:html>',
        parser,
    )
    cols, _ = walk_both(root)
    assert cols["text"][0] == "one two threeafter piafter comment"


@needs_extension
def test_root_element_skipped_or_with_tail():
    walk_both(etree.fromstring("<script>x</script>"))
    root = etree.fromstring("<div hidden=''>x</div>")
    cols, ranges = walk_both(root)
    assert cols["text"] == [] and ranges == []
    # an inline root: its paragraph closes after the walk, outside any element
    root = etree.fromstring("<span>inline root <b>bold</b></span>")
    cols, ranges = walk_both(root)
    assert cols["text"] == ["inline root bold"] and cols["depth"] == [0] and ranges == []
    for markup in ("<div>block root</div>", "<span>inline root</span>", "<p hidden=''>x</p>"):
        root = etree.fromstring(markup)
        root.tail = " text after the root "
        cols, _ = walk_both(root)
        assert cols["text"][-1].endswith("text after the root")


@needs_extension
def test_entity_reference_nodes_fail_in_both_walks():
    root = etree.fromstring(
        '<!DOCTYPE d [<!ENTITY e "x">]><div>a&e;b</div>', etree.XMLParser(resolve_entities=False)
    )
    with pytest.raises(TypeError):
        python_walk(root, _empty_columns())
    with pytest.raises(TypeError):
        under("compiled", html._walk, root, _empty_columns())


@needs_extension
@pytest.mark.parametrize("page", ["", "   ", "<html></html>", "<!-- only a comment -->", b"\xef\xbb\xbf"])
def test_empty_pages(page):
    cols, _ = html.parse_html_columns(page)
    assert cols["text"] == []
    root = html._parse_tree(html.decode(page).text)
    if root is not None:
        walk_both(root)


def test_fallback_without_the_extension(seed_html):
    with lexbor.using("lxml"):  # lexbor's walk has no Python reference: lxml's has
        compiled = html.parse_html_columns(seed_html)[0]
    calls = []
    # (the monkeypatch is undone before the backend is switched back)
    with lexbor.using("lxml"), using(walk_kernels, "python"), pytest.MonkeyPatch.context() as mp:
        reference = walk_kernels.walk
        assert reference is walk_kernels.python.walk

        def spy(root, *args):
            calls.append(root)
            return reference(root, *args)

        mp.setattr(walk_kernels, "walk", spy)
        fallback = html.parse_html_columns(seed_html)[0]
        assert calls, "the Python walk was used"
        assert len(fallback["text"]) > 5
        assert fallback == compiled
        assert html.parse_html(seed_html)["text"].tolist() == fallback["text"]


@needs_extension
def test_corpus_pages_match_the_python_walk(shared_data):
    from chromesift.data.corpus import dataset_names, sample_pages

    pages = sample_pages(shared_data, dataset_names(shared_data), 60, seed=7)
    assert len(pages) == 60
    rows = 0
    for page in pages:
        root = html._parse_tree(html.decode(page.html).text)
        if root is not None:
            rows += len(walk_both(root)[0]["text"])
    assert rows > 1000


# --- the other shortcuts of parse_html_columns --------------------------------------------


@needs_extension
@pytest.mark.parametrize(
    "page",
    [
        body("x"),
        "<p>no title at all</p>",
        "<html><body><svg><title>icon</title></svg><p>x</p></body></html>",
        "<html><head><TITLE>upper</TITLE><title>second</title></head></html>",
        "<title>alone</title>",
        "<html><body><x:title>prefixed</x:title><div><title>late <b>bold</b></title></div></body></html>",
    ],
)
def test_first_descendant_finds_what_elementpath_finds(page):
    root = html._parse_tree(page)
    found = walk_kernels.compiled.first_descendant(root, "title")
    expected = root.find(".//title")
    assert (found is None) == (expected is None)
    if found is not None:
        assert found == expected  # lxml hands out one proxy per node
    for el in root.iter():
        assert walk_kernels.compiled.first_descendant(el, "title") == el.find(".//title")
        assert walk_kernels.python.first_descendant(el, "title") == el.find(".//title")
    # XML: a name in a namespace is not the plain name, as for ElementPath
    root = etree.fromstring('<r xmlns:n="urn:n"><n:title>a</n:title><a><title>b</title></a></r>')
    assert walk_kernels.compiled.first_descendant(root, "title") == root.find(".//title")
    assert walk_kernels.compiled.first_descendant(root, "title").text == "b"


@needs_extension
@given(
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 300)), min_size=1, max_size=40),
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=1, max_size=30),
)
@settings(max_examples=300, derandomize=True, database=None, deadline=None)
def test_main_range_is_main_container(paragraphs, spans):
    chars = [c for c, _ in paragraphs]
    links = [min(c, k * 25) for c, k in paragraphs]
    n = len(chars)
    ranges = sorted((min(a, b) % (n + 1), max(a, b) % (n + 1)) for a, b in spans)
    ranges = [(a, b) for a, b in ranges if a < b]
    assert under("compiled", html.main_container, ranges, chars, links) == under(
        "python", html.main_container, ranges, chars, links
    )


def walked_corpus_pages(shared_data, per_corpus: int, seed: int):
    """(page, columns, element ranges) of sampled corpus pages, walked by the compiled walk."""
    from chromesift.data.corpus import dataset_names, sample_pages

    for page in sample_pages(shared_data, dataset_names(shared_data), per_corpus, seed=seed):
        root = html._parse_tree(html.decode(page.html).text)
        if root is None:
            continue
        cols = _empty_columns()
        yield page, cols, under("compiled", html._walk, root, cols)


@needs_extension
def test_main_range_on_corpus_pages(shared_data):
    for _, cols, ranges in walked_corpus_pages(shared_data, 60, 8):
        chars = [len(t) for t in cols["text"]]
        assert under("compiled", html.main_container, ranges, chars, cols["link_chars"]) == under(
            "python", html.main_container, ranges, chars, cols["link_chars"]
        )


_STYLES = [
    "display:none", "DISPLAY:NONE", "display : none", "display\t:\nnone", "display\x1c:\x1fnone",
    "display:\u00a0none", "di\u017fplay:none", "d\u0130splay:none", "d\u0131splay:none", "visibility:hidden",
    "VisiBility :  HIDDEN ", "visibility:hiddenx", "display:nonexistent", "color:red;display:none",
    "display:", "display", "displaynone", "display::none", "x-display:none", "", " ", "display:block",
    "visibility:visible", "\u00e9;display:none", "display:none\u00e9", "\u212a;visibility:hidden", "none display",
]


@needs_extension
def test_hidden_styles_in_c_match_the_regex():
    page = body("".join(f"<p style='{s}'>style {i}</p>after {i} " for i, s in enumerate(_STYLES)))
    cols = same(page)
    shown = {int(t.split()[1]) for t in cols["text"] if t.startswith("style")}
    for i, s in enumerate(_STYLES):
        assert (i not in shown) == bool(html._HIDDEN_STYLE.search(s)), s


@needs_extension
def test_another_hidden_style_pattern_is_searched_in_python(monkeypatch):
    import re

    monkeypatch.setattr(html, "_HIDDEN_STYLE", re.compile(r"opacity\s*:\s*0\b", re.I))
    cols = same(body("<p style='opacity: 0'>gone</p><p style='display:none'>shown</p>"))
    assert cols["text"] == ["shown"]


@needs_extension
def test_token_cache_filled_in_c_as_python_fills_it(monkeypatch):
    monkeypatch.setattr(html, "_TOKEN_CACHE", {})
    same(CASES["tokens"])
    same(body("<div class='caf\u00e9Box \u212aey' id='A-b'><p class='x'>t</p></div>"))
    filled = dict(html._TOKEN_CACHE)
    expected = {v: tuple(html.attr_tokens(v)) for v in filled}
    assert filled == expected
    assert "caf\u00e9Box \u212aey" in filled and "mainContent wrapper-x" in filled
    # at the size limit the Python memo decides (it empties the cache), also for ASCII values
    monkeypatch.setattr(html, "_TOKEN_CACHE", {})
    monkeypatch.setattr(html, "_TOKEN_CACHE_MAX", 3)
    same(CASES["ancestor tokens"])
    assert len(html._TOKEN_CACHE) <= 4
    assert all(html._TOKEN_CACHE[v] == tuple(html.attr_tokens(v)) for v in html._TOKEN_CACHE)


# --- the attribute bound before parsing --------------------------------------------------------

def _crowded(data: bytes, k: int, backend: str):
    from chromesift.data.util import using

    with using(walk_kernels, backend):
        return walk_kernels.scan_tags(data, k)[1]


@pytest.mark.parametrize("data, k, spans", [
    (b"<div a b c d e>x</div>", 3, [(0, 10, 14)]),
    (b"<div a=1 b=\"2\" c='3'd e / >x<p x y z w>", 2, [(0, 14, 26), (28, 34, 38)]),
    (b'<a x=">" y z w', 2, [(0, 10, 14)]),  # an unclosed tag runs to the end
    (b"text <3 and <b c d>", 1, [(12, 16, 18)]),
    (b"<p a b>", 2, []),
])
def test_scan_tags_on_hand_made_tags(data, k, spans):
    assert _crowded(data, k, "python") == spans
    if walk_kernels.compiled is not None:
        assert _crowded(data, k, "compiled") == spans


@needs_extension
@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"<", b">", b"a", b"B", b"=", b'"', b"'", b" ", b"/", b"\t", b"x1", b"<div "]),
                max_size=60).map(b"".join), st.integers(0, 4))
def test_scan_tags_compiled_equals_python(data, k):
    from chromesift.data.util import using

    with using(walk_kernels, "compiled"):
        compiled = walk_kernels.scan_tags(data, k)
    with using(walk_kernels, "python"):
        assert walk_kernels.scan_tags(data, k) == compiled


def test_an_element_with_200k_attributes_is_cut_before_parsing():
    import time

    attrs = " ".join(f'a{i}="v"' for i in range(200_000))
    page = f"<html><body><div class=main {attrs}><p>Hello world, a sentence of the page.</p></div></body></html>"
    start = time.perf_counter()
    cols, _ = html.parse_html_columns(page)
    assert cols["text"] == ["Hello world, a sentence of the page."]
    assert time.perf_counter() - start < 20  # it took over 300 s before the bound (5 s here is slow)


def test_a_page_over_the_tag_limit_is_refused_before_parsing(monkeypatch):
    from chromesift.data.limits import PageLimitError

    monkeypatch.setenv("CHROMESIFT_MAX_TAGS", "100")
    with pytest.raises(PageLimitError, match="101 tags, more than the limit of 100"):
        html.parse_html_columns("<p>x</p>" * 101)  # 101 start tags (end tags do not count)
    monkeypatch.setenv("CHROMESIFT_MAX_PARAGRAPHS", "10")
    monkeypatch.setenv("CHROMESIFT_MAX_TAGS", "1000")
    with pytest.raises(PageLimitError, match="11 paragraphs, more than the limit of 10"):
        html.parse_html_columns("<p>x</p>" * 11)
    assert len(html.parse_html_columns("<p>x</p>" * 10)[0]["text"]) == 10


# --- the page's UTF-8 ---------------------------------------------------------------------

_UNITS = ["a", " ", "<p>", "\x7f", "\x80", "é", "ÿ", "߿", "ࠀ", "’", "中", "\ufffd", "\uffff",
          "\U00010000", "😀", "\U0010ffff"]


@needs_extension
@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_UNITS), st.text(max_size=40)), max_size=80).map("".join))
def test_utf8_compiled_equals_str_encode(text):
    # ASCII runs of every length around the 16-unit (2-byte) and 4-unit (4-byte) steps
    assert walk_kernels.compiled.utf8(text) == text.encode("utf-8")


@needs_extension
@pytest.mark.parametrize("run", [0, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 100])
@pytest.mark.parametrize("wide", ["’", "😀"])
def test_utf8_compiled_around_the_ascii_steps(run, wide):
    for text in ("a" * run + wide, wide + "b" * run, wide + "c" * run + wide + "d" * (run // 2)):
        assert walk_kernels.compiled.utf8(text) == text.encode("utf-8")


@pytest.mark.parametrize("backend", ["python", "compiled"])
@pytest.mark.parametrize("text", ["a\ud800b", "’" * 20 + "\udfff", "😀\ud83d", "x" * 40 + "\udc80" + "’"])
def test_utf8_refuses_a_surrogate_as_str_encode_does(backend, text):
    if backend == "compiled" and walk_kernels.compiled is None:
        pytest.skip("the extension chromesift.data._walk is not built")
    with using(walk_kernels, backend), pytest.raises(UnicodeEncodeError) as err:
        walk_kernels.utf8(text)
    with pytest.raises(UnicodeEncodeError) as expected:
        text.encode("utf-8")
    assert (err.value.start, err.value.end) == (expected.value.start, expected.value.end)


def test_a_page_with_a_surrogate_is_still_read():
    page = "<html><body><p>" + "Ein Absatz mit genug Text, um gelesen zu werden. " * 3 + "\ud83d</p></body></html>"
    cols, decoded = html.parse_html_columns(page)
    assert decoded.text != page  # the lone surrogate was replaced before encoding
    assert any("Ein Absatz" in t for t in cols["text"])


# --- the end of the head -----------------------------------------------------------------------

@pytest.mark.parametrize("data, limit, end", [
    (b"<html><head><title>x</title></head><body>", 1000, 28),
    (b"<HTML><HEAD></HEAD><BODY>", 1000, 12),
    (b"<HEAD></HEAD><head></head>", 1000, 19),  # a lowercase one counts first, as str.find reads it
    (b"<head><script>a</script></head", 30, 24),  # the tag's six bytes are enough
    (b"<head><script>a</script></head", 29, -1),  # past the limit
    (b"</hea", 100, -1),
    (b"", 100, -1),
    (b"<p></Head></p>", 100, -1),  # mixed case is neither
])
def test_find_head_end_on_hand_made_pages(data, limit, end):
    for backend in ("python", "compiled"):
        if backend == "compiled" and walk_kernels.compiled is None:
            continue
        with using(walk_kernels, backend):
            assert walk_kernels.find_head_end(data, limit) == end, backend


@needs_extension
@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"<", b"/", b"</head", b"</HEAD", b"head", b"HEAD", b"h", b"x", b">", b"<</"]),
                max_size=40).map(b"".join), st.integers(0, 120))
def test_find_head_end_compiled_equals_python(data, limit):
    assert walk_kernels.compiled.find_head_end(data, limit) == walk_kernels.python.find_head_end(data, limit)


def _link_columns(rows):
    """Columns as the walk leaves them, from (text, links, link_chars, anc1, path) rows,
    with one more column of the walk's to move along."""
    cols = {"text": [], "n_links": [], "link_chars": [], "anc1": [], "path": [], "tag": [], "in_li": []}
    for k, (text, links, chars, anc1, path) in enumerate(rows):
        cols["text"].append(text)
        cols["n_links"].append(links)
        cols["link_chars"].append(chars)
        cols["anc1"].append(anc1)
        cols["path"].append(path)
        cols["tag"].append(f"t{k}")
        cols["in_li"].append(k % 2 == 0)
    cols["in_main"] = []  # not yet filled: left as it is
    return cols


@needs_extension
@given(
    st.lists(
        st.tuples(
            st.text("ab ", min_size=1, max_size=4), st.integers(0, 2), st.integers(0, 5),
            st.integers(-1, 2), st.sampled_from(["p", "ul/li"]),
        ),
        max_size=30,
    ),
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 30)), max_size=20),
)
@settings(max_examples=400, derandomize=True, database=None, deadline=None)
def test_merge_link_runs_compiled_equals_python(rows, spans):
    n = len(rows)
    ranges = [(a % n, a % n + 1 + (b % (n - a % n))) for a, b in spans] if n else []
    results = []
    for backend in ("compiled", "python"):
        cols, lines = _link_columns(rows), []
        out = getattr(walk_kernels, backend).merge_link_runs(cols, list(ranges), lines)
        results.append((cols, out, lines))
        plain = _link_columns(rows)
        assert getattr(walk_kernels, backend).merge_link_runs(plain, list(ranges)) == out
        assert plain == cols
    assert results[0] == results[1]
    cols, out, lines = results[0]
    assert len(lines) == len(cols["text"])
    # each joined paragraph's lines are its texts, one a line
    assert [t if x is None else x.replace("\n", " ") for t, x in zip(cols["text"], lines, strict=True)] == cols["text"]
    assert "\n".join(t if x is None else x for t, x in zip(cols["text"], lines, strict=True)) == "\n".join(r[0] for r in rows)
    assert "".join(cols["text"]).replace(" ", "") == "".join(r[0] for r in rows).replace(" ", "")
    assert sum(cols["n_links"]) == sum(r[1] for r in rows)
    assert all(len(v) == len(cols["text"]) for c, v in cols.items() if c != "in_main")
    assert all(0 <= a < b <= len(cols["text"]) for a, b in out)


@needs_extension
def test_merge_link_runs_on_corpus_pages(shared_data):
    import copy

    joined = 0
    for page, cols, ranges in walked_corpus_pages(shared_data, 40, 9):
        a, b = copy.deepcopy(cols), copy.deepcopy(cols)
        ra = walk_kernels.compiled.merge_link_runs(a, list(ranges))
        rb = walk_kernels.python.merge_link_runs(b, list(ranges))
        assert (a, ra) == (b, rb), page.id
        joined += len(cols["text"]) - len(a["text"])
    assert joined > 100  # the pages have menus to join


@needs_extension
@pytest.mark.parametrize("backend", ["compiled", "python"])
def test_merge_link_runs_refuses_columns_of_other_lengths(backend):
    cols = _link_columns([("a", 1, 1, 0, "p"), ("b", 1, 1, 0, "p")])
    cols["anc1"].pop()
    with pytest.raises(ValueError, match="differ in length"):
        getattr(walk_kernels, backend).merge_link_runs(cols, [])
