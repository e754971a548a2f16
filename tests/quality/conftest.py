"""Fixtures of the quality tests: a raw layer of clean daily batches in the test warehouse."""

from __future__ import annotations

import random
from datetime import date, timedelta

import psycopg
import pytest
from migrated import fresh_migrated

FIRST, DAYS = date(2024, 5, 1), 40
SPOILED = FIRST + timedelta(days=30)
FEEDS = {"registry_compounds": 140, "registry_enterprises": 32, "hotline_events": 200}


@pytest.fixture
def raw(warehouse_url, tmp_path, monkeypatch):
    """A raw layer whose batch log holds DAYS clean daily batches of FEEDS (hotline volumes vary ±10 %)."""
    monkeypatch.setenv("SHUMEI_GX_DIR", str(tmp_path / "gx"))
    rng = random.Random(3)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        fresh_migrated(conn)
        conn.execute("insert into raw.reference_keys values ('registry_compounds', 'XQ0001', %s)", (FIRST,))
        for i in range(DAYS):
            day = FIRST + timedelta(days=i)
            for feed, rows in FEEDS.items():
                n = round(rows * rng.uniform(0.9, 1.1)) if feed == "hotline_events" else rows
                add_batch(conn, feed, day, n)
        yield conn


def add_batch(conn: psycopg.Connection, feed: str, day: date, received: int, rejected: int = 0) -> int:
    return conn.execute("""
        insert into raw.batch_log (source, feed, interval_start, interval_end, rows_received, rows_loaded,
                                   rows_rejected, checksum, status)
        values (split_part(%s, '_', 1), %s, %s, %s, %s, %s, %s, 'x', 'loaded') returning batch_id""",
        (feed, feed, day, day + timedelta(days=1), received, received - rejected, rejected)).fetchone()[0]


def spoil(conn: psycopg.Connection, feed: str, day: date, received: int, rejected: int = 0) -> int:
    """A rerun of the day (the earlier batch superseded) with these row counts."""
    conn.execute("update raw.batch_log set status = 'superseded' where feed = %s and interval_start = %s", (feed, day))
    return add_batch(conn, feed, day, received, rejected)


