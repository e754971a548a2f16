"""The day a build run expects data for (shumei.build.expected_day): from the run, never the machine's clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace

import pendulum
from shumei.build import expected_day

SHANGHAI = timezone(timedelta(hours=8))


def test_a_run_with_a_data_interval_expects_the_day_its_0200_run_covers():
    # `make run` for 2024-06-01: `airflow dags test build_and_publish 2024-06-02T02:00:00+08:00`
    assert expected_day(datetime(2024, 6, 2, 2, 0, tzinfo=SHANGHAI)) == date(2024, 6, 1)
    # the same instant in UTC (18:00 of 06-01) is still 06-02 in Asia/Shanghai
    assert expected_day(datetime(2024, 6, 1, 18, 0, tzinfo=UTC)) == date(2024, 6, 1)
    # a manual trigger in the afternoon expects yesterday's data
    assert expected_day(datetime(2024, 6, 2, 15, 30, tzinfo=SHANGHAI)) == date(2024, 6, 1)
    # Airflow passes pendulum DateTimes (whose arithmetic with a stdlib zone once gave 2024-05-31 here)
    assert expected_day(pendulum.datetime(2024, 6, 2, 2, tz="Asia/Shanghai")) == date(2024, 6, 1)


def test_an_asset_triggered_run_expects_the_latest_day_its_ingest_runs_loaded():
    events = {"raw_registry": [SimpleNamespace(extra={"last_day": "2024-03-04"})],
              "raw_hotline": [SimpleNamespace(extra={"last_day": "2024-03-05"}), SimpleNamespace(extra={})],
              "raw_credit": []}
    assert expected_day(None, events) == date(2024, 3, 5)


def test_a_run_with_neither_expects_no_day():
    assert expected_day(None, None) is None
    assert expected_day(None, {"raw_registry": [SimpleNamespace(extra={})]}) is None
