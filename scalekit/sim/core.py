"""The one dispatch loop: requests arrive, a policy picks a server, FIFO servers serve them —
and a few hooks for what else can happen.

In SimPy's manner (simpy/core.py): one clock and one heap, the *calendar*, holding everything
that will happen, each entry ``(instant, priority, ...)``. Three kinds of entry:

* a *departure* — a request leaves its server (known when it is dispatched: servers are FIFO);
* a *scheduled event* — :class:`Crash`, :class:`Recover`, :class:`MarkDown`, :class:`MarkUp`
  (what a failure model or a health check decides), or any :class:`Event` subclass;
* a *retry* — a refused request tried again (:meth:`Dispatcher.refused` says when).

Arrivals come in order from the workload, not from the heap. At one instant the order is:
departures, then scheduled events, then the arrival, then retries — so a request that leaves
at the instant of a crash is not lost, a server marked down at an arrival's instant is not
chosen, and a retry without delay goes after the arrival it was refused at.

The hooks, one job each:

* scheduled events change the cluster: a crashed server loses every request it holds and
  refuses connections until it recovers; a mark changes what the balancer believes
  (``state.up``) — the policy never sees whether a server is really alive;
* refusal: a request sent to a dead server is failed, or — if :meth:`Dispatcher.refused`
  gives an instant — tried once more then, on a server the policy chooses again
  (:meth:`scalekit.sim.Policy.choose_again`) with the refusing server excluded;
* affinity: a policy that keeps clients on their server hears which server accepted each
  request (:meth:`scalekit.sim.Policy.accepted`).

Units: seconds. Outcome codes per request: :data:`SERVED`, :data:`REFUSED`, :data:`LOST`,
:data:`UNAVAILABLE` (every server marked down: the balancer answers 503 itself) and
:data:`DROPPED` (the server's queue was full).
"""

from __future__ import annotations

import heapq
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check
from scalekit.sim import compiled as _compiled
from scalekit.sim import queues
from scalekit.sim.policy import ClusterState, Policy, compiled_rule
from scalekit.sim.workload import Workload

__all__ = ["Dispatcher", "Dispatch", "Event", "Crash", "Recover", "MarkDown", "MarkUp",
           "SERVED", "REFUSED", "LOST", "UNAVAILABLE", "DROPPED", "OUTCOMES", "MAX_RETRIES"]

#: Outcome codes of a request (:attr:`Dispatch.outcome`), named in :data:`OUTCOMES`.
SERVED, REFUSED, LOST, UNAVAILABLE, DROPPED = 0, 1, 2, 3, 4
OUTCOMES = ("served", "refused", "lost in flight", "unavailable (503)", "dropped (queue full)")

#: Most times one request is tried again, whatever :meth:`Dispatcher.refused` says: a run
#: always ends.
MAX_RETRIES = 16

# Priorities of calendar entries at one instant (an arrival sits between events and retries).
_DEPART, _EVENT, _ARRIVE, _RETRY = 0, 1, 2, 3


# --------------------------------------------------------------------------- events


class Event:
    """Something scheduled at an instant (:meth:`Dispatcher.schedule`). A variant overrides
    :meth:`apply`, which may call the dispatcher's verbs (:meth:`Dispatcher.crash`,
    :meth:`Dispatcher.recover`) or mark servers (``dispatcher.state.mark``)."""

    def apply(self, dispatcher: Dispatcher, at: float) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement apply(dispatcher, at)")


@dataclass(frozen=True)
class Crash(Event):
    """``server`` dies: the requests it holds are lost, and it refuses connections."""

    server: int

    def __post_init__(self):
        _check.integer("server", self.server, low=0)

    def apply(self, dispatcher, at):
        dispatcher.crash(self.server, at)


@dataclass(frozen=True)
class Recover(Event):
    """``server`` comes back, empty, and accepts connections again."""

    server: int

    def __post_init__(self):
        _check.integer("server", self.server, low=0)

    def apply(self, dispatcher, at):
        dispatcher.recover(self.server, at)


@dataclass(frozen=True)
class MarkDown(Event):
    """The balancer stops sending to ``server`` (a health check failed ``fall`` times)."""

    server: int

    def __post_init__(self):
        _check.integer("server", self.server, low=0)

    def apply(self, dispatcher, at):
        dispatcher.state.mark(self.server, False)


@dataclass(frozen=True)
class MarkUp(Event):
    """The balancer sends to ``server`` again (a health check passed ``rise`` times)."""

    server: int

    def __post_init__(self):
        _check.integer("server", self.server, low=0)

    def apply(self, dispatcher, at):
        dispatcher.state.mark(self.server, True)


# --------------------------------------------------------------------------- the log


@dataclass(frozen=True, eq=False)
class Dispatch:
    """What happened to every request, in arrival order.

    ``outcome`` — codes :data:`SERVED` … :data:`DROPPED`; ``server_of`` — the server it was
    sent to last (−1 if none: unavailable or dropped); ``departures_at`` — when it left its
    server (NaN unless served); :attr:`first_server`, :attr:`retried_at` and
    :attr:`ended_at` are built on demand from the few requests that failed or were retried
    (``failed_at``, ``first_of_retried``, ``retries``: request → instant or server).
    """

    outcome: np.ndarray
    server_of: np.ndarray
    departures_at: np.ndarray
    failed_at: dict[int, float] = field(default_factory=dict, repr=False)
    first_of_retried: dict[int, int] = field(default_factory=dict, repr=False)
    retries: dict[int, float] = field(default_factory=dict, repr=False)

    @property
    def first_server(self) -> np.ndarray:
        """Where each request was sent first (differs from ``server_of`` only if retried)."""
        first = self.server_of.copy()
        for j, i in self.first_of_retried.items():
            first[j] = i
        return first

    @property
    def retried_at(self) -> np.ndarray:
        """When each request was tried again (NaN if it was not)."""
        out = np.full(self.server_of.size, math.nan)
        for j, t in self.retries.items():
            out[j] = t
        return out

    @property
    def ended_at(self) -> np.ndarray:
        """Each request's departure, or the instant it failed."""
        out = self.departures_at.copy()
        for j, t in self.failed_at.items():
            out[j] = t
        return out


# --------------------------------------------------------------------------- the loop


class Dispatcher:
    """FIFO servers of relative ``speeds`` behind a balancer ``policy`` (a
    :class:`~scalekit.sim.Policy` instance): :meth:`schedule` events, then :meth:`serve` the
    requests once.

    ``gen`` — the run's random generator (the policy draws from it); ``queue_limit`` — most
    requests one server holds (more are dropped; None: no limit); ``retry_delay_s`` — after a
    refusal, the request is tried once more this many seconds later (None: refused requests
    fail); ``decisions`` — how many decisions the policy may have to make, passed to its
    ``reset`` to pre-draw random numbers (default: one per request).

    ``compiled`` — None: when nothing is scheduled and nothing retried, a policy that assigns
    every request up front (:meth:`Policy.assign`) is served in closed form, and one that
    gives a :class:`~scalekit.sim.Rule` runs in the compiled loop
    (:mod:`scalekit.sim.compiled`) if numba is installed — bit for bit what the Python loop
    gives; False: always the Python loop (or the numpy closed form); True: the compiled loop
    or an error saying why not.
    """

    def __init__(self, speeds: Sequence[float], policy: Policy, gen: np.random.Generator, *,
                 queue_limit: int | None = None, retry_delay_s: float | None = None,
                 decisions: int | None = None, compiled: bool | None = None):
        if not isinstance(policy, Policy):
            raise TypeError(f"policy must be a scalekit.sim.Policy, got {policy!r}")
        if not isinstance(gen, np.random.Generator):
            raise TypeError(f"gen must be a numpy random Generator (scalekit.sim.rng(seed)), "
                            f"got {gen!r}")
        self.speeds = tuple(float(s) for s in _check.array("speeds", speeds, low=0.0,
                                                            low_open=True, min_len=1))
        self.policy = policy
        self.state = ClusterState(self.speeds, gen)
        self.queue_limit = None if queue_limit is None else \
            _check.integer("queue_limit", queue_limit, low=1)
        self.retry_delay_s = None if retry_delay_s is None else \
            _check.non_negative("retry_delay_s", retry_delay_s)
        self.decisions = None if decisions is None else \
            _check.integer("decisions", decisions, low=0)
        self.compiled = None if compiled is None else _check.boolean("compiled", compiled)
        self.alive = [True] * len(self.speeds)
        self._dead = 0  # servers crashed and not yet recovered
        self._calendar: list[tuple] = []
        self._seq = 0  # ties among events and retries at one instant: first scheduled first
        self._served = False

    # -- hooks and verbs --------------------------------------------------------------

    def schedule(self, at: float, event: Event) -> None:
        """Apply ``event`` at instant ``at`` (s): after the departures due by then, before
        an arrival at the same instant. Events at one instant apply in scheduling order."""
        if not isinstance(event, Event):
            raise TypeError(f"event must be a scalekit.sim.Event, got {event!r}")
        at = _check.non_negative("at", at)
        heapq.heappush(self._calendar, (float(at), _EVENT, self._seq, event))
        self._seq += 1

    def crash(self, server: int, at: float) -> None:
        """Server ``server`` dies at ``at``: every request it holds (in service or queued) is
        lost, and it refuses connections until :meth:`recover`."""
        server, at = self._server_at(server, at)
        if not self.alive[server]:
            return
        self.alive[server] = False
        self._dead += 1
        keep = []
        for entry in self._calendar:
            if entry[1] == _DEPART and entry[2] == server:
                r = entry[3]
                self._outcome[r] = LOST
                self._departures[r] = math.nan
                self._failed_at[r] = at
            else:
                keep.append(entry)
        heapq.heapify(keep)
        self._calendar[:] = keep  # in place: the running loop holds this list
        self.state.connections[server] = 0
        self.state.busy_until[server] = at

    def recover(self, server: int, at: float) -> None:
        """Server ``server`` is back at ``at``, empty: it accepts connections again."""
        server, at = self._server_at(server, at)
        if not self.alive[server]:
            self.alive[server] = True
            self._dead -= 1

    def _server_at(self, server, at) -> tuple[int, float]:
        return (_check.integer("server", server, low=0, high=len(self.speeds) - 1),
                _check.non_negative("at", at))

    def refused(self, request: int, server: int, at: float) -> float | None:
        """The instant to try ``request`` again after ``server`` refused it at ``at`` — or
        None to fail it. By default: ``retry_delay_s`` later, once (a retry refused again
        fails). A variant may override it; a request is tried again at most
        :data:`MAX_RETRIES` times, so a run always ends."""
        if self.retry_delay_s is None or request in self._retried_at:
            return None
        return at + self.retry_delay_s

    # -- the run ----------------------------------------------------------------------

    def serve(self, workload: Workload) -> Dispatch:
        """Serve ``workload``'s requests (arrival instants, s, and work, s on a speed-1
        server; checked when the :class:`~scalekit.sim.Workload` was made); return what
        happened to each."""
        if not isinstance(workload, Workload):
            raise TypeError(f"workload must be a scalekit.sim.Workload, got {workload!r}")
        if self._served:
            raise RuntimeError("a Dispatcher serves once; make a new one for another run")
        arrivals_np, work_np = workload.arrivals_at, workload.work_s
        self._served = True
        n, k = arrivals_np.size, len(self.speeds)
        state, policy = self.state, self.policy
        policy.reset(k, n if self.decisions is None else self.decisions, state.rng)
        if not self._calendar and self.retry_delay_s is None:
            fast = self._without_events(arrivals_np, work_np)
            if fast is not None:
                return fast
        elif self.compiled:
            raise ValueError("compiled=True needs a run with nothing scheduled and no "
                             "retries; the compiled loop models neither")
        arrivals, work = arrivals_np.tolist(), work_np.tolist()
        self._outcome = bytearray(n)  # SERVED = 0 unless something else happens
        self._departures = departures = [math.nan] * n
        self._server_of = server_of = [-1] * n
        self._failed_at: dict[int, float] = {}
        self._first: dict[int, int] = {}
        self._retried_at: dict[int, float] = {}
        self._tries: dict[int, int] = {}
        self._work = work
        accepted = None if type(policy).accepted is Policy.accepted else policy.accepted
        self._accepted = accepted
        conns, busy, up, speeds = state.connections, state.busy_until, state.up, self.speeds
        cal, pop, push = self._calendar, heapq.heappop, heapq.heappush
        cap = self.queue_limit if self.queue_limit is not None else math.inf
        choose = policy.choose
        for j, a in enumerate(arrivals):
            # 1. Everything due before this arrival, in time order: departures leave their
            #    servers; scheduled events and retries are handled as they come.
            while cal:
                top = cal[0]
                if top[0] > a or (top[1] == _RETRY and top[0] == a):
                    break
                pop(cal)
                if top[1] == _DEPART:
                    conns[top[2]] -= 1
                else:
                    self._handle(top)
            # 2. The policy chooses, reading live state (none up: the balancer's own 503).
            state.now, state.request = a, j
            if state.down == k:
                self._fail(j, UNAVAILABLE, a)
                continue
            i = choose(state)
            if type(i) is not int or not 0 <= i < k or (state.down and not up[i]):
                i = self._index(i, j, "")
            server_of[j] = i
            # 3. A dead server refuses (retry, or fail); a full one drops the request.
            if self._dead and not self.alive[i]:
                self._refuse(j, i, a)
                continue
            if conns[i] >= cap:
                server_of[j] = -1
                self._fail(j, DROPPED, a)
                continue
            # 4. FIFO: the request starts when it arrives or when the one before it leaves.
            prev = busy[i]
            d = (a if a > prev else prev) + work[j] / speeds[i]
            busy[i] = d
            conns[i] += 1
            push(cal, (d, _DEPART, i, j))
            departures[j] = d
            if accepted is not None:
                accepted(state, i)
        while cal:  # what is left: retries still to send, events, departures
            top = pop(cal)
            if top[1] == _DEPART:
                conns[top[2]] -= 1
            else:
                self._handle(top)
        return self._log()

    # -- steps --------------------------------------------------------------------------

    def _without_events(self, arrivals: np.ndarray, work: np.ndarray) -> Dispatch | None:
        """The fast paths, when only arrivals and departures happen: a static assignment in
        closed form, or a rule in the compiled loop; None when neither applies."""
        policy, gen, n, k = self.policy, self.state.rng, arrivals.size, len(self.speeds)
        use = self.compiled
        if use and not _compiled.available():
            raise RuntimeError("compiled=True needs numba, which is not installed "
                               "(pip install numba, or scalekit[fast])")
        if self.queue_limit is None:
            assigned = policy.assign(n, k, gen)
            if assigned is not None:
                server_of = _assignment(policy, assigned, n, k)
                fifo = _compiled.fifo_by_server if use is not False and \
                    _compiled.available() else queues.fifo_by_server
                return _plain_log(fifo(arrivals, work, self.speeds, server_of), server_of,
                                  arrivals)
        rule = None
        if use is not False and _compiled.available():
            rule = compiled_rule(policy, n, k)
        if rule is None:
            if use:
                raise ValueError(f"compiled=True, but {policy!r} gives no Rule (a policy "
                                 "written in Python runs in the Python loop)")
            return None
        departures, server_of = _compiled.dispatch(arrivals, work, self.speeds, rule,
                                                   self.queue_limit)
        return _plain_log(departures, server_of, arrivals)

    def _handle(self, entry: tuple) -> None:
        """A scheduled event or a retry, taken from the calendar at its instant."""
        if entry[1] == _EVENT:
            entry[3].apply(self, entry[0])
        else:
            self._retry(entry[3], entry[0])

    def _fail(self, j: int, code: int, at: float) -> None:
        self._outcome[j] = code
        self._failed_at[j] = at

    def _refuse(self, j: int, server: int, at: float) -> None:
        tries = self._tries.get(j, 0)
        again = self.refused(j, server, at) if tries < MAX_RETRIES else None
        if again is None:
            self._fail(j, REFUSED, at)
            return
        if not again >= at:
            raise ValueError(f"{type(self).__name__}.refused returned {again!r} for request {j} "
                             f"refused at {at!r}: a retry cannot come before the refusal")
        self._first.setdefault(j, server)
        self._tries[j] = tries + 1
        heapq.heappush(self._calendar, (float(again), _RETRY, self._seq, j))
        self._seq += 1

    def _retry(self, j: int, at: float) -> None:
        """Request ``j`` tried again at ``at``: the policy chooses with the server that
        refused it excluded (marked down for this one decision)."""
        state, k = self.state, len(self.speeds)
        refuser = self._server_of[j]  # the server that refused it last
        self._retried_at[j] = at
        excluded = state.up[refuser]
        if excluded:
            state.mark(refuser, False)
        try:
            state.now, state.request = at, j
            if state.down == k:
                i = -1
            else:
                i = self._index(self.policy.choose_again(state), j,
                                f" (its retry, after server {refuser} refused it)")
        finally:
            if excluded:
                state.mark(refuser, True)
        self._server_of[j] = i
        if i < 0:
            self._fail(j, UNAVAILABLE, at)
        elif self._dead and not self.alive[i]:
            self._refuse(j, i, at)
        elif self.queue_limit is not None and state.connections[i] >= self.queue_limit:
            self._server_of[j] = -1
            self._fail(j, DROPPED, at)
        else:
            busy = state.busy_until
            d = (at if at > busy[i] else busy[i]) + self._work[j] / self.speeds[i]
            busy[i] = d
            state.connections[i] += 1
            heapq.heappush(self._calendar, (d, _DEPART, i, j))
            self._departures[j] = d
            if self._accepted is not None:
                self._accepted(state, i)

    def _index(self, choice, j: int, context: str) -> int:
        """A policy's choice as a server index (numpy integers accepted), or a clear error."""
        k = len(self.speeds)
        try:
            i = operator.index(choice)
        except TypeError:
            i = -1
        if not 0 <= i < k:
            raise ValueError(f"{self.policy!r}.choose returned {choice!r} for request {j}"
                             f"{context}; expected a server index in 0..{k - 1}")
        if not self.state.up[i]:
            raise ValueError(f"{self.policy!r}.choose returned server {i} for request {j}"
                             f"{context}, but the balancer has marked server {i} down; a "
                             "policy must choose among the servers with state.up[i] True")
        return i

    def _log(self) -> Dispatch:
        outcome = np.frombuffer(bytes(self._outcome), dtype=np.int8).copy()
        return Dispatch(outcome=outcome, server_of=np.array(self._server_of, dtype=np.int64),
                        departures_at=np.array(self._departures, dtype=float),
                        failed_at=self._failed_at, first_of_retried=self._first,
                        retries=self._retried_at)


def _assignment(policy, assigned, n: int, k: int) -> np.ndarray:
    out = np.asarray(assigned)
    if out.shape != (n,) or not np.issubdtype(out.dtype, np.integer):
        raise TypeError(f"{policy!r}.assign must return {n} integer server indices")
    if n and (out.min() < 0 or out.max() >= k):
        raise ValueError(f"{policy!r}.assign returned a server outside 0..{k - 1}")
    return out.astype(np.int64, copy=False)


def _plain_log(departures: np.ndarray, server_of: np.ndarray, arrivals: np.ndarray) -> Dispatch:
    """The log of a run where a request is only ever served or dropped (server −1)."""
    if server_of.size == 0 or server_of.min() >= 0:  # nothing dropped
        return Dispatch(outcome=np.zeros(server_of.size, dtype=np.int8), server_of=server_of,
                        departures_at=departures)
    dropped = server_of < 0
    outcome = dropped.astype(np.int8) * np.int8(DROPPED)
    failed = np.flatnonzero(dropped)
    return Dispatch(outcome=outcome, server_of=server_of, departures_at=departures,
                    failed_at=dict(zip(failed.tolist(), arrivals[failed].tolist(),
                                       strict=True)))
