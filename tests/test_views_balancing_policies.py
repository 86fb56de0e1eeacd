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


# ------------------------------------------------------------------ the moving picture


@pytest.fixture(scope="module")
def small():
    """Notebook 02's flows: 400 requests, the three seed rules, the same arrivals."""
    return balancing.compare_policies(balancing.SEED_POLICIES, servers=8, load=0.85,
                                      requests=400, seed=1)


def test_animated_policies_replay_the_model_on_the_same_arrivals(small):
    """Each view's trace is its rule's run (issue 15: the model is the truth): the same
    arrival instants in every view, each request on the server the model chose, leaving
    when the model says."""
    box = view.animate_policies(small)
    assert list(box.views) == list(small.results) == list(balancing.SEED_POLICIES)
    for name, v in box.views.items():
        run, trace = small[name], v.flow
        assert np.array_equal(trace.arrivals_at, small["random"].arrivals_at)
        assert np.array_equal(trace.server_of, run.server_of)
        assert np.array_equal(trace.departures_at, run.departures_at)
        assert trace.title == name.replace("_", " ")


def test_animated_policies_play_pause_and_scrub_together(small):
    """One speed for all, and browser-side links chaining play, speed and time through the
    three views (so starting one starts all, pausing one stops all where it stopped)."""
    box = view.animate_policies(small, speed=0.5)
    views = list(box.views.values())
    assert {v.speed for v in views} == {0.5}
    linked = {(link.source[0], link.target[0], link.source[1]) for link in box.links}
    for a, b in zip(views[:-1], views[1:], strict=True):
        for trait in ("playing", "speed", "time_s"):
            assert (a, b, trait) in linked
    assert box.layout.flex_flow == "row wrap"  # side by side, stacked on a narrow screen
    default = view.animate_policies(small)
    end = max(float(np.nanmax(r.departures_at)) for r in small.results.values())
    assert list(default.views.values())[0].speed == pytest.approx(end / 20.0, rel=0.05)


def test_animate_policies_refuses_what_it_cannot_replay(small):
    with pytest.raises(TypeError, match="comparison must be a scalekit.balancing.Comparison"):
        view.animate_policies(small["random"])
    big = balancing.compare_policies(["random"], servers=4, load=0.5, requests=6_000, seed=1)
    with pytest.raises(ValueError, match="animate at most 5,000"):
        view.animate_policies(big)
