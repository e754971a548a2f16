"""The BI queries of the published interface on an installation, at its scale (issue 14).

    .venv/bin/python bench/bi_queries.py --env-file .env [--runs 200] [--label "first make run 3,100 s"]

Each query of bench/reader_database.py (`QUERIES`: a county series, all towns of a month, the
in_release and as_of calls, Superset's time series, the targets, a bulk read), three of
bench/disclosure_queries.py (a town's compounds without service, C-rated enterprises, a town's orders
of a month) and one order by its id (an id of the data, picked by the script) run through the BI
tools' read-only role (SHUMEI_BI_URL: the readers' database, `published` only, postgres_fdw), `--runs`
times on an open connection after 3 warm-up runs: p50 / p95 / max in ms. Two plans per query:
- in the readers' database, EXPLAIN VERBOSE: whether the filters went to the warehouse (a WHERE in
  the Remote SQL) or the rows came over to be filtered;
- in the warehouse database (owner role, the relations the foreign tables read), EXPLAIN: the
  indexes its plan uses.
Also the installation's size: disk of the warehouse's data folder, the source drops and the whole
local folder, the two databases, and the largest relations with their row estimates. Appends a
section to bench/results.md (date, machine, commit, scale, the label).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import time
from datetime import date
from pathlib import Path

import psycopg
from daily_increment import RESULTS, _commit, _machine
from disclosure_queries import QUERIES as DISCLOSURE_QUERIES
from reader_database import QUERIES as INDICATOR_QUERIES
from shumei.local.envfile import read_env


def _timings(url: str, query: str, runs: int) -> list[float]:
    with psycopg.connect(url) as conn:
        for _ in range(3):
            conn.execute(query).fetchall()
        times = []
        for _ in range(runs):
            begun = time.perf_counter()
            conn.execute(query).fetchall()
            times.append((time.perf_counter() - begun) * 1000)
    return times


def _pushed_down(url: str, query: str) -> str:
    with psycopg.connect(url) as conn:
        plan = "\n".join(r[0] for r in conn.execute("explain verbose " + query))
    remote = re.findall(r"Remote SQL: (.*)", plan)
    return "yes" if remote and all(" WHERE " in r for r in remote) else "no" if remote else "local"


def _indexes(url: str, query: str) -> str:
    with psycopg.connect(url) as conn:
        plan = "\n".join(r[0] for r in conn.execute("explain " + query))
    used = sorted(set(re.findall(r"(?:Index|Index Only) Scan(?: Backward)? using (\S+)", plan)
                      + re.findall(r"Bitmap Index Scan on (\S+)", plan)))
    seq = sorted(set(re.findall(r"Seq Scan on (\S+)", plan)))
    text = ", ".join(used) if used else "none"
    return text + (f"; seq scan {', '.join(seq)}" if seq else "")


def _du(path: Path) -> str:
    if not path.exists():
        return "-"
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=True).stdout
    return f"{int(out.split()[0]):,} MB"


def _sizes(env: dict[str, str]) -> list[str]:
    local = Path(env["SHUMEI_LOCAL_DIR"])
    lines = [f"disk: warehouse data {_du(local / 'warehouse')}, source drops {_du(local / 'drops')}, "
             f"whole local folder {_du(local)}"]
    from shumei.cli import server_from_env

    # (the owner may not connect to the Airflow database, so the superuser reads the sizes)
    with psycopg.connect(server_from_env(env).superuser_dsn(env["SHUMEI_WH_DB"])) as conn:
        dbs = conn.execute("""select datname, pg_database_size(datname) / 1048576 from pg_database
                              where datname in (%s, %s, 'airflow') order by 1""",
                           (env["SHUMEI_WH_DB"], env["SHUMEI_READER_DB"])).fetchall()
        lines.append("databases: " + ", ".join(f"{name} {size:,} MB" for name, size in dbs))
        rels = conn.execute("""select n.nspname || '.' || c.relname, pg_total_relation_size(c.oid) / 1048576,
                                      greatest(c.reltuples, 0)::bigint
                               from pg_class c join pg_namespace n on n.oid = c.relnamespace
                               where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
                               order by pg_total_relation_size(c.oid) desc limit 10""").fetchall()
    lines.append("largest relations (MB with indexes, rows estimated): "
                 + ", ".join(f"{name} {size:,} MB / {rows:,}" for name, size, rows in rels))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", required=True, help="settings of the installation (.env of make run)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--label", default="", help="what the installation is (e.g. its first run's time)")
    args = parser.parse_args()
    env = read_env(Path(args.env_file))
    scale = env.get("SHUMEI_SCALE", "county")
    with psycopg.connect(env["SHUMEI_BI_URL"]) as conn:
        (order_id,) = conn.execute("select work_order_id from published.v_work_orders"
                                   " order by work_order_id offset (select count(*) / 2 from published.v_work_orders)"
                                   " limit 1").fetchone()
    queries = {**INDICATOR_QUERIES,
               **{name: DISCLOSURE_QUERIES[name] for name in (
                   "town's compounds without property service, a month (latest)",
                   "C-rated enterprises of a month (latest)", "a town's orders of a month (latest)")},
               "one order by id (latest)": f"select * from published.v_work_orders where work_order_id = '{order_id}'"}
    rows = []
    for name, query in queries.items():
        times = sorted(_timings(env["SHUMEI_BI_URL"], query, args.runs))
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
        rows.append(f"| {name} | {statistics.median(times):.2f} / {p95:.2f} / {times[-1]:.2f} | "
                    f"{_pushed_down(env['SHUMEI_BI_URL'], query)} | {_indexes(env['SHUMEI_WAREHOUSE_URL'], query)} |")
        print(rows[-1], flush=True)
    lines = [f"\n### {scale} scale (bench/bi_queries.py), {date.today()}, {_machine()}, commit {_commit()}\n",
             *(f"{line}\n" for line in [args.label] if line), "\n",
             *(f"{line}\n\n" for line in _sizes(env)),
             f"BI queries through the BI role (shumei_bi, readers' database), {args.runs} runs on an open connection, ms:\n", "\n",
             "| query | p50 / p95 / max | filters sent to the warehouse | warehouse plan: indexes |\n",
             "| --- | --- | --- | --- |\n", *(f"{row}\n" for row in rows)]
    if "## Scales (" not in RESULTS.read_text(encoding="utf-8"):
        lines.insert(0, "\n## Scales (make run SCALE=..., bench/bi_queries.py)\n")
    with RESULTS.open("a", encoding="utf-8") as out:
        out.writelines(lines)
    print("".join(lines))


if __name__ == "__main__":
    main()
