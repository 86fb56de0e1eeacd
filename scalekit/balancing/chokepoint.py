"""The balancer as a chokepoint: every request waits for the balancer before any server.

The real mechanism. A software L7 balancer (HAProxy, nginx) spends CPU on every request:
it parses it, picks a server and forwards it. HAProxy forwarded 1.03 million HTTP
requests/s on an 8-core Xeon W-2145 and 2.04 million on a 64-core Graviton2 (HAProxy blog,
"HAProxy forwards over 2 million HTTP requests per second on a single Arm-based AWS
Graviton2 instance", 2021): about 32,000 requests/s per Graviton2 core and 64,000 per
Xeon hardware thread (16 threads on 8 cores), 15–31 µs each. The
pick itself costs more when the rule reads more servers: nginx's ``least_conn`` walks every
peer (O(n)); random or round robin reads one. Reading one server's state costs about a
main-memory reference, ~100 ns (Dean, "Latency numbers every programmer should know").
So a smarter rule can make the balancer, not the servers, the first thing to saturate.

What is modelled:

* the balancer is a FIFO queue served by ``cores`` workers sharing it; every request needs
  one decision of ``decision_s = base_s + per_server_s × policy.servers_examined(n)``
  seconds (deterministic: the same work for every request). With Poisson arrivals one core
  is an M/D/1 queue (Pollaczek–Khinchine), c cores M/D/c. Its capacity is
  ``cores / decision_s`` requests/s;
* with equal service times FIFO workers finish in arrival order, so request j starts when
  it arrives or when request j − c leaves, D_j = max(A_j, D_{j−c}) + d: c independent
  Lindley recursions, each computed by :func:`scalekit.sim.fifo_departures`;
* the requests leave the balancer (in order) and arrive at the servers, where the policy
  chooses a server for each, reading the cluster as it is at that instant: one
  :func:`scalekit.sim.run` of the cluster. The servers' capacity is Σ speeds ÷ mean work;
* end-to-end latency = departure from the server − arrival at the balancer. Latency
  statistics cover every request that arrived in [warmup_s, horizon], followed to its
  departure (nothing is dropped, so the run drains: a slow request is not left out for
  being slow); throughput counts the departures inside [warmup_s, horizon].

Unstable: when the offered rate reaches the balancer's capacity, or the rate it lets
through reaches the servers', no steady state exists. The run is still bounded (the
workload holds a finite number of requests): the result says ``unstable`` and which stage
saturated, and its latencies describe this run only — they grow with its length.

Units: seconds and requests per second. Everything random takes ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html, sim
from scalekit.balancing.policies import POLICIES, SEED_POLICIES, as_policy

__all__ = [
    "ChokepointResult", "ChokepointSweep", "balance_through", "chokepoint_sweep",
    "decision_s", "balancer_capacity_rps", "DEFAULT_BASE_S", "DEFAULT_PER_SERVER_S",
    "MAX_CORES",
]

#: One decision's fixed cost (s): parse, pick, forward — ≈ 50,000 requests/s per core, the
#: order HAProxy reaches per CPU thread (32,000–64,000/s; see the module docstring).
DEFAULT_BASE_S = 20e-6
#: The extra cost (s) of reading one more server's state: ≈ one main-memory reference.
DEFAULT_PER_SERVER_S = 0.1e-6
#: Most balancer workers one run accepts (HAProxy's nbthread tops out at 64 per group).
MAX_CORES = 1024


# --------------------------------------------------------------------------- costs


def _policy(value) -> sim.Policy:
    """A fresh policy for a name, or the given instance; "shared" has no balancer."""
    if isinstance(value, sim.Policy):
        return value
    if isinstance(value, str) and value == "shared":
        raise ValueError("policy 'shared' has no balancer (the servers pull from one "
                         f"queue); choose one of {', '.join(map(repr, POLICIES))}")
    return as_policy(value)


def _name(policy: sim.Policy) -> str:
    return getattr(policy, "name", type(policy).__name__)


def _costs(base_s, per_server_s) -> tuple[float, float]:
    return (_check.positive("base_s", base_s),
            _check.non_negative("per_server_s", per_server_s))


def decision_s(policy: str | sim.Policy, servers: int, *, base_s: float = DEFAULT_BASE_S,
               per_server_s: float = DEFAULT_PER_SERVER_S) -> float:
    """Seconds one decision takes: ``base_s + per_server_s × servers examined``."""
    base, per = _costs(base_s, per_server_s)
    n = _check.integer("servers", servers, low=1, high=10_000)
    return base + per * _policy(policy).servers_examined(n)


def balancer_capacity_rps(policy: str | sim.Policy, servers: int, *, cores: int = 1,
                          base_s: float = DEFAULT_BASE_S,
                          per_server_s: float = DEFAULT_PER_SERVER_S) -> float:
    """Requests/s the balancer can decide: ``cores / decision_s``. Falls as 1/(base +
    per_server × n) for a rule that reads all n servers; flat for one that reads one."""
    c = _check.integer("cores", cores, low=1, high=MAX_CORES)
    return c / decision_s(policy, servers, base_s=base_s, per_server_s=per_server_s)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False, repr=False)
class ChokepointResult(_html.ScalarTable):
    """What one run through balancer and servers measured. Durations in s, rates in 1/s.

    ``decision_s`` is one decision's cost and ``servers_examined`` how many servers it
    reads; ``balancer_capacity_rps`` = cores / decision_s and ``servers_capacity_rps`` =
    Σ speeds / mean work. ``bottleneck`` names the stage with less capacity (what caps
    throughput); ``saturated`` what this offered rate saturates: "none", "balancer",
    "servers" or "both" (the servers also saturate on what the balancer lets through).
    ``balancer_load`` = offered / balancer capacity; ``servers_load`` = the rate the
    balancer passes (at most its capacity) / servers' capacity. ``balancer_mean_s`` is the
    time at the balancer (queueing + deciding), ``balancer_wait_s`` the queueing alone,
    ``backend_mean_s`` the time at the servers; the three cover the same requests, so
    ``mean_s`` = ``balancer_mean_s`` + ``backend_mean_s``.
    """

    policy: str
    servers: int
    cores: int
    servers_examined: int
    decision_s: float
    offered_rps: float
    balancer_capacity_rps: float
    servers_capacity_rps: float
    balancer_load: float
    servers_load: float
    bottleneck: str
    saturated: str
    unstable: bool
    arrived: int
    completed: int
    in_system: int
    balancer_mean_s: float
    balancer_wait_s: float
    backend_mean_s: float
    mean_s: float
    p50_s: float
    p99_s: float
    throughput_rps: float
    horizon_s: float
    warmup_s: float
    arrivals_at: np.ndarray = field(repr=False)  # at the balancer
    balanced_at: np.ndarray = field(repr=False)  # decided: left the balancer
    departures_at: np.ndarray = field(repr=False)  # left the server
    server_of: np.ndarray = field(repr=False)

    @property
    def latencies_s(self) -> np.ndarray:
        """End-to-end time of the requests the statistics cover."""
        mask = _measured(self.arrivals_at, self.warmup_s, self.horizon_s)
        return self.departures_at[mask] - self.arrivals_at[mask]

    def _repr_html_(self) -> str:
        note = ""
        if self.unstable:
            note = (f"unstable: the {self.saturated} saturated — the queue grows without "
                    "bound; latencies depend on how long the run is.")
        return _html.key_value_table(self.summary(), note)


def _measured(a, warmup, horizon) -> np.ndarray:
    """The requests latency statistics cover: arrived inside [warmup, horizon]."""
    return (a >= warmup) & (a <= horizon)


# --------------------------------------------------------------------------- the run


def _balancer_departures(arrivals: np.ndarray, cost_s: float, cores: int) -> np.ndarray:
    """Departure instants from a FIFO balancer of ``cores`` workers, ``cost_s`` each.

    Equal service times: request j takes the worker request j − c frees, so the requests
    j ≡ r (mod c) form one FIFO queue each (one vectorised Lindley recursion)."""
    out = np.empty(arrivals.size)
    for r in range(min(cores, arrivals.size)):
        a = arrivals[r::cores]
        out[r::cores] = sim.fifo_departures(a, np.full(a.size, cost_s))
    return out


def _saturation(offered: float, cap_b: float, cap_s: float) -> tuple[str, float, float]:
    passed = min(offered, cap_b)
    bal, srv = offered >= cap_b, passed >= cap_s
    which = "both" if bal and srv else "balancer" if bal else "servers" if srv else "none"
    return which, offered / cap_b, passed / cap_s


def balance_through(
    workload: sim.Workload,
    *,
    servers: int | None = None,
    speeds: Sequence[float] | None = None,
    policy: str | sim.Policy = "round_robin",
    base_s: float = DEFAULT_BASE_S,
    per_server_s: float = DEFAULT_PER_SERVER_S,
    cores: int = 1,
    warmup_s: float = 0.0,
    seed: int | None = None,
) -> ChokepointResult:
    """Send ``workload`` through a balancer of ``cores`` workers, then to the servers.

    ``servers`` identical speed-1 servers, or ``speeds`` (one relative speed each);
    ``policy``: a balancing policy name (see :data:`scalekit.balancing.POLICIES`) or a
    :class:`scalekit.sim.Policy`. One decision costs ``base_s`` (s, > 0) plus
    ``per_server_s`` (s, >= 0) per server the policy examines. ``warmup_s`` (s): requests
    arriving earlier are left out of the statistics. ``seed`` drives the policy's own
    randomness (the workload carries its own).
    """
    if not isinstance(workload, sim.Workload):
        raise TypeError(f"workload must be a scalekit.sim.Workload, got "
                        f"{type(workload).__name__}")
    speeds = sim.cluster_speeds(servers, speeds)
    n = len(speeds)
    chosen = _policy(policy)
    base, per = _costs(base_s, per_server_s)
    c = _check.integer("cores", cores, low=1, high=MAX_CORES)
    warmup = _check.non_negative("warmup_s", warmup_s)
    horizon = workload.horizon_s
    if horizon and warmup >= horizon:
        raise ValueError(f"warmup_s ({warmup:g}) must be shorter than the workload's horizon "
                         f"({horizon:g} s)")
    gen_seed = _check.seed(seed)
    examined = int(chosen.servers_examined(n))
    cost = base + per * examined
    a = workload.arrivals_at
    balanced = _balancer_departures(a, cost, c)
    departures, server_of = _backend(workload, balanced, n, speeds, chosen, gen_seed)
    return _result(workload, chosen, n, speeds, c, examined, cost, balanced, departures,
                   server_of, warmup)


def _backend(workload, balanced, n, speeds, policy, seed):
    """Run the servers on the balancer's output: arrivals in departure order."""
    if balanced.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    order = np.argsort(balanced, kind="stable")
    staged = sim.Workload(arrivals_at=balanced[order], work_s=workload.work_s[order],
                          mean_work_s=workload.mean_work_s)
    run = sim.run(staged, servers=n, speeds=speeds, policy=policy, seed=seed)
    departures = np.empty(balanced.size)
    server_of = np.empty(balanced.size, dtype=np.int64)
    departures[order] = run.departures_at
    server_of[order] = run.server_of
    return departures, server_of


def _result(workload, policy, n, speeds, cores, examined, cost, balanced, departures,
            server_of, warmup) -> ChokepointResult:
    a, horizon = workload.arrivals_at, workload.horizon_s
    offered = workload.arrival_rate_rps
    cap_b = cores / cost
    cap_s = sum(speeds) / workload.mean_work_s if workload.mean_work_s > 0 else math.inf
    saturated, load_b, load_s = _saturation(offered, cap_b, cap_s)
    inside = a <= horizon
    done = inside & (departures <= horizon)
    measured = _measured(a, warmup, horizon)
    total = departures[measured] - a[measured]
    at_balancer = balanced[measured] - a[measured]
    nan = math.nan
    if total.size:
        mean, bal = float(total.mean()), float(at_balancer.mean())
        p50, p99 = (float(x) for x in np.percentile(total, [50, 99]))
    else:
        mean = bal = p50 = p99 = nan
    window = horizon - warmup
    finished = done & (departures >= warmup)
    throughput = float(finished.sum() / window) if window > 0 else nan
    for arr in (balanced, departures, server_of):
        arr.setflags(write=False)
    return ChokepointResult(
        policy=_name(policy), servers=n, cores=cores, servers_examined=examined,
        decision_s=cost, offered_rps=float(offered), balancer_capacity_rps=cap_b,
        servers_capacity_rps=cap_s, balancer_load=load_b, servers_load=load_s,
        bottleneck="balancer" if cap_b < cap_s else "servers", saturated=saturated,
        unstable=saturated != "none", arrived=int(inside.sum()), completed=int(done.sum()),
        in_system=int((inside & ~done).sum()), balancer_mean_s=bal,
        balancer_wait_s=bal - cost if total.size else nan,
        backend_mean_s=mean - bal if total.size else nan, mean_s=mean, p50_s=p50, p99_s=p99,
        throughput_rps=throughput, horizon_s=float(horizon), warmup_s=float(warmup),
        arrivals_at=a, balanced_at=balanced, departures_at=departures, server_of=server_of,
    )


# --------------------------------------------------------------------------- the sweep


@dataclass(frozen=True, eq=False)
class ChokepointSweep:
    """Latency and throughput against the offered rate, one row per policy.

    ``rates_rps`` (R,) the offered rates; per policy (P,): ``decision_s``,
    ``balancer_capacity_rps``, ``bottleneck`` and ``saturation_rps`` (the lower of the two
    capacities: where this policy's system saturates); per policy and rate (P, R):
    ``mean_s``, ``p99_s``, ``balancer_mean_s``, ``throughput_rps``, ``unstable`` and
    ``saturated`` ("none", "balancer", "servers", "both"). All runs share one workload
    seed (common random numbers): only the rate and the policy differ between them.
    """

    policies: tuple[str, ...]
    rates_rps: np.ndarray
    servers: int
    cores: int
    mean_work_s: float
    base_s: float
    per_server_s: float
    requests: int
    servers_capacity_rps: float
    decision_s: np.ndarray
    balancer_capacity_rps: np.ndarray
    bottleneck: tuple[str, ...]
    mean_s: np.ndarray
    p99_s: np.ndarray
    balancer_mean_s: np.ndarray
    throughput_rps: np.ndarray
    unstable: np.ndarray
    saturated: tuple[tuple[str, ...], ...]

    @property
    def saturation_rps(self) -> np.ndarray:
        """Per policy, the offered rate at which its system saturates."""
        return np.minimum(self.balancer_capacity_rps, self.servers_capacity_rps)

    @property
    def balancer_bound(self) -> tuple[str, ...]:
        """The policies whose balancer saturates before the servers do."""
        return tuple(p for p, b in zip(self.policies, self.bottleneck, strict=True)
                     if b == "balancer")

    def index(self, policy: str) -> int:
        """The row of ``policy``."""
        return self.policies.index(_check.choice("policy", policy, self.policies))

    def __repr__(self) -> str:
        caps = ", ".join(f"{p} {c:,.0f}/s" for p, c in
                         zip(self.policies, self.saturation_rps, strict=True))
        return (f"ChokepointSweep({self.servers} servers, {self.rates_rps.size} rates from "
                f"{self.rates_rps.min():,.0f} to {self.rates_rps.max():,.0f}/s; "
                f"saturates at: {caps})")

    def _repr_html_(self) -> str:
        rows = []
        for i, p in enumerate(self.policies):
            for j, r in enumerate(self.rates_rps):
                rows.append((p, r, self.mean_s[i, j] * 1e3, self.p99_s[i, j] * 1e3,
                             self.throughput_rps[i, j], self.saturated[i][j]))
        note = (f"servers' capacity {self.servers_capacity_rps:,.0f}/s; balancer capacity "
                + ", ".join(f"{p} {c:,.0f}/s" for p, c in
                            zip(self.policies, self.balancer_capacity_rps, strict=True))
                + ". Saturated rows ran a bounded number of requests: their latencies "
                  "describe that run only.")
        return _html.rows_table(rows, ("policy", "offered_rps", "mean_ms", "p99_ms",
                                       "throughput_rps", "saturated"), note)


def _policies(policies) -> list:
    if isinstance(policies, str | sim.Policy) or not hasattr(policies, "__len__"):
        raise TypeError(f"policies must be a list of policy names, got {policies!r}")
    if not policies:
        raise ValueError("policies must name at least one policy, got []")
    out = [_policy(p) for p in policies]  # checks each name
    names = [_name(p) for p in out]
    if len(set(names)) != len(names):
        raise ValueError(f"policies must not repeat a name, got {names}")
    return list(policies)


def _default_rates(policies, n, cores, base, per, cap_s, points=12) -> np.ndarray:
    caps = [cores / (base + per * _policy(p).servers_examined(n)) for p in policies]
    top = max(min(c, cap_s) for c in caps)
    return top * np.arange(1, points + 1) / (points - 2)  # up to 1.2 × the latest saturation


def chokepoint_sweep(
    rates_rps=None,
    *,
    servers: int = 100,
    policies: Sequence[str | sim.Policy] = SEED_POLICIES,
    mean_work_s: float = 0.0025,
    service: str | sim.ServiceTime = "exponential",
    base_s: float = DEFAULT_BASE_S,
    per_server_s: float = DEFAULT_PER_SERVER_S,
    cores: int = 1,
    requests: int = 20_000,
    warmup: float = 0.1,
    seed: int = 0,
) -> ChokepointSweep:
    """Run :func:`balance_through` for every policy at every offered rate (requests/s).

    ``rates_rps`` default: twelve rates up to 1.2 × the highest saturation rate among the
    policies. Each run holds ``requests`` Poisson arrivals with work from ``service`` (a
    name, "exponential", "deterministic" or "pareto", of mean ``mean_work_s`` s, or a
    :class:`scalekit.sim.ServiceTime`); the first ``warmup`` fraction of each run is left
    out of the statistics. The defaults — 100 servers of 2.5 ms work (40,000 requests/s),
    one core — show fewest connections' O(n) scan saturating the balancer at 33,000/s,
    while random and round robin (one server read, 49,800/s) carry on to the servers'
    capacity. With 1000 servers of 50 ms the gap is 8,300/s against 20,000/s.

    Runs at rates past saturation are bounded by ``requests`` and flagged ``unstable``.
    Many servers need many requests before their queues reach a steady state (random
    choice at 90 % load: hundreds of service times per server); a short run understates
    the queueing there, and a run not much longer than the latency measures a throughput
    below the offered rate (the servers are still filling). The defaults run 20,000
    requests per point: 0.5 s at 40,000/s, 200 service times.
    """
    n = _check.integer("servers", servers, low=1, high=10_000)
    names = _policies(policies)
    base, per = _costs(base_s, per_server_s)
    c = _check.integer("cores", cores, low=1, high=MAX_CORES)
    if isinstance(service, str):
        work = sim.service_time(_check.choice("service", service, sim.SERVICE_TIMES),
                                _check.positive("mean_work_s", mean_work_s))
    elif isinstance(service, sim.ServiceTime):
        work = service
    else:
        raise TypeError(f"service must be a name or a scalekit.sim.ServiceTime, "
                        f"got {service!r}")
    count = _check.integer("requests", requests, low=10, high=sim.MAX_REQUESTS)
    warm = _check.number("warmup", warmup, low=0.0, high=1.0, high_open=True)
    seed = _check.integer("seed", seed, low=0)
    cap_s = n / work.mean_s
    if rates_rps is None:
        rates = _default_rates(names, n, c, base, per, cap_s)
    else:
        rates = _check.array("rates_rps", rates_rps, low=0.0, low_open=True, min_len=1)
        if rates.size > 200:
            raise ValueError(f"rates_rps must hold at most 200 rates, got {rates.size}")
    check_total = len(names) * rates.size * count
    sim.check_expected_requests("len(policies) × len(rates_rps) × requests", check_total)
    shape = (len(names), rates.size)
    cols = {k: np.empty(shape) for k in ("mean_s", "p99_s", "balancer_mean_s",
                                         "throughput_rps")}
    unstable = np.zeros(shape, dtype=bool)
    saturated, decisions, caps, bottlenecks = [], [], [], []
    for i, p in enumerate(names):
        row = []
        for j, rate in enumerate(rates):
            w = sim.Workload.poisson(float(rate), work, n=count, seed=seed)
            start = float(w.arrivals_at[int(warm * count)]) if warm else 0.0
            r = balance_through(w, servers=n, policy=p, base_s=base, per_server_s=per,
                                cores=c, warmup_s=start, seed=seed)
            for k, arr in cols.items():
                arr[i, j] = getattr(r, k)
            unstable[i, j] = r.unstable
            row.append(r.saturated)
        saturated.append(tuple(row))
        decisions.append(r.decision_s)
        caps.append(r.balancer_capacity_rps)
        bottlenecks.append(r.bottleneck)
    arrays = [rates, *cols.values(), unstable]
    for arr in arrays:
        arr.setflags(write=False)
    return ChokepointSweep(
        policies=tuple(_name(_policy(p)) for p in names), rates_rps=rates, servers=n,
        cores=c, mean_work_s=work.mean_s, base_s=base, per_server_s=per, requests=count,
        servers_capacity_rps=cap_s, decision_s=np.array(decisions),
        balancer_capacity_rps=np.array(caps), bottleneck=tuple(bottlenecks),
        unstable=unstable, saturated=tuple(saturated), **cols,
    )
