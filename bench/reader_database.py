"""The readers' database (postgres_fdw) and two alternatives (logical replication, local copies) against the warehouse database.

    .venv/bin/python bench/reader_database.py --source-url "$SHUMEI_STATS_URL" [--runs 50]

`--source-url` is a reader URL of a populated warehouse (a county build after `make run`); it is only
read. The script starts its own throwaway embedded PostgreSQL, creates the roles and both databases
with the project's bootstrap, creates `published` with the migration step (which builds the
readers' database `shumei_public`, shumei.publish.reader_db), copies the source's published tables
into the warehouse database, and then times the usual reader queries as the statistics office's role
through

- `direct`: the warehouse database (CONNECT granted to the readers for this run only);
- `reader_db`: the readers' database, foreign tables through postgres_fdw (the project's path);
- `reader_db fetch_size=100`: the same with postgres_fdw's default batch size;
- `copy`: local tables refreshed after each publication in one transaction (`_copied`);
- `replica`: logical replication of the published tables into a third database (`_replica`).

Each query runs `--runs` times on an open connection after 3 warm-up runs (p50, p95, max in ms), and
`--runs` times on a new connection each time (connect + query: the first foreign scan of a session
opens its remote connection). It then shows what a reader transaction sees while a release is
published (isolation). The work directory is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from shumei.local.bootstrap import FDW_FETCH_SIZE, FDW_SERVER, READER_GROUP, bootstrap
from shumei.local.embedded import EmbeddedServer, free_port
from shumei.local.envfile import build_env
from shumei.migrations import MIGRATIONS_DIR, migrate
from shumei.publish import ddl

COUNTY = "341523000000"
PUBLISHED_STORAGE = MIGRATIONS_DIR / "0003_published_storage.sql"
QUERIES = {
    "county series of one indicator (v_indicator_month)":
        f"""select period_start, value from published.v_indicator_month
            where indicator_code = 'WY_FG' and area_code = '{COUNTY}' and breakdown_type = 'total'
            order by period_start""",
    "all towns of one month (v_indicator_month)":
        """select area_name_zh, value from published.v_indicator_month
           where indicator_code = 'TS_SL' and area_level = 'town' and breakdown_type = 'total'
             and period_start = '2025-06-01' order by area_name_zh""",
    "in_release call (one indicator, county, release 1)":
        f"""select period_start, value from published.indicator_values_in_release(1)
            where indicator_code = 'WY_FG' and area_code = '{COUNTY}' and period_type = 'month'
              and breakdown_type = 'total' order by period_start""",
    "as_of call (one indicator, county)":
        f"""select period_start, value from published.indicator_values_as_of(current_date)
            where indicator_code = 'WY_FG' and area_code = '{COUNTY}' and period_type = 'month'
              and breakdown_type = 'total' order by period_start""",
    "Superset time series (complaints by month and town, P1M)":
        """select date_trunc('month', period_start) as period_start, area_name_zh, sum(value) as sum_value
           from published.v_indicator_month
           where indicator_code = 'TS_SL' and area_level = 'town' and breakdown_type = 'total'
           group by date_trunc('month', period_start), area_name_zh
           order by sum_value desc limit 10000""",
    "targets with their figures (v_indicator_targets)":
        "select * from published.v_indicator_targets order by deadline, target_id",
    "bulk: every TS_SL month value (v_indicator_month)":
        "select * from published.v_indicator_month where indicator_code = 'TS_SL'",
}


def _copy_published(source_url: str, owner_url: str) -> dict[str, int]:
    """Copy the source's published base tables (columns both sides have), parents first."""
    counted = {}
    with psycopg.connect(source_url) as src, psycopg.connect(owner_url, autocommit=True) as dst:
        tables = [r[0] for r in dst.execute(
            """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'published' and c.relkind = 'r'
               order by c.relname <> 'release_log', c.relname""")]
        for table in reversed(tables):
            dst.execute(sql.SQL("delete from {}").format(sql.Identifier("published", table)))
        for table in tables:
            cols = [r[0] for r in dst.execute(
                "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0"
                " and not attisdropped order by attnum", (f"published.{table}",))]
            have = {r[0] for r in src.execute(
                "select column_name from information_schema.columns where table_schema = 'published'"
                " and table_name = %s", (table,))}
            cols = [c for c in cols if c in have]
            if not cols:
                continue
            for col in dst.execute("select attname from pg_attribute where attrelid = %s::regclass"
                                   " and attidentity = 'a'", (f"published.{table}",)).fetchall():
                dst.execute(sql.SQL("alter table {} alter column {} set generated by default").format(
                    sql.Identifier("published", table), sql.Identifier(col[0])))
            columns = sql.SQL(", ").join(map(sql.Identifier, cols))
            with src.cursor().copy(sql.SQL("copy (select {} from {}) to stdout").format(
                    columns, sql.Identifier("published", table))) as out, \
                    dst.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(
                        sql.Identifier("published", table), columns)) as into:
                for block in out:
                    into.write(block)
            counted[table] = dst.execute(sql.SQL("select count(*) from {}").format(
                sql.Identifier("published", table))).fetchone()[0]
        dst.execute("analyze")
    return counted


def _foreign_server(su: psycopg.Connection, server: EmbeddedServer, env: dict[str, str]) -> None:
    """postgres_fdw in the superuser's current database, pointing at the warehouse database as the
    readers' database does (role shumei_fdw), for the copies of (c)."""
    owner, wh = env["SHUMEI_WH_USER"], env["SHUMEI_WH_DB"]
    su.execute("create extension postgres_fdw schema pg_catalog")
    su.execute(sql.SQL("create server {} foreign data wrapper postgres_fdw options"
                       " (host '127.0.0.1', port {}, dbname {}, fetch_size {})").format(
        sql.Identifier(FDW_SERVER), sql.Literal(str(server.port)), sql.Literal(wh), sql.Literal(str(FDW_FETCH_SIZE))))
    su.execute(sql.SQL("grant usage on foreign server {} to {}").format(sql.Identifier(FDW_SERVER),
                                                                        sql.Identifier(owner)))
    su.execute(sql.SQL("create user mapping for public server {} options (user {}, password {})").format(
        sql.Identifier(FDW_SERVER), sql.Literal(env["SHUMEI_FDW_USER"]), sql.Literal(env["SHUMEI_FDW_PASSWORD"])))


def _copied(server: EmbeddedServer, env: dict[str, str]) -> tuple[str, list[float]]:
    """(c), for comparison only: a readers' database with local tables (the same DDL text as the
    warehouse: tables, indexes, views, functions), refreshed after each publication in one transaction
    of its own: the published tables read through postgres_fdw from a schema created and dropped inside
    that transaction (never visible to a reader), rows deleted and inserted (MVCC: readers keep the old
    release until the commit, without waiting). Returns the stats URL and the refresh times in ms."""
    owner, copy_db = env["SHUMEI_WH_USER"], "shumei_copy"
    with psycopg.connect(server.superuser_dsn(), autocommit=True) as su:
        su.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(copy_db), sql.Identifier(owner)))
        su.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(copy_db),
                                                                     sql.Identifier(READER_GROUP)))
    with psycopg.connect(server.superuser_dsn(copy_db), autocommit=True) as su:
        _foreign_server(su, server, env)
        su.execute(sql.SQL("alter schema public owner to {}").format(sql.Identifier(owner)))
    copy_url = env["SHUMEI_WAREHOUSE_URL"].rsplit("/", 1)[0] + "/" + copy_db
    with psycopg.connect(copy_url, autocommit=True) as conn:
        conn.execute("create schema published")
        for text in (PUBLISHED_STORAGE.read_text(encoding="utf-8"), ddl.VIEWS_SQL, ddl.FREQUENCY_VIEWS_SQL, ddl.TARGETS_VIEW_SQL):
            conn.execute(text)
        ddl.apply_reader_grants(conn.cursor())
        tables = [r[0] for r in conn.execute(
            """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'published' and c.relkind = 'r' order by c.relname <> 'release_log', c.relname""")]
    times = []
    for _ in range(5):
        started = time.perf_counter()
        with psycopg.connect(copy_url) as conn, conn.transaction():
            conn.execute("create schema refresh_stage")
            conn.execute(sql.SQL("import foreign schema published limit to ({}) from server {} into refresh_stage")
                         .format(sql.SQL(", ").join(map(sql.Identifier, tables)), sql.Identifier(FDW_SERVER)))
            for table in reversed(tables):
                conn.execute(sql.SQL("delete from {}").format(sql.Identifier("published", table)))
            for table in tables:
                conn.execute(sql.SQL("insert into {} overriding system value select * from {}").format(
                    sql.Identifier("published", table), sql.Identifier("refresh_stage", table)))
            conn.execute("drop schema refresh_stage cascade")
        times.append((time.perf_counter() - started) * 1000)
    with psycopg.connect(copy_url, autocommit=True) as conn:
        conn.execute("vacuum analyze")
    return env["SHUMEI_STATS_URL"].rsplit("/", 1)[0] + "/" + copy_db, times


def _times(url: str, query: str, runs: int, reconnect: bool) -> list[float]:
    out = []
    conn = None if reconnect else psycopg.connect(url, autocommit=True)
    try:
        if conn is not None:
            for _ in range(3):
                conn.execute(query).fetchall()
        for _ in range(runs):
            started = time.perf_counter()
            if reconnect:
                with psycopg.connect(url, autocommit=True) as fresh:
                    fresh.execute(query).fetchall()
            else:
                conn.execute(query).fetchall()
            out.append((time.perf_counter() - started) * 1000)
    finally:
        if conn is not None:
            conn.close()
    return out


def _compare(direct_url: str, other_url: str, name: str, runs: int) -> None:
    """A table of every query on both paths, each against a direct run measured just before it."""
    print(f"| query | direct | {name} | {name} ÷ direct (p50 / p95) |")
    print("| --- | --- | --- | --- |")
    for label, query in QUERIES.items():
        direct, other = _times(direct_url, query, runs, False), _times(other_url, query, runs, False)
        p95 = sorted(other)[round(0.95 * len(other)) - 1] / sorted(direct)[round(0.95 * len(direct)) - 1]
        p50 = statistics.median(other) / statistics.median(direct)
        print(f"| {label} | {_stats(direct)} | {_stats(other)} | {p50:.1f}× / {p95:.1f}× |")


def _stats(ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"{statistics.median(ordered):.2f} / {p95:.2f} / {ordered[-1]:.2f}"


def _isolation(owner_url: str, reader_url: str, direct_url: str) -> list[str]:
    """What a reader transaction sees of a release published while it is open."""
    lines = []
    with psycopg.connect(owner_url, autocommit=True) as owner:
        for name, url in (("direct", direct_url), ("reader_db", reader_url)):
            with psycopg.connect(url) as reader:
                before = reader.execute("select count(*) from published.release_log").fetchone()[0]
                owner.execute("insert into published.release_log (release_id, as_of_date, dag_run_id)"
                              " select max(release_id) + 1000, current_date, 'bench' from published.release_log")
                inside = reader.execute("select count(*) from published.release_log").fetchone()[0]
                reader.rollback()
                after = reader.execute("select count(*) from published.release_log").fetchone()[0]
                reader.rollback()
            owner.execute("delete from published.release_log where dag_run_id = 'bench'")
            lines.append(f"| {name} | {before} | {inside} | {after} |")
    return lines


def _replica(server: EmbeddedServer, env: dict[str, str]) -> str:
    """Alternative (b), for comparison only: logical replication of published's tables into a third
    database (`shumei_replica`) on the same server, views and functions created there by the same DDL
    text. Returns the stats role's URL of the replica once the initial copy is done."""
    with open(server.pgdata / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\nwal_level = logical\n")
    server.stop()
    server.start()
    server.wait_ready()
    owner, wh = env["SHUMEI_WH_USER"], env["SHUMEI_WH_DB"]
    with psycopg.connect(server.superuser_dsn(), autocommit=True) as su:
        su.execute(sql.SQL("create database shumei_replica owner {}").format(sql.Identifier(owner)))
        su.execute("grant connect on database shumei_replica to shumei_reader")
    with psycopg.connect(server.superuser_dsn("shumei_replica"), autocommit=True) as su:
        su.execute("create schema published")
        su.execute(sql.SQL("alter schema published owner to {}").format(sql.Identifier(owner)))
        for text in (PUBLISHED_STORAGE.read_text(encoding="utf-8"), ddl.VIEWS_SQL, ddl.FREQUENCY_VIEWS_SQL, ddl.TARGETS_VIEW_SQL):
            su.execute(text)
        ddl.apply_reader_grants(su.cursor())
        tables = [r[0] for r in su.execute("select c.oid::regclass::text from pg_class c join pg_namespace n"
                                           " on n.oid = c.relnamespace where n.nspname = 'published' and c.relkind = 'r'")]
        with psycopg.connect(server.superuser_dsn(wh), autocommit=True) as whsu:
            # the tables of the storage migration (values, releases, catalogue, targets, areas, calendar, rules)
            whsu.execute(sql.SQL("create publication bench_published for table {}").format(
                sql.SQL(", ").join(sql.SQL(t) for t in tables)))
            # a subscription in the same cluster cannot create its slot itself
            whsu.execute("select pg_create_logical_replication_slot('bench_sub', 'pgoutput')")
        su.execute(sql.SQL("create subscription bench_sub connection {} publication bench_published"
                           " with (create_slot = false, slot_name = 'bench_sub')").format(
            sql.Literal(server.superuser_dsn(wh))))
        while su.execute("select count(*) from pg_subscription_rel where srsubstate <> 'r'").fetchone()[0]:
            time.sleep(0.2)
        su.execute("analyze")
    return env["SHUMEI_STATS_URL"].rsplit("/", 1)[0] + "/shumei_replica"


def _replication_lag(owner_url: str, replica_url: str, rows_every: int) -> float:
    """ms from the commit of a release-like transaction (a release_log row and an update of one
    value row in `rows_every`) to the moment the replica shows the new release."""
    with psycopg.connect(owner_url, autocommit=True) as owner, psycopg.connect(replica_url, autocommit=True) as rep:
        with owner.transaction():
            release = owner.execute("insert into published.release_log (release_id, as_of_date, dag_run_id)"
                                    " select max(release_id) + 1, current_date, 'bench' from published.release_log"
                                    " returning release_id").fetchone()[0]
            owner.execute("update published.indicator_values set revision_reason = revision_reason"
                          " where value_id %% %s = 0", (rows_every,))
        committed = time.perf_counter()
        while not rep.execute("select exists (select from published.release_log where release_id = %s)",
                              (release,)).fetchone()[0]:
            time.sleep(0.001)
        return (time.perf_counter() - committed) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-url", required=True, help="reader URL of a populated warehouse (read only)")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shumei-bench-readerdb-"))
    env = build_env(work, wh_port=free_port(), hotline_port=free_port(), airflow_port=free_port())
    server = EmbeddedServer(root=work / "warehouse", port=int(env["SHUMEI_WH_PORT"]),
                            superuser_password=env["SHUMEI_PG_SUPERUSER_PASSWORD"])
    os.environ.update(env)
    from shumei.settings import get_settings

    get_settings.cache_clear()
    try:
        server.start()
        server.wait_ready()
        bootstrap(server.superuser_dsn(), env, with_airflow=False)
        owner_url = env["SHUMEI_WAREHOUSE_URL"]
        with psycopg.connect(owner_url, autocommit=True) as owner:
            migrate(owner)
        counted = _copy_published(args.source_url, owner_url)
        # the readers' old path, for this run only (bootstrap lets only shumei_fdw into the warehouse)
        with psycopg.connect(server.superuser_dsn(), autocommit=True) as su:
            su.execute(sql.SQL("grant connect on database {} to {}").format(
                sql.Identifier(env["SHUMEI_WH_DB"]), sql.Identifier(READER_GROUP)))
        reader_url = env["SHUMEI_STATS_URL"]
        direct_url = reader_url.rsplit("/", 1)[0] + "/" + env["SHUMEI_WH_DB"]
        reader_db = server.superuser_dsn(env["SHUMEI_READER_DB"])

        def fetch_size(n: int) -> None:
            with psycopg.connect(reader_db, autocommit=True) as su:
                su.execute(sql.SQL("alter server {} options (set fetch_size {})").format(
                    sql.Identifier(FDW_SERVER), sql.Literal(str(n))))

        results = []
        for label, query in QUERIES.items():
            with psycopg.connect(direct_url) as conn:
                rows = len(conn.execute(query).fetchall())
            row = [label, rows]
            for path, url, size in (("direct", direct_url, None), ("reader_db", reader_url, None),
                                    ("reader_db fetch_size=100", reader_url, 100)):
                if size:
                    fetch_size(size)
                try:
                    row.append(_times(url, query, args.runs, reconnect=False))
                    if path != "reader_db fetch_size=100":
                        row.append(_times(url, query, args.runs, reconnect=True))
                finally:
                    if size:
                        fetch_size(FDW_FETCH_SIZE)
            results.append(row)

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
        print(f"\n### Result ({datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, PostgreSQL 18 embedded, commit {commit}, {args.runs} runs)\n")
        print("rows copied: " + ", ".join(f"{t} {n:,}" for t, n in counted.items()) + "\n")
        print("open connection, ms (p50 / p95 / max):\n")
        print("| query | rows | direct | reader_db | reader_db fetch_size=100 | reader_db ÷ direct (p50 / p95) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for label, rows, direct, _, fdw, _, fdw100 in results:
            p95 = sorted(fdw)[round(0.95 * len(fdw)) - 1] / sorted(direct)[round(0.95 * len(direct)) - 1]
            p50 = statistics.median(fdw) / statistics.median(direct)
            print(f"| {label} | {rows} | {_stats(direct)} | {_stats(fdw)} | {_stats(fdw100)} | {p50:.1f}× / {p95:.1f}× |")
        print("\nnew connection each time (connect + query), ms (p50 / p95 / max):\n")
        print("| query | direct | reader_db |")
        print("| --- | --- | --- |")
        for label, _, _, direct_new, _, fdw_new, _ in results:
            print(f"| {label} | {_stats(direct_new)} | {_stats(fdw_new)} |")
        print("\na release published while a reader transaction is open (release_log rows):\n")
        print("| path | before | same transaction, after the commit | next transaction |")
        print("| --- | --- | --- | --- |")
        for line in _isolation(owner_url, reader_url, direct_url):
            print(line)
        copy_url, refresh_ms = _copied(server, env)
        print("\n(c) local copies refreshed after each publication, open connection, ms (p50 / p95 / max):\n")
        _compare(direct_url, copy_url, "copy", args.runs)
        print(f"\n(c) full refresh of every published table in one transaction, ms (p50 / p95 / max of 5):"
              f" {_stats(refresh_ms)}")
        replica_url = _replica(server, env)
        print("\n(b) logical replication into a third database, for comparison, open connection, ms"
              " (p50 / p95 / max):\n")
        _compare(direct_url, replica_url, "replica", args.runs)
        print("\nreplication lag, commit of a release-like transaction to visible in the replica, ms"
              " (p50 / p95 / max of 20):\n")
        print("| value rows updated in the transaction | lag |")
        print("| --- | --- |")
        for every in (100000000, 100, 10):
            lags = [_replication_lag(owner_url, replica_url, every) for _ in range(20)]
            with psycopg.connect(owner_url) as owner:
                touched = owner.execute("select count(*) from published.indicator_values where value_id %% %s = 0",
                                        (every,)).fetchone()[0]
            print(f"| {touched:,} | {_stats(lags)} |")
    finally:
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
