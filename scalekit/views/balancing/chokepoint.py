"""The balancer as a chokepoint: throughput and latency against the offered rate, with the
balancer's and the servers' capacity marked — views of :mod:`scalekit.balancing.chokepoint`.
"""

from __future__ import annotations

import textwrap

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from scalekit.balancing import chokepoint
from scalekit.balancing.policies import POLICIES
from scalekit.views._common import expect, readable
from scalekit.views.panel import Panel
from scalekit.views.style import CYCLE, LIMIT, THEORY, figure, plain_numbers, styled

__all__ = ["plot_chokepoint", "explore_chokepoint"]


def _finding(sweep: chokepoint.ChokepointSweep) -> str:
    bound = sweep.balancer_bound
    servers = f"{sweep.servers_capacity_rps:,.0f}/s"
    if not bound:
        return f"The servers saturate first ({servers}): the balancer keeps up"
    if len(bound) == len(sweep.policies):
        first = float(sweep.balancer_capacity_rps.min())
        return (f"The balancer saturates at {first:,.0f}/s, before the servers' {servers}: "
                "add cores or balancers")
    i = sweep.index(bound[0])
    names = " and ".join(readable(p) for p in bound)
    return (f"{names.capitalize()}: the balancer saturates first, at "
            f"{sweep.balancer_capacity_rps[i]:,.0f}/s — below the servers' {servers}")


def _capacity_lines(ax, sweep, colours, hi: float, labelled: bool) -> None:
    """The servers' capacity (grey) and each distinct balancer capacity (dashed, in the
    colour of the first policy that has it) — those inside the plotted range."""
    ax.axvline(sweep.servers_capacity_rps, color=LIMIT, lw=2, alpha=0.8,
               label="servers' capacity" if labelled else None)
    seen: dict[float, list[str]] = {}
    for p, cap in zip(sweep.policies, sweep.balancer_capacity_rps, strict=True):
        seen.setdefault(round(float(cap), 6), []).append(p)
    for cap, names in seen.items():
        if cap > hi:
            continue
        ax.axvline(cap, color=colours[names[0]], ls="--", lw=1.5,
                   label=f"balancer capacity\n({', '.join(map(readable, names))})"
                   if labelled else None)


def _colours(sweep) -> dict[str, str]:
    """One colour per policy name, the same in every figure and panel."""
    known = list(POLICIES)
    return {p: CYCLE[(known.index(p) if p in known else len(known) + i) % len(CYCLE)]
            for i, p in enumerate(sweep.policies)}


def _curves(ax, sweep, y, colours, labelled: bool) -> None:
    """One line per policy; filled points where the system is stable, hollow where a stage
    saturated."""
    rates = sweep.rates_rps
    for i, p in enumerate(sweep.policies):
        c, bad = colours[p], sweep.unstable[i]
        ax.plot(rates, y[i], "-o", color=c, lw=1.8, ms=5, label=readable(p) if labelled else None)
        if bad.any():
            ax.plot(rates[bad], y[i][bad], "o", mfc="white", mec=c, mew=1.5, ms=6)


def _latency(ax, sweep, colours, hi: float, labelled: bool) -> None:
    """Mean latency (log scale). A saturated point has no steady-state latency — a bounded
    run's mean only says how long the run was — so it is drawn on a ceiling at the top."""
    y = sweep.mean_s * 1e3
    stable = y[~sweep.unstable & np.isfinite(y)]
    known = stable if stable.size else y[np.isfinite(y)]
    floor, ceiling = (_tick_below(known.min() * 0.9), known.max() * 2.5) if known.size \
        else (0.1, 10.0)
    _curves(ax, sweep, np.where(sweep.unstable, ceiling, y), colours, labelled)
    _capacity_lines(ax, sweep, colours, hi, labelled)
    ax.plot([], [], "o", mfc="white", mec=THEORY,
            label="saturated: no steady state\n(latency drawn at the top)")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=30))  # 1-2-5 labels
    ax.yaxis.set_minor_locator(NullLocator())  # unlabelled minor ticks: SVG paths for nothing
    plain_numbers(ax.yaxis)
    ax.set(xlim=(0, hi), ylim=(floor, ceiling * 1.3), xlabel="offered rate (requests/s)",
           ylabel="mean latency, end to end (ms)")
    _thousands(ax.xaxis)


def _draw(sweep: chokepoint.ChokepointSweep):
    fig, (left, right) = figure(2, width=7.2, height=4.4, bottom=0.34, top=0.82, wspace=0.32)
    hi = float(sweep.rates_rps.max()) * 1.04
    colours = _colours(sweep)
    left.plot([0, hi], [0, hi], ":", color=THEORY, lw=1)
    _curves(left, sweep, sweep.throughput_rps, colours, labelled=True)
    _capacity_lines(left, sweep, colours, hi, labelled=True)
    left.set(xlim=(0, hi), ylim=(0, hi), xlabel="offered rate (requests/s)",
             ylabel="throughput (requests/s)", title="Throughput stops at the first limit")
    _thousands(left.xaxis)
    _thousands(left.yaxis)
    _latency(right, sweep, colours, hi, labelled=False)
    right.set_title("Latency explodes at the same rate")
    fig.suptitle(textwrap.fill(_finding(sweep), 80), fontsize=10.5, fontweight="bold")
    handles, labels = left.get_legend_handles_labels()
    more, more_labels = right.get_legend_handles_labels()
    left.legend(handles + more, labels + more_labels, loc="upper center",
                bbox_to_anchor=(1.1, -0.2), ncols=3)
    return fig


def _tick_below(value: float) -> float:
    """The largest 1-2-5 value (…, 0.5, 1, 2, 5, 10, …) at or below ``value`` > 0: the log
    axis then starts on a labelled tick."""
    decade = 10.0 ** np.floor(np.log10(value))
    return max(m * decade for m in (1.0, 2.0, 5.0) if m * decade <= value)


def _thousands(axis) -> None:
    """Tick labels 10k, 20k ... rather than 10000 or 1e4."""
    axis.set_major_formatter(FuncFormatter(
        lambda v, _pos: f"{v / 1000:g}k" if abs(v) >= 1000 else f"{v:g}"))


@styled
def plot_chokepoint(sweep: chokepoint.ChokepointSweep):
    """Left: throughput against offered rate, per policy — it follows the offered rate until
    the first stage saturates. Right: mean end-to-end latency (log scale). Vertical lines:
    the servers' capacity and each policy's balancer capacity. Hollow points are runs past
    saturation: their throughput is measured, their latency — which has no steady state and
    would only say how long the bounded run was — is drawn on a ceiling at the top."""
    expect("sweep", sweep, chokepoint.ChokepointSweep)
    return _draw(sweep)


@styled
def _plot_panel(sweep: chokepoint.ChokepointSweep):
    """The panel's lighter figure: latency only, one axes (a refresh within 150 ms)."""
    fig, ax = figure(width=7.2, height=4.0, right=0.66, top=0.82)
    hi = float(sweep.rates_rps.max()) * 1.04
    _latency(ax, sweep, _colours(sweep), hi, labelled=True)
    ax.set_title(textwrap.fill(_finding(sweep), 60))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def _panel_rates(caps) -> np.ndarray:
    """A few offered rates (requests/s) that bracket each saturation point."""
    lo, hi = min(caps), max(caps)
    rates = {round(hi * f, 6) for f in (0.3, 0.6, 0.85, 1.1)}
    rates |= {round(lo * f, 6) for f in (0.92, 1.2)}
    return np.array(sorted(rates))


def explore_chokepoint() -> Panel:
    """Sliders: servers, per-server and base decision cost, balancer cores, work per request;
    the policy to compare with random choice."""
    controls = {
        "policy": widgets.Dropdown(options=["fewest_connections", "power_of_two",
                                            "round_robin", "random"],
                                   value="fewest_connections", description="policy"),
        "servers": widgets.IntSlider(value=100, min=10, max=1000, step=10,
                                     description="servers"),
        "per_server_us": widgets.FloatSlider(value=0.1, min=0.0, max=2.0, step=0.05,
                                             description="cost per server read (µs)"),
        "base_us": widgets.FloatSlider(value=20.0, min=5.0, max=100.0, step=5.0,
                                       description="base decision cost (µs)"),
        "cores": widgets.IntSlider(value=1, min=1, max=8, description="balancer cores"),
        "work_ms": widgets.FloatSlider(value=2.5, min=0.5, max=50.0, step=0.5,
                                       description="work per request (ms)"),
    }

    def compute(policy, servers, per_server_us, base_us, cores, work_ms):
        policies = (policy,) if policy == "random" else ("random", policy)
        base, per = base_us * 1e-6, per_server_us * 1e-6
        caps = [min(chokepoint.balancer_capacity_rps(p, servers, cores=cores, base_s=base,
                                                     per_server_s=per),
                    servers / (work_ms * 1e-3)) for p in policies]
        return chokepoint.chokepoint_sweep(
            _panel_rates(caps), servers=servers, policies=policies,
            mean_work_s=work_ms * 1e-3, base_s=base, per_server_s=per, cores=cores,
            requests=500, seed=1)

    def describe(sweep):
        parts = [f"{readable(p)}: decision {d * 1e6:.1f} µs, balancer capacity {c:,.0f}/s"
                 for p, d, c in zip(sweep.policies, sweep.decision_s,
                                    sweep.balancer_capacity_rps, strict=True)]
        return " · ".join(parts) + f" · servers' capacity {sweep.servers_capacity_rps:,.0f}/s"

    return Panel(controls, compute, _plot_panel, title="The balancer as a chokepoint",
                 describe=describe)
