"""A tracked training run: grouped CV, threshold, final fit, bundle, MLflow.

Faults, and what they cost:

- MLflow store unreachable, locked or read-only: the bundle is still written; the
  first failure is logged as an error when it happens, and
  :attr:`TrainResult.tracking_error` says what was not logged. With
  ``require_tracking`` the run stops before loading any data instead.
- SIGTERM or SIGINT: the MLflow run is marked KILLED and the exception propagates;
  bundles are written atomically, so there is either the previous bundle or the new
  one, never part of one.
- Two runs at once with the same name: each gets its own MLflow run and bundle. The
  bundle at ``out_dir/name`` is replaced only if it is still the one that was there
  when the run started; otherwise the later run writes ``<name>-<UTC time>-<pid>``
  beside it (see :func:`chromesift.models.bundle.save_bundle`) and says so.

Lineage: the run is tagged (:mod:`chromesift.tracking` keys) with its stage, the
bundle and the bundle's sha256; the corpus files it learned from are its dataset
inputs; ``register`` makes the logged pyfunc model (which holds the bundle) a new
version of a registered model, tagged with the bundle's sha256, which
:func:`chromesift.tracking.resolve_model_uri` turns back into a bundle folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from chromesift.data.build import load_tables
from chromesift.errors import UserError
from chromesift.metrics import calibration_summary, weighted_prf
from chromesift.models.bundle import bundle_identity, save_bundle
from chromesift.plots import training_plots
from chromesift.tracking import (
    BUNDLE_ARTIFACT,
    TAG_BUNDLE,
    TAG_BUNDLE_SHA256,
    TAG_DATASETS,
    TAG_ERROR,
    TAG_GIT_COMMIT,
    TAG_STAGE,
    artifact_progress,
    git_commit,
    log_corpus_inputs,
    register_run_model,
    start_run,
    tracking_uri,
)
from chromesift.train import core
from chromesift.train.config import HUMAN_FULLTEXT, TrainConfig

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run produced."""

    bundle: Path
    threshold: float
    cv: pd.DataFrame  # per dataset and source
    run_id: str | None
    seconds: float
    #: logging steps that did not reach MLflow (empty when tracking is complete or off)
    not_logged: list[str] = field(default_factory=list)
    #: what went wrong with tracking and what it cost, or None
    tracking_error: str | None = None
    #: ``models:/NAME/VERSION`` of the registered model version, or None
    model_version: str | None = None


def calibration(oof: pd.DataFrame) -> dict:
    """Reliability curve (ten bins), expected calibration error, Brier score and the largest
    gap of a bin, over the out-of-fold probabilities of every labeled paragraph (the
    calibrated ones where ``oof`` has them, as :func:`~chromesift.train.core.grouped_cv` gives)."""
    y = oof["label"].to_numpy(dtype=float)
    p = oof["calibrated" if "calibrated" in oof.columns else "probability"].to_numpy(dtype=float)
    return calibration_summary(y, p)


def _platt_lines(platt: tuple[float, float] | None) -> list[str]:
    if platt is None:
        return ["The probabilities are the classifier's own (trained without `calibrate`).", ""]
    a, b = platt
    return [
        "The reported probabilities are calibrated: p = 1 / (1 + exp(-("
        f"{a:.3f} logit(s) {'+' if b >= 0 else '-'} {abs(b):.3f}))) of the classifier's score s, "
        "fitted on out-of-fold predictions whose folds are whole datasets. "
        "The decisions (threshold above) are made on s.",
        "",
    ]


def permutation_importances(pipe, rows: pd.DataFrame, config: TrainConfig, n_rows: int = 20000) -> pd.Series:
    """How much length-weighted F1 drops when one feature is shuffled (on a sample)."""
    from sklearn.inspection import permutation_importance

    rng = np.random.default_rng(config.random_state)
    lab = rows["label"].to_numpy(dtype=float)
    idx = np.flatnonzero(np.isfinite(lab))
    idx = np.sort(rng.choice(idx, size=min(n_rows, len(idx)), replace=False))
    sample = rows.iloc[idx]
    F = pipe[0].transform(sample)
    clf = pipe[-1]
    books = [c for c in F.columns if c.startswith("_")]
    res = permutation_importance(
        clf, F, lab[idx].astype(int), scoring="f1", n_repeats=1,
        random_state=config.random_state, sample_weight=sample["text"].str.len().to_numpy(dtype=float),
    )
    imp = pd.Series(res.importances_mean, index=F.columns).drop(index=books)
    return imp.sort_values(ascending=False)


#: how the card says the decision threshold was chosen
THRESHOLD_TUNED = "tuned on grouped cross-validation"
THRESHOLD_GIVEN = "given in the training settings"
THRESHOLD_DEFAULT = "the default: no cross-validation to tune it on"


def report_markdown(config: TrainConfig, cv: pd.DataFrame, threshold: float, info: dict,
                    threshold_source: str = THRESHOLD_TUNED) -> str:
    """The bundle's model card (``threshold_source``: how the threshold was chosen)."""
    lines = [
        f"# chromesift model `{config.name}`",
        "",
        f"Trained {time.strftime('%Y-%m-%d')} on {sum(info.get('pages', {}).values())} pages.",
        f"Decision threshold: {threshold:.2f} ({threshold_source}).",
        "",
        "## Training data and licenses",
        "",
        "| dataset | pages | license |",
        "|---|---|---|",
    ]
    for ds in info.get("datasets", []):
        lines.append(f"| {ds} | {info.get('pages', {}).get(ds, '')} | {info.get('licenses', {}).get(ds, '')} |")
    if len(cv):
        lines += [
            "",
            f"## Grouped (by site) {config.cv_folds}-fold cross-validation, paragraph level",
            "",
            "| dataset | source | paragraphs | F1 | length-weighted P | R | F1 |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in cv.itertuples():
            lines.append(
                f"| {r.dataset} | {r.source} | {r.paragraphs} | {r.f1:.3f} | "
                f"{r.len_precision:.3f} | {r.len_recall:.3f} | {r.len_f1:.3f} |"
            )
    cal = info.get("calibration")
    if cal and sum(cal["reliability"]["count"]):
        curve = cal["reliability"]
        lines += [
            "",
            "## Calibration, grouped cross-validation (out-of-fold, HTML and text pooled)",
            "",
            f"Brier score {cal['brier']:.4f}, expected calibration error {cal['ece']:.3f}, "
            f"largest gap of a bin {cal['worst_gap']:.3f}.",
            "",
            *_platt_lines(info.get("platt")),
            "| predicted | paragraphs | mean predicted | observed share of content |",
            "|---|---|---|---|",
        ]
        for lo, hi, n, mp, ob in zip(curve["bin_lower"], curve["bin_upper"], curve["count"],
                                     curve["mean_predicted"], curve["observed"], strict=True):
            if n:
                lines.append(f"| {lo:.1f}-{hi:.1f} | {n} | {mp:.3f} | {ob:.3f} |")
    lines += ["", "A bundle is a pickle: load only bundles you trust.", ""]
    return "\n".join(lines)


def _skops_trusted(pipe) -> list[str]:
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(pipe))


class TrackingError(UserError):
    """The MLflow store could not be used and the run was asked to require it."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) during training: the run is marked KILLED and no bundle is half-written."""


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`TrainingInterrupted` (SIGINT already interrupts).

    Python's default for SIGTERM is to die at once, which would leave the MLflow run
    RUNNING forever. A second signal during the clean-up is ignored. Only the main
    thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum: int, frame: object) -> None:
        if fired:
            return
        fired.append(signum)
        raise TrainingInterrupted(f"{signal.Signals(signum).name} received")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Tracking:
    """The MLflow side of a run, where a failing store costs the log, not the model.

    Each logging step runs through :meth:`step`; the first failure is kept and every
    later step is skipped and listed as not logged (a locked or unreachable store
    would otherwise make each call wait out its own timeout), except the run's final
    status, which is always attempted.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.run_id: str | None = None
        self.uri: str | None = None
        self.error: str | None = None
        self.not_logged: list[str] = []

    def step(self, what: str, fn: Callable[..., object], *args: object, **kwargs: object) -> bool:
        """Run one logging step; False (and the step recorded as not logged) when it fails or is skipped."""
        if not self.enabled:
            return False
        if self.error is not None:
            self.not_logged.append(what)
            return False
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            self.error = f"{what}: {_cause(exc)}"
            self.not_logged.append(what)
            log.error("MLflow logging failed at %s; the rest of the run is not logged (%s)", what, self.error)
            return False
        return True

    def start(self, config: TrainConfig) -> None:
        import mlflow

        self.uri = tracking_uri()

        def start() -> None:
            self.run_id = start_run(config.experiment, config.name).info.run_id

        self.step("the run", start)

        def params_and_tags() -> None:
            mlflow.log_params(config.params())
            mlflow.set_tags({TAG_GIT_COMMIT: git_commit(), TAG_STAGE: "train"})

        self.step("params and tags", params_and_tags)
        # an artifact now, so a read-only artifact store shows up before the expensive work
        self.step("config.json", mlflow.log_dict, {k: str(v) for k, v in config.params().items()}, "config.json")

    def end(self, status: str, error: BaseException | None = None) -> None:
        """Mark the run ``status`` (and tag the error); a failure here is recorded too."""
        if self.run_id is None:
            return
        import mlflow

        if error is not None and self.error is None:
            with contextlib.suppress(Exception):
                mlflow.set_tag(TAG_ERROR, f"{type(error).__name__}: {error}"[:5000])
        try:
            mlflow.end_run(status)
        except Exception as exc:
            self.not_logged.append(f"run status {status}")
            self.error = self.error or f"run status: {_cause(exc)}"

    def report(self, bundle: Path | None) -> str | None:
        """What was not logged and where the model is, or None when tracking is complete."""
        if self.error is None:
            return None
        where = f"The bundle {bundle} is complete" if bundle is not None else "No bundle was written"
        run = f"run {self.run_id} is incomplete" if self.run_id else "no MLflow run was created"
        return (
            f"MLflow tracking at {self.uri} failed ({self.error}); not logged: "
            f"{', '.join(dict.fromkeys(self.not_logged))}. {where}; {run}."
        )


def _cause(exc: BaseException) -> str:
    """The innermost cause of an exception in one line (MLflow wraps the store's own error).

    The chain is the one a traceback shows: ``__cause__``, else ``__context__`` unless
    suppressed.
    """
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if inner is None or id(inner) in seen:
            break
        seen.add(id(inner))
        exc = inner
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = next((line for line in lines if not line.startswith("(raised as a result")), "")
    return f"{type(exc).__name__}: {text}"[:300]


def run_training(
    config: TrainConfig,
    progress: bool = True,
    *,
    require_tracking: bool = False,
    skops: bool = True,
    register: str | None = None,
) -> TrainResult:
    """Train, evaluate by grouped CV, export a bundle and track it all in MLflow.

    Parameters
    ----------
    config
        The run's configuration.
    progress
        Show progress bars (the run's, and mlflow's artifact transfers).
    require_tracking
        Stop with :class:`TrackingError` before loading data when the MLflow store
        cannot start the run, take its params or store an artifact. Without it a
        broken store is reported in :attr:`TrainResult.tracking_error` and the bundle
        is written all the same.
    skops
        Also write ``model.skops`` into the bundle (for sharing, see
        :mod:`chromesift.models.bundle`).
    register
        Register the logged pyfunc model (it holds the bundle) in the MLflow model
        registry under this name, a new version tagged with the bundle's sha256. Needs
        tracking and ``log_model``.

    Returns
    -------
    TrainResult
        Where the bundle went (beside ``out_dir/name`` when a concurrent run wrote that
        meanwhile), the threshold, the CV table, the run id, what was not logged and
        the registered model version.

    Raises
    ------
    TrainingInterrupted
        On SIGTERM or SIGINT (a :class:`KeyboardInterrupt`): the MLflow run is marked
        KILLED, and no bundle, not even a partial one, is left by this run.
    """
    if require_tracking and not config.mlflow:
        raise UserError("tracking is required but MLflow is switched off (mlflow = false / --no-mlflow)")
    if register is not None:
        check_registered_name(register)
        if not config.mlflow or not config.log_model:
            raise UserError(f"registering {register!r} needs the run's logged model: MLflow is switched off "
                            "(mlflow = false / --no-mlflow) or the model is not logged (log_model = false)")
    t0 = time.perf_counter()
    target = Path(config.out_dir) / config.name
    seen = bundle_identity(target)  # a bundle that appears there during the run is not overwritten
    tracking = _Tracking(config.mlflow)
    with _signals_interrupt(), artifact_progress(progress):
        try:
            if config.mlflow:
                tracking.start(config)
                if tracking.error is not None and require_tracking:
                    raise TrackingError(f"{tracking.report(None)} Nothing was trained (tracking is required).")
            result = _train(config, tracking, target, seen, progress, skops, register)
            # a run that misses part of its log is not a finished one
            tracking.end("FAILED" if tracking.error is not None else "FINISHED")
        except BaseException as exc:
            tracking.end("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED", exc)
            raise
    result.seconds = time.perf_counter() - t0
    result.run_id = tracking.run_id
    result.not_logged = list(dict.fromkeys(tracking.not_logged))
    result.tracking_error = tracking.report(result.bundle)  # the first failure was logged as it happened
    return result


def check_registered_name(name: str) -> None:
    """Refuse, before any work, a registered model name that MLflow or a ``models:/`` URI cannot hold."""
    if not name.strip() or any(c in name for c in "/:@"):
        raise UserError(f"cannot register a model as {name!r}: a name is not empty and has no '/', ':' or '@'")


def _train(
    config: TrainConfig, tracking: _Tracking, target: Path, seen: str | None, progress: bool, skops: bool,
    register: str | None = None,
) -> TrainResult:
    from tqdm.auto import tqdm

    table = load_tables(config.tables, list(config.datasets) or None)
    info_file = Path(config.tables) / "build.json"
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
    present = sorted(table["dataset"].unique())
    info["datasets"] = present
    rows = core.prepare(table, config)
    log.info("training rows: %d from %d pages", len(rows), rows["doc_id"].nunique())

    sums = info.get("sha256") or {}

    def data_params() -> None:
        import mlflow

        for ds in present:
            mlflow.log_param(f"data.{ds}.sha256", sums.get(ds, "unknown"))
            mlflow.log_param(f"data.{ds}.pages", int((table["dataset"] == ds).groupby(table["doc_id"]).first().sum()))
        mlflow.set_tag(TAG_DATASETS, ",".join(present))
        # the corpus files the tables were built from (build.json has their sha256 when verified)
        log_corpus_inputs({ds: (f"{ds}.jsonl.xz", sums[ds]) for ds in present if sums.get(ds)}, "training")

    tracking.step("data params", data_params)
    steps = config.cv_folds + 1
    with tqdm(total=steps, desc="train", unit="fit", disable=not progress) as bar:
        cv = pd.DataFrame()
        oof = pd.DataFrame()
        threshold = config.threshold if config.threshold is not None else 0.5
        source = THRESHOLD_GIVEN if config.threshold is not None else THRESHOLD_DEFAULT
        if config.cv_folds:
            oof = core.grouped_cv(rows, config, progress=bar)
            if config.threshold is None:
                threshold, source = core.tune_threshold(oof), THRESHOLD_TUNED
            cv = core.cv_metrics(oof, threshold)
        final_cfg = replace(config, threshold=threshold)
        pipe = core.fit(rows, final_cfg)
        bar.update(1)
    human = cv[(cv["dataset"].isin(HUMAN_FULLTEXT)) & (cv["source"] == "html")] if len(cv) else cv
    summary = {"threshold": threshold}
    if len(human):
        summary["cv_len_f1_human_mean"] = float(human["len_f1"].mean())
    cal = calibration(oof) if len(oof) else None
    if cal is not None:
        info = {**info, "calibration": cal}
        summary.update(cv_brier=cal["brier"], cv_ece=cal["ece"], cv_calibration_worst_gap=cal["worst_gap"])
    platt = getattr(pipe[-1], "calibration_", None)
    if platt is not None:
        info = {**info, "platt": platt}
        summary.update(calibration_slope=platt[0], calibration_intercept=platt[1])
    metrics = {"threshold": threshold, "cv": cv.to_dict(orient="records"), **summary}
    if cal is not None:
        metrics["cv_reliability"] = cal["reliability"]
    importances = pd.Series(dtype=float)
    if len(oof):
        importances = permutation_importances(pipe, rows, final_cfg)
    report = report_markdown(final_cfg, cv, threshold, info, source)
    meta = {
        "name": config.name,
        "threshold": threshold,
        "feature_names": [str(c) for c in pipe[0].get_feature_names_out()],
        # what this model learned from: the datasets of the tables it read, not all that were built
        "data": {"datasets": present, **{k: {ds: v for ds, v in (info.get(k) or {}).items() if ds in present}
                                         for k in ("sha256", "licenses", "pages")}},
        "config": config.params(),
        "metrics": metrics,
        "mlflow_run_id": tracking.run_id,
    }
    bundle = _save(pipe, target, meta, report, seen, skops)
    _log_run(tracking, config, pipe, rows, cv, oof, threshold, importances, report, bundle, summary,
             cal["reliability"] if cal is not None else None)
    result = TrainResult(bundle, threshold, cv, tracking.run_id, 0.0)
    if register is not None:

        def register_model() -> None:
            version = register_run_model(tracking.run_id, "pyfunc", register,
                                         {TAG_BUNDLE_SHA256: _bundle_sha256(bundle)})
            result.model_version = f"models:/{version.name}/{version.version}"
            log.info("registered %s (bundle sha256 %s)", result.model_version, _bundle_sha256(bundle))

        tracking.step("model registration", register_model)
    return result


def _bundle_sha256(bundle: Path) -> str:
    return json.loads((Path(bundle) / "metadata.json").read_text(encoding="utf-8"))["sha256"]


def _save(pipe, target: Path, meta: dict, report: str, seen: str | None, skops: bool) -> Path:
    files = {"report.md": report}
    if skops:
        try:
            return save_bundle(pipe, target, meta, files, skops=True, expect=seen)
        except Exception as exc:  # the joblib bundle matters more than its shareable copy
            log.warning("no %s in the bundle (%s: %s)", "model.skops", type(exc).__name__, exc)
    return save_bundle(pipe, target, meta, files, expect=seen)


def _log_run(tracking: _Tracking, config: TrainConfig, pipe, rows, cv, oof, threshold, importances,
             report, bundle, summary, reliability=None) -> None:
    import mlflow

    def metrics() -> None:
        for r in cv.itertuples():
            for m in ("precision", "recall", "f1", "len_precision", "len_recall", "len_f1"):
                mlflow.log_metric(f"cv.{r.dataset}.{r.source}.{m}", float(getattr(r, m)))
        if len(oof):
            for k, d in oof.groupby("fold"):
                pred = (d["probability"].to_numpy() >= threshold).astype(int)
                f = weighted_prf(d["label"].to_numpy(), pred, d["chars"].to_numpy(dtype=float))[2]
                mlflow.log_metric("cv.fold.len_f1", f, step=int(k))
        mlflow.log_metrics({k: float(v) for k, v in summary.items()})
        mlflow.set_tags({TAG_BUNDLE: str(bundle), TAG_BUNDLE_SHA256: _bundle_sha256(bundle)})

    def tables_and_plots() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if len(oof):
                for path in training_plots(oof, threshold, importances, folder, reliability):
                    mlflow.log_artifact(str(path), artifact_path="plots")
            cv.to_csv(folder / "cv_metrics.csv", index=False)
            mlflow.log_artifact(str(folder / "cv_metrics.csv"))

    tracking.step("metrics", metrics)
    tracking.step("plots and cv table", tables_and_plots)
    tracking.step("report.md", mlflow.log_text, report, "report.md")
    tracking.step("bundle artifacts", mlflow.log_artifacts, str(bundle), artifact_path=BUNDLE_ARTIFACT)
    if config.log_model:
        tracking.step("sklearn model", _log_sklearn_model, pipe, rows)
        tracking.step("pyfunc model", _log_pyfunc_model, bundle)


#: mlflow column type of each dtype kind of the paragraph table (anything else: string)
_MLFLOW_TYPES = {"b": "boolean", "i": "long", "u": "long", "f": "double"}


def model_signature(example: pd.DataFrame):
    """The sklearn model's signature, written out from the paragraph table's dtypes.

    mlflow's inference would warn on every run that integer columns cannot hold
    missing values: the parser never leaves one empty, so ``long`` is what they are.
    The output is the 0/1 decision per paragraph.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec(_MLFLOW_TYPES.get(example[c].dtype.kind, "string"), str(c)) for c in example.columns])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("long")]))


def _log_sklearn_model(pipe, rows) -> None:
    import mlflow

    from chromesift.data import schema

    example = rows[rows["doc_id"] == rows["doc_id"].iloc[0]].head(5)
    example = example[list(schema.COLUMNS) + (["site"] if "site" in example.columns else [])].copy()
    for c in example.columns:
        if example[c].dtype.kind not in "biuf":
            example[c] = example[c].astype(object)
    signature = model_signature(example)
    import importlib.metadata as md

    reqs = [f"{p}=={md.version(p)}" for p in ("scikit-learn", "pandas", "numpy", "pyarrow", "lxml", "joblib")]
    mlflow.sklearn.log_model(
        pipe, name="model", signature=signature, input_example=example,
        pip_requirements=reqs + ["chromesift"], skops_trusted_types=_skops_trusted(pipe),
    )


def _log_pyfunc_model(bundle: Path) -> None:
    """The serving flavour (``chromesift.runtime.serving``): pages in, main text out."""
    from chromesift.runtime.serving import log_pyfunc_model

    log_pyfunc_model(bundle)


def check_inputs(config: TrainConfig) -> None:
    """Fail early, before any work, on what the user can fix."""
    if not Path(config.tables).is_dir():
        raise UserError(f"no paragraph tables in {config.tables}; run `chromesift data build` first")
