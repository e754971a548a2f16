"""The release calendar (rule in a reference table, working days from the workday calendar), the
scheduled / unscheduled mark of each release, and no release when nothing changed."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from shumei.publish.calendar import planned_releases

from .conftest import CATALOG

pytestmark = pytest.mark.integration

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
RULES, WORKDAYS = "qa_ref.ref_release_calendar_rules", "qa_ref.ref_workday_calendar"


def _load_seed(conn, name: str, types: dict[str, str]) -> None:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cols = list(rows[0])
    columns = ", ".join(f"{c} {types.get(c, 'text')}" for c in cols)
    conn.execute(f"create table qa_ref.{name} ({columns})")
    with conn.cursor() as cur, cur.copy(f"copy qa_ref.{name} ({', '.join(cols)}) from stdin") as copy:
        for row in rows:
            copy.write_row([row[c] or None for c in cols])


@pytest.fixture
def seeds(wh):
    _load_seed(wh, "ref_workday_calendar", {"calendar_date": "date", "is_workday": "boolean",
                                            "is_estimated": "boolean", "iso_weekday": "integer",
                                            "workday_seq": "integer", "is_weekend": "boolean",
                                            "is_holiday": "boolean", "is_makeup_workday": "boolean"})
    _load_seed(wh, "ref_release_calendar_rules", {"workday_of_month": "integer", "release_time": "time",
                                                  "horizon_months": "integer", "reference_lag_months": "integer",
                                                  "valid_from": "date", "valid_to": "date"})
    return wh


def test_planned_dates_follow_the_rule_and_the_holiday_notice(seeds):
    with seeds.cursor() as cur:
        planned = planned_releases(cur, date(2024, 1, 20), rules=RULES, workdays=WORKDAYS)
    dates = [row[0] for row in planned]
    assert len(dates) == 12 and dates[0].month == 1 and dates[-1] == date(2024, 12, 6)
    by_month = {d.month: d for d in dates}
    # Spring Festival 2024: 10-17 February off, Sunday 4 February worked (调休): 1, 2, 4, 5, 6
    assert by_month[2] == date(2024, 2, 6)
    # National Day 2024: 1-7 October off, Saturday 12 October worked: 8, 9, 10, 11, 12
    assert by_month[10] == date(2024, 10, 12)
    # an ordinary month: the 5th weekday
    assert by_month[7] == date(2024, 7, 5)
    first = planned[0]
    # New Year 2024: 1 January off, so 2, 3, 4, 5, 8; at 10:00 Asia/Shanghai, the figures of December
    assert first[1] == datetime(2024, 1, 8, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert (first[2], first[3]) == (date(2023, 12, 1), date(2023, 12, 31))
    assert first[4] == "monthly-5th-workday-1000" and first[7] is False


def test_publication_writes_the_calendar_a_year_ahead(seeds, release):
    first = release(calendar_rules=RULES, workdays=WORKDAYS)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    rows = seeds.execute("select planned_date, release_id from published.release_calendar order by 1").fetchall()
    assert rows, "no planned dates"
    assert all(today <= d < today + timedelta(days=366) for d, _ in rows), rows
    assert len(rows) in (11, 12)  # this month's date may have passed already
    kind, reason = seeds.execute("select release_kind, release_reason from published.release_log"
                                 " where release_id = %s", (first.release_id,)).fetchone()
    if today in {d for d, _ in rows}:
        assert kind == "scheduled"
    else:
        assert (kind, reason) == ("unscheduled", "首次发布 first release")


def test_first_release_on_a_planned_date_is_scheduled_the_next_is_not(wh, release):
    # a calendar where every day is a working day and the rule's day is today's
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    wh.execute("""create table qa_ref.ref_workday_calendar as
                  select d::date as calendar_date, true as is_workday, false as is_estimated
                  from generate_series(date_trunc('year', current_date) - interval '1 year',
                                       date_trunc('year', current_date) + interval '2 years', interval '1 day') d""")
    wh.execute("""create table qa_ref.ref_release_calendar_rules as
                  select 'test-rule' as rule_id, 'monthly' as frequency, %s as workday_of_month,
                         time '10:00' as release_time, 'Asia/Shanghai' as time_zone, 12 as horizon_months,
                         1 as reference_lag_months, date '2020-01-01' as valid_from, null::date as valid_to,
                         '测试规则' as rule_zh, 'test rule' as rule_en""", (today.day,))
    first = release(calendar_rules=RULES, workdays=WORKDAYS)
    assert first.release_kind == "scheduled" and "test rule" in first.release_reason
    assert wh.execute("select release_id from published.release_calendar where planned_date = %s",
                      (today,)).fetchone() == (first.release_id,)
    wh.execute("update published_candidate.indicator_values set value = 3.5"
               " where indicator_code = 'TS_SC_MED' and period_start = '2024-05-01'")
    second = release(calendar_rules=RULES, workdays=WORKDAYS)
    assert (second.release_kind, second.release_reason) == (
        "unscheduled", "日常更新 daily update: new or revised source data")
    log = wh.execute("select release_id, release_kind from published.release_log order by 1").fetchall()
    assert log == [(first.release_id, "scheduled"), (second.release_id, "unscheduled")]


def test_a_run_with_nothing_changed_cuts_no_release(wh, release):
    first = release()
    again = release(as_of="2024-06-16", dag_run_id="run-2")
    assert not again.released and again.release_id == first.release_id
    assert str(again).startswith("no new release: nothing changed since the last release")
    assert wh.execute("select count(*) from published.release_log").fetchone()[0] == 1
    # a changed catalogue alone is published: a new release
    wh.execute(f"update {CATALOG} set name_en = 'Property service coverage' where indicator_code = 'WY_FG'")
    third = release(as_of="2024-06-16", dag_run_id="run-3")
    assert third.released and third.release_id > first.release_id and third.changed == 0
    assert wh.execute("select name_en from published.indicator_catalog where indicator_code = 'WY_FG'"
                      ).fetchone()[0] == "Property service coverage"
