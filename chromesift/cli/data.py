"""``chromesift data``: import your own pages, build labeled tables, print their stats, download corpora."""

from __future__ import annotations

import argparse
from pathlib import Path

from chromesift.cli.options import add_output
from chromesift.errors import UserError

EXAMPLES = {
    "data": """\
examples:
  chromesift data download --manifest MANIFEST.json --output data/corpora
  chromesift data import my-pages/ --name mine --license CC-BY-4.0
  chromesift data build --datasets mine --output data/paragraphs
  chromesift data stats
""",
    "build": """\
examples:
  chromesift data build
      every dataset of the corpus folder, into data/paragraphs
  chromesift data build --datasets mine fundus --limit 200 --output data/small
      two datasets, 200 pages each, into another folder
""",
    "stats": """\
examples:
  chromesift data stats --datasets mine
""",
    "import": """\
examples:
  chromesift data import my-pages/ --name mine --license CC-BY-4.0 --ground-truth hand-labeled
      a folder of NAME.html + NAME.txt pairs
  chromesift data import labeled.jsonl.xz --name news --lang de --force
""",
    "download": """\
examples:
  chromesift data download --manifest MANIFEST.json --output data/corpora
  chromesift data download --manifest MANIFEST.json --datasets fundus --base-url https://example.org/corpora/
""",
}
_RAW = argparse.RawDescriptionHelpFormatter


def register(sub) -> None:
    """Add the ``data`` command and its sub-commands."""
    p = sub.add_parser("data", help="build labeled paragraph tables from the corpora",
                       epilog=EXAMPLES["data"], formatter_class=_RAW)
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    for name, helptext in (
        ("build", "parse and label the corpora, write data/paragraphs/*.parquet"),
        ("stats", "per-dataset pages, paragraphs, label balance, alignment quality"),
    ):
        q = dsub.add_parser(name, help=helptext, epilog=EXAMPLES[name], formatter_class=_RAW)
        q.add_argument("--data", type=Path, default=None, help="corpus folder (default: $CHROMESIFT_DATA, ../shared/datasets, data/corpora)")
        q.add_argument("--datasets", nargs="*", default=[], help="dataset names (default: all in MANIFEST.json)")
        q.add_argument("--limit", type=int, default=None, help="pages per dataset")
        q.add_argument("--jobs", type=int, default=2, help="parallel workers")
        add_output(q, aliases=("--out",), type=Path, default=Path("data") / "paragraphs", metavar="DIR",
                   help="folder of the tables (default data/paragraphs)")
        q.add_argument("--no-progress", action="store_true")
        q.set_defaults(func=_build if name == "build" else _stats)
    q = dsub.add_parser(
        "import", help="your own labeled pages -> a corpus dataset (NAME.jsonl.xz + MANIFEST.json entry)",
        description="Import pages with their main text into a corpus folder, in the shared corpus format, "
                    "for `chromesift data build` and `chromesift train`.",
        epilog=EXAMPLES["import"], formatter_class=_RAW)
    q.add_argument("source", type=Path,
                   help="a folder of NAME.html + NAME.txt pairs (the .txt: main text, one paragraph a line), "
                        "or a .jsonl[.gz|.xz] of {url, html, text} or {url, html, with, without} records")
    q.add_argument("--name", required=True, help="dataset name (file NAME.jsonl.xz, page ids NAME/...)")
    q.add_argument("--data", type=Path, default=None, metavar="DIR",
                   help="corpus folder to write to (default: $CHROMESIFT_DATA, else data/corpora)")
    q.add_argument("--license", default="unknown", help="license of the pages, for the model card")
    q.add_argument("--ground-truth", default="unknown", help="how the main texts were made (e.g. 'hand-labeled')")
    q.add_argument("--about", default="", help="one line on what the pages are")
    q.add_argument("--lang", default=None, help="ISO 639-1 code of every page (default: each page's <html lang>)")
    q.add_argument("--force", action="store_true", help="replace a dataset of the same name")
    q.add_argument("--no-progress", action="store_true")
    q.set_defaults(func=_import)
    q = dsub.add_parser("download", help="fetch corpora from their source URLs with checksums and resume",
                        epilog=EXAMPLES["download"], formatter_class=_RAW)
    q.add_argument("--manifest", type=Path, required=True, help="MANIFEST.json listing name, file, sha256, url")
    q.add_argument("--base-url", default=None, help="where files without their own url are served")
    add_output(q, aliases=("--dest",), type=Path, default=Path("data") / "corpora", metavar="DIR",
               help="folder the corpora are written to (default data/corpora)")
    q.add_argument("--datasets", nargs="*", default=[])
    q.set_defaults(func=_download)


def _config(args: argparse.Namespace):
    from chromesift.data import corpus
    from chromesift.data.build import BuildConfig

    data_dir = args.data or corpus.default_data_dir()
    if not Path(data_dir).is_dir():
        raise UserError(f"corpus folder {data_dir} not found (use --data or $CHROMESIFT_DATA)")
    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    return BuildConfig(
        data_dir=Path(data_dir),
        out_dir=args.output,
        datasets=tuple(args.datasets),
        limit=args.limit,
        jobs=args.jobs,
        progress=not args.no_progress,
    )


def _print_summary(pages) -> None:
    from chromesift.data.build import summarize

    table = summarize(pages)
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    full = pages[(pages["kind"] == "full") & ~pages["excluded"]]
    if len(full):
        print(
            f"\nfull-text pages: token recall {full['recall'].mean():.3f}, "
            f"content noise {full['noise'].mean():.3f}, excluded {int(pages['excluded'].sum())} pages"
        )


def _build(args: argparse.Namespace) -> int:
    import time

    from chromesift.data.build import build

    cfg = _config(args)
    t0 = time.perf_counter()
    pages = build(cfg)
    _print_summary(pages)
    print(f"built {len(pages)} pages in {time.perf_counter() - t0:.0f} s -> {cfg.out_dir}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    import pandas as pd

    from chromesift.data import corpus
    from chromesift.data.build import label_dataset

    built = Path(args.output) / "pages.parquet"
    if built.is_file() and not args.datasets and args.limit is None:
        pages = pd.read_parquet(built)
    else:
        cfg = _config(args)
        names = list(cfg.datasets) or corpus.dataset_names(cfg.data_dir)
        pages = pd.concat(
            [
                label_dataset(corpus.dataset_path(cfg.data_dir, n), limit=cfg.limit, jobs=cfg.jobs,
                              progress=cfg.progress, desc=n)[1]
                for n in names
            ],
            ignore_index=True,
        )
    _print_summary(pages)
    return 0


def _import(args: argparse.Namespace) -> int:
    import os

    from chromesift.data import corpus
    from chromesift.data.importer import ImportConfig, import_pages

    # never the shared corpora by default: a folder of one's own, unless named
    out = args.data or Path(os.environ.get(corpus.ENV_VAR) or Path("data") / "corpora")
    entry = import_pages(ImportConfig(
        source=args.source, out_dir=out, name=args.name, license=args.license,
        ground_truth=args.ground_truth, about=args.about, lang=args.lang, force=args.force,
        progress=not args.no_progress,
    ))
    langs = ", ".join(f"{k} {v}" for k, v in entry["languages"].items())
    print(f"{entry['pages']} pages ({langs}) -> {out / entry['file']}, listed in {out / 'MANIFEST.json'}")
    return 0


def _download(args: argparse.Namespace) -> int:
    import json

    from chromesift.data.download import download_corpora

    try:
        entries = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read manifest {args.manifest}: {exc}") from None
    if args.datasets:
        entries = [e for e in entries if e.get("name") in set(args.datasets)]
    paths = download_corpora(entries, args.output, args.base_url, progress=True)
    print(f"{len(paths)} file(s) verified in {args.output}")
    return 0
