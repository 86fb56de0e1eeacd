"""The backend-failure view: the timeline figure and its widget panel, driven from Python
(the shared panel contract runs on every panel in test_views_balancing_policies.py). The
figure is checked for what a student reads: a title stating the finding, labelled axes, the
crash and the health checks' marks where the model put them (HAProxy ``inter``/``rise``/
``fall``).
"""

import math

import numpy as np
import pytest
from _panels import other_value

from scalekit import sim
from scalekit.balancing import health
from scalekit.views.balancing import health as view
from scalekit.views.style import Figure, to_png


@pytest.fixture(scope="module")
def workload():
    return sim.Workload.poisson(200.0, sim.Exponential(0.01), horizon_s=60.0, seed=3)


@pytest.fixture
def panel():
    return view.explore_backend_failure()


# ------------------------------------------------------------------ the panel


def test_panel_draws_at_defaults(panel):
    assert panel.error == ""
    assert b"<svg" in panel.picture[:500] and len(panel.picture) > 5000
    assert panel.image.value == panel.picture
    r = panel.result
    assert isinstance(r, health.BackendFailureResult)
    assert (r.inter_s, r.fall, r.rise, r.redispatch, r.policy) == (2.0, 3, 2, True,
                                                                   "round_robin")
    assert "sent to the dead server" in panel.status.value
    assert f"{r.retried:,} retried" in panel.status.value


def test_refresh_time_is_measured(panel):
    """Measured, not asserted (a shared 2-core machine makes timings noisy): the panel
    records each refresh — model, plot and SVG — in refresh_ms."""
    times = []
    for _ in range(3):
        panel.refresh()
        times.append(panel.refresh_ms)
    assert all(math.isfinite(t) and t > 0 for t in times)


def test_every_control_changes_the_output(panel):
    field = {"inter_s": "inter_s", "fall": "fall", "rise": "rise",
             "redispatch": "redispatch", "policy": "policy"}
    for name, control in panel.controls.items():
        before_png, before_result, original = panel.picture, panel.result, control.value
        control.value = other_value(control)
        assert panel.error == "", f"{name}: {panel.error}"
        assert panel.result is not before_result, f"{name} did not rerun the model"
        assert getattr(panel.result, field[name]) == control.value, f"{name} not passed on"
        assert panel.picture != before_png, f"{name} did not change the figure"
        control.value = original  # test each control from the defaults


def test_every_extreme_together_draws(panel):
    """Slowest checks, most failures needed, no redispatch: the checks never notice the
    8 s outage, and the figure says so."""
    c = panel.controls
    c["inter_s"].value, c["fall"].value, c["rise"].value = c["inter_s"].max, c["fall"].max, 1
    c["redispatch"].value = False
    assert panel.error == ""
    assert math.isnan(panel.result.marked_down_at)
    assert "before the checks noticed" in panel.figure.axes[0].get_title()


# ------------------------------------------------------------------ the figure


def _lines_at(ax, x):
    return [line for line in ax.lines
            if len(line.get_xdata()) == 2 and np.allclose(line.get_xdata(), [x, x])]


def test_the_figure_states_the_finding_and_marks_the_checks(workload):
    r = health.simulate_backend_failure(workload, crashed_at=30.0, recovered_at=45.0,
                                        redispatch=False, seed=4)
    fig = view.plot_backend_failure(r)
    assert isinstance(fig, Figure) and fig._repr_png_().startswith(b"\x89PNG")
    ax = fig.axes[0]
    title = " ".join(ax.get_title().split())  # wrapped to fit 7.2 in: one line here
    assert title == (f"Server 0 died at 30 s; health checks took {r.detection_s:.1f} s to "
                     f"notice; {r.failed:,} requests failed")
    assert ax.get_xlabel() == "time (s)" and "per second" in ax.get_ylabel()
    for instant in (r.crashed_at, r.marked_down_at, r.recovered_at, r.marked_up_at):
        assert len(_lines_at(ax, instant)) == 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"marked down at {r.marked_down_at:.1f} s (fall 3)" in labels
    assert "retried elsewhere" not in labels  # nothing is retried without redispatch
    assert len(to_png(fig)) > 5000


def test_the_plotted_rates_add_up_to_the_counts(workload):
    r = health.simulate_backend_failure(workload, crashed_at=20.0, seed=5)
    ax = view.plot_backend_failure(r, bin_s=0.5).axes[0]
    steps = {p.get_label(): p.get_data() for p in ax.patches if p.get_label() in
             ("served", "failed", "retried elsewhere")}
    assert set(steps) == {"served", "failed", "retried elsewhere"}
    assert steps["failed"].values.sum() * 0.5 == pytest.approx(r.failed)
    assert steps["retried elsewhere"].values.sum() * 0.5 == pytest.approx(r.retried)
    assert np.diff(steps["served"].edges) == pytest.approx(0.5)
    assert f"{r.retried:,} retried elsewhere" in ax.get_title()


def test_a_mark_after_the_end_is_named_in_the_legend(workload):
    r = health.simulate_backend_failure(workload, crashed_at=40.0, recovered_at=55.0,
                                        rise=5, seed=2)
    assert r.marked_up_at > r.horizon_s
    ax = view.plot_backend_failure(r).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("marked up" in t and "after the end" in t for t in labels)
    assert not _lines_at(ax, r.marked_up_at)
    assert ax.get_xlim()[1] == pytest.approx(r.horizon_s)


def test_plot_refuses_what_is_not_a_result():
    with pytest.raises(TypeError, match="must be a scalekit"):
        view.plot_backend_failure({"failed": 3})
    with pytest.raises(TypeError, match="must be a scalekit"):
        view.plot_backend_failure(sim.run(sim.Workload([0.0, 1.0], [0.1, 0.1]), servers=2))


def test_plot_checks_its_bin_width(workload):
    r = health.simulate_backend_failure(workload, crashed_at=20.0, seed=5)
    with pytest.raises(ValueError, match="bin_s"):
        view.plot_backend_failure(r, bin_s=-1.0)
