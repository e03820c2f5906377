"""Training without tracking: data preparation, the pipeline, grouped CV, threshold."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from chromesift.data import schema
from chromesift.features import ParagraphFeatures
from chromesift.metrics import weighted_prf
from chromesift.models.classifier import TwoStageClassifier
from chromesift.train.config import TrainConfig
from chromesift.train.lexicon import fit_lexicon, score_rows

log = logging.getLogger(__name__)


def make_pipeline(config: TrainConfig) -> Pipeline:
    """The one fitted object: paragraph table -> content decision."""
    return Pipeline(
        [
            ("features", ParagraphFeatures(neighbours=config.neighbours, hash_buckets=config.hash_buckets,
                                           conventions=dict(config.conventions) or None,
                                           convention=config.convention,
                                           text_convention=config.text_convention)),
            (
                "classifier",
                TwoStageClassifier(
                    **config.classifier_params(),
                    threshold=0.5 if config.threshold is None else config.threshold,
                ),
            ),
        ]
    )


def as_text_mode(table: pd.DataFrame) -> pd.DataFrame:
    """The same pages as plain-text dumps: one line per paragraph, no DOM columns.

    A joined run of link-only paragraphs (a menu) is a line per link again, as in the page's
    plain text (the table's ``lines``, where it has them), each with the run's label.
    """
    out = table.copy()
    if "lines" in out.columns:
        runs = out["lines"].to_numpy(dtype=object)
        split = np.array([r is not None and r == r for r in runs], dtype=bool)  # (NaN: none)
        if split.any():
            texts = out["text"].to_numpy(dtype=object).copy()
            texts[split] = [r.split("\n") for r in runs[split]]
            out["text"] = texts
            out = out.explode("text", ignore_index=True)
            out["position"] = out.groupby("doc_id", sort=False).cumcount().astype("int64")
        out = out.drop(columns="lines")
    for col, value in schema.TEXT_DEFAULTS.items():
        if col in ("page_chars",):
            continue
        out[col] = value
    out["doc_id"] = out["doc_id"].astype(str) + "#text"
    return out


def page_rows(table: pd.DataFrame, share: float, rng: np.random.Generator) -> np.ndarray:
    """True at the rows of a random ``share`` of ``table``'s pages (each page drawn alone)."""
    docs = table["doc_id"].drop_duplicates().to_numpy()
    return table["doc_id"].isin(set(docs[rng.random(len(docs)) < share])).to_numpy()


def without_attrs(table: pd.DataFrame, share: float, rng: np.random.Generator) -> pd.DataFrame:
    """``table`` with the class/id tokens (``own_attrs``, ``anc_attrs``) of a random ``share``
    of its pages blanked, as plain text has none."""
    pick = page_rows(table, share, rng)
    out = table.copy()
    for col in ("own_attrs", "anc_attrs"):
        out[col] = np.where(pick, schema.TEXT_DEFAULTS[col], out[col].to_numpy(dtype=object))
    return out


def sample_pages(table: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Whole pages, in random order, until ``max_rows`` paragraphs (all if fewer)."""
    if len(table) <= max_rows:
        return table
    sizes = table.groupby("doc_id", sort=True).size()
    ids = sizes.index.to_numpy()[rng.permutation(len(sizes))]
    keep = ids[np.cumsum(sizes.loc[ids].to_numpy()) <= max_rows]
    return table[table["doc_id"].isin(set(keep))]


def headline_rows(table: pd.DataFrame) -> np.ndarray:
    """True at each HTML page's headline, as :func:`chromesift.models.rules.headline_index` finds it."""
    from chromesift.models.rules import headline_index

    first = np.zeros(len(table), dtype=bool)
    at = np.flatnonzero((table["source"] == "html").to_numpy())
    columns = {k: table[k].to_numpy()[at] for k in ("text", "tag", "page_h1", "page_title")}
    # rows of a page are in position order, so a page's rows are its paragraphs in order
    pages = pd.Series(table["doc_id"].to_numpy()[at])
    for rows in pages.groupby(pages, sort=False).indices.values():
        head = headline_index({k: v[rows].tolist() for k, v in columns.items()})
        if head is not None:
            first[at[rows[head]]] = True
    return first


def prepare(table: pd.DataFrame, config: TrainConfig, *, seed_offset: int = 0) -> pd.DataFrame:
    """Training rows: sampled pages, text-mode copies, and the sample weights."""
    schema.validate(table, require_labels=True, stage="train")
    rng = np.random.default_rng(config.random_state + seed_offset)
    table = sample_pages(table, int(config.max_rows / (1 + config.text_copies)), rng)
    parts = [table]
    if config.text_copies > 0:
        parts.append(as_text_mode(table[page_rows(table, config.text_copies, rng)]))
    if config.attr_dropout > 0:
        parts[0] = without_attrs(table, config.attr_dropout, rng)
    out = pd.concat(parts, ignore_index=True).drop(columns="lines", errors="ignore")
    w = out["weight"].fillna(0).to_numpy(dtype=float)
    w = np.where(w >= config.min_label_weight, 1.0, 0.0)
    if config.length_weight:
        n_chars = out["text"].str.len().to_numpy(dtype=float)
        w = w * np.clip(np.log2(2 + n_chars) / 6, 0.3, 2.0)
    w = np.where(np.isfinite(out["label"].to_numpy(dtype=float)), w, 0.0)
    if not config.learn_headline:
        w = np.where(headline_rows(out), 0.0, w)
    if config.page_weight > 0:
        w = w * page_weights(out["doc_id"], w > 0, config.page_weight)
    groups = out["dataset"] if "dataset" in out.columns else pd.Series(0, index=out.index)
    if config.site_weight > 0 and "site" in out.columns:
        w = w * site_weights(out["site"], groups, w, config.site_weight)
    cal_w = None
    if config.dataset_balance > 0:
        drawn = balanced_rows(groups, w > 0, config.max_fit_rows, 1 - config.dataset_balance, rng)
        if config.calibration_mix == "corpora":
            cal_w = w * drawn * corpus_share(groups, w > 0, drawn > 0)
        w = w * drawn
    out["sample_weight"] = w
    if cal_w is not None:  # else the map weighs the rows as the boosters do
        out["calibration_weight"] = cal_w
    return out


def corpus_share(dataset: pd.Series, used: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Per row, its dataset's ``used`` rows over its ``drawn`` rows: the weight that makes
    the drawn rows count each corpus as much as all its used rows do."""
    codes = pd.factorize(dataset)[0]
    n_used = np.bincount(codes, weights=np.asarray(used, dtype=float))
    n_drawn = np.bincount(codes, weights=np.asarray(drawn, dtype=float))
    return (n_used / np.maximum(n_drawn, 1.0))[codes]


def dataset_quotas(sizes: np.ndarray, total: int, power: float) -> np.ndarray:
    """Rows to draw from each dataset: ``total`` in all (or every row if fewer), shared in
    proportion to ``size ** power``, no dataset giving more rows than it has (its unused
    share goes to the others)."""
    sizes = np.asarray(sizes, dtype=float)
    quota = np.zeros_like(sizes)
    want = min(float(total), sizes.sum())
    open_ = sizes > 0
    while open_.any():
        share = np.where(open_, sizes, 0.0) ** power * open_
        q = (want - quota.sum()) * share / share.sum()
        full = open_ & (q >= sizes)
        if not full.any():
            quota = np.where(open_, q, quota)
            break
        quota[full] = sizes[full]
        open_ &= ~full
    return np.minimum(np.floor(quota + 1e-9), sizes).astype(np.int64)


def balanced_rows(dataset: pd.Series, used: np.ndarray, total: int, power: float,
                  rng: np.random.Generator) -> np.ndarray:
    """1.0 for the rows each booster learns from, 0.0 for the others (which stay as context).

    Of the ``used`` rows, ``total`` are drawn at random, each dataset's share in
    proportion to its used rows ``** power``: 1 draws rows uniformly (the largest
    corpora dominate), 0 draws as many from every corpus.
    """
    codes, _ = pd.factorize(dataset)
    used = np.asarray(used, dtype=bool)
    sizes = np.bincount(codes[used], minlength=codes.max() + 1 if len(codes) else 0)
    quotas = dataset_quotas(sizes, total, power)
    keep = np.zeros(len(codes))
    for code, quota in enumerate(quotas):
        rows = np.flatnonzero(used & (codes == code))
        keep[rng.choice(rows, size=quota, replace=False) if quota < len(rows) else rows] = 1.0
    return keep


def page_weights(doc_id: pd.Series, used: np.ndarray, power: float) -> np.ndarray:
    """``n ** -power`` per row, n = used rows of its page, scaled to mean 1 over used rows."""
    codes = pd.factorize(doc_id)[0]
    n = np.bincount(codes, weights=used.astype(float))[codes]
    w = np.where(used, np.maximum(n, 1.0) ** -power, 0.0)
    return w * (used.sum() / w.sum()) if used.any() else w


def site_weights(site: pd.Series, dataset: pd.Series, w: np.ndarray, power: float) -> np.ndarray:
    """``m ** -power`` per row, m = weight of its site's rows (``w``), scaled so that each
    dataset's rows weigh in all what they weighed before (a dataset's share is
    ``dataset_balance``'s business, not this one's)."""
    w = np.asarray(w, dtype=float)
    sites = pd.MultiIndex.from_arrays([dataset.to_numpy(), site.to_numpy()]).factorize()[0]
    m = np.bincount(sites, weights=w)[sites]
    factor = np.where(w > 0, np.maximum(m, 1e-12) ** -power, 0.0)
    codes = pd.factorize(dataset)[0]
    before = np.bincount(codes, weights=w)
    after = np.bincount(codes, weights=w * factor)
    return factor * np.divide(before, after, out=np.zeros_like(before), where=after > 0)[codes]


# The feature frame of the last cross-validated table, kept for the final fit on
# the same table (features are stateless, so computing them twice is waste).
_FEATURES: list = []


def _key(rows: pd.DataFrame, config: TrainConfig) -> tuple:
    # (lexicon_bits: the cached frame has x_lex's column where the lexicon is on)
    return (id(rows), len(rows), config.neighbours, config.hash_buckets, bool(config.lexicon_bits))


def _cache(rows: pd.DataFrame, config: TrainConfig, features: pd.DataFrame) -> None:
    _FEATURES[:] = [(_key(rows, config), features)]


def _take_cached(rows: pd.DataFrame, config: TrainConfig) -> pd.DataFrame | None:
    """The cached features of ``rows`` (dropping them from the cache), else None."""
    if not _FEATURES:
        return None
    key, features = _FEATURES.pop()
    if key != _key(rows, config) or not features.index.equals(rows.index):
        return None
    return features


def fit(rows: pd.DataFrame, config: TrainConfig, features: pd.DataFrame | None = None, *,
        own_features: bool = False) -> Pipeline:
    """Fit the pipeline on prepared rows (see :func:`prepare`).

    ``features`` may hold the feature frame of ``rows`` already computed: the
    feature step is stateless and per page, so the result is the same pipeline
    as fitting end to end, without computing the features again. With
    ``own_features`` the frame is this call's to change: a column ``x_lex`` already
    in its place (:func:`features_with_lexicon_slot`) gets the training rows'
    scores written into it, instead of a copy of the frame with them.
    """
    pipe = make_pipeline(config)
    y = rows["label"].to_numpy(dtype=float)
    w = rows["sample_weight"].to_numpy()
    # calibrated across datasets: the probabilities should hold on corpora unlike the training ones
    groups = pd.factorize(rows["dataset"])[0] if "dataset" in rows.columns else None
    cal_w = rows["calibration_weight"].to_numpy() if "calibration_weight" in rows.columns else None
    if features is None:
        features = _take_cached(rows, config)
        own_features = own_features or features is not None  # (the cache lets go of them)
    if features is None and not config.lexicon_bits:
        pipe.fit(rows, y, classifier__sample_weight=w, classifier__calibration_groups=groups,
                 classifier__calibration_weight=cal_w)
        return pipe
    if config.lexicon_bits:
        lexicon, oof = fit_lexicon(rows, y, w, bits=config.lexicon_bits, alpha=config.lexicon_alpha,
                                   max_tags=config.lexicon_tags,
                                   folds=max(2, config.stack_folds), random_state=config.random_state)
        pipe.set_params(features__lexicon=lexicon)
        pipe.steps[0][1].fit(rows)
        if features is None:
            # with x_lex in its place, so that the frame stays one block, which the classifier
            # reads without a copy (a training table's features are gigabytes)
            features, own_features = features_with_lexicon_slot(rows, config), True
        # the training rows' x_lex: scores of lexicons that did not see the row's site
        features = with_lexicon_column(pipe, features, oof, inplace=own_features)
    else:
        pipe.steps[0][1].fit(rows)
    pipe.steps[-1][1].fit(features, y, sample_weight=w, calibration_groups=groups, calibration_weight=cal_w)
    return pipe


def with_lexicon_column(pipe: Pipeline, features: pd.DataFrame, values=None, rows: pd.DataFrame | None = None,
                        inplace: bool = False):
    """``features`` with the column ``x_lex`` where ``pipe``'s feature stage has it: ``values``,
    else the stage's lexicon's scores of ``rows``. Features without the column (computed by a
    stage without a lexicon) get it inserted in its place; a pipeline without a lexicon
    leaves them as they are. ``inplace``: where ``features`` has the column in its place
    already, ``values`` are written into it and ``features`` itself is returned (no copy of
    the frame, which for a training table is gigabytes)."""
    names = list(pipe.steps[0][1].get_feature_names_out())
    if "x_lex" not in names:
        return features
    if values is None:
        if "x_lex" in features.columns:
            return features
        values = score_rows(pipe.steps[0][1].lexicon, rows)
    at = names.index("x_lex")
    if inplace and list(features.columns) == names:
        features.loc[:, "x_lex"] = np.asarray(values, dtype=float)
        return features
    out = features.drop(columns=["x_lex"]) if "x_lex" in features.columns else features
    column = pd.DataFrame({"x_lex": np.asarray(values, dtype=float)}, index=out.index)
    return pd.concat([out.iloc[:, :at], column, out.iloc[:, at:]], axis=1)


#: a lexicon that reads no token: the feature stage computes with it only to give the frame
#: its column ``x_lex`` (NaN) in place, for the scores fitted later to be written into
_SLOT_LEXICON = {"weights": np.zeros(2, dtype=np.float32), "intercept": float("nan"), "bits": 1,
                 "max_words": 0, "max_attrs": 0, "max_tags": 0}


def features_with_lexicon_slot(rows: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """The feature frame of ``rows``; with ``config.lexicon_bits``, with the column ``x_lex``
    in its place and NaN, so that a fit writes its scores into it (``fit(...,
    own_features=True)``) rather than into a copy of the frame with the column inserted."""
    pipe = make_pipeline(config)
    if config.lexicon_bits:
        pipe.set_params(features__lexicon=dict(_SLOT_LEXICON))
    return pipe.steps[0][1].fit_transform(rows)


def grouped_cv(
    rows: pd.DataFrame, config: TrainConfig, progress=None, features: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Out-of-fold content probabilities, folds grouped by site.

    Returns
    -------
    pandas.DataFrame
        ``doc_id, dataset, source, fold, label, weight, chars, probability`` (the score
        the decisions use) and ``calibrated`` (the fold model's calibrated probability)
        for every labeled row.
    """
    groups = rows["site"].to_numpy()
    folds = GroupKFold(n_splits=config.cv_folds)
    if features is None:
        features = features_with_lexicon_slot(rows, config)
        _cache(rows, config, features)
    out = []
    for k, (tr, te) in enumerate(folds.split(rows, groups=groups)):
        log.info("cv fold %d/%d: %d train rows, %d test rows", k + 1, config.cv_folds, len(tr), len(te))
        # pages never straddle folds, so per-page features sliced by rows are exact; each
        # slice is a copy of its own, which the fold's x_lex is written into
        pipe = fit(rows.iloc[tr], config, features=features.iloc[tr], own_features=True)
        test = rows.iloc[te]
        lexicon = getattr(pipe.steps[0][1], "lexicon", None)
        scores = None if lexicon is None else score_rows(lexicon, test)
        p = pipe[-1].predict_proba(with_lexicon_column(pipe, features.iloc[te], scores, inplace=True))[:, 1]
        cal = pipe[-1].calibrated_proba(p)
        lab = test["label"].to_numpy(dtype=float)
        ok = np.isfinite(lab)
        out.append(
            pd.DataFrame(
                {
                    "doc_id": test["doc_id"].to_numpy()[ok],
                    "dataset": test["dataset"].to_numpy()[ok],
                    "source": test["source"].to_numpy()[ok],
                    "fold": k,
                    "label": lab[ok].astype(int),
                    "weight": test["weight"].to_numpy()[ok],
                    "chars": test["text"].str.len().to_numpy()[ok],
                    "probability": p[ok],
                    "calibrated": cal[ok],
                }
            )
        )
        if progress is not None:
            progress.update(1)
    return pd.concat(out, ignore_index=True)


def tune_threshold(oof: pd.DataFrame) -> float:
    """The threshold that maximises length-weighted F1, averaged over datasets."""
    best, best_t = -1.0, 0.5
    for t in np.arange(0.2, 0.81, 0.02):
        scores = []
        for _, d in oof.groupby("dataset"):
            pred = (d["probability"].to_numpy() >= t).astype(int)
            scores.append(weighted_prf(d["label"].to_numpy(), pred, d["chars"].to_numpy(dtype=float))[2])
        score = float(np.mean(scores))
        if score > best:
            best, best_t = score, float(round(t, 2))
    return best_t


def cv_metrics(oof: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per dataset (and source) paragraph-level P/R/F1, plain and length-weighted."""
    rows = []
    for (ds, src), d in oof.groupby(["dataset", "source"]):
        lab = d["label"].to_numpy()
        pred = (d["probability"].to_numpy() >= threshold).astype(int)
        p, r, f = weighted_prf(lab, pred, np.ones(len(lab)))
        lp, lr, lf = weighted_prf(lab, pred, d["chars"].to_numpy(dtype=float))
        rows.append({"dataset": ds, "source": src, "paragraphs": len(d), "precision": p,
                     "recall": r, "f1": f, "len_precision": lp, "len_recall": lr, "len_f1": lf})
    return pd.DataFrame(rows)
