"""The compiled loops (numba). Imported only by :mod:`scalekit.sim.compiled`, and only when
numba is installed; every kernel repeats, operation for operation, a Python path that stays
the reference (tests check the two bit for bit):

* :func:`fifo_by_server` — :func:`scalekit.sim.queues.fifo_by_server`'s closed form
  (running sum, running maximum) in one pass instead of a sort and a pass per server;
* :func:`dispatch` — :class:`scalekit.sim.Dispatcher`'s loop for a policy with a
  :class:`scalekit.sim.Rule`, nothing scheduled and no retries: the departures heap, the
  rule's decision, the queue limit, FIFO service.

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
def _push(heap_at, heap_server, size, at, server):  # pragma: no cover (compiled)
    """Add (at, server) to the binary min-heap held in the first ``size`` slots."""
    pos = size
    while pos > 0:
        parent = (pos - 1) >> 1
        if heap_at[parent] <= at:
            break
        heap_at[pos] = heap_at[parent]
        heap_server[pos] = heap_server[parent]
        pos = parent
    heap_at[pos] = at
    heap_server[pos] = server
    return size + 1


@_jit
def _pop(heap_at, heap_server, size):  # pragma: no cover (compiled)
    """Remove the earliest entry; return the new size (its server was heap_server[0])."""
    size -= 1
    at, server = heap_at[size], heap_server[size]
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap_at[child + 1] < heap_at[child]:
            child += 1
        if heap_at[child] >= at:
            break
        heap_at[pos] = heap_at[child]
        heap_server[pos] = heap_server[child]
        pos = child
    heap_at[pos] = at
    heap_server[pos] = server
    return size


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
    """Requests in arrival order; before each, the departures due leave; the rule chooses;
    a full server drops the request (departure NaN, server −1); else FIFO service.
    ``servers`` (assigned) and ``draws`` (least of draws) are the rule's data."""
    n, k = arrivals.size, speeds.size
    conns = np.zeros(k, dtype=np.int64)
    busy = np.zeros(k)
    left = np.zeros(k)
    heap_at = np.empty(n)
    heap_server = np.empty(n, dtype=np.int64)
    size = 0
    departures = np.full(n, np.nan)
    server_of = np.full(n, -1, dtype=np.int64)
    after = 0  # where the search for a tie starts (fewest connections, least work)
    for j in range(n):
        a = arrivals[j]
        while size > 0 and heap_at[0] <= a:
            conns[heap_server[0]] -= 1
            size = _pop(heap_at, heap_server, size)
        if kind == ASSIGNED:
            i = servers[j]
        elif kind == FEWEST_CONNECTIONS:
            i = _rotating_least(conns, after)
            after = i + 1
        elif kind == LEAST_OF_DRAWS:
            i = draws[j, 0]
            for c in range(1, draws.shape[1]):
                d = draws[j, c]
                if conns[d] < conns[i]:
                    i = d
        else:  # LEAST_WORK
            for s in range(k):
                left[s] = busy[s] - a if busy[s] > a else 0.0
            i = _rotating_least(left, after % k)
            after = i + 1
        if conns[i] >= cap:
            continue
        prev = busy[i]
        d = (a if a > prev else prev) + work[j] / speeds[i]
        busy[i] = d
        conns[i] += 1
        size = _push(heap_at, heap_server, size, d, i)
        departures[j] = d
        server_of[j] = i
    return departures, server_of
