"""The contract files: their schema, the shipped contracts, and a contract change reaching both the
loader and the simulator (the pipeline owns the contracts; the simulator reads them)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml
from shumei.ingest.contracts import CONTRACTS_DIR, ContractError, contract_from_doc, load_contracts
from shumei.ingest.loader import BatchMeta, BatchStructureError, JsonDocs, check_structure, load_batch

SIM = str(Path(sys.executable).parent / "shumei-sim")
MINIMAL = {"feed": "test_x", "source": "test", "format": "json", "primary_key": ["id"],
           "fields": [{"name": "id", "type": "string", "required": True}, {"name": "score", "type": "integer"}]}


def _with(path: str, value) -> dict:
    """MINIMAL with one key set (`fields.1.min`: the second field's min)."""
    doc = json.loads(json.dumps(MINIMAL))
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(("key", "value", "message"), [
    ("fields.1.allowd", ["1"], "fields[1] (score).allowd: unknown key"),
    ("max_reject_shares", 0.05, "max_reject_shares: unknown key"),
    ("fields.0.required", "yes", "fields[0] (id).required: Input should be a valid boolean"),
    ("fields.1.min", "1", "fields[1] (score).min: Input should be a valid integer"),
    ("fields.1.type", "int", "fields[1] (score).type: Input should be 'string'"),
    ("max_reject_share", 5, "max_reject_share: Input should be less than or equal to 1"),
    ("fields.0.allowed", [12345], "fields[0] (id).allowed[0]: Input should be a valid string"),
    ("primary_key", ["order_id"], "primary_key: ['order_id'] not among the fields"),
    ("ordered", [["id", "closed_at"]], "ordered: ['closed_at'] not among the fields"),
    ("fields.1.pattern", "^[0-9", "pattern is not a regular expression"),
    ("fields.1.free_text", True, "free_text does not apply to a field of type integer"),
    ("format", "xlsx", "sheet: required for format xlsx"),
])
def test_the_schema_refuses_a_wrong_key_or_type_naming_file_and_key(key, value, message):
    with pytest.raises(ContractError) as error:
        contract_from_doc(_with(key, value), "contracts/test_x.yaml")
    assert str(error.value).startswith("contracts/test_x.yaml: ") and message in str(error.value), str(error.value)


def test_a_missing_key_and_a_reference_to_no_feed_are_refused(tmp_path):
    doc = json.loads(json.dumps(MINIMAL))
    del doc["fields"][1]["type"]
    with pytest.raises(ContractError, match=r"fields\[1\] \(score\)\.type: required key missing"):
        contract_from_doc(doc, "x.yaml")
    (tmp_path / "test_x.yaml").write_text(yaml.safe_dump(_with("fields.1.references", "test_y.id")), "utf-8")
    with pytest.raises(ContractError, match=r"test_x.yaml: fields\[1\] \(score\)\.references: test_y.id is not"):
        load_contracts(tmp_path)


def test_shipped_contracts_are_documented():
    """Every file says it is the source and who reads it; every field says what it is, in both languages."""
    contracts = load_contracts(CONTRACTS_DIR)
    assert len(contracts) == 10
    for path in sorted(CONTRACTS_DIR.glob("*.yaml")):
        head = path.read_text("utf-8").split("\nfeed:")[0]
        assert "source of truth" in head and "Read by" in head and "simulator" in head, path.name
    for contract in contracts.values():
        assert contract.description, contract.feed
        for f in contract.fields:
            assert f.description and f.zh, f"{contract.feed}.{f.name}"
        if contract.source != "hotline":
            assert contract.manifest is not None, contract.feed


def test_the_contract_docs_list_every_field_and_allowed_value():
    """docs/contracts/<source>.md shows the contracts to people: the same fields and allowed values."""
    for contract in load_contracts(CONTRACTS_DIR).values():
        doc = (CONTRACTS_DIR.parents[2] / "docs" / "contracts" / f"{contract.source}.md").read_text("utf-8")
        for f in contract.fields:
            assert f"| `{f.name}` | {f.header} |" in doc, f"{contract.feed}.{f.name} missing from the docs"
            for value in f.allowed or ():
                assert value in doc, f"{contract.feed}.{f.name}: {value}"


NEW_CATEGORY = "充电设施"  # a category the shipped contract does not allow
RENAMED = ("小区地址", "小区详细地址")  # a header of registry_compounds, renamed


@pytest.fixture(scope="module")
def changed(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the contracts with one new allowed value and one renamed header, and the simulator's
    data generated with it (SHUMEI_CONTRACTS_DIR, as a county would point it at its own folder)."""
    root = tmp_path_factory.mktemp("changed")
    contracts = root / "contracts"
    shutil.copytree(CONTRACTS_DIR, contracts)
    hotline = contracts / "hotline_events.yaml"
    hotline.write_text(hotline.read_text("utf-8").replace("其他物业问题]", f"其他物业问题, {NEW_CATEGORY}]"), "utf-8")
    compounds = contracts / "registry_compounds.yaml"
    compounds.write_text(compounds.read_text("utf-8").replace(f"header: {RENAMED[0]}", f"header: {RENAMED[1]}"), "utf-8")
    assert NEW_CATEGORY in load_contracts(contracts)["hotline_events"].field("category").allowed
    subprocess.run([SIM, "generate", "--out", str(root / "data"), "--start", "2022-11-01", "--end", "2022-11-30",
                    "--only", "hotline,registry", "--format", "csv"],
                   check=True, capture_output=True, env={**os.environ, "SHUMEI_CONTRACTS_DIR": str(contracts)})
    return contracts, root / "data"


def test_a_renamed_header_reaches_the_simulator_and_the_loader(changed):
    contracts, data = changed
    header = (data / "registry" / "2022-11-30" / "小区.csv").read_text("utf-8").splitlines()[0].split(",")
    assert RENAMED[1] in header and RENAMED[0] not in header
    check_structure(load_contracts(contracts)["registry_compounds"], header)  # the changed contract: accepted
    with pytest.raises(BatchStructureError, match=RENAMED[0]):
        check_structure(load_contracts(CONTRACTS_DIR)["registry_compounds"], header)


@pytest.mark.integration
def test_a_new_allowed_value_reaches_the_simulator_and_the_loader(changed, empty_raw):
    contracts, data = changed
    con = sqlite3.connect(data / "hotline" / "events.sqlite")
    con.row_factory = sqlite3.Row
    from shumei_sim.hotline import row_to_event

    events = [row_to_event(r) for r in con.execute("select * from events order by updated_at, event_id")]
    con.close()
    assert sum(e["category"] == NEW_CATEGORY for e in events) > 0  # the simulator draws it

    def category_rejects(contract) -> int:
        conn = empty_raw(contract)
        meta = BatchMeta("hotline", contract.feed, date(2022, 11, 1), date(2023, 3, 1), "test")
        result = load_batch(conn, contract, JsonDocs([json.dumps({"items": events}).encode()], "items"), meta,
                            pii_key="k", checksum="c")
        found = conn.execute("select count(*) from raw.rejects where reason_field = 'category'").fetchone()[0]
        assert result.rows_received == len(events)
        conn.rollback()
        return found

    assert category_rejects(load_contracts(contracts)["hotline_events"]) == 0  # the changed contract allows it
    assert category_rejects(load_contracts(CONTRACTS_DIR)["hotline_events"]) == sum(
        e["category"] == NEW_CATEGORY for e in events)
