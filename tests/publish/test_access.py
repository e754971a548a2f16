"""The reader roles see the published schema only; everything published is commented.

The readers' URLs name the reader database (shumei_public): the warehouse's other schemas do not exist
there at all (tests/publish/test_reader_db.py checks its catalogs)."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.integration

DENIED = ("raw", "staging", "marts", "audit", "reference", "published_candidate")


@pytest.fixture
def published(wh, release):
    for schema in DENIED:
        wh.execute(f"create schema if not exists {schema}")
        wh.execute(f"create table if not exists {schema}.qa_probe (i int)")
    release()
    return wh


@pytest.mark.parametrize("role_url", ["SHUMEI_BI_URL", "SHUMEI_STATS_URL"])
def test_readers_read_published_and_nothing_else(published, test_env, role_url):
    with psycopg.connect(test_env[role_url], autocommit=True) as conn:
        # the readers' transactions are read-only by default (test_readers.py); the privileges hold without it
        conn.execute("set default_transaction_read_only = off")
        assert conn.execute("select count(*) from published.v_indicator_latest").fetchone()[0] == 14
        assert conn.execute("select count(*) from published.v_indicator_first_release").fetchone()[0] == 14
        assert conn.execute("select count(*) from published.indicator_values_as_of((now() at time zone 'Asia/Shanghai')::date)").fetchone()[0] == 14
        assert conn.execute("select count(*) from published.indicator_catalog").fetchone()[0] == 3
        assert conn.execute("select count(*) from published.release_log").fetchone()[0] == 1
        for schema in DENIED:
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute(f"select * from {schema}.qa_probe")
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("select * from published_candidate.indicator_values")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from published.indicator_values")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table published.x (i int)")


def test_every_published_object_has_a_bilingual_comment(published):
    missing_columns = published.execute("""
        select c.relname, a.attname from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = 'published' and c.relkind in ('r', 'v', 'm')
          and col_description(c.oid, a.attnum) is null""").fetchall()
    assert missing_columns == []
    relations = published.execute("""
        select c.relname, obj_description(c.oid, 'pg_class') from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'published' and c.relkind in ('r', 'v', 'm')""").fetchall()
    assert {r[0] for r in relations} >= {"release_log", "indicator_values", "indicator_catalog",
                                         "v_indicator_latest", "v_indicator_first_release"}
    functions = published.execute("""
        select p.proname, obj_description(p.oid, 'pg_proc') from pg_proc p
        join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'published'""").fetchall()
    assert {f[0] for f in functions} >= {"indicator_values_as_of"}
    for name, text in relations + functions:
        # Chinese and English side by side
        assert text and any("\u4e00" <= ch <= "\u9fff" for ch in text) and any(ch.isascii() and ch.isalpha()
                                                                                for ch in text), name
    owner = published.execute("select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'published'")
    assert owner.fetchone()[0] == "shumei_owner"
