"""A run with nothing new (issue 14): the inputs digest of build_and_publish (shumei.build) stays the
same when a source reloads a day with the same content, and changes with a new day, a changed batch or
another as-of date; the DAG's anything_new skips the build only when the last complete run had the
same digest and the release it left is still in force.

Against the session's embedded PostgreSQL with the small raw layer of tests/dbt/raw_fixture.py.
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
from shumei.build import build_inputs_digest, last_build_with, record_build_inputs  # noqa: E402

pytestmark = [pytest.mark.integration]

DAY = dt.date(2023, 9, 30)


def _digest(warehouse_url: str, as_of: dt.date = DAY) -> str:
    with psycopg.connect(warehouse_url) as conn:
        return build_inputs_digest(conn, as_of)


def test_digest_follows_content_not_batch_ids(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        conn.commit()
        raw_fixture.load(conn, until=DAY)
    loaded = _digest(warehouse_url)

    # the daily run of a source with nothing new reloads its last days: new batch ids, same bytes
    with psycopg.connect(warehouse_url) as conn:
        assert raw_fixture.load(conn, until=DAY, since=DAY - dt.timedelta(days=10)) > 0
    assert _digest(warehouse_url) == loaded
    assert _digest(warehouse_url, DAY + dt.timedelta(days=1)) != loaded

    # a reloaded day whose source bytes changed
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("""update raw.batch_log set checksum = 'changed'
                        where batch_id = (select max(batch_id) from raw.batch_log where status = 'loaded')""")
    changed = _digest(warehouse_url)
    assert changed != loaded

    # new days
    with psycopg.connect(warehouse_url) as conn:
        assert raw_fixture.load(conn, since=DAY, until=DAY + dt.timedelta(days=40)) > 0
    assert _digest(warehouse_url) not in (loaded, changed)


def test_nothing_new_only_after_a_complete_run_with_the_same_inputs(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        conn.commit()
        raw_fixture.load(conn, until=DAY)
        conn.execute("delete from audit.build_inputs")
    digest = _digest(warehouse_url)
    assert last_build_with(digest) is None  # no complete run yet

    record_build_inputs("run-1", digest, DAY, None)
    assert "nothing new since run run-1" in last_build_with(digest)
    assert last_build_with(_digest(warehouse_url, DAY + dt.timedelta(days=1))) is None

    # a release published since the recorded run (e.g. by a run that failed after publishing)
    record_build_inputs("run-1", digest, DAY, -1)
    assert last_build_with(digest) is None
