"""Restricted feed tables made before free text was masked at the door (2026-12): the originals of the
free-text fields, kept in raw_restricted.<feed>_pii only, are added at the end of the table (empty for
the batches loaded before). On a fresh warehouse there are no feed tables yet: nothing to do (they are
derived from the contracts, created after the numbered migrations, with these columns)."""

from __future__ import annotations

import psycopg
from psycopg import sql


def apply(conn: psycopg.Connection, contracts: list | None = None) -> None:
    from shumei.ingest.contracts import load_contracts
    from shumei.ingest.schema import RESTRICTED, table_columns

    for contract in load_contracts().values() if contracts is None else contracts:
        table = f"{contract.table}_pii"
        have = table_columns(conn, RESTRICTED, table)
        columns = contract.restricted_columns()
        if have and have == [c for c, _ in columns[:len(have)]] and len(have) < len(columns):
            conn.execute(sql.SQL("alter table {} {}").format(sql.Identifier(RESTRICTED, table), sql.SQL(", ").join(
                sql.SQL("add column {} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns[len(have):])))
