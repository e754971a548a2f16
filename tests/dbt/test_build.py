"""`dbt build` of every model up to the published values, with their data tests and unit tests, on the
small raw layer of tests/dbt/raw_fixture.py: a unit test whose inputs miss a new ref, or a data test a
model change breaks, fails here in half a minute rather than inside the pipeline's build_and_publish."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest

# tests/dbt has no __init__.py on purpose: a package named `dbt` would shadow dbt-core itself.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_fixture  # noqa: E402
from dbt_run import dbt  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_build_with_tests_up_to_the_published_values(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        raw_fixture.load(conn)
    dbt("seed")
    dbt("build", "--select", "+indicator_values", "--exclude", "resource_type:seed")


def test_a_model_over_its_statement_timeout_fails_and_changes_nothing(warehouse_url):
    """The warehouse DAG's limit on a model's statements (var shumei_statement_timeout, set below the
    task's execution timeout, which cannot stop a running query): PostgreSQL cancels the statement,
    dbt fails the model, and its transaction leaves the table as it was. (Runs after the build above.)"""
    query = "select count(*), sum(numerator) from published_candidate.indicator_values"
    with psycopg.connect(warehouse_url) as conn:
        before = conn.execute(query).fetchone()
    assert before[0] > 0
    result = dbt("run", "--select", "indicator_values", check=False,
                 variables="{shumei_as_of_date: '2024-07-15', shumei_statement_timeout: '1ms'}")
    assert result.returncode != 0
    assert "canceling statement due to statement timeout" in result.stdout, result.stdout[-3000:]
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute(query).fetchone() == before
    dbt("run", "--select", "indicator_values")  # without the limit, as a bare `dbt build` runs


def test_a_hotline_flow_stays_provisional_until_its_orders_settle(warehouse_url):
    """As of 2024-07-15 (dbt_run.VARS): a month has ended, but the replies, closures and visits of its
    orders keep arriving for weeks (measured: up to 54 days after the month), so a hotline flow stays
    provisional until 60 days after its period ends (var shumei_hotline_settlement_days); a registry
    stock is final once its period ends. (Seen on 2026-12-02: November's response rates, published
    final on 1 December, changed the next day, and the publication gate blocked the release as an
    unflagged jump.)"""
    as_of = "2024-07-15"
    with psycopg.connect(warehouse_url) as conn:
        wrong = conn.execute("""
            select v.indicator_code, v.period_type, v.period_end, v.is_provisional
            from published_candidate.indicator_values v
            join reference.ref_indicator_catalog c using (indicator_code)
            where v.is_provisional is distinct from (
                v.period_end >= %(d)s::date
                or (c.measure_kind = 'flow' and 'hotline_events' = any(string_to_array(c.source_feeds, '|'))
                    and v.period_end + 60 >= %(d)s::date))
            limit 5""", {"d": as_of}).fetchall()
        assert wrong == []
        # both kinds occur: hotline flows of May (ended 05-31, provisional until 07-30) and April
        # (final since 06-29), and registry stocks of June (final)
        seen = set(conn.execute("""
            select v.indicator_code, to_char(v.period_start, 'YYYY-MM'), v.is_provisional
            from published_candidate.indicator_values v
            where v.area_code = '341523000000' and v.period_type = 'month' and v.breakdown_type = 'total'
              and v.indicator_code in ('TS_AS', 'WY_FG') and v.period_start between '2024-04-01' and '2024-06-01'
        """).fetchall())
    assert {("TS_AS", "2024-04", False), ("TS_AS", "2024-05", True), ("WY_FG", "2024-06", False)} <= seen, seen
