# The two commands of the README: `make reproduce` and `make test`. Each bootstraps what it
# needs (.venv, the offline wheelhouse and pinned uv under .lab/) and skips what already exists.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHELAB := $(BIN)/cachelab
BACKEND ?= local
ARGS ?=

.PHONY: all setup reproduce test lint typecheck unit clean distclean

all: reproduce

$(BIN)/activate:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "cachelab needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed
	$(CACHELAB) setup

reproduce: setup
	$(CACHELAB) run scenarios/issue-15380.toml --backend $(BACKEND) $(ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check lab tests
	$(BIN)/ruff format --check lab tests

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest

test: lint typecheck unit

clean:
	rm -rf runs

distclean: clean
	rm -rf $(VENV) .lab
