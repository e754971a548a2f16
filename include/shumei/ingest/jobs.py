"""One day of one source into the raw layer, and ranges of days: what the ingest DAG tasks call.

A day is a partition: its batch (all feeds of the source for that day) loads in one transaction, or
nothing does; a failed attempt is recorded in raw.batch_log with its error after the rollback.
Rerunning a day replaces its batch. A range loads day by day, each its own batch, so a ranged
initial load or a backfill leaves exactly the raw tables the daily runs would have left.
"""

from __future__ import annotations

import logging
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from shumei.failures import append_private_jsonl, describe, without_data
from shumei.ingest.contracts import Contract, contracts_for, get_contract
from shumei.ingest.loader import BatchMeta, BatchResult, BatchStructureError, JsonDocs, load_batch
from shumei.settings import Settings, get_settings
from shumei.sources.files import Drop, read_csv_sheet, read_lines, read_workbook, wait_for_drop
from shumei.sources.hotline import HotlineClient

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
LOCAL_FAILURES = "ingest_failures.jsonl"  # under <local dir>/alerts/: failures the warehouse could not record


@dataclass
class DayResult:
    source: str
    day: date
    batches: list[BatchResult]

    @property
    def summary(self) -> str:
        parts = [f"{b.feed}: {b.rows_received} received = {b.rows_loaded} loaded + {b.rows_rejected} rejected"
                 + (f" {b.rejects_by_reason}" if b.rejects_by_reason else "") for b in self.batches]
        return f"{self.source} {self.day}: " + "; ".join(parts)


def _hotline(conn: psycopg.Connection, day: date, settings: Settings, run_id: str | None) -> list[BatchResult]:
    contract = get_contract("hotline_events")
    client = HotlineClient(settings.hotline_url, settings.hotline_token, page_size=settings.hotline_page_size,
                           max_attempts=settings.hotline_max_attempts, backoff_base=settings.hotline_backoff_seconds,
                           timeout=settings.hotline_timeout_seconds)
    # The overlap re-reads the end of the previous day, for records committed after a pull with an
    # earlier updated_at; staging keeps one row per event_id.
    end = datetime.combine(day, time.min, tzinfo=SHANGHAI) + timedelta(days=1)
    since = end - timedelta(days=1, hours=settings.hotline_overlap_hours)
    meta = BatchMeta("hotline", contract.feed, day, day + timedelta(days=1),
                     f"{settings.hotline_url} updated {since:%Y-%m-%dT%H:%M%z}..{end:%Y-%m-%dT%H:%M%z}", run_id)
    result = load_batch(conn, contract, JsonDocs(client.iter_pages(since, end), items_key="items"), meta,
                        settings.pii_hash_key, checksum=client.checksum)
    conn.execute("update raw.batch_log set file_or_page = file_or_page || %s where batch_id = %s",
                 (f" ({client.pages_fetched} pages, {client.retries} retries)", result.batch_id))
    return [result]


def _registry(conn: psycopg.Connection, day: date, settings: Settings, run_id: str | None) -> list[BatchResult]:
    drop = wait_for_drop(settings.registry_dir, day, settings.drop_wait_seconds)
    workbooks = sorted(drop.folder.glob("*.xlsx"))
    if len(workbooks) > 1:
        raise BatchStructureError(f"{drop.folder}: more than one workbook: {[p.name for p in workbooks]}")
    contracts = _referenced_first(contracts_for("registry"))
    sheets = read_workbook(workbooks[0], contracts) if workbooks else None
    # the manifest's digests and row counts (DOMAIN §7 layout): a drop that differs is refused
    workbook_checksum = drop.verified_sha256(workbooks[0], contracts[0]) if workbooks else None
    results = []
    for contract in contracts:
        if sheets is not None:  # the workbook (default), else the CSV option: one <sheet>.csv per sheet
            path, rows, checksum = workbooks[0], sheets[contract.feed], workbook_checksum
        else:
            path, rows = drop.folder / f"{contract.sheet}.csv", read_csv_sheet(drop.folder, contract)
            checksum = drop.verified_sha256(path, contract)
        results.append(_load_file(conn, day, settings, run_id, drop, contract, path, rows, checksum,
                                  contract.expect_rows))
    return results


def _referenced_first(contracts: list) -> list:
    """The feeds of a drop in an order where every feed comes after the feeds its fields reference."""
    ordered: list = []
    pending = list(contracts)
    while pending:
        done = {c.feed for c in ordered}
        ready = [c for c in pending if all(f.references.split(".")[0] in done for f in c.fields if f.references)]
        if not ready:
            raise ValueError(f"contracts reference each other in a circle: {[c.feed for c in pending]}")
        ordered += ready
        pending = [c for c in pending if c not in ready]
    return ordered


def _credit(conn: psycopg.Connection, day: date, settings: Settings, run_id: str | None) -> list[BatchResult]:
    contract = get_contract("credit_events")
    drop = wait_for_drop(settings.credit_dir, day, settings.drop_wait_seconds)
    path = drop.file("*.jsonl")
    checksum = drop.verified_sha256(path, contract)
    return [_load_file(conn, day, settings, run_id, drop, contract, path, JsonDocs(read_lines(path)), checksum,
                       drop.stated(contract, "rows", path) != 0)]


def _load_file(conn: psycopg.Connection, day: date, settings: Settings, run_id: str | None, drop: Drop,
               contract: Contract, path: Path, rows: Any, checksum: str, expect_rows: bool) -> BatchResult:
    """One feed's file of a drop, its rows then checked against the manifest's count."""
    meta = BatchMeta(contract.source, contract.feed, day, day + timedelta(days=1), str(path), run_id, expect_rows)
    result = load_batch(conn, contract, rows, meta, settings.pii_hash_key, checksum=checksum)
    drop.check_rows(path, contract, result.rows_received)
    return result


LOADERS: dict[str, Callable] = {"hotline": _hotline, "registry": _registry, "credit": _credit}


def _record_failure(settings: Settings, source: str, day: date, run_id: str | None, message: str) -> None:
    """The failed attempt in raw.batch_log; when the warehouse cannot take it (it is down), in the local
    failure file instead (<local dir>/alerts/ingest_failures.jsonl, 0600), with the original cause and
    why the warehouse could not record it. Never raises: the original error is what the task reports."""
    try:
        with psycopg.connect(settings.warehouse_url, connect_timeout=10) as conn:
            conn.execute("""insert into raw.batch_log (source, feed, interval_start, interval_end, status, message,
                                dag_run_id, finished_at)
                            values (%s, %s, %s, %s, 'failed', %s, %s, now())""",
                         (source, source, day, day + timedelta(days=1), message, run_id))
        return
    except Exception as exc:  # noqa: BLE001 (any failure to record goes to the local file)
        unrecorded = describe(exc)
    record = {"at": datetime.now(SHANGHAI).isoformat(), "source": source, "day": day.isoformat(), "run_id": run_id,
              "error": message, "not_in_warehouse_because": unrecorded}
    try:
        append_private_jsonl(settings.local_dir / "alerts" / LOCAL_FAILURES, record)
    except OSError as exc:
        log.error("could not record the failure of %s %s locally either: %s", source, day, describe(exc))
    log.error("failure of %s %s recorded in %s only (the warehouse could not take it: %s)", source, day,
              LOCAL_FAILURES, unrecorded)


class ReferencesNotReady(RuntimeError):
    """The feeds a source refers to (the registry, for the hotline's and credit feed's compounds and
    enterprises) are not loaded up to the day yet: transient, the task retries."""


def _wait_for_references(settings: Settings, source: str, day: date, poll: float = 5.0) -> None:
    """A day is loaded only after every feed of another source that its contracts refer to is loaded up
    to that day (or a later one), so that its references are checked against the same keys in a daily
    run, a rerun or a backfill. Waits up to settings.reference_wait_seconds (the DAGs run side by side)."""
    feeds = sorted({f.references.split(".")[0] for c in contracts_for(source) for f in c.fields if f.references}
                   - {c.feed for c in contracts_for(source)})
    if not feeds:
        return
    deadline = time_module.monotonic() + settings.reference_wait_seconds
    while True:
        with psycopg.connect(settings.warehouse_url, autocommit=True) as conn:
            behind = feeds if conn.execute("select to_regclass('raw.batch_log')").fetchone()[0] is None else sorted(
                r[0] for r in conn.execute("""select f from unnest(%s::text[]) f where not exists (select from
                    raw.batch_log where feed = f and status = 'loaded' and interval_start >= %s)""", (feeds, day)))
        if not behind:
            return
        if time_module.monotonic() >= deadline:
            raise ReferencesNotReady(f"{source} {day}: waiting for {behind} to be loaded up to {day} "
                                     f"(waited {settings.reference_wait_seconds:.0f} s); load that source first")
        time_module.sleep(poll)


def load_day(source: str, day: date, run_id: str | None = None, settings: Settings | None = None) -> DayResult:
    """Loads one day of one source in one transaction; raises (after recording the failure) on error.

    What is recorded and raised is built from structured facts (shumei.failures): a PostgreSQL error,
    whose text quotes the data, is raised as LoadFailed with its SQLSTATE only."""
    settings = settings or get_settings()
    try:
        _wait_for_references(settings, source, day)
        # a batch is staged in temporary tables: give them memory instead of spilling to disk
        with psycopg.connect(settings.warehouse_url, options="-c temp_buffers=256MB -c work_mem=128MB") as conn:
            batches = LOADERS[source](conn, day, settings, run_id)
            conn.commit()
    except Exception as exc:
        safe = without_data(exc)
        _record_failure(settings, source, day, run_id, describe(safe))
        if safe is exc:
            raise
        raise safe from None
    result = DayResult(source, day, batches)
    log.info(result.summary)
    return result


def load_range(source: str, first: date, last: date, run_id: str | None = None, *, reload: set[date] = frozenset(),
               settings: Settings | None = None) -> list[DayResult]:
    """Loads every day of [first, last] whose batch (every feed of the source) is not loaded yet, and
    the days in `reload` again, after the warehouse's DDL step (shumei.migrations.migrate; the ingest
    DAG's first and only task is this)."""
    from shumei.migrations import migrate

    settings = settings or get_settings()
    feeds = [c.feed for c in contracts_for(source)]
    with psycopg.connect(settings.warehouse_url) as conn:
        migrate(conn, published=False)
        done = {r[0] for r in conn.execute("""select interval_start from raw.batch_log
                                              where feed = any(%s) and status = 'loaded'
                                              group by interval_start having count(distinct feed) = %s""",
                                           (feeds, len(feeds)))}
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    todo = [d for d in days if d not in done or d in reload]
    results = []
    step = max(1, len(todo) // 20)
    for i, day in enumerate(todo, start=1):
        results.append(load_day(source, day, run_id, settings))
        if i % step == 0 or i == len(todo):
            log.info("SHUMEI PROGRESS %s: %d/%d days loaded (%s)", source, i, len(todo), day)
    return results
