"""Other main-content extractors, behind one adapter interface, run safely and cached.

Every adapter has a ``name`` and ``extract(html, lang) -> str``; the peer's
library is imported inside the adapter, so this module imports none of them.
The settings used, checked against the reference figures of the project's
peer table (Scrapinghub F1; snippet F1 on trafilatura-eval) on every shared
dataset:

``trafilatura``
    ``trafilatura.extract(html)``, library defaults (``None`` -> ``""``).
    Reproduces all eleven reference figures within 0.001.
``resiliparse``
    ``resiliparse.extract.html2text.extract_plain_text(html, main_content=True)``,
    other options at their defaults. Within 0.002 of all eleven.
``all-text``
    The trivial baseline: every text node of the page as lxml parses it
    (``<title>`` included, ``<script>`` and ``<style>`` dropped), one per
    line, by :func:`node_text`. Within 0.001 of all eleven. One line per
    text node rather than per block matters on Chinese pages, where ``\\w+``
    tokens run on across unspaced block boundaries (one line per block
    scores 0.02 to 0.03 higher there).
``readability-lxml``
    ``readability.Document(html).summary(html_partial=True)``, turned into
    text by :func:`fragment_text`: one line per block element and ``<br>``,
    whitespace collapsed. This scores above the reference on most datasets
    (cleaneval 0.890 against 0.749, l3s-gn1 0.931 against 0.884): the
    reference figures are reproduced (within 0.005 on eight of eleven) by
    joining ``text_content()`` of every ``p``, ``h1``-``h6``, ``li``, ``td``,
    ``pre`` and ``blockquote`` of the summary, which repeats the text of
    nested elements (a ``p`` inside a ``td``) and so costs precision; the
    conversion here counts each text once.
``justext``
    ``justext.justext(html, justext.get_stoplist(LANG))`` with the stoplist of
    the page language (:data:`JUSTEXT_LANGUAGES`; English when the language
    is unknown or has no stoplist, as for Chinese), other parameters at their
    defaults; the non-boilerplate paragraphs joined by newlines.
``boilerpy3``
    ``boilerpy3.extractors.ArticleExtractor(raise_on_failure=False).get_content(html)``:
    with the default ``raise_on_failure=True`` an unbalanced end tag fails
    the page (about 2% of the corpus pages).
``goose3``
    ``goose3.Goose().extract(raw_html=html).cleaned_text``, default
    configuration (English stopwords; one ``Goose`` per worker).
``newspaper4k``
    ``newspaper.fulltext(html, language=LANG)``, its HTML-to-text call that
    makes no HTTP request (``Article.parse`` tries to download images), with
    the page language when newspaper4k has stopwords for it, else English.
    Chinese and Japanese need the optional ``jieba`` / ``tinysegmenter``;
    without them those pages fail.

Control characters that lxml refuses (U+0000-U+001F but tab and line
breaks, a handful of corpus pages) are removed before the lxml-based peers
see a page.

:func:`run_peer` runs an adapter over pages in worker processes with a time
limit per page (default :data:`DEFAULT_TIMEOUT` seconds): a page that fails
or times out counts as a failure with empty output, never as an error of
the run. Outputs are cached in an SQLite file keyed by peer name and
version, page id and the sha256 of the page's HTML, so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import logging
import re
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from chromesift.data.vocab import BLOCK_TAGS
from chromesift.errors import ChromesiftError, UserError

log = logging.getLogger(__name__)

#: Seconds one page may take before the worker is killed and the page counted failed.
DEFAULT_TIMEOUT = 10.0
#: Default cache folder (relative to the working directory).
DEFAULT_CACHE_DIR = Path(".cache") / "peers"
#: Part of every adapter's cache key; bumped when the cache format or shared helpers change.
SETTINGS_VERSION = "1"

#: ISO 639-1 code -> jusText stoplist name, for the languages of the corpora and their neighbours.
JUSTEXT_LANGUAGES: dict[str, str] = {
    "af": "Afrikaans", "an": "Aragonese", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali",
    "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish",
    "gl": "Galician", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
    "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ka": "Georgian",
    "kk": "Kazakh", "ko": "Korean", "la": "Latin", "lt": "Lithuanian", "lv": "Latvian",
    "mk": "Macedonian", "ms": "Malay", "nl": "Dutch", "nb": "Norwegian_Bokmal",
    "nn": "Norwegian_Nynorsk", "no": "Norwegian_Bokmal", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sq": "Albanian",
    "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu",
    "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "vi": "Vietnamese",
}


@runtime_checkable
class Extractor(Protocol):
    """What every peer adapter (and chromesift itself, in a report) offers."""

    name: str

    def extract(self, html: str, lang: str | None) -> str:
        """Main text of a page, paragraphs separated by newlines."""
        ...


class PeerAdapter:
    """Base of the adapters: name, the distribution that provides it, and a version string."""

    name = ""
    #: distribution name on PyPI, for the version and the availability check
    distribution = ""
    #: top-level module to check for importability
    module = ""
    #: whether outputs go to the on-disk cache (not for the cheap, evolving baseline)
    cacheable = True
    #: bumped when this adapter's settings change, so that its old cache rows are not reused
    settings = "1"

    @classmethod
    def available(cls) -> bool:
        """Whether the peer's library can be imported here."""
        return not cls.module or importlib.util.find_spec(cls.module) is not None

    @classmethod
    def version(cls) -> str:
        """Library version plus :data:`SETTINGS_VERSION` and the adapter's ``settings`` (the cache key)."""
        lib = "builtin"
        if cls.distribution:
            try:
                lib = importlib.metadata.version(cls.distribution)
            except importlib.metadata.PackageNotFoundError:
                lib = "missing"
        return f"{lib}+s{SETTINGS_VERSION}.{cls.settings}"

    def extract(self, html: str, lang: str | None) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


#: Characters lxml refuses in text (XML 1.0 forbids them); a few corpus pages contain them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_safe(html: str) -> str:
    """The page without the control characters that make lxml-based peers fail."""
    return _XML_INVALID.sub("", html)


#: Elements whose content is code, not text.
_NO_TEXT_TAGS = frozenset({"script", "style"})
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


@functools.lru_cache(maxsize=1)
def _html_parser():
    from lxml import html as lxml_html

    return lxml_html.HTMLParser(huge_tree=True, remove_comments=True)


def fragment_text(fragment: str) -> str:
    """Text of HTML with lxml: one line per block element and ``<br>``, no script or style.

    Parameters
    ----------
    fragment
        HTML (a whole page or a fragment).

    Returns
    -------
    str
        Non-empty lines, whitespace collapsed within each line.
    """
    from lxml import etree
    from lxml import html as lxml_html

    # lxml refuses text that still carries an XML encoding declaration
    fragment = _XML_DECL.sub("", fragment or "", count=1)
    if not fragment.strip():
        return ""
    try:
        root = lxml_html.fromstring(fragment, parser=_html_parser())
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return ""
    parts: list[str] = []
    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _NO_TEXT_TAGS:
                walker.skip_subtree()
                continue
            if tag in BLOCK_TAGS:
                parts.append("\n")
            if el.text:
                parts.append(el.text)
            continue
        if tag in BLOCK_TAGS or tag == "br":
            parts.append("\n")
        if el.tail:
            parts.append(el.tail)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def node_text(page: str) -> str:
    """Every text node of an HTML page, one per line, without script and style content.

    Unlike :func:`fragment_text`, inline markup splits lines too (``<b>a</b>b``
    gives two lines), as ``"\\n".join(root.itertext())`` does.
    """
    from lxml import etree
    from lxml import html as lxml_html

    page = _XML_DECL.sub("", page or "", count=1)
    if not page.strip():
        return ""
    try:
        root = lxml_html.fromstring(page, parser=_html_parser())
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return ""
    parts: list[str] = []
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        if event == "start":
            if isinstance(el.tag, str) and el.tag.lower() in _NO_TEXT_TAGS:
                walker.skip_subtree()
            elif el.text:
                parts.append(el.text)
        elif el.tail:
            parts.append(el.tail)
    lines = (" ".join(p.split()) for p in parts)
    return "\n".join(line for line in lines if line)


class Trafilatura(PeerAdapter):
    """trafilatura with its default settings."""

    name = "trafilatura"
    distribution = module = "trafilatura"

    def extract(self, html: str, lang: str | None) -> str:
        import trafilatura

        return trafilatura.extract(html) or ""


class ReadabilityLxml(PeerAdapter):
    """readability-lxml's summary, turned into text with lxml."""

    name = "readability-lxml"
    distribution = "readability-lxml"
    module = "readability"
    settings = "2"  # control characters removed first

    def extract(self, html: str, lang: str | None) -> str:
        from readability import Document

        return fragment_text(Document(_xml_safe(html)).summary(html_partial=True))


class JusText(PeerAdapter):
    """jusText with the stoplist of the page language (English fallback)."""

    name = "justext"
    distribution = "jusText"
    module = "justext"
    settings = "2"  # control characters removed first

    def extract(self, html: str, lang: str | None) -> str:
        import justext

        language = JUSTEXT_LANGUAGES.get((lang or "").lower().split("-")[0], "English")
        paragraphs = justext.justext(_xml_safe(html), justext.get_stoplist(language))
        return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


class BoilerPy3(PeerAdapter):
    """boilerpy3's ArticleExtractor."""

    name = "boilerpy3"
    distribution = module = "boilerpy3"
    settings = "2"  # 1 raised on unbalanced end tags

    def extract(self, html: str, lang: str | None) -> str:
        from boilerpy3 import extractors

        # tolerant parsing: an unbalanced end tag, common in real pages, would otherwise fail the page
        return extractors.ArticleExtractor(raise_on_failure=False).get_content(_xml_safe(html)) or ""


class Resiliparse(PeerAdapter):
    """Resiliparse's plain-text extraction with its main-content heuristics."""

    name = "resiliparse"
    distribution = "Resiliparse"
    module = "resiliparse"

    def extract(self, html: str, lang: str | None) -> str:
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(html, main_content=True) or ""


class Goose3(PeerAdapter):
    """goose3's cleaned article text."""

    name = "goose3"
    distribution = module = "goose3"
    settings = "2"  # control characters removed first

    def __init__(self) -> None:
        self._goose = None

    def extract(self, html: str, lang: str | None) -> str:
        if self._goose is None:
            from goose3 import Goose

            self._goose = Goose()
        return self._goose.extract(raw_html=_xml_safe(html)).cleaned_text or ""


class Newspaper4k(PeerAdapter):
    """newspaper4k's article body from given HTML (``newspaper.fulltext``: no HTTP requests)."""

    name = "newspaper4k"
    distribution = "newspaper4k"
    module = "newspaper"
    settings = "3"  # 1 was Article.parse, which tries to download images; 3 removes control characters

    def extract(self, html: str, lang: str | None) -> str:
        with warnings.catch_warnings():
            # documented third-party warning: newspaper4k says on import that nltk is absent
            warnings.filterwarnings("ignore", message="nltk is not installed", category=UserWarning)
            import newspaper

        code = (lang or "").lower().split("-")[0]
        if code not in _newspaper_languages():
            code = "en"
        return newspaper.fulltext(_xml_safe(html), language=code) or ""


@functools.lru_cache(maxsize=1)
def _newspaper_languages() -> frozenset[str]:
    from newspaper.languages import get_available_languages

    return frozenset(get_available_languages())


class AllText(PeerAdapter):
    """The trivial baseline: every text node of the page but scripts and styles, one per line."""

    name = "all-text"
    cacheable = False

    def extract(self, html: str, lang: str | None) -> str:
        return node_text(html)


#: Peer name -> adapter class, in report order.
PEERS: dict[str, type[PeerAdapter]] = {
    cls.name: cls
    for cls in (
        Trafilatura,
        ReadabilityLxml,
        JusText,
        BoilerPy3,
        Resiliparse,
        Goose3,
        Newspaper4k,
        AllText,
    )
}


def get_peer(name: str) -> PeerAdapter:
    """A fresh adapter by name; an unknown name raises :class:`UserError` listing the known ones."""
    try:
        return PEERS[name]()
    except KeyError:
        raise UserError(f"unknown peer {name!r} (known: {', '.join(PEERS)})") from None


def _peer_spec(peer: str | type[PeerAdapter]) -> str:
    """Registry name, or ``module:Class`` for an adapter class outside the registry."""
    if isinstance(peer, str):
        if peer not in PEERS:
            raise UserError(f"unknown peer {peer!r} (known: {', '.join(PEERS)})")
        return peer
    return f"{peer.__module__}:{peer.__qualname__}"


def _peer_class(spec: str) -> type[PeerAdapter]:
    """Inverse of :func:`_peer_spec` (worker side)."""
    if spec in PEERS:
        return PEERS[spec]
    module, _, qualname = spec.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def parse_peer_names(spec: str | Sequence[str] | None) -> list[str]:
    """Peer names from ``"all"``, ``"none"``, a comma-separated string or a list.

    ``"all"`` gives every peer whose library is importable; a peer named
    explicitly but not importable raises :class:`UserError`.
    """
    if spec is None:
        return []
    items = [spec] if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in items:
        names.extend(n.strip() for n in item.split(",") if n.strip())
    if names == ["none"]:
        return []
    if "all" in names:
        return [n for n, cls in PEERS.items() if cls.available()]
    out = []
    for n in names:
        cls = PEERS.get(n)
        if cls is None:
            raise UserError(f"unknown peer {n!r} (known: {', '.join(PEERS)}, or 'all')")
        if not cls.available():
            raise UserError(
                f"peer {n!r} is not installed: pip install 'chromesift[peers]'"
            )
        if n not in out:
            out.append(n)
    return out


@dataclass(frozen=True)
class PeerResult:
    """One page's output of one peer.

    Attributes
    ----------
    page_id
        Page identifier.
    text
        Extracted text (``""`` on failure).
    seconds
        Wall time of the extraction in the worker (NaN when it failed to finish).
    status
        ``"ok"``, ``"error"`` or ``"timeout"``.
    error
        Short description of the failure, else ``""``.
    cached
        Whether the result came from the cache.
    """

    page_id: str
    text: str
    seconds: float
    status: str = "ok"
    error: str = ""
    cached: bool = False

    @property
    def failed(self) -> bool:
        """True when the peer did not produce an output for the page."""
        return self.status != "ok"


def html_sha(html: str) -> str:
    """sha256 of a page's HTML (UTF-8, invalid surrogates replaced)."""
    return hashlib.sha256(html.encode("utf-8", errors="replace")).hexdigest()


class PeerCache:
    """SQLite cache of peer outputs, one file per cache folder.

    Parameters
    ----------
    cache_dir
        Folder of ``peers.sqlite`` (created on first use), or ``None`` for no cache.
    """

    FILE = "peers.sqlite"

    def __init__(self, cache_dir: Path | str | None) -> None:
        self.path = None if cache_dir is None else Path(cache_dir) / self.FILE
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outputs (peer TEXT, version TEXT, page_id TEXT,"
                " html_sha TEXT, text TEXT, seconds REAL, status TEXT, error TEXT,"
                " PRIMARY KEY (peer, version, page_id, html_sha))"
            )
            self._db.commit()
        return self._db

    def get_many(self, peer: str, version: str, keys: Iterable[tuple[str, str]]) -> dict:
        """Cached results for ``(page_id, html_sha)`` keys: key -> :class:`PeerResult`."""
        db = self._conn()
        if db is None:
            return {}
        found = {}
        wanted = set(keys)
        ids = sorted({page_id for page_id, _ in wanted})
        for at in range(0, len(ids), 500):  # SQLite caps the number of parameters
            chunk = ids[at : at + 500]
            rows = db.execute(
                "SELECT page_id, html_sha, text, seconds, status, error FROM outputs"
                f" WHERE peer = ? AND version = ? AND page_id IN ({','.join('?' * len(chunk))})",
                (peer, version, *chunk),
            )
            for page_id, sha, text, seconds, status, error in rows:
                if (page_id, sha) in wanted:
                    secs = float("nan") if seconds is None else seconds
                    found[(page_id, sha)] = PeerResult(page_id, text, secs, status, error, True)
        return found

    def put_many(self, peer: str, version: str, items: Iterable[tuple[str, PeerResult]]) -> None:
        """Store ``(html_sha, result)`` pairs."""
        db = self._conn()
        if db is None:
            return
        db.executemany(
            "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (peer, version, r.page_id, sha, r.text, r.seconds, r.status, r.error)
                for sha, r in items
            ],
        )
        db.commit()

    def close(self) -> None:
        """Close the database connection."""
        if self._db is not None:
            self._db.close()
            self._db = None


def _quiet_worker() -> None:
    # a worker's only output is its results: peers' log lines and warnings would flood the terminal
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")


def _peer_worker(name: str) -> Callable[[tuple[int, str, str | None]], tuple[str, float, str]]:
    """Set up a worker process for one peer: import it now, so that the first page's time is
    extraction time only; the handler extracts ``(job, html, lang)`` -> ``(text, seconds, error)``."""
    _quiet_worker()
    peer_cls = _peer_class(name)
    if peer_cls.module:
        importlib.import_module(peer_cls.module)
    peer = peer_cls()

    def extract(job: tuple[int, str, str | None]) -> tuple[str, float, str]:
        _, html, lang = job
        start = time.perf_counter()
        try:
            text = peer.extract(html, lang)
            error = ""
        except Exception as exc:  # a peer failing on a page is data, not a crash
            text, error = "", f"{type(exc).__name__}: {exc}"[:300]
        return text or "", time.perf_counter() - start, error

    return extract


class PeerStartError(ChromesiftError, RuntimeError):
    """A peer's worker process could not start (import failure, crash on start-up)."""


#: Seconds a worker may take to start and import its peer.
STARTUP_TIMEOUT = 120.0


def _run_workers(
    name: str,
    jobs: list[tuple[str, str, str | None]],
    *,
    timeout: float,
    n_jobs: int,
    on_result: Callable[[int, PeerResult], None],
) -> None:
    """Run ``jobs`` (page id, html, lang) in ``n_jobs`` worker processes with a per-page time limit."""
    from chromesift.runtime.pool import Failure, WorkerStartError, run_pool

    results = run_pool(
        ((j, html, lang) for j, (_, html, lang) in enumerate(jobs)), _peer_worker, (name,),
        workers=max(1, min(n_jobs, len(jobs))), job_timeout=timeout,
        startup_timeout=STARTUP_TIMEOUT, daemon=True,
    )
    try:
        with contextlib.closing(results):
            for (j, _, _), outcome in results:
                page_id = jobs[j][0]
                if not isinstance(outcome, Failure):
                    text, seconds, error = outcome
                    on_result(j, PeerResult(page_id, text, seconds, "error" if error else "ok", error))
                elif outcome.kind == "timeout":
                    on_result(j, PeerResult(page_id, "", float("nan"), "timeout", f"over {timeout:g} s"))
                else:  # the worker died on this page (a crash in C code)
                    error = (f"worker died (exit code {outcome.exitcode})" if outcome.kind == "died"
                             else outcome.detail)
                    on_result(j, PeerResult(page_id, "", float("nan"), "error", error))
    except WorkerStartError as exc:
        if exc.kind == "timeout":
            raise PeerStartError(f"{name}: worker did not start in {STARTUP_TIMEOUT:g} s") from None
        if exc.kind == "exited":
            raise PeerStartError(f"{name}: worker exited on start-up (exit code {exc.exitcode})") from None
        raise PeerStartError(f"{name}: cannot load the peer ({exc.error_type}: {exc.reason})") from None


def run_peer(
    peer: str | type[PeerAdapter],
    pages: Sequence,
    *,
    cache_dir: Path | str | None = DEFAULT_CACHE_DIR,
    timeout: float | None = DEFAULT_TIMEOUT,
    n_jobs: int = 1,
    progress: bool = False,
) -> list[PeerResult]:
    """Run one peer over pages, with a time limit per page and an on-disk cache.

    Parameters
    ----------
    peer
        Peer name (a key of :data:`PEERS`), or an adapter class defined at
        module level elsewhere (workers import it by its module path).
    pages
        Objects with ``id``, ``html`` and ``lang`` (e.g. :class:`chromesift.data.corpus.Page`).
    cache_dir
        Folder of the SQLite cache, ``None`` for no cache.
    timeout
        Seconds per page; ``None`` runs in this process without a limit
        (no isolation: for benchmarks only).
    n_jobs
        Worker processes.
    progress
        Show a tqdm progress bar.

    Returns
    -------
    list of PeerResult
        One per page, in page order. Failures have ``status`` ``"error"`` or
        ``"timeout"`` and empty text.
    """
    spec = _peer_spec(peer)
    peer_cls = _peer_class(spec)
    name = peer_cls.name or spec
    version = peer_cls.version()
    cache = PeerCache(cache_dir if peer_cls.cacheable else None)
    shas = [html_sha(p.html) for p in pages]
    try:
        cached = cache.get_many(name, version, zip((p.id for p in pages), shas, strict=True))
        results: list[PeerResult | None] = [cached.get((p.id, s)) for p, s in zip(pages, shas, strict=True)]
        todo = [i for i, r in enumerate(results) if r is None]
        if not todo:
            return results  # type: ignore[return-value]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), desc=name, unit="page", leave=False)
        buffer: list[tuple[str, PeerResult]] = []

        def on_result(j: int, result: PeerResult) -> None:
            i = todo[j]
            results[i] = result
            buffer.append((shas[i], result))
            if len(buffer) >= 50:
                cache.put_many(name, version, buffer)
                buffer.clear()
            if bar is not None:
                bar.update(1)

        jobs = [(pages[i].id, pages[i].html, pages[i].lang) for i in todo]
        try:
            if timeout is None:
                for j, result in enumerate(_run_inline(spec, jobs)):
                    on_result(j, result)
            else:
                _run_workers(spec, jobs, timeout=timeout, n_jobs=n_jobs, on_result=on_result)
        finally:
            cache.put_many(name, version, buffer)
            if bar is not None:
                bar.close()
    finally:
        cache.close()
    failed = sum(r.failed for r in results if r is not None)
    if failed:
        log.info("%s: %d of %d pages failed or timed out", name, failed, len(pages))
    return results  # type: ignore[return-value]


def _run_inline(spec: str, jobs: list[tuple[str, str, str | None]]) -> Iterator[PeerResult]:
    peer = _peer_class(spec)()
    for page_id, html, lang in jobs:
        start = time.perf_counter()
        try:
            text = peer.extract(html, lang)
            yield PeerResult(page_id, text or "", time.perf_counter() - start)
        except Exception as exc:  # a peer failing on a page is data, not a crash
            yield PeerResult(page_id, "", float("nan"), "error", f"{type(exc).__name__}: {exc}"[:300])
