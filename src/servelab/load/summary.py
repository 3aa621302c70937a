"""A level's figures from its processes' outcomes (definitions in servelab.load.formulas)."""

from __future__ import annotations

import statistics

from servelab.load import honesty
from servelab.load.figure_bounds import StampBounds
from servelab.load.histo import Latency
from servelab.load.records import ClientFigures, Distribution, LoadLevel
from servelab.load.schedule import achieved_rate, interarrival_cv
from servelab.load.stamps import RESOLUTION_S
from servelab.load.worker import Outcome, ShareResult


def max_in_flight(outcomes: list[Outcome]) -> int:
    """Most requests between their send and their end at any moment (a sweep over events)."""
    events = [(o.t_sent, 1) for o in outcomes] + [(o.t_end, -1) for o in outcomes]
    events.sort(key=lambda event: (event[0], event[1]))  # an end before a send at the same time
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def _distribution(latency: Latency) -> Distribution | None:
    summary = latency.summary()
    return Distribution(**summary) if summary else None


def _latencies(ok: list[Outcome], results: list[ShareResult]) -> dict[str, Latency]:
    hists = {key: Latency() for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms")}
    for outcome in ok:
        for key, value in (
            ("ttft_ms", outcome.ttft_s),
            ("tpot_ms", outcome.tpot_s),
            ("e2el_ms", outcome.e2el_s),
        ):
            if value is not None:
                hists[key].record(value)
    for result in results:
        for micros, count in result.itl_us.items():
            hists["itl_ms"].hist.record_value(max(1, micros), count)
    return hists


def _counts_ms(counts: dict[int, int], percent: float) -> float | None:
    latency = Latency()
    for micros, count in counts.items():
        latency.hist.record_value(max(1, micros), count)
    return latency.percentile_ms(percent)


def meets(outcome: Outcome, slo: dict[str, float]) -> bool:
    """Whether an ok request meets every SLO (ms) it is judged against."""
    values = {"ttft_ms": outcome.ttft_s, "tpot_ms": outcome.tpot_s, "e2el_ms": outcome.e2el_s}
    return all(values[key] is not None and 1e3 * values[key] <= limit for key, limit in slo.items())


def client_figures(
    outcomes: list[Outcome], results: list[ShareResult], scheduled: bool
) -> ClientFigures:
    lags: dict[int, int] = {}
    for outcome in outcomes:
        if outcome.t_due is not None:
            micros = max(0, round((outcome.t_sent - outcome.t_due) * 1e6))
            lags[micros] = lags.get(micros, 0) + 1
    loop: dict[int, int] = {}
    for result in results:
        for micros, count in result.loop_lag_us.items():
            loop[micros] = loop.get(micros, 0) + count
    busy = [100 * r.cpu_s / r.wall_s for r in results if r.wall_s > 0] or [0.0]
    sends = [outcome.t_sent for outcome in outcomes]
    bounds = StampBounds(results)
    return ClientFigures(
        processes=len(results),
        cpu_pct=sum(busy) / len(busy),
        cpu_pct_max=max(busy),
        send_lag_ms={"p50": _counts_ms(lags, 50), "p99": _counts_ms(lags, 99)},
        loop_lag_ms={"p50": _counts_ms(loop, 50), "p99": _counts_ms(loop, 99)},
        stamp_error_pct=bounds.worst_request(),
        figure_error_pct=bounds.figures(late_only=False),
        figure_late_pct=bounds.figures(late_only=True),
        stamp_resolution_ms=1e3 * RESOLUTION_S,
        achieved_rate=achieved_rate(sends) if scheduled else None,
        interarrival_cv=interarrival_cv(sends) if scheduled else None,
    )


def summarize(
    base: LoadLevel, results: list[ShareResult], slo: dict[str, float] | None
) -> tuple[LoadLevel, list[Outcome]]:
    """``base`` (mode, concurrency, rate) filled in with the figures of ``results``."""
    outcomes = [outcome for result in results for outcome in result.outcomes]
    ok = [outcome for outcome in outcomes if outcome.ok]
    duration = max(o.t_end for o in outcomes) - min(o.t_sent for o in outcomes) if outcomes else 0.0
    hists = _latencies(ok, results)
    level = base.model_copy(
        update={
            "requests": len(outcomes),
            "ok": len(ok),
            "duration_s": duration,
            "output_tps": sum(o.output_tokens or 0 for o in ok) / duration if duration else None,
            "request_tps": len(ok) / duration if duration else None,
            "max_in_flight": max_in_flight(outcomes),
            **{key: _distribution(latency) for key, latency in hists.items()},
            "goodput_rps": (
                sum(meets(o, slo) for o in ok) / duration if slo is not None and duration else None
            ),
            "client": client_figures(outcomes, results, base.mode != "concurrency"),
            "errors": sorted({o.error for o in outcomes if o.error})[:5],
            "histograms": {key: latency.encode() for key, latency in hists.items()},
        }
    )
    level.unreliable = _verdict(level, ok)
    return level, outcomes


def _verdict(level: LoadLevel, ok: list[Outcome]) -> str | None:
    spans = [1e3 * (o.e2el_s - o.ttft_s) for o in ok if o.e2el_s is not None and o.ttft_s]
    client = level.client
    return honesty.verdict(
        client.cpu_pct_max,
        client.loop_lag_ms["p99"],
        client.send_lag_ms["p99"],
        statistics.median(spans) if spans else None,
        level.ttft_ms.p50 if level.ttft_ms else None,
        client.figure_late_pct,
    )
