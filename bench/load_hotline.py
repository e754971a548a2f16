"""Benchmark: load 1 million hotline rows on the same data into the same PostgreSQL, four ways.

    .venv/bin/python bench/load_hotline.py [--rows 1000000]

1. the project's loader (`shumei.ingest.loader.load_batch` with the JSON documents as they come:
   each row decoded and checked against the contract by the fast path (msgspec + checks generated
   from the contract, keyed hashes of personal data), accepted rows streamed by COPY into
   raw.hotline_events and raw_restricted, any other row through the SQL validator, duplicate keys,
   batch log; one transaction);
2. pandas `DataFrame.to_sql` with its defaults (the usual way), into a table of the same columns;
3. `psql \\copy` of the same rows from a CSV file into text columns: the physical limit here;
4. pg_only: COPY of the loader's own output (its CSV lines, prepared beforehand) into its tables: what
   PostgreSQL alone needs for what the loader writes (typed columns, hashes, index, restricted table);
5. loader_sql: the loader with its fast path off, every row through the SQL validator (what the fast
   path buys; `--methods` chooses and orders the methods, default all five).

The rows are the simulator's work-order events (county history, repeated with new event ids until
there are --rows of them), written once to a JSON-lines file, the format the hotline API pages
carry. Each method runs in its own process against a throwaway embedded PostgreSQL; the script
reports rows/s and the peak resident memory of that process (ru_maxrss), and appends a line per
method to bench/results.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results.md"
SIM = Path(sys.executable).parent / "shumei-sim"


def make_dataset(workdir: Path, rows: int) -> Path:
    """JSON lines of `rows` hotline events from the simulator's event store (generated if needed)."""
    out = workdir / "events.jsonl"
    drops = REPO / ".local" / "drops"
    db = drops / "hotline" / "events.sqlite"
    if not db.exists():
        db = workdir / "sim" / "hotline" / "events.sqlite"
        subprocess.run([str(SIM), "generate", "--out", str(workdir / "sim"), "--only", "hotline",
                        "--end", "2025-12-31"], check=True)
    con = sqlite3.connect(db)
    written = 0
    with out.open("w", encoding="utf-8") as fh:
        copy = 0
        while written < rows:
            cursor = con.execute("select * from events")
            names = [d[0] for d in cursor.description]
            for rec in (dict(zip(names, r, strict=True)) for r in cursor):
                if copy:
                    rec["event_id"] = f"{rec['event_id']}-c{copy}"
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                written += 1
                if written >= rows:
                    break
            copy += 1
    con.close()
    return out


def _run_child(method: str, jsonl: Path, env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", method, "--jsonl", str(jsonl)],
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _referenced_ids(jsonl: Path) -> dict[str, set[str]]:
    import json

    ids: dict[str, set[str]] = {"registry_compounds": set(), "registry_enterprises": set()}
    with jsonl.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("compound_id"):
                ids["registry_compounds"].add(row["compound_id"])
            if row.get("enterprise_uscc"):
                ids["registry_enterprises"].add(row["enterprise_uscc"])
    return ids


def child(method: str, jsonl: Path) -> None:
    import psycopg
    from shumei.ingest.contracts import get_contract
    from shumei.ingest.loader import BatchMeta, load_batch
    from shumei.migrations import migrate

    url = os.environ["SHUMEI_WAREHOUSE_URL"]
    contract = get_contract("hotline_events")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade; drop schema if exists raw_restricted cascade; "
                     "drop schema if exists audit cascade; drop schema if exists published cascade; "
                     "drop schema if exists bench cascade; create schema bench")
        migrate(conn, published=False)  # raw and audit from zero, with the contracts' feed tables
        cols = ", ".join(f'"{f.name}" text' for f in contract.fields)
        conn.execute(f"create table bench.hotline_plain ({cols})")
        # the registry the batch refers to (references: its compounds and enterprises are known)
        known = _referenced_ids(jsonl)
        with conn.cursor().copy("copy raw.reference_keys (feed, key, first_day) from stdin") as copy:
            for feed, ids in known.items():
                for key in ids:
                    copy.write_row((feed, key, date(2000, 1, 1)))
    started = time.perf_counter()
    if method in ("loader", "loader_sql"):
        from shumei.ingest import loader
        from shumei.ingest.loader import JsonDocs
        from shumei.sources.files import read_lines, sha256_file

        if method == "loader_sql":  # the fast path declines every row (as for a contract it cannot check)
            class SqlOnly(loader.FastPath):
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, **kwargs)
                    self.supported = False

            loader.FastPath = SqlOnly

        with psycopg.connect(url, options="-c temp_buffers=256MB -c work_mem=128MB") as conn:  # as jobs.load_day
            res = load_batch(conn, contract, JsonDocs(read_lines(jsonl)),
                             BatchMeta("hotline", "hotline_events", date(2099, 1, 1), date(2099, 1, 2), str(jsonl)),
                             pii_key="bench-key", checksum=lambda: sha256_file(jsonl))
            conn.commit()
        rows = res.rows_received
        extra = {"loaded": res.rows_loaded, "rejected": res.rows_rejected}
    elif method == "to_sql":
        import pandas as pd
        import sqlalchemy as sa

        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        frame = pd.read_json(jsonl, lines=True, dtype=False)
        frame.to_sql("hotline_plain", engine, schema="bench", if_exists="append", index=False)
        rows, extra = len(frame), {}
    elif method == "pg_only":
        # what PostgreSQL alone needs to take in the loader's output: the same CSV lines the fast path
        # writes (prepared first, not timed), COPYed into raw.hotline_events and its restricted table
        from psycopg import sql
        from shumei.ingest.fastpath import FastPath
        from shumei.ingest.loader import _chunks
        from shumei.sources.files import read_lines

        fast = FastPath(contract, date(2099, 1, 2), "bench-key", 1, date(2099, 1, 1),
                        {f.name: frozenset(known[f.references.split(".")[0]]) for f in contract.fields if f.references})
        raw_csv, pii_csv = jsonl.with_suffix(".raw.csv"), jsonl.with_suffix(".pii.csv")
        seen = rows = 0  # rows read, rows written (the fast path's; its `others` go to SQL, not here)
        with raw_csv.open("wb") as raw_out, pii_csv.open("wb") as pii_out:
            for chunk in _chunks(read_lines(jsonl), 1000):
                split = fast.split(seen + 1, chunk)
                raw_out.write(split.raw)
                pii_out.write(split.restricted)
                seen += len(chunk)
                rows += len(chunk) - len(split.others)
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            for path, table, cols in ((raw_csv, "raw.hotline_events", fast.raw_columns()),
                                      (pii_csv, "raw_restricted.hotline_events_pii", fast.restricted_columns())):
                statement = sql.SQL("copy {} ({}) from stdin with (format csv, null 'null')").format(
                    sql.SQL(table), sql.SQL(", ").join(sql.Identifier(c) for c in cols))
                with path.open("rb") as fh, conn.cursor().copy(statement) as copy:
                    while block := fh.read(2**20):
                        copy.write(block)
            conn.commit()
        extra = {"read": seen, "left_to_sql": seen - rows}
    elif method == "psql_copy":
        csv_path = jsonl.with_suffix(".csv")
        names = [f.name for f in contract.fields]
        with jsonl.open(encoding="utf-8") as src, csv_path.open("w", encoding="utf-8", newline="") as dst:
            writer = csv.writer(dst)
            for line in src:
                rec = json.loads(line)
                writer.writerow(["" if rec.get(n) is None else rec.get(n) for n in names])
        psql = Path(os.environ["SHUMEI_PSQL"])
        started = time.perf_counter()  # the CSV conversion is not part of \copy's time
        done = subprocess.run([str(psql), url, "-c",
                               f"\\copy bench.hotline_plain from '{csv_path}' with (format csv)"],
                              check=True, capture_output=True, text=True)
        # the rows PostgreSQL took ("COPY n"), not the lines of the CSV file (a value may span lines)
        copied = re.fullmatch(r"COPY (\d+)", done.stdout.strip())
        if copied is None:
            raise RuntimeError(f"no COPY count from psql: {done.stdout!r}")
        rows = int(copied.group(1))
        extra = {}
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if method == "psql_copy":
        peak_kb = max(peak_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"method": method, "rows": rows, "seconds": round(seconds, 2),
                      "rows_per_s": round(rows / seconds), "peak_rss_mb": round(peak_kb / 1024), **extra}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child")
    parser.add_argument("--jsonl", type=Path)
    parser.add_argument("--methods", default="psql_copy,pg_only,loader,loader_sql,to_sql")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.jsonl)
        return

    import psycopg
    from scratch import scratch_warehouse
    from shumei.local.embedded import pg_bin

    with scratch_warehouse() as (server, env, work):
        child_env = {**os.environ, **env, "SHUMEI_PSQL": pg_bin("psql")}
        t = time.perf_counter()
        jsonl = make_dataset(work, args.rows)
        print(f"dataset: {args.rows} rows, {jsonl.stat().st_size / 1e6:.0f} MB JSON lines "
              f"({time.perf_counter() - t:.0f} s to write)", flush=True)
        results = []
        for method in args.methods.split(","):
            # each method starts from a clean state: no earlier method's writes still being flushed
            with psycopg.connect(server.superuser_dsn(), autocommit=True) as conn:
                conn.execute("drop schema if exists raw cascade; drop schema if exists raw_restricted cascade; "
                             "drop schema if exists bench cascade")
                conn.execute("checkpoint")
            results.append(_run_child(method, jsonl, child_env))
    copy = next((r["rows_per_s"] for r in results if r["method"] == "psql_copy"), None)
    to_sql = next((r["rows_per_s"] for r in results if r["method"] == "to_sql"), None)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL 18 (embedded)"
    lines = []
    for r in results:
        lines.append(f"| {date.today()} | {r['method']} | {r['rows']:,} | {r['seconds']} | {r['rows_per_s']:,} | "
                     f"{format(r['rows_per_s'] / copy, '.0%') if copy else '-'} | "
                     f"{format(r['rows_per_s'] / to_sql, '.1f') + 'x' if to_sql else '-'} | {r['peak_rss_mb']} | {machine} |")
    print("\n".join(lines))
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\n## Hotline load (bench/load_hotline.py)\n\n"
                           "| date | method | rows | seconds | rows/s | of \\copy | of to_sql | peak RSS MB | machine |\n"
                           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
