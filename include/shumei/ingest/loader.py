"""Loading one batch of one feed into the raw layer: COPY, set-based validation, one transaction.

How a batch moves (all inside the caller's transaction, so a failure leaves nothing behind):
1. The rows stream from the source client into a temporary table of text columns by COPY (psycopg 3),
   with PII fields replaced by a keyed hash; the clear values go to raw_restricted.<feed>_pii.
2. Validation against the contract runs in SQL over the whole batch: types (pg_input_is_valid),
   required fields, allowed values, ranges, patterns, credit-code check characters (the distinct codes
   are checked with python-stdnum), timestamps in order, dates not in the future, duplicate keys.
   Each failing row goes to raw.rejects with its first failing reason; the rest is cast into raw.<feed>.
3. The batch log records received = loaded + rejected (a CHECK constraint enforces it).
A batch with the wrong structure (missing, renamed or extra columns; no rows where rows are expected)
raises BatchStructureError before anything is written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from stdnum.cn import uscc

from shumei.ingest import schema
from shumei.ingest.contracts import Contract, Field

COPY_CHUNK_ROWS = 20_000
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class BatchStructureError(ValueError):
    """The batch as a whole does not match its contract: nothing of it is loaded."""


@dataclass
class BatchMeta:
    source: str
    feed: str
    interval_start: date
    interval_end: date
    file_or_page: str
    dag_run_id: str | None = None
    expect_rows: bool = False  # True: an empty batch is a structural error
    future_tolerance_days: int = 1


@dataclass
class BatchResult:
    batch_id: int
    feed: str
    interval_start: date
    rows_received: int
    rows_loaded: int
    rows_rejected: int
    checksum: str
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    superseded: list[int] = field(default_factory=list)


def pii_hash(value: str | None, key: str) -> str | None:
    """Keyed hash (HMAC-SHA256) of a personal value, normalised so the same phone/name matches."""
    if value is None or value == "":
        return None
    normalised = "".join(str(value).split()).lower()
    return hmac.new(key.encode(), normalised.encode(), hashlib.sha256).hexdigest()


def to_text(value: Any) -> str | None:
    """A source value as the text PostgreSQL will parse (None stays NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    return text if text != "" else None


def check_structure(contract: Contract, columns: Iterable[str]) -> None:
    """Source column names (headers or JSON keys) against the contract; raises naming the problem."""
    seen = set(columns)
    expected = {f.header for f in contract.fields}
    # every column of the contract is always sent (empty or null when it has no value)
    missing = sorted(f.header for f in contract.fields if f.header not in seen)
    extra = sorted(seen - expected)
    problems = []
    if missing:
        problems.append(f"missing column(s) {missing}")
    if extra:
        problems.append(f"unexpected column(s) {extra} (schema drift: renamed or added)")
    if problems:
        raise BatchStructureError(f"feed {contract.feed} (contract v{contract.version}): " + "; ".join(problems))


class _Staging:
    """Streams source records into the temporary text table, hashing PII on the way."""

    def __init__(self, cur: psycopg.Cursor, contract: Contract, pii_key: str):
        self.cur, self.contract, self.pii_key = cur, contract, pii_key
        self.digest = hashlib.sha256()
        self.count = 0
        # clear PII stays in this temporary table (dropped at commit) and in raw_restricted only
        self.columns = (["_row_number"] + [f.name for f in contract.fields]
                        + [f"{f.name}_hash" for f in contract.pii_fields])
        self.pii_positions = [i for i, f in enumerate(contract.fields) if f.pii]
        self.headers = [f.header for f in contract.fields]

    def create(self) -> None:
        cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in self.columns[1:])
        self.cur.execute(sql.SQL("create temporary table _incoming (_row_number integer, {}, _reason text) "
                                 "on commit drop").format(cols))

    def copy(self, records: Iterable[Mapping[str, Any]]) -> None:
        stmt = sql.SQL("copy _incoming ({}) from stdin").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in self.columns))
        with self.cur.copy(stmt) as copy:
            buf: list[str] = []
            for record in records:
                self.count += 1
                values = [to_text(record.get(h)) for h in self.headers]
                self.digest.update(json.dumps(values, ensure_ascii=False).encode())
                values.extend(pii_hash(values[i], self.pii_key) for i in self.pii_positions)
                line = "\t".join("\\N" if v is None else v.translate(_ESCAPES) for v in values)
                buf.append(f"{self.count}\t{line}\n")
                if len(buf) >= COPY_CHUNK_ROWS:
                    copy.write("".join(buf))
                    buf.clear()
            if buf:
                copy.write("".join(buf))


_SHAPES = {
    "integer": r"^[+-]?\d+$",
    "number": r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$",
    "boolean": r"(?i)^(true|false|t|f|1|0|yes|no)$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "timestamp": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$",
}


def _pg_check_type(f: Field) -> str:
    return {"integer": "bigint", "number": "numeric", "boolean": "boolean", "date": "date",
            "timestamp": "timestamptz", "string": "text"}[f.type]


def _reason_cases(contract: Contract, meta: BatchMeta, valid_codes: sql.Composable) -> list[tuple[str, sql.Composable]]:
    """(reason code, SQL condition that is true when the row fails) in the order they are reported."""
    checks: list[tuple[str, sql.Composable]] = []
    horizon = sql.Literal(f"{meta.interval_end.isoformat()} 00:00:00+08")
    tolerance = sql.Literal(f"{meta.future_tolerance_days} days")
    for f in contract.fields:
        col = sql.Identifier(f.name)
        if f.required:
            checks.append((f"missing_required:{f.name}", sql.SQL("{} is null").format(col)))
        if f.pii:
            continue
        if f.type == "timestamp":
            checks.append((f"timestamp_without_offset:{f.name}", sql.SQL("{c} ~ {p}").format(
                c=col, p=sql.Literal(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"))))
        if f.type != "string":
            # PostgreSQL also accepts words like 'yesterday' or 'NaN': only ISO-8601 shapes are valid
            checks.append((f"invalid_type:{f.name}", sql.SQL("{c} is not null and not ({c} ~ {p} and pg_input_is_valid({c}, {t}))")
                           .format(c=col, p=sql.Literal(_SHAPES[f.type]), t=sql.Literal(_pg_check_type(f)))))
        typed = sql.SQL("{}::{}").format(col, sql.SQL(_pg_check_type(f)))
        if f.allowed is not None:
            checks.append((f"not_allowed:{f.name}", sql.SQL("{c} is not null and {c} <> all({a})")
                           .format(c=col, a=sql.Literal([str(a) for a in f.allowed]))))
        if f.min is not None and f.type in ("integer", "number"):
            checks.append((f"out_of_range:{f.name}", sql.SQL("{c} is not null and {t} < {m}")
                           .format(c=col, t=typed, m=sql.Literal(f.min))))
        if f.max is not None and f.type in ("integer", "number"):
            checks.append((f"out_of_range:{f.name}", sql.SQL("{c} is not null and {t} > {m}")
                           .format(c=col, t=typed, m=sql.Literal(f.max))))
        if f.pattern:
            checks.append((f"pattern_mismatch:{f.name}", sql.SQL("{c} is not null and {c} !~ {p}")
                           .format(c=col, p=sql.Literal(f.pattern))))
        if f.check == "uscc":
            checks.append((f"invalid_uscc:{f.name}", sql.SQL("{c} is not null and {c} <> all({v})")
                           .format(c=col, v=valid_codes)))
        if f.check == "division_code":
            checks.append((f"invalid_division_code:{f.name}",
                           sql.SQL("{c} is not null and {c} !~ '^341523[0-9]{{6}}$'").format(c=col)))
        if f.not_future and f.type in ("date", "timestamp"):
            bound = horizon if f.type == "timestamp" else sql.Literal(meta.interval_end.isoformat())
            checks.append((f"future_date:{f.name}",
                           sql.SQL("{c} is not null and {t} >= {b}::{ty} + {tol}::interval")
                           .format(c=col, t=typed, b=bound, ty=sql.SQL(_pg_check_type(f)), tol=tolerance)))
    for earlier, later in contract.extra.get("ordered", []):
        checks.append((f"out_of_order:{later}<{earlier}",
                       sql.SQL("{a}::timestamptz > {b}::timestamptz").format(
                           a=sql.Identifier(earlier), b=sql.Identifier(later))))
    return checks


def _valid_codes(cur: psycopg.Cursor, contract: Contract) -> list[str]:
    """The distinct credit codes of the batch that pass python-stdnum's GB 32100 check."""
    codes: set[str] = set()
    for f in contract.fields:
        if f.check == "uscc":
            cur.execute(sql.SQL("select distinct {c} from _incoming where {c} is not null")
                        .format(c=sql.Identifier(f.name)))
            codes.update(r[0] for r in cur.fetchall())
    return sorted(c for c in codes if uscc.is_valid(c) and c == c.upper() and len(c) == 18)


def _classify(cur: psycopg.Cursor, contract: Contract, meta: BatchMeta) -> None:
    """Adds column _reason to _incoming: null for a valid row, else the first failing check."""
    valid = sql.Literal(_valid_codes(cur, contract))
    cases = _reason_cases(contract, meta, valid)
    if cases:
        case = sql.SQL("case {} end").format(sql.SQL(" ").join(
            sql.SQL("when {} then {}").format(cond, sql.Literal(code)) for code, cond in cases))
        cur.execute(sql.SQL("update _incoming set _reason = {}").format(case))
    if contract.primary_key:
        keys = sql.SQL(", ").join(sql.Identifier(k) for k in contract.primary_key)
        payload = sql.SQL(", ").join(sql.Identifier(f.name) for f in contract.fields)
        # Same key, different content: every copy is rejected (which is right cannot be known).
        # Same key, same content: the first copy is kept, repeats are rejected as repeats.
        cur.execute(sql.SQL("""
            with ranked as (
                select _row_number,
                       count(*) over (partition by {keys}) as n_rows,
                       count(*) over (partition by {keys}, md5(row({payload})::text)) as n_same,
                       row_number() over (partition by {keys} order by _row_number) as rn
                from _incoming where _reason is null
            )
            update _incoming i set _reason = case when r.n_rows > r.n_same then 'duplicate_key_conflict'
                                                  else 'duplicate_key_repeat' end
            from ranked r
            where i._row_number = r._row_number and r.n_rows > 1 and (r.n_rows > r.n_same or r.rn > 1)
        """).format(keys=keys, payload=payload))


def _supersede(cur: psycopg.Cursor, contract: Contract, meta: BatchMeta) -> list[int]:
    """A rerun of a day replaces that day's batch: its rows go, its log entry says superseded."""
    cur.execute("""select batch_id from raw.batch_log
                   where feed = %s and interval_start = %s and status = 'loaded' for update""",
                (meta.feed, meta.interval_start))
    old = [r[0] for r in cur.fetchall()]
    if old:
        cur.execute(sql.SQL("delete from {}.{} where _batch_id = any(%s)").format(
            sql.Identifier(schema.RAW), sql.Identifier(contract.table)), (old,))
        if contract.pii_fields:
            cur.execute(sql.SQL("delete from {}.{} where _batch_id = any(%s)").format(
                sql.Identifier(schema.RESTRICTED), sql.Identifier(f"{contract.table}_pii")), (old,))
        cur.execute("delete from raw.rejects where batch_id = any(%s)", (old,))
    return old


def load_batch(conn: psycopg.Connection, contract: Contract, records: Iterable[Mapping[str, Any]],
               meta: BatchMeta, pii_key: str, checksum: str | None = None) -> BatchResult:
    """Loads one batch inside the connection's current transaction (the caller commits).

    The feed's tables must exist: `schema.ensure_feed_tables` in a committed transaction first."""
    if contract.pii_fields and not pii_key:
        raise RuntimeError("SHUMEI_PII_HASH_KEY is not set: personal data cannot be hashed")
    cur = conn.cursor()
    cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"{meta.feed}/{meta.interval_start}",))
    staging = _Staging(cur, contract, pii_key)
    staging.create()
    staging.copy(records)
    if staging.count == 0 and meta.expect_rows:
        raise BatchStructureError(f"feed {contract.feed}: the batch for {meta.interval_start} has no rows "
                                  f"where rows are expected ({meta.file_or_page})")
    _classify(cur, contract, meta)
    superseded = _supersede(cur, contract, meta)
    checksum = checksum or staging.digest.hexdigest()
    cur.execute("""insert into raw.batch_log (source, feed, interval_start, interval_end, file_or_page,
                       received_at, checksum, status, dag_run_id, contract_version, rows_received)
                   values (%s, %s, %s, %s, %s, now(), %s, 'loading', %s, %s, %s) returning batch_id""",
                (meta.source, meta.feed, meta.interval_start, meta.interval_end, meta.file_or_page, checksum,
                 meta.dag_run_id, contract.version, staging.count))
    batch_id = cur.fetchone()[0]

    raw_cols = [c for c, _ in contract.raw_columns()]
    select_exprs = [sql.Literal(batch_id), sql.Literal(meta.interval_start), sql.Identifier("_row_number")]
    for f in contract.public_fields:
        select_exprs.append(sql.SQL("{}::{}").format(sql.Identifier(f.name), sql.SQL(f.pg_type)))
    for f in contract.pii_fields:
        select_exprs.append(sql.Identifier(f"{f.name}_hash"))
    cur.execute(sql.SQL("insert into {}.{} ({}) select {} from _incoming where _reason is null order by _row_number")
                .format(sql.Identifier(schema.RAW), sql.Identifier(contract.table),
                        sql.SQL(", ").join(sql.Identifier(c) for c in raw_cols), sql.SQL(", ").join(select_exprs)))
    loaded = cur.rowcount
    if contract.pii_fields:
        restricted = [c for c, _ in contract.restricted_columns()]
        exprs = [sql.Literal(batch_id), sql.Identifier("_row_number")] + [
            sql.SQL("{}::{}").format(sql.Identifier(c), sql.SQL(t)) for c, t in contract.restricted_columns()[2:]]
        cur.execute(sql.SQL("insert into {}.{} ({}) select {} from _incoming where _reason is null")
                    .format(sql.Identifier(schema.RESTRICTED), sql.Identifier(f"{contract.table}_pii"),
                            sql.SQL(", ").join(sql.Identifier(c) for c in restricted), sql.SQL(", ").join(exprs)))
    # a rejected record keeps everything but clear personal data (its keyed hash stays)
    strip_pii = sql.SQL("").join(sql.SQL(" - {}").format(sql.Literal(f.name)) for f in contract.pii_fields)
    cur.execute(sql.SQL("""insert into raw.rejects (batch_id, feed, row_number, reason_code, reason_field, record)
                   select %s, %s, _row_number, split_part(_reason, ':', 1), nullif(split_part(_reason, ':', 2), ''),
                          to_jsonb(i) - '_reason' - '_row_number'{strip}
                   from _incoming i where _reason is not null
                   returning reason_code""").format(strip=strip_pii), (batch_id, meta.feed))
    by_reason: dict[str, int] = {}
    for (code,) in cur.fetchall():
        by_reason[code] = by_reason.get(code, 0) + 1
    rejected = sum(by_reason.values())
    cur.execute("""update raw.batch_log set rows_loaded = %s, rows_rejected = %s, status = 'loaded',
                       finished_at = now(), superseded_batches = %s
                   where batch_id = %s""", (loaded, rejected, superseded, batch_id))
    if superseded:
        cur.execute("update raw.batch_log set status = 'superseded', superseded_by = %s where batch_id = any(%s)",
                    (batch_id, superseded))
    cur.execute("drop table _incoming")  # several feeds may load in one transaction
    return BatchResult(batch_id, meta.feed, meta.interval_start, staging.count, loaded, rejected, checksum,
                       by_reason, superseded)



def checked_records(contract: Contract, records: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Passes JSON records through, refusing the batch at the first record whose keys drift."""
    good: set[frozenset] = set()
    for record in records:
        keys = frozenset(record)
        if keys not in good:
            check_structure(contract, keys)
            good.add(keys)
        yield record
