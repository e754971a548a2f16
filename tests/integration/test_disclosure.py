"""The disclosure tables of the first release (conftest.py's `first_release`), read with the reader roles:
counts equal to the marts they come from, the lists reconcile with the published indicators of the same
release, the Open311 view has its shape, and nothing in `published` holds caller data or free text.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pipeline_run import COUNTY
from psycopg import sql

pytestmark = pytest.mark.integration

# a mobile number (11 digits, 13x-19x) or a landline with its area code, not inside a longer run of digits
PHONE_LIKE = r"(^|[^0-9])(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})([^0-9]|$)"
# whole values that are identifiers of a known shape, whatever digits they hold: a hex digest (early-
# warning and other hashed ids) or a unified social credit code (GB 32100-2015)
ID_SHAPED = r"^([0-9a-f]{32}|[0-9a-f]{64}|[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10})$"
# column names that would mean caller data or free text reached the published layer
RESTRICTED_NAME = re.compile(r"phone|caller|mobile|hash|summary|operator|handler|remark|content|description"
                             r"|satisfaction|resolved_rating|(^|_)note($|_)|(^|_)text($|_)|id_card|idcard")
# the programme's own reference texts (target notes) and the audit's summary of a release, not a record's free text
ALLOWED_NAMES = {("indicator_targets", "note_en"), ("v_indicator_targets", "note_en"),
                 ("release_log", "validation_summary")}
ALLOWED_TYPES = {"text", "date", "numeric", "integer", "bigint", "boolean", "timestamp with time zone", "jsonb"}


def rows(url: str, query: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


@pytest.mark.parametrize(("published", "mart"), [
    ("v_enterprise_credit_list", "marts.fct_enterprise_credit"),
    ("v_compound_status_list", "marts.fct_compound_status_monthly"),
    ("v_work_orders", "marts.fct_work_order"),
    ("v_open311_requests", "marts.fct_work_order"),
])
def test_counts_equal_the_marts(first_release, warehouse_url, test_env, published, mart):
    ours = rows(test_env["SHUMEI_STATS_URL"], f"select count(*) from published.{published}")[0][0]
    assert ours > 0
    assert ours == rows(warehouse_url, f"select count(*) from {mart}")[0][0]


def test_credit_grades_equal_the_xy_indicators(first_release, test_env):
    """Per month end, county and town: enterprises graded C and A or above in the list = XY_C and XY_AUP."""
    stats = test_env["SHUMEI_STATS_URL"]
    from_list = rows(stats, """
        with members as (
            select %s as area_code, month_end_date, credit_grade from published.v_enterprise_credit_list
            where is_serving_county and credit_score is not null
            union all
            select town, month_end_date, credit_grade from published.v_enterprise_credit_list
            cross join unnest(string_to_array(served_town_codes, '|')) town
            where is_serving_county and credit_score is not null)
        select 'XY_C', area_code, month_end_date, count(*) filter (where credit_grade = 'C'), count(*)
        from members group by 2, 3
        union all
        select 'XY_AUP', area_code, month_end_date, count(*) filter (where credit_grade in ('AAA', 'AA', 'A')),
               count(*)
        from members group by 2, 3
        order by 1, 2, 3""", COUNTY)
    published = rows(stats, """
        select indicator_code, area_code, period_end, numerator::int, denominator::int
        from published.v_indicator_month
        where indicator_code in ('XY_C', 'XY_AUP') and breakdown_type = 'total'
          and area_level in ('county', 'town') and denominator > 0
        order by 1, 2, 3""")
    assert published and from_list == published


def test_compound_list_equals_wy_fg(first_release, test_env):
    stats = test_env["SHUMEI_STATS_URL"]
    from_list = rows(stats, """
        select area_code, month_end_date, count(*) filter (where has_property_service), count(*)
        from published.v_compound_status_list
        cross join lateral (values (town_code), (%s)) a (area_code)
        where is_urban_residential group by 1, 2 order by 1, 2""", COUNTY)
    published = rows(stats, """
        select area_code, period_end, numerator::int, denominator::int from published.v_indicator_month
        where indicator_code = 'WY_FG' and breakdown_type = 'total' and area_level in ('county', 'town')
          and denominator > 0 order by 1, 2""")
    assert published and from_list == published


def test_counted_orders_equal_ts_sl(first_release, test_env):
    stats = test_env["SHUMEI_STATS_URL"]
    from_list = rows(stats, """
        select area_code, date_trunc('month', received_date)::date, count(*) from published.v_work_orders
        cross join lateral (values (town_code), (%s)) a (area_code)
        where is_counted and area_code is not null group by 1, 2 order by 1, 2""", COUNTY)
    published = rows(stats, """
        select area_code, period_start, numerator::int from published.v_indicator_month
        where indicator_code = 'TS_SL' and breakdown_type = 'total' and area_level in ('county', 'town')
          and numerator > 0 order by 1, 2""")
    assert published and from_list == published


def test_open311_view(first_release, test_env):
    with psycopg.connect(test_env["SHUMEI_BI_URL"]) as conn:
        cur = conn.execute("select * from published.v_open311_requests")
        names = [d.name for d in cur.description]
        requests = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        one = conn.execute("""select work_order_id, closed_at is not null, due_at from published.v_work_orders
                              where closed_at is not null and due_at is not null limit 1""").fetchone()
    assert names == ["service_request_id", "status", "service_code", "service_name", "agency_responsible",
                     "requested_datetime", "updated_datetime", "expected_datetime", "address", "address_id"]
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
    assert {r["status"] for r in requests} == {"open", "closed"}
    for r in requests:
        assert iso.match(r["requested_datetime"]) and iso.match(r["updated_datetime"]), r
        assert r["expected_datetime"] is None or iso.match(r["expected_datetime"]), r
        assert r["service_code"] and r["service_name"] and r["agency_responsible"] and r["address"], r
    by_id = {r["service_request_id"]: r for r in requests}
    order_id, _, due_at = one
    assert by_id[order_id]["status"] == "closed"
    assert by_id[order_id]["expected_datetime"] == due_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime(
        "%Y-%m-%dT%H:%M:%S+08:00")


def test_no_caller_data_or_free_text_in_published(first_release, test_env):
    """Every column of every relation in `published`: no restricted name, an allowed type, no phone-like value."""
    with psycopg.connect(test_env["SHUMEI_STATS_URL"]) as conn:
        columns = conn.execute("""select table_name, column_name, data_type from information_schema.columns
                                  where table_schema = 'published' order by 1, 2""").fetchall()
        assert {t for t, _, _ in columns} >= {"work_orders", "v_open311_requests", "compound_status_list",
                                                "enterprise_credit_list"}
        named = [(t, c) for t, c, _ in columns if RESTRICTED_NAME.search(c) and (t, c) not in ALLOWED_NAMES]
        assert named == []
        assert [(t, c, ty) for t, c, ty in columns if ty not in ALLOWED_TYPES] == []
        phone_like = []
        for table, column, data_type in columns:
            # a text as a whole; a JSON document by each of its keys and scalar values (a document's
            # text would join the SHA-256 digests of release_log.artifacts with their quotes, where a
            # digest's digits can look like a phone number)
            texts = {"text": "select t.{col} as v from published.{tbl} t",
                     "jsonb": "select j.k as v from published.{tbl} t, lateral (select e #>> '{{}}' from jsonb_path_query("
                              "t.{col}, 'strict $.**') e where jsonb_typeof(e) in ('string', 'number') union all "
                              "select e ->> 'key' from jsonb_path_query(t.{col}, 'strict $.** ? (@.type() == \"object\").keyvalue()') e) j(k)"}
            if data_type in texts:
                query = sql.SQL("select count(*) from (" + texts[data_type] + ") s where v ~ %s and v !~ %s").format(
                    tbl=sql.Identifier(table), col=sql.Identifier(column))
                if conn.execute(query, (PHONE_LIKE, ID_SHAPED)).fetchone()[0]:
                    phone_like.append((table, column))  # the count only: never the value
    assert phone_like == []
