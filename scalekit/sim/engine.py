"""Who serves it: :func:`run` — a workload on a cluster, measured.

Two ways to feed the servers: one shared queue (:func:`scalekit.sim.queues.shared_queue`),
or a balancer policy in front of per-server FIFO queues, dispatched by the one event loop,
:class:`scalekit.sim.Dispatcher` (which takes its fast paths by itself). The package
docstring, :mod:`scalekit.sim`, explains the maths.
"""

from __future__ import annotations

from collections.abc import Sequence

from scalekit import _check
from scalekit.sim.core import DROPPED, Dispatcher
from scalekit.sim.policy import Policy
from scalekit.sim.queues import shared_queue
from scalekit.sim.results import Results, measure
from scalekit.sim.workload import Workload, rng

__all__ = ["run", "cluster_speeds", "MAX_CLUSTER_SERVERS"]

#: Most servers one cluster may have.
MAX_CLUSTER_SERVERS = 10_000


def run(
    workload: Workload,
    *,
    servers: int | None = None,
    speeds: Sequence[float] | None = None,
    policy: str | Policy = "shared",
    queue_limit: int | None = None,
    warmup_s: float = 0.0,
    seed: int | None = None,
    compiled: bool | None = None,
) -> Results:
    """Serve ``workload`` with a cluster and measure it.

    ``servers`` identical speed-1 servers (default 1), or ``speeds`` (one relative speed per
    server: 2.0 serves twice as fast). ``policy`` is ``"shared"`` (one FIFO queue feeding
    every server: M/M/c when arrivals and work are exponential) or a :class:`Policy`
    instance — :mod:`scalekit.balancing` has the real balancers' rules
    (``balancing.policy("fewest_connections")`` gives one by name). ``queue_limit`` caps the
    requests one server (or, when shared, the whole cluster) holds; arrivals beyond it are
    dropped. ``seed`` drives the policy's own randomness. ``compiled``: see
    :class:`Dispatcher` (None: the compiled loop when it can, same results either way).
    """
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload, got {type(workload).__name__}")
    speeds = cluster_speeds(servers, speeds)
    limit = None if queue_limit is None else _check.integer("queue_limit", queue_limit, low=1)
    warmup = _check.non_negative("warmup_s", warmup_s)
    if workload.horizon_s and warmup >= workload.horizon_s:
        raise ValueError(
            f"warmup_s ({warmup:g}) must be shorter than the workload's horizon "
            f"({workload.horizon_s:g} s)"
        )
    if compiled is not None:
        compiled = _check.boolean("compiled", compiled)
    gen = rng(seed)
    if isinstance(policy, str) and policy == "shared":
        departures, server_of, dropped = shared_queue(workload.arrivals_at, workload.work_s,
                                                      speeds, limit)
        name = "shared"
    elif isinstance(policy, Policy):
        log = Dispatcher(speeds, policy, gen, queue_limit=limit, compiled=compiled).serve(
            workload)
        departures, server_of, dropped = log.departures_at, log.server_of, log.outcome == DROPPED
        name = getattr(policy, "name", type(policy).__name__)
    else:
        raise TypeError(
            f"policy must be 'shared' or a scalekit.sim.Policy instance, got {policy!r}; "
            "for a policy by name use scalekit.balancing.policy(name)"
        )
    return measure(workload, departures, server_of, speeds, dropped, name, warmup)


def cluster_speeds(servers: int | None, speeds: Sequence[float] | None, *,
                   default: int = 1) -> tuple[float, ...]:
    """One relative speed per server: ``servers`` (``default`` when None) identical speed-1
    servers, or the given ``speeds`` (then ``servers``, if given, must agree)."""
    default = _check.integer("default", default, low=1, high=MAX_CLUSTER_SERVERS)
    if servers is not None:
        servers = _check.integer("servers", servers, low=1, high=MAX_CLUSTER_SERVERS)
    if speeds is None:
        n = default if servers is None else servers
        return (1.0,) * _check.integer("servers", n, low=1, high=MAX_CLUSTER_SERVERS)
    values = _check.array("speeds", speeds, low=0.0, low_open=True, min_len=1)
    if values.size > MAX_CLUSTER_SERVERS:
        raise ValueError(f"speeds must name at most {MAX_CLUSTER_SERVERS:,} servers, "
                         f"got {values.size:,}")
    if servers is not None and servers != values.size:
        raise ValueError(f"servers ({servers}) disagrees with len(speeds) ({values.size})")
    return tuple(float(v) for v in values)
