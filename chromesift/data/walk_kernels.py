"""The kernels of the HTML parser's paragraph walk: compiled, or the Python references here.

:func:`walk` turns an lxml tree into the columns of the paragraph table (and each
element's paragraph range), :func:`ascii_tokens` tokenises an ASCII class/id/role value,
:func:`first_descendant` finds the first element of a name (the page's ``<title>``), and
:func:`main_range` the paragraphs of the main container, :func:`scan_tags` the start tags
before the parse, :func:`utf8` the bytes the parser reads and :func:`find_head_end` where a
page's head ends (:mod:`chromesift.data.threads`). :mod:`chromesift.data.html` calls them with
its vocabularies.

Where the optional extension :mod:`chromesift.data._walk` is built (against this lxml: its
C API must match), they are its, in C over libxml2's tree; else the Python references
below. The same results either way. The choice is made once, at import: :data:`BACKEND`
tells which ("compiled" or "python"), and the environment variable
``CHROMESIFT_PURE_PYTHON=1`` (read at import) forces the references. :func:`use` switches
the backend (for the tests that compare the two).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
from lxml import etree

from chromesift.data.util import bind_kernels, load_compiled
from chromesift.data.vocab import SOFT_HYPHEN

#: the kernels: compiled or Python, chosen once (:func:`use`)
KERNELS = ("walk", "ascii_tokens", "first_descendant", "main_range", "merge_link_runs", "scan_tags", "utf8",
           "find_head_end")

_WS = re.compile(r"\s+")
_ATTR_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"([a-z])([A-Z])")


def attr_tokens(value: str | None) -> list[str]:
    """Split a class/id/role value into lowercase word tokens (camelCase split)."""
    if not value:
        return []
    return [t for t in _ATTR_SPLIT.split(_CAMEL.sub(r"\1 \2", value).lower()) if t]


# --- the Python references of the kernels ---------------------------------------------------


def ascii_tokens(value: str) -> tuple[str, ...] | None:
    """:func:`attr_tokens` as a tuple where ``value`` is ASCII; None where it is not (beyond
    ASCII, ``str.lower`` can make letters of other characters: the caller tokenises those)."""
    if not value.isascii():
        return None
    return tuple(attr_tokens(value))


def first_descendant(root, name: str):
    """The first element below ``root`` in document order named ``name`` in no namespace, or
    None: ``root.find(".//" + name)``."""
    return root.find(".//" + name)


def main_range(ranges: list[tuple[int, int]], chars: list[int], link_chars: list[int], min_chars: float,
               max_link_share: float, other_weight: float) -> tuple[int, int] | None:
    """The paragraph range ``(first, end)`` of the main container, or None.

    Each range (an element's paragraphs ``first <= i < end``) scores its article-like text
    (paragraphs of at least ``min_chars`` characters, at most ``max_link_share`` of them
    links) minus ``other_weight`` times its other text; the first range with the highest
    score (inner elements close first) wins when it scores above zero.
    """
    n = len(chars)
    if not n or not ranges:
        return None
    if len(link_chars) != n:
        raise ValueError("chars and link_chars differ in length")
    c = np.asarray(chars, dtype=float)
    links = np.asarray(link_chars, dtype=float)
    good = np.where((c >= min_chars) & (links <= max_link_share * c), c, 0.0)
    cum_good = np.r_[0.0, np.cumsum(good)]
    cum_all = np.r_[0.0, np.cumsum(c)]
    r = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
    outside = (r < 0) | (r > n)
    if outside.any():
        first, end = r[np.flatnonzero(outside.any(axis=1))[0]].tolist()
        raise IndexError(f"range {(first, end)} outside {n} paragraphs")
    g = cum_good[r[:, 1]] - cum_good[r[:, 0]]
    score = g - other_weight * (cum_all[r[:, 1]] - cum_all[r[:, 0]] - g)
    best = int(np.argmax(score))  # the first maximum
    if score[best] > 0:
        first, end = r[best].tolist()
        return first, end
    return None


def _local_name(tag: str) -> str:
    """A tag name without its namespace (``{uri}name``), lowercase."""
    return tag.lower() if "}" not in tag else tag.rsplit("}", 1)[1].lower()


def ruby_brackets(parent) -> bool:
    """Whether a ruby reading's parent element has an ``rp`` child.

    A reading (``rt``) is read as text only then: ``rp`` holds the brackets a page gives its
    readings for where they are shown inline, as in "尹錫悦（ユンソンニョル）", and corpora keep
    such readings as text; a reading without them is an annotation over the line (furigana
    on every word of a page for learners), and the text is the one without it.
    """
    return parent is not None and any(isinstance(c.tag, str) and _local_name(c.tag) == "rp" for c in parent)


# One open element on the walk's stack is a tuple (a class with slots is slower to make):
# tag, class/id tokens, flag names it sets, skipped?, block element?, serial number,
# paragraphs before it
_F_TAG, _F_TOKENS, _F_FLAGS, _F_SKIP, _F_BLOCK, _F_SERIAL, _F_FIRST = range(7)


def walk(root, cols: dict[str, list], flag_names: list[str], skip_tags, block_tags, flag_tags: dict[str, str],
         role_flags: dict[str, str], hidden_search: Callable, tokens_fn: Callable[[str], tuple[str, ...]],
         token_cache: dict, max_ancestor_attrs: int, max_path_tags: int,
         token_cache_max: int = -1) -> list[tuple[int, int]]:
    """Fill ``cols`` with the paragraphs under ``root``; return each element's paragraph range.

    The vocabularies come as arguments (:func:`chromesift.data.html._walk` passes them):
    tag sets and maps, ``hidden_search`` the search method of the hidden-style pattern,
    ``tokens_fn`` a class/id/role value's tokens. ``token_cache`` and ``token_cache_max``
    are for the compiled walk, which tokenises ASCII values and caches them itself (this
    reference leaves both to ``tokens_fn``).

    Elements span consecutive paragraphs: an element holding any text gives
    ``(first, end)``, its paragraphs being ``first <= i < end``, in the order the
    elements close (inner before outer).
    """
    stack: list[tuple] = []
    ranges: list[tuple[int, int]] = []
    counts = dict.fromkeys(flag_names, 0)
    skipping = 0  # > 0 while inside a skipped subtree
    buf: list[str] = []
    link_buf = [0, 0]  # link characters, number of links
    pending_br = False
    serial = -1
    texts, tags, paths, depths = cols["text"], cols["tag"], cols["path"], cols["depth"]
    block_ids, anc1s, anc2s, anc3s = cols["block_id"], cols["anc1"], cols["anc2"], cols["anc3"]
    owns, ancs, links, link_chars = cols["own_attrs"], cols["anc_attrs"], cols["n_links"], cols["link_chars"]
    flag_cols = [(cols[name], name) for name in flag_names]

    def flush() -> None:
        nonlocal pending_br
        pending_br = False
        if not buf:
            return
        text = "".join(buf)
        buf.clear()
        n_chars, n_links = link_buf
        link_buf[0] = link_buf[1] = 0
        if not text or text.isspace():
            return
        text = _WS.sub(" ", text.replace(SOFT_HYPHEN, "")).strip()
        if not text:  # (soft hyphens only)
            return
        # the paragraph belongs to the nearest open block element
        bi = len(stack) - 1
        while bi > 0 and not stack[bi][_F_BLOCK]:
            bi -= 1
        block = stack[bi] if stack else None
        anc_tokens: list[str] = []
        kept = 0
        for j in range(bi - 1, -1, -1):
            toks = stack[j][_F_TOKENS]
            if toks:
                anc_tokens.extend(toks)
                kept += 1
                if kept >= max_ancestor_attrs:
                    break
        texts.append(text)
        tags.append(block[_F_TAG] if block else "")
        paths.append("/".join([fr[_F_TAG] for fr in stack[max(0, bi + 1 - max_path_tags) : bi + 1]]))
        depths.append(bi + 1)
        block_ids.append(block[_F_SERIAL] if block else -1)
        anc1s.append(stack[bi - 1][_F_SERIAL] if bi >= 1 else -1)
        anc2s.append(stack[bi - 2][_F_SERIAL] if bi >= 2 else -1)
        anc3s.append(stack[bi - 3][_F_SERIAL] if bi >= 3 else -1)
        owns.append(" ".join(block[_F_TOKENS]) if block else "")
        ancs.append(" ".join(anc_tokens))
        links.append(n_links)
        link_chars.append(min(n_chars, len(text)))
        for col, name in flag_cols:
            col.append(counts[name] > 0)

    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in walker:
        if event == "start":
            tag = _local_name(el.tag)
            if skipping or tag in skip_tags or el.get("hidden") is not None or (
                (style := el.get("style")) and hidden_search(style)
            ) or (tag == "rt" and not ruby_brackets(None if el is root else el.getparent())):
                skipping += 1
                stack.append((tag, (), (), True, False, -1, 0))
                walker.skip_subtree()
                continue
            cls, id_, role = el.get("class"), el.get("id"), el.get("role")
            tokens = (tokens_fn(cls) if cls else ()) + (tokens_fn(id_) if id_ else ())
            flags: tuple[str, ...] = ()
            if tag in flag_tags:
                flags = (flag_tags[tag],)
            if role:
                tokens += tokens_fn(role)
                rf = role_flags.get(role.strip().lower())
                if rf:
                    flags = flags + (rf,)
            block = tag in block_tags
            if block:
                flush()
            elif tag == "br":
                if pending_br:
                    flush()
                else:
                    pending_br = True
                    buf.append(" ")
            for f in flags:
                counts[f] += 1
            serial += 1
            stack.append((tag, tokens, flags, False, block, serial, len(texts)))
            if tag == "a" and el.get("href") is not None:
                link_buf[1] += 1
            txt = el.text
            if txt:
                buf.append(txt)
                if counts["in_a"]:
                    link_buf[0] += len(txt.strip())
                if pending_br and not txt.isspace():
                    pending_br = False
        elif event == "end":
            fr = stack.pop()
            if fr[_F_SKIP]:
                skipping -= 1
            else:
                if fr[_F_BLOCK]:
                    stack.append(fr)  # the paragraph still belongs to this element
                    flush()
                    stack.pop()
                for f in fr[_F_FLAGS]:
                    counts[f] -= 1
                if len(texts) > fr[_F_FIRST]:
                    ranges.append((fr[_F_FIRST], len(texts)))
            if skipping:
                continue
            tail = el.tail
            if tail:
                buf.append(tail)
                if counts["in_a"]:
                    link_buf[0] += len(tail.strip())
                if pending_br and not tail.isspace():
                    pending_br = False
        elif not skipping:
            # a comment or processing instruction: itself invisible, the text after it is not
            tail = el.tail
            if tail:
                buf.append(tail)
                if counts["in_a"]:
                    link_buf[0] += len(tail.strip())
    flush()
    return ranges


def merge_link_runs(cols: dict[str, list], ranges: list[tuple[int, int]],
                    lines: list | None = None) -> list[tuple[int, int]]:
    """Join each run of link-only paragraphs (a menu's items, a list of links) into one.

    A paragraph whose text is all link text joins the one before it where that one is
    link-only too and both have the same parent element (``anc1``) and DOM path. The joined
    paragraph keeps the first one's columns, with the texts joined by a space, the links
    added up and all of its text link text. ``cols`` is changed in place (the columns as long
    as ``text``; the others are left as they are); returns ``ranges`` in the new positions.
    ``lines``, where given, is filled with each new paragraph's texts joined by newlines where
    it joined more than one (else None): its lines in a plain-text dump of the page.
    """
    texts, n_links, link_chars = cols["text"], cols["n_links"], cols["link_chars"]
    anc1, paths = cols["anc1"], cols["path"]
    n = len(texts)
    if any(len(col) != n for col in (n_links, link_chars, anc1, paths)):
        raise ValueError("the paragraph columns differ in length")
    joins = [False] * n
    before = False  # the paragraph before is link-only
    for i in range(n):
        link = n_links[i] > 0 and link_chars[i] >= len(texts[i])
        joins[i] = link and before and anc1[i] >= 0 and anc1[i] == anc1[i - 1] and paths[i] == paths[i - 1]
        before = link
    if lines is not None:
        lines[:] = [None] * (n - sum(joins))
    if not any(joins):
        return ranges
    new = [0] * n
    w = -1
    for i in range(n):
        if not joins[i]:
            w += 1
        new[i] = w
    rows = [c for c, v in cols.items() if len(v) == n and c not in ("text", "n_links", "link_chars")]
    for c in rows:
        col = cols[c]
        col[:] = [v for v, j in zip(col, joins, strict=True) if not j]
    merged_texts: list[str] = []
    merged_links: list[int] = []
    merged_chars: list[int] = []
    run: list[str] = []
    for i in range(n):
        if lines is not None and not joins[i] and len(run) > 1:
            lines[len(merged_texts) - 1] = "\n".join(run)
        run = run + [texts[i]] if joins[i] else [texts[i]]
        if joins[i]:
            merged_texts[-1] += " " + texts[i]
            merged_links[-1] += n_links[i]
            merged_chars[-1] = len(merged_texts[-1])
        else:
            merged_texts.append(texts[i])
            merged_links.append(n_links[i])
            merged_chars.append(link_chars[i])
    if lines is not None and len(run) > 1:
        lines[len(merged_texts) - 1] = "\n".join(run)
    texts[:] = merged_texts
    n_links[:] = merged_links
    link_chars[:] = merged_chars
    return [(new[first], new[end - 1] + 1) for first, end in ranges]


#: one attribute of a start tag, from the separators before it: a name (``=`` alone counts
#: as one), then maybe ``=`` and a value, quoted (an unclosed quote runs to the end) or bare
_ATTR = rb"""[\s/]*(?:=|[^\s/><=]+)(?:\s*=\s*(?:"[^"]*"?|'[^']*'?|[^\s><]*))?"""
_TAG_NAME = re.compile(rb"<[A-Za-z][^\s/><]*")
_START_TAG = re.compile(_TAG_NAME.pattern + rb"(?:" + _ATTR + rb")*")
_ONE_ATTR = re.compile(_ATTR)
_SEPARATORS = re.compile(rb"[\s/]*")


def scan_tags(data: bytes, max_attributes: int) -> tuple[int, list[tuple[int, int, int]]]:
    """The number of start tags in ``data``, and those with more than ``max_attributes``
    attributes as ``(start, cut, end)``: the tag's ``<``, where the separators before its
    attribute number ``max_attributes + 1`` begin, and where its attributes and trailing
    separators end (its ``>``, a ``<`` or the end of the data). Dropping ``data[cut:end]``
    keeps the first ``max_attributes`` attributes.

    A start tag is ``<`` and an ASCII letter; its name runs to a space, ``/``, ``>`` or ``<``.
    """
    tags, out = 0, []
    for m in _START_TAG.finditer(data):
        tags += 1
        # every attribute takes at least two bytes: a shorter tag cannot hold too many
        if m.end() - m.start() <= 2 * max_attributes:
            continue
        pos = _TAG_NAME.match(data, m.start()).end()
        count, cut = 0, -1
        while pos < m.end():
            a = _ONE_ATTR.match(data, pos, m.end())
            if a is None or a.end() == pos:
                break
            count += 1
            if count == max_attributes + 1:
                cut = pos
            pos = a.end()
        if count > max_attributes:
            out.append((m.start(), cut, _SEPARATORS.match(data, m.end()).end()))
    return tags, out


def utf8(text: str) -> bytes:
    """``text`` as UTF-8 (UnicodeEncodeError at a surrogate): the bytes the parser reads."""
    return text.encode("utf-8")


def find_head_end(data: bytes, limit: int) -> int:
    """Where the first ``</head`` of ``data[:limit]`` begins, else its first ``</HEAD``, else -1
    (``limit``: a number of bytes, not negative)."""
    end = data.find(b"</head", 0, limit)
    return end if end >= 0 else data.find(b"</HEAD", 0, limit)


#: the Python references of the kernels
python = SimpleNamespace(**{name: globals()[name] for name in KERNELS})
#: the extension, where it is built (else None)
compiled = load_compiled("chromesift.data._walk", lambda m: all(hasattr(m, name) for name in KERNELS))


def use(backend: str) -> None:
    """Run the kernels of ``backend``: "compiled" (the extension) or "python" (the references)."""
    bind_kernels(globals(), KERNELS, compiled, python, backend)


BACKEND = "compiled" if compiled is not None else "python"
use(BACKEND)
