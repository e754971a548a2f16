"""Roles and databases of a warehouse server, created idempotently with the superuser.

- `shumei_owner`: the pipeline's role; owns the warehouse database and every schema in it.
- `shumei_stats` (statistics office) and `shumei_bi` (BI tools): login roles, members of the group
  role `shumei_reader`, which is granted read access to the `published` schema only (by the
  publication step). They connect to the reader database only (`shumei_public`: not the warehouse
  database, `postgres` nor `airflow`), create no temporary tables and no large objects, and have
  role-level settings a BI tool cannot misread or overload the server with: READER_SETTINGS and
  READER_CONNECTION_LIMIT below.
- The reader database holds schema `published` and nothing else (no `public` schema): foreign tables
  of the warehouse's `published` tables and views through postgres_fdw, and the same functions
  (shumei.publish.reader_db keeps it in step). A reader's catalog therefore lists no internal schema
  or table name, which pg_namespace and pg_class of the warehouse database show to every role.
- `shumei_fdw`: the login role postgres_fdw uses for the reader database's remote connections into
  the warehouse database; a member of `shumei_reader` (reads `published` only), read-only, with the
  reader settings and a connection limit covering both readers. It is the only reader role that may
  connect to the warehouse database. The user mapping that holds its password is readable by the
  superuser only.
- `airflow`: owns the `airflow` metadata database of the local Airflow.

On a server not managed by this project (a county's PostgreSQL), a DBA creates the same roles;
see docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from shumei.settings import FDW_USER, READER_DATABASE

READER_GROUP = "shumei_reader"

# Role-level settings of the reader login roles (a client may still SET them in its own session:
# they protect against a BI tool's defaults, not against a determined user; the connection limit holds).
# TimeZone UTC: BI tools (Superset, pandas) read a timestamptz in UTC, so `date_trunc('month', a_date)`
# must return UTC midnight of the period's own first day; under Asia/Shanghai it returns 16:00 UTC of
# the day before, and every month and quarter grain lands in the previous period.
READER_SETTINGS = {
    "statement_timeout": "30s",
    "idle_in_transaction_session_timeout": "60s",
    "TimeZone": "UTC",
    "default_transaction_read_only": "on",
    # published first: its date_trunc(text, date) gives BI tools' month and quarter grains of the date
    # columns in the right period under any session time zone (publish/ddl.py)
    "search_path": "published",
}
READER_CONNECTION_LIMIT = 10
READER_LOGINS = (("SHUMEI_STATS_USER", "SHUMEI_STATS_PASSWORD"), ("SHUMEI_BI_USER", "SHUMEI_BI_PASSWORD"))
# each reader session opens at most one remote connection (postgres_fdw caches one per session and
# user mapping), the owner's catalog imports one more
FDW_CONNECTION_LIMIT = len(READER_LOGINS) * READER_CONNECTION_LIMIT + 2
# the foreign server of the reader database (its name is all a reader's catalog shows of it)
FDW_SERVER = "warehouse"
# rows per round trip of a foreign scan (postgres_fdw's default is 100; bench/reader_database.py)
FDW_FETCH_SIZE = 10000
# Creating a large object needs no privilege in PostgreSQL 18 (lo_compat_privileges only governs
# reading and writing existing ones): the creating functions are taken away from PUBLIC instead.
LARGE_OBJECT_CREATORS = ("lo_creat(integer)", "lo_create(oid)", "lo_from_bytea(oid, bytea)",
                         "lo_import(text)", "lo_import(text, oid)")


def _ensure_role(cur: psycopg.Cursor, name: str, password: str | None, login: bool = True) -> None:
    cur.execute("select 1 from pg_roles where rolname = %s", (name,))
    exists = cur.fetchone() is not None
    verb = "alter" if exists else "create"
    options = sql.SQL("login password {}").format(sql.Literal(password)) if login else sql.SQL("nologin")
    cur.execute(sql.SQL("{} role {} with {}").format(sql.SQL(verb), sql.Identifier(name), options))


def _ensure_database(cur: psycopg.Cursor, name: str, owner: str) -> None:
    cur.execute("select 1 from pg_database where datname = %s", (name,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("create database {} owner {} encoding 'UTF8' template template0")
                    .format(sql.Identifier(name), sql.Identifier(owner)))


def _ensure_reader(cur: psycopg.Cursor, name: str, password: str, connection_limit: int) -> None:
    _ensure_role(cur, name, password)
    reader = sql.Identifier(name)
    cur.execute(sql.SQL("grant {} to {}").format(sql.Identifier(READER_GROUP), reader))
    cur.execute(sql.SQL("alter role {} connection limit {}").format(reader, sql.Literal(connection_limit)))
    for setting, value in READER_SETTINGS.items():
        cur.execute(sql.SQL("alter role {} set {} = {}").format(reader, sql.Identifier(setting),
                                                                sql.Literal(value)))


def reader_database(env: Mapping[str, str]) -> str:
    return env.get("SHUMEI_READER_DB") or READER_DATABASE


def fdw_user(env: Mapping[str, str]) -> str:
    return env.get("SHUMEI_FDW_USER") or FDW_USER


def _set_options(cur: psycopg.Cursor, alter: sql.Composable, current: list[str] | None,
                 options: Mapping[str, str]) -> None:
    """ALTER ... OPTIONS: ADD the options not set yet, SET the others."""
    present = {o.split("=", 1)[0] for o in current or []}
    items = sql.SQL(", ").join(sql.SQL("{} {} {}").format(sql.SQL("set" if k in present else "add"),
                                                          sql.Identifier(k), sql.Literal(v))
                               for k, v in options.items())
    cur.execute(sql.SQL("{} options ({})").format(alter, items))


def _ensure_reader_database(superuser_dsn: str, env: Mapping[str, str]) -> None:
    """The reader database: postgres_fdw (in pg_catalog, so no other schema exists), the foreign
    server pointing at the warehouse database on this same server, the user mapping of shumei_fdw,
    no `public` schema. Its `published` schema is built by shumei.publish.reader_db (owner role)."""
    owner, db, reader_db = env["SHUMEI_WH_USER"], env["SHUMEI_WH_DB"], reader_database(env)
    target = conninfo_to_dict(superuser_dsn)
    server_options = {"host": target.get("host") or "127.0.0.1", "port": str(target.get("port") or 5432),
                      "dbname": db, "fetch_size": str(FDW_FETCH_SIZE)}
    with psycopg.connect(make_conninfo(superuser_dsn, dbname=reader_db), autocommit=True) as conn, \
            conn.cursor() as cur:
        cur.execute("create extension if not exists postgres_fdw schema pg_catalog")
        cur.execute("drop schema if exists public")
        server = sql.Identifier(FDW_SERVER)
        cur.execute("select srvoptions from pg_foreign_server where srvname = %s", (FDW_SERVER,))
        row = cur.fetchone()
        if row is None:
            cur.execute(sql.SQL("create server {} foreign data wrapper postgres_fdw").format(server))
        _set_options(cur, sql.SQL("alter server {}").format(server), row[0] if row else None, server_options)
        cur.execute(sql.SQL("grant usage on foreign server {} to {}").format(server, sql.Identifier(owner)))
        cur.execute("""select umoptions from pg_user_mappings where srvname = %s and usename = 'public'""",
                    (FDW_SERVER,))
        row = cur.fetchone()
        if row is None:
            cur.execute(sql.SQL("create user mapping for public server {}").format(server))
        _set_options(cur, sql.SQL("alter user mapping for public server {}").format(server),
                     row[0] if row else None, {"user": fdw_user(env), "password": env["SHUMEI_FDW_PASSWORD"]})
        _revoke_large_objects(cur)


def _revoke_large_objects(cur: psycopg.Cursor) -> None:
    for function in LARGE_OBJECT_CREATORS:
        cur.execute(sql.SQL("revoke execute on function pg_catalog.{} from public").format(sql.SQL(function)))


def bootstrap(superuser_dsn: str, env: Mapping[str, str], with_airflow: bool = True) -> None:
    owner, db, reader_db = env["SHUMEI_WH_USER"], env["SHUMEI_WH_DB"], reader_database(env)
    with psycopg.connect(superuser_dsn, autocommit=True) as conn, conn.cursor() as cur:
        _ensure_role(cur, owner, env["SHUMEI_WH_PASSWORD"])
        _ensure_role(cur, READER_GROUP, None, login=False)
        for user_key, pw_key in READER_LOGINS:
            _ensure_reader(cur, env[user_key], env[pw_key], READER_CONNECTION_LIMIT)
        _ensure_reader(cur, fdw_user(env), env["SHUMEI_FDW_PASSWORD"], FDW_CONNECTION_LIMIT)
        _ensure_database(cur, db, owner)
        _ensure_database(cur, reader_db, owner)
        # no TEMP and no CONNECT for PUBLIC; the readers connect to the reader database only, the
        # warehouse database is reached by shumei_fdw alone (a grant of an earlier version to the
        # group is taken back)
        for database in (db, reader_db):
            cur.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(database)))
        cur.execute(sql.SQL("revoke connect on database {} from {}").format(sql.Identifier(db),
                                                                            sql.Identifier(READER_GROUP)))
        cur.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(db),
                                                                         sql.Identifier(fdw_user(env))))
        cur.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(reader_db),
                                                                         sql.Identifier(READER_GROUP)))
        if with_airflow:
            _ensure_role(cur, "airflow", env["SHUMEI_AIRFLOW_DB_PASSWORD"])
            _ensure_database(cur, "airflow", "airflow")
        cur.execute("select datname from pg_database where datname in ('postgres', 'airflow')")
        for (other,) in cur.fetchall():
            cur.execute(sql.SQL("revoke connect, temporary on database {} from public").format(sql.Identifier(other)))
        cur.execute(sql.SQL("grant connect on database postgres to {}").format(sql.Identifier(owner)))
    # The public schema belongs to the owner; readers get nothing there.
    with psycopg.connect(make_conninfo(superuser_dsn, dbname=db), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("alter schema public owner to {}").format(sql.Identifier(owner)))
        cur.execute("revoke all on schema public from public")
        _revoke_large_objects(cur)
    _ensure_reader_database(superuser_dsn, env)
