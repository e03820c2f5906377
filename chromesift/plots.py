"""Figures, drawn with matplotlib (imported only when a figure is drawn).

The evaluation figures take the plain results dict of
:func:`chromesift.evaluate.run.run_evaluation` and return PNG bytes; they use
matplotlib's object API on the Agg canvas (no pyplot, no global state), so the
report can embed them. :func:`training_plots` writes a training run's figures as
PNG files for MLflow (pyplot on the Agg backend, and scikit-learn's displays).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas

#: Size of every evaluation figure in pixels (the HTML report shows them at this size;
#: its browser test relies on it).
FIGURE_WIDTH = 960
FIGURE_HEIGHT = 440
#: Order of the evaluation figures, top to bottom.
FIGURES = ("f1_by_dataset", "lead", "precision_recall", "ms_per_page", "reliability")
FIGURE_TITLES = {
    "f1_by_dataset": "F1 per dataset and extractor",
    "lead": "Lead over trafilatura per dataset, with its 95% interval over resampled sites",
    "precision_recall": "Precision against recall (large: macro over datasets; small: one dataset)",
    "ms_per_page": "Milliseconds per page (log scale)",
    "reliability": "Reliability of chromesift's paragraph probabilities",
}

_DPI = 100


def _figure(width: float = FIGURE_WIDTH, height: float = FIGURE_HEIGHT):
    from matplotlib.figure import Figure

    return Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, layout="constrained")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def _colors(names: Sequence[str]) -> dict[str, str]:
    palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


def plot_f1_by_dataset(results: dict) -> bytes | None:
    """Grouped bars: the headline F1 of each extractor on each dataset, plus the macro mean."""
    extractors = results["extractors"]
    datasets = list(results["datasets"])
    if not extractors or not datasets:
        return None
    groups = datasets + ["macro"]
    values = np.array(
        [
            [
                (results["overall"] if g == "macro" else results["datasets"][g]["extractors"])
                .get(e, {})
                .get("f1", float("nan"))
                for g in groups
            ]
            for e in extractors
        ],
        dtype=float,
    )
    fig = _figure()
    ax = fig.add_subplot()
    colors = _colors(extractors)
    width = 0.8 / len(extractors)
    x = np.arange(len(groups))
    for i, e in enumerate(extractors):
        ax.bar(x + (i - (len(extractors) - 1) / 2) * width, np.nan_to_num(values[i]), width,
               label=e, color=colors[e])
    ax.set_xticks(x, groups, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.grid(axis="y", alpha=0.3)
    fig.legend(fontsize=8, ncols=min(len(extractors), 5), loc="outside upper center")
    return _png(fig)


def plot_lead(results: dict) -> bytes | None:
    """Each dataset's lead of chromesift (HTML and plain text) over the collapse peer, a dot on
    a horizontal line that spans its 95% interval over resampled sites; the means at the foot,
    and 0 (no lead) as a vertical line. None where the run has no leads."""
    leads = results.get("leads") or {}
    found = leads.get("datasets") or {}
    names = [n for n in ("chromesift", "chromesift-text") if any(n in d for d in found.values())]
    if not names:
        return None
    rows = [(ds, d) for ds, d in found.items()]
    for key, label in (("all", "mean of all"), ("modern", "modern news")):
        means = {n: leads.get("mean", {}).get(n, {}).get(key) for n in names}
        if any(means.values()):
            rows.append((label, {n: m for n, m in means.items() if m}))
    fig = _figure()
    ax = fig.add_subplot()
    colors = _colors(results.get("extractors") or names)
    step = 0.8 / len(names)
    for i, name in enumerate(names):
        y, lead, low, high = [], [], [], []
        for k, (_, d) in enumerate(rows):
            x = d.get(name)
            if not x or x["lead"] != x["lead"]:
                continue
            y.append(k + (i - (len(names) - 1) / 2) * step)
            lead.append(x["lead"])
            ok = x.get("low") is not None and x["low"] == x["low"]
            low.append(x["lead"] - x["low"] if ok else 0.0)
            high.append(x["high"] - x["lead"] if ok else 0.0)
        ax.errorbar(lead, y, xerr=[low, high], fmt="o", markersize=4, capsize=3, color=colors.get(name),
                    label=name)
    ax.axvline(0.0, color="#7f7f7f", linewidth=1)
    ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"F1 less {leads.get('peer', 'trafilatura')}'s (right of the line: chromesift ahead)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def plot_precision_recall(results: dict) -> bytes | None:
    """Scatter of precision against recall: macro per extractor, and each dataset."""
    extractors = results["extractors"]
    if not extractors:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    colors = _colors(extractors)
    for e in extractors:
        pts = [
            (d["extractors"][e].get("recall"), d["extractors"][e].get("precision"))
            for d in results["datasets"].values()
            if e in d["extractors"]
        ]
        pts = [(r, p) for r, p in pts if r is not None and p is not None and r == r and p == p]
        if pts:
            ax.scatter(*zip(*pts, strict=True), s=14, alpha=0.45, color=colors[e])
        o = results["overall"].get(e, {})
        r, p = o.get("recall"), o.get("precision")
        if r is not None and p is not None and r == r and p == p:
            ax.scatter([r], [p], s=110, color=colors[e], edgecolor="black", label=e, zorder=3)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return _png(fig)


def plot_ms_per_page(results: dict) -> bytes | None:
    """Box plot of per-page extraction time for each extractor (log scale)."""
    timings = results.get("timings") or {}
    names = [e for e in results["extractors"] if timings.get(e)]
    if not names:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    data = [[max(t, 1e-3) for t in timings[e]] for e in names]
    import matplotlib

    # matplotlib 3.10 replaced ``vert`` by ``orientation`` and warns about the old name
    new_api = tuple(int(x) for x in matplotlib.__version__.split(".")[:2]) >= (3, 10)
    orient = {"orientation": "horizontal"} if new_api else {"vert": False}
    box = ax.boxplot(data, showfliers=True, patch_artist=True,
                     flierprops={"markersize": 2, "alpha": 0.3}, **orient)
    colors = _colors(results["extractors"])
    for patch, e in zip(box["boxes"], names, strict=True):
        patch.set_facecolor(colors[e])
        patch.set_alpha(0.6)
    ax.set_yticks(range(1, len(names) + 1), names, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("ms per page")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def plot_reliability(results: dict) -> bytes | None:
    """Reliability curve of chromesift's paragraph probabilities, with bin counts."""
    para = results.get("paragraphs") or {}
    curve = para.get("reliability")
    if not curve or not sum(curve["count"]):
        return None
    fig = _figure()
    ax = fig.add_subplot()
    pts = [
        (p, o) for p, o in zip(curve["mean_predicted"], curve["observed"], strict=True)
        if p is not None
    ]
    ax.plot([0, 1], [0, 1], linestyle="--", color="#7f7f7f", label="perfectly calibrated")
    ax.plot(*zip(*pts, strict=True), marker="o", color="#1f77b4", label="chromesift")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability of content")
    ax.set_ylabel("observed share of content")
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    centers = [(lo + hi) / 2 for lo, hi in zip(curve["bin_lower"], curve["bin_upper"], strict=True)]
    twin.bar(centers, curve["count"], width=0.08, alpha=0.2, color="#ff7f0e", label="paragraphs")
    twin.set_ylabel("paragraphs per bin")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


PLOTTERS = {
    "f1_by_dataset": plot_f1_by_dataset,
    "lead": plot_lead,
    "precision_recall": plot_precision_recall,
    "ms_per_page": plot_ms_per_page,
    "reliability": plot_reliability,
}


def render_plots(results: dict) -> dict[str, bytes]:
    """Every figure that the results allow, name -> PNG bytes, in :data:`FIGURES` order."""
    out = {}
    for name in FIGURES:
        png = PLOTTERS[name](results)
        if png is not None:
            out[name] = png
    return out


def training_plots(oof: pandas.DataFrame, threshold: float, importances: pandas.Series, folder: Path,
                   reliability: dict | None = None) -> list[Path]:
    """The figures of a training run, written as PNG files into ``folder``.

    Parameters
    ----------
    oof
        Out-of-fold predictions (``dataset``, ``label``, ``probability``), as
        :func:`chromesift.train.core.grouped_cv` gives them.
    threshold
        The decision threshold of the confusion matrix.
    importances
        Permutation importance per feature, largest first (empty: no figure).
    folder
        Where the files go.
    reliability
        A reliability curve (:func:`chromesift.metrics.reliability_curve`), or None.

    Returns
    -------
    list of Path
        The files written: precision-recall per dataset, confusion matrix, and where
        the data allow, reliability and feature importance.
    """
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
    if reliability and sum(reliability["count"]):
        paths.append(folder / "reliability.png")
        paths[-1].write_bytes(plot_reliability({"paragraphs": {"reliability": reliability}}))
    if len(importances):
        top = importances.head(25)[::-1]
        fig, ax = plt.subplots(figsize=(6, 7))
        ax.barh(top.index, top.to_numpy())
        ax.set_title("Permutation importance (drop in length-weighted F1)")
        paths.append(folder / "feature_importance.png")
        fig.savefig(paths[-1], dpi=90, bbox_inches="tight")
        plt.close(fig)
    return paths
