"""The simulation engine against queueing theory, a peer simulator (SimPy) and invariants.

Statistical checks compare the mean over seeded replications with the closed form and
allow Z standard errors (Z = 4: a correct model fails about 1 time in 15,000); each also
asserts the standard error is small enough that a 5% modelling error would be caught.
Sources: Kleinrock, Queueing Systems vol. 1 (M/M/1, M/M/c Erlang C, M/G/1
Pollaczek–Khinchine, M/M/1/K); Lewis & Shedler 1979 (thinning).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalekit import balancing, sim, theory

from _stats import Z, assert_matches, mean_over_seeds

# ------------------------------------------------------------------ FIFO recursion


def naive_fifo(a, s):
    out, prev = [], 0.0
    for ai, si in zip(a, s, strict=True):
        prev = max(ai, prev) + si
        out.append(prev)
    return np.array(out)


@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60),
    st.lists(st.floats(0, 10, allow_nan=False), min_size=60, max_size=60),
)
def test_vectorised_lindley_equals_the_recursion(gaps, services):
    a = np.cumsum(gaps)
    s = np.array(services[: a.size])
    d = sim.fifo_departures(a, s)
    np.testing.assert_allclose(d, naive_fifo(a, s), rtol=1e-12, atol=1e-9)
    # FIFO: departures never decrease, and nobody leaves before arriving and being served.
    assert np.all(np.diff(d) >= -1e-9)
    assert np.all(d >= a + s - 1e-9)


def test_same_arrays_through_simpy_give_the_same_departures():
    simpy = pytest.importorskip("simpy")
    w = sim.Workload.poisson(0.9, sim.Exponential(1.0), n=3000, seed=3)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    done = np.empty(len(w))

    def request(j, at, work):
        yield env.timeout(at - env.now)
        with server.request() as req:
            yield req
            yield env.timeout(work)
        done[j] = env.now

    def source():
        for j, (at, work) in enumerate(zip(w.arrivals_at, w.work_s, strict=True)):
            yield env.timeout(at - env.now)
            env.process(request(j, at, work))

    env.process(source())
    env.run()
    ours = sim.run(w).departures_at
    np.testing.assert_allclose(ours, done, rtol=1e-9)


# ------------------------------------------------------------------ theory validation


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mm1_mean_time_in_system(rho):
    """M/M/1: W = 1/(μ − λ)."""
    def one(seed):
        w = sim.Workload.poisson(rho, sim.Exponential(1.0), n=60_000, seed=seed)
        return sim.run(w, warmup_s=2000.0).mean_s
    assert_matches(*mean_over_seeds(one), theory.mm1_sojourn_s(rho, 1.0))


def test_mm1_p95_is_the_exponential_quantile():
    """M/M/1 time in system is exponential with rate μ − λ."""
    def one(seed):
        w = sim.Workload.poisson(0.7, sim.Exponential(1.0), n=60_000, seed=seed)
        return sim.run(w, warmup_s=1000.0).p95_s
    assert_matches(*mean_over_seeds(one), theory.mm1_quantile_s(0.7, 1.0, 0.95))


@pytest.mark.parametrize("servers,rho,wq", [(4, 0.8, 0.746), (16, 0.9, 0.370)])
def test_mmc_wait_matches_erlang_c(servers, rho, wq):
    """M/M/c: Wq = C(c, a)/(cμ − λ); REFERENCES.md examples with μ = 1."""
    lam = rho * servers
    assert theory.mmc_wait_s(lam, 1.0, servers) == pytest.approx(wq, abs=5e-4)

    def one(seed):
        w = sim.Workload.poisson(lam, sim.Exponential(1.0), n=40_000, seed=seed)
        return sim.run(w, servers=servers, warmup_s=200.0).mean_s - 1.0
    mean, se = mean_over_seeds(one, reps=12)
    assert abs(mean - wq) <= Z * se and se < 0.05 * (wq + 1.0) / Z


@pytest.mark.parametrize("service", [sim.Deterministic(1.0), sim.Pareto(1.0, shape=5.0)])
def test_mg1_matches_pollaczek_khinchine(service):
    """M/G/1: W = ρE[S](1 + scv)/(2(1 − ρ)) + E[S]; deterministic (scv 0), Pareto (scv 5/3)."""
    def one(seed):
        w = sim.Workload.poisson(0.7, service, n=60_000, seed=seed)
        return sim.run(w, warmup_s=1000.0).mean_s
    assert_matches(*mean_over_seeds(one), theory.mg1_sojourn_s(0.7, 1.0, service.scv))


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


@pytest.mark.parametrize("rho,k", [(0.8, 3), (1.5, 5)])
def test_mm1k_drops_match_blocking_formula(rho, k):
    """M/M/1/K: a fraction P_K = (1 − ρ)ρ^K/(1 − ρ^(K+1)) of arrivals is dropped."""
    def one(seed):
        w = sim.Workload.poisson(rho, sim.Exponential(1.0), n=40_000, seed=seed)
        r = sim.run(w, policy=balancing.policy("random"), queue_limit=k, seed=seed)
        return r.dropped / r.arrived
    assert_matches(*mean_over_seeds(one, reps=10), theory.mm1k_blocking(rho, 1.0, k))


def test_shared_queue_limit_counts_the_whole_cluster():
    """M/M/c/K with K = c is Erlang's loss system: no queue, dropped = Erlang B."""
    a, c = 3.0, 4
    b = 1.0
    for i in range(1, c + 1):
        b = a * b / (i + a * b)

    def one(seed):
        w = sim.Workload.poisson(a, sim.Exponential(1.0), n=40_000, seed=seed)
        r = sim.run(w, servers=c, queue_limit=c)
        return r.dropped / r.arrived
    assert_matches(*mean_over_seeds(one, reps=10), b)


def test_utilisation_and_throughput_match_the_offered_load():
    """Utilisation of c servers is λ/(cμ); throughput is λ (nothing is dropped)."""
    runs = []

    def one(seed):
        r = sim.run(sim.Workload.poisson(2.4, sim.Exponential(1.0), n=20_000, seed=seed),
                    servers=4)
        runs.append(r)
        return float(np.mean(r.utilisation))
    assert_matches(*mean_over_seeds(one, reps=10), 0.6)
    assert runs[0].offered_load == pytest.approx(0.6)
    assert_matches(*sim.estimate([r.throughput_rps for r in runs]), 2.4)


# ------------------------------------------------------------------ arrivals


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


# ------------------------------------------------------------------ event loop


def test_event_loop_equals_vectorised_path_for_a_static_policy():
    """RandomChoice pre-draws its picks, so loop and vector path choose the same servers and
    agree on every departure (to rounding: the cumulative-max form sums in another order)."""
    w = sim.Workload.poisson(7.0, sim.Exponential(1.0), n=20_000, seed=8)
    fast = sim.run(w, servers=8, policy=balancing.policy("random"), seed=9)

    class LoopedRandom(balancing.RandomChoice):
        def assign(self, n_requests, n_servers, gen):
            return None  # force the event loop

    slow = sim.run(w, servers=8, policy=LoopedRandom(), seed=9)
    np.testing.assert_array_equal(fast.server_of, slow.server_of)
    np.testing.assert_allclose(fast.departures_at, slow.departures_at, rtol=1e-12)


def test_fewest_connections_sees_live_counts():
    """With equal speeds and deterministic work, fewest connections never lets one server hold
    two more requests than another, so its wait beats random's."""
    w = sim.Workload.poisson(3.6, sim.Deterministic(1.0), n=20_000, seed=2)
    fc = sim.run(w, servers=4, policy=balancing.policy("fewest_connections"))
    rnd = sim.run(w, servers=4, policy=balancing.policy("random"), seed=2)
    t = np.linspace(0, w.horizon_s, 4000)
    per = np.array([fc.in_system_at(t, server=i) for i in range(4)])
    assert (per.max(axis=0) - per.min(axis=0)).max() <= 2
    assert fc.mean_s < rnd.mean_s


class Broken(sim.Policy):
    def choose(self, state):
        return state.n_servers  # out of range


class Returns(sim.Policy):
    def __init__(self, value):
        self.value = value

    def choose(self, state):
        return self.value


def test_a_policy_that_returns_a_bad_server_is_reported():
    w = sim.Workload.poisson(1.0, sim.Exponential(1.0), n=10, seed=1)
    with pytest.raises(ValueError, match="choose returned"):
        sim.run(w, servers=2, policy=Broken())
    for bad in (1.5, -1, "0", None):
        with pytest.raises(ValueError, match="expected a server index in 0..1"):
            sim.run(w, servers=2, policy=Returns(bad))
    # numpy integers are fine: a student's policy may well return np.argmin(...)
    assert set(sim.run(w, servers=2, policy=Returns(np.int64(1))).server_of) == {1}


# ------------------------------------------------------------------ invariants


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.1, 5.0),
    n=st.integers(1, 300),
    servers=st.integers(1, 5),
    policy=st.sampled_from(["shared", *balancing.POLICIES]),
    limit=st.one_of(st.none(), st.integers(1, 4)),
    horizon_frac=st.floats(0.1, 1.0),
    seed=st.integers(0, 2**32),
)
def test_no_request_is_lost(rate, n, servers, policy, limit, horizon_frac, seed):
    """arrived = completed + in system + dropped, at any horizon, for every policy."""
    base = sim.Workload.poisson(rate, sim.Exponential(1.0), n=n, seed=seed)
    w = sim.Workload(base.arrivals_at, base.work_s, horizon_s=base.horizon_s * horizon_frac)
    chosen = policy if policy == "shared" else balancing.policy(policy)
    r = sim.run(w, servers=servers, policy=chosen, queue_limit=limit, seed=seed)
    assert r.arrived == r.completed + r.in_system + r.dropped
    assert r.arrived == int((w.arrivals_at <= w.horizon_s).sum())
    assert min(r.in_system, r.dropped, r.completed) >= 0
    for i in range(servers):
        mine = (r.server_of == i) & ~np.isnan(r.departures_at)
        assert np.all(np.diff(r.departures_at[mine]) >= -1e-9)  # each server is FIFO
    assert all(0.0 <= u <= 1.0 + 1e-9 for u in r.utilisation)


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


def test_same_seed_same_result_different_seed_different():
    def go(seed):
        w = sim.Workload.poisson(0.9, sim.Pareto(1.0), n=5000, seed=seed)
        return sim.run(w, servers=3, policy=balancing.policy("random"), seed=seed).departures_at
    np.testing.assert_array_equal(go(11), go(11))
    assert not np.array_equal(go(11), go(12))


def test_unstable_load_is_flagged_and_bounded():
    w = sim.Workload.poisson(2.0, sim.Exponential(1.0), n=50_000, seed=1)
    r = sim.run(w)
    assert r.unstable and r.offered_load == pytest.approx(2.0)
    assert r.in_system > 10_000  # the queue grew without bound
    assert "unstable" in r._repr_html_()
    assert not sim.run(sim.Workload.poisson(0.5, sim.Exponential(1.0), n=100, seed=1)).unstable


# ------------------------------------------------------------------ bad input


def workload():
    return sim.Workload.poisson(1.0, sim.Exponential(1.0), n=10, seed=1)


@pytest.mark.parametrize("call,exc,name", [
    (lambda: sim.Exponential(0), ValueError, "mean_s"),
    (lambda: sim.Exponential(float("nan")), ValueError, "mean_s"),
    (lambda: sim.Exponential("1"), TypeError, "mean_s"),
    (lambda: sim.Pareto(1.0, shape=1.0), ValueError, "shape"),
    (lambda: sim.Reports(1.0, report_share=1.0), ValueError, "report_share"),
    (lambda: sim.Reports(1.0, report_factor=0.5), ValueError, "report_factor"),
    (lambda: sim.service_time("uniform", 1.0), ValueError, "service"),
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
    (lambda: sim.run("w"), TypeError, "workload"),
    (lambda: sim.run(workload(), servers=0), ValueError, "servers"),
    (lambda: sim.run(workload(), servers=True), TypeError, "servers"),
    (lambda: sim.run(workload(), speeds=[1.0, 0.0]), ValueError, "speeds"),
    (lambda: sim.run(workload(), speeds=[1.0, float("nan")]), ValueError, "speeds"),
    (lambda: sim.run(workload(), policy="least_busy"), TypeError, "balancing.policy"),
    (lambda: balancing.policy("least_busy"), ValueError, "policy"),
    (lambda: sim.run(workload(), policy=3), TypeError, "policy"),
    (lambda: sim.run(workload(), queue_limit=0), ValueError, "queue_limit"),
    (lambda: sim.run(workload(), warmup_s=-1), ValueError, "warmup_s"),
    (lambda: sim.run(workload(), warmup_s=1e9), ValueError, "warmup_s"),
    (lambda: sim.estimate([1.0]), ValueError, "values"),
    (lambda: sim.fifo_departures([1.0, float("nan")], [1.0, 1.0]), ValueError, "arrivals_at"),
    (lambda: sim.fifo_departures([0.0, 1.0], [-5.0, 1.0]), ValueError, "service_s"),
    (lambda: sim.fifo_departures([2.0, 1.0], [1.0, 1.0]), ValueError, "sorted"),
    (lambda: sim.fifo_departures(None, [1.0]), TypeError, "arrivals_at"),
    (lambda: sim.fifo_departures(["0", "1"], [1.0, 1.0]), TypeError, "arrivals_at"),
    (lambda: sim.fifo_departures([True, False], [1.0, 1.0]), TypeError, "arrivals_at"),
    (lambda: sim.Workload(np.array([1.0]), np.array([1.0]), arrival_rate_rps=-5.0),
     ValueError, "arrival_rate_rps"),
    (lambda: sim.Workload(np.array([1.0]), np.array([1.0]), mean_work_s=float("inf")),
     ValueError, "mean_work_s"),
    (lambda: sim.Workload(np.array([1.0]), np.array([1.0]), horizon_s=-1.0),
     ValueError, "horizon_s"),
    (lambda: sim.Workload(np.array([1.0]), np.array([1.0]), arrival_rate_rps=2.0,
                          peak_rate_rps=1.0), ValueError, "peak_rate_rps"),
    (lambda: sim.replicate(lambda s: 1.0, 1), ValueError, "replications"),
])
def test_bad_input_is_refused_clearly(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
