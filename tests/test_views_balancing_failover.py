"""The failover view (scalekit.views.balancing.failover): what its panel and figures must
show a student (the shared panel contract runs on every balancing panel in
test_views_balancing_policies.py).
"""

import numpy as np
import pytest
from _panels import assert_labelled

from scalekit.balancing import failover
from scalekit.views.balancing import failover as failover_view


def test_failover_panel_marks_the_chosen_timeout():
    p = failover_view.explore_failover()
    t, j = p.result
    assert t.timeouts_s[j] == pytest.approx(3.609375)
    p.controls["missed"].value = 5.5
    t, j = p.result
    assert t.missed[j] == 5.5 and t.timeouts_s[j] == pytest.approx(5.5 + 0.609375)
    assert "5.5 ×" in p.status.value


FIGURES = [
    lambda: failover_view.plot_failover(failover.simulate_failover(seed=1)),
    lambda: failover_view.plot_failover_tradeoff(failover.failover_tradeoff(seed=1)),
]


@pytest.mark.parametrize("make", FIGURES)
def test_figures_are_labelled(make):
    assert_labelled(make())


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


@pytest.mark.parametrize("plot", [failover_view.plot_failover,
                                  failover_view.plot_failover_tradeoff])
def test_plots_refuse_what_is_not_a_result(plot):
    with pytest.raises(TypeError, match="must be a scalekit"):
        plot({"mean_s": np.ones(3)})
