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

from shumei.ingest.contracts import Contract

RAW = "raw"
RESTRICTED = "raw_restricted"

BASE_DDL = """
create schema if not exists raw;
create schema if not exists raw_restricted;
revoke all on schema raw_restricted from public;
comment on schema raw is '原始层 Raw layer: source batches as received, append-only, with batch metadata';
comment on schema raw_restricted is '受限原始层 Restricted raw layer: personal data (caller name, phone) in clear; owner role only';

create table if not exists raw.batch_log (
    batch_id bigint generated always as identity primary key,
    source text not null,
    feed text not null,
    interval_start date not null,
    interval_end date not null,
    file_or_page text,
    received_at timestamptz not null default now(),
    finished_at timestamptz,
    rows_received integer,
    rows_loaded integer,
    rows_rejected integer,
    checksum text,
    status text not null check (status in ('loading', 'loaded', 'superseded', 'failed')),
    message text,
    dag_run_id text,
    contract_version integer,
    superseded_batches bigint[],
    superseded_by bigint,
    constraint batch_rows_conserved check (
        status not in ('loaded', 'superseded') or rows_received = rows_loaded + rows_rejected)
);
create index if not exists batch_log_feed_interval on raw.batch_log (feed, interval_start, status);
comment on table raw.batch_log is '批次日志 Batch log: every batch of every feed; received = loaded + rejected';

create table if not exists raw.rejects (
    batch_id bigint not null references raw.batch_log (batch_id),
    feed text not null,
    row_number integer not null,
    reason_code text not null,
    reason_field text,
    record jsonb not null,
    primary key (batch_id, row_number)
);
comment on table raw.rejects is '拒收记录 Rejected rows with their reason code (quarantine)';
"""

# Keys other feeds refer to (`references:` in a contract), with the first day a loaded batch held them
# (in a loaded row or a rejected one): a reference of day D is known when first_day <= D. Kept by the
# loader; a few hundred rows, so checking a batch's references never scans a raw table.
REFERENCE_KEYS_DDL = """
create table raw.reference_keys (
    feed text not null,
    key text not null,
    first_day date not null,
    primary key (feed, key)
);
comment on table raw.reference_keys is '参照键 Keys other feeds refer to (compounds, communities, enterprises), with the first day a batch held them';
"""


def ensure_base(conn: psycopg.Connection) -> None:
    # the ingest DAGs run side by side: one creator of schemas and tables at a time (until commit)
    conn.execute("select pg_advisory_xact_lock(hashtext('shumei raw ddl'))")
    conn.execute(BASE_DDL)
    if conn.execute("select to_regclass('raw.reference_keys')").fetchone()[0] is None:
        conn.execute(REFERENCE_KEYS_DDL)
        # a warehouse loaded before the table existed: its keys from the batches already loaded
        for feed, key in referenced_keys().items():
            if conn.execute("select to_regclass(%s)", (f"raw.{feed}",)).fetchone()[0] is not None:
                record_reference_keys(conn, feed, key, None)


def referenced_keys() -> dict[str, str]:
    """{feed: key field} of every feed some contract's field refers to."""
    from shumei.ingest.contracts import load_contracts

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
    """).format(key=sql.Identifier(key), raw=sql.SQL("{}.{}").format(sql.Identifier(RAW), sql.Identifier(feed)),
                which=which), {"f": feed, "key": key, "b": batch_id})


def _ensure_table(conn: psycopg.Connection, schema_name: str, table: str, columns: list[tuple[str, str]],
                  comment: str) -> bool:
    """Creates the table if missing (returns True), checks its columns otherwise."""
    rows = conn.execute("""select column_name, data_type from information_schema.columns
                           where table_schema = %s and table_name = %s order by ordinal_position""",
                        (schema_name, table)).fetchall()
    created = not rows
    if rows:
        have = [r[0] for r in rows]
        want = [c for c, _ in columns]
        if schema_name == RESTRICTED and have == want[:len(have)] and len(want) > len(have):
            # the restricted table gained columns at its end (2026-12: the originals of masked free
            # text): added, empty for the batches loaded before
            conn.execute(sql.SQL("alter table {}.{} {}").format(
                sql.Identifier(schema_name), sql.Identifier(table), sql.SQL(", ").join(
                    sql.SQL("add column {} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns[len(have):])))
            have = want
        if have != want:
            raise RuntimeError(f"{schema_name}.{table} has columns {have} but the contract needs {want}: "
                               "the contract changed; write a migration (see docs/operations.md)")
    else:
        cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns)
        conn.execute(sql.SQL("create table {}.{} ({})").format(sql.Identifier(schema_name), sql.Identifier(table),
                                                              cols))
    # a row is (batch, row number): the index finds a batch's rows, or single rows of it, at any size
    # of the table. Tables made before 2026-11-27 had an index on _batch_id alone, replaced here (once).
    conn.execute(sql.SQL("create unique index if not exists {} on {}.{} (_batch_id, _row_number)").format(
        sql.Identifier(f"{table}_batch_row"), sql.Identifier(schema_name), sql.Identifier(table)))
    for old in (f"{table}__batch_id_idx", f"{table}_batch_row_brin"):
        conn.execute(sql.SQL("drop index if exists {}.{}").format(sql.Identifier(schema_name), sql.Identifier(old)))
    if not created:
        return False
    conn.execute(sql.SQL("comment on table {}.{} is {}").format(sql.Identifier(schema_name), sql.Identifier(table),
                                                               sql.Literal(comment)))
    return True


_ENSURED: set[tuple[str, str]] = set()


def forget_ensured() -> None:
    """Forgets which feed tables this process has ensured: after the raw schemas were dropped (a test's
    fresh raw layer), the next ensure_feed_tables creates them again."""
    _ENSURED.clear()


def ensure_feed_tables(conn: psycopg.Connection, contract: Contract) -> None:
    """Creates (or checks) the feed's tables and commits; once per process and server."""
    key = (conn.info.dsn, contract.feed)
    if key in _ENSURED:
        return
    ensure_base(conn)
    created = _ensure_table(conn, RAW, contract.table, contract.raw_columns(),
                            f"原始数据 Raw feed {contract.feed} (source {contract.source}, contract v{contract.version})")
    for f in contract.public_fields if created else ():
        text = f"{f.zh} {f.description}".strip()
        if text:
            conn.execute(sql.SQL("comment on column {}.{}.{} is {}").format(
                sql.Identifier(RAW), sql.Identifier(contract.table), sql.Identifier(f.name), sql.Literal(text)))
    if contract.restricted_fields:
        _ensure_table(conn, RESTRICTED, f"{contract.table}_pii", contract.restricted_columns(),
                      f"个人信息 Personal data of feed {contract.feed}, restricted")
    conn.commit()
    _ENSURED.add(key)
