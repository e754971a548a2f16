"""Release notes (发布说明): what changed in a release against the one before, with causes.

    release_changes(conn, release_id) -> ReleaseChanges     the comparison (the bulletin uses it too)
    notes_markdown(changes, catalog, areas) -> str          the notes as Markdown

The comparison reads the published interface only (reader role): the stored values a release opened
or closed (`v_indicator_history`), and what the two releases recorded of their inputs
(`release_log.data_checksums`: the method version, a checksum of every reference table, the newest
batch of each source feed). A revision (a final value that changed) is attributed, in this order, to:

1. a change of rule or method (口径变更): the value carries the reason of a change of method;
2. a calendar update (工作日历更新): the working-day calendar changed and the indicator counts working days
   (its source is the hotline, or it is derived from it);
3. a change of reference version (参考表变更): another reference table of the indicator's source changed;
4. new data of the indicator's source since the last release: late hotline events (迟到的热线事件),
   registry corrections (台账更正), late credit records (迟到的信用记录);
5. otherwise: not attributed (未能归因), said as such.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg

from shumei.report import data
from shumei.report.errors import ReportError

# cause code -> (Chinese, English)
CAUSES = {
    "method": ("口径变更", "change of rule or method"),
    "calendar": ("工作日历更新", "working-day calendar update"),
    "reference": ("参考表版本变更", "change of a reference table version"),
    "late_hotline": ("迟到的热线事件", "late hotline events"),
    "registry_correction": ("台账更正", "registry corrections"),
    "late_credit": ("迟到的信用记录", "late credit records"),
    "unattributed": ("未能归因", "cause not attributed"),
}
# the catalogue's `source` of an indicator -> the source systems whose data it is computed from
SOURCE_SYSTEMS = {"hotline": ("hotline",), "registry": ("registry",), "credit": ("credit",),
                  "derived": ("hotline", "registry", "credit")}
SYSTEM_CAUSE = {"hotline": "late_hotline", "registry": "registry_correction", "credit": "late_credit"}
CALENDAR_TABLE = "ref_workday_calendar"
# which source systems' indicators a reference table can move; a table not named here can move any
REFERENCE_SYSTEMS = {
    "ref_workday_calendar": ("hotline",),
    "ref_sla_policy": ("hotline",), "ref_repeat_rules": ("hotline",), "ref_request_types": ("hotline",),
    "ref_status_codes": ("hotline",), "ref_complaint_categories": ("hotline",),
    "ref_complaint_category_aliases": ("hotline",),
    "ref_credit_rules": ("credit",), "ref_credit_schemes": ("credit",), "ref_credit_grade_bands": ("credit",),
    "ref_credit_event_mapping": ("credit",),
    "ref_early_warning_rules": (),
    "ref_release_calendar_rules": (),   # plans releases, moves no value
    "ref_methodology_changes": (),      # its reasons reach the values themselves (cause "method")
}
GENERATED_REASON_PREFIX = "修订 revised: "  # publish/release.py: a revision dbt gave no reason for


@dataclass(frozen=True)
class ValueChange:
    """One value of the release against the previous one (a revision or a withdrawal)."""

    indicator_code: str
    area_code: str
    area_level: str
    period_type: str
    period_start: date
    period_end: date
    breakdown_type: str
    breakdown_code: str
    unit: str
    old_value: Any
    new_value: Any            # None: withdrawn
    old_status: str
    new_status: str | None
    cause: str                # a key of CAUSES
    cause_detail: str         # the revision reason, the reference tables or the feeds


@dataclass(frozen=True)
class NewPeriod:
    indicator_code: str
    period_type: str
    period_start: date
    period_end: date
    values: int               # values published for it (all areas and breakdowns)


@dataclass(frozen=True)
class ReleaseChanges:
    release: data.Release
    previous: data.Release | None
    new_periods: list[NewPeriod]
    revisions: list[ValueChange]
    withdrawn: list[ValueChange]
    finalised: int            # provisional values that became final (their period closed): not revisions
    provisional_updates: int  # provisional values updated (the open period): not revisions
    input_changes: list[str] = field(default_factory=list)  # what changed in the inputs the release records
    # finalised + provisional updates by indicator (the bulletin's table of changes)
    updates_by_indicator: Counter = field(default_factory=Counter)

    @property
    def cause_counts(self) -> Counter:
        return Counter(r.cause for r in self.revisions)

    @property
    def nothing_changed(self) -> bool:
        return not (self.new_periods or self.revisions or self.withdrawn or self.finalised
                    or self.provisional_updates)


def _changed_references(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    old, new = previous.get("reference_md5"), current.get("reference_md5")
    if not old or not new:  # releases made before reference checksums were recorded
        return []
    return sorted(t for t in old.keys() | new.keys() if old.get(t) != new.get(t))


def _changed_systems(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    old, new = previous.get("last_batch_per_feed") or {}, current.get("last_batch_per_feed") or {}
    feeds = [f for f in new if old.get(f) != new.get(f)]
    return sorted({system for system in SYSTEM_CAUSE for f in feeds if f.startswith(system)})


def _attribute(row: dict[str, Any], source: str, references: list[str], systems: list[str]) -> tuple[str, str]:
    reason = row.get("revision_reason") or ""
    if reason and not reason.startswith(GENERATED_REASON_PREFIX):
        return "method", reason
    own = SOURCE_SYSTEMS.get(source, tuple(SYSTEM_CAUSE))

    def moves(table: str) -> bool:
        scope = REFERENCE_SYSTEMS.get(table, tuple(SYSTEM_CAUSE))
        return any(s in own for s in scope)

    if CALENDAR_TABLE in references and moves(CALENDAR_TABLE):
        return "calendar", CALENDAR_TABLE
    tables = [t for t in references if t != CALENDAR_TABLE and moves(t)]
    if tables:
        return "reference", ", ".join(tables)
    for system in own:
        if system in systems:
            return SYSTEM_CAUSE[system], f"{system} data loaded after release {row['valid_from_release']}"
    return "unattributed", ""


def _input_changes(previous: data.Release, current: data.Release, references: list[str],
                   systems: list[str]) -> list[str]:
    p, c = previous.data_checksums, current.data_checksums
    lines = []
    if previous.as_of_date != current.as_of_date:
        lines.append(f"数据截止日 as-of date {previous.as_of_date} → {current.as_of_date}")
    if p.get("methodology_version") != c.get("methodology_version"):
        lines.append(f"口径版本 method version {p.get('methodology_version')} → {c.get('methodology_version')}")
    if references:
        lines.append("参考表变更 reference tables changed: " + ", ".join(references))
    for key, zh in (("catalog_md5", "指标目录 catalogue"), ("targets_md5", "目标 targets"),
                    ("areas_md5", "地区名称 area names")):
        if key in c and p.get(key) != c.get(key):
            lines.append(f"{zh} updated")
    if systems:
        lines.append("新到源数据 new source data: " + ", ".join(systems))
    return lines


def release_changes(conn: psycopg.Connection, release_id: int) -> ReleaseChanges:
    """Compare release `release_id` with the published release before it (reader connection from
    `data.connect`). The first release has no previous one: all its periods are new."""
    current = data.release(conn, release_id)
    previous = data.previous_release(conn, release_id)
    cat = data.catalog(conn)
    prev_id = previous.release_id if previous else 0
    references = _changed_references(previous.data_checksums, current.data_checksums) if previous else []
    systems = _changed_systems(previous.data_checksums, current.data_checksums) if previous else []

    opened: dict[tuple, dict] = {}
    closed: dict[tuple, dict] = {}
    for row in data.value_history(conn, release_id, prev_id):
        key = (row["indicator_code"], row["area_code"], row["period_type"], row["period_start"],
               row["breakdown_type"], row["breakdown_code"])
        (opened if row["valid_from_release"] == release_id else closed)[key] = row

    new_periods: Counter = Counter()
    period_end: dict[tuple, date] = {}
    revisions, withdrawn = [], []
    finalised = provisional_updates = 0
    updates: Counter = Counter()
    for key, new in opened.items():
        old = closed.get(key)
        if old is None:
            pkey = (new["indicator_code"], new["period_type"], new["period_start"])
            new_periods[pkey] += 1
            period_end[pkey] = new["period_end"]
        elif old["status"] == "provisional" and new["status"] == "final":
            finalised += 1
            updates[new["indicator_code"]] += 1
        elif new["status"] == "provisional" and old["status"] != "final":
            # (a final value made provisional again, by a change of method, is a revision below)
            provisional_updates += 1
            updates[new["indicator_code"]] += 1
        else:
            source = (cat.get(new["indicator_code"]) or {}).get("source") or ""
            cause, detail = _attribute({**new, "valid_from_release": prev_id}, source, references, systems)
            revisions.append(_change(new, old, cause, detail))
    for key, old in closed.items():
        if key not in opened:
            withdrawn.append(_change(None, old, "", ""))
    if previous is not None and current.as_of_date < previous.as_of_date:
        raise ReportError(f"release {release_id} is as of {current.as_of_date}, before release "
                          f"{previous.release_id} ({previous.as_of_date})")
    return ReleaseChanges(
        release=current, previous=previous,
        new_periods=[NewPeriod(code, ptype, start, period_end[(code, ptype, start)], n)
                     for (code, ptype, start), n in sorted(new_periods.items())],
        revisions=revisions, withdrawn=withdrawn, finalised=finalised, provisional_updates=provisional_updates,
        input_changes=_input_changes(previous, current, references, systems) if previous else [],
        updates_by_indicator=updates)


def _change(new: dict | None, old: dict, cause: str, detail: str) -> ValueChange:
    row = new or old
    return ValueChange(
        row["indicator_code"], row["area_code"], row["area_level"], row["period_type"], row["period_start"],
        row["period_end"], row["breakdown_type"], row["breakdown_code"], row["unit"], old["value"],
        None if new is None else new["value"], old["status"], None if new is None else new["status"],
        cause, detail)


# ---- text --------------------------------------------------------------------------------------

PERIOD_ZH = {"month": "月", "quarter": "季", "year": "年"}


def period_label(period_type: str, start: date) -> str:
    if period_type == "month":
        return f"{start:%Y-%m}"
    if period_type == "quarter":
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}"


def format_number(value: Any, decimals: int) -> str:
    return "–" if value is None else f"{float(value):,.{max(decimals, 0)}f}"


def headline_revisions(changes: ReleaseChanges) -> list[ValueChange]:
    """The revisions of the figures themselves (totals) at county and town level: what the notes
    list one by one; breakdowns and communities are counted."""
    return [r for r in changes.revisions if r.breakdown_type == "total" and r.area_level in ("county", "town")]


def notes_markdown(changes: ReleaseChanges, catalog: dict[str, dict], areas: dict[str, dict]) -> str:
    rel, prev = changes.release, changes.previous
    out = [f"# 发布说明 Release notes — 第 {rel.release_id} 版 release {rel.release_id}", ""]
    out.append(f"- 数据截至 as of: {rel.as_of_date}")
    out.append(f"- 发布时间 published: {rel.published_local:%Y-%m-%d %H:%M} (北京时间 Asia/Shanghai)")
    kind = {"scheduled": "按日历发布 scheduled", "unscheduled": "日历外发布 unscheduled"}.get(rel.release_kind or "",
                                                                                        "未标注 not marked")
    out.append(f"- 发布类型 kind: {kind}" + (f" — {rel.release_reason}" if rel.release_reason else ""))
    if prev is None:
        out += ["- 对比版本 compared with: 无（首次发布） none (first release)", ""]
    else:
        out += [f"- 对比版本 compared with: 第 {prev.release_id} 版 release {prev.release_id} "
                f"(as of {prev.as_of_date}, {prev.published_local:%Y-%m-%d %H:%M})", ""]
    if changes.input_changes:
        out += ["## 输入变化 What changed in the inputs", ""] + [f"- {line}" for line in changes.input_changes] + [""]

    out += ["## 新增期间 New periods", ""]
    if changes.new_periods:
        out += ["| 指标 indicator | 期间类型 period | 期间 periods | 个数 periods | 数值个数 values |",
                "| --- | --- | --- | ---: | ---: |"]
        grouped: dict[tuple, list[NewPeriod]] = {}
        for p in changes.new_periods:
            grouped.setdefault((p.indicator_code, p.period_type), []).append(p)
        for (code, ptype), periods in sorted(grouped.items()):
            name = (catalog.get(code) or {}).get("name_zh", "")
            span = period_label(ptype, periods[0].period_start)
            if len(periods) > 1:
                span += f" … {period_label(ptype, periods[-1].period_start)}"
            out.append(f"| {code} {name} | {PERIOD_ZH[ptype]} {ptype} | {span} | {len(periods)} | "
                       f"{sum(p.values for p in periods):,} |")
    else:
        out.append("- 无 none")
    out.append("")

    out += ["## 修订 Revisions", ""]
    out.append(f"修订值共 {len(changes.revisions)} 个 revised values; 初步数转为最终数 provisional values made final: "
               f"{changes.finalised}; 初步数更新 provisional values updated: {changes.provisional_updates}.")
    out.append("")
    if changes.revisions:
        out += ["| 原因 cause | 修订值个数 values |", "| --- | ---: |"]
        for cause, n in sorted(changes.cause_counts.items(), key=lambda kv: list(CAUSES).index(kv[0])):
            out.append(f"| {CAUSES[cause][0]} {CAUSES[cause][1]} | {n:,} |")
        out.append("")
        heads = [r for r in headline_revisions(changes) if r.area_level == "county"]
        out += [f"全县合计值的修订 Revisions of the county totals ({len(heads)}; towns: see the workbook's 发布说明 "
                "sheet):", "",
                "| 指标 indicator | 地区 area | 期间 period | 原值 old | 新值 new | 原因 cause |",
                "| --- | --- | --- | ---: | ---: | --- |"]
        for r in heads:
            decimals = (catalog.get(r.indicator_code) or {}).get("decimals") or 0
            name = (catalog.get(r.indicator_code) or {}).get("name_zh", "")
            area = (areas.get(r.area_code) or {}).get("area_name_zh", r.area_code)
            detail = f" ({r.cause_detail})" if r.cause in ("reference", "calendar") and r.cause_detail else ""
            out.append(f"| {r.indicator_code} {name} | {area} | {period_label(r.period_type, r.period_start)} | "
                       f"{format_number(r.old_value, decimals)} | {format_number(r.new_value, decimals)} | "
                       f"{CAUSES[r.cause][0]} {CAUSES[r.cause][1]}{detail} |")
        out.append("")
    out += ["## 撤回 Values withdrawn", "", f"撤回值共 {len(changes.withdrawn)} 个 values withdrawn.", ""]
    for w in changes.withdrawn:
        if w.breakdown_type == "total" and w.area_level == "county":
            decimals = (catalog.get(w.indicator_code) or {}).get("decimals") or 0
            area = (areas.get(w.area_code) or {}).get("area_name_zh", w.area_code)
            out.append(f"- {w.indicator_code} {area} {period_label(w.period_type, w.period_start)}: "
                       f"{format_number(w.old_value, decimals)}")
    out += ["", "每个数值的全部版本见 every version of every value: `published.v_indicator_history`.", ""]
    return "\n".join(out)
