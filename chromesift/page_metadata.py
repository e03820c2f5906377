"""What a page says about itself: title, author, date, site name, language, canonical URL,
description (:func:`chromesift.metadata`).

Two readers give the same keys:

- ``"extruct+htmldate"`` (the optional extra ``pip install 'chromesift[metadata]'``):
  `extruct <https://github.com/scrapinghub/extruct>`_ reads the structured data (JSON-LD,
  leniently: comments and trailing commas pass; microdata; Open Graph) and
  `htmldate <https://github.com/adbar/htmldate>`_ finds the publication date where no
  structured data gives one (from dozens of meta names, ``<time>``, ``<abbr>``, the URL
  and date patterns in the page);
- ``"lxml"``, a small reader of JSON-LD, Open Graph, ``<meta>`` and ``<time>``, used when
  the extra is not installed.

Both read ``<title>``, ``<meta>``, ``<link rel=canonical>`` and ``<html lang>`` the same way,
and pick each field in the same order (structured data, then Open Graph, then ``<meta>``,
then the page's own elements). Neither is imported by ``import chromesift`` or by
extraction: only a call of :func:`chromesift.metadata` loads this module.
"""

from __future__ import annotations

import datetime as dt
import html as htmllib
import json
import re
from urllib.parse import urljoin

from chromesift.errors import UserError

#: the keys of every result, in order (``engine`` says which reader filled them)
KEYS = ("title", "author", "date", "site_name", "language", "url", "description")
ENGINES = ("auto", "extruct", "lxml")
EXTRA_ENGINE = "extruct+htmldate"
FALLBACK_ENGINE = "lxml"

# --- vocabularies: where each field is declared, in order of preference --------------------
#: schema.org types of a page's main item (``...Article`` and ``...Posting`` types count too)
MAIN_TYPES = frozenset({"Report", "Recipe", "Review", "Thesis", "Chapter", "Book", "Event",
                        "Product", "VideoObject", "Course", "HowTo", "QAPage"})
#: schema.org types that are never the main item
NOT_MAIN_TYPES = frozenset({"WebSite", "Organization", "NewsMediaOrganization", "Corporation",
                            "Person", "BreadcrumbList", "ListItem", "ImageObject", "SiteNavigationElement",
                            "SearchAction", "WPHeader", "WPFooter", "WPSideBar"})
#: ``<meta name|property>`` of each field, lowercase
META_TITLE = ("og:title", "twitter:title", "dc.title", "dcterms.title", "citation_title", "parsely-title")
META_AUTHOR = ("author", "article:author", "dc.creator", "dcterms.creator", "citation_author",
               "parsely-author", "sailthru.author", "byl")
META_DATE = ("article:published_time", "og:published_time", "date", "pubdate", "publishdate",
             "publish-date", "publish_date", "datepublished", "dc.date.issued", "dc.date",
             "dcterms.issued", "dcterms.created", "dcterms.date", "citation_publication_date",
             "citation_date", "parsely-pub-date", "sailthru.date", "article.published")
META_SITE = ("og:site_name", "application-name", "publisher", "dc.publisher")
META_LANGUAGE = ("content-language", "og:locale", "dc.language", "dcterms.language", "language")
META_URL = ("og:url", "twitter:url")
META_DESCRIPTION = ("og:description", "description", "twitter:description", "dc.description",
                    "dcterms.description")

_WS = re.compile(r"\s+")
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:$|T)")
_COMMENTS = re.compile(r"^\s*(?:<!--|//.*$|<!\[CDATA\[)|(?:-->|\]\]>)\s*$", re.M)


def metadata(document: str | bytes, *, url: str | None = None, engine: str = "auto") -> dict:
    """A page's declared metadata as a plain dict; None where the page declares nothing.

    Parameters
    ----------
    document
        The HTML page, as str or bytes (bytes: BOM, then declared charset, then detection).
    url
        Where the page came from: resolves a relative canonical link, and htmldate reads
        dates in it.
    engine
        ``"auto"`` (extruct and htmldate when installed, else lxml), ``"extruct"`` (the
        optional extra, required) or ``"lxml"`` (the small built-in reader).

    Returns
    -------
    dict
        ``title``, ``author`` (several joined by ``"; "``), ``date`` (publication day,
        ``YYYY-MM-DD``), ``site_name``, ``language`` (as declared, e.g. ``en-GB``), ``url``
        (canonical), ``description``: strings or None; and ``engine``, the reader used.

    Raises
    ------
    UserError
        For an unknown ``engine``, or ``"extruct"`` without the extra installed.
    """
    if engine not in ENGINES:
        raise UserError(f"unknown metadata engine {engine!r} (known: {', '.join(ENGINES)})")
    extra = None if engine == "lxml" else _extra()
    if engine == "extruct" and extra is None:
        raise UserError("the extruct metadata engine needs the optional extra: pip install 'chromesift[metadata]'")
    out: dict = dict.fromkeys(KEYS)
    out["engine"] = EXTRA_ENGINE if extra else FALLBACK_ENGINE
    root = _parse(document)
    if root is None:
        return out
    meta = _meta_tags(root)
    if extra:
        items, og = _extruct_items(root, url, extra)
    else:
        items, og = _jsonld_items(root), {}
    og = {**{k: v for k, v in meta.items() if k.startswith(("og:", "article:"))}, **og}
    main = _main_item(items)
    site_item = next((i for i in items if "WebSite" in _types(i)), {})
    canonical = _first(root.xpath("//link[contains(concat(' ', normalize-space("
                                  "translate(@rel, 'CANONIL', 'canonil')), ' '), ' canonical ')]/@href"))

    out["title"] = _first([main.get("headline"), main.get("name"), *(og.get(k) or meta.get(k) for k in META_TITLE),
                           *root.xpath("//title//text()")[:1], *_texts(root.xpath("//h1")[:1])])
    out["author"] = _first([_names(main.get("author")), _names(main.get("creator")),
                            *(_not_url(og.get(k) or meta.get(k)) for k in META_AUTHOR),
                            *_texts(root.xpath("//a[@rel='author']")[:1])])
    out["date"] = (_first([_day(main.get("datePublished")), _day(main.get("dateCreated"))])
                   or (extra and _htmldate(root, url or canonical, extra))
                   or _first([*(_day(og.get(k) or meta.get(k)) for k in META_DATE),
                              *(_day(t) for t in _time_dates(root))]))
    out["site_name"] = _first([og.get("og:site_name"), _names(main.get("publisher")),
                               _names(site_item.get("name")), *(meta.get(k) for k in META_SITE[1:])])
    out["language"] = _first([root.get("lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang"),
                              *(og.get(k) or meta.get(k) for k in META_LANGUAGE), _names(main.get("inLanguage"))])
    if out["language"]:
        out["language"] = out["language"].replace("_", "-")
    page_url = _first([canonical, *(og.get(k) or meta.get(k) for k in META_URL),
                       _ref(main.get("url")), _ref(main.get("mainEntityOfPage"))])
    out["url"] = urljoin(url, page_url) if url and page_url else page_url
    out["description"] = _first([og.get("og:description"), meta.get("description"), main.get("description"),
                                 *(meta.get(k) for k in META_DESCRIPTION[2:])])
    return out


def _extra():
    """The extra's modules, or None where it is not installed."""
    try:
        import htmldate
        from extruct.jsonld import JsonLdExtractor
        from extruct.opengraph import OpenGraphExtractor
        from extruct.w3cmicrodata import MicrodataExtractor
    except ImportError:
        return None
    return {"htmldate": htmldate, "jsonld": JsonLdExtractor(), "opengraph": OpenGraphExtractor(),
            "microdata": MicrodataExtractor()}


def _parse(document: str | bytes):
    """The page's lxml.html root, or None for an empty page or one lxml cannot read."""
    import lxml.html
    from lxml import etree

    from chromesift.data.html import decode
    from chromesift.data.text import fix_surrogates

    text = decode(document).text if isinstance(document, (bytes, bytearray)) else fix_surrogates(document)
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (etree.ParserError, ValueError):
        return None


def _meta_tags(root) -> dict[str, str]:
    """``<meta name|property|http-equiv>`` -> content, lowercase names, the first of each."""
    out: dict[str, str] = {}
    for el in root.iter("meta"):
        key = el.get("property") or el.get("name") or el.get("http-equiv") or el.get("itemprop")
        value = el.get("content")
        if key and value and value.strip():
            out.setdefault(key.strip().lower(), value)
    return out


def _jsonld_items(root) -> list[dict]:
    """JSON-LD objects of the page, ``@graph`` flattened; a script that is not JSON is skipped."""
    found = []
    for script in root.xpath("//script[translate(@type, 'APLICTONJSD', 'aplictonjsd')='application/ld+json']"):
        source = _COMMENTS.sub("", script.text or "")
        try:
            found.append(json.loads(source, strict=False))
        except (ValueError, RecursionError):
            continue
    return _flatten(found)


def _extruct_items(root, url: str | None, extra: dict) -> tuple[list[dict], dict[str, str]]:
    """JSON-LD and microdata items as JSON-LD-like dicts, and the Open Graph properties."""
    found = []
    for script in root.xpath("//script[translate(@type, 'APLICTONJSD', 'aplictonjsd')='application/ld+json']"):
        try:  # one script at a time, so that a broken one costs only itself
            found.extend(extra["jsonld"].extract_items(script))
        except (ValueError, TypeError, RecursionError):
            continue
    try:
        found.extend(_from_microdata(i) for i in extra["microdata"].extract_items(root, url))
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    og: dict[str, str] = {}
    try:
        for block in extra["opengraph"].extract_items(root):
            for key, value in block["properties"]:
                og.setdefault(key.lower(), value)
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return _flatten(found), og


def _from_microdata(item):
    if isinstance(item, list):
        return [_from_microdata(i) for i in item]
    if not isinstance(item, dict) or "properties" not in item:
        return item
    out = {k: _from_microdata(v) for k, v in item["properties"].items()}
    if item.get("type"):
        out["@type"] = item["type"]
    return out


def _flatten(values) -> list[dict]:
    out: list[dict] = []
    for value in values:
        if isinstance(value, list):
            out.extend(_flatten(value))
        elif isinstance(value, dict):
            graph = value.get("@graph")
            if isinstance(graph, list):
                out.extend(_flatten(graph))
            else:
                out.append(value)
    return out


def _types(item: dict) -> set[str]:
    """``@type`` as short names: ``https://schema.org/NewsArticle`` -> ``NewsArticle``."""
    value = item.get("@type")
    values = value if isinstance(value, list) else [value]
    return {re.split(r"[/#:]", v)[-1] for v in values if isinstance(v, str)}


def _main_item(items: list[dict]) -> dict:
    """The item the page is about: an article-like one, else a ``...Page``, else one with a headline."""
    def rank(item: dict) -> int:
        types = _types(item)
        if any(t in MAIN_TYPES or t.endswith(("Article", "Posting")) for t in types):
            return 0
        if types and types <= NOT_MAIN_TYPES:
            return 9
        if any(t.endswith("Page") for t in types):
            return 1
        return 2 if "headline" in item else 9

    ranked = sorted((rank(item), i) for i, item in enumerate(items))
    return items[ranked[0][1]] if ranked and ranked[0][0] < 9 else {}


def _clean(value) -> str | None:
    if not isinstance(value, str):
        return None
    value = _WS.sub(" ", htmllib.unescape(value)).strip()
    return value or None


def _first(values) -> str | None:
    for value in values:
        value = _clean(value)
        if value:
            return value
    return None


def _names(value) -> str | None:
    """A person, organisation or language as JSON-LD gives it: a string, ``{name}``, or a list."""
    if isinstance(value, list):
        names = [n for n in (_names(v) for v in value) if n]
        return "; ".join(dict.fromkeys(names)) or None
    if isinstance(value, dict):
        return _names(value.get("name")) or _names(value.get("alternateName"))
    return _not_url(_clean(value))


def _not_url(value) -> str | None:
    """None for a link (``article:author`` is often the author's page, not a name)."""
    value = _clean(value)
    return None if value and re.match(r"https?://|www\.", value) else value


def _ref(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("@id") or value.get("url")
    if isinstance(value, list):
        value = value[0] if value else None
    return _clean(value)


def _day(value) -> str | None:
    """``YYYY-MM-DD`` of a date string (ISO 8601, ``2024/03/05``, ``20240305``), or None."""
    if isinstance(value, list):
        return _first(_day(v) for v in value)
    value = _clean(value)
    if not value:
        return None
    m = _DATE.match(value) or _COMPACT_DATE.match(value)
    if not m:
        return None
    try:
        return dt.date(*map(int, m.groups())).isoformat()
    except ValueError:
        return None


def _time_dates(root) -> list[str]:
    """``<time datetime>`` values, the ones marked as the publication date first."""
    marked = root.xpath("//time[@pubdate or @itemprop='datePublished' or contains(@class, 'publish')]/@datetime")
    return marked + root.xpath("//time/@datetime")


def _texts(elements) -> list[str]:
    return [el.text_content() for el in elements]


def _htmldate(root, url: str | None, extra: dict) -> str | None:
    """htmldate's publication date of the page, markup first (no search of the whole text)."""
    try:
        return extra["htmldate"].find_date(root, extensive_search=False, original_date=True, url=url)
    except (ValueError, TypeError, AttributeError, IndexError):
        return None
