"""The lexicon: a linear score of a paragraph's words, word pairs and class/id tokens, hashed.

Training (:mod:`chromesift.train.lexicon`) learns one weight per hashed token from the
labeled paragraphs of every corpus, so that words like "newsletter", "abonnieren",
"moderiert" or "Werbung" and class names like "related" count wherever they occur, in any
language, without a hand-made list. The feature stage gives the score as the feature
``x_lex``: the intercept plus the sum of the row's token weights over the square root of
its token count (a logit of "content").

A lexicon is a plain dict (a parameter of the feature stage, stored in a bundle's
``model.npz`` as arrays): ``weights`` (float32, ``2 ** bits`` of them), ``intercept``,
``bits``, ``max_words`` and ``max_attrs`` (how many words and class/id tokens of each
paragraph count, :func:`chromesift.features.text_kernels.lex_tokens`).
"""

from __future__ import annotations

import numpy as np

from chromesift.features import text_kernels

#: the lexicon's shape by default: 2 ** 18 hashed tokens, the first 48 words of a paragraph,
#: the first 16 class/id tokens of its element and of its ancestors
BITS, MAX_WORDS, MAX_ATTRS = 18, 48, 16
#: the keys of a lexicon dict
KEYS = ("weights", "intercept", "bits", "max_words", "max_attrs")


def tokens(lower_texts: list, own_attrs: list, anc_attrs: list, bits: int = BITS, max_words: int = MAX_WORDS,
           max_attrs: int = MAX_ATTRS) -> tuple[np.ndarray, np.ndarray]:
    """Each row's hashed token ids as CSR ``(indptr, ids)`` (texts already lowercased; the
    class/id tokens' ASCII capitals are lowercased here)."""
    return text_kernels.lex_tokens(lower_texts, own_attrs, anc_attrs, int(bits), int(max_words), int(max_attrs))


def row_scale(indptr: np.ndarray) -> np.ndarray:
    """The value of each of a row's tokens: one over the square root of its token count."""
    counts = np.diff(indptr).astype(float)
    return 1.0 / np.sqrt(np.maximum(counts, 1.0))


def check(lexicon: dict) -> dict:
    """``lexicon`` with its numbers as their types, or ValueError where it is not one."""
    missing = [k for k in KEYS if k not in lexicon]
    if missing:
        raise ValueError(f"a lexicon needs {', '.join(missing)}")
    bits = int(lexicon["bits"])
    weights = np.asarray(lexicon["weights"], dtype=np.float32).reshape(-1)
    if not 1 <= bits <= 30 or len(weights) != 1 << bits:
        raise ValueError(f"a lexicon of {bits} bits has {1 << bits} weights, not {len(weights)}")
    return {"weights": weights, "intercept": float(lexicon["intercept"]), "bits": bits,
            "max_words": int(lexicon["max_words"]), "max_attrs": int(lexicon["max_attrs"])}


def scores(lexicon: dict, lower_texts: list, own_attrs: list, anc_attrs: list) -> np.ndarray:
    """``x_lex`` of each row: intercept + the sum of its tokens' weights / sqrt(token count)."""
    return text_kernels.lex_scores(lower_texts, own_attrs, anc_attrs, np.asarray(lexicon["weights"], dtype=np.float32),
                                   float(lexicon["intercept"]), int(lexicon["bits"]), int(lexicon["max_words"]),
                                   int(lexicon["max_attrs"]))
