# skewguard: `make setup` once, then `make demo` or `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= clean

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-fast lint bench notebook clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/skewguard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BIN)/skewguard ## create .venv and install skewguard editable with its dev extras

demo: setup ## the end-to-end demo: data, Redis, snapshot, logged traffic, check (SCENARIO=clean|stale|transform_bug|ttl_expiry|trend_shift)
	$(BIN)/skewguard demo --scenario $(SCENARIO)

test: setup ## run the test suite (Redis at $$SKEWGUARD_REDIS, else an embedded redis-server)
	$(BIN)/python -m pytest

test-fast: setup ## the tests that need neither Redis nor a browser, no fault injection (a minute or so)
	$(BIN)/python -m pytest -m "not redis and not browser and not fault"

lint: setup ## ruff check, format check, and mypy (strict for checking/ and report/)
	$(BIN)/ruff check skewguard tests feature_repo benchmarks
	$(BIN)/ruff format --check skewguard tests feature_repo benchmarks
	$(BIN)/mypy

bench: setup ## benchmarks (check vs Evidently, replay, serving, on-demand lookup, materialization); each prints its figures
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_check.py
	$(BIN)/python benchmarks/bench_replay.py --with-feast-duckdb
	$(BIN)/skewguard demo --scenario clean >/dev/null
	$(BIN)/python benchmarks/bench_serving.py
	$(BIN)/python benchmarks/bench_lookup.py
	$(BIN)/python benchmarks/bench_materialize.py
	$(BIN)/python benchmarks/bench_detection.py

notebook: setup ## re-run notebooks/walkthrough.ipynb and store it with its outputs
	$(BIN)/python notebooks/run_walkthrough.py

clean: ## remove generated data and reports (keeps .venv)
	rm -rf feature_repo/data out .pytest_cache
