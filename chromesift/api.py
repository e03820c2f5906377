"""The library call: load a bundle, classify and extract pages."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from chromesift.data import schema
from chromesift.data.html import parse_html
from chromesift.data.text import parse_text
from chromesift.data.util import chunked

FORMATS = ("html", "text")
_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|head|body|div|p|span|a\s|table|br|article|section|meta|title|ul|li|h[1-6])\b",
    re.I,
)
#: columns of :meth:`Model.classify`, before the structural ones
RESULT_COLUMNS = ["position", "text", "is_content", "probability"]


def detect_format(document: str | bytes) -> str:
    """"html" when the start of the document holds markup, else "text"."""
    head = document[:8192]
    if isinstance(head, str):
        head = head.encode("utf-8", errors="ignore")
    return "html" if _MARKUP.search(head) else "text"


def _check_document(document: object) -> None:
    if not isinstance(document, (str, bytes, bytearray)):
        raise TypeError(f"document must be str or bytes (HTML or plain text), not {type(document).__name__}")


def to_table(document: str | bytes, *, format: str | None = None, doc_id: str = "page") -> pd.DataFrame:
    """Parse a document into the paragraph table (``format`` None detects it)."""
    _check_document(document)
    fmt = format or detect_format(document)
    if fmt not in FORMATS:
        raise ValueError(f"format must be 'html', 'text' or None, not {format!r}")
    return parse_html(document, doc_id=doc_id) if fmt == "html" else parse_text(document, doc_id=doc_id)


class Model:
    """A loaded bundle: the fitted pipeline, its threshold and metadata.

    Reads are thread-safe: prediction does not change the pipeline.
    """

    def __init__(self, pipeline, metadata: dict, path: Path | None = None):
        self.pipeline = pipeline
        self.metadata = metadata
        self.path = path
        self.threshold = float(metadata.get("threshold", 0.5))

    def __repr__(self) -> str:
        return f"Model({self.metadata.get('name', '?')!r}, threshold={self.threshold:.2f}, path={self.path})"

    # -- single documents ---------------------------------------------------------
    def predict_table(self, table: pd.DataFrame) -> np.ndarray:
        """Content probabilities for a paragraph table (any number of pages)."""
        schema.validate(table, stage="predict")
        if len(table) == 0:
            return np.zeros(0)
        if len(table) > _THREADED_ROWS:
            return self.pipeline.predict_proba(table)[:, 1]
        # on a page or a small batch, OpenMP's thread start-up costs more than it saves
        with _threadpools().limit(limits=1, user_api="openmp"):
            return self.pipeline.predict_proba(table)[:, 1]

    def _result(self, table: pd.DataFrame, proba: np.ndarray) -> pd.DataFrame:
        out = table.drop(columns=["doc_id"]).copy()
        out.insert(2, "is_content", proba >= self.threshold)
        out.insert(3, "probability", proba)
        if (out["source"] == "text").all():
            out = out[RESULT_COLUMNS]
        return out.reset_index(drop=True)

    def classify(self, document: str | bytes, *, format: str | None = None) -> pd.DataFrame:
        """One row per paragraph: position, text, is_content, probability (+ structure for HTML)."""
        table = to_table(document, format=format)
        if len(table) == 0:
            return pd.DataFrame({"position": pd.Series([], dtype="int64"), "text": pd.Series([], dtype=object),
                                 "is_content": pd.Series([], dtype=bool), "probability": pd.Series([], dtype=float)})
        return self._result(table, self.predict_table(table))

    def extract(self, document: str | bytes, *, format: str | None = None) -> str:
        """The main text: content paragraphs joined by newlines ("" when there is none)."""
        res = self.classify(document, format=format)
        return "\n".join(res.loc[res["is_content"], "text"]) if len(res) else ""

    # -- many documents -------------------------------------------------------------
    def classify_many(
        self,
        documents: Iterable[str | bytes],
        *,
        format: str | None = None,
        n_jobs: int = 1,
        batch_size: int = 64,
    ) -> Iterator[pd.DataFrame]:
        """Classify documents lazily, in input order, predicting a batch of pages at once.

        Only ``batch_size`` pages (times ``n_jobs``) are held in memory at a time.
        """
        batches = chunked(documents, batch_size)
        if n_jobs == 1:
            for batch in batches:
                yield from self._classify_batch(batch, format)
            return
        from joblib import Parallel, delayed

        run = Parallel(n_jobs=n_jobs, return_as="generator")
        for results in run(delayed(self._classify_batch)(b, format) for b in batches):
            yield from results

    def _classify_batch(self, batch: list, format: str | None) -> list[pd.DataFrame]:
        tables = [to_table(doc, format=format, doc_id=str(i)) for i, doc in enumerate(batch)]
        whole = pd.concat([t for t in tables if len(t)], ignore_index=True) if any(len(t) for t in tables) else None
        proba = self.predict_table(whole) if whole is not None else np.zeros(0)
        out, at = [], 0
        for t in tables:
            out.append(self._result(t, proba[at : at + len(t)]) if len(t) else self.classify(""))
            at += len(t)
        return out

    # -- explanation ----------------------------------------------------------------
    def explain(self, document: str | bytes, *, format: str | None = None, top: int = 3) -> pd.DataFrame:
        """Per paragraph, the features that pushed it to its side.

        Each feature in turn is set to its page median and the page is scored
        again; the features whose change moved the probability most toward the
        other side are the reasons (``feature: +0.12`` means the feature's real
        value raised the content probability by 0.12).
        """
        table = to_table(document, format=format)
        res = self.classify(document, format=format)
        if len(table) == 0:
            return res.assign(reasons=pd.Series([], dtype=object))
        feats = self.pipeline[0].transform(table)
        clf = self.pipeline[-1]
        base = clf.predict_proba(feats)[:, 1]
        names = [c for c in feats.columns if not c.startswith("_")]
        n = len(feats)
        copies = []
        for j, name in enumerate(names):
            c = feats.copy()
            c[name] = c[name].median()
            c["_doc"] = float(j)
            copies.append(c)
        probs = clf.predict_proba(pd.concat(copies, ignore_index=True))[:, 1].reshape(len(names), n)
        delta = base[None, :] - probs  # effect of the feature's real value
        reasons = []
        for i in range(n):
            sign = 1 if base[i] >= self.threshold else -1
            order = np.argsort(-sign * delta[:, i])[:top]
            reasons.append([f"{names[k]}: {delta[k, i]:+.2f}" for k in order if sign * delta[k, i] > 0])
        out = res[RESULT_COLUMNS].copy()
        out["reasons"] = reasons
        return out


_THREADED_ROWS = 50_000
_CONTROLLER = None


def _threadpools():
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


_CACHE: dict[str, Model] = {}
_LOCK = threading.Lock()


def load_model(path: str | Path | None = None, *, trusted: bool | str = False) -> Model:
    """Load (once, then from cache) a verified bundle; None is the shipped default model.

    A bundle that is neither the shipped one nor written on this machine is refused,
    with its sha256 shown, unless ``trusted`` is True or that sha256 (a bundle is a
    pickle: loading it can run code); see :mod:`chromesift.models.bundle`.

    Raises
    ------
    chromesift.errors.BundleError
        When the bundle is missing, altered, made with another scikit-learn, or untrusted.
    """
    from chromesift.models import DEFAULT_BUNDLE, load_bundle

    folder = Path(path) if path is not None else DEFAULT_BUNDLE
    key = str(folder.resolve())
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            pipeline, meta = load_bundle(folder, trusted=trusted)
            model = _CACHE[key] = Model(pipeline, meta, folder)
    return model
