"""Rows of check sets and checks (the Store's check methods call these inside a transaction)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from servelab import __version__
from servelab.records import CheckResult, CheckSet
from servelab.store.tables import check_sets as check_sets_t
from servelab.store.tables import checks as checks_t


@dataclass(frozen=True)
class StoredCheck:
    """A check as stored: its id and provenance next to the result."""

    id: int
    set_id: str
    stack: str
    stack_version: str
    created_at: float
    reported: bool
    result: CheckResult


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def measured_provenance(check_set: CheckSet) -> dict[str, Any]:
    """The provenance column of a measured set."""
    return {
        "recipe": check_set.recipe,
        "endpoint": check_set.endpoint,
        "gpu": check_set.gpu,
        "host": check_set.host,
        "servelab_version": __version__,
    }


def reported_provenance(check_set: CheckSet) -> dict[str, Any]:
    """The provenance column of a published set: the GPU and source it names."""
    return {"gpu": check_set.gpu, "source": check_set.source}


def insert_check_set(conn: Connection, check_set: CheckSet) -> str:
    """One set row and a row per check; returns the set id."""
    set_id = new_id()
    provenance = (reported_provenance if check_set.reported else measured_provenance)(check_set)
    created_at = check_set.created_at
    conn.execute(
        check_sets_t.insert().values(
            id=set_id,
            stack=check_set.stack,
            stack_version=check_set.stack_version,
            reported=check_set.reported,
            created_at=created_at if created_at is not None else time.time(),
            recipe_hash=check_set.recipe_hash,
            engine=check_set.engine,
            engine_version=check_set.engine_version,
            provenance=provenance,
            source=check_set.source,
        )
    )
    for check in check_set.checks:
        conn.execute(
            checks_t.insert().values(
                set_id=set_id,
                name=check.name,
                passed=check.passed,
                detail=check.detail,
                record=check.model_dump(mode="json"),
            )
        )
    return set_id


def latest_checks(
    conn: Connection, stack: str, version: str | None, reported: bool
) -> list[StoredCheck]:
    """The latest stored outcome of each check name for a stack (version), by name."""
    query = (
        select(
            checks_t.c.id,
            checks_t.c.set_id,
            checks_t.c.name,
            checks_t.c.record,
            check_sets_t.c.stack,
            check_sets_t.c.stack_version,
            check_sets_t.c.created_at,
            check_sets_t.c.reported,
        )
        .join(check_sets_t, checks_t.c.set_id == check_sets_t.c.id)
        .where(check_sets_t.c.stack == stack, check_sets_t.c.reported == reported)
        .order_by(check_sets_t.c.created_at, checks_t.c.id)
    )
    if version is not None:
        query = query.where(check_sets_t.c.stack_version == version)
    latest: dict[str, StoredCheck] = {}
    for row in conn.execute(query).all():  # oldest first: later rows replace earlier ones
        latest[row.name] = StoredCheck(
            id=row.id,
            set_id=row.set_id,
            stack=row.stack,
            stack_version=row.stack_version,
            created_at=row.created_at,
            reported=row.reported,
            result=CheckResult.model_validate(row.record),
        )
    return [latest[name] for name in sorted(latest)]
