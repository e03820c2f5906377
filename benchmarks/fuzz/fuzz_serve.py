"""Coverage-guided fuzz target (atheris): the HTTP handler of the served model.

Each input is one request to MLflow's scoring handler, ``scoring_server.invocations``
(what ``POST /invocations`` runs), on the pyfunc of the shipped bundle, with its worker
process and limits as served. The first byte picks how the rest becomes a request:

- as the raw body, under a content type drawn from JSON, CSV, Parquet and a few others;
- built into a ``dataframe_records`` or ``dataframe_split`` JSON body from values cut out of
  the rest (ids, ``html``/``text`` cells of any JSON type, other columns, strings with lone
  surrogates written escaped or as invalid UTF-8), so most inputs reach the model.

It fails (a crash libFuzzer saves as ``crash-<sha1>``) on:

- any exception but MlflowException, or an MlflowException that is not a 4xx (a 500, or a
  504/503: a request the worker could not finish in time is worth a look too);
- MLflow's "unexpected error while evaluating the model" 400, which hides an exception of
  the model's own;
- an answer other than 200, 400 and 415, and a 200 whose predictions are not one per row
  (for the requests built here) or whose ``main_text`` is not its content paragraphs.

Run (see README.md beside this file)::

    .venv/bin/python benchmarks/fuzz/fuzz_serve.py -atheris_runs=20000 -dict=benchmarks/fuzz/serve.dict CORPUS_DIR

``--write-seeds DIR`` fills a corpus folder with a few requests first.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path

_CONTENT_TYPES = ("application/json", "application/json; charset=utf-8", "text/csv",
                  "application/vnd.apache.parquet", "application/json; charset=latin-1", "text/plain")
_COLUMNS = ("id", "html", "text", "url", "")
#: Request limits of the served model here (set where it is served, as in production).
MAX_BYTES = 300
MAX_PAGES = 3
_state: dict = {}


def _value(fdp, depth: int = 0):
    """A JSON value: mostly strings (any code point, lone surrogates included), else anything."""
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind <= 2:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 400))
    if kind <= 4:  # markup around the text, so the page has paragraphs to classify
        return f"<p>{fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 200))}</p><nav>Home</nav>"
    if kind == 5:
        return fdp.ConsumeInt(8)
    if kind == 6:
        return fdp.ConsumeRegularFloat() if fdp.ConsumeBool() else fdp.ConsumeFloat()
    if kind == 7:
        return None if fdp.ConsumeBool() else fdp.ConsumeBool()
    if depth >= 2:
        return []
    if kind == 8:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 2))]
    return {fdp.ConsumeUnicode(4): _value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 2))}


def _request(data: bytes) -> tuple[bytes, str, int | None]:
    """(body, content type, rows or None when not built here) of one input."""
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 3)
    if mode == 0:
        ctype = _CONTENT_TYPES[fdp.ConsumeIntInRange(0, len(_CONTENT_TYPES) - 1)]
        return fdp.ConsumeBytes(fdp.remaining_bytes()), ctype, None
    columns = [_COLUMNS[fdp.ConsumeIntInRange(0, len(_COLUMNS) - 1)] for _ in range(fdp.ConsumeIntInRange(0, 3))]
    rows = [[_value(fdp) for _ in columns] for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if mode == 1:
        payload = {"dataframe_records": [dict(zip(columns, row, strict=True)) for row in rows]}
        count = len(rows) if len(set(columns)) == len(columns) and columns else None
    else:
        payload = {"dataframe_split": {"columns": columns, "data": rows}}
        count = len(rows) if len(set(columns)) == len(columns) and columns else None
    text = json.dumps(payload, ensure_ascii=fdp.ConsumeBool())
    # a lone surrogate unescaped can only travel as invalid UTF-8
    return text.encode("utf-8", errors="surrogatepass"), "application/json", count


def test_one_input(data: bytes) -> None:
    """The fuzz target: one request through the scoring handler, checking the answer."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    body, ctype, rows = _request(data)
    model, schema = _state["model"], _state["schema"]
    try:
        answer = scoring_server.invocations(body, ctype, model, schema)
    except MlflowException as exc:
        status = exc.get_http_status_code()
        assert 400 <= status < 500 and status != 404, f"HTTP {status}: {exc.message[:2000]}"
        assert "unexpected error while evaluating the model" not in exc.message, exc.message[:500] + str(
            getattr(exc, "json_kwargs", ""))[:3000]
        return
    assert answer.status in (200, 400, 415), (answer.status, answer.response[:2000])
    if answer.status != 200:
        return
    predictions = json.loads(answer.response)["predictions"]
    if rows is not None:
        assert len(predictions) == rows, (rows, predictions)
    for row in predictions:
        content = [p["text"] for p in json.loads(row["paragraphs"]) if p["is_content"]]
        assert row["main_text"] == "\n".join(content), row


def write_seeds(folder: Path) -> int:
    """A few requests as raw JSON bodies (mode byte 0, then the content type's index 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    page = "<html><body><nav>Home</nav><p>" + "A sentence of the article. " * 5 + "</p></body></html>"
    bodies = {
        "records": {"dataframe_records": [{"id": "p1", "html": page}, {"id": "p2", "text": "a line\nanother line"}]},
        "split": {"dataframe_split": {"columns": ["id", "html"], "data": [["x", page]]}},
        "no-page": {"dataframe_records": [{"id": "a", "url": "http://x.example/"}]},
        "surrogate": {"dataframe_records": [{"id": "sur\ud800", "html": "<p>caf\u00e9 \ud800</p>"}]},
    }
    for name, body in bodies.items():
        (folder / name).write_bytes(b"\x00\x00" + json.dumps(body).encode())
    return len(bodies)


def main(argv: list[str]) -> None:
    """Set up atheris with libFuzzer's arguments and fuzz until it stops."""
    if len(argv) > 2 and argv[1] == "--write-seeds":
        print(f"{write_seeds(Path(argv[2]))} seeds in {argv[2]}")
        return
    import atheris

    with atheris.instrument_imports(include=["chromesift"]):
        import mlflow

        import chromesift.runtime.serving as serving
        from chromesift.models import DEFAULT_BUNDLE

    logging.getLogger("mlflow").setLevel(logging.ERROR)  # a warning per request with an extra column
    # small limits, so that inputs of a few hundred bytes meet them
    os.environ.setdefault(serving.ENV_MAX_BYTES, str(MAX_BYTES))
    os.environ.setdefault(serving.ENV_MAX_PAGES, str(MAX_PAGES))
    folder = Path(tempfile.mkdtemp(prefix="chromesift-fuzz-serve-"))
    saved = serving.save_pyfunc_model(DEFAULT_BUNDLE, folder / "model")
    # MLflow imports chromesift again from the model's own code copy: instrument that one
    with atheris.instrument_imports(include=["chromesift"]):
        model = mlflow.pyfunc.load_model(str(saved))
    _state["model"], _state["schema"] = model, model.metadata.get_input_schema()
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
