"""A tune's report from its benches: speedups with Fieller intervals, drift, the best variant.

- Values: each bench's sequential, successful, warm decode t/s runs (the cold first run of a
  launch is excluded, as in `bench`).
- Baseline: the runs of both baseline benches pooled (start and end of the tune).
- speedup = mean(variant) / mean(baseline); its 95 % interval is Fieller's with
  Welch–Satterthwaite degrees of freedom (report/ratio.py).
- drift = mean(baseline-end) / mean(baseline-start), with the same interval. It counts as
  large when |drift − 1| is at least half the smallest |speedup − 1| of the variants: then the
  machine moved about as much as the effects being measured.
- best (objective ``decode_tps``): the highest mean decode t/s among the variants whose bench
  completed with every run successful; ``speedup_ci_low``: the highest lower bound of the
  speedup interval among the same variants.
"""

from __future__ import annotations

from servelab import metrics
from servelab.bench.stats import summarize
from servelab.records import BenchResult, SlotStatus
from servelab.report.ratio import RatioInterval, fieller
from servelab.tune.report import (
    BaselineBench,
    BaselineReport,
    Best,
    Drift,
    Method,
    TuneReport,
    VariantReport,
)
from servelab.tune.sweep import BASELINE_END, BASELINE_START, Slot, TunePlan

SPEEDUP_METHOD = (
    f"{metrics.SPEEDUP.text} (both baseline benches pooled; {metrics.SPEEDUP.window}); "
    "95 % Fieller interval, Welch–Satterthwaite df"
)
DRIFT_RULE = "drift is large when |drift − 1| ≥ ½ · the smallest |speedup − 1| of the variants"
OBJECTIVE_RULES = {
    "decode_tps": "highest mean decode t/s among variants whose runs all succeeded",
    "speedup_ci_low": "highest lower 95 % bound of the speedup among variants whose runs all "
    "succeeded",
}


def decode_values(bench: BenchResult | None) -> list[float]:
    """The decode t/s values a bench's summary is made of (sequential, ok, valid, warm)."""
    if bench is None:
        return []
    return [run.decode_tps for run in bench.runs if run.counted()]


def _interval(baseline: list[float], candidate: list[float]) -> RatioInterval | None:
    if not baseline or not candidate or sum(baseline) == 0:
        return None
    return fieller(baseline, candidate)


def _bounds(interval: RatioInterval | None) -> list[float] | None:
    if interval is None or interval.low is None or interval.high is None:
        return None
    return [interval.low, interval.high]


def _bench_status(bench: BenchResult | None, error: str | None) -> SlotStatus:
    if bench is not None:
        return bench.status
    return "failed" if error else "missing"


def _variant(
    slot: Slot,
    position: int,
    bench: BenchResult | None,
    error: str | None,
    baseline: list[float],
) -> VariantReport:
    values = decode_values(bench)
    interval = _interval(baseline, values)
    runs = [run for run in bench.runs if run.concurrency == 1] if bench else []
    spec = bench.spec if bench else None
    status = _bench_status(bench, error)
    return VariantReport(
        value=slot.value,
        label=slot.label,
        slot=slot.name,
        position=position,
        bench_id=bench.id if bench else None,
        status=status,
        error=error,
        runs=len(runs),
        runs_ok=sum(1 for run in runs if run.ok),
        all_ok=status == "complete" and bool(runs) and all(run.ok for run in runs),
        summary=summarize(values),
        speedup=interval.ratio if interval else None,
        speedup_ci95=_bounds(interval),
        acceptance_rate=spec.acceptance_rate if spec else None,
        mean_acceptance_length=spec.mean_acceptance_length if spec else None,
        estimated_tokens_per_step=spec.estimated_tokens_per_step if spec else None,
        regimes=bench.regimes if bench else None,
    )


def _drift(start: list[float], end: list[float], variants: list[VariantReport]) -> Drift:
    interval = _interval(start, end)
    if interval is None:
        return Drift(
            ratio=None,
            ci95=None,
            pct=None,
            large=None,
            note="drift unknown: both baseline benches are needed",
            rule=DRIFT_RULE,
        )
    effects = [abs(v.speedup - 1) for v in variants if v.speedup is not None]
    drift = abs(interval.ratio - 1)
    large = bool(effects) and drift >= 0.5 * min(effects)
    note = f"baseline drift {100 * (interval.ratio - 1):+.2f} % (end vs start)"
    if large:
        note += "; large relative to the variants' effects: treat small speedups as noise"
    return Drift(
        ratio=interval.ratio,
        ci95=_bounds(interval),
        pct=100 * (interval.ratio - 1),
        large=large,
        note=note,
        rule=DRIFT_RULE,
    )


def _best_note(winner: VariantReport) -> str | None:
    ci = winner.speedup_ci95
    note = None
    if ci is not None and ci[0] <= 1 <= ci[1]:
        note = "its speedup interval includes 1: not distinguishable from the baseline"
    elif ci is not None and ci[1] < 1:
        note = "slower than the baseline (its whole speedup interval lies below 1)"
    elif ci is None and winner.speedup is not None:
        note = "no bounded interval for its speedup (too few runs or too noisy)"
    if winner.bimodal:
        note = (note + "; " if note else "") + "its runs are bimodal: the mean is not a headline"
    return note


def _best(variants: list[VariantReport], objective: str) -> Best | None:
    eligible = [v for v in variants if v.all_ok and v.summary.mean is not None]
    if objective == "speedup_ci_low":
        eligible = [v for v in eligible if v.speedup_ci95 is not None]
        score = lambda v: v.speedup_ci95[0]  # noqa: E731
    else:
        score = lambda v: v.summary.mean  # noqa: E731
    if not eligible:
        return None
    winner = max(eligible, key=score)
    return Best(
        value=winner.value,
        label=winner.label,
        slot=winner.slot,
        decode_tps=winner.summary.mean,
        speedup=winner.speedup,
        speedup_ci95=winner.speedup_ci95,
        objective=objective,
        rule=OBJECTIVE_RULES[objective],
        note=_best_note(winner),
    )


def _baseline(
    plan: TunePlan,
    benches: dict[str, BenchResult],
    errors: dict[str, str],
    variants: list[VariantReport],
) -> BaselineReport:
    start = decode_values(benches.get(BASELINE_START))
    end = decode_values(benches.get(BASELINE_END))
    parts = [
        BaselineBench(
            slot=name,
            position=1 if name == BASELINE_START else len(plan.slots),
            bench_id=benches[name].id if name in benches else None,
            status=_bench_status(benches.get(name), errors.get(name)),
            error=errors.get(name),
            summary=summarize(decode_values(benches.get(name))),
        )
        for name in (BASELINE_START, BASELINE_END)
    ]
    return BaselineReport(
        **summarize(start + end).model_dump(),
        name=plan.baseline_name,
        recipe_hash=plan.baseline_hash,
        benches=parts,
        drift=_drift(start, end, variants),
    )


def analyse(
    plan: TunePlan,
    benches: dict[str, BenchResult],
    errors: dict[str, str],
    *,
    objective: str = "decode_tps",
    tune_id: str | None = None,
) -> TuneReport:
    """The tune's report (docs/design.md contract: baseline, variants, best; plus drift and method).

    ``benches``: the complete bench of each finished slot; ``errors``: the last error of each
    slot that did not finish.
    """
    pooled = decode_values(benches.get(BASELINE_START)) + decode_values(benches.get(BASELINE_END))
    positions = {slot.name: position for position, slot in enumerate(plan.slots, start=1)}
    in_sweep_order = sorted(
        (slot for slot in plan.slots if slot.role == "variant"),
        key=lambda slot: int(slot.name.rsplit("-", 1)[-1]),
    )
    variants = [
        _variant(slot, positions[slot.name], benches.get(slot.name), errors.get(slot.name), pooled)
        for slot in in_sweep_order
    ]
    return TuneReport(
        tune_id=tune_id,
        recipe=plan.recipe_name,
        recipe_hash=plan.recipe_hash,
        key=plan.key,
        values=plan.values,
        seed=plan.seed,
        order=[slot.name for slot in plan.slots],
        settings=plan.settings,
        baseline=_baseline(plan, benches, errors, variants),
        variants=variants,
        best=_best(variants, objective),
        method=Method(
            speedup=SPEEDUP_METHOD, drift=DRIFT_RULE, objective=OBJECTIVE_RULES[objective]
        ),
    )
