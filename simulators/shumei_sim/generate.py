"""Generate (incrementally) the three sources for [start, end]: registry drops, credit drops and the
hotline event store. Days already complete on disk are skipped; the hotline store remembers the day
it is complete through and only appends events recorded after it."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import hotline
from .common import HISTORY_START, SCALES, TZ
from .credit import CreditFeed
from .registry import Ledger
from .specs import CREDIT_EVENTS, REGISTRY_SHEETS, Feed, put
from .xlsx import write_xlsx

D = dt.date


def registry_day_dir(root: Path, d: D) -> Path:
    return root / d.isoformat()


def workbook_name(d: D) -> str:
    return f"舒城县物业管理台账_{d.strftime('%Y%m%d')}.xlsx"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cell(v, fmt: str):
    if fmt == "csv" and isinstance(v, D):
        return v.isoformat()
    return v


def registry_manifest(d: D, fmt: str, files: dict[str, Feed | None], digests: dict[str, str],
                      rows: dict[str, int], **more) -> dict:
    """manifest.json of a registry drop: each file's sha256 and each sheet's row count where the
    sheets' contracts say (`files`: name -> its sheet's feed, None for the workbook of all sheets)."""
    manifest = {"date": d.isoformat(), "format": fmt}
    for name, digest in digests.items():
        for f in [files[name]] if files[name] else REGISTRY_SHEETS:
            put(manifest, f.contract.manifest.sha256, digest, file=name, sheet=f.sheet)
    for f in REGISTRY_SHEETS:
        put(manifest, f.contract.manifest.rows, rows[f.feed], sheet=f.sheet)
    return {**manifest, **more}


def credit_manifest(d: D, name: str, data: bytes, rows: int, **more) -> dict:
    manifest = {"date": d.isoformat(), "file": name}
    put(manifest, CREDIT_EVENTS.contract.manifest.rows, rows, file=name)
    put(manifest, CREDIT_EVENTS.contract.manifest.sha256, hashlib.sha256(data).hexdigest(), file=name)
    # generated_at is the end of the feed day, not the wall clock, so reruns give identical bytes
    return {**manifest, "generated_at": dt.datetime.combine(d, dt.time(23, 30), tzinfo=TZ).isoformat(), **more}


@dataclass
class RegistryDay:
    """What a written registry day holds: its format, files (-> their sheet's feed, None: all sheets),
    their digests and each feed's row count."""

    fmt: str
    files: dict[str, Feed | None]
    digests: dict[str, str]
    rows: dict[str, int]


def write_registry_day(day_dir: Path, d: D, snap: dict, fmt: str) -> RegistryDay:
    """Write one day's ledger (xlsx or csv) and its manifest (last, as the completeness marker)."""
    tmp = day_dir.with_name(day_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files: dict[str, Feed | None] = {}
    if fmt == "xlsx":
        name = workbook_name(d)
        write_xlsx(tmp / name, [(f.sheet, f.headers, [[row[n] for n in f.names] for row in snap[f.feed]])
                                for f in REGISTRY_SHEETS])
        files[name] = None
    else:
        for f in REGISTRY_SHEETS:
            name = f"{f.sheet}.csv"
            with open(tmp / name, "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(f.headers)
                for row in snap[f.feed]:
                    w.writerow(["" if row[n] is None else _cell(row[n], fmt) for n in f.names])
            files[name] = f
    day = RegistryDay(fmt, files, {name: sha256_file(tmp / name) for name in files},
                      {f.feed: len(snap[f.feed]) for f in REGISTRY_SHEETS})
    _finish(tmp, day_dir, registry_manifest(d, fmt, day.files, day.digests, day.rows))
    return day


def _finish(tmp: Path, day_dir: Path, manifest: dict) -> None:
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    shutil.rmtree(day_dir, ignore_errors=True)
    os.replace(tmp, day_dir)


def copy_registry_day(prev_dir: Path, prev: D, day_dir: Path, d: D, last: RegistryDay) -> RegistryDay:
    """An unchanged ledger: the previous day's files under this day's name (same bytes as a rewrite)."""
    tmp = day_dir.with_name(day_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    new = {name: workbook_name(d) if name == workbook_name(prev) else name for name in last.files}
    for name in last.files:
        shutil.copyfile(prev_dir / name, tmp / new[name])
    day = RegistryDay(last.fmt, {new[n]: f for n, f in last.files.items()},
                      {new[n]: digest for n, digest in last.digests.items()}, last.rows)
    _finish(tmp, day_dir, registry_manifest(d, day.fmt, day.files, day.digests, day.rows))
    return day


def write_credit_day(day_dir: Path, d: D, rows: list[dict]) -> None:
    tmp = day_dir.with_name(day_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = CREDIT_EVENTS.names
    data = "".join(json.dumps({n: r[n] for n in names}, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    (tmp / "credit_events.jsonl").write_bytes(data)
    _finish(tmp, day_dir, credit_manifest(d, "credit_events.jsonl", data, len(rows)))


def generate(out: Path, end: D, start: D = HISTORY_START, seed: int = 20230306, scale: str = "county",
             only: set[str] | None = None, fmt: str = "xlsx", progress=print) -> dict:
    k = SCALES[scale]
    only = only or {"registry", "credit", "hotline"}
    out = Path(out)
    t0 = time.time()
    ledger = Ledger(seed, k)
    credit = CreditFeed(seed, ledger) if "credit" in only else None
    stats = {"registry_written": 0, "registry_copied": 0, "credit_days": 0, "hotline_events": 0}
    con = None
    hot_from = None
    if "hotline" in only:
        con = hotline.open_store(out / "hotline" / "events.sqlite")
        meta = hotline.store_meta(con)
        if meta and (meta.get("seed") != str(seed) or meta.get("scale") != scale):
            raise SystemExit(f"{out}/hotline/events.sqlite was generated with another seed/scale: {meta}")
        through = D.fromisoformat(meta["through"]) if "through" in meta else None
        hot_from = max(start, through + dt.timedelta(days=1)) if through else start
        if hot_from > end:
            hot_from = None
    # orders are regenerated far enough back to rebuild the events and verified complaints needed
    credit_from = None
    if credit:
        credit_from = next((x for x in (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
                            if not (out / "credit" / x.isoformat() / "manifest.json").exists()), None)
    need = [x for x in (hot_from, credit_from) if x is not None]
    orders_from = max(HISTORY_START, min(need) - dt.timedelta(days=hotline.LIFECYCLE_MAX_DAYS + 5)) if need else None
    reg_root, cred_root = out / "registry", out / "credit"
    prev = None  # (day, dir, RegistryDay) of the last registry day written or copied in this run
    batch: list[dict] = []
    d = HISTORY_START
    last_report = time.time()
    while d <= end:
        ledger.advance(d)
        serving = None
        if orders_from is not None and d >= orders_from:
            serving = ledger.serving_at(d)
            events, verified = hotline.orders_for_day(seed, k, d, serving)
            if credit:
                credit.add_verified(verified)
            if con is not None and hot_from is not None:
                lo, hi = hot_from.isoformat(), (end + dt.timedelta(days=1)).isoformat()
                batch.extend(e for e in events if lo <= e["updated_at"][:10] < hi)
                if len(batch) > 50000:
                    hotline.insert_events(con, batch)
                    stats["hotline_events"] += len(batch)
                    batch = []
        if "registry" in only and d >= start:
            day_dir = registry_day_dir(reg_root, d)
            if (day_dir / "manifest.json").exists():
                prev = None
            elif prev is not None and d not in ledger.changes and prev[2].fmt == fmt:
                prev = (d, day_dir, copy_registry_day(prev[1], prev[0], day_dir, d, prev[2]))
                stats["registry_copied"] += 1
            else:
                prev = (d, day_dir, write_registry_day(day_dir, d, ledger.snapshot(d), fmt))
                stats["registry_written"] += 1
        elif "registry" in only:
            prev = None
        if credit and credit_from is not None and d >= credit_from:
            day_dir = cred_root / d.isoformat()
            if serving is None:
                serving = ledger.serving_at(d)
            served: dict[str, int] = {}
            for _, _, uscc in serving:
                if uscc:
                    served[uscc] = served.get(uscc, 0) + 1
            rows = credit.rows_for_day(d, served)
            if not (day_dir / "manifest.json").exists():
                write_credit_day(day_dir, d, rows)
                stats["credit_days"] += 1
        if time.time() - last_report > 5:
            progress(f"  ... {d} ({time.time() - t0:.0f}s)")
            last_report = time.time()
        d += dt.timedelta(days=1)
    if con is not None:
        if batch:
            hotline.insert_events(con, batch)
            stats["hotline_events"] += len(batch)
        if hot_from is not None:
            con.executemany("insert or replace into meta values (?, ?)",
                            [("seed", str(seed)), ("scale", scale), ("through", end.isoformat()),
                             ("history_start", HISTORY_START.isoformat())])
        con.commit()
        con.close()
    stats["seconds"] = round(time.time() - t0, 1)
    return stats
