"""The compiled loops (numba). Imported only by :mod:`scalekit.sim.compiled`, and only when
numba is installed; every kernel repeats, operation for operation, a Python path that stays
the reference (tests check the two bit for bit):

* :func:`fifo_by_server` — :func:`scalekit.sim.queues.fifo_by_server`'s closed form
  (running sum, running maximum) in one pass instead of a sort and a pass per server;
* :func:`busy_by_server` — the busy time per server that :func:`scalekit.sim.results.measure`
  computes with numpy (clip to the window, then ``bincount``'s sum in request order);
* :func:`dispatch` — :class:`scalekit.sim.Dispatcher`'s loop for a policy with a
  :class:`scalekit.sim.Rule`, nothing scheduled and no retries: departures, the rule's
  decision, the queue limit, FIFO service. Where the Python loop keeps one heap of every
  departure, the kernel keeps each server's requests in flight in arrival order (a FIFO
  server's leave in that order) and brings a server's count up to date when the rule reads
  it: the same counts, fewer steps.

Compiled once and cached on disk (``cache=True``: next to this file, else in the user's cache
directory); where neither is writable (a read-only install and home), each process compiles
its own copy instead.
"""

from __future__ import annotations

import numba
import numpy as np

# Rule kinds, as scalekit.sim.policy.RULE_KINDS orders them.
ASSIGNED, FEWEST_CONNECTIONS, LEAST_OF_DRAWS, LEAST_WORK = 0, 1, 2, 3


def _jit(fn):
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available" (read-only)
        return numba.njit(nogil=True)(fn)


@_jit
def fifo_by_server(arrivals, work, speeds, server_of):  # pragma: no cover (compiled)
    """Per server, D = C + cummax(A − C_prev) with C the running sum of its service times —
    the same additions, subtractions and maxima as the numpy version, in the same order."""
    k = speeds.size
    total = np.zeros(k)  # C, per server
    peak = np.full(k, -np.inf)  # cummax(A − C_prev), per server
    out = np.empty(arrivals.size)
    for j in range(arrivals.size):
        i = server_of[j]
        s = work[j] / speeds[i]
        c = total[i] + s
        total[i] = c
        x = arrivals[j] - (c - s)
        if x > peak[i]:
            peak[i] = x
        out[j] = c + peak[i]
    return out


@_jit
def busy_by_server(end, work, speeds, server_of, lo, hi):  # pragma: no cover (compiled)
    """Per server, the sum over its requests (in order) of the part of [end − work/speed,
    end] inside [lo, hi]."""
    out = np.zeros(speeds.size)
    for j in range(end.size):
        i = server_of[j]
        e = end[j]
        s = e - work[j] / speeds[i]
        out[i] += min(max(e, lo), hi) - min(max(s, lo), hi)
    return out


@_jit
def _expire(i, a, head, head_at, after_of, departures, conns):  # pragma: no cover
    """Server ``i``'s requests that left by ``a`` leave its count. A FIFO server's requests
    leave in the order they came, so its requests in flight are a chain (``head[i]``, then
    ``after_of``) whose first departure, ``head_at[i]`` (inf: none in flight), is the
    earliest: pop from the front while it is due — the same count a heap of every
    departure gives, brought up to date only where the rule reads it."""
    while head_at[i] <= a:
        conns[i] -= 1
        j = after_of[head[i]]
        head[i] = j
        head_at[i] = departures[j] if j >= 0 else np.inf


@_jit
def _rotating_least(values, start):  # pragma: no cover (compiled)
    """The first index at or after ``start`` holding the least value, wrapping round."""
    k = values.size
    least = values[0]
    for i in range(1, k):
        if values[i] < least:
            least = values[i]
    for i in range(start, k):
        if values[i] == least:
            return i
    for i in range(k):
        if values[i] == least:
            return i
    return 0


@_jit
def dispatch(arrivals, work, speeds, kind, servers, draws, cap):  # pragma: no cover
    """Requests in arrival order; the rule chooses, reading the servers' counts of requests
    in flight (brought up to the arrival first); a full server drops the request (departure
    NaN, server −1); else FIFO service. ``servers`` (assigned) and ``draws`` (least of
    draws) are the rule's data."""
    n, k = arrivals.size, speeds.size
    conns = np.zeros(k, dtype=np.int64)
    busy = np.zeros(k)
    left = np.zeros(k)
    head = np.full(k, -1, dtype=np.int64)  # each server's oldest request in flight
    head_at = np.full(k, np.inf)  # ... and when it leaves
    tail = np.full(k, -1, dtype=np.int64)  # ... and its newest
    after_of = np.full(n, -1, dtype=np.int64)  # the next request sent to the same server
    departures = np.full(n, np.nan)
    server_of = np.full(n, -1, dtype=np.int64)
    after = 0  # where the search for a tie starts (fewest connections, least work)
    for j in range(n):
        a = arrivals[j]
        if kind == ASSIGNED:
            i = servers[j]
        elif kind == FEWEST_CONNECTIONS:  # one pass: the first least at or after `after`
            i, least = -1, n + 1
            for s in range(after, k):
                _expire(s, a, head, head_at, after_of, departures, conns)
                if conns[s] < least:
                    i, least = s, conns[s]
            for s in range(min(after, k)):
                _expire(s, a, head, head_at, after_of, departures, conns)
                if conns[s] < least:
                    i, least = s, conns[s]
            after = i + 1
        elif kind == LEAST_OF_DRAWS:
            i = draws[j, 0]
            _expire(i, a, head, head_at, after_of, departures, conns)
            for c in range(1, draws.shape[1]):
                d = draws[j, c]
                _expire(d, a, head, head_at, after_of, departures, conns)
                if conns[d] < conns[i]:
                    i = d
        else:  # LEAST_WORK
            for s in range(k):
                left[s] = busy[s] - a if busy[s] > a else 0.0
            i = _rotating_least(left, after % k)
            after = i + 1
        _expire(i, a, head, head_at, after_of, departures, conns)
        if conns[i] >= cap:
            continue
        prev = busy[i]
        d = (a if a > prev else prev) + work[j] / speeds[i]
        busy[i] = d
        conns[i] += 1
        if head[i] < 0:
            head[i] = j
            head_at[i] = d
        else:
            after_of[tail[i]] = j
        tail[i] = j
        departures[j] = d
        server_of[j] = i
    return departures, server_of
