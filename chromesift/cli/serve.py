"""``python -m chromesift.cli.serve OUT [--bundle BUNDLE]``: write a bundle's MLflow pyfunc model folder.

Serve the folder with ``mlflow models serve -m OUT`` (``make serve`` does both). This
module parses the command line; the work is
:func:`chromesift.runtime.serving.save_pyfunc_model`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from chromesift.cli.options import add_trust
from chromesift.errors import ChromesiftError
from chromesift.models import DEFAULT_BUNDLE
from chromesift.runtime.serving import (
    SERVE_MAX_PAGE_BYTES,
    SERVE_MAX_PAGES,
    Limits,
    save_pyfunc_model,
)

PROG = "python -m chromesift.cli.serve"


@dataclass(frozen=True)
class ServeConfig:
    """A parsed command line: where to write the pyfunc model, of which bundle, with what limits."""

    out: Path
    bundle: Path | None = None
    trusted: bool | str = False
    max_bytes: int = SERVE_MAX_PAGE_BYTES
    max_pages: int = SERVE_MAX_PAGES


def config_from_args(argv: list[str] | None = None) -> ServeConfig:
    """Parse ``argv`` (default: the process's arguments) into a :class:`ServeConfig`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write the MLflow pyfunc model of a bundle, for `mlflow models serve -m OUT`.",
    )
    parser.add_argument("out", type=Path, help="model folder to write (replaced)")
    parser.add_argument("--bundle", type=Path, default=None,
                        help="bundle folder (default: the shipped model)")
    add_trust(parser)
    parser.add_argument("--max-bytes", type=int, default=SERVE_MAX_PAGE_BYTES,
                        help="size cap of one page of a request, in bytes (default %(default)s)")
    parser.add_argument("--max-pages", type=int, default=SERVE_MAX_PAGES,
                        help="pages per request (default %(default)s)")
    args = parser.parse_args(argv)
    return ServeConfig(out=args.out, bundle=args.bundle, trusted=args.trust,
                       max_bytes=args.max_bytes, max_pages=args.max_pages)


def main(argv: list[str] | None = None) -> int:
    """Write the pyfunc model folder; print its path (exit 0), or the problem (exit 2)."""
    config = config_from_args(argv)
    try:
        limits = Limits.resolve({"max_bytes": config.max_bytes, "max_pages": config.max_pages}, environ={})
        out = save_pyfunc_model(config.bundle or DEFAULT_BUNDLE, config.out, trusted=config.trusted,
                                limits=limits)
    except (ChromesiftError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
