"""Rows of tunes and tune attempts (the Store's tune methods call these inside a transaction)."""

from __future__ import annotations

import time

from sqlalchemy import Connection, Row, select

from servelab.errors import BadInput
from servelab.records import TuneAttempt, TuneRecord
from servelab.store.tables import benches as benches_t
from servelab.store.tables import tune_attempts as attempts_t
from servelab.store.tables import tunes as tunes_t
from servelab.store.tables import where_given


def insert_tune(conn: Connection, record: TuneRecord) -> None:
    conn.execute(tunes_t.insert().values(**record.model_dump(mode="json")))


def tune_record(conn: Connection, tune_id: str) -> TuneRecord:
    row = conn.execute(select(tunes_t).where(tunes_t.c.id == tune_id)).first()
    if row is None:
        raise BadInput(f"no tune {tune_id!r} in the database")
    return _tune_from_row(row)


def tune_records(
    conn: Connection, fingerprint: str | None = None, status: str | None = None
) -> list[TuneRecord]:
    query = select(tunes_t).order_by(tunes_t.c.created_at, tunes_t.c.id)
    query = where_given(query, tunes_t, fingerprint=fingerprint, status=status)
    return [_tune_from_row(row) for row in conn.execute(query)]


def set_tune_status(conn: Connection, tune_id: str, status: str, finished: bool) -> None:
    tune_record(conn, tune_id)  # a clear error for an unknown id
    values: dict[str, object] = {"status": status}
    values["finished_at"] = time.time() if finished else None
    conn.execute(tunes_t.update().where(tunes_t.c.id == tune_id).values(**values))


def insert_attempt(
    conn: Connection, tune_id: str, slot: str, bench_id: str | None, host: str | None
) -> int:
    tune_record(conn, tune_id)
    result = conn.execute(
        attempts_t.insert().values(
            tune_id=tune_id, slot=slot, bench_id=bench_id, host=host, created_at=time.time()
        )
    )
    return int(result.inserted_primary_key[0])


def set_attempt_error(conn: Connection, attempt_id: int, error: str) -> None:
    conn.execute(
        attempts_t.update().where(attempts_t.c.id == attempt_id).values(error=error[:2000])
    )


def attempts_of(conn: Connection, tune_id: str) -> list[TuneAttempt]:
    """Every attempt of a tune, oldest first, with the status of the bench it wrote."""
    query = (
        select(attempts_t, benches_t.c.status.label("bench_status"))
        .select_from(attempts_t.outerjoin(benches_t, attempts_t.c.bench_id == benches_t.c.id))
        .where(attempts_t.c.tune_id == tune_id)
        .order_by(attempts_t.c.id)
    )
    return [TuneAttempt.model_validate(dict(row._mapping)) for row in conn.execute(query)]


def _tune_from_row(row: Row) -> TuneRecord:
    return TuneRecord.model_validate(dict(row._mapping))
