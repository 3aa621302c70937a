"""The metric catalogue: every figure servelab prints, with its unit, formula and window.

Each ``Metric`` names what is computed, from what, over which window; the pure functions below
compute it. The client, the bench runner, the console, the board, the report and tune take their
formulas and printed formula text from here (``Metric.text``), never from a copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Metric:
    """One printed figure: its key, printed label, unit, formula and the window it covers."""

    key: str
    label: str
    unit: str
    formula: str
    window: str

    @property
    def text(self) -> str:
        """``label = formula``: what is printed beside the figure."""
        return f"{self.label} = {self.formula}"


def _m(key: str, label: str, unit: str, formula: str, window: str) -> Metric:
    return Metric(key, label, unit, formula, window)


OUTPUT_TOKENS = _m(
    "output_tokens",
    "output tokens",
    "tokens",
    "usage.completion_tokens (never the chunk count)",
    "one response",
)
TTFT = _m(
    "ttft_s",
    "TTFT",
    "s",
    "t_first_token − t_request_sent",
    "request sent → first chunk with non-empty content or reasoning",
)
DECODE_TPS = _m(
    "decode_tps",
    "decode t/s",
    "tokens/s",
    "(output_tokens − 1) / (t_last_chunk − t_first_token)",
    "one run: first content chunk received → last content chunk received",
)
E2E_TPS = _m(
    "e2e_tps",
    "end-to-end t/s",
    "tokens/s",
    "output_tokens / (t_last_chunk − t_request_sent)",
    "one run: request sent → last content chunk received",
)
SERVER_DECODE_TPS = _m(
    "server_decode_tps",
    "server decode t/s",
    "tokens/s",
    "server's tokens after the first / server's decode time (the engine's own record)",
    "one run, timed by the engine (per-response timings, or /metrics read around the run)",
)
AGREEMENT = _m(
    "server_agreement",
    "agreement",
    "ratio",
    "|decode t/s ÷ server decode t/s − 1|",
    "one run",
)
ACCEPTANCE_RATE = _m(
    "acceptance_rate",
    "α",
    "fraction",
    "Δaccepted / Δdrafted",
    "/metrics read just before and just after the measured runs (never cumulative)",
)
MEAN_ACCEPTANCE_LENGTH = _m(
    "mean_acceptance_length",
    "mean acceptance length",
    "tokens/step",
    "1 + Δaccepted / Δdrafts",
    "the same /metrics window as α",
)
PER_POSITION = _m(
    "per_position",
    "per-position rate",
    "fraction",
    "Δaccepted_per_pos[i] / Δdrafts",
    "the same /metrics window as α",
)
TOKENS_PER_STEP_ESTIMATE = _m(
    "estimated_tokens_per_step",
    "post's estimate",
    "tokens/step",
    "1 + α·k",
    "k = num_speculative_tokens; α as above",
)
MEAN = _m("mean", "mean", "tokens/s", "Σx / n", "the valid, warm single-stream runs of a bench")
STDEV = _m(
    "stdev", "σ", "tokens/s", "√(Σ(x − mean)² / (n − 1)) (sample)", "the runs the mean covers"
)
CI95 = _m(
    "ci95",
    "95 % CI",
    "tokens/s",
    "mean ± t(0.975, n − 1) · σ / √n (Student t)",
    "the runs the mean covers",
)
CV = _m("cv", "CV", "%", "σ / mean", "the runs the mean covers")
BOARD_TPS = _m(
    "board_tps",
    "t/s AVG",
    "tokens/s",
    "mean decode t/s",
    "the latest bench of a stack version with valid runs: its valid, warm single-stream runs",
)
AGGREGATE_TPS = _m(
    "aggregate_tps",
    "aggregate t/s",
    "tokens/s",
    "Σ output_tokens / (last chunk received − first request sent)",
    "one concurrency level: its ok streams, first request sent → last chunk of any stream",
)
PER_USER_DECODE_TPS = _m(
    "per_user_decode_tps",
    "per-user decode t/s",
    "tokens/s",
    "mean of the streams' decode t/s",
    "one concurrency level: its valid streams",
)
TTFT_PERCENTILE = _m(
    "ttft_percentile",
    "TTFT pQ",
    "s",
    "linear between closest ranks: rank = Q/100 · (n − 1)",
    "one concurrency level: its ok streams",
)
SPEEDUP = _m(
    "speedup",
    "speedup",
    "ratio",
    "mean(variant decode t/s) / mean(baseline decode t/s)",
    "each bench's valid, warm single-stream runs",
)
CHANGE = _m(
    "change",
    "change",
    "%",
    "mean_B / mean_A − 1",
    "each bench's valid, warm single-stream runs",
)
ROOFLINE_FRACTION = _m(
    "roofline_fraction",
    "of roofline",
    "fraction",
    "decode t/s ÷ roofline t/s (memory bandwidth / bytes per step × tokens per step)",
    "one run against the plan for the recipe's GPU",
)

CATALOGUE: dict[str, Metric] = {
    metric.key: metric
    for metric in (
        OUTPUT_TOKENS,
        TTFT,
        DECODE_TPS,
        E2E_TPS,
        SERVER_DECODE_TPS,
        AGREEMENT,
        ACCEPTANCE_RATE,
        MEAN_ACCEPTANCE_LENGTH,
        PER_POSITION,
        TOKENS_PER_STEP_ESTIMATE,
        MEAN,
        STDEV,
        CI95,
        CV,
        BOARD_TPS,
        AGGREGATE_TPS,
        PER_USER_DECODE_TPS,
        TTFT_PERCENTILE,
        SPEEDUP,
        CHANGE,
        ROOFLINE_FRACTION,
    )
}


# --- load levels (servelab.load): one window each, a level's first send → its last response end
LOAD_WINDOW = "one load level: first request sent → last response end"
_LOAD = (
    ("load_ttft_ms", "TTFT", "ms", "first content chunk received − request sent"),
    ("load_tpot_ms", "TPOT", "ms", "(t_last_chunk − t_first_chunk) / (output_tokens − 1)"),
    ("load_itl_ms", "ITL", "ms", "gap between successive content chunks (one read's: 0)"),
    ("load_e2el_ms", "E2EL", "ms", "last content chunk received − request sent"),
    ("load_output_tps", "output t/s", "tokens/s", "Σ output_tokens (ok) / duration"),
    ("load_request_tps", "request/s", "requests/s", "ok requests / duration"),
    ("load_duration_s", "duration", "s", "last response end − first request sent"),
    ("load_goodput_rps", "goodput", "requests/s", "ok requests meeting every SLO / duration"),
    ("load_max_in_flight", "max in flight", "requests", "most between send and end at once"),
    ("load_server_output_tps", "server t/s", "tokens/s", "Δ generated-token counter / duration"),
    (
        "load_server_decode_tps",
        "server decode t/s",
        "tokens/s",
        "(Δ generated − Δ decoded requests) / Δ decode seconds (engine counters or timings)",
    ),
    ("load_client_cpu_pct", "client CPU", "%", "Σ process CPU s / (wall s × processes) × 100"),
    ("load_send_lag_ms", "send lag", "ms", "actual − due send time (closed loop: previous end)"),
    ("load_saturation", "saturation", "tokens/s", "highest output t/s of a reliable level"),
)
LOAD_METRICS: dict[str, Metric] = {
    key: _m(key, label, unit, formula, LOAD_WINDOW) for key, label, unit, formula in _LOAD
}
CATALOGUE.update(LOAD_METRICS)

# --- per run ------------------------------------------------------------------------------------


def ttft(t_sent: float, t_first: float | None) -> float | None:
    """``TTFT``: seconds from sending the request to the first content chunk."""
    return None if t_first is None else t_first - t_sent


def decode_tps(tokens: int | None, t_first: float | None, t_last: float | None) -> float | None:
    """``DECODE_TPS``; None without two tokens or without a positive decode window."""
    if tokens is None or tokens < 2 or t_first is None or t_last is None or t_last <= t_first:
        return None
    return (tokens - 1) / (t_last - t_first)


def e2e_tps(tokens: int | None, t_sent: float, t_last: float | None) -> float | None:
    """``E2E_TPS``; None without a positive window."""
    if tokens is None or t_last is None or t_last <= t_sent:
        return None
    return tokens / (t_last - t_sent)


def server_decode_tps(tokens: float | None, seconds: float | None) -> float | None:
    """``SERVER_DECODE_TPS``: the engine's tokens after the first over its decode time."""
    if tokens is None or seconds is None or tokens < 1 or seconds <= 0:
        return None
    return tokens / seconds


def server_decode_window(
    tokens: float, requests: float, seconds: float
) -> tuple[float, float] | None:
    """A /metrics window's (tokens after the first, decode seconds): Δgenerated − Δrequests
    tokens (each request's first token precedes its decode time) over Δdecode-time sum."""
    if requests <= 0 or seconds <= 0:
        return None
    return tokens - requests, seconds


def disagreement(client_tps: float | None, server_tps: float | None) -> float | None:
    """``AGREEMENT``: |client / server − 1|; None when either figure is missing."""
    if client_tps is None or not server_tps:
        return None
    return abs(client_tps / server_tps - 1)


# --- speculative decoding -----------------------------------------------------------------------


def acceptance_rate(accepted: float, drafted: float) -> float | None:
    """``ACCEPTANCE_RATE``: α = Δaccepted / Δdrafted (None when nothing was drafted)."""
    return accepted / drafted if drafted > 0 else None


def mean_acceptance_length(accepted: float, drafts: float) -> float | None:
    """``MEAN_ACCEPTANCE_LENGTH`` = 1 + Δaccepted / Δdrafts."""
    return 1 + accepted / drafts if drafts > 0 else None


def per_position_rates(accepted_per_pos: Sequence[float], drafts: float) -> list[float]:
    """``PER_POSITION``: Δaccepted_per_pos[i] / Δdrafts for each position."""
    return [value / drafts for value in accepted_per_pos] if drafts > 0 else []


def tokens_per_step_estimate(alpha: float | None, k: int | None) -> float | None:
    """``TOKENS_PER_STEP_ESTIMATE``: the post's 1 + α·k."""
    return 1 + alpha * k if alpha is not None and k else None


# --- concurrent streams -------------------------------------------------------------------------


class TimedRun(Protocol):
    """What aggregate t/s needs of a run (RunRecord has these)."""

    ok: bool
    output_tokens: int | None
    started_at: float | None
    duration_s: float | None


def aggregate_tps(runs: Iterable[TimedRun]) -> float | None:
    """``AGGREGATE_TPS`` over the ok runs: Σ tokens / (last chunk received − first request sent).

    ``started_at`` is when a run's request was sent, ``duration_s`` how long until its last chunk.
    """
    done = [run for run in runs if run.ok and run.started_at is not None]
    if not done:
        return None
    first = min(run.started_at for run in done)
    last = max(run.started_at + (run.duration_s or 0.0) for run in done)
    tokens = sum(run.output_tokens or 0 for run in done)
    return tokens / (last - first) if last > first else None


def mean(values: Sequence[float]) -> float | None:
    """``MEAN`` (None for no values)."""
    return sum(values) / len(values) if values else None


def relative_error(measured: float, truth: float) -> float:
    """(measured − truth) / truth."""
    return (measured - truth) / truth
