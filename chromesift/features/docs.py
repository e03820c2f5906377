"""The table of feature names, one line each, generated from the feature list: ``docs/features.md``.

``python -m chromesift.features.docs --output docs/features.md`` writes it; ``--check`` only
says whether the file is current. The names are those of
:meth:`chromesift.features.compute.FeatureComputer._names` with its default parameters (the
shipped model's); the families and their descriptions come from the docstring of
:mod:`chromesift.features.compute`, so the doc cannot list a feature that is gone or miss
a new one (a name this module has no line for gets a placeholder, which a test refuses).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from chromesift.features import compute, vocab

#: what each base feature is (families and patterns below cover the rest)
MEANINGS: dict[str, str] = {
    "t_chars": "characters of the paragraph",
    "t_log_chars": "log(1 + characters)",
    "t_words": "words",
    "t_cjk": "CJK characters",
    "t_cjk_ratio": "share of CJK characters",
    "t_mean_word_len": "mean word length",
    "t_sentences": "sentences",
    "t_mean_sentence_len": "mean sentence length in words",
    "t_digit_ratio": "share of digits",
    "t_upper_ratio": "share of upper-case letters",
    "t_punct_ratio": "share of punctuation",
    "t_starts_bullet": "starts with a bullet character (1/0)",
    "t_ends_punct": "ends with sentence-final punctuation (1/0)",
    "t_ends_colon": "ends with a colon (1/0)",
    "t_separators": "share of separator characters (vertical bars, middle dots, slashes, ...)",
    "t_has_date": "holds a date or a year (1/0)",
    "t_has_url": "holds a URL (1/0)",
    "t_text_density": "words per 80-character wrapped line",
    "t_stop_density": "share of stopwords (union of en, de, fr, es, it, pt, nl, pl, ru)",
    "t_zh_stop_ratio": "share of Chinese function characters",
    "t_chrome_phrases": "chrome phrases found (cookie, share, subscribe, ...)",
    "t_title_overlap": "word overlap with the page title",
    "t_is_title": "is the text of the <title> (1/0)",
    "t_is_h1": "is the page's h1 (1/0)",
    "t_comment_head": "looks like a comments heading (\"12 Comments\")",
    "t_stamp": "looks like a byline or comment stamp (a time of day, reply/like words)",
    "s_tag": "tag of the block element (integer code)",
    "s_tag_p": "the block is a <p> (1/0)",
    "s_tag_li": "the block is an <li> (1/0)",
    "s_tag_heading": "the block is a heading h1-h6 (1/0)",
    "s_depth": "element depth below <html>",
    "s_links": "links (<a href>) inside",
    "s_link_density": "share of characters inside links",
    "s_is_html": "the page is HTML, not plain text (1/0)",
    "s_path_repeat": "how often the paragraph's DOM path repeats on the page",
    "s_path_len": "length of the DOM path",
    "p_paragraphs": "paragraphs of the page",
    "p_page_chars": "characters of the page",
    "p_rel_pos": "relative position in the page (0 first, 1 last)",
    "p_from_end": "paragraphs to the end of the page (capped at 50)",
    "p_from_start": "paragraphs from the start of the page (capped at 50)",
    "p_rank": "rank by length within the page",
    "p_zscore": "z-score of the length within the page",
    "p_before_share": "share of the page's text before the paragraph",
    "p_dist_longest": "distance to the longest paragraph, relative to the page",
    "p_dist_h1": "distance to the h1, relative to the page",
    "p_window_share": "share of the page's text in a window around the paragraph",
    "p_long_share_after": "share of the page's long paragraphs after this one",
    "p_comment_head_at": "where a comments heading above is (its share of text before; -1: none)",
    "p_stamp_window": "share of stamp lines among the paragraphs around",
    "x_lex": "the learned lexicon's score of the paragraph's words, word pairs, class/id tokens and DOM path tags (a logit)",
    "k_convention": "the label convention of the training corpus (0 article body, 1 news with headline or stamps, 2 all main content; 3 every plain-text row); pages are read as 0",
    "_doc": "bookkeeping: document code",
    "_pos": "bookkeeping: position in the document",
    "_group": "bookkeeping: group code",
    "_anc1": "bookkeeping: nearest ancestor element",
    "_anc2": "bookkeeping: second ancestor element",
    "_block": "bookkeeping: block element id",
}
_LEVELS = {"block": "the block element", "cont1": "its parent container", "cont2": "the second container up",
           "cont3": "the third container up"}
_AGGREGATES = {"share": "share of the page's text in", "paras": "paragraphs in",
               "link_density": "link density of"}
_FLAG = re.compile(r"s_in_(\w+)")
_ATTR = re.compile(r"s_(own|anc)_(\w+)")
_HASH = re.compile(r"s_(own|anc)_hash(\d+)")
_CONTAINER = re.compile(r"s_(block|cont\d)_(share|paras|link_density)")
_NEIGHBOUR = re.compile(r"n_(prev|next)(\d+)_(\w+)")
_WHOSE = {"own": "the element's own", "anc": "its ancestors'"}
MISSING = "(no description: add one to chromesift.features.docs.MEANINGS)"


def feature_names() -> list[str]:
    """The current feature names, in the model's column order (with the lexicon's ``x_lex``
    and the label conventions' ``k_convention``, which training has by default)."""
    return compute.FeatureComputer(lexicon={}, conventions={"any corpus": 0.0})._names()


def meaning(name: str) -> str:
    """One line on what feature ``name`` is."""
    if name in MEANINGS:
        return MEANINGS[name]
    if m := _FLAG.fullmatch(name):
        where = {"main": "the main container found by text density", "article": "<article> or <main>",
                 "heading": "a heading h1-h6"}.get(m[1], f"<{m[1]}>")
        return f"inside {where} (1/0)"
    if m := _HASH.fullmatch(name):
        return f"{_WHOSE[m[1]]} class/id words hashed into bucket {m[2]}"
    if (m := _ATTR.fullmatch(name)) and m[2] in vocab.ATTR_WORDS:
        return f"{_WHOSE[m[1]]} class/id words of the {m[2]!r} family"
    if m := _CONTAINER.fullmatch(name):
        return f"{_AGGREGATES[m[2]]} {_LEVELS[m[1]]}"
    if m := _NEIGHBOUR.fullmatch(name):
        side = "previous" if m[1] == "prev" else "next"
        nth = "" if m[2] == "1" else f"{m[2]}th " if m[2] != "2" else "2nd "
        return f"{m[3]} of the {nth}{side} paragraph"
    return MISSING


def families() -> dict[str, str]:
    """Prefix -> one line, read from the module docstring of :mod:`chromesift.features.compute`."""
    out = {}
    for m in re.finditer(r"^``(\w+?)``:? ([^\n]+)$", compute.__doc__ or "", re.M):
        out[m[1]] = m[2].strip()
    out.setdefault("x_", "learned lexicon (hashed words, class/id tokens and path tags, fitted out of fold)")
    out.setdefault("k_", "labeling convention")
    out.setdefault("_", "bookkeeping for the classifier, not a model input")
    return out


def family_of(name: str, known: dict[str, str]) -> str:
    prefix = "_" if name.startswith("_") else name.split("_", 1)[0] + "_"
    return known.get(prefix, "?")


def render() -> str:
    """The Markdown of ``docs/features.md``."""
    known = families()
    names = feature_names()
    lines = [
        "# Features",
        "",
        "Generated by `python -m chromesift.features.docs --output docs/features.md` from the feature",
        "list (`FeatureComputer._names`, default parameters: the shipped model's); do not edit by hand.",
        f"{len(names)} columns; the families are those of `chromesift.features.compute`.",
        "",
        "| prefix | family |",
        "| --- | --- |",
        *[f"| `{p}` | {d} |" for p, d in known.items()],
        "",
        "| feature | family | meaning |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{n}` | {family_of(n, known)} | {meaning(n)} |" for n in names]
    return "\n".join(lines) + "\n"


def documented_names(text: str) -> list[str]:
    """The feature names a ``docs/features.md`` lists, in order (the rows of three cells)."""
    return re.findall(r"^\| `([^`]+)` \| [^|]* \| [^|]* \|$", text, re.M)


def main(argv: list[str] | None = None) -> int:
    """Write (or ``--check``) the feature table."""
    parser = argparse.ArgumentParser(prog="python -m chromesift.features.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs") / "features.md", metavar="FILE",
                        help="where to write (default docs/features.md)")
    parser.add_argument("--check", action="store_true", help="only say whether FILE is current (exit 1 if not)")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.is_file() and args.output.read_text(encoding="utf-8") == text
        print(f"{args.output}: {'current' if current else 'out of date: regenerate it'}")
        return 0 if current else 1
    args.output.write_text(text, encoding="utf-8")
    print(f"{args.output}: {len(feature_names())} features")
    return 0


if __name__ == "__main__":
    sys.exit(main())
