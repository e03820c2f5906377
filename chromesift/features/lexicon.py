"""The lexicon: a linear score of a paragraph's words, word pairs, class/id tokens and path tags, hashed.

Training (:mod:`chromesift.train.lexicon`) learns one weight per hashed token from the
labeled paragraphs of every corpus, so that words like "newsletter", "abonnieren",
"moderiert" or "Werbung" and class names like "related" count wherever they occur, in any
language, without a hand-made list. The feature stage gives the score as the feature
``x_lex``: the intercept plus the sum of the row's token weights over the square root of
its token count (a logit of "content").

A lexicon is a plain dict (a parameter of the feature stage, stored in a bundle's
``model.npz`` as arrays): ``weights`` (float32, ``2 ** bits`` of them), ``intercept``,
``bits``, ``max_words``, ``max_attrs`` and ``max_tags`` (how many words, class/id tokens
and tag names of the DOM path of each paragraph count,
:func:`chromesift.features.text_kernels.lex_tokens`; a lexicon without ``max_tags``, as
written before there were tag tokens, reads no tags).
"""

from __future__ import annotations

import numpy as np

from chromesift.features import text_kernels

#: the lexicon's shape by default: 2 ** 18 hashed tokens, the first 48 words of a paragraph,
#: the first 16 class/id tokens of its element and of its ancestors, the last 7 tags of its
#: DOM path (its element's and six ancestors')
BITS, MAX_WORDS, MAX_ATTRS, MAX_TAGS = 18, 48, 16, 7
#: the keys a lexicon dict must have (``max_tags`` is optional: 0 where it is missing)
KEYS = ("weights", "intercept", "bits", "max_words", "max_attrs")


def tokens(lower_texts: list, own_attrs: list, anc_attrs: list, bits: int = BITS, max_words: int = MAX_WORDS,
           max_attrs: int = MAX_ATTRS, paths: list | None = None,
           max_tags: int = MAX_TAGS) -> tuple[np.ndarray, np.ndarray]:
    """Each row's hashed token ids as CSR ``(indptr, ids)`` (texts already lowercased; the
    class/id tokens' ASCII capitals are lowercased here). Without ``paths`` no tag is read."""
    return text_kernels.lex_tokens(lower_texts, own_attrs, anc_attrs, int(bits), int(max_words), int(max_attrs),
                                   paths, int(max_tags))


#: the value of each of a row's tokens: one over the square root of its token count
row_scale = text_kernels.lex_row_scale


def check(lexicon: dict) -> dict:
    """``lexicon`` with its numbers as their types, or ValueError where it is not one."""
    missing = [k for k in KEYS if k not in lexicon]
    if missing:
        raise ValueError(f"a lexicon needs {', '.join(missing)}")
    bits = int(lexicon["bits"])
    weights = np.asarray(lexicon["weights"], dtype=np.float32).reshape(-1)
    if not 1 <= bits <= 30 or len(weights) != 1 << bits:
        raise ValueError(f"a lexicon of {bits} bits has {1 << bits} weights, not {len(weights)}")
    sizes = {k: int(lexicon.get(k, 0)) for k in ("max_words", "max_attrs", "max_tags")}
    if min(sizes.values()) < 0:
        raise ValueError("a lexicon's max_words, max_attrs and max_tags are 0 or more")
    return {"weights": weights, "intercept": float(lexicon["intercept"]), "bits": bits, **sizes}


def scores(lexicon: dict, lower_texts: list, own_attrs: list, anc_attrs: list,
           paths: list | None = None) -> np.ndarray:
    """``x_lex`` of each row: intercept + the sum of its tokens' weights / sqrt(token count)."""
    return text_kernels.lex_scores(lower_texts, own_attrs, anc_attrs, np.asarray(lexicon["weights"], dtype=np.float32),
                                   float(lexicon["intercept"]), int(lexicon["bits"]), int(lexicon["max_words"]),
                                   int(lexicon["max_attrs"]), paths, int(lexicon.get("max_tags", 0)))
