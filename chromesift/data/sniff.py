"""What bytes handed in as a page are: text with a byte-order mark, UTF-16 without one, or
not text at all (a PDF, an image, an archive, binary noise).

Both parsers (:mod:`chromesift.data.html`, :mod:`chromesift.data.text`) and the format
detection (:func:`chromesift.data.page.detect_format`) ask here first, so UTF-16 bytes are
read as the markup or text they are, and a file that is no page is refused with one
:class:`DecodeError` instead of coming back as its bytes' "main text".
"""

from __future__ import annotations

import codecs

from chromesift.data.vocab import BINARY_SIGNATURES
from chromesift.errors import ChromesiftError


class DecodeError(ChromesiftError, ValueError):
    """Bytes given as a page are not text (or could not be decoded to text)."""


#: byte-order marks and their codecs, longest first (a UTF-32 LE mark starts like UTF-16's)
BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: bytes looked at to tell UTF-16 or binary data from text
SNIFF_BYTES = 4096
#: UTF-16 without a mark: at least this share of the code units have a zero high byte ...
UTF16_ZERO_SHARE = 0.3
#: ... and at most this share a zero low byte (ASCII-range markup has zeros on one side only)
UTF16_OTHER_SIDE = 0.02
#: control bytes (C0 but tab, line feed, form feed and carriage return; and DEL)
_CONTROL = frozenset(set(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D} | {0x7F})
#: bytes are binary when more than this share of the sniffed ones are control bytes ...
CONTROL_SHARE = 0.05
#: ... and at least this many of them (a stray NUL in a short page is no verdict)
CONTROL_MIN = 8


def bom_encoding(raw: bytes) -> str | None:
    """The codec a byte-order mark at the start of ``raw`` names, or None."""
    for bom, enc in BOMS:
        if raw.startswith(bom):
            return enc
    return None


def utf16_encoding(raw: bytes) -> str | None:
    """``"utf-16-le"`` or ``"utf-16-be"`` for UTF-16 text without a mark, else None.

    Markup and most text are ASCII-range characters, whose UTF-16 code units have one zero
    byte: on the odd positions for little-endian, on the even ones for big-endian.
    """
    head = raw[: SNIFF_BYTES - SNIFF_BYTES % 2]
    units = len(head) // 2
    if units < 4:
        return None
    even, odd = head[0::2].count(0) / units, head[1::2].count(0) / units
    if odd >= UTF16_ZERO_SHARE and even <= UTF16_OTHER_SIDE:
        return "utf-16-le"
    if even >= UTF16_ZERO_SHARE and odd <= UTF16_OTHER_SIDE:
        return "utf-16-be"
    return None


def wide_encoding(raw: bytes) -> str | None:
    """The codec of bytes that are not ASCII-compatible text: a mark's, or UTF-16 sniffed."""
    enc = bom_encoding(raw)
    if enc is not None and enc != "utf-8":
        return enc
    return None if enc == "utf-8" else utf16_encoding(raw)


def check_text_bytes(raw: bytes) -> None:
    """Raise :class:`DecodeError` when ``raw`` is plainly not a page's text.

    A known file signature (PDF, images, archives: :data:`~chromesift.data.vocab.BINARY_SIGNATURES`),
    or, for bytes with no byte-order mark that are not UTF-16, more than
    :data:`CONTROL_SHARE` control bytes among the first :data:`SNIFF_BYTES`.
    """
    for signature, what in BINARY_SIGNATURES:
        if raw.startswith(signature):
            raise DecodeError(f"these bytes are {what}, not an HTML page or text")
    if wide_encoding(raw) is not None:
        return
    head = raw[:SNIFF_BYTES]
    control = sum(1 for b in head if b in _CONTROL)
    if control >= CONTROL_MIN and control > CONTROL_SHARE * len(head):
        raise DecodeError(
            f"these bytes are binary data, not an HTML page or text "
            f"({control} control bytes in the first {len(head)})"
        )


def decode_text_bytes(raw: bytes) -> str:
    """Plain-text bytes as text: by their byte-order mark, as UTF-16 when sniffed so, else
    UTF-8 (invalid bytes replaced). Raises :class:`DecodeError` for binary data."""
    check_text_bytes(raw)
    enc = bom_encoding(raw) or utf16_encoding(raw) or "utf-8"
    return raw.decode(enc, errors="replace").lstrip("\ufeff")
