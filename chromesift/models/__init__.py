"""Model bundles: save, verify, load; the default bundle ships in ``default/``."""

from pathlib import Path

from chromesift.models.bundle import load_bundle, read_metadata, save_bundle, verify_bundle

#: The bundle installed with the package (package data, so ``__file__`` is right here).
DEFAULT_BUNDLE = Path(__file__).resolve().parent / "default"

__all__ = ["DEFAULT_BUNDLE", "load_bundle", "read_metadata", "save_bundle", "verify_bundle"]
