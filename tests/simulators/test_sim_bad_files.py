"""`shumei-sim bad-file`: each bad-data kind and schema drift produces its defect in the day's drop."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pytest
from shumei.ingest.contracts import valid_uscc
from shumei_sim.badfiles import KINDS
from shumei_sim.cli import main

DAY = "2023-12-24"  # a day with credit records (the party organisations' evaluations)


def _sheet(day_dir, name):
    wb = openpyxl.load_workbook(next(day_dir.glob("*.xlsx")), read_only=True)
    rows = list(wb[name].iter_rows(values_only=True))
    return list(rows[0]), [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


@pytest.fixture(scope="module")
def registry_drops(tmp_path_factory):
    out = tmp_path_factory.mktemp("bad")
    drops = {}
    for kind in KINDS:
        assert main(["bad-file", "registry", "--kind", kind, "--date", DAY, "--out", str(out / kind)]) == 0
        drops[kind] = out / kind / "registry" / DAY
    return drops


def test_registry_bad_kinds(registry_drops):
    d = registry_drops
    _, ents = _sheet(d["invalid_uscc"], "物业企业")
    assert sum(not valid_uscc(e["统一社会信用代码"]) for e in ents) == 1
    _, comps = _sheet(d["unknown_compound"], "小区")
    _, cms = _sheet(d["unknown_compound"], "业主委员会")
    assert "XQ9999" in {c["小区编号"] for c in cms} - {c["小区编号"] for c in comps}
    _, cms = _sheet(d["closed_before_received"], "业主委员会")
    assert any(c["解散日期"] and c["解散日期"] < c["成立日期"] for c in cms)
    _, comps = _sheet(d["future_date"], "小区")
    assert any(c["入账日期"].year == 2099 for c in comps)
    _, comps = _sheet(d["duplicate_key_conflict"], "小区")
    ids = [c["小区编号"] for c in comps]
    assert len(ids) == len(set(ids)) + 1
    _, comps = _sheet(d["out_of_range"], "小区")
    assert comps[0]["总户数"] < 1 and comps[1]["建成年份"] > 2100
    _, comps = _sheet(d["excel_date_serial"], "小区")
    assert isinstance(comps[0]["入账日期"], int) and comps[0]["入账日期"] > 30000
    assert next(d["empty_file"].glob("*.xlsx")).stat().st_size == 0
    data = (d["gbk_text"] / "小区.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("gbk").startswith("小区编号,小区名称")
    assert "小区名" in _sheet(d["rename"], "小区")[0] and "小区名称" not in _sheet(d["rename"], "小区")[0]
    assert "物业服务模式" not in _sheet(d["missing"], "小区")[0]
    assert _sheet(d["extra"], "小区")[0][-1] == "备注"
    for kind, day_dir in d.items():
        assert json.loads((day_dir / "manifest.json").read_text("utf-8"))["bad_data"] == kind


@pytest.fixture(scope="module")
def credit_drops(tmp_path_factory):
    out = tmp_path_factory.mktemp("badc")
    drops = {}
    for kind in KINDS:
        assert main(["bad-file", "credit", "--kind", kind, "--date", DAY, "--out", str(out / kind)]) == 0
        drops[kind] = out / kind / "credit" / DAY
    return drops


def _rows(day_dir, enc="utf-8"):
    return [json.loads(x) for x in (day_dir / "credit_events.jsonl").read_bytes().decode(enc).splitlines()]


def test_credit_bad_kinds(credit_drops):
    d = credit_drops
    assert sum(not valid_uscc(r["enterprise_uscc"]) for r in _rows(d["invalid_uscc"])) == 1
    assert _rows(d["unknown_compound"])[0]["compound_id"] == "XQ9999"
    r = _rows(d["closed_before_received"])[0]
    assert r["event_date"] > r["record_date"]
    assert _rows(d["future_date"])[0]["event_date"].startswith("2099")
    ids = [r["credit_event_id"] for r in _rows(d["duplicate_key_conflict"])]
    assert len(ids) == len(set(ids)) + 1
    assert all(isinstance(r["event_date"], int) for r in _rows(d["excel_date_serial"]))
    assert _rows(d["out_of_range"])[0]["score"] > 100
    with pytest.raises(UnicodeDecodeError):
        _rows(d["gbk_text"])
    assert _rows(d["gbk_text"], "gbk")
    empty = d["empty_file"]
    assert (empty / "credit_events.jsonl").stat().st_size == 0
    assert json.loads((empty / "manifest.json").read_text("utf-8"))["rows"] > 0
    assert all("uscc" in r and "enterprise_uscc" not in r for r in _rows(d["rename"]))
    assert all("score" not in r for r in _rows(d["missing"]))
    assert all("remark" in r for r in _rows(d["extra"]))


def test_normal_day_has_valid_codes(tmp_path):
    from shumei_sim.badfiles import credit_rows

    rows = credit_rows(dt.date.fromisoformat(DAY))
    assert rows and all(valid_uscc(r["enterprise_uscc"]) for r in rows)
