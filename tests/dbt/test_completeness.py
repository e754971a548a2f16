"""Completeness (DOMAIN §8, issue 11 item 4): a release is as of the last day up to which every feed
is complete with no gap; the periods after a gap stay provisional.

The attack: hotline days missing in the middle of the history while later days were loaded. The
release claimed "as of" the last loaded day, so values of the months after the gap went out final
and were revised when the days arrived. Here the raw layer of tests/dbt/raw_fixture.py is made
complete for every day (a day with nothing to report is a loaded batch of no rows; a registry
snapshot stands for the days up to the next one), three hotline days are then failed attempts (no
loaded batch), and the candidate is built with the as-of date the gate computes.
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
from dbt_run import dbt  # noqa: E402
from shumei.build import as_of_date, feed_completeness  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LAST = dt.date(2024, 7, 15)
GAP = [dt.date(2024, 5, 10), dt.date(2024, 5, 11), dt.date(2024, 5, 12)]
COUNTY = "341523000000"


def _complete_every_day(conn: psycopg.Connection) -> None:
    conn.execute("""
        update raw.batch_log b set interval_end = coalesce(
            (select min(n.interval_start) from raw.batch_log n
             where n.feed = b.feed and n.interval_start > b.interval_start and n.status = 'loaded'),
            %s::date + 1)
        where b.feed like 'registry%%' and b.status = 'loaded'""", (LAST,))
    conn.execute("""
        insert into raw.batch_log (source, feed, interval_start, interval_end, file_or_page, received_at,
                                   rows_received, rows_loaded, rows_rejected, checksum, status)
        select split_part(f.feed, '_', 1), f.feed, d::date, d::date + 1, 'fixture (no rows that day)', now(),
               0, 0, 0, 'fixture', 'loaded'
        from (select feed, min(interval_start) as first_day from raw.batch_log
              where feed in ('hotline_events', 'credit_events') group by feed) f
        cross join lateral generate_series(f.first_day, %s::date, interval '1 day') as d
        where not exists (select 1 from raw.batch_log b where b.feed = f.feed and b.interval_start = d::date
                          and b.status = 'loaded')""", (LAST,))
    conn.commit()


def _status(conn: psycopg.Connection, indicator: str) -> dict[str, bool]:
    rows = conn.execute("""select to_char(period_start, 'YYYY-MM'), is_provisional
                           from published_candidate.indicator_values
                           where indicator_code = %s and area_code = %s and period_type = 'month'
                             and breakdown_type = 'total' and period_start between '2024-03-01' and '2024-06-01'""",
                        (indicator, COUNTY)).fetchall()
    return dict(rows)


def test_gap_holds_the_as_of_date_and_later_periods_stay_provisional(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        conn.commit()
        raw_fixture.load(conn)
        _complete_every_day(conn)
        assert {f.feed: f.first_gap for f in feed_completeness(conn)} == dict.fromkeys(raw_fixture.FEEDS)
        assert as_of_date(conn) == LAST

        # three hotline days missing in the middle: their attempts failed, later days loaded
        failed = conn.execute("""update raw.batch_log set status = 'failed', message = 'timeout'
                                 where feed = 'hotline_events' and interval_start = any(%s) and status = 'loaded'
                                 returning batch_id""", (GAP,)).fetchall()
        assert len(failed) == 3
        conn.execute("delete from raw.hotline_events where _batch_id = any(%s)", ([b for (b,) in failed],))
        conn.commit()
        hotline = {f.feed: f for f in feed_completeness(conn)}["hotline_events"]
        assert (hotline.complete_through, hotline.first_gap, hotline.missing_days, hotline.last_day) == (
            GAP[0] - dt.timedelta(days=1), GAP[0], 3, LAST)
        assert "3 day(s) missing from 2024-05-10" in hotline.describe()
        as_of = as_of_date(conn)
        assert as_of == dt.date(2024, 5, 9)

    # the build as the DAG runs it: dbt's as-of date is the gate's
    dbt("seed")
    dbt("run", "--select", "+indicator_values", "--full-refresh", variables=f"{{shumei_as_of_date: '{as_of}'}}")
    with psycopg.connect(warehouse_url) as conn:
        # April is complete; May (the gap) stays provisional; nothing after the as-of date is counted
        # (June, though loaded, waits for the gap), so the days that arrive later revise no final value
        assert _status(conn, "WY_FG") == {"2024-03": False, "2024-04": False, "2024-05": True}
        assert conn.execute("""select count(*) filter (where period_end >= %(d)s and not is_provisional),
                                      count(*) filter (where period_start > %(d)s)
                               from published_candidate.indicator_values""", {"d": as_of}).fetchone() == (0, 0)
        # the days arrive (a backfill): complete again up to the last day
        conn.execute("update raw.batch_log set status = 'loaded' where batch_id = any(%s)",
                     ([b for (b,) in failed],))
        conn.commit()
        assert as_of_date(conn) == LAST
