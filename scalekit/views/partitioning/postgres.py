"""PostgreSQL declarative partitioning beside the kit's SQLite routers: the partitions each
query reads, and what growing from 4 to 5 hash partitions moves. Views of
:mod:`scalekit.partitioning.postgres` (they only draw).
"""

from __future__ import annotations

import numpy as np

from scalekit.partitioning import postgres as pg
from scalekit.views._common import expect
from scalekit.views.style import COLORS, LIMIT, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["plot_pruning", "plot_resize"]

#: Figure width (in): shown 588 px wide in JupyterLab at 1024×768 with the file browser open,
#: 8.5 pt text stays above 9 px.
WIDTH = 7.0


@styled
def plot_pruning(result: pg.PartitioningComparison):
    """Per query, the partitions PostgreSQL's plan reads (EXPLAIN) beside those the SQLite
    router reads, out of the layout's partitions (the grey bar)."""
    expect("result", result, pg.PartitioningComparison)
    fig, ax = figure(width=WIDTH, height=5.0, left=0.41, right=0.97, bottom=0.1, top=0.76)
    qs = list(result.queries)
    y = np.arange(len(qs))[::-1]
    ax.barh(y, [q.partitions for q in qs], 0.8, color=LIMIT, alpha=0.3,
            label="partitions in the table")
    ax.barh(y + 0.17, [q.read for q in qs], 0.34, color=MEASURED,
            label=f"{result.engine.split(' (')[0]} reads (EXPLAIN)")
    ax.barh(y - 0.17, [q.router_read for q in qs], 0.34, color=SIMULATED,
            label="SQLite router reads")
    ax.set(yticks=y, yticklabels=[f"{q.name} [{q.layout}]" for q in qs],
           xlabel="partitions read", xlim=(0, 13.5), xticks=range(0, 13, 2))
    ax.grid(False, axis="y")
    # above the bars, under the title: no bar crosses it
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.01), ncols=2, borderaxespad=0)
    pruned = sum(q.read < q.partitions for q in qs)
    agree = sum(q.read == q.router_read for q in qs)
    ax.set_title(f"{pruned} of {len(qs)} queries are pruned; PostgreSQL and\nthe router "
                 f"read the same in {agree} of {len(qs)}", pad=44)
    return fig


@styled
def plot_resize(result: pg.PartitioningComparison):
    """The share of rows that move when 4 hash partitions become 5: PostgreSQL (a new
    table with MODULUS 5), the model's mod-N hashing, its consistent-hash ring and jump
    hash, against 1/(n+1) and n/(n+1)."""
    expect("result", result, pg.PartitioningComparison)
    fig, ax = figure(width=WIDTH, height=4.0, bottom=0.16, top=0.85, left=0.11)
    names = ["PostgreSQL HASH\n(MODULUS 4 → 5)", "model: mod-N\n(ModuloHash)",
             "model: ring\n(ConsistentHash)", "model: jump hash\n(JumpHash)"]
    values = [result.pg_moved, result.modulo_moved, result.ring_moved, result.jump_moved]
    colours = [MEASURED, SIMULATED, COLORS["green"], COLORS["orange"]]
    bars = ax.bar(np.arange(4), values, 0.6, color=colours)
    ax.bar_label(bars, labels=[f"{v:.1%}" for v in values], fontsize=9, padding=2)
    ax.tick_params(axis="x", labelsize=8.5)
    ax.axhline(result.ideal_moved, color=THEORY, ls=":", lw=1.5, label="1/(n+1) = 20%")
    ax.axhline(4 / 5, color=LIMIT, ls="--", lw=1.2, label="n/(n+1) = 80%")
    ax.set(xticks=np.arange(4), xticklabels=names, ylabel="rows moved (share)", ylim=(0, 1.0))
    ax.grid(False, axis="x")
    ax.legend(loc="upper right")
    ax.set_title(f"4 → 5 partitions: PostgreSQL moves {result.pg_moved:.0%} of "
                 f"{result.rows:,} rows,\nlike mod-N; a ring moves {result.ring_moved:.0%}")
    return fig
