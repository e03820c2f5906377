"""The MLflow pyfunc flavour: predict in process, and `mlflow models serve` over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

import chromesift
from chromesift.data.corpus import dataset_path, iter_pages
from chromesift.models import DEFAULT_BUNDLE

mlflow = pytest.importorskip("mlflow")
serving = pytest.importorskip("chromesift.runtime.serving")

#: some 13 ms of work each: a request of 300 takes seconds (no page within the per-page
#: limits parses slowly since start tags keep 256 attributes, so a slow request is a big one)
BUSY_PAGE = "<html><body>" + "".join(f"<p>Paragraph {i} here.</p>" for i in range(2000)) + "</body></html>"
TEXT_PAGE = (
    "Home | News | Contact\n"
    "The harbour seals came back to the sandbank this spring, and the wardens counted "
    "more pups than in any year since the count began.\n"
    "Share this page"
)


@pytest.fixture(autouse=True, scope="module")
def _sys_path_kept():
    """Loading a pyfunc puts its copy of chromesift's code first on ``sys.path`` (MLflow's
    code paths), where worker processes spawned by later tests would import it from: undo it."""
    before = list(sys.path)
    yield
    sys.path[:] = before


@pytest.fixture(scope="module")
def model() -> chromesift.Model:
    return chromesift.load_model(DEFAULT_BUNDLE)


@pytest.fixture(scope="module")
def pages(shared_data) -> list[tuple[str, str]]:
    return [(p.id, p.html) for p in iter_pages(dataset_path(shared_data, "cleaneval"), 3)]


@pytest.fixture(scope="module")
def forum_page(shared_data, model) -> str:
    """A wcxb forum or listing page that ``scope="all"`` reads differently from the default."""
    pages = iter_pages(dataset_path(shared_data, "wcxb"), None)
    for page in (p for p in pages if (p.meta or {}).get("page_type") in ("forum", "listing")):
        if model.extract(page.html, scope="all") != model.extract(page.html):
            return page.html
    pytest.fail("scope='all' reads no forum or listing page of wcxb differently")


def _scope_request(scope: str, html: str) -> bytes:
    return json.dumps({"dataframe_records": [{"id": "f", "html": html}], "params": {"scope": scope}}).encode()


def _check_rows(rows: list[dict], pages: list[tuple[str, str]], model) -> None:
    assert [r["id"] for r in rows] == [pid for pid, _ in pages]
    for row, (_, html) in zip(rows, pages, strict=True):
        assert row["main_text"] == chromesift.extract(html, model=model)
        pars = json.loads(row["paragraphs"])
        assert [p["text"] for p in pars] == list(model.classify(html)["text"])
        assert "\n".join(p["text"] for p in pars if p["is_content"]) == row["main_text"]
        assert all(0 <= p["probability"] <= 1 for p in pars)


def test_predict_frame_equals_the_library_call(model, pages):
    frame = pd.DataFrame({"id": [pid for pid, _ in pages], "html": [h for _, h in pages]})
    out = serving.predict_frame(model, frame)
    assert list(out.columns) == ["id", "main_text", "paragraphs"]
    _check_rows(out.to_dict(orient="records"), pages, model)


def test_predict_frame_text_column_and_no_id(model):
    out = serving.predict_frame(model, pd.DataFrame({"html": [None], "text": [TEXT_PAGE]}))
    assert list(out.columns) == ["main_text", "paragraphs"]
    assert out["main_text"][0] == chromesift.extract(TEXT_PAGE, format="text", model=model)
    assert [p["text"] for p in json.loads(out["paragraphs"][0])] == TEXT_PAGE.split("\n")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"id": ["a"]}), r"no 'html' or 'text' column \(columns: id\)"),
        (pd.DataFrame({"id": ["a", "b"], "html": ["<p>x</p>", None]}), r"row 1 \(id 'b'\): no page"),
        (pd.DataFrame({"html": ["<p>x</p>"] * 3}), r"3 pages in one request, over the limit of 2"),
        (pd.DataFrame({"id": ["big"], "html": ["<p>" + "é" * 60 + "</p>"]}),
         r"row 0 \(id 'big'\): page is 127 bytes, over the limit of 100"),
        # found by the property test: a ValueError of pandas or zip, not a 400
        ({"id": ["a"], "html": ["<p>x</p>", "<p>y</p>"]}, r"expected a table of pages .*same length"),
        (pd.DataFrame([["<p>x</p>", "<p>y</p>"]], columns=["html", "html"]), r"column\(s\) html given more than once"),
    ],
)
def test_predict_frame_refuses_bad_requests(model, frame, message):
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, ErrorCode

    with pytest.raises(mlflow.exceptions.MlflowException, match=message) as info:
        serving.predict_frame(model, frame, serving.Limits(max_bytes=100, max_pages=2))
    assert info.value.error_code == ErrorCode.Name(INVALID_PARAMETER_VALUE)
    assert info.value.get_http_status_code() == 400


def test_predict_frame_reads_with_a_scope(model, forum_page):
    frame = pd.DataFrame({"id": ["f"], "html": [forum_page]})
    everything = serving.predict_frame(model, frame, scope="all")["main_text"][0]
    assert everything == model.extract(forum_page, scope="all")
    assert everything != model.extract(forum_page)
    assert serving.predict_frame(model, frame, scope="article")["main_text"][0] == model.extract(forum_page)


def test_a_scope_the_model_cannot_read_with_is_a_bad_request(model, plain_bundle):
    frame = pd.DataFrame({"id": ["a"], "html": ["<p>Some words of a page.</p>"]})
    with pytest.raises(mlflow.exceptions.MlflowException, match="scope must be one of auto, article, all, not 'page'") as info:
        serving.predict_frame(model, frame, scope="page")
    assert info.value.get_http_status_code() == 400
    with pytest.raises(mlflow.exceptions.MlflowException, match=r"scope must be one of auto, article, all, not \['all'\]"):
        serving.predict_frame(model, frame, scope=["all"])
    plain = chromesift.load_model(plain_bundle)
    with pytest.raises(mlflow.exceptions.MlflowException, match="needs a model trained with label conventions") as info:
        serving.predict_frame(plain, frame, scope="all")
    assert info.value.get_http_status_code() == 400
    # in the served model's worker: refused as the caller's mistake, and the worker serves on
    workers = serving.PageWorkers(plain_bundle, True, serving.Limits(timeout=60))
    try:
        with pytest.raises(mlflow.exceptions.MlflowException, match="needs a model trained with label conventions") as info:
            serving.predict_frame(None, frame, classify=workers, scope="all")
        assert info.value.get_http_status_code() == 400
        out = serving.predict_frame(None, frame, classify=workers, scope="article")
        assert out["main_text"][0] == plain.extract("<p>Some words of a page.</p>")
    finally:
        workers.close()


def test_limits_from_config_and_environment():
    assert serving.Limits.resolve(None, environ={}) == serving.Limits(serving.SERVE_MAX_PAGE_BYTES, serving.SERVE_MAX_PAGES)
    assert serving.Limits.resolve({"max_bytes": 10}, environ={}).max_bytes == 10
    env = {serving.ENV_MAX_BYTES: "7", serving.ENV_MAX_PAGES: "3"}
    assert serving.Limits.resolve({"max_bytes": 10}, environ=env) == serving.Limits(7, 3)
    with pytest.raises(ValueError, match="CHROMESIFT_SERVE_MAX_BYTES must be a whole number, not 'lots'"):
        serving.Limits.resolve(None, environ={serving.ENV_MAX_BYTES: "lots"})
    with pytest.raises(ValueError, match="max_pages must be at least 1, not 0"):
        serving.Limits.resolve({"max_pages": 0}, environ={})


def test_log_needs_an_active_run():
    assert mlflow.active_run() is None
    with pytest.raises(RuntimeError, match="active MLflow run"):
        serving.log_pyfunc_model(DEFAULT_BUNDLE)


@pytest.fixture
def stranger(tmp_path, monkeypatch, model) -> Path:
    """The default pipeline saved as a bundle written elsewhere (its own sha256, not in this machine's store)."""
    import copy

    from chromesift.models import save_bundle

    monkeypatch.setenv("CHROMESIFT_TRUST_STORE", str(tmp_path / "store.txt"))
    pipeline = copy.deepcopy(model.pipeline)
    pipeline.verbose = True  # same predictions, other bytes
    return save_bundle(pipeline, tmp_path / "stranger", {"threshold": model.threshold}, trust=False)


def test_an_untrusted_bundle_is_refused_at_save_time_and_pinned_when_trusted(stranger, model, tmp_path):
    from chromesift.models import UntrustedBundleError, read_metadata

    digest = read_metadata(stranger)["sha256"]
    assert digest != read_metadata(DEFAULT_BUNDLE)["sha256"]
    with pytest.raises(UntrustedBundleError, match=digest):
        serving.save_pyfunc_model(stranger, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()

    out = serving.save_pyfunc_model(stranger, tmp_path / "pyfunc", trusted=True)
    config = mlflow.models.get_model_info(str(out)).flavors["python_function"]["config"]
    assert config["bundle_trust"] == digest
    loaded = mlflow.pyfunc.load_model(str(out))  # the store does not know it: the pin does
    page = "<html><body><nav>Home | About</nav><p>" + "A sentence of the article. " * 6 + "</p></body></html>"
    got = loaded.predict(pd.DataFrame({"html": [page]}))
    assert got["main_text"][0] == chromesift.extract(page, model=model)


def test_save_refuses_an_altered_bundle(tmp_path):
    import shutil

    from chromesift.errors import BundleError

    bundle = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, bundle)
    with open(bundle / "model.joblib", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="sha256"):
        serving.save_pyfunc_model(bundle, tmp_path / "pyfunc")
    assert not (tmp_path / "pyfunc").exists()


# --- time limits and request parsing ----------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children() -> set[int]:
    import multiprocessing

    return {p.pid for p in multiprocessing.active_children()}


@pytest.fixture(scope="module")
def saved_pyfunc(tmp_path_factory) -> Path:
    return serving.save_pyfunc_model(DEFAULT_BUNDLE, tmp_path_factory.mktemp("pyfunc") / "model")


def spinning_setup(bundle, trusted):
    """A worker's stand-in for records_setup: classifying spins in the CPU, ignoring alarms as
    C code would (module-level: the spawned worker imports it by name)."""
    import signal as signals

    signals.signal(signals.SIGALRM, signals.SIG_IGN)

    def handle(pages):
        if any("SPIN" in (p.document or "") for p in pages):
            end = time.monotonic() + 120
            while time.monotonic() < end:
                pass
        return [{"id": p.id, "text": "", "paragraphs": []} for p in pages]

    return handle


def test_a_request_over_its_time_is_stopped_not_left_running(monkeypatch):
    from mlflow.protos.databricks_pb2 import DEADLINE_EXCEEDED, ErrorCode

    # a limit well over a worker's start (after the kill, the next request waits for a fresh one)
    before = _children()
    workers = serving.PageWorkers(DEFAULT_BUNDLE, False, serving.Limits(timeout=6), setup=spinning_setup)
    try:
        (pid,) = _children() - before  # started, and ready, when made
        t0 = time.monotonic()
        with pytest.raises(mlflow.exceptions.MlflowException,
                           match=r"took longer than the 6 s limit \(CHROMESIFT_SERVE_TIMEOUT\) and its work was stopped") as info:
            serving.predict_frame(None, pd.DataFrame({"id": ["spin"], "html": ["<p>SPIN</p>"]}), classify=workers)
        assert 6 <= time.monotonic() - t0 < 20
        assert info.value.error_code == ErrorCode.Name(DEADLINE_EXCEEDED) and info.value.get_http_status_code() == 504
        assert not _alive(pid)  # the spinning did not go on
        out = serving.predict_frame(None, pd.DataFrame({"id": ["t"], "text": ["calm"]}), classify=workers)
        assert out["id"].tolist() == ["t"]  # a fresh worker serves on
    finally:
        workers.close()


def test_limits_take_the_time_from_the_environment_under_mlflows():
    assert serving.Limits.resolve(None, environ={}).timeout == pytest.approx(54.0)
    assert serving.Limits.resolve(None, environ={serving.ENV_TIMEOUT: "5"}).timeout == 5.0
    env = {serving.ENV_TIMEOUT: "500", serving.ENV_MLFLOW_TIMEOUT: "10", serving.ENV_WORKERS: "3"}
    assert serving.Limits.resolve(None, environ=env) == serving.Limits(timeout=9.0, workers=3)
    for bad in ("0", "-1", "nan", "soon"):
        with pytest.raises(ValueError, match="CHROMESIFT_SERVE_TIMEOUT must be"):
            serving.Limits.resolve(None, environ={serving.ENV_TIMEOUT: bad})


def test_json_nested_too_deeply_is_a_bad_request_not_a_server_error(saved_pyfunc):
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, ErrorCode
    from mlflow.pyfunc import scoring_server

    loaded = mlflow.pyfunc.load_model(str(saved_pyfunc))
    try:
        schema = loaded.metadata.get_input_schema()
        deep = '{"dataframe_records": [{"id": "deep", "html": ' + "[" * 100_000 + "]" * 100_000 + "}]}"
        with pytest.raises(mlflow.exceptions.MlflowException, match="nested too deeply") as info:
            scoring_server.invocations(deep, "application/json", loaded, schema)
        assert info.value.error_code == ErrorCode.Name(INVALID_PARAMETER_VALUE)
        good = json.dumps({"dataframe_records": [{"id": "t", "text": TEXT_PAGE}]})
        assert scoring_server.invocations(good, "application/json", loaded, schema).status == 200
    finally:
        loaded.unwrap_python_model().workers.close()


# --- logged in a run, served over HTTP -----------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def _records(frame: dict) -> bytes:
    return json.dumps({"dataframe_records": frame}).encode("utf-8")


@pytest.fixture(scope="module")
def logged_model(tmp_path_factory) -> tuple[str, str]:
    """The pyfunc logged in a run of a throwaway SQLite tracking store: (tracking URI, model URI)."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        exp = mlflow.create_experiment("serving-test", artifact_location=(root / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=exp) as run:
            serving.log_pyfunc_model(DEFAULT_BUNDLE)
        return uri, f"runs:/{run.info.run_id}/pyfunc"
    finally:
        mlflow.set_tracking_uri(previous)


def test_logged_model_loads_and_predicts(logged_model, model, pages):
    tracking, model_uri = logged_model
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking)
    try:
        info = mlflow.models.get_model_info(model_uri)
        loaded = mlflow.pyfunc.load_model(model_uri)
    finally:
        mlflow.set_tracking_uri(previous)
    assert info.signature.inputs.input_names() == ["id", "html", "text"]
    assert info.flavors["python_function"]["config"] == {
        "max_bytes": serving.SERVE_MAX_PAGE_BYTES, "max_pages": serving.SERVE_MAX_PAGES,
        "bundle_trust": model.metadata["sha256"],
    }
    frame = pd.DataFrame({"id": [pid for pid, _ in pages], "html": [h for _, h in pages]})
    _check_rows(loaded.predict(frame).to_dict(orient="records"), pages, model)


def test_mlflow_models_serve(logged_model, model, pages, forum_page, tmp_path):
    tracking, model_uri = logged_model
    port = _free_port()
    limit = max(len(h.encode("utf-8")) for h in [forum_page, *(h for _, h in pages)]) + 1000
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),  # uvicorn
        "MLFLOW_TRACKING_URI": tracking,
        "OMP_NUM_THREADS": "1",
        serving.ENV_MAX_BYTES: str(limit),
    }
    log = open(tmp_path / "server.log", "wb")  # closed in the finally below
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(base + "/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not answer /ping within 90 s"
            time.sleep(0.5)

        # three pages in, main text out
        status, body = _post(base + "/invocations", _records([{"id": pid, "html": h} for pid, h in pages]))
        assert status == 200, body
        _check_rows(json.loads(body)["predictions"], pages, model)

        # the request's scope: all main content of a forum page, or a scope refused
        status, body = _post(base + "/invocations", _scope_request("all", forum_page))
        assert status == 200, body
        assert json.loads(body)["predictions"][0]["main_text"] == model.extract(forum_page, scope="all")
        status, body = _post(base + "/invocations", _scope_request("article", forum_page))
        assert status == 200 and json.loads(body)["predictions"][0]["main_text"] == model.extract(forum_page)
        status, body = _post(base + "/invocations", _scope_request("page", forum_page))
        assert status == 400 and "scope must be one of auto, article, all" in json.loads(body)["message"], body

        # malformed payloads: 4xx with a message, and the server goes on
        status, body = _post(base + "/invocations", b'{"dataframe_records": [{"id": "a", "html": ')
        assert status == 400 and "Invalid input" in body, body
        status, body = _post(base + "/invocations", _records([{"id": "a", "url": "http://x.example/"}]))
        assert status == 400 and "no 'html' or 'text' column" in json.loads(body)["message"], body
        status, body = _post(base + "/invocations", _records([{"id": "a", "html": "<p>hi</p>"}]),
                             content_type="text/plain")
        assert status == 415, body
        big = "<html><body>" + "<p>" + "word " * (limit // 5) + "</p></body></html>"
        status, body = _post(base + "/invocations", _records([{"id": "big", "html": big}]))
        message = json.loads(body)["message"]
        assert status == 400 and f"row 0 (id 'big'): page is {len(big)} bytes, over the limit of {limit}" in message

        # still serving
        status, body = _post(base + "/invocations", _records([{"id": "t", "text": TEXT_PAGE}]))
        assert status == 200, body
        row = json.loads(body)["predictions"][0]
        assert row["id"] == "t"
        assert row["main_text"] == chromesift.extract(TEXT_PAGE, format="text", model=model)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn child
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    assert server.returncode is not None


def _group(pgid: int) -> dict[int, tuple[str, float]]:
    """Processes of a process group: pid -> (command line, CPU seconds so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # pgrp; utime and stime are fields 14 and 15 of stat
            out[int(entry.name)] = (cmd, (int(fields[11]) + int(fields[12])) / tick)
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process CPU times from /proc")
def test_served_requests_over_their_time_stop_their_work(logged_model, model, tmp_path):
    """Over HTTP: a request over its time is answered at the limit and no CPU goes on burning
    on it; JSON nested 100,000 deep is a 400; the server goes on serving."""
    tracking, model_uri = logged_model
    port = _free_port()
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "MLFLOW_TRACKING_URI": tracking,
        "OMP_NUM_THREADS": "1",
        serving.ENV_TIMEOUT: "1.5",
    }
    log = open(tmp_path / "server.log", "wb")  # closed in the finally below
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(base + "/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not answer /ping within 120 s"
            time.sleep(0.5)

        workers = {pid for pid, (cmd, _) in _group(server.pid).items() if "spawn_main" in cmd}
        busy = _records([{"id": f"p{i}", "html": BUSY_PAGE} for i in range(300)])  # some 4 s of work
        t0 = time.monotonic()
        status, body = _post(base + "/invocations", busy)
        took = time.monotonic() - t0
        assert status == 504, body[:2000]
        assert "took longer than the 1.5 s limit (CHROMESIFT_SERVE_TIMEOUT) and its work was stopped" in body
        assert took < 15  # reading 16 MB of JSON, then 1.5 s
        time.sleep(1.0)
        first = _group(server.pid)
        assert not workers & first.keys()  # the worker that held the page was killed
        time.sleep(2.0)
        second = _group(server.pid)
        # the server's own processes (MLflow's CLI, uvicorn) sit idle: nothing classifies on
        cpu = {first[p][0][:80]: second[p][1] - first[p][1] for p in first.keys() & second.keys()
               if "spawn_main" not in first[p][0]}
        assert all(seconds < 0.5 for seconds in cpu.values()), cpu

        deep = '{"dataframe_records": [{"id": "deep", "html": ' + "[" * 100_000 + "]" * 100_000 + "}]}"
        status, body = _post(base + "/invocations", deep.encode())
        assert status == 400 and "nested too deeply" in body, body[:2000]

        # a fresh worker loads in a few seconds; with a 1.5 s limit the requests before
        # it is ready are told the server is busy (503), then it serves
        deadline = time.monotonic() + 90
        while (answer := _post(base + "/invocations", _records([{"id": "t", "text": TEXT_PAGE}])))[0] == 503:
            assert "no worker process became free" in answer[1] and time.monotonic() < deadline, answer[1][:2000]
            time.sleep(1)
        status, body = answer
        assert status == 200, body[:2000]
        assert json.loads(body)["predictions"][0]["main_text"] == chromesift.extract(TEXT_PAGE, format="text", model=model)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_the_default_scope_reads_a_page_that_says_it_is_a_forum_thread_as_all(model):
    posts = "".join(f"<div class='post'><div class='author'>member{k}</div><div class='message'>Reply {k}: "
                    "I had the same trouble with the pump last winter, replaced the seal and bled the line, "
                    "and it held its pressure after an hour.</div></div>" for k in range(5))
    page = ("<html><head><title>Pump - Forum</title><meta name='generator' content='phpBB'></head><body>"
            f"<h1>Pump loses pressure</h1>{posts}</body></html>")
    assert serving.DEFAULT_SCOPE == "auto"
    assert [p.default for p in serving.params_schema().params] == ["auto"]
    frame = pd.DataFrame({"id": ["t"], "html": [page]})
    for scope in (None, "auto"):
        assert serving.predict_frame(model, frame, scope=scope)["main_text"][0] == model.extract(page, scope="all")
    probs = json.loads(serving.predict_frame(model, frame, scope="article")["paragraphs"][0])
    article = model.classify(page, scope="article")["probability"].tolist()
    assert [p["probability"] for p in probs] == pytest.approx(article, abs=1e-4)  # (records round to 4 places)
    wide = model.classify(page, scope="all")["probability"].tolist()
    assert max(abs(a - b) for a, b in zip(article, wide, strict=True)) > 1e-3  # the two readings differ
