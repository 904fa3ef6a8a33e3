# The two commands of the README: `make reproduce` and `make test`. Each bootstraps what it
# needs (.venv, the offline wheelhouse and pinned uv under .lab/) and skips what already exists.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHELAB := $(BIN)/cachelab
BACKEND ?= auto
BENCH_BACKEND ?= local
ARGS ?=
# mmdebstrap builds the base image from Debian's packages; installed here when missing (as root).
APT_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: all setup mmdebstrap images reproduce test lint typecheck unit matrix bench clean distclean

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

mmdebstrap:
	@command -v mmdebstrap >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || $(APT_INSTALL) mmdebstrap >/dev/null

# Runner images, rebuilt only when their inputs change. `reproduce` skips them where no
# Docker engine answers (the local backend needs none); `test` needs them.
images: setup mmdebstrap
	$(CACHELAB) images

reproduce: setup mmdebstrap
	$(CACHELAB) images --if-engine
	$(CACHELAB) compare scenarios/issue-15380.toml --subjects uv,narrow --backend $(BACKEND) $(ARGS)

# The workflow is checked offline: GitHub's schema as vendored by check-jsonschema, and
# zizmor's audits that need no network.
lint: $(VENV)/.installed
	$(BIN)/ruff check lab tests
	$(BIN)/ruff format --check lab tests
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --persona=pedantic .github/workflows

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# Without an engine the Docker tests skip, except under CI=true, where they fail.
unit: setup mmdebstrap
	$(CACHELAB) images --if-engine
	$(BIN)/pytest

test: lint typecheck unit

clean:
	rm -rf runs

distclean: clean
	rm -rf $(VENV) .lab

# Every template × subject × topology with 2 runners, then the shared-tree setuptools trials.
matrix: images
	$(CACHELAB) matrix --backend $(BACKEND) --trials 10

bench: images
	$(CACHELAB) bench backends
	$(CACHELAB) bench subjects --backend $(BENCH_BACKEND)
