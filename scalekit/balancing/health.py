"""A backend dies behind the balancer: how long health checks take to notice, and what the
requests sent to it in the meantime suffer.

The real mechanism. HAProxy checks every server actively (``server s1 ... check inter 2s
rise 2 fall 3``): a check every ``inter``; ``fall`` consecutive failed checks mark the server
DOWN, ``rise`` consecutive successful ones bring it back UP (HAProxy configuration manual,
section 5.2: ``inter``, ``rise``, ``fall``; defaults 2 s, 2, 3). Until the balancer marks a
crashed server down it keeps sending it its share of the traffic. Each such connection is
refused; with ``retries`` and ``option redispatch`` HAProxy tries the connection again on
another server and the client never notices, without them the client gets an error. A
request whose connection was already established when the server died is not retried
("when a connection has effectively been established to a server, there will be no more
retry", manual, ``retries``): it is lost.

What is modelled:

* ``servers`` FIFO servers (relative ``speeds``) behind a balancer ``policy`` — any
  :class:`scalekit.sim.Policy` or policy name; the policy reads ``state.up``/``state.down``;
* server ``failed_server`` crashes at ``crashed_at`` (s): every request in its queue at that
  instant (in service or waiting) is lost; from then on it refuses connections at once (the
  process died, the host answers with a reset), until it comes back, empty, at
  ``recovered_at`` (s; None: never);
* the balancer checks each server every ``inter_s`` seconds at its own phase, uniform on
  [0, inter_s) (HAProxy staggers its checks); a check of the crashed server fails at once,
  checks of the others pass. The server is marked down at its ``fall``-th failed check in a
  row — between (fall − 1)·inter and fall·inter after the crash, (fall − 0.5)·inter on average
  — and up again at its ``rise``-th passed check after recovering. A server that recovers
  before ``fall`` failures in a row is never marked down; one that crashes before its first
  check is marked down at its first failure (HAProxy starts a server at health = rise);
* a refused request is, with ``redispatch``, tried once more after ``retry_delay_s`` on
  another server the balancer believes up (the policy chooses again with the refusing server
  excluded, as HAProxy's ``srvtoavoid``; a hash policy rehashes the same client), and is
  otherwise failed. HAProxy's defaults (``retries 3``, redispatch on the last retry) first
  retry the same server after a turn-around of up to 1 s each: ``retry_delay_s`` ≈ 2–3 s
  models that, the default 0 models ``option redispatch 1`` (redispatch on every retry);
* when every server is marked down (one server, no redispatch) requests fail at once: the
  balancer answers 503 itself.

A model on the one dispatch loop, :class:`scalekit.sim.Dispatcher`: the crash, the recovery
and the two marks are four instants known in advance (the checks follow a fixed schedule),
scheduled as :class:`~scalekit.sim.Crash`, :class:`~scalekit.sim.Recover`,
:class:`~scalekit.sim.MarkDown` and :class:`~scalekit.sim.MarkUp` events; redispatch is the
loop's retry hook, and the policy's :meth:`~scalekit.sim.Policy.choose_again` picks the
retry's server (a hash policy rehashes the same client).
Units: seconds and requests per second. ``seed`` drives the check phases and the policy's
own randomness; the same seed gives the same result, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html, sim
from scalekit.balancing.policies import as_policy
from scalekit.sim import LOST, REFUSED, SERVED, UNAVAILABLE, Policy, Workload, bin_edges, rng

__all__ = ["simulate_backend_failure", "BackendFailureResult", "FailureTimeline", "OUTCOMES",
           "SERVED", "REFUSED", "LOST", "UNAVAILABLE", "DEFAULT_SERVERS", "MIN_INTER_S"]

#: Outcome codes of a request (``BackendFailureResult.outcome``), named in :data:`OUTCOMES`:
#: the dispatch loop's own (:data:`scalekit.sim.OUTCOMES`; nothing is dropped here).
OUTCOMES = sim.OUTCOMES[:4]
DEFAULT_SERVERS = 4
MIN_INTER_S = 0.001  # HAProxy's timers count milliseconds
_MAX_COUNT = 1000  # rise and fall: HAProxy takes any positive count; more is never useful


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class FailureTimeline:
    """Requests per second in bins of ``bin_s`` seconds starting at ``starts_at``: served
    (counted when they leave their server), failed (when they fail) and retried (when the
    retry is sent)."""

    starts_at: np.ndarray
    bin_s: float
    served_rps: np.ndarray
    failed_rps: np.ndarray
    retried_rps: np.ndarray


@dataclass(frozen=True, eq=False, repr=False)
class BackendFailureResult:
    """What one run measured. Instants end in ``_at``, durations in ``_s``.

    ``marked_down_at``/``marked_up_at`` are when the health checks took the failed server
    out and put it back (NaN if never: it recovered before ``fall`` failed checks, or
    never recovered); they may fall after the horizon, for the checks go on. ``detection_s``
    = marked_down_at − crashed_at, ``rejoin_s`` = marked_up_at − recovered_at.

    Every request is counted once: ``arrived = served + failed`` and ``failed =
    lost_in_flight + refused + unavailable``. ``sent_to_dead`` requests were first sent to the
    crashed server (before it was marked down); ``retried`` of them were redispatched, and
    the rest are ``refused``. Latencies (arrival to departure, s) cover served requests,
    retry delay included.

    Per request, in arrival order: ``outcome`` (codes :data:`SERVED`, :data:`REFUSED`,
    :data:`LOST`, :data:`UNAVAILABLE`), ``first_server`` (where it was sent first, −1 if
    nowhere), ``server_of`` (where it was sent last), ``retried_at`` (when it was
    redispatched, NaN if not), ``departures_at`` (NaN if failed) and ``ended_at`` (its
    departure or the instant it failed).
    """

    policy: str
    servers: int
    failed_server: int
    crashed_at: float
    recovered_at: float
    marked_down_at: float
    marked_up_at: float
    detection_s: float
    rejoin_s: float
    inter_s: float
    rise: int
    fall: int
    redispatch: bool
    retry_delay_s: float
    horizon_s: float
    arrived: int
    served: int
    failed: int
    lost_in_flight: int
    refused: int
    unavailable: int
    sent_to_dead: int
    retried: int
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    check_phase_s: float
    arrivals_at: np.ndarray = field(repr=False)
    outcome: np.ndarray = field(repr=False)
    first_server: np.ndarray = field(repr=False)
    server_of: np.ndarray = field(repr=False)
    retried_at: np.ndarray = field(repr=False)
    departures_at: np.ndarray = field(repr=False)
    ended_at: np.ndarray = field(repr=False)

    @property
    def failed_fraction(self) -> float:
        """Failed requests ÷ arrived requests."""
        return self.failed / self.arrived if self.arrived else math.nan

    @property
    def latencies_s(self) -> np.ndarray:
        """Time in system (s) of every served request, retry delay included."""
        ok = self.outcome == SERVED
        return self.departures_at[ok] - self.arrivals_at[ok]

    def timeline(self, bin_s: float = 1.0) -> FailureTimeline:
        """Served, failed and retried requests per second over [0, horizon], in bins of
        ``bin_s`` seconds (the last bin may reach past the horizon)."""
        edges = bin_edges(self.horizon_s, bin_s)
        width = float(edges[1])

        def rate(instants):
            return np.histogram(instants, edges)[0] / width

        served = self.outcome == SERVED
        return FailureTimeline(
            starts_at=edges[:-1], bin_s=width, served_rps=rate(self.departures_at[served]),
            failed_rps=rate(self.ended_at[~served]),
            retried_rps=rate(self.retried_at[np.isfinite(self.retried_at)]))

    def summary(self) -> dict:
        """The scalar fields, in order, and the failed fraction."""
        out = {k: getattr(self, k) for k, f in self.__dataclass_fields__.items() if f.repr}
        out["failed_fraction"] = self.failed_fraction
        return out

    def __repr__(self) -> str:
        shown = (f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v!r}"
                 for k, v in self.summary().items())
        return f"{type(self).__name__}({', '.join(shown)})"

    def _repr_html_(self) -> str:
        if math.isnan(self.marked_down_at):
            note = ("never marked down: it came back before failing fall checks in a row"
                    if math.isfinite(self.recovered_at) else "never marked down")
        else:
            note = (f"marked down {self.detection_s:.3g} s after the crash; "
                    f"{self.sent_to_dead} requests were sent to it in the meantime")
        return _html.key_value_table(self.summary(), note)


# --------------------------------------------------------------------------- health checks


def _check_instant(phase: float, inter: float, m: int) -> float:
    return phase + m * inter


def _first_check_at_or_after(t: float, phase: float, inter: float) -> int:
    """Index m of the first check phase + m·inter at or after ``t``."""
    m = max(0, math.ceil((t - phase) / inter))
    if _check_instant(phase, inter, m) < t:  # the division rounded down
        m += 1
    return m


def _marks(phase, inter, rise, fall, crashed_at, recovered_at) -> tuple[float, float]:
    """(marked down, marked up) instants from the check schedule: a check in
    [crashed_at, recovered_at) fails, any other passes.

    HAProxy's health counter (check.c): a server starts at health = rise — up, "but will
    fall down at first failure"; one passed check lifts it to rise + fall − 1; each failure
    takes one off and below rise the server is down (health 0); from there it needs rise
    passes. So a server that crashes before its first check falls at its first failure."""
    m = _first_check_at_or_after(crashed_at, phase, inter)
    failures = fall if m > 0 else 1  # m checks passed before the crash
    down = _check_instant(phase, inter, m + failures - 1)
    if recovered_at is not None and down >= recovered_at:
        return math.nan, math.nan  # back before fall failures in a row: never marked down
    if recovered_at is None:
        return down, math.nan
    m = _first_check_at_or_after(recovered_at, phase, inter)
    return down, _check_instant(phase, inter, m + rise - 1)


# --------------------------------------------------------------------------- running


def simulate_backend_failure(
    workload: Workload,
    *,
    crashed_at: float,
    recovered_at: float | None = None,
    servers: int | None = None,
    speeds: Sequence[float] | None = None,
    policy: str | Policy = "round_robin",
    failed_server: int = 0,
    inter_s: float = 2.0,
    rise: int = 2,
    fall: int = 3,
    redispatch: bool = True,
    retry_delay_s: float = 0.0,
    seed: int | None = None,
) -> BackendFailureResult:
    """Serve ``workload`` while server ``failed_server`` crashes at ``crashed_at`` (s) and,
    if ``recovered_at`` (s) is given, comes back then; the balancer's health checks (every
    ``inter_s`` s, ``rise``/``fall`` checks in a row) take it out and put it back.

    ``servers`` identical speed-1 servers (default 4), or ``speeds`` (one relative speed per
    server); ``policy`` a policy name from :mod:`scalekit.balancing` or a
    :class:`~scalekit.sim.Policy`. ``redispatch``: retry a refused request once on another
    server after ``retry_delay_s`` (s) — HAProxy's ``option redispatch`` — instead of failing
    it. ``crashed_at`` must lie inside the workload's horizon, ``recovered_at`` after it
    (and by the horizon). ``seed`` drives the check phases and the policy's randomness.
    """
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload, got {type(workload).__name__}")
    if len(workload) == 0:
        raise ValueError("workload must hold at least one request, got an empty Workload")
    horizon = workload.horizon_s
    speeds = sim.cluster_speeds(servers, speeds, default=DEFAULT_SERVERS)
    k = len(speeds)
    dead = _check.integer("failed_server", failed_server, low=0, high=k - 1)
    crash = _check.number("crashed_at", crashed_at, low=0.0, high=horizon, high_open=True)
    recovery = None
    if recovered_at is not None:
        recovery = _check.number("recovered_at", recovered_at, low=crash, low_open=True,
                                 high=horizon)
    inter = _check.number("inter_s", inter_s, low=MIN_INTER_S)  # HAProxy counts in ms
    rise = _check.integer("rise", rise, low=1, high=_MAX_COUNT)
    fall = _check.integer("fall", fall, low=1, high=_MAX_COUNT)
    redispatch = _check.boolean("redispatch", redispatch)
    if redispatch and k == 1:
        raise ValueError("redispatch needs another server to retry on, but servers=1; "
                         "use redispatch=False or more servers")
    delay = _check.non_negative("retry_delay_s", retry_delay_s)
    policy = as_policy(policy)
    gen = rng(seed)
    phase = float(gen.uniform(0.0, inter, k)[dead])  # each server's checks at its own phase
    down_at, up_at = _marks(phase, inter, rise, fall, crash, recovery)
    # At most two decisions per request: the first try and one retry.
    dispatcher = sim.Dispatcher(speeds, policy, gen, decisions=2 * len(workload),
                                retry_delay_s=delay if redispatch else None)
    # In this order at equal instants (fall=1 can mark the server down as it crashes).
    for at, event in ((crash, sim.Crash(dead)), (down_at, sim.MarkDown(dead)),
                      (up_at, sim.MarkUp(dead)), (recovery, sim.Recover(dead))):
        if at is not None and not math.isnan(at):
            dispatcher.schedule(at, event)
    log = dispatcher.serve(workload)
    return _result(log, workload, policy, speeds, dead, crash, recovery, down_at, up_at,
                   inter, rise, fall, redispatch, delay, phase)


def _result(log: sim.Dispatch, workload, policy, speeds, dead, crash, recovery, down_at,
            up_at, inter, rise, fall, redispatch, delay, phase) -> BackendFailureResult:
    outcome, first = log.outcome, log.first_server
    retried_at, departures = log.retried_at, log.departures_at
    a = workload.arrivals_at
    counts = np.bincount(outcome, minlength=4)
    served = outcome == SERVED
    lat = departures[served] - a[served]
    if lat.size:
        mean, (p50, p95, p99) = float(lat.mean()), np.percentile(lat, [50, 95, 99]).tolist()
    else:
        mean = p50 = p95 = p99 = math.nan
    retried = int(np.isfinite(retried_at).sum())
    rec = math.nan if recovery is None else recovery
    arrays = dict(arrivals_at=a, outcome=outcome, first_server=first,
                  server_of=log.server_of, retried_at=retried_at, departures_at=departures,
                  ended_at=log.ended_at)
    for value in arrays.values():
        value.setflags(write=False)
    return BackendFailureResult(
        policy=getattr(policy, "name", type(policy).__name__), servers=len(speeds),
        failed_server=dead, crashed_at=crash, recovered_at=rec, marked_down_at=down_at,
        marked_up_at=up_at, detection_s=down_at - crash, rejoin_s=up_at - rec,
        inter_s=inter, rise=rise, fall=fall, redispatch=redispatch, retry_delay_s=delay,
        horizon_s=workload.horizon_s, arrived=int(outcome.size), served=int(counts[SERVED]),
        failed=int(outcome.size - counts[SERVED]), lost_in_flight=int(counts[LOST]),
        refused=int(counts[REFUSED]), unavailable=int(counts[UNAVAILABLE]),
        sent_to_dead=int(counts[REFUSED]) + retried, retried=retried, mean_s=mean,
        p50_s=float(p50), p95_s=float(p95), p99_s=float(p99), check_phase_s=phase, **arrays)
