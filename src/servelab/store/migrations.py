"""Schema versions: a list of steps applied in order, each in the caller's transaction.

Step ``i`` takes the database from version ``i`` to ``i + 1``. Steps are frozen once shipped:
a change to the schema is a new step appended here (and the matching change in tables.py).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)

from servelab.errors import RunFailed
from servelab.store.tables import schema_version


def _v1_base(conn: Connection) -> None:
    """Benches, runs, check sets and checks, with provenance as JSON."""
    meta = MetaData()
    Table("schema_version", meta, Column("version", Integer, nullable=False))
    Table(
        "benches",
        meta,
        Column("id", String(32), primary_key=True),
        Column("stack", String(200), nullable=False),
        Column("stack_version", String(100), nullable=False),
        Column("status", String(20), nullable=False),
        Column("reported", Boolean, nullable=False),
        Column("started_at", Double, nullable=False),
        Column("finished_at", Double),
        Column("recipe_hash", String(64)),
        Column("engine", String(200)),
        Column("engine_version", String(200)),
        Column("host", String(200)),
        Column("provenance", JSON, nullable=False),
        Column("summary", JSON),
        Column("spec", JSON),
        Column("regimes", JSON),
        Column("concurrency", JSON),
    )
    Table(
        "runs",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("bench_id", String(32), ForeignKey("benches.id", ondelete="CASCADE")),
        Column("idx", Integer, nullable=False),
        Column("cold", Boolean, nullable=False),
        Column("ok", Boolean, nullable=False),
        Column("concurrency", Integer, nullable=False),
        Column("decode_tps", Double),
        Column("record", JSON, nullable=False),
    )
    Table(
        "check_sets",
        meta,
        Column("id", String(32), primary_key=True),
        Column("stack", String(200), nullable=False),
        Column("stack_version", String(100), nullable=False),
        Column("reported", Boolean, nullable=False),
        Column("created_at", Double, nullable=False),
        Column("recipe_hash", String(64)),
        Column("engine", String(200)),
        Column("engine_version", String(200)),
        Column("provenance", JSON, nullable=False),
    )
    Table(
        "checks",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("set_id", String(32), ForeignKey("check_sets.id", ondelete="CASCADE")),
        Column("name", String(100), nullable=False),
        Column("passed", Boolean, nullable=False),
        Column("detail", Text, nullable=False),
        Column("record", JSON, nullable=False),
    )
    meta.create_all(conn)


def _v2_source_context_indexes(conn: Connection) -> None:
    """Reported results name their source; the served context gets a column; lookup indexes."""
    conn.execute(text("ALTER TABLE benches ADD COLUMN source TEXT"))
    conn.execute(text("ALTER TABLE benches ADD COLUMN context INTEGER"))
    conn.execute(text("ALTER TABLE check_sets ADD COLUMN source TEXT"))
    meta = MetaData()
    benches = Table("benches", meta, autoload_with=conn)
    runs = Table("runs", meta, autoload_with=conn)
    check_sets = Table("check_sets", meta, autoload_with=conn)
    checks = Table("checks", meta, autoload_with=conn)
    Index("ix_benches_stack", benches.c.stack, benches.c.stack_version).create(conn)
    Index("ix_runs_bench", runs.c.bench_id).create(conn)
    Index("ix_check_sets_stack", check_sets.c.stack, check_sets.c.stack_version).create(conn)
    Index("ix_checks_set", checks.c.set_id).create(conn)


def _v3_tunes(conn: Connection) -> None:
    """Tunes (a sweep against a matched baseline) and the attempts linking them to benches."""
    meta = MetaData()
    Table(
        "tunes",
        meta,
        Column("id", String(32), primary_key=True),
        Column("created_at", Double, nullable=False),
        Column("finished_at", Double),
        Column("status", String(20), nullable=False),
        Column("recipe_hash", String(64), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("key", String(200), nullable=False),
        Column("plan", JSON, nullable=False),
    )
    attempts = Table(
        "tune_attempts",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("tune_id", String(32), ForeignKey("tunes.id", ondelete="CASCADE"), nullable=False),
        Column("slot", String(100), nullable=False),
        Column("bench_id", String(32)),
        Column("error", Text),
        Column("host", String(200)),
        Column("created_at", Double, nullable=False),
    )
    meta.create_all(conn)
    Index("ix_tunes_fingerprint", meta.tables["tunes"].c.fingerprint).create(conn)
    Index("ix_tune_attempts_tune", attempts.c.tune_id).create(conn)


def _v4_load(conn: Connection) -> None:
    """A bench's load section (sustained levels, SLOs, saturation) as JSON."""
    conn.execute(text("ALTER TABLE benches ADD COLUMN load_result JSON"))


def _v5_bench_owner(conn: Connection) -> None:
    """The process writing a running bench (host, pid, start time): a bench whose writer is
    gone is marked interrupted when the store is next opened."""
    conn.execute(text("ALTER TABLE benches ADD COLUMN owner VARCHAR(200)"))


def _v6_validity(conn: Connection) -> None:
    """Per-run validity and its reason; a bench's one-line reason for invalid or failed."""
    conn.execute(text("ALTER TABLE runs ADD COLUMN valid BOOLEAN"))
    conn.execute(text("ALTER TABLE runs ADD COLUMN invalid_reason TEXT"))
    conn.execute(text("ALTER TABLE benches ADD COLUMN reason TEXT"))


MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_base,
    _v2_source_context_indexes,
    _v3_tunes,
    _v4_load,
    _v5_bench_owner,
    _v6_validity,
]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    """The database's schema version (0 for an empty database)."""
    if not inspect(conn).has_table("schema_version"):
        return 0
    value = conn.execute(select(schema_version.c.version)).scalar()
    return int(value or 0)


def migrate(conn: Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing steps up to ``target`` inside ``conn``'s transaction; return the version.

    On PostgreSQL a transaction-scoped advisory lock serialises concurrent first opens; on
    SQLite the caller's ``BEGIN IMMEDIATE`` does.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7210417)"))
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise RunFailed(
            f"database schema v{version} is newer than this servelab (v{SCHEMA_VERSION}): "
            "upgrade servelab"
        )
    for step in MIGRATIONS[version:target]:
        step(conn)
    if target > version:
        conn.execute(schema_version.delete())
        conn.execute(schema_version.insert().values(version=target))
    return max(version, target)
