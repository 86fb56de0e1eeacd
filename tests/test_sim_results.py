"""What a run measured (scalekit.sim.results): which requests the statistics cover, what
is counted at the horizon, queue lengths over time, the overload flag, and the percentiles,
checked bit for bit against numpy's own.

Sources: numpy.percentile (linear method, Hyndman & Fan's definition 7); Little's law and the
conservation of requests (arrived = completed + in system + dropped).
"""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit import balancing, sim
from scalekit.sim.results import percentiles


@pytest.mark.parametrize("policy", ["random", "fewest_connections"])
def test_queue_lengths_per_server_agree_with_counting_one_server_at_a_time(policy):
    """The all-servers-at-once running sum against in_system_at's per-server count, at
    instants that include arrival and departure instants themselves (ties), with drops."""
    w = sim.Workload.poisson(0.9 * 5, sim.Exponential(1.0), n=4000, seed=2)
    r = sim.run(w, servers=5, policy=balancing.policy(policy), queue_limit=3, seed=2)
    assert r.dropped > 0
    t = np.sort(np.concatenate([np.linspace(0, r.horizon_s, 200), r.arrivals_at[::37],
                                r.departures_at[~np.isnan(r.departures_at)][::41]]))
    q = r.queue_lengths(t)
    assert q.shape == (5, t.size) and q.max() <= 3
    for i in range(5):
        np.testing.assert_array_equal(q[i], r.in_system_at(t, server=i))
    with pytest.raises(ValueError, match="times_s"):
        r.queue_lengths([3.0, 1.0])


def test_latency_follows_every_request_that_arrived_in_the_window():
    """Requests still queued at the horizon count too, with their full time in system:
    leaving them out would favour short requests. An overloaded run makes the difference
    large: the ones left at the end waited longest."""
    base = sim.Workload.poisson(1.5, sim.Exponential(1.0), n=3000, seed=4)
    w = sim.Workload(base.arrivals_at, base.work_s, horizon_s=base.horizon_s * 0.8)
    r = sim.run(w, warmup_s=100.0)
    window = (w.arrivals_at >= 100.0) & (w.arrivals_at <= w.horizon_s)
    assert r.latencies_s.size == window.sum() and r.in_system > 0
    expected = (r.departures_at - r.arrivals_at)[window]
    assert r.mean_s == pytest.approx(expected.mean())
    finished = window & (r.departures_at <= w.horizon_s)
    assert r.mean_s > 1.1 * (r.departures_at - r.arrivals_at)[finished].mean()


def test_in_system_is_counted_not_inferred():
    """Requests still present at the horizon, counted from their own departure instants."""
    base = sim.Workload.poisson(1.5, sim.Exponential(1.0), n=3000, seed=4)
    w = sim.Workload(base.arrivals_at, base.work_s, horizon_s=base.horizon_s * 0.7)
    r = sim.run(w)
    present = int(r.in_system_at([w.horizon_s])[0])
    assert r.in_system == present > 100  # the overloaded queue is really there
    assert r.arrived == r.completed + r.in_system + r.dropped


def test_a_trace_whose_peak_exceeds_capacity_is_flagged_overloaded():
    trace = sim.TrafficTrace(np.array([0.0, 500.0, 1000.0]), np.array([1.0, 15.0, 1.0]))
    w = sim.Workload.from_trace(trace, sim.Exponential(0.1), seed=3)
    r = sim.run(w)
    assert r.offered_load == pytest.approx(0.8, rel=1e-3) and not r.unstable
    assert r.peak_load == pytest.approx(1.5) and r.overloaded
    assert "overloaded at the peak" in r._repr_html_()
    calm = sim.run(sim.Workload.poisson(5.0, sim.Exponential(0.1), n=2000, seed=1))
    assert not calm.overloaded and calm.peak_load == pytest.approx(calm.offered_load)



# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("call,exc,name", [
    (lambda: sim.estimate([1.0]), ValueError, "values"),
    (lambda: sim.replicate(lambda s: 1.0, 1), ValueError, "replications"),
])
def test_bad_input_is_refused_clearly(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200),
       qs=st.lists(st.floats(0, 100), min_size=1, max_size=5), ties=st.booleans())
def test_percentiles_are_numpys_bit_for_bit(values, qs, ties):
    """results.percentiles selects the order statistics its own way, then interpolates as
    numpy.percentile's default (linear) method does: the same numbers, exactly."""
    x = np.round(np.array(values), 0) if ties else np.array(values)
    assert percentiles(x, qs) == np.percentile(x, qs).tolist()


def test_percentiles_of_a_long_run_are_numpys():
    x = sim.rng(3).exponential(1.0, 300_001)
    for qs in ((50, 95, 99), (0, 100), (99.9, 0.1, 50)):
        assert percentiles(x, qs) == np.percentile(x, qs).tolist()


def test_percentiles_check_their_arguments():
    for values, qs, exc, name in (("bogus", [50], TypeError, "values"), ([], [50], ValueError,
                                  "values"), ([1.0], [150], ValueError, "qs"),
                                  ([1.0, np.nan], [50], ValueError, "values")):
        with pytest.raises(exc, match=name):
            percentiles(values, qs)
    assert percentiles([1.0, 2.0, 3.0], 50) == [2.0]
