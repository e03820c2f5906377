"""Model bundles: a folder with ``model.joblib``, ``metadata.json`` and a report.

A bundle is a pickle underneath, and unpickling can run code. Loading
therefore checks the bundle format, the sha256 of ``model.joblib`` and the
scikit-learn version recorded in ``metadata.json`` *before* unpickling, and
refuses with one :class:`~chromesift.errors.BundleError` naming the cause.
Only load bundles you trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from chromesift.errors import BundleError

FORMAT = "chromesift-bundle/1"
MODEL_FILE = "model.joblib"
META_FILE = "metadata.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict[str, str]:
    """Versions of the libraries a pickled pipeline depends on."""
    import joblib
    import numpy
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "joblib": joblib.__version__,
    }


def git_commit(cwd: Path | None = None) -> str:
    """The current git commit, or "" outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=cwd
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def save_bundle(pipeline, path: Path, metadata: dict, files: dict[str, str] | None = None) -> Path:
    """Write a bundle atomically: a temporary folder beside ``path``, then a rename.

    Parameters
    ----------
    pipeline
        The fitted pipeline.
    path
        Bundle folder to create (an existing bundle there is replaced whole).
    metadata
        Extra metadata (threshold, metrics, data fingerprint, licenses, run id ...).
    files
        Extra text files to put in the bundle (name -> content), e.g. ``report.md``.
    """
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        joblib.dump(pipeline, tmp / MODEL_FILE, compress=3)
        meta = {
            "format": FORMAT,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "versions": versions(),
            **metadata,
            "sha256": _sha256(tmp / MODEL_FILE),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
        for name, content in (files or {}).items():
            (tmp / name).write_text(content, encoding="utf-8")
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_metadata(path: Path) -> dict:
    """``metadata.json`` of a bundle, checked for format."""
    path = Path(path)
    meta_file = path / META_FILE
    if not path.is_dir():
        raise BundleError(f"model bundle {path} not found (expected a folder with {MODEL_FILE})")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path}: no {META_FILE}; not a chromesift bundle") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: unreadable {META_FILE} ({exc})") from None
    if meta.get("format") != FORMAT:
        raise BundleError(f"{path}: bundle format {meta.get('format')!r}, this chromesift reads {FORMAT!r}")
    return meta


def verify_bundle(path: Path) -> dict:
    """Check format, sha256 and scikit-learn version; return the metadata."""
    import sklearn

    path = Path(path)
    meta = read_metadata(path)
    model_file = path / MODEL_FILE
    if not model_file.is_file():
        raise BundleError(f"{path}: {MODEL_FILE} missing")
    digest = _sha256(model_file)
    if digest != meta.get("sha256"):
        raise BundleError(
            f"{path}: sha256 of {MODEL_FILE} is {digest[:16]}..., metadata says "
            f"{str(meta.get('sha256'))[:16]}...: the model file was changed or damaged"
        )
    trained = meta.get("versions", {}).get("sklearn")
    if trained != sklearn.__version__:
        raise BundleError(
            f"{path}: trained with scikit-learn {trained}, this environment has "
            f"{sklearn.__version__}; install scikit-learn=={trained} or retrain"
        )
    return meta


def load_bundle(path: Path):
    """Verify, then unpickle: returns ``(pipeline, metadata)``."""
    import joblib

    meta = verify_bundle(path)
    try:
        pipeline = joblib.load(Path(path) / MODEL_FILE)
    except Exception as exc:  # a verified file that still fails to load is an environment problem
        raise BundleError(f"{path}: cannot load {MODEL_FILE} ({type(exc).__name__}: {exc})") from None
    return pipeline, meta
