"""When the client's own figures for a level cannot be trusted, and why (one line).

Every timestamp is taken on a client event loop; when that loop wakes late, so are the stamps.
The bounds below are what a stamp late by the loop's p99 lag would do to the reported figures:

- CPU: a client process busy ≥ ``CPU_BOUND_PCT`` % of the level's wall time is saturated.
- TPOT: two stamps (first and last token) late by the p99 loop lag must stay within
  ``TPOT_BOUND`` (1 %) of the median request's decode time (e2el − ttft).
- TTFT: one stamp late by the p99 loop lag must stay within ``TTFT_BOUND`` (5 %) of median TTFT.
- Sends: the p99 of (actual − due send time) must stay under ``SEND_LAG_BOUND_MS``; the closed
  loop's first wave, which starts all at once by design, is not counted.
"""

from __future__ import annotations

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
) -> str | None:
    """None when the level is reliable, else every reason, joined by '; '."""
    reasons = []
    if cpu_pct_max >= CPU_BOUND_PCT:
        reasons.append(f"client CPU pegged ({cpu_pct_max:.0f} % ≥ {CPU_BOUND_PCT:.0f} %)")
    lag = loop_lag_p99_ms or 0.0
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
    if send_lag_p99_ms is not None and send_lag_p99_ms > SEND_LAG_BOUND_MS:
        reasons.append(
            f"sends late by {send_lag_p99_ms:.1f} ms (p99) > {SEND_LAG_BOUND_MS:g} ms: "
            "the offered load is not the one asked for"
        )
    return "; ".join(reasons) or None
