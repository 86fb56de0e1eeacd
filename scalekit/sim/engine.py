"""Who serves it: FIFO servers, the balancer policy that picks one, and :func:`run`.

Three paths, from fastest: one shared queue (a heap of the instants servers free up); a
policy blind to live state (every server one vectorised FIFO queue, via
:func:`fifo_departures`); a policy that reads live state (one event loop). The package
docstring, :mod:`scalekit.sim`, explains the maths.
"""

from __future__ import annotations

import heapq
import math
import operator
from collections.abc import Sequence

import numpy as np

from scalekit import _check
from scalekit.sim.results import Results, _results
from scalekit.sim.workload import Workload, rng

# --------------------------------------------------------------------------- queues


def fifo_departures(arrivals_at, service_s) -> np.ndarray:
    """Departure instants of a FIFO single server (vectorised Lindley recursion).

    D_n = max(A_n, D_{n−1}) + S_n  ⇔  D = C + cummax(A − C_prev), with C = cumsum(S) and
    C_prev the same sum shifted by one (C_prev[0] = 0). ``arrivals_at`` (s) must be sorted,
    ``service_s`` (s) >= 0, both finite and of one length.
    """
    a = _check.array("arrivals_at", arrivals_at, sorted_=True)
    s = _check.array("service_s", service_s, low=0.0)
    if a.shape != s.shape:
        raise ValueError(f"arrivals_at and service_s differ in length: {a.size} vs {s.size}")
    return _lindley(a, s)


def _lindley(a: np.ndarray, s: np.ndarray) -> np.ndarray:
    """:func:`fifo_departures` on arrays already checked (the engine's hot path)."""
    if a.size == 0:
        return np.empty(0)
    c = np.cumsum(s)
    c_prev = c - s
    return c + np.maximum.accumulate(a - c_prev)


class ClusterState:
    """What a policy may read when it chooses: live counts, queues, health, speeds, clock.

    ``connections[i]`` is the number of requests at server i (in service or queued);
    ``busy_until[i]`` the instant server i's queue empties (≤ ``now`` when idle);
    ``up[i]`` whether the balancer currently sends to server i, and ``down`` how many it
    does not; ``speeds[i]`` its relative speed; ``now`` the arrival instant being
    dispatched; ``rng`` the run's random generator. Policies read it; only the event loop
    (and a health checker, through :meth:`mark`) changes it.
    """

    __slots__ = ("connections", "busy_until", "up", "down", "speeds", "now", "rng")

    def __init__(self, speeds: Sequence[float], gen: np.random.Generator):
        self.connections = [0] * len(speeds)
        self.busy_until = [0.0] * len(speeds)
        self.up = [True] * len(speeds)
        self.down = 0
        self.speeds = tuple(speeds)
        self.now = 0.0
        self.rng = gen

    @property
    def n_servers(self) -> int:
        return len(self.speeds)

    def available(self) -> list[int]:
        """Indices of the servers the balancer sends to."""
        return [i for i, ok in enumerate(self.up) if ok]

    def mark(self, server: int, up: bool) -> None:
        """Mark ``server`` up or down (what a health check decides)."""
        if self.up[server] != up:
            self.up[server] = up
            self.down += -1 if up else 1


class Policy:
    """A balancer's rule for choosing a server. Subclasses override one hook.

    * :meth:`choose` — the live decision, given a :class:`ClusterState`; returns a server index.
    * :meth:`assign` — optional: if the rule ignores live state, return every request's server
      at once (an int array) and the run is vectorised; return None to use the event loop.
    * :meth:`reset` — called once before a run (pre-draw random numbers here).
    * :meth:`servers_examined` — how many servers one decision reads: the balancer's own
      cost per request (a rule that inspects all n servers costs O(n)).
    """

    name = "policy"

    def reset(self, n_servers: int, n_requests: int, gen: np.random.Generator) -> None:
        pass

    def assign(self, n_requests: int, n_servers: int, gen: np.random.Generator):
        return None

    def choose(self, state: ClusterState) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement choose(state)")

    def servers_examined(self, n_servers: int) -> int:
        return n_servers  # unless a policy says otherwise, assume it reads every server

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# --------------------------------------------------------------------------- running


def run(
    workload: Workload,
    *,
    servers: int | None = None,
    speeds: Sequence[float] | None = None,
    policy: str | Policy = "shared",
    queue_limit: int | None = None,
    warmup_s: float = 0.0,
    seed: int | None = None,
) -> Results:
    """Serve ``workload`` with a cluster and measure it.

    ``servers`` identical speed-1 servers (default 1), or ``speeds`` (one relative speed per server:
    2.0 serves twice as fast). ``policy`` is ``"shared"`` (one FIFO queue feeding every
    server: M/M/c when arrivals and work are exponential), a policy name from
    :mod:`scalekit.balancing` (``"random"``, ``"round_robin"``, ``"fewest_connections"``) or a
    :class:`Policy` instance. ``queue_limit`` caps the requests one server (or, when shared,
    the whole cluster) holds; arrivals beyond it are dropped. ``seed`` drives the policy's
    own randomness.
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
    gen = rng(seed)
    if isinstance(policy, str) and policy == "shared":
        departures, server_of, dropped = _shared_queue(workload, speeds, limit)
        name = "shared"
    else:
        policy = as_policy(policy)
        departures, server_of, dropped = _dispatch(workload, speeds, policy, limit, gen)
        name = getattr(policy, "name", type(policy).__name__)
    return _results(workload, departures, server_of, speeds, dropped, name, warmup)


#: Most servers one cluster may have.
MAX_CLUSTER_SERVERS = 10_000


def cluster_speeds(servers: int | None, speeds: Sequence[float] | None, *,
                   default: int = 1) -> tuple[float, ...]:
    """One relative speed per server: ``servers`` (``default`` when None) identical speed-1
    servers, or the given ``speeds`` (then ``servers``, if given, must agree)."""
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


def as_policy(policy) -> Policy:
    """A :class:`Policy` instance as given, or a fresh one for a policy name."""
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str):
        from scalekit import balancing  # the policies live with their topic

        return balancing.policy(policy)
    raise TypeError(
        f"policy must be 'shared', a policy name or a Policy instance, got {policy!r}"
    )


def _shared_queue(workload: Workload, speeds, limit):
    """One FIFO queue, c servers: each request goes to the server that frees up first."""
    n = len(workload)
    departures = np.empty(n)
    server_of = np.full(n, -1, dtype=np.int64)
    dropped = np.zeros(n, dtype=bool)
    free = [(0.0, i) for i in range(len(speeds))]  # (instant the server is free, server)
    present: list[float] = []  # departure instants of requests in the system
    work = workload.work_s.tolist()
    for j, a in enumerate(workload.arrivals_at.tolist()):
        if limit is not None:
            while present and present[0] <= a:
                heapq.heappop(present)
            if len(present) >= limit:
                dropped[j] = True
                departures[j] = np.nan
                continue
        free_at, i = heapq.heappop(free)
        d = (a if a > free_at else free_at) + work[j] / speeds[i]
        heapq.heappush(free, (d, i))
        if limit is not None:
            heapq.heappush(present, d)
        departures[j] = d
        server_of[j] = i
    return departures, server_of, dropped


def _dispatch(workload: Workload, speeds, policy: Policy, limit, gen):
    n, k = len(workload), len(speeds)
    policy.reset(k, n, gen)
    assigned = None if limit is not None else policy.assign(n, k, gen)
    if assigned is not None:
        server_of = _check_assignment(policy, assigned, n, k)
        # Group requests by server (a stable sort keeps each server's arrival order), then
        # each server's contiguous slice is one vectorised FIFO queue.
        # (int16 keys let numpy use its radix sort: linear time.)
        keys = server_of.astype(np.int16) if k < 2**15 else server_of
        order = np.argsort(keys, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(np.bincount(server_of, minlength=k))))
        arrivals = workload.arrivals_at[order]
        work = workload.work_s[order] / np.asarray(speeds)[server_of[order]]
        grouped = np.empty(n)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            grouped[lo:hi] = _lindley(arrivals[lo:hi], work[lo:hi])
        departures = np.empty(n)
        departures[order] = grouped
        return departures, server_of, np.zeros(n, dtype=bool)
    return _event_loop(workload, speeds, policy, limit, gen)


def _check_assignment(policy, assigned, n, k) -> np.ndarray:
    out = np.asarray(assigned)
    if out.shape != (n,) or not np.issubdtype(out.dtype, np.integer):
        raise TypeError(f"{policy!r}.assign must return {n} integer server indices")
    if n and (out.min() < 0 or out.max() >= k):
        raise ValueError(f"{policy!r}.assign returned a server outside 0..{k - 1}")
    return out.astype(np.int64, copy=False)


def _event_loop(workload: Workload, speeds, policy: Policy, limit, gen):
    """Dispatch request by request; the policy sees live connection counts.

    The hot loop works on Python lists and floats (numpy scalars are slower one at a time)
    and turns them into arrays once at the end.
    """
    n, k = len(workload), len(speeds)
    state = ClusterState(speeds, gen)
    conns = state.connections
    choose = policy.choose
    last_departure = state.busy_until
    in_flight: list[tuple[float, int]] = []  # heap of (departure instant, server)
    departures = [math.nan] * n
    server_of = [-1] * n
    cap = limit if limit is not None else math.inf
    work = workload.work_s.tolist()
    pop, push = heapq.heappop, heapq.heappush
    for j, a in enumerate(workload.arrivals_at.tolist()):
        # 1. Requests that finished before this arrival leave their servers.
        while in_flight and in_flight[0][0] <= a:
            conns[pop(in_flight)[1]] -= 1
        # 2. The policy chooses, reading live state.
        state.now = a
        i = choose(state)
        if type(i) is not int or not 0 <= i < k:
            i = _server_index(policy, i, j, k)
        # 3. A full server refuses the request (it stays NaN / -1: dropped).
        if conns[i] >= cap:
            continue
        # 4. FIFO: the request starts when it arrives or when the one before it leaves.
        prev = last_departure[i]
        d = (a if a > prev else prev) + work[j] / speeds[i]
        last_departure[i] = d
        conns[i] += 1
        push(in_flight, (d, i))
        departures[j] = d
        server_of[j] = i
    server_arr = np.array(server_of, dtype=np.int64)
    return np.array(departures), server_arr, server_arr < 0


def _server_index(policy: Policy, i, j: int, k: int) -> int:
    """A policy's choice as a server index (numpy integers accepted), or a clear error."""
    try:
        index = operator.index(i)
    except TypeError:
        index = -1
    if not 0 <= index < k:
        raise ValueError(f"{policy!r}.choose returned {i!r} for request {j}; expected a "
                         f"server index in 0..{k - 1}")
    return index
