"""The MLflow pyfunc flavour of a bundle, for ``mlflow models serve`` and ``spark_udf``.

Input: a DataFrame with an ``html`` column (read as :func:`chromesift.extract` reads a
page: format detected) or a ``text`` column (plain text, one paragraph a line), and an
optional ``id``. A row may fill either; ``html`` wins when both are set. Output: one row
per page with ``id`` (when given), ``main_text`` and ``paragraphs``, a JSON list of
``{"text", "is_content", "probability"}`` (as in the batch CLI's records).

The logged model holds the bundle folder as an artifact, the chromesift source as code
(so the serving environment needs only the pinned requirements), and the entry point as
*model code* (no pickled Python object). A request with a page over the size limit, too
many pages, or a row without a page is refused whole with HTTP 400 and a message naming
the row; the server goes on serving.

Limits come from the model config (``max_bytes``, ``max_pages``, set when logging) and
can be changed where the model is served with the environment variables
``CHROMESIFT_SERVE_MAX_BYTES`` and ``CHROMESIFT_SERVE_MAX_PAGES``.

Trust: when the model is logged or saved, this machine decides whether the bundle's
pickle may be loaded (shipped, written here, or ``trusted``, see
:mod:`chromesift.models.bundle`) and the model config pins its sha256 for the serving
side. Serving any MLflow model runs the code it carries: serve only models you trust.

This module imports MLflow; the library call (:mod:`chromesift`) does not need it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from chromesift.runtime.core import Page, bundle_trust, page_records, page_size

#: Default size cap of one page of a request, in bytes (UTF-8): a page over it refuses the
#: whole request. Lower than the batch budget (:data:`chromesift.runtime.core.MAX_PAGE_BYTES`):
#: a request holds up to :data:`SERVE_MAX_PAGES` pages in the server's memory at once.
SERVE_MAX_PAGE_BYTES = 5_000_000
#: Default number of pages in one request.
SERVE_MAX_PAGES = 1_000
ENV_MAX_BYTES = "CHROMESIFT_SERVE_MAX_BYTES"
ENV_MAX_PAGES = "CHROMESIFT_SERVE_MAX_PAGES"
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
    """Request limits of a served model."""

    max_bytes: int = SERVE_MAX_PAGE_BYTES
    max_pages: int = SERVE_MAX_PAGES

    @classmethod
    def resolve(cls, model_config: dict | None, environ: dict | None = None) -> Limits:
        """The model config's limits, overridden by the environment variables."""
        environ = os.environ if environ is None else environ
        config = model_config or {}
        values = {}
        for key, env, default in (("max_bytes", ENV_MAX_BYTES, SERVE_MAX_PAGE_BYTES),
                                  ("max_pages", ENV_MAX_PAGES, SERVE_MAX_PAGES)):
            source, raw = (env, environ[env]) if environ.get(env) else (key, config.get(key, default))
            try:
                values[key] = int(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{source} must be a whole number, not {raw!r}") from None
            if values[key] < 1:
                raise ValueError(f"{source} must be at least 1, not {values[key]}")
        return cls(**values)


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


def signature() -> ModelSignature:
    """The pyfunc's signature."""
    return ModelSignature(inputs=input_schema(), outputs=output_schema())


def input_example() -> pd.DataFrame:
    """A one-page request."""
    return pd.DataFrame({"id": ["example"], "html": [_EXAMPLE_PAGE]})


def _present(value: Any) -> bool:
    return isinstance(value, (str, bytes))  # missing cells arrive as None or NaN


def predict_frame(model: Any, model_input: pd.DataFrame, limits: Limits | None = None) -> pd.DataFrame:
    """Classify the pages of a request frame; the pyfunc's ``predict`` without MLflow's wrapping.

    Parameters
    ----------
    model
        A loaded :class:`chromesift.Model`.
    model_input
        Rows with ``html`` or ``text`` and an optional ``id``.
    limits
        Size and count limits (default: :data:`SERVE_MAX_PAGE_BYTES`, :data:`SERVE_MAX_PAGES`).

    Returns
    -------
    pandas.DataFrame
        ``id`` (when the input has that column), ``main_text``, ``paragraphs`` (JSON).

    Raises
    ------
    mlflow.exceptions.MlflowException
        ``INVALID_PARAMETER_VALUE`` (HTTP 400) for input that is not a DataFrame, has
        too many rows, a row without a page, a page over the size limit, or a page the
        parser rejects; the message names the row.
    """
    limits = limits or Limits()
    if isinstance(model_input, dict):
        model_input = pd.DataFrame(model_input)
    if not isinstance(model_input, pd.DataFrame):
        raise _invalid(f"expected a table of pages (columns id, html or text), got {type(model_input).__name__}")
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
    records = page_records(model, pages, max_bytes=None)
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


class ChromesiftPyfunc(mlflow.pyfunc.PythonModel):
    """The pyfunc: a bundle (artifact ``bundle``) behind MLflow's predict interface."""

    def load_context(self, context: Any) -> None:
        """Load (and verify) the bundle; read the request limits."""
        import chromesift

        config = getattr(context, "model_config", None) or {}
        # the sha256 decided where the model was logged; False: load model.skops
        trusted = config.get("bundle_trust", False)
        self.model = chromesift.load_model(Path(context.artifacts["bundle"]), trusted=trusted)
        self.limits = Limits.resolve(config)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Main text and paragraph labels of every page (see :func:`predict_frame`)."""
        return predict_frame(self.model, model_input, self.limits)


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
