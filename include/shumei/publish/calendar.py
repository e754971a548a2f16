"""The release calendar (发布日历) and whether a release kept it.

The rule is a reference row (`reference.ref_release_calendar_rules`: the n-th working day of each
month at a fixed time, Asia/Shanghai); working days are those of `reference.ref_workday_calendar`
(the State Council holiday notices, 调休 make-up days included). Every publication, and every run
that cuts no release, writes the planned dates `horizon_months` ahead into
`published.release_calendar`; dates already passed stay as they were announced.

A release published (Asia/Shanghai) on a planned date is the scheduled release of that date (the
first one of the day); any other release is unscheduled, with the reason: a change of method, of
reference tables, or new and revised source data.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg import sql

RULES = "reference.ref_release_calendar_rules"
WORKDAYS = "reference.ref_workday_calendar"

# The planned releases from the month of `from_date` on, by the rule in force on `from_date`:
# the n-th working day of each month, at the rule's time in the rule's time zone.
PLANNED_SQL = """
with rule as (
    select r.*
    from {rules} r
    where r.frequency = 'monthly' and r.valid_from <= %(from_date)s
      and (r.valid_to is null or r.valid_to > %(from_date)s)
    order by r.valid_from desc
    limit 1
),
workdays as (
    select w.calendar_date, w.is_estimated,
           row_number() over (partition by date_trunc('month', w.calendar_date) order by w.calendar_date) as n
    from {workdays} w
    where w.is_workday
)
select w.calendar_date as planned_date,
       (w.calendar_date + r.release_time) at time zone r.time_zone as planned_at,
       (date_trunc('month', w.calendar_date) - make_interval(months => r.reference_lag_months))::date
           as reference_period_start,
       (date_trunc('month', w.calendar_date) - make_interval(months => r.reference_lag_months - 1)
           - interval '1 day')::date as reference_period_end,
       r.rule_id, r.rule_zh, r.rule_en, w.is_estimated
from rule r
join workdays w on w.n = r.workday_of_month
where w.calendar_date >= date_trunc('month', %(from_date)s::date)
  and w.calendar_date < date_trunc('month', %(from_date)s::date) + make_interval(months => r.horizon_months)
order by w.calendar_date
"""


def _exists(cur: psycopg.Cursor, relation: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (relation,))
    return cur.fetchone()[0]


def _ident(relation: str) -> sql.Identifier:
    return sql.Identifier(*relation.split("."))


def planned_releases(cur: psycopg.Cursor, from_date: date, *, rules: str = RULES,
                     workdays: str = WORKDAYS) -> list[tuple]:
    """The planned releases from the month of `from_date` for the rule's horizon (empty when the
    reference tables are missing). Rows as in published.release_calendar, without release_id."""
    if not (_exists(cur, rules) and _exists(cur, workdays)):
        return []
    cur.execute(sql.SQL(PLANNED_SQL).format(rules=_ident(rules), workdays=_ident(workdays)),
                {"from_date": from_date})
    return cur.fetchall()


def refresh_calendar(cur: psycopg.Cursor, today: date, *, rules: str = RULES, workdays: str = WORKDAYS) -> int:
    """Replace the planned dates from `today` on (those not yet published) by the rule's; dates
    before today keep what was announced. Returns the number of dates planned from today."""
    planned = [row for row in planned_releases(cur, today, rules=rules, workdays=workdays) if row[0] >= today]
    if not planned:
        return 0
    cur.execute("delete from published.release_calendar where planned_date >= %s and release_id is null", (today,))
    cur.executemany("""
        insert into published.release_calendar (planned_date, planned_at, reference_period_start,
            reference_period_end, rule_id, rule_zh, rule_en, is_estimated)
        values (%s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (planned_date) do nothing""", planned)
    return len(planned)


def _unscheduled_reason(previous: dict[str, Any] | None, current: dict[str, Any]) -> str:
    if previous is None:
        return "首次发布 first release"
    old_method, new_method = previous.get("methodology_version"), current.get("methodology_version")
    if old_method != new_method:
        return f"口径变更 change of method (version {old_method} → {new_method})"
    old_refs, new_refs = previous.get("reference_md5") or {}, current.get("reference_md5") or {}
    changed = sorted(t for t in new_refs.keys() | old_refs.keys() if old_refs.get(t) != new_refs.get(t))
    if old_refs and changed:
        return "参考表更新 reference tables changed: " + ", ".join(changed)
    return "日常更新 daily update: new or revised source data"


def mark_release(cur: psycopg.Cursor, release_id: int, today: date, previous: dict[str, Any] | None,
                 current: dict[str, Any], reason: str | None = None) -> tuple[str, str]:
    """Mark a new release scheduled (the first release on a planned date) or unscheduled, with its
    reason (`reason` when the operator gave one). Returns (kind, reason)."""
    cur.execute("""update published.release_calendar set release_id = %s
                   where planned_date = %s and release_id is null
                   returning rule_zh, rule_en, planned_at at time zone 'Asia/Shanghai',
                             reference_period_start, reference_period_end""", (release_id, today))
    row = cur.fetchone()
    if row is not None:
        rule_zh, rule_en, planned_at, ref_start, ref_end = row
        kind = "scheduled"
        text = (f"按发布日历 scheduled release of {planned_at:%Y-%m-%d %H:%M} (北京时间 Asia/Shanghai), "
                f"报告期 reference period {ref_start:%Y-%m}: {rule_zh} / {rule_en}")
        if reason:
            text = f"{text}; {reason}"
    else:
        kind, text = "unscheduled", reason or _unscheduled_reason(previous, current)
    cur.execute("update published.release_log set release_kind = %s, release_reason = %s where release_id = %s",
                (kind, text, release_id))
    return kind, text
