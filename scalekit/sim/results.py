"""What was measured: one run's :class:`Results`, and statistics over replications.

Latency statistics cover the requests that arrived in [warmup_s, horizon_s], each followed to
its departure; :func:`estimate` and :func:`replicate` give a mean with its standard error, to
judge a simulation against theory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scalekit import _check, _html
from scalekit.sim import compiled
from scalekit.sim.workload import Workload

# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class Results:
    """What one run measured, over the window [warmup_s, horizon_s].

    Latency statistics cover every request that arrived in the window and was not dropped,
    followed to its departure (which may come after the horizon).
    ``arrived = completed + in_system + dropped`` counts every request that arrived before
    the horizon. ``unstable`` is True when the offered load (arrival rate × mean work
    ÷ total speed) is >= 1: then no steady state exists and the latencies grow with the run
    length — they describe this run only. ``overloaded`` is True when the load at the
    traffic's peak (``peak_load``) reaches capacity: a queue builds up while the peak lasts,
    even if the average load is fine.
    """

    policy: str
    servers: int
    mean_work_s: float
    offered_load: float
    peak_load: float
    unstable: bool
    overloaded: bool
    arrived: int
    completed: int
    in_system: int
    dropped: int
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    throughput_rps: float
    utilisation: tuple[float, ...]
    horizon_s: float
    warmup_s: float
    arrivals_at: np.ndarray = field(repr=False)
    departures_at: np.ndarray = field(repr=False)
    server_of: np.ndarray = field(repr=False)
    speeds: tuple[float, ...] = field(repr=False, default=())

    @property
    def latencies_s(self) -> np.ndarray:
        """Time in system of the requests the statistics cover: every request that arrived
        in [warmup_s, horizon_s] and was not dropped, followed to its departure."""
        a, d = self.arrivals_at, self.departures_at
        mask = (a >= self.warmup_s) & (a <= self.horizon_s) & ~np.isnan(d)
        return d[mask] - a[mask]

    @property
    def imbalance(self) -> float:
        """max/mean of per-server utilisation (1.0 = perfectly even)."""
        return imbalance(self.utilisation)

    def in_system_at(self, times_s, server: int | None = None) -> np.ndarray:
        """Requests present (queued or in service) at each instant, per server or total."""
        t = _check.array("times_s", times_s)
        server = _check.optional(_check.integer, "server", server, low=0,
                                 high=self.servers - 1, meaning="every server")
        served = ~np.isnan(self.departures_at)
        if server is not None:
            served &= self.server_of == server
        a = np.sort(self.arrivals_at[served])
        d = np.sort(self.departures_at[served])
        return np.searchsorted(a, t, side="right") - np.searchsorted(d, t, side="right")

    def queue_lengths(self, times_s) -> np.ndarray:
        """Requests at each server (queued or in service) at each instant: an array of
        shape (servers, len(times_s)). ``times_s`` must be sorted.

        Counted the way :meth:`in_system_at` counts (arrived by t, not departed by t), for
        every server at once: each arrival adds one and each departure removes one from the
        first instant at or after it, and a running sum along time does the rest."""
        t = _check.array("times_s", times_s, sorted_=True)
        k, g = len(self.speeds) or self.servers, t.size
        served = ~np.isnan(self.departures_at)
        who = self.server_of[served]
        start = np.searchsorted(t, self.arrivals_at[served], side="left")
        end = np.searchsorted(t, self.departures_at[served], side="left")
        change = np.bincount(who * (g + 1) + start, minlength=k * (g + 1))
        change = change - np.bincount(who * (g + 1) + end, minlength=k * (g + 1))
        return np.cumsum(change.reshape(k, g + 1), axis=1)[:, :g]

    def summary(self) -> dict:
        keys = ("policy", "servers", "offered_load", "peak_load", "unstable", "overloaded",
                "arrived", "completed", "in_system", "dropped", "mean_s", "p50_s", "p95_s",
                "p99_s", "throughput_rps")
        out = {k: getattr(self, k) for k in keys}
        out["max_utilisation"] = max(self.utilisation) if self.utilisation else math.nan
        return out

    def _repr_html_(self) -> str:
        if self.unstable:
            note = ("unstable: offered load ≥ capacity — the queue grows without bound; "
                    "latencies depend on how long the run is.")
        elif self.overloaded:
            note = ("overloaded at the peak: the peak load reaches capacity, so a queue "
                    "builds up while the peak lasts; latencies depend on how long it lasts.")
        else:
            note = ""
        return _html.key_value_table(self.summary(), note)


def measure(
    workload: Workload, departures, server_of, speeds, dropped_mask, policy_name, warmup_s,
) -> Results:
    """Measure one run: each request's departure instant (s), server index and whether it
    was dropped, summarised over [warmup_s, the workload's horizon].

    (The common case — nothing dropped, every request inside the window, equal speeds —
    skips the masks and gathers that would copy every array; the numbers are the same.)"""
    a = workload.arrivals_at
    horizon = workload.horizon_s
    speeds = tuple(float(s) for s in speeds)
    any_dropped = bool(dropped_mask.any())
    d = np.where(dropped_mask, np.nan, departures) if any_dropped else departures
    inside = a <= horizon
    done = inside & (d <= horizon)
    arrived = int(inside.sum())
    completed = int(done.sum())
    dropped = int((inside & dropped_mask).sum()) if any_dropped else 0
    kept = inside & ~dropped_mask if any_dropped else inside
    # Counted on its own (not as arrived − completed − dropped), so the conservation law
    # arrived = completed + in_system + dropped is something a test can check.
    in_system = int((kept & (departures > horizon)).sum())
    # Every request that arrived in the window is followed to its departure, even one that
    # leaves after the horizon: counting only those finished by then would favour short
    # requests and read low (by about 0.5% at load 0.9 in a run of 100,000 requests).
    measured = kept & (a >= warmup_s)
    lat = d - a if measured.all() else d[measured] - a[measured]
    if lat.size:
        mean = float(lat.mean())
        p50, p95, p99 = _percentiles(lat, (50, 95, 99))
    else:
        mean = p50 = p95 = p99 = math.nan
    window = horizon - warmup_s
    finished = done & (d >= warmup_s)
    throughput = float(finished.sum() / window) if window > 0 else math.nan
    if any_dropped:
        served = ~dropped_mask
        who, end, work = server_of[served], d[served], workload.work_s[served]
    else:
        who, end, work = server_of, d, workload.work_s
    if compiled.available():
        busy_s = compiled.busy_by_server(end, work, speeds, who, warmup_s, horizon)
    else:
        if len(set(speeds)) == 1:
            start = end - work / speeds[0]
        else:
            start = end - work / np.asarray(speeds)[who]
        busy = np.clip(end, warmup_s, horizon) - np.clip(start, warmup_s, horizon)
        busy_s = np.bincount(who, weights=busy, minlength=len(speeds))
    util = [float(b / window) if window > 0 else math.nan for b in busy_s]
    load = workload.arrival_rate_rps * workload.mean_work_s / sum(speeds)
    peak = workload.peak_rate_rps * workload.mean_work_s / sum(speeds)
    return Results(
        policy=policy_name, servers=len(speeds), mean_work_s=workload.mean_work_s,
        offered_load=float(load), peak_load=float(peak),
        unstable=bool(load >= 1.0), overloaded=bool(peak >= 1.0), arrived=arrived,
        completed=completed, in_system=in_system, dropped=dropped, mean_s=mean, p50_s=p50,
        p95_s=p95, p99_s=p99, throughput_rps=throughput, utilisation=tuple(util),
        horizon_s=float(horizon), warmup_s=float(warmup_s), arrivals_at=a,
        departures_at=d, server_of=server_of, speeds=speeds,
    )


def percentiles(values, qs) -> list[float]:
    """``numpy.percentile(values, qs)`` (its default, linear method), bit for bit, for
    ``values`` finite numbers (at least one) and ``qs`` percentages in [0, 100]; see
    :func:`_percentiles` for how it is faster on a long array."""
    x = _check.array("values", values, min_len=1)
    q = _check.array("qs", np.atleast_1d(np.asarray(qs, dtype=object)).tolist(), min_len=1)
    if q.min() < 0 or q.max() > 100:
        raise ValueError(f"qs must be percentages in [0, 100], got {q.tolist()!r}")
    return _percentiles(x, q)


def _percentiles(values: np.ndarray, qs) -> list[float]:
    """``numpy.percentile(values, qs)`` with its default (linear) method, bit for bit, for a
    1-D float array without NaN — faster on a long array: numpy partitions the whole array
    at both ends and at two indices per percentile; here each order statistic is selected
    in the part left above the previous one.

    The interpolation is numpy's own (numpy/lib/_function_base_impl.py, ``_quantile`` and
    ``_lerp``): virtual index (n − 1)·q; below it i = ⌊v⌋ and above i + 1 (both the last
    element past the end); γ = v − i; a + (b − a)·γ, or b − (b − a)·(1 − γ) when γ ≥ ½.
    The tests check it against numpy."""
    x = np.asarray(values, dtype=float)
    n = x.size
    q = np.true_divide(np.asarray(qs, dtype=float), 100)
    virtual = (n - 1) * q
    below = np.floor(virtual)
    above = below + 1
    past_end = virtual >= n - 1
    below[past_end] = -1
    above[past_end] = -1
    below_i, above_i = below.astype(np.intp), above.astype(np.intp)
    wanted = sorted({int(i) % n for i in (*below_i, *above_i)})
    stats = _order_statistics(x, wanted)
    a = np.array([stats[int(i) % n] for i in below_i])
    b = np.array([stats[int(i) % n] for i in above_i])
    gamma = np.asarray(virtual - below_i, dtype=virtual.dtype)
    diff = b - a
    out = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return [float(v) for v in out]


def _order_statistics(x: np.ndarray, ranks: list[int]) -> dict[int, float]:
    """The values of rank ``ranks`` (sorted, distinct, 0-based) in ``x``: one partition, then
    each further rank selected among the values above the last one found."""
    part = np.partition(x, ranks[0])
    out = {ranks[0]: float(part[ranks[0]])}
    lo = ranks[0] + 1
    for k in ranks[1:]:
        tail = part[lo:]
        tail.partition(k - lo)
        out[k] = float(tail[k - lo])
        lo = k + 1
    return out


def imbalance(loads) -> float:
    """max/mean of per-server loads (1.0 = perfectly even; NaN when nothing was loaded)."""
    u = _check.array("loads", loads, low=0.0)
    return float(u.max() / u.mean()) if u.size and u.mean() > 0 else math.nan


# --------------------------------------------------------------------------- timelines

#: Most bins one timeline may have.
MAX_BINS = 1_000_000


def bin_edges(duration_s: float, bin_s: float) -> np.ndarray:
    """Edges of ``bin_s``-second bins covering [0, duration_s] (the last bin may reach
    past it), for counting events per second: ``np.histogram(instants, edges)[0] / bin_s``."""
    duration_s = _check.positive("duration_s", duration_s)
    width = _check.positive("bin_s", bin_s)
    bins = max(1, math.ceil(duration_s / width - 1e-9))
    if bins > MAX_BINS:
        raise ValueError(f"duration_s / bin_s = {duration_s:g} / {width:g} makes {bins:,} "
                         f"bins; at most {MAX_BINS:,}")
    return np.arange(bins + 1) * width


# --------------------------------------------------------------------------- statistics


def estimate(values) -> tuple[float, float]:
    """Mean of replications and its standard error (sample std / √n).

    Use the standard error to judge a simulation against theory: a difference of more than
    about 3–4 standard errors is evidence of a real discrepancy, not noise.
    """
    x = _check.array("values", values, min_len=2)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def replicate(
    fn: Callable[[int], float], replications: int, *, seed: int = 0
) -> tuple[float, float]:
    """Run ``fn(seed_i)`` for ``replications`` independent seeds; return (mean, standard error)."""
    fn = _check.function("fn", fn)
    reps = _check.integer("replications", replications, low=2, high=10_000)
    base = _check.integer("seed", seed, low=0)
    seeds = np.random.SeedSequence(base).generate_state(reps)
    return estimate([float(fn(int(s))) for s in seeds])

