"""Issue 18: every public callable of scalekit.servers, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery and its rules: tests/_walk.py.

The HTTP benchmark's runners are walked on one real server started once for the walk (a
process of its own, stopped when the walk ends), with runs of a fraction of a second.
"""

from __future__ import annotations

import functools

import numpy as np

import _walk

PACKAGE = "scalekit.servers"

SV = "scalekit.servers"


def _trace():
    from scalekit import sim
    return sim.TrafficTrace(np.array([0.0, 300.0, 600.0]), np.array([20.0, 80.0, 20.0]))


def _service():
    from scalekit import sim
    return sim.Exponential(0.01)


@functools.cache
def _ramp():
    from scalekit.servers import capacity
    return capacity.ramp(_service(), rates_rps=[20.0, 60.0], slo_s=0.1, step_s=5.0, seed=1)


@functools.cache
def _server():
    from scalekit.servers import httpbench
    return httpbench.BenchServer(work_ms=0.5, max_lifetime_s=120.0).start()


@functools.cache
def _single():
    from scalekit.servers import httpbench
    return httpbench.measure_single(_server(), requests=10, warmup=1)


@functools.cache
def _bench():
    from scalekit.servers import httpbench
    return httpbench.benchmark(_server(), users=[1], step_s=0.2, requests=10)


def _config():
    from scalekit.servers import heartbeats
    return heartbeats.HeartbeatConfig(horizon_s=3_600.0, servers=2)


EXAMPLES = {
    f"{SV}.autoscaling.hpa_desired_replicas": lambda: {"current": 4, "metric": 0.9,
                                                       "target": 0.6, "max_replicas": 10},
    f"{SV}.autoscaling.HorizontalPodAutoscaler.sync": lambda: {
        "now_s": 15.0, "requested": 4, "ready": 3, "utilisation": 0.9},
    f"{SV}.autoscaling.HorizontalPodAutoscaler.recommend": lambda: {
        "requested": 4, "ready": 3, "utilisation": 0.9},
    f"{SV}.autoscaling.AutoscaleSettings": lambda: {"max_servers": 10, "seed": 1},
    f"{SV}.autoscaling.autoscale": lambda: {"trace": _trace(), "max_servers": 10, "seed": 1},
    f"{SV}.autoscaling.fixed_servers": lambda: {"trace": _trace(), "servers": 3, "seed": 1},
    f"{SV}.capacity.ramp": lambda: {"service": _service(), "rates_rps": [20.0, 60.0],
                                    "slo_s": 0.1, "step_s": 5.0, "seed": 1},
    f"{SV}.capacity.CapacityResult.column": lambda: {"name": "p95_s"},
    f"{SV}.capacity.capacity_from_table": lambda: {"offered_rps": [10.0, 20.0, 30.0],
                                                   "latency_s": [0.05, 0.08, 0.3],
                                                   "slo_s": 0.1},
    f"{SV}.heartbeats.HeartbeatConfig": lambda: {"horizon_s": 3_600.0, "servers": 2},
    f"{SV}.heartbeats.timeout_for": lambda: {"missed_beats": 3.0, "interval_s": 1.0},
    f"{SV}.heartbeats.phi_timeout_s": lambda: {"mean_s": 1.0, "std_s": 0.1},
    f"{SV}.heartbeats.simulate_heartbeats": lambda: {"config": _config(), "crashes": 20,
                                                     "seed": 1},
    f"{SV}.heartbeats.timeout_tradeoff": lambda: {"config": _config(),
                                                  "timeouts_s": [2.0, 3.0], "crashes": 20,
                                                  "seed": 1},
    f"{SV}.heartbeats.choose_timeout": lambda: {
        "max_detection_s": 5.0, "max_false_suspicions_per_hour": 1.0, "config": _config(),
        "timeouts_s": [2.0, 3.0, 4.0], "crashes": 20, "seed": 1},
    f"{SV}.httpbench.BenchServer": lambda: {"work_ms": 1.0},
    f"{SV}.httpbench.run_load": lambda: {"server": _server(), "users": 1, "duration_s": 0.2,
                                         "single": _single(), "max_requests": 20},
    f"{SV}.httpbench.measure_single": lambda: {"server": _server(), "requests": 10,
                                               "warmup": 1, "max_duration_s": 2.0},
    f"{SV}.httpbench.benchmark": lambda: {"server": _server(), "users": [1], "step_s": 0.2,
                                          "requests": 10},
    f"{SV}.httpbench.BenchmarkResult.column": lambda: {"name": "p95_s"},
    f"{SV}.httpbench.ramp_steps": lambda: {"users": [1, 2], "step_s": 0.5},
    f"{SV}.scaling.compare_scaling": lambda: {"factor": 2, "load": 0.7, "requests": 500,
                                              "seed": 1},
    f"{SV}.scaling.fit_usl": lambda: {"nodes": [1, 2, 4, 8],
                                      "throughput_rps": [100.0, 190.0, 330.0, 480.0]},
    f"{SV}.scaling.UslFit": lambda: {"sigma": 0.05, "kappa": 0.001, "single_node_rps": 100.0},
    f"{SV}.scaling.UslFit.throughput_rps": lambda: {"nodes": [1, 2, 4]},
    f"{SV}.scaling.CostModel.machine_rps": lambda: {"cores": 4},
    f"{SV}.scaling.CostModel.machine_price": lambda: {"cores": 4},
    f"{SV}.scaling.CostModel.vertical": lambda: {"demand_rps": 300.0},
    f"{SV}.scaling.CostModel.horizontal": lambda: {"demand_rps": 300.0},
}


def _hpa():
    from scalekit.servers import autoscaling
    return autoscaling.HorizontalPodAutoscaler(max_servers=10)


def _usl():
    from scalekit.servers import scaling
    return scaling.UslFit(0.05, 0.001, 100.0)


def _cost():
    from scalekit.servers import scaling
    return scaling.CostModel()


INSTANCES = {
    f"{SV}.autoscaling.HorizontalPodAutoscaler": _hpa,
    f"{SV}.capacity.CapacityResult": _ramp,
    f"{SV}.httpbench.BenchmarkResult": _bench,
    f"{SV}.scaling.UslFit": _usl,
    f"{SV}.scaling.CostModel": _cost,
}

NONE_SEED = {"None": "seed=None asks for fresh entropy (numpy's default_rng(None)), "
                     "documented"}

ACCEPTED = {
    **{(f"{SV}.{name}", "seed"): NONE_SEED for name in (
        "autoscaling.AutoscaleSettings", "autoscaling.autoscale", "autoscaling.fixed_servers",
        "capacity.ramp", "heartbeats.simulate_heartbeats", "heartbeats.timeout_tradeoff",
        "heartbeats.choose_timeout", "scaling.compare_scaling")},
    (f"{SV}.autoscaling.HorizontalPodAutoscaler.sync", "now_s"): {
        "negative": "an instant on the autoscaler's own clock; only going backwards from the "
                    "last sync is refused (documented)"},
    (f"{SV}.scaling.UslFit.throughput_rps", "nodes"): {
        "empty list": "no node counts asked about: an empty answer"},
}

SKIP = {
    f"{SV}.autoscaling.AutoscaleResult": "a result dataclass built only by autoscale",
    f"{SV}.capacity.RampStep": "a result row built only by ramp",
    f"{SV}.capacity.CapacityResult": "a result dataclass built only by ramp; its method is "
                                     "walked on one",
    f"{SV}.heartbeats.HeartbeatResult": "a result dataclass built only by "
                                        "simulate_heartbeats",
    f"{SV}.heartbeats.TimeoutTradeoff": "a result dataclass built only by timeout_tradeoff",
    f"{SV}.heartbeats.TimeoutChoice": "a result dataclass built only by choose_timeout",
    f"{SV}.httpbench.SingleRequest": "a result dataclass built only by measure_single",
    f"{SV}.httpbench.BenchStep": "a result row built only by run_load",
    f"{SV}.httpbench.BenchmarkResult": "a result built only by benchmark; its method is "
                                       "walked on one",
    f"{SV}.scaling.ScalingComparison": "a result dataclass built only by compare_scaling",
    f"{SV}.scaling.FleetPlan": "a plan built only by CostModel.vertical/horizontal",
}


def test_walk_api():
    _walk.assert_clean(__file__)
