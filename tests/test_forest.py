"""The flat forest (its compiled kernel and the Python reference) against scikit-learn's own prediction."""

from __future__ import annotations

import pickle
import weakref

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

import chromesift
from chromesift.data.page import to_columns
from chromesift.data.util import using
from chromesift.models import forest, forest_kernels
from chromesift.models.model import _concat_columns

NOT_BUILT = "the C extension chromesift.models._forest is not in use (not built: no C compiler at install; or CHROMESIFT_PURE_PYTHON)"


@pytest.fixture(params=["compiled", "python"])
def backend(request, monkeypatch):
    """Each test that takes it runs with the compiled kernel and with the Python reference
    (flat forests cached before are set aside)."""
    if request.param == "compiled" and forest_kernels.compiled is None:
        pytest.skip(NOT_BUILT)
    monkeypatch.setattr(forest, "_CACHE", weakref.WeakKeyDictionary())
    with using(forest_kernels, request.param):
        yield request.param

N_FEATURES = 6

PAGES = (
    """<html><head><title>Allotment notes</title></head><body>
    <nav><a href="/">Home</a> | <a href="/veg">Vegetables</a> | <a href="/about">About</a></nav>
    <article><h1>Leeks after a wet winter</h1>
    <p>The leeks came through the floods better than anything else on the plot, though the
    lower leaves rotted where the water stood for more than a week in January.</p>
    <p>We lifted half of them in March, trimmed the roots and heeled them in by the shed,
    which freed the bed for early potatoes without losing the crop.</p></article>
    <footer>© 2025 Allotment notes · <a href="/privacy">Privacy</a></footer></body></html>""",
    """<html><body><div class="header"><ul><li><a href="/a">Products</a></li>
    <li><a href="/b">Support</a></li><li><a href="/c">Log in</a></li></ul></div>
    <div class="content"><h2>Replacing the pump seal</h2>
    <p>Drain the housing first and keep the old seal: the new one must sit at the same depth,
    and the old one shows you where that is.</p>
    <table><tr><td>Seal</td><td>12 mm</td></tr><tr><td>Torque</td><td>8 Nm</td></tr></table>
    </div><div class="sidebar"><p>Related: <a href="/d">Pump manuals</a></p>
    <p>Subscribe to our newsletter</p></div></body></html>""",
    "<html><body><p>One short paragraph and nothing else.</p></body></html>",
)


def _booster(X: np.ndarray, y: np.ndarray, **kw) -> HistGradientBoostingClassifier:
    params = dict(
        max_iter=25, max_leaf_nodes=15, min_samples_leaf=5, early_stopping=False, random_state=0
    )
    return HistGradientBoostingClassifier(**(params | kw)).fit(X, y)


@pytest.fixture(scope="module")
def fitted():
    """A small booster fitted on data with NaNs, and test rows that hit every kind of split."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, N_FEATURES))
    y = (X[:, 0] + np.nan_to_num(X[:, 1]) * X[:, 2] + 0.3 * rng.normal(size=800) > 0).astype(int)
    X[rng.random(X.shape) < 0.15] = np.nan
    booster = _booster(X, y)
    nodes = np.concatenate([p.nodes for (p,) in booster._predictors])
    split = nodes[nodes["is_leaf"] == 0]
    T = rng.normal(size=(400, N_FEATURES))
    T[rng.random(T.shape) < 0.2] = np.nan
    T[:5] = np.inf
    T[5:10] = -np.inf
    # values exactly on a threshold must go left
    rows = np.arange(10, 10 + len(split)) % len(T)
    T[rows, split["feature_idx"]] = split["num_threshold"]
    return booster, split, T


def test_fixture_covers_both_missing_directions(fitted):
    _, split, _ = fitted
    assert set(np.unique(split["missing_go_to_left"])) == {0, 1}


@pytest.mark.parametrize("order", ["C", "F"])
def test_flat_forest_equals_sklearn(backend, fitted, order):
    booster, _, T = fitted
    flat = forest.flat_forest(booster)
    assert flat is not None
    X = np.asarray(T, order=order)
    np.testing.assert_allclose(flat.predict_proba(X), booster.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        flat.predict_proba(X[:1]), booster.predict_proba(X[:1]), rtol=0, atol=1e-12
    )


def test_flat_forest_on_strided_and_empty_input(backend, fitted):
    booster, _, T = fitted
    flat = forest.flat_forest(booster)
    wide = np.repeat(T, 2, axis=1)[::-3, ::2]  # negative row stride, column stride of two
    np.testing.assert_allclose(
        flat.predict_proba(wide), booster.predict_proba(wide), rtol=0, atol=1e-12
    )
    assert flat.predict_proba(np.empty((0, N_FEATURES))).shape == (0, 2)


def test_cache_follows_the_booster(backend, fitted):
    booster, _, T = fitted
    assert forest.flat_forest(booster) is forest.flat_forest(booster)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, N_FEATURES))
    other = _booster(X, (X[:, 3] > 0).astype(int), max_iter=5)
    before = forest.flat_forest(other)
    other.fit(X, (X[:, 4] > 0).astype(int))  # refit: the cached forest is stale
    after = forest.flat_forest(other)
    assert after is not before
    np.testing.assert_allclose(after.predict_proba(T), other.predict_proba(T), rtol=0, atol=1e-12)


def test_boosters_it_does_not_cover_fall_back(backend):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    multi = _booster(X, np.digitize(X[:, 0], [-0.5, 0.5]), max_iter=3)
    X[:, 2] = rng.integers(0, 4, size=300)
    categorical = _booster(X, (X[:, 2] > 1).astype(int), max_iter=3, categorical_features=[2])
    assert forest.flat_forest(multi) is None
    assert forest.flat_forest(categorical) is None
    assert forest.flat_forest(HistGradientBoostingClassifier()) is None  # not fitted


def test_bad_input_raises_value_error(backend, fitted):
    booster, _, T = fitted
    flat = forest.flat_forest(booster)
    with pytest.raises(ValueError, match="6 columns"):
        flat.predict_proba(T[:, :5])
    with pytest.raises(ValueError, match="6 columns"):
        flat.predict_proba(T[0])

    feature, threshold, left, right, is_leaf, missing, value = flat._nodes
    args = [
        feature,
        threshold,
        left,
        right,
        is_leaf,
        missing,
        value,
        flat.roots,
        T,
        np.zeros(len(T)),
    ]

    def call(**changes):
        names = [*forest.FlatForest._NODE_ARGS, "roots", "X", "out"]
        forest_kernels.add_trees(*(changes.get(n, a) for n, a in zip(names, args, strict=True)))

    call()  # the unchanged arguments are fine
    split = int(np.flatnonzero(is_leaf == 0)[0])
    backwards = left.copy()
    backwards[split] = split  # a loop
    with pytest.raises(ValueError, match="children of node"):
        call(left=backwards)
    with pytest.raises(ValueError, match="splits on column"):
        call(X=T[:, :3])
    with pytest.raises(ValueError, match="value has"):
        call(value=value[:-1])
    with pytest.raises(ValueError, match="root"):
        call(roots=flat.roots + len(feature))
    with pytest.raises(ValueError, match="out has"):
        call(out=np.zeros(3))
    with pytest.raises(ValueError, match="format 'i'"):
        call(left=left.astype(np.int64))
    with pytest.raises(ValueError, match="float64"):
        call(X=T.astype(np.float32))
    with pytest.raises(ValueError, match="float64"):
        call(X=T[:, 0])
    with pytest.raises(ValueError, match="pre-order"):
        call(left=np.where(is_leaf == 0, right, left).astype(np.int32))


# --- the packed forest -----------------------------------------------------------------------


def _node_args(flat: forest.FlatForest) -> dict[str, np.ndarray]:
    """The node arguments of ``forest_kernels.Forest`` for a flat forest, as writable copies."""
    names = [*forest.FlatForest._NODE_ARGS, "roots"]
    return {n: a.copy() for n, a in zip(names, [*flat._nodes, flat.roots], strict=True)}


def _mirror(args: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same trees with every split's children laid out right subtree first.

    The walks end at the same leaves, but the left child of a split is no longer the
    next node: a valid forest that is not in pre-order.
    """
    old_feature, old_leaf = args["feature"], args["is_leaf"]
    new_of_old = np.empty(len(old_feature), dtype=np.int64)
    order: list[int] = []

    def visit(k: int) -> None:
        new_of_old[k] = len(order)
        order.append(k)
        if not old_leaf[k]:
            visit(int(args["right"][k]))
            visit(int(args["left"][k]))

    for root in args["roots"]:
        visit(int(root))
    order_a = np.array(order)
    out = {n: args[n][order_a].copy() for n in args if n not in ("roots",)}
    for side in ("left", "right"):
        children = args[side][order_a]
        out[side] = np.where(old_leaf[order_a] == 0, new_of_old[children], 0).astype(np.int32)
    out["roots"] = new_of_old[args["roots"]].astype(np.int32)
    return out


@pytest.mark.parametrize("order", ["C", "F"])
def test_packed_forest_equals_add_trees_and_sklearn(backend, fitted, order):
    booster, split, T = fitted
    flat = forest.flat_forest(booster)
    args = _node_args(flat)
    packed = forest_kernels.Forest(*args.values())
    assert packed.n_trees == len(flat.roots) == len(booster._predictors)
    assert packed.n_nodes == len(args["feature"])
    assert packed.n_columns == split["feature_idx"].max() + 1
    X = np.asarray(T, order=order)
    by_packed = np.full(len(X), flat.baseline)
    packed.add(X, by_packed)
    by_call = np.full(len(X), flat.baseline)
    forest_kernels.add_trees(*args.values(), X, by_call)
    assert np.array_equal(by_packed, by_call)
    assert np.array_equal(by_packed, booster._raw_predict(X)[:, 0])
    # the forest holds its own copy: changing the arrays it was built from changes nothing
    for a in args.values():
        a[:] = 0
    again = np.full(len(X), flat.baseline)
    packed.add(X, again)
    assert np.array_equal(again, by_packed)


def test_predict_proba_is_sklearns_to_the_bit(backend, fitted):
    booster, _, T = fitted
    flat = forest.flat_forest(booster)
    for X in (T, np.asfortranarray(T), T[:1], T[::-7]):
        assert np.array_equal(flat.predict_proba(X), booster.predict_proba(X))
        assert np.array_equal(flat.decision_function(X), booster.decision_function(X))


def test_packed_forest_rejects_malformed_nodes(backend, fitted):
    booster, _, T = fitted
    args = _node_args(forest.flat_forest(booster))
    split = int(np.flatnonzero(args["is_leaf"] == 0)[0])

    def build(**changes):
        return forest_kernels.Forest(*(changes.get(n, a) for n, a in args.items()))

    def changed(name, at, to):
        a = args[name].copy()
        a[at] = to
        return a

    build()  # the unchanged arrays are fine
    with pytest.raises(ValueError, match=f"children of node {split} are out of range"):
        build(right=changed("right", split, split))  # a loop
    with pytest.raises(ValueError, match=f"children of node {split} are out of range"):
        build(right=changed("right", split, len(args["right"])))
    with pytest.raises(ValueError, match=f"children of node {split} are out of range"):
        build(left=changed("left", split, -1))
    with pytest.raises(ValueError, match=f"node {split} is node {split + 2}, not the next one"):
        build(left=changed("left", split, split + 2))
    with pytest.raises(ValueError, match=f"node {split} splits on column -1"):
        build(feature=changed("feature", split, -1))
    with pytest.raises(ValueError, match="root -1 of tree 0 is out of range"):
        build(roots=changed("roots", 0, -1))
    with pytest.raises(ValueError, match="out of range"):
        build(roots=changed("roots", -1, len(args["feature"])))
    with pytest.raises(ValueError, match="is_leaf has"):
        build(is_leaf=args["is_leaf"][:-1])
    with pytest.raises(ValueError, match="format 'd'"):
        build(threshold=args["threshold"].astype(np.float32))
    with pytest.raises(TypeError):
        build(value=None)
    with pytest.raises(TypeError):
        forest_kernels.Forest(*list(args.values())[:-1])
    with pytest.raises(TypeError):
        forest_kernels.Forest(*args.values(), X=T)
    # a valid forest out of pre-order is refused, and flat_forest would fall back then
    mirrored = _mirror(args)
    splits = np.flatnonzero(mirrored["is_leaf"] == 0)
    assert (mirrored["left"][splits] > splits).all() and (mirrored["right"][splits] > splits).all()
    assert (mirrored["left"][splits] != splits + 1).any()
    ref = np.zeros(len(T))
    forest_kernels.add_trees(*args.values(), T, ref)
    with pytest.raises(ValueError, match="pre-order"):
        forest_kernels.Forest(*mirrored.values())
    # leaves are not checked: their children and columns are never read
    leaf = int(np.flatnonzero(args["is_leaf"] == 1)[0])
    odd = build(
        left=changed("left", leaf, -5),
        right=changed("right", leaf, 10**6),
        feature=changed("feature", leaf, -7),
    )
    out = np.zeros(len(T))
    odd.add(T, out)
    assert np.array_equal(out, ref)


def test_packed_forest_checks_every_call(backend, fitted):
    booster, split, T = fitted
    packed = forest.flat_forest(booster)._packed
    n_columns = split["feature_idx"].max() + 1
    packed.add(T[:, :n_columns], np.zeros(len(T)))  # the columns the trees read are enough
    with pytest.raises(ValueError, match=f"splits on column {n_columns - 1}, but X has"):
        packed.add(T[:, : n_columns - 1], np.zeros(len(T)))
    with pytest.raises(ValueError, match="out has 3 rows"):
        packed.add(T, np.zeros(3))
    with pytest.raises(ValueError, match="float64"):
        packed.add(T.astype(np.float32), np.zeros(len(T)))
    with pytest.raises(ValueError, match="float64"):
        packed.add(T[:, 0], np.zeros(len(T)))
    with pytest.raises(ValueError, match="format 'd'"):
        packed.add(T, np.zeros(len(T), dtype=np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        packed.add(T, np.zeros(2 * len(T))[::2])
    read_only = np.zeros(len(T))
    read_only.setflags(write=False)
    with pytest.raises((ValueError, BufferError)):
        packed.add(T, read_only)
    with pytest.raises(TypeError):
        packed.add(T)
    with pytest.raises(AttributeError):
        packed.n_trees = 0


# --- the shipped model ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped(seed_html):
    """The shipped classifier and the feature matrix of a few hand-made pages (one batch)."""
    model = chromesift.load_model()
    features, clf = model.pipeline[0], model.pipeline[-1]
    pages = [to_columns(html) for html in (seed_html, *PAGES)]
    return clf, features.transform_columns(*_concat_columns(pages))


@pytest.mark.parametrize("rows", ["all", "one"])
def test_shipped_model_flat_equals_sklearn(backend, shipped, monkeypatch, rows):
    clf, M = shipped
    M = M if rows == "all" else M[:1]
    assert (
        forest.flat_forest(clf.stage1_) is not None and forest.flat_forest(clf.stage2_) is not None
    )
    with monkeypatch.context() as mp:
        mp.setattr(forest, "flat_forest", lambda booster: None)
        reference = clf.predict_proba_matrix(M)

    def not_called(X):
        raise AssertionError("scikit-learn predicted where the flat forest should")

    monkeypatch.setattr(clf.stage1_, "predict_proba", not_called)
    monkeypatch.setattr(clf.stage2_, "predict_proba", not_called)
    flat = clf.predict_proba_matrix(M)
    np.testing.assert_allclose(flat, reference, rtol=0, atol=1e-9)
    if rows == "all":
        assert 0.05 < flat[:, 1].mean() < 0.95  # the pages have both content and chrome


def test_fallback_without_extension(shipped, monkeypatch):
    """Without the extension the flat forest runs the Python reference: the same probabilities."""
    clf, M = shipped
    expected = clf.predict_proba_matrix(M)
    monkeypatch.setattr(forest, "_CACHE", weakref.WeakKeyDictionary())
    with using(forest_kernels, "python"):
        assert isinstance(forest.flat_forest(clf.stage1_)._packed, forest_kernels.python.Forest)
        np.testing.assert_allclose(clf.predict_proba_matrix(M), expected, rtol=0, atol=1e-9)
        assert np.array_equal(clf.predict_proba_matrix(M), expected)


def test_pickled_model_does_not_carry_the_flat_forest(shipped):
    clf, M = shipped
    expected = clf.predict_proba_matrix(M)  # builds and caches the flat forests
    blob = pickle.dumps(clf)
    assert b"chromesift.models.forest" not in blob and b"_forest" not in blob
    np.testing.assert_allclose(
        pickle.loads(blob).predict_proba_matrix(M), expected, rtol=0, atol=1e-12
    )


def test_shipped_model_rejects_wrong_column_count(shipped):
    clf, M = shipped
    with pytest.raises(ValueError, match="columns"):
        clf.predict_proba_matrix(M[:, :-1])


def test_expit_is_a_loop_over_the_c_librarys_exp(backend):
    import math

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 4, 500), [0.0, -0.0, 36.5, -36.5, 709.0, -709.0, -745.2, -1e308, 1e308,
                                               np.inf, -np.inf]])
    want = [1.0 / (1.0 + math.exp(-v)) if -v < 709.7 else 0.0 for v in x.tolist()]
    got = x.copy()
    forest_kernels.expit(got)  # (forest.expit calls scipy's where scipy is loaded, as here)
    assert got.tolist() == want  # bit for bit
    with pytest.raises(ValueError, match="contiguous 1-d array"):
        forest_kernels.expit(np.zeros((2, 2)))


def test_training_predicts_rows_in_parts_with_the_numbers_of_one_call(monkeypatch):
    from chromesift.models import classifier

    rng = np.random.default_rng(11)
    X = rng.normal(size=(700, 6))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(scale=0.5, size=700) > 0).astype(int)
    booster = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, y)
    rows = rng.permutation(700)[:517]
    whole = booster.predict_proba(X[rows])[:, 1]
    monkeypatch.setattr(classifier, "PREDICT_ROWS", 64)  # 517 rows: eight parts and a remainder
    np.testing.assert_array_equal(classifier._content_proba(booster, X, rows), whole)
