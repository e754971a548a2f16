"""End to end: simulated sources → the three ingest DAGs → build_and_publish, through `airflow dags test`
(as `make run` does), against the session's embedded PostgreSQL and a real hotline simulator process.

A short history keeps it to a few minutes: the simulator writes the days 2022-12-01 .. 2023-03-13
(its history still starts 2022-01-01, so the ledger is the calibrated one: 140 compounds, 131 served
on 2022-12-31), the ingest DAGs load 2022-12-01 .. 2023-03-12 with `load_from`, and build_and_publish
publishes the first release. The window reaches past 2023-03-06 on purpose: the early-warning rules
(ref_early_warning_rules) are in force from that date only, and a candidate without any YJ_SL value
fails the blocking completeness check of the audit, so an earlier window can never be published.
Then a spoiled registry drop for 2023-03-13 (a ledger with 9 compounds instead of ~140: valid rows, so
the contract checks at the door accept it) must be blocked by the Great Expectations gate (snapshot drop
against the day before, volume against the trailing 28 days), leaving the published release exactly as it was for readers.

The fixtures (drops, hotline, first_release, ...) are session fixtures of conftest.py, shared with
test_reconciliation.py. The tests never import the simulator or the DAGs: `shumei-sim` CLI, HTTP, files
and `airflow` CLI only.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
import pytest
from pipeline_run import (
    COUNTY,
    FIRST,
    INGEST_DAGS,
    LAST,
    SPOILED,
    airflow_db_url,
    assert_succeeded,
    q,
    run_dags,
)

pytestmark = pytest.mark.integration

KEPT_COMPOUNDS = 9  # rows of the spoiled 小区 sheet (the trailing average is ~140 a day)

# What a BI tool sees; compared before and after the blocked run. Ordered by the whole key (the breakdown
# is part of it): rows tied on a partial key come back in whatever order the plan of the day gives.
VALUE_KEY = "indicator_code, area_code, period_type, period_start, breakdown_type, breakdown_code"
READER_QUERIES = {
    "latest": f"select * from published.v_indicator_latest order by {VALUE_KEY}",
    "releases": "select count(*), max(release_id) from published.release_log",
    "current": "select * from published.v_release_current",
    "as_of": f"select * from published.indicator_values_as_of(current_date) order by {VALUE_KEY}",
    "history": f"select * from published.v_indicator_history order by {VALUE_KEY}, valid_from_release",
}


# ---- helpers ------------------------------------------------------------------------------------

def _reader_view(bi_url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(bi_url) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in READER_QUERIES.items()}


def _spoil_registry_drop(registry_dir: Path, day: date, keep: int) -> int:
    """Rewrites the day's ledger workbook with only the first `keep` compounds (rows stay valid: the door
    accepts them), and its manifest to match (rows, sha256), as a truncated export would be delivered.
    Returns how many compounds the normal drop had."""
    import openpyxl

    folder = registry_dir / day.isoformat()
    (path,) = folder.glob("*.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["小区"]
    normal = sum(1 for row in ws.iter_rows(min_row=2, values_only=True) if any(v not in (None, "") for v in row))
    assert normal > 5 * keep
    ws.delete_rows(keep + 2, ws.max_row)
    wb.save(path)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["rows"]["小区"] = keep
    manifest["files"][path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return normal


# ---- tests --------------------------------------------------------------------------------------

def test_clean_run_publishes(first_release, warehouse_url, test_env):
    # every day of every source loaded, one loaded batch per feed and day
    per_source = q(warehouse_url, """select source, count(distinct interval_start), min(interval_start),
                                             max(interval_start) from raw.batch_log where status = 'loaded'
                                      group by source order by source""")
    days = (LAST - FIRST).days + 1
    assert per_source == [(s, days, FIRST, LAST) for s in ("credit", "hotline", "registry")]
    assert q(warehouse_url, """select feed, interval_start from raw.batch_log where status = 'loaded'
                                group by 1, 2 having count(*) > 1""") == []

    releases = q(warehouse_url, "select release_id, as_of_date from published.release_log")
    assert len(releases) == 1 and releases[0][1] == LAST

    bi = test_env["SHUMEI_BI_URL"]
    with psycopg.connect(bi) as conn:
        wy_fg = conn.execute("""select numerator::int, denominator::int, round(value, 1)::float
                                from published.v_indicator_latest
                                where indicator_code = 'WY_FG' and area_code = %s and period_type = 'month'
                                  and period_end = '2022-12-31'""", (COUNTY,)).fetchall()
        assert wy_fg == [(131, 140, 93.6)]
        catalogue = {r[0] for r in conn.execute("select indicator_code from published.indicator_catalog")}
        latest = {r[0] for r in conn.execute("select distinct indicator_code from published.v_indicator_latest")}
        assert catalogue and catalogue - latest == set(), f"indicators never published: {sorted(catalogue - latest)}"
        # the BI role's database (the readers' database) has `published` only: no internal schema to name
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("select count(*) from audit.validation_runs")

    # the gate validated every loaded batch of the history (in one run), the audit the candidate: all passed
    runs = q(warehouse_url, "select target, passed, failed_blocking from audit.validation_runs")
    candidate = [r for r in runs if r[0] == "indicator_candidate"]
    assert len(candidate) == 1 and candidate[0][1] and candidate[0][2] == 0
    assert [r for r in runs if r[0] == "source_batches"] == [("source_batches", True, 0)], runs
    validated = q(warehouse_url, """select count(*), count(*) filter (where v.passed) from raw.batch_log b
                                     left join audit.batch_validations v using (batch_id) where b.status = 'loaded'""")
    loaded = q(warehouse_url, "select count(*) from raw.batch_log where status = 'loaded'")[0][0]
    assert validated == [(loaded, loaded)]
    # the ingest runs put the day they loaded in their Asset events (what an Asset-triggered build expects),
    # and the gate took the day this run expects from its data interval: LAST, every feed fresh against it
    events = q(airflow_db_url(), """select source_dag_id, extra from asset_event
                                    where source_dag_id in ('ingest_registry', 'ingest_credit', 'ingest_hotline')""")
    assert {(dag, (extra or {}).get("last_day")) for dag, extra in events} >= {
        (dag, LAST.isoformat()) for dag in ("ingest_registry", "ingest_credit", "ingest_hotline")}, events
    # build_and_publish emits one Asset, the publication's (the dbt tasks emit none of their own)
    emitted = q(airflow_db_url(), """select distinct e.source_task_id, a.uri from asset_event e
                                     join asset a on a.id = e.asset_id where e.source_dag_id = 'build_and_publish'""")
    assert [task for task, _ in emitted] == ["publish"], emitted
    # the gate's result of this test's own build run (other tests' DAG runs share the metadata database)
    gate = [json.loads(v) if isinstance(v, str) else v for (v,) in q(airflow_db_url(), """
        select x.value from xcom x join dag_run r on r.id = x.dag_run_id
        where x.dag_id = 'build_and_publish' and x.task_id = 'gate_sources' and x.key = 'return_value'
          and r.logical_date = %s order by r.id""", datetime.combine(LAST, time(18), tzinfo=UTC))]
    assert [g["expected_day"] for g in gate][:1] == [LAST.isoformat()], gate
    assert q(warehouse_url, "select count(*) from audit.batch_validations where 'freshness' = any(warnings)") == [(0,)]
    # the release records the audit it was published on
    checksum = q(warehouse_url, "select candidate_checksum is not null from audit.validation_runs "
                                "where target = 'indicator_candidate'")
    assert checksum == [(True,)]


def test_corrupted_batch_is_blocked_and_last_release_unchanged(first_release, warehouse_url, test_env, drops,
                                                               pipeline_env, logdir):
    bi = test_env["SHUMEI_BI_URL"]
    before = _reader_view(bi)
    assert before["releases"][0][0] == 1 and before["latest"]

    normal = _spoil_registry_drop(drops / "registry", SPOILED, KEPT_COMPOUNDS)

    # the door accepts the day: every row is valid, nothing is rejected
    runs = run_dags(INGEST_DAGS, SPOILED, pipeline_env, logdir)
    assert_succeeded(runs)
    (batch_id, rows_loaded, rows_rejected), = q(warehouse_url, """
        select batch_id, rows_loaded, rows_rejected from raw.batch_log
        where feed = 'registry_compounds' and interval_start = %s and status = 'loaded'""", SPOILED)
    assert (rows_loaded, rows_rejected) == (KEPT_COMPOUNDS, 0)
    average = q(warehouse_url, """select avg(rows_loaded) from raw.batch_log where feed = 'registry_compounds'
                                   and status = 'loaded' and interval_start between %s and %s""",
                SPOILED - timedelta(days=28), SPOILED - timedelta(days=1))[0][0]
    assert KEPT_COMPOUNDS < 0.2 * float(average) - 10, (normal, average)

    build, = run_dags(["build_and_publish"], SPOILED, pipeline_env, logdir)
    tasks = build.task_states()
    gate_tries = q(airflow_db_url(), """select ti.try_number from task_instance ti join dag_run dr using (dag_id, run_id)
                                          where dr.dag_id = 'build_and_publish' and dr.logical_date = %s::timestamptz
                                            and ti.task_id = 'gate_sources'""", build.logical_date)
    built = sorted(t for t, s in tasks.items() if s == "success")
    diagnosis = (f"exit {build.returncode}, DagRun {build.state()}, gate_sources {tasks.get('gate_sources')} "
                 f"(tries {gate_tries}), publish {tasks.get('publish')}, {len(built)} tasks succeeded\n{build.tail(3000)}")

    # nothing changed for readers
    assert q(warehouse_url, "select count(*) from published.release_log") == [(1,)], \
        "a release was published from a blocked batch: " + diagnosis
    assert _reader_view(bi) == before, diagnosis

    # the run failed, at the gate: nothing was built from the blocked batch
    assert build.returncode != 0 and "DagRun failed" in build.output, diagnosis
    assert build.state() == "failed", diagnosis
    assert tasks.get("gate_sources") == "failed", diagnosis
    assert built == [], f"tasks ran on blocked data: {built}\n{diagnosis}"
    assert tasks.get("publish") in ("upstream_failed", None), diagnosis

    # the gate's verdict on the spoiled batch is on record: the snapshot drop and the volume blocked it
    verdicts = q(warehouse_url, "select passed, failed_blocking from audit.batch_validations where batch_id = %s",
                 batch_id)
    assert verdicts and not verdicts[0][0], verdicts
    assert {"snapshot_drop_vs_previous_day", "volume_vs_trailing_days"} <= set(verdicts[0][1]), verdicts
    failed_checks = q(warehouse_url, """select distinct r.check_name, r.blocking from audit.validation_results r
                                         join audit.validation_runs v using (run_id)
                                         where v.target = 'source_batches' and not v.passed and not r.success""")
    assert ("snapshot_drop_vs_previous_day", True) in failed_checks, failed_checks
    # the other batches of the day passed the gate (only the spoiled sheet is blocked)
    others = q(warehouse_url, """select b.feed, v.passed from audit.batch_validations v join raw.batch_log b using (batch_id)
                                  where b.interval_start = %s and b.batch_id <> %s""", SPOILED, batch_id)
    assert others and all(passed for _, passed in others), others
    assert q(warehouse_url, "select count(*) from audit.validation_runs where target = 'indicator_candidate'") == [(1,)]


# phone numbers (mobile, 0564 fixed line) and 身份证 numbers, as whole tokens
PERSONAL_PATTERN = re.compile(r"(?<![0-9A-Za-z_])(?:1[3-9]\d{9}|0564-?\d{7}|\d{17}[\dXx])(?![0-9A-Za-z_])")
PLANTED = ("13912345678", "34152319800101123X", "王建国")  # shumei_sim.server.PLANTED_*


def _relations_as_text(url: str, skip_schemas: tuple[str, ...]) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        tables = conn.execute("""select table_schema, table_name from information_schema.tables
                                 where table_schema <> all(%s) and table_schema not like 'pg\\_%%'""",
                              (list(skip_schemas),)).fetchall()
        return {f"{s}.{t}": "\n".join(r[0] for r in conn.execute(
            f'select t::text from "{s}"."{t}" t').fetchall()) for s, t in tables}


def test_no_personal_data_outside_the_restricted_layer_after_bad_input(first_release, warehouse_url, test_env,
                                                                       hotline, pipeline_env, logdir, pg_server):
    """issue 11 (done when): after bad input (a U+0000 next to the caller's data, a phone, an ID
    number and a name typed into summaries and notes, a page in another encoding), no phone or ID
    number, planted or simulated, in any relation outside raw_restricted, in Airflow's metadata
    database, the task logs, the alert files, Data Docs or server.log. The day is reloaded clean after."""
    import httpx

    def faults(body):
        httpx.post(f"{hotline}/admin/faults", json=body, timeout=5,
                   headers={"Authorization": f"Bearer {test_env['SHUMEI_HOTLINE_TOKEN']}"}).raise_for_status()

    try:
        faults({"reset": True, "bad_rows": ["nul_character", "pii_in_summary"]})
        assert_succeeded(run_dags(["ingest_hotline"], LAST, pipeline_env, logdir))
        assert q(warehouse_url, """select count(*) from raw.rejects j join raw.batch_log b using (batch_id)
                                   where b.feed = 'hotline_events' and b.interval_start = %s and b.status = 'loaded'
                                     and j.reason_code = 'invalid_character'""", LAST)[0][0] >= 1
        assert q(warehouse_url, "select count(*) from raw_restricted.hotline_events_pii where summary like %s",
                 f"%{PLANTED[1]}%")[0][0] >= 1  # the planted data arrived, and is kept where it belongs
        restricted = _relations_as_text(warehouse_url, ("raw", "information_schema"))["raw_restricted.hotline_events_pii"]
        assert len(set(PERSONAL_PATTERN.findall(restricted))) > 100  # the pattern finds the simulated callers
        faults({"reset": True, "bad_rows": ["gbk_text", "nul_character", "pii_in_summary"]})
        refused, = run_dags(["ingest_hotline"], LAST, pipeline_env, logdir)
        assert not refused.succeeded and "BatchStructureError" in refused.output
        texts = _relations_as_text(warehouse_url, ("raw_restricted", "information_schema"))
        texts.update({f"airflow.{k}": v for k, v in _relations_as_text(airflow_db_url(), ("information_schema",)).items()})
        local = Path(test_env["SHUMEI_LOCAL_DIR"])
        files = [pg_server.logfile, *logdir.rglob("*"), *Path(test_env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]).rglob("*"),
                 *(local / "alerts").rglob("*"), *Path(pipeline_env["SHUMEI_GX_DIR"]).rglob("*")]
        texts.update({str(p): p.read_text(encoding="utf-8", errors="replace") for p in files if p.is_file()})
        assert "raw.hotline_events" in texts and "airflow.public.task_instance" in texts and str(pg_server.logfile) in texts
        assert any("failures.jsonl" in k for k in texts), "the refusal left no alert"
        hits = {(where, m) for where, text in texts.items()
                for m in {*PERSONAL_PATTERN.findall(text), *(p for p in PLANTED if p in text)}}
        assert hits == set()
    finally:
        faults({"reset": True})
        assert_succeeded(run_dags(["ingest_hotline"], LAST, pipeline_env, logdir))
