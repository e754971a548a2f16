"""The steps of the local main job after the warehouse is up.

1. The source simulators generate data up to the end date (only what is new) and the hotline API
   process starts (it stays up, like the warehouse, until `make stop`).
2. Each ingest DAG runs through `airflow dags test` for the end date with `load_from` = the start of
   history: the first run loads the whole history day by day in one DAG run, later runs only new days.
3. The warehouse DAG (dbt build, audit, publication) runs through `airflow dags test`.
4. A summary of the latest published indicators is printed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import httpx

from shumei.failures import private_dir
from shumei.settings import bin_path, get_settings

HISTORY_START = date(2022, 1, 1)
PROGRESS = re.compile(r"(SHUMEI (PROGRESS|SUMMARY|FAILURE)|ERROR - |Traceback|Error:)")


def _local(env: dict[str, str]) -> Path:
    return Path(env["SHUMEI_LOCAL_DIR"])


def _pidfile(env: dict[str, str]) -> Path:
    return _local(env) / "run" / "hotline.pid"


def _hotline_healthy(env: dict[str, str]) -> bool:
    try:
        return httpx.get(f"{env['SHUMEI_HOTLINE_URL']}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _sim() -> str:
    return bin_path("shumei-sim")


def generate_sources(env: dict[str, str], end: date) -> None:
    drops = _local(env) / "drops"
    drops.mkdir(parents=True, exist_ok=True)
    subprocess.run([_sim(), "generate", "--out", str(drops), "--end", end.isoformat(),
                    "--scale", get_settings().scale], check=True)


def start_hotline(env: dict[str, str]) -> None:
    if _hotline_healthy(env):
        return
    db = _local(env) / "drops" / "hotline" / "events.sqlite"
    logs = private_dir(_local(env) / "logs")
    _pidfile(env).parent.mkdir(parents=True, exist_ok=True)
    port = env["SHUMEI_HOTLINE_PORT"]
    with _private_log(logs / "hotline.log", "ab") as log:
        # the token in the environment, not on the command line (which every user of the machine sees)
        proc = subprocess.Popen([_sim(), "serve-hotline", "--db", str(db), "--host", "127.0.0.1", "--port", port],
                                env={**os.environ, "SHUMEI_HOTLINE_TOKEN": env["SHUMEI_HOTLINE_TOKEN"]},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _pidfile(env).write_text(str(proc.pid))
    deadline = time.monotonic() + 30
    while not _hotline_healthy(env):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the hotline simulator did not start; see {logs / 'hotline.log'}")
        time.sleep(0.3)


def stop_services(env: dict[str, str]) -> None:
    pidfile = _pidfile(env)
    if pidfile.exists():
        try:
            os.killpg(int(pidfile.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError, PermissionError):
            pass
        pidfile.unlink(missing_ok=True)


def service_status(env: dict[str, str]) -> list[str]:
    state = "running" if _hotline_healthy(env) else "stopped"
    return [f"hotline simulator {env['SHUMEI_HOTLINE_URL']}: {state}"]


def dags_test(dag_id: str, end: date, conf: str | None, airflow_bin: str) -> None:
    """`airflow dags test` for the run that covers `end`, echoing progress lines; full log in .local/logs."""
    logs = private_dir(Path(os.environ["SHUMEI_LOCAL_DIR"]) / "logs")
    logfile = logs / f"{dag_id}-{end.isoformat()}.log"
    # the daily run at 02:00 (Asia/Shanghai) of the next day, whose data interval is the day `end`
    args = [airflow_bin, "dags", "test", dag_id, f"{end + timedelta(days=1):%Y-%m-%d}T02:00:00+08:00"]
    if conf:
        args += ["--conf", conf]
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with _private_log(logfile, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if PROGRESS.search(line):
                print(f"    [{dag_id}] " + _short(line), flush=True)
        code = proc.wait()
    failed = "failed" in logfile.read_text(encoding="utf-8").splitlines()[-1].lower() if logfile.stat().st_size else False
    if code != 0 or failed:
        raise SystemExit(f"DAG {dag_id} failed (exit {code}); full log: {logfile}")


def _private_log(path: Path, mode: str, **kwargs):
    """A log file only the pipeline's user can read (0600)."""
    handle = open(path, mode, **kwargs)  # noqa: SIM115 (returned to a with block)
    path.chmod(0o600)
    return handle


def _short(line: str) -> str:
    """The message of a log line, without the structlog timestamp and source location."""
    text = re.sub(r"^\S+Z \[\w+\s*\] ", "", line.rstrip())
    return re.sub(r"\s+\[[\w.]+\] loc=\S+$", "", text)[-200:]


def run_pipeline(env: dict[str, str], end: date, *, step, load_from: date = HISTORY_START) -> None:
    """Sources up to `end`, the ingest DAGs for the days from `load_from` not loaded yet, the build."""
    airflow_bin = bin_path("airflow")
    with step(f"source simulators: generate data up to {end} (only what is new), start the hotline API"):
        generate_sources(env, end)
        start_hotline(env)
    # The three sources are independent: their DAG runs go side by side.
    with step(f"ingest_registry, ingest_credit, ingest_hotline (in parallel): {load_from} .. {end}, "
              "only days not loaded yet"):
        conf = f'{{"load_from": "{load_from.isoformat()}"}}'
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [pool.submit(dags_test, f"ingest_{s}", end, conf, airflow_bin)
                       for s in ("registry", "credit", "hotline")]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise SystemExit("; ".join(str(e) for e in errors))
    with step("build_and_publish: quality gate, dbt build (a task per model), audit, publication"):
        dags_test("build_and_publish", end, None, airflow_bin)


def print_summary(env: dict[str, str]) -> None:
    import psycopg

    from shumei.publish import latest_summary

    with psycopg.connect(env["SHUMEI_WAREHOUSE_URL"]) as conn:
        rows = conn.execute("""select feed, count(*) filter (where status = 'loaded'),
                                      min(interval_start) filter (where status = 'loaded'),
                                      max(interval_start) filter (where status = 'loaded'),
                                      sum(rows_loaded) filter (where status = 'loaded'),
                                      sum(rows_rejected) filter (where status = 'loaded')
                               from raw.batch_log group by feed order by feed""").fetchall()
    print("\nRaw layer (批次 batches loaded):")
    for feed, batches, first, last, loaded, rejected in rows:
        print(f"  {feed:<28} {batches:>5} days {first} .. {last}  rows {loaded or 0:>9}  rejected {rejected or 0}")
    with psycopg.connect(env["SHUMEI_WAREHOUSE_URL"]) as conn:
        print("\n" + latest_summary(conn))


def print_report_locations(env: dict[str, str]) -> None:
    """Where the workbook, release notes and bulletin of the current release are."""
    import psycopg

    from shumei.report import locations_summary
    from shumei.settings import get_settings

    with psycopg.connect(env["SHUMEI_WAREHOUSE_URL"]) as conn:
        print("\n" + locations_summary(conn, get_settings().reports_dir))
