"""What arrives (scalekit.sim.workload): Poisson arrivals, thinning a traffic trace, service-
time mixes, and the checks on a declared workload.

Sources: a Poisson process's count over t is Poisson(λt) and its gaps exponential(1/λ);
Lewis & Shedler 1979 (thinning); the reports mix's mean and second moment from its two
exponential parts. Statistical checks allow Z = 4 standard errors, known in closed form
(about 1 in 15,800 for a correct model; tests/_stats.py).
"""

import math

import numpy as np
import pytest

from scalekit import sim

from _stats import Z


def test_reports_mix_has_its_mean_and_spread():
    """1% of requests 100× longer: the sample mean is mean_s and E[S²] matches the mixture's
    (1 − p)·2m² + p·2(fm)², each within Z standard errors of the sample; half the work is
    in the reports."""
    r = sim.Reports(0.5, report_share=0.01, report_factor=100.0)
    x = r.sample(2_000_000, sim.rng(4))
    assert abs(x.mean() - 0.5) <= Z * x.std() / math.sqrt(x.size)
    second = (1 + r.scv) * 0.25
    assert abs((x**2).mean() - second) <= Z * (x**2).std() / math.sqrt(x.size)
    assert r.report_s == pytest.approx(100 * r.page_s)
    assert r.report_s * 0.01 / 0.5 == pytest.approx(100 / 199)  # the reports' share of work
    assert sim.service_time("reports", 2.0).mean_s == 2.0


def test_poisson_arrivals_have_rate_lambda():
    gaps = np.diff(sim.poisson_arrivals(50.0, n=100_000, seed=1))
    se = gaps.std() / math.sqrt(gaps.size)
    assert abs(gaps.mean() - 1 / 50.0) < Z * se
    # exponential gaps: standard deviation equals the mean
    assert gaps.std() == pytest.approx(gaps.mean(), rel=0.02)


def test_poisson_count_over_a_horizon():
    counts = [sim.poisson_arrivals(20.0, horizon_s=10.0, seed=s).size for s in range(400)]
    se = np.std(counts, ddof=1) / math.sqrt(len(counts))
    assert abs(np.mean(counts) - 200.0) < Z * se
    assert np.var(counts, ddof=1) == pytest.approx(200.0, rel=0.25)  # Poisson: var = mean


def test_thinning_follows_the_trace():
    trace = sim.TrafficTrace(np.array([0.0, 100.0, 200.0]), np.array([10.0, 100.0, 10.0]))
    arrivals = sim.thinned_arrivals(trace, seed=4)
    edges = np.linspace(0, 200, 21)
    counts, _ = np.histogram(arrivals, edges)
    expected = np.array([np.trapezoid(trace.rate_at(np.linspace(lo, hi, 50)),
                                      np.linspace(lo, hi, 50))
                         for lo, hi in zip(edges[:-1], edges[1:], strict=True)])
    # each bin is Poisson: |count − expected| within Z·sqrt(expected)
    assert np.all(np.abs(counts - expected) <= Z * np.sqrt(expected) + 1)
    assert arrivals.size == pytest.approx(trace.expected_requests(), rel=0.05)


def test_daily_trace_has_its_peak_and_spike():
    trace = sim.TrafficTrace.daily(base_rps=10, peak_rps=100, spike_at_s=3600, spike_rps=50,
                                   spike_s=600)
    assert trace.rate_at(14 * 3600) == pytest.approx(100.0)
    assert trace.rate_at(2 * 3600) == pytest.approx(10.0, abs=1.0)
    assert trace.rate_at(3600 + 300) - trace.rate_at(3600 - 300) > 45


def test_a_declared_rate_must_fit_the_arrivals():
    a = np.arange(1, 2001) * 0.5  # 2 per second
    with pytest.raises(ValueError, match="arrival_rate_rps=0.5 disagrees"):
        sim.Workload(a, np.ones(a.size), arrival_rate_rps=0.5)
    assert sim.Workload(a, np.ones(a.size), arrival_rate_rps=2.0).arrival_rate_rps == 2.0


def test_daily_trace_ends_at_the_end_of_the_day():
    trace = sim.TrafficTrace.daily(base_rps=1, peak_rps=2, step_s=7000)
    assert trace.duration_s == 86_400.0
    with pytest.raises(ValueError, match="step_s"):
        sim.TrafficTrace.daily(base_rps=1, peak_rps=2, step_s=100_000)



# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("call,exc,name", [
    (lambda: sim.Exponential(0), ValueError, "mean_s"),
    (lambda: sim.Exponential(float("nan")), ValueError, "mean_s"),
    (lambda: sim.Exponential("1"), TypeError, "mean_s"),
    (lambda: sim.Pareto(1.0, shape=1.0), ValueError, "shape"),
    (lambda: sim.Reports(1.0, report_share=1.0), ValueError, "report_share"),
    (lambda: sim.Reports(1.0, report_factor=0.5), ValueError, "report_factor"),
    (lambda: sim.service_time("uniform", 1.0), ValueError, "unknown name .uniform."),
    (lambda: sim.poisson_arrivals(-1.0, n=5), ValueError, "rate_rps"),
    (lambda: sim.poisson_arrivals(1.0), ValueError, "n"),
    (lambda: sim.poisson_arrivals(1.0, n=0), ValueError, "n"),
    (lambda: sim.poisson_arrivals(1.0, n=2.5), TypeError, "n"),
    (lambda: sim.poisson_arrivals(1e9, horizon_s=1e9), ValueError, "rate_rps"),
    (lambda: sim.poisson_arrivals(1.0, n=3, seed=-1), ValueError, "seed"),
    (lambda: sim.thinned_arrivals([1, 2]), TypeError, "trace"),
    (lambda: sim.TrafficTrace(np.array([1.0, 2.0]), np.array([1.0, 1.0])), ValueError,
         "times_s"),
    (lambda: sim.TrafficTrace(np.array([0.0, 2.0]), np.array([1.0, -1.0])), ValueError,
         "rates_rps"),
    (lambda: sim.TrafficTrace.daily(base_rps=10, peak_rps=5), ValueError, "peak_rps"),
    (lambda: sim.Workload(np.array([2.0, 1.0]), np.array([1.0, 1.0])), ValueError,
         "arrivals_at"),
    (lambda: sim.Workload(np.array([1.0]), np.array([1.0, 1.0])), ValueError, "work_s"),
    (lambda: sim.Workload.poisson(1.0, 0.5, n=5), TypeError, "service"),
    (lambda: sim.Workload(np.array([1.0]), np.array([1.0]), arrival_rate_rps=-5.0),
         ValueError, "arrival_rate_rps"),
    (lambda: sim.Workload(np.array([1.0]), np.array([1.0]), mean_work_s=float("inf")),
         ValueError, "mean_work_s"),
    (lambda: sim.Workload(np.array([1.0]), np.array([1.0]), horizon_s=-1.0),
         ValueError, "horizon_s"),
    (lambda: sim.Workload(np.array([1.0]), np.array([1.0]), arrival_rate_rps=2.0,
                              peak_rate_rps=1.0), ValueError, "peak_rate_rps"),
])
def test_bad_input_is_refused_clearly(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
