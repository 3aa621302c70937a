"""Per-request bounds on how late the client stamped a request's first and last token."""

from __future__ import annotations

import pytest

from servelab.load import honesty
from servelab.load.figure_bounds import figure_bounds, worst
from servelab.load.records import LoadLevel
from servelab.load.stamps import LATE_S, PROBE_S, Stamp, Timeline
from servelab.load.summary import summarize
from servelab.load.worker import Outcome, ShareResult

FLOOR = PROBE_S + LATE_S


def test_a_punctual_loop_bounds_every_stamp_by_the_probe_period():
    timeline = Timeline([])
    assert timeline.bound(5.0) == pytest.approx(FLOOR)
    ttft, tpot = timeline.request_bounds(t_sent=1.0, ttft_s=0.1, e2el_s=3.1)
    assert ttft == pytest.approx(FLOOR / 0.1)
    assert tpot == pytest.approx(2 * FLOOR / 3.0)


def test_a_busy_spell_bounds_the_stamps_inside_it_by_how_long_it_had_lasted():
    timeline = Timeline([(2.0, 0.3)])  # busy since the punctual wake before, 1.699 s
    start = 2.0 - 0.3 - PROBE_S
    assert timeline.bound(1.85) == pytest.approx(FLOOR + 1.85 - start)  # inside
    assert timeline.bound(2.0 + PROBE_S / 2) == pytest.approx(FLOOR + 0.3 + 1.5 * PROBE_S)
    assert timeline.bound(1.5) == pytest.approx(FLOOR)  # before it
    assert timeline.bound(2.5) == pytest.approx(FLOOR)  # after it
    _, tpot = timeline.request_bounds(t_sent=0.0, ttft_s=0.1, e2el_s=1.95)  # last token inside
    assert tpot == pytest.approx((FLOOR + FLOOR + 1.95 - start) / 1.85)


def test_consecutive_busy_iterations_add_up():
    # bytes that arrive during one long iteration are read in the next: the spans chain
    timeline = Timeline([(2.0, 0.3), (2.3, 0.3), (5.0, 0.01)])
    assert timeline.bound(2.3) == pytest.approx(FLOOR + 2.3 - (2.0 - 0.3 - PROBE_S))
    assert timeline.bound(5.0) == pytest.approx(FLOOR + 0.01 + PROBE_S)  # a separate spell


def _outcome(t_sent: float) -> Outcome:
    return Outcome(True, None, 301, 5, 0.05, 0.01, 3.05, None, t_sent, t_sent + 3.05, "id", None)


BASE = LoadLevel(mode="concurrency", max_concurrency=2, requests=0, ok=0, duration_s=0,
                 max_in_flight=0)  # fmt: skip


def test_a_level_is_unreliable_when_a_reported_figure_can_be_off_by_more_than_1_percent():
    calm = ShareResult(outcomes=[_outcome(0.0), _outcome(10.0)], cpu_s=0.1, wall_s=14.0)
    level, _ = summarize(BASE, [calm], None)
    assert level.unreliable is None
    assert level.client.stamp_error_pct["tpot"] == pytest.approx(100 * 2 * FLOOR / 3.0)
    assert level.client.figure_late_pct["tpot_ms"]["p50"] == 0.0
    assert level.client.figure_error_pct["tpot_ms"]["p50"] == pytest.approx(100 * FLOOR / 3.0)
    # the loop stalled 80 ms just as the second request's last token came: with two requests,
    # that one is the p50's upper end
    stalled = ShareResult(
        outcomes=[_outcome(0.0), _outcome(10.0)], late_wakes=[(13.06, 0.08)], cpu_s=0.1, wall_s=14.0
    )
    level, _ = summarize(BASE, [stalled], None)
    busy = 13.05 - (13.06 - 0.08 - PROBE_S)  # how long the loop had been busy at the last token
    assert level.client.stamp_error_pct["tpot"] == pytest.approx(100 * (2 * FLOOR + busy) / 3.0)
    assert level.client.figure_late_pct["tpot_ms"]["p50"] == pytest.approx(100 * busy / 3.0)
    assert "TPOT p50 may be off by up to 2.37 %" in level.unreliable


def test_one_late_request_among_a_hundred_leaves_the_percentiles_defensible():
    outcomes = [_outcome(10.0 * i) for i in range(100)]
    stalled = ShareResult(outcomes=outcomes, late_wakes=[(13.06, 0.08)], cpu_s=1, wall_s=1000)
    level, _ = summarize(BASE, [stalled], None)
    late = level.client.figure_late_pct["tpot_ms"]
    assert late["p50"] == late["p99"] == 0.0  # one request is past the 99th of 100
    assert late["mean"] == pytest.approx(100 * (13.05 - 12.979) / 3.0 / 100)
    assert level.client.stamp_error_pct["tpot"] > 2.4  # the worst request is still named
    assert level.unreliable is None


def test_figure_bounds_follow_the_order_statistics():
    values = [1.0] * 98 + [1.0, 1.0]
    lows, highs = [1.0] * 98 + [0.5, 0.5], [1.0] * 98 + [2.0, 2.0]
    bounds = figure_bounds(values, lows, highs)
    assert bounds["p50"] == bounds["p95"] == 0.0
    assert bounds["p99"] == pytest.approx(100.0)  # the 99th of 100 is one of the two wide ones
    assert bounds["mean"] == pytest.approx(2.0)
    assert worst(bounds) == ("p99", pytest.approx(100.0))
    assert figure_bounds([], [], [])["p50"] is None


def test_verdict_uses_the_figure_bounds_when_there_are_some():
    calm = {"ttft_ms": {"p50": 1.0, "p99": 4.0}, "tpot_ms": {"mean": 0.2, "p99": 0.5}}
    assert honesty.verdict(20.0, 500.0, 1.0, 2000.0, 200.0, calm) is None
    late = {"ttft_ms": {"p50": 1.0, "p99": 6.0}, "tpot_ms": {"mean": 0.2, "p99": 0.5}}
    reason = honesty.verdict(20.0, 0.1, 1.0, 2000.0, 200.0, late)
    assert reason.startswith("TTFT p99 may be off by up to 6.00 %")


def test_a_catch_up_read_widens_the_bound_by_the_chunks_it_held():
    timeline = Timeline([])
    _, calm = timeline.request_bounds(0.0, 0.1, 3.1, backlog_s=2 * 0.001)  # 3 chunks a read
    _, behind = timeline.request_bounds(0.0, 0.1, 3.1, backlog_s=199 * 0.001)  # 200 at once
    assert calm < 0.01 < behind
    assert behind == pytest.approx((2 * FLOOR + 2 * 0.199) / 3.0)


def test_a_kernel_stamp_is_late_by_what_the_loop_was_late_less_what_the_bytes_had_waited():
    timeline = Timeline([(2.0, 0.3)])  # busy since 1.699 s
    start = 2.0 - 0.3 - PROBE_S
    # read at 1.95 (busy for 0.251 s then); the bytes had waited 0.2 s in the socket
    assert timeline.late_by(Stamp(1.75, held=0.2)) == pytest.approx(1.95 - start - 0.2)
    # … and they arrived after the previous read 0.01 s before the stamp: at most that late
    assert timeline.late_by(Stamp(1.75, held=0.2, window=0.01)) == pytest.approx(0.01)
    # an exact stamp (window 0) is never late, whatever the loop did
    assert timeline.late_by(Stamp(1.75, held=0.2, window=0.0), 0.5, FLOOR) == 0.0
    # the loop's own clock (held 0, no window): the busy time, as before
    assert timeline.late_by(Stamp(1.95)) == pytest.approx(1.95 - start)


def test_windows_narrow_a_requests_bounds():
    timeline = Timeline([(2.0, 0.3)])
    slack = (0.0, 0.001, 0.2, 0.002)  # first: exact-ish; last: held 0.2 s, window 2 ms
    ttft, tpot = timeline.request_bounds(0.0, 0.1, 1.75, slack=slack)
    assert ttft == pytest.approx(0.001 / 0.1)
    assert tpot == pytest.approx((0.001 + 0.002) / 1.65)


def test_a_stall_the_kernels_stamps_saw_through_leaves_the_level_reliable():
    # the same 80 ms stall at the second request's last token, but the kernel stamped its
    # bytes on arrival (held 75 ms, window 1 ms): the figures stand
    slack = (0.0, 0.001, 0.075, 0.001)
    outcomes = [
        _outcome(0.0)._replace(stamp_slack=slack),
        _outcome(10.0)._replace(stamp_slack=slack),
    ]
    stalled = ShareResult(outcomes=outcomes, late_wakes=[(13.06, 0.08)], cpu_s=0.1, wall_s=14.0)
    level, _ = summarize(BASE, [stalled], None)
    assert level.unreliable is None
    assert level.client.figure_late_pct["tpot_ms"]["p50"] <= 100 * 0.002 / 3.0 + 1e-9
