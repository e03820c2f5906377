"""The decision rules that turn a page's paragraph scores into its main text.

The threshold comes from the bundle; the rules below were chosen on held-out corpora
(see ``docs/``). They need only the paragraph columns and the scores, so the library call,
the batch runtime and the evaluation (rescore) share them.
"""

from __future__ import annotations

import numpy as np

#: a headline is at least this long (shorter h1 are logos and section names)
MIN_HEADLINE_CHARS = 15


def headline_index(cols: dict[str, list]) -> int | None:
    """Position of the page's headline among its paragraphs, or None.

    The headline is the first paragraph of at least :data:`MIN_HEADLINE_CHARS`
    characters that is the page's first ``<h1>`` or that the ``<title>`` holds.
    Plain text has neither: its headline is found from the model's decisions
    (:func:`text_headline_index`).
    """
    texts = cols["text"]
    if not texts:
        return None
    h1, title = cols["page_h1"][0], cols["page_title"][0]
    for i, (text, tag) in enumerate(zip(texts, cols["tag"], strict=True)):
        if len(text) >= MIN_HEADLINE_CHARS and ((tag == "h1" and text == h1) or (title and text in title)):
            return i
    return None


#: plain text: the first paragraph kept is the headline when it has at most this many words
#: (split at white space), at least :data:`MIN_HEADLINE_CHARS` characters, no final
#: punctuation (:data:`SENTENCE_ENDS`) and another kept paragraph after it. Chosen on held-out
#: predictions (leave-one-dataset-out, all 14 corpora): 12, 20 and 30 words scored alike
#: (text-dump mean of the six modern corpora +0.0017 to +0.0019, the older eight unchanged).
TEXT_HEADLINE_WORDS = 20
#: what a paragraph that is a sentence, not a headline, ends with
SENTENCE_ENDS = tuple('.!?。！？:;…"“”»«)')


def text_headline_index(cols: dict[str, list], keep: np.ndarray) -> int | None:
    """Position of a plain-text page's headline among its paragraphs, or None.

    Plain text has no ``<h1>`` or ``<title>``: its headline is the first paragraph the model
    keeps (``keep``) when that reads as a headline, short and unpunctuated
    (:data:`TEXT_HEADLINE_WORDS`), and the body goes on after it. HTML pages have none here
    (their headline is :func:`headline_index`'s).
    """
    if not len(keep) or cols["source"][0] != "text":
        return None
    kept = np.flatnonzero(keep)
    if len(kept) < 2:
        return None
    first = int(kept[0])
    text = cols["text"][first].strip()
    if (len(text) >= MIN_HEADLINE_CHARS and len(text.split()) <= TEXT_HEADLINE_WORDS
            and not text.endswith(SENTENCE_ENDS)):
        return first
    return None


#: plain text: a paragraph with at least this share of the page's highest probability is
#: content even below the threshold (chosen on held-out corpora, leave-one-dataset-out:
#: text-dump shingle F1 +0.003 on the mean of 10; 0.5 won in 8 of 10 nested folds, 0.6 in 2)
TEXT_RELATIVE_CUT = 0.5
#: a kept paragraph with no other kept one within this many paragraphs on either side, nor
#: one in the same parent element (HTML), is isolated, and stays content only from
#: :data:`ISOLATED_SURE` up (a stray teaser, a caption or a footer line the model half
#: believes, far from the article; not a paragraph of the article's own container that a
#: box of links or an embed parts from the rest)
ISOLATED_REACH = 3
ISOLATED_SURE = 0.7
#: when the rules keep nothing of a page that has paragraphs, keep those with at least this
#: share of the page's highest score instead (None: an empty page stays empty), as plain
#: text's relative cut does ...
EMPTY_CUT: float | None = 0.5
#: ... but only where one of them has at least this many characters, a paragraph of prose (0:
#: always). A page whose right answer is empty (an index, login or error page) seldom has one,
#: and stays empty. Held out (docs/findings.md, seventeenth round): the mean of 14 as before,
#: five fewer collapsed pages; without the length, wcxb and cleanportaleval lose 0.007 each.
EMPTY_MIN_CHARS = 200
#: a kept paragraph of at least this many characters whose text an earlier kept paragraph
#: already has is left out (a teaser or a passage printed twice); shorter lines
#: ("Advertisement", table cells) may repeat. Chosen held out (``docs/findings.md``,
#: repeated paragraphs).
REPEAT_MIN_CHARS = 40


def caption_rows(cols: dict[str, list]) -> np.ndarray:
    """Which paragraphs are captions: those in a ``<figcaption>`` (HTML; plain text has none).

    An article's captions are not its body: most corpora that label captions at all label
    them chrome (``docs/findings.md``, captions), so :func:`decide` leaves them out unless
    asked for all the main content (scope ``"all"``).
    """
    if not cols["text"] or cols["source"][0] == "text":
        return np.zeros(len(cols["text"]), dtype=bool)
    paths = cols["path"]
    if "figcaption" not in "\n".join(paths):  # (most pages: one search, not one per paragraph)
        return np.zeros(len(paths), dtype=bool)
    return np.fromiter(("figcaption" in p for p in paths), dtype=bool, count=len(paths))


def content_mask(cols: dict[str, list], proba: np.ndarray, threshold: float, *, title: bool = False,
                 captions: bool = False) -> np.ndarray:
    """Which paragraphs are the main text: score at least ``threshold``, headline excluded.

    ``proba`` holds the model's scores (:meth:`Model.predict_columns`), on which the
    threshold and the rules below were chosen, not the calibrated probabilities of
    :meth:`Model.probability`.

    The headline (:func:`headline_index`; of plain text, :func:`text_headline_index`) and
    any paragraph of the same text (a copy of it) are left out unless ``title`` is True:
    corpora disagree on whether it belongs to the main text, so the text is the body and the
    title is asked for separately (:meth:`Model.headline`). With ``title=True`` the
    headline is kept when the model says it is content, like any other paragraph.

    A kept paragraph of :data:`REPEAT_MIN_CHARS` or more characters is kept only where its
    text first appears.

    Plain text has no markup to be sure with, so there the cut is relative as well: a
    paragraph is kept from :data:`TEXT_RELATIVE_CUT` of the page's highest probability
    when that is below ``threshold`` (a page the model is unsure of keeps its likeliest
    paragraphs rather than nothing).

    A kept paragraph alone, with no other kept one within :data:`ISOLATED_REACH`
    paragraphs, needs :data:`ISOLATED_SURE` (when the page keeps more than one).

    A page these rules leave empty keeps its paragraphs from :data:`EMPTY_CUT` of its
    highest score (the headline and its copies aside) when one of them has
    :data:`EMPTY_MIN_CHARS` characters or more: a page with a paragraph of prose is seldom
    one whose main text is nothing.

    Captions (:func:`caption_rows`) are left out unless ``captions`` is True (the scope
    ``"all"``): the rules then read them as scored 0.
    """
    return decide(cols, proba, threshold, title=title, captions=captions)[0]


#: the relative cut of :func:`_decide` when none is given: the page's source decides
_PER_SOURCE = object()


def decide(
    cols: dict[str, list], proba: np.ndarray, threshold: float, *, title: bool, relative_cut=_PER_SOURCE,
    empty_cut: float | None = EMPTY_CUT, captions: bool = False, empty_min_chars: int = EMPTY_MIN_CHARS,
) -> tuple[np.ndarray, int | None]:
    """:func:`content_mask` and the headline's position (:func:`headline_index`), found once.

    These are the decision rules of a fitted model: the library call, the batch runtime and
    :mod:`chromesift.evaluate.rescore` all decide through this function.

    ``relative_cut`` (a share of the page's highest probability, or None for no relative
    cut) replaces the default one, :data:`TEXT_RELATIVE_CUT` for plain text and none for
    HTML: :mod:`chromesift.evaluate.rescore` tries other rules with it. ``empty_cut``
    (default :data:`EMPTY_CUT`) is the fallback for a page that would keep nothing, taken only
    where a paragraph it keeps has ``empty_min_chars`` characters or more (default
    :data:`EMPTY_MIN_CHARS`).
    ``captions`` False (the article scope) reads the page's captions (:func:`caption_rows`)
    as scored 0, for every rule below, unless that leaves the page with nothing: a page whose
    only content is its captions (a gallery) keeps them, as ``captions=True`` decides.
    """
    proba = np.asarray(proba)
    if not captions and len(proba):
        caption = caption_rows(cols)
        if caption.any():
            keep, head = decide(cols, np.where(caption, 0.0, proba), threshold, title=title,
                                relative_cut=relative_cut, empty_cut=empty_cut, captions=True,
                                empty_min_chars=empty_min_chars)
            if keep.any():
                return keep, head
    if relative_cut is _PER_SOURCE:
        relative_cut = TEXT_RELATIVE_CUT if len(proba) and cols["source"][0] == "text" else None
    cut = threshold
    if relative_cut is not None and len(proba):
        cut = min(threshold, relative_cut * float(proba.max()))
    keep = proba >= cut
    kept = np.flatnonzero(keep)
    if len(kept) > 1:
        # a kept paragraph is near another when the gap before or after it is small (slices,
        # not np.diff and np.r_: their Python set-up costs more than a page's arithmetic)
        close = (kept[1:] - kept[:-1]) <= ISOLATED_REACH
        near = np.zeros(len(kept), dtype=bool)
        near[1:] = close
        near[:-1] |= close
        alone = ~near & (proba[kept] < ISOLATED_SURE)
        if alone.any() and cols["source"][0] == "html":
            # a paragraph with a kept sibling (the same parent element) is not alone
            parent = np.asarray(cols["anc1"])[kept]
            _, which, count = np.unique(parent, return_inverse=True, return_counts=True)
            alone &= (count[which] < 2) | (parent < 0)
        keep[kept[alone]] = False
    head = headline_index(cols)
    if head is None:
        head = text_headline_index(cols, keep)
    if head is not None and not title:
        _drop_headline(keep, cols["text"], head)
    if empty_cut is not None and not keep.any() and len(proba):
        keep = _fallback(cols["text"], proba, head if not title else None, empty_cut, empty_min_chars)
    _drop_repeats(keep, cols["text"])
    return keep, head


def _drop_headline(keep: np.ndarray, texts: list[str], head: int) -> None:
    """Leave out (in place) the headline ``head`` and its copies (a page that prints it twice)."""
    keep[head] = False
    line = texts[head]
    if texts.count(line) > 1:  # (one C-level pass; most pages print it once)
        for i in np.flatnonzero(keep).tolist():
            if texts[i] == line:
                keep[i] = False


def _fallback(texts: list[str], proba: np.ndarray, head: int | None, empty_cut: float,
              min_chars: int) -> np.ndarray:
    """What a page that keeps nothing keeps instead: its paragraphs from ``empty_cut`` of its
    highest score (the headline ``head`` and its copies left out, and nothing where that score
    is 0), where one of them has ``min_chars`` characters or more; else nothing."""
    body = np.ones(len(proba), dtype=bool)
    if head is not None:
        _drop_headline(body, texts, head)
    top = float(proba[body].max()) if body.any() else 0.0
    keep = body & (proba >= empty_cut * top) if top > 0 else np.zeros(len(proba), dtype=bool)
    if min_chars > 0 and not any(len(texts[i]) >= min_chars for i in np.flatnonzero(keep).tolist()):
        keep[:] = False
    return keep


def _drop_repeats(keep: np.ndarray, texts: list[str]) -> None:
    """Leave out (in place) each kept paragraph of :data:`REPEAT_MIN_CHARS` or more characters
    whose text a kept paragraph before it already has."""
    seen: set[str] = set()
    for i in np.flatnonzero(keep).tolist():
        text = texts[i]
        if len(text) >= REPEAT_MIN_CHARS:
            if text in seen:
                keep[i] = False
            else:
                seen.add(text)


def roles(content: np.ndarray, head: int | None, caption: np.ndarray | None = None) -> list[str]:
    """The role of each paragraph: ``title`` (the headline), ``caption`` (:func:`caption_rows`,
    given as ``caption``), ``body`` (content) or ``chrome``."""
    roles = ["body" if c else "chrome" for c in content.tolist()]
    if caption is not None:
        for i in np.flatnonzero(caption).tolist():
            roles[i] = "caption"
    if head is not None:
        roles[head] = "title"
    return roles


#: how far ``favor="precision"`` raises and ``favor="recall"`` lowers the bundle's threshold
#: (a preset, not a measured optimum: a shift of this size moves a page's verdicts only where
#: the model is unsure; pass ``threshold`` for an exact value)
FAVOR_STEP = 0.15
#: the range a preset threshold is clipped to (0 keeps everything, 1 nothing)
FAVOR_RANGE = (0.05, 0.95)
FAVORS = ("precision", "recall")


def pick_threshold(base: float, threshold: float | None = None, favor: str | None = None) -> float:
    """The decision threshold a call asks for: ``threshold`` as given, else ``base`` moved by ``favor``.

    Parameters
    ----------
    base
        The bundle's threshold.
    threshold
        An explicit threshold in [0, 1]; None keeps ``base`` (or the preset of ``favor``).
    favor
        ``"precision"`` (``base`` + :data:`FAVOR_STEP`: fewer, surer paragraphs), ``"recall"``
        (``base`` - :data:`FAVOR_STEP`: more paragraphs) or None; the result is clipped to
        :data:`FAVOR_RANGE`.

    Raises
    ------
    ValueError
        For both at once, a threshold outside [0, 1], or an unknown ``favor``.
    """
    if threshold is not None and favor is not None:
        raise ValueError("give threshold or favor, not both")
    if threshold is not None:
        threshold = float(threshold)
        if not 0.0 <= threshold <= 1.0:  # (NaN fails too)
            raise ValueError(f"threshold must be between 0 and 1, not {threshold!r}")
        return threshold
    if favor is None:
        return float(base)
    if favor not in FAVORS:
        raise ValueError(f"favor must be one of {', '.join(FAVORS)}, not {favor!r}")
    step = FAVOR_STEP if favor == "precision" else -FAVOR_STEP
    low, high = FAVOR_RANGE
    return min(high, max(low, float(base) + step))


#: what a call can ask to be kept, as the label convention (``k_convention``) its HTML pages are
#: read with: ``"article"`` the article body alone (the bundle's own reading, 0 for the shipped
#: model), ``"all"`` all the main content of the page, as CleanEval, CleanPortalEval and wcxb
#: label it (forum posts, listings, a service page's text: convention 2). Plain text keeps
#: its own convention (the bundle's ``text_convention``) whatever the scope. ``"auto"``, the
#: default (as no scope), is ``"article"`` but for a page that declares itself a forum thread,
#: read as ``"all"`` (:func:`page_scope`).
SCOPES = {"auto": None, "article": None, "all": 2.0}


def page_scope(scope: str | None, cols: dict[str, list]) -> str | None:
    """The scope one page is read with: ``scope``, or for ``"auto"`` (the default, as None)
    ``"all"`` where the page declares itself a forum thread (``cols["_thread"]``, from
    :func:`chromesift.data.threads.is_thread`): a thread's posts are its content. ``"article"``
    reads every page as an article. (A bundle trained without label conventions scores a
    thread as an article, :meth:`chromesift.Model.predict_columns`, and keeps its captions.)"""
    if scope is None or scope == "auto":
        thread = cols.get("_thread")
        if thread and thread[0]:
            return "all"
    return scope


def page_captions(scope: str | None, cols: dict[str, list]) -> bool:
    """Whether one page's captions can be content: :func:`scope_captions` of its
    :func:`page_scope` (what every decision on a parsed page passes to :func:`decide`)."""
    return scope_captions(page_scope(scope, cols))


def scope_captions(scope: str | None) -> bool:
    """Whether captions can be content under ``scope``: only ``"all"`` (the article body,
    the default, leaves them out; :func:`caption_rows`)."""
    return scope == "all"


def scope_convention(scope: str | None) -> float | None:
    """The ``k_convention`` HTML pages are read with for ``scope`` (None: the bundle's own).

    Raises
    ------
    ValueError
        For a scope not in :data:`SCOPES` (or not a string).
    """
    if scope is None:
        return None
    if not isinstance(scope, str) or scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return SCOPES[scope]
