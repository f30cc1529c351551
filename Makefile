# `make test` and `make demo` work on a fresh machine: they create the virtual environment and install
# everything first. HF_HUB_OFFLINE=1: nothing here downloads models; tests build their own tiny ones.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
export HF_HUB_OFFLINE := 1

.PHONY: test test-fast demo bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

## Every test, the slow end-to-end ones included (what CI runs).
test: $(STAMP)
	$(PY) -m pytest -ra

## The fast unit tests only.
test-fast: $(STAMP)
	$(PY) -m pytest -ra -m "not slow"

## Runs notebooks/demo.ipynb headless and prints the cells the model generated.
demo: $(STAMP)
	$(PY) notebooks/run_demo.py

## Speed benchmark (see benchmarks/README.md); not part of the tests.
bench: $(STAMP)
	$(PY) benchmarks/speed.py

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
