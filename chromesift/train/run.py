"""A tracked training run: grouped CV, threshold, final fit, bundle, MLflow."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from chromesift.data.build import load_tables
from chromesift.errors import UserError
from chromesift.models.bundle import save_bundle
from chromesift.train import core
from chromesift.train.config import HUMAN_FULLTEXT, TrainConfig

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


@dataclass
class TrainResult:
    """What a run produced."""

    bundle: Path
    threshold: float
    cv: pd.DataFrame  # per dataset and source
    run_id: str | None
    seconds: float


def tracking_setup(experiment: str) -> str:
    """Point MLflow at ``$MLFLOW_TRACKING_URI`` or the local SQLite store; return the experiment id."""
    import mlflow

    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    mlflow.set_tracking_uri(uri)
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is not None:
        return exp.experiment_id
    artifacts = Path(os.environ.get("CHROMESIFT_ARTIFACTS", "mlartifacts")).resolve() / experiment
    return mlflow.create_experiment(experiment, artifact_location=artifacts.as_uri())


def _plots(oof: pd.DataFrame, threshold: float, importances: pd.Series, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay

    paths = []
    fig, ax = plt.subplots(figsize=(6, 5))
    for ds, d in oof.groupby("dataset"):
        PrecisionRecallDisplay.from_predictions(d["label"], d["probability"], name=ds, ax=ax)
    ax.set_title("Precision-recall, grouped CV (content class)")
    ax.legend(fontsize=7)
    paths.append(folder / "precision_recall.png")
    fig.savefig(paths[-1], dpi=90, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 4))
    ConfusionMatrixDisplay.from_predictions(
        oof["label"], (oof["probability"] >= threshold).astype(int),
        display_labels=["chrome", "content"], normalize="true", ax=ax, colorbar=False,
    )
    ax.set_title(f"Confusion (threshold {threshold:.2f})")
    paths.append(folder / "confusion_matrix.png")
    fig.savefig(paths[-1], dpi=90, bbox_inches="tight")
    plt.close(fig)
    if len(importances):
        top = importances.head(25)[::-1]
        fig, ax = plt.subplots(figsize=(6, 7))
        ax.barh(top.index, top.to_numpy())
        ax.set_title("Permutation importance (drop in length-weighted F1)")
        paths.append(folder / "feature_importance.png")
        fig.savefig(paths[-1], dpi=90, bbox_inches="tight")
        plt.close(fig)
    return paths


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


def report_markdown(config: TrainConfig, cv: pd.DataFrame, threshold: float, info: dict) -> str:
    """The bundle's model card."""
    lines = [
        f"# chromesift model `{config.name}`",
        "",
        f"Trained {time.strftime('%Y-%m-%d')} on {sum(info.get('pages', {}).values())} pages.",
        f"Decision threshold: {threshold:.2f} (tuned on grouped cross-validation).",
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
    lines += ["", "A bundle is a pickle: load only bundles you trust.", ""]
    return "\n".join(lines)


def _skops_trusted(pipe) -> list[str]:
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(pipe))


def run_training(config: TrainConfig, progress: bool = True) -> TrainResult:
    """Train, evaluate by grouped CV, export a bundle and track it all in MLflow."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    table = load_tables(config.tables, list(config.datasets) or None)
    info_file = Path(config.tables) / "build.json"
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
    present = sorted(table["dataset"].unique())
    info["datasets"] = present
    rows = core.prepare(table, config)
    log.info("training rows: %d from %d pages", len(rows), rows["doc_id"].nunique())

    run = None
    if config.mlflow:
        import mlflow

        exp_id = tracking_setup(config.experiment)
        run = mlflow.start_run(experiment_id=exp_id, run_name=config.name)
    try:
        if run is not None:
            from chromesift.models.bundle import git_commit

            mlflow.log_params(config.params())
            mlflow.set_tags({"git_commit": git_commit(), "chromesift.stage": "train"})
            for ds in present:
                mlflow.log_param(f"data.{ds}.sha256", info.get("sha256", {}).get(ds, "unknown"))
                mlflow.log_param(f"data.{ds}.pages", int((table["dataset"] == ds).groupby(table["doc_id"]).first().sum()))
        steps = config.cv_folds + 1
        with tqdm(total=steps, desc="train", unit="fit", disable=not progress) as bar:
            cv = pd.DataFrame()
            oof = pd.DataFrame()
            threshold = config.threshold if config.threshold is not None else 0.5
            if config.cv_folds:
                oof = core.grouped_cv(rows, config, progress=bar)
                if config.threshold is None:
                    threshold = core.tune_threshold(oof)
                cv = core.cv_metrics(oof, threshold)
            final_cfg = replace(config, threshold=threshold)
            pipe = core.fit(rows, final_cfg)
            bar.update(1)
        human = cv[(cv["dataset"].isin(HUMAN_FULLTEXT)) & (cv["source"] == "html")] if len(cv) else cv
        summary = {"threshold": threshold}
        if len(human):
            summary["cv_len_f1_human_mean"] = float(human["len_f1"].mean())
        metrics = {
            "threshold": threshold,
            "cv": cv.to_dict(orient="records"),
            **summary,
        }
        importances = pd.Series(dtype=float)
        if len(oof):
            importances = permutation_importances(pipe, rows, final_cfg)
        report = report_markdown(final_cfg, cv, threshold, info)
        bundle = Path(config.out_dir) / config.name
        meta = {
            "name": config.name,
            "threshold": threshold,
            "feature_names": [str(c) for c in pipe[0].get_feature_names_out()],
            "data": {k: info.get(k) for k in ("sha256", "licenses", "pages")},
            "config": config.params(),
            "metrics": metrics,
            "mlflow_run_id": run.info.run_id if run is not None else None,
        }
        save_bundle(pipe, bundle, meta, files={"report.md": report})
        if run is not None:
            _log_run(pipe, rows, cv, oof, threshold, importances, report, bundle, summary)
        if run is not None:
            mlflow.end_run("FINISHED")
    except BaseException as exc:
        if run is not None:
            import mlflow

            mlflow.set_tag("error", f"{type(exc).__name__}: {exc}"[:5000])
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            mlflow.end_run(status)
        raise
    return TrainResult(bundle, threshold, cv, run.info.run_id if run else None, time.perf_counter() - t0)


def _log_run(pipe, rows, cv, oof, threshold, importances, report, bundle, summary) -> None:
    import mlflow
    from mlflow.models import infer_signature

    for r in cv.itertuples():
        for m in ("precision", "recall", "f1", "len_precision", "len_recall", "len_f1"):
            mlflow.log_metric(f"cv.{r.dataset}.{r.source}.{m}", float(getattr(r, m)))
    if len(oof):
        for k, d in oof.groupby("fold"):
            pred = (d["probability"].to_numpy() >= threshold).astype(int)
            f = core.weighted_prf(d["label"].to_numpy(), pred, d["chars"].to_numpy(dtype=float))[2]
            mlflow.log_metric("cv.fold.len_f1", f, step=int(k))
    mlflow.log_metrics({k: float(v) for k, v in summary.items()})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if len(oof):
            for path in _plots(oof, threshold, importances, folder):
                mlflow.log_artifact(str(path), artifact_path="plots")
        cv.to_csv(folder / "cv_metrics.csv", index=False)
        mlflow.log_artifact(str(folder / "cv_metrics.csv"))
    mlflow.log_text(report, "report.md")
    mlflow.log_artifacts(str(bundle), artifact_path="bundle")
    example = rows[rows["doc_id"] == rows["doc_id"].iloc[0]].head(5)
    example = example[[c for c in pipe[0].feature_names_in_ if c in example.columns]] if hasattr(pipe[0], "feature_names_in_") else example
    from chromesift.data import schema

    example = example[list(schema.COLUMNS) + (["site"] if "site" in example.columns else [])].copy()
    for c in example.columns:
        if example[c].dtype.kind not in "biuf":
            example[c] = example[c].astype(object)
    signature = infer_signature(example, pipe.predict(example))
    import importlib.metadata as md

    reqs = [f"{p}=={md.version(p)}" for p in ("scikit-learn", "pandas", "numpy", "pyarrow", "lxml", "joblib")]
    mlflow.sklearn.log_model(
        pipe, name="model", signature=signature, input_example=example,
        pip_requirements=reqs + ["chromesift"], skops_trusted_types=_skops_trusted(pipe),
    )


def check_inputs(config: TrainConfig) -> None:
    """Fail early, before any work, on what the user can fix."""
    if not Path(config.tables).is_dir():
        raise UserError(f"no paragraph tables in {config.tables}; run `chromesift data build` first")
