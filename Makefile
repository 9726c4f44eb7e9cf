# bizagent: `make run` sets up and runs the app, `make test` sets up and runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# pip says only what went wrong (errors stay visible).
PIP_QUIET := --quiet --disable-pip-version-check --no-warn-script-location

.PHONY: run test lint format bench clean messages

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "bizagent needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_QUIET) --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_QUIET) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_QUIET) -e '.[test]'
	touch $@ $(VENV)/.installed-app

# A secret key is generated once into .env (never printed, never committed).
.env:
	umask 077; echo "DJANGO_SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env

run: $(VENV)/.installed-app .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py copilot_docs
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py governance_schedules
	$(BIN)/python manage.py workflow_schedules
	$(BIN)/python manage.py goal_schedules
	@# A generated admin password goes from ensure_admin to serve through this one line's
	@# environment (no file, no log); serve prints it last, with the URL, once it is up.
	@password="$$($(BIN)/python manage.py ensure_admin --hand-over)" && BIZAGENT_ONE_TIME_ADMIN_PASSWORD="$$password" exec $(BIN)/python manage.py serve

# System packages (Chromium, PostgreSQL, Redis) come from Debian when we are root.
test: $(VENV)/.installed-test
	tests/system_packages.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	tests/run_suite.sh

# mypy reads its settings (the apps it checks, the django-stubs plugin) from pyproject.toml.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

format:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# The bench extra (LangGraph, the yardstick of benchmarks/loop.py) only here: the app does not
# depend on it.
$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_QUIET) -e '.[test,bench]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-app

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/llm_roundtrip.py
	$(BIN)/python benchmarks/loop.py
	$(BIN)/python benchmarks/admin.py
	$(BIN)/python benchmarks/workflow_engine.py
	$(BIN)/python benchmarks/copilot_docs.py

# New marked strings into locale/*/django.po, then the .mo compiled (pure Python, no
# gettext binaries): translate the new entries, run it again, commit both files.
messages: $(VENV)/.installed-test
	$(BIN)/python -m bizagent.i18n_messages update
	$(BIN)/python -m bizagent.i18n_messages compile

clean:
	rm -rf $(VENV) var
