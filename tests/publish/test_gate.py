"""A corrupted candidate is blocked by the audit and the previous release answers exactly as before."""

from __future__ import annotations

import psycopg
import pytest
from shumei.publish import PublicationRefused, publish

from .conftest import CATALOG, COUNTY, TARGETS, TOWN1, TOWN2

pytestmark = pytest.mark.integration

READER_QUERIES = [
    "select * from published.v_indicator_latest order by indicator_code, area_code, period_start",
    "select * from published.v_indicator_first_release order by indicator_code, area_code, period_start",
    "select * from published.indicator_values_as_of((now() at time zone 'Asia/Shanghai')::date) order by indicator_code, area_code, period_start",
    "select release_id, as_of_date, published_at from published.release_log order by release_id",
    "select * from published.indicator_catalog order by indicator_code",
]

KEY = "indicator_code = %s and area_code = %s and period_start = make_date(2024, %s, 1)"
# What the publication gate itself checks (the grid, the last release); the model's invariants (ranges,
# numerator <= denominator, towns add up) are dbt tests of indicator_values and block the build before.
CORRUPTIONS = {
    "missing_cell": (f"delete from published_candidate.indicator_values where {KEY}",
                     ("TS_SL", TOWN2, 5), "complete_county_and_towns"),
    "unflagged_jump": (f"update published_candidate.indicator_values set value = 30 where {KEY}",
                       ("TS_SC_MED", COUNTY, 5), "no_unflagged_jump_vs_last_release"),
    "unflagged_jump_of_a_rate": (f"update published_candidate.indicator_values set value = 70, numerator = 70 where {KEY}",
                                 ("WY_FG", TOWN1, 5), "no_unflagged_jump_vs_last_release"),
}


def _snapshot(url: str) -> list:
    with psycopg.connect(url) as conn:
        return [conn.execute(q).fetchall() for q in READER_QUERIES]


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupted_candidate_is_blocked_and_release_unchanged(kind, wh, release, audit, test_env):
    release()
    before = _snapshot(test_env["SHUMEI_STATS_URL"])
    statement, params, expected_check = CORRUPTIONS[kind]
    wh.execute(statement, params)
    result = audit(dag_run_id=f"corrupt-{kind}")
    assert not result.passed
    assert expected_check in {o.check for o in result.failures}, result.summary()
    assert expected_check in result.summary() and "BLOCKED" in result.summary()
    with pytest.raises(PublicationRefused):
        publish(wh, "2024-06-16", "corrupt", result, catalog=CATALOG, targets=TARGETS)
    assert _snapshot(test_env["SHUMEI_STATS_URL"]) == before
    stored = wh.execute("select r.passed, count(*) filter (where not v.success and v.blocking)"
                        " from audit.validation_runs r join audit.validation_results v using (run_id)"
                        " where r.dag_run_id = %s group by r.passed", (f"corrupt-{kind}",)).fetchall()
    assert stored[0][0] is False and stored[0][1] >= 1


def test_missing_indicator_at_a_level_is_blocked(wh, audit):
    wh.execute("delete from published_candidate.indicator_values where indicator_code = 'TS_SL'"
               " and area_level = 'town'")
    result = audit()
    missing = [o for o in result.failures if o.check == "complete_county_and_towns"]
    assert missing and missing[0].observed_value == 4
