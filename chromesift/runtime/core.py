"""Pages in, records out: the one classification core of the batch command, HTTP serving and Spark.

A :class:`Page` (an id, the document, its format, a URL) goes in; a *record* comes out, the
same dict wherever it is made::

    {"id": ..., "url": ... (only when the page has one), "title": the headline ("" if none),
     "text": main text, "paragraphs": [{"text", "is_content", "probability"}, ...]}

With ``detail`` (:func:`page_records`) each paragraph also has ``role`` (``title``, ``caption``,
``body`` or ``chrome``), ``tag``, ``path`` and ``row`` (the table row a ``td``/``th`` cell is in, else
None): what the Markdown and JSON outputs of ``chromesift extract`` are written from.

``text`` is the content paragraphs joined by newlines (what :func:`chromesift.extract`
gives), ``probability`` the calibrated content probability rounded to 4 digits. A page
that could not be classified gets ``"text": ""``, ``"paragraphs": []`` and ``"error"``, a
one-line reason; any failure of one page becomes its ``error``, never an exception, so one
bad page cannot stop the others. The batch command writes records as they are; Spark
turns them into its ``main_text``/``paragraphs``/``error`` columns and HTTP serving into
its response rows (where a failed page refuses the request).

Limits, one meaning each:

``max_bytes`` (default :data:`MAX_PAGE_BYTES`)
    A page larger than this (UTF-8 bytes for text) is not parsed; its record says so
    (:func:`size_error`; the batch readers, which refuse a page before reading all of it,
    add the option's name). HTTP serving has a cap of its own on the pages of a request
    (:data:`chromesift.runtime.serving.SERVE_MAX_PAGE_BYTES`), which refuses the request.
``timeout`` (default :data:`PAGE_TIMEOUT` in the batch command)
    Seconds one page may take (:func:`time_budget`; None, 0 or ``inf``: no limit). Only the
    single-page call takes it: a batch of pages predicted together has no per-page clock.
    The alarm stops Python code only, so the batch command runs pages with a budget in
    worker processes killed at it, and HTTP serving gives each request a worker and a
    time limit of its own (:mod:`chromesift.runtime.pool`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chromesift.data.page import detect_format, to_columns
from chromesift.data.util import chunked
from chromesift.errors import BundleError, ChromesiftError, UserError

#: Per-page size budget in bytes (batch command and Spark; serving has its own request cap).
MAX_PAGE_BYTES = 20_000_000
#: Per-page time budget in seconds of the batch command.
PAGE_TIMEOUT = 60.0
#: Pages predicted together by :func:`page_records` (batched prediction is ~3x faster
#: than page by page and gives the same probabilities).
BATCH_PAGES = 32
#: Largest time budget in seconds (about 11.6 days); longer is no limit (0 or ``inf``).
#: Timers and waits of the operating system overflow not far above this.
MAX_TIMEOUT = 1_000_000.0

_TEXT_SUFFIXES = (".txt", ".text")
_HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")


class PageModel(Protocol):
    """What the core needs of a model: :class:`chromesift.Model`, or a stand-in with ``classify``.

    A model that also has ``predict_columns``, ``probability`` and ``threshold`` (every
    :class:`chromesift.Model`) is run on the fast path: no paragraph DataFrame in between,
    several pages predicted at once.
    """

    def classify(self, document: str | bytes, *, format: str | None = None) -> Any:
        """Paragraph table with at least ``text``, ``is_content`` and ``probability``."""


#: Turns a bundle folder (None: the shipped model) into a model.
Loader = Callable[[Path | None], PageModel]


@dataclass(frozen=True)
class Page:
    """One page to classify, or (``error`` set) one that failed before classification.

    Attributes
    ----------
    id
        The page's id (kept in its record as it is: a string or a number).
    document
        HTML or plain text, str or bytes; None when the page is missing.
    format
        ``"html"`` or ``"text"``; None detects it (:func:`chromesift.data.page.detect_format`).
    url
        Kept in the record when given.
    error
        Why the page cannot be classified (a reader's finding); its record says so.
    """

    id: Any = None
    document: str | bytes | None = None
    format: str | None = None
    url: str | None = None
    error: str | None = None


class PageTimeout(ChromesiftError):
    """A page took longer than its time budget."""


# --- the format and the budgets ---------------------------------------------------------------


def format_of(document: str | bytes, name: str | None = None) -> str:
    """The format a page file is read as: its name's suffix, else its first bytes.

    Parameters
    ----------
    document
        The page.
    name
        Its file name, if any (``.txt`` means text, ``.html``/``.htm``/``.xhtml`` HTML).

    Returns
    -------
    str
        ``"html"`` or ``"text"``: the suffix's answer, else that of
        :func:`chromesift.data.page.detect_format` (the library call's own rule), so the
        command line and the library agree.
    """
    if name:
        suffix = Path(name).suffix.lower()
        if suffix in _TEXT_SUFFIXES:
            return "text"
        if suffix in _HTML_SUFFIXES:
            return "html"
    return detect_format(bytes(document) if isinstance(document, bytearray) else document)


def page_size(document: str | bytes) -> int:
    """Bytes of a page: its length as bytes, or as UTF-8 for text."""
    if isinstance(document, str):
        return len(document.encode("utf-8", errors="surrogatepass"))
    return len(document)


def size_error(size: int, max_bytes: int) -> str:
    """The reason given for a page over the size budget."""
    return f"page is {size} bytes, over the {max_bytes}-byte budget"


def page_problem(page: Page, max_bytes: int | None = MAX_PAGE_BYTES) -> str | None:
    """Why ``page`` cannot be classified before it is parsed, or None when it can."""
    doc = page.document
    if page.error is not None:
        return page.error
    if doc is None or (isinstance(doc, float) and math.isnan(doc)):  # pandas: NaN for missing
        return "no document (null)"
    if not isinstance(doc, (str, bytes, bytearray, memoryview)):
        return f"document must be a string or binary, not {type(doc).__name__}"
    if max_bytes is not None and (size := page_size(_as_document(doc))) > max_bytes:
        return size_error(size, max_bytes)
    return None


def check_timeout(seconds: float | None, option: str = "--timeout") -> float | None:
    """A time budget as the runs take it: seconds, or None for no limit (None, 0 or ``inf``).

    Raises
    ------
    UserError
        For NaN, a negative number, or more than :data:`MAX_TIMEOUT` seconds, naming ``option``.
    """
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or math.isnan(seconds):
        raise UserError(f"{option} must be a number of seconds, not {seconds!r}")
    if seconds < 0:
        raise UserError(f"{option} must not be negative")
    if seconds == 0 or math.isinf(seconds):
        return None
    if seconds > MAX_TIMEOUT:
        raise UserError(f"{option} must be at most {MAX_TIMEOUT:.0f} seconds (0 or inf: no limit)")
    return float(seconds)


@contextlib.contextmanager
def time_budget(seconds: float | None):
    """Raise :class:`PageTimeout` in the block after ``seconds`` (main thread, POSIX only).

    None, 0 and ``inf`` mean no limit. The alarm interrupts Python code only: a page stuck
    in C code (lxml's parser) runs on until it returns, so the batch command and HTTP
    serving run pages with a budget in a worker process that is killed at the limit.
    """
    usable = (
        seconds is not None and 0 < seconds < math.inf and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def alarm(signum, frame):
        raise PageTimeout(f"took longer than the {seconds:g} s budget (--timeout)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, MAX_TIMEOUT))  # the timer overflows far above
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


# --- records ------------------------------------------------------------------------------------


def _record(texts: list[str], flags: list[bool], probs: list[float], title: str = "") -> dict:
    return {
        "title": title,
        "text": "\n".join(t for t, c in zip(texts, flags, strict=True) if c),
        "paragraphs": [
            {"text": t, "is_content": c, "probability": round(p, 4)}
            for t, c, p in zip(texts, flags, probs, strict=True)
        ],
    }


#: the cells of a table row, whose ``row`` :func:`_add_detail` gives
_CELLS = ("td", "th")


def _add_detail(record: dict, roles: list[str], tags: list, paths: list, rows: list) -> dict:
    """The record with ``role``, ``tag``, ``path`` and ``row`` on each paragraph."""
    for par, role, tag, path, row in zip(record["paragraphs"], roles, tags, paths, rows, strict=True):
        tag = str(tag or "")
        par.update(role=role, tag=tag, path=str(path or ""),
                   row=int(row) if tag in _CELLS and row is not None and int(row) >= 0 else None)
    return record


def result_record(frame: Any, detail: bool = False) -> dict:
    """``title``, ``text`` and ``paragraphs`` of a classified paragraph table (:meth:`chromesift.Model.classify`)."""
    texts = [str(t) for t in frame["text"]]
    flags = [bool(c) for c in frame["is_content"]]
    if "role" in frame:
        roles = [str(r) for r in frame["role"]]
    else:
        roles = ["body" if c else "chrome" for c in flags]
    title = next((t for t, r in zip(texts, roles, strict=True) if r == "title"), "")
    record = _record(texts, flags, [float(p) for p in frame["probability"]], title)
    if detail:
        n = len(texts)
        column = (lambda c: list(frame[c]) if c in frame else [None] * n)  # noqa: E731
        _add_detail(record, roles, column("tag"), column("path"), column("anc1"))
    return record


def _head(page: Page) -> dict[str, Any]:
    head: dict[str, Any] = {"id": page.id}
    if page.url is not None:
        head["url"] = page.url
    return head


def failed_record(page: Page, error: str) -> dict:
    """The record of a page that was not classified: no text, no paragraphs, the reason."""
    return {**_head(page), "text": "", "paragraphs": [], "error": error}


_SURROGATE = re.compile("[\ud800-\udfff]")


def record_json(record: dict) -> str:
    """A record as one line of JSON text that always encodes as UTF-8 and reads back the same.

    A str may hold lone surrogates (an id read from ``"\\ud800"`` in JSON, a file name
    decoded with ``surrogateescape``). Written as themselves they cannot be encoded;
    replaced by ``?`` they no longer match their page. Here they become ``\\udXXX``
    escapes, which :func:`json.loads` turns back into the same str; everything else
    is written as UTF-8 text (no escapes).
    """
    # outside strings JSON is ASCII, so every surrogate found is inside a string
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(record, ensure_ascii=False))


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, PageTimeout) else f"{type(exc).__name__}: {exc}"


def _as_document(doc: Any) -> str | bytes:
    return bytes(doc) if isinstance(doc, (bytearray, memoryview)) else doc


# --- classification -----------------------------------------------------------------------------


def page_record(
    model: PageModel, page: Page, *, max_bytes: int | None = MAX_PAGE_BYTES, timeout: float | None = None,
    threshold: float | None = None, favor: str | None = None, detail: bool = False, scope: str | None = None,
) -> dict:
    """Classify one page into its record; any failure becomes the record's ``error``.

    Parameters
    ----------
    model
        A loaded :class:`chromesift.Model` (or a stand-in with ``classify``).
    page
        The page; one with ``error`` set gets its failed record without classification.
    max_bytes
        Size budget (None: no limit).
    timeout
        Time budget in seconds (None or 0: no limit); enforced in the main thread of a
        POSIX process (:func:`time_budget`).
    threshold, favor, detail, scope
        As for :func:`page_records`.

    Returns
    -------
    dict
        The record (see the module's documentation).
    """
    problem = page_problem(page, max_bytes)
    if problem is not None:
        return failed_record(page, problem)
    try:
        with time_budget(timeout):
            return page_records(model, [page], max_bytes=None, threshold=threshold, favor=favor,
                                    detail=detail, scope=scope)[0]
    except PageTimeout as exc:  # the per-page guards of page_records let it through
        return failed_record(page, str(exc))


def page_records(
    model: PageModel,
    pages: Sequence[Page],
    *,
    max_bytes: int | None = MAX_PAGE_BYTES,
    batch_pages: int = BATCH_PAGES,
    threshold: float | None = None,
    favor: str | None = None,
    detail: bool = False,
    scope: str | None = None,
) -> list[dict]:
    """Classify pages into their records, in order, ``batch_pages`` predicted at once.

    ``threshold`` replaces the model's decision threshold (None: the model's own), or
    ``favor`` (``"precision"``, ``"recall"``) moves it by a preset step
    (:func:`chromesift.models.rules.pick_threshold`); ``detail`` adds ``role``, ``tag``, ``path`` and ``row`` to each paragraph (see the
    module's documentation). ``scope`` (``"auto"``, ``"article"``, ``"all"``) says what counts as content,
    as for :meth:`chromesift.Model.classify`.

    The same records as :func:`page_record` page by page. A page that fails to parse
    fails alone; when the prediction of a batch fails, its pages are predicted one by
    one, so only the page at fault gets an ``error``.

    Raises
    ------
    PageTimeout
        Only inside a :func:`time_budget` block (:func:`page_record` turns it into the
        page's ``error``); every other failure is a record's ``error``.
    """
    out: list[dict | None] = [None] * len(pages)
    todo: list[int] = []
    for i, page in enumerate(pages):
        problem = page_problem(page, max_bytes)
        if problem is None:
            todo.append(i)
        else:
            out[i] = failed_record(page, problem)
    fast = all(hasattr(model, a) for a in ("predict_columns", "probability", "threshold"))
    if favor is not None or (threshold is not None and fast):
        from chromesift.models.rules import pick_threshold

        base = getattr(model, "threshold", None)
        if base is None:
            raise UserError("this model has no threshold to move (favor)")
        threshold = pick_threshold(base, threshold, favor)
    check_scope(model, scope)  # the call's mistake, not a page's
    for chunk in chunked(todo, max(1, batch_pages)):
        if fast:
            _columns_chunk(model, pages, chunk, out, threshold, detail, scope)
            continue
        for i in chunk:  # a stand-in model: its own classify, page by page
            page = pages[i]
            try:
                extra = {} if threshold is None else {"threshold": threshold}
                if scope is not None:
                    extra["scope"] = scope
                frame = model.classify(_as_document(page.document), format=page.format, **extra)
                out[i] = {**_head(page), **result_record(frame, detail)}
            except PageTimeout:
                raise
            except Exception as exc:  # a page may fail in any way; the others go on
                out[i] = failed_record(page, _describe(exc))
    return out  # type: ignore[return-value]


def check_scope(model: Any, scope: str | None) -> None:
    """A :class:`UserError` for an unknown ``scope``, or one ``model`` cannot read pages with
    (:meth:`chromesift.Model.check_scope`); None passes."""
    if scope is None:
        return
    from chromesift.models.rules import scope_convention

    try:
        (getattr(model, "check_scope", None) or scope_convention)(scope)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _columns_chunk(model: Any, pages: Sequence[Page], chunk: list[int], out: list,
                   threshold: float | None = None, detail: bool = False, scope: str | None = None) -> None:
    """The fast path for a chunk of pages: parse to columns, predict together, decide."""
    from chromesift.models.rules import caption_rows, decide, page_captions, roles

    cut = model.threshold if threshold is None else threshold

    parsed: list[tuple[int, dict]] = []
    for i in chunk:
        try:
            parsed.append((i, to_columns(_as_document(pages[i].document), format=pages[i].format)))
        except PageTimeout:
            raise
        except Exception as exc:
            out[i] = failed_record(pages[i], _describe(exc))
    try:
        # (scope only where asked for: a stand-in model's predict_columns need not know it)
        extra = {} if scope is None else {"scope": scope}
        scores = model.predict_columns([cols for _, cols in parsed], **extra) if parsed else []
    except PageTimeout:
        raise
    except Exception:  # one page fails its batch: predict them one by one
        scores = None
    for k, (i, cols) in enumerate(parsed):
        try:
            proba = scores[k] if scores is not None else model.predict_columns([cols], **extra)[0]
            keep, head = decide(cols, proba, cut, title=False, captions=page_captions(scope, cols))
            title = cols["text"][head] if head is not None else ""
            body = _record(cols["text"], keep.tolist(), model.probability(proba).tolist(), title)
            if detail:
                _add_detail(body, roles(keep, head, caption_rows(cols)), cols["tag"], cols["path"], cols["anc1"])
            out[i] = {**_head(pages[i]), **body}
        except PageTimeout:
            raise
        except Exception as exc:
            out[i] = failed_record(pages[i], _describe(exc))


def records_setup(bundle: Path | None, trusted: bool | str = False) -> Callable[[Any], list[dict] | Refused]:
    """In a worker process: load a bundle once; the handler (:func:`records_job`) classifies a
    list of pages into records.

    The setup of HTTP serving's workers (:class:`chromesift.runtime.pool.WorkerSet`); it
    imports no MLflow, so a worker starts with what classifying needs.

    Parameters
    ----------
    bundle
        Bundle folder (None: the shipped model).
    trusted
        As for :func:`chromesift.load_model` (the sha256 pinned where the model was logged,
        or False to load its ``model.skops``).
    """
    import chromesift

    model = chromesift.load_model(bundle, trusted=trusted)
    contextlib.ExitStack().enter_context(one_thread())  # held for the worker's life
    warm_up(model)
    return functools.partial(records_job, model)


@dataclass(frozen=True)
class Refused:
    """What a worker answers to a job it will not run because the caller asked for something
    the model cannot do (the reason), as opposed to a job that failed."""

    reason: str


def records_job(model: PageModel, job: list[Page] | tuple[list[Page], str | None]) -> list[dict] | Refused:
    """A serving worker's job: its pages' records, or :class:`Refused`.

    ``job`` is a list of pages, or ``(pages, scope)`` to read them with a scope (as for
    :func:`page_records`); a scope the model cannot read with is refused before any page.
    """
    pages, scope = (job, None) if isinstance(job, list) else job
    try:
        check_scope(model, scope)
    except UserError as exc:
        return Refused(str(exc))
    return page_records(model, pages, max_bytes=None, scope=scope)


def warm_up(model: PageModel) -> None:
    """Classify a small page of each format once, so a worker's first-call costs (lazy
    imports, parser set-up) are paid before it is ready, not out of a page's time budget."""
    with contextlib.suppress(Exception):  # a stand-in model may refuse it: no harm done
        page_records(model, [Page("warm-up", "<html><body><p>Warm-up.</p></body></html>", "html"),
                             Page("warm-up", "Warm-up.", "text")], max_bytes=None)


# --- models -------------------------------------------------------------------------------------


def open_model(path: Path | None, trusted: bool | str = False) -> PageModel:
    """Load a bundle for a command (the shipped model when ``path`` is None).

    :func:`chromesift.load_model` with the failures a user can act on as one message.

    Parameters
    ----------
    path
        Bundle folder, or None for the shipped default.
    trusted
        True, or the bundle's sha256, to load a bundle this machine did not write.

    Raises
    ------
    UserError
        When the bundle is missing, unreadable or untrusted, with the reason.
    """
    import chromesift

    try:
        return chromesift.load_model(path, trusted=trusted) if trusted is not False else chromesift.load_model(path)
    except BundleError as exc:
        where = f"model bundle {path}" if path is not None else "the default model bundle"
        raise UserError(f"cannot load {where}: {exc}") from None


def default_loader(trusted: bool | str = False) -> Loader:
    """:func:`open_model` as a loader, trusting what ``trusted`` says (picklable: workers run it)."""
    return functools.partial(open_model, trusted=trusted) if trusted else open_model


def load_with(loader: Loader, path: Path | None) -> PageModel:
    """Run ``loader``; any failure but a ChromesiftError becomes a UserError naming it."""
    try:
        return loader(path)
    except ChromesiftError:
        raise
    except Exception as exc:  # a loader is outside code: say what failed, no traceback
        raise UserError(f"cannot load the model: {type(exc).__name__}: {exc}") from None


def bundle_trust(folder: Path, trusted: bool | str = False) -> bool | str:
    """Decide here how another process or machine may load a bundle.

    Spark executors and the serving process load the bundle where this process cannot
    see; this process decides once, and they load exactly that model.

    Parameters
    ----------
    folder
        The bundle.
    trusted
        As for :func:`chromesift.load_model`: True, or the sha256 of its ``model.joblib``,
        to trust a bundle that is neither shipped nor written on this machine.

    Returns
    -------
    bool or str
        The sha256 of the ``model.joblib`` that may be unpickled (pass it as ``trusted``
        where the bundle is loaded, so a swapped file is refused there), or False when
        the bundle is to load from its ``model.skops`` (no code runs).

    Raises
    ------
    chromesift.errors.BundleError
        When the bundle is missing, altered, incompatible, or untrusted without a
        ``model.skops`` (:class:`~chromesift.models.UntrustedBundleError`, with its sha256).
    """
    from chromesift.models import UntrustedBundleError, check_trusted
    from chromesift.models.bundle import MODEL_FILE, SKOPS_FILE

    folder = Path(folder)
    try:
        return check_trusted(folder, trusted)["sha256"]
    except UntrustedBundleError:
        skops_only = not (folder / MODEL_FILE).is_file()
        if (folder / SKOPS_FILE).is_file() and (trusted is False or skops_only):
            return False
        raise
