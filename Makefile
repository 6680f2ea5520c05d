# The two commands: `make run` serves heedful on SQLite, `make test` runs the whole suite.
# Both create .venv with the interpreter below if it is missing and keep it installed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Unset, `serve` listens where the settings say (HEEDFUL_HOST/HEEDFUL_PORT, .env, else
# 127.0.0.1:8787); `make run PORT=9000` passes an option, which wins over them.
HOST ?=
PORT ?=

.PHONY: run test check lint typecheck coverage-doc clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/heedful serve$(if $(HOST), --host $(HOST))$(if $(PORT), --port $(PORT))

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

check: lint typecheck

coverage-doc: $(VENV)/.installed-dev
	$(BIN)/python -m heedful.ops.coverage > docs/coverage.md

clean:
	rm -rf $(VENV) .heedful .pytest_cache .mypy_cache .ruff_cache
