"""Capacity and benchmarking: how much load a server takes before users notice.

A server does a finite amount of work per second. Its capacity is found by *benchmarking*:
offer load in steps — as load testers such as wrk, k6 or JMeter's stepping thread groups do —
measure throughput and latency percentiles at each step, and stop at the first step whose
latency breaks the service-level objective (SLO), e.g. "95% of requests within 250 ms".
Stopping there is the point: the run finds the capacity without driving the server into
collapse, where the queue (and every user's wait) grows without bound.

Two numbers come out:

* the **capacity estimate** — the highest offered rate that still met the SLO;
* the **knee** — the step with the most throughput per second of latency (Kleinrock's
  *power*, X/R). Past the knee, every extra request per second costs more latency than the
  one before. For an M/M/1 server power peaks at exactly half the service rate.

Each step is a simulated run (:func:`scalekit.sim.run`) of Poisson arrivals; rates are in
requests per second, times in seconds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scalekit import _check, _html, sim

__all__ = ["RampStep", "CapacityResult", "ramp", "capacity_from_table"]


@dataclass(frozen=True)
class RampStep:
    """One step of a load ramp: what was offered and what was measured.

    ``tail_s`` is the latency at the ramp's own ``percentile`` — the one the SLO was judged
    on — alongside the fixed p50/p95/p99 columns. Latencies are NaN for a step in which no
    request completed.
    """

    offered_rps: float
    throughput_rps: float
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    tail_s: float
    utilisation: float
    met_slo: bool

    @property
    def power(self) -> float:
        """Kleinrock's power: throughput ÷ mean latency (higher is better)."""
        return self.throughput_rps / self.mean_s if self.mean_s > 0 else math.nan


@dataclass(frozen=True)
class CapacityResult:
    """The outcome of a ramp: every step run, and what they say about capacity."""

    steps: tuple[RampStep, ...]
    slo_s: float
    percentile: int
    capacity_rps: float
    knee_rps: float
    stopped_early: bool
    true_capacity_rps: float

    @property
    def offered_rps(self) -> np.ndarray:
        return np.array([s.offered_rps for s in self.steps])

    def column(self, name: str) -> np.ndarray:
        """One measured quantity across the steps, e.g. ``column("p95_s")``."""
        _check.choice("name", name, [f.name for f in dataclasses.fields(RampStep)])
        if not self.steps:
            raise ValueError(f"no steps were measured: no column {name!r}")
        return np.array([getattr(s, name) for s in self.steps], dtype=float)

    def _repr_html_(self) -> str:
        columns = ("offered /s", "throughput /s", "mean ms", "p50 ms", "p95 ms", "p99 ms",
                   f"p{self.percentile} ms (SLO)", "utilisation", "met SLO")
        rows = [(s.offered_rps, s.throughput_rps, s.mean_s * 1e3, s.p50_s * 1e3,
                 s.p95_s * 1e3, s.p99_s * 1e3, s.tail_s * 1e3, f"{s.utilisation:.2f}",
                 "yes" if s.met_slo else "NO") for s in self.steps]
        note = (f"capacity ≈ {self.capacity_rps:.4g} req/s under a p{self.percentile} SLO "
                f"of {self.slo_s * 1e3:.4g} ms; knee at {self.knee_rps:.4g} req/s"
                f"{'; stopped at the first breach' if self.stopped_early else ''}.")
        return _html.rows_table(rows, columns, note)


def ramp(
    service: sim.ServiceTime,
    *,
    rates_rps: Sequence[float],
    slo_s: float,
    percentile: int = 95,
    servers: int = 1,
    step_s: float = 60.0,
    stop_at_breach: bool = True,
    seed: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> CapacityResult:
    """Offer each rate in ``rates_rps`` (ascending) for ``step_s`` simulated seconds.

    ``service`` is the work per request; ``servers`` share one queue. A step meets the SLO
    when its ``percentile`` latency is within ``slo_s`` and the server kept up (no request
    still waiting more than ``slo_s`` at the end). With ``stop_at_breach`` the ramp ends at
    the first breach — the benchmark never pushes the server further. A step in which no
    request completed meets the SLO unless a request still waiting is older than ``slo_s``:
    nothing was late. ``progress(done, total, message)`` is called after each step.
    """
    if not isinstance(service, sim.ServiceTime):
        raise TypeError(f"service must be a ServiceTime, got {service!r}")
    _check.boolean("stop_at_breach", stop_at_breach)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {progress!r} "
                        f"({type(progress).__name__})")
    rates = _check.array("rates_rps", rates_rps, low=0.0, low_open=True, min_len=1,
                         sorted_=True)
    slo = _check.positive("slo_s", slo_s)
    pct = _check.integer("percentile", percentile, low=1, high=99)
    servers = _check.integer("servers", servers, low=1, high=1000)
    step = _check.positive("step_s", step_s)
    for rate in rates:
        sim.check_expected_requests("rate × step_s", rate * step)
    base = sim.rng(seed)
    steps: list[RampStep] = []
    for k, rate in enumerate(rates):
        workload = sim.Workload.poisson(float(rate), service, horizon_s=step,
                                        seed=int(base.integers(2**63)))
        result = sim.run(workload, servers=servers)
        steps.append(_step(result, float(rate), slo, pct))
        if progress is not None:
            progress(k + 1, rates.size, f"{rate:.4g} req/s")
        if stop_at_breach and not steps[-1].met_slo:
            break
    return _summarise(steps, slo, pct, servers / service.mean_s, len(steps) < rates.size)


def _step(result: sim.Results, rate: float, slo: float, pct: int) -> RampStep:
    lat = result.latencies_s
    tail = float(np.percentile(lat, pct)) if lat.size else math.nan
    # Requests still queued at the end count too: a server that falls behind fails the SLO
    # even if the few requests it finished were quick.
    waiting = result.arrivals_at[np.isnan(result.departures_at) |
                                 (result.departures_at > result.horizon_s)]
    oldest = result.horizon_s - waiting.min() if waiting.size else 0.0
    # With no completed request there is no percentile to judge; only the waiting can be late.
    met = bool((lat.size == 0 or tail <= slo) and oldest <= slo)
    return RampStep(rate, result.throughput_rps, result.mean_s, result.p50_s, result.p95_s,
                    result.p99_s, tail, float(np.mean(result.utilisation)), met)


def _summarise(steps, slo, pct, true_capacity, stopped) -> CapacityResult:
    passing = [s for s in steps if s.met_slo]
    capacity = passing[-1].offered_rps if passing else 0.0
    powers = np.array([s.power for s in steps], dtype=float)
    finite = np.isfinite(powers)
    # The knee is undefined when no step has a power (no request completed in any step).
    knee = steps[int(np.argmax(np.where(finite, powers, -np.inf)))].offered_rps \
        if finite.any() else math.nan
    return CapacityResult(tuple(steps), slo, pct, capacity, knee, stopped, true_capacity)


def capacity_from_table(
    offered_rps: Sequence[float], latency_s: Sequence[float], slo_s: float
) -> float:
    """The highest offered rate whose measured latency meets ``slo_s``, reading a benchmark
    table from the lowest rate up and stopping at the first breach (0.0 if none met it).

    Later rows are ignored once one breaches: a server past its capacity can look fine
    again only by accident (or by dropping requests).
    """
    rates = _check.array("offered_rps", offered_rps, low=0.0, min_len=1, sorted_=True)
    lat = _check.array("latency_s", latency_s, low=0.0, min_len=1)
    if lat.size != rates.size:
        raise ValueError(f"offered_rps and latency_s differ in length: {rates.size} vs {lat.size}")
    slo = _check.positive("slo_s", slo_s)
    best = 0.0
    for rate, latency in zip(rates, lat, strict=True):
        if latency > slo:
            break
        best = float(rate)
    return best
