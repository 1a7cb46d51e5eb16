# pixgate developer commands. Everything runs from the virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck unit bench clean

install: $(STAMP)

$(STAMP): pyproject.toml signing/pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "pixgate needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./signing -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/pixgate serve --dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: install
	$(BIN)/python -m loadtest.bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
