"""The readers' database (`shumei_public`): schema `published` and nothing else, kept in step with the
warehouse's `published` by `sync_reader_database`, which `ensure_published_schema` calls.

Why a database of its own: pg_namespace and pg_class are readable by every role, so a reader of the
warehouse database (and SQLAlchemy's inspector, hence Superset) lists every internal schema and table
name. The reader database has only `published` (plus pg_catalog and information_schema; postgres_fdw
is installed into pg_catalog, the `public` schema is dropped by bootstrap).

What it holds is derived from the warehouse's catalog, so a new published table, view or function
needs no code here:
- every table and view of `published` as a foreign table (postgres_fdw, IMPORT FOREIGN SCHEMA) read
  through the role shumei_fdw, which can read `published` only; the views are evaluated in the
  warehouse, where their plans and indexes are;
- every function of `published`, created from the warehouse's own definition (pg_get_functiondef):
  one definition, executed in both databases; inside the reader database they read the foreign
  tables, and the SQL ones are still inlined into the caller's query;
- every comment (schema, relations, columns, functions), copied from the warehouse's catalog;
- the readers' grants, by the same code as in the warehouse (ddl.apply_reader_grants).

Consistency: the data is never copied; postgres_fdw runs all foreign scans of one local transaction
in one remote REPEATABLE READ transaction, so a reader's query (or transaction) sees one release,
never half of one (tests/publish/test_reader_db.py).

The rebuild (drop and re-create schema `published` in one transaction) runs only when the catalog
signature (SIGNATURE_SQL, run in both databases) differs: most publications change data only and do
not touch the reader database at all.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from shumei.local.bootstrap import FDW_SERVER
from shumei.publish import ddl
from shumei.settings import get_settings


class ReaderDatabaseError(RuntimeError):
    """The reader database is missing or could not be brought in step with the warehouse."""


# What a reader sees of `published`, the same text run in both databases: columns with their types
# and order, comments, function definitions. The relation kind is left out (foreign table there).
SIGNATURE_SQL = """
with rel as (
    select c.oid, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'published' and c.relkind in ('r', 'p', 'v', 'm', 'f')
)
select 'schema' as kind, n.nspname::text as object, '' as part, '' as definition,
       obj_description(n.oid, 'pg_namespace') as comment
from pg_namespace n where n.nspname = 'published'
union all
select 'relation', r.relname, '', '', obj_description(r.oid, 'pg_class') from rel r
union all
select 'column', r.relname,
       lpad(row_number() over (partition by r.oid order by a.attnum)::text, 4, '0') || ' ' || a.attname,
       format_type(a.atttypid, a.atttypmod), col_description(r.oid, a.attnum)
from rel r join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
union all
select 'function', quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       lpad(p.oid::text, 10, '0'), pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc')
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'published' and p.prokind = 'f'
"""


def _signature(cur: psycopg.Cursor) -> list[tuple]:
    """The catalog signature, functions in creation order (oid) but compared without their oid."""
    cur.execute(SIGNATURE_SQL)
    rows = sorted(cur.fetchall(), key=lambda r: (r[0], r[2] if r[0] == "function" else "", r[1], r[2]))
    return [(kind, obj, "" if kind == "function" else part, definition, comment)
            for kind, obj, part, definition, comment in rows]


def reader_conninfo(conn: psycopg.Connection, database: str | None = None) -> str:
    """The same login as `conn`, in the reader database."""
    return make_conninfo(conn.info.dsn, dbname=database or get_settings().reader_database,
                         password=conn.info.password)


def _rebuild(cur: psycopg.Cursor, wanted: list[tuple]) -> None:
    cur.execute("set local check_function_bodies = off")
    cur.execute("drop schema if exists published cascade")
    cur.execute("create schema published")
    cur.execute(sql.SQL("import foreign schema published from server {} into published").format(
        sql.Identifier(FDW_SERVER)))
    comments = []
    for kind, obj, part, definition, comment in wanted:
        if kind == "function":
            cur.execute(definition)
            target = sql.SQL("function {}.{}").format(sql.Identifier("published"), sql.SQL(obj))
        elif kind == "schema":
            target = sql.SQL("schema published")
        elif kind == "relation":
            target = sql.SQL("foreign table {}").format(sql.Identifier("published", obj))
        else:
            target = sql.SQL("column {}").format(sql.Identifier("published", obj, part.split(" ", 1)[1]))
        if comment is not None:
            comments.append(sql.SQL("comment on {} is {}").format(target, sql.Literal(comment)))
    for statement in comments:
        cur.execute(statement)
    ddl.apply_reader_grants(cur)


def sync_reader_database(conn: psycopg.Connection) -> bool:
    """Bring the reader database in step with the warehouse's committed `published` schema.

    `conn` is an owner connection to the warehouse database with no transaction open. Returns True
    when the reader database was rebuilt, False when it already matched. Raises ReaderDatabaseError
    when the reader database is missing or ends up different from the warehouse.
    """
    with conn.transaction(), conn.cursor() as cur:
        wanted = _signature(cur)
    database = get_settings().reader_database
    try:
        reader = psycopg.connect(reader_conninfo(conn, database))
    except psycopg.OperationalError as exc:
        raise ReaderDatabaseError(
            f"cannot connect to the reader database {database!r} as the owner role: create it with the "
            "project's bootstrap (make run, or the compose stack's warehouse-init), see docs/publication.md §2"
        ) from exc
    with reader, reader.transaction(), reader.cursor() as cur:
        # one rebuild at a time (two DAG runs); readers keep their old view until the commit
        cur.execute("select pg_advisory_xact_lock(hashtext('shumei.reader_db.sync'))")
        if _signature(cur) == wanted:
            return False
        _rebuild(cur, wanted)
        got = _signature(cur)
        if got != wanted:
            differ = sorted({(r[0], r[1]) for r in set(got) ^ set(wanted)})[:10]
            raise ReaderDatabaseError(f"the reader database {database!r} differs from the warehouse's "
                                      f"published schema after the rebuild: {differ}")
    return True
