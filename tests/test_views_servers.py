"""Widget panels driven from Python, and every figure checked for what a student reads.

The checks every panel must pass live in tests/_panels.py; here, the servers panels'
own behaviour.
"""


import numpy as np
import pytest
from _panels import PanelContract, assert_labelled

from scalekit.servers import heartbeats, scaling
from scalekit.views import servers as view

PANELS = ["explore_saturation", "explore_ramp", "explore_scaling", "explore_usl",
          "explore_autoscaling", "explore_heartbeats"]


class TestServerPanels(PanelContract):
    @pytest.fixture(params=PANELS)
    def panel(self, request):
        return getattr(view, request.param)()


def test_autoscaling_panel_reports_min_above_max_instead_of_crashing():
    p = view.explore_autoscaling()
    p.controls["max_servers"].value = 3
    p.controls["min_servers"].value = 10
    assert "min_servers" in p.error
    assert p.picture  # the last good figure stays on screen


def test_saturation_panel_flags_an_unstable_server():
    p = view.explore_saturation()
    p.controls["rate_rps"].value = 150  # capacity is 100/s at 10 ms
    assert p.result[0].unstable and "UNSTABLE" in p.status.value


FIGURES = [
    lambda: view.plot_saturation(view.saturate(seed=1)),
    lambda: view.plot_usl(0.05, 0.001),
    lambda: view.plot_usl(0.05, 0.0),
    lambda: view.plot_costs(scaling.CostModel(), np.linspace(50, 8000, 40)),
    lambda: view.plot_scaling(scaling.compare_scaling(4, 0.8, requests=2000, seed=1)),
    lambda: view.plot_heartbeats(heartbeats.simulate_heartbeats(crashed_at=500.5, seed=1)),
    lambda: view.plot_timeout_tradeoff(heartbeats.timeout_tradeoff(seed=1)),
]


@pytest.mark.parametrize("make", FIGURES)
def test_figures_are_labelled(make):
    assert_labelled(make())


def test_figure_reuse_only_for_the_same_layout():
    from scalekit.views.style import drawing_into, figure

    first, _ = figure(2)
    with drawing_into(first):
        same, _ = figure(2)
        other, _ = figure(1)
    assert same is first and other is not first


@pytest.mark.parametrize("plot", [view.plot_saturation, view.plot_ramp, view.plot_scaling,
                                  view.plot_benchmark, view.plot_heartbeats,
                                  view.plot_timeout_tradeoff, view.plot_autoscaling])
def test_plots_refuse_what_is_not_a_result(plot):
    with pytest.raises(TypeError, match="must be a scalekit"):
        plot({"mean_s": 1.0})


def test_plot_inputs_are_checked():
    with pytest.raises(TypeError, match="model"):
        view.plot_costs("cheap", [100.0])
    with pytest.raises(ValueError, match="sigma"):
        view.plot_usl(1.5, 0.0)
    with pytest.raises(TypeError, match="at least one"):
        view.plot_autoscaling()


def test_saturation_theory_curve_follows_the_server_speed():
    """A 4× server's M/M/1 curve is W = S/4 ÷ (1 − ρ): 1.25 s at ρ = 0.8 with S = 1 s."""
    fig = view.plot_saturation(scaling.compare_scaling(4, 0.8, requests=2000, seed=1).vertical)
    curve = next(line for line in fig.axes[1].lines if line.get_label().startswith("theory"))
    x, y = curve.get_data()
    assert np.interp(0.8, x, y) == pytest.approx(1250.0, rel=0.01)


def test_ramp_plot_shows_the_percentile_the_slo_was_judged_on():
    from scalekit import sim
    from scalekit.servers import capacity

    res = capacity.ramp(sim.Exponential(0.01), rates_rps=[20.0, 40.0], slo_s=1.0, percentile=90,
                        step_s=200.0, seed=1)
    fig = view.plot_ramp(res)
    right = fig.axes[1]
    assert right.get_ylabel() == "p90 latency (ms)"
    plotted = np.concatenate([line.get_ydata() for line in right.lines
                              if line.get_label() in ("met the SLO", "breached")])
    np.testing.assert_allclose(np.sort(plotted), np.sort(res.column("tail_s") * 1e3))
