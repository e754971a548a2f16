"""Roles and databases of a warehouse server, created idempotently with the superuser.

- `shumei_owner`: the pipeline's role; owns the warehouse database and every schema in it.
- `shumei_stats` (statistics office) and `shumei_bi` (BI tools): login roles, members of the group
  role `shumei_reader`, which is granted read access to the `published` schema only (by the
  publication step). They can connect to the warehouse database only (not `postgres` nor
  `airflow`), create no temporary tables and no large objects, and have role-level settings a BI tool
  cannot misread or overload the server with: READER_SETTINGS and READER_CONNECTION_LIMIT below.
- `airflow`: owns the `airflow` metadata database of the local Airflow.

On a server not managed by this project (a county's PostgreSQL), a DBA creates the same roles;
see docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import psycopg
from psycopg import sql

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


def bootstrap(superuser_dsn: str, env: Mapping[str, str], with_airflow: bool = True) -> None:
    owner, db = env["SHUMEI_WH_USER"], env["SHUMEI_WH_DB"]
    with psycopg.connect(superuser_dsn, autocommit=True) as conn, conn.cursor() as cur:
        _ensure_role(cur, owner, env["SHUMEI_WH_PASSWORD"])
        _ensure_role(cur, READER_GROUP, None, login=False)
        for user_key, pw_key in (("SHUMEI_STATS_USER", "SHUMEI_STATS_PASSWORD"),
                                 ("SHUMEI_BI_USER", "SHUMEI_BI_PASSWORD")):
            _ensure_role(cur, env[user_key], env[pw_key])
            reader = sql.Identifier(env[user_key])
            cur.execute(sql.SQL("grant {} to {}").format(sql.Identifier(READER_GROUP), reader))
            cur.execute(sql.SQL("alter role {} connection limit {}").format(
                reader, sql.Literal(READER_CONNECTION_LIMIT)))
            for name, value in READER_SETTINGS.items():
                cur.execute(sql.SQL("alter role {} set {} = {}").format(reader, sql.Identifier(name),
                                                                        sql.Literal(value)))
        _ensure_database(cur, db, owner)
        # no TEMP and no CONNECT for PUBLIC; the readers connect to the warehouse database only
        cur.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(db)))
        cur.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(db),
                                                                         sql.Identifier(READER_GROUP)))
        if with_airflow:
            _ensure_role(cur, "airflow", env["SHUMEI_AIRFLOW_DB_PASSWORD"])
            _ensure_database(cur, "airflow", "airflow")
        cur.execute("select datname from pg_database where datname in ('postgres', 'airflow')")
        for (other,) in cur.fetchall():
            cur.execute(sql.SQL("revoke connect, temporary on database {} from public").format(sql.Identifier(other)))
        cur.execute(sql.SQL("grant connect on database postgres to {}").format(sql.Identifier(owner)))
    # The public schema belongs to the owner; readers get nothing there.
    dsn = superuser_dsn.replace("dbname=postgres", f"dbname={db}")
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("alter schema public owner to {}").format(sql.Identifier(owner)))
        cur.execute("revoke all on schema public from public")
        for function in LARGE_OBJECT_CREATORS:
            cur.execute(sql.SQL("revoke execute on function pg_catalog.{} from public").format(sql.SQL(function)))
