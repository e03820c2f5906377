"""Fetch corpus files over HTTP(S): sha256-verified, resumable, retried.

A file is written to ``NAME.part`` beside its destination and renamed into
place only once its size and sha256 match, so the destination either holds a
verified file or nothing. An interrupted download resumes from the ``.part``
file with an HTTP ``Range`` request; a server that ignores ``Range`` (answers
``200`` with the whole file) makes the download restart from the first byte.
Transient failures (connection errors, timeouts, 408/425/429/5xx) are retried
with exponential backoff; a 4xx answer such as 404 fails at once.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from tqdm.auto import tqdm

from chromesift.data.util import sha256_file
from chromesift.errors import ChromesiftError

log = logging.getLogger(__name__)

#: HTTP statuses worth another try; every other 4xx/5xx fails at once.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "chromesift-download/1 (+urllib)"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DownloadError(ChromesiftError):
    """A file could not be fetched, or what was fetched is not the file the manifest names."""


class _Retry(Exception):
    """A transient failure: try again (resuming from the ``.part`` file)."""


class _Restart(Exception):
    """The partial file cannot be continued: drop it and start from the first byte."""


@dataclass(frozen=True)
class Source:
    """One file to fetch.

    Attributes
    ----------
    url
        Where to fetch it (``http``, ``https`` or ``file``).
    file
        File name in the destination folder (a bare name, no folders).
    sha256
        Expected hex digest, or None to skip the check (plain URL downloads).
    size
        Expected size in bytes, or None when unknown.
    """

    url: str
    file: str
    sha256: str | None = None
    size: int | None = None


def _safe_name(name: str, what: str) -> str:
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        raise DownloadError(f"{what}: file name {name!r} must be a bare file name")
    return name


def source_from_entry(entry: Mapping, base_url: str | None) -> Source:
    """Turn a manifest entry (``name``, ``file``, ``sha256``, ``bytes``, ``url``) into a Source.

    Parameters
    ----------
    entry
        A manifest entry; ``url`` is optional when ``base_url`` is given.
    base_url
        Folder URL where files without their own ``url`` are served.

    Raises
    ------
    DownloadError
        When a field is missing or malformed.
    """
    if not isinstance(entry, Mapping):
        raise DownloadError(f"manifest entry must be an object, got {type(entry).__name__}")
    what = str(entry.get("name") or entry.get("file") or "manifest entry")
    missing = [k for k in ("file", "sha256") if not entry.get(k)]
    if missing:
        raise DownloadError(f"{what}: manifest entry lacks {', '.join(missing)}")
    file = _safe_name(str(entry["file"]), what)
    digest = str(entry["sha256"]).lower()
    if not _SHA256.fullmatch(digest):
        raise DownloadError(f"{what}: sha256 {entry['sha256']!r} is not 64 hex digits")
    size = entry.get("bytes")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise DownloadError(f"{what}: bytes must be a non-negative integer, got {size!r}")
    url = entry.get("url")
    if not url:
        if not base_url:
            raise DownloadError(f"{what}: no url in the manifest and no base URL given")
        url = base_url.rstrip("/") + "/" + quote(file)
    _check_url(str(url))
    return Source(url=str(url), file=file, sha256=digest, size=size)


def _check_url(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise DownloadError(f"{url}: only http, https and file URLs are fetched")


def _fetch_once(
    source: Source, part: Path, *, timeout: float, chunk_size: int, bar: tqdm
) -> None:
    """One request: continue ``part`` to the end of the file or raise _Retry/_Restart."""
    offset = part.stat().st_size if part.exists() else 0
    if source.size is not None and offset > source.size:
        raise _Restart(f"partial file is larger ({offset} B) than the file ({source.size} B)")
    if source.size is not None and offset == source.size:
        return  # complete already: only the check is left
    request = urllib.request.Request(source.url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            # nothing left after ``offset``: the partial file may be complete or stale
            if source.size is None:
                return
            raise _Restart("server refused the resume range") from None
        if exc.code in RETRY_STATUSES:
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(f"{source.url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, FileNotFoundError):
            raise DownloadError(f"{source.url}: no such file") from None
        raise _Retry(f"cannot connect ({exc.reason})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(f"{type(exc).__name__}: {exc}") from None

    with response:
        status = getattr(response, "status", None) or 200
        expected: int | None = None
        length = response.headers.get("Content-Length")
        if offset and status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                raise _Restart("server answered a different range than asked")
            mode = "ab"
            if match.group(3) != "*":
                expected = int(match.group(3))
        else:
            if offset:
                log.info("%s: server ignores Range; starting from the first byte", source.file)
                bar.reset(total=source.size)
            offset = 0
            mode = "wb"
            if length is not None and length.isdigit():
                expected = int(length)
        if expected is not None and source.size is not None and expected != source.size:
            raise DownloadError(
                f"{source.url}: server reports {expected} bytes, the manifest {source.size}"
            )
        if bar.total is None and expected is not None:
            bar.total = expected
            bar.refresh()
        written = offset
        try:
            out = open(part, mode)
        except OSError as exc:
            raise DownloadError(f"cannot write {part}: {exc.strerror}") from None
        with out:
            while True:
                try:
                    block = response.read(chunk_size)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Retry(
                        f"transfer broke off after {written} bytes ({type(exc).__name__})"
                    ) from None
                if not block:
                    break
                try:
                    out.write(block)
                except OSError as exc:
                    raise DownloadError(f"cannot write {part}: {exc.strerror}") from None
                written += len(block)
                bar.update(len(block))
        total = expected if expected is not None else source.size
        if total is not None and written < total:
            raise _Retry(f"transfer broke off after {written} of {total} bytes")


def fetch(
    source: Source,
    dest_dir: Path,
    *,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    chunk_size: int = 1 << 16,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download one file into ``dest_dir``, verified, resuming a previous ``.part`` file.

    Parameters
    ----------
    source
        What to fetch and how to check it.
    dest_dir
        Destination folder (created if needed).
    retries
        How many times a transient failure is retried (so ``retries + 1`` tries in all).
    backoff
        First wait in seconds; it doubles after each failed try (capped at 60 s).
    timeout
        Socket timeout of each request, in seconds.
    chunk_size
        Bytes read per step.
    progress
        Show a tqdm progress bar.
    sleep
        Called with the wait between tries (tests pass a no-op).

    Returns
    -------
    Path
        The verified file.

    Raises
    ------
    DownloadError
        On a permanent HTTP error, a checksum or size mismatch, or when the retries run out.
        Nothing unverified is ever written to the destination path.
    """
    _check_url(source.url)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / _safe_name(source.file, source.url)
    part = dest.with_name(dest.name + ".part")
    if dest.exists() and source.sha256:
        if sha256_file(dest) == source.sha256:
            log.info("%s: already present and verified", dest.name)
            return dest
        log.warning("%s: present but its sha256 differs; downloading it again", dest.name)
    restarted = False
    failures = 0
    initial = part.stat().st_size if part.exists() else 0
    with tqdm(
        total=source.size, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
        desc=source.file, disable=not progress, leave=False,
    ) as bar:
        while True:
            try:
                _fetch_once(source, part, timeout=timeout, chunk_size=chunk_size, bar=bar)
            except _Restart as exc:
                log.info("%s: %s; starting over", source.file, exc)
                part.unlink(missing_ok=True)
                bar.reset(total=source.size)
                if restarted:
                    raise DownloadError(f"{source.url}: {exc} (also after starting over)") from None
                restarted = True
                continue
            except _Retry as exc:
                failures += 1
                if failures > retries:
                    raise DownloadError(
                        f"{source.url}: {exc}; gave up after {failures} tries "
                        f"(the partial file {part.name} is kept: run again to resume)"
                    ) from None
                wait = min(backoff * 2 ** (failures - 1), 60.0)
                log.warning("%s: %s; retry %d/%d in %.1f s", source.file, exc, failures, retries, wait)
                sleep(wait)
                continue
            problem = _check(source, part)
            if problem is None:
                break
            resumed = initial > 0 or failures > 0
            part.unlink(missing_ok=True)
            if resumed and not restarted:
                # the pieces may come from two versions of the file: one clean try
                log.warning("%s: %s after a resume; downloading it whole", source.file, problem)
                restarted = True
                initial = 0
                bar.reset(total=source.size)
                continue
            raise DownloadError(f"{source.url}: {problem}; the download was discarded")
    os.replace(part, dest)
    log.info("%s: downloaded and verified", dest.name)
    return dest


def _check(source: Source, part: Path) -> str | None:
    """None when ``part`` is the file the source names, else what is wrong with it."""
    if not part.exists():
        return "nothing was received"
    size = part.stat().st_size
    if source.size is not None and size != source.size:
        return f"size {size} bytes differs from the expected {source.size}"
    if source.sha256:
        digest = sha256_file(part)
        if digest != source.sha256:
            return f"sha256 {digest} differs from the expected {source.sha256}"
    return None


def _sources(urls_or_manifest: object, base_url: str | None) -> list[Source]:
    if isinstance(urls_or_manifest, (str, os.PathLike)) and not _looks_like_url(urls_or_manifest):
        path = Path(urls_or_manifest)
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DownloadError(f"cannot read manifest {path}: {exc}") from None
        if not isinstance(entries, list):
            raise DownloadError(f"{path}: a manifest is a JSON list of entries")
        return [source_from_entry(e, base_url) for e in entries]
    items = [urls_or_manifest] if isinstance(urls_or_manifest, str) else urls_or_manifest
    if not isinstance(items, Iterable):
        raise DownloadError(f"expected URLs, manifest entries or a manifest path, got {items!r}")
    sources = []
    for item in items:
        if isinstance(item, Source):
            sources.append(item)
        elif isinstance(item, Mapping):
            sources.append(source_from_entry(item, base_url))
        elif isinstance(item, str):
            _check_url(item)
            name = unquote(urlsplit(item).path.rsplit("/", 1)[-1])
            sources.append(Source(url=item, file=_safe_name(name, item)))
        else:
            raise DownloadError(f"cannot download {item!r}: give a URL or a manifest entry")
    return sources


def _looks_like_url(value: object) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme.lower() in ("http", "https", "file")


def download(
    urls_or_manifest: object,
    dest_dir: Path,
    *,
    base_url: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Path]:
    """Download several files, each verified, resuming and retrying as :func:`fetch` does.

    Parameters
    ----------
    urls_or_manifest
        A URL, a list of URLs (no checksum known: only completeness is checked), a list of
        manifest entries or :class:`Source` objects, or the path of a ``MANIFEST.json``.
    dest_dir
        Destination folder.
    base_url
        Where manifest entries without their own ``url`` are served.
    retries, backoff, timeout, progress, sleep
        As for :func:`fetch`.

    Returns
    -------
    list of Path
        The verified files, in input order.

    Raises
    ------
    DownloadError
        After trying every file, naming each one that failed.
    """
    sources = _sources(urls_or_manifest, base_url)
    names = [s.file for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DownloadError(f"two downloads would write the same file: {', '.join(dupes)}")
    paths, problems = [], []
    for source in sources:
        try:
            paths.append(
                fetch(source, dest_dir, retries=retries, backoff=backoff, timeout=timeout,
                      progress=progress, sleep=sleep)
            )
        except DownloadError as exc:
            problems.append(str(exc))
            log.debug("%s", exc)  # all failures are raised together below
    if problems:
        raise DownloadError(
            f"{len(problems)} of {len(sources)} download(s) failed:\n  " + "\n  ".join(problems)
        )
    return paths


def download_corpora(
    manifest_entries: list[dict],
    dest: Path,
    base_url: str | None,
    progress: bool = True,
) -> list[Path]:
    """Fetch the corpus files a manifest lists into ``dest``, each checked against its sha256.

    Parameters
    ----------
    manifest_entries
        Entries with ``name``, ``file``, ``sha256``, ``bytes`` and optionally ``url``.
    dest
        Destination folder.
    base_url
        Where files without their own ``url`` are served.
    progress
        Show a progress bar per file.

    Returns
    -------
    list of Path
        The verified files, in manifest order.

    Raises
    ------
    DownloadError
        When the manifest is malformed (before anything is fetched) or any file fails.
    """
    if not isinstance(manifest_entries, list):
        raise DownloadError("a manifest is a JSON list of entries")
    sources = [source_from_entry(e, base_url) for e in manifest_entries]
    return download(sources, dest, progress=progress)
