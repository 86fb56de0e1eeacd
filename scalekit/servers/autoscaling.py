"""Autoscaling: a target-tracking controller adds servers when they run hot, removes them when idle.

The real mechanism. The Kubernetes Horizontal Pod Autoscaler (HPA) wakes every 15 s, reads the
mean CPU utilisation of the ready pods and asks for
``desired = ceil(current × currentMetric / targetMetric)`` replicas — unless the ratio is
within 0.1 of 1.0. It scales out fast (by default at most +100 % or +4 pods per 15 s, whichever
is more) and in slowly: a scale-down uses the *highest* recommendation of the last 300 s (the
stabilisation window), so a brief dip does not shed servers it will need again a minute later.
AWS target tracking behaves the same way (out fast, in slowly); AWS simple scaling uses a
cooldown (default 300 s) instead. New servers take a while to boot and pass health checks, and
they are paid for from the moment they start.

What is modelled. A :class:`~scalekit.sim.TrafficTrace` drives a pool of identical servers
behind one balancer with a shared queue. Time advances in steps of ``sync_s`` (the HPA's sync
period; one HPA pass per step). In step k, at instant t_k:

1. servers whose start-up ended by t_k become ready;
2. the HPA reads the CPU utilisation of the ready servers, ``min(1, λ·s / ready)`` — a CPU
   cannot read above 100 %, so a saturated pool under-reports demand — or 1.0 while a backlog
   is being worked off (a server with a queue is always busy). Servers still starting are
   handled as the Kubernetes docs say: set aside for a scale-down, counted at 0 % for a
   scale-up. The controller then applies stabilisation, the scale-up limit and min/max
   (:meth:`HorizontalPodAutoscaler.sync`). New servers are ready ``startup_s`` later; a
   scale-down removes servers still starting first (newest first), then ready ones;
3. the step is scored with the arrival rate λ(t_k) held for the step (quasi-static):
   utilisation ρ = λ·s / ready; latency = the M/M/c mean time in system
   (:func:`scalekit.theory.mmc_sojourn_s`) plus, while a backlog B is left from an overload,
   the time to drain it at full capacity, B·s / ready. A step with ρ >= 1 is *overloaded*: its
   latency is ``inf`` (there is no steady state) and the backlog grows as a fluid queue,
   B ← max(0, B + (λ − ready/s)·Δt).

Limits of the model: no request is dropped or abandoned (clients wait forever, so a long
overload leaves a long tail of slow steps); CPU is the only metric; with
``target_utilisation=1`` a saturated pool reads exactly on target and never grows — one reason
real targets sit well below 100 %.

Units: seconds, requests per second, requests (backlog), server-hours. The HPA is created at
t = 0 with an empty history. ``seed=None`` uses the expected rate of every step (deterministic);
an integer seed draws Poisson arrivals per step instead, reproducibly.

Sources: kubernetes.io, "Horizontal Pod Autoscaling" (algorithm details, default behaviour);
AWS, "Target tracking scaling policies for Amazon EC2 Auto Scaling".
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html, sim

__all__ = ["hpa_desired_replicas", "HorizontalPodAutoscaler", "AutoscaleSettings",
           "AutoscaleResult", "autoscale", "fixed_servers", "MAX_STEPS", "MAX_SERVERS"]

#: Upper bounds that keep one run small and fast (a widget calls it): ~35 days at 15 s steps.
MAX_STEPS = 200_000
MAX_SERVERS = 10_000
#: A backlog below this many requests counts as empty (rounding residue of the fluid queue).
_EMPTY = 1e-9


def _ceil(x: float) -> int:
    # ceil with a guard against binary rounding: 2 * (0.27 / 0.09) is 6.000000000000001, and
    # a bare ceil would ask for 7. (Kubernetes sidesteps this with integer milli-units.)
    return math.ceil(x - 1e-9 * max(1.0, abs(x)))


def hpa_desired_replicas(
    current: int,
    metric: float,
    target: float,
    tolerance: float = 0.1,
    min_replicas: int = 1,
    max_replicas: int | None = None,
) -> int:
    """The Kubernetes HPA formula, ``desiredReplicas = ceil[currentReplicas × (currentMetricValue
    / desiredMetricValue)]``, with its tolerance and the min/max bounds.

    ``metric`` and ``target`` share one unit (a utilisation fraction, milli-CPU, requests/s per
    pod ...). When ``|metric/target − 1| <= tolerance`` the count stays ``current``. The result
    is clamped to ``[min_replicas, max_replicas]`` (``None``: no upper bound). From the docs:
    current 4, metric 200m, target 100m → 8; metric 50m → 2.
    Source: kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale, "Algorithm details".
    """
    current = _check.integer("current", current, low=1)
    metric = _check.non_negative("metric", metric)
    target = _check.positive("target", target)
    tolerance = _check.number("tolerance", tolerance, low=0.0, high=1.0, high_open=True)
    low = _check.integer("min_replicas", min_replicas, low=1)
    high = None if max_replicas is None else _check.integer("max_replicas", max_replicas, low=1)
    if high is not None and low > high:
        raise ValueError(f"min_replicas ({low}) must be <= max_replicas ({high})")
    ratio = metric / target
    if not math.isfinite(current * ratio):
        raise ValueError(f"metric/target = {metric!r}/{target!r} is too large to scale by: "
                         f"{current} × metric/target is not a finite number of replicas")
    desired = current if abs(ratio - 1.0) <= tolerance else _ceil(current * ratio)
    desired = max(low, desired)
    return desired if high is None else min(high, desired)


class HorizontalPodAutoscaler:
    """The HPA control loop with Kubernetes' default behaviour; :meth:`sync` is one pass.

    ``target_utilisation`` (fraction, 0 < x <= 1) is the CPU utilisation to hold;
    ``min_servers``/``max_servers`` bound the replica count; ``tolerance`` (fraction) is the
    dead band around the target; ``stabilisation_s`` (s) is the scale-down window;
    ``scale_up_pods`` (servers) and ``scale_up_percent`` (%) per ``scale_up_period_s`` (s) limit
    a scale-up, whichever allows more (k8s default: 4 pods or 100 % per 15 s). A scale-down is
    not rate-limited (k8s default: 100 % per 15 s).

    A controller remembers its recent recommendations and scale events; use a fresh one per run.
    """

    def __init__(
        self,
        *,
        target_utilisation: float = 0.6,
        min_servers: int = 1,
        max_servers: int = 100,
        tolerance: float = 0.1,
        stabilisation_s: float = 300.0,
        scale_up_pods: int = 4,
        scale_up_percent: float = 100.0,
        scale_up_period_s: float = 15.0,
    ):
        self.target_utilisation = _check.number(
            "target_utilisation", target_utilisation, low=0.0, low_open=True, high=1.0)
        self.min_servers = _check.integer("min_servers", min_servers, low=1, high=MAX_SERVERS)
        self.max_servers = _check.integer("max_servers", max_servers, low=1, high=MAX_SERVERS)
        if self.min_servers > self.max_servers:
            raise ValueError(
                f"min_servers ({self.min_servers}) must be <= max_servers ({self.max_servers})")
        self.tolerance = _check.number("tolerance", tolerance, low=0.0, high=1.0, high_open=True)
        self.stabilisation_s = _check.non_negative("stabilisation_s", stabilisation_s)
        self.scale_up_pods = _check.integer("scale_up_pods", scale_up_pods, low=0)
        self.scale_up_percent = _check.non_negative("scale_up_percent", scale_up_percent)
        self.scale_up_period_s = _check.positive("scale_up_period_s", scale_up_period_s)
        # Sliding-window maximum of recommendations: (instant, value), values decreasing.
        self._recent: deque[tuple[float, int]] = deque()
        self._events: deque[tuple[float, int]] = deque()  # (instant, replica change)

    def __repr__(self) -> str:
        return (f"HorizontalPodAutoscaler(target_utilisation={self.target_utilisation:g}, "
                f"min_servers={self.min_servers}, max_servers={self.max_servers}, "
                f"tolerance={self.tolerance:g}, stabilisation_s={self.stabilisation_s:g})")

    def sync(self, now_s: float, requested: int, ready: int, utilisation: float) -> int:
        """One pass at instant ``now_s`` (s): returns the new replica count and records it.

        ``requested`` servers exist (ready or starting), ``ready`` of them take traffic at a
        mean CPU ``utilisation`` (fraction). Steps: recommend → stabilise → limit. Instants
        must not go backwards from one call to the next.
        """
        return self._sync(_check.number("now_s", now_s), *_counts(requested, ready, utilisation))

    def recommend(self, requested: int, ready: int, utilisation: float) -> int:
        """The replica calculator (k8s ``GetResourceReplicas``) for a CPU utilisation target."""
        return self._recommend(*_counts(requested, ready, utilisation))

    def _sync(self, now_s: float, requested: int, ready: int, utilisation: float) -> int:
        raw = self._recommend(requested, ready, utilisation)
        stable = self._stabilise(now_s, requested, raw)
        new = self._limit(now_s, requested, stable)
        if new != requested:
            self._events.append((now_s, new - requested))
        return new

    def _recommend(self, requested: int, ready: int, utilisation: float) -> int:
        ratio = utilisation / self.target_utilisation
        if ready <= 0:  # no metrics from any ready pod: k8s makes no change
            return requested
        if ready < requested and ratio > 1.0:
            # Scale-up with pods still starting: count them at 0 % (k8s docs), which damps it.
            ratio = ratio * ready / requested
            if ratio <= 1.0 + self.tolerance:
                return requested
            return _ceil(ratio * requested)
        if abs(ratio - 1.0) <= self.tolerance:
            return requested
        return _ceil(ratio * ready)  # pods still starting are set aside on a scale-down

    def _stabilise(self, now_s: float, requested: int, raw: int) -> int:
        # Scale down only to the highest recommendation made after now − window (k8s keeps
        # records strictly newer than the cutoff). Scale-up has no window by default.
        recent = self._recent
        cutoff = now_s - self.stabilisation_s
        while recent and recent[0][0] <= cutoff:
            recent.popleft()
        highest = recent[0][1] if recent and recent[0][1] > raw else raw
        while recent and recent[-1][1] <= raw:
            recent.pop()
        recent.append((now_s, raw))
        if raw > requested:
            return raw
        return highest if highest < requested else requested

    def _limit(self, now_s: float, requested: int, desired: int) -> int:
        events = self._events
        cutoff = now_s - self.scale_up_period_s
        while events and events[0][0] <= cutoff:
            events.popleft()
        if desired > requested:
            # Count from the size at the start of the period, as k8s does.
            start = requested - sum(change for _, change in events)
            limit = max(start + self.scale_up_pods,
                        _ceil(start * (1.0 + self.scale_up_percent / 100.0)), requested)
            desired = desired if desired < limit else limit
        if desired > self.max_servers:
            return self.max_servers
        return desired if desired > self.min_servers else self.min_servers


def _counts(requested, ready, utilisation) -> tuple[int, int, float]:
    requested = _check.integer("requested", requested, low=1)
    ready = _check.integer("ready", ready, low=0, high=requested)
    return requested, ready, _check.non_negative("utilisation", utilisation)


@dataclass(frozen=True, eq=False)
class AutoscaleResult:
    """One provisioning run over a traffic trace: a summary plus per-step time series.

    ``server_hours`` counts every server from its start (starting ones are paid for);
    ``slo_violation_fraction`` is the fraction of time with latency > ``slo_s`` (overloaded
    steps included); ``overloaded_fraction`` the fraction with ρ >= 1; ``mean_utilisation`` the
    time-mean busy fraction of ready servers (min(1, ρ), or 1 while a backlog drains);
    ``max_servers_used`` the most servers paid for at once; ``scale_events`` the HPA actions.
    Series (one value per step of ``step_s`` seconds): ``utilisation`` is ρ = λ·s/ready (>= 1
    means overloaded), ``latency_s`` is inf on overloaded steps, ``backlog`` in requests.
    """

    policy: str
    slo_s: float
    step_s: float
    duration_s: float
    server_hours: float
    slo_violation_fraction: float
    overloaded_fraction: float
    mean_utilisation: float
    max_servers_used: int
    scale_events: int
    max_backlog: float
    times_s: np.ndarray = field(repr=False)
    arrival_rps: np.ndarray = field(repr=False)
    servers_requested: np.ndarray = field(repr=False)
    servers_ready: np.ndarray = field(repr=False)
    utilisation: np.ndarray = field(repr=False)
    latency_s: np.ndarray = field(repr=False)
    backlog: np.ndarray = field(repr=False)

    @property
    def overloaded(self) -> np.ndarray:
        """Per step: True where the arrival rate reached the ready capacity (ρ >= 1)."""
        return self.utilisation >= 1.0

    def summary(self) -> dict:
        keys = ("policy", "server_hours", "slo_violation_fraction", "overloaded_fraction",
                "mean_utilisation", "max_servers_used", "scale_events", "max_backlog", "slo_s")
        return {k: getattr(self, k) for k in keys}

    def _repr_html_(self) -> str:
        return _html.key_value_table(self.summary())


@dataclass(frozen=True)
class AutoscaleSettings:
    """An autoscaled pool's settings; checked when made.

    HPA settings as in :class:`HorizontalPodAutoscaler`: ``target_utilisation`` and
    ``tolerance`` (fractions), ``min_servers``/``max_servers`` and ``scale_up_pods`` (servers),
    ``scale_up_percent`` (%), ``stabilisation_s`` (s). ``sync_s`` (s) is its sync period and
    the simulation step; ``startup_s`` (s) is how long a new server takes to become ready;
    ``mean_service_s`` (s) the mean work per request (exponential: M/M/c); ``slo_s`` (s) the
    latency objective; ``initial_servers`` the pool at t = 0 (None: what the target needs
    for the rate at t = 0, within [min_servers, max_servers]); ``seed`` see the module notes.
    """

    target_utilisation: float = 0.6
    min_servers: int = 1
    max_servers: int = 100
    tolerance: float = 0.1
    sync_s: float = 15.0
    stabilisation_s: float = 300.0
    startup_s: float = 60.0
    scale_up_pods: int = 4
    scale_up_percent: float = 100.0
    mean_service_s: float = 0.05
    slo_s: float = 0.25
    initial_servers: int | None = None
    seed: int | None = None

    def __post_init__(self):
        hpa = self.controller()  # checks the HPA's own settings
        checked = dict(
            target_utilisation=hpa.target_utilisation, min_servers=hpa.min_servers,
            max_servers=hpa.max_servers, tolerance=hpa.tolerance,
            stabilisation_s=hpa.stabilisation_s, scale_up_pods=hpa.scale_up_pods,
            scale_up_percent=hpa.scale_up_percent,
            sync_s=_check.positive("sync_s", self.sync_s),
            startup_s=_check.non_negative("startup_s", self.startup_s),
            mean_service_s=_check.positive("mean_service_s", self.mean_service_s),
            slo_s=_check.positive("slo_s", self.slo_s), seed=_check.seed(self.seed))
        if self.initial_servers is not None:
            checked["initial_servers"] = _check.integer(
                "initial_servers", self.initial_servers, low=hpa.min_servers,
                high=hpa.max_servers)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def controller(self) -> HorizontalPodAutoscaler:
        """A fresh :class:`HorizontalPodAutoscaler` with these settings."""
        return HorizontalPodAutoscaler(
            target_utilisation=self.target_utilisation, min_servers=self.min_servers,
            max_servers=self.max_servers, tolerance=self.tolerance,
            stabilisation_s=self.stabilisation_s, scale_up_pods=self.scale_up_pods,
            scale_up_percent=self.scale_up_percent)


def autoscale(trace: sim.TrafficTrace, settings: AutoscaleSettings | None = None,
              **overrides) -> AutoscaleResult:
    """Serve ``trace`` with a pool that a :class:`HorizontalPodAutoscaler` resizes:
    ``settings`` (an :class:`AutoscaleSettings`; None: its defaults) with ``overrides`` (any
    of its fields, by name) applied."""
    s = _check.settings(AutoscaleSettings, settings, overrides)
    hpa = s.controller()
    startup = s.startup_s
    step, times, weights, lam, mean_s, slo = _setup(
        trace, s.sync_s, s.mean_service_s, s.slo_s, s.seed, "sync_s")
    if s.initial_servers is None:
        need = _ceil(lam[0] * mean_s / hpa.target_utilisation) if lam[0] > 0 else 1
        initial = min(hpa.max_servers, max(hpa.min_servers, need))
    else:
        initial = s.initial_servers
    n = times.size
    requested_k = np.empty(n, dtype=np.int64)
    ready_k = np.empty(n, dtype=np.int64)
    backlog_k = np.empty(n)
    pending: deque[list] = deque()  # [instant ready (s), servers] per scale-up, oldest first
    requested = ready = initial
    backlog, events = 0.0, 0
    busy = (lam * mean_s).tolist()  # λ·s: busy servers' worth of work
    times_l, weights_l = times.tolist(), weights.tolist()
    for k in range(n):
        t = times_l[k]
        due = t + 1e-9 * max(1.0, t)
        while pending and pending[0][0] <= due:  # 1. start-ups that ended become ready
            ready += pending.popleft()[1]
        cpu = 1.0 if backlog > 0.0 or busy[k] >= ready else busy[k] / ready
        new = hpa._sync(t, requested, ready, cpu)  # 2. one HPA pass
        if new > requested:
            if startup == 0.0:
                ready += new - requested
            else:
                pending.append([t + startup, new - requested])
        elif new < requested:
            drop = requested - new
            while drop and pending:  # servers still starting go first, newest first
                take = min(drop, pending[-1][1])
                pending[-1][1] -= take
                drop -= take
                if pending[-1][1] == 0:
                    pending.pop()
            ready -= drop
        events += new != requested
        requested = new
        requested_k[k], ready_k[k], backlog_k[k] = requested, ready, backlog
        # 3. fluid backlog: grows while λ exceeds capacity, drains when it falls below
        backlog = backlog + (busy[k] - ready) * weights_l[k] / mean_s
        backlog = backlog if backlog > _EMPTY else 0.0
    label = f"autoscaled (target {hpa.target_utilisation:.0%})"
    return _result(label, step, times, weights, lam, requested_k, ready_k, backlog_k, mean_s,
                   slo, events)


def fixed_servers(
    trace: sim.TrafficTrace,
    servers: int,
    *,
    mean_service_s: float = 0.05,
    slo_s: float = 0.25,
    step_s: float = 15.0,
    seed: int | None = None,
) -> AutoscaleResult:
    """Serve ``trace`` with a constant pool of ``servers``, all ready from t = 0.

    The comparison for :func:`autoscale`: same steps of ``step_s`` (s), same latency model,
    same outputs. ``mean_service_s``, ``slo_s`` (s) and ``seed`` as in :func:`autoscale`.
    """
    c = _check.integer("servers", servers, low=1, high=MAX_SERVERS)
    step, times, weights, lam, s, slo = _setup(
        trace, step_s, mean_service_s, slo_s, seed, "step_s")
    pool = np.full(times.size, c, dtype=np.int64)
    # Fluid backlog B_{k+1} = max(0, B_k + x_k) in closed form: S_k − min(0, min_{j<=k} S_j).
    grow = np.cumsum((lam - c / s) * weights)
    after = grow - np.minimum(0.0, np.minimum.accumulate(grow))
    backlog = np.concatenate(([0.0], after[:-1]))
    backlog[backlog <= _EMPTY] = 0.0
    return _result(f"fixed ({c} servers)", step, times, weights, lam, pool, pool, backlog, s, slo,
                   0)


def _setup(trace, step_s, mean_service_s, slo_s, seed, step_name):
    if not isinstance(trace, sim.TrafficTrace):
        raise TypeError(f"trace must be a scalekit.sim.TrafficTrace, got {type(trace).__name__}")
    step = _check.positive(step_name, step_s)
    s = _check.positive("mean_service_s", mean_service_s)
    slo = _check.positive("slo_s", slo_s)
    seed = _check.seed(seed)
    steps = trace.duration_s / step
    if steps > MAX_STEPS:
        raise ValueError(
            f"{step_name}={step:g} s gives {steps:,.0f} steps over the trace's "
            f"{trace.duration_s:g} s; at most {MAX_STEPS:,} allowed — use a longer step")
    times = np.arange(max(1, _ceil(steps))) * step
    weights = np.diff(np.append(times, trace.duration_s))  # the last step may be shorter
    lam = trace.rate_at(times)
    if seed is not None:  # Poisson arrivals per step, reported as a rate
        try:
            lam = sim.rng(seed).poisson(lam * weights) / weights
        except ValueError as exc:
            raise ValueError(f"trace rates up to {trace.peak_rps:g}/s are too large to draw "
                             "Poisson arrivals; use seed=None for expected rates") from exc
    return step, times, weights, lam, s, slo


def _result(policy, step, times, weights, lam, requested, ready, backlog, s, slo, events):
    rho = lam * s / ready  # ready >= 1 on every step
    latency = _latency_s(lam, 1.0 / s, ready, backlog)
    # overloaded is ρ >= 1 as the result reports it: λ/μ, which the latency's own stability
    # test computes, can round just below the servers where λ·s/ready rounds to 1
    latency[rho >= 1.0] = np.inf
    busy = np.where(backlog > 0, 1.0, np.minimum(rho, 1.0))
    total = float(weights.sum())
    series = dict(times_s=times, arrival_rps=lam, servers_requested=requested,
                  servers_ready=ready, utilisation=rho, latency_s=latency, backlog=backlog)
    for value in series.values():
        value.setflags(write=False)
    return AutoscaleResult(
        policy=policy, slo_s=slo, step_s=step, duration_s=total,
        server_hours=float(requested @ weights / 3600.0),
        slo_violation_fraction=float(weights[latency > slo].sum() / total),
        overloaded_fraction=float(weights[rho >= 1.0].sum() / total),
        mean_utilisation=float(busy @ weights / total),
        max_servers_used=int(requested.max()), scale_events=int(events),
        max_backlog=float(backlog.max()), **series)


def _latency_s(lam, mu, servers, backlog):
    """Per step: M/M/c mean time in system (as theory.mmc_sojourn_s, vectorised) + B/(cμ).

    The Erlang B recursion B(k) = a·B(k−1)/(k + a·B(k−1)) runs once over all stable steps,
    sorted by server count, so pass k touches only the steps with at least k servers.
    """
    out = np.full(lam.size, np.inf)
    a = lam / mu
    stable = np.flatnonzero((servers > 0) & (a < servers))
    if stable.size == 0:
        return out
    order = stable[np.argsort(-servers[stable], kind="stable")]
    c = servers[order].astype(float)
    aa = a[order]
    b = np.ones(order.size)
    active = np.searchsorted(-c, -np.arange(1, int(c[0]) + 1), side="right")
    for k, m in enumerate(active.tolist(), start=1):
        ab = aa[:m] * b[:m]
        b[:m] = ab / (k + ab)
    rho = aa / c
    erlang_c = b / (1.0 - rho * (1.0 - b))
    wait = erlang_c / (c * mu - lam[order])
    out[order] = wait + 1.0 / mu + backlog[order] / (c * mu)
    return out
