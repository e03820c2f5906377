"""Stress pages: time and peak memory of one page at the per-page limits and past them.

Each case runs in a fresh process (so its peak RSS is its own) and prints what came out:
the number of paragraphs, or the error a user would see. The README's "Limits" section
quotes these figures.

    python benchmarks/stress.py               # every case
    python benchmarks/stress.py --case attrs-200k --case text-node-20mb
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

#: case -> Python expression building the page (runs in the child)
CASES = {
    "p-1m": "'<html><body>' + '<p>x</p>' * 1_000_000 + '</body></html>'",
    "p-100k": "'<html><body>' + ''.join(f'<p>Paragraph {i} of the page.</p>' for i in range(100_000)) + '</body></html>'",
    "lines-1m": "'a line of text\\n' * 1_000_000",
    "attrs-200k": "'<html><body><div ' + ' '.join(f'a{i}=\"v\"' for i in range(200_000)) + '><p>Hello world, a sentence of the page.</p></div></body></html>'",
    "text-node-20mb": "'<html><body><p>' + 'word ' * 4_000_000 + '</p></body></html>'",
    "nested-100k": "'<html><body>' + '<div>' * 100_000 + '<p>deep text here</p>' + '</div>' * 100_000 + '</body></html>'",
    "tags-2m": "'<html><body>' + '<b></b>' * 2_000_000 + '<p>text</p></body></html>'",
    # at both limits at once: 99,999 paragraphs of ten tags each (999,990 start tags)
    "at-limits": "'<html><body>' + ''.join(f'<p>P{i} <b>a</b><i>b</i><u>c</u><s>d</s><em>e</em><b>f</b><i>g</i><u>h</u><s>i</s></p>' for i in range(99_999)) + '</body></html>'",
}

CHILD = """
import json, resource, sys, time
page = eval(sys.argv[1])
fmt = "text" if sys.argv[2] == "lines-1m" else "html"
import chromesift
model = chromesift.load_model()
start = time.perf_counter()
try:
    n = len(model.classify(page, format=fmt))
    outcome = f"{n} paragraphs"
except chromesift.ChromesiftError as exc:
    outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
seconds = time.perf_counter() - start
print(json.dumps({"mb": len(page.encode("utf-8")) / 1e6, "seconds": seconds, "outcome": outcome,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_case(name: str, timeout: float) -> dict:
    """One case in a child process: page size, seconds, peak RSS (MB) and outcome."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, CASES[name], name], capture_output=True,
                             text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"case": name, "outcome": f"did not finish in {timeout:.0f} s"}
    if out.returncode != 0:
        return {"case": name, "outcome": f"crashed (exit {out.returncode}): {out.stderr.strip()[-200:]}"}
    return {"case": name, "wall": time.perf_counter() - t0, **json.loads(out.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="run only these cases")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    args = parser.parse_args(argv)
    print(f"{'case':16} {'MB':>7} {'s':>7} {'peak MB':>8}  outcome")
    for name in args.case or list(CASES):
        r = run_case(name, args.timeout)
        if "seconds" in r:
            print(f"{name:16} {r['mb']:7.1f} {r['seconds']:7.2f} {r['peak_mb']:8.0f}  {r['outcome']}")
        else:
            print(f"{name:16} {'':7} {'':7} {'':8}  {r['outcome']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
