"""The current schema (what queries use). Older shapes live in migrations.py, frozen."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
)

metadata = MetaData()


def where_given(query: Select, table: Table, **values: object) -> Select:
    """``query`` narrowed to the rows whose column equals each value given (None: any value)."""
    conditions = [table.c[name] == value for name, value in values.items() if value is not None]
    return query.where(*conditions) if conditions else query


schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

# One bench: provenance columns to filter on, the full records as JSON (nothing is lost when
# results.py gains a field).
benches = Table(
    "benches",
    metadata,
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
    Column("source", Text),  # v2
    Column("context", Integer),  # v2
    Column("load_result", JSON),  # v4: the load section (levels, SLOs, saturation)
    Column("owner", String(200)),  # v5: host|pid|start of the process writing it
    Column("reason", Text),  # v6: why the bench is invalid or failed
)

# Every per-run sample, written as each run finishes.
runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bench_id", String(32), ForeignKey("benches.id", ondelete="CASCADE"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("cold", Boolean, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("decode_tps", Double),
    Column("record", JSON, nullable=False),
    Column("valid", Boolean),  # v6
    Column("invalid_reason", Text),  # v6
)

# One `servelab check` invocation (or an import): its provenance.
check_sets = Table(
    "check_sets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("stack", String(200), nullable=False),
    Column("stack_version", String(100), nullable=False),
    Column("reported", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("recipe_hash", String(64)),
    Column("engine", String(200)),
    Column("engine_version", String(200)),
    Column("provenance", JSON, nullable=False),
    Column("source", Text),  # v2
)

checks = Table(
    "checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("set_id", String(32), ForeignKey("check_sets.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    Column("record", JSON, nullable=False),
)

# One `servelab tune`: its plan (variants, baseline, order, settings) as JSON.  # v3
tunes = Table(
    "tunes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", Double, nullable=False),
    Column("finished_at", Double),
    Column("status", String(20), nullable=False),
    Column("recipe_hash", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("key", String(200), nullable=False),
    Column("plan", JSON, nullable=False),
)

# Each attempt at a tune's slot; bench_id is written before the bench begins (no foreign key).
tune_attempts = Table(
    "tune_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tune_id", String(32), ForeignKey("tunes.id", ondelete="CASCADE"), nullable=False),
    Column("slot", String(100), nullable=False),
    Column("bench_id", String(32)),
    Column("error", Text),
    Column("host", String(200)),
    Column("created_at", Double, nullable=False),
)
