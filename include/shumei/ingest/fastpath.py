"""The fast path of the loader for JSON batches: rows that are certainly valid go straight to COPY.

The exact validator is SQL (`loader._reason_cases`): it gives every rejected row its reason. Running
it on every row costs about 60 checks a row; most rows of a healthy batch pass them all. So JSON rows
first meet this fast path, in the loader's own process while PostgreSQL is busy with the COPY:

- msgspec decodes each item into a struct generated from the contract; while decoding it checks in C
  the keys (all present, none extra), required values, types, allowed values, ranges, and that
  timestamps carry an offset;
- a function generated from the contract checks the rest: no leading or trailing spaces (which the
  SQL path would trim), patterns, credit-code check characters (python-stdnum) and division codes
  (each distinct value once), dates not after the batch's day, timestamps in order; and it computes
  the keyed hash (HMAC-SHA256) of each personal field, once per distinct value;
- an accepted row is written as a CSV line for raw.<feed> (personal fields replaced by their hash),
  and the key and clear personal data as a line for raw_restricted.<feed>_pii.

A row is accepted here only when the SQL validator would accept it and store the same values. Any
doubt (a value in an unusual but perhaps valid form, text with a backslash or a quote, a name whose
lowercase form depends on the database's locale) sends the row, as it came, to the SQL validator:
so the outcome is the same as without the fast path, only quicker. tests/ingest/test_fastpath.py
loads a corpus of edge cases both ways and compares.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from array import array
from datetime import date, datetime, time, timedelta, timezone
from operator import attrgetter
from typing import Annotated, Any, Literal, Optional

import msgspec
import numpy as np
from stdnum.cn import uscc

from shumei.ingest.contracts import Contract, Field

# spellings of true and false that both msgspec (exactly) and the SQL check (lower(value) in ...) accept
_BOOL_TEXT = ("true", "false", "True", "False", "TRUE", "FALSE", "t", "f", "T", "F", "1", "0",
              "yes", "no", "Yes", "No", "YES", "NO")
_BIGINT = {"ge": -(2**63), "le": 2**63 - 1}
_HASH_CACHE_MAX = 200_000  # distinct personal values remembered (then forgotten, to bound memory)
_CHINA = timezone(timedelta(hours=8))


def _field_type(f: Field) -> Any:
    """The msgspec type that accepts a value only if the SQL checks of its type, allowed values and
    range would (None: no fast check for this kind of field, every non-null value goes to SQL)."""
    if f.type == "string":
        t: Any = (Literal[tuple(str(a) for a in f.allowed)] if f.allowed is not None
                  else Annotated[str, msgspec.Meta(min_length=1)])
    elif f.allowed is not None:
        return None
    elif f.type == "integer":
        bounds = dict(_BIGINT)
        if f.min is not None:
            bounds["ge"] = max(bounds["ge"], int(-(-f.min // 1)))  # ceil
        if f.max is not None:
            bounds["le"] = min(bounds["le"], int(f.max // 1))
        t = Annotated[int, msgspec.Meta(**bounds)]
    elif f.type == "boolean":
        t = bool | Literal[_BOOL_TEXT]
    elif f.type == "timestamp":
        t = Annotated[datetime, msgspec.Meta(tz=True)]
    elif f.type == "date":
        t = date
    else:  # numbers: a JSON number as a float could lose digits that numeric keeps
        return None
    return t


class FastPath:
    """Splits a feed's JSON items into accepted CSV lines and items for the SQL validator."""

    def __init__(self, contract: Contract, interval_end: date, future_tolerance_days: int, pii_key: str,
                 batch_id: int, interval_start: date):
        self.contract = contract
        types = {f.name: _field_type(f) for f in contract.fields}
        # a contract with a kind of field this path cannot check leaves every row to SQL
        self.supported = all(t is not None for t in types.values())
        struct_fields = [(f.name, types[f.name] if f.required else Optional[types[f.name]])  # noqa: UP045
                         for f in contract.fields]
        row_type = msgspec.defstruct(f"Row_{contract.feed}", struct_fields, forbid_unknown_fields=True,
                                     rename={f.name: f.header for f in contract.fields})
        self.decode = msgspec.json.Decoder(row_type).decode
        self._encode = msgspec.json.Encoder().encode
        self._head = b"%d,%s," % (batch_id, interval_start.isoformat().encode())
        self._batch = b"%d," % batch_id
        self.check = self._compile(contract, interval_end, future_tolerance_days, pii_key)
        cols = self.restricted_columns()[2:]
        self._restricted = attrgetter(*cols) if contract.pii_fields else None
        # the hash of each accepted row's key, to find repeated keys without another pass over the batch
        self._key = attrgetter(*contract.primary_key) if contract.primary_key else None
        self._key_hashes = array("q")
        self._key_rows = array("q")

    # columns of the CSV lines, in order
    def raw_columns(self) -> list[str]:
        return ["_batch_id", "_interval_start", "_row_number"] + [
            f"{f.name}_hash" if f.pii else f.name for f in self.contract.fields]

    def restricted_columns(self) -> list[str]:
        keys = [f.name for f in self.contract.fields if f.name in self.contract.primary_key]
        return ["_batch_id", "_row_number", *keys, *(f.name for f in self.contract.pii_fields)]

    @staticmethod
    def _compile(contract: Contract, interval_end: date, tolerance_days: int, pii_key: str) -> Callable:
        """Generates `check(row) -> bool`, True when the row passes every check that msgspec did not
        make; it replaces personal values by their keyed hash on the way."""
        horizon_day = interval_end + timedelta(days=tolerance_days)
        env: dict[str, Any] = {"horizon_ts": datetime.combine(interval_end, time(), _CHINA) + timedelta(days=tolerance_days),
                               "horizon_day": horizon_day, "hmac_digest": hmac.digest, "key": pii_key.encode(),
                               "hashes": {}, "HASH_MAX": _HASH_CACHE_MAX}
        names = [f.name for f in contract.fields]
        ordered = contract.extra.get("ordered", [])
        checked = {n for pair in ordered for n in pair}
        code = ["def check(r):"]
        for i, f in enumerate(contract.fields):
            v = f"v{i}"
            if ((f.type == "string" and f.allowed is None) or f.pattern or f.check or f.not_future
                    or f.name in checked):
                code.append(f"    {v} = r.{f.name}")
            if f.type == "string" and f.allowed is None:
                # the SQL path trims spaces (btrim) and reads '' as null: leave those rows to it
                cond = f"{v}.strip(' ') is not {v}"
                code.append(f"    if {v} is not None and {cond}: return False" if not f.required
                            else f"    if {cond}: return False")
            if f.pattern or f.check:
                env[f"ok{i}"] = {}
                env[f"test{i}"] = _value_test(f)
                code.append(f"    if {v} is not None:")
                code.append(f"        ok = ok{i}.get({v})")
                code.append(f"        if ok is None: ok = ok{i}[{v}] = test{i}({v})")
                code.append("        if not ok: return False")
            if f.not_future and f.type in ("date", "timestamp"):
                bound = "horizon_ts" if f.type == "timestamp" else "horizon_day"
                code.append(f"    if {v} is not None and {v} >= {bound}: return False")
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
                     "            if len(hashes) >= HASH_MAX: hashes.clear()",
                     f"            h = hashes[{v}] = hmac_digest(key, {v}.replace(' ', '').lower().encode(), 'sha256').hex()",
                     f"        r.{f.name} = h"]
        code.append("    return True")
        exec("\n".join(code), env)  # noqa: S102 (code generated from the contract's field names only)
        return env["check"]

    def rows(self, n: int, item: bytes | msgspec.Raw) -> tuple[bytes, bytes | None] | None:
        """(raw line, restricted line or None) of row number n; None: the SQL validator decides."""
        try:
            r = self.decode(item)
        except (msgspec.MsgspecError, UnicodeDecodeError):
            return None
        restricted = self._encode(self._restricted(r)) if self._restricted else None
        if not self.check(r):
            return None
        body = self._encode(msgspec.structs.astuple(r))
        # a backslash is an escape (quote, control character) that CSV would read differently
        if b"\\" in body or (restricted and b"\\" in restricted):
            return None
        if self._key is not None:
            self._key_hashes.append(hash(self._key(r)))
            self._key_rows.append(n)
        return (b"%s%d,%s\n" % (self._head, n, body[1:-1]),
                b"%s%d,%s\n" % (self._batch, n, restricted[1:-1]) if restricted else None)


    def rows_sharing_a_key(self) -> list[int]:
        """Row numbers of accepted rows whose key's hash is shared with another accepted row: every
        row of a repeated key is among them (and, rarely, a row whose hash merely collides)."""
        if len(self._key_hashes) < 2:
            return []
        hashes = np.frombuffer(self._key_hashes, dtype=np.int64)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        same = ordered[1:] == ordered[:-1]
        shared = np.zeros(len(ordered), dtype=bool)
        shared[1:] |= same
        shared[:-1] |= same
        return np.frombuffer(self._key_rows, dtype=np.int64)[order[shared]].tolist()


def _value_test(f: Field) -> Callable[[str], bool]:
    """The pattern and check of a field for one value; True only where SQL certainly agrees. Python's
    `re` (ASCII) with `$` not matching before a final newline stands in for PostgreSQL's `~`."""
    pattern = re.compile(f.pattern, re.ASCII) if f.pattern else None

    def test(value: str) -> bool:
        if not value.isprintable():
            return False
        if pattern is not None and pattern.search(value) is None:
            return False
        if f.check == "uscc":
            return len(value) == 18 and value == value.upper() and uscc.is_valid(value)
        if f.check == "division_code":
            return len(value) == 12 and value.startswith("341523") and value.isascii() and value.isdigit()
        return True

    return test

