"""A browser revisiting a page through its HTTP cache: each visit a hit, a 304 or a full
page, and which of them showed an outdated page. Views of :mod:`scalekit.caching.http.browser`.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from scalekit.caching.http import browser as model
from scalekit.views._common import expect, results_list
from scalekit.views.panel import Panel
from scalekit.views.style import COLORS, LIMIT, MEASURED, figure, plain_numbers, styled

__all__ = ["plot_browse", "plot_max_age", "explore_browse"]

# outcome → (row on the timeline, label, colour)
ROWS = {
    "hit": (0, "from the cache\n(no request)", COLORS["green"]),
    "revalidated": (1, "304 Not Modified\n(headers only)", COLORS["orange"]),
    "full": (2, "200 full page", COLORS["blue"]),
}
MAX_AGE_STEPS = (0, 10, 30, 60, 120, 300, 600, 1800, 3600, 86400)
UPDATE_STEPS = (30, 60, 120, 300, 600, 1800, 3600, 86400)


def _row(outcome: str) -> str:
    if outcome == "hit":
        return "hit"
    return "revalidated" if outcome == "revalidated" else "full"


def _duration(seconds: float) -> str:
    """60 → '60 s', 3600 → '1 h', 86400 → '1 day'."""
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' * (n > 1 and unit == 'day')}"
    return f"{seconds:g} s"


def _draw_timeline(ax, r: model.Browse) -> None:
    minutes = r.duration_s > 600
    scale = 60.0 if minutes else 1.0
    t = r.times / scale
    rows = np.array([ROWS[_row(o)][0] for o in r.outcome.tolist()], dtype=float)
    ax.vlines(r.update_times / scale, -0.5, 2.5, color=LIMIT, lw=0.8, alpha=0.6,
              label="the page changes")
    for y, label, colour in ROWS.values():
        mine = rows == y
        ax.plot(t[mine], rows[mine], "o", color=colour, ms=6, label=label.split("\n")[0])
    stale = r.stale.astype(bool)
    ax.plot(t[stale], rows[stale], "x", color=MEASURED, ms=9, mew=2,
            label="showed an outdated page")
    ax.set(yticks=[v[0] for v in ROWS.values()], yticklabels=[v[1] for v in ROWS.values()],
           ylim=(-0.6, 3.9), xlim=(0, r.duration_s / scale),
           xlabel="time (min)" if minutes else "time (s)")
    ax.grid(False, axis="y")
    ax.legend(loc="upper center", ncols=3, fontsize=8.5, handletextpad=0.3,
              columnspacing=1.0)


def _draw_bytes(ax, r: model.Browse) -> None:
    scale = 60.0 if r.duration_s > 600 else 1.0
    t = np.concatenate([[0.0], r.times / scale])
    with_cache = np.concatenate([[0.0], np.cumsum(r.bytes)]) / 1e6
    per_visit = r.page_bytes + model.HEADER_BYTES
    without = np.arange(len(t)) * per_visit / 1e6
    ax.step(t, without, where="post", color=LIMIT, lw=2, label="without a cache")
    ax.step(t, with_cache, where="post", color=COLORS["blue"], lw=2, label="with the cache")
    ax.set(xlim=(0, r.duration_s / scale), ylim=(0, max(without[-1], 1e-3) * 1.1),
           ylabel="MB sent", xlabel="time (min)" if scale == 60 else "time (s)")
    # words in the corner, not a legend: the same message at a third of the drawing cost
    ax.text(0.04, 0.97, "grey: no cache\nblue: with the cache", transform=ax.transAxes,
            va="top", fontsize=8.5)


def _headline(r: model.Browse) -> str:
    etag = "ETag" if r.etag else "no ETag"
    return (f"max-age {_duration(r.max_age_s)}, {etag}: {r.origin_requests} of {r.visits} "
            f"visits asked the origin,\n{100 * r.stale_share:.0f}% saw an old page")


@styled
def plot_browse(result: model.Browse):
    """Every visit on a timeline — from the cache, revalidated (304) or a full page, with a
    cross where the page shown was already outdated and a grey line at each change of the
    page — and the bytes sent over the network, with and without the cache."""
    expect("result", result, model.Browse)
    # one above the other, 7 in wide: at 1024×768 (shown 592 px wide) no text under 9 px
    fig, axes = figure(mosaic=[["timeline"], ["bytes"]], width=7.0, height=6.0, left=0.2,
                       right=0.97, hspace=0.4, ratios={"height_ratios": [2, 1]}, bottom=0.09,
                       top=0.89)
    _draw_timeline(axes["timeline"], result)
    _draw_bytes(axes["bytes"], result)
    axes["timeline"].set_title(_headline(result), loc="left", fontsize=10.5,
                               fontweight="bold")
    return fig


@styled
def plot_max_age(runs):
    """The max-age trade-off over several runs of :func:`~scalekit.caching.browse` (same
    visits and updates, different ``max_age_s``, with and without ETag): the requests that
    reach the origin and the bytes sent, and the share of visits shown an outdated page."""
    runs = results_list("runs", runs, model.Browse)
    fig, axes = figure(mosaic=[["traffic", "stale"]], width=7.0, height=4.2, wspace=0.38,
                       left=0.1, top=0.76)
    for etag, colour, style in ((True, COLORS["blue"], "-"), (False, COLORS["vermillion"], "--")):
        mine = sorted((r for r in runs if r.etag is etag), key=lambda r: r.max_age_s)
        if not mine:
            continue
        x = np.array([max(r.max_age_s, 1.0) for r in mine])
        label = "with ETag (304s)" if etag else "no validator"
        axes["traffic"].plot(x, [100 * r.bytes_total / r.bytes_without_cache for r in mine],
                             style, marker="o", color=colour, lw=2, label=label)
        axes["stale"].plot(x, [100 * r.stale_share for r in mine], style, marker="o",
                           color=colour, lw=2, label=label)
    for ax in axes.values():
        ax.set_xscale("log")
        plain_numbers(ax.xaxis)
        ax.set(xlabel="max-age (s; 0 plotted at 1)", ylim=(0, 105))
        ax.legend(loc="best", fontsize=9)
    axes["traffic"].set_ylabel("bytes sent (% of no cache)")
    axes["traffic"].set_title("Network traffic\n", fontsize=10)
    axes["stale"].set_ylabel("visits shown an outdated page (%)")
    u = runs[0].update_every_s
    axes["stale"].set_title(f"Outdated pages\n(it changes every {_duration(u)})", fontsize=10)
    fig.suptitle("A long max-age saves traffic but shows old pages;\nan ETag makes a short one "
                 "cheap", fontsize=10.5, fontweight="bold")
    return fig


def explore_browse() -> Panel:
    """Controls: the page's max-age, how often it changes, how often the visitor comes back,
    and whether it carries an ETag. One simulated hour, in about 0.03 s."""
    controls = {
        "max_age_s": widgets.SelectionSlider(options=MAX_AGE_STEPS, value=60,
                                             description="max-age (s)"),
        "update_every_s": widgets.SelectionSlider(options=UPDATE_STEPS, value=300,
                                                  description="page changes every (s)"),
        "visit_every_s": widgets.IntSlider(value=20, min=10, max=120, step=5,
                                           description="visit every (s)"),
        "etag": widgets.Checkbox(value=True, description="ETag (304s)"),
    }

    def compute(max_age_s, update_every_s, visit_every_s, etag):
        return model.browse(max_age_s, update_every_s=update_every_s,
                            visit_every_s=visit_every_s, duration_s=3600, etag=etag, seed=0)

    def describe(r):
        saved = 100 * (1 - r.bytes_total / r.bytes_without_cache)
        late = (f", by {r.mean_staleness_s:.0f} s on average" if r.stale_visits else "")
        return (f"{r.visits} visits: {r.hits} from the cache, {r.not_modified} × 304, "
                f"{r.full_responses} full pages · {saved:.0f}% of the bytes saved · "
                f"{r.stale_visits} outdated ({100 * r.stale_share:.0f}%){late}")

    return Panel(controls, compute, plot_browse, title="A browser cache and max-age",
                 describe=describe)
