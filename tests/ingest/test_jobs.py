"""Ingestion against the running simulators, over real HTTP and real files (the pipeline talks to
them only through the `shumei-sim` command and its API, as it would to the county's systems)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from migrated import fresh_migrated
from shumei.ingest.jobs import load_day, load_range
from shumei.ingest.loader import BatchStructureError
from shumei.local.embedded import free_port
from shumei.settings import get_settings
from shumei.sources.files import DropMissing
from shumei.sources.hotline import SourceUnavailable

pytestmark = pytest.mark.integration

SIM = str(Path(sys.executable).parent / "shumei-sim")
FIRST, LAST = date(2022, 12, 26), date(2023, 1, 3)
TOKEN = "jobs-test-token"


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("drops")
    subprocess.run([SIM, "generate", "--out", str(out), "--start", "2022-12-01", "--end", LAST.isoformat()],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def hotline(drops):
    port = free_port()
    proc = subprocess.Popen([SIM, "serve-hotline", "--db", str(drops / "hotline" / "events.sqlite"),
                             "--port", str(port), "--token", TOKEN, "--rate-limit", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def env(pg_server, drops, hotline, monkeypatch):
    monkeypatch.setenv("SHUMEI_REGISTRY_DIR", str(drops / "registry"))
    monkeypatch.setenv("SHUMEI_CREDIT_DIR", str(drops / "credit"))
    monkeypatch.setenv("SHUMEI_HOTLINE_URL", hotline)
    monkeypatch.setenv("SHUMEI_HOTLINE_TOKEN", TOKEN)
    monkeypatch.setenv("SHUMEI_HOTLINE_PAGE_SIZE", "50")
    monkeypatch.setenv("SHUMEI_HOTLINE_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("SHUMEI_HOTLINE_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("SHUMEI_HOTLINE_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("SHUMEI_REFERENCE_WAIT_SECONDS", "0")
    get_settings.cache_clear()
    with psycopg.connect(os.environ["SHUMEI_WAREHOUSE_URL"], autocommit=True) as conn:
        fresh_migrated(conn)
    _faults(hotline, {"reset": True})
    yield get_settings()
    _faults(hotline, {"reset": True})
    get_settings.cache_clear()


@pytest.fixture
def registry_loaded(env):
    """The registry of FIRST..LAST: the hotline's and credit feed's compounds and enterprises are
    checked against it (references), and their days wait for it."""
    load_range("registry", CREDIT_DAY, LAST)
    return env


def _faults(url: str, faults: dict) -> None:
    httpx.post(f"{url}/admin/faults", json=faults, headers={"Authorization": f"Bearer {TOKEN}"},
               timeout=5).raise_for_status()


def _q(sql: str, *args):
    with psycopg.connect(os.environ["SHUMEI_WAREHOUSE_URL"]) as conn:
        return conn.execute(sql, args).fetchall()


def _table(feed: str) -> list[tuple]:
    """A raw table's content without batch ids (which differ between loads)."""
    cols = [r[0] for r in _q("""select column_name from information_schema.columns where table_schema = 'raw'
                                and table_name = %s and column_name <> '_batch_id' order by ordinal_position""", feed)]
    return _q(f"select {', '.join(cols)} from raw.{feed} order by 1, 2, 3")


# ---- all three sources -------------------------------------------------------------------------

def test_range_loads_every_day_of_every_source_and_conserves_rows(env):
    for source in ("registry", "credit", "hotline"):
        results = load_range(source, FIRST, LAST)
        assert [r.day for r in results] == [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    bad = _q("""select feed, interval_start from raw.batch_log
                where status = 'loaded' and rows_received <> rows_loaded + rows_rejected""")
    assert bad == []
    per_feed = dict(_q("select feed, count(*) from raw.batch_log where status = 'loaded' group by feed"))
    assert per_feed["hotline_events"] == per_feed["credit_events"] == per_feed["registry_compounds"] == 9
    # normal data: nothing rejected
    assert _q("select count(*) from raw.rejects") == [(0,)]


def test_hotline_batch_holds_every_event_of_its_window(registry_loaded, env, drops):
    result = load_day("hotline", LAST)
    start = datetime(2023, 1, 3, tzinfo=ZoneInfo("Asia/Shanghai")) - timedelta(hours=env.hotline_overlap_hours)
    end = datetime(2023, 1, 4, tzinfo=ZoneInfo("Asia/Shanghai"))
    with sqlite3.connect(drops / "hotline" / "events.sqlite") as db:
        ids = {r[0] for r in db.execute("select event_id from events")}
    got = {r[0] for r in _q("select event_id from raw.hotline_events")}
    assert got <= ids and len(got) == result.batches[0].rows_loaded
    times = _q("select min(updated_at), max(updated_at) from raw.hotline_events")[0]
    assert start <= times[0] and times[1] < end
    # paging: with 50 per page the day needed several pages
    assert "pages" in _q("select file_or_page from raw.batch_log where status = 'loaded' and source = 'hotline'")[0][0]
    assert result.batches[0].rows_received > 50


def test_rerun_replaces_and_backfill_equals_daily(env):
    daily = {}
    for source in ("registry", "credit", "hotline"):
        for i in range(3):
            load_day(source, FIRST + timedelta(days=i))
        load_day(source, FIRST + timedelta(days=1))  # a rerun of the middle day
    for feed in ("registry_compounds", "registry_owners_committees", "credit_events", "hotline_events"):
        daily[feed] = _table(feed)
    loaded = _q("select feed, interval_start, count(*) from raw.batch_log where status = 'loaded' "
                "group by 1, 2 having count(*) > 1")
    assert loaded == []  # one loaded batch per feed and day
    assert _q("select count(*) from raw.batch_log where status = 'superseded'")[0][0] == 10  # 8 sheets + 2

    with psycopg.connect(os.environ["SHUMEI_WAREHOUSE_URL"], autocommit=True) as conn:
        fresh_migrated(conn)
    for source in ("registry", "credit", "hotline"):
        load_range(source, FIRST, FIRST + timedelta(days=2))
    for feed, rows in daily.items():
        assert _table(feed) == rows, feed


# ---- hotline faults: retried, or the batch fails leaving nothing --------------------------------

@pytest.mark.parametrize("faults", [
    {"http_500_next": 2},
    {"http_503_next": 2},
    {"http_503_every": 2},
    {"truncate_page": 1},
    {"repeat_page": 1},
    {"drop_connection": 1},
    {"timeout_seconds": 3},
    {"truncate_multibyte": 1},  # issue 11 item 6: was a permanent "encoding" error
], ids=lambda f: next(iter(f)))
def test_transient_faults_are_retried(registry_loaded, env, hotline, faults):
    clean = load_day("hotline", LAST).batches[0]
    load_day("hotline", LAST - timedelta(days=3))  # the server's "previous page" is now another day's
    _faults(hotline, {"reset": True, **faults})
    if "timeout_seconds" in faults:
        # every request times out: the retries run out and the batch fails cleanly
        with pytest.raises(SourceUnavailable):
            load_day("hotline", LAST)
        assert _q("select count(*) from raw.batch_log where status = 'failed'")[0][0] == 1
        kept = _q("select count(*) from raw.hotline_events where _interval_start = %s", LAST)[0][0]
        assert kept == clean.rows_loaded  # the earlier load of the day is untouched
        return
    again = load_day("hotline", LAST).batches[0]
    assert (again.rows_received, again.rows_loaded) == (clean.rows_received, clean.rows_loaded)
    assert "0 retries" not in _q("select file_or_page from raw.batch_log where batch_id = %s", again.batch_id)[0][0]


def test_persistent_failure_leaves_nothing(registry_loaded, env, hotline):
    _faults(hotline, {"reset": True, "http_500_next": 100})
    with pytest.raises(SourceUnavailable):
        load_day("hotline", LAST)
    assert _q("select count(*) from raw.hotline_events") == [(0,)]
    failed = _q("select status, message from raw.batch_log where source = 'hotline'")
    assert failed[0][0] == "failed" and "500" in failed[0][1]


def test_rate_limit_is_honoured(pg_server, drops, registry_loaded, env, monkeypatch):
    port = free_port()
    proc = subprocess.Popen([SIM, "serve-hotline", "--db", str(drops / "hotline" / "events.sqlite"),
                             "--port", str(port), "--token", TOKEN, "--rate-limit", "2", "--burst", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url + "/health", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        monkeypatch.setenv("SHUMEI_HOTLINE_URL", url)
        monkeypatch.setenv("SHUMEI_HOTLINE_PAGE_SIZE", "20")
        get_settings.cache_clear()
        result = load_day("hotline", LAST).batches[0]
        note = _q("select file_or_page from raw.batch_log where batch_id = %s", result.batch_id)[0][0]
        assert result.rows_received > 40 and "0 retries" not in note  # 429s were met and waited out
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("drift", ["rename", "missing", "extra"])
def test_hotline_schema_drift_refuses_the_batch(registry_loaded, env, hotline, drift):
    _faults(hotline, {"reset": True, "schema_drift": drift})
    with pytest.raises(BatchStructureError, match="column"):
        load_day("hotline", LAST)
    assert _q("select count(*) from raw.hotline_events") == [(0,)]


@pytest.mark.parametrize(("kind", "reason"), [
    ("invalid_uscc", "invalid_uscc"),
    ("closed_before_received", "out_of_order"),
    ("future_date", "future_date"),
    ("duplicate_key_conflict", "duplicate_key_conflict"),
    ("excel_date_serial", "invalid_type"),
    ("out_of_range", "out_of_range"),
])
def test_hotline_bad_rows_are_quarantined_with_reason(registry_loaded, env, hotline, kind, reason):
    _faults(hotline, {"reset": True, "bad_rows": [kind]})
    batch = load_day("hotline", LAST).batches[0]
    assert batch.rows_rejected >= 1 and reason in batch.rejects_by_reason
    assert batch.rows_received == batch.rows_loaded + batch.rows_rejected
    stored = _q("select reason_code from raw.rejects where batch_id = %s", batch.batch_id)
    assert (reason,) in stored


@pytest.mark.parametrize("kind", ["gbk_text", "empty_file"])
def test_hotline_unreadable_pages_fail_the_batch(registry_loaded, env, hotline, kind):
    _faults(hotline, {"reset": True, "bad_rows": [kind]})
    with pytest.raises((BatchStructureError, SourceUnavailable)):
        load_day("hotline", LAST)
    assert _q("select count(*) from raw.hotline_events") == [(0,)]


def test_unknown_compound_is_rejected_at_the_door(registry_loaded, env, hotline):
    # DOMAIN §8 (issue 11 item 5): was loaded, and only a dbt warning said so
    _faults(hotline, {"reset": True, "bad_rows": ["unknown_compound"]})
    batch = load_day("hotline", LAST).batches[0]
    assert batch.rejects_by_reason.get("unknown_reference", 0) >= 1
    assert _q("select count(*) from raw.hotline_events where compound_id = 'XQ9999'") == [(0,)]
    assert ("compound_id",) in _q("select reason_field from raw.rejects where reason_code = 'unknown_reference'")


def test_a_day_waits_for_the_registry_it_refers_to(env, hotline):
    """Without the registry of the day, the hotline's references cannot be checked the same way in a
    daily run and a backfill: the day waits (here 0 s), then fails as transient, loading nothing."""
    from shumei.ingest.jobs import ReferencesNotReady

    load_range("registry", FIRST, LAST - timedelta(days=1))
    with pytest.raises(ReferencesNotReady, match="registry"):
        load_day("hotline", LAST)
    assert _q("select count(*) from raw.batch_log where source = 'hotline' and status = 'loaded'") == [(0,)]
    assert load_day("hotline", LAST - timedelta(days=1)).batches[0].rows_rejected == 0


# ---- file drops: bad files -----------------------------------------------------------------------

def _bad_drop(tmp_path: Path, feed: str, kind: str, day: date) -> Path:
    subprocess.run([SIM, "bad-file", feed, "--kind", kind, "--date", day.isoformat(), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    return tmp_path / feed


CREDIT_DAY = date(2022, 12, 28)


@pytest.mark.parametrize(("feed", "kind", "reason"), [
    ("registry", "invalid_uscc", "invalid_uscc"),
    ("registry", "closed_before_received", "out_of_order"),
    ("registry", "future_date", "future_date"),
    ("registry", "duplicate_key_conflict", "duplicate_key_conflict"),
    ("registry", "excel_date_serial", "invalid_type"),
    ("registry", "out_of_range", "out_of_range"),
    ("registry", "unknown_compound", "unknown_reference"),  # DOMAIN §8: not loaded (was: loaded, a dbt warning)
    ("credit", "unknown_compound", "unknown_reference"),
    ("credit", "invalid_uscc", "invalid_uscc"),
    ("credit", "closed_before_received", "future_date"),  # event 10 days after its record: future first
    ("credit", "future_date", "future_date"),
    ("credit", "duplicate_key_conflict", "duplicate_key_conflict"),
    ("credit", "excel_date_serial", "invalid_type"),
    ("credit", "out_of_range", "out_of_range"),
])
def test_bad_rows_in_drops_are_quarantined(registry_loaded, env, tmp_path, monkeypatch, feed, kind, reason):
    monkeypatch.setenv(f"SHUMEI_{feed.upper()}_DIR", str(_bad_drop(tmp_path, feed, kind, CREDIT_DAY)))
    get_settings.cache_clear()
    result = load_day(feed, CREDIT_DAY)
    reasons = {code for b in result.batches for code in b.rejects_by_reason}
    assert reason in reasons, (kind, reasons)
    for b in result.batches:
        assert b.rows_received == b.rows_loaded + b.rows_rejected


@pytest.mark.parametrize(("feed", "kind", "message"), [
    ("registry", "rename", "column"), ("registry", "missing", "column"), ("registry", "extra", "column"),
    ("registry", "empty_file", "empty"), ("registry", "gbk_text", "UTF-8"),
    ("credit", "rename", "column"), ("credit", "missing", "column"), ("credit", "extra", "column"),
    ("credit", "empty_file", "manifest"), ("credit", "gbk_text", "UTF-8"),
])
def test_bad_structure_in_drops_refuses_the_batch(registry_loaded, env, tmp_path, monkeypatch, feed, kind, message):
    monkeypatch.setenv(f"SHUMEI_{feed.upper()}_DIR", str(_bad_drop(tmp_path, feed, kind, CREDIT_DAY)))
    get_settings.cache_clear()
    with pytest.raises(BatchStructureError, match=message):
        load_day(feed, CREDIT_DAY)
    assert _q("select count(*) from raw.batch_log where status = 'loaded' and file_or_page like %s",
              f"{tmp_path}%") == [(0,)]
    assert _q("select count(*) from raw.batch_log where status = 'failed'") == [(1,)]


def test_missing_drop_is_a_clear_failure(env, tmp_path, monkeypatch):
    monkeypatch.setenv("SHUMEI_REGISTRY_DIR", str(tmp_path))
    get_settings.cache_clear()
    with pytest.raises(DropMissing, match="no drop for 2022-12-28"):
        load_day("registry", CREDIT_DAY)


def test_incomplete_drop_without_manifest_is_not_loaded(registry_loaded, env, drops, tmp_path, monkeypatch):
    day = tmp_path / CREDIT_DAY.isoformat()
    day.mkdir()
    src = drops / "credit" / CREDIT_DAY.isoformat()
    (day / "credit_events.jsonl").write_bytes((src / "credit_events.jsonl").read_bytes())
    monkeypatch.setenv("SHUMEI_CREDIT_DIR", str(tmp_path))
    get_settings.cache_clear()
    with pytest.raises(DropMissing, match="no manifest"):
        load_day("credit", CREDIT_DAY)
    (day / "manifest.json").write_text(json.dumps(json.loads((src / "manifest.json").read_text())))
    assert load_day("credit", CREDIT_DAY).batches[0].rows_loaded > 0


def test_ambiguous_credit_date_is_rejected_never_guessed(registry_loaded, env, drops, tmp_path, monkeypatch):
    # issue 11: "01/05/2023" loaded as 5 January and revised final figures; DOMAIN §8: rejected
    src = drops / "credit" / CREDIT_DAY.isoformat()
    lines = (src / "credit_events.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["event_date"] = "05/12/2022"  # 5 December, day first; PostgreSQL (DateStyle MDY) read 12 May
    lines[0] = json.dumps(first, ensure_ascii=False)
    folder = tmp_path / CREDIT_DAY.isoformat()
    folder.mkdir()
    (folder / "credit_events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import hashlib

    manifest = json.loads((src / "manifest.json").read_text())
    manifest["sha256"] = hashlib.sha256((folder / "credit_events.jsonl").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert manifest["rows"] == len(lines)
    monkeypatch.setenv("SHUMEI_CREDIT_DIR", str(tmp_path))
    get_settings.cache_clear()
    batch = load_day("credit", CREDIT_DAY).batches[0]
    assert batch.rejects_by_reason == {"date_not_iso": 1}
    assert _q("select reason_field, record ->> 'credit_event_id' from raw.rejects where batch_id = %s",
              batch.batch_id) == [("event_date", first["credit_event_id"])]
    assert _q("select count(*) from raw.credit_events where credit_event_id = %s", first["credit_event_id"]) == [(0,)]
    assert batch.rows_received == batch.rows_loaded + batch.rows_rejected


def _copy_drop(src: Path, dst_root: Path, day: date) -> Path:
    folder = dst_root / day.isoformat()
    folder.mkdir(parents=True)
    for f in src.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    return folder


@pytest.mark.parametrize("change", ["sha256", "rows", "no_digest"])
def test_registry_manifest_is_verified(env, drops, tmp_path, monkeypatch, change):
    """issue 11 item 5: the registry's manifest (sha256 of each file, rows of each sheet) is checked as
    the credit feed's is; a drop that differs is refused, nothing of it loaded."""
    folder = _copy_drop(drops / "registry" / CREDIT_DAY.isoformat(), tmp_path, CREDIT_DAY)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    name = next(iter(manifest["files"]))
    if change == "sha256":
        manifest["files"][name] = "0" * 64
    elif change == "rows":
        manifest["rows"]["小区"] += 1  # a compound announced, not in the workbook
    else:
        del manifest["files"][name]
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("SHUMEI_REGISTRY_DIR", str(tmp_path))
    get_settings.cache_clear()
    message = {"sha256": "does not match the manifest", "rows": "manifest says", "no_digest": "no sha256"}[change]
    with pytest.raises(BatchStructureError, match=message):
        load_day("registry", CREDIT_DAY)
    assert _q("select count(*) from raw.batch_log where status = 'loaded'") == [(0,)]


PLANTED = ("13912345678", "34152319800101123X", "王建国")  # shumei_sim.server.PLANTED_*


def _tables_outside_restricted() -> list[str]:
    return [f"{r[0]}.{r[1]}" for r in _q("""select table_schema, table_name from information_schema.tables
                                             where table_schema not in ('raw_restricted', 'pg_catalog', 'information_schema')
                                               and table_schema not like 'pg_temp%%'""")]


def test_no_planted_personal_data_outside_the_restricted_layer(registry_loaded, env, hotline, pg_server, caplog):
    """issue 11 item 3 and DOMAIN §8: a caller's phone and name, and a phone, ID number and name typed
    into the summary and note, after a good load with a U+0000 next to the caller's data and after an
    attack that fails: none of them in any table outside raw_restricted, the batch log, the rejects,
    the log records, the raised error as the task log prints it, the alert files or server.log."""
    import traceback

    _faults(hotline, {"reset": True, "bad_rows": ["nul_character", "pii_in_summary"]})
    batch = load_day("hotline", LAST).batches[0]
    assert batch.rejects_by_reason.get("invalid_character", 0) >= 1
    assert ("caller_name",) in _q("select distinct reason_field from raw.rejects where reason_code = 'invalid_character'")
    restricted = _q("select count(*) from raw_restricted.hotline_events_pii where caller_phone = %s and summary like %s",
                    PLANTED[0], f"%{PLANTED[1]}%")[0][0]
    assert restricted >= 1  # the planted data did arrive, and is kept where it belongs
    assert _q("select count(*) from raw.hotline_events where summary like '%%[手机号]%%[身份证号]%%'")[0][0] >= 1
    printed = []
    _faults(hotline, {"reset": True, "bad_rows": ["gbk_text", "nul_character", "pii_in_summary"]})
    with pytest.raises(BatchStructureError) as refused:
        load_day("hotline", LAST)
    printed.append("".join(traceback.format_exception(refused.value)))
    texts = {"log records": caplog.text, "raised errors": "\n".join(printed),
             "server.log": pg_server.logfile.read_text(encoding="utf-8", errors="replace")}
    for path in env.local_dir.rglob("*.jsonl"):
        texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    for table in _tables_outside_restricted():
        texts[table] = "\n".join(r[0] for r in _q(f"select t::text from {table} t"))
    assert "raw.batch_log" in texts and "raw.rejects" in texts and "raw.hotline_events" in texts
    found = {(where, value) for where, text in texts.items() for value in PLANTED if value in text}
    assert found == set()
