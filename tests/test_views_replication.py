"""Notebook 05's panels and figures: the shared panel contract, then what each figure must
show a student — and that a student can read it on a small screen (issue 19 §5: figure text
at least 9 px in JupyterLab at 1024×768 with the file browser open)."""

import functools

import numpy as np
import pytest
from _panels import PanelContract, assert_labelled
from _screen import SMALLEST_TEXT_PX, SVG_PX_PER_IN, shown_text

from scalekit import replication
from scalekit.views import replication as view
from scalekit.views.style import PNG_DPI

PANELS = ["explore_replication", "explore_conflicts"]


class TestReplicationPanels(PanelContract):
    @pytest.fixture(params=PANELS)
    def panel(self, request):
        return getattr(view, request.param)()


@pytest.fixture(scope="module")
def modes():
    runs = replication.compare_commit_modes(fail_at=1.0, duration_s=2.0, writes_per_s=40.0)
    return {r.commit: r for r in runs}


@pytest.fixture(scope="module")
def conflicts():
    return replication.simulate_conflicts(n_nodes=3, updates=60, window=10, seed=0)


def test_commit_modes_figure_shows_latency_and_losses(modes):
    fig = view.plot_commit_modes(modes)
    assert_labelled(fig)
    axes = fig.named_axes
    latency = [b.get_height() for b in axes["latency"].containers[0]]
    lost = [b.get_height() for b in axes["lost"].containers[0]]
    assert latency == pytest.approx([1e3 * r.mean_commit_s for r in modes.values()])
    assert lost == [r.lost_writes for r in modes.values()]
    assert "per commit" in fig._suptitle.get_text()


def test_commit_modes_accepts_the_list_compare_returns(modes):
    assert_labelled(view.plot_commit_modes(list(modes.values())))


def test_lag_figure_marks_the_failover(modes):
    r = modes["async"]
    fig = view.plot_lag(r, fail_at=1.0, failover_s=0.2)
    assert_labelled(fig)
    ax = fig.axes[0]
    drawn = np.asarray(ax.lines[0].get_ydata(), dtype=float)
    np.testing.assert_array_equal(drawn[~np.isnan(drawn)], r.lag)  # every sample, in order
    assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.lines)


def test_lag_figure_reads_the_failure_from_the_run_and_marks_a_restart():
    failover = replication.run_single_primary(fail_at=1.0, duration_s=2.0)
    restart = replication.run_single_primary(fail_at=1.0, failover_s=None, down_s=0.5,
                                             duration_s=2.0)
    spans = {}
    for name, r in (("failover", failover), ("restart", restart)):
        ax = view.plot_lag(r).axes[0]
        assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.lines)
        (patch,) = ax.patches
        spans[name] = (patch.get_x(), patch.get_width(), patch.get_label())
    assert spans["failover"][:2] == pytest.approx((1.0, 0.2))
    assert spans["restart"][:2] == pytest.approx((1.0, 0.5))
    assert "restarting" in spans["restart"][2]


@pytest.mark.parametrize("commit", replication.COMMIT_MODES)
def test_write_timeline_follows_one_write(commit):
    trace = view.trace_write(3, commit=commit, delay_s=0.05, jitter_s=0.0, apply_s=0.005)
    assert set(trace.received_at) == set(trace.applied_at) == {"n1", "n2", "n3"}
    for name in trace.received_at:  # one network delay, then the replay
        assert trace.received_at[name] == pytest.approx(0.05)
        assert trace.applied_at[name] == pytest.approx(0.055)
    # a synchronous ack is the replica's report crossing back: one more network delay
    expected = {"async": 0.0, "remote_write": 0.1, "remote_apply": 0.105}[commit]
    assert trace.acked_at == pytest.approx(expected)
    if commit == "async":
        assert trace.reported_by is None
    else:
        sent = {"remote_write": 0.05, "remote_apply": 0.055}[commit]
        assert trace.reported_by in trace.received_at
        assert trace.reported_at == pytest.approx(sent)
        assert trace.acked_at - trace.reported_at == pytest.approx(trace.delay_s)
    assert_labelled(view.plot_write_timeline(trace))


def test_the_timeline_draws_the_acknowledgements_return_trip_in_every_mode():
    """Issue 19 §3: "the client waits 111 ms" while the replicas had the write at ~60 ms —
    the figure must show where the rest went: the report's arrow from the replica (at its
    received/applied instant) to the primary (at the ack), one panel per commit mode."""
    traces = [view.trace_write(commit=m, seed=4) for m in replication.COMMIT_MODES]
    fig = view.plot_write_timeline()
    assert [ax.get_ylabel() for ax in fig.axes] == list(replication.COMMIT_MODES)
    fig = view.plot_write_timeline(traces)
    for ax, t in zip(fig.axes, traces, strict=True):
        arrows = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
        rows = {label.get_text().split()[0]: y for label, y in
                zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
        title = ax.get_title("left")
        assert f"\"committed\" at {1e3 * t.acked_at:.0f} ms" in title
        if t.reported_by is None:
            assert not arrows and "before any replica" in title
            continue
        (arrow,) = arrows
        assert arrow.xyann == pytest.approx((1e3 * t.reported_at, rows[t.reported_by]))
        assert arrow.xy == pytest.approx((1e3 * t.acked_at, rows[t.primary]))
        took = 1e3 * (t.acked_at - t.reported_at)
        assert f"its report took {took:.0f} ms back" in title
        assert t.delay_s * 1e3 <= took <= (t.delay_s + 0.02) * 1e3  # delay + jitter



def test_conflicts_bars_are_the_results_numbers(conflicts):
    fig = view.plot_conflicts(conflicts)
    assert_labelled(fig)
    axes = fig.named_axes
    discarded = [b.get_height() for b in axes["discarded"].containers[0]]
    final = [b.get_height() for b in axes["final"].containers[0]]
    assert discarded == [conflicts.discarded[k] for k in conflicts.final_value]
    assert final == [conflicts.final_value[k] for k in conflicts.final_value]
    assert discarded[list(conflicts.final_value).index("counter")] == 0


def test_no_concurrency_says_nothing_is_discarded():
    r = replication.simulate_conflicts(window=1)
    assert "no rule discards" in view.plot_conflicts(r)._suptitle.get_text()


@pytest.mark.parametrize("plot", [view.plot_commit_modes, view.plot_lag,
                                  view.plot_write_timeline, view.plot_conflicts])
def test_plots_refuse_what_is_not_a_result(plot):
    with pytest.raises(TypeError, match="must be a scalekit"):
        plot("not a result")


def test_commit_modes_refuses_a_list_of_other_things():
    with pytest.raises(TypeError, match="must be a scalekit"):
        view.plot_commit_modes([1, 2])


def test_replication_panel_reports_lost_writes_only_in_async_failovers():
    p = view.explore_replication()
    assert p.result[0].lost_writes > 0
    p.controls["then"].value = "restart"  # nobody promoted: the primary keeps its log
    assert p.error == "" and p.result[0].lost_writes == 0 and p.result[0].unavailable > 0
    p.controls["then"].value = "failover"
    p.controls["commit"].value = "remote_apply"
    assert p.error == "" and p.result[0].lost_writes == 0


# ------------------------------------------------------------------ readable on a small screen


@functools.cache
def _figures():
    modes = replication.compare_commit_modes(fail_at=2.0, seed=0)
    restart = replication.run_single_primary(fail_at=2.0, failover_s=None, seed=0)
    return {
        "commit modes": view.plot_commit_modes(modes),
        "lag": view.plot_lag(replication.run_single_primary(seed=0)),
        "lag, restart": view.plot_lag(restart),
        "write timeline": view.plot_write_timeline(),
        "conflicts": view.plot_conflicts(replication.simulate_conflicts(seed=0)),
    }


@pytest.mark.parametrize(("kind", "name"), [("figure", n) for n in (
    "commit modes", "lag", "lag, restart", "write timeline", "conflicts")]
    + [("panel", p) for p in PANELS])
def test_every_text_is_at_least_9_px_and_inside_the_figure_at_1024_by_768(kind, name):
    if kind == "figure":
        fig, dpi = _figures()[name], PNG_DPI
    else:
        fig, dpi = getattr(view, name)().figure, SVG_PX_PER_IN
    texts = list(shown_text(fig, dpi))
    assert len(texts) > 10
    small = [(t, round(px, 1)) for t, px, _ in texts if px < SMALLEST_TEXT_PX]
    cut = [t for t, _, inside in texts if not inside]
    assert not small, f"{name}: text under {SMALLEST_TEXT_PX} px at 1024×768: {small}"
    assert not cut, f"{name}: text cut off at the figure's edge: {cut}"


def test_the_size_check_catches_the_old_9_5_inch_figures():
    """The check itself: the same legend at the former width (9.5 in, 950 px shown 588 px
    wide) falls to 7.3 px."""
    from scalekit.views.style import figure
    fig, ax = figure(width=9.5, height=3.0)
    ax.plot([0, 1], label="a legend entry")
    ax.legend(fontsize=8.5)
    sizes = {t: px for t, px, _ in shown_text(fig, PNG_DPI)}
    assert sizes["a legend entry"] == pytest.approx(8.5 * 588 / 950 * 100 / 72)
    assert sizes["a legend entry"] < SMALLEST_TEXT_PX
