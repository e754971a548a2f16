"""dbt from the tests of tests/dbt: the project's dbt with the session's environment (its warehouse)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
VARS = "{shumei_as_of_date: '2024-07-15'}"


def dbt(*args: str, variables: str = VARS, check: bool = True) -> subprocess.CompletedProcess:
    """Runs dbt with `args`; fails the test with dbt's output when dbt fails (unless not `check`)."""
    executable = str(Path(sys.executable).parent / "dbt")
    result = subprocess.run([executable, *args, "--profiles-dir", str(DBT_DIR), "--project-dir", str(DBT_DIR),
                             "--vars", variables], cwd=DBT_DIR, env=dict(os.environ), capture_output=True, text=True)
    assert not check or result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result
