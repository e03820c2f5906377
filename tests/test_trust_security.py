"""Issue 24: nothing but a model's own sha256 makes it trusted, and the bytes that were
checked are the bytes that are unpickled.

Each attack here ends in a bundle whose pickle, when loaded, writes a marker file: a test
passes only if the marker never appears.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
from sklearn.dummy import DummyClassifier

from chromesift.models import bundle as bundle_mod
from chromesift.models.bundle import (
    DEFAULT_BUNDLE,
    MODEL_FILE,
    SKOPS_FILE,
    UntrustedBundleError,
    is_trusted,
    load_bundle,
    load_skops,
    save_bundle,
    trust_bundle,
    trusted_digests,
)

ROOT = Path(__file__).resolve().parents[1]
PAGE = Path(__file__).parent / "fixtures" / "segmentation.html"

#: Every character that ``str.splitlines`` ends a line at ("\r\n" is one break, too).
SEPARATORS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    """A trust store of this test's own (as on a fresh machine)."""
    path = tmp_path / "cache" / "trusted-bundles.txt"
    monkeypatch.setenv("CHROMESIFT_TRUST_STORE", str(path))
    return path


class Payload:
    """Unpickling this runs code: it creates a marker file (what a hostile bundle would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def dummy(constant: int = 1) -> DummyClassifier:
    return DummyClassifier(strategy="constant", constant=constant).fit([[0], [1]], [0, 1])


def foreign_bundle(path: Path, pipeline=None, **kwargs) -> Path:
    """A bundle written elsewhere: consistent checksums, but not in this machine's store."""
    return save_bundle(dummy() if pipeline is None else pipeline, path, {"name": "stranger"}, trust=False, **kwargs)


def model_digest(path: Path, key: str = "sha256") -> str:
    return json.loads((path / "metadata.json").read_text(encoding="utf-8"))[key]


def evil_bundle(tmp_path: Path) -> tuple[Path, Path, str]:
    """A hostile bundle (not trusted here): its folder, its marker file, its model sha256."""
    marker = tmp_path / "marker"
    evil = foreign_bundle(tmp_path / "evil", Payload(marker))
    return evil, marker, model_digest(evil)


def run(args: list[str], store: Path) -> subprocess.CompletedProcess:
    """A fresh interpreter on this checkout's chromesift, with the given trust store."""
    env = dict(os.environ, CHROMESIFT_TRUST_STORE=str(store), OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


# --- the trust store: no path can smuggle a digest in -----------------------------------------


def test_the_separator_list_is_complete():
    breaks = {c for c in map(chr, range(0x110000)) if len(f"a{c}b".splitlines()) > 1}
    assert breaks == {s for s in SEPARATORS if len(s) == 1}


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(s[0]):04X}" + ("+" if len(s) > 1 else "") for s in SEPARATORS])
def test_a_folder_name_cannot_smuggle_a_digest_into_the_store(tmp_path, sep):
    evil, marker, digest = evil_bundle(tmp_path)
    gift = foreign_bundle(tmp_path / f"gift{sep}{digest}")
    assert trust_bundle(gift) == model_digest(gift)
    assert load_bundle(gift)[0].predict([[0]]).tolist() == [1]  # what was trusted loads
    assert digest not in trusted_digests() and not is_trusted(digest)
    with pytest.raises(UntrustedBundleError, match=digest):
        load_bundle(evil)
    assert not marker.exists()


def test_a_symlink_cannot_smuggle_a_digest_into_the_store(tmp_path):
    evil, marker, digest = evil_bundle(tmp_path)
    gift = foreign_bundle(tmp_path / f"gift\u2028{digest}")
    innocent = tmp_path / "innocent"
    innocent.symlink_to(gift, target_is_directory=True)
    trust_bundle(innocent)  # the store records where the link resolves to
    with pytest.raises(UntrustedBundleError):
        load_bundle(evil)
    assert not marker.exists()


def test_a_training_output_path_cannot_smuggle_a_digest_into_the_store(tmp_path):
    evil, marker, digest = evil_bundle(tmp_path)
    save_bundle(dummy(0), tmp_path / f"run\r{digest}", {})  # save_bundle records its own model
    with pytest.raises(UntrustedBundleError):
        load_bundle(evil)
    assert not marker.exists()


def test_the_store_holds_one_ascii_json_object_a_line(tmp_path, store):
    a = save_bundle(dummy(0), tmp_path / "plain", {})
    b = save_bundle(dummy(1), tmp_path / "b\u2028\x85\r\n\t\x1c\u00e9", {})
    raw = store.read_bytes()
    assert raw.isascii() and raw.endswith(b"\n")
    records = [json.loads(line) for line in raw.decode("ascii").split("\n")[:-1]]
    assert [r["sha256"] for r in records] == [model_digest(a), model_digest(b)]
    assert records[1]["path"] == str(b.resolve()) and all(r["time"] for r in records)


def test_the_reader_trusts_only_a_valid_sha256_field(tmp_path, store):
    good, bad = hashlib.sha256(b"good").hexdigest(), hashlib.sha256(b"bad").hexdigest()
    lines = [
        json.dumps({"sha256": good, "time": "t", "path": bad}),
        json.dumps({"path": bad, "time": "t"}),
        json.dumps({"sha256": bad.upper()}),
        json.dumps({"sha256": bad + "0"}),
        json.dumps({"sha256": " " + bad}),
        json.dumps({"sha256": [bad]}),
        json.dumps([bad]),
        json.dumps(bad),
        "{" + bad,
    ]
    store.parent.mkdir(parents=True)
    store.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert trusted_digests() == {good}


def test_old_tab_lines_count_by_their_first_field_only(tmp_path, store):
    """A store written before issue 24, by that version's own writer, poisoned or not."""
    evil, marker, digest = evil_bundle(tmp_path)
    mine = foreign_bundle(tmp_path / "mine")
    # the old writer: f"{digest}\t{stamp}\t{where}", its "\n" turned into " ", then "\n"
    poisoned = [f"{model_digest(mine)}\t2025-01-01T00:00:00+00:00\t{tmp_path}/gift{sep}{digest}".replace("\n", " ")
                for sep in SEPARATORS]
    store.parent.mkdir(parents=True)
    store.write_bytes("".join(line + "\n" for line in poisoned).encode("utf-8"))
    assert trusted_digests() == {model_digest(mine)}
    load_bundle(mine)  # trusted before the format changed, trusted still
    with pytest.raises(UntrustedBundleError):
        load_bundle(evil)
    assert not marker.exists()
    other = save_bundle(dummy(0), tmp_path / "other", {})  # new records append to the old store
    assert trusted_digests() == {model_digest(mine), model_digest(other)}


def test_cli_refuses_a_bundle_whose_digest_rode_in_on_a_folder_name(tmp_path, store):
    """End to end: trust a harmless bundle, then `chromesift extract --model EVIL` in a new process."""
    evil, marker, digest = evil_bundle(tmp_path)
    trust_bundle(foreign_bundle(tmp_path / f"gift\u2028{digest}"))
    done = run(["-m", "chromesift", "extract", "--model", str(evil), str(PAGE)], store)
    assert done.returncode == 2, done.stderr
    assert "refusing to unpickle" in done.stderr and digest in done.stderr
    assert not marker.exists()


# --- the bytes that were hashed are the bytes that are unpickled -------------------------------


class SwapAfterHashing:
    """Stands in for ``hashlib`` in the bundle module: once the file's sha256 is taken, an
    attacker replaces the file on disk (the widest window of a check-then-open race)."""

    def __init__(self, digest: str, replacement: Path, target: Path):
        self.digest, self.replacement, self.target = digest, replacement, target
        self.swapped = False

    def sha256(self, *args, **kwargs):
        return _Hash(self, hashlib.sha256(*args, **kwargs))


class _Hash:
    def __init__(self, swap: SwapAfterHashing, h):
        self.swap, self.h = swap, h

    def update(self, data) -> None:
        self.h.update(data)

    def hexdigest(self) -> str:
        out = self.h.hexdigest()
        if out == self.swap.digest and not self.swap.swapped:
            shutil.copyfile(self.swap.replacement, self.swap.target)
            self.swap.swapped = True
        return out


def test_a_model_swapped_after_hashing_is_not_unpickled(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    good = save_bundle(dummy(1), tmp_path / "good", {})  # written here: trusted
    joblib.dump(Payload(marker), tmp_path / "evil.joblib", compress=3)
    swap = SwapAfterHashing(model_digest(good), tmp_path / "evil.joblib", good / MODEL_FILE)
    monkeypatch.setattr(bundle_mod, "hashlib", swap)
    model, meta = load_bundle(good)
    assert swap.swapped  # the file on disk was replaced while loading
    assert isinstance(model, DummyClassifier) and model.predict([[0]]).tolist() == [1]
    assert meta["sha256"] == swap.digest
    assert not marker.exists()


def test_a_skops_file_swapped_after_hashing_is_not_loaded(tmp_path, monkeypatch):
    good = foreign_bundle(tmp_path / "good", dummy(1), skops=True)
    (good / MODEL_FILE).unlink()  # shared as model.skops only
    verified = (good / SKOPS_FILE).read_bytes()
    other = foreign_bundle(tmp_path / "other", dummy(0), skops=True)  # only allowed types, another model
    swap = SwapAfterHashing(model_digest(good, "skops_sha256"), other / SKOPS_FILE, good / SKOPS_FILE)
    monkeypatch.setattr(bundle_mod, "hashlib", swap)
    for load in (load_skops, load_bundle):
        (good / SKOPS_FILE).write_bytes(verified)
        swap.swapped = False
        model, _ = load(good)
        assert swap.swapped
        assert model.predict([[0]]).tolist() == [1]  # the verified model, not the swapped one


SWAP_SCRIPT = """
import hashlib, shutil, sys
import chromesift.models.bundle as bundle
from chromesift.cli import main

digest, replacement, target = sys.argv[1:4]

class Hash:
    def __init__(self, h):
        self.h = h
    def update(self, data):
        self.h.update(data)
    def hexdigest(self):
        out = self.h.hexdigest()
        if out == digest:
            shutil.copyfile(replacement, target)
        return out

class Hashlib:
    @staticmethod
    def sha256(*args, **kwargs):
        return Hash(hashlib.sha256(*args, **kwargs))

bundle.hashlib = Hashlib
sys.exit(main(sys.argv[4:]))
"""


def test_cli_extracts_with_the_verified_model_when_the_file_is_swapped(tmp_path, store, capsys):
    """End to end: `chromesift extract --model B` in a new process while B's model is swapped."""
    from chromesift.cli import main

    marker = tmp_path / "marker"
    good = tmp_path / "good"
    shutil.copytree(DEFAULT_BUNDLE, good)  # the shipped model: trusted by its sha256
    # without its model.npz, so that the command unpickles model.joblib (the path under attack)
    (good / "model.npz").unlink()
    meta = json.loads((good / "metadata.json").read_text(encoding="utf-8"))
    del meta["npz_sha256"]
    (good / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    joblib.dump(Payload(marker), tmp_path / "evil.joblib", compress=3)
    assert main(["extract", str(PAGE)]) == 0
    expected = capsys.readouterr().out
    done = run(["-c", SWAP_SCRIPT, model_digest(good), str(tmp_path / "evil.joblib"), str(good / MODEL_FILE),
                "extract", "--model", str(good), str(PAGE)], store)
    assert (good / MODEL_FILE).read_bytes() == (tmp_path / "evil.joblib").read_bytes()  # it was swapped
    assert not marker.exists()
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
