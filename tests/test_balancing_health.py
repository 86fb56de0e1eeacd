"""A backend dies behind the balancer: health checks, redispatch, and every request's fate.

Sources for the rules checked here:

* HAProxy configuration manual, section 5.2 (server options): ``inter`` (default 2 s) is the
  delay between two checks of a server; ``fall`` (default 3) consecutive failed checks mark
  it DOWN, ``rise`` (default 2) consecutive successful checks mark it UP. A check is due
  every ``inter`` at a phase the crash does not know, so the first failed check comes
  U[0, inter) after the crash and the server is marked down between (fall − 1)·inter and
  fall·inter after it — (fall − 0.5)·inter on average; likewise for rise after a recovery.
* HAProxy manual, ``retries`` and ``option redispatch``: a connection that is refused is
  retried, and redispatch sends the retry to another server; "when a connection has
  effectively been established to a server, there will be no more retry" — a request in
  flight on a server that dies is lost.
* HAProxy manual, ``balance leastconn``: the server with the fewest connections gets the next
  one — and a server that refuses at once never holds any.
* nginx ``ip_hash`` / ``hash ... consistent``: a client whose server is down is rehashed
  (nginx) or moves to the next point on the ring (ketama), and keeps that server.

Statistical checks allow Z = 4 standard errors (tests/_stats.py), the error derived in each
test's docstring: estimated from 200 runs, a correct model fails one check with Student's t's
chance beyond ±4 at 199 degrees of freedom, about 1 in 11,000. Every run is seeded, so a pass
or a fail is repeatable.
"""

import math

import numpy as np
import pytest

from scalekit import balancing, hashing, sim
from scalekit.balancing import health
from scalekit.balancing.health import LOST, REFUSED, SERVED, UNAVAILABLE

from _stats import Z

POLICIES = ["round_robin", "random", "fewest_connections", "power_of_two", "ip_hash",
            "consistent_hash", "least_work", "weighted_round_robin"]


def traffic(rate_rps=200.0, horizon_s=20.0, work_s=0.01, seed=1) -> sim.Workload:
    """Poisson arrivals at ``rate_rps`` for ``horizon_s`` s, exponential work of mean
    ``work_s`` (at 4 servers, 200/s and 10 ms: load 0.5 per server)."""
    return sim.Workload.poisson(rate_rps, sim.Exponential(work_s), horizon_s=horizon_s,
                                seed=seed)


def few(horizon_s=100.0) -> sim.Workload:
    """Ten requests: enough for a run when only the health checks are under test."""
    return sim.Workload(np.linspace(0.0, horizon_s * 0.9, 10), np.full(10, 0.01),
                        horizon_s=horizon_s)


def fail(workload=None, **kw) -> health.BackendFailureResult:
    kw.setdefault("crashed_at", 5.0)
    return health.simulate_backend_failure(workload or traffic(), **kw)


# ------------------------------------------------------------------ accounting


@pytest.mark.parametrize("redispatch", [True, False])
@pytest.mark.parametrize("policy", POLICIES)
def test_every_request_is_counted_exactly_once(policy, redispatch):
    r = fail(crashed_at=5.0, recovered_at=12.0, policy=policy, redispatch=redispatch, seed=3)
    o = r.outcome
    assert r.arrived == len(traffic()) == o.size
    assert r.arrived == r.served + r.failed
    assert r.failed == r.lost_in_flight + r.refused + r.unavailable
    assert (r.served, r.refused, r.lost_in_flight, r.unavailable) == tuple(
        int((o == code).sum()) for code in (SERVED, REFUSED, LOST, UNAVAILABLE))
    served = o == SERVED
    assert np.all(np.isfinite(r.departures_at[served]))
    assert np.all(r.departures_at[served] >= r.arrivals_at[served])
    assert np.all(np.isnan(r.departures_at[~served]))
    assert np.all(np.isfinite(r.ended_at))
    assert np.all(r.ended_at >= r.arrivals_at)
    retried = np.isfinite(r.retried_at)
    assert r.retried == retried.sum() and (r.retried > 0) == redispatch
    # a retry is one more attempt of the same request, which is then served or failed once
    assert np.all(r.first_server[retried] == r.failed_server)
    assert np.all(r.server_of[retried] != r.failed_server)
    assert np.all(r.departures_at[retried & served] >= r.retried_at[retried & served])
    assert r.sent_to_dead == r.retried + r.refused > 0


def test_latencies_cover_the_served_requests_only():
    r = fail(redispatch=False, seed=2)
    lat = r.latencies_s
    assert lat.size == r.served and np.all(lat >= 0)
    assert r.mean_s == pytest.approx(lat.mean())
    assert r.p99_s == pytest.approx(np.percentile(lat, 99))


# ------------------------------------------------------------------ the dead server


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("policy", POLICIES)
def test_nothing_is_sent_to_a_server_while_it_is_marked_down(policy, seed):
    """Every attempt — first tries and retries — to the failed server falls before it was
    marked down or after it was marked up again; and it did get traffic on both sides, so
    the window is really tested."""
    r = fail(traffic(horizon_s=12.0, seed=seed), crashed_at=3.0, recovered_at=9.0,
             inter_s=1.0, policy=policy, redispatch=bool(seed % 2), seed=seed)
    assert r.marked_down_at < r.marked_up_at < r.horizon_s
    retried = np.isfinite(r.retried_at)
    at = np.concatenate([r.arrivals_at, r.retried_at[retried]])
    to = np.concatenate([r.first_server, r.server_of[retried]])
    sent = at[to == r.failed_server]
    assert not np.any((sent >= r.marked_down_at) & (sent < r.marked_up_at))
    assert np.any(sent < r.crashed_at) and np.any(sent >= r.marked_up_at)
    assert r.sent_to_dead > 0


@pytest.mark.parametrize("policy", POLICIES)
def test_the_dead_server_serves_nothing_between_crash_and_recovery(policy):
    r = fail(crashed_at=5.0, recovered_at=8.0, policy=policy, redispatch=False, seed=4)
    on_dead = (r.server_of == r.failed_server) & (r.outcome == SERVED)
    start = r.departures_at - r.arrivals_at  # served on the dead server: before or after
    assert not np.any(on_dead & (r.arrivals_at >= 5.0) & (r.arrivals_at < 8.0))
    assert np.all(r.departures_at[on_dead & (r.arrivals_at < 5.0)] <= 5.0)
    assert np.all(start[on_dead] >= 0)
    lost = r.outcome == LOST
    assert np.all(r.first_server[lost] == r.failed_server)
    assert np.all(r.arrivals_at[lost] < 5.0) and np.all(r.ended_at[lost] == 5.0)
    refused = r.outcome == REFUSED
    assert np.all((r.arrivals_at[refused] >= 5.0) & (r.arrivals_at[refused] < 8.0))


def test_requests_in_the_dead_servers_queue_at_the_crash_are_lost():
    """Before the crash nothing differs from a cluster that never fails (round robin sends
    request j to server j mod 4): the lost requests are exactly those the failure-free run
    has at server 0 across the crash instant — chosen when server 0 holds 3 or more."""
    w = traffic(rate_rps=360.0, horizon_s=10.0, seed=5)
    free = sim.run(w, servers=4, policy=balancing.policy("round_robin"))
    grid = np.arange(3.0, 9.0, 0.01)
    crash = float(grid[np.argmax(free.in_system_at(grid, server=0) >= 3)])
    r = fail(w, crashed_at=crash, policy="round_robin", seed=5)
    before = w.arrivals_at < crash
    np.testing.assert_array_equal(r.first_server[before], free.server_of[before])
    np.testing.assert_allclose(r.departures_at[before & (r.outcome == SERVED)],
                               free.departures_at[before & (r.outcome == SERVED)], rtol=1e-12)
    queued = (free.server_of == 0) & before & (free.departures_at > crash)
    assert queued.sum() >= 3
    np.testing.assert_array_equal(np.flatnonzero(r.outcome == LOST), np.flatnonzero(queued))


# ------------------------------------------------------------------ health checks


@pytest.mark.parametrize("inter_s, fall", [(2.0, 3), (0.5, 1), (1.5, 5)])
def test_detection_time_follows_the_haproxy_rule(inter_s, fall):
    """Marked down between (fall − 1)·inter and fall·inter after the crash, always; over
    random phases the mean is (fall − 0.5)·inter and the spread that of U[0, inter)
    (standard deviation inter/√12), within Z standard errors of 200 runs."""
    d = np.array([fail(few(), crashed_at=37.3, inter_s=inter_s, fall=fall, seed=s).detection_s
                  for s in range(200)])
    eps = 1e-9 * inter_s * fall
    assert np.all(d >= (fall - 1) * inter_s - eps) and np.all(d <= fall * inter_s + eps)
    mean, se = sim.estimate(d)
    assert abs(mean - (fall - 0.5) * inter_s) < Z * se
    assert d.std(ddof=1) == pytest.approx(inter_s / math.sqrt(12), rel=0.2)


@pytest.mark.parametrize("inter_s, rise", [(2.0, 2), (1.0, 1), (0.7, 4)])
def test_rise_brings_the_server_back_after_it_recovers(inter_s, rise):
    """Marked up between (rise − 1)·inter and rise·inter after the recovery; mean
    (rise − 0.5)·inter within Z standard errors of 200 runs."""
    runs = [fail(few(), crashed_at=20.0, recovered_at=50.0, inter_s=inter_s, rise=rise,
                 seed=s) for s in range(200)]
    back = np.array([r.rejoin_s for r in runs])
    assert np.allclose([r.marked_up_at - r.recovered_at for r in runs], back)
    eps = 1e-9 * inter_s * rise
    assert np.all(back >= (rise - 1) * inter_s - eps) and np.all(back <= rise * inter_s + eps)
    mean, se = sim.estimate(back)
    assert abs(mean - (rise - 0.5) * inter_s) < Z * se


def test_a_server_back_before_fall_failed_checks_is_never_marked_down():
    """A 0.5 s outage cannot fail 3 checks 2 s apart: no mark, and the requests sent to it
    during the outage are the only failures; after it, the server serves again."""
    r = fail(crashed_at=5.0, recovered_at=5.5, redispatch=False, policy="round_robin", seed=1)
    assert math.isnan(r.marked_down_at) and math.isnan(r.marked_up_at)
    assert math.isnan(r.detection_s) and "never marked down" in r._repr_html_()
    assert r.refused > 0 and r.refused + r.lost_in_flight == r.failed
    assert np.all(r.ended_at[r.outcome == REFUSED] < 5.5)
    back = (r.first_server == 0) & (r.arrivals_at >= 5.5)
    assert back.any() and np.all(r.outcome[back] == SERVED)


def test_a_crash_without_recovery_is_never_marked_up():
    r = fail(crashed_at=5.0, seed=1)
    assert math.isfinite(r.marked_down_at) and math.isnan(r.marked_up_at)
    assert math.isnan(r.recovered_at) and math.isnan(r.rejoin_s)
    late = r.arrivals_at >= r.marked_down_at
    assert not np.any(r.first_server[late] == 0)


def test_fall_1_can_mark_the_server_down_as_it_crashes():
    """With fall 1 a check due exactly at the crash instant marks it down at once; nothing
    is then sent to the dead server (and the event order crash → mark must hold)."""
    phase = float(sim.rng(7).uniform(0.0, 2.0, 4)[0])  # the failed server's check phase
    crash = phase + 3 * 2.0
    r = fail(few(), crashed_at=crash, fall=1, seed=7)
    assert r.check_phase_s == phase and r.detection_s == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------ redispatch


@pytest.mark.parametrize("policy", POLICIES)
def test_with_redispatch_the_only_failures_are_requests_in_flight(policy):
    r = fail(traffic(rate_rps=300.0), crashed_at=5.0, policy=policy, redispatch=True, seed=6)
    assert r.failed == r.lost_in_flight
    assert r.refused == 0 and r.unavailable == 0
    assert r.retried == r.sent_to_dead > 0
    assert np.all(r.outcome[np.isfinite(r.retried_at)] == SERVED)


def test_the_retry_waits_retry_delay_s():
    r = fail(redispatch=True, retry_delay_s=0.25, seed=2)
    retried = np.isfinite(r.retried_at)
    assert retried.sum() > 0
    np.testing.assert_allclose(r.retried_at[retried], r.arrivals_at[retried] + 0.25)
    assert np.all(r.departures_at[retried] - r.arrivals_at[retried] >= 0.25)


@pytest.mark.parametrize("policy", ["random", "round_robin"])
def test_without_redispatch_refused_requests_are_rate_times_share_times_detection(policy):
    """Refused = the dead server's share of the arrivals while it was dead but not yet
    marked down: E = λ · D / n given the detection time D. For random choice the count is
    Poisson(λD/n), so the sum over runs is Poisson too, standard error √(Σ λD/n); round robin
    takes every n-th arrival, which varies less, so the same error is a looser bound."""
    rate, n = 200.0, 4
    refused, expected = 0, 0.0
    for s in range(20):
        r = fail(traffic(rate, horizon_s=15.0, seed=100 + s), crashed_at=4.0, servers=n,
                 policy=policy, redispatch=False, seed=s)
        assert r.retried == 0 and r.refused == r.sent_to_dead
        refused += r.refused
        expected += rate * r.detection_s / n
    assert abs(refused - expected) < Z * math.sqrt(expected)


def test_a_server_that_refuses_at_once_attracts_fewest_connections():
    """leastconn sends the next request to the server with the fewest connections; a server
    that refuses at once holds none, so until it is marked down it gets more than the 1/n
    that round robin sends it — at load 0.8, when the others are rarely idle, far more. The
    counts are about Poisson: the difference must exceed Z·√(sum)."""
    w = traffic(rate_rps=320.0, seed=8)
    runs = {p: fail(w, crashed_at=5.0, policy=p, redispatch=False, seed=8)
            for p in ("round_robin", "fewest_connections")}
    rr, fc = runs["round_robin"], runs["fewest_connections"]
    assert fc.detection_s == rr.detection_s  # same seed, same checks: only the share differs
    assert rr.sent_to_dead == pytest.approx(320.0 * rr.detection_s / 4, rel=0.1)
    assert fc.sent_to_dead - rr.sent_to_dead > Z * math.sqrt(fc.sent_to_dead + rr.sent_to_dead)


@pytest.mark.parametrize("name", ["consistent_hash", "ip_hash"])
def test_hash_policies_retry_a_client_where_it_goes_once_the_server_is_down(name):
    """A retried request's client is rehashed with the dead server excluded — the server
    every later request of that client goes to once the dead server is marked down."""
    p = balancing.policy(name)
    r = fail(crashed_at=5.0, policy=p, redispatch=True, seed=9)
    retried = np.flatnonzero(np.isfinite(r.retried_at))
    assert retried.size > 0
    for j in retried:  # every request makes one first-try choice: request j is call j
        address = p.client_addresses[p.client_of[j]]
        if name == "consistent_hash":
            expected = p.ring.index_for(address, down=[0])
        else:
            expected = hashing.nginx_ip_hash(address, 4, down=[0])
        assert r.server_of[j] == expected


def test_one_server_without_redispatch_answers_503_while_marked_down():
    """With nowhere else to send, requests are refused until the mark, then answered by the
    balancer itself (unavailable) until the server is marked up again."""
    w = traffic(rate_rps=50.0, horizon_s=30.0, work_s=0.005, seed=3)
    r = fail(w, crashed_at=5.0, recovered_at=15.0, servers=1, redispatch=False, seed=3)
    a = w.arrivals_at
    dead = (a >= 5.0) & (a < r.marked_down_at)
    out = (a >= r.marked_down_at) & (a < r.marked_up_at)
    assert r.refused == dead.sum() > 0 and np.all(r.outcome[dead] == REFUSED)
    assert r.unavailable == out.sum() > 0 and np.all(r.outcome[out] == UNAVAILABLE)
    assert np.all(r.first_server[out] == -1)
    assert np.all(r.outcome[a >= r.marked_up_at] == SERVED)


# ------------------------------------------------------------------ policies


class AlwaysZero(sim.Policy):
    name = "always_zero"

    def choose(self, state):
        return np.int64(0)  # a numpy integer is a fine index; server 0 is not always


@pytest.mark.parametrize("redispatch, where", [(False, "marked server 0 down"),
                                               (True, "its retry")])
def test_a_policy_that_picks_a_down_server_gets_a_clear_error(redispatch, where):
    with pytest.raises(ValueError, match=rf"AlwaysZero.*request \d+.*{where}"):
        fail(policy=AlwaysZero(), redispatch=redispatch, seed=1)


def test_a_policy_returning_no_server_gets_a_clear_error():
    class Nowhere(sim.Policy):
        def choose(self, state):
            return 7

    with pytest.raises(ValueError, match=r"returned 7 .*0\.\.3"):
        fail(policy=Nowhere(), seed=1)


def test_a_policy_that_never_picks_the_failed_server_sees_no_failure():
    """Custom policies work: one that only uses servers 1..3 never meets the crash."""
    class SkipZero(sim.Policy):
        name = "skip_zero"

        def reset(self, n_servers, n_requests, gen):
            self.i = 0

        def choose(self, state):
            self.i = self.i % 3 + 1
            return self.i

    r = fail(policy=SkipZero(), seed=1)
    assert r.policy == "skip_zero" and r.failed == 0 and r.sent_to_dead == 0


def test_a_reused_policy_instance_and_seed_give_the_same_run():
    p = balancing.PowerOfTwoChoices()
    a = fail(crashed_at=4.0, recovered_at=9.0, policy=p, seed=11)
    b = fail(crashed_at=4.0, recovered_at=9.0, policy=p, seed=11)
    for name in ("outcome", "first_server", "server_of", "departures_at", "retried_at"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = fail(crashed_at=4.0, recovered_at=9.0, policy=p, seed=12)
    assert c.check_phase_s != a.check_phase_s


# ------------------------------------------------------------------ results


def test_the_timeline_counts_every_request_once_per_bin():
    r = fail(crashed_at=5.0, recovered_at=12.0, seed=3)
    tl = r.timeline(0.5)
    assert tl.starts_at[0] == 0 and tl.starts_at.size == 40 and tl.bin_s == 0.5
    end = tl.starts_at[-1] + tl.bin_s
    served = (r.outcome == SERVED) & (r.departures_at < end)
    assert tl.served_rps.sum() * 0.5 == pytest.approx(served.sum())
    assert tl.failed_rps.sum() * 0.5 == pytest.approx(r.failed)
    assert tl.retried_rps.sum() * 0.5 == pytest.approx(r.retried)
    dead = (tl.starts_at >= 5.0) & (tl.starts_at + 0.5 <= r.marked_down_at)
    assert np.all(tl.retried_rps[dead] > 0) and not tl.retried_rps[tl.starts_at < 4.5].any()
    with pytest.raises(ValueError, match="bin_s"):
        r.timeline(0.0)


def test_results_read_well():
    r = fail(crashed_at=5.0, recovered_at=12.0, seed=3)
    text = repr(r)
    assert text.startswith("BackendFailureResult(policy='round_robin'")
    assert "detection_s=" in text and "arrivals_at" not in text
    page = r._repr_html_()
    assert "<table>" in page and "marked_down_at" in page and "failed_fraction" in page
    assert f"{r.sent_to_dead} requests were sent to it" in page
    assert r.summary()["failed_fraction"] == pytest.approx(r.failed / r.arrived)
    with pytest.raises(ValueError):  # results are values
        r.outcome[0] = 1


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(crashed_at=-1.0), ValueError, "crashed_at"),
    (dict(crashed_at=20.0), ValueError, "crashed_at"),  # the horizon: too late
    (dict(crashed_at=math.nan), ValueError, "crashed_at"),
    (dict(crashed_at="5"), TypeError, "crashed_at"),
    (dict(crashed_at=5.0, recovered_at=4.0), ValueError, "recovered_at"),
    (dict(crashed_at=5.0, recovered_at=5.0), ValueError, "recovered_at"),
    (dict(crashed_at=5.0, recovered_at=25.0), ValueError, "recovered_at"),
    (dict(rise=0), ValueError, "rise"),
    (dict(fall=0), ValueError, "fall"),
    (dict(fall=2.0), TypeError, "fall"),
    (dict(inter_s=0.0), ValueError, "inter_s"),
    (dict(inter_s=-2.0), ValueError, "inter_s"),
    (dict(inter_s=1e-300), ValueError, "inter_s"),  # below HAProxy's 1 ms resolution
    (dict(failed_server=4), ValueError, "failed_server"),
    (dict(failed_server=-1), ValueError, "failed_server"),
    (dict(servers=1), ValueError, "redispatch"),
    (dict(servers=0, redispatch=False), ValueError, "servers"),
    (dict(servers=3, speeds=[1.0, 2.0]), ValueError, "servers"),
    (dict(speeds=[1.0, 0.0]), ValueError, "speeds"),
    (dict(redispatch="yes"), TypeError, "redispatch"),
    (dict(retry_delay_s=-0.1), ValueError, "retry_delay_s"),
    (dict(policy="least_busy"), ValueError, "policy"),
    (dict(policy=3), TypeError, "policy"),
    (dict(policy="shared"), ValueError, "policy"),
    (dict(seed=-1), ValueError, "seed"),
])
def test_bad_input_is_refused_naming_the_parameter(kwargs, error, match):
    kwargs.setdefault("crashed_at", 5.0)
    with pytest.raises(error, match=match):
        health.simulate_backend_failure(traffic(), **kwargs)


def test_the_workload_is_checked():
    with pytest.raises(TypeError, match="workload"):
        health.simulate_backend_failure([0.1, 0.2], crashed_at=0.1)
    empty = sim.Workload(np.empty(0), np.empty(0), horizon_s=10.0)
    with pytest.raises(ValueError, match="workload"):
        health.simulate_backend_failure(empty, crashed_at=1.0)
    with pytest.raises(TypeError, match="crashed_at"):
        health.simulate_backend_failure(traffic())


def test_speeds_set_the_servers():
    r = fail(speeds=[1.0, 1.0, 2.0], failed_server=2, seed=1)
    assert r.servers == 3 and r.failed_server == 2 and r.sent_to_dead > 0


def test_a_server_that_crashes_before_its_first_check_falls_at_the_first_failure():
    """HAProxy check.c: a server starts at health = rise ("up, but will fall down at first
    failure"); only a passed check lifts it to rise + fall − 1. A crash before the first
    check (phase uniform on [0, inter)) is noticed at that very check, whatever fall is."""
    w = sim.Workload.poisson(100.0, sim.Exponential(0.01), horizon_s=30.0, seed=2)
    for seed in range(5):
        r = health.simulate_backend_failure(w, crashed_at=1e-6, inter_s=2.0, fall=5, seed=seed)
        if r.check_phase_s >= 1e-6:
            assert r.marked_down_at == r.check_phase_s
        late = health.simulate_backend_failure(w, crashed_at=10.0, inter_s=2.0, fall=5,
                                               seed=seed)
        assert late.detection_s >= 4 * 2.0  # after a passed check: fall failures
