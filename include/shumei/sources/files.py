"""Readers of the file drops: the registry's daily workbook and the credit system's daily feed.

Layout (see docs/contracts/): `<dir>/YYYY-MM-DD/` holds the day's files and a `manifest.json`
written last; a day without a manifest is not complete yet.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from shumei.ingest.contracts import Contract
from shumei.ingest.loader import BatchStructureError, check_structure


class DropMissing(FileNotFoundError):
    """The day's drop is not there (or not complete) after the allowed wait."""


@dataclass
class Drop:
    day: date
    folder: Path
    manifest: dict

    def stated(self, contract: Contract, what: str, path: Path):
        """What the manifest states of the feed's file: its `sha256` or `rows`, at the key path the
        contract's `manifest` gives (`<file>`: the file's name, `<sheet>`: the contract's sheet)."""
        value = self.manifest
        for key in getattr(contract.manifest, what):
            key = key.replace("<file>", path.name).replace("<sheet>", contract.sheet or "")
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            raise BatchStructureError(f"{self.folder}/manifest.json has no {what} for {contract.sheet or path.name} "
                                      f"(contract {contract.feed}: {'.'.join(getattr(contract.manifest, what))}): "
                                      "the drop cannot be verified")
        return value

    def verified_sha256(self, path: Path, contract: Contract) -> str:
        """The file's sha256, checked against the manifest: a digest that differs, or none for the
        file, refuses the batch."""
        expected = self.stated(contract, "sha256", path)
        actual = sha256_file(path)
        if actual != expected:
            raise BatchStructureError(f"{path}: sha256 {actual} does not match the manifest ({expected}): "
                                      "the file is truncated or changed")
        return actual

    def check_rows(self, path: Path, contract: Contract, received: int) -> None:
        """The rows received against the manifest's count."""
        expected = self.stated(contract, "rows", path)
        if not isinstance(expected, int) or isinstance(expected, bool):
            raise BatchStructureError(f"{self.folder}/manifest.json: the row count of {contract.sheet or path.name} "
                                      "is not a whole number")
        if expected != received:
            raise BatchStructureError(f"{path}{f' sheet {contract.sheet}' if contract.sheet else ''}: manifest says "
                                      f"{expected} rows, the drop has {received}")

    def file(self, pattern: str) -> Path:
        found = sorted(self.folder.glob(pattern))
        if len(found) != 1:
            raise BatchStructureError(f"{self.folder}: expected one file matching {pattern!r}, found "
                                      f"{[p.name for p in found]}")
        return found[0]


def wait_for_drop(root: Path, day: date, wait_seconds: float = 0.0, poll: float = 5.0) -> Drop:
    """The day's folder with its manifest; waits up to `wait_seconds`, then fails clearly."""
    folder = root / day.isoformat()
    deadline = time.monotonic() + wait_seconds
    while True:
        manifest = folder / "manifest.json"
        if manifest.exists():
            return Drop(day, folder, json.loads(manifest.read_text(encoding="utf-8")))
        if time.monotonic() >= deadline:
            state = "has no manifest.json (incomplete)" if folder.exists() else "does not exist"
            raise DropMissing(f"no drop for {day}: {folder} {state} (waited {wait_seconds:.0f} s)")
        time.sleep(poll)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cell(value, field_type: str):
    if field_type == "date" and isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    return value


def read_workbook(path: Path, contracts: list[Contract]) -> dict[str, list[dict]]:
    """The rows of every contract's sheet as {header: value}, reading the workbook once (calamine).

    The structure of every sheet is checked before any row is returned."""
    from python_calamine import CalamineWorkbook

    if path.stat().st_size == 0:
        raise BatchStructureError(f"{path}: empty file (0 bytes)")
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types on broken workbooks
        raise BatchStructureError(f"{path}: not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})") from exc
    out: dict[str, list[dict]] = {}
    for contract in contracts:
        if contract.sheet not in wb.sheet_names:
            raise BatchStructureError(f"{path.name}: sheet {contract.sheet!r} is missing (sheets: {wb.sheet_names})")
        rows = wb.get_sheet_by_name(contract.sheet).to_python(skip_empty_area=False)
        if not rows:
            raise BatchStructureError(f"{path.name}: sheet {contract.sheet!r} is empty (no header row)")
        headers = [str(h).strip() if h is not None else "" for h in rows[0]]
        while headers and headers[-1] == "":
            headers.pop()
        check_structure(contract, headers)
        types = {f.header: f.type for f in contract.fields}
        out[contract.feed] = [
            {h: _cell(v, types[h]) for h, v in zip(headers, values, strict=False) if h}
            for values in rows[1:] if any(v not in (None, "") for v in values)
        ]
    return out


def read_csv_sheet(folder: Path, contract: Contract) -> list[dict]:
    """The CSV option of the registry export: `<sheet>.csv`, UTF-8, one file per sheet."""
    import csv
    import io

    path = folder / f"{contract.sheet}.csv"
    if not path.exists():
        raise BatchStructureError(f"{folder}: {path.name} is missing")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchStructureError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start}); GBK-encoded exports "
                                  "must be converted or re-sent as UTF-8") from exc
    # newline='' keeps line breaks inside quoted cells, as the workbook path does
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise BatchStructureError(f"{path}: empty file (no header row)")
    headers = [h.strip() for h in header]
    check_structure(contract, headers)
    return [dict(zip(headers, (v if v != "" else None for v in values), strict=False))
            for values in reader if any(v.strip() for v in values)]


def read_lines(path: Path) -> Iterator[bytes]:
    """The lines of a JSON-lines file as bytes; PostgreSQL parses them (see loader.JsonDocs)."""
    with path.open("rb") as fh:
        yield from fh
