"""The evaluation report: ``report.md``, a self-contained ``report.html`` and ``metrics.json``.

Everything here works on the plain results dict that
:func:`chromesift.evaluate.run.run_evaluation` returns (JSON types only), so a
report can be rebuilt from a saved ``metrics.json``. Plots are drawn with
matplotlib's object API on the Agg canvas (no pyplot, no global state) and
embedded in the HTML as base64 PNG; the Markdown file links the same PNGs,
written to ``plots/``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

from chromesift import metrics

#: CSS size of every figure box in the HTML report (pixels); the browser test relies on it.
FIGURE_WIDTH = 960
FIGURE_HEIGHT = 440
#: Colour of the frame drawn around each figure, rgb; unused by the plots themselves.
FIGURE_FRAME_RGB = (203, 213, 225)
#: Order of the figures, top to bottom.
FIGURES = ("f1_by_dataset", "precision_recall", "ms_per_page", "reliability")
FIGURE_TITLES = {
    "f1_by_dataset": "F1 per dataset and extractor",
    "precision_recall": "Precision against recall (large: macro over datasets; small: one dataset)",
    "ms_per_page": "Milliseconds per page (log scale)",
    "reliability": "Reliability of chromesift's paragraph probabilities",
}

_DPI = 100


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


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
    import numpy as np

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


# --- tables ------------------------------------------------------------------------------


def _f1_table(results: dict) -> tuple[list[str], list[list[str]]]:
    extractors = results["extractors"]
    header = ["dataset", "pages", "score"] + extractors
    rows = []
    for name, d in results["datasets"].items():
        vals = [d["extractors"].get(e, {}).get("f1") for e in extractors]
        best = max((v for v in vals if v is not None and v == v), default=None)
        cells = [
            f"**{_fmt(v)}**" if v is not None and best is not None and v == best else _fmt(v)
            for v in vals
        ]
        rows.append([name, str(d["n_pages"]), d.get("score", "")] + cells)
    vals = [results["overall"].get(e, {}).get("f1") for e in extractors]
    best = max((v for v in vals if v is not None and v == v), default=None)
    rows.append(
        ["**macro**", str(sum(d["n_pages"] for d in results["datasets"].values())), ""]
        + [f"**{_fmt(v)}**" if v == best and v is not None else _fmt(v) for v in vals]
    )
    return header, rows


def _pr_table(results: dict) -> tuple[list[str], list[list[str]]]:
    extractors = results["extractors"]
    header = ["dataset"] + extractors
    rows = []
    for name, d in results["datasets"].items():
        rows.append(
            [name]
            + [
                f"{_fmt(d['extractors'].get(e, {}).get('precision'))} / "
                f"{_fmt(d['extractors'].get(e, {}).get('recall'))}"
                for e in extractors
            ]
        )
    return header, rows


def _ci_table(results: dict) -> tuple[list[str], list[list[str]]] | None:
    extractors = results["extractors"]
    rows = []
    for name, d in results["datasets"].items():
        cells = []
        for e in extractors:
            ci = d["extractors"].get(e, {}).get("f1_ci")
            ok = ci and all(v is not None and v == v for v in ci)
            cells.append(f"{_fmt(ci[0])}–{_fmt(ci[1])}" if ok else "–")
        if any(c != "–" for c in cells):
            rows.append([name] + cells)
    return (["dataset"] + extractors, rows) if rows else None


def _speed_table(results: dict) -> tuple[list[str], list[list[str]]]:
    header = ["extractor", "ms/page median", "ms/page p90", "pages/s", "failed pages", "macro F1"]
    rows = []
    for e in results["extractors"]:
        o = results["overall"].get(e, {})
        rows.append([
            e,
            _fmt(o.get("ms_median"), 1),
            _fmt(o.get("ms_p90"), 1),
            _fmt(o.get("pages_per_s"), 1),
            f"{o.get('failures', 0)} / {o.get('n_pages', 0)}",
            _fmt(o.get("f1")),
        ])
    return header, rows


def _paragraph_table(results: dict) -> tuple[list[str], list[list[str]]] | None:
    para = results.get("paragraphs")
    if not para:
        return None
    header = ["dataset", "paragraphs", "precision", "recall", "F1", "char F1", "PR-AUC", "Brier"]
    rows = []
    for name, p in list(para.get("datasets", {}).items()) + [("**all**", para.get("overall", {}))]:
        rows.append([
            name,
            str(p.get("n_paragraphs", 0)),
            _fmt(p.get("precision")),
            _fmt(p.get("recall")),
            _fmt(p.get("f1")),
            _fmt(p.get("char_f1")),
            _fmt(p.get("average_precision")),
            _fmt(p.get("brier")),
        ])
    return header, rows


def _reliability_table(results: dict) -> tuple[list[str], list[list[str]]] | None:
    """Per tenth of predicted probability: paragraphs, mean predicted, observed share, gap."""
    curve = (results.get("paragraphs") or {}).get("reliability")
    if not curve or not sum(curve.get("count", [])):
        return None
    header = ["predicted", "paragraphs", "mean predicted", "observed", "gap"]
    rows = []
    for lo, hi, n, mp, ob in zip(curve["bin_lower"], curve["bin_upper"], curve["count"],
                                 curve["mean_predicted"], curve["observed"], strict=True):
        if n:
            rows.append([f"{lo:.1f}-{hi:.1f}", str(n), _fmt(mp), _fmt(ob), _fmt(abs(mp - ob))])
    return header, rows


def _calibration_by_dataset(results: dict) -> tuple[list[str], list[list[str]]] | None:
    """Per dataset and tenth of predicted probability: "mean predicted / observed", and the
    dataset's largest gap (datasets without a reliability curve are left out)."""
    per = {name: p["reliability"] for name, p in ((results.get("paragraphs") or {}).get("datasets") or {}).items()
           if p.get("reliability") and sum(p["reliability"].get("count", []))}
    if not per:
        return None
    first = next(iter(per.values()))
    header = ["dataset", "largest gap"] + [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(first["bin_lower"], first["bin_upper"], strict=True)]
    rows = []
    for name, curve in per.items():
        cells = [f"{_fmt(mp, 2)} / {_fmt(ob, 2)}" if n else ""
                 for n, mp, ob in zip(curve["count"], curve["mean_predicted"], curve["observed"], strict=True)]
        rows.append([name, _fmt(metrics.worst_calibration_gap(curve)), *cells])
    return header, rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _html_cell(text: str) -> str:
    if text.startswith("**") and text.endswith("**"):
        return f"<strong>{html.escape(text[2:-2])}</strong>"
    return html.escape(text)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _meta_lines(results: dict) -> list[str]:
    meta = results.get("meta", {})
    lines = []
    for key in ("model", "split", "created", "git_commit", "limit"):
        if meta.get(key) is not None:
            lines.append(f"{key}: {meta[key]}")
    if meta.get("peer_versions"):
        lines.append(
            "peers: " + ", ".join(f"{k} {v}" for k, v in meta["peer_versions"].items())
        )
    lines.append(
        "scores: Scrapinghub shingle F1 (mean precision and recall over pages) for full-text "
        "datasets; pooled snippet F1 (trafilatura evaluation) for snippet datasets"
    )
    return lines


# --- writing -----------------------------------------------------------------------------


_CSS = f"""
body {{ font-family: system-ui, sans-serif; margin: 16px 24px; color: #1f2328; max-width: 1150px; }}
h1 {{ font-size: 22px; margin: 0 0 6px 0; }}
h2 {{ font-size: 18px; margin: 28px 0 8px 0; }}
.meta {{ font-size: 12px; color: #57606a; margin: 0 0 12px 0; }}
table {{ border-collapse: collapse; font-size: 13px; margin: 6px 0; }}
th, td {{ border: 1px solid #d0d7de; padding: 3px 8px; text-align: right; }}
th {{ background: #f6f8fa; }}
td:first-child, th:first-child {{ text-align: left; }}
figure {{ margin: 0 0 18px 0; }}
figure img {{ display: block; width: {FIGURE_WIDTH}px; height: {FIGURE_HEIGHT}px;
  border: 3px solid rgb{FIGURE_FRAME_RGB}; }}
figcaption {{ font-size: 13px; color: #57606a; margin-top: 4px; }}
.page {{ border-top: 1px solid #d0d7de; padding: 8px 0; font-size: 13px; }}
.missed {{ background: #ffebe9; text-decoration: line-through; }}
.extra {{ background: #dafbe1; }}
.snips {{ white-space: pre-wrap; }}
"""


def _worst_html(pages: list[dict]) -> str:
    parts = []
    for p in pages:
        title = f"{p['dataset']} / {p['id']}"
        url = f" — {html.escape(p['url'])}" if p.get("url") else ""
        missed = "".join(f"<div class='missed'>{html.escape(s)}</div>" for s in p.get("missed", []))
        extra = "".join(f"<div class='extra'>{html.escape(s)}</div>" for s in p.get("extra", []))
        parts.append(
            f"<div class='page'><strong>{html.escape(title)}</strong>{url}<br>"
            f"F1 {_fmt(p.get('f1'))} · precision {_fmt(p.get('precision'))} · "
            f"recall {_fmt(p.get('recall'))}"
            f"<div class='snips'><em>missed (in the ground truth, not extracted):</em>{missed or ' none'}"
            f"<br><em>extra (extracted, not in the ground truth):</em>{extra or ' none'}</div></div>"
        )
    return "".join(parts)


def _worst_md(pages: list[dict]) -> str:
    out: list[str] = []
    for p in pages:
        out += [f"### {p['dataset']} / {p['id']}", ""]
        if p.get("url"):
            out += [p["url"], ""]
        out += [f"F1 {_fmt(p.get('f1'))}, precision {_fmt(p.get('precision'))}, "
                f"recall {_fmt(p.get('recall'))}", ""]
        for label, sign in (("missed", "-"), ("extra", "+")):
            items = p.get(label, [])
            if items:
                out += [f"{label}:", "", "```diff", *(f"{sign} {s}" for s in items), "```", ""]
            else:
                out += [f"{label}: none", ""]
    return "\n".join(out)


def _sections(results: dict) -> list[tuple[str, tuple[list[str], list[list[str]]] | None, str]]:
    sections = [
        ("F1 per dataset", _f1_table(results), ""),
        ("Precision / recall per dataset", _pr_table(results), ""),
        ("Speed and failures", _speed_table(results),
         "Wall time of the extraction call per page; peers run in worker processes with a "
         "time limit, and a failed or timed-out page counts as empty output."),
    ]
    ci = _ci_table(results)
    if ci is not None:
        sections.insert(2, ("95% intervals of F1", ci,
                            "Percentile bootstrap over pages (full-text datasets; snippet F1 is pooled "
                            "over snippets and has none)."))
    para = _paragraph_table(results)
    if para is not None:
        sections.append(("chromesift, paragraph level", para,
                         "Against paragraph labels aligned from the ground truth (pages whose "
                         "ground truth is not found in the HTML are left out)."))
    rel = _reliability_table(results)
    if rel is not None:
        para = results["paragraphs"]
        sections.append(("chromesift, calibration", rel,
                         "Paragraph probabilities (HTML, every dataset pooled) against the share "
                         f"of content among them: expected calibration error {_fmt(para.get('ece'))}, "
                         f"Brier score {_fmt(para.get('overall', {}).get('brier'))}, largest gap "
                         f"{metrics.worst_calibration_gap(para['reliability']):.3f}."))
    by_dataset = _calibration_by_dataset(results)
    if by_dataset is not None:
        sections.append(("chromesift, calibration per dataset", by_dataset,
                         "Mean predicted probability / observed share of content, per tenth of "
                         "predicted probability. Where corpora label the same kind of paragraph "
                         "differently, one probability cannot match all of them: the pooled table "
                         "above is their mixture."))
    return sections


def to_json(results: dict) -> str:
    """``metrics.json`` text: the results without the raw per-page timings, NaN as null."""

    def clean(obj):
        if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
            return None
        if isinstance(obj, dict):
            return {str(k): clean(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [clean(v) for v in obj]
        return obj

    slim = {k: v for k, v in results.items() if k != "timings"}
    return json.dumps(clean(slim), indent=2, ensure_ascii=False)


def write_report(results: dict, out_dir: Path | str, *, title: str = "chromesift evaluation") -> dict[str, Path]:
    """Write ``report.md``, ``report.html``, ``metrics.json`` and ``plots/*.png``.

    Parameters
    ----------
    results
        The dict of :func:`chromesift.evaluate.run.run_evaluation`: ``meta``,
        ``extractors``, ``datasets``, ``overall`` and optionally ``timings``,
        ``paragraphs`` and ``worst_pages``.
    out_dir
        The report folder (created).
    title
        Heading of the report.

    Returns
    -------
    dict
        ``"md"``, ``"html"``, ``"json"`` -> the written paths.
    """
    out = Path(out_dir)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    plots = render_plots(results)
    for name, png in plots.items():
        (out / "plots" / f"{name}.png").write_bytes(png)
    meta = _meta_lines(results)
    sections = _sections(results)
    worst = results.get("worst_pages") or []

    md = [f"# {title}", ""] + [f"- {line}" for line in meta] + [""]
    for heading, table, note in sections:
        md += [f"## {heading}", ""]
        if note:
            md += [note, ""]
        md += [_md_table(*table), ""]
    if plots:
        md += ["## Figures", ""]
        md += [f"![{FIGURE_TITLES[n]}](plots/{n}.png)\n" for n in plots]
    if worst:
        md += ["## The worst pages of chromesift", "", _worst_md(worst)]
    (out / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    # figures first after the headline table, so that they sit high on the page
    body = [f"<h1>{html.escape(title)}</h1>",
            "<div class='meta'>" + "<br>".join(html.escape(m) for m in meta) + "</div>"]
    head_heading, head_table, _ = sections[0]
    body += [f"<h2>{html.escape(head_heading)}</h2>", _html_table(*head_table)]
    if plots:
        body.append("<h2>Figures</h2>")
        for name, png in plots.items():
            data = base64.b64encode(png).decode("ascii")
            body.append(
                f"<figure id='fig-{name}'><img alt='{html.escape(FIGURE_TITLES[name])}' "
                f"src='data:image/png;base64,{data}'><figcaption>"
                f"{html.escape(FIGURE_TITLES[name])}</figcaption></figure>"
            )
    for heading, table, note in sections[1:]:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        if note:
            body.append(f"<p class='meta'>{html.escape(note)}</p>")
        body.append(_html_table(*table))
    if worst:
        body += ["<h2>The worst pages of chromesift</h2>", _worst_html(worst)]
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    (out / "report.html").write_text(page, encoding="utf-8")
    (out / "metrics.json").write_text(to_json(results) + "\n", encoding="utf-8")
    return {"md": out / "report.md", "html": out / "report.html", "json": out / "metrics.json"}
