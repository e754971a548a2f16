"""Linters as tests: ruff (with Airflow's AIR rules) over the Python code, and sqlfluff (postgres
dialect, dbt templater) over the dbt project. The dbt templater connects to the warehouse, so it runs
against the test session's embedded PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from shumei.settings import REPO_ROOT

BIN = Path(sys.executable).parent


def test_ruff_clean():
    result = subprocess.run([str(BIN / "ruff"), "check", "."], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


@pytest.mark.integration
def test_sqlfluff_clean(pg_server):
    result = subprocess.run([str(BIN / "sqlfluff"), "lint", "--processes", "2", "dbt_project"], cwd=REPO_ROOT,
                            capture_output=True, text=True, env=dict(os.environ), timeout=900)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
