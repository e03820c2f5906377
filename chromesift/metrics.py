"""Scores of extracted text against ground truth, and of paragraph decisions against labels.

Three page-level scores, each the one its benchmark family uses, so that figures
are comparable with published ones:

* :func:`shingle_score`: the Scrapinghub article-extraction-benchmark score.
  Text is cut into ``\\w+`` tokens (case kept), tokens into a multiset of
  4-token shingles; per page TP/FP/FN are counted on the multisets and
  normalised to sum to one; precision and recall are averaged over pages and
  F1 is taken from the two means. Intervals come from a seeded bootstrap over
  pages.
* :func:`token_f1`: bag-of-tokens F1 per page, averaged over pages.
* :func:`snippet_score`: the trafilatura evaluation for ``with`` / ``without``
  snippets, counted over all snippets of all pages pooled.

And paragraph-level scores of a classifier: :func:`paragraph_scores` (plain and
character-weighted precision/recall/F1, average precision), :func:`weighted_prf`
(the precision/recall/F1 under any row weights, which training tunes its threshold
on) and :func:`calibration_summary` (reliability curve, expected calibration error,
Brier score, largest gap of a bin).

A shared layer under the training and evaluation stages: both score with these
functions, so their figures mean the same thing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

#: Scrapinghub tokens: runs of word characters, case kept.
_TOKEN = re.compile(r"\w+")
_WS = re.compile(r"\s+")

#: Shingle length of the Scrapinghub score.
SHINGLE = 4


#: a soft hyphen marks where a word may break and is invisible elsewhere: no character of the
#: text. Some ground truths keep it inside words, some extractors' texts too; either way it
#: would cut a word in two (it is no ``\\w``), so every score leaves it out of both sides
SOFT_HYPHEN = "\u00ad"


def tokenize(text: str | None) -> list[str]:
    """Split text into ``\\w+`` tokens (case kept), soft hyphens left out; ``None`` gives no tokens."""
    return _TOKEN.findall((text or "").replace(SOFT_HYPHEN, ""))


def shingles(text: str | None, n: int = SHINGLE) -> Counter:
    """The multiset of ``n``-token shingles of a text.

    A text with fewer than ``n`` tokens (but at least one) gives one shingle of
    all its tokens; an empty text gives an empty multiset.

    Parameters
    ----------
    text
        The text.
    n
        Shingle length in tokens.

    Returns
    -------
    collections.Counter
        Shingle (tuple of tokens) -> count.
    """
    toks = tokenize(text)
    if not toks:
        return Counter()
    if len(toks) < n:
        return Counter([tuple(toks)])
    return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))


def shingle_counts(pred: str | None, truth: str | None, n: int = SHINGLE) -> tuple[float, float, float]:
    """Normalised TP, FP, FN of one page under the Scrapinghub score.

    Parameters
    ----------
    pred
        Extracted text (``None`` counts as empty).
    truth
        Ground-truth text.
    n
        Shingle length.

    Returns
    -------
    tuple of float
        ``(tp, fp, fn)`` summing to one, or ``(0, 0, 0)`` when both texts are empty.
    """
    p, t = shingles(pred, n), shingles(truth, n)
    tp = sum((p & t).values())
    fp = sum(p.values()) - tp
    fn = sum(t.values()) - tp
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def page_precision_recall(tp: float, fp: float, fn: float) -> tuple[float, float]:
    """Precision and recall of one page from its TP/FP/FN.

    Both are 1 when ``fp == fn == 0`` (two empty texts agree perfectly); a
    value whose denominator is zero otherwise is NaN, and the averages skip it.
    """
    if fp == 0 and fn == 0:
        return 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp > 0 else float("nan")
    recall = tp / (tp + fn) if tp + fn > 0 else float("nan")
    return precision, recall


def f1_from(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall.

    0 when either is 0 (even if the other is undefined: an extractor that
    returns nothing has recall 0 and F1 0), NaN when one is NaN and the other
    is not 0.
    """
    if precision == 0 or recall == 0:
        return 0.0
    if np.isnan(precision) or np.isnan(recall):
        return float("nan")
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 with bootstrap 95% intervals.

    Attributes
    ----------
    precision, recall, f1
        Point estimates.
    precision_ci, recall_ci, f1_ci
        ``(low, high)`` 95% bootstrap intervals (NaN when not computed).
    n_pages
        Pages scored.
    """

    precision: float
    recall: float
    f1: float
    precision_ci: tuple[float, float]
    recall_ci: tuple[float, float]
    f1_ci: tuple[float, float]
    n_pages: int

    def as_dict(self) -> dict:
        """Plain dict (intervals as lists), ready for JSON."""
        d = asdict(self)
        for k in ("precision_ci", "recall_ci", "f1_ci"):
            d[k] = list(d[k])
        return d


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Row means skipping NaN, NaN for a row with no value (without a warning)."""
    ok = ~np.isnan(values)
    counts = ok.sum(axis=-1)
    sums = np.where(ok, values, 0.0).sum(axis=-1)
    return np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)


def _f1_arrays(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    """:func:`f1_from` over arrays."""
    out = np.full(p.shape, np.nan)
    ok = ~(np.isnan(p) | np.isnan(r))
    denom = np.where(ok, p + r, 0.0)
    pos = denom > 0
    out[(p == 0) | (r == 0)] = 0.0
    out[pos] = 2 * p[pos] * r[pos] / denom[pos]
    return out


def mean_score(
    precisions: Sequence[float],
    recalls: Sequence[float],
    *,
    n_boot: int = 1000,
    random_state: int = 0,
) -> Score:
    """Average per-page precision and recall (NaN skipped), F1 of the means, bootstrap CIs.

    Parameters
    ----------
    precisions, recalls
        Per-page values, NaN where undefined.
    n_boot
        Bootstrap resamples of pages (0 for no intervals).
    random_state
        Seed of the bootstrap.

    Returns
    -------
    Score
    """
    p = np.asarray(precisions, dtype=float)
    r = np.asarray(recalls, dtype=float)
    n = len(p)
    nan2 = (float("nan"), float("nan"))
    if n == 0:
        return Score(float("nan"), float("nan"), float("nan"), nan2, nan2, nan2, 0)
    mp = float(_nanmean_rows(p))
    mr = float(_nanmean_rows(r))
    cis = [nan2, nan2, nan2]
    if n_boot > 0:
        rng = np.random.default_rng(random_state)
        idx = rng.integers(0, n, size=(n_boot, n))
        bp = _nanmean_rows(p[idx])
        br = _nanmean_rows(r[idx])
        bf = _f1_arrays(bp, br)
        cis = [_interval(v) for v in (bp, br, bf)]
    return Score(mp, mr, f1_from(mp, mr), cis[0], cis[1], cis[2], n)


def _interval(values: np.ndarray) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def shingle_page_scores(
    preds: Iterable[str | None], truths: Iterable[str | None], n: int = SHINGLE
) -> tuple[np.ndarray, np.ndarray]:
    """Per-page Scrapinghub precision and recall (NaN where undefined)."""
    pr = [page_precision_recall(*shingle_counts(p, t, n)) for p, t in zip(preds, truths, strict=True)]
    if not pr:
        return np.zeros(0), np.zeros(0)
    arr = np.asarray(pr, dtype=float)
    return arr[:, 0], arr[:, 1]


def shingle_score(
    preds: Iterable[str | None],
    truths: Iterable[str | None],
    *,
    n: int = SHINGLE,
    n_boot: int = 1000,
    random_state: int = 0,
) -> Score:
    """The Scrapinghub article-extraction-benchmark score over pages.

    Parameters
    ----------
    preds
        Extracted texts, one per page.
    truths
        Ground-truth texts, same order.
    n
        Shingle length.
    n_boot
        Bootstrap resamples for the 95% intervals.
    random_state
        Bootstrap seed.

    Returns
    -------
    Score
        Mean precision and recall over pages, F1 of the two means.
    """
    p, r = shingle_page_scores(preds, truths, n)
    return mean_score(p, r, n_boot=n_boot, random_state=random_state)


def token_prf(pred: str | None, truth: str | None) -> tuple[float, float, float]:
    """Bag-of-tokens precision, recall and F1 of one page.

    Two empty texts score 1; one empty text against a non-empty one scores 0.
    """
    p, t = Counter(tokenize(pred)), Counter(tokenize(truth))
    np_, nt = sum(p.values()), sum(t.values())
    if np_ == 0 and nt == 0:
        return 1.0, 1.0, 1.0
    if np_ == 0 or nt == 0:
        return 0.0, 0.0, 0.0
    overlap = sum((p & t).values())
    precision, recall = overlap / np_, overlap / nt
    return precision, recall, f1_from(precision, recall)


def token_f1(preds: Iterable[str | None], truths: Iterable[str | None]) -> dict[str, float]:
    """Bag-of-tokens precision, recall and F1 per page, each averaged over pages.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (means of the per-page values) and ``n_pages``.
    """
    rows = [token_prf(p, t) for p, t in zip(preds, truths, strict=True)]
    if not rows:
        return {"precision": float("nan"), "recall": float("nan"), "f1": float("nan"), "n_pages": 0}
    arr = np.asarray(rows, dtype=float).mean(axis=0)
    return {"precision": float(arr[0]), "recall": float(arr[1]), "f1": float(arr[2]), "n_pages": len(rows)}


def normalize_space(text: str | None) -> str:
    """Collapse every whitespace run to one space and strip the ends (soft hyphens left out)."""
    return _WS.sub(" ", (text or "").replace(SOFT_HYPHEN, "")).strip()


@dataclass(frozen=True)
class SnippetCounts:
    """Snippet outcomes: ``with`` found (tp) or missed (fn), ``without`` found (fp) or not (tn)."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def __add__(self, other: SnippetCounts) -> SnippetCounts:
        return SnippetCounts(
            self.tp + other.tp, self.fn + other.fn, self.fp + other.fp, self.tn + other.tn
        )


def snippet_counts(text: str | None, with_: Iterable[str], without: Iterable[str]) -> SnippetCounts:
    """Count one page's snippets found in the extracted text (whitespace normalised).

    Parameters
    ----------
    text
        Extracted text (``None`` counts as empty).
    with_
        Snippets that must appear.
    without
        Snippets that must not appear.
    """
    hay = normalize_space(text)
    tp = fn = fp = tn = 0
    for s in with_:
        if normalize_space(s) in hay:
            tp += 1
        else:
            fn += 1
    for s in without:
        if normalize_space(s) in hay:
            fp += 1
        else:
            tn += 1
    return SnippetCounts(tp, fn, fp, tn)


def snippet_score(
    texts: Iterable[str | None],
    withs: Iterable[Iterable[str]],
    withouts: Iterable[Iterable[str]],
) -> dict[str, float]:
    """Segment precision, recall, F1 and accuracy over all snippets of all pages, pooled.

    Parameters
    ----------
    texts
        Extracted texts, one per page.
    withs, withouts
        Each page's ``with`` and ``without`` snippets.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``accuracy``, the pooled counts and ``n_pages``.
    """
    total = SnippetCounts()
    n = 0
    for text, w, wo in zip(texts, withs, withouts, strict=True):
        total = total + snippet_counts(text, w, wo)
        n += 1
    precision = total.tp / (total.tp + total.fp) if total.tp + total.fp else float("nan")
    recall = total.tp / (total.tp + total.fn) if total.tp + total.fn else float("nan")
    all_ = total.tp + total.fn + total.fp + total.tn
    accuracy = (total.tp + total.tn) / all_ if all_ else float("nan")
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1_from(precision, recall),
        "accuracy": accuracy,
        **asdict(total),
        "n_pages": n,
    }


# -- one extractor's lead over another, with an interval that resamples sites ---------------


def page_parts(kind: str, values: Sequence) -> np.ndarray:
    """Each page's share of a dataset's score, as the rows of a matrix that sums over pages.

    ``kind`` ``"full"``: ``values`` holds ``(precision, recall)`` of each page (NaN where
    undefined), and the rows are precision, 1 where it is defined, recall, 1 where it is
    defined (the sums give the means :func:`mean_score` takes). ``"snippets"``: ``values``
    holds each page's :class:`SnippetCounts`, and the rows are its tp, fp and fn (the sums
    give the pooled counts :func:`snippet_score` takes).
    """
    if kind == "full":
        pr = np.asarray(values, dtype=float).reshape(-1, 2)
        ok = ~np.isnan(pr)
        return np.column_stack([np.where(ok[:, 0], pr[:, 0], 0.0), ok[:, 0], np.where(ok[:, 1], pr[:, 1], 0.0),
                                ok[:, 1]]).astype(float)
    if kind == "snippets":
        return np.array([[c.tp, c.fp, c.fn] for c in values], dtype=float).reshape(-1, 3)
    raise ValueError(f"kind is 'full' or 'snippets', not {kind!r}")


def _f1_of_sums(kind: str, sums: np.ndarray) -> np.ndarray:
    """The F1 of summed :func:`page_parts` (the last axis), as :func:`mean_score` and
    :func:`snippet_score` compute it from the same pages."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "full":
            p = np.where(sums[..., 1] > 0, sums[..., 0] / sums[..., 1], np.nan)
            r = np.where(sums[..., 3] > 0, sums[..., 2] / sums[..., 3], np.nan)
        else:
            tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
            p = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
            r = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
    return _f1_arrays(np.asarray(p, dtype=float), np.asarray(r, dtype=float))


#: resamples times sites :func:`site_lead` draws at a time (about 16 MB of counts)
_BOOT_CELLS = 2_000_000


@dataclass(frozen=True)
class Lead:
    """How far one extractor's F1 is above another's on the same pages.

    Attributes
    ----------
    lead
        F1 of the first less F1 of the second, on all the pages.
    interval
        95% percentile interval of the lead over resamples of whole sites (NaN without).
    sites, pages
        How many sites and pages the lead is of.
    replicates
        The lead of each resample (empty without), so that leads of several datasets can be
        averaged resample by resample (:func:`mean_lead`).
    """

    lead: float
    interval: tuple[float, float]
    sites: int
    pages: int
    replicates: np.ndarray

    def as_dict(self) -> dict:
        """The figures, without the replicates."""
        return {"lead": self.lead, "low": self.interval[0], "high": self.interval[1], "sites": self.sites,
                "pages": self.pages}


def site_lead(kind: str, parts_a: np.ndarray, parts_b: np.ndarray, sites: Sequence, *, n_boot: int = 1000,
              random_state: int | Sequence[int] = 0) -> Lead:
    """The lead of extractor a over extractor b (:class:`Lead`), from their :func:`page_parts`
    of the same pages, with an interval that resamples sites.

    Pages of one site share a layout, so they fail or succeed together: resampling single
    pages would treat them as independent and give too narrow an interval. Each resample
    draws as many sites as there are, with replacement, and takes every page of each, for
    both extractors alike (paired).

    Parameters
    ----------
    kind
        ``"full"`` or ``"snippets"`` (:func:`page_parts`).
    parts_a, parts_b
        :func:`page_parts` of each extractor, one row per page, the same pages in the same order.
    sites
        Each page's site (any hashable value).
    n_boot
        Resamples (0: no interval).
    random_state
        Seed of the resampling (what :func:`numpy.random.default_rng` takes: give each dataset
        its own, so that :func:`mean_lead` averages independent resamples).
    """
    a, b = np.asarray(parts_a, dtype=float), np.asarray(parts_b, dtype=float)
    if a.shape != b.shape or len(a) != len(sites):
        raise ValueError(f"parts of {len(a)} and {len(b)} pages for {len(sites)} sites")
    nan2 = (float("nan"), float("nan"))
    if not len(a):
        return Lead(float("nan"), nan2, 0, 0, np.empty(0))
    _, site = np.unique(np.asarray([str(s) for s in sites]), return_inverse=True)
    n_sites = int(site.max()) + 1
    # each F1 is of summed parts (not linear in them): sum per site, then resample the sums
    sum_a = np.zeros((n_sites, a.shape[1]))
    sum_b = np.zeros((n_sites, b.shape[1]))
    np.add.at(sum_a, site, a)
    np.add.at(sum_b, site, b)
    lead = float(_f1_of_sums(kind, sum_a.sum(axis=0)) - _f1_of_sums(kind, sum_b.sum(axis=0)))
    if n_boot <= 0:
        return Lead(lead, nan2, n_sites, len(a), np.empty(0))
    rng = np.random.default_rng(random_state)
    replicates = np.empty(n_boot)
    chunk = max(1, _BOOT_CELLS // n_sites)  # (resamples at a time: memory bounded for many sites)
    for lo in range(0, n_boot, chunk):
        hi = min(n_boot, lo + chunk)
        drawn = rng.integers(0, n_sites, size=(hi - lo, n_sites))
        times = np.zeros((hi - lo, n_sites))  # how often each resample draws each site
        np.add.at(times, (np.arange(hi - lo)[:, None], drawn), 1.0)
        replicates[lo:hi] = _f1_of_sums(kind, times @ sum_a) - _f1_of_sums(kind, times @ sum_b)
    return Lead(lead, _interval(replicates), n_sites, len(a), replicates)


def mean_lead(leads: Sequence[Lead]) -> dict | None:
    """The mean lead over datasets, with the interval of the mean of their resamples (each
    dataset resampled on its own, resample ``k`` of each averaged); None without leads.

    The interval is given only where every lead has as many resamples; a dataset whose lead
    is NaN is left out."""
    leads = [x for x in leads if x.lead == x.lead]
    if not leads:
        return None
    out = {"lead": float(np.mean([x.lead for x in leads])), "low": float("nan"), "high": float("nan"),
           "datasets": len(leads)}
    sizes = {len(x.replicates) for x in leads}
    if len(sizes) == 1 and sizes != {0}:
        out["low"], out["high"] = _interval(np.mean([x.replicates for x in leads], axis=0))
    return out


def weighted_prf(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    weight: Sequence[float] | np.ndarray,
    *,
    zero_division: float = 0.0,
) -> tuple[float, float, float]:
    """Precision, recall and F1 of the content class, each row counted with its weight.

    Parameters
    ----------
    y_true
        True labels, content = 1 (or True).
    y_pred
        Predicted labels, content = 1 (or True).
    weight
        Weight of each row (ones: counts; characters: length-weighted).
    zero_division
        The precision (recall) when no row is predicted (labeled) content: 0, as the
        threshold search counts it, or NaN, undefined, as the evaluation reports it.

    Returns
    -------
    tuple of float
        ``(precision, recall, f1)``, F1 as :func:`f1_from` gives it.
    """
    t = np.asarray(y_true) == 1
    p = np.asarray(y_pred) == 1
    w = np.asarray(weight, dtype=float)
    tp = float(w[t & p].sum())
    fp = float(w[~t & p].sum())
    fn = float(w[t & ~p].sum())
    precision = tp / (tp + fp) if tp + fp else zero_division
    recall = tp / (tp + fn) if tp + fn else zero_division
    return precision, recall, f1_from(precision, recall)


def paragraph_scores(
    y_true: Sequence[bool] | np.ndarray,
    y_pred: Sequence[bool] | np.ndarray,
    *,
    lengths: Sequence[int] | np.ndarray | None = None,
    proba: Sequence[float] | np.ndarray | None = None,
) -> dict[str, float]:
    """Paragraph-level precision, recall and F1 of the content class.

    Parameters
    ----------
    y_true
        True labels (content = True).
    y_pred
        Predicted labels.
    lengths
        Paragraph lengths in characters, for the length-weighted variants.
    proba
        Predicted probability of content, for the average precision (PR-AUC).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``; ``char_precision``, ``char_recall``,
        ``char_f1`` when ``lengths`` is given; ``average_precision`` when
        ``proba`` is given (NaN if only one class is present); ``n_paragraphs``.
    """
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    nan = float("nan")
    out: dict[str, float] = {}
    out["precision"], out["recall"], out["f1"] = weighted_prf(t, p, np.ones(len(t)), zero_division=nan)
    if lengths is not None:
        w = np.asarray(lengths, dtype=float)
        out["char_precision"], out["char_recall"], out["char_f1"] = weighted_prf(t, p, w, zero_division=nan)
    if proba is not None:
        out["average_precision"] = average_precision(t, np.asarray(proba, dtype=float))
    out["n_paragraphs"] = len(t)
    return out


def average_precision(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (NaN without both classes)."""
    y_true = np.asarray(y_true, dtype=bool)
    if y_true.all() or not y_true.any():
        return float("nan")
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y_true, proba))


def reliability_curve(
    y_true: Sequence[bool] | np.ndarray, proba: Sequence[float] | np.ndarray, n_bins: int = 10
) -> dict[str, list]:
    """Mean predicted probability against observed frequency in equal-width bins.

    Parameters
    ----------
    y_true
        True labels.
    proba
        Predicted probability of the positive class, in [0, 1].
    n_bins
        Number of equal-width bins over [0, 1]; a probability of exactly 1
        falls in the last bin.

    Returns
    -------
    dict
        Lists of length ``n_bins``: ``bin_lower``, ``bin_upper``,
        ``mean_predicted`` and ``observed`` (None for an empty bin), ``count``.
    """
    t = np.asarray(y_true, dtype=float)
    q = np.asarray(proba, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.floor(q * n_bins).astype(int), 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    sum_p = np.bincount(which, weights=q, minlength=n_bins)
    sum_t = np.bincount(which, weights=t, minlength=n_bins)
    mean_p = [float(s / c) if c else None for s, c in zip(sum_p, counts, strict=True)]
    observed = [float(s / c) if c else None for s, c in zip(sum_t, counts, strict=True)]
    return {
        "bin_lower": edges[:-1].tolist(),
        "bin_upper": edges[1:].tolist(),
        "mean_predicted": mean_p,
        "observed": observed,
        "count": counts.astype(int).tolist(),
    }


def brier_score(y_true: Sequence[bool] | np.ndarray, proba: Sequence[float] | np.ndarray) -> float:
    """Mean squared difference between the predicted probability and the 0/1 label."""
    t = np.asarray(y_true, dtype=float)
    q = np.asarray(proba, dtype=float)
    if not len(t):
        return float("nan")
    return float(np.mean((q - t) ** 2))


def expected_calibration_error(curve: dict[str, list]) -> float:
    """Count-weighted mean gap between predicted and observed frequency over the bins."""
    total = sum(curve["count"])
    if not total:
        return float("nan")
    gap = sum(
        c * abs(p - o)
        for p, o, c in zip(curve["mean_predicted"], curve["observed"], curve["count"], strict=True)
        if c
    )
    return float(gap / total)


def worst_calibration_gap(curve: dict[str, list]) -> float:
    """The largest gap between predicted and observed frequency of a non-empty bin (NaN if none)."""
    gaps = [abs(p - o) for p, o, c in zip(curve["mean_predicted"], curve["observed"], curve["count"], strict=True)
            if c]
    return float(max(gaps)) if gaps else float("nan")


def calibration_summary(
    y_true: Sequence[bool] | np.ndarray, proba: Sequence[float] | np.ndarray, n_bins: int = 10
) -> dict:
    """How well predicted probabilities match observed frequencies, in one dict.

    Parameters
    ----------
    y_true
        True labels.
    proba
        Predicted probability of the positive class.
    n_bins
        Bins of the reliability curve.

    Returns
    -------
    dict
        ``reliability`` (:func:`reliability_curve`), ``ece``
        (:func:`expected_calibration_error`), ``brier`` (:func:`brier_score`) and
        ``worst_gap`` (:func:`worst_calibration_gap`).
    """
    curve = reliability_curve(y_true, proba, n_bins)
    return {
        "reliability": curve,
        "ece": expected_calibration_error(curve),
        "brier": brier_score(y_true, proba),
        "worst_gap": worst_calibration_gap(curve),
    }
