"""Model bundles: a folder with ``model.joblib``, ``metadata.json`` and a report.

A bundle is a pickle underneath, and unpickling can run code. Loading
therefore checks the bundle format, the sha256 of ``model.joblib`` and the
scikit-learn version recorded in ``metadata.json`` *before* unpickling, and
refuses with one :class:`~chromesift.errors.BundleError` naming the cause.

Trust. The checks above catch damage, not malice: whoever hands you a bundle
also wrote its ``metadata.json``. So :func:`load_bundle` unpickles only

- the shipped default bundle,
- bundles this machine wrote: :func:`save_bundle` records the sha256 of every
  model it writes in a trust store (one JSON line per model, see
  :func:`trust_store_path`), so ``chromesift train`` then
  ``chromesift extract --model models/chromesift`` just works, also after the
  folder is copied or renamed,
- and any other bundle only with ``trusted=True`` (command line ``--trust``) or
  ``trusted="<its sha256>"``. The refusal shows the sha256 to compare with what
  the bundle's source published; :func:`trust_bundle` records it for good.

For sharing, a bundle may also hold ``model.skops`` (``save_bundle(..., skops=True)``
or :func:`export_skops`): skops rebuilds the pipeline without running code and
accepts only the types in :data:`SKOPS_TRUSTED_TYPES`. An untrusted bundle with a
``model.skops`` loads from it with no ``trusted`` flag at all.

For predicting, a bundle also holds ``model.npz`` (:mod:`chromesift.models.packed`; every
bundle :func:`save_bundle` writes whose pipeline can be packed, and :func:`export_npz` adds
one to an older bundle): the arrays prediction needs, loaded with numpy alone
(``allow_pickle=False``), so it needs no trust either and imports neither scikit-learn nor
pandas. :func:`load_packed` loads it; the pickled pipeline is then loaded only when asked
for (:attr:`chromesift.models.model.Model.pipeline`).

Check and load are one read: each model file is opened once and read whole, its
sha256 is taken over those bytes, and only those bytes are unpickled (or rebuilt by
skops). A file replaced on disk after the check is never what gets loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from chromesift.data.util import git_commit
from chromesift.data.util import sha256_file as _sha256
from chromesift.errors import BundleError
from chromesift.models.legacy import legacy_paths, old_names

log = logging.getLogger(__name__)

FORMAT = "chromesift-bundle/1"
MODEL_FILE = "model.joblib"
SKOPS_FILE = "model.skops"
NPZ_FILE = "model.npz"
META_FILE = "metadata.json"
#: The bundle installed with the package (package data, so ``__file__`` is right here).
DEFAULT_BUNDLE = Path(__file__).resolve().parent / "default"
#: Environment variable naming the trust store file (see :func:`trust_store_path`).
TRUST_ENV = "CHROMESIFT_TRUST_STORE"
#: ``expect`` value of :func:`save_bundle` that replaces whatever is at the path.
ANY = "any"
#: Types a ``model.skops`` may hold beyond skops' own safe defaults (numpy, sklearn
#: estimators): our two estimators, the boosters' tree predictor, and the
#: ``partial(check_array, ...)`` that HistGradientBoosting keeps in its preprocessor.
SKOPS_TRUSTED_TYPES: tuple[str, ...] = (
    "chromesift.features.transformer.ParagraphFeatures",
    "chromesift.models.classifier.TwoStageClassifier",
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)


#: A model sha256 as the trust store holds it: the whole string, 64 lowercase hex digits.
_DIGEST = re.compile(r"[0-9a-f]{64}")


class UntrustedBundleError(BundleError):
    """A bundle that neither ships with chromesift nor was written on this machine."""


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


# --- trust store ---------------------------------------------------------------------------


def trust_store_path() -> Path:
    """The trust store: ``$CHROMESIFT_TRUST_STORE``, else ``chromesift/trusted-bundles.txt``
    in the user's cache folder (``$XDG_CACHE_HOME``, default ``~/.cache``).

    One line per trusted model, each a JSON object in ASCII:
    ``{"sha256": "<64 hex digits>", "time": "<when recorded>", "path": "<where it was>"}``.
    Only ``sha256`` makes a model trusted; ``time`` and ``path`` are for the reader.
    Deleting the file only means that bundles need ``trusted=True`` again.
    """
    env = os.environ.get(TRUST_ENV)
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "chromesift" / "trusted-bundles.txt"


def _is_digest(value: object) -> bool:
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def _line_digest(line: str) -> str | None:
    """The model sha256 a trust store line records, or None for anything else."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return None
        digest = record.get("sha256") if isinstance(record, dict) else None
    else:  # the tab format that chromesift wrote before the JSON lines: sha256 TAB time TAB path
        digest = line.split("\t", 1)[0]
    return digest if _is_digest(digest) else None


def trusted_digests() -> set[str]:
    r"""sha256s of the models in the trust store (an unreadable store trusts nothing).

    Records end at ``"\n"`` only, not at the other breaks of ``str.splitlines``
    (``\r``, ``\x0b``, ``\x0c``, ``\x1c``-``\x1e``, ``\x85``, U+2028, U+2029): a
    path recorded with such a character in it must not start a record of its own. A
    line counts only when it is a JSON object whose ``sha256`` is 64 lowercase hex
    digits. Stores written before the JSON lines still count, by the same rule applied
    to the whole first tab-separated field of each line (the model's own sha256; the
    path after it is never read). Any other line is ignored.
    """
    try:
        raw = trust_store_path().read_bytes()
    except OSError:
        return set()
    digests = (_line_digest(line) for line in raw.decode("utf-8", errors="replace").split("\n"))
    return {d for d in digests if d is not None}


def _default_digest() -> str | None:
    try:
        return json.loads((DEFAULT_BUNDLE / META_FILE).read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError):
        return None  # a code copy without the shipped model (e.g. an MLflow pyfunc)


def is_trusted(digest: str) -> bool:
    """Whether a model sha256 is the shipped model's or in the trust store."""
    digest = digest.lower()
    return digest == _default_digest() or digest in trusted_digests()


def record_trust(digest: str, where: Path | str = "") -> bool:
    """Append a model sha256 to the trust store; False (and a logged warning) when it cannot.

    One JSON object a line (see :func:`trust_store_path`), written with a single
    ``O_APPEND`` write, so concurrent writers do not interleave. ``ensure_ascii`` escapes
    every line break a path may hold, so the record stays one line.

    Raises
    ------
    ValueError
        When ``digest`` is not a sha256 (64 hex digits).
    """
    digest = digest.lower()
    if not _is_digest(digest):
        raise ValueError(f"not a sha256: {digest!r}")
    store = trust_store_path()
    if digest in trusted_digests():
        return True  # retraining the same model, or saving a copy: one line is enough
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = {"sha256": digest, "time": stamp, "path": str(where)}
    line = json.dumps(record, ensure_ascii=True) + "\n"
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(store, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("ascii"))
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("could not record model %s in the trust store %s (%s); "
                    "load its bundle with trusted=True", digest[:16], store, exc.strerror or exc)
        return False
    return True


def trust_bundle(path: Path) -> str:
    """Verify a bundle and record its model in the trust store; return the model's sha256.

    Do this only for a bundle whose sha256 you compared with what its source published:
    afterwards it loads without ``trusted=True``, wherever it is copied.
    """
    meta, blobs = _verify(path)
    if MODEL_FILE not in blobs:
        raise BundleError(f"{path}: no {MODEL_FILE}; a {SKOPS_FILE} needs no trust")
    if not record_trust(meta["sha256"], Path(path).resolve()):
        raise BundleError(f"could not write the trust store {trust_store_path()}")
    return meta["sha256"]


def _untrusted_message(path: Path, meta: dict, digest: str) -> str:
    return (
        f"{path}: refusing to unpickle a bundle that is not the shipped model and was not "
        f"written on this machine (its model is not in the trust store {trust_store_path()}). "
        f"A bundle is a pickle: loading it can run any code it holds.\n"
        f"  {MODEL_FILE} sha256: {digest}\n"
        f"  name {meta.get('name', '?')!r}, created {meta.get('created', '?')}, "
        f"git commit {meta.get('git_commit') or '?'}\n"
        f"If this sha256 is the one its source published, load it with trusted=True "
        f"(command line: --trust), or record it once with chromesift.models.trust_bundle()."
    )


def check_trusted(path: Path, trusted: bool | str = False) -> dict:
    """Verify a bundle and decide whether its ``model.joblib`` may be unpickled.

    Parameters
    ----------
    path
        The bundle folder.
    trusted
        ``True`` trusts this bundle whatever it is; a sha256 string trusts it only if
        its model has exactly that checksum (to pin what its source published).

    Returns
    -------
    dict
        The verified metadata. Nothing is unpickled here: load with
        ``load_bundle(path, trusted=meta["sha256"])``, which reads and checks the file
        again, so a model swapped after this check is refused rather than loaded.

    Raises
    ------
    UntrustedBundleError
        When the model is neither shipped, nor written here, nor trusted by the caller;
        the message shows its sha256.
    """
    meta, blobs = _verify(path)
    if MODEL_FILE not in blobs:
        raise UntrustedBundleError(f"{path}: no {MODEL_FILE} to unpickle (only {SKOPS_FILE})")
    _check_trust(Path(path), meta, trusted)
    return meta


def _check_trust(path: Path, meta: dict, trusted: bool | str) -> None:
    digest = meta["sha256"]
    if isinstance(trusted, str):
        if trusted.strip().lower() != digest:
            raise UntrustedBundleError(
                f"{path}: {MODEL_FILE} sha256 is {digest}, not the {trusted.strip()} you trusted"
            )
    elif not trusted and not is_trusted(digest):
        raise UntrustedBundleError(_untrusted_message(path, meta, digest))


# --- writing -------------------------------------------------------------------------------


def bundle_identity(path: Path) -> str | None:
    """What is at ``path`` now: None (nothing), else the sha256 of its ``metadata.json``.

    The metadata holds the creation time and run id, so two bundles of identical models
    still differ (``"?"`` for a folder without readable metadata).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        return _sha256(path / META_FILE)
    except OSError:
        return "?"


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on a folder (no lock file left behind; a no-op without fcntl)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: concurrent writers are not guarded there
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _swap_in(tmp: Path, path: Path, expect: str | None) -> Path:
    """Put the finished bundle folder ``tmp`` at ``path`` (or beside it, see :func:`save_bundle`
    ``expect``); returns where it went. The folder that was at ``path`` is removed, or put
    back if this is interrupted between the two renames."""
    old = None
    try:
        with _folder_lock(path.parent):
            if expect != ANY and bundle_identity(path) != expect:
                target = _beside(path)
                log.warning("%s changed since this run started (another run wrote it): "
                            "writing the new bundle to %s instead", path, target)
                path = target
            if path.exists():
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)
            os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if old is not None and old.exists() and not path.exists():
            os.replace(old, path)  # interrupted between the two renames: put the old one back
        raise
    return path


def _beside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for i in range(1000):
        candidate = path.with_name(f"{path.name}-{stamp}-{os.getpid()}" + (f"-{i}" if i else ""))
        if not candidate.exists():
            return candidate
    raise BundleError(f"no free bundle name beside {path}")


def save_bundle(
    pipeline,
    path: Path,
    metadata: dict,
    files: dict[str, str] | None = None,
    *,
    skops: bool = False,
    expect: str | None = ANY,
    trust: bool = True,
    packed: bool | None = None,
) -> Path:
    """Write a bundle atomically: a temporary folder beside ``path``, then a rename.

    Parameters
    ----------
    pipeline
        The fitted pipeline.
    path
        Bundle folder to create (an existing bundle there is replaced whole, see ``expect``).
    metadata
        Extra metadata (threshold, metrics, data fingerprint, licenses, run id ...).
    files
        Extra text files to put in the bundle (name -> content), e.g. ``report.md``.
    skops
        Also write ``model.skops``, loadable without trust (see :func:`load_skops`).
    expect
        :data:`ANY` replaces whatever is at ``path``. Otherwise the
        :func:`bundle_identity` that ``path`` must still have (None: nothing there)
        for it to be replaced: a training run passes what it saw when it started, so a
        bundle that a concurrent run wrote meanwhile is never overwritten; the new
        bundle then goes beside it as ``<name>-<UTC time>-<pid>``.
    trust
        Record the model's sha256 in the trust store (:func:`trust_store_path`).
    packed
        Write ``model.npz`` (:mod:`chromesift.models.packed`): None where the pipeline can
        be packed, True always (ValueError where it cannot), False never.

    Returns
    -------
    pathlib.Path
        Where the bundle was written (``path``, or the name beside it).

    Notes
    -----
    An interrupted save (exception, SIGINT, SIGTERM turned into an exception) leaves
    the previous bundle in place and no temporary folder. Only SIGKILL between the two
    renames can leave the previous bundle at ``.<name>.old-<pid>`` beside ``path``.
    """
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        joblib.dump(pipeline, tmp / MODEL_FILE, compress=3)
        extra = {}
        if skops:
            extra["skops_sha256"] = _dump_skops(pipeline, tmp / SKOPS_FILE)
        npz = _packed_bytes(pipeline, required=packed is True) if packed is not False else None
        if npz is not None:
            (tmp / NPZ_FILE).write_bytes(npz)
            extra["npz_sha256"] = hashlib.sha256(npz).hexdigest()
        meta = {
            "format": FORMAT,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "versions": versions(),
            **metadata,
            **extra,
            "sha256": _sha256(tmp / MODEL_FILE),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
        for name, content in (files or {}).items():
            (tmp / name).write_text(content, encoding="utf-8")
        path = _swap_in(tmp, path, expect)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if trust:
        record_trust(meta["sha256"], path.resolve())
    return path


# --- skops -----------------------------------------------------------------------------------


def _dump_skops(pipeline, file: Path) -> str:
    import zipfile

    import skops.io

    skops.io.dump(pipeline, file, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    refused = sorted(set(skops.io.get_untrusted_types(file=file)) - set(SKOPS_TRUSTED_TYPES))
    if refused:  # a copy that load_skops would refuse is no use to anyone
        raise BundleError(f"{SKOPS_FILE} would hold types outside SKOPS_TRUSTED_TYPES: {', '.join(refused)}")
    return _sha256(file)


def export_skops(path: Path, *, trusted: bool | str = False) -> Path:
    """Add ``model.skops`` to an existing bundle, rewriting it atomically.

    Returns the bundle path. The metadata, report and other files are kept. The bundle
    is loaded as :func:`load_bundle` would, so ``trusted`` is needed for one that was
    not written here.
    """
    path = Path(path)
    pipeline, meta = load_bundle(path, trusted=trusted)
    files = {
        p.name: p.read_text(encoding="utf-8")
        for p in path.iterdir()
        if p.is_file() and p.name not in (MODEL_FILE, SKOPS_FILE, NPZ_FILE, META_FILE)
    }
    written = ("format", "created", "git_commit", "versions", "sha256", "skops_sha256", "npz_sha256")
    keep = {k: v for k, v in meta.items() if k not in written}
    return save_bundle(pipeline, path, keep, files, skops=True)


def load_skops(path: Path, trusted_types: tuple[str, ...] | list[str] = SKOPS_TRUSTED_TYPES):
    """Verify, then rebuild the pipeline from ``model.skops``: returns ``(pipeline, metadata)``.

    skops creates only allowed types and runs no code of the file's choosing, so no
    trust is needed.

    Parameters
    ----------
    path
        The bundle folder.
    trusted_types
        Types allowed besides skops' safe defaults (default :data:`SKOPS_TRUSTED_TYPES`).

    Raises
    ------
    BundleError
        When the file is missing or altered, or holds a type outside ``trusted_types``
        (named in the message).
    """
    meta, blobs = _verify(path)
    if SKOPS_FILE not in blobs:
        raise BundleError(f"{path}: no {SKOPS_FILE} in this bundle")
    return _skops_pipeline(path, blobs[SKOPS_FILE], trusted_types), meta


def _skops_pipeline(path: Path, data: bytes, trusted_types: tuple[str, ...] | list[str]):
    """Rebuild a pipeline from verified ``model.skops`` bytes (the file is not read again)."""
    import skops.io

    try:
        found = skops.io.get_untrusted_types(data=data)
    except Exception as exc:
        raise BundleError(f"{path}: unreadable {SKOPS_FILE} ({type(exc).__name__}: {exc})") from None
    refused = sorted(set(found) - set(trusted_types) - set(old_names(trusted_types)))
    if refused:
        raise BundleError(f"{path}: {SKOPS_FILE} holds types that are not trusted: {', '.join(refused)}")
    try:
        with legacy_paths():
            return skops.io.loads(data, trusted=list(found))
    except Exception as exc:
        raise BundleError(f"{path}: cannot load {SKOPS_FILE} ({type(exc).__name__}: {exc})") from None


# --- model.npz -------------------------------------------------------------------------------


def _packed_bytes(pipeline, *, required: bool = False) -> bytes | None:
    """``model.npz`` of a pipeline, or None where it cannot be packed (ValueError if ``required``)."""
    from chromesift.models import packed

    try:
        return packed.dumps(pipeline)
    except ValueError as exc:
        if required:
            raise
        log.debug("no %s for this pipeline: %s", NPZ_FILE, exc)
        return None


def export_npz(path: Path, *, trusted: bool | str = False) -> Path:
    """Add ``model.npz`` to an existing bundle (or replace it), rewriting the bundle atomically.

    Nothing is retrained and no other model file is rewritten: ``model.joblib`` and
    ``model.skops`` keep their bytes and checksums, and ``metadata.json`` only gains
    ``npz_sha256``. The pipeline is loaded as :func:`load_bundle` would, so ``trusted``
    is needed for a bundle that was not written here. Returns the bundle path.

    Raises
    ------
    ValueError
        When the pipeline cannot be packed (:func:`chromesift.models.packed.pack`).
    """
    path = Path(path)
    pipeline, meta = load_bundle(path, trusted=trusted)
    npz = _packed_bytes(pipeline, required=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for p in path.iterdir():
            if p.is_file() and p.name not in (NPZ_FILE, META_FILE):
                shutil.copy2(p, tmp / p.name)
        (tmp / NPZ_FILE).write_bytes(npz)
        raw = json.loads((path / META_FILE).read_text(encoding="utf-8"))  # the file as it is, not _verify's copy
        raw["npz_sha256"] = hashlib.sha256(npz).hexdigest()
        (tmp / META_FILE).write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
        verified, _ = _verify(tmp)  # the copies are the files checked above
        if verified["sha256"] != meta["sha256"]:
            raise BundleError(f"{path}: {MODEL_FILE} changed while {NPZ_FILE} was written")
        return _swap_in(tmp, path, ANY)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_packed(path: Path):
    """Verify ``model.npz`` and load it: ``(packed model or None, metadata)``.

    None when the bundle has no ``model.npz`` (bundles written before it): load the
    pipeline then (:func:`load_bundle`). The file's bytes are read once, hashed and loaded
    from those bytes; numpy loads them without pickle, so no code runs and no trust is
    needed, and neither scikit-learn nor pandas is imported.

    Raises
    ------
    BundleError
        When the metadata is unreadable, or ``model.npz`` is altered (its sha256 is not the
        metadata's ``npz_sha256``) or unreadable.
    """
    from chromesift.models import packed

    path = Path(path)
    meta = read_metadata(path)
    file = path / NPZ_FILE
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return None, meta
    except OSError as exc:
        raise BundleError(f"{path}: unreadable {NPZ_FILE} ({exc.strerror or exc})") from None
    _check_digest(path, NPZ_FILE, data, meta.get("npz_sha256"))
    try:
        return packed.loads(data), meta
    except ValueError as exc:
        raise BundleError(f"{path}: cannot load {NPZ_FILE}: {exc}") from None


# --- reading ---------------------------------------------------------------------------------


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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BundleError(f"{path}: unreadable {META_FILE} ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise BundleError(f"{path}: bundle format {found!r}, this chromesift reads {FORMAT!r}")
    _check_fields(path, meta)
    return meta


def _check_fields(path: Path, meta: dict) -> None:
    """The metadata fields a loader reads must have their types (one BundleError naming the field)."""
    versions_ = meta.get("versions", {})
    if not isinstance(versions_, dict):
        raise BundleError(f"{path}: {META_FILE} 'versions' must be an object, not {type(versions_).__name__}")
    for key in ("sha256", "skops_sha256", "npz_sha256"):
        value = meta.get(key)
        if value is not None and not isinstance(value, str):
            raise BundleError(f"{path}: {META_FILE} {key!r} must be a string")
    if "threshold" in meta:
        t = meta["threshold"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= 1.0:
            raise BundleError(f"{path}: {META_FILE} 'threshold' must be a number from 0 to 1, not {t!r}")


def verify_bundle(path: Path) -> dict:
    """Check format, the sha256 of every model file and the scikit-learn version; return the metadata.

    A bundle holds ``model.joblib``, ``model.skops`` or both, and maybe ``model.npz``;
    each present one must match its checksum in the metadata.
    """
    return _verify(path)[0]


def _check_digest(path: Path, name: str, data: bytes, expected: object) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise BundleError(
            f"{path}: sha256 of {name} is {digest[:16]}..., metadata says "
            f"{str(expected)[:16]}...: the model file was changed or damaged"
        )


def _verify(path: Path) -> tuple[dict, dict[str, bytes]]:
    """Check a bundle; return its metadata and the verified bytes of each model file in it.

    Each model file is opened once and read whole, and its sha256 is taken over those
    bytes: load from the returned bytes, never from the path, or a file swapped after
    the check would be loaded unchecked.
    """
    import sklearn

    path = Path(path)
    meta = read_metadata(path)
    present: dict[str, bytes] = {}
    for name, key in ((MODEL_FILE, "sha256"), (SKOPS_FILE, "skops_sha256"), (NPZ_FILE, "npz_sha256")):
        file = path / name
        if not file.is_file():
            continue
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise BundleError(f"{path}: unreadable {name} ({exc.strerror or exc})") from None
        _check_digest(path, name, data, meta.get(key))
        present[name] = data
    if MODEL_FILE not in present and SKOPS_FILE not in present:
        raise BundleError(f"{path}: {MODEL_FILE} missing")
    trained = meta.get("versions", {}).get("sklearn")
    if trained != sklearn.__version__:
        raise BundleError(
            f"{path}: trained with scikit-learn {trained}, this environment has "
            f"{sklearn.__version__}; install scikit-learn=={trained} or retrain"
        )
    return meta, present


def load_bundle(path: Path, *, trusted: bool | str = False):
    """Verify, check trust, then load: returns ``(pipeline, metadata)``.

    Parameters
    ----------
    path
        The bundle folder.
    trusted
        For a bundle that is neither the shipped one nor written on this machine:
        ``True``, or the exact sha256 of its ``model.joblib``, to unpickle it anyway.
        Without it, such a bundle loads from its ``model.skops`` if it has one.

    Raises
    ------
    UntrustedBundleError
        An untrusted bundle without ``model.skops``; the message shows its sha256.
    BundleError
        A missing, altered or incompatible bundle.
    """
    import joblib

    path = Path(path)
    meta, blobs = _verify(path)
    if MODEL_FILE not in blobs:
        return _skops_pipeline(path, blobs[SKOPS_FILE], SKOPS_TRUSTED_TYPES), meta
    try:
        _check_trust(path, meta, trusted)
    except UntrustedBundleError:
        if trusted is False and SKOPS_FILE in blobs:
            log.info("%s is not trusted here: loading its %s (no code runs)", path, SKOPS_FILE)
            return _skops_pipeline(path, blobs[SKOPS_FILE], SKOPS_TRUSTED_TYPES), meta
        raise
    if trusted is not False and not is_trusted(meta["sha256"]):
        log.warning("loading bundle %s on trust: %s sha256 %s", path, MODEL_FILE, meta["sha256"])
    try:
        with legacy_paths():
            pipeline = joblib.load(io.BytesIO(blobs[MODEL_FILE]))  # the bytes checked, not the path
    except Exception as exc:  # a verified file that still fails to load is an environment problem
        raise BundleError(f"{path}: cannot load {MODEL_FILE} ({type(exc).__name__}: {exc})") from None
    return pipeline, meta
