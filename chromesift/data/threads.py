"""Whether an HTML page says it is a forum thread.

A thread's posts are its content, where an article's comments are not: the default scope
(:func:`chromesift.models.rules.page_scope`) reads a page that says it is a thread as
``scope="all"``. Only what the page declares about itself counts, read from its ``<head>``:

- structured data of a forum post (schema.org's ``DiscussionForumPosting``);
- a ``<meta name="generator">`` naming forum software (phpBB, vBulletin, XenForo, Discuz!,
  WoltLab, ...);
- a canonical link (``<link rel="canonical">``) whose path is a thread's or a forum's
  (``/forum/``, ``/threads/``, ``viewtopic.php``, ``showthread.php``, Discuz!'s
  ``mod=viewthread``, ``/discussions/``,
  ``/questions/<id>``, a numbered ``/topic/<id>`` or ``?topic=<id>``, Discourse's
  ``/t/<slug>/<id>``, ``/t/<id>/``, MyBB's ``/thread-<id>``, Reddit's ``/r/<name>/comments/``).
  A topic page of a news site (``/topic/energy/``) is no thread.

These find 138 of wcxb's 162 forum threads and no page of the article corpora
(``docs/findings.md``, "Forum threads read as all main content"). The head alone is read,
with byte searches (no parse, no regular expression over the page): about 0.05 ms on the
median modern page.
"""

from __future__ import annotations

import re

from chromesift.data import walk_kernels

#: how far into the page its ``</head>`` is looked for; a page without one has its first
#: :data:`HEAD_BYTES` read as its head
HEAD_SEARCH = 300_000
HEAD_BYTES = 65_536
#: how far around a found word its tag's ``<`` and ``>`` are looked for
TAG_REACH = 2_000
#: schema.org's type of a forum post, as structured data names it
POSTING = b"DiscussionForumPosting"
#: forum software, as the ``content`` of its ``<meta name="generator">`` starts ("vBulletin 6.0.6",
#: "Discourse 3.4.0 - https://...": a blog's theme named after one is no forum)
FORUM_SOFTWARE = re.compile(
    rb"\bcontent\s*=\s*[\"']?\s*(?:vBulletin|phpBB|XenForo|Discourse|Invision|IP\.Board|MyBB|Simple Machines|SMF"
    rb"|NodeBB|Flarum|Vanilla|UBB\.threads|Discuz|WoltLab)\b", re.I)
_GENERATOR = re.compile(rb"\bname\s*=\s*[\"']?generator\b", re.I)
_CANONICAL = re.compile(rb"\brel\s*=\s*[\"']?canonical\b", re.I)
_HREF = re.compile(rb"\bhref\s*=\s*[\"']?([^\"'\s>]+)", re.I)
#: the path of a thread or a forum in a canonical URL
THREAD_PATH = re.compile(
    rb"/forums?/|/threads?/|viewtopic\.php|showthread\.php|[?&]mod=viewthread|/discussions?/|/questions/\d+"
    rb"|/topic/\d+|[?&]topic=\d+"
    rb"|/t/[^/?#]+/\d+|/t/\d+/|/thread-\d+|/r/\w+/comments/", re.I)


def _tags_with(data: bytes, word: bytes, stop: int):
    """The tags (``<...>``) of ``data[:stop]`` that hold ``word``, in order."""
    at = data.find(word, 0, stop)
    while at >= 0:
        lo = data.rfind(b"<", max(0, at - TAG_REACH), at)
        hi = data.find(b">", at, at + TAG_REACH)
        if lo >= 0 and hi >= 0:
            yield data[lo : hi + 1]
        at = data.find(word, at + len(word), stop)


def head_end(data: bytes) -> int:
    """Where the page's head ends: its first ``</head>`` (or ``</HEAD>``) in its first
    :data:`HEAD_SEARCH` bytes, else :data:`HEAD_BYTES`."""
    end = walk_kernels.find_head_end(data, HEAD_SEARCH)
    return end if end >= 0 else HEAD_BYTES


def is_thread(data: bytes) -> bool:
    """Whether the page (its bytes, UTF-8 or any ASCII-compatible encoding) declares itself a
    forum thread in its head (see the module's docstring)."""
    stop = head_end(data)
    if data.find(POSTING, 0, stop) >= 0:
        return True
    for tag in _tags_with(data, b"generator", stop):
        if _GENERATOR.search(tag) and FORUM_SOFTWARE.search(tag):
            return True
    for tag in _tags_with(data, b"canonical", stop):
        if _CANONICAL.search(tag):
            href = _HREF.search(tag)
            if href and THREAD_PATH.search(href.group(1)):
                return True
    return False
