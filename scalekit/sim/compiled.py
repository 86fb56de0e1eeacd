"""The fast path: the dispatch loop compiled with numba, for the policies that state their
decision as a :class:`~scalekit.sim.Rule`.

:class:`scalekit.sim.Dispatcher` uses it by itself when numba is installed, the policy gives a
rule and nothing else can happen (no scheduled events, no retries); otherwise — numba missing,
a policy written as a Python class, a crash to model — the Python loop runs, and it stays the
reference: the tests check the two bit for bit on seeded runs.

Compiling takes a few seconds, once: the machine code is cached on disk, and a later process
loads it (about 0.1 s, plus about 0.5 s to import numba). :func:`warm_up` does that up front —
a notebook's first cell, or a panel before its first refresh, so the wait is not in a
refresh. Units: seconds.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from scalekit import _check
from scalekit.sim.policy import RULE_KINDS, Rule

__all__ = ["available", "warm_up", "fifo_by_server", "busy_by_server", "dispatch"]

_loaded: dict = {}


def available() -> bool:
    """True when numba is installed (checked without importing it)."""
    if "ok" not in _loaded:
        _loaded["ok"] = importlib.util.find_spec("numba") is not None
    return _loaded["ok"]


def _kernels():
    if "module" not in _loaded:
        from scalekit.sim import _kernels

        _loaded["module"] = _kernels
    return _loaded["module"]


def warm_up() -> float:
    """Import numba and load (or, the first time on a machine, compile) the kernels by
    running each once on a tiny input; return the seconds it took (0 without numba)."""
    if not available():
        return 0.0
    start = time.perf_counter()
    a, w, speeds = np.array([0.0, 0.5]), np.array([1.0, 1.0]), np.array([1.0, 1.0])
    fifo_by_server(a, w, speeds, np.array([0, 1]))
    busy_by_server(a + 1.0, w, speeds, np.array([0, 1]), 0.0, 2.0)
    for kind in RULE_KINDS:
        data = {"assigned": np.array([0, 1]), "least_of_draws": np.array([[0, 1], [1, 0]])}
        dispatch(a, w, speeds, Rule(kind, data.get(kind)), None)
    return time.perf_counter() - start


def _floats(name: str, values, n: int | None = None) -> np.ndarray:
    """A 1-D float64 array, or a TypeError/ValueError naming ``name`` (shape and type only:
    the values come from a checked Workload; the kernels index with them, so they must fit)."""
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {values!r:.60}") from exc
    if values is None or isinstance(values, str | bytes):
        raise TypeError(f"{name} must be an array of numbers, got {values!r:.60}")
    out = np.ascontiguousarray(out)
    if out.ndim != 1 or (n is not None and out.size != n):
        raise ValueError(f"{name} must be one-dimensional"
                         f"{'' if n is None else f' with {n} values'}, got shape {out.shape}")
    return out


def _servers(name: str, values, n: int, k: int) -> np.ndarray:
    out = np.asarray(values)
    if out.ndim != 1 or out.size != n or not np.issubdtype(out.dtype, np.integer):
        raise TypeError(f"{name} must be {n} server indices, got {values!r:.60}")
    if n and (out.min() < 0 or out.max() >= k):
        raise ValueError(f"{name} names a server outside 0..{k - 1}")
    return np.ascontiguousarray(out, dtype=np.int64)


def fifo_by_server(arrivals_at: np.ndarray, work_s: np.ndarray, speeds,
                   server_of: np.ndarray) -> np.ndarray:
    """:func:`scalekit.sim.queues.fifo_by_server`, compiled: bit for bit the same."""
    a = _floats("arrivals_at", arrivals_at)
    s = _floats("speeds", speeds)
    return _kernels().fifo_by_server(a, _floats("work_s", work_s, a.size), s,
                                     _servers("server_of", server_of, a.size, s.size))


def busy_by_server(end_at: np.ndarray, work_s: np.ndarray, speeds, server_of: np.ndarray,
                   window_from: float, window_to: float) -> np.ndarray:
    """Busy seconds of each server inside [window_from, window_to]: request j kept server
    ``server_of[j]`` busy over [end − work/speed, end]. Bit for bit numpy's clip and
    ``bincount`` (:func:`scalekit.sim.results.measure`)."""
    end = _floats("end_at", end_at)
    s = _floats("speeds", speeds)
    lo = _check.number("window_from", window_from)
    hi = _check.number("window_to", window_to, low=lo)
    return _kernels().busy_by_server(end, _floats("work_s", work_s, end.size), s,
                                     _servers("server_of", server_of, end.size, s.size), lo, hi)


def dispatch(arrivals_at: np.ndarray, work_s: np.ndarray, speeds, rule: Rule,
             queue_limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Serve the requests by ``rule`` with every server up and alive: (departure instants,
    server of each request), NaN and −1 for a request dropped by ``queue_limit``."""
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be a scalekit.sim.Rule, got {rule!r}")
    arrivals_at = _floats("arrivals_at", arrivals_at)
    work_s = _floats("work_s", work_s, arrivals_at.size)
    speeds = _floats("speeds", speeds)
    if not speeds.size:
        raise ValueError("speeds must name at least one server")
    if queue_limit is not None:
        queue_limit = _check.integer("queue_limit", queue_limit, low=1)
    n = arrivals_at.size
    servers = np.zeros(0, dtype=np.int64)
    draws = np.zeros((0, 1), dtype=np.int64)
    if rule.kind == "assigned":
        servers = np.ascontiguousarray(rule.servers, dtype=np.int64)
    elif rule.kind == "least_of_draws":
        draws = np.ascontiguousarray(rule.servers, dtype=np.int64)
        if draws.ndim != 2 or draws.shape[0] < n or draws.shape[1] < 1:
            raise ValueError(f"a least_of_draws rule needs draws of shape ({n}, d), "
                             f"got {draws.shape}")
    if rule.kind == "assigned" and servers.shape[0] < n:
        raise ValueError(f"an assigned rule needs {n} servers, got {servers.shape[0]}")
    k = len(speeds)
    for data in (servers, draws):  # the kernel does not check bounds: check them here
        if data.size and (data.min() < 0 or data.max() >= k):
            raise ValueError(f"a {rule.kind} rule names a server outside 0..{k - 1}")
    cap = n + 1 if queue_limit is None else int(queue_limit)
    return _kernels().dispatch(
        np.ascontiguousarray(arrivals_at, dtype=np.float64),
        np.ascontiguousarray(work_s, dtype=np.float64),
        np.asarray(speeds, dtype=np.float64), RULE_KINDS.index(rule.kind), servers, draws, cap)
