"""Spark local mode: extract_dataframe and `chromesift spark-extract` equal the library call."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest

import chromesift
from chromesift.data.corpus import dataset_path, iter_pages
from chromesift.errors import UserError
from chromesift.models import DEFAULT_BUNDLE
from chromesift.runtime import batch, core

pytestmark = [
    # pyspark 4.x on pandas 3 warns on every conversion; this module checks the results
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
]

N_PAGES = 200


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'chromesift[spark]')")
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        pytest.skip("no Java runtime (java on PATH or JAVA_HOME) for Spark")
    from chromesift.runtime.spark import local_session

    session = local_session("local[2]", {
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    })
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def model() -> chromesift.Model:
    return chromesift.load_model(DEFAULT_BUNDLE)


@pytest.fixture(scope="module")
def pages(shared_data) -> list[tuple[str, str]]:
    return [(p.id, p.html) for p in iter_pages(dataset_path(shared_data, "cleaneval"), N_PAGES)]


def test_extract_dataframe_equals_the_library_call_page_for_page(spark, model, pages):
    from chromesift.runtime.spark import extract_dataframe

    df = spark.createDataFrame(pd.DataFrame(pages, columns=["id", "html"])).repartition(4)
    out = extract_dataframe(df, "html", DEFAULT_BUNDLE)  # a path: shipped with addFile
    assert out.columns == ["id", "html", "main_text", "paragraphs", "error"]
    rows = {r["id"]: r for r in out.drop("html").collect()}
    assert len(rows) == N_PAGES
    for i, (pid, html) in enumerate(pages):
        row = rows[pid]
        assert row["error"] is None, (pid, row["error"])
        assert row["main_text"] == chromesift.extract(html, model=model), pid
        if i % 10 == 0:  # the whole record, as the batch CLI writes it
            want = core.result_record(model.classify(html))
            assert [p.asDict() for p in row["paragraphs"]] == want["paragraphs"], pid


def test_bad_pages_get_an_error_and_the_rest_go_on(spark, model):
    from chromesift.runtime.spark import extract_dataframe

    good = "<html><body><p>" + "A paragraph of ordinary article prose. " * 5 + "</p></body></html>"
    frame = pd.DataFrame({"id": ["good", "null", "big", "text"],
                          "html": [good, None, "<p>" + "x" * 500 + "</p>", "one line\nanother line"]})
    rows = {r["id"]: r for r in extract_dataframe(spark.createDataFrame(frame), max_bytes=400).collect()}
    assert rows["good"]["main_text"] == chromesift.extract(good, model=model)
    assert rows["null"]["error"] == "no document (null)" and rows["null"]["main_text"] is None
    assert rows["big"]["error"] == "page is 507 bytes, over the 400-byte budget"
    assert rows["big"]["paragraphs"] is None
    assert rows["text"]["error"] is None
    assert [p["text"] for p in rows["text"]["paragraphs"]] == ["one line", "another line"]


class _Fussy:
    """The real model, but a page holding "<boom>" fails to parse."""

    def __init__(self, model):
        self.model = model

    def classify(self, document, *, format=None):
        if "<boom>" in document:
            raise ValueError("cannot parse this page")
        return self.model.classify(document, format=format)

    def classify_many(self, documents, *, format=None, batch_size=64):
        for doc in documents:
            yield self.classify(doc, format=format)


def test_a_failing_page_fails_alone(model):
    from chromesift.runtime.spark import classify_documents

    docs = [f"<html><body><p>Page {i}: {'an ordinary sentence of prose. ' * 4}</p></body></html>" for i in range(5)]
    docs[2] = "<html><body><boom>x</boom></body></html>"
    got = classify_documents(_Fussy(model), docs, batch_pages=4)
    assert got[2] == (None, None, "ValueError: cannot parse this page")
    for i in (0, 1, 3, 4):
        assert got[i][0] == chromesift.extract(docs[i], model=model) and got[i][2] is None
    assert classify_documents(model, [float("nan"), b"<p>bytes</p>", 7], max_bytes=5) == [
        (None, None, "no document (null)"),
        (None, None, "page is 12 bytes, over the 5-byte budget"),
        (None, None, "document must be a string or binary, not int"),
    ]


def test_an_untrusted_bundle_is_refused_on_the_driver_and_pinned_when_trusted(spark, model, tmp_path, monkeypatch):
    import copy

    from chromesift.models import UntrustedBundleError, read_metadata, save_bundle
    from chromesift.runtime.spark import extract_dataframe

    monkeypatch.setenv("CHROMESIFT_TRUST_STORE", str(tmp_path / "store.txt"))
    pipeline = copy.deepcopy(model.pipeline)
    pipeline.verbose = True  # same predictions, other bytes
    stranger = save_bundle(pipeline, tmp_path / "stranger", {"threshold": model.threshold}, trust=False)
    digest = read_metadata(stranger)["sha256"]
    page = "<html><body><nav>Home | About</nav><p>" + "A sentence of the article. " * 6 + "</p></body></html>"
    df = spark.createDataFrame(pd.DataFrame({"html": [page]}))
    with pytest.raises(UntrustedBundleError, match=digest):
        extract_dataframe(df, model_path=stranger)
    with pytest.raises(UntrustedBundleError, match="not the 0000 you trusted"):
        extract_dataframe(df, model_path=stranger, trusted="0000")
    row = extract_dataframe(df, model_path=stranger, trusted=digest).first()
    assert row["error"] is None and row["main_text"] == chromesift.extract(page, model=model)


def test_extract_dataframe_checks_its_arguments(spark, tmp_path):
    from chromesift.errors import BundleError
    from chromesift.runtime.spark import extract_dataframe

    df = spark.createDataFrame(pd.DataFrame({"id": ["a"], "page": ["<p>x</p>"], "error": [None]}))
    with pytest.raises(ValueError, match="no column 'html' among id, page, error"):
        extract_dataframe(df)
    with pytest.raises(ValueError, match="already has column"):
        extract_dataframe(df, "page")
    with pytest.raises(ValueError, match="format must be"):
        extract_dataframe(df.drop("error"), "page", format="pdf")
    with pytest.raises(BundleError, match="not found"):
        extract_dataframe(df.drop("error"), "page", tmp_path / "no-bundle")
    extract_dataframe(df.drop("error"), "page", DEFAULT_BUNDLE)
    extract_dataframe(df.drop("error"), "page", DEFAULT_BUNDLE)  # the same folder again: fine
    namesake = shutil.copytree(DEFAULT_BUNDLE, tmp_path / DEFAULT_BUNDLE.name)
    with pytest.raises(ValueError, match=f"another folder named '{DEFAULT_BUNDLE.name}'"):
        extract_dataframe(df.drop("error"), "page", namesake)


# --- the command -------------------------------------------------------------------------------


def _warc_record(rtype: str, uri: str, payload: bytes, content_type: str) -> bytes:
    header = "\r\n".join([
        "WARC/1.0", f"WARC-Type: {rtype}", f"WARC-Record-ID: <urn:uuid:{uuid.uuid4()}>",
        "WARC-Date: 2025-01-01T00:00:00Z", f"WARC-Target-URI: {uri}",
        f"Content-Type: {content_type}", f"Content-Length: {len(payload)}", "", "",
    ])
    return gzip.compress(header.encode("ascii") + payload + b"\r\n\r\n")


def _http(body: bytes, content_type: str) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


def _write_warc(path: Path, pages: list[tuple[str, str]]) -> Path:
    """Corpus pages as responses (with and without an HTTP charset), plus records to skip."""
    http = "application/http; msgtype=response"
    records = [_warc_record("warcinfo", "", b"software: test\r\n", "application/warc-fields")]
    for i, (pid, html) in enumerate(pages):
        ctype = "text/html; charset=utf-8" if i % 2 else "text/html"  # no charset: bytes path
        records.append(_warc_record("response", f"http://site.example/{pid}", _http(html.encode(), ctype), http))
    records.append(_warc_record("response", "http://site.example/a.png", _http(b"\x89PNG", "image/png"), http))
    path.write_bytes(b"".join(records))
    return path


def _cli(argv: list[str]) -> int:
    import argparse

    from chromesift.cli import spark as spark_cli

    parser = argparse.ArgumentParser()
    spark_cli.register(parser.add_subparsers(dest="command"))
    return spark_cli.run(parser.parse_args(["spark-extract", *argv]))


def test_cli_warc_equals_the_batch_cli(spark, pages, tmp_path):
    warc = _write_warc(tmp_path / "crawl.warc.gz", pages[:6])
    out = tmp_path / "out.parquet"
    assert _cli(["--input", str(warc), "--output", str(out), "--model", str(DEFAULT_BUNDLE)]) == 0
    got = pd.read_parquet(out)
    assert sorted(got.columns) == ["error", "id", "main_text", "paragraphs", "url"]
    assert len(got) == 6 and got["error"].isna().all()

    summary = batch.run_batch(batch.BatchConfig(input=warc, output=tmp_path / "batch.jsonl",
                                                model=DEFAULT_BUNDLE, progress=False))
    assert summary.done == 6
    want = {r["id"]: r for r in map(json.loads, (tmp_path / "batch.jsonl").read_text().splitlines())}
    for row in got.itertuples():
        assert row.main_text == want[row.id]["text"]
        assert [dict(p) for p in row.paragraphs] == want[row.id]["paragraphs"]
        assert row.url == want[row.id]["url"]


def test_cli_parquet_and_its_errors(spark, model, pages, tmp_path):
    src = tmp_path / "pages.parquet"
    pd.DataFrame([{"id": pid, "html": h} for pid, h in pages[:8]] + [{"id": "empty", "html": None}]).to_parquet(src)
    out = tmp_path / "out.parquet"
    assert _cli(["--input", str(src), "--output", str(out), "--keep-html"]) == 1  # one page failed
    got = pd.read_parquet(out).set_index("id")
    assert got.loc["empty", "error"] == "no document (null)"
    for pid, html in pages[:8]:
        assert got.loc[pid, "main_text"] == chromesift.extract(html, model=model)
        assert got.loc[pid, "html"] == html

    with pytest.raises(UserError, match="exists; give --overwrite"):
        _cli(["--input", str(src), "--output", str(out)])
    assert _cli(["--input", str(src), "--output", str(out), "--overwrite"]) == 1
    assert "html" not in pd.read_parquet(out).columns
    with pytest.raises(UserError, match="no page column 'body'"):
        _cli(["--input", str(src), "--output", str(tmp_path / "o2"), "--html-column", "body"])
    with pytest.raises(UserError, match="cannot tell the input kind"):
        _cli(["--input", str(tmp_path / "pages.csv"), "--output", str(tmp_path / "o3")])
    with pytest.raises(UserError, match="different kinds"):
        _cli(["--input", str(src), str(tmp_path / "x.warc.gz"), "--output", str(tmp_path / "o4")])
    with pytest.raises(UserError, match="not a chromesift bundle"):
        _cli(["--input", str(src), "--output", str(tmp_path / "o5"), "--model", str(tmp_path)])


@pytest.fixture(scope="module")
def forum_pages(shared_data, model) -> list[tuple[str, str]]:
    """Two wcxb forum or listing pages that ``scope="all"`` reads differently from the default."""
    found = []
    pages = iter_pages(dataset_path(shared_data, "wcxb"), None)
    for page in (p for p in pages if (p.meta or {}).get("page_type") in ("forum", "listing")):
        if model.extract(page.html, scope="all") != model.extract(page.html):
            found.append((page.id, page.html))
            if len(found) == 2:
                return found
    pytest.fail("scope='all' reads fewer than two forum or listing pages of wcxb differently")


def test_scope_all_on_spark_equals_the_library_call(spark, model, forum_pages, tmp_path):
    from chromesift.runtime.spark import extract_dataframe

    df = spark.createDataFrame(pd.DataFrame({"id": [i for i, _ in forum_pages], "html": [h for _, h in forum_pages]}))
    got = extract_dataframe(df, scope="all").toPandas().set_index("id")
    src = tmp_path / "forum.parquet"
    pd.DataFrame({"id": [i for i, _ in forum_pages], "html": [h for _, h in forum_pages]}).to_parquet(src)
    out = tmp_path / "forum-out.parquet"
    assert _cli(["--input", str(src), "--output", str(out), "--scope", "all"]) == 0
    from_cli = pd.read_parquet(out).set_index("id")
    for pid, html in forum_pages:
        assert got.loc[pid, "main_text"] == chromesift.extract(html, scope="all", model=model)
        assert got.loc[pid, "main_text"] != chromesift.extract(html, model=model)
        assert from_cli.loc[pid, "main_text"] == got.loc[pid, "main_text"]


def test_a_scope_the_model_cannot_read_with_is_refused_on_the_driver(spark, plain_bundle, tmp_path):
    from chromesift.runtime.spark import extract_dataframe

    df = spark.createDataFrame(pd.DataFrame({"id": ["a"], "html": ["<p>x</p>"]}))
    with pytest.raises(ValueError, match="scope must be one of auto, article, all, not 'page'"):
        extract_dataframe(df, scope="page")
    with pytest.raises(ValueError, match="needs a model trained with label conventions"):
        extract_dataframe(df, model_path=plain_bundle, scope="all")
    extract_dataframe(df, model_path=plain_bundle, scope="article")  # no model needed to say yes
    src = tmp_path / "one.parquet"
    pd.DataFrame({"id": ["a"], "html": ["<p>x</p>"]}).to_parquet(src)
    with pytest.raises(UserError, match="needs a model trained with label conventions"):
        _cli(["--input", str(src), "--output", str(tmp_path / "o"), "--model", str(plain_bundle), "--scope", "all"])
    assert not (tmp_path / "o").exists()  # refused before anything was written
