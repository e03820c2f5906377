"""The feature stage: hand-computed values, order invariance, the column fast path."""

from __future__ import annotations

import random
import re

import numpy as np
import pandas as pd
import pytest

from chromesift.data import schema
from chromesift.data.html import parse_html
from chromesift.data.text import parse_text
from chromesift.features import ParagraphFeatures, compute
from chromesift.features import transformer as tr

PAGE = """<html><head><title>Merz trifft Macron in Paris</title></head><body>
<nav class="main-navigation"><ul><li><a href="/">Startseite</a></li><li><a href="/p">Politik</a></li></ul></nav>
<article class="article-body">
<h1>Merz trifft Macron</h1>
<p>Der Kanzler ist am Montag nach Paris gereist. Dort traf er den Präsidenten.</p>
<p>Beide sprachen über die Lage in der Ukraine und den Handel.</p>
</article>
<div id="newsletterBox"><p>Die besten News kostenlos per eMail erhalten!</p></div>
<footer><p>© 2026 Beispiel GmbH. Alle Rechte vorbehalten.</p></footer>
</body></html>"""


def features(table: pd.DataFrame) -> pd.DataFrame:
    return ParagraphFeatures().fit(table).transform(table)


@pytest.fixture(scope="module")
def page() -> tuple[pd.DataFrame, pd.DataFrame]:
    table = parse_html(PAGE)
    return table, features(table)


def row(table: pd.DataFrame, start: str) -> int:
    return int(np.flatnonzero(table["text"].str.startswith(start).to_numpy())[0])


def test_text_features_by_hand(page):
    table, f = page
    i = row(table, "Der Kanzler")
    text = table["text"][i]
    assert f["t_chars"][i] == len(text)
    assert f["t_words"][i] == 13  # Der Kanzler ist am Montag nach Paris gereist Dort traf er den Präsidenten
    assert f["t_sentences"][i] == 2
    # der ist am nach er den are in the stopword lists (dort, traf are not)
    stops = sum(w.lower() in tr.vocab.ALL_STOPWORDS for w in re.findall(r"\w+", text))
    assert f["t_stop_density"][i] == pytest.approx(stops / 13)
    assert f["t_ends_punct"][i] == 1 and f["t_ends_colon"][i] == 0
    assert f["t_upper_ratio"][i] == pytest.approx(sum(c.isupper() for c in text) / sum(c.isalpha() for c in text))
    # 'Paris' is one of the 5 title words
    assert f["t_title_overlap"][i] == pytest.approx(1 / 13)
    j = row(table, "Die besten")
    assert f["t_chrome_phrases"][j] == 2  # "kostenlos", "per email"
    k = row(table, "©")
    assert f["t_has_date"][k] == 1 and f["t_chrome_phrases"][k] == 2  # "©", "alle rechte vorbehalten"


def test_structure_features_by_hand(page):
    table, f = page
    nav = row(table, "Startseite")
    assert f["s_in_nav"][nav] == 1 and f["s_in_li"][nav] == 1
    assert f["s_anc_nav"][nav] == 1  # "main-navigation" -> main, navigation
    assert f["s_anc_content"][nav] == 1  # "main"
    assert f["s_link_density"][nav] == 1.0 and f["s_links"][nav] == 2  # the menu: one row of its two links
    art = row(table, "Beide")
    assert f["s_anc_content"][art] == 2  # "article-body" -> article, body
    assert f["s_tag_p"][art] == 1 and f["s_in_article"][art] == 1
    # the two article paragraphs and the h1 share one container
    assert f["s_cont1_paras"][art] == 3
    news = row(table, "Die besten")
    assert f["s_anc_subscribe"][news] == 1  # "newsletterBox" -> newsletter, box
    assert f["s_anc_sidebar"][news] == 1  # "box"
    hashes = [f[f"s_anc_hash{b}"][news] for b in range(8)]
    assert sum(hashes) == 2 and max(hashes) >= 1
    assert f["t_is_h1"][row(table, "Merz trifft")] == 1


def test_position_features_by_hand():
    texts = ["aaaa", "bb", "aaaa", "c", "dddddd"]
    table = parse_text("\n".join(texts))
    f = features(table)
    np.testing.assert_array_equal(f["p_paragraphs"], 5)
    np.testing.assert_allclose(f["p_rel_pos"], [0, 0.25, 0.5, 0.75, 1])
    # longest first, ties share the best rank: dddddd=0, aaaa=1 (twice), bb=3, c=4
    np.testing.assert_allclose(f["p_rank"], np.array([1, 3, 1, 4, 0]) / 5)
    np.testing.assert_allclose(f["p_dist_longest"], (np.arange(5) - 4) / 5)
    logc = np.log1p([4, 2, 4, 1, 6])
    np.testing.assert_allclose(f["p_zscore"], (logc - logc.mean()) / logc.std(ddof=1))
    np.testing.assert_allclose(f["p_before_share"], np.array([0, 4, 6, 10, 11]) / 17)
    assert np.isnan(f["p_dist_h1"]).all()  # no h1 in text mode
    # text mode has no structure
    assert np.isnan(f["s_link_density"]).all() and (f["s_is_html"] == 0).all()
    # neighbours stop at the page edges
    assert np.isnan(f["n_prev1_t_log_chars"][0]) and f["n_prev1_t_log_chars"][1] == pytest.approx(np.log1p(4))


def test_comment_section_features_by_hand():
    texts = [
        "The council met on Monday and agreed to the new budget after a long debate.",  # 0
        "3 Comments",  # 1: the heading
        "Susana June 27, 2012 at 2:49 pm",  # 2: byline
        "I think the budget is far too small for what the town needs this year.",  # 3
        "Reply",  # 4: action line
        "Mark 28/06/2012 10:15",  # 5: byline
        "Agreed.",  # 6
    ]
    f = features(parse_text("\n".join(texts)))
    np.testing.assert_array_equal(f["t_comment_head"], [0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["t_stamp"], [0, 0, 1, 0, 1, 1, 0])
    # below the heading (not on it): the share of the page's text before the heading
    head_at = len(texts[0]) / sum(map(len, texts))
    np.testing.assert_allclose(f["p_comment_head_at"], [-1, -1] + [head_at] * 5)
    # byline lines among the other paragraphs within 4 on each side, clipped to the page:
    # row 0 sees rows 1-4 (2 and 4): 2/4; row 3 sees 0-6 but itself (2, 4, 5): 3/6;
    # row 4 sees 0-6 but itself (2, 5): 2/6; row 5 sees 1-6 but itself (2, 4): 2/5;
    # row 6 sees 2-5 (2, 4, 5): 3/4
    np.testing.assert_allclose(f["p_stamp_window"], [2 / 4, 3 / 5, 2 / 6, 3 / 6, 2 / 6, 2 / 5, 3 / 4])
    # a long sentence that mentions comments is not a heading; a time inside prose is a stamp
    # only in a short paragraph
    g = features(parse_text("Comments are welcome, said the mayor, who promised to read them all.\n"
                            "The vote, which began at 10:30 am and lasted well into the evening, was close."))
    np.testing.assert_array_equal(g["t_comment_head"], [0, 0])
    np.testing.assert_array_equal(g["t_stamp"], [0, 1])
    h = features(parse_text("Kommentare (12)\nLeave a reply\n评论\ncomments are closed."))
    np.testing.assert_array_equal(h["t_comment_head"], [1, 1, 1, 1])
    # the latest heading above counts (a menu entry at the top, then the real heading),
    # and pages do not leak into each other
    menu = parse_text("Comments\n" + "A long paragraph of the article, well past the menu. " * 3
                      + "\nComments\nNice piece.", doc_id="a")
    other = parse_text("First line of another page.\nSecond line.", doc_id="b")
    m = features(pd.concat([menu, other], ignore_index=True))
    share = m["p_before_share"].to_numpy()
    np.testing.assert_allclose(m["p_comment_head_at"], [-1, 0.0, 0.0, share[2], -1, -1])


def test_pages_do_not_leak_into_each_other():
    a = parse_text("one line here\nanother line", doc_id="a")
    b = parse_html(PAGE, doc_id="b")
    both = pd.concat([a, b], ignore_index=True)
    f_both = features(both)
    np.testing.assert_allclose(f_both.iloc[: len(a)].drop(columns=list(tr.BOOKKEEPING)),
                               features(a).drop(columns=list(tr.BOOKKEEPING)), equal_nan=True)
    np.testing.assert_allclose(f_both.iloc[len(a):].drop(columns=list(tr.BOOKKEEPING)).to_numpy(),
                               features(b).drop(columns=list(tr.BOOKKEEPING)).to_numpy(), equal_nan=True)


def test_row_order_does_not_matter():
    table = pd.concat([parse_html(PAGE, doc_id="x"), parse_text("a\nbb b\nccc", doc_id="y")], ignore_index=True)
    shuffled = table.sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(features(shuffled).loc[table.index], features(table))


def test_column_fast_path_equals_the_table_path(monkeypatch):
    from chromesift.data.page import to_columns

    table = parse_html(PAGE)
    fx = ParagraphFeatures().fit(table)
    fast = fx.transform_columns(to_columns(PAGE))
    slow = fx.transform(table).to_numpy()
    np.testing.assert_allclose(fast, slow, equal_nan=True)
    # many pages in small chunks give the same as one pass
    many = pd.concat([parse_html(PAGE, doc_id=str(i)) for i in range(7)], ignore_index=True)
    whole = fx.transform(many)
    monkeypatch.setattr(compute, "CHUNK_ROWS", 10)
    pd.testing.assert_frame_equal(fx.transform(many), whole)


def test_missing_strings_and_astral_characters():
    table = parse_text("emoji 😀 and 𠀋 here.\n" + "x" * 5)
    table.loc[0, "page_title"] = None
    f = features(table)
    assert f["t_cjk"][0] == 1  # U+2000B is a Han character
    assert f["t_words"][0] == 5  # emoji, and, here + the Han character, counted once
    assert np.isfinite(f.drop(columns=[c for c in f.columns if c.startswith(("s_", "n_", "p_dist_h1"))])).all().all()


def test_empty_table_gives_empty_features():
    empty = schema.empty_table()
    fx = ParagraphFeatures().fit(parse_text("x"))
    out = fx.transform(empty)
    assert len(out) == 0 and list(out.columns) == list(fx.get_feature_names_out())


def test_trie_regex_matches_like_the_plain_alternation():
    words = list(tr.vocab.CHROME_PHRASES) + ["com", "comment", "comments", "a", "ab", "abc"]
    trie = re.compile(tr.trie_regex(words))
    plain = re.compile("|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)))
    rng = random.Random(0)
    alphabet = "commentsabsign up(m/w/d)©版权新闻 "
    for _ in range(2000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        assert [m.group() for m in trie.finditer(s)] == [m.group() for m in plain.finditer(s)], s
    for w in words:
        assert trie.fullmatch(w)


def test_token_table_restarts_between_pages_only(monkeypatch):
    values = ["main navigation", "article body", "newsletter box", "", "main navigation"]
    expected = tr._attr_matrix(values, 8)
    monkeypatch.setattr(compute, "_CACHE_LIMIT", 3)
    monkeypatch.setattr(compute, "_TOKEN_TABLES", {})
    for _ in range(3):  # the table fills past the limit within a call, and restarts before the next
        np.testing.assert_array_equal(tr._attr_matrix(values, 8), expected)
    assert expected[0, tr._FAMILIES.index("nav")] == 1 and expected[3].sum() == 0
