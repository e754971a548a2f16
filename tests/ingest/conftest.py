"""Fixtures of the loader tests."""

from __future__ import annotations

import psycopg
import pytest
from migrated import fresh_migrated
from shumei.ingest import schema


@pytest.fixture
def empty_raw(warehouse_url):
    """`empty_raw(contract)`: a connection to the test warehouse whose raw layer holds only the
    contract's empty tables and the contracts' (migrated from zero: tests/migrated.py)."""
    opened: list[psycopg.Connection] = []

    def connect(contract) -> psycopg.Connection:
        conn = psycopg.connect(warehouse_url)
        opened.append(conn)
        fresh_migrated(conn)  # the contracts' feed tables, and the contract's own if a test's
        schema.ensure_feed_tables(conn, contract)
        return conn

    yield connect
    for conn in opened:
        conn.close()
