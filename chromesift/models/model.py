"""A fitted model at prediction time: the bundle's pipeline, its threshold and decision rules.

:func:`load_model` loads a verified bundle (:mod:`chromesift.models.bundle`); :class:`Model`
classifies and extracts pages. This is what the library call (:mod:`chromesift`), the batch
runtime and evaluation use; it imports nothing of training or evaluation. A bundle with a
``model.npz`` predicts from its packed model (:mod:`chromesift.models.packed`): then neither
scikit-learn nor scipy is imported, and pandas only where a DataFrame is returned.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterable, Iterator
from itertools import compress
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chromesift.data import schema
from chromesift.data.page import to_columns, to_table
from chromesift.data.util import chunked
from chromesift.models.rules import (
    SCOPES,
    caption_rows,
    content_mask,
    decide,
    headline_index,
    page_captions,
    page_scope,
    pick_threshold,
    roles,
    scope_convention,
)

if TYPE_CHECKING:
    import pandas as pd

#: columns of :meth:`Model.classify`, before the structural ones
RESULT_COLUMNS = ["position", "text", "is_content", "probability", "role"]


def _concat_columns(pages: list[dict[str, list]]) -> tuple[dict, np.ndarray]:
    """Columns of several pages end to end, and the page number of each row."""
    sizes = [len(c["text"]) for c in pages]
    if len(pages) == 1:
        return pages[0], np.zeros(sizes[0], dtype=np.int64)
    cols = {}
    for k in pages[0]:
        if any(k not in c for c in pages):  # (columns made by hand may lack the parsers' `_thread`)
            continue
        column: list = []
        for c in pages:
            column += c[k]  # (a list's extend: a third of the time of an element-wise comprehension)
        cols[k] = column
    return cols, np.repeat(np.arange(len(pages)), sizes)


def _matrix_path(features, clf) -> bool:
    """Whether the stages predict from one numpy feature matrix (no DataFrame): bundles of
    chromesift 0.2 and later."""
    return hasattr(features, "transform_columns") and hasattr(clf, "predict_proba_matrix")


def _has_conventions(features) -> bool:
    """Whether a feature stage reads pages with a label convention (``k_convention``)."""
    check = getattr(features, "_with_convention", None)
    return bool(check is not None and check())


class Model:
    """A loaded bundle: the fitted pipeline, its threshold and metadata.

    Reads are thread-safe: prediction does not change the pipeline.

    Parameters
    ----------
    pipeline
        The fitted pipeline, or None when ``packed`` is given (then ``loader`` loads it,
        on the first read of :attr:`pipeline`).
    metadata
        The bundle's metadata (``threshold``).
    path
        The bundle folder, if any.
    packed
        The bundle's packed model (:mod:`chromesift.models.packed`): prediction,
        classification and explanation use it, and never import scikit-learn or pandas
        for it (pandas only to build a DataFrame).
    loader
        Loads the pipeline when it is read (:attr:`pipeline`) and not given.
    """

    def __init__(self, pipeline, metadata: dict, path: Path | None = None, *, packed=None, loader=None):
        if pipeline is None and packed is None:
            raise ValueError("a Model needs a pipeline or a packed model")
        self._pipeline = pipeline
        self._packed = packed
        self._loader = loader
        self._load_lock = threading.Lock()
        self.metadata = metadata
        self.path = path
        self.threshold = float(metadata.get("threshold", 0.5))

    @property
    def pipeline(self):
        """The fitted scikit-learn pipeline (loaded from the bundle on first read where a packed
        model does the predicting: that imports scikit-learn and pandas)."""
        if self._pipeline is None:
            with self._load_lock:
                if self._pipeline is None:
                    if self._loader is None:
                        raise AttributeError("this Model has no pipeline, only a packed model")
                    self._pipeline = self._loader()
        return self._pipeline

    @pipeline.setter
    def pipeline(self, value) -> None:
        self._pipeline = value
        self._packed = None  # a pipeline set on purpose is what predicts

    def _stages(self):
        """The feature stage and the classifier that predict: the packed model's, else the pipeline's."""
        if self._packed is not None:
            return self._packed[0], self._packed[-1]
        return self.pipeline[0], self.pipeline[-1]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_load_lock"]  # (a lock does not pickle: joblib workers get a Model)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Model({self.metadata.get('name', '?')!r}, threshold={self.threshold:.2f}, path={self.path})"

    def probability(self, scores: np.ndarray) -> np.ndarray:
        """The calibrated content probabilities of the model's ``scores``.

        :meth:`predict_table` and :meth:`predict_columns` give the classifier's own
        probabilities, on which the decisions are made (:attr:`threshold`). A bundle
        trained with ``calibrate`` also holds a map of those to the frequencies seen
        on held-out datasets: this applies it (and is the identity without one). The
        ``probability`` that :meth:`classify` and the batch records report is this.
        """
        cal = getattr(self._stages()[1], "calibrated_proba", None)
        return np.asarray(scores, dtype=float) if cal is None else cal(scores)

    # -- single documents ---------------------------------------------------------
    def predict_table(self, table: pd.DataFrame) -> np.ndarray:
        """Content scores (the classifier's uncalibrated probabilities) for a paragraph table (any number of pages)."""
        schema.validate(table, stage="predict")
        if len(table) == 0:
            return np.zeros(0)
        with _single_thread(len(table)):
            return self.pipeline.predict_proba(table)[:, 1]

    def predict_columns(self, pages: list[dict[str, list]], scope: str | None = None) -> list[np.ndarray]:
        """Content scores (uncalibrated probabilities, see :meth:`probability`) of pages given
        as column lists (:func:`to_columns`), predicted together in groups of whole pages of at
        most :data:`PREDICT_ROWS` paragraphs (the same scores as page by page).

        The fast path: features as one numpy matrix, no DataFrame, when the
        pipeline supports it (bundles of chromesift 0.2 and later). ``scope`` as for
        :meth:`classify`.
        """
        convention = self.check_scope(scope)
        sizes = [len(c["text"]) for c in pages]
        if sum(sizes) > PREDICT_ROWS and len(pages) > 1:
            out, start, rows = [], 0, 0
            for i, n in enumerate(sizes):
                if rows and rows + n > PREDICT_ROWS:
                    out += self._predict_group(pages[start:i], sizes[start:i], convention, scope)
                    start, rows = i, 0
                rows += n
            return out + self._predict_group(pages[start:], sizes[start:], convention, scope)
        return self._predict_group(pages, sizes, convention, scope)

    def _predict_group(self, pages: list[dict[str, list]], sizes: list[int], convention: float | None,
                       scope: str | None) -> list[np.ndarray]:
        total = sum(sizes)
        if total == 0:
            return [np.zeros(0) for _ in pages]
        features, clf = self._stages()
        fast = _matrix_path(features, clf)
        cols, doc = _concat_columns([c for c in pages if len(c["text"])])
        if convention is not None:
            # (a copy: the caller's columns stay as they are)
            cols = {**cols, "_convention": np.full(len(doc), convention)}
        elif _has_conventions(features):
            # "auto" (the default) reads a page that declares itself a forum thread as "all" (rules.page_scope)
            thread = [page_scope(scope, c) == "all" for c in pages if len(c["text"])]
            if any(thread):
                own = float(getattr(features, "convention", 0.0))
                cols = {**cols, "_convention": np.where(np.array(thread)[doc], SCOPES["all"], own)}
        # the packed model runs no OpenMP code: nothing to limit, and limiting costs a call
        with _single_thread(total) if self._packed is None else contextlib.nullcontext():
            if fast:
                proba = clf.predict_proba_matrix(features.transform_columns(cols, doc))[:, 1]
            else:
                proba = self.pipeline.predict_proba(_columns_table(cols, doc))[:, 1]
        out, at = [], 0
        for n in sizes:
            out.append(proba[at : at + n])
            at += n
        return out

    def check_scope(self, scope: str | None) -> float | None:
        """The label convention (``k_convention``) HTML pages are read with for ``scope``
        (:data:`chromesift.models.rules.SCOPES`; None: the bundle's own).

        Raises
        ------
        ValueError
            For an unknown scope, or ``"all"`` with a model trained without label conventions.
        """
        convention = scope_convention(scope)
        if convention is not None:
            features, clf = self._stages()
            if not (_matrix_path(features, clf) and _has_conventions(features)):
                raise ValueError(f"scope {scope!r} needs a model trained with label conventions "
                                 "(chromesift's default training since 2026-12); this one was not")
        return convention

    def decision_threshold(self, threshold: float | None = None, favor: str | None = None) -> float:
        """The threshold a call decides with: :attr:`threshold`, or ``threshold``, or the preset of
        ``favor`` (``"precision"``/``"recall"``; see :func:`chromesift.models.rules.pick_threshold`)."""
        return pick_threshold(self.threshold, threshold, favor)

    def _result(self, cols: dict[str, list], proba: np.ndarray, threshold: float | None = None,
                uniform: bool = False, scope: str | None = None) -> pd.DataFrame:
        if not len(proba):
            return _uniform(_empty_result()) if uniform else _empty_result()
        out = schema.from_columns(cols, "page").drop(columns=["doc_id"])
        cut = self.threshold if threshold is None else threshold
        content, head = decide(cols, proba, cut, title=False, captions=page_captions(scope, cols))
        out.insert(2, "is_content", content)
        out.insert(3, "probability", self.probability(proba))
        out.insert(4, "role", roles(content, head, caption_rows(cols)))
        if uniform:
            return _uniform(out)
        if (out["source"] == "text").all():
            out = out[RESULT_COLUMNS]
        return out

    def classify(
        self, document: str | bytes, *, format: str | None = None, threshold: float | None = None,
        favor: str | None = None, uniform: bool = True, scope: str | None = None,
    ) -> pd.DataFrame:
        """One row per paragraph: position, text, is_content, probability, role, then the structure.

        ``threshold`` (in [0, 1]) or ``favor`` (``"precision"``, ``"recall"``) replace the
        bundle's threshold for this call (:meth:`decision_threshold`).

        ``scope`` says what counts as content (:data:`chromesift.models.rules.SCOPES`):
        ``"article"`` the article body alone, without its captions
        (:func:`chromesift.models.rules.caption_rows`), ``"all"`` all the main content of the
        page (a forum's posts, a listing's items, a service page's text, captions), for HTML;
        ``"auto"`` (None, the default) ``"article"``, but ``"all"`` for a page whose head says it
        is a forum thread (:func:`chromesift.models.rules.page_scope`);
        plain text is read the same either way. ``"all"`` needs a bundle trained with
        label conventions (a ValueError otherwise).

        The columns and dtypes are the same whatever the input (``uniform``, the default):
        the structural columns always, in pandas' nullable dtypes (``Int64``, ``boolean``,
        ``string``), missing (``<NA>``) where the input is plain text (``source`` says
        ``"text"``). ``uniform=False`` gives the columns of chromesift 0.1: plain text only
        the first five, HTML its structure in plain dtypes.

        ``role`` is ``"title"`` for the page's headline (:func:`headline_index`, whatever
        the model says of it: corpora disagree on whether it belongs to the main text),
        ``"caption"`` for a ``<figcaption>``'s paragraphs (:func:`caption_rows`: content only
        with ``scope="all"``, or where the page keeps nothing else), ``"body"`` for the other
        content paragraphs and ``"chrome"`` for the rest.
        """
        cut = self.decision_threshold(threshold, favor)
        cols = to_columns(document, format=format)
        return self._result(cols, self.predict_columns([cols], scope)[0], cut, uniform, scope)

    def extract(
        self, document: str | bytes, *, format: str | None = None, title: bool = False,
        threshold: float | None = None, favor: str | None = None, scope: str | None = None,
    ) -> str:
        """The main text: the body's content paragraphs joined by newlines ("" when there is none).

        The page's headline is left out (it is :meth:`headline`); ``title=True`` keeps it
        in place when the model counts it as content. ``threshold``, ``favor`` or ``scope`` as
        for :meth:`classify`.
        """
        return next(self.extract_many([document], format=format, title=title, threshold=threshold, favor=favor,
                                      scope=scope))

    def headline(self, document: str | bytes, *, format: str | None = None) -> str:
        """The page's headline ("" when none is found): its first long ``<h1>``, or the paragraph the
        ``<title>`` holds; of plain text, the short unpunctuated line that opens the main text
        (:func:`chromesift.models.rules.text_headline_index`, from the model's decisions)."""
        cols = to_columns(document, format=format)
        head = headline_index(cols)
        if head is None and cols["text"] and cols["source"][0] == "text":
            head = decide(cols, self.predict_columns([cols])[0], self.threshold, title=False)[1]
        return "" if head is None else cols["text"][head]

    # -- many documents -------------------------------------------------------------
    def classify_many(
        self,
        documents: Iterable[str | bytes],
        *,
        format: str | None = None,
        n_jobs: int = 1,
        batch_size: int = 64,
        threshold: float | None = None,
        favor: str | None = None,
        page: bool = True,
        uniform: bool = True,
        scope: str | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Classify documents lazily, in input order, predicting a batch of pages at once.

        Only ``batch_size`` pages (times ``n_jobs``) are held in memory at a time.
        ``threshold``, ``favor`` or ``scope`` as for :meth:`classify`. Each frame starts with a column
        ``page``: the document's index in ``documents`` (int64), so frames concatenated
        still say which page a row is of (``page=False`` leaves it out). ``uniform`` as for :meth:`classify`
        (frames of text and HTML pages then concatenate without changing dtypes).
        """
        cut = self.decision_threshold(threshold, favor)
        self.check_scope(scope)  # (a scope this model cannot read with fails here, not in the first batch)
        batches = chunked(documents, batch_size)
        if n_jobs == 1:
            results: Iterable[list[pd.DataFrame]] = (self._classify_batch(b, format, cut, uniform, scope)
                                                         for b in batches)
        else:
            from joblib import Parallel, delayed

            run = Parallel(n_jobs=n_jobs, return_as="generator")
            results = run(delayed(self._classify_batch)(b, format, cut, uniform, scope) for b in batches)
        frames = (frame for batch in results for frame in batch)
        if not page:
            yield from frames
            return
        for i, frame in enumerate(frames):
            frame.insert(0, "page", np.full(len(frame), i, dtype=np.int64))
            yield frame

    def extract_many(
        self, documents: Iterable[str | bytes], *, format: str | None = None, batch_size: int = 64,
        title: bool = False, threshold: float | None = None, favor: str | None = None,
        scope: str | None = None,
    ) -> Iterator[str]:
        """Main texts of documents, lazily and in input order, ``batch_size`` pages predicted at once.

        The same texts as :meth:`extract` one by one, with the per-call costs of the
        feature and prediction steps shared across the batch (no DataFrame at all).
        ``threshold``, ``favor`` or ``scope`` as for :meth:`classify`.
        """
        cut = self.decision_threshold(threshold, favor)
        self.check_scope(scope)  # (a scope this model cannot read with fails here, not in the first batch)
        for batch in chunked(documents, batch_size):
            pages = [to_columns(doc, format=format) for doc in batch]
            for cols, proba in zip(pages, self.predict_columns(pages, scope), strict=True):
                keep = content_mask(cols, proba, cut, title=title, captions=page_captions(scope, cols))
                # keep has a value per paragraph (the model scored each): compress needs no strict check
                yield "\n".join(compress(cols["text"], keep.tolist()))

    def _classify_batch(self, batch: list, format: str | None, threshold: float | None = None,
                        uniform: bool = False, scope: str | None = None) -> list[pd.DataFrame]:
        pages = [to_columns(doc, format=format) for doc in batch]
        return [self._result(c, p, threshold, uniform, scope)
                for c, p in zip(pages, self.predict_columns(pages, scope), strict=True)]

    # -- explanation ----------------------------------------------------------------
    def explain(self, document: str | bytes, *, format: str | None = None, top: int = 3) -> pd.DataFrame:
        """Per paragraph, the features that pushed it to its side.

        Each feature in turn is set to its page median and the page is scored
        again; the features whose change moved the probability most toward the
        other side are the reasons (``feature: +0.12`` means the feature's real
        value raised the content probability by 0.12). Features that moved it the
        other way, or not at all (less than 0.005, shown as 0.00), are not listed.

        One altered copy of the page's feature matrix is scored at a time, so the
        memory is that of :meth:`classify` plus one matrix, whatever the number of features.
        """
        import pandas as pd

        cols = to_columns(document, format=format)
        scores = self.predict_columns([cols])[0]
        res = self._result(cols, scores)
        if not len(scores):
            return res.assign(reasons=pd.Series([], dtype=object))
        features, clf = self._stages()
        n = len(scores)
        if _matrix_path(features, clf):
            M = np.asarray(features.transform_columns(cols, np.zeros(n, dtype=np.int64)), dtype=float)
            names = [str(c) for c in clf.feature_names_in_]
            score = clf.predict_proba_matrix
        else:  # bundles before the matrix path: the same, through the feature frame
            frame = features.transform(to_table(document, format=format))
            names = [str(c) for c in frame.columns]
            M = frame.to_numpy(dtype=float)
            score = functools.partial(_frame_proba, clf, frame.columns)
        base = score(M)[:, 1]
        used = [j for j, name in enumerate(names) if not name.startswith("_")]
        delta = np.empty((len(used), n))  # effect of each feature's real value
        X = M.copy()
        for r, j in enumerate(used):
            column = M[:, j]
            X[:, j] = np.nanmedian(column) if not np.isnan(column).all() else np.nan
            delta[r] = base - score(X)[:, 1]
            X[:, j] = column
        reasons = []
        for i in range(n):
            sign = 1 if base[i] >= self.threshold else -1
            order = np.argsort(-sign * delta[:, i])[:top]  # (ties fall as they always did)
            # a change that rounds to 0.00 is no reason ("-0.00" said nothing and took a place)
            shown = [(k, round(float(delta[k, i]), 2)) for k in order]
            reasons.append([f"{names[used[k]]}: {d:+.2f}" for k, d in shown if sign * d > 0])
        out = res[RESULT_COLUMNS].copy()
        out["reasons"] = reasons
        return out


def _frame_proba(clf, columns, X: np.ndarray) -> np.ndarray:
    import pandas as pd

    return clf.predict_proba(pd.DataFrame(X, columns=columns))


_THREADED_ROWS = 50_000
#: paragraphs predicted in one call at most: :meth:`Model.predict_columns` predicts a batch in
#: groups of whole pages up to this many rows (a larger page is a group of its own); why, in
#: docs/findings.md ("Speed, eleventh round")
PREDICT_ROWS = 1024
_CONTROLLER = None


def _empty_result() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"position": pd.Series([], dtype="int64"), "text": pd.Series([], dtype=object),
                         "is_content": pd.Series([], dtype=bool), "probability": pd.Series([], dtype=float),
                         "role": pd.Series([], dtype=object)})


#: the nullable dtype of each structural column's dtype (``uniform=True``)
_NULLABLE = {"int64": "Int64", "bool": "boolean", "object": "string"}


def _uniform(out: pd.DataFrame) -> pd.DataFrame:
    """``out`` with every structural column, in nullable dtypes, missing on plain-text rows."""
    import pandas as pd

    out = out.copy()
    text = out["source"] == "text" if "source" in out else pd.Series(True, index=out.index)
    for c, t in schema.STRUCT_COLUMNS.items():
        column = out[c] if c in out else pd.Series(pd.NA, index=out.index, dtype=object)
        column = column.astype(object).where(~text, pd.NA) if c != "source" else column.where(~text, "text")
        out[c] = column.astype(_NULLABLE[t])
    for c in ("text", "role"):  # an empty frame's are object columns: the same dtype as a page's
        out[c] = out[c].astype(str)
    return out[RESULT_COLUMNS + list(schema.STRUCT_COLUMNS)]


def _columns_table(cols: dict[str, list], doc: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame({c: pd.Series(cols[c], dtype=t) for c, t in schema.COLUMNS.items() if c != "doc_id"})
    frame.insert(0, "doc_id", doc.astype(str).astype(object))
    return frame


class _single_thread:
    """Limit OpenMP to one thread for page-sized predictions (start-up costs more than it saves)."""

    def __init__(self, rows: int) -> None:
        self.ctx = _threadpools().limit(limits=1, user_api="openmp") if rows <= _THREADED_ROWS else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)
        return False


def _threadpools():
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


_CACHE: dict[str, Model] = {}
_LOCK = threading.Lock()
#: the shipped model once loaded: ``load_model()`` without arguments returns it without
#: resolving the bundle's path again (a filesystem walk per call of ``chromesift.extract``)
_DEFAULT: Model | None = None


def load_model(path: str | Path | None = None, *, trusted: bool | str = False) -> Model:
    """Load (once, then from cache) a verified bundle; None is the shipped default model.

    A bundle with a ``model.npz`` (every bundle chromesift writes now, the shipped one
    included) predicts from it: numpy arrays, so loading imports neither scikit-learn nor
    pandas, runs no code and needs no trust; its pipeline is unpickled only when
    :attr:`Model.pipeline` is read. Of a bundle without one, the pipeline is loaded now.

    Unpickling a bundle that is neither the shipped one nor written on this machine is
    refused, with its sha256 shown, unless ``trusted`` is True or that sha256 (a bundle is
    a pickle: loading it can run code); see :mod:`chromesift.models.bundle`. A sha256 given
    as ``trusted`` that is not the bundle's is refused at once, ``model.npz`` or not.

    Raises
    ------
    chromesift.errors.BundleError
        When the bundle is missing, altered, made with another scikit-learn, or untrusted.
    """
    global _DEFAULT
    if path is None and trusted is False and _DEFAULT is not None:
        return _DEFAULT
    from chromesift.models.bundle import DEFAULT_BUNDLE

    folder = Path(path) if path is not None else DEFAULT_BUNDLE
    key = str(folder.resolve())
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = _CACHE[key] = _load(folder, trusted)
        elif trusted is not False and model._pipeline is None and model._loader is not None:
            # loaded before without trust: the pipeline, when read, is loaded with this trust
            from chromesift.models.bundle import _check_trust

            if isinstance(trusted, str):
                _check_trust(folder, model.metadata, trusted)
            model._loader = functools.partial(_pipeline_of, folder, trusted, model.metadata)
        if path is None:
            _DEFAULT = model
    return model


def _load(folder: Path, trusted: bool | str) -> Model:
    """The Model of a bundle: from its ``model.npz`` where it has one (the pipeline loaded on
    demand, with the same ``trusted``), else from its pipeline."""
    from chromesift.models.bundle import _check_trust, load_bundle, load_packed

    packed, meta = load_packed(folder)
    if packed is None:
        pipeline, meta = load_bundle(folder, trusted=trusted)
        return Model(pipeline, meta, folder)
    if isinstance(trusted, str):  # a pinned model: refuse another one, as loading the pipeline would
        _check_trust(folder, meta, trusted)
    loader = functools.partial(_pipeline_of, folder, trusted, meta)
    return Model(None, meta, folder, packed=packed, loader=loader)


def _pipeline_of(folder: Path, trusted: bool | str, meta: dict):
    """The bundle's pipeline, if it is still the bundle whose packed model predicts (its metadata unchanged)."""
    from chromesift.errors import BundleError
    from chromesift.models.bundle import load_bundle

    pipeline, now = load_bundle(folder, trusted=trusted)
    if now != meta:
        raise BundleError(f"{folder}: the bundle changed since it was loaded; load it again")
    return pipeline
