"""Balancer policies: a contract every policy keeps, then each policy's own rule.

Sources for the rules checked here:

* HAProxy configuration manual, ``balance``: ``roundrobin`` uses each server in turn;
  ``leastconn`` gives the connection to the server with the lowest number of connections,
  and "round-robin is performed within groups of servers of the same load";
  ``random`` draws a server at random.
* nginx ``ngx_http_upstream_module``, ``least_conn``: servers with equally few active
  connections are tried in turn (weighted round robin).

Statistical checks allow Z = 4 standard errors (a correct policy fails about 1 time in
15,000 per comparison), with the standard error derived in each test's docstring; every run is
seeded, so a pass or a fail is repeatable.
"""

import math

import numpy as np
import pytest

from scalekit import balancing, sim

Z = 4.0


def spaced(n: int, gap_s: float = 10.0, work_s=1.0) -> sim.Workload:
    """``n`` requests ``gap_s`` apart, each with ``work_s`` seconds of work (a number, or one
    per request): with gap_s > work_s every server is idle when the next one arrives."""
    work = np.broadcast_to(np.asarray(work_s, dtype=float), (n,)).copy()
    return sim.Workload(arrivals_at=np.arange(n) * gap_s, work_s=work)


def poisson(servers: int, load: float, n: int, seed: int) -> sim.Workload:
    """Poisson arrivals, exponential work of mean 1 s, offered load ``load`` per server."""
    return sim.Workload.poisson(load * servers, sim.Exponential(1.0), n=n, seed=seed)


# ------------------------------------------------------------------ every policy


class PolicyContract:
    """What every named policy promises; a subclass names the policy under test."""

    name: str
    cls: type

    @pytest.fixture
    def make(self):
        return lambda: balancing.policy(self.name)

    def test_policy_returns_a_fresh_instance_of_its_class(self, make):
        a, b = make(), make()
        assert type(a) is self.cls and type(b) is self.cls
        assert a is not b
        assert balancing.POLICIES[self.name] is self.cls and self.cls.name == self.name

    def test_the_results_carry_the_policy_name(self, make):
        assert sim.run(spaced(8), servers=2, policy=make(), seed=1).policy == self.name

    def test_every_request_is_served_by_a_real_server(self, make):
        r = sim.run(poisson(5, 0.8, 3000, seed=4), servers=5, policy=make(), seed=4)
        assert r.dropped == 0
        assert r.server_of.min() >= 0 and r.server_of.max() <= 4

    def test_runs_by_name_do_not_share_state(self):
        """Two runs of one workload with one policy name (and seed) are identical: the
        policy is built fresh for each run, so nothing carries over from the first."""
        w = poisson(4, 0.6, 5000, seed=11)
        a = sim.run(w, servers=4, policy=self.name, seed=3)
        b = sim.run(w, servers=4, policy=self.name, seed=3)
        np.testing.assert_array_equal(a.server_of, b.server_of)
        np.testing.assert_array_equal(a.departures_at, b.departures_at)

    def test_a_reused_instance_is_reset_between_runs(self, make):
        """reset() is the only thing between two runs of one instance; it must clear the
        policy's memory (a round-robin pointer, a tie-break pointer, pre-drawn picks)."""
        w = poisson(4, 0.6, 5001, seed=12)  # 5001: a pointer left over would be off by one
        p = make()
        a = sim.run(w, servers=4, policy=p, seed=3)
        b = sim.run(w, servers=4, policy=p, seed=3)
        np.testing.assert_array_equal(a.server_of, b.server_of)
        np.testing.assert_array_equal(a.departures_at, b.departures_at)

    def test_an_unreached_queue_limit_changes_nothing(self, make):
        """A queue limit forces the event loop; if no server ever fills, the loop must make
        the same choices as the run without a limit (for static policies, the vector path)."""
        w = poisson(4, 0.7, 4000, seed=13)
        free = sim.run(w, servers=4, policy=make(), seed=2)
        capped = sim.run(w, servers=4, policy=make(), queue_limit=len(w), seed=2)
        np.testing.assert_array_equal(free.server_of, capped.server_of)
        np.testing.assert_allclose(free.departures_at, capped.departures_at, rtol=1e-12)


def test_an_unknown_policy_name_is_a_value_error_naming_policy():
    with pytest.raises(ValueError, match=r"policy 'least_busy'"):
        balancing.policy("least_busy")
    with pytest.raises(TypeError, match="policy"):
        balancing.policy(3)


# ------------------------------------------------------------------ round robin


class TestRoundRobin(PolicyContract):
    name, cls = "round_robin", balancing.RoundRobin

    @pytest.mark.parametrize("queue_limit", [None, 10_000])  # vector path, event loop
    def test_servers_take_turns(self, queue_limit):
        """HAProxy roundrobin, equal weights: server 0, 1, ..., n−1, 0, ... whatever the
        load (these requests overlap: 3 s of work every 0.5 s)."""
        w = spaced(23, gap_s=0.5, work_s=3.0)
        r = sim.run(w, servers=5, policy="round_robin", queue_limit=queue_limit)
        np.testing.assert_array_equal(r.server_of, np.arange(23) % 5)


# ------------------------------------------------------------------ random


class TestRandomChoice(PolicyContract):
    name, cls = "random", balancing.RandomChoice

    def test_picks_are_fixed_by_the_seed(self):
        w = spaced(2000)
        a = sim.run(w, servers=8, policy="random", seed=21).server_of
        b = sim.run(w, servers=8, policy="random", seed=21).server_of
        c = sim.run(w, servers=8, policy="random", seed=22).server_of
        np.testing.assert_array_equal(a, b)
        assert (a != c).mean() > 0.5  # independent picks differ 7 times in 8

    def test_picks_are_uniform(self):
        """Each server's count is Binomial(n, 1/k): mean n/k, standard error
        √(n·(1/k)·(1 − 1/k)) = 66 at n = 40,000, k = 8, so Z·SE is 5% of n/k — a server
        never picked, or one picked twice as often, is far outside it."""
        n, k = 40_000, 8
        r = sim.run(spaced(n), servers=k, policy="random", seed=5)
        counts = np.bincount(r.server_of, minlength=k)
        se = math.sqrt(n * (1 / k) * (1 - 1 / k))
        assert np.abs(counts - n / k).max() <= Z * se, counts


# ------------------------------------------------------------------ fewest connections


class Recording(balancing.FewestConnections):
    """FewestConnections that logs the connection counts it saw and what it chose."""

    def reset(self, n_servers, n_requests, gen):
        super().reset(n_servers, n_requests, gen)
        self.log = []

    def choose(self, state):
        seen = list(state.connections)
        i = super().choose(state)
        self.log.append((seen, i))
        return i


class TestFewestConnections(PolicyContract):
    name, cls = "fewest_connections", balancing.FewestConnections

    def test_ties_rotate_when_every_server_is_idle(self):
        """Every request finds all four servers idle (1 s of work every 10 s): a four-way
        tie each time, which HAProxy's leastconn breaks round robin: 0, 1, 2, 3, 0, ..."""
        r = sim.run(spaced(10), servers=4, policy="fewest_connections")
        np.testing.assert_array_equal(r.server_of, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1])

    def test_a_busy_server_gets_nothing_while_another_is_idle(self):
        """The first request holds server 0 for 1000 s; the rest (1 s every 10 s) rotate
        over the three idle servers, continuing from where the rotation stood."""
        r = sim.run(spaced(10, work_s=[1000.0] + [1.0] * 9), servers=4,
                    policy="fewest_connections")
        np.testing.assert_array_equal(r.server_of, [0, 1, 2, 3, 1, 2, 3, 1, 2, 3])

    def test_each_choice_is_the_first_least_loaded_server_after_the_last(self):
        """The rule itself, request by request, on a busy cluster with many partial ties:
        the chosen server has the fewest connections, and among those it is the first in the
        order last+1, last+2, ..., wrapping round (HAProxy leastconn; nginx least_conn)."""
        p = Recording()
        sim.run(poisson(6, 0.7, 5000, seed=31), servers=6, policy=p)
        k, last, partial_ties = 6, -1, 0
        for seen, chosen in p.log:
            least = min(seen)
            tied = [i for i in range(k) if seen[i] == least]
            partial_ties += 1 < len(tied) < k
            expected = next(i % k for i in range(last + 1, last + 1 + k) if i % k in tied)
            assert chosen == expected, (seen, last, chosen)
            last = chosen
        assert partial_ties > 500, "too few partial ties to test the tie-break"

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_light_load_is_spread_evenly(self, seed):
        """4 identical servers at load 0.3: most requests find several servers idle, so the
        tie-break decides where work goes. Each server's busy time is a sum of about
        N = n/4 = 5,000 exponential works; even if its count were binomial rather than
        rotated, its relative standard error would be √(2/N) = 0.02. So max/mean
        utilisation stays within 1 + Z·0.02 = 1.08 (round robin, on the same workload,
        must pass the same bound). Lowest-index ties gave 1.85 here."""
        n, k = 20_000, 4
        w = poisson(k, 0.3, n, seed=seed)
        bound = 1 + Z * math.sqrt(2 / (n / k))
        rr = sim.run(w, servers=k, policy="round_robin")
        fc = sim.run(w, servers=k, policy="fewest_connections")
        assert rr.imbalance <= bound, "the bound is too tight even for round robin"
        assert fc.imbalance <= bound, fc.utilisation
