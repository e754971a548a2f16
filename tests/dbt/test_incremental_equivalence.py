"""The incremental path of fct_work_order gives the same table as a full refresh.

Against the session's embedded PostgreSQL: load part of a small raw layer (tests/dbt/raw_fixture.py),
build fct_work_order from scratch, load the rest (late status changes of old orders, overlapping
batches, a rerun that replaces an already loaded batch), run incrementally, then rebuild with
--full-refresh and compare the two tables row by row.
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


def test_incremental_equals_full_refresh(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        conn.commit()
        raw_fixture.load(conn, until=SPLIT)

    _dbt("seed")
    _dbt("run", "--select", "+fct_work_order", "--full-refresh")
    with psycopg.connect(warehouse_url) as conn:
        first = _table(conn)
        # the rest of the history, then a rerun of an already loaded day (new batch id, same rows)
        raw_fixture.load(conn, since=SPLIT)
        raw_fixture.load(conn, until=SPLIT, since=SPLIT - dt.timedelta(days=20))

    _dbt("run", "--select", "fct_work_order")
    with psycopg.connect(warehouse_url) as conn:
        incremental = _table(conn)

    _dbt("run", "--select", "fct_work_order", "--full-refresh")
    with psycopg.connect(warehouse_url) as conn:
        full = _table(conn)

    assert len(first) < len(full)
    assert incremental == full
