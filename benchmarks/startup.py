"""Start-up: one page through a fresh command or a fresh interpreter, chromesift against trafilatura.

What a user waits for when extracting one page at a time: the whole command
(``python -m chromesift extract PAGE`` against trafilatura's command line, which
reads the page on standard input: its ``--input-file`` is a list of URLs), and the
library's first call in a fresh process (``import chromesift;
chromesift.extract(html)`` against ``import trafilatura; trafilatura.extract(html)``),
where the child also reports its import time, its first call and a second call.
``python -c pass`` is the floor every row stands on.

Each command runs ``--repeat`` times, the commands interleaved (every repetition runs
each once, in a rotated order) after ``--warmup`` untimed runs each; printed are
medians: wall time, peak RSS (the ``ru_maxrss`` that ``wait4`` reports for the
child: the largest of its processes), and chromesift's wall time over trafilatura's in
the same repetition (below 1 = sooner done).

The page: ``--page FILE``, else the median-sized page of a seeded sample of 25
modern-news pages (fundus, andy-article-extraction, readability,
newspaper3k-fixtures, wcxb's article pages).

Usage::

    python benchmarks/startup.py [--page FILE] [--repeat 10] [--warmup 1]
                                 [--data DIR] [--seed 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench_pages import (
    child_env,
    fmt,
    format_table,
    median,
    page_bytes,
    rotate,
    run_measured,
    sample_pages,
)

#: the library child: import, first call, second call, timed inside the process
LIBRARY_CHILD = """\
import json, sys, time
name, path = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    html = f.read()
t0 = time.perf_counter()
lib = __import__(name)
t1 = time.perf_counter()
lib.extract(html)
t2 = time.perf_counter()
lib.extract(html)
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000, "second_ms": (t3 - t2) * 1000}))
"""


@dataclass(frozen=True)
class StartupConfig:
    """What one start-up run measures."""

    page: Path | None = None
    data_dir: Path | None = None
    repeat: int = 10
    warmup: int = 1
    seed: int = 0


@dataclass(frozen=True)
class Command:
    """One measured command: its row name, argv, whether the page goes to its standard
    input, the row it is compared with, and whether it reports its own timings."""

    name: str
    argv: tuple[str, ...]
    stdin_page: bool = False
    versus: str | None = None
    library: bool = False


def trafilatura_cli() -> list[str] | None:
    """trafilatura's command line: the console script beside this interpreter, else its module."""
    import importlib.util

    if importlib.util.find_spec("trafilatura") is None:
        return None
    script = Path(sys.executable).parent / "trafilatura"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "trafilatura.cli"]


def commands(page: Path) -> list[Command]:
    """The rows: the interpreter floor, chromesift's and trafilatura's command, their library calls."""
    py = sys.executable
    out = [
        Command("python -c pass", (py, "-c", "pass")),
        Command("chromesift extract PAGE", (py, "-m", "chromesift", "extract", str(page)),
                versus="trafilatura < PAGE"),
    ]
    cli = trafilatura_cli()
    if cli:
        out.append(Command("trafilatura < PAGE", tuple(cli), stdin_page=True))
    out.append(Command("import chromesift; extract()", (py, "-c", LIBRARY_CHILD, "chromesift", str(page)),
                       versus="import trafilatura; extract()", library=True))
    if cli:
        out.append(Command("import trafilatura; extract()", (py, "-c", LIBRARY_CHILD, "trafilatura", str(page)),
                           library=True))
    return out


def pick_page(data_dir: Path | None, seed: int) -> dict:
    """The median-sized page of a seeded sample of 25 modern-news pages."""
    pages = sorted(sample_pages(data_dir, 25, seed, kind="modern"), key=lambda p: p["bytes"])
    if not pages:
        raise SystemExit("no modern-news pages found: give --page FILE or --data DIR")
    return pages[len(pages) // 2]


def run_once(cmd: Command, page: Path, tmp: Path) -> dict:
    """One run of a command: wall time, peak RSS and, for a library row, its own timings."""
    out_file = tmp / "stdout"
    env = child_env()
    env.setdefault("PYTHONWARNINGS", "ignore")
    res = run_measured(cmd.argv, stdin=page if cmd.stdin_page else None, stdout=out_file, env=env)
    if res["returncode"] != 0:
        last = (res["stderr"].strip().splitlines() or [""])[-1]
        return {"error": f"exit {res['returncode']}: {last}"}
    if cmd.library:
        lines = out_file.read_text(encoding="utf-8").strip().splitlines()
        res.update(json.loads(lines[-1]))
    return res


def run_startup(config: StartupConfig) -> dict:
    """Run every command ``repeat`` times, interleaved; the medians of each.

    Returns
    -------
    dict
        ``page`` (name and bytes), ``repeat`` and ``rows``: per command ``name``, ``runs``,
        ``wall_ms``, ``peak_mb``, ``versus`` (its wall time over its counterpart's, median
        over repetitions) and, for a library row, ``import_ms``, ``first_ms``, ``second_ms``
        (or ``error``).
    """
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if config.page:
            page, label = Path(config.page), Path(config.page).name
        else:
            rec = pick_page(config.data_dir, config.seed)
            page, label = tmp / "page.html", rec["id"]
            page.write_text(rec["html"], encoding="utf-8")
        size = page_bytes(page.read_bytes())
        cmds = commands(page)
        print(f"page {label} ({size / 1000:.0f} KB); {len(cmds)} commands x {config.repeat} ...",
              file=sys.stderr, flush=True)
        for _ in range(config.warmup):
            for cmd in cmds:
                run_once(cmd, page, tmp)
        runs: dict[str, list[dict]] = {c.name: [] for c in cmds}
        for r in range(config.repeat):
            for cmd in rotate(cmds, r):
                runs[cmd.name].append(run_once(cmd, page, tmp))
    rows = []
    for cmd in cmds:
        mine = runs[cmd.name]
        ok = [m for m in mine if "error" not in m]
        if not ok:
            rows.append({"name": cmd.name, "error": mine[0]["error"] if mine else "not run"})
            continue
        row = {"name": cmd.name, "runs": len(ok),
               "wall_ms": median(m["seconds"] * 1000 for m in ok),
               "peak_mb": median(m["peak_mb"] for m in ok)}
        if cmd.library:
            for key in ("import_ms", "first_ms", "second_ms"):
                row[key] = median(m[key] for m in ok)
        if cmd.versus in runs:
            row["versus"] = median(
                a["seconds"] / b["seconds"] for a, b in zip(mine, runs[cmd.versus], strict=True)
                if "error" not in a and "error" not in b)
        rows.append(row)
    return {"page": {"name": label, "bytes": size}, "repeat": config.repeat, "rows": rows}


def format_result(result: dict) -> str:
    """The medians as a text table."""
    header = ["command", "runs", "wall ms", "peak MB", "import ms", "1st call ms", "2nd call ms",
              "x trafilatura"]
    rows = []
    for r in result["rows"]:
        if "error" in r:
            rows.append([r["name"], "error: " + r["error"]] + [""] * (len(header) - 2))
            continue
        rows.append([r["name"], str(r["runs"]), fmt(r["wall_ms"], 0), fmt(r["peak_mb"], 0),
                     fmt(r.get("import_ms"), 0), fmt(r.get("first_ms"), 0), fmt(r.get("second_ms"), 1),
                     fmt(r.get("versus"), 2)])
    page = result["page"]
    return "\n".join([
        f"page: {page['name']} ({page['bytes'] / 1000:.0f} KB)",
        format_table(header, rows),
        "",
        f"medians of {result['repeat']} run(s) per command, commands interleaved; peak MB: the child's "
        "maximum RSS (wait4)",
        "import/1st/2nd call ms: timed inside the fresh process (the library rows)",
        "x trafilatura: wall time over trafilatura's counterpart in the same repetition (below 1 = sooner done)",
    ])


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run the commands, print the table (and write JSON when asked)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--page", type=Path, default=None, help="the HTML page (default: a modern-news page)")
    p.add_argument("--data", type=Path, default=None, help="corpus folder (for the default page)")
    p.add_argument("--repeat", type=int, default=10, help="timed runs per command (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs per command first (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed of the default page")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0:
        p.error("--repeat must be at least 1 and --warmup not negative")
    if args.page is not None and not args.page.is_file():
        p.error(f"no such page: {args.page}")
    config = StartupConfig(page=args.page, data_dir=args.data, repeat=args.repeat, warmup=args.warmup,
                           seed=args.seed)
    result = run_startup(config)
    print(format_result(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
