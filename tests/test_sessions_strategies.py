"""Where sessions live and how a request is routed (scalekit.sessions.strategies): each
strategy's one decision, a strategy written as a class, and SessionRouting — session
affinity as a balancer policy on the dispatch loop.

Sources: HAProxy configuration manual, ``cookie SERVERID insert indirect nocache`` (the
first request is balanced, later ones follow the cookie unless its server is DOWN); nginx
``ngx_http_upstream_ip_hash_module`` (the first three octets pick the server).
"""

import numpy as np
import pytest

from scalekit import sessions
from scalekit.sessions import visits

FAILURE = dict(servers=4, users=400, server_fails_at=50.0, failed_server=1, detection_s=6.0,
               seed=7)


def test_sticky_cookie_balances_first_requests_by_the_policy():
    """Only the first request of a visit is balanced, so round robin cycles over logins."""
    r = sessions.simulate_sessions(strategy="sticky_cookie", servers=5, users=100, seed=4)
    logins = r.step_of == 0
    np.testing.assert_array_equal(r.server_of[logins], np.arange(logins.sum()) % 5)


def test_sticky_ip_follows_nginx_ip_hash():
    from scalekit import hashing

    r = sessions.simulate_sessions(strategy="sticky_ip", servers=6, users=120, seed=5)
    addresses = visits.draw_visits(120, 8, 10.0, 120.0, 0.05, 0.0, 5).addresses
    for j in range(0, r.requests, 7):
        u = int(r.user_of[j])
        assert r.server_of[j] == hashing.nginx_ip_hash(addresses[u], 6)


def test_a_custom_strategy_overrides_one_hook():
    """A student's sticky routing, written against the Cluster it is given, reproduces the
    built-in StickyCookie; a route to a server marked down is refused with a clear error."""

    class MySticky(sessions.Strategy):
        name = "mine"

        def route(self, user, c):
            s = c.server_cookie[user]
            return s if s >= 0 and c.up[s] else c.balance()

    ours = sessions.simulate_sessions(strategy=MySticky(), **FAILURE)
    theirs = sessions.simulate_sessions(strategy="sticky_cookie", **FAILURE)
    np.testing.assert_array_equal(ours.server_of, theirs.server_of)
    np.testing.assert_array_equal(ours.outcome, theirs.outcome)

    class Stubborn(sessions.Strategy):
        name = "stubborn"

        def route(self, user, c):
            return 1

    with pytest.raises(ValueError, match="marked down"):
        sessions.simulate_sessions(strategy=Stubborn(), **FAILURE)


def test_session_routing_is_a_policy_that_remembers_the_answering_server():
    """SessionRouting on the dispatch loop: the sticky cookie names the server that accepted
    the user's last request — not one that refused it — and a mark changes the hashes."""
    from scalekit import balancing, sim

    strategy = sessions.StickyCookie()
    routing = sessions.SessionRouting(strategy, balancing.RoundRobin(), [0, 1, 0, 1],
                                      ["192.0.2.1", "198.51.100.7"])
    assert routing.name == "sticky_cookie" and "StickyCookie" in repr(routing)
    d = sim.Dispatcher((1.0, 1.0), routing, sim.rng(0))
    d.schedule(1.5, sim.Crash(0))
    d.schedule(2.5, sim.MarkDown(0))
    log = d.serve(sim.Workload([0.0, 1.0, 2.0, 3.0], [0.1] * 4))
    # user 0 → server 0 (balanced), user 1 → server 1 (balanced); user 0 back at 2.0: its
    # cookie names server 0, dead but not yet marked — refused; at 3.0 user 1 keeps server 1
    assert log.server_of.tolist() == [0, 1, 0, 1]
    assert log.outcome.tolist() == [sim.SERVED, sim.SERVED, sim.REFUSED, sim.SERVED]
    assert routing.cluster.server_cookie == [0, 1]

    class Nowhere(sessions.Strategy):
        name = "nowhere"

        def route(self, user, cluster):
            return 7

    d = sim.Dispatcher((1.0, 1.0), sessions.SessionRouting(Nowhere(), balancing.RoundRobin(),
                                                           [0], ["192.0.2.1"]), sim.rng(0))
    with pytest.raises(ValueError, match="route returned 7"):
        d.serve(sim.Workload([0.0], [1.0]))
