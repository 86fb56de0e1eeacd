"""Issue 18: every public callable of scalekit.views.balancing, given one bad value at a
time, refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a
reason listed here. The machinery and its rules: tests/_walk.py. (Views take model results;
the models' own parameters are walked in tests/test_api_balancing.py.)
"""

from __future__ import annotations

import functools

import _walk

PACKAGE = "scalekit.views.balancing"

V = "scalekit.views.balancing"


@functools.cache
def _sweep():
    from scalekit import balancing
    return balancing.chokepoint_sweep([200.0, 400.0], servers=4, policies=["round_robin"],
                                      requests=300, mean_work_s=0.005)


@functools.cache
def _failover():
    from scalekit import balancing
    return balancing.simulate_failover(crashes=20, seed=1)


@functools.cache
def _tradeoff():
    from scalekit import balancing
    return balancing.failover_tradeoff(missed=[2.0, 3.0], crashes=20, seed=1)


@functools.cache
def _failure():
    from scalekit import balancing, sim
    work = sim.Workload.poisson(30.0, sim.Exponential(0.1), horizon_s=6.0, seed=1)
    return balancing.simulate_backend_failure(work, crashed_at=2.0, recovered_at=4.0,
                                              servers=3, inter_s=0.5, seed=1)


@functools.cache
def _comparison():
    from scalekit import balancing
    return balancing.compare_policies(["random", "round_robin"],
                                      scenario=balancing.scenario(servers=3, requests=200))


@functools.cache
def _flows():
    from scalekit import balancing
    return balancing.compare_policies(balancing.SEED_POLICIES, servers=3, load=0.8,
                                      requests=60, seed=1)


EXAMPLES = {
    f"{V}.policies.animate_policies": lambda: {"comparison": _flows()},
    f"{V}.chokepoint.plot_chokepoint": lambda: {"sweep": _sweep()},
    f"{V}.failover.plot_failover": lambda: {"result": _failover()},
    f"{V}.failover.plot_failover_tradeoff": lambda: {"tradeoff": _tradeoff()},
    f"{V}.health.plot_backend_failure": lambda: {"result": _failure(), "bin_s": 0.5},
    f"{V}.policies.plot_policies": lambda: {"comparison": _comparison()},
    f"{V}.policies.explore_policies": lambda: {"requests": 500},
    f"{V}.policies.plot_supermarket": lambda: {"measured": {1: [(0.5, 2.0)], 2: [(0.5, 1.3)]},
                                               "choices": [1, 2], "loads": [0.3, 0.6, 0.9],
                                               "servers": 10},
}

ACCEPTED = {
    (f"{V}.health.plot_backend_failure", "bin_s"): {
        "None": "None: bins chosen from the run's length (documented)"},
    (f"{V}.policies.plot_supermarket", "measured"): {
        "None": "None: the theory curves only (documented)",
        "empty dict": "no simulated points: the theory curves only"},
    (f"{V}.policies.plot_supermarket", "loads"): {
        "None": "None: 120 loads from 0.05 to 0.98 (documented)"},
    (f"{V}.policies.plot_supermarket", "servers"): {
        "None": "None: the legend names no cluster size (documented)"},
}

SKIP = {
    **{f"{V}.{name}": "builds an interactive panel (no argument); its sliders bound every "
                      "value, and the model under it is walked in test_api_balancing.py"
       for name in ("chokepoint.explore_chokepoint", "failover.explore_failover",
                    "health.explore_backend_failure")},
    **{f"{V}.engines.{name}": "takes a result only a real-HAProxy run builds (seconds); its "
                              "type check comes first (views._common.expect)"
       for name in ("plot_policies_on_haproxy", "plot_health_check_on_haproxy")},
    **{f"{V}.engines.{name}": "starts real HAProxy and backends (seconds) to run the "
                              "experiment of balancing.engines, whose parameters "
                              "test_api_balancing.py walks; it passes them on unchanged"
       for name in ("run_policies_on_haproxy", "run_health_check_on_haproxy")},
}


def test_walk_api():
    _walk.assert_clean(__file__)
