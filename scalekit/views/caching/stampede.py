"""The thundering herd on a hot key, and what coalescing and leases do about it. Views of
:mod:`scalekit.caching.serverside.stampede`.
"""

from __future__ import annotations

import numpy as np

from scalekit import _check
from scalekit.caching.serverside import stampede as model
from scalekit.views._common import results_list
from scalekit.views.style import COLORS, figure, plain_numbers, styled

__all__ = ["plot_herd"]

MODE_STYLE = {"none": (COLORS["vermillion"], "no protection"),
              "coalesce": (COLORS["orange"], "coalescing (one query per server)"),
              "lease": (COLORS["blue"], "lease (one query per key)")}


@styled
def plot_herd(runs, *, window_s: float = 2.0):
    """Database queries per bin around the first expiry of the hot key (left; log scale),
    and queries per expiry for each mode against the closed form (right)."""
    runs = results_list("runs", runs, model.Herd)
    window_s = _check.positive("window_s", window_s)
    fig, axes = figure(mosaic=[["timeline", "bars"]], width=7.0, height=4.4,
                       ratios={"width_ratios": [3, 2]}, wspace=0.3, top=0.85, left=0.11)
    ax = axes["timeline"]
    first = runs[0]
    start = first.ttl_s - 0.5
    for r in runs:
        colour, label = MODE_STYLE.get(r.mode, (COLORS["grey"], r.mode))
        keep = (r.bin_start_s >= start) & (r.bin_start_s < start + window_s)
        ax.step(r.bin_start_s[keep], np.maximum(r.db_per_bin[keep], 0.8), where="post",
                color=colour, lw=2, label=label)
    ax.set_yscale("log")
    plain_numbers(ax.yaxis)
    bin_ms = 1e3 * (first.bin_start_s[1] - first.bin_start_s[0]) if first.bin_start_s.size > 1 \
        else 100.0
    peak = max(float(r.db_per_bin.max(initial=1.0)) for r in runs)
    # head-room on the log axis, so the legend (upper right) sits above the spike
    ax.set(xlabel="time (s)", ylabel=f"database queries per {bin_ms:.0f} ms",
           ylim=(0.8, 40 * peak))
    ax.set_title(f"The key expires at {first.ttl_s:g} s", fontsize=10)
    ax.legend(loc="upper right", fontsize=8.5)
    bars_ax = axes["bars"]
    x = np.arange(len(runs))
    bars = bars_ax.bar(x, [r.db_per_expiry_mean for r in runs],
                       color=[MODE_STYLE.get(r.mode, (COLORS["grey"],))[0] for r in runs],
                       width=0.6)
    bars_ax.plot(x, [r.theory_db_per_expiry for r in runs], "_", color=COLORS["black"],
                 ms=26, mew=2, label="closed form")
    bars_ax.bar_label(bars, labels=[f"{r.db_per_expiry_mean:.1f}" for r in runs], fontsize=9,
                      padding=2)
    bars_ax.set_yscale("log")
    plain_numbers(bars_ax.yaxis)
    bars_ax.set(xticks=x, xticklabels=[r.mode for r in runs], ylim=(0.5, None),
                ylabel="database queries per expiry")
    bars_ax.grid(False, axis="x")
    bars_ax.legend(loc="upper right", fontsize=8.5)
    worst = max(runs, key=lambda r: r.db_per_expiry_mean)
    best = min(runs, key=lambda r: r.db_per_expiry_mean)
    fig.suptitle(f"{first.rate_rps:g} requests/s, {first.db_ms:g} ms refill: "
                 f"{worst.db_per_expiry_mean:.0f} queries per expiry with {worst.mode}, "
                 f"{best.db_per_expiry_mean:.0f} with {best.mode}",
                 fontsize=10.5, fontweight="bold")
    return fig
