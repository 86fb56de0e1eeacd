"""Notebook 03's user through the failure (issue 15 §1): the still figure draws the traces'
requests where the model put them, the animation replays the chosen strategy's trace, and
what the notebook says of the user it follows is what the model did. The user to follow is
the model's choice (SessionsResult.returning_users), checked against its definition."""

import numpy as np
import pytest
from _screen import SMALLEST_TEXT_PX, shown_text

from scalekit import flow, sessions
from scalekit.views import sessions as view
from scalekit.views.style import PNG_DPI


@pytest.fixture(scope="module")
def failure():
    return sessions.compare_strategies(server_fails_at=60.0, detection_s=6.0, seed=1)


@pytest.fixture(scope="module")
def journeys(failure):
    user = failure.user_to_follow()
    return {k: flow.trace_sessions(r, follow=[user]) for k, r in failure.results.items()}


def test_the_user_to_follow_was_on_the_dead_server_and_came_back(failure):
    user = failure.user_to_follow()
    for name in ("sticky_cookie", "sticky_ip"):
        r = failure[name]
        assert user in r.returning_users()
        mine = r.user_of == user
        before = mine & (r.arrivals_at < 60.0) & np.isin(r.outcome, [sessions.cluster.SERVED,
                                                                     sessions.cluster.LOST])
        assert r.server_of[before][-1] == 0  # the session lived on server 0 at the crash
        assert (r.arrivals_at[mine] >= r.marked_down_at).any()


def test_returning_users_are_exactly_those_the_definition_names(failure):
    """Recomputed user by user, the slow way, for the sticky cookie run."""
    r = failure["sticky_cookie"]
    expected = []
    for u in range(r.users):
        mine = np.flatnonzero(r.user_of == u)
        answered = [j for j in mine if r.arrivals_at[j] < r.server_fails_at
                    and r.outcome[j] in (sessions.cluster.SERVED, sessions.cluster.LOST)]
        if answered and r.server_of[answered[-1]] == r.failed_server \
                and (r.arrivals_at[mine] >= r.marked_down_at).any():
            expected.append(u)
    assert sorted(r.returning_users().tolist()) == expected
    assert sessions.simulate_sessions(strategy="none", seed=1).returning_users().size == 0


def test_what_the_notebook_says_of_the_user_is_what_the_model_did(journeys, failure):
    """Every strategy refuses one of the user's requests between the crash and the
    mark-down; afterwards the sticky ones log the user out once, the database and the
    cookie never."""
    user = failure.user_to_follow()
    down = failure["none"].marked_down_at
    for name, trace in journeys.items():
        mine = trace.user_of == user
        at, o = trace.arrivals_at[mine], trace.outcome[mine]
        window = (at >= 60.0) & (at < down)
        assert (o[window] == flow.REFUSED).any(), name
        later = o[at >= down]
        if name in ("sticky_cookie", "sticky_ip"):
            assert (later == flow.LOST_SESSION).sum() == 1, name
        elif name in ("database", "client"):
            assert not (o == flow.LOST_SESSION).any(), name


def test_the_figure_marks_each_of_the_users_requests_where_the_trace_has_it(journeys):
    fig = view.plot_journeys(journeys)
    user = next(iter(journeys.values())).followed_users[0]
    for ax, trace in zip(fig.axes, journeys.values(), strict=True):
        mine = trace.user_of == user
        drawn = {}
        for points, label in zip(ax.collections[1:], [s[2] for s in
                                                      view.journeys.OUTCOME_STYLE.values()],
                                 strict=True):
            drawn[label] = points.get_offsets()
        for code, (_, _, label, _) in view.journeys.OUTCOME_STYLE.items():
            pick = mine & (trace.outcome == code)
            np.testing.assert_array_equal(
                np.asarray(drawn[label]).reshape(-1, 2),
                np.column_stack([trace.arrivals_at[pick], trace.server_of[pick]]))
        assert ax.collections[0].get_offsets().shape[0] == int((~mine).sum())
    kept = [k for k, t in journeys.items()
            if not ((t.user_of == user) & (t.outcome == flow.LOST_SESSION)).any()]
    assert fig._suptitle.get_text().endswith(
        "kept the session under " + ", ".join(view.journeys._label(k) for k in kept))


def test_the_figure_is_readable_at_1024x768(journeys):
    texts = list(shown_text(view.plot_journeys(journeys), PNG_DPI))
    assert not [(t, px) for t, px, _ in texts if px < SMALLEST_TEXT_PX]
    assert not [t for t, _, inside in texts if not inside]


def test_the_animation_replays_the_chosen_strategys_trace(journeys):
    box = view.animate_journeys(journeys)
    fv = box.flow_view
    assert fv.trace == journeys["none"].to_json()
    fv.playing, fv.time_s = True, 30.0
    box.strategy.value = "client"
    assert fv.trace == journeys["client"].to_json() and fv.flow is journeys["client"]
    assert fv.playing is False and fv.time_s == 0.0
    assert fv.summary == journeys["client"].summary()
    assert box.strategy.options[2] == ("sticky IP", "sticky_ip")


@pytest.mark.parametrize("bad, error", [
    ({}, TypeError), ([], TypeError), ({"none": "not a trace"}, TypeError)])
def test_bad_input_is_named(bad, error):
    with pytest.raises(error, match="traces"):
        view.plot_journeys(bad)
    with pytest.raises(error, match="traces"):
        view.animate_journeys(bad)


def test_traces_that_follow_different_users_are_refused(failure):
    a = flow.trace_sessions(failure["none"], follow=[1])
    b = flow.trace_sessions(failure["client"], follow=[2])
    with pytest.raises(ValueError, match="same one user"):
        view.plot_journeys({"none": a, "client": b})
