# skewguard: `make setup` once, then `make demo` or `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= clean

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint bench clean

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

test: setup ## run the test suite (needs Redis on 127.0.0.1:6379)
	$(BIN)/python -m pytest

lint: setup ## ruff check and format check
	$(BIN)/ruff check skewguard tests feature_repo benchmarks
	$(BIN)/ruff format --check skewguard tests feature_repo benchmarks

bench: setup ## benchmarks (check vs Evidently, replay, serving, on-demand lookup); each prints its figures
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_check.py
	$(BIN)/python benchmarks/bench_replay.py --with-feast-duckdb
	$(BIN)/skewguard demo --scenario clean >/dev/null
	$(BIN)/python benchmarks/bench_serving.py --runs 11
	$(BIN)/python benchmarks/bench_lookup.py

clean: ## remove generated data and reports (keeps .venv)
	rm -rf feature_repo/data out .pytest_cache
