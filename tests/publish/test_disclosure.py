"""Disclosure tables (enterprise credit list, compound status list, work orders) versioned by release like the
values, their reader functions and the Open311 view, read with the reader roles' URLs."""

from __future__ import annotations

import re
from datetime import date

import psycopg
import pytest
from shumei.publish import PublicationRefused, publish
from shumei.publish.tables import DISCLOSURE_TABLES

from .conftest import CATALOG, TARGETS, TOWN1, TOWN2, assert_inlined

pytestmark = pytest.mark.integration

USCC_A, USCC_B = "91341523MA2N0A0B1X", "91341523MA2N0B0C2Y"
MAY, JUNE = date(2024, 5, 31), date(2024, 6, 30)
COMMUNITY = "341523100001"

CREDIT = [  # uscc, month end, name, score, grade, serving, towns
    (USCC_A, MAY, "舒城甲物业", 86, "AAA", True, TOWN1),
    (USCC_A, JUNE, "舒城甲物业", 84, "AA", True, TOWN1),
    (USCC_B, MAY, "舒城乙物业", 55, "C", True, f"{TOWN1}|{TOWN2}"),
    (USCC_B, JUNE, "舒城乙物业", 58, "C", True, f"{TOWN1}|{TOWN2}"),
]
COMPOUNDS = [  # id, month end, name, community, town, has property service, enterprise
    ("C001", MAY, "鼓楼花园", COMMUNITY, TOWN1, True, USCC_A),
    ("C001", JUNE, "鼓楼花园", COMMUNITY, TOWN1, True, USCC_A),
    ("C002", MAY, "城南小区", COMMUNITY, TOWN1, False, None),
    ("C002", JUNE, "城南小区", COMMUNITY, TOWN1, False, None),
    ("C003", JUNE, "开发区一号院", None, TOWN2, True, USCC_B),
]
ORDERS = [  # id, compound, town, category, received, closed, due, status
    ("WO-1", "C001", TOWN1, "property_fee", "2024-06-03 09:15:00+08", "2024-06-05 16:00:00+08",
     "2024-06-17 17:30:00+08", "VISITED"),
    ("WO-2", "C002", TOWN1, "property_repair", "2024-06-20 22:05:00+08", None, "2024-07-04 17:30:00+08", "SIGNED"),
    ("WO-3", "C003", TOWN2, "property_repair", "2024-06-28 10:00:00+08", None, None, "REJECTED"),
]


def insert_lists(conn: psycopg.Connection) -> None:
    for t in DISCLOSURE_TABLES:
        conn.execute(f"delete from {t.candidate}")
    for uscc, month, name, score, grade, serving, towns in CREDIT:
        conn.execute("""insert into published_candidate.enterprise_credit_list
            (enterprise_uscc, month_end_date, enterprise_name, credit_score, credit_grade, score_grade, has_veto,
             scheme_version, good_points, bad_points, valid_records, good_records, bad_records, records_by_kind,
             served_town_codes, served_compounds, is_serving_county, is_provisional)
            values (%s, %s, %s, %s, %s, %s, false, 'v1', 0, 0, 1, 0, 1, 'complaint_substantiated:1', %s, 1, %s, %s)""",
                     (uscc, month, name, score, grade, grade, towns, serving, month == JUNE))
    for cid, month, name, community, town, service, uscc in COMPOUNDS:
        conn.execute("""insert into published_candidate.compound_status_list
            (compound_id, month_end_date, compound_name, community_code, town_code, is_urban_residential,
             service_mode_code, has_property_service, enterprise_uscc, has_owners_committee, has_party_branch,
             party_branch_type, is_provisional)
            values (%s, %s, %s, %s, %s, true, %s, %s, %s, false, false, 'none', %s)""",
                     (cid, month, name, community, town, "professional" if service else "none", service, uscc,
                      month == JUNE))
    for oid, cid, town, category, received, closed, due, status in ORDERS:
        conn.execute("""insert into published_candidate.work_orders
            (work_order_id, compound_id, compound_name, community_code, town_code, channel, request_type_code,
             category_code, category_name_zh, received_at, received_date, closed_at, due_at, updated_at,
             status_code, open311_status, is_counted)
            values (%s, %s, (select max(compound_name) from published_candidate.compound_status_list
                             where compound_id = %s), %s, %s, '12345', 'complaint', %s, '物业', %s::timestamptz,
                    (%s::timestamptz at time zone 'Asia/Shanghai')::date, %s, %s, coalesce(%s, %s)::timestamptz,
                    %s, %s, %s)""",
                     (oid, cid, cid, COMMUNITY if town == TOWN1 else None, town, category, received, received,
                      closed, due, closed, received, status,
                      "closed" if closed or status == "REJECTED" else "open", status != "REJECTED"))


@pytest.fixture
def lists(wh):
    insert_lists(wh)
    return wh


def _reader(test_env, role="SHUMEI_STATS_URL", **kwargs):
    return psycopg.connect(test_env[role], autocommit=True, **kwargs)


def test_first_release_publishes_every_list(lists, release, test_env):
    first = release()
    assert first.tables == {
        "enterprise_credit_list": {"new": 4, "changed": 0, "withdrawn": 0, "unchanged": 0},
        "compound_status_list": {"new": 5, "changed": 0, "withdrawn": 0, "unchanged": 0},
        "work_orders": {"new": 3, "changed": 0, "withdrawn": 0, "unchanged": 0}}
    assert "work_orders: 3 new" in str(first)
    checksums = lists.execute("select data_checksums->'disclosure_candidates' from published.release_log").fetchone()[0]
    assert {name: c["rows"] for name, c in checksums.items()} == {
        "enterprise_credit_list": 4, "compound_status_list": 5, "work_orders": 3}
    with _reader(test_env) as conn:
        # compounds without property service in a town, with names
        rows = conn.execute("""select compound_name, community_name_zh, town_name_zh from published.v_compound_status_list
                               where town_code = %s and month_end_date = %s and not has_property_service""",
                            (TOWN1, JUNE)).fetchall()
        assert rows == [("城南小区", "鼓楼社区", "城关镇")]
        assert conn.execute("select enterprise_name from published.v_enterprise_credit_list"
                            " where credit_grade = 'C' and month_end_date = %s", (MAY,)).fetchall() == [("舒城乙物业",)]


def test_second_release_carries_closes_and_withdraws(lists, release, test_env):
    first = release()
    lists.execute("update published.release_log set published_at = published_at - interval '3 days'")
    lists.execute("update published_candidate.enterprise_credit_list set credit_score = 79, credit_grade = 'A'"
                  " where enterprise_uscc = %s and month_end_date = %s", (USCC_A, JUNE))
    lists.execute("update published_candidate.work_orders set closed_at = '2024-07-01 11:00:00+08',"
                  " updated_at = '2024-07-01 11:00:00+08', status_code = 'CLOSED', open311_status = 'closed'"
                  " where work_order_id = 'WO-2'")
    lists.execute("delete from published_candidate.compound_status_list where compound_id = 'C003'")
    second = release(as_of="2024-07-01")
    assert second.tables == {
        "enterprise_credit_list": {"new": 0, "changed": 1, "withdrawn": 0, "unchanged": 3},
        "compound_status_list": {"new": 0, "changed": 0, "withdrawn": 1, "unchanged": 4},
        "work_orders": {"new": 0, "changed": 1, "withdrawn": 0, "unchanged": 2}}
    # unchanged rows are not copied: one new version each for the two changes
    assert lists.execute("select count(*) from published.enterprise_credit_list").fetchone()[0] == 5
    assert lists.execute("select count(*) from published.work_orders").fetchone()[0] == 4
    with _reader(test_env) as conn:
        def grade(relation):
            return conn.execute(f"select credit_grade from published.{relation} where enterprise_uscc = %s"
                                " and month_end_date = %s", (USCC_A, JUNE)).fetchall()
        assert grade("v_enterprise_credit_list") == [("A",)]
        assert grade(f"enterprise_credit_list_in_release({first.release_id})") == [("AA",)]
        assert grade(f"enterprise_credit_list_in_release({second.release_id})") == [("A",)]
        assert grade("enterprise_credit_list_as_of((now() at time zone 'Asia/Shanghai')::date - 1)") == [("AA",)]
        assert grade("enterprise_credit_list_as_of((now() at time zone 'Asia/Shanghai')::date)") == [("A",)]
        assert grade("enterprise_credit_list_as_of((now() at time zone 'Asia/Shanghai')::date - 10)") == []
        # the withdrawn compound is in the first release only
        c003 = "select count(*) from published.{} where compound_id = 'C003'"
        assert conn.execute(c003.format("v_compound_status_list")).fetchone()[0] == 0
        assert conn.execute(c003.format(f"compound_status_list_in_release({first.release_id})")).fetchone()[0] == 1
        assert conn.execute(c003.format("compound_status_list_as_of((now() at time zone 'Asia/Shanghai')::date)")).fetchone()[0] == 0
        # one order followed through its handling: a version per release in which it changed
        versions = conn.execute("""select r.release_id, w.status_code, w.open311_status
                                   from published.release_log r
                                   cross join lateral published.work_orders_in_release(r.release_id) w
                                   where w.work_order_id = 'WO-2' order by 1""").fetchall()
        assert versions == [(first.release_id, "SIGNED", "open"), (second.release_id, "CLOSED", "closed")]


@pytest.mark.parametrize("table", [t.name for t in DISCLOSURE_TABLES])
def test_unknown_release_is_an_error(lists, release, test_env, table):
    first = release()
    with _reader(test_env, "SHUMEI_BI_URL") as conn:
        assert conn.execute(f"select count(*) from published.{table}_in_release({first.release_id})").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="release 99 does not exist"):
            conn.execute(f"select * from published.{table}_in_release(99)")


@pytest.mark.parametrize(("call", "filters", "index"), [
    ("compound_status_list_in_release(1)", {"town_code": f"'{TOWN1}'", "month_end_date": "'2024-06-30'"},
     "compound_status_list_town_month"),
    ("compound_status_list_as_of((now() at time zone 'Asia/Shanghai')::date)",
     {"town_code": f"'{TOWN1}'", "month_end_date": "'2024-06-30'"}, "compound_status_list_town_month"),
    ("enterprise_credit_list_in_release(1)", {"enterprise_uscc": f"'{USCC_A}'"}, "enterprise_credit_list_key_release"),
    ("enterprise_credit_list_as_of((now() at time zone 'Asia/Shanghai')::date)", {"enterprise_uscc": f"'{USCC_A}'"},
     "enterprise_credit_list_key_release"),
    ("work_orders_in_release(1)", {"work_order_id": "'WO-2'"}, "work_orders_key_release"),
    ("work_orders_as_of((now() at time zone 'Asia/Shanghai')::date)", {"work_order_id": "'WO-2'"},
     "work_orders_key_release"),
])
def test_reader_functions_are_inlined(lists, release, wh, test_env, call, filters, index):
    release()
    assert_inlined(wh, test_env["SHUMEI_BI_URL"], f"select * from published.{call}", filters, index)


ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
OPEN311_COLUMNS = ["service_request_id", "status", "service_code", "service_name", "agency_responsible",
                   "requested_datetime", "updated_datetime", "expected_datetime", "address", "address_id"]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
def test_open311_shape(lists, release, test_env, zone):
    release()
    with _reader(test_env, options=f"-c TimeZone={zone}") as conn:
        cur = conn.execute("select * from published.v_open311_requests order by service_request_id")
        assert [d.name for d in cur.description] == OPEN311_COLUMNS
        rows = [dict(zip(OPEN311_COLUMNS, r, strict=True)) for r in cur.fetchall()]
    assert [r["service_request_id"] for r in rows] == ["WO-1", "WO-2", "WO-3"]
    assert [r["status"] for r in rows] == ["closed", "open", "closed"]
    first = rows[0]
    # the same text under either session time zone: Beijing time with its offset
    assert (first["requested_datetime"], first["updated_datetime"], first["expected_datetime"]) == (
        "2024-06-03T09:15:00+08:00", "2024-06-05T16:00:00+08:00", "2024-06-17T17:30:00+08:00")
    assert ISO_WITH_OFFSET.match(rows[1]["requested_datetime"]) and rows[1]["requested_datetime"].startswith(
        "2024-06-20T22:05")
    assert rows[2]["expected_datetime"] is None
    assert (first["service_code"], first["service_name"], first["address_id"]) == ("property_fee", "物业", "C001")
    assert first["address"] == "城关镇 鼓楼社区 鼓楼花园" and first["agency_responsible"] == "城关镇"
    assert rows[2]["address"] == "舒城县经济开发区 开发区一号院"


def test_missing_disclosure_candidate_refuses_and_writes_nothing(lists, audit):
    result = audit()
    assert result.passed, result.summary()
    lists.execute("drop table published_candidate.work_orders")
    with pytest.raises(PublicationRefused, match="published_candidate.work_orders"):
        publish(lists, "2024-06-15", "x", result, catalog=CATALOG, targets=TARGETS)
    assert lists.execute("select count(*) from published.release_log").fetchone()[0] == 0
    assert lists.execute("select count(*) from published.indicator_values").fetchone()[0] == 0


def test_a_failed_list_version_rolls_back_the_whole_release(lists, release):
    """A key twice in a list candidate (its dbt test would have blocked it) fails the release as a whole."""
    release()
    before = lists.execute("select count(*) from published.indicator_values").fetchone()[0]
    lists.execute("update published_candidate.indicator_values set value = 3.1"
                  " where indicator_code = 'TS_SC_MED' and period_start = '2024-05-01'")
    lists.execute("insert into published_candidate.work_orders (work_order_id, open311_status, is_counted)"
                  " values ('WO-9', 'open', true), ('WO-9', 'open', true)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        release(as_of="2024-06-16")
    assert lists.execute("select count(*) from published.release_log").fetchone()[0] == 1
    assert lists.execute("select count(*) from published.indicator_values").fetchone()[0] == before
