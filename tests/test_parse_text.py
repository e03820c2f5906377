"""The plain-text parser: one paragraph per non-blank line, DOM columns neutral."""

from __future__ import annotations

import pandas as pd
import pytest

from chromesift.data import schema
from chromesift.data.text import parse_text


def test_one_row_per_non_blank_line_in_order():
    frame = parse_text("First line.\n\n   \nSecond\tline  with   gaps \nThird", doc_id="d")
    assert frame["text"].tolist() == ["First line.", "Second line with gaps", "Third"]
    assert frame["position"].tolist() == [0, 1, 2]
    assert set(frame["doc_id"]) == {"d"}


def test_soft_hyphens_are_left_out_as_the_html_walk_leaves_them():
    frame = parse_text("Mit\u00adtel\u00adal\u00adter hier\n\u00ad\n \u00ad \nnext")
    assert frame["text"].tolist() == ["Mittelalter hier", "next"]


@pytest.mark.parametrize("sep", ["\n", "\r\n", "\r", "\u2028", "\u2029"])
def test_every_line_break_convention_splits(sep):
    assert parse_text(sep.join(["a", "b", "c"]))["text"].tolist() == ["a", "b", "c"]


def test_structural_columns_take_the_text_defaults():
    frame = parse_text("alpha\nbeta gamma")
    schema.validate(frame, stage="test")
    assert list(frame.columns) == list(schema.COLUMNS)
    for column, value in schema.TEXT_DEFAULTS.items():
        if column == "page_chars":
            continue
        assert (frame[column] == value).all(), column
    assert set(frame["page_chars"]) == {len("alpha") + len("beta gamma")}
    assert frame.dtypes.astype(str).to_dict() == schema.COLUMNS


def test_bytes_are_utf8_with_bom_dropped_and_bad_bytes_replaced():
    frame = parse_text(b"\xef\xbb\xbfCaf\xc3\xa9\nw\xffrld")
    assert frame["text"].tolist() == ["Caf\u00e9", "w\ufffdrld"]


@pytest.mark.parametrize("blank", ["", " ", "\n\n\t\n", b"", b"\r\n"])
def test_blank_input_gives_an_empty_typed_table(blank):
    frame = parse_text(blank)
    assert len(frame) == 0
    assert frame.dtypes.astype(str).to_dict() == schema.COLUMNS


@pytest.mark.parametrize("bad", [None, 7, 1.5, ["a"], object()])
def test_non_text_input_is_a_type_error(bad):
    with pytest.raises(TypeError, match="must be str or bytes"):
        parse_text(bad)


def test_markup_is_not_interpreted():
    frame = parse_text("<p>not html</p>")
    assert frame["text"].tolist() == ["<p>not html</p>"]
    assert (frame["source"] == "text").all()


def test_large_input_and_determinism():
    page = "\n".join(f"line {i} " + "word " * 20 for i in range(50_000))
    first = parse_text(page)
    assert len(first) == 50_000
    assert first["text"].iloc[-1].startswith("line 49999 ")
    pd.testing.assert_frame_equal(first, parse_text(page))


def test_a_page_over_the_paragraph_limit_is_refused_with_one_clear_error(monkeypatch):
    import chromesift
    from chromesift.data.limits import PageLimitError

    monkeypatch.setenv("CHROMESIFT_MAX_PARAGRAPHS", "10")
    assert len(parse_text("line\n" * 10 + "\n  \n" * 50)) == 10  # blank lines are no paragraphs
    with pytest.raises(PageLimitError, match="11 paragraphs, more than the limit of 10"):
        parse_text("line\n" * 11)
    with pytest.raises(chromesift.PageLimitError):
        chromesift.extract("line\n" * 11, format="text")
    monkeypatch.setenv("CHROMESIFT_MAX_PARAGRAPHS", "ten")
    with pytest.raises(PageLimitError, match="must be a whole number"):
        parse_text("line\n" * 11)
