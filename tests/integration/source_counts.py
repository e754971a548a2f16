"""Indicator counts recomputed straight from the simulator's output, for the reconciliation test.

This module shares nothing with the pipeline on purpose: it never imports `shumei` or `shumei_sim` and
reuses no dbt SQL. It reads the drops as the county would hand them over (the registry's daily xlsx
snapshots, the credit feed's JSON lines, the hotline server's SQLite store) with openpyxl, json and
sqlite3, and the versioned reference tables of the credit scheme from the dbt seeds' CSV files, and
counts by the definitions (口径) of DOMAIN.md (§8 where it rules) and docs/contracts/*.md.

Observations are keyed by (indicator_code, area_code, period_start, period_end) with
period_type 'month': a stock at a month end D has the period (first of D's month, D), a flow over a
month M the period (first of M, last of M). Areas are the county 341523000000 and the towns (12-digit
codes); an area that has nothing to count has no observation (the comparison reads that as zero).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl

COUNTY = "341523000000"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"

YES = "是"
NO_SERVICE = "无物业管理"  # the only 物业服务模式 without property service
COMMITTEE_TYPES = {"业主委员会", "物业管理委员会"}
COMMITTEE_ACTIVE = "正常履职"
BRANCH_FORMS = {"小区党支部", "网格联合党支部"}  # a 党的工作小组 does not count for DZB_ZJ
VALID_SATISFACTION = {"满意", "基本满意", "不满意"}  # 未评价 is no valid answer
SATISFIED = {"满意", "基本满意"}
INTAKE_ONLY = {"RECEIVED", "DIRECT_ANSWERED", "REJECTED", "MERGED"}  # events before / without dispatch
# TS_AS 口径: 派单、退单、签收、联系诉求人、办理、延期、回复 after a closure = being handled again
HANDLING = {"DISPATCHED", "RETURNED", "SIGNED", "CONTACTED", "IN_PROGRESS", "EXTENDED", "REPLIED"}
COMPLAINT_RULE = "complaint_substantiated"

Key = tuple[str, str, date, date]  # indicator_code, area_code, period_start, period_end


@dataclass(frozen=True)
class Count:
    """An observation: exact counts; `denominator` is None for a count indicator (value = numerator)."""

    numerator: int
    denominator: int | None = None

    @property
    def value(self) -> Decimal | None:
        """The official value: a count as is, a rate as 100 × n / d rounded half-up to 1 decimal."""
        if self.denominator is None:
            return Decimal(self.numerator)
        if self.denominator == 0:
            return None
        return (Decimal(100 * self.numerator) / Decimal(self.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


# ---- periods and areas --------------------------------------------------------------------------

def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def add_months(day: date, months: int) -> date:
    """day + n calendar months, the day clamped to the end of a shorter month (as a SQL interval does)."""
    index = day.year * 12 + day.month - 1 + months
    first = date(index // 12, index % 12 + 1, 1)
    return first.replace(day=min(day.day, month_end(first).day))


def days(first: date, last: date) -> Iterator[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


def town_of(code: str) -> str:
    """The 12-digit town code of a 12-digit town, community or compound-town code."""
    assert re.fullmatch(r"3415\d{8}", code or ""), f"not a 12-digit division code of the county: {code!r}"
    return code[:9] + "000"


def _areas(town: str) -> tuple[str, str]:
    return COUNTY, town_of(town)


def _local(ts: str) -> datetime:
    """An ISO-8601 timestamp of the hotline feed, in Asia/Shanghai (a timestamp without offset is local)."""
    parsed = datetime.fromisoformat(ts)
    return parsed.replace(tzinfo=SHANGHAI) if parsed.tzinfo is None else parsed.astimezone(SHANGHAI)


# ---- registry: the snapshot delivered for a day -------------------------------------------------

def _cell_date(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise AssertionError(f"not a date cell: {value!r}")


def registry_snapshot(registry_dir: Path, day: date) -> dict[str, list[dict]]:
    """The sheets of the ledger delivered for `day` ({sheet name: rows as {header: value}})."""
    folder = registry_dir / day.isoformat()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "xlsx", f"{folder}: only xlsx drops are read here"
    assert "bad_data" not in manifest, f"{folder}: a bad-data drop"
    (path,) = (folder / name for name in manifest["files"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest["files"][path.name], f"{path}: sha256"
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = {}
        for sheet in workbook.worksheets:
            rows = sheet.iter_rows(values_only=True)
            header = next(rows)
            sheets[sheet.title] = [dict(zip(header, row, strict=False)) for row in rows
                                   if any(v not in (None, "") for v in row)]
    finally:
        workbook.close()
    for name, expected in manifest["rows"].items():
        assert len(sheets[name]) == expected, f"{path}: sheet {name} has {len(sheets[name])} rows, manifest {expected}"
    return sheets


@dataclass(frozen=True)
class Ledger:
    """What the month-end snapshot says at its day D."""

    day: date
    compound_town: dict[str, str]  # urban residential compounds -> town
    served: set[str]  # urban compounds with property service
    with_committee: set[str]
    with_branch: set[str]
    serving: dict[str, set[str]]  # area -> USCCs serving ≥ 1 urban compound with property service there
    on_file: set[str]  # USCCs on the 物业企业 sheet
    with_party_org: set[str]


def read_ledger(registry_dir: Path, day: date) -> Ledger:
    sheets = registry_snapshot(registry_dir, day)
    compound_town, served, serving = {}, set(), defaultdict(set)
    for row in sheets["小区"]:
        if row["是否城市住宅小区"] != YES:
            continue
        cid = row["小区编号"]
        compound_town[cid] = town_of(row["所属乡镇编码"])
        has_service = row["物业服务模式"] != NO_SERVICE
        assert has_service == (row["是否实施物业管理"] == YES), \
            f"{day} {cid}: 物业服务模式 {row['物业服务模式']} and 是否实施物业管理 {row['是否实施物业管理']} disagree"
        if has_service:
            served.add(cid)
            if row["物业服务企业统一社会信用代码"]:
                for area in _areas(row["所属乡镇编码"]):
                    serving[area].add(row["物业服务企业统一社会信用代码"])

    with_committee = set()
    for row in sheets["业主委员会"]:
        formed, dissolved = _cell_date(row["成立日期"]), _cell_date(row["解散日期"])
        assert row["组织类型"] in COMMITTEE_TYPES, row["组织类型"]
        if row["状态"] == COMMITTEE_ACTIVE and formed is not None and formed <= day \
                and (dissolved is None or dissolved > day):
            with_committee.add(row["小区编号"])

    with_branch = set()
    for row in sheets["小区党组织"]:
        formed = _cell_date(row["成立日期"])
        if row["组织形式"] in BRANCH_FORMS and formed is not None and formed <= day:
            with_branch.add(row["覆盖小区编号"])

    on_file, with_party_org = set(), set()
    for row in sheets["物业企业"]:
        uscc = row["统一社会信用代码"]
        on_file.add(uscc)
        party_date = _cell_date(row["党组织建立日期"])
        if row["是否建立党组织"] == YES and (party_date is None or party_date <= day):
            with_party_org.add(uscc)

    urban = set(compound_town)
    return Ledger(day, compound_town, served, with_committee & urban, with_branch & urban, dict(serving),
                  on_file, with_party_org)


def _compound_rate(code: str, ledger: Ledger, numerator: set[str]) -> dict[Key, Count]:
    denominators, numerators = defaultdict(int), defaultdict(int)
    for cid, town in ledger.compound_town.items():
        for area in _areas(town):
            denominators[area] += 1
            numerators[area] += cid in numerator
    period = (month_start(ledger.day), ledger.day)
    return {(code, area, *period): Count(numerators[area], d) for area, d in denominators.items()}


def registry_stocks(ledger: Ledger) -> dict[Key, Count]:
    """WY_FG, YWH_FG, DZB_ZJ over urban residential compounds; QYDZZ_ZJ over serving enterprises."""
    out = {}
    out |= _compound_rate("WY_FG", ledger, ledger.served)
    out |= _compound_rate("YWH_FG", ledger, ledger.with_committee)
    out |= _compound_rate("DZB_ZJ", ledger, ledger.with_branch)
    period = (month_start(ledger.day), ledger.day)
    for area, usccs in ledger.serving.items():
        out[("QYDZZ_ZJ", area, *period)] = Count(len(usccs & ledger.with_party_org), len(usccs))
    return out


# ---- credit -------------------------------------------------------------------------------------

def credit_records(credit_dir: Path, first: date, last: date) -> list[dict]:
    """Every record of the feed days first .. last (each day's manifest checked)."""
    records = []
    for day in days(first, last):
        folder = credit_dir / day.isoformat()
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        data = (folder / manifest["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == manifest["sha256"], f"{folder}: sha256"
        lines = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
        assert len(lines) == manifest["rows"], f"{folder}: {len(lines)} records, manifest {manifest['rows']}"
        records += lines
    ids = [r["credit_event_id"] for r in records]
    assert len(ids) == len(set(ids)), "a credit_event_id delivered twice"
    return records


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _in_force(row: dict[str, str], day: date) -> bool:
    return date.fromisoformat(row["valid_from"]) <= day and (not row["valid_to"]
                                                             or day < date.fromisoformat(row["valid_to"]))


def _num(text: str) -> Decimal | None:
    return Decimal(text) if text not in (None, "") else None


def _flag(text: str) -> bool | None:
    return {"true": True, "false": False, "": None}[(text or "").strip().lower()]


@dataclass(frozen=True)
class Scheme:
    version: str
    base: Decimal
    good_cap: Decimal
    complaint_cap: Decimal
    min_score: Decimal
    veto_grade: str
    mappings: list[dict]  # ref_credit_event_mapping rows of the version, in force, ordered by precedence
    rules: dict[str, dict]  # rule_event_type -> ref_credit_rules row
    bands: list[dict]


def credit_scheme(day: date) -> Scheme:
    """The scheme in force at `day` with its mapping, rules and grade bands (dbt_project/seeds/ref_credit_*)."""
    (scheme,) = [s for s in _seed("ref_credit_schemes.csv") if _in_force(s, day)]
    version = scheme["scheme_version"]
    mappings = sorted((m for m in _seed("ref_credit_event_mapping.csv")
                       if m["scheme_version"] == version and _in_force(m, day)),
                      key=lambda m: (int(m["priority"]), m["mapping_id"]))
    rules = {r["event_type"]: r for r in _seed("ref_credit_rules.csv")
             if r["scheme_version"] == version and _in_force(r, day)}
    bands = [b for b in _seed("ref_credit_grade_bands.csv") if b["scheme_version"] == version and _in_force(b, day)]
    return Scheme(version, Decimal(scheme["base_score"]), Decimal(scheme["good_points_cap"]),
                  Decimal(scheme["complaint_points_cap"]), Decimal(scheme["min_score"]), scheme["veto_grade"],
                  mappings, rules, bands)


def classify(record: dict, scheme: Scheme) -> dict | None:
    """The rule (ref_credit_rules row) a record falls under: the first matching mapping by (priority,
    mapping_id); a mapping matches on the source event type, its regex on result and description joined
    by one space, its score band [score_min, score_max) and its veto flag, each where given."""
    text = " ".join(part for part in (record.get("result"), record.get("description")) if part)
    score = None if record.get("score") is None else Decimal(str(record["score"]))
    for mapping in scheme.mappings:
        if mapping["source_event_type"] != record["event_type"]:
            continue
        if mapping["text_pattern"] and not re.search(mapping["text_pattern"], text):
            continue
        low, high = _num(mapping["score_min"]), _num(mapping["score_max"])
        if (low is not None or high is not None) and (score is None or (low is not None and score < low)
                                                      or (high is not None and score >= high)):
            continue
        veto_match = _flag(mapping["is_veto_match"])
        if veto_match is not None and bool(record["is_veto"]) != veto_match:
            continue
        return scheme.rules[mapping["rule_event_type"]]
    return None


def credit_grades(records: list[dict], day: date, enterprises: Iterable[str]) -> dict[str, str]:
    """Grade at `day` of each enterprise: base_score + min(good points, good_points_cap) - bad points,
    floored at min_score, over the items valid at `day` (event_date <= day < event_date + the rule's
    validity months), where the complaints found true count once per work order and at most
    complaint_points_cap in all; a valid veto item (the rule's or the record's own flag) forces the
    scheme's veto grade. An enterprise without a valid item has the base score."""
    scheme = credit_scheme(day)
    good, bad, complaints, veto = defaultdict(Decimal), defaultdict(Decimal), defaultdict(dict), set()
    for record in records:
        event_date = date.fromisoformat(record["event_date"])
        rule = classify(record, scheme)
        if rule is None:
            assert not record["is_veto"], f"a veto record no mapping classifies: {record['credit_event_id']}"
            continue  # no rule, no points
        if not (event_date <= day < add_months(event_date, int(rule["validity_months"]))):
            continue
        uscc = record["enterprise_uscc"]
        if _flag(rule["is_veto"]) or record["is_veto"]:
            veto.add(uscc)
        points = Decimal(rule["points"])
        if rule["event_type"] == COMPLAINT_RULE:  # one deduction per work order, capped in all
            complaints[uscc][record.get("related_order_id") or record["credit_event_id"]] = points
        elif rule["direction"] == "good":
            good[uscc] += points
        elif rule["direction"] == "bad":
            bad[uscc] += points
    grades = {}
    for uscc in enterprises:
        complaint_points = min(sum(complaints[uscc].values(), Decimal(0)), scheme.complaint_cap)
        score = max(scheme.min_score, scheme.base + min(good[uscc], scheme.good_cap) - bad[uscc] - complaint_points)
        grades[uscc] = scheme.veto_grade if uscc in veto else _grade(score, scheme)
    return grades


def _grade(score: Decimal, scheme: Scheme) -> str:
    (grade,) = [b["grade"] for b in scheme.bands
                if (not b["min_score"] or score >= Decimal(b["min_score"]))
                and (not b["max_score"] or score < Decimal(b["max_score"]))]
    return grade


def credit_stocks(ledger: Ledger, records: list[dict]) -> dict[Key, Count]:
    """XY_C: of the enterprises serving >= 1 urban compound with property service in the area that have
    a credit score (every enterprise on file has one: the base score +/- its valid items), those graded C."""
    grades = credit_grades(records, ledger.day, ledger.on_file)
    period = (month_start(ledger.day), ledger.day)
    out = {}
    for area, usccs in ledger.serving.items():
        scored = usccs & ledger.on_file
        out[("XY_C", area, *period)] = Count(sum(grades[u] == "C" for u in scored), len(scored))
    return out


# ---- hotline ------------------------------------------------------------------------------------

def hotline_orders(store: Path, first: date, last: date) -> dict[str, list[dict]]:
    """Events of the store recorded (updated_at, Asia/Shanghai) on the days first .. last, by order,
    each order's events in event_seq order."""
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in connection.execute("select * from events")]
    finally:
        connection.close()
    orders = defaultdict(list)
    for row in rows:
        if first <= _local(row["updated_at"]).date() <= last:
            orders[row["order_id"]].append(row)
    for events in orders.values():
        events.sort(key=lambda e: e["event_seq"])
        seqs = [e["event_seq"] for e in events]
        assert len(seqs) == len(set(seqs)), f"order {events[0]['order_id']}: an event_seq twice"
    return dict(orders)


@dataclass(frozen=True)
class Order:
    order_id: str
    town: str
    received: date
    is_copy: bool  # a 12319 copy of a 12345 order (duplicate_of): never counts
    rejected: bool
    direct_answered: bool
    due: datetime | None  # due time in force for the final handling cycle
    closed: datetime | None  # the final closure (last CLOSED of the final cycle, no handling after it)
    visit: tuple[date, str] | None  # the last valid visit answer: (day, satisfaction)

    @property
    def counted(self) -> bool:
        """Counts in TS_SL: one order per 12345/12319 pair, rejected orders left out."""
        return not self.is_copy and not self.rejected


def order_facts(events: list[dict]) -> Order:
    last = events[-1]
    types = [e["event_type"] for e in events]
    due = extended = closed = None
    visit = None
    for event in events:  # event_seq order
        kind = event["event_type"]
        if kind == "REOPENED":
            extended = closed = None  # a new handling cycle: its own due, its own closure
        if kind in HANDLING and not event["duplicate_of"]:
            closed = None  # handled after its closure: reopened, its 重办 record still to come (TS_AS 口径)
        if kind == "EXTENDED" and event["new_due_at"]:
            extended = _local(event["new_due_at"])
        if event["due_at"]:
            due = _local(event["due_at"])
        if kind == "CLOSED":
            closed = _local(event["event_at"])
        if kind == "VISITED" and event["satisfaction"] in VALID_SATISFACTION:
            visit = (_local(event["event_at"]).date(), event["satisfaction"])
    order = Order(
        order_id=last["order_id"], town=town_of(last["town_code"]), received=_local(last["received_at"]).date(),
        is_copy=any(e["duplicate_of"] for e in events), rejected="REJECTED" in types,
        direct_answered="DIRECT_ANSWERED" in types, due=extended or due, closed=closed, visit=visit)
    dispatched = any(t not in INTAKE_ONLY for t in types)
    assert not (order.counted and not order.direct_answered and dispatched and order.due is None), (
        f"order {order.order_id} was dispatched but none of its events carries a due time: the models would "
        "compute one from the SLA table, which this test does not reimplement")
    return order


def hotline_flows(orders: dict[str, list[dict]], months: Iterable[date], as_of: date) -> dict[Key, Count]:
    """TS_SL, TS_AS and TS_MY for the months starting at `months`, as known at the as-of date."""
    facts = [order_facts(events) for events in orders.values()]
    wanted = {month_start(m) for m in months}
    received, due, on_time, answered, satisfied = (defaultdict(int) for _ in range(5))
    for order in facts:
        if not order.counted:
            continue
        areas = _areas(order.town)
        if month_start(order.received) in wanted:
            for area in areas:
                received[(area, month_start(order.received))] += 1
        if not order.direct_answered and order.due is not None and order.due.date() <= as_of \
                and month_start(order.due.date()) in wanted:
            for area in areas:
                due[(area, month_start(order.due.date()))] += 1
                on_time[(area, month_start(order.due.date()))] += order.closed is not None \
                    and order.closed <= order.due
        if order.visit is not None and month_start(order.visit[0]) in wanted:
            for area in areas:
                answered[(area, month_start(order.visit[0]))] += 1
                satisfied[(area, month_start(order.visit[0]))] += order.visit[1] in SATISFIED
    out = {}
    for (area, start), n in received.items():
        out[("TS_SL", area, start, month_end(start))] = Count(n)
    for (area, start), n in due.items():
        out[("TS_AS", area, start, month_end(start))] = Count(on_time[(area, start)], n)
    for (area, start), n in answered.items():
        out[("TS_MY", area, start, month_end(start))] = Count(satisfied[(area, start)], n)
    return out


# ---- everything ---------------------------------------------------------------------------------

def source_observations(drops: Path, first: date, last: date, month_ends: Iterable[date],
                        months: Iterable[date]) -> dict[Key, Count]:
    """All the reconciled indicators: stocks at `month_ends` from those days' registry snapshots and
    the credit records of the feed days first .. last; flows over `months` from the hotline events
    recorded first .. last (the as-of date is `last`)."""
    records = credit_records(drops / "credit", first, last)
    out = {}
    for day in month_ends:
        ledger = read_ledger(drops / "registry", day)
        out |= registry_stocks(ledger)
        out |= credit_stocks(ledger, records)
    out |= hotline_flows(hotline_orders(drops / "hotline" / "events.sqlite", first, last), months, last)
    return out
