# scrm-workorders: `make help` lists the targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install browser demo test lint format unit integration infra e2e bench synth fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@command -v node >/dev/null || { echo "Node.js 20+ is required for CDK synth (jsii)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[infra,dev]'
	touch $(STAMP)

CONSOLE_VENDOR := console/app/vendor/preact-htm.js

# The web console's front-end packages, from npm (console/package-lock.json), copied as ES modules
# into console/app/vendor: no build step, nothing fetched from a CDN when the console runs.
$(CONSOLE_VENDOR): console/package.json console/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is required for the console's packages"; exit 1; }
	cd console && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	mkdir -p console/app/vendor
	cp console/node_modules/htm/preact/standalone.module.js $(CONSOLE_VENDOR)

install: $(STAMP) $(CONSOLE_VENDOR) ## create .venv with the package, the `scrm` command and the dev tools; vendor the console's packages

browser: ## headless Chromium and chromedriver for the browser tests (apt-get when root, else says how)
	@if { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } \
	    && command -v chromedriver >/dev/null 2>&1 \
	    && { ! command -v fc-list >/dev/null 2>&1 || [ -n "$$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]; }; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Chromium, chromedriver and a Chinese font (Debian packages, no recommends) for the browser tests"; \
	  mkdir -p .build; \
	  if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	       --no-install-recommends chromium chromium-driver fonts-wqy-microhei; } >.build/apt-chromium.log 2>&1; then \
	    echo "installed: $$(chromium --version 2>/dev/null)"; \
	  else \
	    tail -n 20 .build/apt-chromium.log; \
	    echo "Chromium could not be installed (log: .build/apt-chromium.log): the dashboard screenshot" \
	      "test skips without it, and fails under CI=true"; \
	  fi; \
	else \
	  echo "no Chromium on PATH, and it installs itself only as root with apt-get: install the" \
	    "'chromium' package to run the dashboard screenshot test (it skips without it, fails under CI=true)"; \
	fi

demo: install ## run the guided demo on the local twin (no AWS account needed)
	$(BIN)/scrm demo

lint: install ## ruff, mypy, layer contracts (lint-imports), dead code (vulture), dependencies (deptry)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --cache-dir .build/import-linter
	$(BIN)/vulture
	$(BIN)/deptry .
	@echo "deptry: what Lambda bundles (functions, shared) needs only [project].dependencies"
	$(BIN)/deptry functions shared --optional-dependencies-dev-groups infra,dev

format: install ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: browser lint ## lint, then every test (unit, integration, infra, e2e)
	$(BIN)/pytest -q

unit: install ## unit tests only
	$(BIN)/pytest -q tests/unit

fuzz: install ## long profiles: generated tenants (500 examples, 6 tenants, walks) and the API fuzz (schemathesis x8)
	$(BIN)/pytest -q -m fuzz tests/unit/test_generated_tenants.py tests/e2e/test_generated_walk.py
	SCRM_FUZZ_SCALE=$${SCRM_FUZZ_SCALE:-8} $(BIN)/pytest -q tests/e2e/test_schemathesis.py && cat .build/fuzz/schemathesis.json

synth: install ## synthesize the example tenants into cdk.out
	$(BIN)/scrm synth examples/tenants/*.yaml --out cdk.out

bench: install ## run every benchmark
	$(BIN)/scrm bench lifecycle

clean: ## remove the venv and build output
	rm -rf $(VENV) cdk.out .build .pytest_cache .mypy_cache .ruff_cache
