"""MLflow tracking shared by training and evaluation: one store, one experiment setup.

Both stages log to the store :func:`tracking_uri` names and create their experiments
through :func:`experiment_id`, so their runs sit side by side and their artifacts
in one place. mlflow is imported inside the functions that talk to it, never when
this module is imported: predicting never needs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from chromesift.data.util import git_commit

if TYPE_CHECKING:
    import mlflow

#: The store when ``$MLFLOW_TRACKING_URI`` is unset: a SQLite file in the working
#: directory (at the mlflow versions we pin, the old ``./mlruns`` file store refuses to
#: start runs).
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
#: Environment variable naming the folder that new experiments keep their artifacts in.
ARTIFACTS_ENV = "CHROMESIFT_ARTIFACTS"
#: That folder when the variable is unset, relative to the working directory.
DEFAULT_ARTIFACTS = "mlartifacts"


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, or :data:`DEFAULT_TRACKING_URI` when it is unset or empty."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def artifact_location(experiment: str) -> Path:
    """Where a new experiment keeps its artifacts: ``$CHROMESIFT_ARTIFACTS/<experiment>``.

    Without an explicit location mlflow would put them in ``./mlruns`` of whatever the
    working directory is.
    """
    return Path(os.environ.get(ARTIFACTS_ENV, DEFAULT_ARTIFACTS)).resolve() / experiment


def experiment_id(experiment: str) -> str:
    """Point mlflow at :func:`tracking_uri` and return the id of ``experiment``.

    A missing experiment is created with its :func:`artifact_location`; when a run
    started at the same time creates it first, that one is used.

    Parameters
    ----------
    experiment
        The experiment's name.

    Returns
    -------
    str
        Its id in the store.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri())
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is not None:
        return exp.experiment_id
    try:
        return mlflow.create_experiment(experiment, artifact_location=artifact_location(experiment).as_uri())
    except MlflowException:
        exp = mlflow.get_experiment_by_name(experiment)  # a concurrent run created it first
        if exp is None:
            raise
        return exp.experiment_id


def start_run(experiment: str, run_name: str) -> mlflow.ActiveRun:
    """Start an mlflow run named ``run_name`` in ``experiment`` (set up by :func:`experiment_id`).

    Returns
    -------
    mlflow.ActiveRun
        The active run; as a context manager it ends the run on leaving.
    """
    import mlflow

    return mlflow.start_run(experiment_id=experiment_id(experiment), run_name=run_name)


__all__ = [
    "ARTIFACTS_ENV",
    "DEFAULT_ARTIFACTS",
    "DEFAULT_TRACKING_URI",
    "artifact_location",
    "experiment_id",
    "git_commit",
    "start_run",
    "tracking_uri",
]
