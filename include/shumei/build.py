"""The non-dbt steps of the warehouse DAG: gate the new source batches, audit the candidate, publish.

Write-audit-publish: dbt writes `published_candidate.*`; `audit_candidate` runs the GX checkpoint
(the dbt tests already ran after each model, through Cosmos); `publish_release` applies the candidate
to `published` in one transaction. A failed gate or audit raises, so the DAG fails, its failure
callback runs and the last publication stays exactly as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from shumei.settings import get_settings

log = logging.getLogger(__name__)


class GateBlocked(RuntimeError):
    """A blocking expectation failed: nothing built from this data may be published."""


@dataclass
class GateReport:
    summaries: list[str]  # completeness gaps, then the gate's result
    as_of_date: date
    inputs_digest: str  # what the build reads (build_inputs_digest)
    expected_day: date | None = None


def expected_day(data_interval_end: datetime | None,
                 triggering_asset_events: Mapping[object, Iterable[object]] | None = None) -> date | None:
    """The day a build run expects data for (Asia/Shanghai), from the run itself, never the machine's
    clock (a backfill of 2024 expects 2024's days):
    - a run with a data interval (`make run`'s `airflow dags test`, a manual trigger, a backfill): the
      day before its end's date, the convention of the 02:00 ingest runs (an interval ending at 02:00
      of 06-02 covers 06-01);
    - an Asset-triggered run (no data interval in Airflow 3): the latest `last_day` the triggering
      ingest runs put in their Asset events;
    - otherwise None: freshness then compares the feeds with each other only."""
    if data_interval_end is not None:
        return data_interval_end.astimezone(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)
    days = [date.fromisoformat(str(event.extra["last_day"]))
            for events in (triggering_asset_events or {}).values() for event in events
            if (getattr(event, "extra", None) or {}).get("last_day")]
    return max(days, default=None)


def gate_new_batches(dag_run_id: str | None = None, expected: date | None = None) -> GateReport:
    """The warehouse's DDL step (shumei.migrations.migrate), then the batch rules
    (expectations/source_batch.yml) over every loaded batch not validated yet, those blocked before and
    each feed's newest (shumei.quality.validate_batches), and the as-of date. `expected`: the day the
    run expects data for (expected_day), the clock of the freshness rule. A rule with `alert: true`
    that warns or blocks also sends an alert (shumei.failures.send_alert)."""
    from shumei.migrations import migrate
    from shumei.quality import send_rule_alerts, validate_batches

    settings = get_settings()
    with psycopg.connect(settings.warehouse_url) as conn:
        # the DAG's first task: the warehouse's DDL step, before dbt (the reader view dbt defines in
        # `published`, the drill-through, reads storage tables of the published schema)
        migrate(conn)
        completeness = feed_completeness(conn)
        as_of = as_of_date(conn, completeness)
        digest = build_inputs_digest(conn, as_of)
    summaries = [f.describe() for f in completeness if f.first_gap is not None]
    for line in summaries:
        log.warning("SHUMEI SUMMARY completeness: %s", line)
    result = validate_batches(settings.warehouse_url, dag_run_id=dag_run_id, expected_day=expected)
    summaries.append(result.summary().splitlines()[0])
    for outcome in result.warnings:  # reported in the run's summary, and alerted if the rule says so
        summaries.append(f"warning {outcome.line()}")
        log.warning("SHUMEI SUMMARY gate: warning %s", outcome.line())
    send_rule_alerts(result, expected_day=expected)
    if not result.passed:
        raise GateBlocked(f"source batches blocked by the quality gate:\n{result.summary()}")
    return GateReport(summaries, as_of, digest, expected)


# What a build is computed from: every loaded batch by its content (feed, days, checksum of the source
# bytes, row counts; not its batch id, so a reload of the same bytes is no change), the as-of date and
# the code that builds, audits, publishes and reports (dbt project, expectations, this package).
BATCHES_DIGEST_SQL = """
select md5(coalesce(string_agg(concat_ws(':', feed, interval_start, interval_end, checksum, rows_received,
                                         rows_loaded, rows_rejected), ',' order by feed, interval_start, interval_end,
                                         checksum), ''))
from raw.batch_log
where status = 'loaded'
"""
CODE_DIRS = ("dbt_project/models", "dbt_project/macros", "dbt_project/seeds", "dbt_project/scales",
             "dbt_project/tests",
             "dbt_project/dbt_project.yml", "expectations", "include/shumei")


def build_inputs_digest(conn: psycopg.Connection, as_of: date | None) -> str:
    """SHA-256 of the build's inputs (BATCHES_DIGEST_SQL, the as-of date, the files of CODE_DIRS)."""
    import hashlib

    from shumei.settings import REPO_ROOT

    digest = hashlib.sha256(conn.execute(BATCHES_DIGEST_SQL).fetchone()[0].encode())
    digest.update(str(as_of).encode())
    for name in CODE_DIRS:
        root = REPO_ROOT / name
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def last_build_with(inputs_digest: str) -> str | None:
    """The message saying what stays in force when the last complete run had these very inputs (so this
    run has nothing to build, audit, publish or report); None when there is something new."""
    with psycopg.connect(get_settings().warehouse_url) as conn:
        row = conn.execute("""select run_id, inputs_digest, release_id from audit.build_inputs
                              order by recorded_at desc limit 1""").fetchone()
        current = conn.execute("""select max(release_id) from published.release_log
                                  where status = 'published'""").fetchone()[0]
    if row is None or row[1] != inputs_digest or row[2] != current:
        return None
    message = (f"nothing new since run {row[0]} (the same loaded batches, as-of date and code): build, audit, "
               f"publication and reports skipped; release {current} stays in force")
    log.info("SHUMEI SUMMARY %s", message)
    return message


def record_build_inputs(dag_run_id: str, inputs_digest: str, as_of: date | None, release_id: int | None) -> None:
    """The inputs of a complete run (after its reports), for the next run's last_build_with."""
    with psycopg.connect(get_settings().warehouse_url) as conn:
        conn.execute("""insert into audit.build_inputs (run_id, inputs_digest, as_of_date, release_id)
                        values (%s, %s, %s, %s)
                        on conflict (run_id) do update set inputs_digest = excluded.inputs_digest,
                            as_of_date = excluded.as_of_date, release_id = excluded.release_id,
                            recorded_at = now()""", (dag_run_id, inputs_digest, as_of, release_id))


def audit_candidate(dag_run_id: str | None = None) -> dict:
    """GX checkpoint on the candidate; returns what the publish task needs (JSON, for XCom)."""
    from shumei.quality import run_checkpoint

    result = run_checkpoint(get_settings().warehouse_url, dag_run_id=dag_run_id)
    log.info("SHUMEI SUMMARY audit: %s", result.summary().splitlines()[0])
    if not result.passed:
        raise GateBlocked(f"candidate indicator tables blocked; the last publication is unchanged:\n"
                          f"{result.summary()}")
    return {"target": result.target, "passed": result.passed, "summary": result.as_summary(),
            "candidate_checksum": result.candidate_checksum}


@dataclass
class _PassedAudit:
    """An audit result as the publish task receives it (from XCom)."""

    target: str
    passed: bool
    summary: dict
    candidate_checksum: dict | None

    def as_summary(self) -> dict:
        return self.summary


@dataclass(frozen=True)
class FeedCompleteness:
    """How far one feed is complete (raw.batch_log): every day from its first loaded day up to
    `complete_through` has a loaded batch; `missing_days` are the days after it with none, up to its
    last loaded day `last_day` (the first of them is the first gap)."""

    feed: str
    first_day: date
    complete_through: date
    last_day: date
    missing_days: int
    first_gap: date | None

    def describe(self) -> str:
        if self.first_gap is None:
            return f"{self.feed}: complete {self.first_day}..{self.complete_through}"
        return (f"{self.feed}: complete through {self.complete_through}; {self.missing_days} day(s) missing "
                f"from {self.first_gap} (loaded up to {self.last_day}): the release is as of "
                f"{self.complete_through} at the latest and the periods after the gap stay provisional")


# The completeness rule (DOMAIN §8), its one home: per feed, the days its loaded batches cover
# ([interval_start, interval_end), one day per daily batch) and the first day missing after its
# first loaded day.
COMPLETENESS_SQL = """
with covered as (
    select distinct b.feed, d::date as day
    from raw.batch_log b
    cross join lateral generate_series(b.interval_start, greatest(b.interval_end - 1, b.interval_start),
                                       interval '1 day') as d
    where b.status = 'loaded'
),
bounds as (
    select feed, min(day) as first_day, max(day) as last_day, count(*) as days from covered group by feed
),
gaps as (
    select c.feed, min(c.day + 1) as first_gap
    from covered c join bounds b using (feed)
    where c.day < b.last_day
      and not exists (select 1 from covered n where n.feed = c.feed and n.day = c.day + 1)
    group by c.feed
)
select b.feed, b.first_day, coalesce(g.first_gap - 1, b.last_day) as complete_through, b.last_day,
       (b.last_day - b.first_day + 1 - b.days)::integer as missing_days, g.first_gap
from bounds b left join gaps g using (feed)
order by b.feed
"""


def feed_completeness(conn: psycopg.Connection) -> list[FeedCompleteness]:
    """Completeness of every feed that has loaded a batch, from raw.batch_log."""
    return [FeedCompleteness(*row) for row in conn.execute(COMPLETENESS_SQL).fetchall()]


def as_of_date(conn: psycopg.Connection, completeness: list[FeedCompleteness] | None = None) -> date | None:
    """The release's as-of date (DOMAIN §8): the last day up to which every feed is complete with no
    gap. A feed with a missing day holds the release at the day before it, so every period after the
    gap stays provisional (dbt's is_provisional reads this date, var shumei_as_of_date) until the day
    is loaded."""
    days = [f.complete_through for f in (feed_completeness(conn) if completeness is None else completeness)]
    return min(days) if days else None


def publish_release(audit: dict, as_of: date, dag_run_id: str | None = None) -> dict:
    """One release from the audited candidate (refused if the candidate changed since the audit), or
    none when nothing changed since the last release (the message says so).
    `as_of`: the date the gate gave the build, so the release says what the data was built for even
    if a source loaded a new day meanwhile. Returns (JSON, for XCom) the release in force afterwards."""
    from shumei.publish import publish

    audit = _PassedAudit(**audit)
    with psycopg.connect(get_settings().warehouse_url, autocommit=True) as conn:
        result = publish(conn, as_of, dag_run_id, audit)
    message = f"release published: {result}" if result.released else str(result)
    log.info("SHUMEI SUMMARY %s", message)
    return {"release_id": result.release_id, "released": result.released, "message": message}


def report_release(published: dict) -> str:
    """The statistics office's files of the release in force (workbook, release notes, bulletin),
    written under the local dir and their checksums recorded with the release. Run after every
    publication; when no new release was cut, the files of the release in force are produced again
    (byte-identical) and the message says so."""
    from shumei.report import produce_reports

    release_id = published.get("release_id")
    if release_id is None:
        message = "no release yet: no report"
    else:
        settings = get_settings()
        artifacts = produce_reports(release_id, reader_url=settings.stats_url, owner_url=settings.warehouse_url)
        prefix = "" if published.get("released") else f"no new release; the files of release {release_id} again: "
        message = prefix + artifacts.summary()
    log.info("SHUMEI SUMMARY report: %s", message)
    return message
