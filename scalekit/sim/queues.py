"""FIFO queues in closed form, and the one shared queue of a worker pool.

* :func:`fifo_departures` — one FIFO server: Lindley's recursion D_n = max(A_n, D_{n−1}) + S_n
  has the closed form D = C + cummax(A − C_prev), C the running sum of service times; one
  vectorised numpy pass;
* :func:`fifo_by_server` — many FIFO servers, every request's server known up front (a policy
  blind to live state): group the requests by server and run each group's closed form;
* :func:`shared_queue` — c servers pulling from one FIFO queue (M/M/c when arrivals and work
  are exponential): each request goes to the server that frees up first.

Units: seconds.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from scalekit import _check

__all__ = ["fifo_departures", "fifo_by_server", "shared_queue"]


def fifo_departures(arrivals_at, service_s) -> np.ndarray:
    """Departure instants of a FIFO single server (vectorised Lindley recursion).

    D_n = max(A_n, D_{n−1}) + S_n  ⇔  D = C + cummax(A − C_prev), with C = cumsum(S) and
    C_prev the same sum shifted by one (C_prev[0] = 0). ``arrivals_at`` (s) must be sorted,
    ``service_s`` (s) >= 0, both finite and of one length.
    """
    a = _check.array("arrivals_at", arrivals_at, sorted_=True)
    s = _check.array("service_s", service_s, low=0.0)
    if a.shape != s.shape:
        raise ValueError(f"arrivals_at and service_s differ in length: {a.size} vs {s.size}")
    return lindley(a, s)


def lindley(a: np.ndarray, s: np.ndarray) -> np.ndarray:
    """:func:`fifo_departures` on arrays already checked (the hot path)."""
    if a.size == 0:
        return np.empty(0)
    c = np.cumsum(s)
    c_prev = c - s
    return c + np.maximum.accumulate(a - c_prev)


def _checked(arrivals_at, work_s, speeds):
    """The arrays the queues take: sorted instants, work >= 0 of one length, speeds > 0."""
    a = _check.array("arrivals_at", arrivals_at, sorted_=True)
    w = _check.array("work_s", work_s, low=0.0)
    if a.shape != w.shape:
        raise ValueError(f"arrivals_at and work_s differ in length: {a.size} vs {w.size}")
    s = _check.array("speeds", speeds, low=0.0, low_open=True, min_len=1)
    return a, w, tuple(s.tolist())


def fifo_by_server(arrivals_at: np.ndarray, work_s: np.ndarray, speeds: Sequence[float],
                   server_of: np.ndarray) -> np.ndarray:
    """Departure instants when request j goes to FIFO server ``server_of[j]`` of relative
    speed ``speeds[i]`` (its service time is work ÷ speed): each server's requests, in
    arrival order, are one :func:`lindley` pass."""
    arrivals_at, work_s, speeds = _checked(arrivals_at, work_s, speeds)
    server_of = _check.array("server_of", server_of, low=0.0)
    if server_of.size != arrivals_at.size or np.any(server_of >= len(speeds)) or np.any(
            server_of != np.floor(server_of)):
        raise ValueError(f"server_of must hold one server index (0 to {len(speeds) - 1}) per "
                         f"request ({arrivals_at.size})")
    server_of = server_of.astype(np.int64)
    n, k = server_of.size, len(speeds)
    # Group requests by server (a stable sort keeps each server's arrival order), then each
    # server's contiguous slice is one vectorised FIFO queue.
    # (int16 keys let numpy use its radix sort: linear time.)
    keys = server_of.astype(np.int16) if k < 2**15 else server_of
    order = np.argsort(keys, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(server_of, minlength=k))))
    arrivals = arrivals_at[order]
    work = work_s[order] / np.asarray(speeds)[server_of[order]]
    grouped = np.empty(n)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        grouped[lo:hi] = lindley(arrivals[lo:hi], work[lo:hi])
    departures = np.empty(n)
    departures[order] = grouped
    return departures


def shared_queue(arrivals_at: np.ndarray, work_s: np.ndarray, speeds: Sequence[float],
                 limit: int | None):
    """One FIFO queue, c servers: each request goes to the server that frees up first (ties
    to the lowest index). ``limit`` caps the requests in the whole system; an arrival beyond
    it is dropped. Returns (departures, server of each request, dropped mask)."""
    arrivals_at, work_s, speeds = _checked(arrivals_at, work_s, speeds)
    limit = _check.optional(_check.integer, "limit", limit, low=1, meaning="no limit")
    n = arrivals_at.size
    departures = np.empty(n)
    server_of = np.full(n, -1, dtype=np.int64)
    dropped = np.zeros(n, dtype=bool)
    free = [(0.0, i) for i in range(len(speeds))]  # (instant the server is free, server)
    present: list[float] = []  # departure instants of requests in the system
    work = work_s.tolist()
    for j, a in enumerate(arrivals_at.tolist()):
        if limit is not None:
            while present and present[0] <= a:
                heapq.heappop(present)
            if len(present) >= limit:
                dropped[j] = True
                departures[j] = np.nan
                continue
        free_at, i = heapq.heappop(free)
        d = (a if a > free_at else free_at) + work[j] / speeds[i]
        heapq.heappush(free, (d, i))
        if limit is not None:
            heapq.heappush(present, d)
        departures[j] = d
        server_of[j] = i
    return departures, server_of, dropped
