"""``chromesift extract``: the main text of one page, or of every page of a JSONL/WARC file.

This module parses the command line and prints; the runs are
:func:`chromesift.runtime.batch.classify_file` (one page) and
:func:`chromesift.runtime.batch.run_batch` (a file of pages).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chromesift.cli.options import add_output, add_scope, add_trust
from chromesift.errors import UserError
from chromesift.models.rules import FAVOR_RANGE, FAVOR_STEP, FAVORS
from chromesift.runtime import batch, formats
from chromesift.runtime.core import MAX_PAGE_BYTES, PAGE_TIMEOUT, Loader, check_timeout, record_json

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)i?b?", re.I)
_UNITS = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}

EPILOG = f"""\
single page: prints the main text (one paragraph a line), --paragraphs a table of
every paragraph with its probability (main: + body, - chrome, T the headline), --json
one JSON object (the record a batch writes). --output-format markdown keeps headings,
list items, quotes and table rows; json is one document with title, language, url and
each paragraph's role; csv one row per paragraph.

precision or recall: --threshold T decides with T (0 to 1) instead of the bundle's
threshold; --favor precision raises it by {FAVOR_STEP}, --favor recall lowers it by {FAVOR_STEP}
(clipped to {FAVOR_RANGE[0]}-{FAVOR_RANGE[1]}).

what counts as content: --scope auto (the default) keeps an article's body alone, without its
captions (<figcaption>), and all the posts of a page whose head says it is a forum thread
(forum software, a forum posting's structured data, a thread's canonical URL); --scope article
reads every page as an article; --scope all keeps all the main content of an HTML page that is
not an article (a forum thread's posts, a listing's items, a service page's text, captions).

folder (--input-dir DIR --output OUT): a file per page, OUT/NAME.txt (.md, .json, .csv
by --output-format); pages whose file exists are skipped, so a run resumes.

batch (--input FILE, or --input - for JSONL on standard input): one JSON line per page in --output with id, text, paragraphs and,
for a failed page, error. Running again with the same --output skips the pages
already there, so an interrupted run resumes.

An input line that is no page record (not JSON, no id, ...) gets a record of its own
with the id FILE:LINE and the reason in its error field, and the run goes on.

examples:
  chromesift extract page.html
  chromesift extract page.html --output-format markdown --favor recall
  curl -s https://example.org/ | chromesift extract - --output-format json
  chromesift extract --input pages.jsonl.gz --output records.jsonl --jobs 2
  chromesift extract --input-dir saved-pages/ --output texts/ --output-format markdown
  chromesift extract page.html --model models:/chromesift/3
  chromesift extract https://example.org/news/article.html --output-format markdown
  chromesift extract --urls urls.txt --output records.jsonl --delay 2

exit status: 0 all pages done; 1 the run finished but some pages failed (see their
error field; a single page: the reason on standard error); 2 a problem to fix first
(missing or unreadable file, unreadable model bundle, bad option); 130 interrupted.
"""


@dataclass(frozen=True)
class ExtractConfig:
    """A parsed ``chromesift extract`` command line."""

    page: str | None = None
    input: Path | None = None
    input_dir: Path | None = None
    urls: Path | None = None
    delay: float = 1.0
    output: Path | None = None
    model: Path | None = None
    format: str | None = None  # None: detect
    paragraphs: bool = False
    json: bool = False
    jobs: int = 1
    max_bytes: int | None = MAX_PAGE_BYTES
    timeout: float | None = PAGE_TIMEOUT
    progress: bool = True
    trusted: bool | str = False
    output_format: str | None = None  # None: txt for a page, JSONL records for a batch
    threshold: float | None = None
    favor: str | None = None
    scope: str | None = None


def parse_threshold(value: str) -> float:
    """A decision threshold: a number from 0 to 1."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"not a threshold from 0 to 1: {value!r}")
    return number


def parse_size(value: str) -> int:
    """``20MB``, ``500k``, ``1.5G`` or a plain number of bytes -> bytes (decimal units)."""
    match = _SIZE.fullmatch(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {value!r} (try 20MB, 500k or 1000000)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def register(sub: Any) -> None:
    """Add the ``extract`` command."""
    p = sub.add_parser(
        "extract",
        help="print a page's main text, or classify every page of a JSONL/WARC file",
        description="Tell a page's main content from its chrome and print the main text.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("page", nargs="?", help="HTML or text file, - for standard input, or an http(s) URL")
    p.add_argument("--paragraphs", action="store_true",
                   help="print every paragraph with its probability of being main content")
    p.add_argument("--format", choices=["detect", "html", "text"], default="detect",
                   help="how to read the input (default: detect from the name and first bytes)")
    p.add_argument("--json", action="store_true", help="print one JSON object (single page)")
    p.add_argument("--output-format", choices=formats.FORMATS, default=None,
                   help="txt (default), markdown, json (a document with title, language and roles) "
                        "or csv; a batch writes JSONL records")
    k = p.add_mutually_exclusive_group()
    k.add_argument("--threshold", type=parse_threshold, default=None, metavar="T",
                   help="decision threshold from 0 to 1 (default: the bundle's; higher keeps fewer paragraphs)")
    k.add_argument("--favor", choices=FAVORS, default=None,
                   help=f"precision or recall: the bundle's threshold moved by {FAVOR_STEP}")
    add_scope(p)
    p.add_argument("--model", type=Path, default=None, metavar="BUNDLE",
                   help="model bundle folder, or a registered MLflow model: models:/NAME/VERSION "
                        "or models:/NAME@ALIAS (default: the shipped model)")
    add_trust(p)
    b = p.add_argument_group("batch")
    b.add_argument("--input", type=Path, default=None, metavar="FILE",
                   help="pages.jsonl[.gz|.xz] (records with id and html or text), crawl.warc[.gz], "
                        "or - for JSONL on standard input")
    b.add_argument("--input-dir", type=Path, default=None, metavar="DIR",
                   help="every *.html/*.htm file of DIR (and its subfolders): one output file each "
                        "in the folder --output, in --output-format (default txt); files already "
                        "there are skipped, so a run resumes")
    b.add_argument("--urls", type=Path, default=None, metavar="FILE",
                   help="a list of http(s) URLs, one a line: each fetched (politely, see --delay) and "
                        "classified; records as for --input, with the URL as id")
    b.add_argument("--delay", type=float, default=1.0, metavar="SECONDS",
                   help="with --urls: seconds between two requests to the same host (default 1)")
    add_output(b, type=Path, default=None, metavar="PATH",
               help="JSONL output, resumed when it exists (default: standard output); "
                    "with --input-dir the output folder")
    b.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1)")
    b.add_argument("--max-bytes", type=parse_size, default=MAX_PAGE_BYTES, metavar="SIZE",
                   help="skip pages larger than this, as an error record (default 20MB; 0: no limit)")
    b.add_argument("--timeout", type=float, default=PAGE_TIMEOUT, metavar="SECONDS",
                   help="seconds a page may take (default %(default)g; 0 or inf: no limit)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> ExtractConfig:
    """Check the option combinations and freeze them into an :class:`ExtractConfig`."""
    if args.urls is not None:
        if args.input is not None or args.input_dir is not None:
            raise UserError("give one of --urls, --input and --input-dir")
        if not args.delay >= 0:
            raise UserError("--delay must be a number of seconds, at least 0")
        # a URL list is a batch like --input: its checks below apply
        args = argparse.Namespace(**{**vars(args), "input": args.urls})
    if args.input_dir is not None:
        if args.input is not None or args.page is not None:
            raise UserError("give --input-dir alone, without a PAGE or --input")
        if args.output is None:
            raise UserError("--input-dir needs --output DIR, the folder to write a file per page into")
        if args.json or args.paragraphs:
            raise UserError("--json and --paragraphs are for a single page; use --output-format")
        if args.jobs != 1:
            raise UserError("--input-dir runs in this process: --jobs is for --input")
    elif args.input is not None and args.page is not None:
        raise UserError("give a PAGE or --input, not both")
    elif args.input is None and args.page is None:
        raise UserError("give a PAGE (a file, or - for standard input) or --input FILE")
    elif args.input is None:
        if args.output is not None:
            raise UserError("--output is for batch mode (--input); redirect standard output instead")
    elif args.json or args.paragraphs:
        raise UserError("--json and --paragraphs are for a single page; batch output is always JSONL")
    elif args.output_format not in (None, "json"):
        raise UserError(f"--output-format {args.output_format} is for a single page; batch output is JSONL")
    if args.json and args.output_format not in (None, "json"):
        raise UserError("give --json or --output-format, not both")
    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    return ExtractConfig(
        page=args.page,
        input_dir=args.input_dir,
        urls=args.urls,
        delay=args.delay,
        input=args.input,
        output=args.output,
        model=args.model,
        format=None if args.format == "detect" else args.format,
        paragraphs=args.paragraphs,
        json=args.json,
        jobs=args.jobs,
        max_bytes=args.max_bytes or None,
        timeout=check_timeout(args.timeout),
        trusted=args.trust,
        progress=not args.no_progress,
        output_format=args.output_format,
        threshold=args.threshold,
        favor=args.favor,
        scope=args.scope,
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chromesift extract`` (called by the dispatcher)."""
    config = config_from_args(args)
    with contextlib.ExitStack() as stack:
        if is_registered(config.model):
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chromesift-model-")))
            config = dataclasses.replace(config, model=registered_bundle(str(config.model), folder / "bundle"))
        if config.input_dir is not None:
            return run_dir(config)
        if config.input is not None:
            return run_batch(config)
        return run_page(config)


#: how a registered MLflow model is named on the command line
REGISTRY_PREFIX = "models:/"


def is_registered(model: Path | str | None) -> bool:
    """Whether ``--model`` names a registered MLflow model (``models:/...``), not a folder."""
    # (a Path keeps "models:/x/1" as it is: one slash, no folder of that name is meant)
    return model is not None and str(model).startswith(REGISTRY_PREFIX)


def registered_bundle(uri: str, dst: Path) -> Path:
    """Download the bundle of a registered model version into ``dst`` (the registry of
    ``$MLFLOW_TRACKING_URI``/``$MLFLOW_REGISTRY_URI``); loading it then makes the same
    trust checks as any bundle folder (``--trust``)."""
    from chromesift.tracking import resolve_model_uri

    return resolve_model_uri(uri, dst)


def run_batch(config: ExtractConfig, loader: Loader | None = None) -> int:
    """Batch mode: classify every page of ``config.input``; print the summary line."""
    summary = batch.run_batch(
        batch.BatchConfig(
            input=config.input,  # type: ignore[arg-type]
            output=config.output,
            model=config.model,
            format=config.format,
            jobs=config.jobs,
            max_bytes=config.max_bytes,
            timeout=config.timeout,
            progress=config.progress,
            trusted=config.trusted,
            threshold=config.threshold,
            favor=config.favor,
            scope=config.scope,
            urls=config.urls is not None,
            delay=config.delay,
        ),
        loader=loader,
    )
    print(f"chromesift extract: {summary.line()}", file=sys.stderr)
    if summary.failed and config.output is not None:
        print(f"failed pages have an 'error' field in {config.output}", file=sys.stderr)
    return 1 if summary.failed else 0


def run_dir(config: ExtractConfig, loader: Loader | None = None) -> int:
    """Folder mode: a file per page of ``config.input_dir`` in ``config.output``; print the summary."""
    summary = batch.run_dir(
        batch.DirConfig(
            input=config.input_dir,  # type: ignore[arg-type]
            output=config.output,  # type: ignore[arg-type]
            output_format=config.output_format or "txt",
            model=config.model,
            format=config.format,
            max_bytes=config.max_bytes,
            timeout=config.timeout,
            progress=config.progress,
            trusted=config.trusted,
            threshold=config.threshold,
            favor=config.favor,
            scope=config.scope,
        ),
        loader=loader,
    )
    print(f"chromesift extract: {summary.line()}", file=sys.stderr)
    return 1 if summary.failed else 0


def format_table(paragraphs: list[dict], width: int | None = None) -> str:
    """A table of paragraphs, one a line: position, probability, main, role, text (cut to fit).

    ``main`` is ``+`` for a paragraph of the main text and ``-`` for the rest; ``role`` is
    ``title`` (the headline), ``caption``, ``body`` or ``chrome`` (empty where a record has none).
    """
    width = width or shutil.get_terminal_size((100, 24)).columns
    room = max(20, width - 28)
    lines = [f"{'pos':>4}  {'prob':>5}  {'main':<4}  {'role':<7}  text"]
    for i, par in enumerate(paragraphs):
        text = par["text"]
        if len(text) > room:
            text = text[: room - 3] + "..."
        mark = "+" if par["is_content"] else "-"
        lines.append(f"{i:>4}  {par['probability']:5.3f}  {mark:<4}  {par.get('role', ''):<7}  {text}")
    return "\n".join(lines)


def run_page(config: ExtractConfig, loader: Loader | None = None) -> int:
    """Single-page mode: print the main text, the paragraph table, or JSON."""
    assert config.page is not None
    detail = config.output_format not in (None, "txt") or config.paragraphs
    record = batch.classify_file(config.page, model=config.model, format=config.format,
                                 trusted=config.trusted, loader=loader, threshold=config.threshold,
                                 favor=config.favor, detail=detail, scope=config.scope)
    if config.json:
        out = record_json(_plain(record))
    elif config.paragraphs:
        out = format_table(record["paragraphs"])
    else:
        out = formats.render(record, config.output_format or "txt")
    if "error" in record:
        print(f"chromesift extract: {record['id']}: {record['error']}", file=sys.stderr)
    try:
        sys.stdout.write(out + ("\n" if out else ""))
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (``| head``): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 1 if "error" in record else 0


def _plain(record: dict) -> dict:
    """A record without the detail of its paragraphs (the record a batch writes)."""
    keep = ("text", "is_content", "probability")
    return {k: v for k, v in record.items() if k != "language"} | {
        "paragraphs": [{k: p[k] for k in keep} for p in record["paragraphs"]]}


def main(argv: list[str] | None = None) -> int:
    """Run ``chromesift extract`` with ``argv`` (the arguments after ``extract``)."""
    from chromesift.cli import main as cli_main

    return cli_main(["extract", *(sys.argv[1:] if argv is None else argv)])
