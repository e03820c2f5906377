"""Your own labeled pages -> a corpus in the shared format (``NAME.jsonl.xz`` + ``MANIFEST.json``).

Two kinds of input:

- a folder of ``NAME.html`` + ``NAME.txt`` pairs (subfolders too): the ``.txt`` holds the
  page's main text, one paragraph per line;
- a JSON Lines file (``.jsonl``, ``.jsonl.gz`` or ``.jsonl.xz``) of ``{url, html, text}``
  records, or ``{url, html, with, without}`` with snippets that must / must not be in the
  main text (``id``, ``lang`` and ``meta`` are kept when given).

Every page is checked before anything is written: a bad input stops the import with one
:class:`~chromesift.errors.UserError` that names the file (and line), and the corpus
folder is left as it was. The dataset file is written beside the others and entered in the
folder's ``MANIFEST.json`` (other entries are kept), with its page count, languages and
sha256, so ``chromesift data build`` verifies it like any shared corpus.
"""

from __future__ import annotations

import json
import lzma
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chromesift.data import corpus
from chromesift.data.text import fix_surrogates
from chromesift.data.util import sha256_file
from chromesift.errors import ChromesiftError, UserError

#: suffixes of the page files of a folder import
HTML_SUFFIXES = (".html", ".htm")
#: a dataset name: it becomes a file name and the prefix of every page id
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: what the manifest says when the user did not say
UNKNOWN = "unknown"
#: how much of a page is read for its canonical URL and language when it has no ``</head>``
HEAD_BYTES = 65536
_WS = re.compile(r"\s+")
_LINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029")
_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.I)
_LANG = re.compile(r"[A-Za-z]{2,3}(?=$|[-_])")


@dataclass(frozen=True)
class ImportConfig:
    """What ``chromesift data import`` does.

    Attributes
    ----------
    source
        A folder of ``NAME.html`` + ``NAME.txt`` pairs, or a ``.jsonl[.gz|.xz]`` file.
    out_dir
        The corpus folder the dataset is written to (created when missing).
    name
        The dataset name: file ``<name>.jsonl.xz``, page ids ``<name>/<original id>``.
    license, ground_truth, about
        What the manifest entry says of the pages (:data:`UNKNOWN` when not given).
    lang
        ISO 639-1 code of every page; None: the record's ``lang``, else the page's
        ``<html lang>``, else null.
    force
        Replace a dataset of the same name (its file and manifest entry).
    progress
        Show a progress bar.
    """

    source: Path
    out_dir: Path
    name: str
    license: str = UNKNOWN
    ground_truth: str = UNKNOWN
    about: str = ""
    lang: str | None = None
    force: bool = False
    progress: bool = True


def import_pages(config: ImportConfig) -> dict:
    """Write ``<out_dir>/<name>.jsonl.xz`` and its ``MANIFEST.json`` entry.

    Parameters
    ----------
    config
        Source, destination, dataset name and the manifest's fields.

    Returns
    -------
    dict
        The manifest entry written (``name``, ``file``, ``pages``, ``languages``,
        ``ground_truth``, ``license``, ``about``, ``sha256``, ``bytes``).

    Raises
    ------
    UserError
        Bad name or source, a page without its text, a broken record, no pages at all,
        an unreadable manifest, or a dataset of that name already there without ``force``.
    """
    from tqdm.auto import tqdm

    name = config.name
    if not NAME_PATTERN.fullmatch(name) or name.endswith((".jsonl", ".xz")):
        raise UserError(f"dataset name {name!r}: use letters, digits, '.', '_' and '-' "
                        "(it names the file <name>.jsonl.xz)")
    lang = _language(config.lang) if config.lang is not None else None
    if config.lang is not None and lang is None:
        raise UserError(f"--lang {config.lang!r} is no ISO 639 language code (e.g. en, de)")
    out = Path(config.out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not a corpus folder")
    manifest = _read_manifest(out)
    target = out / f"{name}.jsonl.xz"
    if not config.force:
        if target.exists():
            raise UserError(f"{target} exists; pass --force to replace it")
        if any(e.get("name") == name for e in manifest):
            raise UserError(f"{out / 'MANIFEST.json'} already lists {name!r}; pass --force to replace it")

    records, total = _records(Path(config.source))
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot make the corpus folder {out} ({exc.strerror or exc})") from None
    tmp = out / f".{name}.jsonl.xz.{os.getpid()}.tmp"
    languages: Counter = Counter()
    seen: set[str] = set()
    try:
        with lzma.open(tmp, "wt", encoding="utf-8") as f, \
                tqdm(total=total, desc=name, unit="page", disable=not config.progress) as bar:
            for where, rec in records:
                rec = _normalise(rec, where, name, lang)
                if rec["id"] in seen:
                    raise UserError(f"{where}: id {rec['id'].partition('/')[2]!r} is used twice")
                seen.add(rec["id"])
                languages[rec["lang"] or UNKNOWN] += 1
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                bar.update(1)
        if not seen:
            raise UserError(f"{config.source}: no pages to import")
        entry = {
            "name": name,
            "file": target.name,
            "pages": len(seen),
            "languages": dict(languages.most_common()),
            "ground_truth": config.ground_truth,
            "license": config.license,
            "about": config.about or f"imported with chromesift data import from {Path(config.source).name}",
            "sha256": sha256_file(tmp),
            "bytes": tmp.stat().st_size,
        }
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        if isinstance(exc, OSError):
            raise UserError(f"cannot write {target} ({exc.strerror or exc})") from None
        raise
    manifest = [e for e in manifest if e.get("name") != name] + [entry]
    try:
        _write_json(out / "MANIFEST.json", manifest)
    except OSError as exc:
        raise UserError(f"wrote {target} but not {out / 'MANIFEST.json'} ({exc.strerror or exc})") from None
    return entry


def _records(source: Path) -> tuple[Iterator[tuple[str, dict]], int | None]:
    if source.is_dir():
        pairs = _pairs(source)
        return (_folder_record(source, html, txt) for html, txt in pairs), len(pairs)
    if source.is_file():
        if not source.name.endswith((".jsonl", ".json", ".jsonl.gz", ".jsonl.xz", ".json.gz", ".json.xz")):
            raise UserError(f"{source}: expected a folder of NAME.html + NAME.txt pairs "
                            "or a .jsonl file (.jsonl.gz, .jsonl.xz)")
        return _jsonl_records(source), None
    raise UserError(f"{source}: no such file or folder")


def _pairs(folder: Path) -> list[tuple[Path, Path]]:
    """Each page file with its text file, in path order; a file missing its partner is an error."""
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    pages = {p.with_suffix(""): p for p in files if p.suffix.lower() in HTML_SUFFIXES}
    texts = {p.with_suffix(""): p for p in files if p.suffix.lower() == ".txt"}
    for stem, html in pages.items():
        if stem not in texts:
            raise UserError(f"{html} has no {stem.name}.txt beside it (its main text, one paragraph a line)")
    for stem, txt in texts.items():
        if stem not in pages:
            raise UserError(f"{txt} has no {stem.name}.html beside it (the page whose main text it is)")
    if not pages:
        raise UserError(f"{folder}: no NAME.html + NAME.txt pairs found")
    return [(pages[s], texts[s]) for s in sorted(pages)]


def _folder_record(folder: Path, html_path: Path, txt_path: Path) -> tuple[str, dict]:
    from chromesift.data.html import decode
    from chromesift.data.sniff import decode_text_bytes

    rel = html_path.relative_to(folder).with_suffix("")
    try:
        decoded = decode(html_path.read_bytes())
    except OSError as exc:
        raise UserError(f"{html_path}: cannot read ({exc.strerror or exc})") from None
    except ChromesiftError as exc:
        raise UserError(f"{html_path}: {exc}") from None
    try:
        text = decode_text_bytes(txt_path.read_bytes())
    except OSError as exc:
        raise UserError(f"{txt_path}: cannot read ({exc.strerror or exc})") from None
    except ChromesiftError as exc:
        raise UserError(f"{txt_path}: {exc}") from None
    meta: dict = {"source": rel.as_posix() + html_path.suffix,
                  "html_charset": {"charset": decoded.encoding, "charset_source": decoded.source}}
    if len(rel.parts) > 1:  # a subfolder names the site of pages that declare no URL
        meta["domain"] = rel.parts[0]
    return str(html_path), {"id": rel.as_posix(), "html": decoded.text, "text": text, "meta": meta}


def _jsonl_records(path: Path) -> Iterator[tuple[str, dict]]:
    try:
        for lineno, rec in corpus.read_jsonl(path):
            if rec.get("id") is None:
                rec["id"] = lineno
            yield f"{path}:{lineno}", rec
    except corpus.CorpusError as exc:
        raise UserError(str(exc)) from None


def _normalise(rec: dict, where: str, name: str, lang: str | None) -> dict:
    """A record in the shared format, or a UserError saying what is wrong with it."""
    html = rec.get("html")
    if not isinstance(html, str):
        got = "missing" if html is None else f"a {type(html).__name__}"
        raise UserError(f"{where}: 'html' must be a string (the page), not {got}")
    for key in ("url", "lang", "text"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            raise UserError(f"{where}: {key!r} must be a string or null, not {type(rec[key]).__name__}")
    snippets = {}
    for key in ("with", "without"):
        value = rec.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise UserError(f"{where}: {key!r} must be a list of strings")
        snippets[key] = [_WS.sub(" ", v).strip() for v in value or []] or None
    text = rec.get("text")
    if text is None and not (snippets["with"] or snippets["without"]):
        raise UserError(f"{where}: a record needs 'text' (the main text, one paragraph a line) "
                        "or 'with'/'without' snippets")
    orig_id = rec.get("id")
    if not isinstance(orig_id, (str, int)) or isinstance(orig_id, bool) or not str(orig_id).strip():
        raise UserError(f"{where}: 'id' must be a non-empty string or a number")
    meta = rec.get("meta") or {}
    if not isinstance(meta, dict):
        raise UserError(f"{where}: 'meta' must be an object or null")
    html = fix_surrogates(html)
    meta = {**meta, "gt_kind": "imported: " + ("main text" if text is not None else "snippets")}
    url = rec.get("url") or None
    lang = lang or _language(rec.get("lang"))
    if url is None or lang is None:  # what the page itself declares
        page_url, page_lang = head_facts(html)
        if url is None and page_url:
            url = page_url
            meta["url_source"] = "canonical link of the page"
        if lang is None and _language(page_lang):
            lang = _language(page_lang)
            meta["lang_source"] = "html lang attribute"
    return {
        "id": f"{name}/{orig_id}",
        "dataset": name,
        "url": url,
        "lang": lang,
        "html": html,
        "text": None if text is None else clean_text(text),
        "with": snippets["with"],
        "without": snippets["without"],
        "meta": meta,
    }


def clean_text(text: str) -> str:
    """Ground truth as the shared corpora hold it: one paragraph a line, whitespace collapsed,
    blank lines dropped."""
    lines = (_WS.sub(" ", line).strip() for line in _LINES.split(fix_surrogates(text)))
    return "\n".join(line for line in lines if line)


def head_facts(html: str) -> tuple[str | None, str | None]:
    """The canonical URL (``<link rel=canonical>``, else ``og:url``) and the ``<html lang>``
    a page declares, read from its head only (None where it declares none)."""
    import lxml.html
    from lxml import etree

    end = _HEAD_END.search(html, 0, HEAD_BYTES * 4)
    head = html[: end.start() if end else HEAD_BYTES]
    if not head.strip():
        return None, None
    try:
        root = lxml.html.document_fromstring(head.encode("utf-8", "replace"),
                                             parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (etree.ParserError, ValueError):
        return None, None
    urls = root.xpath("//link[contains(concat(' ', normalize-space(translate(@rel, 'CANONIL', 'canonil')), ' '),"
                      " ' canonical ')]/@href") + root.xpath("//meta[@property='og:url']/@content")
    url = next((u.strip() for u in urls if u.strip().lower().startswith(("http://", "https://"))), None)
    lang = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    return url, lang


def _language(tag: str | None) -> str | None:
    """The primary language subtag of a BCP 47 tag, lowercase (``en-GB`` -> ``en``), or None."""
    if not tag:
        return None
    m = _LANG.match(tag.strip())
    return m.group(0).lower() if m else None


def _read_manifest(out: Path) -> list[dict]:
    if not (out / "MANIFEST.json").is_file():
        return []
    try:
        return corpus.load_manifest(out)
    except corpus.CorpusError as exc:
        raise UserError(f"cannot add to the corpus folder's manifest: {exc}") from None


def _write_json(path: Path, value) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
