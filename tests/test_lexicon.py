"""The lexicon: hashed tokens (compiled == reference), its score, its fit out of fold, its bundle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chromesift.features import lexicon as lex
from chromesift.features import text_kernels as tk

TEXTS = [
    "hello world, this is a test",
    "",
    "- die besten ki-news kostenlos per email erhalten!",
    "中文新闻报道 abc 한국어",
    "ǆx i̇stanbul ß straße 42 x2",
    "   ...   ",
]
OWN = ["post-content main", "", "  nav  ", "", "x y", ""]
ANC = ["a b c d", "z", "", "q Über-Box", "", "footer\tsocial"]
PATHS = ["html/body/div/article/p", "", "html/body/footer/nav/ul/li", "p", "a//b/", "/html/figure/figcaption"]


def test_words_split_on_non_alphanumerics_and_cut_cjk_into_characters():
    assert tk._lex_words("Hello, wörld 42x!") == ["Hello", "wörld", "42x"]
    assert tk._lex_words("中文abc新") == ["中", "文", "abc", "新"]
    assert tk._lex_words(" - ") == []


def test_reference_tokens_are_words_pairs_and_marked_attributes():
    indptr, ids = tk.python.lex_tokens(["a b c"], ["x"], ["y z"], 20, 48, 16)
    shift = 44

    def h(s):
        return ((tk._fnv_points(tk._FNV_BASIS, s) * tk.LEX_MIX) & tk._MASK64) >> shift

    expected = [h("a"), h("b"), h("a b"), h("c"), h("b c"), h("\x01x"), h("\x02y"), h("\x02z")]
    assert indptr.tolist() == [0, 8] and ids.tolist() == expected
    # caps: the first two words (one pair), the first attribute of each kind
    indptr, ids = tk.python.lex_tokens(["a b c"], ["x w"], ["y z"], 20, 2, 1)
    assert ids.tolist() == [h("a"), h("b"), h("a b"), h("\x01x"), h("\x02y")]


def test_reference_tag_tokens_are_the_path_end_own_tag_first():
    def h(s):
        return ((tk._fnv_points(tk._FNV_BASIS, s) * tk.LEX_MIX) & tk._MASK64) >> 44

    indptr, ids = tk.python.lex_tokens([""], [""], [""], 20, 48, 16, ["html/body/figure/figcaption"], 3)
    assert ids.tolist() == [h("\x03figcaption"), h("\x04figure"), h("\x04body")]
    # an empty name still counts towards max_tags, and yields no token
    indptr, ids = tk.python.lex_tokens([""], [""], [""], 20, 48, 16, ["a//b"], 2)
    assert ids.tolist() == [h("\x03b")]
    # no paths, or max_tags 0: no tag tokens
    assert tk.python.lex_tokens(["x"], [""], [""], 20, 48, 16)[1].tolist() == [h("x")]
    assert tk.python.lex_tokens(["x"], [""], [""], 20, 48, 16, ["p"], 0)[1].tolist() == [h("x")]


@pytest.mark.skipif(tk.compiled is None, reason="the compiled kernels are not built")
@pytest.mark.parametrize("bits,max_words,max_attrs,max_tags", [(18, 48, 16, 0), (10, 3, 1, 1), (24, 1, 0, 7),
                                                             (20, 48, 16, 3), (12, 0, 0, 30)])
def test_compiled_tokens_equal_the_reference(bits, max_words, max_attrs, max_tags):
    a = tk.compiled.lex_tokens(TEXTS, OWN, ANC, bits, max_words, max_attrs, PATHS, max_tags)
    b = tk.python.lex_tokens(TEXTS, OWN, ANC, bits, max_words, max_attrs, PATHS, max_tags)
    assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
    assert a[1].min() >= 0 and a[1].max() < 1 << bits


@pytest.mark.skipif(tk.compiled is None, reason="the compiled kernels are not built")
def test_compiled_words_split_at_every_ascii_character_as_the_reference_does():
    # the compiled word test reads ASCII without a call: each of the 128 characters between
    # two letters, and beside characters beyond ASCII (letters, digits, marks, symbols)
    texts = ["".join(f"a{chr(i)}b " for i in range(128)),
             "".join(f"{chr(i)}\u00e9{chr(i)}\u0663 \u2013{chr(i)}\u0301" for i in range(128))]
    a = tk.compiled.lex_tokens(texts, ["", ""], ["", ""], 20, 400, 0)
    b = tk.python.lex_tokens(texts, ["", ""], ["", ""], 20, 400, 0)
    assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
    assert b[0][1] > 128  # letters and digits joined, the rest split


def _lexicon(bits=12, seed=0):
    rng = np.random.default_rng(seed)
    return {"weights": rng.normal(size=1 << bits).astype(np.float32), "intercept": -0.5, "bits": bits,
            "max_words": 48, "max_attrs": 16}


@pytest.mark.skipif(tk.compiled is None, reason="the compiled kernels are not built")
@pytest.mark.parametrize("bits,max_words,max_attrs,max_tags", [(18, 48, 16, 0), (10, 3, 1, 2), (12, 1, 0, 0),
                                                             (18, 48, 16, 7), (12, 0, 0, 30)])
def test_compiled_scores_equal_the_reference_bit_for_bit(bits, max_words, max_attrs, max_tags):
    # rows of up to 134 tokens: the sums of the longest rows are pairwise ones (numpy's order)
    texts = [*TEXTS, " ".join(f"w{i}" for i in range(60)), "x " * 9]
    own, anc = [*OWN, "a b c", "k"], [*ANC, " ".join(f"t{i}" for i in range(20)), ""]
    paths = [*PATHS, "/".join(f"d{i}" for i in range(12)), ""]
    weights = _lexicon(bits, seed=bits)["weights"]
    a = tk.compiled.lex_scores(texts, own, anc, weights, -0.5, bits, max_words, max_attrs, paths, max_tags)
    b = tk.python.lex_scores(texts, own, anc, weights, -0.5, bits, max_words, max_attrs, paths, max_tags)
    assert a.dtype == b.dtype == np.float64 and a.tobytes() == b.tobytes()


@pytest.mark.skipif(tk.compiled is None, reason="the compiled kernels are not built")
def test_compiled_scores_reuse_a_rows_class_and_tag_tokens_only_where_all_three_repeat():
    # runs of rows with the same class/id strings and path (hashed once per run), broken by a
    # change in each of the three alone, by equal strings that are other objects, and by rows
    # with no tokens at all
    texts = [f"word{i} and more" for i in range(9)] + ["", "x"]
    own = ["post body", "post body", "post body", "post body", "teaser", "teaser", "", "", "x", "x", "x"]
    anc = ["main", "main", "main", "side", "side", "side", "", "", "a", "a", "a"]
    paths = ["html/body/div/p", "html/body/div/p", "html/body/div/li", "html/body/div/li", "html/body/div/li",
             "/".join(["html", "body", "div", "li"]), "", "", "p", "p", "q"]
    assert paths[5] == paths[4] and paths[5] is not paths[4]
    weights = _lexicon(12, seed=3)["weights"]
    a = tk.compiled.lex_scores(texts, own, anc, weights, -0.5, 12, 48, 16, paths, 7)
    b = tk.python.lex_scores(texts, own, anc, weights, -0.5, 12, 48, 16, paths, 7)
    assert a.tobytes() == b.tobytes()
    # each row alone scores as it does in the run
    alone = [tk.compiled.lex_scores([t], [o], [n], weights, -0.5, 12, 48, 16, [p], 7)[0]
             for t, o, n, p in zip(texts, own, anc, paths, strict=True)]
    assert np.array(alone).tobytes() == a.tobytes()
    assert len(set(a[:4].tolist())) == 4  # the rows differ where their words or tokens do


def test_score_is_intercept_plus_weights_over_sqrt_count():
    lexicon = _lexicon()
    got = lex.scores(lexicon, TEXTS, OWN, ANC)
    indptr, ids = lex.tokens(TEXTS, OWN, ANC, 12, 48, 16)
    for r in range(len(TEXTS)):
        row = ids[indptr[r]:indptr[r + 1]]
        expected = -0.5 + (lexicon["weights"][row].astype(float).sum() / np.sqrt(len(row)) if len(row) else 0.0)
        assert got[r] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # class/id tokens have their ASCII capitals lowercased: "Nav" and "nav" are one token
    assert lex.scores(lexicon, ["x"], ["Nav"], [""])[0] == lex.scores(lexicon, ["x"], ["nav"], [""])[0]


def test_a_lexicon_without_max_tags_reads_no_tags_and_one_with_it_does():
    old = _lexicon()  # as written before tag tokens: no max_tags key
    assert lex.check(old)["max_tags"] == 0
    no_tags = lex.scores(old, TEXTS, OWN, ANC)
    assert lex.scores(old, TEXTS, OWN, ANC, PATHS).tolist() == no_tags.tolist()
    tagged = lex.scores({**old, "max_tags": 7}, TEXTS, OWN, ANC, PATHS)
    has_tag = np.array([any(p.split("/")[-7:]) for p in PATHS])
    assert (tagged[~has_tag] == no_tags[~has_tag]).all()
    assert (tagged[has_tag] != no_tags[has_tag]).all()
    with pytest.raises(ValueError, match="0 or more"):
        lex.check({**old, "max_tags": -1})


def test_check_rejects_a_lexicon_of_the_wrong_size_or_without_keys():
    with pytest.raises(ValueError, match="4096 weights"):
        lex.check({**_lexicon(), "weights": np.zeros(10)})
    with pytest.raises(ValueError, match="needs intercept"):
        lex.check({k: v for k, v in _lexicon().items() if k != "intercept"})


def _table(n_pages=24):
    """Pages of two sites where chrome paragraphs say 'newsletter' and content ones do not."""
    rows = []
    for d in range(n_pages):
        for i in range(8):
            chrome = i % 3 == 0
            text = ("sign up for our newsletter today" if chrome else f"the council voted on plan {i} for page {d}")
            rows.append({"doc_id": f"p{d}", "site": f"s{d % 4}", "text": text, "own_attrs": "promo" if chrome else "",
                         "anc_attrs": "", "path": "html/body/aside/div" if chrome else "html/body/article/p",
                         "label": 0.0 if chrome else 1.0})
    return pd.DataFrame(rows)


def test_fit_gives_out_of_fold_scores_and_a_lexicon_that_tells_the_classes_apart():
    from chromesift.train.lexicon import design, fit_lexicon

    table = _table()
    y = table["label"].to_numpy()
    lexicon, oof = fit_lexicon(table, y, np.ones(len(y)), bits=12, alpha=1e-4, folds=2)
    assert lex.check(lexicon)["weights"].shape == (4096,)
    assert lexicon["max_tags"] == lex.MAX_TAGS
    cols = [table[c].tolist() for c in ("text", "own_attrs", "anc_attrs", "path")]
    full = lex.scores(lexicon, *cols)
    assert full[y == 1].min() > full[y == 0].max()
    assert oof[y == 1].min() > oof[y == 0].max()
    # out of fold: not the full lexicon's scores
    assert not np.allclose(oof, full)
    X = design(table, 12)
    assert X.shape == (len(table), 4096)
    indptr, _ = lex.tokens(*cols[:3], 12, paths=cols[3])
    # each of a row's n tokens is worth 1 / sqrt(n) (repeated ids add up)
    np.testing.assert_allclose(np.asarray(X.sum(axis=1)).ravel(), np.sqrt(np.diff(indptr)))


def test_fit_needs_both_classes():
    from chromesift.train.lexicon import fit_lexicon

    table = _table()
    with pytest.raises(ValueError, match="both classes"):
        fit_lexicon(table, np.ones(len(table)), np.ones(len(table)), bits=10)


def test_a_pipeline_with_a_lexicon_packs_and_predicts_as_the_pipeline(tmp_path):
    from sklearn.pipeline import Pipeline
    from test_packed import assert_same, small_pages

    from chromesift.data.html import parse_html
    from chromesift.features import ParagraphFeatures
    from chromesift.models import packed as packed_mod
    from chromesift.models.bundle import save_bundle
    from chromesift.models.classifier import TwoStageClassifier
    from chromesift.models.model import Model, load_model

    pages = small_pages()
    table = pd.concat([parse_html(p, doc_id=f"d{i}") for i, p in enumerate(pages)], ignore_index=True)
    y = (table["text"].str.len() > 45).astype(float).to_numpy()
    pipe = Pipeline([
        ("features", ParagraphFeatures(neighbours=1, hash_buckets=3, lexicon=_lexicon(bits=10))),
        ("model", TwoStageClassifier(max_iter=8, stack_folds=2, min_samples_leaf=5)),
    ]).fit(table, y)
    assert "x_lex" in pipe[0].get_feature_names_out()
    b = save_bundle(pipe, tmp_path / "b", {"threshold": 0.5}, packed=True)
    packed_model = load_model(b)
    assert packed_model._packed is not None
    np.testing.assert_array_equal(packed_model._packed[0].lexicon["weights"], pipe[0].lexicon["weights"])
    assert_same(packed_model, Model(pipe, {"threshold": 0.5}), pages[:5] + ["a line\nanother, longer line of text"])
    # the npz says it has a lexicon: an older reader refuses it rather than leave x_lex unset
    arrays = packed_mod.pack(pipe)
    assert str(arrays["format"]) == packed_mod.FORMAT_LEXICON
    bad = dict(arrays)
    bad["feature_params"] = np.array(str(arrays["feature_params"]).replace('"lexicon"', '"unused"'))
    import io

    buf = io.BytesIO()
    np.savez(buf, **bad)
    with pytest.raises(ValueError, match="x_lex and the lexicon"):
        packed_mod.loads(buf.getvalue())


def test_training_with_lexicon_bits_fits_it_out_of_fold_and_predicts(tmp_path):
    from chromesift.data.page import to_table
    from chromesift.train import core
    from chromesift.train.config import load_config

    pages = []
    for d in range(40):
        lines = ["sign up for our newsletter today" if i % 3 == 0 else f"the council voted on plan {i} for page {d}."
                 for i in range(8)]
        page = to_table("<html><body>" + "".join(f"<div><p>{t}</p></div>" for t in lines) + "</body></html>",
                        doc_id=f"p{d}")
        page["site"], page["dataset"], page["weight"] = f"s{d % 4}", "toy", 1.0
        page["label"] = [0.0 if i % 3 == 0 else 1.0 for i in range(len(page))]
        pages.append(page)
    table = pd.concat(pages, ignore_index=True)
    cfg = load_config(tables=tmp_path, max_iter=5, stack_folds=2, cv_folds=0, mlflow=False, lexicon_bits=12,
                      lexicon_alpha=1e-4, text_copies=0.0, dataset_balance=0.0)
    rows = core.prepare(table, cfg)
    pipe = core.fit(rows, cfg)
    assert pipe[0].lexicon is not None and pipe[0].lexicon["bits"] == 12
    page = to_table("sign up for our newsletter today\n\nthe council voted on plan 3 for page 1")
    scores = pipe[0].transform(page)["x_lex"].to_numpy()
    assert scores[0] < scores[1]
    assert pipe.predict_proba(page).shape == (2, 2)


@pytest.mark.parametrize("bad", [{"lexicon_bits": 4}, {"lexicon_bits": 30}, {"lexicon_alpha": 0.0}])
def test_config_rejects_a_lexicon_out_of_range(bad):
    from chromesift.errors import UserError
    from chromesift.train.config import load_config

    with pytest.raises(UserError, match="lexicon"):
        load_config(**bad)


def test_training_on_pages_without_any_h1_does_not_crash_on_an_all_nan_feature(tmp_path):
    """p_dist_h1 is NaN on every row when no page has an h1; scikit-learn's binning cannot take
    a column of NaN alone, so the classifier fits it as zeros (no tree can split on it)."""
    from chromesift.models.classifier import TwoStageClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["t_chars", "a", "b"])
    X["dead"] = np.nan
    for c, v in (("_doc", np.repeat(np.arange(40), 10)), ("_pos", np.tile(np.arange(10), 40)),
                 ("_group", np.repeat(np.arange(40), 10) % 4), ("_anc1", 0), ("_anc2", 0), ("_block", np.arange(400))):
        X[c] = v
    y = (X["a"] > 0).astype(float).to_numpy()
    clf = TwoStageClassifier(max_iter=5, min_samples_leaf=5, stack_folds=2).fit(X, y)
    p = clf.predict_proba(X)[:, 1]
    assert np.isfinite(p).all() and ((p > 0.5) == (y == 1)).mean() > 0.9


def test_the_shipped_model_scores_chrome_words_low_with_its_lexicon():
    """The default bundle carries the lexicon training fits by default, and it has learned the
    chrome words of the brief's page in German and English, from every corpus."""
    import chromesift
    from chromesift.train.config import TrainConfig

    model = chromesift.load_model()
    features = model._packed[0] if model._packed is not None else model.pipeline[0]
    assert features.lexicon is not None and TrainConfig().lexicon_bits == features.lexicon["bits"]
    chrome = ["abonnieren sie unseren newsletter", "sign up for our newsletter", "share on facebook",
              "alle rechte vorbehalten"]
    prose = ["der stadtrat hat am dienstag den neuen haushalt beschlossen, sagte die bürgermeisterin.",
             "the council approved the new budget on tuesday, the mayor said after the vote."]
    s = lex.scores(features.lexicon, chrome + prose, [""] * 6, [""] * 6)
    assert s[:4].max() < s[4:].min()
