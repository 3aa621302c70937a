"""The tune report as typed records: the `tune --json` contract of docs/design.md (plus drift,
method and the run's outcomes); tune/analysis.py builds it, the CLI renders and writes it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from servelab.records import Regimes, SlotStatus, Summary
from servelab.tune.sweep import TuneSettings


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VariantReport(_Report):
    """One swept value: its bench's decode t/s and the speedup over the pooled baseline."""

    value: Any
    label: str
    slot: str
    position: int = Field(description="1-based position in the run order.")
    bench_id: str | None
    status: SlotStatus
    error: str | None
    runs: int = Field(description="Sequential runs of the bench.")
    runs_ok: int
    all_ok: bool = Field(description="Bench complete and every run successful.")
    summary: Summary
    speedup: float | None
    speedup_ci95: list[float] | None
    acceptance_rate: float | None
    mean_acceptance_length: float | None
    estimated_tokens_per_step: float | None
    regimes: Regimes | None

    @property
    def bimodal(self) -> bool:
        return bool(self.regimes and self.regimes.bimodal)


class BaselineBench(_Report):
    """One of the two baseline benches (start or end of the tune)."""

    slot: str
    position: int
    bench_id: str | None
    status: SlotStatus
    error: str | None
    summary: Summary


class Drift(_Report):
    """mean(baseline-end) / mean(baseline-start), with its interval and the rule for 'large'."""

    ratio: float | None
    ci95: list[float] | None
    pct: float | None
    large: bool | None
    note: str
    rule: str


class BaselineReport(Summary):
    """The pooled baseline's summary (both benches), its name, benches and drift."""

    name: str
    recipe_hash: str
    benches: list[BaselineBench]
    drift: Drift


class Best(_Report):
    """The variant the objective picks, with a note when it is not a clear win."""

    value: Any
    label: str
    slot: str
    decode_tps: float | None
    speedup: float | None
    speedup_ci95: list[float] | None
    objective: str
    rule: str
    note: str | None


class Method(_Report):
    speedup: str
    drift: str
    objective: str


class TuneReport(_Report):
    """Everything a tune found: baseline, variants in sweep order, the best, and how."""

    tune_id: str | None = None
    recipe: str
    recipe_hash: str
    key: str
    values: list[Any]
    seed: int
    order: list[str] = Field(description="Slot names in run order.")
    settings: TuneSettings
    baseline: BaselineReport
    variants: list[VariantReport]
    best: Best | None
    method: Method
    notes: list[str] = Field(default_factory=list)

    def failed_slots(self) -> int:
        """Variants with a failed bench or failed runs, plus baseline benches not complete."""
        failed = [variant for variant in self.variants if not variant.all_ok]
        return len(failed) + sum(1 for b in self.baseline.benches if b.status != "complete")
