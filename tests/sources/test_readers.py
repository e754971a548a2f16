"""Source readers on inputs the simulators do not produce."""

from __future__ import annotations

from shumei.ingest.contracts import get_contract
from shumei.sources.files import read_csv_sheet
from shumei.sources.hotline import _event_ids


def test_csv_cells_keep_their_line_breaks(tmp_path):
    """A quoted cell spanning lines is one value that keeps its line break (read as \n)."""
    contract = get_contract("registry_compounds")
    headers = [f.header for f in contract.fields]
    first = ['"XQ0001"'] + ['""'] * (len(headers) - 1)
    first[1] = '"华庭花园\r\n二期"'
    (tmp_path / f"{contract.sheet}.csv").write_text(
        ",".join(headers) + "\r\n" + ",".join(first) + "\r\n", encoding="utf-8")
    rows = read_csv_sheet(tmp_path, contract)
    assert len(rows) == 1
    assert rows[0][headers[1]] == "华庭花园\n二期"


def test_page_items_that_are_not_objects_have_no_id():
    """A page item that is not a JSON object must not crash the client: the loader refuses it."""
    assert _event_ids([{"event_id": "RX1-01"}, "text", 3, None]) == ("RX1-01", None, None, None)


def test_the_manifest_is_read_where_the_contract_says(tmp_path):
    """A drop's digest and row count are read at the contract's `manifest` key paths: a manifest
    without them, or with a row count that is not a number, refuses the drop naming what is missing."""
    import hashlib
    from datetime import date

    import pytest
    from shumei.ingest.loader import BatchStructureError
    from shumei.sources.files import Drop

    compounds, credit = get_contract("registry_compounds"), get_contract("credit_events")
    (tmp_path / "a.xlsx").write_bytes(b"x")
    (tmp_path / "c.jsonl").write_bytes(b"y\n")
    digest = {p: hashlib.sha256((tmp_path / p).read_bytes()).hexdigest() for p in ("a.xlsx", "c.jsonl")}
    drop = Drop(date(2024, 3, 1), tmp_path, {"files": {"a.xlsx": digest["a.xlsx"]}, "rows": {"小区": 2},
                                             "sha256": digest["c.jsonl"]})
    assert drop.verified_sha256(tmp_path / "a.xlsx", compounds) == digest["a.xlsx"]
    assert drop.verified_sha256(tmp_path / "c.jsonl", credit) == digest["c.jsonl"]
    drop.check_rows(tmp_path / "a.xlsx", compounds, 2)
    with pytest.raises(BatchStructureError, match=r"has no rows for c.jsonl \(contract credit_events: rows\)"):
        Drop(drop.day, tmp_path, {"sha256": digest["c.jsonl"]}).check_rows(tmp_path / "c.jsonl", credit, 1)
    with pytest.raises(BatchStructureError, match=r"has no sha256 for 小区 \(contract registry_compounds: files.<file>\)"):
        Drop(drop.day, tmp_path, {"files": {}}).verified_sha256(tmp_path / "a.xlsx", compounds)
    with pytest.raises(BatchStructureError, match="manifest says 2 rows, the drop has 3"):
        drop.check_rows(tmp_path / "a.xlsx", compounds, 3)
    drop.manifest["rows"] = {"小区": "2"}
    with pytest.raises(BatchStructureError, match="row count of 小区 is not a whole number"):
        drop.check_rows(tmp_path / "a.xlsx", compounds, 2)
