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
* a policy that does (fewest connections) runs in one compact event loop: before each
  arrival the departures that already happened are popped from a heap, the policy reads the
  live connection counts and chooses, and the request's departure is known at once because
  its server is FIFO.

Three layers, one job each:

* :mod:`scalekit.sim.workload` — what arrives: seeded randomness, service-time
  distributions, Poisson and traced arrivals, the :class:`Workload`;
* :mod:`scalekit.sim.engine` — who serves it: the FIFO recursion, balancer policies and the
  state they read, and :func:`run`;
* :mod:`scalekit.sim.results` — what was measured: :class:`Results`, and the mean and
  standard error over seeded replications.

Units: seconds and requests per second. Everything random takes ``seed``; the same seed gives
the same result, bit for bit.
"""

from scalekit.sim.engine import ClusterState, Policy, fifo_departures, run
from scalekit.sim.results import Results, estimate, replicate
from scalekit.sim.workload import (
    MAX_REQUESTS,
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
    "Results",
    "run",
    "estimate",
    "replicate",
    "MAX_REQUESTS",
    "check_expected_requests",
]
