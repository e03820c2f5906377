"""Speed and memory of chromesift and its peers on the same pages, side by side.

The pages: by default the *modern-news sample* (``--sample modern``): a seeded
uniform sample of the pages of fundus, andy-article-extraction, readability,
newspaper3k-fixtures and wcxb's article pages (``meta.page_type == "article"``);
``--sample uniform`` samples every page of every corpus (of ``--datasets``) alike,
as this script did before. ``--datasets`` narrows either sample to those corpora.

The extractors: chromesift page by page (``Model.extract``), chromesift batched
(``Model.extract_many``, 64 pages a call), trafilatura, resiliparse and
readability-lxml; ``--peers all`` adds every other peer installed, ``--peers none``
none, ``--peers a,b`` those.

How: every extractor runs over the same pages in a fresh process of its own
(spawned), single-threaded: one untimed warm-up page (imports, model load), then
every page timed with ``time.perf_counter``, read one at a time from a temporary
file. The batched run forms its batches within each page-size bucket, so its
figures per bucket are its own; its ms/page are the batch's time shared out.
Extractors are interleaved in ``--rounds`` rounds (each round runs every extractor
once, in a rotated order), so the noise of a busy machine hits all of them alike;
every figure printed is the median over rounds of that round's figure.

Printed per extractor: pages timed, failed pages (error or ``--timeout``), median
and 90th-percentile ms/page, pages/s (pages over the summed time), peak MB (the
process's maximum RSS, ``VmHWM`` on Linux) and +MB (above the process with the
chromesift package, which holds the adapters, imported), then the throughput ratio
against trafilatura (pages/s divided by trafilatura's in the same round: above 1 =
faster), overall and by page-size bucket (<50 KB, 50-200 KB, >200 KB of UTF-8 HTML);
a second table gives the pages/s of each bucket.

Usage::

    python benchmarks/speed.py [--sample modern|uniform] [--pages 300] [--rounds 3]
                               [--data DIR] [--datasets NAME ...]
                               [--peers default|all|none|name,name] [--no-model]
                               [--model BUNDLE] [--trust] [--seed 0] [--timeout 10]
                               [--json OUT]
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
from bench_pages import BUCKETS, SAMPLES, describe, fmt, format_table, median, rotate
from bench_pages import sample_pages as sample_corpus_pages

SELF = "chromesift"
#: chromesift with pages predicted in batches (``Model.extract_many``): ms/page amortised
SELF_BATCH = "chromesift-batch"
BATCH_SIZE = 64
#: the peers measured unless ``--peers`` says otherwise
DEFAULT_PEERS = ("trafilatura", "resiliparse", "readability-lxml")
#: the extractor the throughput ratios are computed against
REFERENCE = "trafilatura"


@dataclass(frozen=True)
class SpeedConfig:
    """What one benchmark run measures."""

    data_dir: Path | None = None
    datasets: tuple[str, ...] = ()
    pages: int = 300
    peers: str = "default"
    model: Path | None = None
    trust: bool = False
    include_model: bool = True
    seed: int = 0
    timeout: float = 10.0
    sample: str = "modern"
    rounds: int = 3


def sample_pages(data_dir: Path | None, datasets: list[str], n: int, seed: int,
                 kind: str = "modern") -> list[dict]:
    """A seeded sample of ``n`` pages (see :func:`bench_pages.sample_pages`)."""
    return sample_corpus_pages(data_dir, n, seed, kind=kind, datasets=datasets)


def peer_names(spec: str) -> list[str]:
    """Peer names of ``--peers``: ``default`` is :data:`DEFAULT_PEERS` where installed."""
    from chromesift.evaluate.peers import PEERS, parse_peer_names

    if spec == "default":
        return [n for n in DEFAULT_PEERS if n in PEERS and PEERS[n].available()]
    return parse_peer_names(spec)


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


def _read_pages(pages_file: str):
    with open(pages_file, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def _pages_at(pages_file: str, places: list[tuple[int, int]]):
    """``(page, html)`` of the pages whose lines start at these offsets of the pages file."""
    with open(pages_file, "rb") as f:
        for i, offset in places:
            f.seek(offset)
            yield i, json.loads(f.readline())["html"]


def _measure_batches(model_path: str | None, trust: bool, pages_file: str) -> list[float | None]:
    """ms per page of ``Model.extract_many``, in page order: each page gets its batch's mean.

    Batches are formed within each page-size bucket (in page order), so that a bucket's
    time is its own pages'. Only the batch being predicted is held in memory (the pages are
    read from the file batch by batch), as a batch job would hold them, so that the peak
    memory is the batch's, not the whole sample's.
    """
    model = _load_model(model_path, trust)  # loaded once already by the warm-up: from cache
    by_bucket: dict[str, list[tuple[int, int]]] = {}  # bucket -> (page, offset of its line)
    offset = 0
    with open(pages_file, "rb") as f:
        for i, line in enumerate(f):
            by_bucket.setdefault(json.loads(line)["bucket"], []).append((i, offset))
            offset += len(line)
    ms: dict[int, float | None] = {}
    for places in by_bucket.values():
        for start in range(0, len(places), BATCH_SIZE):
            batch = list(_pages_at(pages_file, places[start:start + BATCH_SIZE]))
            t0 = time.perf_counter()
            try:
                for _ in model.extract_many([html for _, html in batch], batch_size=BATCH_SIZE):
                    pass
            except Exception:  # a failing page fails its batch
                ms.update((i, None) for i, _ in batch)
                continue
            share = (time.perf_counter() - t0) * 1000 / len(batch)
            ms.update((i, share) for i, _ in batch)
    return [ms[i] for i in sorted(ms)]


def measure(name: str, pages_file: str, model_path: str | None, trust: bool, timeout: float, queue) -> None:
    """Child process: time one extractor over the pages in ``pages_file``; put a result dict.

    ``ms`` holds one entry per page, in page order (None for a failed page). Pages are
    read one at a time, so the peak memory is the extractor's (plus the interpreter and
    one page), not the sample's.
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
    if name == SELF_BATCH:
        ms = _measure_batches(model_path, trust, pages_file)
        queue.put({"name": name, "ms": ms, "peak_mb": _maxrss_mb(), "base_mb": base_mb})
        return
    ms: list[float | None] = []
    signal.signal(signal.SIGALRM, _alarm)
    for page in _read_pages(pages_file):
        signal.setitimer(signal.ITIMER_REAL, timeout)
        start = time.perf_counter()
        try:
            extract(page["html"], page["lang"])
            ms.append((time.perf_counter() - start) * 1000)
        except Exception:  # a timeout (_PageTimeout) or a failing page
            ms.append(None)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    queue.put({"name": name, "ms": ms, "peak_mb": _maxrss_mb(), "base_mb": base_mb})


def _pages_per_s(ms: list[float | None], keep: list[bool] | None = None) -> float:
    done = [m for i, m in enumerate(ms) if m is not None and (keep is None or keep[i])]
    total = sum(done)
    return 1000 * len(done) / total if total > 0 else float("nan")


def round_stats(out: dict, buckets: list[str]) -> dict:
    """One extractor's figures of one round, from its child's result dict."""
    ms = out["ms"]
    done = np.asarray([m for m in ms if m is not None], dtype=float)
    return {
        "failed": sum(m is None for m in ms),
        "ms_median": float(np.median(done)) if len(done) else float("nan"),
        "ms_p90": float(np.percentile(done, 90)) if len(done) else float("nan"),
        "pages_per_s": _pages_per_s(ms),
        "peak_mb": out["peak_mb"],
        "extra_mb": out["peak_mb"] - out["base_mb"],
        "bucket_pages_per_s": {
            name: _pages_per_s(ms, [b == name for b in buckets]) for name, _, _ in BUCKETS
        },
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b and b == b and a == a else float("nan")


def aggregate(names: list[str], rounds: list[dict[str, dict]], n_pages: int) -> list[dict]:
    """Medians over rounds of each extractor's figures, with the throughput ratios against
    :data:`REFERENCE` computed within each round."""
    results = []
    for name in names:
        mine = [r[name] for r in rounds if name in r and "error" not in r[name]]
        if not mine:
            error = next((r[name]["error"] for r in rounds if name in r), "not measured")
            results.append({"name": name, "error": error})
            continue
        ref_rounds = [r.get(REFERENCE) for r in rounds if name in r and "error" not in r[name]]
        has_ref = all(ref is not None and "error" not in ref for ref in ref_rounds)
        row = {"name": name, "pages": n_pages, "rounds": len(mine)}
        for key in ("failed", "ms_median", "ms_p90", "pages_per_s", "peak_mb", "extra_mb"):
            row[key] = median(s[key] for s in mine)
        row["bucket_pages_per_s"] = {
            b: median(s["bucket_pages_per_s"][b] for s in mine) for b, _, _ in BUCKETS
        }
        if has_ref:
            row[f"x_{REFERENCE}"] = median(
                _ratio(s["pages_per_s"], ref["pages_per_s"]) for s, ref in zip(mine, ref_rounds, strict=True))
            row[f"x_{REFERENCE}_by_bucket"] = {
                b: median(_ratio(s["bucket_pages_per_s"][b], ref["bucket_pages_per_s"][b])
                          for s, ref in zip(mine, ref_rounds, strict=True))
                for b, _, _ in BUCKETS
            }
        results.append(row)
    return results


def run_speed(config: SpeedConfig) -> list[dict]:
    """Measure every extractor in its own process, round after round; one result dict per extractor.

    Returns
    -------
    list of dict
        ``name``, ``pages``, ``rounds``, ``failed``, ``ms_median``, ``ms_p90``,
        ``pages_per_s``, ``peak_mb``, ``extra_mb``, ``bucket_pages_per_s`` and, where
        trafilatura was measured, ``x_trafilatura`` and ``x_trafilatura_by_bucket``
        (or ``error``): each the median over rounds.
    """
    names = ([SELF, SELF_BATCH] if config.include_model else []) + peer_names(config.peers)
    if not names:
        raise SystemExit("nothing to measure (--no-model and --peers none)")
    pages = sample_pages(config.data_dir, list(config.datasets), config.pages, config.seed, config.sample)
    if not pages:
        raise SystemExit("no pages to measure")
    print(f"{config.sample} sample: {describe(pages)}", file=sys.stderr, flush=True)
    buckets = [p["bucket"] for p in pages]
    ctx = mp.get_context("spawn")
    rounds: list[dict[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        pages_file = os.path.join(tmp, "pages.jsonl")
        with open(pages_file, "w", encoding="utf-8") as f:
            for p in pages:
                f.write(json.dumps({k: p[k] for k in ("id", "html", "lang", "bucket")}) + "\n")
        del pages[:]  # the children read the file; the parent needs only the buckets
        for r in range(config.rounds):
            this_round: dict[str, dict] = {}
            for name in rotate(names, r):
                print(f"round {r + 1}/{config.rounds}: {name} on {len(buckets)} pages ...",
                      file=sys.stderr, flush=True)
                queue = ctx.Queue()
                proc = ctx.Process(
                    target=measure,
                    args=(name, pages_file, str(config.model) if config.model else None, config.trust,
                          config.timeout, queue),
                )
                proc.start()
                try:
                    out = queue.get(timeout=config.timeout * len(buckets) + 300)
                except Exception:
                    out = {"name": name, "error": f"no result (exit code {proc.exitcode})"}
                proc.join(30)
                this_round[name] = out if "error" in out else round_stats(out, buckets)
            rounds.append(this_round)
    return aggregate(names, rounds, len(buckets))


def format_tables(results: list[dict], rounds: int = 1) -> str:
    """The results as two text tables: the figures with the ratios, then pages/s by page size."""
    ok = [r for r in results if "error" not in r]
    with_ref = any(f"x_{REFERENCE}" in r for r in ok)
    bucket_names = [b for b, _, _ in BUCKETS]
    header = ["extractor", "pages", "failed", "ms median", "ms p90", "pages/s", "peak MB", "+MB"]
    if with_ref:
        header += [f"x {REFERENCE}"] + [f"x {b}" for b in bucket_names]
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["name"], "error: " + r["error"]] + [""] * (len(header) - 2))
            continue
        row = [r["name"], str(r["pages"]), fmt(r["failed"], 0), fmt(r["ms_median"]), fmt(r["ms_p90"]),
               fmt(r["pages_per_s"]), fmt(r["peak_mb"], 0), fmt(r["extra_mb"], 0)]
        if with_ref:
            by_bucket = r.get(f"x_{REFERENCE}_by_bucket", {})
            row += [fmt(r.get(f"x_{REFERENCE}"), 2)] + [fmt(by_bucket.get(b), 2) for b in bucket_names]
        rows.append(row)
    lines = [format_table(header, rows), ""]
    size_rows = [[r["name"]] + [fmt(r["bucket_pages_per_s"][b]) for b in bucket_names] for r in ok]
    lines.append(format_table(["pages/s by size"] + bucket_names, size_rows))
    lines += [
        "",
        f"medians over {rounds} round(s), extractors interleaved; sizes in UTF-8 bytes of the HTML (1 KB = 1,000 B)",
        "peak MB: the process's maximum RSS; +MB: above the interpreter with the chromesift package "
        "imported and one page read",
    ]
    if with_ref:
        lines.append(f"x {REFERENCE}: pages/s divided by {REFERENCE}'s in the same round, overall and "
                     "by page size (above 1 = faster)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run the benchmark, print the tables (and write JSON when asked)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sample", choices=SAMPLES, default="modern",
                   help="modern: the modern-news pages (default); uniform: every corpus's pages alike")
    p.add_argument("--data", type=Path, default=None, help="corpus folder")
    p.add_argument("--datasets", nargs="+", default=[],
                   help="datasets to sample from (default: those of the sample)")
    p.add_argument("--pages", type=int, default=300, help="pages sampled (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, extractors interleaved (default: %(default)s)")
    p.add_argument("--peers", default="default",
                   help="'default' (trafilatura, resiliparse, readability-lxml), 'all', 'none' "
                        "or comma-separated peer names")
    p.add_argument("--model", type=Path, default=None, help="model bundle (default: the shipped one)")
    p.add_argument("--trust", action="store_true", help="load a bundle this machine did not write")
    p.add_argument("--no-model", action="store_true", help="peers only")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per page")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.pages < 1:
        p.error("--rounds and --pages must be at least 1")
    config = SpeedConfig(
        data_dir=args.data, datasets=tuple(args.datasets), pages=args.pages, peers=args.peers,
        model=args.model, trust=args.trust, include_model=not args.no_model, seed=args.seed,
        timeout=args.timeout, sample=args.sample, rounds=args.rounds,
    )
    results = run_speed(config)
    print(format_tables(results, config.rounds))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
