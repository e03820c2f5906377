"""Module paths that bundles of earlier chromesift versions pickled, and where those classes live now.

Before the prediction path moved out of the training stage, bundles pickled the classifier
as ``chromesift.train.model.TwoStageClassifier``. :func:`legacy_paths` lets such a bundle
(already verified and trusted) unpickle against :mod:`chromesift.models.classifier`.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator

#: old module path -> the module that holds its classes now
MOVED = {
    "chromesift.train.model": "chromesift.models.classifier",
    "chromesift.train.forest": "chromesift.models.forest",
}


@contextlib.contextmanager
def legacy_paths() -> Iterator[None]:
    """While unpickling, answer the old module paths with their new modules.

    Only names not already imported are aliased, and the aliases are removed afterwards;
    the objects unpickled are instances of the new modules' classes. (Unpickling an old
    path imports its parent package, ``chromesift.train``, which is light.)
    """
    added = []
    for old, new in MOVED.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
            added.append(old)
    try:
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)


def old_names(types: tuple[str, ...] | list[str]) -> list[str]:
    """The names that ``types`` (``module.Class``) had under the old module paths of :data:`MOVED`."""
    back = {new: old for old, new in MOVED.items()}
    out = []
    for name in types:
        module, _, cls = name.rpartition(".")
        if module in back:
            out.append(f"{back[module]}.{cls}")
    return out
