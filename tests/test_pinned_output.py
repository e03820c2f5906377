"""The shipped model's extracted text on a pinned sample, byte for byte.

A change meant to be speed- or structure-only must leave every digest as it is. A change of
the shipped model changes them on purpose: then regenerate the file in the same commit with
``python tests/test_pinned_output.py`` (it records the bundle's sha256 beside the digests).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import sys
from itertools import islice
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
PINNED = FIXTURES / "pinned_extract.json"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
#: the first pages of these corpora, as HTML and as their plain-text dumps
CORPORA = ("readability", "fundus", "andy-article-extraction", "cleaneval", "xmu-cn-finance-news",
           "trafilatura-eval", "daniel-waddle")
PAGES_PER_CORPUS = 12


def pages(data_dir: Path) -> dict[str, str]:
    out = {p.name: p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.html"))}
    for name in CORPORA:
        with lzma.open(data_dir / f"{name}.jsonl.xz", "rt", encoding="utf-8") as f:
            for line in islice(f, PAGES_PER_CORPUS):
                rec = json.loads(line)
                out[rec["id"]] = rec["html"]
    return out


def digests(model, docs: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, html in docs.items():
        text = model.extract(html)
        dump = "\n".join(model.classify(html)["text"])
        parts = [text, model.extract(html, title=True), model.extract(dump, format="text")]
        out[key] = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
    return out


def test_the_shipped_model_extracts_the_pinned_text(shared_data):
    import chromesift
    from chromesift.models.bundle import DEFAULT_BUNDLE

    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    meta = json.loads((DEFAULT_BUNDLE / "metadata.json").read_text(encoding="utf-8"))
    assert meta["sha256"] == pinned["bundle_sha256"], (
        "the shipped model changed: regenerate tests/fixtures/pinned_extract.json "
        "(python tests/test_pinned_output.py) in the same commit")
    got = digests(chromesift.load_model(), pages(shared_data))
    changed = sorted(k for k in pinned["pages"] if got.get(k) != pinned["pages"][k])
    assert len(got) == len(pinned["pages"]) and changed == []


if __name__ == "__main__":  # regenerate the pinned digests
    import chromesift
    from chromesift.models.bundle import DEFAULT_BUNDLE

    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED
    meta = json.loads((DEFAULT_BUNDLE / "metadata.json").read_text(encoding="utf-8"))
    record = {"bundle_sha256": meta["sha256"], "pages": digests(chromesift.load_model(), pages(data_dir))}
    PINNED.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"{len(record['pages'])} pages pinned in {PINNED}")
