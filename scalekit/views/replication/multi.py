"""Multi-primary replication: concurrent updates of one row and what each resolution rule
keeps. Views of :mod:`scalekit.replication.multi`.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from scalekit.replication import multi
from scalekit.views._common import expect
from scalekit.views.panel import Panel
from scalekit.views.style import COLORS, CYCLE, THEORY, figure, styled

__all__ = ["plot_conflicts", "explore_conflicts"]

RULE_LABELS = {"lww": "last writer\nwins", "fcw": "first committer\nwins",
               "counter": "counter\n(CRDT)"}
RULE_COLORS = {"lww": COLORS["vermillion"], "fcw": COLORS["orange"], "counter": COLORS["green"]}


@styled
def plot_conflicts(result: multi.ConflictResult):
    """Per rule: the row's final value against the true total of the ``+1`` updates (left)
    and the updates the rule discarded (right)."""
    expect("result", result, multi.ConflictResult)
    rules = list(result.final_value)
    fig, axes = figure(mosaic=[["final", "discarded"]], width=7.0, height=3.8, bottom=0.2,
                       top=0.8, wspace=0.35)
    x = np.arange(len(rules))
    names = [RULE_LABELS.get(k, k) for k in rules]
    colours = [RULE_COLORS.get(k, CYCLE[i]) for i, k in enumerate(rules)]
    top = max(result.true_total, 1)
    final = axes["final"]
    bars = final.bar(x, [result.final_value[k] for k in rules], color=colours, width=0.6)
    final.bar_label(bars, fontsize=9, padding=2)
    final.axhline(result.true_total, color=THEORY, ls="--", lw=1.5,
                  label=f"true total ({result.true_total})")
    final.set(xticks=x, xticklabels=names, ylabel="final value of the counter",
              ylim=(0, 1.3 * top))
    final.legend(loc="upper left")
    final.set_title("Final value", fontsize=10)
    lost = axes["discarded"]
    bars = lost.bar(x, [result.discarded[k] for k in rules], color=colours, width=0.6)
    lost.bar_label(bars, fontsize=9, padding=2)
    lost.set(xticks=x, xticklabels=names, ylabel="updates discarded",
             ylim=(0, 1.3 * max(max(result.discarded.values(), default=0), 1)))
    lost.set_title("Updates discarded", fontsize=10)
    for ax in (final, lost):
        ax.grid(False, axis="x")
    worst = max(rules, key=lambda k: result.discarded[k])
    kept = [k for k in rules if result.discarded[k] == 0]
    if result.discarded[worst] == 0:
        text = f"No concurrency (window {result.window}): no rule discards anything"
    else:
        text = (f"{result.n_nodes} nodes, {result.updates} updates, {result.window} concurrent:\n"
                f"{RULE_LABELS.get(worst, worst).replace(chr(10), ' ')} discards "
                f"{result.discarded[worst]}")
        if kept:
            text += f"; {RULE_LABELS.get(kept[0], kept[0]).replace(chr(10), ' ')} loses none"
    fig.suptitle(text, fontsize=10.5, fontweight="bold")
    return fig


def explore_conflicts() -> Panel:
    """Sliders: nodes, updates per partition window (how many are concurrent), updates."""
    controls = {
        "n_nodes": widgets.IntSlider(value=3, min=1, max=6, description="nodes"),
        "window": widgets.IntSlider(value=10, min=1, max=30, description="concurrent updates"),
        "updates": widgets.IntSlider(value=60, min=10, max=200, step=10, description="updates"),
    }

    def compute(n_nodes, window, updates):
        return multi.simulate_conflicts(n_nodes=n_nodes, updates=updates, window=window, seed=0)

    def describe(r):
        parts = [f"{k}: {r.final_value[k]} kept, {r.discarded[k]} discarded"
                 for k in r.final_value]
        return (f"true total {r.true_total} · " + " · ".join(parts)
                + f" · replicas identical: {r.identical_nodes}")

    return Panel(controls, compute, plot_conflicts, title="Multi-primary conflicts",
                 describe=describe)
