"""Notebook 02's panels and figures: the shared panel contract for every panel, then what
each figure must show a student."""

import numpy as np
import pytest
from _panels import PanelContract, assert_labelled

from scalekit import balancing
from scalekit.views import balancing as view
from scalekit.views.style import drawing_into, to_png

PANELS = ["explore_policies", "explore_backend_failure", "explore_chokepoint",
          "explore_failover"]


class TestBalancingPanels(PanelContract):
    @pytest.fixture(params=PANELS)
    def panel(self, request):
        return getattr(view, request.param)()


@pytest.fixture(scope="module")
def comparison():
    return balancing.compare_policies([*balancing.SEED_POLICIES, "least_work"], servers=6,
                                      load=0.8, requests=4000, seed=2)


def test_policies_figure_is_labelled_and_names_the_winner(comparison):
    fig = view.plot_policies(comparison)
    assert_labelled(fig)
    assert fig._suptitle.get_text().startswith(comparison.best.replace("_", " "))


def test_queue_heat_map_shows_the_queues_the_model_counted(comparison):
    """The heat map's rows are the servers' queue lengths, policy by policy, in order."""
    fig = view.plot_policies(comparison)
    image = fig.named_axes["queues"].images[0].get_array()
    k = comparison["random"].servers
    gap = max(1, k // 4)
    horizon = comparison["random"].horizon_s
    t = np.linspace(0.0, horizon, image.shape[1])
    for i, name in enumerate(list(comparison.results)[:4]):
        band = np.asarray(image[i * (k + gap): i * (k + gap) + k])
        np.testing.assert_array_equal(band, comparison[name].queue_lengths(t))


def test_one_policy_alone_draws(comparison):
    one = balancing.compare_policies(["random"], servers=3, load=0.5, requests=500)
    assert_labelled(view.plot_policies(one))


def test_policy_panel_flags_an_unstable_load():
    p = view.explore_policies()
    p.controls["load"].value = 1.2
    assert "UNSTABLE" in p.status.value and p.error == ""


def test_supermarket_figure():
    runs = balancing.supermarket_runs(loads=(0.5, 0.8), choices=(1, 2), servers=20,
                                      requests=5000)
    assert_labelled(view.plot_supermarket(runs, servers=20))
    assert_labelled(view.plot_supermarket())


def test_a_reused_policy_figure_equals_a_fresh_one(comparison):
    other = balancing.compare_policies(["random", "round_robin"], servers=6, load=0.5,
                                       requests=2000)
    fig = view.plot_policies(other)
    with drawing_into(fig):
        again = view.plot_policies(comparison)
    assert again is fig
    assert to_png(again) == to_png(view.plot_policies(comparison))


@pytest.mark.parametrize("plot", [view.plot_policies, view.plot_backend_failure])
def test_plots_refuse_what_is_not_a_result(plot):
    with pytest.raises(TypeError, match="must be a scalekit"):
        plot("not a result")
