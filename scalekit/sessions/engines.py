"""The sessions model beside real HAProxy: sticky sessions through a backend failure.

:func:`stickiness_on_haproxy` replays the model's users — the very visits
:func:`scalekit.sessions.simulate_sessions` draws, request for request, at the same
instants, each user with a cookie jar of their own and leaving from an address of their own
(``127.1.x.y``: Linux routes all of 127.0.0.0/8 to loopback) — through real HAProxy to
real Python backends that keep sessions in their own memory
(:mod:`scalekit.engines.backend`: a request whose ``sid`` cookie the backend does not hold
is a *lost session*). Mid-run one backend is killed; HAProxy's health checks mark it DOWN
(the measured delay is handed to the model as its ``detection_s``). Methods:

* ``cookie`` — ``balance roundrobin`` + ``cookie SERVERID insert indirect nocache``, the
  model's ``sticky_cookie``: a cookie names the server; once that server is DOWN the
  request is balanced anew and its session is lost;
* ``source`` — ``balance source`` (HAProxy's default ``hash-type map-based``), beside the
  model's ``sticky_ip``: the client's address picks the server, as ``hash % servers up``
  over a table of the servers — so when one goes DOWN the table shrinks and clients of
  the *surviving* servers move too (for 3 → 2 servers, half of them: :func:`expected_moved`);
* ``source-consistent`` — ``balance source`` with ``hash-type consistent``: only the dead
  server's clients move, as in the model (nginx's ``ip_hash`` rehashes only those).

With ``redispatch`` (``option redispatch``, ``retries 1``), a request HAProxy sends to the
dead server before marking it down is retried on another server — answered, but with its
session lost — where the model (no redispatch) counts it failed; ``redispatch=False``
makes HAProxy answer 503 instead, as the model does. Without HAProxy this raises
:class:`~scalekit.engines.EngineUnavailable` ("skipped: …"). Units: seconds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html, hashing
from scalekit.engines.haproxy import HAProxy, HealthCheck, find_haproxy
from scalekit.engines.traffic import Backends, replay
from scalekit.sessions.cluster import SessionsSettings, simulate_sessions
from scalekit.sessions.results import LOST, SERVED

__all__ = ["METHODS", "StickinessOnHaproxy", "StickinessComparison", "stickiness_on_haproxy",
           "expected_moved", "source_addresses", "SERVED", "LOST", "FAILED"]

#: Engine method → (the model's strategy, HAProxy's balance, hash-type, cookie).
METHODS = {"cookie": ("sticky_cookie", "roundrobin", "map-based", "SERVERID"),
           "source": ("sticky_ip", "source", "map-based", None),
           "source-consistent": ("sticky_ip", "source", "consistent", None)}
#: A request's outcome on either side: answered with its session, answered with its session
#: lost, or not answered.
FAILED = 2
MAX_USERS = 1000
#: Requests sent this close before the kill may still be in flight when it lands: left out
#: of the "stuck before the crash" share (s).
_IN_FLIGHT_S = 0.05


def source_addresses(users: int) -> tuple[str, ...]:
    """One loopback address per user: ``127.1.0.1``, ``127.1.0.2`` … (consecutive 32-bit
    numbers, 250 per /24)."""
    n = _check.integer("users", users, low=1, high=MAX_USERS * 10)
    return tuple(f"127.1.{u // 250}.{u % 250 + 1}" for u in range(n))


def _address_number(address: str) -> int:
    a, b, c, d = (int(x) for x in address.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def expected_moved(addresses, servers: int, dead: int) -> float:
    """The share of the surviving servers' clients that ``balance source`` with
    ``hash-type map-based`` moves when server ``dead`` goes down: a client with address
    number h is served by server h mod k of k, and afterwards by survivor h mod (k − 1) —
    HAProxy 2.8 hashes an IPv4 source as its own 32-bit number, without avalanche
    (``get_server_sh``), into a table that lists the servers in order."""
    k = _check.integer("servers", servers, low=2, high=64)
    dead = _check.integer("dead", dead, low=0, high=k - 1)
    listed = _check.sequence("addresses", addresses, what="IPv4 address strings", min_len=1,
                             max_len=MAX_USERS * 10)
    for i, a in enumerate(listed):
        try:
            hashing.network_octets(_check.text(f"addresses[{i}]", a))
        except ValueError as exc:
            raise ValueError(f"addresses[{i}]: {exc}") from None
    survivors = [i for i in range(k) if i != dead]
    h = np.array([_address_number(a) for a in listed], dtype=np.int64)
    before = h % k
    kept = before != dead
    after = np.array(survivors)[h % (k - 1)]
    return float(np.mean(after[kept] != before[kept])) if kept.any() else math.nan


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False, repr=False)
class StickinessOnHaproxy(_html.ScalarTable):
    """One method on HAProxy (``engine_*``) beside the model (``model_*``) on the same users.

    Requests are ``served`` (with their session), ``lost`` (answered, session gone) or
    ``failed`` (no answer: refused, 503). ``*_stuck`` — the share of follow-up requests
    before the crash answered by the server that answered the user's previous one;
    ``*_sessions_on_dead`` — users whose session lived on the killed server at the crash;
    ``*_moved`` — of the users whose session lived on a *surviving* server and who came back
    after the mark-down, the share moved to another server (their session lost);
    ``expected_moved`` — that share by the closed form, for the users HAProxy saw come
    back (0 for cookies and consistent hashing; :func:`expected_moved` for map-based).
    ``redispatched`` — requests sent between the crash and the mark-down that a surviving
    server answered with the session lost (HAProxy's redispatch at work).
    ``late_users`` — users with a request planned before the crash that the replay, running
    late on a busy machine, sent after it (0 on an idle machine): HAProxy's side is measured
    at the instants sent, the model's at those planned, and only these users' stories can
    differ at the crash. ``engine_failed_after_crash`` — failed requests sent after the kill
    (HAProxy cannot retry a request already sent to the server that died under it: those
    in flight at the kill fail; redispatch should answer every later one).
    ``crashed_at``/``marked_down_at`` (s from the start), ``detection_s`` their difference
    (HAProxy's, which the model was given).
    """

    method: str
    strategy: str
    users: int
    requests: int
    crashed_at: float
    marked_down_at: float
    detection_s: float
    engine_served: int
    engine_lost: int
    engine_failed: int
    model_served: int
    model_lost: int
    model_failed: int
    engine_stuck: float
    model_stuck: float
    engine_sessions_on_dead: int
    model_sessions_on_dead: int
    engine_moved: float
    model_moved: float
    expected_moved: float
    redispatched: int
    late_users: int
    engine_failed_after_crash: int
    config_text: str = field(repr=False)
    arrivals_at: np.ndarray = field(repr=False)
    user_of: np.ndarray = field(repr=False)
    engine_server_of: np.ndarray = field(repr=False)
    engine_outcome: np.ndarray = field(repr=False)
    model_server_of: np.ndarray = field(repr=False)
    model_outcome: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class StickinessComparison:
    """Every method's run (``runs``, by method name) on the same users and the same crash,
    with HAProxy ``engine``; ``settings`` are the model's."""

    engine: str
    settings: SessionsSettings = field(repr=False)
    redispatch: bool
    startup_s: float
    runs: dict[str, StickinessOnHaproxy] = field(repr=False)

    def __getitem__(self, method: str) -> StickinessOnHaproxy:
        return self.runs[method]

    def rows(self) -> list[dict]:
        return [{"method": m, "model": r.strategy,
                 "lost, HAProxy": r.engine_lost, "lost, model": r.model_lost,
                 "failed, HAProxy": r.engine_failed, "failed, model": r.model_failed,
                 "stuck, HAProxy": r.engine_stuck, "stuck, model": r.model_stuck,
                 "survivors moved, HAProxy": r.engine_moved,
                 "survivors moved, model": r.model_moved, "expected": r.expected_moved}
                for m, r in self.runs.items()]

    def _repr_html_(self) -> str:
        return _html.rows_table(self.rows(), note=(
            f"{self.engine}; {self.settings.users} users, server {self.settings.failed_server}"
            f" killed at {self.settings.server_fails_at:g} s; redispatch "
            f"{'on' if self.redispatch else 'off'}"))


# --------------------------------------------------------------------------- measuring


def _stuck(user_of, server_of, outcome, at, before, answered_at=None) -> float:
    """Share of answered follow-ups before ``before`` answered by the user's last server.
    With ``answered_at``, a follow-up is a request sent once the user's previous answer
    (and its cookie) had arrived — one sent earlier, as a busy machine's late answers make
    happen, could not carry the cookie."""
    last: dict[int, tuple[int, float]] = {}
    same = total = 0
    done = np.full(len(at), -math.inf) if answered_at is None else np.asarray(answered_at)
    for u, s, o, t, a in zip(user_of.tolist(), server_of.tolist(), outcome.tolist(),
                             at.tolist(), done.tolist(), strict=True):
        if o == FAILED:
            continue
        if u in last and t < last[u][1]:
            continue  # sent before the previous answer came back
        if t < before and u in last:
            total += 1
            same += last[u][0] == s
        last[u] = (s, a)
    return same / total if total else math.nan


def _holders(user_of, server_of, outcome, at, when) -> dict[int, int]:
    """Each user's session holder (the server of their last answered request) at ``when``."""
    holder: dict[int, int] = {}
    for u, s, o, t in zip(user_of.tolist(), server_of.tolist(), outcome.tolist(),
                          at.tolist(), strict=True):
        if t >= when:
            break
        if o != FAILED:
            holder[u] = s
    return holder


def _moved(user_of, server_of, outcome, at, crash, down, dead) -> dict[int, bool]:
    """The users whose session was on a survivor at the crash and who came back after the
    mark-down, each with whether their first answered request then was by another server."""
    holder = _holders(user_of, server_of, outcome, at, crash)
    seen: dict[int, bool] = {}
    for u, s, o, t in zip(user_of.tolist(), server_of.tolist(), outcome.tolist(),
                          at.tolist(), strict=True):
        if t < down or o == FAILED or u in seen or holder.get(u, dead) == dead:
            continue
        seen[u] = s != holder[u]
    return seen


def _share(flags: dict[int, bool]) -> float:
    return float(np.mean(list(flags.values()))) if flags else math.nan


def _model_outcomes(result) -> np.ndarray:
    o = np.asarray(result.outcome)
    return np.where(o == SERVED, SERVED, np.where(o == LOST, LOST, FAILED)).astype(np.int8)


def _engine_outcomes(sent, names) -> tuple[np.ndarray, np.ndarray]:
    index = {b: i for i, b in enumerate(names)}
    server = np.array([index.get(b, -1) for b in sent.backend], dtype=np.int64)
    outcome = np.where(~sent.ok | (server < 0), FAILED,
                       np.where(np.array(sent.session) == "lost", LOST, SERVED))
    return server, outcome.astype(np.int8)


def _settings(users, visit_requests, think_s, duration_s, service_s, crash_at, servers,
              failed_server, detection_s, seed) -> SessionsSettings:
    return SessionsSettings(servers=servers, policy="round_robin", users=users,
                            visit_requests=visit_requests, think_s=think_s,
                            duration_s=duration_s, service_s=service_s,
                            server_fails_at=crash_at, failed_server=failed_server,
                            detection_s=detection_s, real_store=False, seed=seed)


def stickiness_on_haproxy(methods=tuple(METHODS), *, servers: int = 3, users: int = 40,
                          visit_requests: int = 6, think_s: float = 0.25,
                          duration_s: float = 2.5, service_s: float = 0.004,
                          server_fails_at: float = 1.2, failed_server: int = 0,
                          inter_s: float = 0.1, rise: int = 2, fall: int = 2,
                          redispatch: bool = True, seed: int | None = 1,
                          binary=None) -> StickinessComparison:
    """Each of ``methods`` (names from :data:`METHODS`) on real HAProxy beside the sessions
    model, with the same users (``users`` visits of ``visit_requests`` requests, think time
    ``think_s`` s, over ``duration_s`` s, work ``service_s`` s each) on ``servers``
    backends, backend ``failed_server`` killed at ``server_fails_at`` s, health checks
    every ``inter_s`` s (``rise``, ``fall``). ``redispatch``: HAProxy's ``option
    redispatch`` with ``retries 1``."""
    if isinstance(methods, str) or not methods:
        raise ValueError(f"methods must be a non-empty list of {list(METHODS)}, got "
                         f"{methods!r}")
    chosen = tuple(_check.choice("methods", m, METHODS) for m in methods)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"methods must be distinct, got {list(chosen)!r}")
    _check.integer("users", users, low=2, high=MAX_USERS)
    _check.number("duration_s", duration_s, low=0.1, high=60.0)
    check = HealthCheck(inter_s, rise, fall)
    redispatch = _check.boolean("redispatch", redispatch)
    expected_detection = (check.fall - 0.5) * check.inter_s
    base = _settings(users, visit_requests, think_s, duration_s, service_s, server_fails_at,
                     servers, failed_server, expected_detection, _check.seed(seed))
    if base.server_fails_at is None or base.server_fails_at + check.fall * check.inter_s \
            >= base.duration_s:
        raise ValueError(f"server_fails_at ({server_fails_at!r}) must leave time for the "
                         f"checks (fall × inter_s = {check.fall * check.inter_s:g} s) "
                         f"before duration_s ({duration_s:g} s) ends")
    find_haproxy(binary)
    seeded = simulate_sessions("sticky_cookie", base)  # the users, drawn once
    addresses = source_addresses(base.users)
    runs, startups = {}, []
    for method in chosen:
        run, started = _one_method(method, base, seeded, addresses, check, redispatch, binary)
        runs[method] = run
        startups.append(started)
    return StickinessComparison(engine=str(find_haproxy(binary)), settings=base,
                                redispatch=redispatch, startup_s=float(np.median(startups)),
                                runs=runs)


def _one_method(method, base, seeded, addresses, check, redispatch, binary):
    strategy, balance, hash_type, cookie = METHODS[method]
    at, users = np.asarray(seeded.arrivals_at), np.asarray(seeded.user_of)
    work = np.random.default_rng([base.seed, 3]).exponential(base.service_s, at.size)
    paths = [f"/work?w={w:.7f}" for w in work]
    dead = base.failed_server
    with Backends((1.0,) * base.servers, sessions=True) as backends, \
            HAProxy(backends.ports, balance=balance, hash_type=hash_type, cookie=cookie,
                    check=check, retries=1, redispatch=redispatch, binary=binary) as lb:
        time.sleep(1.5 * check.inter_s)  # every server passed a check
        sent = replay(lb.port, at, paths, users=users, sources=addresses,
                      actions=[(base.server_fails_at, lambda: backends.crash(dead))])
        killed_at = sent.actions[0]
        down = lb.wait_for(backends.names[dead], "DOWN", after=killed_at,
                           timeout_s=(check.fall + 2) * check.inter_s + 5)
        config, started = lb.config_text, lb.startup_s
        names = backends.names
    crash = killed_at - sent.started_at
    detection = down.at - killed_at
    settings = _settings(base.users, base.visit_requests, base.think_s, base.duration_s,
                         base.service_s, crash, base.servers, dead, detection, base.seed)
    model = simulate_sessions(strategy, settings)
    m_server, m_outcome = np.asarray(model.server_of), _model_outcomes(model)
    e_server, e_outcome = _engine_outcomes(sent, names)
    down_at = crash + detection
    first = _first_servers(sent, users, dead, crash, down_at, e_server)
    # HAProxy's side in the order and at the instants the requests were really sent: on a
    # busy machine the replay runs late, and a request planned before the kill may go after.
    order = np.argsort(sent.sent_at, kind="stable")
    e_users, e_at = users[order], np.asarray(sent.sent_at)[order]
    e_server_sent, e_outcome_sent = e_server[order], e_outcome[order]
    e_answered = np.asarray(sent.answered_at)[order]
    engine_moved = _moved(e_users, e_server_sent, e_outcome_sent, e_at, crash, down_at, dead)
    came_back = [addresses[u] for u in engine_moved]  # the closed form on the same users
    expected = (expected_moved(came_back, base.servers, dead) if method == "source" and
                came_back else 0.0)
    return StickinessOnHaproxy(
        method=method, strategy=strategy, users=base.users, requests=int(at.size),
        crashed_at=crash, marked_down_at=down_at, detection_s=detection,
        engine_served=int((e_outcome == SERVED).sum()),
        engine_lost=int((e_outcome == LOST).sum()),
        engine_failed=int((e_outcome == FAILED).sum()),
        model_served=int((m_outcome == SERVED).sum()), model_lost=int((m_outcome == LOST).sum()),
        model_failed=int((m_outcome == FAILED).sum()),
        engine_stuck=_stuck(e_users, e_server_sent, e_outcome_sent, e_at,
                            crash - _IN_FLIGHT_S, e_answered),
        engine_failed_after_crash=int(((e_outcome_sent == FAILED) & (e_at >= crash)).sum()),
        model_stuck=_stuck(users, m_server, m_outcome, at, crash - _IN_FLIGHT_S),
        engine_sessions_on_dead=sum(v == dead for v in _holders(
            e_users, e_server_sent, e_outcome_sent, e_at, crash).values()),
        model_sessions_on_dead=int(model.sessions_on_failed_server),
        engine_moved=_share(engine_moved),
        model_moved=_share(_moved(users, m_server, m_outcome, at, crash, down_at, dead)),
        expected_moved=expected,
        redispatched=first, late_users=_late_users(users, at, sent.sent_at, crash),
        config_text=config, arrivals_at=at, user_of=users,
        engine_server_of=_frozen(e_server), engine_outcome=_frozen(e_outcome),
        model_server_of=m_server, model_outcome=_frozen(m_outcome)), started


def _first_servers(sent, users, dead, crash, down_at, e_server) -> int:
    """Requests sent to the dead server's users between the crash and the mark-down that
    another server answered: HAProxy's redispatch at work (counted from the answers)."""
    at = sent.sent_at
    window = (at >= crash) & (at < down_at) & (e_server >= 0) & (e_server != dead)
    lost = np.array(sent.session) == "lost"
    return int((window & lost).sum())


def _late_users(users, planned_at, sent_at, crash) -> int:
    """Users with a request planned before ``crash`` but sent after it."""
    crossed = (np.asarray(planned_at) < crash) & (np.asarray(sent_at) >= crash)
    return int(np.unique(np.asarray(users)[crossed]).size)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.setflags(write=False)
    return a
