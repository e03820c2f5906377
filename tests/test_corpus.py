"""Corpus readers: JSONL in three compressions, errors that name file and line."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
from pathlib import Path

import pytest

from chromesift.data import corpus
from chromesift.data.corpus import CorpusError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

RECORDS = [
    {"id": "t/1", "dataset": "t", "url": "https://www.example.org/a", "lang": "en",
     "html": "<p>one</p>", "text": "one"},
    {"id": "t/2", "dataset": "t", "url": None, "lang": "de", "html": "<p>zwei</p>",
     "text": None, "with": ["zwei"], "without": ["menu"], "meta": {"split": "test"}},
]


def write(path: Path, lines: list[str]) -> Path:
    data = "".join(line + "\n" for line in lines)
    if path.suffix == ".xz":
        with lzma.open(path, "wt", encoding="utf-8") as f:
            f.write(data)
    elif path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz", "c.jsonl.xz"])
def test_read_jsonl_in_every_compression(tmp_path, name):
    path = write(tmp_path / name, [json.dumps(r) for r in RECORDS])
    got = list(corpus.read_jsonl(path))
    assert got == [(1, RECORDS[0]), (2, RECORDS[1])]


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path):
    path = write(tmp_path / "c.jsonl", ["", json.dumps(RECORDS[0]), "   ", json.dumps(RECORDS[1])])
    assert [n for n, _ in corpus.read_jsonl(path)] == [2, 4]


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.xz"])
def test_broken_line_names_file_and_line(tmp_path, name):
    path = write(tmp_path / name, [json.dumps(RECORDS[0]), '{"id": "t/2", "html": ', json.dumps(RECORDS[1])])
    reader = corpus.read_jsonl(path)
    assert next(reader) == (1, RECORDS[0])
    with pytest.raises(CorpusError, match=rf"{name}:2: not valid JSON"):
        next(reader)


def test_a_line_that_is_not_an_object_is_an_error(tmp_path):
    path = write(tmp_path / "c.jsonl", ['["a", "list"]'])
    with pytest.raises(CorpusError, match=r"c\.jsonl:1: expected a JSON object"):
        list(corpus.read_jsonl(path))


def test_missing_file_is_a_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        list(corpus.read_jsonl(tmp_path / "absent.jsonl.xz"))


def test_truncated_xz_is_a_corpus_error(tmp_path):
    path = write(tmp_path / "c.jsonl.xz", [json.dumps(r) for r in RECORDS * 50])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorpusError, match=r"c\.jsonl\.xz: cannot read"):
        list(corpus.read_jsonl(path))


def test_not_gzip_at_all_is_a_corpus_error(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(b"this was never gzip")
    with pytest.raises(CorpusError, match="cannot read"):
        list(corpus.read_jsonl(path))


def test_invalid_utf8_is_a_corpus_error(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": "x", "html": "\xff"}\n')
    with pytest.raises(CorpusError, match="cannot read"):
        list(corpus.read_jsonl(path))


def test_iter_pages_builds_pages(tmp_path):
    path = write(tmp_path / "t.jsonl.xz", [json.dumps(r) for r in RECORDS])
    pages = list(corpus.iter_pages(path))
    assert [p.id for p in pages] == ["t/1", "t/2"]
    assert pages[0].site == "example.org"  # www. dropped
    assert pages[1].site == "t/2"  # no URL: the id is the group
    assert pages[1].with_ == ("zwei",) and pages[1].without == ("menu",)
    assert pages[1].meta == {"split": "test"}
    assert [p.id for p in corpus.iter_pages(path, limit=1)] == ["t/1"]


def test_iter_pages_requires_id_and_html(tmp_path):
    path = write(tmp_path / "t.jsonl", [json.dumps(RECORDS[0]), json.dumps({"id": "x", "html": None})])
    with pytest.raises(CorpusError, match=r"t\.jsonl:2: record needs 'id' and 'html'"):
        list(corpus.iter_pages(path))


@pytest.mark.parametrize("meta, site", [
    ({"domain": "www.Example.gr"}, "example.gr"),  # daniel-waddle: no URL, a domain
    ({"publisher": "WAZ.de"}, "waz.de"),
    ({"site": "apnews.com", "publisher": "AP"}, "apnews.com"),
    ({"domain": "  "}, "t/3"),  # a blank domain names no site
])
def test_a_page_without_url_is_grouped_by_the_site_its_meta_names(tmp_path, meta, site):
    rec = {"id": "t/3", "url": None, "html": "<p>x</p>", "meta": meta}
    path = write(tmp_path / "t.jsonl", [json.dumps(rec)])
    assert next(corpus.iter_pages(path)).site == site


def test_the_url_host_wins_over_meta_and_a_malformed_url_falls_back(tmp_path):
    recs = [{"id": "a", "url": "https://news.example.com/x", "html": "", "meta": {"domain": "other.org"}},
            {"id": "b", "url": "http://[broken/x", "html": "", "meta": {"domain": "other.org"}}]
    path = write(tmp_path / "t.jsonl", [json.dumps(r) for r in recs])
    assert [p.site for p in corpus.iter_pages(path)] == ["news.example.com", "other.org"]


@pytest.mark.parametrize("field, value, message", [
    ("with", "a string", r"t\.jsonl:1: 'with' must be a list of strings or null, not str"),
    ("without", ["ok", 3], r"t\.jsonl:1: 'without' must be a list of strings$"),
    ("text", ["a", "b"], r"t\.jsonl:1: 'text' must be a string or null, not list"),
    ("meta", "x", r"t\.jsonl:1: 'meta' must be an object or null, not str"),
    ("url", 5, r"t\.jsonl:1: 'url' must be a string or null, not int"),
])
def test_fields_of_the_wrong_type_are_refused_with_file_and_line(tmp_path, field, value, message):
    """A snippet string must not become one snippet per character (every paragraph content)."""
    rec = {"id": "t/1", "html": "<p>a menu</p>", field: value}
    path = write(tmp_path / "t.jsonl", [json.dumps(rec)])
    with pytest.raises(CorpusError, match=message):
        list(corpus.iter_pages(path))


def test_verify_checks_sha256_against_the_manifest(tmp_path):
    good = write(tmp_path / "good.jsonl.xz", [json.dumps(RECORDS[0])])
    bad = write(tmp_path / "bad.jsonl.xz", [json.dumps(RECORDS[1])])
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    manifest = [
        {"name": "good", "file": good.name, "sha256": digest},
        {"name": "bad", "file": bad.name, "sha256": "0" * 64},
        {"name": "gone", "file": "gone.jsonl.xz", "sha256": "0" * 64},
    ]
    (tmp_path / "MANIFEST.json").write_text(json.dumps(manifest))
    assert corpus.verify(tmp_path, ["good"]) == {"good": digest}
    with pytest.raises(CorpusError) as info:
        corpus.verify(tmp_path)
    message = str(info.value)
    assert "bad: sha256" in message and "gone: file gone.jsonl.xz missing" in message
    assert "good" not in message.replace("good.jsonl", "")
    with pytest.raises(CorpusError, match="nope: not in MANIFEST.json"):
        corpus.verify(tmp_path, ["nope"])


def test_missing_or_broken_manifest(tmp_path):
    with pytest.raises(CorpusError, match="no MANIFEST.json"):
        corpus.load_manifest(tmp_path)
    (tmp_path / "MANIFEST.json").write_text("{not json")
    with pytest.raises(CorpusError, match="MANIFEST.json: not valid JSON"):
        corpus.load_manifest(tmp_path)


@pytest.mark.parametrize("manifest, message", [
    ({"name": "x"}, "expected a JSON list of datasets, found dict"),
    ([{"name": "x", "sha256": "0" * 64}], "entry 0 needs the string field.s. file"),
    ([{"name": "x", "file": "x.jsonl.xz"}], "entry 0 needs the string field.s. sha256"),
    (["x"], "entry 0 needs the string field.s. name, file, sha256"),
])
def test_a_malformed_manifest_is_one_clear_error(tmp_path, manifest, message):
    (tmp_path / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(CorpusError, match=message):
        corpus.dataset_names(tmp_path)


def test_a_deeply_nested_manifest_is_a_corpus_error_not_a_recursion_error(tmp_path):
    (tmp_path / "MANIFEST.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CorpusError, match="not valid JSON"):
        corpus.load_manifest(tmp_path)


def test_data_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(corpus.ENV_VAR, str(tmp_path))
    assert corpus.default_data_dir() == tmp_path


@pytest.mark.skipif(not (SHARED / "MANIFEST.json").is_file(), reason="shared corpora absent")
def test_shared_corpus_smallest_file_verifies_and_reads():
    manifest = corpus.load_manifest(SHARED)
    smallest = min(manifest, key=lambda e: e["bytes"])
    assert corpus.verify(SHARED, [smallest["name"]])
    pages = list(corpus.iter_pages(SHARED / smallest["file"], limit=5))
    assert len(pages) == 5
    assert all(p.id.startswith(smallest["name"] + "/") and p.html for p in pages)


def test_building_an_empty_dataset_is_one_clear_error(tmp_path):
    from chromesift.data.build import BuildConfig, build

    write(tmp_path / "e.jsonl.xz", [])
    digest = hashlib.sha256((tmp_path / "e.jsonl.xz").read_bytes()).hexdigest()
    (tmp_path / "MANIFEST.json").write_text(json.dumps([{"name": "e", "file": "e.jsonl.xz", "sha256": digest}]))
    with pytest.raises(CorpusError, match="dataset 'e': .*holds no pages"):
        build(BuildConfig(data_dir=tmp_path, out_dir=tmp_path / "out", progress=False))


def test_a_corrupt_paragraph_table_is_one_clear_error(tmp_path):
    from chromesift.data.build import load_tables

    (tmp_path / "x.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(CorpusError, match=r"x\.parquet: not a readable paragraph table .*data build"):
        load_tables(tmp_path)
