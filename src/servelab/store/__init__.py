"""The results store: benches, runs and checks in SQLite (default) or PostgreSQL."""

from servelab.store.migrations import SCHEMA_VERSION, migrate
from servelab.store.reported import load_reported
from servelab.store.store import Store, StoredCheck
from servelab.store.url import resolve_url

__all__ = ["SCHEMA_VERSION", "Store", "StoredCheck", "load_reported", "migrate", "resolve_url"]
