"""Coverage-guided fuzz target (atheris): page parsing and classification.

Each input is one page. The first byte picks how it is fed to chromesift (HTML bytes,
HTML as str, plain text as bytes or str), the rest is the page. Parsing and, for one
input in ``CLASSIFY_EVERY``, classification with the shipped model must not raise, the
results must keep the paragraph-table contract (:func:`check_table`), and HTML
paragraphs must be the page's visible text (:func:`check_visible`). Any exception or
failed check is a crash that libFuzzer saves as ``crash-<sha1>``.

Run (see README.md beside this file)::

    .venv/bin/python benchmarks/fuzz/fuzz_parse.py -atheris_runs=2000 CORPUS_DIR

``--write-seeds DIR`` fills a corpus folder with the hand-made test pages first.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

#: Classify one input in this many (classification costs far more than parsing).
CLASSIFY_EVERY = 8
#: Pages longer than this are cut (the batch size budget handles real giants).
MAX_INPUT = 200_000
_MODES = ("html-bytes", "html-str", "text-bytes", "text-str")
_BAD_SPACE = re.compile(r"\s\s|[^\S ]")
_WS = re.compile(r"\s+")
SOFT_HYPHEN = "\u00ad"
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)

_state: dict = {}


def check_table(frame, *, source: str) -> None:
    """Assert the contract of a parsed page (raises AssertionError naming the broken rule)."""
    from chromesift.data import schema

    schema.validate(frame, stage="fuzz")
    n = len(frame)
    assert frame["position"].tolist() == list(range(n)), "positions are not 0..n-1"
    texts = frame["text"].tolist()
    for t in texts:
        assert isinstance(t, str) and t, f"empty or non-str paragraph {t!r}"
        assert t == t.strip(), f"paragraph not stripped: {t!r}"
        assert not _BAD_SPACE.search(t), f"whitespace not normalised: {t!r}"
    assert (frame["source"] == source).all(), "wrong source column"
    if n:
        assert int(frame["page_chars"].iloc[0]) == sum(map(len, texts)), "page_chars is not the text length"
        assert (frame["link_chars"] <= frame["text"].str.len()).all(), "more link text than text"
        assert (frame["n_links"] >= 0).all(), "negative link count"
        assert (frame["depth"] >= 0).all(), "negative depth"


def parser_of(text: str) -> str:
    """The parser chromesift reads the decoded page with first ("lexbor" or "lxml")."""
    from chromesift.data.html import parser_input

    return parser_input(text.encode("utf-8", errors="replace"))[1]


def visible_text(text: str, copies: bool = False, parser: str | None = None) -> str | None:
    """Visible text of a decoded page, defined on the parser's tree independently of the walk.

    An element's text, its children's and its tail in document order; skipped tags
    (``SKIP_TAGS``, but ``<noscript>`` and ``<template>`` when ``copies``), hidden elements,
    ruby readings (``rt``) whose parent has no ``rp``, comments and processing instructions give
    only their tail; soft hyphens are no visible text. The tree is libxml2's
    (lxml's) or, where ``parser`` (default: :func:`parser_of`) is lexbor, lexbor's as
    selectolax's Python API gives it. None when libxml2 hit its depth limit (the parser
    flattens such pages first, so there is no independent reference).
    """
    from lxml import etree

    from chromesift.data.html import COPY_TAGS
    from chromesift.data.vocab import SKIP_TAGS

    skip = SKIP_TAGS - COPY_TAGS if copies else SKIP_TAGS

    data = text.encode("utf-8", errors="replace")
    if not data.strip():
        return ""
    if (parser or parser_of(text)) == "lexbor":
        return _visible_lexbor(data, skip)
    parser = etree.HTMLParser(encoding="utf-8", remove_pis=True, huge_tree=True)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, etree.ParserError, ValueError):
        return ""
    if any("Excessive depth" in e.message for e in parser.error_log):
        return None
    if root is None:
        return ""
    out: list[str] = []
    stack = [(root, False)]
    while stack:
        el, tail_only = stack.pop()
        if not tail_only:
            invisible = not isinstance(el.tag, str)
            if not invisible:
                tag = el.tag.rsplit("}", 1)[-1].lower()
                invisible = (tag in skip or "hidden" in el.attrib or bool(_HIDDEN.search(el.get("style") or ""))
                             or (tag == "rt" and not _has_rp(el.getparent())))
            if not invisible:
                out.append(el.text or "")
                stack.append((el, True))
                stack.extend((child, False) for child in reversed(el))
                continue
        if el is not root:
            out.append(el.tail or "")
    return "".join(out).replace(SOFT_HYPHEN, "")


def _has_rp(parent) -> bool:
    """Whether an lxml element has an ``rp`` child (a ruby reading is text only then)."""
    return parent is not None and any(isinstance(c.tag, str) and c.tag.rsplit("}", 1)[-1].lower() == "rp"
                                      for c in parent)


def _visible_lexbor(data: bytes, skip: frozenset) -> str:
    """:func:`visible_text` on lexbor's tree, through selectolax's own node objects."""
    from selectolax.lexbor import LexborHTMLParser

    from chromesift.data.html import parser_input
    from chromesift.data.lexbor import lexbor_input

    data = lexbor_input(parser_input(data)[0])  # as the parser is given the page
    root = LexborHTMLParser(data).root
    out: list[str] = []
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        tag = node.tag
        if tag == "-text":
            out.append(node.text_content or "")
            continue
        if not tag or tag[0] in "-_!":  # comments (and what HTML5 makes comments of), doctype
            continue
        attrs = node.attributes
        if tag.lower() in skip or "hidden" in attrs or _HIDDEN.search(attrs.get("style") or ""):
            continue
        if tag.lower() == "rt" and not (node.parent is not None
                                        and any((c.tag or "").lower() == "rp" for c in node.parent.iter())):
            continue
        stack.extend(reversed(list(node.iter(include_text=True))))
    return "".join(out).replace(SOFT_HYPHEN, "")


def check_visible(table, page: str | bytes) -> None:
    """Assert the paragraphs are the page's visible text, in order, whitespace aside."""
    from chromesift.data.html import decode

    assert_visible(table["text"].tolist(), decode(page).text)


def assert_visible(paragraphs: list[str], text: str) -> None:
    """The paragraphs are the visible text, or, where that is next to nothing (under
    ``COPY_MIN_CHARS``), the visible text with the ``<noscript>``/``<template>`` copies."""
    from chromesift.data.html import COPY_MIN_CHARS

    parser = parser_of(text)
    reference = visible_text(text, parser=parser)
    if reference is None:
        return
    got = _WS.sub("", "".join(paragraphs))
    if got == _WS.sub("", reference):
        return
    if parser == "lexbor" and len(_WS.sub("", reference)) < COPY_MIN_CHARS and got in (
        _WS.sub("", visible_text(text, parser="lxml") or ""),
        _WS.sub("", visible_text(text, copies=True, parser="lxml") or ""),
    ):
        return  # lexbor keeps a <template>'s content out of its tree: such a page is read with lxml
    assert sum(map(len, paragraphs)) > 0, "paragraphs are not the visible text"
    copies = visible_text(text, copies=True, parser=parser)
    assert got == _WS.sub("", copies or ""), "paragraphs are neither the visible text nor its copies"
    assert len(_WS.sub("", reference)) < COPY_MIN_CHARS, "copies read on a page with visible text"


def check_result(result, table, model, scores, parents=None) -> None:
    """Assert the contract of :meth:`chromesift.Model.classify` against the parsed table
    and the model's scores of the page (:meth:`chromesift.Model.predict_columns`);
    ``parents``: the page's ``anc1`` column (each paragraph's parent element)."""
    assert len(result) == len(table), "classify lost or added paragraphs"
    assert result["text"].tolist() == table["text"].tolist(), "classify changed the texts"
    proba = result["probability"].to_numpy(dtype=float)
    assert all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in proba), "probability outside [0, 1]"
    assert list(proba) == list(model.probability(scores)), "probability is not the calibrated score"
    body = [role != "title" for role in result["role"]]
    text = bool(len(result)) and bool((result["source"] == "text").all())
    expected = expected_content(list(scores), body, text=text, threshold=model.threshold,
                                caption=[role == "caption" for role in result["role"]],
                                texts=result["text"].tolist(), parents=parents)
    assert result["is_content"].tolist() == expected, "decision disagrees with the rules"
    assert sum(body) >= len(result) - 1, "more than one headline"


def expected_content(proba: list[float], body: list[bool], *, text: bool, threshold: float,
                     caption: list[bool] | None = None, texts: list[str] | None = None,
                     parents: list[int] | None = None) -> list[bool]:
    """The content decision, written out rule by rule (the reference for chromesift.models.rules').

    ``proba`` are the model's scores (its uncalibrated probabilities). A paragraph is
    content when its score reaches the threshold -- for plain text, or half of the page's
    highest score when that is lower -- unless it is alone: no other such paragraph within
    3 on either side (and more than one on the page), nor, in HTML, one with the same parent
    element (``parents``, the ``anc1`` column; -1 for none), with a score under 0.7. The headline
    (``body`` False) is never content, nor is a paragraph of its text (``texts``). Captions
    (``caption`` True) are read as scored 0, unless the page then keeps nothing. A page left
    with nothing keeps its paragraphs from half of its highest score instead (the headline and
    its text aside; none where that score is 0), if one of them has 200 characters or more. A
    paragraph of 40 characters or more whose text an earlier content paragraph has is not content.
    """
    head = {t for t, b in zip(texts or [], body, strict=False) if not b}

    def decided(scores: list[float]) -> list[bool]:
        cut = min(threshold, 0.5 * max(scores)) if text and scores else threshold
        over = [i for i, p in enumerate(scores) if p >= cut]
        keep = [False] * len(scores)
        for i in over:
            neighbours = [j for j in over if j != i and abs(j - i) <= 3]
            siblings = (parents is not None and not text and parents[i] >= 0
                        and any(parents[j] == parents[i] for j in over if j != i))
            keep[i] = len(over) == 1 or bool(neighbours) or siblings or scores[i] >= 0.7
        keep = [k and b and not (texts and texts[i] in head) for i, (k, b) in enumerate(zip(keep, body, strict=True))]
        if not any(keep) and texts:
            rest = [i for i, b in enumerate(body) if b and texts[i] not in head]
            top = max((scores[i] for i in rest), default=0.0)
            fallback = [i for i in rest if top > 0 and scores[i] >= 0.5 * top]
            if any(len(texts[i]) >= 200 for i in fallback):
                keep = [i in fallback for i in range(len(scores))]
        kept_before: list[str] = []
        for i, k in enumerate(keep):
            if k and texts:
                if len(texts[i]) >= 40 and texts[i] in kept_before:
                    keep[i] = False
                else:
                    kept_before.append(texts[i])
        return keep

    if caption and any(caption):
        without = decided([0.0 if c else p for p, c in zip(proba, caption, strict=True)])
        if any(without):
            return without
    return decided(proba)


def test_one_input(data: bytes) -> None:
    """The fuzz target: parse (and sometimes classify) one page, checking the contracts."""
    from chromesift.data.page import to_columns, to_table
    from chromesift.data.sniff import DecodeError, check_text_bytes

    if not data:
        return
    mode = _MODES[data[0] % len(_MODES)]
    raw = data[1 : MAX_INPUT + 1]
    page: str | bytes = raw.decode("utf-8", errors="surrogateescape") if mode.endswith("str") else raw
    fmt = mode.split("-")[0]
    try:
        table = to_table(page, format=fmt)
    except DecodeError:
        # the one documented refusal: bytes that the sniffer calls no page
        assert isinstance(page, bytes), "a str was refused as binary"
        try:
            check_text_bytes(page)
        except DecodeError:
            return
        raise AssertionError("DecodeError for bytes that the sniffer accepts") from None
    check_table(table, source=fmt)
    if fmt == "html":
        check_visible(table, page)
    _state["n"] = _state.get("n", 0) + 1
    if _state["n"] % CLASSIFY_EVERY == 0:
        model = _state["model"]
        cols = to_columns(page, format=fmt)
        scores = model.predict_columns([cols])[0]
        check_result(model.classify(page, format=fmt), table, model, scores, parents=list(cols["anc1"]))


def write_seeds(folder: Path) -> int:
    """Copy the hand-made test pages into ``folder`` as seeds (one per mode); return the count."""
    folder.mkdir(parents=True, exist_ok=True)
    fixtures = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
    n = 0
    for page in sorted(fixtures.glob("*.html")):
        body = page.read_bytes()
        for i, mode in enumerate(_MODES):
            (folder / f"{page.stem}-{mode}").write_bytes(bytes([i]) + body)
            n += 1
    return n


def main(argv: list[str]) -> None:
    """Set up atheris with libFuzzer's arguments and fuzz until it stops."""
    if len(argv) > 2 and argv[1] == "--write-seeds":
        print(f"{write_seeds(Path(argv[2]))} seeds in {argv[2]}")
        return
    import atheris

    with atheris.instrument_imports(include=["chromesift"]):
        import chromesift
        import chromesift.data.html
        import chromesift.data.page
        import chromesift.data.text  # noqa: F401
        import chromesift.models.rules

    _state["model"] = chromesift.load_model()
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
