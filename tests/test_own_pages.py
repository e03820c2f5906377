"""The README's "Train on your own pages", run as written on a tiny corpus made here.

The commands, the example record and the training config are read from that README
section, so the instructions and this test cannot drift apart. The pages: three sites of
four pages to train on (a folder of NAME.html + NAME.txt pairs, one subfolder per site),
two more sites held out (JSON Lines), and a page of a sixth site in another template to
extract from. Each page has a navigation bar, a "most read" box and a footer around a few
content paragraphs.
"""

from __future__ import annotations

import json
import random
import re
import shlex
from pathlib import Path

import pytest
import tomllib

from chromesift.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "## Train on your own pages"
#: added to the README's training config so that the test trains in seconds
TINY = {"max_iter": 12, "calibration_folds": 2, "max_fit_rows": 5000, "random_state": 0}

WORDS = ("river harbour council budget school teacher ferry storm market farmer bridge museum winter "
         "library station village doctor season harvest festival mayor garden island factory railway "
         "parliament orchestra climate forest engineer journal").split()
VERBS = "opened described reported measured repaired planned visited studied announced restored".split()
NAV = ("Home", "News", "Sport", "Culture", "About us", "Contact")


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(HEADING)
    end = text.find("\n## ", start + len(HEADING))
    return text[start: end if end > 0 else len(text)]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), flags=re.S)


def commands() -> list[list[str]]:
    (sh,) = blocks("sh")
    return [shlex.split(line, comments=True) for line in sh.splitlines() if line.split("#")[0].strip()]


def sentence(rng: random.Random) -> str:
    w = rng.sample(WORDS, 6)
    return (f"The {w[0]} {rng.choice(VERBS)} the {w[1]} near the {w[2]} after the {w[3]}, "
            f"and the {w[4]} {rng.choice(VERBS)} a {w[5]} for {rng.randint(3, 90)} days.")


def news_page(site: str, n: int, rng: random.Random, *, canonical: bool = True) -> tuple[str, list[str]]:
    paras = [" ".join(sentence(rng) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(3, 5))]
    title = f"{rng.choice(WORDS).title()} {rng.choice(VERBS)} in {site.split('.')[0].title()}"
    link = f'<link rel="canonical" href="https://{site}/news/{n}">' if canonical else ""
    nav = "".join(f'<li><a href="/{x.lower()}">{x}</a></li>' for x in NAV)
    box = "".join(f'<li><a href="/news/{n + i}">{rng.choice(WORDS).title()} story</a></li>' for i in range(4))
    html = (f'<!doctype html><html lang="en"><head><title>{title} | {site}</title>{link}</head><body>'
            f'<header><a href="/">{site}</a><nav><ul>{nav}</ul></nav></header>'
            f"<main><article><h1>{title}</h1>{''.join(f'<p>{p}</p>' for p in paras)}</article>"
            f"<aside><h3>Most read</h3><ul>{box}</ul></aside></main>"
            f"<footer><p>Subscribe to our newsletter</p><p>\u00a9 2024 {site}. All rights reserved.</p>"
            f'<a href="/privacy">Privacy policy</a></footer></body></html>')
    return html, paras


def make_pages(root: Path) -> None:
    """``my-pages/`` (3 sites x 4 pages) and ``held-out.jsonl`` (2 other sites x 2 pages)."""
    rng = random.Random(26)
    for s, site in enumerate(("harbour-times.example", "valley-post.example", "city-ledger.example")):
        for n in range(4):
            html, paras = news_page(site, n, rng, canonical=s != 2)  # the third site: by its subfolder
            folder = root / "my-pages" / site
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"page{n}.html").write_text(html, encoding="utf-8")
            (folder / f"page{n}.txt").write_text("\n".join(paras) + "\n", encoding="utf-8")
    with open(root / "held-out.jsonl", "w", encoding="utf-8") as f:
        for site in ("river-news.example", "north-gazette.example"):
            for n in range(2):
                html, paras = news_page(site, n, rng)
                f.write(json.dumps({"url": f"https://{site}/a/{n}", "html": html, "text": "\n".join(paras)}) + "\n")


#: a page of a site none of the above is from, in a template of its own (divs, no <nav>)
UNSEEN_CONTENT = ("The orchestra rehearsed in the old railway station for three weeks before the festival, "
                  "and the mayor said the village would keep the hall open through the winter season.")
UNSEEN_PAGE = f"""<!doctype html><html lang="en"><head><title>Station concert | Lake Courier</title></head>
<body><div class="top-bar"><a href="/">Lake Courier</a></div>
<div class="menu"><ul><li><a href="/">Front page</a></li><li><a href="/local">Local</a></li>
<li><a href="/weather">Weather</a></li><li><a href="/obituaries">Obituaries</a></li>
<li><a href="/subscribe">Subscribe</a></li></ul></div>
<div class="story"><h1>Concert in the station</h1><p>{UNSEEN_CONTENT}</p>
<p>Tickets for the first evening were gone within an hour, the organisers reported on Tuesday.</p></div>
<div class="bottom"><p>\u00a9 2024 Lake Courier. All rights reserved.</p><a href="/privacy">Privacy policy</a></div>
</body></html>"""


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    """Run the README section's commands in a fresh folder; yield the folder."""
    root = tmp_path_factory.mktemp("own-pages")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("CHROMESIFT_ARTIFACTS", str(root / "mlartifacts"))
    mp.delenv("CHROMESIFT_DATA", raising=False)
    make_pages(root)
    (toml,) = blocks("toml")
    config = toml.rstrip() + "\n" + "".join(f"{k} = {v}\n" for k, v in TINY.items())
    (root / "own.toml").write_text(config, encoding="utf-8")
    try:
        for argv in commands():
            assert argv[0] == "chromesift", argv
            code = main(argv[1:])
            assert code == 0, f"`{shlex.join(argv)}` exited {code}"
        yield root
    finally:
        mp.undo()


def test_the_section_has_the_commands_it_promises():
    names = [argv[1] if argv[1] != "data" else f"data {argv[2]}" for argv in commands()]
    assert names == ["data import", "data import", "data build", "train", "evaluate"]
    train = tomllib.loads(blocks("toml")[0])["train"]
    assert {"name", "tables", "datasets"} <= set(train)
    for key in TINY:  # the test's additions set nothing the README sets
        assert key not in train


def test_the_example_record_imports(tmp_path):
    from chromesift.data import corpus
    from chromesift.data.importer import ImportConfig, import_pages

    (record,) = blocks("json")
    (tmp_path / "example.jsonl").write_text(record, encoding="utf-8")
    import_pages(ImportConfig(source=tmp_path / "example.jsonl", out_dir=tmp_path / "c", name="ex", progress=False))
    (page,) = corpus.iter_pages(tmp_path / "c" / "ex.jsonl.xz")
    assert page.site == "example.org" and page.text and page.text in page.html


def test_import_wrote_both_datasets_with_their_checksums(walkthrough):
    from chromesift.data import corpus

    manifest = {e["name"]: e for e in corpus.load_manifest(walkthrough / "corpus")}
    assert {n: e["pages"] for n, e in manifest.items()} == {"mysite": 12, "mysite-test": 4}
    assert manifest["mysite"]["license"] == "own pages"
    assert set(corpus.verify(walkthrough / "corpus")) == {"mysite", "mysite-test"}
    sites = {p.site for p in corpus.iter_pages(walkthrough / "corpus" / "mysite.jsonl.xz")}
    assert sites == {"harbour-times.example", "valley-post.example", "city-ledger.example"}


def test_the_bundle_loads_and_knows_what_it_was_trained_on(walkthrough):
    import chromesift

    bundle = walkthrough / "models" / "mine"
    assert (bundle / "model.joblib").is_file()
    meta = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    assert meta["data"]["pages"] == {"mysite": 12}  # the held-out sites stayed out
    assert meta["data"]["licenses"] == {"mysite": "own pages"}
    model = chromesift.load_model(bundle)
    assert model is not chromesift.load_model()  # not the shipped default


def test_the_new_model_keeps_the_content_and_drops_the_menu_of_an_unseen_site(walkthrough):
    import chromesift

    model = chromesift.load_model(walkthrough / "models" / "mine")
    table = chromesift.classify(UNSEEN_PAGE, model=model)
    kept = set(table.loc[table["is_content"], "text"])
    assert UNSEEN_CONTENT in kept
    for chrome in ("Front page", "Weather", "Obituaries", "Privacy policy"):
        row = table[table["text"].str.contains(chrome)]
        assert len(row) and not row["is_content"].any(), chrome
    assert UNSEEN_CONTENT in chromesift.extract(UNSEEN_PAGE, model=model)


def test_the_held_out_sites_are_scored(walkthrough):
    (report,) = sorted((walkthrough / "reports").glob("evaluate-*/metrics.json"))
    metrics = json.loads(report.read_text(encoding="utf-8"))
    assert list(metrics["datasets"]) == ["mysite-test"]
    scores = metrics["datasets"]["mysite-test"]["extractors"]["chromesift"]
    assert scores["f1"] > 0.9  # sites of the trained kind, never seen
    assert (report.parent / "report.md").is_file()
