"""Bundles: atomic save, verified load, one clear error per cause."""

from __future__ import annotations

import json

import pytest
from sklearn.dummy import DummyClassifier

from chromesift.errors import BundleError
from chromesift.models.bundle import FORMAT, load_bundle, save_bundle, verify_bundle


@pytest.fixture()
def bundle(tmp_path):
    model = DummyClassifier(strategy="constant", constant=1).fit([[0], [1]], [0, 1])
    return save_bundle(model, tmp_path / "b", {"threshold": 0.4}, files={"report.md": "# r\n"})


def test_round_trip(bundle):
    model, meta = load_bundle(bundle)
    assert model.predict([[5]]).tolist() == [1]
    assert meta["format"] == FORMAT and meta["threshold"] == 0.4
    assert len(meta["sha256"]) == 64 and meta["versions"]["sklearn"]
    assert (bundle / "report.md").read_text() == "# r\n"


def test_tampered_model_is_refused(bundle):
    with open(bundle / "model.joblib", "ab") as f:
        f.write(b"\0evil")
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(bundle)


def test_other_sklearn_version_is_refused(bundle):
    meta = json.loads((bundle / "metadata.json").read_text())
    meta["versions"]["sklearn"] = "0.1.0"
    (bundle / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="scikit-learn 0.1.0"):
        verify_bundle(bundle)


def test_missing_and_foreign_bundles(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nothing")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "metadata.json").write_text('{"format": "other/9"}')
    with pytest.raises(BundleError, match="format"):
        load_bundle(tmp_path / "foreign")


def test_save_replaces_whole_and_leaves_no_temp(bundle):
    model = DummyClassifier(strategy="constant", constant=0).fit([[0], [1]], [0, 1])
    save_bundle(model, bundle, {"threshold": 0.6})
    loaded, meta = load_bundle(bundle)
    assert loaded.predict([[1]]).tolist() == [0] and meta["threshold"] == 0.6
    assert not (bundle / "report.md").exists()
    assert [p.name for p in bundle.parent.iterdir()] == ["b"]


def test_failed_save_keeps_old_bundle(bundle, monkeypatch):
    import joblib

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(joblib, "dump", boom)
    with pytest.raises(OSError, match="disk full"):
        save_bundle(object(), bundle, {"threshold": 0.9})
    _, meta = load_bundle(bundle)
    assert meta["threshold"] == 0.4
    assert [p.name for p in bundle.parent.iterdir()] == ["b"]


def _legacy_pickle(obj) -> bytes:
    """``obj`` pickled as a bundle of chromesift before the move (``chromesift.train.model``)."""
    import pickle

    data = pickle.dumps(obj, protocol=2)  # protocol 2 names classes as "module\nname\n"
    assert b"chromesift.models.classifier\n" in data
    return data.replace(b"chromesift.models.classifier\n", b"chromesift.train.model\n")


def test_a_bundle_pickled_under_the_old_class_path_still_loads(tmp_path, monkeypatch):
    import hashlib
    import json
    import subprocess
    import sys

    from chromesift.models.classifier import TwoStageClassifier

    monkeypatch.setenv("CHROMESIFT_TRUST_STORE", str(tmp_path / "store.txt"))
    folder = save_bundle(TwoStageClassifier(max_iter=7), tmp_path / "old", {"name": "old"}, trust=False)
    data = _legacy_pickle(TwoStageClassifier(max_iter=7))
    (folder / "model.joblib").write_bytes(data)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "metadata.json").write_text(json.dumps(meta))
    code = (
        "import sys\n"
        "from chromesift.models.bundle import load_bundle\n"
        f"clf, _ = load_bundle({str(folder)!r}, trusted=True)\n"
        "print(type(clf).__module__, clf.max_iter, 'chromesift.train.model' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["chromesift.models.classifier", "7", "False"]


def test_old_names_map_moved_types_back():
    from chromesift.models.legacy import old_names

    assert old_names(["chromesift.models.classifier.TwoStageClassifier", "functools.partial"]) == [
        "chromesift.train.model.TwoStageClassifier"
    ]


@pytest.mark.parametrize("change, message", [
    ({"versions": ["1.9"]}, "'versions' must be an object, not list"),
    ({"threshold": "high"}, "'threshold' must be a number from 0 to 1, not 'high'"),
    ({"threshold": float("inf")}, "'threshold' must be a number from 0 to 1, not inf"),
    ({"threshold": True}, "'threshold' must be a number from 0 to 1"),
    ({"sha256": 5}, "'sha256' must be a string"),
])
def test_metadata_fields_of_the_wrong_type_are_a_bundle_error(tmp_path, change, message):
    folder = save_bundle(DummyClassifier().fit([[0], [1]], [0, 1]), tmp_path / "b", {"threshold": 0.5})
    meta = json.loads((folder / "metadata.json").read_text())
    meta.update(change)
    (folder / "metadata.json").write_text(json.dumps(meta))  # json writes inf as Infinity
    with pytest.raises(BundleError, match=message):
        load_bundle(folder)


def test_deeply_nested_metadata_is_a_bundle_error(tmp_path):
    folder = save_bundle(DummyClassifier().fit([[0], [1]], [0, 1]), tmp_path / "b", {})
    (folder / "metadata.json").write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(BundleError, match="unreadable metadata.json"):
        load_bundle(folder)
