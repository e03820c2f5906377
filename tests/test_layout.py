"""The shape of the package: the prediction path stands alone, stages only look down.

Every import statement of every module (function-level ones included) is read from the
source, so an import hidden in a function still counts.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import chromesift

ROOT = Path(chromesift.__file__).resolve().parent

#: bottom to top: a module may import its own layer and the layers below it
LAYERS = (
    ("chromesift.errors", "chromesift.data"),
    ("chromesift.features",),
    ("chromesift.models",),
    ("chromesift", "chromesift.page_metadata"),  # the library call (chromesift/__init__.py)
    ("chromesift.tracking", "chromesift.metrics", "chromesift.plots", "chromesift.runtime"),
    ("chromesift.train", "chromesift.evaluate"),
    ("chromesift.cli", "chromesift.__main__"),
)
#: pairs of the same layer that must not import each other
APART = {("chromesift.train", "chromesift.evaluate"), ("chromesift.evaluate", "chromesift.train")}
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def part_of(module: str) -> str:
    """The unit the rules speak of: ``chromesift.<name>`` (or ``chromesift`` itself)."""
    parts = module.split(".")
    return "chromesift" if len(parts) == 1 else ".".join(parts[:2])


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The chromesift modules a source file imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # `from chromesift import batch`
    return {m for m in found if m == "chromesift" or m.startswith("chromesift.")}


def _known(module: str) -> bool:
    """Whether ``module`` is a module or package of the source tree (not a name inside one)."""
    rel = ROOT.parent.joinpath(*module.split("."))
    return rel.with_suffix(".py").is_file() or (rel / "__init__.py").is_file() or any(
        rel.parent.glob(rel.name + ".*.so")) or rel.with_suffix(".pyx").is_file() or rel.with_suffix(".c").is_file()


def edges() -> set[tuple[str, str, str]]:
    """(importing part, imported part, importing module) for every import across parts."""
    out = set()
    for path in sorted(ROOT.rglob("*.py")):
        src = module_name(path)
        for mod in imports_of(path):
            if not _known(mod):
                continue
            a, b = part_of(src), part_of(mod)
            if a != b:
                out.add((a, b, src))
    return out


def test_every_part_has_a_layer():
    parts = {part_of(module_name(p)) for p in ROOT.rglob("*.py")}
    assert sorted(parts - set(RANK)) == []


def test_stages_only_look_down():
    wrong = sorted(
        f"{src} imports {b}" for a, b, src in edges()
        if RANK[b] > RANK[a] or (a, b) in APART
    )
    assert wrong == []


def test_no_import_cycle_between_parts():
    graph: dict[str, set[str]] = {}
    for a, b, _ in edges():
        graph.setdefault(a, set()).add(b)

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    # the package's own __init__ is imported by every module, so it may be reached back
    cycles = sorted(a for a in graph if a != "chromesift" and a in reach(a) - {"chromesift"})
    assert cycles == []


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    """The two checks above fail on a tree that breaks them (they are not vacuous)."""
    fake = tmp_path / "chromesift"
    for rel, text in {
        "__init__.py": "",
        "data/__init__.py": "def f():\n    from chromesift.train import core\n",
        "train/__init__.py": "",
        "train/core.py": "from chromesift.data import x\n",
        "data/x.py": "",
    }.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake)
    found = edges()
    assert ("chromesift.data", "chromesift.train", "chromesift.data") in found
    with pytest.raises(AssertionError):
        test_stages_only_look_down()
    with pytest.raises(AssertionError):
        test_no_import_cycle_between_parts()


@pytest.mark.parametrize("call", [
    "chromesift.extract('<p>' + 'Ein Satz. ' * 30 + '</p>')",
    "chromesift.classify('line one of a page\\nline two', format='text')",
    "chromesift.load_model().extract_many(['<p>x</p>', b'<p>y</p>'])",
])
def test_predicting_imports_no_training_evaluation_mlflow_or_plots(call):
    code = (
        "import sys, chromesift\n"
        f"r = {call}\n"
        "r = list(r) if hasattr(r, '__next__') else r\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('mlflow', 'matplotlib', 'pyspark') or m.startswith(('chromesift.train', 'chromesift.evaluate')))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""
