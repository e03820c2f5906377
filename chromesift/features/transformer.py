"""Paragraph table -> numeric feature frame (one row per paragraph).

Feature families (column prefixes):

``t_`` shallow text
    characters, words, CJK characters, mean word and sentence length, sentence
    count, digit / uppercase / punctuation ratios, bullet start, sentence-final
    punctuation, text density (words per 80-character wrapped line), stopword
    density (union of en, de, fr, es, it, pt, nl, pl, ru lists; for Chinese the
    share of function characters), chrome phrases, similarity to the title.
``s_`` structure (HTML only; NaN for plain text)
    tag (integer code; one-hot for p, li and headings), depth, links and link density, inside nav/header/footer/aside/
    form/li/a/table/article/heading, class/id words of the element and its
    ancestors by family (:data:`chromesift.features.vocab.ATTR_WORDS`) and hashed
    into fixed buckets, how often the DOM path repeats on the page, and
    container aggregates (text share, paragraph count and link density of the
    block element and its three nearest ancestors).
``p_`` position and page context
    relative position, distance to the longest paragraph and to the h1, length
    rank and z-score within the page, share of page text before the paragraph,
    local text mass in a window around it.
``n_``: neighbours
    a subset of the above for the previous and next ``neighbours`` paragraphs of
    the same document.

Columns starting with ``_`` are bookkeeping for the classifier (document and
group codes, container ids), not model inputs. Everything is computed per
document in position order, so row order of the input does not matter.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from chromesift.data import schema
from chromesift.features import vocab

_CJK = r"\p{Han}|\p{Hiragana}|\p{Katakana}|\p{Hangul}"
_FLAGS = [c for c, t in schema.STRUCT_COLUMNS.items() if t == "bool"]
#: base features repeated for each neighbour
NEIGHBOUR_BASE = (
    "t_log_chars", "t_stop_density", "t_ends_punct", "t_chrome_phrases",
    "s_link_density", "s_tag_p", "s_tag_li", "s_cont1_share", "s_path_repeat",
)
#: integer-coded tag column, to be treated as categorical by the classifier
CATEGORICAL = ("s_tag",)
BOOKKEEPING = ("_doc", "_pos", "_group", "_anc1", "_anc2", "_block")


def _attr_regex(words: tuple[str, ...]) -> str:
    long_ = sorted({w for w in words if len(w) >= 4}, key=len, reverse=True)
    short = sorted({w for w in words if len(w) < 4}, key=len, reverse=True)
    parts = []
    if long_:
        parts.append("|".join(map(re.escape, long_)))
    if short:
        parts.append(r"(?:^|\s)(?:" + "|".join(map(re.escape, short)) + r")(?:\s|$)")
    return "|".join(parts)


_ATTR_RE = {fam: _attr_regex(words) for fam, words in vocab.ATTR_WORDS.items()}
_PHRASE_RE = "|".join(re.escape(p) for p in sorted(vocab.CHROME_PHRASES, key=len, reverse=True))
_ZH_STOP_RE = "[" + "".join(sorted(vocab.ZH_STOPCHARS)) + "]"
_STOP_SET = pa.array(sorted(vocab.ALL_STOPWORDS))


def _count(arr: pa.Array, pattern: str) -> np.ndarray:
    return pc.count_substring_regex(arr, pattern).to_numpy(zero_copy_only=False).astype(float)


def _match(arr: pa.Array, pattern: str) -> np.ndarray:
    return pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False).astype(float)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0)


def _group_sum(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each row, the sum of ``values`` over the rows with the same key."""
    _, inv = np.unique(keys, return_inverse=True)
    return np.bincount(inv, weights=values)[inv]


def _hash_bucket(token: str, buckets: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % buckets


class ParagraphFeatures(TransformerMixin, BaseEstimator):
    """Stateless transformer: paragraph table -> numeric features.

    Parameters
    ----------
    neighbours : int, default=2
        How many paragraphs before and after each one contribute features.
    hash_buckets : int, default=8
        Hash buckets for class/id tokens, each for the element and its ancestors.
    """

    def __init__(self, neighbours: int = 2, hash_buckets: int = 8):
        self.neighbours = neighbours
        self.hash_buckets = hash_buckets

    def fit(self, X: pd.DataFrame, y=None):
        """Record the output feature names (nothing is learned)."""
        schema.validate(X, stage="features")
        self.feature_names_out_ = np.asarray(self._names(), dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns (bookkeeping columns last)."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Compute the feature frame; its index is the input's index."""
        check_is_fitted(self, "feature_names_out_")
        schema.validate(X, stage="features")
        if len(X) == 0:
            return pd.DataFrame(
                {c: pd.Series([], dtype=float) for c in self.feature_names_out_}, index=X.index
            )
        doc_codes, _ = pd.factorize(X["doc_id"], sort=True)
        order = np.lexsort((X["position"].to_numpy(), doc_codes))
        Xs = X.iloc[order]
        feats = self._compute(Xs, doc_codes[order])
        out = pd.DataFrame(feats, index=Xs.index)[list(self.feature_names_out_)]
        return out.loc[X.index] if not np.array_equal(order, np.arange(len(X))) else out

    # -- names -----------------------------------------------------------------
    def _names(self) -> list[str]:
        names = [
            "t_chars", "t_log_chars", "t_words", "t_cjk", "t_cjk_ratio", "t_mean_word_len",
            "t_sentences", "t_mean_sentence_len", "t_digit_ratio", "t_upper_ratio",
            "t_punct_ratio", "t_starts_bullet", "t_ends_punct", "t_ends_colon", "t_separators",
            "t_has_date", "t_has_url", "t_text_density", "t_stop_density", "t_zh_stop_ratio",
            "t_chrome_phrases", "t_title_overlap", "t_is_title", "t_is_h1",
        ]
        names += ["s_tag", "s_tag_p", "s_tag_li", "s_tag_heading"]
        names += ["s_depth", "s_links", "s_link_density", "s_is_html"]
        names += [f"s_{f}" for f in _FLAGS]
        names += [f"s_own_{f}" for f in vocab.ATTR_WORDS] + [f"s_anc_{f}" for f in vocab.ATTR_WORDS]
        names += [f"s_own_hash{i}" for i in range(self.hash_buckets)]
        names += [f"s_anc_hash{i}" for i in range(self.hash_buckets)]
        names += ["s_path_repeat", "s_path_len"]
        for lvl in ("block", "cont1", "cont2", "cont3"):
            names += [f"s_{lvl}_share", f"s_{lvl}_paras", f"s_{lvl}_link_density"]
        names += [
            "p_paragraphs", "p_page_chars", "p_rel_pos", "p_from_end", "p_from_start",
            "p_rank", "p_zscore", "p_before_share", "p_dist_longest", "p_dist_h1",
            "p_window_share", "p_long_share_after",
        ]
        for k in range(1, self.neighbours + 1):
            for side in ("prev", "next"):
                names += [f"n_{side}{k}_{b}" for b in NEIGHBOUR_BASE]
        names += list(BOOKKEEPING)
        return names

    # -- computation -------------------------------------------------------------
    def _compute(self, X: pd.DataFrame, doc: np.ndarray) -> dict[str, np.ndarray]:
        n = len(X)
        f: dict[str, np.ndarray] = {}
        text = pa.array(X["text"].astype(object).to_numpy(), type=pa.string())
        lower = pc.utf8_lower(text)
        chars = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(float)

        toks = pc.split_pattern_regex(lower, r"[^\p{L}\p{N}]+")
        flat = pc.list_flatten(toks)
        parents = pc.list_parent_indices(toks).to_numpy(zero_copy_only=False)
        nonempty = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)
        words = np.bincount(parents[nonempty], minlength=n).astype(float)
        is_stop = pc.is_in(flat, value_set=_STOP_SET).to_numpy(zero_copy_only=False)
        stops = np.bincount(parents[is_stop], minlength=n).astype(float)

        cjk = _count(text, _CJK)
        letters = _count(text, r"\p{L}")
        sentences = _count(text, r"[.!?。！？]+(?:\s|$)")
        tokens = words + cjk
        f["t_chars"] = chars
        f["t_log_chars"] = np.log1p(chars)
        f["t_words"] = tokens
        f["t_cjk"] = cjk
        f["t_cjk_ratio"] = _div(cjk, chars)
        f["t_mean_word_len"] = _div(letters - cjk, words)
        f["t_sentences"] = sentences
        f["t_mean_sentence_len"] = tokens / np.maximum(sentences, 1)
        f["t_digit_ratio"] = _div(_count(text, r"\p{N}"), chars)
        f["t_upper_ratio"] = _div(_count(text, r"\p{Lu}"), letters)
        f["t_punct_ratio"] = _div(_count(text, r"\p{P}"), chars)
        f["t_starts_bullet"] = _match(text, r"^[-–—•·*►▶»›>|+~]")
        f["t_ends_punct"] = _match(text, r"[.!?。！？\"”'’)]$")
        f["t_ends_colon"] = _match(text, r"[:：]$")
        f["t_separators"] = _count(text, r"[|·•»/]")
        f["t_has_date"] = _match(text, r"\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b|\b(?:19|20)\d\d\b")
        f["t_has_url"] = _match(lower, r"https?://|www\.|\S@\S+\.\w")
        f["t_text_density"] = tokens / np.maximum(np.ceil(chars / 80.0), 1)
        f["t_stop_density"] = _div(stops, words)
        f["t_zh_stop_ratio"] = _div(_count(text, _ZH_STOP_RE), cjk)
        f["t_chrome_phrases"] = _count(lower, _PHRASE_RE)

        # similarity to the page title, token overlap within each document
        title = X["page_title"].astype(object).fillna("").to_numpy()
        h1 = X["page_h1"].astype(object).fillna("").to_numpy()
        texts = X["text"].astype(object).to_numpy()
        title_keys = set()
        first_rows = np.r_[0, np.flatnonzero(np.diff(doc)) + 1]
        for r in first_rows:
            for tok in re.split(r"[^\w]+", str(title[r]).lower()):
                if tok:
                    title_keys.add(f"{doc[r]}\x00{tok}")
        if title_keys:
            keys = pc.binary_join_element_wise(
                pa.array(doc[parents].astype(str)), flat, "\x00"
            )
            in_title = pc.is_in(keys, value_set=pa.array(list(title_keys))).to_numpy(
                zero_copy_only=False
            )
            f["t_title_overlap"] = _div(
                np.bincount(parents[in_title & nonempty], minlength=n).astype(float), words
            )
        else:
            f["t_title_overlap"] = np.zeros(n)
        f["t_is_title"] = np.array(
            [bool(t) and (t == ti or (len(t) > 15 and t in ti)) for t, ti in zip(texts, title, strict=True)],
            dtype=float,
        )
        f["t_is_h1"] = np.array([bool(t) and t == hh for t, hh in zip(texts, h1, strict=True)], dtype=float)

        self._structure(X, doc, chars, f)
        self._position(doc, chars, f)
        self._neighbours(doc, f)
        f["_doc"] = doc.astype(float)
        f["_pos"] = X["position"].to_numpy(dtype=float)
        group_src = X["site"] if "site" in X.columns else X["doc_id"]
        f["_group"] = pd.factorize(group_src, sort=True)[0].astype(float)
        f["_anc1"] = X["anc1"].to_numpy(dtype=float)
        f["_anc2"] = X["anc2"].to_numpy(dtype=float)
        f["_block"] = X["block_id"].to_numpy(dtype=float)
        return f

    def _structure(self, X: pd.DataFrame, doc: np.ndarray, chars: np.ndarray, f: dict) -> None:
        n = len(X)
        is_html = (X["source"].astype(object).to_numpy() == "html")
        nan_text = np.where(is_html, 1.0, np.nan)
        tag = X["tag"].astype(object).to_numpy()
        codes = {t: i for i, t in enumerate(vocab.TAG_ONEHOT)}
        f["s_tag"] = np.array([codes.get(t, len(codes)) for t in tag], dtype=float) * nan_text
        f["s_tag_p"] = (tag == "p") * nan_text
        f["s_tag_li"] = (tag == "li") * nan_text
        f["s_tag_heading"] = np.isin(tag, ("h1", "h2", "h3", "h4", "h5", "h6")) * nan_text
        f["s_depth"] = X["depth"].to_numpy(dtype=float) * nan_text
        links = X["n_links"].to_numpy(dtype=float)
        link_chars = X["link_chars"].to_numpy(dtype=float)
        f["s_links"] = links * nan_text
        f["s_link_density"] = _div(link_chars, chars) * nan_text
        f["s_is_html"] = is_html.astype(float)
        for flag in _FLAGS:
            f[f"s_{flag}"] = X[flag].to_numpy(dtype=float) * nan_text
        own = pa.array(X["own_attrs"].astype(object).fillna("").to_numpy(), type=pa.string())
        anc = pa.array(X["anc_attrs"].astype(object).fillna("").to_numpy(), type=pa.string())
        for fam, rx in _ATTR_RE.items():
            f[f"s_own_{fam}"] = _count(own, rx) * nan_text
            f[f"s_anc_{fam}"] = _count(anc, rx) * nan_text
        for name, arr in (("own", own), ("anc", anc)):
            toks = pc.split_pattern(arr, " ")
            flat = pc.list_flatten(toks)
            parents = pc.list_parent_indices(toks).to_numpy(zero_copy_only=False)
            enc = pc.dictionary_encode(flat).combine_chunks() if isinstance(flat, pa.ChunkedArray) else pc.dictionary_encode(flat)
            idx = enc.indices.to_numpy(zero_copy_only=False)
            dic = enc.dictionary.to_pylist()
            buckets = np.array([_hash_bucket(t, self.hash_buckets) if t else -1 for t in dic], dtype=int)
            b = buckets[idx] if len(idx) else np.zeros(0, dtype=int)
            keep = b >= 0
            counts = np.bincount(
                parents[keep] * self.hash_buckets + b[keep], minlength=n * self.hash_buckets
            ).reshape(n, self.hash_buckets)
            for i in range(self.hash_buckets):
                f[f"s_{name}_hash{i}"] = counts[:, i] * nan_text
        path = X["path"].astype(object).to_numpy()
        path_codes = pd.factorize(pd.Series(doc).astype(str) + "\x00" + pd.Series(path).astype(str))[0]
        n_doc = np.bincount(doc)[doc].astype(float)
        f["s_path_repeat"] = _div(np.bincount(path_codes)[path_codes].astype(float), n_doc) * nan_text
        path_arr = pa.array(X["path"].astype(object).fillna("").to_numpy(), type=pa.string())
        f["s_path_len"] = _count(path_arr, "/") * nan_text
        page_chars = np.maximum(_group_sum(doc, chars), 1)
        for lvl, col in (("block", "block_id"), ("cont1", "anc1"), ("cont2", "anc2"), ("cont3", "anc3")):
            ids = X[col].to_numpy()
            key = doc.astype(np.int64) * (1 << 32) + ids.astype(np.int64)
            csum = _group_sum(key, chars)
            f[f"s_{lvl}_share"] = csum / page_chars * nan_text
            f[f"s_{lvl}_paras"] = _group_sum(key, np.ones(n)) * nan_text
            f[f"s_{lvl}_link_density"] = _div(_group_sum(key, link_chars), csum) * nan_text

    def _position(self, doc: np.ndarray, chars: np.ndarray, f: dict) -> None:
        n = len(doc)
        starts = np.r_[0, np.flatnonzero(np.diff(doc)) + 1]
        sizes = np.diff(np.r_[starts, n])
        start_of = np.repeat(starts, sizes)
        size_of = np.repeat(sizes, sizes).astype(float)
        pos = np.arange(n) - start_of
        page_chars = np.repeat(np.add.reduceat(chars, starts), sizes)
        f["p_paragraphs"] = size_of
        f["p_page_chars"] = page_chars
        f["p_rel_pos"] = pos / np.maximum(size_of - 1, 1)
        f["p_from_end"] = np.minimum(size_of - 1 - pos, 50)
        f["p_from_start"] = np.minimum(pos, 50)
        logc = np.log1p(chars)
        frame = pd.DataFrame({"doc": doc, "c": chars, "l": logc})
        g = frame.groupby("doc", sort=False)
        f["p_rank"] = (g["c"].rank(ascending=False, method="min").to_numpy() - 1) / size_of
        mu = g["l"].transform("mean").to_numpy()
        sd = g["l"].transform("std").fillna(0).to_numpy()
        f["p_zscore"] = _div(logc - mu, sd)
        cum = np.cumsum(chars)
        before = cum - chars - (cum - chars)[start_of]
        f["p_before_share"] = _div(before, page_chars)
        longest = g["c"].transform("idxmax").to_numpy() - start_of
        f["p_dist_longest"] = (pos - longest) / size_of
        h1 = f["t_is_h1"]
        h1_pos = pd.Series(np.where(h1 > 0, pos, np.nan)).groupby(doc).transform("min").to_numpy()
        f["p_dist_h1"] = (pos - h1_pos) / size_of
        # text mass within +-3 paragraphs, as a share of the page
        padded = np.r_[0.0, cum]
        lo = np.maximum(np.arange(n) - 3, start_of)
        hi = np.minimum(np.arange(n) + 3, start_of + size_of.astype(int) - 1)
        f["p_window_share"] = _div(padded[hi + 1] - padded[lo], page_chars)
        # share of the page's long-paragraph text (>= 200 chars) that comes after
        long_c = np.where(chars >= 200, chars, 0.0)
        lcum = np.cumsum(long_c)
        long_total = np.repeat(np.add.reduceat(long_c, starts), sizes)
        long_before = lcum - (lcum - long_c)[start_of]
        f["p_long_share_after"] = _div(long_total - long_before, long_total)

    def _neighbours(self, doc: np.ndarray, f: dict) -> None:
        n = len(doc)
        for k in range(1, self.neighbours + 1):
            for side, shift in (("prev", k), ("next", -k)):
                src = np.arange(n) - shift
                ok = (src >= 0) & (src < n)
                src_c = np.clip(src, 0, n - 1)
                ok &= doc[src_c] == doc
                for b in NEIGHBOUR_BASE:
                    vals = f[b][src_c].astype(float)
                    f[f"n_{side}{k}_{b}"] = np.where(ok, vals, np.nan)
