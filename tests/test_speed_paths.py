"""Shortcuts of the prediction path against the code they stand for (the same results)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from chromesift.data import html
from chromesift.features import transformer as tr
from chromesift.features import vocab

needs_walk = pytest.mark.skipif(html._ascii_tokens is None, reason="chromesift.data._walk is not built")
needs_text = pytest.mark.skipif(
    tr._fast is None or tr._FAMILY_PHRASES is None, reason="chromesift.features._text is not built"
)


def _ascii_values(rng: random.Random, n: int) -> list[str]:
    pieces = ["nav", "Nav", "menuItem", "-", "_", " ", "\t", "9", "A", "z", "aB", "Ab", "--x", "ID", "#", "é"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(n)]


@needs_walk
def test_ascii_tokens_match_attr_tokens():
    rng = random.Random(0)
    values = _ascii_values(rng, 20_000) + ["", " ", "mainNav menu-item", "x--y__Z9zA", "aBCd", "1A"]
    for v in values:
        got = html._ascii_tokens(v)
        if v.isascii():
            assert got == tuple(html.attr_tokens(v)), v
        else:
            assert got is None, v


@needs_walk
def test_ascii_tokens_leave_other_characters_to_the_regexes():
    # the Kelvin sign lowercases to an ASCII "k": only str.lower knows
    assert html._ascii_tokens("\u212aey") is None
    assert html._tokens("\u212aeyNav") == ("key", "nav")


def _tokens(rng: random.Random, n: int) -> list[str]:
    words = [w for ws in vocab.ATTR_WORDS.values() for w in ws]
    alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = []
    for _ in range(n):
        parts = [rng.choice(words) if rng.random() < 0.5 else rng.choice(alpha) for _ in range(rng.randint(1, 5))]
        out.append("".join(parts))
    return out + words


@needs_text
def test_token_rows_filled_in_c_match_the_regexes(monkeypatch):
    tokens = list(dict.fromkeys(_tokens(random.Random(1), 3000)))
    fast = tr._TokenTable(8)
    ids = fast.ids(tokens)
    monkeypatch.setattr(tr, "_fast", None)
    ref = tr._TokenTable(8)
    ref_ids = ref.ids(tokens)
    assert list(ids) == list(ref_ids)
    n = len(ref.index)
    assert np.array_equal(fast.rows[:n], ref.rows[:n])


def test_stamp_parts_find_what_the_whole_pattern_finds():
    rng = random.Random(2)
    alpha = [*"0123456789:. apmuhr-!?,", *vocab.COMMENT_ACTIONS, "ä", "回复"]
    for _ in range(50_000):
        t = "".join(rng.choice(alpha) for _ in range(rng.randint(0, 12)))
        parts = (("." in t or ":" in t) and tr._STAMP_TIME_RE.search(t) is not None) or (
            tr._STAMP_ACTIONS_RE.match(t) is not None
        )
        assert parts == (tr._STAMP_RE.search(t) is not None), t
