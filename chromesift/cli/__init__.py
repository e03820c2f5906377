"""The ``chromesift`` command: thin dispatch to each stage's own sub-command module.

Each sub-command module exposes ``register(subparsers)``, which adds its parser
and sets ``func`` (``args -> int`` exit code). Modules are imported only when
their command runs, so ``chromesift extract`` never imports mlflow.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from chromesift.cli.options import add_verbose, chosen_parser, subparsers_of
from chromesift.errors import ChromesiftError

#: command -> module holding its ``register``
COMMANDS = {
    "data": "chromesift.cli.data",
    "train": "chromesift.cli.train",
    "evaluate": "chromesift.cli.evaluate",
    "rescore": "chromesift.cli.rescore",
    "extract": "chromesift.cli.extract",
    "spark-extract": "chromesift.cli.spark",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; registers only ``command`` when given (cheap imports)."""
    parser = argparse.ArgumentParser(
        prog="chromesift",
        description="Tell a web page's main content from its site chrome, paragraph by paragraph.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages (before or after COMMAND)")
    parser.add_argument("--version", action="version", version=f"chromesift {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if command is None or command == name:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=f"see `chromesift {name} --help`")
    _verbose_everywhere(parser)
    return parser


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    for child in subparsers_of(parser).values():
        add_verbose(child)
        _verbose_everywhere(child)


def _version() -> str:
    from chromesift import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    args, extra = parser.parse_known_args(argv)
    if extra:
        # the top-level parser would print its own usage; the command's is the useful one
        chosen_parser(parser, argv).error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run_command(args.func, args)


def run_command(func, args: argparse.Namespace) -> int:
    """Run a command's function: a user's mistake is one line and exit 2, Ctrl-C exit 130."""
    try:
        return int(func(args) or 0)
    except ChromesiftError as exc:
        print(f"chromesift {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
