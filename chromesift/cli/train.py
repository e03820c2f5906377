"""``chromesift train``: a tracked training run that exports a bundle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub) -> None:
    """Add the ``train`` command."""
    p = sub.add_parser("train", help="train on the built tables, track in MLflow, export a bundle")
    p.add_argument("--config", type=Path, default=None, help="TOML file with a [train] table")
    p.add_argument("--tables", type=Path, default=None, help="built paragraph tables (default data/paragraphs)")
    p.add_argument("--datasets", nargs="*", default=None)
    p.add_argument("--name", default=None, help="bundle name (models/<name>)")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--cv-folds", type=int, default=None, help="grouped CV folds (0: none)")
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--max-fit-rows", type=int, default=None)
    p.add_argument("--max-iter", type=int, default=None)
    p.add_argument("--text-copies", type=float, default=None)
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--random-state", type=int, default=None)
    p.add_argument("--one-stage", action="store_true", help="no context stage")
    p.add_argument("--no-mlflow", action="store_true")
    p.add_argument("--require-tracking", action="store_true",
                   help="stop before training when the MLflow store cannot be written")
    p.add_argument("--no-skops", action="store_true", help="do not add model.skops to the bundle")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from chromesift.train.config import load_config
    from chromesift.train.run import check_inputs, run_training

    cfg = load_config(
        args.config,
        tables=args.tables,
        datasets=args.datasets,
        name=args.name,
        out_dir=args.out_dir,
        cv_folds=args.cv_folds,
        max_rows=args.max_rows,
        max_iter=args.max_iter,
        max_fit_rows=args.max_fit_rows,
        text_copies=args.text_copies,
        threshold=args.threshold,
        random_state=args.random_state,
        second_stage=False if args.one_stage else None,
        mlflow=False if args.no_mlflow else None,
    )
    check_inputs(cfg)
    res = run_training(
        cfg, progress=not args.no_progress, require_tracking=args.require_tracking,
        skops=not args.no_skops,
    )
    if len(res.cv):
        print(res.cv.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"bundle: {res.bundle}  threshold: {res.threshold:.2f}  run: {res.run_id}  ({res.seconds:.0f} s)")
    usual = Path(cfg.out_dir) / cfg.name
    if Path(res.bundle) != usual:
        print(f"another run wrote {usual} while this one trained: this run's bundle is {res.bundle}",
              file=sys.stderr)
    if res.tracking_error:
        print(f"chromesift train: the bundle is complete, the MLflow run is not: {res.tracking_error}",
              file=sys.stderr)
        return 1
    return 0
