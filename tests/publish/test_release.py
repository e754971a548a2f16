"""Write-audit-publish on a real PostgreSQL: releases, revisions, vintages, summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from shumei.publish import PublicationRefused, latest_summary, publish

from .conftest import CATALOG, COUNTY, TARGETS, assert_inlined

pytestmark = pytest.mark.integration


def _value(conn, relation, code="TS_SC_MED", month=5):
    row = conn.execute(
        f"select value, status from {relation} where indicator_code = %s and area_code = %s"
        " and period_type = 'month' and period_start = make_date(2024, %s, 1)",
        (code, COUNTY, month)).fetchone()
    return None if row is None else (float(row[0]), row[1])


def test_clean_publish(wh, audit):
    result = audit(dag_run_id="run-1", build_docs=True)
    assert result.passed, result.summary()
    assert Path(result.data_docs).is_file()
    published = publish(wh, "2024-06-15", "run-1", result, catalog=CATALOG, targets=TARGETS)
    assert (published.inserted, published.changed, published.withdrawn) == (14, 0, 0)
    statuses = dict(wh.execute("select status, count(*) from published.v_indicator_latest group by 1").fetchall())
    assert statuses == {"final": 7, "provisional": 7}
    log = wh.execute("select release_id, as_of_date::text, dag_run_id, validation_summary->>'passed',"
                     " data_checksums->'candidate'->>'rows' from published.release_log").fetchall()
    assert log == [(published.release_id, "2024-06-15", "run-1", "true", "14")]
    assert wh.execute("select count(*) from published.indicator_catalog").fetchone()[0] == 3
    assert wh.execute("select threshold from published.indicator_targets").fetchone()[0] == 1
    runs = wh.execute("select passed, expectations, dag_run_id from audit.validation_runs").fetchall()
    assert runs[0][0] is True and runs[0][1] == len(result.outcomes) == 5 and runs[0][2] == "run-1"
    blocking = wh.execute("select count(*) from audit.validation_results where blocking").fetchone()[0]
    assert blocking == sum(o.blocking for o in result.outcomes) == 3
    summary = latest_summary(wh)
    assert "WY_FG" in summary and "95.7" in summary and "未达标 not met" in summary


def test_second_release_revises_exactly_one_value(wh, release):
    first = release()
    wh.execute("update published.release_log set published_at = published_at - interval '3 days'")
    wh.execute("update published_candidate.indicator_values set value = 3.5"
               " where indicator_code = 'TS_SC_MED' and period_start = '2024-05-01'")
    second = release(as_of="2024-06-16", dag_run_id="run-2")
    assert (second.inserted, second.changed, second.withdrawn, second.unchanged) == (0, 1, 0, 13)
    revised = wh.execute("select value, revision_reason, valid_from_release from published.indicator_values"
                         " where status = 'revised'").fetchall()
    assert len(revised) == 1 and revised[0][0] == 3.5 and revised[0][2] == second.release_id
    assert "value 3 → 3.5" in revised[0][1]
    # unchanged values are not copied: 14 rows + 1 revision
    assert wh.execute("select count(*) from published.indicator_values").fetchone()[0] == 15
    assert _value(wh, "published.v_indicator_latest") == (3.5, "revised")
    assert _value(wh, "published.v_indicator_first_release") == (3.0, "final")
    assert _value(wh, "published.indicator_values_as_of((now() at time zone 'Asia/Shanghai')::date - 1)") == (3.0, "final")
    assert _value(wh, "published.indicator_values_as_of((now() at time zone 'Asia/Shanghai')::date)") == (3.5, "revised")
    assert wh.execute("select count(*) from published.indicator_values_as_of((now() at time zone 'Asia/Shanghai')::date - 10)").fetchone()[0] == 0
    assert _value(wh, f"published.indicator_values_in_release({first.release_id})") == (3.0, "final")


def test_provisional_value_becomes_final_and_withdrawn_value_is_closed(wh, release):
    release()
    wh.execute("update published_candidate.indicator_values set is_provisional = false, value = 2.6"
               " where indicator_code = 'TS_SC_MED' and period_start = '2024-06-01'")
    second = release(as_of="2024-07-01")
    assert second.changed == 1
    assert _value(wh, "published.v_indicator_latest", month=6) == (2.6, "final")
    assert _value(wh, "published.v_indicator_first_release", month=6) == (2.5, "provisional")
    # a value that disappears is closed, not deleted
    wh.execute("delete from published_candidate.indicator_values where indicator_code = 'TS_SC_MED'"
               " and period_start = '2024-06-01'")
    result_third = release(as_of="2024-07-02")
    assert result_third.withdrawn == 1
    assert _value(wh, "published.v_indicator_latest", month=6) is None
    assert _value(wh, "published.indicator_values_as_of((now() at time zone 'Asia/Shanghai')::date)", month=6) is None
    assert _value(wh, f"published.indicator_values_in_release({second.release_id})", month=6) == (2.6, "final")


def test_flagged_revision_passes_the_jump_check(wh, release, audit):
    release()
    wh.execute("alter table published_candidate.indicator_values add column revision_reason text")
    wh.execute("update published_candidate.indicator_values set value = 30,"
               " revision_reason = '口径调整 definition corrected'"
               " where indicator_code = 'TS_SC_MED' and period_start = '2024-05-01'")
    second = release()
    assert second.changed == 1
    row = wh.execute("select status, revision_reason from published.v_indicator_latest"
                     " where indicator_code = 'TS_SC_MED' and period_start = '2024-05-01'").fetchone()
    assert row == ("revised", "口径调整 definition corrected")


def test_publish_refuses_failed_or_stale_audit(wh, audit):
    good = audit()
    wh.execute("delete from published_candidate.indicator_values where area_code = '341523400000'"
               " and indicator_code = 'WY_FG' and period_start = '2024-05-01'")
    bad = audit()  # a cell missing from the grid
    assert not bad.passed
    with pytest.raises(PublicationRefused):
        publish(wh, "2024-06-15", "x", bad, catalog=CATALOG, targets=TARGETS)
    with pytest.raises(PublicationRefused, match="changed since it was audited"):
        publish(wh, "2024-06-15", "x", good, catalog=CATALOG, targets=TARGETS)
    assert wh.execute("select count(*) from published.release_log").fetchone()[0] == 0


def test_latest_summary_without_release(wh):
    from shumei.publish import ensure_published_schema

    ensure_published_schema(wh)
    ensure_published_schema(wh)  # idempotent
    assert "No release" in latest_summary(wh)


def test_unknown_release_is_an_error(wh, release, test_env):
    import psycopg

    first = release()
    with psycopg.connect(test_env["SHUMEI_STATS_URL"], autocommit=True) as conn:
        assert conn.execute(f"select count(*) from published.indicator_values_in_release({first.release_id})"
                            ).fetchone()[0] == 14
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="release 99 does not exist"):
            conn.execute("select * from published.indicator_values_in_release(99)")


@pytest.mark.parametrize("call", ["indicator_values_as_of((now() at time zone 'Asia/Shanghai')::date)", "indicator_values_in_release(1)"])
def test_as_of_and_in_release_are_inlined(wh, release, test_env, call):
    release()
    assert_inlined(wh, test_env["SHUMEI_BI_URL"], f"select * from published.{call}",
                   {"indicator_code": "'WY_FG'", "area_code": f"'{COUNTY}'", "period_type": "'month'"},
                   "indicator_values_key_release_bd")


def test_estimated_value_carries_its_reason_then_becomes_final(wh, release):
    """DOMAIN §8: a figure with a member carried forward from a rejected row is published as
    estimated (SDMX E) with the reason; the same estimate again is no change; built from accepted
    rows only, it is released again as final (a closed period) or provisional (an open one)."""
    release()
    reason = ("估计值 estimated: 1 个单位沿用上次接受的版本 units carried forward; registry_compounds 2024-05-31 "
              "行被拒收 row rejected (duplicate_key_conflict): 沿用 2024-05-30 的版本 last accepted version of "
              "2024-05-30 carried forward")
    wh.execute("alter table published_candidate.indicator_values add column estimate_reason text")
    wh.execute("update published_candidate.indicator_values set estimate_reason = %s"
               " where indicator_code = 'WY_FG' and area_code = %s and period_start in ('2024-05-01', '2024-06-01')",
               (reason, COUNTY))
    second = release(as_of="2024-06-16", dag_run_id="run-2")
    assert (second.changed, second.unchanged) == (2, 12)
    rows = wh.execute("select period_start::text, status, revision_reason from published.v_indicator_latest"
                      " where indicator_code = 'WY_FG' and area_code = %s order by 1", (COUNTY,)).fetchall()
    assert rows == [("2024-05-01", "estimated", reason), ("2024-06-01", "estimated", reason)]
    again = release(as_of="2024-06-17", dag_run_id="run-3")
    assert not again.released
    wh.execute("update published_candidate.indicator_values set estimate_reason = null")
    fourth = release(as_of="2024-06-18", dag_run_id="run-4")
    assert fourth.changed == 2
    assert _value(wh, "published.v_indicator_latest", code="WY_FG") == (93.6, "final")
    assert _value(wh, "published.v_indicator_latest", code="WY_FG", month=6) == (95.7, "provisional")
    assert _value(wh, f"published.indicator_values_in_release({second.release_id})", code="WY_FG") == (
        93.6, "estimated")


def test_candidate_checksum_is_postgresql_md5_of_the_rows_in_key_order(wh):
    """The streamed digest equals md5(string_agg(t::text, '|' order by key)), the one PostgreSQL gives
    while the rows fit one string (audits recorded before the change stay comparable); an empty
    candidate is md5 of the empty text."""
    from shumei.publish.release import KEY, candidate_checksum

    order = ", ".join(KEY)
    expected = wh.execute(f"select count(*), md5(coalesce(string_agg(t::text, '|' order by {order}), '')) "
                          "from published_candidate.indicator_values t").fetchone()
    assert expected[0] > 1
    assert candidate_checksum(wh) == {"rows": expected[0], "md5": expected[1]}
    wh.execute("delete from published_candidate.indicator_values")
    assert candidate_checksum(wh) == {"rows": 0, "md5": "d41d8cd98f00b204e9800998ecf8427e"}
