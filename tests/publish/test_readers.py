"""Reader roles a BI tool cannot misread or overload: role settings, time zone, what they can list and create."""

from __future__ import annotations

from datetime import UTC, datetime, time

import psycopg
import pytest
from psycopg import sql
from shumei.local.bootstrap import READER_CONNECTION_LIMIT

pytestmark = pytest.mark.integration

READERS = ["SHUMEI_BI_URL", "SHUMEI_STATS_URL"]


@pytest.fixture
def published(wh, release):
    for schema in ("raw_restricted", "marts"):
        wh.execute(f"create schema if not exists {schema}")
    wh.execute("create table if not exists raw_restricted.qa_secret_names (i int)")
    release()
    return wh


@pytest.mark.parametrize("role_url", READERS)
def test_role_settings(published, test_env, role_url):
    with psycopg.connect(test_env[role_url], autocommit=True) as conn:
        settings = dict(conn.execute(
            "select name, setting from pg_settings where name in ('statement_timeout', 'TimeZone',"
            " 'idle_in_transaction_session_timeout', 'default_transaction_read_only', 'search_path')").fetchall())
        assert settings == {"statement_timeout": "30000", "idle_in_transaction_session_timeout": "60000",
                            "TimeZone": "UTC", "default_transaction_read_only": "on", "search_path": "published"}
        assert conn.execute("select rolconnlimit from pg_roles where rolname = current_user"
                            ).fetchone()[0] == READER_CONNECTION_LIMIT
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("delete from published.release_log")


@pytest.mark.parametrize("server_zone", ["UTC", "Asia/Shanghai"])
@pytest.mark.parametrize("role_url", READERS)
def test_month_and_quarter_grains_under_both_time_zones(published, pg_server, test_env, server_zone, role_url):
    """Superset's grains (PostgreSQL engine spec: DATE_TRUNC('month', col), DATE_TRUNC('quarter', col)) on
    the period columns give the period itself under the server's and the session's time zone, UTC or
    Asia/Shanghai (the compose warehouse runs TZ Asia/Shanghai)."""
    # the readers' database and the warehouse database, where the foreign tables' views are evaluated
    databases = [sql.Identifier(test_env[key]) for key in ("SHUMEI_READER_DB", "SHUMEI_WH_DB")]
    with psycopg.connect(pg_server.superuser_dsn(), autocommit=True) as su:
        for database in databases:
            su.execute(sql.SQL("alter database {} set timezone = {}").format(database, sql.Literal(server_zone)))
    try:
        query = """SELECT period_start, period_end, DATE_TRUNC('month', period_start), DATE_TRUNC('quarter', period_start),
                          DATE_TRUNC('month', period_end)
                   FROM published.v_indicator_month"""
        for session_zone in ("UTC", "Asia/Shanghai"):
            with psycopg.connect(test_env[role_url]) as conn:
                conn.execute(sql.SQL("SET TimeZone = {}").format(sql.Literal(session_zone)))
                rows = conn.execute(query).fetchall()
            assert rows
            for period_start, period_end, month, quarter, end_month in rows:
                # a zone-free timestamp: no reader, in any zone, can shift it into another period
                assert month == datetime.combine(period_start, time()), (session_zone, month)
                assert quarter == datetime(period_start.year, 3 * ((period_start.month - 1) // 3) + 1, 1)
                assert end_month == datetime.combine(period_end.replace(day=1), time())
        # pg_catalog's date_trunc (what a session without published on its search path gets) returns
        # midnight of the session zone: under Asia/Shanghai 16:00 UTC of the day before
        with psycopg.connect(test_env[role_url], options="-c TimeZone=Asia/Shanghai") as conn:
            month = conn.execute("select pg_catalog.date_trunc('month', date '2024-05-01')").fetchone()[0]
        assert month.astimezone(UTC) == datetime(2024, 4, 30, 16, tzinfo=UTC)
    finally:
        with psycopg.connect(pg_server.superuser_dsn(), autocommit=True) as su:
            for database in databases:
                su.execute(sql.SQL("alter database {} reset timezone").format(database))


@pytest.mark.parametrize("role_url", READERS)
def test_readers_create_nothing_and_connect_nowhere_else(published, test_env, role_url):
    url = test_env[role_url]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = off")  # even so
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create temp table qa_tmp (i int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select lo_create(0)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select lo_from_bytea(0, 'x')")
    for other in ("postgres", "airflow", test_env["SHUMEI_WH_DB"]):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(url.rsplit("/", 1)[0] + "/" + other).close()


@pytest.mark.parametrize("role_url", READERS)
def test_catalog_listing_shows_published_only(published, test_env, role_url):
    system = ("pg_catalog", "information_schema")
    with psycopg.connect(test_env[role_url]) as conn:
        # what Superset's PostgreSQL dialect and most BI tools ask
        schemata = conn.execute("select schema_name from information_schema.schemata"
                                " where schema_name <> all(%s) and schema_name not like 'pg_toast%%'",
                                (list(system),)).fetchall()
        assert schemata == [("published",)]
        tables = conn.execute("select distinct table_schema from information_schema.tables"
                              " where table_schema <> all(%s)", (list(system),)).fetchall()
        assert tables == [("published",)]
        names = {r[0] for r in conn.execute("select table_name from information_schema.tables").fetchall()}
        assert "qa_secret_names" not in names and "v_indicator_month" in names
        columns = conn.execute("select distinct table_schema from information_schema.columns"
                               " where table_schema <> all(%s)", (list(system),)).fetchall()
        assert columns == [("published",)]
        # pg_namespace and pg_class are readable by every role: in the reader database they hold
        # nothing but `published` (test_reader_db.py checks every catalog)
        assert {r[0] for r in conn.execute("select nspname from pg_namespace where nspname not like 'pg\\_%'"
                                           " and nspname <> 'information_schema'")} == {"published"}
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("select * from raw_restricted.qa_secret_names")
