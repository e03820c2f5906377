"""The evaluation report: ``report.md``, a self-contained ``report.html`` and ``metrics.json``.

Everything here works on the plain results dict that
:func:`chromesift.evaluate.run.run_evaluation` returns (JSON types only), so a
report can be rebuilt from a saved ``metrics.json``. The figures come from
:mod:`chromesift.plots` and are embedded in the HTML as base64 PNG; the Markdown
file links the same PNGs, written to ``plots/``.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

from chromesift import metrics
from chromesift.plots import FIGURE_HEIGHT, FIGURE_TITLES, FIGURE_WIDTH, render_plots

#: Colour of the frame drawn around each figure, rgb; unused by the plots themselves.
FIGURE_FRAME_RGB = (203, 213, 225)
#: Colour of the in-sample warning at the head of the HTML report, rgb (red).
IN_SAMPLE_RGB = (207, 34, 46)
#: The words that mark figures of a model on pages it was trained on.
IN_SAMPLE_LABEL = "in-sample (trained on these pages)"


#: collapsed pages the report lists with their diff (all are counted)
COLLAPSED_LISTED = 30


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# --- tables ------------------------------------------------------------------------------


def _in_sample(results: dict) -> list[str]:
    """The datasets the scored model was trained on (empty for an honest run)."""
    meta = results.get("meta", {})
    return list(meta.get("in_sample_datasets") or []) if meta.get("in_sample") else []


def in_sample_note(results: dict) -> str | None:
    """The report's in-sample warning, or None when every dataset is unseen by the model."""
    names = _in_sample(results)
    if not names:
        return None
    return (f"{IN_SAMPLE_LABEL}: {', '.join(names)}. chromesift's figures on these datasets "
            "are not held out and overstate what it does on unseen pages.")


def _f1_table(results: dict) -> tuple[list[str], list[list[str]]]:
    extractors = results["extractors"]
    header = ["dataset", "pages", "score"] + extractors
    seen = set(_in_sample(results))
    rows = []
    for name, d in results["datasets"].items():
        vals = [d["extractors"].get(e, {}).get("f1") for e in extractors]
        best = max((v for v in vals if v is not None and v == v), default=None)
        cells = [
            f"**{_fmt(v)}**" if v is not None and best is not None and v == best else _fmt(v)
            for v in vals
        ]
        label = f"{name} (in-sample)" if name in seen else name
        rows.append([label, str(d["n_pages"]), d.get("score", "")] + cells)
    for name, d in results.get("subsets", {}).items():
        rows.append([f"{name} (subset)", str(d["n_pages"]), d.get("score", "")]
                    + [_fmt(d["extractors"].get(e, {}).get("f1")) for e in extractors])
    for label, key, n_pages in (
        ("macro", "f1", sum(d["n_pages"] for d in results["datasets"].values())),
        ("modern news", "modern_news_f1", None),
    ):
        vals = [results["overall"].get(e, {}).get(key) for e in extractors]
        if all(v is None for v in vals):
            continue
        best = max((v for v in vals if v is not None and v == v), default=None)
        rows.append(
            [f"**{label}**", "" if n_pages is None else str(n_pages), ""]
            + [f"**{_fmt(v)}**" if v == best and v is not None else _fmt(v) for v in vals]
        )
    return header, rows


def _collapsed_table(results: dict) -> tuple[list[str], list[list[str]]] | None:
    collapsed = results.get("collapsed") or {}
    names = [n for n in ("chromesift", "chromesift-text") if any(n in d for d in collapsed.values())]
    if not names:
        return None
    rows = [[ds] + [f"{d[n]['count']} of {d[n]['pages']}" if n in d else "–" for n in names]
            for ds, d in collapsed.items()]
    rows.append(["**all**"] + [str(sum(d[n]["count"] for d in collapsed.values() if n in d)) for n in names])
    return ["dataset"] + names, rows


def _signed(value) -> str:
    return "–" if value is None or value != value else f"{value:+.3f}"


def _lead_cell(x: dict | None) -> str:
    if not x:
        return "–"
    if x.get("low") is None or x["low"] != x["low"]:
        return _signed(x["lead"])
    return f"{_signed(x['lead'])} ({_signed(x['low'])} to {_signed(x['high'])})"


def _lead_table(results: dict) -> tuple[list[str], list[list[str]]] | None:
    leads = results.get("leads") or {}
    found = leads.get("datasets") or {}
    names = [n for n in ("chromesift", "chromesift-text") if any(n in d for d in found.values())]
    if not names:
        return None
    rows = [[ds] + [_lead_cell(d.get(n)) for n in names] for ds, d in found.items()]
    sites = {ds: max((x.get("sites", 0) for x in d.values()), default=0) for ds, d in found.items()}
    for row in rows:
        row.insert(1, str(sites[row[0]]))
    for key, label in (("all", "**mean of all**"), ("modern", "**modern news**")):
        means = [leads.get("mean", {}).get(n, {}).get(key) for n in names]
        if any(means):
            rows.append([label, ""] + [_lead_cell(m) for m in means])
    return ["dataset", "sites"] + names, rows


def _diff_md(pages: list[dict], scores, labels: dict[str, str]) -> str:
    """Pages with their two lists of lines (``missed``, ``extra``) as Markdown diffs;
    ``scores(page)`` is the line under each heading, ``labels`` what each list is."""
    out: list[str] = []
    for p in pages:
        out += [f"### {p['dataset']} / {p['id']}", ""]
        if p.get("url"):
            out += [p["url"], ""]
        out += [scores(p), ""]
        for key, sign in (("missed", "-"), ("extra", "+")):
            lines = p.get(key) or []
            if lines:
                out += [f"{labels[key]}:", "", "```diff", *(f"{sign} {s}" for s in lines), "```", ""]
            else:
                out += [f"{labels[key]}: none", ""]
    return "\n".join(out)


def _diff_html(pages: list[dict], scores, labels: dict[str, str]) -> str:
    """:func:`_diff_md` as HTML."""
    parts = []
    for p in pages:
        url = f" — {html.escape(p['url'])}" if p.get("url") else ""
        missed = "".join(f"<div class='missed'>{html.escape(s)}</div>" for s in p.get("missed", []))
        extra = "".join(f"<div class='extra'>{html.escape(s)}</div>" for s in p.get("extra", []))
        parts.append(
            f"<div class='page'><strong>{html.escape(p['dataset'] + ' / ' + p['id'])}</strong>{url}<br>"
            f"{scores(p)}"
            f"<div class='snips'><em>{labels['missed']}:</em>{missed or ' none'}"
            f"<br><em>{labels['extra']}:</em>{extra or ' none'}</div></div>"
        )
    return "".join(parts)


#: what the lists of a worst page and of a collapsed page are, in Markdown and in HTML
_WORST_MD = {"missed": "missed", "extra": "extra"}
_WORST_HTML = {"missed": "missed (in the ground truth, not extracted)",
               "extra": "extra (extracted, not in the ground truth)"}
_COLLAPSED_MD = {"missed": "missed (trafilatura has, chromesift lacks)",
                 "extra": "extra (chromesift has, trafilatura lacks)"}
_COLLAPSED_HTML = {"missed": "trafilatura has, chromesift lacks", "extra": "chromesift has, trafilatura lacks"}


def _worst_scores(p: dict, sep: str) -> str:
    return f"F1 {_fmt(p.get('f1'))}{sep}precision {_fmt(p.get('precision'))}{sep}recall {_fmt(p.get('recall'))}"


def _worst_md(pages: list[dict]) -> str:
    return _diff_md(pages, lambda p: _worst_scores(p, ", "), _WORST_MD)


def _worst_html(pages: list[dict]) -> str:
    return _diff_html(pages, lambda p: _worst_scores(p, " · "), _WORST_HTML)


def _collapsed_md(items: list[dict]) -> str:
    return _diff_md(items, lambda p: f"chromesift F1 {_fmt(p['f1'])}, trafilatura F1 {_fmt(p['peer_f1'])}",
                    _COLLAPSED_MD)


def _collapsed_html(items: list[dict]) -> str:
    return _diff_html(items, lambda p: f"chromesift F1 {_fmt(p['f1'])} · trafilatura F1 {_fmt(p['peer_f1'])}",
                      _COLLAPSED_HTML)


def collapsed_items(results: dict, limit: int) -> list[dict]:
    """The collapsed pages of chromesift (HTML), lowest F1 first, at most ``limit``."""
    items = [i for d in (results.get("collapsed") or {}).values() for i in d.get("chromesift", {}).get("items", [])]
    return sorted(items, key=lambda i: (i["f1"], i["dataset"], i["id"]))[:limit]


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
    for key in ("model", "split", "scope", "created", "git_commit", "limit"):
        if meta.get(key) is not None:
            in_sample = key == "split" and meta.get("in_sample")
            lines.append(f"{key}: {meta[key]}" + (f", {IN_SAMPLE_LABEL}" if in_sample else ""))
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
.in-sample {{ color: rgb{IN_SAMPLE_RGB}; font-weight: bold; font-size: 16px; margin: 4px 0 12px 0; }}
"""


def _sections(results: dict) -> list[tuple[str, tuple[list[str], list[list[str]]] | None, str]]:
    sections = [
        ("F1 per dataset", _f1_table(results), ""),
        ("Precision / recall per dataset", _pr_table(results), ""),
        ("Speed and failures", _speed_table(results),
         "Wall time of the extraction call per page; peers run in worker processes with a "
         "time limit, and a failed or timed-out page counts as empty output."),
    ]
    collapsed = _collapsed_table(results)
    if collapsed is not None:
        sections.insert(1, ("Collapsed pages", collapsed,
                            "Pages where chromesift scores below 0.5 while trafilatura scores above 0.9 "
                            "(of the pages both were scored on): one empty or wrong page costs a user "
                            "more than a point of mean F1. The worst are listed below with their diff."))
    lead = _lead_table(results)
    if lead is not None:
        peer = (results.get("leads") or {}).get("peer", "trafilatura")
        sections.insert(2 if collapsed is not None else 1, (f"Lead over {peer}", lead,
                        f"F1 of chromesift less {peer}'s on the same pages, and its 95% interval "
                        "over resamples of whole sites (each resample draws the dataset's sites "
                        "with replacement and keeps all their pages, for both extractors alike): "
                        "pages of one site share a layout, so resampling pages alone would give "
                        "too narrow an interval. The means average the datasets' resamples."))
    ci = _ci_table(results)
    if ci is not None:
        sections.insert(1 + (collapsed is not None) + (lead is not None), ("95% intervals of F1", ci,
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

    warning = in_sample_note(results)
    md = [f"# {title}", ""] + ([f"**{warning}**", ""] if warning else []) + [f"- {line}" for line in meta] + [""]
    for heading, table, note in sections:
        md += [f"## {heading}", ""]
        if note:
            md += [note, ""]
        md += [_md_table(*table), ""]
    if plots:
        md += ["## Figures", ""]
        md += [f"![{FIGURE_TITLES[n]}](plots/{n}.png)\n" for n in plots]
    collapsed = collapsed_items(results, COLLAPSED_LISTED)
    if collapsed:
        md += ["## Collapsed pages against trafilatura", "", _collapsed_md(collapsed)]
    if worst:
        md += ["## The worst pages of chromesift", "", _worst_md(worst)]
    (out / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    # figures first after the headline table, so that they sit high on the page
    body = [f"<h1>{html.escape(title)}</h1>"]
    if warning:
        body.append(f"<p class='in-sample' id='in-sample'>{html.escape(warning)}</p>")
    body.append("<div class='meta'>" + "<br>".join(html.escape(m) for m in meta) + "</div>")
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
    if collapsed:
        body += ["<h2>Collapsed pages against trafilatura</h2>", _collapsed_html(collapsed)]
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    (out / "report.html").write_text(page, encoding="utf-8")
    (out / "metrics.json").write_text(to_json(results) + "\n", encoding="utf-8")
    return {"md": out / "report.md", "html": out / "report.html", "json": out / "metrics.json"}
