"""Tag sets used by the parser (named data, kept out of the code paths)."""

from __future__ import annotations

#: a hint where a word may be hyphenated, invisible where it is not: no character of the text.
#: The walks and the plain-text reader leave it out of every paragraph, and the labels out of
#: the ground truth (chromesift.metrics leaves it out of the scores on its own)
SOFT_HYPHEN = "\u00ad"

#: Elements whose subtree is never visible text.
SKIP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "math", "head", "iframe",
        "object", "embed", "canvas", "select", "option", "datalist", "textarea",
        "video", "audio", "map", "frameset", "noembed",
        # never shown in the page: the HTML5 parser puts a <title> met after the head's end
        # (an unknown tag in the head ends it) into the body, where it is no paragraph either
        "title",
    }
)

#: Elements that start and end a paragraph (block-level boxes).
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center",
        "dd", "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "p",
        "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
        "tr", "ul", "frame", "noframes", "listing", "plaintext", "xmp",
    }
)

HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

#: Ancestor tags recorded as ``in_<name>`` flags; several tags map to one flag.
FLAG_TAGS: dict[str, str] = {
    "nav": "in_nav",
    "menu": "in_nav",
    "header": "in_header",
    "footer": "in_footer",
    "aside": "in_aside",
    "form": "in_form",
    "li": "in_li",
    "a": "in_a",
    "table": "in_table",
    "article": "in_article",
    "main": "in_article",
    **{h: "in_heading" for h in HEADING_TAGS},
}

#: ARIA roles that stand for a flag tag.
ROLE_FLAGS: dict[str, str] = {
    "navigation": "in_nav",
    "banner": "in_header",
    "contentinfo": "in_footer",
    "complementary": "in_aside",
    "main": "in_article",
    "article": "in_article",
    "search": "in_form",
}

#: How many ancestor elements' class/id tokens a row keeps (nearest first).
MAX_ANCESTOR_ATTRS = 8
#: How many tags of the DOM path a row keeps (nearest the paragraph).
MAX_PATH_TAGS = 12

#: File signatures of data that is no page (checked on bytes input, see
#: :mod:`chromesift.data.sniff`): the first bytes, and what they are.
BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"RIFF", "a RIFF file (WebP image, WAV or AVI)"),
    (b"\x1f\x8b", "gzip-compressed data (decompress it first)"),
    (b"\xfd7zXZ\x00", "xz-compressed data (decompress it first)"),
    (b"BZh9", "bzip2-compressed data (decompress it first)"),
    (b"(\xb5/\xfd", "zstd-compressed data (decompress it first)"),
    (b"\x7fELF", "an executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
    (b"\x00\x00\x00\x18ftyp", "a video or image (ISO media)"),
    (b"\x00\x00\x00\x1cftyp", "a video or image (ISO media)"),
    (b"\x00\x00\x00 ftyp", "a video or image (ISO media)"),
    (b"wOFF", "a web font"),
    (b"wOF2", "a web font"),
)
