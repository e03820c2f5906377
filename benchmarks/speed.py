"""Speed and memory of chromesift and its peers on the same pages, side by side.

Each extractor runs in a fresh process of its own (spawned), single-threaded,
over the same sample of corpus pages: one untimed warm-up page (imports,
model load), then every page timed with ``time.perf_counter``; pages are read
from a temporary file one at a time. Peak memory is the process's maximum
resident set size (``VmHWM`` on Linux), reported whole and above the process's
size with the chromesift package (which holds the adapters) imported.

Usage::

    python benchmarks/speed.py [--data DIR] [--datasets NAME ...] [--pages 300]
                               [--peers all|name,name] [--model BUNDLE] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SELF = "chromesift"
#: chromesift with pages predicted in batches (``Model.extract_many``): ms/page amortised
SELF_BATCH = "chromesift-batch"
BATCH_SIZE = 64
#: Extractors the ratios are computed against.
REFERENCES = ("trafilatura", "resiliparse")


@dataclass(frozen=True)
class SpeedConfig:
    """What one benchmark run measures."""

    data_dir: Path | None = None
    datasets: tuple[str, ...] = ()
    pages: int = 300
    peers: str = "all"
    model: Path | None = None
    trust: bool = False
    include_model: bool = True
    seed: int = 0
    timeout: float = 10.0


def sample_pages(data_dir: Path, datasets: list[str], n: int, seed: int) -> list[dict]:
    """A seeded uniform sample of ``n`` pages across the datasets (reservoir sampling)."""
    from chromesift.data.corpus import sample_pages as sample

    return [{"id": page.id, "html": page.html, "lang": page.lang} for page in sample(data_dir, datasets, n, seed)]


def _maxrss_mb() -> float:
    """Peak resident set size of this process, in MB.

    On Linux ``VmHWM`` of ``/proc/self/status``: unlike ``ru_maxrss``, which
    keeps the parent's size across fork and exec, it starts afresh in the
    spawned process.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # macOS reports bytes, the others kilobytes
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


class _PageTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _PageTimeout


def _load_model(model_path: str | None, trust: bool):
    import chromesift

    return chromesift.load_model(Path(model_path) if model_path else None, trusted=trust)


def _extractor(name: str, model_path: str | None, trust: bool):
    if name in (SELF, SELF_BATCH):
        model = _load_model(model_path, trust)
        if name == SELF:
            return lambda html, lang: model.extract(html)
        return lambda html, lang: list(model.extract_many([html]))
    from chromesift.evaluate.peers import get_peer

    return get_peer(name).extract


def _measure_batches(model_path: str | None, trust: bool, pages_file: str) -> list[float]:
    """ms per page of ``Model.extract_many``: each page gets its batch's mean (amortised)."""
    from itertools import islice

    model = _load_model(model_path, trust)  # loaded once already by the warm-up: from cache
    pages = _read_pages(pages_file)
    ms: list[float] = []
    while batch := [p["html"] for p in islice(pages, BATCH_SIZE)]:
        start = time.perf_counter()
        for _ in model.extract_many(batch, batch_size=BATCH_SIZE):
            pass
        ms += [(time.perf_counter() - start) * 1000 / len(batch)] * len(batch)
    return ms


def _read_pages(pages_file: str):
    with open(pages_file, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def measure(name: str, pages_file: str, model_path: str | None, trust: bool, timeout: float, queue) -> None:
    """Child process: time one extractor over the pages in ``pages_file``; put a result dict.

    Pages are read one at a time, so the peak memory is the extractor's (plus
    the interpreter and one page), not the sample's.
    """
    import logging
    import warnings

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    # the adapters live in the chromesift package, whose import (pandas) every extractor pays
    import chromesift.evaluate.peers  # noqa: F401

    first = next(_read_pages(pages_file))
    base_mb = _maxrss_mb()
    try:
        extract = _extractor(name, model_path, trust)
        extract(first["html"], first["lang"])  # warm-up: imports, lazy set-up
    except Exception as exc:
        queue.put({"name": name, "error": f"{type(exc).__name__}: {exc}"})
        return
    ms, failed = [], 0
    if name == SELF_BATCH:
        ms = _measure_batches(model_path, trust, pages_file)
        queue.put({"name": name, "ms": ms, "failed": 0, "peak_mb": _maxrss_mb(), "base_mb": base_mb})
        return
    signal.signal(signal.SIGALRM, _alarm)
    for page in _read_pages(pages_file):
        signal.setitimer(signal.ITIMER_REAL, timeout)
        start = time.perf_counter()
        try:
            extract(page["html"], page["lang"])
            ms.append((time.perf_counter() - start) * 1000)
        except Exception:  # a timeout (_PageTimeout) or a failing page
            failed += 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    queue.put({"name": name, "ms": ms, "failed": failed, "peak_mb": _maxrss_mb(), "base_mb": base_mb})


def run_speed(config: SpeedConfig) -> list[dict]:
    """Measure every extractor in its own process; one result dict per extractor.

    Returns
    -------
    list of dict
        ``name``, ``pages``, ``failed``, ``ms_median``, ``ms_p90``,
        ``pages_per_s``, ``peak_mb``, ``extra_mb`` (or ``error``).
    """
    from chromesift.data.corpus import dataset_names, default_data_dir
    from chromesift.evaluate.peers import parse_peer_names

    data_dir = Path(config.data_dir) if config.data_dir else default_data_dir()
    datasets = list(config.datasets) or dataset_names(data_dir)
    names = ([SELF, SELF_BATCH] if config.include_model else []) + parse_peer_names(config.peers)
    pages = sample_pages(data_dir, datasets, config.pages, config.seed)
    if not pages:
        raise SystemExit("no pages to measure")
    ctx = mp.get_context("spawn")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        pages_file = os.path.join(tmp, "pages.jsonl")
        with open(pages_file, "w", encoding="utf-8") as f:
            for p in pages:
                f.write(json.dumps(p) + "\n")
        for name in names:
            print(f"measuring {name} on {len(pages)} pages ...", file=sys.stderr, flush=True)
            queue = ctx.Queue()
            proc = ctx.Process(
                target=measure,
                args=(name, pages_file, str(config.model) if config.model else None, config.trust,
                      config.timeout, queue),
            )
            proc.start()
            try:
                out = queue.get(timeout=config.timeout * len(pages) + 300)
            except Exception:
                out = {"name": name, "error": f"no result (exit code {proc.exitcode})"}
            proc.join(30)
            if "error" in out:
                results.append(out)
                continue
            ms = np.asarray(out["ms"], dtype=float)
            results.append({
                "name": name,
                "pages": len(pages),
                "failed": out["failed"],
                "ms_median": float(np.median(ms)) if len(ms) else float("nan"),
                "ms_p90": float(np.percentile(ms, 90)) if len(ms) else float("nan"),
                "pages_per_s": float(1000 * len(ms) / ms.sum()) if ms.sum() > 0 else float("nan"),
                "peak_mb": out["peak_mb"],
                "extra_mb": out["peak_mb"] - out["base_mb"],
            })
    return results


def format_table(results: list[dict]) -> str:
    """The results as a text table, with median-time ratios against the reference peers."""
    ok = {r["name"]: r for r in results if "error" not in r}
    refs = [r for r in REFERENCES if r in ok]
    header = ["extractor", "pages", "failed", "ms median", "ms p90", "pages/s", "peak MB", "+MB"]
    header += [f"x {r}" for r in refs]
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["name"], "error: " + r["error"]] + [""] * (len(header) - 2))
            continue
        row = [
            r["name"], str(r["pages"]), str(r["failed"]), f"{r['ms_median']:.1f}",
            f"{r['ms_p90']:.1f}", f"{r['pages_per_s']:.1f}", f"{r['peak_mb']:.0f}", f"{r['extra_mb']:.0f}",
        ]
        # time ratio: above 1 means slower than the reference
        row += [f"{r['ms_median'] / ok[ref]['ms_median']:.2f}" for ref in refs]
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.append("peak MB: the process's maximum RSS; +MB: above the interpreter with the "
                 "chromesift package imported and one page read")
    lines.append("x <peer>: median ms/page divided by that peer's (above 1 = slower)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run the benchmark, print the table (and write JSON when asked)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=None, help="corpus folder")
    p.add_argument("--datasets", nargs="+", default=[], help="datasets to sample from (default: all)")
    p.add_argument("--pages", type=int, default=300, help="pages sampled (default: %(default)s)")
    p.add_argument("--peers", default="all", help="'all', 'none' or comma-separated peer names")
    p.add_argument("--model", type=Path, default=None, help="model bundle (default: the shipped one)")
    p.add_argument("--trust", action="store_true", help="load a bundle this machine did not write")
    p.add_argument("--no-model", action="store_true", help="peers only")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per page")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    config = SpeedConfig(
        data_dir=args.data, datasets=tuple(args.datasets), pages=args.pages, peers=args.peers,
        model=args.model, trust=args.trust, include_model=not args.no_model, seed=args.seed, timeout=args.timeout,
    )
    results = run_speed(config)
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
