"""Where the dbt project and its manifest are, and how the manifest is made.

The warehouse DAG renders one Airflow task per dbt model from `target/manifest.json`
(Cosmos LoadMode.DBT_MANIFEST), so parsing the DAG file needs no dbt call, database or network.
`make run` / `make test` (and the compose stack's init) write the manifest with `dbt parse`.
"""

from __future__ import annotations

import os
import subprocess
import types
from pathlib import Path

from shumei.settings import REPO_ROOT, bin_path


def dbt_project_dir() -> Path:
    return Path(os.environ.get("SHUMEI_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"))


def dbt_manifest_path() -> Path:
    path = dbt_project_dir() / "target" / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make dbt-parse` (dbt parse) before loading the DAGs")
    return path


def dbt_parse() -> None:
    """Writes target/manifest.json (no database connection needed)."""
    dbt = bin_path("dbt")
    subprocess.run([dbt, "parse", "--quiet", "--project-dir", str(dbt_project_dir()),
                    "--profiles-dir", str(dbt_project_dir())], check=True)


def dbt_docs() -> Path:
    """`dbt docs generate` against the warehouse (it reads the catalog from the database)."""
    dbt = bin_path("dbt")
    subprocess.run([dbt, "docs", "generate", "--project-dir", str(dbt_project_dir()),
                    "--profiles-dir", str(dbt_project_dir())], check=True)
    return dbt_project_dir() / "target" / "index.html"


# dbt's verdict on a test node that fails the task: `fail` (the test found rows) is a finding about the
# data; `error` is a test that could not run (a lost connection, a timeout), retried like a model.
_TEST_FINDING = "fail"


def failed_tests_fail_at_once(task_group) -> None:
    """Retries on models, none on tests (issue 14). Each task of the Cosmos group runs `dbt build` of
    one model with its tests, or the tests on several models; the task keeps its retries for what a
    retry can mend (a model that errored, a test that could not run), but when the only nodes that
    went wrong are tests that failed, the task fails at once (AirflowFailException): a retry finds
    the same rows minutes later. The message is dbt's (test names and row counts, never a value)."""
    for task in task_group.iter_tasks():
        if hasattr(task, "handle_exception_dbt_runner"):
            task.handle_exception_dbt_runner = types.MethodType(_handle_dbt_result, task)


def _handle_dbt_result(operator, result) -> None:
    from airflow.sdk.exceptions import AirflowFailException
    from cosmos.dbt.runner import handle_exception_if_needed

    if not result.success and result.exception is None:
        wrong = [r for r in result.result.results if r.status in ("error", "fail", "runtime error")]
        if wrong and all(r.node.resource_type == "test" and r.status == _TEST_FINDING for r in wrong):
            detail = "\n".join(f"{r.node.name}: {r.message}" for r in wrong)
            raise AirflowFailException(f"dbt tests failed (not retried: a finding about the data):\n{detail}")
    handle_exception_if_needed(result)
