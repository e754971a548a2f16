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
  `estimated` (SDMX E) when the candidate gives an `estimate_reason` (a member unit is the last
  accepted version of a rejected registry row, DOMAIN §8), with that reason; an estimated value
  that is later built from accepted rows only is released again (final, or provisional);
- a published value missing from the candidate is closed (withdrawn in the new release);
- the member units of the figures (marts.fct_indicator_{stock,flow}_members) replace those of the
  previous release in published.indicator_{stock,flow}_member_units, for the drill-through view
  published.indicator_members.

The disclosure tables (`shumei.publish.tables.DISCLOSURE_TABLES`: enterprise credit list, compound
status list, work orders) are versioned in the same release by the same code path (`_version`): new
keys inserted, unchanged rows carried, changed rows closed and reinserted, missing keys withdrawn.
Their candidates are checked by their dbt contracts and tests before this step; a missing candidate
refuses the publication.

A run with nothing changed cuts no release: when no value or list row is new, changed or withdrawn and
the catalogue, targets and area names are those of the last release, nothing is written but the release
calendar, and the result says so (`released` false, `release_id` the release still in force). Each
release is marked scheduled (the first release on a planned date of the calendar) or unscheduled,
with its reason (publish/calendar.py).

Everything happens in ONE transaction, so readers (who only see views over these tables) see the
previous release until the commit and the new one after, never a mixture. A failed audit never
reaches this function: `publish` refuses an AuditResult whose blocking expectations did not all
pass, and one that audited a different candidate than the one now in the table.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from shumei.publish.calendar import RULES, WORKDAYS, mark_release, refresh_calendar
from shumei.publish.ddl import ensure_published_schema
from shumei.publish.tables import DISCLOSURE_TABLES, INDICATOR_VALUES, VersionedTable

CANDIDATE = INDICATOR_VALUES.candidate
METHODOLOGY = "reference.ref_methodology_changes"
KEY = INDICATOR_VALUES.key
COMPARED = INDICATOR_VALUES.compared_columns


class PublicationRefused(RuntimeError):
    """The audit did not clear this candidate; nothing was written."""


@dataclass(frozen=True)
class PublishResult:
    release_id: int
    inserted: int      # keys published for the first time (or again after a withdrawal)
    changed: int       # keys whose value changed: old row closed, new row inserted
    withdrawn: int     # keys no longer in the candidate: old row closed
    unchanged: int     # keys carried over untouched
    # the same counts for each disclosure table: {name: {"new": n, "changed": n, "withdrawn": n, "unchanged": n}}
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    released: bool = True  # false: nothing changed, no release was cut (release_id = the one in force)
    release_kind: str | None = None    # scheduled / unscheduled
    release_reason: str | None = None

    def __str__(self) -> str:
        if not self.released:
            current = f"release {self.release_id} stays current" if self.release_id else "no release yet"
            return (f"no new release: nothing changed since the last release ({current}; "
                    f"{self.unchanged} values unchanged)")
        lists = "".join(f"; {name}: {c['new']} new, {c['changed']} changed, {c['withdrawn']} withdrawn, "
                        f"{c['unchanged']} unchanged" for name, c in self.tables.items())
        return (f"release {self.release_id} ({self.release_kind}: {self.release_reason}): {self.inserted} new, "
                f"{self.changed} changed, {self.withdrawn} withdrawn, {self.unchanged} unchanged{lists}")


def candidate_checksum(conn: psycopg.Connection, candidate: str = CANDIDATE,
                       key: tuple[str, ...] = KEY) -> dict[str, Any]:
    """Row count and md5 of the candidate's rows in key order, their texts joined by '|' (the md5
    PostgreSQL would give `string_agg(t::text, '|' order by key)`): ties an audit to the data it saw.
    The rows stream through the digest: one string of them all passes PostgreSQL's 1 GB limit at city
    scale (the work-order list)."""
    query = sql.SQL("select t::text from {tbl} t order by {key}").format(
        key=sql.SQL(", ").join(sql.Identifier(k) for k in key), tbl=sql.Identifier(*candidate.split(".")))
    digest, rows = hashlib.md5(usedforsecurity=False), 0
    with conn.cursor() as cur:
        for (text,) in cur.stream(query, size=10_000):
            digest.update(text.encode() if rows == 0 else b"|" + text.encode())
            rows += 1
    return {"rows": rows, "md5": digest.hexdigest()}


def _disclosure_checksums(conn: psycopg.Connection) -> dict[str, Any]:
    """Row count and md5 of each disclosure candidate (recorded in release_log.data_checksums)."""
    return {t.name: candidate_checksum(conn, t.candidate, t.key) for t in DISCLOSURE_TABLES}


def _missing_candidates(cur: psycopg.Cursor) -> list[str]:
    """What the disclosure candidates lack: a table, or a declared column."""
    missing = []
    for t in DISCLOSURE_TABLES:
        if not _exists(cur, t.candidate):
            missing.append(t.candidate)
            continue
        present = _candidate_columns(cur, t.candidate)
        missing += [f"{t.candidate}.{c}" for c in t.column_names if c not in present]
    return missing


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


@dataclass(frozen=True)
class _Versioning:
    """How one table is versioned in a release (the generic part is `_version`).

    `candidate_select` reads the candidate (alias c) into the shape the diff compares; the other
    fields are the table's own additions, all empty for the disclosure tables: an extra condition
    for "unchanged" (p = current row, c = candidate), extra columns of the diff row, and published
    columns computed at insert from the diff row d (with an optional join).
    """

    table: VersionedTable
    candidate_select: sql.Composable
    unchanged_also: str = ""
    diff_extra: str = ""
    derived: tuple[tuple[str, str], ...] = ()
    insert_join: str = ""


def _diff_sql(v: _Versioning) -> str:
    t = v.table
    compared = t.compared_columns
    return f"""
create temp table _publish_diff_{t.name} on commit drop as
select p.{t.row_id} as published_row_id{v.diff_extra}, c.*,
       case when c.{t.key[0]} is null then 'withdrawn'
            when p.{t.row_id} is null then 'new'
            when ({", ".join("p." + c for c in compared)}) is not distinct from
                 ({", ".join("c." + c for c in compared)}){" and " + v.unchanged_also if v.unchanged_also else ""}
                 then 'unchanged'
            else 'changed' end as change
from (select * from {t.table} where valid_to_release is null) p
full join _publish_candidate_{t.name} c
  on ({", ".join("c." + k for k in t.key)}) = ({", ".join("p." + k for k in t.key)})
"""


def _insert_sql(v: _Versioning) -> str:
    t = v.table
    columns = [*t.column_names, *(c for c, _ in v.derived), "valid_from_release"]
    values = [*("d." + c for c in t.column_names), *(e for _, e in v.derived), "%(release_id)s"]
    return f"""
insert into {t.table} ({", ".join(columns)})
select {", ".join(values)}
from _publish_diff_{t.name} d
{v.insert_join}
where d.change in ('new', 'changed')
"""


def _diff(cur: psycopg.Cursor, v: _Versioning) -> dict[str, int]:
    """Compare one table's candidate with its current rows (temp tables of this transaction). Returns
    the count of each kind of change; `_apply` then writes them in a release."""
    t = v.table
    cur.execute(sql.SQL("create temp table {} on commit drop as ").format(
        sql.Identifier(f"_publish_candidate_{t.name}")) + v.candidate_select)
    cur.execute(_diff_sql(v))
    cur.execute(sql.SQL("select change, count(*) from {} group by change").format(
        sql.Identifier(f"_publish_diff_{t.name}")))
    counts = dict(cur.fetchall())
    return {change: counts.get(change, 0) for change in ("new", "changed", "withdrawn", "unchanged")}


def _apply(cur: psycopg.Cursor, v: _Versioning, release_id: int) -> None:
    """Version one table in the release, from its diff: insert new keys, close and reinsert changed
    rows, close withdrawn ones, leave unchanged rows as they are."""
    t = v.table
    cur.execute(sql.SQL("""update {tbl} v set valid_to_release = %(r)s from {diff} d
                           where d.published_row_id = v.{row_id} and d.change in ('changed', 'withdrawn')""").format(
        tbl=sql.Identifier("published", t.name), diff=sql.Identifier(f"_publish_diff_{t.name}"),
        row_id=sql.Identifier(t.row_id)), {"r": release_id})
    cur.execute(_insert_sql(v), {"release_id": release_id})


def _values_versioning(candidate: str, columns: set[str]) -> _Versioning:
    """indicator_values: a status (provisional, final, revised, break in series, estimated) and a reason."""
    reason = sql.SQL("nullif(trim(c.revision_reason), '')" if "revision_reason" in columns else "null::text")
    estimate = sql.SQL("nullif(trim(c.estimate_reason), '')" if "estimate_reason" in columns else "null::text")
    brk = sql.SQL("coalesce(c.break_in_series, false)" if "break_in_series" in columns else "false")
    select = sql.SQL("""
            select c.indicator_code, c.area_code, c.area_level, c.period_type, c.period_start,
                   c.period_end, c.breakdown_type, c.breakdown_code, c.numerator::numeric, c.denominator::numeric, c.value::numeric, c.unit,
                   c.target::numeric, c.deadline, c.target_met, coalesce(c.is_provisional, false) as is_provisional,
                   {reason} as revision_reason, {brk} as break_in_series, {estimate} as estimate_reason
            from {tbl} c""").format(reason=reason, brk=brk, estimate=estimate,
                                    tbl=sql.Identifier(*candidate.split(".")))
    return _Versioning(
        table=INDICATOR_VALUES,
        candidate_select=select,
        # the status the candidate would get is the one in force (an estimate with the same reason)
        unchanged_also=("(case when c.estimate_reason is not null and not c.break_in_series"
                        " then p.status = 'estimated' and p.revision_reason is not distinct from c.estimate_reason"
                        " else p.status <> 'estimated' and (p.status = 'provisional') = c.is_provisional"
                        " and not (c.break_in_series and p.status <> 'break_in_series') end)"),
        diff_extra=f", p.status as old_status, concat_ws('; ', {_REASON_PARTS}) as change_description",
        derived=(("status", "s.status"),
                 ("revision_reason", """case s.status
           when 'revised' then coalesce(d.revision_reason, '修订 revised: ' || d.change_description)
           when 'break_in_series' then coalesce(d.revision_reason, '序列中断 break in series')
           when 'estimated' then d.estimate_reason
       end""")),
        insert_join="""cross join lateral (select case
    when d.break_in_series then 'break_in_series'
    when d.estimate_reason is not null then 'estimated'
    when d.is_provisional then 'provisional'
    when d.change = 'new' or d.old_status in ('provisional', 'estimated') then 'final'
    else 'revised' end as status) s""",
    )


def _list_versioning(table: VersionedTable) -> _Versioning:
    """A disclosure table: its declared columns, as the candidate has them."""
    return _Versioning(table=table, candidate_select=sql.SQL("select {} from {} c").format(
        sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(c)) for c in table.column_names),
        sql.Identifier(*table.candidate.split("."))))


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
    measure_scope, target, target_unit)
select coalesce(j->>'target_id', concat_ws('-', j->>'indicator_code', j->>'area_code',
                coalesce(j->>'deadline_date', j->>'deadline'))),
       j->>'indicator_code', j->>'area_code', coalesce(j->>'breakdown_type', 'total'),
       coalesce(j->>'breakdown_code', '_T'), coalesce(j->>'deadline_date', j->>'deadline')::date,
       j->>'comparator', (j->>'threshold')::numeric, j->>'unit', j->>'target_kind',
       j->>'clause_section', coalesce(j->>'clause_zh', j->>'clause'), j->>'note_en',
       (j->>'valid_from')::date, (j->>'valid_to')::date, %(release_id)s, coalesce(j->>'measure_scope', 'area'),
       (j->>'target')::numeric, j->>'target_unit'
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


def _table_md5(cur: psycopg.Cursor, relation: str) -> str:
    cur.execute(sql.SQL("select md5(coalesce(string_agg(r::text, '|' order by r::text), '')) from {} r")
                .format(sql.Identifier(*relation.split("."))))
    return cur.fetchone()[0]


# what a release publishes besides the values: when none of these moved and no value did, no release
PUBLISHED_INPUTS = ("catalog_md5", "targets_md5", "areas_md5", "members_digest")


def _members_digest(cur: psycopg.Cursor, marts: tuple[str, ...]) -> dict[str, Any]:
    """Row count and an order-free digest of each member mart (no sort of a million rows): a release
    whose figures are unchanged but whose members moved is still cut, so the drill-through never
    shows the members of an older build."""
    digest: dict[str, Any] = {}
    for mart in marts:
        if _exists(cur, mart):
            cur.execute(sql.SQL("select count(*), coalesce(sum(hashtextextended(r::text, 0)), 0)::text from {} r")
                        .format(sql.Identifier(*mart.split("."))))
            digest[mart] = list(cur.fetchone())
    return digest


def _input_checksums(cur: psycopg.Cursor, candidate: dict[str, Any], sources: dict[str, str], *,
                     references: str = "reference", batch_log: str = "raw.batch_log") -> dict[str, Any]:
    checksums: dict[str, Any] = {"candidate": candidate}
    for key, relation in sources.items():
        if _exists(cur, relation):
            checksums[key] = _table_md5(cur, relation)
    # every reference table (seeds: rules, calendars, schemes): the release notes attribute a revision
    # to the reference table that changed between two releases
    cur.execute("""select table_schema || '.' || table_name from information_schema.tables
                   where table_schema = %s and table_type = 'BASE TABLE' order by 1""", (references,))
    checksums["reference_md5"] = {rel.split(".", 1)[1]: _table_md5(cur, rel) for (rel,) in cur.fetchall()}
    if _exists(cur, METHODOLOGY):
        # the method the candidate was built with: the next build marks the values that a newer change
        # of method moves as revisions with its reason (dbt macro last_release_methodology_version)
        cur.execute(sql.SQL("select max(methodology_version) from {}").format(sql.Identifier(*METHODOLOGY.split("."))))
        checksums["methodology_version"] = cur.fetchone()[0]
    if _exists(cur, batch_log):
        # the newest source batch of each feed the warehouse had loaded when the release was cut
        cur.execute(sql.SQL("select feed, max(batch_id) from {} group by feed order by feed")
                    .format(sql.Identifier(*batch_log.split("."))))
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
            targets: str = "published_candidate.indicator_targets", areas: str = "marts.dim_area",
            calendar_rules: str = RULES, workdays: str = WORKDAYS, references: str = "reference",
            batch_log: str = "raw.batch_log", reason: str | None = None,
            stock_members: str = "marts.fct_indicator_stock_members",
            flow_members: str = "marts.fct_indicator_flow_members") -> PublishResult:
    """Publish the audited candidate as a new release, atomically. Returns what changed.

    The indicator values and the disclosure tables are versioned in the same transaction. No
    release is cut when nothing changed (see the module docstring); `reason` (optional) is the
    operator's reason of the release, recorded in release_log.release_reason.

    `conn` is a psycopg 3 connection of the owner role with no transaction open (autocommit or
    idle); the release is committed when this returns. Raises PublicationRefused, writing
    nothing, when the audit failed or audited other data than the candidate now holds, or a
    disclosure candidate is missing.
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
        missing = _missing_candidates(cur)
        if missing:
            raise PublicationRefused(f"disclosure candidates missing (build them with dbt): {', '.join(missing)}")
        for table in (candidate, *(t.candidate for t in DISCLOSURE_TABLES)):
            cur.execute(sql.SQL("lock table {} in share mode").format(sql.Identifier(*table.split("."))))
        checksum = candidate_checksum(conn, candidate)
        audited = getattr(audit_result, "candidate_checksum", None)
        if audited and audited != checksum:
            raise PublicationRefused(f"candidate changed since it was audited (audited {audited}, now {checksum})")

        versionings = [_values_versioning(candidate, _candidate_columns(cur, candidate)),
                       *(_list_versioning(t) for t in DISCLOSURE_TABLES)]
        diffs = [_diff(cur, v) for v in versionings]
        counts, tables = diffs[0], {v.table.name: d for v, d in zip(versionings[1:], diffs[1:], strict=True)}

        inputs = {**_input_checksums(cur, checksum, {"catalog_md5": catalog, "targets_md5": targets,
                                                     "areas_md5": areas},
                                     references=references, batch_log=batch_log),
                  "disclosure_candidates": _disclosure_checksums(conn),
                  "members_digest": _members_digest(cur, (stock_members, flow_members))}
        cur.execute("""select release_id, data_checksums from published.release_log
                       where status = 'published' order by release_id desc limit 1""")
        last = cur.fetchone()
        previous_id, previous = (last[0], last[1]) if last else (None, None)
        cur.execute("select (now() at time zone 'Asia/Shanghai')::date")
        today = cur.fetchone()[0]
        refresh_calendar(cur, today, rules=calendar_rules, workdays=workdays)
        moved = sum(d[c] for d in diffs for c in ("new", "changed", "withdrawn"))
        if previous is not None and moved == 0 and all(previous.get(k) == inputs.get(k) for k in PUBLISHED_INPUTS):
            return PublishResult(release_id=previous_id, inserted=0, changed=0, withdrawn=0,
                                 unchanged=counts["unchanged"], tables=tables, released=False)

        cur.execute(
            """insert into published.release_log (as_of_date, dag_run_id, data_checksums, validation_summary)
               values (%s, %s, %s, %s) returning release_id""",
            (as_of_date, dag_run_id, json.dumps(inputs, default=str),
             json.dumps(_audit_summary(audit_result), default=str, ensure_ascii=False)))
        release_id = cur.fetchone()[0]
        for v in versionings:
            _apply(cur, v, release_id)

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
        kind, why = mark_release(cur, release_id, today, previous, inputs, reason)

    return PublishResult(release_id=release_id, inserted=counts["new"], changed=counts["changed"],
                         withdrawn=counts["withdrawn"], unchanged=counts["unchanged"], tables=tables,
                         release_kind=kind, release_reason=why)
