# MovieRec: `make run` starts everything, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test lint db-stop

setup: $(STAMP)

# Reinstall only when the pinned requirements change: `make setup` is quick when nothing did.
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

# Development server by default; set DEBUG=0 and a real SECRET_KEY for production-like runs.
run: export DEBUG ?= 1
run: setup
	$(PY) manage.py bootstrap
	$(PY) manage.py serve

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff, migrations in step with the models, and the apps' layering (pyproject.toml [tool.importlinter]).
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports

db-stop: setup
	DEBUG=1 $(PY) -c "from pathlib import Path; from movierec_site.embedded_db import stop_embedded_server; stop_embedded_server(Path('.pgdata'))"
