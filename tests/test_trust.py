"""Bundle trust: what this machine wrote or shipped loads; anything else needs trust or skops."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import chromesift
from chromesift.data.page import to_table
from chromesift.errors import BundleError
from chromesift.models import bundle as bundle_mod
from chromesift.models.bundle import (
    ANY,
    DEFAULT_BUNDLE,
    SKOPS_FILE,
    UntrustedBundleError,
    bundle_identity,
    export_skops,
    load_bundle,
    load_skops,
    save_bundle,
    trust_bundle,
    trust_store_path,
)
from chromesift.models.model import Model


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    """A trust store of this test's own (as on a fresh machine)."""
    path = tmp_path / "cache" / "trusted-bundles.txt"
    monkeypatch.setenv("CHROMESIFT_TRUST_STORE", str(path))
    return path


def dummy(constant: int = 1) -> DummyClassifier:
    return DummyClassifier(strategy="constant", constant=constant).fit([[0], [1]], [0, 1])


def foreign_bundle(path: Path, pipeline=None, meta: dict | None = None, **kwargs) -> Path:
    """A bundle written elsewhere: consistent checksums, but not in this machine's store."""
    meta = {"name": "stranger", **(meta or {})}
    return save_bundle(dummy() if pipeline is None else pipeline, path, meta, trust=False, **kwargs)


def shipped_copy(path: Path, packed: bool = False) -> Path:
    """The shipped model as a bundle from elsewhere (without a model.npz unless ``packed``: a
    pickle only, as bundles were before it)."""
    threshold = json.loads((DEFAULT_BUNDLE / "metadata.json").read_text())["threshold"]
    return foreign_bundle(path, joblib.load(DEFAULT_BUNDLE / "model.joblib"), {"threshold": threshold},
                          packed=packed)


class Payload:
    """Unpickling this runs code: it writes a marker file (what a hostile bundle would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


# --- the trust store ---------------------------------------------------------------------


def test_a_bundle_written_here_loads_without_a_flag_even_when_moved(tmp_path, store):
    written = save_bundle(dummy(), tmp_path / "b", {"threshold": 0.4})
    digest = json.loads((written / "metadata.json").read_text())["sha256"]
    assert digest in store.read_text()
    moved = tmp_path / "elsewhere" / "renamed"
    shutil.copytree(written, moved)
    model, meta = load_bundle(moved)
    assert model.predict([[3]]).tolist() == [1] and meta["threshold"] == 0.4
    save_bundle(dummy(), tmp_path / "again", {"threshold": 0.4})  # the same model once more
    assert store.read_text().count(digest) == 1


def test_the_store_lives_in_the_user_cache_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMESIFT_TRUST_STORE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert trust_store_path() == tmp_path / "xdg" / "chromesift" / "trusted-bundles.txt"


def test_the_shipped_model_needs_no_store(store):
    assert not store.exists()
    _, meta = load_bundle(DEFAULT_BUNDLE)
    assert meta["format"] == bundle_mod.FORMAT
    assert not store.exists()  # loading writes nothing


def test_a_foreign_bundle_is_refused_before_any_code_runs(tmp_path):
    marker = tmp_path / "marker"
    evil = foreign_bundle(tmp_path / "evil", Payload(marker))
    digest = json.loads((evil / "metadata.json").read_text())["sha256"]
    with pytest.raises(UntrustedBundleError) as err:
        load_bundle(evil)
    assert not marker.exists()
    message = str(err.value)
    assert digest in message and "--trust" in message and "trusted=True" in message
    assert "'stranger'" in message
    # the gate is what stands between a bundle and its code: trusting it runs the payload
    load_bundle(evil, trusted=True)
    assert marker.read_text() == "code ran"


def test_trust_by_checksum_pins_the_exact_model(tmp_path):
    b = foreign_bundle(tmp_path / "b")
    digest = json.loads((b / "metadata.json").read_text())["sha256"]
    model, _ = load_bundle(b, trusted=digest.upper())
    assert model.predict([[0]]).tolist() == [1]
    with pytest.raises(UntrustedBundleError, match=f"sha256 is {digest}, not the {'0' * 64} you trusted"):
        load_bundle(b, trusted="0" * 64)


def test_trust_bundle_records_it_for_good(tmp_path, store):
    b = foreign_bundle(tmp_path / "b")
    with pytest.raises(UntrustedBundleError):
        load_bundle(b)
    digest = trust_bundle(b)
    assert digest in store.read_text()
    load_bundle(b)


def test_another_machine_does_not_trust_what_this_one_wrote(tmp_path, monkeypatch):
    b = save_bundle(dummy(), tmp_path / "b", {})
    load_bundle(b)
    monkeypatch.setenv("CHROMESIFT_TRUST_STORE", str(tmp_path / "other-machine.txt"))
    with pytest.raises(UntrustedBundleError):
        load_bundle(b)


def test_a_tampered_bundle_is_refused_even_when_trusted(tmp_path):
    b = save_bundle(dummy(), tmp_path / "b", {})
    with open(b / "model.joblib", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="changed or damaged"):
        load_bundle(b, trusted=True)


def test_an_unwritable_store_costs_the_convenience_not_the_bundle(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CHROMESIFT_TRUST_STORE", str(blocker / "store.txt"))  # parent is a file
    with caplog.at_level(logging.WARNING, logger="chromesift.models.bundle"):
        b = save_bundle(dummy(), tmp_path / "b", {})
    assert "could not record model" in caplog.text and "trusted=True" in caplog.text
    with pytest.raises(UntrustedBundleError):
        load_bundle(b)
    assert load_bundle(b, trusted=True)[0].predict([[0]]).tolist() == [1]


def test_load_model_passes_trust_through(tmp_path):
    b = foreign_bundle(tmp_path / "b", joblib.load(DEFAULT_BUNDLE / "model.joblib"), packed=False)
    with pytest.raises(chromesift.BundleError, match="refusing to unpickle"):
        chromesift.load_model(b)
    model = chromesift.load_model(b, trusted=True)
    assert model.extract("<p>Hello there, this is a page with a sentence.</p>") is not None


# --- skops ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_pipeline():
    return joblib.load(DEFAULT_BUNDLE / "model.joblib")


def test_skops_copy_loads_without_trust_and_predicts_the_same(tmp_path, shipped_pipeline, seed_html, caplog):
    b = foreign_bundle(tmp_path / "b", shipped_pipeline, skops=True)
    meta = json.loads((b / "metadata.json").read_text())
    assert len(meta["skops_sha256"]) == 64
    table = to_table(seed_html)
    expected = Model(shipped_pipeline, meta).predict_table(table)
    with caplog.at_level(logging.INFO, logger="chromesift.models.bundle"):
        via_skops, _ = load_bundle(b)  # untrusted: falls back to model.skops
    assert f"loading its {SKOPS_FILE}" in caplog.text
    np.testing.assert_array_equal(Model(via_skops, meta).predict_table(table), expected)
    (b / "model.joblib").unlink()  # a bundle shared as model.skops only
    only, meta = load_bundle(b)
    np.testing.assert_array_equal(Model(only, meta).predict_table(table), expected)
    assert meta["name"] == "stranger"


def test_skops_refuses_types_outside_the_list(tmp_path, monkeypatch):
    pipe = make_pipeline(FunctionTransformer(os.system), dummy())
    with pytest.raises(BundleError, match=r"outside SKOPS_TRUSTED_TYPES: .*system"):
        foreign_bundle(tmp_path / "refused", pipe, skops=True)  # no copy that could not be loaded
    assert not (tmp_path / "refused").exists()
    # a hostile skops file (written with a wider list, as a stranger might)
    with monkeypatch.context() as wider:
        wider.setattr(bundle_mod, "SKOPS_TRUSTED_TYPES", (*bundle_mod.SKOPS_TRUSTED_TYPES, "posix.system"))
        b = foreign_bundle(tmp_path / "b", pipe, skops=True)
    with pytest.raises(BundleError, match=r"not trusted: .*system"):
        load_skops(b)
    with pytest.raises(BundleError, match=r"not trusted: .*system"):
        load_bundle(b)  # untrusted joblib, and its skops copy holds a foreign type
    with pytest.raises(BundleError, match="not trusted"):
        load_skops(b, trusted_types=())
    assert load_skops(b, trusted_types=["posix.system", "nt.system"])[0] is not None


def test_a_tampered_skops_file_is_refused(tmp_path):
    b = foreign_bundle(tmp_path / "b", skops=True)
    with open(b / SKOPS_FILE, "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match=f"sha256 of {SKOPS_FILE}"):
        load_bundle(b)


def test_export_skops_adds_the_file_and_keeps_the_rest(tmp_path):
    b = save_bundle(dummy(), tmp_path / "b", {"threshold": 0.3, "name": "mine"}, files={"report.md": "# r\n"})
    export_skops(b)
    meta = json.loads((b / "metadata.json").read_text())
    assert (b / SKOPS_FILE).is_file() and meta["threshold"] == 0.3 and meta["name"] == "mine"
    assert (b / "report.md").read_text() == "# r\n"
    assert load_skops(b)[0].predict([[0]]).tolist() == [1]


# --- writing safely ------------------------------------------------------------------------


def test_expect_never_overwrites_a_bundle_written_meanwhile(tmp_path):
    target = tmp_path / "m"
    seen = bundle_identity(target)  # a run starts: nothing there yet
    assert seen is None
    first = save_bundle(dummy(0), target, {"run": "a"}, expect=seen)  # a concurrent run finishes
    assert first == target
    second = save_bundle(dummy(1), target, {"run": "b"}, expect=seen)  # our run finishes
    assert second != target and second.name.startswith("m-") and second.parent == tmp_path
    assert load_bundle(target)[1]["run"] == "a" and load_bundle(second)[1]["run"] == "b"
    # a run that started after "a" was written replaces it, as retraining should
    third = save_bundle(dummy(1), target, {"run": "c"}, expect=bundle_identity(target))
    assert third == target and load_bundle(target)[1]["run"] == "c"
    assert save_bundle(dummy(1), target, {"run": "d"}, expect=ANY) == target


def test_identical_models_still_have_different_identities(tmp_path):
    a = save_bundle(dummy(), tmp_path / "a", {"run": "x"})
    b = save_bundle(dummy(), tmp_path / "b", {"run": "y"})
    assert json.loads((a / "metadata.json").read_text())["sha256"] == json.loads((b / "metadata.json").read_text())["sha256"]
    assert bundle_identity(a) != bundle_identity(b)


def test_interrupted_swap_puts_the_old_bundle_back(tmp_path, monkeypatch):
    b = save_bundle(dummy(), tmp_path / "b", {"threshold": 0.4})
    real = os.replace
    calls = []

    def interrupted_second_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(bundle_mod.os, "replace", interrupted_second_rename)
    with pytest.raises(KeyboardInterrupt):
        save_bundle(dummy(0), b, {"threshold": 0.9})
    monkeypatch.setattr(bundle_mod.os, "replace", real)
    assert load_bundle(b)[1]["threshold"] == 0.4
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["b"]


# --- the command line ------------------------------------------------------------------------

needs_trust_flag = pytest.mark.skipif(
    not hasattr(__import__("chromesift.cli.extract").cli.extract.ExtractConfig, "trusted"),
    reason="chromesift extract has no --trust yet",
)


@needs_trust_flag
def test_extract_cli_refuses_a_foreign_bundle_until_trusted(tmp_path, capsys):
    from chromesift.cli import main

    page = Path(__file__).parent / "fixtures" / "segmentation.html"
    b = shipped_copy(tmp_path / "b")
    digest = json.loads((b / "metadata.json").read_text())["sha256"]
    assert main(["extract", str(page), "--model", str(b)]) == 2
    err = capsys.readouterr().err
    assert digest in err and "--trust" in err
    assert main(["extract", str(page), "--model", str(b), "--trust", "0" * 64]) == 2
    assert f"not the {'0' * 64} you trusted" in capsys.readouterr().err
    assert main(["extract", str(page)]) == 0
    shipped = capsys.readouterr().out
    for flag in (["--trust"], ["--trust", digest]):
        assert main(["extract", str(page), "--model", str(b), *flag]) == 0
        assert capsys.readouterr().out == shipped


@needs_trust_flag
def test_extract_cli_batch_workers_get_the_trust(tmp_path, capsys):
    from chromesift.cli import main

    b = shipped_copy(tmp_path / "b")
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "html": f"<p>Page {i} has a sentence of its own.</p>"}) + "\n"
                           for i in range(4)))
    out = tmp_path / "out.jsonl"
    args = ["extract", "--input", str(inp), "--output", str(out), "--model", str(b), "--jobs", "2", "--no-progress"]
    assert main(args) == 2
    assert "--trust" in capsys.readouterr().err
    assert main([*args, "--trust"]) == 0
    assert sorted(json.loads(line)["id"] for line in out.read_text().splitlines()) == [0, 1, 2, 3]


# --- model.npz -------------------------------------------------------------------------------------


def test_an_npz_needs_no_trust_but_its_pickle_still_does(tmp_path, seed_html):
    b = shipped_copy(tmp_path / "b", packed=True)
    model = chromesift.load_model(b)  # untrusted: predicts from model.npz, nothing unpickled
    assert model.extract(seed_html) == chromesift.extract(seed_html)
    with pytest.raises(UntrustedBundleError, match="refusing to unpickle"):
        _ = model.pipeline
    with pytest.raises(UntrustedBundleError, match=f"not the {'0' * 64} you trusted"):
        chromesift.load_model(b, trusted="0" * 64)
    digest = json.loads((b / "metadata.json").read_text())["sha256"]
    assert chromesift.load_model(b, trusted=digest).pipeline is not None  # the trust given now counts
