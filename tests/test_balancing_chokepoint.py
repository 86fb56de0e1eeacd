"""Tests for scalekit.balancing.chokepoint: the balancer's own queue, and what saturates first.

Sources the checks are held to:

* Pollaczek–Khinchine (Kleinrock, *Queueing Systems* vol. 1, §5.6): M/D/1 with decision time
  d at load ρ = λd spends W = ρd / (2(1 − ρ)) + d in the system — theory.mg1_sojourn_s with
  scv = 0;
* FIFO with c workers and equal service times: request j starts at max(A_j, D_{j−c})
  (elementary), checked against the engine's shared queue;
* the bottleneck law of operational analysis (Denning & Buzen, "The operational analysis of
  queueing network models", Computing Surveys 1978): throughput ≤ the smallest capacity of
  the stations in series, and reaches it under overload;
* the cost of a decision: nginx's ``least_conn`` walks every peer
  (ngx_http_upstream_least_conn_module.c), so it reads n servers per request; random choice
  and round robin read one; HAProxy's ``random(2)`` two.

Statistical checks use Z = 4 standard errors over 30 seeded replications (sim.replicate), so a
correct model fails one comparison with Student's t's chance beyond ±4 at 29 degrees of
freedom: about 1 in 2,500 (tests/_stats.py); every run is seeded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalekit import balancing, sim, theory
from scalekit.balancing.chokepoint import (
    DEFAULT_BASE_S,
    DEFAULT_PER_SERVER_S,
    ChokepointResult,
    ChokepointSweep,
    balance_through,
    balancer_capacity_rps,
    chokepoint_sweep,
    decision_s,
)

Z = 4.0


def poisson(rate: float, n: int, seed: int, work_s: float = 0.001) -> sim.Workload:
    return sim.Workload.poisson(rate, sim.Exponential(work_s), n=n, seed=seed)


# --------------------------------------------------------------------------- the balancer


@pytest.mark.parametrize("load", [0.5, 0.8])
def test_balancer_alone_is_an_md1_queue(load):
    """One core, Poisson arrivals, every decision d = 100 µs: M/D/1 (Pollaczek–Khinchine).
    The first 10 % of each run is warm-up (the queue starts empty)."""
    d = 100e-6
    rate = load / d

    def at_balancer(seed: int) -> float:
        w = poisson(rate, 6000, seed)
        r = balance_through(w, servers=20, policy="round_robin", base_s=d, per_server_s=0.0,
                            warmup_s=float(w.arrivals_at[600]), seed=seed)
        assert r.decision_s == d and r.balancer_wait_s == pytest.approx(r.balancer_mean_s - d)
        return r.balancer_mean_s

    mean, se = sim.replicate(at_balancer, 30, seed=1)
    assert abs(mean - theory.mg1_sojourn_s(rate, d, 0.0)) <= Z * se


@pytest.mark.parametrize("cores", [1, 2, 3, 7])
def test_cores_share_one_fifo_queue(cores):
    """c workers and one queue: the balancer's departures are exactly those of the
    engine's shared queue (M/D/c) fed the same arrivals with the decision as the work."""
    d = 300e-6
    w = poisson(0.9 * cores / d, 3000, seed=cores)
    r = balance_through(w, servers=4, policy="random", base_s=d, per_server_s=0.0,
                        cores=cores, seed=1)
    shared = sim.run(sim.Workload(w.arrivals_at, np.full(len(w), d)), servers=cores,
                     policy="shared")
    np.testing.assert_allclose(r.balanced_at, shared.departures_at, rtol=0, atol=1e-12)
    assert r.balancer_capacity_rps == pytest.approx(cores / d)


def test_more_cores_turn_an_overloaded_balancer_stable():
    d = 50e-6  # 20,000 decisions/s per core
    w = poisson(30_000.0, 20_000, seed=3, work_s=1e-4)  # servers: 100 × 10,000/s
    one, two = (balance_through(w, servers=100, policy="round_robin", base_s=d,
                                per_server_s=0.0, cores=c, seed=1) for c in (1, 2))
    assert one.unstable and one.saturated == "balancer" and one.balancer_load == 1.5
    assert not two.unstable and two.saturated == "none" and two.balancer_load == 0.75
    assert one.balancer_mean_s > 100 * two.balancer_mean_s


# --------------------------------------------------------------------------- what saturates


def test_throughput_stops_at_a_saturated_balancer():
    """Offered 2× the balancer's capacity, servers with room to spare: the balancer is busy
    from the first arrival on, so it passes exactly cores/d requests per second."""
    d = 100e-6  # 10,000/s
    w = poisson(20_000.0, 40_000, seed=5, work_s=1e-4)  # servers: 50 × 10,000/s
    r = balance_through(w, servers=50, policy="round_robin", base_s=d, per_server_s=0.0,
                        warmup_s=0.2, seed=1)
    assert (r.bottleneck, r.saturated, r.unstable) == ("balancer", "balancer", True)
    assert r.throughput_rps == pytest.approx(r.balancer_capacity_rps, rel=0.01)
    assert r.in_system > 0 and r.completed < r.arrived


@pytest.mark.parametrize(("rate", "saturated"), [(1600.0, "servers"), (12_000.0, "both")])
def test_throughput_stops_at_saturated_servers(rate, saturated):
    """8 servers of 10 ms (800/s) behind a 10,000/s balancer. Offered 1,600/s the servers
    saturate; offered 12,000/s the balancer does too, and still passes more than the
    servers take. Either way every server is busy throughout, and completions of a busy
    exponential server are Poisson: throughput = 800/s within Z·√(800/T)."""
    w = poisson(rate, int(rate * 10), seed=7, work_s=0.01)
    r = balance_through(w, servers=8, policy="round_robin", base_s=100e-6,
                        per_server_s=0.0, warmup_s=1.0, seed=1)
    assert r.bottleneck == "servers" and r.saturated == saturated and r.unstable
    window = r.horizon_s - r.warmup_s
    assert abs(r.throughput_rps - 800.0) <= Z * math.sqrt(800.0 / window) + 800.0 * 0.01
    assert r.throughput_rps <= min(r.balancer_capacity_rps, r.servers_capacity_rps) * 1.02


def test_stable_throughput_is_the_offered_rate():
    """Nothing saturated: every request gets through; throughput is the arrival count over
    the window, Poisson with mean λT."""
    w = poisson(2000.0, 20_000, seed=11, work_s=0.002)
    r = balance_through(w, servers=8, policy="fewest_connections", seed=2)
    assert r.saturated == "none" and not r.unstable
    assert r.servers_load == pytest.approx(0.5) and r.balancer_load < 0.1
    assert abs(r.throughput_rps - 2000.0) <= Z * math.sqrt(2000.0 / r.horizon_s) + 20.0


def test_unstable_runs_are_bounded_and_say_so():
    """A hundred times the capacity: the run still ends (its requests are finite), says
    "unstable", and its latency grows with the run's length — it describes this run only."""
    d = 1e-3  # 1,000/s
    short, long = (balance_through(poisson(100_000.0, n, seed=1), servers=4,
                                   policy="random", base_s=d, per_server_s=0.0, seed=1)
                   for n in (2_000, 8_000))
    for r in (short, long):
        assert r.unstable and r.saturated == "balancer" and r.balancer_load == 100.0
        assert r.in_system > 0 and math.isfinite(r.mean_s)
    assert long.mean_s > 3 * short.mean_s
    assert "unstable" in short._repr_html_()


# --------------------------------------------------------------------------- decision cost


@pytest.mark.parametrize(("name", "examined"), [
    ("random", lambda n: 1), ("round_robin", lambda n: 1), ("power_of_two", lambda n: 2),
    ("fewest_connections", lambda n: n), ("weighted_round_robin", lambda n: n),
    ("least_work", lambda n: n),
])
def test_decision_cost_is_base_plus_per_server_read(name, examined):
    base, per = 20e-6, 0.5e-6
    for n in (1, 10, 100, 1000):
        assert decision_s(name, n, base_s=base, per_server_s=per) == \
            pytest.approx(base + per * examined(n))
        assert balancer_capacity_rps(name, n, cores=4, base_s=base, per_server_s=per) == \
            pytest.approx(4 / (base + per * examined(n)))


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_fewest_connections_capacity_falls_as_one_over_n_random_stays_flat(n):
    """Measured, not just computed: offered 3× each policy's balancer capacity with servers
    that are never the limit, the throughput equals 1/(base + per_server × examined)."""
    base, per = 20e-6, 1e-6
    for name, examined in (("fewest_connections", n), ("random", 1)):
        cap = 1.0 / (base + per * examined)
        w = sim.Workload.poisson(3 * cap, sim.Deterministic(1e-6), n=1500, seed=n)
        r = balance_through(w, servers=n, policy=name, base_s=base, per_server_s=per,
                            warmup_s=float(w.arrivals_at[150]), seed=1)
        assert r.servers_examined == examined and r.saturated == "balancer"
        assert r.throughput_rps == pytest.approx(cap, rel=0.02)


def test_sweep_fewest_connections_saturates_the_balancer_first():
    """1000 servers of 30 ms (33,333/s). Fewest connections reads all 1000 per decision:
    1/(20 µs + 1000 × 0.1 µs) = 8,333/s, below the servers; random reads one: 49,751/s,
    above them. At 12,000/s only the fewest-connections balancer is saturated, and its
    throughput stops at its capacity."""
    sweep = chokepoint_sweep([4000.0, 12_000.0], servers=1000,
                             policies=["random", "fewest_connections"], mean_work_s=0.03,
                             requests=3000, seed=3)
    assert isinstance(sweep, ChokepointSweep)
    rnd, fc = sweep.index("random"), sweep.index("fewest_connections")
    assert sweep.balancer_capacity_rps[fc] == pytest.approx(1 / (DEFAULT_BASE_S + 1000 *
                                                                  DEFAULT_PER_SERVER_S))
    assert sweep.balancer_capacity_rps[rnd] == pytest.approx(1 / (DEFAULT_BASE_S +
                                                                   DEFAULT_PER_SERVER_S))
    assert sweep.bottleneck == ("servers", "balancer")
    assert sweep.balancer_bound == ("fewest_connections",)
    assert sweep.saturated[fc] == ("none", "balancer")
    assert sweep.saturated[rnd] == ("none", "none")
    assert sweep.unstable.tolist() == [[False, False], [False, True]]
    assert sweep.throughput_rps[fc, 1] <= sweep.balancer_capacity_rps[fc] * 1.01
    assert sweep.throughput_rps[rnd, 1] > 1.2 * sweep.throughput_rps[fc, 1]
    assert sweep.mean_s[fc, 1] > 2 * sweep.mean_s[rnd, 1]
    assert sweep.balancer_mean_s[fc, 1] > 100 * sweep.balancer_mean_s[rnd, 1]
    # Below saturation fewest connections is the faster one: it never queues behind a
    # busy server while another is idle.
    assert sweep.mean_s[fc, 0] < sweep.mean_s[rnd, 0]
    np.testing.assert_array_equal(sweep.saturation_rps,
                                  np.minimum(sweep.balancer_capacity_rps, 1000 / 0.03))


def test_sweep_default_rates_reach_past_the_last_saturation():
    sweep = chokepoint_sweep(servers=10, policies=["random"], mean_work_s=0.01,
                             requests=200, seed=1)
    assert sweep.rates_rps.size == 12
    assert sweep.rates_rps.max() == pytest.approx(1.2 * sweep.saturation_rps.max())
    assert sweep.saturated[0][-1] == "servers" and sweep.saturated[0][0] == "none"


# --------------------------------------------------------------------------- results


def test_end_to_end_is_balancer_plus_servers_for_every_request():
    w = poisson(3000.0, 5000, seed=2, work_s=0.002)
    r = balance_through(w, servers=10, policy="power_of_two", base_s=50e-6, seed=4)
    assert isinstance(r, ChokepointResult)
    assert r.mean_s == pytest.approx(r.balancer_mean_s + r.backend_mean_s, rel=1e-12)
    assert r.mean_s == pytest.approx(r.latencies_s.mean(), rel=1e-12)
    assert np.all(r.balanced_at >= r.arrivals_at + r.decision_s - 1e-12)
    assert np.all(r.departures_at >= r.balanced_at)
    assert r.server_of.min() >= 0 and r.server_of.max() <= 9
    assert r.arrived == r.completed + r.in_system
    assert r.p50_s <= r.p99_s


def test_server_speeds_set_the_servers_capacity():
    w = poisson(100.0, 500, seed=1, work_s=0.01)
    r = balance_through(w, speeds=[1.0, 2.0, 0.5], policy="fewest_connections", seed=1)
    assert r.servers == 3 and r.servers_capacity_rps == pytest.approx(3.5 / 0.01)


def test_policy_instances_are_accepted_and_named():
    w = poisson(500.0, 1000, seed=1)
    r = balance_through(w, servers=4, policy=balancing.PowerOfTwoChoices(3), seed=1)
    assert r.policy == "power_of_two" and r.servers_examined == 3


def test_same_seed_same_result():
    w = poisson(5000.0, 3000, seed=9)
    a, b = (balance_through(w, servers=8, policy="random", seed=5) for _ in range(2))
    c = balance_through(w, servers=8, policy="random", seed=6)
    assert repr(a) == repr(b)
    np.testing.assert_array_equal(a.departures_at, b.departures_at)
    assert not np.array_equal(a.server_of, c.server_of)
    s1, s2 = (chokepoint_sweep([100.0, 200.0], servers=4, mean_work_s=0.01, requests=300,
                               seed=2) for _ in range(2))
    np.testing.assert_array_equal(s1.mean_s, s2.mean_s)


def test_results_are_readable_frozen_values():
    r = balance_through(poisson(500.0, 500, seed=1), servers=2, seed=1)
    with pytest.raises(AttributeError):
        r.mean_s = 0.0
    text = repr(r)
    assert text.startswith("ChokepointResult(") and "balancer_capacity_rps=" in text
    assert "arrivals_at" not in text
    assert r._repr_html_().startswith("<table>")
    with pytest.raises(ValueError):
        r.departures_at[0] = 0.0  # read-only arrays
    sweep = chokepoint_sweep([100.0], servers=2, mean_work_s=0.01, requests=100, seed=1)
    assert "saturates at" in repr(sweep) and "<table>" in sweep._repr_html_()


# --------------------------------------------------------------------------- bad input


def _raises(exc, name, fn, *args, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert name in str(info.value), f"message {info.value!s} should name {name}"


W = poisson(100.0, 100, seed=0)


@pytest.mark.parametrize(("exc", "name", "kwargs"), [
    (ValueError, "base_s", {"base_s": -1e-6}),
    (ValueError, "base_s", {"base_s": 0.0}),
    (ValueError, "base_s", {"base_s": math.nan}),
    (TypeError, "base_s", {"base_s": "20us"}),
    (ValueError, "per_server_s", {"per_server_s": -1e-7}),
    (ValueError, "per_server_s", {"per_server_s": math.inf}),
    (ValueError, "cores", {"cores": 0}),
    (TypeError, "cores", {"cores": 1.5}),
    (ValueError, "cores", {"cores": 10**6}),
    (ValueError, "policy", {"policy": "fastest"}),
    (ValueError, "shared", {"policy": "shared"}),
    (TypeError, "policy", {"policy": 3}),
    (ValueError, "servers", {"servers": 0}),
    (ValueError, "speeds", {"speeds": [1.0, -2.0]}),
    (ValueError, "len(speeds)", {"servers": 3, "speeds": [1.0, 2.0]}),
    (ValueError, "warmup_s", {"warmup_s": 1e6}),
    (ValueError, "warmup_s", {"warmup_s": -1.0}),
    (ValueError, "seed", {"seed": -1}),
])
def test_balance_through_rejects_bad_input(exc, name, kwargs):
    _raises(exc, name, balance_through, W, **kwargs)


def test_balance_through_needs_a_workload():
    _raises(TypeError, "workload", balance_through, {"rate": 10}, servers=2)


@pytest.mark.parametrize(("exc", "name", "args", "kwargs"), [
    (ValueError, "rates_rps", ([],), {}),
    (ValueError, "rates_rps", ([100.0, 0.0],), {}),
    (TypeError, "rates_rps", ("fast",), {}),
    (ValueError, "policies", ([100.0],), {"policies": []}),
    (TypeError, "policies", ([100.0],), {"policies": "random"}),
    (ValueError, "policies", ([100.0],), {"policies": ["random", "random"]}),
    (ValueError, "policy", ([100.0],), {"policies": ["random", "smartest"]}),
    (ValueError, "requests", ([100.0],), {"requests": 5}),
    (ValueError, "mean_work_s", ([100.0],), {"mean_work_s": 0.0}),
    (ValueError, "service", ([100.0],), {"service": "gamma"}),
    (TypeError, "service", ([100.0],), {"service": 3}),
    (ValueError, "warmup", ([100.0],), {"warmup": 1.0}),
    (ValueError, "servers", ([100.0],), {"servers": 0}),
    (ValueError, "cores", ([100.0],), {"cores": 0}),
    (ValueError, "per_server_s", ([100.0],), {"per_server_s": -1.0}),
    (ValueError, "seed", ([100.0],), {"seed": -3}),
])
def test_sweep_rejects_bad_input(exc, name, args, kwargs):
    _raises(exc, name, chokepoint_sweep, *args, **kwargs)


@pytest.mark.parametrize(("exc", "name", "fn", "args", "kwargs"), [
    (ValueError, "servers", decision_s, ("random", 0), {}),
    (ValueError, "base_s", decision_s, ("random", 10), {"base_s": -1.0}),
    (ValueError, "policy", decision_s, ("nope", 10), {}),
    (ValueError, "cores", balancer_capacity_rps, ("random", 10), {"cores": 0}),
])
def test_cost_helpers_reject_bad_input(exc, name, fn, args, kwargs):
    _raises(exc, name, fn, *args, **kwargs)
