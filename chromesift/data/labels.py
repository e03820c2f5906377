"""Ground truth -> paragraph labels.

Full-text corpora: the page's paragraphs (flattened to one token stream) are
aligned to the ground-truth token stream by anchoring on shared token
n-grams. N-grams run across paragraph boundaries, so a short paragraph
("Home", a two-word heading) is matched only where its neighbourhood appears
in the same order in the ground truth, which keeps menu words that happen to
occur in the article from being labeled content.

Snippet corpora (``with`` / ``without``): a paragraph holding a ``with``
snippet is content, one holding a ``without`` snippet is chrome, the others
stay unlabeled (NaN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chromesift.data.vocab import SOFT_HYPHEN

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_WS = re.compile(r"\s+")

#: n-gram length used for anchoring.
NGRAM = 3
#: the anchors' length where the ground truth is mostly CJK characters (each one token): three
#: characters are no anchor (a menu's "トップ" or "新闻" is in most articles), eight are about
#: a short clause (docs/findings.md, "Labels of CJK pages")
CJK_NGRAM = 8
#: the share of a ground truth's tokens that are CJK characters from which it is read so
CJK_SHARE = 0.5
#: share of a paragraph's tokens that must be found for it to be content.
CONTENT_SHARE = 0.5
#: pages whose ground truth is found less than this are excluded.
MIN_COVERAGE = 0.5


def tokens(text: str) -> list[str]:
    """Lowercase word tokens; CJK characters are one token each. A soft hyphen in a word (some
    corpora's texts keep them) is left out, as the paragraphs leave it out."""
    return _TOKEN.findall(text.replace(SOFT_HYPHEN, "").lower())


@dataclass(frozen=True)
class PageLabels:
    """Labels of one page and how well the alignment went."""

    label: np.ndarray  # float, NaN = unlabeled
    weight: np.ndarray
    coverage: float  # share of ground-truth tokens found anywhere in the page
    recall: float  # share of ground-truth tokens covered by content paragraphs
    noise: float  # share of content-paragraph tokens absent from the ground truth
    excluded: bool
    kind: str  # "full", "empty", "snippets"


def cjk_share(toks: list[str]) -> float:
    """The share of ``toks`` (of :func:`tokens`) that are CJK characters."""
    return sum(1 for t in toks if _CJK_CHAR.fullmatch(t)) / len(toks) if toks else 0.0


def _ngrams(toks: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def align_full(paragraphs: list[str], truth: str, n: int | None = None) -> PageLabels:
    """Label paragraphs against a full ground-truth text.

    Parameters
    ----------
    paragraphs
        Paragraph texts in document order.
    truth
        The ground-truth main text.
    n
        Anchor n-gram length; None: :data:`CJK_NGRAM` where the ground truth is mostly CJK
        characters, else :data:`NGRAM`.
    """
    m = len(paragraphs)
    gt = tokens(truth or "")
    if not gt:
        # an index or error page: the right answer is no text at all
        return PageLabels(np.zeros(m), np.ones(m), 1.0, 1.0, 0.0, False, "empty")
    if n is None:
        n = CJK_NGRAM if cjk_share(gt) >= CJK_SHARE else NGRAM
    ptoks = [tokens(p) for p in paragraphs]
    flat: list[str] = [t for pt in ptoks for t in pt]
    owner = np.repeat(np.arange(m), [len(pt) for pt in ptoks])
    k = min(n, len(gt))
    gt_grams = set(_ngrams(gt, k))
    matched = np.zeros(len(flat), dtype=bool)
    for i, g in enumerate(_ngrams(flat, k)):
        if g in gt_grams:
            matched[i : i + k] = True
    counts = np.bincount(owner, minlength=m).astype(float)
    hits = np.bincount(owner, weights=matched, minlength=m)
    share = np.divide(hits, counts, out=np.zeros(m), where=counts > 0)
    label = (share >= CONTENT_SHARE).astype(float)
    weight = np.clip(np.abs(2 * share - 1), 0.2, 1.0)

    page_grams = set(_ngrams(flat, k))
    content_flat = [t for pt, lab in zip(ptoks, label, strict=True) if lab == 1 for t in pt]
    content_grams = set(_ngrams(content_flat, k))
    # content n-grams across a removed chrome paragraph are artefacts; the
    # union with all page n-grams inside content paragraphs keeps them honest
    found_any = np.zeros(len(gt), dtype=bool)
    found_content = np.zeros(len(gt), dtype=bool)
    for j, g in enumerate(_ngrams(gt, k)):
        if g in page_grams:
            found_any[j : j + k] = True
        if g in content_grams:
            found_content[j : j + k] = True
    coverage = float(found_any.mean())
    recall = float(found_content.mean())
    in_content = np.repeat(label == 1, counts.astype(int))
    n_content = int(in_content.sum())
    noise = float((in_content & ~matched).sum() / n_content) if n_content else 0.0
    excluded = coverage < MIN_COVERAGE
    return PageLabels(label, weight, coverage, recall, noise, excluded, "full")


def _norm(text: str) -> str:
    return _WS.sub(" ", text.replace(SOFT_HYPHEN, "")).strip().lower()


def align_snippets(paragraphs: list[str], with_: list[str], without: list[str]) -> PageLabels:
    """Partial labels from must/must-not snippets (others NaN)."""
    m = len(paragraphs)
    label = np.full(m, np.nan)
    norm = [_norm(p) for p in paragraphs]
    joined = " ".join(norm)
    starts = np.cumsum([0] + [len(p) + 1 for p in norm])[:-1]
    found = 0
    wanted = 0

    def locate(snippet: str) -> list[int]:
        s = _norm(snippet)
        if not s:
            return []
        hit = [i for i, p in enumerate(norm) if s in p]
        if hit:
            return hit
        at = joined.find(s)
        if at < 0:
            return []
        end = at + len(s)
        return [i for i, st in enumerate(starts) if st < end and st + len(norm[i]) > at]

    conflict: set[int] = set()
    for value, snippets in ((1.0, with_), (0.0, without)):
        for snip in snippets:
            wanted += 1
            idx = locate(snip)
            if idx:
                found += 1
            for i in idx:
                if not np.isnan(label[i]) and label[i] != value:
                    conflict.add(i)
                label[i] = value
    for i in conflict:
        label[i] = np.nan
    coverage = found / wanted if wanted else 0.0
    weight = np.where(np.isnan(label), 0.0, 1.0)
    return PageLabels(label, weight, coverage, float("nan"), float("nan"), found == 0, "snippets")


def label_page(frame: pd.DataFrame, truth: str | None, with_=(), without=()) -> PageLabels:
    """Labels for one page's paragraph table from whichever ground truth it has."""
    paragraphs = frame["text"].tolist()
    if truth is not None:
        return align_full(paragraphs, truth)
    return align_snippets(paragraphs, list(with_), list(without))
