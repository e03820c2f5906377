"""Classify pages on Apache Spark (the optional extra ``chromesift[spark]``).

:func:`extract_dataframe` adds ``main_text``, ``paragraphs`` and ``error`` columns to a
Spark DataFrame of pages. It runs the same fitted pipeline as the library call, through
``mapInPandas``: each Python worker loads the bundle once (the library's own cache)
and classifies the pages of each Arrow batch a few dozen at a time, so a page's result
equals :func:`chromesift.extract` and :func:`chromesift.classify` of that page.

The bundle folder is shipped from the driver to the executors with
``SparkContext.addFile``, so a cluster needs chromesift (and its dependencies) installed
in the executors' Python, but not the bundle. Under Spark Connect there is no
``addFile``: pass ``ship_model=False`` and a bundle path every executor can read.

A bundle is a pickle. The driver decides whether it may be unpickled (the rules of
:mod:`chromesift.models.bundle`: shipped, written on this machine, or ``trusted``) and
the executors then load exactly that model, pinned by its sha256, whatever their own
trust stores hold.

:func:`run_spark_extract` is the engine of ``chromesift spark-extract``: read Parquet, JSON
Lines or WARC input, classify, write Parquet.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chromesift.errors import BundleError, ChromesiftError, UserError
from chromesift.runtime.core import (
    BATCH_PAGES,
    MAX_PAGE_BYTES,
    Page,
    bundle_trust,
    check_scope,
    one_thread,
    page_records,
)

if TYPE_CHECKING:  # pyspark is an optional dependency
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

#: Columns :func:`extract_dataframe` adds.
OUTPUT_COLUMNS = ("main_text", "paragraphs", "error")
#: Pages per Arrow batch handed to a Python worker in sessions made by
#: :func:`local_session` (Spark's default, 10 000 rows, is gigabytes of HTML).
RECORDS_PER_BATCH = 256
#: pyspark 4.x warns that it does not fully support pandas 3; the conversions this
#: module uses (strings, binary, arrays of structs) are covered by its tests.
_PANDAS3_WARNING = "PySpark does not yet fully support pandas"


def require_pyspark() -> None:
    """Raise a :class:`~chromesift.errors.UserError` naming the extra when pyspark is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UserError(
            "pyspark is not installed; install the Spark extra: pip install 'chromesift[spark]'"
        ) from None


@contextlib.contextmanager
def _quiet_pandas3():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS3_WARNING, category=FutureWarning)
        yield


def paragraphs_type():
    """Spark type of the ``paragraphs`` column: array of (text, is_content, probability)."""
    from pyspark.sql.types import (
        ArrayType,
        BooleanType,
        DoubleType,
        StringType,
        StructField,
        StructType,
    )

    return ArrayType(
        StructType([
            StructField("text", StringType()),
            StructField("is_content", BooleanType()),
            StructField("probability", DoubleType()),
        ])
    )


def output_schema(schema: StructType) -> StructType:
    """``schema`` plus the columns :func:`extract_dataframe` adds."""
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType([
        *schema.fields,
        StructField("main_text", StringType()),
        StructField("paragraphs", paragraphs_type()),
        StructField("error", StringType()),
    ])


# --- the executor side --------------------------------------------------------------------


def classify_documents(
    model: Any,
    documents: list,
    *,
    format: str | None = None,
    max_bytes: int | None = MAX_PAGE_BYTES,
    batch_pages: int = BATCH_PAGES,
    scope: str | None = None,
) -> list[tuple[str | None, list[dict] | None, str | None]]:
    """Classify a list of pages: ``(main_text, paragraphs, error)`` for each, in order.

    The records of :func:`chromesift.runtime.core.page_records` as the columns this
    module adds: a failed page has None for both and the reason in ``error``.

    Parameters
    ----------
    model
        A loaded :class:`chromesift.Model`.
    documents
        HTML or text (str or bytes); None (or NaN) is a missing page.
    format
        ``"html"``, ``"text"``, or None to detect per page as the library call does.
    max_bytes
        Size budget; a bigger page is not classified (None: no limit).
    batch_pages
        Pages predicted together.
    scope
        ``"auto"``, ``"article"`` or ``"all"`` (None: ``"auto"``), as for
        :func:`chromesift.extract`.

    Returns
    -------
    list of tuple
        ``main_text`` and ``paragraphs`` (``text``, ``is_content``, ``probability``
        rounded to 4 digits, as in the batch CLI's records) of each page, or None for
        both and the reason in ``error``. One failing page does not fail the others.
    """
    pages = [Page(i, doc, format) for i, doc in enumerate(documents)]
    return [
        (None, None, rec["error"]) if "error" in rec else (rec["text"], rec["paragraphs"], None)
        for rec in page_records(model, pages, max_bytes=max_bytes, batch_pages=batch_pages, scope=scope)
    ]


@dataclass(frozen=True)
class _Extractor:
    """The function ``mapInPandas`` runs on the executors (pickled by reference to this class)."""

    html_col: str
    model_path: str | None
    shipped_name: str | None
    trusted: bool | str
    format: str | None
    max_bytes: int | None
    batch_pages: int
    scope: str | None = None

    def bundle(self) -> Path | None:
        """The bundle folder on this executor: the shipped copy, else the given path."""
        if self.shipped_name is not None:
            from pyspark import SparkFiles

            with contextlib.suppress(Exception):
                shipped = Path(SparkFiles.get(self.shipped_name))
                if shipped.is_dir():
                    return shipped
        return Path(self.model_path) if self.model_path is not None else None

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = None
        with one_thread():  # one Python worker per core: no native thread pools on top
            for frame in batches:
                if model is None:
                    import chromesift

                    # cached: once per worker
                    model = chromesift.load_model(self.bundle(), trusted=self.trusted)
                results = classify_documents(
                    model, list(frame[self.html_col]), format=self.format,
                    max_bytes=self.max_bytes, batch_pages=self.batch_pages, scope=self.scope,
                )
                text, paragraphs, error = zip(*results, strict=True) if results else ((), (), ())
                yield frame.assign(main_text=list(text), paragraphs=list(paragraphs), error=list(error))


# --- the driver side ------------------------------------------------------------------------


def _ship(spark: SparkSession, folder: Path) -> str | None:
    """Add the bundle folder to the Spark application's files; its name there, or None."""
    try:
        sc = spark.sparkContext
    except Exception:  # Spark Connect: no SparkContext, no addFile
        return None
    folder = folder.resolve()
    for added in sc.listFiles:
        path = urlsplit(added).path.rstrip("/")
        if path == folder.as_posix():
            return folder.name
        if path.rsplit("/", 1)[-1] == folder.name:  # executors would refuse the second one
            raise ValueError(
                f"another folder named {folder.name!r} ({added}) was already shipped in this "
                "Spark application; give the bundle folder a name of its own"
            )
    sc.addFile(str(folder), recursive=True)
    return folder.name


def extract_dataframe(
    df: DataFrame,
    html_col: str = "html",
    model_path: str | Path | None = None,
    *,
    format: str | None = None,
    max_bytes: int | None = MAX_PAGE_BYTES,
    batch_pages: int = BATCH_PAGES,
    ship_model: bool = True,
    trusted: bool | str = False,
    scope: str | None = None,
) -> DataFrame:
    """Add ``main_text``, ``paragraphs`` and ``error`` columns to a DataFrame of pages.

    Lazy, as Spark transformations are: nothing runs before an action (``write``,
    ``collect``, ``count``).

    Parameters
    ----------
    df
        Pages, one a row; every column is kept.
    html_col
        Column holding the page (string or binary): HTML, or plain text with
        ``format="text"``.
    model_path
        Bundle folder; None for the shipped default model. It is checked here, on the
        driver, before any task starts.
    format
        ``"html"``, ``"text"``, or None to detect per page (the library call's rule).
    max_bytes
        Per-page size budget: a bigger page gets ``error`` and no classification
        (None: no limit).
    batch_pages
        Pages predicted together on an executor.
    ship_model
        Ship the bundle to the executors with ``SparkContext.addFile``; False when
        ``model_path`` is readable at the same path on every executor.
    trusted
        True, or the bundle's sha256, to unpickle a bundle that is neither shipped
        nor written on this machine (see :func:`chromesift.load_model`).
    scope
        ``"auto"`` (None, the default: ``"article"``, but ``"all"`` for a page that says it
        is a forum thread), ``"article"`` (an article's body alone) or ``"all"`` (all the main
        content of an HTML page: forum posts, listings). Checked here, on the driver.

    Returns
    -------
    pyspark.sql.DataFrame
        ``df``'s columns plus ``main_text`` (string: content paragraphs joined by
        newlines, as :func:`chromesift.extract`), ``paragraphs`` (array of structs
        ``text``, ``is_content``, ``probability``) and ``error`` (null, or why the
        page was not classified, in which case the other two are null).

    Raises
    ------
    ValueError
        For a missing ``html_col``, a column name that the output would repeat, a
        format other than html/text/None, or a scope the model cannot read with.
    chromesift.errors.BundleError
        When the bundle is missing, altered, made with another scikit-learn, or not
        trusted (:func:`chromesift.runtime.core.bundle_trust`).

    Notes
    -----
    Each Python worker holds one Arrow batch of pages in memory at a time; Spark's
    default of 10 000 rows a batch is too many pages, so set
    ``spark.sql.execution.arrow.maxRecordsPerBatch`` (sessions from
    :func:`local_session` use :data:`RECORDS_PER_BATCH`).
    """
    from chromesift.models import DEFAULT_BUNDLE

    if html_col not in df.columns:
        raise ValueError(f"no column {html_col!r} among {', '.join(df.columns)}")
    clash = [c for c in OUTPUT_COLUMNS if c in df.columns]
    if clash:
        raise ValueError(f"the DataFrame already has column(s) {', '.join(clash)}; rename or drop them")
    if format not in (None, "html", "text"):
        raise ValueError(f"format must be 'html', 'text' or None, not {format!r}")
    folder = Path(model_path) if model_path is not None else DEFAULT_BUNDLE
    trust = bundle_trust(folder, trusted)  # fail here, not in every task
    if scope is not None:
        try:
            check_scope(_scope_model(folder, trust, scope), scope)
        except UserError as exc:
            raise ValueError(str(exc)) from None
    shipped = _ship(df.sparkSession, folder) if ship_model else None
    func = _Extractor(
        html_col=html_col,
        model_path=str(folder.resolve()) if model_path is not None else None,
        shipped_name=shipped,
        trusted=trust,
        format=format,
        max_bytes=max_bytes,
        batch_pages=batch_pages,
        scope=scope,
    )
    with _quiet_pandas3():
        return df.mapInPandas(func, output_schema(df.schema))


def _scope_model(folder: Path, trust: bool | str, scope: str) -> Any:
    """The model :func:`check_scope` asks whether it reads with ``scope``: none for a scope
    that needs nothing of the model (so the driver loads a bundle only for ``"all"``)."""
    from chromesift.models.rules import scope_convention

    if scope_convention(scope) is None:  # raises ValueError for an unknown scope
        return None
    import chromesift

    return chromesift.load_model(folder, trusted=trust)


# --- WARC input -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _WarcReader:
    """Pages of the WARC files named in a ``path`` column (read on the executors)."""

    max_bytes: int | None

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        from chromesift.data.html import decode
        from chromesift.runtime.batch import iter_warc

        for frame in batches:
            for path in frame["path"]:
                rows: list[dict] = []
                try:
                    for page in iter_warc(Path(path), max_bytes=self.max_bytes):
                        if not isinstance(page, Page):
                            continue  # not an HTML response
                        html, error = page.document, page.error
                        if isinstance(html, bytes):
                            try:  # as the parser would, so the column can be a string
                                html = decode(html).text
                            except ChromesiftError as exc:
                                html, error = None, str(exc)
                        rows.append({"id": str(page.id), "url": page.url, "path": path,
                                     "html": html, "read_error": error})
                except ChromesiftError as exc:  # an unreadable file: its pages so far, and a row saying so
                    rows.append({"id": path, "url": None, "path": path, "html": None,
                                 "read_error": str(exc)})
                if rows:
                    yield pd.DataFrame(rows, columns=list(WARC_COLUMNS))


#: Columns of :func:`read_warc`.
WARC_COLUMNS = ("id", "url", "path", "html", "read_error")


def read_warc(spark: SparkSession, paths: list[str], *, max_bytes: int | None = MAX_PAGE_BYTES) -> DataFrame:
    """The HTML responses of WARC files as a DataFrame ``id, url, path, html, read_error``.

    Each file is read whole by one task, on the executors, with the batch CLI's rules
    (:func:`chromesift.runtime.batch.iter_warc`: response records of an HTML content type, the
    ``WARC-Record-ID`` as id); so every path must be readable on every executor (a
    local path in local mode, a shared file system on a cluster). Bytes without a
    usable HTTP charset are decoded as the HTML parser would.

    Parameters
    ----------
    spark
        The session.
    paths
        ``.warc`` / ``.warc.gz`` files.
    max_bytes
        Per-page size budget: a bigger page has no ``html`` and a ``read_error``.

    Returns
    -------
    pyspark.sql.DataFrame
        One row per HTML page, one partition per file (repartition before heavy work).
    """
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(c, StringType()) for c in WARC_COLUMNS])
    files = spark.createDataFrame([(str(p),) for p in paths], "path string")
    files = files.repartition(max(1, len(paths)))
    with _quiet_pandas3():
        return files.mapInPandas(_WarcReader(max_bytes), schema)


# --- the spark-extract run ------------------------------------------------------------------


@dataclass(frozen=True)
class SparkExtractConfig:
    """What a ``spark-extract`` run does.

    Attributes
    ----------
    inputs
        Parquet files or folders, JSON Lines files, or WARC files (one kind).
    output
        Parquet folder to write.
    master
        Spark master URL; None for spark-submit's, else ``local[*]``.
    model
        Bundle folder, shipped to the executors; None for the shipped model.
    html_column
        Column holding the page; None: ``html``, else ``text``.
    format
        ``"html"`` or ``"text"``; None detects (text for a ``text`` column, HTML for WARC).
    max_bytes
        Per-page size budget (None: no limit).
    partitions
        Spread the pages over this many partitions (None: as read; WARC: 4 per core).
    keep_html
        Write the page column too.
    overwrite
        Replace an existing output.
    trust
        Unpickle a bundle not written on this machine.
    conf
        Extra Spark settings.
    """

    inputs: tuple[str, ...]
    output: str
    master: str | None = None
    model: Path | None = None
    html_column: str | None = None
    format: str | None = None
    max_bytes: int | None = MAX_PAGE_BYTES
    partitions: int | None = None
    keep_html: bool = False
    overwrite: bool = False
    trust: bool = False
    scope: str | None = None
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


def inputs_kind(paths: tuple[str, ...]) -> str:
    """``"parquet"``, ``"jsonl"`` or ``"warc"``: the one kind of all ``paths``, from their names.

    Raises
    ------
    UserError
        For a name of no known kind, or inputs of different kinds.
    """
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
        existing output without ``overwrite``, or an unreadable model bundle.
    """
    require_pyspark()
    kind = inputs_kind(config.inputs)
    _check_local(config.inputs)
    if not config.overwrite and "://" not in config.output and Path(config.output).exists():
        raise UserError(f"{config.output} exists; give --overwrite to replace it")
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    owned = SparkSession.getActiveSession() is None
    spark = local_session(_master(config), config.conf, app_name="chromesift spark-extract")
    started = time.perf_counter()
    try:
        fmt = config.format
        if kind == "warc":
            df = read_warc(spark, list(config.inputs), max_bytes=config.max_bytes)
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
            out = extract_dataframe(df, column, config.model, format=fmt, max_bytes=config.max_bytes,
                                    trusted=config.trust, scope=config.scope)
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


# --- sessions ------------------------------------------------------------------------------


def local_session(master: str | None = "local[*]", conf: dict[str, str] | None = None,
                  app_name: str = "chromesift") -> SparkSession:
    """Get or create a Spark session; in local mode one that stays on this machine.

    For a ``local`` master: the driver binds to 127.0.0.1, the web UI is off, and
    the Python workers run this interpreter (so they see this environment's
    packages). Every session gets :data:`RECORDS_PER_BATCH` pages per Arrow batch.
    ``conf`` overrides any of these. An active session is returned as it is.

    Parameters
    ----------
    master
        Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``, ...); None
        for the one ``spark-submit`` gives.
    conf
        Extra Spark settings.
    app_name
        Application name.
    """
    from pyspark.sql import SparkSession

    settings = {"spark.sql.execution.arrow.maxRecordsPerBatch": str(RECORDS_PER_BATCH)}
    local = master is not None and master.startswith("local")
    if local:
        settings.update({
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
            "spark.ui.enabled": "false",
        })
    settings.update(conf or {})
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    # read from the environment when the JVM and the context start
    env = {"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"} if local else {}
    env = {k: v for k, v in env.items() if k not in os.environ}
    os.environ.update(env)
    try:
        with _quiet_pandas3():
            return builder.getOrCreate()
    finally:
        for key in env:
            os.environ.pop(key, None)
