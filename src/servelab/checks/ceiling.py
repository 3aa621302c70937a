"""Context ceiling: the largest max_model_len with which the recipe's server starts.

First the recipe's own length; when the engine's diagnosis estimates a length that fits
(vLLM's KV-cache message) that estimate is tried next; otherwise the length is halved until
the server starts, then refined by bisection between the last failure and the first success.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from servelab.engines.base import (
    INVALID_ARGUMENT,
    KV_DTYPE_UNSUPPORTED,
    KV_TOO_SMALL,
    MODEL_NOT_FOUND,
    PORT_IN_USE,
)
from servelab.errors import EngineFailed
from servelab.recipe import Recipe
from servelab.records import CheckResult

FLOOR = 256
GRANULE = 256
REFINE_STEPS = 4
# Failures that say nothing about the context length: stepping down would not help.
_NOT_CONTEXT = (INVALID_ARGUMENT, KV_DTYPE_UNSUPPORTED, MODEL_NOT_FOUND, PORT_IN_USE)

Starter = Callable[[Recipe], None]


def start_and_stop(recipe: Recipe) -> None:
    """Start the recipe's server, wait until ready, stop it; raises EngineFailed."""
    from servelab.launch import launch

    with launch(recipe):
        pass


class _Prober:
    """Tries lengths and remembers every attempt as evidence."""

    def __init__(self, recipe: Recipe, starter: Starter, progress: Callable[[str], None] | None):
        self.recipe = recipe
        self.starter = starter
        self.progress = progress
        self.attempts: list[dict[str, Any]] = []
        self.fatal: str | None = None

    def starts(self, length: int) -> tuple[bool, Any]:
        if self.progress:
            self.progress(f"ceiling: trying max_model_len {length}")
        try:
            self.starter(self.recipe.with_value("context.max_model_len", length))
        except EngineFailed as exc:
            diagnosis = exc.diagnosis
            kind = getattr(diagnosis, "kind", None)
            self.attempts.append(
                {"max_model_len": length, "started": False, "kind": kind, "message": str(exc)}
            )
            if kind in _NOT_CONTEXT or diagnosis is None:
                self.fatal = str(exc)
            return False, diagnosis
        self.attempts.append({"max_model_len": length, "started": True})
        return True, None


def _step_down(prober: _Prober, failed: int) -> int | None:
    """Halve from a failing length to the first that starts, then bisect; None if none does."""
    length = failed // 2
    while length >= FLOOR:
        ok, _ = prober.starts(length)
        if prober.fatal:
            return None
        if ok:
            break
        failed, length = length, length // 2
    else:
        return None
    good = length
    for _ in range(REFINE_STEPS):
        if failed - good <= GRANULE:
            break
        middle = (good + failed) // 2 // GRANULE * GRANULE
        if middle <= good:
            break
        ok, _ = prober.starts(middle)
        if prober.fatal:
            break
        good, failed = (middle, failed) if ok else (good, middle)
    return good


def find_ceiling(
    recipe: Recipe,
    requested: int | None = None,
    *,
    starter: Starter = start_and_stop,
    progress: Callable[[str], None] | None = None,
) -> CheckResult:
    """Report the largest max_model_len that starts; passes when the requested one does."""
    requested = requested or recipe.context.max_model_len
    if requested is None:
        return CheckResult(
            name="ceiling",
            passed=False,
            detail="no length to test: set context.max_model_len or --context-len",
        )
    prober = _Prober(recipe, starter, progress)
    ok, diagnosis = prober.starts(requested)
    if ok:
        return CheckResult(
            name="ceiling",
            passed=True,
            evidence=prober.attempts,
            detail=f"max_model_len {requested} starts (the requested length)",
        )
    if prober.fatal:
        return CheckResult(
            name="ceiling",
            passed=False,
            evidence=prober.attempts,
            detail=f"the server failed for a reason other than its context: {prober.fatal}",
        )
    best: int | None = None
    how = "stepped down"
    estimate = getattr(diagnosis, "max_model_len_fit", None)
    if getattr(diagnosis, "kind", None) == KV_TOO_SMALL and estimate and estimate < requested:
        ok, _ = prober.starts(estimate)
        if ok:
            best, how = estimate, "the engine's estimate, confirmed by a start"
        elif not prober.fatal:
            best = _step_down(prober, estimate)
    else:
        best = _step_down(prober, requested)
    if best is None:
        reason = prober.fatal or f"nothing from {requested} down to {FLOOR} started"
        return CheckResult(
            name="ceiling",
            passed=False,
            evidence=prober.attempts,
            detail=f"max_model_len {requested} does not start; {reason}",
        )
    return CheckResult(
        name="ceiling",
        passed=False,
        evidence=prober.attempts,
        detail=f"max_model_len {requested} does not start ({prober.attempts[0]['message']}); "
        f"largest that starts: {best} ({how}, {len(prober.attempts)} launches)",
    )
