"""A fitted pipeline as plain arrays: what prediction needs, without scikit-learn, scipy or pandas.

A bundle's ``model.joblib`` is the fitted :class:`~sklearn.pipeline.Pipeline`; unpickling it
imports pandas, scikit-learn and scipy and costs most of a one-page ``chromesift extract``.
Yet predicting reads little of it: the feature stage's parameters, the node arrays of the
two boosters (as :class:`~chromesift.models.forest.FlatForest` holds them), the column layout
of the two stages and the calibration map. :func:`pack` takes those from a pipeline of
:class:`~chromesift.features.transformer.ParagraphFeatures` and
:class:`~chromesift.models.classifier.TwoStageClassifier`; :func:`dumps` writes them as the
``model.npz`` of a bundle, and :func:`loads` makes a :class:`PackedModel` of that file's
bytes: numpy arrays only (``allow_pickle=False``), so loading runs no code and needs no trust.

The packed model predicts with the same code as the pipeline (:func:`two_stage_proba`, the
same flat forests and kernels), so its probabilities are the pipeline's to the last bit.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import numpy as np

from chromesift.features.compute import FeatureComputer
from chromesift.features.lexicon import check as check_lexicon
from chromesift.models.context import CONTEXT_NAMES, context_features
from chromesift.models.forest import FlatForest, two_class

#: ``format`` of a ``model.npz``: what :func:`pack` writes for a pipeline without a lexicon
FORMAT = "chromesift-packed/1"
#: ... and with one (an older chromesift, which cannot compute ``x_lex``, refuses it)
FORMAT_LEXICON = "chromesift-packed/2"
#: the formats :func:`loads` reads
FORMATS = (FORMAT, FORMAT_LEXICON)
_STAGES = ("stage1", "stage2")


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` of ``p`` clipped to ``[1e-6, 1 - 1e-6]``."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def calibrate(p: np.ndarray, calibration) -> np.ndarray:
    """Content probabilities ``p`` through the Platt map ``(a, b)`` (the identity for None)."""
    p = np.asarray(p, dtype=float)
    if calibration is None:
        return p
    return 1.0 / (1.0 + np.exp(-(calibration[0] * logit(p) + calibration[1])))


def two_stage_proba(
    M: np.ndarray,
    n_columns: int,
    stage1: Callable[[np.ndarray], np.ndarray],
    stage2: Callable[[np.ndarray], np.ndarray] | None,
    model_idx: np.ndarray,
    context_idx,
    chars_idx: int | None,
) -> np.ndarray:
    """Probabilities of chrome and content of the two-stage classifier, from a float matrix.

    ``M`` holds ``n_columns`` columns (the classifier's ``feature_names_in_``); the boosters
    read its ``model_idx`` columns; ``stage1`` and ``stage2`` give the content probability
    of a matrix of their columns (``stage2`` None: a one-stage model). Stage 2 reads the
    same columns and then the context (:func:`~chromesift.models.context.context_features`
    of stage 1's probabilities, the bookkeeping columns ``context_idx`` and the booster
    column ``chars_idx``). The one implementation for :class:`PackedModel` and
    :meth:`TwoStageClassifier.predict_proba_matrix
    <chromesift.models.classifier.TwoStageClassifier.predict_proba_matrix>`.
    """
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or M.shape[1] != n_columns:
        raise ValueError(f"expected a matrix of {n_columns} columns (feature_names_in_), got shape {M.shape}")
    n = len(M)
    if n == 0:
        return np.zeros((0, 2))
    idx = model_idx
    k = len(idx)
    # column-major: a tree reads one feature of consecutive rows, which on a large batch
    # keeps its reads in cache (5x faster on 50k rows than row-major; the same on one page).
    # One matrix for both stages: the boosters' columns, then stage 2's context
    X = np.empty((n, k + len(CONTEXT_NAMES) if stage2 is not None else k), order="F")
    F = X[:, :k]
    if k and idx[-1] == k - 1:  # (increasing, as the classifier's layout makes it) the first k columns
        F[:] = M[:, :k]
    else:
        F[:] = M[:, idx]
    p = stage1(F)
    if stage2 is not None:
        X[:, k:] = context_features(p, *(M[:, j] for j in context_idx), F[:, chars_idx])
        p = stage2(X)
    return two_class(p)


class PackedClassifier:
    """The two-stage classifier's prediction from arrays (see :func:`pack`).

    It offers what :class:`~chromesift.models.model.Model` reads of the fitted
    classifier: :attr:`feature_names_in_`, :meth:`predict_proba_matrix` and
    :meth:`calibrated_proba`.
    """

    def __init__(self, feature_names, stage1: FlatForest, stage2: FlatForest | None, model_idx, context_idx,
                 chars_idx: int | None, calibration: tuple[float, float] | None):
        self.feature_names_in_ = np.asarray(list(feature_names), dtype=object)
        self.stage1 = stage1
        self.stage2 = stage2
        self.model_idx_ = np.asarray(model_idx, dtype=np.intp)
        self.context_idx_ = None if context_idx is None else np.asarray(context_idx, dtype=np.intp)
        self.chars_idx_ = chars_idx
        self.calibration_ = calibration
        self.classes_ = np.array([0, 1])

    def predict_proba_matrix(self, M: np.ndarray) -> np.ndarray:
        """Probabilities of chrome and content, as the classifier's ``predict_proba_matrix``."""
        stage2 = None if self.stage2 is None else _content(self.stage2)
        return two_stage_proba(M, len(self.feature_names_in_), _content(self.stage1), stage2, self.model_idx_,
                               self.context_idx_, self.chars_idx_)

    def calibrated_proba(self, p: np.ndarray) -> np.ndarray:
        """Content probabilities mapped to observed frequencies, as the classifier's ``calibrated_proba``."""
        return calibrate(p, self.calibration_)


def _content(forest: FlatForest) -> Callable[[np.ndarray], np.ndarray]:
    return lambda X: forest.predict_proba(X)[:, 1]


class PackedModel:
    """The feature computer and the classifier of a packed pipeline (:func:`loads`)."""

    def __init__(self, features: FeatureComputer, classifier: PackedClassifier):
        self.features = features
        self.classifier = classifier

    def __getitem__(self, i: int):
        """``packed[0]`` the features, ``packed[-1]`` the classifier (as a two-step pipeline)."""
        return (self.features, self.classifier)[i]

    def __len__(self) -> int:
        return 2


# --- writing ---------------------------------------------------------------------------------


def pack(pipeline) -> dict[str, np.ndarray]:
    """The arrays of ``model.npz`` of a fitted pipeline.

    Raises
    ------
    ValueError
        When the pipeline is not a feature stage and a two-stage classifier whose boosters
        the flat forest covers (its bundle then has no ``model.npz``).
    """
    from chromesift.features.transformer import ParagraphFeatures
    from chromesift.models.classifier import TwoStageClassifier
    from chromesift.models.forest import flat_forest

    try:
        steps = list(pipeline)
    except TypeError:
        raise ValueError(f"not a pipeline: {type(pipeline).__name__}") from None
    if len(steps) != 2 or not isinstance(steps[0], ParagraphFeatures) or not isinstance(steps[1], TwoStageClassifier):
        raise ValueError("only a pipeline of ParagraphFeatures and TwoStageClassifier can be packed")
    features, clf = steps
    if "stage1_" not in clf.__dict__ or "feature_names_out_" not in features.__dict__:
        raise ValueError("the pipeline is not fitted")
    if not hasattr(clf, "model_idx_"):
        clf._set_layout()  # pickled before the layout was recorded
    names = [str(c) for c in clf.feature_names_in_]
    if names != [str(c) for c in features.feature_names_out_]:
        raise ValueError("the classifier's columns are not the feature stage's")
    params = {
        "neighbours": int(features.neighbours),
        "hash_buckets": int(features.hash_buckets),
        "conventions": getattr(features, "conventions", None) or None,
        "convention": float(getattr(features, "convention", 0.0)),
    }
    text_convention = getattr(features, "text_convention", None)
    if text_convention is not None:  # (absent: model.npz files as before)
        params["text_convention"] = float(text_convention)
    lexicon = getattr(features, "lexicon", None)
    if lexicon is not None:
        lexicon = check_lexicon(lexicon)
        params["lexicon"] = {k: lexicon[k] for k in ("intercept", "bits", "max_words", "max_attrs", "max_tags")}
    cal = getattr(clf, "calibration_", None)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT if lexicon is None else FORMAT_LEXICON),
        "feature_params": np.array(json.dumps(params, sort_keys=True)),
        "feature_names": np.array(names, dtype=str),
        "model_idx": np.asarray(clf.model_idx_, dtype=np.int64),
        "second_stage": np.array(bool(clf.second_stage)),
        "calibration": np.zeros(0) if cal is None else np.asarray(cal, dtype=np.float64).reshape(2),
    }
    if clf.second_stage:
        arrays["context_idx"] = np.asarray(clf.context_idx_, dtype=np.int64)
        arrays["chars_idx"] = np.array(int(clf.chars_idx_), dtype=np.int64)
    if lexicon is not None:
        arrays["lexicon_weights"] = lexicon["weights"]
    for stage in _STAGES[: 2 if clf.second_stage else 1]:
        forest = flat_forest(getattr(clf, f"{stage}_"))
        if forest is None:
            raise ValueError(f"the {stage} booster is not one the flat forest covers")
        arrays.update({f"{stage}_{k}": v for k, v in forest.arrays().items()})
    return arrays


def dumps(pipeline) -> bytes:
    """``model.npz`` of a fitted pipeline, as bytes (:func:`pack`; ValueError where it cannot be packed)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **pack(pipeline))
    return buf.getvalue()


# --- reading ---------------------------------------------------------------------------------


def loads(data: bytes) -> PackedModel:
    """The :class:`PackedModel` of ``model.npz`` bytes (already verified: they are not read again).

    Raises
    ------
    ValueError
        When the bytes are not a ``model.npz`` of this format (the message says what is wrong).
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
    except Exception as exc:  # a zip, an npy header or an object array: all "not ours"
        raise ValueError(f"unreadable npz ({type(exc).__name__}: {exc})") from None
    found = str(a["format"]) if "format" in a else None
    if found not in FORMATS:
        raise ValueError(f"format {found!r}, this chromesift reads {' or '.join(map(repr, FORMATS))}")
    try:
        params = json.loads(str(a["feature_params"]))
        names = [str(c) for c in a["feature_names"].tolist()]
        second = bool(a["second_stage"])
        forests = [FlatForest.from_arrays({k[len(s) + 1:]: v for k, v in a.items() if k.startswith(s + "_")})
                   for s in _STAGES[: 2 if second else 1]]
        cal = a["calibration"]
        lexicon = None
        if params.get("lexicon") is not None:
            lexicon = check_lexicon({**params["lexicon"], "weights": a["lexicon_weights"]})
        if ("x_lex" in names) != (lexicon is not None):
            raise ValueError("the feature x_lex and the lexicon go together")
        features = FeatureComputer(params["neighbours"], params["hash_buckets"], params["conventions"],
                                   params["convention"], feature_names=names, lexicon=lexicon,
                                   text_convention=params.get("text_convention"))
        clf = PackedClassifier(
            names, forests[0], forests[1] if second else None, a["model_idx"],
            a["context_idx"] if second else None, int(a["chars_idx"]) if second else None,
            None if cal.size == 0 else (float(cal[0]), float(cal[1])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"incomplete or inconsistent npz ({type(exc).__name__}: {exc})") from None
    return PackedModel(features, clf)
