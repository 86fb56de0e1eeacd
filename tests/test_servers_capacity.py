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


def _agrees(values, expected, resolve=0.05):
    """The mean over seeded replications is within 4 standard errors of ``expected``, and
    the replications are enough to tell a ``resolve`` relative error from noise."""
    mean, se = sim.estimate(values)
    assert 4 * se < resolve * abs(expected), (mean, se, expected)
    assert abs(mean - expected) <= 4 * se, (mean, se, expected)


def test_steps_report_what_was_measured():
    mu = 100.0

    def one(seed):
        return capacity.ramp(sim.Exponential(1 / mu), rates_rps=[20.0, 60.0], slo_s=1.0,
                             step_s=500.0, percentile=90, seed=seed)
    runs = [one(seed) for seed in range(20)]
    low = [r.steps[0] for r in runs]
    high = [r.steps[1] for r in runs]
    _agrees([s.throughput_rps for s in low], 20.0)  # all offered load is carried
    _agrees([s.utilisation for s in low], 20.0 / mu)  # utilisation law U = λ/μ
    _agrees([s.mean_s for s in high], theory.mm1_sojourn_s(60, mu))
    # the SLO percentile's own column: M/M/1 time in system is exponential
    _agrees([s.tail_s for s in high], theory.mm1_quantile_s(60, mu, 0.90))
    res = runs[0]
    assert res.steps[1].mean_s > res.steps[0].mean_s
    np.testing.assert_array_equal(res.column("offered_rps"), [20.0, 60.0])
    assert "capacity" in res._repr_html_() and "p90 ms (SLO)" in res._repr_html_()


def test_tail_column_is_the_percentile_the_slo_was_judged_on():
    def one(pct, slo_s):
        return capacity.ramp(sim.Exponential(0.01), rates_rps=[60.0], slo_s=slo_s,
                             step_s=500.0, percentile=pct, seed=4).steps[0]
    p95 = one(95, 1.0)
    assert p95.tail_s == p95.p95_s  # the same requests, the same percentile
    p90 = one(90, 1.0)
    assert p90.p50_s < p90.tail_s < p90.p95_s
    # an SLO between p90 and p95 is met at p90 and missed at p95
    slo = (p90.tail_s + p90.p95_s) / 2
    assert one(90, slo).met_slo and not one(95, slo).met_slo


def test_steps_with_no_completed_request_do_not_crash():
    # 0.05/s for 10 s with 1 s of work: often nothing arrives, or nothing finishes
    res = capacity.ramp(sim.Exponential(1.0), rates_rps=[0.05, 0.1, 0.2], slo_s=5, step_s=10,
                        seed=2)
    empty = [s for s in res.steps if s.throughput_rps == 0.0]
    assert empty, "the case under test: a step where nothing completed"
    for s in empty:
        assert s.met_slo  # nothing completed and nothing waited too long: nothing was late
        assert math.isnan(s.mean_s) and math.isnan(s.tail_s) and math.isnan(s.power)
    assert math.isfinite(res.knee_rps)  # taken from the steps that have a power
    only_empty = capacity.ramp(sim.Exponential(1.0), rates_rps=[0.001], slo_s=5, step_s=10,
                               seed=2)
    assert only_empty.steps[0].throughput_rps == 0.0
    assert math.isnan(only_empty.knee_rps) and only_empty.capacity_rps == 0.001
    only_empty._repr_html_()


def test_a_request_still_waiting_too_long_fails_a_step_with_no_completions():
    # one huge request per ~10 s: whatever arrived early is still in service at the end
    res = capacity.ramp(sim.Deterministic(100.0), rates_rps=[0.5], slo_s=1.0, step_s=10.0,
                        seed=0)
    step = res.steps[0]
    assert step.throughput_rps == 0.0 and not step.met_slo


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
    (dict(rates_rps=[10], progress="x"), TypeError, "progress"),
    (dict(rates_rps=[10], progress=1), TypeError, "progress"),
    (dict(rates_rps=[10], stop_at_breach=1), TypeError, "stop_at_breach"),
    (dict(rates_rps=[10], stop_at_breach="no"), TypeError, "stop_at_breach"),
])
def test_bad_input(kwargs, exc, name):
    args = dict(slo_s=1.0)
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        capacity.ramp(sim.Exponential(0.01), **args)


def test_a_bad_progress_is_refused_before_any_step_runs():
    sampled = []

    class Recorder(sim.Exponential):
        def sample(self, n, gen):
            sampled.append(n)
            return super().sample(n, gen)

    with pytest.raises(TypeError, match="progress"):
        capacity.ramp(Recorder(0.01), rates_rps=[10, 20], slo_s=1.0, step_s=10.0,
                      progress="x")
    assert sampled == []  # refused up front, not after the first step had run


def test_bad_table():
    with pytest.raises(ValueError, match="latency_s"):
        capacity.capacity_from_table([1, 2], [0.1], 1.0)
    with pytest.raises(TypeError, match="service"):
        capacity.ramp(0.01, rates_rps=[1.0], slo_s=1.0)
