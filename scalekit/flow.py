"""The flow of requests through a cluster, request by request: the trace an animation replays.

What it is. For every request: when it reached the balancer, where the balancer sent it
(first, and again after a redispatch), when its server began to serve it, when it left, and
how it ended — served, answered by a cache in front, refused by a dead server, lost in
flight, answered 503 by the balancer, dropped by a full queue, served without its session
(the user appears logged out), or failed otherwise. Beside the requests, the cluster's
events: a server crashes, comes back, is marked down or up by the balancer's health checks.

Where it comes from. A trace is read from the public fields of a model's result — a
:class:`scalekit.sim.Results` (:func:`trace_results`), a backend failure behind health
checks (:func:`trace_backend_failure`), logged-in users under a session strategy
(:func:`trace_sessions`) — or assembled from arrays (:func:`flow_trace`). Nothing is
simulated again: the model is the truth, and a view only replays its trace.

The one thing computed is when service began, which the results do not store. Every
server serves its requests first-in first-out, one at a time, so a request starts when it
has reached its server and the request before it there has left: start_n = max(a_n,
d_{n−1}) — the first half of Lindley's recursion d_n = max(a_n, d_{n−1}) + s_n (D. V.
Lindley, "The theory of queues with a single server", Proc. Cambridge Phil. Soc. 48, 1952),
which the engine's departures obey. So start times follow from arrivals and departures
alone, and the queue a view draws is the one the model had. A request lost in flight was in
its server's queue (or in service) until the crash; its start is not known and not drawn.

Units: seconds. Instants end in ``_at``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html

__all__ = ["FlowTrace", "FlowEvent", "flow_trace", "trace_results", "trace_backend_failure",
           "trace_sessions", "OUTCOMES", "EVENTS", "MAX_REQUESTS", "MAX_SERVERS", "SERVED",
           "CACHE_HIT", "REFUSED", "LOST", "UNAVAILABLE", "DROPPED", "LOST_SESSION", "FAILED"]

#: How a request ended (``FlowTrace.outcome``), named in :data:`OUTCOMES`.
SERVED, CACHE_HIT, REFUSED, LOST, UNAVAILABLE, DROPPED, LOST_SESSION, FAILED = range(8)
OUTCOMES = ("served", "cache hit", "refused by a dead server", "lost in flight",
            "unavailable (503)", "dropped (queue full)", "served, session lost", "failed")
#: What can happen to a server (``FlowEvent.kind``).
EVENTS = ("crash", "recover", "mark_down", "mark_up")
#: Most requests one trace may hold (an animation replays them all in a browser).
MAX_REQUESTS = 100_000
#: Most servers one trace may draw.
MAX_SERVERS = 256
#: Users drawn in their own colour by default (the view has that many distinct colours).
FOLLOWED_USERS = 6


@dataclass(frozen=True)
class FlowEvent:
    """Something that happened to server ``server`` at ``at`` (s): one of :data:`EVENTS`."""

    at: float
    kind: str
    server: int


@dataclass(frozen=True, eq=False)
class FlowTrace:
    """Every request of one run, in arrival order, and the cluster's events.

    Per request: ``arrivals_at`` (at the balancer), ``first_server`` (where it was sent
    first; −1: to no server — a cache hit, a 503, a drop), ``server_of`` (where it was
    served or failed last; −1 likewise), ``dispatched_at`` (when it reached ``server_of``:
    its arrival, or its redispatch), ``started_at`` (service began; NaN if never or not
    known), ``departures_at`` (it left its server answered; NaN if not), ``ended_at`` (its
    answer or failure), ``outcome`` (codes :data:`SERVED` …) and ``user_of`` (−1: no user
    to follow). ``followed_users`` are the users a view draws in their own colour.
    ``timed`` is False when the model decides each answer on arrival and keeps no service
    times (the sessions model): then only arrivals, servers and outcomes are known.
    """

    servers: int
    horizon_s: float
    title: str
    timed: bool
    arrivals_at: np.ndarray = field(repr=False)
    first_server: np.ndarray = field(repr=False)
    server_of: np.ndarray = field(repr=False)
    dispatched_at: np.ndarray = field(repr=False)
    started_at: np.ndarray = field(repr=False)
    departures_at: np.ndarray = field(repr=False)
    ended_at: np.ndarray = field(repr=False)
    outcome: np.ndarray = field(repr=False)
    user_of: np.ndarray = field(repr=False)
    events: tuple[FlowEvent, ...] = ()
    followed_users: tuple[int, ...] = ()

    def __len__(self) -> int:
        return int(self.arrivals_at.size)

    @property
    def counts(self) -> dict[str, int]:
        """Requests per outcome name (every name of :data:`OUTCOMES`, zeros included)."""
        n = np.bincount(self.outcome, minlength=len(OUTCOMES))
        return {name: int(c) for name, c in zip(OUTCOMES, n, strict=True)}

    @property
    def redispatched(self) -> int:
        """Requests sent to a second server after the first refused them."""
        return int(((self.first_server != self.server_of) & (self.first_server >= 0)).sum())

    def in_system_at(self, times_s, server: int | None = None) -> np.ndarray:
        """Requests at a server (queued or in service) at each instant, per server or in
        all: dispatched by t and not yet ended. (Timed traces only.)"""
        t = _check.array("times_s", times_s)
        server = _check.optional(_check.integer, "server", server, low=0,
                                 high=self.servers - 1, meaning="every server")
        mask = self.server_of >= 0
        if server is not None:
            mask &= self.server_of == server
        at = self.outcome != CACHE_HIT
        d = np.sort(self.dispatched_at[mask & at])
        e = np.sort(self.ended_at[mask & at])
        return np.searchsorted(d, t, side="right") - np.searchsorted(e, t, side="right")

    def waiting_at(self, times_s, server: int) -> np.ndarray:
        """Requests queued at ``server`` — arrived, not yet in service — at each instant."""
        t = _check.array("times_s", times_s)
        server = _check.integer("server", server, low=0, high=self.servers - 1)
        m = (self.server_of == server) & np.isfinite(self.started_at)
        d, s = np.sort(self.dispatched_at[m]), np.sort(self.started_at[m])
        return np.searchsorted(d, t, side="right") - np.searchsorted(s, t, side="right")

    def summary(self) -> str:
        """One sentence: what happened in this run (what a screen reader says first)."""
        c, n = self.counts, len(self)
        answered = c["served"] + c["served, session lost"] + c["cache hit"]
        parts = [f"{n:,} requests over {_seconds(self.horizon_s)} to {self.servers} "
                 f"server{'s' if self.servers != 1 else ''}: {answered:,} answered"]
        if c["cache hit"]:
            parts[-1] += f" ({c['cache hit']:,} by the cache)"
        if self.timed:
            done = self.outcome == SERVED
            if done.any():
                mean = float(np.mean(self.departures_at[done] - self.arrivals_at[done]))
                parts[-1] += f", in {mean:.2g} s on average"
        for server in dict.fromkeys(e.server for e in self.events):
            said = [_describe(e) for e in self.events if e.server == server]
            tail = f"{', '.join(said[:-1])} and {said[-1]}" if len(said) > 1 else said[0]
            parts.append(f"server {server} {tail}")
        failed = [f"{c[name]:,} {name}" for name in OUTCOMES[2:]
                  if c[name] and name != "served, session lost"]
        if c["served, session lost"]:
            failed.insert(0, f"{c['served, session lost']:,} lost their session")
        if self.redispatched:
            failed.append(f"{self.redispatched:,} redispatched to another server")
        return "; ".join(parts + failed) + "."

    def to_json(self) -> dict:
        """The trace as compact JSON-ready columns for a browser (times rounded to µs;
        NaN as None): what the animated view receives."""
        def times(x):
            return [None if not math.isfinite(v) else round(v, 6) for v in x.tolist()]

        return {
            "servers": self.servers, "horizon": round(self.horizon_s, 6), "title": self.title,
            "timed": self.timed, "summary": self.summary(), "outcomes": list(OUTCOMES),
            "arrival": times(self.arrivals_at), "first": self.first_server.tolist(),
            "server": self.server_of.tolist(), "dispatch": times(self.dispatched_at),
            "start": times(self.started_at), "departure": times(self.departures_at),
            "end": times(self.ended_at), "outcome": self.outcome.tolist(),
            "user": [self.followed_users.index(u) if u in self.followed_users else -1
                     for u in self.user_of.tolist()],
            "events": [{"at": round(e.at, 6), "kind": e.kind, "server": e.server}
                       for e in self.events],
        }

    def _repr_html_(self) -> str:
        rows = {"requests": len(self), "servers": self.servers, "horizon_s": self.horizon_s,
                **{k: v for k, v in self.counts.items() if v}}
        return _html.key_value_table(rows, self.summary())


def _seconds(x: float) -> str:
    return f"{x:.3g} s"


def _describe(e: FlowEvent) -> str:
    what = {"crash": "crashed", "recover": "came back", "mark_down": "was marked down",
            "mark_up": "was marked up again"}[e.kind]
    return f"{what} at {_seconds(e.at)}"


# --------------------------------------------------------------------------- building


def flow_trace(arrivals_at, server_of, departures_at=None, *, servers: int,
               outcome=None, first_server=None, retried_at=None, ended_at=None, user_of=None,
               events: Sequence = (), horizon_s: float | None = None,
               follow: int | Sequence[int] = FOLLOWED_USERS, title: str = "") -> FlowTrace:
    """Assemble a trace from per-request arrays (any order; the trace sorts by arrival).

    ``arrivals_at`` (s); ``server_of`` (the server a request was served or failed at, −1:
    none); ``departures_at`` (s, NaN when not answered by a server; None: the model keeps no
    service times, so the trace is untimed); ``outcome`` (codes :data:`SERVED` …; default:
    served where a departure is known, else dropped); ``first_server`` and ``retried_at``
    (a redispatched request: where it was sent first, and when it was sent again; NaN: not
    redispatched); ``ended_at`` (when a failed request failed; default its departure, or its
    arrival); ``user_of`` (user ids, −1: none); ``events``: (at, kind, server) triples or
    :class:`FlowEvent` (kinds :data:`EVENTS`; NaN instants, meaning never, are left out).
    ``follow``: how many users to draw in their own colour (the first to arrive), or which.
    """
    title = _check.text("title", title, min_len=0)
    a = _check.array("arrivals_at", arrivals_at, low=0.0)
    n = a.size
    if n > MAX_REQUESTS:
        raise ValueError(f"arrivals_at holds {n:,} requests; a trace holds at most "
                         f"{MAX_REQUESTS:,} (replay a window of the run)")
    k = _check.integer("servers", servers, low=1, high=MAX_SERVERS)
    srv = _servers("server_of", server_of, n, k)
    timed = departures_at is not None
    d = _times("departures_at", departures_at, n) if timed else np.full(n, np.nan)
    if outcome is None:
        o = np.where(np.isfinite(d) | (not timed), SERVED, DROPPED).astype(np.int8)
    else:
        o = _codes("outcome", outcome, n)
    first = srv.copy() if first_server is None else _servers("first_server", first_server, n, k)
    r = np.full(n, np.nan) if retried_at is None else _times("retried_at", retried_at, n)
    dispatched = np.where(np.isfinite(r), r, a)
    end = (np.where(np.isfinite(d), d, dispatched) if ended_at is None
           else _times("ended_at", ended_at, n))
    bad = np.isnan(end)
    end[bad] = dispatched[bad]
    users = (np.full(n, -1, dtype=np.int64) if user_of is None
             else _integers("user_of", user_of, n, low=-1))
    horizon = (float(max(a.max(initial=0.0), end.max(initial=0.0))) if horizon_s is None
               else _check.positive("horizon_s", horizon_s))
    order = np.argsort(a, kind="stable")
    a, srv, first, dispatched, d, end, o, users = (x[order] for x in
                                                  (a, srv, first, dispatched, d, end, o, users))
    start = _starts(srv, dispatched, d) if timed else np.full(n, np.nan)
    arrays = dict(arrivals_at=a, first_server=first, server_of=srv, dispatched_at=dispatched,
                  started_at=start, departures_at=d, ended_at=end, outcome=o, user_of=users)
    for value in arrays.values():
        value.setflags(write=False)
    return FlowTrace(servers=k, horizon_s=horizon, title=title, timed=timed,
                     events=_events(events, k), followed_users=_followed(follow, users),
                     **arrays)


def _starts(server_of, dispatched_at, departures_at) -> np.ndarray:
    """When each request began service: max(its dispatch, the departure of the request
    served before it at its server), for requests that left answered (NaN otherwise)."""
    start = np.full(server_of.size, np.nan)
    for i in np.unique(server_of[server_of >= 0]):
        at = np.flatnonzero((server_of == i) & np.isfinite(departures_at))
        at = at[np.argsort(dispatched_at[at], kind="stable")]
        d = departures_at[at]
        before = np.concatenate(([-np.inf], np.maximum.accumulate(d)[:-1]))
        start[at] = np.maximum(dispatched_at[at], before)
    return start


def _times(name, values, n) -> np.ndarray:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of instants (s; NaN: never), got "
                        f"{type(values).__name__}")
    try:
        x = np.array(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must hold numbers (instants in s; NaN: never)") from exc
    if x.shape != (n,):
        raise ValueError(f"{name} must hold one instant per request of arrivals_at ({n}), "
                         f"got shape {x.shape}")
    if np.any(x[np.isfinite(x)] < 0) or np.any(np.isinf(x)):
        raise ValueError(f"{name} must be instants >= 0 s (NaN: never), got "
                         f"{x[np.isinf(x) | (x < 0)][:1].tolist()}")
    return x


def _integers(name, values, n, *, low: int, high: int | None = None) -> np.ndarray:
    x = np.asarray(values)
    if x.shape != (n,):
        raise ValueError(f"{name} must hold one value per request of arrivals_at ({n}), got "
                         f"shape {x.shape}")
    if x.size and x.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got {x.dtype} values")
    x = x.astype(np.int64)
    if x.size and (x.min() < low or (high is not None and x.max() > high)):
        raise ValueError(f"{name} must lie in [{low}, {high if high is not None else '∞'}], "
                         f"got values from {x.min()} to {x.max()}")
    return x


def _servers(name, values, n, k) -> np.ndarray:
    return _integers(name, values, n, low=-1, high=k - 1)


def _codes(name, values, n) -> np.ndarray:
    return _integers(name, values, n, low=0, high=len(OUTCOMES) - 1).astype(np.int8)


def _events(events, k) -> tuple[FlowEvent, ...]:
    out = []
    for i, e in enumerate(_check.sequence("events", events, what="(at, kind, server) triples")):
        if isinstance(e, FlowEvent):
            at, kind, server = e.at, e.kind, e.server
        elif isinstance(e, Sequence) and not isinstance(e, str) and len(e) == 3:
            at, kind, server = e
        else:
            raise TypeError(f"events[{i}] must be an (at, kind, server) triple or a "
                            f"FlowEvent, got {e!r}")
        _check.choice("event kind", kind, EVENTS)
        server = _check.integer("event server", server, low=0, high=k - 1)
        if at is None or (isinstance(at, float) and math.isnan(at)):
            continue  # never happened
        out.append(FlowEvent(_check.non_negative("event instant", at), kind, server))
    return tuple(sorted(out, key=lambda e: (e.at, EVENTS.index(e.kind))))


def _followed(follow, users) -> tuple[int, ...]:
    if isinstance(follow, int | np.integer) and not isinstance(follow, bool):
        count = _check.integer("follow", int(follow), low=0, high=FOLLOWED_USERS)
        seen = users[users >= 0]
        _, first = np.unique(seen, return_index=True)
        return tuple(int(u) for u in seen[np.sort(first)][:count])
    if isinstance(follow, str | bytes | Mapping) or not isinstance(follow, Sequence | np.ndarray):
        raise TypeError(f"follow must be a count of users (0 to {FOLLOWED_USERS}) or a list "
                        f"of user ids, got {follow!r}")
    if len(follow) > FOLLOWED_USERS:
        raise ValueError(f"follow names {len(follow)} users; at most {FOLLOWED_USERS} "
                         "have their own colour")
    return tuple(_check.integer(f"follow[{i}]", u, low=0) for i, u in enumerate(follow))


# --------------------------------------------------------------------------- from results


def _fields(result, names: Sequence[str], kind: str, name: str = "result"):
    missing = [n for n in names if not hasattr(result, n)]
    if missing:
        raise TypeError(f"{name} must be a {kind} (it has no {', '.join(missing)}), got "
                        f"{type(result).__name__}")
    return [getattr(result, n) for n in names]


def trace_results(results, *, cache_hits_at=None, user_of=None,
                  follow: int | Sequence[int] = FOLLOWED_USERS, title: str | None = None
                  ) -> FlowTrace:
    """The trace of one :func:`scalekit.sim.run`: its requests, servers and departures.

    A request dropped by a full queue is :data:`DROPPED`. ``cache_hits_at`` (s, optional):
    requests a cache in front of the balancer answered at once — run the model on the
    misses and pass the hits' arrival instants here; they join the trace as
    :data:`CACHE_HIT`. ``user_of``: a user id per request of ``results`` (−1: none).
    """
    a, d, srv, k, horizon, policy = _fields(
        results, ("arrivals_at", "departures_at", "server_of", "servers", "horizon_s",
                  "policy"), "scalekit.sim.Results", "results")
    a = np.asarray(a, dtype=float)
    d = np.asarray(d, dtype=float)
    srv = np.where(np.isfinite(d), srv, -1)  # a dropped request reached no server's queue
    users = (np.full(a.size, -1, dtype=np.int64) if user_of is None
             else _integers("user_of", user_of, a.size, low=-1))
    outcome = np.where(np.isfinite(d), SERVED, DROPPED)
    if cache_hits_at is not None:
        hits = _check.array("cache_hits_at", cache_hits_at, low=0.0)
        a = np.concatenate((a, hits))
        d = np.concatenate((d, hits))  # answered on arrival
        srv = np.concatenate((srv, np.full(hits.size, -1)))
        users = np.concatenate((users, np.full(hits.size, -1)))
        outcome = np.concatenate((outcome, np.full(hits.size, CACHE_HIT)))
    label = title if title is not None else str(policy).replace("_", " ")
    return flow_trace(a, srv, d, servers=int(k), outcome=outcome, user_of=users,
                      horizon_s=float(horizon), follow=follow, title=label)


def trace_backend_failure(result, *, follow: int | Sequence[int] = 0,
                          title: str | None = None) -> FlowTrace:
    """The trace of :func:`scalekit.balancing.simulate_backend_failure`: the requests, the
    crash, the recovery, and the instants the health checks marked the server down and up.

    A redispatched request keeps its first server (the dead one) and its retry instant."""
    from scalekit.balancing import health

    names = ("arrivals_at", "outcome", "first_server", "server_of", "retried_at",
             "departures_at", "ended_at", "servers", "failed_server", "crashed_at",
             "recovered_at", "marked_down_at", "marked_up_at", "horizon_s", "policy")
    (a, o, first, srv, retried, d, end, k, dead, crash, recover, down, up, horizon,
     policy) = _fields(result, names, "scalekit.balancing.BackendFailureResult")
    codes = {"served": SERVED, "refused": REFUSED, "lost in flight": LOST,
             "unavailable (503)": UNAVAILABLE}
    outcome = _translate(o, health.OUTCOMES, codes)
    srv = np.where(outcome == UNAVAILABLE, -1, srv)
    events = [(crash, "crash", dead), (recover, "recover", dead), (down, "mark_down", dead),
              (up, "mark_up", dead)]
    label = title if title is not None else str(policy).replace("_", " ")
    return flow_trace(a, srv, d, servers=int(k), outcome=outcome, first_server=first,
                      retried_at=retried, ended_at=end, events=events,
                      horizon_s=float(horizon), follow=follow, title=label)


def trace_sessions(result, *, follow: int | Sequence[int] = FOLLOWED_USERS,
                   title: str | None = None) -> FlowTrace:
    """The trace of :func:`scalekit.sessions.simulate_sessions`: each logged-in user's
    requests, the server each reached and its answer, the crash and the mark-down.

    The sessions model decides each answer when the request arrives and keeps no service
    times, so the trace is untimed (``timed=False``): a view shows where each request went
    and how it was answered, not a queue."""
    from scalekit import sessions

    names = ("arrivals_at", "user_of", "server_of", "outcome", "servers", "failed_server",
             "server_fails_at", "marked_down_at", "duration_s", "strategy")
    (a, users, srv, o, k, dead, crash, down, duration,
     strategy) = _fields(result, names, "scalekit.sessions.SessionsResult")
    codes = {"served": SERVED, "lost session": LOST_SESSION,
             "refused by the dead server": REFUSED, "database down": FAILED,
             "cookie too large": FAILED}
    outcome = _translate(o, sessions.OUTCOMES, codes)
    events = [] if dead < 0 else [(crash, "crash", dead), (down, "mark_down", dead)]
    label = title if title is not None else str(strategy).replace("_", " ")
    return flow_trace(a, srv, None, servers=int(k), outcome=outcome, user_of=users,
                      events=events, horizon_s=float(duration), follow=follow, title=label)


def _translate(codes, names: Sequence[str], ours: dict[str, int]) -> np.ndarray:
    """A model's outcome codes (indices into its ``names``) as this module's codes."""
    missing = [name for name in names if name not in ours]
    if missing:
        raise ValueError(f"unknown outcome {missing[0]!r}; a trace knows {sorted(ours)}")
    table = np.array([ours[name] for name in names], dtype=np.int8)
    return table[np.asarray(codes, dtype=np.int64)]
