"""Sharding flights: where skewed keys land under each strategy, and what adding a shard
moves — views of :mod:`scalekit.partitioning.growth` (the model counts; these only draw).
The skewed key set is the origin airport code of each flight
(:func:`scalekit.partitioning.origin_keys`) — a hub's code repeats once per flight, so a hub
is a hot key that no hash can split.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from scalekit import _check
from scalekit.hashing import DEFAULT_VNODES
from scalekit.partitioning import growth
from scalekit.partitioning.growth import ReshardingCurve, ShardGrowth
from scalekit.partitioning.shards import shard_load
from scalekit.views._common import expect
from scalekit.views.panel import Panel
from scalekit.views.style import CYCLE, LIMIT, THEORY, figure, styled

__all__ = ["plot_shard_load", "plot_resharding", "plot_moved_by_key", "explore_sharding",
           "STRATEGY_NAMES"]

#: The strategies the views compare, in the order they are drawn.
STRATEGY_NAMES = ("modulo", "range", "directory", "consistent", "jump")
_LABEL = {"modulo": "modulo hash", "range": "range (A–Z split)", "directory": "directory",
          "consistent": "consistent hash", "jump": "jump hash"}
_PANEL_ROWS = 20_000  # flights behind the panel's key set


# --------------------------------------------------------------------------- the panel


#: Share of the shard charts' height the bars use; the legend sits in the band above.
BELOW_LEGEND = 0.72
#: Figure width (in) of this module's figures: shown 588 px wide in JupyterLab at 1024×768
#: with the file browser open, their 9 pt ticks stay above 9 px (a 9.5 in figure fell to 7).
WIDTH = 7.0


@styled
def _draw_growth(s: ShardGrowth):
    fig, ax = figure(width=WIDTH, height=3.9, left=0.1, right=0.98, top=0.8, bottom=0.13)
    n = s.shards
    x = np.arange(n)
    scale = 100.0 / s.rows  # % of all rows
    stays = (s.load - s.moving) * scale
    ax.bar(x, stays, width=0.8, color=CYCLE[0], label="rows that stay")
    ax.bar(x, s.moving * scale, width=0.8, bottom=stays, color=CYCLE[1],
           label=f"rows that move when shard {n} is added")
    ax.bar([n], [s.new_shard_rows * scale], width=0.8, color="white", edgecolor=CYCLE[2],
           hatch="//", lw=1.5, label=f"new shard {n}: rows it receives")
    ax.axhline(100.0 / n, color=THEORY, ls="--", lw=1, label=f"even share (1/{n})")
    ax.set_xlim(-0.7, n + 0.7)
    _every_shard(ax, n + 1)
    top = max(100.0 / n, float(s.load.max()) * scale, float(s.new_shard_rows) * scale)
    ax.set(xlabel="shard", ylabel="rows on the shard (% of all rows)",
           ylim=(0, 1.02 * top / BELOW_LEGEND))
    ax.legend(loc="upper right", ncols=2)
    if s.strategy == "directory":
        theory = "a directory keeps placed keys where they are"
    elif s.expected is None:
        theory = "no closed form for a range split"
    else:
        ref = "n/(n+1)" if s.strategy == "modulo" else "1/(n+1)"
        theory = f"theory {ref} = {s.expected:.0%}"
    ax.set_title(f"{_LABEL[s.strategy]}, {n} shards: shard {s.hottest} holds "
                 f"{s.hottest_share:.0%} of the rows (even {1 / n:.0%})\n"
                 f"Adding shard {n} moves {s.moved:.0%} of the rows ({theory})")
    return fig


def _every_shard(ax, n: int) -> None:
    """A labelled tick under every shard 0 … n−1 (a title that names shard 3 can be read
    off the axis); past 20 shards the labels shrink to fit, never below 9 px."""
    ax.set_xticks(np.arange(n))
    ax.tick_params(axis="x", labelsize=9 if n <= 20 else 8)  # set both ways: a redraw reuses it


def _describe(s: ShardGrowth) -> str:
    spread = f" (±{s.spread:.1%} by chance)" if s.spread is not None else ""
    return (f"{s.rows:,} flights keyed by origin airport: {s.keys} airports, as uneven as "
            f"{s.effective_keys:.0f} equal keys · hottest shard {s.hottest}: "
            f"{s.hottest_share:.1%} of rows · adding shard {s.shards} moves {s.moved:.1%} of "
            f"rows{spread}; {s.new_shard_rows / s.rows:.1%} land on the new shard")


def explore_sharding() -> Panel:
    """Pick a strategy, a shard count, the hub skew and (for consistent hashing) the
    virtual nodes: see each shard's rows, and which of them move when one shard is added."""
    controls = {
        "strategy": widgets.Dropdown(options=[(_LABEL[k], k) for k in STRATEGY_NAMES],
                                     value="consistent", description="strategy"),
        "shards": widgets.IntSlider(value=8, min=2, max=32, description="shards"),
        "skew": widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.25,
                                    description="hub skew"),
        "vnodes": widgets.IntSlider(value=DEFAULT_VNODES, min=1, max=500,
                                    description="virtual nodes (consistent)"),
    }

    def compute(strategy, shards, skew, vnodes):
        return growth.shard_growth(strategy, shards, growth.origin_keys(_PANEL_ROWS, skew),
                                   vnodes=vnodes)

    return Panel(controls, compute, _draw_growth, title="Sharding flights by origin airport",
                 describe=_describe)


# --------------------------------------------------------------------------- static figures


def _names(strategies) -> tuple:
    if isinstance(strategies, str):
        strategies = (strategies,)
    if not isinstance(strategies, Sequence):
        raise TypeError(f"strategies must be a list of strategy names, got "
                        f"{type(strategies).__name__}")
    if not strategies:
        raise ValueError("strategies must name at least one strategy, got none")
    for s in strategies:
        if not isinstance(s, str) or s not in STRATEGY_NAMES:
            kind = ValueError if isinstance(s, str) else TypeError
            raise kind(f"strategies must be strategy names: unknown strategy {s!r}; choose "
                       f"from {', '.join(map(repr, STRATEGY_NAMES))}")
    return tuple(strategies)


@styled
def plot_shard_load(keys: Sequence | None = None, shards: int = 8,
                    strategies: Sequence[str] = STRATEGY_NAMES, *,
                    vnodes: int = DEFAULT_VNODES):
    """Rows per shard under each strategy, for ``keys`` — one shard key per row (default:
    :func:`~scalekit.partitioning.origin_keys`, 20,000 flights keyed by origin airport, hub
    skew 1). The dashed line is an even share; the title names the hottest shard's share."""
    keys = growth.origin_keys() if keys is None else keys
    n = _check.integer("shards", shards, low=2, high=64)
    names = _names(strategies)
    loads = {name: shard_load(growth.strategy_for_keys(name, n, keys, vnodes=vnodes), keys)
             for name in names}
    rows = int(next(iter(loads.values())).sum())
    if rows == 0:
        raise ValueError("keys must hold at least one shard key, got an empty list")
    fig, ax = figure(width=WIDTH, height=4.0, left=0.1, top=0.8, bottom=0.13)
    width = 0.84 / len(names)
    for i, (name, load) in enumerate(loads.items()):
        ax.bar(np.arange(n) + (i - (len(names) - 1) / 2) * width, load / rows * 100,
               width=width, color=CYCLE[i % len(CYCLE)], label=_LABEL[name])
    worst = max(loads, key=lambda name: loads[name].max())
    ax.axhline(100 / n, color=THEORY, ls="--", lw=1, label=f"even share (1/{n})")
    _every_shard(ax, n)
    top = max(float(load.max()) for load in loads.values()) / rows * 100
    ax.set(xlabel="shard", ylabel="rows on the shard (% of all rows)",
           ylim=(0, 1.02 * top / BELOW_LEGEND))
    ax.legend(loc="upper right", ncols=3)
    ax.set_title(f"A hot key beats every strategy: the hottest shard holds "
                 f"{loads[worst].max() / rows:.0%} of the rows\n(shard "
                 f"{int(loads[worst].argmax())} under {_LABEL[worst]}; an even share is "
                 f"{1 / n:.0%} of {rows:,} rows)")
    return fig


def _theory_lines(ax, top: int) -> None:
    grid = np.linspace(1, top, 200)
    ax.plot(grid, grid / (grid + 1), color=THEORY, lw=1.5, ls="--",
            label="theory, modulo: n/(n+1)")
    ax.plot(grid, 1 / (grid + 1), color=LIMIT, lw=1.5, ls="--",
            label="theory, consistent/jump: 1/(n+1)")


@styled
def plot_resharding(keys: Sequence | None = None, max_shards: int = 16,
                    strategies: Sequence[str] = ("modulo", "consistent", "jump"), *,
                    vnodes: int = DEFAULT_VNODES):
    """Fraction of ``keys`` (one per row) that change shard going from n to n + 1 shards,
    for n = 1 .. ``max_shards`` (:func:`~scalekit.partitioning.resharding_curve`), against
    the theory n/(n+1) (modulo hash) and 1/(n+1) (consistent and jump hash). Default keys:
    20,000 distinct flight ids."""
    keys = list(range(1, 20_001)) if keys is None else keys
    names = _names(strategies)
    if "range" in names or "directory" in names:
        raise ValueError("plot_resharding compares hash strategies (modulo, consistent, "
                         "jump); range and directory move only what the operator moves")
    curves = [growth.resharding_curve(name, keys, max_shards, vnodes=vnodes) for name in names]
    top = len(curves[0].shards)
    fig, ax = figure(width=WIDTH, height=4.0, left=0.1, top=0.8, bottom=0.13)
    _theory_lines(ax, top)
    for i, c in enumerate(curves):
        ax.plot(c.shards, c.moved, "os^D"[i % 4], color=CYCLE[i % len(CYCLE)], ms=7,
                mec="white", mew=0.6, label=f"{_LABEL[c.strategy]} (measured)",
                gid=f"measured-{c.strategy}")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=top, integer=True))
    ax.set(xlabel="shards before adding one (n)", ylabel="fraction of keys that move",
           ylim=(0, 1.02), xlim=(0.5, top + 0.5))
    ax.legend(loc="center right")
    k = min(8, top)
    parts = [f"{c.strategy} {c.moved[k - 1]:.0%}" for c in curves]
    ax.set_title(f"Adding a shard: modulo moves n/(n+1) of the keys, consistent and\njump "
                 f"hashing 1/(n+1):\n{k} → {k + 1} shards moves " + ", ".join(parts)
                 + f" of {curves[0].rows:,} keys")
    return fig


@styled
def plot_moved_by_key(by_id: Sequence[ReshardingCurve], by_origin: Sequence[ReshardingCurve]):
    """One panel per strategy: the fraction of rows that move from n to n + 1 shards when
    the rows are keyed by a unique id (``by_id``) and by a skewed key (``by_origin``), with
    the band theory ± 2 standard deviations √(p(1−p)/K_eff) for the skewed key — results of
    :func:`~scalekit.partitioning.resharding_curve`, in the same strategy order."""
    for name, curves in (("by_id", by_id), ("by_origin", by_origin)):
        if isinstance(curves, ReshardingCurve) or not isinstance(curves, Sequence) \
                or not curves:
            raise TypeError(f"{name} must be a non-empty list of ReshardingCurve results")
        for c in curves:
            expect(name, c, ReshardingCurve)
    if [c.strategy for c in by_id] != [c.strategy for c in by_origin]:
        raise ValueError("by_id and by_origin must hold the same strategies in the same order")
    fig, axes = figure(len(by_id), width=WIDTH, height=4.3, top=0.68, bottom=0.12, left=0.09,
                       wspace=0.1)
    axes = np.atleast_1d(axes)
    worst = 0.0
    for ax, ids, skewed in zip(axes, by_id, by_origin, strict=True):
        ns, exp = np.asarray(skewed.shards), np.asarray(skewed.expected)
        band = 2 * np.asarray(skewed.spread)
        ax.fill_between(ns, exp - band, exp + band, color=CYCLE[1], alpha=0.18, lw=0,
                        label=f"theory ± 2σ for {skewed.effective_keys:.0f} effective keys")
        ax.plot(ns, exp, color=THEORY, ls="--", lw=1.2, label="theory")
        ax.plot(ids.shards, ids.moved, "o", color=CYCLE[0], ms=5, mec="white", mew=0.5,
                label=f"keyed by id ({ids.keys:,} keys)", gid=f"id-{ids.strategy}")
        ax.plot(ns, skewed.moved, "s", color=CYCLE[1], ms=5, mec="white", mew=0.5,
                label=f"keyed by origin ({skewed.keys} airports)",
                gid=f"origin-{skewed.strategy}")
        worst = max(worst, float(np.max(np.abs(np.asarray(skewed.moved) - exp))))
        ax.set(title=_LABEL[ids.strategy], xlabel="shards before adding one (n)",
               ylim=(0, 1.02), xlim=(0.5, ns[-1] + 0.5))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        if ax is not axes[0]:
            ax.tick_params(labelleft=False)
    axes[0].set_ylabel("fraction of rows that move")
    # one legend for the three panels, between the title and the axes: no data crosses it
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.75), ncols=2,
               fontsize=8.5, frameon=False)
    skewed = by_origin[0]
    fig.suptitle(f"Keyed by id, the rows that move follow theory; keyed by origin they miss "
                 f"it\nby up to {worst:.0%}: {skewed.keys} airports with hubs count as only "
                 f"{skewed.effective_keys:.0f} equal keys,\nand a hub moves or stays as one "
                 f"block", x=0.02, y=0.985, ha="left", fontsize=10.5, fontweight="bold")
    return fig
