"""The Celery executor for real: the local Celery stack of shumei.local.celery (a Redis broker, Airflow's
scheduler, DAG processor and API server, two Celery workers: separate processes on this machine, the
compose stack's configuration) runs the three ingest DAGs and the build_and_publish run their Assets
trigger, to a publication.

It has its own embedded PostgreSQL (warehouse and Airflow metadata database) and hotline simulator:
the session's warehouse belongs to the `airflow dags test` tests. The ingest runs are each DAG's next
scheduled interval (the last complete day, by the clock), triggered through the REST API with the
ranged load of the 30 days before it, as `make run` loads its history; the simulator writes 40 days up
to today, so a daily run that falls due while the test runs finds its data too.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pipeline_run import AIRFLOW, SIM, q

pytestmark = pytest.mark.integration

HISTORY_DAYS = 30
RUN_TIMEOUT = 3600  # seconds per wait; a hung stack fails the test instead of blocking the suite (98 tasks on 2 shared cores)


@pytest.fixture(scope="module")
def celery_installation(tmp_path_factory, dbt_manifest):
    """A throwaway installation: embedded PostgreSQL with the project's roles, migrated Airflow
    metadata database, simulated sources and a hotline simulator process."""
    from shumei.local.bootstrap import bootstrap
    from shumei.local.embedded import EmbeddedServer, free_port
    from shumei.local.envfile import build_env

    root = tmp_path_factory.mktemp("celery")
    env = build_env(root, wh_port=free_port(), hotline_port=free_port(), airflow_port=free_port())
    env["SHUMEI_PG_SUPERUSER_PASSWORD"] = secrets.token_hex(16)
    env["SHUMEI_GX_DIR"] = str(root / "gx")
    # the DAGs retry a failed task after 2 min (exponential); Airflow's cap keeps a retry to 1 s here
    env["AIRFLOW__CORE__MAX_TASK_RETRY_DELAY"] = "1"
    server = EmbeddedServer(root=root / "warehouse", port=int(env["SHUMEI_WH_PORT"]),
                            superuser_password=env["SHUMEI_PG_SUPERUSER_PASSWORD"])
    hotline = None
    try:
        server.start()
        server.wait_ready()
        bootstrap(server.superuser_dsn(), env)
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        drops = root / "drops"
        subprocess.run([SIM, "generate", "--out", str(drops), "--start", str(today - timedelta(days=HISTORY_DAYS + 10)),
                        "--end", str(today)], check=True, capture_output=True)
        hotline = subprocess.Popen([SIM, "serve-hotline", "--db", str(drops / "hotline" / "events.sqlite"),
                                    "--host", "127.0.0.1", "--port", env["SHUMEI_HOTLINE_PORT"], "--rate-limit", "0"],
                                   env={**os.environ, "SHUMEI_HOTLINE_TOKEN": env["SHUMEI_HOTLINE_TOKEN"]},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        airflow_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SHUMEI_"))} | env
        Path(env["AIRFLOW_HOME"]).mkdir(parents=True)
        subprocess.run([AIRFLOW, "db", "migrate"], check=True, capture_output=True, env=airflow_env)
        deadline = time.monotonic() + 30
        while not _healthy(env["SHUMEI_HOTLINE_URL"]):
            assert hotline.poll() is None and time.monotonic() < deadline, "the hotline simulator did not start"
            time.sleep(0.2)
        yield env
    finally:
        if hotline is not None:
            hotline.terminate()
            hotline.wait(10)
        server.stop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def celery_run(celery_installation, tmp_path_factory):
    """The stack up, the daily run through it; every process is stopped afterwards, also on failure."""
    from shumei.local.celery import INGEST_DAGS, CeleryStack, daily_run, next_interval_day

    stack = CeleryStack(celery_installation, tmp_path_factory.mktemp("celery-run"))
    started = time.monotonic()
    try:
        stack.start()
        up = time.monotonic() - started
        dags = stack.wait_for_dags(INGEST_DAGS)
        days = {next_interval_day(dags[dag_id]) for dag_id in INGEST_DAGS}
        assert len(days) == 1, f"the ingest DAGs' next intervals differ: {days}"
        day = date.fromisoformat(days.pop())
        runs = daily_run(stack, (day - timedelta(days=HISTORY_DAYS)).isoformat(), timeout=RUN_TIMEOUT)
        print(f"\nCelery stack up in {up:.0f} s; daily run of {day} in {time.monotonic() - started - up:.0f} s")
        yield {"env": celery_installation, "stack": stack, "runs": runs, "day": day,
               "nodes": stack.worker_nodes()}
    finally:
        pids = [proc.pid for proc in stack.procs.values()]
        stack.stop()
    # stopped, whatever happened: no process of the stack, nor of their process groups, is left
    assert not stack.procs and not [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _airflow_db(env) -> str:
    return env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg://", "postgresql://", 1)


def test_every_run_succeeded_and_build_was_asset_triggered(celery_run):
    runs = celery_run["runs"]
    assert {dag_id: run["state"] for dag_id, run in runs.items()} == {
        "ingest_registry": "success", "ingest_credit": "success", "ingest_hotline": "success",
        "build_and_publish": "success"}
    assert runs["build_and_publish"]["run_type"] == "asset_triggered"
    assert all(runs[d]["run_type"] == "manual" for d in ("ingest_registry", "ingest_credit", "ingest_hotline"))


def test_tasks_ran_on_both_workers_through_celery(celery_run):
    env, runs = celery_run["env"], celery_run["runs"]
    rows = q(_airflow_db(env), """select dag_id, task_id, state, hostname, queue from task_instance
                                  where (dag_id, run_id) in (select unnest(%s::text[]), unnest(%s::text[]))""",
             list(runs), [r["dag_run_id"] for r in runs.values()])
    assert rows and all(state in ("success", "skipped") for _, _, state, _, _ in rows), rows
    # every task went through the broker's queue and was run by one of the two Celery workers
    assert {queue for *_, queue in rows} == {"default"}
    hosts = {hostname for _, _, state, hostname, _ in rows if state == "success"}
    assert {h.split("@")[0] for h in hosts} == {"worker1", "worker2"}, hosts
    assert hosts <= celery_run["nodes"], (hosts, celery_run["nodes"])
    # the build itself (gate, a task per dbt model, audit, publish, report) used both workers
    build_hosts = {h for dag_id, _, state, h, _ in rows if dag_id == "build_and_publish" and state == "success"}
    assert len(build_hosts) == 2, build_hosts


def test_the_run_published_a_release_of_the_day(celery_run):
    env, day = celery_run["env"], celery_run["day"]
    releases = q(env["SHUMEI_WAREHOUSE_URL"], "select release_id, status, as_of_date from published.release_log")
    assert [(r[1], r[2]) for r in releases] == [("published", day)], releases
    current = q(env["SHUMEI_BI_URL"], "select release_id from published.v_release_current")
    assert current == [(releases[0][0],)]
    values = q(env["SHUMEI_BI_URL"], "select count(*), count(distinct indicator_code) from published.v_indicator_latest")
    assert values[0][0] > 0 and values[0][1] > 10, values
    loaded = q(env["SHUMEI_WAREHOUSE_URL"], """select feed, min(interval_start), max(interval_start) from raw.batch_log
                                                where status = 'loaded' group by feed order by feed""")
    assert {first for _, first, _ in loaded} == {day - timedelta(days=HISTORY_DAYS)}, loaded
    assert {last for *_, last in loaded} == {day}, loaded


def test_the_stack_is_six_processes_of_its_own(celery_run):
    procs = celery_run["stack"].procs
    assert set(procs) == {"broker", "api-server", "scheduler", "dag-processor", "worker1", "worker2"}
    assert all(proc.poll() is None for proc in procs.values())
    assert len({os.getpgid(proc.pid) for proc in procs.values()}) == 6
