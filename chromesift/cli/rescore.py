"""``chromesift rescore``: decision rules tried on a held-out evaluation's stored probabilities.

Every combination of the values given is a rule; the engine is
:func:`chromesift.evaluate.rescore.rescore`.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from chromesift.cli.options import add_output
from chromesift.evaluate.rescore import MODES, Rule, rescore, table
from chromesift.models.rules import EMPTY_CUT, EMPTY_MIN_CHARS, TEXT_RELATIVE_CUT


def _cut(value: str) -> float | None:
    if value.lower() == "none":
        return None
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', not {value!r}") from None


def _chars(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of characters, not {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more characters, not {n}")
    return n

EXAMPLES = """\
examples:
  chromesift rescore reports/lodo --threshold 0.3 0.4 0.5
      three thresholds on the stored held-out probabilities
  chromesift rescore reports/lodo --text-relative-cut none 0.5 --output reports/lodo/rescore.json
      two text rules, the scores also written as JSON
"""


def register(subparsers) -> None:
    """Add the ``rescore`` sub-command to the top-level parser's sub-parsers."""
    p = subparsers.add_parser(
        "rescore",
        help="try decision rules on a held-out evaluation's stored probabilities (no training)",
        description=(
            "Make the decisions of a leave-one-dataset-out report again under other rules "
            "(threshold, relative cuts), from its predictions.parquet and each fold's probability "
            "map, and score them on the same pages. Every combination of the values given is a rule; "
            "each rule's change over the run's own comes with a 95% interval over resampled sites, "
            "so that a change smaller than the pages can tell apart shows as such."
        ),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("report", type=Path, help="report folder of `chromesift evaluate --split leave-one-dataset-out`")
    p.add_argument("--data", type=Path, default=None, metavar="DIR",
                   help="corpus folder (default: $CHROMESIFT_DATA, ../shared/datasets, data/corpora)")
    p.add_argument("--threshold", type=float, nargs="+", default=None, metavar="T",
                   help="decision thresholds (default: each fold's own)")
    p.add_argument("--run-threshold", type=float, default=None, metavar="T",
                   help="the folds' threshold, for a report that does not record it")
    p.add_argument("--html-relative-cut", type=_cut, nargs="+", default=[None], metavar="R",
                   help="HTML: content from R times the page's highest score when that is below the "
                        "threshold; 'none' for no such cut (default: none, as extract)")
    p.add_argument("--text-relative-cut", type=_cut, nargs="+", default=[TEXT_RELATIVE_CUT], metavar="R",
                   help=f"the same for plain text (default: {TEXT_RELATIVE_CUT:g}, as extract)")
    p.add_argument("--empty-cut", type=_cut, nargs="+", default=[EMPTY_CUT], metavar="R",
                   help="a page that keeps nothing keeps its paragraphs from R times its highest score; "
                        "'none' leaves it empty (default: as extract)")
    p.add_argument("--empty-min-chars", type=_chars, nargs="+", default=[EMPTY_MIN_CHARS], metavar="N",
                   help="the empty-page fallback applies only where a paragraph it keeps has at least N "
                        f"characters; 0: always (default: {EMPTY_MIN_CHARS}, as extract)")
    p.add_argument("--peer-cache", type=Path, default=None, metavar="DIR",
                   help="the evaluation's peer cache (e.g. .cache/peers): count each rule's collapsed "
                        "pages against trafilatura (which runs on the pages the cache lacks), and give its "
                        "lead over trafilatura with a 95%% interval over resamples of sites")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES, help="which pages to score")
    add_output(p, aliases=("--json",), type=Path, default=None, metavar="FILE",
               help="also write the scores as JSON to FILE")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    rules = [Rule(t, h, x, e, n) for t, h, x, e, n in
             itertools.product(args.threshold or [None], args.html_relative_cut, args.text_relative_cut,
                               args.empty_cut, args.empty_min_chars)]
    out = rescore(args.report, rules, data_dir=args.data, modes=tuple(dict.fromkeys(args.modes)),
                  run_threshold=args.run_threshold, progress=not args.no_progress, peer_cache=args.peer_cache)
    print(table(out))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0
