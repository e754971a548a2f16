"""Feed tables made by earlier versions (before numbered migrations): the (batch, row) index that
replaced the index on _batch_id alone (2026-11-27), and raw.reference_keys filled from the batches
loaded before it existed. On a fresh warehouse there are no feed tables yet: nothing to do (the
feed tables are derived from the contracts, created after the numbered migrations)."""

from __future__ import annotations

import psycopg
from psycopg import sql


def apply(conn: psycopg.Connection) -> None:
    from shumei.ingest.contracts import load_contracts
    from shumei.ingest.schema import RAW, RESTRICTED, record_reference_keys, referenced_keys

    for contract in load_contracts().values():
        for schema, table in ((RAW, contract.table), (RESTRICTED, f"{contract.table}_pii")):
            if conn.execute("select to_regclass(%s)", (f"{schema}.{table}",)).fetchone()[0] is None:
                continue
            conn.execute(sql.SQL("create unique index if not exists {} on {}.{} (_batch_id, _row_number)").format(
                sql.Identifier(f"{table}_batch_row"), sql.Identifier(schema), sql.Identifier(table)))
            for old in (f"{table}__batch_id_idx", f"{table}_batch_row_brin"):
                conn.execute(sql.SQL("drop index if exists {}.{}").format(sql.Identifier(schema), sql.Identifier(old)))
    if conn.execute("select not exists (select from raw.reference_keys)").fetchone()[0]:
        for feed, key in referenced_keys().items():
            if conn.execute("select to_regclass(%s)", (f"raw.{feed}",)).fetchone()[0] is not None:
                record_reference_keys(conn, feed, key, None)
