"""Classify many pages: JSONL or WARC in, JSONL out, resumable, in parallel.

Each output line is one page: ``id``, ``text`` (the main text, one paragraph a line),
``paragraphs`` (``text``, ``is_content``, ``probability`` of every paragraph) and,
when the page failed, ``error``. WARC input adds ``url``.

The output file is appended to and flushed after every page, so a killed run loses
at most the pages in flight; running again skips every id already in the output
(a truncated last line is dropped and its page redone). Worker processes load the
model once each and hold one page at a time, so memory stays flat however large
the input. A page over the size budget becomes an error record without being
classified; a page over the time budget becomes an error record too (a worker
stuck past the budget is killed and replaced).
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from chromesift.errors import BundleError, ChromesiftError, UserError

log = logging.getLogger(__name__)

#: Default per-page size budget in bytes.
MAX_BYTES = 20_000_000
#: Default per-page time budget in seconds.
TIMEOUT = 60.0
#: Extra time a worker gets past the budget before it is killed (the budget itself is
#: enforced inside the worker; the kill is for pages stuck in C code).
KILL_GRACE = 5.0
#: HTTP content types of WARC response records that are classified.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FORMATS = ("html", "text")

_WARC_SUFFIXES = (".warc", ".warc.gz", ".warc.zst", ".warc.lz4")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.xz", ".ndjson", ".json")


class Model(Protocol):
    """What the batch needs of a model (see :func:`chromesift.load_model`)."""

    def classify(self, document: str | bytes, *, format: str | None = None) -> Any:
        """Paragraph table with at least ``text``, ``is_content`` and ``probability``."""


Loader = Callable[[Path | None], Model]


def load_default(path: Path | None, trusted: bool | str = False) -> Model:
    """Load a bundle with :func:`chromesift.load_model` (the shipped model when ``path`` is None).

    ``trusted`` (True, or the bundle's sha256) allows a bundle this machine did not write.

    Raises
    ------
    UserError
        When the bundle is missing or unreadable, with the reason.
    """
    import chromesift

    load_model = getattr(chromesift, "load_model", None)
    if load_model is None:
        raise UserError("this chromesift has no model API (chromesift.load_model is missing)")
    try:
        return load_model(path, trusted=trusted) if trusted is not False else load_model(path)
    except BundleError as exc:
        where = f"model bundle {path}" if path is not None else "the default model bundle"
        raise UserError(f"cannot load {where}: {exc}") from None


# --- pages in --------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One page to classify, or (``error`` set) a page that failed before classification."""

    id: Any
    document: str | bytes | None
    format: str | None = None
    url: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Skip:
    """An input record that is not a page to classify (``reason``: ``"not_html"``)."""

    reason: str


def detect_format(document: str | bytes, name: str | None = None) -> str:
    """Guess ``"html"`` or ``"text"`` from a file name's suffix, else from the first bytes.

    Parameters
    ----------
    document
        The page.
    name
        Its file name, if any (``.txt`` means text, ``.html``/``.htm``/``.xhtml`` HTML).

    Returns
    -------
    str
        The suffix's answer, else that of :func:`chromesift.data.page.detect_format` (the
        library call's own rule), so the command line and the library agree.
    """
    if name:
        suffix = Path(name).suffix.lower()
        if suffix in (".txt", ".text"):
            return "text"
        if suffix in (".html", ".htm", ".xhtml", ".shtml"):
            return "html"
    from chromesift.data.page import detect_format as sniff

    return sniff(bytes(document) if isinstance(document, bytearray) else document)


def _size(document: str | bytes) -> int:
    if isinstance(document, str):
        return len(document.encode("utf-8", errors="surrogatepass"))
    return len(document)


def _over_budget(size: int, max_bytes: int | None) -> str | None:
    if max_bytes is not None and size > max_bytes:
        return f"page is {size} bytes, over the {max_bytes}-byte budget (--max-bytes)"
    return None


def input_kind(path: Path) -> str:
    """``"warc"`` or ``"jsonl"`` from the file name, else a UserError."""
    name = Path(path).name.lower()
    if name.endswith(_WARC_SUFFIXES):
        return "warc"
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    raise UserError(
        f"{path}: cannot tell the input format from the name (expected "
        f"{', '.join(_JSONL_SUFFIXES[:3])} or {', '.join(_WARC_SUFFIXES[:2])})"
    )


def iter_jsonl(path: Path, *, format: str | None = None, max_bytes: int | None = MAX_BYTES) -> Iterator[Job]:
    """Pages of a JSONL file: records with ``id`` and ``html`` or ``text``.

    Parameters
    ----------
    path
        ``.jsonl``, ``.jsonl.gz`` or ``.jsonl.xz``.
    format
        Force ``"html"`` or ``"text"``; by default ``html`` records are HTML and
        ``text`` records plain text (``html`` wins when a record has both).
    max_bytes
        Size budget; a bigger page is yielded as a failed job.

    Raises
    ------
    UserError
        For a missing file, a line that is not JSON or a record without ``id`` (file:line).
    """
    from chromesift.data.corpus import CorpusError, read_jsonl

    reader = read_jsonl(path)
    while True:
        try:
            lineno, rec = next(reader)
        except StopIteration:
            return
        except CorpusError as exc:
            raise UserError(str(exc)) from None
        page_id = rec.get("id")
        if page_id is None or isinstance(page_id, (dict, list)) or page_id == "":
            raise UserError(f"{path}:{lineno}: record needs an 'id' (a string or number)")
        field_name = "html" if isinstance(rec.get("html"), str) else "text"
        document = rec.get(field_name)
        if not isinstance(document, str):
            yield Job(page_id, None, error="record has neither an 'html' nor a 'text' string")
            continue
        problem = _over_budget(_size(document), max_bytes)
        if problem:
            yield Job(page_id, None, error=problem)
            continue
        yield Job(page_id, document, format or field_name, url=rec.get("url"))


def iter_warc(
    path: Path, *, format: str | None = None, max_bytes: int | None = MAX_BYTES
) -> Iterator[Job | Skip]:
    """HTML pages of a WARC file (``.warc``, ``.warc.gz``): response records, HTML content type.

    Every other record (requests, metadata, images, ...) is yielded as a :class:`Skip`.
    The id of a page is its ``WARC-Record-ID``; its URL is kept. Bytes are decoded with
    the HTTP charset when they agree with it, else left to the parser's detection.

    Raises
    ------
    UserError
        When the file is missing or cannot be read as WARC.
    """
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    with open(path, "rb") as stream:
        try:
            records = ArchiveIterator(stream, parse_http=True, auto_decode="all")
            for rec in records:
                if rec.record_type != WarcRecordType.response or not rec.is_http:
                    yield Skip("not_html")
                    continue
                ctype = (rec.http_content_type or "").lower()
                if ctype not in HTML_TYPES and format != "html":
                    yield Skip("not_html")
                    continue
                page_id = rec.record_id or f"{path.name}@{rec.stream_pos}"
                url = rec.headers.get("WARC-Target-URI")
                if max_bytes is not None and rec.content_length > max_bytes:
                    yield Job(page_id, None, url=url, error=_over_budget(rec.content_length, max_bytes))
                    continue
                body = _read_at_most(rec.reader, max_bytes)
                if body is None:
                    yield Job(page_id, None, url=url,
                              error=f"page decompresses to more than {max_bytes} bytes, "
                              "over the budget (--max-bytes)")
                    continue
                yield Job(page_id, _decode_http(body, rec.http_charset), format or "html", url=url)
        except OSError as exc:
            raise UserError(f"{path}: cannot read as WARC ({exc})") from None


def _decode_http(body: bytes, charset: str | None) -> str | bytes:
    """Text by the HTTP charset when the bytes agree; else bytes, for the parser's own rules."""
    try:
        legacy = codecs.lookup(charset).name != "utf-8" if charset else False
    except LookupError:
        return body
    if not charset:
        return body
    if legacy and not body.isascii():
        with contextlib.suppress(UnicodeDecodeError):
            body.decode("utf-8")
            # valid multi-byte UTF-8 under a legacy label: a stale header, as with <meta>
            return body
    try:
        return body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return body


def _read_at_most(reader: Any, limit: int | None) -> bytes | None:
    """All of ``reader``, or None when it holds more than ``limit`` bytes."""
    if limit is None:
        return reader.read()
    chunks, total = [], 0
    while block := reader.read(min(1 << 20, limit + 1 - total)):
        chunks.append(block)
        total += len(block)
        if total > limit:
            return None
    return b"".join(chunks)


def iter_input(path: Path, *, format: str | None = None, max_bytes: int | None = MAX_BYTES) -> Iterator[Job | Skip]:
    """Pages of a JSONL or WARC file, chosen by its name."""
    path = Path(path)
    kind = input_kind(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    if kind == "warc":
        return iter_warc(path, format=format, max_bytes=max_bytes)
    return iter_jsonl(path, format=format, max_bytes=max_bytes)


# --- one page ------------------------------------------------------------------------------


class PageTimeout(ChromesiftError):
    """A page took longer than its time budget."""


@contextlib.contextmanager
def time_budget(seconds: float | None):
    """Raise :class:`PageTimeout` in the block after ``seconds`` (main thread, POSIX only).

    Elsewhere the block runs unbounded (in a worker process the parent still kills a page
    stuck well past its budget).
    """
    usable = (
        seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def alarm(signum, frame):
        raise PageTimeout(f"took longer than the {seconds:g} s budget (--timeout)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def one_thread():
    """Native thread pools (OpenMP, BLAS) at one thread inside the block.

    Pages run in parallel across processes, and on a page-sized table the start-up
    of an OpenMP team costs more than it saves (HistGradientBoosting prediction
    of one page was 20 times slower with a pool per core on a 2-CPU container).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it, leave the pools alone
        yield
        return
    with threadpool_limits(limits=1):
        yield


def result_record(frame: Any) -> dict:
    """``text`` and ``paragraphs`` of a classified paragraph table."""
    return _record([str(t) for t in frame["text"]], [bool(c) for c in frame["is_content"]],
                   [float(p) for p in frame["probability"]])


def _record(texts: list[str], flags: list[bool], probs: list[float]) -> dict:
    return {
        "text": "\n".join(t for t, c in zip(texts, flags, strict=True) if c),
        "paragraphs": [
            {"text": t, "is_content": c, "probability": round(p, 4)}
            for t, c, p in zip(texts, flags, probs, strict=True)
        ],
    }


def process(model: Model | None, job: Job, timeout: float | None = None) -> dict:
    """Classify one page; any failure becomes the record's ``error`` instead of an exception.

    ``model`` may be None for a job that failed before classification (``job.error`` set).
    """
    record: dict[str, Any] = {"id": job.id}
    if job.url is not None:
        record["url"] = job.url
    error = job.error
    if error is None and model is not None:
        try:
            with time_budget(timeout):
                if hasattr(model, "predict_columns"):
                    # the fast path: no paragraph DataFrame in between
                    from chromesift.data.page import to_columns
                    from chromesift.models.rules import content_mask

                    cols = to_columns(job.document, format=job.format)
                    proba = model.predict_columns([cols])[0]
                    keep = content_mask(cols, proba, model.threshold)
                    record.update(_record(cols["text"], keep.tolist(), model.probability(proba).tolist()))
                else:
                    record.update(result_record(model.classify(job.document, format=job.format)))
            return record
        except PageTimeout as exc:
            error = str(exc)
        except Exception as exc:  # a page may fail in any way; the batch goes on
            error = f"{type(exc).__name__}: {exc}"
    record.update(text="", paragraphs=[], error=error or "no model")
    return record


# --- output ----------------------------------------------------------------------------


def read_done(path: Path) -> set[str]:
    """Ids already in an output file; drops a truncated last line from a killed run.

    Raises
    ------
    UserError
        When a line other than the last is not JSON, or a record has no ``id``.
    """
    path = Path(path)
    done: set[str] = set()
    if not path.exists():
        return done
    with open(path, "rb+") as f:
        data_end = f.seek(0, os.SEEK_END)
        f.seek(0)
        lineno, offset = 0, 0
        for raw in f:
            lineno += 1
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except ValueError:
                if offset == data_end and not raw.endswith(b"\n"):
                    log.info("%s: dropping a truncated last line (its page is redone)", path)
                    f.truncate(start)
                    break
                raise UserError(
                    f"{path}:{lineno}: not valid JSON, and not a truncated last line either; "
                    "fix or remove the output file"
                ) from None
            if not isinstance(rec, dict) or "id" not in rec:
                raise UserError(f"{path}:{lineno}: not a chromesift output record (no 'id')")
            done.add(str(rec["id"]))
        else:
            if data_end and not raw.endswith(b"\n"):
                f.write(b"\n")  # a complete record cut before its newline
    return done


class _Sink:
    """Appends records, one JSON line each, flushed at once."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, record: dict) -> None:
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()


# --- the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchConfig:
    """What a batch run does.

    Attributes
    ----------
    input
        JSONL (``id`` and ``html`` or ``text``) or WARC file.
    output
        JSONL output, appended to and resumed; None writes to standard output.
    model
        Model bundle folder; None for the shipped default.
    format
        ``"html"`` or ``"text"`` for every page; None decides per record.
    jobs
        Worker processes (1: classify in this process).
    max_bytes
        Per-page size budget (None: no limit).
    timeout
        Per-page time budget in seconds (None or 0: no limit).
    progress
        Show a progress bar on standard error.
    trusted
        True, or the bundle's sha256, to load a bundle this machine did not write.
    """

    input: Path
    output: Path | None = None
    model: Path | None = None
    format: str | None = None
    jobs: int = 1
    max_bytes: int | None = MAX_BYTES
    timeout: float | None = TIMEOUT
    progress: bool = True
    trusted: bool | str = False


@dataclass
class BatchSummary:
    """Counts of a run."""

    done: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def pages_per_second(self) -> float:
        """Pages classified (done or failed) per second of wall time."""
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def skip(self, reason: str) -> None:
        """Count one skipped record."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def line(self) -> str:
        """One human line: done, skipped (by reason), failed, pages/s."""
        total = sum(self.skipped.values())
        reasons = ", ".join(f"{_SKIP_NAMES.get(k, k)} {v}" for k, v in sorted(self.skipped.items()))
        return (
            f"{self.done} done, {total} skipped" + (f" ({reasons})" if reasons else "")
            + f", {self.failed} failed, {self.pages_per_second:.1f} pages/s"
        )


_SKIP_NAMES = {"done": "already in output", "not_html": "not HTML", "duplicate": "duplicate id"}


def run_batch(config: BatchConfig, *, loader: Loader | None = None) -> BatchSummary:
    """Classify every page of ``config.input`` and write one JSON line per page.

    Parameters
    ----------
    config
        The run.
    loader
        Turns ``config.model`` into a model (default :func:`load_default`). With
        ``jobs > 1`` it runs in each worker process, so it must be picklable
        (a module-level function).

    Returns
    -------
    BatchSummary
        Pages done, failed and skipped, and the wall time.

    Raises
    ------
    UserError
        For a missing input, a malformed input line (file:line), an unreadable model
        bundle, or an output file that is not a previous run's output.
    """
    from tqdm.auto import tqdm

    loader = loader or (functools.partial(load_default, trusted=config.trusted) if config.trusted else load_default)
    if config.jobs < 1:
        raise UserError("--jobs must be at least 1")
    if config.format not in (None, *FORMATS):
        raise UserError(f"--format must be one of {', '.join(FORMATS)}")
    if config.model is not None and not Path(config.model).exists():
        raise UserError(f"model bundle {config.model}: no such folder")
    jobs = iter_input(config.input, format=config.format, max_bytes=config.max_bytes)
    if config.output is not None and Path(config.output).name.endswith((".gz", ".xz", ".bz2", ".zst")):
        raise UserError(
            f"{config.output}: output is written as plain JSONL (appended to, so runs can "
            "resume); compress it when the run is over"
        )
    # in this process the model loads before anything is written, so a bad bundle
    # leaves no empty output behind; workers load their own copy
    model = load_with(loader, config.model) if config.jobs == 1 else None
    summary = BatchSummary()
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if config.output is None:
            done_before: set[str] = set()
            sink = _Sink(sys.stdout)
        else:
            out = Path(config.output)
            if out.parent != Path("") and not out.parent.is_dir():
                raise UserError(f"{out}: folder {out.parent} does not exist")
            done_before = read_done(out)
            try:
                stream = stack.enter_context(open(out, "a", encoding="utf-8", errors="replace"))
            except OSError as exc:
                raise UserError(f"cannot write {out}: {exc.strerror}") from None
            sink = _Sink(stream)
        bar = stack.enter_context(
            tqdm(desc="pages", unit="page", disable=not config.progress, file=sys.stderr,
                 dynamic_ncols=True)
        )
        feed = _Feed(jobs, done_before, summary, sink, bar)
        try:
            if model is not None:
                _run_here(feed, model, config)
            else:
                _run_pool(feed, loader, config)
        except KeyboardInterrupt:
            summary.seconds = time.perf_counter() - started
            log.warning("interrupted after %s; run again to resume", summary.line())
            raise
        finally:
            summary.seconds = time.perf_counter() - started
    return summary


class _Feed:
    """Pulls pages from the input, counting skips and writing failures found while reading."""

    def __init__(self, jobs: Iterator[Job | Skip], done_before: set[str], summary: BatchSummary,
                 sink: _Sink, bar: Any):
        self.jobs = jobs
        self.done_before = done_before
        self.seen: set[str] = set()
        self.summary = summary
        self.sink = sink
        self.bar = bar

    def next(self) -> Job | None:
        """The next page to classify, or None at the end of the input."""
        for item in self.jobs:
            if isinstance(item, Skip):
                self._skip(item.reason)
                continue
            key = str(item.id)
            if key in self.done_before:
                self._skip("done")
                continue
            if key in self.seen:
                log.warning("id %s appears again in the input; only its first page is kept", key)
                self._skip("duplicate")
                continue
            self.seen.add(key)
            if item.error is not None:
                self.record(process(None, item))
                continue
            return item
        return None

    def record(self, record: dict) -> None:
        """Write one finished page."""
        self.sink.write(record)
        if "error" in record:
            self.summary.failed += 1
        else:
            self.summary.done += 1
        self.bar.update(1)
        self._postfix()

    def _skip(self, reason: str) -> None:
        self.summary.skip(reason)
        self.bar.update(1)
        self._postfix()

    def _postfix(self) -> None:
        self.bar.set_postfix(
            failed=self.summary.failed, skipped=sum(self.summary.skipped.values()), refresh=False
        )


def load_with(loader: Loader, path: Path | None) -> Model:
    """Run ``loader``; any failure but a ChromesiftError becomes a UserError naming it."""
    try:
        return loader(path)
    except ChromesiftError:
        raise
    except Exception as exc:  # a loader is outside code: say what failed, no traceback
        raise UserError(f"cannot load the model: {type(exc).__name__}: {exc}") from None


def _run_here(feed: _Feed, model: Model, config: BatchConfig) -> None:
    with one_thread():
        while (job := feed.next()) is not None:
            feed.record(process(model, job, config.timeout))


# --- worker processes ------------------------------------------------------------------


def _worker_main(conn, loader: Loader, model_path: Path | None, timeout: float | None) -> None:
    """Worker process: load the model once, then classify pages sent over ``conn``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        try:
            model = load_with(loader, model_path)
        except ChromesiftError as exc:
            conn.send(("load_failed", str(exc)))
            return
        conn.send(("ready", None))
        with one_thread():
            while (job := conn.recv()) is not None:
                conn.send(("result", process(model, job, timeout)))
    except (EOFError, OSError):  # the parent is gone: nobody wants the result
        return


class _Worker:
    def __init__(self, ctx, loader: Loader, config: BatchConfig):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main, args=(child, loader, config.model, config.timeout),
            # not daemonic: a model may start its own worker pool (joblib), which daemons may
            # not; a worker still exits by itself when the parent dies (its pipe closes)
            daemon=False,
        )
        self.proc.start()
        child.close()
        self.ready = False
        self.job: Job | None = None
        self.started = 0.0

    def stop(self, wait: float = 5.0) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.proc.join(wait)
        self.kill()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()


def _run_pool(feed: _Feed, loader: Loader, config: BatchConfig) -> None:
    # spawn, not fork: the parent may hold threads (progress bar, BLAS) that fork would copy
    ctx = multiprocessing.get_context("spawn")
    workers = [_Worker(ctx, loader, config) for _ in range(config.jobs)]
    hard_limit = (config.timeout + max(KILL_GRACE, config.timeout)) if config.timeout else None
    exhausted = False

    def replace(worker: _Worker, error: str) -> _Worker:
        job = worker.job
        worker.kill()
        if job is not None:
            feed.record(process(None, Job(job.id, None, url=job.url, error=error)))
        fresh = _Worker(ctx, loader, config)
        workers[workers.index(worker)] = fresh
        return fresh

    try:
        while True:
            for worker in workers:
                if exhausted or not worker.ready or worker.job is not None:
                    continue
                job = feed.next()
                if job is None:
                    exhausted = True
                    break
                worker.job, worker.started = job, time.monotonic()
                try:
                    worker.conn.send(job)
                except OSError:
                    pass  # the worker died: found below by its sentinel
            if exhausted and all(w.job is None for w in workers):
                return
            waitables = [w.conn for w in workers] + [w.proc.sentinel for w in workers]
            ready = multiprocessing.connection.wait(waitables, timeout=0.5)
            for worker in list(workers):
                dead = worker.proc.sentinel in ready
                if worker.conn in ready:
                    try:
                        kind, payload = worker.conn.recv()
                    except (EOFError, OSError):
                        dead = True
                    else:
                        if kind == "load_failed":
                            raise UserError(payload)
                        if kind == "ready":
                            worker.ready = True
                        else:
                            worker.job = None
                            feed.record(payload)
                        continue
                if dead:
                    worker.proc.join(5)
                    code = worker.proc.exitcode
                    if not worker.ready:
                        raise UserError(f"a worker process could not start (exit code {code})")
                    replace(worker, f"the worker process died on this page (exit code {code})")
                elif (
                    worker.job is not None and hard_limit is not None
                    and time.monotonic() - worker.started > hard_limit
                ):
                    replace(
                        worker,
                        f"took longer than the {config.timeout:g} s budget (--timeout); "
                        "its worker was killed",
                    )
    finally:
        for worker in workers:
            if worker.proc.is_alive() and worker.job is None and worker.ready:
                worker.stop()
            else:
                worker.kill()
