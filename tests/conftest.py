"""Shared fixtures: paths to the hand-made fixtures and the shared corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared corpora folder, or skip where it is absent."""
    from chromesift.data.corpus import default_data_dir

    for candidate in (default_data_dir(), SHARED):
        if (candidate / "MANIFEST.json").is_file():
            return candidate
    pytest.skip("shared corpora (../shared/datasets) are not beside this checkout")


@pytest.fixture(scope="session")
def seed_html() -> str:
    return (FIXTURES / "seed_article.html").read_text(encoding="utf-8")
