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
