# Two entry points that work on a fresh machine: `make train` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
JOBS ?= 2
export OMP_NUM_THREADS ?= 1

.PHONY: train test data lint bench evaluate clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

$(VENV)/.peers: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev,peers]"
	touch $@

data: $(VENV)/.installed
	$(VENV)/bin/chromesift data build --jobs $(JOBS)

train: data
	$(VENV)/bin/chromesift train

test: $(VENV)/.peers
	bash .ci/install-chromium.sh || echo "chromium could not be installed: browser test will skip"
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check chromesift tests benchmarks

evaluate: $(VENV)/.peers
	$(VENV)/bin/chromesift evaluate --peers all

bench: $(VENV)/.peers
	$(PY) benchmarks/speed.py

clean:
	rm -rf $(VENV) build *.egg-info
