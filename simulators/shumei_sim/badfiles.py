"""Spoiled daily drops for the ingestion tests: one bad-data kind or one schema drift per drop.

The drop has the normal layout (<out>/<feed>/YYYY-MM-DD/...), so the ingestion reads it as it reads a
normal day. What each kind does is listed in docs/contracts/faults.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

from . import hotline
from .common import HISTORY_START, SCALES, corrupt_uscc
from .credit import CreditFeed
from .generate import _finish, credit_manifest, registry_manifest, sha256_file, workbook_name
from .registry import Ledger, start_ledger
from .specs import CREDIT_EVENTS, REGISTRY_SHEETS
from .xlsx import excel_serial, write_xlsx

D = dt.date
KINDS = ["invalid_uscc", "unknown_compound", "closed_before_received", "future_date", "duplicate_key_conflict",
         "gbk_text", "excel_date_serial", "out_of_range", "empty_file", "rename", "missing", "extra"]
DRIFT = {"registry": ("registry_compounds", "compound_name", "小区名", "service_mode", "备注"),
         "credit": (None, "enterprise_uscc", "uscc", "score", "remark")}


def registry_bad(out: Path, d: D, kind: str, seed: int = 20230306, scale: str = "county", fmt: str = "xlsx") -> Path:
    snap = start_ledger(seed, SCALES[scale], d).snapshot(d)
    tables = {f.feed: ([*f.headers], [[row[n] for n in f.names] for row in snap[f.feed]], f) for f in REGISTRY_SHEETS}

    def col(feed, name):
        return tables[feed][2].names.index(name)

    comp_h, comp, _ = tables["registry_compounds"]
    ent_h, ents, _ = tables["registry_enterprises"]
    cm_h, cms, _ = tables["registry_owners_committees"]
    if kind == "invalid_uscc":
        bad = corrupt_uscc(ents[-1][0])
        old = ents[-1][0]
        ents[-1][0] = bad
        for row in comp:
            if row[col("registry_compounds", "enterprise_uscc")] == old:
                row[col("registry_compounds", "enterprise_uscc")] = bad
    elif kind == "unknown_compound":
        cms[0][col("registry_owners_committees", "compound_id")] = "XQ9999"
    elif kind == "closed_before_received":  # dissolved before formed
        i = col("registry_owners_committees", "formed_date")
        cms[0][col("registry_owners_committees", "status")] = "已解散"
        cms[0][col("registry_owners_committees", "dissolved_date")] = cms[0][i] - dt.timedelta(days=30)
    elif kind == "future_date":
        comp[0][col("registry_compounds", "ledger_date")] = D(2099, 1, 1)
    elif kind == "duplicate_key_conflict":
        dup = list(comp[0])
        dup[col("registry_compounds", "households")] += 17
        comp.insert(1, dup)
    elif kind == "out_of_range":
        comp[0][col("registry_compounds", "households")] = -5
        comp[1][col("registry_compounds", "built_year")] = 2150
    elif kind == "excel_date_serial":
        for _, rows, f in tables.values():
            for j, fld in enumerate(f.fields):
                if fld.type == "date":
                    for row in rows:
                        if isinstance(row[j], D):
                            row[j] = excel_serial(row[j])
    elif kind in ("rename", "missing", "extra"):
        feed, ren_from, ren_to, miss, extra = DRIFT["registry"]
        h, rows, f = tables[feed]
        if kind == "rename":
            h[f.names.index(ren_from)] = ren_to
        elif kind == "missing":
            j = f.names.index(miss)
            del h[j]
            for row in rows:
                del row[j]
        else:
            h.append(extra)
            for row in rows:
                row.append("")
    elif kind == "gbk_text":
        fmt = "csv"
    elif kind != "empty_file":
        raise ValueError(f"unknown kind {kind}")
    day_dir = out / "registry" / d.isoformat()
    tmp = day_dir.with_name(day_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files: dict = {}
    if kind == "empty_file":
        (tmp / workbook_name(d)).write_bytes(b"")
        files[workbook_name(d)] = None
    elif fmt == "xlsx":
        write_xlsx(tmp / workbook_name(d), [(f.sheet, h, rows) for h, rows, f in tables.values()])
        files[workbook_name(d)] = None
    else:
        enc = "gbk" if kind == "gbk_text" else "utf-8"
        for h, rows, f in tables.values():
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(h)
            w.writerows([["" if v is None else (v.isoformat() if isinstance(v, D) else v) for v in row] for row in rows])
            data = buf.getvalue().encode(enc)
            (tmp / f"{f.sheet}.csv").write_bytes(data)
            files[f"{f.sheet}.csv"] = f
    digests = {name: sha256_file(tmp / name) for name in files}
    manifest = registry_manifest(d, "csv" if fmt == "csv" else "xlsx", files, digests,
                                 {feed: len(rows) for feed, (_, rows, _) in tables.items()}, bad_data=kind)
    _finish(tmp, day_dir, manifest)
    return day_dir


def credit_rows(d: D, seed: int = 20230306, scale: str = "county") -> list[dict]:
    k = SCALES[scale]
    led = Ledger(seed, k)
    feed = CreditFeed(seed, led)
    x = HISTORY_START
    first = d - dt.timedelta(days=hotline.LIFECYCLE_MAX_DAYS + 5)
    rows: list[dict] = []
    while x <= d:
        led.advance(x)
        if x >= first:
            serving = led.serving_at(x)
            _, verified = hotline.orders_for_day(seed, k, x, serving)
            feed.add_verified(verified)
            served: dict[str, int] = {}
            for _, _, u in serving:
                if u:
                    served[u] = served.get(u, 0) + 1
            rows = feed.rows_for_day(x, served)
        x += dt.timedelta(days=1)
    return [{n: r[n] for n in CREDIT_EVENTS.names} for r in rows]


def credit_bad(out: Path, d: D, kind: str, seed: int = 20230306, scale: str = "county") -> Path:
    rows = credit_rows(d, seed, scale)
    if not rows and kind != "empty_file":
        raise SystemExit(f"no credit records on {d}; pick a busier day (e.g. a day in late December)")
    first = rows[0] if rows else None
    if kind == "invalid_uscc":
        first["enterprise_uscc"] = corrupt_uscc(first["enterprise_uscc"])
    elif kind == "unknown_compound":
        first["compound_id"] = "XQ9999"
    elif kind == "closed_before_received":  # recorded before it happened
        first["event_date"] = (D.fromisoformat(first["record_date"]) + dt.timedelta(days=10)).isoformat()
    elif kind == "future_date":
        first["event_date"] = "2099-01-01"
    elif kind == "duplicate_key_conflict":
        rows.insert(1, dict(first, description=first["description"] + "（更正前）"))
    elif kind == "excel_date_serial":
        for r in rows:
            r["event_date"] = excel_serial(D.fromisoformat(r["event_date"]))
    elif kind == "out_of_range":
        first["score"] = 180.0
    elif kind in ("rename", "missing", "extra"):
        _, ren_from, ren_to, miss, extra = DRIFT["credit"]
        if kind == "rename":
            rows = [{(ren_to if k == ren_from else k): v for k, v in r.items()} for r in rows]
        elif kind == "missing":
            rows = [{k: v for k, v in r.items() if k != miss} for r in rows]
        else:
            rows = [dict(r, **{extra: ""}) for r in rows]
    elif kind not in ("gbk_text", "empty_file"):
        raise ValueError(f"unknown kind {kind}")
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    data = text.encode("gbk" if kind == "gbk_text" else "utf-8")
    manifest = credit_manifest(d, "credit_events.jsonl", data, len(rows), bad_data=kind)
    if kind == "empty_file":
        data = b""  # the manifest still announces the rows and digest of the real day
    day_dir = out / "credit" / d.isoformat()
    tmp = day_dir.with_name(day_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "credit_events.jsonl").write_bytes(data)
    _finish(tmp, day_dir, manifest)
    return day_dir
