"""What the reports read, and how: the published interface alone, through a reader role.

Every query here runs on a connection of a read-only role (`shumei_stats`, SHUMEI_STATS_URL) and
names only objects of schema `published`, so a report shows exactly what the statistics office
can query itself. Values are those of one release (`published.indicator_values_in_release(N)`),
so the report of a past release can be produced again at any time. The catalogue, targets and area
names are the ones published now (they are refreshed with each release, not versioned).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from shumei.publish.ddl import TARGET_FIGURE_ORDER, TARGET_MET
from shumei.report.errors import ReportError

SHANGHAI = ZoneInfo("Asia/Shanghai")

# 投诉办理 sheet: the complaint-handling figures in the order the office reads them
COMPLAINT_CODES = ("TS_SL", "TS_XY", "TS_JJ", "TS_MY", "TS_AS", "TS_SC_MED", "TS_SC_P90", "TS_CF", "TS_SJ2", "TS_SJ3")
# 信用评级 sheet: the grade distribution as published indicators (XY_AUP and XY_C share one denominator:
# the enterprises rated in the area)
CREDIT_CODES = ("XY_AUP", "XY_C", "XY_PJ")
# The enterprise credit list of the disclosure tables (issue 12), where the warehouse has it
CREDIT_LIST_RELATION = "published.enterprise_credit_list"


@dataclass(frozen=True)
class Release:
    release_id: int
    as_of_date: date
    published_at: datetime
    release_kind: str | None
    release_reason: str | None
    data_checksums: dict[str, Any]

    @property
    def published_local(self) -> datetime:
        """published_at in Asia/Shanghai."""
        return self.published_at.astimezone(SHANGHAI)


def connect(reader_url: str) -> psycopg.Connection:
    """A read-only connection for the reports (rows as dicts)."""
    conn = psycopg.connect(reader_url, autocommit=True, row_factory=dict_row)
    conn.execute("set default_transaction_read_only = on")
    return conn


def release(conn: psycopg.Connection, release_id: int) -> Release:
    # to_jsonb: a warehouse whose release_log predates release_kind / release_reason still reports
    row = conn.execute("select to_jsonb(r) as j, r.as_of_date, r.published_at from published.release_log r"
                       " where r.release_id = %s", (release_id,)).fetchone()
    if row is None:
        raise ReportError(f"release {release_id} does not exist (发布版本不存在): see published.release_log")
    j = row["j"]
    if j["status"] != "published":
        raise ReportError(f"release {release_id} is {j['status']}: no report is made for it")
    return Release(release_id, row["as_of_date"], row["published_at"], j.get("release_kind"),
                   j.get("release_reason"), j.get("data_checksums") or {})


def previous_release(conn: psycopg.Connection, release_id: int) -> Release | None:
    row = conn.execute("""select max(release_id) as r from published.release_log
                          where release_id < %s and status = 'published'""", (release_id,)).fetchone()
    return None if row["r"] is None else release(conn, row["r"])


def current_release_id(conn: psycopg.Connection) -> int | None:
    return conn.execute("select release_id from published.v_release_current").fetchone()["release_id"]


def catalog(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    rows = conn.execute("select * from published.indicator_catalog order by indicator_code").fetchall()
    return {r["indicator_code"]: r for r in rows}


def areas(conn: psycopg.Connection, on: date) -> dict[str, dict[str, Any]]:
    """County and towns valid on `on`, by code (names from published.dim_area, never typed in)."""
    rows = conn.execute("""select area_code, area_name_zh, area_name_en, area_level, parent_area_code
                           from published.dim_area
                           where area_level in ('county', 'town')
                             and (valid_from is null or valid_from <= %(on)s)
                             and (valid_to is null or valid_to > %(on)s)
                           order by area_level, area_code""", {"on": on}).fetchall()
    return {r["area_code"]: r for r in rows}


def monthly_values(conn: psycopg.Connection, release_id: int, codes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The monthly totals of `codes` for the county and the towns, as in release `release_id`."""
    return conn.execute("""
        select v.indicator_code, v.area_code, v.area_level, v.period_start, v.period_end, v.numerator,
               v.denominator, v.value, v.unit, v.status
        from published.indicator_values_in_release(%(r)s) v
        where v.indicator_code = any(%(codes)s) and v.period_type = 'month'
          and v.area_level in ('county', 'town') and v.breakdown_type = 'total'
        order by v.period_start, v.area_level, v.area_code, v.indicator_code""",
                        {"r": release_id, "codes": list(codes)}).fetchall()


# Each area target at its deadline, for the target's own area (town targets are rows of their own, where
# the programme sets them: dbt model indicator_targets); the figure as in the release, met on the exact ratio.
TARGET_PROGRESS_SQL = f"""
with t as (
    select it.target_id, it.indicator_code, it.area_code as target_area_code, it.breakdown_type,
           it.breakdown_code, it.deadline, it.comparator, it.threshold, it.unit, it.target_kind,
           it.clause_section, it.clause_zh, vt.indicator_name_zh, vt.target as target_value,
           vt.unit as target_unit
    from published.indicator_targets it
    join published.v_indicator_targets vt on vt.target_id = it.target_id
    where coalesce(it.measure_scope, 'area') = 'area'
),
target_areas as (
    select t.target_id, a.area_code, a.area_name_zh, a.area_level
    from t
    join published.dim_area a on a.area_code = t.target_area_code
)
select t.target_id, t.indicator_code, t.indicator_name_zh, t.target_area_code, t.deadline, t.comparator,
       t.target_kind, t.target_value, t.target_unit, t.clause_section, t.breakdown_type, t.breakdown_code,
       ta.area_code, ta.area_name_zh, ta.area_level,
       v.period_type, v.period_start, v.period_end, v.numerator, v.denominator, v.value, v.status,
       {TARGET_MET} as target_met
from t
join target_areas ta on ta.target_id = t.target_id
left join lateral (
    select l.*
    from published.indicator_values_in_release(%(r)s) l
    where l.indicator_code = t.indicator_code and l.area_code = ta.area_code
      and l.breakdown_type = t.breakdown_type and l.breakdown_code = t.breakdown_code
      and (l.period_end = t.deadline or t.deadline is null)
    {TARGET_FIGURE_ORDER}
    limit 1
) v on true
where v.indicator_code is not null or ta.area_code = t.target_area_code
order by t.deadline nulls last, t.indicator_code, t.target_id, ta.area_level, ta.area_code
"""


def target_progress(conn: psycopg.Connection, release_id: int) -> list[dict[str, Any]]:
    return conn.execute(TARGET_PROGRESS_SQL, {"r": release_id}).fetchall()


def unit_norms(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Targets that are a norm for each unit (compound, committee, enterprise): no area figure."""
    return conn.execute("""select t.target_id, t.indicator_code, c.name_zh, t.comparator, t.threshold, t.unit,
                                  t.clause_zh
                           from published.indicator_targets t
                           left join published.indicator_catalog c using (indicator_code)
                           where t.measure_scope = 'unit' order by t.target_id""").fetchall()


def credit_public_list(conn: psycopg.Connection, release_id: int) -> list[dict[str, Any]] | None:
    """The public enterprise credit list (依法公开信用信息) of the release: the enterprises serving the
    county at the latest month end of the release, by score; None when the warehouse does not publish
    the list (a warehouse from before issue 12). The one place that reads it."""
    present = conn.execute("select to_regclass(%s) is not null as present", (CREDIT_LIST_RELATION,)).fetchone()
    if not present["present"]:
        return None
    return conn.execute("""
        with l as (select * from published.enterprise_credit_list_in_release(%(r)s) where is_serving_county)
        select l.enterprise_uscc as "统一社会信用代码 USCC", l.enterprise_name as "企业名称 Enterprise",
               l.month_end_date as "月末 Month end", l.credit_grade as "信用等级 Grade",
               l.credit_score as "信用分 Score", l.good_records as "守信记录 Good records",
               l.bad_records as "失信记录 Bad records", l.records_by_kind as "分类记录 Records by kind"
        from l
        where l.month_end_date = (select max(month_end_date) from l)
        order by l.credit_score desc, l.enterprise_uscc""", {"r": release_id}).fetchall()


def value_history(conn: psycopg.Connection, release_id: int, previous_id: int) -> list[dict[str, Any]]:
    """Every stored value that release `release_id` opened or closed (the rows of its diff against
    `previous_id`), with indicator and area names: what the release notes compare."""
    return conn.execute("""
        select h.indicator_code, h.area_code, h.area_level, h.period_type, h.period_start, h.period_end,
               h.breakdown_type, h.breakdown_code, h.numerator, h.denominator, h.value, h.unit, h.status,
               h.revision_reason, h.valid_from_release, h.valid_to_release
        from published.v_indicator_history h
        where (h.valid_from_release = %(r)s or h.valid_to_release = %(r)s)
          and %(p)s < %(r)s
        order by h.indicator_code, h.area_level, h.area_code, h.period_type, h.period_start,
                 h.breakdown_type, h.breakdown_code, h.valid_from_release""",
                        {"r": release_id, "p": previous_id}).fetchall()
