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

-- 2026-12-02 (issue 13): each release marked scheduled or unscheduled with a reason, and the
-- checksums of the report files produced for it
alter table published.release_log
    add column if not exists release_kind text check (release_kind in ('scheduled', 'unscheduled')),
    add column if not exists release_reason text,
    add column if not exists artifacts jsonb not null default '{}'::jsonb;

-- 2026-12-02 (issue 13): the release calendar, planned dates a year ahead (publish/calendar.py)
create table if not exists published.release_calendar (
    planned_date date primary key,
    planned_at timestamptz not null,
    reference_period_start date not null,
    reference_period_end date not null,
    rule_id text not null,
    rule_zh text,
    rule_en text,
    is_estimated boolean not null,
    release_id bigint references published.release_log (release_id)
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
# Which figure a target is measured on: the longest period ending on its deadline (year, quarter,
# month); a standing norm (no deadline) on the latest month, or the latest period of a yearly
# indicator. `t` is the target, `l` the candidate value rows (also used by the report workbook).
TARGET_FIGURE_ORDER = """order by case when t.deadline is null then (l.period_type <> 'month') end, l.period_end desc,
             array_position(array['year', 'quarter', 'month'], l.period_type)"""
TARGET_COMPARE = """case {comparator} when '>=' then {a} >= {b} when '>' then {a} > {b}
         when '<=' then {a} <= {b} when '<' then {a} < {b} when '=' then {a} = {b} end"""

# Whether value `v` meets target `t` (a row of indicator_targets): on the exact ratio, never the rounded
# value (DOMAIN §8). Used by v_indicator_targets and by the report workbook.
TARGET_MET = f"""case
           when v.indicator_code is null then null
           when t.unit = 'ratio' then case when v.denominator > 0 then
               {TARGET_COMPARE.format(comparator="t.comparator", a="v.numerator", b="t.threshold * v.denominator")} end
           when t.unit = 'count' then
               {TARGET_COMPARE.format(comparator="t.comparator", a="v.numerator", b="t.threshold")}
           else {TARGET_COMPARE.format(comparator="t.comparator", a="v.value", b="t.threshold")}
       end"""

# Targets in the unit of the value, with the latest figure of the target's area at its deadline.
TARGETS_VIEW_SQL = f"""
create or replace view published.v_indicator_targets as
select t.target_id, t.indicator_code, c.name_zh as indicator_name_zh, c.name_en as indicator_name_en,
       t.area_code, a.area_name_zh, a.area_name_en, t.breakdown_type, t.breakdown_code, t.measure_scope,
       t.target_kind, t.deadline, t.comparator,
       case when t.unit = 'ratio' and c.unit = 'percent' then 100 * t.threshold else t.threshold end as target,
       case when t.unit = 'ratio' and c.unit = 'percent' then 'percent' else t.unit end as unit,
       v.period_type, v.period_start, v.period_end, v.numerator, v.denominator, v.value, v.status,
       {TARGET_MET} as target_met,
       t.clause_section, t.clause_zh, t.note_en
from published.indicator_targets t
left join published.indicator_catalog c on c.indicator_code = t.indicator_code
left join published.dim_area a on a.area_code = t.area_code
left join lateral (
    -- the figure at the deadline (TARGET_FIGURE_ORDER)
    select l.indicator_code, l.period_type, l.period_start, l.period_end, l.numerator, l.denominator,
           l.value, l.status
    from published.v_indicator_latest l
    where l.indicator_code = t.indicator_code and l.area_code = t.area_code
      and l.breakdown_type = t.breakdown_type and l.breakdown_code = t.breakdown_code
      and (l.period_end = t.deadline or t.deadline is null)
    {TARGET_FIGURE_ORDER}
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
    "release_calendar": "发布日历：今后一年的计划发布日期与时刻（北京时间），规则见 rule_zh；release_id 为当日实际发布的版本 "
                        "Release calendar: planned release dates and times a year ahead (Asia/Shanghai), the rule in rule_en; "
                        "release_id is the release actually published on that date",
    "disclosure_rules": "统计披露规则（如小样本阈值） Statistical disclosure rules (e.g. the small-count threshold)",
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
    "status": "状态：provisional 初步数/final 最终数/revised 修订数/break_in_series 序列中断（发布记录表中为 published/withdrawn） "
              "Status: provisional, final, revised, break_in_series (release_log: published/withdrawn)",
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
    "release_kind": "发布类型：scheduled 按日历发布/unscheduled 日历外发布 Release kind: scheduled (on a planned date) or unscheduled",
    "release_reason": "发布原因（日历外发布的原因） Reason of the release (why an unscheduled release was cut)",
    "artifacts": "该版本报表文件的SHA-256校验和（工作簿、发布说明、公报） SHA-256 of the report files of the release "
                 "(workbook, release notes, bulletin)",
    "planned_date": "计划发布日期（北京时间） Planned release date (Asia/Shanghai)",
    "planned_at": "计划发布时刻 Planned release time",
    "reference_period_start": "报告期开始日期 Start of the reference period the release reports",
    "reference_period_end": "报告期结束日期 End of the reference period the release reports",
    "rule_id": "发布日历规则编号 Release calendar rule id",
    "is_estimated": "工作日按周规则估计（当年节假日安排尚未发布） Working days estimated by the weekday rule (holiday notice not yet issued)",
    "rule_code": "规则代码 Rule code",
    "min_denominator": "最小分母（低于此值标记为小样本） Minimum denominator (below it a rate is flagged small count)",
    "rule_zh": "规则说明（中文） Rule (Chinese)",
    "rule_en": "规则说明（英文） Rule (English)",
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


def apply_reader_grants(cur: psycopg.Cursor) -> None:
    """The readers' privileges on `published`, and nothing elsewhere; run in the warehouse database
    and in the reader database (reader_db.py)."""
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
    """Create or update the `published` schema, its tables, views, function, comments and grants,
    then bring the readers' database in step (shumei.publish.reader_db).

    Runs in its own transaction (committed on return), as the pipeline's owner role, which owns
    what it creates.
    """
    with conn.transaction(), conn.cursor() as cur:
        # serialise concurrent callers (two DAG runs): DDL on the same objects would deadlock
        cur.execute("select pg_advisory_xact_lock(hashtext('shumei.published.ddl'))")
        cur.execute("create schema if not exists published")
        cur.execute(TABLES_SQL)
        cur.execute(VIEWS_SQL)
        cur.execute(RULES_SQL, {"min_denominator": SMALL_COUNT_MIN_DENOMINATOR})
        cur.execute(FREQUENCY_VIEWS_SQL)
        cur.execute(TARGETS_VIEW_SQL)
        _apply_comments(cur)
        apply_reader_grants(cur)
    # after the commit: the reader database imports what the warehouse has committed
    from shumei.publish.reader_db import sync_reader_database

    sync_reader_database(conn)
