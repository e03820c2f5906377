"""``chromesift train``: a tracked training run that exports a bundle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chromesift.cli.options import add_output

EXAMPLES = """\
examples:
  chromesift train
      train on every built table (data/paragraphs), track in ./mlflow.db, write models/chromesift
  chromesift train --config train.toml --name news --datasets cleaneval dragnet
      settings from a TOML [train] table, two datasets, bundle models/news
  chromesift train --cv-folds 0 --max-iter 30 --stage2-max-iter 15 --no-progress
      a quick fit: fewer trees, no cross-validation, no progress bars (also none from MLflow)
  chromesift train --register chromesift
      also register the logged model as a new version of 'chromesift' in the MLflow
      model registry (load it back as models:/chromesift/<version>)
  MLFLOW_TRACKING_URI=sqlite:///runs.db chromesift train --require-tracking
      another store, and no training unless it takes the run
"""


def register(sub) -> None:
    """Add the ``train`` command."""
    p = sub.add_parser(
        "train", help="train on the built tables, track in MLflow, export a bundle",
        description=(
            "Fit the paragraph classifier on the built paragraph tables (chromesift data build),\n"
            "score it by cross-validation grouped by site, export a model bundle and track the\n"
            "run in MLflow. Flags override the --config file, which overrides the defaults."
        ),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", type=Path, default=None, metavar="TOML", help="TOML file with a [train] table")
    p.add_argument("--tables", type=Path, default=None, metavar="DIR",
                   help="built paragraph tables (default data/paragraphs)")
    p.add_argument("--datasets", nargs="*", default=None, metavar="NAME",
                   help="datasets of the tables to train on (default: all of them)")
    p.add_argument("--name", default=None, help="bundle name: the bundle is <output>/<name> (default chromesift)")
    add_output(p, aliases=("--out-dir",), type=Path, default=None, metavar="DIR",
               help="folder the bundle is written to (default models)")
    p.add_argument("--cv-folds", type=int, default=None, metavar="K",
                   help="folds of the cross-validation grouped by site (0: none; default 3)")
    p.add_argument("--max-rows", type=int, default=None, metavar="N",
                   help="paragraphs in the training table, whole pages sampled (default 2,000,000)")
    p.add_argument("--max-fit-rows", type=int, default=None, metavar="N",
                   help="labeled paragraphs each booster is fitted on (default 300,000)")
    p.add_argument("--max-iter", type=int, default=None, metavar="N", help="boosting iterations of stage 1 (default 120)")
    p.add_argument("--stage2-max-iter", type=int, default=None, metavar="N",
                   help="boosting iterations of the context stage (default 60)")
    p.add_argument("--text-copies", type=float, default=None, metavar="SHARE",
                   help="share of pages also trained on as plain text, 0 to 1 (default 0.5)")
    p.add_argument("--threshold", type=float, default=None,
                   help="decision threshold (default: tuned on the cross-validated predictions)")
    p.add_argument("--random-state", type=int, default=None, metavar="SEED",
                   help="seed of every random choice (default 0)")
    p.add_argument("--one-stage", action="store_true", help="no context stage")
    p.add_argument("--no-mlflow", action="store_true", help="do not track the run in MLflow")
    p.add_argument("--require-tracking", action="store_true",
                   help="stop before training when the MLflow store cannot be written")
    p.add_argument("--register", default=None, metavar="NAME",
                   help="register the logged model in the MLflow model registry as a new version of NAME, "
                        "tagged with the bundle's sha256")
    p.add_argument("--no-skops", action="store_true", help="do not add model.skops to the bundle")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (neither ours nor MLflow's)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from chromesift.train.config import load_config
    from chromesift.train.run import check_inputs, run_training

    cfg = load_config(
        args.config,
        tables=args.tables,
        datasets=args.datasets,
        name=args.name,
        out_dir=args.output,
        cv_folds=args.cv_folds,
        max_rows=args.max_rows,
        max_iter=args.max_iter,
        stage2_max_iter=args.stage2_max_iter,
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
        skops=not args.no_skops, register=args.register,
    )
    if len(res.cv):
        print(res.cv.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"bundle: {res.bundle}  threshold: {res.threshold:.2f}  run: {res.run_id}  ({res.seconds:.0f} s)")
    if res.model_version:
        print(f"registered: {res.model_version}")
    usual = Path(cfg.out_dir) / cfg.name
    if Path(res.bundle) != usual:
        print(f"another run wrote {usual} while this one trained: this run's bundle is {res.bundle}",
              file=sys.stderr)
    if res.tracking_error:
        print(f"chromesift train: the bundle is complete, the MLflow run is not: {res.tracking_error}",
              file=sys.stderr)
        return 1
    return 0
