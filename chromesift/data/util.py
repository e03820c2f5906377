"""Small helpers shared by the stages: batches, and the switch of the compiled kernels."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Iterable, Iterator
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
