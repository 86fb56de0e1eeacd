"""One write travelling through a single-primary cluster, in each commit mode: when each
replica received and applied it, which replica's report came back to the primary, and when
the client heard "committed". A view of :class:`~scalekit.replication.SinglePrimary`.

The acknowledgement's return trip is the point of the figure: in ``remote_write`` and
``remote_apply`` the primary answers the client only once a replica's *report* (PostgreSQL's
standby status update: "received / applied up to here") has crossed the network back — so a
synchronous commit costs a round trip, not one way. The client sits next to the primary (its
own hop is not modelled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from scalekit.replication import single
from scalekit.views._common import results_list
from scalekit.views.style import COLORS, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["WriteTrace", "trace_write", "plot_write_timeline"]

#: Which follower report acknowledges a write, by commit mode: the instant it leaves the
#: replica is when the replica has received (remote_write) or applied (remote_apply) it.
REPORT_ON = {"remote_write": "received", "remote_apply": "applied"}


@dataclass(frozen=True)
class WriteTrace:
    """One write through a fresh cluster: written on the primary at ``written_at`` (s),
    received and applied on each replica (``received_at``/``applied_at``: name → s) and
    acknowledged to the client at ``acked_at`` (s). ``reported_by`` is the replica whose
    report acknowledged it (None in ``async``, which waits for nobody) and ``reported_at``
    (s) when that report left it."""

    commit: str
    delay_s: float
    primary: str
    written_at: float
    acked_at: float
    received_at: Mapping[str, float] = field(repr=False)
    applied_at: Mapping[str, float] = field(repr=False)
    reported_by: str | None = None
    reported_at: float = math.nan


def trace_write(replicas: int = 2, *, commit: str = "remote_apply", delay_s: float = 0.05,
                jitter_s: float = 0.02, apply_s: float = 0.005, seed: int | None = 0
                ) -> WriteTrace:
    """Write one key on a fresh :class:`~scalekit.replication.SinglePrimary` and record when
    each node received and applied it (the cluster's ``"received"`` and ``"applied"`` events)
    and when the client was acknowledged.

    The replica whose report acknowledged the write is the one whose report could have
    arrived then: sent at its received (``remote_write``) or applied (``remote_apply``)
    instant, it crossed the network in ``delay_s`` plus at most ``jitter_s``."""
    cluster = single.SinglePrimary(replicas, commit=commit, delay_s=delay_s, jitter_s=jitter_s,
                                   apply_s=apply_s, seed=seed)
    clock, received, applied, acked = cluster.clock, {}, {}, []
    cluster.subscribe("received", lambda node, entry: received.setdefault(node.name, clock.now))
    cluster.subscribe("applied", lambda node, entry: applied.setdefault(node.name, clock.now))
    cluster.write("x", "1", on_ack=lambda entry, at: acked.append(at))
    cluster.quiesce()
    acked_at = acked[0] if acked else math.nan
    sent = {"received": received, "applied": applied}.get(REPORT_ON.get(cluster.commit), {})
    slack = 1e-9
    fits = [(at, name) for name, at in sent.items()
            if at + cluster.network.delay_s - slack <= acked_at
            <= at + cluster.network.delay_s + cluster.network.jitter_s + slack]
    reported_at, reported_by = min(fits) if fits else (math.nan, None)
    return WriteTrace(commit=cluster.commit, delay_s=cluster.network.delay_s,
                      primary=cluster.primary.name, written_at=0.0, acked_at=acked_at,
                      received_at=MappingProxyType(received), applied_at=MappingProxyType(applied),
                      reported_by=reported_by, reported_at=reported_at)


def _traces(trace) -> list[WriteTrace]:
    if trace is None:
        return [trace_write(commit=mode) for mode in single.COMMIT_MODES]
    return results_list("trace", trace, WriteTrace)


def _headline(t: WriteTrace) -> str:
    """What the panel of one mode shows, in one line: when the client heard "committed",
    and why then."""
    ms = 1e3
    ack = (t.acked_at - t.written_at) * ms
    if t.reported_by is None:
        return f"\"committed\" at {ack:.0f} ms: before any replica has the write"
    sent = (t.reported_at - t.written_at) * ms
    return (f"\"committed\" at {ack:.0f} ms: {t.reported_by} {REPORT_ON[t.commit]} it at "
            f"{sent:.0f} ms, its report took {ack - sent:.0f} ms back")


def _draw(ax, t: WriteTrace, end_ms: float, legend: bool) -> None:
    ms, t0 = 1e3, t.written_at
    names = sorted(t.received_at)
    rows = ["client", t.primary, *names]
    y = {name: len(rows) - 1 - i for i, name in enumerate(rows)}

    def label(text):  # the legend is drawn once, on the last panel
        return text if legend else None

    for i, name in enumerate(names):
        rec, app = (t.received_at[name] - t0) * ms, (t.applied_at[name] - t0) * ms
        ax.plot([0, rec], [y[t.primary], y[name]], "-", color=SIMULATED, lw=1.2,
                label=label("log shipped") if i == 0 else None)
        ax.plot([rec, app], [y[name]] * 2, "-", color=COLORS["green"], lw=5, alpha=0.5,
                label=label("replaying") if i == 0 else None)
        ax.plot(rec, y[name], "o", color=SIMULATED, ms=6, label=label("received") if i == 0
                else None)
        ax.plot(app, y[name], "s", color=COLORS["green"], ms=6,
                label=label("applied (a read there sees it)") if i == 0 else None)
    ax.plot(0, y[t.primary], "D", color=THEORY, ms=7, label=label("written on the primary"))
    ack = (t.acked_at - t0) * ms
    if t.reported_by is not None:
        sent = (t.reported_at - t0) * ms
        ax.annotate("", xy=(ack, y[t.primary]), xytext=(sent, y[t.reported_by]),
                    arrowprops={"arrowstyle": "->", "color": MEASURED, "lw": 1.6,
                                "linestyle": "--", "shrinkA": 4, "shrinkB": 4})
        ax.plot([], [], "--", color=MEASURED, lw=1.6, label=label("report back to the primary"))
    ax.plot([ack, ack], [y[t.primary], y["client"]], "-", color=MEASURED, lw=2)
    ax.plot(ack, y["client"], "*", color=MEASURED, ms=12,
            label=label("client hears \"committed\""))
    ax.set(yticks=list(y.values()), yticklabels=[f"{n} (primary)" if n == t.primary else n
                                                 for n in y],
           ylim=(-0.6, len(rows) - 0.4), xlim=(-0.03 * end_ms - 1, 1.04 * end_ms + 1))
    ax.set_ylabel(t.commit, fontweight="bold")
    ax.grid(False, axis="y")
    # left-aligned from the tick labels' edge, so a whole line fits the figure's width
    ax.set_title(_headline(t), loc="left", x=-0.2, fontsize=9.5, fontweight="bold")


@styled
def plot_write_timeline(trace=None):
    """One write travelling through the nodes, one panel per commit mode: written on the
    primary, shipped to each replica (received ●, applied ■), the replica's report back to
    the primary (dashed arrow) and the instant the client hears "committed" (★).

    ``trace`` — a :class:`WriteTrace` from :func:`trace_write`, a list of them (or a mapping
    name → trace); default: one per commit mode (2 replicas, same seed)."""
    traces = _traces(trace)
    n = len(traces)
    rows = 2 + max(len(t.received_at) for t in traces)
    panel_in, gap_in, bottom_in = 0.3 * rows + 0.2, 0.45, 1.2
    height = n * panel_in + (n - 1) * gap_in + bottom_in + 0.35
    fig, axes = figure(nrows=n, width=7.0, height=height, left=0.2, right=0.97,
                       bottom=bottom_in / height, top=1 - 0.35 / height,
                       hspace=gap_in / panel_in)
    axes = [axes] if n == 1 else list(axes)
    ms = 1e3
    end = max(max((x - t.written_at) * ms for x in [t.acked_at, *t.applied_at.values()]
                  if math.isfinite(x)) for t in traces)
    for i, (ax, t) in enumerate(zip(axes, traces, strict=True)):
        _draw(ax, t, end, legend=(i == n - 1))
        if i < n - 1:
            ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("time since the write (ms)")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.55, 0.0), ncols=3,
               frameon=False, fontsize=8.5)
    return fig
