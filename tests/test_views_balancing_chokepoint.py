"""The chokepoint view (scalekit.views.balancing.chokepoint): what its panel and figure
must show a student (the shared panel contract runs on every balancing panel in
test_views_balancing_policies.py).
"""

import numpy as np
import pytest
from _panels import assert_labelled

from scalekit.balancing import chokepoint
from scalekit.views.balancing import chokepoint as choke_view


def test_chokepoint_panel_compares_with_random_and_marks_the_balancer():
    p = choke_view.explore_chokepoint()
    assert p.result.policies == ("random", "fewest_connections")
    assert p.result.balancer_bound == ("fewest_connections",)
    assert "33,333" in p.status.value  # 1/(20 µs + 100 × 0.1 µs)
    p.controls["cores"].value = 2  # two cores: the balancer keeps up again
    assert p.result.balancer_bound == ()
    p.controls["policy"].value = "random"
    assert p.result.policies == ("random",)


FIGURES = [
    lambda: choke_view.plot_chokepoint(chokepoint.chokepoint_sweep(
        servers=20, mean_work_s=0.002, requests=1500, seed=1)),
    lambda: choke_view.plot_chokepoint(chokepoint.chokepoint_sweep(
        [500.0, 2000.0], servers=4, policies=["random"], mean_work_s=0.01, requests=300,
        seed=1)),
]


@pytest.mark.parametrize("make", FIGURES)
def test_figures_are_labelled(make):
    assert_labelled(make())


def test_chokepoint_plot_marks_both_capacities():
    # 20 servers of 2 ms: 10,000/s; fewest connections decides in 20 + 20 × 5 µs: 8,333/s.
    sweep = chokepoint.chokepoint_sweep(servers=20, mean_work_s=0.002, per_server_s=5e-6,
                                        requests=600, seed=1)
    fig = choke_view.plot_chokepoint(sweep)
    latency = fig.axes[1]
    marks = {round(float(line.get_xdata()[0]), 3) for line in latency.lines
             if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]}
    assert round(sweep.servers_capacity_rps, 3) in marks
    for cap in sweep.balancer_capacity_rps:
        if cap <= sweep.rates_rps.max():
            assert round(float(cap), 3) in marks
    assert "the balancer saturates first, at 8,333/s" in fig._suptitle.get_text()


@pytest.mark.parametrize("plot", [choke_view.plot_chokepoint])
def test_plots_refuse_what_is_not_a_result(plot):
    with pytest.raises(TypeError, match="must be a scalekit"):
        plot({"mean_s": np.ones(3)})
