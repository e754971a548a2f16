"""DAG integrity and policy (as Mozilla's telemetry-airflow does): every DAG file imports cleanly,
without touching a database, the network or a heavy library, and every DAG carries owner, tags, retries,
a failure callback, a finite execution timeout and documentation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from shumei.settings import REPO_ROOT

DAGS_DIR = REPO_ROOT / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_dag_files_exist():
    assert DAG_FILES, "no DAG files found"


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_file_defines_a_dag(dagbag):
    files_with_dags = {Path(d.fileloc).name for d in dagbag.dags.values()}
    assert files_with_dags == {p.name for p in DAG_FILES}


def test_every_dag_file_mentions_airflow():
    # the DAG processor silently skips files without the word "airflow"
    for path in DAG_FILES:
        assert "airflow" in path.read_text(encoding="utf-8").lower(), path.name


def test_policy(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md.strip()) > 50, f"{dag_id}: doc_md"
        assert dag.tags and "shumei" in dag.tags, f"{dag_id}: tags"
        assert dag.max_active_runs is not None and dag.max_active_runs <= 3, f"{dag_id}: max_active_runs"
        assert dag.on_failure_callback, f"{dag_id}: DAG failure callback"
        for t in dag.tasks:
            assert t.owner == "shumei-data", f"{dag_id}.{t.task_id}: owner"
            assert t.retries >= 1, f"{dag_id}.{t.task_id}: retries"
            assert t.retry_delay.total_seconds() >= 30, f"{dag_id}.{t.task_id}: retry_delay"
            assert t.on_failure_callback, f"{dag_id}.{t.task_id}: failure callback"


def test_every_task_has_an_execution_timeout(dagbag):
    # a task that hangs (a drop that never finishes reading, a lock never granted) must fail, and
    # retry, instead of blocking its DAG forever; the dbt tasks of Cosmos included
    tasks = [(dag_id, t) for dag_id, dag in dagbag.dags.items() for t in dag.tasks]
    assert any(t.task_id.startswith("dbt.") for _, t in tasks), "no Cosmos dbt task found"
    for dag_id, t in tasks:
        timeout = t.execution_timeout
        assert timeout is not None, f"{dag_id}.{t.task_id}: no execution_timeout"
        assert timedelta(minutes=5) <= timeout <= timedelta(hours=1), f"{dag_id}.{t.task_id}: {timeout}"
        if t.task_id.startswith("dbt."):
            # Airflow's timeout cannot stop a running query: PostgreSQL's limit on the model's
            # statements does, before the task's (tests/dbt/test_build.py checks that it bites)
            limit = t.vars["shumei_statement_timeout"]
            assert limit.endswith("s") and 0 < int(limit[:-1]) < timeout.total_seconds(), (t.task_id, limit)


# Modules a DAG file must not import at parse time: each costs seconds, or reaches for data. The work
# that needs them runs inside tasks. (Parse time itself is not asserted: it depends on the machine's
# load; Cosmos reads the dbt manifest, about 1.3 s for 671 nodes on this machine.)
HEAVY_MODULES = ("dbt", "great_expectations", "pandas", "numpy", "psycopg", "openpyxl", "msgspec")

_PROBE = r"""
import json, socket, subprocess, sys
# Any database or network access at parse time fails the import: sockets are refused, and so is dbt as a
# child process (Cosmos running `dbt ls` instead of reading the manifest).
class _NoNet(socket.socket):
    def connect(self, *a, **k):
        raise RuntimeError(f"network access at DAG parse time: {a}")
    def connect_ex(self, *a, **k):
        raise RuntimeError(f"network access at DAG parse time: {a}")
socket.socket = _NoNet
socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(RuntimeError(f"network access: {a}"))
_popen_init = subprocess.Popen.__init__
def _no_dbt(self, args, *a, **k):
    if "dbt" in str(args):
        raise RuntimeError("dbt run as a child process at DAG parse time")
    _popen_init(self, args, *a, **k)
subprocess.Popen.__init__ = _no_dbt
import airflow.sdk  # the framework's own imports are not the DAG file's
import importlib.util
before = {name.split(".")[0] for name in sys.modules}
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("dagfile_" + str(abs(hash(path))), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} - before)))
"""


def test_dag_files_import_without_database_network_or_heavy_modules():
    env = dict(os.environ)
    # an unreachable metadata database: touching it at parse time would fail
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "postgresql+psycopg://nobody:x@127.0.0.1:1/none"
    result = subprocess.run([sys.executable, "-c", _PROBE, *map(str, DAG_FILES)], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not imported & set(HEAVY_MODULES), f"imported at DAG parse time: {sorted(imported & set(HEAVY_MODULES))}"
