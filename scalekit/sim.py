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

Units: seconds and requests per second. Everything random takes ``seed``; the same seed gives
the same result, bit for bit.
"""

from __future__ import annotations

import heapq
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html

__all__ = [
    "rng",
    "ServiceTime",
    "Exponential",
    "Deterministic",
    "Pareto",
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
]

#: Upper bound on requests in one run: keeps memory bounded and nothing hangs.
MAX_REQUESTS = 5_000_000


def rng(seed: int | None = None) -> np.random.Generator:
    """A numpy random generator (PCG64) from ``seed`` (None: fresh entropy)."""
    return np.random.default_rng(_check.seed(seed))


# --------------------------------------------------------------------------- service times


class ServiceTime:
    """A distribution of work per request, in seconds on a speed-1 server.

    A variant overrides one hook, :meth:`sample`; ``mean_s`` and ``scv`` (squared
    coefficient of variation, Var/mean²) are what queueing formulas need.
    """

    name = "service time"
    scv = math.nan

    def __init__(self, mean_s: float):
        self.mean_s = _check.positive("mean_s", mean_s)

    def sample(self, n: int, gen: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean_s={self.mean_s:g})"


class Exponential(ServiceTime):
    """Exponential work (memoryless): the M in M/M/1. scv = 1."""

    name = "exponential"
    scv = 1.0

    def sample(self, n, gen):
        return gen.exponential(self.mean_s, n)


class Deterministic(ServiceTime):
    """Every request takes exactly ``mean_s``: the D in M/D/1. scv = 0."""

    name = "deterministic"
    scv = 0.0

    def sample(self, n, gen):
        return np.full(n, self.mean_s)


class Pareto(ServiceTime):
    """Heavy-tailed work: Pareto type II (Lomax) with tail index ``shape`` > 1.

    Most requests are short and a few are very long (a report, an export), as measured for
    web and file sizes. P(S > x) falls as x^(−shape); the variance is finite only for
    shape > 2, where scv = shape/(shape − 2). The default 2.5 gives scv = 5.
    """

    name = "pareto"

    def __init__(self, mean_s: float, shape: float = 2.5):
        super().__init__(mean_s)
        self.shape = _check.number("shape", shape, low=1.0, low_open=True)
        self.scale_s = self.mean_s * (self.shape - 1.0)
        self.scv = self.shape / (self.shape - 2.0) if self.shape > 2.0 else math.inf

    def sample(self, n, gen):
        return self.scale_s * gen.pareto(self.shape, n)

    def __repr__(self) -> str:
        return f"Pareto(mean_s={self.mean_s:g}, shape={self.shape:g})"


_SERVICE_TIMES = {cls.name: cls for cls in (Exponential, Deterministic, Pareto)}


def service_time(name: str, mean_s: float) -> ServiceTime:
    """A service-time distribution by name: 'exponential', 'deterministic' or 'pareto'."""
    return _SERVICE_TIMES[_check.choice("service", name, _SERVICE_TIMES)](mean_s)


def _service(value) -> ServiceTime:
    if isinstance(value, ServiceTime):
        return value
    raise TypeError(
        f"service must be a ServiceTime such as Exponential(mean_s=0.01), got {value!r}"
    )


# --------------------------------------------------------------------------- arrivals


@dataclass(frozen=True, eq=False)
class TrafficTrace:
    """Offered traffic over time: a rate in requests/s, linear between the given points.

    ``times_s`` must start at 0 and increase; ``rates_rps`` are >= 0 with at least one > 0.
    """

    times_s: np.ndarray
    rates_rps: np.ndarray

    def __post_init__(self):
        t = _check.array("times_s", self.times_s, low=0.0, min_len=2, sorted_=True)
        r = _check.array("rates_rps", self.rates_rps, low=0.0, min_len=2)
        if t.size != r.size:
            raise ValueError(f"times_s and rates_rps differ in length: {t.size} vs {r.size}")
        if t[0] != 0.0:
            raise ValueError(f"times_s must start at 0, got {t[0]!r}")
        if np.any(np.diff(t) == 0):
            raise ValueError("times_s must be strictly increasing")
        if not r.max() > 0:
            raise ValueError("rates_rps must have at least one rate > 0")
        for name, value in (("times_s", t), ("rates_rps", r)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def duration_s(self) -> float:
        return float(self.times_s[-1])

    @property
    def peak_rps(self) -> float:
        return float(self.rates_rps.max())

    def rate_at(self, t_s) -> np.ndarray:
        """The offered rate at instants ``t_s`` (requests/s)."""
        return np.interp(t_s, self.times_s, self.rates_rps)

    def expected_requests(self) -> float:
        """∫ rate dt over the trace: the expected number of arrivals."""
        return float(np.trapezoid(self.rates_rps, self.times_s))

    @classmethod
    def daily(
        cls,
        *,
        base_rps: float,
        peak_rps: float,
        days: float = 1.0,
        peak_hour: float = 14.0,
        spike_at_s: float | None = None,
        spike_rps: float = 0.0,
        spike_s: float = 600.0,
        step_s: float = 60.0,
    ) -> TrafficTrace:
        """A daily cycle (a cosine from ``base_rps`` at night to ``peak_rps`` at
        ``peak_hour``), plus an optional flash-crowd spike adding ``spike_rps`` for
        ``spike_s`` seconds from ``spike_at_s``. Sampled every ``step_s`` seconds."""
        base = _check.non_negative("base_rps", base_rps)
        peak = _check.positive("peak_rps", peak_rps)
        if peak < base:
            raise ValueError(f"peak_rps ({peak:g}) must be >= base_rps ({base:g})")
        days = _check.positive("days", days)
        hour = _check.number("peak_hour", peak_hour, low=0.0, high=24.0)
        step = _check.positive("step_s", step_s)
        duration = days * 86_400.0
        t = np.arange(0.0, duration + step / 2, step)
        phase = 2 * np.pi * (t / 86_400.0 - hour / 24.0)
        rate = base + (peak - base) * 0.5 * (1.0 + np.cos(phase))
        if spike_at_s is None and spike_rps:
            raise ValueError("spike_rps needs spike_at_s: when does the spike start?")
        if spike_at_s is not None:
            at = _check.number("spike_at_s", spike_at_s, low=0.0, high=duration)
            extra = _check.non_negative("spike_rps", spike_rps)
            length = _check.positive("spike_s", spike_s)
            rate = rate + np.where((t >= at) & (t < at + length), extra, 0.0)
        return cls(t, rate)


def poisson_arrivals(
    rate_rps: float,
    *,
    n: int | None = None,
    horizon_s: float | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Arrival instants of a Poisson process at ``rate_rps``: either the first ``n`` of
    them, or all of them before ``horizon_s`` (give exactly one)."""
    rate = _check.positive("rate_rps", rate_rps)
    gen = rng(seed)
    if (n is None) == (horizon_s is None):
        raise ValueError("give exactly one of n (a count) or horizon_s (a duration)")
    if n is not None:
        n = _check.integer("n", n, low=1, high=MAX_REQUESTS)
        return np.cumsum(gen.exponential(1.0 / rate, n))
    horizon = _check.positive("horizon_s", horizon_s)
    _check_expected("rate_rps * horizon_s", rate * horizon)
    count = gen.poisson(rate * horizon)
    # Given the count, Poisson arrival instants are uniform order statistics.
    return np.sort(gen.uniform(0.0, horizon, count))


def thinned_arrivals(trace: TrafficTrace, *, seed: int | None = None) -> np.ndarray:
    """Arrivals of a non-homogeneous Poisson process following ``trace``, by thinning
    (Lewis & Shedler 1979): candidates at the peak rate, each kept with probability
    rate(t)/peak."""
    if not isinstance(trace, TrafficTrace):
        raise TypeError(f"trace must be a TrafficTrace, got {type(trace).__name__}")
    gen = rng(seed)
    peak = trace.peak_rps
    _check_expected("trace peak_rps * duration_s", peak * trace.duration_s)
    count = gen.poisson(peak * trace.duration_s)
    candidates = np.sort(gen.uniform(0.0, trace.duration_s, count))
    keep = gen.uniform(0.0, peak, count) < trace.rate_at(candidates)
    return candidates[keep]


def _check_expected(what: str, expected: float) -> None:
    if expected > MAX_REQUESTS:
        raise ValueError(
            f"{what} = {expected:.3g} expected requests, more than the {MAX_REQUESTS:,} "
            "one run allows; shorten the horizon or lower the rate"
        )


@dataclass(frozen=True, eq=False)
class Workload:
    """Requests to serve: arrival instants (s) and work per request (s on a speed-1 server).

    ``arrival_rate_rps`` and ``mean_work_s`` are the declared averages the offered load is
    computed from (they default to the sample's own averages).
    """

    arrivals_at: np.ndarray
    work_s: np.ndarray
    arrival_rate_rps: float = math.nan
    mean_work_s: float = math.nan
    horizon_s: float = math.nan

    def __post_init__(self):
        a = _check.array("arrivals_at", self.arrivals_at, low=0.0, sorted_=True)
        w = _check.array("work_s", self.work_s, low=0.0)
        if a.size != w.size:
            raise ValueError(f"arrivals_at and work_s differ in length: {a.size} vs {w.size}")
        if a.size > MAX_REQUESTS:
            raise ValueError(f"at most {MAX_REQUESTS:,} requests per run, got {a.size:,}")
        horizon = self.horizon_s if not math.isnan(self.horizon_s) else (a[-1] if a.size else 0.0)
        rate = self.arrival_rate_rps
        if math.isnan(rate):
            rate = a.size / horizon if horizon > 0 else 0.0
        mean = self.mean_work_s if not math.isnan(self.mean_work_s) else (
            float(w.mean()) if w.size else 0.0)
        for name, value in (("arrivals_at", a), ("work_s", w)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "horizon_s", float(horizon))
        object.__setattr__(self, "arrival_rate_rps", float(rate))
        object.__setattr__(self, "mean_work_s", float(mean))

    def __len__(self) -> int:
        return int(self.arrivals_at.size)

    @classmethod
    def poisson(
        cls,
        rate_rps: float,
        service: ServiceTime,
        *,
        n: int | None = None,
        horizon_s: float | None = None,
        seed: int | None = None,
    ) -> Workload:
        """Poisson arrivals at ``rate_rps`` with work drawn from ``service``."""
        service = _service(service)
        gen = rng(seed)
        arrivals = poisson_arrivals(
            rate_rps, n=n, horizon_s=horizon_s, seed=int(gen.integers(2**63))
        )
        work = service.sample(arrivals.size, gen)
        return cls(arrivals, work, rate_rps, service.mean_s,
                   horizon_s if horizon_s is not None else math.nan)

    @classmethod
    def from_trace(
        cls, trace: TrafficTrace, service: ServiceTime, *, seed: int | None = None
    ) -> Workload:
        """Arrivals following a traffic trace (thinning), work drawn from ``service``."""
        service = _service(service)
        gen = rng(seed)
        arrivals = thinned_arrivals(trace, seed=int(gen.integers(2**63)))
        work = service.sample(arrivals.size, gen)
        rate = trace.expected_requests() / trace.duration_s
        return cls(arrivals, work, rate, service.mean_s, trace.duration_s)


# --------------------------------------------------------------------------- queues


def fifo_departures(arrivals_at, service_s) -> np.ndarray:
    """Departure instants of a FIFO single server (vectorised Lindley recursion).

    D_n = max(A_n, D_{n−1}) + S_n  ⇔  D = C + cummax(A − C_prev), with C = cumsum(S) and
    C_prev the same sum shifted by one (C_prev[0] = 0).
    """
    a = np.asarray(arrivals_at, dtype=float)
    s = np.asarray(service_s, dtype=float)
    if a.shape != s.shape:
        raise ValueError(f"arrivals_at and service_s differ in shape: {a.shape} vs {s.shape}")
    if a.size == 0:
        return np.empty(0)
    c = np.cumsum(s)
    c_prev = c - s
    return c + np.maximum.accumulate(a - c_prev)


class ClusterState:
    """What a policy may read when it chooses: live counts, speeds and the clock.

    ``connections[i]`` is the number of requests at server i (in service or queued);
    ``speeds[i]`` its relative speed; ``now`` the arrival instant being dispatched.
    Policies read it; only the event loop changes it.
    """

    __slots__ = ("connections", "speeds", "now", "rng")

    def __init__(self, speeds: Sequence[float], gen: np.random.Generator):
        self.connections = [0] * len(speeds)
        self.speeds = tuple(speeds)
        self.now = 0.0
        self.rng = gen

    @property
    def n_servers(self) -> int:
        return len(self.speeds)


class Policy:
    """A balancer's rule for choosing a server. Subclasses override one hook.

    * :meth:`choose` — the live decision, given a :class:`ClusterState`; returns a server index.
    * :meth:`assign` — optional: if the rule ignores live state, return every request's server
      at once (an int array) and the run is vectorised; return None to use the event loop.
    * :meth:`reset` — called once before a run (pre-draw random numbers here).
    """

    name = "policy"

    def reset(self, n_servers: int, n_requests: int, gen: np.random.Generator) -> None:
        pass

    def assign(self, n_requests: int, n_servers: int, gen: np.random.Generator):
        return None

    def choose(self, state: ClusterState) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement choose(state)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class Results:
    """What one run measured, over the window [warmup_s, horizon_s].

    Latency statistics cover requests that arrived after the warm-up and finished by the
    horizon. ``arrived = completed + in_system + dropped`` counts every request that arrived
    before the horizon. ``unstable`` is True when the offered load (arrival rate × mean work
    ÷ total speed) is >= 1: then no steady state exists and the latencies grow with the run
    length — they describe this run only.
    """

    policy: str
    servers: int
    mean_work_s: float
    offered_load: float
    unstable: bool
    arrived: int
    completed: int
    in_system: int
    dropped: int
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    throughput_rps: float
    utilisation: tuple[float, ...]
    horizon_s: float
    warmup_s: float
    arrivals_at: np.ndarray = field(repr=False)
    departures_at: np.ndarray = field(repr=False)
    server_of: np.ndarray = field(repr=False)
    speeds: tuple[float, ...] = field(repr=False, default=())

    @property
    def latencies_s(self) -> np.ndarray:
        """Time in system of the requests the statistics cover."""
        a, d = self.arrivals_at, self.departures_at
        mask = (a >= self.warmup_s) & (d <= self.horizon_s)
        return d[mask] - a[mask]

    @property
    def imbalance(self) -> float:
        """max/mean of per-server utilisation (1.0 = perfectly even)."""
        u = np.asarray(self.utilisation)
        return float(u.max() / u.mean()) if u.size and u.mean() > 0 else math.nan

    def in_system_at(self, times_s, server: int | None = None) -> np.ndarray:
        """Requests present (queued or in service) at each instant, per server or total."""
        t = np.asarray(times_s, dtype=float)
        served = ~np.isnan(self.departures_at)
        if server is not None:
            served &= self.server_of == server
        a = np.sort(self.arrivals_at[served])
        d = np.sort(self.departures_at[served])
        return np.searchsorted(a, t, side="right") - np.searchsorted(d, t, side="right")

    def summary(self) -> dict:
        keys = ("policy", "servers", "offered_load", "unstable", "arrived", "completed",
                "in_system", "dropped", "mean_s", "p50_s", "p95_s", "p99_s", "throughput_rps")
        out = {k: getattr(self, k) for k in keys}
        out["max_utilisation"] = max(self.utilisation) if self.utilisation else math.nan
        return out

    def _repr_html_(self) -> str:
        note = ("unstable: offered load ≥ capacity — the queue grows without bound; "
                "latencies depend on how long the run is.") if self.unstable else ""
        return _html.key_value_table(self.summary(), note)


def _results(
    workload: Workload, departures, server_of, speeds, dropped_mask, policy_name, warmup_s,
) -> Results:
    a = workload.arrivals_at
    horizon = workload.horizon_s
    speeds = tuple(float(s) for s in speeds)
    d = np.where(dropped_mask, np.nan, departures)
    inside = a <= horizon
    done = inside & (d <= horizon)
    arrived = int(inside.sum())
    completed = int(done.sum())
    dropped = int((inside & dropped_mask).sum())
    measured = done & (a >= warmup_s)
    lat = d[measured] - a[measured]
    if lat.size:
        mean = float(lat.mean())
        p50, p95, p99 = (float(x) for x in np.percentile(lat, [50, 95, 99]))
    else:
        mean = p50 = p95 = p99 = math.nan
    window = horizon - warmup_s
    finished = done & (d >= warmup_s)
    throughput = float(finished.sum() / window) if window > 0 else math.nan
    served = ~dropped_mask
    who = server_of[served]
    end = d[served]
    start = end - workload.work_s[served] / np.asarray(speeds)[who]
    busy = np.clip(end, warmup_s, horizon) - np.clip(start, warmup_s, horizon)
    busy_s = np.bincount(who, weights=busy, minlength=len(speeds))
    util = [float(b / window) if window > 0 else math.nan for b in busy_s]
    load = workload.arrival_rate_rps * workload.mean_work_s / sum(speeds)
    return Results(
        policy=policy_name, servers=len(speeds), mean_work_s=workload.mean_work_s,
        offered_load=float(load),
        unstable=bool(load >= 1.0), arrived=arrived, completed=completed,
        in_system=arrived - completed - dropped, dropped=dropped, mean_s=mean, p50_s=p50,
        p95_s=p95, p99_s=p99, throughput_rps=throughput, utilisation=tuple(util),
        horizon_s=float(horizon), warmup_s=float(warmup_s), arrivals_at=a,
        departures_at=d, server_of=server_of, speeds=speeds,
    )


# --------------------------------------------------------------------------- running


def run(
    workload: Workload,
    *,
    servers: int = 1,
    speeds: Sequence[float] | None = None,
    policy: str | Policy = "shared",
    queue_limit: int | None = None,
    warmup_s: float = 0.0,
    seed: int | None = None,
) -> Results:
    """Serve ``workload`` with a cluster and measure it.

    ``servers`` identical speed-1 servers, or ``speeds`` (one relative speed per server:
    2.0 serves twice as fast). ``policy`` is ``"shared"`` (one FIFO queue feeding every
    server: M/M/c when arrivals and work are exponential), a policy name from
    :mod:`scalekit.balancing` (``"random"``, ``"round_robin"``, ``"fewest_connections"``) or a
    :class:`Policy` instance. ``queue_limit`` caps the requests one server (or, when shared,
    the whole cluster) holds; arrivals beyond it are dropped. ``seed`` drives the policy's
    own randomness.
    """
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload, got {type(workload).__name__}")
    speeds = _speeds(servers, speeds)
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
        policy = _policy(policy)
        departures, server_of, dropped = _dispatch(workload, speeds, policy, limit, gen)
        name = getattr(policy, "name", type(policy).__name__)
    return _results(workload, departures, server_of, speeds, dropped, name, warmup)


def _speeds(servers, speeds) -> tuple[float, ...]:
    if speeds is None:
        n = _check.integer("servers", servers, low=1, high=10_000)
        return (1.0,) * n
    values = _check.array("speeds", speeds, low=0.0, low_open=True, min_len=1)
    if servers != 1 and servers != values.size:
        raise ValueError(f"servers ({servers}) disagrees with len(speeds) ({values.size})")
    return tuple(float(v) for v in values)


def _policy(policy) -> Policy:
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
            grouped[lo:hi] = fifo_departures(arrivals[lo:hi], work[lo:hi])
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
    last_departure = [0.0] * k
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


# --------------------------------------------------------------------------- statistics


def estimate(values) -> tuple[float, float]:
    """Mean of replications and its standard error (sample std / √n).

    Use the standard error to judge a simulation against theory: a difference of more than
    about 3–4 standard errors is evidence of a real discrepancy, not noise.
    """
    x = _check.array("values", values, min_len=2)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def replicate(
    fn: Callable[[int], float], replications: int, *, seed: int = 0
) -> tuple[float, float]:
    """Run ``fn(seed_i)`` for ``replications`` independent seeds; return (mean, standard error)."""
    reps = _check.integer("replications", replications, low=2, high=10_000)
    base = _check.integer("seed", seed, low=0)
    seeds = np.random.SeedSequence(base).generate_state(reps)
    return estimate([float(fn(int(s))) for s in seeds])
