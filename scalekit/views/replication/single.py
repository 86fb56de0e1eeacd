"""Single-primary replication: what each commit mode costs and risks, replication lag around
a failover, and the panel that explores both. Views of :mod:`scalekit.replication.clients`
(one write through the nodes: :mod:`~scalekit.views.replication.timeline`).
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from scalekit import _check
from scalekit.replication import clients, single
from scalekit.views._common import expect, results_list
from scalekit.views.panel import Panel
from scalekit.views.style import COLORS, CYCLE, LIMIT, MEASURED, SIMULATED, THEORY, figure, styled

__all__ = ["plot_commit_modes", "plot_lag", "explore_replication"]

MODE_LABELS = {"async": "async", "remote_write": "remote_write\n(received)",
               "remote_apply": "remote_apply\n(applied)"}
MODE_COLORS = {"async": COLORS["vermillion"], "remote_write": COLORS["orange"],
               "remote_apply": COLORS["blue"]}


def _results(results) -> list[clients.SinglePrimaryResult]:
    """A mapping mode → result, the list :func:`compare_commit_modes` returns, or one result."""
    return results_list("results", results, clients.SinglePrimaryResult)


def _writes(n: int) -> str:
    return f"{n} acknowledged write{'s' * (n != 1)}"


def _bar_labels(ax, bars, fmt: str) -> None:
    ax.bar_label(bars, labels=[fmt.format(b.get_height()) for b in bars], fontsize=9, padding=2)


@styled
def plot_commit_modes(results):
    """Per commit mode, side by side: the mean commit latency (ms; the tick marks the worst)
    and the acknowledged writes lost when the primary failed. ``results``: mode → result (or
    the list :func:`~scalekit.replication.compare_commit_modes` returns)."""
    runs = _results(results)
    fig, axes = figure(mosaic=[["latency", "lost"]], width=7.0, height=3.9, bottom=0.19,
                       top=0.78, left=0.1, wspace=0.35)
    x = np.arange(len(runs))
    names = [MODE_LABELS.get(r.commit, r.commit) for r in runs]
    colours = [MODE_COLORS.get(r.commit, CYCLE[i]) for i, r in enumerate(runs)]
    lat = axes["latency"]
    bars = lat.bar(x, [1e3 * r.mean_commit_s for r in runs], color=colours, width=0.6)
    lat.plot(x, [1e3 * r.max_commit_s for r in runs], "_", color=THEORY, ms=22, mew=2)
    _bar_labels(lat, bars, "{:.0f} ms")
    lat.set(xticks=x, xticklabels=names, ylabel="commit latency (ms)", ylim=(0, None))
    lat.set_title("Commit latency (mean; bar: worst)", fontsize=10)
    lost = axes["lost"]
    bars = lost.bar(x, [r.lost_writes for r in runs], color=colours, width=0.6)
    _bar_labels(lost, bars, "{:.0f}")
    top = max(max(r.lost_writes for r in runs), 1)
    lost.set(xticks=x, xticklabels=names, ylabel="acknowledged writes lost", ylim=(0, 1.25 * top))
    lost.set_title("Lost at failover", fontsize=10)
    lost.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    for ax in (lat, lost):
        ax.grid(False, axis="x")
    lost_by = {r.commit: r for r in runs}
    a, sync = lost_by.get("async"), [r for r in runs if r.commit != "async"]
    if a is not None and sync:
        worst = max(sync, key=lambda r: r.lost_writes)
        slow = max(r.mean_commit_s for r in sync)
        text = (f"Waiting for a replica adds {1e3 * (slow - a.mean_commit_s):.0f} ms per "
                f"commit;\nat failover async lost {_writes(a.lost_writes)}, the synchronous "
                f"modes {worst.lost_writes}")
    else:
        best = min(runs, key=lambda r: (r.lost_writes, r.mean_commit_s))
        text = (f"{best.commit}: {1e3 * best.mean_commit_s:.0f} ms per commit,\n"
                f"{_writes(best.lost_writes)} lost at failover")
    fig.suptitle(text, fontsize=10.5, fontweight="bold")
    return fig


#: Share of the lag axes' height the data and the failure marks use; the legend sits above.
BELOW_LEGEND = 0.7


def _with_gaps(at: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The samples with a NaN where none was taken for a while (no primary was up, or no
    replica), so the trace breaks there instead of holding its last value."""
    if at.size < 3:
        return at, values.astype(float)
    step = float(np.median(np.diff(at)))
    cut = np.flatnonzero(np.diff(at) > 1.5 * step) + 1
    return (np.insert(at.astype(float), cut, at[cut - 1] + step),
            np.insert(values.astype(float), cut, np.nan))


def _draw_lag(ax, r: clients.SinglePrimaryResult, fail_at: float | None,
              failover_s: float | None) -> None:
    at, lag = _with_gaps(r.lag_at, r.lag)
    ax.step(at, lag, where="post", color=SIMULATED, lw=1.5,
            label=f"lag of the worst replica ({r.replicas} replica{'s' * (r.replicas > 1)})")
    ax.axhline(r.mean_lag, color=THEORY, ls=":", lw=1.2, label=f"mean {r.mean_lag:.1f}")
    if fail_at is not None:
        # the marks stop below the legend (the top quarter is kept for it)
        ax.axvline(fail_at, ymax=BELOW_LEGEND, color=MEASURED, lw=2,
                   label=f"primary fails ({fail_at:g} s)")
        if failover_s is None:  # no failover: the primary restarts down_s later
            down_s = r.settings.down_s
            ax.axvspan(fail_at, fail_at + down_s, ymax=BELOW_LEGEND, color=LIMIT, alpha=0.25,
                       label=f"no primary: restarting ({down_s:g} s)")
        elif failover_s:
            ax.axvspan(fail_at, fail_at + failover_s, ymax=BELOW_LEGEND, color=LIMIT,
                       alpha=0.25,
                       label=f"no primary ({failover_s:g} s)")
    top = max(int(r.lag.max()) if r.lag.size else 0, 1)
    ax.set(xlabel="time (s)", ylabel="replication lag (log positions)",
           ylim=(0, 1.05 * top / BELOW_LEGEND))
    ax.legend(loc="upper left", ncols=2)


@styled
def plot_lag(result: clients.SinglePrimaryResult, *, fail_at: float | None = None,
             failover_s: float | None = None):
    """Replication lag over time: the primary's log position minus the applied position of
    the worst replica. ``fail_at`` (s) marks the instant the primary fails and ``failover_s``
    (s) the gap with no primary (None: a restart, ``down_s`` long); both default to the run's
    settings."""
    expect("result", result, clients.SinglePrimaryResult)
    fail_at = _check.optional(_check.non_negative, "fail_at", fail_at,
                              meaning="the run's own fail_at")
    failover_s = _check.optional(_check.non_negative, "failover_s", failover_s,
                                 meaning="the run's own failover_s")
    fail_at = result.settings.fail_at if fail_at is None else fail_at
    failover_s = result.settings.failover_s if failover_s is None else failover_s
    fig, ax = figure(width=7.0, height=3.6, top=0.84)
    _draw_lag(ax, result, fail_at, failover_s)
    ax.set_title(f"{result.commit}, {1e3 * result.delay_s:.0f} ms delay: replicas trail the "
                 f"primary\nby {result.mean_lag:.1f} positions on average, {result.max_lag} "
                 f"at worst")
    return fig


# ------------------------------------------------------------------------ the panel


@styled
def _plot_panel(out):
    """The lag trace and, on one percent axis, the stale reads and the lost writes (two axes
    in all, so a refresh stays within 150 ms)."""
    r, fail_at, failover_s = out
    fig, axes = figure(mosaic=[["lag", "out"]], width=7.0, height=3.9,
                       ratios={"width_ratios": [2.4, 1]}, left=0.1, wspace=0.4, top=0.83)
    _draw_lag(axes["lag"], r, fail_at, failover_s)
    ax = axes["out"]
    lost_pct = 100 * r.lost_writes / r.acknowledged if r.acknowledged else 0.0
    bars = ax.bar([0, 1], [100 * r.stale_read_rate, lost_pct], color=[SIMULATED, MEASURED],
                  width=0.6)
    ax.bar_label(bars, labels=[f"{r.stale_reads}/{r.reads}", f"{r.lost_writes}/{r.acknowledged}"],
                 fontsize=9, padding=2)
    ax.set(xticks=[0, 1], xticklabels=["stale\nreads", "acked writes\nlost"], xlim=(-0.6, 1.6),
           ylabel="share (%)", ylim=(0, 119))
    ax.grid(False, axis="x")
    ax.set_title(f"{r.commit}: {1e3 * r.mean_commit_s:.0f} ms per commit, "
                 f"{100 * r.stale_read_rate:.0f}% of reads miss the client's own write,\n"
                 f"{_writes(r.lost_writes)} lost", loc="right", fontsize=10.5,
                 fontweight="bold")
    return fig


def explore_replication() -> Panel:
    """Controls: replicas, one-way network delay, commit mode, the share of reads sent to a
    replica, when the primary fails, what follows (a failover after 0.2 s, or a restart with
    nobody promoted, 1 s down) and the seed. A short run (2 s at 40 writes/s) keeps it live.

    The seed starts at 3: a run with the median loss in async (2 acknowledged writes; seeds
    0–19 lose 0 to 6 at the defaults, 2.1 on average) — seed 0 happens to lose none."""
    controls = {
        "replicas": widgets.IntSlider(value=2, min=1, max=5, description="replicas"),
        "delay_ms": widgets.FloatSlider(value=50.0, min=0.0, max=300.0, step=10.0,
                                        description="network delay (ms)"),
        "commit": widgets.Dropdown(options=list(single.COMMIT_MODES), value="async",
                                   description="commit mode"),
        "read_share": widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05,
                                          description="reads on replicas"),
        "fail_at": widgets.FloatSlider(value=1.0, min=0.1, max=1.9, step=0.1,
                                       description="primary fails at (s)"),
        "then": widgets.Dropdown(options=[("fail over to a replica", "failover"),
                                          ("restart it, nobody promoted", "restart")],
                                 value="failover", description="then"),
        "seed": widgets.IntSlider(value=3, min=0, max=19, description="seed"),
    }

    def compute(replicas, delay_ms, commit, read_share, fail_at, then, seed):
        failover_s = 0.2 if then == "failover" else None
        r = clients.run_single_primary(replicas=replicas, commit=commit, delay_s=delay_ms / 1e3,
                                       read_share=read_share, fail_at=fail_at,
                                       failover_s=failover_s, writes_per_s=40.0,
                                       duration_s=2.0, seed=seed)
        return r, fail_at, failover_s

    def describe(out):
        r = out[0]
        return (f"{r.writes} writes, {r.acknowledged} acknowledged, {r.unavailable} refused "
                f"with no primary up · commit {1e3 * r.mean_commit_s:.0f} ms mean, "
                f"{1e3 * r.max_commit_s:.0f} ms worst · {r.stale_reads} of {r.reads} reads "
                f"stale · {r.lost_writes} acked writes lost · "
                f"{'converged' if r.converged else 'NOT converged'}")

    return Panel(controls, compute, _plot_panel, title="Single-primary replication",
                 describe=describe)
