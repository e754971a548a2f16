"""Generated data: determinism, prefix stability, the 2022 baseline, valid credit codes, contracts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
from pathlib import Path

import openpyxl
import pytest
import yaml
from shumei.ingest.contracts import valid_uscc
from shumei_sim.common import DEFAULT_SEED
from shumei_sim.generate import generate
from sim_setup import END, SEED, START

D = dt.date
CONTRACTS = Path(__file__).resolve().parents[2] / "include" / "shumei" / "contracts"


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".sqlite"}


def _events(db: Path, upto: D | None = None) -> list[tuple]:
    con = sqlite3.connect(db)
    rows = con.execute("select * from events order by updated_at, event_id").fetchall()
    con.close()
    return [r for r in rows if upto is None or r[0][:10] <= upto.isoformat()]


def test_same_seed_and_end_give_identical_data(sim_data, tmp_path):
    generate(tmp_path, END, START, SEED, "county", None, "xlsx", progress=lambda m: None)
    assert _files(tmp_path) == _files(sim_data)
    assert _events(tmp_path / "hotline/events.sqlite") == _events(sim_data / "hotline/events.sqlite")


def test_another_seed_gives_other_data(tmp_path):
    def compound_names(seed: int) -> list:
        out = tmp_path / str(seed)
        generate(out, D(2022, 1, 3), D(2022, 1, 3), seed, "county", {"registry"}, "xlsx", progress=lambda m: None)
        wb = openpyxl.load_workbook(next((out / "registry/2022-01-03").glob("*.xlsx")), read_only=True)
        names = [r[1] for r in wb["小区"].iter_rows(min_row=2, values_only=True)]
        wb.close()
        return names

    names = compound_names(SEED + 1)
    assert len(names) > 100
    default = compound_names(DEFAULT_SEED)
    assert len(default) > 100
    assert names != default


def test_prefix_stability_and_incremental_runs(sim_data, tmp_path):
    """Data of every day <= D is the same whether the end is D or later; a later run only appends."""
    mid = END - dt.timedelta(days=5)
    inc = tmp_path / "inc"
    generate(inc, mid, START, SEED, "county", None, "xlsx", progress=lambda m: None)
    early = {k: v for k, v in _files(sim_data).items() if k.split("/")[1] <= mid.isoformat()}
    assert _files(inc) == early
    assert _events(inc / "hotline/events.sqlite") == _events(sim_data / "hotline/events.sqlite", mid)
    stats = generate(inc, END, START, SEED, "county", None, "xlsx", progress=lambda m: None)
    assert stats["credit_days"] == 5 and stats["registry_written"] + stats["registry_copied"] == 5
    assert _files(inc) == _files(sim_data)
    assert _events(inc / "hotline/events.sqlite") == _events(sim_data / "hotline/events.sqlite")


def _sheet(path: Path, name: str) -> list[dict]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_baseline_2022_12_31_is_131_of_140(sim_data):
    wb = next((sim_data / "registry/2022-12-31").glob("*.xlsx"))
    urban = [r for r in _sheet(wb, "小区") if r["是否城市住宅小区"] == "是"]
    assert len(urban) == 140
    assert sum(r["物业服务模式"] != "无物业管理" for r in urban) == 131
    assert sum(r["是否实施物业管理"] == "是" for r in urban) == 131


def test_every_credit_code_is_valid(sim_data):
    wb = next((sim_data / "registry/2023-01-08").glob("*.xlsx"))
    ents = _sheet(wb, "物业企业")
    codes = [r["统一社会信用代码"] for r in ents]
    codes += [r["物业服务企业统一社会信用代码"] for r in _sheet(wb, "小区") if r["物业服务企业统一社会信用代码"]]
    for p in (sim_data / "credit").glob("*/credit_events.jsonl"):
        codes += [json.loads(line)["enterprise_uscc"] for line in p.read_text("utf-8").splitlines()]
    codes += [r[0] for r in sqlite3.connect(sim_data / "hotline/events.sqlite").execute(
        "select distinct enterprise_uscc from events where enterprise_uscc is not null")]
    assert len(codes) > 100 and all(valid_uscc(c) for c in codes)
    assert 25 <= len(ents) <= 40
    assert 5 <= sum(r["统一社会信用代码"][2:8] != "341523" for r in ents) <= 10


def _check(value, f: dict, where: str) -> None:
    if value is None or value == "":
        assert not f["required"], f"{where}: {f['name']} is required"
        return
    t = f["type"]
    if t == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif t == "number":
        assert isinstance(value, int | float), where
    elif t == "boolean":
        assert isinstance(value, bool), where
    elif t == "date":
        assert isinstance(value, dt.datetime | dt.date) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), where
    elif t == "timestamp":
        assert dt.datetime.fromisoformat(value).utcoffset() is not None, where
    else:
        assert isinstance(value, str), where
    if "allowed" in f:
        assert value in f["allowed"], f"{where}: {value!r}"
    if "pattern" in f:
        assert re.fullmatch(f["pattern"], str(value)), f"{where}: {value!r}"
    if "min" in f:
        assert f["min"] <= value <= f["max"], where
    if f.get("check") == "uscc":
        assert valid_uscc(value), where


def test_registry_matches_contracts(sim_data):
    wb = openpyxl.load_workbook(next((sim_data / "registry/2023-01-08").glob("*.xlsx")), read_only=True)
    contracts = [yaml.safe_load(p.read_text("utf-8")) for p in sorted(CONTRACTS.glob("registry_*.yaml"))]
    assert sorted(c["sheet"] for c in contracts) == sorted(wb.sheetnames)
    for c in contracts:
        rows = list(wb[c["sheet"]].iter_rows(values_only=True))
        assert list(rows[0]) == [f["header"] for f in c["fields"]], c["sheet"]
        keys = [tuple(r[[f["name"] for f in c["fields"]].index(k)] for k in c["primary_key"]) for r in rows[1:]]
        assert len(keys) == len(set(keys)), c["sheet"]
        for r in rows[1:]:
            for f, v in zip(c["fields"], r, strict=True):
                _check(v, f, f"{c['sheet']}.{f['name']}")


def test_credit_and_hotline_match_contracts(sim_data):
    credit = yaml.safe_load((CONTRACTS / "credit_events.yaml").read_text("utf-8"))
    n = 0
    for day in sorted((sim_data / "credit").iterdir()):
        manifest = json.loads((day / "manifest.json").read_text("utf-8"))
        data = (day / "credit_events.jsonl").read_bytes()
        assert manifest["rows"] == len(data.splitlines()) and manifest["sha256"] == hashlib.sha256(data).hexdigest()
        for line in data.decode("utf-8").splitlines():
            row = json.loads(line)
            assert list(row) == [f["name"] for f in credit["fields"]]
            for f in credit["fields"]:
                _check(row[f["name"]], f, f"credit.{f['name']}")
            n += 1
    assert n > 0
    hot = yaml.safe_load((CONTRACTS / "hotline_events.yaml").read_text("utf-8"))
    con = sqlite3.connect(sim_data / "hotline/events.sqlite")
    con.row_factory = sqlite3.Row
    from shumei_sim.hotline import row_to_event

    events = [row_to_event(r) for r in con.execute("select * from events")]
    assert len(events) > 1000
    for ev in events:
        assert list(ev) == [f["name"] for f in hot["fields"]]
        for f in hot["fields"]:
            _check(ev[f["name"]], f, f"hotline.{f['name']}")
        assert ev["updated_at"] >= ev["event_at"]
    kinds = {e["event_type"] for e in events}
    assert {"RECEIVED", "DISPATCHED", "SIGNED", "REPLIED", "CLOSED", "VISITED", "MERGED"} <= kinds
    assert {e["channel"] for e in events} == {"12345", "12319"}  # the smart platform starts 2023-11-15
    assert any(e["duplicate_of"] for e in events)


@pytest.mark.parametrize("day", ["2023-01-03"])
def test_csv_format(tmp_path, day):
    generate(tmp_path, D.fromisoformat(day), D.fromisoformat(day), SEED, "county", {"registry"}, "csv",
             progress=lambda m: None)
    files = sorted(p.name for p in (tmp_path / "registry" / day).iterdir())
    assert "小区.csv" in files and "manifest.json" in files
    header = (tmp_path / "registry" / day / "小区.csv").read_text("utf-8").splitlines()[0]
    assert header.startswith("小区编号,小区名称")


def test_normal_data_has_unique_keys(tmp_path):
    """Keys never repeat in normal output (12319 copies once collided across days). Three months,
    so that copies received the day after their original are common."""
    generate(tmp_path, D(2023, 3, 31), D(2023, 1, 1), SEED, "county", ["hotline"], "xlsx", progress=lambda m: None)
    con = sqlite3.connect(tmp_path / "hotline/events.sqlite")
    dupes = con.execute("select event_id, count(*) from events group by event_id having count(*) > 1").fetchall()
    copies = con.execute("select count(*) from events where channel = '12319' and duplicate_of is not null").fetchone()[0]
    assert copies > 100
    assert dupes == []
