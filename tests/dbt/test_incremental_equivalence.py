"""The incremental models give the same table as a full refresh: fct_work_order (by order) and
fct_indicator_flow_values (by indicator × period).

Against the session's embedded PostgreSQL: load part of a small raw layer (tests/dbt/raw_fixture.py),
build from scratch, load the rest (late status changes of old orders, overlapping batches, a rerun
that replaces an already loaded batch), run incrementally, then rebuild with --full-refresh and
compare the two tables row by row.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import psycopg
import pytest

# tests/dbt has no __init__.py on purpose: a package named `dbt` would shadow dbt-core itself.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_fixture  # noqa: E402
from dbt_run import dbt as _dbt  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPLIT = dt.date(2023, 9, 30)


def _table(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("select * from marts.fct_work_order order by work_order_id").fetchall()


def _history_until_split(warehouse_url: str) -> None:
    """A fresh raw layer with the batches up to SPLIT, and the seeds."""
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        conn.commit()
        raw_fixture.load(conn, until=SPLIT)
    _dbt("seed")


def _rest_of_history(warehouse_url: str) -> None:
    """The batches after SPLIT (late status changes of old orders, overlapping batches), then a rerun
    of already loaded days (new batch ids, same rows)."""
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.load(conn, since=SPLIT)
        raw_fixture.load(conn, until=SPLIT, since=SPLIT - dt.timedelta(days=20))


def test_incremental_equals_full_refresh(warehouse_url):
    _history_until_split(warehouse_url)
    _dbt("run", "--select", "+fct_work_order", "--full-refresh")
    with psycopg.connect(warehouse_url) as conn:
        first = _table(conn)
    _rest_of_history(warehouse_url)

    _dbt("run", "--select", "fct_work_order")
    with psycopg.connect(warehouse_url) as conn:
        incremental = _table(conn)

    _dbt("run", "--select", "fct_work_order", "--full-refresh")
    with psycopg.connect(warehouse_url) as conn:
        full = _table(conn)

    assert len(first) < len(full)
    assert incremental == full


FLOW_VALUES = """select indicator_code, area_code, area_level, period_type, period_start, period_end, breakdown_type,
                        breakdown_code, numerator, denominator, measure_value, period_members_checksum
                 from marts.fct_indicator_flow_values
                 order by indicator_code, area_code, period_type, period_start, breakdown_type, breakdown_code"""
# the rows a run left in place: written by an earlier transaction than the last run's
KEPT_ROWS = "select count(*) from marts.fct_indicator_flow_values where xmin::text::bigint < %s"


def _as_of(day: dt.date) -> str:
    return f"{{shumei_as_of_date: '{day.isoformat()}'}}"


def _flow_values_after(*args: str, as_of: dt.date, warehouse_url: str) -> tuple[list[tuple], int, int]:
    """fct_indicator_flow_values after `dbt run args` for `as_of`: its rows, how many rows the run kept
    from before, and how many it has."""
    with psycopg.connect(warehouse_url) as conn:
        before = conn.execute("select txid_current()").fetchone()[0]
    _dbt("run", *args, variables=_as_of(as_of))
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(FLOW_VALUES).fetchall()
        kept = conn.execute(KEPT_ROWS, (before,)).fetchone()[0]
    return rows, kept, len(rows)


def test_flow_values_incremental_by_period_equals_full_refresh(warehouse_url):
    _history_until_split(warehouse_url)
    first, _, _ = _flow_values_after("--select", "+fct_indicator_flow_values", "--full-refresh",
                                     as_of=SPLIT, warehouse_url=warehouse_url)

    # a run with nothing new rebuilds no period
    again, kept, total = _flow_values_after("--select", "fct_indicator_flow_values", as_of=SPLIT,
                                            warehouse_url=warehouse_url)
    assert again == first
    assert kept == total > 0

    # the rest of the history (late events revise earlier periods), a rerun of an already loaded day,
    # and a later as-of date: only the periods whose members changed are rebuilt
    _rest_of_history(warehouse_url)
    incremental, full, kept = _incremental_and_full(dt.date(2024, 7, 15), warehouse_url)
    assert len(first) < len(full)
    assert 0 < kept < len(full)
    assert incremental == full

    # the as-of date back behind periods that then have no member: their cells go, as in a full refresh
    shrunk, full, _ = _incremental_and_full(dt.date(2023, 6, 30), warehouse_url)
    assert len(shrunk) < len(incremental)
    assert shrunk == full


def _incremental_and_full(as_of: dt.date, warehouse_url: str) -> tuple[list[tuple], list[tuple], int]:
    """The members for `as_of`, then fct_indicator_flow_values incrementally and with --full-refresh:
    both tables, and how many rows the incremental run kept."""
    _dbt("run", "--select", "+fct_indicator_flow_members", variables=_as_of(as_of))
    incremental, kept, _ = _flow_values_after("--select", "fct_indicator_flow_values", as_of=as_of,
                                              warehouse_url=warehouse_url)
    full, _, _ = _flow_values_after("--select", "fct_indicator_flow_values", "--full-refresh", as_of=as_of,
                                    warehouse_url=warehouse_url)
    return incremental, full, kept
