"""Hotline callers: the first contact (CONTACTED) in every handling cycle and callers who call again.

Measured on half a year of generated orders (about 7,000) with the calibration functions, which read
only the generated store, plus direct checks of the events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest
from shumei_sim import calibration, hotline
from shumei_sim.generate import generate
from sim_setup import SEED

D = dt.date
HALF_YEAR = (D(2023, 1, 1), D(2023, 6, 30))


@pytest.fixture(scope="module")
def half_year(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("half_year")
    generate(out, HALF_YEAR[1], HALF_YEAR[0], SEED, "county", {"hotline"}, "xlsx", progress=lambda m: None)
    return out / "hotline" / "events.sqlite"


@pytest.fixture(scope="module")
def orders(half_year) -> dict[str, dict]:
    return calibration.hotline_orders(half_year)


def _order_events(db: Path) -> dict[str, list[dict]]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    out: dict[str, list[dict]] = defaultdict(list)
    for row in con.execute("select * from events order by order_id, event_seq"):
        out[row["order_id"]].append(dict(row))
    con.close()
    return out


# ---------------------------------------------------------------- CONTACTED
def test_contact_event_type_is_in_the_contract():
    assert hotline.EVENT_TYPES["CONTACTED"] == "已联系诉求人"
    names = list(hotline.EVENT_TYPES)
    assert names.index("SIGNED") < names.index("CONTACTED") < names.index("IN_PROGRESS")


def test_contact_follows_signing_in_each_cycle_by_the_handler(half_year):
    cycles = contacted_cycles = 0
    for oid, evs in _order_events(half_year).items():
        types = [e["event_type"] for e in evs]
        if {"DIRECT_ANSWERED", "REJECTED", "MERGED"} & set(types):
            assert "CONTACTED" not in types, oid
            continue
        # split into handling cycles at each REOPENED
        cycle: list[dict] = []
        for e in [*evs, None]:
            if e is not None and e["event_type"] != "REOPENED":
                cycle.append(e)
                continue
            kinds = [x["event_type"] for x in cycle]
            if "SIGNED" in kinds:
                cycles += 1
                assert kinds.count("CONTACTED") <= 1, oid
                if "CONTACTED" in kinds:
                    contacted_cycles += 1
                    i = kinds.index("CONTACTED")
                    assert kinds[i - 1] == "SIGNED", (oid, kinds)
                    assert cycle[i]["event_at"] >= cycle[i - 1]["event_at"], oid
                    reply = next((x for x in cycle if x["event_type"] == "REPLIED"), None)
                    if reply is not None:  # else recorded after the store's last day
                        assert cycle[i]["event_at"] <= reply["event_at"], oid
                        # the handler phones the caller: the unit that replies
                        assert cycle[i]["operator_unit"] == reply["operator_unit"], oid
                    assert cycle[i]["raw_status"] == "已联系诉求人"
            cycle = []
    assert cycles > 5000
    assert 0.95 < contacted_cycles / cycles < 0.995


def test_response_limits_mostly_met(orders):
    r = calibration.response(orders)
    n = r["measured"]
    assert n > 5000 and r["dispatched"] - n < 0.1 * n  # the rest (the last days) is not replied yet
    assert 0.86 <= r["on_time"] / n <= 0.95
    assert 0.04 <= r["late"] / n <= 0.11
    assert 0.008 <= r["never_contacted"] / n <= 0.035
    # a replied order without a signing: its SIGNED event is recorded after the store's last day
    assert r.get("never_signed", 0) <= 0.002 * n
    assert r["on_time"] + r["late"] + r["never_contacted"] + r.get("never_signed", 0) == n


def test_response_limit_of_each_urgency():
    tz = hotline.TZ
    fri = dt.datetime(2023, 9, 29, 10, 0, tzinfo=tz)  # 中秋/国庆 2023: off until 10-06, 10-07 and 10-08 are make-up days
    assert calibration.response_limit(fri, "一般") == dt.datetime(2023, 10, 7, 17, 30, tzinfo=tz)
    assert hotline.response_due(fri, "一般") == dt.datetime(2023, 10, 7, 17, 30, tzinfo=tz)
    assert calibration.response_limit(fri, "紧急") == fri + dt.timedelta(hours=2) == hotline.response_due(fri, "紧急")
    assert calibration.response_limit(fri, "特急") == fri + dt.timedelta(minutes=30) == hotline.response_due(fri, "特急")


def test_urgent_orders_are_contacted_within_minutes(orders):
    for urgency, limit in (("特急", dt.timedelta(minutes=30)), ("紧急", dt.timedelta(hours=2))):
        waits = []
        for o in orders.values():
            # orders complete in the store: received in February to May
            if o["urgency"] != urgency or not o["counted"] or not "2023-02" <= o["received_at"].isoformat() < "2023-06":
                continue
            ev = o["events"]
            contact = next((e[1] for e in ev if e[0] == "CONTACTED"), None)
            if contact is not None:
                sign = next(i for i, e in enumerate(ev) if e[0] == "SIGNED")
                waits.append(contact - [e[1] for e in ev[:sign] if e[0] == "DISPATCHED"][-1])
        assert len(waits) > 20
        assert sum(w <= limit for w in waits) / len(waits) > 0.8, urgency


# ---------------------------------------------------------------- callers who call again
def test_repeat_share_and_its_link_to_dissatisfaction(orders):
    q = calibration.repeats(orders)
    assert q["orders"] > 6000
    assert 0.04 <= q["repeats"] / q["orders"] <= 0.10
    assert 0.005 <= q["other_category_only"] / q["orders"] <= 0.05  # same compound, another matter
    assert q["phones"] < 0.95 * q["orders"]
    (fu, nu), (fs, ns) = q["followed_after_unsatisfied"], q["followed_after_satisfied"]
    assert nu > 300 and ns > 2000
    assert fu / nu > 0.15 and fu / nu > 4 * fs / ns


def test_repeat_rule_counts_only_after_closure_and_within_30_days(orders):
    """Some calls again come while the first order is still open or after the 30 days: not repeats."""
    by_key = defaultdict(list)
    for o in orders.values():
        if o["counted"] and o["compound_id"] and o["closed_at"]:
            by_key[(o["phone"], o["compound_id"], o["category"])].append(o)
    inside = before_close = after_window = 0
    for group in by_key.values():
        group.sort(key=lambda o: o["received_at"])
        for a, b in zip(group, group[1:], strict=False):
            if b["received_at"] <= a["closed_at"]:
                before_close += 1
            elif b["received_at"] <= a["closed_at"] + dt.timedelta(days=30):
                inside += 1
            else:
                after_window += 1
    assert inside > 3 * before_close > 0
    assert after_window > 0.05 * inside


def test_follow_up_orders_keep_the_caller_and_compound(half_year):
    """A follow-up is numbered 60000 + 400 x (days after its first order's day) + first order's sequence - 1."""
    events = _order_events(half_year)
    first_by_day_seq = {}
    for oid, evs in events.items():
        if int(oid[10:]) < 50000:
            first_by_day_seq[(oid[2:10], int(oid[10:]))] = evs[0]
    follow = [evs[0] for oid, evs in events.items() if int(oid[10:]) >= 60000]
    assert len(follow) > 300
    found = 0
    for f in follow:
        n = int(f["order_id"][10:]) - 60000
        gap, seq = divmod(n, 400)
        assert gap <= hotline.FOLLOW_UP_MAX_DAYS
        day0 = (dt.date.fromisoformat(f["received_at"][:10]) - dt.timedelta(days=gap)).strftime("%Y%m%d")
        first = first_by_day_seq.get((day0, seq + 1))
        if first is None:  # the first order was received before the stored history
            continue
        found += 1
        assert (first["caller_name"], first["caller_phone"]) == (f["caller_name"], f["caller_phone"])
        assert first["community_code"] == f["community_code"]
        assert f["received_at"] > first["received_at"]
    assert found > 0.9 * len(follow)


def test_caller_names_and_phones_stay_plausible(half_year):
    con = sqlite3.connect(half_year)
    rows = con.execute("select distinct caller_name, caller_phone from events").fetchall()
    con.close()
    for name, tel in rows:
        assert 2 <= len(name) <= 3 and all("\u4e00" <= ch <= "\u9fff" for ch in name), name
        assert (tel.isdigit() and len(tel) == 11 and tel[0] == "1") or (tel.startswith("0564-") and len(tel) == 12), tel
    phones_per_name = defaultdict(set)
    for name, tel in rows:
        phones_per_name[tel].add(name)
    assert all(len(v) == 1 for v in phones_per_name.values())  # one phone, one caller


def test_events_stay_within_the_regeneration_window(half_year):
    con = sqlite3.connect(half_year)
    worst = con.execute("select max(julianday(updated_at) - julianday(received_at)) from events").fetchone()[0]
    con.close()
    assert worst < hotline.LIFECYCLE_MAX_DAYS - hotline.FOLLOW_UP_MAX_DAYS


def _digest(root: Path) -> dict[str, str]:
    out = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
           for p in sorted((root / "credit").rglob("*")) if p.is_file()}
    con = sqlite3.connect(root / "hotline" / "events.sqlite")
    out["events"] = hashlib.sha256(json.dumps(con.execute(
        "select * from events order by updated_at, event_id").fetchall()).encode()).hexdigest()
    con.close()
    return out


def test_late_incremental_run_regenerates_far_enough_back(tmp_path):
    """An extension regenerates orders from LIFECYCLE_MAX_DAYS before it: the follow-ups of earlier
    orders (and their verified complaints in the credit feed) are then the same as in a single run."""
    start, mid, end = D(2023, 9, 1), D(2023, 9, 30), D(2023, 10, 31)
    assert mid - dt.timedelta(days=hotline.LIFECYCLE_MAX_DAYS + 5) > D(2022, 1, 1)
    generate(tmp_path / "one", end, start, SEED, "county", {"hotline", "credit"}, "xlsx", progress=lambda m: None)
    generate(tmp_path / "two", mid, start, SEED, "county", {"hotline", "credit"}, "xlsx", progress=lambda m: None)
    generate(tmp_path / "two", end, start, SEED, "county", {"hotline", "credit"}, "xlsx", progress=lambda m: None)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
