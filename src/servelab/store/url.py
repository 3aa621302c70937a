"""Which database: a SQLAlchemy URL, a ``postgresql://`` URL, or a SQLite file path."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from servelab.errors import BadInput
from servelab.paths import data_dir

DEFAULT_FILE = "results.db"
SQLITE_BUSY_TIMEOUT_S = 60


def resolve_url(url: str | None = None) -> str:
    """Normalise ``url`` (else ``SERVELAB_DB``, else the default SQLite file) to a SQLAlchemy URL.

    ``postgresql://`` / ``postgres://`` select the psycopg 3 driver; anything without ``://`` is
    a SQLite file path.
    """
    text = (url or os.environ.get("SERVELAB_DB") or "").strip()
    if not text:
        return f"sqlite:///{data_dir() / DEFAULT_FILE}"
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix) :]
    if "://" in text:
        try:
            make_url(text)
        except ArgumentError:
            raise BadInput("not a database URL", field="db", value=repr(text)) from None
        return text
    path = Path(text).expanduser().resolve()
    if not path.parent.is_dir():
        raise BadInput(f"folder {path.parent} does not exist", field="db", value=text)
    return f"sqlite:///{path}"


def redacted(url: str) -> str:
    """The URL without its password (for messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _sqlite_setup(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` so writers queue, not fail."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for a resolved URL (SQLite gets its concurrency settings)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInput("not a database URL", field="db", value=repr(url)) from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        _sqlite_setup(engine)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise BadInput(
            f"driver not installed ({exc.name})", field="db", value=redacted(url)
        ) from None
