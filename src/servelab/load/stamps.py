"""How far each request's own timestamps can be off, from the client's loop-lag timeline.

Every stamp is taken on a client event loop. A probe wakes every ``PROBE_S``; a wake at ``w``
that is ``L`` late shows the loop was busy from about ``w − L`` to ``w``. Bytes that arrived
while it was busy were stamped when it got free, so a stamp ``s`` is late by at most

    bound(s) = PROBE_S + LATE_S + max{ L : w − L − PROBE_S ≤ s ≤ w + PROBE_S }   (0 if none)

(only wakes later than ``LATE_S``, the loop's timer granularity, are kept; a busy spell between
two punctual wakes stays unseen but is shorter than ``PROBE_S + LATE_S``).
Bytes can also wait outside the loop: when the client falls behind, they queue in the socket
and in the server's send buffer, and arrive in catch-up reads of many chunks. A read of ``k``
chunks of a stream decoding one chunk per TPOT may hold a chunk ``(k − 1) × TPOT`` old, so with
``k_max`` the most chunks one read of the request brought, ``backlog = (k_max − 1) × TPOT``.
Per request, with t_first = t_sent + TTFT and t_last = t_sent + E2EL:

    TTFT error ≤ (bound(t_first) + backlog) / TTFT
    TPOT error ≤ (bound(t_first) + bound(t_last) + 2 × backlog) / (E2EL − TTFT)
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

PROBE_S = 0.001
LATE_S = 0.001  # wakes later than this are kept (timers fire on whole milliseconds)


class Timeline:
    """One client process's late wakes, sorted, for bounding the stamps taken on its loop."""

    def __init__(self, late_wakes: Sequence[tuple[float, float]]) -> None:
        ordered = sorted(late_wakes)
        self.wakes = [wake for wake, _ in ordered]
        self.lates = [late for _, late in ordered]
        self.longest = max(self.lates, default=0.0)

    def bound(self, stamp: float) -> float:
        """The most a stamp taken at ``stamp`` can be late (s)."""
        worst = 0.0
        index = bisect.bisect_left(self.wakes, stamp - PROBE_S)
        wakes, lates = self.wakes, self.lates
        for k in range(index, len(wakes)):
            wake, late = wakes[k], lates[k]
            if wake - self.longest - PROBE_S > stamp:
                break  # no later wake reaches back to the stamp
            if wake - late - PROBE_S <= stamp:
                worst = max(worst, late)
        return PROBE_S + LATE_S + worst

    def request_bounds(
        self, t_sent: float, ttft_s: float | None, e2el_s: float | None, backlog_s: float = 0.0
    ) -> tuple[float | None, float | None]:
        """(TTFT, TPOT) relative error bounds of one request (None where it has no figure)."""
        if ttft_s is None or ttft_s <= 0:
            return None, None
        first = self.bound(t_sent + ttft_s) + backlog_s
        if e2el_s is None or e2el_s <= ttft_s:
            return first / ttft_s, None
        last = self.bound(t_sent + e2el_s) + backlog_s
        return first / ttft_s, (first + last) / (e2el_s - ttft_s)
