"""Running a tune: store its plan, run the slots not yet finished, report from the database.

A slot is finished when a bench it wrote is stored complete; ``resume`` runs only the others
(same recipe, baseline, sweep and bench settings, checked through the plan's fingerprint).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from servelab.errors import BadInput, RunFailed
from servelab.records import BenchResult, TuneRecord, TuneStatus
from servelab.store.store import new_id
from servelab.tune.analysis import analyse
from servelab.tune.executors import Executor, OnDone
from servelab.tune.report import TuneReport
from servelab.tune.slot import Progress, SlotOutcome
from servelab.tune.sweep import Slot, TunePlan, value_text

LAST = "last"


class TuneInterrupted(RunFailed):
    """Ctrl-C during a tune: finished slots are stored, the tune can be resumed."""

    exit_code = 130


@dataclass
class TuneRun:
    """One invocation of a tune: what it ran, what it found already done, and the report."""

    tune_id: str
    plan: TunePlan
    report: TuneReport
    status: TuneStatus
    outcomes: list[SlotOutcome] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[SlotOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status != "complete"]


def _differences(stored: TunePlan, asked: TunePlan) -> list[str]:
    pairs = {
        "recipe": (stored.recipe_hash, asked.recipe_hash),
        "baseline": (stored.baseline_hash, asked.baseline_hash),
        "sweep key": (stored.key, asked.key),
        "sweep values": (
            ",".join(map(value_text, stored.values)),
            ",".join(map(value_text, asked.values)),
        ),
        "runs": (stored.settings.runs, asked.settings.runs),
        "tokens": (stored.settings.tokens, asked.settings.tokens),
        "workload": (stored.settings.workload, asked.settings.workload),
    }
    return [f"{name} {old} ≠ {new}" for name, (old, new) in pairs.items() if old != new]


def open_tune(store, plan: TunePlan, resume: str | None) -> tuple[str, TunePlan]:
    """A new tune for ``plan``, or the stored one ``resume`` names (``last``: the newest
    unfinished tune with the same fingerprint); a resumed tune keeps its stored order."""
    if resume is None:
        record = TuneRecord(
            id=new_id(),
            created_at=time.time(),
            recipe_hash=plan.recipe_hash,
            fingerprint=plan.fingerprint,
            key=plan.key,
            plan=plan.model_dump(mode="json"),
        )
        return store.begin_tune(record), plan
    if resume == LAST:
        candidates = [t for t in store.tunes(plan.fingerprint) if t.status != "complete"]
        if not candidates:
            raise BadInput(
                f"no unfinished tune of {plan.recipe_name} with this sweep and settings in the "
                "database; run without {resume}",
                field="resume",
                mentions=["resume"],
            )
        record = candidates[-1]
    else:
        record = store.tune(resume)
    stored = TunePlan.model_validate(record.plan)
    differences = _differences(stored, plan)
    if differences:
        raise BadInput(
            f"not the same tune ({'; '.join(differences)})", field="resume", value=record.id
        )
    return record.id, stored


def finished_benches(store, tune_id: str) -> dict[str, str]:
    """slot → bench id of its (latest) complete bench."""
    return {
        attempt.slot: attempt.bench_id
        for attempt in store.tune_attempts(tune_id)
        if attempt.bench_id and attempt.bench_status == "complete"
    }


def last_errors(store, tune_id: str) -> dict[str, str]:
    """slot → the error of its latest failed attempt."""
    errors: dict[str, str] = {}
    for attempt in store.tune_attempts(tune_id):
        if attempt.error:
            errors[attempt.slot] = attempt.error
        elif attempt.bench_status == "complete":
            errors.pop(attempt.slot, None)
    return errors


def pending_slots(plan: TunePlan, finished: dict[str, str]) -> list[Slot]:
    return [slot for slot in plan.slots if slot.name not in finished]


def report(
    store, tune_id: str, plan: TunePlan, objective: str, outcomes: Sequence[SlotOutcome] = ()
) -> TuneReport:
    """The analysis of everything stored for the tune (plus this run's task failures)."""
    finished = finished_benches(store, tune_id)
    benches: dict[str, BenchResult] = {slot: store.bench(bid) for slot, bid in finished.items()}
    errors = last_errors(store, tune_id)
    for outcome in outcomes:
        if outcome.error and outcome.slot not in finished:
            errors[outcome.slot] = outcome.error
    return analyse(plan, benches, errors, objective=objective, tune_id=tune_id)


def run_tune(
    store,
    plan: TunePlan,
    executor: Executor,
    *,
    resume: str | None = None,
    objective: str = "decode_tps",
    on_done: OnDone | None = None,
    progress: Progress | None = None,
) -> TuneRun:
    """Run (or continue) a tune; Ctrl-C marks it interrupted, keeps every finished bench, and
    raises TuneInterrupted."""
    tune_id, plan = open_tune(store, plan, resume)
    finished = finished_benches(store, tune_id)
    slots = pending_slots(plan, finished)
    store.finish_tune(tune_id, "running", finished=False)
    try:
        outcomes = (
            executor.run(plan, slots, tune_id, store, on_done=on_done, progress=progress)
            if slots
            else []
        )
    except KeyboardInterrupt:
        store.finish_tune(tune_id, "interrupted")
        kept = len(finished_benches(store, tune_id))
        raise TuneInterrupted(
            f"interrupted: tune {tune_id} keeps its {kept} finished of {len(plan.slots)} "
            f"slots; rerun the same command with {{resume}} {tune_id}",
            mentions=["resume"],
        ) from None
    except BaseException:
        store.finish_tune(tune_id, "incomplete")
        raise
    done = finished_benches(store, tune_id)
    status = "complete" if all(slot.name in done for slot in plan.slots) else "incomplete"
    store.finish_tune(tune_id, status)
    data = report(store, tune_id, plan, objective, outcomes)
    data.notes = [executor.note] if executor.note else []
    return TuneRun(
        tune_id=tune_id,
        plan=plan,
        report=data,
        status=status,
        outcomes=outcomes,
        reused=[slot.name for slot in plan.slots if slot.name in finished],
    )
