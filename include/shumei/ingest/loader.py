"""Loading one batch of one feed into the raw layer: COPY, validation, one transaction.

Inside the caller's transaction (a failure leaves nothing behind): the batch-log entry is opened and a
rerun's earlier batch of the day removed; JSON rows stream through the fast path (fastpath.py) straight
into raw.<feed>, every other row (and every workbook or CSV row) goes to the SQL validator, which gives
each row its first failing check (`_reason_cases`; the rules and their homes: docs/contracts.md);
rejected rows go to raw.rejects with their reason, clear personal data and the originals of free text
only to raw_restricted; keys repeated within the batch are moved to raw.rejects; the batch log records
received = loaded + rejected (a CHECK holds it). A batch with the wrong structure raises
BatchStructureError, whose message names feed, batch, row and column, never a value.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import IO, Any

import msgspec
import psycopg
from psycopg import sql

from shumei.ingest import schema
from shumei.ingest.contracts import FUTURE_TOLERANCE_DAYS, Contract, Field, division_codes, valid_uscc
from shumei.ingest.fastpath import FastPath, Split, rows_sharing_a_key
from shumei.ingest.masking import mask_free_text

# rows per chunk of the fast path (half a megabyte of CSV): small writes let PostgreSQL take in one
# chunk while the next is prepared
FAST_CHUNK_ROWS = 1000
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
    # every column of the contract is always sent (empty or null when it has no value)
    missing = sorted(f.header for f in contract.fields if f.header not in seen)
    extra = sorted(seen - {f.header for f in contract.fields})
    problems = [f"missing column(s) {missing}"] * bool(missing) + [
        f"unexpected column(s) {extra} (schema drift: renamed or added)"] * bool(extra)
    if problems:
        raise BatchStructureError(f"feed {contract.feed} (contract v{contract.version}): " + "; ".join(problems))


@dataclass
class JsonDocs:
    """A batch as JSON documents: `docs` yields the bytes of one each, an API page whose rows are the
    array under `items_key`, or (items_key None) one row, as in a JSON-lines file. Malformed JSON or
    text that is not UTF-8 refuses the batch."""

    docs: Iterable[bytes]
    items_key: str | None = None


SPOOL_BYTES = 16 * 2**20  # spooled lines stay in memory up to this size, then go to a temporary file


def _items(source: JsonDocs) -> Iterator[bytes | msgspec.Raw]:
    """The batch's rows in order, each as the bytes of its JSON value (not parsed yet)."""
    if source.items_key is None:
        for doc in source.docs:
            doc = doc.rstrip(b"\r\n")
            if doc.strip():
                yield doc
        return
    page_type = msgspec.defstruct("Page", [("items", list[msgspec.Raw])], rename={"items": source.items_key})
    decode = msgspec.json.Decoder(page_type).decode
    for doc in source.docs:
        try:
            page = decode(doc)
        except msgspec.ValidationError as exc:
            raise BatchStructureError(f"a document has no {source.items_key!r} array: {exc}") from exc
        except msgspec.DecodeError as exc:
            # msgspec refuses a page that escapes half a UTF-16 pair (\ud800): such a value is an
            # invalid character of its row (invalid_character), not a malformed page
            try:
                items = json.loads(doc).get(source.items_key)
            except (ValueError, AttributeError):
                items = None
            if not isinstance(items, list):
                raise BatchStructureError(f"the source sent malformed JSON: {exc}") from None
            yield from (json.dumps(item).encode() for item in items)
            continue
        yield from page.items


# U+0000 and unpaired UTF-16 surrogates: characters no PostgreSQL text can hold
_INVALID_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def _json_record(contract: Contract, batch_id: int, row: int, item: bytes) -> list[str | None]:
    """A JSON row the fast path left to SQL, as the text of each field (_json_text); a row that is not
    an object with exactly the contract's keys refuses the batch, naming the row, never a value."""
    where = f"feed {contract.feed}, batch {batch_id}: row {row}"
    try:
        value = json.loads(item.decode(), parse_float=Decimal)
    except UnicodeDecodeError:
        raise BatchStructureError(f"{where} is not UTF-8 text (another encoding, or corrupt bytes): "
                                  "the source must send UTF-8") from None
    except ValueError:
        raise BatchStructureError(f"{where} is malformed JSON") from None
    if not isinstance(value, dict):
        raise BatchStructureError(f"{where} is not a JSON object")
    try:
        check_structure(contract, value)
    except BatchStructureError as exc:
        raise BatchStructureError(f"{where}: {exc}") from None
    return [_json_text(value[f.header]) for f in contract.fields]


def _json_text(value: Any) -> str | None:
    """A JSON value as the text PostgreSQL will parse: a text with only the spaces around it trimmed
    (what the fast path checks for), a number with its digits as sent."""
    if isinstance(value, str):
        return value.strip(" ") or None
    return format(value, "f") if isinstance(value, Decimal) else to_text(value)


def _load_json(cur: psycopg.Cursor, contract: Contract, source: JsonDocs, meta: BatchMeta, batch_id: int,
               pii_key: str, keys: _KeyHashes, known: Mapping[str, frozenset[str]]) -> tuple[int, int, int]:
    """Streams the batch: rows the fast path accepts are COPYed into raw.<feed> (their clear personal
    data into raw_restricted, after), their keys to `keys`; the others, as records, into _src_text
    for the SQL validator. Returns (rows received, rows COPYed into raw.<feed>, rows left to SQL)."""
    fast = FastPath(contract, meta.interval_end, pii_key, batch_id, meta.interval_start, known)
    n = n_other = 0
    with (tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as restricted,
          tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as others):
        with cur.copy(sql.SQL("copy {} ({}) from stdin with (format csv, null 'null')").format(
                schema.table(contract), _names(fast.raw_columns()))) as copy:
            for chunk in _chunks(_items(source), FAST_CHUNK_ROWS):
                split = fast.split(n + 1, chunk) if fast.supported else Split(  # else every row to SQL
                    b"", b"", list(enumerate(map(bytes, chunk), start=n + 1)), array("q"), array("q"))
                if split.raw:
                    copy.write(split.raw)
                restricted.write(split.restricted)
                for row, item in split.others:
                    others.write(_record_line(contract, row, _json_record(contract, batch_id, row, item)).encode())
                n, n_other = n + len(chunk), n_other + len(split.others)
                keys.hashes.extend(split.key_hashes)
                keys.rows.extend(split.key_rows)
        copied = cur.rowcount
        if contract.restricted_fields and n > n_other:
            _copy_file(cur, sql.SQL("copy {} ({}) from stdin with (format csv, null 'null')").format(
                schema.table(contract, restricted=True), _names(fast.restricted_columns())), restricted)
        _create_src_text(cur, contract)
        _copy_file(cur, sql.SQL("copy _src_text from stdin"), others)
    return n, copied, n_other


@dataclass
class _KeyHashes:
    """hash() of the key of every loaded row of the batch, and its row number: rows whose hashes
    collide are the only ones that can repeat a key, so no pass over the batch is needed."""

    rows: array = field(default_factory=lambda: array("q"))
    hashes: array = field(default_factory=lambda: array("q"))

    def add(self, row_number: int, key: tuple) -> None:
        self.rows.append(row_number)
        self.hashes.append(hash(key[0] if len(key) == 1 else key))


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    items = iter(items)
    return iter(lambda: list(islice(items, size)), [])


def _names(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _copy_file(cur: psycopg.Cursor, statement: sql.Composable, spool: IO[bytes]) -> None:
    spool.seek(0)
    with cur.copy(statement) as copy:
        while chunk := spool.read(2**20):
            copy.write(chunk)


def _create_src_text(cur: psycopg.Cursor, contract: Contract) -> None:
    names = [f.name for f in contract.fields] + [f"_original_{f.name}" for f in contract.free_text_fields]
    cur.execute(sql.SQL("create temporary table _src_text (_row_number integer, _invalid text, {}) on commit drop"
                        ).format(sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(n)) for n in names)))


def _record_line(contract: Contract, row: int, values: list[str | None]) -> str:
    """A row (a text or None a field) as a COPY line of _src_text: the row number, the first field
    holding a character no PostgreSQL text can hold (U+0000, replaced by U+FFFD) or null, the texts
    with free text masked (masking.mask_free_text, as on the fast path), then the originals of the free
    text (for raw_restricted only)."""
    pairs = list(zip(contract.fields, values, strict=True))
    invalid = next((f.name for f, v in pairs if v is not None and _INVALID_CHARACTER.search(v)), None)
    texts = [mask_free_text(v) if f.free_text else v for f, v in pairs] + [v for f, v in pairs if f.free_text]
    line = "\t".join("\\N" if v is None else v.translate(_ESCAPES) for v in [invalid, *texts])
    return f"{row}\t{_INVALID_CHARACTER.sub(chr(0xFFFD), line) if invalid else line}\n"


def _copy_records(cur: psycopg.Cursor, contract: Contract, records: Iterable[Mapping[str, Any]]) -> int:
    """COPY rows given as {header: value} (workbooks, CSV) into _src_text, a text column a field."""
    _create_src_text(cur, contract)
    count = 0
    with cur.copy("copy _src_text from stdin") as copy:  # (psycopg buffers the writes)
        for count, record in enumerate(records, start=1):
            copy.write(_record_line(contract, count, [to_text(record.get(f.header)) for f in contract.fields]))
    return count


def _hmac_sql(column: sql.Composable, key: str) -> sql.Composable:
    """HMAC-SHA256 (RFC 2104) of the value without spaces, lowercased, computed by PostgreSQL. The
    key's inner and outer pads are derived here; no extension (pgcrypto) is needed."""
    raw = key.encode()
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in raw)
    opad = bytes(b ^ 0x5C for b in raw)
    return sql.SQL("encode(sha256({o} || sha256({i} || convert_to(lower(replace({c}, ' ', '')), 'UTF8'))), 'hex')"
                   ).format(o=sql.Literal(opad), i=sql.Literal(ipad), c=column)


def _build_incoming(cur: psycopg.Cursor, contract: Contract, meta: BatchMeta, pii_key: str,
                    known: Mapping[str, frozenset[str]]) -> None:
    """One pass over _src_text: keyed hashes of PII, and each row's first failing check."""
    cases = _reason_cases(contract, meta, _valid_codes(cur, contract), known)
    reason = sql.SQL("case {} end").format(sql.SQL(" ").join(sql.SQL("when {} then {}").format(
        when, sql.Literal(code) if expr is None else expr) for code, when, expr in cases))
    hashes = sql.SQL("").join(
        sql.SQL(", {} as {}").format(_hmac_sql(sql.SQL("s.{}").format(sql.Identifier(f.name)), pii_key),
                                     sql.Identifier(f"{f.name}_hash")) for f in contract.pii_fields)
    # clear PII and the originals of free text stay in this temporary table (dropped at commit) and in
    # raw_restricted only
    cur.execute(sql.SQL("create temporary table _incoming on commit drop as "
                        "select s.*{hashes}, {reason} as _reason from _src_text s").format(hashes=hashes, reason=reason))
    cur.execute("drop table _src_text")


# Cheap shape checks before pg_input_is_valid (which also accepts words like 'yesterday', 'now' or
# 'NaN', and guesses: '01/05/2023' is 5 January under DateStyle MDY): only ISO-8601 dates
# (YYYY-MM-DD) and timestamps of such a date with an offset (as in RFC 3339, 'T' and 'Z' may be
# lowercase), and plain numbers, are valid. Written without regular expressions, which cost several
# times more per row.
def _type_ok(col: sql.Composable, f: Field) -> sql.Composable:
    if f.type == "timestamp":
        return sql.SQL("{day_time} and {off} and pg_input_is_valid({c}, 'timestamptz')").format(
            day_time=_iso_day_time(col), c=col, off=_has_offset(col))
    if f.type == "date":
        return sql.SQL("length({c}) = 10 and {iso} and pg_input_is_valid({c}, 'date')").format(iso=_iso_day(col), c=col)
    if f.type == "integer":
        return sql.SQL("pg_input_is_valid({c}, 'bigint')").format(c=col)
    if f.type == "number":
        return sql.SQL("left(ltrim({c}, '+-'), 1) between '0' and '9' and pg_input_is_valid({c}, 'numeric')"
                       ).format(c=col)
    return sql.SQL("lower({c}) in ('true', 'false', 't', 'f', '1', '0', 'yes', 'no')").format(c=col)  # boolean


def _type_reason(col: sql.Composable, f: Field) -> sql.Composable | None:
    """The reason of a value that fails its type check where it can be more than invalid_type: a date
    in a form other than ISO 8601, one PostgreSQL would read (guessing the order of day and month) or
    digits split by '/', '-' or '.' (28/12/2022), is date_not_iso; an ISO timestamp without offset is
    timestamp_without_offset; a serial number or a word stays invalid_type."""
    if f.type not in ("date", "timestamp"):
        return None
    whens = [(sql.SQL("not {iso} and left({c}, 1) between '0' and '9' and (pg_input_is_valid({c}, {t}) "
                      "or translate(left({c}, 10), '0123456789', '') in ('//', '--', '..'))").format(
        iso=_iso_day(col), c=col, t=sql.Literal(f.pg_type)), "date_not_iso")]
    if f.type == "timestamp":
        whens.append((sql.SQL("{} and pg_input_is_valid({}, 'timestamp')").format(_iso_day_time(col), col),
                      "timestamp_without_offset"))
    return sql.SQL("case {} else {} end").format(sql.SQL(" ").join(
        sql.SQL("when {} then {}").format(when, sql.Literal(f"{reason}:{f.name}")) for when, reason in whens),
        sql.Literal(f"invalid_type:{f.name}"))


def _iso_day(col: sql.Composable) -> sql.Composable:
    """The first ten characters are YYYY-MM-DD in shape: eight ASCII digits, '-' at 5 and 8 (DOMAIN
    §8: a date in any other form, such as 01/05/2023, is rejected, never guessed)."""
    return sql.SQL("(substr({c}, 5, 1) = '-' and substr({c}, 8, 1) = '-' "
                   "and translate(left({c}, 10), '0123456789', '') = '--')").format(c=col)


def _iso_day_time(col: sql.Composable) -> sql.Composable:
    return sql.SQL("{iso} and upper(substr({c}, 11, 1)) in ('T', ' ')").format(iso=_iso_day(col), c=col)


def _has_offset(col: sql.Composable) -> sql.Composable:
    """Ends in Z, +hh, +hhmm or +hh:mm (the position keeps the date's own '-' out of it)."""
    return sql.SQL("(upper(right({c}, 1)) = 'Z' or (length({c}) > 16 and (substr({c}, length({c}) - 5, 1) in ('+', '-') "
                   "or substr({c}, length({c}) - 4, 1) in ('+', '-') or substr({c}, length({c}) - 2, 1) in ('+', '-'))))"
                   ).format(c=col)


def _reason_cases(contract: Contract, meta: BatchMeta, valid_codes: list[str],
                  known: Mapping[str, frozenset[str]]) -> list[tuple[str, sql.Composable, sql.Composable | None]]:
    """(reason, SQL condition true when the row fails, SQL giving the reason or None: `reason`) in the
    order they are reported."""
    # first: a value that held a character no PostgreSQL text can hold (replaced by U+FFFD on the way in)
    checks = [("invalid_character", sql.SQL("_invalid is not null"), sql.SQL("'invalid_character:' || _invalid"))]
    horizon = {"timestamp": f"{meta.interval_end.isoformat()} 00:00:00+08", "date": meta.interval_end.isoformat()}
    for f in contract.fields:
        col = sql.Identifier(f.name)
        if f.required:
            checks.append((f"missing_required:{f.name}", sql.SQL("{} is null").format(col), None))
        if f.pii:
            continue
        if f.type != "string":  # one test on the common path; which reason only when it fails
            checks.append((f"invalid_type:{f.name}", sql.SQL("{c} is not null and not ({ok})").format(
                c=col, ok=_type_ok(col, f)), _type_reason(col, f)))
        # (reason, applies, condition on a non-null value, its value); the contract's schema allows
        # min, max and not_future only on the types they fit
        rules = [("not_allowed", f.allowed is not None, "{c} <> all({v})", [str(a) for a in f.allowed or ()]),
                 ("out_of_range", f.min is not None, "{t} < {v}", f.min),
                 ("out_of_range", f.max is not None, "{t} > {v}", f.max),
                 ("pattern_mismatch", bool(f.pattern), "{c} !~ {v}", f.pattern),
                 ("invalid_uscc", f.check == "uscc", "{c} <> all({v})", valid_codes),
                 ("invalid_division_code", f.check == "division_code", "{c} <> all({v})",  # contracts.divisions_file()
                  f.check == "division_code" and sorted(division_codes())),
                 ("unknown_reference", bool(f.references), "{c} <> all({v})", sorted(known.get(f.name, ()))),
                 ("future_date", f.not_future, "{t} >= {v}::{ty} + {tol}::interval", horizon.get(f.type))]
        for reason, applies, condition, value in rules:
            if applies:
                checks.append((f"{reason}:{f.name}", sql.SQL("{c} is not null and " + condition).format(
                    c=col, t=sql.SQL("{}::{}").format(col, sql.SQL(f.pg_type)), v=sql.Literal(value),
                    ty=sql.SQL(f.pg_type), tol=sql.Literal(f"{FUTURE_TOLERANCE_DAYS} days")), None))
    for earlier, later in contract.ordered:
        checks.append((f"out_of_order:{later}<{earlier}", sql.SQL("{a}::timestamptz > {b}::timestamptz").format(
            a=sql.Identifier(earlier), b=sql.Identifier(later)), None))
    return checks


def _known_keys(cur: psycopg.Cursor, contract: Contract, meta: BatchMeta) -> dict[str, frozenset[str]]:
    """For each field with `references: <feed>.<key>`: the keys of that feed known on the batch's day
    (raw.reference_keys, first seen on or before it; a feed of the same drop is loaded first, in the
    same transaction). DOMAIN §8: an id that is not known is rejected (unknown_reference)."""
    feeds = {f.name: f.references.split(".")[0] for f in contract.fields if f.references}
    keys = dict(cur.execute("""select feed, array_agg(key) from raw.reference_keys where feed = any(%s)
                               and first_day <= %s group by feed""", (sorted(set(feeds.values())), meta.interval_start)))
    return {name: frozenset(keys.get(feed, ())) for name, feed in feeds.items()}


def _valid_codes(cur: psycopg.Cursor, contract: Contract) -> list[str]:
    """The distinct credit codes of the batch that pass python-stdnum's GB 32100 check."""
    codes: set[str] = set()
    for f in contract.fields:
        if f.check == "uscc":
            cur.execute(sql.SQL("select distinct {} from _src_text").format(sql.Identifier(f.name)))
            codes.update(r[0] for r in cur.fetchall() if r[0] is not None)
    return sorted(c for c in codes if valid_uscc(c))


def _reject_duplicates(cur: psycopg.Cursor, contract: Contract, batch_id: int, among: list[int] | None) -> int:
    """Keys repeated within the batch, found among its loaded rows (`among`: only these row numbers
    can share a key; None: any row). Same key, different content: every copy is rejected (which one
    is right cannot be known). Same key, same content: the first copy stays, the repeats are rejected
    as repeats. Content is compared as loaded (typed values, keyed hashes of personal data).
    Returns the number of rows moved from raw.<feed> to raw.rejects."""
    if not contract.primary_key or among == []:
        return 0
    raw = schema.table(contract)
    keys = _names(contract.primary_key)
    payload = _names(c for c, _ in contract.raw_columns() if not c.startswith("_"))
    if among is None:
        which = sql.SQL("({keys}) in (select {keys} from {raw} where _batch_id = %(b)s group by {keys} "
                        "having count(*) > 1)").format(keys=keys, raw=raw)
    else:
        which = sql.SQL("_row_number = any(%(rows)s)")
    cur.execute(sql.SQL("create temporary table _candidates on commit drop as "
                        "select ctid as _tid, r.* from {raw} r where _batch_id = %(b)s and {which}")
                .format(raw=raw, which=which), {"b": batch_id, "rows": among})
    cur.execute(sql.SQL("""
        create temporary table _duplicates on commit drop as
        select _tid, _row_number, case when n_rows > n_same then 'duplicate_key_conflict'
                                       else 'duplicate_key_repeat' end as reason
        from (select _tid, _row_number,
                     count(*) over (partition by {keys}) as n_rows,
                     count(*) over (partition by {keys}, md5(row({payload})::text)) as n_same,
                     row_number() over (partition by {keys} order by _row_number) as rn
              from _candidates) ranked
        where n_rows > 1 and (n_rows > n_same or rn > 1)
    """).format(keys=keys, payload=payload))
    repeats = cur.rowcount
    if repeats:
        cur.execute("""
            insert into raw.rejects (batch_id, feed, row_number, reason_code, reason_field, record)
            select %(b)s, %(f)s, d._row_number, d.reason, null,
                   to_jsonb(c) - '_tid' - '_batch_id' - '_interval_start' - '_row_number'
            from _candidates c join _duplicates d using (_row_number)
        """, {"b": batch_id, "f": contract.feed})
        cur.execute(sql.SQL("delete from {raw} where ctid = any(array(select _tid from _duplicates))").format(raw=raw))
        if contract.restricted_fields:
            cur.execute(sql.SQL("delete from {} r using _duplicates d where r._batch_id = %(b)s "
                                "and r._row_number = d._row_number").format(schema.table(contract, restricted=True)),
                        {"b": batch_id})
    cur.execute("drop table _duplicates, _candidates")
    return repeats


def _supersede(cur: psycopg.Cursor, contract: Contract, meta: BatchMeta) -> list[int]:
    """A rerun of a day replaces that day's batch: its rows go, its log entry says superseded."""
    cur.execute("""select batch_id from raw.batch_log
                   where feed = %s and interval_start = %s and status = 'loaded' for update""",
                (meta.feed, meta.interval_start))
    old = [r[0] for r in cur.fetchall()]
    if old:
        for restricted in (False, True) if contract.restricted_fields else (False,):
            cur.execute(sql.SQL("delete from {} where _batch_id = any(%s)").format(
                schema.table(contract, restricted)), (old,))
        cur.execute("delete from raw.rejects where batch_id = any(%s)", (old,))
    return old


def _insert_incoming(cur: psycopg.Cursor, contract: Contract, meta: BatchMeta, batch_id: int,
                     keys: _KeyHashes | None) -> int:
    """The rows the SQL validator saw: accepted ones cast into raw.<feed> (clear personal data into
    raw_restricted; their keys to `keys`), rejected ones into raw.rejects with their reason. Returns
    the number accepted."""
    given = {"_batch_id": sql.Literal(batch_id), "_interval_start": sql.Literal(meta.interval_start)}

    def cast(columns: list[tuple[str, str]], source: Mapping[str, str]) -> sql.Composed:  # from _incoming
        return sql.SQL(", ").join(given.get(c) or sql.SQL("{}::{}").format(
            sql.Identifier(source.get(c, c)), sql.SQL(t)) for c, t in columns)

    returning = sql.SQL(" returning _row_number, {}").format(
        _names(contract.primary_key)) if keys is not None else sql.SQL("")
    cur.execute(sql.SQL("insert into {} ({}) select {} from _incoming where _reason is null order by _row_number{}")
                .format(schema.table(contract), _names(c for c, _ in contract.raw_columns()),
                        cast(contract.raw_columns(), {}), returning))
    accepted = cur.rowcount
    if keys is not None:
        for row_number, *key in cur.fetchall():
            keys.add(row_number, tuple(key))
    if contract.restricted_fields:  # free text as it came (raw.<feed> has it masked)
        cur.execute(sql.SQL("insert into {} ({}) select {} from _incoming where _reason is null").format(
            schema.table(contract, restricted=True), _names(c for c, _ in contract.restricted_columns()),
            cast(contract.restricted_columns(), {f.name: f"_original_{f.name}" for f in contract.free_text_fields})))
    # a rejected record keeps everything but clear personal data (its keyed hash stays)
    strip_pii = sql.SQL("").join(sql.SQL(" - {}").format(sql.Literal(c)) for c in
                                 [f.name for f in contract.pii_fields] + [f"_original_{f.name}" for f in contract.free_text_fields])
    cur.execute(sql.SQL("""insert into raw.rejects (batch_id, feed, row_number, reason_code, reason_field, record)
                   select %s, %s, _row_number, split_part(_reason, ':', 1), nullif(split_part(_reason, ':', 2), ''),
                          to_jsonb(i) - '_reason' - '_row_number' - '_invalid'{strip}
                   from _incoming i where _reason is not null""").format(strip=strip_pii), (batch_id, meta.feed))
    cur.execute("drop table _incoming")  # several feeds may load in one transaction
    return accepted


def load_batch(conn: psycopg.Connection, contract: Contract, source: JsonDocs | Iterable[Mapping[str, Any]],
               meta: BatchMeta, pii_key: str, checksum: str | Callable[[], str]) -> BatchResult:
    """Loads one batch inside the connection's current transaction (the caller commits, or rolls back
    and nothing of the batch remains). `source`: JsonDocs, or rows as {header: value} mappings.
    `checksum`: of the source bytes (a callable is asked once the source is read). The feed's tables
    must exist: `shumei.migrations.migrate` (or `schema.ensure_feed_tables`) in a committed transaction first."""
    if contract.pii_fields and not pii_key:
        raise RuntimeError("SHUMEI_PII_HASH_KEY is not set: personal data cannot be hashed")
    cur = conn.cursor()
    cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"{meta.feed}/{meta.interval_start}",))
    superseded = _supersede(cur, contract, meta)
    cur.execute("""insert into raw.batch_log (source, feed, interval_start, interval_end, file_or_page,
                       received_at, status, dag_run_id, contract_version)
                   values (%s, %s, %s, %s, %s, now(), 'loading', %s, %s) returning batch_id""",
                (meta.source, meta.feed, meta.interval_start, meta.interval_end, meta.file_or_page,
                 meta.dag_run_id, contract.version))
    batch_id = cur.fetchone()[0]
    # repeated keys are found from hashes of the loaded rows' keys where the keys are text (equal
    # text in Python is equal text in SQL); otherwise by grouping the batch's rows in SQL
    keys = _KeyHashes() if contract.primary_key and all(
        f.type == "string" for f in contract.fields if f.name in contract.primary_key) else None
    loaded = 0
    known = _known_keys(cur, contract, meta)
    if isinstance(source, JsonDocs):
        count, loaded, to_sql = _load_json(cur, contract, source, meta, batch_id, pii_key, keys or _KeyHashes(), known)
    else:
        count = to_sql = _copy_records(cur, contract, source)
    if count == 0 and meta.expect_rows:
        raise BatchStructureError(f"feed {contract.feed}: the batch for {meta.interval_start} has no rows "
                                  f"where rows are expected ({meta.file_or_page})")
    if to_sql:
        _build_incoming(cur, contract, meta, pii_key, known)
        loaded += _insert_incoming(cur, contract, meta, batch_id, keys)
    else:
        cur.execute("drop table _src_text")
    among = rows_sharing_a_key(keys.hashes, keys.rows) if keys is not None else None
    loaded -= _reject_duplicates(cur, contract, batch_id, among)
    if callable(checksum):
        checksum = checksum()
    # the counts are PostgreSQL's (COPY, INSERT, DELETE); the batch log's CHECK holds them to
    # received = loaded + rejected, rejected as counted in raw.rejects
    by_reason = dict(cur.execute("select reason_code, count(*) from raw.rejects where batch_id = %s group by 1",
                                 (batch_id,)).fetchall())
    rejected = sum(by_reason.values())
    cur.execute("""update raw.batch_log set rows_received = %s, rows_loaded = %s, rows_rejected = %s,
                       checksum = %s, status = 'loaded', finished_at = now(), superseded_batches = %s
                   where batch_id = %s""", (count, loaded, rejected, checksum, superseded, batch_id))
    if superseded:
        cur.execute("update raw.batch_log set status = 'superseded', superseded_by = %s where batch_id = any(%s)",
                    (batch_id, superseded))
    if (key := schema.referenced_keys().get(contract.feed)) is not None:  # other feeds refer to this one
        schema.record_reference_keys(conn, contract.feed, key, batch_id)
    return BatchResult(batch_id, meta.feed, meta.interval_start, count, loaded, rejected, checksum,
                       by_reason, superseded)
