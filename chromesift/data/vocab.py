"""Tag sets used by the parser (named data, kept out of the code paths)."""

from __future__ import annotations

#: Elements whose subtree is never visible text.
SKIP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "math", "head", "iframe",
        "object", "embed", "canvas", "select", "option", "datalist", "textarea",
        "video", "audio", "map", "frameset", "noembed",
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
