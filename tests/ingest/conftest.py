"""Fixtures of the loader tests."""

from __future__ import annotations

import psycopg
import pytest
from shumei.ingest import schema


@pytest.fixture
def empty_raw(warehouse_url):
    """`empty_raw(contract)`: a connection to the test warehouse whose raw layer holds only the
    contract's empty tables (raw and raw_restricted are dropped and made again)."""
    opened: list[psycopg.Connection] = []

    def connect(contract) -> psycopg.Connection:
        conn = psycopg.connect(warehouse_url)
        opened.append(conn)
        conn.execute("drop schema if exists raw cascade; drop schema if exists raw_restricted cascade")
        conn.commit()
        schema._ENSURED.clear()
        schema.ensure_feed_tables(conn, contract)
        return conn

    yield connect
    for conn in opened:
        conn.close()
