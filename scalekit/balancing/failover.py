"""The balancer as a single point of failure, and the active–passive pair that covers it.

The real mechanism. keepalived runs VRRP (RFC 5798) between two balancer nodes that share a
virtual IP address (VIP). The active node (Master) holds the VIP and sends an ADVERTISEMENT
every Advertisement_Interval (default 100 centiseconds: 1 s). The passive node (Backup,
priority 1–254, default 100) restarts its Master_Down_Timer on every advertisement it hears;
the timer runs for

    Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time,
    Skew_Time = ((256 − Priority) × Master_Adver_Interval) / 256

(priority 100, interval 1 s: 3.609375 s — a higher-priority backup waits less, so the best
backup wins). When it fires the backup becomes Master, sends an advertisement and
gratuitous ARPs, and the switches send the VIP's traffic to it: the takeover. A Master that
hears an advertisement of higher priority steps down to Backup (RFC 5798 §6.4.3); one that
hears a lower priority stays Master, and keepalived then re-sends its gratuitous ARPs
(``vrrp_garp_lower_prio_repeat``), pulling the VIP back.

What is modelled (detection reuses :mod:`scalekit.servers.heartbeats`, with the active as
the heartbeat sender and the passive as the monitor; its :class:`HeartbeatConfig` gives the
advertisement interval, jitter, network delay and the active's stop-the-world pauses):

* the passive declares the active down when no advertisement has arrived for ``timeout_s``
  = ``missed`` × interval + Skew_Time (``missed`` = 3 in the RFC; other values show the
  trade-off), or a ``timeout_s`` given directly;
* a crash at ``crashed_at``: downtime = detection + ``takeover_s`` (gratuitous ARP and the
  caches it updates). Every request arriving at ``rate_rps`` during the downtime fails:
  ``requests_failed`` is a Poisson count drawn from the seed (the instants are kept for the
  plot), ``expected_requests_failed`` = rate × downtime its mean. When the passive had
  already (falsely) declared the active down as the crash came, detection is 0 and the VIP
  answers again at that declaration + takeover_s — for this crash; the means over random
  crashes count detection + takeover_s throughout (conservative);
* a false failover: a pause of the active longer than the timeout makes the passive take
  the VIP while the active lives. The paused active still believes it is Master: two
  Masters — a split brain — until the passive hears the active's next advertisement and,
  having the lower priority, steps down (the active keeps the higher priority, as an
  elected Master does). ``split_brain_s`` is that time for each false failover. The VIP
  moves twice (to the passive, and back), each move a takeover during which requests
  fail: a false failover costs 2 × ``takeover_s`` of downtime and rate × 2 × takeover_s
  failed requests (expected; per day at most every request of the day, when false
  failovers follow each other so closely that the moves overlap). Requests held up *by
  the pause itself* are delayed, not failed, and are not counted; nor are the connections
  each move cuts.

Units: seconds, requests per second, events per day. Everything random takes ``seed``; the
same seed gives the same beats as :func:`scalekit.servers.heartbeats.simulate_heartbeats`
with that seed, so a single run and :func:`failover_tradeoff` agree.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html, sim
from scalekit.servers import heartbeats
from scalekit.servers.heartbeats import HeartbeatConfig

__all__ = [
    "FailoverResult", "FailoverTradeoff", "simulate_failover", "failover_tradeoff",
    "skew_time_s", "master_down_interval_s", "pair_config", "DEFAULT_PRIORITY",
    "DEFAULT_TAKEOVER_S", "DEFAULT_RATE_RPS",
]

#: RFC 5798 §5.2.4: the default priority of a backup router.
DEFAULT_PRIORITY = 100
#: RFC 5798 §6.1: the backup declares the master down after 3 silent intervals (+ skew).
RFC_MISSED = 3.0
#: Seconds from the passive's declaration until traffic reaches it: gratuitous ARPs go out
#: at once (keepalived); on a LAN, switches and hosts update within milliseconds, while
#: switches that batch them delay up to 2 s (Junos ``failover-delay``: 50–2000 ms) and a
#: VIP moved by a cloud API takes seconds. 0.5 s: a middle value — set your network's.
DEFAULT_TAKEOVER_S = 0.5
#: Requests/s through the VIP when no config says otherwise.
DEFAULT_RATE_RPS = 1000.0
_DAY = 86_400.0
#: RFC 5798 §5.1.1.3: the advertisement interval is 12 bits of centiseconds (at most 40.95 s).
MAX_INTERVAL_S = 40.95
#: Longest timeout and takeover one run takes (s); most missed intervals.
MAX_TIMEOUT_S = 3_600.0
MAX_MISSED = 1_000.0


def _interval(value) -> float:
    return _check.number("interval_s", value, low=0.0, low_open=True, high=MAX_INTERVAL_S)


# --------------------------------------------------------------------------- VRRP timers


def _priority(value) -> int:
    return _check.integer("priority", value, low=1, high=254)


def skew_time_s(interval_s: float, priority: int = DEFAULT_PRIORITY) -> float:
    """RFC 5798 Skew_Time (s): ((256 − Priority) × Master_Adver_Interval) / 256.
    ``priority`` is the backup's, 1–254 (255 is reserved for the address owner)."""
    interval = _interval(interval_s)
    return (256 - _priority(priority)) * interval / 256.0


def master_down_interval_s(interval_s: float, priority: int = DEFAULT_PRIORITY,
                           missed: float = RFC_MISSED) -> float:
    """RFC 5798 Master_Down_Interval (s): ``missed`` × interval + Skew_Time, ``missed``
    being 3 in the RFC (priority 100, interval 1 s: 3.609375 s)."""
    k = _check.number("missed", missed, low=0.0, low_open=True, high=MAX_MISSED)
    return k * _interval(interval_s) + skew_time_s(interval_s, priority)


def pair_config(*, interval_s: float = 1.0, rate_rps: float = DEFAULT_RATE_RPS,
                **faults) -> HeartbeatConfig:
    """A :class:`HeartbeatConfig` for one active node advertising to one passive node:
    ``interval_s`` (s) between advertisements, ``rate_rps`` (requests/s) through the VIP;
    ``faults`` are any other HeartbeatConfig fields (``jitter_s``, ``max_delay_s``,
    ``pauses_per_hour``, ``pause_s``, ``pause_distribution``, ``horizon_s``)."""
    for name in ("servers", "request_rate_rps"):
        if name in faults:
            raise TypeError(f"pair_config sets {name} itself; got {name}={faults[name]!r}")
    interval_s = _interval(interval_s)
    rate_rps = _check.non_negative("rate_rps", rate_rps)
    return HeartbeatConfig(interval_s=interval_s, servers=1, request_rate_rps=rate_rps,
                           **faults)


def _config(config, interval_s, rate_rps) -> HeartbeatConfig:
    """The config to run: ``interval_s`` and ``rate_rps``, when given, replace its fields."""
    if config is None:
        config = pair_config()
    elif not isinstance(config, HeartbeatConfig):
        raise TypeError(f"config must be a scalekit.servers.heartbeats.HeartbeatConfig, "
                        f"got {type(config).__name__}")
    changes = {}
    if interval_s is not None:
        changes["interval_s"] = _interval(interval_s)
    if rate_rps is not None:
        changes["request_rate_rps"] = _check.non_negative("rate_rps", rate_rps)
    return dataclasses.replace(config, **changes) if changes else config


def _timeout(cfg, priority, missed, timeout_s) -> tuple[float, float, float]:
    """(skew s, missed intervals, timeout s), from ``missed`` (default 3) or ``timeout_s``;
    with ``timeout_s``, ``missed`` reports (timeout − skew) / interval — negative for a
    timeout shorter than the Skew_Time, which no RFC 5798 setting gives but a student may
    try."""
    skew = skew_time_s(cfg.interval_s, priority)
    if timeout_s is not None:
        if missed is not None:
            raise ValueError(f"give missed ({missed!r}) or timeout_s ({timeout_s!r}), not both")
        timeout = _check.number("timeout_s", timeout_s, low=0.0, low_open=True,
                                high=MAX_TIMEOUT_S)  # below the skew, missed < 0
        return skew, (timeout - skew) / cfg.interval_s, timeout
    k = RFC_MISSED if missed is None else _check.number("missed", missed, low=0.0,
                                                        low_open=True, high=MAX_MISSED)
    return skew, k, k * cfg.interval_s + skew


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False, repr=False)
class FailoverResult(_html.ScalarTable):
    """What one run measured. Instants end in ``_at``, durations in ``_s``.

    The crash: ``crashed_at``, ``declared_down_at`` (the passive's Master_Down_Timer
    fired), ``detection_s``, ``back_at`` (takeover done: the VIP answers again),
    ``downtime_s``, ``requests_failed`` (Poisson draw) and ``expected_requests_failed``.
    ``mean_*``/``max_downtime_s`` cover ``crashes`` crashes at random instants. False
    failovers are counted while the active lived (``alive_s``); each costs
    ``false_failover_downtime_s`` (two VIP moves) and lasts ``mean_split_brain_s`` on
    average; ``false_failover_requests_per_day`` is the expected requests they fail.
    """

    interval_s: float
    priority: int
    missed: float
    skew_s: float
    timeout_s: float
    takeover_s: float
    rate_rps: float
    crashed_at: float
    declared_down_at: float
    detection_s: float
    back_at: float
    downtime_s: float
    requests_failed: int
    expected_requests_failed: float
    crashes: int
    mean_detection_s: float
    mean_downtime_s: float
    max_downtime_s: float
    mean_requests_failed: float
    alive_s: float
    false_failovers: int
    false_failovers_per_day: float
    mean_split_brain_s: float
    false_failover_downtime_s: float
    false_failover_requests_per_day: float
    adverts_at: np.ndarray = field(repr=False)  # advertisements the passive heard
    false_failovers_at: np.ndarray = field(repr=False)
    split_brain_s: np.ndarray = field(repr=False)  # one per false failover
    failed_requests_at: np.ndarray = field(repr=False)  # arrivals during the downtime


@dataclass(frozen=True, eq=False)
class FailoverTradeoff:
    """Downtime per crash and false failovers per day for each timeout, all measured on the
    same simulated advertisements (common random numbers), so the curves are monotone.

    Per timeout: ``missed`` (intervals) and ``timeouts_s`` = missed × interval + skew;
    ``mean_detection_s``, ``mean_downtime_s`` and ``max_downtime_s`` per crash;
    ``requests_failed_per_crash`` (expected); ``false_failovers_per_day`` and
    ``false_failover_requests_per_day`` (expected, 2 × takeover each).
    """

    interval_s: float
    priority: int
    skew_s: float
    takeover_s: float
    rate_rps: float
    missed: np.ndarray
    timeouts_s: np.ndarray
    mean_detection_s: np.ndarray
    mean_downtime_s: np.ndarray
    max_downtime_s: np.ndarray
    requests_failed_per_crash: np.ndarray
    false_failovers_per_day: np.ndarray
    false_failover_requests_per_day: np.ndarray

    @property
    def rfc_timeout_s(self) -> float:
        """RFC 5798's Master_Down_Interval for this interval and priority (3 missed)."""
        return RFC_MISSED * self.interval_s + self.skew_s

    def __repr__(self) -> str:
        return (f"FailoverTradeoff({self.timeouts_s.size} timeouts from "
                f"{self.timeouts_s.min():.4g} s to {self.timeouts_s.max():.4g} s, "
                f"interval {self.interval_s:g} s, priority {self.priority})")

    def _repr_html_(self) -> str:
        cols = ("missed", "timeouts_s", "mean_downtime_s", "max_downtime_s",
                "requests_failed_per_crash", "false_failovers_per_day",
                "false_failover_requests_per_day")
        rows = zip(*(getattr(self, c) for c in cols), strict=True)
        return _html.rows_table(rows, cols)


# --------------------------------------------------------------------------- running


def _requests_rng(seed) -> np.random.Generator:
    """The request arrivals' own stream, apart from the advertisements' (``seed``'s)."""
    return np.random.default_rng(np.random.SeedSequence(_check.seed(seed), spawn_key=(1,)))


def _false_cost(per_day, rate: float, takeover: float):
    """Expected requests failed per day by false failovers: two VIP moves of ``takeover``
    seconds each, at most every request of the day."""
    return np.minimum(per_day * 2.0 * takeover, _DAY) * rate


def _split_brains(heard: np.ndarray, false_at: np.ndarray) -> np.ndarray:
    """For each false failover, the time until the passive next hears the active."""
    j = np.searchsorted(heard, false_at, side="right")
    ok = j < heard.size
    return heard[j[ok]] - false_at[ok]


def simulate_failover(
    config: HeartbeatConfig | None = None,
    *,
    interval_s: float | None = None,
    priority: int = DEFAULT_PRIORITY,
    missed: float | None = None,
    timeout_s: float | None = None,
    takeover_s: float = DEFAULT_TAKEOVER_S,
    rate_rps: float | None = None,
    crashed_at: float | None = None,
    crashes: int = 1000,
    seed: int | None = None,
) -> FailoverResult:
    """Run an active–passive pair under ``config`` (default :func:`pair_config`: 1 s
    adverts, 1000 requests/s, the HeartbeatConfig faults, a day); the active crashes at
    ``crashed_at`` (s; default half way through the horizon).

    ``interval_s`` (s) and ``rate_rps`` (requests/s), when given, replace the config's
    ``interval_s`` and ``request_rate_rps``. The passive's ``priority`` (1–254) and
    ``missed`` (default 3, as RFC 5798) give the timeout, missed × interval + Skew_Time;
    or give ``timeout_s`` (s) instead of ``missed``. ``takeover_s`` (s): from the
    declaration until traffic reaches the passive. ``crashes``: random crash instants the
    mean downtime averages over.
    """
    cfg = _config(config, interval_s, rate_rps)
    prio = _priority(priority)
    skew, k, timeout = _timeout(cfg, prio, missed, timeout_s)
    takeover = _check.number("takeover_s", takeover_s, low=0.0, high=MAX_TIMEOUT_S)
    crash = cfg.horizon_s / 2 if crashed_at is None else crashed_at
    hb = heartbeats.simulate_heartbeats(cfg, timeout_s=timeout, crashed_at=crash,
                                        crashes=crashes, seed=seed)
    rate = cfg.request_rate_rps
    back = max(hb.crashed_at, hb.declared_dead_at + takeover)
    downtime = back - hb.crashed_at
    sim.check_expected_requests("rate_rps × downtime_s", rate * downtime)
    gen = _requests_rng(seed)
    count = int(gen.poisson(rate * downtime))
    failed_at = np.sort(gen.uniform(hb.crashed_at, back, count))
    splits = _split_brains(hb.arrivals_at, hb.false_suspicions_at)
    per_day = hb.false_suspicions_per_hour * 24.0
    mean_downtime = hb.mean_detection_s + takeover
    for arr in (failed_at, splits):
        arr.setflags(write=False)
    return FailoverResult(
        interval_s=cfg.interval_s, priority=prio, missed=float(k), skew_s=skew,
        timeout_s=timeout, takeover_s=takeover, rate_rps=rate, crashed_at=hb.crashed_at,
        declared_down_at=hb.declared_dead_at, detection_s=hb.detection_s,
        back_at=back, downtime_s=downtime, requests_failed=count,
        expected_requests_failed=rate * downtime, crashes=hb.crashes,
        mean_detection_s=hb.mean_detection_s, mean_downtime_s=mean_downtime,
        max_downtime_s=hb.max_detection_s + takeover,
        mean_requests_failed=rate * mean_downtime, alive_s=hb.alive_s,
        false_failovers=hb.false_suspicions, false_failovers_per_day=per_day,
        mean_split_brain_s=float(splits.mean()) if splits.size else math.nan,
        false_failover_downtime_s=2.0 * takeover,
        false_failover_requests_per_day=float(_false_cost(per_day, rate, takeover)),
        adverts_at=hb.arrivals_at, false_failovers_at=hb.false_suspicions_at,
        split_brain_s=splits, failed_requests_at=failed_at,
    )


def failover_tradeoff(
    config: HeartbeatConfig | None = None,
    *,
    interval_s: float | None = None,
    priority: int = DEFAULT_PRIORITY,
    missed=None,
    takeover_s: float = DEFAULT_TAKEOVER_S,
    rate_rps: float | None = None,
    crashes: int = 1000,
    seed: int | None = None,
) -> FailoverTradeoff:
    """Sweep the timeout: for each of ``missed`` (intervals; default 0.5 to 10 in quarter
    steps) the timeout missed × interval + Skew_Time, and what it costs — downtime per
    crash against false failovers per day — all on one set of advertisements (the same
    ``seed``), so false failovers never rise and downtime never falls as the timeout grows.
    Other arguments as :func:`simulate_failover`.
    """
    cfg = _config(config, interval_s, rate_rps)
    prio = _priority(priority)
    skew = skew_time_s(cfg.interval_s, prio)
    takeover = _check.number("takeover_s", takeover_s, low=0.0, high=MAX_TIMEOUT_S)
    if missed is None:
        k = np.arange(2, 41) / 4.0
    else:
        k = _check.array("missed", missed, low=0.0, low_open=True, min_len=1)
    sweep = heartbeats.timeout_tradeoff(cfg, timeouts_s=k * cfg.interval_s + skew,
                                        crashes=crashes, seed=seed)
    rate = cfg.request_rate_rps
    downtime = sweep.mean_detection_s + takeover
    per_day = sweep.false_suspicions_per_hour * 24.0
    out = dict(missed=k, timeouts_s=sweep.timeouts_s, mean_detection_s=sweep.mean_detection_s,
               mean_downtime_s=downtime, max_downtime_s=sweep.max_detection_s + takeover,
               requests_failed_per_crash=rate * downtime, false_failovers_per_day=per_day,
               false_failover_requests_per_day=_false_cost(per_day, rate, takeover))
    for arr in out.values():
        arr.setflags(write=False)
    return FailoverTradeoff(interval_s=cfg.interval_s, priority=prio, skew_s=skew,
                            takeover_s=takeover, rate_rps=rate, **out)
