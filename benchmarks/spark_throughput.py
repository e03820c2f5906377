"""Pages per second per core: Spark local mode against the batch CLI, on the same pages.

Three ways through the same sample of corpus pages, each with ``--cores`` cores:

- ``batch CLI``: ``chromesift extract --input pages.jsonl --output X --jobs N`` in a
  process of its own (wall time of the whole command, and the rate it reports itself,
  which leaves out start-up);
- ``spark-extract``: ``python -m chromesift.cli.spark --input pages.parquet --master
  local[N]`` in a process of its own (wall time, and its own rate, which leaves out
  the JVM start);
- ``spark warm``: in this process, ``extract_dataframe`` over the same Parquet twice in
  one local session, written to Spark's ``noop`` sink; the second pass has Python
  workers that already hold the model, the steady state of a long job.

Usage::

    python benchmarks/spark_throughput.py [--data DIR] [--datasets NAME ...] [--pages 400]
                                          [--cores N] [--model BUNDLE] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

_RATE = re.compile(r"([\d.]+) pages/s")


@dataclass(frozen=True)
class Figure:
    """One way's result."""

    way: str
    pages: int
    cores: int
    seconds: float
    own_rate: float | None = None  # what the command itself reports, start-up left out

    @property
    def per_core(self) -> float:
        """Pages per second per core over the whole wall time."""
        return self.pages / self.seconds / self.cores


def sample_pages(data_dir: Path, datasets: list[str], n: int, seed: int) -> list[dict]:
    """A seeded sample of ``n`` pages across the datasets (reservoir sampling)."""
    from chromesift.data.corpus import sample_pages as sample

    return [{"id": page.id, "html": page.html} for page in sample(data_dir, datasets, n, seed)]


def _timed(cmd: list[str], env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stderr


def _own_rate(stderr: str) -> float | None:
    rates = _RATE.findall(stderr)
    return float(rates[-1]) if rates else None


def run_batch_cli(jsonl: Path, out: Path, cores: int, model: Path | None, env: dict) -> Figure:
    """The batch CLI with ``cores`` worker processes."""
    cmd = [sys.executable, "-m", "chromesift", "extract", "--input", str(jsonl), "--output", str(out),
           "--jobs", str(cores), "--no-progress"] + (["--model", str(model)] if model else [])
    seconds, stderr = _timed(cmd, env)
    pages = sum(1 for _ in out.open(encoding="utf-8"))
    return Figure("batch CLI", pages, cores, seconds, _own_rate(stderr))


def run_spark_cli(parquet: Path, out: Path, cores: int, model: Path | None, env: dict) -> Figure:
    """``spark-extract`` in local mode with ``cores`` cores."""
    import pandas as pd

    cmd = [sys.executable, "-m", "chromesift.cli.spark", "--input", str(parquet), "--output", str(out),
           "--master", f"local[{cores}]", "--partitions", str(4 * cores)]
    cmd += ["--model", str(model)] if model else []
    seconds, stderr = _timed(cmd, env)
    return Figure("spark-extract", len(pd.read_parquet(out)), cores, seconds, _own_rate(stderr))


def run_spark_warm(parquet: Path, cores: int, model: Path | None) -> list[Figure]:
    """Two passes in one session: with Python workers starting, then with warm workers."""
    from chromesift.runtime.spark import extract_dataframe, local_session

    spark = local_session(f"local[{cores}]", {"spark.sql.shuffle.partitions": str(4 * cores)})
    spark.sparkContext.setLogLevel("ERROR")
    try:
        df = spark.read.parquet(str(parquet)).repartition(4 * cores).cache()
        pages = df.count()
        figures = []
        for way in ("spark cold workers", "spark warm workers"):
            started = time.perf_counter()
            extract_dataframe(df, "html", model).drop("html").write.format("noop").mode("overwrite").save()
            figures.append(Figure(way, pages, cores, time.perf_counter() - started))
        return figures
    finally:
        spark.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the ways, print a table (and write JSON with ``--json``)."""
    from chromesift.data.corpus import default_data_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="corpus folder (default: the shared one)")
    parser.add_argument("--datasets", nargs="+", default=["cleaneval", "dragnet", "l3s-gn1"])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", type=Path, default=None, help="bundle (default: the shipped model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)

    import pandas as pd
    from tqdm.auto import tqdm

    pages = sample_pages(args.data or default_data_dir(), args.datasets, args.pages, args.seed)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="chromesift-bench-") as tmp:
        folder = Path(tmp)
        jsonl, parquet = folder / "pages.jsonl", folder / "pages.parquet"
        with jsonl.open("w", encoding="utf-8") as f:
            for rec in pages:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        pd.DataFrame(pages).to_parquet(parquet)
        steps = [
            lambda: [run_batch_cli(jsonl, folder / "batch.jsonl", args.cores, args.model, env)],
            lambda: [run_spark_cli(parquet, folder / "spark.parquet", args.cores, args.model, env)],
            lambda: run_spark_warm(parquet, args.cores, args.model),
        ]
        for step in tqdm(steps, desc="ways", unit="way"):
            figures += step()

    mb = sum(len(p["html"].encode("utf-8")) for p in pages) / 1e6
    print(f"\n{len(pages)} pages ({mb:.1f} MB of HTML) from {', '.join(args.datasets)}; "
          f"{args.cores} cores; OMP_NUM_THREADS=1\n")
    print(f"{'way':<20} {'seconds':>8} {'pages/s':>8} {'per core':>9} {'own rate/core':>14}")
    for fig in figures:
        own = f"{fig.own_rate / fig.cores:14.1f}" if fig.own_rate is not None else f"{'':>14}"
        print(f"{fig.way:<20} {fig.seconds:8.1f} {fig.pages / fig.seconds:8.1f} {fig.per_core:9.2f} {own}")
    if args.json:
        args.json.write_text(json.dumps([{**asdict(f), "per_core": f.per_core} for f in figures], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
