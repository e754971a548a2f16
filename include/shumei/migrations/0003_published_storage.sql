-- The storage tables of schema published (its views and functions are derived: publish/ddl.py).
-- Baseline: written with `if not exists` (and the in-place upgrades of earlier versions) because it
-- adopts a warehouse made before numbered migrations existed (2026-12-02); every later migration is
-- plain DDL, applied once (shumei.migrations).

create schema if not exists published;

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
    status text not null check (status in ('provisional', 'final', 'revised', 'break_in_series', 'estimated')),
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
-- 2026-12-01: status estimated (SDMX E: a member unit is a rejected registry row's last accepted version)
do $$
begin
    if not exists (select 1 from pg_constraint
                   where conrelid = 'published.indicator_values'::regclass and conname = 'indicator_values_status_check'
                     and pg_get_constraintdef(oid) like '%estimated%') then
        alter table published.indicator_values drop constraint if exists indicator_values_status_check;
        alter table published.indicator_values add constraint indicator_values_status_check
            check (status in ('provisional', 'final', 'revised', 'break_in_series', 'estimated'));
    end if;
end
$$;
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
-- 2026-12-01 (issue 12): the target in the unit of the value (from the dbt model indicator_targets, its one home)
alter table published.indicator_targets
    add column if not exists target numeric,
    add column if not exists target_unit text;

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

-- 2026-12-01 (issue 12): the member units of the current release, for the drill-through view
-- published.indicator_members (a dbt model: models/published/interface). Copies of
-- marts.fct_indicator_stock_members / fct_indicator_flow_members written by the publication in its
-- transaction and replaced with each release; dbt places them in cells with the macros the values
-- are built with. Indexes serve a reader's query for one cell: a stock cell by indicator and area,
-- a flow cell by indicator and a date range (its period), the period series by the date bounds.
create table if not exists published.indicator_stock_member_units (
    release_id bigint not null references published.release_log (release_id),
    indicator_code text not null,
    month_end_date date not null,
    area_code text not null,
    area_level text not null,
    unit_type text not null,
    unit_id text not null,
    numerator numeric,
    denominator numeric
);
create index if not exists indicator_stock_member_units_cell
    on published.indicator_stock_member_units (indicator_code, area_code, month_end_date);
create index if not exists indicator_stock_member_units_month
    on published.indicator_stock_member_units (month_end_date);
create table if not exists published.indicator_flow_member_units (
    release_id bigint not null references published.release_log (release_id),
    indicator_code text not null,
    observation_date date not null,
    community_code text,
    town_code text,
    served_town_codes text,
    unit_type text not null,
    unit_id text not null,
    channel text,
    request_type_code text,
    category_code text,
    rule_code text,
    enterprise_uscc text,
    numerator numeric,
    denominator numeric,
    measure numeric
);
create index if not exists indicator_flow_member_units_period
    on published.indicator_flow_member_units (indicator_code, observation_date);
create index if not exists indicator_flow_member_units_date
    on published.indicator_flow_member_units (observation_date);

-- disclosure rules (one row each, written from the constants of ddl.py on every run)
create table if not exists published.disclosure_rules (
    rule_code text primary key,
    min_denominator integer not null,
    rule_zh text not null,
    rule_en text not null
);
