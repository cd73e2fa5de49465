# Storeplane: `make demo` runs the platform, `make test` runs every test tier.
# Everything a fresh machine lacks (venv, Python deps, Debian packages, Go-built binaries) is installed
# by these targets; nothing is expected to be installed by hand.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
# Debian packages the tests use: shellcheck for chart scripts, chromium for browser tests,
# php-cli/php-mysql/mariadb-server/curl to run the store set-up and order-test scripts for real,
# postgresql for the multi-replica database tests, nginx-light to run the store chart's redirect server.
DEBIAN_PACKAGES := shellcheck chromium postgresql php-cli php-mysql mariadb-server curl nginx-light

.PHONY: help deps venv system-deps tools medusa-deps lint fmt test test-fast test-cluster test-browser \
        test-native cluster-up cluster-down demo bench clean

help:
	@echo "make demo          run Storeplane on SQLite + the simulated cluster (or \$$KUBECONFIG)"
	@echo "make test          install everything, then ruff and all tests (unit, cluster, browser)"
	@echo "make test-fast     unit tests only (no cluster, no browser)"
	@echo "make test-native   the Medusa store natively: set-up twice, an order, the admin API"
	@echo "make cluster-up    start the simulated cluster in the background (.cluster/env to source)"
	@echo "make cluster-down  stop it"
	@echo "make tools         build the pinned cluster binaries and helm into the machine cache"
	@echo "make bench         print the benchmark numbers"

deps: venv system-deps tools medusa-deps

venv: $(VENV)/.synced
$(VENV)/.synced: pyproject.toml uv.lock
	test -x $(VENV)/bin/python || python3.11 -m venv $(VENV)
	$(VENV)/bin/pip install -q "uv==$(UV_VERSION)"
	$(VENV)/bin/uv sync --frozen --extra dev --python $(PY)
	touch $@

system-deps:
	@missing=""; \
	command -v shellcheck >/dev/null || missing="$$missing shellcheck"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v php >/dev/null || missing="$$missing php-cli"; \
	php -r 'exit(extension_loaded("mysqli") ? 0 : 1);' 2>/dev/null || missing="$$missing php-mysql"; \
	command -v mariadb-install-db >/dev/null || missing="$$missing mariadb-server"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	test -x /usr/sbin/nginx || missing="$$missing nginx-light"; \
	node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null \
	  || { echo "Node.js ^20.19 or >=22.12 with npm is required for the Medusa store (Debian bookworm ships 18: install Node from nodejs.org or NodeSource)" >&2; exit 1; }; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

tools:
	bash tools/build.sh

# The Medusa store's npm packages (images/medusa/package-lock.json) and its admin build, installed once
# per machine into ~/.cache/storeplane/medusa-<hash of the lockfile>: a warm run installs nothing.
medusa-deps: system-deps
	bash tools/medusa-deps.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: deps lint
	$(PY) -m pytest -ra --durations=15

test-fast: venv
	$(PY) -m pytest -ra -m unit

test-cluster: deps
	$(PY) -m pytest -ra -m cluster

test-browser: deps
	$(PY) -m pytest -ra -m browser

test-native: venv system-deps medusa-deps
	$(PY) -m pytest -ra -m native

cluster-up: venv tools
	$(PY) -m app.simcluster up --background

cluster-down: venv
	$(PY) -m app.simcluster down

demo: venv tools
	$(PY) -m app.demo

bench: deps
	$(PY) -m bench

clean:
	-$(PY) -m app.simcluster down
	rm -rf .cluster .data .pytest_cache .ruff_cache
