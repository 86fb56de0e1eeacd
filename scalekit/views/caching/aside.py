"""How much of the database's read load a cache absorbs: hit ratio against cache size for
each eviction policy, simulated over real SQLite and predicted by theory. Views of
:mod:`scalekit.caching.serverside.aside`.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import ipywidgets as widgets

from scalekit import _check
from scalekit.caching.serverside import aside as model
from scalekit.views._common import expect
from scalekit.views.panel import Panel
from scalekit.views.style import COLORS, figure, plain_numbers, styled

__all__ = ["plot_hit_ratio", "explore_cache", "POLICY_COLORS"]

POLICY_COLORS = {"allkeys-lru": COLORS["blue"], "allkeys-lfu": COLORS["green"],
                 "allkeys-random": COLORS["orange"]}
THEORY_NAME = {"lru": "Che's approximation", "lfu": "the top C keys",
               "random": "random's Che-like form"}


#: Each policy's dots (marker, size in points, filled?): nested from large and open to small
#: and filled, so where the policies' hit ratios coincide every dot still shows (drawn in this
#: order, the smaller on top).
DOT_STYLES = (("o", 12.0, False), ("s", 7.5, False), ("o", 4.0, True))


def _colour(policy: str, i: int) -> str:
    return POLICY_COLORS.get(policy, list(COLORS.values())[i % 8])


def _draw(ax, r: model.HitRatioCurve, *, theory_points: int = 48) -> None:
    p = model.zipf_popularities(r.keys, r.skew)
    for i, policy in enumerate(r.policies):
        colour = _colour(policy, i)
        caps, hits = model.theory_curve(policy, p, points=theory_points)
        kind = policy.split("-")[-1]
        ax.plot(caps, 100 * hits, "-", color=colour, lw=1.5, alpha=0.8,
                label=f"{policy}: theory ({THEORY_NAME.get(kind, kind)})")
        marker, size, face = DOT_STYLES[i % len(DOT_STYLES)]
        ax.plot(r.sizes, 100 * r.curve(policy), marker, ms=size, mew=1.6, color=colour,
                mfc=colour if face else "none", label=f"{policy}: simulated on SQLite",
                zorder=3 + i)
    ax.set_xscale("log")
    plain_numbers(ax.xaxis, minor_ticks=False)
    ax.set(xlabel=f"cache size (keys, of {r.keys:,} flights)", ylabel="hit ratio (%)",
           ylim=(0, 100), xlim=(1, r.keys))
    ax.legend(loc="upper left", fontsize=8.5)


@styled
def plot_hit_ratio(result: model.HitRatioCurve):
    """Hit ratio against cache size (log scale): one line per policy from theory under the
    independent reference model, and a dot per simulated size (real SQLite behind the
    cache)."""
    expect("result", result, model.HitRatioCurve)
    fig, ax = figure(width=7.0, height=4.4, top=0.85)
    _draw(ax, result)
    best = result.hit_ratio[:, -1].argmax()
    ax.set_title(f"Zipf skew {result.skew:g}: a cache of {result.sizes[-1]:,} keys "
                 f"({100 * result.sizes[-1] / result.keys:.0f}% of the data)\nanswers "
                 f"{100 * result.hit_ratio[best, -1]:.0f}% of reads "
                 f"({result.policies[best]})", loc="left", fontsize=10.5, fontweight="bold")
    return fig


@functools.cache
def _panel_db(keys: int) -> Path:
    """One airline database per kernel for the panel (built once, about 0.1 s)."""
    folder = Path(tempfile.mkdtemp(prefix="scalekit-cache-"))
    return model.airline_db(folder / "airline.sqlite", keys, seed=0)


def explore_cache(keys: int = 5000) -> Panel:
    """Controls: cache size, eviction policy, popularity skew. Each refresh replays 4,000
    Zipf reads through a real cache in front of a real SQLite database (``keys`` flights),
    against the theory curve of every policy."""
    keys = _check.integer("keys", keys, low=10, high=100_000)
    controls = {
        "size": widgets.IntSlider(value=200, min=10, max=2000, step=10,
                                  description="cache size (keys)"),
        "policy": widgets.Dropdown(options=list(POLICY_COLORS), value="allkeys-lru",
                                   description="eviction policy"),
        "skew": widgets.FloatSlider(value=1.0, min=0.0, max=1.6, step=0.1,
                                    description="popularity skew"),
    }

    def compute(size, policy, skew):
        return model.hit_ratio_curve([size], policies=(policy,), skew=skew, requests=4000,
                                     keys=keys, warmup=0.25, seed=0, db_path=_panel_db(keys))

    def draw(r):
        fig, ax = figure(width=7.0, height=4.2, top=0.85)
        p = model.zipf_popularities(r.keys, r.skew)
        for i, other in enumerate(POLICY_COLORS):
            if other not in r.policies:
                caps, hits = model.theory_curve(other, p, points=24)
                ax.plot(caps, 100 * hits, "--", color=_colour(other, i), lw=1.2, alpha=0.6,
                        label=f"{other}: theory")
        _draw(ax, r, theory_points=32)
        ax.set_title(f"{r.policies[0]}, {r.sizes[0]:,} keys: {100 * r.hit_ratio[0, 0]:.0f}% "
                     f"of reads from the cache,\n{r.db_reads[0, 0]:,} of {r.requests:,} went "
                     f"to SQLite", loc="left", fontsize=10.5, fontweight="bold")
        return fig

    def describe(r):
        return (f"{r.requests:,} reads, the first {r.warmup:,} to warm up · measured SQLite "
                f"time {1e3 * r.db_time_s[0, 0]:.0f} ms for {r.db_reads[0, 0]:,} queries")

    return Panel(controls, compute, draw, title="A cache in front of the database",
                 describe=describe)
