"""``chromesift spark-extract``: classify a table or crawl of pages on Spark, into Parquet.

Local mode (every core of this machine) by default; ``--master`` (or ``spark-submit``)
for a cluster. Under ``spark-submit`` run this module's file as the application::

    spark-submit --master yarn ... "$(python -c 'import chromesift.cli.spark as m; print(m.__file__)')" \\
        --input hdfs:///crawl/pages.parquet --output hdfs:///crawl/main-text.parquet
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chromesift.errors import UserError
from chromesift.runtime.batch import MAX_BYTES

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
"""


@dataclass(frozen=True)
class SparkExtractConfig:
    """A parsed ``chromesift spark-extract`` command line."""

    inputs: tuple[str, ...]
    output: str
    master: str | None = None
    model: Path | None = None
    html_column: str | None = None  # None: html, else text
    format: str | None = None  # None: detect (text for a text column)
    max_bytes: int | None = MAX_BYTES
    partitions: int | None = None
    keep_html: bool = False
    overwrite: bool = False
    trust: bool = False
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SparkExtractSummary:
    """What a run wrote."""

    pages: int
    failed: int
    seconds: float

    def line(self) -> str:
        """One human line."""
        rate = self.pages / self.seconds if self.seconds > 0 else 0.0
        return f"{self.pages - self.failed} done, {self.failed} failed, {rate:.1f} pages/s"


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
    p.add_argument("--max-bytes", type=parse_size, default=MAX_BYTES, metavar="SIZE",
                   help="pages larger than this get an error, unclassified (default 20MB; 0: no limit)")
    p.add_argument("--partitions", type=int, default=None, metavar="N",
                   help="spread the pages over N partitions (default: as read; WARC: 4 per core)")
    p.add_argument("--trust", action="store_true",
                   help="unpickle a --model bundle that was not written on this machine "
                        "(a bundle is a pickle: only one whose source you trust)")
    p.add_argument("--keep-html", action="store_true", help="write the page column too")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--conf", type=_conf_pair, action="append", default=[], metavar="KEY=VALUE",
                   help="a Spark setting (repeatable)")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> SparkExtractConfig:
    """Check the options and freeze them into a :class:`SparkExtractConfig`."""
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
        conf=dict(args.conf),
    )


def input_kind(paths: tuple[str, ...]) -> str:
    """``"parquet"``, ``"jsonl"`` or ``"warc"``, the one kind of all ``paths``."""
    kinds = set()
    for path in paths:
        name = path.rstrip("/").lower()
        if name.endswith((".warc", ".warc.gz")):
            kinds.add("warc")
        elif name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz")):
            kinds.add("jsonl")
        elif name.endswith(".parquet") or ("://" not in path and Path(path).is_dir()):
            kinds.add("parquet")
        else:
            raise UserError(
                f"{path}: cannot tell the input kind from the name (expected .parquet or a "
                "Parquet folder, .jsonl[.gz], or .warc[.gz])"
            )
    if len(kinds) > 1:
        raise UserError(f"inputs of different kinds ({', '.join(sorted(kinds))}); run them apart")
    return kinds.pop()


def _check_local(paths: tuple[str, ...]) -> None:
    for path in paths:
        if "://" not in path and not Path(path).exists():
            raise UserError(f"{path}: no such file")


def _master(config: SparkExtractConfig) -> str | None:
    if config.master:
        return config.master
    # under spark-submit (or a pyspark shell) the JVM is already up with its master
    return None if "PYSPARK_GATEWAY_PORT" in os.environ else "local[*]"


def run_spark_extract(config: SparkExtractConfig) -> SparkExtractSummary:
    """Read the pages, classify them on Spark, write the Parquet output; count what it holds.

    Raises
    ------
    UserError
        For pyspark missing, an input that does not exist or has no page column, an
        existing output without ``--overwrite``, or an unreadable model bundle.
    """
    from chromesift.errors import BundleError
    from chromesift.runtime import spark as cs

    cs.require_pyspark()
    kind = input_kind(config.inputs)
    _check_local(config.inputs)
    if not config.overwrite and "://" not in config.output and Path(config.output).exists():
        raise UserError(f"{config.output} exists; give --overwrite to replace it")
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    owned = SparkSession.getActiveSession() is None
    spark = cs.local_session(_master(config), config.conf, app_name="chromesift spark-extract")
    started = time.perf_counter()
    try:
        fmt = config.format
        if kind == "warc":
            df = cs.read_warc(spark, list(config.inputs), max_bytes=config.max_bytes)
            column = "html"
            fmt = fmt or "html"  # as the batch CLI reads WARC
            cores = spark.sparkContext.defaultParallelism
            df = df.repartition(config.partitions or 4 * cores)
        else:
            if kind == "parquet":
                df = spark.read.parquet(*config.inputs)
            else:
                df = spark.read.json(list(config.inputs))
            column = config.html_column or ("html" if "html" in df.columns else "text")
            if column not in df.columns:
                raise UserError(
                    f"no page column {column!r} in the input (columns: {', '.join(df.columns)}); "
                    "name it with --html-column"
                )
            if column == "text" and config.html_column is None:
                fmt = fmt or "text"
            cores = spark.sparkContext.defaultParallelism
            if config.partitions:
                df = df.repartition(config.partitions)
            elif df.rdd.getNumPartitions() < cores:  # a small file is one partition: use every core
                df = df.repartition(2 * cores)
        try:
            out = cs.extract_dataframe(df, column, config.model, format=fmt, max_bytes=config.max_bytes,
                                       trusted=config.trust)
        except (BundleError, ValueError) as exc:
            raise UserError(str(exc)) from None
        if "read_error" in out.columns:
            out = out.withColumn("error", F.coalesce("read_error", "error")).drop("read_error", "path")
        if not config.keep_html:
            out = out.drop(column)
        out.write.mode("overwrite" if config.overwrite else "errorifexists").parquet(config.output)
        seconds = time.perf_counter() - started
        written = spark.read.parquet(config.output)
        counts = written.agg(F.count(F.lit(1)).alias("pages"),
                             F.count("error").alias("failed")).first()
        return SparkExtractSummary(int(counts["pages"]), int(counts["failed"]), seconds)
    finally:
        if owned:
            spark.stop()


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
