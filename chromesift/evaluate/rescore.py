"""Decisions made again from a held-out evaluation's stored probabilities, under other rules.

A leave-one-dataset-out run (``chromesift evaluate --split leave-one-dataset-out``) keeps
every paragraph's calibrated probability (``predictions.parquet``) and each fold's
probability map and threshold (``metrics.json``). The map is increasing, so the model's
scores follow from the probabilities (to float32 precision). :func:`rescore` rebuilds each
page's paragraphs, decides again under each :class:`Rule` with the rule code of
:mod:`chromesift.models.rules`, and scores the texts as the run did: a decision rule is tried
on every held-out page in minutes, without the run's hour of training. The rule the run
used is always scored too, and compared with the report's own figures.

Command line (:mod:`chromesift.cli.rescore`):
``chromesift rescore REPORT_DIR [--threshold T ...] [--html-relative-cut R ...]``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chromesift import metrics
from chromesift.errors import UserError
from chromesift.models.rules import EMPTY_CUT, EMPTY_MIN_CHARS, TEXT_RELATIVE_CUT

MODES = ("html", "text")
#: the extractor names of the evaluation report, per mode
REPORT_NAMES = {"html": "chromesift", "text": "chromesift-text"}


@dataclass(frozen=True)
class Rule:
    """A decision rule: threshold and relative cuts (see :func:`chromesift.models.rules.content_mask`).

    ``threshold`` None is each fold's own (as the run decided); a relative cut None is none.
    """

    threshold: float | None = None
    html_relative_cut: float | None = None
    text_relative_cut: float | None = TEXT_RELATIVE_CUT
    empty_cut: float | None = EMPTY_CUT
    empty_min_chars: int = EMPTY_MIN_CHARS

    @property
    def name(self) -> str:
        def show(v: float | None, none: str) -> str:
            return none if v is None else f"{v:g}"

        return (f"threshold {show(self.threshold, 'as run')}, "
                f"html cut {show(self.html_relative_cut, 'none')}, text cut {show(self.text_relative_cut, 'none')}"
                + ("" if self.empty_cut is None else f", empty cut {self.empty_cut:g}")
                + ("" if self.empty_cut is None or not self.empty_min_chars
                   else f" from {self.empty_min_chars} chars"))

    def relative_cut(self, mode: str) -> float | None:
        return self.html_relative_cut if mode == "html" else self.text_relative_cut


#: the rule of :func:`chromesift.models.rules.content_mask` with each fold's threshold
AS_RUN = Rule()


def scores_from(probability: np.ndarray, calibration: list[float] | None) -> np.ndarray:
    """The model's scores behind calibrated probabilities: the inverse of ``1 / (1 + exp(-(a logit(s) + b)))``."""
    p = np.asarray(probability, dtype=float)
    if calibration is None:
        return p
    a, b = calibration
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return 1.0 / (1.0 + np.exp(-((np.log(p / (1 - p)) - b) / a)))


def load_report(report_dir: Path):
    """``(metrics, predictions)`` of a leave-one-dataset-out report folder, or a :class:`UserError`."""
    import pandas as pd

    report_dir = Path(report_dir)
    metrics_path, pred_path = report_dir / "metrics.json", report_dir / "predictions.parquet"
    if not metrics_path.is_file():
        raise UserError(f"{report_dir} holds no metrics.json: give the folder of a `chromesift evaluate` report")
    try:
        results = json.loads(metrics_path.read_text(encoding="utf-8"))
        meta = results["meta"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{metrics_path} is not an evaluation report's metrics: {exc}") from None
    maps = meta.get("calibration_maps")
    if meta.get("split") != "leave-one-dataset-out" or not isinstance(maps, dict):
        raise UserError(
            f"{report_dir} is not a leave-one-dataset-out report with its folds' probability maps "
            "(`chromesift evaluate --split leave-one-dataset-out`, since the maps are recorded)"
        )
    if not pred_path.is_file():
        raise UserError(f"{report_dir} holds no predictions.parquet (the run scored no chromesift paragraphs)")
    try:
        pred = pd.read_parquet(pred_path)
    except Exception as exc:  # a truncated or foreign file: say which, not a pyarrow traceback
        raise UserError(f"cannot read {pred_path}: {type(exc).__name__}: {exc}") from None
    missing = {"dataset", "mode", "page", "position", "probability"} - set(pred.columns)
    if missing:
        raise UserError(f"{pred_path} lacks the column(s) {', '.join(sorted(missing))}")
    return results, pred


def _check_rules(rules: list[Rule]) -> None:
    for rule in rules:
        if rule.threshold is not None and not 0.0 <= rule.threshold <= 1.0:
            raise UserError(f"a threshold must be between 0 and 1, not {rule.threshold:g}")
        for cut in (rule.html_relative_cut, rule.text_relative_cut, rule.empty_cut):
            if cut is not None and not 0.0 < cut <= 1.0:
                raise UserError(f"a relative cut must be in (0, 1], not {cut:g}")


def rescore(report_dir: Path, rules: list[Rule], *, data_dir: Path | None = None,
            modes: tuple[str, ...] = MODES, run_threshold: float | None = None, progress: bool = False,
            peer_cache: Path | None = None, n_boot: int = 1000) -> dict:
    """Score each rule on the report's held-out pages, per dataset and mode.

    ``run_threshold`` is the folds' threshold where the report does not record it. With
    ``peer_cache`` (the evaluation's peer cache folder), each rule's collapsed pages against
    trafilatura are counted too (trafilatura runs on the pages its cache lacks), and its lead
    over trafilatura is given per dataset (``lead``) and on the means, with a 95% interval
    over ``n_boot`` resamples of sites (:func:`chromesift.metrics.site_lead`). Each rule but
    the run's own gets its ``change``: its F1 less the run's rule's on the same pages, with
    the same kind of interval, per dataset and on the means.

    Returns ``rules`` (names, :data:`AS_RUN` first), ``datasets`` (name -> ``kind`` and,
    per mode, ``f1`` per rule and the ``reported`` F1), ``mean`` (per mode and rule: the
    macro F1 over the full-text datasets, ``full``, and over the snippet ones,
    ``snippets``, None where there are none) and ``largest_difference``: how far the
    run's own rule lands from the report's figures (0 up to float32 ties).
    """
    from chromesift.data import corpus
    from chromesift.data.page import to_columns
    from chromesift.evaluate.run import (
        COLLAPSE_PEER,
        MODERN_NEWS,
        EvaluationConfig,
        collapsed_pages,
        dataset_kind,
        lead_means,
        lead_parts,
        lead_sites,
        macro_mean,
        resample_seed,
        resolve_datasets,
        score_texts,
        scored_groups,
        subsets_of,
        text_dump,
    )
    from chromesift.models.rules import decide, page_captions

    rules = [AS_RUN] + [r for r in rules if r != AS_RUN]
    _check_rules(rules + [Rule(threshold=run_threshold)])
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise UserError(f"modes are {' and '.join(MODES)}, not {', '.join(unknown) or 'none'}")
    results, pred = load_report(report_dir)
    meta = results["meta"]
    maps = meta["calibration_maps"]
    thresholds = {ds: run_threshold for ds in maps} if run_threshold is not None else {}
    thresholds.update(meta.get("thresholds") or {})
    lacking = [ds for ds in maps if ds not in thresholds]
    if lacking:
        raise UserError(
            f"the report does not record the threshold of {', '.join(lacking)} (made before thresholds "
            "were recorded): give the run's, e.g. `--run-threshold 0.5` for benchmarks/lodo.toml"
        )
    for mode in modes:
        if not (pred["mode"] == mode).any():
            raise UserError(f"the report has no {mode} predictions (run without that mode)")
    scope = meta.get("scope")  # (the scope the report's pages were read with)
    config = EvaluationConfig(data_dir=data_dir, datasets=tuple(maps), n_boot=0)
    data_dir, _ = resolve_datasets(config)  # the corpus folder, each dataset checked to be there
    out: dict = {"rules": [r.name for r in rules], "datasets": {}, "subsets": {}, "mean": {}}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(maps) * len(modes), desc="datasets", unit="dataset")
    differences = []
    leads: dict[str, dict[str, dict]] = {}  # mode -> dataset (or dataset/type) -> rule -> lead
    changes: dict[str, dict[str, dict]] = {}  # the same, of each rule over the run's own
    for ds in maps:
        pages = list(corpus.iter_pages(corpus.dataset_path(data_dir, ds), meta.get("limit")))
        kind = dataset_kind(pages)
        entry = out["datasets"][ds] = {"kind": kind}
        peer_texts = None
        if peer_cache is not None:
            from chromesift.evaluate.peers import run_peer

            peer_texts = [r.text for r in run_peer(COLLAPSE_PEER, pages, cache_dir=peer_cache)]
        for mode in modes:
            sub = pred[(pred["dataset"] == ds) & (pred["mode"] == mode)]
            stored = {page: (g["position"].to_numpy(), g["probability"].to_numpy(dtype=float))
                      for page, g in sub.groupby("page", observed=True, sort=False)}
            texts: list[list[str]] = [[] for _ in rules]
            for page in pages:
                cols = to_columns(text_dump(page.html) if mode == "text" else page.html, format=mode)
                rows = stored.get(page.id)
                if rows is None:  # the page failed in the run, or has no paragraphs
                    for t in texts:
                        t.append("")
                    continue
                if len(rows[0]) and int(rows[0].max()) >= len(cols["text"]):
                    raise UserError(
                        f"{page.id} ({mode}) has {len(cols['text'])} paragraphs now, but the report holds a "
                        f"probability for paragraph {int(rows[0].max())}: the report was made by a chromesift "
                        "that reads pages otherwise. Run `chromesift evaluate` again to rescore it."
                    )
                scores = np.zeros(len(cols["text"]))
                scores[rows[0]] = scores_from(rows[1], maps[ds])
                for k, rule in enumerate(rules):
                    threshold = thresholds[ds] if rule.threshold is None else rule.threshold
                    keep, _ = decide(cols, scores, threshold, title=False, relative_cut=rule.relative_cut(mode),
                                     empty_cut=rule.empty_cut, captions=page_captions(scope, cols),
                                     empty_min_chars=rule.empty_min_chars)
                    texts[k].append("\n".join(t for t, c in zip(cols["text"], keep.tolist(), strict=True) if c))
            f1 = {rule.name: score_texts(kind, pages, t, config)["f1"] for rule, t in zip(rules, texts, strict=True)}
            reported = (results.get("datasets", {}).get(ds, {}).get("extractors", {})
                        .get(REPORT_NAMES[mode], {}).get("f1"))
            entry[mode] = {"f1": f1, "reported": reported}
            for page_type, idx in subsets_of(pages).items():
                sub = out["subsets"].setdefault(f"{ds}/{page_type}", {"kind": kind})
                sub[mode] = {"f1": {rule.name: score_texts(kind, [pages[i] for i in idx], [t[i] for i in idx],
                                                           config)["f1"]
                                    for rule, t in zip(rules, texts, strict=True)}}
            if peer_texts is not None:
                entry[mode]["collapsed"] = {
                    rule.name: collapsed_pages(ds, kind, pages, {REPORT_NAMES["html"]: t, COLLAPSE_PEER: peer_texts})
                    [REPORT_NAMES["html"]]["count"]
                    for rule, t in zip(rules, texts, strict=True)
                }
            if len(rules) > 1 or peer_texts is not None:
                for name, idx in scored_groups(ds, pages).items():
                    part = [pages[i] for i in idx]
                    sites, seed = lead_sites(kind, part), resample_seed(0, name)
                    parts = [lead_parts(kind, part, [t[i] for i in idx]) for t in texts]
                    target = entry if name == ds else out["subsets"][name]
                    # each rule against the run's own, and against trafilatura, paired page by page
                    against = [("change", changes, parts[0], range(1, len(rules)))]
                    if peer_texts is not None:
                        peer = lead_parts(kind, part, [peer_texts[i] for i in idx])
                        against.append(("lead", leads, peer, range(len(rules))))
                    for key, store, base, which in against:
                        if not which:
                            continue
                        found = store.setdefault(mode, {}).setdefault(name, {})
                        for k in which:
                            found[rules[k].name] = metrics.site_lead(kind, parts[k], base, sites, n_boot=n_boot,
                                                                     random_state=seed)
                        target[mode][key] = {r: x.as_dict() for r, x in found.items()}
            if reported is not None and f1[AS_RUN.name] is not None:
                differences.append(abs(f1[AS_RUN.name] - reported))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    for mode in modes:
        out["mean"][mode] = {}
        for rule in rules:
            out["mean"][mode][rule.name] = {
                kind: macro_mean([d[mode]["f1"][rule.name] for d in out["datasets"].values() if d["kind"] == kind])
                for kind in ("full", "snippets")
            }
            found = {**out["datasets"], **out["subsets"]}
            out["mean"][mode][rule.name]["modern"] = macro_mean(
                [found[d][mode]["f1"][rule.name] for d in MODERN_NEWS if d in found])
            out["mean"][mode][rule.name]["all"] = macro_mean(
                [d[mode]["f1"][rule.name] for d in out["datasets"].values()])
            if rule != AS_RUN:
                means = lead_means({ds: {"ours": d[rule.name]} for ds, d in changes.get(mode, {}).items()})
                out["mean"][mode][rule.name]["change"] = means.get("ours", {})
            if peer_cache is not None:
                out["mean"][mode][rule.name]["collapsed"] = sum(
                    d[mode]["collapsed"][rule.name] for d in out["datasets"].values())
                means = lead_means({ds: {"ours": d[rule.name]} for ds, d in leads.get(mode, {}).items()})
                out["mean"][mode][rule.name]["lead"] = means.get("ours", {})
    out["largest_difference"] = max(differences) if differences else None
    return out


def table(out: dict) -> str:
    """The rules side by side, one plain-text table per mode (F1 per dataset, then the means)."""
    rules = out["rules"]
    lines = [f"rule {k}: {name}" for k, name in enumerate(rules)]
    width = max([len(d) for d in [*out["datasets"], *out.get("subsets", {})]] + [len("mean, full-text datasets")])

    def fmt(v) -> str:
        return "   -  " if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"

    for mode, means in out["mean"].items():
        lines += ["", f"{mode}:", " ".join([f"{'dataset':{width}s}", "report"] + [f"rule {k}" for k in range(len(rules))])]
        for ds, d in out["datasets"].items():
            lines.append(" ".join([f"{ds:{width}s}", fmt(d[mode]["reported"])]
                                  + [fmt(d[mode]["f1"][r]) for r in rules]))
        for ds, d in out.get("subsets", {}).items():
            lines.append(" ".join([f"{ds:{width}s}", "      "] + [fmt(d[mode]["f1"][r]) for r in rules]))
        for kind, label in (("full", "mean, full-text datasets"), ("snippets", "mean, snippet datasets"),
                            ("all", "mean of all"), ("modern", "mean, modern news")):
            lines.append(" ".join([f"{label:{width}s}", "      "] + [fmt(means[r].get(kind)) for r in rules]))
        if all("collapsed" in means[r] for r in rules):
            lines.append(" ".join([f"{'collapsed pages':{width}s}", "      "]
                                  + [f"{means[r]['collapsed']:6d}" for r in rules]))
        for field, what in (("change", "rule {k} less rule 0, {label}"),
                            ("lead", "lead over trafilatura, {label}, rule {k}")):
            for key, label in (("all", "mean of all"), ("modern", "modern news")):
                for k, r in enumerate(rules):
                    x = means[r].get(field, {}).get(key)
                    if x:
                        lines.append(f"{what.format(k=k, label=label)}: {x['lead']:+.4f} "
                                     f"(95% interval over sites {x['low']:+.4f} to {x['high']:+.4f})")
    diff = out["largest_difference"]
    if diff is not None:
        verdict = "reproduces" if diff < 1e-3 else "does NOT reproduce"
        lines += ["", f"rule 0 (as run) {verdict} the report's F1 (largest difference {diff:.4f})"]
    return "\n".join(lines)
