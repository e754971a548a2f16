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
# Apache Superset in its own virtualenv (its pins conflict with Airflow's), for the dashboard test
SUPERSET_VENV := .venv-superset
SUPERSET_STAMP := $(SUPERSET_VENV)/.installed-$(shell cat requirements/superset.lock | sha1sum | cut -c1-12)

.PHONY: help venv superset-venv superset-lock sysdeps sysdeps-run dbt-parse run stop status test test-fast lint lock airflow-ui celery celery-test dbt-docs dbt-docs-serve data-dictionary

help:
	@echo "make run         the main job: embedded warehouse, simulators, daily pipeline via Airflow, summary"
	@echo "                 (END_DATE=YYYY-MM-DD: last day; SCALE=city|province: 10x / 100x sources, one scale a clone)"
	@echo "make test        the whole test suite (unit, integration on embedded PostgreSQL, ruff, sqlfluff)"
	@echo "make lint        ruff and sqlfluff only (both also run inside make test)"
	@echo "make stop        stop the simulators and the embedded warehouse"
	@echo "make status      what is running, and the connection URLs"
	@echo "make airflow-ui  Airflow standalone (UI + scheduler) on the same DAGs and warehouse"
	@echo "make celery      the Celery stack (Redis, scheduler, DAG processor, API server, 2 workers); Ctrl-C stops it"
	@echo "make celery-test the Celery test alone (make test runs it too): ingest + build_and_publish on both workers"
	@echo "make dbt-docs    generate the dbt documentation (dbt_project/target/index.html); dbt-docs-serve serves it"
	@echo "make data-dictionary  regenerate docs/data_dictionary.md from the dbt descriptions of schema published"
	@echo "make lock        regenerate requirements/requirements.lock from requirements/requirements.in"
	@echo "make superset-venv  Apache Superset in .venv-superset (requirements/superset.lock; make test needs it)"

$(STAMP): requirements/requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> installing pinned dependencies into $(VENV) (first time: a few minutes)"
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet -p $(PY) -r requirements/requirements.lock
	$(VENV)/bin/uv pip install --quiet -p $(PY) --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

$(SUPERSET_STAMP): requirements/superset.lock $(STAMP)
	@test -x $(SUPERSET_VENV)/bin/python || $(PYTHON) -m venv $(SUPERSET_VENV)
	@echo "==> installing Apache Superset into $(SUPERSET_VENV) (first time: a few minutes)"
	$(VENV)/bin/uv pip install --quiet -p $(SUPERSET_VENV)/bin/python -r requirements/superset.lock
	@rm -f $(SUPERSET_VENV)/.installed-*
	@touch $@

superset-venv: $(SUPERSET_STAMP)

# Debian packages of the main job (requirements/debian-run.txt: chromium for the bulletin PDF) ...
sysdeps-run:
	requirements/sysdeps.sh debian-run.txt

# ... and of the tests as well (requirements/debian.txt: LibreOffice, poppler, Redis)
sysdeps:
	requirements/sysdeps.sh

dbt-parse: venv
	$(PY) -m shumei dbt-parse

run: venv sysdeps-run dbt-parse
	$(PY) -m shumei run $(if $(END_DATE),--end-date $(END_DATE),) $(if $(SCALE),--scale $(SCALE),)

stop: venv
	$(PY) -m shumei stop

status: venv
	$(PY) -m shumei status

test: venv superset-venv sysdeps dbt-parse
	$(PY) -m pytest -q --durations=15

test-fast: venv
	$(PY) -m pytest -q -m "not integration"

lint: venv
	$(PY) -m pytest -q tests/lint

lock:
	$(VENV)/bin/uv pip compile requirements/requirements.in -p 3.11 -o requirements/requirements.lock

superset-lock:
	$(VENV)/bin/uv pip compile requirements/superset.in -p 3.11 -o requirements/superset.lock

airflow-ui: venv sysdeps-run dbt-parse
	$(PY) -m shumei airflow standalone

# The Celery executor on this machine (include/shumei/local/celery.py); DAILY_RUN=1 also runs the pipeline
celery: venv sysdeps dbt-parse
	$(PY) -m shumei celery $(if $(DAILY_RUN),--daily-run,)

# tests/integration/test_celery.py alone; `make test` runs it with the rest
celery-test: venv sysdeps dbt-parse
	$(PY) -m pytest -q tests/integration/test_celery.py

dbt-docs: venv
	$(PY) -m shumei dbt-docs

data-dictionary: venv
	$(PY) -m shumei data-dictionary

dbt-docs-serve: dbt-docs
	cd dbt_project && ../$(VENV)/bin/dbt docs serve --profiles-dir . --port 8081
