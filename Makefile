# mlmon developer loop. `make help` lists the targets.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
DEBIAN_PACKAGES := redis-server kcat chromium prometheus-alertmanager

.DEFAULT_GOAL := help
.PHONY: help setup run test test-unit test-integration lint format schemas bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

setup: ## install everything: uv, Debian packages (redis-server, kcat, chromium, alertmanager), the workspace
	@command -v uv >/dev/null || python3 -m pip install --quiet uv
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "apt-get install$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "please install:$$missing (sudo apt-get install$$missing)"; exit 1; fi; fi
	@$(UV) sync --frozen --all-packages --quiet

run: setup ## run the embedded stack: local broker + Redis + every service + simulated fleet (Ctrl-C stops)
	$(UV) run mlmon up

test: setup ## install everything and run the whole suite (unit, integration, e2e) against a real broker and Redis
	$(UV) run pytest

test-unit: setup ## unit tests only (no broker, no Redis)
	$(UV) run pytest -m unit

test-integration: setup ## integration + e2e tests only
	$(UV) run pytest -m "integration or e2e"

lint: setup ## ruff (lint + format check) and mypy (strict on mlmon_common)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy libs/common/src

format: setup ## apply ruff's formatting and safe fixes
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

schemas: setup ## regenerate schemas/ (JSON Schema of every event) from mlmon_common.events
	$(UV) run mlmon schemas export

bench: setup ## run the benchmarks (results go in BENCHMARKS.md by hand, with the command)
	$(UV) run python bench/bench_sdk.py
	$(UV) run python bench/bench_runner.py

clean: ## stop a leftover local stack and remove run state
	-$(UV) run mlmon infra down
	rm -rf .run .pytest_cache .ruff_cache .mypy_cache
