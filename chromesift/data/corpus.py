"""Readers for the shared labeled corpora (``NAME.jsonl.xz``, one page per line)."""

from __future__ import annotations

import gzip
import json
import lzma
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from chromesift.data.util import sha256_file
from chromesift.errors import ChromesiftError

ENV_VAR = "CHROMESIFT_DATA"
#: ``meta`` keys that name a page's site where it has no URL, in order of preference
#: (daniel-waddle: ``domain``; fundus: ``publisher``; andy-article-extraction: ``site``)
SITE_KEYS = ("domain", "site", "publisher")


class CorpusError(ChromesiftError, ValueError):
    """A corpus file or folder is missing, corrupt or malformed."""


@dataclass(frozen=True)
class Page:
    """One labeled page of a corpus."""

    id: str
    dataset: str
    url: str | None
    lang: str | None
    html: str
    text: str | None
    with_: tuple[str, ...] = ()
    without: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def site(self) -> str:
        """The group for site-wise splits: the URL host (``www.`` dropped); without a URL,
        the site the corpus names in ``meta`` (:data:`SITE_KEYS`); else the id."""
        host = ""
        if self.url:
            try:
                host = urlsplit(self.url).hostname or ""
            except ValueError:  # a malformed URL (bad port, bracket) names no host
                host = ""
        if not host:
            for key in SITE_KEYS:
                value = self.meta.get(key)
                if isinstance(value, str) and value.strip():
                    host = value.strip().lower()
                    break
        if host.startswith("www."):
            host = host[4:]
        return host or self.id


def default_data_dir() -> Path:
    """``$CHROMESIFT_DATA``, else ``../shared/datasets`` when it exists, else ``data/corpora``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    shared = Path("..") / "shared" / "datasets"
    if shared.is_dir():
        return shared
    return Path("data") / "corpora"


#: fields every ``MANIFEST.json`` entry must have (strings)
MANIFEST_KEYS = ("name", "file", "sha256")


def load_manifest(data_dir: Path) -> list[dict]:
    """Read ``MANIFEST.json`` of a corpus folder: a list of entries with :data:`MANIFEST_KEYS`."""
    path = Path(data_dir) / "MANIFEST.json"
    if not path.is_file():
        raise CorpusError(f"no MANIFEST.json in {data_dir}: not a corpus folder (set --data or ${ENV_VAR}; "
                          "`chromesift data import` makes one of your own pages)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CorpusError(f"{path}: not valid JSON ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(manifest, list):
        raise CorpusError(f"{path}: expected a JSON list of datasets, found {type(manifest).__name__}")
    for i, entry in enumerate(manifest):
        missing = [k for k in MANIFEST_KEYS if not isinstance(entry, dict) or not isinstance(entry.get(k), str)]
        if missing:
            raise CorpusError(f"{path}: entry {i} needs the string field(s) {', '.join(missing)}")
    return manifest


def dataset_names(data_dir: Path) -> list[str]:
    """Names of the datasets listed in the manifest, in manifest order."""
    return [entry["name"] for entry in load_manifest(data_dir)]


def verify(data_dir: Path, names: list[str] | None = None) -> dict[str, str]:
    """Check the sha256 of dataset files against the manifest.

    Returns
    -------
    dict
        Dataset name -> sha256 (the data fingerprint of a run).

    Raises
    ------
    CorpusError
        Naming every file that is missing or whose checksum differs.
    """
    manifest = {e["name"]: e for e in load_manifest(data_dir)}
    wanted = names or list(manifest)
    problems, sums = [], {}
    for name in wanted:
        entry = manifest.get(name)
        if entry is None:
            problems.append(f"{name}: not in MANIFEST.json (known: {', '.join(manifest)})")
            continue
        path = Path(data_dir) / entry["file"]
        if not path.is_file():
            problems.append(f"{name}: file {entry['file']} missing")
            continue
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            problems.append(f"{name}: sha256 {digest[:12]}... differs from manifest {entry['sha256'][:12]}...")
            continue
        sums[name] = digest
    if problems:
        raise CorpusError("corpus check failed:\n  " + "\n  ".join(problems))
    return sums


def open_text(path: Path):
    """Open a .jsonl, .jsonl.gz or .jsonl.xz file for reading text."""
    path = Path(path)
    if path.suffix == ".xz":
        return lzma.open(path, "rt", encoding="utf-8")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, record)``; a broken line raises naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    try:
        with open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CorpusError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(rec, dict):
                    raise CorpusError(f"{path}:{lineno}: expected a JSON object")
                yield lineno, rec
    except (lzma.LZMAError, gzip.BadGzipFile, EOFError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read ({exc})") from None


def iter_pages(path: Path, limit: int | None = None) -> Iterator[Page]:
    """Yield the pages of one corpus file, in file order."""
    for n, (lineno, rec) in enumerate(read_jsonl(path)):
        if limit is not None and n >= limit:
            return
        html = rec.get("html")
        if not isinstance(html, str) or "id" not in rec:
            raise CorpusError(f"{path}:{lineno}: record needs 'id' and 'html' (string)")
        yield Page(
            id=str(rec["id"]),
            dataset=str(rec.get("dataset") or Path(path).name.split(".")[0]),
            url=_field(rec, "url", str, path, lineno),
            lang=_field(rec, "lang", str, path, lineno),
            html=html,
            text=_field(rec, "text", str, path, lineno),
            with_=_snippets(rec, "with", path, lineno),
            without=_snippets(rec, "without", path, lineno),
            meta=_field(rec, "meta", dict, path, lineno) or {},
        )


def _field(rec: dict, name: str, kind: type, path: Path, lineno: int):
    """``rec[name]``: None when absent or null, else a value of ``kind`` (a CorpusError otherwise)."""
    value = rec.get(name)
    if value is not None and not isinstance(value, kind):
        raise CorpusError(f"{path}:{lineno}: {name!r} must be {_KINDS[kind]} or null, "
                          f"not {type(value).__name__}")
    return value


_KINDS = {str: "a string", dict: "an object", list: "a list of strings"}


def _snippets(rec: dict, name: str, path: Path, lineno: int) -> tuple[str, ...]:
    """A ``with``/``without`` list as a tuple of strings. A bare string is refused: read as
    a sequence it would be one snippet per character, and every paragraph would match."""
    value = _field(rec, name, list, path, lineno) or []
    if not all(isinstance(v, str) for v in value):
        raise CorpusError(f"{path}:{lineno}: {name!r} must be a list of strings")
    return tuple(value)


def dataset_path(data_dir: Path, name: str) -> Path:
    """Path of a dataset file by name (``NAME.jsonl.xz``), checked to exist."""
    path = Path(data_dir) / f"{name}.jsonl.xz"
    if not path.is_file():
        raise CorpusError(f"dataset {name!r}: {path} not found")
    return path


def sample_pages(data_dir: Path, datasets: list[str], n: int, seed: int) -> list[Page]:
    """A seeded uniform sample of ``n`` pages across datasets, in one pass (reservoir sampling)."""
    import random

    rng = random.Random(seed)
    sample: list[Page] = []
    seen = 0
    for name in datasets:
        for page in iter_pages(dataset_path(data_dir, name)):
            seen += 1
            if len(sample) < n:
                sample.append(page)
            elif (j := rng.randrange(seen)) < n:
                sample[j] = page
    return sample
