"""The generic batch loader against a real PostgreSQL, with a contract written here."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from shumei.ingest.contracts import contract_from_doc
from shumei.ingest.loader import BatchMeta, BatchStructureError, check_structure, load_batch

pytestmark = pytest.mark.integration

CONTRACT = contract_from_doc({
    "feed": "test_orders", "source": "test", "format": "json", "version": 1,
    "primary_key": ["order_id"],
    "ordered": [["received_at", "closed_at"]],
    "fields": [
        {"name": "order_id", "type": "string", "required": True},
        {"name": "received_at", "type": "timestamp", "required": True, "not_future": True},
        {"name": "closed_at", "type": "timestamp"},
        {"name": "due_at", "type": "timestamp"},
        {"name": "channel", "type": "string", "allowed": ["12345", "12319"]},
        {"name": "score", "type": "integer", "min": 1, "max": 5},
        {"name": "uscc", "type": "string", "check": "uscc"},
        {"name": "caller_phone", "type": "string", "pii": True},
    ],
})

GOOD_USCC = "91110000600037341L"
BAD_USCC = "91350100M000100Y4Z"
DAY = date(2024, 3, 1)


def meta(**kw) -> BatchMeta:
    base = dict(source="test", feed="test_orders", interval_start=DAY, interval_end=date(2024, 3, 2),
                file_or_page="unit")
    base.update(kw)
    return BatchMeta(**base)


def row(order_id, **kw):
    base = {"order_id": order_id, "received_at": "2024-03-01T09:00:00+08:00", "closed_at": None,
            "due_at": "2030-03-15T17:30:00+08:00",
            "channel": "12345", "score": 3, "uscc": GOOD_USCC, "caller_phone": "138 0000 0000"}
    base.update(kw)
    return base


ROWS = [
    row("A1"),
    row("A2", closed_at="2024-03-01T10:00:00+08:00"),
    row("B1", received_at="yesterday"),                                 # invalid_type
    row("B2", channel="110"),                                           # not_allowed
    row("B3", score=9),                                                 # out_of_range
    row("B4", uscc=BAD_USCC),                                           # invalid_uscc
    row("B5", closed_at="2024-02-28T10:00:00+08:00"),                   # out_of_order
    row("B6", received_at="2030-01-01T00:00:00+08:00"),                 # future_date
    row("B7", received_at="2024-03-01T09:00:00"),                       # timestamp_without_offset
    row(None),                                                          # missing_required
    row("D1", score=1), row("D1", score=2),                             # duplicate_key_conflict x2
    row("R1"), row("R1"),                                               # duplicate_key_repeat x1
]


@pytest.fixture
def conn(empty_raw):
    return empty_raw(CONTRACT)


def test_rows_are_loaded_or_rejected_with_reason(conn):
    result = load_batch(conn, CONTRACT, ROWS, meta(), pii_key="k", checksum="c")
    conn.commit()
    assert result.rows_received == len(ROWS) == result.rows_loaded + result.rows_rejected
    assert result.rows_loaded == 3
    reasons = dict(conn.execute("select reason_code, count(*) from raw.rejects group by 1").fetchall())
    assert reasons == {"invalid_type": 1, "not_allowed": 1, "out_of_range": 1, "invalid_uscc": 1,
                       "out_of_order": 1, "future_date": 1, "timestamp_without_offset": 1,
                       "missing_required": 1, "duplicate_key_conflict": 2, "duplicate_key_repeat": 1}
    loaded = [r[0] for r in conn.execute("select order_id from raw.test_orders order by 1").fetchall()]
    assert loaded == ["A1", "A2", "R1"]


def test_personal_data_only_in_restricted_table(conn):
    load_batch(conn, CONTRACT, [row("A1")], meta(), pii_key="k", checksum="c")
    conn.commit()
    cols = [r[0] for r in conn.execute("""select column_name from information_schema.columns
                                          where table_schema='raw' and table_name='test_orders'""")]
    assert "caller_phone" not in cols and "caller_phone_hash" in cols
    hashed = conn.execute("select caller_phone_hash from raw.test_orders").fetchone()[0]
    # the SQL HMAC is standard HMAC-SHA256 of the value without spaces, lowercased
    assert hashed == hmac.new(b"k", b"13800000000", hashlib.sha256).hexdigest()
    clear = conn.execute("select caller_phone from raw_restricted.test_orders_pii").fetchone()[0]
    assert clear == "138 0000 0000"
    load_batch(conn, CONTRACT, [row("B1", received_at="bad")], meta(interval_start=date(2024, 3, 2),
                                                                  interval_end=date(2024, 3, 3)), pii_key="k",
               checksum="c")
    record = conn.execute("select record from raw.rejects").fetchone()[0]
    assert "caller_phone" not in record and record["caller_phone_hash"] == hashed


def test_rerun_replaces_the_batch(conn):
    first = load_batch(conn, CONTRACT, ROWS, meta(), pii_key="k", checksum="c")
    conn.commit()
    second = load_batch(conn, CONTRACT, ROWS, meta(), pii_key="k", checksum="c")
    conn.commit()
    assert second.superseded == [first.batch_id]
    n = conn.execute("select count(*) from raw.test_orders").fetchone()[0]
    assert n == second.rows_loaded
    assert conn.execute("select count(*) from raw.rejects").fetchone()[0] == second.rows_rejected
    statuses = conn.execute("select status from raw.batch_log order by batch_id").fetchall()
    assert statuses == [("superseded",), ("loaded",)]


def test_failure_leaves_nothing(conn):
    load_batch(conn, CONTRACT, [row("A1")], meta(), pii_key="k", checksum="c")
    conn.commit()

    def broken():
        yield row("A9")
        raise ConnectionError("source dropped the connection")

    with pytest.raises(ConnectionError):
        load_batch(conn, CONTRACT, broken(), meta(), pii_key="k", checksum="c")
    conn.rollback()
    assert conn.execute("select order_id from raw.test_orders").fetchall() == [("A1",)]
    assert conn.execute("select count(*) from raw.batch_log where status = 'loaded'").fetchone()[0] == 1


def test_structure_errors_name_the_problem():
    with pytest.raises(BatchStructureError, match=r"missing column\(s\) \['order_id'\]"):
        check_structure(CONTRACT, [f.header for f in CONTRACT.fields if f.name != "order_id"])
    with pytest.raises(BatchStructureError, match=r"unexpected column\(s\) \['region'\]"):
        check_structure(CONTRACT, [f.header for f in CONTRACT.fields] + ["region"])


def test_empty_batch_where_rows_expected_is_refused(conn):
    with pytest.raises(BatchStructureError, match="no rows"):
        load_batch(conn, CONTRACT, [], meta(expect_rows=True), pii_key="k", checksum="c")
    conn.rollback()


def test_json_documents_are_loaded_like_records(conn):
    """API pages and JSON lines (JsonDocs) load exactly as the same rows given as records."""
    from shumei.ingest.loader import JsonDocs

    page = json.dumps({"items": ROWS[:2], "count": 2}, ensure_ascii=False).encode()
    page2 = json.dumps({"items": ROWS[2:], "count": len(ROWS) - 2}, ensure_ascii=False, indent=2).encode()
    as_docs = load_batch(conn, CONTRACT, JsonDocs([page, page2], items_key="items"), meta(), pii_key="k",
                         checksum="c")
    docs_rows = conn.execute("select * from raw.test_orders order by _row_number").fetchall()
    docs_rejects = conn.execute("select row_number, reason_code from raw.rejects order by 1").fetchall()
    conn.rollback()
    as_records = load_batch(conn, CONTRACT, ROWS, meta(), pii_key="k", checksum="c")
    rec_rows = conn.execute("select * from raw.test_orders order by _row_number").fetchall()
    rec_rejects = conn.execute("select row_number, reason_code from raw.rejects order by 1").fetchall()
    assert (as_docs.rows_loaded, as_docs.rows_rejected) == (as_records.rows_loaded, as_records.rows_rejected)
    assert [r[1:] for r in docs_rows] == [r[1:] for r in rec_rows] and docs_rejects == rec_rejects
    conn.rollback()
    lines = [json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in ROWS]
    as_lines = load_batch(conn, CONTRACT, JsonDocs(lines), meta(), pii_key="k", checksum="c")
    assert (as_lines.rows_loaded, as_lines.rows_rejected) == (as_records.rows_loaded, as_records.rows_rejected)


@pytest.mark.parametrize(("body", "message"), [
    (b'{"order_id": "A1", ', "malformed JSON"),
    (json.dumps(row("舒城工单"), ensure_ascii=False).encode("gbk"), "not UTF-8"),
    (b'["not", "an", "object"]', "not a JSON object"),
])
def test_unreadable_json_refuses_the_batch(conn, body, message):
    from shumei.ingest.loader import JsonDocs

    with pytest.raises(BatchStructureError, match=message):
        load_batch(conn, CONTRACT, JsonDocs([body]), meta(), pii_key="k", checksum="c")
    conn.rollback()


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r.pop("channel"), r"row 2: .*missing column\(s\) \['channel'\]"),
    (lambda r: r.update(region="x"), r"row 2: .*unexpected column\(s\) \['region'\]"),
])
def test_a_json_row_without_the_contracts_keys_refuses_the_batch_naming_the_row(conn, change, message):
    from shumei.ingest.loader import JsonDocs

    bad = row("A2", score="3")  # a text score: the fast path leaves the row to the SQL validator
    change(bad)
    lines = [json.dumps(r).encode() for r in (row("A1"), bad)]
    with pytest.raises(BatchStructureError, match=message):
        load_batch(conn, CONTRACT, JsonDocs(lines), meta(), pii_key="k", checksum="c")
    conn.rollback()


def test_json_rows_left_to_sql_keep_digits_and_inner_whitespace(conn):
    """The rows the fast path declines reach the SQL validator as the texts it would have checked:
    numbers with their digits (3.0 is not an integer, 1e0 neither), a text trimmed of spaces only."""
    from shumei.ingest.loader import JsonDocs

    lines = [b'{"order_id": " S1 ", "received_at": "2024-03-01T09:00:00+08:00", "closed_at": null, '
             b'"due_at": null, "channel": "12345", "score": 3.0, "uscc": null, "caller_phone": null}',
             json.dumps(row("S2\n", score="4")).encode(), json.dumps(row("S3", score="1e0")).encode()]
    result = load_batch(conn, CONTRACT, JsonDocs(lines), meta(), pii_key="k", checksum="c")
    loaded = conn.execute("select order_id, score from raw.test_orders order by 1").fetchall()
    assert loaded == [("S2\n", 4)] and result.rejects_by_reason == {"invalid_type": 2}
    conn.rollback()


@pytest.mark.parametrize("value", ["yesterday", "now", "infinity", "2024-03-01", "44927.39583"])
def test_words_and_serials_are_not_timestamps(conn, value):
    result = load_batch(conn, CONTRACT, [row("A1", received_at=value)], meta(), pii_key="k", checksum="c")
    assert result.rejects_by_reason == {"invalid_type": 1}
    conn.rollback()


# DOMAIN §8: dates are ISO 8601 (or real Excel date cells); ambiguous text is rejected, never guessed
DATE_CONTRACT = contract_from_doc({
    "feed": "test_dates", "source": "test", "format": "json", "version": 1, "primary_key": ["id"],
    "fields": [
        {"name": "id", "type": "string", "required": True},
        {"name": "event_date", "type": "date", "required": True, "not_future": True},
        {"name": "signed_at", "type": "timestamp"},
        {"name": "caller_phone", "type": "string", "pii": True},
    ],
})

NOT_ISO_DATES = {
    "01/05/2023": "date_not_iso",  # was loaded as 5 January (DateStyle MDY)
    "2023/01/05": "date_not_iso",
    "05-01-2023": "date_not_iso",  # was loaded as 1 May
    "2023-1-5": "date_not_iso",
    "20230105": "date_not_iso",
    "05.01.2023": "date_not_iso",
    "1/5/23": "date_not_iso",
    "28/12/2022": "date_not_iso",  # not read by PostgreSQL (MDY), but a date in another form all the same
    "2023-13-01": "invalid_type",  # ISO in shape, but no such month
    "2023-02-30": "invalid_type",
    "２０２３-01-05": "invalid_type",
    "44927": "invalid_type",       # an Excel serial number sent as a number, not a date cell
    "Jan 5 2023": "invalid_type",
}


def _date_row(n: int, **kw) -> dict:
    return {"id": f"T{n}", "event_date": "2023-01-05", "signed_at": "2023-01-05T09:00:00+08:00",
            "caller_phone": "13800000000", **kw}


@pytest.mark.parametrize("as_json", [False, True])
def test_dates_not_in_iso_form_are_rejected_never_guessed(empty_raw, as_json):
    from shumei.ingest.loader import JsonDocs

    conn = empty_raw(DATE_CONTRACT)
    rows = [_date_row(0), _date_row(1, event_date=date(2023, 1, 6))]  # ISO text; a real date cell
    rows += [_date_row(n, event_date=v) for n, v in enumerate(NOT_ISO_DATES, start=10)]
    rows += [_date_row(n, signed_at=v + "T09:00:00+08:00") for n, v in enumerate(NOT_ISO_DATES, start=100)]
    rows += [_date_row(200, signed_at="01/05/2023 09:00:00+08:00")]
    if as_json:
        rows = [{**r, "event_date": r["event_date"].isoformat() if isinstance(r["event_date"], date)
                 else r["event_date"]} for r in rows]
        source = JsonDocs([json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows])
    else:
        source = rows
    result = load_batch(conn, DATE_CONTRACT, source, meta(feed="test_dates", interval_start=date(2023, 1, 6),
                                                          interval_end=date(2023, 1, 7)),
                        pii_key="k", checksum="c")
    loaded = conn.execute("select id, event_date, signed_at from raw.test_dates order by id").fetchall()
    signed = datetime(2023, 1, 5, 9, tzinfo=timezone(timedelta(hours=8)))
    assert loaded == [("T0", date(2023, 1, 5), signed), ("T1", date(2023, 1, 6), signed)]
    rejects = dict(((r[0], r[1]), r[2]) for r in conn.execute(
        """select record ->> 'id', reason_field, reason_code from raw.rejects order by row_number""").fetchall())
    expected = {(f"T{n}", "event_date"): why for n, why in enumerate(NOT_ISO_DATES.values(), start=10)}
    expected.update({(f"T{n}", "signed_at"): why for n, why in enumerate(NOT_ISO_DATES.values(), start=100)})
    expected[("T200", "signed_at")] = "date_not_iso"
    assert rejects == expected
    assert result.rows_received == result.rows_loaded + result.rows_rejected == len(rows)
    conn.rollback()


# issue 11 item 3: a U+0000 near the caller fields failed the batch, and the message (batch log, task
# log, alert, server.log) quoted PostgreSQL's CONTEXT: the raw line with the caller's phone
PLANTED_PHONE = "13912345678"


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("bad", ["\u0000", "\ud800"])
def test_an_invalid_character_is_a_reject_naming_the_column(conn, as_json, bad):
    from shumei.ingest.loader import JsonDocs

    rows = [row("A1"), row("N1" + bad, caller_phone=PLANTED_PHONE), row("A2"),
            row("N2", caller_phone=PLANTED_PHONE + bad)]
    if as_json:
        source = JsonDocs([json.dumps({"items": rows, "count": len(rows)}).encode()], items_key="items")
    elif bad == "\ud800":
        return  # a lone surrogate cannot be a cell of a workbook or a CSV file read as UTF-8
    else:
        source = rows
    result = load_batch(conn, CONTRACT, source, meta(), pii_key="k", checksum="c")
    assert result.rows_loaded == 2 and result.rejects_by_reason == {"invalid_character": 2}
    rejects = conn.execute("select row_number, reason_field, record::text from raw.rejects order by 1").fetchall()
    assert [r[:2] for r in rejects] == [(2, "order_id"), (4, "caller_phone")]
    assert not any(PLANTED_PHONE in r[2] for r in rejects)
    assert conn.execute("select count(*) from raw_restricted.test_orders_pii").fetchone()[0] == 2
    conn.rollback()


def test_a_text_that_is_not_utf8_refuses_the_batch_without_quoting_it(conn):
    from shumei.ingest.loader import JsonDocs

    lines = [json.dumps(row("A1")).encode() + b"\n",
             json.dumps(row("N1", caller_phone=PLANTED_PHONE + "舒城"), ensure_ascii=False).encode("gbk") + b"\n"]
    with pytest.raises(BatchStructureError) as raised:
        load_batch(conn, CONTRACT, JsonDocs(lines), meta(), pii_key="k", checksum="c")
    conn.rollback()
    message = str(raised.value)
    assert "not UTF-8" in message and "row 2" in message and PLANTED_PHONE not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_server_log_holds_no_row_of_a_failing_copy(conn, pg_server):
    """PostgreSQL's own log: a failing COPY of a row with a phone in it, or a failing cast of it,
    leaves nothing of the row (no ERROR lines, whose messages quote values), and the file is the
    server user's alone."""
    import psycopg

    conn.execute("create temporary table probe (item jsonb)")
    with pytest.raises(psycopg.errors.UntranslatableCharacter), conn.cursor().copy("copy probe from stdin") as copy:
        copy.write(f'{{"caller_phone": "{PLANTED_PHONE}\\\\u0000"}}\n')
    conn.rollback()
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        conn.execute("select %s::jsonb", (f'{{"caller_phone": "{PLANTED_PHONE}\\ud800"}}',))
    conn.rollback()
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        conn.execute("select %s::bigint", (f"{PLANTED_PHONE} 王建国",))  # the primary message quotes it
    conn.rollback()
    log = pg_server.logfile.read_text(encoding="utf-8", errors="replace")
    assert "database system is ready to accept connections" in log  # the server's own events are logged
    assert PLANTED_PHONE not in log and " ERROR: " not in log
    assert pg_server.logfile.stat().st_mode & 0o077 == 0


FREE_TEXT_CONTRACT = contract_from_doc({
    "feed": "test_notes", "source": "test", "format": "json", "version": 1, "primary_key": ["id"],
    "fields": [
        {"name": "id", "type": "string", "required": True},
        {"name": "score", "type": "integer", "min": 1, "max": 5},
        {"name": "caller_phone", "type": "string", "pii": True},
        {"name": "summary", "type": "string", "free_text": True},
    ],
})
TYPED = "联系人王建国，电话13912345678，身份证34152319800101123X"


@pytest.mark.parametrize("path", ["records", "json_fast", "json_sql"])
def test_free_text_is_masked_at_the_door_and_kept_only_restricted(empty_raw, path):
    """DOMAIN §8: the summary's phone, ID number and name never reach raw.<feed> or raw.rejects; the
    original is in raw_restricted only. The same masking on every path of the loader."""
    from shumei.ingest.loader import JsonDocs

    conn = empty_raw(FREE_TEXT_CONTRACT)
    rows = [{"id": "A1", "score": 3, "caller_phone": "13800000000", "summary": TYPED},
            {"id": "A2", "score": 3, "caller_phone": "13800000001", "summary": "电梯故障"},
            {"id": "B1", "score": 9, "caller_phone": "13800000002", "summary": TYPED}]  # out_of_range
    if path == "records":
        source = rows
    else:
        # a backslash escape sends a row to the SQL validator instead of the fast path
        text = "\\u8054" if path == "json_sql" else "联"
        docs = [json.dumps(r, ensure_ascii=False).replace("联", text, 1).encode() + b"\n" for r in rows]
        source = JsonDocs(docs)
    result = load_batch(conn, FREE_TEXT_CONTRACT, source, meta(feed="test_notes"), pii_key="k", checksum="c")
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    raw = dict(conn.execute("select id, summary from raw.test_notes").fetchall())
    assert raw == {"A1": "联系人[姓名]，电话[手机号]，身份证[身份证号]", "A2": "电梯故障"}
    restricted = dict(conn.execute("select id, summary from raw_restricted.test_notes_pii").fetchall())
    assert restricted == {"A1": TYPED, "A2": "电梯故障"}
    record = conn.execute("select record::text from raw.rejects").fetchone()[0]
    assert "13912345678" not in record and "王建国" not in record and "[手机号]" in record
    conn.rollback()


def test_an_existing_restricted_table_gains_the_free_text_columns(warehouse_url):
    """A warehouse loaded before free text was masked: the feed-table check refuses its
    raw_restricted.<feed>_pii; migration 0009 appends the columns of the originals (empty for the
    batches loaded before), and loads go on."""
    import psycopg
    from migrated import fresh_migrated
    from shumei.ingest import schema
    from shumei.migrations import discover

    module = next(m for m in discover() if m.version == 9).module()
    with psycopg.connect(warehouse_url) as conn:
        fresh_migrated(conn)
        before = [c for c in FREE_TEXT_CONTRACT.restricted_columns() if c[0] != "summary"]
        conn.execute("create table raw_restricted.test_notes_pii ({})".format(
            ", ".join(f"{c} {t}" for c, t in before)))
        conn.commit()
        with pytest.raises(RuntimeError, match="write a migration"):
            schema.ensure_feed_tables(conn, FREE_TEXT_CONTRACT)
        conn.rollback()
        module.apply(conn, [FREE_TEXT_CONTRACT])
        conn.commit()
        schema.ensure_feed_tables(conn, FREE_TEXT_CONTRACT)
        cols = [r[0] for r in conn.execute("""select column_name from information_schema.columns
                where table_schema = 'raw_restricted' and table_name = 'test_notes_pii' order by ordinal_position""")]
        assert cols == [c for c, _ in FREE_TEXT_CONTRACT.restricted_columns()]
        result = load_batch(conn, FREE_TEXT_CONTRACT, [{"id": "A1", "score": 1, "caller_phone": "1", "summary": TYPED}],
                            meta(feed="test_notes"), pii_key="k", checksum="c")
        assert result.rows_loaded == 1
        conn.rollback()
