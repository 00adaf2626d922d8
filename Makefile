# Signet — the two commands a new machine needs are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
export SIGNET_VAR_DIR ?= $(CURDIR)/var
PYTEST_ARGS ?=

.PHONY: run test test-slow bench lint fmt openapi openapi-check system venv token migrate seed frontend clean help

help:
	@echo "make run      install what is missing, prepare the SoftHSM token, migrate, seed, build the PWA, serve"
	@echo "make test     the test suite (SQLite + embedded broker; TEST_DATABASE_URL/TEST_BROKER_URL for PG/Redis)"
	@echo "make test-slow  fault injection and long batches (CI runs them on PostgreSQL + Redis)"
	@echo "make bench    benchmarks; prints 'name: value' lines"
	@echo "make lint     ruff + mypy"
	@echo "make openapi  regenerate schemas/openapi.json"

system:
	@.ci/system-deps

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

token: system venv
	@$(FLASK) hsm init-dev-token

migrate: venv
	@$(FLASK) db-upgrade

seed: migrate token
	@if $(FLASK) --help | grep -q ' seed-demo'; then $(FLASK) seed-demo; fi

frontend:
	@if [ -f frontend/package.json ]; then \
	  cd frontend && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run build --silent; \
	fi

run: system venv migrate token seed frontend
	@.ci/serve

# the browser tests run in a process of their own: Playwright's event loop and its live server's
# session-wide state stay out of the other tests' way
test: system venv frontend
	$(PY) -m pytest -m "not slow and not e2e" $(PYTEST_ARGS)
	$(PY) -m pytest -m "e2e and not slow" $(PYTEST_ARGS)

test-slow: system venv frontend
	$(PY) -m pytest -m slow --timeout 1500 $(PYTEST_ARGS)

bench: system venv frontend
	$(PY) -m tests.benchmarks

lint: venv
	$(VENV)/bin/ruff check app tests migrations wsgi.py gunicorn.conf.py
	$(VENV)/bin/ruff format --check app tests migrations wsgi.py gunicorn.conf.py
	$(VENV)/bin/mypy

fmt: venv
	$(VENV)/bin/ruff check --fix app tests migrations wsgi.py gunicorn.conf.py
	$(VENV)/bin/ruff format app tests migrations wsgi.py gunicorn.conf.py

openapi: venv
	@SIGNET_VAR_DIR=$$(mktemp -d) $(PY) -m app.openapi > schemas/openapi.json
	@echo "schemas/openapi.json regenerated"

openapi-check: venv
	@SIGNET_VAR_DIR=$$(mktemp -d) $(PY) -m app.openapi | diff -u schemas/openapi.json - \
	  || { echo "schemas/openapi.json is stale: run 'make openapi' and commit it"; exit 1; }

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache frontend/dist
