"""Data contracts of the source feeds: `shumei/contracts/<feed>.yaml`, hand-maintained, the one
definition of every row rule (DOMAIN §8; the table of rules and their homes: docs/contracts.md).

The loader enforces them at the door (loader.py, fastpath.py), creates the raw tables from them
(schema.py), the file readers check the drops' manifests by them (sources/files.py), the quality
gate reads their thresholds, and the simulator (shumei_sim.specs) writes its data by them. The
models below are also the schema of the files: an unknown key, a wrong type or a rule that names a
field that does not exist refuses the file, with a message naming file and key (ContractError).
`SHUMEI_CONTRACTS_DIR` points every reader at another folder (tests, a county's own contracts).
"""

from __future__ import annotations

import csv
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Literal

import pydantic
import yaml
from stdnum.cn import uscc

from shumei.settings import get_settings

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
# The official lists of division codes (DOMAIN §3, §8), one per scale: scales/county/ is the file the
# county replaces with its own (same columns); dbt loads the same file as the seed ref_divisions (its
# seed-paths name the folder of SHUMEI_SCALE), so the door and the warehouse agree.
SCALES_DIR = Path(__file__).resolve().parents[3] / "dbt_project" / "scales"

# type -> PostgreSQL type. The forms accepted (loader._type_ok, the fast path): date = YYYY-MM-DD
# (ISO 8601) or a real Excel date cell, never 01/05/2023 (date_not_iso); timestamp = an ISO date, 'T'
# or ' ', a time and an offset (RFC 3339); integer and number = plain digits; boolean = true/false,
# t/f, 1/0, yes/no.
PG_TYPES = {
    "string": "text",
    "integer": "bigint",
    "number": "numeric",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamptz",
}
# not_future: a date or timestamp up to this many days after the batch's day is not yet "in the future"
FUTURE_TOLERANCE_DAYS = 1
_STRICT = pydantic.ConfigDict(frozen=True, extra="forbid", strict=True)


class ContractError(ValueError):
    """A contract file that does not follow the contract schema (the models below)."""


class Field(pydantic.BaseModel):
    model_config = _STRICT

    name: str = pydantic.Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["string", "integer", "number", "boolean", "date", "timestamp"]
    header: str = ""  # the column header or JSON key as sent (default: the name)
    zh: str = ""
    description: str = ""
    required: bool = False
    allowed: tuple[str, ...] | None = None
    labels_of: str | None = None  # allowed[i] is the label of that field's allowed[i] (raw_status of event_type)
    min: int | float | None = None
    max: int | float | None = None
    pattern: str | None = None
    check: Literal["uscc", "division_code"] | None = None
    pii: bool = False  # personal data: raw holds its keyed hash, raw_restricted the value
    references: str | None = pydantic.Field(None, pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")  # "<feed>.<key>" known on the day
    free_text: bool = False  # typed by operators: masked at the door, the original kept in raw_restricted only
    not_future: bool = False  # records something that happened: cannot be after the batch's day

    @pydantic.model_validator(mode="after")
    def _rules_fit_the_type(self) -> Field:
        if not self.header:
            object.__setattr__(self, "header", self.name)  # (frozen: set once, while validating)
        numeric, dated = self.type in ("integer", "number"), self.type in ("date", "timestamp")
        for key, fits in (("min", numeric), ("max", numeric), ("not_future", dated),
                          ("check", self.type == "string"), ("free_text", self.type == "string"),
                          ("pii", self.type == "string")):
            if getattr(self, key) not in (None, False) and not fits:
                raise ValueError(f"{key} does not apply to a field of type {self.type}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression ({exc})") from None
        if self.pii and self.free_text:
            raise ValueError("a field is pii or free_text, not both")
        return self

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]


class Manifest(pydantic.BaseModel):
    """Where the drop's manifest.json states this feed's file digest and row count: key paths, in
    which `<file>` stands for the file's name and `<sheet>` for the contract's sheet."""

    model_config = _STRICT

    sha256: tuple[str, ...] = pydantic.Field(min_length=1)
    rows: tuple[str, ...] = pydantic.Field(min_length=1)


class Contract(pydantic.BaseModel):
    model_config = _STRICT

    feed: str = pydantic.Field(pattern=r"^[a-z][a-z0-9_]*$")
    source: str
    format: Literal["json", "jsonl", "xlsx"]
    version: int = 1
    description: str = ""
    sheet: str | None = None  # xlsx: the sheet (and, in the CSV option, <sheet>.csv)
    primary_key: tuple[str, ...] = ()
    ordered: tuple[tuple[str, str], ...] = ()  # (earlier, later): out_of_order when later < earlier
    expect_rows: bool = False  # an empty batch is a structural error
    max_reject_share: float | None = pydantic.Field(None, ge=0, le=1)  # DOMAIN §8: beyond it, publication blocks
    # steady: a day's row count is held against the trailing days (the gate's volume rule); campaigns: the
    # records come in dated campaigns, so a day after one ends has a fraction of its rows with nothing
    # missing, and the volume rule gives no verdict (the manifest's row count and freshness still hold)
    volume: Literal["steady", "campaigns"] = "steady"
    manifest: Manifest | None = None  # file drops: the manifest's digest and row count of the feed
    # how the feed is delivered (read by people and by the simulator)
    layout: str | None = None
    snapshot: str | None = None
    updates: str | None = None
    endpoint: str | None = None
    ordering: tuple[str, ...] = ()
    incremental_key: str | None = None
    fields: tuple[Field, ...] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _names_exist(self) -> Contract:
        by_name = {f.name: f for f in self.fields}
        if len(by_name) < len(self.fields) or len({f.header for f in self.fields}) < len(self.fields):
            raise ValueError("fields: a name or header is used twice")
        for key, names in (("primary_key", self.primary_key), ("ordered", [n for p in self.ordered for n in p]),
                           ("ordering", self.ordering), ("labels_of", [f.labels_of for f in self.fields if f.labels_of])):
            if unknown := [n for n in names if n not in by_name]:
                raise ValueError(f"{key}: {unknown} not among the fields")
        for f in self.fields:
            if f.labels_of and len(f.allowed or ()) != len(by_name[f.labels_of].allowed or ()):
                raise ValueError(f"fields ({f.name}): labels_of {f.labels_of} needs as many allowed values as it")
        if (self.format == "xlsx") != (self.sheet is not None):
            raise ValueError("sheet: required for format xlsx, and only for it")
        if (self.format in ("xlsx", "jsonl")) != (self.manifest is not None):
            raise ValueError("manifest: required for the file drops (xlsx, jsonl), and only for them")
        return self

    @property
    def table(self) -> str:
        return self.feed

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def labels(self, name: str) -> dict[str, str]:
        """{allowed value of `name`: its label}, from the field whose `labels_of` is `name`."""
        label = next(f for f in self.fields if f.labels_of == name)
        return dict(zip(self.field(name).allowed, label.allowed, strict=True))

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


def divisions_file(scale: str | None = None) -> Path:
    """The official division list of `scale` (default: the setting SHUMEI_SCALE)."""
    return SCALES_DIR / (scale or get_settings().scale) / "ref_divisions.csv"


def division_codes(path: Path | None = None) -> frozenset[str]:
    """The 12-digit codes of the official division list (`check: division_code` accepts only these)."""
    return _division_codes(path or divisions_file())


@cache
def _division_codes(path: Path) -> frozenset[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        codes = frozenset(row["area_code"].strip() for row in csv.DictReader(fh) if row.get("area_code"))
    if not codes:
        raise ValueError(f"{path}: the division list has no area_code rows")
    return codes


def uscc_check_character(body: str) -> str:
    """The check character (GB 32100-2015) of the first 17 characters of a unified social credit code
    (python-stdnum); the simulator makes its codes with it."""
    return uscc.calc_check_digit(body)


def valid_uscc(code: str) -> bool:
    """A unified social credit code as the contracts require it (`check: uscc`): 18 characters, upper
    case, check character right."""
    return len(code) == 18 and code == code.upper() and uscc.is_valid(code)


def _problems(exc: pydantic.ValidationError, doc: dict) -> str:
    """Pydantic's errors as `key: problem`, a field named by its position and name."""
    out: dict[str, str] = {}
    for error in exc.errors():
        parts, node = [], doc
        for part in error["loc"]:
            if isinstance(part, int):
                name = node[part].get("name") if isinstance(node, list) and isinstance(node[part], dict) else None
                parts[-1] += f"[{part}]" + (f" ({name})" if name else "")
            elif isinstance(node, dict) and part in node or error["type"] in ("missing", "extra_forbidden"):
                parts.append(str(part))
            else:  # a member of a union (int | float): not a key
                continue
            node = node[part] if isinstance(node, list | dict) and (isinstance(part, int) or part in node) else None
        message = {"extra_forbidden": "unknown key", "missing": "required key missing"}.get(
            error["type"], error["msg"].removeprefix("Value error, "))
        out.setdefault(".".join(parts) or "(file)", message)
    return "; ".join(f"{k}: {v}" for k, v in out.items())


def contract_from_doc(doc: dict, origin: str = "contract") -> Contract:
    """A contract from its YAML document, checked strictly (JSON types: no 'yes' for true, no 1 for
    '1'); ContractError names `origin` (the file) and each key at fault."""
    if not isinstance(doc, dict):
        raise ContractError(f"{origin}: a contract is a mapping of keys, not {type(doc).__name__}")
    try:
        return Contract.model_validate_json(json.dumps(doc, ensure_ascii=False, default=str))
    except pydantic.ValidationError as exc:
        raise ContractError(f"{origin}: {_problems(exc, doc)}") from None


def load_contracts(directory: Path | str | None = None) -> dict[str, Contract]:
    """Every contract of the folder (default: SHUMEI_CONTRACTS_DIR, else the package's), by feed."""
    return _load(Path(directory or os.environ.get("SHUMEI_CONTRACTS_DIR") or CONTRACTS_DIR).resolve())


@cache
def _load(directory: Path) -> dict[str, Contract]:
    contracts: dict[str, Contract] = {}
    origin: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        contract = contract_from_doc(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
        if contract.feed in contracts:
            raise ContractError(f"{path}: feed {contract.feed} is defined in {origin[contract.feed]} too")
        contracts[contract.feed], origin[contract.feed] = contract, path.name
    if not contracts:
        raise ContractError(f"{directory}: no contract files (*.yaml)")
    for feed, contract in contracts.items():
        for i, f in enumerate(contract.fields):
            target, _, key = (f.references or "").partition(".")
            if f.references and (target not in contracts or contracts[target].primary_key != (key,)):
                raise ContractError(f"{directory / origin[feed]}: fields[{i}] ({f.name}).references: "
                                    f"{f.references} is not the primary key of a feed")
    return contracts


def contracts_for(source: str) -> list[Contract]:
    return [c for c in load_contracts().values() if c.source == source]


def get_contract(feed: str) -> Contract:
    try:
        return load_contracts()[feed]
    except KeyError:
        raise KeyError(f"no contract for feed {feed!r}; known: {sorted(load_contracts())}") from None
