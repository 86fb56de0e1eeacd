"""Notebook 07 (capstone): a whole web application's design, from one server to a million
users — every tier evaluated by its own topic's model.

* :mod:`~scalekit.design.choices` — :class:`Traffic` (a day for a million users),
  :class:`Design` (the choice at each tier) and :class:`Prices` (the price list);
* :mod:`~scalekit.design.tiers` — each tier through its topic's model (HTTP caching,
  autoscaling, balancing, sessions, server-side caching, sharding, replication);
* :mod:`~scalekit.design.evaluate` — :func:`evaluate` composes them into a
  :class:`DesignResult` (latency by tier, requests per tier, cost, failures, growth);
  :func:`compare` runs several designs.
"""

from scalekit.design.choices import (
    BALANCER_POLICIES,
    COMMIT_MODES,
    EVICTIONS,
    MAX_KEYS,
    MAX_RPS,
    SESSION_STRATEGIES,
    SHARD_STRATEGIES,
    Design,
    Prices,
    Traffic,
)
from scalekit.design.evaluate import (
    BALANCER_REPAIR_S,
    CACHE_GET_MS,
    COMPONENTS,
    DB_RESTART_S,
    PROXY_HOP_MS,
    SERVER_RESTART_S,
    TIERS,
    VRRP_INTERVAL_S,
    DesignComparison,
    DesignResult,
    Failure,
    Rows,
    Tier,
    compare,
    evaluate,
)

__all__ = [
    "Traffic", "Design", "Prices", "BALANCER_POLICIES", "EVICTIONS", "SHARD_STRATEGIES",
    "SESSION_STRATEGIES", "COMMIT_MODES", "MAX_KEYS", "MAX_RPS",
    "TIERS", "COMPONENTS", "Rows", "Tier", "Failure", "DesignResult", "DesignComparison",
    "evaluate", "compare", "PROXY_HOP_MS", "CACHE_GET_MS", "BALANCER_REPAIR_S", "SERVER_RESTART_S",
    "DB_RESTART_S", "VRRP_INTERVAL_S",
]
