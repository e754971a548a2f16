"""The attack matrix (issue 11, "Done when"; DOMAIN §8 "A rejected row is not a deletion").

A small history (tests/dbt/raw_fixture.py) goes through the real loader: the registry and the credit
feed as daily file drops (CSV sheets, JSON lines, each with its manifest: shumei.ingest.jobs.load_day),
the hotline as API pages (shumei.ingest.loader.load_batch with JSON documents, what the hotline job
hands it). The candidate is built with dbt and kept (the clean build). Then every kind of bad input
of KINDS is injected, each on its own feed and day, through the same paths: a rerun of that day with
the bad batch. The candidate is built again (the attacked build) and compared:
(a) each kind is refused with a message naming the problem (nothing of it loaded, the day's earlier
    batch untouched) or its bad rows are in raw.rejects with a reason code naming the problem;
(b) every batch conserves its rows: received = loaded + rejected, and its raw rows = loaded;
(c) every figure that differs from the clean build (value, numerator or denominator) is estimated
    with a reason; every figure not estimated equals the clean build's;
(d) no phone or ID-number pattern in any reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from shumei.ingest.contracts import get_contract
from shumei.ingest.jobs import load_day
from shumei.ingest.loader import BatchMeta, BatchStructureError, JsonDocs, load_batch
from shumei.settings import get_settings

# tests/dbt has no __init__.py on purpose: a package named `dbt` would shadow dbt-core itself.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_fixture  # noqa: E402
from dbt_run import dbt  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PHONE = "13912345678"  # planted where a bad row carries a caller's data: never in a reason
PHONE_OR_ID = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)|(?<![0-9])\d{17}[0-9Xx](?![0-9])")
QUARANTINED = "quarantined"
REFUSED = "refused"


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    feed: str  # the contract's feed
    outcome: str  # QUARANTINED: its bad rows rejected with reason code `expect`; REFUSED: a message matching `expect`
    expect: str
    spoil: Callable[[list[dict]], list[dict] | bytes]  # the day's rows -> bad rows (or bad bytes of the file)


def _first(pick: Callable[[dict], bool], change: Callable[[dict], None]) -> Callable[[list[dict]], list[dict]]:
    """A spoil that changes the first row `pick` accepts."""
    def spoil(rows: list[dict]) -> list[dict]:
        rows = [dict(r) for r in rows]
        row = next(r for r in rows if pick(r))
        change(row)
        return rows
    return spoil


def _set(**values) -> Callable[[dict], None]:
    return lambda row: row.update(values)


def _duplicate(field: str, suffix) -> Callable[[list[dict]], list[dict]]:
    def spoil(rows: list[dict]) -> list[dict]:
        rows = [dict(r) for r in rows]
        copy = dict(rows[0])
        copy[field] = (copy[field] + suffix) if copy[field] is not None else suffix
        return [rows[0], copy, *rows[1:]]
    return spoil


def _bad_check_character(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def _closed(row: dict) -> bool:
    return row.get("event_type") == "CLOSED"


def _text_lines(rows: list[dict], encoding: str) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows).encode(encoding)


KINDS: list[Kind] = [
    # hotline: API pages of status-change events
    Kind("invalid_uscc", "hotline_events", QUARANTINED, "invalid_uscc",
         _first(_closed, lambda r: r.update(enterprise_uscc=_bad_check_character(r["enterprise_uscc"])))),
    Kind("unknown_compound", "hotline_events", QUARANTINED, "unknown_reference",
         _first(_closed, _set(compound_id="XQ9999"))),
    Kind("closed_before_received", "hotline_events", QUARANTINED, "out_of_order",
         _first(_closed, lambda r: r.update(event_at=r["received_at"] - dt.timedelta(hours=1)))),
    Kind("future_date", "hotline_events", QUARANTINED, "future_date",
         _first(_closed, _set(received_at=dt.datetime(2099, 1, 1, 9, tzinfo=raw_fixture.SH)))),
    Kind("duplicate_key_conflict", "hotline_events", QUARANTINED, "duplicate_key_conflict",
         _duplicate("note", "更正")),
    Kind("excel_date_serial", "hotline_events", QUARANTINED, "invalid_type",
         _first(_closed, _set(event_at="45000"))),
    Kind("out_of_range", "hotline_events", QUARANTINED, "out_of_range", _first(_closed, _set(event_seq=0))),
    Kind("ambiguous_date", "hotline_events", QUARANTINED, "date_not_iso",
         _first(_closed, lambda r: r.update(event_at=r["event_at"].strftime("%m/%d/%Y %H:%M")))),
    Kind("timestamp_without_offset", "hotline_events", QUARANTINED, "timestamp_without_offset",
         _first(_closed, lambda r: r.update(event_at=r["event_at"].replace(tzinfo=None).isoformat()))),
    Kind("nul_character_by_caller_data", "hotline_events", QUARANTINED, "invalid_character",
         _first(_closed, _set(caller_name="王\x00建国", caller_phone=PHONE))),
    Kind("value_not_allowed", "hotline_events", QUARANTINED, "not_allowed", _first(_closed, _set(channel="微信"))),
    Kind("missing_order_id", "hotline_events", QUARANTINED, "missing_required",
         _first(lambda r: r["event_type"] == "RECEIVED", _set(order_id=None))),
    Kind("unknown_division_code", "hotline_events", QUARANTINED, "invalid_division_code",
         _first(_closed, _set(community_code="341523999999"))),
    Kind("pattern_mismatch", "hotline_events", QUARANTINED, "pattern_mismatch",
         _first(_closed, _set(compound_id="小区12"))),
    Kind("page_not_utf8", "hotline_events", REFUSED, "malformed JSON|not UTF-8",
         lambda rows: json.dumps({"items": rows}, ensure_ascii=False, default=str).encode("gbk")),
    Kind("truncated_page", "hotline_events", REFUSED, "malformed JSON",
         lambda rows: json.dumps({"items": rows}, ensure_ascii=False, default=str).encode()[:-40]),
    Kind("renamed_column", "hotline_events", REFUSED, r"missing column\(s\).*event_at",
         lambda rows: [{("happened_at" if k == "event_at" else k): v for k, v in r.items()} for r in rows]),
    # credit: a JSON-lines file and its manifest a day
    Kind("invalid_uscc", "credit_events", QUARANTINED, "invalid_uscc",
         _first(lambda r: True, lambda r: r.update(enterprise_uscc=_bad_check_character(r["enterprise_uscc"])))),
    Kind("unknown_compound", "credit_events", QUARANTINED, "unknown_reference", _first(bool, _set(compound_id="XQ9999"))),
    Kind("future_date", "credit_events", QUARANTINED, "future_date", _first(bool, _set(event_date="2099-01-01"))),
    Kind("ambiguous_date", "credit_events", QUARANTINED, "date_not_iso",
         _first(bool, lambda r: r.update(event_date=r["event_date"].strftime("%d/%m/%Y")))),
    Kind("excel_date_serial", "credit_events", QUARANTINED, "invalid_type",
         _first(bool, lambda r: r.update(event_date=str((r["event_date"] - dt.date(1899, 12, 30)).days)))),
    Kind("out_of_range", "credit_events", QUARANTINED, "out_of_range", _first(bool, _set(score=180))),
    Kind("duplicate_key_conflict", "credit_events", QUARANTINED, "duplicate_key_conflict",
         _duplicate("description", "（更正前）")),
    Kind("value_not_allowed", "credit_events", QUARANTINED, "not_allowed", _first(bool, _set(conduct="良好"))),
    Kind("file_not_utf8", "credit_events", REFUSED, "malformed JSON|not UTF-8", lambda rows: _text_lines(rows, "gbk")),
    Kind("manifest_sha256_differs", "credit_events", REFUSED, "does not match the manifest",
         lambda rows: _text_lines(rows, "utf-8")),
    Kind("manifest_rows_differ", "credit_events", REFUSED, "manifest says", lambda rows: list(rows)),
    Kind("empty_file", "credit_events", REFUSED, "no rows where rows are expected", lambda rows: b""),
    # registry: a full snapshot a day, one CSV sheet per feed with the manifest's digests and row counts
    Kind("duplicate_key_conflict", "registry_compounds", QUARANTINED, "duplicate_key_conflict",
         _duplicate("households", 17)),
    Kind("invalid_uscc", "registry_compounds", QUARANTINED, "invalid_uscc",
         _first(lambda r: r["enterprise_uscc"] is not None,
                lambda r: r.update(enterprise_uscc=_bad_check_character(r["enterprise_uscc"])))),
    Kind("unknown_compound", "registry_owners_committees", QUARANTINED, "unknown_reference",
         _first(bool, _set(compound_id="XQ9999"))),
    Kind("out_of_range", "registry_compounds", QUARANTINED, "out_of_range", _first(bool, _set(households=-5))),
    # a key that cannot be identified: its compound would read as deleted (DOMAIN §8 ruling, docs/operations.md)
    Kind("missing_compound_id", "registry_compounds", QUARANTINED, "missing_required",
         _first(lambda r: r["compound_id"] == "XQ0010", _set(compound_id=None))),
    Kind("malformed_compound_id", "registry_compounds", QUARANTINED, "pattern_mismatch",
         _first(lambda r: r["compound_id"] == "XQ0020", _set(compound_id="XQ-0020"))),
    Kind("future_date", "registry_party_orgs", QUARANTINED, "future_date", _first(bool, _set(formed_date=dt.date(2099, 1, 1)))),
    Kind("sheet_not_utf8", "registry_communities", REFUSED, "not UTF-8", lambda rows: b"GBK"),
    Kind("missing_column", "registry_enterprises", REFUSED, r"missing column\(s\)",
         lambda rows: [{k: v for k, v in r.items() if k != "served_compounds"} for r in rows]),
]

HOTLINE_DAYS_FROM = dt.date(2023, 2, 1)
CREDIT_MANIFEST_ROWS_OFF = "manifest_rows_differ"


def _headers(feed: str, row: dict) -> dict:
    """A row as the source sends it: the contract's headers (a name the contract does not know, as it
    is), callers' name and phone in clear (the fixture keeps only hashes: a stable name and phone for
    each)."""
    header = {f.name: f.header for f in get_contract(feed).fields}
    out = {}
    for name, value in row.items():
        if name in ("caller_name_hash", "caller_phone_hash"):
            clear = name.removesuffix("_hash")
            if clear in row:
                continue
            n = int(value[:12], 16)
            name, value = clear, f"13{n % 10**9:09d}" if clear == "caller_phone" else f"来电人{n % 10**4:04d}"
        out[header.get(name, name)] = value
    return out


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _write_registry_drop(root: Path, day: dt.date, sheets: dict[str, list[dict] | bytes]) -> None:
    import csv
    import io

    folder = root / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    files, counts = {}, {}
    for feed, rows in sheets.items():
        contract = get_contract(feed)
        if isinstance(rows, bytes):
            data = "小区名称,乡镇\n城关镇一号,城关镇\n".encode("gbk")
            counts[contract.sheet] = 1
        else:
            buf = io.StringIO()
            sent = [_headers(feed, r) for r in rows]
            headers = list(sent[0]) if sent else [f.header for f in contract.fields]
            writer = csv.writer(buf)
            writer.writerow(headers)
            writer.writerows([[_cell(r.get(h)) for h in headers] for r in sent])
            data = buf.getvalue().encode("utf-8")
            counts[contract.sheet] = len(rows)
        (folder / f"{contract.sheet}.csv").write_bytes(data)
        files[f"{contract.sheet}.csv"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps({"date": day.isoformat(), "format": "csv", "files": files,
                                                      "rows": counts}, ensure_ascii=False), encoding="utf-8")


def _write_credit_drop(root: Path, day: dt.date, rows: list[dict] | bytes, kind: str | None = None) -> None:
    folder = root / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    data = rows if isinstance(rows, bytes) else _text_lines([_headers("credit_events", r) for r in rows], "utf-8")
    n = len(data.splitlines())
    digest = hashlib.sha256(data).hexdigest()
    if kind == "manifest_sha256_differs":
        digest = hashlib.sha256(data + b"\n").hexdigest()
    if kind == "empty_file":
        n = 3  # the manifest still announces rows
    if kind == CREDIT_MANIFEST_ROWS_OFF:
        n += 1
    (folder / "credit_events.jsonl").write_bytes(data)
    (folder / "manifest.json").write_text(json.dumps({"date": day.isoformat(), "file": "credit_events.jsonl",
                                                      "rows": n, "sha256": digest}), encoding="utf-8")


def _load_hotline(conn: psycopg.Connection, day: dt.date, page: list[dict] | bytes) -> None:
    contract = get_contract("hotline_events")
    data = page if isinstance(page, bytes) else json.dumps(
        {"items": [_headers(contract.feed, r) for r in page]}, ensure_ascii=False, default=str).encode()
    meta = BatchMeta("hotline", contract.feed, day, day + dt.timedelta(days=1), f"fixture pages {day}")
    load_batch(conn, contract, JsonDocs([data], items_key="items"), meta, get_settings().pii_hash_key,
               checksum=hashlib.sha256(data).hexdigest())


RAW_STATUS = {"RECEIVED": "已受理", "DISPATCHED": "已派单", "SIGNED": "已签收", "EXTENDED": "延期",
              "ESCALATED": "吹哨上报", "REPLIED": "已回复", "CLOSED": "已办结", "VISITED": "已回访"}
CREDIT_TYPE_ZH = {"RANDOM_INSPECTION": "双随机一公开检查", "COMPLAINT_VERIFIED": "投诉查实", "PENALTY": "行政处罚",
                  "AWARD": "表彰奖励", "THIRD_PARTY_EVALUATION": "第三方服务评价",
                  "SATISFACTION_SURVEY": "业主满意度测评", "PARTY_ANNUAL_EVALUATION": "社区党组织年度评价"}
# dates of the fixture's ledger that lie after the snapshot they are in (the fixture writes them
# once for every snapshot): as the registry would send them, never after the day of the snapshot
NOT_AFTER_THE_SNAPSHOT = {"registry_demonstrations": ("awarded_date",), "registry_agreements": ("signed_date",),
                          "registry_communities": ("alliance_date", "joint_meeting_date")}


def _as_sent(feed: str, day: dt.date, row: dict) -> dict:
    """A fixture row (made for the dbt models, not for the door) in the source's own vocabulary."""
    row = dict(row)
    if feed == "hotline_events":
        row["raw_status"] = RAW_STATUS[row["event_type"]]
    elif feed == "credit_events":
        row["event_type_zh"] = CREDIT_TYPE_ZH[row["event_type"]]
    elif feed in NOT_AFTER_THE_SNAPSHOT:
        for name in NOT_AFTER_THE_SNAPSHOT[feed]:
            row[name] = min(row[name], day)
    return row


def _history() -> dict[tuple[str, dt.date], list[dict]]:
    """Every batch of the fixture in the source's vocabulary (field names: _headers makes them what
    the source sends), by (feed, day)."""
    return {(feed, day): [_as_sent(feed, day, r) for r in rows] for feed, day, rows in raw_fixture.batches()}


def _load(conn: psycopg.Connection, history, batches, drops: Path) -> None:
    """Loads `batches` ((feed, day) keys of `history`): registry and credit as drops, hotline as pages."""
    registry_days = sorted({day for feed, day in batches if feed.startswith("registry")})
    for day in registry_days:
        _write_registry_drop(drops / "registry", day, {feed: rows for (feed, d), rows in history.items()
                                                       if d == day and feed.startswith("registry")})
        load_day("registry", day)
    for feed, day in sorted(batches, key=lambda b: b[1]):
        if feed == "credit_events":
            _write_credit_drop(drops / "credit", day, history[feed, day])
            load_day("credit", day)
        elif feed == "hotline_events":
            _load_hotline(conn, day, history[feed, day])
            conn.commit()


def _attack_days(history) -> dict[int, tuple[str, dt.date]]:
    """A (feed, day) for every kind whose batch holds a row the kind can spoil: a distinct one for
    every quarantined kind; a refused kind (which leaves the day's batch as it was) on a day of no
    other refused kind, a quarantined kind's day where the feed has too few days (credit: 9)."""
    taken: set[tuple[str, dt.date]] = set()
    chosen = {}
    order = sorted(range(len(KINDS)), key=lambda i: KINDS[i].outcome == REFUSED)
    refused_taken: set[tuple[str, dt.date]] = set()
    for i in order:
        kind = KINDS[i]
        days = sorted(day for feed, day in history if feed == kind.feed
                      and (feed != "hotline_events" or day >= HOTLINE_DAYS_FROM))
        busy = refused_taken if kind.outcome == REFUSED else taken
        candidates = [d for d in days if (kind.feed, d) not in busy]
        if kind.outcome == REFUSED:
            candidates.sort(key=lambda d: (kind.feed, d) in taken)
        if kind.feed == "hotline_events":
            candidates = candidates[(i * 7) % 40::3]  # spread over the history
        for day in candidates:
            rows = history[kind.feed, day]
            try:
                kind.spoil(rows)
            except StopIteration:
                continue
            if kind.feed.startswith("registry") and day == raw_fixture.SNAPSHOT_DAYS[0]:
                continue  # the first snapshot has no earlier version to carry forward
            chosen[i] = (kind.feed, day)
            busy.add((kind.feed, day))
            break
        else:
            raise AssertionError(f"no day for {kind}")
    return chosen


def _inject(conn: psycopg.Connection, history, kind: Kind, day: dt.date, drops: Path) -> str | None:
    """Loads the spoilt batch as a rerun of its day; returns the refusal's message, or None. `history`
    is what the sources send now: a quarantined kind's rows stay in it (a registry day is one drop of
    every sheet, and a later kind's drop of that day still holds them)."""
    bad = kind.spoil(history[kind.feed, day])
    try:
        if kind.feed == "hotline_events":
            try:
                _load_hotline(conn, day, bad)
                conn.commit()
            except Exception:
                conn.rollback()
                raise
        elif kind.feed == "credit_events":
            _write_credit_drop(drops / "credit", day, bad, kind.name)
            load_day("credit", day)
        else:
            sheets = {feed: rows for (feed, d), rows in history.items() if d == day and feed.startswith("registry")}
            sheets[kind.feed] = bad
            _write_registry_drop(drops / "registry", day, sheets)
            load_day("registry", day)
    except BatchStructureError as exc:
        return str(exc)
    history[kind.feed, day] = bad
    return None


def _loaded_batch(conn: psycopg.Connection, feed: str, day: dt.date) -> int:
    return conn.execute("select batch_id from raw.batch_log where feed = %s and interval_start = %s and status = 'loaded'",
                        (feed, day)).fetchone()[0]


def _candidate(conn: psycopg.Connection) -> dict[tuple, tuple]:
    rows = conn.execute("""select indicator_code, area_code, period_type, period_start, breakdown_type, breakdown_code,
                                  value, numerator, denominator, estimate_reason
                           from published_candidate.indicator_values""").fetchall()
    return {r[:6]: r[6:] for r in rows}


def test_every_kind_of_bad_input_is_refused_or_quarantined_and_no_figure_changes_silently(
        warehouse_url, tmp_path, monkeypatch):
    drops = tmp_path / "drops"
    monkeypatch.setenv("SHUMEI_REGISTRY_DIR", str(drops / "registry"))
    monkeypatch.setenv("SHUMEI_CREDIT_DIR", str(drops / "credit"))
    monkeypatch.setenv("SHUMEI_REFERENCE_WAIT_SECONDS", "0")
    get_settings.cache_clear()
    assert len(KINDS) >= 25 and len({(k.name, k.feed) for k in KINDS}) == len(KINDS)
    assert {k.feed.split("_")[0] for k in KINDS} == {"hotline", "credit", "registry"}
    history = _history()
    with psycopg.connect(warehouse_url) as conn:
        raw_fixture.create(conn)
        _load(conn, history, list(history), drops)
        found = conn.execute("select feed, reason_code, reason_field, count(*) from raw.rejects group by 1, 2, 3").fetchall()
        assert not found, str(found)  # the clean history is clean
    dbt("seed", "--full-refresh")
    dbt("run", "--select", "+indicator_values", "--full-refresh")
    with psycopg.connect(warehouse_url) as conn:
        clean = _candidate(conn)
        assert all(v[3] is None for v in clean.values())  # nothing estimated in the clean build

        days = _attack_days(history)
        sent = dict(history)
        outcomes = {}
        for i in days:  # the quarantined kinds first, then the refused ones
            feed, day = days[i]
            before = _loaded_batch(conn, feed, day)
            refusal = _inject(conn, sent, KINDS[i], day, drops)
            outcomes[i] = (refusal, before, _loaded_batch(conn, feed, day))

        # (a) refused with a message naming the problem, the day's earlier batch untouched; or quarantined
        for i, kind in enumerate(KINDS):
            refusal, before, now = outcomes[i]
            if kind.outcome == REFUSED:
                assert refusal is not None and re.search(kind.expect, refusal), (kind, refusal)
                assert now == before, kind
                assert PHONE not in refusal
            else:
                assert refusal is None, (kind, refusal)
                # the day's batch now (a registry day's later drop reloads every sheet, bad rows and all)
                reasons = {r for (r,) in conn.execute("select reason_code from raw.rejects where batch_id = %s",
                                                      (_loaded_batch(conn, *days[i]),)).fetchall()}
                assert reasons == {kind.expect}, (kind, reasons)
        # (b) row conservation, for every batch of the history and of the attack
        bad = conn.execute("""
            select b.feed, b.interval_start, b.rows_received, b.rows_loaded, b.rows_rejected,
                   (select count(*) from raw.rejects r where r.batch_id = b.batch_id)
            from raw.batch_log b where b.status = 'loaded'
              and (b.rows_received <> b.rows_loaded + b.rows_rejected
                   or b.rows_rejected <> (select count(*) from raw.rejects r where r.batch_id = b.batch_id))
        """).fetchall()
        assert bad == []
        for feed in {k.feed for k in KINDS}:
            mismatched = conn.execute(f"""
                select b.interval_start, b.rows_loaded, count(t._batch_id)
                from raw.batch_log b left join raw.{feed} t on t._batch_id = b.batch_id
                where b.status = 'loaded' and b.feed = %s
                group by b.batch_id having count(t._batch_id) <> b.rows_loaded""", (feed,)).fetchall()
            assert mismatched == [], feed

    dbt("run", "--select", "+indicator_values")
    with psycopg.connect(warehouse_url) as conn:
        attacked = _candidate(conn)
    # no figure vanished (a vanished one could say nothing); a new one (an area or breakdown that only
    # the attack gave observations, e.g. a warning of an order whose closure was rejected) is a move
    assert clean.keys() <= attacked.keys(), sorted(clean.keys() - attacked.keys())[:10]
    # (c) a figure that moved is estimated with a reason; one not estimated is the clean build's
    moved = {key for key in attacked if key not in clean or clean[key][:3] != attacked[key][:3]}
    estimated = {key for key, v in attacked.items() if v[3]}
    silent = sorted(moved - estimated)
    assert silent == [], (len(silent), silent[:20], [(clean.get(k), attacked[k]) for k in silent[:5]])
    assert moved, "the attack moved no figure: it tested nothing"
    # every feed of a quarantined kind is named in the reasons
    reasons = {v[3] for v in attacked.values() if v[3]}
    for feed in {k.feed for k in KINDS if k.outcome == QUARANTINED}:
        assert any(feed in r for r in reasons), feed
    # (d) no phone or ID-number pattern in any reason
    assert [r for r in reasons if PHONE_OR_ID.search(r)] == []
