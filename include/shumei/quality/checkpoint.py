"""Run the quality gates with GX Core 1.x over SQL on the warehouse and record them in `audit`.

`validate_batches` (the source batches) and `run_checkpoint` (the candidate table) are each one GX
Checkpoint on the warehouse's PostgreSQL data source: the source-batch rules are query assets (one
query per rule over every batch to validate), the candidate suite a table asset. GX runs in an
ephemeral context (the suites are the reviewed YAML of expectations/), so nothing of it is written to
disk and the warehouse password reaches no file. Results go to audit.validation_runs /
validation_results, each source batch's to audit.batch_validations, and the Data Docs pages (docs.py,
SHUMEI_GX_DIR/data_docs) are written from them.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shumei.quality import suites
from shumei.quality.results import AuditResult, Outcome, store
from shumei.settings import get_settings

log = logging.getLogger(__name__)

CANDIDATE_TARGET = "indicator_candidate"
BATCHES_TARGET = "source_batches"
DATASOURCE = "warehouse"
# the batches one gate run validates: each loaded batch not validated yet, each blocked before (it stays
# blocked until it passes or a rerun of its day supersedes it), each feed's newest (freshness is of now)
QUEUE_SQL = """
delete from audit.batch_queue;
insert into audit.batch_queue (batch_id)
select b.batch_id from raw.batch_log b
left join audit.batch_validations v using (batch_id)
where b.status = 'loaded'
  and (v.batch_id is null or not v.passed
       or b.batch_id in (select distinct on (feed) batch_id from raw.batch_log where status = 'loaded'
                         order by feed, interval_end desc, batch_id desc));
"""


def data_docs_dir() -> Path:
    return Path(os.environ.get("SHUMEI_GX_DIR") or get_settings().local_dir / "gx") / "data_docs"


def _engine(engine_or_url: sa.Engine | str) -> sa.Engine:
    if isinstance(engine_or_url, sa.Engine):
        return engine_or_url
    url = sa.make_url(engine_or_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def _checkpoint(engine: sa.Engine, name: str, validations: list[tuple[str, dict, list]],
                result_format: dict) -> dict[str, Any]:
    """One GX Checkpoint: per (suite name, asset, expectations) a validation of a query asset
    ({"query": sql}) or a table asset ({"schema", "table"}). Returns {suite name: validation result}."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_postgres(DATASOURCE, connection_string=engine.url.render_as_string(
        hide_password=False))
    definitions = []
    for suite_name, asset, expectations in validations:
        if "query" in asset:
            data = source.add_query_asset(suite_name, query=asset["query"])
        else:
            data = source.add_table_asset(suite_name, table_name=asset["table"], schema_name=asset["schema"])
        suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))
        definitions.append(context.validation_definitions.add(gx.ValidationDefinition(
            name=suite_name, data=data.add_batch_definition_whole_table("all"), suite=suite)))
    checkpoint = context.checkpoints.add(gx.Checkpoint(name=name, validation_definitions=definitions,
                                                       result_format=result_format))
    return {r.suite_name: r for r in checkpoint.run().run_results.values()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return round(float(value), 6)
    return str(value)


def _outcomes(validation_result, rows_shown: int = 20) -> list[Outcome]:
    out = []
    for r in validation_result.results:
        config = r.expectation_config
        severity = getattr(config.severity, "value", config.severity)
        res = _jsonable(r.result or {})
        rows = res.pop("unexpected_index_list", None) or (res.get("details") or {}).pop("unexpected_rows", None)
        res.pop("unexpected_index_query", None)
        res.pop("unexpected_list", None)
        observed = res.get("observed_value", res.get("unexpected_count"))
        details = {"result": res, "severity": severity, "description": config.description,
                   "rows": (rows or [])[:rows_shown], "rows_total": len(rows or [])}
        exc = r.exception_info or {}
        # one exception, or one per metric that failed: {metric id: exception info}
        for info in [exc] if "raised_exception" in exc else list(exc.values()):
            if isinstance(info, dict) and info.get("raised_exception"):
                details["exception"] = str(info.get("exception_message"))[:2000]
        out.append(Outcome(check=(config.meta or {}).get("check", config.type), expectation=config.type,
                           column=config.kwargs.get("column"), blocking=severity == "critical",
                           success=bool(r.success), observed_value=observed, details=details))
    return out


def _finish(engine: sa.Engine, result: AuditResult, build_docs: bool, store_results: bool,
            also: Any = None) -> AuditResult:
    """Store the result (and run `also(conn)` in the same transaction), then write the Data Docs."""
    if build_docs:
        result.data_docs = str(data_docs_dir() / "index.html")
    if store_results:
        with engine.begin() as conn:
            store(conn, result)
            if also is not None:
                also(conn)
    if build_docs:
        from shumei.quality.docs import build_data_docs

        build_data_docs(engine, data_docs_dir())
    return result


def run_checkpoint(engine_or_url: sa.Engine | str, *, dag_run_id: str | None = None, build_docs: bool = True,
                   store_results: bool = True, catalog: str = "reference.ref_indicator_catalog") -> AuditResult:
    """The publication gate on the candidate table published_candidate.indicator_values: an
    AuditResult (`.passed`, `.summary()`). Never raises because data is bad: failures are in the
    result; raises on misconfiguration (no database)."""
    from shumei.publish.release import candidate_checksum

    engine = _engine(engine_or_url)
    started = datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        checksum = candidate_checksum(raw.driver_connection)
        raw.driver_connection.rollback()
    finally:
        raw.close()
    spec = suites.load_spec("indicator_candidate.yml")
    schema, table = spec["asset"]["schema"], spec["asset"]["table"]
    with engine.connect() as conn:
        columns = {r[0] for r in conn.execute(sa.text(
            "select column_name from information_schema.columns where table_schema = :s and table_name = :t"),
            {"s": schema, "t": table})}
    expectations = suites.candidate_expectations(spec, catalog=catalog, latest="published.v_indicator_latest",
                                                 candidate_columns=columns)
    validation = _checkpoint(engine, spec["suite"], [(spec["suite"], {"schema": schema, "table": table},
                                                      expectations)], {"result_format": "COMPLETE"})
    outcomes = _outcomes(validation[spec["suite"]])
    result = AuditResult(
        run_id=f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", target=CANDIDATE_TARGET, suite=spec["suite"],
        passed=bool(outcomes) and all(o.success for o in outcomes if o.blocking), outcomes=outcomes,
        started_at=started, checked_at=datetime.now(UTC), dag_run_id=dag_run_id, candidate_checksum=checksum)
    return _finish(engine, result, build_docs, store_results)


def validate_batches(engine_or_url: sa.Engine | str, *, dag_run_id: str | None = None, build_docs: bool = True,
                     store_results: bool = True, expected_day: date | None = None) -> AuditResult:
    """The batch rules of expectations/source_batch.yml over every loaded source batch not validated
    yet (the whole history on a first run), each blocked before, and each feed's newest: one GX
    Checkpoint, one SQL query per rule. Each batch's result is kept in audit.batch_validations;
    `.passed` is False while any loaded batch is blocked. `expected_day`: the day the run expects
    data for (shumei.build.expected_day; None: freshness compares the feeds with each other only)."""
    engine = _engine(engine_or_url)
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    spec = suites.load_spec("source_batch.yml")
    with engine.begin() as conn:  # committed: GX reads the rules' rows on its own connection
        conn.execute(sa.text("select pg_advisory_xact_lock(hashtext('shumei.batch_queue'))"))
        has_raw = conn.execute(sa.text("select to_regclass('raw.batch_log') is not null")).scalar()
        conn.exec_driver_sql((QUEUE_SQL if has_raw else "delete from audit.batch_queue;")
                             + "\ndelete from audit.batch_rule_rows;")
        queued = conn.execute(sa.text("select count(*) from audit.batch_queue")).scalar()
        tables = {r[0] for r in conn.execute(sa.text(
            "select table_name from information_schema.tables where table_schema = 'raw'"))}
        rules = suites.batch_rules(spec, raw_tables=tables, expected_day=expected_day) if queued else []
        for check, query, _, _ in rules:  # each rule: one query over every queued batch
            conn.execute(sa.text(
                "insert into audit.batch_rule_rows (check_name, batch_id, feed, day, observed, bound, verdict) "
                f"select :check, batch_id, feed, day, observed, bound, verdict from ({query}) as rule"),
                {"check": check})
    validations = _checkpoint(engine, spec["suite_prefix"], [
        (suite, {"query": f"select * from audit.batch_rule_rows where check_name = '{check}'"}, expectations)
        for check, _, suite, expectations in rules], {
        "result_format": "COMPLETE", "unexpected_index_column_names": ["batch_id", "feed", "day", "observed"]}) \
        if rules else {}
    outcomes = [o for _, _, suite, _ in rules for o in _outcomes(validations[suite])]
    result = AuditResult(
        run_id=run_id, target=BATCHES_TARGET, suite=spec["suite_prefix"],
        passed=all(o.success for o in outcomes if o.blocking), outcomes=outcomes, started_at=started,
        checked_at=datetime.now(UTC), dag_run_id=dag_run_id, batches=queued)

    def keep_batch_results(conn: sa.Connection) -> None:
        conn.execute(sa.text("""
            insert into audit.batch_validations (batch_id, feed, interval_start, run_id, passed,
                failed_blocking, warnings, checked_at)
            select q.batch_id, b.feed, b.interval_start, :run_id, f.blocking is null, coalesce(f.blocking, '{}'),
                   coalesce(f.warnings, '{}'), :at
            from audit.batch_queue q join raw.batch_log b using (batch_id)
            left join (
                select batch_id, array_agg(check_name order by check_name) filter (where verdict = 'blocked') as blocking,
                       array_agg(check_name order by check_name) filter (where verdict = 'warning') as warnings
                from audit.batch_rule_rows group by batch_id) f using (batch_id)
            on conflict (batch_id) do update set run_id = excluded.run_id, passed = excluded.passed,
                failed_blocking = excluded.failed_blocking, warnings = excluded.warnings,
                checked_at = excluded.checked_at"""), {"run_id": run_id, "at": result.checked_at})

    return _finish(engine, result, build_docs, store_results, keep_batch_results)


def send_rule_alerts(result: AuditResult, *, expected_day: date | None = None) -> list[dict]:
    """An alert (shumei.failures.send_alert, file alerts/quality.jsonl) per batch rule of
    source_batch.yml marked `alert: true` that warned or blocked in `result`: the county is told, e.g.,
    that every feed stopped days before the day the run expects, even though nothing is blocked. The
    record names the check, the feeds, days and observed values (no data value). Returns the records."""
    from shumei.failures import send_alert

    alerting = {rule["check"] for rule in suites.load_spec("source_batch.yml")["rules"] if rule.get("alert")}
    records = []
    for outcome in result.outcomes:
        if outcome.check in alerting and not outcome.success:
            records.append({
                "kind": "source_batch_rule", "check": outcome.check, "blocking": outcome.blocking,
                "run_id": result.run_id, "dag_run_id": result.dag_run_id,
                "expected_day": expected_day.isoformat() if expected_day else None,
                "description": outcome.details.get("description"),
                "batches": [{k: r.get(k) for k in ("feed", "batch_id", "day", "observed")}
                            for r in outcome.details.get("rows", [])]})
    for record in records:
        log.warning("SHUMEI QUALITY ALERT %s", record["description"])
        send_alert("quality.jsonl", record)
    return records
