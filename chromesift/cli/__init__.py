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
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if command is None or command == name:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=f"see `chromesift {name} --help`")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
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
