"""Write-audit-publish, last step: copy an audited candidate into `published` in one transaction.

The candidate `published_candidate.indicator_values` (built by dbt) is compared with the values
current in `published.indicator_values`:

- a key not currently published is inserted (status `provisional` or `final`);
- an unchanged value is left alone (not copied: the new release simply keeps it valid);
- a changed value closes the old row (`valid_to_release` = new release) and inserts a new one:
  `final` when a provisional value becomes final (the period closed), `provisional` when a
  provisional value is updated, otherwise `revised` with a reason (the candidate's
  `revision_reason` column when dbt provides one, else a generated description of the change);
  `break_in_series` when the candidate flags it (optional boolean column `break_in_series`);
- a published value missing from the candidate is closed (withdrawn in the new release);
- the member units of the figures (marts.fct_indicator_{stock,flow}_members) replace those of the
  previous release in published.indicator_{stock,flow}_member_units, for the drill-through view
  published.indicator_members.

Everything happens in ONE transaction, so readers (who only see views over these tables) see the
previous release until the commit and the new one after, never a mixture. A failed audit never
reaches this function: `publish` refuses an AuditResult whose blocking expectations did not all
pass, and one that audited a different candidate than the one now in the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from shumei.publish.ddl import ensure_published_schema

CANDIDATE = "published_candidate.indicator_values"
METHODOLOGY = "reference.ref_methodology_changes"
KEY = ("indicator_code", "area_code", "period_type", "period_start", "breakdown_type", "breakdown_code")
COMPARED = ("area_level", "period_end", "numerator", "denominator", "value", "unit", "target",
            "deadline", "target_met")


class PublicationRefused(RuntimeError):
    """The audit did not clear this candidate; nothing was written."""


@dataclass(frozen=True)
class PublishResult:
    release_id: int
    inserted: int      # keys published for the first time (or again after a withdrawal)
    changed: int       # keys whose value changed: old row closed, new row inserted
    withdrawn: int     # keys no longer in the candidate: old row closed
    unchanged: int     # keys carried over untouched

    def __str__(self) -> str:
        return (f"release {self.release_id}: {self.inserted} new, {self.changed} changed, "
                f"{self.withdrawn} withdrawn, {self.unchanged} unchanged")


def candidate_checksum(conn: psycopg.Connection, candidate: str = CANDIDATE) -> dict[str, Any]:
    """Row count and md5 of the candidate's rows in key order: ties an audit to the data it saw."""
    query = sql.SQL(
        "select count(*), md5(coalesce(string_agg(t::text, '|' order by {key}), '')) from {tbl} t"
    ).format(key=sql.SQL(", ").join(sql.Identifier(k) for k in KEY),
             tbl=sql.Identifier(*candidate.split(".")))
    rows, digest = conn.execute(query).fetchone()
    return {"rows": rows, "md5": digest}


def _candidate_columns(cur: psycopg.Cursor, candidate: str) -> set[str]:
    schema, table = candidate.split(".")
    cur.execute("select column_name from information_schema.columns where table_schema = %s and table_name = %s",
                (schema, table))
    return {r[0] for r in cur.fetchall()}


_REASON_PARTS = " , ".join(
    f"case when p.{c} is distinct from c.{c} then format('{c} %s → %s', "
    f"coalesce(p.{c}::text, 'null'), coalesce(c.{c}::text, 'null')) end"
    for c in ("value", "numerator", "denominator", "target", "deadline", "target_met", "unit", "period_end")
)

DIFF_SQL = f"""
create temp table _publish_diff on commit drop as
select p.value_id, p.status as old_status, c.*,
       case when c.indicator_code is null then 'withdrawn'
            when p.value_id is null then 'new'
            when ({", ".join("p." + c for c in COMPARED)}) is not distinct from
                 ({", ".join("c." + c for c in COMPARED)})
                 and (p.status = 'provisional') = c.is_provisional
                 and not (c.break_in_series and p.status <> 'break_in_series') then 'unchanged'
            else 'changed' end as change,
       concat_ws('; ', {_REASON_PARTS}) as change_description
from (select * from published.indicator_values where valid_to_release is null) p
full join _publish_candidate c
  on (c.indicator_code, c.area_code, c.period_type, c.period_start, c.breakdown_type, c.breakdown_code)
   = (p.indicator_code, p.area_code, p.period_type, p.period_start, p.breakdown_type, p.breakdown_code)
"""

INSERT_SQL = """
insert into published.indicator_values (
    indicator_code, area_code, area_level, period_type, period_start, period_end, breakdown_type,
    breakdown_code, numerator, denominator, value, unit, target, deadline, target_met, status,
    revision_reason, valid_from_release)
select d.indicator_code, d.area_code, d.area_level, d.period_type, d.period_start, d.period_end,
       d.breakdown_type, d.breakdown_code, d.numerator, d.denominator, d.value, d.unit, d.target, d.deadline, d.target_met, s.status,
       case s.status
           when 'revised' then coalesce(d.revision_reason, '修订 revised: ' || d.change_description)
           when 'break_in_series' then coalesce(d.revision_reason, '序列中断 break in series')
       end,
       %(release_id)s
from _publish_diff d
cross join lateral (select case
    when d.break_in_series then 'break_in_series'
    when d.is_provisional then 'provisional'
    when d.change = 'new' or d.old_status = 'provisional' then 'final'
    else 'revised' end as status) s
where d.change in ('new', 'changed')
"""

CATALOG_SQL = """
insert into published.indicator_catalog (
    indicator_code, name_zh, name_en, definition_zh, definition_en, numerator_zh, numerator_en,
    denominator_zh, denominator_en, unit, decimals, measure_kind, frequencies, area_levels, breakdowns,
    is_additive, source, responsible_units_zh, seed_clause, valid_from, valid_to, refreshed_in_release)
select j->>'indicator_code', j->>'name_zh', j->>'name_en', j->>'definition_zh', j->>'definition_en',
       j->>'numerator_zh', j->>'numerator_en', j->>'denominator_zh', j->>'denominator_en', j->>'unit',
       (j->>'decimals')::integer, j->>'measure_kind', j->>'frequencies', j->>'area_levels', j->>'breakdowns',
       (j->>'is_additive')::boolean, j->>'source',
       j->>'responsible_units_zh',
       nullif(concat_ws(' ', j->>'seed_clause_section', j->>'seed_clause'), ''),
       (j->>'valid_from')::date, (j->>'valid_to')::date, %(release_id)s
from (select to_jsonb(r) as j from {catalog} r) s
"""

TARGETS_SQL = """
insert into published.indicator_targets (
    target_id, indicator_code, area_code, breakdown_type, breakdown_code, deadline, comparator, threshold,
    unit, target_kind, clause_section, clause_zh, note_en, valid_from, valid_to, refreshed_in_release,
    measure_scope)
select coalesce(j->>'target_id', concat_ws('-', j->>'indicator_code', j->>'area_code',
                coalesce(j->>'deadline_date', j->>'deadline'))),
       j->>'indicator_code', j->>'area_code', coalesce(j->>'breakdown_type', 'total'),
       coalesce(j->>'breakdown_code', '_T'), coalesce(j->>'deadline_date', j->>'deadline')::date,
       j->>'comparator', (j->>'threshold')::numeric, j->>'unit', j->>'target_kind',
       j->>'clause_section', coalesce(j->>'clause_zh', j->>'clause'), j->>'note_en',
       (j->>'valid_from')::date, (j->>'valid_to')::date, %(release_id)s, coalesce(j->>'measure_scope', 'area')
from (select to_jsonb(r) as j from {targets} r) s
"""

AREAS_SQL = """
insert into published.dim_area (
    area_code, area_name_zh, area_name_en, area_level, area_type, parent_area_code, valid_from, valid_to,
    refreshed_in_release)
select j->>'area_code', j->>'area_name_zh', j->>'area_name_en', j->>'area_level', j->>'area_type',
       coalesce(j->>'parent_area_code', j->>'parent_code'), (j->>'valid_from')::date, (j->>'valid_to')::date,
       %(release_id)s
from (select to_jsonb(r) as j from {source} r) s
where j->>'area_level' in ('county', 'town', 'community')
"""


# The member units of the released figures (drill-through): the rows of the marts the candidate was
# built from, unplaced; the view published.indicator_members places them in cells with the dbt macros
# the values are aggregated with. Replaced with each release (delete, not truncate: readers keep the
# previous release's members until the commit, unblocked).
MEMBER_UNITS = {
    "published.indicator_stock_member_units": (
        "indicator_code", "month_end_date", "area_code", "area_level", "unit_type", "unit_id", "numerator",
        "denominator"),
    "published.indicator_flow_member_units": (
        "indicator_code", "observation_date", "community_code", "town_code", "served_town_codes", "unit_type",
        "unit_id", "channel", "request_type_code", "category_code", "rule_code", "enterprise_uscc", "numerator",
        "denominator", "measure"),
}


def _refresh_members(cur: psycopg.Cursor, sources: dict[str, str], release_id: int) -> None:
    """Replace the member units by those of `sources` (published table -> mart), stamped with the release.

    A mart that does not exist leaves its table empty: members of an older release never stand
    beside the figures of a newer one.
    """
    for table, columns in MEMBER_UNITS.items():
        target = sql.Identifier(*table.split("."))
        cur.execute(sql.SQL("delete from {}").format(target))
        source = sources[table]
        if _exists(cur, source):
            names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            cur.execute(sql.SQL("insert into {} (release_id, {}) select %(release_id)s, {} from {}").format(
                target, names, names, sql.Identifier(*source.split("."))), {"release_id": release_id})
        cur.execute(sql.SQL("analyze {}").format(target))


def _audit_summary(audit_result: Any) -> dict[str, Any]:
    if hasattr(audit_result, "as_summary"):
        return audit_result.as_summary()
    return {"passed": bool(getattr(audit_result, "passed", False))}


def _exists(cur: psycopg.Cursor, relation: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (relation,))
    return cur.fetchone()[0]


def _input_checksums(cur: psycopg.Cursor, catalog: str, candidate: dict[str, Any]) -> dict[str, Any]:
    checksums: dict[str, Any] = {"candidate": candidate}
    if _exists(cur, catalog):
        cur.execute(sql.SQL("select md5(coalesce(string_agg(r::text, '|' order by r::text), '')) from {} r")
                    .format(sql.Identifier(*catalog.split("."))))
        checksums["catalog_md5"] = cur.fetchone()[0]
    if _exists(cur, METHODOLOGY):
        # the method the candidate was built with: the next build marks the values that a newer change
        # of method moves as revisions with its reason (dbt macro last_release_methodology_version)
        cur.execute(sql.SQL("select max(methodology_version) from {}").format(sql.Identifier(*METHODOLOGY.split("."))))
        checksums["methodology_version"] = cur.fetchone()[0]
    if _exists(cur, "raw.batch_log"):
        # the newest source batch of each feed the warehouse had loaded when the release was cut
        cur.execute("select feed, max(batch_id) from raw.batch_log group by feed order by feed")
        checksums["last_batch_per_feed"] = {feed: batch for feed, batch in cur.fetchall()}
    return checksums


def _refresh(cur: psycopg.Cursor, source: str, table: str, insert_sql: str, release_id: int) -> None:
    """Replace a published reference table by the rows of its source, when the source exists."""
    if _exists(cur, source):
        cur.execute(sql.SQL("delete from {}").format(sql.Identifier(*table.split("."))))
        cur.execute(sql.SQL(insert_sql).format(source=sql.Identifier(*source.split("."))),
                    {"release_id": release_id})


def publish(conn: psycopg.Connection, as_of_date: date, dag_run_id: str | None, audit_result: Any, *,
            candidate: str = CANDIDATE, catalog: str = "reference.ref_indicator_catalog",
            targets: str = "reference.ref_indicator_targets", areas: str = "marts.dim_area",
            stock_members: str = "marts.fct_indicator_stock_members",
            flow_members: str = "marts.fct_indicator_flow_members") -> PublishResult:
    """Publish the audited candidate as a new release, atomically. Returns what changed.

    `conn` is a psycopg 3 connection of the owner role with no transaction open (autocommit or
    idle); the release is committed when this returns. Raises PublicationRefused, writing
    nothing, when the audit failed or audited other data than the candidate now holds.
    """
    if audit_result is None or not getattr(audit_result, "passed", False):
        raise PublicationRefused("the audit did not pass: the previous publication stays as it is")
    if getattr(audit_result, "target", "indicator_candidate") != "indicator_candidate":
        raise PublicationRefused(f"audit of {audit_result.target!r} cannot clear a publication")
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise RuntimeError("publish() needs a connection with no open transaction (it commits itself)")
    ensure_published_schema(conn)

    with conn.transaction(), conn.cursor() as cur:
        # one publisher at a time; readers (ACCESS SHARE) are not blocked by this lock
        cur.execute("lock table published.release_log in exclusive mode")
        cur.execute(sql.SQL("lock table {} in share mode").format(sql.Identifier(*candidate.split("."))))
        checksum = candidate_checksum(conn, candidate)
        audited = getattr(audit_result, "candidate_checksum", None)
        if audited and audited != checksum:
            raise PublicationRefused(f"candidate changed since it was audited (audited {audited}, now {checksum})")

        cur.execute(
            """insert into published.release_log (as_of_date, dag_run_id, data_checksums, validation_summary)
               values (%s, %s, %s, %s) returning release_id""",
            (as_of_date, dag_run_id, json.dumps(_input_checksums(cur, catalog, checksum), default=str),
             json.dumps(_audit_summary(audit_result), default=str, ensure_ascii=False)))
        release_id = cur.fetchone()[0]

        columns = _candidate_columns(cur, candidate)
        reason = sql.SQL("nullif(trim(c.revision_reason), '')" if "revision_reason" in columns else "null::text")
        brk = sql.SQL("coalesce(c.break_in_series, false)" if "break_in_series" in columns else "false")
        cur.execute(sql.SQL("""
            create temp table _publish_candidate on commit drop as
            select c.indicator_code, c.area_code, c.area_level, c.period_type, c.period_start,
                   c.period_end, c.breakdown_type, c.breakdown_code, c.numerator::numeric, c.denominator::numeric, c.value::numeric, c.unit,
                   c.target::numeric, c.deadline, c.target_met, coalesce(c.is_provisional, false) as is_provisional,
                   {reason} as revision_reason, {brk} as break_in_series
            from {tbl} c""").format(reason=reason, brk=brk, tbl=sql.Identifier(*candidate.split("."))))
        cur.execute(DIFF_SQL)
        cur.execute("""update published.indicator_values v set valid_to_release = %(r)s
                       from _publish_diff d
                       where d.value_id = v.value_id and d.change in ('changed', 'withdrawn')""",
                    {"r": release_id})
        cur.execute(INSERT_SQL, {"release_id": release_id})
        cur.execute("select change, count(*) from _publish_diff group by change")
        counts = dict(cur.fetchall())

        if _exists(cur, catalog):
            cur.execute("delete from published.indicator_catalog")
            cur.execute(sql.SQL(CATALOG_SQL).format(catalog=sql.Identifier(*catalog.split("."))),
                        {"release_id": release_id})
        if _exists(cur, targets):
            cur.execute("delete from published.indicator_targets")
            cur.execute(sql.SQL(TARGETS_SQL).format(targets=sql.Identifier(*targets.split("."))),
                        {"release_id": release_id})
        _refresh(cur, areas, "published.dim_area", AREAS_SQL, release_id)
        _refresh_members(cur, {"published.indicator_stock_member_units": stock_members,
                               "published.indicator_flow_member_units": flow_members}, release_id)

    return PublishResult(release_id=release_id, inserted=counts.get("new", 0),
                         changed=counts.get("changed", 0), withdrawn=counts.get("withdrawn", 0),
                         unchanged=counts.get("unchanged", 0))
