"""Properties of parsing and the library call for any input (hypothesis), and fuzz regressions.

"Visible text" here is defined independently of the parser's walk, recursively on the
tree libxml2 builds: an element's text, its children's visible text and its tail, in
document order; an element in :data:`~chromesift.data.vocab.SKIP_TAGS`, or hidden (the
``hidden`` attribute, ``display:none``, ``visibility:hidden``), comments and processing
instructions contribute only their tail. Paragraph segmentation may only add or remove
whitespace, so the property compares the two texts with all whitespace removed: nothing
lost, nothing invented, nothing reordered.
"""

from __future__ import annotations

import encodings.aliases
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chromesift
from chromesift.data import lexbor, parse_html, parse_text, schema
from chromesift.data.sniff import DecodeError, check_text_bytes
from chromesift.data.vocab import SOFT_HYPHEN

#: seeded and without an example database, so a run is repeatable and writes nothing
FAST = settings(max_examples=300, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
MODEL = settings(FAST, max_examples=40)

_WS = re.compile(r"\s+")


def squeeze(text: str) -> str:
    """Text without any whitespace."""
    return _WS.sub("", text)


FUZZ = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz"


def _fuzz_module():
    """benchmarks/fuzz/fuzz_parse.py, which holds the reference definition of visible text."""
    spec = importlib.util.spec_from_file_location("chromesift_fuzz_parse", FUZZ / "fuzz_parse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_FUZZ = _fuzz_module()


def visible_text(page: str) -> str:
    """The page's visible text as defined in the module docstring ("" for no tree)."""
    text = _FUZZ.visible_text(page)
    assert text is not None, "libxml2 hit its depth limit: no independent reference"
    return text


def assert_table(frame: pd.DataFrame, source: str) -> None:
    schema.validate(frame, stage="test")
    assert frame["position"].tolist() == list(range(len(frame)))
    assert all(isinstance(t, str) and t and t == t.strip() and not re.search(r"\s\s|[^\S ]", t)
               for t in frame["text"])
    assert (frame["source"] == source).all()


# --- inputs --------------------------------------------------------------------------------

_TAGS = ["p", "div", "span", "b", "a", "li", "ul", "td", "tr", "table", "h1", "article", "nav",
         "footer", "br", "hr", "img", "pre", "blockquote", "section", "figure", "figcaption",
         "script", "style", "noscript", "textarea", "select", "option", "template", "svg", "iframe", "title", "head"]
_ATTRS = ["", " class='nav-menu'", " id='mainContent'", " hidden", " style='display: none'",
          " style='visibility:hidden'", " style='color: red'", " href='/x'", " role='navigation'"]
words = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="<>&\x00"), max_size=12)
_TEXTS = words | st.sampled_from(["&amp;", "&nbsp;", "&lt;b&gt;", "&#233;", " ", "\n", "\t"])


@st.composite
def markup(draw, depth: int = 0) -> str:
    """Nested elements, text, comments and stray tags: well-formed or not."""
    parts = []
    for _ in range(draw(st.integers(0, 4 if depth < 3 else 1))):
        kind = draw(st.integers(0, 9))
        if kind <= 3 or depth >= 3:
            parts.append(draw(_TEXTS))
        elif kind <= 7:
            tag = draw(st.sampled_from(_TAGS))
            attr = draw(st.sampled_from(_ATTRS))
            close = draw(st.booleans()) or kind == 7
            parts.append(f"<{tag}{attr}>{draw(markup(depth + 1))}" + (f"</{tag}>" if close else ""))
        elif kind == 8:
            parts.append(f"<!--{draw(words)}-->")
        else:
            parts.append(draw(st.sampled_from(["</p>", "</div>", "<br>", "<p>", "<?php x ?>", "<![CDATA[x]]>"])))
    return "".join(parts)


pages = markup().map(lambda body: body if body.startswith("<") else f"<body>{body}</body>")
not_pages = st.one_of(st.none(), st.integers(), st.floats(), st.lists(st.text(), max_size=2),
                      st.dictionaries(st.text(), st.text(), max_size=2))


# --- parsing never raises what it does not document -----------------------------------------


@FAST
@given(st.text())
def test_any_str_parses_as_html_and_text(page):
    assert_table(parse_html(page), "html")
    assert_table(parse_text(page), "text")


def not_text(page: bytes) -> bool:
    """Whether the sniffer calls these bytes binary (the one documented refusal of bytes)."""
    try:
        check_text_bytes(page)
    except DecodeError:
        return True
    return False


@FAST
@given(st.binary())
def test_any_bytes_parse_as_html_and_text_or_are_refused_as_binary(page):
    if not_text(page):
        for parse in (parse_html, parse_text):
            with pytest.raises(DecodeError, match="not an HTML page or text"):
                parse(page)
        return
    assert_table(parse_html(page), "html")
    assert_table(parse_text(page), "text")


@FAST
@given(st.text(st.characters(codec="ascii", exclude_categories=["Cc"], exclude_characters="<&"), min_size=1),
       st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32"]))
def test_wide_encodings_read_as_the_text_they_hold(text, encoding):
    """UTF-16 and UTF-32 bytes (with or without a mark) are the text they encode, not NULs."""
    page = f"<html><body><p>Hello {text} world</p></body></html>"
    data = page.encode(encoding)
    assert chromesift.detect_format(data) == "html"
    assert parse_html(data)["text"].tolist() == parse_html(page)["text"].tolist()
    assert "\x00" not in "".join(parse_text(data)["text"])


@FAST
@given(st.one_of(pages, st.text()), st.booleans())
def test_any_markup_parses(page, as_bytes):
    data = page.encode("utf-8") if as_bytes else page
    if as_bytes and not_text(data):  # markup drawn with many control characters
        with pytest.raises(DecodeError):
            parse_html(data)
        return
    assert_table(parse_html(data), "html")


@settings(FAST, max_examples=50)
@given(not_pages)
def test_anything_else_is_a_type_error(obj):
    for call in (parse_html, parse_text, chromesift.classify, chromesift.extract):
        with pytest.raises(TypeError, match="must be str or bytes"):
            call(obj)


# --- visible text --------------------------------------------------------------------------


@FAST
@given(pages)
def test_paragraphs_are_the_visible_text_in_order(page):
    paragraphs = parse_html(page)["text"].tolist()
    visible_text(page)  # (asserts there is an independent reference)
    _FUZZ.assert_visible(paragraphs, page)


@FAST
@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="<&\x00")))
def test_text_in_a_paragraph_comes_back_whole(text):
    expected = _WS.sub(" ", text.replace(SOFT_HYPHEN, "")).strip()  # (soft hyphens are no visible text)
    assert parse_html(f"<p>{text}</p>")["text"].tolist() == ([expected] if expected else [])


@FAST
@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="<&\x00"), min_size=1), st.integers(1, 4))
def test_block_boundaries_split_but_never_join_across(text, n):
    # n copies of the same text in sibling blocks are n paragraphs, never one
    expected = _WS.sub(" ", text.replace(SOFT_HYPHEN, "")).strip()
    frame = parse_html("".join(f"<div>{text}</div>" for _ in range(n)))
    assert frame["text"].tolist() == ([expected] * n if expected else [])


#: what separates two words in a browser too (a stray end tag does not: libxml2 drops it,
#: and browsers drop a stray </div> as well, though a stray </p> opens an empty paragraph)
_SEPARATORS = [" ", "\n", "&nbsp;", "<br>", "<br/>", "<p>", "<div>", "<li>", "<td>", "<hr>", "<h2>",
               "</p><p>", "</div><div>", "<!-- c --> ", "<script>x</script> "]


@FAST
@given(st.lists(st.tuples(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8),
                          st.sampled_from(_SEPARATORS)), min_size=1, max_size=12))
def test_separators_keep_words_apart(pieces):
    # whitespace, <br> and block boundaries separate words; the whitespace-blind
    # comparison above cannot see two words glued together, this one can
    page = "".join(word + sep for word, sep in pieces)
    with lexbor.using("lxml"):
        paragraphs = parse_html(page)["text"].tolist()
    assert " ".join(paragraphs).split() == [word for word, _ in pieces]
    if lexbor.PARSER == "lexbor" and all(sep != "<td>" for _, sep in pieces):
        # (HTML5 drops a <td> outside a table, as browsers do: the words meet there)
        assert " ".join(parse_html(page)["text"].tolist()).split() == [word for word, _ in pieces]


def test_visible_text_definition_on_a_known_page():
    # the reference definition itself, on a page whose answer is known
    page = ("<html><head><title>T</title><script>s()</script></head><body><p>one <b>two</b></p>"
            "<div hidden>no</div>three<!-- c -->four<style>x</style>five</body></html>")
    assert squeeze(visible_text(page)) == "onetwothreefourfive"
    assert parse_html(page)["text"].tolist() == ["one two", "threefourfive"]
    # soft hyphens are no visible text, nor a ruby reading without rp brackets
    page = ("<html><body><p>Mit&shy;tel\u00adalter</p><p><ruby>漢<rt>かん</rt></ruby>字 "
            "<ruby>尹<rp>(</rp><rt>ユン</rt><rp>)</rp></ruby></p></body></html>")
    for parser in ("lxml", "lexbor"):
        assert squeeze(_FUZZ.visible_text(page, parser=parser)) == "Mittelalter漢字尹(ユン)"
    assert parse_html(page)["text"].tolist() == ["Mittelalter", "漢字 尹(ユン)"]


# --- plain text ----------------------------------------------------------------------------

plain = st.text(st.characters(exclude_categories=["Cs"]))


@FAST
@given(plain)
def test_plain_text_round_trips_its_words_in_order(text):
    paragraphs = parse_text(text)["text"].tolist()
    assert " ".join(paragraphs).split() == text.replace(SOFT_HYPHEN, "").split()
    assert all("\n" not in p for p in paragraphs)


@FAST
@given(plain)
def test_plain_text_as_utf8_bytes_is_the_same(text):
    expected = parse_text(text.lstrip("\ufeff"))["text"].tolist()
    assert parse_text(text.encode("utf-8"))["text"].tolist() == expected


# --- declared charsets (found while probing the decoder) ------------------------------------------------------

CODECS = sorted(set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
                | {"rot13", "base64", "hex", "zlib", "punycode", "idna", "unicode-escape", "utf-7", "x-user-defined"})


@pytest.mark.parametrize("charset", CODECS)
def test_any_declared_charset_reads_an_ascii_page_as_ascii(charset):
    # before the fix, rot13/base64/zlib raised LookupError, punycode UnicodeError, and
    # utf-16 or EBCDIC declarations turned the page into mojibake
    page = f'<html><head><meta charset="{charset}"></head><body><p>Tide pools \\n at +AGEA- dawn ~{{</p></body></html>'
    data = page.encode("ascii") + (b" " if len(page) % 2 else b"")
    assert parse_html(data)["text"].tolist() == parse_html(page)["text"].tolist() == ["Tide pools \\n at +AGEA- dawn ~{"]


# --- the library call ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return chromesift.load_model()


@MODEL
@given(st.one_of(pages, plain, st.binary(max_size=2000)))
def test_classify_is_deterministic_and_keeps_its_contract(model, document):
    if isinstance(document, bytes) and not_text(document):
        with pytest.raises(DecodeError):
            model.classify(document)
        return
    first = model.classify(document)
    second = model.classify(document)
    pd.testing.assert_frame_equal(first, second)
    proba = first["probability"].to_numpy(dtype=float)
    assert np.all((proba >= 0) & (proba <= 1))
    # the reported probability is the calibrated score; the decision follows the rules on the
    # score as the fuzz target writes them out (threshold, relative cut of plain text,
    # isolated paragraphs and their siblings, headline and its copies never content, captions read as 0, long
    # paragraphs not repeated)
    cols = chromesift.data.page.to_columns(document)
    scores = model.predict_columns([cols])[0]
    np.testing.assert_array_equal(proba, model.probability(scores))
    body = first["role"].to_numpy() != "title"
    text = bool(len(first)) and bool((first["source"] == "text").all())
    expected = _FUZZ.expected_content(scores.tolist(), body.tolist(), text=text, threshold=model.threshold,
                                      caption=(first["role"] == "caption").tolist(), texts=first["text"].tolist(),
                                      parents=list(cols["anc1"]))
    assert first["is_content"].tolist() == expected
    assert text or body.sum() >= len(first) - 1
    assert first["text"].tolist() == chromesift.data.page.to_table(document)["text"].tolist()
    assert model.extract(document) == "\n".join(first.loc[first["is_content"], "text"])


@pytest.mark.parametrize("same_parent", [True, False])
def test_the_reference_rules_keep_a_far_paragraph_with_a_kept_sibling(same_parent):
    """The fuzz target's written-out rules and chromesift.models.rules.decide agree on the
    isolated-paragraph rule's exception: a paragraph far from every other kept one but in the
    same parent element as one of them stays content (in HTML, not in plain text)."""
    from chromesift.data.page import to_columns
    from chromesift.models.rules import decide

    first = "".join(f"<p>Paragraph number {i} of the first box, long enough.</p>" for i in range(5))
    last = "<p>The last paragraph, five paragraphs below the first one.</p>"
    html = (f"<html><body><div>{first}{last}</div></body></html>" if same_parent
            else f"<html><body><div>{first}</div><section>{last}</section></body></html>")
    cols = to_columns(html)
    assert len(cols["text"]) == 6 and (cols["anc1"][0] == cols["anc1"][5]) == same_parent
    scores = np.array([0.9, 0.1, 0.1, 0.1, 0.1, 0.6])
    keep, _ = decide(cols, scores, 0.5, title=False)
    expected = _FUZZ.expected_content(scores.tolist(), [True] * 6, text=False, threshold=0.5,
                                      texts=cols["text"], parents=list(cols["anc1"]))
    assert keep.tolist() == expected == [True, False, False, False, False, same_parent]
    text = to_columns("\n".join(cols["text"]), format="text")
    keep_text, _ = decide(text, scores, 0.5, title=False, relative_cut=None)
    assert keep_text.tolist() == _FUZZ.expected_content(
        scores.tolist(), [True] * 6, text=False, threshold=0.5, texts=text["text"], parents=None,
    ) == [True, False, False, False, False, False]


@pytest.mark.parametrize("long_one", [True, False])
def test_the_reference_rules_fall_back_on_an_empty_page_as_decide_does(long_one):
    """The written-out rules and decide agree on the empty-page fallback: a page left with nothing keeps its
    paragraphs from half of its best score when one of them is prose-long, the headline and its copy aside."""
    from chromesift.data.page import to_columns
    from chromesift.models.rules import decide

    prose = "The council met on Tuesday and agreed to repair the old bridge before winter. " * (4 if long_one else 1)
    html = (f"<html><body><h1>The headline of this page, long enough</h1><p>{prose}</p><p>A short line</p>"
            "<p>The headline of this page, long enough</p><p>Contact us</p></body></html>")
    cols = to_columns(html)
    scores = np.array([0.95, 0.34, 0.2, 0.4, 0.05])
    keep, head = decide(cols, scores, 0.5, title=False)
    body = [i != head for i in range(len(scores))]
    expected = _FUZZ.expected_content(scores.tolist(), body, text=False, threshold=0.5, texts=cols["text"],
                                      parents=list(cols["anc1"]))
    assert head == 0 and keep.tolist() == expected == [False, long_one, long_one, False, False]


@MODEL
@given(st.lists(st.one_of(pages, plain), min_size=1, max_size=5))
def test_classify_many_equals_classify_one_by_one(model, documents):
    # pages predicted together in one batch must not influence each other
    for i, (one, many) in enumerate(zip(documents, model.classify_many(documents, batch_size=3), strict=True)):
        assert (many["page"] == i).all()
        pd.testing.assert_frame_equal(model.classify(one), many.drop(columns="page"))


# --- the batch reader and the HTTP handler: only their documented errors ------------------

#: any text, with what breaks naive readers drawn often: lone surrogates, NUL, BOM, quotes,
#: backslashes, line and paragraph separators
wild = st.text(st.one_of(st.characters(), st.sampled_from(
    ["\ud800", "\udcff", "\udbff", "\x00", "\ufeff", "\u2028", "\u2029", "\r", "\n", "\x85", '"', "\\", "<"])),
    max_size=30)
ids = st.one_of(wild, st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                st.dictionaries(wild, st.integers(), max_size=1))


@st.composite
def jsonl_line(draw) -> bytes:
    """One line of a JSONL input: a record (escaped, raw UTF-8 or with surrogates kept), or bytes."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=40))
    rec = {}
    if draw(st.booleans()) or kind == 3:
        rec["id"] = draw(ids)
    rec[draw(st.sampled_from(["html", "text", "other"]))] = draw(st.one_of(wild, st.integers(), st.none()))
    if draw(st.booleans()):
        rec["url"] = draw(st.one_of(wild, st.integers()))
    text = json.dumps(rec, ensure_ascii=draw(st.booleans()))
    # surrogatepass: a lone surrogate written as its (invalid) UTF-8 bytes
    line = text.encode("utf-8", errors="surrogatepass")
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"  "])) + line + draw(st.sampled_from([b"", b"\r", b" \x00"]))


class Stand:
    """A stand-in model: every paragraph is content."""

    def classify(self, document, *, format=None):
        frame = parse_text(document) if format == "text" else parse_html(document)
        return frame.assign(is_content=True, probability=1.0)


@FAST
@given(st.lists(jsonl_line(), max_size=8))
def test_the_batch_reader_gives_a_page_for_every_line_and_never_raises(tmp_path_factory, lines):
    from chromesift.runtime import batch

    path = tmp_path_factory.mktemp("jsonl") / "in.jsonl"
    data = b"\n".join(lines)
    path.write_bytes(data)
    raw = data.split(b"\n")
    if raw[0].startswith(b"\xef\xbb\xbf"):
        raw[0] = raw[0][3:]
    numbers = [n for n, line in enumerate(raw, 1) if line.strip()]
    got = list(batch.iter_jsonl(path))
    assert len(got) == len(numbers)
    for page, n in zip(got, numbers, strict=True):
        assert isinstance(page, batch.Page)
        if page.error is None:
            assert isinstance(page.document, str) and page.format in ("html", "text")
            assert page.id not in (None, "") and not isinstance(page.id, (dict, list))
        else:
            assert page.document is None and page.error.strip() == page.error and "\n" not in page.error
            assert page.id == f"in.jsonl:{n}" or json.loads(raw[n - 1].decode("utf-8").lstrip("\ufeff"))["id"] == page.id


@settings(FAST, max_examples=60)
@given(st.lists(jsonl_line(), max_size=6))
def test_batch_output_reads_back_and_a_rerun_adds_nothing(tmp_path_factory, lines):
    from chromesift.runtime.batch import BatchConfig, run_batch

    folder = tmp_path_factory.mktemp("batch")
    (folder / "in.jsonl").write_bytes(b"\n".join(lines))
    cfg = BatchConfig(input=folder / "in.jsonl", output=folder / "out.jsonl", timeout=None, progress=False)
    first = run_batch(cfg, loader=lambda path: Stand())
    out = (folder / "out.jsonl").read_bytes()
    records = [json.loads(line) for line in out.decode("utf-8").splitlines()]  # strict UTF-8, every line JSON
    assert len(records) == first.done + first.failed == len({str(r["id"]) for r in records})
    again = run_batch(cfg, loader=lambda path: Stand())
    assert (again.done, again.failed) == (0, 0) and (folder / "out.jsonl").read_bytes() == out


cells = st.one_of(st.none(), wild, st.binary(max_size=40), st.integers(), st.floats(), st.booleans(),
                  st.lists(st.integers(), max_size=2), st.dictionaries(wild, st.integers(), max_size=1),
                  pages, st.just(float("nan")))
columns = st.lists(st.sampled_from(["id", "html", "text", "url", 0]), max_size=4)


@st.composite
def requests(draw):
    """What the HTTP handler may be handed: frames of any cells and columns, dicts, anything."""
    kind = draw(st.integers(0, 3))
    if kind == 3:
        return draw(st.one_of(st.none(), wild, st.integers(), st.lists(cells, max_size=3)))
    names = draw(columns)
    if kind == 2:  # a dict of columns, maybe of different lengths
        return {name: draw(st.lists(cells, max_size=3)) for name in names}
    rows = draw(st.lists(st.lists(cells, min_size=len(names), max_size=len(names)), max_size=4))
    return pd.DataFrame(rows, columns=names) if names else pd.DataFrame(index=range(len(rows)))


@MODEL
@given(requests())
def test_the_http_handler_answers_or_refuses_with_a_400(model, request_input):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, ErrorCode

    from chromesift.runtime import serving

    limits = serving.Limits(max_bytes=3000, max_pages=3)
    try:
        out = serving.predict_frame(model, request_input, limits)
    except mlflow.exceptions.MlflowException as exc:
        assert exc.error_code == ErrorCode.Name(INVALID_PARAMETER_VALUE) and exc.get_http_status_code() == 400
        return
    rows = len(pd.DataFrame(request_input) if isinstance(request_input, dict) else request_input)
    assert isinstance(out, pd.DataFrame) and len(out) == rows
    assert {"main_text", "paragraphs"} <= set(out.columns)
    for main, pars in zip(out["main_text"], out["paragraphs"], strict=True):
        assert main == "\n".join(p["text"] for p in json.loads(pars) if p["is_content"])


# --- the fuzz target (benchmarks/fuzz) and the inputs it found --------------------------

#: executions of the CI smoke run (the longer run is described in benchmarks/fuzz/README.md)
SMOKE_RUNS = 400


def test_fuzz_smoke(tmp_path):
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris): fuzz smoke skipped")
    corpus, crashes = tmp_path / "corpus", tmp_path / "crashes"
    crashes.mkdir()
    target = str(FUZZ / "fuzz_parse.py")
    subprocess.run([sys.executable, target, "--write-seeds", str(corpus)], check=True, capture_output=True)
    proc = subprocess.run(
        [sys.executable, target, f"-atheris_runs={SMOKE_RUNS}", "-seed=1", f"-dict={FUZZ / 'html.dict'}",
         f"-artifact_prefix={crashes}/", str(corpus)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0 and list(crashes.iterdir()) == [], proc.stderr[-4000:]
    assert f"Done {SMOKE_RUNS} " in proc.stderr or f"Done {SMOKE_RUNS - 1} " in proc.stderr, proc.stderr[-2000:]
    assert len(list(corpus.iterdir())) > 8  # the fuzzer found new paths beyond the seeds


@pytest.mark.parametrize(("target", "runs"), [("fuzz_batch", 600), ("fuzz_serve", 200)])
def test_fuzz_smoke_batch_readers_and_http_handler(tmp_path, target, runs):
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris): fuzz smoke skipped")
    corpus, crashes = tmp_path / "corpus", tmp_path / "crashes"
    crashes.mkdir()
    script = str(FUZZ / f"{target}.py")
    subprocess.run([sys.executable, script, "--write-seeds", str(corpus)], check=True, capture_output=True)
    seeds = len(list(corpus.iterdir()))
    proc = subprocess.run(
        [sys.executable, script, f"-atheris_runs={runs}", "-seed=1", f"-dict={FUZZ / (target[5:] + '.dict')}",
         f"-artifact_prefix={crashes}/", str(corpus)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0 and list(crashes.iterdir()) == [], proc.stderr[-4000:]
    assert f"Done {runs} " in proc.stderr or f"Done {runs - 1} " in proc.stderr, proc.stderr[-2000:]
    assert len(list(corpus.iterdir())) > seeds  # the fuzzer found new paths beyond the seeds


@pytest.mark.parametrize("parse", [parse_html, parse_text])
@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\ud800b", "a\ufffdb"), ("x\ud83d\ude00y", "x\U0001f600y"), ("\udcff", "\ufffd")],
)
def test_surrogates_in_a_str_are_repaired(parse, text, expected):
    # a lone surrogate made the Arrow-backed text column raise UnicodeEncodeError
    page = f"<p>{text}</p>" if parse is parse_html else text
    assert parse(page)["text"].tolist() == [expected]
