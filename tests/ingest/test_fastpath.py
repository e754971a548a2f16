"""The loader's fast path must change nothing but speed: a corpus of edge cases is loaded twice, with the
fast path and with every row left to the SQL validator, and the raw, restricted and reject tables must
come out identical."""

from __future__ import annotations

import json
from datetime import date

import pytest
from shumei.ingest import loader
from shumei.ingest.contracts import contract_from_doc
from shumei.ingest.fastpath import FastPath
from shumei.ingest.loader import BatchMeta, JsonDocs, load_batch

pytestmark = pytest.mark.integration

CONTRACT = contract_from_doc({
    "feed": "test_edge", "source": "test", "format": "json", "version": 1,
    "primary_key": ["id"],
    "ordered": [["received_at", "closed_at"]],
    "fields": [
        {"name": "id", "type": "string", "required": True},
        {"name": "received_at", "type": "timestamp", "required": True, "not_future": True},
        {"name": "closed_at", "type": "timestamp"},
        {"name": "day", "type": "date", "not_future": True},
        {"name": "channel", "type": "string", "required": True, "allowed": ["12345", "12319", "smart_platform"]},
        {"name": "level", "type": "integer", "required": True, "min": 1, "max": 3},
        {"name": "count", "type": "integer"},
        {"name": "verified", "type": "boolean"},
        {"name": "compound_id", "type": "string", "pattern": r"^XQ\d{4,6}$"},
        {"name": "town_code", "type": "string", "pattern": r"^3415\d{8}$", "check": "division_code"},
        {"name": "uscc", "type": "string", "check": "uscc",
         "pattern": r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"},
        {"name": "summary", "type": "string", "required": True},
        {"name": "note", "type": "string"},
        {"name": "caller_name", "type": "string", "required": True, "pii": True},
        {"name": "caller_phone", "type": "string", "pii": True},
    ],
})

BASE = {"id": "A", "received_at": "2024-03-01T09:00:00+08:00", "closed_at": "2024-03-01T10:00:00+08:00",
        "day": "2024-03-01", "channel": "12345", "level": 2, "count": 7, "verified": None,
        "compound_id": "XQ0001", "town_code": "341523100000", "uscc": "91110000600037341L",
        "summary": "楼道灯不亮", "note": None, "caller_name": "张三", "caller_phone": "13800000000"}

# dates that PostgreSQL would read (guessing day and month) but that are not ISO 8601
AMBIGUOUS_DATES = ["01/05/2023", "2023/01/05", "05-01-2023", "2023-1-5", "20230105", "05.01.2023", "1/5/23"]
AMBIGUOUS_TIMESTAMPS = [*(d + "T09:00:00+08:00" for d in AMBIGUOUS_DATES), "01/03/2024 09:00:00+08:00",
                        "2024-3-1 09:00:00+08:00", "20240301T090000+0800"]

# values of each field, valid in the usual form, valid in an unusual form, and invalid
EDGES = {
    "received_at": ["2024-03-01T01:00:00Z", "2024-03-01 09:00:00+08:00", "2024-03-01T09:00:00.123456789+08:00",
                    "2024-03-01t09:00:00z", "2024-03-01T09:00:00+0800", "2024-03-01T09:00:00+08",
                    "2024-03-01T09:00:00-00:00", "2024-03-01T09:00:00", "2024-03-01", "yesterday", "now",
                    "2024-02-30T09:00:00+08:00", "2024-03-01T24:00:00+08:00", "2024-03-02T23:59:59+08:00",
                    "2024-03-03T00:00:00+08:00", "2024-03-02T16:00:00Z", " 2024-03-01T09:00:00+08:00", "",
                    None, 44927.5, "0001-01-01T00:00:00Z", "2024-03-01T09:00:00+14:00", "2024-03-01t09:00:00+08:00", "2024-03-01T01:00:00z",
                    "2024-03-01T09:00:00.5+08:00", "2024-03-01T09:00:00,5+08:00", "2024-03-01T09:00+08:00",
                    "2024-03-01T09:00:00.1234567+08:00", "2024-03-01T09:00:00+08:00:00",
                    *AMBIGUOUS_TIMESTAMPS],
    "closed_at": ["2024-03-01T08:59:59+08:00", "2024-03-01T01:00:00Z", "2024-03-01T00:59:59Z", None, ""],
    "day": ["2024-03-02", "2024-03-03", "2024-3-1", "20240301", "2024-03-01T00:00:00Z", None, "", 20240301,
            # DOMAIN §8: only ISO 8601; ambiguous text is rejected, never guessed (both paths agree)
            *AMBIGUOUS_DATES, "2023-01-05", "2023-13-01", "2023-02-29", "２０２３-01-05", 44927],
    "channel": ["12319", "smart_platform", "110", " 12345", "12345 ", "", None, 12345],
    "level": [1, 3, 0, 4, "2", 2.0, 2.5, True, None, -0, 9223372036854775808, "02"],
    "count": [0, -5, 9223372036854775807, 9223372036854775808, -9223372036854775809, None, "7", 1e3],
    "verified": [True, False, "true", "FALSE", "t", "1", "0", "yes", "No", "Y", "on", "", 1, 0, None],
    "compound_id": ["XQ123456", "XQ123", "XQ1234567", "xq0001", "XQ０００１", "XQ0001\n", " XQ0001", None, ""],
    "town_code": ["341523106000", "341524100000", "34152310000", "3415231000000", "３41523100000", None],
    "uscc": ["91350100M000100Y43", "91350100M000100Y4Z", "91110000600037341l", None, ""],
    "summary": ["a,b", "a],[b", 'say "hi"', "back\\slash", "tab\there", "line\nbreak", "  padded  ", " ", "",
                None, "全角　空格", "null", "NULL", "\\N", "emoji 😀", "\u2028", 12, "x" * 5000],
    "note": ["", " ", None, "ok", "\u0001"],
    "caller_name": ["ZHANG San", "Émile", "Ωμέγα", "李 四", " 王五 ", "", None, "İstanbul", "ǅ"],
    "caller_phone": ["138 0000 0000", "+86-138", None, ""],
}


def _corpus() -> list[dict]:
    rows, n = [], 0
    for name, values in EDGES.items():
        for value in values:
            n += 1
            rows.append({**BASE, "id": f"E{n}", name: value})
    rows += [{**BASE, "id": "D1"}, {**BASE, "id": "D1", "level": 1},  # same key, different content
             {**BASE, "id": "R1"}, {**BASE, "id": "R1"},                # same key, same content
             {**BASE, "id": "R2"}, {**BASE, "id": "R2", "summary": "楼道灯不亮", "caller_name": "张三"},
             {**BASE, "id": " P1"}, {**BASE, "id": "P1"}]              # same key once trimmed
    return rows


class _SqlOnly(FastPath):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.supported = False


@pytest.fixture
def conn(empty_raw):
    return empty_raw(CONTRACT)


def _load_and_read(conn, docs: JsonDocs) -> tuple:
    meta = BatchMeta("test", "test_edge", date(2024, 3, 1), date(2024, 3, 2), "unit")
    result = load_batch(conn, CONTRACT, docs, meta, pii_key="secret", checksum="c")
    raw = conn.execute("select * from raw.test_edge order by _row_number").fetchall()
    restricted = conn.execute("select * from raw_restricted.test_edge_pii order by _row_number").fetchall()
    rejects = conn.execute("select row_number, reason_code, reason_field from raw.rejects order by 1").fetchall()
    conn.rollback()
    return ((result.rows_received, result.rows_loaded, result.rows_rejected),
            [r[1:] for r in raw], [r[1:] for r in restricted], rejects)


@pytest.mark.parametrize(("as_pages", "chunk"), [(False, 1000), (True, 1000), (False, 7)])
def test_fast_path_changes_nothing_but_speed(conn, monkeypatch, as_pages, chunk):
    rows = _corpus()
    if as_pages:
        docs = [json.dumps({"items": rows[i:i + 25]}, ensure_ascii=False).encode() for i in range(0, len(rows), 25)]
        make = lambda: JsonDocs(docs, items_key="items")  # noqa: E731
    else:
        docs = [json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows]
        make = lambda: JsonDocs(docs)  # noqa: E731
    monkeypatch.setattr(loader, "FAST_CHUNK_ROWS", chunk)

    counts = []
    original = loader._load_json

    def counting(*args):
        result = original(*args)
        counts.append(result)  # (received, COPYed by the fast path, left to SQL)
        return result

    monkeypatch.setattr(loader, "_load_json", counting)
    fast = _load_and_read(conn, make())
    monkeypatch.setattr(loader, "FastPath", _SqlOnly)
    exact = _load_and_read(conn, make())

    assert fast[0] == exact[0]
    assert fast[1] == exact[1]          # raw rows, typed, with keyed hashes
    assert fast[2] == exact[2]          # clear personal data
    assert fast[3] == exact[3]          # every reject and its reason
    # ... and a date in another form than ISO 8601 is rejected, never guessed (DOMAIN §8)
    ambiguous = {n: ("date_not_iso", "day" if r["day"] in AMBIGUOUS_DATES else "received_at")
                 for n, r in enumerate(rows, start=1)
                 if r["day"] in AMBIGUOUS_DATES or r["received_at"] in AMBIGUOUS_TIMESTAMPS}
    assert len(ambiguous) == len(AMBIGUOUS_DATES) + len(AMBIGUOUS_TIMESTAMPS)
    assert {n: (code, f) for n, code, f in fast[3] if n in ambiguous} == ambiguous
    # the comparison means something only if both paths took part
    (received, copied, to_sql), (_, none_copied, all_to_sql) = counts
    assert all_to_sql == received == copied + to_sql == len(rows) and none_copied == 0
    assert 0.3 * len(rows) < copied < len(rows) - 40, copied


def test_sql_only_is_really_sql_only(conn, monkeypatch):
    monkeypatch.setattr(loader, "FastPath", _SqlOnly)
    called = []
    monkeypatch.setattr(_SqlOnly, "split", lambda *a: called.append(a))
    _load_and_read(conn, JsonDocs([json.dumps(BASE).encode()]))
    assert called == []


@pytest.mark.parametrize("extra_field", [
    {"name": "amount", "type": "number"},                                    # float could lose digits
    {"name": "code", "type": "integer", "pattern": r"^\d+$"},               # pattern on a number
])
def test_contracts_the_fast_path_cannot_check_go_to_sql(extra_field):
    doc = {"feed": "test_other", "source": "test", "format": "json", "version": 1, "primary_key": ["id"],
           "fields": [{"name": "id", "type": "string", "required": True}, extra_field]}
    contract = contract_from_doc(doc)
    assert not FastPath(contract, date(2024, 3, 2), "k", 1, date(2024, 3, 1)).supported
    mixed = contract_from_doc({**doc, "fields": doc["fields"][:1] + [
        {"name": "day", "type": "date"}, {"name": "at", "type": "timestamp"}], "ordered": [["day", "at"]]})
    assert not FastPath(mixed, date(2024, 3, 2), "k", 1, date(2024, 3, 1)).supported
    assert FastPath(CONTRACT, date(2024, 3, 2), "k", 1, date(2024, 3, 1)).supported


def test_the_fast_path_accepts_only_iso_dates():
    # msgspec decodes a date or timestamp only from RFC 3339 text: any other form goes to SQL
    fast = FastPath(CONTRACT, date(2024, 3, 2), "k", 1, date(2024, 3, 1))
    rows = [{**BASE, "day": "2023-01-05"}]
    rows += [{**BASE, "day": d} for d in AMBIGUOUS_DATES]
    rows += [{**BASE, "received_at": t} for t in AMBIGUOUS_TIMESTAMPS]
    split = fast.split(1, [json.dumps(r, ensure_ascii=False).encode() for r in rows])
    assert [n for n, _ in split.others] == list(range(2, len(rows) + 1))
    assert split.raw.count(b"\n") == 1
