"""``chromesift extract --output-format``, the knob of precision and recall, and the formats' writers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

import chromesift
from chromesift.cli import main
from chromesift.models.rules import FAVOR_RANGE, FAVOR_STEP, pick_threshold
from chromesift.runtime import formats

FIXTURES = Path(__file__).parent / "fixtures"
STRUCTURE = FIXTURES / "outputs" / "structure.html"
PAGES = [STRUCTURE, FIXTURES / "seed_article.html", FIXTURES / "segmentation.html"]


def run(argv, capsys):
    code = main(["extract", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_markdown_keeps_headings_lists_quotes_and_tables(capsys):
    out = run([str(STRUCTURE), "--output-format", "markdown"], capsys)
    lines = out.splitlines()
    assert lines[0] == "# A headline long enough to count"
    assert "## A section heading inside the article" in lines
    assert "> A quoted paragraph that is long enough to be content, with many words and a clear voice." in lines
    items = [i for i, line in enumerate(lines) if line.startswith("- ")]
    assert len(items) == 2 and items[1] == items[0] + 1  # one list, no blank line inside
    at = lines.index("| Name of the thing measured | Value measured on the day |")
    assert lines[at + 1] == "| --- | --- |"
    assert lines[at + 2] == "| Temperature of the water in the bay | Seventeen degrees at noon on the day |"


def test_markdown_writer_rules():
    par = {"is_content": True, "role": "body", "probability": 1.0}
    record = {"title": "", "text": "", "paragraphs": [
        {**par, "text": "a|b", "tag": "td", "path": "html/body/table/tr/td", "row": 3},
        {**par, "text": "c", "tag": "td", "path": "html/body/table/tr/td", "row": 3},
        {**par, "text": "d", "tag": "td", "path": "html/body/table/tr/td", "row": 5},
        {**par, "text": "quoted item", "tag": "li", "path": "html/body/blockquote/ul/li", "row": None},
        {**par, "text": "chrome", "is_content": False, "role": "chrome", "tag": "p", "path": "", "row": None},
        {**par, "text": "deep", "tag": "h4", "path": "html/body/h4", "row": None},
    ]}
    assert formats.to_markdown(record) == "| a\\|b | c |\n| d |\n\n> - quoted item\n\n#### deep"


def test_json_document_has_title_language_roles(capsys):
    doc = json.loads(run([str(STRUCTURE), "--output-format", "json"], capsys))
    assert doc["title"] == "A headline long enough to count"
    assert doc["language"] == "en"
    assert doc["id"] == str(STRUCTURE)
    roles = [p["role"] for p in doc["paragraphs"]]
    assert roles[0] == "title" and set(roles) <= {"title", "body", "chrome"}
    assert set(doc["paragraphs"][0]) == {"text", "is_content", "probability", "role"}
    body = [p["text"] for p in doc["paragraphs"] if p["role"] == "body"]
    assert doc["text"] == "\n".join(body)


def test_json_document_of_text_has_no_language(capsys, tmp_path):
    page = tmp_path / "page.txt"
    page.write_text("A line of plain text that is long enough to be content for the model.\nmenu")
    doc = json.loads(run([str(page), "--output-format", "json"], capsys))
    assert doc["language"] is None and doc["title"] == ""


def test_csv_has_a_row_per_paragraph(capsys):
    out = run([str(STRUCTURE), "--output-format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["position", "text", "is_content", "probability", "role"]
    assert len(rows) == len(chromesift.classify(STRUCTURE.read_text()))
    assert rows[0]["role"] == "title"


def test_txt_is_the_default(capsys):
    assert run([str(STRUCTURE), "--output-format", "txt"], capsys) == run([str(STRUCTURE)], capsys)


def test_paragraph_table_shows_each_role(capsys):
    lines = run([str(STRUCTURE), "--paragraphs"], capsys).splitlines()
    assert lines[0].split()[3] == "role"
    assert lines[1].split()[2:4] == ["-", "title"]  # the headline: its role, never main text
    roles = {line.split()[3] for line in lines[1:]}
    assert roles <= {"title", "body", "chrome"} and "body" in roles


def test_old_json_record_is_unchanged_but_for_the_title(capsys):
    record = json.loads(run([str(STRUCTURE), "--json"], capsys))
    assert set(record) == {"id", "title", "text", "paragraphs"}
    assert set(record["paragraphs"][0]) == {"text", "is_content", "probability"}
    assert record["title"] == "A headline long enough to count"


def test_batch_records_carry_the_title(capsys, tmp_path):
    inp = tmp_path / "pages.jsonl"
    inp.write_text(json.dumps({"id": "a", "html": STRUCTURE.read_text()}) + "\n"
                   + json.dumps({"id": "b", "text": "just a line"}) + "\n")
    assert main(["extract", "--input", str(inp), "--no-progress", "--timeout", "0"]) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["title"] for r in records] == ["A headline long enough to count", ""]


@pytest.mark.parametrize("argv", [["--input", "x.jsonl", "--output-format", "markdown"],
                                  [str(STRUCTURE), "--json", "--output-format", "csv"]])
def test_output_format_mistakes(argv, capsys):
    assert main(["extract", *argv]) == 2
    assert "error:" in capsys.readouterr().err


# --- precision and recall ----------------------------------------------------------------


def test_pick_threshold():
    assert pick_threshold(0.4) == 0.4
    assert pick_threshold(0.4, 0.7) == 0.7
    assert pick_threshold(0.4, favor="precision") == pytest.approx(0.4 + FAVOR_STEP)
    assert pick_threshold(0.4, favor="recall") == pytest.approx(0.4 - FAVOR_STEP)
    assert pick_threshold(0.9, favor="precision") == FAVOR_RANGE[1]
    assert pick_threshold(0.1, favor="recall") == FAVOR_RANGE[0]
    for bad in ({"threshold": 1.5}, {"threshold": float("nan")}, {"favor": "speed"},
                {"threshold": 0.5, "favor": "recall"}):
        with pytest.raises(ValueError):
            pick_threshold(0.4, **bad)


def _kept(doc, **kw):
    return int(chromesift.classify(doc, **kw)["is_content"].sum())


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_higher_threshold_never_keeps_more(page):
    doc = page.read_text(encoding="utf-8")
    # (from 0.01 to 0.99: the model can be sure enough of a clean page that 0.05 to 0.95 all agree)
    kept = [_kept(doc, threshold=t) for t in [0.01, *np.linspace(0.05, 0.95, 7), 0.99]]
    assert kept == sorted(kept, reverse=True)
    assert kept[0] > kept[-1]  # the knob does something on the page
    base = _kept(doc)
    assert _kept(doc, favor="recall") >= base >= _kept(doc, favor="precision")
    for fmt in ("html", "text"):
        text = doc if fmt == "html" else chromesift.extract(doc, threshold=0.01, title=True)
        lo = chromesift.extract(text, format=fmt, favor="recall").split("\n")
        hi = chromesift.extract(text, format=fmt, favor="precision").split("\n")
        assert set(hi) - {""} <= set(lo)


def test_the_knob_on_every_library_call(seed_html):
    model = chromesift.load_model()
    strict, loose = {"threshold": 0.95}, {"threshold": 0.05}
    assert model.extract(seed_html, **strict) == next(model.extract_many([seed_html], **strict))
    many = next(model.classify_many([seed_html], **loose))
    assert many["is_content"].tolist() == model.classify(seed_html, **loose)["is_content"].tolist()
    assert many["is_content"].sum() >= model.classify(seed_html)["is_content"].sum()
    assert chromesift.extract(seed_html, **strict) == model.extract(seed_html, **strict)


def test_cli_threshold_and_favor(capsys):
    lines = {}
    for argv in ([], ["--favor", "recall"], ["--favor", "precision"], ["--threshold", "0.99"]):
        lines[tuple(argv)] = len(run([str(STRUCTURE), *argv], capsys).splitlines())
    assert lines[("--favor", "recall")] >= lines[()] >= lines[("--favor", "precision")]
    assert lines[("--threshold", "0.99")] <= lines[("--favor", "precision")]
    with pytest.raises(SystemExit):
        main(["extract", str(STRUCTURE), "--threshold", "2"])
    assert "not a threshold from 0 to 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["extract", str(STRUCTURE), "--threshold", "0.5", "--favor", "recall"])


# --- inputs: a folder of pages, JSONL on standard input -----------------------------------


def test_input_dir_writes_a_file_per_page_and_resumes(tmp_path, capsys):
    src, out = tmp_path / "pages", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    (src / "a.html").write_bytes(STRUCTURE.read_bytes())
    (src / "sub" / "b.htm").write_bytes((FIXTURES / "seed_article.html").read_bytes())
    (src / "notes.txt").write_text("not a page file")
    argv = ["extract", "--input-dir", str(src), "--output", str(out), "--output-format", "markdown",
            "--no-progress"]
    assert main(argv) == 0
    assert "2 done" in capsys.readouterr().err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["a.md", "sub", "sub/b.md"]
    assert (out / "a.md").read_text().startswith("# A headline long enough to count\n")
    (out / "a.md").write_text("kept")
    assert main(argv) == 0
    assert "0 done, 2 skipped (already in output 2)" in capsys.readouterr().err
    assert (out / "a.md").read_text() == "kept"  # resumed: not redone
    assert main([*argv[:-3], "--output-format", "json", "--no-progress"]) == 0
    doc = json.loads((out / "sub" / "b.json").read_text())
    assert doc["language"] == "de" and doc["id"] == str(Path("sub") / "b.htm")
    assert main([*argv[:-3], "--no-progress"]) == 0
    assert (out / "a.txt").read_text() == chromesift.extract(STRUCTURE.read_text()) + "\n"


@pytest.mark.parametrize(("argv", "message"), [
    (["--input-dir", "pages"], "needs --output DIR"),
    (["--input-dir", "pages", "--output", "o", "x.html"], "alone"),
    (["--input-dir", "missing", "--output", "o"], "missing: no such folder"),
])
def test_input_dir_mistakes(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pages").mkdir()
    assert main(["extract", *argv]) == 2
    assert message in capsys.readouterr().err


def test_jsonl_on_standard_input(monkeypatch, capsys):
    lines = (json.dumps({"id": "p", "html": STRUCTURE.read_text()}) + "\nnot json\n").encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines)))
    assert main(["extract", "--input", "-", "--no-progress", "--timeout", "0"]) == 1
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == ["p", "stdin:2"]
    assert records[0]["text"] == chromesift.extract(STRUCTURE.read_text())
    assert "not valid JSON" in records[1]["error"]


# --- the library: uniform columns, page keys, explanations --------------------------------


def test_uniform_columns_for_text_and_html():
    html = chromesift.classify(STRUCTURE.read_text(), uniform=True)
    text = chromesift.classify("one line of text\ntwo lines of text here", uniform=True)
    empty = chromesift.classify("", uniform=True)
    assert list(html.columns) == list(text.columns) == list(empty.columns)
    assert (html.dtypes == text.dtypes).all() and (html.dtypes == empty.dtypes).all()
    assert text["tag"].isna().all() and text["depth"].isna().all() and (text["source"] == "text").all()
    assert html["tag"].notna().all() and str(html["depth"].dtype) == "Int64"
    plain = chromesift.classify(STRUCTURE.read_text())
    assert html["tag"].tolist() == plain["tag"].tolist()
    assert html["depth"].tolist() == plain["depth"].tolist()
    import pandas as pd

    both = pd.concat([html, text])
    assert (both.dtypes == html.dtypes).all()


def test_classify_many_page_key():
    model = chromesift.load_model()
    docs = [STRUCTURE.read_text(), "", "just a line of text"]
    frames = list(model.classify_many(docs, page=True, batch_size=2))
    assert [f["page"].unique().tolist() for f in frames] == [[0], [], [2]]
    assert all(str(f["page"].dtype) == "int64" for f in frames)
    assert frames[0].drop(columns="page").equals(model.classify(docs[0]))


def test_explain_lists_no_zero_contribution(seed_html):
    table = chromesift.explain(seed_html, top=5)
    reasons = [r for rs in table["reasons"] for r in rs]
    assert reasons and not [r for r in reasons if r.endswith(("+0.00", "-0.00"))]


def test_feature_doc_lists_exactly_the_current_features():
    from chromesift.features import docs

    doc = (Path(__file__).resolve().parents[1] / "docs" / "features.md").read_text(encoding="utf-8")
    assert docs.documented_names(doc) == docs.feature_names()
    assert doc == docs.render()  # regenerate: python -m chromesift.features.docs
    assert docs.MISSING not in doc
    model = chromesift.load_model()
    assert [str(c) for c in model._stages()[1].feature_names_in_] == docs.feature_names()
