"""A sharded write killed at every step — a view of
:func:`scalekit.partitioning.crash_matrix`: what each kill left on disk, and what reopening
made of it."""

from __future__ import annotations

import numpy as np

from scalekit.partitioning.faults import CrashMatrix
from scalekit.views._common import expect
from scalekit.views.style import CYCLE, THEORY, figure, styled

__all__ = ["plot_crash_matrix"]


@styled
def plot_crash_matrix(matrix: CrashMatrix):
    """One bar per step a write was killed after: the rows its kill left on disk — live
    once, live twice (a moved row's copy not yet deleted), staged only — and the marks for
    the distinct rows after reopening; the dotted line is the commit point (the layout
    switch)."""
    expect("matrix", matrix, CrashMatrix)
    k = np.arange(len(matrix.steps))
    once = np.array([b.rows - b.duplicates for b in matrix.before])
    twice = np.array([b.duplicates for b in matrix.before])
    staged = np.array([sum(b.staged) for b in matrix.before])
    after = np.array([a.ids for a in matrix.after])
    dups_after = sum(a.duplicates for a in matrix.after)
    fig, ax = figure(width=7.0, height=4.6, top=0.82, bottom=0.3, left=0.1)
    ax.bar(k, once, color=CYCLE[0], label="live rows (each id once)")
    ax.bar(k, twice, bottom=once, color=CYCLE[1], label="live duplicates (old copy not "
                                                        "yet deleted)")
    ax.bar(k, staged, bottom=once + twice, color="white", edgecolor=CYCLE[2], hatch="//",
           label="staged rows (not live)")
    ax.plot(k, after, "D", color="black", ms=6, label="rows after reopening (each once)",
            gid="after")
    # the bars use the lower 2/3 (ylim below); the line stops there, under the legend
    ax.axvline(matrix.decided_at - 0.5, ymax=0.7, color=THEORY, ls=":", lw=1.5,
               label="commit point: the layout switch")
    ax.set_xticks(k, matrix.steps, rotation=60, ha="right", fontsize=8)
    top = float(max((once + twice + staged).max(), after.max()))
    ax.set(xlabel="killed (SIGKILL) right after this step", ylabel="rows in the shard files",
           xlim=(-0.7, len(k) - 0.3), ylim=(0, top * 1.5))
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    verdict = ("every row exactly once" if matrix.exactly_once and dups_after == 0
               else "ROWS LOST OR DUPLICATED")
    ax.set_title(f"A {matrix.operation} killed after any of its {len(k)} steps: after "
                 f"reopening,\n{verdict} (before the switch the old layout stands,\n"
                 f"after it recovery finishes the move; {matrix.rows:,} rows)")
    return fig
