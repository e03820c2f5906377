"""Options every sub-command spells the same way: ``--output``, ``--trust``, ``--scope``, ``-v``.

Old spellings (``--out``, ``--out-dir``, ``--dest``) stay accepted as hidden aliases, so
scripts written for them keep working; ``--help`` shows only the one name.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")

TRUST_HELP = ("load a bundle this machine did not write (a bundle is a pickle: trust only its "
              "maker); give its sha256 to pin exactly that model")


def add_output(parser: argparse.ArgumentParser, *, aliases: tuple[str, ...] = (), **kwargs: Any) -> None:
    """``--output`` (dest ``output``), and the old names in ``aliases`` as hidden options of the same dest."""
    parser.add_argument("--output", dest="output", **kwargs)
    for old in aliases:
        # default SUPPRESS: the alias never overwrites the default --output set
        parser.add_argument(old, dest="output", type=kwargs.get("type"), default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)


def sha256_arg(value: str) -> str:
    """A sha256 given to ``--trust``: 64 hex digits (a page or folder name put right after a bare
    ``--trust`` is refused here, rather than taken for a sha256)."""
    if not _SHA256.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"not a sha256: {value!r} (64 hex digits; a bare --trust goes after the other arguments)")
    return value.lower()


def add_trust(parser: argparse.ArgumentParser, help: str = TRUST_HELP) -> None:
    """``--trust`` or ``--trust SHA256``: True, the pinned sha256, or False when absent."""
    parser.add_argument("--trust", nargs="?", type=sha256_arg, const=True, default=False, metavar="SHA256",
                        help=help)


SCOPE_HELP = ("auto (default): article, but all for a page that says it is a forum thread; "
              "article: an article's body alone; all: all the main content of an HTML page "
              "(forum posts, listings)")


def add_scope(parser: argparse.ArgumentParser, help: str = SCOPE_HELP) -> None:
    """``--scope``: what counts as content (:data:`chromesift.models.rules.SCOPES`; None: auto)."""
    from chromesift.models.rules import SCOPES

    parser.add_argument("--scope", choices=list(SCOPES), default=None, help=help)


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` on a sub-command's parser too, so it works after the command's name.

    The default is SUPPRESS, so a ``-v`` given before the command is not undone by the
    sub-command's default.
    """
    try:
        parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                            help="log debug messages")
    except argparse.ArgumentError:  # the command has a -v of its own
        pass


def subparsers_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-command parsers of ``parser`` by name (none when it has no sub-commands)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # (argparse has no public accessor)
            return dict(action.choices)
    return {}


def chosen_parser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The deepest sub-command parser ``argv`` names (``chromesift data build`` -> build's)."""
    for arg in argv:
        sub = subparsers_of(parser)
        if arg in sub:
            parser = sub[arg]
    return parser
