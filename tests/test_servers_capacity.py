"""Load ramps: capacity under an SLO, the knee, and stopping before collapse."""

import math

import numpy as np
import pytest

from scalekit import sim, theory
from scalekit.servers import capacity


def test_ramp_stops_at_the_first_breach_and_matches_mm1_quantiles():
    rates = np.arange(5, 200, 10.0)  # μ = 100/s: rates past capacity are never offered
    res = capacity.ramp(sim.Exponential(0.01), rates_rps=rates, slo_s=0.1, step_s=600.0,
                        seed=1)
    assert res.stopped_early and not res.steps[-1].met_slo
    assert all(s.met_slo for s in res.steps[:-1])
    assert res.steps[-1].offered_rps < 100.0  # stopped before the server's true capacity
    # M/M/1 p95 = ln(20)/(μ − λ) ≤ 0.1 s ⇔ λ ≤ 100 − 10·ln 20 ≈ 70.0/s
    # The steps either side sit well clear of it: p95 at 65/s is 86 ms, at 75/s 120 ms.
    exact = 100 - math.log(20) / 0.1
    assert res.capacity_rps == 65.0 and 65.0 < exact < 75.0
    assert res.true_capacity_rps == pytest.approx(100.0)


def test_knee_is_at_half_the_service_rate_for_mm1():
    """Kleinrock's power λ(μ − λ) peaks at λ = μ/2."""
    rates = np.arange(5, 100, 5.0)
    res = capacity.ramp(sim.Exponential(0.01), rates_rps=rates, slo_s=10.0, step_s=2000.0,
                        stop_at_breach=False, seed=3)
    assert res.knee_rps == pytest.approx(50.0, abs=10.0)


def test_steps_report_what_was_measured():
    res = capacity.ramp(sim.Exponential(0.01), rates_rps=[20.0, 60.0], slo_s=1.0,
                        step_s=500.0, seed=2)
    low, high = res.steps
    assert low.throughput_rps == pytest.approx(20.0, rel=0.1)
    assert low.utilisation == pytest.approx(0.2, abs=0.03)
    assert high.mean_s > low.mean_s
    assert high.mean_s == pytest.approx(theory.mm1_sojourn_s(60, 100), rel=0.3)
    np.testing.assert_array_equal(res.column("offered_rps"), [20.0, 60.0])
    assert "capacity" in res._repr_html_()


def test_progress_is_reported_per_step():
    seen = []
    capacity.ramp(sim.Deterministic(0.01), rates_rps=[10, 20, 30], slo_s=1.0, step_s=10.0,
                  progress=lambda done, total, msg: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_server_that_falls_behind_fails_even_if_finished_requests_were_fast():
    # 150/s offered to a 100/s server for 20 s: the backlog's oldest request waits > slo
    res = capacity.ramp(sim.Deterministic(0.01), rates_rps=[150.0], slo_s=2.0, step_s=20.0,
                        seed=1)
    assert not res.steps[0].met_slo and res.capacity_rps == 0.0


def test_capacity_from_table_reads_up_to_the_first_breach():
    assert capacity.capacity_from_table([10, 20, 30, 40], [0.05, 0.08, 0.3, 0.09], 0.1) == 20
    assert capacity.capacity_from_table([10, 20], [0.5, 0.05], 0.1) == 0.0


@pytest.mark.parametrize("kwargs,exc,name", [
    (dict(rates_rps=[]), ValueError, "rates_rps"),
    (dict(rates_rps=[20, 10]), ValueError, "rates_rps"),
    (dict(rates_rps=[10], slo_s=0), ValueError, "slo_s"),
    (dict(rates_rps=[10], percentile=100), ValueError, "percentile"),
    (dict(rates_rps=[10], servers=0), ValueError, "servers"),
    (dict(rates_rps=[10], step_s=-1), ValueError, "step_s"),
    (dict(rates_rps=[1e7], step_s=1e3), ValueError, "rate"),
    (dict(rates_rps="10"), TypeError, "rates_rps"),
])
def test_bad_input(kwargs, exc, name):
    args = dict(slo_s=1.0)
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        capacity.ramp(sim.Exponential(0.01), **args)


def test_bad_table():
    with pytest.raises(ValueError, match="latency_s"):
        capacity.capacity_from_table([1, 2], [0.1], 1.0)
    with pytest.raises(TypeError, match="service"):
        capacity.ramp(0.01, rates_rps=[1.0], slo_s=1.0)
