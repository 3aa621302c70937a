"""When the client's own figures for a level cannot be trusted, and why (one line).

Every timestamp is taken on a client event loop; when that loop wakes late, so are the stamps.

- CPU: a client process busy ≥ ``CPU_BOUND_PCT`` % of the level's wall time is saturated.
- TPOT: every reported TPOT figure (mean, p50, p90, p95, p99) must be within ``TPOT_BOUND``
  (1 %) of what the requests' stamps allow (load/figure_bounds.py, from each request's bound in
  load/stamps.py: how late its first and last token were seen to be stamped): the client marks
  the level before it reports a figure that can be that wrong.
- TTFT: likewise every reported TTFT figure within ``TTFT_BOUND`` (5 %).
  The stamp resolution (a busy spell shorter than the probe can see) is printed with the bounds
  but marks nothing: an idle client has it too. (Levels stored without bounds fall back on the
  p99 loop lag: two stamps late by it within 1 % of the median decode time, one within 5 % of
  the median TTFT.)
- Sends: the p99 of (actual − due send time) must stay under ``SEND_LAG_BOUND_MS``; the closed
  loop's first wave, which starts all at once by design, is not counted.
"""

from __future__ import annotations

from servelab.load.figure_bounds import worst

CPU_BOUND_PCT = 90.0
TPOT_BOUND = 0.01
TTFT_BOUND = 0.05
SEND_LAG_BOUND_MS = 10.0


def verdict(
    cpu_pct_max: float,
    loop_lag_p99_ms: float | None,
    send_lag_p99_ms: float | None,
    decode_span_p50_ms: float | None,
    ttft_p50_ms: float | None,
    figure_late_pct: dict[str, dict[str, float | None]] | None = None,
) -> str | None:
    """None when the level is reliable, else every reason, joined by '; '."""
    reasons = []
    if cpu_pct_max >= CPU_BOUND_PCT:
        reasons.append(f"client CPU pegged ({cpu_pct_max:.0f} % ≥ {CPU_BOUND_PCT:.0f} %)")
    if figure_late_pct is not None:
        reasons += _stamp_reasons(figure_late_pct)
    else:
        reasons += _lag_reasons(loop_lag_p99_ms or 0.0, decode_span_p50_ms, ttft_p50_ms)
    if send_lag_p99_ms is not None and send_lag_p99_ms > SEND_LAG_BOUND_MS:
        reasons.append(
            f"sends late by {send_lag_p99_ms:.1f} ms (p99) > {SEND_LAG_BOUND_MS:g} ms: "
            "the offered load is not the one asked for"
        )
    return "; ".join(reasons) or None


def _stamp_reasons(errors: dict[str, dict[str, float | None]]) -> list[str]:
    reasons = []
    for key, bound in (("tpot_ms", TPOT_BOUND), ("ttft_ms", TTFT_BOUND)):
        widest = worst(errors.get(key) or {})
        if widest is not None and widest[1] > 100 * bound:
            name = key.removesuffix("_ms").upper()
            reasons.append(
                f"{name} {widest[0]} may be off by up to {widest[1]:.2f} % (the client's loop was "
                f"late around its stamps) > {100 * bound:g} %"
            )
    return reasons


def _lag_reasons(lag: float, decode_span_p50_ms: float | None, ttft_p50_ms: float | None):
    reasons = []
    if decode_span_p50_ms and 2 * lag > TPOT_BOUND * decode_span_p50_ms:
        reasons.append(
            f"event loop late by {lag:.2f} ms (p99): 2 × lag > {100 * TPOT_BOUND:g} % of the "
            f"median decode time {decode_span_p50_ms:.1f} ms, TPOT may be off by more"
        )
    if ttft_p50_ms and lag > TTFT_BOUND * ttft_p50_ms:
        reasons.append(
            f"event loop late by {lag:.2f} ms (p99) > {100 * TTFT_BOUND:g} % of median TTFT "
            f"{ttft_p50_ms:.1f} ms"
        )
    return reasons
