"""The one dispatch loop (scalekit.sim.core.Dispatcher): events, refusals and retries, and
the hooks a model uses, each checked on small runs whose outcome is worked out by hand from
the rules the loop implements — FIFO service (D = max(A, D_prev) + S), HAProxy's health
checks and redispatch (configuration manual, section 5.2, ``retries``, ``option
redispatch``: "when a connection has effectively been established to a server, there will
be no more retry"), session affinity (HAProxy ``cookie SERVERID insert``).
"""


import numpy as np
import pytest

from scalekit import sim


class Broken(sim.Policy):
    def choose(self, state):
        return state.n_servers  # out of range


class Returns(sim.Policy):
    def __init__(self, value):
        self.value = value

    def choose(self, state):
        return self.value


def test_a_policy_that_returns_a_bad_server_is_reported():
    w = sim.Workload.poisson(1.0, sim.Exponential(1.0), n=10, seed=1)
    with pytest.raises(ValueError, match="choose returned"):
        sim.run(w, servers=2, policy=Broken())
    for bad in (1.5, -1, "0", None):
        with pytest.raises(ValueError, match="expected a server index in 0..1"):
            sim.run(w, servers=2, policy=Returns(bad))
    # numpy integers are fine: a student's policy may well return np.argmin(...)
    assert set(sim.run(w, servers=2, policy=Returns(np.int64(1))).server_of) == {1}


# ------------------------------------------------------------------ worked by hand

RR_ARRIVALS = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # 1.5 s of work each, two servers


def rr_dispatcher(retry_delay_s=None) -> sim.Dispatcher:
    """Round robin over two servers; server 0 crashes at 2.5, is marked down at 4.5,
    recovers at 6.5 and is marked up at 6.8."""
    from scalekit import balancing

    d = sim.Dispatcher((1.0, 1.0), balancing.RoundRobin(), sim.rng(0),
                       retry_delay_s=retry_delay_s)
    for at, event in ((2.5, sim.Crash(0)), (4.5, sim.MarkDown(0)), (6.5, sim.Recover(0)),
                      (6.8, sim.MarkUp(0))):
        d.schedule(at, event)
    return d


def test_a_crash_loses_what_the_server_holds_and_it_refuses_until_marked_down():
    """Round robin deals 0, 1, 0, 1, ...: request 2 is in service at server 0 (2 → 3.5) when
    it dies at 2.5 — lost; request 4 is sent to it at 4 before the mark at 4.5 — refused;
    5 and 6 go to server 1 (6 waits for 5: 6.5 → 8); server 0 is back (empty) and marked up
    by 7, so request 7 starts there at once."""
    log = rr_dispatcher().serve(sim.Workload(RR_ARRIVALS, [1.5] * 8))
    S, L, R = sim.SERVED, sim.LOST, sim.REFUSED
    assert log.outcome.tolist() == [S, S, L, S, R, S, S, S]
    assert log.server_of.tolist() == [0, 1, 0, 1, 0, 1, 1, 0]
    np.testing.assert_array_equal(log.departures_at,
                                  [1.5, 2.5, np.nan, 4.5, np.nan, 6.5, 8.0, 8.5])
    np.testing.assert_array_equal(log.ended_at, [1.5, 2.5, 2.5, 4.5, 4.0, 6.5, 8.0, 8.5])
    assert np.isnan(log.retried_at).all()


def test_a_refused_request_is_retried_once_on_another_server():
    """With a 0.25 s retry delay request 4 is tried again at 4.25 with server 0 excluded:
    server 1, after request 3 (4.5 → 6). Then 5 and 6 queue there too (6 → 7.5 → 9)."""
    log = rr_dispatcher(retry_delay_s=0.25).serve(sim.Workload(RR_ARRIVALS, [1.5] * 8))
    assert log.outcome.tolist() == [0, 0, sim.LOST, 0, 0, 0, 0, 0]
    assert log.server_of.tolist() == [0, 1, 0, 1, 1, 1, 1, 0]
    assert log.first_server.tolist() == [0, 1, 0, 1, 0, 1, 1, 0]
    np.testing.assert_array_equal(log.retried_at[4], 4.25)
    assert np.isnan(np.delete(log.retried_at, 4)).all()
    np.testing.assert_array_equal(log.departures_at,
                                  [1.5, 2.5, np.nan, 4.5, 6.0, 7.5, 9.0, 8.5])


def test_a_request_leaving_at_the_crash_instant_is_not_lost():
    """Departures come first at an instant: request 0 leaves server 0 at 1.5 exactly as it
    dies, and is served; request 2, in service there, is lost."""
    d = sim.Dispatcher((1.0,), sim.Assigned([0, 0]), sim.rng(0))
    d.schedule(1.5, sim.Crash(0))
    log = d.serve(sim.Workload([0.0, 1.0], [1.5, 1.0]))
    assert log.outcome.tolist() == [sim.SERVED, sim.LOST]
    assert log.ended_at.tolist() == [1.5, 1.5]


def test_a_crash_after_the_last_arrival_still_loses_the_queue():
    d = sim.Dispatcher((1.0,), sim.Assigned([0, 0]), sim.rng(0))
    d.schedule(5.0, sim.Crash(0))
    log = d.serve(sim.Workload([0.0, 1.0], [3.0, 3.0]))  # 0 → 3, then 3 → 6: in service at 5
    assert log.outcome.tolist() == [sim.SERVED, sim.LOST]


class Recorder(sim.Policy):
    """Sends everything to the first server marked up; records every call."""

    def __init__(self):
        self.calls = []

    def choose(self, state):
        self.calls.append(("choose", state.request, state.now))
        return state.up.index(True)

    def choose_again(self, state):
        self.calls.append(("again", state.request, state.now))
        return state.up.index(True)

    def accepted(self, state, server):
        self.calls.append(("accepted", state.request, server))


def test_at_one_instant_events_come_before_the_arrival_and_retries_after_it():
    """Server 0 dies at 1.0, the instant requests 0 and 1 arrive: both are refused (the crash
    applies first); with no retry delay their retries follow both arrivals, in order, and
    exclude server 0 — so both are accepted by server 1."""
    policy = Recorder()
    d = sim.Dispatcher((1.0, 1.0), policy, sim.rng(0), retry_delay_s=0.0)
    d.schedule(1.0, sim.Crash(0))
    log = d.serve(sim.Workload([1.0, 1.0], [1.0, 1.0]))
    assert policy.calls == [("choose", 0, 1.0), ("choose", 1, 1.0), ("again", 0, 1.0),
                            ("accepted", 0, 1), ("again", 1, 1.0), ("accepted", 1, 1)]
    assert log.server_of.tolist() == [1, 1] and log.first_server.tolist() == [0, 0]
    assert log.departures_at.tolist() == [2.0, 3.0]


def test_every_server_marked_down_is_a_503_from_the_balancer():
    d = sim.Dispatcher((1.0,), Recorder(), sim.rng(0))
    d.schedule(0.5, sim.MarkDown(0))
    log = d.serve(sim.Workload([0.0, 1.0, 2.0], [0.1] * 3))
    assert log.outcome.tolist() == [sim.SERVED, sim.UNAVAILABLE, sim.UNAVAILABLE]
    assert log.server_of.tolist() == [0, -1, -1] and log.ended_at.tolist() == [0.1, 1.0, 2.0]


def test_a_full_server_drops_and_the_policy_hears_only_accepted_requests():
    policy = Recorder()
    d = sim.Dispatcher((1.0,), policy, sim.rng(0), queue_limit=2)
    d.schedule(100.0, sim.MarkUp(0))  # an event: the Python loop, not a fast path
    log = d.serve(sim.Workload([0.0, 0.1, 0.2, 5.0], [1.0] * 4))
    assert log.outcome.tolist() == [sim.SERVED, sim.SERVED, sim.DROPPED, sim.SERVED]
    assert log.server_of.tolist() == [0, 0, -1, 0]
    assert [c[1] for c in policy.calls if c[0] == "accepted"] == [0, 1, 3]


def test_the_refusal_hook_decides_when_to_try_again():
    class Patient(sim.Dispatcher):  # retries 2 s later (the default: retry_delay_s)
        def refused(self, request, server, at):
            return at + 2.0

    d = Patient((1.0, 1.0), Recorder(), sim.rng(0))
    d.schedule(0.0, sim.Crash(0))
    log = d.serve(sim.Workload([1.0], [1.0]))
    assert log.retried_at.tolist() == [3.0] and log.server_of.tolist() == [1]
    assert log.departures_at.tolist() == [4.0]

    class Backwards(sim.Dispatcher):
        def refused(self, request, server, at):
            return at - 1.0

    d = Backwards((1.0, 1.0), Recorder(), sim.rng(0))
    d.schedule(0.0, sim.Crash(0))
    with pytest.raises(ValueError, match="cannot come before"):
        d.serve(sim.Workload([1.0], [1.0]))


def test_the_dispatcher_checks_its_arguments():
    with pytest.raises(TypeError, match="Policy"):
        sim.Dispatcher((1.0,), "round_robin", sim.rng(0))
    for bad in (dict(queue_limit=0), dict(retry_delay_s=-1.0), dict(decisions=-2)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            sim.Dispatcher((1.0,), Recorder(), sim.rng(0), **bad)
    d = sim.Dispatcher((1.0,), Recorder(), sim.rng(0))
    with pytest.raises(TypeError, match="Event"):
        d.schedule(1.0, "crash")
    with pytest.raises(ValueError, match="finite"):
        d.schedule(float("nan"), sim.Crash(0))
    with pytest.raises(TypeError, match="workload"):
        d.serve([0.0, 1.0])
    with pytest.raises(ValueError, match="speeds"):
        sim.Dispatcher((1.0, 0.0), Recorder(), sim.rng(0))
    with pytest.raises(TypeError, match="gen"):
        sim.Dispatcher((1.0,), Recorder(), 7)
    d.serve(sim.Workload([0.0], [1.0]))
    with pytest.raises(RuntimeError, match="serves once"):
        d.serve(sim.Workload([0.0], [1.0]))
    with pytest.raises(NotImplementedError):
        sim.Event().apply(d, 0.0)


def test_health_checks_and_sessions_run_on_this_loop(monkeypatch):
    """One loop: sim.run, the backend-failure model and the sessions model all dispatch
    through Dispatcher.serve."""
    from scalekit import balancing, sessions

    served = []
    real = sim.Dispatcher.serve

    def spy(self, workload):
        served.append(type(self.policy).__name__)
        return real(self, workload)

    monkeypatch.setattr(sim.Dispatcher, "serve", spy)
    w = sim.Workload.poisson(50.0, sim.Exponential(0.01), horizon_s=10.0, seed=1)
    sim.run(w, servers=2, policy=balancing.FewestConnections())
    balancing.simulate_backend_failure(w, crashed_at=5.0, servers=2)
    sessions.simulate_sessions(users=20, server_fails_at=30.0, seed=1)
    assert served == ["FewestConnections", "RoundRobin", "SessionRouting"]


def test_a_hook_that_always_retries_still_ends():
    """Both servers dead and never marked down: every retry is refused again; after
    MAX_RETRIES tries the request fails instead of circling for ever."""

    class Stubborn(sim.Dispatcher):
        def refused(self, request, server, at):
            return at + 1.0

    d = Stubborn((1.0, 1.0), Recorder(), sim.rng(0))
    d.schedule(0.0, sim.Crash(0))
    d.schedule(0.0, sim.Crash(1))
    log = d.serve(sim.Workload([1.0], [1.0]))
    assert log.outcome.tolist() == [sim.REFUSED]
    assert log.ended_at.tolist() == [1.0 + sim.core.MAX_RETRIES]
