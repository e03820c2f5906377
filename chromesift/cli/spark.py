"""``chromesift spark-extract``: classify a table or crawl of pages on Spark, into Parquet.

This module parses the command line; the run is
:func:`chromesift.runtime.spark.run_spark_extract`.

Local mode (every core of this machine) by default; ``--master`` (or ``spark-submit``)
for a cluster. Under ``spark-submit`` run this module's file as the application::

    spark-submit --master yarn ... "$(python -c 'import chromesift.cli.spark as m; print(m.__file__)')" \\
        --input hdfs:///crawl/pages.parquet --output hdfs:///crawl/main-text.parquet
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from chromesift.cli.options import add_scope, add_trust
from chromesift.errors import UserError
from chromesift.runtime.core import MAX_PAGE_BYTES
from chromesift.runtime.spark import SparkExtractConfig, run_spark_extract

EPILOG = """\
input: Parquet files or folders (a column of HTML, --html-column), JSON Lines
(.jsonl, .jsonl.gz: records with html or text), or WARC files (.warc, .warc.gz:
HTML response records, id = WARC-Record-ID, plus url). Kinds cannot be mixed.
Parquet and JSON Lines may be on any file system Spark reads; WARC files must be
readable at the same path on every executor.

output: a Parquet folder with the input's columns (but the page itself, unless
--keep-html) plus main_text, paragraphs (text, is_content, probability) and
error (null, or why the page was not classified).

exit status: 0 all pages done; 1 written, but some pages failed (see error);
2 a problem to fix first; 130 interrupted.

examples:
  chromesift spark-extract --input pages.jsonl.gz --output out.parquet
  chromesift spark-extract --input crawl/*.warc.gz --output out.parquet --partitions 64 --overwrite
  chromesift spark-extract --input s3a://bucket/pages/ --html-column body --output s3a://bucket/text/ \\
      --master spark://head:7077 --conf spark.executor.memory=4g
"""


def _conf_pair(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"not KEY=VALUE: {value!r}")
    return key.strip(), val


def register(sub: Any) -> None:
    """Add the ``spark-extract`` command."""
    from chromesift.cli.extract import parse_size

    p = sub.add_parser(
        "spark-extract",
        help="classify every page of a Parquet table, JSONL or WARC files on Spark",
        description="Tell each page's main content from its chrome on Apache Spark; write Parquet.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", nargs="+", required=True, metavar="PATH",
                   help="pages.parquet (file or folder), pages.jsonl[.gz], or crawl.warc[.gz] files")
    p.add_argument("--output", required=True, metavar="PATH", help="Parquet folder to write")
    p.add_argument("--master", default=None,
                   help="Spark master URL (default: spark-submit's, else local[*])")
    p.add_argument("--model", type=Path, default=None, metavar="BUNDLE",
                   help="model bundle folder, shipped to the executors (default: the shipped model)")
    p.add_argument("--html-column", default=None, metavar="NAME",
                   help="column holding the page (default: html, else text)")
    p.add_argument("--format", choices=["detect", "html", "text"], default="detect",
                   help="how to read the pages (default: detect; text for a 'text' column)")
    add_scope(p)
    p.add_argument("--max-bytes", type=parse_size, default=MAX_PAGE_BYTES, metavar="SIZE",
                   help="pages larger than this get an error, unclassified (default 20MB; 0: no limit)")
    p.add_argument("--partitions", type=int, default=None, metavar="N",
                   help="spread the pages over N partitions (default: as read; WARC: 4 per core)")
    add_trust(p)
    p.add_argument("--keep-html", action="store_true", help="write the page column too")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--conf", type=_conf_pair, action="append", default=[], metavar="KEY=VALUE",
                   help="a Spark setting (repeatable)")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> SparkExtractConfig:
    """Check the options and freeze them into a :class:`~chromesift.runtime.spark.SparkExtractConfig`."""
    if args.partitions is not None and args.partitions < 1:
        raise UserError("--partitions must be at least 1")
    return SparkExtractConfig(
        inputs=tuple(str(p) for p in args.input),
        output=str(args.output),
        master=args.master,
        model=args.model,
        html_column=args.html_column,
        format=None if args.format == "detect" else args.format,
        max_bytes=args.max_bytes or None,
        partitions=args.partitions,
        keep_html=args.keep_html,
        overwrite=args.overwrite,
        trust=args.trust,
        scope=args.scope,
        conf=dict(args.conf),
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chromesift spark-extract`` (called by the dispatcher)."""
    config = config_from_args(args)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    summary = run_spark_extract(config)
    print(f"chromesift spark-extract: {summary.line()}", file=sys.stderr)
    if summary.failed:
        print(f"failed pages have an 'error' in {config.output}", file=sys.stderr)
    return 1 if summary.failed else 0


def main(argv: list[str] | None = None) -> int:
    """Run ``spark-extract`` alone (the application file for ``spark-submit``)."""
    from chromesift.cli import run_command

    parser = argparse.ArgumentParser(prog="chromesift")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["spark-extract", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_command(run, args)


if __name__ == "__main__":
    sys.exit(main())
