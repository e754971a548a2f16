"""Run a quality gate with GX Core 1.x and record the result in the warehouse.

    run_checkpoint(engine_or_url, "indicator_candidate", dag_run_id=...)          candidate table
    run_checkpoint(engine_or_url, "<feed>", batch_id=123, dag_run_id=...)        one source batch

The GX project (suites, validation definitions, checkpoints, validation results) lives in
SHUMEI_GX_DIR (default .local/gx); the Data Docs site is built into SHUMEI_GX_DIR/data_docs.
Results also go to audit.validation_runs / audit.validation_results, so they can be queried next
to the data. The warehouse password never reaches GX's files: the data source's connection
string is the ${SHUMEI_GX_WAREHOUSE_URL} variable, set in this process only.
"""

from __future__ import annotations

import fcntl
import math
import os
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shumei.quality import suites
from shumei.quality.results import AuditResult, Outcome, store
from shumei.settings import get_settings

CANDIDATE_TARGET = "indicator_candidate"
DATASOURCE = "warehouse"
PANDAS_DATASOURCE = "source_batches"
DOCS_SITE = "shumei_site"
URL_VARIABLE = "SHUMEI_GX_WAREHOUSE_URL"


def gx_dir() -> Path:
    return Path(os.environ.get("SHUMEI_GX_DIR") or get_settings().local_dir / "gx")


def data_docs_dir() -> Path:
    return gx_dir() / "data_docs"


def _engine(engine_or_url: sa.Engine | str) -> sa.Engine:
    if isinstance(engine_or_url, sa.Engine):
        return engine_or_url
    url = sa.make_url(engine_or_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


@contextmanager
def _locked(folder: Path):
    """One GX run at a time per project folder (parallel Airflow tasks share it)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".shumei.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _context(engine: sa.Engine):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    os.environ[URL_VARIABLE] = engine.url.render_as_string(hide_password=False)
    context = gx.get_context(mode="file", project_root_dir=str(gx_dir()))
    changed = False
    if DOCS_SITE not in (context.variables.data_docs_sites or {}):
        context.add_data_docs_site(site_name=DOCS_SITE, site_config={
            "class_name": "SiteBuilder", "show_how_to_buttons": False,
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(data_docs_dir())}})
    bars = context.variables.progress_bars
    globally = bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", None)
    if globally is not False:
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        changed = True
    if changed:
        context.variables.save()
    return context


def _sql_asset(context, schema: str, table: str):
    names = [ds.name for ds in context.data_sources.all().values()] if hasattr(
        context.data_sources.all(), "values") else list(context.data_sources.all())
    if DATASOURCE in names:
        source = context.data_sources.get(DATASOURCE)
    else:
        source = context.data_sources.add_postgres(DATASOURCE, connection_string="${" + URL_VARIABLE + "}")
    asset_name = f"{schema}.{table}"
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_table_asset(asset_name, table_name=table, schema_name=schema)
    try:
        return asset.get_batch_definition("whole_table")
    except (KeyError, LookupError, ValueError):
        return asset.add_batch_definition_whole_table("whole_table")


def _dataframe_asset(context, name: str):
    try:
        source = context.data_sources.get(PANDAS_DATASOURCE)
    except (KeyError, LookupError, ValueError):
        source = context.data_sources.add_pandas(PANDAS_DATASOURCE)
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        return asset.get_batch_definition("whole_dataframe")
    except (KeyError, LookupError, ValueError):
        return asset.add_batch_definition_whole_dataframe("whole_dataframe")


def _run(context, suite_name: str, expectations: list, batch_definition, batch_parameters: dict | None,
         build_docs: bool):
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=suite_name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    suite = context.suites.add_or_update(suite)
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite))
    actions = [gx.checkpoint.UpdateDataDocsAction(name="update_data_docs", site_names=[DOCS_SITE])] \
        if build_docs else []
    checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
        name=suite_name, validation_definitions=[validation], actions=actions,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10}))
    result = checkpoint.run(batch_parameters=batch_parameters)
    return next(iter(result.run_results.values()))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return str(value)


def _outcomes(validation_result) -> list[Outcome]:
    out = []
    for r in validation_result.results:
        config = r.expectation_config
        meta = config.meta or {}
        severity = getattr(config.severity, "value", config.severity)
        res = _jsonable(r.result or {})
        if "observed_value" in res:
            observed = res["observed_value"]
        elif "unexpected_count" in res:
            observed = {"unexpected_count": res.get("unexpected_count"),
                        "unexpected_percent": res.get("unexpected_percent"),
                        "element_count": res.get("element_count")}
        else:
            observed = None
        details = {"kwargs": _jsonable({k: v for k, v in config.kwargs.items() if k != "unexpected_rows_query"}),
                   "result": res, "severity": severity, "description": config.description}
        exc = r.exception_info or {}
        if exc.get("raised_exception"):
            details["exception"] = str(exc.get("exception_message"))[:2000]
        column = config.kwargs.get("column") or (
            ",".join(config.kwargs["column_list"]) if config.kwargs.get("column_list") else None)
        if config.kwargs.get("column_A"):
            column = f"{config.kwargs['column_B']}<={config.kwargs['column_A']}"
        out.append(Outcome(check=meta.get("check", config.type), expectation=config.type, column=column,
                           blocking=severity == "critical", success=bool(r.success),
                           observed_value=observed, details=details))
    return out


def _relation_columns(engine: sa.Engine, schema: str, table: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select column_name from information_schema.columns "
                                    "where table_schema = :s and table_name = :t"), {"s": schema, "t": table})
        return {r[0] for r in rows}


def _batch_logged(conn: sa.Connection, raw_schema: str, batch_id: int, column: str) -> Any:
    """One column of the batch's raw.batch_log row, or None (no batch log, or no such batch)."""
    if conn.execute(sa.text("select to_regclass(:t)"), {"t": f"{raw_schema}.batch_log"}).scalar() is None:
        return None
    return conn.execute(sa.text(f"select {column} from {raw_schema}.batch_log where batch_id = :b"),
                        {"b": batch_id}).scalar()


def row_count_band(engine: sa.Engine, feed: str, batch_id: int, spec: dict[str, Any],
                   raw_schema: str = "raw") -> dict | None:
    """(min, max) rows per severity from the trailing average of rows_loaded, or None (no history)."""
    cfg = spec["row_count"]
    with engine.connect() as conn:
        start = _batch_logged(conn, raw_schema, batch_id, "interval_start")
        if start is None:
            return None
        avg, n = conn.execute(sa.text(f"""
            select avg(rows_loaded)::float8, count(*) from {raw_schema}.batch_log
            where feed = :feed and batch_id <> :b and rows_loaded is not null
              and interval_start >= cast(:start as date) - cast(:days as integer) and interval_start < :start
              and status <> all(cast(:excluded as text[]))"""),
            {"feed": feed, "b": batch_id, "start": start, "days": int(cfg["lookback_days"]),
             "excluded": list(cfg.get("excluded_status") or [])}).one()
    if n < int(cfg["min_history_batches"]) or avg is None:
        return None
    slack = float(cfg.get("absolute_slack", 0))
    bands = {}
    for severity in ("critical", "warning"):
        low, high = cfg[f"{severity}_band"]
        bands[severity] = (max(0, math.floor(avg * low - slack)), math.ceil(avg * high + slack))
    return bands


def loaded_rows_floor(engine: sa.Engine, batch_id: int, contract: dict[str, Any],
                      raw_schema: str = "raw") -> tuple[int, int] | None:
    """(fewest rows the batch may load, rows received) under the contract's max_reject_share (DOMAIN
    §8: beyond that share of rejected rows the batch blocks publication), or None when the contract
    sets no share or the batch log does not know the batch."""
    share = contract.get("max_reject_share")
    if share is None:
        return None
    with engine.connect() as conn:
        received = _batch_logged(conn, raw_schema, batch_id, "rows_received")
    if received is None:
        return None
    return received - math.floor(received * float(share) + 1e-9), received


def _batch_frame(engine: sa.Engine, feed: str, batch_id: int, contract: dict[str, Any], raw_schema: str):
    import pandas as pd
    from stdnum.cn import uscc

    with engine.connect() as conn:
        frame = pd.read_sql_query(sa.text(f'select * from "{raw_schema}"."{feed}" where _batch_id = :b'), conn,
                                  params={"b": batch_id})
    for f in contract.get("fields", []):
        if f.get("check") == "uscc" and f["name"] in frame.columns:
            frame[suites.uscc_column(f["name"])] = [
                None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA
                else bool(uscc.is_valid(str(v))) for v in frame[f["name"]]]
    return frame


def run_checkpoint(engine_or_url: sa.Engine | str, target: str, *, batch_id: int | None = None,
                   dag_run_id: str | None = None, contract: dict[str, Any] | None = None,
                   build_docs: bool = True, store_results: bool = True,
                   catalog: str = "reference.ref_indicator_catalog", raw_schema: str = "raw") -> AuditResult:
    """Run the quality gate of `target` and return an AuditResult (`.passed`, `.summary()`).

    target "indicator_candidate": the candidate table published_candidate.indicator_values.
    Any other target is a feed: its batch `batch_id` in raw.<feed> is checked against the feed's
    contract (`contract` overrides the YAML file, for tests). Never raises because data is bad:
    failures are in the result; raises on misconfiguration (no contract, no database).
    """
    engine = _engine(engine_or_url)
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    checksum = None
    if target == CANDIDATE_TARGET:
        from shumei.publish.release import candidate_checksum

        raw = engine.raw_connection()
        try:
            checksum = candidate_checksum(raw.driver_connection)
            raw.driver_connection.rollback()
        finally:
            raw.close()
        spec = suites.load_spec("indicator_candidate.yml")
        schema, table = spec["asset"]["schema"], spec["asset"]["table"]
        expectations = suites.candidate_expectations(
            spec, catalog=catalog, latest="published.v_indicator_latest",
            candidate_columns=_relation_columns(engine, schema, table))
        suite_name, batch_parameters = spec["suite"], None
    else:
        if batch_id is None:
            raise ValueError("a source batch check needs batch_id")
        spec = suites.load_spec("source_batch.yml")
        contract = contract or suites.load_contract(target)
        frame = _batch_frame(engine, target, batch_id, contract, raw_schema)
        expectations = suites.batch_expectations(
            contract, spec, columns=set(frame.columns),
            row_count_band=row_count_band(engine, target, batch_id, spec, raw_schema),
            loaded_floor=loaded_rows_floor(engine, batch_id, contract, raw_schema))
        suite_name, batch_parameters = f"{spec['suite_prefix']}.{target}", {"dataframe": frame}

    with _locked(gx_dir()):
        context = _context(engine)
        if target == CANDIDATE_TARGET:
            batch_definition = _sql_asset(context, schema, table)
        else:
            batch_definition = _dataframe_asset(context, f"{raw_schema}.{target}")
        validation_result = _run(context, suite_name, expectations, batch_definition, batch_parameters,
                                 build_docs)

    outcomes = _outcomes(validation_result)
    result = AuditResult(
        run_id=run_id, target=target, suite=suite_name,
        passed=bool(outcomes) and all(o.success for o in outcomes if o.blocking),
        outcomes=outcomes, started_at=started, checked_at=datetime.now(UTC), batch_id=batch_id,
        dag_run_id=dag_run_id, data_docs=str(data_docs_dir() / "index.html") if build_docs else None,
        candidate_checksum=checksum)
    if store_results:
        store(engine, result)
    return result
