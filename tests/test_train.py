"""Training runs end to end on a tiny corpus: MLflow run, bundle, reproducibility."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chromesift.data.build import BuildConfig, build, load_tables
from chromesift.errors import UserError
from chromesift.train.config import load_config
from chromesift.train.run import run_training

DATASETS = ("cleanportaleval", "readability")


@pytest.fixture(scope="module")
def tiny_tables(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("tables")
    build(BuildConfig(data_dir=shared_data, out_dir=out, datasets=DATASETS, limit=20, jobs=1, progress=False))
    return out


@pytest.fixture(scope="module")
def tracked(tiny_tables, tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("CHROMESIFT_ARTIFACTS", str(root / "artifacts"))
    cfg = load_config(
        tables=tiny_tables, out_dir=root / "models", name="tiny", max_iter=15, cv_folds=2,
        stack_folds=2, max_rows=4000, experiment="test-train",
    )
    result = run_training(cfg, progress=False, register=REGISTERED)
    yield cfg, result
    mp.undo()


REGISTERED = "tiny-model"


def test_run_is_complete_in_mlflow(tracked):
    import mlflow

    cfg, result = tracked
    run = mlflow.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["max_iter"] == "15"
    assert run.data.params["cv_folds"] == "2"
    assert any(k.startswith("data.readability.sha256") for k in run.data.params)
    assert "cv.readability.html.len_f1" in run.data.metrics
    assert 0 <= run.data.metrics["threshold"] <= 1
    assert run.data.tags["git_commit"] is not None
    client = mlflow.MlflowClient()
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert {"plots/precision_recall.png", "plots/confusion_matrix.png", "plots/feature_importance.png",
            "plots/reliability.png"} <= plots
    # out-of-fold calibration: logged, in the bundle's metadata and in its model card
    assert 0 <= run.data.metrics["cv_ece"] <= run.data.metrics["cv_calibration_worst_gap"] <= 1
    assert 0 <= run.data.metrics["cv_brier"] <= 1
    meta = json.loads((result.bundle / "metadata.json").read_text(encoding="utf-8"))
    curve = meta["metrics"]["cv_reliability"]
    assert len(curve["count"]) == 10 and sum(curve["count"]) > 0
    card = (result.bundle / "report.md").read_text(encoding="utf-8")
    assert "## Calibration, grouped cross-validation" in card
    assert f"{run.data.metrics['cv_brier']:.4f}" in card
    bundle_files = {a.path for a in client.list_artifacts(result.run_id, "bundle")}
    assert "bundle/model.joblib" in bundle_files
    # calibrated by default: the map is logged and stated in the card
    assert run.data.params["calibrate"] == "True" and run.data.params["calibration_folds"] == "4"
    assert run.data.metrics["calibration_slope"] > 0
    assert "The reported probabilities are calibrated" in card
    assert f"Decision threshold: {meta['threshold']:.2f} (tuned on grouped cross-validation)." in card


def test_model_card_says_whether_the_threshold_was_tuned_or_given():
    """A threshold given in the settings is not called tuned on the bundle's card."""
    import pandas as pd

    from chromesift.train.run import THRESHOLD_GIVEN, report_markdown

    info = {"datasets": ["readability"], "pages": {"readability": 3}, "licenses": {"readability": "Apache-2.0"}}
    given = report_markdown(load_config(threshold=0.5), pd.DataFrame(), 0.5, info, THRESHOLD_GIVEN)
    assert "Decision threshold: 0.50 (given in the training settings)." in given
    assert "tuned" not in given
    tuned = report_markdown(load_config(), pd.DataFrame(), 0.46, info)
    assert "Decision threshold: 0.46 (tuned on grouped cross-validation)." in tuned


def test_a_given_threshold_is_kept_and_called_given(tiny_tables, tmp_path):
    """`chromesift train --threshold 0.5`: the bundle decides at 0.5 and its card does not call it tuned."""
    cfg = load_config(tables=tiny_tables, out_dir=tmp_path / "models", name="given", max_iter=5, cv_folds=2,
                      stack_folds=2, max_rows=2000, threshold=0.5, mlflow=False)
    result = run_training(cfg, progress=False)
    assert result.threshold == 0.5
    assert json.loads((result.bundle / "metadata.json").read_text(encoding="utf-8"))["threshold"] == 0.5
    card = (result.bundle / "report.md").read_text(encoding="utf-8")
    assert "Decision threshold: 0.50 (given in the training settings)." in card


def test_calibration_changes_the_probabilities_but_no_decision(tracked, seed_html):
    import copy

    import chromesift
    from chromesift.data.page import to_columns
    from chromesift.runtime.core import Page, page_record

    _, result = tracked
    model = chromesift.load_model(result.bundle)
    a, b = model.pipeline[-1].calibration_
    raw = chromesift.Model(copy.deepcopy(model.pipeline), model.metadata)  # predicts from this pipeline
    raw.pipeline[-1].calibration_ = None  # the same boosters without the map
    for fmt, doc in (("html", seed_html), ("text", "\n".join(to_columns(seed_html)["text"]))):
        cal_frame, raw_frame = model.classify(doc, format=fmt), raw.classify(doc, format=fmt)
        assert cal_frame["is_content"].tolist() == raw_frame["is_content"].tolist()
        assert model.extract(doc, format=fmt) == raw.extract(doc, format=fmt)
        s = raw_frame["probability"].to_numpy()
        np.testing.assert_array_equal(model.predict_columns([to_columns(doc, format=fmt)])[0], s)
        expected = 1 / (1 + np.exp(-(a * np.log(s / (1 - s)) + b)))
        np.testing.assert_allclose(cal_frame["probability"].to_numpy(), expected, rtol=1e-9)
        assert not np.allclose(cal_frame["probability"], s)
        # the batch records report the same calibrated probabilities
        rec = page_record(model, Page(id="p", document=doc, format=fmt))
        assert [p["probability"] for p in rec["paragraphs"]] == [round(float(p), 4) for p in expected]
        assert [p["is_content"] for p in rec["paragraphs"]] == cal_frame["is_content"].tolist()


def test_calibration_of_out_of_fold_probabilities():
    from chromesift.train.run import calibration

    # bin 0.1-0.2: predicted 0.15, observed 1 of 4; bin 0.9-1.0: predicted 0.95, observed 4 of 4
    oof = pd.DataFrame({"label": [0, 0, 0, 1, 1, 1, 1, 1],
                        "probability": [0.15, 0.15, 0.15, 0.15, 0.95, 0.95, 0.95, 0.95]})
    cal = calibration(oof)
    assert cal["reliability"]["count"][1] == 4 and cal["reliability"]["count"][9] == 4
    assert cal["worst_gap"] == pytest.approx(0.10)
    # the calibrated probabilities are the ones measured when the folds give them
    moved = calibration(oof.assign(calibrated=[0.25] * 4 + [0.95] * 4))
    assert moved["reliability"]["count"][2] == 4 and moved["worst_gap"] == pytest.approx(0.05)
    assert cal["ece"] == pytest.approx((4 * 0.10 + 4 * 0.05) / 8)
    assert cal["brier"] == pytest.approx((3 * 0.15**2 + 0.85**2 + 4 * 0.05**2) / 8)
    assert np.isnan(calibration(oof.iloc[:0])["worst_gap"])


def test_logged_model_loads_and_predicts(tracked, seed_html):
    import mlflow.sklearn

    from chromesift.data.page import to_table

    _, result = tracked
    model = mlflow.sklearn.load_model(f"runs:/{result.run_id}/model")
    table = to_table(seed_html)
    pred = model.predict(table)
    assert pred.shape == (len(table),)
    assert set(np.unique(pred)) <= {0, 1}


def test_bundle_loads_and_matches_pipeline(tracked, seed_html):
    import chromesift

    cfg, result = tracked
    model = chromesift.load_model(result.bundle)
    assert model.threshold == pytest.approx(result.threshold)
    assert model.metadata["mlflow_run_id"] == result.run_id
    assert model.metadata["data"]["licenses"]["readability"] == "Apache-2.0"
    res = model.classify(seed_html)
    assert len(res) > 10 and res["probability"].between(0, 1).all()
    assert (result.bundle / "report.md").read_text().startswith("# chromesift model")


def test_training_is_reproducible(tiny_tables, seed_html):
    from chromesift.data.page import to_table
    from chromesift.train import core

    cfg = load_config(tables=tiny_tables, max_iter=10, stack_folds=2, max_rows=3000, cv_folds=0, mlflow=False)
    table = load_tables(tiny_tables)
    rows = core.prepare(table, cfg)
    a = core.fit(rows, cfg).predict_proba(to_table(seed_html))
    b = core.fit(core.prepare(table, cfg), cfg).predict_proba(to_table(seed_html))
    np.testing.assert_array_equal(a, b)
    other = core.fit(core.prepare(table, replace(cfg, random_state=1)), replace(cfg, random_state=1))
    assert other.predict_proba(to_table(seed_html)).shape == a.shape


def test_failed_run_is_marked_failed(tiny_tables, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("CHROMESIFT_ARTIFACTS", str(tmp_path / "artifacts"))
    table = load_tables(tiny_tables)
    one_class = tmp_path / "one"
    one_class.mkdir()
    table.assign(label=0.0).to_parquet(one_class / "x.parquet")
    cfg = load_config(tables=one_class, out_dir=tmp_path / "m", cv_folds=0, max_iter=5, experiment="fail")
    with pytest.raises(ValueError, match="both classes"):
        run_training(cfg, progress=False)
    runs = mlflow.search_runs(experiment_names=["fail"], output_format="list")
    assert runs and runs[0].info.status == "FAILED"
    assert "both classes" in runs[0].data.tags["error"]
    assert not (tmp_path / "m" / "chromesift").exists()


def test_config_errors_are_clear(tmp_path):
    from chromesift.errors import UserError

    bad = tmp_path / "c.toml"
    bad.write_text("[train]\nmax_iterz = 3\n")
    with pytest.raises(UserError, match="unknown config key.*max_iterz"):
        load_config(bad)
    bad.write_text("[train\n")
    with pytest.raises(UserError, match="invalid TOML"):
        load_config(bad)
    good = tmp_path / "g.toml"
    good.write_text('[train]\nmax_iter = 7\nname = "x"\n')
    cfg = load_config(good, max_iter=9)
    assert (cfg.max_iter, cfg.name) == (9, "x")
    # the lexicon's options: a user's out-of-range value is a clear error, not a crash in training
    for key, value, message in (("lexicon_bits", 30, "lexicon_bits must be 0 .off. or between 8 and 24"),
                                ("lexicon_alpha", 0.0, "lexicon_alpha must be positive"),
                                ("lexicon_tags", -1, "lexicon_tags must be between 0 and 32"),
                                ("lexicon_tags", 33, "lexicon_tags must be between 0 and 32")):
        with pytest.raises(UserError, match=message):
            load_config(**{key: value})
    assert load_config(lexicon_tags=0).lexicon_tags == 0
    for key in ("max_iter", "stage2_max_iter"):
        with pytest.raises(UserError, match="max_iter and stage2_max_iter must be at least 1"):
            load_config(**{key: 0})
    for key in ("neighbours", "hash_buckets"):
        with pytest.raises(UserError, match="neighbours and hash_buckets must be 0 or more"):
            load_config(**{key: -1})
        assert getattr(load_config(**{key: 0}), key) == 0


def test_the_context_stage_takes_its_own_number_of_trees(tiny_tables):
    """``stage2_max_iter`` cuts the context stage only; its trees are the first ones of the stage
    a longer run fits (boosting adds trees one after another), which is what lets the held-out
    trial of docs/findings.md read a shorter context stage off a longer one."""
    from chromesift.train import core

    cfg = load_config(tables=tiny_tables, max_iter=10, stack_folds=2, max_rows=3000, cv_folds=0, mlflow=False)
    rows = core.prepare(load_tables(tiny_tables), cfg)
    full = core.fit(rows, replace(cfg, stage2_max_iter=None))[-1]  # (None: max_iter's 10)
    short = core.fit(rows, replace(cfg, stage2_max_iter=4))[-1]
    assert (len(short.stage1_._predictors), len(short.stage2_._predictors)) == (10, 4)
    assert len(full.stage2_._predictors) == 10
    for a, b in zip(short.stage1_._predictors, full.stage1_._predictors, strict=True):
        np.testing.assert_array_equal(a[0].nodes, b[0].nodes)
    for a, b in zip(short.stage2_._predictors, full.stage2_._predictors[:4], strict=True):
        np.testing.assert_array_equal(a[0].nodes, b[0].nodes)


def test_text_mode_copies_have_no_structure(tiny_tables):
    from chromesift.train import core

    cfg = load_config(tables=tiny_tables, text_copies=1.0, max_rows=10**7, page_weight=0.0)
    table = load_tables(tiny_tables)
    rows = core.prepare(table, cfg)
    text = rows[rows["source"] == "text"]
    # a joined run of links is a line per link again in the text copy
    extra = sum(r.count("\n") for r in table["lines"] if isinstance(r, str))
    assert extra > 0
    assert len(text) == (rows["source"] == "html").sum() + extra
    assert (text["tag"] == "").all() and (text["anc1"] == -1).all()
    assert "lines" not in rows.columns
    assert isinstance(rows, pd.DataFrame) and rows["sample_weight"].isin([0.0, 1.0]).all()


def test_a_text_copy_is_the_pages_plain_text(seed_html):
    from chromesift.data.html import parse_html, text_lines
    from chromesift.train import core

    frame = parse_html(seed_html, doc_id="seed", lines=True)
    frame["label"] = np.linspace(0, 1, len(frame))
    frame["weight"] = 1.0
    copy = core.as_text_mode(frame)
    assert copy["text"].tolist() == text_lines(seed_html)
    assert copy["position"].tolist() == list(range(len(copy)))
    menu = frame.index[frame["text"] == "News Forschung Jobs Newsletter"][0]
    assert (copy.loc[copy["text"].isin(["News", "Forschung", "Jobs", "Newsletter"]), "label"] == frame["label"][menu]).all()
    assert "News" in text_lines(seed_html) and "News Forschung Jobs Newsletter" not in text_lines(seed_html)


def test_page_weight_counts_pages_not_paragraphs(tiny_tables):
    from chromesift.train import core

    table = load_tables(tiny_tables)
    flat = core.prepare(table, load_config(tables=tiny_tables, max_rows=10**7, text_copies=0.0, page_weight=0.0))
    pages = core.prepare(table, load_config(tables=tiny_tables, max_rows=10**7, text_copies=0.0, page_weight=1.0))
    used = flat["sample_weight"].to_numpy() > 0
    assert ((pages["sample_weight"].to_numpy() > 0) == used).all()
    # full page weighting: every page's used paragraphs weigh the same in total,
    # and the weights keep their mean of 1 over the used paragraphs
    per_page = pages[used].groupby("doc_id")["sample_weight"].sum()
    np.testing.assert_allclose(per_page.to_numpy(), per_page.iloc[0])
    assert pages["sample_weight"][used].mean() == pytest.approx(1.0)
    # half way: long pages still weigh more than short ones, each paragraph less
    half = core.prepare(table, load_config(tables=tiny_tables, max_rows=10**7, text_copies=0.0, page_weight=0.5))
    n = flat[used].groupby("doc_id").size()
    w = half[used].groupby("doc_id")["sample_weight"].agg(["sum", "first"])
    longest, shortest = n.idxmax(), n.idxmin()
    assert n[longest] > n[shortest]
    assert w.loc[longest, "sum"] > w.loc[shortest, "sum"] and w.loc[longest, "first"] < w.loc[shortest, "first"]
    with pytest.raises(UserError, match="page_weight"):
        load_config(page_weight=1.5)


def test_site_weight_counts_sites_and_keeps_each_corpus_weight(tiny_tables):
    from chromesift.train import core

    table = load_tables(tiny_tables)
    opts = dict(tables=tiny_tables, max_rows=10**7, text_copies=0.0, dataset_balance=0.0)
    flat = core.prepare(table, load_config(**opts, site_weight=0.0))
    sites = core.prepare(table, load_config(**opts, site_weight=1.0))
    used = flat["sample_weight"].to_numpy() > 0
    assert ((sites["sample_weight"].to_numpy() > 0) == used).all()
    # each corpus weighs what it weighed; within it, every site weighs the same
    np.testing.assert_allclose(sites.groupby("dataset")["sample_weight"].sum(),
                               flat.groupby("dataset")["sample_weight"].sum())
    per_site = sites[used].groupby(["dataset", "site"])["sample_weight"].sum()
    n = flat[used].groupby(["dataset", "site"]).size()
    assert n.groupby(level=0).nunique().max() > 1  # (sites of different sizes: the test can fail)
    for _, group in per_site.groupby(level=0):
        np.testing.assert_allclose(group.to_numpy(), group.iloc[0])
    # half way: a large site still weighs more than a small one of its corpus, each paragraph less
    half = core.prepare(table, load_config(**opts, site_weight=0.5))
    w = half[used].groupby(["dataset", "site"])["sample_weight"].agg(["sum", "first"])
    corpus = n.groupby(level=0).nunique().idxmax()
    big, small = n[corpus].idxmax(), n[corpus].idxmin()
    assert w.loc[(corpus, big), "sum"] > w.loc[(corpus, small), "sum"]
    assert w.loc[(corpus, big), "first"] < w.loc[(corpus, small), "first"]
    with pytest.raises(UserError, match="site_weight"):
        load_config(site_weight=-0.1)


def test_attr_dropout_blanks_class_and_id_of_whole_pages(tiny_tables):
    from chromesift.train import core

    table = load_tables(tiny_tables)
    opts = dict(tables=tiny_tables, max_rows=10**7, text_copies=0.0)
    kept = core.prepare(table, load_config(**opts, attr_dropout=0.0))
    dropped = core.prepare(table, load_config(**opts, attr_dropout=0.5))
    assert len(kept) == len(dropped)
    assert kept["text"].tolist() == dropped["text"].tolist()
    had = (kept["own_attrs"] != "") | (kept["anc_attrs"] != "")
    lost = had & (dropped["own_attrs"] == "") & (dropped["anc_attrs"] == "")
    changed = kept[["own_attrs", "anc_attrs"]].ne(dropped[["own_attrs", "anc_attrs"]]).any(axis=1)
    assert (changed == lost).all()  # a row keeps its tokens or loses both
    # whole pages: a page's rows all lose them or none does
    per_page = dropped.assign(blank=(dropped["own_attrs"] == "") & (dropped["anc_attrs"] == ""))[had]
    mixed = per_page.groupby("doc_id")["blank"].nunique()
    assert (mixed == 1).all()
    share = per_page.groupby("doc_id")["blank"].first().mean()
    assert 0.2 < share < 0.8
    with pytest.raises(UserError, match="attr_dropout"):
        load_config(attr_dropout=2.0)


def test_dataset_quotas_share_rows_by_power_and_pass_on_what_a_small_corpus_lacks():
    from chromesift.train.core import dataset_quotas

    sizes = np.array([900, 100, 4000])
    # power 1: in proportion to the sizes; power 0: the same from each
    np.testing.assert_array_equal(dataset_quotas(sizes, 500, 1.0), [90, 10, 400])
    np.testing.assert_array_equal(dataset_quotas(sizes, 300, 0.0), [100, 100, 100])
    # the corpus of 100 cannot give its equal third of 900: the others share what it lacks
    np.testing.assert_array_equal(dataset_quotas(sizes, 900, 0.0), [400, 100, 400])
    half = dataset_quotas(sizes, 500, 0.5)
    assert half.sum() >= 498 and half[1] > 10 and half[2] < 400
    assert half[0] / half[1] == pytest.approx(3, rel=0.02)  # sqrt(900 / 100)
    # asking for more than there is takes every row; an empty corpus gives none
    np.testing.assert_array_equal(dataset_quotas(sizes, 10**6, 0.5), sizes)
    np.testing.assert_array_equal(dataset_quotas([0, 50], 20, 0.5), [0, 20])


def _undrawn(tiny_tables):
    """The tiny tables, the base options, their rows without a draw per corpus, which of those
    are learned from, and how many of those each corpus has."""
    from chromesift.train import core

    table = load_tables(tiny_tables)
    base = dict(tables=tiny_tables, max_rows=10**7, text_copies=0.0)
    flat = core.prepare(table, load_config(**base, dataset_balance=0.0))
    used = flat["sample_weight"].to_numpy() > 0
    return table, base, flat, used, flat[used].groupby("dataset").size()


def test_dataset_balance_draws_the_learned_rows_per_corpus(tiny_tables):
    from chromesift.train import core

    table, base, flat, used, per_ds = _undrawn(tiny_tables)
    small = int(per_ds.min())
    total = 2 * small
    even = core.prepare(table, load_config(**base, max_fit_rows=total, dataset_balance=1.0))
    w = even["sample_weight"].to_numpy()
    assert set(np.unique(w)) == {0.0, 1.0}
    # only labeled rows are drawn, and exactly ``max_fit_rows`` of them, as many per corpus
    assert not (w[~used] > 0).any() and (w > 0).sum() == total
    np.testing.assert_array_equal(even[w > 0].groupby("dataset").size().to_numpy(), [small, small])
    # the other rows stay in the table as context for the neighbour features
    assert len(even) == len(flat)
    # the same seed draws the same rows
    again = core.prepare(table, load_config(**base, max_fit_rows=total, dataset_balance=1.0))
    np.testing.assert_array_equal(again["sample_weight"].to_numpy(), w)
    with pytest.raises(UserError, match="dataset_balance"):
        load_config(dataset_balance=-0.1)


def test_calibration_weight_counts_each_corpus_by_all_its_rows(tiny_tables):
    from chromesift.train import core

    table, base, flat, _, per_ds = _undrawn(tiny_tables)
    total = 2 * int(per_ds.min())
    rows = core.prepare(table, load_config(**base, max_fit_rows=total, dataset_balance=1.0,
                                           calibration_mix="corpora"))
    w, cal = rows["sample_weight"].to_numpy(), rows["calibration_weight"].to_numpy()
    # the map is fitted on the same drawn rows, each corpus weighing as much as all its
    # labeled rows: the drawn rows of a corpus sum to its size
    assert ((cal > 0) == (w > 0)).all()
    np.testing.assert_allclose(rows.groupby("dataset")["calibration_weight"].sum().to_numpy(),
                               per_ds.sort_index().to_numpy())
    assert per_ds.max() > per_ds.min() and len(np.unique(cal[cal > 0])) == 2
    # "training" fits the map on the rows as the boosters weigh them, and so does "corpora"
    # (the default) without a draw: no separate calibration weights then
    training = core.prepare(table, load_config(**base, max_fit_rows=total, dataset_balance=1.0,
                                               calibration_mix="training"))
    np.testing.assert_array_equal(training["sample_weight"].to_numpy(), w)
    flat_corpora = core.prepare(table, load_config(**base, dataset_balance=0.0, calibration_mix="corpora"))
    assert "calibration_weight" not in training.columns and "calibration_weight" not in flat_corpora.columns
    with pytest.raises(UserError, match="calibration_mix"):
        load_config(calibration_mix="pooled")
    with pytest.raises(UserError, match="calibration_refit must be one of stage2, both, mixed"):
        load_config(calibration_refit="all")


def test_headline_is_context_not_a_label(tiny_tables):
    from chromesift.models.rules import headline_index
    from chromesift.train import core

    table = load_tables(tiny_tables)
    base = dict(tables=tiny_tables, max_rows=10**7, text_copies=1.0, dataset_balance=0.0)
    rows = core.prepare(table, load_config(**base))
    learned = core.prepare(table, load_config(**base, learn_headline=True))
    heads = core.headline_rows(rows)
    # the vectorised headline is api.headline_index of each page: HTML pages only
    expected = np.zeros(len(rows), dtype=bool)
    for _, page in rows.groupby("doc_id", sort=False):
        cols = {k: page[k].tolist() for k in ("text", "tag", "page_h1", "page_title")}
        at = headline_index(cols)
        if at is not None:
            expected[page.index[at]] = True
    np.testing.assert_array_equal(heads, expected)
    assert heads.sum() > 10 and (rows.loc[heads, "source"] == "html").all()
    # by default the headline weighs nothing (it stays as context); everything else is unchanged
    w, w_learned = rows["sample_weight"].to_numpy(), learned["sample_weight"].to_numpy()
    assert (w[heads] == 0).all() and (w_learned[heads] > 0).any()
    np.testing.assert_array_equal(w[~heads], w_learned[~heads])
    assert len(rows) == len(learned)


def test_precomputed_features_give_the_same_pipeline(tiny_tables, seed_html):
    from chromesift.data.page import to_table
    from chromesift.train import core

    cfg = load_config(tables=tiny_tables, max_iter=8, stack_folds=2, max_rows=3000, cv_folds=0, mlflow=False)
    rows = core.prepare(load_tables(tiny_tables), cfg)
    plain = core.fit(rows, cfg)
    feats = core.make_pipeline(cfg)[0].fit_transform(rows)
    cached = core.fit(rows, cfg, features=feats)
    page = to_table(seed_html)
    np.testing.assert_array_equal(plain.predict_proba(page), cached.predict_proba(page))


def test_params_carry_no_machine_paths(tmp_path, monkeypatch):
    from chromesift.train.config import TrainConfig

    monkeypatch.chdir(tmp_path)
    inside = TrainConfig(out_dir=tmp_path / "models" / "x", tables=Path("data") / "paragraphs").params()
    assert inside["out_dir"] == str(Path("models") / "x") and inside["tables"] == str(Path("data") / "paragraphs")
    outside = TrainConfig(out_dir=tmp_path.parent / "elsewhere").params()["out_dir"]
    assert outside == "(outside the working directory)/elsewhere" and str(tmp_path.parent) not in outside


def test_run_lineage_tags_inputs_and_registered_version(tracked):
    import mlflow

    from chromesift.tracking import (
        TAG_BUNDLE_SHA256,
        TAG_DATASETS,
        TAG_SHA256_INPUT,
        TAG_STAGE,
        tracking_uri,
    )

    _, result = tracked
    meta = json.loads((result.bundle / "metadata.json").read_text(encoding="utf-8"))
    client = mlflow.MlflowClient(tracking_uri())  # the fixture's store (other tests move mlflow's global one)
    run = client.get_run(result.run_id)
    assert run.data.tags[TAG_STAGE] == "train"
    assert run.data.tags[TAG_BUNDLE_SHA256] == meta["sha256"]
    assert run.data.tags[TAG_DATASETS] == "cleanportaleval,readability"
    # what the model learned from: the tables' datasets, each corpus file an input with its sha256
    assert meta["data"]["datasets"] == ["cleanportaleval", "readability"]
    assert set(meta["data"]["sha256"]) == {"cleanportaleval", "readability"}
    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"cleanportaleval", "readability"}
    for name, item in inputs.items():
        tags = {t.key: t.value for t in item.tags}
        assert tags["mlflow.data.context"] == "training"
        assert tags[TAG_SHA256_INPUT] == meta["data"]["sha256"][name]
        assert item.dataset.digest == meta["data"]["sha256"][name][:36]
        assert json.loads(item.dataset.source) == {"uri": f"{name}.jsonl.xz"}
    # params are plain text: no tuple repr for "every dataset"
    assert run.data.params["datasets"] == "" and run.data.params["threshold"] == ""
    # the registered version: this run's model, tagged with the bundle's sha256
    assert result.model_version == f"models:/{REGISTERED}/1"
    version = client.get_model_version(REGISTERED, "1")
    assert version.run_id == result.run_id
    assert version.tags[TAG_BUNDLE_SHA256] == meta["sha256"]


def test_registered_version_resolves_to_a_loadable_bundle(tracked, tmp_path, seed_html):
    import mlflow

    import chromesift
    from chromesift.errors import BundleError
    from chromesift.tracking import TAG_BUNDLE_SHA256, resolve_model_uri, tracking_uri

    _, result = tracked
    folder = resolve_model_uri(result.model_version, tmp_path / "dl")
    assert folder.is_relative_to(tmp_path / "dl")
    assert (folder / "metadata.json").read_bytes() == (result.bundle / "metadata.json").read_bytes()
    assert (folder / "model.joblib").read_bytes() == (result.bundle / "model.joblib").read_bytes()
    # loaded as any bundle: verified, and trusted because this machine wrote the model
    model = chromesift.load_model(folder)
    assert model.metadata["mlflow_run_id"] == result.run_id
    assert model.extract(seed_html) == chromesift.load_model(result.bundle).extract(seed_html)
    # an alias names the same version
    client = mlflow.MlflowClient(tracking_uri())
    client.set_registered_model_alias(REGISTERED, "shipped", "1")
    assert (resolve_model_uri(f"models:/{REGISTERED}@shipped", tmp_path / "alias") / "metadata.json").is_file()
    # a version whose files are not the bundle it was registered with is refused
    files = client.get_model_version_download_uri(REGISTERED, "1")
    other = client.create_model_version(REGISTERED, files, run_id=result.run_id, tags={TAG_BUNDLE_SHA256: "0" * 64})
    with pytest.raises(BundleError, match="not the registered bundle"):
        resolve_model_uri(f"models:/{REGISTERED}/{other.version}", tmp_path / "bad")
    with pytest.raises(UserError, match="not in the model registry"):
        resolve_model_uri(f"models:/{REGISTERED}/99")
    with pytest.raises(UserError, match="is not a registered model version"):
        resolve_model_uri(str(result.bundle))


def test_train_command_registers_quietly(tiny_tables, tmp_path, monkeypatch, capfd):
    """``chromesift train --register NAME --no-progress``: a version in the registry, and no
    MLflow progress bar or integer-schema warning on the way."""
    import warnings

    import mlflow

    from chromesift.cli import main as cli_main
    from chromesift.tracking import TAG_BUNDLE_SHA256, resolve_model_uri

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("CHROMESIFT_ARTIFACTS", str(tmp_path / "artifacts"))
    args = ["train", "--tables", str(tiny_tables), "--out-dir", str(tmp_path / "models"), "--name", "quick",
            "--cv-folds", "0", "--max-iter", "8", "--max-rows", "3000", "--no-skops", "--no-progress"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = cli_main([*args, "--register", "quick-model"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "registered: models:/quick-model/1" in out
    assert not [w for w in caught if "integer column" in str(w.message).lower()]
    assert "Downloading artifacts" not in err and "Uploading artifacts" not in err and "it/s]" not in err
    meta = json.loads((tmp_path / "models" / "quick" / "metadata.json").read_text(encoding="utf-8"))
    version = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_model_version("quick-model", "1")
    assert version.tags[TAG_BUNDLE_SHA256] == meta["sha256"]
    folder = resolve_model_uri("models:/quick-model/1", tmp_path / "dl")
    assert json.loads((folder / "metadata.json").read_text(encoding="utf-8"))["sha256"] == meta["sha256"]
    # refused before any work: no tracking, or a name a models:/ URI cannot hold
    assert cli_main([*args, "--no-mlflow", "--register", "x"]) == 2
    assert "needs the run's logged model" in capfd.readouterr().err
    assert cli_main([*args, "--register", "a/b"]) == 2
    assert "cannot register a model as 'a/b'" in capfd.readouterr().err


def test_train_help_explains_every_option_and_ends_with_examples(capsys):
    from chromesift.cli import build_parser

    parser = build_parser("train")
    sub = next(a for a in parser._actions if a.dest == "command").choices["train"]
    undocumented = [a.option_strings for a in sub._actions if a.option_strings and not a.help]
    assert undocumented == []
    text = sub.format_help()
    assert text.rstrip().splitlines()[-1].strip().startswith("another store")
    assert "examples:" in text and "chromesift train --register" in text


def test_a_corpus_of_one_site_trains_both_stages_over_its_pages(tiny_tables, seed_html):
    """One site (a user's own small corpus, or a fold of grouped CV) used to crash in GroupKFold."""
    from chromesift.data.page import to_table
    from chromesift.train import core

    table = load_tables(tiny_tables)
    site = table.groupby("site")["doc_id"].nunique().idxmax()
    one = table[table["site"] == site]
    assert one["doc_id"].nunique() >= 2 and one["site"].nunique() == 1
    cfg = load_config(tables=tiny_tables, max_iter=5, stack_folds=2, cv_folds=0, mlflow=False)
    proba = core.fit(core.prepare(one, cfg), cfg).predict_proba(to_table(seed_html))
    assert proba.shape[1] == 2 and np.isfinite(proba).all()


def test_label_conventions_are_a_feature_set_per_corpus_and_fixed_for_prediction(tiny_tables, seed_html):
    from chromesift.data.page import to_table
    from chromesift.train import core

    table = load_tables(tiny_tables)
    conv = {"cleanportaleval": 2, "readability": 0}
    cfg = load_config(tables=tiny_tables, max_iter=5, stack_folds=2, cv_folds=0, mlflow=False,
                      conventions=conv, convention=0.5)
    rows = core.prepare(table, cfg)
    pipe = core.fit(rows, cfg)
    features = pipe[0]
    assert "k_convention" in features.get_feature_names_out()
    assert features.text_convention == 3.0  # the default; first the rows as they are without it
    features.set_params(text_convention=None)
    train_values = features.transform(rows)["k_convention"]
    assert set(train_values.unique()) == {2.0, 0.0}
    assert (train_values.to_numpy() == rows["dataset"].map(conv).to_numpy()).all()
    page = to_table(seed_html)
    assert set(features.transform(page)["k_convention"]) == {0.5}  # a page to predict: the fixed one
    assert pipe.predict_proba(page).shape == (len(page), 2)
    # with text_convention, plain text is a convention of its own: every plain-text row has
    # that number, a labeled one too; HTML rows are as before
    text_page = to_table("\n".join(page["text"]), format="text")
    assert set(features.transform(text_page)["k_convention"]) == {0.5}
    features.set_params(text_convention=3.0)
    assert set(features.transform(text_page)["k_convention"]) == {3.0}
    assert set(features.transform(page)["k_convention"]) == {0.5}
    both = pd.concat([page, text_page.assign(doc_id="t")], ignore_index=True)
    assert features.transform(both)["k_convention"].tolist() == [0.5] * len(page) + [3.0] * len(text_page)
    is_text = (rows["source"] == "text").to_numpy()
    assert is_text.any() and (~is_text).any()
    expected = np.where(is_text, 3.0, rows["dataset"].map(conv).to_numpy())
    assert (features.transform(rows)["k_convention"].to_numpy() == expected).all()
    cfg_text = load_config(tables=tiny_tables, conventions=conv, text_convention=3.0)
    assert core.make_pipeline(cfg_text).named_steps["features"].text_convention == 3.0
    # without conventions the feature is not there at all (bundles keep their columns)
    plain = core.make_pipeline(load_config(tables=tiny_tables, conventions={})).named_steps["features"].fit(page)
    assert "k_convention" not in plain.get_feature_names_out()
    # the default: every shared corpus has its convention, plain text one of its own
    default = core.make_pipeline(load_config(tables=tiny_tables)).named_steps["features"]
    assert default.conventions["fundus"] == 0 and default.conventions["wcxb"] == 2
    assert default.text_convention == 3.0


def test_features_computed_in_fit_give_the_model_of_features_given(tiny_tables, seed_html):
    """fit computes the features with x_lex's column in place and writes the out-of-fold x_lex into it;
    given features without x_lex (as grouped CV caches them), the column is inserted: the same
    model either way, and the classifier reads the one-block frame without a copy."""
    from chromesift.data.page import to_table
    from chromesift.models import classifier as clf_mod
    from chromesift.train import core

    cfg = load_config(tables=tiny_tables, max_iter=10, stack_folds=2, max_rows=3000, cv_folds=0, mlflow=False)
    rows = core.prepare(load_tables(tiny_tables), cfg)
    given = core.make_pipeline(cfg).steps[0][1].fit(rows).transform(rows)
    assert "x_lex" not in given.columns
    a = core.fit(rows, cfg)
    b = core.fit(rows, cfg, features=given)
    page = to_table(seed_html)
    np.testing.assert_array_equal(a.predict_proba(page), b.predict_proba(page))
    frame = a.steps[0][1].transform(rows)
    matrix = frame.to_numpy()
    frame.loc[:, "x_lex"] = np.zeros(len(rows))  # as fit writes the out-of-fold scores
    F = clf_mod._columns(frame, a.steps[-1][1].model_idx_)
    assert np.shares_memory(F, matrix) and F.shape == (len(rows), len(a.steps[-1][1].model_idx_))
    assert (F[:, list(frame.columns).index("x_lex")] == 0).all()


def test_a_frame_with_the_lexicon_slot_gets_the_scores_written_in_place(tiny_tables, seed_html):
    """Grouped CV computes the features once with x_lex in its place (NaN) and each fit
    writes its scores into its own slice: the same models and out-of-fold probabilities as
    with features that lack the column, which get it inserted in a copy."""
    from chromesift.data.page import to_table
    from chromesift.train import core

    cfg = load_config(tables=tiny_tables, max_iter=10, stack_folds=2, max_rows=3000, cv_folds=2, mlflow=False)
    rows = core.prepare(load_tables(tiny_tables), cfg)
    plain = core.make_pipeline(cfg).steps[0][1].fit(rows).transform(rows)
    slot = core.features_with_lexicon_slot(rows, cfg)
    names = list(core.fit(rows, cfg).steps[0][1].get_feature_names_out())
    assert list(slot.columns) == names and slot["x_lex"].isna().all()
    pd.testing.assert_frame_equal(slot.drop(columns=["x_lex"]), plain)

    page = to_table(seed_html)
    expected = core.fit(rows, cfg).predict_proba(page)
    kept = slot.copy()
    np.testing.assert_array_equal(core.fit(rows, cfg, features=kept).predict_proba(page), expected)
    assert kept["x_lex"].isna().all()  # not the call's to change
    np.testing.assert_array_equal(core.fit(rows, cfg, features=slot, own_features=True).predict_proba(page), expected)
    assert np.isfinite(slot["x_lex"]).all()  # written into the frame given

    a = core.grouped_cv(rows, cfg)
    # the frame kept for the final fit has x_lex's column: a fit without the lexicon does not
    # take it (and the look drops it from the cache)
    assert core._take_cached(rows, replace(cfg, lexicon_bits=0)) is None and not core._FEATURES
    b = core.grouped_cv(rows, cfg, features=plain)
    assert len(a) > 0 and a["fold"].nunique() == 2
    pd.testing.assert_frame_equal(a, b)
