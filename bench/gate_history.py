"""Benchmark: the source-batch gate over a whole county raw layer (every batch of the history).

    .venv/bin/python bench/gate_history.py --work DIR [--end 2026-11-30]

1. prepare (once per DIR, kept for reruns): an embedded PostgreSQL in DIR/pg with the project's roles,
   the simulators' county history 2022-01-01 .. --end (`shumei-sim generate`), the hotline simulator
   serving it, and the three sources loaded day by day (`shumei.ingest.jobs.load_range`, the code the
   ingest DAGs run);
2. gate, first run: `shumei.build.gate_new_batches` on a warehouse with no batch validated yet (the
   whole history: each batch rule is one SQL query over all unvalidated batches);
3. gate, second run: nothing new (only the freshness rule and the blocked batches are checked again).

Prints the seconds of each step, the batches and the rules, and appends a line to bench/results.md.
The server is stopped at the end; DIR stays (rm -rf it to start over).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results.md"
SIM = Path(sys.executable).parent / "shumei-sim"
FIRST = date(2022, 1, 1)


def _server(work: Path):
    from shumei.local.bootstrap import bootstrap
    from shumei.local.embedded import EmbeddedServer, free_port
    from shumei.local.envfile import build_env

    env_file = work / "env.json"
    fresh = not env_file.exists()
    if fresh:
        env = build_env(work, wh_port=free_port(), hotline_port=free_port(), airflow_port=free_port())
        env["SHUMEI_PG_SUPERUSER_PASSWORD"] = os.urandom(8).hex()
        env["SHUMEI_GX_DIR"] = str(work / "gx")
        env_file.write_text(json.dumps(env))
    env = json.loads(env_file.read_text())
    server = EmbeddedServer(work / "pg", int(env["SHUMEI_WH_PORT"]), env["SHUMEI_PG_SUPERUSER_PASSWORD"])
    server.start()
    server.wait_ready()
    if fresh:
        bootstrap(server.superuser_dsn(), env, with_airflow=False)
    os.environ.update(env)
    from shumei.settings import get_settings

    get_settings.cache_clear()
    return server, env, fresh


def _prepare(work: Path, env: dict, end: date) -> float:
    from shumei.ingest.jobs import load_range

    started = time.monotonic()
    drops = work / "drops"
    subprocess.run([str(SIM), "generate", "--out", str(drops), "--start", FIRST.isoformat(), "--end", end.isoformat()],
                   check=True, capture_output=True)
    hotline = subprocess.Popen([str(SIM), "serve-hotline", "--db", str(drops / "hotline" / "events.sqlite"),
                                "--host", "127.0.0.1", "--port", env["SHUMEI_HOTLINE_PORT"], "--rate-limit", "0"],
                               env={**os.environ, "SHUMEI_HOTLINE_TOKEN": env["SHUMEI_HOTLINE_TOKEN"]},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        for source in ("registry", "credit", "hotline"):
            t = time.monotonic()
            load_range(source, FIRST, end, "bench-gate-history")
            print(f"loaded {source}: {time.monotonic() - t:.0f} s", flush=True)
    finally:
        hotline.terminate()
        hotline.wait(10)
    return time.monotonic() - started


def _forget_validations(url: str) -> None:
    import psycopg

    # the gate validates the batches without a row in audit.batch_validations; dropping the whole audit
    # schema would drop audit.schema_migrations too, and the gate's DDL step would re-apply every migration
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("select to_regclass('audit.batch_validations')").fetchone()[0] is not None:
            conn.execute("truncate audit.batch_validations, audit.batch_rule_rows, audit.batch_queue")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--end", type=date.fromisoformat, default=date.today() - timedelta(days=1))
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    server, env, fresh = _server(args.work)
    try:
        if fresh:
            print(f"prepared the raw layer in {_prepare(args.work, env, args.end):.0f} s", flush=True)
        if args.prepare_only:
            return
        import psycopg
        from shumei.build import gate_new_batches

        url = env["SHUMEI_WAREHOUSE_URL"]
        with psycopg.connect(url) as conn:
            batches, rows = conn.execute("select count(*), sum(rows_received) from raw.batch_log"
                                         " where status = 'loaded'").fetchone()
        _forget_validations(url)
        timings = []
        for label in ("first run (whole history)", "second run (nothing new)"):
            t = time.monotonic()
            try:
                report = gate_new_batches("bench-gate-history")
                outcome = f"passed, {len(report.summaries)} summary lines"
            except Exception as exc:  # a blocked gate is a result too (the history may hold bad days)
                outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            seconds = time.monotonic() - t
            timings.append(seconds)
            print(f"{label}: {seconds:.1f} s, {outcome}", flush=True)
        with psycopg.connect(url) as conn:
            validated = conn.execute("select count(*) from audit.batch_validations").fetchone()[0]
        line = (f"| {date.today()} | gate_history | {platform.machine()}, {os.cpu_count()} cores | {batches:,} batches, "
                f"{rows:,} rows received | first run {timings[0]:.1f} s, second run {timings[1]:.1f} s, "
                f"{validated:,} batches validated |\n")
        print(line, end="")
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(line)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
