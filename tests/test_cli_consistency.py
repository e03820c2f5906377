"""Every sub-command spells its options alike: --output, --trust, -v, --version, examples, usage."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

import chromesift
from chromesift import tracking
from chromesift.cli import COMMANDS, build_parser, main
from chromesift.cli.options import subparsers_of
from chromesift.models.bundle import DEFAULT_BUNDLE

STRUCTURE = Path(__file__).parent / "fixtures" / "outputs" / "structure.html"

#: (command words, the --output value's old names) of every command that writes somewhere
WRITERS = [
    (["data", "build"], ["--out"]),
    (["data", "stats"], ["--out"]),
    (["data", "download"], ["--dest"]),
    (["evaluate"], ["--out"]),
    (["train"], ["--out-dir"]),
    (["rescore"], ["--json"]),
    (["spark-extract"], []),
    (["extract"], []),
]
#: the commands that load a bundle
LOADERS = ["extract", "evaluate", "spark-extract"]


def parser_of(words: list[str]) -> argparse.ArgumentParser:
    parser = build_parser(words[0])
    for word in words:
        parser = subparsers_of(parser)[word]
    return parser


def all_parsers():
    out = {}

    def walk(prefix, parser):
        for name, child in subparsers_of(parser).items():
            out[" ".join([*prefix, name])] = child
            walk([*prefix, name], child)

    for command in COMMANDS:
        parser = subparsers_of(build_parser(command))[command]  # the others are placeholders
        out[command] = parser
        walk([command], parser)
    return out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"chromesift {chromesift.__version__}"


@pytest.mark.parametrize(("words", "aliases"), WRITERS, ids=lambda w: " ".join(w) if isinstance(w, list) else "")
def test_output_everywhere_old_names_hidden(words, aliases):
    parser = parser_of(words)
    helptext = parser.format_help()
    assert "--output" in helptext
    required = {"rescore": ["report"], "spark-extract": ["--input", "x"], "data download": ["--manifest", "m"]}
    base = required.get(" ".join(words), [])
    for name in ["--output", *aliases]:
        ns = parser.parse_args([*base, name, "somewhere"])
        assert str(ns.output) == "somewhere"
        if name != "--output":
            assert name not in helptext.replace("--output", "")


@pytest.mark.parametrize("command", LOADERS)
def test_trust_is_the_same_everywhere(command):
    parser = parser_of([command])
    base = ["--input", "x", "--output", "o"] if command == "spark-extract" else []
    assert parser.parse_args(base).trust is False
    assert parser.parse_args([*base, "--trust"]).trust is True
    assert parser.parse_args([*base, "--trust", "ab" * 32]).trust == "ab" * 32
    assert "--trust [SHA256]" in parser.format_usage()
    with pytest.raises(SystemExit):  # a file name after a bare --trust is no sha256
        parser.parse_args([*base, "--trust", "page.html"])


def test_every_command_help_has_examples():
    parsers = all_parsers()
    assert {"extract", "data", "data build", "data import", "train", "evaluate", "rescore",
            "spark-extract"} <= set(parsers)
    missing = [name for name, p in parsers.items() if "examples:" not in (p.epilog or "")]
    assert missing == []


@pytest.mark.parametrize("argv", [["-v", "extract", "x.html"], ["extract", "-v", "x.html"],
                                  ["extract", "x.html", "--verbose"], ["data", "build", "-v"]])
def test_verbose_before_or_after_the_command(argv):
    args = build_parser(argv[0] if argv[0] != "-v" else argv[1]).parse_args(argv)
    assert args.verbose is True
    quiet = [a for a in argv if a not in ("-v", "--verbose")]
    assert build_parser(quiet[0]).parse_args(quiet).verbose is False


@pytest.mark.parametrize(("argv", "usage"), [
    (["extract", "x.html", "--bogus"], "usage: chromesift extract"),
    (["data", "build", "--bogus"], "usage: chromesift data build"),
    (["train", "--bogus"], "usage: chromesift train"),
])
def test_a_bad_flag_prints_the_commands_usage(argv, usage, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and "unrecognized arguments: --bogus" in err


def test_model_uri_goes_through_the_registry(monkeypatch, capsys):
    """``--model models:/NAME/VERSION`` downloads the version's bundle, then loads it with the trust checks."""
    asked = []

    def resolve(uri, dst=None, *, progress=False):
        asked.append(uri)
        # the shipped bundle without its model.npz: loading it unpickles the pipeline
        shutil.copytree(DEFAULT_BUNDLE, dst, ignore=shutil.ignore_patterns("model.npz", "model.skops"))
        return Path(dst)

    monkeypatch.setattr(tracking, "resolve_model_uri", resolve)
    # a pinned sha256 that is not the bundle's is refused, as for a bundle folder
    assert main(["extract", str(STRUCTURE), "--model", "models:/news/3", "--trust", "0" * 64]) == 2
    assert "cannot load model bundle" in capsys.readouterr().err
    assert main(["extract", str(STRUCTURE), "--model", "models:/news/3", "--trust"]) == 0
    assert capsys.readouterr().out == chromesift.extract(STRUCTURE.read_text()) + "\n"
    assert asked == ["models:/news/3", "models:/news/3"]


def test_a_bad_model_uri_is_one_line(capsys):
    assert main(["extract", str(STRUCTURE), "--model", "models:/no such/x/y"]) == 2
    assert "not a registered model version" in capsys.readouterr().err


def test_serve_takes_the_same_trust():
    from chromesift.cli.serve import config_from_args

    assert config_from_args(["out"]).trusted is False
    assert config_from_args(["out", "--trust"]).trusted is True
    assert config_from_args(["out", "--trust", "AB" * 32]).trusted == "ab" * 32
