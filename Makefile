# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q -c constraints.txt
OUT ?= results/demo

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.dev: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e '.[dev,dask]'
	touch $@

$(VENV)/.bench: $(VENV)/.dev
	$(PIP) -e '.[dev,dask,bench]'
	touch $@

demo: $(VENV)/.dev
	$(BIN)/acml report --out $(OUT)
	@echo "acml is installed in $(VENV), not on your PATH: run $(BIN)/acml --help," \
		"or 'source $(BIN)/activate' once per shell and then acml --help"

test: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

bench: $(VENV)/.bench
	@set -e; for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(BIN)/python $$script; done

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
