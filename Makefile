# CSP Insight: the two commands are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.app-installed
DEV_STAMP := $(VENV)/.dev-installed
PORT ?= 8501

.PHONY: run test demo venv bench clean-data

$(APP_STAMP): requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(DEV_STAMP): $(APP_STAMP) requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(APP_STAMP)

# Demo data and demo users are built only when missing (python -m csp demo is idempotent).
demo: $(APP_STAMP)
	CSP_DEMO=1 $(BIN)/python -m csp demo

run: demo
	CSP_DEMO=1 $(BIN)/python -m streamlit run serve.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

# Every test: unit, AppTest and the real-browser journeys (tests/e2e, marker `browser`), which
# drive Debian's chromium; the app-state tests also run against a real PostgreSQL, and the
# multi-replica tests behind HAProxy (both Debian packages; the tests start private instances);
# the accessibility journeys inject axe-core (npm, pinned in tests/e2e/package.json).
# CI runs as root on Debian, so missing packages are installed here.
test: $(DEV_STAMP)
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	(command -v haproxy && ls /usr/lib/postgresql/*/bin/initdb) >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql haproxy)
	command -v npm >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm)
	test -f tests/e2e/node_modules/axe-core/axe.min.js || npm ci --prefix tests/e2e --no-audit --no-fund
	$(BIN)/python -m pytest -q

bench: $(DEV_STAMP)
	$(BIN)/python -m bench
