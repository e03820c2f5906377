"""Pages from the web: ``chromesift extract https://...`` and ``--urls FILE``.

Standard library only (:mod:`urllib.request`). Each fetch has a timeout and a size limit
(the body is read up to ``max_bytes`` and no further), follows redirects, and decodes the
body by the charset of its ``Content-Type`` header when the bytes agree with it (else the
parser's own detection decides, as for WARC records). Anything that goes wrong is the
page's ``error``, never an exception: a URL list runs to its end.

Politeness: :func:`fetch_pages` fetches with a few threads but never two requests to one
host closer than ``delay`` seconds apart, and yields the pages in the order of the list.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chromesift.errors import UserError
from chromesift.runtime.core import MAX_PAGE_BYTES, Page

#: seconds a request may take to connect and between bytes
FETCH_TIMEOUT = 20.0
#: seconds between two requests to the same host
HOST_DELAY = 1.0
#: requests in flight at once (to different hosts, or one host after its delay)
FETCH_WORKERS = 4
#: how chromesift says who it is
USER_AGENT = "chromesift (+https://pypi.org/project/chromesift/)"
#: content types read as HTML, and as plain text
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})


def is_url(value: str | None) -> bool:
    """Whether a page argument is an http(s) URL rather than a file name."""
    return bool(value) and str(value).lower().startswith(("http://", "https://"))


def fetch_page(url: str, *, timeout: float | None = FETCH_TIMEOUT, max_bytes: int | None = MAX_PAGE_BYTES,
               format: str | None = None) -> Page:
    """Fetch one URL as a :class:`Page` (id and url: the URL); a failure is the page's ``error``.

    Parameters
    ----------
    url
        An ``http://`` or ``https://`` URL.
    timeout
        Seconds to connect and between bytes (None: the socket default).
    max_bytes
        Larger bodies are not read past this; the page gets an error (None: no limit).
    format
        ``"html"`` or ``"text"`` whatever the content type says; None: by the content type
        (HTML or ``text/plain``; any other type is an error).
    """
    if not is_url(url):
        return Page(url, None, url=url, error="not an http(s) URL")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only, checked)
            ctype = response.headers.get_content_type()
            charset = response.headers.get_content_charset()
            kind = format or ("html" if ctype in HTML_TYPES else "text" if ctype in TEXT_TYPES else None)
            if kind is None:
                return Page(url, None, url=url, error=f"not HTML or text (content type {ctype})")
            length = response.headers.get("Content-Length")
            if max_bytes is not None and length and length.isdigit() and int(length) > max_bytes:
                return Page(url, None, url=url, error=_too_big(int(length), max_bytes))
            body = response.read(max_bytes + 1) if max_bytes is not None else response.read()
    except urllib.error.HTTPError as exc:
        return Page(url, None, url=url, error=f"HTTP {exc.code} {exc.reason}")
    except urllib.error.URLError as exc:
        return Page(url, None, url=url, error=f"cannot fetch ({exc.reason})")
    except (TimeoutError, OSError) as exc:
        return Page(url, None, url=url, error=f"cannot fetch ({type(exc).__name__}: {exc})")
    except ValueError as exc:  # a malformed URL
        return Page(url, None, url=url, error=f"cannot fetch ({exc})")
    if max_bytes is not None and len(body) > max_bytes:
        return Page(url, None, url=url, error=_too_big(None, max_bytes))
    from chromesift.runtime.batch import _decode_http  # the WARC reader's rule for HTTP charsets

    return Page(url, _decode_http(body, charset), kind, url=url)


def _too_big(size: int | None, max_bytes: int) -> str:
    what = f"page is {size} bytes" if size is not None else "page is larger"
    return f"{what}, over the {max_bytes}-byte budget (--max-bytes)"


class _HostClock:
    """When each host may be asked again: requests to one host at least ``delay`` apart."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.next_at: dict[str, float] = {}

    def wait(self, url: str) -> None:
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        with self.lock:  # take a slot, then sleep outside the lock
            now = time.monotonic()
            at = max(now, self.next_at.get(host, now))
            self.next_at[host] = at + self.delay
        if at > now:
            time.sleep(at - now)


def fetch_pages(urls: Iterable[str], *, delay: float = HOST_DELAY, workers: int = FETCH_WORKERS,
                timeout: float | None = FETCH_TIMEOUT, max_bytes: int | None = MAX_PAGE_BYTES,
                format: str | None = None) -> Iterator[Page]:
    """Fetch URLs politely (one host at most every ``delay`` seconds), ``workers`` at a time,
    yielding the pages in the order of ``urls``; at most ``4 * workers`` are fetched ahead."""
    clock = _HostClock(delay)

    def one(url: str) -> Page:
        clock.wait(url)
        return fetch_page(url, timeout=timeout, max_bytes=max_bytes, format=format)

    ahead = max(1, 4 * workers)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="chromesift-fetch") as pool:
        pending = []
        for url in urls:
            pending.append(pool.submit(one, url))
            if len(pending) >= ahead:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def read_urls(path: Path) -> list[str]:
    """The URLs of a list file: one a line; blank lines and ``#`` comments are skipped.

    Raises
    ------
    UserError
        When the file is missing or unreadable.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
