"""Properties of parsing and the library call for any input (hypothesis), and fuzz regressions."""

from __future__ import annotations

import pytest

from chromesift.data import parse_html, parse_text

# --- inputs the fuzzer found (benchmarks/fuzz) ----------------------------------------


@pytest.mark.parametrize("parse", [parse_html, parse_text])
@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\ud800b", "a\ufffdb"), ("x\ud83d\ude00y", "x\U0001f600y"), ("\udcff", "\ufffd")],
)
def test_surrogates_in_a_str_are_repaired(parse, text, expected):
    # a lone surrogate made the Arrow-backed text column raise UnicodeEncodeError
    page = f"<p>{text}</p>" if parse is parse_html else text
    assert parse(page)["text"].tolist() == [expected]
