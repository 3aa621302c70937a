"""Slots as Ray tasks: each requests the GPUs (or CPUs) its recipe needs, launches the engine on
the node Ray picks, benches it into the shared database, and returns a small outcome.

A task's failure is one slot's failure (reported, not fatal); whatever a task stored stays
stored. Workers get ``NCCL_NVLS_ENABLE=0`` (NVLink multicast off on shared hosts) and the
driver's ``SERVELAB_MODELS`` (model folders at the same path on every node).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from servelab.engines import get_engine
from servelab.errors import BadInput
from servelab.recipe import Recipe
from servelab.tune.executors import OnDone
from servelab.tune.slot import Progress, SlotOutcome, run_slot
from servelab.tune.sweep import Slot, TunePlan

WORKER_ENV = {"NCCL_NVLS_ENABLE": "0"}
PASSED_THROUGH = ("SERVELAB_MODELS",)


def worker_env() -> dict[str, str]:
    """The environment every task's worker gets (runtime_env env_vars)."""
    env = dict(WORKER_ENV)
    for name in PASSED_THROUGH:
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def task_resources(recipe: Recipe) -> dict[str, float]:
    """What one slot's task asks Ray for: the engine's GPUs, else the recipe's CPU threads."""
    gpus = get_engine(recipe.engine.name).gpus_required(recipe)
    if gpus:
        return {"num_cpus": 1, "num_gpus": gpus}
    return {"num_cpus": recipe.runtime.threads or 1, "num_gpus": 0}


def unplaceable(resources: dict[str, float], nodes: list[dict[str, Any]]) -> str | None:
    """Why no live node of the cluster can ever run a task with ``resources`` (None: one can)."""
    wanted = {"CPU": resources["num_cpus"], "GPU": resources["num_gpus"]}
    for node in nodes:
        if not node.get("Alive"):
            continue
        offered = node.get("Resources") or {}
        if all(offered.get(name, 0) >= amount for name, amount in wanted.items() if amount):
            return None
    return (
        f"no node of the Ray cluster offers {wanted['CPU']:g} CPU and {wanted['GPU']:g} GPU "
        "for this slot"
    )


def slot_task(plan_data: dict[str, Any], slot_name: str, tune_id: str, db_url: str) -> dict:
    """The body of one Ray task (runs on a worker): the same path as a local slot."""
    from servelab.store import Store

    plan = TunePlan.model_validate(plan_data)
    with Store(db_url) as store:
        return run_slot(plan, plan.slot(slot_name), tune_id, store).to_json()


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BadInput(
            "{executor} ray needs Ray: pip install 'servelab[ray]' (on the driver and every node)",
            mentions=["executor"],
        ) from None
    return ray


def _short(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1].strip()[:300] if lines else ''}"


class RayExecutor:
    """Fan the slots out over a Ray cluster (``address`` None: RAY_ADDRESS, else a local one)."""

    name = "ray"
    note = (
        "slots ran as Ray tasks, concurrently where the cluster had room: the order is the "
        "submission order, and benches on different or shared nodes are matched less tightly "
        "than a local tune's"
    )

    def __init__(self, address: str | None = None):
        self.address = address

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
        ray = _import_ray()
        try:
            ray.init(
                address=self.address,
                runtime_env={"env_vars": worker_env()},
                logging_level=logging.ERROR,
                log_to_driver=False,
            )
        except Exception as exc:
            where = self.address or "(RAY_ADDRESS or a new local cluster)"
            raise BadInput(f"cannot reach the Ray cluster {where}: {_short(exc)}") from None
        try:
            return self._run(ray, plan, slots, tune_id, store.url, on_done, progress)
        finally:
            ray.shutdown()

    def _run(self, ray, plan, slots, tune_id, db_url, on_done, progress) -> list[SlotOutcome]:
        remote = ray.remote(slot_task)
        nodes = ray.nodes()
        outcomes: list[SlotOutcome] = []

        def finish(outcome: SlotOutcome) -> None:
            outcomes.append(outcome)
            if on_done:
                on_done(outcome)

        refs = {}
        plan_data = plan.model_dump(mode="json")
        for slot in slots:
            resources = task_resources(Recipe.model_validate(slot.recipe))
            reason = unplaceable(resources, nodes)
            if reason:
                finish(SlotOutcome(slot.name, None, "failed", reason))
                continue
            options = {**resources, "max_retries": 0, "name": f"servelab-tune-{slot.name}"}
            ref = remote.options(**options).remote(plan_data, slot.name, tune_id, db_url)
            refs[ref] = slot
            if progress:
                progress(
                    f"{slot.name}: submitted {slot.label} ({resources['num_cpus']:g} CPU, "
                    f"{resources['num_gpus']:g} GPU)"
                )
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    try:
                        outcome = SlotOutcome(**ray.get(ref))
                    except Exception as exc:  # the task or its worker died
                        outcome = SlotOutcome(
                            refs[ref].name, None, "failed", f"Ray task failed: {_short(exc)}"
                        )
                    finish(outcome)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return outcomes
