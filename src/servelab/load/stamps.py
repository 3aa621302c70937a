"""How far each request's own timestamps can be off, from the client's loop-lag timeline.

Every stamp is taken on a client event loop. A probe wakes every ``PROBE_S``; a wake at ``w``
that is ``L`` late shows the loop was busy (or not scheduled) since about ``w − L − PROBE_S``,
the probe's previous, punctual wake. Late wakes whose spans ``[w − L − PROBE_S, w +
RESOLUTION_S]`` touch merge into busy periods: one long callback, or consecutive long loop
iterations (bytes that arrive during one iteration are read in the next). Outside a busy period
the loop reads bytes within ``RESOLUTION_S`` of their arrival; inside one that began at ``a``,
bytes that arrived after ``a`` were stamped at ``s``, so

    bound(s) = RESOLUTION_S + (s − a   if s lies in the busy period [a, b], else 0)

(only wakes later than ``LATE_S``, the loop's timer granularity, are kept; a busy spell between
two punctual wakes stays unseen but is shorter than ``RESOLUTION_S = PROBE_S + LATE_S``).
Bytes can also wait outside the loop: when the client falls behind, they queue in the socket
and in the server's send buffer, and arrive in catch-up reads of many chunks. A read of ``k``
chunks of a stream decoding one chunk per TPOT may hold a chunk ``(k − 1) × TPOT`` old, so with
``k_max`` the most chunks one read of the request brought, ``backlog = (k_max − 1) × TPOT``.
Per request, with t_first = t_sent + TTFT and t_last = t_sent + E2EL:

    TTFT error ≤ (bound(t_first) + backlog) / TTFT
    TPOT error ≤ (bound(t_first) + bound(t_last) + 2 × backlog) / (E2EL − TTFT)

Where the kernel stamps reads with the time their bytes reached the socket
(servelab.stamped_socket), a ``Stamp`` also knows how long after it the loop took the read
(``held``) and how long before it the bytes may have arrived (``window``: the previous read of
the connection, or the request's send, came before them). The loop's lateness at the read, less
what the bytes had already waited, bounds it, and so does the window:

    late(stamp) ≤ min(window, max(0, bound(read) + backlog − held))
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import NamedTuple

PROBE_S = 0.001
LATE_S = 0.001  # wakes later than this are kept (timers fire on whole milliseconds)
RESOLUTION_S = PROBE_S + LATE_S  # a busy spell the probe cannot see is shorter than this


class Stamp(NamedTuple):
    """One token's timestamp, with what the transport knows of it (module docstring)."""

    at: float
    held: float = 0.0  # the loop took the read this long after ``at``
    window: float | None = None  # the bytes reached the socket at most this long before ``at``


def stamps(
    t_sent: float, ttft_s: float, e2el_s: float | None, slack: tuple | None
) -> tuple[Stamp, Stamp | None]:
    """A request's first and last token stamps (``slack``: RunRecord.stamp_slack)."""
    held_first, window_first, held_last, window_last = slack or (0.0, None, 0.0, None)
    first = Stamp(t_sent + ttft_s, held_first, window_first)
    last = None if e2el_s is None else Stamp(t_sent + e2el_s, held_last, window_last)
    return first, last


class Timeline:
    """One client process's busy periods (merged late wakes), for bounding the stamps taken on
    its loop."""

    def __init__(self, late_wakes: Sequence[tuple[float, float]]) -> None:
        spans = sorted((wake - late - PROBE_S, wake + RESOLUTION_S) for wake, late in late_wakes)
        self.starts: list[float] = []
        self.ends: list[float] = []
        for start, end in spans:
            if self.ends and start <= self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], end)
            else:
                self.starts.append(start)
                self.ends.append(end)

    def bound(self, stamp: float) -> float:
        """The most a stamp taken at ``stamp`` can be late (s)."""
        return RESOLUTION_S + self.late(stamp)

    def late(self, stamp: float) -> float:
        """How long the loop had been busy when it took ``stamp`` (s; the bound less the
        resolution)."""
        index = bisect.bisect_right(self.starts, stamp) - 1
        if index >= 0 and stamp <= self.ends[index]:
            return stamp - self.starts[index]
        return 0.0

    def late_by(self, stamp: Stamp, backlog_s: float = 0.0, resolution_s: float = 0.0) -> float:
        """The most ``stamp`` can be late (s): what the loop was seen to be late by at the read,
        plus ``backlog_s`` and ``resolution_s``, less what the bytes had waited, and at most
        its window."""
        seen = self.late(stamp.at + stamp.held) + backlog_s + resolution_s - stamp.held
        seen = max(0.0, seen)
        return seen if stamp.window is None else min(stamp.window, seen)

    def request_bounds(
        self,
        t_sent: float,
        ttft_s: float | None,
        e2el_s: float | None,
        backlog_s: float = 0.0,
        slack: tuple | None = None,
    ) -> tuple[float | None, float | None]:
        """(TTFT, TPOT) relative error bounds of one request (None where it has no figure)."""
        if ttft_s is None or ttft_s <= 0:
            return None, None
        first_stamp, last_stamp = stamps(t_sent, ttft_s, e2el_s, slack)
        first = self.late_by(first_stamp, backlog_s, RESOLUTION_S)
        if last_stamp is None or e2el_s is None or e2el_s <= ttft_s:
            return first / ttft_s, None
        last = self.late_by(last_stamp, backlog_s, RESOLUTION_S)
        return first / ttft_s, (first + last) / (e2el_s - ttft_s)
