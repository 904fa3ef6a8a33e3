# The two commands of the README: `make reproduce` and `make test`. Each bootstraps what it
# needs (.venv, the offline wheelhouse and pinned uv under .lab/) and skips what already exists.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHELAB := $(BIN)/cachelab
BACKEND ?= auto
BENCH_BACKEND ?= local
ARGS ?=
# Debian packages the lab uses, installed here when missing (as root): mmdebstrap builds the
# base images from Debian's packages (all that `reproduce` needs); bindfs makes the fault
# campaign's lying-lock mounts, chromium and its driver open the HTML reports in the browser
# test.
IMAGE_PACKAGES := mmdebstrap
DEBIAN_PACKAGES := $(IMAGE_PACKAGES) bindfs chromium chromium-driver
APT_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: all setup image-packages debian-packages images reproduce test fast lint typecheck unit matrix bench real fuzz real-fuzz torture catalog demo clean distclean

all: reproduce

$(BIN)/activate:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "cachelab needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's metadata changes; the tools of `test` only for it.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed
	$(CACHELAB) setup

# Install (as root) those of the Debian packages $(1) that are missing.
define install-missing
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	[ -z "$$missing" ] || [ "$$(id -u)" != 0 ] || { $(APT_INSTALL) $$missing >/dev/null; }
endef

image-packages:
	$(call install-missing,$(IMAGE_PACKAGES))

debian-packages:
	$(call install-missing,$(DEBIAN_PACKAGES))

# Runner images, rebuilt only when their inputs change. `reproduce` makes only the
# pure-Python one, and none where no Docker engine answers (the local backend needs none);
# `test` needs the native one (compilers) too.
images: setup debian-packages
	$(CACHELAB) images

reproduce: setup image-packages
	$(CACHELAB) images --if-engine --no-native
	$(CACHELAB) compare scenarios/issue-15380.toml --subjects uv,narrow --backend $(BACKEND) $(ARGS)

# The workflow is checked offline: GitHub's schema as vendored by check-jsonschema, and
# zizmor's audits that need no network.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check lab tests
	$(BIN)/ruff format --check lab tests
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --persona=pedantic .github/workflows

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# Before a commit (the pre-commit hooks and the pull-request workflow run the same): ruff,
# mypy and the fast lane, no runner, container or build; under a minute here once set up.
fast: $(VENV)/.installed-dev
	$(BIN)/ruff check lab tests
	$(BIN)/ruff format --check lab tests
	$(BIN)/mypy
	$(BIN)/pytest -m "not integration" -q

# Without an engine the Docker tests skip, except under CI=true, where they fail; so do the
# swarm tests, which form a two-node test swarm (root) and take it down after.
unit: setup debian-packages $(VENV)/.installed-dev
	$(CACHELAB) images --if-engine
	$(BIN)/pytest

test: lint typecheck unit

# A test swarm (`cachelab swarm up`) is taken down too.
clean:
	[ ! -x $(CACHELAB) ] || [ "$$(id -u)" != 0 ] || $(CACHELAB) swarm down
	rm -rf runs

distclean: clean
	rm -rf $(VENV) .lab

# Every template × subject × topology with 2 runners, the median of 3 trials per cell (about
# an hour here), then the shared-tree setuptools trials; appended to docs/benchmarks.md.
matrix: images
	$(CACHELAB) matrix --backend $(BACKEND) --repeat 3 --trials 10 --record docs/benchmarks.md

# The fault campaign. First the unsafe policy, which the checker must catch with every seed
# (torture exits 1 on an invalid trial: anything else fails here), then every fault on uv and
# the reference builder (exit 1 where a trial was invalid or leaked, 3 where one was unknown),
# then every kill point (coalesce's build lock among them) and every pause in turn.
torture: images
	for seed in 1 2 3; do $(CACHELAB) torture none-race --subjects none --trials 10 \
		--seed $$seed --backend $(BACKEND); [ $$? = 1 ] || exit 1; done
	$(CACHELAB) torture issue-15380 --faults kill,pause,enospc,readonly,liar --subjects uv,narrow,coalesce \
		--trials 10 --seed 1 --backend $(BACKEND)
	$(CACHELAB) torture issue-15380 --faults kill --subjects narrow,coalesce --trials 10 --seed 2 \
		--backend $(BACKEND)
	$(CACHELAB) torture issue-15380 --faults pause --subjects coalesce --trials 6 --seed 3 \
		--backend $(BACKEND)

# Each suite appends its tables and charts to docs/benchmarks.md (about 50 minutes here; the
# sleeping hook's cells are the median of 3). The swarm suite forms a 3-node test swarm.
bench: images
	$(CACHELAB) bench backends --record docs/benchmarks.md
	$(CACHELAB) bench subjects --backend $(BENCH_BACKEND) --record docs/benchmarks.md
	$(CACHELAB) bench swarm --nodes 3 --record docs/benchmarks.md

# The corpus of real projects (scenarios/real/: popular sdists, downloaded and checked by
# `setup --real`): each built by uv and the reference builder (narrow, coalesce) at N = 1,
# 2, 4 runners beside lock-free uv, judged by the checker, a table appended to
# docs/benchmarks.md; then the fuzzer over each. Slow (native builds at N = 4 on two cores),
# and not part of `test`.
real: setup
	$(CACHELAB) setup --real
	$(CACHELAB) bench subjects --real --subjects uv,narrow,coalesce --backend $(BENCH_BACKEND) \
		--record docs/benchmarks.md
	$(MAKE) real-fuzz

# The differential fuzzer: seeded random edits to each template's tree (`fuzz`) and each
# corpus sdist's (`real-fuzz`), an install by narrow and coalesce after each edit, judged
# against a cold build; exit 1 where an install was stale.
FUZZ_EDITS ?= 500
FUZZ_ARGS ?=
fuzz: images
	for t in $$(ls lab/projects/templates); do \
		$(CACHELAB) fuzz $$t --edits $(FUZZ_EDITS) --backend $(BACKEND) $(FUZZ_ARGS) || exit 1; done

real-fuzz: setup
	$(CACHELAB) setup --real
	$(CACHELAB) fuzz --real --edits $(FUZZ_EDITS) --backend $(BACKEND) $(FUZZ_ARGS)

# The bug family, scenario by scenario, with uv 0.8.12 and 0.13.9, pip and the reference
# builder (exit 1 where a cell is not as its scenario expects).
catalog: images
	$(CACHELAB) catalog --backend $(BACKEND)

# A guided tour of cache safety, with pauses (ARGS=--no-pause runs it unattended).
demo: images
	$(CACHELAB) demo --backend $(BACKEND) $(ARGS)
