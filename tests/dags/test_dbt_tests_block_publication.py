"""The invariants of the candidate that the publication gate handed over to dbt (issue 11:
expectations/indicator_candidate.yml keeps only what needs the last release or the whole grid) block the
publication: a corrupted candidate fails its blocking dbt test inside `build_and_publish`, and neither
the audit nor the publication runs.

The DAG runs for real (`dag.test()`, the tasks of the DAG file as Airflow runs them: Cosmos runs the dbt
tests, `publish` waits for every one of them) on the small raw layer of tests/dbt/raw_fixture.py, built
first with dbt. Two stand-ins, neither of them the warehouse: the tasks not under attack are marked
successful without running (`mark_success_pattern`, what `airflow dags test --mark-success-pattern`
does: the candidate is built already), and the gate of the source batches returns its report for the
fixture's as-of date (its batch rules are tested in tests/quality; the fixture's sparse days would
block it on freshness).

A failed task alone would prove little (a lost connection fails a task too): each attack also asserts
that the failure the DAG's callback recorded (the alert log) is dbt's for that test (`<test>: Got N
result, configured to fail`), so switching the test to `severity: warn` makes this test fail.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import shumei.build
from shumei.settings import REPO_ROOT, get_settings

# tests/dbt has no __init__.py on purpose: a package named `dbt` would shadow dbt-core itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))
import raw_fixture  # noqa: E402
from dbt_run import dbt  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AS_OF = date(2024, 7, 15)  # dbt_run.VARS: the candidate is built as of this day
DOWNSTREAM = ("audit", "publish", "report")
CANDIDATE = "published_candidate.indicator_values"
CELL = "indicator_code = %s and area_code = %s and period_type = %s and period_start = %s " \
       "and breakdown_type = %s and breakdown_code = %s"


@pytest.fixture(scope="module")
def built(warehouse_url):
    """The raw fixture (with the warehouse's DDL step: `published` storage, an empty release log) and
    the candidate built from it with dbt (which also writes the manifest the DAG file reads)."""
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        raw_fixture.load(conn)
    dbt("seed", "--full-refresh")
    dbt("run", "--select", "+indicator_values", "--full-refresh")
    return warehouse_url


@pytest.fixture(scope="module")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "build_and_publish.py"))
    assert bag.import_errors == {}
    return bag.dags["build_and_publish"]


@pytest.fixture
def alert_log(tmp_path):
    """The alert log of this test's runs alone (SHUMEI_LOCAL_DIR/alerts/failures.jsonl), so the refusals
    of other tests' DAG runs are told apart from these."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHUMEI_LOCAL_DIR", str(tmp_path))
        get_settings.cache_clear()
        yield tmp_path / "alerts" / "failures.jsonl"
    get_settings.cache_clear()


def _run(dag, day: int, running: list[str], monkeypatch) -> tuple[dict[str, str], str]:
    """One DAG run in which only `running` (and gate_sources, anything_new and the tasks after the tests) run; every
    other task is marked successful. Returns ({task_id: (state, try_number)}, run_id)."""
    # a dbt task that errored is retried once (DbtTaskGroup's default_args), one whose tests failed is
    # not: should it be, Airflow's cap keeps the wait to 1 s and the try number tells
    monkeypatch.setattr("airflow.sdk.definitions._internal.abstractoperator.MAX_RETRY_DELAY", 1)
    monkeypatch.setattr(shumei.build, "gate_new_batches",
                        lambda dag_run_id=None, expected=None: shumei.build.GateReport(["raw fixture"], AS_OF,
                                                                                       "raw fixture", expected))
    for task_id in running:
        assert task_id in dag.task_dict, task_id
    # anything_new runs for real: no earlier complete run (audit.build_inputs is empty), so nothing is skipped
    run = "|".join(re.escape(t) for t in ["gate_sources", "anything_new", *running, *DOWNSTREAM])
    dag_run = dag.test(logical_date=datetime(2024, 7, day, 2, tzinfo=ZoneInfo("Asia/Shanghai")),
                       mark_success_pattern=f"(?!(?:{run})$).*")
    tis = dag_run.get_task_instances()
    # a failed test fails its task on the first try (no retry: the same rows would be found again)
    return {ti.task_id: (ti.state, ti.try_number) for ti in tis}, dag_run.run_id


def _alerts(alert_log: Path, run_id: str, task_id: str) -> str:
    """What the DAG's failure callback recorded for the task in the alert log (its exception, which
    names the dbt tests that failed), over its tries."""
    lines = alert_log.read_text(encoding="utf-8").splitlines() if alert_log.exists() else []
    return "\n".join(r["exception"] or "" for r in map(json.loads, lines) if (r["run_id"], r["task_id"]) == (run_id, task_id))


def _assert_blocked(states: dict[str, str], run_id: str, failed: dict[str, str], warehouse_url: str,
                    alert_log: Path) -> None:
    for task_id, test_name in failed.items():
        assert states[task_id] == ("failed", 1), (task_id, states[task_id])
        alerts = _alerts(alert_log, run_id, task_id)
        assert re.search(rf"\b{re.escape(test_name)}: Got \d+ results?, configured to fail", alerts), \
            f"{task_id} failed, but not for a failure of {test_name}: {alerts[:1000]}"
    assert states["gate_sources"][0] == "success"
    for task_id in DOWNSTREAM:  # neither audited nor published
        assert states[task_id][0] == "upstream_failed", (task_id, states[task_id])
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select count(*) from published.release_log").fetchone()[0] == 0
        assert conn.execute("select count(*) from published.indicator_values").fetchone()[0] == 0


def _one_cell(conn: psycopg.Connection, table: str, where: str) -> tuple:
    cell = conn.execute(f"""select indicator_code, area_code, period_type, period_start, breakdown_type, breakdown_code
                            from {table} where {where}
                            order by indicator_code, area_code, period_type, period_start, breakdown_code
                            limit 1""").fetchone()
    assert cell, where
    return cell


def test_a_rate_over_100_and_a_unit_not_the_catalogues_block_the_publication(built, dag, alert_log, monkeypatch):
    """The built candidate itself is corrupted; the multi-model tests of it run as their own tasks."""
    with psycopg.connect(built) as conn:
        rate = _one_cell(conn, CANDIDATE, "unit = 'percent' and denominator > 1 and breakdown_type = 'total'")
        count = _one_cell(conn, CANDIDATE, "unit = 'count' and breakdown_type = 'total'")
        # numerator > denominator: a percentage over 100 (value consistent with it, so only the rate rule fails)
        conn.execute(f"""update {CANDIDATE} set numerator = denominator + 1,
                         value = round(100 * (denominator + 1) / denominator, 1) where {CELL}""", rate)
        conn.execute(f"update {CANDIDATE} set unit = 'score' where {CELL}", count)
    try:
        states, run_id = _run(dag, 16, ["dbt.assert_indicator_numerator_le_denominator_test",
                                        "dbt.assert_indicator_unit_is_the_catalogues_test"], monkeypatch)
        _assert_blocked(states, run_id, {
            "dbt.assert_indicator_numerator_le_denominator_test": "assert_indicator_numerator_le_denominator",
            "dbt.assert_indicator_unit_is_the_catalogues_test": "assert_indicator_unit_is_the_catalogues"}, built, alert_log)
    finally:
        dbt("run", "--select", "indicator_values")


def test_a_negative_value_blocks_the_publication(built, dag, alert_log, monkeypatch):
    """An upstream mart is corrupted; the candidate's build task rebuilds it and runs its tests."""
    with psycopg.connect(built) as conn:
        cell = _one_cell(conn, "marts.fct_indicator_flow_values",
                         "indicator_code = 'TS_SL' and breakdown_type = 'total' and numerator > 0")
        conn.execute(f"update marts.fct_indicator_flow_values set numerator = -numerator where {CELL}", cell)
    try:
        states, run_id = _run(dag, 17, ["dbt.indicator_values_model_build"], monkeypatch)
        _assert_blocked(states, run_id, {
            "dbt.indicator_values_model_build": "not_negative_indicator_values_value"}, built, alert_log)
    finally:
        # fct_indicator_flow_values is incremental by period: only a full refresh undoes an edit that
        # left its members' checksums as they were
        dbt("run", "--select", "fct_indicator_flow_values", "indicator_values", "--full-refresh")
