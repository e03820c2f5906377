"""The compiled feature loops (chromesift.features._text) against their Python references (text_kernels)."""

from __future__ import annotations

import random
import re

import numpy as np
import pandas as pd
import pytest

from chromesift.data.html import parse_html
from chromesift.data.page import to_columns
from chromesift.data.text import parse_text
from chromesift.data.util import using
from chromesift.features import ParagraphFeatures, compute, text_kernels
from chromesift.features import transformer as tr
from chromesift.models.model import _concat_columns

needs_extension = pytest.mark.skipif(
    text_kernels.compiled is None,
    reason="the extension chromesift.features._text is not in use (not built: no Cython or C compiler at install; or CHROMESIFT_PURE_PYTHON)",
)


def fitted() -> ParagraphFeatures:
    return ParagraphFeatures().fit(parse_html(PAGES["en"]))


def reference(pf: ParagraphFeatures, cols: dict, doc: np.ndarray | None = None) -> np.ndarray:
    """The feature matrix from the Python references (with token caches of their own)."""
    with using(text_kernels, "python"), pytest.MonkeyPatch.context() as mp:
        mp.setattr(compute, "_TOKEN_TABLES", {})
        mp.setattr(compute, "_ATTR_ROWS", {})
        assert tr._matchers().phrases.__class__ is text_kernels.python.Phrases
        return pf.transform_columns(cols, doc)


def assert_same(pf: ParagraphFeatures, cols: dict, doc: np.ndarray | None = None) -> np.ndarray:
    fast = pf.transform_columns(cols, doc)
    ref = reference(pf, cols, doc)
    if not (np.array_equal(fast, ref, equal_nan=True) and np.array_equal(np.signbit(fast), np.signbit(ref))):
        bad = ~((fast == ref) | (np.isnan(fast) & np.isnan(ref))) | (np.signbit(fast) != np.signbit(ref))
        names = pf.get_feature_names_out()
        pytest.fail(f"fast and reference differ in {sorted({names[j] for j in np.flatnonzero(bad.any(axis=0))})}")
    return fast


def page(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


PAGES = {
    "en": page(
        "Storm hits the coast | Example News",
        "<nav class='main-nav menu'><a href='/'>Home</a> · <a href='/s'>Search</a></nav>"
        "<h1>Storm hits the coast</h1><p class='byline meta'>Posted by Jane Doe on 12/03/2024, 10:30 am</p>"
        "<article class='article-body'><p>The storm hit the coast on Monday. Thousands were left "
        "without power! Officials said repairs could take until 2025.</p>"
        "<p>Visit https://example.org or www.example.com, or mail news@example.org.</p>"
        "<ul><li>- first point</li><li>• second point:</li></ul></article>"
        "<div class='comments'><h3>Comments (12)</h3><p>Reply · Report</p><p>5:46 pm</p></div>"
        "<footer id='footer'><p>© 2026 Example. All rights reserved. Privacy | Terms of use</p></footer>",
    ),
    "de": page(
        "Merz trifft Macron in Paris",
        "<h1>Merz trifft Macron</h1><div class='artikel-text'><p>Der Kanzler ist am Montag nach Paris "
        "gereist. Dort traf er den Präsidenten. ÄÖÜ äöü ß STRASSE.</p><p>Die besten News kostenlos per "
        "E-Mail erhalten! Jetzt abonnieren (m/w/d) – 14.30 Uhr, 1.2.2026</p></div>"
        "<aside class='sidebar teaser'><p>Mehr zum Thema: Weiterlesen »</p></aside>",
    ),
    "zh": page(
        "暴雨袭击沿海城市_新闻网",
        "<h1>暴雨袭击沿海城市</h1><div class='content'><p>本报讯，暴雨于周一袭击了沿海城市。数千户居民停电！"
        "官员表示，修复工作可能需要数天。</p><p>责任编辑：张三 版权所有 相关推荐 上一篇 下一篇</p>"
        "<p>发表评论</p><p>2026-03-12 10:30 回复 举报</p></div>",
    ),
    "odd letters": page(
        "ΟΔΟΣ ΚΑΙ ΣΟΦΙΑ İstanbul",
        "<p>ΟΔΟΣ ΚΑΙ ΣΟΦΙΑ: ΟΔΟΣ'Α ΣΑΣ. İstanbul'da İYİ günler, DİYARBAKIR.</p>"
        "<p>ﬁnance ﬂow ǅemal Ǆ ǆ ΐ ẞ ß ŉ — the Straße and STRASSE.</p>"
        "<p>Emoji 😀 and 𠀀𠀁 (CJK ext. B) and 𝐀𝐁𝐂 math letters, 𝟏𝟐 digits 2024.</p>"
        "<p>😀</p><p>a\u00adb\u200bc \u3000 full\u3000width ＡＢＣ １２３ ｱｲｳ ：</p>",
    ),
    "one paragraph": page("", "<p>Only one paragraph, no title.</p>"),
    "no text": page("t", "<div><p> </p></div>"),
}


@needs_extension
@pytest.mark.parametrize("name", sorted(PAGES))
def test_html_pages_same(name):
    pf = fitted()
    cols, doc = _concat_columns([to_columns(PAGES[name])])
    assert_same(pf, cols, doc)
    assert_same(pf, cols)  # doc None: one page


@needs_extension
@pytest.mark.parametrize("name", sorted(PAGES))
def test_text_pages_same(name):
    pf = fitted()
    text = "\n".join(to_columns(PAGES[name])["text"])
    cols = to_columns(text, format="text") if text.strip() else to_columns("x", format="text")
    assert_same(pf, cols)


@needs_extension
def test_empty_texts_titles_and_batches_same():
    pf = fitted()
    pages = [to_columns(PAGES[name]) for name in sorted(PAGES)]
    # empty texts, a text equal to the title, long texts inside the title, the h1
    cols = {k: list(v) for k, v in pages[0].items()}
    cols["text"][0] = ""
    cols["text"][-1] = ""
    cols["text"][1] = cols["page_title"][1]
    cols["page_title"] = ["A long headline about the storm | Example"] * len(cols["text"])
    cols["text"][2] = "A long headline about the storm"
    pages[0] = cols
    assert_same(pf, *_concat_columns(pages))
    assert_same(pf, *_concat_columns(pages[::-1]))
    text_pages = [to_columns("\n".join(p["text"]) + "\nx", format="text") for p in pages]
    assert_same(pf, *_concat_columns(pages + text_pages))
    one = _concat_columns([to_columns(PAGES["one paragraph"])] * 5)
    assert_same(pf, *one)


@pytest.mark.parametrize("buckets", [0, 3])
def test_class_id_hash_buckets_none_or_few(buckets):
    """``hash_buckets`` 0 (no hashed class/id columns; it divided by zero once) and 3: the same
    features with either backend, and the class/id families those of the default 8 buckets."""
    html = PAGES["en"]
    pf = ParagraphFeatures(hash_buckets=buckets).fit(parse_html(html))
    names = list(pf.get_feature_names_out())
    assert sum(n.startswith(("s_own_hash", "s_anc_hash")) for n in names) == 2 * buckets
    cols = to_columns(html)
    got = assert_same(pf, cols)  # (either backend against the Python references)
    default = fitted()
    want = default.transform_columns(cols)
    d_names = list(default.get_feature_names_out())
    family = [n for n in names if n.startswith(("s_own_", "s_anc_")) and "hash" not in n]
    assert family and len(family) == sum(n.startswith(("s_own_", "s_anc_")) and "hash" not in n for n in d_names)
    for n in family + ["t_chars", "s_link_density", "n_next1_t_log_chars"]:
        np.testing.assert_array_equal(got[:, names.index(n)], want[:, d_names.index(n)], err_msg=n)
    assert np.nansum(got[:, [names.index(n) for n in family]]) > 0  # the page's class/id words were read


@needs_extension
def test_dataframe_path_same(python_features):
    """transform (DataFrame in, array columns) with and without the extension."""
    table = pd.concat(
        [parse_html(PAGES["en"], doc_id="a"), parse_text("Eine Zeile.\nNoch eine: 1999.\n\nEnde", doc_id="b")],
        ignore_index=True,
    )
    pf = ParagraphFeatures().fit(table)
    fast = pf.transform(table.sample(frac=1, random_state=0))
    with python_features():
        ref = pf.transform(table.sample(frac=1, random_state=0))
    assert fast.index.equals(ref.index)
    assert np.array_equal(fast.to_numpy(), ref.to_numpy(), equal_nan=True)


def _regex_hits(rx, s: str, starts: np.ndarray) -> np.ndarray:
    return text_kernels.regex_counts(rx, s, starts, len(starts))


@needs_extension
def test_date_flags_match_the_regex():
    rng = random.Random(0)
    alphabet = "0123456789" * 4 + "./-" * 4 + "ab_ :\n" + "١٢"
    for _ in range(3000):
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(rng.randint(1, 4))]
        texts = [t.replace("\n", " ") for t in texts]
        joined, starts, _ = tr._joined(texts)
        want = np.minimum(_regex_hits(text_kernels.DATE_RE, joined, starts), 1)
        assert np.array_equal(text_kernels.compiled.date_flags(joined, starts, len(texts)), want), texts
        assert np.array_equal(text_kernels.python.date_flags(joined, starts, len(texts)), want), texts


@needs_extension
def test_phrase_counts_match_the_regex():
    rng = random.Random(1)
    # the phrases, near misses, and the first two and three characters of each (the compiled
    # kernel's prefilters test those)
    prefixes = [w[:k] for w in tr.vocab.CHROME_PHRASES for k in (2, 3)]
    pieces = [*tr.vocab.CHROME_PHRASES, *prefixes, "comm", "comments", "s", "e", " ", "x", "(m/", "😀", "版", "上一"]
    phrase_re = re.compile(tr.trie_regex(tr.vocab.CHROME_PHRASES))
    both = [k.Phrases(tr.vocab.CHROME_PHRASES) for k in (text_kernels.compiled, text_kernels.python)]
    for _ in range(3000):
        texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 4))]
        joined, starts, _ = tr._joined(texts)
        want = _regex_hits(phrase_re, joined, starts)
        for phrases in both:
            assert np.array_equal(phrases.count(joined, starts, len(texts)), want), texts


@needs_extension
def test_phrases_take_the_longest_word_first():
    for kernels in (text_kernels.compiled, text_kernels.python):
        p = kernels.Phrases(["ab", "abcd", "abc", "b", "😀x"])
        starts = np.array([0], dtype=np.int64)
        # "abcd" then "b"; "abc" (not "ab" + nothing); the astral first character
        assert p.count("abcdb", starts, 1).tolist() == [2.0]
        assert p.count("abce", starts, 1).tolist() == [1.0]
        assert p.count("😀x😀", starts, 1).tolist() == [1.0]
        assert kernels.Phrases([]).count("abc", starts, 1).tolist() == [0.0]


@needs_extension
def test_float_rows_as_numpy_converts():
    for kernels in (text_kernels.compiled, text_kernels.python):
        rows = kernels.float_rows([[1, 2, 3], [True, False, True], np.array([4, 5, 6]), [None, 1, 2.5]])
        assert np.array_equal(rows, np.array([[1, 2, 3], [1, 0, 1], [4, 5, 6], [np.nan, 1, 2.5]]), equal_nan=True)


def test_fallback_without_extension(python_features):
    """Without the extension the Python references run and give the hand-checked values."""
    pf = fitted()
    cols = to_columns(PAGES["de"])
    with python_features():
        assert text_kernels.BACKEND == "python"
        f = dict(zip(pf.get_feature_names_out(), pf.transform_columns(cols).T, strict=True))
    i = next(r for r, t in enumerate(cols["text"]) if t.startswith("Der Kanzler"))
    assert f["t_words"][i] == 17  # ... Präsidenten, ÄÖÜ äöü ß STRASSE
    assert f["t_sentences"][i] == 3
    assert f["t_title_overlap"][i] == pytest.approx(1 / 17)  # paris
    j = next(r for r, t in enumerate(cols["text"]) if t.startswith("Die besten"))
    assert f["t_has_date"][j] == 1 and f["t_chrome_phrases"][j] == 5  # kostenlos, per e-mail, jetzt, abonnieren, (m/w/d)


@pytest.fixture(scope="module")
def corpus_pages(shared_data):
    from chromesift.data.corpus import dataset_names, sample_pages

    return sample_pages(shared_data, dataset_names(shared_data), 60, 0)


@needs_extension
def test_corpus_sample_same(corpus_pages):
    pf = fitted()
    html_cols = [to_columns(p.html) for p in corpus_pages]
    for cols in html_cols:
        assert_same(pf, *_concat_columns([cols]))
        text = "\n".join(cols["text"])
        if text.strip():
            assert_same(pf, *_concat_columns([to_columns(text, format="text")]))
    assert_same(pf, *_concat_columns(html_cols[:32]))


@needs_extension
def test_word_set_as_set_membership():
    words = ["der", "die", "the", "und", "ο", "和", "😀x", "a"]
    ws = text_kernels.compiled.WordSet(words)
    for w in [*words, "", "th", "thee", "de", "😀", "x", "A", "ö"]:
        assert (w in ws) == (w in set(words)), w
    stops = text_kernels.compiled.WordSet(tr._STOPS)
    assert all(w in stops for w in tr._STOPS)


@needs_extension
def test_split_lookup_finds_tokens_in_place_as_the_reference_does():
    values = ["nav main", "", "   ", "main  nav\tfooter", "Über\xa0box x\u3000y", "😀a b 😀a", "nav", "na nav navs"]
    ref_index: dict = {"": 0}
    fast_index: dict = {"": 0}
    for chunk in (values[:4], values[2:], values, ["new one", "nav"]):
        ref_new: list = []
        fast_new: list = []
        ref = text_kernels.python.split_lookup(chunk, ref_index, ref_new)
        fast = text_kernels.compiled.split_lookup(chunk, fast_index, fast_new)
        assert [a.tolist() for a in fast] == [a.tolist() for a in ref]
        assert fast_new == ref_new and fast_index == ref_index
    # another index (a token table started afresh), and one emptied in place, start afresh too
    fast_index.clear()
    for index in ({"": 0, "zz": 1}, fast_index):
        want = text_kernels.python.split_lookup(["zz nav", ""], dict(index), [])
        got = text_kernels.compiled.split_lookup(["zz nav", ""], index, [])
        assert [a.tolist() for a in got] == [a.tolist() for a in want]


@needs_extension
def test_comment_rows_prefilters_keep_the_regex_answers():
    texts = [
        "", "comments", "comments (12)", "(3) comments:", "[12] kommentare »", "12 comments", "comments 12",
        " comments", "comments ", "add a comment.", "发表评论", "what do you think?", "xcomments", "٣ comments",
        "comments\n", "5:46 pm", "posted at 14.30 uhr", "a.b", "1.5", "v1.2", "reply", "- reply · report -",
        "reply report", "replyx", "_reply", "reply\n", "举报", "share this", "like", "edit 10:30", "10:30",
        "١٠:٣٠", "reply to this", "x" * 200 + " 10:30",
    ]
    names = ("t_comment_head", "t_stamp")
    out = np.zeros((2, len(texts)))
    tr._comment_rows(texts, tr._Rows(out, {c: j for j, c in enumerate(names)}))
    want = np.zeros((2, len(texts)))
    with using(text_kernels, "python"):
        tr._comment_rows(texts, tr._Rows(want, {c: j for j, c in enumerate(names)}))
    assert np.array_equal(out, want)
    assert want.sum() > 10


@needs_extension
def test_url_flag_prefilter_keeps_the_reference_answers():
    # the compiled kernel looks for "http", "www." or "@" in one pass before the URL regex
    texts = ["", "@", "a@b.cd", "http", "htt", "ttp", "https://x.org", "see http://a.b", "www", "www.",
             "www.example.com", "ww.x", "wwww.x", "x www.y", "mail: me@example.org", "h", "w", "@@",
             "httphttp", "\u00e9 www.b\u00e9.de", "\U0001F600 http://x.y"]
    lower = [t.lower() for t in texts]
    blank = [""] * len(texts)
    args = (texts, lower, blank, blank, "".join(compute._BULLETS), "".join(compute._END_PUNCT), compute._URL_RE.search)
    fast = text_kernels.compiled.row_flags(*args)
    want = text_kernels.python.row_flags(*args)
    assert np.array_equal(fast, want)
    assert want[:, 3].sum() >= 6


def test_batches_through_their_own_matrix_same(monkeypatch):
    """Blocks of more than DIRECT_ROWS paragraphs are computed apart and copied over: the same matrix."""
    pf = fitted()
    cols, doc = _concat_columns([to_columns(p) for p in PAGES.values()])
    direct = pf.transform_columns(cols, doc)
    monkeypatch.setattr(compute, "DIRECT_ROWS", 0)
    assert np.array_equal(pf.transform_columns(cols, doc), direct, equal_nan=True)


def test_document_bounds_of_one_page_and_of_many():
    for doc in ([0], [0, 0, 0], [3, 3], [0, 0, 1, 1, 1, 2], [0, 1, 0], [5, 2, 2, 5], []):
        doc = np.array(doc, dtype=np.int64)
        want = np.concatenate(([0], np.flatnonzero(np.diff(doc)) + 1, [len(doc)])) if len(doc) else np.array([0, 0])
        assert compute._doc_bounds(doc).tolist() == want.tolist(), doc


@needs_extension
def test_character_classes_as_the_reference_reads_them():
    table = compute._char_table()
    for s in ["", "abc", "Größe — 12,5 %!", "中文。新闻！", "x\U0001F600y\U00020000", "\ud800lone\udfff",
              "".join(map(chr, range(0, 0x3000, 7))), "\U0010FFFF\U0001D400"]:
        fast = text_kernels.compiled.char_classes(s, table, compute._astral_bits)
        want = text_kernels.python.char_classes(s, table, compute._astral_bits)
        assert fast.dtype == want.dtype == np.uint16 and fast.tolist() == want.tolist(), s
    with pytest.raises(ValueError, match="Basic Multilingual Plane"):
        text_kernels.compiled.char_classes("a", table[:100], compute._astral_bits)


@pytest.mark.parametrize("n", [50, 5000])  # row-major and column-major matrices
def test_rows_put_back_in_the_input_order(n):
    rng = np.random.default_rng(3)
    order = rng.permutation(n)
    computed = rng.random((n, 7))
    matrix = computed.copy(order="F" if n > 100 else "C")
    tr._unsort_rows(matrix, order)
    expected = np.empty_like(computed)
    expected[order] = computed
    np.testing.assert_array_equal(matrix, expected)


def test_shuffled_table_gets_each_row_its_own_features():
    pages = [parse_html(PAGES[k], doc_id=k) for k in ("en", "de", "zh")]
    table = pd.concat(pages, ignore_index=True)
    pf = ParagraphFeatures().fit(table)
    shuffled = table.sample(frac=1.0, random_state=5)
    pd.testing.assert_frame_equal(pf.transform(shuffled), pf.transform(table).loc[shuffled.index])
