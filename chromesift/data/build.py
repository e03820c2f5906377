"""Corpora -> labeled paragraph tables (parquet), with per-page alignment stats."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chromesift.data import corpus
from chromesift.data.html import parse_html
from chromesift.data.labels import label_page
from chromesift.data.util import chunked

log = logging.getLogger(__name__)

#: Columns added to the paragraph table by the build.
EXTRA_COLUMNS = ["dataset", "site", "lang", "label", "weight"]


@dataclass(frozen=True)
class BuildConfig:
    """What ``chromesift data build`` does."""

    data_dir: Path
    out_dir: Path = Path("data") / "paragraphs"
    datasets: tuple[str, ...] = ()
    limit: int | None = None  # pages per dataset (None: all)
    jobs: int = 2
    verify: bool = True
    progress: bool = True


#: the parser of the training tables: libxml2's paragraphs, which the shipped model learned
#: from. Tables of lexbor's paragraphs scored worse held out (docs/findings.md, "Training
#: tables read by lexbor"), while lexbor's paragraphs at prediction scored as well or better.
TABLE_PARSER = "lxml"


def label_one(page: corpus.Page) -> tuple[pd.DataFrame, dict]:
    """Parse and label one corpus page; returns its table and its stats row."""
    frame = parse_html(page.html, doc_id=page.id, parser=TABLE_PARSER, lines=True)
    labels = label_page(frame, page.text, page.with_, page.without)
    frame["dataset"] = page.dataset
    frame["site"] = page.site
    frame["lang"] = page.lang or ""
    frame["label"] = labels.label
    frame["weight"] = labels.weight
    stats = {
        "doc_id": page.id,
        "dataset": page.dataset,
        "site": page.site,
        "lang": page.lang or "",
        "kind": labels.kind,
        "paragraphs": len(frame),
        "labeled": int(np.isfinite(labels.label).sum()),
        "content": int(np.nansum(labels.label)),
        "coverage": labels.coverage,
        "recall": labels.recall,
        "noise": labels.noise,
        "excluded": labels.excluded,
        "encoding_source": frame.attrs.get("encoding_source", ""),
    }
    return frame, stats


def _label_batch(pages: list[corpus.Page]) -> list[tuple[pd.DataFrame, dict]]:
    return [label_one(p) for p in pages]


def label_dataset(
    path: Path, *, limit: int | None = None, jobs: int = 1, progress: bool = False, desc: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse and label every page of one corpus file.

    Returns
    -------
    (paragraphs, pages)
        The labeled paragraph table of the pages kept, and one stats row per
        page (excluded pages included, flagged).
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    batches = chunked(corpus.iter_pages(path, limit=limit), 16)
    if jobs == 1:
        results: Iterator = map(_label_batch, batches)
    else:
        results = Parallel(n_jobs=jobs, return_as="generator")(
            delayed(_label_batch)(b) for b in batches
        )
    frames, stats = [], []
    with tqdm(desc=desc or Path(path).name, unit="page", disable=not progress) as bar:
        for batch in results:
            for frame, st in batch:
                stats.append(st)
                if not st["excluded"] and len(frame):
                    frames.append(frame)
            bar.update(len(batch))
    pages = pd.DataFrame(stats)
    paragraphs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return paragraphs, pages


def build(config: BuildConfig) -> pd.DataFrame:
    """Write ``<out_dir>/<dataset>.parquet`` and ``pages.parquet``; return the page stats."""
    names = list(config.datasets) or corpus.dataset_names(config.data_dir)
    sums = corpus.verify(config.data_dir, names) if config.verify else {}
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    all_pages = []
    for name in names:
        paragraphs, pages = label_dataset(
            corpus.dataset_path(config.data_dir, name),
            limit=config.limit,
            jobs=config.jobs,
            progress=config.progress,
            desc=name,
        )
        if not len(pages):
            raise corpus.CorpusError(f"dataset {name!r}: {corpus.dataset_path(config.data_dir, name)} holds no pages")
        tmp = out / f".{name}.parquet.tmp"
        paragraphs.to_parquet(tmp, index=False)
        os.replace(tmp, out / f"{name}.parquet")
        all_pages.append(pages)
        log.info("%s: %d pages, %d paragraphs", name, len(pages), len(paragraphs))
    pages = pd.concat(all_pages, ignore_index=True)
    pages.to_parquet(out / "pages.parquet", index=False)
    manifest = {e["name"]: e for e in corpus.load_manifest(config.data_dir)}
    info = {
        "datasets": names,
        "sha256": sums,
        "licenses": {n: manifest.get(n, {}).get("license", "unknown") for n in names},
        "pages": {n: int((pages["dataset"] == n).sum()) for n in names},
        "limit": config.limit,
    }
    (out / "build.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return pages


def summarize(pages: pd.DataFrame) -> pd.DataFrame:
    """Per-dataset stats: pages, excluded, paragraphs, label balance, alignment quality."""
    g = pages.groupby("dataset", sort=False)
    kept = pages[~pages["excluded"]].groupby("dataset", sort=False)
    out = pd.DataFrame(
        {
            "pages": g.size(),
            "excluded": g["excluded"].sum(),
            "paragraphs": kept["paragraphs"].sum(),
            "labeled": kept["labeled"].sum(),
            "content_share": kept["content"].sum() / kept["labeled"].sum().clip(lower=1),
            "coverage": kept["coverage"].mean(),
            "token_recall": kept["recall"].mean(),
            "content_noise": kept["noise"].mean(),
        }
    )
    return out.fillna({"paragraphs": 0, "labeled": 0})


def load_tables(out_dir: Path, datasets: list[str] | None = None) -> pd.DataFrame:
    """Read the labeled paragraph tables written by :func:`build`."""
    out = Path(out_dir)
    if not out.is_dir():
        raise corpus.CorpusError(f"{out}: no built tables; run `chromesift data build` first")
    files = sorted(out.glob("*.parquet"))
    files = [f for f in files if f.stem != "pages" and (not datasets or f.stem in datasets)]
    if not files:
        raise corpus.CorpusError(f"{out}: no paragraph tables for {datasets or 'any dataset'}")
    return pd.concat([_read_table(f) for f in files], ignore_index=True)


def _read_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # (pyarrow's ArrowInvalid is a ValueError)
        raise corpus.CorpusError(
            f"{path}: not a readable paragraph table ({type(exc).__name__}: {str(exc)[:200]}); "
            "run `chromesift data build` again"
        ) from None
