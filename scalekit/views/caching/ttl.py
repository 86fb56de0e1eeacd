"""The TTL trade-off: database reads against stale reads. Views of
:mod:`scalekit.caching.serverside.ttl`.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from scalekit.caching.serverside import ttl as model
from scalekit.views._common import expect
from scalekit.views.panel import Panel
from scalekit.views.style import MEASURED, SIMULATED, THEORY, figure, plain_numbers, styled, twinx

__all__ = ["plot_ttl", "explore_ttl"]


def _draw(ax, r: model.TtlTradeoff, mark: float | None = None):
    t = r.ttls_s
    ax.plot(t, r.theory_db_reads_per_s, "-", color=THEORY, lw=1, alpha=0.6)
    ax.plot(t, r.db_reads_per_s, "o-", color=SIMULATED, lw=2, label="database reads/s")
    ax.set_xscale("log")
    plain_numbers(ax.xaxis, minor_ticks=False)
    ax.set_yscale("log")
    plain_numbers(ax.yaxis, minor_ticks=False)
    ax.set_xlabel("TTL (s)")
    ax.set_ylabel("database reads per second", color=SIMULATED)
    right = twinx(ax)
    right.plot(t, 100 * r.theory_stale_share, "-", color=THEORY, lw=1, alpha=0.6,
               label="theory (thin lines)")
    right.plot(t, 100 * r.stale_share, "s-", color=MEASURED, lw=2, label="stale reads (%)")
    right.set_ylim(0, max(5.0, 110 * float(np.max(r.stale_share))))
    right.set_ylabel("reads that return stale data (%)", color=MEASURED)
    right.grid(False)
    if mark is not None:
        ax.axvline(mark, color=THEORY, ls=":", lw=1.2)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    # below the axes: inside, the database line runs through it at short TTLs
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper center", fontsize=9,
              ncols=3, bbox_to_anchor=(0.5, -0.16))
    return right


@styled
def plot_ttl(result: model.TtlTradeoff):
    """Database reads per second (left, log) and the share of stale reads (right) against
    the TTL, simulated (markers) and from the closed forms (thin lines)."""
    expect("result", result, model.TtlTradeoff)
    fig, ax = figure(width=7.0, height=4.8, right=0.88, top=0.86, bottom=0.25)
    _draw(ax, result)
    ax.set_title(f"{result.read_rate:g} reads/s, {result.write_rate:g} writes/s, "
                 f"{result.keys:,} keys:\na longer TTL trades database load for stale reads",
                 loc="left", fontsize=10.5, fontweight="bold")
    return fig


TTL_STEPS = (0.1, 0.3, 1, 3, 10, 30, 60, 120, 300, 600)


def explore_ttl() -> Panel:
    """Controls: the TTL, the write rate and the popularity skew. 10 simulated seconds of
    1,000 reads/s over 1,000 keys, at six TTLs including the chosen one."""
    controls = {
        "ttl_s": widgets.SelectionSlider(options=TTL_STEPS, value=10, description="TTL (s)"),
        "write_rate": widgets.FloatSlider(value=10.0, min=0.5, max=100.0, step=0.5,
                                          description="writes per second"),
        "skew": widgets.FloatSlider(value=1.0, min=0.0, max=1.6, step=0.1,
                                    description="popularity skew"),
    }

    def compute(ttl_s, write_rate, skew):
        grid = sorted({0.1, 1, 10, 60, 600} | {ttl_s})
        return model.ttl_tradeoff(grid, read_rate=1000.0, write_rate=write_rate, keys=1000,
                                  skew=skew, duration_s=10.0, seed=0), ttl_s

    def draw(out):
        r, ttl = out
        fig, ax = figure(width=7.0, height=4.6, right=0.88, top=0.86, bottom=0.26)
        _draw(ax, r, mark=ttl)
        i = int(np.searchsorted(r.ttls_s, ttl))
        ax.set_title(f"TTL {ttl:g} s: {r.db_reads_per_s[i]:.0f} database reads/s "
                     f"(of {r.read_rate:g} reads/s),\n{100 * r.stale_share[i]:.1f}% of reads "
                     f"stale", loc="left", fontsize=10.5, fontweight="bold")
        return fig

    def describe(out):
        r, ttl = out
        i = int(np.searchsorted(r.ttls_s, ttl))
        return (f"hit ratio {100 * r.hit_ratio[i]:.1f}% · a stale read is "
                f"{r.mean_staleness_s[i]:.1f} s out of date on average · theory: "
                f"{r.theory_db_reads_per_s[i]:.0f} reads/s, "
                f"{100 * r.theory_stale_share[i]:.1f}% stale")

    return Panel(controls, compute, draw, title="Choosing a TTL", describe=describe)
