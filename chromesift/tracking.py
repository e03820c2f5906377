"""MLflow tracking shared by training and evaluation: one store, one experiment setup, one lineage.

Both stages log to the store :func:`tracking_uri` names and create their experiments
through :func:`experiment_id`, so their runs sit side by side and their artifacts
in one place. mlflow is imported inside the functions that talk to it, never when
this module is imported: predicting never needs it.

Lineage. Both stages tag their runs with the same keys (the ``TAG_*`` constants: the
facts chromesift records are ``chromesift.<name>``; ``git_commit`` and ``error`` keep
the plain names runs have always had). A training run tags the bundle it wrote and
its sha256; an evaluation run tags the bundle it scored, that bundle's training run
(:func:`run_link` gives a link to it where the store has a web address) and logs
each corpus file it read as a dataset input (:func:`log_corpus_inputs`). A model
that ``chromesift train --register NAME`` registered comes back as a bundle folder
with :func:`resolve_model_uri` (``models:/NAME/VERSION``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from chromesift.data.util import git_commit
from chromesift.errors import BundleError, UserError

if TYPE_CHECKING:
    import mlflow

log = logging.getLogger(__name__)

#: The store when ``$MLFLOW_TRACKING_URI`` is unset: a SQLite file in the working
#: directory (at the mlflow versions we pin, the old ``./mlruns`` file store refuses to
#: start runs).
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
#: Environment variable naming the folder that new experiments keep their artifacts in.
ARTIFACTS_ENV = "CHROMESIFT_ARTIFACTS"
#: That folder when the variable is unset, relative to the working directory.
DEFAULT_ARTIFACTS = "mlartifacts"

#: Which stage logged a run: ``"train"`` or ``"evaluate"``.
TAG_STAGE = "chromesift.stage"
#: The bundle folder a training run wrote.
TAG_BUNDLE = "chromesift.bundle"
#: The sha256 of the bundle's ``model.joblib`` (its ``metadata.json`` ``sha256``): the
#: bundle a training run wrote or an evaluation run scored; also on a registered model version.
TAG_BUNDLE_SHA256 = "chromesift.bundle_sha256"
#: The MLflow run that trained the bundle an evaluation run scored.
TAG_TRAINING_RUN = "chromesift.training_run_id"
#: A web link to that run, where the tracking store has a web address.
TAG_TRAINING_RUN_URL = "chromesift.training_run_url"
#: The datasets a run read, comma-separated.
TAG_DATASETS = "chromesift.datasets"
#: ``"true"`` when an evaluation scored a bundle on pages it was trained on.
TAG_IN_SAMPLE = "chromesift.in_sample"
#: Those datasets, comma-separated.
TAG_IN_SAMPLE_DATASETS = "chromesift.in_sample_datasets"
#: The dataset a leave-one-dataset-out fold (a nested run) held out.
TAG_HELD_OUT = "chromesift.held_out"
#: The commit of the checkout that ran (a plain name, as runs have always had it).
TAG_GIT_COMMIT = "git_commit"
#: Why a run failed.
TAG_ERROR = "error"
#: The artifact path of the bundle folder in a training run.
BUNDLE_ARTIFACT = "bundle"
#: MLflow's own limit on a dataset input's digest (characters): the corpus file's
#: sha256 is cut to it, and logged whole in the input's :data:`TAG_SHA256_INPUT` tag.
DIGEST_CHARS = 36
#: Tag of a dataset input holding the whole sha256 of its file.
TAG_SHA256_INPUT = "chromesift.sha256"


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


def portable_path(path: Path | str) -> str:
    """A path as a run may record it: relative to the working directory when inside it,
    else its last component only (no machine path leaves the machine)."""
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return f"(outside the working directory)/{path.name}"


def param_value(value: object) -> str:
    """A parameter value as plain text, never a Python repr.

    Paths are :func:`portable_path`, tuples, lists and sets are comma-separated, a dict is
    ``key=value`` pairs so (in key order), None is ``""``, and anything else is ``str(value)``.
    """
    if value is None:
        return ""
    if isinstance(value, Path):
        return portable_path(value)
    if isinstance(value, dict):
        return ",".join(f"{k}={param_value(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
    if isinstance(value, (tuple, list, set, frozenset)):
        return ",".join(param_value(v) for v in value)
    return str(value)


@contextlib.contextmanager
def artifact_progress(show: bool) -> Iterator[None]:
    """Show (or, with ``show=False``, hide) mlflow's artifact upload and download
    progress bars inside the block.

    mlflow reads ``$MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` on each transfer; the
    variable is set for the block and restored after it.
    """
    if show:
        yield
        return
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def start_run(experiment: str, run_name: str) -> mlflow.ActiveRun:
    """Start an mlflow run named ``run_name`` in ``experiment`` (set up by :func:`experiment_id`).

    Returns
    -------
    mlflow.ActiveRun
        The active run; as a context manager it ends the run on leaving.
    """
    import mlflow

    return mlflow.start_run(experiment_id=experiment_id(experiment), run_name=run_name)


def run_link(run_id: str) -> str | None:
    """A web link to a run of the store :func:`tracking_uri` names, or None.

    Only a tracking server (an ``http(s)://`` store) has a web address; a SQLite or
    file store has none (its UI, ``mlflow ui``, finds the run by its id). None too
    when the store does not hold the run.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        run = mlflow.MlflowClient(uri).get_run(run_id)
    except MlflowException:
        return None
    return f"{uri.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"


def run_exists(run_id: str) -> str | None:
    """The experiment id of ``run_id`` in the store :func:`tracking_uri` names, or None."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.MlflowClient(tracking_uri()).get_run(run_id).info.experiment_id
    except MlflowException:
        return None


def _local_source_class():
    """mlflow's dataset source for a local file (found by its type, without the registry's
    warning that a bare file name could be read several ways)."""
    from mlflow.data.dataset_source_registry import get_registered_sources

    return next(s for s in get_registered_sources() if s._get_source_type() == "local")


def corpus_dataset(name: str, file_name: str, sha256: str):
    """An mlflow dataset (metadata only) for one corpus file.

    Parameters
    ----------
    name
        The dataset's name.
    file_name
        The corpus file's name, without its folder (the source).
    sha256
        The file's sha256; the digest is its first :data:`DIGEST_CHARS` characters
        (mlflow's limit).

    Returns
    -------
    mlflow.data.meta_dataset.MetaDataset
    """
    from mlflow.data.meta_dataset import MetaDataset

    return MetaDataset(_local_source_class()(Path(file_name).name), name=name, digest=sha256[:DIGEST_CHARS])


def log_corpus_inputs(corpora: Mapping[str, tuple[str, str]], context: str) -> None:
    """Log corpus files as dataset inputs of the active run.

    Parameters
    ----------
    corpora
        Dataset name -> ``(file name, sha256 of the file)``.
    context
        What the run did with them (``"training"``, ``"evaluation"``).
    """
    import mlflow

    if not corpora:
        return
    names = list(corpora)
    mlflow.log_inputs(
        datasets=[corpus_dataset(n, *corpora[n]) for n in names],
        contexts=[context] * len(names),
        tags_list=[{TAG_SHA256_INPUT: corpora[n][1]} for n in names],
    )


class MlflowLookupError(UserError):
    """A run, logged model or model version that the store does not hold."""


def register_run_model(run_id: str, model_name: str, registered_name: str, tags: Mapping[str, str]):
    """Register the model logged as ``model_name`` in run ``run_id`` as a new version of
    ``registered_name`` (created when missing), with ``tags`` on the version.

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion
        The new version; its ``run_link`` is :func:`run_link` of the run where there is one.

    Raises
    ------
    MlflowLookupError
        The run logged no model of that name.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri(), _registry_uri())
    experiment = client.get_run(run_id).info.experiment_id
    found = client.search_logged_models(
        experiment_ids=[experiment], filter_string=f"source_run_id = '{run_id}' AND name = '{model_name}'")
    if not found:
        raise MlflowLookupError(f"run {run_id} logged no model {model_name!r}")
    try:
        client.create_registered_model(registered_name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    model_id = found[0].model_id
    return client.create_model_version(registered_name, f"models:/{model_id}", run_id=run_id, tags=dict(tags),
                                       run_link=run_link(run_id), model_id=model_id)


def _registry_uri() -> str:
    return os.environ.get("MLFLOW_REGISTRY_URI") or tracking_uri()


#: ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``
_MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[^/]+))/?")


def is_model_uri(text: str) -> bool:
    """Whether ``text`` names a registered model version (``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``)."""
    return _MODEL_URI.fullmatch(str(text)) is not None


def _bundle_candidates(model_dir: Path) -> list[Path]:
    """Where a downloaded MLflow model may hold a bundle folder: the folder its pyfunc
    flavour names as its ``bundle`` artifact (``artifacts/<bundle name>``), the model
    folder itself, and a ``bundle`` folder in it."""
    out = []
    try:
        from mlflow.models import Model

        pyfunc = Model.load(str(model_dir / "MLmodel")).flavors.get("python_function", {})
        path = ((pyfunc.get("artifacts") or {}).get(BUNDLE_ARTIFACT) or {}).get("path")
        if path:
            out.append(model_dir / path)
    except Exception as exc:  # no MLmodel, or one of another shape: try the plain places
        log.debug("%s: no pyfunc bundle artifact (%s)", model_dir, exc)
    return out + [model_dir, model_dir / BUNDLE_ARTIFACT]


def resolve_model_uri(uri: str, dst: Path | str | None = None, *, progress: bool = False) -> Path:
    """Download a registered model version and return its bundle folder.

    The version's own files are fetched first: the model that ``chromesift train
    --register`` registers is the pyfunc model, which holds the bundle as its
    ``bundle`` artifact. A version without a bundle inside (e.g. a registered
    sklearn model) gets the ``bundle`` folder of the run that logged it. Nothing is
    loaded here: whether the bundle may be unpickled is decided by
    :func:`chromesift.load_model` as for any bundle folder.

    Parameters
    ----------
    uri
        ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``, in the registry of the store
        :func:`tracking_uri` names (``$MLFLOW_REGISTRY_URI`` when set).
    dst
        Folder to download into (created); None for a new temporary folder, which the
        caller may delete after loading.
    progress
        Show mlflow's download progress bars.

    Returns
    -------
    pathlib.Path
        The bundle folder (``metadata.json`` and the model files).

    Raises
    ------
    UserError
        A malformed URI, or a model or version the registry does not hold.
    chromesift.errors.BundleError
        The version holds no bundle, or its bundle's sha256 is not the one the version
        was registered with (tag :data:`TAG_BUNDLE_SHA256`).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    match = _MODEL_URI.fullmatch(str(uri))
    if match is None:
        raise UserError(f"{uri!r} is not a registered model version (models:/NAME/VERSION or models:/NAME@ALIAS)")
    name = match["name"]
    client = mlflow.MlflowClient(tracking_uri(), _registry_uri())
    try:
        version = (client.get_model_version(name, match["version"]) if match["version"]
                   else client.get_model_version_by_alias(name, match["alias"]))
    except MlflowException as exc:
        raise MlflowLookupError(f"{uri}: not in the model registry at {_registry_uri()} ({exc.message})") from None
    folder = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="chromesift-model-"))
    folder.mkdir(parents=True, exist_ok=True)
    with artifact_progress(progress):
        # where the version's files are, asked of this registry (a models:/ URI would be
        # resolved through mlflow's global store, which need not be this one)
        where = client.get_model_version_download_uri(name, version.version)
        root = Path(mlflow.artifacts.download_artifacts(
            artifact_uri=where, dst_path=str(folder / "model"), tracking_uri=tracking_uri()))
        bundle = next((c for c in _bundle_candidates(root) if (c / "metadata.json").is_file()), None)
        if bundle is None and version.run_id:
            try:
                bundle = Path(mlflow.artifacts.download_artifacts(
                    run_id=version.run_id, artifact_path=BUNDLE_ARTIFACT, dst_path=str(folder / "run"),
                    tracking_uri=tracking_uri()))
            except (MlflowException, OSError) as exc:
                log.info("run %s of %s has no bundle artifacts (%s)", version.run_id, uri, exc)
    if bundle is None or not (bundle / "metadata.json").is_file():
        raise BundleError(f"{uri}: the model version holds no chromesift bundle (no metadata.json), "
                          "nor does the run that logged it")
    expected = version.tags.get(TAG_BUNDLE_SHA256)
    if expected:
        try:
            found = json.loads((bundle / "metadata.json").read_text(encoding="utf-8")).get("sha256")
        except (OSError, ValueError, AttributeError):
            found = None
        if found != expected:
            raise BundleError(f"{uri}: the bundle's model sha256 is {str(found)[:16]}..., the version was "
                              f"registered with {expected[:16]}...: not the registered bundle")
    return bundle


__all__ = [
    "ARTIFACTS_ENV",
    "BUNDLE_ARTIFACT",
    "DEFAULT_ARTIFACTS",
    "DEFAULT_TRACKING_URI",
    "DIGEST_CHARS",
    "TAG_BUNDLE",
    "TAG_BUNDLE_SHA256",
    "TAG_DATASETS",
    "TAG_ERROR",
    "TAG_GIT_COMMIT",
    "TAG_HELD_OUT",
    "TAG_IN_SAMPLE",
    "TAG_IN_SAMPLE_DATASETS",
    "TAG_SHA256_INPUT",
    "TAG_STAGE",
    "TAG_TRAINING_RUN",
    "TAG_TRAINING_RUN_URL",
    "MlflowLookupError",
    "artifact_location",
    "artifact_progress",
    "corpus_dataset",
    "experiment_id",
    "git_commit",
    "is_model_uri",
    "log_corpus_inputs",
    "param_value",
    "portable_path",
    "register_run_model",
    "resolve_model_uri",
    "run_exists",
    "run_link",
    "start_run",
    "tracking_uri",
]
