"""Training stage: the pipeline, grouped cross-validation, tracked runs, bundle export."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from chromesift.models.model import Model
    from chromesift.train.config import TrainConfig


def fit_for_evaluation(table: pd.DataFrame, config: TrainConfig | None = None) -> Model:
    """Fit a model on labeled paragraph tables, untracked (for leave-one-dataset-out).

    Parameters
    ----------
    table
        Labeled paragraph tables (as :func:`chromesift.data.build.load_tables` gives).
    config
        Training config; its ``threshold`` (default 0.5) becomes the decision threshold.
    """
    from chromesift.models.model import Model
    from chromesift.train import core
    from chromesift.train.config import TrainConfig

    config = config or TrainConfig(cv_folds=0, mlflow=False)
    pipe = core.fit(core.prepare(table, config), config)
    threshold = 0.5 if config.threshold is None else float(config.threshold)
    return Model(pipe, {"name": "fit_for_evaluation", "threshold": threshold})


__all__ = ["fit_for_evaluation"]
