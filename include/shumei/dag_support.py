"""What every DAG of the project shares: default arguments, the failure callback, Assets, the ingest
DAG factory. Imported at DAG parse time, so it imports nothing heavy and touches no database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, task

from shumei.failures import describe, send_alert

log = logging.getLogger(__name__)

TZ = "Asia/Shanghai"
OWNER = "shumei-data"
HISTORY_START = pendulum.datetime(2022, 1, 1, tz=TZ)

# The warehouse tables each DAG writes, as Assets (host/port are the compose stack's; the URI names
# the table, not a connection).
RAW_ASSETS = {
    source: Asset(name=f"raw_{source}", uri=f"postgres://warehouse:5432/shumei/raw/{table}")
    for source, table in (("hotline", "hotline_events"), ("registry", "registry_compounds"),
                          ("credit", "credit_events"))
}
PUBLISHED_ASSET = Asset(name="published_indicators", uri="postgres://warehouse:5432/shumei/published/indicator_values")


def notify_failure(context) -> None:
    """Failure callback: a structured log line, a JSON line in the alert log, and the webhook if set."""
    ti = context.get("task_instance") or context.get("ti")
    record = {
        "dag_id": getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id"),
        "logical_date": str(context.get("logical_date")),
        "try_number": getattr(ti, "try_number", None),
        # never a data value: shumei.failures.describe keeps PostgreSQL's DETAIL and CONTEXT out
        "exception": describe(exc)[:2000] if (exc := context.get("exception")) is not None else None,
    }
    log.error("SHUMEI PIPELINE FAILURE %s", json.dumps(record, ensure_ascii=False))
    send_alert("failures.jsonl", record)


@contextmanager
def refusals_fail_at_once() -> Iterator[None]:
    """A refusal at the door (BatchStructureError: a batch whose structure, encoding or manifest is
    wrong), of the quality gate (a blocked source batch), of the audit (a blocked candidate) or of
    the publication (PublicationRefused), or a report that cannot be made from what is published
    (ReportError), is a decision about the data: a retry reaches the same
    decision, only minutes later. Inside this block such a refusal fails the task at once, without
    retries (AirflowFailException), with the refusal's own message (which names checks, counts and
    batches, never a data value). Any other exception (a lost connection, a timeout) is left as it
    is, and the task retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from shumei.build import GateBlocked
    from shumei.ingest.loader import BatchStructureError
    from shumei.publish import PublicationRefused
    from shumei.report.errors import ReportError

    try:
        yield
    except (GateBlocked, PublicationRefused, ReportError, BatchStructureError) as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


# A task that hangs (a drop that never finishes reading, a lock that is never granted) fails after its
# execution timeout and is retried, instead of blocking its DAG forever. Sized from measured times,
# generous but finite: a dbt model takes up to ~40 s, the gate and the audit ~1 min, a publication
# seconds; the ingest of the whole history on the first load ~3 min (INGEST_TIMEOUT).
TASK_TIMEOUT = timedelta(minutes=15)
# Airflow's timeout cannot stop a dbt model's query (dbt waits for its running thread; seen at city
# scale: 984 s with a 15 min timeout): the warehouse stops it a minute earlier (dbt var
# shumei_statement_timeout, a pre-hook of every model), and the task fails and retries.
DBT_STATEMENT_TIMEOUT = f"{int((TASK_TIMEOUT - timedelta(minutes=1)).total_seconds())}s"
INGEST_TIMEOUT = timedelta(minutes=30)

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "execution_timeout": TASK_TIMEOUT,
    "on_failure_callback": notify_failure,
}

INGEST_DOC = """
### Ingest {source} ({zh})

Loads one day (the data interval, Asia/Shanghai) of the **{source}** source into the raw layer:
{how}

- A run loads exactly its interval; rerunning a day replaces that day's batch (no duplicates).
- `load_from` (param, a date): also load every earlier day from that date that has no loaded batch yet:
  the ranged initial load that `make run` uses instead of one DAG run per day of history.
- Each batch: validated against the contract in `include/shumei/contracts/`, COPY in one transaction,
  rejected rows in `raw.rejects` with their reason, `raw.batch_log` records received = loaded + rejected.
- Updates the Asset `{asset}`, which triggers the warehouse build.

Docs: `docs/contracts/`, `docs/operations.md` (backfills, reruns).
"""

_HOW = {
    "hotline": "the work-order events updated in the interval (plus an overlap), pulled page by page from "
               "the hotline API with retries and backoff; all pages or nothing.",
    "registry": "the day's ledger workbook (a full snapshot, a sheet per entity) from the drop folder; a "
                "missing drop fails the task.",
    "credit": "the day's credit-event file and its manifest from the drop folder; a missing drop fails the task.",
}
_ZH = {"hotline": "12345/12319 工单", "registry": "物业管理台账", "credit": "物业企业信用"}


def build_ingest_dag(source: str):
    """The daily ingest DAG of one source (one thin file per DAG in dags/ calls this)."""

    @dag(
        dag_id=f"ingest_{source}",
        schedule=CronDataIntervalTimetable("0 2 * * *", timezone=TZ),
        start_date=HISTORY_START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        on_failure_callback=notify_failure,
        tags=["shumei", "ingest", source],
        doc_md=INGEST_DOC.format(source=source, zh=_ZH[source], how=_HOW[source], asset=RAW_ASSETS[source].name),
        params={"load_from": Param(None, type=["null", "string"], format="date",
                                   description="ranged load: also load unloaded days from this date")},
    )
    def ingest():
        @task(outlets=[RAW_ASSETS[source]], execution_timeout=INGEST_TIMEOUT)
        def load(data_interval_start=None, data_interval_end=None, params=None, run_id=None,
                 outlet_events=None) -> str:
            from shumei.ingest.jobs import load_range

            # The 02:00 schedule covers the previous calendar day: the interval ends at 02:00 of
            # the next day, so the partition is the day of the interval's start.
            first_day = pendulum.instance(data_interval_start).in_tz(TZ).date()
            last_day = pendulum.instance(data_interval_end).in_tz(TZ).subtract(days=1).date()
            days_of_run = {first_day.add(days=i) for i in range((last_day - first_day).days + 1)}
            start = pendulum.parse(params["load_from"]).date() if params.get("load_from") else first_day
            with refusals_fail_at_once():  # a batch refused at the door is refused again on a retry
                results = load_range(source, min(start, first_day), last_day, run_id, reload=days_of_run)
            # the day the run loaded up to, for the build it triggers: its freshness is against this day
            outlet_events[RAW_ASSETS[source]].extra = {"last_day": last_day.isoformat()}
            return "\n".join(r.summary for r in results) or "nothing new"

        load()

    return ingest()
