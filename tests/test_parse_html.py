"""The HTML parser: segmentation, structural columns, and bad input."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chromesift
from chromesift.data import schema
from chromesift.data.html import decode, parse_html, text_lines
from chromesift.data.sniff import DecodeError
from chromesift.data.text import parse_text

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def page() -> pd.DataFrame:
    return parse_html((FIXTURES / "segmentation.html").read_bytes(), doc_id="seg")


def row(frame: pd.DataFrame, start: str) -> pd.Series:
    """The one row whose text starts with ``start``."""
    hits = frame[frame["text"].str.startswith(start)]
    assert len(hits) == 1, f"expected one row starting {start!r}, got {hits['text'].tolist()}"
    return hits.iloc[0]


# --- segmentation -------------------------------------------------------------------------


def test_table_has_every_schema_column(page):
    schema.validate(page, stage="test")
    assert page["position"].tolist() == list(range(len(page)))
    assert set(page["doc_id"]) == {"seg"}
    assert (page["source"] == "html").all()
    for column, dtype in schema.COLUMNS.items():
        assert str(page[column].dtype) == dtype or dtype == "object", column


def test_segments_come_out_in_document_order(page):
    assert page["text"].tolist() == [
        "The Shoreline Gazette",
        "Local Weather Letters",
        "We use cookies to remember your reading settings. Read our privacy notice.",
        "Accept",
        "Tide pools at dawn",
        "By Mara Quill",
        "Before the first ferry leaves, the rock shelf below the lighthouse turns into a "
        "small city of anemones, crabs and stranded sea stars.",
        "Volunteers from the harbour school count every animal they see, and they write the "
        "numbers on a shared sheet that anyone can open.",
        "The pools change faster than the maps we draw of them.",
        "Line one of a verse continues here",
        "and a new stanza starts.",
        "More from the coast",
        "Gulls learn to open bins The pier gets new lamps Storm season starts early",
        "\u00a9 2024 The Shoreline Gazette. All rights reserved.",
        "Contact | Jobs",
    ]


def test_invisible_text_never_becomes_a_row(page):
    joined = " ".join(page["text"])
    for hidden in ("analytics", "font-family", "Hidden text", "comment that must not"):
        assert hidden not in joined


def test_nested_inline_markup_never_splits_a_sentence(page):
    sentence = row(page, "Before the first ferry")
    assert sentence["tag"] == "p"
    assert "small city of anemones, crabs and stranded sea stars." in sentence["text"]
    # the heading with <em> inside is one row, with single spaces
    assert row(page, "Tide pools")["text"] == "Tide pools at dawn"


def test_double_br_ends_a_paragraph_single_br_does_not(page):
    assert row(page, "Line one")["text"] == "Line one of a verse continues here"
    assert row(page, "and a new stanza")["tag"] == "p"


def test_cookie_banner_teasers_footer_are_separate_rows(page):
    banner = row(page, "We use cookies")
    assert banner["tag"] == "p"
    assert "cookie" in banner["anc_attrs"].split() and "banner" in banner["anc_attrs"].split()
    assert not banner["in_article"]

    # the list's three links are one run of link-only items: one row
    teasers = page[page["anc_attrs"].str.contains("teasers")]
    assert teasers["text"].tolist() == [
        "Gulls learn to open bins The pier gets new lamps Storm season starts early",
    ]
    assert teasers["in_li"].all() and teasers["in_aside"].all()
    assert teasers["n_links"].tolist() == [3]
    assert (teasers["link_chars"] == teasers["text"].str.len()).all()
    assert (teasers["path"] == "html/body/main/aside/ul/li").all()

    footer = page[page["in_footer"]]
    assert footer["text"].tolist() == [
        "\u00a9 2024 The Shoreline Gazette. All rights reserved.",
        "Contact | Jobs",
    ]
    assert footer["n_links"].tolist() == [0, 2]
    assert footer.iloc[1]["link_chars"] == len("Contact") + len("Jobs")


def test_structural_columns_of_navigation(page):
    nav = page[page["in_nav"]]
    assert nav["text"].tolist() == ["Local Weather Letters"]  # a menu's items: one row
    assert nav["in_header"].all() and nav["in_li"].all()
    assert (nav["tag"] == "li").all()
    assert (nav["path"] == "html/body/header/nav/ul/li").all()
    assert nav["n_links"].tolist() == [3]
    assert (nav["link_chars"] == nav["text"].str.len()).all()
    # class/id tokens: camelCase and dashes split, nearest ancestor first
    assert nav.iloc[0]["anc_attrs"].split() == ["main", "nav", "site", "header"]


def test_structural_columns_of_the_article(page):
    body = page[page["in_article"] & ~page["in_aside"]]
    assert body["text"].iloc[0] == "Tide pools at dawn"
    assert body["in_heading"].tolist() == [True] + [False] * (len(body) - 1)
    assert not body["in_nav"].any() and not body["in_footer"].any()
    assert row(page, "By Mara")["own_attrs"] == "byline"
    linked = row(page, "Volunteers")
    assert (linked["n_links"], linked["link_chars"]) == (1, len("a shared sheet"))
    assert row(page, "The pools change")["tag"] == "blockquote"
    # depth counts the block's ancestors from <html>: html/body/main/article/p
    assert row(page, "By Mara")["depth"] == 5


def test_page_level_columns(page):
    assert set(page["page_title"]) == {"Tide pools at dawn | The Shoreline Gazette"}
    assert set(page["page_h1"]) == {"Tide pools at dawn"}
    assert set(page["page_chars"]) == {int(page["text"].str.len().sum())}
    assert (page.attrs["encoding"], page.attrs["encoding_source"]) == ("utf-8", "declared")


def test_table_cells_and_list_items_are_rows():
    frame = parse_html("<table><tr><td>alpha</td><td>beta <b>gamma</b></td></tr></table>")
    assert frame["text"].tolist() == ["alpha", "beta gamma"]
    assert frame["in_table"].all()
    assert (frame["tag"] == "td").all()


def test_text_outside_blocks_is_kept_and_attributed_to_the_enclosing_block():
    frame = parse_html("<div>before<p>inside</p>after</div>")
    assert frame["text"].tolist() == ["before", "inside", "after"]
    assert frame["tag"].tolist() == ["div", "p", "div"]


def test_whitespace_and_entities_are_normalised():
    frame = parse_html("<p>  many\n\t spaces&nbsp;and &amp; entities &#x263A; </p>")
    # a no-break space is whitespace too: it collapses like any other
    assert frame["text"].tolist() == ["many spaces and & entities \u263a"]


def test_parsing_is_deterministic(page):
    raw = (FIXTURES / "segmentation.html").read_bytes()
    again = parse_html(raw, doc_id="seg")
    pd.testing.assert_frame_equal(page, again)
    assert page.attrs == again.attrs
    # str and bytes input give the same paragraphs
    from_str = parse_html(raw.decode("utf-8"), doc_id="seg")
    pd.testing.assert_frame_equal(page.reset_index(drop=True), from_str, check_like=False)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "blank", ["", "   \n\t ", b"", b"  \r\n", "<!DOCTYPE html>", "<!-- only a comment -->",
              "<html><head><title>t</title></head><body></body></html>",
              "<script>var x = 1;</script>"]
)
def test_blank_pages_give_an_empty_typed_table(blank):
    frame = parse_html(blank)
    assert len(frame) == 0
    assert list(frame.columns) == list(schema.COLUMNS)
    assert frame.dtypes.astype(str).to_dict() == schema.COLUMNS


@pytest.mark.parametrize("bad", [None, 42, 3.5, ["<p>x</p>"], {"html": "x"}])
def test_non_page_input_is_a_type_error(bad):
    with pytest.raises(TypeError, match="must be str or bytes"):
        parse_html(bad)


TEXT = "Caf\u00e9 d\u00e9j\u00e0 vu \u2013 \u201cquoted\u201d na\u00efve r\u00e9sum\u00e9, gro\u00dfe Stra\u00dfe."


def html_with(charset: str | None, text: str = TEXT) -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return f"<html><head>{meta}<title>t</title></head><body><p>{text}</p></body></html>"


def test_declared_charset_is_used_when_the_bytes_agree():
    frame = parse_html(html_with("windows-1252").encode("cp1252"))
    assert frame["text"].tolist() == [TEXT]
    assert frame.attrs["encoding_source"] == "declared"
    assert codecs.lookup(frame.attrs["encoding"]).name == "cp1252"


def test_http_equiv_declaration_is_found():
    text = "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440"
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        f"</head><body><p>{text}</p></body></html>"
    ).encode("cp1251")
    frame = parse_html(page)
    assert frame["text"].tolist() == [text]
    assert frame.attrs["encoding_source"] == "declared"


def test_undeclared_utf8_bytes_decode_as_utf8():
    frame = parse_html(html_with(None).encode("utf-8"))
    assert frame["text"].tolist() == [TEXT]
    assert frame.attrs["encoding_source"] == "utf-8"


def test_unknown_charset_name_falls_back_to_utf8():
    frame = parse_html(html_with("x-no-such-charset").encode("utf-8"))
    assert frame["text"].tolist() == [TEXT]
    assert frame.attrs["encoding_source"] == "utf-8"


def test_declared_utf8_but_cp1252_bytes_is_detected():
    frame = parse_html(html_with("utf-8").encode("cp1252"))
    assert frame.attrs["encoding_source"] == "detected"
    assert frame["text"].tolist() == [TEXT]


def test_declared_latin1_but_utf8_bytes_decodes_as_utf8():
    frame = parse_html(html_with("iso-8859-1").encode("utf-8"))
    assert frame["text"].tolist() == [TEXT]
    assert frame.attrs["encoding_source"] == "utf-8"


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_byte_order_marks_win(codec):
    data = html_with("iso-8859-1").encode(codec)  # the BOM outranks a lying declaration
    if codec in ("utf-16-le", "utf-16-be"):
        data = codecs.BOM_UTF16_LE + data if codec.endswith("le") else codecs.BOM_UTF16_BE + data
    frame = parse_html(data)
    assert frame["text"].tolist() == [TEXT]
    assert frame.attrs["encoding_source"] == "bom"
    assert "\ufeff" not in "".join(frame["text"])


def test_a_bom_inside_a_str_page_is_not_text():
    frame = parse_html("\ufeff" + html_with(None))
    assert frame["text"].tolist() == [TEXT]


def test_decode_reports_the_rule():
    assert decode("x").source == "str"
    assert decode(codecs.BOM_UTF8 + b"x") == decode(codecs.BOM_UTF8 + b"x")
    assert decode(codecs.BOM_UTF8 + b"x").text == "x"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_garbage_is_refused_with_one_clear_error(seed):
    """Random bytes are no page: one DecodeError, not their bytes as "main text"."""
    import random

    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(50_000))
    with pytest.raises(DecodeError, match="binary data, not an HTML page or text"):
        parse_html(data)
    with pytest.raises(DecodeError, match="binary data"):
        chromesift.extract(data)


@pytest.mark.parametrize("data, what", [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
    (b"\x1f\x8b\x08\x00" + b"x" * 40, "gzip-compressed data"),
])
def test_files_that_are_no_page_are_named_in_the_error(data, what):
    for call in (parse_html, parse_text, chromesift.extract):
        with pytest.raises(DecodeError, match=what):
            call(data)


def test_a_page_with_a_few_control_characters_is_still_a_page():
    page = "<p>" + "Ein Satz mit Inhalt. " * 20 + "\x00\x01\x02\x1b</p>"
    assert "Ein Satz" in " ".join(parse_html(page.encode("utf-8"))["text"])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_wide_encoded_pages_are_read_as_html(encoding):
    page = "<html><head><title>Titel</title></head><body><p>" + "Grüße aus Köln, ein Satz. " * 8 + "</p></body></html>"
    data = page.encode(encoding)
    assert chromesift.detect_format(data) == "html"
    assert parse_html(data)["text"].tolist() == parse_html(page)["text"].tolist()
    assert chromesift.extract(data) == chromesift.extract(page)


def test_nul_bytes_and_lone_surrogates_do_not_crash():
    frame = parse_html("<p>a\x00b</p><p>c\ud800d</p>")
    assert len(frame) == 2
    assert frame["text"].str.startswith(("a", "c")).all()


def test_unclosed_tags_still_give_every_text():
    frame = parse_html("<html><body><div><p>one<p>two<ul><li>three<li>four <b>bold <i>italic")
    assert frame["text"].tolist() == ["one", "two", "three", "four bold italic"]


def test_stray_end_tags_and_broken_attributes():
    frame = parse_html('</div></p><p class="a>b">x</p></span><p id=>y</b></p><p <p>z')
    assert "x" in " ".join(frame["text"]) and "y" in frame["text"].tolist()


def test_twenty_megabyte_page():
    paragraph = "<p>" + "sand and salt " * 60 + "</p>\n"
    n = 20_000_000 // len(paragraph) + 1
    page = "<html><body>" + paragraph * n + "<p>the very last paragraph</p></body></html>"
    assert len(page) > 20_000_000
    frame = parse_html(page)
    assert len(frame) == n + 1
    assert frame["text"].iloc[-1] == "the very last paragraph"
    assert (frame["text"].iloc[:-1] == ("sand and salt " * 60).strip()).all()


def test_twenty_megabyte_text_node():
    frame = parse_html(b"<p>" + b"x" * 20_000_000 + b" END</p>")
    assert len(frame) == 1
    assert frame["text"].iloc[0].endswith("x END")


@pytest.mark.parametrize("tag", ["div", "b", "span"])
def test_ten_thousand_nested_elements_keep_their_text(tag):
    n = 10_000
    page = "<p>intro</p>" + f"<{tag}>" * n + "<p>deep text</p>" + f"</{tag}>" * n + "<p>after</p>"
    frame = parse_html(page)
    assert frame["text"].tolist() == ["intro", "deep text", "after"]


def test_two_thousand_nested_divs_report_their_depth():
    n = 2_000
    frame = parse_html("<div>" * n + "<p>deep</p>" + "</div>" * n)
    assert frame["text"].tolist() == ["deep"]
    assert frame["depth"].iloc[0] == n + 3  # html, body, the divs, p
    assert frame["path"].iloc[0].count("/") == 11  # the path keeps the nearest 12 tags


_PIECES = ["<p>", "</p>", "<div class='nav menu'>", "</div>", "<a href='#'>", "</a>", "<br>",
           "<li>", "<ul>", "</ul>", "<b>", "</b>", "<script>", "</script>", "<!--", "-->",
           "<table><tr><td>", "</td>", "&amp;", "&nbsp;", "<", ">", "\"", " ", "\n", "word",
           "\u00e9t\u00e9", "\u4e2d\u6587", "<footer>", "</footer>", "<p hidden>"]


@given(st.lists(st.sampled_from(_PIECES), max_size=60), st.booleans())
@settings(max_examples=200, derandomize=True, deadline=None)
def test_any_tag_soup_gives_a_well_formed_table(pieces, as_bytes):
    page = "".join(pieces)
    frame = parse_html(page.encode("utf-8") if as_bytes else page)
    assert frame["position"].tolist() == list(range(len(frame)))
    assert all(t and t == t.strip() and "  " not in t for t in frame["text"])
    assert (frame["link_chars"] <= frame["text"].str.len()).all()
    assert (frame["link_chars"] >= 0).all() and (frame["n_links"] >= 0).all()
    # no visible word is invented: every row's words occur in the page source
    for text in frame["text"]:
        for word in ("word", "\u00e9t\u00e9", "\u4e2d\u6587"):
            assert text.count(word) <= page.count(word)


def test_main_container_is_the_densest_element():
    long_a = "The council approved the new budget on Monday after a long debate. " * 3
    long_b = "Opposition members said the plan leaves too little money for schools. " * 3
    html = f"""<html><body>
    <nav><a href="/">Home</a> <a href="/n">News</a></nav>
    <div class="teasers"><p><a href="/x">{long_a}</a></p></div>
    <div class="story"><h1>Budget passes</h1><p>{long_a}</p><p>{long_b}</p><p>Short line.</p></div>
    <footer><p>Contact</p><p>Imprint</p></footer></body></html>"""
    frame = parse_html(html)
    heads = frame["text"].str[:12].tolist()
    # the story's paragraphs, its headline and short line too; not the linked teaser
    assert [t for t, m in zip(heads, frame["in_main"], strict=True) if m] == [
        "Budget passe", long_a[:12], long_b[:12], "Short line."
    ]
    assert not frame["in_main"][heads.index(long_a[:12])]  # the teaser comes first
    assert not any(frame.loc[frame["tag"].isin(["nav", "footer"]) | frame["in_nav"], "in_main"])


def test_no_main_container_without_article_like_text():
    frame = parse_html("<html><body><ul><li><a href='/a'>A</a></li><li>B</li></ul><p>tiny</p></body></html>")
    assert len(frame) and not frame["in_main"].any()
    from chromesift.data.html import main_container

    assert main_container([], [], []) == []
    # innermost element wins a tie; score: 100 good - 0.5 * 10 other
    assert main_container([(0, 2), (0, 2), (0, 3)], [100, 10, 0], [0, 0, 0]) == [True, True, False]


# --- the parse's shortcuts ------------------------------------------------------------------


def test_bytes_and_text_of_a_page_give_the_same_columns():
    from chromesift.data.html import parse_html_columns

    page = (FIXTURES / "segmentation.html").read_text(encoding="utf-8") + "<p>caf\u00e9 \u4e2d\u6587 \U0001f600</p>"
    expected = parse_html_columns(page)[0]
    for data in (page.encode("utf-8"), codecs.BOM_UTF8 + page.encode("utf-8")):
        assert parse_html_columns(data)[0] == expected
    declared = "<html><head><meta charset='latin-1'><title>\u00e9t\u00e9</title></head><body><p>caf\u00e9</p></body></html>"
    for data in (declared.encode("latin-1"), declared.encode("utf-8")):
        cols, decoded = parse_html_columns(data)
        assert cols == parse_html_columns(decoded.text)[0]
        assert cols["text"] == ["caf\u00e9"] and cols["page_title"] == ["\u00e9t\u00e9"]


def test_decode_hands_over_the_utf8_it_already_has():
    from chromesift.data.html import _decode

    pages = [
        "plain", "caf\u00e9", "\ud800 lone surrogate", b"plain", "caf\u00e9".encode(), b"caf\xe9",
        codecs.BOM_UTF8 + b"x", b"<meta charset='utf-8'>\xc3\xa9", b"<meta charset='latin-1'>\xe9",
        b"<meta charset='latin-1'>\xc3\xa9",
    ]
    for page in pages:
        decoded, data = _decode(page)
        assert decoded == decode(page)
        if data is not None:
            assert data == decoded.text.encode("utf-8")


def test_a_page_after_a_too_deep_or_broken_one_parses_as_on_its_own():
    from chromesift.data.html import parse_html_columns

    page = (FIXTURES / "segmentation.html").read_bytes()
    alone = parse_html_columns(page)[0]
    deep = "<div>" * 5000 + "<p>deep</p>" + "</div>" * 5000
    for other in (deep, "<?xml version='1.0' encoding='ascii'?><p>x", "\x00<p>\x00", "", "<" * 1000):
        parse_html_columns(other)
        assert parse_html_columns(page)[0] == alone
    assert parse_html_columns(deep)[0]["text"] == ["deep"]


def test_threads_parse_with_parsers_of_their_own():
    from concurrent.futures import ThreadPoolExecutor

    from chromesift.data.html import parse_html_columns

    pages = [(FIXTURES / "segmentation.html").read_bytes(), "<p>one</p>" * 50, "<div>" * 3000 + "x"]
    expected = [parse_html_columns(p)[0] for p in pages]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: parse_html_columns(pages[i % 3])[0], range(60)))
    assert got == [expected[i % 3] for i in range(60)]


POST = ("Wir waren drei Wochen mit dem Rad an der Küste unterwegs, von Hafen zu Hafen, "
        "und haben jeden Abend aufgeschrieben, was uns unterwegs begegnet ist.")


@pytest.mark.parametrize("wrapper", ["noscript", "template"])
def test_a_page_rendered_by_script_is_read_from_its_noscript_or_template_copy(wrapper):
    """A blog platform whose post body is a script template plus a <noscript> copy gave nothing."""
    page = (f"<html><head><title>Reise</title></head><body><div id='app'></div>"
            f"<script>render(window.__POST__)</script><{wrapper}><article><h1>Unsere Reise</h1>"
            f"<p>{POST}</p><p>{POST[::-1]}</p></article></{wrapper}></body></html>")
    texts = parse_html(page)["text"].tolist()
    assert texts == ["Unsere Reise", POST, POST[::-1]]


def test_a_page_with_visible_text_ignores_its_noscript():
    page = (f"<html><body><article><p>{POST}</p><p>{POST}</p></article>"
            "<noscript><p>Please enable JavaScript to see the comments.</p></noscript></body></html>")
    assert parse_html(page)["text"].tolist() == [POST, POST]


def test_a_single_byte_declaration_over_multibyte_bytes_is_not_believed():
    """A page that says latin-1 over Shift-JIS bytes gave a mojibake headline."""
    headline = "東京の新しい図書館が開館しました"
    body = "多くの市民が訪れ、新しい閲覧室で静かに読書を楽しんでいます。" * 6
    page = (f'<html><head><meta charset="iso-8859-1"><title>{headline}</title></head>'
            f"<body><h1>{headline}</h1><p>{body}</p></body></html>").encode("shift_jis")
    decoded = decode(page)
    assert decoded.source == "detected" and codecs.lookup(decoded.encoding).name in ("cp932", "shift_jis")
    assert chromesift.headline(page) == headline
    # a true latin-1 page keeps its declaration
    latin = ('<html><head><meta charset="iso-8859-1"></head><body><p>'
             + "Ça a été très réussi, à côté de la forêt, où les élèves étaient ravis. " * 10
             + "</p></body></html>").encode("latin-1")
    assert (decode(latin).encoding, decode(latin).source) == ("iso8859-1", "declared")


def test_runs_of_link_only_items_are_one_paragraph():
    html = (
        "<html><body>"
        "<ul><li><a href='/a'>Alpha</a></li><li><a href='/b'>Beta</a></li>"
        "<li>Gamma, not a link</li><li><a href='/d'>Delta</a></li><li><a href='/e'>Eps</a> and more</li></ul>"
        "<ul><li><a href='/f'>Phi</a></li></ul><ul><li><a href='/g'>Gee</a></li></ul>"
        "<div><p><a href='/h'>Aitch</a></p><div><p><a href='/i'>Eye</a></p></div></div>"
        "</body></html>"
    )
    page = parse_html(html)
    assert page["text"].tolist() == [
        "Alpha Beta",  # a run of link-only items of one list
        "Gamma, not a link",  # text that is not a link ends the run
        "Delta",
        "Eps and more",  # partly a link: its own paragraph
        "Phi",  # another list: another parent
        "Gee",
        "Aitch",  # another parent and path
        "Eye",
    ]
    assert page["n_links"].tolist() == [2, 0, 1, 1, 1, 1, 1, 1]
    assert page["link_chars"].tolist()[0] == len("Alpha Beta")
    assert page["position"].tolist() == list(range(8))
    assert "lines" not in page.columns
    with_lines = parse_html(html, lines=True)
    assert with_lines["text"].tolist() == page["text"].tolist()
    assert with_lines["lines"].iloc[0] == "Alpha\nBeta"
    assert with_lines["lines"].iloc[1:].isna().all()
    assert text_lines(html)[:3] == ["Alpha", "Beta", "Gamma, not a link"]


def test_the_main_container_is_found_after_link_runs_are_joined():
    body = "".join(f"<p>{f'Sentence number {i} of the story, long enough to count. ' * 3}</p>" for i in range(6))
    menu = "".join(f"<li><a href='/{i}'>Section {i}</a></li>" for i in range(12))
    page = parse_html(f"<html><body><nav><ul>{menu}</ul></nav><article>{body}</article>"
                      f"<footer><ul>{menu}</ul></footer></body></html>")
    assert page["text"].tolist()[0].startswith("Section 0 Section 1")
    assert page["in_main"].tolist() == [False] + [True] * 6 + [False]
