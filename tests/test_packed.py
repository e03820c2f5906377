"""The packed model (model.npz): the pipeline's numbers without scikit-learn, pandas or a pickle."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

import chromesift
from chromesift.data.page import to_columns
from chromesift.errors import BundleError
from chromesift.models import packed as packed_mod
from chromesift.models.bundle import (
    DEFAULT_BUNDLE,
    NPZ_FILE,
    export_npz,
    load_packed,
    save_bundle,
    verify_bundle,
)
from chromesift.models.model import Model, load_model

FIXTURES = Path(__file__).parent / "fixtures"
HEAVY = ("pandas", "sklearn", "scipy", "joblib")


@pytest.fixture(autouse=True)
def _fresh_models(monkeypatch):
    """Each test loads its models anew: another test may have read the cached default's pipeline."""
    from chromesift.models import model as model_mod

    monkeypatch.setattr(model_mod, "_CACHE", {})
    monkeypatch.setattr(model_mod, "_DEFAULT", None)


@pytest.fixture(scope="module")
def shipped_pipeline():
    return joblib.load(DEFAULT_BUNDLE / "model.joblib")


@pytest.fixture(scope="module")
def pipeline_model(shipped_pipeline):
    """The shipped model predicting through its scikit-learn pipeline (no packed model)."""
    meta = json.loads((DEFAULT_BUNDLE / "metadata.json").read_text())
    return Model(shipped_pipeline, meta, DEFAULT_BUNDLE)


def fixture_pages() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.html"))]


def copy_bundle(tmp_path: Path, name: str = "b") -> Path:
    target = tmp_path / name
    shutil.copytree(DEFAULT_BUNDLE, target)
    return target


def drop_npz(bundle: Path) -> Path:
    """A bundle as chromesift wrote them before model.npz."""
    (bundle / NPZ_FILE).unlink()
    meta = json.loads((bundle / "metadata.json").read_text())
    del meta["npz_sha256"]
    (bundle / "metadata.json").write_text(json.dumps(meta, indent=1))
    return bundle


# --- start-up: what predicting imports -------------------------------------------------------


@pytest.mark.parametrize("call", [
    "chromesift.extract(open(sys.argv[1], encoding='utf-8').read())",
    "chromesift.extract(open(sys.argv[1], 'rb').read())",
    "chromesift.extract('line one of a page\\nline two, a sentence of some length.', format='text')",
    "list(chromesift.load_model().extract_many(['<p>x</p>', b'<p>y</p>']))",
    "chromesift.headline(open(sys.argv[1], encoding='utf-8').read())",
])
def test_extract_imports_no_pandas_sklearn_scipy_or_joblib(call):
    code = (
        "import sys, chromesift\n"
        f"r = {call}\n"
        "assert isinstance(r, (str, list)) and r, r\n"
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    page = str(FIXTURES / "seed_article.html")
    out = subprocess.run([sys.executable, "-c", code, page], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""


def test_the_shipped_model_predicts_from_its_npz():
    model = load_model()
    assert model._packed is not None and model._pipeline is None
    meta = json.loads((DEFAULT_BUNDLE / "metadata.json").read_text())
    data = (DEFAULT_BUNDLE / NPZ_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == meta["npz_sha256"]
    assert model.metadata["sha256"] == hashlib.sha256((DEFAULT_BUNDLE / "model.joblib").read_bytes()).hexdigest()


# --- the same numbers --------------------------------------------------------------------------


def assert_same(packed_model: Model, pipeline_model: Model, pages: list) -> None:
    cols = [to_columns(p) for p in pages]
    fast = packed_model.predict_columns(cols)
    slow = pipeline_model.predict_columns(cols)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)  # to the last bit
        np.testing.assert_array_equal(packed_model.probability(a), pipeline_model.probability(b))
    for p, c in zip(pages, cols, strict=True):  # one page at a time too (other batch shapes)
        np.testing.assert_array_equal(packed_model.predict_columns([c])[0], pipeline_model.predict_columns([c])[0])
        assert packed_model.extract(p) == pipeline_model.extract(p)
        assert packed_model.extract(p, title=True) == pipeline_model.extract(p, title=True)
    assert list(packed_model.extract_many(pages)) == list(pipeline_model.extract_many(pages))


def test_packed_equals_the_pipeline_on_the_fixture_pages(pipeline_model):
    model = load_model()
    pages = fixture_pages()
    texts = ["\n".join(to_columns(p)["text"]) for p in pages]
    assert_same(model, pipeline_model, pages + texts)
    for page in pages:
        a, b = model.classify(page), pipeline_model.classify(page)
        assert a.equals(b)
        assert model.explain(page).equals(pipeline_model.explain(page))
    assert model._pipeline is None  # none of it needed the pipeline


def test_packed_equals_the_pipeline_on_a_pinned_corpus_sample(shared_data, pipeline_model):
    from chromesift.data.corpus import dataset_names, sample_pages

    pages = [p.html for p in sample_pages(shared_data, dataset_names(shared_data), 100, 25)]
    assert len(pages) == 100
    assert_same(load_model(), pipeline_model, pages)


def test_the_pipeline_loads_on_demand_and_agrees(tmp_path, seed_html):
    model = load_model(copy_bundle(tmp_path))
    assert model._pipeline is None
    before = model.classify(seed_html)
    pipe = model.pipeline  # loaded now (and kept)
    assert model.pipeline is pipe and type(pipe[-1]).__name__ == "TwoStageClassifier"
    scores = model.predict_columns([to_columns(seed_html)])[0]
    np.testing.assert_array_equal(model.predict_table(chromesift.data.parse_html(seed_html)), scores)
    assert model.classify(seed_html).equals(before)


def test_a_model_with_a_packed_model_pickles(seed_html):
    model = load_model()
    copy = pickle.loads(pickle.dumps(model))
    assert copy.extract(seed_html) == model.extract(seed_html)
    assert list(model.classify_many([seed_html, "<p>one more page, with a sentence.</p>"], n_jobs=2))[0].drop(
        columns="page").equals(model.classify(seed_html))


# --- bundles -------------------------------------------------------------------------------------


def test_a_tampered_npz_is_refused(tmp_path):
    b = copy_bundle(tmp_path)
    with open(b / NPZ_FILE, "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match=f"sha256 of {NPZ_FILE} is"):
        load_model(b)
    with pytest.raises(BundleError, match=f"sha256 of {NPZ_FILE} is"):
        verify_bundle(b)


def test_an_npz_is_read_once_and_loaded_from_those_bytes(tmp_path, monkeypatch):
    b = copy_bundle(tmp_path)
    reads = []
    real = Path.read_bytes

    def read_bytes(self):
        reads.append(self.name)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    model, _ = load_packed(b)
    assert reads == [NPZ_FILE] and model is not None


def test_an_npz_holding_objects_is_refused_without_running_them(tmp_path):
    b = copy_bundle(tmp_path)
    marker = tmp_path / "ran"
    buf = io.BytesIO()
    np.savez(buf, format=np.array(packed_mod.FORMAT), feature_names=np.array([Payload(marker)], dtype=object))
    data = buf.getvalue()
    (b / NPZ_FILE).write_bytes(data)
    meta = json.loads((b / "metadata.json").read_text())
    meta["npz_sha256"] = hashlib.sha256(data).hexdigest()
    (b / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=f"cannot load {NPZ_FILE}"):
        load_model(b)
    assert not marker.exists()


class Payload:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_a_bundle_without_npz_loads_its_pipeline_as_before(tmp_path, seed_html):
    b = drop_npz(copy_bundle(tmp_path))
    model = load_model(b)
    assert model._packed is None and model._pipeline is not None
    assert model.extract(seed_html) == load_model().extract(seed_html)
    assert verify_bundle(b)["sha256"] == load_model().metadata["sha256"]


def test_export_npz_adds_it_and_keeps_every_other_byte(tmp_path, seed_html):
    b = drop_npz(copy_bundle(tmp_path))
    before = {p.name: p.read_bytes() for p in b.iterdir()}
    meta_before = json.loads(before["metadata.json"])
    export_npz(b)
    after = {p.name: p.read_bytes() for p in b.iterdir()}
    assert sorted(after) == sorted([*before, NPZ_FILE])
    for name in ("model.joblib", "model.skops", "report.md"):
        assert after[name] == before[name]
    meta = json.loads(after["metadata.json"])
    assert meta.pop("npz_sha256") == hashlib.sha256(after[NPZ_FILE]).hexdigest()
    assert meta == meta_before
    assert load_model(b).extract(seed_html) == load_model().extract(seed_html)


def test_save_bundle_writes_an_npz_where_the_pipeline_packs(tmp_path, shipped_pipeline, seed_html):
    b = save_bundle(shipped_pipeline, tmp_path / "b", {"threshold": 0.46})
    meta = json.loads((b / "metadata.json").read_text())
    assert meta["npz_sha256"] == hashlib.sha256((b / NPZ_FILE).read_bytes()).hexdigest()
    assert load_model(b).extract(seed_html) == load_model().extract(seed_html)
    dummy = DummyClassifier(strategy="constant", constant=1).fit([[0], [1]], [0, 1])
    plain = save_bundle(dummy, tmp_path / "d", {})
    assert not (plain / NPZ_FILE).exists() and "npz_sha256" not in json.loads((plain / "metadata.json").read_text())
    with pytest.raises(ValueError, match="not a pipeline"):
        save_bundle(dummy, tmp_path / "e", {}, packed=True)
    assert not (tmp_path / "e").exists()
    none = save_bundle(shipped_pipeline, tmp_path / "f", {}, packed=False)
    assert not (none / NPZ_FILE).exists()


def test_pack_round_trip_keeps_every_array(shipped_pipeline):
    arrays = packed_mod.pack(shipped_pipeline)
    model = packed_mod.loads(packed_mod.dumps(shipped_pipeline))
    for stage, forest in (("stage1", model.classifier.stage1), ("stage2", model.classifier.stage2)):
        for k, v in forest.arrays().items():
            np.testing.assert_array_equal(v, arrays[f"{stage}_{k}"])
    assert list(model.features.feature_names_out_) == list(shipped_pipeline[0].feature_names_out_)
    with pytest.raises(ValueError, match="format"):
        buf = io.BytesIO()
        np.savez(buf, **{**arrays, "format": np.array("other/9")})
        packed_mod.loads(buf.getvalue())


def small_pages(n: int = 30) -> list[str]:
    rng = np.random.default_rng(3)
    pages = []
    for i in range(n):
        body = "".join("<p>" + f"Sentence number {k} of the article, with words. " * int(rng.integers(1, 6)) + "</p>"
                       for k in range(int(rng.integers(2, 7))))
        pages.append(f"<html><head><title>Page {i}</title></head><body><nav class='menu'><a href='/'>Home</a>"
                     f" | <a href='/a'>About</a></nav><article><h1>Page {i} headline here</h1>{body}</article>"
                     f"<footer id='foot'>(c) {i} Site</footer></body></html>")
    return pages


@pytest.mark.parametrize("second_stage", [True, False])
def test_other_settings_pack_to_the_same_numbers(tmp_path, second_stage):
    """Conventions, other neighbours and hash buckets, calibration, one stage: packed == pipeline."""
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from chromesift.data.html import parse_html
    from chromesift.features import ParagraphFeatures
    from chromesift.models.classifier import TwoStageClassifier

    pages = small_pages()
    table = pd.concat([parse_html(p, doc_id=f"d{i}") for i, p in enumerate(pages)], ignore_index=True)
    y = (table["text"].str.len() > 45).astype(float).to_numpy()
    pipe = Pipeline([
        ("features", ParagraphFeatures(neighbours=1, hash_buckets=3, conventions={"x": 1.0}, convention=0.5,
                                       text_convention=1.5)),
        ("model", TwoStageClassifier(max_iter=8, stack_folds=2, second_stage=second_stage, calibrate=second_stage,
                                     calibration_folds=2, min_samples_leaf=5)),
    ]).fit(table, y)
    b = save_bundle(pipe, tmp_path / "b", {"threshold": 0.5}, packed=True)
    packed_model = load_model(b)
    assert packed_model._packed is not None
    assert packed_model._packed[0].conventions == {"x": 1.0}
    assert (packed_model._packed[0].convention, packed_model._packed[0].text_convention) == (0.5, 1.5)
    if second_stage:
        assert packed_model._packed[-1].calibration_ == pipe[-1].calibration_ is not None
    assert_same(packed_model, Model(pipe, {"threshold": 0.5}), pages[:5] + ["a line\nanother, longer line of text"])
