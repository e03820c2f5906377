"""Batch throughput: many modern-news pages through chromesift's and trafilatura's command lines.

``--pages`` pages (default 10,000) of the modern-news sample (fundus,
andy-article-extraction, readability, newspaper3k-fixtures, wcxb's article pages):
a seeded sample where there are that many, else every page repeated in turn until
there are (repeats get ``#k`` ids). They are written once as a JSONL file for
``chromesift extract --input FILE --output OUT --jobs N``, and once as a folder of
HTML files for ``trafilatura --input-dir DIR --output-dir OUT --parallel N``
(trafilatura's command line reads a folder of files, or a list of URLs; a repeated
page is a hard link to the first copy where the file system allows it).

Each command runs ``--rounds`` times, the two interleaved, each into an empty output;
printed are medians: wall time of the whole command (start-up included), pages/s
(pages over that time), chromesift's pages/s over trafilatura's in the same round
(above 1 = faster) and peak RSS (the ``ru_maxrss`` that ``wait4`` reports for the
command: its largest process, so trafilatura's worker rather than its idle parent).

Usage::

    python benchmarks/batch_throughput.py [--pages 10000] [--jobs 1] [--rounds 1]
                                          [--data DIR] [--datasets NAME ...] [--seed 0]
                                          [--workdir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench_pages import (
    child_env,
    describe,
    fmt,
    format_table,
    median,
    rotate,
    run_measured,
    sample_with_repetition,
)
from startup import trafilatura_cli

SELF = "chromesift"
PEER = "trafilatura"


@dataclass(frozen=True)
class BatchThroughputConfig:
    """What one batch run measures."""

    pages: int = 10_000
    jobs: int = 1
    rounds: int = 1
    data_dir: Path | None = None
    datasets: tuple[str, ...] = ()
    seed: int = 0
    workdir: Path | None = None


def write_inputs(pages: list[dict], folder: Path) -> tuple[Path, Path]:
    """The pages as ``pages.jsonl`` (id, html) and as ``html/NNNNN.html`` files; both paths."""
    jsonl, html_dir = folder / "pages.jsonl", folder / "html"
    html_dir.mkdir(parents=True, exist_ok=True)
    first_copy: dict[str, Path] = {}
    width = len(str(len(pages)))
    with open(jsonl, "w", encoding="utf-8") as f:
        for i, page in enumerate(pages):
            f.write(json.dumps({"id": page["id"], "html": page["html"]}) + "\n")
            path = html_dir / f"{i:0{width}d}.html"
            base = page["id"].split("#", 1)[0]
            if base in first_copy:
                try:
                    os.link(first_copy[base], path)
                    continue
                except OSError:  # no hard links here: write a copy
                    pass
            path.write_text(page["html"], encoding="utf-8")
            first_copy.setdefault(base, path)
    return jsonl, html_dir


def commands(jsonl: Path, html_dir: Path, out: Path, jobs: int) -> dict[str, list[str]]:
    """The two commands, by name (trafilatura's only where it is installed)."""
    cmds = {SELF: [sys.executable, "-m", "chromesift", "extract", "--input", str(jsonl),
                   "--output", str(out / "chromesift.jsonl"), "--jobs", str(jobs), "--no-progress"]}
    cli = trafilatura_cli()
    if cli:
        cmds[PEER] = cli + ["--input-dir", str(html_dir), "--output-dir", str(out / "trafilatura"),
                            "--parallel", str(jobs)]
    return cmds


def _failed_records(path: Path) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if json.loads(line).get("error"))


def run_throughput(config: BatchThroughputConfig) -> dict:
    """Write the inputs, run both commands ``rounds`` times interleaved; the medians.

    Returns
    -------
    dict
        ``pages``, ``unique_pages``, ``rounds`` and ``rows``: per command ``name``,
        ``seconds``, ``pages_per_s``, ``peak_mb``, ``failed`` (chromesift's error
        records) and ``versus`` (pages/s over trafilatura's, chromesift only), or ``error``.
    """
    pages = sample_with_repetition(config.data_dir, config.pages, config.seed, kind="modern",
                                   datasets=config.datasets)
    if not pages:
        raise SystemExit("no modern-news pages found: give --data DIR")
    print(f"modern sample: {describe(pages)}", file=sys.stderr, flush=True)
    n, unique = len(pages), len({p["id"].split("#", 1)[0] for p in pages})
    if config.workdir is not None:
        Path(config.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=config.workdir) as tmp_name:
        tmp = Path(tmp_name)
        jsonl, html_dir = write_inputs(pages, tmp)
        del pages[:]
        out = tmp / "out"
        cmds = commands(jsonl, html_dir, out, config.jobs)
        runs: dict[str, list[dict]] = {name: [] for name in cmds}
        for r in range(config.rounds):
            for name in rotate(list(cmds), r):
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                print(f"round {r + 1}/{config.rounds}: {name} on {n} pages ...", file=sys.stderr, flush=True)
                res = run_measured(cmds[name], env=child_env())
                # chromesift exits 1 when some pages failed: the run itself is done
                if res["returncode"] not in (0, 1) or (name == PEER and res["returncode"] != 0):
                    last = (res["stderr"].strip().splitlines() or [""])[-1]
                    res = {"error": f"exit {res['returncode']}: {last}"}
                elif name == SELF:
                    res["failed"] = _failed_records(out / "chromesift.jsonl")
                runs[name].append(res)
    rows = []
    for name, mine in runs.items():
        ok = [m for m in mine if "error" not in m]
        if not ok:
            rows.append({"name": name, "error": mine[0]["error"]})
            continue
        row = {"name": name, "runs": len(ok), "seconds": median(m["seconds"] for m in ok),
               "pages_per_s": median(n / m["seconds"] for m in ok),
               "peak_mb": median(m["peak_mb"] for m in ok)}
        if name == SELF:
            row["failed"] = median(m["failed"] for m in ok)
            if PEER in runs:
                row["versus"] = median(b["seconds"] / a["seconds"] for a, b in zip(mine, runs[PEER], strict=True)
                                       if "error" not in a and "error" not in b)
        rows.append(row)
    return {"pages": n, "unique_pages": unique, "rounds": config.rounds, "jobs": config.jobs, "rows": rows}


def format_result(result: dict) -> str:
    """The medians as a text table."""
    header = ["command", "pages", "runs", "seconds", "pages/s", "peak MB", "failed", f"x {PEER}"]
    rows = []
    for r in result["rows"]:
        if "error" in r:
            rows.append([r["name"], "error: " + r["error"]] + [""] * (len(header) - 2))
            continue
        rows.append([r["name"], str(result["pages"]), str(r["runs"]), fmt(r["seconds"]), fmt(r["pages_per_s"]),
                     fmt(r["peak_mb"], 0), fmt(r.get("failed"), 0), fmt(r.get("versus"), 2)])
    return "\n".join([
        f"{result['pages']} modern-news pages ({result['unique_pages']} distinct), --jobs/--parallel {result['jobs']}",
        format_table(header, rows),
        "",
        f"medians of {result['rounds']} round(s), commands interleaved; seconds: the whole command, start-up "
        "included; peak MB: the command's largest process (wait4)",
        f"x {PEER}: pages/s over {PEER}'s in the same round (above 1 = faster)",
    ])


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run both commands, print the table (and write JSON when asked)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, default=10_000, help="pages (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes of both commands (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=1, help="runs of each command, interleaved (default: %(default)s)")
    p.add_argument("--data", type=Path, default=None, help="corpus folder")
    p.add_argument("--datasets", nargs="+", default=[],
                   help="modern-news corpora to draw from (default: all of them)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where the inputs and outputs are written (a temporary folder in it; default: the system's)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    if min(args.pages, args.jobs, args.rounds) < 1:
        p.error("--pages, --jobs and --rounds must be at least 1")
    config = BatchThroughputConfig(pages=args.pages, jobs=args.jobs, rounds=args.rounds, data_dir=args.data,
                                   datasets=tuple(args.datasets), seed=args.seed, workdir=args.workdir)
    result = run_throughput(config)
    print(format_result(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
