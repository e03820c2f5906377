"""``chromesift data import``: own pages -> a corpus in the shared format, and the mistakes it names."""

from __future__ import annotations

import gzip
import json
import lzma
import re
from pathlib import Path

import pytest

from chromesift.cli import main
from chromesift.data import corpus
from chromesift.data.importer import ImportConfig, clean_text, head_facts, import_pages
from chromesift.data.util import sha256_file
from chromesift.errors import UserError

ARTICLE = "The ferry to the island runs again after the storm damaged its pier in March."


def page(title: str, *, canonical: str | None = None, lang: str | None = "en-GB") -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    lang_attr = f' lang="{lang}"' if lang else ""
    return (f"<!doctype html><html{lang_attr}><head><title>{title}</title>{link}</head><body>"
            f"<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
            f"<h1>{title}</h1><p>{ARTICLE}</p><footer>All rights reserved.</footer></body></html>")


def pair(folder: Path, rel: str, html: str | bytes, text: str) -> None:
    path = folder / f"{rel}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(html, bytes):
        path.write_bytes(html)
    else:
        path.write_text(html, encoding="utf-8")
    path.with_suffix(".txt").write_text(text, encoding="utf-8")


def write_jsonl(path: Path, records: list) -> Path:
    lines = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(path.suffix)
    if opener:
        with opener(path, "wt", encoding="utf-8") as f:
            f.write(lines)
    else:
        path.write_text(lines, encoding="utf-8")
    return path


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def config(source: Path, out: Path, name: str = "own", **kw) -> ImportConfig:
    return ImportConfig(source=source, out_dir=out, name=name, progress=False, **kw)


# --- what an import writes ---------------------------------------------------------------


def test_folder_import_round_trips_through_the_corpus_reader(tmp_path):
    src = tmp_path / "pages"
    pair(src, "harbour.example/a", page("Ferry back", canonical="https://www.harbour.example/a"),
         f"  Ferry back \n\n{ARTICLE}\r\n")
    pair(src, "valley.example/b", page("No link", lang=None), ARTICLE)
    pair(src, "top", page("At the top", lang="de"), "")
    entry = import_pages(config(src, tmp_path / "corpus", license="CC-BY-4.0", ground_truth="hand-labeled"))

    path = tmp_path / "corpus" / "own.jsonl.xz"
    pages = {p.id: p for p in corpus.iter_pages(path)}
    assert sorted(pages) == ["own/harbour.example/a", "own/top", "own/valley.example/b"]
    a, b, top = pages["own/harbour.example/a"], pages["own/valley.example/b"], pages["own/top"]
    assert a.text == f"Ferry back\n{ARTICLE}"  # one paragraph a line, whitespace collapsed
    assert a.url == "https://www.harbour.example/a" and a.site == "harbour.example"
    assert (a.lang, b.lang, top.lang) == ("en", None, "de")
    assert b.url is None and b.site == "valley.example"  # the subfolder names its site
    assert top.site == "own/top" and top.text == ""  # an empty main text is a page with none
    assert a.dataset == "own" and a.html.startswith("<!doctype html>")
    assert a.meta["gt_kind"] == "imported: main text" and a.meta["source"] == "harbour.example/a.html"

    manifest = json.loads((tmp_path / "corpus" / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest == [entry]
    assert entry["sha256"] == sha256_file(path) and entry["bytes"] == path.stat().st_size
    assert entry["pages"] == 3 and entry["languages"] == {"en": 1, "unknown": 1, "de": 1}
    assert (entry["license"], entry["ground_truth"]) == ("CC-BY-4.0", "hand-labeled")
    assert corpus.verify(tmp_path / "corpus", ["own"]) == {"own": entry["sha256"]}


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.xz"])
def test_jsonl_import_of_text_and_snippet_records(tmp_path, suffix):
    src = write_jsonl(tmp_path / f"pages{suffix}", [
        {"url": "https://news.example/1", "html": page("One"), "text": ARTICLE},
        {"id": "p-7", "url": "https://blog.example/x", "lang": "fr", "html": page("Two"),
         "with": ["the storm damaged"], "without": ["All  rights reserved."], "meta": {"split": "test"}},
    ])
    entry = import_pages(config(src, tmp_path / "c", "mine"))
    pages = list(corpus.iter_pages(tmp_path / "c" / "mine.jsonl.xz"))
    assert [p.id for p in pages] == ["mine/1", "mine/p-7"]  # no id: the line number
    assert pages[0].text == ARTICLE and pages[0].with_ == ()
    assert pages[1].text is None
    assert pages[1].with_ == ("the storm damaged",) and pages[1].without == ("All rights reserved.",)
    assert pages[1].lang == "fr" and pages[1].site == "blog.example"
    assert pages[1].meta["split"] == "test" and pages[1].meta["gt_kind"] == "imported: snippets"
    assert entry["languages"] == {"en": 1, "fr": 1}


def test_lang_flag_names_the_language_of_every_page(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", [{"html": page("A", lang="en"), "text": ARTICLE},
                                              {"html": page("B", lang=None), "lang": "fr", "text": ARTICLE}])
    entry = import_pages(config(src, tmp_path / "c", lang="de-AT"))
    assert [p.lang for p in corpus.iter_pages(tmp_path / "c" / "own.jsonl.xz")] == ["de", "de"]
    assert entry["languages"] == {"de": 2}


def test_a_non_utf8_page_is_decoded_by_its_declared_charset(tmp_path):
    html = ('<html><head><meta charset="windows-1252"></head><body><p>Caf\u00e9 cr\u00e8me, '
            '\u201cquoted\u201d</p></body></html>').encode("cp1252")
    pair(tmp_path / "p", "x", html, "Caf\u00e9 cr\u00e8me, \u201cquoted\u201d")
    import_pages(config(tmp_path / "p", tmp_path / "c"))
    (got,) = corpus.iter_pages(tmp_path / "c" / "own.jsonl.xz")
    assert "Caf\u00e9 cr\u00e8me, \u201cquoted\u201d" in got.html
    assert got.meta["html_charset"]["charset_source"] == "declared"


def test_the_manifest_is_merged_and_a_dataset_is_replaced_only_with_force(tmp_path, capsys):
    out = tmp_path / "corpus"
    out.mkdir()
    other = {"name": "other", "file": "other.jsonl.xz", "pages": 1, "sha256": "0" * 64, "license": "MIT"}
    (out / "MANIFEST.json").write_text(json.dumps([other]), encoding="utf-8")
    src = write_jsonl(tmp_path / "a.jsonl", [{"html": page("A"), "text": ARTICLE}])
    first = import_pages(config(src, out))
    before = (out / "own.jsonl.xz").read_bytes()

    src2 = write_jsonl(tmp_path / "b.jsonl", [{"html": page("B"), "text": ARTICLE}] * 1
                       + [{"id": 9, "html": page("C"), "text": ARTICLE}])
    code, _, err = run(["data", "import", str(src2), "--name", "own", "--data", str(out), "--no-progress"], capsys)
    assert code == 2 and "exists; pass --force to replace it" in err
    assert (out / "own.jsonl.xz").read_bytes() == before

    code, out_text, err = run(["data", "import", str(src2), "--name", "own", "--data", str(out),
                               "--no-progress", "--force"], capsys)
    assert code == 0, err
    assert "2 pages (en 2)" in out_text
    manifest = json.loads((out / "MANIFEST.json").read_text(encoding="utf-8"))
    assert [e["name"] for e in manifest] == ["other", "own"] and manifest[0] == other
    assert manifest[1]["pages"] == 2 and manifest[1]["sha256"] != first["sha256"]
    assert sorted(p.name for p in out.iterdir()) == ["MANIFEST.json", "own.jsonl.xz"]  # no temporary left


def test_a_manifest_entry_without_its_file_also_needs_force(tmp_path):
    out = tmp_path / "c"
    out.mkdir()
    (out / "MANIFEST.json").write_text(json.dumps([{"name": "own", "file": "own.jsonl.xz", "sha256": "x"}]))
    src = write_jsonl(tmp_path / "a.jsonl", [{"html": page("A"), "text": ARTICLE}])
    with pytest.raises(UserError, match="already lists 'own'; pass --force"):
        import_pages(config(src, out))


def test_progress_bar_counts_the_pages(tmp_path, capsys):
    src = tmp_path / "p"
    for i in range(5):
        pair(src, f"p{i}", page(f"Page {i}"), ARTICLE)
    import_pages(ImportConfig(source=src, out_dir=tmp_path / "c", name="own", progress=True))
    assert "5/5" in capsys.readouterr().err


# --- mistakes: one line each, nothing written ------------------------------------------------


def _folder_without_partner(tmp: Path) -> Path:
    pair(tmp / "p", "ok", page("ok"), ARTICLE)
    (tmp / "p" / "lonely.html").write_text(page("lonely"), encoding="utf-8")
    return tmp / "p"


def _orphan_text(tmp: Path) -> Path:
    pair(tmp / "p", "ok", page("ok"), ARTICLE)
    (tmp / "p" / "notes.txt").write_text("a note", encoding="utf-8")
    return tmp / "p"


def _empty_folder(tmp: Path) -> Path:
    (tmp / "p").mkdir()
    (tmp / "p" / "readme.md").write_text("nothing here", encoding="utf-8")
    return tmp / "p"


def _binary_page(tmp: Path) -> Path:
    pair(tmp / "p", "doc", b"%PDF-1.7\n" + bytes(range(256)) * 4, ARTICLE)
    return tmp / "p"


@pytest.mark.parametrize(("make", "message"), [
    (_folder_without_partner, r"lonely\.html has no lonely\.txt beside it"),
    (_orphan_text, r"notes\.txt has no notes\.html beside it"),
    (_empty_folder, r"no NAME\.html \+ NAME\.txt pairs found"),
    (_binary_page, r"doc\.html: these bytes are a PDF"),
    (lambda t: write_jsonl(t / "x.jsonl", [{"html": "<p>a</p>", "text": "a"}, '{"html": "<p>', {"html": "b"}]),
     r"x\.jsonl:2: not valid JSON"),
    (lambda t: write_jsonl(t / "x.jsonl.xz", [{"html": "<p>a</p>", "text": "a"}, '{"html": "<p>']),
     r"x\.jsonl\.xz:2: not valid JSON"),
    (lambda t: write_jsonl(t / "x.jsonl", [{"html": ["<p>a</p>"], "text": "a"}]),
     r"x\.jsonl:1: 'html' must be a string \(the page\), not a list"),
    (lambda t: write_jsonl(t / "x.jsonl", [{"url": "u", "text": "a"}]), r"x\.jsonl:1: 'html' must be a string .*missing"),
    (lambda t: write_jsonl(t / "x.jsonl", [{"html": "<p>a</p>"}]), r"x\.jsonl:1: a record needs 'text'"),
    (lambda t: write_jsonl(t / "x.jsonl", [{"html": "<p>a</p>", "with": "a"}]),
     r"x\.jsonl:1: 'with' must be a list of strings"),
    (lambda t: write_jsonl(t / "x.jsonl", [{"html": "<p>a</p>", "text": 3}]), r"'text' must be a string or null, not int"),
    (lambda t: write_jsonl(t / "x.jsonl", ['["a"]']), r"x\.jsonl:1: expected a JSON object"),
    (lambda t: write_jsonl(t / "x.jsonl", [{"id": "a", "html": "<p>a</p>", "text": "a"}] * 2),
     r"x\.jsonl:2: id 'a' is used twice"),
    (lambda t: write_jsonl(t / "x.jsonl", []), r"x\.jsonl: no pages to import"),
    (lambda t: write_jsonl(t / "x.csv", []), r"expected a folder of NAME\.html \+ NAME\.txt pairs or a \.jsonl"),
    (lambda t: t / "absent", r"absent: no such file or folder"),
])
def test_bad_input_is_one_line_and_leaves_the_corpus_folder_as_it_was(tmp_path, capsys, make, message):
    source = make(tmp_path)
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "MANIFEST.json").write_text("[]", encoding="utf-8")
    code, stdout, err = run(["data", "import", str(source), "--name", "own", "--data", str(out), "--no-progress"],
                            capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chromesift data: error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in err and stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["MANIFEST.json"]
    assert (out / "MANIFEST.json").read_text(encoding="utf-8") == "[]"


@pytest.mark.parametrize(("argv", "message"), [
    (["--name", "../evil"], "dataset name '../evil': use letters, digits"),
    (["--name", "own", "--lang", "English"], "no ISO 639 language code"),
])
def test_bad_flags_are_one_line(tmp_path, capsys, argv, message):
    src = write_jsonl(tmp_path / "a.jsonl", [{"html": page("A"), "text": ARTICLE}])
    code, _, err = run(["data", "import", str(src), "--data", str(tmp_path / "c"), *argv], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_a_failed_import_leaves_no_folder_it_made(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", [{"html": page("A"), "text": ARTICLE}, "{broken"])
    with pytest.raises(UserError, match=r"a\.jsonl:2: not valid JSON"):
        import_pages(config(src, tmp_path / "new" / "corpus"))
    assert not (tmp_path / "new" / "corpus").exists()


def test_an_unwritable_corpus_folder_is_one_line(tmp_path, capsys, monkeypatch):
    import chromesift.data.importer as importer

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(importer.lzma, "open", refuse)
    src = write_jsonl(tmp_path / "a.jsonl", [{"html": page("A"), "text": ARTICLE}])
    code, _, err = run(["data", "import", str(src), "--name", "own", "--data", str(tmp_path / "c")], capsys)
    assert code == 2 and "cannot write" in err and "Permission denied" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "c").exists()


def test_a_broken_manifest_is_named_before_any_work(tmp_path):
    out = tmp_path / "c"
    out.mkdir()
    (out / "MANIFEST.json").write_text("{not json", encoding="utf-8")
    src = write_jsonl(tmp_path / "a.jsonl", [{"html": page("A"), "text": ARTICLE}])
    with pytest.raises(UserError, match=r"cannot add to the corpus folder's manifest: .*not valid JSON"):
        import_pages(config(src, out))
    assert sorted(p.name for p in out.iterdir()) == ["MANIFEST.json"]


def test_data_build_on_a_folder_without_manifest_points_to_import(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    pair(tmp_path / "mine", "a", page("A"), ARTICLE)
    code, _, err = run(["data", "build", "--data", str(tmp_path / "mine"), "--out", str(tmp_path / "t"),
                        "--no-progress", "--jobs", "1"], capsys)
    assert code == 2
    assert "no MANIFEST.json in" in err and "`chromesift data import`" in err
    assert len(err.strip().splitlines()) == 1


# --- helpers -------------------------------------------------------------------------------------


def test_clean_text_and_head_facts():
    assert clean_text(" a \t b \n\n\u2028 c\r\nd ") == "a b\nc\nd"
    assert head_facts(page("t", canonical="https://x.example/p", lang="pt-BR")) == ("https://x.example/p", "pt-BR")
    og = '<html><head><meta property="og:url" content="https://og.example/q"><link rel="Canonical" href="/rel"></head>'
    assert head_facts(og) == ("https://og.example/q", None)  # a relative canonical names no host
    assert head_facts("") == (None, None)
    assert head_facts("just text, no markup") == (None, None)
