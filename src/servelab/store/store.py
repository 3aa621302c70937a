"""Persistence of benches, runs and checks: every write is one transaction."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from servelab.errors import BadInput, RunFailed
from servelab.load.records import LoadResult
from servelab.records import (
    BenchResult,
    CheckResult,
    CheckSet,
    ConcurrencyLevel,
    Provenance,
    Regimes,
    ReportedResult,
    RunRecord,
    SpecStats,
    Summary,
    TuneAttempt,
    TuneRecord,
)
from servelab.store import checks as check_rows
from servelab.store import tunes as tune_rows
from servelab.store.checks import StoredCheck, new_id
from servelab.store.migrations import migrate
from servelab.store.owners import mark_abandoned, owner_token
from servelab.store.reported import reported_bench, reported_check_set
from servelab.store.tables import benches as benches_t
from servelab.store.tables import runs as runs_t
from servelab.store.tables import where_given
from servelab.store.url import make_engine, redacted, resolve_url


def _dump(model: Any) -> Any:
    return None if model is None else model.model_dump(mode="json")


class Store:
    """The results database (SQLite file by default, PostgreSQL by URL), migrated on open."""

    def __init__(self, url: str | None = None):
        self.url = resolve_url(url)
        self._engine: Engine = make_engine(self.url)
        try:
            with self._engine.begin() as conn:
                self.schema_version = migrate(conn)
                mark_abandoned(conn)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise BadInput(f"cannot open database {redacted(self.url)}: {_reason(exc)}") from None
        except BaseException:
            self._engine.dispose()
            raise

    # --- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._engine.dispose()

    def describe(self) -> str:
        """The database, password redacted, with its schema version."""
        return f"{redacted(self.url)} (schema v{self.schema_version})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise RunFailed(f"database {redacted(self.url)}: {_reason(exc)}") from None

    # --- benches ----------------------------------------------------------------------------

    def begin_bench(self, result: BenchResult) -> str:
        """Store a bench's provenance (and any runs it already has); return its id."""
        bench_id = result.id or new_id()
        with self._transaction() as conn:
            _insert_bench(conn, bench_id, result)
        return bench_id

    def add_run(self, bench_id: str, run: RunRecord) -> None:
        """Store one finished run (its own transaction: an interrupted bench keeps it)."""
        with self._transaction() as conn:
            _require_bench(conn, bench_id)
            _insert_run(conn, bench_id, run)

    def finish_bench(
        self,
        bench_id: str,
        *,
        summary: Summary | None = None,
        spec: SpecStats | None = None,
        regimes: Regimes | None = None,
        concurrency: list[ConcurrencyLevel] | None = None,
        status: str = "complete",
        finished_at: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Record what was derived from the runs and the final status (with its reason)."""
        values = {
            "status": status,
            "reason": reason,
            "finished_at": finished_at if finished_at is not None else time.time(),
            "summary": _dump(summary),
            "spec": _dump(spec),
            "regimes": _dump(regimes),
            "concurrency": [_dump(level) for level in concurrency or []],
        }
        with self._transaction() as conn:
            _require_bench(conn, bench_id)
            conn.execute(benches_t.update().where(benches_t.c.id == bench_id).values(**values))

    def save_load(self, bench_id: str, load: LoadResult) -> None:
        """Store a bench's load levels so far (after each level: nothing measured is lost)."""
        with self._transaction() as conn:
            _require_bench(conn, bench_id)
            update = benches_t.update().where(benches_t.c.id == bench_id)
            conn.execute(update.values(load_result=_dump(load)))

    def save_bench(self, result: BenchResult) -> str:
        """Store a whole bench at once (begin, runs, finish in one transaction)."""
        return self.begin_bench(result)

    def benches(
        self,
        stack: str | None = None,
        version: str | None = None,
        *,
        status: str | None = None,
        reported: bool | None = None,
        with_runs: bool = True,
    ) -> list[BenchResult]:
        """Benches rebuilt from the rows, oldest first."""
        query = select(benches_t).order_by(benches_t.c.started_at, benches_t.c.id)
        query = where_given(
            query, benches_t, stack=stack, stack_version=version, status=status, reported=reported
        )
        with self._transaction() as conn:
            rows = conn.execute(query).all()
            runs_by_bench = _runs_of(conn, [row.id for row in rows]) if with_runs else {}
        return [_bench_from_row(row, runs_by_bench.get(row.id, [])) for row in rows]

    def bench(self, bench_id: str) -> BenchResult:
        """One bench by id."""
        found = self.bench_or_none(bench_id)
        if found is None:
            raise BadInput(f"no bench {bench_id!r} in {redacted(self.url)}")
        return found

    def bench_or_none(self, bench_id: str) -> BenchResult | None:
        """One bench by id, None when there is none."""
        with self._transaction() as conn:
            row = conn.execute(select(benches_t).where(benches_t.c.id == bench_id)).first()
            if row is None:
                return None
            runs = _runs_of(conn, [bench_id]).get(bench_id, [])
        return _bench_from_row(row, runs)

    def forget_bench(self, bench_id: str) -> int:
        """Remove a bench and its runs; return how many runs went with it."""
        with self._transaction() as conn:
            _require_bench(conn, bench_id)
            gone = conn.execute(runs_t.delete().where(runs_t.c.bench_id == bench_id)).rowcount
            conn.execute(benches_t.delete().where(benches_t.c.id == bench_id))
        return gone

    # --- checks -----------------------------------------------------------------------------

    def save_checks(self, check_set: CheckSet) -> str:
        """Store one check session with its provenance; return the set id."""
        with self._transaction() as conn:
            return check_rows.insert_check_set(conn, check_set)

    def check_records(
        self, stack: str, version: str | None = None, *, reported: bool = False
    ) -> list[StoredCheck]:
        """The latest stored outcome of each check name for a stack (version), by name."""
        with self._transaction() as conn:
            return check_rows.latest_checks(conn, stack, version, reported)

    def checks(self, stack: str, version: str | None = None) -> list[CheckResult]:
        """The latest measured outcome of each check for a stack (version)."""
        return [stored.result for stored in self.check_records(stack, version)]

    # --- tunes ------------------------------------------------------------------------------

    def begin_tune(self, record: TuneRecord) -> str:
        """Store a new tune (its plan); return its id."""
        with self._transaction() as conn:
            tune_rows.insert_tune(conn, record)
        return record.id

    def tune(self, tune_id: str) -> TuneRecord:
        """One tune by id."""
        with self._transaction() as conn:
            return tune_rows.tune_record(conn, tune_id)

    def tunes(self, fingerprint: str | None = None, status: str | None = None) -> list[TuneRecord]:
        """Tunes, oldest first (optionally those of one fingerprint or status)."""
        with self._transaction() as conn:
            return tune_rows.tune_records(conn, fingerprint, status)

    def finish_tune(self, tune_id: str, status: str, *, finished: bool = True) -> None:
        """Set a tune's status (finished_at now, or cleared when it runs again)."""
        with self._transaction() as conn:
            tune_rows.set_tune_status(conn, tune_id, status, finished)

    def add_tune_attempt(
        self, tune_id: str, slot: str, bench_id: str | None, host: str | None = None
    ) -> int:
        """Record that a slot is being measured into ``bench_id``; return the attempt's id."""
        with self._transaction() as conn:
            return tune_rows.insert_attempt(conn, tune_id, slot, bench_id, host)

    def fail_tune_attempt(self, attempt_id: int, error: str) -> None:
        """Record why an attempt failed (its bench, if begun, keeps its own status)."""
        with self._transaction() as conn:
            tune_rows.set_attempt_error(conn, attempt_id, error)

    def tune_attempts(self, tune_id: str) -> list[TuneAttempt]:
        """A tune's attempts, oldest first, each with its bench's status."""
        with self._transaction() as conn:
            return tune_rows.attempts_of(conn, tune_id)

    # --- reported results -------------------------------------------------------------------

    def import_reported(self, entries: Iterable[ReportedResult]) -> list[str]:
        """Store published results as reported (not measured), all or none; return bench ids."""
        now = time.time()
        ids: list[str] = []
        with self._transaction() as conn:
            for entry in entries:
                bench_id = new_id()
                _insert_bench(conn, bench_id, reported_bench(entry, started_at=now))
                check_set = reported_check_set(entry, created_at=now)
                if check_set.checks:
                    check_rows.insert_check_set(conn, check_set)
                ids.append(bench_id)
        return ids


# --- row helpers ----------------------------------------------------------------------------


def _reason(exc: SQLAlchemyError) -> str:
    origin = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return " ".join(str(origin).split())[:300] or type(origin).__name__


def _require_bench(conn: Connection, bench_id: str) -> None:
    if conn.execute(select(benches_t.c.id).where(benches_t.c.id == bench_id)).first() is None:
        raise BadInput(f"no bench {bench_id!r} in the database (call begin_bench first)")


def _insert_bench(conn: Connection, bench_id: str, result: BenchResult) -> None:
    provenance = result.provenance
    conn.execute(
        benches_t.insert().values(
            id=bench_id,
            stack=provenance.stack,
            stack_version=provenance.stack_version,
            status=result.status,
            reported=result.reported,
            started_at=result.started_at,
            finished_at=result.finished_at,
            recipe_hash=provenance.recipe_hash,
            engine=provenance.engine,
            engine_version=provenance.engine_version,
            host=provenance.host,
            provenance=_dump(provenance),
            summary=_dump(result.summary),
            spec=_dump(result.spec),
            regimes=_dump(result.regimes),
            concurrency=[_dump(level) for level in result.concurrency],
            load_result=_dump(result.load),
            source=result.source,
            context=provenance.served_context(),
            owner=owner_token() if result.status == "running" else None,
            reason=result.reason,
        )
    )
    for run in result.runs:
        _insert_run(conn, bench_id, run)


def _insert_run(conn: Connection, bench_id: str, run: RunRecord) -> None:
    conn.execute(
        runs_t.insert().values(
            bench_id=bench_id,
            idx=run.index,
            cold=run.cold,
            ok=run.ok,
            concurrency=run.concurrency,
            decode_tps=run.decode_tps,
            record=_dump(run),
            valid=run.valid,
            invalid_reason=run.invalid_reason,
        )
    )


def _runs_of(conn: Connection, bench_ids: list[str]) -> dict[str, list[RunRecord]]:
    found: dict[str, list[RunRecord]] = {}
    if not bench_ids:
        return found
    query = select(runs_t.c.bench_id, runs_t.c.record).order_by(runs_t.c.id)
    for start in range(0, len(bench_ids), 500):  # keep the IN list bounded
        chunk = bench_ids[start : start + 500]
        for row in conn.execute(query.where(runs_t.c.bench_id.in_(chunk))):
            found.setdefault(row.bench_id, []).append(RunRecord.model_validate(row.record))
    return found


def _bench_from_row(row: Row, runs: list[RunRecord]) -> BenchResult:
    return BenchResult(
        id=row.id,
        provenance=Provenance.model_validate(row.provenance),
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=row.status,
        reason=row.reason,
        runs=runs,
        summary=Summary.model_validate(row.summary) if row.summary else None,
        spec=SpecStats.model_validate(row.spec) if row.spec else None,
        regimes=Regimes.model_validate(row.regimes) if row.regimes else None,
        concurrency=[ConcurrencyLevel.model_validate(level) for level in row.concurrency or []],
        load=LoadResult.model_validate(row.load_result) if row.load_result else None,
        reported=row.reported,
        source=row.source,
    )
