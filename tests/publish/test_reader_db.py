"""The readers' database (shumei_public): it lists only what the readers may read, and is kept in step
with the warehouse's `published` schema on every publication."""

from __future__ import annotations

import threading

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql
from shumei.local.bootstrap import FDW_CONNECTION_LIMIT

pytestmark = pytest.mark.integration

READERS = ["SHUMEI_BI_URL", "SHUMEI_STATS_URL"]
SYSTEM = ("pg_catalog", "information_schema")


@pytest.fixture
def published(wh, release):
    for schema in ("raw", "raw_restricted", "marts", "staging"):
        wh.execute(f"create schema if not exists {schema}")
    wh.execute("create table if not exists raw_restricted.qa_secret_names (i int)")
    wh.execute("create table if not exists marts.qa_internal_dim (i int)")
    release()
    return wh


def _internal_names(wh) -> set[str]:
    """Every schema, relation and function name of the warehouse database outside `published`
    (less the names `published` itself uses, such as indicator_values)."""
    published = {r[0] for r in wh.execute("""
        select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'published'
        union select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
              where n.nspname = 'published'""")}
    return {r[0] for r in wh.execute("""
        select nspname from pg_namespace where nspname not like 'pg\\_%%' and nspname <> all(%(keep)s)
        union select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname not like 'pg\\_%%' and n.nspname <> all(%(keep)s)
        union select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
              where n.nspname not like 'pg\\_%%' and n.nspname <> all(%(keep)s)""",
        {"keep": [*SYSTEM, "published"]})} - published


def _sa_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.mark.parametrize("role_url", READERS)
def test_inspector_lists_published_only(published, test_env, role_url):
    engine = sa.create_engine(_sa_url(test_env[role_url]))
    try:
        inspector = sa.inspect(engine)
        assert inspector.get_schema_names() == [*sorted(["information_schema", "published"])]
        # Superset lists tables and foreign tables (PostgresEngineSpec.get_table_names) and views
        listed = set(inspector.get_foreign_table_names("published")) | set(inspector.get_table_names("published"))
        assert {"indicator_values", "release_log", "v_indicator_month", "v_indicator_latest"} <= listed
        columns = {c["name"]: c for c in inspector.get_columns("v_indicator_month", schema="published")}
        assert "area_name_zh" in columns and "地区" in (columns["area_name_zh"]["comment"] or "")
    finally:
        engine.dispose()


def test_no_internal_name_anywhere_in_the_reader_catalogs(published, test_env, pg_server):
    internal = _internal_names(published)
    assert {"raw_restricted", "qa_secret_names", "marts", "qa_internal_dim"} <= internal
    # as the superuser, so that nothing is hidden by privileges
    with psycopg.connect(pg_server.superuser_dsn(test_env["SHUMEI_READER_DB"])) as conn:
        names = {r[0] for r in conn.execute("""
            select nspname from pg_namespace union select relname from pg_class
            union select proname from pg_proc union select typname from pg_type""")}
        bodies = " ".join(r[0] for r in conn.execute("select prosrc from pg_proc where prosrc is not null"))
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace where nspname not like 'pg\\_%'")}
    assert names & internal == set()
    assert schemas == {"information_schema", "published"}
    for schema in ("raw", "raw_restricted", "marts", "staging", "audit", "reference", "published_candidate"):
        assert f"{schema}." not in bodies


OBJECTS_SQL = """
select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'published' and c.relkind in ('r', 'p', 'v', 'm', 'f')
union all
select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'published'
"""


def test_reader_database_mirrors_the_warehouse(published, test_env):
    """Every relation and function of the warehouse's `published` is in the readers' database, and
    nothing else: the storage tables too (readers may read every table of `published`, the member
    units of the drill-through among them), with the same columns, comments and function bodies."""
    from shumei.publish.reader_db import _signature, reader_conninfo

    with psycopg.connect(reader_conninfo(published)) as reader:
        assert _signature(reader.cursor()) == _signature(published.cursor())
        warehouse_objects = sorted(r[0] for r in published.execute(OBJECTS_SQL))
        assert sorted(r[0] for r in reader.execute(OBJECTS_SQL)) == warehouse_objects
        assert {"indicator_stock_member_units", "indicator_flow_member_units", "enterprise_credit_list",
                "v_compound_status_list", "v_work_orders", "v_open311_requests", "release_calendar",
                "disclosure_rules", "dim_area", "v_indicator_targets", "published.date_trunc(text,date)",
                "published.work_orders_as_of(date)", "published.enterprise_credit_list_in_release(bigint)",
                } <= set(warehouse_objects)
        kinds = dict(reader.execute("""select c.relname, c.relkind from pg_class c
                                       join pg_namespace n on n.oid = c.relnamespace
                                       where n.nspname = 'published'""").fetchall())
        comments = reader.execute("""
            select c.relname, obj_description(c.oid, 'pg_class') from pg_class c
            join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'published'""").fetchall()
        owner = reader.execute("select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'published'")
        assert owner.fetchone()[0] == test_env["SHUMEI_WH_USER"]
    assert set(kinds.values()) == {"f"} and "v_indicator_month" in kinds
    for name, text in comments:
        assert text and any("\u4e00" <= ch <= "\u9fff" for ch in text), name


def test_a_new_published_object_reaches_the_readers_with_no_code(published, test_env):
    """A new object of the warehouse's `published` (here made by hand, with the comments that
    ensure_published_schema would apply from its dbt description) reaches the readers' database at the
    next sync, with its comments and grants, and no code naming it."""
    from shumei.publish.reader_db import sync_reader_database

    assert sync_reader_database(published) is False  # in step: nothing to do
    published.execute("""create view published.qa_new_view as
                         select indicator_code, name_zh from published.indicator_catalog""")
    published.execute("comment on column published.qa_new_view.name_zh is '指标中文名称 Indicator name (Chinese)'")
    published.execute("""create function published.qa_new_function(p text) returns bigint language sql stable
                         as $$ select count(*) from published.qa_new_view where indicator_code = p $$""")
    published.execute("comment on function published.qa_new_function(text) is '新函数 a new function'")
    assert sync_reader_database(published) is True
    with psycopg.connect(test_env["SHUMEI_STATS_URL"]) as conn:
        assert conn.execute("select published.qa_new_function('WY_FG')").fetchone()[0] == 1
        assert conn.execute("select col_description('published.qa_new_view'::regclass, 2)"
                            ).fetchone()[0] == "指标中文名称 Indicator name (Chinese)"
        assert conn.execute("select obj_description('published.qa_new_function(text)'::regprocedure)"
                            ).fetchone()[0] == "新函数 a new function"
    assert sync_reader_database(published) is False


@pytest.mark.parametrize("role_url", READERS)
def test_readers_write_and_create_nothing_in_the_reader_database(published, test_env, role_url):
    with psycopg.connect(test_env[role_url], autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = off")  # even so
        for statement in ("delete from published.indicator_values",
                          "insert into published.release_log (as_of_date) values (current_date)",
                          "create table published.qa_x (i int)", "create schema qa_x",
                          "create view published.qa_v as select 1 as i",
                          "create foreign table published.qa_f (i int) server warehouse"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # the user mapping's password is not readable
        assert conn.execute("select umoptions from pg_user_mappings").fetchall() == [(None,)]


def test_statement_timeout_reaches_the_warehouse(published, test_env):
    from shumei.publish.reader_db import sync_reader_database

    # a view the warehouse takes seconds to evaluate
    published.execute("create view published.qa_slow as select pg_sleep(5)::text as status")
    sync_reader_database(published)
    with psycopg.connect(test_env["SHUMEI_BI_URL"], autocommit=True) as conn:
        conn.execute("set statement_timeout = '300ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("select * from published.qa_slow").fetchone()
    with psycopg.connect(test_env["SHUMEI_WAREHOUSE_URL"]) as owner:
        active = owner.execute("""select count(*) from pg_stat_activity
                                  where usename = %s and state = 'active'""", (test_env["SHUMEI_FDW_USER"],))
        assert active.fetchone()[0] == 0  # the remote query was cancelled too
        assert owner.execute("select rolconnlimit from pg_roles where rolname = %s",
                             (test_env["SHUMEI_FDW_USER"],)).fetchone()[0] == FDW_CONNECTION_LIMIT


QUERY = """select (select max(release_id) from published.release_log),
                  (select sum(numerator) from published.v_indicator_latest where unit = 'count')"""


def test_a_publication_is_seen_whole(published, release, wh, test_env):
    step = "case when area_level = 'county' then 2 else 1 end"  # the towns still add up
    with psycopg.connect(test_env["SHUMEI_STATS_URL"], autocommit=True) as reader:
        before = reader.execute(QUERY).fetchone()
        wh.execute(f"update published_candidate.indicator_values set value = value + {step},"
                   f" numerator = numerator + {step} where unit = 'count'")
        assert release(dag_run_id="second").released
        assert reader.execute(QUERY).fetchone() == (before[0] + 1, before[1] + 8)


def test_reads_during_a_release_see_one_release(published, wh, test_env):
    """The data of a release is one transaction in the warehouse (release_log row, values closed and
    inserted: here a release-like transaction as in bench/reader_database.py); reads through the
    reader database during it see the old release or the new one, never a mixture. (The DDL of
    ensure_published_schema, which runs before it, takes exclusive locks on every publication and
    can deadlock with concurrent readers on either path: see the branch report.)"""
    with psycopg.connect(test_env["SHUMEI_STATS_URL"], autocommit=True) as reader:
        before = reader.execute(QUERY).fetchone()
        seen = []
        with psycopg.connect(test_env["SHUMEI_WAREHOUSE_URL"]) as owner:
            owner.execute("insert into published.release_log (as_of_date, dag_run_id) values (current_date, 'qa')")
            owner.execute("update published.indicator_values set numerator = numerator + 1 where unit = 'count'")
            seen += [reader.execute(QUERY).fetchone() for _ in range(20)]
            done = threading.Event()

            def read() -> None:
                while not done.is_set():
                    seen.append(reader.execute(QUERY).fetchone())
            thread = threading.Thread(target=read)
            thread.start()
            owner.commit()
            done.set()
            thread.join()
        after = reader.execute(QUERY).fetchone()
    assert after == (before[0] + 1, before[1] + 6)
    assert set(seen) <= {before, after} and before in seen


def test_publications_while_a_reader_reads_do_not_deadlock(published, release, wh, test_env):
    """A reader reading several views in each transaction through the readers' database, in a tight
    loop, while two publications run (each calls ensure_published_schema, before the audit and in
    publish()): no error on either side. With nothing changed in the code or the descriptions neither
    the warehouse's DDL nor the readers' database rebuild runs (a rebuild drops the schema: its oid
    would change), so the publication takes no lock a reader waits for."""
    reader_schema = "select oid from pg_namespace where nspname = 'published'"
    with psycopg.connect(_owner_in_reader_db(test_env)) as su:
        schema_before = su.execute(reader_schema).fetchone()
    applied_before = wh.execute("select applied_at from audit.published_ddl_state").fetchone()
    errors, reads, done = [], [], threading.Event()

    def read() -> None:
        with psycopg.connect(test_env["SHUMEI_STATS_URL"]) as reader:
            while not done.is_set():
                try:
                    with reader.transaction():
                        latest = reader.execute("select count(*) from published.v_indicator_latest").fetchone()
                        reader.execute("select count(*) from published.v_indicator_month").fetchone()
                        reader.execute("select count(*) from published.v_indicator_targets").fetchone()
                        release_id = reader.execute(QUERY).fetchone()
                    reads.append((release_id, latest))
                except psycopg.Error as exc:  # a deadlock victim, a lock timeout, a dropped relation
                    errors.append(repr(exc))
    thread = threading.Thread(target=read)
    thread.start()
    try:
        step = "case when area_level = 'county' then 2 else 1 end"
        for run in ("second", "third"):
            wh.execute(f"update published_candidate.indicator_values set value = value + {step},"
                       f" numerator = numerator + {step} where unit = 'count'")
            assert release(dag_run_id=run).released
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert len({r[0][0] for r in reads}) >= 2, "the reader saw the releases"
    assert wh.execute("select applied_at from audit.published_ddl_state").fetchone() == applied_before
    with psycopg.connect(_owner_in_reader_db(test_env)) as su:
        assert su.execute(reader_schema).fetchone() == schema_before


def _owner_in_reader_db(test_env) -> str:
    """The owner in the readers' database."""
    return test_env["SHUMEI_WAREHOUSE_URL"].rsplit("/", 1)[0] + "/" + test_env["SHUMEI_READER_DB"]


def test_one_reader_transaction_sees_one_snapshot(published, wh, test_env):
    # postgres_fdw's remote transaction is REPEATABLE READ: a release committed while a reader's
    # transaction is open is seen by its next transaction only
    with psycopg.connect(test_env["SHUMEI_STATS_URL"]) as reader:
        first = reader.execute(QUERY).fetchone()
        wh.execute("insert into published.release_log (as_of_date, dag_run_id) values (current_date, 'qa')")
        assert reader.execute(QUERY).fetchone() == first
        reader.rollback()
        assert reader.execute(QUERY).fetchone()[0] == first[0] + 1


def test_fdw_role_reads_published_only(published, test_env, pg_server):
    url = test_env["SHUMEI_WAREHOUSE_URL"].replace(
        f"{test_env['SHUMEI_WH_USER']}:{test_env['SHUMEI_WH_PASSWORD']}",
        f"{test_env['SHUMEI_FDW_USER']}:{test_env['SHUMEI_FDW_PASSWORD']}")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select count(*) from published.release_log").fetchone()[0] == 1
        for table in ("raw_restricted.qa_secret_names", "marts.qa_internal_dim"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("select * from {}").format(sql.Identifier(*table.split("."))))
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("delete from published.release_log")
