"""The pipeline run shared by the integration tests: the simulated window, and how a DAG is run through
`airflow dags test` (as `make run` does) and checked. The session fixtures of conftest.py build the
first release with these; test_pipeline.py runs more DAGs with them.

Nothing here imports the simulator or the DAGs: `shumei-sim` CLI, HTTP, files and `airflow` CLI only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

BIN = Path(sys.executable).parent
SIM, AIRFLOW = str(BIN / "shumei-sim"), str(BIN / "airflow")
# the simulator writes FIRST .. SPOILED, the ingest DAGs load FIRST .. LAST, the first release is as of LAST
FIRST, LAST, SPOILED = date(2022, 12, 1), date(2023, 3, 12), date(2023, 3, 13)
INGEST_DAGS = ("ingest_registry", "ingest_credit", "ingest_hotline")
COUNTY = "341523000000"
DAG_TIMEOUT = 1800  # seconds; a hung DAG run fails the test instead of blocking the suite


def q(url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def airflow_db_url() -> str:
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg://", "postgresql://", 1)


class DagRun:
    """One `airflow dags test` process: exit code, output, and the DagRun's state in the metadata DB."""

    def __init__(self, dag_id: str, day: date, conf: dict | None, env: dict[str, str], logdir: Path):
        self.dag_id, self.day = dag_id, day
        # the daily run at 02:00 (Asia/Shanghai) of the next day loads / builds the day `day`
        self.logical_date = f"{day + timedelta(days=1):%Y-%m-%d}T02:00:00+08:00"
        args = [AIRFLOW, "dags", "test", dag_id, self.logical_date]
        if conf:
            args += ["--conf", json.dumps(conf)]
        self.log = logdir / f"{dag_id}-{day.isoformat()}-{time.monotonic_ns()}.log"
        self._fh = self.log.open("w", encoding="utf-8")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=self._fh, stderr=subprocess.STDOUT, env=env, text=True)
        self.returncode: int | None = None
        self.seconds = 0.0

    def wait(self) -> DagRun:
        try:
            self.returncode = self.proc.wait(DAG_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait()
        self._fh.close()
        self.seconds = time.monotonic() - self.started
        return self

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, chars: int = 6000) -> str:
        return f"--- {self.dag_id} {self.logical_date}: exit {self.returncode}, log {self.log} ---\n" \
               + self.output[-chars:]

    def state(self) -> str | None:
        """The DagRun's final state as Airflow recorded it (dags test makes a `manual__<date>` run)."""
        rows = q(airflow_db_url(), """select state from dag_run where dag_id = %s and logical_date = %s::timestamptz
                                      order by id desc limit 1""", self.dag_id, self.logical_date)
        return rows[0][0] if rows else None

    def task_states(self) -> dict[str, str | None]:
        rows = q(airflow_db_url(), """select ti.task_id, ti.state from task_instance ti
                                      join dag_run dr on dr.dag_id = ti.dag_id and dr.run_id = ti.run_id
                                      where dr.dag_id = %s and dr.logical_date = %s::timestamptz""",
                 self.dag_id, self.logical_date)
        return dict(rows)

    @property
    def succeeded(self) -> bool:
        # Airflow 3.3 `dags test` ends with SystemExit("DagRun failed") (exit 1) when the run failed;
        # the metadata DB says it independently of what the process printed.
        return self.returncode == 0 and "DagRun failed" not in self.output[-2000:] and self.state() == "success"


def run_dags(dag_ids, day: date, env: dict[str, str], logdir: Path, conf: dict | None = None) -> list[DagRun]:
    """Runs the DAGs side by side (as `make run` runs the three ingest DAGs) and waits for all."""
    runs = [DagRun(dag_id, day, conf, env, logdir) for dag_id in dag_ids]
    return [r.wait() for r in runs]


def assert_succeeded(runs: list[DagRun]) -> None:
    failed = [r for r in runs if not r.succeeded]
    states = [(r.dag_id, r.returncode, r.state()) for r in failed]
    assert not failed, f"DAG runs failed (dag, exit, state): {states}\n" + "\n".join(r.tail() for r in failed)
