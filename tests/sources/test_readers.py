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
