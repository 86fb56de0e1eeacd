"""Policies side by side on the same requests: per-server queues over time, latency
distributions, per-server utilisation — views of :mod:`scalekit.balancing.cluster`, and the
supermarket model of :mod:`scalekit.theory`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from scalekit import _check, balancing, flow, theory
from scalekit.balancing.cluster import MAX_SCENARIO_REQUESTS
from scalekit.sim import compiled
from scalekit.views._common import expect, readable
from scalekit.views.flow import FlowView
from scalekit.views.flow.widget import PLAY_S
from scalekit.views.panel import Panel
from scalekit.views.style import CYCLE, LIMIT, SIMULATED, THEORY, figure, plain_numbers, styled

__all__ = ["plot_policies", "explore_policies", "plot_supermarket", "animate_policies",
           "QUEUE_COLORMAP", "PANEL_REQUESTS", "MAX_ANIMATED_REQUESTS"]

#: Most requests per policy :func:`animate_policies` hands the browser (each view replays
#: every one of them).
MAX_ANIMATED_REQUESTS = 5_000

#: Perceptually uniform and readable with colour-blindness: dark = empty, bright = long queue.
QUEUE_COLORMAP = "viridis"
_MAX_QUEUE_PANELS = 4
#: Requests per policy in the panel (see :func:`explore_policies`).
PANEL_REQUESTS = 100_000
_POINTS = 240  # instants per queue heat map
_QUANTILES = np.linspace(0.005, 0.999, 120)  # points per latency curve


def _verdict(comp: balancing.Comparison) -> str:
    if comp.scenario.load >= 1:
        return (f"Unstable: load {comp.scenario.load:.2f} ≥ capacity — the queues grow for "
                f"as long as the run lasts, under every rule")
    best = comp.best
    worst = max(comp.results, key=lambda k: comp[k].p99_s if math.isfinite(comp[k].p99_s)
                else math.inf)
    b, w = comp[best], comp[worst]
    if best == worst or not math.isfinite(w.p99_s):
        return f"{readable(best)}: p99 {b.p99_s * 1e3:,.0f} ms"
    return (f"{readable(best)} wins: p99 {b.p99_s * 1e3:,.0f} ms against "
            f"{w.p99_s * 1e3:,.0f} ms for {readable(worst)}")


@styled
def plot_policies(comparison: balancing.Comparison, utilisation: bool = True):
    """Left: requests at each server over time — one band of rows per policy (up to four),
    one row per server, on one colour scale, so brighter is worse everywhere. Right, top:
    every policy's latency distribution (log scale; the dot is the 99th percentile).
    Right, bottom (unless ``utilisation=False``): each server's utilisation — a spread of
    points is an uneven balancer."""
    expect("comparison", comparison, balancing.Comparison)
    utilisation = _check.boolean("utilisation", utilisation)
    names = list(comparison.results)[:_MAX_QUEUE_PANELS]
    if utilisation:
        fig, ax = figure(width=7.2, height=5.4, mosaic=[["queues", "cdf"], ["queues", "util"]],
                         ratios={"width_ratios": [1.1, 1]}, left=0.14, right=0.97,
                         top=0.88, bottom=0.14, hspace=0.55, wspace=0.3)
    else:
        fig, ax = figure(width=7.2, height=4.2, mosaic=[["queues", "cdf"]],
                         ratios={"width_ratios": [1.1, 1]}, left=0.14, right=0.97,
                         top=0.84, bottom=0.2, wspace=0.3)
    first = comparison[names[0]]
    k, horizon = first.servers, first.horizon_s
    t = np.linspace(0.0, horizon, _POINTS)
    queues = [comparison[name].queue_lengths(t).astype(float) for name in names]
    top = max(3, int(max(np.percentile(q, 99.5) for q in queues)))
    gap = max(1, k // 4)  # blank rows between the bands
    stacked = np.full((len(names) * (k + gap) - gap, t.size), np.nan)
    for i, q in enumerate(queues):
        stacked[i * (k + gap): i * (k + gap) + k] = q
    heat = ax["queues"]
    heat.grid(False)
    heat.imshow(stacked, aspect="auto", interpolation="nearest", cmap=QUEUE_COLORMAP,
                norm=PowerNorm(0.5, vmin=0, vmax=top), extent=(0.0, horizon,
                                                               stacked.shape[0] - 0.5, -0.5))
    heat.set_yticks([i * (k + gap) + (k - 1) / 2 for i in range(len(names))],
                    [readable(n).replace(" ", "\n", 1) for n in names])
    for label, i in zip(heat.get_yticklabels(), range(len(names)), strict=True):
        label.set_color(CYCLE[i % len(CYCLE)])
    heat.tick_params(axis="y", length=0)
    heat.set(xlabel=f"time (s) · colour: requests queued,\n0 (dark) → {top}+ (bright)",
             title=f"Queues at each of {k} servers")
    cdf = ax["cdf"]
    ranked_min, ranked_max = np.inf, 0.0
    for i, (name, r) in enumerate(comparison.results.items()):
        lat = r.latencies_s * 1e3
        if lat.size == 0:
            continue
        color = CYCLE[i % len(CYCLE)]
        ranked = np.sort(lat)  # the curve's points: every (1/120)th of the sorted latencies
        ranked_min, ranked_max = min(ranked_min, ranked[0]), max(ranked_max, ranked[-1])
        cdf.plot(ranked[(_QUANTILES * (ranked.size - 1)).astype(int)], _QUANTILES, color=color,
                 lw=2, label=readable(name))
        cdf.plot([r.p99_s * 1e3], [0.99], "o", color=color, ms=6)
    cdf.set_xscale("log")
    decades = np.log10(max(ranked_max, 1e-9) / max(ranked_min, 1e-9))
    # every decade labelled, and 1-2-5 within a decade when the range is short
    cdf.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades < 2.5 else (1.0,),
                                           numticks=30))
    cdf.xaxis.set_minor_locator(NullLocator())  # minor ticks on a log axis cost a lot to draw
    plain_numbers(cdf.xaxis)
    cdf.set(xlabel="latency (ms, log scale)", ylabel="fraction of requests", ylim=(0, 1.03),
            title="Latency (dot: 99th percentile)", yticks=[0, 0.25, 0.5, 0.75, 1])
    if len(comparison.results) > len(names):  # else the names on the left, in colour, are the
        cdf.legend(loc="upper left")          # legend: no box for the curves to cross
    fig.suptitle(_verdict(comparison), x=0.02, ha="left", fontsize=11, fontweight="bold")
    if not utilisation:
        return fig
    util = ax["util"]
    for i, r in enumerate(comparison.results.values()):
        util.plot(np.arange(k), r.utilisation, "o-", color=CYCLE[i % len(CYCLE)], ms=4, lw=1)
    util.axhline(1.0, color=LIMIT, ls="--", lw=1)
    spread = len(set(comparison.scenario.speeds)) > 1
    util.set(xlabel="server (slowest → fastest)" if spread else "server", ylabel="busy",
             ylim=(0, 1.08), title="Utilisation per server")
    util.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    return fig


def explore_policies(requests: int = PANEL_REQUESTS) -> Panel:
    """The three seed policies and one more, on one cluster: move the sliders and watch
    which servers queue up.

    ``requests`` per policy: the default :data:`PANEL_REQUESTS` keeps the 99th percentiles
    steady — over 20 seeds at the default settings their spread (standard deviation ÷ mean)
    is about 10% for random choice, 7% round robin, 3% fewest connections and 2% power of two,
    against 27%, 22%, 13% and 9% with 4,000 requests. The compiled loop is loaded before the
    first refresh (:func:`scalekit.sim.compiled.warm_up`)."""
    requests = _check.integer("requests", requests, low=100,
                              high=MAX_SCENARIO_REQUESTS)
    compiled.warm_up()
    extra = [p for p in balancing.POLICIES if p not in balancing.SEED_POLICIES]
    controls = {
        "compare": widgets.Dropdown(options=[(readable(p), p) for p in extra],
                                    value="power_of_two", description="fourth policy"),
        "servers": widgets.IntSlider(value=8, min=2, max=32, description="servers"),
        "load": widgets.FloatSlider(value=0.85, min=0.1, max=1.2, step=0.05,
                                    description="load (of capacity)"),
        "spread": widgets.FloatSlider(value=0.0, min=0.0, max=0.9, step=0.1,
                                      description="speed spread ±"),
        "cost": widgets.Dropdown(options=[(c, c) for c in balancing.COST_MIXES],
                                 value="exponential", description="request costs"),
    }

    def compute(compare, servers, load, spread, cost):
        return balancing.compare_policies([*balancing.SEED_POLICIES, compare], servers=servers,
                                          load=load, spread=spread, cost=cost,
                                          requests=requests, seed=1)

    def describe(comp):
        rows = " · ".join(f"{readable(k)}: p99 {r.p99_s * 1e3:,.0f} ms, busiest server "
                          f"{max(r.utilisation):.0%}" for k, r in comp.results.items())
        warn = "UNSTABLE (load ≥ capacity): queues grow for as long as the run lasts · " \
            if comp.scenario.load >= 1 else ""
        return warn + rows

    def draw(comp):
        return plot_policies(comp, utilisation=False)

    return Panel(controls, compute, draw, title="Balancer policies, same requests",
                 describe=describe)


# --------------------------------------------------------------------------- moving


class PolicyFlows(widgets.Box):
    """:func:`animate_policies`' result: the flow views (``views``, by policy name) in a row
    that wraps on a narrow screen; ``links`` are the browser-side links that make them
    play, pause, change speed and scrub together."""

    def __init__(self, views: dict[str, FlowView], links: list):
        self.views, self.links = views, links
        super().__init__(list(views.values()),
                         layout=widgets.Layout(display="flex", flex_flow="row wrap"))


def animate_policies(comparison: balancing.Comparison, speed: float | None = None
                     ) -> PolicyFlows:
    """Every policy of ``comparison`` as an animated request flow
    (:class:`scalekit.views.flow.FlowView`), side by side on the same arrivals — the model's
    own runs replayed, request by request. They play, pause, change speed and scrub
    together, in the browser: start one and all start. ``speed``: simulated seconds per
    second on screen, the same for all (default: the longest run in about
    :data:`scalekit.views.flow.widget.PLAY_S` seconds)."""
    expect("comparison", comparison, balancing.Comparison)
    runs = comparison.results
    longest = max(len(r.arrivals_at) for r in runs.values())
    if longest > MAX_ANIMATED_REQUESTS:
        raise ValueError(f"comparison has {longest:,} requests per policy; animate at most "
                         f"{MAX_ANIMATED_REQUESTS:,} (compare_policies(..., requests=…))")
    traces = {name: flow.trace_results(r, title=readable(name)) for name, r in runs.items()}
    end = max(max(t.horizon_s, float(t.ended_at.max(initial=0.0))) for t in traces.values())
    pace = max(end / PLAY_S, 0.1) if speed is None else speed
    # Each at least the view's 320 px, at most 480: three in a row on a wide notebook, two
    # and one of the same size on a middling one, one per row at 1024 px.
    views = {name: FlowView(t, speed=pace, layout=widgets.Layout(
        flex="1 1 320px", min_width="320px", max_width="480px", margin="0 12px 10px 0"))
             for name, t in traces.items()}
    ordered = list(views.values())
    links = [widgets.jslink((a, trait), (b, trait))
             for a, b in zip(ordered[:-1], ordered[1:], strict=True)
             for trait in ("playing", "speed", "time_s")]
    return PolicyFlows(views, links)


# --------------------------------------------------------------------------- supermarket


@styled
def plot_supermarket(measured: dict | None = None, choices=(1, 2, 3),
                     loads=None, servers: int | None = None):
    """Mean time in system (in service times) against load for d = 1, 2, 3 choices, from
    Mitzenmacher's supermarket model (n → ∞); ``measured`` maps d to a list of
    (load, mean) points simulated on ``servers`` servers
    (:func:`scalekit.balancing.supermarket_runs`)."""
    if measured is not None and not isinstance(measured, Mapping):
        raise TypeError(f"measured must be a dict of choices → [(load, mean), …] "
                        f"(balancing.supermarket_runs) or None, got {type(measured).__name__}")
    choices = [_check.integer("choices", d, low=1, high=64)
               for d in _check.sequence("choices", choices, what="choice counts", min_len=1,
                                        max_len=len(CYCLE))]
    loads = (np.linspace(0.05, 0.98, 120) if loads is None else
             _check.array("loads", loads, low=0.0, low_open=True, min_len=1))
    if loads.max() >= 1.0:
        raise ValueError(f"loads must be below 1 (a stable queue), got {loads.max():g}")
    servers = _check.optional(_check.integer, "servers", servers, low=1,
                              meaning="the legend names no cluster size")
    fig, ax = figure(width=7.2, height=3.8)
    for i, d in enumerate(choices):
        color = CYCLE[i % len(CYCLE)]
        curve = [theory.supermarket_sojourn_s(x, d) for x in loads]
        name = "random (d = 1): 1/(1 − λ)" if d == 1 else f"best of d = {d}"
        ax.plot(loads, curve, color=color, lw=2, label=f"{name}, n → ∞")
        for load, mean in (measured or {}).get(d, []):
            ax.plot([load], [mean], "o", color=color, ms=7, mec=THEORY)
    if measured:
        where = f", n = {servers}" if servers else ""
        ax.plot([], [], "o", color=SIMULATED, mec=THEORY, label=f"simulated{where}")
    ax.set_yscale("log")
    ax.set_yticks([1, 1.5, 2, 3, 5, 7, 10, 20, 30, 50])
    plain_numbers(ax.yaxis)
    ax.set(xlabel="load λ per server", ylabel="mean time in system (service times)",
           title="Two random choices instead of one: from 1/(1 − λ) to almost flat",
           xlim=(0, 1))
    ax.legend(loc="upper left")
    return fig
