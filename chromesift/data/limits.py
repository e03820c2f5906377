"""How much of a page the parsers take on: bounds that keep one page's time and memory in check.

Memory grows with the paragraphs of a page (about 3.5 KB each through features and
prediction), not with its bytes: a 11 MB page of a million ``<p>`` needed 3.8 GB. So a page
may hold at most :data:`MAX_PARAGRAPHS` paragraphs, and HTML at most :data:`MAX_TAGS` tags
(checked on the bytes before parsing, since the parsed tree alone needs about 450 bytes a
tag). Past either, the page is refused with one :class:`PageLimitError` that says which
limit it met; the environment variables below raise (or lower) them.
"""

from __future__ import annotations

import os

from chromesift.errors import ChromesiftError

#: paragraphs a page may have (the largest page of the 14 corpora has under 10,000)
MAX_PARAGRAPHS = 100_000
#: start tags an HTML page may have (counted on its bytes, before parsing)
MAX_TAGS = 1_000_000
ENV_MAX_PARAGRAPHS = "CHROMESIFT_MAX_PARAGRAPHS"
ENV_MAX_TAGS = "CHROMESIFT_MAX_TAGS"


class PageLimitError(ChromesiftError, ValueError):
    """A page is over one of the per-page limits (too many paragraphs or tags)."""


def _limit(env: str, default: int) -> int:
    value = os.environ.get(env)
    if not value:
        return default
    try:
        out = int(value)
    except ValueError:
        raise PageLimitError(f"${env} must be a whole number, not {value!r}") from None
    if out < 1:
        raise PageLimitError(f"${env} must be at least 1, not {out}")
    return out


def max_paragraphs() -> int:
    """:data:`MAX_PARAGRAPHS`, or ``$CHROMESIFT_MAX_PARAGRAPHS``."""
    return _limit(ENV_MAX_PARAGRAPHS, MAX_PARAGRAPHS)


def max_tags() -> int:
    """:data:`MAX_TAGS`, or ``$CHROMESIFT_MAX_TAGS``."""
    return _limit(ENV_MAX_TAGS, MAX_TAGS)


def check_paragraphs(count: int) -> None:
    """Raise :class:`PageLimitError` when a page has more paragraphs than allowed."""
    limit = max_paragraphs()
    if count > limit:
        raise PageLimitError(
            f"the page has {count:,} paragraphs, more than the limit of {limit:,} "
            f"(set ${ENV_MAX_PARAGRAPHS} to allow more; memory grows by about 3.5 KB a paragraph)"
        )


def check_tags(count: int) -> None:
    """Raise :class:`PageLimitError` when HTML has more start tags than allowed (counted on
    the bytes, before parsing)."""
    limit = max_tags()
    if count > limit:
        raise PageLimitError(
            f"the page has {count:,} tags, more than the limit of {limit:,} "
            f"(set ${ENV_MAX_TAGS} to allow more)"
        )
