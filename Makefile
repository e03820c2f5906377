# Two entry points that work on a fresh machine: `make train` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
JOBS ?= 2
export OMP_NUM_THREADS ?= 1

.PHONY: train test data lint bench evaluate clean serve spark

$(VENV)/.installed: pyproject.toml setup.py chromesift/models/_forest.c chromesift/data/_walk.pyx \
		chromesift/data/_walk_core.pxi chromesift/data/_lexbor.pyx \
		chromesift/features/_text.pyx chromesift/models/_context.pyx
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

$(VENV)/.peers: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev,peers,metadata]"
	touch $@

$(VENV)/.spark: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev,spark]"
	touch $@

# the Spark extra (pyspark; Spark also needs Java 17+)
spark: $(VENV)/.spark

data: $(VENV)/.installed
	$(VENV)/bin/chromesift data build --jobs $(JOBS)

train: data
	$(VENV)/bin/chromesift train

test: $(VENV)/.peers $(VENV)/.spark
	bash .ci/install-chromium.sh || echo "chromium could not be installed: browser test will skip"
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check chromesift tests benchmarks

# the held-out figures (README: How it compares); needs the built tables (make data). The
# shipped model was trained on most corpora: scoring it on them needs --in-sample.
evaluate: $(VENV)/.peers
	$(VENV)/bin/chromesift evaluate --split leave-one-dataset-out --peers all \
		--train-config benchmarks/lodo.toml --jobs $(JOBS)

bench: $(VENV)/.peers
	$(PY) benchmarks/speed.py

clean:
	rm -rf $(VENV) build *.egg-info

# serve BUNDLE over HTTP on 127.0.0.1:PORT: POST pages to /invocations (README: Serving and Spark)
PORT ?= 5001
BUNDLE ?= chromesift/models/default
serve: $(VENV)/.installed
	$(PY) -m chromesift.cli.serve models/pyfunc --bundle $(BUNDLE)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/mlflow models serve -m models/pyfunc \
		--env-manager local --host 127.0.0.1 --port $(PORT)
