"""The warehouse's one DDL step (shumei.migrations): from zero to head, twice is nothing, an edited
applied migration is refused, a warehouse at an earlier version (or made before migrations) upgrades."""

from __future__ import annotations

import shutil

import psycopg
import pytest
from migrated import MIGRATED_SCHEMAS, fresh_migrated
from shumei.migrations import (
    MIGRATIONS_DIR,
    MigrationError,
    apply_numbered,
    discover,
    migrate,
    require_current,
)

pytestmark = pytest.mark.integration

TABLES = """select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any(%s) and c.relkind in ('r', 'v', 'i', 'f') order by 1"""


@pytest.fixture
def conn(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        with conn.transaction():
            for schema in MIGRATED_SCHEMAS:
                conn.execute(f"drop schema if exists {schema} cascade")
        yield conn


def _objects(conn) -> list[str]:
    return [r[0] for r in conn.execute(TABLES, (list(MIGRATED_SCHEMAS),))]


def test_a_fresh_warehouse_migrates_from_zero_to_head(conn):
    with pytest.raises(MigrationError, match="run `shumei migrate`"):
        require_current(conn)
    applied = migrate(conn, published=False)
    assert applied == [m.path.name for m in discover()]
    rows = conn.execute("select version, name, checksum from audit.schema_migrations order by version").fetchall()
    assert [(v, n, c) for v, n, c in rows] == [(m.version, m.name, m.checksum) for m in discover()]
    require_current(conn)
    objects = set(_objects(conn))
    assert {"raw.batch_log", "raw.rejects", "raw.reference_keys", "raw.hotline_events", "audit.validation_runs",
            "audit.published_ddl_state", "published.indicator_values", "published.release_log"} <= objects


def test_twice_does_nothing(conn):
    migrate(conn, published=False)
    before = conn.execute("select version, applied_at from audit.schema_migrations order by 1").fetchall()
    objects = conn.execute("select c.oid, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                           " where n.nspname = any(%s) order by 1", (list(MIGRATED_SCHEMAS),)).fetchall()
    assert migrate(conn, published=False) == []
    assert conn.execute("select version, applied_at from audit.schema_migrations order by 1").fetchall() == before
    # nothing dropped or made again (a new oid would show it)
    assert conn.execute("select c.oid, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                        " where n.nspname = any(%s) order by 1", (list(MIGRATED_SCHEMAS),)).fetchall() == objects


def test_an_edited_applied_migration_is_refused(conn, tmp_path):
    for path in MIGRATIONS_DIR.glob("000*"):
        shutil.copy(path, tmp_path / path.name)
    apply_numbered(conn, tmp_path)
    edited = tmp_path / "0002_audit.sql"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n-- a change\n", encoding="utf-8")
    with pytest.raises(MigrationError, match=r"migration 0002_audit\.sql was changed after it was applied"):
        apply_numbered(conn, tmp_path)
    with pytest.raises(MigrationError, match="never edited"):
        require_current(conn, tmp_path)


def test_a_warehouse_at_an_earlier_version_upgrades(conn, tmp_path):
    """At migration 0002 (raw and audit only, a batch logged), then the code with the later ones."""
    for path in sorted(MIGRATIONS_DIR.glob("000*"))[:2]:
        shutil.copy(path, tmp_path / path.name)
    assert apply_numbered(conn, tmp_path) == ["0001_raw.sql", "0002_audit.sql"]
    conn.execute("""insert into raw.batch_log (source, feed, interval_start, interval_end, status)
                    values ('hotline', 'hotline_events', '2024-06-01', '2024-06-02', 'failed')""")
    assert migrate(conn, published=False) == [m.path.name for m in discover()][2:]
    assert conn.execute("select count(*) from raw.batch_log").fetchone()[0] == 1
    assert conn.execute("select to_regclass('published.indicator_values')").fetchone()[0] is not None


def test_a_warehouse_made_before_migrations_is_adopted(conn):
    """Made by the code before numbered migrations (its raw DDL, and a feed table with the index of
    2026-11: on _batch_id alone): the baseline adopts it, keeping its rows; 0004 replaces the index."""
    conn.execute(PRE_MIGRATION_RAW)
    conn.execute("""create table raw.credit_events (_batch_id bigint, _row_number integer, x text)""")
    conn.execute("create index credit_events__batch_id_idx on raw.credit_events (_batch_id)")
    conn.execute("""insert into raw.batch_log (source, feed, interval_start, interval_end, status)
                    values ('credit', 'credit_events', '2024-06-01', '2024-06-02', 'failed')""")
    assert apply_numbered(conn) == [m.path.name for m in discover()]
    assert conn.execute("select count(*) from raw.batch_log").fetchone()[0] == 1
    indexes = {r[0] for r in conn.execute("select indexname from pg_indexes where tablename = 'credit_events'")}
    assert indexes == {"credit_events_batch_row"}


def test_0006_drops_the_batch_id_no_run_writes(conn, tmp_path):
    """audit.validation_runs.batch_id has been written null since the gate validates every batch in one
    run (the verdict per batch is audit.batch_validations): a warehouse at 0005 keeps its runs."""
    for path in sorted(MIGRATIONS_DIR.glob("000*"))[:5]:
        shutil.copy(path, tmp_path / path.name)
    apply_numbered(conn, tmp_path)
    conn.execute("""insert into audit.validation_runs (run_id, target, suite, batch_id, started_at, checked_at,
                        passed, success, expectations, failed_blocking, failed_warning)
                    values ('r1', 'source_batches', 'source_batch', null, now(), now(), true, true, 10, 0, 0)""")
    assert "0006_drop_validation_runs_batch_id.sql" in migrate(conn, published=False)
    columns = {r[0] for r in conn.execute("""select column_name from information_schema.columns
                                             where table_schema = 'audit' and table_name = 'validation_runs'""")}
    assert "batch_id" not in columns and {"run_id", "target", "dag_run_id", "summary"} <= columns
    assert conn.execute("select run_id, passed from audit.validation_runs").fetchall() == [("r1", True)]


def test_a_failing_migration_applies_nothing_of_itself(conn, tmp_path):
    for path in sorted(MIGRATIONS_DIR.glob("000*"))[:1]:
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "0002_broken.sql").write_text("create table raw.qa_half (i int);\nselect 1/0;\n", encoding="utf-8")
    with pytest.raises(MigrationError, match=r"0002_broken\.sql failed, nothing of it applied \(22012\)"):
        apply_numbered(conn, tmp_path)
    assert conn.execute("select to_regclass('raw.qa_half')").fetchone()[0] is None
    assert [r[0] for r in conn.execute("select version from audit.schema_migrations")] == [1]


def test_numbers_without_gaps(tmp_path):
    (tmp_path / "0001_a.sql").write_text("select 1", encoding="utf-8")
    (tmp_path / "0003_c.sql").write_text("select 1", encoding="utf-8")
    with pytest.raises(MigrationError, match="without gaps"):
        discover(tmp_path)


def test_fresh_migrated_helper_reaches_head(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        fresh_migrated(conn)
        require_current(conn)


# The raw DDL of the code before numbered migrations (shumei.ingest.schema.BASE_DDL at 7cb052f), as
# such a warehouse has it: without raw.reference_keys (added lazily then).
PRE_MIGRATION_RAW = """
create schema raw;
create schema raw_restricted;
create table raw.batch_log (
    batch_id bigint generated always as identity primary key,
    source text not null, feed text not null, interval_start date not null, interval_end date not null,
    file_or_page text, received_at timestamptz not null default now(), finished_at timestamptz,
    rows_received integer, rows_loaded integer, rows_rejected integer, checksum text,
    status text not null check (status in ('loading', 'loaded', 'superseded', 'failed')),
    message text, dag_run_id text, contract_version integer, superseded_batches bigint[], superseded_by bigint,
    constraint batch_rows_conserved check (
        status not in ('loaded', 'superseded') or rows_received = rows_loaded + rows_rejected)
);
create index batch_log_feed_interval on raw.batch_log (feed, interval_start, status);
create table raw.rejects (
    batch_id bigint not null references raw.batch_log (batch_id), feed text not null, row_number integer not null,
    reason_code text not null, reason_field text, record jsonb not null, primary key (batch_id, row_number)
);
"""


def test_0008_an_index_answers_the_bi_series_by_area_level(conn):
    """Superset's series (an indicator, an area level, month, the total) can be read from an index on the
    current values that leads with those columns, not by scanning every value (the effect at city scale:
    bench/results.md, bench/bi_queries.py)."""
    migrate(conn, published=True)
    (definition,) = conn.execute("select indexdef from pg_indexes where schemaname = 'published' "
                                 "and indexname = 'indicator_values_current_level'").fetchone()
    assert definition.endswith("(indicator_code, area_level, period_type, breakdown_type) "
                               "WHERE (valid_to_release IS NULL)"), definition
