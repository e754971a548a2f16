"""The per-batch gate: a hand-made contract, a feed in a test schema, corrupted batches blocked."""

from __future__ import annotations

import random
from datetime import date, timedelta

import psycopg
import pytest
import yaml
from migrated import fresh_migrated
from shumei.quality import run_checkpoint
from shumei.quality.suites import batch_expectations, load_contract, load_spec
from stdnum.cn import uscc

pytestmark = pytest.mark.integration

SCHEMA, FEED = "qa_raw", "qa_enterprises"
CONTRACT = {
    "feed": FEED, "source": "registry", "format": "csv", "primary_key": ["enterprise_id"],
    "fields": [
        {"name": "enterprise_id", "type": "text", "required": True},
        {"name": "enterprise_uscc", "type": "text", "required": True, "check": "uscc"},
        {"name": "status", "type": "text", "required": True, "allowed": ["active", "closed"]},
        {"name": "event_at", "type": "timestamptz"},
        {"name": "updated_at", "type": "timestamptz"},
        {"name": "contact_phone", "type": "text", "pii": True},
    ],
}
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
TODAY = date(2024, 6, 15)
BATCH = 1000


def valid_codes(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    codes = []
    while len(codes) < n:
        body = "91341523" + "".join(rng.choice(ALPHABET) for _ in range(9))
        codes.append(body + uscc.calc_check_digit(body))
    assert all(uscc.is_valid(c) for c in codes)
    return codes


def base_rows(n: int = 20) -> list[dict]:
    return [{"enterprise_id": f"E{i:04d}", "enterprise_uscc": code, "status": "active",
             "event_at": f"2024-06-14 0{i % 10}:00+08", "updated_at": "2024-06-14 12:00+08"}
            for i, code in enumerate(valid_codes(n))]


@pytest.fixture
def feed(warehouse_url, tmp_path, monkeypatch):
    """Schema qa_raw with the feed table and a batch_log holding 10 earlier batches of ~20 rows."""
    monkeypatch.setenv("SHUMEI_GX_DIR", str(tmp_path / "gx"))
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        fresh_migrated(conn)  # a fresh audit schema
        conn.execute(f"create schema {SCHEMA}")
        conn.execute(f"""create table {SCHEMA}.{FEED} (_batch_id bigint, _interval_start date, _row_number int,
                         enterprise_id text, enterprise_uscc text, status text, event_at timestamptz,
                         updated_at timestamptz, contact_phone_hash text)""")
        conn.execute(f"""create table {SCHEMA}.batch_log (batch_id bigint primary key, source text, feed text,
                         interval_start date, interval_end date, file_or_page text, received_at timestamptz,
                         rows_received int, rows_loaded int, rows_rejected int, checksum text, status text)""")
        for i in range(1, 11):
            day = TODAY - timedelta(days=i)
            conn.execute(f"insert into {SCHEMA}.batch_log values (%s, 'registry', %s, %s, %s, 'f.csv', now(),"
                         " %s, %s, 0, 'x', 'loaded')", (i, FEED, day, day + timedelta(days=1), 18 + i % 5, 18 + i % 5))

        def load(rows: list[dict]) -> None:
            conn.execute(f"delete from {SCHEMA}.{FEED} where _batch_id = %s", (BATCH,))
            conn.execute(f"delete from {SCHEMA}.batch_log where batch_id = %s", (BATCH,))
            for n, r in enumerate(rows, 1):
                conn.execute(f"insert into {SCHEMA}.{FEED} values (%s, %s, %s, %s, %s, %s, %s, %s, md5(%s))",
                             (BATCH, TODAY, n, r["enterprise_id"], r["enterprise_uscc"], r["status"],
                              r["event_at"], r["updated_at"], r["enterprise_id"]))
            conn.execute(f"insert into {SCHEMA}.batch_log values (%s, 'registry', %s, %s, %s, 'f.csv', now(),"
                         " %s, %s, 0, 'x', 'loaded')", (BATCH, FEED, TODAY, TODAY + timedelta(days=1),
                                                        len(rows), len(rows)))
        yield conn, load


def check(warehouse_url, **kwargs):
    return run_checkpoint(warehouse_url, FEED, batch_id=BATCH, contract=CONTRACT, raw_schema=SCHEMA,
                          dag_run_id="batch-test", **kwargs)


def test_clean_batch_passes_and_is_recorded(feed, warehouse_url, tmp_path):
    conn, load = feed
    load(base_rows())
    result = check(warehouse_url, build_docs=True)
    assert result.passed and result.success, result.summary()
    checks = {o.check for o in result.outcomes}
    assert checks >= {"columns_present", "primary_key_unique", "primary_key_not_null", "required_not_null",
                      "allowed_values", "uscc_valid_share", "timestamp_order", "row_count_vs_trailing_average"}
    assert (tmp_path / "gx" / "data_docs" / "index.html").is_file()
    stored = conn.execute("select count(*), count(*) filter (where blocking) from audit.validation_results"
                          " where run_id = %s", (result.run_id,)).fetchone()
    assert stored[0] == len(result.outcomes) and 0 < stored[1] < stored[0]


def _corrupt(kind: str) -> list[dict]:
    rows = base_rows()
    if kind == "duplicate_keys":
        rows[3]["enterprise_id"] = rows[2]["enterprise_id"]
    elif kind == "invalid_credit_codes":
        for r in rows[:5]:  # 25 % invalid: below the 95 % floor
            r["enterprise_uscc"] = r["enterprise_uscc"][:-1] + ("0" if r["enterprise_uscc"][-1] != "0" else "1")
    elif kind == "disallowed_values":
        rows[0]["status"] = "deleted"
    elif kind == "row_count_far_off":
        codes = valid_codes(300, seed=11)
        rows = [dict(rows[0], enterprise_id=f"E{i:04d}", enterprise_uscc=codes[i]) for i in range(300)]
    elif kind == "timestamps_out_of_order":
        rows[1]["event_at"] = "2024-06-15 09:00+08"
    return rows


@pytest.mark.parametrize("kind, expected_check", [
    ("duplicate_keys", "primary_key_unique"),
    ("invalid_credit_codes", "uscc_valid_share"),
    ("disallowed_values", "allowed_values"),
    ("row_count_far_off", "row_count_vs_trailing_average"),
    ("timestamps_out_of_order", "timestamp_order"),
])
def test_corrupted_batch_is_blocked(feed, warehouse_url, kind, expected_check):
    conn, load = feed
    load(_corrupt(kind))
    result = check(warehouse_url, build_docs=False)
    assert not result.passed
    assert {o.check for o in result.failures} == {expected_check}, result.summary()
    assert expected_check in result.summary()


@pytest.mark.parametrize("received, passed", [(20, True), (21, True), (22, False), (52, False)])
def test_reject_share_above_the_contract_share_blocks(feed, warehouse_url, received, passed):
    """DOMAIN §8: beyond the contract's max_reject_share of rejected rows the batch blocks. 20 rows
    loaded: 1 of 21 rejected (4.8 %) passes a 5 % share, 2 of 22 (9.1 %) and 32 of 52 block; the row
    count band alone lets the last through (its ±10-row slack)."""
    conn, load = feed
    load(base_rows())
    conn.execute(f"update {SCHEMA}.batch_log set rows_received = %s, rows_rejected = %s - rows_loaded"
                 " where batch_id = %s", (received, received, BATCH))
    result = run_checkpoint(warehouse_url, FEED, batch_id=BATCH, contract=dict(CONTRACT, max_reject_share=0.05),
                            raw_schema=SCHEMA, dag_run_id="batch-test", build_docs=False)
    assert result.passed is passed, result.summary()
    assert "reject_share" in {o.check for o in result.outcomes}
    if not passed:
        assert {o.check for o in result.failures} == {"reject_share"}, result.summary()
        assert "reject_share" in result.summary()


def test_one_invalid_code_only_warns(feed, warehouse_url):
    conn, load = feed
    rows = base_rows()
    rows[0]["enterprise_uscc"] = "91350100M000100Y4Z"
    load(rows)
    result = check(warehouse_url, build_docs=False)
    assert result.passed
    assert [o.check for o in result.warnings] == ["uscc_valid_share"]


def test_contract_yaml_drives_the_suite(tmp_path):
    (tmp_path / "qa.yaml").write_text(yaml.safe_dump(CONTRACT), encoding="utf-8")
    contract = load_contract(FEED, tmp_path)
    expectations = batch_expectations(contract, load_spec("source_batch.yml"),
                                      columns={"enterprise_id"}, row_count_band=None)
    kinds = [(e.meta["check"], getattr(e.severity, "value", e.severity)) for e in expectations]
    assert ("uscc_valid_share", "critical") in kinds and ("uscc_valid_share", "warning") in kinds
    assert not any(check == "row_count_vs_trailing_average" for check, _ in kinds)
    # PII fields are not required in raw.<feed> (they may live in raw_restricted)
    present = next(e for e in expectations if e.meta["check"] == "columns_present")
    assert "contact_phone" not in present.column_set and "contact_phone_hash" in present.column_set
    with pytest.raises(FileNotFoundError):
        load_contract("no_such_feed", tmp_path)


def test_every_project_contract_builds_a_suite():
    from shumei.quality.suites import CONTRACTS_DIR

    spec = load_spec("source_batch.yml")
    paths = sorted(CONTRACTS_DIR.glob("*.yaml"))
    assert paths, f"no contracts in {CONTRACTS_DIR}"
    for path in paths:
        contract = yaml.safe_load(path.read_text(encoding="utf-8"))
        expectations = batch_expectations(contract, spec, columns=set(), row_count_band={"critical": (1, 9)})
        assert expectations[0].meta["check"] == "columns_present", path.name
