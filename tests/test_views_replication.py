"""Notebook 05's panels and figures: the shared panel contract, then what each figure must
show a student."""

import numpy as np
import pytest
from _panels import PanelContract, assert_labelled

from scalekit import replication
from scalekit.views import replication as view

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
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), r.lag)
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
    expected = {"async": 0.0, "remote_write": 0.1, "remote_apply": 0.105}[commit]
    assert trace.acked_at == pytest.approx(expected)
    assert_labelled(view.plot_write_timeline(trace))


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
