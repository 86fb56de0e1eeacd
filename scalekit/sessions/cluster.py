"""Logged-in users behind a balancer: what each session strategy
(:mod:`scalekit.sessions.strategies`) loses, fails and costs — under normal load and when a
server dies.

Users on multi-request visits (:mod:`scalekit.sessions.visits`) send their requests through
a balancer to ``servers`` servers; each request is routed by the strategy and answered:
*served*, a *lost session* (the server does not hold the user's session: the user appears
logged out, and a new session starts there), or *failed*. For the database strategy every
answered request reads and writes its session in a real SQLite file, in one transaction
(``real_store=True``; a session the store cannot give back counts as lost), and waits
``store_ms`` for it — by default 0.5 ms, the median durable SQLite read + write measured on
the course's reference machine (0.46–0.76 ms): a fixed number, so that the same seed gives
the same run everywhere; pass ``store_ms=None`` to use this machine's measurement
(:func:`scalekit.sessions.store.store_latency`). The simulation's own transactions skip the
wait for the disk (``synchronous=NORMAL``), so a run takes a fraction of a second; with
``real_store=False`` (the widget) only the final sessions are written, in one transaction.
From ``database_down_at`` the store is down and every request fails. For the client
strategy the request carries the signed cookie, and one that would pass the cookie limit
fails.

Failure: server ``failed_server`` crashes at ``server_fails_at`` (s) and stays dead; the
balancer marks it DOWN ``detection_s`` seconds later (HAProxy's active checks, ``inter`` 2 s
``fall`` 3, take 4–6 s, 5 s on average: see :mod:`scalekit.balancing.health`). Until then
requests sent to it are refused and fail (no ``option redispatch`` retry); the sessions in
its memory are gone.

What is modelled and what is not: a request's answer — served, lost session, or failed — is
decided when it arrives; its ``work_s`` only keeps its server busy, so that fewest
connections has connections to count (a dead server refuses at once, so until it is marked
down it looks idle and fewest connections favours it: the "black hole"). Units: seconds,
milliseconds where named ``_ms``, bytes. ``seed`` drives the visits and the policy; the
same seed gives the same result, bit for bit.

A model on the one dispatch loop (:class:`scalekit.sim.Dispatcher`): the strategy routes as
a balancer policy (:class:`~scalekit.sessions.strategies.SessionRouting`), the crash and the
mark-down are scheduled events, and each request's answer is then decided in arrival order
from where the loop sent it. The settings are one :class:`SessionsSettings`; the runners
take it, or its defaults, with any field overridden by name.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scalekit import _check, sim
from scalekit.sessions import store, visits
from scalekit.sessions.results import (
    DATABASE_DOWN,
    LOST,
    OUTCOMES,
    REFUSED,
    SERVED,
    TOO_LARGE,
    SessionsComparison,
    SessionsResult,
    SessionsTimeline,
)
from scalekit.sessions.strategies import (
    STRATEGIES,
    SessionRouting,
    Strategy,
    balancing_policy,
)
from scalekit.sessions.strategies import strategy as as_strategy
from scalekit.sim import Policy, imbalance

__all__ = ["OUTCOMES", "SERVED", "LOST", "REFUSED", "DATABASE_DOWN", "TOO_LARGE",
           "SessionsSettings", "simulate_sessions", "compare_strategies", "SessionsResult",
           "SessionsTimeline", "SessionsComparison", "DEFAULT_STORE_MS"]

_SESSION_COOKIE = len("session=") + visits.SESSION_ID_CHARS


# --------------------------------------------------------------------------- settings


#: A request's wait for one durable SQLite read + write (ms): the median measured on the
#: course's reference machine (0.46–0.76 ms over several runs of store.store_latency()).
DEFAULT_STORE_MS = 0.5


def _instant(name, value, duration) -> float | None:
    if value is None:
        return None
    return _check.number(name, value, low=0.0, high=duration, high_open=True)


@dataclass(frozen=True)
class SessionsSettings:
    """Everything a sessions run holds fixed but the strategy; checked when made.

    ``servers`` behind a balancer ``policy`` (a name from :data:`BALANCING_POLICIES` or a
    Policy); ``users`` visits of ``visit_requests`` requests (think time mean ``think_s`` s,
    starts over [0, ``duration_s``) s); ``service_s`` — mean work per request (s,
    exponential). ``server_fails_at`` (s; None: no failure) — server ``failed_server``
    crashes, marked down ``detection_s`` s later. ``nat_share`` — the share of users behind
    one NAT address. ``session_bytes`` — the session's size after login (bytes of JSON).
    ``database_down_at`` (s; None: never) — the session database stops answering (database
    strategy only). ``uplink_mbps`` — the client's upload bandwidth (Mbit/s) the cookie
    travels over. ``database_path`` — where the database strategy writes the sessions
    (default: a file in a temporary directory, reused by the next run). ``real_store`` —
    with the database strategy, every answered request reads and writes its session in that
    real SQLite file, in one transaction, and a session the store cannot give back counts as
    lost (True); or only the final sessions are written at the end, for speed (False: what
    the widget uses). ``store_ms`` — what one read + write costs a request (ms; default
    :data:`DEFAULT_STORE_MS`; None: measure it on this machine, once per process — then runs
    on other machines differ). ``seed`` (None: fresh entropy, drawn once per run or
    comparison) drives the visits and the policy.
    """

    servers: int = 4
    policy: str | Policy = "round_robin"
    users: int = 300
    visit_requests: int = 8
    think_s: float = 10.0
    duration_s: float = 120.0
    service_s: float = 0.05
    server_fails_at: float | None = None
    failed_server: int = 0
    detection_s: float = 6.0
    nat_share: float = 0.0
    session_bytes: int = 200
    database_down_at: float | None = None
    uplink_mbps: float = 5.0
    database_path: str | os.PathLike | None = None
    real_store: bool = True
    store_ms: float | None = DEFAULT_STORE_MS
    seed: int | None = None

    def __post_init__(self):
        n = _check.integer("servers", self.servers, low=1, high=1000)
        duration = _check.positive("duration_s", self.duration_s)
        fails_at = _instant("server_fails_at", self.server_fails_at, duration)
        if fails_at is not None and n == 1:
            raise ValueError("server_fails_at needs another server to take over, but "
                             "servers=1; use servers >= 2 or server_fails_at=None")
        count = _check.integer("users", self.users, low=1, high=visits.MAX_USERS)
        steps = _check.integer("visit_requests", self.visit_requests, low=1,
                               high=visits.MAX_VISIT_REQUESTS)
        sim.check_expected_requests("users × visit_requests", count * steps)
        path = self.database_path
        if path is not None and not isinstance(path, str | os.PathLike):
            raise TypeError(f"database_path must be a file path or None, got {path!r}")
        balancing_policy(self.policy)  # a name or instance that balances (not a hash)
        checked = dict(
            servers=n, users=count, visit_requests=steps, duration_s=duration,
            think_s=_check.positive("think_s", self.think_s),
            service_s=_check.positive("service_s", self.service_s), server_fails_at=fails_at,
            failed_server=_check.integer("failed_server", self.failed_server, low=0,
                                         high=n - 1),
            detection_s=_check.non_negative("detection_s", self.detection_s),
            nat_share=_check.probability("nat_share", self.nat_share),
            session_bytes=_check.integer("session_bytes", self.session_bytes, low=0,
                                         high=visits.MAX_SESSION_BYTES),
            database_down_at=_instant("database_down_at", self.database_down_at, duration),
            uplink_mbps=_check.positive("uplink_mbps", self.uplink_mbps),
            real_store=_check.boolean("real_store", self.real_store),
            store_ms=None if self.store_ms is None else
            _check.non_negative("store_ms", self.store_ms),
            seed=_check.seed(self.seed))
        for name, value in checked.items():
            object.__setattr__(self, name, value)


_SCRATCH: list[tempfile.TemporaryDirectory] = []


def _default_database_path() -> Path:
    """A file in a temporary directory kept for this process (removed when it exits)."""
    if not _SCRATCH:
        _SCRATCH.append(tempfile.TemporaryDirectory(prefix="scalekit-sessions-"))
    return Path(_SCRATCH[0].name) / "sessions.sqlite3"


def _seeded(s: SessionsSettings) -> SessionsSettings:
    """``s`` with a seed: fresh entropy, drawn once, when none was given."""
    if s.seed is not None:
        return s
    return dataclasses.replace(s, seed=int(np.random.default_rng().integers(2**63)))


# --------------------------------------------------------------------------- running


def simulate_sessions(strategy: str | Strategy = "none", settings: SessionsSettings | None = None,
                      **overrides) -> SessionsResult:
    """Serve the users of ``settings`` (a :class:`SessionsSettings`; None: its defaults),
    with ``overrides`` (any of its fields, by name) applied, keeping sessions by
    ``strategy`` (a name from :data:`STRATEGIES` or a :class:`Strategy`)."""
    chosen = as_strategy(strategy)
    s = _seeded(_check.settings(SessionsSettings, settings, overrides))
    return _run(chosen, _draw(s), s)


def compare_strategies(strategies: Sequence = STRATEGIES,
                       settings: SessionsSettings | None = None,
                       **overrides) -> SessionsComparison:
    """Run each of ``strategies`` (names or :class:`Strategy` instances) on the same users,
    failure and seed: ``settings`` with ``overrides``, as :func:`simulate_sessions`."""
    strategies = _check.sequence("strategies", strategies, what="strategy names",
                                 max_len=len(STRATEGIES) * 4)
    if not strategies:
        raise ValueError(f"strategies must be a non-empty list of strategy names, "
                         f"got {strategies!r}")
    chosen = [as_strategy(x) for x in strategies]
    names = [c.name for c in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"strategies must be distinct, got {names!r}")
    s = _seeded(_check.settings(SessionsSettings, settings, overrides))
    drawn = _draw(s)
    return SessionsComparison({c.name: _run(c, drawn, s) for c in chosen})


def _draw(s: SessionsSettings) -> visits.Visits:
    return visits.draw_visits(s.users, s.visit_requests, s.think_s, s.duration_s,
                              s.service_s, s.nat_share, s.seed)


def _run(strategy: Strategy, v: visits.Visits, s: SessionsSettings) -> SessionsResult:
    """Route every request through the dispatch loop (the strategy as a policy, the crash
    and the mark-down as scheduled events), then decide each answer in arrival order."""
    k, keeps = s.servers, strategy.keeps
    fails = s.server_fails_at is not None
    crash_at = s.server_fails_at if fails else math.nan
    down_at = crash_at + s.detection_s
    store_ms = 0.0
    if keeps == "database":
        store_ms = s.store_ms if s.store_ms is not None else store.store_latency().median_ms
    gen = np.random.default_rng([s.seed, 1])  # the policy's stream, same for every strategy
    balancer = balancing_policy(s.policy)
    routing = SessionRouting(strategy, balancer, v.user.tolist(), v.addresses)
    dispatcher = sim.Dispatcher((1.0,) * k, routing, gen)
    if fails:
        dispatcher.schedule(crash_at, sim.Crash(s.failed_server))
        dispatcher.schedule(down_at, sim.MarkDown(s.failed_server))
    log = dispatcher.serve(sim.Workload(v.at, v.work_s + store_ms / 1e3))
    db = store.SessionStore(_database_path(s), durable=False) \
        if keeps == "database" and s.real_store else None
    try:
        answers = _answers(strategy, v, s, log, db, crash_at)
    finally:
        if db is not None:
            db.close()
    if db is not None:
        path = str(db.path)
    else:
        path = _write_store(v, s, answers.last) if keeps == "database" else ""
    return _result(strategy, balancer, v, s, log, answers, store_ms, path, crash_at, down_at)


@dataclass
class _Answers:
    """Per request: its outcome, whether it was a follow-up, the Cookie bytes it carried;
    per user, their last answered request; the sessions in the dead server at the crash."""

    outcome: list
    follow_up: list
    sent: list
    last: list
    on_dead: int = 0


def _answers(strategy: Strategy, v: visits.Visits, s: SessionsSettings, log: sim.Dispatch,
             db: store.SessionStore | None, crash_at: float) -> _Answers:
    """Each request's answer, in arrival order, from where the loop sent it: refused by the
    dead server, or answered — served, a lost session, the database down, the cookie too
    large — and what the browser sends next time."""
    n, keeps, dead = len(v), strategy.keeps, s.failed_server
    db_down_at = s.database_down_at if keeps == "database" and \
        s.database_down_at is not None else math.inf
    sizes = visits.cookie_sizes(v.visit_requests, s.session_bytes)
    holder = [-1] * v.users  # the server whose memory holds the user's session
    has_session = [False] * v.users
    carried = [0] * v.users  # bytes of the Cookie header the browser sends
    cookie = [-1] * v.users  # the server a SERVERID cookie names (the last to answer)
    out = _Answers(outcome=[SERVED] * n, follow_up=[False] * n, sent=[0] * n,
                   last=[-1] * v.users)
    if db is not None:
        db.replace_all([])  # this run's sessions only (closed by the caller, on any error too)
        ids = _session_ids(v, s)
        templates = visits.session_data(v.visit_requests, s.session_bytes)
    crashed = not math.isfinite(crash_at)
    refused = log.outcome == sim.REFUSED
    rows = zip(v.at.tolist(), v.user.tolist(), v.step.tolist(), log.server_of.tolist(),
               refused.tolist(), strict=True)
    for j, (t, u, step, i, no) in enumerate(rows):
        if not crashed and t >= crash_at:
            crashed = True
            out.on_dead = holder.count(dead) if keeps == "server" else 0
        out.sent[j] = carried[u]
        if strategy.inserts_serverid and cookie[u] >= 0:  # SERVERID=s<i> too
            out.sent[j] += len(f"SERVERID=s{cookie[u]}") + (2 if carried[u] else 0)
        out.follow_up[j] = has_session[u]
        if no:
            out.outcome[j] = REFUSED
            continue
        cookie[u] = i
        if t >= db_down_at:
            out.outcome[j] = DATABASE_DOWN
        elif keeps == "client" and not sizes[step][1]:
            out.outcome[j] = TOO_LARGE
        else:
            if keeps == "server" and has_session[u] and holder[u] != i:
                out.outcome[j] = LOST
            elif db is not None and _stored(db, ids[u], templates, step, u, t) < has_session[u]:
                out.outcome[j] = LOST  # the shared store did not give the session back
            has_session[u], holder[u], out.last[u] = True, i, j
            carried[u] = sizes[step][0] if keeps == "client" else _SESSION_COOKIE
    if not crashed:  # the crash came after the last request: count the sessions then
        out.on_dead = holder.count(dead) if keeps == "server" else 0
    return out


def _stored(db: store.SessionStore, sid: str, templates, step: int, user: int,
            now: float) -> bool:
    """One request's real read + write of its session in the shared store; True when the
    store held a session for it before."""
    found = []

    def update(old: dict) -> dict:
        found.append(bool(old))
        return dict(templates[step], user_id=templates[0]["user_id"] + user)

    db.handle(sid, update, now)
    return found[0]


def _session_ids(v: visits.Visits, s: SessionsSettings) -> list[str]:
    """Each user's session id: 32 random bytes from the run's seed, URL-safe base64."""
    raw = np.random.default_rng([s.seed, 2]).bytes(32 * v.users)
    return [base64.urlsafe_b64encode(raw[32 * u: 32 * u + 32]).rstrip(b"=").decode()
            for u in range(v.users)]


def _database_path(s: SessionsSettings):
    return s.database_path or _default_database_path()


def _write_store(v: visits.Visits, s: SessionsSettings, last: list[int]) -> str:
    """Every user's session as their last answered request left it, in the SQLite file."""
    path = _database_path(s)
    templates = visits.session_data(v.visit_requests, s.session_bytes)
    ids = _session_ids(v, s)
    rows = []
    for u, j in enumerate(last):
        if j >= 0:
            data = dict(templates[int(v.step[j])], user_id=templates[0]["user_id"] + u)
            rows.append((ids[u], data, float(v.at[j])))
    with store.SessionStore(path, durable=False) as db:  # a snapshot to open, not a request
        db.replace_all(rows)
    return str(path)


def _result(strategy, balancer, v, s: SessionsSettings, log: sim.Dispatch, answers: _Answers,
            store_ms, path, crash_at, down_at) -> SessionsResult:
    o = np.array(answers.outcome, dtype=np.int8)
    srv = log.server_of
    bytes_of = np.array(answers.sent, dtype=np.int64)
    follow = np.array(answers.follow_up, dtype=bool)
    counts = np.bincount(o, minlength=len(OUTCOMES))
    k, fails = s.servers, math.isfinite(crash_at)
    before = v.at < crash_at if fails else np.ones(len(v), dtype=bool)
    load_before = np.bincount(srv[before], minlength=k)
    load_after = np.bincount(srv[v.at >= down_at], minlength=k) if fails else np.zeros(0, int)
    live = [i for i in range(k) if i != s.failed_server]
    after_window = fails and down_at < s.duration_s
    ok = (o == SERVED) | (o == LOST)
    added = bytes_of[ok] * 8 / (s.uplink_mbps * 1e6) * 1e3 + store_ms
    failed = int(counts[REFUSED] + counts[DATABASE_DOWN] + counts[TOO_LARGE])
    arrays = dict(arrivals_at=v.at, user_of=v.user, step_of=v.step, server_of=srv, outcome=o,
                  follow_up=follow, cookie_bytes_of=bytes_of, behind_nat=v.behind_nat)
    for value in arrays.values():
        value.setflags(write=False)
    n_follow = int(follow.sum())
    return SessionsResult(
        strategy=strategy.name, policy=getattr(balancer, "name", repr(balancer)),
        servers=k, users=v.users, requests=len(v), served=int(counts[SERVED]),
        lost=int(counts[LOST]), failed=failed, follow_ups=n_follow,
        lost_rate=float(counts[LOST] / n_follow) if n_follow else math.nan,
        failed_rate=failed / len(v), refused=int(counts[REFUSED]),
        database_failures=int(counts[DATABASE_DOWN]), too_large=int(counts[TOO_LARGE]),
        failed_server=s.failed_server if fails else -1, server_fails_at=crash_at,
        marked_down_at=down_at,
        database_down_at=math.nan if s.database_down_at is None else s.database_down_at,
        sessions_on_failed_server=answers.on_dead,
        load_before=tuple(int(x) for x in load_before),
        load_after=tuple(int(x) for x in load_after),
        imbalance_before=imbalance(load_before),
        imbalance_after=imbalance(load_after[live]) if after_window else math.nan,
        store_ms=store_ms, cookie_bytes=float(bytes_of.mean()),
        max_cookie_bytes=int(bytes_of.max()),
        added_latency_ms=float(added.mean()) if added.size else math.nan,
        uplink_mbps=s.uplink_mbps, session_bytes=s.session_bytes,
        nat_share=s.nat_share, duration_s=s.duration_s, database_path=path, **arrays)
