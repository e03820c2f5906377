"""``chromesift evaluate``: chromesift and its peers on the same pages, per dataset and overall.

The command parses its flags into an :class:`~chromesift.evaluate.run.EvaluationConfig`
and calls the engine, :func:`~chromesift.evaluate.run.run_evaluation`. For
``--split leave-one-dataset-out`` it gives the engine its fitter, the training stage's
:func:`chromesift.train.fit_for_evaluation` (:func:`held_out_trainer`): the evaluation
stage does not import training, this composition root joins them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chromesift.cli.options import SCOPE_HELP, add_output, add_scope, add_trust
from chromesift.errors import UserError
from chromesift.evaluate.peers import DEFAULT_CACHE_DIR, DEFAULT_TIMEOUT, PEERS, parse_peer_names
from chromesift.evaluate.run import (
    DEFAULT_EXPERIMENT,
    SPLITS,
    EvaluationConfig,
    HeldOutTrainer,
    run_evaluation,
    summary_table,
)

EXAMPLES = """\
examples:
  chromesift evaluate --split leave-one-dataset-out --peers all
      the held-out figure: for each dataset, a model trained on the others, beside every peer
  chromesift evaluate --model models/news --datasets fundus --limit 200
      a bundle on a corpus it never saw, 200 pages
  chromesift evaluate --datasets readability --in-sample
      the shipped model on a corpus it was trained on: refused without --in-sample,
      and with it the report says "in-sample (trained on these pages)"
  chromesift evaluate --peers-only --peers trafilatura,resiliparse --no-mlflow
      peers only, no model, nothing logged
  MLFLOW_TRACKING_URI=sqlite:///runs.db chromesift evaluate --experiment nightly --no-progress
      another store and experiment, no progress bars (also none from MLflow)
"""


def register(subparsers) -> None:
    """Add the ``evaluate`` sub-command to the top-level parser's sub-parsers."""
    p = subparsers.add_parser(
        "evaluate",
        help="score chromesift and peer extractors per dataset; write a report",
        description=(
            "Run chromesift and the chosen peers on the same corpus pages, score them per dataset\n"
            "and overall (macro over datasets), and write report.md, report.html and metrics.json.\n"
            "A bundle is not scored on a corpus it was trained on unless --in-sample is given."
        ),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, default=None, metavar="BUNDLE",
                   help="model bundle folder (default: the shipped model)")
    add_trust(p)
    p.add_argument("--data", type=Path, default=None, metavar="DIR",
                   help="corpus folder (default: $CHROMESIFT_DATA, ../shared/datasets, data/corpora)")
    p.add_argument("--datasets", nargs="+", default=[], metavar="NAME",
                   help="datasets to evaluate on (default: all in the corpus folder)")
    p.add_argument("--peers", default="none",
                   help="'all', 'none' or comma-separated names: " + ", ".join(PEERS))
    p.add_argument("--split", choices=SPLITS, default="whole",
                   help="evaluate the model as is, or train one per held-out dataset")
    p.add_argument("--in-sample", action="store_true",
                   help="with --split whole, also score the model on datasets it was trained on "
                        "(the report is marked in-sample)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="pages per dataset")
    add_output(p, aliases=("--out",), type=Path, default=None, metavar="DIR",
               help="report folder (default: reports/evaluate-<time>)")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument("--peers-only", action="store_true", help="leave chromesift out (no model needed)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR,
                   help="cache of peer outputs (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="seconds per page for a peer (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes per peer")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--train-config", type=Path, default=None,
                   help="training TOML for --split leave-one-dataset-out")
    p.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="MLflow experiment name")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (neither ours nor MLflow's)")
    p.add_argument("--no-text-mode", action="store_true",
                   help="do not score chromesift on the pages' plain-text dumps (chromesift-text)")
    add_scope(p, "what chromesift keeps of an HTML page: " + SCOPE_HELP)
    p.set_defaults(func=_main)


def config_from_args(args: argparse.Namespace) -> EvaluationConfig:
    """Check the parsed flags and turn them into an :class:`EvaluationConfig`."""
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit must be at least 1")
    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    if args.timeout <= 0:
        raise UserError("--timeout must be positive")
    if args.bootstrap < 0:
        raise UserError("--bootstrap must not be negative")
    return EvaluationConfig(
        model=args.model,
        trust=args.trust,
        data_dir=args.data,
        datasets=tuple(args.datasets),
        peers=tuple(parse_peer_names(args.peers)),
        split=args.split,
        limit=args.limit,
        out=args.output,
        include_model=not args.peers_only,
        mlflow=not args.no_mlflow,
        cache_dir=args.cache_dir,
        timeout=args.timeout,
        n_jobs=args.jobs,
        n_boot=args.bootstrap,
        random_state=args.seed,
        experiment=args.experiment,
        train_config=args.train_config,
        progress=not args.no_progress,
        text_mode=not args.no_text_mode,
        in_sample=args.in_sample,
        scope=args.scope,
    )


def held_out_trainer(train_config: Path | None) -> HeldOutTrainer:
    """The fitter of the leave-one-dataset-out split: :func:`chromesift.train.fit_for_evaluation`.

    Parameters
    ----------
    train_config
        Training TOML (None: the defaults), read without cross-validation and
        without tracking: these fits exist only to be scored.

    Returns
    -------
    HeldOutTrainer
        Fits on the training config's tables, without the held-out dataset.
    """
    from chromesift.train import fit_for_evaluation
    from chromesift.train.config import load_config

    config = load_config(train_config, cv_folds=0, mlflow=False)
    return HeldOutTrainer(lambda table: fit_for_evaluation(table, config), config.tables, config.datasets)


def evaluate(config: EvaluationConfig, *, model=None) -> dict:
    """:func:`~chromesift.evaluate.run.run_evaluation`, with the training stage's fitter
    when ``config`` asks for the leave-one-dataset-out split (what the command runs)."""
    fit = None
    if config.include_model and config.split == "leave-one-dataset-out" and model is None:
        fit = held_out_trainer(config.train_config)
    return run_evaluation(config, model=model, fit=fit)


def _main(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    results = evaluate(config)
    print(summary_table(results))
    if results["meta"].get("in_sample"):
        print("in-sample (trained on these pages): " + ", ".join(results["meta"]["in_sample_datasets"]))
    print(f"report: {results['meta']['report_dir']}")
    return 0
