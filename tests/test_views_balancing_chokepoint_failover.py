"""The chokepoint and failover views: what each panel and figure must show a student (the
shared panel contract runs on every panel in test_views_balancing.py).
"""

import numpy as np
import pytest
from _panels import assert_labelled

from scalekit.balancing import chokepoint, failover
from scalekit.views.balancing import chokepoint as choke_view
from scalekit.views.balancing import failover as failover_view


def test_chokepoint_panel_compares_with_random_and_marks_the_balancer():
    p = choke_view.explore_chokepoint()
    assert p.result.policies == ("random", "fewest_connections")
    assert p.result.balancer_bound == ("fewest_connections",)
    assert "33,333" in p.status.value  # 1/(20 µs + 100 × 0.1 µs)
    p.controls["cores"].value = 2  # two cores: the balancer keeps up again
    assert p.result.balancer_bound == ()
    p.controls["policy"].value = "random"
    assert p.result.policies == ("random",)


def test_failover_panel_marks_the_chosen_timeout():
    p = failover_view.explore_failover()
    t, j = p.result
    assert t.timeouts_s[j] == pytest.approx(3.609375)
    p.controls["missed"].value = 5.5
    t, j = p.result
    assert t.missed[j] == 5.5 and t.timeouts_s[j] == pytest.approx(5.5 + 0.609375)
    assert "5.5 ×" in p.status.value


FIGURES = [
    lambda: choke_view.plot_chokepoint(chokepoint.chokepoint_sweep(
        servers=20, mean_work_s=0.002, requests=1500, seed=1)),
    lambda: choke_view.plot_chokepoint(chokepoint.chokepoint_sweep(
        [500.0, 2000.0], servers=4, policies=["random"], mean_work_s=0.01, requests=300,
        seed=1)),
    lambda: failover_view.plot_failover(failover.simulate_failover(seed=1)),
    lambda: failover_view.plot_failover_tradeoff(failover.failover_tradeoff(seed=1)),
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


def test_failover_plot_shows_the_crash_and_the_takeover():
    r = failover.simulate_failover(seed=2)
    fig = failover_view.plot_failover(r)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("declared down" in s for s in labels)
    assert any("takeover" in s for s in labels)
    assert f"{r.requests_failed:,}" in ax.get_title()
    texts = [t.get_text() for t in ax.texts]
    assert any(f"{r.requests_failed:,} failed" == s for s in texts)


@pytest.mark.parametrize("plot", [choke_view.plot_chokepoint, failover_view.plot_failover,
                                  failover_view.plot_failover_tradeoff])
def test_plots_refuse_what_is_not_a_result(plot):
    with pytest.raises(TypeError, match="must be a scalekit"):
        plot({"mean_s": np.ones(3)})
