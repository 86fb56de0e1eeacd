"""The shared simulation engine: workloads, FIFO queues, one event loop, one results type.

What is modelled: requests arrive (Poisson at a constant rate, or at a rate that follows a
traffic trace); each carries an amount of work, in seconds on a speed-1 server; servers serve
their requests first-in first-out, one at a time. A cluster either shares one queue (every
idle server takes the next request: a worker pool pulling from one socket) or gives each
server its own queue and lets a balancer *policy* choose a server for every request.

How it is computed:

* a FIFO single server is Lindley's recursion D_n = max(A_n, D_{n−1}) + S_n, which has the
  closed form D = C + cummax(A − C_prev) with C the running sum of service times — one
  vectorised numpy pass, no Python loop;
* a policy that does not look at live state (random choice, round robin) assigns every
  request up front, so each server is again one vectorised FIFO queue;
* a policy that does (fewest connections) runs in the one event loop,
  :class:`Dispatcher`: before each arrival everything due is taken from one heap —
  departures, scheduled events (a crash, a recovery, a health check's mark), retries of
  refused requests — then the policy reads the live connection counts and chooses, and the
  request's departure is known at once because its server is FIFO;
* the same loop compiled with numba runs a built-in policy's :class:`Rule` when nothing is
  scheduled (:mod:`scalekit.sim.compiled`): the same numbers bit for bit, a few hundred times
  faster than a SimPy model of the cluster (``python -m benchmarks --only queues``).

Layers, one job each:

* :mod:`scalekit.sim.workload` — what arrives: seeded randomness, service-time
  distributions, Poisson and traced arrivals, the :class:`Workload`;
* :mod:`scalekit.sim.policy` — what a balancer policy reads (:class:`ClusterState`) and the
  hooks it overrides (:class:`Policy`); :class:`Rule`, a decision the compiled loop runs;
* :mod:`scalekit.sim.core` — the one dispatch loop, :class:`Dispatcher`: one calendar heap
  (departures, scheduled :class:`Crash`/:class:`Recover`/:class:`MarkDown`/:class:`MarkUp`
  events, retries of refused requests); health checks and sessions are models on it;
* :mod:`scalekit.sim.queues` — FIFO queues in closed form, and the shared queue;
* :mod:`scalekit.sim.compiled` — the same loop compiled with numba (when installed), for the
  policies that give a :class:`Rule`: bit for bit the Python loop's results, much faster;
* :mod:`scalekit.sim.engine` — :func:`run`: a workload on a cluster, measured;
* :mod:`scalekit.sim.results` — what was measured: :class:`Results`, and the mean and
  standard error over seeded replications.

``sim`` imports no topic: policies by name live in :mod:`scalekit.balancing`.

Units: seconds and requests per second. Everything random takes ``seed``; the same seed gives
the same result, bit for bit.
"""

from scalekit.sim.core import (
    DROPPED,
    LOST,
    OUTCOMES,
    REFUSED,
    SERVED,
    UNAVAILABLE,
    Crash,
    Dispatch,
    Dispatcher,
    Event,
    MarkDown,
    MarkUp,
    Recover,
)
from scalekit.sim.engine import MAX_CLUSTER_SERVERS, cluster_speeds, run
from scalekit.sim.policy import Assigned, ClusterState, Policy, Rule
from scalekit.sim.queues import fifo_departures
from scalekit.sim.results import Results, bin_edges, estimate, imbalance, replicate
from scalekit.sim.workload import (
    MAX_REQUESTS,
    SERVICE_TIMES,
    Deterministic,
    Exponential,
    Pareto,
    Reports,
    ServiceTime,
    TrafficTrace,
    Workload,
    check_expected_requests,
    poisson_arrivals,
    rng,
    service_time,
    thinned_arrivals,
)

__all__ = [
    "rng",
    "ServiceTime",
    "Exponential",
    "Deterministic",
    "Pareto",
    "Reports",
    "service_time",
    "TrafficTrace",
    "poisson_arrivals",
    "thinned_arrivals",
    "Workload",
    "fifo_departures",
    "Policy",
    "ClusterState",
    "Rule",
    "Assigned",
    "Dispatcher",
    "Dispatch",
    "Event",
    "Crash",
    "Recover",
    "MarkDown",
    "MarkUp",
    "OUTCOMES",
    "SERVED",
    "REFUSED",
    "LOST",
    "UNAVAILABLE",
    "DROPPED",
    "Results",
    "run",
    "cluster_speeds",
    "MAX_CLUSTER_SERVERS",
    "bin_edges",
    "imbalance",
    "estimate",
    "replicate",
    "MAX_REQUESTS",
    "SERVICE_TIMES",
    "check_expected_requests",
]
