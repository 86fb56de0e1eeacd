"""Issue 18: every public callable of scalekit.balancing, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery and its rules: tests/_walk.py.
"""

from __future__ import annotations

import functools

import numpy as np

import _walk

PACKAGE = "scalekit.balancing"

B = "scalekit.balancing"


def _workload():
    from scalekit import sim
    return sim.Workload.poisson(30.0, sim.Exponential(0.1), horizon_s=6.0, seed=1)


@functools.cache
def _failure():
    from scalekit import balancing
    return balancing.simulate_backend_failure(_workload(), crashed_at=2.0, recovered_at=4.0,
                                              servers=3, inter_s=0.5, seed=1)


@functools.cache
def _sweep():
    from scalekit import balancing
    return balancing.chokepoint_sweep([200.0, 400.0], servers=4, policies=["round_robin"],
                                      requests=300, mean_work_s=0.005)


def _state():
    from scalekit import sim
    return sim.ClusterState([1.0, 1.0, 1.0], np.random.default_rng(0))


def _scenario():
    from scalekit import balancing
    return balancing.scenario(servers=3, requests=200)


def _hash_policy(name: str):
    def make():
        from scalekit.balancing import policies
        p = getattr(policies, name)(clients=10)
        p.reset(3, 20, np.random.default_rng(0))
        return p
    return make


EXAMPLES = {
    f"{B}.chokepoint.balance_through": lambda: {"workload": _workload(), "servers": 3,
                                                "warmup_s": 0.5, "seed": 1},
    f"{B}.chokepoint.chokepoint_sweep": lambda: {
        "rates_rps": [200.0, 400.0], "servers": 4, "policies": ["round_robin"],
        "requests": 300, "mean_work_s": 0.005},
    f"{B}.chokepoint.ChokepointSweep.index": lambda: {"policy": "round_robin"},
    f"{B}.chokepoint.decision_s": lambda: {"policy": "fewest_connections", "servers": 10},
    f"{B}.chokepoint.balancer_capacity_rps": lambda: {"policy": "fewest_connections",
                                                      "servers": 10, "cores": 2},
    f"{B}.cluster.spread_speeds": lambda: {"servers": 4, "spread": 0.5},
    f"{B}.cluster.Scenario": lambda: {"workload": _workload(), "speeds": (1.0, 1.0),
                                      "load": 0.5, "cost": "exponential"},
    f"{B}.cluster.scenario": lambda: {"servers": 3, "requests": 200, "spread": 0.3},
    f"{B}.cluster.compare_policies": lambda: {"policies": ["random", "round_robin"],
                                              "scenario": _scenario()},
    f"{B}.cluster.supermarket_runs": lambda: {"loads": [0.5], "choices": [1, 2],
                                              "servers": 4, "requests": 300},
    f"{B}.failover.simulate_failover": lambda: {"crashes": 20, "seed": 1},
    f"{B}.failover.failover_tradeoff": lambda: {"missed": [2.0, 3.0], "crashes": 20,
                                                "seed": 1},
    f"{B}.failover.skew_time_s": lambda: {"interval_s": 1.0},
    f"{B}.failover.master_down_interval_s": lambda: {"interval_s": 1.0},
    f"{B}.failover.pair_config": lambda: {"interval_s": 1.0, "jitter_s": 0.1},
    f"{B}.health.simulate_backend_failure": lambda: {
        "workload": _workload(), "crashed_at": 2.0, "recovered_at": 4.0, "servers": 3,
        "inter_s": 0.5, "seed": 1},
    f"{B}.health.BackendFailureResult.timeline": lambda: {"bin_s": 0.5},
    f"{B}.policies.WeightedRoundRobin": lambda: {"weights": [3, 1]},
    f"{B}.policies.WeightedRoundRobin.order": lambda: {"n_requests": 8, "n_servers": 2},
    f"{B}.policies.PowerOfTwoChoices": lambda: {"choices": 2},
    f"{B}.policies.IpHash": lambda: {"clients": 10},
    f"{B}.policies.IpHash.server_for_address": lambda: {"address": "192.0.2.7",
                                                        "state": _state()},
    f"{B}.policies.ConsistentHash": lambda: {"clients": 10, "vnodes": 8},
    f"{B}.policies.ConsistentHash.server_for_address": lambda: {"address": "192.0.2.7",
                                                                "state": _state()},
    f"{B}.policies.balls_into_bins": lambda: {"balls": 100, "bins": 10, "seed": 1},
    f"{B}.policies.policy": lambda: {"policy": "round_robin"},
    f"{B}.policies.as_policy": lambda: {"policy": "round_robin"},
}

INSTANCES = {
    f"{B}.chokepoint.ChokepointSweep": _sweep,
    f"{B}.health.BackendFailureResult": _failure,
    f"{B}.policies.WeightedRoundRobin": lambda: _weighted(),
    f"{B}.policies.IpHash": _hash_policy("IpHash"),
    f"{B}.policies.ConsistentHash": _hash_policy("ConsistentHash"),
}


def _weighted():
    from scalekit.balancing import policies
    return policies.WeightedRoundRobin([3, 1])


NONE_SEED = {"None": "seed=None asks for fresh entropy (numpy's default_rng(None)), "
                     "documented"}

ACCEPTED = {
    **{(f"{B}.{name}", "seed"): NONE_SEED for name in (
        "chokepoint.balance_through", "cluster.scenario", "cluster.compare_policies",
        "cluster.supermarket_runs", "failover.simulate_failover", "failover.failover_tradeoff",
        "health.simulate_backend_failure", "policies.balls_into_bins")},
    (f"{B}.policies.ConsistentHash.server_for_address", "address"): {
        "string": "any text is a key on the ring (nginx hashes $remote_addr as text)"},
}

HOOK = ("a hook the dispatch loop calls with its own checked arguments (a policy subclass "
        "overrides it; the policy itself is checked where it enters: sim.run, Dispatcher)")
SKIP = {
    **{f"{B}.policies.{cls}.{hook}": HOOK
       for cls in ("RandomChoice", "RoundRobin", "WeightedRoundRobin", "FewestConnections",
                   "PowerOfTwoChoices", "LeastWork", "HashPolicy", "IpHash", "ConsistentHash")
       for hook in ("reset", "assign", "choose", "choose_again", "accepted", "rule",
                    "servers_examined")},
    f"{B}.chokepoint.ChokepointResult": "a result dataclass built only by balance_through",
    f"{B}.chokepoint.ChokepointSweep": "a result dataclass built only by chokepoint_sweep; "
                                       "its method is walked on one",
    f"{B}.cluster.Comparison": "a result built only by compare_policies",
    f"{B}.failover.FailoverResult": "a result dataclass built only by simulate_failover",
    f"{B}.failover.FailoverTradeoff": "a result dataclass built only by failover_tradeoff",
    f"{B}.health.BackendFailureResult": "a result dataclass built only by "
                                        "simulate_backend_failure; its method is walked on one",
    f"{B}.health.FailureTimeline": "a result dataclass built only by "
                                   "BackendFailureResult.timeline",
    f"{B}.engines.PolicyOnHaproxy": "a result dataclass built only by a real-HAProxy run",
    f"{B}.engines.HaproxyBalancing": "a result built only by a real-HAProxy run",
    f"{B}.engines.HealthCheckOnHaproxy": "a result built only by a real-HAProxy run",
    f"{B}.engines.policies_on_haproxy": "starts real HAProxy and backends per call (seconds, "
                                        "past the walk's 5 s a call); its refusals are tested "
                                        "in test_balancing_engines.py",
    f"{B}.engines.health_check_on_haproxy": "starts real HAProxy and backends per call "
                                            "(seconds); its refusals are tested in "
                                            "test_balancing_engines.py",
}


def test_walk_api():
    _walk.assert_clean(__file__)
