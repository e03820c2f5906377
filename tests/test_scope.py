"""``scope``: what a call counts as content (the article body alone, or all the page's main content)."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

import chromesift
from chromesift.cli import main
from chromesift.data.page import to_columns
from chromesift.errors import UserError
from chromesift.features.compute import FeatureComputer
from chromesift.models.rules import SCOPES, scope_convention
from chromesift.runtime.batch import BatchConfig, run_batch
from chromesift.runtime.core import Page, page_records

FIXTURES = Path(__file__).parent / "fixtures"
TEXT = "A first paragraph of plain text, long enough to be read as prose.\nSubscribe to our newsletter!"


@pytest.fixture(scope="module")
def model():
    return chromesift.load_model()


@pytest.fixture(scope="module")
def changed_pages(shared_data, model) -> list[str]:
    """wcxb pages that are not articles and that ``scope="all"`` reads differently (at least one)."""
    from chromesift.data import corpus

    found = []
    pages = corpus.iter_pages(corpus.dataset_path(shared_data, "wcxb"), None)
    for page in islice((p for p in pages if (p.meta or {}).get("page_type") in ("forum", "listing")), 30):
        if model.extract(page.html, scope="all") != model.extract(page.html):
            found.append(page.html)
        if len(found) == 3:
            break
    assert found, "scope='all' changed none of 30 forum and listing pages of wcxb"
    return found


def test_scope_names_map_to_conventions():
    assert scope_convention(None) is None
    assert scope_convention("article") is None  # the bundle's own reading
    assert scope_convention("auto") is None  # the same, but for forum threads (page_scope)
    assert scope_convention("all") == 2.0
    assert set(SCOPES) == {"auto", "article", "all"}
    with pytest.raises(ValueError, match="scope must be one of auto, article, all, not 'page'"):
        scope_convention("page")
    with pytest.raises(ValueError, match=r"scope must be one of auto, article, all, not \['all'\]"):
        scope_convention(["all"])  # not a string: refused, not a TypeError


def test_a_calls_convention_replaces_the_default_but_not_a_corpus_or_plain_text():
    fc = FeatureComputer(conventions={"wcxb": 2.0}, convention=0.0, text_convention=3.0)
    cols = {"source": ["html", "text", "html"]}
    assert fc._convention_values(cols, 3).tolist() == [0.0, 3.0, 0.0]
    given = {**cols, "_convention": np.full(3, 2.0)}
    assert fc._convention_values(given, 3).tolist() == [2.0, 3.0, 2.0]
    labeled = {**given, "dataset": ["fundus", "wcxb", "other"]}  # training rows keep their corpus's number
    assert fc._convention_values(labeled, 3).tolist() == [0.0, 3.0, 0.0]


def test_scope_all_is_the_model_read_with_convention_two(model, seed_html, changed_pages):
    """The scores of ``scope="all"`` are those of the feature matrix with ``k_convention`` = 2 on HTML rows."""
    features, clf = model._stages()
    names = [str(c) for c in clf.feature_names_in_]
    j = names.index("k_convention")
    for doc in [seed_html, *changed_pages]:
        cols = to_columns(doc)
        matrix = np.asarray(features.transform_columns(cols, np.zeros(len(cols["text"]), dtype=np.int64)))
        assert (matrix[:, j] == 0.0).all()  # the shipped model reads pages as 0
        matrix[:, j] = 2.0
        expected = clf.predict_proba_matrix(matrix)[:, 1]
        np.testing.assert_allclose(model.predict_columns([cols], scope="all")[0], expected, rtol=0, atol=1e-12)
        assert to_columns(doc).keys() == cols.keys()  # the caller's columns are not changed
    # and it changes what is kept on pages that are not articles
    assert any(model.extract(p, scope="all") != model.extract(p) for p in changed_pages)


def test_article_scope_is_the_default_and_plain_text_reads_the_same(model, seed_html):
    assert model.extract(seed_html, scope="article") == model.extract(seed_html)
    probs = model.classify(seed_html, scope="article")["probability"]
    assert probs.equals(model.classify(seed_html)["probability"])
    # plain text is a convention of its own, whatever the scope
    assert model.classify(TEXT, scope="all")["probability"].equals(model.classify(TEXT)["probability"])
    assert chromesift.extract(TEXT, scope="all") == chromesift.extract(TEXT)


def test_scope_reaches_every_entry_point(model, changed_pages):
    want = [model.extract(p, scope="all") for p in changed_pages]
    assert [chromesift.extract(p, scope="all") for p in changed_pages] == want
    assert list(model.extract_many(changed_pages, scope="all", batch_size=2)) == want
    frames = list(model.classify_many(changed_pages, scope="all"))
    kept = ["\n".join(f.loc[f["is_content"] & (f["role"] != "title"), "text"]) for f in frames]
    assert kept == want
    table = chromesift.classify(changed_pages[0], scope="all")
    assert table["probability"].tolist() == frames[0]["probability"].tolist()


def test_unknown_scope_is_a_clear_error(model, seed_html, tmp_path):
    for call in (model.extract, model.classify, chromesift.extract):
        with pytest.raises(ValueError, match="scope must be one of"):
            call(seed_html, scope="everything")
    with pytest.raises(ValueError, match="scope must be one of"):
        list(model.extract_many([seed_html], scope="everything"))
    pages = tmp_path / "in.jsonl"
    pages.write_text(json.dumps({"id": "a", "html": seed_html}) + "\n")
    out = tmp_path / "out.jsonl"
    with pytest.raises(UserError, match="scope must be one of"):
        run_batch(BatchConfig(input=pages, output=out, progress=False, timeout=None, scope="everything"))
    assert not out.exists()  # nothing written before the mistake was found


def test_a_model_without_conventions_refuses_scope_all(plain_bundle, tmp_path, seed_html, capsys):
    bundle = plain_bundle
    plain = chromesift.load_model(bundle)
    assert plain.extract(seed_html, scope="article") == plain.extract(seed_html)
    with pytest.raises(ValueError, match="needs a model trained with label conventions"):
        plain.extract(seed_html, scope="all")
    page = tmp_path / "page.html"
    page.write_text(seed_html, encoding="utf-8")
    assert main(["extract", str(page), "--model", str(bundle), "--scope", "all"]) == 2
    assert "needs a model trained with label conventions" in capsys.readouterr().err
    pages = tmp_path / "in.jsonl"
    pages.write_text(json.dumps({"id": "a", "html": seed_html}) + "\n")
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}.jsonl"
        with pytest.raises(UserError, match="needs a model trained with label conventions"):
            run_batch(BatchConfig(input=pages, output=out, model=bundle, progress=False, jobs=jobs, scope="all"))
        assert not out.exists()


def test_cli_scope_all_single_page_and_batch(tmp_path, capsys, changed_pages):
    want = [chromesift.extract(p, scope="all") for p in changed_pages]
    page = tmp_path / "page.html"
    page.write_text(changed_pages[0], encoding="utf-8")
    assert main(["extract", str(page), "--scope", "all"]) == 0
    assert capsys.readouterr().out == want[0] + "\n"
    assert main(["extract", str(page)]) == 0
    assert capsys.readouterr().out == chromesift.extract(changed_pages[0]) + "\n"
    pages = tmp_path / "in.jsonl"
    pages.write_text("".join(json.dumps({"id": str(i), "html": p}) + "\n" for i, p in enumerate(changed_pages)))
    for jobs, timeout in ((1, "0"), (1, "30"), (2, "30")):
        out = tmp_path / f"out-{jobs}-{timeout}.jsonl"
        argv = ["extract", "--input", str(pages), "--output", str(out), "--scope", "all", "--jobs", str(jobs),
                "--timeout", timeout, "--no-progress"]
        assert main(argv) == 0, capsys.readouterr().err
        records = sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda r: int(r["id"]))
        assert [r["text"] for r in records] == want
    folder, texts = tmp_path / "pages", tmp_path / "texts"
    folder.mkdir()
    (folder / "a.html").write_text(changed_pages[0], encoding="utf-8")
    assert main(["extract", "--input-dir", str(folder), "--output", str(texts), "--scope", "all",
                 "--no-progress"]) == 0
    assert (texts / "a.txt").read_text(encoding="utf-8") == want[0] + "\n"


# -- captions: not an article's body, content only with scope="all" -------------------

CAPTIONED = """<html><head><title>Harbour reopens after the storm</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Harbour reopens after the storm</h1>
<p>The harbour reopened on Monday morning after three days in which no ship could leave or
enter, the port authority said, and the first ferries left on time.</p>
<figure><img src="harbour.jpg" alt="">
<figcaption>Fishing boats wait at the quay on Monday as the harbour master gives the signal
to leave, three days after the storm closed the port. <span class="credit">Photo: Jane Roe</span>
</figcaption></figure>
<p>Workers had spent the weekend clearing the channel of debris that the storm had washed in
from the coast, and divers checked the piers for damage before the first departures.</p>
<p>Shop owners along the waterfront said that the closure had cost them a busy weekend, but
that they were glad the repairs had taken days rather than weeks.</p>
</article><footer>Contact us</footer></body></html>"""


def test_caption_rows_are_the_paragraphs_of_a_figcaption():
    from chromesift.models.rules import caption_rows

    cols = to_columns(CAPTIONED)
    caption = caption_rows(cols)
    marked = [t for t, c in zip(cols["text"], caption.tolist(), strict=True) if c]
    assert marked and all("Fishing boats" in t or "Jane Roe" in t for t in marked)
    assert any("Fishing boats" in t for t in marked)
    assert not any("harbour reopened" in t for t in marked)
    assert caption_rows(to_columns("Fishing boats wait at the quay.\nMore text.", format="text")).tolist() == [False, False]
    assert caption_rows(to_columns("", format="text")).tolist() == []


def test_decide_reads_captions_as_scored_zero_unless_asked_for_all():
    from chromesift.models.rules import caption_rows, decide

    cols = to_columns(CAPTIONED)
    caption = caption_rows(cols)
    proba = np.full(len(cols["text"]), 0.9)
    keep, _ = decide(cols, proba, 0.5, title=False)
    assert not keep[caption].any() and keep[~caption].any()
    keep_all, _ = decide(cols, proba, 0.5, title=False, captions=True)
    assert keep_all[caption].all()
    # a page whose only paragraphs above the threshold are its captions (a gallery) keeps
    # them rather than nothing; a fallback for empty pages (empty_cut) reads the body first
    low = np.where(caption, 0.9, 0.2)
    assert decide(cols, low, 0.5, title=False)[0].tolist() == caption.tolist()
    assert decide(cols, low, 0.5, title=False, captions=True)[0].tolist() == caption.tolist()
    keep, _ = decide(cols, low, 0.5, title=False, empty_cut=0.5, empty_min_chars=0)
    assert not keep[caption].any() and keep.any()
    assert not decide(cols, np.full(len(caption), 0.2), 0.5, title=False)[0].any()  # nothing above: nothing


def test_captions_are_left_out_of_an_article_at_every_entry_point(model, tmp_path):
    from chromesift.models.rules import caption_rows, decide

    table = model.classify(CAPTIONED)
    caption = table["text"].str.contains("Fishing boats")
    assert (table.loc[caption, "role"] == "caption").all()
    assert not table.loc[caption, "is_content"].any()
    text = model.extract(CAPTIONED)
    assert "Fishing boats" not in text and "harbour reopened" in text
    assert list(model.extract_many([CAPTIONED])) == [text]
    pages = tmp_path / "in.jsonl"
    pages.write_text(json.dumps({"id": "a", "html": CAPTIONED}) + "\n")
    out = tmp_path / "out.jsonl"
    run_batch(BatchConfig(input=pages, output=out, progress=False, timeout=None))
    assert json.loads(out.read_text())["text"] == text
    (record,) = page_records(model, [Page(id="a", document=CAPTIONED)], detail=True)
    assert record["text"] == text
    assert [p["role"] for p in record["paragraphs"]] == table["role"].tolist()
    # scope="all": a caption is decided by its score like any paragraph, and keeps its role
    cols = to_columns(CAPTIONED)
    proba = model.predict_columns([cols], scope="all")[0]
    expected, _ = decide(cols, proba, model.threshold, title=False, captions=True)
    wide = model.classify(CAPTIONED, scope="all")
    assert wide["is_content"].tolist() == expected.tolist()
    assert (wide.loc[caption_rows(cols), "role"] == "caption").all()


# -- forum threads: the default scope reads them as "all" -----------------------------

POSTS = "".join(
    f"""<div class="post"><div class="author">member{k} &middot; Posted {k + 1} March</div>
<div class="message">Reply {k}: I had the same trouble with the pump last winter. In the end I
replaced the seal, bled the line and ran it for an hour before it held its pressure again.</div></div>"""
    for k in range(5))


def thread_page(head: str) -> str:
    return (f"<html><head><title>Pump loses pressure - Workshop Forum</title>{head}</head><body>"
            "<nav><a href='/'>Forums</a> <a href='/new'>New posts</a></nav>"
            f"<h1>Pump loses pressure</h1>{POSTS}<footer>Terms and rules</footer></body></html>")


THREAD_HEADS = {
    "structured data": '<script type="application/ld+json">{"@context": "https://schema.org", '
                       '"@type": "DiscussionForumPosting", "headline": "Pump loses pressure"}</script>',
    "forum software": '<meta name="generator" content="XenForo 2.2">',
    "forum software, single quotes": "<meta content='phpBB 3' name='generator'>",
    "thread URL": '<link rel="canonical" href="https://example.org/forums/threads/pump-loses-pressure.123/">',
    "Discourse topic URL": "<link href=https://talk.example.org/t/pump-loses-pressure/4567 rel=canonical>",
    "question URL": '<link rel="canonical" href="https://example.org/questions/42/pump">',
    "Discuz! forum": '<meta name="generator" content="Discuz! X3.4">'
                     '<link rel="canonical" href="https://bbs.example.cn/forum.php?mod=viewthread&tid=42">',
}
ARTICLE_HEADS = {
    "none": "",
    "an article's comments": '<script type="application/ld+json">{"@type": "NewsArticle", '
                             '"comment": {"@type": "Comment"}}</script>',
    "a topic page": '<link rel="canonical" href="https://news.example.org/topic/energy/">',
    "a blog's generator": '<meta name="generator" content="WordPress 6.4">',
    "a theme named after forum software": '<meta name="generator" content="Hugo 0.120; theme vanilla-discourse">',
    "a forum word in an article's URL": '<link rel="canonical" href="https://example.org/news/forum-on-energy-2024">',
    "a thread URL that is not the canonical one": '<link rel="alternate" href="https://example.org/forums/t.1/">',
}


@pytest.mark.parametrize("name", THREAD_HEADS)
def test_a_page_that_declares_itself_a_thread_is_found(name):
    from chromesift.data.threads import is_thread

    page = thread_page(THREAD_HEADS[name])
    assert is_thread(page.encode())
    cols = to_columns(page)
    assert cols["_thread"] == [True] * len(cols["text"])


@pytest.mark.parametrize("name", ARTICLE_HEADS)
def test_other_pages_are_not_threads(name):
    from chromesift.data.threads import is_thread

    page = thread_page(ARTICLE_HEADS[name])
    assert not is_thread(page.encode())
    assert not any(to_columns(page)["_thread"])
    # only the head counts: a forum posting's structured data in the body is not read
    body = page.replace("<footer>", '<div itemtype="https://schema.org/DiscussionForumPosting"></div><footer>')
    assert not is_thread(body.encode())
    assert to_columns(TEXT, format="text")["_thread"] == [False, False]
    assert not is_thread(b"") and not is_thread(b"<html><head><title>x</title>")


def test_page_scope():
    from chromesift.models.rules import page_scope

    thread, other = {"_thread": [True, True]}, {"_thread": [False]}
    assert page_scope(None, thread) == "all"
    assert page_scope("auto", thread) == "all"
    assert page_scope("auto", other) == "auto"
    assert page_scope("article", thread) == "article"  # asked for: every page is an article
    assert page_scope("all", other) == "all"
    assert page_scope(None, other) is None
    assert page_scope(None, {"_thread": []}) is None  # a page without paragraphs
    assert page_scope(None, {"text": ["made by hand"]}) is None


def test_the_default_reads_a_thread_as_all_and_other_pages_as_articles(model, seed_html):
    page = thread_page(THREAD_HEADS["forum software"])
    cols = to_columns(page)
    default, auto, wide, narrow = (model.predict_columns([cols], scope=s)[0] for s in (None, "auto", "all", "article"))
    assert default.tolist() == wide.tolist() == auto.tolist()
    assert not np.allclose(default, narrow)  # the shipped model reads the two conventions apart
    assert model.extract(page) == model.extract(page, scope="all")
    assert model.classify(page)["is_content"].tolist() == model.classify(page, scope="all")["is_content"].tolist()
    assert model.extract(page, scope="article") == "\n".join(
        model.classify(page, scope="article").query("is_content and role != 'title'")["text"])
    # in a batch with an article and plain text, each page is read as it is read alone
    docs = [seed_html, page, TEXT, thread_page("")]
    alone = [model.predict_columns([to_columns(d)])[0] for d in docs]
    together = model.predict_columns([to_columns(d) for d in docs])
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert list(model.extract_many(docs, batch_size=4)) == [model.extract(d) for d in docs]
    records = page_records(model, [Page(id=str(i), document=d) for i, d in enumerate(docs)])
    assert [r["text"] for r in records] == [model.extract(d) for d in docs]
    # columns made by hand, without the parsers' `_thread`, are read as before
    bare = {k: v for k, v in to_columns(seed_html).items() if k != "_thread"}
    mixed = model.predict_columns([bare, to_columns(page)])
    np.testing.assert_allclose(mixed[0], alone[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(mixed[1], alone[1], rtol=0, atol=1e-12)


def test_a_model_without_conventions_reads_a_thread_as_an_article(plain_bundle):
    plain = chromesift.load_model(plain_bundle)
    cols = to_columns(thread_page(THREAD_HEADS["thread URL"]))
    assert plain.predict_columns([cols])[0].tolist() == plain.predict_columns([cols], scope="article")[0].tolist()


def test_threads_found_in_the_corpora(shared_data, model):
    """Forum threads of wcxb are found, and no page of the article corpora is."""
    from chromesift.data import corpus
    from chromesift.data.threads import is_thread

    def found(name, keep=lambda p: True):
        pages = [p for p in corpus.iter_pages(corpus.dataset_path(shared_data, name), None) if keep(p)]
        return [p for p in pages if is_thread(p.html.encode("utf-8", "surrogatepass"))], len(pages)

    for name in ("fundus", "andy-article-extraction", "readability", "newspaper3k-fixtures"):
        assert found(name)[0] == [], name
    threads, n = found("wcxb", lambda p: (p.meta or {}).get("page_type") == "forum")
    assert len(threads) >= n // 2, (len(threads), n)
    articles, _ = found("wcxb", lambda p: (p.meta or {}).get("page_type") == "article")
    assert articles == []
    page = threads[0].html
    assert model.extract(page) == model.extract(page, scope="all")
