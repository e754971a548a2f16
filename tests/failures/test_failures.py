"""What a failure says (shumei.failures): never a data value, and private files (issue 11 items 3, 6, 7)."""

from __future__ import annotations

import dataclasses
import json
import traceback
from datetime import date

import psycopg
import pytest
from shumei.failures import LoadFailed, append_private_jsonl, describe, without_data
from shumei.local.embedded import free_port

pytestmark = pytest.mark.integration
PHONE = "13912345678"


def _error_of(warehouse_url: str, statement: str, params=()) -> psycopg.Error:
    with psycopg.connect(warehouse_url) as conn:
        try:
            conn.execute(statement, params)
        except psycopg.Error as exc:
            return exc
    raise AssertionError("the statement did not fail")


@pytest.mark.parametrize(("statement", "params"), [
    ("select %s::jsonb", (f'{{"caller_phone": "{PHONE}\\u0000"}}',)),  # DETAIL and CONTEXT quote it
    ("select %s::bigint", (f"{PHONE} 王建国",)),  # the primary message quotes it
    ("select 1 from (values (%s)) v(x) where x::int > 0", (PHONE,)),
])
def test_postgresql_errors_are_described_without_the_data(warehouse_url, statement, params):
    exc = _error_of(warehouse_url, statement, params)
    text = describe(exc)
    assert text.startswith(type(exc).__name__) and "SQLSTATE 22" in text and PHONE not in text


def test_a_chain_through_a_postgresql_error_is_cut(warehouse_url):
    pg = _error_of(warehouse_url, "select %s::jsonb", (f'{{"p": "{PHONE}\\u0000"}}',))
    safe = without_data(pg)
    assert isinstance(safe, LoadFailed) and PHONE not in str(safe)
    ours = ValueError("feed x, batch 1: row 2 is not UTF-8 text")
    try:
        try:
            raise pg
        except psycopg.Error as exc:
            raise ours from exc
    except ValueError:
        kept = without_data(ours)
    assert kept is ours
    printed = "".join(traceback.format_exception(kept))  # what Airflow's task log prints
    assert PHONE not in printed and "row 2" in printed


def test_failure_of_a_day_is_recorded_locally_when_the_warehouse_is_down(tmp_path):
    from shumei.ingest import jobs
    from shumei.settings import get_settings

    settings = dataclasses.replace(get_settings(), local_dir=tmp_path, wh_port=free_port())
    jobs._record_failure(settings, "hotline", date(2023, 1, 3), "run-1",
                         "SourceUnavailable: hotline API failed 8 times: HTTP 500")
    path = tmp_path / "alerts" / jobs.LOCAL_FAILURES
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["error"] == "SourceUnavailable: hotline API failed 8 times: HTTP 500"  # the original cause
    assert record["source"] == "hotline" and record["day"] == "2023-01-03"
    assert "refused" in record["not_in_warehouse_because"].lower() or "failed" in record["not_in_warehouse_because"]
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


def test_private_files_stay_private_when_they_existed_before(tmp_path):
    path = tmp_path / "alerts" / "failures.jsonl"
    path.parent.mkdir(mode=0o755)
    path.write_text("")
    path.chmod(0o644)
    append_private_jsonl(path, {"a": 1})
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
