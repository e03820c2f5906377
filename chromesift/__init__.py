"""chromesift: tell a web page's main content from its site chrome, paragraph by paragraph.

>>> import chromesift
>>> text = chromesift.extract(html)          # doctest: +SKIP
>>> table = chromesift.classify(html)        # doctest: +SKIP
>>> info = chromesift.metadata(html)         # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chromesift.data.limits import PageLimitError
from chromesift.data.page import detect_format
from chromesift.data.sniff import DecodeError
from chromesift.errors import BundleError, ChromesiftError, UserError
from chromesift.models.model import Model, load_model

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BundleError", "ChromesiftError", "DecodeError", "Model", "PageLimitError", "UserError", "classify", "detect_format",
    "explain", "extract", "headline", "load_model", "metadata",
]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def classify(
    document: str | bytes, *, format: str | None = None, model: Model | None = None,
    threshold: float | None = None, favor: str | None = None, uniform: bool = True, scope: str | None = None,
) -> pd.DataFrame:
    """Classify each paragraph of a page.

    Parameters
    ----------
    document
        HTML or plain text (paragraphs on separate lines), as str or bytes.
    format
        "html", "text", or None to detect (markup present -> html).
    model
        A :class:`Model` from :func:`load_model`; None uses the shipped default.
    threshold
        Decision threshold in [0, 1] instead of the bundle's (higher: fewer, surer paragraphs).
    favor
        ``"precision"`` or ``"recall"``: the bundle's threshold raised or lowered by a preset
        step (:data:`chromesift.models.rules.FAVOR_STEP`); not with ``threshold``.
    uniform
        The same columns and dtypes for text and HTML: every structural column, nullable,
        missing for plain text (see :meth:`Model.classify`).
    scope
        What counts as content on an HTML page: ``"auto"`` (None, the default) the article
        body alone, but all the posts of a page that says it is a forum thread; ``"article"``
        the article body alone; ``"all"`` all the page's main content (a forum's posts, a
        listing's items, a service page's text), which keeps more on pages that are not articles.

    Returns
    -------
    pandas.DataFrame
        One row per paragraph in order: ``position``, ``text``, ``is_content``,
        ``probability`` (content probability), ``role`` (``title`` for the headline,
        ``body``, ``chrome``), plus structural columns for HTML.
    """
    return (model or load_model()).classify(document, format=format, threshold=threshold, favor=favor,
                                                uniform=uniform, scope=scope)


def extract(
    document: str | bytes, *, format: str | None = None, model: Model | None = None, title: bool = False,
    threshold: float | None = None, favor: str | None = None, scope: str | None = None,
) -> str:
    """The main text of a page: its body's content paragraphs joined by newlines ("" if none).

    The headline is left out (it is :func:`headline`); ``title=True`` keeps it in place
    when the model counts it as content. ``threshold`` and ``favor`` trade precision for
    recall as for :func:`classify`; ``scope="all"`` keeps all the main content of a page that
    is not an article (see :func:`classify`).
    """
    return (model or load_model()).extract(document, format=format, title=title, threshold=threshold, favor=favor,
                                           scope=scope)


def headline(document: str | bytes, *, format: str | None = None, model: Model | None = None) -> str:
    """The page's headline ("" when none is found; see :meth:`Model.headline`)."""
    return (model or load_model()).headline(document, format=format)


def explain(document: str | bytes, *, format: str | None = None, model: Model | None = None, top: int = 3) -> pd.DataFrame:
    """Per paragraph, the features that pushed it to its side (see :meth:`Model.explain`)."""
    return (model or load_model()).explain(document, format=format, top=top)


def metadata(document: str | bytes, *, url: str | None = None, engine: str = "auto") -> dict:
    """What a page declares about itself: ``title``, ``author``, ``date`` (``YYYY-MM-DD``),
    ``site_name``, ``language``, ``url`` (canonical) and ``description``, None where it
    declares nothing, and ``engine``, the reader used.

    Read from JSON-LD, Open Graph, ``<meta>``, ``<time>`` and the page's own elements, by
    extruct and htmldate where the optional extra is installed (``pip install
    'chromesift[metadata]'``: microdata too, lenient JSON-LD, more date sources), else by a
    small lxml reader with the same keys. No model is involved, and nothing of it is
    imported until called (see :mod:`chromesift.page_metadata`).
    """
    # (the module is not named chromesift.metadata: importing it would replace this function)
    from chromesift.page_metadata import metadata as read

    return read(document, url=url, engine=engine)
