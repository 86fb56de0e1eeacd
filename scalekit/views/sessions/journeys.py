"""One logged-in user through a server failure, under each session strategy: still
(:func:`plot_journeys`) and animated (:func:`animate_journeys`) — views of the traces
:func:`scalekit.flow.trace_sessions` reads from :func:`scalekit.sessions.compare_strategies`.

They only draw: which user to follow is the model's (:meth:`scalekit.sessions.
SessionsComparison.user_to_follow`), what happened to each request is the trace's.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np

from scalekit import flow
from scalekit.views._common import expect, readable
from scalekit.views.flow import FlowView
from scalekit.views.style import COLORS, LIMIT, MEASURED, THEORY, figure, styled

__all__ = ["plot_journeys", "animate_journeys", "OUTCOME_STYLE"]

#: How the followed user's requests are drawn, by outcome: (marker, colour, legend label,
#: the word a row's title counts them by).
OUTCOME_STYLE = {
    flow.SERVED: ("o", COLORS["blue"], "served, session kept", "kept"),
    flow.LOST_SESSION: ("s", COLORS["orange"], "served, session lost (logged out)",
                        "logged out"),
    flow.REFUSED: ("X", MEASURED, "refused by the dead server", "refused"),
    flow.FAILED: ("X", COLORS["purple"], "failed otherwise", "failed"),
}


def _label(name: str) -> str:
    return {"sticky_ip": "sticky IP"}.get(name, readable(name))


def _traces(traces) -> dict[str, flow.FlowTrace]:
    if not isinstance(traces, Mapping) or not traces:
        raise TypeError(f"traces must be a non-empty dict of strategy name → "
                        f"scalekit.flow.FlowTrace, got {type(traces).__name__}")
    for trace in traces.values():
        expect("each of traces", trace, flow.FlowTrace)
    users = {t.followed_users[:1] for t in traces.values()}
    if len(users) != 1 or not next(iter(users)):
        raise ValueError("every trace must follow the same one user first "
                         "(flow.trace_sessions(result, follow=[user]))")
    return dict(traces)


def _story(trace: flow.FlowTrace, user: int) -> str:
    """What happened to the user's requests: counts by outcome, then the first loss."""
    mine = trace.user_of == user
    o, at = trace.outcome[mine], trace.arrivals_at[mine]
    said = [f"{int((o == code).sum())} {word}"
            for code, (*_, word) in OUTCOME_STYLE.items() if (o == code).any()]
    lost = np.flatnonzero(o == flow.LOST_SESSION)
    tail = (f" (first at {at[lost[0]]:.0f} s)" if lost.size else "; never logged out")
    return f"{o.size} requests: " + ", ".join(said) + tail


@styled
def plot_journeys(traces):
    """One row per strategy (``traces``: name → trace following one user first): every
    request as a faint dot on its server, the followed user's requests marked by outcome,
    the crash (dotted) and the mark-down (dashed). The title says under which strategies
    the user kept the session."""
    traces = _traces(traces)
    names = list(traces)
    first = traces[names[0]]
    user = first.followed_users[0]
    height = 1.55 + 1.15 * len(names)
    fig, axes = figure(mosaic=[[n] for n in names], width=7.0, height=height,
                       left=0.09, right=0.98, top=1 - 1.25 / height, bottom=0.55 / height,
                       hspace=0.75)
    kept = []
    for name in names:
        trace, ax = traces[name], axes[name]
        mine = trace.user_of == user
        ax.scatter(trace.arrivals_at[~mine], trace.server_of[~mine], s=4, color=LIMIT,
                   alpha=0.25, lw=0)
        for code, (marker, colour, label, _) in OUTCOME_STYLE.items():
            pick = mine & (trace.outcome == code)
            ax.scatter(trace.arrivals_at[pick], trace.server_of[pick], s=55, marker=marker,
                       color=colour, edgecolor=THEORY, lw=0.6, zorder=3, label=label)
        for e in trace.events:
            ax.axvline(e.at, color=MEASURED if e.kind == "crash" else THEORY, lw=1.2,
                       ls=":" if e.kind == "crash" else "--")
        ax.set(xlim=(0, trace.horizon_s), ylim=(-0.6, trace.servers - 0.4),
               yticks=range(trace.servers), ylabel="server")
        ax.grid(False, axis="y")
        ax.set_title(f"{_label(name)}: {_story(trace, user)}", loc="left", fontsize=9.5)
        if not (mine & (trace.outcome == flow.LOST_SESSION)).any():
            kept.append(_label(name))
    axes[names[-1]].set_xlabel("time (s) · dotted: the server dies · dashed: marked down")
    handles, labels = axes[names[0]].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncols=2, fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.62 / height))
    crash = next((e for e in first.events if e.kind == "crash"), None)
    when = f"server {crash.server} dies at {crash.at:g} s" if crash else "no failure"
    fig.suptitle(f"User {user} through the failure ({when}):\n"
                 + (f"kept the session under {', '.join(kept)}" if kept else
                    "logged out under every strategy"),
                 fontsize=10.5, fontweight="bold", y=1 - 0.05 / height)
    return fig


def animate_journeys(traces) -> widgets.VBox:
    """The same traces animated (:class:`scalekit.views.flow.FlowView`), one strategy at a
    time: a dropdown picks it; the followed user is drawn in their own colour. The
    widget's ``flow_view`` and ``strategy`` are there for tests and for driving it."""
    traces = _traces(traces)
    names = list(traces)
    view = FlowView(traces[names[0]])
    choice = widgets.Dropdown(options=[(_label(n), n) for n in names], value=names[0],
                              description="strategy")

    def show(change) -> None:
        view.playing = False
        view.flow = traces[change["new"]]
        view.trace = view.flow.to_json()
        view.time_s = 0.0

    choice.observe(show, names="value")
    box = widgets.VBox([choice, view])
    box.flow_view, box.strategy = view, choice
    return box
