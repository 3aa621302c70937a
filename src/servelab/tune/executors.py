"""Where a tune's slots run: one after another here (``local``), or as Ray tasks (``ray``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from servelab.bench.runner import RunHook
from servelab.errors import BadInput
from servelab.tune.slot import Progress, SlotOutcome, run_slot
from servelab.tune.sweep import Slot, TunePlan

OnDone = Callable[[SlotOutcome], None]
EXECUTORS = ("local", "ray")


class Executor(Protocol):
    name: str
    note: str | None  # what the report should say about how the slots ran

    def run(
        self,
        plan: TunePlan,
        slots: list[Slot],
        tune_id: str,
        store,
        *,
        on_done: OnDone | None = None,
        progress: Progress | None = None,
    ) -> list[SlotOutcome]:
        """Run ``slots`` (in order where the executor has an order); store every bench."""
        ...


class LocalExecutor:
    """Each slot in turn on this machine, in the plan's (randomised) order."""

    name = "local"
    note = None

    def __init__(self, on_run: RunHook | None = None):
        self.on_run = on_run

    def run(
        self,
        plan: TunePlan,
        slots: list[Slot],
        tune_id: str,
        store,
        *,
        on_done: OnDone | None = None,
        progress: Progress | None = None,
    ) -> list[SlotOutcome]:
        outcomes = []
        for slot in slots:
            outcome = run_slot(plan, slot, tune_id, store, progress=progress, on_run=self.on_run)
            outcomes.append(outcome)
            if on_done:
                on_done(outcome)
        return outcomes


def make_executor(name: str, *, ray_address: str | None = None, on_run: RunHook | None = None):
    """``local`` or ``ray`` (the latter needs the optional extra: pip install servelab[ray])."""
    if name == "local":
        if ray_address:
            raise BadInput(
                "{ray_address} needs {executor} ray", mentions=["ray_address", "executor"]
            )
        return LocalExecutor(on_run=on_run)
    if name == "ray":
        from servelab.tune.ray_executor import RayExecutor

        return RayExecutor(address=ray_address)
    raise BadInput(f"expected one of {', '.join(EXECUTORS)}", field="executor", value=repr(name))
