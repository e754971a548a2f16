"""DDL of the `published` schema: the only schema the statistics office and BI tools can read.

Its storage tables (release_log, indicator_values, catalogue, targets, areas, calendar, member units,
disclosure rules) are numbered migrations (shumei/migrations/0003_published_storage.sql and later).
What is here is derived DDL: the views, the functions, the disclosure tables generated from their
declarations (publish/tables.py), comments from the dbt descriptions (publish/dictionary.py) and
grants. `ensure_published_schema(conn)` applies it, through shumei.migrations.migrate and again at
each publication (dbt rebuilds its view in `published`), only when its fingerprint changed.

Release semantics (ALFRED "real-time period" style): every value ever published is stored once,
with the release that first published it (`valid_from_release`) and the release that replaced or
withdrew it (`valid_to_release`, exclusive; null = still current). A value is part of release R
when `valid_from_release <= R and (valid_to_release is null or valid_to_release > R)`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
from psycopg import sql

from shumei.local.bootstrap import READER_GROUP
from shumei.publish import tables as tables_module
from shumei.publish.dictionary import (
    PublishedObject,
    load_published_objects,
    missing_descriptions,
    require_descriptions,
)
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

-- A BI tool's month or quarter grain is date_trunc('month', <date column>) (Superset's PostgreSQL engine
-- spec: DATE_TRUNC('month', col)); pg_catalog casts the date to timestamptz, midnight of the session's
-- time zone, which a tool reading UTC puts in the previous period under Asia/Shanghai. An exact match
-- for a date argument wins over pg_catalog's casts wherever published is on the search path (the
-- readers' role setting): the period's first instant as a zone-free timestamp, right under any zone.
create or replace function published.date_trunc(p_field text, p_date date)
returns timestamp without time zone
language sql immutable parallel safe
as $$ select pg_catalog.date_trunc(p_field, p_date::timestamp) $$;

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

# The small-count flag of a published value row `{row}`: the one definition, used by the value views
# and by the bulletin for the values of a past release.
SMALL_COUNT_SQL = """coalesce({row}.unit = 'percent' and coalesce({row}.denominator, 0) < (
           select r.min_denominator from published.disclosure_rules r where r.rule_code = 'small_count'), false)"""

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
       {small_count}
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

# Targets in the unit of the value (converted once, in the dbt model indicator_targets), with the latest
# figure of the target's area at its deadline; a baseline (no comparator) has no target_met.
TARGETS_VIEW_SQL = f"""
create or replace view published.v_indicator_targets as
select t.target_id, t.indicator_code, c.name_zh as indicator_name_zh, c.name_en as indicator_name_en,
       t.area_code, a.area_name_zh, a.area_name_en, t.breakdown_type, t.breakdown_code, t.measure_scope,
       t.target_kind, t.deadline, t.comparator,
       t.target, t.target_unit as unit,
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

FREQUENCY_VIEWS_SQL = "".join(_FREQUENCY_VIEW.format(frequency=f, small_count=SMALL_COUNT_SQL.format(row="l"))
                              for f in ("month", "quarter", "year"))

def _apply_comments(cur: psycopg.Cursor, objects: dict[str, PublishedObject]) -> None:
    """COMMENT ON every relation, column and function of `published`, from the dbt descriptions.

    Nothing is applied, and the transaction fails, when any of them has no description.
    """
    cur.execute("""select c.relname, case c.relkind when 'v' then 'view' else 'table' end,
                          array_agg(a.attname order by a.attnum)
                   from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                   where n.nspname = %s and c.relkind in ('r', 'v', 'm')
                   group by c.relname, c.relkind order by c.relname""", (SCHEMA,))
    relations = cur.fetchall()
    cur.execute("""select p.proname || '(' || oidvectortypes(p.proargtypes) || ')', p.oid::regprocedure::text
                   from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = %s""", (SCHEMA,))
    functions = dict(cur.fetchall())
    described = {o.signature: o for o in objects.values() if o.kind == "function"}
    missing = missing_descriptions(objects)
    missing += [f"{SCHEMA}.{name} ({kind})" for name, kind, _ in relations
                if name not in objects or objects[name].kind != kind]
    missing += [f"{SCHEMA}.{name}.{column}" for name, kind, columns in relations
                if name in objects and objects[name].kind == kind
                for column in columns if column not in objects[name].columns]
    missing += [f"{SCHEMA}.{signature} (function)" for signature in functions if signature not in described]
    require_descriptions(missing)
    for name, kind, columns in relations:
        obj = objects[name]
        cur.execute(sql.SQL("comment on {} {} is {}").format(
            sql.SQL(kind), sql.Identifier(SCHEMA, name), sql.Literal(obj.description)))
        for column in columns:
            cur.execute(sql.SQL("comment on column {} is {}").format(
                sql.Identifier(SCHEMA, name, column), sql.Literal(obj.columns[column])))
    for signature, procedure in functions.items():
        cur.execute(sql.SQL("comment on function {} is {}").format(
            sql.SQL(procedure), sql.Literal(described[signature].description)))


def apply_reader_grants(cur: psycopg.Cursor) -> None:
    """The readers' privileges on `published`, and nothing elsewhere; run in the warehouse database
    and in the reader database (reader_db.py)."""
    reader = sql.Identifier(READER_GROUP)
    cur.execute("revoke all on schema published from public")
    cur.execute("revoke all on all tables in schema published from public")
    cur.execute("revoke all on all functions in schema published from public")
    # functions are executable by PUBLIC by default: take that away for future ones too
    cur.execute("alter default privileges in schema published revoke execute on functions from public")
    # views dbt (re)creates in published (models/published/interface) are readable at once, so a
    # rebuild, even one whose audit then fails, never takes a reader's grant away
    cur.execute(sql.SQL("alter default privileges in schema published grant select on tables to {}").format(reader))
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


# What readers can see of `published`: every relation and function with its kind, grants and comment.
# A dbt rebuild of a view (models/published/interface) drops its comment, a hand-made grant or a
# dropped object changes it: then the DDL is applied again.
CATALOG_SIGNATURE_SQL = """
select md5(coalesce(string_agg(entry, '|' order by entry), ''))
from (
    select c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '') || ':'
           || coalesce(obj_description(c.oid, 'pg_class'), '') as entry
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'published'
    union all
    select p.oid::regprocedure::text || ':' || coalesce(p.proacl::text, '') || ':'
           || coalesce(obj_description(p.oid, 'pg_proc'), '')
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'published'
) e
"""


def _fingerprint(objects: dict[str, PublishedObject]) -> str:
    """The DDL, comments and grants this code would apply: the source of this module and the descriptions."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(Path(tables_module.__file__).read_bytes())
    digest.update(repr(sorted((o.name, o.kind, o.description, sorted(o.columns.items()), o.signature)
                              for o in objects.values())).encode())
    return digest.hexdigest()


def ensure_published_schema(conn: psycopg.Connection, manifest_path: Path | None = None) -> None:
    """Create or update the `published` schema, its tables, views, functions, comments and grants,
    then bring the readers' database in step (shumei.publish.reader_db).

    Runs in its own transaction (committed on return), as the pipeline's owner role, which owns
    what it creates. The comments are the dbt descriptions of the published objects (the dbt
    manifest, `manifest_path` or the project's): an object or column without one is refused.

    Nothing is done when the same code and descriptions were last applied and the catalog is as they
    left it: `create or replace view` takes exclusive locks, and a reader's transaction that holds
    one view and then reads another deadlocks with it (seen in bench/reader_database.py), so a
    publication must not re-run the DDL when nothing changed. The readers' database follows the same
    rule: it is rebuilt only when its catalog differs from the warehouse's `published`.
    """
    _apply_published_ddl(conn, load_published_objects(manifest_path))
    # after the commit: the reader database imports what the warehouse has committed (reader_db
    # imports this module, hence the import here)
    from shumei.publish.reader_db import sync_reader_database

    sync_reader_database(conn)


def _apply_published_ddl(conn: psycopg.Connection, objects: dict[str, PublishedObject]) -> None:
    """The DDL of the warehouse's `published`, in one transaction, unless the state says it is applied."""
    fingerprint = _fingerprint(objects)
    with conn.transaction(), conn.cursor() as cur:
        # serialise concurrent callers (two DAG runs): DDL on the same objects would deadlock
        cur.execute("select pg_advisory_xact_lock(hashtext('shumei.published.ddl'))")
        cur.execute("select fingerprint, catalog_signature from audit.published_ddl_state")
        state = cur.fetchone()
        cur.execute(CATALOG_SIGNATURE_SQL)
        if state is not None and state == (fingerprint, cur.fetchone()[0]):
            return
        cur.execute(VIEWS_SQL)
        cur.execute(DISCLOSURE_SQL)
        cur.execute(RULES_SQL, {"min_denominator": SMALL_COUNT_MIN_DENOMINATOR})
        cur.execute(FREQUENCY_VIEWS_SQL)
        cur.execute(TARGETS_VIEW_SQL)
        cur.execute(DISCLOSURE_VIEWS_SQL)
        _apply_comments(cur, objects)
        apply_reader_grants(cur)
        cur.execute(CATALOG_SIGNATURE_SQL)
        cur.execute("""insert into audit.published_ddl_state (fingerprint, catalog_signature) values (%s, %s)
                       on conflict (singleton) do update set fingerprint = excluded.fingerprint,
                           catalog_signature = excluded.catalog_signature, applied_at = clock_timestamp()""",
                    (fingerprint, cur.fetchone()[0]))
