"""The member units of the drill-through are copied with each release, in the publication's transaction.

The placement of the units into cells (the view published.indicator_members) is dbt's (macros
place_stock_members / place_flow_members); its sums against every published figure are checked end
to end in tests/integration/test_drill_through.py. Here: what the publication writes.
"""

from __future__ import annotations

import psycopg
import pytest

from .conftest import COUNTY, FLOW_MEMBERS, STOCK_MEMBERS, TOWN1, insert_candidate

pytestmark = pytest.mark.integration

MARTS_DDL = f"""
create table {STOCK_MEMBERS} (
    indicator_code text, month_end_date date, area_code text, area_level text, unit_type text, unit_id text,
    numerator numeric, denominator numeric);
create table {FLOW_MEMBERS} (
    indicator_code text, observation_date date, community_code text, town_code text, served_town_codes text,
    unit_type text, unit_id text, channel text, request_type_code text, category_code text, rule_code text,
    enterprise_uscc text, numerator numeric, denominator numeric, measure numeric);
insert into {STOCK_MEMBERS} values
 ('WY_FG', '2024-06-30', '{COUNTY}', 'county', 'compound', 'C1', 1, 1),
 ('WY_FG', '2024-06-30', '{TOWN1}', 'town', 'compound', 'C1', 1, 1);
insert into {FLOW_MEMBERS} values
 ('TS_SL', '2024-06-03', '{TOWN1}001', '{TOWN1}', null, 'work_order', 'O1', '12345', 'complaint', 'c1', null,
  null, 1, null, null),
 ('TS_SC_MED', '2024-06-05', '{TOWN1}001', '{TOWN1}', null, 'work_order', 'O1', '12345', 'complaint', 'c1', null,
  null, null, 1, 2.5);
"""

UNITS = {"stock": "published.indicator_stock_member_units", "flow": "published.indicator_flow_member_units"}


def _units(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {kind: conn.execute(f"select release_id, indicator_code, unit_id from {table} order by 2, 3").fetchall()
            for kind, table in UNITS.items()}


def test_members_copied_and_replaced_with_each_release(wh, release, test_env):
    wh.execute(MARTS_DDL)
    first = release()
    assert _units(wh) == {"stock": [(first.release_id, "WY_FG", "C1")] * 2,
                          "flow": [(first.release_id, "TS_SC_MED", "O1"), (first.release_id, "TS_SL", "O1")]}

    # the next release replaces them (stamped with it), never adds to them
    wh.execute(f"update {STOCK_MEMBERS} set unit_id = 'C2'")
    wh.execute(f"delete from {FLOW_MEMBERS} where indicator_code = 'TS_SL'")
    insert_candidate(wh)
    second = release(as_of="2024-06-16")
    assert _units(wh) == {"stock": [(second.release_id, "WY_FG", "C2")] * 2,
                          "flow": [(second.release_id, "TS_SC_MED", "O1")]}

    # a mart that is gone leaves no members of an older release beside the new figures
    wh.execute(f"drop table {FLOW_MEMBERS}")
    third = release(as_of="2024-06-17")
    assert _units(wh) == {"stock": [(third.release_id, "WY_FG", "C2")] * 2, "flow": []}

    # the readers read them (the drill-through view over them is dbt's: models/published/interface)
    with psycopg.connect(test_env["SHUMEI_STATS_URL"]) as reader:
        assert reader.execute(f"select count(*) from {UNITS['stock']}").fetchone()[0] == 2


def test_storage_carries_structured_fields_only(wh, release):
    release()
    columns = {r[0] for r in wh.execute(
        """select column_name from information_schema.columns
           where table_schema = 'published' and table_name like 'indicator_%_member_units'""").fetchall()}
    # keys, codes, dates and numbers: no caller field, no free text
    assert not {c for c in columns if any(word in c for word in ("caller", "phone", "name", "summary", "text"))}
