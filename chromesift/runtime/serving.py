"""The MLflow pyfunc flavour of a bundle, for ``mlflow models serve`` and ``spark_udf``.

Input: a DataFrame with an ``html`` column (read as :func:`chromesift.extract` reads a
page: format detected) or a ``text`` column (plain text, one paragraph a line), and an
optional ``id``. A row may fill either; ``html`` wins when both are set. Output: one row
per page with ``id`` (when given), ``main_text`` and ``paragraphs``, a JSON list of
``{"text", "is_content", "probability"}`` (as in the batch CLI's records).

A request may set the parameter ``scope`` (``"auto"``, the default: an article's body, or all
of a page that says it is a forum thread; ``"article"``; or ``"all"``: all main content,
forum posts and listings included, as :func:`chromesift.extract` reads with ``scope``):
``{"dataframe_split": {...}, "params": {"scope": "all"}}``. A scope the model cannot read
with is refused with HTTP 400.

The logged model holds the bundle folder as an artifact, the chromesift source as code
(so the serving environment needs only the pinned requirements), and the entry point as
*model code* (no pickled Python object). A request with a page over the size limit, too
many pages, or a row without a page is refused whole with HTTP 400 and a message naming
the row; the server goes on serving.

Limits come from the model config (``max_bytes``, ``max_pages``, set when logging) and
can be changed where the model is served with the environment variables
``CHROMESIFT_SERVE_MAX_BYTES`` and ``CHROMESIFT_SERVE_MAX_PAGES``.

Time: the served model classifies in worker processes (:class:`PageWorkers`), never in
the server's own threads, and a request gets :attr:`Limits.timeout` seconds
(``CHROMESIFT_SERVE_TIMEOUT``; at most 90% of MLflow's own request timeout,
``MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT``, default 60 s, so the answer is chromesift's).
A request over it is answered with HTTP 504 and its worker is killed, so no work goes on
for a client that got its answer (a page can hold lxml's C parser for minutes; nothing
else could stop it). ``CHROMESIFT_SERVE_WORKERS`` (default 1) worker processes classify
requests side by side; a request that finds none free within its time gets HTTP 503. The
time counts from the moment the model gets the request, waiting for a free worker
included; after a kill a fresh worker loads in a few seconds, so a limit of less than
some ten seconds makes the request after a slow one fail too.
JSON nested too deeply to parse is answered with 400 (:func:`guard_request_parsing`).

Trust: when the model is logged or saved, this machine decides whether the bundle's
pickle may be loaded (shipped, written here, or ``trusted``, see
:mod:`chromesift.models.bundle`) and the model config pins its sha256 for the serving
side. Serving any MLflow model runs the code it carries: serve only models you trust.

This module imports MLflow; the library call (:mod:`chromesift`) does not need it.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import DEADLINE_EXCEEDED, INTERNAL_ERROR, TEMPORARILY_UNAVAILABLE
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from chromesift.errors import ChromesiftError
from chromesift.runtime.core import (
    Page,
    Refused,
    bundle_trust,
    check_scope,
    page_records,
    page_size,
    records_setup,
)
from chromesift.runtime.pool import Failure, WorkerSet, WorkerStartError

#: Default size cap of one page of a request, in bytes (UTF-8): a page over it refuses the
#: whole request. Lower than the batch budget (:data:`chromesift.runtime.core.MAX_PAGE_BYTES`):
#: a request holds up to :data:`SERVE_MAX_PAGES` pages in the server's memory at once.
SERVE_MAX_PAGE_BYTES = 5_000_000
#: Default number of pages in one request.
SERVE_MAX_PAGES = 1_000
ENV_MAX_BYTES = "CHROMESIFT_SERVE_MAX_BYTES"
ENV_MAX_PAGES = "CHROMESIFT_SERVE_MAX_PAGES"
ENV_TIMEOUT = "CHROMESIFT_SERVE_TIMEOUT"
ENV_WORKERS = "CHROMESIFT_SERVE_WORKERS"
#: MLflow's request timeout of its scoring server: the variable and its default (seconds).
ENV_MLFLOW_TIMEOUT = "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"
MLFLOW_TIMEOUT = 60.0
#: Share of MLflow's request timeout a request may take here at most (the rest is for
#: reading the request and answering, so the client gets chromesift's answer).
TIMEOUT_SHARE = 0.9
#: Default seconds a request may take: just under MLflow's default request timeout.
SERVE_TIMEOUT = TIMEOUT_SHARE * MLFLOW_TIMEOUT
#: Seconds a fresh worker may take to load the bundle.
WORKER_STARTUP = 300.0
#: Distributions the served model imports (pinned to this environment's versions).
REQUIREMENTS = ("scikit-learn", "pandas", "numpy", "joblib", "lxml", "charset-normalizer", "pyarrow")

_ENTRY_POINT = '''\
"""chromesift pyfunc entry point (MLflow models from code), written by chromesift.runtime.serving."""

import mlflow.models

from chromesift.runtime.serving import ChromesiftPyfunc

mlflow.models.set_model(ChromesiftPyfunc())
'''
_EXAMPLE_PAGE = (
    "<html><head><title>Tide pools</title></head><body>"
    "<nav><a href='/'>Home</a> | <a href='/news'>News</a></nav>"
    "<article><h1>Tide pools at dawn</h1><p>Before the first ferry leaves, the rock shelf "
    "below the lighthouse turns into a small city of anemones, crabs and sea stars.</p></article>"
    "<footer>Copyright 2026</footer></body></html>"
)


def _invalid(message: str) -> MlflowException:
    # INVALID_PARAMETER_VALUE: the scoring server answers 400 with this message
    return MlflowException.invalid_parameter_value(message)


@dataclass(frozen=True)
class Limits:
    """Request limits of a served model.

    ``max_bytes`` and ``max_pages`` are part of the model (its config); ``timeout`` (seconds
    a request may take) and ``workers`` (worker processes) belong to where it is served and
    come from the environment only.
    """

    max_bytes: int = SERVE_MAX_PAGE_BYTES
    max_pages: int = SERVE_MAX_PAGES
    timeout: float = SERVE_TIMEOUT
    workers: int = 1

    @classmethod
    def resolve(cls, model_config: dict | None, environ: dict | None = None) -> Limits:
        """The model config's limits, overridden by the environment variables."""
        environ = os.environ if environ is None else environ
        config = model_config or {}
        values: dict[str, Any] = {}
        for key, env, default in (("max_bytes", ENV_MAX_BYTES, SERVE_MAX_PAGE_BYTES),
                                  ("max_pages", ENV_MAX_PAGES, SERVE_MAX_PAGES)):
            source, raw = (env, environ[env]) if environ.get(env) else (key, config.get(key, default))
            values[key] = _at_least_1(raw, source)
        values["workers"] = _at_least_1(environ[ENV_WORKERS], ENV_WORKERS) if environ.get(ENV_WORKERS) else 1
        most = TIMEOUT_SHARE * _seconds(environ.get(ENV_MLFLOW_TIMEOUT) or MLFLOW_TIMEOUT, ENV_MLFLOW_TIMEOUT)
        own = environ.get(ENV_TIMEOUT)
        values["timeout"] = min(most, _seconds(own, ENV_TIMEOUT)) if own else most
        return cls(**values)


def _at_least_1(raw: Any, source: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{source} must be at least 1, not {value}")
    return value


def _seconds(raw: Any, source: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be a number of seconds, not {raw!r}") from None
    if not value > 0:  # NaN too
        raise ValueError(f"{source} must be more than 0 seconds, not {raw!r}")
    return value if math.isfinite(value) else math.inf


def input_schema() -> Schema:
    """``id``, ``html`` and ``text`` strings, each optional (a row needs html or text)."""
    return Schema([
        ColSpec("string", "id", required=False),
        ColSpec("string", "html", required=False),
        ColSpec("string", "text", required=False),
    ])


def output_schema() -> Schema:
    """``id`` (when the input has one), ``main_text`` and ``paragraphs`` (JSON)."""
    return Schema([
        ColSpec("string", "id", required=False),
        ColSpec("string", "main_text"),
        ColSpec("string", "paragraphs"),
    ])


#: The scope a request reads its pages with when it sets none.
DEFAULT_SCOPE = "auto"


def params_schema() -> ParamSchema:
    """The request parameters: ``scope`` (default :data:`DEFAULT_SCOPE`)."""
    return ParamSchema([ParamSpec("scope", "string", DEFAULT_SCOPE)])


def signature() -> ModelSignature:
    """The pyfunc's signature."""
    return ModelSignature(inputs=input_schema(), outputs=output_schema(), params=params_schema())


def input_example() -> pd.DataFrame:
    """A one-page request."""
    return pd.DataFrame({"id": ["example"], "html": [_EXAMPLE_PAGE]})


def _present(value: Any) -> bool:
    return isinstance(value, (str, bytes))  # missing cells arrive as None or NaN


def predict_frame(
    model: Any,
    model_input: pd.DataFrame,
    limits: Limits | None = None,
    *,
    classify: Callable[..., list[dict]] | None = None,
    scope: str | None = None,
) -> pd.DataFrame:
    """Classify the pages of a request frame; the pyfunc's ``predict`` without MLflow's wrapping.

    Parameters
    ----------
    model
        A loaded :class:`chromesift.Model` (unused when ``classify`` is given).
    model_input
        Rows with ``html`` or ``text`` and an optional ``id``.
    limits
        Size and count limits (default: :data:`SERVE_MAX_PAGE_BYTES`, :data:`SERVE_MAX_PAGES`).
    classify
        Turns the request's pages into their records (default: in this process with
        ``model``; the served model passes its :class:`PageWorkers`), called as
        ``classify(pages, scope=scope)``.
    scope
        ``"auto"``, ``"article"`` or ``"all"`` (None: ``"auto"``), as for
        :func:`chromesift.extract`.

    Returns
    -------
    pandas.DataFrame
        ``id`` (when the input has that column), ``main_text``, ``paragraphs`` (JSON).

    Raises
    ------
    mlflow.exceptions.MlflowException
        ``INVALID_PARAMETER_VALUE`` (HTTP 400) for input that is not a DataFrame, has
        too many rows, a row without a page, a page over the size limit, or a page the
        parser rejects (the message names the row), and for a scope the model cannot read with.
    """
    limits = limits or Limits()
    try:
        # the scope's name here; whether the model reads with it, here or in the worker
        check_scope(model if classify is None else None, scope)
    except ChromesiftError as exc:
        raise _invalid(str(exc)) from None
    if isinstance(model_input, dict):
        try:
            model_input = pd.DataFrame(model_input)
        except (ValueError, TypeError) as exc:  # columns of different lengths, scalars only, ...
            raise _invalid(f"expected a table of pages (columns id, html or text): {exc}") from None
    if not isinstance(model_input, pd.DataFrame):
        raise _invalid(f"expected a table of pages (columns id, html or text), got {type(model_input).__name__}")
    if model_input.columns.duplicated().any():
        twice = sorted({str(c) for c in model_input.columns[model_input.columns.duplicated()]})
        raise _invalid(f"column(s) {', '.join(twice)} given more than once")
    if "html" not in model_input.columns and "text" not in model_input.columns:
        raise _invalid(f"no 'html' or 'text' column (columns: {', '.join(map(str, model_input.columns)) or 'none'})")
    if len(model_input) > limits.max_pages:
        raise _invalid(f"{len(model_input)} pages in one request, over the limit of {limits.max_pages}")
    ids = list(model_input["id"]) if "id" in model_input.columns else None
    html = list(model_input["html"]) if "html" in model_input.columns else [None] * len(model_input)
    text = list(model_input["text"]) if "text" in model_input.columns else [None] * len(model_input)

    def where(i: int) -> str:
        return f"row {i}" + (f" (id {ids[i]!r})" if ids is not None and _present(ids[i]) else "")

    pages = []
    for i, (h, t) in enumerate(zip(html, text, strict=True)):
        page = Page(i, h, None) if _present(h) else Page(i, t, "text")  # html: format detected
        if not _present(page.document):
            raise _invalid(f"{where(i)}: no page (an 'html' or 'text' string)")
        if (size := page_size(page.document)) > limits.max_bytes:
            raise _invalid(f"{where(i)}: page is {size} bytes, over the limit of {limits.max_bytes}")
        pages.append(page)
    # the cap above refused the request already: no per-page budget on top
    if classify is None:
        records = page_records(model, pages, max_bytes=None, scope=scope)
    else:
        records = classify(pages, scope=scope)
    for i, rec in enumerate(records):
        if "error" in rec:
            raise _invalid(f"{where(i)}: cannot classify the page ({rec['error']})")
    out = pd.DataFrame({
        "main_text": [rec["text"] for rec in records],
        "paragraphs": [json.dumps(rec["paragraphs"], ensure_ascii=False) for rec in records],
    })
    if ids is not None:
        out.insert(0, "id", [str(v) if _present(v) else None for v in ids])
    return out


class PageWorkers:
    """Classify a request's pages in worker processes, killed when the request is over its time.

    Each worker loads the bundle once (:func:`chromesift.runtime.core.records_setup`);
    a request is one job (:class:`chromesift.runtime.pool.WorkerSet`). Calling it with the
    pages gives their records, or raises the :class:`MlflowException` the client gets.

    Parameters
    ----------
    bundle
        Bundle folder.
    trusted
        As for :func:`chromesift.load_model`.
    limits
        ``timeout`` (seconds a request may take) and ``workers``.
    setup
        Run as ``setup(bundle, trusted)`` in each worker, it returns the handler that turns
        a list of pages into their records (module-level: workers import it by name).

    Raises
    ------
    chromesift.errors.ChromesiftError
        When the first worker cannot load the bundle (the reason, from the worker).
    """

    def __init__(self, bundle: Path, trusted: bool | str, limits: Limits, *,
                 setup: Callable[..., Callable[[list[Page]], list[dict]]] = records_setup):
        self.timeout = limits.timeout
        self._workers = WorkerSet(setup, (Path(bundle), trusted), workers=limits.workers,
                                  startup_timeout=WORKER_STARTUP)
        self._closed = weakref.finalize(self, self._workers.close)
        try:
            self._workers.wait_ready(WORKER_STARTUP)
        except WorkerStartError as exc:
            self.close()
            raise ChromesiftError(f"cannot load the bundle {bundle} in a worker process: "
                                  f"{exc.reason or exc}{_MAIN_HINT if exc.kind == 'exited' else ''}") from None

    def __call__(self, pages: Sequence[Page], scope: str | None = None) -> list[dict]:
        """The records of ``pages`` (read with ``scope``), classified in a worker within
        :attr:`timeout` seconds."""
        timeout = self.timeout if math.isfinite(self.timeout) else None
        job = list(pages) if scope is None else (list(pages), scope)
        try:
            outcome = self._workers.run(job, timeout=timeout)
        except WorkerStartError as exc:
            raise MlflowException(f"a worker process could not load the model: {exc.reason or exc}",
                                  error_code=INTERNAL_ERROR) from None
        if isinstance(outcome, Refused):
            raise _invalid(outcome.reason)
        if not isinstance(outcome, Failure):
            return outcome
        if outcome.kind == "timeout":
            raise MlflowException(
                f"the request took longer than the {self.timeout:g} s limit ({ENV_TIMEOUT}) and its work "
                "was stopped; send fewer pages at once, or leave out the page that takes long",
                error_code=DEADLINE_EXCEEDED)
        if outcome.kind == "busy":
            raise MlflowException(
                f"no worker process became free within the {self.timeout:g} s limit; the server is busy "
                f"({ENV_WORKERS} sets how many there are)", error_code=TEMPORARILY_UNAVAILABLE)
        if outcome.kind == "died":
            raise MlflowException(
                f"the worker process classifying the request died (exit code {outcome.exitcode})",
                error_code=INTERNAL_ERROR)
        raise MlflowException(f"classifying the request failed: {outcome.detail}", error_code=INTERNAL_ERROR)

    def close(self) -> None:
        """Stop the worker processes."""
        self._closed()


#: Why a worker may exit at once: a script run directly is imported again in each worker
#: process (multiprocessing's ``spawn``), and one that loads the model at import starts over.
_MAIN_HINT = (" (its error is above). Run from a script, the model must be loaded under "
              "`if __name__ == \"__main__\":`, since each worker process imports the main module")


def guard_request_parsing() -> None:
    """Make MLflow's scoring server answer HTTP 400, not 500, to JSON nested too deeply to read.

    The server parses a request's JSON before the model sees it, and ``json.loads`` raises
    RecursionError on nesting some thousand levels deep, which the server answers with 500
    and a traceback in its log. The served model wraps the server's JSON decoding once, at
    load, turning that one error into the 400 that other unreadable JSON gets. (MLflow's
    private ``_decode_json_input``, at the pinned MLflow version; when it is not there
    nothing is changed.)
    """
    try:
        from mlflow.pyfunc import scoring_server
    except ImportError:  # pragma: no cover - the serving extra is not installed
        return
    decode = getattr(scoring_server, "_decode_json_input", None)
    if not callable(decode) or getattr(decode, "chromesift_guard", False):
        return

    @functools.wraps(decode)
    def guarded(json_input: Any) -> Any:
        try:
            return decode(json_input)
        except RecursionError:
            raise _invalid("Ensure that input is a valid JSON formatted string: it is nested too "
                           "deeply to read") from None

    guarded.chromesift_guard = True  # type: ignore[attr-defined]
    scoring_server._decode_json_input = guarded


class ChromesiftPyfunc(mlflow.pyfunc.PythonModel):
    """The pyfunc: a bundle (artifact ``bundle``) behind MLflow's predict interface."""

    def load_context(self, context: Any) -> None:
        """Start a worker that loads (and verifies) the bundle; read the request limits."""
        config = getattr(context, "model_config", None) or {}
        # the sha256 decided where the model was logged; False: load model.skops
        trusted = config.get("bundle_trust", False)
        self.limits = Limits.resolve(config)
        guard_request_parsing()
        self.workers = PageWorkers(Path(context.artifacts["bundle"]), trusted, self.limits)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Main text and paragraph labels of every page (see :func:`predict_frame`), in a worker;
        ``params`` may set ``scope``."""
        return predict_frame(None, model_input, self.limits, classify=self.workers,
                             scope=(params or {}).get("scope"))


# --- logging and saving -------------------------------------------------------------------


def requirements() -> list[str]:
    """Pinned requirements of the served model (chromesift itself travels as code)."""
    import importlib.metadata as md

    return [f"{name}=={md.version(name)}" for name in REQUIREMENTS]


def _package_copy(folder: Path) -> Path:
    """A copy of the chromesift package without the shipped model and caches."""
    source = Path(__file__).resolve().parents[1]  # chromesift/, not chromesift/runtime/
    target = folder / "chromesift"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.rmtree(target / "models" / "default", ignore_errors=True)
    return target


def _model_kwargs(bundle_dir: Path, folder: Path, limits: Limits, trusted: bool | str) -> dict:
    bundle_dir = Path(bundle_dir)
    trust = bundle_trust(bundle_dir, trusted)  # a bad bundle fails here, not in the server
    entry = folder / "chromesift_pyfunc.py"
    entry.write_text(_ENTRY_POINT, encoding="utf-8")
    return {
        "python_model": str(entry),
        "artifacts": {"bundle": str(bundle_dir.resolve())},
        "code_paths": [str(_package_copy(folder))],
        "signature": signature(),
        "input_example": input_example(),
        "pip_requirements": requirements(),
        "model_config": {"max_bytes": limits.max_bytes, "max_pages": limits.max_pages,
                         "bundle_trust": trust},
    }


def log_pyfunc_model(
    bundle_dir: Path, name: str = "pyfunc", *, trusted: bool | str = False, limits: Limits | None = None
) -> None:
    """Log the pyfunc flavour of a bundle in the active MLflow run.

    Parameters
    ----------
    bundle_dir
        The bundle folder (verified first).
    name
        Name of the logged model in the run.
    trusted
        True, or the bundle's sha256, for a bundle neither shipped nor written on this
        machine (see :func:`chromesift.load_model`).
    limits
        Request limits stored in the model config (default: :class:`Limits`).

    Raises
    ------
    RuntimeError
        When no MLflow run is active.
    chromesift.errors.BundleError
        When the bundle is missing, altered, made with another scikit-learn, or untrusted.
    """
    if mlflow.active_run() is None:
        raise RuntimeError("log_pyfunc_model logs into the active MLflow run; start one first")
    with tempfile.TemporaryDirectory(prefix="chromesift-pyfunc-") as tmp:
        mlflow.pyfunc.log_model(name=name, **_model_kwargs(bundle_dir, Path(tmp), limits or Limits(), trusted))


def save_pyfunc_model(
    bundle_dir: Path, path: Path, *, trusted: bool | str = False, limits: Limits | None = None
) -> Path:
    """Write the pyfunc flavour of a bundle to a folder (replaced whole), for serving without tracking.

    Parameters
    ----------
    bundle_dir
        The bundle folder (verified first).
    path
        MLflow model folder to write.
    trusted
        As for :func:`log_pyfunc_model`.
    limits
        Request limits stored in the model config (default: :class:`Limits`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="chromesift-pyfunc-") as tmp:
            mlflow.pyfunc.save_model(str(staging / "model"), **_model_kwargs(bundle_dir, Path(tmp), limits or Limits(), trusted))
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging / "model", path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
