"""Servers: finite capacity, benchmarking, vertical vs horizontal scaling, autoscaling,
heartbeats — the models behind notebook 01.

One topic, split into modules of a few hundred lines each:

* :mod:`scalekit.servers.capacity` — ramp the load in steps until a latency SLO breaks;
* :mod:`scalekit.servers.httpbench` — the same, for real, against an HTTP server on 127.0.0.1;
* :mod:`scalekit.servers.scaling` — one big server vs many small ones; the Universal
  Scalability Law; what machines cost;
* :mod:`scalekit.servers.autoscaling` — a Kubernetes-style autoscaler following a traffic trace;
* :mod:`scalekit.servers.heartbeats` — how a balancer learns that a server died.

Every public name is re-exported here: ``from scalekit import servers;
servers.compare_scaling(4, load=0.8)``; the submodules stay importable on their own.
"""

from scalekit.servers.autoscaling import (
    MAX_SERVERS,
    MAX_STEPS,
    AutoscaleResult,
    AutoscaleSettings,
    HorizontalPodAutoscaler,
    autoscale,
    fixed_servers,
    hpa_desired_replicas,
)
from scalekit.servers.capacity import CapacityResult, RampStep, capacity_from_table, ramp
from scalekit.servers.heartbeats import (
    DETECTORS,
    MAX_BEATS,
    PAUSE_DISTRIBUTIONS,
    HeartbeatConfig,
    HeartbeatResult,
    TimeoutChoice,
    TimeoutTradeoff,
    choose_timeout,
    phi_timeout_s,
    simulate_heartbeats,
    timeout_for,
    timeout_tradeoff,
)
from scalekit.servers.httpbench import (
    MAX_RUN_S,
    BenchmarkResult,
    BenchServer,
    BenchStep,
    SingleRequest,
    benchmark,
    measure_single,
    run_load,
)
from scalekit.servers.scaling import (
    CostModel,
    FleetPlan,
    ScalingComparison,
    UslFit,
    compare_scaling,
    fit_usl,
)

__all__ = [
    # capacity
    "ramp",
    "capacity_from_table",
    "RampStep",
    "CapacityResult",
    # httpbench
    "benchmark",
    "run_load",
    "measure_single",
    "BenchServer",
    "BenchStep",
    "SingleRequest",
    "BenchmarkResult",
    "MAX_RUN_S",
    # scaling
    "compare_scaling",
    "fit_usl",
    "ScalingComparison",
    "UslFit",
    "CostModel",
    "FleetPlan",
    # autoscaling
    "autoscale",
    "fixed_servers",
    "hpa_desired_replicas",
    "HorizontalPodAutoscaler",
    "AutoscaleSettings",
    "AutoscaleResult",
    "MAX_STEPS",
    "MAX_SERVERS",
    # heartbeats
    "simulate_heartbeats",
    "timeout_tradeoff",
    "choose_timeout",
    "timeout_for",
    "phi_timeout_s",
    "HeartbeatConfig",
    "HeartbeatResult",
    "TimeoutTradeoff",
    "TimeoutChoice",
    "PAUSE_DISTRIBUTIONS",
    "DETECTORS",
    "MAX_BEATS",
]
