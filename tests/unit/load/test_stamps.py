"""Per-request bounds on how late the client stamped a request's first and last token."""

from __future__ import annotations

import pytest

from servelab.load import honesty
from servelab.load.records import LoadLevel
from servelab.load.stamps import LATE_S, PROBE_S, Timeline
from servelab.load.summary import summarize
from servelab.load.worker import Outcome, ShareResult

FLOOR = PROBE_S + LATE_S


def test_a_punctual_loop_bounds_every_stamp_by_the_probe_period():
    timeline = Timeline([])
    assert timeline.bound(5.0) == pytest.approx(FLOOR)
    ttft, tpot = timeline.request_bounds(t_sent=1.0, ttft_s=0.1, e2el_s=3.1)
    assert ttft == pytest.approx(FLOOR / 0.1)
    assert tpot == pytest.approx(2 * FLOOR / 3.0)


def test_a_busy_spell_bounds_only_the_stamps_inside_it():
    timeline = Timeline([(2.0, 0.3)])  # busy from 1.7 s to 2.0 s
    assert timeline.bound(1.85) == pytest.approx(FLOOR + 0.3)  # inside
    assert timeline.bound(2.0 + PROBE_S / 2) == pytest.approx(FLOOR + 0.3)  # stamped at its end
    assert timeline.bound(1.5) == pytest.approx(FLOOR)  # before it
    assert timeline.bound(2.5) == pytest.approx(FLOOR)  # after it
    _, tpot = timeline.request_bounds(t_sent=0.0, ttft_s=0.1, e2el_s=1.95)  # last token inside
    assert tpot == pytest.approx((FLOOR + FLOOR + 0.3) / 1.85)


def test_the_level_is_unreliable_when_one_request_can_be_off_by_more_than_1_percent():
    def outcome(t_sent: float) -> Outcome:
        return Outcome(True, None, 301, 5, 0.05, 0.01, 3.05, None, t_sent, t_sent + 3.05, "id",
                       None)  # fmt: skip

    base = LoadLevel(mode="concurrency", max_concurrency=2, requests=0, ok=0, duration_s=0,
                     max_in_flight=0)  # fmt: skip
    calm = ShareResult(outcomes=[outcome(0.0), outcome(10.0)], cpu_s=0.1, wall_s=14.0)
    level, _ = summarize(base, [calm], None)
    assert level.unreliable is None
    assert level.client.stamp_error_pct["tpot"] == pytest.approx(100 * 2 * FLOOR / 3.0)
    # the loop stalled 80 ms just as the second request's last token came: only it is affected
    stalled = ShareResult(
        outcomes=[outcome(0.0), outcome(10.0)], late_wakes=[(13.06, 0.08)], cpu_s=0.1, wall_s=14.0
    )
    level, _ = summarize(base, [stalled], None)
    assert level.client.stamp_error_pct["tpot"] == pytest.approx(100 * (2 * FLOOR + 0.08) / 3.0)
    assert "TPOT may be off by up to 2.80 % for some request" in level.unreliable


def test_verdict_uses_the_request_bounds_when_there_are_some():
    assert honesty.verdict(20.0, 500.0, 1.0, 2000.0, 200.0, {"ttft": 1.0, "tpot": 0.5}) is None
    reason = honesty.verdict(20.0, 0.1, 1.0, 2000.0, 200.0, {"ttft": 6.0, "tpot": 0.5})
    assert reason.startswith("TTFT may be off by up to 6.00 %")


def test_a_catch_up_read_widens_the_bound_by_the_chunks_it_held():
    timeline = Timeline([])
    _, calm = timeline.request_bounds(0.0, 0.1, 3.1, backlog_s=2 * 0.001)  # 3 chunks a read
    _, behind = timeline.request_bounds(0.0, 0.1, 3.1, backlog_s=199 * 0.001)  # 200 at once
    assert calm < 0.01 < behind
    assert behind == pytest.approx((2 * FLOOR + 2 * 0.199) / 3.0)
