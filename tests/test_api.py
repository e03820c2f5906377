"""The library call with the shipped default bundle."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import chromesift
from chromesift.data.html import text_lines

ARTICLE_STARTS = (
    "Ein Forschungsteam aus Darmstadt",
    "Das Modell wurde nach Angaben",
    "„Uns war wichtig",
    "Erste Pilotversuche laufen",
    "Kritiker mahnen dennoch",
)
CHROME_STARTS = (
    "KI-Nachrichten", "News", "Forschung", "Jobs", "Newsletter",
    "- Die besten KI-News", "- Jetzt die KI-Nachrichten-App", "Stellenangebote",
    "Platform AI Developer", "Data Engineer für Sprachmodelle", "Werkstudent Machine Learning",
    "Kommentare", "Wir freuen uns über Ihre Meinung", "Dieses Thema bei Google suchen",
    "Abonnieren Sie unseren Newsletter", "Anmelden", "© 2026 KI-Nachrichten · Impressum · Datenschutz",
)

# in the HTML a run of links is one paragraph: the menu, the promo list, the job ads
CHROME_HTML = (
    "KI-Nachrichten", "News Forschung Jobs Newsletter",
    "- Die besten KI-News kostenlos per eMail erhalten! - Jetzt die KI-Nachrichten-App",
    "Stellenangebote", "Platform AI Developer (m/w/d) Data Engineer für Sprachmodelle (m/w/d) Werkstudent",
    *CHROME_STARTS[11:],
)


def _verdicts(res: pd.DataFrame) -> dict[str, bool]:
    return dict(zip(res["text"], res["is_content"], strict=True))


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_seed_page_every_paragraph_right(seed_html, fmt):
    doc = seed_html if fmt == "html" else "\n".join(text_lines(seed_html))
    res = chromesift.classify(doc, format=fmt)
    verdict = _verdicts(res)
    for start in ARTICLE_STARTS:
        hits = [v for t, v in verdict.items() if t.startswith(start)]
        assert hits == [True], f"{fmt}: article paragraph {start!r} lost"
    assert all(any(start in t for t in verdict) for start in CHROME_STARTS)
    for start in CHROME_STARTS if fmt == "text" else CHROME_HTML:
        # short menu words must match whole lines, not the headline that starts alike
        hits = [v for t, v in verdict.items() if t == start or (len(start) > 12 and t.startswith(start))]
        assert hits and not any(hits), f"{fmt}: chrome line {start!r} kept"


def test_extract_seed_page(seed_html):
    text = chromesift.extract(seed_html)
    for start in ARTICLE_STARTS:
        assert start in text
    for start in CHROME_STARTS[5:]:
        assert start not in text
    assert chromesift.extract(seed_html.encode("utf-8")) == text


def test_classify_columns_and_detection(seed_html):
    res = chromesift.classify(seed_html)
    assert list(res.columns[:5]) == ["position", "text", "is_content", "probability", "role"]
    assert "tag" in res.columns and res["position"].tolist() == list(range(len(res)))
    assert res["probability"].between(0, 1).all()
    plain = chromesift.classify("First line of text.\nSecond line.")
    # the same columns and dtypes for text and HTML: the structure is missing for text
    assert list(plain.columns) == list(res.columns) and (plain.dtypes == res.dtypes).all()
    assert plain["tag"].isna().all() and (plain["source"] == "text").all()
    assert plain["role"].tolist() == ["body" if c else "chrome" for c in plain["is_content"]]
    # the columns of before, on request
    old = chromesift.classify("First line of text.\nSecond line.", uniform=False)
    assert list(old.columns) == ["position", "text", "is_content", "probability", "role"]


def test_headline_has_its_own_role(seed_html):
    res = chromesift.classify(seed_html)
    head = "Forschungsteam stellt offenes Sprachmodell für Behörden vor"
    assert res.loc[res["role"] == "title", "text"].tolist() == [head]
    assert (res.loc[res["role"] == "body", "is_content"]).all()
    assert not res.loc[res["role"] == "chrome", "is_content"].any()
    # the main text is the body: the headline is never content, whatever its probability
    assert not res.loc[res["role"] == "title", "is_content"].any()
    assert chromesift.headline(seed_html) == head
    body, full = chromesift.extract(seed_html), chromesift.extract(seed_html, title=True)
    assert body.splitlines() == res.loc[res["is_content"], "text"].tolist()
    # title=True keeps the headline in place when the model counts it as content
    m = chromesift.load_model()
    title_p = float(res.loc[res["role"] == "title", "probability"].iloc[0])
    assert (head in full.splitlines()) == (title_p >= m.threshold) and head not in body.splitlines()
    assert body.splitlines() == [line for line in full.splitlines() if line != head]
    assert list(m.extract_many([seed_html, seed_html], title=True)) == [full, full]
    assert list(m.extract_many([seed_html])) == [body]
    # a short h1 is a logo or a section name, not a headline; so is a short first line of text
    assert chromesift.headline("<html><body><h1>KI-News</h1><p>Text of the page.</p></body></html>") == ""
    assert chromesift.headline("Some title\nSome text.", format="text") == ""
    assert chromesift.detect_format(seed_html) == "html"
    assert chromesift.detect_format("just words\nmore words") == "text"


@pytest.mark.parametrize("bad", [None, 3, 2.5, ["<p>x</p>"], {"html": "x"}])
def test_wrong_types_raise_type_error(bad):
    with pytest.raises(TypeError, match="str or bytes"):
        chromesift.extract(bad)


def test_bad_format_value():
    with pytest.raises(ValueError, match="format"):
        chromesift.classify("<p>x</p>", format="pdf")


@pytest.mark.parametrize(
    "doc",
    ["", "   \n\t ", b"", "\x00\x01\x02\xff\xfe" * 100, "word " * 5000, "<div>" * 5000 + "deep" + "</div>" * 10],
)
def test_odd_input_gives_a_result(doc):
    res = chromesift.classify(doc)
    assert set(res.columns) >= {"position", "text", "is_content", "probability"}
    assert isinstance(chromesift.extract(doc), str)


def test_binary_bytes_are_refused_with_a_decode_error():
    with pytest.raises(chromesift.DecodeError, match="binary data"):
        chromesift.classify(b"\x00\x01\x02\xff\xfe" * 100)


def test_empty_page_extracts_nothing():
    assert chromesift.extract("") == ""
    assert chromesift.extract("<html><body><script>x()</script></body></html>") == ""


def test_does_not_mutate_input_and_is_deterministic(seed_html):
    data = bytearray(seed_html.encode())
    before = bytes(data)
    a = chromesift.classify(bytes(data))
    b = chromesift.classify(bytes(data))
    assert bytes(data) == before
    pd.testing.assert_frame_equal(a, b)


def test_classify_many_matches_classify(seed_html):
    model = chromesift.load_model()
    docs = [seed_html, "", "Only one line of text here.", seed_html.replace("Darmstadt", "Kassel")]
    many = list(model.classify_many(iter(docs), batch_size=3))
    assert len(many) == 4
    for i, (doc, res) in enumerate(zip(docs, many, strict=True)):
        assert (res["page"] == i).all()  # each frame says which page it is of
        pd.testing.assert_frame_equal(res.drop(columns="page"), model.classify(doc), check_exact=False, atol=1e-9)


def test_extract_many_matches_extract(seed_html):
    model = chromesift.load_model()
    docs = [seed_html, "", "Only one line of text here.\nAnd a second one, longer than the first.",
            seed_html.replace("Darmstadt", "Kassel"), b"<p>bytes page</p>"]
    many = list(model.extract_many(iter(docs), batch_size=2))
    assert many == [model.extract(d) for d in docs]
    assert "Darmstadt" in many[0] and "Kassel" in many[3]


def test_predict_columns_groups_pages_and_scores_as_page_by_page(seed_html, monkeypatch):
    from chromesift.data.page import to_columns
    from chromesift.models import model as model_module

    model = chromesift.load_model()
    docs = [seed_html, "", seed_html.replace("Darmstadt", "Kassel"), "One line.\nTwo lines here.", seed_html]
    pages = [to_columns(d) for d in docs]
    sizes = [len(c["text"]) for c in pages]
    alone = [model.predict_columns([c])[0] for c in pages]
    assert sizes[1] == 0 and 0 < sizes[3] < sizes[0] == sizes[2] == sizes[4]
    cap = sizes[0] + sizes[3]  # a seed page fits with the empty page or the two-line one, not with another
    monkeypatch.setattr(model_module, "PREDICT_ROWS", cap)
    groups = []
    real = model_module.Model._predict_group

    def spy(self, group, group_sizes, *args):
        groups.append(list(group_sizes))
        return real(self, group, group_sizes, *args)

    monkeypatch.setattr(model_module.Model, "_predict_group", spy)
    together = model.predict_columns(pages)
    assert groups == [sizes[0:2], sizes[2:4], sizes[4:5]]
    assert all(sum(g) <= cap or len(g) == 1 for g in groups)
    assert len(together) == len(pages)
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_array_equal(a, b)
    # a single page larger than the cap is predicted whole
    groups.clear()
    monkeypatch.setattr(model_module, "PREDICT_ROWS", 3)
    np.testing.assert_array_equal(model.predict_columns([pages[0]])[0], alone[0])
    assert groups == [[sizes[0]]]


def test_explain_gives_reasons(seed_html):
    table = chromesift.explain(seed_html, top=2)
    assert list(table.columns) == ["position", "text", "is_content", "probability", "role", "reasons"]
    assert table["reasons"].map(len).le(2).all()
    assert table["reasons"].map(len).gt(0).mean() > 0.5
    assert all(r.split(":")[0] for rs in table["reasons"] for r in rs)


def test_load_model_is_cached_and_verified(tmp_path):
    from chromesift.errors import BundleError

    assert chromesift.load_model() is chromesift.load_model()
    with pytest.raises(BundleError, match="not found"):
        chromesift.load_model(tmp_path / "none")


def test_shipped_model_is_not_looked_up_again(monkeypatch):
    # once loaded, load_model() (each chromesift.extract call) resolves no path
    from chromesift.models.bundle import DEFAULT_BUNDLE

    shipped = chromesift.load_model()

    def no_lookup(self, *args, **kwargs):
        raise AssertionError(f"{self} resolved again")

    monkeypatch.setattr(type(DEFAULT_BUNDLE), "resolve", no_lookup)
    assert chromesift.load_model() is shipped
    assert chromesift.extract("<p>Hello there, this is a page.</p>", model=None) is not None
    # a path or a trust still goes through the lookup
    with pytest.raises(AssertionError, match="resolved again"):
        chromesift.load_model(DEFAULT_BUNDLE)


def test_import_has_no_side_effects(tmp_path):
    code = (
        "import sys, chromesift; "
        "assert 'mlflow' not in sys.modules, 'mlflow imported'; "
        "chromesift.extract('<p>Hello there, this is a page.</p>'); "
        "assert 'mlflow' not in sys.modules, 'mlflow imported by extract'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []


def test_content_mask_rules():
    from chromesift.data.page import to_columns
    from chromesift.models.rules import TEXT_RELATIVE_CUT, content_mask

    text = to_columns("First line.\nSecond line.\nThird line.\nFourth line.", format="text")
    proba = np.array([0.30, 0.16, 0.14, 0.05])
    # plain text: below the threshold, the page's likeliest paragraphs still count
    # (from TEXT_RELATIVE_CUT of its highest probability: 0.15 here)
    assert TEXT_RELATIVE_CUT == 0.5
    assert content_mask(text, proba, 0.5).tolist() == [True, True, False, False]
    # the cut is the lower of the threshold and half the page's highest probability
    assert content_mask(text, np.array([0.9, 0.6, 0.45, 0.2]), 0.5).tolist() == [True, True, True, False]
    assert content_mask(text, np.array([1.0, 0.6, 0.45, 0.2]), 0.5).tolist() == [True, True, False, False]
    # HTML has no relative cut, and the headline is never content unless asked for
    html = to_columns("<html><head><title>A headline long enough to count</title></head><body>"
                      "<h1>A headline long enough to count</h1><p>Body one.</p><p>Body two.</p></body></html>")
    assert html["text"][0] == "A headline long enough to count"
    p = np.array([0.9, 0.3, 0.7])
    assert content_mask(html, p, 0.5).tolist() == [False, False, True]
    assert content_mask(html, p, 0.5, title=True).tolist() == [True, False, True]
    assert content_mask(to_columns("", format="text"), np.zeros(0), 0.5).tolist() == []


def test_plain_text_headline_is_the_short_unpunctuated_first_kept_line():
    from chromesift.data.page import to_columns
    from chromesift.models.rules import TEXT_HEADLINE_WORDS, decide, text_headline_index

    lines = ["Menu", "Forschungsteam stellt offenes Sprachmodell vor", "The body starts here, as a sentence.",
             "It goes on for a while.", "Footer line"]
    text = to_columns("\n".join(lines), format="text")
    p = np.array([0.05, 0.8, 0.9, 0.9, 0.1])
    keep, head = decide(text, p, 0.5, title=False)
    assert head == 1 and keep.tolist() == [False, False, True, True, False]
    keep, head = decide(text, p, 0.5, title=True)  # asked for, it stays in place
    assert head == 1 and keep.tolist() == [False, True, True, True, False]
    # not a headline: a sentence, a line too short or too long, the only line kept, HTML
    kept = np.array([False, True, True, True, False])
    for first, why in [("The study was presented on Tuesday in Darmstadt.", "punctuated"),
                       ("Short line", "under 15 characters"),
                       (" ".join(["word"] * (TEXT_HEADLINE_WORDS + 1)), "too many words")]:
        cols = to_columns("\n".join([lines[0], first, *lines[2:]]), format="text")
        assert text_headline_index(cols, kept) is None, why
    assert text_headline_index(text, np.array([False, True, False, False, False])) is None
    assert text_headline_index(text, np.zeros(5, dtype=bool)) is None
    html = to_columns("<p>Menu</p><p>" + "</p><p>".join(lines[1:]) + "</p>")
    assert html["text"][1] == lines[1] and text_headline_index(html, kept) is None


def test_the_headlines_copies_are_left_out_with_it():
    """A page that prints its headline twice (a sticky bar, a second layout): no copy is body."""
    from chromesift.data.page import to_columns
    from chromesift.models.rules import decide

    head = "Harbour reopens after the storm closed it"
    page = (f"<html><head><title>{head} - Example News</title></head><body><div class='bar'><h1>{head}</h1></div>"
            f"<article><h1>{head}</h1><p>The harbour reopened on Monday morning, the port authority said.</p>"
            "<p>Divers checked the piers before the first ferries left.</p></article></body></html>")
    cols = to_columns(page)
    assert [t for t in cols["text"] if t == head] == [head, head]
    p = np.full(len(cols["text"]), 0.9)
    keep, at = decide(cols, p, 0.5, title=False)
    assert cols["text"][at] == head and not any(k for t, k in zip(cols["text"], keep.tolist(), strict=True) if t == head)
    assert keep.sum() == 2  # the two body paragraphs
    keep, at = decide(cols, p, 0.5, title=True)  # asked for, the headline stays, once, where it first is
    assert [t for t, k in zip(cols["text"], keep.tolist(), strict=True) if k] == [head, *cols["text"][-2:]]
    # plain text: a later line equal to the headline line goes too
    text = to_columns(f"Menu\n{head}\nThe body starts here, as a sentence.\nIt goes on.\n{head}", format="text")
    keep, at = decide(text, np.array([0.05, 0.8, 0.9, 0.9, 0.8]), 0.5, title=False)
    assert at == 1 and keep.tolist() == [False, False, True, True, False]


def test_a_long_paragraph_is_kept_once():
    """A passage printed twice (a teaser, a pull quote, a second layout) is kept where it first
    appears; short lines may repeat."""
    from chromesift.data.page import to_columns
    from chromesift.models.rules import REPEAT_MIN_CHARS, decide

    twice = "Divers checked the piers for damage before the first ferries left the harbour."
    short = "Advertisement"
    assert len(twice) >= REPEAT_MIN_CHARS > len(short)
    lines = ["The harbour reopened on Monday morning after three days, the port authority said.",
             twice, short, "Shop owners said the closure had cost them a busy weekend of trade.", short, twice]
    for cols in (to_columns("\n".join(lines), format="text"),
                 to_columns("<html><body><article>" + "".join(f"<p>{t}</p>" for t in lines) + "</article></body></html>")):
        keep, _ = decide(cols, np.full(len(lines), 0.9), 0.5, title=True)
        assert keep.tolist() == [True, True, True, True, True, False]


def test_plain_text_and_html_give_the_seed_article_the_same_text(seed_html):
    """The text dump of the seed page reads as its HTML does: the headline out of the body, as its title."""
    dump = "\n".join(chromesift.classify(seed_html)["text"])
    assert chromesift.extract(dump, format="text") == chromesift.extract(seed_html)
    assert chromesift.headline(dump, format="text") == chromesift.headline(seed_html) != ""
    roles = chromesift.classify(dump, format="text")
    assert roles.loc[roles["role"] == "title", "text"].tolist() == [chromesift.headline(seed_html)]


def test_decide_takes_another_relative_cut():
    """The rule that chromesift.evaluate.rescore varies: a relative cut for either source, or none."""
    from chromesift.data.page import to_columns
    from chromesift.models.rules import decide

    text = to_columns("First line.\nSecond line.\nThird line.\nFourth line.", format="text")
    proba = np.array([0.30, 0.16, 0.14, 0.05])
    assert decide(text, proba, 0.5, title=False, relative_cut=None)[0].tolist() == [False] * 4
    assert decide(text, proba, 0.5, title=False, relative_cut=0.4)[0].tolist() == [True, True, True, False]
    html = to_columns("<html><head><title>A headline long enough to count</title></head><body>"
                      "<h1>A headline long enough to count</h1><p>Body one.</p><p>Body two.</p></body></html>")
    p = np.array([0.2, 0.3, 0.16])
    assert decide(html, p, 0.5, title=False)[0].tolist() == [False, False, False]
    keep, head = decide(html, p, 0.5, title=False, relative_cut=0.5)
    assert keep.tolist() == [False, True, True] and head == 0  # the headline stays out
    assert decide(to_columns("", format="text"), np.zeros(0), 0.5, title=False, relative_cut=0.5)[0].tolist() == []


def test_isolated_paragraphs_need_to_be_sure():
    from chromesift.data.page import to_columns
    from chromesift.models.rules import ISOLATED_REACH, ISOLATED_SURE, content_mask

    assert (ISOLATED_REACH, ISOLATED_SURE) == (3, 0.7)
    cols = to_columns("\n".join(f"Line number {i}." for i in range(12)), format="text")
    p = np.full(12, 0.05)
    p[[0, 1, 2]] = 0.9  # the article
    p[6] = 0.6  # 4 lines below it: alone, and not sure enough
    p[11] = 0.75  # alone, but sure
    assert np.flatnonzero(content_mask(cols, p, 0.5)).tolist() == [0, 1, 2, 11]
    p[5] = 0.55  # now 6 has a kept neighbour 1 away, and 5 one 3 away from the article
    assert np.flatnonzero(content_mask(cols, p, 0.5)).tolist() == [0, 1, 2, 5, 6, 11]
    # a page that keeps a single paragraph keeps it however unsure
    q = np.full(12, 0.05)
    q[6] = 0.55
    assert np.flatnonzero(content_mask(cols, q, 0.5)).tolist() == [6]


def test_a_paragraph_with_a_kept_sibling_is_not_isolated():
    from chromesift.data.page import to_columns
    from chromesift.models.rules import content_mask

    body = "".join(f"<p>Paragraph {i} of the article, long enough to read as prose.</p>" for i in range(4))
    # (each item more than its link, so the three stay three paragraphs)
    links = "".join(f"<li><a href='/s{i}'>Another story {i}</a>, video</li>" for i in range(3))
    page = (f"<html><body><article><div class='body'>{body}<ul class='related'>{links}</ul>"
            "<p>The last paragraph of the article, after the box of links.</p></div></article>"
            "<footer><ul><li>About</li><li>Contact</li><li>Jobs</li><li>Imprint</li></ul>"
            "<p>A footer line the model half believes.</p></footer></body></html>")
    cols = to_columns(page)
    texts = cols["text"]
    last, footer = texts.index("The last paragraph of the article, after the box of links."), len(texts) - 1
    assert last - 4 >= 0 and cols["anc1"][last] == cols["anc1"][last - 4] != cols["anc1"][footer]
    p = np.full(len(texts), 0.05)
    p[last - 7 : last - 3] = 0.9  # the four paragraphs before the box: 3 links between them and the last
    p[last] = 0.6  # 4 paragraphs on: alone by distance, but in the same element as the article
    p[footer] = 0.6  # alone, and in an element of its own
    kept = np.flatnonzero(content_mask(cols, p, 0.5)).tolist()
    assert last in kept and footer not in kept
    # the same lines as plain text have no elements: the last line is alone again
    text = to_columns("\n".join(texts), format="text")
    assert last not in np.flatnonzero(content_mask(text, p, 0.5)).tolist()


def test_explain_needs_the_memory_of_classify_not_a_copy_per_feature():
    """explain scores one altered copy at a time (it held all ~160 at once: 4 GB on 5,000 paragraphs)."""
    import tracemalloc

    page = "<html><body>" + "".join(
        f"<div class=c{i % 7}><p>Paragraph {i} says something about the matter, in words.</p></div>"
        for i in range(1500)
    ) + "</body></html>"
    model = chromesift.load_model()
    model.classify(page)  # warm caches outside the measurement

    def peak(call) -> int:
        tracemalloc.start()
        call(page)
        out = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return out

    assert peak(model.explain) < 4 * peak(model.classify)


def test_the_empty_fallback_keeps_the_likeliest_paragraphs_of_a_page_that_kept_none():
    from chromesift.data.page import to_columns
    from chromesift.models.rules import decide

    cols = to_columns("<h1>A headline long enough here</h1><p>one</p><p>two</p><p>three</p>")
    p = np.array([0.9, 0.30, 0.12, 0.28])  # the headline scores highest: it is never the body
    # by default only where a paragraph it keeps is prose-long: these short lines stay out
    assert decide(cols, p, 0.5, title=False)[0].tolist() == [False] * 4
    assert decide(cols, p, 0.5, title=False, empty_cut=None, empty_min_chars=0)[0].tolist() == [False] * 4
    keep, head = decide(cols, p, 0.5, title=False, empty_cut=0.9, empty_min_chars=0)
    assert head == 0 and keep.tolist() == [False, True, False, True]
    # a page that keeps something is left as it is
    q = np.array([0.1, 0.8, 0.1, 0.7])
    assert decide(cols, q, 0.5, title=False, empty_cut=0.9)[0].tolist() == decide(cols, q, 0.5, title=False)[0].tolist()
    # the headline's copies are the headline; a page whose every score is 0 keeps nothing
    twice = to_columns("<h1>A headline long enough here</h1><p>A headline long enough here</p><p>one</p>")
    keep, head = decide(twice, np.array([0.9, 0.4, 0.3]), 0.5, title=False, empty_cut=0.5, empty_min_chars=0)
    assert head == 0 and keep.tolist() == [False, False, True]
    assert not decide(cols, np.zeros(4), 0.5, title=False, empty_cut=0.5, empty_min_chars=0)[0].any()


def test_the_default_empty_fallback_keeps_a_prose_paragraph_the_model_doubted():
    """The defaults (EMPTY_CUT, EMPTY_MIN_CHARS), which every entry point decides with: a page whose one long
    article paragraph scores below the threshold keeps it, a page of short lines stays empty."""
    from chromesift.data.page import to_columns
    from chromesift.models.rules import EMPTY_CUT, EMPTY_MIN_CHARS, decide

    assert (EMPTY_CUT, EMPTY_MIN_CHARS) == (0.5, 200)
    prose = "The council met on Tuesday and agreed to repair the bridge before the winter comes. " * 4
    cols = to_columns(f"<div><a href='/'>Home</a></div><p>{prose}</p><div>Contact</div>")
    keep, _ = decide(cols, np.array([0.05, 0.34, 0.02]), 0.5, title=False)
    assert keep.tolist() == [False, True, False]
    menu = to_columns("<div><a href='/'>Home</a></div><p>Login to read</p><div>Contact</div>")
    assert not decide(menu, np.array([0.05, 0.34, 0.02]), 0.5, title=False)[0].any()


def test_the_empty_fallback_with_a_length_needs_one_paragraph_it_keeps_that_long():
    """``empty_min_chars``: the fallback keeps its paragraphs (short ones too) only where one of them has that
    many characters; a page of short lines alone (an index or error page) stays empty."""
    from chromesift.data.page import to_columns
    from chromesift.models.rules import decide

    prose = "A paragraph of the article, long enough to be prose and not a line of a menu or a list. " * 3
    cols = to_columns(f"<h1>A headline long enough here</h1><p>Short line</p><p>{prose}</p><p>Another</p>")
    p = np.array([0.9, 0.3, 0.28, 0.1])
    assert not decide(cols, p, 0.5, title=False, empty_cut=None)[0].any()
    both = decide(cols, p, 0.5, title=False, empty_cut=0.9, empty_min_chars=200)[0]
    assert both.tolist() == [False, True, True, False]  # the long one is among them: the short one comes too
    assert both.tolist() == decide(cols, p, 0.5, title=False, empty_cut=0.9, empty_min_chars=0)[0].tolist()
    assert not decide(cols, p, 0.5, title=False, empty_cut=0.9, empty_min_chars=len(prose) + 1)[0].any()
    short = np.array([0.9, 0.3, 0.1, 0.28])  # the fallback's paragraphs are the two short lines
    assert not decide(cols, short, 0.5, title=False, empty_cut=0.9, empty_min_chars=200)[0].any()
    assert decide(cols, short, 0.5, title=False, empty_cut=0.9, empty_min_chars=0)[0].tolist() == [False, True, False, True]
