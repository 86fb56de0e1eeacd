"""Heartbeats: how a load balancer learns that a server died, and what the timeout costs.

The real mechanism. HAProxy polls every server (``check inter 2s rise 2 fall 3``: a health
check every 2 s; 3 failures in a row mark the server down, 2 successes bring it back), so a
crashed server keeps receiving its share of requests for about 4–6 s. Akka Cluster members
send a heartbeat every 1 s (``heartbeat-interval = 1 s``), tolerate
``acceptable-heartbeat-pause = 3 s`` and judge silence with a phi-accrual detector, threshold
8 (Cassandra: ``phi_convict_threshold`` 8). Either way the timeout is a trade-off: a short
one notices a crash fast but also "notices" crashes that are only a garbage-collection pause or
a slow network (false suspicions); a long one is calm but feeds a dead server for longer.

What is modelled (one server; the others behave alike and independently):

* the server's heartbeat timer is due every ``interval_s`` seconds (beat i at i × interval_s,
  a fixed schedule, so lateness does not accumulate); each beat leaves late by a uniform
  U[0, ``jitter_s``) seconds — a timer never fires early, a busy event loop makes it late;
* each beat reaches the monitor (the balancer) after a uniform U[0, ``max_delay_s``] second
  network delay, independently, so beats may arrive out of order;
* stop-the-world pauses (GC, VM migration) start as a Poisson process at ``pauses_per_hour``
  per hour and last ``pause_s`` seconds ("fixed") or an exponential time with mean
  ``pause_s`` ("exponential"); no beat leaves during a pause, the overdue one leaves once
  when it ends; overlapping pauses merge into one;
* a crash at ``crashed_at`` (s): no beat leaves at or after that instant, ever;
* the monitor counts the server as heard at t = 0 (registration) and, with the fixed-timeout
  detector, declares it dead when no beat has arrived for more than ``timeout_s`` seconds
  (often k missed beats: :func:`timeout_for`); the next beat to arrive clears a suspicion.
  The optional phi-accrual detector (Hayashibara et al. 2004, normal approximation as in
  Akka) instead suspects once φ = −log10(1 − F(t since last beat)) exceeds a threshold, F the
  normal distribution of the last 1000 inter-arrival gaps (mean + acceptable pause, standard
  deviation at least 0.1 s);
* a false suspicion is a declaration made while the server is alive; requests sent to a dead
  server before detection are ``request_rate_rps`` × detection time — the expected count of
  Poisson arrivals at this server's share of the traffic (round robin: total rate / n).

Units: seconds, requests per second, messages per second, events per hour. Everything random
takes ``seed``; the same seed gives the same result, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from scalekit import _check, _html
from scalekit.sim import rng

__all__ = [
    "HeartbeatConfig", "HeartbeatResult", "TimeoutTradeoff", "TimeoutChoice",
    "timeout_for", "phi_timeout_s", "simulate_heartbeats", "timeout_tradeoff", "choose_timeout",
    "PAUSE_DISTRIBUTIONS", "DETECTORS", "MAX_BEATS",
]

#: Upper bounds that keep one call bounded in memory and time: nothing hangs.
MAX_BEATS = 5_000_000
MAX_PAUSES = 1_000_000
MAX_CRASHES = 100_000
PAUSE_DISTRIBUTIONS = ("exponential", "fixed")
DETECTORS = ("fixed", "phi")

# Akka's phi-accrual defaults (akka.cluster.failure-detector).
_PHI_WINDOW = 1000
_PHI_MIN_STD_S = 0.1


def timeout_for(missed_beats: float, interval_s: float) -> float:
    """The timeout (s) that declares a server dead after ``missed_beats`` silent intervals:
    missed_beats × interval_s (HAProxy ``fall 3`` with ``inter 2s`` ≈ 6 s)."""
    k = _check.positive("missed_beats", missed_beats)
    return k * _check.positive("interval_s", interval_s)


def phi_timeout_s(mean_s: float, std_s: float, threshold: float = 8.0) -> float:
    """Silence (s) after which φ exceeds ``threshold``, for inter-arrival gaps ~ N(mean_s,
    std_s²): the t solving −log10(1 − Φ((t − mean)/std)) = threshold (8 ⇒ mean + 5.61 std)."""
    mean = _check.positive("mean_s", mean_s)
    std = _check.positive("std_s", std_s)
    phi = _check.number("threshold", threshold, low=0.0, low_open=True, high=300.0)
    return mean + std * -NormalDist().inv_cdf(10.0**-phi)


@dataclass(frozen=True)
class HeartbeatConfig:
    """The servers, the network and the faults — everything but the detector's setting.

    ``interval_s`` (s) between beats; ``jitter_s`` (s, < interval_s) lateness of each beat;
    ``max_delay_s`` (s) largest network delay; ``pauses_per_hour`` (1/h) and ``pause_s`` (s)
    the stop-the-world pauses, durations from ``pause_distribution``; ``servers`` (count)
    sending beats to one monitor; ``request_rate_rps`` (requests/s) reaching *this* server;
    ``horizon_s`` (s) simulated time (a day by default: 86,400 beats at 1 s).
    """

    interval_s: float = 1.0
    jitter_s: float = 0.05
    max_delay_s: float = 0.01
    pauses_per_hour: float = 6.0
    pause_s: float = 1.0
    pause_distribution: str = "exponential"
    servers: int = 10
    request_rate_rps: float = 100.0
    horizon_s: float = 86_400.0

    def __post_init__(self):
        interval = _check.positive("interval_s", self.interval_s)
        put = object.__setattr__  # frozen: store the checked, normalised values
        put(self, "interval_s", interval)
        put(self, "jitter_s", _check.number("jitter_s", self.jitter_s, low=0.0, high=interval,
                                            high_open=True))
        for name in ("max_delay_s", "pauses_per_hour", "request_rate_rps"):
            put(self, name, _check.non_negative(name, getattr(self, name)))
        put(self, "pause_s", _check.positive("pause_s", self.pause_s))
        put(self, "pause_distribution", _check.choice("pause_distribution",
                                                      self.pause_distribution,
                                                      PAUSE_DISTRIBUTIONS))
        put(self, "servers", _check.integer("servers", self.servers, low=1, high=1_000_000))
        horizon = _check.positive("horizon_s", self.horizon_s)
        if horizon <= interval:
            raise ValueError(f"interval_s ({interval:g}) must be shorter than horizon_s "
                             f"({horizon:g}): a run needs beats")
        put(self, "horizon_s", horizon)
        beats = self.horizon_s / interval
        if beats > MAX_BEATS:
            raise ValueError(f"horizon_s / interval_s = {beats:.3g} beats, more than the "
                             f"{MAX_BEATS:,} one run allows; shorten horizon_s")
        pauses = self.pauses_per_hour * self.horizon_s / 3600.0
        if pauses > MAX_PAUSES:
            raise ValueError(f"pauses_per_hour × horizon = {pauses:.3g} expected pauses, more "
                             f"than the {MAX_PAUSES:,} one run allows; lower pauses_per_hour")

    @property
    def messages_per_s(self) -> float:
        """Heartbeats the monitor receives per second: servers / interval_s."""
        return self.servers / self.interval_s


def _config(config) -> HeartbeatConfig:
    if config is None:
        return HeartbeatConfig()
    if not isinstance(config, HeartbeatConfig):
        raise TypeError(f"config must be a HeartbeatConfig, got {type(config).__name__}")
    return config


# --------------------------------------------------------------------------- the timeline


@dataclass(frozen=True, eq=False)
class _Timeline:
    """One server's beats over the horizon (no crash) and a sample of crash instants."""

    sent_at: np.ndarray  # ascending send instants
    arrived_at: np.ndarray  # each beat's arrival, in send order
    latest_at: np.ndarray  # latest arrival among beats 0..i (the monitor's "last heard")
    arrivals_at: np.ndarray  # every arrival, ascending, starting with the registration at 0
    crashes_at: np.ndarray


def _timeline(cfg: HeartbeatConfig, crashes: int, gen: np.random.Generator) -> _Timeline:
    n = math.ceil(cfg.horizon_s / cfg.interval_s)  # beats due at i × interval < horizon
    due = np.arange(n) * cfg.interval_s + gen.uniform(0.0, cfg.jitter_s, n)
    delay = gen.uniform(0.0, cfg.max_delay_s, n)
    count = gen.poisson(cfg.pauses_per_hour * cfg.horizon_s / 3600.0)
    starts = np.sort(gen.uniform(0.0, cfg.horizon_s, count))
    if cfg.pause_distribution == "fixed":
        lengths = np.full(count, cfg.pause_s)
    else:
        lengths = gen.exponential(cfg.pause_s, count)
    crashes_at = gen.uniform(0.0, cfg.horizon_s, crashes)
    sent = _after_pauses(due, starts, starts + lengths)
    keep = np.ones(n, dtype=bool)
    keep[1:] = sent[1:] != sent[:-1]  # the overdue timer fires once when a pause ends
    sent, arrived = sent[keep], sent[keep] + delay[keep]
    return _Timeline(sent, arrived, np.maximum.accumulate(arrived),
                     np.sort(np.concatenate(([0.0], arrived))), crashes_at)


def _after_pauses(due: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Move every beat due inside a pause to the end of that (merged) pause. Monotone, so
    ascending due instants stay ascending."""
    if starts.size == 0:
        return due
    reach = np.maximum.accumulate(ends)  # how far the pauses begun so far extend
    first = np.ones(starts.size, dtype=bool)
    first[1:] = starts[1:] > reach[:-1]  # a pause that starts a new merged cluster
    cluster = np.cumsum(first) - 1
    cluster_end = np.maximum.reduceat(ends, np.flatnonzero(first))
    k = np.searchsorted(starts, due, side="right") - 1  # last pause begun by each beat
    kk = np.maximum(k, 0)
    inside = (k >= 0) & (due < reach[kk])
    return np.where(inside, cluster_end[cluster[kk]], due)


def _timeouts(tl: _Timeline, detector: str, timeout_s: float, phi: float,
              interval_s: float) -> np.ndarray:
    """The silence each arrival tolerates (s): constant for the fixed detector; for phi,
    from the mean and spread of the gaps seen so far (Akka's sliding window)."""
    if detector == "fixed":
        return np.full(tl.arrivals_at.size, timeout_s)
    gaps = np.diff(tl.arrivals_at)
    s1 = np.concatenate(([0.0], np.cumsum(gaps)))
    s2 = np.concatenate(([0.0], np.cumsum(gaps * gaps)))
    j = np.arange(tl.arrivals_at.size)  # gaps seen at arrival j: gaps[j-w .. j-1]
    w = np.minimum(j, _PHI_WINDOW)
    lo = j - w
    safe = np.maximum(w, 1)
    mean = np.where(w > 0, (s1[j] - s1[lo]) / safe, interval_s)  # the first estimate
    var = np.where(w > 0, (s2[j] - s2[lo]) / safe - mean * mean, 0.0)
    std = np.maximum(np.sqrt(np.maximum(var, 0.0)), _PHI_MIN_STD_S)
    z = -NormalDist().inv_cdf(10.0**-phi)
    return mean + timeout_s + std * z  # timeout_s plays acceptable-heartbeat-pause


def _false_suspicions(tl: _Timeline, timeouts: np.ndarray, end: float) -> np.ndarray:
    """Instants the server was declared dead while alive (before ``end``)."""
    a = tl.arrivals_at
    gaps = np.diff(a, append=math.inf)
    declared = a + timeouts
    # A few ulps of slack, so a gap of exactly one timeout (k × interval) is not "longer".
    slack = 8 * np.spacing(a[-1] + timeouts.max())
    return declared[(gaps > timeouts + slack) & (declared < end)]


def _last_heard(tl: _Timeline, crashes_at: np.ndarray) -> np.ndarray:
    """The latest arrival among beats sent before each crash (0: the registration)."""
    i = np.searchsorted(tl.sent_at, crashes_at, side="left") - 1
    return np.where(i >= 0, tl.latest_at[np.maximum(i, 0)], 0.0)


def _detections(tl: _Timeline, timeouts: np.ndarray, crashes_at: np.ndarray):
    """(declared-dead instants, detection times) for crashes at ``crashes_at``."""
    last = _last_heard(tl, crashes_at)
    # The timeout in force at that arrival (for phi: as estimated when it arrived).
    pos = np.minimum(np.searchsorted(tl.arrivals_at, last, side="right") - 1,
                     tl.arrivals_at.size - 1)
    declared = last + timeouts[pos]
    return declared, np.maximum(declared - crashes_at, 0.0)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False, repr=False)
class HeartbeatResult(_html.ScalarTable):
    """What one run measured. Instants end in ``_at``, durations in ``_s``.

    ``crashed_at``/``declared_dead_at``/``detection_s``/``requests_to_dead`` describe the one
    crash asked for (NaN without one); ``declared_dead_at`` precedes ``crashed_at`` when the
    server was already (falsely) suspected as it crashed, and detection is then 0.
    ``mean_detection_s`` and ``max_detection_s`` cover ``crashes`` crashes at uniformly random
    instants. False suspicions are counted while the server was alive (``alive_s``), per
    server; ``cluster_false_suspicions_per_hour`` is that times ``servers``.
    """

    detector: str
    interval_s: float
    timeout_s: float
    servers: int
    messages_per_s: float
    alive_s: float
    false_suspicions: int
    false_suspicions_per_hour: float
    cluster_false_suspicions_per_hour: float
    crashed_at: float
    declared_dead_at: float
    detection_s: float
    requests_to_dead: float
    crashes: int
    mean_detection_s: float
    max_detection_s: float
    mean_requests_to_dead: float
    arrivals_at: np.ndarray = field(repr=False)  # beats heard, with the registration at 0
    false_suspicions_at: np.ndarray = field(repr=False)
    detections_s: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class TimeoutTradeoff:
    """Detection time and false suspicions per hour for each timeout (s), all measured on
    the same simulated beats (common random numbers), so the curves are monotone."""

    interval_s: float
    timeouts_s: np.ndarray
    mean_detection_s: np.ndarray
    max_detection_s: np.ndarray
    false_suspicions_per_hour: np.ndarray

    @property
    def missed_beats(self) -> np.ndarray:
        """Each timeout in heartbeat intervals (k of "k missed beats")."""
        return self.timeouts_s / self.interval_s

    def __repr__(self) -> str:
        return (f"TimeoutTradeoff({self.timeouts_s.size} timeouts from "
                f"{self.timeouts_s.min():.4g} s to {self.timeouts_s.max():.4g} s)")

    def _repr_html_(self) -> str:
        rows = zip(self.timeouts_s, self.missed_beats, self.mean_detection_s,
                   self.max_detection_s, self.false_suspicions_per_hour, strict=True)
        return _html.rows_table(rows, ("timeout_s", "missed_beats", "mean_detection_s",
                                       "max_detection_s", "false_suspicions_per_hour"))


@dataclass(frozen=True, repr=False)
class TimeoutChoice(_html.ScalarTable):
    """The smallest timeout meeting both targets, or ``timeout_s=None`` and the reason."""

    timeout_s: float | None
    mean_detection_s: float
    max_detection_s: float
    false_suspicions_per_hour: float
    reason: str

    @property
    def found(self) -> bool:
        return self.timeout_s is not None


# --------------------------------------------------------------------------- running


def _crashes(value) -> int:
    return _check.integer("crashes", value, low=1, high=MAX_CRASHES)


def simulate_heartbeats(
    config: HeartbeatConfig | None = None,
    *,
    timeout_s: float = 3.0,
    crashed_at: float | None = None,
    crashes: int = 1000,
    detector: str = "fixed",
    phi_threshold: float = 8.0,
    seed: int | None = None,
) -> HeartbeatResult:
    """Simulate one server's heartbeats under ``config`` and a detector; measure it.

    ``timeout_s`` (s): the fixed detector's timeout; for ``detector="phi"`` it is Akka's
    acceptable heartbeat pause, added to the mean gap, and ``phi_threshold`` the φ at which
    the server is suspected. ``crashed_at`` (s, within the horizon): the server crashes then
    (None: it stays up). ``crashes``: how many random crash instants the mean detection time
    averages over. Default settings run in a few milliseconds.
    """
    cfg = _config(config)
    timeout = _check.positive("timeout_s", timeout_s)
    if crashed_at is not None:
        crashed_at = _check.number("crashed_at", crashed_at, low=0.0, low_open=True,
                                   high=cfg.horizon_s)
    n_crashes = _crashes(crashes)
    detector = _check.choice("detector", detector, DETECTORS)
    phi = _check.number("phi_threshold", phi_threshold, low=0.0, low_open=True, high=300.0)
    tl = _timeline(cfg, n_crashes, rng(seed))
    timeouts = _timeouts(tl, detector, timeout, phi, cfg.interval_s)
    end = cfg.horizon_s if crashed_at is None else crashed_at
    suspected = _false_suspicions(tl, timeouts, end)
    _, detections = _detections(tl, timeouts, tl.crashes_at)
    if crashed_at is None:
        declared = detection = math.nan
    else:
        d_at, d_s = _detections(tl, timeouts, np.array([crashed_at]))
        declared, detection = float(d_at[0]), float(d_s[0])
    per_hour = suspected.size / (end / 3600.0)
    heard = tl.arrivals_at if crashed_at is None else np.sort(
        np.concatenate(([0.0], tl.arrived_at[tl.sent_at < crashed_at])))
    rate = cfg.request_rate_rps
    return HeartbeatResult(
        detector=detector, interval_s=cfg.interval_s, timeout_s=timeout, servers=cfg.servers,
        messages_per_s=cfg.messages_per_s, alive_s=float(end),
        false_suspicions=int(suspected.size), false_suspicions_per_hour=per_hour,
        cluster_false_suspicions_per_hour=per_hour * cfg.servers,
        crashed_at=math.nan if crashed_at is None else crashed_at,
        declared_dead_at=declared, detection_s=detection, requests_to_dead=rate * detection,
        crashes=n_crashes, mean_detection_s=float(detections.mean()),
        max_detection_s=float(detections.max()),
        mean_requests_to_dead=rate * float(detections.mean()),
        arrivals_at=heard, false_suspicions_at=suspected, detections_s=detections,
    )


def _candidate_timeouts(timeouts_s, cfg: HeartbeatConfig) -> np.ndarray:
    if timeouts_s is None:  # a quarter interval up to ten intervals
        return np.arange(1, 41) * (cfg.interval_s / 4.0)
    t = _check.array("timeouts_s", timeouts_s, low=0.0, low_open=True, min_len=1)
    if t.size > 10_000:
        raise ValueError(f"timeouts_s must hold at most 10,000 values, got {t.size:,}")
    return t.copy()  # ours to freeze, never the caller's array


def timeout_tradeoff(
    config: HeartbeatConfig | None = None,
    *,
    timeouts_s=None,
    crashes: int = 1000,
    seed: int | None = None,
) -> TimeoutTradeoff:
    """Sweep the fixed timeout: detection time and false suspicions per hour for each of
    ``timeouts_s`` (s; default a quarter interval to ten intervals), all on one set of beats
    (the same ``seed``), so false suspicions fall and detection time grows monotonically."""
    cfg = _config(config)
    t = _candidate_timeouts(timeouts_s, cfg)
    tl = _timeline(cfg, _crashes(crashes), rng(seed))
    a, horizon = tl.arrivals_at, cfg.horizon_s
    # Detection is max(0, T − x), x = crash instant − last heard: sort x once and sum the
    # x below each T with a cumulative sum.
    x = np.sort(tl.crashes_at - _last_heard(tl, tl.crashes_at))
    below = np.searchsorted(x, t, side="left")
    mean = (below * t - np.concatenate(([0.0], np.cumsum(x)))[below]) / x.size
    worst = np.maximum(t - x[0], 0.0)
    # False suspicions: gaps longer than T (slack as in _false_suspicions), less those
    # declared after the horizon — only arrivals in the last T seconds can be.
    gaps = np.diff(a, append=math.inf)
    slack = 8 * np.spacing(a[-1] + t)
    longer = gaps.size - np.searchsorted(np.sort(gaps), t + slack, side="right")
    first = np.maximum(np.searchsorted(a, horizon - t, side="left") - 1, 0)
    if (a.size - first).sum() > MAX_BEATS:
        raise ValueError("timeouts_s: too many timeouts close to horizon_s; use fewer or "
                         "shorter timeouts, or a longer horizon_s")
    late = [np.count_nonzero((gaps[i:] > tt + sl) & (a[i:] + tt >= horizon))
            for i, tt, sl in zip(first, t, slack, strict=True)]
    false = (longer - np.asarray(late, dtype=float)) * (3600.0 / horizon)
    for arr in (t, mean, worst, false):
        arr.setflags(write=False)
    return TimeoutTradeoff(cfg.interval_s, t, mean, worst, false)


def choose_timeout(
    max_detection_s: float,
    max_false_suspicions_per_hour: float,
    config: HeartbeatConfig | None = None,
    *,
    statistic: str = "mean",
    timeouts_s=None,
    crashes: int = 1000,
    seed: int | None = None,
) -> TimeoutChoice:
    """The smallest of ``timeouts_s`` (s) whose detection time (``statistic`` "mean" or
    "max" over random crashes) is at most ``max_detection_s`` (s) and whose false
    suspicions per server are at most ``max_false_suspicions_per_hour`` (1/h).

    False suspicions fall and detection time grows with the timeout, so the timeouts that
    meet both targets form one interval; if it is empty, ``timeout_s`` is None and ``reason``
    says which target cannot be met.
    """
    target_s = _check.positive("max_detection_s", max_detection_s)
    target_ph = _check.non_negative("max_false_suspicions_per_hour",
                                    max_false_suspicions_per_hour)
    statistic = _check.choice("statistic", statistic, ("mean", "max"))
    sweep = timeout_tradeoff(config, timeouts_s=timeouts_s, crashes=crashes, seed=seed)
    order = np.argsort(sweep.timeouts_s, kind="stable")
    detect = sweep.mean_detection_s if statistic == "mean" else sweep.max_detection_s
    calm = sweep.false_suspicions_per_hour <= target_ph
    fast = detect <= target_s
    ok = [j for j in order if calm[j] and fast[j]]
    if ok:
        j = ok[0]
        return TimeoutChoice(float(sweep.timeouts_s[j]), float(sweep.mean_detection_s[j]),
                             float(sweep.max_detection_s[j]),
                             float(sweep.false_suspicions_per_hour[j]),
                             f"smallest timeout meeting both targets ({statistic} detection)")
    calm_from = f"{sweep.timeouts_s[calm].min():g} s" if calm.any() else "none of those tried"
    fast_upto = f"{sweep.timeouts_s[fast].max():g} s" if fast.any() else "none of those tried"
    reason = (f"no timeout in {sweep.timeouts_s.min():g}–{sweep.timeouts_s.max():g} s meets "
              f"both: <= {target_ph:g} false suspicions/h needs >= {calm_from}; "
              f"{statistic} detection <= {target_s:g} s needs <= {fast_upto}")
    nan = math.nan
    return TimeoutChoice(None, nan, nan, nan, reason)
