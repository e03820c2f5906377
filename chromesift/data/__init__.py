"""Data stage: pages -> the paragraph table; corpora -> labeled tables."""

from chromesift.data.html import parse_html
from chromesift.data.schema import SchemaError, validate
from chromesift.data.text import parse_text

__all__ = ["SchemaError", "parse_html", "parse_text", "validate"]
