"""A rejected row is not a deletion (DOMAIN §8, issue 11 item 1).

The attack: one duplicated compound id in the registry snapshot of a month end. The loader rejects
both copies (duplicate_key_conflict: which one is right cannot be known), so the compound is absent
from that day's accepted rows; before the fix the history read that as a deletion and WY_FG lost the
compound from its denominator (139 instead of 140), with every test green. Here the raw layer of
tests/dbt/raw_fixture.py is given what the loader records for such a day (the key's rows in
raw.rejects, none accepted, the batch log's counts), then the candidate is built with dbt.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import psycopg
import pytest

# tests/dbt has no __init__.py on purpose: a package named `dbt` would shadow dbt-core itself.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_fixture  # noqa: E402
from dbt_run import dbt as _dbt  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = dt.date(2023, 12, 31)
COMPOUND = "XQ0010"  # under property service in every snapshot
COUNTY = "341523000000"


def _reject_both_copies(conn: psycopg.Connection) -> None:
    """What the loader leaves for a day whose sheet holds COMPOUND twice with different content."""
    batch_id, row_number, record = conn.execute(
        """select c._batch_id, c._row_number,
                  to_jsonb(c) - '_batch_id' - '_interval_start' - '_row_number'
           from raw.registry_compounds c join raw.batch_log b on b.batch_id = c._batch_id
           where b.status = 'loaded' and c._interval_start = %s and c.compound_id = %s""",
        (DAY, COMPOUND)).fetchone()
    copy = dict(record, households=record["households"] + 1)
    conn.execute("delete from raw.registry_compounds where _batch_id = %s and _row_number = %s",
                 (batch_id, row_number))
    last = conn.execute("select max(_row_number) from raw.registry_compounds where _batch_id = %s",
                        (batch_id,)).fetchone()[0]
    for n, rec in ((row_number, record), (last + 1, copy)):
        conn.execute("""insert into raw.rejects (batch_id, feed, row_number, reason_code, reason_field, record)
                        values (%s, 'registry_compounds', %s, 'duplicate_key_conflict', null, %s)""",
                     (batch_id, n, json.dumps(rec, default=str)))
    conn.execute("""update raw.batch_log set rows_received = rows_received + 1, rows_loaded = rows_loaded - 1,
                        rows_rejected = coalesce(rows_rejected, 0) + 2 where batch_id = %s""", (batch_id,))
    conn.commit()


def _cell(conn: psycopg.Connection, indicator: str, area: str, month_end: dt.date) -> tuple:
    return conn.execute("""select numerator, denominator, estimate_reason from published_candidate.indicator_values
                           where indicator_code = %s and area_code = %s and period_type = 'month'
                             and period_end = %s and breakdown_type = 'total'""",
                        (indicator, area, month_end)).fetchone()


def test_rejected_key_keeps_its_last_accepted_version(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        conn.commit()
        raw_fixture.load(conn)
        _reject_both_copies(conn)

    _dbt("seed")
    _dbt("run", "--select", "+indicator_values", "--full-refresh")
    _dbt("test", "--select", "int_community_history,test_type:unit")

    with psycopg.connect(warehouse_url) as conn:
        # the history: the compound's version of the last accepted snapshot (2023-07-31) carried to
        # the day, as a version of its own with the reason; the next accepted snapshot ends it
        carried = conn.execute("""select valid_from, valid_to, has_property_service, carry_reason
                                  from intermediate.int_compound_history
                                  where compound_id = %s and is_carried_forward""", (COMPOUND,)).fetchall()
        assert len(carried) == 1, carried
        valid_from, valid_to, served, reason = carried[0]
        assert (valid_from, valid_to, served) == (DAY, dt.date(2024, 3, 31), True)
        assert "duplicate_key_conflict" in reason and "2023-07-31" in reason and COMPOUND not in reason

        # WY_FG keeps the compound in its denominator: 140 / 140, not 139 / 139, and says estimated
        numerator, denominator, estimate = _cell(conn, "WY_FG", COUNTY, DAY)
        assert (numerator, denominator) == (140, 140)
        assert estimate and "registry_compounds" in estimate and "duplicate_key_conflict" in estimate
        assert "1 个单位" in estimate
        # the month before was built from accepted rows only
        assert _cell(conn, "WY_FG", COUNTY, dt.date(2023, 11, 30))[2] is None

        # estimated: exactly the published cells the compound counts in, as itself, as its owners'
        # committee or through the enterprise serving it, in the months its carried version covers
        # (SFD_QY counts the enterprise's own titles, which no compound row feeds)
        touched = set(conn.execute("""
            select distinct m.indicator_code, m.area_code, m.month_end_date
            from marts.fct_indicator_stock_members m
            join published_candidate.indicator_values v
              on (v.indicator_code, v.area_code, v.period_end, v.period_type, v.breakdown_type)
                 = (m.indicator_code, m.area_code, m.month_end_date, 'month', 'total')
            join marts.fct_compound_status_monthly c on c.compound_id = %s and c.month_end_date = %s
            where m.unit_id in (c.compound_id, c.committee_id, c.enterprise_uscc)
              and m.indicator_code <> 'SFD_QY'
              and m.month_end_date >= %s and m.month_end_date < '2024-03-31'""", (COMPOUND, DAY, DAY)).fetchall())
        estimated = set(conn.execute("""
            select indicator_code, area_code, period_end from published_candidate.indicator_values
            where estimate_reason is not null and period_type = 'month'""").fetchall())
        assert estimated == touched, (estimated ^ touched)
        assert {i for i, _, _ in estimated} >= {"WY_FG", "YWH_FG", "DZB_ZJ", "SFD_XQ"}
        # the quarter and year measured at a touched month end carry it too
        assert conn.execute("""select count(*) from published_candidate.indicator_values
                               where indicator_code = 'WY_FG' and area_code = %s and period_type in ('quarter', 'year')
                                 and period_end = %s and estimate_reason is not null""",
                            (COUNTY, DAY)).fetchone()[0] == 2


def _reject_with_unreadable_key(conn: psycopg.Connection, day: dt.date, compound: str, key_value: str | None,
                                reason: str) -> None:
    """What the loader leaves for a day whose sheet holds `compound`'s row with its id blanked or
    malformed (`key_value`): the row in raw.rejects under that id, nothing accepted for it."""
    batch_id, row_number, record = conn.execute(
        """select c._batch_id, c._row_number,
                  to_jsonb(c) - '_batch_id' - '_interval_start' - '_row_number'
           from raw.registry_compounds c join raw.batch_log b on b.batch_id = c._batch_id
           where b.status = 'loaded' and c._interval_start = %s and c.compound_id = %s""",
        (day, compound)).fetchone()
    conn.execute("delete from raw.registry_compounds where _batch_id = %s and _row_number = %s",
                 (batch_id, row_number))
    conn.execute("""insert into raw.rejects (batch_id, feed, row_number, reason_code, reason_field, record)
                    values (%s, 'registry_compounds', %s, %s, 'compound_id', %s)""",
                 (batch_id, row_number, reason, json.dumps(dict(record, compound_id=key_value), default=str)))
    conn.execute("""update raw.batch_log set rows_loaded = rows_loaded - 1,
                        rows_rejected = coalesce(rows_rejected, 0) + 1 where batch_id = %s""", (batch_id,))
    conn.commit()


def test_a_reject_whose_key_cannot_be_identified_carries_every_vanished_key(warehouse_url):
    """The attack: a compound's row with its id blanked (missing_required) or malformed
    (pattern_mismatch). Its key matches nothing, so the compound read as deleted and WY_FG lost it
    (139 / 139 at 2023-12-31) with every test green. The ruling (docs/contracts.md): in a snapshot with
    such a reject, every key that vanished against the snapshot before is carried with its last
    version, estimated with the reason `unidentified_reject`, while the condition lasts; a later clean
    snapshot without the key is a real deletion."""
    later = dt.date(2024, 3, 31)  # XQ0140 is demolished in this snapshot (raw_fixture)
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        conn.commit()
        raw_fixture.load(conn)
        _reject_with_unreadable_key(conn, DAY, "XQ0010", "", "missing_required")
        _reject_with_unreadable_key(conn, DAY, "XQ0020", "XQ-0020", "pattern_mismatch")
        _reject_with_unreadable_key(conn, later, "XQ0030", None, "missing_required")

    _dbt("seed")
    _dbt("run", "--select", "+indicator_values", "--full-refresh")
    _dbt("test", "--select", "int_compound_history")

    with psycopg.connect(warehouse_url) as conn:
        # WY_FG keeps both compounds (140 / 140, as without the attack) and says estimated, with the reason
        numerator, denominator, estimate = _cell(conn, "WY_FG", COUNTY, DAY)
        assert (numerator, denominator) == (140, 140)
        assert estimate and "unidentified_reject" in estimate and "registry_compounds" in estimate
        assert "2 个单位" in estimate
        numerator, denominator, estimate = _cell(conn, "WY_FG", COUNTY, later)
        assert (numerator, denominator) == (140, 140) and "unidentified_reject" in estimate
        # the clean snapshot after: XQ0140 gone, nothing estimated
        assert _cell(conn, "WY_FG", COUNTY, dt.date(2024, 6, 30)) == (139, 139, None)
        assert _cell(conn, "WY_FG", COUNTY, dt.date(2023, 11, 30))[2] is None

        carried = conn.execute("""select compound_id, valid_from, valid_to, carry_reason
                                  from intermediate.int_compound_history
                                  where is_carried_forward order by compound_id, valid_from""").fetchall()
        assert [(c, f, t) for c, f, t, _ in carried] == [
            ("XQ0010", DAY, later), ("XQ0020", DAY, later),
            # in the later snapshot the unreadable row may be XQ0140's: both carried ...
            ("XQ0030", later, dt.date(2024, 6, 30)), ("XQ0140", later, dt.date(2024, 6, 30))], carried
        for compound, _, _, reason in carried:
            assert "unidentified_reject" in reason and "registry_compounds" in reason, reason
            assert compound not in reason and "XQ-0020" not in reason  # codes and days only, no value
        # ... until the next clean snapshot (2024-06-30), which deletes XQ0140 for real
        assert conn.execute("""select count(*) from intermediate.int_compound_history
                               where compound_id = 'XQ0140' and valid_from >= '2024-06-30'""").fetchone()[0] == 0
