"""What the speed scripts share: the modern-news page sample, page-size buckets, timed commands.

The scripts of this folder (``speed.py``, ``startup.py``, ``batch_throughput.py``)
import it as a sibling module; it is not part of the ``chromesift`` package.

The *modern-news sample* is the pages of fundus, andy-article-extraction,
readability and newspaper3k-fixtures, and wcxb's article pages
(``meta.page_type == "article"``): today's news and articles, the pages most
users extract. (The evaluation report's modern-news mean also counts
trafilatura-eval; its pages are trafilatura's own test set, so speed leaves them out.)
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

#: corpora of the modern-news sample
MODERN_DATASETS = ("fundus", "andy-article-extraction", "readability", "newspaper3k-fixtures", "wcxb")
#: corpora of which only pages of this ``meta.page_type`` belong to the modern-news sample
PAGE_TYPE_ONLY = {"wcxb": "article"}
#: page-size buckets (UTF-8 bytes of the HTML; 1 KB = 1,000 bytes): name, lower bound, upper bound
BUCKETS = (("<50KB", 0, 50_000), ("50-200KB", 50_000, 200_000), (">200KB", 200_000, math.inf))
SAMPLES = ("modern", "uniform")


def data_dir_or_default(data_dir: Path | None) -> Path:
    """``data_dir``, else the package's default corpus folder."""
    from chromesift.data.corpus import default_data_dir

    return Path(data_dir) if data_dir else default_data_dir()


def in_modern_sample(dataset: str, meta: dict | None) -> bool:
    """Whether a page of ``dataset`` with this ``meta`` belongs to the modern-news sample."""
    wanted = PAGE_TYPE_ONLY.get(dataset)
    return wanted is None or (meta or {}).get("page_type") == wanted


def page_bytes(html: str | bytes) -> int:
    """Size of a page in UTF-8 bytes."""
    return len(html) if isinstance(html, bytes) else len(html.encode("utf-8", "surrogatepass"))


def bucket_of(size: int) -> str:
    """Name of the page-size bucket of a page of ``size`` bytes."""
    for name, low, high in BUCKETS:
        if low <= size < high:
            return name
    raise ValueError(f"negative size {size}")


def _record(page) -> dict:
    size = page_bytes(page.html)
    return {"id": page.id, "dataset": page.dataset, "html": page.html, "lang": page.lang,
            "bytes": size, "bucket": bucket_of(size)}


def _pages(data_dir: Path, datasets: Sequence[str], kind: str):
    from chromesift.data.corpus import dataset_path, iter_pages

    for name in datasets:
        for page in iter_pages(dataset_path(data_dir, name)):
            if kind == "uniform" or in_modern_sample(page.dataset, page.meta):
                yield page


def default_datasets(data_dir: Path, kind: str) -> list[str]:
    """The corpora a sample of ``kind`` draws from: all for ``uniform``, the modern ones present otherwise."""
    from chromesift.data.corpus import dataset_names

    names = dataset_names(data_dir)
    if kind == "uniform":
        return names
    return [n for n in MODERN_DATASETS if n in names]


def sample_pages(data_dir: Path | None, n: int, seed: int, *, kind: str = "modern",
                 datasets: Sequence[str] = ()) -> list[dict]:
    """A seeded sample of ``n`` pages, uniform over the pages of the sample's corpora (one pass).

    ``kind="modern"`` keeps the modern-news pages only (wcxb's article pages); ``uniform``
    every page. Each record has ``id``, ``dataset``, ``html``, ``lang``, ``bytes`` (UTF-8
    size) and ``bucket`` (page-size bucket).
    """
    if kind not in SAMPLES:
        raise ValueError(f"unknown sample {kind!r} (known: {', '.join(SAMPLES)})")
    data_dir = data_dir_or_default(data_dir)
    rng = random.Random(seed)
    sample: list = []
    seen = 0
    for page in _pages(data_dir, list(datasets) or default_datasets(data_dir, kind), kind):
        seen += 1
        if len(sample) < n:
            sample.append(page)
        elif (j := rng.randrange(seen)) < n:
            sample[j] = page
    return [_record(p) for p in sample]


def sample_with_repetition(data_dir: Path | None, n: int, seed: int, *, kind: str = "modern",
                           datasets: Sequence[str] = ()) -> list[dict]:
    """``n`` pages of the sample: a seeded sample where there are that many, else every page
    repeated in turn (in a seeded order) until there are ``n``; repeats get ``#k`` ids."""
    pool = sample_pages(data_dir, 10**12, seed, kind=kind, datasets=datasets)
    if not pool:
        return []
    rng = random.Random(seed)
    if len(pool) >= n:
        return rng.sample(pool, n)
    rng.shuffle(pool)
    out = []
    for i in range(n):
        page = dict(pool[i % len(pool)])
        if i >= len(pool):
            page["id"] = f"{page['id']}#{i // len(pool)}"
        out.append(page)
    return out


def describe(pages: Sequence[dict]) -> str:
    """One line: how many pages of each corpus and of each size bucket."""
    by_dataset: dict[str, int] = {}
    for p in pages:
        by_dataset[p["dataset"]] = by_dataset.get(p["dataset"], 0) + 1
    by_bucket = {name: sum(p["bucket"] == name for p in pages) for name, _, _ in BUCKETS}
    corpora = ", ".join(f"{d} {k}" for d, k in sorted(by_dataset.items()))
    sizes = ", ".join(f"{b} {k}" for b, k in by_bucket.items())
    return f"{len(pages)} pages ({corpora}); by size: {sizes}"


def median(values: Iterable[float | None]) -> float:
    """Median of the values that are not None or NaN (NaN when there are none)."""
    vals = sorted(v for v in values if v is not None and not math.isnan(v))
    if not vals:
        return math.nan
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def rotate(names: Sequence[str], round_: int) -> list[str]:
    """The order of round ``round_``: the names rotated, so no extractor always runs first."""
    k = round_ % len(names) if names else 0
    return list(names[k:]) + list(names[:k])


#: the launcher of a measured command: a small process of its own, so that the command's
#: ``ru_maxrss`` does not start at this (large) process's size, which a child inherits
#: across fork and exec on Linux. It runs the command, waits for it with ``wait4`` and
#: writes the wall time and the command's rusage to the file named first.
LAUNCHER = """\
import json, os, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
proc = subprocess.Popen(cmd)
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
proc.returncode = code = os.waitstatus_to_exitcode(status)
with open(out, "w") as f:
    json.dump({"seconds": seconds, "maxrss": usage.ru_maxrss, "returncode": code}, f)
"""


def run_measured(cmd: Sequence[str], *, stdin: Path | None = None, stdout: Path | None = None,
                 env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run a command; its wall time and peak RSS.

    The command is started by a small launcher process (:data:`LAUNCHER`), which times
    it and reads its ``ru_maxrss`` from ``wait4``: the largest resident set of the
    command and of the processes it waited for (the largest one, not their sum).

    Returns
    -------
    dict
        ``seconds``, ``peak_mb``, ``returncode`` and ``stderr`` (its last 2,000 characters).
    """
    import tempfile

    fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
    fout = open(stdout, "wb") if stdout else subprocess.DEVNULL
    with tempfile.TemporaryDirectory() as tmp:
        result_file = os.path.join(tmp, "result.json")
        try:
            proc = subprocess.run([sys.executable, "-c", LAUNCHER, result_file, *cmd], stdin=fin,
                                  stdout=fout, stderr=subprocess.PIPE, env=env, cwd=cwd, check=False)
        finally:
            for f in (fin, fout):
                if f is not subprocess.DEVNULL:
                    f.close()
        err = proc.stderr.decode("utf-8", "replace")[-2000:]
        try:
            with open(result_file, encoding="utf-8") as f:
                res = json.load(f)
        except (OSError, ValueError):
            return {"seconds": math.nan, "peak_mb": math.nan, "returncode": proc.returncode or -1,
                    "stderr": err}
    # Linux and the BSDs report kilobytes, macOS bytes
    peak = res["maxrss"] / (1024 * 1024) if sys.platform == "darwin" else res["maxrss"] / 1024
    return {"seconds": res["seconds"], "peak_mb": peak, "returncode": res["returncode"], "stderr": err}


def child_env() -> dict:
    """The environment of a measured command: this one, single-threaded numeric libraries."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, first column left-aligned and the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(header)] + [line(r) for r in rows])


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a table cell ("-" when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"
