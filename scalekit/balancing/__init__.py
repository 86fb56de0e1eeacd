"""Load balancing: how a balancer picks a server, and what the balancer itself costs —
the models behind notebook 02.

* :mod:`scalekit.balancing.policies` — random, round robin, fewest connections and what the
  real balancers add (weights, power of two choices, hashing), each a small class;
  (balls into bins, the static picture of one choice against two, lives there too; the
  closed forms they are tested against are in :mod:`scalekit.theory`);
* :mod:`scalekit.balancing.cluster` — one scenario (servers, speeds, traffic, request
  costs) and every policy run on the same requests;
* :mod:`scalekit.balancing.chokepoint` — the balancer's own capacity, and what a smarter
  decision costs it;
* :mod:`scalekit.balancing.failover` — an active–passive balancer pair kept honest by
  heartbeats;
* :mod:`scalekit.balancing.health` — a backend dies mid-run; health checks (rise/fall)
  take it out.

The policies, the comparison and each model's entry point are re-exported here:
``from scalekit import balancing; balancing.RoundRobin()``.
"""

from scalekit.balancing.chokepoint import (
    ChokepointResult,
    ChokepointSweep,
    balance_through,
    chokepoint_sweep,
)
from scalekit.balancing.cluster import (
    COST_MIXES,
    Comparison,
    Scenario,
    compare_policies,
    scenario,
    spread_speeds,
    supermarket_runs,
)
from scalekit.balancing.failover import (
    FailoverResult,
    FailoverTradeoff,
    failover_tradeoff,
    master_down_interval_s,
    simulate_failover,
)
from scalekit.balancing.health import BackendFailureResult, simulate_backend_failure
from scalekit.balancing.policies import (
    POLICIES,
    SEED_POLICIES,
    ConsistentHash,
    FewestConnections,
    IpHash,
    LeastWork,
    PowerOfTwoChoices,
    RandomChoice,
    RoundRobin,
    WeightedRoundRobin,
    as_policy,
    balls_into_bins,
    policy,
)

__all__ = [
    "RandomChoice",
    "RoundRobin",
    "WeightedRoundRobin",
    "FewestConnections",
    "PowerOfTwoChoices",
    "LeastWork",
    "IpHash",
    "ConsistentHash",
    "balls_into_bins",
    "policy",
    "as_policy",
    "POLICIES",
    "SEED_POLICIES",
    "COST_MIXES",
    "Scenario",
    "scenario",
    "spread_speeds",
    "Comparison",
    "compare_policies",
    "supermarket_runs",
    "balance_through",
    "chokepoint_sweep",
    "ChokepointResult",
    "ChokepointSweep",
    "simulate_failover",
    "failover_tradeoff",
    "master_down_interval_s",
    "FailoverResult",
    "FailoverTradeoff",
    "simulate_backend_failure",
    "BackendFailureResult",
]
