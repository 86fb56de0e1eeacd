"""The request flow's views: the still figure shows the trace it is given, and the animated
widget carries that same trace to the browser (the browser side: test_browser_flow.py)."""

import json
from importlib import resources

import numpy as np
import pytest
from _panels import assert_labelled
from matplotlib.collections import LineCollection, PathCollection

from scalekit import balancing, flow, sessions, sim
from scalekit.views import flow as view


@pytest.fixture(scope="module")
def timed():
    w = sim.Workload.poisson(rate_rps=12.8, service=sim.Exponential(1.0), n=1000, seed=1)
    rule = balancing.policy("round_robin")
    return flow.trace_results(sim.run(w, servers=16, policy=rule, seed=1))


@pytest.fixture(scope="module")
def failure():
    w = sim.Workload.poisson(rate_rps=3.0, service=sim.Exponential(1.0), horizon_s=60.0,
                             seed=2)
    return balancing.simulate_backend_failure(w, crashed_at=20.0, recovered_at=40.0,
                                              servers=4, seed=3)


@pytest.fixture(scope="module")
def sticky():
    return sessions.simulate_sessions(strategy="sticky_cookie", users=50,
                                      server_fails_at=60.0, real_store=False, seed=1)


def test_still_figures_are_labelled(timed, failure, sticky):
    for trace in (timed, flow.trace_backend_failure(failure), flow.trace_sessions(sticky)):
        assert_labelled(view.plot_flow(trace))


def test_still_figure_draws_each_request_where_the_trace_has_it(timed):
    """Every served request is one thick segment on its server's row, from the start of
    service to the departure — the same instants the animation replays."""
    rows = view.plot_flow(timed).axes[0]
    thick = [c for c in rows.collections if isinstance(c, LineCollection)
             and c.get_linewidth()[0] > 2]
    assert len(thick) == 1
    drawn = np.array([seg for seg in thick[0].get_segments()])
    served = np.isfinite(timed.started_at)
    np.testing.assert_allclose(drawn[:, 0, 0], timed.started_at[served])
    np.testing.assert_allclose(drawn[:, 1, 0], timed.departures_at[served])
    np.testing.assert_array_equal(drawn[:, 0, 1], timed.server_of[served])


def test_still_figure_marks_the_failures_and_states_the_finding(failure):
    trace = flow.trace_backend_failure(failure)
    fig = view.plot_flow(trace)
    rows = fig.axes[0]
    crosses = [c for c in rows.collections if isinstance(c, PathCollection)
               and c.get_label() == "failed"]
    failed = np.isin(trace.outcome, [flow.REFUSED, flow.LOST])
    np.testing.assert_allclose(crosses[0].get_offsets()[:, 0], trace.ended_at[failed])
    title = rows.get_title(loc="left")
    assert f"crashed at {failure.crashed_at:.1f} s" in title
    assert f"marked down {failure.detection_s:.1f} s later" in title


def test_untimed_still_figure_shows_answers_and_lost_sessions(sticky):
    trace = flow.trace_sessions(sticky)
    rows = view.plot_flow(trace).axes[0]
    labels = {c.get_label() for c in rows.collections}
    assert {"answered", "failed", "session lost"} <= labels


def test_plot_takes_a_trace():
    with pytest.raises(TypeError, match="scalekit.flow.FlowTrace"):
        view.plot_flow(object())


def test_widget_carries_the_trace_and_plays_it_in_about_twenty_seconds(timed):
    w = view.FlowView(timed)
    assert w.trace == json.loads(json.dumps(timed.to_json(), allow_nan=False))
    assert w.summary == timed.summary() == w.trace["summary"]
    end = max(timed.horizon_s, float(timed.ended_at.max()))
    assert end / w.speed == pytest.approx(view.widget.PLAY_S)
    assert not w.playing and w.time_s == 0.0
    assert view.FlowView(timed, speed=3.0).speed == 3.0
    with pytest.raises(ValueError, match="speed"):
        view.FlowView(timed, speed=0)
    with pytest.raises(TypeError, match="FlowTrace"):
        view.FlowView("a trace")


def test_animate_builds_the_trace_of_each_model(timed, failure, sticky):
    assert view.animate(failure).summary == flow.trace_backend_failure(failure).summary()
    assert view.animate(sticky).summary == flow.trace_sessions(sticky).summary()
    assert view.animate(timed).flow is timed
    with pytest.raises(TypeError, match="scalekit.sim.Results"):
        view.animate(42)


def test_the_es_module_and_its_style_ship_in_the_package():
    """anywidget loads the ES module as is (no build step): it must be in the package,
    and export a render function (anywidget documentation, "Anywidget Front-End Module")."""
    folder = resources.files("scalekit.views.flow")
    js = (folder / "flow.js").read_text()
    assert "export default { render }" in js
    assert (folder / "flow.css").read_text().strip()
    w = view.FlowView(flow.flow_trace([0.0], [0], [1.0], servers=1))
    assert w._esm == js
