"""One slot of a tune: launch its recipe, bench it, store the bench linked to the tune."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from servelab.bench.runner import Bench, BenchOptions, RunHook, target_for_recipe
from servelab.endpoint import resolve_api_key
from servelab.launch import launch
from servelab.recipe import Recipe
from servelab.records import SlotStatus
from servelab.store.store import new_id
from servelab.tune.sweep import Slot, TunePlan
from servelab.workloads import get_workload

Progress = Callable[[str], None]


@dataclass
class SlotOutcome:
    """What became of one slot: its bench (if begun) and its status."""

    slot: str
    bench_id: str | None
    status: SlotStatus  # complete, failed or interrupted
    error: str | None = None
    host: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def bench_options(plan: TunePlan, recipe: Recipe) -> BenchOptions:
    settings = plan.settings
    return BenchOptions(
        runs=settings.runs,
        tokens=settings.tokens,
        timeout_s=settings.timeout_s,
        api_key=resolve_api_key(None, recipe),
    )


def run_slot(
    plan: TunePlan,
    slot: Slot,
    tune_id: str,
    store,
    *,
    progress: Progress | None = None,
    on_run: RunHook | None = None,
) -> SlotOutcome:
    """Launch, bench, stop. A failure is returned (and stored), never raised; Ctrl-C is raised
    after the interrupted bench and the attempt are stored."""

    host = socket.gethostname()
    recipe = Recipe.model_validate(slot.recipe)
    bench_id = new_id()
    attempt = store.add_tune_attempt(tune_id, slot.name, bench_id, host)
    try:
        workload = get_workload(plan.settings.workload)
        if progress:
            progress(f"{slot.name}: starting {slot.label} …")
        with launch(recipe, name=f"tune-{tune_id}-{slot.name}") as endpoint:
            target = replace(target_for_recipe(recipe, endpoint), stack=slot.stack)
            bench = Bench(target, workload, bench_options(plan, recipe), store, on_run=on_run)
            bench.result.id = bench_id
            result = bench.run()
    except KeyboardInterrupt:
        store.fail_tune_attempt(attempt, "interrupted")
        raise
    except Exception as exc:  # one slot's failure is reported, the tune goes on
        message = str(exc) if str(exc) else type(exc).__name__
        store.fail_tune_attempt(attempt, message)
        return SlotOutcome(slot.name, bench_id, "failed", message, host)
    return SlotOutcome(slot.name, bench_id, result.status, None, host)
