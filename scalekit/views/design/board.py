"""The design board: where a request's time goes (a waterfall by tier), how many requests
reach each tier, and what each tier costs — views of :mod:`scalekit.design`.

The views only draw: every number comes from a :class:`~scalekit.design.DesignResult`.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np

from scalekit import design as model
from scalekit.views._common import expect, results_list
from scalekit.views.panel import Panel
from scalekit.views.style import CYCLE, figure, styled

__all__ = ["plot_waterfall", "plot_requests", "plot_costs", "plot_board", "explore_design",
           "failure_text"]

#: One colour per tier, the same in every figure.
TIER_COLORS = dict(zip(model.TIERS, CYCLE, strict=False))


def _ms(x: float) -> str:
    if not math.isfinite(x):
        return "∞"
    return f"{x:.2g} ms" if x < 10 else f"{x:,.0f} ms"


def _segments(parts: dict, cap: float) -> tuple[np.ndarray, np.ndarray, list, float]:
    """Each tier's bar as (lefts, widths, hatches) end to end; an unbounded part is drawn
    ``cap`` long and hatched. Returns them and the total drawn."""
    widths = np.array([parts[t] if math.isfinite(parts[t]) else cap for t in model.TIERS])
    lefts = np.concatenate([[0.0], np.cumsum(widths)[:-1]])
    hatches = ["" if math.isfinite(parts[t]) else "//" for t in model.TIERS]
    return lefts, widths, hatches, float(widths.sum())


def _draw_waterfall(ax, r: model.DesignResult) -> None:
    rows = (("p50", r.breakdown_p50_ms, r.p50_ms), ("p99", r.breakdown_p99_ms, r.p99_ms))
    longest = max([sum(v for v in parts.values() if math.isfinite(v)) for _, parts, _ in rows]
                  + [1e-3])
    colors = [TIER_COLORS[t] for t in model.TIERS]
    end = 0.0
    for y, (_, parts, total) in enumerate(rows):
        lefts, widths, hatches, drawn = _segments(parts, longest * 0.25)
        bars = ax.barh(np.full(len(widths), y), widths, left=lefts, color=colors,
                       height=0.55, hatch=hatches)
        if y == 1:
            ax.legend(bars.patches, model.TIERS, loc="upper center", ncols=3,
                      handlelength=1.2, columnspacing=1.0)
        ax.text(drawn, y, f"  {_ms(total)}", va="center", fontsize=9)
        end = max(end, drawn)
    ax.set_yticks([0, 1], ["p50 request", "p99 request"])
    ax.set_ylim(-0.6, 3.0)  # room above the bars for the legend (two rows)
    ax.set_xlim(0, end * 1.3)
    ax.set_xlabel("ms in each tier at that percentile (hatched: no bound)")
    parts = r.breakdown_p99_ms
    worst = max(parts, key=lambda t: parts[t] if math.isfinite(parts[t]) else math.inf)
    if r.unstable:
        title = f"The {r.saturated} cannot keep up at the worst moment: latency has no bound"
    else:
        verb = "take" if worst.endswith("s") else "takes"
        title = f"At the p99, the {worst} {verb} {_ms(parts[worst])} of {_ms(r.p99_ms)}"
    ax.set_title(title, loc="left")


@styled
def plot_waterfall(result: model.DesignResult):
    """Where the p50 and the p99 request spend their time, tier by tier (bars end to end:
    each request at that percentile's mean time in each tier)."""
    expect("result", result, model.DesignResult)
    fig, ax = figure(width=7.2, height=3.4, left=0.17, bottom=0.17)
    _draw_waterfall(ax, result)
    return fig


def _draw_requests(ax, r: model.DesignResult) -> None:
    names = list(model.TIERS)
    rates = [r.tier(t).requests_rps for t in names]
    y = np.arange(len(names))[::-1]
    ax.barh(y, rates, color=[TIER_COLORS[t] for t in names], height=0.6)
    for yy, x in zip(y, rates, strict=True):
        ax.text(x, yy, f" {x:,.0f}/s ({x / r.offered_rps:.0%})", va="center", fontsize=8.5)
    ax.set_yticks(y, names)
    ax.set_xlim(0, r.offered_rps * 1.45)
    ax.set_xlabel("requests per second reaching the tier (worst moment)")
    db = r.tier("database").requests_rps / r.offered_rps
    ax.set_title(f"{1 - db:.0%} of requests never reach the database", loc="left")


@styled
def plot_requests(result: model.DesignResult):
    """Requests per second reaching each tier at the worst moment of the day."""
    expect("result", result, model.DesignResult)
    fig, ax = figure(width=7.2, height=3.4, left=0.22)
    _draw_requests(ax, result)
    return fig


def _draw_costs(ax, results: dict, legend: bool = True) -> None:
    names = list(results)
    colors = [TIER_COLORS[t] for t in model.TIERS]
    totals = []
    for y, name in zip(range(len(names) - 1, -1, -1), names, strict=True):
        costs = np.array([results[name].costs[t] for t in model.TIERS])
        lefts = np.concatenate([[0.0], np.cumsum(costs)[:-1]])
        bars = ax.barh(np.full(costs.size, y), costs, left=lefts, color=colors, height=0.6)
        ax.text(costs.sum(), y, f" ${costs.sum():.2f}/h", va="center", fontsize=8.5)
        totals.append(costs.sum())
    ax.set_yticks(range(len(names) - 1, -1, -1), names)
    ax.set_xlim(0, max(max(totals), 0.01) * 1.35)
    ax.set_xlabel("cost per hour ($, from the price table)")
    if legend:
        ax.set_ylim(-0.6, len(names) - 0.4 + 0.6 * len(names))
        ax.legend(bars.patches, model.TIERS, loc="upper right", fontsize=8.5, ncols=3)
    spent = {t: sum(r.costs[t] for r in results.values()) for t in model.TIERS}
    biggest = max(spent, key=spent.get)
    first = results[names[0]]
    if len(names) == 1:
        title = (f"{biggest.capitalize()} cost the most: ${first.costs[biggest]:.2f} of "
                 f"${first.cost_per_h:.2f} an hour")
    else:
        title = (f"From ${min(totals):.2f} to ${max(totals):.2f} an hour: "
                 f"{biggest} are most of it" if biggest.endswith("s") else
                 f"From ${min(totals):.2f} to ${max(totals):.2f} an hour: "
                 f"the {biggest} is most of it")
    ax.set_title(title, loc="left")


@styled
def plot_costs(results):
    """Cost per hour by tier: one bar for a result, one per design for a dict of them (or a
    :class:`~scalekit.design.DesignComparison`)."""
    if isinstance(results, model.DesignComparison):
        named = dict(results.results)
    elif isinstance(results, model.DesignResult):
        named = {"design": results}
    else:
        items = results_list("results", results, model.DesignResult)
        named = dict(results) if isinstance(results, dict) else {
            f"design {i + 1}": r for i, r in enumerate(items)}
    fig, ax = figure(width=7.2, height=1.8 + 0.5 * len(named), left=0.2)
    _draw_costs(ax, named)
    return fig


@styled
def plot_board(result: model.DesignResult):
    """The design board's figure: the latency waterfall and the cost per hour by tier (the
    same colours), side by side. Two axes only: the board redraws on every control."""
    expect("result", result, model.DesignResult)
    fig, axes = figure(mosaic=[["waterfall", "cost"]], width=7.2, height=4.0, left=0.15,
                       wspace=0.12, bottom=0.15, ratios={"width_ratios": [3.2, 1]})
    _draw_waterfall(axes["waterfall"], result)
    _draw_costs(axes["cost"], {"cost": result}, legend=False)
    axes["cost"].set_title(f"${result.cost_per_h:.2f} an hour", loc="left")
    axes["cost"].set_yticks([])
    axes["cost"].set_xlabel("$ per hour")
    return fig


def failure_text(result: model.DesignResult) -> str:
    """One line per component failure, for the board's status line and for print."""
    expect("result", result, model.DesignResult)
    parts = []
    for f in result.failures:
        bits = [f"{f.outage_s:.3g} s out" if f.outage_s else "no outage",
                f"availability {f.availability:.3%}"]
        if f.sessions_lost:
            bits.append(f"{f.sessions_lost:.1%} of sessions lost")
        if f.writes_lost:
            bits.append(f"{f.writes_lost:.1f} acknowledged writes lost")
        parts.append(f"{f.component}: " + ", ".join(bits))
    return " · ".join(parts)


def explore_design(design: model.Design | None = None,
                   traffic: model.Traffic | None = None) -> Panel:
    """The design board: a control per tier → waterfall and cost (:func:`plot_board`),
    and what one failure does (the status line). Starts from ``design`` (default: a
    reasonable one) on ``traffic`` (default: :class:`~scalekit.design.Traffic`)."""
    start = design if design is not None else model.Design(
        max_age_s=60, shared_cache=True, servers=60, cache_keys=1000, shards=2, replicas=1,
        commit="remote_write", sessions="database")
    expect("design", start, model.Design)
    if traffic is not None:
        expect("traffic", traffic, model.Traffic)
    controls = {
        "max_age_s": widgets.IntSlider(value=start.max_age_s, min=0, max=600, step=30,
                                       description="max-age (s)"),
        "shared_cache": widgets.Checkbox(value=start.shared_cache,
                                         description="shared HTTP cache"),
        "balancer_pair": widgets.Checkbox(value=start.balancer_pair,
                                          description="balancer pair"),
        "servers": widgets.IntSlider(value=start.servers, min=1, max=120,
                                     description="app servers"),
        "sessions": widgets.Dropdown(options=model.SESSION_STRATEGIES, value=start.sessions,
                                     description="sessions"),
        "cache_keys": widgets.IntSlider(value=start.cache_keys, min=0, max=5000, step=250,
                                        description="cache entries"),
        "shards": widgets.IntSlider(value=start.shards, min=1, max=8, description="shards"),
        "replicas": widgets.IntSlider(value=start.replicas, min=0, max=4,
                                      description="replicas per shard"),
        "commit": widgets.Dropdown(options=model.COMMIT_MODES, value=start.commit,
                                   description="commit"),
    }

    def compute(**values):
        if values["replicas"] == 0:  # nothing to wait for: every commit is local
            values["commit"] = "async"
        return model.evaluate(start.with_(autoscale=False, **values), traffic)

    def describe(r):
        return (f"p50 {_ms(r.p50_ms)}, p99 {_ms(r.p99_ms)}, ${r.cost_per_h:.2f}/h; first to "
                f"saturate: {r.first_to_saturate} at ×{r.growth_to_saturate:.2g} today's "
                f"traffic. If one fails — {failure_text(r)}")

    return Panel(controls, compute, plot_board, title="Design board", describe=describe)
