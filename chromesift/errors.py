"""Exceptions a user of chromesift can meet, in one place."""

from __future__ import annotations


class ChromesiftError(Exception):
    """Base class of chromesift's own errors."""


class UserError(ChromesiftError):
    """A mistake the user can fix (bad path, bad option): CLIs print it without a traceback."""


class BundleError(ChromesiftError, ValueError):
    """A model bundle is missing, tampered with, or from incompatible versions."""
