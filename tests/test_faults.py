"""Training under faults: a broken MLflow store, SIGTERM/SIGINT, two runs at once.

Each test trains on a tiny labeled table made from the hand-made fixture pages (a few
seconds) and checks what survived: the bundle, the MLflow run and its status, and
what the run says was not logged.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from chromesift.data import parse_html
from chromesift.models.bundle import load_bundle
from chromesift.train import run as run_mod
from chromesift.train.config import load_config
from chromesift.train.run import TrackingError, run_training

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    """30 copies of each fixture page on 6 sites, labeled by a structural rule."""
    out = tmp_path_factory.mktemp("tables")
    parts = []
    for i in range(30):
        for name in ("seed_article.html", "segmentation.html"):
            t = parse_html((FIXTURES / name).read_text(encoding="utf-8"), doc_id=f"{name[:4]}{i}")
            content = (t["in_article"] | t["tag"].isin(["p", "blockquote"])) & ~t["in_nav"] & ~t["in_footer"]
            parts.append(t.assign(label=content.astype(float), weight=1.0, dataset="tiny", site=f"site{i % 6}"))
    pd.concat(parts, ignore_index=True).to_parquet(out / "tiny.parquet")
    return out


@pytest.fixture()
def env(tmp_path, monkeypatch):
    """A fresh tracking store, artifact root and trust store for each test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("CHROMESIFT_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("CHROMESIFT_TRUST_STORE", str(tmp_path / "trust.txt"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path


def config(tables: Path, out: Path, **kw):
    base = dict(tables=tables, out_dir=out, name="tiny", max_iter=10, cv_folds=0, stack_folds=2,
                max_rows=4000, experiment="faults", log_model=False)
    return load_config(**{**base, **kw})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(tmp_path: Path):
    """A client of the test's store that leaves MLflow's global tracking URI alone."""
    import mlflow

    return mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")


def runs(tmp_path: Path, experiment: str = "faults") -> list:
    exp = client(tmp_path).get_experiment_by_name(experiment)
    return client(tmp_path).search_runs([exp.experiment_id]) if exp is not None else []


def leftovers(folder: Path) -> list[str]:
    """Temporary or set-aside folders a save may leave (there must be none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


# --- the MLflow store ------------------------------------------------------------------------


def unreachable(monkeypatch) -> str:
    uri = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    return uri


def test_unreachable_store_still_gives_the_bundle(tables, env, monkeypatch):
    uri = unreachable(monkeypatch)
    result = run_training(config(tables, env / "models", log_model=True), progress=False)
    model, meta = load_bundle(result.bundle)  # complete, verified, trusted (written here)
    assert result.bundle == env / "models" / "tiny" and meta["mlflow_run_id"] is None
    assert result.run_id is None
    assert result.not_logged == [
        "the run", "params and tags", "config.json", "data params", "metrics", "plots and cv table",
        "report.md", "bundle artifacts", "sklearn model", "pyfunc model"]
    assert uri in result.tracking_error and f"The bundle {result.bundle} is complete" in result.tracking_error
    assert "no MLflow run was created" in result.tracking_error


def test_require_tracking_stops_before_any_data_is_loaded(tables, env, monkeypatch):
    unreachable(monkeypatch)

    def must_not_load(*a, **k):
        raise AssertionError("data loaded although tracking was required and broken")

    monkeypatch.setattr(run_mod, "load_tables", must_not_load)
    with pytest.raises(TrackingError, match=r"not logged: the run.*Nothing was trained"):
        run_training(config(tables, env / "models"), progress=False, require_tracking=True)
    assert not (env / "models").exists()


def read_only_store(env: Path, monkeypatch) -> None:
    """A store that exists (with the experiment) but can only be read."""
    # MLflow makes the folder of a sqlite URI's path, here the literal "file:..." one: keep it in env
    monkeypatch.chdir(env)
    client(env).create_experiment("faults", artifact_location=(env / "artifacts").as_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///file:{env / 'mlflow.db'}?mode=ro&uri=true")


def test_read_only_store_still_gives_the_bundle(tables, env, monkeypatch):
    read_only_store(env, monkeypatch)
    result = run_training(config(tables, env / "models"), progress=False)
    assert load_bundle(result.bundle)[1]["threshold"] == result.threshold
    assert "readonly database" in result.tracking_error
    assert result.not_logged[0] == "the run" and "bundle artifacts" in result.not_logged
    assert runs(env) == []


def test_read_only_store_with_require_tracking(tables, env, monkeypatch):
    read_only_store(env, monkeypatch)
    with pytest.raises(TrackingError, match="readonly database"):
        run_training(config(tables, env / "models"), progress=False, require_tracking=True)
    assert not (env / "models").exists()


def test_unwritable_artifact_store_is_found_before_training(tables, env, monkeypatch):
    blocker = env / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("CHROMESIFT_ARTIFACTS", str(blocker / "artifacts"))
    monkeypatch.setattr(run_mod, "load_tables", lambda *a, **k: pytest.fail("trained anyway"))
    with pytest.raises(TrackingError, match="config.json"):
        run_training(config(tables, env / "models"), progress=False, require_tracking=True)
    (run,) = runs(env)
    assert run.info.status == "FAILED"  # the run was created, then given up


def test_store_failing_mid_run_loses_only_the_later_logs(tables, env, monkeypatch):
    import mlflow

    def locked(*a, **k):
        raise mlflow.exceptions.MlflowException("(sqlite3.OperationalError) database is locked")

    monkeypatch.setattr(mlflow, "log_artifacts", locked)
    result = run_training(config(tables, env / "models", log_model=True), progress=False)
    assert load_bundle(result.bundle)[1]["mlflow_run_id"] == result.run_id
    assert result.not_logged == ["bundle artifacts", "sklearn model", "pyfunc model"]
    assert "database is locked" in result.tracking_error and f"run {result.run_id} is incomplete" in result.tracking_error
    (run,) = runs(env)
    assert run.info.run_id == result.run_id and run.info.status == "FAILED"
    assert run.data.params["max_iter"] == "10" and "threshold" in run.data.metrics  # logged before the fault


def test_locked_store_still_gives_the_bundle(tables, env):
    """SQLite held by another writer past MLflow's 20 s busy timeout (a slow test)."""
    client(env).create_experiment("faults", artifact_location=(env / "artifacts").as_uri())
    holder = sqlite3.connect(env / "mlflow.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run_training(config(tables, env / "models"), progress=False)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert load_bundle(result.bundle)[1]["mlflow_run_id"] is None
    assert "database is locked" in result.tracking_error
    assert runs(env) == []


def test_tracking_complete_when_the_store_works(tables, env):
    result = run_training(config(tables, env / "models", log_model=True), progress=False)
    assert result.tracking_error is None and result.not_logged == []
    (run,) = runs(env)
    assert run.info.status == "FINISHED" and run.data.tags["chromesift.bundle"] == str(result.bundle)
    logged = {a.path for a in client(env).list_artifacts(result.run_id)}
    assert {"bundle", "config.json", "report.md"} <= logged
    models = client(env).search_logged_models([run.info.experiment_id], filter_string=f"source_run_id='{result.run_id}'")
    assert sorted(m.name for m in models) == ["model", "pyfunc"]
    assert (result.bundle / "model.skops").is_file()


def test_require_tracking_needs_tracking_on(tables, env):
    from chromesift.errors import UserError

    with pytest.raises(UserError, match="MLflow is switched off"):
        run_training(config(tables, env / "models", mlflow=False), progress=False, require_tracking=True)


# --- signals and concurrent runs (child processes) --------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, signal, sys, time
    from pathlib import Path

    # Ctrl-C as in a terminal, even when the suite runs where SIGINT is ignored (a shell's
    # background job): Python then starts without its KeyboardInterrupt handler
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = json.loads(sys.argv[1])
    from chromesift.train import core
    from chromesift.train.config import load_config
    from chromesift.train.run import run_training
    import chromesift.models.bundle as bundle

    marker = Path(args["marker"])
    real_fit, real_dump = core.fit, bundle._sha256

    def wait_here(where):
        marker.write_text(where)
        time.sleep(120)  # the parent signals us here

    def fit(rows, cfg):
        if args["stop_in"] == "fit":
            wait_here("fit")
        if args.get("barrier"):  # both runs are past their start before either saves
            folder = Path(args["barrier"])
            (folder / str(args["me"])).write_text("")
            deadline = time.time() + 120
            while len(list(folder.iterdir())) < 2 and time.time() < deadline:
                time.sleep(0.05)
        return real_fit(rows, cfg)

    def sha(path):  # hashing model.joblib happens inside save_bundle's temporary folder
        if args["stop_in"] == "save" and Path(path).parent.name.startswith("."):
            wait_here("save")
        return real_dump(path)

    core.fit = fit
    bundle._sha256 = sha
    cfg = load_config(**args["config"])
    try:
        res = run_training(cfg, progress=False)
    except KeyboardInterrupt as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(130)
    print(json.dumps({"bundle": str(res.bundle), "run_id": res.run_id}))
    """
)


def child(env: Path, out: Path, stop_in: str | None, name: str = "tiny", **extra) -> subprocess.Popen:
    script = env / "child.py"
    script.write_text(CHILD)
    args = {
        "marker": str(env / f"marker-{extra.get('me', 0)}"),
        "stop_in": stop_in,
        "config": {"tables": str(extra.pop("tables")), "out_dir": str(out), "name": name, "max_iter": 10,
                   "cv_folds": 0, "stack_folds": 2, "max_rows": 4000, "experiment": "faults", "log_model": False},
        **extra,
    }
    return subprocess.Popen([sys.executable, str(script), json.dumps(args)], cwd=env, env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def signal_at_marker(proc: subprocess.Popen, marker: Path, signum: int, timeout: float = 120) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the child never reached the marked step"
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_fit_marks_the_run_killed_and_writes_nothing(tables, env, signum):
    proc = child(env, env / "models", "fit", tables=tables)
    code, err = signal_at_marker(proc, env / "marker-0", signum)
    assert code == 130, err[-3000:]
    assert ("SIGTERM received" in err) if signum == signal.SIGTERM else ("KeyboardInterrupt" in err)
    (run,) = runs(env)
    assert run.info.status == "KILLED"
    assert not (env / "models").exists() or list((env / "models").iterdir()) == []


def test_sigterm_during_save_keeps_the_previous_bundle_whole(tables, env):
    first = run_training(config(tables, env / "models", threshold=0.3), progress=False)
    before = (first.bundle / "metadata.json").read_text()
    proc = child(env, env / "models", "save", tables=tables)
    code, err = signal_at_marker(proc, env / "marker-0", signal.SIGTERM)
    assert code == 130, err[-3000:]
    assert (first.bundle / "metadata.json").read_text() == before
    assert load_bundle(first.bundle)[1]["threshold"] == 0.3
    assert leftovers(env / "models") == []
    assert sorted(r.info.status for r in runs(env)) == ["FINISHED", "KILLED"]


def test_two_concurrent_runs_give_two_runs_and_two_bundles(tables, env):
    client(env).search_experiments()  # the store exists; the experiment does not: both runs race to create it
    barrier = env / "barrier"
    barrier.mkdir()
    procs = [child(env, env / "models", None, tables=tables, barrier=str(barrier), me=i) for i in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    bundles = {Path(o["bundle"]) for o in outs}
    assert len(bundles) == 2 and env / "models" / "tiny" in bundles
    (other,) = bundles - {env / "models" / "tiny"}
    assert other.parent == env / "models" and other.name.startswith("tiny-")
    assert {load_bundle(b)[1]["mlflow_run_id"] for b in bundles} == {o["run_id"] for o in outs}
    finished = runs(env)
    assert len(finished) == 2 and all(r.info.status == "FINISHED" for r in finished)
    assert leftovers(env / "models") == []
