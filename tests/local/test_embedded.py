"""The local default warehouse: an embedded PostgreSQL with the project's roles."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.integration


def test_owner_role_owns_the_warehouse(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute(
            "select current_user, pg_get_userbyid(d.datdba), current_setting('server_version_num')::int"
            " from pg_database d where d.datname = current_database()").fetchone()
    assert row[0] == row[1] == "shumei_owner"
    assert row[2] >= 180000


def test_listens_on_loopback_with_password_auth(pg_server, test_env):
    bad = test_env["SHUMEI_BI_URL"].replace(test_env["SHUMEI_BI_PASSWORD"], "wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad)


@pytest.mark.parametrize("role_url", ["SHUMEI_BI_URL", "SHUMEI_STATS_URL"])
def test_readers_cannot_create_anything(pg_server, test_env, role_url):
    # the readers' database has no public schema (bootstrap drops it): nowhere to create a table
    with psycopg.connect(test_env[role_url]) as conn:
        assert conn.execute("select to_regnamespace('public')").fetchone() == (None,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # read-only by default (role setting)
            conn.execute("create schema x")
    with psycopg.connect(test_env[role_url], options="-c default_transaction_read_only=off") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create schema x")


def test_bootstrap_is_idempotent(pg_server, test_env):
    from shumei.local.bootstrap import bootstrap

    bootstrap(pg_server.superuser_dsn(), test_env)
    bootstrap(pg_server.superuser_dsn(), test_env)
    with psycopg.connect(test_env["SHUMEI_STATS_URL"]) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_restart_keeps_data(pg_server, warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create table if not exists public.restart_probe (v text)")
        conn.execute("insert into public.restart_probe values ('kept')")
    pg_server.stop()
    assert not pg_server.is_running()
    pg_server.start()
    pg_server.wait_ready()
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select v from public.restart_probe").fetchall() == [("kept",)]
        conn.execute("drop table public.restart_probe")
        conn.commit()
