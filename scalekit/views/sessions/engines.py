"""The sessions model beside real HAProxy, drawn: lost and failed requests through a
backend failure per method, and how many clients of the surviving servers were moved.
Views of :mod:`scalekit.sessions.engines` (they only draw)."""

from __future__ import annotations

import numpy as np

from scalekit.sessions import engines as se
from scalekit.views._common import expect
from scalekit.views.style import MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["plot_stickiness_on_haproxy"]


@styled
def plot_stickiness_on_haproxy(result: se.StickinessComparison):
    """Left: lost sessions and failed requests per method, HAProxy beside the model.
    Right: the share of the surviving servers' clients moved after the failure — HAProxy,
    the model and the closed form."""
    expect("result", result, se.StickinessComparison)
    # 7 in wide, so its text stays at least 9 px when shown 592 px wide (1024×768)
    fig, axes = figure(mosaic=[["counts", "moved"]], ratios={"width_ratios": [3, 2]},
                       width=7.0, height=4.6, top=0.8, bottom=0.2, left=0.1, wspace=0.3)
    runs = list(result.runs.values())
    x = np.arange(len(runs))
    ax = axes["counts"]
    w = 0.2
    for dx, values, colour, hatch, label in (
            (-1.5 * w, [r.engine_lost for r in runs], MEASURED, None, "lost, HAProxy"),
            (-0.5 * w, [r.model_lost for r in runs], SIMULATED, None, "lost, model"),
            (0.5 * w, [r.engine_failed for r in runs], MEASURED, "//", "failed, HAProxy"),
            (1.5 * w, [r.model_failed for r in runs], SIMULATED, "//", "failed, model")):
        ax.bar(x + dx, values, w, color=colour, alpha=0.45 if hatch else 0.9, hatch=hatch,
               label=label)
    names = [r.method.replace("-", "\n") for r in runs]
    ax.set_xticks(x, names)
    ax.set(ylabel="requests")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8.5, ncols=2)
    ax.set_title("Through the failure")
    mv = axes["moved"]
    mv.bar(x - 0.2, [r.engine_moved for r in runs], 0.4, color=MEASURED, label="HAProxy")
    mv.bar(x + 0.2, [r.model_moved for r in runs], 0.4, color=SIMULATED, label="model")
    mv.plot(x, [r.expected_moved for r in runs], "_", ms=28, mew=2.5, color=THEORY,
            label="closed form")
    mv.set_xticks(x, names)
    mv.set(ylabel="survivors' clients moved", ylim=(0, 1))
    mv.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8.5, ncols=2)
    mv.set_title("Collateral moves")
    s = result.settings
    moved = [f"{r.method} {r.engine_moved:.0%}" for r in runs if r.engine_moved > 0]
    fig.suptitle(f"{result.engine.split(' (')[0]}: server s{s.failed_server + 1} of "
                 f"{s.servers} killed at {s.server_fails_at:g} s, redispatch "
                 f"{'on' if result.redispatch else 'off'};\nsurvivors' clients moved: "
                 f"{', '.join(moved) or 'none'}", fontsize=10.5, fontweight="bold")
    return fig
