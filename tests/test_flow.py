"""The request-flow trace against the models' own results (same seed, same requests).

The trace stores no service times: it reads when service began from arrivals and departures
(start_n = max(a_n, d_{n−1}) per FIFO server — D. V. Lindley, "The theory of queues with a
single server", Proc. Cambridge Philosophical Society 48 (1952), eq. 1). The tests check that
against the service times the workload drew, which the trace never sees: departure − start
must be each request's work ÷ its server's speed.
"""

import json
import math

import numpy as np
import pytest

from scalekit import balancing, flow, sessions, sim


def workload(n=2000, rate=3.2, seed=7):
    return sim.Workload.poisson(rate_rps=rate, service=sim.Exponential(1.0), n=n, seed=seed)


@pytest.fixture(params=["random", "round_robin", "fewest_connections", "shared"])
def policy(request):
    return request.param


SPEEDS = (1.0, 2.0, 0.5, 1.0)


def dispatch(name):
    """What sim.run takes: "shared" (one queue) or a balancer policy, resolved by name."""
    return name if name == "shared" else balancing.policy(name)


def test_trace_keeps_the_runs_requests(policy):
    w = workload()
    r = sim.run(w, speeds=SPEEDS, policy=dispatch(policy), seed=3)
    t = flow.trace_results(r)
    np.testing.assert_array_equal(t.arrivals_at, r.arrivals_at)
    np.testing.assert_array_equal(t.server_of, r.server_of)
    np.testing.assert_array_equal(t.departures_at, r.departures_at)
    assert t.servers == r.servers and t.timed and len(t) == len(w)
    assert t.counts["served"] == len(w)


def test_start_of_service_is_departure_less_the_work_the_model_drew(policy):
    """Lindley's recursion read backwards: the trace's start times, computed from arrivals
    and departures only, leave exactly each request's service time work ÷ speed."""
    w = workload()
    r = sim.run(w, speeds=SPEEDS, policy=dispatch(policy), seed=3)
    t = flow.trace_results(r)
    service = w.work_s / np.asarray(SPEEDS)[r.server_of]
    np.testing.assert_allclose(t.departures_at - t.started_at, service, rtol=0, atol=1e-9)
    assert np.all(t.started_at >= t.arrivals_at - 1e-12)


def test_a_server_serves_one_request_at_a_time_in_arrival_order(policy):
    t = flow.trace_results(sim.run(workload(), speeds=SPEEDS, policy=dispatch(policy), seed=3))
    for s in range(t.servers):
        mine = t.server_of == s
        start, end = t.started_at[mine], t.departures_at[mine]
        assert np.all(np.diff(start) >= 0), "FIFO: served in the order they arrived"
        assert np.all(start[1:] >= end[:-1] - 1e-12), "one at a time"


def test_requests_at_each_server_agree_with_the_results_count(policy):
    r = sim.run(workload(), speeds=SPEEDS, policy=dispatch(policy), seed=3)
    t = flow.trace_results(r)
    grid = np.linspace(0.0, r.horizon_s, 997)
    theirs = r.queue_lengths(grid)
    for s in range(t.servers):
        np.testing.assert_array_equal(t.in_system_at(grid, s), theirs[s])
        waiting = t.waiting_at(grid, s)
        assert np.all(waiting == np.maximum(theirs[s] - 1, 0)), "all but the one in service"


def test_dropped_requests_reach_no_server():
    r = sim.run(workload(rate=6.0), servers=3, policy=dispatch("round_robin"), queue_limit=2,
                seed=1)
    t = flow.trace_results(r)
    dropped = np.isnan(r.departures_at)
    assert dropped.any()
    assert t.counts["dropped (queue full)"] == dropped.sum()
    assert np.all(t.server_of[t.outcome == flow.DROPPED] == -1)
    np.testing.assert_array_equal(t.ended_at[dropped], t.arrivals_at[dropped])


def test_cache_hits_join_in_arrival_order_answered_at_once():
    misses = workload(n=300)
    hits = workload(n=500, rate=5.0, seed=8).arrivals_at
    t = flow.trace_results(sim.run(misses, servers=2, seed=1), cache_hits_at=hits)
    assert len(t) == 800 and np.all(np.diff(t.arrivals_at) >= 0)
    hit = t.outcome == flow.CACHE_HIT
    np.testing.assert_array_equal(t.arrivals_at[hit], np.sort(hits))
    np.testing.assert_array_equal(t.departures_at[hit], t.arrivals_at[hit])
    assert np.all(t.server_of[hit] == -1) and np.all(np.isnan(t.started_at[hit]))
    assert "500 by the cache" in t.summary()


def test_same_seed_same_trace():
    a = flow.trace_results(sim.run(workload(), servers=4, policy=dispatch("random"), seed=5))
    b = flow.trace_results(sim.run(workload(), servers=4, policy=dispatch("random"), seed=5))
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())


# --------------------------------------------------------------------------- health checks


@pytest.fixture(scope="module")
def failure():
    w = sim.Workload.poisson(rate_rps=3.5, service=sim.Exponential(1.0), horizon_s=200.0,
                             seed=11)
    r = balancing.simulate_backend_failure(w, crashed_at=60.0, recovered_at=120.0, servers=4,
                                           policy=dispatch("round_robin"), seed=2)
    return w, r, flow.trace_backend_failure(r)


def test_failure_trace_has_the_models_events(failure):
    _, r, t = failure
    assert [(e.kind, e.at, e.server) for e in t.events] == [
        ("crash", r.crashed_at, 0), ("mark_down", r.marked_down_at, 0),
        ("recover", r.recovered_at, 0), ("mark_up", r.marked_up_at, 0)]
    assert t.counts["served"] == r.served
    assert t.counts["lost in flight"] == r.lost_in_flight > 0
    assert t.counts["refused by a dead server"] == r.refused
    assert t.redispatched == r.retried > 0


def test_failure_trace_service_times_are_the_workloads(failure):
    w, r, t = failure
    served = t.outcome == flow.SERVED
    np.testing.assert_allclose(t.departures_at[served] - t.started_at[served],
                               w.work_s[served], rtol=0, atol=1e-9)


def test_nothing_is_served_at_the_dead_server_while_it_is_down(failure):
    _, r, t = failure
    at_dead = (t.server_of == 0) & (t.outcome == flow.SERVED)
    start, end = t.started_at[at_dead], t.departures_at[at_dead]
    overlaps = (start < r.recovered_at) & (end > r.crashed_at)
    assert not overlaps.any()
    lost = t.outcome == flow.LOST
    assert np.all(t.server_of[lost] == 0) and np.all(t.ended_at[lost] == r.crashed_at)


def test_a_redispatched_request_goes_from_the_dead_server_to_another(failure):
    _, r, t = failure
    again = t.first_server != t.server_of
    assert np.all(t.first_server[again] == 0) and np.all(t.server_of[again] != 0)
    np.testing.assert_array_equal(t.dispatched_at[again], r.retried_at[again])
    assert np.all((r.crashed_at <= t.arrivals_at[again])
                  & (t.arrivals_at[again] < r.marked_down_at))


def test_failure_summary_is_one_sentence_of_what_happened(failure):
    _, r, t = failure
    text = t.summary()
    assert text.endswith(".") and ". " not in text
    assert (f"server 0 crashed at {r.crashed_at:.3g} s, was marked down at "
            f"{r.marked_down_at:.3g} s") in text
    assert f"{r.lost_in_flight} lost in flight" in text


# --------------------------------------------------------------------------- sessions


@pytest.fixture(scope="module")
def sticky():
    r = sessions.simulate_sessions(strategy="sticky_cookie", users=60, server_fails_at=50.0,
                                   real_store=False, seed=4)
    return r, flow.trace_sessions(r)


def test_sessions_trace_is_untimed_with_users_and_outcomes(sticky):
    r, t = sticky
    assert not t.timed and np.all(np.isnan(t.started_at))
    np.testing.assert_array_equal(t.user_of, r.user_of)
    np.testing.assert_array_equal(t.server_of, r.server_of)
    assert t.counts["served, session lost"] == r.lost
    assert t.counts["refused by a dead server"] == r.refused
    assert [(e.kind, e.at) for e in t.events] == [("crash", 50.0),
                                                  ("mark_down", r.marked_down_at)]


def test_sticky_users_stay_on_one_server_until_it_dies(sticky):
    """The point the animation colours: a followed user's requests all land on one server
    while it lives (HAProxy's ``cookie SERVERID insert``), and that user is lost with it."""
    r, t = sticky
    assert len(t.followed_users) == flow.FOLLOWED_USERS
    for user in t.followed_users:
        before = (t.user_of == user) & (t.arrivals_at < r.server_fails_at)
        assert np.unique(t.server_of[before]).size <= 1


def test_followed_users_are_the_first_to_arrive_or_those_named(sticky):
    r, _ = sticky
    order = r.user_of[np.sort(np.unique(r.user_of, return_index=True)[1])]
    assert flow.trace_sessions(r, follow=3).followed_users == tuple(order[:3])
    assert flow.trace_sessions(r, follow=[5, 9]).followed_users == (5, 9)


# --------------------------------------------------------------------------- the wire, errors


def test_json_for_the_browser_is_strict_json_of_one_row_per_request(failure):
    _, _, t = failure
    data = t.to_json()
    text = json.dumps(data, allow_nan=False)
    assert len(text) < 80 * len(t) + 2000, "compact: under 80 bytes a request"
    for column in ("arrival", "first", "server", "dispatch", "start", "departure", "end",
                   "outcome", "user"):
        assert len(data[column]) == len(t)
    assert data["summary"] == t.summary() and data["outcomes"] == list(flow.OUTCOMES)
    assert data["start"][int(np.flatnonzero(t.outcome == flow.LOST)[0])] is None


def test_trace_shows_as_a_table(failure):
    html = failure[2]._repr_html_()
    assert "<table>" in html and "lost in flight" in html


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(arrivals_at=[0.0, 1.0], server_of=[0], servers=2), ValueError, "server_of"),
    (dict(arrivals_at=[-1.0], server_of=[0], servers=1), ValueError, "arrivals_at"),
    (dict(arrivals_at=[0.0], server_of=[3], servers=2), ValueError, "server_of"),
    (dict(arrivals_at=[0.0], server_of=[0.5], servers=2), TypeError, "server_of"),
    (dict(arrivals_at=[0.0], server_of=[0], servers=0), ValueError, "servers"),
    (dict(arrivals_at=[0.0], server_of=[0], servers=2, departures_at=[math.inf]),
     ValueError, "departures_at"),
    (dict(arrivals_at=[0.0], server_of=[0], servers=2, outcome=[9]), ValueError, "outcome"),
    (dict(arrivals_at=[0.0], server_of=[0], servers=2, events=[(1.0, "explode", 0)]),
     ValueError, "event kind"),
    (dict(arrivals_at=[0.0], server_of=[0], servers=2, events=[(1.0, "crash", 5)]),
     ValueError, "event server"),
    (dict(arrivals_at=[0.0], server_of=[0], servers=2, follow=7), ValueError, "follow"),
    (dict(arrivals_at="soon", server_of=[0], servers=2), TypeError, "arrivals_at"),
])
def test_bad_input_names_the_parameter(kwargs, error, words):
    args = (kwargs.pop("arrivals_at"), kwargs.pop("server_of"))
    with pytest.raises(error, match=words):
        flow.flow_trace(*args, **kwargs)


def test_a_trace_is_bounded_in_size():
    n = flow.MAX_REQUESTS + 1
    with pytest.raises(ValueError, match="at most 100,000"):
        flow.flow_trace(np.zeros(n), np.zeros(n, dtype=int), servers=1)


def test_the_builders_say_what_they_take():
    with pytest.raises(TypeError, match="scalekit.sim.Results"):
        flow.trace_results(object())
    with pytest.raises(TypeError, match="BackendFailureResult"):
        flow.trace_backend_failure(sim.run(workload(n=10), servers=2))
    with pytest.raises(TypeError, match="SessionsResult"):
        flow.trace_sessions(object())


def test_never_happened_events_are_left_out():
    t = flow.flow_trace([0.0, 1.0], [0, 1], [0.5, 1.5], servers=2,
                        events=[(math.nan, "mark_down", 0), (0.7, "crash", 0)])
    assert [(e.kind, e.at) for e in t.events] == [("crash", 0.7)]
