"""The raw layer's tables: batch log, rejects, and one append-only table per feed (from its contract).

- raw.batch_log: one row per batch attempt that committed (loaded, or later superseded by a rerun)
  and per failed attempt (written after the rollback, with the error message).
- raw.rejects: every rejected row of every batch with its reason code and the record (no clear PII).
- raw.<feed>: accepted rows, typed; PII only as keyed hashes.
- raw_restricted.<feed>_pii: clear caller identity, readable by the owner role only.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from shumei.ingest.contracts import Contract, load_contracts

RAW = "raw"
RESTRICTED = "raw_restricted"


def table(contract: Contract, restricted: bool = False) -> sql.Identifier:
    """raw.<feed>, or raw_restricted.<feed>_pii."""
    return sql.Identifier(RESTRICTED, f"{contract.table}_pii") if restricted else sql.Identifier(RAW, contract.table)


def referenced_keys() -> dict[str, str]:
    """{feed: key field} of every feed some contract's field refers to."""
    return {f.references.split(".")[0]: f.references.split(".")[1]
            for c in load_contracts().values() for f in c.fields if f.references}


def record_reference_keys(conn: psycopg.Connection, feed: str, key: str, batch_id: int | None) -> None:
    """The keys of a loaded batch (None: of every loaded batch), rejected rows' included, into
    raw.reference_keys, each with the earliest day it was seen."""
    which = sql.SQL("b.batch_id = %(b)s") if batch_id is not None else sql.SQL("b.feed = %(f)s and b.status = 'loaded'")
    conn.execute(sql.SQL("""
        insert into raw.reference_keys (feed, key, first_day)
        select %(f)s, k, min(day) from (
            select r.{key} as k, b.interval_start as day from {raw} r join raw.batch_log b on b.batch_id = r._batch_id
            where {which}
            union all
            select j.record ->> %(key)s, b.interval_start from raw.rejects j join raw.batch_log b on b.batch_id = j.batch_id
            where {which}) keys
        where k is not null
        group by k
        on conflict (feed, key) do update set first_day = least(raw.reference_keys.first_day, excluded.first_day)
    """).format(key=sql.Identifier(key), raw=sql.Identifier(RAW, feed), which=which), {"f": feed, "key": key, "b": batch_id})


def table_columns(conn: psycopg.Connection, schema_name: str, table: str) -> list[str]:
    """The column names of a table in order ([] when it does not exist)."""
    return [r[0] for r in conn.execute("""select column_name from information_schema.columns
                                          where table_schema = %s and table_name = %s order by ordinal_position""",
                                       (schema_name, table))]


def _ensure_table(conn: psycopg.Connection, schema_name: str, table: str, columns: list[tuple[str, str]],
                  comment: str) -> bool:
    """Creates the table if missing (returns True), checks its columns otherwise."""
    name = sql.Identifier(schema_name, table)
    have = table_columns(conn, schema_name, table)
    want = [c for c, _ in columns]
    if not have:
        conn.execute(sql.SQL("create table {} ({})").format(name, sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns)))
        # a row is (batch, row number): the index finds a batch's rows, or single rows of it, at any size
        conn.execute(sql.SQL("create unique index {} on {} (_batch_id, _row_number)").format(
            sql.Identifier(f"{table}_batch_row"), name))
        conn.execute(sql.SQL("comment on table {} is {}").format(name, sql.Literal(comment)))
        return True
    if have != want:  # (tables of earlier versions are brought to the contract by numbered migrations: 0009)
        raise RuntimeError(f"{schema_name}.{table} has columns {have} but the contract needs {want}: "
                           "the contract changed; write a migration (see docs/operations.md)")
    return False


def ensure_feed_tables(conn: psycopg.Connection, contract: Contract) -> None:
    """Creates (or checks) the feed's tables from its contract, and commits. Derived DDL: run by
    shumei.migrations.migrate for every contract (the raw schemas come from its numbered migrations)."""
    created = _ensure_table(conn, RAW, contract.table, contract.raw_columns(),
                            f"原始数据 Raw feed {contract.feed} (source {contract.source}, contract v{contract.version})")
    for f in contract.public_fields if created else ():
        text = f"{f.zh} {f.description}".strip()
        if text:
            conn.execute(sql.SQL("comment on column {} is {}").format(
                sql.Identifier(RAW, contract.table, f.name), sql.Literal(text)))
    if contract.restricted_fields:
        _ensure_table(conn, RESTRICTED, f"{contract.table}_pii", contract.restricted_columns(),
                      f"个人信息 Personal data of feed {contract.feed}, restricted")
    conn.commit()
