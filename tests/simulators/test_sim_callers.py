"""Hotline callers: the first contact (CONTACTED) in every handling cycle.

Measured on half a year of generated orders (about 7,000) with the calibration functions, which read
only the generated store, plus direct checks of the events.
"""

from __future__ import annotations

import datetime as dt
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
