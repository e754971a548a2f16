"""Data contracts of the source feeds: the machine-readable schemas in `shumei/contracts/*.yaml`.

The ingestion validates every batch against them, creates the raw tables from them, and the quality
gate reads them too. docs/contracts/ explains each feed to people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from stdnum.cn import uscc

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
# The official list of division codes (DOMAIN §3, §8): the file the county replaces with its own (same
# columns); dbt loads the same file as the seed ref_divisions, so the door and the warehouse agree.
DIVISIONS_FILE = Path(__file__).resolve().parents[3] / "dbt_project" / "seeds" / "ref_divisions.csv"

PG_TYPES = {
    "string": "text",
    "integer": "bigint",
    "number": "numeric",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamptz",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    header: str
    zh: str = ""
    description: str = ""
    required: bool = False
    allowed: tuple | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    check: str | None = None
    pii: bool = False
    references: str | None = None  # "<feed>.<field>": a key of that feed known on the batch's day
    free_text: bool = False  # typed by operators: masked at the door, the original kept in raw_restricted only
    not_future: bool = False  # records something that happened: cannot be after the batch's day

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]


@dataclass(frozen=True)
class Contract:
    feed: str
    source: str
    format: str
    version: int
    primary_key: tuple[str, ...]
    fields: tuple[Field, ...]
    sheet: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def table(self) -> str:
        return self.feed

    @property
    def public_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.pii)

    @property
    def pii_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.pii)

    @property
    def free_text_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.free_text)

    @property
    def restricted_fields(self) -> tuple[Field, ...]:
        """What raw_restricted holds in clear: personal fields, and the originals of free text."""
        return self.pii_fields + self.free_text_fields

    def raw_columns(self) -> list[tuple[str, str]]:
        """(name, type) of raw.<feed>: batch metadata, the public fields, keyed hashes of PII fields."""
        cols = [("_batch_id", "bigint"), ("_interval_start", "date"), ("_row_number", "integer")]
        cols += [(f.name, f.pg_type) for f in self.public_fields]
        cols += [(f"{f.name}_hash", "text") for f in self.pii_fields]
        return cols

    def restricted_columns(self) -> list[tuple[str, str]]:
        """(name, type) of raw_restricted.<feed>_pii: the keys, the PII fields in clear, and the free text
        as it came (raw.<feed> holds it masked)."""
        key_fields = [f for f in self.fields if f.name in self.primary_key]
        cols = [("_batch_id", "bigint"), ("_row_number", "integer")]
        cols += [(f.name, f.pg_type) for f in key_fields]
        cols += [(f.name, f.pg_type) for f in self.restricted_fields]
        return cols


@cache
def division_codes(path: Path = DIVISIONS_FILE) -> frozenset[str]:
    """The 12-digit codes of the official division list (`check: division_code` accepts only these)."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as fh:
        codes = frozenset(row["area_code"].strip() for row in csv.DictReader(fh) if row.get("area_code"))
    if not codes:
        raise ValueError(f"{path}: the division list has no area_code rows")
    return codes


def valid_uscc(code: str) -> bool:
    """A unified social credit code (GB 32100-2015) as the contracts require it: 18 characters, upper
    case, check character right (python-stdnum)."""
    return len(code) == 18 and code == code.upper() and uscc.is_valid(code)


def _field(raw: dict) -> Field:
    allowed = raw.get("allowed")
    return Field(
        name=raw["name"],
        type=raw.get("type", "string"),
        header=str(raw.get("header", raw["name"])),
        zh=raw.get("zh", ""),
        description=raw.get("description", ""),
        required=bool(raw.get("required", False)),
        allowed=tuple(allowed) if allowed is not None else None,
        min=raw.get("min"),
        max=raw.get("max"),
        pattern=raw.get("pattern"),
        check=raw.get("check"),
        pii=bool(raw.get("pii", False)),
        free_text=bool(raw.get("free_text", False)),
        references=raw.get("references"),
        not_future=bool(raw.get("not_future", False)),
    )


def _contracts_from_doc(doc: dict) -> list[Contract]:
    """A file holds one feed, or (xlsx workbooks) a `sheets:` list of feeds sharing source/format."""
    if "sheets" in doc:
        out = []
        for sheet in doc["sheets"]:
            merged = {k: v for k, v in doc.items() if k != "sheets"}
            merged.update(sheet)
            out.extend(_contracts_from_doc(merged))
        return out
    unknown = {"feed", "source", "format", "version", "primary_key", "fields", "sheet"}
    for f in doc["fields"]:
        if f.get("type", "string") not in PG_TYPES:
            raise ValueError(f"contract {doc['feed']}: field {f['name']} has unknown type {f.get('type')}")
    return [Contract(
        feed=doc["feed"],
        source=doc["source"],
        format=doc.get("format", "json"),
        version=int(doc.get("version", 1)),
        primary_key=tuple(doc.get("primary_key", ())),
        fields=tuple(_field(f) for f in doc["fields"]),
        sheet=doc.get("sheet"),
        extra={k: v for k, v in doc.items() if k not in unknown},
    )]


@cache
def load_contracts(directory: Path = CONTRACTS_DIR) -> dict[str, Contract]:
    contracts: dict[str, Contract] = {}
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for contract in _contracts_from_doc(doc):
            if contract.feed in contracts:
                raise ValueError(f"feed {contract.feed} is defined twice (in {path.name})")
            contracts[contract.feed] = contract
    return contracts


def contracts_for(source: str) -> list[Contract]:
    return [c for c in load_contracts().values() if c.source == source]


def get_contract(feed: str) -> Contract:
    try:
        return load_contracts()[feed]
    except KeyError:
        raise KeyError(f"no contract for feed {feed!r}; known: {sorted(load_contracts())}") from None
