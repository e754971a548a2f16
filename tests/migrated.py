"""A fresh warehouse for a test: the schemas the migrations own dropped, then the one DDL step."""

from __future__ import annotations

import psycopg

# what shumei.migrations creates (its numbered migrations and the feed tables derived from the contracts)
MIGRATED_SCHEMAS = ("raw", "raw_restricted", "audit", "published")


def fresh_migrated(conn: psycopg.Connection, *, published: bool = False) -> None:
    """Drop raw, raw_restricted, audit (with audit.schema_migrations) and published, and migrate from
    zero; `published`: also the derived DDL of `published` (needs the dbt manifest)."""
    from shumei.migrations import migrate

    with conn.transaction():
        for schema in MIGRATED_SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")
    migrate(conn, published=published)
