"""The evaluation engine: chromesift and its peers on the same pages, per dataset and overall.

:func:`run_evaluation` takes an :class:`EvaluationConfig`, returns the metrics as a
plain dict and writes the report folder (``report.md``, ``report.html``,
``metrics.json``, ``predictions.parquet``). For the leave-one-dataset-out split it is
given a fitter (``fit``, e.g. a :class:`HeldOutTrainer`): the evaluation stage does not
import training, the command line (:mod:`chromesift.cli.evaluate`) wires the two.
MLflow is imported only in :func:`log_to_mlflow`.

Honesty: scoring a bundle on a corpus it was trained on (same dataset name and corpus
file sha256 as its ``metadata.json`` records, see :func:`in_sample_datasets`) is
refused unless ``in_sample`` is set; then the report, ``metrics.json`` and the MLflow
run say so. Lineage: the MLflow run records the bundle's sha256, its training run and
each corpus file as a dataset input; a leave-one-dataset-out run has one nested run
per held-out dataset.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas

from chromesift import metrics
from chromesift.errors import ChromesiftError, UserError
from chromesift.evaluate.peers import (
    DEFAULT_CACHE_DIR,
    DEFAULT_TIMEOUT,
    PEERS,
    run_peer,
)
from chromesift.tracking import (
    TAG_BUNDLE_SHA256,
    TAG_DATASETS,
    TAG_GIT_COMMIT,
    TAG_HELD_OUT,
    TAG_IN_SAMPLE,
    TAG_IN_SAMPLE_DATASETS,
    TAG_STAGE,
    TAG_TRAINING_RUN,
    TAG_TRAINING_RUN_URL,
    artifact_progress,
    git_commit,
    log_corpus_inputs,
    param_value,
    run_exists,
    run_link,
    start_run,
)

log = logging.getLogger(__name__)

SPLITS = ("whole", "leave-one-dataset-out")
#: Name of chromesift's own column in the results.
SELF = "chromesift"
#: chromesift on the plain-text dump of each page (its visible text, one line per paragraph).
SELF_TEXT = "chromesift-text"
DEFAULT_EXPERIMENT = "chromesift-evaluate"
#: the corpora of today's news and articles: the report's "modern news" mean is over those
#: of them that were evaluated (``wcxb/article`` is the subset of wcxb's article pages)
MODERN_NEWS = ("fundus", "andy-article-extraction", "readability", "newspaper3k-fixtures", "wcxb/article",
               "trafilatura-eval")
#: page types (``meta.page_type``) whose pages are also scored apart, as ``<dataset>/<type>``
SUBSET_TYPES = ("article",)
#: a page of ours collapses where it scores below this while the peer below scores above
#: :data:`COLLAPSE_PEER_ABOVE` on the same page: one empty page costs a user more than a
#: point of mean F1
COLLAPSE_BELOW = 0.5
COLLAPSE_PEER_ABOVE = 0.9
COLLAPSE_PEER = "trafilatura"



@dataclass(frozen=True)
class EvaluationConfig:
    """Everything an evaluation run depends on.

    Attributes
    ----------
    model
        Model bundle folder; ``None`` for the shipped default bundle.
    trust
        Load the bundle although this machine did not write it (a bundle is
        a pickle: only for a bundle whose sha256 you checked).
    data_dir
        Corpus folder; ``None`` for :func:`chromesift.data.corpus.default_data_dir`.
    datasets
        Dataset names; empty for every dataset of the corpus folder.
    peers
        Peer names to compare with (see :data:`chromesift.evaluate.peers.PEERS`).
    split
        ``"whole"`` (evaluate the given model) or ``"leave-one-dataset-out"``
        (for each dataset, a model trained on the others).
    limit
        Pages per dataset (``None``: all).
    out
        Report folder; ``None`` for ``reports/evaluate-<UTC time>``.
    include_model
        Evaluate chromesift itself (``False``: peers only, no model needed).
    mlflow
        Log the run to MLflow.
    cache_dir
        Cache of peer outputs.
    timeout
        Seconds per page for a peer.
    n_jobs
        Worker processes per peer.
    n_boot
        Bootstrap resamples for the confidence intervals.
    random_state
        Seed of the bootstrap.
    worst
        How many of chromesift's worst pages the report shows.
    experiment
        MLflow experiment name.
    train_config
        TOML file for the leave-one-dataset-out training runs (read by the
        command, which gives :func:`run_evaluation` its fitter).
    progress
        Show progress bars.
    text_mode
        Also score chromesift on each page's plain-text dump (column ``chromesift-text``).
    in_sample
        With ``split="whole"``: score the model also on datasets it was trained on
        (:func:`in_sample_datasets`); the report is then marked in-sample. Without it
        such a run is refused.
    scope
        What chromesift counts as content on the HTML pages (``"auto"``, ``"article"``,
        ``"all"``; None: ``"auto"``), as for :meth:`chromesift.Model.classify`.
    """

    model: Path | None = None
    trust: bool = False
    data_dir: Path | None = None
    datasets: tuple[str, ...] = ()
    peers: tuple[str, ...] = ()
    split: str = "whole"
    limit: int | None = None
    out: Path | None = None
    include_model: bool = True
    mlflow: bool = True
    cache_dir: Path = DEFAULT_CACHE_DIR
    timeout: float = DEFAULT_TIMEOUT
    n_jobs: int = 1
    n_boot: int = 1000
    random_state: int = 0
    worst: int = 10
    experiment: str = DEFAULT_EXPERIMENT
    train_config: Path | None = None
    progress: bool = True
    text_mode: bool = True
    in_sample: bool = False
    scope: str | None = None

    #: fields that change no figure of the run: not logged as params
    _NOT_PARAMS = ("out", "progress", "mlflow", "experiment", "cache_dir")

    def params(self) -> dict[str, str]:
        """MLflow params: what decides the run's figures, as plain text.

        Values go through :func:`chromesift.tracking.param_value` (paths relative to the
        working directory or their last component, lists comma-separated); ``model`` is
        ``default`` for the shipped bundle, ``limit`` is ``all`` without one. Where the
        report goes, progress bars, the experiment and the peer cache are left out.
        """
        out = {k: param_value(v) for k, v in dataclasses.asdict(self).items() if k not in self._NOT_PARAMS}
        out["model"] = "default" if self.model is None else param_value(Path(self.model))
        out["limit"] = "all" if self.limit is None else str(self.limit)
        return out


def summary_table(results: dict) -> str:
    """Plain-text table of the headline F1 per dataset and extractor, with the macro row, then
    the mean leads over the collapse peer where the run has them."""
    extractors = results["extractors"]
    width = max([len(d) for d in results["datasets"]] + [8])
    cols = [max(len(e), 6) for e in extractors]
    lines = [" " * width + "  " + "  ".join(e.rjust(c) for e, c in zip(extractors, cols, strict=True))]

    def row(name: str, values: Iterable) -> str:
        cells = ["–" if v is None or v != v else f"{v:.3f}" for v in values]
        return name.ljust(width) + "  " + "  ".join(s.rjust(c) for s, c in zip(cells, cols, strict=True))

    for name, d in results["datasets"].items():
        lines.append(row(name, (d["extractors"].get(e, {}).get("f1") for e in extractors)))
    lines.append(row("macro", (results["overall"].get(e, {}).get("f1") for e in extractors)))
    leads = results.get("leads") or {}
    for name, means in leads.get("mean", {}).items():
        for key, label in (("all", "mean of all"), ("modern", "modern news")):
            x = means.get(key)
            if x:
                interval = "" if x["low"] != x["low"] else f" (95% interval over sites {x['low']:+.3f} to {x['high']:+.3f})"
                lines.append(f"{name} over {leads['peer']}, {label}: {x['lead']:+.3f}{interval}")
    return "\n".join(lines)


# --- the run -------------------------------------------------------------------------------


def resolve_datasets(config: EvaluationConfig) -> tuple[Path, list[str]]:
    """The corpus folder and the datasets to evaluate, each checked to be there.

    Parameters
    ----------
    config
        Its ``data_dir`` (None: :func:`chromesift.data.corpus.default_data_dir`) and
        ``datasets`` (empty: every dataset of the folder) are used.

    Returns
    -------
    tuple
        ``(data_dir, dataset names)``.

    Raises
    ------
    UserError
        The folder is missing or empty, or a dataset is unknown or its file absent.
    """
    from chromesift.data import corpus

    data_dir = Path(config.data_dir) if config.data_dir is not None else corpus.default_data_dir()
    if not data_dir.is_dir():
        raise UserError(f"corpus folder {data_dir} not found (use --data or ${corpus.ENV_VAR})")
    if (data_dir / "MANIFEST.json").is_file():
        known = corpus.dataset_names(data_dir)
    else:
        known = sorted(p.name.split(".")[0] for p in data_dir.glob("*.jsonl.xz"))
    wanted = list(config.datasets) or known
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise UserError(
            f"unknown dataset(s) {', '.join(unknown)} in {data_dir} (known: {', '.join(known) or 'none'})"
        )
    for name in wanted:
        try:
            corpus.dataset_path(data_dir, name)
        except corpus.CorpusError as exc:
            raise UserError(str(exc)) from None
    if not wanted:
        raise UserError(f"no datasets in {data_dir}")
    return data_dir, wanted


def load_bundle(path: Path | None, *, trusted: bool = False):
    """Load a model bundle with :func:`chromesift.load_model`, with user-facing errors.

    ``trusted`` is passed on: True loads a bundle this machine did not write.

    Raises
    ------
    UserError
        The bundle folder does not exist, the library has no model API, or
        the bundle cannot be loaded (the reason is given).
    """
    if path is not None and not Path(path).exists():
        raise UserError(f"model bundle {path} not found")
    import chromesift

    load_model = getattr(chromesift, "load_model", None)
    if load_model is None:
        raise UserError("this chromesift has no model API yet (chromesift.load_model is missing)")
    try:
        return load_model(path, trusted=trusted)
    except ChromesiftError as exc:
        where = f"model bundle {path}" if path is not None else "the default model bundle"
        raise UserError(f"cannot load {where}: {exc}") from None


def in_sample_datasets(model_metadata: dict, corpus_sha256: dict[str, str]) -> list[str]:
    """The evaluated datasets that a model was trained on, by its bundle's metadata.

    A dataset is in-sample when the bundle's ``data`` block names it and records the
    same sha256 for its corpus file, or names it without a sha256 (nothing shows that
    the pages differ). A dataset of the same name whose file has another sha256 is
    another corpus: it counts as unseen, with a warning, since a new release of a
    corpus may still share pages with the old one.

    Parameters
    ----------
    model_metadata
        The bundle's ``metadata.json`` (a model without a ``data`` block was trained on
        nothing known).
    corpus_sha256
        Evaluated dataset -> sha256 of its corpus file.

    Returns
    -------
    list of str
        Those datasets, in the order of ``corpus_sha256``.
    """
    data = (model_metadata or {}).get("data")
    if not isinstance(data, dict):
        return []
    recorded = data.get("sha256") if isinstance(data.get("sha256"), dict) else {}
    trained = set(data.get("datasets") or ())
    for key in ("sha256", "pages", "licenses"):  # bundles written before data.datasets
        if not data.get("datasets") and isinstance(data.get(key), dict):
            trained |= set(data[key])
    found = []
    for name, digest in corpus_sha256.items():
        if name not in trained:
            continue
        if recorded.get(name) and recorded[name] != digest:
            log.warning("%s: the model was trained on a dataset of this name with another corpus file "
                        "(sha256 %s..., this one %s...); scored as unseen, but the two may share pages",
                        name, recorded[name][:12], digest[:12])
            continue
        found.append(name)
    return found


def _in_sample_refusal(which: str, names: list[str], metadata: dict) -> str:
    recorded = ((metadata or {}).get("data") or {}).get("sha256") or {}
    what = ", ".join(f"{n} (sha256 {recorded[n][:12]}...)" if recorded.get(n) else n for n in names)
    return (f"{which} was trained on {what}: scoring it there is in-sample, not a measure of unseen pages; "
            "use --split leave-one-dataset-out or datasets the model never saw, "
            "or --in-sample to score it anyway with the report marked in-sample")


#: ``fit(held_out)``: a model trained without the dataset ``held_out``.
HeldOutFit = Callable[[str], Any]


class HeldOutTrainer:
    """Fits, for each held-out dataset, a model on the built tables of every other dataset.

    An instance is a :data:`HeldOutFit` for :func:`run_evaluation`.

    Parameters
    ----------
    fit
        Fits a model, untracked, on a labeled paragraph table (``fit(table) -> model``
        with ``classify`` and ``threshold``), e.g.
        :func:`chromesift.train.fit_for_evaluation` with a training config.
    tables
        Folder of the built paragraph tables (``chromesift data build``).
    datasets
        Datasets to load from it; empty for all.
    """

    def __init__(self, fit: Callable[[pandas.DataFrame], Any], tables: Path, datasets: Iterable[str] = ()) -> None:
        self.fit = fit
        self.tables = Path(tables)
        self.datasets = tuple(datasets)
        self._table = None

    def __call__(self, held_out: str):
        """A model trained without ``held_out``."""
        return self.model_for(held_out)

    def model_for(self, held_out: str):
        """A model trained without ``held_out``."""
        from chromesift.data.build import load_tables

        if self._table is None:
            self._table = load_tables(self.tables, list(self.datasets) or None)
        train = self._table[self._table["dataset"] != held_out]
        if not len(train):
            raise UserError(
                f"no training data without {held_out!r} in {self.tables} "
                "(run `chromesift data build` for the other datasets)"
            )
        log.info("training without %s on %d paragraphs", held_out, len(train))
        return self.fit(train.reset_index(drop=True))


def _calibration_map(model) -> list[float] | None:
    """``[a, b]`` of the model's probability map p = 1 / (1 + exp(-(a logit(s) + b))), None without one."""
    cal = getattr(model.pipeline[-1], "calibration_", None)
    return None if cal is None else [float(cal[0]), float(cal[1])]


def _content_text(frame) -> str:
    return "\n".join(str(t) for t, c in zip(frame["text"], frame["is_content"], strict=True) if c)


def text_dump(html: str) -> str:
    """A page as plain text: its visible text, one line per paragraph as the HTML parser sees
    it, a run of links one line per link (:func:`chromesift.data.html.text_lines`)."""
    from chromesift.data.html import text_lines

    return "\n".join(text_lines(html))


def _run_model(model, pages, *, progress: bool, desc: str, text_mode: bool = False,
               scope: str | None = None) -> tuple[list, list[float], list]:
    """Classify every page: extracted texts, ms per page (NaN on failure), paragraph frames.

    ``text_mode`` classifies each page's :func:`text_dump` instead of its HTML
    (the dump is made before the clock starts); ``scope``, given, is passed to ``classify``.
    """
    extra = {} if scope is None else {"scope": scope}
    texts, ms, frames = [], [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pages), desc=desc, unit="page", leave=False)
    for page in pages:
        try:
            document = text_dump(page.html) if text_mode else page.html
            start = time.perf_counter()
            frame = model.classify(document, format="text" if text_mode else "html", **extra)
        except Exception as exc:  # one bad page must not end a long evaluation
            log.warning("chromesift failed on %s: %s: %s", page.id, type(exc).__name__, exc)
            texts.append("")
            ms.append(float("nan"))
            frames.append(None)
        else:
            ms.append((time.perf_counter() - start) * 1000)
            texts.append(_content_text(frame))
            frames.append(frame)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return texts, ms, frames


def _prediction_frame(ds: str, mode: str, pages, frames) -> pandas.DataFrame:
    """chromesift's probability for every paragraph of ``pages``, keyed by page and position.

    The rows of ``predictions.parquet``: with the pages' paragraph tables (which
    :func:`chromesift.to_columns` rebuilds exactly) they let a decision rule be
    studied on held-out probabilities without training again.
    """
    import pandas as pd

    parts = [
        pd.DataFrame({"page": page.id, "position": frame["position"].to_numpy(dtype="int32"),
                      "probability": frame["probability"].to_numpy(dtype="float32")})
        for page, frame in zip(pages, frames, strict=True)
        if frame is not None and len(frame)
    ]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"page": pd.Series([], dtype=object), "position": pd.Series([], dtype="int32"),
         "probability": pd.Series([], dtype="float32")})
    out.insert(0, "mode", mode)
    out.insert(0, "dataset", ds)
    return out


def dataset_kind(pages) -> str:
    """``"full"`` when any page has a full ground-truth text, else ``"snippets"``."""
    return "full" if any(p.text is not None for p in pages) else "snippets"


def score_texts(kind: str, pages, texts: list[str], config: EvaluationConfig) -> dict:
    """Headline scores of one extractor on one dataset.

    Parameters
    ----------
    kind
        The dataset's :func:`dataset_kind`.
    pages
        The dataset's pages (:func:`chromesift.data.corpus.iter_pages`).
    texts
        The extractor's text of each page, same order.
    config
        Its ``n_boot`` and ``random_state`` seed the bootstrap intervals.

    Returns
    -------
    dict
        Shingle precision, recall, F1 (with intervals) and token F1 for ``"full"``;
        pooled snippet scores for ``"snippets"``; ``score`` names which.
    """
    if kind == "snippets":
        s = metrics.snippet_score(texts, [p.with_ for p in pages], [p.without for p in pages])
        return {**s, "score": "snippet F1"}
    keep = [i for i, p in enumerate(pages) if p.text is not None]
    preds = [texts[i] for i in keep]
    truths = [pages[i].text for i in keep]
    sc = metrics.shingle_score(preds, truths, n_boot=config.n_boot, random_state=config.random_state)
    tok = metrics.token_f1(preds, truths)
    return {**sc.as_dict(), "token_f1": tok["f1"], "score": "shingle F1"}


def _timing_stats(ms: list[float]) -> dict:
    arr = np.asarray([m for m in ms if m == m], dtype=float)
    if not len(arr):
        return {"ms_median": None, "ms_p90": None, "pages_per_s": None}
    return {
        "ms_median": float(np.median(arr)),
        "ms_p90": float(np.percentile(arr, 90)),
        "pages_per_s": float(1000.0 / arr.mean()) if arr.mean() > 0 else None,
    }


def _page_f1(pred: str, truth: str) -> tuple[float, float, float]:
    p, r = metrics.page_precision_recall(*metrics.shingle_counts(pred, truth))
    p0 = 0.0 if p != p else p
    r0 = 0.0 if r != r else r
    return p, r, metrics.f1_from(p0, r0)


def text_diff(pred: str, truth: str, *, max_items: int = 25, max_chars: int = 300) -> tuple[list[str], list[str]]:
    """Lines of the truth mostly absent from the prediction (missed), and the reverse (extra).

    A line is absent when fewer than half of its shingles occur in the other
    text, which tolerates a different paragraph segmentation.
    """

    def absent(lines: list[str], other: str) -> list[str]:
        other_sh = metrics.shingles(other)
        out = []
        for line in lines:
            sh = metrics.shingles(line)
            total = sum(sh.values())
            if not total:
                continue
            found = sum((sh & other_sh).values())
            if found / total < 0.5:
                out.append(line if len(line) <= max_chars else line[: max_chars - 1] + "…")
            if len(out) >= max_items:
                break
        return out

    truth_lines = [ln.strip() for ln in (truth or "").split("\n") if ln.strip()]
    pred_lines = [ln.strip() for ln in (pred or "").split("\n") if ln.strip()]
    return absent(truth_lines, pred or ""), absent(pred_lines, truth or "")


def _paragraph_rows(frames, pages) -> dict[str, np.ndarray]:
    """Labels aligned from the ground truth next to chromesift's decisions, labelled rows only."""
    from chromesift.data.labels import label_page

    ys, preds, probas, lengths = [], [], [], []
    for frame, page in zip(frames, pages, strict=True):
        if frame is None or not len(frame):
            continue
        labels = label_page(frame, page.text, page.with_, page.without)
        if labels.excluded:
            continue
        ok = ~np.isnan(labels.label)
        ys.append(labels.label[ok] == 1)
        preds.append(frame["is_content"].to_numpy(dtype=bool)[ok])
        probas.append(frame["probability"].to_numpy(dtype=float)[ok])
        lengths.append(frame["text"].str.len().to_numpy()[ok])
    if not ys:
        return {"y": np.zeros(0, bool), "pred": np.zeros(0, bool), "proba": np.zeros(0), "len": np.zeros(0)}
    return {
        "y": np.concatenate(ys),
        "pred": np.concatenate(preds),
        "proba": np.concatenate(probas),
        "len": np.concatenate(lengths),
    }


def _paragraph_scores(rows: dict[str, np.ndarray]) -> dict:
    out = metrics.paragraph_scores(rows["y"], rows["pred"], lengths=rows["len"], proba=rows["proba"])
    out["brier"] = metrics.brier_score(rows["y"], rows["proba"])
    out["reliability"] = metrics.reliability_curve(rows["y"], rows["proba"])
    return out


class _WorstPages:
    """The ``k`` pages with the lowest F1 seen so far (a heap on -F1 keeps the best of them on top)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self._heap: list[tuple[float, int, dict]] = []
        self._count = itertools.count()

    def add(self, dataset: str, page, pred: str) -> None:
        """Score one page of a full-text dataset and keep it if it is among the worst."""
        p, r, f = _page_f1(pred, page.text)
        if self.k <= 0 or (len(self._heap) >= self.k and -f <= self._heap[0][0]):
            return
        item = {"dataset": dataset, "id": page.id, "url": page.url, "precision": p, "recall": r,
                "f1": f, "_pred": pred, "_truth": page.text}
        entry = (-f, next(self._count), item)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heapreplace(self._heap, entry)

    def pages(self) -> list[dict]:
        """The kept pages, lowest F1 first, each with its missed and extra lines."""
        out = []
        for _, _, item in sorted(self._heap, key=lambda t: (-t[0], t[1])):
            item = dict(item)
            missed, extra = text_diff(item.pop("_pred"), item.pop("_truth"))
            out.append({**item, "missed": missed, "extra": extra})
        return out


def page_scores(kind: str, pages, texts: list[str]) -> list[float | None]:
    """Each page's F1: shingle F1 against its text, or snippet F1 of its snippets (None for a
    page without ground truth of that kind, or with no snippet the F1 can be made of)."""
    out: list[float | None] = []
    for page, text in zip(pages, texts, strict=True):
        if kind == "full":
            out.append(None if page.text is None else _page_f1(text, page.text)[2])
        else:
            f = metrics.snippet_score([text], [page.with_], [page.without])["f1"]
            out.append(None if f != f else f)
    return out


def collapsed_pages(dataset: str, kind: str, pages, outputs: dict[str, list[str]]) -> dict:
    """Per extractor of ours, the pages where it collapses against :data:`COLLAPSE_PEER`.

    ``outputs`` maps extractor names to their texts of ``pages``. Returns, for each of
    :data:`SELF` and :data:`SELF_TEXT` present (and only when the peer is), ``count``,
    ``pages`` scored by both, and the collapsed ``items`` (id, url, both F1, and the lines
    the peer extracted that ours lacks, ``missed``, and the reverse, ``extra``).
    """
    if COLLAPSE_PEER not in outputs:
        return {}
    peer = page_scores(kind, pages, outputs[COLLAPSE_PEER])
    out = {}
    for name in (SELF, SELF_TEXT):
        if name not in outputs:
            continue
        ours = page_scores(kind, pages, outputs[name])
        items, scored = [], 0
        for i, (f, g) in enumerate(zip(ours, peer, strict=True)):
            if f is None or g is None:
                continue
            scored += 1
            if f < COLLAPSE_BELOW and g > COLLAPSE_PEER_ABOVE:
                missed, extra = text_diff(outputs[name][i], outputs[COLLAPSE_PEER][i], max_items=8)
                items.append({"dataset": dataset, "id": pages[i].id, "url": pages[i].url, "f1": f,
                              "peer_f1": g, "missed": missed, "extra": extra})
        out[name] = {"count": len(items), "pages": scored, "items": items}
    return out


def lead_parts(kind: str, pages, texts: list[str]) -> np.ndarray:
    """:func:`chromesift.metrics.page_parts` of one extractor's texts of ``pages``: for full-text
    datasets the pages with a text (as :func:`score_texts` scores them), for snippets all."""
    if kind == "full":
        return metrics.page_parts(kind, [_page_f1(t, p.text)[:2] for p, t in zip(pages, texts, strict=True)
                                         if p.text is not None])
    return metrics.page_parts(kind, [metrics.snippet_counts(t, p.with_, p.without)
                                     for p, t in zip(pages, texts, strict=True)])


def lead_sites(kind: str, pages) -> list[str]:
    """The site (:attr:`Page.site <chromesift.data.corpus.Page.site>`) of each page that
    :func:`lead_parts` scores, in its order."""
    return [p.site for p in pages if kind != "full" or p.text is not None]


def resample_seed(random_state: int, dataset: str) -> list[int]:
    """The seed of a dataset's (or subset's) site resamples: the run's seed and the dataset's
    name, so that each dataset's resamples are its own, the same for every extractor and run."""
    return [random_state, zlib.crc32(dataset.encode("utf-8"))]


def scored_groups(dataset: str, pages) -> dict[str, list[int]]:
    """The page indices of the dataset and of each of its subsets (``dataset/type``)."""
    return {dataset: list(range(len(pages))),
            **{f"{dataset}/{t}": idx for t, idx in subsets_of(pages).items()}}


def peer_leads(kind: str, pages, outputs: dict[str, list[str]], *, n_boot: int, random_state: int, dataset: str,
               names: tuple[str, ...] = (SELF, SELF_TEXT)) -> dict[str, metrics.Lead]:
    """Per extractor of ours in ``outputs`` (``names``), its lead over :data:`COLLAPSE_PEER`
    on ``pages`` of ``dataset`` (:func:`chromesift.metrics.site_lead`: the interval resamples
    the pages' sites, seeded by :func:`resample_seed`); empty without the peer."""
    if COLLAPSE_PEER not in outputs:
        return {}
    peer = lead_parts(kind, pages, outputs[COLLAPSE_PEER])
    sites, seed = lead_sites(kind, pages), resample_seed(random_state, dataset)
    return {name: metrics.site_lead(kind, lead_parts(kind, pages, outputs[name]), peer, sites, n_boot=n_boot,
                                    random_state=seed)
            for name in names if name in outputs}


def lead_means(leads: dict[str, dict[str, metrics.Lead]]) -> dict[str, dict]:
    """Per extractor, the mean lead over every dataset of ``leads`` (dataset -> extractor ->
    lead; subsets named ``dataset/type``) and over the :data:`MODERN_NEWS` ones
    (:func:`chromesift.metrics.mean_lead`), where there are any."""
    names = sorted({n for d in leads.values() for n in d})
    out: dict[str, dict] = {}
    for name in names:
        every = [d[name] for ds, d in leads.items() if "/" not in ds and name in d]
        modern = [leads[ds][name] for ds in MODERN_NEWS if name in leads.get(ds, {})]
        out[name] = {k: v for k, v in (("all", metrics.mean_lead(every)), ("modern", metrics.mean_lead(modern)))
                     if v is not None}
    return out


def subsets_of(pages) -> dict[str, list[int]]:
    """The indices of the pages of each type in :data:`SUBSET_TYPES` (types that occur)."""
    out: dict[str, list[int]] = {}
    for i, page in enumerate(pages):
        t = page.meta.get("page_type")
        if t in SUBSET_TYPES:
            out.setdefault(t, []).append(i)
    return out


def modern_news_mean(results: dict, name: str) -> float | None:
    """The macro F1 of extractor ``name`` over the :data:`MODERN_NEWS` corpora evaluated."""
    found = {**results.get("datasets", {}), **results.get("subsets", {})}
    return macro_mean([found[d]["extractors"].get(name, {}).get("f1") for d in MODERN_NEWS if d in found])


def macro_mean(values: list[float | None]) -> float | None:
    """The mean of the values that are numbers (None and NaN left out), None if there are none."""
    vals = [v for v in values if v is not None and v == v]
    return float(np.mean(vals)) if vals else None


def _model_meta(model) -> dict:
    meta = getattr(model, "metadata", None)
    if not isinstance(meta, dict):
        return {}
    return {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool)) or v is None}


def run_evaluation(config: EvaluationConfig, *, model=None, fit: HeldOutFit | None = None) -> dict:
    """Run chromesift and the peers on the same pages; score, report and (optionally) log.

    Parameters
    ----------
    config
        What to evaluate and where to write.
    model
        A model object to use instead of loading ``config.model`` (``classify``
        as :func:`chromesift.load_model` gives); only with ``split="whole"``.
    fit
        For ``split="leave-one-dataset-out"``: ``fit(held_out)`` returns a model
        trained without the dataset ``held_out`` (a :class:`HeldOutTrainer`; the
        ``chromesift evaluate`` command makes one with
        :func:`chromesift.train.fit_for_evaluation`).

    Returns
    -------
    dict
        ``meta`` (run facts, ``report_dir``, ``mlflow_run_id``), ``extractors``,
        ``datasets`` (name -> ``kind``, ``n_pages``, ``score`` and per-extractor
        scores: precision, recall, f1 with 95% bootstrap intervals, token F1 or
        snippet accuracy, failures, ms/page), ``overall`` (macro over datasets
        per extractor), ``paragraphs`` (chromesift's paragraph-level scores and
        reliability curve), ``worst_pages`` and ``timings`` (ms per page).

    Raises
    ------
    UserError
        For an unknown dataset, a missing bundle, an impossible split or a held-out
        split without ``fit``.
    """
    if config.split not in SPLITS:
        raise UserError(f"unknown split {config.split!r} (known: {', '.join(SPLITS)})")
    from chromesift.runtime.core import check_scope

    check_scope(None, config.scope)  # (an unknown scope, before any work)
    from chromesift.data.corpus import dataset_path, iter_pages

    data_dir, datasets = resolve_datasets(config)
    peer_names = list(config.peers)
    for name in peer_names:
        if name not in PEERS:
            raise UserError(f"unknown peer {name!r} (known: {', '.join(PEERS)})")
    if not config.include_model and not peer_names:
        raise UserError("nothing to evaluate: --peers-only needs at least one peer")
    from chromesift.data.util import sha256_file

    given = model is not None
    files = {ds: dataset_path(data_dir, ds) for ds in datasets}
    corpus = {ds: {"file": path.name, "sha256": sha256_file(path)} for ds, path in files.items()}
    if config.include_model and config.split == "whole" and model is None:
        model = load_bundle(config.model, trusted=config.trust)
    in_sample: list[str] = []
    if config.include_model and config.split == "whole":
        check_scope(model, config.scope)
        metadata = getattr(model, "metadata", None) or {}
        in_sample = in_sample_datasets(metadata, {ds: c["sha256"] for ds, c in corpus.items()})
        if in_sample and not config.in_sample:
            which = (f"model {metadata.get('name', '?')!r} (given)" if given
                     else f"bundle {config.model}" if config.model is not None else "the shipped default model")
            raise UserError(_in_sample_refusal(which, in_sample, metadata))
        if in_sample:
            log.warning("in-sample: the model was trained on %s; their figures are not held out",
                        ", ".join(in_sample))
    trainer = None
    if config.include_model and config.split != "whole":
        if model is not None:
            raise UserError("a given model can only be evaluated with --split whole")
        if fit is None:
            raise UserError(f"--split {config.split} needs a fitter: pass fit= (a HeldOutTrainer)")
        trainer = fit
    own = ([SELF] + ([SELF_TEXT] if config.text_mode else [])) if config.include_model else []
    extractors = own + peer_names

    started = datetime.now(timezone.utc)
    out_dir = Path(config.out) if config.out else Path("reports") / f"evaluate-{started:%Y%m%d-%H%M%S}"
    results: dict = {
        "meta": {
            "model": (
                None if not config.include_model
                else "one fit per held-out dataset" if trainer is not None
                else str(config.model) if config.model else "shipped default"
            ),
            "model_metadata": _model_meta(model) if model is not None else {},
            "split": config.split,
            "in_sample": bool(in_sample),
            "in_sample_datasets": in_sample,
            "corpus": corpus,
            "datasets": {},
            "peers": peer_names,
            "peer_versions": {n: PEERS[n].version() for n in peer_names},
            "limit": config.limit,
            "created": started.isoformat(timespec="seconds"),
            "git_commit": git_commit(short=True) or None,
            "n_boot": config.n_boot,
            "random_state": config.random_state,
            "scope": config.scope,
        },
        "extractors": extractors,
        "datasets": {},
        "subsets": {},
        "collapsed": {},
        "overall": {},
        "timings": {e: [] for e in extractors},
    }
    failures = {e: 0 for e in extractors}
    leads: dict[str, dict[str, metrics.Lead]] = {}  # dataset (or dataset/type) -> ours -> lead
    n_pages_total = 0
    worst = _WorstPages(config.worst)
    para_rows: list[dict[str, np.ndarray]] = []
    para_by_dataset: dict[str, dict] = {}
    predictions: list = []  # DataFrames of _prediction_frame

    bar = None
    if config.progress and len(datasets) > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(datasets), desc="datasets", unit="dataset")
    try:
        for ds in datasets:
            pages = list(iter_pages(files[ds], config.limit))
            if bar is not None:
                bar.set_postfix_str(ds)
            kind = dataset_kind(pages)
            entry = {"kind": kind, "n_pages": len(pages),
                     "score": "shingle F1" if kind == "full" else "snippet F1", "extractors": {}}
            results["meta"]["datasets"][ds] = len(pages)
            n_pages_total += len(pages)
            outputs: dict[str, tuple[list[str], list[float], int]] = {}
            if config.include_model:
                ds_model = model if trainer is None else trainer(ds)
                if trainer is not None:
                    check_scope(ds_model, config.scope)
                    # the fold's probability map, so its scores can be recovered from predictions.parquet
                    results["meta"].setdefault("calibration_maps", {})[ds] = _calibration_map(ds_model)
                    # and its decision threshold, so its decisions can be made again (evaluate.rescore)
                    results["meta"].setdefault("thresholds", {})[ds] = float(ds_model.threshold)
                texts, ms, frames = _run_model(ds_model, pages, progress=config.progress, desc=f"{SELF} {ds}",
                                               scope=config.scope)
                outputs[SELF] = (texts, ms, sum(1 for m in ms if m != m))
                rows = _paragraph_rows(frames, pages)
                para_rows.append(rows)
                para_by_dataset[ds] = _paragraph_scores(rows)
                for page, text in zip(pages, texts, strict=True):
                    if page.text is not None:
                        worst.add(ds, page, text)
                predictions.append(_prediction_frame(ds, "html", pages, frames))
                del frames
                if config.text_mode:
                    t_texts, t_ms, t_frames = _run_model(ds_model, pages, progress=config.progress,
                                                         desc=f"{SELF_TEXT} {ds}", text_mode=True,
                                                         scope=config.scope)
                    outputs[SELF_TEXT] = (t_texts, t_ms, sum(1 for m in t_ms if m != m))
                    predictions.append(_prediction_frame(ds, "text", pages, t_frames))
                    del t_frames
            for name in peer_names:
                res = run_peer(name, pages, cache_dir=config.cache_dir, timeout=config.timeout,
                               n_jobs=config.n_jobs, progress=config.progress)
                outputs[name] = (
                    [r.text for r in res],
                    [r.seconds * 1000 if r.status == "ok" else float("nan") for r in res],
                    sum(r.failed for r in res),
                )
            for name, (texts, ms, failed) in outputs.items():
                scores = score_texts(kind, pages, texts, config)
                scores.update(_timing_stats(ms))
                scores["failures"] = failed
                failures[name] += failed
                results["timings"][name].extend(m for m in ms if m == m)
                entry["extractors"][name] = scores
            for page_type, idx in subsets_of(pages).items():
                sub = [pages[i] for i in idx]
                results["subsets"][f"{ds}/{page_type}"] = {
                    "kind": kind, "n_pages": len(sub), "score": entry["score"],
                    "extractors": {name: score_texts(kind, sub, [texts[i] for i in idx], config)
                                   for name, (texts, _, _) in outputs.items()},
                }
            collapsed = collapsed_pages(ds, kind, pages, {n: t for n, (t, _, _) in outputs.items()})
            if collapsed:
                results["collapsed"][ds] = collapsed
            texts_of = {n: t for n, (t, _, _) in outputs.items()}
            for name, idx in scored_groups(ds, pages).items():
                found = peer_leads(kind, [pages[i] for i in idx], {n: [t[i] for i in idx] for n, t in texts_of.items()},
                                   n_boot=config.n_boot, random_state=config.random_state, dataset=name)
                if found:
                    leads[name] = found
            results["datasets"][ds] = entry
            del pages, outputs
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    for name in extractors:
        per = [d["extractors"][name] for d in results["datasets"].values()]
        results["overall"][name] = {
            "f1": macro_mean([s.get("f1") for s in per]),
            "precision": macro_mean([s.get("precision") for s in per]),
            "recall": macro_mean([s.get("recall") for s in per]),
            **_timing_stats(results["timings"][name]),
            "failures": failures[name],
            "n_pages": n_pages_total,
            "modern_news_f1": modern_news_mean(results, name),
        }
    if leads:
        results["leads"] = {
            "peer": COLLAPSE_PEER,
            "datasets": {ds: {n: x.as_dict() for n, x in d.items()} for ds, d in leads.items()},
            "mean": lead_means(leads),
        }
    if config.include_model:
        pooled = {k: np.concatenate([r[k] for r in para_rows]) for k in ("y", "pred", "proba", "len")}
        overall = _paragraph_scores(pooled)
        curve = overall["reliability"]
        results["paragraphs"] = {
            "datasets": para_by_dataset,
            "overall": overall,
            "reliability": curve,
            "ece": metrics.expected_calibration_error(curve),
        }
        results["worst_pages"] = worst.pages()

    from chromesift.evaluate.report import write_report

    results["meta"]["report_dir"] = str(out_dir)
    results["meta"]["mlflow_run_id"] = None
    write_report(results, out_dir)
    if predictions:
        import pandas as pd

        frame = pd.concat(predictions, ignore_index=True)
        frame["dataset"] = frame["dataset"].astype("category")
        frame["mode"] = frame["mode"].astype("category")
        frame.to_parquet(out_dir / "predictions.parquet", index=False)
        results["meta"]["predictions"] = str(out_dir / "predictions.parquet")
    if config.mlflow:
        results["meta"]["mlflow_run_id"] = log_to_mlflow(results, out_dir, config)
    return results


def flat_metrics(results: dict) -> dict[str, float]:
    """MLflow metrics: ``<score>.<dataset>.<extractor>`` and ``macro_<score>.<extractor>``; the leads
    over the collapse peer as ``lead.<dataset>.<extractor>`` and ``lead_<all|modern>.<extractor>``."""
    out: dict[str, float] = {}

    def put(key: str, value) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            out[key] = float(value)

    for ds, d in results["datasets"].items():
        for e, s in d["extractors"].items():
            for k in ("f1", "precision", "recall", "token_f1", "accuracy", "ms_median", "failures"):
                put(f"{k}.{ds}.{e}", s.get(k))
    for ds, d in results.get("subsets", {}).items():
        for e, s in d["extractors"].items():
            put(f"f1.{ds}.{e}", s.get("f1"))
    for ds, d in results.get("collapsed", {}).items():
        for e, c in d.items():
            put(f"collapsed.{ds}.{e}", c["count"])
    for e, s in results["overall"].items():
        for k in ("f1", "precision", "recall", "ms_median", "ms_p90", "pages_per_s", "failures"):
            put(f"macro_{k}.{e}" if k in ("f1", "precision", "recall") else f"{k}.{e}", s.get(k))
        put(f"modern_news_f1.{e}", s.get("modern_news_f1"))
    leads = results.get("leads") or {}
    for ds, d in leads.get("datasets", {}).items():
        for e, x in d.items():
            put(f"lead.{ds}.{e}", x["lead"])
    for e, means in leads.get("mean", {}).items():
        for k, x in means.items():
            put(f"lead_{k}.{e}", x["lead"])
    para = results.get("paragraphs")
    if para:
        for k, v in para["overall"].items():
            put(f"paragraph_{k}", v)
        put("paragraph_ece", para.get("ece"))
        for ds, s in para["datasets"].items():
            for k in ("f1", "char_f1", "average_precision", "brier"):
                put(f"paragraph_{k}.{ds}", s.get(k))
    return out


def dataset_metrics(results: dict, dataset: str) -> dict[str, float]:
    """MLflow metrics of one dataset: ``<score>.<extractor>`` and ``paragraph_<score>``
    (the metrics of :func:`flat_metrics` that are about ``dataset``, without its name)."""
    out: dict[str, float] = {}

    def put(key: str, value) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            out[key] = float(value)

    for e, s in results["datasets"][dataset]["extractors"].items():
        for k in ("f1", "precision", "recall", "token_f1", "accuracy", "ms_median", "failures"):
            put(f"{k}.{e}", s.get(k))
    para = (results.get("paragraphs") or {}).get("datasets", {}).get(dataset) or {}
    for k in ("f1", "char_f1", "average_precision", "brier"):
        put(f"paragraph_{k}", para.get(k))
    put("threshold", (results["meta"].get("thresholds") or {}).get(dataset))
    return out


def lineage_tags(results: dict) -> dict[str, str]:
    """The run's tags (:mod:`chromesift.tracking` keys): stage, datasets, commit, whether
    it is in-sample, and the scored bundle's sha256 and training run."""
    meta = results["meta"]
    tags = {
        TAG_STAGE: "evaluate",
        TAG_DATASETS: ",".join(results["datasets"]),
        TAG_GIT_COMMIT: meta.get("git_commit") or "",
        TAG_IN_SAMPLE: "true" if meta.get("in_sample") else "false",
        TAG_IN_SAMPLE_DATASETS: ",".join(meta.get("in_sample_datasets") or ()),
    }
    model = meta.get("model_metadata") or {}
    if model.get("sha256"):
        tags[TAG_BUNDLE_SHA256] = str(model["sha256"])
    if model.get("mlflow_run_id"):
        tags[TAG_TRAINING_RUN] = str(model["mlflow_run_id"])
        url = run_link(str(model["mlflow_run_id"]))
        if url:
            tags[TAG_TRAINING_RUN_URL] = url
    return tags


def _description(results: dict) -> str:
    """The run's description (Markdown, shown by the MLflow UI): what was scored, a link
    to its training run when this store holds it, and the in-sample warning."""
    meta = results["meta"]
    model = meta.get("model_metadata") or {}
    lines = []
    if meta.get("split") == "leave-one-dataset-out":
        lines.append("Leave-one-dataset-out: one model per held-out dataset (the nested runs).")
    elif model.get("sha256"):
        lines.append(f"Scores bundle `{model.get('name', '?')}`, model sha256 `{model['sha256']}`.")
        run_id = model.get("mlflow_run_id")
        if run_id:
            experiment = run_exists(str(run_id))
            lines.append(f"Trained in run [{run_id}](#/experiments/{experiment}/runs/{run_id})." if experiment
                         else f"Trained in run `{run_id}` (not in this tracking store).")
    if meta.get("in_sample"):
        lines.append(f"**In-sample (trained on these pages): {', '.join(meta['in_sample_datasets'])}.** "
                     "Their figures are not held out.")
    return "\n\n".join(lines)


def log_to_mlflow(results: dict, report_dir: Path, config: EvaluationConfig) -> str:
    """Log parameters, lineage, metrics and the report folder to MLflow; returns the run id.

    The store and the experiment are set up as for training (:mod:`chromesift.tracking`):
    ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``, and a new experiment keeps its
    artifacts in ``$CHROMESIFT_ARTIFACTS/<experiment>`` (default ``mlartifacts/``).

    The run is tagged by :func:`lineage_tags`, each corpus file is a dataset input
    (context ``evaluation``, digest its sha256), and a leave-one-dataset-out run gets one
    nested run per held-out dataset with that dataset's metrics (:func:`dataset_metrics`).
    """
    import mlflow

    meta = results["meta"]
    corpora = {ds: (c["file"], c["sha256"]) for ds, c in (meta.get("corpus") or {}).items()}
    with artifact_progress(config.progress), start_run(config.experiment, Path(report_dir).name) as run:
        mlflow.log_params(config.params())
        mlflow.set_tags(lineage_tags(results))
        description = _description(results)
        if description:
            mlflow.set_tag("mlflow.note.content", description)
        log_corpus_inputs(corpora, "evaluation")
        mlflow.log_metrics(flat_metrics(results))
        if meta.get("split") == "leave-one-dataset-out" and config.include_model:
            for ds in results["datasets"]:
                with mlflow.start_run(experiment_id=run.info.experiment_id, run_name=f"held out: {ds}",
                                      nested=True):
                    mlflow.set_tags({TAG_STAGE: "evaluate", TAG_HELD_OUT: ds, TAG_DATASETS: ds,
                                     TAG_GIT_COMMIT: meta.get("git_commit") or ""})
                    mlflow.log_params({"split": "leave-one-dataset-out", "held_out": ds})
                    log_corpus_inputs({ds: corpora[ds]} if ds in corpora else {}, "evaluation")
                    mlflow.log_metrics(dataset_metrics(results, ds))
        mlflow.log_artifacts(str(report_dir), artifact_path="report")
        return run.info.run_id
