"""When the client's own figures for a level cannot be trusted, and why (one line).

Every timestamp is taken on a client event loop; when that loop wakes late, so are the stamps.
The bounds below are what a stamp late by the loop's p99 lag would do to the reported figures:

- CPU: a client process busy ≥ ``CPU_BOUND_PCT`` % of the level's wall time is saturated.
- TPOT: every request's TPOT error bound (load/stamps.py: how late its first and last token can
  have been stamped, from the loop's late wakes around them) must stay within ``TPOT_BOUND``
  (1 %): the client marks the level before it reports a figure that can be that wrong.
- TTFT: likewise every request's TTFT error bound within ``TTFT_BOUND`` (5 %).
  (Without per-request bounds, the p99 loop lag stands in: two stamps late by it within 1 % of
  the median decode time, one within 5 % of the median TTFT.)
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
    stamp_error_pct: dict[str, float | None] | None = None,
) -> str | None:
    """None when the level is reliable, else every reason, joined by '; '."""
    reasons = []
    if cpu_pct_max >= CPU_BOUND_PCT:
        reasons.append(f"client CPU pegged ({cpu_pct_max:.0f} % ≥ {CPU_BOUND_PCT:.0f} %)")
    if stamp_error_pct is not None:
        reasons += _stamp_reasons(stamp_error_pct)
    else:
        reasons += _lag_reasons(loop_lag_p99_ms or 0.0, decode_span_p50_ms, ttft_p50_ms)
    if send_lag_p99_ms is not None and send_lag_p99_ms > SEND_LAG_BOUND_MS:
        reasons.append(
            f"sends late by {send_lag_p99_ms:.1f} ms (p99) > {SEND_LAG_BOUND_MS:g} ms: "
            "the offered load is not the one asked for"
        )
    return "; ".join(reasons) or None


def _stamp_reasons(errors: dict[str, float | None]) -> list[str]:
    reasons = []
    for key, bound in (("tpot", TPOT_BOUND), ("ttft", TTFT_BOUND)):
        value = errors.get(key)
        if value is not None and value > 100 * bound:
            reasons.append(
                f"{key.upper()} may be off by up to {value:.2f} % for some request (the client's "
                f"loop was late around its stamps) > {100 * bound:g} %"
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
