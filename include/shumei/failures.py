"""What a failure says and where it is written: one home for every message the pipeline records about
an error (raw.batch_log, the alert file and webhook, the task log, the local failure file).

DOMAIN §8: no message, log line, alert or error ever quotes a restricted field. A failure is described
by structured facts (feed, batch, row number, column, rule, SQLSTATE), never by a row's values:
PostgreSQL's DETAIL and CONTEXT of an error about a data row quote the row (a COPY line with the
caller's phone), so they are never read; of a data exception (SQLSTATE class 22) not even the primary
message is, since it quotes the value ('invalid input syntax for type bigint: "..."').

Files written here are private to the pipeline's OS user (folders 0700, files 0600). Imported by the
DAG files' failure callback: it imports nothing heavy.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

DATA_VALUES_WITHHELD = "details withheld (PostgreSQL's message quotes the data)"


def describe(exc: BaseException) -> str:
    """`<type>: <message>` of an exception, safe to record anywhere."""
    sqlstate = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    if diag is not None and type(exc).__module__.startswith("psycopg"):
        if sqlstate is None:  # a client-side or connection error: no row in it
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        elif sqlstate.startswith("22"):
            text = DATA_VALUES_WITHHELD
        else:
            text = diag.message_primary or ""
        return f"{type(exc).__name__} (SQLSTATE {sqlstate}): {text}"[:4000]
    return f"{type(exc).__name__}: {exc}"[:4000]


class LoadFailed(RuntimeError):
    """A PostgreSQL error while loading, re-raised with its safe description only (the original, whose
    text quotes the data, is not chained: Airflow's task log prints every exception of a chain)."""


def without_data(exc: BaseException) -> BaseException:
    """The exception to raise in place of `exc`: a PostgreSQL error becomes LoadFailed (its safe
    description, nothing chained); any other exception stays, with a chained PostgreSQL error cut off
    (our own messages are built from structured facts, theirs are not)."""
    if type(exc).__module__.startswith("psycopg"):
        safe = LoadFailed(describe(exc))
        safe.__suppress_context__ = True
        return safe
    link = exc
    while link is not None:
        nxt = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
        if nxt is not None and type(nxt).__module__.startswith("psycopg"):
            link.__cause__ = None
            link.__suppress_context__ = True
            break
        link = nxt
    return exc


def private_dir(path: Path) -> Path:
    """`path` created if missing, readable by the pipeline's user only (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def append_private_jsonl(path: Path, record: dict) -> None:
    """One JSON line appended to a file only the pipeline's user can read (0600)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)  # also a file made before this rule
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def send_alert(file_name: str, record: dict) -> None:
    """An alert: a JSON line in the alert log (<local dir>/alerts/<file_name>, 0600) and a POST to
    SHUMEI_ALERT_WEBHOOK when it is set. `record` holds structured facts only (DAG, task, check,
    feed, day, counts), never a data value. An alert that cannot be delivered is logged, never raised."""
    from shumei.settings import get_settings

    try:
        append_private_jsonl(get_settings().local_dir / "alerts" / file_name, record)
    except OSError:
        log.exception("could not write the alert log")
    url = os.environ.get("SHUMEI_ALERT_WEBHOOK")
    if url:
        import httpx

        try:
            httpx.post(url, json=record, timeout=10)
        except httpx.HTTPError:
            log.exception("could not call the alert webhook")
