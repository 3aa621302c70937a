"""Arrival schedules: mean rate, the CV each process promises, reproducibility."""

from __future__ import annotations

import pytest

from servelab.load.schedule import achieved_rate, gamma_cv, interarrival_cv, offsets


def test_poisson_has_the_rate_and_a_cv_of_one():
    times = offsets(5000, 20.0, "poisson", seed=3)
    assert times[0] == 0.0 and times == sorted(times)
    assert achieved_rate(times) == pytest.approx(20.0, rel=1e-9)
    assert interarrival_cv(times) == pytest.approx(1.0, abs=0.05)


def test_random_schedules_are_rescaled_to_the_exact_span_whatever_the_seed():
    for seed in range(5):
        assert offsets(400, 20.0, seed=seed)[-1] == pytest.approx(399 / 20.0, rel=1e-12)
        short = offsets(3, 2.0, "gamma", burstiness=0.5, seed=seed)
        assert short[0] == 0.0 and short[-1] == pytest.approx(1.0) and short == sorted(short)


def test_gamma_burstiness_sets_the_cv():
    for shape in (0.25, 4.0):
        times = offsets(5000, 10.0, "gamma", burstiness=shape, seed=1)
        assert achieved_rate(times) == pytest.approx(10.0, rel=1e-9)
        assert interarrival_cv(times) == pytest.approx(gamma_cv(shape), rel=0.1)


def test_constant_is_evenly_spaced_and_seeds_reproduce():
    times = offsets(11, 5.0, "constant")
    assert times[-1] == pytest.approx(2.0) and interarrival_cv(times) == pytest.approx(0.0)
    assert offsets(50, 3.0, seed=7) == offsets(50, 3.0, seed=7) != offsets(50, 3.0, seed=8)


@pytest.mark.parametrize(
    ("args", "message"),
    [((10, 0.0), "rate"), ((10, 1.0, "zipf"), "arrival"), ((10, 1.0, "gamma", 0.0), "burst")],
)
def test_bad_schedules_raise(args, message):
    with pytest.raises(ValueError, match=message):
        offsets(*args)
