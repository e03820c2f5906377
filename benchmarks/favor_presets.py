"""Precision and recall of the shipped model under ``favor="precision"``/``"recall"`` beside its own threshold.

Scores the main text (shingle score, :mod:`chromesift.metrics`) of the first ``--limit`` pages
of each dataset given, with the bundle's threshold and with the two presets of
:func:`chromesift.models.rules.pick_threshold`; prints the mean page precision, recall and F1
per dataset. Use datasets the model was not trained on for held-out figures (the bundle's
``metadata.json`` lists its training data under ``data``).

    python benchmarks/favor_presets.py --datasets fundus daniel-waddle --limit 200
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import chromesift
from chromesift.data.corpus import dataset_path, default_data_dir, iter_pages
from chromesift.metrics import f1_from, page_precision_recall, shingle_counts

SETTINGS = {"precision": {"favor": "precision"}, "bundle": {}, "recall": {"favor": "recall"}}


def score(pages, **knob) -> tuple[float, float, float]:
    model = chromesift.load_model()
    pr = [page_precision_recall(*shingle_counts(model.extract(p.html, **knob), p.text)) for p in pages]
    p, r = np.nanmean([x[0] for x in pr]), np.nanmean([x[1] for x in pr])
    f1 = np.nanmean([f1_from(a, b) for a, b in pr])
    return float(p), float(r), float(f1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="corpus folder (default: $CHROMESIFT_DATA, ...)")
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--limit", type=int, default=200, help="pages per dataset")
    args = parser.parse_args(argv)
    data = args.data or default_data_dir()
    model = chromesift.load_model()
    print(f"bundle threshold {model.threshold:.2f}; presets: "
          + ", ".join(f"{k} {model.decision_threshold(**v):.2f}" for k, v in SETTINGS.items()))
    print(f"{'dataset':<24} {'pages':>5}  " + "  ".join(f"{k + ' P/R/F1':>22}" for k in SETTINGS))
    for name in args.datasets:
        pages = [p for p in iter_pages(dataset_path(data, name), args.limit) if p.text is not None]
        cells = ["{:.3f}/{:.3f}/{:.3f}".format(*score(pages, **knob)) for knob in SETTINGS.values()]
        print(f"{name:<24} {len(pages):>5}  " + "  ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
