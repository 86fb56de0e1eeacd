"""A backend dies: requests per second served, failed and retried around the crash, and the
instants the health checks took it out and put it back — views of
:mod:`scalekit.balancing.health`.
"""

from __future__ import annotations

import math
import textwrap

import ipywidgets as widgets
import numpy as np

from scalekit import sim
from scalekit.balancing import health, policies
from scalekit.views._common import expect
from scalekit.views.panel import Panel
from scalekit.views.style import COLORS, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["plot_backend_failure", "explore_backend_failure"]

_RETRIED = COLORS["orange"]
_BACK = COLORS["green"]
_NICE_BINS_S = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 3600.0)


def _bin_s(horizon_s: float) -> float:
    """A round bin width giving about 40–80 bins over the run."""
    return next((b for b in _NICE_BINS_S if horizon_s / b <= 80), horizon_s / 60)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _title(r: health.BackendFailureResult) -> str:
    failed = _count(r.failed, "request")
    failed += f" failed ({r.retried:,} retried elsewhere)" if r.redispatch else " failed"
    died = f"Server {r.failed_server} died at {r.crashed_at:g} s"
    if math.isnan(r.marked_down_at):
        back = (f"back at {r.recovered_at:g} s before the checks noticed"
                if math.isfinite(r.recovered_at) else "the checks never noticed")
        return f"{died}, {back}; {failed}"
    return f"{died}; health checks took {r.detection_s:.1f} s to notice; {failed}"


def _mark(ax, at: float, horizon: float, label: str, detail: str = "", **style) -> None:
    """A vertical line at ``at``, or, past the plot's end, only a legend entry saying so."""
    if math.isnan(at):
        return
    if at > horizon:
        detail = "after the end" + (f", {detail}" if detail else "")
    text = f"{label} at {at:.1f} s" + (f" ({detail})" if detail else "")
    if at > horizon:
        ax.plot([], [], label=text, **style)
    else:
        ax.axvline(at, label=text, **style)


@styled
def plot_backend_failure(result: health.BackendFailureResult, bin_s: float | None = None):
    """Requests per second served, failed and retried over the run (bins of ``bin_s``
    seconds, chosen from the run's length by default); the crash, the span in which the dead
    server still received traffic, and the health checks' marks."""
    expect("result", result, health.BackendFailureResult)
    r = result
    tl = r.timeline(_bin_s(r.horizon_s) if bin_s is None else bin_s)
    edges = np.append(tl.starts_at, tl.starts_at[-1] + tl.bin_s)
    fig, ax = figure(width=7.2, height=4.4, bottom=0.34, top=0.84)
    ax.stairs(tl.served_rps, edges, baseline=None, color=SIMULATED, lw=2, label="served")
    if r.redispatch:
        ax.stairs(tl.retried_rps, edges, baseline=None, color=_RETRIED, lw=1.5,
                  label="retried elsewhere")
    ax.stairs(tl.failed_rps, edges, baseline=None, color=MEASURED, lw=2, label="failed")
    end = r.marked_down_at if math.isfinite(r.marked_down_at) else (
        r.recovered_at if math.isfinite(r.recovered_at) else r.horizon_s)
    ax.axvspan(r.crashed_at, min(end, r.horizon_s), color=MEASURED, alpha=0.1,
               label="dead, still sent traffic")
    _mark(ax, r.crashed_at, r.horizon_s, "crash", color=MEASURED, lw=1.5)
    _mark(ax, r.marked_down_at, r.horizon_s, "marked down", f"fall {r.fall}", color=THEORY,
          ls="--", lw=1.5)
    _mark(ax, r.recovered_at, r.horizon_s, "back", color=_BACK, lw=1.5)
    _mark(ax, r.marked_up_at, r.horizon_s, "marked up", f"rise {r.rise}", color=_BACK,
          ls="--", lw=1.5)
    ax.set(xlim=(0, edges[-1]), ylim=(0, None), xlabel="time (s)",
           ylabel="requests per second", title=textwrap.fill(_title(r), 66))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2)
    return fig


def explore_backend_failure() -> Panel:
    """Server 0 of 4 dies at 4 s and comes back at 12 s, under 200 requests/s (10 ms of work
    each, load 0.5): move the health-check settings, the policy and redispatch."""
    workload = sim.Workload.poisson(200.0, sim.Exponential(0.01), horizon_s=20.0, seed=1)
    names = list(policies.POLICIES)
    controls = {
        "inter_s": widgets.FloatSlider(value=2.0, min=0.5, max=4.0, step=0.5,
                                       description="check inter (s)"),
        "fall": widgets.IntSlider(value=3, min=1, max=10, description="fall (checks)"),
        "rise": widgets.IntSlider(value=2, min=1, max=10, description="rise (checks)"),
        "redispatch": widgets.Dropdown(options=[("retry elsewhere", True),
                                                ("fail the request", False)],
                                       value=True, description="redispatch"),
        "policy": widgets.Dropdown(options=names, value="round_robin", description="policy"),
    }

    def compute(inter_s, fall, rise, redispatch, policy):
        return health.simulate_backend_failure(
            workload, crashed_at=4.0, recovered_at=12.0, servers=4, policy=policy,
            inter_s=inter_s, rise=rise, fall=fall, redispatch=redispatch, seed=1)

    def describe(r):
        return (f"{_count(r.sent_to_dead, 'request')} sent to the dead server before it was "
                f"marked down · {r.retried:,} retried · {r.failed:,} failed "
                f"({100 * r.failed_fraction:.1f} %) · p99 latency {r.p99_s * 1e3:.0f} ms")

    return Panel(controls, compute, plot_backend_failure, title="A backend dies",
                 describe=describe)
