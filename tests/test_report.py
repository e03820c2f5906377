"""The evaluation run end to end on a tiny corpus, its report, MLflow logging and the HTML in a browser."""

from __future__ import annotations

import json
import lzma
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from chromesift import plots
from chromesift.cli import main as cli_main
from chromesift.data.html import parse_html, text_lines
from chromesift.data.text import parse_text
from chromesift.errors import UserError
from chromesift.evaluate import report
from chromesift.evaluate.peers import PEERS
from chromesift.evaluate.run import (
    EvaluationConfig,
    flat_metrics,
    run_evaluation,
    summary_table,
    text_diff,
)

NAV = "<nav><ul>" + "".join(f"<li><a href='/{w}'>{w.title()}</a></li>" for w in
                            ("home", "news", "sport", "weather", "contact")) + "</ul></nav>"
FOOT = "<footer><p>Copyright 2024 The Example Gazette. All rights reserved.</p></footer>"

BODIES = [
    [
        "The river authority opened the new footbridge on Monday after two years of building "
        "work that had closed the towpath for walkers and cyclists alike.",
        "Engineers said the bridge was designed to rise with the water during floods, so that "
        "it would not be torn away as the old wooden crossing was in the storm of the winter.",
    ],
    [
        "A small bakery in the old town has won the regional prize for its rye bread, beating "
        "more than sixty entries from across the province in a blind tasting.",
        "The owner, who took over the shop from her grandfather, said she still uses his "
        "sourdough starter and bakes every loaf in the original brick oven behind the counter.",
    ],
    [
        "The city council voted to extend the opening hours of the public library on weekdays, "
        "following a petition signed by several thousand students and parents.",
        "The extra hours will be paid for by closing one of the two mobile library buses, a "
        "decision that some councillors from the rural districts criticised during the debate.",
    ],
]


def _page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head><title>{title}</title></head><body>{NAV}<main><h1>{title}</h1>"
            f"{body}</main>{FOOT}</body></html>")


def _write(path: Path, records: list[dict]) -> None:
    with lzma.open(path, "wt", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    """Two small datasets: one with full ground truth, one with snippets only."""
    data = tmp_path / "corpus"
    data.mkdir()
    full = [
        {"id": f"tiny/{i}", "dataset": "tiny", "url": f"https://example.org/{i}", "lang": "en",
         "html": _page(f"Story {i}", body), "text": "\n".join(body)}
        for i, body in enumerate(BODIES)
    ]
    _write(data / "tiny.jsonl.xz", full)
    snips = [
        {"id": f"snips/{i}", "dataset": "snips", "url": None, "lang": "en",
         "html": _page(f"Snippet page {i}", body), "text": None,
         "with": [body[0][:40]], "without": ["Copyright 2024 The Example Gazette"]}
        for i, body in enumerate(BODIES[:2])
    ]
    _write(data / "snips.jsonl.xz", snips)
    return data


class LongParagraphModel:
    """Stands in for a trained model: long paragraphs are content."""

    metadata = {"name": "long-paragraph-rule", "threshold": 0.5}

    def classify(self, document, *, format=None):
        frame = parse_text(document) if format == "text" else parse_html(document)
        frame["probability"] = np.clip(frame["text"].str.len().to_numpy() / 200.0, 0.0, 1.0)
        frame["is_content"] = frame["probability"] >= 0.5
        return frame


def _config(tiny_corpus: Path, tmp_path: Path, **kw) -> EvaluationConfig:
    base = dict(data_dir=tiny_corpus, peers=("all-text",), out=tmp_path / "report", mlflow=False,
                cache_dir=tmp_path / "cache", n_boot=50, progress=False)
    base.update(kw)
    return EvaluationConfig(**base)


def test_run_evaluation_end_to_end(tiny_corpus, tmp_path):
    peers = ("all-text", "resiliparse") if PEERS["resiliparse"].available() else ("all-text",)
    results = run_evaluation(_config(tiny_corpus, tmp_path, peers=peers), model=LongParagraphModel())
    assert results["extractors"] == ["chromesift", "chromesift-text", *peers]
    tiny = results["datasets"]["tiny"]
    # the same rule on the plain-text dumps keeps the same paragraphs
    assert tiny["extractors"]["chromesift-text"]["f1"] == pytest.approx(1.0)
    assert tiny["kind"] == "full" and tiny["n_pages"] == 3
    ours, everything = tiny["extractors"]["chromesift"], tiny["extractors"]["all-text"]
    # the rule keeps exactly the article paragraphs: perfect, and better than all the text
    assert ours["f1"] == pytest.approx(1.0)
    assert everything["recall"] == pytest.approx(1.0) and everything["precision"] < 0.8
    assert ours["f1_ci"][0] <= ours["f1"] <= ours["f1_ci"][1]
    snips = results["datasets"]["snips"]
    assert snips["kind"] == "snippets"
    assert snips["extractors"]["chromesift"]["tp"] == 2 and snips["extractors"]["chromesift"]["fp"] == 0
    assert snips["extractors"]["all-text"]["fp"] == 2  # the footer is in all the text
    macro = results["overall"]["all-text"]["f1"]
    assert macro == pytest.approx(np.mean([everything["f1"], snips["extractors"]["all-text"]["f1"]]))
    para = results["paragraphs"]["overall"]
    assert para["n_paragraphs"] > 0 and para["f1"] == pytest.approx(1.0)
    assert sum(results["paragraphs"]["reliability"]["count"]) == para["n_paragraphs"]
    per_ds = results["paragraphs"]["datasets"]
    assert sum(sum(d["reliability"]["count"]) for d in per_ds.values()) == para["n_paragraphs"]
    # the worst pages are the full-text pages, lowest F1 first
    assert [p["f1"] for p in results["worst_pages"]] == sorted(p["f1"] for p in results["worst_pages"])
    assert len(results["worst_pages"]) == 3

    out = Path(results["meta"]["report_dir"])
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved["datasets"]["tiny"]["extractors"]["chromesift"]["f1"] == pytest.approx(1.0)
    assert "timings" not in saved
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| **macro** |" in md and "![F1 per dataset" in md and "## 95% intervals of F1" in md
    page = (out / "report.html").read_text(encoding="utf-8")
    # every figure but the lead over trafilatura, which is not among the peers
    assert len(re.findall(r"src='data:image/png;base64,", page)) == len(plots.FIGURES) - 1
    assert "http" not in re.sub(r"https://example\.org/\d", "", page)  # self-contained
    assert all((out / "plots" / f"{n}.png").is_file() == (n != "lead") for n in plots.FIGURES)
    keys = flat_metrics(results)
    assert keys["f1.tiny.chromesift"] == pytest.approx(1.0)
    assert "macro_f1.all-text" in keys and "paragraph_brier" in keys

    # every paragraph's probability, per mode, keyed so the paragraph tables can be rebuilt
    import pandas as pd

    pred = pd.read_parquet(results["meta"]["predictions"])
    assert set(pred["mode"]) == {"html", "text"} and set(pred["dataset"]) == {"tiny", "snips"}
    story0 = parse_html(_page("Story 0", BODIES[0]))
    rows = pred[(pred["page"] == "tiny/0") & (pred["mode"] == "html")].sort_values("position")
    assert rows["position"].tolist() == story0["position"].tolist()
    expected = np.clip(story0["text"].str.len().to_numpy() / 200.0, 0.0, 1.0)
    assert np.allclose(rows["probability"].to_numpy(), expected, atol=1e-6)
    # the dump keeps every paragraph, the menu's links one a line
    pages = [_page(f"Story {i}", b) for i, b in enumerate(BODIES)]
    pages += [_page(f"Snippet page {i}", b) for i, b in enumerate(BODIES[:2])]
    assert len(pred[pred["mode"] == "text"]) == sum(len(text_lines(p)) for p in pages)
    assert len(pred[pred["mode"] == "text"]) > len(pred[pred["mode"] == "html"])


def test_mlflow_run_holds_metrics_and_report(tiny_corpus, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    results = run_evaluation(
        _config(tiny_corpus, tmp_path, mlflow=True, datasets=("tiny",), n_boot=0),
        model=LongParagraphModel(),
    )
    run_id = results["meta"]["mlflow_run_id"]
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.data.metrics["f1.tiny.chromesift"] == pytest.approx(1.0)
    assert run.data.params["split"] == "whole"
    names = {a.path for a in client.list_artifacts(run_id, "report")}
    assert {"report/report.html", "report/report.md", "report/metrics.json"} <= names
    assert (tmp_path / "mlartifacts").is_dir()  # the experiment's explicit artifact location


def _held_out_run(tiny_corpus: Path, tmp_path: Path, monkeypatch, maps: dict, **kw) -> tuple[dict, list]:
    """A leave-one-dataset-out run on the tiny corpus; the fold holding out ``name`` gets ``maps[name]``
    as its probability map. Returns the results and the datasets each fit saw."""
    import chromesift.train
    from chromesift.cli.evaluate import evaluate
    from chromesift.data.build import BuildConfig, build

    manifest = [{"name": n, "file": f"{n}.jsonl.xz", "pages": 0, "license": "test", "sha256": ""}
                for n in ("tiny", "snips")]
    (tiny_corpus / "MANIFEST.json").write_text(json.dumps(manifest), encoding="utf-8")
    tables = tmp_path / "paragraphs"
    build(BuildConfig(data_dir=tiny_corpus, out_dir=tables, jobs=1, verify=False, progress=False))
    toml = tmp_path / "train.toml"
    toml.write_text(
        f"[train]\ntables = {json.dumps(str(tables))}\nmax_iter = 5\nmin_samples_leaf = 2\n"
        "second_stage = false\ntext_copies = 0.0\n",
        encoding="utf-8",
    )
    seen = []
    real_fit = chromesift.train.fit_for_evaluation

    def spy(table, config=None):
        seen.append(sorted(set(table["dataset"])))
        fitted = real_fit(table, config)
        held_out = ({"tiny", "snips"} - set(seen[-1])).pop()
        fitted.pipeline[-1].calibration_ = maps.get(held_out)
        return fitted

    monkeypatch.setattr(chromesift.train, "fit_for_evaluation", spy)
    results = evaluate(  # the command's engine call, with the training stage's fitter
        _config(tiny_corpus, tmp_path, split="leave-one-dataset-out", train_config=toml, n_boot=0, **kw)
    )
    return results, seen


def test_leave_one_dataset_out_trains_without_the_held_out_set(tiny_corpus, tmp_path, monkeypatch):
    results, seen = _held_out_run(tiny_corpus, tmp_path, monkeypatch, {"snips": (0.75, 0.125)})
    assert seen == [["snips"], ["tiny"]]  # each fit saw only the other dataset
    assert results["meta"]["model"] == "one fit per held-out dataset"
    # each fold's probability map and threshold are kept, so its decisions can be made again
    assert results["meta"]["calibration_maps"] == {"tiny": None, "snips": [0.75, 0.125]}
    assert results["meta"]["thresholds"] == {"tiny": 0.5, "snips": 0.5}
    for name in ("tiny", "snips"):
        assert 0.0 <= results["datasets"][name]["extractors"]["chromesift"]["f1"] <= 1.0


def test_rescore_remakes_the_held_out_decisions(tiny_corpus, tmp_path, monkeypatch, capsys):
    from chromesift import metrics
    from chromesift.data.corpus import iter_pages
    from chromesift.data.page import to_columns
    from chromesift.errors import UserError
    from chromesift.evaluate.rescore import AS_RUN, Rule, rescore
    from chromesift.models.rules import headline_index

    results, _ = _held_out_run(tiny_corpus, tmp_path, monkeypatch,
                               {"tiny": (0.8, -0.3), "snips": (1.3, 0.4)})
    report_dir = Path(results["meta"]["report_dir"])
    keep_all, keep_none = Rule(threshold=0.0), Rule(threshold=1.0, text_relative_cut=None)
    out = rescore(report_dir, [keep_all, keep_none], data_dir=tiny_corpus)
    assert out["rules"] == [AS_RUN.name, keep_all.name, keep_none.name]
    # the run's own rule, from the probabilities through the inverted maps, gives the report's F1
    for ds in ("tiny", "snips"):
        for mode, name in (("html", "chromesift"), ("text", "chromesift-text")):
            assert out["datasets"][ds][mode]["f1"][AS_RUN.name] == pytest.approx(
                results["datasets"][ds]["extractors"][name]["f1"], abs=1e-12)
    assert out["largest_difference"] == pytest.approx(0.0, abs=1e-12)
    # threshold 0 keeps every paragraph but the headline: score that text independently
    pages = [p for p in iter_pages(tiny_corpus / "tiny.jsonl.xz")]
    expected = []
    for page in pages:
        cols = to_columns(page.html)
        head = headline_index(cols)
        expected.append("\n".join(t for i, t in enumerate(cols["text"]) if i != head))
    want = metrics.shingle_score(expected, [p.text for p in pages], n_boot=0).f1
    assert out["datasets"]["tiny"]["html"]["f1"][keep_all.name] == pytest.approx(want)
    # threshold 1 keeps nothing: no snippet found, no shingle right
    assert out["datasets"]["snips"]["html"]["f1"][keep_none.name] == 0.0
    assert not out["datasets"]["tiny"]["html"]["f1"][keep_none.name] > 0.0
    assert out["mean"]["html"][keep_all.name]["full"] == pytest.approx(want)
    # each other rule's change over the run's own, paired page by page, with its interval
    for ds in ("tiny", "snips"):
        d = out["datasets"][ds]["html"]
        change = d["change"][keep_none.name]
        assert change["lead"] == pytest.approx(d["f1"][keep_none.name] - d["f1"][AS_RUN.name])
        assert change["low"] <= change["lead"] <= change["high"]
    assert AS_RUN.name not in out["datasets"]["tiny"]["html"]["change"]
    mean = out["mean"]["html"][keep_none.name]["change"]["all"]
    assert mean["lead"] == pytest.approx(out["mean"]["html"][keep_none.name]["all"]
                                         - out["mean"]["html"][AS_RUN.name]["all"])
    assert "change" not in out["mean"]["html"][AS_RUN.name]

    # the command line prints the rules side by side and writes the JSON
    code = cli_main(["rescore", str(report_dir), "--data", str(tiny_corpus), "--threshold", "0", "--no-progress",
                     "--modes", "html", "--json", str(tmp_path / "rescore.json")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "rule 0 (as run) reproduces the report's F1" in printed and "mean, full-text datasets" in printed
    assert "rule 1 less rule 0, mean of all:" in printed
    saved = json.loads((tmp_path / "rescore.json").read_text(encoding="utf-8"))
    assert saved["datasets"]["tiny"]["html"]["f1"][keep_all.name] == pytest.approx(want)
    assert "text" not in saved["mean"]

    # a report from before thresholds were recorded needs the run's threshold
    saved_metrics = json.loads((report_dir / "metrics.json").read_text(encoding="utf-8"))
    del saved_metrics["meta"]["thresholds"]
    (report_dir / "metrics.json").write_text(json.dumps(saved_metrics), encoding="utf-8")
    code = cli_main(["rescore", str(report_dir), "--data", str(tiny_corpus), "--no-progress"])
    assert code == 2
    assert "--run-threshold 0.5" in capsys.readouterr().err
    again = rescore(report_dir, [], data_dir=tiny_corpus, modes=("html",), run_threshold=0.5)
    assert again["largest_difference"] == pytest.approx(0.0, abs=1e-12)

    # a report whose pages another chromesift read into more paragraphs: a clear error, no traceback
    import pandas as pd

    pred = pd.read_parquet(report_dir / "predictions.parquet")
    last = pred.index[(pred["dataset"] == "tiny") & (pred["mode"] == "html")][-1]
    pred.loc[last, "position"] = 10_000
    pred.to_parquet(report_dir / "predictions.parquet")
    with pytest.raises(UserError, match="reads pages otherwise"):
        rescore(report_dir, [], data_dir=tiny_corpus, modes=("html",), run_threshold=0.5)
    code = cli_main(["rescore", str(report_dir), "--data", str(tiny_corpus), "--run-threshold", "0.5", "--no-progress"])
    assert code == 2
    assert "Run `chromesift evaluate` again" in capsys.readouterr().err


def test_rescore_user_errors(tiny_corpus, tmp_path, capsys):
    from chromesift.errors import UserError
    from chromesift.evaluate.rescore import Rule, rescore

    with pytest.raises(UserError, match="no metrics.json"):
        rescore(tmp_path / "nowhere", [], data_dir=tiny_corpus)
    # a report of the shipped model keeps no folds' maps: nothing to invert
    results = run_evaluation(_config(tiny_corpus, tmp_path, n_boot=0), model=LongParagraphModel())
    report_dir = results["meta"]["report_dir"]
    with pytest.raises(UserError, match="not a leave-one-dataset-out report"):
        rescore(report_dir, [], data_dir=tiny_corpus)
    code = cli_main(["rescore", report_dir, "--threshold", "1.5", "--no-progress"])
    assert code == 2
    assert "between 0 and 1" in capsys.readouterr().err
    with pytest.raises(UserError, match="relative cut"):
        rescore(report_dir, [Rule(html_relative_cut=0.0)], data_dir=tiny_corpus)
    with pytest.raises(SystemExit):  # argparse: a cut that is no number
        cli_main(["rescore", report_dir, "--html-relative-cut", "half"])
    assert "expected a number or 'none'" in capsys.readouterr().err
    for bad, said in (("-5", "expected 0 or more characters"), ("many", "expected a whole number of characters")):
        with pytest.raises(SystemExit):  # argparse: the fallback's length
            cli_main(["rescore", report_dir, "--empty-min-chars", bad])
        assert said in capsys.readouterr().err


def test_rescore_inverts_the_models_probability_map():
    from types import SimpleNamespace

    from chromesift.evaluate.rescore import scores_from
    from chromesift.models.classifier import TwoStageClassifier

    s = np.array([0.001, 0.2, 0.46, 0.5, 0.93, 0.999])
    for cal in [(0.78, 0.02), (1.3, -0.4)]:
        p = TwoStageClassifier.calibrated_proba(SimpleNamespace(calibration_=cal), s)
        assert not np.allclose(p, s)
        assert np.allclose(scores_from(p, list(cal)), s, atol=1e-12)
    assert np.array_equal(scores_from(s, None), s)


def test_model_flags_reach_load_model(tiny_corpus, tmp_path, monkeypatch, capsys):
    import chromesift

    calls = []

    def fake_load_model(path=None, *, trusted=False):
        calls.append((path, trusted))
        return LongParagraphModel()

    monkeypatch.setattr(chromesift, "load_model", fake_load_model)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    code = cli_main(["evaluate", "--model", str(bundle), "--trust", "--data", str(tiny_corpus),
                     "--datasets", "tiny", "--no-mlflow", "--no-progress", "--bootstrap", "0",
                     "--out", str(tmp_path / "r")])
    assert code == 0
    assert calls == [(bundle, True)]
    assert "chromesift" in capsys.readouterr().out
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text(encoding="utf-8"))
    assert saved["meta"]["model_metadata"]["name"] == "long-paragraph-rule"


def test_user_errors_exit_2(tiny_corpus, tmp_path, capsys):
    code = cli_main(["evaluate", "--data", str(tiny_corpus), "--datasets", "tiny", "nope",
                     "--no-mlflow", "--no-progress", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "unknown dataset(s) nope" in capsys.readouterr().err
    code = cli_main(["evaluate", "--model", str(tmp_path / "no-such-bundle"), "--data",
                     str(tiny_corpus), "--no-mlflow", "--no-progress"])
    assert code == 2
    assert "no-such-bundle not found" in capsys.readouterr().err
    code = cli_main(["evaluate", "--data", str(tmp_path / "nowhere"), "--peers-only",
                     "--peers", "all-text", "--no-mlflow"])
    assert code == 2
    assert "not found" in capsys.readouterr().err
    code = cli_main(["evaluate", "--data", str(tiny_corpus), "--peers", "bogus", "--no-mlflow"])
    assert code == 2
    assert "unknown peer 'bogus'" in capsys.readouterr().err


def test_peers_only_cli_run(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "peers-report"
    code = cli_main(["evaluate", "--data", str(tiny_corpus), "--peers-only", "--peers", "all-text",
                     "--no-mlflow", "--no-progress", "--out", str(out), "--bootstrap", "0",
                     "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "all-text" in printed and "macro" in printed
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved["extractors"] == ["all-text"] and "paragraphs" not in saved


class TrainedOn(LongParagraphModel):
    """The rule model with a bundle's metadata: trained on ``sums`` (dataset -> corpus sha256)."""

    def __init__(self, sums: dict, run_id: str | None = None):
        self.metadata = {"name": "trained-rule", "threshold": 0.5, "sha256": "ab" * 32,
                         "mlflow_run_id": run_id,
                         "data": {"datasets": sorted(sums), "sha256": dict(sums), "licenses": {}, "pages": {}}}


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _evaluate_cli(monkeypatch, model, *args: str) -> int:
    import chromesift

    monkeypatch.setattr(chromesift, "load_model", lambda path=None, *, trusted=False: model)
    return cli_main(["evaluate", "--no-mlflow", "--no-progress", "--bootstrap", "0", *args])


def test_in_sample_evaluation_is_refused_without_the_flag(tiny_corpus, tmp_path, monkeypatch, capsys):
    model = TrainedOn({"tiny": _sha(tiny_corpus / "tiny.jsonl.xz")})
    out = tmp_path / "r"
    code = _evaluate_cli(monkeypatch, model, "--data", str(tiny_corpus), "--out", str(out))
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert "was trained on tiny (sha256 " in err and "snips" not in err
    assert "--split leave-one-dataset-out" in err and "never saw" in err and "--in-sample" in err
    assert not out.exists()  # refused before any page was scored
    # the engine refuses too, with the same error
    from chromesift.errors import UserError

    with pytest.raises(UserError, match="in-sample"):
        run_evaluation(_config(tiny_corpus, tmp_path, datasets=("tiny",)), model=model)


def test_in_sample_flag_marks_the_report_metrics_and_command(tiny_corpus, tmp_path, monkeypatch, capsys):
    model = TrainedOn({"tiny": _sha(tiny_corpus / "tiny.jsonl.xz")})
    out = tmp_path / "r"
    code = _evaluate_cli(monkeypatch, model, "--data", str(tiny_corpus), "--out", str(out), "--in-sample")
    assert code == 0
    assert "in-sample (trained on these pages): tiny" in capsys.readouterr().out
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved["meta"]["in_sample"] is True and saved["meta"]["in_sample_datasets"] == ["tiny"]
    assert saved["meta"]["corpus"]["tiny"] == {"file": "tiny.jsonl.xz", "sha256": _sha(tiny_corpus / "tiny.jsonl.xz")}
    md = (out / "report.md").read_text(encoding="utf-8")
    head = md.split("\n## ", 1)[0]
    assert "**in-sample (trained on these pages): tiny." in head
    assert "- split: whole, in-sample (trained on these pages)" in head
    assert "| tiny (in-sample) | 3 |" in md and "| snips | 2 |" in md
    page = (out / "report.html").read_text(encoding="utf-8")
    body_head = page.split("<h2>", 1)[0]
    assert "<p class='in-sample' id='in-sample'>in-sample (trained on these pages): tiny." in body_head
    assert f".in-sample {{ color: rgb{report.IN_SAMPLE_RGB}" in page


def test_datasets_the_bundle_never_saw_evaluate_without_the_flag(tiny_corpus, tmp_path, monkeypatch, caplog):
    sums = {"tiny": _sha(tiny_corpus / "tiny.jsonl.xz")}
    results = run_evaluation(_config(tiny_corpus, tmp_path, datasets=("snips",), n_boot=0), model=TrainedOn(sums))
    assert results["meta"]["in_sample"] is False and results["meta"]["in_sample_datasets"] == []
    md = (Path(results["meta"]["report_dir"]) / "report.md").read_text(encoding="utf-8")
    assert "in-sample" not in md
    # a corpus of the same name but another file is another corpus (with a warning)
    other = run_evaluation(_config(tiny_corpus, tmp_path, datasets=("tiny",), n_boot=0, out=tmp_path / "o"),
                           model=TrainedOn({"tiny": "0" * 64}))
    assert other["meta"]["in_sample"] is False
    assert "another corpus file" in caplog.text
    # a bundle that names a dataset without its sha256 cannot show the pages differ: in-sample
    from chromesift.evaluate.run import in_sample_datasets

    assert in_sample_datasets({"data": {"pages": {"tiny": 3}}}, {"tiny": "1" * 64, "snips": "2" * 64}) == ["tiny"]
    assert in_sample_datasets({}, {"tiny": "1" * 64}) == []


def test_shipped_model_on_a_corpus_it_was_trained_on_is_refused(shared_data, tmp_path):
    from chromesift.errors import UserError

    config = EvaluationConfig(data_dir=shared_data, datasets=("readability",), limit=1, out=tmp_path / "r",
                              mlflow=False, progress=False, n_boot=0)
    with pytest.raises(UserError, match=r"the shipped default model was trained on readability \(sha256 acb573cc"):
        run_evaluation(config)
    assert not (tmp_path / "r").exists()


def test_mlflow_lineage_of_an_evaluation(tiny_corpus, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from chromesift.tracking import (
        TAG_BUNDLE_SHA256,
        TAG_IN_SAMPLE,
        TAG_IN_SAMPLE_DATASETS,
        TAG_SHA256_INPUT,
        TAG_STAGE,
        TAG_TRAINING_RUN,
        TAG_TRAINING_RUN_URL,
    )

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = mlflow.MlflowClient(uri)
    training = client.create_run(client.create_experiment("train", artifact_location=(tmp_path / "a").as_uri()))
    tiny_sha = _sha(tiny_corpus / "tiny.jsonl.xz")
    model = TrainedOn({"tiny": tiny_sha}, run_id=training.info.run_id)
    results = run_evaluation(_config(tiny_corpus, tmp_path, mlflow=True, n_boot=0, in_sample=True), model=model)
    run = client.get_run(results["meta"]["mlflow_run_id"])
    tags = run.data.tags
    assert tags[TAG_STAGE] == "evaluate" and "stage" not in tags
    assert tags[TAG_BUNDLE_SHA256] == "ab" * 32
    assert tags[TAG_TRAINING_RUN] == training.info.run_id
    assert TAG_TRAINING_RUN_URL not in tags  # a SQLite store has no web address
    # the description links the training run in the MLflow UI
    note = tags["mlflow.note.content"]
    assert f"](#/experiments/{training.info.experiment_id}/runs/{training.info.run_id})" in note
    assert "In-sample (trained on these pages): tiny" in note
    assert tags[TAG_IN_SAMPLE] == "true" and tags[TAG_IN_SAMPLE_DATASETS] == "tiny"
    # each corpus file is a dataset input: its name, the file name as source, its sha256
    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"tiny", "snips"}
    assert inputs["tiny"].dataset.digest == tiny_sha[:36]
    assert json.loads(inputs["tiny"].dataset.source) == {"uri": "tiny.jsonl.xz"}
    assert {t.key: t.value for t in inputs["tiny"].tags}[TAG_SHA256_INPUT] == tiny_sha
    # plain params: no reprs, no machine paths, nothing that changes no figure
    params = run.data.params
    assert params["datasets"] == "" and params["peers"] == "all-text" and params["in_sample"] == "True"
    assert params["limit"] == "all" and params["split"] == "whole"
    assert not {"progress", "out", "mlflow", "cache_dir", "experiment"} & set(params)
    assert not [v for v in params.values() if "Path(" in v or v.startswith(("(", "[")) or str(tmp_path) in v]


def test_training_run_link_needs_a_web_address(monkeypatch, tmp_path):
    from types import SimpleNamespace

    import mlflow

    from chromesift import tracking

    class Store:
        def __init__(self, uri):
            self.uri = uri

        def get_run(self, run_id):
            if run_id != "abc":
                raise mlflow.exceptions.MlflowException("not found")
            return SimpleNamespace(info=SimpleNamespace(experiment_id="7"))

    monkeypatch.setattr(mlflow, "MlflowClient", Store)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000/")
    assert tracking.run_link("abc") == "http://tracking.example:5000/#/experiments/7/runs/abc"
    assert tracking.run_link("other") is None  # not in that store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert tracking.run_link("abc") is None  # a file has no web address
    # params as plain text
    monkeypatch.chdir(tmp_path)
    assert tracking.param_value((tmp_path / "a", "b")) == "a,b"
    assert tracking.param_value({"wcxb": 2, "fundus": 0.0}) == "fundus=0.0,wcxb=2"
    assert tracking.param_value({}) == ""
    assert tracking.param_value(None) == "" and tracking.param_value(Path("/elsewhere/x")).endswith("/x")
    assert "elsewhere" not in tracking.param_value(Path("/elsewhere/x"))


def test_held_out_folds_are_nested_runs(tiny_corpus, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from chromesift.tracking import TAG_HELD_OUT, TAG_STAGE

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    results, _ = _held_out_run(tiny_corpus, tmp_path, monkeypatch, {}, mlflow=True, peers=())
    parent = results["meta"]["mlflow_run_id"]
    client = mlflow.MlflowClient(uri)
    experiment = client.get_run(parent).info.experiment_id
    children = client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    assert sorted(c.data.tags[TAG_HELD_OUT] for c in children) == ["snips", "tiny"]
    for child in children:
        ds = child.data.tags[TAG_HELD_OUT]
        assert child.data.tags[TAG_STAGE] == "evaluate" and child.data.params["held_out"] == ds
        assert child.data.metrics["f1.chromesift"] == pytest.approx(
            results["datasets"][ds]["extractors"]["chromesift"]["f1"])
        assert child.data.metrics["threshold"] == 0.5
        assert [i.dataset.name for i in child.inputs.dataset_inputs] == [ds]
    assert client.get_run(parent).data.tags["chromesift.in_sample"] == "false"


def test_evaluate_help_ends_with_examples():
    from chromesift.cli import build_parser

    parser = build_parser("evaluate")
    sub = next(a for a in parser._actions if a.dest == "command").choices["evaluate"]
    assert [a.option_strings for a in sub._actions if a.option_strings and not a.help] == []
    text = sub.format_help()
    assert "examples:" in text and "--in-sample" in text
    assert text.rstrip().splitlines()[-1].strip().startswith("another store")


def test_text_diff_finds_missed_and_extra_lines():
    truth = "the first paragraph of the story\nthe second paragraph of the story"
    pred = "the first paragraph of the story\nsubscribe to our newsletter for more news"
    missed, extra = text_diff(pred, truth)
    assert missed == ["the second paragraph of the story"]
    assert extra == ["subscribe to our newsletter for more news"]


def _synthetic_results() -> dict:
    extractors = ["chromesift", "trafilatura", "all-text"]
    rng = np.random.default_rng(0)
    datasets = {}
    for i, name in enumerate(["alpha", "beta", "gamma"]):
        datasets[name] = {
            "kind": "full", "n_pages": 10 + i, "score": "shingle F1",
            "extractors": {
                e: {"f1": 0.9 - 0.2 * j - 0.05 * i, "precision": 0.95 - 0.3 * j,
                    "recall": 0.85 + 0.05 * j, "failures": j}
                for j, e in enumerate(extractors)
            },
        }
    overall = {e: {"f1": 0.85 - 0.2 * j, "precision": 0.9 - 0.3 * j, "recall": 0.9,
                   "ms_median": 5.0 * (j + 1), "ms_p90": 9.0 * (j + 1), "pages_per_s": 100.0 / (j + 1),
                   "failures": j, "n_pages": 33}
               for j, e in enumerate(extractors)}
    curve = {"bin_lower": [i / 10 for i in range(10)], "bin_upper": [(i + 1) / 10 for i in range(10)],
             "mean_predicted": [i / 10 + 0.05 for i in range(10)],
             "observed": [min(1.0, i / 10 + 0.02) for i in range(10)],
             "count": [50, 20, 10, 8, 6, 6, 8, 12, 25, 70]}
    lead = {"lead": 0.02, "low": -0.01, "high": 0.05, "sites": 9, "pages": 10}
    return {
        "meta": {"model": "synthetic", "split": "whole", "created": "2024-01-01T00:00:00+00:00"},
        "extractors": extractors,
        "datasets": datasets,
        "leads": {"peer": "trafilatura", "datasets": {n: {"chromesift": lead} for n in datasets},
                  "mean": {"chromesift": {"all": {**lead, "datasets": 3}}}},
        "overall": overall,
        "timings": {e: list(rng.lognormal(np.log(5 * (j + 1)), 0.5, 200)) for j, e in enumerate(extractors)},
        "paragraphs": {"datasets": {"alpha": {"n_paragraphs": 215, "f1": 0.9, "brier": 0.08, "reliability": {
                           **curve, "count": [50, 0, 10, 8, 6, 6, 8, 12, 25, 90],
                           "mean_predicted": [0.02, None] + curve["mean_predicted"][2:],
                           "observed": [0.1, None] + curve["observed"][2:]}},
                                    "beta": {"n_paragraphs": 0, "f1": None}},
                       "overall": {"n_paragraphs": 215, "f1": 0.9, "precision": float("nan"), "brier": 0.08},
                       "reliability": curve, "ece": 0.03},
        "worst_pages": [{"dataset": "alpha", "id": "alpha/1", "url": None, "precision": 0.5,
                         "recall": 0.4, "f1": 0.44, "missed": ["a missed line"], "extra": ["an extra <b>line"]}],
    }


def test_report_from_synthetic_results(tmp_path):
    paths = report.write_report(_synthetic_results(), tmp_path / "r")
    saved = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert saved["paragraphs"]["overall"]["precision"] is None  # NaN becomes null
    page = paths["html"].read_text(encoding="utf-8")
    assert "an extra &lt;b&gt;line" in page  # page text is escaped
    md = paths["md"].read_text(encoding="utf-8")
    assert "| alpha | 10 | shingle F1 | **0.900** | 0.700 | 0.500 |" in md
    # the reliability curve as a table: every decile, its gap, and the worst gap stated
    assert "## chromesift, calibration" in md
    assert "| 0.1-0.2 | 20 | 0.150 | 0.120 | 0.030 |" in md
    assert "| 0.9-1.0 | 70 | 0.950 | 0.920 | 0.030 |" in md
    assert "expected calibration error 0.030, Brier score 0.080, largest gap 0.030." in md
    assert "chromesift, calibration" in page
    # per dataset: predicted / observed per tenth, an empty tenth left blank, the largest gap;
    # a dataset without a curve has no row
    assert ("| alpha | 0.080 | 0.02 / 0.10 |  | 0.25 / 0.22 | 0.35 / 0.32 | 0.45 / 0.42 | 0.55 / 0.52 "
            "| 0.65 / 0.62 | 0.75 / 0.72 | 0.85 / 0.82 | 0.95 / 0.92 |") in md
    section = md.split("## chromesift, calibration per dataset", 1)[1].split("\n\n#", 1)[0]
    assert "| alpha |" in section and "| beta |" not in section


CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--hide-scrollbars",
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start and end (exclusive) of each run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2], strict=True))


def test_report_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'; see .ci/install-chromium.sh)")
    from matplotlib.image import imread

    paths = report.write_report(_synthetic_results(), tmp_path / "r")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1200,4000", paths["html"].resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    img = imread(shot)[..., :3] * 255.0
    assert img.shape[:2] == (4000, 1200)
    frame = np.all(np.abs(img - np.array(report.FIGURE_FRAME_RGB)) <= 3, axis=-1)
    # each figure's frame gives a top and a bottom line of frame colour, as wide as the figure
    lines = _runs(frame.sum(axis=1) >= 0.8 * plots.FIGURE_WIDTH)
    assert len(lines) == 2 * len(plots.FIGURES), lines
    for (top0, top1), (bot0, _) in zip(lines[::2], lines[1::2], strict=True):
        band = frame[top1:bot0]
        assert abs(band.shape[0] - plots.FIGURE_HEIGHT) <= 4
        cols = _runs(band.sum(axis=0) >= 0.8 * band.shape[0])
        assert len(cols) == 2, cols
        inside = img[top1:bot0, cols[0][1]:cols[1][0]]
        assert abs(inside.shape[1] - plots.FIGURE_WIDTH) <= 4
        ink = np.any(inside < 200, axis=-1).mean()
        assert 0.01 < ink < 0.9, f"figure at y={top0} looks blank or solid ({ink:.3f} ink)"
        assert inside.std() > 20


def _screenshot(browser: str, page: Path, tmp_path: Path, name: str) -> np.ndarray:
    from matplotlib.image import imread

    shot = tmp_path / f"{name}.png"
    subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / ('profile-' + name)}",
         f"--screenshot={shot}", "--window-size=1200,600", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    return imread(shot)[..., :3] * 255.0


def test_in_sample_header_is_red_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'; see .ci/install-chromium.sh)")
    marked = _synthetic_results()
    marked["meta"].update(in_sample=True, in_sample_datasets=["alpha"])
    honest = report.write_report(_synthetic_results(), tmp_path / "honest")["html"]
    flagged = report.write_report(marked, tmp_path / "marked")["html"]

    def red_rows(img: np.ndarray) -> np.ndarray:
        """Rows with red text above the first figure (whose plots may have a red of their own)."""
        frame = np.all(np.abs(img - np.array(report.FIGURE_FRAME_RGB)) <= 3, axis=-1)
        first_figure = _runs(frame.sum(axis=1) >= 0.8 * plots.FIGURE_WIDTH)[0][0]
        red = np.all(np.abs(img[:first_figure] - np.array(report.IN_SAMPLE_RGB)) <= 12, axis=-1)
        return np.flatnonzero(red.sum(axis=1) >= 3)

    img = _screenshot(browser, flagged, tmp_path, "marked")
    rows = red_rows(img)
    # red text right under the title, above the metadata and the first table
    assert len(rows) >= 8, "no red in-sample line at the top of the report"
    assert rows.min() < 120 and rows.max() - rows.min() < 60, rows
    assert red_rows(_screenshot(browser, honest, tmp_path, "honest")).size == 0


# --- modern-news mean, subsets and collapsed pages -----------------------------------------------


def test_collapsed_pages_are_counted_against_trafilatura_with_their_diff():
    from chromesift.data.corpus import Page
    from chromesift.evaluate.run import collapsed_pages

    truths = ["\n".join(body) for body in BODIES]
    pages = [Page(id=f"t/{i}", dataset="t", url=None, lang="en", html="", text=t) for i, t in enumerate(truths)]
    outputs = {
        "chromesift": ["", truths[1], BODIES[2][0]],  # empty; right; half of the article
        "chromesift-text": truths,
        "trafilatura": truths,
    }
    out = collapsed_pages("t", "full", pages, outputs)
    assert out["chromesift"]["count"] == 1 and out["chromesift"]["pages"] == 3
    item = out["chromesift"]["items"][0]
    assert item["id"] == "t/0" and item["f1"] == 0.0 and item["peer_f1"] == pytest.approx(1.0)
    assert item["missed"] == BODIES[0] and item["extra"] == []
    assert out["chromesift-text"]["count"] == 0
    assert collapsed_pages("t", "full", pages, {"chromesift": outputs["chromesift"]}) == {}  # no peer, no verdict


def test_subsets_modern_news_mean_and_collapsed_section_in_the_report(tiny_corpus, tmp_path, monkeypatch):
    from chromesift.data.corpus import iter_pages
    from chromesift.evaluate import run as run_mod

    # two of the full-text pages are articles: they are scored apart as "tiny/article"
    recs = [json.loads(line) for line in lzma.open(tiny_corpus / "tiny.jsonl.xz", "rt")]
    for rec, kind in zip(recs, ("article", "article", "listing"), strict=True):
        rec["meta"] = {"page_type": kind}
    _write(tiny_corpus / "tiny.jsonl.xz", recs)
    monkeypatch.setattr(run_mod, "MODERN_NEWS", ("tiny/article", "snips", "not-evaluated"))
    results = run_evaluation(_config(tiny_corpus, tmp_path), model=LongParagraphModel())
    sub = results["subsets"]["tiny/article"]
    assert sub["n_pages"] == 2 and sub["extractors"]["chromesift"]["f1"] == pytest.approx(1.0)
    want = np.mean([sub["extractors"]["chromesift"]["f1"], results["datasets"]["snips"]["extractors"]["chromesift"]["f1"]])
    assert results["overall"]["chromesift"]["modern_news_f1"] == pytest.approx(want)
    assert flat_metrics(results)["modern_news_f1.chromesift"] == pytest.approx(want)
    assert "f1.tiny/article.chromesift" in flat_metrics(results)
    # a collapse, as the engine records it, is counted and listed with its diff
    pages = list(iter_pages(tiny_corpus / "tiny.jsonl.xz"))
    truths = [p.text for p in pages]
    results["collapsed"] = {"tiny": run_mod.collapsed_pages(
        "tiny", "full", pages, {"chromesift": ["", *truths[1:]], "trafilatura": truths})}
    paths = report.write_report(results, tmp_path / "again")
    md = paths["md"].read_text()
    assert "| tiny/article (subset) | 2 |" in md and "| **modern news** |" in md
    assert "## Collapsed pages\n" in md and "| tiny | 1 of 3 |" in md
    assert "### tiny / tiny/0" in md and f"- {BODIES[0][0]}" in md
    assert "Collapsed pages against trafilatura" in paths["html"].read_text()


def test_lead_over_trafilatura_with_its_interval_over_sites(tiny_corpus, tmp_path, monkeypatch):
    from chromesift.data.corpus import iter_pages
    from chromesift.evaluate import peers
    from chromesift.evaluate import run as run_mod

    truths = {p.id: p.text for p in iter_pages(tiny_corpus / "tiny.jsonl.xz")}

    real = run_mod.run_peer

    def half_peer(name, pages, **kw):  # trafilatura, as if it got the first page right and missed the rest
        if name != "trafilatura":
            return real(name, pages, **kw)
        return [peers.PeerResult(page_id=p.id, text=(truths.get(p.id) or "") if i == 0 else "", seconds=0.0,
                                 status="ok") for i, p in enumerate(pages)]

    monkeypatch.setattr(run_mod, "run_peer", half_peer)
    results = run_evaluation(_config(tiny_corpus, tmp_path, peers=("trafilatura",)), model=LongParagraphModel())
    leads = results["leads"]
    assert leads["peer"] == "trafilatura"
    for ds in ("tiny", "snips"):
        for name in ("chromesift", "chromesift-text"):
            x = leads["datasets"][ds][name]
            f1 = results["datasets"][ds]["extractors"]
            assert x["lead"] == pytest.approx(f1[name]["f1"] - f1["trafilatura"]["f1"])
            assert x["low"] <= x["lead"] <= x["high"]
    tiny = leads["datasets"]["tiny"]["chromesift"]
    assert tiny["sites"] >= 1 and tiny["pages"] == 3 and tiny["lead"] > 0
    mean = leads["mean"]["chromesift"]["all"]
    assert mean["lead"] == pytest.approx(np.mean([leads["datasets"][d]["chromesift"]["lead"] for d in ("tiny", "snips")]))
    assert flat_metrics(results)["lead.tiny.chromesift"] == pytest.approx(tiny["lead"])
    assert flat_metrics(results)["lead_all.chromesift"] == pytest.approx(mean["lead"])
    assert f"chromesift over trafilatura, mean of all: {mean['lead']:+.3f} (95% interval" in summary_table(results)
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Lead over trafilatura\n" in md and "| **mean of all** |" in md
    assert "![Lead over trafilatura per dataset" in md and (tmp_path / "report" / "plots" / "lead.png").is_file()
    assert f"| tiny | {tiny['sites']} | {tiny['lead']:+.3f} ({tiny['low']:+.3f} to {tiny['high']:+.3f})" in md
    # a report without the peer has no such section
    results = run_evaluation(_config(tiny_corpus, tmp_path, out=tmp_path / "plain"), model=LongParagraphModel())
    assert "leads" not in results and "Lead over" not in (tmp_path / "plain" / "report.md").read_text()


def test_rescore_tries_the_empty_page_fallback_and_counts_collapses(tiny_corpus, tmp_path, monkeypatch):
    from chromesift.data.corpus import iter_pages
    from chromesift.evaluate import peers
    from chromesift.evaluate.rescore import AS_RUN, Rule, rescore, table

    results, _ = _held_out_run(tiny_corpus, tmp_path, monkeypatch, {"tiny": (0.8, -0.3), "snips": (1.3, 0.4)})
    report_dir = Path(results["meta"]["report_dir"])
    truths = {p.id: p.text for p in iter_pages(tiny_corpus / "tiny.jsonl.xz")}

    def perfect_peer(name, pages, **kw):  # trafilatura, as if it got every page right
        assert name == "trafilatura"
        return [peers.PeerResult(page_id=p.id, text=truths.get(p.id) or "", seconds=0.0, status="ok") for p in pages]

    monkeypatch.setattr(peers, "run_peer", perfect_peer)
    keep_none = Rule(threshold=1.0, text_relative_cut=None, empty_cut=None)
    fallback = Rule(threshold=1.0, text_relative_cut=None, empty_cut=0.9, empty_min_chars=0)
    out = rescore(report_dir, [keep_none, fallback], data_dir=tiny_corpus, modes=("html",),
                  peer_cache=tmp_path / "cache")
    tiny = out["datasets"]["tiny"]["html"]
    assert tiny["f1"][keep_none.name] == 0.0 and tiny["collapsed"][keep_none.name] == 3
    # the fallback keeps each page's likeliest paragraphs: nothing is empty any more
    assert tiny["f1"][fallback.name] > 0.0
    assert tiny["collapsed"][fallback.name] < 3
    assert out["mean"]["html"][keep_none.name]["collapsed"] == 3
    mean_all = out["mean"]["html"][AS_RUN.name]["all"]
    assert mean_all == pytest.approx(np.mean([out["datasets"][d]["html"]["f1"][AS_RUN.name] for d in ("tiny", "snips")]))
    assert "empty cut 0.9" in fallback.name and "chars" not in fallback.name
    assert Rule(empty_cut=0.5, empty_min_chars=200).name.endswith("empty cut 0.5 from 200 chars")
    assert "empty cut" not in keep_none.name
    # against a peer that gets every page right, keeping nothing trails it by all of its F1,
    # in every resample of the sites
    lead = tiny["lead"][keep_none.name]
    assert lead["lead"] == pytest.approx(-1.0) and lead["low"] == pytest.approx(-1.0) == lead["high"]
    assert tiny["lead"][fallback.name]["lead"] > -1.0
    assert out["mean"]["html"][keep_none.name]["lead"]["all"]["datasets"] == 2
    assert "lead over trafilatura, mean of all, rule 1:" in table(out)


class ScopedModel(LongParagraphModel):
    """The stand-in model, recording the scope of each call; it reads only "article" and "all"."""

    def __init__(self, readable=("article", "all")):
        self.readable = readable
        self.scopes = []

    def check_scope(self, scope):
        if scope not in self.readable:
            raise ValueError(f"cannot read pages with scope {scope!r}")

    def classify(self, document, *, format=None, scope=None):
        self.scopes.append((format, scope))
        return super().classify(document, format=format)


def test_evaluation_reads_pages_with_the_scope_asked_for(tiny_corpus, tmp_path):
    model = ScopedModel()
    results = run_evaluation(_config(tiny_corpus, tmp_path, n_boot=0, scope="all"), model=model)
    assert results["meta"]["scope"] == "all"
    assert "scope: all" in (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert {s for _, s in model.scopes} == {"all"} and {f for f, _ in model.scopes} == {"html", "text"}
    plain = ScopedModel()
    results = run_evaluation(_config(tiny_corpus, tmp_path, n_boot=0, out=tmp_path / "plain"), model=plain)
    assert results["meta"]["scope"] is None and {s for _, s in plain.scopes} == {None}


def test_evaluation_refuses_a_scope_before_any_work(tiny_corpus, tmp_path):
    with pytest.raises(UserError, match="scope must be one of auto, article, all, not 'page'"):
        run_evaluation(_config(tiny_corpus, tmp_path, scope="page"), model=ScopedModel())
    model = ScopedModel(readable=("article",))
    with pytest.raises(UserError, match="cannot read pages with scope 'all'"):
        run_evaluation(_config(tiny_corpus, tmp_path, scope="all"), model=model)
    assert model.scopes == [] and not (tmp_path / "report").exists()


def test_peer_leads_resample_each_dataset_on_its_own_and_reproducibly():
    from chromesift.data.corpus import Page
    from chromesift.evaluate.run import peer_leads

    truths = ["\n".join(body) for body in BODIES] * 4
    pages = [Page(id=f"t/{i}", dataset="t", url=f"https://site{i % 5}.example/{i}", lang="en", html="", text=t)
             for i, t in enumerate(truths)]
    outputs = {"chromesift": [t if i % 3 else "" for i, t in enumerate(truths)], "trafilatura": truths}
    one = peer_leads("full", pages, outputs, n_boot=200, random_state=0, dataset="one")["chromesift"]
    again = peer_leads("full", pages, outputs, n_boot=200, random_state=0, dataset="one")["chromesift"]
    other = peer_leads("full", pages, outputs, n_boot=200, random_state=0, dataset="other")["chromesift"]
    assert one.sites == 5 and one.pages == 12 and one.lead < 0
    assert np.array_equal(one.replicates, again.replicates)
    assert one.lead == other.lead and not np.array_equal(one.replicates, other.replicates)
    assert peer_leads("full", pages, {"chromesift": truths}, n_boot=10, random_state=0, dataset="one") == {}
