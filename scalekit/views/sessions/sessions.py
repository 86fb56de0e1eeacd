"""Sessions behind a balancer, every strategy side by side: lost sessions and failed requests
over time around a server failure, and the load each server carries after it — views of
:mod:`scalekit.sessions.cluster`.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import PolyCollection

from scalekit import sessions
from scalekit.views._common import expect, readable
from scalekit.views.panel import Panel
from scalekit.views.style import LIMIT, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["plot_sessions", "explore_sessions"]

_LOST = SIMULATED
_FAILED = MEASURED
_NICE_BINS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 3600.0)
_PANEL_POLICIES = ("round_robin", "random", "fewest_connections", "power_of_two")


def _label(name: str) -> str:
    return {"sticky_ip": "sticky IP"}.get(name, readable(name))


def _bin_s(duration_s: float) -> float:
    """A round bin width giving at most 80 bins over the run."""
    return next((b for b in _NICE_BINS_S if duration_s / b <= 80), duration_s / 60)


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _finding(comp: sessions.SessionsComparison) -> str:
    """The title: who kept every session; then who lost how many, and what else failed."""
    rs = comp.results
    first = next(iter(rs.values()))
    kept = [_label(k) for k, r in rs.items() if r.lost == 0]
    losers = sorted((k for k, r in rs.items() if r.lost), key=lambda k: rs[k].lost)
    head = (f"Server {first.failed_server} died at {first.server_fails_at:g} s"
            if first.failed_server >= 0 else "No server failure")
    lines = [head + (f": {_names(kept)} kept every session" if kept else "")]
    more = []
    if losers:
        more.append("sessions lost: " + ", ".join(f"{_label(k)} {rs[k].lost:,}" for k in losers))
    db = sum(r.database_failures for r in rs.values())
    if db:
        more.append(f"the database outage failed {db:,} requests")
    big = sum(r.too_large for r in rs.values())
    if big:
        more.append(f"cookies over 4,093 bytes failed {big:,}")
    if more:
        lines.append("; ".join(more))
    return "\n".join(lines)


def _steps(edges: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The outline of a filled step plot between ``low`` and ``high`` (one value per bin)."""
    x = np.repeat(edges, 2)[1:-1]
    top = np.column_stack((x, np.repeat(high, 2)))
    bottom = np.column_stack((x, np.repeat(low, 2)))[::-1]
    return np.concatenate((top, bottom))


def _draw_timeline(ax, comp: sessions.SessionsComparison) -> None:
    """One band per strategy (first at the top): lost sessions (blue) with failed requests
    (red) stacked on them, per second, on one scale shared by every band. Drawn as two
    polygon collections, explained in the title and axis label rather than a legend: both
    cheap to draw, so the panel stays quick."""
    names = list(comp.results)
    first = comp[names[0]]
    width = _bin_s(first.duration_s)
    lines = {k: comp[k].timeline(width) for k in names}
    edges = np.append(lines[names[0]].starts_at, lines[names[0]].starts_at[-1] + width)
    top = max(max((tl.lost_per_s + tl.failed_per_s).max() for tl in lines.values()), 1e-9)
    scale = 0.8 / top
    lost_bands, failed_bands, labels = [], [], []
    for row, name in enumerate(names):
        tl, base = lines[name], len(names) - 1 - row
        lost = base + tl.lost_per_s * scale
        lost_bands.append(_steps(edges, np.full(lost.size, float(base)), lost))
        failed_bands.append(_steps(edges, lost, lost + tl.failed_per_s * scale))
        r = comp[name]
        labels.append(f"{_label(name)}\n{r.lost:,} lost · {r.failed:,} failed")
    ax.add_collection(PolyCollection(lost_bands, facecolors=_LOST, linewidths=0),
                      autolim=False)
    ax.add_collection(PolyCollection(failed_bands, facecolors=_FAILED, linewidths=0),
                      autolim=False)
    xlabel = "time (s)"
    if first.failed_server >= 0:  # said in the axis label: a legend costs a third of a redraw
        ax.axvline(first.server_fails_at, color=_FAILED, lw=1.2, ls=":")
        xlabel += f" · dotted: server {first.failed_server} dies at {first.server_fails_at:g} s"
        if first.marked_down_at < first.duration_s:
            ax.axvline(first.marked_down_at, color=THEORY, lw=1.2, ls="--")
            xlabel += f" · dashed: marked down at {first.marked_down_at:g} s"
    ax.set_yticks([len(names) - 1 - i + 0.35 for i in range(len(names))], labels)
    ax.tick_params(axis="y", labelsize=8.5)
    ax.set(xlim=(0, edges[-1]), ylim=(-0.1, len(names) - 0.1), xlabel=xlabel,
           ylabel=f"per second (a full band = {top:.3g}/s)")
    ax.set_title(f"Lost sessions (blue), failed requests (red) per {width:g} s")


def _load_moment(r: sessions.SessionsResult) -> tuple[float, str]:
    """The imbalance the load chart shows, and when it was measured: after the mark-down
    (when the balancer marked the dead server down within the run), else before the crash
    (or over the run)."""
    if r.failed_server >= 0 and r.marked_down_at < r.duration_s:
        return r.imbalance_after, "after the mark-down"
    return r.imbalance_before, ("before the crash" if r.failed_server >= 0 else "over the run")


def _draw_load(ax, comp: sessions.SessionsComparison) -> None:
    """Each server's requests divided by the mean over the servers up: after the failure
    (when the balancer marked it down within the run), else before it (or over the run)."""
    names = list(comp.results)
    first = comp[names[0]]
    after = first.failed_server >= 0 and first.marked_down_at < first.duration_s
    k = first.servers
    step = 0.84 / k
    boxes, tallest = [], 1.0
    for g, name in enumerate(names):
        r = comp[name]
        load = np.asarray(r.load_after if after else r.load_before, dtype=float)
        live = [i for i in range(k) if not (after and i == r.failed_server)]
        share = load / (load[live].mean() or 1.0)
        for i, h in enumerate(share):
            x0 = g - 0.42 + step * (i + 0.05)
            boxes.append([(x0, 0.0), (x0, h), (x0 + 0.9 * step, h), (x0 + 0.9 * step, 0.0)])
        tallest = max(tallest, float(share.max()))
        ratio = _load_moment(r)[0]
        ax.text(g, float(share.max()) + 0.03, f"{ratio:.2f}", ha="center", va="bottom",
                fontsize=8, color=THEORY)
    ax.add_collection(PolyCollection(boxes, facecolors=SIMULATED, linewidths=0),
                      autolim=False)
    ax.axhline(1.0, color=LIMIT, lw=1, ls="--")
    ax.set_xticks(range(len(names)), [_label(k).replace(" ", "\n") for k in names])
    ax.tick_params(axis="x", labelsize=8)
    ax.set(xlim=(-0.5, len(names) - 0.5), ylim=(0, max(1.5, tallest * 1.15)),
           ylabel="requests ÷ mean of servers up", xlabel="number: max ÷ mean")
    ax.set_title(f"Load per server\n{_load_moment(first)[1]}")


@styled
def plot_sessions(comparison: sessions.SessionsComparison):
    """Left: for each strategy, lost sessions and failed requests per second over the run,
    with the crash and the mark-down. Right: each server's load after the failure (÷ the
    mean of the servers up; the number is max ÷ mean). The title states the finding."""
    expect("comparison", comparison, sessions.SessionsComparison)
    # one above the other, 7 in wide: shown 592 px wide at 1024×768 (JupyterLab, file browser
    # open), its smallest text (8 pt) stays above 9 px
    fig, ax = figure(width=7.0, height=6.6, mosaic=[["timeline"], ["load"]],
                     ratios={"height_ratios": [1.45, 1]}, left=0.25, right=0.97, top=0.88,
                     bottom=0.1, hspace=0.62)
    _draw_timeline(ax["timeline"], comparison)
    _draw_load(ax["load"], comparison)
    fig.suptitle(_finding(comparison), fontsize=10.5, fontweight="bold", y=0.985)
    return fig


def explore_sessions() -> Panel:
    """Every strategy on the same 300 users over 120 s; a server dies. Sliders: servers,
    the balancer's policy, when the server dies, how long the checks take to notice, the
    session's size, the share of users behind one NAT address."""
    controls = {
        "servers": widgets.IntSlider(value=4, min=2, max=10, description="servers"),
        "policy": widgets.Dropdown(options=list(_PANEL_POLICIES), value="round_robin",
                                   description="policy"),
        "server_fails_at": widgets.FloatSlider(value=60.0, min=10.0, max=110.0, step=5.0,
                                               description="server dies at (s)"),
        "detection_s": widgets.FloatSlider(value=6.0, min=1.0, max=30.0, step=1.0,
                                           description="marked down after (s)"),
        "session_bytes": widgets.IntSlider(value=200, min=100, max=5000, step=100,
                                           description="session size (bytes)"),
        "nat_share": widgets.FloatSlider(value=0.0, min=0.0, max=0.5, step=0.05,
                                         description="share behind one NAT"),
    }

    def compute(**values):
        return sessions.compare_strategies(seed=1, real_store=False, **values)

    def describe(comp):
        db, cl = comp["database"], comp["client"]
        lost = " · ".join(f"{_label(k)} {r.lost_rate:.0%}" for k, r in comp.results.items()
                          if r.lost)
        text = f"lost per follow-up request: {lost or 'none'}" + " · "
        text += (f"database +{db.store_ms:.2f} ms/request (a fixed "
                 f"{'default' if db.store_ms == sessions.DEFAULT_STORE_MS else 'setting'} for "
                 f"the SQLite read + write) · client cookie {cl.cookie_bytes:,.0f} B/request")
        ip = comp["sticky_ip"]
        ratio, when = _load_moment(ip)
        if not math.isnan(ratio):  # the same moment as the chart's numbers
            text += f" · sticky IP imbalance {ratio:.2f} {when}"
        return text

    return Panel(controls, compute, plot_sessions, title="Sessions behind a balancer",
                 describe=describe)
