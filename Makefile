# The two commands of the README: `make run` (the main job) and `make test` (the whole suite).
# Both create the virtualenv and install the pinned dependencies when they are missing or changed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
# The stamp changes whenever the lock or the project metadata changes, so `make` reinstalls then.
STAMP := $(VENV)/.installed-$(shell cat requirements/requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: help venv sysdeps dbt-parse run stop status test test-fast lint lock airflow-ui dbt-docs dbt-docs-serve data-dictionary

help:
	@echo "make run         the main job: embedded warehouse, simulators, daily pipeline via Airflow, summary"
	@echo "make test        the whole test suite (unit, integration on embedded PostgreSQL, ruff, sqlfluff)"
	@echo "make lint        ruff and sqlfluff only (both also run inside make test)"
	@echo "make stop        stop the simulators and the embedded warehouse"
	@echo "make status      what is running, and the connection URLs"
	@echo "make airflow-ui  Airflow standalone (UI + scheduler) on the same DAGs and warehouse"
	@echo "make dbt-docs    generate the dbt documentation (dbt_project/target/index.html); dbt-docs-serve serves it"
	@echo "make data-dictionary  regenerate docs/data_dictionary.md from the dbt descriptions of schema published"
	@echo "make lock        regenerate requirements/requirements.lock from requirements/requirements.in"

$(STAMP): requirements/requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> installing pinned dependencies into $(VENV) (first time: a few minutes)"
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet -p $(PY) -r requirements/requirements.lock
	$(VENV)/bin/uv pip install --quiet -p $(PY) --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

# Debian packages of the page, workbook and PDF tests (requirements/debian.txt)
sysdeps:
	requirements/sysdeps.sh

dbt-parse: venv
	$(PY) -m shumei dbt-parse

run: venv dbt-parse
	$(PY) -m shumei run $(if $(END_DATE),--end-date $(END_DATE),)

stop: venv
	$(PY) -m shumei stop

status: venv
	$(PY) -m shumei status

test: venv sysdeps dbt-parse
	$(PY) -m pytest -q --durations=15

test-fast: venv
	$(PY) -m pytest -q -m "not integration"

lint: venv
	$(PY) -m pytest -q tests/lint

lock:
	$(VENV)/bin/uv pip compile requirements/requirements.in -p 3.11 -o requirements/requirements.lock

airflow-ui: venv dbt-parse
	$(PY) -m shumei airflow standalone

dbt-docs: venv
	$(PY) -m shumei dbt-docs

data-dictionary: venv
	$(PY) -m shumei data-dictionary

dbt-docs-serve: dbt-docs
	cd dbt_project && ../$(VENV)/bin/dbt docs serve --profiles-dir . --port 8081
