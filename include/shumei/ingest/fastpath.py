"""The fast path of the loader for JSON batches: rows that are certainly valid go straight to COPY.

The exact validator is SQL (`loader._reason_cases`, about 60 checks a row); most rows of a healthy
batch pass them all. So JSON rows first meet this path, in the loader's process while PostgreSQL runs
the COPY: msgspec decodes each item into a struct generated from the contract (checking in C the keys,
required values, types, allowed values, ranges, offsets of timestamps); a function generated from the
contract checks the rest (no spaces around values, patterns, credit codes, division codes, references,
dates not after the batch's day, order) once per distinct value and computes the keyed hashes; an
accepted row becomes a CSV line for raw.<feed> and one for raw_restricted.<feed>_pii.
Any doubt (an unusual but perhaps valid form, a backslash or a quote, text whose lowercase form depends
on the database's locale) sends the row as it came to the SQL validator, so the outcome is the same as
without this path (tests/ingest/test_fastpath.py compares both on a corpus of edge cases).
"""

from __future__ import annotations

import hmac
import re
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from operator import attrgetter
from typing import Annotated, Any, Literal, Optional

import msgspec
import numpy as np

from shumei.ingest.contracts import FUTURE_TOLERANCE_DAYS, Contract, Field, division_codes, valid_uscc
from shumei.ingest.masking import mask_free_text

# spellings of true and false that both msgspec (exactly) and the SQL check (lower(value) in ...) accept
_BOOL_TEXT = ("true", "false", "True", "False", "TRUE", "FALSE", "t", "f", "T", "F", "1", "0",
              "yes", "no", "Yes", "No", "YES", "NO")
_CACHE_MAX = 200_000  # distinct values remembered per cache (then forgotten, to bound memory)
_CHINA = timezone(timedelta(hours=8))


def _field_type(f: Field) -> Any:
    """The msgspec type that accepts a value only if the SQL checks of its type, allowed values and
    range would (None: no fast check for this kind of field, every non-null value goes to SQL)."""
    if f.type == "string":
        return (Literal[tuple(str(a) for a in f.allowed)] if f.allowed is not None
                else Annotated[str, msgspec.Meta(min_length=1)])
    # numbers: a JSON number as a float could lose digits that numeric keeps
    if f.pattern or f.check or f.allowed is not None or f.type == "number":
        return None
    if f.type == "integer":
        low, high = -(2**63), 2**63 - 1  # bigint
        return Annotated[int, msgspec.Meta(ge=low if f.min is None else max(low, int(-(-f.min // 1))),  # ceil
                                           le=high if f.max is None else min(high, int(f.max // 1)))]
    if f.type == "boolean":
        return bool | Literal[_BOOL_TEXT]
    if f.type == "timestamp":
        return Annotated[datetime, msgspec.Meta(tz=True)]
    # msgspec reads dates (and timestamps) from RFC 3339 text only, YYYY-MM-DD: any other form goes to
    # SQL, which rejects it (date_not_iso)
    return date


class FastPath:
    """Splits a feed's JSON items into accepted CSV lines and items for the SQL validator."""

    def __init__(self, contract: Contract, interval_end: date, pii_key: str, batch_id: int, interval_start: date,
                 known: Mapping[str, frozenset[str]] | None = None):
        self.contract = contract
        types = {f.name: _field_type(f) for f in contract.fields}
        # a contract with a kind of field this path cannot check leaves every row to SQL (as does
        # an order between fields of different types, which Python cannot compare)
        type_of = {f.name: f.type for f in contract.fields}
        self.supported = all(t is not None for t in types.values()) and all(
            type_of[a] == type_of[b] for a, b in contract.ordered)
        struct_fields = [(f.name, types[f.name] if f.required else Optional[types[f.name]])  # noqa: UP045
                         for f in contract.fields]
        row_type = msgspec.defstruct(f"Row_{contract.feed}", struct_fields, forbid_unknown_fields=True,
                                     rename={f.name: f.header for f in contract.fields})
        self.decode = msgspec.json.Decoder(row_type).decode
        self._encode = msgspec.json.Encoder().encode
        self._head = b"%d,%s," % (batch_id, interval_start.isoformat().encode())
        self._batch = b"%d," % batch_id
        self.check = self._compile(contract, interval_end, pii_key, known or {})
        cols = self.restricted_columns()[2:]
        # (a tuple even for one column: the CSV line is the encoded array without its brackets)
        self._restricted = (lambda r, get=attrgetter(*cols): (get(r),) if len(cols) == 1 else get(r)) \
            if contract.restricted_fields else None
        # the hash of each accepted row's key finds repeated keys without another pass over the batch
        # (the loader uses them where the keys are text: equal text is equal in SQL too)
        self._key = attrgetter(*contract.primary_key) if contract.primary_key else None

    # columns of the CSV lines, in order
    def raw_columns(self) -> list[str]:
        return ["_batch_id", "_interval_start", "_row_number"] + [
            f"{f.name}_hash" if f.pii else f.name for f in self.contract.fields]

    def restricted_columns(self) -> list[str]:
        return [c for c, _ in self.contract.restricted_columns()]

    @staticmethod
    def _compile(contract: Contract, interval_end: date, pii_key: str, known: Mapping[str, frozenset[str]]) -> Callable:
        """Generates `check(row) -> bool`, True when the row passes every check that msgspec did not
        make; it replaces personal values by their keyed hash on the way."""
        tolerance = timedelta(days=FUTURE_TOLERANCE_DAYS)
        env: dict[str, Any] = {"horizon_ts": datetime.combine(interval_end, time(), _CHINA) + tolerance,
                               "horizon_day": interval_end + tolerance, "hmac_digest": hmac.digest, "key": pii_key.encode(),
                               "hashes": {}, "values": {}, "CACHE_MAX": _CACHE_MAX}
        names = [f.name for f in contract.fields]
        ordered = contract.ordered
        in_order = {n for pair in ordered for n in pair}
        tested = [f for f in contract.fields if f.pattern or f.check or f.references]
        code = ["def check(r):"]
        for i, f in enumerate(contract.fields):
            v = f"v{i}"
            plain = f.type == "string" and f.allowed is None and f not in tested
            if plain or f in tested or f.not_future or f.name in in_order:
                code.append(f"    {v} = r.{f.name}")
            maybe = "" if f.required else f"{v} is not None and "  # msgspec has refused a null already
            if plain:
                # the SQL path trims spaces (btrim) and reads '' as null: leave those rows to it
                code.append(f"    if {maybe}{v}.strip(' ') is not {v}: return False")
            if f.not_future and f.type in ("date", "timestamp"):
                bound = "horizon_ts" if f.type == "timestamp" else "horizon_day"
                code.append(f"    if {maybe}{v} >= {bound}: return False")
        if tested:
            # patterns and checks, once per distinct combination of the tested fields' values
            env["test_values"] = _values_test(tested, known)
            combo = ", ".join(f"v{names.index(f.name)}" for f in tested)
            code += [f"    k = ({combo},)",
                     "    ok = values.get(k)",
                     "    if ok is None:",
                     "        if len(values) >= CACHE_MAX: values.clear()",
                     "        ok = values[k] = test_values(k)",
                     "    if not ok: return False"]
        for earlier, later in ordered:
            a, b = f"v{names.index(earlier)}", f"v{names.index(later)}"
            code.append(f"    if {a} is not None and {b} is not None and {a} > {b}: return False")
        for f in contract.pii_fields:
            v = f"v{names.index(f.name)}"
            # the SQL hash is of lower(replace(value, ' ', '')); PostgreSQL's lower() depends on the
            # locale except for ASCII and caseless text (Chinese), so only those are hashed here
            code += [f"    if {v} is not None:",
                     f"        h = hashes.get({v})",
                     "        if h is None:",
                     f"            if not ({v}.isascii() or {v}.lower() == {v} == {v}.upper()): return False",
                     "            if len(hashes) >= CACHE_MAX: hashes.clear()",
                     f"            h = hashes[{v}] = hmac_digest(key, {v}.replace(' ', '').lower().encode(), 'sha256').hex()",
                     f"        r.{f.name} = h"]
        if contract.free_text_fields:
            env.update(mask=mask_free_text, masks={})
        for f in contract.free_text_fields:
            # free text masked (phones, ID numbers, names), once per distinct text; the original went
            # to the restricted line before
            code += [f"    t = r.{f.name}",
                     "    if t is not None:",
                     "        m = masks.get(t)",
                     "        if m is None:",
                     "            if len(masks) >= CACHE_MAX: masks.clear()",
                     "            m = masks[t] = mask(t)",
                     f"        r.{f.name} = m"]
        code.append("    return True")
        exec("\n".join(code), env)  # noqa: S102 (code generated from the contract's field names only)
        return env["check"]

    def split(self, first: int, items: Iterable[bytes | msgspec.Raw]) -> Split:
        """Rows number first, first + 1, ... of the batch, split into CSV lines for raw.<feed> and
        raw_restricted.<feed>_pii, and the rows (n, bytes) the SQL validator must decide."""
        decode, encode, check, astuple = self.decode, self._encode, self.check, msgspec.structs.astuple
        restricted_of, key_of = self._restricted, self._key
        raw: list[bytes] = []
        restricted: list[bytes] = []
        others: list[tuple[int, bytes]] = []
        hashes, rows = array("q"), array("q")
        n = first - 1
        for item in items:
            n += 1
            try:
                r = decode(item)
            except (msgspec.MsgspecError, UnicodeDecodeError):
                others.append((n, bytes(item)))
                continue
            clear = encode(restricted_of(r)) if restricted_of else b"[]"
            if not check(r):
                others.append((n, bytes(item)))
                continue
            body = encode(astuple(r))
            # a backslash is an escape (quote, control character) that CSV would read differently
            if b"\\" in body or b"\\" in clear:
                others.append((n, bytes(item)))
                continue
            raw.append(b"%d,%s" % (n, body[1:-1]))
            if restricted_of:
                restricted.append(b"%d,%s" % (n, clear[1:-1]))
            if key_of:
                hashes.append(hash(key_of(r)))  # one process: the same hash function for the batch
                rows.append(n)
        return Split(_lines(self._head, raw), _lines(self._batch, restricted), others, hashes, rows)


@dataclass
class Split:
    raw: bytes  # CSV lines for raw.<feed>
    restricted: bytes  # CSV lines for raw_restricted.<feed>_pii
    others: list[tuple[int, bytes]]  # (row number, JSON) of the rows left to SQL
    key_hashes: array  # hash() of each accepted row's key ...
    key_rows: array  # ... and its row number


def _lines(head: bytes, parts: list[bytes]) -> bytes:
    return head + (b"\n" + head).join(parts) + b"\n" if parts else b""


def rows_sharing_a_key(hashes: array, rows: array) -> list[int]:
    """Row numbers of accepted rows whose key's hash is shared with another accepted row: every row of
    a repeated key is among them (and, rarely, a row whose hash merely collides)."""
    if len(hashes) < 2:
        return []
    values = np.frombuffer(hashes, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    same = ordered[1:] == ordered[:-1]
    shared = np.zeros(len(ordered), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    return np.frombuffer(rows, dtype=np.int64)[order[shared]].tolist()


def _value_test(f: Field, known: frozenset[str] | None) -> Callable[[str], bool]:
    """The pattern and check of a field for one value; True only where SQL certainly agrees. Python's
    `re` (ASCII) stands in for PostgreSQL's `~`; values with spaces around them, or with characters
    that are not printable (where `$` and the two engines could differ), are left to SQL."""
    pattern = re.compile(f.pattern, re.ASCII) if f.pattern else None
    divisions = division_codes() if f.check == "division_code" else frozenset()

    def test(value: str) -> bool:
        if value.strip(" ") is not value or not value.isprintable():
            return False
        if pattern is not None and pattern.search(value) is None:
            return False
        if f.check == "uscc":
            return valid_uscc(value)
        if f.references and value not in known:
            return False
        if f.check == "division_code":
            return value in divisions
        return True

    return test


def _values_test(fields: list[Field], known: Mapping[str, frozenset[str]]) -> Callable[[tuple], bool]:
    tests = [_value_test(f, known.get(f.name)) for f in fields]
    return lambda values: all(v is None or t(v) for t, v in zip(tests, values, strict=True))
