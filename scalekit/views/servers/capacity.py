"""Saturation and load ramps: one server (or pool) at a given load, and a ramp that finds
the capacity under a latency SLO — views of :mod:`scalekit.servers.capacity`.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np

from scalekit import _check, sim, theory
from scalekit.servers import capacity
from scalekit.views._common import expect
from scalekit.views.panel import Panel
from scalekit.views.style import LIMIT, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["saturate", "plot_saturation", "explore_saturation", "plot_ramp", "explore_ramp"]


# ----------------------------------------------------------------------------- saturation


def saturate(rate_rps: float = 80.0, service_ms: float = 10.0, servers: int = 1,
             distribution: str = "exponential", duration_s: float = 60.0,
             seed: int = 1) -> sim.Results:
    """One run of a server (or a shared-queue pool) at a given load: what the widget shows."""
    rate_rps = _check.positive("rate_rps", rate_rps)
    service_ms = _check.positive("service_ms", service_ms)
    servers = _check.integer("servers", servers, low=1, high=sim.MAX_CLUSTER_SERVERS)
    distribution = _check.choice("distribution", distribution, sim.SERVICE_TIMES)
    duration_s = _check.positive("duration_s", duration_s)
    sim.check_expected_requests("rate_rps × duration_s", rate_rps * duration_s)
    seed = _check.seed(seed)
    service = sim.service_time(distribution, service_ms / 1e3)
    workload = sim.Workload.poisson(rate_rps, service, horizon_s=duration_s, seed=seed)
    return sim.run(workload, servers=servers)


def _theory_curve(result: sim.Results, mean_s: float, scv: float, loads: np.ndarray):
    """Mean time in system vs load from the matching closed form (None when there is none:
    servers of different speeds have no simple formula)."""
    c = result.servers
    if result.speeds and len(set(result.speeds)) > 1:
        return None, ""
    mean_s = mean_s / (result.speeds[0] if result.speeds else 1.0)  # a k× server: S/k
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
    expect("result", result, sim.Results)
    scv = _check.non_negative("scv", scv)
    fig, (left, right) = figure(2, width=7.2, height=3.4)
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

    return Panel(controls, compute, draw, title="Saturate a server", describe=describe)


# ----------------------------------------------------------------------------- load ramp


@styled
def plot_ramp(result: capacity.CapacityResult):
    """Throughput and tail latency per step of a load ramp, with the SLO, the capacity
    estimate and the knee marked."""
    expect("result", result, capacity.CapacityResult)
    fig, (left, right) = figure(2, width=7.2, height=4.3, bottom=0.36, wspace=0.3)
    offered = result.column("offered_rps")
    left.plot(offered, result.column("throughput_rps"), "o-", color=SIMULATED,
              label="measured")
    left.plot(offered, offered, ":", color=THEORY, label="throughput = offered")
    left.axhline(result.true_capacity_rps, color=LIMIT, ls="--", label="true capacity")
    left.set(xlabel="offered load (req/s)", ylabel="throughput (req/s)",
             title="Throughput follows load to capacity")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))  # below: lines cross inside
    tail = result.column("tail_s")  # the percentile the SLO was judged on
    ok = np.array([s.met_slo for s in result.steps])
    right.plot(offered, tail * 1e3, "-", color=SIMULATED)
    right.plot(offered[ok], tail[ok] * 1e3, "o", color=SIMULATED, label="met the SLO")
    right.plot(offered[~ok], tail[~ok] * 1e3, "X", color=MEASURED, ms=9, label="breached")
    right.axhline(result.slo_s * 1e3, color=MEASURED, ls="--",
                  label=f"SLO p{result.percentile} ≤ {result.slo_s * 1e3:.0f} ms")
    right.axvline(result.knee_rps, color=LIMIT, ls=":", label=f"knee {result.knee_rps:.0f}/s")
    top = max(result.slo_s, float(np.nanmax(tail))) * 1e3 * 1.15
    right.set(xlabel="offered load (req/s)", ylabel=f"p{result.percentile} latency (ms)",
              ylim=(0, top), title=f"Capacity ≈ {result.capacity_rps:.0f} req/s under the SLO")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
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
