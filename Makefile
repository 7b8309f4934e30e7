# The README's two commands: `make run` and `make test`. Everything installs into .venv/.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: run test install browser ingest eval bench lint

run: install
	$(VENV)/bin/assistant serve

test: install browser
	$(VENV)/bin/ruff check assistant evals tests scripts
	$(PY) -m pytest

install: $(VENV)/.installed

# torch first, by its exact version: this machine has a local CPU build of 2.13.0, and any
# looser requirement would pull several GB of CUDA packages.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test]'
	touch $@

# Browser tests: Debian's Chromium (never a downloaded browser) and axe-core from npm.
browser: node_modules/axe-core/axe.min.js
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

node_modules/axe-core/axe.min.js:
	npm install --no-save --no-audit --no-fund --silent axe-core@4

ingest: install
	$(VENV)/bin/assistant ingest

eval: install
	$(VENV)/bin/assistant eval --baseline

bench: install
	$(PY) scripts/bench.py

lint: install
	$(VENV)/bin/ruff check assistant evals tests scripts
