"""The warehouse's DDL, applied by one step: `migrate(conn)` (`shumei migrate` on the command line).

Two kinds of DDL, both applied here and nowhere else at run time (docs/warehouse.md, "Migrations"):

1. **Numbered migrations**, the files `NNNN_name.sql` (or `.py` with `apply(conn)`) of this directory,
   each applied once, in order, in its own transaction, and recorded with the SHA-256 of its file in
   `audit.schema_migrations`. An applied migration whose file changed is refused (MigrationError):
   a change is a new migration. 0001-0003 are the baseline: they adopt a warehouse made before this
   module existed (hence their `if not exists`); every later one is plain DDL.
2. **Derived DDL**, generated from declarations that have their own home, re-applied when the
   declaration changed:
   - the raw feed tables from the contract YAML (shumei.ingest.schema.ensure_feed_tables: created when
     missing, checked against the contract otherwise, a changed contract is refused);
   - the views, functions, comments and grants of `published` from publish/ddl.py and the dbt
     descriptions, and the readers' database (ensure_published_schema; skipped when its fingerprint,
     audit.published_ddl_state, says nothing changed). The publication re-applies them too, after dbt
     rebuilt its view in `published`.

Who calls it: `make run` / `shumei run` after the bootstrap, the first task of every DAG (ingest:
load_range; build_and_publish: gate_sources), the test fixtures. At head it changes nothing: one
query of `audit.schema_migrations`, the contract checks and the fingerprint comparison.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).resolve().parent
NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(sql|py)$")

STATE_DDL = """
create schema if not exists audit;
create table if not exists audit.schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default clock_timestamp()
);
comment on table audit.schema_migrations is '结构迁移记录 Applied schema migrations (shumei.migrations): version, file, SHA-256';
"""


class MigrationError(RuntimeError):
    """A migration cannot be applied, or an applied one differs from its file."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def module(self):
        """The module of a Python migration (its `apply(conn)`)."""
        spec = importlib.util.spec_from_file_location(f"shumei_migration_{self.version:04d}", self.path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def apply(self, conn: psycopg.Connection) -> None:
        if self.path.suffix == ".sql":
            conn.execute(self.path.read_text(encoding="utf-8"))
            return
        self.module().apply(conn)


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations of `directory`, in version order; numbers are unique and without gaps."""
    found = []
    for path in sorted(directory.iterdir()):
        match = NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration numbers in {directory} must run 1, 2, 3, ... without gaps or repeats: "
                             f"{[m.path.name for m in found]}")
    return found


def applied(conn: psycopg.Connection) -> dict[int, tuple[str, str]]:
    """{version: (name, checksum)} of the migrations applied to this warehouse ({} before the first)."""
    if conn.execute("select to_regclass('audit.schema_migrations')").fetchone()[0] is None:
        return {}
    return {v: (n, c) for v, n, c in conn.execute("select version, name, checksum from audit.schema_migrations")}


def _check_applied(done: dict[int, tuple[str, str]], migrations: list[Migration]) -> None:
    by_version = {m.version: m for m in migrations}
    for version, (name, checksum) in sorted(done.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(f"the warehouse has migration {version:04d}_{name} applied, which this code does not "
                                 f"have (head is {len(migrations):04d}): run the code it was migrated with, or newer")
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {migration.path.name} was changed after it was applied to this warehouse "
                f"(applied sha256 {checksum[:12]}, file now {migration.checksum[:12]}): an applied migration is "
                "never edited; restore the file and put the change in a new migration")


def apply_numbered(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the numbered migrations not yet applied, each in its own committed transaction with its
    record; returns their file names. One migrator at a time (the DAGs start side by side)."""
    migrations = discover(directory)
    done: list[str] = []
    with conn.transaction():
        conn.execute("select pg_advisory_lock(hashtext('shumei.migrations'))")
    try:
        with conn.transaction():
            conn.execute(STATE_DDL)
            state = applied(conn)
        _check_applied(state, migrations)
        for migration in migrations:
            if migration.version in state:
                continue
            try:
                with conn.transaction():
                    migration.apply(conn)
                    conn.execute("insert into audit.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                                 (migration.version, migration.name, migration.checksum))
            except psycopg.Error as exc:
                raise MigrationError(f"migration {migration.path.name} failed, nothing of it applied "
                                     f"({exc.sqlstate}): {exc.diag.message_primary}") from exc
            done.append(migration.path.name)
    finally:
        with conn.transaction():
            conn.execute("select pg_advisory_unlock(hashtext('shumei.migrations'))")
    return done


def require_current(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> None:
    """Raise MigrationError unless every numbered migration of this code is applied, unchanged."""
    migrations = discover(directory)
    state = applied(conn)
    _check_applied(state, migrations)
    missing = [m.path.name for m in migrations if m.version not in state]
    if missing:
        raise MigrationError(f"the warehouse lacks migrations {', '.join(missing)}: run `shumei migrate`")


def migrate(conn: psycopg.Connection, *, published: bool = True) -> list[str]:
    """The one DDL step: numbered migrations, then the derived DDL (feed tables of every contract; the
    `published` views, functions, comments, grants and the readers' database unless `published` is
    False, for a caller without the dbt manifest). `conn`: the owner role, no transaction open.
    Returns the file names of the numbered migrations applied now."""
    from shumei.ingest.contracts import load_contracts
    from shumei.ingest.schema import ensure_feed_tables

    done = apply_numbered(conn)
    for contract in load_contracts().values():
        ensure_feed_tables(conn, contract)
    if published:
        from shumei.publish.ddl import ensure_published_schema

        ensure_published_schema(conn)
    return done
