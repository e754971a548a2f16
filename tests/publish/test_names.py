"""Area names and the value views per frequency, read as the statistics office and a BI tool read them."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from .conftest import COUNTY, TOWN1, TOWN2

pytestmark = pytest.mark.integration

SMALL = [  # WY_FG in May: the development zone rests on 4 compounds (below the threshold of 5)
    ("update published_candidate.indicator_values set numerator = 3, denominator = 4, value = 75.0"
     " where indicator_code = 'WY_FG' and area_code = %s and period_start = '2024-05-01'", (TOWN2,)),
    ("update published_candidate.indicator_values set numerator = 103, denominator = 109, value = 94.5"
     " where indicator_code = 'WY_FG' and area_code = %s and period_start = '2024-05-01'", (COUNTY,)),
]


@pytest.fixture
def published(wh, release):
    for statement, params in SMALL:
        wh.execute(statement, params)
    release()
    return wh


@pytest.mark.parametrize("role_url", ["SHUMEI_BI_URL", "SHUMEI_STATS_URL"])
def test_area_dimension_is_published_with_names(published, test_env, role_url):
    with psycopg.connect(test_env[role_url]) as conn:
        rows = conn.execute("select area_code, area_name_zh, area_name_en, area_level, parent_area_code,"
                            " valid_from::text, valid_to from published.dim_area order by area_code").fetchall()
    assert rows == [
        (COUNTY, "舒城县", "Shucheng County", "county", "341500000000", "2018-01-01", None),
        (TOWN1, "城关镇", "Chengguan Town", "town", COUNTY, "2018-01-01", None),
        ("341523100001", "鼓楼社区", "Gulou Community", "community", TOWN1, "2018-01-01", None),
        (TOWN2, "舒城县经济开发区", "Shucheng County Economic Development Zone", "town", COUNTY, "2018-01-01", None),
    ]


def test_value_views_carry_names_and_one_frequency(published, test_env):
    with psycopg.connect(test_env["SHUMEI_STATS_URL"]) as conn:
        row = conn.execute("""
            select indicator_name_zh, indicator_name_en, area_name_zh, area_name_en, area_level, parent_area_code,
                   unit, decimals, status, value, is_small_count
            from published.v_indicator_month
            where indicator_code = 'WY_FG' and area_code = %s and period_start = '2024-06-01'
              and breakdown_type = 'total'""", (TOWN1,)).fetchone()
        assert row == ("物业服务覆盖率", "Property-service coverage", "城关镇", "Chengguan Town", "town", COUNTY,
                       "percent", 1, "provisional", Decimal("97.1"), False)
        assert conn.execute("select count(*) from published.v_indicator_month").fetchone()[0] == 14
        for frequency in ("quarter", "year"):
            assert conn.execute(f"select count(*) from published.v_indicator_{frequency}").fetchone()[0] == 0
        # one frequency, total rows, one area level: the towns add up to the county
        towns, county = conn.execute("""
            select sum(numerator) filter (where area_level = 'town'), sum(numerator) filter (where area_level = 'county')
            from published.v_indicator_month
            where indicator_code = 'TS_SL' and breakdown_type = 'total' and is_additive""").fetchone()
        assert towns == county == 97


def test_small_counts_are_flagged_from_one_threshold(published, test_env):
    with psycopg.connect(test_env["SHUMEI_BI_URL"]) as conn:
        flagged = conn.execute("select indicator_code, area_code, period_start::text, denominator"
                               " from published.v_indicator_month where is_small_count").fetchall()
        assert flagged == [("WY_FG", TOWN2, "2024-05-01", 4)]
        assert conn.execute("select min_denominator from published.disclosure_rules"
                            " where rule_code = 'small_count'").fetchone()[0] == 5
