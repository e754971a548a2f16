"""The hotline API (12345 / 12319 / smart property platform work-order events), served by uvicorn.

GET /api/v1/work-order-events   Bearer token; updated_since (inclusive), updated_until (exclusive),
                                limit (1..5000, default 500), cursor (opaque, from next_cursor)
GET /health                     no auth
GET /admin/faults, POST /admin/faults   same token; switch faults at run time (docs/contracts/faults.md)
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import math
import random
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .common import TZ, corrupt_uscc, iso
from .hotline import COLUMNS, row_to_event

BAD_ROW_KINDS = ["invalid_uscc", "unknown_compound", "closed_before_received", "future_date", "duplicate_key_conflict",
                 "gbk_text", "excel_date_serial", "out_of_range", "empty_file", "nul_character", "pii_in_summary"]
# planted personal data of the kinds nul_character and pii_in_summary: a test greps every log and
# every table outside the restricted layer for them
PLANTED_PHONE, PLANTED_NAME, PLANTED_ID = "13912345678", "王建国", "34152319800101123X"


@dataclass
class Faults:
    """Fault switches. Counters (`*_next`, and true/int for the page faults) count data requests only."""
    http_500_rate: float = 0.0      # probability of a 500 per data request (seeded: fault_seed)
    http_500_next: int = 0          # the next N data requests answer 500
    http_503_next: int = 0          # the next N data requests answer 503 with Retry-After: 1
    http_503_every: int = 0         # every Nth data request answers 503 (counted from the last change)
    timeout_seconds: float = 0.0    # every data request waits this long before answering
    truncate_page: int = 0          # next N pages: body cut in half (invalid JSON); -1 = every page
    truncate_multibyte: int = 0     # next N pages: body cut after half, inside a multibyte character
    repeat_page: int = 0            # next N pages: answer the previous page again (same items and cursor)
    drop_connection: int = 0        # next N pages: connection closed after half the body
    schema_drift: str | None = None  # rename (category -> category_name) | missing (urgency) | extra (source_system)
    bad_rows: list[str] = field(default_factory=list)
    fault_seed: int = 0
    # internal state
    _count: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def public(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def update(self, data: dict) -> None:
        if data.get("reset"):
            fresh = Faults()
            self.__dict__.update({k: v for k, v in fresh.__dict__.items()})
        for k, v in data.items():
            if k == "reset":
                continue
            if k not in self.public():
                raise ValueError(f"unknown fault switch {k!r}")
            if k in ("truncate_page", "truncate_multibyte", "repeat_page", "drop_connection"):
                v = -1 if v is True else int(v or 0)
            if k == "schema_drift" and v not in (None, "rename", "missing", "extra"):
                raise ValueError("schema_drift must be rename, missing or extra")
            if k == "bad_rows":
                v = [v] if isinstance(v, str) else list(v or [])
                bad = set(v) - set(BAD_ROW_KINDS)
                if bad:
                    raise ValueError(f"unknown bad_rows kinds {sorted(bad)}")
            setattr(self, k, v)
        self._count = 0
        self._rng = random.Random(self.fault_seed)

    @staticmethod
    def take(current: int) -> tuple[bool, int]:
        if current == -1:
            return True, -1
        if current > 0:
            return True, current - 1
        return False, 0


class TokenBucket:
    def __init__(self, rate: float, burst: float | None = None):
        self.rate, self.burst = rate, burst or max(1.0, rate)
        self.state: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if allowed, else seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self.lock:
            tokens, last = self.state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self.state[key] = (tokens - 1, now)
                return 0.0
            self.state[key] = (tokens, now)
            return (1 - tokens) / self.rate


def _norm_ts(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        ts = dt.datetime.fromisoformat(value.replace(" ", "+") if "T" in value and " " in value else value)
    except ValueError as exc:
        raise HTTPException(422, f"{name} is not ISO-8601: {value!r}") from exc
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=TZ)
    if ts.microsecond:
        ts = ts.replace(microsecond=0) + dt.timedelta(seconds=1)
    return iso(ts)


def encode_cursor(updated_at: str, event_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([updated_at, event_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        pad = "=" * (-len(cursor) % 4)
        u, e = json.loads(base64.urlsafe_b64decode(cursor + pad))
        return str(u), str(e)
    except Exception as exc:  # noqa: BLE001
        raise HTTPException(400, "invalid cursor") from exc


def apply_bad_rows(items: list[dict], kinds: list[str]) -> list[dict]:
    """Spoil the first item(s) of a page; one defect per kind (docs/contracts/faults.md)."""
    if not items:
        return items
    items = [dict(i) for i in items]
    first = items[0]
    for kind in kinds:
        if kind == "invalid_uscc":
            target = next((i for i in items if i.get("enterprise_uscc")), first)
            target["enterprise_uscc"] = corrupt_uscc(target.get("enterprise_uscc") or "91341523MA2N0000X0")
        elif kind == "unknown_compound":
            first["compound_id"] = "XQ9999"
        elif kind == "closed_before_received":
            rec = dt.datetime.fromisoformat(first["received_at"])
            first.update(event_type="CLOSED", raw_status="已办结", event_at=iso(rec - dt.timedelta(days=2)))
        elif kind == "future_date":
            first["event_at"] = "2099-01-01T09:00:00+08:00"
        elif kind == "duplicate_key_conflict":
            items.insert(1, dict(first, summary=first["summary"] + "（内容不同的重复记录）"))
        elif kind == "excel_date_serial":
            rec = dt.datetime.fromisoformat(first["received_at"])
            first["received_at"] = round((rec.replace(tzinfo=None) - dt.datetime(1899, 12, 30)).total_seconds() / 86400, 5)
        elif kind == "out_of_range":
            first["escalation_level"] = 7
        elif kind == "nul_character":  # a U+0000 typed next to the caller's data
            first.update(caller_phone=PLANTED_PHONE, caller_name=PLANTED_NAME + "\u0000")
        elif kind == "pii_in_summary":  # what operators type into the summary and the note
            target = items[-1]
            typed = f"，联系人{PLANTED_NAME}，电话{PLANTED_PHONE}，身份证{PLANTED_ID}"
            target.update(caller_phone=PLANTED_PHONE, caller_name=PLANTED_NAME, summary=target["summary"] + typed,
                          note=(target.get("note") or "") + typed)
    return items


def create_app(db_path: str | Path, token: str, rate_limit: float = 20.0, burst: float | None = None,
               faults: dict | None = None) -> FastAPI:
    db_path = Path(db_path)
    app = FastAPI(title="舒城县 12345/12319 物业工单 simulator", version="1")
    state = Faults()
    state.update(faults or {})
    bucket = TokenBucket(rate_limit, burst)
    lock = threading.Lock()
    last_page: dict[str, bytes] = {}

    def auth(request: Request) -> str:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] != token:
            raise HTTPException(401, "invalid or missing token", headers={"WWW-Authenticate": "Bearer"})
        return header[7:]

    def query(since, until, cursor, limit) -> tuple[list[dict], str | None]:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        where, args = [], []
        if since:
            where.append("updated_at >= ?")
            args.append(since)
        if until:
            where.append("updated_at < ?")
            args.append(until)
        if cursor:
            where.append("(updated_at, event_id) > (?, ?)")
            args.extend(decode_cursor(cursor))
        sql = (f"select {', '.join(COLUMNS)} from events {'where ' + ' and '.join(where) if where else ''} "
               f"order by updated_at, event_id limit ?")
        rows = con.execute(sql, [*args, limit + 1]).fetchall()
        con.close()
        items = [row_to_event(r) for r in rows[:limit]]
        nxt = encode_cursor(items[-1]["updated_at"], items[-1]["event_id"]) if len(rows) > limit else None
        return items, nxt

    @app.get("/health")
    def health():
        return {"status": "ok", "db": db_path.name}

    @app.get("/admin/faults")
    def get_faults(request: Request):
        auth(request)
        return state.public()

    @app.post("/admin/faults")
    async def set_faults(request: Request):
        auth(request)
        try:
            with lock:
                state.update(await request.json())
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return state.public()

    @app.get("/api/v1/work-order-events")
    async def events(request: Request, updated_since: str | None = None, updated_until: str | None = None,
                     limit: int = Query(500, ge=1, le=5000), cursor: str | None = None):
        tok = auth(request)
        wait = bucket.take(tok)
        if wait > 0:
            return JSONResponse({"detail": "rate limit exceeded"}, status_code=429,
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})
        with lock:
            state._count += 1
            n = state._count
            if state.http_500_next > 0:
                state.http_500_next -= 1
                return JSONResponse({"detail": "internal error (simulated)"}, status_code=500)
            if state.http_503_next > 0:
                state.http_503_next -= 1
                return JSONResponse({"detail": "unavailable (simulated)"}, status_code=503, headers={"Retry-After": "1"})
            if state.http_503_every and n % state.http_503_every == 0:
                return JSONResponse({"detail": "unavailable (simulated)"}, status_code=503, headers={"Retry-After": "1"})
            if state.http_500_rate and state._rng.random() < state.http_500_rate:
                return JSONResponse({"detail": "internal error (simulated)"}, status_code=500)
            repeat, state.repeat_page = Faults.take(state.repeat_page) if tok in last_page else (False, state.repeat_page)
            truncate, state.truncate_page = Faults.take(state.truncate_page)
            truncate_multibyte, state.truncate_multibyte = Faults.take(state.truncate_multibyte)
            truncate = truncate or truncate_multibyte
            drop, state.drop_connection = Faults.take(state.drop_connection)
            timeout, drift, bad = state.timeout_seconds, state.schema_drift, list(state.bad_rows)
        if timeout:
            await asyncio.sleep(timeout)
        if repeat:
            body = last_page[tok]
        else:
            since = _norm_ts(updated_since, "updated_since")
            until = _norm_ts(updated_until, "updated_until")
            items, nxt = await asyncio.to_thread(query, since, until, cursor, limit)
            items = apply_bad_rows(items, bad)
            if drift == "rename":
                items = [{("category_name" if k == "category" else k): v for k, v in i.items()} for i in items]
            elif drift == "missing":
                items = [{k: v for k, v in i.items() if k != "urgency"} for i in items]
            elif drift == "extra":
                items = [dict(i, source_system="12345-v2") for i in items]
            payload = {"items": items, "next_cursor": nxt, "count": len(items)}
            if "empty_file" in bad:
                body = b""
            else:
                text = json.dumps(payload, ensure_ascii=False)
                body = text.encode("gbk", errors="replace") if "gbk_text" in bad else text.encode("utf-8")
            last_page[tok] = body
        media = "application/json; charset=utf-8"
        if drop:
            async def stream():
                yield body[: len(body) // 2]
                raise ConnectionResetError("connection dropped (simulated)")
            return StreamingResponse(stream(), media_type=media, headers={"Content-Length": str(len(body))})
        if truncate:
            cut = len(body) // 2
            if truncate_multibyte:  # inside a character: after the first byte of a multibyte one
                cut = next((i + 1 for i in range(cut, len(body)) if body[i] >= 0xC0), cut)
            return Response(body[:cut], media_type=media)
        return Response(body, media_type=media)

    return app
