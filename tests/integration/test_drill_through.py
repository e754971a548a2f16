"""Drill-through (published.indicator_members) against the published release, through the reader role.

For EVERY key of the current release (a group-by over the whole view, not a sample) the members' numerator
and denominator contributions sum to the published numerator and denominator: stocks, flows, every
breakdown, the enterprise figures that count an enterprise in each town it serves (not additive), the
closure-time medians and P90 (their members are the closed orders of the denominator, and the percentile
of the members' durations, rounded like the catalogue says, is the published value). Then a dbt rebuild of
the member marts (and of the view itself) that is not published changes nothing a reader sees in it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest
from pipeline_run import BIN, LAST, q

pytestmark = pytest.mark.integration

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
KEY = "indicator_code, area_code, period_type, period_start, breakdown_type, breakdown_code"
PERCENTILES = {"TS_SC_MED": 0.5, "TS_SCH_MED": 0.5, "TS_SC_P90": 0.9, "TS_SCH_P90": 0.9}

# one row per published key or member cell that disagrees; the key set is the union of both sides
MISMATCHES = f"""
with members as (
    select {KEY}, sum(numerator) as numerator, sum(denominator) as denominator, count(*) as units,
           count(distinct release_id) as releases, min(release_id) as release_id,
           percentile_cont(0.5) within group (order by measure) as p50,
           percentile_cont(0.9) within group (order by measure) as p90
    from published.indicator_members
    group by {KEY}
),
figures as (
    select l.*, c.decimals from published.v_indicator_latest l
    join published.indicator_catalog c using (indicator_code)
)
select {", ".join(f"coalesce(f.{k}, m.{k}) as {k}" for k in KEY.split(", "))},
       f.numerator as published_numerator, m.numerator as member_numerator,
       f.denominator as published_denominator, m.denominator as member_denominator, m.units, f.value
from figures f
full join members m using ({KEY})
where f.indicator_code is null                                    -- members of no published figure
   or coalesce(f.numerator, 0) <> coalesce(m.numerator, 0)
   or coalesce(f.denominator, 0) <> coalesce(m.denominator, 0)
   or m.releases > 1 or m.release_id <> (select release_id from published.v_release_current)
   or (f.indicator_code in ('TS_SC_MED', 'TS_SCH_MED', 'TS_SC_P90', 'TS_SCH_P90')
       and (coalesce(m.units, 0) is distinct from coalesce(f.denominator, 0)  -- an empty cell: no members, 0
            or round((case when f.indicator_code like '%MED' then m.p50 else m.p90 end)::numeric, f.decimals)
               is distinct from f.value))
order by {KEY}
"""

DIGEST = """select count(*), sum(hashtext(concat_ws('|', release_id, indicator_code, area_code, period_type,
                   period_start, breakdown_type, breakdown_code, unit_type, unit_id, numerator, denominator,
                   measure, observation_date))::bigint)
            from published.indicator_members"""


def test_members_sum_to_every_published_figure(first_release, test_env):
    with psycopg.connect(test_env["SHUMEI_BI_URL"]) as reader:
        mismatches = reader.execute(MISMATCHES).fetchall()
        assert mismatches == [], f"{len(mismatches)} cells disagree, first: {mismatches[:5]}"
        compared = dict(reader.execute(
            """select 'keys', count(*) from published.v_indicator_latest
               union all select 'keys_with_members', count(*) from (
                   select distinct indicator_code, area_code, period_type, period_start, breakdown_type,
                          breakdown_code from published.indicator_members) k""").fetchall())
        with_members = {r[0] for r in reader.execute("select distinct indicator_code from published.indicator_members")}
        published = {r[0] for r in reader.execute(
            "select distinct indicator_code from published.v_indicator_latest where numerator <> 0 or denominator <> 0")}
        non_additive = reader.execute(
            """select count(*) from published.indicator_members m
               join published.indicator_catalog c using (indicator_code)
               where not c.is_additive and m.area_level = 'town' and m.unit_type = 'enterprise'""").fetchone()[0]
        breakdowns = {r[0] for r in reader.execute("select distinct breakdown_type from published.indicator_members")}
    # the comparison covered every figure with something in it, of every kind
    assert compared["keys_with_members"] > 0.5 * compared["keys"], compared
    assert published <= with_members, sorted(published - with_members)
    assert set(PERCENTILES) <= with_members and {"WY_FG", "QYDZZ_ZJ", "XY_PJ", "YJ_SL"} <= with_members
    assert non_additive > 0
    assert breakdowns == {"total", "channel", "request_type", "category", "rule"}


def _dbt(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([str(BIN / "dbt"), *args, "--profiles-dir", str(DBT_DIR), "--project-dir", str(DBT_DIR)],
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


def test_unpublished_rebuild_leaves_the_drill_through(first_release, test_env, pipeline_env, warehouse_url):
    bi = test_env["SHUMEI_BI_URL"]
    before = q(bi, DIGEST)
    marts = "select count(*) from marts.fct_indicator_flow_members"
    built = q(warehouse_url, marts)
    models = ["fct_indicator_stock_members", "fct_indicator_flow_members", "indicator_members"]
    # a build of other data (an earlier as-of date) that never reaches publication
    _dbt(pipeline_env, "run", "--select", *models, "--vars", "{shumei_as_of_date: '2023-02-01'}")
    try:
        assert q(warehouse_url, marts) != built  # the marts did change: the test can fail
        assert q(bi, DIGEST) == before           # the readers' drill-through did not (and is still readable)
        with psycopg.connect(bi) as reader:
            assert reader.execute(MISMATCHES).fetchall() == []
    finally:
        _dbt(pipeline_env, "run", "--select", *models, "--vars", f"{{shumei_as_of_date: '{LAST.isoformat()}'}}")
    assert q(warehouse_url, marts) == built
