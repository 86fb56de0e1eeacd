"""Plots and widget panels for notebook 01 (servers).

Each ``plot_*`` takes a model result and returns a Figure whose title states the finding;
each ``explore_*`` returns a :class:`~scalekit.views.panel.Panel` wired to one model.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np

from scalekit import sim, theory
from scalekit.servers import autoscaling, capacity, heartbeats, httpbench, scaling
from scalekit.views.panel import Panel, Progress
from scalekit.views.style import (
    LIMIT,
    MEASURED,
    SIMULATED,
    THEORY,
    figure,
    plain_numbers,
    styled,
    twinx,
)

__all__ = [
    "saturate",
    "plot_saturation",
    "explore_saturation",
    "plot_ramp",
    "explore_ramp",
    "plot_scaling",
    "explore_scaling",
    "plot_usl",
    "explore_usl",
    "plot_costs",
    "run_benchmark",
    "plot_benchmark",
    "plot_autoscaling",
    "explore_autoscaling",
    "plot_heartbeats",
    "plot_timeout_tradeoff",
    "explore_heartbeats",
]


def _expect(name: str, value, cls) -> None:
    """Plots take model results: say so plainly when handed something else."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__module__}.{cls.__qualname__}, "
                        f"got {type(value).__name__}")


# ----------------------------------------------------------------------------- saturation


def saturate(rate_rps: float = 80.0, service_ms: float = 10.0, servers: int = 1,
             distribution: str = "exponential", duration_s: float = 60.0,
             seed: int = 1) -> sim.Results:
    """One run of a server (or a shared-queue pool) at a given load: what the widget shows."""
    service = sim.service_time(distribution, service_ms / 1e3)
    workload = sim.Workload.poisson(rate_rps, service, horizon_s=duration_s, seed=seed)
    return sim.run(workload, servers=servers)


def _theory_curve(result: sim.Results, mean_s: float, scv: float, loads: np.ndarray):
    """Mean time in system vs load from the matching closed form (None when there is none)."""
    c = result.servers
    mu = 1.0 / mean_s
    if c == 1 and math.isfinite(scv):
        name = {1.0: "M/M/1", 0.0: "M/D/1"}.get(scv, "M/G/1")
        return np.array([theory.mg1_sojourn_s(r * mu, mean_s, scv) for r in loads]), name
    if scv == 1.0:
        return np.array([theory.mmc_sojourn_s(r * c * mu, mu, c) for r in loads]), f"M/M/{c}"
    return None, ""


@styled
def plot_saturation(result: sim.Results, scv: float = 1.0):
    """Left: requests in the system over time. Right: mean latency against load, with this
    run marked — the curve that explodes as load approaches capacity. ``scv`` is the work's
    squared coefficient of variation (1 exponential, 0 deterministic), for the theory curve."""
    _expect("result", result, sim.Results)
    fig, (left, right) = figure(2)
    t = np.linspace(0, result.horizon_s, 600)
    left.plot(t, result.in_system_at(t), color=SIMULATED, lw=1)
    left.set(xlabel="time (s)", ylabel="requests in system",
             title="The queue grows without bound" if result.unstable
             else "The queue comes and goes")
    mean_s = result.mean_work_s
    loads = np.linspace(0.01, 0.97, 120)
    curve, label = _theory_curve(result, mean_s, scv, loads)
    if curve is not None:
        right.plot(loads, curve * 1e3, color=THEORY, label=f"theory ({label})")
    right.axvline(1.0, color=LIMIT, ls="--", label="capacity")
    shown = min(result.offered_load, 1.3)
    right.plot([shown], [result.mean_s * 1e3], "o", color=MEASURED, ms=8,
               label="this run" + (" (unstable)" if result.unstable else ""))
    if result.offered_load > 1.3:  # off the axis: say where it really is
        right.annotate(f"ρ = {result.offered_load:.2f} →", (shown, result.mean_s * 1e3),
                       xytext=(-8, -16), textcoords="offset points", ha="right",
                       color=MEASURED, fontsize=9)
    top = max(curve[-1] * 1e3 if curve is not None else 0, result.mean_s * 1e3) * 1.1
    right.set(xlim=(0, 1.35), ylim=(0, top if math.isfinite(top) else None),
              xlabel="utilisation ρ = offered load / capacity", ylabel="mean latency (ms)",
              title=f"At ρ = {result.offered_load:.2f}: mean latency "
                    f"{result.mean_s * 1e3:.0f} ms")
    right.legend(loc="upper left")
    return fig


def explore_saturation() -> Panel:
    """Sliders: arrival rate, service time, servers, distribution."""
    controls = {
        "rate_rps": widgets.FloatSlider(value=80, min=5, max=200, step=5,
                                        description="arrivals /s"),
        "service_ms": widgets.FloatSlider(value=10, min=1, max=50, step=1,
                                          description="service time (ms)"),
        "servers": widgets.IntSlider(value=1, min=1, max=8, description="servers"),
        "distribution": widgets.Dropdown(options=["exponential", "deterministic", "pareto"],
                                         value="exponential", description="work"),
    }

    def compute(rate_rps, service_ms, servers, distribution):
        scv = sim.service_time(distribution, service_ms / 1e3).scv
        return saturate(rate_rps, service_ms, servers, distribution), scv

    def draw(out):
        return plot_saturation(*out)

    def describe(out):
        r = out[0]
        return (f"load {r.offered_load:.2f} · mean {r.mean_s * 1e3:.1f} ms · "
                f"p99 {r.p99_s * 1e3:.1f} ms · still queued at the end: {r.in_system}"
                + (" · UNSTABLE" if r.unstable else ""))

    return Panel(controls, compute, draw, title="Saturate a server", describe=describe,
                 columns=2)


# ----------------------------------------------------------------------------- benchmarking


@styled
def plot_ramp(result: capacity.CapacityResult):
    """Throughput and tail latency per step of a load ramp, with the SLO, the capacity
    estimate and the knee marked."""
    _expect("result", result, capacity.CapacityResult)
    fig, (left, right) = figure(2)
    offered = result.column("offered_rps")
    left.plot(offered, result.column("throughput_rps"), "o-", color=SIMULATED,
              label="measured")
    left.plot(offered, offered, ":", color=THEORY, label="throughput = offered")
    left.axhline(result.true_capacity_rps, color=LIMIT, ls="--", label="true capacity")
    left.set(xlabel="offered load (req/s)", ylabel="throughput (req/s)",
             title="Throughput follows load until the server is full")
    left.legend()
    tail = result.column(f"p{result.percentile}_s") if result.percentile in (50, 95, 99) \
        else result.column("p95_s")
    ok = np.array([s.met_slo for s in result.steps])
    right.plot(offered, tail * 1e3, "-", color=SIMULATED)
    right.plot(offered[ok], tail[ok] * 1e3, "o", color=SIMULATED, label="met the SLO")
    right.plot(offered[~ok], tail[~ok] * 1e3, "X", color=MEASURED, ms=9, label="breached")
    right.axhline(result.slo_s * 1e3, color=MEASURED, ls="--",
                  label=f"SLO p{result.percentile} ≤ {result.slo_s * 1e3:.0f} ms")
    right.axvline(result.knee_rps, color=LIMIT, ls=":", label=f"knee {result.knee_rps:.0f}/s")
    top = max(result.slo_s, float(np.nanmax(tail))) * 1e3 * 1.6  # room for the legend
    right.set(xlabel="offered load (req/s)", ylabel=f"p{result.percentile} latency (ms)",
              ylim=(0, top), title=f"Capacity ≈ {result.capacity_rps:.0f} req/s under the SLO")
    right.legend(loc="upper left", ncols=2)
    return fig


def explore_ramp() -> Panel:
    """Sliders: SLO, step size, service time; the ramp stops at the first breach."""
    controls = {
        "slo_ms": widgets.FloatSlider(value=100, min=20, max=500, step=10,
                                      description="SLO p95 (ms)"),
        "step_rps": widgets.FloatSlider(value=10, min=2, max=25, step=1,
                                        description="ramp step (req/s)"),
        "service_ms": widgets.FloatSlider(value=10, min=2, max=20, step=1,
                                          description="service time (ms)"),
    }

    def compute(slo_ms, step_rps, service_ms):
        top = 1e3 / service_ms * 1.5
        return capacity.ramp(sim.Exponential(service_ms / 1e3),
                             rates_rps=np.arange(step_rps, top, step_rps),
                             slo_s=slo_ms / 1e3, step_s=60.0, seed=1)

    def describe(r):
        return (f"{len(r.steps)} steps run · capacity ≈ {r.capacity_rps:.0f} req/s · "
                f"true capacity {r.true_capacity_rps:.0f} req/s · knee {r.knee_rps:.0f} req/s")

    return Panel(controls, compute, plot_ramp, title="Benchmark by ramping the load",
                 describe=describe)


# ----------------------------------------------------------------------------- scaling


@styled
def plot_scaling(result: scaling.ScalingComparison):
    """Mean latency of one k× server, k servers sharing a queue, k servers at random."""
    _expect("result", result, scaling.ScalingComparison)
    fig, ax = figure(width=8.5, height=3.4, left=0.27)
    rows = result.rows()
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r[1] for r in rows], height=0.4, color=SIMULATED, label="simulated")
    ax.barh(y + 0.2, [r[2] for r in rows], height=0.4, color=LIMIT, label="theory")
    ax.set_yticks(y, [r[0] for r in rows])
    ax.yaxis.set_inverted(True)
    best = min(rows, key=lambda r: r[2])[0]
    ax.set(xlabel="mean time in system (× one request's service time)",
           title=f"Same capacity, load {result.load:.2f}: fastest is {best}")
    ax.legend(loc="center right")
    return fig


def explore_scaling() -> Panel:
    controls = {
        "factor": widgets.IntSlider(value=4, min=1, max=16, description="k (capacity ×)"),
        "load": widgets.FloatSlider(value=0.8, min=0.1, max=0.95, step=0.05,
                                    description="load ρ"),
    }

    def compute(factor, load):
        return scaling.compare_scaling(factor, load, requests=12_000, seed=1)

    def describe(r):
        return " · ".join(f"{name}: {sim_s:.2f} (theory {th:.2f})" for name, sim_s, th in r.rows())

    return Panel(controls, compute, plot_scaling, title="One big server or k small ones?",
                 describe=describe)


@styled
def plot_usl(sigma: float, kappa: float, max_nodes: int = 64, fit: scaling.UslFit | None = None,
             measured: tuple | None = None):
    """Relative capacity C(N) under the Universal Scalability Law, next to linear scaling
    and Amdahl's law (κ = 0)."""
    fig, ax = figure(width=7.5, height=3.6)
    n = np.arange(1, max_nodes + 1)
    usl = np.array([theory.usl_capacity(k, sigma, kappa) for k in n])
    amdahl = np.array([theory.usl_capacity(k, sigma, 0.0) for k in n])
    ax.plot(n, n, ":", color=LIMIT, label="linear (ideal)")
    ax.plot(n, amdahl, "--", color=THEORY, label=f"Amdahl (σ={sigma:g}, κ=0)")
    ax.plot(n, usl, "-", color=SIMULATED, lw=2, label=f"USL (σ={sigma:g}, κ={kappa:g})")
    if measured is not None:
        ax.plot(measured[0], measured[1], "o", color=MEASURED, label="measured")
    peak = theory.usl_peak(sigma, kappa)
    if math.isfinite(peak) and peak <= max_nodes:
        ax.axvline(peak, color=MEASURED, ls=":", label=f"peak N* = {peak:.0f}")
        title = f"Past {peak:.0f} nodes, adding nodes loses capacity"
    else:
        title = f"Capacity flattens towards 1/σ = {1 / sigma:.0f}×" if sigma > 0 \
            else "Linear scaling: no contention, no coherency cost"
    ax.set(xlabel="nodes N", ylabel="capacity relative to one node", ylim=(0, None),
           title=title)
    ax.legend(loc="upper left")
    return fig


def explore_usl() -> Panel:
    controls = {
        "sigma": widgets.FloatLogSlider(value=0.05, base=10, min=-3, max=-0.5, step=0.1,
                                        description="contention σ"),
        "kappa": widgets.FloatLogSlider(value=0.001, base=10, min=-5, max=-1, step=0.1,
                                        description="coherency κ"),
        "max_nodes": widgets.IntSlider(value=64, min=8, max=256, step=8,
                                       description="nodes shown"),
    }

    def compute(sigma, kappa, max_nodes):
        theory.usl_capacity(2, sigma, kappa)  # validates the inputs
        return sigma, kappa, max_nodes

    def describe(v):
        peak = theory.usl_peak(v[0], v[1])
        return f"peak at N* = √((1−σ)/κ) = {peak:.1f} nodes"

    return Panel(controls, compute, lambda v: plot_usl(*v), title="Universal Scalability Law",
                 describe=describe)


@styled
def plot_costs(model: scaling.CostModel, demands_rps, cores_each: int = 2):
    """Hourly cost of carrying each demand with one big machine vs many small ones."""
    _expect("model", model, scaling.CostModel)
    fig, ax = figure(width=7.5, height=3.6)
    demands = np.asarray(demands_rps, dtype=float)
    vertical = [model.vertical(d) for d in demands]
    horizontal = [model.horizontal(d, cores_each) for d in demands]
    v_cost = [p.cost_per_hour if p.feasible else np.nan for p in vertical]
    h_cost = [p.cost_per_hour if p.feasible else np.nan for p in horizontal]
    ax.plot(demands, v_cost, "-", color=MEASURED, lw=2, label="vertical: one bigger machine")
    ax.plot(demands, h_cost, "-", color=SIMULATED, lw=2,
            label=f"horizontal: {cores_each}-core machines")
    limit = model.machine_rps(model.max_cores)
    if limit <= demands.max():
        ax.axvline(limit, color=LIMIT, ls="--",
                   label=f"largest machine ({model.max_cores} cores)")
    stuck = [p for p in horizontal if not p.feasible]
    if stuck:
        ax.axvline(stuck[0].capacity_rps, color=SIMULATED, ls=":",
                   label=f"most any number of {cores_each}-core machines carry (USL peak)")
    ax.set(xlabel="demand (req/s)", ylabel="cost per hour",
           title="Big machines cost more per request — and stop at a maximum size")
    ax.legend(loc="upper left")
    return fig


# ----------------------------------------------------------------------------- real benchmark


def run_benchmark(work_ms: float = 5.0, users=(1, 2, 4, 8, 16), step_s: float = 1.0
                  ) -> httpbench.BenchmarkResult:
    """Start a real single-worker HTTP server on 127.0.0.1, ramp closed-loop users against
    it with a progress bar, stop the server, return the measurements."""
    bar = Progress("benchmark").show()
    with httpbench.BenchServer(work_ms=work_ms) as server:
        return httpbench.benchmark(server, users=users, step_s=step_s, progress=bar)


@styled
def plot_benchmark(result: httpbench.BenchmarkResult):
    """Measured throughput and latency against users, next to the MVA prediction made from
    one request at a time."""
    _expect("result", result, httpbench.BenchmarkResult)
    fig, (left, right) = figure(2)
    n = result.users
    z = result.single.overhead_s
    # The same model fed with the service demand the server measured during each step: on a
    # shared machine the CPU's speed drifts, and this line shows the model itself still holds.
    step_model = [theory.mva_closed(int(s.users), s.service_demand_s, z) for s in result.steps]
    left.plot(n, result.throughput_rps, "o-", color=MEASURED, label="measured")
    left.plot(n, result.predicted_throughput_rps, "s--", color=THEORY,
              label="model from 1 request (MVA)")
    left.plot(n, [x for x, _ in step_model], ":", color=SIMULATED,
              label="model with each step's measured D")
    left.axhline(result.max_throughput_rps, color=LIMIT, ls=":", label="1/D from 1 request")
    top = max(float(np.max(result.throughput_rps)), result.max_throughput_rps) * 1.45
    left.set(xlabel="concurrent users", ylabel="throughput (req/s)", ylim=(0, top),
             title=f"Throughput levels off at ≈{np.median(result.throughput_rps[1:]):.0f} req/s")
    left.legend(loc="upper left", ncols=2)
    right.plot(n, result.mean_s * 1e3, "o-", color=MEASURED, label="measured mean")
    right.plot(n, result.p95_s * 1e3, "^:", color=MEASURED, alpha=0.6, label="measured p95")
    right.plot(n, result.predicted_mean_s * 1e3, "s--", color=THEORY,
               label="model from 1 request")
    right.plot(n, [(r + z) * 1e3 for _, r in step_model], ":", color=SIMULATED,
               label="model, each step's D")
    right.set(xlabel="concurrent users", ylabel="latency (ms)", ylim=(0, None),
              title="Past saturation, each user adds one service time")
    right.legend(loc="upper left")
    return fig


# ----------------------------------------------------------------------------- autoscaling


def day_trace(peak_rps: float = 400.0, spike_rps: float = 300.0) -> sim.TrafficTrace:
    """The notebook's day of traffic: a daily cycle peaking at 14:00 and a flash crowd at
    09:00 lasting 15 minutes."""
    return sim.TrafficTrace.daily(base_rps=peak_rps / 8, peak_rps=peak_rps,
                                  spike_at_s=9 * 3600, spike_rps=spike_rps, spike_s=900)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True stretches of ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return list(zip(edges[::2], edges[1::2], strict=True))


def _thin(n: int, max_points: int = 800) -> int:
    """Bin size that brings ``n`` time steps down to at most ``max_points`` on screen."""
    return max(1, -(-n // max_points))


def _binned(values: np.ndarray, size: int, how=np.max) -> np.ndarray:
    """Each bin of ``size`` steps as one value (its max by default: spikes stay visible)."""
    pad = (-values.size) % size
    padded = np.concatenate([values, np.repeat(values[-1:], pad)]) if pad else values
    return how(padded.reshape(-1, size), axis=1)


@styled
def plot_autoscaling(*results: autoscaling.AutoscaleResult, mean_service_s: float = 0.05,
                     latency: bool = True):
    """Servers over time against the work to do (top) and latency over time (bottom), for
    each provisioning run; shaded where a run was overloaded (its queue growing). With
    ``latency=False`` only the top plot, shaded where each run missed its SLO."""
    if not results:
        raise TypeError("plot_autoscaling needs at least one AutoscaleResult")
    for r in results:
        _expect("results", r, autoscaling.AutoscaleResult)
    if not latency:
        fig, top = figure(height=3.6)
        _draw_servers(top, results, mean_service_s, shade_slo=True)
        return fig
    fig, (top, bottom) = figure(1, 2, height=5.6)
    _draw_servers(top, results, mean_service_s, shade_slo=False)
    first = results[0]
    size = _thin(first.times_s.size)  # a day of 15 s steps is 5,760: show ≤ 800 bins
    hours = first.times_s[::size] / 3600.0
    cap = first.slo_s * 1e3 * 20
    for r, line in zip(results, top.lines[-len(results):], strict=True):
        lat = np.minimum(np.where(np.isfinite(r.latency_s), r.latency_s * 1e3, cap), cap)
        bottom.step(hours, _binned(lat, size), where="post", lw=1.2, color=line.get_color(),
                    label=f"{r.policy}: SLO missed {r.slo_violation_fraction:.1%} of the day")
        _shade(bottom, r.times_s, r.overloaded, line.get_color())
    end = first.duration_s / 3600.0
    bottom.axhline(first.slo_s * 1e3, color=MEASURED, ls="--", label="SLO")
    bottom.set(yscale="log", xlabel="time of day (h)", ylabel="mean latency (ms)",
               xlim=(0, end), ylim=(mean_service_s * 1e3 * 0.8, cap * 12),  # legend room
               title="Latency (shaded: overloaded — the queue grows; curve capped at 20×SLO)")
    plain_numbers(bottom.yaxis)
    bottom.legend(loc="upper left", ncols=2)
    return fig


def _shade(ax, times_s: np.ndarray, mask: np.ndarray, color: str) -> None:
    hours = times_s / 3600.0
    for lo, hi in _runs(mask):
        ax.axvspan(hours[lo], hours[min(hi, hours.size - 1)], color=color, alpha=0.12, lw=0)


def _draw_servers(top, results, mean_service_s: float, shade_slo: bool) -> None:
    first = results[0]
    size = _thin(first.times_s.size)
    hours = first.times_s[::size] / 3600.0
    work = _binned(first.arrival_rps * mean_service_s, size)
    top.fill_between(hours, work, step="post", color=LIMIT, alpha=0.3, lw=0,
                     label="work: servers 100% busy (λ × service time)")
    for r in results:
        line, = top.step(hours, _binned(r.servers_ready, size), where="post", lw=1.6,
                         label=f"{r.policy}: {r.server_hours:.0f} server-hours"
                               + (f", SLO missed {r.slo_violation_fraction:.1%}"
                                  if shade_slo else ""))
        if shade_slo:
            _shade(top, r.times_s, r.latency_s > r.slo_s, line.get_color())
    most = max(float(np.max(r.servers_ready)) for r in results)
    top.set(ylabel="servers", xlim=(0, first.duration_s / 3600.0), ylim=(0, most * 1.55),
            xlabel="time of day (h)" if shade_slo else "",
            title="Autoscaling follows the work; a fixed pool is too small or too big"
                  + (" (shaded: SLO missed)" if shade_slo else ""))
    top.legend(loc="upper left", ncols=2)


def explore_autoscaling() -> Panel:
    controls = {
        "target": widgets.FloatSlider(value=0.6, min=0.2, max=0.95, step=0.05,
                                      description="target utilisation"),
        "min_servers": widgets.IntSlider(value=2, min=1, max=20, description="min servers"),
        "max_servers": widgets.IntSlider(value=40, min=2, max=60, description="max servers"),
        "startup_s": widgets.IntSlider(value=60, min=0, max=600, step=30,
                                       description="start-up (s)"),
        "stabilisation_s": widgets.IntSlider(value=300, min=0, max=1200, step=60,
                                             description="scale-down window (s)"),
        "fixed": widgets.IntSlider(value=24, min=1, max=60, description="fixed pool"),
    }
    trace = day_trace()

    def compute(target, min_servers, max_servers, startup_s, stabilisation_s, fixed):
        auto = autoscaling.autoscale(trace, target_utilisation=target, min_servers=min_servers,
                                     max_servers=max_servers, startup_s=startup_s,
                                     stabilisation_s=stabilisation_s)
        return auto, autoscaling.fixed_servers(trace, fixed)

    def describe(out):
        auto, fixed = out
        return (f"autoscaled: {auto.server_hours:.0f} server-hours, SLO missed "
                f"{auto.slo_violation_fraction:.1%} · fixed {fixed.max_servers_used}: "
                f"{fixed.server_hours:.0f} server-hours, SLO missed "
                f"{fixed.slo_violation_fraction:.1%}")

    return Panel(controls, compute, lambda out: plot_autoscaling(*out, latency=False),
                 title="Autoscaling a day of traffic", describe=describe)


# ----------------------------------------------------------------------------- heartbeats


def _draw_timeline(ax, result: heartbeats.HeartbeatResult, window_s: float) -> None:
    crash = result.crashed_at
    lo = max(0.0, crash - window_s * 0.6) if math.isfinite(crash) else 0.0
    hi = lo + window_s
    beats = result.arrivals_at[(result.arrivals_at >= lo) & (result.arrivals_at <= hi)]
    ax.vlines(beats, 0, 1, color=SIMULATED, lw=1.5, label="heartbeat heard")
    if math.isfinite(crash):
        ax.axvline(crash, color=MEASURED, lw=2, label="server crashes")
        last = beats[beats <= crash].max() if (beats <= crash).any() else lo
        ax.axvspan(last, result.declared_dead_at, color=MEASURED, alpha=0.12,
                   label=f"silence: {result.timeout_s:.3g} s timeout running")
        ax.axvline(result.declared_dead_at, color=THEORY, ls="--",
                   label=f"declared dead (+{result.detection_s:.1f} s)")
    ax.set(xlim=(lo, hi), ylim=(0, 1.1), yticks=[], xlabel="time (s)",
           title=f"Detected {result.detection_s:.1f} s after the crash: "
                 f"≈{result.requests_to_dead:.0f} requests went to a dead server")


def _draw_tradeoff(left, tradeoff: heartbeats.TimeoutTradeoff, mark_s: float | None,
                   mark_label: str) -> None:
    k = tradeoff.missed_beats
    left.plot(k, tradeoff.mean_detection_s, "-", color=SIMULATED, lw=2,
              label="mean detection time (s)")
    left.set(xlabel="timeout (heartbeat intervals missed)", ylabel="detection time (s)",
             ylim=(0, None))
    right = twinx(left)
    right.plot(k, tradeoff.false_suspicions_per_hour, "-", color=MEASURED, lw=2,
               label="false suspicions / hour")
    right.set_yscale("symlog", linthresh=0.01)
    plain_numbers(right.yaxis)
    right.set_ylabel("false suspicions per hour (per server)", color=MEASURED)
    right.grid(False)
    if mark_s is not None:
        left.axvline(mark_s / tradeoff.interval_s, color=THEORY, ls="--", label=mark_label)
    handles, labels = left.get_legend_handles_labels()
    more, more_labels = right.get_legend_handles_labels()
    left.legend(handles + more, labels + more_labels, loc="upper center")


@styled
def plot_heartbeats(result: heartbeats.HeartbeatResult, window_s: float = 30.0):
    """The beats the balancer heard around the crash, the timeout running out, and the
    moment the server was declared dead."""
    _expect("result", result, heartbeats.HeartbeatResult)
    fig, ax = figure(width=9.5, height=3.2, bottom=0.36)
    _draw_timeline(ax, result, window_s)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncols=4)
    return fig


@styled
def plot_timeout_tradeoff(tradeoff: heartbeats.TimeoutTradeoff,
                          choice: heartbeats.TimeoutChoice | None = None):
    """Mean detection time and false suspicions per hour against the timeout."""
    _expect("tradeoff", tradeoff, heartbeats.TimeoutTradeoff)
    fig, ax = figure(width=9.5, height=3.6, right=0.9)
    mark = choice.timeout_s if choice is not None and choice.found else None
    _draw_tradeoff(ax, tradeoff, mark, f"chosen: {mark:g} s" if mark else "")
    ax.set_title("A short timeout detects fast but cries wolf; a long one is calm but slow")
    return fig


@styled
def _plot_heartbeat_panel(out):
    result, tradeoff = out
    fig, ax = figure(width=9.5, height=3.6, right=0.9)
    _draw_tradeoff(ax, tradeoff, result.timeout_s, f"this timeout: {result.timeout_s:.3g} s")
    ax.set_title(f"At a {result.timeout_s:.3g} s timeout: {result.mean_detection_s:.2f} s to "
                 f"detect a crash, {result.false_suspicions_per_hour:.2f} false alarms/hour")
    return fig


def explore_heartbeats() -> Panel:
    controls = {
        "interval_s": widgets.FloatSlider(value=1.0, min=0.1, max=5.0, step=0.1,
                                          description="interval (s)"),
        "missed_beats": widgets.FloatSlider(value=3.0, min=0.5, max=10.0, step=0.5,
                                            description="timeout (missed beats)"),
        "pauses_per_hour": widgets.FloatSlider(value=6.0, min=0.0, max=60.0, step=1.0,
                                               description="GC pauses / hour"),
        "pause_s": widgets.FloatSlider(value=1.0, min=0.1, max=10.0, step=0.1,
                                       description="mean pause (s)"),
        "jitter_s": widgets.FloatSlider(value=0.05, min=0.0, max=0.09, step=0.01,
                                        description="jitter (× interval)"),
    }

    def compute(interval_s, missed_beats, pauses_per_hour, pause_s, jitter_s):
        cfg = heartbeats.HeartbeatConfig(interval_s=interval_s, jitter_s=jitter_s * interval_s,
                                         pauses_per_hour=pauses_per_hour, pause_s=pause_s,
                                         horizon_s=min(86_400.0, 200_000 * interval_s))
        timeout = heartbeats.timeout_for(missed_beats, interval_s)
        result = heartbeats.simulate_heartbeats(cfg, timeout_s=timeout,
                                                crashed_at=cfg.horizon_s / 2 + 0.5, seed=1)
        return result, heartbeats.timeout_tradeoff(cfg, seed=1)

    def describe(out):
        r = out[0]
        return (f"{r.messages_per_s:.1f} heartbeat messages/s for {r.servers} servers · "
                f"mean detection {r.mean_detection_s:.2f} s · "
                f"{r.false_suspicions_per_hour:.2f} false suspicions/hour per server")

    return Panel(controls, compute, _plot_heartbeat_panel, title="Heartbeats and timeouts",
                 describe=describe)
