"""Shared fixtures: paths to the hand-made fixtures and the shared corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared corpora folder, or skip where it is absent."""
    from chromesift.data.corpus import default_data_dir

    for candidate in (default_data_dir(), SHARED):
        if (candidate / "MANIFEST.json").is_file():
            return candidate
    pytest.skip("shared corpora (../shared/datasets) are not beside this checkout")


@pytest.fixture(scope="session")
def seed_html() -> str:
    return (FIXTURES / "seed_article.html").read_text(encoding="utf-8")


@pytest.fixture(autouse=True, scope="session")
def _private_trust_store(tmp_path_factory):
    """Bundles the tests write are trusted in a store of their own, not the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CHROMESIFT_TRUST_STORE", str(tmp_path_factory.mktemp("trust") / "trusted-bundles.txt"))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def plain_bundle(tmp_path_factory, _private_trust_store) -> Path:
    """A small bundle trained without label conventions (it cannot read with ``scope="all"``)."""
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from chromesift.data.html import parse_html
    from chromesift.features import ParagraphFeatures
    from chromesift.models.bundle import save_bundle
    from chromesift.models.classifier import TwoStageClassifier

    body = "".join(f"<p>Sentence {k} of the article, with a good many words in it.</p>" for k in range(4))
    pages = [f"<html><body><nav><a href='/'>Home</a></nav><article>{body}</article>"
             f"<footer>(c) {i}</footer></body></html>" for i in range(12)]
    table = pd.concat([parse_html(p, doc_id=f"d{i}") for i, p in enumerate(pages)], ignore_index=True)
    y = (table["text"].str.len() > 30).astype(float).to_numpy()
    pipe = Pipeline([("features", ParagraphFeatures(neighbours=1, hash_buckets=3)),
                     ("model", TwoStageClassifier(max_iter=5, stack_folds=2, calibrate=False,
                                                  min_samples_leaf=3))]).fit(table, y)
    return save_bundle(pipe, tmp_path_factory.mktemp("plain") / "plain", {"threshold": 0.5}, packed=True)


@pytest.fixture
def python_features():
    """``with python_features():`` computes features with the Python references of the feature
    kernels (``text_kernels``) and token caches of their own, then switches back."""
    import contextlib

    from chromesift.data.util import using
    from chromesift.features import compute, text_kernels

    @contextlib.contextmanager
    def python():
        # the monkeypatch is undone before the backend is switched back
        with using(text_kernels, "python"), pytest.MonkeyPatch.context() as mp:
            mp.setattr(compute, "_TOKEN_TABLES", {})
            mp.setattr(compute, "_ATTR_ROWS", {})
            yield

    return python
