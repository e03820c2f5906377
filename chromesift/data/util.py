"""Small helpers shared by the stages: batches, file digests, the checkout's commit, and the
switch of the compiled kernels."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` consecutive items (the last may be shorter), lazily."""
    if size < 1:
        raise ValueError("batch_size must be at least 1")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks of ``chunk`` bytes.

    Parameters
    ----------
    path
        The file.
    chunk
        Bytes read at a time (the file is never held in memory whole).

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def git_commit(cwd: Path | None = None, *, short: bool = False) -> str:
    """The commit checked out in ``cwd`` (default: the working directory), or "" outside a checkout.

    Parameters
    ----------
    cwd
        Folder inside the checkout.
    short
        The abbreviated hash (``git rev-parse --short``) instead of the full one.
    """
    cmd = ["git", "rev-parse", *(["--short"] if short else []), "HEAD"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=cwd, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""

#: set to anything but "" or "0" (read when a kernel module is imported): every kernel module
#: (:mod:`chromesift.data.walk_kernels`, :mod:`chromesift.features.text_kernels`,
#: :mod:`chromesift.models.forest_kernels`, :mod:`chromesift.models.context`) uses its Python
#: reference and does not import its compiled extension
PURE_PYTHON_ENV = "CHROMESIFT_PURE_PYTHON"
BACKENDS = ("compiled", "python")


def pure_python() -> bool:
    """Whether :data:`PURE_PYTHON_ENV` asks for the Python kernels."""
    return os.environ.get(PURE_PYTHON_ENV, "").strip() not in ("", "0")


def load_compiled(name: str, fits: Callable[[ModuleType], bool]) -> ModuleType | None:
    """The compiled extension ``name``, or None: where it is not built, was built against
    another ABI or lxml (Cython's import checks raise ValueError or TypeError), does not
    ``fit`` (built from another version of its source: its layout constants differ), or
    :func:`pure_python` asks for the references."""
    if pure_python():
        return None
    try:
        module = importlib.import_module(name)
    except (ImportError, ValueError, TypeError):
        return None
    return module if fits(module) else None


def bind_kernels(namespace: dict, names: tuple[str, ...], compiled: ModuleType | None, python: object,
                 backend: str) -> None:
    """Bind ``names`` in a kernel module's ``namespace`` to those of ``backend`` ("compiled":
    the extension ``compiled``, "python": the references ``python``) and set its ``BACKEND``."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    source = compiled if backend == "compiled" else python
    if source is None:
        raise ValueError("the compiled extension is not available (not built, or CHROMESIFT_PURE_PYTHON is set)")
    namespace.update({name: getattr(source, name) for name in names})
    namespace["BACKEND"] = backend


@contextlib.contextmanager
def using(kernels: ModuleType, backend: str) -> Iterator[None]:
    """Run the block with the kernel module ``kernels`` switched to ``backend``, then back.

    For tests that compare the compiled kernels with their Python references; the
    kernel modules choose their backend once, at import.
    """
    before = kernels.BACKEND
    kernels.use(backend)
    try:
        yield
    finally:
        kernels.use(before)
