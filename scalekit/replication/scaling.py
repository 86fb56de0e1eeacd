"""Read scaling: what replicas add to throughput — and why writes do not scale with them.

Every write runs on the one primary and is then replayed on every replica; reads can go to
any node. With ``replicas`` replicas, a share ``write_share`` of writes, each node able to do
``node_capacity_rps`` units of work per second, a read costing 1 unit anywhere, a write 1
unit on the primary and ``apply_cost`` units (replaying the change, ≤ 1: no parsing or
planning) on each replica, and reads spread evenly over all k + 1 nodes, a throughput X
loads

* the primary with  X·(w + (1 − w)/(k + 1)),
* each replica with X·(w·a + (1 − w)/(k + 1)),

so the most the cluster can take is X = C / max(both). With a ≤ 1 the primary is the limit,
X = C / (w + (1 − w)/(k + 1)): it grows with k but never past C / w — at 10% writes, ten times
one node, however many replicas. Units: requests per second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html

__all__ = ["ReadScaling", "read_scaling", "MAX_REPLICAS", "MAX_CAPACITY_RPS"]

MAX_REPLICAS = 1000
#: Highest node capacity (requests/s) — far above any real database, low enough that no
#: throughput overflows a float.
MAX_CAPACITY_RPS = 1e12


@dataclass(frozen=True, eq=False, repr=False)
class ReadScaling(_html.ScalarTable):
    """Throughput (requests/s) for 0, 1, …, ``max_replicas`` replicas; ``limit_rps`` the
    ceiling C / w that no number of replicas passes."""

    write_share: float
    node_capacity_rps: float
    apply_cost: float
    max_replicas: int
    limit_rps: float
    replicas: np.ndarray = field(repr=False)
    throughput_rps: np.ndarray = field(repr=False)
    bottleneck: tuple[str, ...] = field(repr=False)


def read_scaling(max_replicas: int = 10, *, write_share: float = 0.1,
                 node_capacity_rps: float = 1000.0, apply_cost: float = 1.0) -> ReadScaling:
    """The cluster's capacity for each replica count 0 … ``max_replicas`` (see the module)."""
    k_max = _check.integer("max_replicas", max_replicas, low=0, high=MAX_REPLICAS)
    w = _check.probability("write_share", write_share)
    c = _check.number("node_capacity_rps", node_capacity_rps, low=0.0, low_open=True,
                      high=MAX_CAPACITY_RPS)
    a = _check.number("apply_cost", apply_cost, low=0.0, high=1.0)
    k = np.arange(k_max + 1)
    reads = (1.0 - w) / (k + 1)
    primary = w + reads
    replica = np.where(k > 0, w * a + reads, 0.0)
    worst = np.maximum(primary, replica)
    throughput = np.where(worst > 0, c / np.where(worst > 0, worst, 1.0), np.inf)
    throughput.setflags(write=False)
    k.setflags(write=False)
    who = tuple("primary" if p >= r else "replicas" for p, r in zip(primary, replica,
                                                                    strict=True))
    return ReadScaling(write_share=w, node_capacity_rps=c, apply_cost=a, max_replicas=k_max,
                       limit_rps=c / w if w > 0 else float("inf"), replicas=k,
                       throughput_rps=throughput, bottleneck=who)
