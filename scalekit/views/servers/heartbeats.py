"""Heartbeats and timeouts: how fast a crash is detected, and how often a healthy server
is wrongly suspected — views of :mod:`scalekit.servers.heartbeats`.
"""

from __future__ import annotations

import math

import ipywidgets as widgets

from scalekit import _check
from scalekit.servers import heartbeats
from scalekit.views._common import draw_tradeoff, expect
from scalekit.views.panel import Panel
from scalekit.views.style import MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["plot_heartbeats", "plot_timeout_tradeoff", "explore_heartbeats"]


def _draw_timeline(ax, result: heartbeats.HeartbeatResult, window_s: float) -> None:
    """Time is measured from the crash (s), so the numbers read as delays; without a crash,
    from the start of the run. The window keeps the crash at 60% of its width, and reaches
    past the declaration when the timeout is long."""
    crash = result.crashed_at
    origin = crash if math.isfinite(crash) else 0.0
    lo = -min(window_s * 0.6, origin) if math.isfinite(crash) else 0.0
    hi = lo + window_s
    if math.isfinite(crash):
        hi = max(hi, result.declared_dead_at - origin + 0.15 * window_s)
    beats = result.arrivals_at - origin
    beats = beats[(beats >= lo) & (beats <= hi)]
    ax.vlines(beats, 0, 1, color=SIMULATED, lw=1.5, label="heartbeat heard")
    if math.isfinite(crash):
        declared = result.declared_dead_at - origin
        ax.axvline(0.0, color=MEASURED, lw=2, label="server crashes")
        last = beats[beats <= 0].max() if (beats <= 0).any() else lo
        ax.axvspan(last, declared, color=MEASURED, alpha=0.12,
                   label=f"silence: {result.timeout_s:.3g} s timeout running")
        ax.axvline(declared, color=THEORY, ls="--",
                   label=f"declared dead (+{result.detection_s:.1f} s)")
    ax.set(xlim=(lo, hi), ylim=(0, 1.1), yticks=[],
           xlabel="time from the crash (s)" if math.isfinite(crash) else "time (s)",
           title=f"Detected {result.detection_s:.1f} s after the crash: "
                 f"≈{result.requests_to_dead:.0f} requests went to a dead server")


def _draw_tradeoff(left, tradeoff: heartbeats.TimeoutTradeoff, mark_s: float | None,
                   mark_label: str) -> None:
    right = draw_tradeoff(left, tradeoff.missed_beats, tradeoff.mean_detection_s,
                          "mean detection time (s)", tradeoff.false_suspicions_per_hour,
                          "false suspicions / hour",
                          xlabel="timeout (heartbeat intervals missed)",
                          cost_axis="detection time (s)",
                          alarms_axis="false suspicions per hour (per server)", linthresh=0.01)
    if mark_s is not None:
        left.axvline(mark_s / tradeoff.interval_s, color=THEORY, ls="--", label=mark_label)
    # Below the axes: the marked timeout moves with a slider and would cross a legend inside.
    handles, labels = left.get_legend_handles_labels()
    more, more_labels = right.get_legend_handles_labels()
    left.legend(handles + more, labels + more_labels, loc="upper center",
                bbox_to_anchor=(0.5, -0.2), ncols=3)


@styled
def plot_heartbeats(result: heartbeats.HeartbeatResult, window_s: float = 30.0):
    """The beats the balancer heard around the crash, the timeout running out, and the
    moment the server was declared dead."""
    expect("result", result, heartbeats.HeartbeatResult)
    window_s = _check.positive("window_s", window_s)
    fig, ax = figure(width=7.2, height=3.4, bottom=0.36)
    _draw_timeline(ax, result, window_s)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=2)
    return fig


@styled
def plot_timeout_tradeoff(tradeoff: heartbeats.TimeoutTradeoff,
                          choice: heartbeats.TimeoutChoice | None = None):
    """Mean detection time and false suspicions per hour against the timeout."""
    expect("tradeoff", tradeoff, heartbeats.TimeoutTradeoff)
    if choice is not None:
        expect("choice", choice, heartbeats.TimeoutChoice)
    fig, ax = figure(width=7.2, height=4.2, right=0.86, bottom=0.3)
    mark = choice.timeout_s if choice is not None and choice.found else None
    _draw_tradeoff(ax, tradeoff, mark, f"chosen: {mark:g} s" if mark else "")
    ax.set_title("A short timeout detects fast but cries wolf; a long one is calm but slow")
    return fig


@styled
def _plot_heartbeat_panel(out):
    result, tradeoff = out
    fig, ax = figure(width=7.2, height=4.2, right=0.86, bottom=0.3)
    _draw_tradeoff(ax, tradeoff, result.timeout_s, f"this timeout: {result.timeout_s:.3g} s")
    ax.set_title(f"At a {result.timeout_s:.3g} s timeout: {result.mean_detection_s:.2f} s to "
                 f"detect a crash, {result.false_suspicions_per_hour:.2f} false alarms/hour")
    return fig


def explore_heartbeats() -> Panel:
    controls = {
        "interval_s": widgets.FloatSlider(value=1.0, min=0.1, max=5.0, step=0.1,
                                          description="interval (s)"),
        "missed_beats": widgets.FloatSlider(value=3.0, min=0.5, max=10.0, step=0.5,
                                            description="timeout (missed beats)"),
        "pauses_per_hour": widgets.FloatSlider(value=6.0, min=0.0, max=60.0, step=1.0,
                                               description="GC pauses / hour"),
        "pause_s": widgets.FloatSlider(value=1.0, min=0.1, max=10.0, step=0.1,
                                       description="mean pause (s)"),
        "jitter_s": widgets.FloatSlider(value=0.05, min=0.0, max=0.09, step=0.01,
                                        description="jitter (× interval)"),
    }

    def compute(interval_s, missed_beats, pauses_per_hour, pause_s, jitter_s):
        cfg = heartbeats.HeartbeatConfig(interval_s=interval_s, jitter_s=jitter_s * interval_s,
                                         pauses_per_hour=pauses_per_hour, pause_s=pause_s,
                                         horizon_s=min(86_400.0, 200_000 * interval_s))
        timeout = heartbeats.timeout_for(missed_beats, interval_s)
        result = heartbeats.simulate_heartbeats(cfg, timeout_s=timeout,
                                                crashed_at=cfg.horizon_s / 2 + 0.5, seed=1)
        return result, heartbeats.timeout_tradeoff(cfg, seed=1)

    def describe(out):
        r = out[0]
        return (f"{r.messages_per_s:.1f} heartbeat messages/s for {r.servers} servers · "
                f"mean detection {r.mean_detection_s:.2f} s · "
                f"{r.false_suspicions_per_hour:.2f} false suspicions/hour per server")

    return Panel(controls, compute, _plot_heartbeat_panel, title="Heartbeats and timeouts",
                 describe=describe)
