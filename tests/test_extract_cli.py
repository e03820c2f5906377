"""``chromesift extract``: single page, batch mode, and messages a user can act on."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import chromesift
from chromesift.cli import main
from chromesift.cli.extract import format_table, parse_size
from chromesift.errors import BundleError
from chromesift.runtime import core

FIXTURES = Path(__file__).parent / "fixtures"
SEGMENTATION = FIXTURES / "segmentation.html"
ARTICLE = (
    "Before the first ferry leaves, the rock shelf below the lighthouse turns into a "
    "small city of anemones, crabs and stranded sea stars."
)


class FakeModel:
    """Content = longer than 40 characters."""

    def classify(self, document, *, format=None):
        from chromesift.data.html import parse_html
        from chromesift.data.text import parse_text

        frame = parse_text(document) if format == "text" else parse_html(document)
        frame["is_content"] = frame["text"].str.len() > 40
        frame["probability"] = (frame["text"].str.len() / 80).clip(upper=1.0)
        return frame


@pytest.fixture
def fake(monkeypatch):
    """The default loader returns the stand-in model (in this process: --jobs 1)."""
    calls = []

    def loader(path):
        calls.append(path)
        return FakeModel()

    monkeypatch.setattr(core, "open_model", loader)
    return calls


def run(argv, capsys):
    code = main(["extract", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- single page -----------------------------------------------------------------------


def test_prints_the_main_text(fake, capsys):
    code, out, err = run([str(SEGMENTATION)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert ARTICLE in lines
    assert "Local" not in lines and "Accept" not in lines
    assert fake == [None]  # the shipped model, loaded once


def test_paragraph_table(fake, capsys):
    code, out, _ = run([str(SEGMENTATION), "--paragraphs"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["pos", "prob", "main", "role", "text"]
    assert len(lines) == 1 + 15
    local = next(line for line in lines if line.endswith("  Local Weather Letters"))  # the menu: one row
    assert local.split()[:3] == ["1", f"{21 / 80:.3f}", "-"]
    article = next(line for line in lines if "ferry" in line)
    assert article.split()[1:3] == ["1.000", "+"]


def test_format_table_cuts_long_text_to_the_width():
    table = format_table([{"text": "x" * 500, "is_content": True, "probability": 0.5}], width=80)
    assert max(map(len, table.splitlines())) <= 80
    assert table.splitlines()[1].endswith("...")


def test_json_output(fake, capsys):
    code, out, _ = run([str(SEGMENTATION), "--json"], capsys)
    assert code == 0
    record = json.loads(out)
    assert record["id"] == str(SEGMENTATION)
    assert ARTICLE in record["text"].split("\n")
    assert len(record["paragraphs"]) == 15
    assert {"text", "is_content", "probability"} == set(record["paragraphs"][0])


def test_standard_input(fake, capsys, monkeypatch):
    page = "<p>From standard input, long enough to be the main content.</p><p>menu</p>"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(page.encode())))
    code, out, _ = run(["-"], capsys)
    assert code == 0
    assert out == "From standard input, long enough to be the main content.\n"


def test_format_is_detected_and_can_be_forced(fake, capsys, tmp_path):
    page = tmp_path / "page.dat"
    page.write_text("<div>tags make this html, and this sentence is long enough</div>\nshort")
    _, detected, _ = run([str(page)], capsys)
    assert detected == "tags make this html, and this sentence is long enough\n"
    _, forced, _ = run([str(page), "--format", "text"], capsys)
    assert forced == "<div>tags make this html, and this sentence is long enough</div>\n"


def test_empty_page_prints_nothing(fake, capsys, tmp_path):
    page = tmp_path / "empty.html"
    page.write_bytes(b"")
    assert run([str(page)], capsys)[:2] == (0, "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope.html"], "nope.html: no such file"),
        ([], "give a PAGE"),
        (["a.html", "--input", "b.jsonl"], "not both"),
        (["a.html", "--output", "o.jsonl"], "--output is for batch mode"),
        (["--input", "b.jsonl", "--json"], "are for a single page"),
        (["--input", "b.jsonl", "--jobs", "0"], "--jobs must be at least 1"),
        (["--input", "b.jsonl", "--output", "o.jsonl"], "b.jsonl: no such file"),
    ],
)
def test_user_mistakes_exit_2_with_a_message(fake, capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert message in err and err.startswith("chromesift extract: error:")


def test_a_folder_given_as_page(fake, capsys, tmp_path):
    code, _, err = run([str(tmp_path)], capsys)
    assert code == 2 and "is a folder" in err


def test_unreadable_bundle_exit_2(capsys, tmp_path, monkeypatch):
    def broken(path=None):
        raise BundleError("sha256 of model.joblib does not match metadata.json")

    monkeypatch.setattr(chromesift, "load_model", broken, raising=False)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    code, _, err = run([str(SEGMENTATION), "--model", str(bundle)], capsys)
    assert code == 2
    assert f"cannot load model bundle {bundle}: sha256 of model.joblib" in err


def test_missing_bundle_exit_2(fake, capsys, tmp_path):
    code, _, err = run([str(SEGMENTATION), "--model", str(tmp_path / "gone")], capsys)
    assert code == 2 and "gone: no such folder" in err


@pytest.mark.parametrize(("text", "value"), [("20MB", 20_000_000), ("500k", 500_000), ("1.5G", 1_500_000_000),
                                             ("1234", 1234), ("2 mb", 2_000_000)])
def test_parse_size(text, value):
    assert parse_size(text) == value


def test_bad_size_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["extract", "--input", "x.jsonl", "--max-bytes", "lots"])
    assert info.value.code == 2
    assert "not a size: 'lots'" in capsys.readouterr().err


# --- batch -----------------------------------------------------------------------------


def write_pages(path: Path, n: int, broken_at: int | None = None) -> Path:
    lines = [
        json.dumps({"id": f"p{i}", "html": f"<p>Page {i} has a paragraph long enough to be content.</p><p>nav</p>"})
        for i in range(n)
    ]
    if broken_at is not None:
        lines.insert(broken_at, "{not json")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_batch_run_summary_and_resume(fake, capsys, tmp_path):
    inp, out = write_pages(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    code, stdout, err = run(["--input", str(inp), "--output", str(out), "--no-progress"], capsys)
    assert code == 0 and stdout == ""
    assert "chromesift extract: 5 done, 0 skipped, 0 failed," in err and "pages/s" in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [f"p{i}" for i in range(5)]
    assert records[0]["text"] == "Page 0 has a paragraph long enough to be content."
    code, _, err = run(["--input", str(inp), "--output", str(out), "--no-progress"], capsys)
    assert code == 0 and "0 done, 5 skipped (already in output 5), 0 failed" in err


def test_batch_with_failed_pages_exits_1(fake, capsys, tmp_path):
    inp, out = write_pages(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
    code, _, err = run(["--input", str(inp), "--output", str(out), "--max-bytes", "50", "--no-progress"], capsys)
    assert code == 1
    assert "0 done, 0 skipped, 3 failed" in err and "'error' field" in err
    assert all("over the 50-byte budget" in json.loads(x)["error"] for x in out.read_text().splitlines())


def test_batch_bad_line_is_an_error_record_exit_1(fake, capsys, tmp_path):
    inp, out = write_pages(tmp_path / "in.jsonl", 4, broken_at=2), tmp_path / "out.jsonl"
    code, _, err = run(["--input", str(inp), "--output", str(out), "--no-progress"], capsys)
    assert code == 1
    assert "4 done, 0 skipped, 1 failed" in err and "'error' field" in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["p0", "p1", "in.jsonl:3", "p2", "p3"]
    assert records[2]["error"].startswith("not valid JSON (")
    code, _, err = run(["--input", str(inp), "--output", str(out), "--no-progress"], capsys)
    assert code == 0 and "0 done, 5 skipped (already in output 5), 0 failed" in err


@pytest.mark.parametrize("how", ["chmod", "simulated"])
def test_batch_input_without_read_permission_is_one_line(fake, capsys, tmp_path, monkeypatch, how):
    import builtins
    import os

    inp = write_pages(tmp_path / "in.jsonl.gz", 0)
    if how == "chmod":
        if os.geteuid() == 0:
            pytest.skip("root reads any file: the simulated case stands in")
        inp.chmod(0)
    else:  # what the kernel answers a user without read permission
        real_open = builtins.open

        def refuse(file, *args, **kwargs):
            if str(file) == str(inp):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refuse)
    code, out, err = run(["--input", str(inp), "--output", str(tmp_path / "out.jsonl"), "--no-progress"], capsys)
    assert code == 2 and out == ""
    assert err == f"chromesift extract: error: {inp}: cannot read (Permission denied)\n"


def test_batch_deeply_nested_json_is_an_error_record(fake, capsys, tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text('{"id": "deep", "html": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
                   + json.dumps({"id": "ok", "html": "<p>A paragraph long enough to be the content here.</p>"}) + "\n")
    code, _, err = run(["--input", str(inp), "--output", str(out), "--no-progress"], capsys)
    assert code == 1, err
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["in.jsonl:1"]["error"] == "not valid JSON (nested too deeply)"
    assert "error" not in records["ok"]


@pytest.mark.parametrize("value", ["inf", "Infinity", "0"])
def test_batch_timeout_inf_or_0_means_no_limit(fake, capsys, tmp_path, value):
    inp, out = write_pages(tmp_path / "in.jsonl", 2), tmp_path / "out.jsonl"
    code, _, err = run(["--input", str(inp), "--output", str(out), "--timeout", value, "--no-progress"], capsys)
    assert code == 0, err
    assert [json.loads(x).get("error") for x in out.read_text().splitlines()] == [None, None]


@pytest.mark.parametrize(("value", "message"), [
    ("nan", "--timeout must be a number of seconds, not nan"),
    ("-1", "--timeout must not be negative"),
    ("1e300", "--timeout must be at most 1000000 seconds (0 or inf: no limit)"),
])
def test_batch_bad_timeouts_are_refused(fake, capsys, tmp_path, value, message):
    inp = write_pages(tmp_path / "in.jsonl", 1)
    code, out, err = run(["--input", str(inp), "--timeout", value, "--no-progress"], capsys)
    assert (code, out) == (2, "")
    assert message in err


def test_json_of_a_page_whose_name_is_not_utf8(fake, capsys, tmp_path):
    import os

    name = os.fsdecode(b"caf\xe9.html")  # a surrogate escape in the str path
    (tmp_path / name).write_bytes(b"<p>A paragraph long enough to be the content of this page.</p>")
    code, out, err = run([str(tmp_path / name), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["id"] == str(tmp_path / name)


def test_batch_to_standard_output(fake, capsys, tmp_path):
    inp = write_pages(tmp_path / "in.jsonl", 2)
    code, stdout, _ = run(["--input", str(inp), "--no-progress"], capsys)
    assert code == 0
    assert [json.loads(x)["id"] for x in stdout.splitlines()] == ["p0", "p1"]


def test_console_entry_point_reports_a_missing_file(tmp_path):
    # a real process: exit status and message as a shell user sees them
    proc = subprocess.run(
        [sys.executable, "-m", "chromesift", "extract", "missing.html"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "chromesift extract: error: missing.html: no such file"


# --- the real model --------------------------------------------------------------------


def test_real_model_single_page(capsys):
    if not hasattr(chromesift, "load_model"):
        pytest.skip("chromesift.load_model is not there yet")
    code, out, err = run([str(SEGMENTATION), "--json"], capsys)
    assert code == 0, err
    record = json.loads(out)
    assert len(record["paragraphs"]) == 15
    kept = [p["text"] for p in record["paragraphs"] if p["is_content"]]
    assert record["text"] == "\n".join(kept)
    assert ARTICLE in kept
