# Local development tasks (GNU make).  `make help` lists them.
#
#   make install   .venv (Python >= 3.11) and node_modules (Azurite), redone only when
#                  requirements*.txt or package*.json change
#   make run       Azurite + the app on 127.0.0.1:$(PORT), prints the SCIM URL and a token
#   make test      the test suite against a fresh in-memory Azurite (and, as root, installs
#                  Debian's Chromium and ChromeDriver for the sign-in browser test when missing)
#
# `make run` execs scripts/run.py: signal that script (its PID is in .local/run.pid)
# to stop everything; SIGTERM to the `make` process works too, as GNU make passes
# SIGTERM on to the recipe it is running.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.requirements-installed
NODE_STAMP := node_modules/.package-lock-installed
PY_VERSION_OK := import sys; sys.exit(sys.version_info < (3, 11))

# Command-line settings reach the scripts through the environment.
export PORT AZURITE_PORT AZURITE_QUEUE_PORT SCIM_DEV_TOKEN PYTEST_ARGS TEST_WORKERS DEVHOST_ACCESS_LOG

.DEFAULT_GOAL := help
.PHONY: help install run test clean clean-data distclean

help: ## list the targets
	@echo "Targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Settings: PORT (7071), AZURITE_PORT (10002), AZURITE_QUEUE_PORT (10001), SCIM_DEV_TOKEN (32+ characters), PYTEST_ARGS, TEST_WORKERS (CPUs + 1), PYTHON (python3)"

install: $(PY_STAMP) $(NODE_STAMP) ## create .venv and node_modules, only what is out of date

$(VPY):
	@$(PYTHON) -c '$(PY_VERSION_OK)' >/dev/null 2>&1 || { \
	  echo "error: Python >= 3.11 is needed; '$(PYTHON)' is $$($(PYTHON) -V 2>&1)." \
	       "Try: make install PYTHON=python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml | $(VPY)
	@$(VPY) -c '$(PY_VERSION_OK)' || { \
	  echo "error: $(VENV) has $$($(VPY) -V 2>&1); Python >= 3.11 is needed. Remove $(VENV) and rerun." >&2; exit 1; }
	$(VPY) -m pip install --quiet -r requirements-dev.txt
	$(VPY) -m pip install --quiet --no-deps -e .   # the scimctl command
	@touch $@

# `npm ci` installs exactly package-lock.json; without a lock yet, `npm install` writes one.
$(NODE_STAMP): package.json $(wildcard package-lock.json)
	@command -v npm >/dev/null || { echo "error: npm (Node.js >= 20) is needed for Azurite" >&2; exit 1; }
	@if [ -f package-lock.json ]; then \
	  echo "npm ci"; npm ci --no-audit --no-fund; \
	else \
	  echo "npm install"; npm install --no-audit --no-fund; \
	fi
	@touch $@

run: install ## start Azurite and the app on 127.0.0.1; Ctrl-C stops both
	exec $(VPY) scripts/run.py

test: install ## run pytest against a fresh in-memory Azurite (PYTEST_ARGS='-k ...')
	@$(VPY) scripts/browser.py ensure   # Chromium for the sign-in browser test, installed when missing (as root)
	$(VPY) scripts/test.py

# `bench/` is also a folder: without .PHONY make would think the target is up to date.
.PHONY: bench
bench: install ## run the benchmark (BENCH_ARGS='--quick'); report in bench-results/
	$(VPY) -m bench.run $(BENCH_ARGS)

clean: ## remove Python and test caches
	find . -path ./$(VENV) -prune -o -path ./node_modules -prune -o -name __pycache__ -type d -exec rm -rf {} +
	rm -rf .pytest_cache .hypothesis

clean-data: ## delete the local Azurite data in .local/azurite (the dev token is kept)
	rm -rf .local/azurite

distclean: clean ## clean, and remove .venv and node_modules too
	rm -rf $(VENV) node_modules

# The long fuzz: the property tests with FUZZ_SCALE times their examples and the
# HTTP fuzz with FUZZ_REQUESTS requests, under a random seed that is printed
# first (FUZZ_SEED=N replays a run).  `make test` runs the same tests smaller,
# derandomized.  docs/reliability.md, "Fuzzing", records runs.  One process by
# default (TEST_WORKERS=0), so that each shard's summary line is printed.
.PHONY: fuzz soak
fuzz: install ## long fuzz, random seed printed (FUZZ_SEED, FUZZ_SCALE=20, FUZZ_REQUESTS=100000)
	@seed="$${FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"; \
	echo "FUZZ_SEED=$$seed"; \
	FUZZ_SEED=$$seed FUZZ_SCALE=$${FUZZ_SCALE:-20} FUZZ_REQUESTS=$${FUZZ_REQUESTS:-100000} TEST_WORKERS=$${TEST_WORKERS:-0} \
	PYTEST_ARGS="tests/property tests/integration/test_http_fuzz.py -s -q --hypothesis-seed=$$seed" \
	$(VPY) scripts/test.py

# A bounded soak: three tenants at 25 requests/s each against the app in the dev
# host, as `make run` starts it (scripts/soak.py; not part of `make test`).
soak: install ## 3 tenants x 25 req/s for SOAK_SECONDS (600); errors, RSS and p99 per minute
	$(VPY) scripts/soak.py --seconds $${SOAK_SECONDS:-600} $(SOAK_ARGS)

# The store invariant checker (shared/storage/store_check.py, docs/reliability.md "Store
# invariant checker") on one tenant; storage from SCIM_STORAGE_CONNECTION_STRING /
# SCIM_STORAGE_TABLE_ENDPOINT, else the Azurite of `make run` on AZURITE_PORT.
.PHONY: check-store
check-store: install ## orphan/dangling rows and counters of TENANT=<id>; REPAIR=1 fixes them
	@test -n "$(TENANT)" || { echo "usage: make check-store TENANT=<tenant id> [REPAIR=1]" >&2; exit 2; }
	@SCIM_STORAGE_CONNECTION_STRING="$${SCIM_STORAGE_CONNECTION_STRING:-$$(test -n "$$SCIM_STORAGE_TABLE_ENDPOINT" || \
	  $(VPY) -c 'import sys; from scripts.azurite import connection_string; print(connection_string(int(sys.argv[1])))' \
	  "$${AZURITE_PORT:-10002}")}" $(VPY) -m shared.storage.store_check --tenant "$(TENANT)" $(if $(REPAIR),--repair)
