"""Issue 24: nothing but a model's own sha256 makes it trusted, and the bytes that were
checked are the bytes that are unpickled.

Each attack here ends in a bundle whose pickle, when loaded, writes a marker file: a test
passes only if the marker never appears.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

from chromesift.models.bundle import (
    UntrustedBundleError,
    is_trusted,
    load_bundle,
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
