"""DDL of the `published` schema: the only schema the statistics office and BI tools can read.

`ensure_published_schema(conn)` is idempotent: tables are created if missing, views and the
function are replaced, comments and grants are (re)applied every time, so a changed comment or a
new view reaches an existing warehouse on the next run.

Release semantics (ALFRED "real-time period" style): every value ever published is stored once,
with the release that first published it (`valid_from_release`) and the release that replaced or
withdrew it (`valid_to_release`, exclusive; null = still current). A value is part of release R
when `valid_from_release <= R and (valid_to_release is null or valid_to_release > R)`.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from shumei.local.bootstrap import READER_GROUP
from shumei.publish.tables import (
    COMPOUND_STATUS_LIST,
    DISCLOSURE_TABLES,
    ENTERPRISE_CREDIT_LIST,
    WORK_ORDERS,
    VersionedTable,
)

SCHEMA = "published"

# Schemas the reader roles must never see; access is revoked actively on every run, in case a
# grant was added by hand (defence in depth: they are not granted by default anyway).
DENIED_SCHEMAS = ("raw", "raw_restricted", "staging", "intermediate", "marts", "audit", "reference",
                  "published_candidate", "snapshots", "public")


TABLES_SQL = """
create table if not exists published.release_log (
    release_id bigint generated always as identity primary key,
    as_of_date date not null,
    published_at timestamptz not null default clock_timestamp(),
    dag_run_id text,
    data_checksums jsonb not null default '{}'::jsonb,
    validation_summary jsonb not null default '{}'::jsonb,
    status text not null default 'published' check (status in ('published', 'withdrawn'))
);

create table if not exists published.indicator_values (
    value_id bigint generated always as identity primary key,
    indicator_code text not null,
    area_code text not null check (area_code ~ '^[0-9]{12}$'),
    area_level text not null check (area_level in ('county', 'town', 'community')),
    period_type text not null check (period_type in ('month', 'quarter', 'year')),
    period_start date not null,
    period_end date not null,
    breakdown_type text not null default 'total'
        check (breakdown_type in ('total', 'channel', 'request_type', 'category', 'rule')),
    breakdown_code text not null default '_T',
    numerator numeric,
    denominator numeric,
    value numeric,
    unit text not null,
    target numeric,
    deadline date,
    target_met boolean,
    status text not null check (status in ('provisional', 'final', 'revised', 'break_in_series')),
    revision_reason text,
    valid_from_release bigint not null references published.release_log (release_id),
    valid_to_release bigint references published.release_log (release_id),
    check (valid_to_release is null or valid_to_release > valid_from_release)
);
-- 2026-12-01: the breakdown dimension (values published before it are the totals)
alter table published.indicator_values
    add column if not exists breakdown_type text not null default 'total'
        check (breakdown_type in ('total', 'channel', 'request_type', 'category', 'rule')),
    add column if not exists breakdown_code text not null default '_T';
drop index if exists published.indicator_values_current_key;
drop index if exists published.indicator_values_key_release;
-- at most one current value per key: the diff of a release relies on it
create unique index if not exists indicator_values_current_key_bd
    on published.indicator_values (indicator_code, area_code, period_type, period_start, breakdown_type, breakdown_code)
    where valid_to_release is null;
create index if not exists indicator_values_key_release_bd
    on published.indicator_values (indicator_code, area_code, period_type, period_start, breakdown_type, breakdown_code,
                                   valid_from_release);

create table if not exists published.indicator_catalog (
    indicator_code text primary key,
    name_zh text not null,
    name_en text,
    definition_zh text,
    definition_en text,
    numerator_zh text,
    numerator_en text,
    denominator_zh text,
    denominator_en text,
    unit text,
    decimals integer,
    measure_kind text,
    frequencies text,
    area_levels text,
    breakdowns text,
    is_additive boolean,
    source text,
    responsible_units_zh text,
    seed_clause text,
    valid_from date,
    valid_to date,
    refreshed_in_release bigint references published.release_log (release_id)
);
alter table published.indicator_catalog
    add column if not exists breakdowns text,
    add column if not exists is_additive boolean;

create table if not exists published.indicator_targets (
    target_id text primary key,
    indicator_code text not null,
    area_code text,
    breakdown_type text not null default 'total',
    breakdown_code text not null default '_T',
    deadline date,
    comparator text,
    threshold numeric,
    unit text,
    target_kind text,
    clause_section text,
    clause_zh text,
    note_en text,
    valid_from date,
    valid_to date,
    refreshed_in_release bigint references published.release_log (release_id)
);
alter table published.indicator_targets
    add column if not exists breakdown_type text not null default 'total',
    add column if not exists breakdown_code text not null default '_T';
-- 2026-12-01 (issue 12): area targets (a figure of an area) apart from unit norms (each compound or enterprise)
alter table published.indicator_targets add column if not exists measure_scope text;

-- 2026-12-01 (issue 12): area names, refreshed with each release like the catalogue
create table if not exists published.dim_area (
    area_code text primary key check (area_code ~ '^[0-9]{12}$'),
    area_name_zh text not null,
    area_name_en text,
    area_level text not null check (area_level in ('county', 'town', 'community')),
    area_type text,
    parent_area_code text,
    valid_from date,
    valid_to date,
    refreshed_in_release bigint references published.release_log (release_id)
);

-- disclosure rules (one row each, written from the constants of ddl.py on every run)
create table if not exists published.disclosure_rules (
    rule_code text primary key,
    min_denominator integer not null,
    rule_zh text not null,
    rule_en text not null
);
"""

# Views are replaced every run; columns are only ever appended (create or replace view rule).
VIEWS_SQL = """
create or replace view published.v_release_current as
select max(release_id) as release_id from published.release_log where status = 'published';

create or replace view published.v_indicator_latest as
select v.indicator_code, v.area_code, v.area_level, v.period_type, v.period_start, v.period_end,
       v.numerator, v.denominator, v.value, v.unit, v.target, v.deadline, v.target_met,
       v.status, v.revision_reason, v.valid_from_release, r.published_at as release_published_at,
       v.breakdown_type, v.breakdown_code
from published.indicator_values v
join published.release_log r on r.release_id = v.valid_from_release
where v.valid_to_release is null;

create or replace view published.v_indicator_first_release as
select distinct on (v.indicator_code, v.area_code, v.period_type, v.period_start, v.breakdown_type, v.breakdown_code)
       v.indicator_code, v.area_code, v.area_level, v.period_type, v.period_start, v.period_end,
       v.numerator, v.denominator, v.value, v.unit, v.target, v.deadline, v.target_met,
       v.status, v.revision_reason, v.valid_from_release, r.published_at as release_published_at,
       v.breakdown_type, v.breakdown_code
from published.indicator_values v
join published.release_log r on r.release_id = v.valid_from_release
order by v.indicator_code, v.area_code, v.period_type, v.period_start, v.breakdown_type, v.breakdown_code,
         v.valid_from_release;

create or replace view published.v_indicator_history as
select v.indicator_code, v.area_code, v.area_level, v.period_type, v.period_start, v.period_end,
       v.numerator, v.denominator, v.value, v.unit, v.target, v.deadline, v.target_met,
       v.status, v.revision_reason, v.valid_from_release, v.valid_to_release,
       r.published_at as release_published_at, v.breakdown_type, v.breakdown_code
from published.indicator_values v
join published.release_log r on r.release_id = v.valid_from_release;

-- the returned columns gained the breakdown (2026-12-01): a function's result type cannot be replaced
do $$
begin
    if exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
               where n.nspname = 'published' and p.proname = 'indicator_values_in_release'
                 and not 'breakdown_type' = any(coalesce(p.proargnames, '{}'))) then
        drop function published.indicator_values_as_of(date);
        drop function published.indicator_values_in_release(bigint);
    end if;
end $$;

-- A release id that is not in release_log is an error, not "every current value". The check is a
-- plpgsql function called in the WHERE clause of the SQL functions below: they stay single SQL
-- statements that the planner inlines (the check becomes a one-time filter, evaluated once), so a
-- caller's filters reach the index of indicator_values (a plpgsql function itself is never inlined).
create or replace function published.check_release(p_release_id bigint)
returns boolean
language plpgsql stable
as $$
begin
    if p_release_id is null or not exists (select from published.release_log r where r.release_id = p_release_id) then
        raise exception 'release % does not exist (发布版本不存在): see published.release_log', p_release_id
            using errcode = 'invalid_parameter_value';
    end if;
    return true;
end
$$;

create or replace function published.indicator_values_in_release(p_release_id bigint)
returns table (
    indicator_code text, area_code text, area_level text, period_type text, period_start date,
    period_end date, numerator numeric, denominator numeric, value numeric, unit text,
    target numeric, deadline date, target_met boolean, status text, revision_reason text,
    valid_from_release bigint, release_id bigint, breakdown_type text, breakdown_code text)
language sql stable
as $$
    select v.indicator_code, v.area_code, v.area_level, v.period_type, v.period_start, v.period_end,
           v.numerator, v.denominator, v.value, v.unit, v.target, v.deadline, v.target_met,
           v.status, v.revision_reason, v.valid_from_release, p_release_id, v.breakdown_type, v.breakdown_code
    from published.indicator_values v
    where v.valid_from_release <= p_release_id
      and (v.valid_to_release is null or v.valid_to_release > p_release_id)
      and published.check_release(p_release_id)
$$;

-- one SQL statement, the release as a join (not a function call over a sub-select, which the
-- planner cannot inline); a date before the first release gives no rows
create or replace function published.indicator_values_as_of(p_as_of date)
returns table (
    indicator_code text, area_code text, area_level text, period_type text, period_start date,
    period_end date, numerator numeric, denominator numeric, value numeric, unit text,
    target numeric, deadline date, target_met boolean, status text, revision_reason text,
    valid_from_release bigint, release_id bigint, breakdown_type text, breakdown_code text)
language sql stable
as $$
    select v.indicator_code, v.area_code, v.area_level, v.period_type, v.period_start, v.period_end,
           v.numerator, v.denominator, v.value, v.unit, v.target, v.deadline, v.target_met,
           v.status, v.revision_reason, v.valid_from_release, r.release_id, v.breakdown_type, v.breakdown_code
    from (select max(rl.release_id) as release_id from published.release_log rl
          where rl.status = 'published'
            and (rl.published_at at time zone 'Asia/Shanghai')::date <= p_as_of) r
    join published.indicator_values v
      on v.valid_from_release <= r.release_id
     and (v.valid_to_release is null or v.valid_to_release > r.release_id)
$$;
"""

_AS_OF_RELEASE = """(select max(rl.release_id) as release_id from published.release_log rl
          where rl.status = 'published'
            and (rl.published_at at time zone 'Asia/Shanghai')::date <= p_as_of)"""


def disclosure_table_sql(t: VersionedTable) -> str:
    """Storage, indexes and the two inlinable reader functions of a disclosure table, from its declaration.

    Like indicator_values: a row per key and version; `<name>_in_release(bigint)` (an unknown release
    is an error, via check_release) and `<name>_as_of(date)` are single SQL statements the planner
    inlines, so a caller's filter reaches the indexes. Columns are only ever appended; a function
    whose result columns changed is dropped and recreated.
    """
    columns = ",\n    ".join(f"{c} {typ}{' not null' if c in t.key else ''}" for c, typ in t.columns)
    key = ", ".join(t.key)
    result = ", ".join(f"{c} {typ}" for c, typ in t.columns) + ", valid_from_release bigint, release_id bigint"
    selected = ", ".join(f"t.{c}" for c in t.column_names)
    arg_names = {"in_release": "p_release_id", "as_of": "p_as_of"}
    drops = "".join(f"""
do $$
begin
    if exists (select from pg_proc p join pg_namespace n on n.oid = p.pronamespace
               where n.nspname = 'published' and p.proname = '{t.name}_{suffix}'
                 and p.proargnames is distinct from array['{arg}', {", ".join(f"'{c}'" for c in t.column_names)},
                                                          'valid_from_release', 'release_id']) then
        drop function published.{t.name}_{suffix}({'bigint' if suffix == 'in_release' else 'date'});
    end if;
end $$;""" for suffix, arg in arg_names.items())
    reader_indexes = "".join(f"\ncreate index if not exists {t.name}_{suffix} on {t.table} ({cols});"
                             for suffix, cols in t.reader_indexes)
    return f"""
create table if not exists {t.table} (
    {t.row_id} bigint generated always as identity primary key,
    {columns},
    valid_from_release bigint not null references published.release_log (release_id),
    valid_to_release bigint references published.release_log (release_id),
    check (valid_to_release is null or valid_to_release > valid_from_release)
);
alter table {t.table} {", ".join(f"add column if not exists {c} {typ}" for c, typ in t.columns)};
-- at most one current row per key: the diff of a release relies on it
create unique index if not exists {t.name}_current_key on {t.table} ({key}) where valid_to_release is null;
create index if not exists {t.name}_key_release on {t.table} ({key}, valid_from_release);{reader_indexes}
{drops}
create or replace function published.{t.name}_in_release(p_release_id bigint)
returns table ({result})
language sql stable
as $$
    select {selected}, t.valid_from_release, p_release_id
    from {t.table} t
    where t.valid_from_release <= p_release_id
      and (t.valid_to_release is null or t.valid_to_release > p_release_id)
      and published.check_release(p_release_id)
$$;

create or replace function published.{t.name}_as_of(p_as_of date)
returns table ({result})
language sql stable
as $$
    select {selected}, t.valid_from_release, r.release_id
    from {_AS_OF_RELEASE} r
    join {t.table} t
      on t.valid_from_release <= r.release_id
     and (t.valid_to_release is null or t.valid_to_release > r.release_id)
$$;
"""


DISCLOSURE_SQL = "".join(disclosure_table_sql(t) for t in DISCLOSURE_TABLES)

# Latest rows of the disclosure tables, with area names; the Open311 GeoReport v2 view of the orders.
# Open311 wants ISO 8601 with the offset: Asia/Shanghai is +08:00 all year (no daylight saving).
_ISO = """to_char({col} at time zone 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"')"""
_AREA_NAMES = """c.area_name_zh as community_name_zh, c.area_name_en as community_name_en,
       w.area_name_zh as town_name_zh, w.area_name_en as town_name_en"""
_AREA_JOINS = """left join published.dim_area c on c.area_code = t.community_code
left join published.dim_area w on w.area_code = t.town_code"""


def _latest_view(t: VersionedTable, view: str, names: bool) -> str:
    """The current rows of a disclosure table, with the names of their community and town."""
    return f"""
create or replace view published.{view} as
select {", ".join("t." + c for c in t.column_names)},{" " + _AREA_NAMES + "," if names else ""} t.valid_from_release
from {t.table} t
{_AREA_JOINS if names else ""}
where t.valid_to_release is null;
"""


DISCLOSURE_VIEWS_SQL = _latest_view(ENTERPRISE_CREDIT_LIST, "v_enterprise_credit_list", names=False) + \
    _latest_view(COMPOUND_STATUS_LIST, "v_compound_status_list", names=True) + \
    _latest_view(WORK_ORDERS, "v_work_orders", names=True) + f"""
-- Open311 GeoReport v2 (service requests) over the current work orders. No description, status
-- notes or media (free text), no lat/long (the registry has no coordinates), no caller field.
create or replace view published.v_open311_requests as
select t.work_order_id as service_request_id,
       t.open311_status as status,
       t.category_code as service_code,
       t.category_name_zh as service_name,
       w.area_name_zh as agency_responsible,
       {_ISO.format(col="t.received_at")} as requested_datetime,
       {_ISO.format(col="t.updated_at")} as updated_datetime,
       {_ISO.format(col="t.due_at")} as expected_datetime,
       concat_ws(' ', w.area_name_zh, c.area_name_zh, t.compound_name) as address,
       t.compound_id as address_id
from published.work_orders t
{_AREA_JOINS}
where t.valid_to_release is null;
"""

# Statistical disclosure: a rate whose denominator is below this is flagged `is_small_count` in the
# value views. Kept here only; written to published.disclosure_rules so readers see it too.
SMALL_COUNT_MIN_DENOMINATOR = 5

RULES_SQL = """
insert into published.disclosure_rules (rule_code, min_denominator, rule_zh, rule_en)
values ('small_count', %(min_denominator)s,
        '比率的分母小于该值时标记为小样本（is_small_count），解读和再发布须谨慎',
        'A rate whose denominator is below this value is flagged is_small_count: interpret and re-publish with care')
on conflict (rule_code) do update
    set min_denominator = excluded.min_denominator, rule_zh = excluded.rule_zh, rule_en = excluded.rule_en
"""

_FREQUENCY_VIEW = """
create or replace view published.v_indicator_{frequency} as
select l.indicator_code, c.name_zh as indicator_name_zh, c.name_en as indicator_name_en,
       l.area_code, a.area_name_zh, a.area_name_en, l.area_level, a.parent_area_code,
       l.period_start, l.period_end, l.breakdown_type, l.breakdown_code,
       l.numerator, l.denominator, l.value, l.unit, c.decimals, c.is_additive,
       coalesce(l.unit = 'percent' and coalesce(l.denominator, 0) < (
           select r.min_denominator from published.disclosure_rules r where r.rule_code = 'small_count'), false)
           as is_small_count,
       l.target, l.deadline, l.target_met, l.status, l.revision_reason, l.valid_from_release,
       l.release_published_at
from published.v_indicator_latest l
left join published.indicator_catalog c on c.indicator_code = l.indicator_code
left join published.dim_area a on a.area_code = l.area_code
where l.period_type = '{frequency}';
"""
_COMPARE = """case {comparator} when '>=' then {a} >= {b} when '>' then {a} > {b}
         when '<=' then {a} <= {b} when '<' then {a} < {b} when '=' then {a} = {b} end"""

# Targets in the unit of the value, with the latest figure of the target's area at its deadline.
TARGETS_VIEW_SQL = f"""
create or replace view published.v_indicator_targets as
select t.target_id, t.indicator_code, c.name_zh as indicator_name_zh, c.name_en as indicator_name_en,
       t.area_code, a.area_name_zh, a.area_name_en, t.breakdown_type, t.breakdown_code, t.measure_scope,
       t.target_kind, t.deadline, t.comparator,
       case when t.unit = 'ratio' and c.unit = 'percent' then 100 * t.threshold else t.threshold end as target,
       case when t.unit = 'ratio' and c.unit = 'percent' then 'percent' else t.unit end as unit,
       v.period_type, v.period_start, v.period_end, v.numerator, v.denominator, v.value, v.status,
       case
           when v.indicator_code is null then null
           when t.unit = 'ratio' then case when v.denominator > 0 then
               {_COMPARE.format(comparator="t.comparator", a="v.numerator", b="t.threshold * v.denominator")} end
           when t.unit = 'count' then
               {_COMPARE.format(comparator="t.comparator", a="v.numerator", b="t.threshold")}
           else {_COMPARE.format(comparator="t.comparator", a="v.value", b="t.threshold")}
       end as target_met,
       t.clause_section, t.clause_zh, t.note_en
from published.indicator_targets t
left join published.indicator_catalog c on c.indicator_code = t.indicator_code
left join published.dim_area a on a.area_code = t.area_code
left join lateral (
    -- the figure at the deadline (the longest period ending on it: year, quarter, month); a standing
    -- norm (no deadline) is compared with the latest month, or the latest period of a yearly indicator
    select l.indicator_code, l.period_type, l.period_start, l.period_end, l.numerator, l.denominator,
           l.value, l.status
    from published.v_indicator_latest l
    where l.indicator_code = t.indicator_code and l.area_code = t.area_code
      and l.breakdown_type = t.breakdown_type and l.breakdown_code = t.breakdown_code
      and (l.period_end = t.deadline or t.deadline is null)
    order by case when t.deadline is null then (l.period_type <> 'month') end, l.period_end desc,
             array_position(array['year', 'quarter', 'month'], l.period_type)
    limit 1
) v on coalesce(t.measure_scope, 'area') = 'area';
"""

FREQUENCY_VIEWS_SQL = "".join(_FREQUENCY_VIEW.format(frequency=f) for f in ("month", "quarter", "year"))

_T = "表 Table"
TABLE_COMMENTS = {
    "release_log": "发布记录：每次正式发布一行（发布版本、数据截止日、发布时间、校验摘要） "
                   "Release log: one row per official release (vintage), with data checksums and validation summary",
    "indicator_values": "指标数值（全部版本）：每个发布过的数值只存一次，valid_from_release/valid_to_release 标明其有效版本区间 "
                        "Indicator values, all vintages: each published value stored once with the releases in which it is valid",
    "indicator_catalog": "指标目录（口径）：代码、名称、定义、分子分母、单位、频率、地区层级、来源、责任单位 "
                         "Indicator catalogue: code, names, definition, numerator/denominator, unit, frequency, area levels, source, responsible units",
    "indicator_targets": "指标目标：方案规定的目标值、期限与条款 "
                         "Indicator targets set by the programme: threshold, deadline and source clause",
    "v_release_current": "当前发布版本号 Current (latest) release id",
    "v_indicator_latest": "最新发布的指标数值（每个指标×地区×期间×分组一行；合计为 breakdown_type = total） "
                          "Latest published indicator values (one row per indicator × area × period × breakdown; the figure itself is breakdown_type = total)",
    "v_indicator_first_release": "首次发布时的指标数值 Indicator values as first published",
    "v_indicator_history": "指标数值的全部版本（含已修订值） Full revision history of indicator values",
    "dim_area": "地区维度：县、乡镇、社区的12位区划代码、中英文名称、层级、上级代码与有效期（随每次发布刷新） "
                "Area dimension: 12-digit codes, Chinese and English names, level, parent and validity of the county, "
                "towns and communities (refreshed with each release)",
    "v_indicator_targets": "指标目标及其达成情况：阈值与指标值同单位（比率为百分数0-100），期限日该地区最新发布数值及是否达标 "
                           "Targets in the unit of the value (percent 0-100 for rates) with the latest published figure of "
                           "the target's area at the deadline and whether it is met",
    "disclosure_rules": "统计披露规则（如小样本阈值） Statistical disclosure rules (e.g. the small-count threshold)",
    "enterprise_credit_list": "物业服务企业信用名单（全部版本）：每个企业每月末的信用分、等级与守信/失信记录，按发布版本存储 "
                              "Enterprise credit list, all vintages: score, grade and good/bad records of each enterprise "
                              "at each month end, versioned by release",
    "compound_status_list": "小区状态名单（全部版本）：每个小区每月末的物业服务、服务企业、业委会、党组织状态，按发布版本存储 "
                            "Compound status list, all vintages: property service, serving enterprise, owners' committee and "
                            "party organisation of each compound at each month end, versioned by release",
    "work_orders": "工单结构化信息（全部版本）：编号、小区、分类、渠道、时间、状态；不含来电人信息和文字内容，按发布版本存储 "
                   "Work orders, all vintages: id, compound, category, channel, dates and status only (no caller data, no "
                   "free text), versioned by release",
    "v_enterprise_credit_list": "最新发布的物业服务企业信用名单 Latest published enterprise credit list",
    "v_compound_status_list": "最新发布的小区状态名单，含社区与乡镇名称 Latest published compound status list, with community and town names",
    "v_work_orders": "最新发布的工单结构化信息，含社区与乡镇名称 Latest published work orders (structured fields), with community and town names",
    "v_open311_requests": "Open311 GeoReport v2 格式的工单（最新发布版本；时间为 ISO 8601 含时区） "
                          "Work orders of the latest release in the Open311 GeoReport v2 shape (ISO 8601 datetimes with offset)",
    **{f"v_indicator_{f}": f"最新{zh}度指标数值，含指标与地区名称；合计为 breakdown_type = total，"
                           "求和只取同一地区层级（如 area_level = town）与同一分组 "
                           f"Latest {f}ly values with indicator and area names; the figure is breakdown_type = total; "
                           "sum only within one area level (e.g. area_level = town) and one breakdown"
       for f, zh in (("month", "月"), ("quarter", "季"), ("year", "年"))},
}
FUNCTION_COMMENTS = {
    "indicator_values_as_of(date)": "截至某日（北京时间）已发布的指标数值：该日及以前最后一次发布的版本 "
                                    "Indicator values as known on a date (Asia/Shanghai): the last release published on or before that date",
    "indicator_values_in_release(bigint)": "某一发布版本中的指标数值（版本号不存在时报错） "
                                           "Indicator values as they stood in a given release (an unknown release id is an error)",
    **{f"{t.name}_in_release(bigint)": f"某一发布版本中的{zh}（版本号不存在时报错） "
                                       f"The {en} as it stood in a given release (an unknown release id is an error)"
       for t, zh, en in ((ENTERPRISE_CREDIT_LIST, "企业信用名单", "enterprise credit list"),
                         (COMPOUND_STATUS_LIST, "小区状态名单", "compound status list"),
                         (WORK_ORDERS, "工单", "work orders"))},
    **{f"{t.name}_as_of(date)": f"截至某日（北京时间）已发布的{zh} "
                                f"The {en} as known on a date (Asia/Shanghai): the last release published on or before it"
       for t, zh, en in ((ENTERPRISE_CREDIT_LIST, "企业信用名单", "enterprise credit list"),
                         (COMPOUND_STATUS_LIST, "小区状态名单", "compound status list"),
                         (WORK_ORDERS, "工单", "work orders"))},
    "check_release(bigint)": "检查发布版本号是否存在，不存在则报错（供 indicator_values_in_release 使用） "
                             "Raises an error for a release id not in release_log (used by indicator_values_in_release)",
}
COLUMN_COMMENTS = {
    "release_id": "发布版本号 Release id (vintage)",
    "as_of_date": "数据截止日期 Data as-of date of the release",
    "published_at": "发布时间 Time the release was published",
    "release_published_at": "该数值所属发布版本的发布时间 Publication time of the release that first carried this value",
    "dag_run_id": "生成该版本的流水线运行编号 Pipeline (Airflow DAG) run that produced the release",
    "data_checksums": "发布数据的校验和 Checksums of the published data and inputs",
    "validation_summary": "发布前质量校验摘要 Summary of the quality audit that cleared the release",
    "status": "状态：provisional 初步数/final 最终数/revised 修订数/break_in_series 序列中断（发布记录表中为 published/withdrawn；"
              "v_open311_requests 中为 open/closed） "
              "Status: provisional, final, revised, break_in_series (release_log: published/withdrawn; "
              "v_open311_requests: open/closed)",
    "value_id": "数值记录编号 Surrogate id of the stored value",
    "indicator_code": "指标代码 Indicator code",
    "area_code": "统计用区划代码（12位） Area code (12-digit statistical division code)",
    "area_level": "地区层级：county 县/town 乡镇/community 社区 Area level: county, town or community",
    "period_type": "期间类型：month 月/quarter 季/year 年 Period type: month, quarter or year",
    "period_start": "期间开始日期 Period start date",
    "period_end": "期间结束日期（存量指标为期末时点） Period end date (reference date of stock indicators)",
    "numerator": "分子 Numerator",
    "denominator": "分母 Denominator",
    "value": "官方指标值：按分子分母精确计算后按目录小数位四舍五入（比率为百分数0-100） "
             "Official value, rounded half-up to the catalogue's decimals from the exact numerator and denominator (rates in percent, 0-100)",
    "unit": "计量单位：percent 百分比/count 个数/working_days 工作日/hours 小时/score 分 Unit: percent, count, working_days, hours or score",
    "breakdown_type": "分组维度：total 合计/channel 受理渠道/request_type 诉求类型/category 问题分类/rule 预警规则；求和时只取同一分组 "
                      "Breakdown: total (the figure itself), channel, request_type, category or rule; sum only within one breakdown",
    "breakdown_code": "分组代码：合计为 _T；渠道 12345/12319/smart_platform，诉求类型、问题分类或预警规则代码 "
                      "Breakdown member: _T for the total; channel 12345/12319/smart_platform, or a request type, category or rule code",
    "breakdowns": "除合计外发布的分组维度（|分隔） Breakdowns published besides the total (|-separated)",
    "is_additive": "各乡镇分子分母相加是否等于全县（企业类指标、分位数、预警数不可加） "
                   "Whether towns add up to the county (not for enterprise indicators, percentiles, early warnings)",
    "target": "目标值（与指标值同单位） Target value (same unit as the value)",
    "deadline": "目标期限 Target deadline",
    "target_met": "是否达到目标 Whether the target is met",
    "revision_reason": "修订原因 Reason for the revision",
    "valid_from_release": "该数值首次发布的版本号 Release in which this value was first published",
    "valid_to_release": "该数值被替代或撤回的版本号（空=现行） Release that replaced or withdrew this value (null = current)",
    "name_zh": "指标中文名称 Indicator name (Chinese)",
    "name_en": "指标英文名称 Indicator name (English)",
    "definition_zh": "指标定义（中文） Definition (Chinese)",
    "definition_en": "指标定义（英文） Definition (English)",
    "numerator_zh": "分子口径（中文） Numerator definition (Chinese)",
    "numerator_en": "分子口径（英文） Numerator definition (English)",
    "denominator_zh": "分母口径（中文） Denominator definition (Chinese)",
    "denominator_en": "分母口径（英文） Denominator definition (English)",
    "decimals": "发布小数位数 Published decimals",
    "measure_kind": "指标类型：stock 时点/flow 时期 Measure kind: stock (at a date) or flow (over a period)",
    "frequencies": "发布频率（|分隔） Frequencies (|-separated)",
    "area_levels": "发布的地区层级（|分隔） Area levels published (|-separated)",
    "source": "数据来源 Data source",
    "responsible_units_zh": "责任单位 Responsible units",
    "seed_clause": "方案依据条款 Clause of the programme text",
    "valid_from": "生效日期 Valid from",
    "valid_to": "失效日期（空=现行） Valid to (null = current)",
    "refreshed_in_release": "最近一次刷新所在的发布版本 Release in which this row was last refreshed",
    "target_id": "目标编号 Target id",
    "comparator": "比较符（>=, > 等） Comparator (>=, >, ...)",
    "threshold": "目标阈值（按 unit 所示单位） Threshold (in the unit of the unit column)",
    "target_kind": "目标性质：firm 硬性/aspirational 力争/basically_met 基本达标/standing_norm 常态要求/milestone 节点 Target kind",
    "clause_section": "方案章节 Section of the programme text",
    "clause_zh": "方案条款原文 Clause text of the programme",
    "note_en": "英文说明 Note (English)",
    "measure_scope": "目标范围：area 地区数值/unit 每个单位（小区、企业）须达到的规范 "
                     "Target scope: area (a figure of the area) or unit (a norm each compound or enterprise must meet)",
    "area_name_zh": "地区中文名称 Area name (Chinese)",
    "area_name_en": "地区英文名称（乡镇为拼音） Area name (English; pinyin for towns)",
    "area_type": "地区类型：county 县/town 镇/township 乡/development_zone 开发区/community 社区 Area type",
    "parent_area_code": "上级地区代码（乡镇的上级为县，社区的上级为乡镇） Parent area code (county of a town, town of a community)",
    "indicator_name_zh": "指标中文名称 Indicator name (Chinese)",
    "indicator_name_en": "指标英文名称 Indicator name (English)",
    "is_small_count": "小样本标记：比率的分母小于披露阈值（见 disclosure_rules） "
                      "Small count: a rate whose denominator is below the disclosure threshold (see disclosure_rules)",
    "rule_code": "规则代码 Rule code",
    "min_denominator": "最小分母（低于此值标记为小样本） Minimum denominator (below it a rate is flagged small count)",
    "rule_zh": "规则说明（中文） Rule (Chinese)",
    "rule_en": "规则说明（英文） Rule (English)",
    # disclosure tables
    "credit_row_id": "信用名单记录编号 Surrogate id of the stored row",
    "compound_row_id": "小区名单记录编号 Surrogate id of the stored row",
    "work_order_row_id": "工单记录编号 Surrogate id of the stored row",
    "enterprise_uscc": "统一社会信用代码（18位） Unified social credit code of the enterprise (18 characters)",
    "enterprise_name": "企业名称 Enterprise name",
    "month_end_date": "月末日期（名单所指时点） Month end the row refers to",
    "credit_score": "信用分：基础分＋守信加分（封顶）－失信扣分，不低于0 Credit score: base + good points (capped) - bad points, never below 0",
    "credit_grade": "信用等级：AAA/AA/A/B/C，一票否决为C Credit grade: AAA, AA, A, B or C (a veto item forces C)",
    "score_grade": "按分数的等级（未计一票否决） Grade by score alone, before any veto",
    "has_veto": "月末有有效的一票否决事项 A one-vote veto item is valid at the month end",
    "scheme_version": "信用评价办法版本 Version of the credit scheme in force",
    "good_points": "守信加分（封顶后） Good-conduct points counted, after the cap",
    "bad_points": "失信扣分（投诉查实扣分每12个月封顶） Bad-conduct points counted (complaint deductions capped per 12 months)",
    "valid_records": "月末有效信用记录数 Credit records valid at the month end",
    "good_records": "月末有效守信记录数 Good-conduct records valid at the month end",
    "bad_records": "月末有效失信记录数 Bad-conduct records valid at the month end",
    "records_by_kind": "分类信用记录：规则代码:条数，|分隔，如 award_city:1|complaint_substantiated:2 "
                       "Records valid at the month end by kind: rule code:count, |-separated",
    "previous_credit_grade": "上月信用等级 Grade at the previous month end",
    "served_town_codes": "月末服务城市住宅小区所在乡镇代码（|分隔） Towns where the enterprise serves urban compounds at the month end (|-separated)",
    "served_compounds": "月末服务的城市住宅小区数 Urban residential compounds served at the month end",
    "is_serving_county": "月末在县服务城市住宅小区（XY_* 指标统计的企业） Serves an urban compound of the county at the month end "
                         "(the enterprises the XY_* indicators count)",
    "is_provisional": "暂定：月份未结束，可能变动 Provisional: the month was not finished at the as-of date and may change",
    "compound_id": "小区编号 Compound id",
    "compound_name": "小区名称 Compound name",
    "community_code": "社区代码（12位） Community code (12 digits)",
    "town_code": "乡镇代码（12位） Town or development-zone code (12 digits)",
    "community_name_zh": "社区中文名称 Community name (Chinese)",
    "community_name_en": "社区英文名称 Community name (English)",
    "town_name_zh": "乡镇中文名称 Town name (Chinese)",
    "town_name_en": "乡镇英文名称（拼音） Town name (English, pinyin)",
    "is_urban_residential": "城市住宅小区（小区类指标的统计范围） Urban residential compound (the population of the compound indicators)",
    "service_mode_code": "物业服务模式：professional 专业化物业服务/state_fallback 国有物业兜底/community_managed 社区托管/"
                         "self_managed 业主自治管理/none 无物业管理 Property service mode",
    "has_property_service": "有物业服务（WY_FG 分子） Under property service (numerator of WY_FG)",
    "has_owners_committee": "有业主委员会或物业管理委员会（YWH_FG） Has an owners' committee or property management committee",
    "committee_type_code": "委员会类型 Kind of committee",
    "is_committee_party_share_met": "业委会党员比例达标（≥60%，YWH_DY） The committee's party-member share meets the norm (at least 60 %)",
    "has_party_branch": "有小区党支部或联合/网格党支部（DZB_ZJ） Covered by its own or a joint/grid party branch",
    "has_party_work_group": "仅有党的工作小组 Covered by a party work group only",
    "party_branch_type": "党组织形式：compound_branch/joint_grid_branch/work_group/none Strongest party organisation form",
    "is_alliance_covered": "所在社区建立党建联盟和联席会议（LM_FG） Its community has the alliance and the joint meeting",
    "is_city_demonstration": "市级示范小区（SFD_XQ） Holds a city-level demonstration title",
    "work_order_id": "工单编号（12319 副本并入 12345 原件） Order id (a 12319 copy is merged into its original)",
    "channel": "受理渠道：12345/12319/smart_platform Channel of the original order",
    "request_type_code": "诉求类型代码 Request type code",
    "category_code": "问题分类代码（Open311 service_code） Complaint category code",
    "category_name_zh": "问题分类名称（Open311 service_name） Category name (Chinese)",
    "category_name_en": "问题分类英文名称 Category name (English)",
    "urgency_code": "紧急程度 Urgency",
    "received_at": "受理时间 Time received",
    "received_date": "受理日期（北京时间，决定所属统计期） Receipt date (Asia/Shanghai), the date that places the order in a period",
    "dispatched_at": "首次派单时间 First dispatch",
    "closed_at": "最终办结时间（重办中为空） Final closure (null while open or reopened)",
    "due_at": "现行办理时限（热线系统延期后的时限，否则按时限表计算） Due time in force (the hotline's own after extensions, else the SLA's)",
    "due_source": "时限来源：source 热线系统/sla 按时限表计算 Where the due time comes from",
    "updated_at": "最新更新时间 Latest record time of the order's events",
    "status_code": "当前状态代码（最新事件） Canonical status of the latest event",
    "open311_status": "Open311 状态：closed 已办结或终止/open 办理中 Open311 status: closed (final closure or terminal) or open",
    "highest_escalation_level": "吹哨报到最高层级：1 小区/2 社区/3 乡镇 Highest escalation level reached",
    "is_counted": "计入统计（非副本、非不予受理、非并案） Counts in the hotline indicators",
    "is_closed_on_time": "按时办结 Closed by the due time in force",
    "service_request_id": "Open311 service_request_id：工单编号 Order id",
    "service_code": "Open311 service_code：问题分类代码 Category code",
    "service_name": "Open311 service_name：问题分类名称 Category name",
    "agency_responsible": "Open311 agency_responsible：属地责任乡镇（开发区） The town or development zone responsible for the order's area",
    "requested_datetime": "Open311 requested_datetime：受理时间（ISO 8601，+08:00） Time received",
    "updated_datetime": "Open311 updated_datetime：最新更新时间（ISO 8601，+08:00） Latest update",
    "expected_datetime": "Open311 expected_datetime：现行办理时限（ISO 8601，+08:00） Due time in force",
    "address": "Open311 address：乡镇 社区 小区名称（无住户地址） Town, community and compound name (no resident's address)",
    "address_id": "Open311 address_id：小区编号 Compound id",
}


def _apply_comments(cur: psycopg.Cursor) -> None:
    cur.execute("""select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = %s and c.relkind in ('r', 'v', 'm')""", (SCHEMA,))
    relations = cur.fetchall()
    for relname, relkind in relations:
        kind = sql.SQL("view") if relkind == "v" else sql.SQL("table")
        text = TABLE_COMMENTS.get(relname, f"{relname} {_T}")
        cur.execute(sql.SQL("comment on {} {} is {}").format(
            kind, sql.Identifier(SCHEMA, relname), sql.Literal(text)))
        cur.execute("""select a.attname from pg_attribute a
                       where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped""",
                    (f"{SCHEMA}.{relname}",))
        for (column,) in cur.fetchall():
            if column not in COLUMN_COMMENTS:
                raise KeyError(f"no comment defined for column {SCHEMA}.{relname}.{column}")
            cur.execute(sql.SQL("comment on column {} is {}").format(
                sql.Identifier(SCHEMA, relname, column), sql.Literal(COLUMN_COMMENTS[column])))
    for signature, text in FUNCTION_COMMENTS.items():
        cur.execute(sql.SQL("comment on function {}.{} is {}").format(
            sql.Identifier(SCHEMA), sql.SQL(signature), sql.Literal(text)))


def _apply_grants(cur: psycopg.Cursor) -> None:
    reader = sql.Identifier(READER_GROUP)
    cur.execute("revoke all on schema published from public")
    cur.execute("revoke all on all tables in schema published from public")
    cur.execute("revoke all on all functions in schema published from public")
    # functions are executable by PUBLIC by default: take that away for future ones too
    cur.execute("alter default privileges in schema published revoke execute on functions from public")
    cur.execute(sql.SQL("revoke all on all tables in schema published from {}").format(reader))
    cur.execute(sql.SQL("grant usage on schema published to {}").format(reader))
    cur.execute(sql.SQL("grant select on all tables in schema published to {}").format(reader))
    cur.execute(sql.SQL("grant execute on all functions in schema published to {}").format(reader))
    cur.execute("select nspname from pg_namespace where nspname = any(%s)", (list(DENIED_SCHEMAS),))
    for (schema,) in cur.fetchall():
        ident = sql.Identifier(schema)
        cur.execute(sql.SQL("revoke all on schema {} from {}").format(ident, reader))
        cur.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(ident, reader))
        if schema != "public":
            cur.execute(sql.SQL("revoke all on schema {} from public").format(ident))


def ensure_published_schema(conn: psycopg.Connection) -> None:
    """Create or update the `published` schema, its tables, views, function, comments and grants.

    Runs in its own transaction (committed on return), as the pipeline's owner role, which owns
    what it creates.
    """
    with conn.transaction(), conn.cursor() as cur:
        # serialise concurrent callers (two DAG runs): DDL on the same objects would deadlock
        cur.execute("select pg_advisory_xact_lock(hashtext('shumei.published.ddl'))")
        cur.execute("create schema if not exists published")
        cur.execute(TABLES_SQL)
        cur.execute(VIEWS_SQL)
        cur.execute(DISCLOSURE_SQL)
        cur.execute(RULES_SQL, {"min_denominator": SMALL_COUNT_MIN_DENOMINATOR})
        cur.execute(FREQUENCY_VIEWS_SQL)
        cur.execute(TARGETS_VIEW_SQL)
        cur.execute(DISCLOSURE_VIEWS_SQL)
        _apply_comments(cur)
        _apply_grants(cur)
