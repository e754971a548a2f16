"""Measure the simulated data (docs/simulated_data.md): the programme indicators on the ledger at the
seed's deadlines, the first contact and the repeat callers in a generated hotline store, and the credit
grades computed from generated credit files under the warehouse's default scheme.

The hotline and credit measures read only the generated files (and the dbt reference seeds for the credit
scheme), never the generator's own draws, so they check what the pipeline will see.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

from .common import HISTORY_START
from .registry import Ledger

D = dt.date
TARGETS = [  # (indicator, deadline, threshold)
    ("WY_FG", D(2022, 12, 31), None), ("WY_FG", D(2023, 12, 31), 1.0), ("WY_FG", D(2024, 12, 31), 1.0),
    ("YWH_FG", D(2023, 7, 31), 0.6), ("YWH_FG", D(2023, 12, 31), 0.7), ("YWH_FG", D(2024, 6, 30), 0.9),
    ("YWH_FG", D(2024, 12, 31), 0.9),
    ("DZB_ZJ", D(2023, 12, 31), 0.5), ("DZB_ZJ", D(2024, 6, 30), 0.9), ("DZB_ZJ", D(2024, 12, 31), 0.9),
    ("QYDZZ_ZJ", D(2023, 12, 31), 0.5), ("QYDZZ_ZJ", D(2024, 6, 30), 0.9), ("QYDZZ_ZJ", D(2024, 12, 31), 0.9),
    ("LM_FG", D(2023, 6, 30), 1.0), ("QY_LJ", D(2023, 12, 31), 1.0), ("QY_LJ", D(2024, 12, 31), 1.0),
    ("SFD_XQ", D(2024, 12, 31), 5), ("SFD_QY", D(2024, 12, 31), 5),
]


def indicators(snap: dict) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) of the stock indicators on one ledger snapshot."""
    urban = [r for r in snap["registry_compounds"] if r["is_urban_residential"] == "是"]
    ids = {r["compound_id"] for r in urban}
    ywh = {r["compound_id"] for r in snap["registry_owners_committees"] if r["status"] == "正常履职"} & ids
    dzb = {r["compound_id"] for r in snap["registry_party_orgs"] if r["org_form"] != "党的工作小组"} & ids
    serving = {r["enterprise_uscc"] for r in urban if r["enterprise_uscc"]}
    ents = [r for r in snap["registry_enterprises"] if r["enterprise_uscc"] in serving]
    comms = [r for r in snap["registry_communities"] if r["town_code"][:9] in ("341523100", "341523400")]
    agreed = {r["enterprise_uscc"] for r in snap["registry_agreements"]}
    demos = snap["registry_demonstrations"]
    return {
        "WY_FG": (sum(r["has_property_service"] == "是" for r in urban), len(urban)),
        "YWH_FG": (len(ywh), len(urban)),
        "DZB_ZJ": (len(dzb), len(urban)),
        "QYDZZ_ZJ": (sum(r["has_party_org"] == "是" for r in ents), len(ents)),
        "LM_FG": (sum(r["has_alliance"] == "是" and r["has_joint_meeting"] == "是" for r in comms), len(comms)),
        "QY_LJ": (len(serving & agreed), len(serving)),
        "SFD_XQ": (sum(t["object_type"] == "小区" and t["title_level"] == "市级" for t in demos), 1),
        "SFD_QY": (sum(t["object_type"] == "物业企业" and t["title_level"] == "市级" for t in demos), 1),
    }


def measure(seed: int = 20230306, scale: int = 1) -> list[dict]:
    led = Ledger(seed, scale)
    wanted = sorted({t[1] for t in TARGETS})
    snaps, d = {}, HISTORY_START
    while d <= wanted[-1]:
        led.advance(d)
        if d in wanted:
            snaps[d] = indicators(led.snapshot(d))
        d += dt.timedelta(days=1)
    out = []
    for code, when, threshold in TARGETS:
        num, den = snaps[when][code]
        value = num if code.startswith("SFD") else num / den
        met = None if threshold is None else value >= threshold
        out.append({"indicator": code, "deadline": when.isoformat(), "target": threshold, "numerator": num,
                    "denominator": den, "value": value, "met": met})
    return out


def markdown(rows: list[dict]) -> str:
    lines = ["| indicator | deadline | target | numerator | denominator | actual | met |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        sfd = r["indicator"].startswith("SFD")
        target = "baseline" if r["target"] is None else (f"≥ {r['target']}" if sfd else f"{r['target']:.0%}")
        actual = str(r["value"]) if sfd else f"{r['value']:.1%}"
        lines.append(f"| {r['indicator']} | {r['deadline']} | {target} | {r['numerator']} | "
                     f"{'' if sfd else r['denominator']} | {actual} | {'' if r['met'] is None else ('met' if r['met'] else 'missed')} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- hotline
TZ = ZoneInfo("Asia/Shanghai")
REPEAT_WINDOW = dt.timedelta(days=30)


def _next_workday_end(ts: dt.datetime) -> dt.datetime:
    import chinese_calendar

    day = ts.astimezone(TZ).date() + dt.timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(17, 30), tzinfo=TZ)


def response_limit(dispatched: dt.datetime, urgency: str) -> dt.datetime:
    """Default response limits: 特急 30 minutes, 紧急 2 hours, 一般 17:30 of the next working day."""
    if urgency == "特急":
        return dispatched + dt.timedelta(minutes=30)
    if urgency == "紧急":
        return dispatched + dt.timedelta(hours=2)
    return _next_workday_end(dispatched)


def hotline_orders(db: Path) -> dict[str, dict]:
    """One summary per work order of a generated hotline store (events.sqlite)."""
    con = sqlite3.connect(db)
    rows = con.execute("select order_id, event_seq, event_type, event_at, duplicate_of, received_at, urgency, "
                       "caller_phone, compound_id, category, satisfaction, resolved_rating from events "
                       "order by order_id, event_seq").fetchall()
    con.close()
    orders: dict[str, dict] = {}
    for oid, _, etype, at, dup, received, urgency, tel, comp, cat, sat, res in rows:
        o = orders.get(oid)
        if o is None:
            o = orders[oid] = {"order_id": oid, "duplicate_of": dup, "received_at": dt.datetime.fromisoformat(received),
                               "urgency": urgency, "phone": tel, "compound_id": comp, "category": cat, "events": []}
        o["events"].append((etype, dt.datetime.fromisoformat(at), sat, res))
    for o in orders.values():
        types = [e[0] for e in o["events"]]
        o["rejected"] = "REJECTED" in types
        o["counted"] = o["duplicate_of"] is None and not o["rejected"]
        closes = [e[1] for e in o["events"] if e[0] in ("CLOSED", "DIRECT_ANSWERED")]
        o["closed_at"] = max(closes) if closes else None
        visits = [e for e in o["events"] if e[0] == "VISITED"]
        o["last_visit"] = (visits[-1][2], visits[-1][3]) if visits else None
    return orders


def response(orders: dict[str, dict]) -> dict:
    """First contact with the caller in the first handling cycle of each dispatched and replied order, against
    the response limit counted from the last dispatch before the first signing (and from the first dispatch).
    `measured` = dispatched orders with a reply; on_time + late + never_contacted + never_signed = measured."""
    out = Counter()
    for o in orders.values():
        ev = o["events"]
        if not o["counted"] or not any(e[0] == "DISPATCHED" for e in ev):
            continue
        first_sign = next((i for i, e in enumerate(ev) if e[0] == "SIGNED"), None)
        dispatches = [e[1] for e in ev[:first_sign] if e[0] == "DISPATCHED"]
        if ev[0][0] != "RECEIVED" or not dispatches:  # begun before the store's first day
            continue
        out["dispatched"] += 1
        reply = next((e[1] for e in ev if e[0] == "REPLIED"), None)
        if reply is None:  # not replied by the store's last day
            out["open"] += 1
            continue
        out["measured"] += 1
        if first_sign is None:
            out["never_signed"] += 1
            continue
        signed = ev[first_sign][1]
        contact = next((e[1] for e in ev if e[0] == "CONTACTED"), None)
        if contact is None or contact > reply:
            out["never_contacted"] += 1
            continue
        for key, anchor in (("", dispatches[-1]), ("_first_dispatch", dispatches[0])):
            limit = response_limit(anchor, o["urgency"])
            if signed <= limit and contact <= limit:
                out["on_time" + key] += 1
            else:
                out["late" + key] += 1
    return dict(out)


def repeats(orders: dict[str, dict], window: dt.timedelta = REPEAT_WINDOW) -> dict:
    """Repeat orders (DOMAIN §4/§8): a counted order from the same phone about the same compound and
    category, received after an earlier order of that caller closed and at most `window` later."""
    counted = [o for o in orders.values() if o["counted"]]
    by_key: dict[tuple, list] = defaultdict(list)
    by_place: dict[tuple, list] = defaultdict(list)
    for o in counted:
        if o["compound_id"] is not None and o["closed_at"] is not None:
            by_key[(o["phone"], o["compound_id"], o["category"])].append(o)
            by_place[(o["phone"], o["compound_id"])].append(o)

    def after(o, group, same_cat=None):
        return [p for p in group if p is not o and p["closed_at"] < o["received_at"] <= p["closed_at"] + window
                and (same_cat is None or (p["category"] == o["category"]) == same_cat)]

    n_rep = n_other = 0
    followed: set[str] = set()
    for o in counted:
        if o["compound_id"] is None:
            continue
        prior = after(o, by_key.get((o["phone"], o["compound_id"], o["category"]), []))
        if prior:
            n_rep += 1
            followed.update(p["order_id"] for p in prior)
        elif after(o, by_place.get((o["phone"], o["compound_id"]), []), same_cat=False):
            n_other += 1
    phones = Counter(o["phone"] for o in counted)
    closed = [o for o in counted if o["closed_at"] is not None and o["compound_id"] is not None]

    def rate(group):
        return (sum(o["order_id"] in followed for o in group), len(group))

    unsat = [o for o in closed if o["last_visit"] and (o["last_visit"][1] == "未解决" or o["last_visit"][0] == "不满意")]
    sat = [o for o in closed if o["last_visit"] and o["last_visit"][1] == "已解决" and o["last_visit"][0] in ("满意", "基本满意")]
    return {"orders": len(counted), "phones": len(phones), "phones_more_than_once": sum(n > 1 for n in phones.values()),
            "repeats": n_rep, "other_category_only": n_other,
            "followed_after_unsatisfied": rate(unsat), "followed_after_satisfied": rate(sat)}


# ---------------------------------------------------------------- credit
SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def credit_scheme(seeds: Path = SEEDS, version: str = "v1") -> dict:
    """Rules, mapping and base of a scheme version, read from the warehouse's reference seeds."""
    rules = {r["event_type"]: r for r in _csv(seeds / "ref_credit_rules.csv") if r["scheme_version"] == version}
    mapping = sorted((m for m in _csv(seeds / "ref_credit_event_mapping.csv") if m["scheme_version"] == version),
                     key=lambda m: (int(m["priority"]), m["mapping_id"]))
    scheme = next(s for s in _csv(seeds / "ref_credit_schemes.csv") if s["scheme_version"] == version)
    # grade bands best first, each with its inclusive lower bound (none = no lower bound)
    bands = sorted((b for b in _csv(seeds / "ref_credit_grade_bands.csv") if b["scheme_version"] == version),
                   key=lambda b: int(b["grade_rank"]))
    return {"rules": rules, "mapping": mapping, "base": float(scheme["base_score"]),
            "good_cap": float(scheme["good_points_cap"]),
            # points of complaints found true per enterprise over the 12 months (DOMAIN §8)
            "complaint_cap": float(scheme["complaint_points_cap"]), "min_score": float(scheme["min_score"]),
            "bands": [(b["grade"], float(b["min_score"]) if b["min_score"] else float("-inf")) for b in bands],
            "veto_grade": scheme["veto_grade"]}


def classify(rec: dict, scheme: dict) -> dict | None:
    """The rule of a credit record (first matching mapping row by priority), or None."""
    text = f"{rec.get('result') or ''} {rec.get('description') or ''}"
    score = rec.get("score")
    for m in scheme["mapping"]:
        if m["source_event_type"] != rec["event_type"]:
            continue
        if m["text_pattern"] and not re.search(m["text_pattern"], text):
            continue
        if m["score_min"] and (score is None or score < float(m["score_min"])):
            continue
        if m["score_max"] and (score is None or score >= float(m["score_max"])):
            continue
        if m["is_veto_match"] == "true" and not rec.get("is_veto"):
            continue
        return scheme["rules"][m["rule_event_type"]]
    return None


def _add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(y, m, min(d.day, last))


def credit_records(credit_dir: Path) -> list[dict]:
    out = []
    for p in sorted(Path(credit_dir).glob("*/credit_events.jsonl")):
        out += [json.loads(line) for line in p.read_text("utf-8").splitlines()]
    return out


def grade(score: float, veto: bool, scheme: dict) -> str:
    if veto:
        return scheme["veto_grade"]
    return next(g for g, lo in scheme["bands"] if score >= lo)


def credit_scores(records: list[dict], ents: list[str], at: dt.date, scheme: dict) -> dict[str, tuple[float, str]]:
    """(score, grade) per enterprise at a month end: base + min(good, cap) - bad, where the complaints found
    true count once per work order and at most the scheme's complaint cap; a valid veto item forces C; the
    score is never below the scheme's min_score."""
    acc = {u: {"good": 0.0, "bad": 0.0, "orders": set(), "cpl": 0.0, "veto": False} for u in ents}
    for rec in records:
        a = acc.get(rec["enterprise_uscc"])
        if a is None:
            continue
        when = dt.date.fromisoformat(rec["event_date"])
        rule = classify(rec, scheme)
        if rule is None:
            continue
        if not when <= at < _add_months(when, int(rule["validity_months"])):
            continue
        pts = float(rule["points"])
        if rec["event_type"] == "COMPLAINT_VERIFIED":
            if rec["related_order_id"] not in a["orders"]:
                a["orders"].add(rec["related_order_id"])
                a["cpl"] += pts
        elif rule["direction"] == "good":
            a["good"] += pts
        elif rule["direction"] == "bad":
            a["bad"] += pts
        a["veto"] |= rule["is_veto"] == "true" or bool(rec.get("is_veto"))
    out = {}
    for u, a in acc.items():
        score = max(scheme["min_score"], scheme["base"] + min(a["good"], scheme["good_cap"]) - a["bad"]
                    - min(a["cpl"], scheme["complaint_cap"]))
        out[u] = (score, grade(score, a["veto"], scheme))
    return out


def serving_enterprises(dates: list[dt.date], seed: int = 20230306, scale: int = 1) -> dict[dt.date, list[str]]:
    """Enterprises serving at least one urban compound on each date (the registry's view)."""
    led, d, out = Ledger(seed, scale), HISTORY_START, {}
    while d <= max(dates):
        led.advance(d)
        if d in dates:
            out[d] = sorted({u for c, _, u in led.serving_at(d) if u and c.urban})
        d += dt.timedelta(days=1)
    return out


CREDIT_DATES = [dt.date(2023, 12, 31), dt.date(2024, 12, 31), dt.date(2025, 12, 31)]


def credit_distribution(credit_dir: Path, dates=None, seed: int = 20230306, seeds: Path = SEEDS) -> list[dict]:
    dates = dates or CREDIT_DATES
    scheme, records = credit_scheme(seeds), credit_records(credit_dir)
    ents = serving_enterprises(dates, seed)
    out = []
    for d in dates:
        sc = credit_scores(records, ents[d], d, scheme)
        grades = Counter(g for _, g in sc.values())
        scores = [s for s, _ in sc.values()]
        out.append({"date": d.isoformat(), "enterprises": len(sc), **{g: grades.get(g, 0) for g, _ in scheme["bands"]},
                    "a_or_above": sum(grades[g] for g in ("AAA", "AA", "A")) / len(sc),
                    "mean": sum(scores) / len(scores), "min": min(scores), "max": max(scores)})
    return out


def _pct(a, b):
    return f"{a / b:.1%}" if b else "-"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="print the calibration tables of docs/simulated_data.md")
    p.add_argument("--drops", type=Path, default=None, help="a generated --out folder: also measure hotline and credit")
    a = p.parse_args(argv)
    print(markdown(measure()))
    if a.drops is None:
        return
    db = a.drops / "hotline" / "events.sqlite"
    if db.exists():
        orders = hotline_orders(db)
        r = response(orders)
        n = r["measured"]
        print(f"\nfirst contact (dispatched and replied orders {n}): on time {_pct(r.get('on_time', 0), n)}, late {_pct(r.get('late', 0), n)}, "
              f"never contacted before the reply {_pct(r.get('never_contacted', 0), n)}; from the first dispatch: "
              f"on time {_pct(r.get('on_time_first_dispatch', 0), n)}")
        q = repeats(orders)
        fu, fs = q["followed_after_unsatisfied"], q["followed_after_satisfied"]
        print(f"repeats: {q['repeats']} of {q['orders']} counted orders ({_pct(q['repeats'], q['orders'])}); same compound, "
              f"other category only: {q['other_category_only']} ({_pct(q['other_category_only'], q['orders'])}); "
              f"{q['phones']} distinct phones ({q['phones_more_than_once']} more than once); an order is repeated within "
              f"30 days after closing in {_pct(*fu)} of {fu[1]} orders rated 未解决/不满意 and {_pct(*fs)} of {fs[1]} rated "
              f"已解决 and (基本)满意")
    if (a.drops / "credit").exists():
        print("\n| month end | enterprises | AAA | AA | A | B | C | A or above | mean score | min | max |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in credit_distribution(a.drops / "credit"):
            print(f"| {r['date']} | {r['enterprises']} | {r['AAA']} | {r['AA']} | {r['A']} | {r['B']} | {r['C']} | "
                  f"{r['a_or_above']:.0%} | {r['mean']:.1f} | {r['min']:.0f} | {r['max']:.0f} |")


if __name__ == "__main__":
    main()
