"""The still figure of a request flow: what the animation shows, all at once."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.collections import LineCollection

from scalekit import flow
from scalekit.views._common import expect
from scalekit.views.style import COLORS, LIMIT, MEASURED, SIMULATED, figure, styled

__all__ = ["plot_flow"]

#: The followed users' colours — the same, in the same order, as the animation's.
USER_COLORS = [COLORS[k] for k in ("blue", "orange", "green", "purple", "sky", "black")]
_FAILED = (flow.REFUSED, flow.LOST, flow.UNAVAILABLE, flow.DROPPED, flow.FAILED)
_EVENT_STYLE = {"crash": dict(color=MEASURED, lw=1.6),
                "recover": dict(color=COLORS["green"], lw=1.6),
                "mark_down": dict(color=COLORS["black"], lw=1.4, ls="--"),
                "mark_up": dict(color=COLORS["black"], lw=1.4, ls=":")}
_EVENT_LABEL = {"crash": "crash", "recover": "back", "mark_down": "marked down",
                "mark_up": "marked up"}


@styled
def plot_flow(trace: flow.FlowTrace):
    """Every request on its server's row: a thin line while it waits, a thick one while it
    is served (timed traces), a dot where an untimed answer was given; ✕ where a request
    failed; a server's down time shaded and the health checks' marks as vertical lines.
    Below, requests at each server over time (timed) or answers per second (untimed)."""
    expect("trace", trace, flow.FlowTrace)
    fig, ax = figure(mosaic=[["rows"], ["load"]], ratios={"height_ratios": [3, 1.2]},
                     height=5.2, bottom=0.1, top=0.9, hspace=0.35, left=0.09)
    rows, load = ax["rows"], ax["load"]
    colour = _colours(trace)
    y = trace.server_of.astype(float)
    if trace.timed:
        _timed(rows, trace, colour, y)
    else:
        done = ~np.isin(trace.outcome, _FAILED)
        rows.scatter(trace.arrivals_at[done], y[done], s=9, c=colour[done], lw=0,
                     label="answered")
    failed = np.isin(trace.outcome, _FAILED)
    if failed.any():
        rows.scatter(trace.ended_at[failed], np.where(y[failed] < 0, -1.0, y[failed]),
                     marker="x", s=22, color=MEASURED, lw=1.2, label="failed")
    if (trace.outcome == flow.LOST_SESSION).any():
        lost = trace.outcome == flow.LOST_SESSION
        rows.scatter(trace.arrivals_at[lost], y[lost], s=30, facecolors="none",
                     edgecolors=COLORS["orange"], lw=1.2, label="session lost")
    _events(rows, trace)
    end = max(trace.horizon_s, float(trace.ended_at.max(initial=0.0)))
    rows.set_xlim(0, end)
    low = -1.6 if (trace.server_of < 0).any() else -0.6
    rows.set_ylim(trace.servers - 0.4, low)
    ticks = list(range(trace.servers)) if trace.servers <= 16 else list(
        range(0, trace.servers, math.ceil(trace.servers / 16)))
    rows.set_yticks(([-1] if low < -1 else []) + ticks,
                    (["balancer"] if low < -1 else []) + [str(s) for s in ticks])
    rows.grid(False)
    rows.set_ylabel("server")
    rows.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    rows.set_title(_title(trace), loc="left")
    _load(load, trace, end)
    fig.subplots_adjust(right=0.8)
    return fig


def _colours(trace: flow.FlowTrace) -> np.ndarray:
    """One colour per request: its user's if followed, else by role (as the animation)."""
    base = COLORS["grey"] if trace.followed_users else SIMULATED
    out = np.full(len(trace), base, dtype=object)
    out[trace.outcome == flow.CACHE_HIT] = COLORS["green"]
    for k, user in enumerate(trace.followed_users):
        out[trace.user_of == user] = USER_COLORS[k % len(USER_COLORS)]
    return out


def _timed(ax, trace, colour, y) -> None:
    served = np.isfinite(trace.started_at)
    d, b, r = trace.departures_at, trace.started_at, trace.dispatched_at
    waits = np.stack([np.column_stack([r[served], y[served]]),
                      np.column_stack([b[served], y[served]])], axis=1)
    service = np.stack([np.column_stack([b[served], y[served]]),
                        np.column_stack([d[served], y[served]])], axis=1)
    ax.add_collection(LineCollection(waits, colors=list(colour[served]), lw=0.8, alpha=0.35))
    ax.add_collection(LineCollection(service, colors=list(colour[served]), lw=3.5, alpha=0.8))
    ax.plot([], [], color=SIMULATED, lw=0.8, alpha=0.5, label="waiting")
    ax.plot([], [], color=SIMULATED, lw=3.5, label="in service")
    hits = trace.outcome == flow.CACHE_HIT
    if hits.any():
        ax.scatter(trace.arrivals_at[hits], np.full(hits.sum(), -1.0), s=9,
                   color=COLORS["green"], lw=0, label="cache hit")
    ax.set_xlabel("")


def _events(ax, trace) -> None:
    downs = {}
    for e in trace.events:
        ax.plot([e.at, e.at], [e.server - 0.45, e.server + 0.45], **_EVENT_STYLE[e.kind])
        ax.plot([], [], label=f"{_EVENT_LABEL[e.kind]} at {e.at:.1f} s", **_EVENT_STYLE[e.kind])
        if e.kind == "crash":
            downs[e.server] = e.at
        elif e.kind == "recover" and e.server in downs:
            ax.fill_betweenx([e.server - 0.45, e.server + 0.45], downs.pop(e.server), e.at,
                             color=LIMIT, alpha=0.3, lw=0)
    end = max(trace.horizon_s, float(trace.ended_at.max(initial=0.0)))
    for server, at in downs.items():  # never came back
        ax.fill_betweenx([server - 0.45, server + 0.45], at, end, color=LIMIT, alpha=0.3, lw=0)


def _load(ax, trace, end) -> None:
    grid = np.linspace(0.0, end, 400)
    if trace.timed:
        per_server = np.array([trace.in_system_at(grid, s) for s in range(trace.servers)])
        ax.plot(grid, per_server.max(axis=0), color=SIMULATED, lw=1.4,
                label="most at one server")
        ax.plot(grid, per_server.mean(axis=0), color=COLORS["orange"], lw=1.4,
                label="mean per server")
        ax.set_ylabel("requests at\na server")
    else:
        edges = np.linspace(0.0, end, 61)
        width = edges[1] - edges[0]
        ok = ~np.isin(trace.outcome, _FAILED)
        ax.stairs(np.histogram(trace.arrivals_at[ok], edges)[0] / width, edges,
                  color=SIMULATED, lw=1.4, label="answered")
        ax.stairs(np.histogram(trace.arrivals_at[~ok], edges)[0] / width, edges,
                  color=MEASURED, lw=1.4, label="failed")
        ax.set_ylabel("requests/s")
    ax.set_xlim(0, end)
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)


def _title(trace: flow.FlowTrace) -> str:
    c = trace.counts
    crash = next((e for e in trace.events if e.kind == "crash"), None)
    failed = sum(c[flow.OUTCOMES[o]] for o in _FAILED)
    if crash is not None:
        down = next((e for e in trace.events if e.kind == "mark_down"
                     and e.server == crash.server), None)
        seen = (f"marked down {down.at - crash.at:.1f} s later" if down is not None
                else "never marked down")
        return (f"{trace.title}: server {crash.server} crashed at {crash.at:.1f} s, {seen}; "
                f"{failed:,} of {len(trace):,} requests failed")
    if trace.timed and len(trace):
        grid = np.linspace(0.0, trace.horizon_s, 400)
        most = max(int(trace.in_system_at(grid, s).max()) for s in range(trace.servers))
        return (f"{trace.title}: {len(trace):,} requests on {trace.servers} servers, "
                f"at most {most} at one server at once")
    return f"{trace.title}: {len(trace):,} requests on {trace.servers} servers"
