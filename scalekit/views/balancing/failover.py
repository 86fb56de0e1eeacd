"""The balancer as a single point of failure: an active–passive pair (keepalived/VRRP) —
the timeline of one failover, and the timeout's trade-off between downtime and false
failovers. Views of :mod:`scalekit.balancing.failover`.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from scalekit.balancing import failover
from scalekit.views._common import draw_tradeoff, expect
from scalekit.views.panel import Panel
from scalekit.views.style import (
    COLORS,
    MEASURED,
    SIMULATED,
    THEORY,
    figure,
    styled,
)

__all__ = ["plot_failover", "plot_failover_tradeoff", "explore_failover"]

TAKEOVER = COLORS["orange"]


def _draw_timeline(ax, r: failover.FailoverResult, title: bool = True) -> None:
    """Time is measured from the crash (s), so the numbers read as delays."""
    crash = r.crashed_at
    declared, back = r.declared_down_at - crash, r.back_at - crash
    lo = -(1.5 * r.timeout_s + r.interval_s)
    hi = back + 0.6 * r.timeout_s + r.interval_s
    heard = r.adverts_at - crash
    heard = heard[(heard >= lo) & (heard <= hi)]
    ax.vlines(heard, 0.5, 1.0, color=SIMULATED, lw=1.5, label="advert heard")
    last = heard[heard <= 0].max() if (heard <= 0).any() else lo
    ax.axvspan(last, declared, ymin=0.45, ymax=0.92, color=THEORY, alpha=0.08,
               label=f"timer running ({r.timeout_s:.3g} s)")
    ax.axvline(0.0, color=MEASURED, lw=2, label="active crashes")
    ax.axvline(declared, color=THEORY, ls="--", label=f"declared down (+{r.detection_s:.2f} s)")
    ax.axvspan(declared, declared + r.takeover_s, ymin=0.45, ymax=0.92, color=TAKEOVER,
               alpha=0.35, label=f"takeover, gratuitous ARP ({r.takeover_s:.2g} s)")
    ax.axvspan(0.0, back, ymin=0.0, ymax=0.38, color=MEASURED, alpha=0.25,
               label=f"requests failing ({r.rate_rps:,.0f}/s)")
    ax.text(back / 2, 0.17, f"{r.requests_failed:,} failed", ha="center", va="center",
            fontsize=9, color=THEORY, bbox=dict(facecolor="white", alpha=0.8, lw=0))
    ax.set(xlim=(lo, hi), ylim=(0, 1.1), yticks=[], xlabel="time from the crash (s)")
    if title and declared < 0:
        ax.set_title(f"The passive had already (falsely) taken over: {r.downtime_s:.2f} s "
                     f"down, {r.requests_failed:,} requests failed")
    elif title:
        ax.set_title(f"{r.detection_s:.2f} s to notice + {r.takeover_s:.2g} s takeover = "
                     f"{r.downtime_s:.2f} s down: {r.requests_failed:,} requests failed")


def _draw_tradeoff(left, t: failover.FailoverTradeoff, mark_s: float | None,
                   mark_label: str) -> tuple[list, list]:
    """Downtime (left axis) and false failovers (right axis) against the timeout; returns
    the legend entries of both axes, for the caller to place."""
    right = draw_tradeoff(left, t.timeouts_s, t.mean_downtime_s, "downtime per crash",
                          t.false_failovers_per_day, "false failovers per day",
                          xlabel="timeout (s) = missed adverts × interval + skew",
                          cost_axis="downtime per crash (s)",
                          alarms_axis="false failovers per day", linthresh=1.0)
    left.axvline(t.rfc_timeout_s, color=THEORY, ls=":", lw=1.5,
                 label=f"RFC 5798 timeout ({t.rfc_timeout_s:.3g} s)")
    if mark_s is not None:
        left.axvline(mark_s, color=THEORY, ls="--", label=mark_label)
    handles, labels = left.get_legend_handles_labels()
    more, more_labels = right.get_legend_handles_labels()
    return handles + more, labels + more_labels


@styled
def plot_failover(result: failover.FailoverResult):
    """Around the crash: the advertisements the passive heard, the silence while its
    Master_Down_Timer runs, the moment it declares the active down, the takeover, and the
    requests that fail from the crash until the VIP answers again."""
    expect("result", result, failover.FailoverResult)
    fig, ax = figure(width=7.2, height=3.8, bottom=0.42)
    _draw_timeline(ax, result)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2)
    return fig


@styled
def plot_failover_tradeoff(tradeoff: failover.FailoverTradeoff):
    """Mean downtime per crash and false failovers per day against the timeout, with
    RFC 5798's Master_Down_Interval marked."""
    expect("tradeoff", tradeoff, failover.FailoverTradeoff)
    fig, ax = figure(width=7.2, height=4.2, right=0.88, bottom=0.32)
    ax.legend(*_draw_tradeoff(ax, tradeoff, None, ""), loc="upper center",
              bbox_to_anchor=(0.5, -0.2), ncols=2)
    ax.set_title("A shorter timeout: less downtime per crash, more false failovers")
    return fig


@styled
def _plot_panel(out):
    """The panel's figure: the trade-off with the chosen timeout marked (one axes and its
    twin, so a refresh stays within 150 ms); the crash timeline is plot_failover's."""
    tradeoff, j = out
    fig, ax = figure(width=7.2, height=4.2, right=0.88, bottom=0.32)
    # Below the axes: the marked timeout moves with the slider and would cross it inside.
    ax.legend(*_draw_tradeoff(ax, tradeoff, float(tradeoff.timeouts_s[j]), "this timeout"),
              loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
    ax.set_title(f"Timeout {tradeoff.timeouts_s[j]:.3g} s: a crash costs "
                 f"{tradeoff.mean_downtime_s[j]:.2f} s of downtime; "
                 f"{tradeoff.false_failovers_per_day[j]:.3g} false failovers a day")
    return fig


def explore_failover() -> Panel:
    """Sliders: advertisement interval, timeout in missed adverts, the backup's priority,
    takeover time, the active's pauses per hour and their mean length."""
    controls = {
        "interval_s": widgets.FloatSlider(value=1.0, min=0.1, max=5.0, step=0.1,
                                          description="advert interval (s)"),
        "missed": widgets.FloatSlider(value=3.0, min=0.5, max=10.0, step=0.5,
                                      description="timeout (missed adverts)"),
        "priority": widgets.IntSlider(value=100, min=1, max=254,
                                      description="backup priority"),
        "takeover_s": widgets.FloatSlider(value=0.5, min=0.0, max=5.0, step=0.1,
                                          description="takeover (s)"),
        "pauses_per_hour": widgets.FloatSlider(value=6.0, min=0.0, max=60.0, step=1.0,
                                               description="GC pauses / hour"),
        "pause_s": widgets.FloatSlider(value=1.0, min=0.1, max=10.0, step=0.1,
                                       description="mean pause (s)"),
    }

    def compute(interval_s, missed, priority, takeover_s, pauses_per_hour, pause_s):
        cfg = failover.pair_config(interval_s=interval_s, pauses_per_hour=pauses_per_hour,
                                   pause_s=pause_s, jitter_s=0.05 * interval_s,
                                   horizon_s=min(86_400.0, 100_000 * interval_s))
        grid = np.union1d(np.arange(2, 41) / 4.0, [missed])
        tradeoff = failover.failover_tradeoff(cfg, priority=priority, missed=grid,
                                              takeover_s=takeover_s, crashes=500, seed=1)
        return tradeoff, int(np.searchsorted(grid, missed))

    def describe(out):
        t, j = out
        return (f"timeout {t.timeouts_s[j]:.3g} s = {t.missed[j]:g} × {t.interval_s:g} s + "
                f"skew {t.skew_s:.3g} s · a crash: {t.mean_downtime_s[j]:.2f} s down ≈ "
                f"{t.requests_failed_per_crash[j]:,.0f} failed requests · "
                f"{t.false_failovers_per_day[j]:.3g} false failovers/day ≈ "
                f"{t.false_failover_requests_per_day[j]:,.0f} failed requests/day")

    return Panel(controls, compute, _plot_panel, title="Failover of an active–passive pair",
                 describe=describe)
