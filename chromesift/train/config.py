"""Training configuration: a frozen dataclass, read from TOML, overridden by CLI flags."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from chromesift.errors import UserError

#: Datasets with human full-text ground truth (the quality bar is measured on these).
HUMAN_FULLTEXT = (
    "cleaneval", "cleanportaleval", "dragnet", "l3s-gn1", "msv-big9-chaos",
    "xmu-cn-finance-news", "cn-wce-immortal", "wcxb",
)


#: the label convention of each shared corpus, from what its README says it labels: 0 the
#: article body alone (fundus: no title, captions, bylines or dates; andy-article-extraction:
#: the page's articleBody; readability and newspaper3k-fixtures: another extractor's
#: article text), 1 news pages labeled by hand with their headline or stamps (dragnet, l3s-gn1,
#: msv-big9-chaos, daniel-waddle, xmu-cn-finance-news, cn-wce-immortal, trafilatura-eval's
#: snippets), 2 all main content whatever the page (cleaneval, cleanportaleval, wcxb). A corpus
#: not named here (your own pages) counts as `convention`
CONVENTIONS = {
    "fundus": 0, "andy-article-extraction": 0, "readability": 0, "newspaper3k-fixtures": 0,
    "dragnet": 1, "l3s-gn1": 1, "msv-big9-chaos": 1, "daniel-waddle": 1, "xmu-cn-finance-news": 1,
    "cn-wce-immortal": 1, "trafilatura-eval": 1,
    "cleaneval": 2, "cleanportaleval": 2, "wcxb": 2,
}

@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; logged as the run's params.

    What the defaults scored held out, and what was tried instead, is in
    ``docs/findings.md`` ("Training settings: what was tried held out").
    """

    name: str = "chromesift"
    tables: Path = Path("data") / "paragraphs"
    datasets: tuple[str, ...] = ()  # empty: every built table
    out_dir: Path = Path("models")
    # features
    neighbours: int = 2
    hash_buckets: int = 8
    # classifier
    max_iter: int = 120
    # trees of the context stage (None: max_iter)
    stage2_max_iter: int | None = 60
    learning_rate: float = 0.15
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    second_stage: bool = True
    stack_folds: int = 2
    # Platt scaling of the reported probabilities, fitted on out-of-fold stage-2 predictions
    # whose folds are whole datasets; the decisions stay on the uncalibrated scores, so
    # calibrating changes no extracted text
    calibrate: bool = True
    calibration_folds: int = 4
    # what the calibration map is fitted to: "corpora" (each corpus by all its labeled
    # paragraphs) or "training" (the rows weighed as the boosters weigh them)
    calibration_mix: str = "corpora"
    # what each calibration fold fits again without its held-out corpora: "stage2", "both"
    # (one more fit per fold) or "mixed" (the map weighs both kinds of prediction half each)
    calibration_refit: str = "mixed"
    # data
    text_copies: float = 0.5  # share of pages also trained on as plain text
    max_rows: int = 2_000_000  # paragraphs in the training table (whole pages are sampled)
    max_fit_rows: int = 300_000  # labeled paragraphs each booster is fitted on (random rows)
    min_label_weight: float = 0.4  # paragraphs whose label confidence is lower are left out
    length_weight: bool = False  # weight paragraphs by log length (slower: weighted binning)
    # each paragraph weighs n ** -page_weight, n = labeled paragraphs of its page: 0 weighs
    # paragraphs alike, 1 pages alike
    page_weight: float = 0.0
    # each paragraph weighs m ** -site_weight, m = labeled paragraphs of its site, scaled so
    # that each dataset keeps its weight: 0 weighs sites by their paragraphs, 1 sites alike
    site_weight: float = 0.0
    # share of the HTML pages learned from whose class/id tokens are blanked (a site with
    # generated or no class names), the rest of their structure kept
    attr_dropout: float = 0.0
    # learn whether the page's headline (chromesift.models.rules.headline_index) is content;
    # False leaves it as context only (extract never keeps it)
    learn_headline: bool = False
    # how the max_fit_rows rows each booster learns from are drawn: 0 uniformly over all rows,
    # b > 0 per dataset in proportion to its labeled rows ** (1 - b), 1 as many per corpus
    dataset_balance: float = 0.5
    # label conventions (docs/findings.md): corpus -> a number the model sees as the feature
    # k_convention (how much beyond the article body the corpus labels as content); pages to
    # predict are read with `convention`; `text_convention`, set, is the number of every
    # plain-text row instead (plain text a convention of its own). Empty: no such feature
    conventions: dict = field(default_factory=lambda: dict(CONVENTIONS), hash=False)
    convention: float = 0.0
    text_convention: float | None = 3.0
    # the lexicon (chromesift.features.lexicon): a linear score of each paragraph's hashed
    # words, word pairs, class/id tokens and the last lexicon_tags tag names of its DOM path,
    # 2 ** lexicon_bits weights, fitted out of fold by site and given to the boosters as the
    # feature x_lex; lexicon_bits 0 leaves it out
    lexicon_bits: int = 18
    lexicon_alpha: float = 2e-6
    lexicon_tags: int = 7
    # evaluation
    cv_folds: int = 3  # grouped by site; 0 skips cross-validation
    threshold: float | None = None  # None: tuned on cross-validated predictions
    random_state: int = 0
    # tracking
    experiment: str = "chromesift-train"
    mlflow: bool = True
    log_model: bool = True
    extra: dict = field(default_factory=dict, hash=False)

    def params(self) -> dict[str, str]:
        """Flat string params for MLflow and the bundle metadata (:func:`chromesift.tracking.param_value`).

        Paths are written relative to the working directory; a path outside it is
        written as its last component only, so no machine path leaves the machine.
        ``datasets`` is comma-separated (empty: every built table), an unset
        ``threshold`` is empty.
        """
        from chromesift.tracking import param_value

        return {k: param_value(v) for k, v in dataclasses.asdict(self).items() if k != "extra"}

    def classifier_params(self) -> dict:
        return {
            "max_iter": self.max_iter,
            "stage2_max_iter": self.stage2_max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            "second_stage": self.second_stage,
            "stack_folds": self.stack_folds,
            "calibrate": self.calibrate,
            "calibration_folds": self.calibration_folds,
            "calibration_refit": self.calibration_refit,
            "max_fit_rows": self.max_fit_rows,
            "random_state": self.random_state,
        }


def load_config(path: Path | None = None, **overrides) -> TrainConfig:
    """Defaults, then the ``[train]`` table of a TOML file, then ``overrides`` (None = unset)."""
    values: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"cannot read config {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path}: invalid TOML ({exc})") from None
        values.update(data.get("train", data))
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UserError(f"unknown config key(s): {', '.join(unknown)}")
    for key in ("tables", "out_dir"):
        if key in values:
            values[key] = Path(values[key])
    if "datasets" in values:
        values["datasets"] = tuple(values["datasets"])
    cfg = TrainConfig(**values)
    if cfg.cv_folds == 1 or cfg.cv_folds < 0:
        raise UserError("cv_folds must be 0 (off) or at least 2")
    if cfg.neighbours < 0 or cfg.hash_buckets < 0:
        raise UserError("neighbours and hash_buckets must be 0 or more")
    if cfg.max_iter < 1 or (cfg.stage2_max_iter is not None and cfg.stage2_max_iter < 1):
        raise UserError("max_iter and stage2_max_iter must be at least 1")
    if cfg.calibration_folds < 2:
        raise UserError("calibration_folds must be at least 2")
    if cfg.calibration_mix not in ("corpora", "training"):
        raise UserError(f"calibration_mix must be 'corpora' or 'training', not {cfg.calibration_mix!r}")
    from chromesift.models.classifier import REFITS  # (here: the model module loads scikit-learn)

    if cfg.calibration_refit not in REFITS:
        raise UserError(f"calibration_refit must be one of {', '.join(REFITS)}, not {cfg.calibration_refit!r}")
    if not 0 <= cfg.text_copies <= 1:
        raise UserError("text_copies must be between 0 and 1")
    if not 0 <= cfg.page_weight <= 1:
        raise UserError("page_weight must be between 0 and 1")
    if not 0 <= cfg.site_weight <= 1:
        raise UserError("site_weight must be between 0 and 1")
    if not 0 <= cfg.attr_dropout <= 1:
        raise UserError("attr_dropout must be between 0 and 1")
    if cfg.lexicon_bits and not 8 <= cfg.lexicon_bits <= 24:
        raise UserError("lexicon_bits must be 0 (off) or between 8 and 24")
    if cfg.lexicon_alpha <= 0:
        raise UserError("lexicon_alpha must be positive")
    if not 0 <= cfg.lexicon_tags <= 32:
        raise UserError("lexicon_tags must be between 0 and 32")
    if not 0 <= cfg.dataset_balance <= 1:
        raise UserError("dataset_balance must be between 0 and 1")
    return cfg
