"""Vertical vs horizontal scaling, the Universal Scalability Law and what machines cost —
views of :mod:`scalekit.servers.scaling`.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np

from scalekit import _check, theory
from scalekit.servers import scaling
from scalekit.views._common import expect
from scalekit.views.panel import Panel
from scalekit.views.style import LIMIT, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["plot_scaling", "explore_scaling", "plot_usl", "explore_usl", "plot_costs"]

#: Most node counts (and demands) one plot draws.
MAX_PLOT_NODES = 10_000


@styled
def plot_scaling(result: scaling.ScalingComparison):
    """Mean latency of one k× server, k servers sharing a queue, k servers at random."""
    expect("result", result, scaling.ScalingComparison)
    fig, ax = figure(width=7.2, height=3.4, left=0.3)
    rows = result.rows()
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r[1] for r in rows], height=0.4, color=SIMULATED, label="simulated")
    ax.barh(y + 0.2, [r[2] for r in rows], height=0.4, color=LIMIT, label="theory")
    ax.set_yticks(y, [r[0] for r in rows])
    ax.yaxis.set_inverted(True)
    best = min(rows, key=lambda r: r[2])[0]
    ax.set(xlabel="mean time in system (× one request's service time)",
           title=f"Same capacity, load {result.load:.2f}: fastest is {best}")
    ax.legend(loc="upper right")  # beside the top row, one k× server: always the shortest
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
    sigma = _check.probability("sigma", sigma)
    kappa = _check.non_negative("kappa", kappa)
    max_nodes = _check.integer("max_nodes", max_nodes, low=1, high=MAX_PLOT_NODES)
    if fit is not None:
        expect("fit", fit, scaling.UslFit)
    if measured is not None:
        if not isinstance(measured, tuple | list) or len(measured) != 2:
            raise TypeError(f"measured must be a pair (nodes, throughput) or None, got "
                            f"{measured!r}")
        pair = (_check.array("measured nodes", measured[0], low=0.0),
                _check.array("measured throughput", measured[1], low=0.0))
        if pair[0].size != pair[1].size:
            raise ValueError(f"measured nodes and throughput differ in length: "
                             f"{pair[0].size} vs {pair[1].size}")
    fig, ax = figure(width=7.2, height=4.2, bottom=0.3)
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
        best = theory.usl_capacity(peak, sigma, kappa)
        ax.axvline(peak, color=MEASURED, ls=":", label=f"peak N* = {peak:.0f}")
        ax.plot([peak], [best], "o", color=SIMULATED, ms=7)
        ax.annotate(f"{best:.1f}× at N* = {peak:.0f}", (peak, best), xytext=(0, 8),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9,
                    color=SIMULATED)
        title = f"Past {peak:.0f} nodes, adding nodes loses capacity (peak {best:.1f}×)"
    else:
        title = f"Capacity flattens towards 1/σ = {1 / sigma:.0f}×" if sigma > 0 \
            else "Linear scaling: no contention, no coherency cost"
    ax.set(xlabel="nodes N", ylabel="capacity relative to one node",
           ylim=(0, _usl_top(usl, amdahl, measured)), xlim=(0, max_nodes * 1.02), title=title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2)
    return fig


def _usl_top(usl, amdahl, measured=None) -> float:
    """The capacity axis' top: room above the curves that bend (USL, Amdahl, measured
    points), not the ideal line — which would stretch the axis to N and flatten the peak
    the title names. The ideal line runs off the top instead."""
    tops = [float(np.max(usl)), float(np.max(amdahl))]
    if measured is not None and len(measured[1]):
        tops.append(float(np.max(measured[1])))
    return max(tops) * 1.3


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
    expect("model", model, scaling.CostModel)
    demands = _check.array("demands_rps", demands_rps, low=0.0, low_open=True, min_len=1)
    if demands.size > MAX_PLOT_NODES:
        raise ValueError(f"demands_rps holds {demands.size:,} demands; a plot draws at most "
                         f"{MAX_PLOT_NODES:,}")
    fig, ax = figure(width=7.2, height=4.2, bottom=0.32)
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
                   label=f"the most {cores_each}-core machines can carry (USL peak)")
    ax.set(xlabel="demand (req/s)", ylabel="cost per hour",
           title="Big machines cost more per request — and stop at a maximum size")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2)
    return fig
