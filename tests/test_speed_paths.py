"""Shortcuts of the prediction path against the code they stand for (the same results)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from chromesift.data import html, walk_kernels
from chromesift.data.util import using
from chromesift.features import compute, text_kernels, vocab
from chromesift.features import transformer as tr
from chromesift.models import classifier as model
from chromesift.models import context, packed

needs_walk = pytest.mark.skipif(walk_kernels.compiled is None, reason="chromesift.data._walk is not in use (not built, or CHROMESIFT_PURE_PYTHON)")
needs_text = pytest.mark.skipif(text_kernels.compiled is None, reason="chromesift.features._text is not in use (not built, or CHROMESIFT_PURE_PYTHON)")
needs_context = pytest.mark.skipif(context.compiled is None, reason="chromesift.models._context is not in use (not built, or CHROMESIFT_PURE_PYTHON)")


def _same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    """The same numbers: equal values, NaN in the same places, the same sign bits (-0.0)."""
    return (
        a.shape == b.shape
        and np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.isnan(a), np.isnan(b))
        and np.array_equal(np.signbit(a), np.signbit(b))
    )


def _ascii_values(rng: random.Random, n: int) -> list[str]:
    pieces = ["nav", "Nav", "menuItem", "-", "_", " ", "\t", "9", "A", "z", "aB", "Ab", "--x", "ID", "#", "é"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(n)]


@needs_walk
def test_ascii_tokens_match_attr_tokens():
    rng = random.Random(0)
    values = _ascii_values(rng, 20_000) + ["", " ", "mainNav menu-item", "x--y__Z9zA", "aBCd", "1A"]
    for v in values:
        got = walk_kernels.compiled.ascii_tokens(v)
        assert got == walk_kernels.python.ascii_tokens(v), v
        if v.isascii():
            assert got == tuple(html.attr_tokens(v)), v
        else:
            assert got is None, v


@needs_walk
def test_ascii_tokens_leave_other_characters_to_the_regexes():
    # the Kelvin sign lowercases to an ASCII "k": only str.lower knows
    assert walk_kernels.compiled.ascii_tokens("\u212aey") is None
    assert walk_kernels.python.ascii_tokens("\u212aey") is None
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
def test_token_rows_filled_in_c_match_the_regexes():
    tokens = list(dict.fromkeys(_tokens(random.Random(1), 3000)))
    fast = tr._TokenTable(8)
    ids = fast.ids(tokens)
    with using(text_kernels, "python"):
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


def test_character_table_is_the_bits_of_each_character():
    """The table built by category and range holds :func:`_char_bits` of every BMP code point."""
    compute._TABLE.clear()  # built afresh here, by the code under test
    table = compute._char_table()
    ref = np.array([compute._char_bits(cp) for cp in range(0x10000)], dtype=np.uint16)
    np.testing.assert_array_equal(table, ref)
    assert table[ord("A")] & compute._B_UPPER and table[ord(" ")] & compute._B_SPACE and table[0x4E2D] & compute._B_CJK


# --- the compiled context stage and row passes against the numpy code ---------------------


def _context_case(rng: np.random.Generator, n_docs: int, max_rows: int) -> tuple[np.ndarray, ...]:
    """Sorted context inputs: ties, zeros of both signs, NaN, ids in and out of row order."""
    sizes = rng.integers(1, max_rows + 1, n_docs)
    n = int(sizes.sum())
    doc = np.repeat(np.arange(n_docs, dtype=float), sizes)
    p = rng.random(n)
    kind = rng.integers(0, 4)
    if kind == 1:
        p = np.round(p, 1)  # many ties
    elif kind == 2:
        p = p * 10.0 ** rng.integers(-15, 3, n)  # magnitudes whose sums depend on the order
    p[rng.random(n) < 0.03] = 0.0
    p[rng.random(n) < 0.03] = -0.0
    if rng.random() < 0.2:
        p[rng.random(n) < 0.05] = np.nan
    ids = []
    for _ in range(3):
        a = rng.integers(-1, 6, n).astype(float)
        ids.append(np.sort(a) if rng.random() < 0.5 else a)
    chars = np.round(np.exp(rng.normal(4, 1.5, n)))
    chars[rng.random(n) < 0.1] = 0.0
    return (p, doc, *ids, chars)


def _context_by(kernels, *columns: np.ndarray) -> np.ndarray:
    out = np.empty((len(columns[0]), len(model.CONTEXT_NAMES)))
    kernels.context_sorted(*columns, out)
    return out


@needs_context
@pytest.mark.parametrize("seed", range(4))
def test_compiled_context_gives_the_numpy_floats(seed):
    rng = np.random.default_rng(seed)
    # up to 600 rows per document: numpy's pairwise sums recurse from 128 values on
    for n_docs, max_rows in [(1, 8), (1, 600), (3, 40), (6, 300)] * 25:
        columns = _context_case(rng, n_docs, max_rows)
        assert _same_floats(_context_by(context.compiled, *columns), _context_by(context.python, *columns))


@needs_context
def test_compiled_context_gives_the_numpy_floats_on_pages(shared_data, monkeypatch):
    import chromesift
    from chromesift.data.corpus import dataset_names, sample_pages
    from chromesift.data.page import to_columns

    calls = []
    context_features = packed.context_features  # (the two stages of pipeline and packed model are packed's)
    monkeypatch.setattr(packed, "context_features", lambda *a: (calls.append(a), context_features(*a))[1])
    m = chromesift.load_model()
    html_cols = [to_columns(p.html) for p in sample_pages(shared_data, dataset_names(shared_data), 40, 0)]
    for cols in html_cols:
        m.predict_columns([cols])
        m.predict_columns([to_columns("\n".join(cols["text"]), format="text")])
    m.predict_columns(html_cols)  # one batch
    monkeypatch.undo()  # calls is complete
    assert len(calls) > 40
    assert context_features.__module__ == "chromesift.models.context"
    for a in calls:
        fast = context_features(*a)
        with using(context, "python"):
            ref = context_features(*a)
        assert _same_floats(fast, ref)


@needs_text
@pytest.mark.parametrize("seed", range(3))
def test_compiled_position_and_container_rows_give_the_numpy_floats(seed):
    rng = np.random.default_rng(seed)
    pf = tr.ParagraphFeatures()
    for _ in range(30):
        sizes = rng.integers(1, 200, rng.integers(1, 5))
        n = int(sizes.sum())
        doc = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        chars = rng.integers(0, 3, n) * rng.integers(0, 400, n).astype(float)
        flags = {c: (rng.random(n) < q).astype(float) for c, q in (("t_is_h1", 0.02), ("t_comment_head", 0.03),
                                                                   ("t_stamp", 0.1))}
        f = {"t_log_chars": np.log1p(chars), **flags}
        num = {c: rng.integers(-1, 8, n).astype(float) for c in ("block_id", "anc1", "anc2", "anc3")}
        link_chars = np.minimum(chars, rng.integers(0, 300, n))
        nan_text = np.where(rng.random(n) < 0.8, 1.0, np.nan)  # text rows of a mixed batch
        fast, ref = dict(f), dict(f)
        pf._position(doc, chars, fast)
        pf._containers(num, doc, chars, link_chars, nan_text, fast)
        with using(text_kernels, "python"):
            pf._position(doc, chars, ref)
            pf._containers(num, doc, chars, link_chars, nan_text, ref)
        assert fast.keys() == ref.keys()
        for c in ref:
            assert _same_floats(np.asarray(fast[c], dtype=float), np.asarray(ref[c], dtype=float)), c


# --- the compiled class/id rows, the order test of the context and the one stage matrix ------


def _attr_values(rng: random.Random, n: int) -> list[str]:
    words = [w for ws in vocab.ATTR_WORDS.values() for w in ws] + ["", "x", "é", "主导航"]
    seps = [" ", "  ", "\t", "\n", "\u3000", "\x1c"]
    return [
        rng.choice(["", " "]) + "".join(rng.choice(words) + rng.choice(seps) for _ in range(rng.randint(0, 6)))
        for _ in range(n)
    ]


@needs_text
def test_attribute_rows_summed_in_c_match_the_numpy_sums(monkeypatch):
    rng = random.Random(3)
    values = _attr_values(rng, 2000)
    monkeypatch.setattr(compute, "_TOKEN_TABLES", {})
    monkeypatch.setattr(compute, "_ATTR_ROWS", {})
    for buckets in (8, 3):
        cache = tr._AttrRows(buckets)
        for lo in range(0, len(values), 300):  # new and seen strings, the rows growing between calls
            chunk = values[lo:lo + 300] + values[: lo // 10]
            ids = cache.ids(chunk)
            with using(text_kernels, "python"), monkeypatch.context() as mp:
                mp.setattr(compute, "_TOKEN_TABLES", {})
                ref = tr._attr_matrix(chunk, buckets)
            assert np.array_equal(cache.rows[ids], ref)
            scale = np.where(np.arange(len(chunk)) % 3 == 0, np.nan, 1.0)
            want = np.full((2 * ref.shape[1] + 3, len(chunk)), -7.0)
            want[1:6] = (ref[:, :5] * scale[:, None]).T
            want[ref.shape[1] + 2:2 * ref.shape[1] - 3] = (ref[:, 5:] * scale[:, None]).T
            for kernels in (text_kernels.compiled, text_kernels.python):
                out = np.full_like(want, -7.0)
                kernels.take_rows(cache.rows, ids, scale, out, 1, 5, ref.shape[1] + 2)
                assert _same_floats(out, want)


@needs_context
def test_compiled_order_test_is_the_numpy_one():
    rng = np.random.default_rng(4)
    for _ in range(3000):
        n = int(rng.integers(0, 8))
        doc = np.sort(rng.integers(0, 3, n)).astype(float)
        pos = rng.integers(0, 4, n).astype(float)
        if rng.random() < 0.3:
            doc = rng.integers(0, 3, n).astype(float)
        if rng.random() < 0.1 and n:
            (doc if rng.random() < 0.5 else pos)[rng.integers(0, n)] = np.nan
        d_next, d_prev = doc[1:], doc[:-1]
        want = bool(np.all((d_next > d_prev) | ((d_next == d_prev) & (pos[1:] >= pos[:-1]))))
        for kernels in (context.compiled, context.python):
            assert kernels.in_doc_order(doc, pos) == want
            assert kernels.in_doc_order(doc[::-1], pos[::-1]) == bool(  # strided views
                np.all((doc[-2::-1] > doc[:0:-1]) | ((doc[-2::-1] == doc[:0:-1]) & (pos[-2::-1] >= pos[:0:-1])))
            )


def _reference_proba(clf, M: np.ndarray) -> np.ndarray:
    """predict_proba_matrix as it was: a copy of the boosters' columns, the context, then stage 2's matrix."""
    F = np.asfortranarray(M[:, clf.model_idx_])
    p = clf._stage_proba(clf.stage1_, F)
    S = model.context_features(p, *M[:, clf.context_idx_].T, F[:, clf.chars_idx_])
    p = clf._stage_proba(clf.stage2_, np.asfortranarray(np.hstack([F, S])))
    return np.column_stack([1 - p, p])


@pytest.mark.parametrize("bookkeeping_first", [False, True])
def test_one_matrix_for_both_stages_gives_the_same_probabilities(bookkeeping_first):
    import pandas as pd

    rng = np.random.default_rng(5)
    names = ["t_chars", "t_log_chars", "s_link_density", "p_rel_pos"]
    parts = []
    for d in range(40):
        m = int(rng.integers(3, 30))
        chars = np.round(np.exp(rng.normal(4, 1.2, m)))
        parts.append(pd.DataFrame({
            "t_chars": chars, "t_log_chars": np.log1p(chars), "s_link_density": rng.random(m),
            "p_rel_pos": np.arange(m) / m, "_doc": float(d), "_pos": np.arange(m, dtype=float),
            "_group": float(d // 2), "_anc1": rng.integers(-1, 4, m).astype(float),
            "_anc2": rng.integers(0, 2, m).astype(float), "_block": rng.integers(0, 8, m).astype(float),
        }))
    X = pd.concat(parts, ignore_index=True)
    if bookkeeping_first:  # the boosters' columns are then not the first ones
        X = X[["_doc", "_pos", "_group", *names[:2], "_anc1", "_anc2", "_block", *names[2:]]]
    y = ((X["t_log_chars"] / 3 - 2 * X["s_link_density"] + rng.normal(0, 0.5, len(X))) > 0.8).astype(float)
    clf = model.TwoStageClassifier(max_iter=15, stack_folds=2).fit(X, y.to_numpy())
    M = X.to_numpy(dtype=float)
    want = _reference_proba(clf, M)
    for matrix in (M, np.asfortranarray(M), np.repeat(M, 2, axis=0)[::2]):
        assert np.array_equal(clf.predict_proba_matrix(matrix), want)
    part = M[: len(M) // 2]
    assert np.array_equal(clf.predict_proba_matrix(part), _reference_proba(clf, part))
    perm = rng.permutation(len(M))  # out of order: the context sorts
    assert np.array_equal(clf.predict_proba_matrix(M[perm]), _reference_proba(clf, M[perm]))


@needs_text
def test_big_outputs_are_column_major_and_the_same(monkeypatch):
    from chromesift.data.page import to_columns
    from chromesift.models.model import _concat_columns

    pages = [
        "<html><head><title>T</title></head><body><nav class='menu'><a href='/'>Home</a></nav>"
        f"<article class='post body'><h1>Title {i}</h1><p>Some text {i} here. More words.</p>"
        "<ul><li>one</li><li class='share'>two</li></ul></article><footer id='foot'>(c)</footer></body></html>"
        for i in range(6)
    ]
    cols, doc = _concat_columns([to_columns(p) for p in pages])
    pf = tr.ParagraphFeatures().fit(html.parse_html(pages[0]))
    small = pf.transform_columns(cols, doc)
    assert small.flags.c_contiguous
    monkeypatch.setattr(compute, "DIRECT_ROWS", 3)
    big = pf.transform_columns(cols, doc)
    assert big.flags.f_contiguous and not big.flags.c_contiguous
    assert _same_floats(big, small)


# --- the switch of each kernel module ----------------------------------------------------------


def test_pure_python_env_chooses_every_reference():
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from chromesift.data import walk_kernels\n"
        "from chromesift.features import text_kernels\n"
        "from chromesift.models import context, forest_kernels\n"
        "import chromesift\n"
        "chromesift.extract('<p>' + 'Ein Satz. ' * 30 + '</p>')\n"
        "mods = [walk_kernels, text_kernels, forest_kernels, context]\n"
        "print(*[m.BACKEND for m in mods], *[m.compiled is None for m in mods])\n"
        "print(*sorted(m for m in sys.modules if m.startswith('chromesift.')\n"
        "              and m.rpartition('.')[2] in ('_walk', '_text', '_forest', '_context')))\n"
    )
    env = {**os.environ, "CHROMESIFT_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True, env=env)
    backends, imported = out.stdout.split("\n")[:2]
    assert backends.split() == ["python"] * 4 + ["True"] * 4
    assert imported == ""  # no compiled module was even imported


def test_use_switches_and_refuses_unknown_backends():
    for kernels in (walk_kernels, text_kernels, context):
        before = kernels.BACKEND
        with using(kernels, "python"):
            assert kernels.BACKEND == "python"
            assert all(getattr(kernels, name) is getattr(kernels.python, name) for name in kernels.KERNELS)
        assert kernels.BACKEND == before
        with pytest.raises(ValueError, match="backend must be one of"):
            kernels.use("fast")
        assert kernels.BACKEND == before
        if kernels.compiled is None:
            with pytest.raises(ValueError, match="not available"):
                kernels.use("compiled")
        else:
            assert all(getattr(kernels, name) is getattr(kernels.compiled, name) for name in kernels.KERNELS)
