"""The speed scripts of benchmarks/ run end to end on a tiny sample and print their tables.

Figures are not checked (they are the scripts' business, measured on a quiet machine):
the tables' columns and rows are, and the few numbers that must hold whatever the
machine (pages counted, trafilatura's ratio to itself).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
FIXTURES = Path(__file__).parent / "fixtures"
HAS_TRAFILATURA = importlib.util.find_spec("trafilatura") is not None


def run_script(name: str, *args: str, timeout: float = 120) -> str:
    """Run ``benchmarks/<name>`` in a fresh interpreter from the checkout; its standard output."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, str(BENCH / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def table(out: str, first_header: str) -> tuple[list[str], dict[str, list[str]]]:
    """The table whose header starts with ``first_header``: its columns and its rows by first cell."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_header))
    split = re.compile(r"\s{2,}")
    header = split.split(lines[start].strip())
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        cells = split.split(line.strip())
        rows[cells[0]] = cells
    return header, rows


def test_speed_script_prints_the_table_on_modern_pages(shared_data):
    peers = "trafilatura" if HAS_TRAFILATURA else "none"
    out = run_script("speed.py", "--data", str(shared_data), "--datasets", "fundus", "--pages", "2",
                     "--rounds", "1", "--peers", peers)
    header, rows = table(out, "extractor")
    expected = ["extractor", "pages", "failed", "ms median", "ms p90", "pages/s", "peak MB", "+MB"]
    if HAS_TRAFILATURA:
        expected += ["x trafilatura", "x <50KB", "x 50-200KB", "x >200KB"]
    assert header == expected
    assert set(rows) == {"chromesift", "chromesift-batch"} | ({"trafilatura"} if HAS_TRAFILATURA else set())
    assert all(r[1] == "2" for r in rows.values())
    if HAS_TRAFILATURA:
        # trafilatura against itself, overall: exactly 1
        assert rows["trafilatura"][8] == "1.00"
    size_header, size_rows = table(out, "pages/s by size")
    assert size_header == ["pages/s by size", "<50KB", "50-200KB", ">200KB"]
    assert set(size_rows) == set(rows)
    assert "medians over 1 round(s)" in out


def test_startup_script_prints_the_table():
    out = run_script("startup.py", "--page", str(FIXTURES / "seed_article.html"), "--repeat", "1",
                     "--warmup", "0")
    header, rows = table(out, "command")
    assert header == ["command", "runs", "wall ms", "peak MB", "import ms", "1st call ms", "2nd call ms",
                      "x trafilatura"]
    expected = {"python -c pass", "chromesift extract PAGE", "import chromesift; extract()"}
    if HAS_TRAFILATURA:
        expected |= {"trafilatura < PAGE", "import trafilatura; extract()"}
    assert set(rows) == expected
    for name, cells in rows.items():
        assert not cells[1].startswith("error"), (name, cells)
        # a fresh interpreter with the package loaded holds more than a bare one
        assert float(cells[3]) > 0
    assert float(rows["chromesift extract PAGE"][3]) > float(rows["python -c pass"][3])


def test_batch_throughput_script_prints_the_table(shared_data):
    out = run_script("batch_throughput.py", "--data", str(shared_data), "--datasets", "fundus",
                     "--pages", "3")
    header, rows = table(out, "command")
    assert header == ["command", "pages", "runs", "seconds", "pages/s", "peak MB", "failed", "x trafilatura"]
    assert set(rows) == {"chromesift"} | ({"trafilatura"} if HAS_TRAFILATURA else set())
    assert rows["chromesift"][1] == "3" and rows["chromesift"][6] == "0"
    assert float(rows["chromesift"][4]) > 0
    assert out.startswith("3 modern-news pages (3 distinct)")



def test_batched_measure_reads_each_batch_from_the_file(tmp_path, monkeypatch):
    """The batched extractor holds one batch of pages, read back from the pages file by offset."""
    import json

    monkeypatch.syspath_prepend(str(BENCH))
    import speed

    pages = [{"html": f"<html><body><p>Seite {i}: Größe {'é' * i} — ok.</p></body></html>",
              "bucket": "<50KB" if i % 2 else ">200KB"} for i in range(5)]
    path = tmp_path / "pages.jsonl"
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages), encoding="utf-8")
    offsets, at = [], 0
    for line in path.read_bytes().splitlines(keepends=True):
        offsets.append(at)
        at += len(line)
    places = [(4, offsets[4]), (1, offsets[1])]
    assert list(speed._pages_at(str(path), places)) == [(4, pages[4]["html"]), (1, pages[1]["html"])]
    monkeypatch.setattr(speed, "BATCH_SIZE", 2)
    ms = speed._measure_batches(None, False, str(path))
    assert len(ms) == 5 and all(m is not None and m > 0 for m in ms)
