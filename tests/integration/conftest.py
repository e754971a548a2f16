"""Session fixtures of the integration tests: simulated sources for 2022-12-01 .. 2023-03-13 (`shumei-sim
generate`), a hotline simulator process serving its store, and the first release: the three ingest DAGs
load 2022-12-01 .. 2023-03-12 and build_and_publish publishes release 1 as of 2023-03-12, through
`airflow dags test`, against the session's embedded PostgreSQL (tests/conftest.py).

The pipeline runs once per session: test_pipeline.py and test_reconciliation.py read the same published
warehouse. test_pipeline.py later ingests a spoiled day (2023-03-13) into it without publishing.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from pipeline_run import AIRFLOW, BIN, FIRST, INGEST_DAGS, LAST, SIM, SPOILED, assert_succeeded, run_dags


@pytest.fixture(scope="session")
def drops(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pipeline-drops")
    subprocess.run([SIM, "generate", "--out", str(out), "--start", FIRST.isoformat(), "--end", SPOILED.isoformat()],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def hotline(drops, test_env):
    from shumei.local.embedded import free_port

    port = free_port()
    proc = subprocess.Popen([SIM, "serve-hotline", "--db", str(drops / "hotline" / "events.sqlite"),
                             "--host", "127.0.0.1", "--port", str(port), "--rate-limit", "0"],
                            env={**os.environ, "SHUMEI_HOTLINE_TOKEN": test_env["SHUMEI_HOTLINE_TOKEN"]},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "the hotline simulator did not start"
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def dbt_manifest() -> None:
    from shumei.dbt_support import dbt_parse, dbt_project_dir

    if not (dbt_project_dir() / "target" / "manifest.json").exists():
        dbt_parse()


@pytest.fixture(scope="session")
def fresh_warehouse(warehouse_url) -> None:
    """Drops what earlier tests of the session left in the warehouse (every schema the pipeline owns)."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        owned = [r[0] for r in conn.execute("""
            select n.nspname from pg_namespace n join pg_roles r on r.oid = n.nspowner
            where r.rolname = current_user and n.nspname <> 'public'""").fetchall()]
        for name in owned:
            conn.execute(f'drop schema "{name}" cascade')


@pytest.fixture(scope="session")
def pipeline_env(test_env, drops, hotline, tmp_path_factory) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SHUMEI_REGISTRY_DIR": str(drops / "registry"),
        "SHUMEI_CREDIT_DIR": str(drops / "credit"),
        "SHUMEI_HOTLINE_URL": hotline,
        "SHUMEI_HOTLINE_TOKEN": test_env["SHUMEI_HOTLINE_TOKEN"],
        "SHUMEI_GX_DIR": str(tmp_path_factory.mktemp("gx")),
        # the DAGs retry a failed task after 2 min (exponential); Airflow's cap keeps a retry to 1 s here
        "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    return env


@pytest.fixture(scope="session")
def logdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dag-logs")


@pytest.fixture(scope="session")
def first_release(airflow_db, fresh_warehouse, dbt_manifest, pipeline_env, logdir) -> dict[str, float]:
    """History FIRST .. LAST loaded by the three ingest DAGs, then one build_and_publish run: release 1."""
    timings = {}
    # Concurrent `airflow dags test` processes on a fresh metadata DB race to insert the same DAG and
    # Asset rows (UniqueViolation on dag_pkey / idx_asset_name_uri_unique): serialize the DAGs once first.
    started = time.monotonic()
    subprocess.run([AIRFLOW, "dags", "reserialize"], check=True, capture_output=True, env=pipeline_env)
    timings["reserialize"] = time.monotonic() - started
    runs = run_dags(INGEST_DAGS, LAST, pipeline_env, logdir, conf={"load_from": FIRST.isoformat()})
    assert_succeeded(runs)
    timings.update({r.dag_id: r.seconds for r in runs})
    build = run_dags(["build_and_publish"], LAST, pipeline_env, logdir)
    assert_succeeded(build)
    timings["build_and_publish"] = build[0].seconds
    print("\nDAG run seconds:", {k: round(v) for k, v in timings.items()})
    return timings
